# Tokenizer extras: the fuzz corpus replay of the tokenizer finds the shared
# vocabularies too. (utf8proc, which the tokenizer and the store both use, is
# linked to libwattlens in CMakeLists.txt.)
if(TARGET fuzz_tokenizer_replay)
  target_compile_definitions(fuzz_tokenizer_replay PRIVATE WL_TESTDATA_DIR="${WL_TESTDATA}")
endif()
if(TARGET fuzz_tokenizer)
  target_compile_definitions(fuzz_tokenizer PRIVATE WL_TESTDATA_DIR="${WL_TESTDATA}")
endif()
