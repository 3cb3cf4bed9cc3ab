# Tokenizer: Unicode character data from utf8proc (Debian libutf8proc-dev).
# The fuzz corpus replay of the tokenizer finds the shared vocabularies too.
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
target_link_libraries(wattlens PUBLIC PkgConfig::UTF8PROC)
if(TARGET fuzz_tokenizer_replay)
  target_compile_definitions(fuzz_tokenizer_replay PRIVATE WL_TESTDATA_DIR="${WL_TESTDATA}")
endif()
if(TARGET fuzz_tokenizer)
  target_compile_definitions(fuzz_tokenizer PRIVATE WL_TESTDATA_DIR="${WL_TESTDATA}")
endif()
