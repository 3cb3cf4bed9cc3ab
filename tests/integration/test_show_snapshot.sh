#!/usr/bin/env bash
# `show` of a run being written prints one snapshot of it: its per-token
# energy chart counts the output rows the summary counted, while another
# process keeps adding token rows. The chart once read the tokens again
# after the summary's read had ended, and showed more tokens than the
# efficiency table beside it ("Per-token energy (N output tokens" with N
# above "Efficiency (... M output tokens)"). The writer commits a row every
# fraction of a millisecond, so that such a second read would see new rows
# (the old code differed on every show); the check itself is an equality,
# whatever the timing.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
W=$WATTLENS
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
db="$tmp/runs.db"
"$W" run -m "$M" --temp 0 --baseline 0 --settle 0 -t 1 -n 8 --db "$db" >/dev/null 2>"$tmp/err" \
  || bad "run -n 8: $(cat "$tmp/err")"
id=$("$W" runs --db "$db" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
# as its writer leaves a run that is still being recorded: no totals yet
python3 - "$db" "$id" <<'PY' || bad "could not edit $db"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("update runs set status = 'incomplete', energy_j = NULL, duration_ms = NULL, "
          "input_tokens = NULL, output_tokens = NULL, j_per_token = NULL where uuid = ?", (sys.argv[2],))
c.commit()
PY

# the writer: one output row per commit until $tmp/stop exists (or 120 s, or 50 000 rows)
python3 - "$db" "$id" "$tmp/stop" "$tmp/ready" <<'PY' &
import os, sqlite3, sys, time
path, uuid, stop, ready = sys.argv[1:5]
c = sqlite3.connect(path, isolation_level=None, timeout=10)
c.execute("pragma synchronous = off")
rid = c.execute("select id from runs where uuid = ?", (uuid,)).fetchone()[0]
idx = c.execute("select max(idx) from tokens where run_id = ?", (rid,)).fetchone()[0] + 1
end = time.monotonic() + 120
for n in range(50000):
    if os.path.exists(stop) or time.monotonic() > end:
        break
    c.execute("insert into tokens (run_id, idx, text, is_input, start_ms, end_ms, dur_ms, energy_j, "
              "method) values (?, ?, 't', 0, ?, ?, 1, 0.001, 'counter')", (rid, idx, idx, idx + 1))
    idx += 1
    if n == 0:
        open(ready, "w").close()
    time.sleep(0.0002)
PY
writer=$!
for _ in $(seq 1 300); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
[ -e "$tmp/ready" ] || bad "the writer did not start"
differ=0
for i in $(seq 1 20); do
  "$W" show "$id" --db "$db" >"$tmp/show.txt" 2>"$tmp/err" || { bad "show: $(cat "$tmp/err")"; break; }
  chart=$(grep -oE '^Per-token energy \([0-9]+ output token' "$tmp/show.txt" | grep -oE '[0-9]+')
  eff=$(grep -oE '^Efficiency \([0-9]+ input, [0-9]+ output token' "$tmp/show.txt" | grep -oE '[0-9]+ output' | grep -oE '[0-9]+')
  if [ -z "$chart" ] || [ "$chart" != "$eff" ]; then
    differ=$((differ + 1))
    echo "show $i: chart '$chart' output tokens, efficiency '$eff'"
  fi
done
touch "$tmp/stop"
wait "$writer"
[ "$differ" = 0 ] && ok "show's per-token chart counts the rows of the summary's snapshot (20 shows during writes)" \
  || bad "show's chart and efficiency table disagree in $differ of 20 shows"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
