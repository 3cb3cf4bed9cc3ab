#!/usr/bin/env bash
# ctest-labels: timing (stops a quantize with SIGTERM while it writes, a race retried in the script)
# Where `model synth -o OUT` and `model quantize IN OUT` write (the GGUF
# writer through src/util/outfile.c, docs/internals/outfile.md):
# - a symlink is followed and its target written; the link stays;
# - an existing file keeps its mode (0600 stays 0600), a new one gets 0666
#   less the umask; a failed write leaves the old file and no temporary file;
# - a FIFO or a device is written in place and stays what it is;
# - a missing directory or a directory is a clear error before any work;
# - quantize refuses an OUT that is its own input (through a symlink, a hard
#   link or the same name): exit 2, the input untouched;
# - "-" and /proc/self/fd/1 are stdout itself (>> appends): the model goes
#   there and "wrote stdout ..." to stderr; a terminal is refused (exit 2),
#   stdout or a name of one (/dev/tty, a link to the pty);
#   /proc/self/fd/2 is stderr itself (2>>LOG appends).
# Everything is written under $tmp: special files are made there (mkfifo,
# mknod), never taken from /dev, because a broken build would replace them.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
cd "$tmp" || exit 1
umask 022

SYNTH="model synth --layers 1 --dim 32 --ffn 64 --heads 4 --vocab 300 --seed 3"
# shellcheck disable=SC2086
synth() { "$W" $SYNTH "$@"; }
no_temp_left() { ! ls -a "$tmp" "$tmp/sub" 2>/dev/null | grep -q '\.tmp\.'; }
mode_of() { stat -c %a "$1"; }
kind_of() { stat -c %F "$1"; }

synth -o ref.gguf >/dev/null 2>"$tmp/err" && [ -s ref.gguf ] && ok "a reference model" \
  || bad "synth -o ref.gguf: $(cat "$tmp/err")"
"$W" model quantize ref.gguf refq.gguf --type q8_0 >/dev/null 2>"$tmp/err" && [ -s refq.gguf ] \
  && ok "a reference quantized model" || bad "quantize ref.gguf: $(cat "$tmp/err")"

# --- modes -----------------------------------------------------------------------------------
(umask 077 && synth -o new.gguf >/dev/null) 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s new.gguf ref.gguf && [ "$(mode_of new.gguf)" = 600 ] \
  && ok "synth, umask 077: a new file is 0600" || bad "umask 077 (rc $rc, mode $(mode_of new.gguf))"
(umask 027 && "$W" model quantize ref.gguf newq.gguf --type q8_0 >/dev/null) 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s newq.gguf refq.gguf && [ "$(mode_of newq.gguf)" = 640 ] \
  && ok "quantize, umask 027: a new file is 0640" || bad "umask 027 (rc $rc, mode $(mode_of newq.gguf))"
echo private >priv.gguf && chmod 600 priv.gguf
synth -o priv.gguf >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s priv.gguf ref.gguf && [ "$(mode_of priv.gguf)" = 600 ] \
  && ok "synth: an existing 0600 file stays 0600" || bad "synth 0600 (rc $rc, mode $(mode_of priv.gguf))"
echo private >privq.gguf && chmod 600 privq.gguf
"$W" model quantize ref.gguf privq.gguf --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s privq.gguf refq.gguf && [ "$(mode_of privq.gguf)" = 600 ] \
  && ok "quantize: an existing 0600 file stays 0600" || bad "quantize 0600 (rc $rc, mode $(mode_of privq.gguf))"

# --- symlinks ---------------------------------------------------------------------------------
echo old >real.gguf && chmod 640 real.gguf && ln -s real.gguf link.gguf
synth -o link.gguf >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ -L link.gguf ] && cmp -s real.gguf ref.gguf && [ "$(mode_of real.gguf)" = 640 ] \
  && ok "synth -o a symlink: its target is written, the link kept" \
  || bad "synth symlink (rc $rc): $(ls -l link.gguf real.gguf)"
echo old >realq.gguf && ln -s realq.gguf linkq.gguf
"$W" model quantize ref.gguf linkq.gguf --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ -L linkq.gguf ] && cmp -s realq.gguf refq.gguf \
  && ok "quantize to a symlink: its target is written, the link kept" \
  || bad "quantize symlink (rc $rc): $(ls -l linkq.gguf realq.gguf)"
mkdir sub && ln -s sub/made.gguf dangling.gguf
synth -o dangling.gguf >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ -L dangling.gguf ] && cmp -s sub/made.gguf ref.gguf \
  && ok "synth -o a dangling symlink: its target is created" \
  || bad "dangling symlink (rc $rc): $(cat "$tmp/err")"
no_temp_left && ok "no temporary file left" || bad "temporary files left: $(ls -a "$tmp" "$tmp/sub")"

# --- quantize onto its own input -----------------------------------------------------------------
cp ref.gguf in.gguf && ln -s in.gguf in-link.gguf && ln in.gguf in-hard.gguf
for out in in-link.gguf in-hard.gguf in.gguf ./in.gguf; do
  "$W" model quantize in.gguf "$out" --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 2 ] && grep -q "it is the input model" "$tmp/err" && cmp -s in.gguf ref.gguf \
    && [ -L in-link.gguf ] && [ "$(stat -c %h in.gguf)" = 2 ] \
    && ok "quantize in.gguf $out: refused, the input intact" \
    || bad "quantize onto its input via $out (rc $rc): $(cat "$tmp/err")"
done
"$W" model quantize in-link.gguf in.gguf --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && cmp -s in.gguf ref.gguf && ok "quantize LINK TARGET: refused" \
  || bad "quantize link onto its target (rc $rc): $(cat "$tmp/err")"
"$W" model synth --layers 1 --dim 32 --ffn 64 --heads 4 --vocab-from in.gguf -o in-link.gguf \
  >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "it is the input model" "$tmp/err" && cmp -s in.gguf ref.gguf \
  && ok "synth --vocab-from V -o a link to V: refused" || bad "synth onto its vocab (rc $rc): $(cat "$tmp/err")"

# "-" is stdout: the file open there counts, not a file named "-". A shell
# redirection onto the input (read-write in place, or appending) is refused
# before anything is written, for quantize's input and synth's vocabulary.
cp ref.gguf in.gguf
"$W" model quantize in.gguf - --type q8_0 1<>in.gguf 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "it is the input model" "$tmp/err" && cmp -s in.gguf ref.gguf \
  && ok "quantize IN - 1<>IN: refused, the input intact" \
  || bad "quantize IN - 1<>IN (rc $rc): $(cat "$tmp/err")"
"$W" model quantize in.gguf - --type q8_0 >>in-hard.gguf 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "it is the input model" "$tmp/err" && cmp -s in.gguf ref.gguf \
  && ok "quantize IN - >>LINK-TO-IN: refused, the input intact" \
  || bad "quantize IN - >>IN (rc $rc): $(cat "$tmp/err")"
"$W" model synth --layers 1 --dim 32 --ffn 64 --heads 4 --vocab-from in.gguf -o - \
  >>in.gguf 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "it is the input model" "$tmp/err" && cmp -s in.gguf ref.gguf \
  && ok "synth --vocab-from V -o - >>V: refused" || bad "synth -o - >>vocab (rc $rc): $(cat "$tmp/err")"
cp ref.gguf ./- && "$W" model quantize ./- - --type q8_0 2>"$tmp/err" | cat >dashq.gguf
cmp -s dashq.gguf refq.gguf && cmp -s ./- ref.gguf \
  && ok "quantize ./- -: a file named '-' is not stdout" || bad "quantize ./- -: $(cat "$tmp/err")"
rm -f ./-

# --- FIFOs and devices are written in place --------------------------------------------------------
mkfifo fifo
timeout 20 cat fifo >from_fifo &
reader=$!
timeout 20 "$W" $SYNTH -o fifo >/dev/null 2>"$tmp/err"; rc=$?
[ -p fifo ] || echo >"$tmp/fifo.gone" # renamed over: the reader waits for its timeout
wait $reader
[ $rc = 0 ] && [ ! -e "$tmp/fifo.gone" ] && [ -p fifo ] && cmp -s from_fifo ref.gguf \
  && ok "synth -o FIFO: the reader gets the model, the FIFO stays" \
  || bad "synth -o FIFO (rc $rc, fifo $(kind_of fifo)): $(cat "$tmp/err")"
rm -f fifo "$tmp/fifo.gone" && mkfifo fifo
timeout 20 cat fifo >from_fifo &
reader=$!
timeout 20 "$W" model quantize ref.gguf fifo --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
[ -p fifo ] || echo >"$tmp/fifo.gone"
wait $reader
[ $rc = 0 ] && [ ! -e "$tmp/fifo.gone" ] && [ -p fifo ] && cmp -s from_fifo refq.gguf \
  && ok "quantize to a FIFO: the reader gets the model, the FIFO stays" \
  || bad "quantize to FIFO (rc $rc, fifo $(kind_of fifo)): $(cat "$tmp/err")"
# copies of the null (1,3) and full (1,7) devices, made here
if mknod null c 1 3 2>/dev/null && mknod full c 1 7 2>/dev/null && (echo x >null) 2>/dev/null \
  && ! (echo x >full) 2>/dev/null; then
  synth -o null >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] && [ -c null ] && ok "synth -o a null device: written, still a device" \
    || bad "synth -o null device (rc $rc, $(kind_of null)): $(cat "$tmp/err")"
  "$W" model quantize ref.gguf null --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] && [ -c null ] && ok "quantize to a null device: written, still a device" \
    || bad "quantize to null device (rc $rc, $(kind_of null)): $(cat "$tmp/err")"
  synth -o full >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && [ -c full ] && grep -q "cannot write full: No space left on device" "$tmp/err" \
    && ok "synth -o a full device: exit 1 with the cause, still a device" \
    || bad "synth -o full device (rc $rc, $(kind_of full)): $(cat "$tmp/err")"
else
  echo "SKIP: no working device node in $tmp (not root, or mounted nodev)"
fi

# --- stdout ----------------------------------------------------------------------------------------
synth -o /proc/self/fd/1 >so.gguf 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s so.gguf ref.gguf && grep -q "^wrote stdout" "$tmp/err" \
  && ok "synth -o /proc/self/fd/1: the model on stdout, 'wrote' on stderr" \
  || bad "synth -o stdout (rc $rc): $(cat "$tmp/err")"
synth -o /proc/self/fd/1 2>"$tmp/err" | cat >so2.gguf
cmp -s so2.gguf ref.gguf && ok "synth -o /proc/self/fd/1 into a pipe" || bad "synth -o stdout pipe: $(cat "$tmp/err")"
# "-" is stdout too (no file named "-"), for synth and quantize alike; >>
# appends (stdout itself, never reopened); a name of stderr is stderr itself
synth -o - 2>"$tmp/err" | cat >so3.gguf
cmp -s so3.gguf ref.gguf && [ ! -e ./- ] && grep -q "^wrote stdout" "$tmp/err" \
  && ok "synth -o -: the model on stdout" || bad "synth -o - ($(ls -- - 2>&1)): $(cat "$tmp/err")"
"$W" model quantize ref.gguf - --type q8_0 2>"$tmp/err" | cat >soq.gguf
cmp -s soq.gguf refq.gguf && [ ! -e ./- ] && ok "quantize IN -: the model on stdout" \
  || bad "quantize IN - : $(cat "$tmp/err")"
echo head >app.gguf
synth -o /proc/self/fd/1 >>app.gguf 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ "$(head -1 app.gguf)" = head ] && tail -c +6 app.gguf | cmp -s - ref.gguf \
  && ok "synth -o /proc/self/fd/1 >>FILE appends" || bad "synth stdout >> (rc $rc): $(head -c 8 app.gguf)"
echo log-line >log.txt
synth -o /proc/self/fd/2 >so4.txt 2>>log.txt; rc=$?
[ $rc = 0 ] && [ "$(head -1 log.txt)" = log-line ] && grep -q "^wrote stderr" so4.txt \
  && ok "synth -o /proc/self/fd/2 2>>LOG appends to the log" \
  || bad "synth -o stderr (rc $rc): $(head -c 20 log.txt | od -c | head -2)"
if [ -w /dev/full ] && [ -c /dev/full ]; then
  synth -o - >/dev/full 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] \
    && grep -q "writing the output: No space left on device" "$tmp/err" \
    && ok "synth -o - >/dev/full: one message with the cause, exit 1" \
    || bad "synth -o - full (rc $rc): $(cat "$tmp/err")"
fi
if command -v script >/dev/null 2>&1; then
  script -qec "$W $SYNTH -o -" /dev/null >"$tmp/tty" 2>&1; rc=$?
  [ $rc = 2 ] && grep -q "refusing to write a binary model to the terminal" "$tmp/tty" \
    && ! grep -q GGUF "$tmp/tty" && ok "synth -o - on a terminal: refused, exit 2" \
    || bad "synth -o - tty (rc $rc): $(head -c 200 "$tmp/tty")"
  # a name of the terminal, stdout elsewhere: refused too, before any work
  # (the pty's own name, /dev/tty, and a symlink to it)
  script -qec "$W $SYNTH -o /dev/tty >/dev/null" /dev/null >"$tmp/tty" 2>&1; rc=$?
  [ $rc = 2 ] && grep -q "refusing to write a binary model to the terminal (/dev/tty)" "$tmp/tty" \
    && ! grep -q GGUF "$tmp/tty" && ok "synth -o /dev/tty: refused, exit 2" \
    || bad "synth -o /dev/tty (rc $rc): $(head -c 200 "$tmp/tty")"
  script -qec "$W model quantize ref.gguf /dev/tty --type q8_0 >/dev/null" /dev/null \
    >"$tmp/tty" 2>&1; rc=$?
  [ $rc = 2 ] && grep -q "refusing to write a binary model to the terminal" "$tmp/tty" \
    && ! grep -q GGUF "$tmp/tty" && ok "quantize IN /dev/tty: refused, exit 2" \
    || bad "quantize IN /dev/tty (rc $rc): $(head -c 200 "$tmp/tty")"
  # (stdout and stderr elsewhere, so the link names neither)
  script -qec "ln -s \"\$(tty)\" $tmp/ttylink &&
    $W model quantize ref.gguf $tmp/ttylink --type q8_0 >/dev/null 2>$tmp/err" \
    /dev/null >"$tmp/tty" 2>&1; rc=$?
  [ $rc = 2 ] && grep -q "refusing to write a binary model to the terminal" "$tmp/err" \
    && ! grep -q GGUF "$tmp/tty" && ok "quantize IN LINK-TO-PTY: refused, exit 2" \
    || bad "quantize IN link to the pty (rc $rc): $(head -c 200 "$tmp/tty")"
  rm -f "$tmp/ttylink"
else
  echo "SKIP: no script(1) for a terminal"
fi

# --- bad names, failed writes ----------------------------------------------------------------------
synth -o nodir/x.gguf >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && grep -q "cannot write nodir/x.gguf: No such file or directory" "$tmp/err" \
  && [ ! -e nodir ] && ok "synth -o in a missing directory: a clear error" \
  || bad "synth -o nodir (rc $rc): $(cat "$tmp/err")"
"$W" model quantize ref.gguf nodir/q.gguf --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && grep -q "cannot write nodir/q.gguf: No such file or directory" "$tmp/err" \
  && ok "quantize to a missing directory: a clear error" \
  || bad "quantize nodir (rc $rc): $(cat "$tmp/err")"
synth -o sub >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && [ -d sub ] && grep -q "cannot write sub: Is a directory" "$tmp/err" \
  && ok "synth -o DIR: is a directory" || bad "synth -o DIR (rc $rc): $(cat "$tmp/err")"
# a full disk: RLIMIT_FSIZE with SIGXFSZ ignored, so writes fail with EFBIG
echo keep >kept.gguf && ln -s kept.gguf kept-link.gguf
out=$( (trap '' XFSZ && ulimit -f 8 && "$W" $SYNTH -o kept-link.gguf 2>&1 >/dev/null; echo "rc=$?") )
[ "${out##*rc=}" = 1 ] && echo "$out" | grep -q "File too large" && [ "$(cat kept.gguf)" = keep ] \
  && [ -L kept-link.gguf ] && ok "synth on a full disk: exit 1, the old file and the link kept" \
  || bad "synth full disk: $out; $(ls -l kept.gguf kept-link.gguf)"
no_temp_left && ok "no temporary file left after failed writes" || bad "temporary files left: $(ls -a "$tmp")"

# --- stopped while writing ------------------------------------------------------------------------
# SIGTERM while quantize writes its temporary file: it is removed, the old OUT
# kept, and the process ends by the signal (143). The model is big enough
# (~200 MB in, ~55 MB out) that the write lasts a few hundred milliseconds; the
# temporary file is polled for without a subprocess until it has data (the
# empty one of open's check comes and goes first), then the signal sent. A
# run that ended before the signal could land is tried again (at most 3 times).
mkdir big && "$W" model synth --layers 4 --dim 1024 --ffn 2816 --heads 8 -o big/in.gguf \
  >/dev/null 2>"$tmp/err" || bad "synth a big model: $(cat "$tmp/err")"
echo old >big/out.gguf
for attempt in 1 2 3; do
  "$W" model quantize big/in.gguf big/out.gguf --type q8_0 -t 1 >/dev/null 2>"$tmp/err" &
  pid=$!
  seen=""
  while [ -z "$seen" ] && kill -0 "$pid" 2>/dev/null; do
    for f in big/out.gguf.tmp.*; do [ -s "$f" ] && seen=$f; done
  done
  [ -n "$seen" ] && kill -TERM "$pid" 2>/dev/null
  wait "$pid"; rc=$?
  [ "$rc" = 0 ] && [ "$attempt" -lt 3 ] && echo old >big/out.gguf && continue
  break
done
leftover=$(ls -a big | grep '\.tmp\.')
[ "$rc" = 143 ] && [ -z "$leftover" ] && [ "$(cat big/out.gguf)" = old ] \
  && ok "quantize stopped by SIGTERM while writing: exit 143, no temporary file, the old file kept" \
  || bad "quantize SIGTERM (rc $rc, seen ${seen:-none}): left ${leftover:-nothing}; $(head -c 20 big/out.gguf)"
rm -rf big

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
