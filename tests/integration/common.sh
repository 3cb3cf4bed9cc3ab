# Sourced by the integration tests (not a test itself): pass/fail counting,
# a temporary directory removed on exit, sanitizer reports that fail the test,
# and waiting for a run to be mid-decode.
# Sets: pass, fail, tmp. Each test ends with: echo "$pass passed, $fail failed".
# It also makes the environment the same wherever the test is started
# (ctest, .ci/run, a developer's shell); test_common_env.sh checks each part.

# Signals ignored on entry (nohup, a background job of a script, a harness
# that ignores SIGINT or SIGHUP) stay ignored in bash and in everything it
# starts: a ^C or a kill -INT/-HUP that a test sends would be lost, and the
# test fail or hang until its timeout. ctest starts every test with all
# signals at their defaults; a script started otherwise (by hand, under
# nohup) is run again the same way, once (WL_IT_SIGNALS_DEFAULT set by the
# re-run, or by a caller who wants the signals left as they are). Only the
# standard signals 1-31 count (0x7FFFFFFF), less SIGQUIT (4 in the mask: a
# bash running a script ignores it itself): 32 and 33 are the C library's
# own, which a caller may leave ignored and no program can reset.
if [ -z "${WL_IT_SIGNALS_DEFAULT:-}" ]; then
  ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$$/status" 2>/dev/null)
  if [ -n "$ign" ] && (( 16#$ign & 0x7FFFFFFB )) && env --default-signal true 2>/dev/null; then
    exec env --default-signal WL_IT_SIGNALS_DEFAULT=1 bash "$0" "$@"
  fi
  unset ign
fi
unset WL_IT_SIGNALS_DEFAULT
# Standard input /dev/null, as ctest gives it: no test reads it, and a
# closed one (`0<&-`, "no standard input") makes script(1) print nothing and
# hands fd 0 to the first file a command opens.
exec </dev/null
# A locale that exists: one that does not (LC_ALL=en_US.UTF-8 where only
# C, C.UTF-8 and POSIX are installed) makes every bash the test starts warn
# on stderr, which fails the checks that stderr is empty. C.UTF-8 where
# installed (as the developers' LANG), else C.
unset LANGUAGE
if locale -a 2>/dev/null | grep -qix 'c\.utf-\{0,1\}8'; then export LC_ALL=C.UTF-8; else export LC_ALL=C; fi
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
# without a temporary directory (TMPDIR missing, full or read-only) every
# "$tmp/x" would be "/x": stop before anything is written
tmp=$(mktemp -d) && [ -n "$tmp" ] || {
  echo "FAIL: mktemp -d: no temporary directory (TMPDIR=${TMPDIR-unset})"
  exit 1
}
# Sanitizer reports go to files under $tmp/san (1777: some commands run as
# nobody), so a report fails the test even when the script ignores that
# command's exit status and stderr (the CLI closes stdout before exit-time
# leak checks, so its output can be complete and still come with a report).
# Options a caller set (the Makefile's check-asan) are kept: appended to.
mkdir -m 1777 "$tmp/san"
for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
  export "$v=${!v:+${!v}:}log_path=$tmp/san/${v%%_*}"
done
unset v
# the exit status is the script's, or 1 when a sanitizer wrote a report
san_reports() { compgen -G "$tmp/san/*" >/dev/null; }
trap 'st=$?; if san_reports; then echo "FAIL: sanitizer reports:" >&2; cat "$tmp"/san/* >&2; st=1; fi; rm -rf "$tmp"; exit $st' EXIT
# The host's sensors and the caller's settings never reach a test: every
# WATTLENS_* and WL_BENCH_* variable is unset, then the sensor backends
# point at nothing under $tmp (empty sys and dev directories, no NVML
# library, no powermetrics), so wattlens finds only the fakes a test makes
# there or names itself; and runs go to $tmp/unused.db, never the user's
# store. (A host's RAPL, hwmon or NVML adds warnings and changes figures;
# WATTLENS_LOG=debug writes to every stderr.) WATTLENS_PROC_ROOT stays
# unset: the CPU-time model reads the real /proc.
for v in "${!WATTLENS_@}" "${!WL_BENCH_@}"; do unset "$v"; done
unset v
mkdir "$tmp/sys" "$tmp/dev"
export WATTLENS_DB="$tmp/unused.db" WATTLENS_SYSFS_ROOT="$tmp/sys" WATTLENS_DEV_ROOT="$tmp/dev" \
       WATTLENS_NVML_LIB="$tmp/no-libnvidia-ml.so.1" WATTLENS_POWERMETRICS="$tmp/no-powermetrics"
# script(1) and others run command lines with $SHELL: make it the plain
# POSIX shell, as on CI, so a bash-only line fails here too
export SHELL=/bin/sh
# this directory, for the Python helpers next to the tests (sigint_blocked.py)
WL_IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WL_IT_DIR

# skip_no_data PATH: have_data for a whole test: without PATH the test is
# skipped (exit 77, reported by ctest as skipped), or fails when
# WL_REQUIRE_TESTDATA is set (.ci/run sets it where ../shared/testdata
# exists: a file missing there is a broken set-up, not a reason to pass).
skip_no_data() {
  have_data "$1" && return 0
  [ -n "${WL_REQUIRE_TESTDATA:-}" ] && exit 1
  exit 77
}

# have_data PATH [WHAT]: for a part of a test that needs PATH from the
# shared test data: true when it exists; else false after a FAIL (counted)
# when WL_REQUIRE_TESTDATA is set, or after a SKIP line saying that WHAT
# (the part) is skipped. Use: if have_data "$M" "bench md"; then ...; fi
have_data() {
  [ -e "$1" ] && return 0
  if [ -n "${WL_REQUIRE_TESTDATA:-}" ]; then
    bad "shared test data missing: $1 (WL_REQUIRE_TESTDATA is set)${2:+; $2 not run}"
  else
    echo "SKIP: shared test data missing: $1${2:+ ($2 skipped)}"
  fi
  return 1
}

# need_tool CMD PACKAGE: the test needs CMD (from the Debian package
# PACKAGE, which scripts/deps.sh installs): without it the test fails,
# saying what to install, rather than passing on checks that never ran.
# skip_other_user WHAT: a check run as another user (nobody, daemon)
# cannot run here: a SKIP line saying so, or a FAIL (counted) when
# WL_REQUIRE_OTHER_USER is set (.ci/run sets it when it runs as root, where
# those users reach the checkout: a probe that fails there is a broken
# set-up or a broken wattlens, not a reason to pass).
skip_other_user() {
  if [ -n "${WL_REQUIRE_OTHER_USER:-}" ]; then
    bad "$1 (WL_REQUIRE_OTHER_USER is set)"
  else
    echo "SKIP: $1"
  fi
}

need_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "FAIL: $1 not found: install $2 (scripts/deps.sh does)"
  exit 1
}

# need_exec DIR: programs a test writes into DIR (fake tools, stand-ins)
# can run there; else FAIL and exit before anything runs. A TMPDIR mounted
# noexec cannot run them: run by path they fail with odd messages, and
# found through PATH they are skipped for the real command.
need_exec() {
  printf '#!/bin/sh\nexit 0\n' >"$1/exec-probe" && chmod +x "$1/exec-probe" \
    && "$1/exec-probe" 2>/dev/null && rm -f "$1/exec-probe" && return 0
  echo "FAIL: cannot run programs written into $1 (TMPDIR=${TMPDIR-unset} mounted noexec?): set TMPDIR elsewhere"
  exit 1
}

# need_stubs DIR NAME...: the stand-ins DIR/NAME a test made are what a
# PATH that starts with DIR finds; else FAIL and exit before anything runs
# (bash skips a file it cannot execute and finds the real command: with
# stand-ins under a noexec TMPDIR, test_deps ran deps.sh on the real
# dpkg-query, id and apt-get, as root).
need_stubs() {
  local dir=$1 n
  shift
  need_exec "$dir"
  for n; do
    [ "$(PATH="$dir:$PATH" command -v "$n")" = "$dir/$n" ] && continue
    echo "FAIL: PATH=$dir:... finds $(PATH="$dir:$PATH" command -v "$n") for $n, not the stand-in: nothing run"
    exit 1
  done
}

# fake_zone DIR NAME UJ [ROOT]: a powercap zone DIR under the sysfs root
# ROOT (default $tmp/sys, the one wattlens reads here), at
# ROOT/class/powercap/DIR, named NAME, with Intel's counter range
# (262143328850 uJ) and its counter at UJ, written 20 digits wide so that a
# test can rewrite it in place (printf '%020d\n' N 1<>FILE) and no read sees
# a shorter file. Prints the counter's path (energy_uj).
fake_zone() {
  local z="${4:-$tmp/sys}/class/powercap/$1"
  mkdir -p "$z" && echo "$2" >"$z/name" && echo 262143328850 >"$z/max_energy_range_uj" \
    && printf '%020d\n' "$3" >"$z/energy_uj" && echo "$z/energy_uj"
}

# fake_counter FILE START [STEP...]: a fake energy counter that moves every
# ~5 ms in one background process (tests/integration/fake_counter.py: the
# steps), started and writing before this returns (python's start can take
# longer than the 100 ms after which a flat counter is stuck); its pid is
# in $fc_pid. Kill it when done.
fake_counter() {
  local ready="$tmp/fake_counter.$$.$RANDOM"
  python3 "$(dirname "${BASH_SOURCE[0]}")/fake_counter.py" "$1" "$2" move:1 "touch:$ready" \
    "${@:3}" &
  fc_pid=$!
  for _ in $(seq 1 1000); do [ -e "$ready" ] && return 0; sleep 0.01; done
  echo "FAIL: the fake counter did not start"; return 1
}

# running_rows DB TABLE [WHERE]: rows of TABLE (one with a run_id) that
# belong to runs still marked running in the store DB, with WHERE (an SQL
# condition on TABLE's columns as t.COL) if given; 0 when the store cannot be
# read yet. The recorder flushes while it runs. Read-only.
running_rows() {
  python3 - "$1" "$2" "${3:-1}" <<'PY' 2>/dev/null || echo 0
import sqlite3, sys
try:
    c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=1)
    q = ("select count(*) from %s t join runs r on r.id = t.run_id "
         "where r.status = 'running' and (%s)" % (sys.argv[2], sys.argv[3]))
    print(c.execute(q).fetchone()[0])
except Exception:
    print(0)
PY
}

# Output-token rows of runs still marked running in the store DB (0 when the
# store cannot be read yet).
running_output_tokens() {
  running_rows "$1" tokens "t.is_input = 0"
}

# _wait_db PID ERRFILE TEXT_S DB N TABLE WHERE ROWS_S: one python3 process
# that polls every 0.1 s: first (ERRFILE not empty) up to TEXT_S seconds
# for the progress line "prefill and decode" in ERRFILE, then up to ROWS_S
# seconds for N rows at least of TABLE [WHERE] of a running run in DB (as
# running_rows). With PID (the run's; may be empty) it gives up as soon as
# that process has ended (exited, or a zombie not yet waited for), after a
# last look. Returns 1 on giving up, saying why on stderr.
_wait_db() {
  python3 - "$@" <<'PY'
import os, sqlite3, sys, time
pid, errfile, text_s, db, n, table, where, rows_s = sys.argv[1:9]

def alive():
    if not pid:
        return True
    if os.path.isdir("/proc/self"):
        try:
            with open("/proc/%s/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except OSError:
            return False
    try:
        os.kill(int(pid), 0)
        return True
    except OSError:
        return False

def said():
    try:
        with open(errfile, "rb") as f:
            return b"prefill and decode" in f.read()
    except OSError:
        return False

def rows():
    if not os.path.exists(db):
        return False
    try:
        c = sqlite3.connect("file:" + db + "?mode=ro", uri=True, timeout=1)
        try:
            q = ("select count(*) from %s t join runs r on r.id = t.run_id "
                 "where r.status = 'running' and (%s)" % (table, where))
            return c.execute(q).fetchone()[0] >= int(n)
        finally:
            c.close()
    except sqlite3.Error:
        return False

def wait(what, secs, probe):
    end = time.monotonic() + secs
    while True:
        if probe():
            return True
        run = "the run (pid %s)" % pid if pid else "the run"
        if not alive():
            if probe():
                return True
            why = "%s ended while waiting for %s" % (run, what)
            break
        if time.monotonic() >= end:
            why = "gave up after %g s waiting for %s (%s is still running)" % (secs, what, run)
            break
        time.sleep(0.1)
    state = "exists" if os.path.exists(db) else "does not exist"
    sys.stderr.write("wait: %s; the store %s %s\n" % (why, db, state))
    return False

ok = not errfile or wait("its progress line in " + errfile, float(text_s), said)
ok = ok and wait("%s row(s) of %s where %s of a running run" % (n, table, where), float(rows_s),
                 rows)
sys.exit(0 if ok else 1)
PY
}

# wait_running_rows DB N TABLE [WHERE [PID]]: waits (up to 60 s) until DB
# holds N rows at least of TABLE [WHERE] of a running run (running_rows);
# returns 1, saying why, when they never came or the run PID ended first.
wait_running_rows() {
  _wait_db "${5:-}" "" 0 "$1" "$2" "$3" "${4:-1}" 60
}

# wait_mid_decode ERRFILE DB N [PID]: waits (up to 30 s, then 60 s) until the
# run writing ERRFILE printed its progress line and DB holds N output tokens
# of a running run, so that a signal sent next lands mid-decode however slow
# the build. Returns 1, saying why, when either never came or the run PID
# ended first (at once, not after the caps): the caller fails with that (a
# slow start or a dead run is said as one, not as a confusing failure
# further on).
wait_mid_decode() {
  _wait_db "${4:-}" "$1" 30 "$2" "$3" tokens "t.is_input = 0" 60
}

# wait_catches PID SIGNUM: waits (up to ~60 s) until process PID has a
# handler installed for signal SIGNUM (its SigCgt mask in /proc), so that a
# signal sent next is handled, not fatal, however slow the build starts
# (a sanitizer build can take a second to reach main). Fails when PID ends.
wait_catches() {
  local mask
  for _ in $(seq 1 1200); do
    mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
    [ -n "$mask" ] || return 1
    (( (16#$mask >> ($2 - 1)) & 1 )) && return 0
    sleep 0.05
  done
  return 1
}

# make_old_schema_dbs SRC DIR: DIR/v1.db and DIR/v2.db, copies of the
# wattlens database SRC without the columns the migrations after schema 1
# and 2 added, with that user_version (for the old-schema tests)
make_old_schema_dbs() {
  mkdir -p "$2" && python3 - "$1" "$2" <<'PY'
import shutil, sqlite3, sys
src, out = sys.argv[1:]
drops = {2: ["runs.writer_start"], 1: ["runs.writer_start", "runs.n_seq", "tokens.n_seq"]}
for v, cols in drops.items():
    path = "%s/v%d.db" % (out, v)
    shutil.copy(src, path)
    c = sqlite3.connect(path)
    for tc in cols:
        t, col = tc.split(".")
        c.execute("ALTER TABLE %s DROP COLUMN %s" % (t, col))
    c.execute("PRAGMA user_version = %d" % v)
    c.commit()
    c.close()  # in WAL mode, as written: the last close removes -wal and -shm
PY
}
