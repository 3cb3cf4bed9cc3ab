#!/usr/bin/env bash
# A closed stdin (`0<&-`, cli_util.c: wl_cli_reserve_std_fds): its number is
# held by a stand-in descriptor that no name opens, so that a name of stdin
# (/dev/stdin, /dev/fd/0, /proc/self/fd/0) given to -o or -f fails with exit
# 1, as `-f -` and the shell's `> /dev/stdin` do, instead of writing into
# /dev/null with exit 0 (the output lost) or reading an empty text from it.
# Linux only (the stand-in is an O_PATH descriptor of a socket; elsewhere
# it stays /dev/null).
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
[ "$(uname -s)" = Linux ] || exit 77
cd "$tmp" || exit 1

# -o NAME-OF-STDIN: exit 1, a message that says it is stdin, nothing written anywhere
for o in /dev/stdin /dev/fd/0 /proc/self/fd/0; do
  "$W" model synth -o "$o" 0<&- >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -q "cannot write $o: it names standard input" "$tmp/err" && ! grep -q "^wrote" "$tmp/out" "$tmp/err"; then
    ok "model synth -o $o 0<&-: exit 1"
  else
    bad "model synth -o $o 0<&- (rc $rc)"; cat "$tmp/out" "$tmp/err"
  fi
done
"$W" measure --no-store -o /dev/stdin -- true 0<&- >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "standard input" "$tmp/err"; then ok "measure -o /dev/stdin 0<&-: exit 1"
else bad "measure -o /dev/stdin 0<&- (rc $rc)"; cat "$tmp/err"; fi
# /dev/null is still /dev/null
"$W" model synth -o /dev/null 0<&- >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "^wrote /dev/null" "$tmp/out"; then ok "model synth -o /dev/null 0<&-: written"
else bad "model synth -o /dev/null 0<&- (rc $rc)"; cat "$tmp/err"; fi

# -f NAME-OF-STDIN: exit 1 as -f - is, not the ids of an empty text
"$W" model synth -o m.gguf >/dev/null 2>&1 || bad "model synth -o m.gguf"
for f in /dev/stdin /dev/fd/0 -; do
  "$W" tokenize -m m.gguf -f "$f" --ids 0<&- >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -q "cannot read '$f'" "$tmp/err" && [ ! -s "$tmp/out" ]; then ok "tokenize -f $f 0<&-: exit 1"
  else bad "tokenize -f $f 0<&- (rc $rc)"; cat "$tmp/out" "$tmp/err"; fi
done
# an open stdin is read through its name as before
printf 'hello' | "$W" tokenize -m m.gguf -f /dev/stdin --ids >"$tmp/out" 2>"$tmp/err"; rc=$?
printf 'hello' | "$W" tokenize -m m.gguf -f - --ids >"$tmp/ref" 2>/dev/null
if [ $rc = 0 ] && [ -s "$tmp/out" ] && cmp -s "$tmp/out" "$tmp/ref"; then ok "tokenize -f /dev/stdin from a pipe: read"
else bad "tokenize -f /dev/stdin from a pipe (rc $rc)"; cat "$tmp/err"; fi

# a measured command gets a stdin that cannot be read either (EBADF, as
# closed), and nothing it does through /dev/stdin reaches a file
"$W" measure --no-store -- sh -c 'cat; echo "cat=$?"; cat /dev/stdin; echo "name=$?"' 0<&- >"$tmp/out" 2>"$tmp/err"
if grep -q "^cat=[1-9]" "$tmp/out" && grep -q "^name=[1-9]" "$tmp/out"; then ok "measured command: its stdin cannot be read"
else bad "measured command's stdin"; cat "$tmp/out" "$tmp/err"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
