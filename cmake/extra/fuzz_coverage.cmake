# libFuzzer builds (WL_FUZZ=ON): instrument libwattlens itself for coverage and
# with ASan/UBSan, not only the fuzz_*.c harnesses. Without this the fuzzer sees
# only the harness's edges and mutates blind (cov stays at a few dozen edges).
# Everything linking the library (the CLI too) then needs the same runtimes.
if(WL_FUZZ)
  target_compile_options(wattlens PRIVATE -fsanitize=fuzzer-no-link,address,undefined
    -fno-omit-frame-pointer)
  target_link_options(wattlens INTERFACE -fsanitize=fuzzer-no-link,address,undefined)
endif()
