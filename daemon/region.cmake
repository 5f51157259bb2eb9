# Region allocator, attribute ledger and compaction planner (docs/REGION.md).
# Included from daemon/CMakeLists.txt. daemon/region/ is a public include
# directory so that callers keep writing #include "region.h".
add_library(dmabufd_region STATIC
  ${CMAKE_SOURCE_DIR}/daemon/region/treap.c
  ${CMAKE_SOURCE_DIR}/daemon/region/slab.c
  ${CMAKE_SOURCE_DIR}/daemon/region/index.c
  ${CMAKE_SOURCE_DIR}/daemon/region/segments.c
  ${CMAKE_SOURCE_DIR}/daemon/region/region.c
  ${CMAKE_SOURCE_DIR}/daemon/region/plan.c
  ${CMAKE_SOURCE_DIR}/daemon/region/audit.c)
target_include_directories(dmabufd_region PUBLIC
  ${CMAKE_SOURCE_DIR}/daemon/region ${CMAKE_SOURCE_DIR}/daemon ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(dmabufd_region PRIVATE dmabufd_common)
