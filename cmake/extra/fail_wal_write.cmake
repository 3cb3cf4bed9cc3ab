# Test helper for tests/integration/test_run_store_error.sh: fail_wal_write,
# an LD_PRELOAD library that makes SQLite's writes to a write-ahead log
# fail (EIO) at a fixed point, chosen by what they write, found in the
# build directory (wl_preload_library).
if(WL_BUILD_TESTS AND NOT APPLE)
  wl_preload_library(fail_wal_write ${CMAKE_SOURCE_DIR}/tests/fakes/fail_wal_write.c)
endif()
