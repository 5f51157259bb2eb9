# Cross build for arm64 with Debian's gcc-aarch64-linux-gnu:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DDMABUFD_ARM64_SYSROOT=<dir>
# The arm64 libraries come from DMABUFD_ARM64_SYSROOT (or the environment
# variable of that name): Debian arm64 packages unpacked into one directory,
# e.g. by tests/vm/fetch-kernels.sh --arch arm64 --sysroot "PKG..."
# (tests/vm/run-vm-arm64-daemon.sh lists them). Without it, the host's
# multiarch :arm64 -dev packages (dpkg --add-architecture arm64) are used.
# libc is always the cross toolchain's (libc6-dev-arm64-cross). protoc-c is
# the host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT DMABUFD_ARM64_SYSROOT AND DEFINED ENV{DMABUFD_ARM64_SYSROOT})
  set(DMABUFD_ARM64_SYSROOT "$ENV{DMABUFD_ARM64_SYSROOT}")
endif()
# try_compile() projects see the same setting.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DMABUFD_ARM64_SYSROOT)

if(DMABUFD_ARM64_SYSROOT)
  set(_s "${DMABUFD_ARM64_SYSROOT}")
  set(CMAKE_FIND_ROOT_PATH "${_s}" /usr/aarch64-linux-gnu)
  set(ENV{PKG_CONFIG_LIBDIR} "${_s}/usr/lib/aarch64-linux-gnu/pkgconfig:${_s}/usr/share/pkgconfig")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${_s}")
  # pkg-config drops -I/usr/include before prefixing the sysroot: add the
  # sysroot's include dirs here (the multiarch one holds event-config.h).
  set(CMAKE_C_FLAGS_INIT "-isystem ${_s}/usr/include/aarch64-linux-gnu -isystem ${_s}/usr/include")
  set(_l "-L${_s}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${_s}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${_s}/lib/aarch64-linux-gnu")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "${_l}")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_l}")
  set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_l}")
else()
  set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
  set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
