# Test helper for tests/integration/test_signal_windows.sh: raise_in_window,
# an LD_PRELOAD library that raises a signal at a fixed point of wattlens
# (right after a run's row is committed, right after an output's temporary
# file is made), found in the build directory. Built without the
# sanitizers: it only passes calls on, and stays loadable first.
if(WL_BUILD_TESTS)
  add_library(raise_in_window SHARED ${CMAKE_SOURCE_DIR}/tests/fakes/raise_in_window.c)
  target_include_directories(raise_in_window PRIVATE ${SQLITE3_INCLUDE_DIRS})
  target_link_libraries(raise_in_window PRIVATE ${CMAKE_DL_LIBS})
  foreach(prop COMPILE_OPTIONS LINK_OPTIONS)
    get_target_property(opts raise_in_window ${prop})
    if(opts)
      list(FILTER opts EXCLUDE REGEX "^-fsanitize")
      set_target_properties(raise_in_window PROPERTIES ${prop} "${opts}")
    endif()
  endforeach()
  set_target_properties(raise_in_window PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endif()
