#!/usr/bin/env bash
# ctest-labels: timing (moves a fake sensor's counter while `run` decodes)
# Progress lines on a terminal (script(1) gives the commands one) and the
# messages written while one is shown:
# - `run`: a warning logged during the decode (here a fake RAPL counter
#   that goes back, read by the sampler or at a token boundary) starts a
#   line of its own, and the progress goes on on the next line. Old: the
#   warning was written after the progress text, in the middle of its line
#   ("tokens/s   wattlens: warn: ...");
# - `model quantize`: its progress line is ended before the summary.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
if ! command -v script >/dev/null 2>&1; then
  echo "SKIP: no script(1) for a terminal"
  exit 77
fi

# one fake package counter (common.sh points every other backend at nothing)
e=$(fake_zone intel-rapl:0 package-0 5000000) || { echo "FAIL: no fake powercap zone"; exit 1; }

# --- run: a warning during the decode --------------------------------------------------
# script(1) runs the line with $SHELL (sh): the paths reach it through the
# environment; $$ is wattlens's pid after exec. A long greedy decode, ended
# by SIGINT once the warning is out and the progress was redrawn after it
# (a background job of a script starts with SIGINT ignored, which run would
# leave ignored: reset for it).
WL_T_W=$WATTLENS WL_T_M=$M WL_T_PID="$tmp/pid" WL_T_DB="$tmp/runs.db" env --default-signal=INT script -qec \
  'echo $$ >"$WL_T_PID"; exec "$WL_T_W" run -m "$WL_T_M" -n 30000 -c 30000 -t 1 --temp 0 --depth off --baseline 0 --settle 0 --db "$WL_T_DB"' \
  /dev/null >"$tmp/tty.out" 2>&1 &
sp=$!
for _ in $(seq 1 600); do grep -q "decode: " "$tmp/tty.out" 2>/dev/null && break; sleep 0.1; done
# rewritten in place (1<>), same width: a read never sees an empty file
printf '%020d\n' 1000000 1<>"$e"
# redrawn: a "decode: " after the first warning. 30000 tokens last far
# longer than a redraw takes to come, so the check below always has one
redrawn() {
  python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); i = d.find(b"wattlens: warn")
sys.exit(0 if i >= 0 and b"decode: " in d[i:] else 1)' "$tmp/tty.out" 2>/dev/null
}
for _ in $(seq 1 600); do redrawn && break; sleep 0.1; done
redrawn || bad "run: no progress redrawn after a warning within 60 s"
kill -INT "$(cat "$tmp/pid")"
wait $sp; rc=$?
[ $rc = 130 ] && ok "run: SIGINT ends it (exit 130)" || { bad "run: exit $rc"; tail -c 2000 "$tmp/tty.out"; }
# exit 3: the decode did not go on after the warning, which the wait above
# rules out: a failure
python3 - "$tmp/tty.out" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
warns = [m.start() for m in re.finditer(rb"wattlens: warn", d)]
assert warns, "no warning logged: " + repr(d[-2000:])
first = warns[0]
# conclusive only when the decode went on after the warning (its progress
# line was open when the warning came)
if b"decode: " not in d[first:]:
    sys.exit(3)
for w in warns:
    assert w == 0 or d[w - 1:w] == b"\n", "warning inside a line: " + repr(d[max(0, w - 120):w + 60])
# the progress after the warnings starts on the line after them
p = d.index(b"\r  decode: ", first)
assert d[p - 1:p] == b"\n", repr(d[first:p + 60])
PY
case $? in
0) ok "run: a warning during the decode starts a line of its own" ;;
3) bad "run: a warning during the decode: no progress after it (the decode ended when it came)" ;;
*) bad "run: a warning during the decode" ;;
esac

# --- model quantize: the progress line is ended ------------------------------------------
WL_T_W=$WATTLENS WL_T_M=$M WL_T_OUT="$tmp/q.gguf" script -qec \
  '"$WL_T_W" model quantize --type q8_0 "$WL_T_M" "$WL_T_OUT"' /dev/null >"$tmp/q.out" 2>&1; rc=$?
python3 - "$tmp/q.out" <<'PY' && [ $rc = 0 ] && ok "quantize: the progress line ends before the summary" \
  || bad "quantize (exit $rc): $(od -c "$tmp/q.out" | tail -8)"
import re, sys
d = open(sys.argv[1], "rb").read()
assert re.search(rb"\r  quantize: (\d+)/\1 tensors, 100% of the data   \r\nwrote ", d), repr(d[-300:])
PY

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
