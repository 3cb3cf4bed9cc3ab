# Test helper for tests/integration/test_run_store_error.sh: fail_wal_write,
# an LD_PRELOAD library that makes SQLite's writes to a write-ahead log
# fail (EIO) at a fixed point, chosen by what they write, found in the
# build directory. Built without the sanitizers: it only passes calls on,
# and stays loadable first.
if(WL_BUILD_TESTS AND NOT APPLE)
  add_library(fail_wal_write SHARED ${CMAKE_SOURCE_DIR}/tests/fakes/fail_wal_write.c)
  target_link_libraries(fail_wal_write PRIVATE ${CMAKE_DL_LIBS})
  foreach(prop COMPILE_OPTIONS LINK_OPTIONS)
    get_target_property(opts fail_wal_write ${prop})
    if(opts)
      list(FILTER opts EXCLUDE REGEX "^-fsanitize")
      set_target_properties(fail_wal_write PROPERTIES ${prop} "${opts}")
    endif()
  endforeach()
  set_target_properties(fail_wal_write PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endif()
