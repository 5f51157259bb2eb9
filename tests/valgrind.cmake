# Valgrind (memcheck) over the integration tests: every test whose command
# is a target linking dmabufd_test_harness (it starts the real daemon with
# daemon_start()) is registered again as <name>_valgrind, label valgrind.
# The harness runs the daemon under DMABUFD_TEST_WRAPPER; any memcheck error
# or definite leak makes the daemon exit 99, which daemon_stop() returns and
# the test fails on. Logs: <build>/Testing/valgrind/<pid>.log.
# Every way a test starts the daemon goes through daemon_argv_prefix()
# (harness.c): daemon_start(), sdmgr.c (test_systemd), test_journal,
# test_socket_activation (systemd-socket-activate execs the wrapper, which
# runs the daemon in the same process, so LISTEN_PID holds) and test_config.
# Not registered in sanitizer builds (ASan and memcheck do not mix), nor for
# test_fault_alloc (its LD_PRELOAD shim replaces malloc and friends, which
# memcheck replaces too; its own checks are fd counts and Stats).
# A normal test build without valgrind is an error, not a silent gap: install
# it (scripts/install-deps.sh --test) or configure with ASAN_UBSAN=ON. test_privdrop waits for a
# reply before it reads the daemon's credentials (the drop precedes the
# event loop), so it runs under valgrind too.
set(DMABUFD_VALGRIND_SKIP test_fault_alloc)
if(ASAN_UBSAN)
  return()
endif()
find_program(VALGRIND valgrind)
if(NOT VALGRIND)
  message(FATAL_ERROR "valgrind not found: the <test>_valgrind tests (label valgrind) "
    "need it in a test build without ASAN_UBSAN; install it with "
    "scripts/install-deps.sh --test (Debian package valgrind)")
endif()
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/Testing/valgrind)
set(DMABUFD_VALGRIND_WRAPPER "${VALGRIND} --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=${CMAKE_BINARY_DIR}/Testing/valgrind/%p.log")

foreach(dir unit integration bench fuzz vm stress)
  if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
    continue()
  endif()
  get_property(names DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${dir} PROPERTY TESTS)
  foreach(t ${names})
    if(NOT TARGET ${t} OR t IN_LIST DMABUFD_VALGRIND_SKIP)
      continue()
    endif()
    get_target_property(libs ${t} LINK_LIBRARIES)
    if(NOT "dmabufd_test_harness" IN_LIST libs)
      continue()
    endif()
    add_test(NAME ${t}_valgrind COMMAND ${t})
    set_tests_properties(${t}_valgrind PROPERTIES LABELS valgrind TIMEOUT 900
      SKIP_RETURN_CODE 77 ENVIRONMENT "DMABUFD_TEST_WRAPPER=${DMABUFD_VALGRIND_WRAPPER}")
  endforeach()
endforeach()
