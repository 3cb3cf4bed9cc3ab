#!/usr/bin/env bash
# `wattlens run` options whose values are stored with the run:
# - --tags: at most 64; more are refused (exit 2, the limit named) before
#   anything is stored, where only the first 64 were kept (a later one was
#   never found by `runs --tag`); exactly 64 are all stored.
set -u
W=${WATTLENS:?}
: "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"

# quick RUN ARGS...: a short run of stories260K (no baseline, no settle)
quick() { "$W" run -m "$M" -t 1 -n 2 --baseline 0 --settle 0 "$@"; }

# --- --tags: at most 64 ------------------------------------------------------------------------
tags() { python3 -c "import sys; print(','.join('t%d' % i for i in range(int(sys.argv[1]))))" "$1"; }
db="$tmp/tags.db"
quick --db "$db" --tags "$(tags 65)" --json >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -qx "wattlens run: --tags: 65 tags, at most 64" "$tmp/err" && [ ! -s "$tmp/out" ] \
  && [ ! -e "$db" ]; then
  ok "run --tags with 65 tags: refused, exit 2, the limit named, nothing stored"
else
  bad "run --tags with 65 tags (rc $rc): $(cat "$tmp/err")"
fi
db="$tmp/tags64.db"
quick --db "$db" --tags "$(tags 64)" --json >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["summary"]["run"]["tags"]
assert sorted(t) == sorted("t%d" % i for i in range(64)), t' "$tmp/out" \
  && [ "$("$W" runs --db "$db" --tag t63 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')" = 1 ]; then
  ok "run --tags with 64 tags: all stored, the last one found by runs --tag"
else
  bad "run --tags with 64 tags (rc $rc): $(cat "$tmp/err")"
fi
if "$W" run --help | tr '\n' ' ' | tr -s ' ' | grep -q -- "--tags a,b tags stored with the run (names, none empty; at most 64)"; then
  ok "run --help: the tag limit"
else
  bad "run --help: the tag limit"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
