#!/usr/bin/env bash
# common.sh gives every integration test the same environment wherever it
# runs (ctest, CI's .ci/run, a developer's shell), whatever the caller's:
# each case runs a small script that sources common.sh under a hostile
# environment and checks what that script then sees or does.
# - TMPDIR that cannot hold a directory: FAIL and exit 1 before anything is
#   written (not "$tmp/x" turned into "/x").
# - LC_ALL naming a locale that is not installed: the shells the test
#   starts print no setlocale warning on stderr.
# - standard input closed: it is /dev/null, and script(1) runs its command.
# - signals ignored on entry (nohup, a background job): the script is run
#   again with every signal at its default, with its arguments.
# - the caller's WATTLENS_* and WL_BENCH_* settings (WATTLENS_LOG=debug, a
#   host's sensors) are gone: the sensors point at nothing under $tmp, runs
#   go to $tmp/unused.db, and wattlens prints nothing of them.
# - stand-ins for real tools (need_stubs) under a TMPDIR mounted noexec, or
#   not executable: FAIL and exit before anything runs, not the real tool
#   found through PATH instead.
# - every test, the unit tests too (no common.sh): ctest gives each
#   SHELL=/bin/sh and every WATTLENS_* variable the sources read, empty
#   (CMakeLists.txt), whatever the caller's are.
set -u
. "$(dirname "$0")/common.sh"

# The probes source a copy of common.sh in a directory anyone can read, so
# that one can run as nobody (below) wherever the checkout is.
it="$tmp/it"
mkdir "$it" && cp "$WL_IT_DIR"/common.sh "$it/" && chmod 755 "$tmp" "$it"
# probe BODY: writes $it/p.sh, which sources common.sh and then runs BODY
probe() { printf '. %q\n%s\n' "$it/common.sh" "$1" >"$it/p.sh"; chmod 644 "$it/p.sh"; }

# --- mktemp -d fails -------------------------------------------------------------------------
# (as nobody when root: were the check missing, root would write into /)
as_nobody=()
[ "$(id -u)" = 0 ] && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null \
  && as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
probe 'echo "sourced: tmp=$tmp"'
"${as_nobody[@]}" env TMPDIR="$tmp/none" bash "$it/p.sh" >"$tmp/out" 2>&1; rc=$?
if [ $rc = 1 ] && grep -qx "FAIL: mktemp -d: no temporary directory (TMPDIR=$tmp/none)" "$tmp/out" \
  && ! grep -q "^sourced" "$tmp/out"; then
  ok "TMPDIR missing: FAIL, exit 1, before the script's first line"
else
  bad "TMPDIR missing: exit $rc: $(cat "$tmp/out")"
fi

# --- a locale that is not installed ---------------------------------------------------------
probe 'bash -c true 2>"$tmp/child.err"; echo "child stderr: $(cat "$tmp/child.err")"'
env LC_ALL=xx_XX.UTF-8 LANG=xx_XX.UTF-8 bash "$it/p.sh" >"$tmp/out" 2>/dev/null
grep -qx "child stderr: " "$tmp/out" && ok "LC_ALL not installed: a child bash warns about nothing" \
  || bad "LC_ALL not installed: $(cat "$tmp/out")"

# --- standard input closed ---------------------------------------------------------------------
probe 'echo "stdin: $(readlink /proc/self/fd/0)"
script -qec "echo from-script" /dev/null >"$tmp/s.out" 2>&1; echo "script: $(tr -d "\r" <"$tmp/s.out")"'
bash "$it/p.sh" >"$tmp/out" 2>&1 0<&-
if grep -qx "stdin: /dev/null" "$tmp/out" && grep -qx "script: from-script" "$tmp/out"; then
  ok "stdin closed: it is /dev/null, and script(1) runs its command"
else
  bad "stdin closed: $(cat "$tmp/out")"
fi

# --- signals ignored on entry -------------------------------------------------------------------
# (SIGQUIT aside: a bash running a script ignores it itself; and signals
# 32-33, the C library's, which a caller may leave ignored and none resets)
probe 'ign=$(sed -n "s/^SigIgn:[[:space:]]*//p" /proc/$$/status); echo "ignored: $(( 16#$ign & 0x7FFFFFFB ))"
echo "args: $#:$1:$2"
echo "guard: ${WL_IT_SIGNALS_DEFAULT-unset}"'
bash -c 'trap "" INT HUP QUIT TERM PIPE; exec bash "$@"' sh "$it/p.sh" a 'b c' >"$tmp/out" 2>&1
if grep -qx "ignored: 0" "$tmp/out" && grep -qx "args: 2:a:b c" "$tmp/out" \
  && grep -qx "guard: unset" "$tmp/out"; then
  ok "signals ignored on entry: run again with none ignored, same arguments"
else
  bad "signals ignored on entry: $(cat "$tmp/out")"
fi

# --- the caller's WATTLENS_* settings and the host's sensors ------------------------------------
# (a powercap zone whose energy_uj cannot be read: with it measure warns)
mkdir -p "$tmp/hostsys/class/powercap/intel-rapl:0/energy_uj"
echo package-0 >"$tmp/hostsys/class/powercap/intel-rapl:0/name"
probe 'env | grep -E "^(WATTLENS_|WL_BENCH_)" | sed "s|$tmp|TMP|" | sort
"$WATTLENS" measure --no-store -- true 2>&1 >/dev/null; echo "measure: rc $?"'
env WATTLENS_LOG=debug WATTLENS_SYSFS_ROOT="$tmp/hostsys" WATTLENS_MODEL_IDLE_W=7 WATTLENS_FUTURE=1 \
  WATTLENS_DB="$tmp/users.db" WL_BENCH_REPS=9 bash "$it/p.sh" >"$tmp/out" 2>&1
printf '%s\n' WATTLENS_DB=TMP/unused.db WATTLENS_DEV_ROOT=TMP/dev WATTLENS_NVML_LIB=TMP/no-libnvidia-ml.so.1 \
  WATTLENS_POWERMETRICS=TMP/no-powermetrics WATTLENS_SYSFS_ROOT=TMP/sys "measure: rc 0" >"$tmp/want"
diff "$tmp/want" "$tmp/out" >"$tmp/diff" && ok "the caller's WATTLENS_*, WL_BENCH_* and sensors reach no test" \
  || bad "the caller's WATTLENS_* settings: $(cat "$tmp/diff")"

# --- stand-ins that PATH does not find ------------------------------------------------------------
# (an id stand-in that says 4242; the real one says 0 here as root)
probe 'mkdir "$tmp/bin" && printf "#!/bin/sh\necho 4242\n" >"$tmp/bin/id" && chmod "$1" "$tmp/bin/id"
need_stubs "$tmp/bin" id
echo "ran: $(PATH="$tmp/bin:$PATH" id -u)"'
bash "$it/p.sh" 644 >"$tmp/out" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "^FAIL: PATH=.* finds .* for id, not the stand-in: nothing run" "$tmp/out" && ! grep -q "^ran" "$tmp/out" \
  && ok "a stand-in that is not executable: FAIL before anything runs" || bad "stand-in not executable: exit $rc: $(cat "$tmp/out")"
bash "$it/p.sh" 755 >"$tmp/out" 2>&1; rc=$?
[ $rc = 0 ] && grep -qx "ran: 4242" "$tmp/out" && ok "an executable stand-in: found" || bad "executable stand-in: exit $rc: $(cat "$tmp/out")"
# a TMPDIR mounted noexec, in a mount namespace of its own
if [ "$(id -u)" = 0 ]; then ns=(unshare -m); else ns=(unshare -rm); fi
mkdir "$tmp/nx"
if "${ns[@]}" sh -c 'mount -t tmpfs -o noexec none "$1"' sh "$tmp/nx" 2>/dev/null; then
  "${ns[@]}" sh -c 'mount -t tmpfs -o noexec none "$1" && TMPDIR=$1 exec bash "$2" 755' sh "$tmp/nx" "$it/p.sh" \
    >"$tmp/out" 2>&1; rc=$?
  [ $rc = 1 ] && grep -q "^FAIL: cannot run programs written into $tmp/nx/.* (TMPDIR=$tmp/nx mounted noexec?)" "$tmp/out" \
    && ! grep -q "^ran" "$tmp/out" && ok "stand-ins under a noexec TMPDIR: FAIL before anything runs" \
    || bad "noexec TMPDIR: exit $rc: $(cat "$tmp/out")"
else
  echo "SKIP: cannot mount a noexec tmpfs in a mount namespace (noexec TMPDIR not checked)"
fi

# --- every test's environment, from CMakeLists.txt ---------------------------------------------
if [ -n "${WL_BINARY_DIR:-}" ] && [ -n "${WL_SOURCE_DIR:-}" ] && command -v ctest >/dev/null; then
  (cd "$WL_BINARY_DIR" && ctest --show-only=json-v1) >"$tmp/tests.json" 2>"$tmp/err"
  # every WATTLENS_* variable the sources read (a quoted name: getenv's, or a helper's argument)
  read_vars=$(grep -rhoE '"WATTLENS_[A-Z0-9_]+"' "$WL_SOURCE_DIR/src" "$WL_SOURCE_DIR/cli" | tr -d '"' | sort -u)
  # shellcheck disable=SC2086
  python3 - "$tmp/tests.json" $read_vars 2>>"$tmp/err" <<'PY'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
assert len(tests) > 10, [t["name"] for t in tests]
assert len(sys.argv) > 5, sys.argv[2:]
for t in tests:
    env = next((p["value"] for p in t.get("properties", []) if p["name"] == "ENVIRONMENT"), [])
    assert "SHELL=/bin/sh" in env, (t["name"], env)
    for v in sys.argv[2:]:
        assert v + "=" in env, (t["name"], v, env)
PY
  if [ $? = 0 ]; then
    ok "every test gets SHELL=/bin/sh and the $(echo $read_vars | wc -w) WATTLENS_* variables read, empty"
  else
    bad "the tests' environment: $(cat "$tmp/err")"
  fi
else
  echo "SKIP: no WL_BINARY_DIR, WL_SOURCE_DIR or ctest (the tests' environment from CMakeLists.txt is not checked)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
