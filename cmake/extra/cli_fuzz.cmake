# The CLI's fuzz targets (tests/fuzz/fuzz_cli_args.c, fuzz_cpuinfo.c) and
# the unit test of its helpers (tests/unit/test_cli_util.c) run the CLI's own
# parsers. They live in cli/, which libwattlens does not contain, so the
# helper sources they need are compiled into those targets (main.c and the
# cmd_*.c commands stay out: the parsers do not depend on them).
set(WL_CLI_PARSE_SOURCES ${CMAKE_SOURCE_DIR}/cli/cli_util.c ${CMAKE_SOURCE_DIR}/cli/cli_text.c
  ${CMAKE_SOURCE_DIR}/cli/cli_store.c ${CMAKE_SOURCE_DIR}/cli/cli_ids.c)
foreach(t fuzz_cli_args_replay fuzz_cli_args fuzz_cpuinfo_replay fuzz_cpuinfo test_cli_util)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${WL_CLI_PARSE_SOURCES})
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/cli)
  endif()
endforeach()
