# The portable (non-x86) kernel build, checked on x86: test_kernels_portable is
# test_kernels.c linked with the files that include kernels_impl.h compiled
# with -DWL_NO_X86_KERNELS, so their scalar table and driver are what a macOS
# arm64 or aarch64 build compiles (same flags, -Werror included) and what the
# test runs. Their objects come before libwattlens on the link line, so the
# library's x86 copies of those files are never pulled in.
if(WL_BUILD_TESTS)
  set(WL_PORTABLE_KERNEL_SOURCES
    ${CMAKE_SOURCE_DIR}/src/engine/kernels/kernels.c
    ${CMAKE_SOURCE_DIR}/src/engine/kernels/kernels_scalar.c
    ${CMAKE_SOURCE_DIR}/src/engine/kernels/kernels_avx2.c
    ${CMAKE_SOURCE_DIR}/src/engine/kernels/kernels_avx512.c
    ${CMAKE_SOURCE_DIR}/src/engine/kernels/membw.c)
  # test_kernels_vec_portable: the vector helpers' checks (test_kernels_vec.c)
  foreach(name test_kernels test_kernels_vec)
    add_executable(${name}_portable ${CMAKE_SOURCE_DIR}/tests/unit/${name}.c
      ${WL_PORTABLE_KERNEL_SOURCES})
    target_compile_definitions(${name}_portable PRIVATE WL_NO_X86_KERNELS)
    target_include_directories(${name}_portable PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${name}_portable PRIVATE wl_test_support)
    add_test(NAME ${name}_portable COMMAND ${name}_portable
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    set_tests_properties(${name}_portable PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
  endforeach()
endif()
