#!/usr/bin/env bash
# What the benchmarks print, on settings small enough for a test (none of
# them is run at its real size, and no figure is checked: the machine is
# shared and noisy; only what a figure means, and how it is labelled):
# - bench_profile (stories260K only, one repetition, no wall-clock pass)
#   gives CPU time per decode step, with the one-token generation
#   (tokenizing, prefill, first token) taken off, for all six depths;
# - `wattlens bench`'s md table adds llama-bench's conditional columns
#   n_ubatch (width 8) and type_k / type_v (width 6), after threads, when
#   -ub and -ctk are not the defaults, and only then; every '|' lines up;
# - bench_kernels -l lists the shapes without measuring; the l2 shape's
#   matrix fits in 512 KiB at every type (it was 256 rows at every type:
#   2 MiB at F32, 1 MiB at F16 and BF16, more than a 1 MiB L2 holds); its
#   table prints the bandwidth read before and after each block, and each
#   ratio is over the higher of the two;
# - bench_edges (-S 1: a quarter of its weights; one round): each read is
#   the best of 3 passes per read variant, as its header says (it took 1);
#   the cost of an edge is over the n - 1 edges of n products (it divided
#   by n), and the table says how many; the header names the CPUs the core
#   probe reads (one CPU: no distance), and a huge-page share that cannot
#   be read (no /proc) prints "unknown", not "-100 %";
# - scripts/bench.sh runs every bench even when one fails (it stopped at the
#   first), names the failures at the end and exits 1; with no bench at all
#   it fails too;
# - a bench that measured nothing exits non-zero: bench_engine with a typo
#   in WL_BENCH_TYPES (exit 2, before measuring) or no model (exit 1),
#   bench_batch with a bad WL_BENCH_TYPE (exit 2), bench_tokenizer with no
#   vocabulary at all (exit 1), bench_profile with no model or no temporary
#   directory under TMPDIR;
# - bench_profile, bench_store and bench_sampler make their temporary
#   directory under TMPDIR (bench_sampler's was always /tmp), and say so
#   when they cannot;
# - the 1.1B-shaped model is generated without a shell: a model cache path
#   with spaces, quotes, $( ) and ; reaches `wattlens model synth` as one
#   argument (a stand-in CLI, WL_BENCH_CLI, records its arguments and
#   makes a small model instead of 1 GB), under its final name (model
#   synth writes it atomically), which says what it is made from; a cached
#   one that is damaged is made again;
# Skips (and says so) what the build or the test data lacks.
set -u
B=${WL_BINARY_DIR:?}
T=${WL_TESTDATA:?}
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"

# --- bench_profile: CPU per decode step, not per generated token -------------------------
if [ ! -x "$B/bench_profile" ]; then
  echo "SKIP: bench_profile absent (not built)"
elif have_data "$T/models/stories260K.gguf" "bench_profile"; then
  WL_BENCH_BIG=0 WL_BENCH_WALL=0 WL_BENCH_REPS=1 timeout 120 "$B/bench_profile" >"$tmp/prof" 2>"$tmp/err"
  rc=$?
  # the table's six rows, one per depth, each with engine us/step (a number,
  # signed, or "-"); on a noisy machine only one need be positive
  depths='(no recorder|off|module|deep|deep\+activations|deep, empty hook)'
  all=$(grep -cE "^  $depths +(-?[0-9]+\.[0-9]+|-) " "$tmp/prof")
  rows=$(grep -cE "^  $depths +[0-9]+\.[0-9] " "$tmp/prof")
  if [ $rc = 0 ] && grep -q "CPU time per decode step" "$tmp/prof" \
    && grep -qF "(cpu(128 tokens) - cpu(1 token)) / 127 decode steps" "$tmp/prof" \
    && grep -q "engine us/step .* process us/step" "$tmp/prof" && [ "$all" = 6 ] && [ "$rows" -ge 1 ]; then
    ok "bench_profile: CPU per decode step, the one-token generation taken off ($rows of 6 rows positive)"
  else
    bad "bench_profile (rc $rc): $(cat "$tmp/prof" "$tmp/err")"
  fi
fi

# --- wattlens bench -o md: llama-bench's conditional columns ------------------------------
# (markdown_printer::print_header in tools/llama-bench/llama-bench.cpp)
M="$T/models/stories260K.gguf"
md_table() { # NAME WANT_HEADER WANT_RULE ARGS...: the table's header, rule and alignment
  local name=$1 head=$2 rule=$3
  shift 3
  "$W" bench -m "$M" -p 8 -n 2 -r 1 -t 1 --no-warmup "$@" >"$tmp/b.md" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && sed -n 1p "$tmp/b.md" | grep -qF -- "$head" && sed -n 2p "$tmp/b.md" | grep -qF -- "$rule" \
    && python3 - "$tmp/b.md" <<'PY'; then ok "bench md $name"; else bad "bench md $name (rc $rc): $(cat "$tmp/b.md" "$tmp/err")"; fi
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 4, lines
bars = [[len(l[:i]) for i, c in enumerate(l) if c == "|"] for l in lines]  # "±" is one column
assert all(b == bars[0] for b in bars), bars
PY
}
if have_data "$M" "bench md columns"; then
  md_table "default: no n_ubatch, type_k, type_v" \
    "| threads |            test |                  t/s |" \
    "| ------: | --------------: | -------------------: |"
  md_table "-ub 4 -ctk f32: n_ubatch, type_k, type_v" \
    "| threads | n_ubatch | type_k | type_v |            test |                  t/s |" \
    "| ------: | -------: | -----: | -----: | --------------: | -------------------: |" -ub 4 -ctk f32
  if grep -qE '^\|.*\|       1 \|        4 \|    f32 \|    f32 \|             pp8 \|' "$tmp/b.md"; then
    ok "bench md -ub 4 -ctk f32: the row has 4, f32, f32"
  else
    bad "bench md -ub 4 -ctk f32 row: $(cat "$tmp/b.md")"
  fi
  md_table "-ub 4 only: n_ubatch" \
    "| threads | n_ubatch |            test |" "| ------: | -------: | --------------: |" -ub 4
  md_table "-ub 64 (the default): no n_ubatch" \
    "| threads |            test |" "| ------: | --------------: |" -ub 64
fi

# --- bench_kernels -l: the l2 shape fits in 512 KiB at every type ------------------------
if [ -x "$B/bench_kernels" ]; then
  timeout 20 "$B/bench_kernels" -l -s l2 >"$tmp/shapes" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && [ ! -s "$tmp/err" ] && awk '
      NR == 1 { next }
      $2 == "l2" { n++; if ($4 + 0 > 512 || $4 + 0 < 256) bad = 1 }
      END { exit !(n == 7 && !bad) }' "$tmp/shapes"; then
    ok "bench_kernels -l -s l2: 7 types, each matrix 256-512 KiB"
  else
    bad "bench_kernels -l -s l2 (rc $rc): $(cat "$tmp/shapes" "$tmp/err")"
  fi
  timeout 20 "$B/bench_kernels" -l -t f32 -s attn,out >"$tmp/shapes" 2>"$tmp/err"
  if [ "$(sed 1d "$tmp/shapes")" = "$(printf '%s\n' 'F32    attn 2048x2048      16384.0' \
    'F32    out 32000x2048     256000.0')" ]; then
    ok "bench_kernels -l: the layer shapes as they were"
  else
    bad "bench_kernels -l -t f32 -s attn,out: $(cat "$tmp/shapes" "$tmp/err")"
  fi
  # a small table (one l2 block, two paths, one thread): the bandwidth is
  # read again around each block, both readings are printed, and each
  # ratio is GB/s over the higher of the two (it was over one reading taken
  # before a table that runs for minutes)
  timeout 120 "$B/bench_kernels" -t q8_0 -s l2 -m 0 -p scalar,avx2 -j 1 >"$tmp/kern" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && python3 - "$tmp/kern" <<'PY'; then
import sys
lines = open(sys.argv[1]).read().splitlines()
head = next(l for l in lines if l.startswith("type "))
cols = head.replace("cpu GB/s", "cpu_GB/s").replace("bw pre", "bw_pre").replace(
    "bw post", "bw_post").replace("cpu ratio", "cpu_ratio").split()
assert "bw_pre" in cols and "bw_post" in cols, head
assert any("read just before and just after" in l for l in lines if l.startswith("#"))
rows = [dict(zip(cols, l.split()[:1] + l.split()[1:2] + [" ".join(l.split()[2:4])] + l.split()[4:]))
        for l in lines if l.startswith("Q8_0")]
assert rows, "no rows"
for r in rows:
    bw = max(float(r["bw_pre"]), float(r["bw_post"]))
    want = 100 * float(r["GB/s"]) / bw
    got = float(r["ratio"].rstrip("%"))
    assert abs(got - want) <= 0.02 * want + 0.2, (r, want)
PY
    ok "bench_kernels: bandwidth read around each block; ratio over the higher reading"
  else
    bad "bench_kernels -t q8_0 -s l2 -m 0 (rc $rc): $(cat "$tmp/kern" "$tmp/err")"
  fi
else
  echo "SKIP: no bench_kernels (built with WL_BUILD_BENCH=OFF?)"
fi

# --- bench_edges: reads, edges, the core probe's CPUs, an unknown huge-page share ---------
if [ -x "$B/bench_edges" ]; then
  timeout 120 "$B/bench_edges" -S 1 -r 1 -v >"$tmp/edges" 2>"$tmp/err"; rc=$?
  # 22 x 2048 rows: 6 products of 8192 rows, 22 of 2048, 88 of 512, 176 of 256
  if [ $rc = 0 ] && python3 - "$tmp/edges" <<'PY'; then ok "bench_edges: best of 3 passes, n - 1 edges"; else bad "bench_edges (rc $rc): $(cat "$tmp/edges" "$tmp/err")"; fi
import os, re, sys
text = open(sys.argv[1]).read()
assert re.search(r"^round 0: .*\(best of 3 \+ 3 passes, [0-9]+ % on 2 MiB pages\)", text, re.M), "reads"
want = {"one product": 0, "8192 rows": 5, "2048 rows": 21, "512 rows": 87, "256 rows": 175,
        "2048 rows + gap": 21, "2048 rows + pool job": 21}
table = text.split("all rounds:")[1].split("\n")[2:2 + len(want)]
got = {}
for line in table:
    m = re.match(r"^  (.+?) +-?[0-9.]+ +-?[0-9.]+ +([0-9]+) +(-|-?[0-9.]+)$", line)
    assert m, line
    got[m.group(1)] = int(m.group(2))
    assert (m.group(3) == "-") == (m.group(2) == "0"), line
assert got == want, got
# (where this test may use one CPU only, as under taskset or a 1-CPU CI, so may the bench)
pair = r"one CPU allowed \(CPU [0-9]+\)" if len(os.sched_getaffinity(0)) == 1 else r"CPUs [0-9]+ and [0-9]+"
assert re.search(r"^# core probe: (" + pair + "|CPU affinity cannot be read)", text, re.M), "probe"
PY
  one=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
  if command -v taskset >/dev/null; then
    taskset -c "$one" timeout 120 "$B/bench_edges" -S 1 -r 1 -v >"$tmp/edges1" 2>"$tmp/err"
    if grep -qx "# core probe: one CPU allowed (CPU $one): no core distance" "$tmp/edges1" \
      && grep -q "^round 0: cores -1/-1 ns" "$tmp/edges1"; then
      ok "bench_edges on one CPU: the probe says it reads no distance"
    else
      bad "bench_edges on CPU $one: $(cat "$tmp/edges1" "$tmp/err")"
    fi
  else
    echo "SKIP: no taskset (bench_edges on one CPU)"
  fi
  # an empty /proc (a user and mount namespace): /proc/self/smaps cannot be read
  if unshare -rm true 2>/dev/null; then
    unshare -rm sh -c 'mount -t tmpfs none /proc && exec "$@"' sh \
      timeout 120 "$B/bench_edges" -S 1 -r 1 -v >"$tmp/edges2" 2>"$tmp/err"
    if grep -q "^round 0: .*(best of 3 + 3 passes, unknown on 2 MiB pages)" "$tmp/edges2"; then
      ok "bench_edges without /proc: the huge-page share is unknown"
    else
      bad "bench_edges without /proc: $(cat "$tmp/edges2" "$tmp/err")"
    fi
  else
    echo "SKIP: no user namespaces (bench_edges without /proc)"
  fi
else
  echo "SKIP: no bench_edges (built with WL_BUILD_BENCH=OFF?)"
fi

# --- the cached bench model: made once, checked every time -------------------------------
# The cache path reaches model synth as it is (no shell; missing parents
# made); model synth writes the model under its final name (it replaces it
# atomically: the bench adds no temporary file of its own, which an
# interrupted run left behind), a name that says the generator's version,
# the type and the vocabulary; the next run uses it as it is; a truncated or
# overwritten file does not load, and is made again, and said (it was
# trusted on its size alone, and a damaged one failed every run). A
# stand-in CLI (WL_BENCH_CLI) records its calls and makes a small real model
# instead of 1 GB.
if [ -x "$B/bench_batch" ]; then
  need_exec "$tmp" # the stand-in CLI below
  cache="$tmp/model cache 'q' \"d\" \$(touch $tmp/ran);x/sub/dir"
  fakecli="$tmp/fake wattlens"
  cat >"$fakecli" <<'SH'
#!/bin/sh
# records each call's arguments (one per line, then "--"); makes a small
# model where -o says
for a in "$@"; do printf '%s\n' "$a"; done >>"$ARGS_OUT"
echo -- >>"$ARGS_OUT"
while [ $# -gt 0 ]; do
  [ "$1" = -o ] && exec "$REAL_CLI" model synth --type q8_0 -o "$2" >/dev/null
  shift
done
exit 1
SH
  chmod +x "$fakecli"
  # cached_run: bench_batch on the cache, small; rc and the stand-in's calls
  cached_run() {
    : >"$tmp/args"
    ARGS_OUT="$tmp/args" REAL_CLI="$W" WL_BENCH_CLI="${cli:-$fakecli}" WL_BENCH_MODEL_CACHE="$cache" \
      WL_BENCH_TYPE=q8_0 WL_BENCH_GEN=2 WL_BENCH_REPS=1 timeout 60 "$B/bench_batch" >"$tmp/batch" 2>"$tmp/err"
    rc=$?
    synths=$(grep -cx synth "$tmp/args")
  }
  no_tmp_left() { ! ls -a "$cache" | grep -q '\.tmp'; }
  cached_run
  want=$(grep -A1 -x -- -o "$tmp/args" | sed -n 2p)
  if [ $rc = 0 ] && [ "$synths" = 1 ] && [ "$(sed -n 1,2p "$tmp/args" | tr '\n' ' ')" = "model synth " ] \
    && grep -qx -- "--arch" "$tmp/args" && case "$want" in "$cache"/llama-1.1b-shape-v[0-9]*-q8_0-[a-z]*.gguf) true ;; *) false ;; esac \
    && [ -f "$want" ] && [ "$(ls -A "$cache")" = "$(basename "$want")" ] && [ ! -e "$tmp/ran" ]; then
    ok "bench model: made in place through the cache path, no shell, nothing else left"
  else
    bad "bench model, first run (rc $rc): $(cat "$tmp/args" "$tmp/batch" "$tmp/err" 2>&1)"
  fi
  cached_run
  if [ $rc = 0 ] && [ "$synths" = 0 ] && ! grep -q "generating" "$tmp/err"; then
    ok "bench model: the next run uses the cached one"
  else
    bad "bench model, second run (rc $rc, $synths synth calls): $(cat "$tmp/err")"
  fi
  # damaged: cut short; overwritten in place (same size)
  for how in truncated overwritten; do
    case $how in
    truncated) truncate -s 4096 "$want" ;;
    overwritten) printf 'XXXX' | dd of="$want" conv=notrunc 2>/dev/null ;;
    esac
    cached_run
    if [ $rc = 0 ] && [ "$synths" = 1 ] && grep -qF "cached bench model $want is damaged: " "$tmp/err" \
      && no_tmp_left; then
      ok "bench model $how: said, made again"
    else
      bad "bench model $how (rc $rc, $synths synth calls): $(cat "$tmp/err")"
    fi
  done
  # a good cached model needs no CLI; a damaged one without a CLI fails, saying what to do
  cli="$tmp/no-such-cli" cached_run
  if [ $rc = 0 ]; then ok "bench model: a good cached one is used without a CLI"
  else bad "bench model without a CLI (rc $rc): $(cat "$tmp/err")"; fi
  truncate -s 4096 "$want"
  cli="$tmp/no-such-cli" cached_run
  if [ $rc = 1 ] && grep -q "is damaged" "$tmp/err" && grep -q "WL_BENCH_CLI" "$tmp/err" \
    && ! grep -qF "$want: $want" "$tmp/err"; then
    ok "bench model damaged, no CLI: exit 1, says what to do"
  else
    bad "bench model damaged, no CLI (rc $rc): $(cat "$tmp/err")"
  fi
else
  echo "SKIP: no bench_batch (the bench model cache)"
fi

# --- the temporary directory goes under TMPDIR --------------------------------------------
for b in bench_store bench_sampler; do
  if [ -x "$B/$b" ]; then
    args=()
    [ $b = bench_sampler ] && args=(0.05)
    TMPDIR="$tmp/no-such-dir" timeout 60 "$B/$b" "${args[@]}" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc = 1 ] && grep -qF "$b: cannot create a temporary directory $tmp/no-such-dir/wattlens-bench-" "$tmp/err"; then
      ok "$b: a TMPDIR it cannot use: said, exit 1"
    else
      bad "$b with TMPDIR=$tmp/no-such-dir (rc $rc): $(cat "$tmp/out" "$tmp/err")"
    fi
  else
    echo "SKIP: no $b (TMPDIR)"
  fi
done

# --- a bench that measured nothing, or found a mismatch, fails ----------------------------
# (they printed a line and exited 0, so `make bench` passed: a typo in
# WL_BENCH_TYPES, no model, no temporary directory)
if [ -x "$B/bench_engine" ]; then
  # the typo is found before any measuring (it measured the bandwidth, then nothing)
  WL_BENCH_TYPES=q4k timeout 60 "$B/bench_engine" >"$tmp/eng" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q "WL_BENCH_TYPES: 'q4k' is not one of q8_0, q4_k (in 'q4k')" "$tmp/err" \
    && grep -q "^usage: bench_engine" "$tmp/err" && [ ! -s "$tmp/eng" ]; then
    ok "bench_engine WL_BENCH_TYPES=q4k: exit 2 with the usage line, nothing measured"
  else
    bad "bench_engine WL_BENCH_TYPES=q4k (rc $rc): $(cat "$tmp/eng" "$tmp/err")"
  fi
  mkdir -p "$tmp/nocache"
  WL_BENCH_TYPES=q8_0 WL_BENCH_CLI="$tmp/no-such-cli" WL_BENCH_MODEL_CACHE="$tmp/nocache" \
    timeout 60 "$B/bench_engine" >"$tmp/eng" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -q "no model to measure" "$tmp/err" && grep -q "nothing measured" "$tmp/err" \
    && [ ! -s "$tmp/eng" ]; then
    ok "bench_engine without a model: exit 1"
  else
    bad "bench_engine without a model (rc $rc): $(cat "$tmp/eng" "$tmp/err")"
  fi
else
  echo "SKIP: no bench_engine (measured nothing)"
fi
if [ -x "$B/bench_batch" ]; then
  # a bad value is an error (exit 2, as bench_engine's WL_BENCH_TYPES), before
  # anything is made or measured (old: exit 1)
  WL_BENCH_TYPE=q4k WL_BENCH_CLI="$tmp/no-such-cli" WL_BENCH_MODEL_CACHE="$tmp/nocache" \
    timeout 60 "$B/bench_batch" >"$tmp/batch" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q "WL_BENCH_TYPE: 'q4k' is not one of q4_k, q8_0" "$tmp/err" && [ ! -s "$tmp/batch" ]; then
    ok "bench_batch WL_BENCH_TYPE=q4k: exit 2, nothing measured"
  else
    bad "bench_batch WL_BENCH_TYPE=q4k (rc $rc): $(cat "$tmp/batch" "$tmp/err")"
  fi
else
  echo "SKIP: no bench_batch (a bad WL_BENCH_TYPE)"
fi
if [ -x "$B/bench_tokenizer" ]; then
  # no vocabulary at all: nothing to measure, said, exit 1 (old: every
  # vocabulary "skipped" and exit 0)
  mkdir -p "$tmp/novocab"
  WL_BENCH_VOCAB_DIR="$tmp/novocab" timeout 60 "$B/bench_tokenizer" >"$tmp/tok" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -qF "bench_tokenizer: no vocabulary in $tmp/novocab" "$tmp/err" \
    && grep -q "nothing measured" "$tmp/err" && [ ! -s "$tmp/tok" ]; then
    ok "bench_tokenizer without a vocabulary: said, exit 1"
  else
    bad "bench_tokenizer without a vocabulary (rc $rc): $(head -5 "$tmp/tok") $(cat "$tmp/err")"
  fi
else
  echo "SKIP: no bench_tokenizer (no vocabulary)"
fi
if [ -x "$B/bench_profile" ]; then
  WL_BENCH_SMALL=0 WL_BENCH_CLI="$tmp/no-such-cli" WL_BENCH_MODEL_CACHE="$tmp/nocache" \
    timeout 60 "$B/bench_profile" >"$tmp/prof" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -q "none to measure" "$tmp/err"; then
    ok "bench_profile without the 1.1B model: exit 1"
  else
    bad "bench_profile without the 1.1B model (rc $rc): $(cat "$tmp/prof" "$tmp/err")"
  fi
  if have_data "$T/models/stories260K.gguf" "bench_profile TMPDIR"; then
    # the stores go under TMPDIR (it was /tmp, whatever TMPDIR said); one
    # that cannot be made is said and fails (it printed nothing and passed)
    TMPDIR="$tmp/no-such-dir" WL_BENCH_BIG=0 WL_BENCH_WALL=0 WL_BENCH_REPS=1 \
      timeout 120 "$B/bench_profile" >"$tmp/prof" 2>"$tmp/err"; rc=$?
    if [ $rc = 1 ] && grep -qF "cannot create a temporary directory $tmp/no-such-dir/wl-bench-profile-" "$tmp/err"; then
      ok "bench_profile: a TMPDIR it cannot use: said, exit 1"
    else
      bad "bench_profile with TMPDIR=$tmp/no-such-dir (rc $rc): $(cat "$tmp/prof" "$tmp/err")"
    fi
  fi
else
  echo "SKIP: no bench_profile (measured nothing)"
fi
# no benches at all (WL_BUILD_BENCH=OFF): make bench fails, saying so
mkdir -p "$tmp/nobench"
bash "${WL_SOURCE_DIR:-$(dirname "$0")/../..}/scripts/bench.sh" "$tmp/nobench" >"$tmp/all.out" 2>"$tmp/all.err"; rc=$?
if [ $rc = 1 ] && grep -q "no bench_\* programs in $tmp/nobench" "$tmp/all.err"; then
  ok "bench.sh with no benches: exit 1"
else
  bad "bench.sh with no benches (rc $rc): $(cat "$tmp/all.out" "$tmp/all.err")"
fi

# --- scripts/bench.sh: one failing bench does not hide the others ------------------------
S=${WL_SOURCE_DIR:-$(dirname "$0")/../..}/scripts/bench.sh
fake="$tmp/fakebuild"
mkdir -p "$fake/bench_dir"
need_exec "$fake"
printf '#!/bin/sh\necho a ran\nexit 3\n' >"$fake/bench_a"
printf '#!/bin/sh\necho b ran\n' >"$fake/bench_b"
printf '#!/bin/sh\necho c ran\nexit 1\n' >"$fake/bench_c"
chmod +x "$fake"/bench_?
bash "$S" "$fake" >"$tmp/all.out" 2>"$tmp/all.err"; rc=$?
if [ $rc = 1 ] && grep -qx "b ran" "$tmp/all.out" && grep -qx "c ran" "$tmp/all.out" \
  && grep -qx "== bench_a failed (exit 3)" "$tmp/all.out" \
  && grep -qx "== 2 bench(es) failed: bench_a (exit 3) bench_c (exit 1)" "$tmp/all.err" \
  && ! grep -q "bench_dir" "$tmp/all.out"; then
  ok "bench.sh runs every bench, names the failures at the end, exits 1"
else
  bad "bench.sh (rc $rc): $(cat "$tmp/all.out" "$tmp/all.err")"
fi
rm "$fake/bench_a" "$fake/bench_c"
bash "$S" "$fake" >"$tmp/all.out" 2>"$tmp/all.err"; rc=$?
if [ $rc = 0 ] && grep -qx "b ran" "$tmp/all.out" && [ ! -s "$tmp/all.err" ]; then
  ok "bench.sh: exit 0 when every bench succeeds"
else
  bad "bench.sh all ok (rc $rc): $(cat "$tmp/all.out" "$tmp/all.err")"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
