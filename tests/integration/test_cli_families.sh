#!/usr/bin/env bash
# Model families and batching through the CLI:
# - `model synth --arch A` writes every family (qwen2, phi3, gemma, gemma2,
#   stablelm) and `model info` reads it back as that architecture;
# - each family runs `generate` (greedy and sampled, Q8_0 and F32 weights, a
#   context past gemma2's sliding window) without NaN/Inf: generate fails
#   loudly on a non-finite logit, so exit status 0 is the check;
# - `generate --batch N`: greedy, each sequence's text equals the text the
#   same prompt gives alone; usage errors for bad --batch;
# - `run --depth deep` on each family stores its components (shared names
#   and its own: qkv/gate_up, post-norms) and ops (softcap, norm_mean), with
#   every stored number finite;
# - `bench --batch N` reports whole-batch figures.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"

for a in qwen2 phi3 gemma gemma2 stablelm; do
  for t in f32 q8_0; do
    f=$tmp/$a-$t.gguf
    if ! "$W" model synth --arch "$a" --layers 2 --dim 64 --ffn 128 --heads 4 --kv-heads 2 \
         --context 64 --type "$t" -o "$f" >/dev/null 2>"$tmp/err"; then
      bad "synth $a $t: $(cat "$tmp/err")"; continue
    fi
    if "$W" model info "$f" 2>/dev/null | grep -q "architecture *$a\$"; then ok "info reads $a"; else bad "info does not say $a"; fi
    if "$W" generate -m "$f" -p "hello" -n 60 --temp 0 -t 2 >"$tmp/out" 2>"$tmp/err"; then
      ok "$a $t greedy generate (60 tokens, past the window)"
    else
      bad "$a $t generate: $(tail -1 "$tmp/err")"
    fi
    if "$W" generate -m "$f" -p "abc" -n 20 --temp 0.9 --seed 3 >/dev/null 2>"$tmp/err"; then
      ok "$a $t sampled generate"
    else
      bad "$a $t sampled generate: $(tail -1 "$tmp/err")"
    fi
  done
  # batch: each sequence equals its prompt alone (greedy)
  f=$tmp/$a-q8_0.gguf
  "$W" generate -m "$f" --batch 3 -p "hello" -p "a b c" -n 12 --temp 0 >"$tmp/batch" 2>"$tmp/err" || bad "$a batch: $(tail -1 "$tmp/err")"
  same=1
  i=0
  for p in "hello" "a b c" "hello"; do
    "$W" generate -m "$f" -p "$p" -n 12 --temp 0 >"$tmp/alone" 2>/dev/null
    awk -v s="--- sequence $i " 'index($0, s) == 1 {on = 1; next} /^--- sequence / {on = 0} on' "$tmp/batch" >"$tmp/part"
    # the batch prints a newline after each text
    printf '\n' >>"$tmp/alone"
    cmp -s "$tmp/part" "$tmp/alone" || same=0
    i=$((i + 1))
  done
  if [ $same = 1 ]; then ok "$a: --batch 3 texts equal the prompts alone"; else bad "$a: batch texts differ from alone"; fi
  if grep -q "tokens/s for the batch" "$tmp/err"; then ok "$a: whole-batch throughput on stderr"; else bad "$a: no batch throughput"; fi
done

# --- run --depth deep: stored components and ops per family -------------------------
db=$tmp/runs.db
for a in qwen2 phi3 gemma gemma2 stablelm; do
  f=$tmp/$a-q8_0.gguf
  if ! "$W" run -m "$f" -p "hello" -n 6 --temp 0 --depth deep --activations --baseline 0 --settle 0 \
       --db "$db" --json >"$tmp/run.json" 2>"$tmp/err"; then
    bad "$a run --depth deep: $(tail -1 "$tmp/err")"; continue
  fi
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/run.json")
  "$W" export "$id" --format json --db "$db" >"$tmp/export.json" 2>"$tmp/err" || { bad "$a export"; continue; }
  if python3 - "$tmp/export.json" "$a" <<'PY'; then ok "$a: run --depth deep stores its components and ops, all finite"; else bad "$a: stored run (see above)"; fi
import json, math, sys
run = json.load(open(sys.argv[1]))["run"]
fam = sys.argv[2]
def finite(x):
    if isinstance(x, float):
        assert math.isfinite(x), "non-finite value"
    elif isinstance(x, dict):
        for v in x.values():
            finite(v)
    elif isinstance(x, list):
        for v in x:
            finite(v)
finite(run)
toks = [t for t in run["tokens"] if t.get("layers")]
assert toks, "no token has layers"
comps = {c["name"]: c for c in toks[-1]["layers"][0]["components"]}
ops = {(c["name"], o["name"]) for c in comps.values() for o in c.get("ops", [])}
shared = ["attn_norm", "rope", "attention", "o", "ffn_norm", "activation", "down"]
own = {"qwen2": ["q", "k", "v", "gate", "up"], "phi3": ["qkv", "gate_up"],
       "gemma": ["q", "k", "v", "gate", "up"],
       "gemma2": ["q", "k", "v", "gate", "up", "attn_post_norm", "ffn_post_norm"],
       "stablelm": ["q", "k", "v", "gate", "up"]}[fam]
for n in shared + own:
    assert n in comps, (fam, n, sorted(comps))
for o in [("attention", "qk"), ("attention", "softmax"), ("attention", "av"), ("activation", "gate_x_up")]:
    assert o in ops, (fam, o)
if fam == "gemma2":
    assert ("attention", "softcap") in ops, "softcap op"
if fam == "stablelm":
    assert ("attn_norm", "norm_mean") in ops, "norm_mean op"
PY
done

# --- usage errors ----------------------------------------------------------------
"$W" generate -m "$tmp/qwen2-f32.gguf" --batch 0 >/dev/null 2>&1; rc=$?
if [ $rc = 2 ]; then ok "--batch 0 is a usage error"; else bad "--batch 0 (rc $rc)"; fi
"$W" generate -m "$tmp/qwen2-f32.gguf" --batch 1 -p a -p b >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "batch" "$tmp/err"; then ok "more prompts than --batch is a usage error"; else bad "2 prompts, batch 1 (rc $rc)"; fi
"$W" model synth --arch nope -o "$tmp/x.gguf" >/dev/null 2>&1; rc=$?
if [ $rc = 2 ]; then ok "unknown --arch is a usage error"; else bad "unknown --arch (rc $rc)"; fi

# --- bench --batch ------------------------------------------------------------------
if "$W" bench -m "$tmp/gemma2-q8_0.gguf" -p 8 -n 4 -r 1 --batch 4 -o json >"$tmp/bench" 2>"$tmp/err"; then
  if [ "$(grep -c '"n_seq": 4' "$tmp/bench")" = 2 ] && grep -q '"n_gen": 4' "$tmp/bench"; then
    ok "bench --batch 4 runs pp and tg over 4 sequences"
  else
    bad "bench --batch output: $(cat "$tmp/bench")"
  fi
else
  bad "bench --batch: $(tail -1 "$tmp/err")"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
