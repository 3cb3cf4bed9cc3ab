#!/usr/bin/env bash
# The benchmark binaries' command lines (none is run as a benchmark here):
# - -h / --help prints "usage: NAME ..." on stdout and exits 0 at once;
# - an argument a bench does not take, or a value it does not take, is an
#   error on stderr, exit 2, again without running it (each call is under a 20 s timeout: a bench that
#   started measuring instead would fail this test, not hang it);
# - -h names every environment variable the bench reads (from its source and
#   the shared helpers it calls) and has an "Exit status: 0; ..." paragraph.
# Skips (and says so) when the build has no benches (WL_BUILD_BENCH=OFF).
set -u
B=${WL_BINARY_DIR:?}
. "$(dirname "$0")/common.sh"

found=0
for b in "$B"/bench_*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  found=1
  name=$(basename "$b")
  for h in -h --help; do
    timeout 20 "$b" "$h" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc = 0 ] && head -1 "$tmp/out" | grep -q "^usage: $name" && [ ! -s "$tmp/err" ]; then
      ok "$name $h"
    else
      bad "$name $h: exit $rc, $(head -3 "$tmp/out" "$tmp/err")"
    fi
  done
  timeout 20 "$b" --no-such-option >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q "no-such-option" "$tmp/err" && grep -q "^usage: $name" "$tmp/err" \
    && [ ! -s "$tmp/out" ]; then
    ok "$name rejects an unknown option"
  else
    bad "$name --no-such-option: exit $rc, $(head -3 "$tmp/out" "$tmp/err")"
  fi
done
# -h names every environment variable the bench reads (its own getenv /
# env_int calls, and those of the shared helpers it calls: the model cache
# and the CLI of wl_bench_synth_1b, the CLI of wl_bench_cli_path, TMPDIR of
# wl_bench_mkdtemp) and says
# its exit status
S=${WL_SOURCE_DIR:-$(dirname "$0")/../..}
# (getenv("NAME"), and the shared wl_bench_env_int / wl_bench_env_switch,
# whose name comes after who and usage: env_int(who, usage, "NAME", ...))
env_names() {
  grep -oE '(getenv\(|env_[a-z]+\(("[a-z_]+"|[a-z_]+), *[a-z_]+, *)"[A-Z_][A-Z0-9_]*"' "$@" \
    | sed -E 's/.*"([A-Z_][A-Z0-9_]*)"$/\1/' | sort -u
}
support=$(env_names "$S/bench/support/bench_support.c" | tr '\n' ' ')
if [ "$support" = "TMPDIR WL_BENCH_CLI WL_BENCH_MODEL_CACHE " ]; then
  ok "bench_support reads TMPDIR, WL_BENCH_CLI and WL_BENCH_MODEL_CACHE (as this test maps them)"
else
  bad "bench_support reads '$support': update the helper-to-variable map in this test"
fi
for b in "$B"/bench_*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  name=$(basename "$b")
  src=$S/bench/$name.c
  [ -f "$src" ] || { bad "$name: no source $src"; continue; }
  want=$(env_names "$src")
  grep -q "wl_bench_synth_1b(" "$src" && want="$want WL_BENCH_MODEL_CACHE WL_BENCH_CLI"
  grep -q "wl_bench_cli_path(" "$src" && want="$want WL_BENCH_CLI"
  grep -q "wl_bench_mkdtemp(" "$src" && want="$want TMPDIR"
  timeout 20 "$b" -h >"$tmp/help" 2>/dev/null
  missing=
  for v in $want; do grep -qw -- "$v" "$tmp/help" || missing="$missing $v"; done
  if [ -z "$missing" ]; then ok "$name -h names the variables it reads"; else bad "$name -h lacks:$missing"; fi
  if grep -q "^Exit status: 0" "$tmp/help"; then ok "$name -h says its exit status"; else bad "$name -h: no 'Exit status: 0' paragraph"; fi
done
# a value a bench does not take is an error too, found before any measuring
# (bench_kernels used to read 512 MiB for bandwidth, then print an empty table)
bad_value() {
  local b=$1 pat=$2
  shift 2
  # benches are built all or none: one missing among built ones (renamed?)
  # would silently drop its checks
  if [ ! -x "$B/$b" ]; then
    [ $found = 1 ] && bad "$b: not built, while other benches are"
    return 0
  fi
  timeout 20 "$B/$b" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -qF -- "$pat" "$tmp/err" && grep -q "^usage: $b" "$tmp/err" && [ ! -s "$tmp/out" ]; then
    ok "$b $*: exit 2, nothing run"
  else
    bad "$b $*: exit $rc, $(head -3 "$tmp/out" "$tmp/err")"
  fi
}
bad_value bench_kernels "-t: 'bogus' is not one of f32, f16" -t bogus
bad_value bench_kernels "-t: '' is not one of" -t q8_0,,q4_k
bad_value bench_kernels "-p: 'bogus' is not one of scalar, avx2, avx512" -p bogus
bad_value bench_kernels "-s: 'bogus' is not one of attn, ffn, down, out, l2" -s bogus
bad_value bench_kernels "-j: '3' is not one of 1, 2" -j 3
bad_value bench_kernels "-j: '3' is not one of 1, 2 (in '1,3')" -j 1,3
bad_value bench_kernels "-n: ROWS" -n 0
bad_value bench_kernels "-m: MIB" -m abc
bad_value bench_edges "-t: not a weight type" -t bogus
bad_value bench_edges "-r: ROUNDS" -r 0
bad_value bench_edges "-g: GAP_US" -g x
bad_value bench_edges "-s: SPLIT_GBPS" -s -1
bad_value bench_edges "-S: SETS must be 1..16" -S 0
bad_value bench_edges "-S: SETS must be 1..16" -S 17
bad_value bench_attention "ROUNDS must be" 0
bad_value bench_sampler "SECONDS" 0
# The WL_BENCH_* variables too: a value a bench does not take is exit 2
# with the variable named, before anything runs (they were read with atoi
# and silently replaced or clamped, a switch other than "0" ran the 1.1B
# model, and WL_BENCH_REPS above 100 failed only after the model was
# made). WL_BENCH_SMALL=0 and a model CLI that fails (WL_BENCH_CLI=false,
# a cache under $tmp) keep a bench that does start cheap: it then fails
# with exit 1 about the model.
bad_env() {
  local b=$1 pat=$2
  shift 2
  [ -x "$B/$b" ] || { [ $found = 1 ] && bad "$b: not built, while other benches are"; return 0; }
  env WL_BENCH_SMALL=0 WL_BENCH_CLI=false WL_BENCH_MODEL_CACHE="$tmp/cache" "$@" \
    timeout 20 "$B/$b" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -qF -- "$pat" "$tmp/err" && grep -q "^usage: $b" "$tmp/err" && [ ! -s "$tmp/out" ]; then
    ok "$b $*: exit 2, nothing run"
  else
    bad "$b $*: exit $rc, $(head -3 "$tmp/out" "$tmp/err")"
  fi
}
bad_env bench_profile "WL_BENCH_BIG: 'off' is not one of 1, yes, true, 0, no, false" WL_BENCH_BIG=off
bad_env bench_profile "WL_BENCH_WALL: '00' is not one of" WL_BENCH_WALL=00 WL_BENCH_BIG=0
bad_env bench_profile "WL_BENCH_REPS: 'abc' is not an integer in 1..100" WL_BENCH_REPS=abc
bad_env bench_profile "WL_BENCH_THREADS: 'two' is not an integer in 1..256" WL_BENCH_THREADS=two
bad_env bench_batch "WL_BENCH_REPS: '200' is not an integer in 1..100" WL_BENCH_REPS=200
bad_env bench_batch "WL_BENCH_GEN: '8x' is not an integer" WL_BENCH_GEN=8x
bad_env bench_batch "WL_BENCH_THREADS: ' 2' is not an integer" "WL_BENCH_THREADS= 2"
bad_env bench_batch "WL_BENCH_TYPE: 'q4k' is not one of q4_k, q8_0" WL_BENCH_TYPE=q4k
bad_env bench_engine "WL_BENCH_SEGMENTS: '1000' is not an integer in 1..256" WL_BENCH_SEGMENTS=1000
bad_env bench_engine "WL_BENCH_SEG_TOKENS: '200' is not an integer in 1..128" WL_BENCH_SEG_TOKENS=200
bad_env bench_engine "WL_BENCH_ROUNDS: '80' is not an integer in 1..50" WL_BENCH_ROUNDS=80
bad_env bench_engine "WL_BENCH_REPS: '0' is not an integer in 1..100" WL_BENCH_REPS=0
# values they do take go on to the model (which the failing CLI cannot make:
# exit 1, no word about the variable): a switch spelled no / FALSE / Yes, a
# type in capitals
good_env() {
  local b=$1 var=$2 pat=$3
  shift 3
  [ -x "$B/$b" ] || return 0
  env WL_BENCH_SMALL=0 WL_BENCH_CLI=false WL_BENCH_MODEL_CACHE="$tmp/cache" "$@" \
    timeout 20 "$B/$b" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && ! grep -q "$var" "$tmp/err" && grep -qF -- "$pat" "$tmp/out" "$tmp/err"; then
    ok "$b $*: taken"
  else
    bad "$b $*: exit $rc, $(head -5 "$tmp/out" "$tmp/err")"
  fi
}
good_env bench_batch WL_BENCH_TYPE "q8_0" WL_BENCH_TYPE=Q8_0
good_env bench_profile WL_BENCH_BIG "nothing measured" WL_BENCH_BIG=no WL_BENCH_SMALL=FALSE
# (this one only shows that "Yes" is not refused: the code before the
# switches were checked took anything but "0" as on, and took it too)
good_env bench_profile WL_BENCH_BIG "1.1B-shaped model: none to measure" WL_BENCH_BIG=Yes
# a model cache path too long to hold is refused, not cut to another
# directory's name (which was then made and used)
if [ -x "$B/bench_batch" ]; then
  long=$tmp/$(printf 'c%.0s' $(seq 1100))
  WL_BENCH_CLI=false WL_BENCH_MODEL_CACHE="$long" timeout 20 "$B/bench_batch" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -q "the model cache path is too long" "$tmp/err" && [ -z "$(ls "$tmp" | grep '^ccc')" ]; then
    ok "bench_batch: a WL_BENCH_MODEL_CACHE too long: said, exit 1"
  else
    bad "bench_batch, WL_BENCH_MODEL_CACHE of 1100+ bytes (rc $rc): $(head -c 600 "$tmp/err")"
  fi
fi
if [ $found = 0 ]; then
  echo "SKIP: no bench_* binaries in $B (built with WL_BUILD_BENCH=OFF?)"
  exit 77
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
