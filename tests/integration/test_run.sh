#!/usr/bin/env bash
# ctest-labels: timing (interrupts a run mid-decode and checks sampled rates; see Makefile)
# `wattlens run` end to end:
# - a deep run (with activation statistics) of stories260K stores every level
#   of the hierarchy (sections, input and output tokens, layers, components,
#   ops with attention statistics), and `wattlens show ID` prints exactly the
#   summary that `run` printed, from the store alone;
# - `export --format json` nests tokens -> layers -> components -> ops;
# - --json is one object with run_id, summary and provenance (CPU-time model
#   here, labelled model_estimate), its top-level keys those run --help lists;
# - the built-in default model is generated into $XDG_CACHE_HOME/wattlens and
#   says its text is meaningless;
# - SIGINT during decode stops generation; the run is stored as cancelled
#   with the tokens so far; exit status 130;
# - a run whose generation fails is stored as failed, with stop reason
#   "error" (not that of a generation that ran); a prompt longer than -c is
#   refused before anything is stored;
# - bad options are usage errors (an empty --experiment or tag too).
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
db=$tmp/runs.db
# the built-in model is cached in the build tree across test runs
export XDG_CACHE_HOME=${WL_BINARY_DIR:-$tmp}/model-cache
model=$D/models/stories260K.gguf

# --- usage ----------------------------------------------------------------------
if "$W" run --help | grep -q -- "--depth"; then ok "run --help"; else bad "run --help"; fi
# the model stands in for the CPU whenever no CPU energy sensor is readable,
# a readable GPU sensor or not (not only "when no sensor is readable")
if "$W" run --help | grep -q "model's estimate when no CPU energy sensor is readable"; then
  ok "run --help: when the CPU-time model is used"
else
  bad "run --help: when the CPU-time model is used"
fi
# op rows and activation statistics are stored but never printed by run or
# show: the help says where they are
if "$W" run --help | tr '\n' ' ' | tr -s ' ' | grep -q "variance ratio (slower; stored, and like op rows only 'wattlens export' writes them)"; then
  ok "run --help: op rows and activation statistics are in export"
else
  bad "run --help: where op rows and activation statistics are"
fi
# an input token's energy is an equal share of its prompt batch, not a
# measured delta nor a time share
if "$W" run --help | tr '\n' ' ' | grep -q "an input token's energy is an equal share of its prompt batch's"; then
  ok "run --help: an input token is an equal share of its batch"
else
  bad "run --help: what an input token's energy is"
fi
"$W" run --depth full --db "$db" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "off, module or deep" "$tmp/err"; then ok "bad --depth"; else bad "bad --depth (rc $rc)"; fi
"$W" run -m "$tmp/missing.gguf" --db "$db" --baseline 0 --settle 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "missing.gguf" "$tmp/err"; then ok "missing model"; else bad "missing model (rc $rc)"; fi
# an empty experiment or tag is refused before anything is stored (`runs` could not find it)
for a in "--experiment|" "--tags|" "--tags|a,,b" "--tags|a," "--tags|,a"; do
  "$W" run "${a%%|*}" "${a#*|}" --db "$db" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q "empty" "$tmp/err" && [ ! -e "$db" ]; then ok "run ${a%%|*} '${a#*|}' refused"
  else bad "run ${a%%|*} '${a#*|}' (rc $rc)"; cat "$tmp/err"; fi
done

if [ ! -f "$model" ]; then
  echo "SKIP: stories260K absent under $D (deep run skipped)"
else
  # --- deep run, show reproduces it ------------------------------------------------
  "$W" run -m "$model" -p "Once upon a time" -n 24 --temp 0 --depth deep --activations \
    --baseline 0.3 --settle 0 --tags ci,deep --experiment itest --db "$db" >"$tmp/run.txt" 2>"$tmp/err"; rc=$?
  id=$(sed -n 's/^Run \([0-9a-f-]\{36\}\)  (.*/\1/p' "$tmp/run.txt" | head -1)
  if [ $rc = 0 ] && [ -n "$id" ]; then ok "deep run stored as $id"; else bad "deep run (rc $rc)"; cat "$tmp/err"; fi
  if grep -q "ESTIMATED by wattlens's CPU-time model\|measured (energy counter)" "$tmp/run.txt"; then
    ok "energy source labelled"; else bad "energy source label"; fi
  # the run's summary: from its 'Run ID' header up to the line before 'Run ID stored in'
  sed -n "/^Run $id  (/,/^Run $id stored in/p" "$tmp/run.txt" | sed '$d' | sed '${/^$/d}' >"$tmp/sum_run.txt"
  "$W" show "${id:0:8}" --db "$db" >"$tmp/show.txt" 2>"$tmp/err"; rc=$?
  sed '/^Export everything:/d' "$tmp/show.txt" | sed '${/^$/d}' >"$tmp/sum_show.txt"
  if [ $rc = 0 ] && [ -s "$tmp/sum_run.txt" ] && diff "$tmp/sum_run.txt" "$tmp/sum_show.txt" >"$tmp/diff"; then
    ok "show reproduces the printed summary ($(wc -l <"$tmp/sum_run.txt") lines)"
  else
    bad "show differs from run's summary"; head -20 "$tmp/diff"
  fi
  for s in "Phases" "Per-token energy" "Efficiency" "p90 inter-token latency" "CO2" "KV cache" \
           "Layers (energy attributed by time share)" "Hottest components"; do
    if grep -q "$s" "$tmp/run.txt"; then ok "summary has '$s'"; else bad "summary lacks '$s'"; fi
  done

  # --- export: the full hierarchy ------------------------------------------------------
  "$W" export "$id" --format json --db "$db" >"$tmp/export.json" 2>"$tmp/err"; rc=$?
  python3 - "$tmp/export.json" <<'PY' && ok "export nests tokens -> layers -> components -> ops with statistics" || bad "export hierarchy (see above)"
import json, sys
run = json.load(open(sys.argv[1]))["run"]
toks = run["tokens"]
assert any(t["is_input"] for t in toks) and any(not t["is_input"] for t in toks), "input and output tokens"
out = [t for t in toks if not t["is_input"]]
assert len(out) == 24, len(out)
assert all(t["energy_j"] is not None and t["energy_j"] >= 0 for t in out)
with_layers = [t for t in toks if t.get("layers")]
assert with_layers, "no token has layers"
L = with_layers[-1]["layers"]
assert len(L) == 5, len(L)                       # stories260K: 5 layers
comps = {c["name"]: c for c in L[0]["components"]}
for n in ("attn_norm", "q", "k", "v", "rope", "attention", "o", "ffn_norm", "gate", "up", "activation", "down"):
    assert n in comps, n
    assert comps[n]["energy_method"] == "attributed"
    # a share of the run's figure, whose method it names (the model's, without a sensor)
    assert comps[n]["energy_base_method"] == run["energy_method"], comps[n]
assert comps["q"]["act_std"] is not None, "activation statistics"
ops = {o["name"]: o for o in comps["attention"]["ops"]}
for n in ("qk", "scale_mask", "softmax", "av"):
    assert n in ops, n
sm = ops["softmax"]
assert sm["entropy"] is not None and sm["max_weight"] is not None, "attention statistics"
heads = [k for k in sm if "head" in k]
assert heads, "per-head statistics"
act_ops = {o["name"]: o for o in comps["activation"]["ops"]}
assert act_ops["gate_x_up"]["kill_ratio"] is not None, "kill ratio"
norm_ops = {o["name"]: o for o in comps["attn_norm"]["ops"]}
assert any(o["var_ratio"] is not None for o in norm_ops.values()), "variance ratio"
assert len(run["sections"]) > 0, "sections"
# --baseline 0.3: the run has samples, the baseline's among them
assert any(s["phase"] == "baseline" for s in run["samples"]), "baseline samples"
PY

  # --- --json ---------------------------------------------------------------------------
  "$W" run -m "$model" -p "Hi" -n 8 --temp 0 --depth off --baseline 0 --settle 0 --json --db "$db" \
    --price-kwh 0.5 --co2-g-kwh 100 --currency EUR >"$tmp/run.json" 2>"$tmp/err"; rc=$?
  python3 - "$tmp/run.json" <<'PY' && ok "--json: run_id, summary, provenance, cost" || bad "--json content (see above)"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["run_id"]) == 36
s = j["summary"]
assert s["run"]["status"] == "complete" and s["run"]["depth"] == "off"
e = s["efficiency"]
for k in ("j_per_token", "tokens_per_j", "tokens_per_s", "prefill_tokens_per_s", "ttft_ms", "mean_itl_ms", "p50_itl_ms", "p90_itl_ms", "edp_js"):
    assert e[k] is not None, k
assert s["cost"]["currency"] == "EUR" and abs(s["cost"]["price_per_kwh"] - 0.5) < 1e-9
assert abs(s["cost"]["co2_g"] - s["totals"]["energy_j"] / 3.6e6 * 100) < 1e-9
assert s["totals"]["kv_cache_bytes"] > 0
p = j["provenance"]
assert p["energy_method"] in ("counter", "sampled", "vendor_estimate", "model_estimate")
assert p["domains"], "provenance domains"
assert s["layers"] == [], "depth off stores no layers"
# a peak from spans of about one power window that partition the run (and
# the samples' own windows inside it): none for a run shorter than 90 % of
# one, one for a run of a window or more, never below its domain's average,
# and inside the run (times in ms from two origins: the end may round past)
t = s["totals"]
assert t["power_window_ms"] > 0, t
if t["duration_ms"] < 0.9 * t["power_window_ms"]:
    assert t["peak_power_w"] is None, t
if t["duration_ms"] >= t["power_window_ms"]:
    assert t["peak_power_w"] is not None, t
for d in s["domains"]:
    if d["peak_power_w"] is not None:
        assert d["peak_power_w"] >= d["avg_power_w"] * (1 - 1e-9), d
if t["peak_power_w"] is not None:
    assert 0 <= t["peak_t_ms"] <= t["duration_ms"] + 1e-6, t
PY
  # the top-level keys, in order, are the ones run --help (and README) list
  "$W" run --help >"$tmp/run.help"
  python3 - "$tmp/run.json" "$tmp/run.help" <<'PY' 2>"$tmp/py" && ok "--json's top-level keys are those run --help lists" || { bad "--json keys vs help"; cat "$tmp/py"; }
import json, re, sys
keys = list(json.load(open(sys.argv[1])).keys())
assert keys == ["run_id", "status", "store_error", "stop_reason", "text", "n_seq", "sequences", "default_model",
                "summary", "provenance"], keys
h = open(sys.argv[2]).read()
doc = h[h.index("      --json "):h.index("  --db FILE")]
for k in keys + ["note"]:
    assert re.search(r"\b%s\b" % k, doc), k
PY
  rid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/run.json")
  "$W" show "$rid" --db "$db" >"$tmp/show2.txt" 2>&1
  python3 - "$tmp/run.json" "$tmp/show2.txt" <<'PY' && ok "show says why a short run has no peak" || bad "peak n/a reason (see above)"
import json, sys
t = json.load(open(sys.argv[1]))["summary"]["totals"]
line = [l for l in open(sys.argv[2]) if l.strip().startswith("peak power")][0]
assert ("power window lies inside" in line) == (t["peak_power_w"] is None), (line, t)
PY
fi

# --- a run whose generation fails says so, not a stop reason of one that ran -------
# (a copy of the model whose output norm is NaN: a non-finite logit at the
# first step, once the run is stored)
if [ -f "$model" ]; then
  "$W" model info "$model" --tensors --json | python3 -c '
import json, shutil, struct, sys
t = [t for t in json.load(sys.stdin)["tensors"] if t["name"] == "output_norm.weight"][0]
assert t["type"] == "F32", t
shutil.copy(sys.argv[1], sys.argv[2])
with open(sys.argv[2], "r+b") as f:
    f.seek(t["offset"])
    f.write(struct.pack("<f", float("nan")) * t["n_params"])
' "$model" "$tmp/nan.gguf"
  "$W" run -m "$tmp/nan.gguf" -n 4 --baseline 0 --settle 0 --json --db "$db" >"$tmp/fail.json" 2>"$tmp/fail.err"; rc=$?
  python3 - "$tmp/fail.json" <<'PY' && [ $rc = 1 ] && ok "failed run: status failed, stop_reason error" || { bad "failed run (rc $rc)"; cat "$tmp/fail.err"; }
import json, sys
j = json.load(open(sys.argv[1]))
assert j["status"] == "failed", j["status"]
assert j["stop_reason"] == "error", j["stop_reason"]
assert all(q["stop_reason"] == "error" for q in j["sequences"]), j["sequences"]
PY
  # a prompt longer than -c is a command-line mistake said before anything is
  # stored, as generate says it (it stored a failed run and printed its profile)
  for args in "-c 2" "-c 2 --batch 2 -p a -p Once_upon_a_time"; do
    "$W" run -m "$model" $args -n 4 --baseline 0 --settle 0 --db "$tmp/c2.db" >"$tmp/c2.out" 2>"$tmp/c2.err"; rc=$?
    case $args in *batch*) want="prompt 1 (11 tokens) does not fit in the context (2 positions): use -c 11 or more" ;;
    *) want="the prompt (5 tokens) does not fit in the context (2 positions): use -c 5 or more" ;; esac
    if [ $rc = 1 ] && [ ! -e "$tmp/c2.db" ] && [ ! -s "$tmp/c2.out" ] && grep -qxF "wattlens run: $want" "$tmp/c2.err"; then
      ok "run $args, a longer prompt: refused, nothing stored"
    else bad "run $args, a longer prompt (rc $rc): $(cat "$tmp/c2.err"; ls "$tmp/c2.db" 2>/dev/null)"; fi
  done
fi

# --- built-in model + SIGINT ------------------------------------------------------------
# (a background job of a script starts with SIGINT ignored, which run leaves ignored)
env --default-signal=INT "$W" run -n 2000 -c 2100 --temp 0 --baseline 0 --settle 0 --db "$db" >"$tmp/int.txt" 2>"$tmp/int.err" &
pid=$!
# interrupt once decode is under way (progress line, output tokens stored)
wait_mid_decode "$tmp/int.err" "$db" 2 "$pid" || { bad "SIGINT: the run never reached mid-decode"; cat "$tmp/int.err"; }
kill -INT $pid
wait $pid; rc=$?
if [ $rc = 130 ]; then ok "SIGINT: exit status 130"; else bad "SIGINT exit status $rc"; cat "$tmp/int.err"; fi
if grep -q "its text is meaningless" "$tmp/int.txt"; then ok "built-in model says its text is meaningless"; else bad "built-in model note"; fi
if ls "$XDG_CACHE_HOME"/wattlens/default-llama-*.gguf >/dev/null 2>&1; then ok "built-in model cached"; else bad "built-in model not in cache"; fi
cid=$(sed -n 's/^Run \([0-9a-f-]\{36\}\)  (cancelled.*/\1/p' "$tmp/int.txt" | head -1)
if [ -n "$cid" ]; then ok "run stored as cancelled"; else bad "no cancelled run in output"; fi
"$W" show "$cid" --json --db "$db" >"$tmp/c.json" 2>/dev/null
python3 - "$tmp/c.json" <<'PY' && ok "cancelled run keeps its tokens and phases" || bad "cancelled run content"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["run"]["status"] == "cancelled"
n = s["efficiency"]["output_tokens"]
assert 0 < n < 2000, n
assert {p["phase"] for p in s["phases"]} >= {"pre_inference", "prefill", "decode"}
assert s["totals"]["energy_j"] > 0
# a run of hundreds of tokens has a peak, inside the run (times from its start)
t = s["totals"]
assert t["peak_power_w"] is not None and 0 <= t["peak_t_ms"] <= t["duration_ms"] + 1e-6, t
for d in s["domains"]:
    assert d["peak_power_w"] is not None and d["peak_power_w"] >= d["avg_power_w"] * (1 - 1e-9), d
PY

# a FIFO as the host's cpuinfo (WATTLENS_PROC_ROOT) does not hang run: the
# host CPU's name is read non-blocking, from a regular file only
mkdir -p "$tmp/fproc" && mkfifo "$tmp/fproc/cpuinfo"
timeout 60 env WATTLENS_PROC_ROOT="$tmp/fproc" "$W" -q run -m "$model" -n 2 --baseline 0 \
  --settle 0 --db "$tmp/fifo.db" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && ok "a FIFO as /proc/cpuinfo hangs nothing" || bad "run with a FIFO cpuinfo (rc $rc): $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
