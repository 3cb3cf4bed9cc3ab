#!/usr/bin/env bash
# What `show` says about a batched run (stories260K, `run --batch 3`, the
# CPU-time model): one count of decode rounds (round 0 is none), the layers
# per step within the decode energy per step (store.md), and, on a copy
# edited as the recorder leaves a decode round whose energy a failed sensor
# read left unknown, each sequence's decode energy (a sum over its rounds)
# n/a with the reason, its decode J/token averaging its shares of the
# rounds with energy, as the run's decode J/output token uses the rows with
# energy; and a sequence's token count the run's extra lacks, n/a in the
# table as null in JSON.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
W=$WATTLENS
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
db="$tmp/runs.db"
"$W" run -m "$M" --batch 3 -p "Once upon" -p "The little dog ran to the park" -p "A cat" -n 10 \
  --temp 0 --baseline 0 --settle 0 -t 1 --db "$db" >/dev/null 2>"$tmp/err" \
  || bad "run --batch 3: $(cat "$tmp/err")"
id=$("$W" runs --db "$db" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')

# copy SRC DST: a copy of a store with what its write-ahead log holds (cp copies the file alone)
copy() {
  python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "$1" "$2"
}

# --- one count of decode rounds ------------------------------------------------------------
# round 0 is sampled from the prefill's logits: the batch line and the decode steps leave it
# out, and the chart, which shows it, says so (it once said "10 decode rounds" beside "9")
"$W" show "$id" --db "$db" >"$tmp/show.txt" 2>"$tmp/err" || bad "show: $(cat "$tmp/err")"
python3 - "$tmp/show.txt" <<'PY' && ok "the batch line, the per-round chart and the decode steps count the same decode rounds" || bad "decode rounds: $(grep -E 'generated together|Per-round|decode steps' "$tmp/show.txt")"
import re, sys
t = open(sys.argv[1]).read()
head = int(re.search(r"\n  batch +3 sequences generated together \((\d+) decode rounds after the first tokens\)", t).group(1))
out, dec, toks = map(int, re.search(r"\nPer-round energy \((\d+) output rounds: round 0 and (\d+) decode rounds, "
                                     r"(\d+) output tokens; ", t).groups())
steps = int(re.search(r"\n  decode steps +(\d+) rounds, \d+ tokens", t).group(1))
assert head == dec == steps == out - 1 == 9 and toks == 30, (head, out, dec, steps, toks)
PY

# --- what the layers per step add up to -------------------------------------------------------
# (store.md, "Summary metrics"): at most the decode energy per step, decode J per output token
# x decode tokens / decode steps; a step of a batch decodes a token of each running sequence,
# so the bound of one sequence (decode J per output token itself, test_summary_output) is not
# the batch's, as store.md once said
"$W" show "$id" --db "$db" --json >"$tmp/show.json" 2>"$tmp/err" || bad "show --json: $(cat "$tmp/err")"
python3 - "$tmp/show.json" <<'PY' && ok "the layers per step add up to at most the decode energy per step" || bad "layers per step of a batch"
import json, sys
s = json.load(open(sys.argv[1]))
e = s["efficiency"]
assert e["decode_steps"] == 9 and e["decode_tokens"] == 27, e
per_step = e["decode_j_per_output_token"] * e["decode_tokens"] / e["decode_steps"]
layers = sum(l["decode_avg_energy_j"] for l in s["layers"])
assert s["layers"] and layers <= per_step * 1.000001, (layers, per_step)
PY

# --- a decode round without energy ---------------------------------------------------------
# round 4: its sections, its row and its forward pass's layer and component rows without
# energy, and, as wl_recorder_sequence_energy adds a NaN round, every sequence's decode energy
# null (each ran in it: -n 10, none stops early at temperature 0 on this model)
copy "$db" "$tmp/r.db"
python3 - "$tmp/r.db" "$id" <<'PY' || bad "could not edit r.db"
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rid = c.execute("select id from runs where uuid = ?", (sys.argv[2],)).fetchone()[0]
tok = c.execute("select idx from tokens where run_id = ? and is_input = 0 order by idx limit 1 offset 4",
                (rid,)).fetchone()[0]
n_sec = c.execute("update sections set energy_j = NULL, package_j = NULL where run_id = ? and token_index = ?",
                  (rid, tok)).rowcount
c.execute("update tokens set energy_j = NULL, edp_js = NULL, avg_power_w = NULL where run_id = ? and idx = ?", (rid, tok))
c.execute("update layer_metrics set energy_j = NULL where run_id = ? and token_idx = ?", (rid, tok))
c.execute("update component_metrics set energy_j = NULL where run_id = ? and token_idx = ?", (rid, tok))
x = json.loads(c.execute("select extra from runs where id = ?", (rid,)).fetchone()[0])
assert [q["output_tokens"] for q in x["sequences"]] == [10, 10, 10], x["sequences"]
for q in x["sequences"]:
    q["decode_energy_j"] = None
x["energy_unknown"] = {"start": [], "end": [], "sections": n_sec, "token_rows": 1}
c.execute("update runs set extra = ? where id = ?", (json.dumps(x), rid))
c.commit()
PY
"$W" show "$id" --db "$tmp/r.db" >"$tmp/r.txt" 2>"$tmp/err" || bad "show r.db: $(cat "$tmp/err")"
"$W" show "$id" --db "$tmp/r.db" --json >"$tmp/r.json" 2>"$tmp/err" || bad "show --json r.db: $(cat "$tmp/err")"
python3 - "$tmp/r.db" "$tmp/r.json" "$tmp/r.txt" <<'PY' && ok "a round without energy: each sequence's DECODE n/a with the reason, its DECODE J/TOKEN over its rounds with energy" || bad "sequences with a round without energy: $(sed -n '/^Sequences/,/^$/p' "$tmp/r.txt")"
import json, re, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
s = json.load(open(sys.argv[2]))
t = open(sys.argv[3]).read()
rows = c.execute("select energy_j, coalesce(n_seq, 1) from tokens where is_input = 0 order by idx").fetchall()
known = [j / n for j, n in rows[1:] if j is not None]
assert len(known) == len(rows) - 2, rows
want = sum(known) / len(known)
for q in s["batch"]["sequences"]:
    assert q["decode_energy_j"] is None and q["decode_rounds_without_energy"] == 1, q
    assert abs(q["decode_j_per_token"] - want) <= 1e-9 * want, (q, want)
# every sequence ran in every round here: the run's figure is the same average
run_fig = s["efficiency"]["decode_j_per_output_token"]
assert abs(run_fig - want) <= 1e-9 * want, (run_fig, want)
seq_rows = re.findall(r"(?m)^ +[0-2] +\d+ +10 token limit +\S+ \S+ +n/a +(\S+ \S+)$", t)
assert len(seq_rows) == 3 and "n/a" not in seq_rows[0], t
assert ("\n  (DECODE n/a: a round the sequence ran in has no energy; its DECODE J/TOKEN is over its "
        "decode rounds with energy)\n") in t, t
assert ", a sequence's prefill or decode energy) is n/a.\n" in t, t
PY

# --- a sequence whose token counts the run's extra does not hold ------------------------------
# (another writer, a hand edit): show --json gives null, and the Sequences table n/a (old: -1)
copy "$db" "$tmp/n.db"
python3 - "$tmp/n.db" "$id" <<'PY' || bad "could not edit n.db"
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rid = c.execute("select id from runs where uuid = ?", (sys.argv[2],)).fetchone()[0]
x = json.loads(c.execute("select extra from runs where id = ?", (rid,)).fetchone()[0])
del x["sequences"][1]["prompt_tokens"]
x["sequences"][2]["output_tokens"] = None
c.execute("update runs set extra = ? where id = ?", (json.dumps(x), rid))
c.commit()
PY
"$W" show "$id" --db "$tmp/n.db" >"$tmp/n.txt" 2>"$tmp/err" || bad "show n.db: $(cat "$tmp/err")"
"$W" show "$id" --db "$tmp/n.db" --json >"$tmp/n.json" 2>"$tmp/err" || bad "show --json n.db: $(cat "$tmp/err")"
python3 - "$tmp/n.json" "$tmp/n.txt" <<'PY' && ok "a sequence's missing token count: null in JSON, n/a in the Sequences table" || bad "missing sequence counts: $(sed -n '/^Sequences/,/^$/p' "$tmp/n.txt")"
import json, re, sys
q = json.load(open(sys.argv[1]))["batch"]["sequences"]
assert q[1]["prompt_tokens"] is None and q[2]["output_tokens"] is None, q
assert q[0]["prompt_tokens"] is not None and q[1]["output_tokens"] == 10, q
t = open(sys.argv[2]).read()
assert re.search(r"(?m)^ +1 +n/a +10 token limit ", t), t
assert re.search(r"(?m)^ +2 +\d+ +n/a token limit ", t), t
assert not re.search(r"(?m)^ +[0-2] .*-1 ", t), t
PY

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
