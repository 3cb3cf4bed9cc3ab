#!/usr/bin/env bash
# ctest-labels: timing (interrupts a batched run mid-decode; see Makefile)
# `wattlens run --batch N` end to end:
# - on a synthetic model of each family (llama, qwen2, phi3, gemma, gemma2,
#   stablelm), `run --batch 3 --depth deep --activations` (one sequence
#   stopping early: its context is full) stores the batch
#   size, one output row per decode round holding its sequence count,
#   output tokens counted per sequence, the family's components and ops,
#   every number finite; each sequence's greedy text equals the text of its
#   prompt run alone; per-sequence energies (attributed) add up to the
#   prefill and decode phases;
# - `show ID` prints exactly the summary `run --batch` printed (batch line,
#   per-round energy, sequences table), from the store alone;
# - --json carries the batch fields; baseline and cost options apply;
# - depth off and module work too;
# - SIGINT during a batched decode stores the run as cancelled (exit 130);
# - bad input: --batch 0, --batch above the limit, more prompts than N.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
db=$tmp/runs.db
export XDG_CACHE_HOME=${WL_BINARY_DIR:-$tmp}/model-cache
q="--baseline 0 --settle 0 --db $db"

# --- bad input ------------------------------------------------------------------
"$W" run --batch 0 $q >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q -- "--batch" "$tmp/err"; then ok "--batch 0 is a usage error"; else bad "--batch 0 (rc $rc)"; fi
"$W" run --batch 257 $q >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q -- "--batch" "$tmp/err"; then ok "--batch 257 is a usage error"; else bad "--batch 257 (rc $rc)"; fi
"$W" run --batch 2 -p a -p b -p c $q >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "3 prompts (-p) for a batch of 2" "$tmp/err"; then ok "more prompts than --batch is a usage error"; else bad "3 prompts, batch 2 (rc $rc): $(cat "$tmp/err")"; fi
"$W" run -p a -p b $q >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "use --batch 2" "$tmp/err"; then ok "several -p without --batch is a usage error"; else bad "2 prompts, no --batch (rc $rc)"; fi
if "$W" run --help | grep -q -- "--batch N"; then ok "run --help documents --batch"; else bad "run --help lacks --batch"; fi

# --- every family: batch of 3 at depth deep ---------------------------------------
for a in llama qwen2 phi3 gemma gemma2 stablelm; do
  f=$tmp/$a.gguf
  if ! "$W" model synth --arch "$a" --layers 2 --dim 64 --ffn 128 --heads 4 --kv-heads 2 \
       --context 64 --type q8_0 -o "$f" >/dev/null 2>"$tmp/err"; then
    bad "synth $a: $(cat "$tmp/err")"; continue
  fi
  # -c 14: the longer prompt fills its context first, so later rounds run 2 sequences
  if ! "$W" run -m "$f" --batch 3 -p "hello" -p "a b c d e f" -n 10 -c 14 --temp 0 --depth deep \
       --activations $q --json >"$tmp/batch.json" 2>"$tmp/err"; then
    bad "$a run --batch 3: $(tail -1 "$tmp/err")"; continue
  fi
  for p in "hello" "a b c d e f"; do
    "$W" run -m "$f" -p "$p" -n 10 -c 14 --temp 0 --depth off $q --json >"$tmp/alone-${#p}.json" 2>"$tmp/err" ||
      bad "$a run alone: $(tail -1 "$tmp/err")"
  done
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/batch.json")
  "$W" export "$id" --format json --db "$db" >"$tmp/export.json" 2>"$tmp/err" || { bad "$a export"; continue; }
  if python3 - "$tmp/batch.json" "$tmp/export.json" "$a" "$tmp/alone-5.json" "$tmp/alone-11.json" <<'PY'; then
import json, math, sys
j = json.load(open(sys.argv[1]))
run = json.load(open(sys.argv[2]))["run"]
fam = sys.argv[3]
alone = [json.load(open(sys.argv[4]))["text"], json.load(open(sys.argv[5]))["text"]]
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
# greedy: each sequence's text is its prompt's text alone (sequence 2 reuses prompt 0)
seqs = j["sequences"]
assert [s["prompt"] for s in seqs] == ["hello", "a b c d e f", "hello"], seqs
for i, s in enumerate(seqs):
    assert s["text"] == alone[i % 2], (fam, i, s["text"], alone[i % 2])
# the batch size and per-sequence token counts
n_gen = [s["output_tokens"] for s in seqs]
assert n_gen[1] < n_gen[0], ("the longer prompt stops first (context full)", n_gen)
assert seqs[1]["stop_reason"] == "context full", seqs[1]
assert j["n_seq"] == 3 and run["n_seq"] == 3
s = j["summary"]
assert s["run"]["n_seq"] == 3 and s["batch"]["n_seq"] == 3
assert s["efficiency"]["output_tokens"] == sum(n_gen) == s["batch"]["output_tokens"], (n_gen, s["efficiency"])
assert s["efficiency"]["input_tokens"] == sum(x["prompt_tokens"] for x in seqs)
out = [t for t in run["tokens"] if not t["is_input"]]
assert len(out) == max(n_gen) == s["batch"]["rounds"], (len(out), n_gen)
for r, t in enumerate(out):
    assert t["n_seq"] == sum(1 for g in n_gen if g > r), (r, t["n_seq"], n_gen)
assert run["output_tokens"] == sum(n_gen)
# whole-batch throughput: every sequence's tokens over the decode phase,
# less round 0 (sampled from the prefill's logits, every sequence in it)
dec = [p for p in s["phases"] if p["phase"] == "decode"][0]
assert out[0]["n_seq"] == 3
tps = (sum(n_gen) - 3) / ((dec["dur_ms"] - out[0]["dur_ms"]) / 1000.0)
assert abs(s["efficiency"]["tokens_per_s"] - tps) <= 1e-6 * tps, (s["efficiency"], tps)
assert s["efficiency"]["decode_steps"] == len(out) - 1
assert s["efficiency"]["decode_tokens"] == sum(n_gen) - 3
# per-sequence energies: attributed, adding up to the phases
bs = s["batch"]["sequences"]
assert len(bs) == 3 and all(x["energy_method"] == "attributed" for x in bs)
pre = [p for p in s["phases"] if p["phase"] == "prefill"][0]["energy_j"]
assert abs(sum(x["prefill_energy_j"] for x in bs) - pre) <= 1e-6 * pre + 1e-12
assert abs(sum(x["decode_energy_j"] for x in bs) - dec["energy_j"]) <= 1e-6 * dec["energy_j"] + 1e-12
# per-sequence decode J/token: its rounds after round 0 (its share of round 0 left out)
for x in bs:
    want = (x["decode_energy_j"] - out[0]["energy_j"] / 3) / (x["output_tokens"] - 1)
    assert abs(x["decode_j_per_token"] - want) <= 1e-9 * abs(want) + 1e-15, (x, want)
# components and ops of every family, at depth deep
toks = [t for t in run["tokens"] if t.get("layers")]
assert len(toks) >= 2, "forward passes with layers"
comps = {c["name"]: c for c in toks[-1]["layers"][0]["components"]}
ops = {(c["name"], o["name"]) for c in comps.values() for o in c.get("ops", [])}
shared = ["attn_norm", "rope", "attention", "o", "ffn_norm", "activation", "down"]
own = {"llama": ["q", "k", "v", "gate", "up"], "qwen2": ["q", "k", "v", "gate", "up"],
       "phi3": ["qkv", "gate_up"], "gemma": ["q", "k", "v", "gate", "up"],
       "gemma2": ["q", "k", "v", "gate", "up", "attn_post_norm", "ffn_post_norm"],
       "stablelm": ["q", "k", "v", "gate", "up"]}[fam]
for n in shared + own:
    assert n in comps, (fam, n, sorted(comps))
for o in [("attention", "qk"), ("attention", "softmax"), ("attention", "av"), ("activation", "gate_x_up")]:
    assert o in ops, (fam, o)
sm = [o for o in comps["attention"]["ops"] if o["name"] == "softmax"][0]
assert sm["entropy"] is not None and sm["entropy"] >= 0, "attention statistics"
if fam == "gemma2":
    assert ("attention", "softcap") in ops, "softcap op"
if fam == "stablelm":
    assert ("attn_norm", "norm_mean") in ops, "norm_mean op"
PY
    ok "$a: run --batch 3 --depth deep: texts equal the prompts alone, batch stored, all finite"
  else
    bad "$a: run --batch 3 (see above)"
  fi
done

# --- show reproduces run's printed summary; depths; baseline and cost --------------
f=$tmp/llama.gguf
"$W" run -m "$f" --batch 2 -p "hello" -p "x" -n 8 --temp 0 --tags b2 --db "$db" \
  --baseline 0.2 --settle 0 --price-kwh 0.3 --currency EUR >"$tmp/run.txt" 2>"$tmp/err"; rc=$?
id=$(sed -n 's/^Run \([0-9a-f-]\{36\}\)  (.*/\1/p' "$tmp/run.txt" | head -1)
if [ $rc = 0 ] && [ -n "$id" ]; then ok "run --batch 2 (module) stored as $id"; else bad "run --batch 2 (rc $rc)"; cat "$tmp/err"; fi
sed -n "/^Run $id  (/,/^Run $id stored in/p" "$tmp/run.txt" | sed '$d' | sed '${/^$/d}' >"$tmp/sum_run.txt"
"$W" show "${id:0:8}" --db "$db" >"$tmp/show.txt" 2>"$tmp/err"; rc=$?
sed '/^Export everything:/d' "$tmp/show.txt" | sed '${/^$/d}' >"$tmp/sum_show.txt"
if [ $rc = 0 ] && [ -s "$tmp/sum_run.txt" ] && diff "$tmp/sum_run.txt" "$tmp/sum_show.txt" >"$tmp/diff"; then
  ok "show reproduces the batch run's summary ($(wc -l <"$tmp/sum_run.txt") lines)"
else
  bad "show differs from run --batch's summary"; head -20 "$tmp/diff"
fi
for s in "--- sequence 1 (" "batch      2 sequences generated together" "Per-round energy (" \
         "output tokens of 2 sequences; whole batch" "Sequences (batch of 2; energy attributed" \
         "EUR" "Layers (energy attributed by time share)"; do
  if grep -qF -- "$s" "$tmp/run.txt"; then ok "printed: '$s'"; else bad "not printed: '$s'"; fi
done
# the first round of tokens is sampled from the prefill's logits: not a decode round
if grep -qE "generated together \([0-9]+ decode rounds? after the first tokens\)" "$tmp/run.txt"; then
  ok "batch line counts the decode rounds after the first tokens"
else bad "batch line's rounds"; grep "generated together" "$tmp/run.txt"; fi
"$W" show "${id:0:8}" --json --db "$db" >"$tmp/show.json" 2>/dev/null
python3 - "$tmp/show.json" <<'PY' && ok "baseline, cost and batch fields in show --json" || bad "show --json of a batch run (see above)"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["batch"]["n_seq"] == 2 and len(s["batch"]["sequences"]) == 2
assert s["cost"]["currency"] == "EUR" and abs(s["cost"]["price_per_kwh"] - 0.3) < 1e-12
assert s["totals"]["baseline_power_w"] is not None
assert s["layers"], "module depth stores layers"
PY
"$W" run -m "$f" --batch 4 -n 4 --temp 0 --depth off $q --json >"$tmp/off.json" 2>"$tmp/err"; rc=$?
python3 - "$tmp/off.json" <<'PY' && [ $rc = 0 ] && ok "--depth off --batch 4 (one default prompt for all)" || bad "--depth off --batch 4 (rc $rc)"
import json, sys
j = json.load(open(sys.argv[1]))
s = j["summary"]
assert s["batch"]["n_seq"] == 4 and s["layers"] == []
assert len({q["text"] for q in j["sequences"]}) == 1, "greedy, same prompt: same text"
assert s["efficiency"]["output_tokens"] == 16
PY

# --- a batch above the 64 prompt tokens per forward pass asked for --------------------
# the context raises its batch to N (a decode round of every sequence is one
# pass): the stored batch_size is that one, and no prompt batch holds more
"$W" run -m "$f" --batch 70 -p "A" -n 2 -c 8 --temp 0 --depth module $q --json >"$tmp/b70.json" 2>"$tmp/err"; rc=$?
id70=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/b70.json" 2>/dev/null)
"$W" export "$id70" --format json --db "$db" >"$tmp/b70x.json" 2>>"$tmp/err"
python3 - "$tmp/b70x.json" <<'PY' && [ $rc = 0 ] && ok "--batch 70: batch_size is the context's 70, every prompt batch within it" || { bad "--batch 70 (rc $rc)"; tail -3 "$tmp/err"; }
import json, sys
run = json.load(open(sys.argv[1]))["run"]
assert run["n_seq"] == 70 and run["batch_size"] == 70, (run["n_seq"], run["batch_size"])
spans = [t["layers_last_token"] - t["layers_first_token"] + 1 for t in run["tokens"]
         if t["is_input"] and t.get("layers_first_token") is not None and t.get("layers")]
assert spans and max(spans) == 70 and all(n <= run["batch_size"] for n in spans), spans
PY

# --- SIGINT during a batched decode -------------------------------------------------
# (a background job of a script starts with SIGINT ignored, which run leaves ignored)
env --default-signal=INT "$W" run --batch 2 -n 2000 -c 2100 --temp 0 --baseline 0 --settle 0 --db "$db" >"$tmp/int.txt" 2>"$tmp/int.err" &
pid=$!
wait_mid_decode "$tmp/int.err" "$db" 2 "$pid" || { bad "SIGINT during --batch 2: the run never reached mid-decode"; cat "$tmp/int.err"; }
kill -INT $pid
wait $pid; rc=$?
if [ $rc = 130 ]; then ok "SIGINT during --batch 2: exit status 130"; else bad "SIGINT exit status $rc"; cat "$tmp/int.err"; fi
cid=$(sed -n 's/^Run \([0-9a-f-]\{36\}\)  (cancelled.*/\1/p' "$tmp/int.txt" | head -1)
"$W" show "$cid" --json --db "$db" >"$tmp/c.json" 2>/dev/null
python3 - "$tmp/c.json" <<'PY' && ok "cancelled batch run stored with its rounds and sequences" || bad "cancelled batch run content"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["run"]["status"] == "cancelled"
b = s["batch"]
assert b["n_seq"] == 2 and 0 < b["rounds"] < 2000
assert [q["stop"] for q in b["sequences"]] == ["cancelled", "cancelled"], b["sequences"]
assert s["efficiency"]["output_tokens"] == sum(q["output_tokens"] for q in b["sequences"])
PY

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
