#!/usr/bin/env bash
# -o FILE of export and measure (cli/cli_output.c, docs/internals/cli_output.md):
# - "-" is stdout, never a file named "-";
# - a regular file is replaced whole: a new one gets 0666 less the umask, an
#   existing one keeps its mode (and owner, as root); a symlink is followed and
#   its target written; a database named FILE.tmp is never touched;
# - a FIFO or a device is written in place (it stays what it is); a name of
#   stderr is stderr itself (2>>LOG appends); /dev/stdout
#   is stdout (`>>` still appends);
# - a failed write (a full disk: RLIMIT_FSIZE with SIGXFSZ ignored, EFBIG) is
#   exit 1 with one message naming the cause, the old file left as it was and
#   no temporary file left behind; so is a failed write to stdout;
# - the run database is refused as -o, with or without --no-store.
# Everything is written under $tmp: special files are made there (mkfifo,
# mknod), never taken from /dev, because a broken build would replace them.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
cd "$tmp" || exit 1
umask 022

db=$tmp/a.db
"$W" measure --db "$db" -i 1 -- sleep 0.3 >/dev/null 2>&1 || bad "measure into a new database"
id=$("$W" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$W" export --db "$db" "$id" -f json >ref.json 2>/dev/null && [ -s ref.json ] \
  && ok "a run to export" || bad "export to stdout"
n_runs() { "$W" runs --db "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
no_temp_left() { ! ls -a "$tmp" "$tmp/sub" 2>/dev/null | grep -q '\.tmp\.'; }
mode_of() { stat -c %a "$1"; }

# --- "-" is stdout ------------------------------------------------------------------------
"$W" export --db "$db" "$id" -f json -o - >dash.json 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s dash.json ref.json && [ ! -e ./- ] && ok "export -o -: stdout" \
  || bad "export -o - (rc $rc): $(cat "$tmp/err")"
"$W" measure --no-store -o - -- true >dash.txt 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && grep -q "exit status" dash.txt && [ ! -e ./- ] && ok "measure -o -: stdout" \
  || bad "measure -o - (rc $rc): $(cat "$tmp/err")"

# --- regular files: modes ----------------------------------------------------------------
(umask 027 && "$W" export --db "$db" "$id" -f json -o new.json) 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s new.json ref.json && [ "$(mode_of new.json)" = 640 ] \
  && ok "a new file: 0666 less the umask" || bad "new file (rc $rc, mode $(mode_of new.json))"
echo private >priv.json && chmod 600 priv.json
"$W" export --db "$db" "$id" -f json -o priv.json 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s priv.json ref.json && [ "$(mode_of priv.json)" = 600 ] \
  && ok "an existing 0600 file stays 0600" || bad "existing 0600 file (rc $rc, mode $(mode_of priv.json))"
echo private >priv.txt && chmod 600 priv.txt
"$W" measure --no-store -o priv.txt -- true 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && grep -q "exit status" priv.txt && [ "$(mode_of priv.txt)" = 600 ] \
  && ok "measure: an existing 0600 file stays 0600" || bad "measure 0600 (rc $rc, mode $(mode_of priv.txt))"
# (root in a user namespace that maps root alone cannot give a file to nobody)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && echo theirs >owned.json \
  && chown nobody owned.json 2>/dev/null; then
  chmod 640 owned.json
  "$W" export --db "$db" "$id" -f json -o owned.json 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] && cmp -s owned.json ref.json && [ "$(stat -c %U owned.json)" = nobody ] \
    && [ "$(mode_of owned.json)" = 640 ] && ok "as root, an existing file keeps its owner" \
    || bad "owner (rc $rc): $(stat -c '%U %a' owned.json)"
else
  skip_other_user "not root, or cannot give a file to nobody here (owner test)"
fi
no_temp_left && ok "no temporary file left" || bad "temporary files left: $(ls -a "$tmp")"

# --- symlinks ----------------------------------------------------------------------------------
echo old >real.json && chmod 600 real.json && ln -s real.json link.json
"$W" export --db "$db" "$id" -f json -o link.json 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ -L link.json ] && cmp -s real.json ref.json && [ "$(mode_of real.json)" = 600 ] \
  && ok "a symlink: its target is written" || bad "symlink (rc $rc): $(ls -l link.json real.json)"
mkdir sub && ln -s sub/../sub/made.json dangling.json
"$W" export --db "$db" "$id" -f json -o dangling.json 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ -L dangling.json ] && cmp -s sub/made.json ref.json \
  && ok "a dangling symlink: its target is created" || bad "dangling symlink (rc $rc): $(cat "$tmp/err")"

# --- a database named like the old fixed temporary file ---------------------------------------
cp "$db" v.db.tmp
"$W" export --db v.db.tmp "$id" -f json -o v.db 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && cmp -s v.db ref.json && [ "$(n_runs v.db.tmp)" = 1 ] \
  && ok "export --db v.db.tmp -o v.db leaves the database alone" \
  || bad "export --db v.db.tmp -o v.db (rc $rc): $(cat "$tmp/err")"

# --- FIFOs and devices are written in place -------------------------------------------------
mkfifo fifo
timeout 20 cat fifo >from_fifo &
reader=$!
timeout 20 "$W" export --db "$db" "$id" -f json -o fifo 2>"$tmp/err"; rc=$?
wait $reader
[ $rc = 0 ] && [ -p fifo ] && cmp -s from_fifo ref.json && ok "export -o FIFO: the reader gets it" \
  || bad "export -o FIFO (rc $rc, fifo $(stat -c %F fifo)): $(cat "$tmp/err")"
rm -f fifo && mkfifo fifo
timeout 20 cat fifo >from_fifo &
reader=$!
timeout 20 "$W" measure --no-store -o fifo -- true 2>"$tmp/err"; rc=$?
wait $reader
[ $rc = 0 ] && [ -p fifo ] && grep -q "exit status" from_fifo && ok "measure -o FIFO: the reader gets it" \
  || bad "measure -o FIFO (rc $rc): $(cat "$tmp/err")"
# a /dev/full of our own (char 1,7): where devices work, a write fails with ENOSPC
if mknod full c 1 7 2>/dev/null && [ -c full ] && ! (echo x >full) 2>/dev/null; then
  for c in "export --db $db $id -f json" "measure --no-store"; do
    # shellcheck disable=SC2086
    if [ "${c%% *}" = measure ]; then "$W" $c -o full -- true 2>"$tmp/err"; else "$W" $c -o full 2>"$tmp/err"; fi
    rc=$?
    [ $rc = 1 ] && [ -c full ] && [ "$(wc -l <"$tmp/err")" = 1 ] \
      && grep -q "writing the output: No space left on device" "$tmp/err" \
      && ok "${c%% *} -o a full device: exit 1 with the cause" \
      || bad "${c%% *} -o full device (rc $rc, $(stat -c %F full)): $(cat "$tmp/err")"
  done
else
  echo "SKIP: no working device node in $tmp (not root, or mounted nodev)"
fi
# /dev/stdout is stdout itself: what the command printed stays, and >> appends
echo first >app.txt
"$W" measure --no-store -o /dev/stdout -- echo from-the-command >>app.txt 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ "$(head -2 app.txt | tr '\n' ' ')" = "first from-the-command " ] \
  && grep -q "exit status" app.txt && ok "measure -o /dev/stdout appends to stdout" \
  || bad "measure -o /dev/stdout (rc $rc): $(head -3 app.txt)"
# a name of stderr is stderr itself: 2>>LOG appends, nothing is truncated
echo first >log.txt
"$W" measure --no-store -o /proc/self/fd/2 -- echo from-the-command >out.txt 2>>log.txt; rc=$?
[ $rc = 0 ] && [ "$(head -1 log.txt)" = first ] && grep -q "exit status" log.txt \
  && [ "$(cat out.txt)" = from-the-command ] && ok "measure -o /proc/self/fd/2 appends to stderr" \
  || bad "measure -o stderr (rc $rc): $(head -3 log.txt)"

# --- a failed write: exit 1, the cause, the old file as it was ----------------------------------
# run_limited KB CMD...: CMD with files limited to KB KiB (a write past that
# fails with EFBIG: SIGXFSZ is ignored); prints its exit status, its stderr into
# $tmp/err. Both come back through a pipe, which the limit does not touch.
run_limited() {
  local kb=$1 out
  shift
  out=$( (trap '' XFSZ && ulimit -f "$kb" && "$@" 2>&1 >/dev/null; echo "rc=$?") )
  printf '%s\n' "$out" | grep -v '^rc=' >"$tmp/err"
  echo "${out##*rc=}"
}
echo keep >kept.txt
rc=$(run_limited 0 "$W" measure --no-store -o kept.txt -- true)
[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "writing the output: File too large" "$tmp/err" \
  && [ "$(cat kept.txt)" = keep ] && ok "measure -o on a full disk: exit 1, cause, old file kept" \
  || bad "measure -o full disk (rc $rc, file '$(head -c 40 kept.txt)'): $(cat "$tmp/err")"
rc=$(run_limited 0 "$W" measure --no-store --json -o kept.txt -- true)
[ "$rc" = 1 ] && grep -q "writing the output: File too large" "$tmp/err" && [ "$(cat kept.txt)" = keep ] \
  && ok "measure --json -o on a full disk: exit 1, cause, old file kept" \
  || bad "measure --json -o full disk (rc $rc): $(cat "$tmp/err")"
rc=$(run_limited 0 "$W" measure --no-store -o kept.txt -- sh -c 'exit 3')
[ "$rc" = 3 ] && ok "a failing command keeps its status when the report fails" || bad "status $rc, not 3"
# the export needs room for the database's 32 KiB -shm; 40 KiB are short of the export
if [ "$(wc -c <ref.json)" -gt 45000 ]; then
  rc=$(run_limited 40 "$W" export --db "$db" "$id" -f json -o kept.txt)
  [ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "writing the output: File too large" "$tmp/err" \
    && [ "$(cat kept.txt)" = keep ] && ok "export -o on a full disk: exit 1, cause, old file kept" \
    || bad "export -o full disk (rc $rc, file '$(head -c 40 kept.txt)'): $(cat "$tmp/err")"
else
  echo "SKIP: export of $(wc -c <ref.json) bytes is too small for the full-disk test"
fi
no_temp_left && ok "no temporary file left after failed writes" || bad "temporary files left: $(ls -a "$tmp")"
# stdout: the same message, with its cause
"$W" measure --no-store -- true >&- 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "writing the output: Bad file descriptor" "$tmp/err" \
  && ok "measure >&-: exit 1 with the cause" || bad "measure >&- (rc $rc): $(cat "$tmp/err")"
rc=$(run_limited 0 sh -c "'$W' measure --no-store -- true >stdout.txt")
[ "$rc" = 1 ] && grep -q "writing the output: File too large" "$tmp/err" \
  && ok "measure >full disk: exit 1 with the cause" || bad "measure >full disk (rc $rc): $(cat "$tmp/err")"

# --- bad names ---------------------------------------------------------------------------------
"$W" export --db "$db" "$id" -f json -o '' 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && ok "-o '' is a usage error" || bad "-o '' (rc $rc): $(cat "$tmp/err")"
"$W" export --db "$db" "$id" -f json -o sub 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && grep -q "cannot write sub: Is a directory" "$tmp/err" && ok "-o DIR: is a directory" \
  || bad "-o DIR (rc $rc): $(cat "$tmp/err")"
"$W" measure --no-store -o nodir/r.txt -- touch ran >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && grep -q "No such file or directory" "$tmp/err" && [ ! -e ran ] \
  && ok "measure -o in a missing directory: refused before the command runs" \
  || bad "measure -o nodir (rc $rc): $(cat "$tmp/err")"

# --- the database, with or without --no-store --------------------------------------------------
cp "$db" ns.db
"$W" measure --db ns.db --no-store -o ns.db -- true >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "it is the run database" "$tmp/err" && [ "$(n_runs ns.db)" = 1 ] \
  && ok "measure --no-store -o DB refused" || bad "measure --no-store -o DB (rc $rc): $(cat "$tmp/err")"
WATTLENS_DB=ns.db "$W" measure --no-store -o "$tmp/ns.db" -- true >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && [ "$(n_runs ns.db)" = 1 ] && ok "measure --no-store -o \$WATTLENS_DB refused" \
  || bad "measure --no-store -o \$WATTLENS_DB (rc $rc): $(cat "$tmp/err")"
"$W" measure --db ns.db --no-store -o ns.db-wal -- true >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && [ ! -e ns.db-wal ] && ok "measure -o DB-wal refused, even before it exists" \
  || bad "measure -o DB-wal (rc $rc): $(cat "$tmp/err")"
ln -s ns.db ns-link.db
"$W" export --db ns-link.db "$id" -f json -o ns.db 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && [ "$(n_runs ns.db)" = 1 ] && ok "export through a linked --db -o DB refused" \
  || bad "export linked DB (rc $rc): $(cat "$tmp/err")"

# stdout open on the database ("-" or no -o): the file open there counts
sum_ns=$(cksum <ns.db)
"$W" export --db ns.db "$id" -f json -o - 1<>ns.db 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "output to stdout: it is the run database" "$tmp/err" \
  && [ "$(cksum <ns.db)" = "$sum_ns" ] && ok "export -o - 1<>DB refused, the database intact" \
  || bad "export -o - 1<>DB (rc $rc): $(cat "$tmp/err")"
"$W" export --db ns.db "$id" -f json >>ns.db 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && [ "$(cksum <ns.db)" = "$sum_ns" ] && ok "export >>DB refused, the database intact" \
  || bad "export >>DB (rc $rc): $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
