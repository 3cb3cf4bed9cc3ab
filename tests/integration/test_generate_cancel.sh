#!/usr/bin/env bash
# ctest-labels: timing (interrupts a generation mid-prefill; see Makefile)
# Ctrl-C during a long prompt's prefill stops `wattlens generate` within a
# forward batch, not after the whole prompt: exit status 130, "cancelled
# during the prefill", and a prefill time well below the uninterrupted one.
# The uninterrupted time is bounded from below on the same machine (so a slow
# or sanitizer build slows both) by 8 x the prefill of an eighth of the prompt:
# prefill costs at least linear time in the prompt (attention is quadratic).
# Single sequence and --batch.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"

# ~3500 prompt tokens through a 4-layer dim-512 model: seconds of prefill on
# one thread of a release build, minutes under ASan
"$W" model synth --layers 4 --dim 512 --ffn 1376 --heads 8 --vocab 512 --context 8192 \
  --type q8_0 -o "$tmp/m.gguf" >/dev/null || { echo "FAIL: synth"; exit 1; }
prompt=$(printf 'abcdefgh %.0s' $(seq 1 500))
eighth=$(printf 'abcdefgh %.0s' $(seq 1 62))

prefill_ms() { sed -n 's/.*prefill \([0-9.]*\) ms.*/\1/p; s/.*prefill, after \([0-9.]*\) ms.*/\1/p' "$1" | head -1; }

"$W" generate -m "$tmp/m.gguf" -p "$eighth" -n 1 -t 1 >/dev/null 2>"$tmp/eighth.err"
part=$(prefill_ms "$tmp/eighth.err")
full=$(awk -v a="$part" 'BEGIN { if (a != "") printf "%.1f", 8 * a }')
echo "prefill of an eighth of the prompt: $part ms; the whole prompt takes at least $full ms"

# A background job of a script starts with SIGINT ignored, and generate
# leaves an ignored SIGINT ignored: the job gets the default disposition back.
env --default-signal=INT true 2>/dev/null \
  || { echo "SKIP: env --default-signal unsupported"; exit 77; }

# interrupt ARGS...: SIGINT once generate's handler is in place (after the
# load, right before the prefill) and 0.1 s more
interrupt() {
  env --default-signal=INT "$W" generate -m "$tmp/m.gguf" -n 1 -t 1 "$@" >/dev/null 2>"$tmp/int.err" &
  pid=$!
  wait_catches $pid 2 || echo "generate never caught SIGINT"
  sleep 0.1
  kill -INT $pid
  wait $pid
}

for mode in single batch; do
  if [ $mode = single ]; then interrupt -p "$prompt"; else interrupt -p "$prompt" -p "x" --batch 2; fi
  rc=$?
  if [ $rc = 130 ] && grep -q "cancelled during the prefill" "$tmp/int.err"; then
    ok "$mode: SIGINT in prefill stops it (exit 130)"
  else
    bad "$mode: SIGINT in prefill (rc $rc)"; cat "$tmp/int.err"
  fi
  got=$(prefill_ms "$tmp/int.err")
  if [ -n "$got" ] && [ -n "$full" ] && awk -v a="$got" -v b="$full" 'BEGIN { exit !(a < b / 2) }'; then
    ok "$mode: stopped after $got ms, not after the whole prefill (>= $full ms)"
  else
    bad "$mode: prefill ran $got ms of $full ms before stopping"
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
