# Region allocator, attribute ledger and compaction planner (docs/REGION.md).
# Included from daemon/CMakeLists.txt.
add_library(dmabufd_region STATIC
  ${CMAKE_SOURCE_DIR}/daemon/region.c
  ${CMAKE_SOURCE_DIR}/daemon/region_plan.c)
target_include_directories(dmabufd_region PUBLIC
  ${CMAKE_SOURCE_DIR}/daemon ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(dmabufd_region PRIVATE dmabufd_common)
