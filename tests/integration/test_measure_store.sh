#!/usr/bin/env bash
# ctest-labels: timing (10 s polling limits, and a lock held 4 s against a 2 s busy timeout)
# `measure` and the run database: the run's row (running, with the command
# line) is made before the command starts, so a wattlens killed with
# SIGKILL leaves a row that shows as incomplete; a database another writer
# holds past the busy timeout is an error before the command runs (exit 1,
# the command not started; --no-store still measures); a lock taken while
# the command runs and held past the busy timeout delays the save but does
# not lose it. A reader who cannot write the database leaves no -wal/-shm
# that would keep its owner from writing (as nobody under root). A live
# measure 25 h old stays running (gc keeps it); a stop signal during the
# save's wait ends it (exit 128+N, run incomplete); a run removed meanwhile
# says so; after a SIGKILL, gc --dry-run writes nothing and agrees with gc,
# and a reader that cannot write shows the run incomplete.
set -u
: "${WATTLENS:?}"
. "$(dirname "$0")/common.sh"
# pgrep finds the measured command's processes (without it the waits would
# time out and the "no orphan" checks pass without looking)
need_tool pgrep procps
db="$tmp/m.db"

# Holds the write lock of $1 for $2 seconds once taken (or until killed);
# prints "locked" then. Run in the background: it becomes the holder (exec),
# so that killing $! releases the lock.
hold_lock() {
  exec python3 - "$1" "$2" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
PY
}

status_of() { # status of the newest run whose command is $1
  "$WATTLENS" runs --db "$db" --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin)["runs"] if r.get("command") == sys.argv[1]]
print(rows[0]["status"] if rows else "none")' "$1"
}

# The commands measured here run until the test lets them end: `sh -c "$held" F`
# touches F, then waits for F.go (5 min at most, should the test die). A fixed
# `sleep` could end before the steps meant to happen while it runs, each a
# wattlens that a sanitizer build on a loaded machine starts slowly. Its
# command line, as stored: held_cmd F.
held='touch "$0"; n=0; until [ -e "$0.go" ] || [ $n = 6000 ]; do sleep 0.05; n=$((n + 1)); done'
held_cmd() { echo "sh -c '$held' $1"; }

# wait_save_waits PID: waits (up to ~30 s) until measure PID has reaped its
# command (no child left) and sleeps in the save's wait for the write lock
# (the busy handler's nanosleep, in /proc/PID/wchan): a stop signal sent next
# lands in that wait, not in the measuring that precedes it. Where the
# kernel does not name the wait (wchan 0), 1 s after the command is gone.
wait_save_waits() {
  local gone=""
  for i in $(seq 1 600); do
    if ! pgrep -P "$1" >/dev/null; then
      case $(cat "/proc/$1/wchan" 2>/dev/null) in
        *nanosleep*) return 0 ;;
        "" | 0) gone=${gone:-$i}; [ $((i - gone)) -ge 20 ] && return 0 ;;
      esac
    fi
    sleep 0.05
  done
  return 1
}

# 1. kill -9 of measure while its command runs: the row is there, incomplete
"$WATTLENS" -q measure --db "$db" -- sh -c "$held" "$tmp/s1" >/dev/null 2>&1 &
mpid=$!
for _ in $(seq 1 100); do
  [ "$(status_of "$(held_cmd "$tmp/s1")" 2>/dev/null)" = running ] && break
  sleep 0.1
done
kill -9 "$mpid"
wait "$mpid" 2>/dev/null
touch "$tmp/s1.go" # the orphaned command ends
st=$(status_of "$(held_cmd "$tmp/s1")")
[ "$st" = incomplete ] && ok "a SIGKILLed measure leaves its run, incomplete" \
  || bad "a SIGKILLed measure: run status '$st', not incomplete"

# 2. another writer holds the database past the busy timeout: the command
#    does not run, exit 1, a clear message
"$WATTLENS" -q measure --db "$db" -- true >/dev/null 2>&1 # the file exists
hold_lock "$db" 120 >"$tmp/lock1" & # until both measures below are done
lpid=$!
for _ in $(seq 1 100); do grep -q locked "$tmp/lock1" && break; sleep 0.1; done
"$WATTLENS" -q measure --db "$db" -- touch "$tmp/ran" >/dev/null 2>"$tmp/err2"
rc=$?
[ $rc = 1 ] && ok "locked database: exit 1" || bad "locked database: exit $rc, not 1"
[ ! -e "$tmp/ran" ] && ok "locked database: the command was not run" \
  || bad "locked database: the command ran"
grep -q "locked by another process" "$tmp/err2" && grep -q "the command was not run" "$tmp/err2" \
  && ok "locked database: says so" || bad "locked database: message: $(cat "$tmp/err2")"
"$WATTLENS" -q measure --db "$db" --no-store -- touch "$tmp/ran" >/dev/null 2>&1
rc=$?
[ $rc = 0 ] && [ -e "$tmp/ran" ] && ok "locked database: --no-store still measures" \
  || bad "locked database, --no-store: exit $rc"
kill -0 "$lpid" 2>/dev/null || bad "locked database: the lock was released before the checks ended"
kill "$lpid"
{ wait "$lpid"; } 2>/dev/null

# 3. a lock taken while the command runs, held past the busy timeout (2 s):
#    the save waits for it (the command ends once the lock is taken)
"$WATTLENS" -q measure --db "$db" -- sh -c "$held" "$tmp/started" >/dev/null 2>"$tmp/err3" &
mpid=$!
for _ in $(seq 1 100); do [ -e "$tmp/started" ] && break; sleep 0.1; done
hold_lock "$db" 4 >"$tmp/lock3" &
lpid=$!
for _ in $(seq 1 100); do grep -q locked "$tmp/lock3" && break; sleep 0.1; done
touch "$tmp/started.go"
wait "$mpid"
rc=$?
wait "$lpid"
st=$(status_of "$(held_cmd "$tmp/started")")
[ $rc = 0 ] && [ "$st" = complete ] && ok "a lock held past the busy timeout delays the save" \
  || bad "lock during the command: exit $rc, status '$st': $(cat "$tmp/err3")"

# 4. a reader who cannot write the database leaves nothing next to it
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && id nobody >/dev/null 2>&1 \
  && id daemon >/dev/null 2>&1; then
  sh="$tmp/shared"
  mkdir "$sh" && chmod 755 "$tmp" && chmod 1777 "$sh"
  cp "$db" "$sh/many.db" && chown daemon "$sh/many.db" && chmod 644 "$sh/many.db"
  # runuser drops root's capabilities before it execs: a binary or a $tmp
  # these users cannot reach (a build under /root or with umask 077, a
  # TMPDIR under a 0700 directory) is a set-up this check cannot run in
  if ! runuser -u nobody -- test -x "$WATTLENS" -a -r "$sh/many.db" 2>/dev/null \
    || ! runuser -u daemon -- test -x "$WATTLENS" -a -w "$sh/many.db" 2>/dev/null; then
    skip_other_user "nobody or daemon cannot reach $WATTLENS or $sh/many.db (reader/owner check skipped)"
  else
    if runuser -u nobody -- "$WATTLENS" runs --db "$sh/many.db" >/dev/null 2>"$tmp/err4"; then
      ok "nobody reads daemon's database"
    else
      bad "nobody cannot read: $(cat "$tmp/err4")"
    fi
    [ ! -e "$sh/many.db-wal" ] && [ ! -e "$sh/many.db-shm" ] \
      && ok "the reader left no -wal/-shm" || bad "the reader left: $(ls "$sh")"
    if runuser -u daemon -- "$WATTLENS" -q measure --db "$sh/many.db" -- true >/dev/null 2>"$tmp/err5"; then
      ok "the owner still writes it"
    else
      bad "the owner cannot write after a reader: $(cat "$tmp/err5")"
    fi
  fi
else
  skip_other_user "reader/owner check needs root, runuser and the users nobody and daemon"
fi

# 5. a measure whose command runs past 24 h (its row's times moved back 25 h)
#    stays running while it lives: gc keeps it and its save works
"$WATTLENS" -q measure --db "$db" -- sh -c "$held" "$tmp/long" >/dev/null 2>"$tmp/err5" &
mpid=$!
for _ in $(seq 1 100); do [ -e "$tmp/long" ] && break; sleep 0.1; done
# the fixture must hold: a failed or no-op update leaves the run fresh, and
# the checks below would pass whatever the store does with old live runs
python3 - "$db" <<'PY' || bad "could not age the live run's row"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
cur = c.execute("UPDATE runs SET updated_at_ms = updated_at_ms - 25*3600*1000, "
                "created_at_ms = created_at_ms - 25*3600*1000 WHERE status = 'running'")
if cur.rowcount != 1:
    raise SystemExit("aged %d rows, not 1" % cur.rowcount)
c.commit()
PY
lcmd=$(held_cmd "$tmp/long")
st=$(status_of "$lcmd")
[ "$st" = running ] && ok "a live measure 25 h old is still running" \
  || bad "a live measure 25 h old: status '$st'"
"$WATTLENS" gc --db "$db" --max-age 1 >"$tmp/gc5" 2>&1
grep -q "^0 runs removed" "$tmp/gc5" && ok "gc --max-age 1 keeps the live measure" \
  || bad "gc during a long measure: $(cat "$tmp/gc5")"
touch "$tmp/long.go"
wait "$mpid"
rc=$?
st=$(status_of "$lcmd")
[ $rc = 0 ] && [ "$st" = complete ] && ok "the long measure is saved complete" \
  || bad "long measure: exit $rc, status '$st': $(cat "$tmp/err5")"

# 6. a stop signal while the save waits for another writer ends the wait:
#    exit 128+N, the run not saved (left incomplete), the report printed
for sig in TERM HUP; do # (a script's background job ignores SIGINT)
  code=$((128 + $(kill -l "$sig")))
  rm -f "$tmp/s6" "$tmp/s6.go"
  "$WATTLENS" measure --db "$db" -- sh -c "$held" "$tmp/s6" >"$tmp/out6" 2>"$tmp/err6" &
  mpid=$!
  for _ in $(seq 1 100); do [ -e "$tmp/s6" ] && break; sleep 0.1; done
  hold_lock "$db" 120 >"$tmp/lock6" & # until killed below
  lpid=$!
  for _ in $(seq 1 100); do grep -q locked "$tmp/lock6" && break; sleep 0.1; done
  touch "$tmp/s6.go" # the command ends: the save waits for the lock
  wait_save_waits "$mpid" || bad "SIG$sig: measure never waited for the lock"
  kill -"$sig" "$mpid"
  wait "$mpid"
  rc=$?
  # at once: while the lock is still held (a save not stopped waits 60 s for it)
  kill -0 "$lpid" 2>/dev/null && held_on=yes || held_on=no
  [ $rc = $code ] && [ $held_on = yes ] \
    && ok "SIG$sig during the save's wait: exit $code at once (the lock still held)" \
    || bad "SIG$sig during the save's wait: exit $rc, the lock still held: $held_on: $(cat "$tmp/err6")"
  grep -q "got SIG$sig while waiting for the database" "$tmp/err6" \
    && grep -q "the run was not saved" "$tmp/err6" && grep -q "left incomplete" "$tmp/err6" \
    && ok "... says the run was not saved" || bad "SIG$sig during the save: $(cat "$tmp/err6")"
  grep -q "exit status     0" "$tmp/out6" && ok "... the report is printed" \
    || bad "SIG$sig during the save: report: $(head -3 "$tmp/out6")"
  kill "$lpid"
  { wait "$lpid"; } 2>/dev/null
  st=$(status_of "$(held_cmd "$tmp/s6")")
  [ "$st" = incomplete ] && ok "... and the run is incomplete" || bad "stopped save: status '$st'"
done

# 7. the run removed (rm --force) while its command runs: the save says so
"$WATTLENS" -q measure --db "$db" -- sh -c "$held" "$tmp/s7" >/dev/null 2>"$tmp/err7" &
mpid=$!
for _ in $(seq 1 100); do [ -e "$tmp/s7" ] && break; sleep 0.1; done
rid=$("$WATTLENS" runs --db "$db" --json | python3 -c '
import json, sys
print([r["id"] for r in json.load(sys.stdin)["runs"] if r["status"] == "running"][0])')
# without --force, rm refuses a run still being recorded and names its writer
"$WATTLENS" rm --db "$db" "$rid" >/dev/null 2>"$tmp/rm7"; rc=$?
[ $rc = 1 ] && grep -q "is still being recorded (measure, process" "$tmp/rm7" \
  && grep -q -- "--force" "$tmp/rm7" && ok "rm of a live measure is refused, naming its writer" \
  || bad "rm of a live measure: exit $rc, $(cat "$tmp/rm7")"
"$WATTLENS" -q rm --db "$db" --force "$rid" >/dev/null 2>&1 || bad "rm --force of a live measure"
touch "$tmp/s7.go"
wait "$mpid"
rc=$?
[ $rc = 1 ] && grep -q "is no longer in the database: it was removed" "$tmp/err7" \
  && ! grep -q "FOREIGN KEY" "$tmp/err7" && ok "a measure whose run was removed says so" \
  || bad "run removed during measure: exit $rc: $(cat "$tmp/err7")"

# 8. a SIGKILLed measure: a reader that cannot write shows the run
#    incomplete and its dry run would remove it; `gc --dry-run` writes
#    nothing (the stored status stays running) and predicts what gc does
kd="$tmp/kro"
mkdir -p "$kd"
kdb="$kd/k.db"
raw_status() {
  python3 - "$kdb" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)
print(c.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])
PY
}
"$WATTLENS" -q measure --db "$kdb" -- sh -c 'touch "$0"; sleep 5' "$tmp/s8" >/dev/null 2>&1 &
mpid=$!
for _ in $(seq 1 100); do [ -e "$tmp/s8" ] && break; sleep 0.1; done
kill -9 "$mpid"
wait "$mpid" 2>/dev/null
nb() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
reader=no
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 755 "$tmp" "$kd" && chmod 644 "$kdb"*
  # (a binary or a TMPDIR under a 0700 directory: uid 65534 cannot get there)
  nb test -x "$WATTLENS" -a -r "$kdb" && reader=yes
fi
if [ $reader = yes ]; then
  st=$(nb "$WATTLENS" runs --db "$kdb" --json 2>"$tmp/err8" | python3 -c '
import json, sys; print(json.load(sys.stdin)["runs"][0]["status"])')
  [ "$st" = incomplete ] && ok "a reader that cannot write shows the killed run incomplete" \
    || bad "read-only reader: status '$st': $(cat "$tmp/err8")"
  nb "$WATTLENS" show --db "$kdb" "$(nb "$WATTLENS" runs --db "$kdb" --json | python3 -c '
import json, sys; print(json.load(sys.stdin)["runs"][0]["id"])')" >"$tmp/show8" 2>&1
  grep -q "incomplete" "$tmp/show8" && ! grep -q "(running" "$tmp/show8" \
    && ok "... show too" || bad "read-only show: $(head -3 "$tmp/show8")"
  nb "$WATTLENS" gc --db "$kdb" --keep 0 --dry-run >"$tmp/gc8" 2>&1
  grep -q "1 run would be removed" "$tmp/gc8" && ok "... and its gc --dry-run would remove it" \
    || bad "read-only gc --dry-run: $(cat "$tmp/gc8")"
  [ "$(raw_status)" = running ] || bad "a reader wrote the status"
else
  skip_other_user "the read-only reader check needs root, setpriv and uid 65534 reaching $WATTLENS and $kdb"
fi
# then as root, who can write it
"$WATTLENS" gc --db "$kdb" --keep 0 --dry-run >"$tmp/gc8" 2>&1
grep -q "1 run would be removed" "$tmp/gc8" && ok "gc --dry-run: the killed measure would go" \
  || bad "gc --dry-run after a SIGKILL: $(cat "$tmp/gc8")"
[ "$(raw_status)" = running ] && ok "gc --dry-run wrote nothing" \
  || bad "gc --dry-run rewrote the status: $(raw_status)"
"$WATTLENS" gc --db "$kdb" --keep 0 >"$tmp/gc8" 2>&1
grep -q "^1 run removed" "$tmp/gc8" && ok "gc removes what its dry run said" \
  || bad "gc after the dry run: $(cat "$tmp/gc8")"

# a zone the sensors found but could not read makes the stored run say
# PARTIAL (provenance sensors_not_read; show's note); under $tmp/sys, the
# sysfs root common.sh gives wattlens
pc="$tmp/sys/class/powercap"
mkdir -p "$pc/intel-rapl:0" "$pc/intel-rapl:0:0/energy_uj"
echo package-0 >"$pc/intel-rapl:0/name" && echo core >"$pc/intel-rapl:0:0/name"
for z in intel-rapl:0 intel-rapl:0:0; do echo 262143328850 >"$pc/$z/max_energy_range_uj"; done
echo 1000 >"$pc/intel-rapl:0/energy_uj"
pdb="$tmp/partial.db"
"$WATTLENS" -q measure --db "$pdb" -- true >/dev/null 2>"$tmp/err"
pid=$("$WATTLENS" runs --db "$pdb" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$WATTLENS" show --db "$pdb" "$pid" >"$tmp/show.txt" 2>&1
n=$("$WATTLENS" show --db "$pdb" "$pid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["sensors_not_read"])')
[ "$n" = 1 ] && grep -q "NOTE: PARTIAL sensors: 1 zone" "$tmp/show.txt" \
  && ok "measure with an unreadable zone: the stored run says PARTIAL" \
  || bad "partial measure (n=$n): $(cat "$tmp/show.txt" "$tmp/err" | head -5)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
