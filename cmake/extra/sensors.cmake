# Sensor layer test helpers: fake NVML libraries loaded by tests/unit/test_nvml.c
# and test_sampler*.c through the NVML library override, and the fake
# powercap writer for the sampler benchmark (it lives in tests/support).
if(WL_BUILD_TESTS)
  add_library(fake_nvml SHARED ${CMAKE_SOURCE_DIR}/tests/fakes/fake_nvml.c)
  add_library(fake_nvml_nocount SHARED ${CMAKE_SOURCE_DIR}/tests/fakes/fake_nvml.c)
  target_compile_definitions(fake_nvml_nocount PRIVATE FAKE_NVML_NO_COUNT)
  if(TARGET test_nvml)
    add_dependencies(test_nvml fake_nvml fake_nvml_nocount)
    target_compile_definitions(test_nvml PRIVATE
      FAKE_NVML_LIB="$<TARGET_FILE:fake_nvml>"
      FAKE_NVML_NOCOUNT_LIB="$<TARGET_FILE:fake_nvml_nocount>")
  endif()
  foreach(t test_sampler test_sampler_windows)
    if(TARGET ${t})
      add_dependencies(${t} fake_nvml)
      target_compile_definitions(${t} PRIVATE FAKE_NVML_LIB="$<TARGET_FILE:fake_nvml>")
    endif()
  endforeach()
endif()

if(TARGET bench_sampler)
  if(TARGET wl_test_support)
    target_link_libraries(bench_sampler PRIVATE wl_test_support)
  else()
    set_target_properties(bench_sampler PROPERTIES EXCLUDE_FROM_ALL TRUE)
  endif()
endif()
