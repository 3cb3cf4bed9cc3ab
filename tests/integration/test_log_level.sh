#!/usr/bin/env bash
# -v and -vv only ever add diagnostics to those WATTLENS_LOG asks for (the
# help: "more diagnostics on stderr"): WATTLENS_LOG=debug with -v shows every
# debug line it shows alone (-v set the level to info, so it showed none),
# and -v still raises a lower WATTLENS_LOG (error, warn) to info.
set -u
: "${WATTLENS:?}"
. "$(dirname "$0")/common.sh"

# debug lines of `sensors` (each backend that is not available says why)
debug_lines() { "$WATTLENS" "$@" sensors 2>&1 >/dev/null | grep -c ': debug: '; }
base=$(WATTLENS_LOG=debug debug_lines)
if [ "$base" -gt 0 ]; then ok "WATTLENS_LOG=debug sensors: $base debug lines"
else bad "WATTLENS_LOG=debug sensors: no debug line to compare with"; fi
for v in -v -vv; do
  n=$(WATTLENS_LOG=debug debug_lines "$v")
  if [ "$n" = "$base" ]; then ok "WATTLENS_LOG=debug $v: the same $n debug lines (-v never lowers the level)"
  else bad "WATTLENS_LOG=debug $v: $n debug lines, not $base"; fi
done
n=$(WATTLENS_LOG=error debug_lines -vv)
if [ "$n" = "$base" ]; then ok "WATTLENS_LOG=error -vv: raised to debug"
else bad "WATTLENS_LOG=error -vv: $n debug lines, not $base"; fi
n=$(WATTLENS_LOG=warn debug_lines -v)
if [ "$n" = 0 ]; then ok "WATTLENS_LOG=warn -v: info, no debug lines"
else bad "WATTLENS_LOG=warn -v: $n debug lines"; fi
# -q still wins over both
n=$(WATTLENS_LOG=debug "$WATTLENS" -q -vv sensors 2>&1 >/dev/null | wc -c)
if [ "$n" = 0 ]; then ok "WATTLENS_LOG=debug -q -vv: nothing on stderr"; else bad "-q -vv: $n bytes on stderr"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
