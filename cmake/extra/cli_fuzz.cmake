# The CLI's fuzz target (tests/fuzz/fuzz_cli_args.c) runs the CLI's own
# value parsers. They live in cli/, which libwattlens does not contain, so
# the helper sources they need are compiled into the target (main.c and the
# cmd_*.c commands stay out: the parsers do not depend on them).
set(WL_CLI_PARSE_SOURCES ${CMAKE_SOURCE_DIR}/cli/cli_util.c ${CMAKE_SOURCE_DIR}/cli/cli_text.c
  ${CMAKE_SOURCE_DIR}/cli/cli_store.c ${CMAKE_SOURCE_DIR}/cli/cli_ids.c)
foreach(t fuzz_cli_args_replay fuzz_cli_args)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${WL_CLI_PARSE_SOURCES})
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/cli)
  endif()
endforeach()
