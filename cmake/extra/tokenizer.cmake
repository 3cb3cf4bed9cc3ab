# Tokenizer extras: the fuzz corpus replay of the tokenizer finds the shared
# vocabularies too. (utf8proc, which the tokenizer and the store both use, is
# linked to libwattlens in CMakeLists.txt.)
if(TARGET fuzz_tokenizer_replay)
  target_compile_definitions(fuzz_tokenizer_replay PRIVATE WL_TESTDATA_DIR="${WL_TESTDATA}")
endif()
if(TARGET fuzz_tokenizer)
  target_compile_definitions(fuzz_tokenizer PRIVATE WL_TESTDATA_DIR="${WL_TESTDATA}")
endif()

# The same replay built against a directory that does not exist must fail
# when WL_REQUIRE_TESTDATA is set (as .ci/run sets it), not quietly drop the
# real vocabularies: a wrong WL_TESTDATA would otherwise pass unseen.
if(TARGET fuzz_tokenizer_replay)
  wl_fuzz_executable(fuzz_tokenizer_nodata_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_tokenizer.c
    REPLAY)
  target_compile_definitions(fuzz_tokenizer_nodata_replay PRIVATE
    WL_TESTDATA_DIR="${CMAKE_BINARY_DIR}/no-such-testdata")
  add_test(NAME fuzz_tokenizer_requires_testdata COMMAND fuzz_tokenizer_nodata_replay
    ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/fuzz_tokenizer)
  set_tests_properties(fuzz_tokenizer_requires_testdata PROPERTIES ENVIRONMENT WL_REQUIRE_TESTDATA=1
    PASS_REGULAR_EXPRESSION "no-such-testdata/vocab/ggml-vocab-llama-spm.gguf.*WL_REQUIRE_TESTDATA is set")
endif()
