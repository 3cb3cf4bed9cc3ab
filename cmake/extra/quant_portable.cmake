# The portable weight quantizers (what a macOS arm64 or aarch64 build
# compiles), checked on x86: test_quant_portable is tests/unit/test_quant_bytes.c
# linked with quant.c compiled with -DWL_QUANT_PORTABLE (its non-SSE2 loops),
# FMA code generation and contraction on (-mfma -ffp-contract=fast: what clang
# does on arm64 by default). quant.c's own -ffp-contract=off (CMakeLists.txt)
# comes after the target's options, so the test checks that the build keeps
# its multiply-adds unfused: the bytes must be the SSE2 build's (the hashes in
# the test). quant.c's object comes before libwattlens on the link line, so
# the library's copy is never pulled in.
if(WL_BUILD_TESTS AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  include(CheckCCompilerFlag)
  check_c_compiler_flag(-mfma WL_HAVE_MFMA)
  if(WL_HAVE_MFMA)
    add_executable(test_quant_portable ${CMAKE_SOURCE_DIR}/tests/unit/test_quant_bytes.c
      ${CMAKE_SOURCE_DIR}/src/engine/quant.c)
    target_compile_definitions(test_quant_portable PRIVATE WL_QUANT_PORTABLE)
    target_compile_options(test_quant_portable PRIVATE -mfma -ffp-contract=fast)
    target_include_directories(test_quant_portable PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(test_quant_portable PRIVATE wl_test_support)
    add_test(NAME test_quant_portable COMMAND test_quant_portable
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    set_tests_properties(test_quant_portable PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
