#!/usr/bin/env bash
# `measure --json` with the report on stdout keeps stdout for the report
# alone: the command's standard output goes to wattlens's standard error
# (`measure --json -- CMD | jq .` works). With -o FILE, or a text report,
# the command's stdout stays wattlens's stdout. A stderr closed at start-up
# gives the command an output that accepts writes (and discards them).
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
cmd=(sh -c 'echo out-line; echo err-line >&2')
is_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }

for o in "" "-o -"; do
  # shellcheck disable=SC2086 # $o is zero or two words
  "$W" measure --no-store --json $o -- "${cmd[@]}" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] && is_json "$tmp/out" && ok "--json ${o:-(no -o)}: stdout is the JSON report alone" \
    || bad "--json ${o:-(no -o)}: exit $rc, stdout: $(head -c 300 "$tmp/out")"
  grep -qx out-line "$tmp/err" && grep -qx err-line "$tmp/err" \
    && ok "--json ${o:-(no -o)}: the command's stdout and stderr are on stderr" \
    || bad "--json ${o:-(no -o)}: stderr: $(cat "$tmp/err")"
done

"$W" measure --no-store --json -o "$tmp/r.json" -- "${cmd[@]}" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && is_json "$tmp/r.json" && [ "$(cat "$tmp/out")" = out-line ] \
  && ok "--json -o FILE: the command's stdout stays on stdout" \
  || bad "--json -o FILE: exit $rc, stdout: $(cat "$tmp/out")"

"$W" measure --no-store -- "${cmd[@]}" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ "$(head -1 "$tmp/out")" = out-line ] && grep -q '^wattlens measure: sh' "$tmp/out" \
  && ok "text report: the command's output, then the report, on stdout" \
  || bad "text report: exit $rc, stdout: $(cat "$tmp/out")"

"$W" measure --no-store --json -- sh -c 'echo out-line' >"$tmp/out" 2>&-; rc=$?
[ $rc = 0 ] && is_json "$tmp/out" && ok "--json with stderr closed: the command's writes succeed" \
  || bad "--json, stderr closed: exit $rc, stdout: $(head -c 300 "$tmp/out")"

"$W" measure --help | grep -q "CMD's standard output goes to wattlens's standard error" \
  && ok "measure --help says where CMD's stdout goes" || bad "measure --help: no word on CMD's stdout"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
