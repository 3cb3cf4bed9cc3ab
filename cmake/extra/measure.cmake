# `wattlens measure` test helper: sigcount counts the SIGTERMs it gets
# (tests/integration/test_measure_signals.sh finds it in the build directory).
if(WL_BUILD_TESTS)
  add_executable(sigcount ${CMAKE_SOURCE_DIR}/tests/fakes/sigcount.c)
  set_target_properties(sigcount PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endif()
