# Test helper for tests/integration/test_signal_windows.sh: raise_in_window,
# an LD_PRELOAD library that raises a signal at a fixed point of wattlens
# (right after a run's row is committed, right after an output's temporary
# file is made), found in the build directory (wl_preload_library).
if(WL_BUILD_TESTS)
  wl_preload_library(raise_in_window ${CMAKE_SOURCE_DIR}/tests/fakes/raise_in_window.c)
  target_include_directories(raise_in_window PRIVATE ${SQLITE3_INCLUDE_DIRS})
endif()
