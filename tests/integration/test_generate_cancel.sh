#!/usr/bin/env bash
# ctest-labels: timing (interrupts a generation mid-prefill; see Makefile)
# Ctrl-C during a long prompt's prefill stops `wattlens generate` within a
# forward batch, not after the whole prompt: exit status 130, "cancelled
# during the prefill", and a prefill time well below the uninterrupted one
# (measured first on the same machine, so a slow machine slows both).
# Single sequence and --batch.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"

# ~3500 prompt tokens through a 4-layer dim-512 model: about 2 s of prefill
# on one thread of the development VM
"$W" model synth --layers 4 --dim 512 --ffn 1376 --heads 8 --vocab 512 --context 8192 \
  --type q8_0 -o "$tmp/m.gguf" >/dev/null || { echo "FAIL: synth"; exit 1; }
prompt=$(printf 'abcdefgh %.0s' $(seq 1 500))

prefill_ms() { sed -n 's/.*prefill \([0-9.]*\) ms.*/\1/p; s/.*prefill, after \([0-9.]*\) ms.*/\1/p' "$1" | head -1; }

"$W" generate -m "$tmp/m.gguf" -p "$prompt" -n 1 -t 1 >/dev/null 2>"$tmp/full.err"
full=$(prefill_ms "$tmp/full.err")
echo "uninterrupted prefill: $full ms"

# interrupt ARGS...: SIGINT 0.3 s after the start (the model loads in a few ms)
interrupt() {
  "$W" generate -m "$tmp/m.gguf" -n 1 -t 1 "$@" >/dev/null 2>"$tmp/int.err" &
  pid=$!
  sleep 0.3
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
    ok "$mode: stopped after $got ms, not after the whole prefill ($full ms)"
  else
    bad "$mode: prefill ran $got ms of $full ms before stopping"
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
