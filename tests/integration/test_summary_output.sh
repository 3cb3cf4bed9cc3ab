#!/usr/bin/env bash
# What `run`/`show`, `runs` and `export` say a run's figures are, checked on
# real runs (stories260K, the CPU-time model on this sensorless setup):
# decode figures count decode steps (token 0 is sampled from the prefill's
# logits: n - 1 steps for n tokens, so tokens/s = 1 / mean ITL and a
# one-token run has none); the layer and component tables average per
# decode step and per input token, not per forward pass; the export says
# which tokens a token's layers cover; every CSV table has its header; and
# `runs` marks estimated energies.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
W=$WATTLENS
M="$WL_TESTDATA/models/stories260K.gguf"
db="$tmp/runs.db"
q=(-m "$M" --temp 0 --baseline 0 --settle 0 -t 1 --db "$db")
last_id() { "$W" runs --db "$db" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])'; }

# --- D1: one output token has no decode step; two have one --------------------------------
"$W" run "${q[@]}" -n 1 >"$tmp/n1.txt" 2>"$tmp/err" || bad "run -n 1: $(cat "$tmp/err")"
id1=$(last_id)
"$W" show --db "$db" "$id1" --json >"$tmp/n1.json"
python3 - "$tmp/n1.txt" "$tmp/n1.json" <<'PY' && ok "-n 1: no decode figures (n/a), 0 decode steps" || bad "-n 1 decode figures: $(grep -E '^  (decode|EDP per)' "$tmp/n1.txt")"
import json, re, sys
t = open(sys.argv[1]).read()
e = json.load(open(sys.argv[2]))["efficiency"]
assert e["output_tokens"] == 1 and e["decode_steps"] == 0 and e["decode_tokens"] == 0, e
for k in ("tokens_per_s", "decode_j_per_output_token", "output_input_energy_ratio", "edp_per_token_js"):
    assert e[k] is None, (k, e[k])
assert e["j_per_token"] is not None and e["tokens_per_j"] is not None, e  # over every output token
for label in ("decode tokens/s", "decode J/output token", "output/input energy ratio", "EDP per output token"):
    assert re.search(r"\n  " + re.escape(label) + r" +n/a\n", t), label
assert re.search(r"\n  decode steps +0 \(token 0 is sampled from the prefill's logits\)\n", t)
PY

"$W" run "${q[@]}" -n 12 >"$tmp/n12.txt" 2>"$tmp/err" || bad "run -n 12: $(cat "$tmp/err")"
id12=$(last_id)
"$W" export "$id12" --db "$db" -f json >"$tmp/n12.export.json" || bad "export -n 12"
python3 - "$tmp/n12.export.json" <<'PY' && ok "decode tokens/s = 1 / mean ITL, decode J per step over n - 1 tokens" || bad "decode figures of -n 12"
import json, sys
run = json.load(open(sys.argv[1]))["run"]
s = run["summary"]
e = s["efficiency"]
out = [t for t in run["tokens"] if not t["is_input"]]
assert len(out) == e["output_tokens"] == 12 and e["decode_steps"] == e["decode_tokens"] == 11, e
assert abs(e["tokens_per_s"] - 1000.0 / e["mean_itl_ms"]) <= 1e-6 * e["tokens_per_s"], e
dec = [p for p in s["phases"] if p["phase"] == "decode"][0]
steps_j = dec["energy_j"] - out[0]["energy_j"]
assert abs(e["decode_j_per_output_token"] - steps_j / 11) <= 1e-9 * steps_j, (e, steps_j)
ratio = e["decode_j_per_output_token"] / e["prefill_j_per_input_token"]
assert abs(e["output_input_energy_ratio"] - ratio) <= 1e-9 * ratio, e
edp = sum(t["edp_js"] for t in out[1:]) / 11
assert abs(e["edp_per_token_js"] - edp) <= 1e-9 * edp, (e["edp_per_token_js"], edp)
assert abs(e["j_per_token"] - s["totals"]["energy_j"] / 12) <= 1e-9 * e["j_per_token"], e
PY

# --- D2: per decode step and per input token, as the efficiency figures -------------------
P=$(python3 -c "print('Once upon a time there was a little girl. ' * 10)")
"$W" run "${q[@]}" -p "$P" -n 8 >"$tmp/long.txt" 2>"$tmp/err" || bad "run, long prompt: $(cat "$tmp/err")"
idl=$(last_id)
"$W" show --db "$db" "$idl" --json >"$tmp/long.json"
"$W" show --db "$db" "$idl" >"$tmp/long.show.txt"
cmp -s <(sed -n '/^Layers/,$p' "$tmp/long.txt" | sed '/^Run .* stored in/,$d') \
       <(sed -n '/^Layers/,$p' "$tmp/long.show.txt" | sed '/^Export everything/,$d') \
  && ok "run and show print the same layer tables" || bad "layer tables of run and show differ"
python3 - "$tmp/long.json" "$tmp/long.txt" <<'PY' && ok "layers and components average per decode step and per input token" || bad "layer/component averages: $(sed -n '/^Layers/,/^$/p' "$tmp/long.txt")"
import json, re, sys
s = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
e = s["efficiency"]
n_in, steps = e["input_tokens"], e["decode_steps"]
assert n_in > 64 and steps == 7, e
L, C = s["layers"], s["components"]
assert L and C
passes = (n_in + 63) // 64
for l in L:
    assert l["decode_steps"] == steps and l["prefill_passes"] == passes, l
    # the old per-row figures stay, per forward pass
    assert l["tokens"] == steps + passes, l
    assert abs(l["avg_energy_j"] - l["energy_j"] / l["tokens"]) <= 1e-9 * l["energy_j"], l
    whole = l["decode_avg_energy_j"] * steps + l["prefill_energy_j_per_input_token"] * n_in
    assert abs(whole - l["energy_j"]) <= 1e-6 * l["energy_j"], (l, whole)
# layers lie inside what they are attributed from: per step inside a decode
# token, per input token inside the prefill's share
dec_layers = sum(l["decode_avg_energy_j"] for l in L)
pre_layers = sum(l["prefill_energy_j_per_input_token"] for l in L)
assert dec_layers <= e["decode_j_per_output_token"] * 1.000001, (dec_layers, e)
assert pre_layers <= e["prefill_j_per_input_token"] * 1.000001, (pre_layers, e)
# (that the averages divide by the right counts is the "whole" identity
# above: a share of layer time within a token depends on the machine's load)
assert abs(sum(l["energy_pct"] for l in L) - 100) <= 0.01
assert abs(sum(c["energy_pct"] for c in C) - 100) <= 0.01
n_layer = len(L)
for c in C:
    assert c["decode_count"] == steps * n_layer and c["prefill_count"] == passes * n_layer, c
dec_comps = sum(c["decode_avg_energy_j"] for c in C) * n_layer
assert dec_comps <= dec_layers * 1.000001, (dec_comps, dec_layers)
for c in s["hottest_components"]:
    assert c["decode_count"] == steps and c["prefill_count"] == passes, c
# the text says what the columns are and what they average over
assert "\nLayers (energy attributed by time share)\n" in t
assert re.search(r"\n  LAYER +TIME/STEP +ENERGY/STEP +TIME/IN TOK +ENERGY/IN TOK +ENERGY %\n", t)
assert ("/STEP: average over the 7 decode steps; /IN TOK: the prompt batches' sum (%d\n"
        "  forward passes) over the %d input tokens" % (passes, n_in)) in t, t
assert re.search(r"\n  COMPONENT +TIME/STEP +ENERGY/STEP +TIME/IN TOK +ENERGY/IN TOK +TOTAL", t)
assert "AVG ENERGY" not in t and "(average per token" not in t
PY

# --- D3: the export says which tokens a token's layers cover -------------------------------
"$W" export "$idl" --db "$db" -f json >"$tmp/long.export.json" || bad "export json"
"$W" export "$idl" --db "$db" -f csv >"$tmp/long.export.csv" || bad "export csv"
python3 - "$tmp/long.export.json" "$tmp/long.export.csv" <<'PY' && ok "export: layers_first_token..layers_last_token cover each token's layers (JSON = CSV)" || bad "export layer coverage"
import csv, io, json, sys
run = json.load(open(sys.argv[1]))["run"]
toks = run["tokens"]
by = {t["token_index"]: t for t in toks}
n_in = sum(1 for t in toks if t["is_input"])
covered = []
for t in toks:
    a, b = t["layers_first_token"], t["layers_last_token"]
    L = t.get("layers") or []
    assert (a is None) == (b is None) == (not L), t["token_index"]
    if not L:
        continue
    if t["is_input"]:
        assert b == t["token_index"] and all(by[i]["is_input"] for i in range(a, b + 1)), (a, b)
        covered += range(a, b + 1)
    else:
        assert a == b == t["token_index"], (a, b)
    # the children add up within the tokens they cover
    parent = sum(by[i]["energy_j"] for i in range(a, b + 1))
    assert sum(l["energy_j"] for l in L) <= parent * 1.000001, (t["token_index"], parent)
assert covered == list(range(n_in)), "every input token in exactly one prompt batch"
first_out = [t for t in toks if not t["is_input"]][0]
assert first_out["layers_first_token"] is None, "token 0 has no forward pass of its own"
# the CSV has the same two columns, same values
text = open(sys.argv[2]).read()
sect = text.split("# tokens\n", 1)[1].split("\n\n", 1)[0]
rows = list(csv.DictReader(io.StringIO(sect)))
assert len(rows) == len(toks)
for r, t in zip(rows, toks):
    for k in ("layers_first_token", "layers_last_token"):
        want = "" if t[k] is None else str(t[k])
        assert r[k] == want, (k, r[k], want)
PY
"$W" export --help | grep -q "layers_first_token and" && "$W" export --help | grep -q "header line (even with no rows)" \
  && ok "export --help explains layers_first_token and the CSV headers" || bad "export --help"
"$W" export --help | grep -q "model_estimate when no CPU energy sensor was readable, even beside a" \
  && ok "export --help: model_estimate without a CPU energy sensor, GPU sensor or not" \
  || bad "export --help: when energy_base_method is model_estimate"

# --- D6: every CSV table has its header, rows or not ----------------------------------------
"$W" run "${q[@]}" -n 3 --depth off >/dev/null 2>"$tmp/err" || bad "run --depth off: $(cat "$tmp/err")"
ido=$(last_id)
"$W" export "$ido" --db "$db" -f csv >"$tmp/off.csv" || bad "export csv, depth off"
"$W" export "$idl" --db "$db" -f csv >"$tmp/module.csv"
python3 - "$tmp/off.csv" "$tmp/module.csv" <<'PY' && ok "CSV: every table has its header line, the same as with rows" || bad "CSV headers: $(grep -A1 '^# ' "$tmp/off.csv")"
import sys
def tables(path):
    out, name = {}, None
    for line in open(path).read().split("\n"):
        if line.startswith("# "):
            name = line[2:]
            out[name] = []
        elif name is not None and line:
            out[name].append(line)
    return out
off, mod = tables(sys.argv[1]), tables(sys.argv[2])
names = ["metadata", "domains", "power_samples", "sections", "tokens", "layer_metrics",
         "component_metrics", "op_metrics"]
assert list(off) == names == list(mod), list(off)
for n in names:
    assert off[n] and off[n][0] == mod[n][0], (n, off[n][:1], mod[n][:1])
for n in ("layer_metrics", "component_metrics", "op_metrics"):
    assert len(off[n]) == 1, (n, off[n])  # the header alone: depth off has no rows
assert len(mod["op_metrics"]) == 1  # depth module: no ops, still a header
assert mod["op_metrics"][0].startswith("token_index,layer,component,op,name,")
PY

# --- D4: runs marks estimated energies ------------------------------------------------------
"$W" runs --db "$db" >"$tmp/runs.txt"
python3 - "$tmp/runs.txt" <<'PY' && ok "runs marks model-estimated ENERGY and J/TOKEN '~', with a note" || bad "runs '~': $(cat "$tmp/runs.txt")"
import re, sys
t = open(sys.argv[1]).read()
rows = [l for l in t.split("\n") if re.match(r"[0-9a-f]{8}  ", l)]
assert len(rows) == 4, rows
for l in rows:
    assert len(re.findall(r" [0-9.]+ [nmu]?J~ ", l + " ")) == 2, l  # ENERGY and J/TOKEN
assert ("\n~ estimated, not measured (model_estimate): ENERGY and J/TOKEN come wholly or partly from\n"
        "  wattlens's CPU-time model, as no CPU energy sensor was readable\n"
        "  ('wattlens show ID' says which domains were measured).\n") in t
PY
"$W" runs --help | grep -q "marked '~'" && ok "runs --help explains '~'" || bad "runs --help lacks '~'"
# a measured energy is not marked: a run whose energy method is a counter
python3 - "$db" "$ido" <<'PY' || bad "could not edit $db"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("update runs set energy_method = 'counter' where uuid = ?", (sys.argv[2],))
c.commit()
PY
"$W" runs --db "$db" >"$tmp/runs2.txt"
grep "^${ido:0:8} " "$tmp/runs2.txt" | grep -qv "~" && [ "$(grep -c 'J~ ' "$tmp/runs2.txt")" = 3 ] \
  && ok "runs leaves a measured (counter) energy unmarked" || bad "runs marks a counter run: $(cat "$tmp/runs2.txt")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
