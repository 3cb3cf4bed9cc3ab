#!/usr/bin/env bash
# What `show` and `runs` say about a stored run whose inputs are partly not
# figures, on copies of a real run (stories260K, the CPU-time model) edited
# as the recorder or another writer leaves them: rows whose energy a failed
# sensor read left unknown (the figures use only rows with energy; a run
# that never finished has no energy then, in `show` as in `runs`), a domain
# method this build cannot read, a currency stored without its price
# (and `run` refusing one), the user's own price and intensity, which
# read as given, and a stored extra that does not parse (a NOTE, not
# silently the default price).
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
W=$WATTLENS
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
db="$tmp/runs.db"
q=(-m "$M" --temp 0 --baseline 0 --settle 0 -t 1)
"$W" run "${q[@]}" -n 8 --db "$db" >/dev/null 2>"$tmp/err" || bad "run -n 8: $(cat "$tmp/err")"
id=$("$W" runs --db "$db" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')

# copy SRC DST: a copy of a store with what its write-ahead log holds (cp copies the file alone)
copy() {
  python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "$1" "$2"
}

# sql DB STATEMENT...: runs the statements on a copy's run (?1 = its id)
sql() {
  python3 - "$id" "$@" <<'PY'
import sqlite3, sys
uuid, path, stmts = sys.argv[1], sys.argv[2], sys.argv[3:]
c = sqlite3.connect(path)
rid = c.execute("select id from runs where uuid = ?", (uuid,)).fetchone()[0]
for s in stmts:
    c.execute(s, (rid,) if "?1" in s else ())
c.commit()
PY
}

# --- a sensor read failed at a mark inside a decode token ------------------------------------
# as profile.md says the recorder stores it: the token's `layers` and `final_norm` sections,
# its row and its forward pass's layer and component rows without energy, counted in extra
copy "$db" "$tmp/fu.db"
sql "$tmp/fu.db" \
  "create temp table k as select min(idx) + 3 as tok from tokens where run_id = ?1 and is_input = 0" \
  "update sections set energy_j = NULL, package_j = NULL where run_id = ?1 and name in ('layers', 'final_norm') and token_index = (select tok from k)" \
  "update tokens set energy_j = NULL, edp_js = NULL, avg_power_w = NULL where run_id = ?1 and idx = (select tok from k)" \
  "update layer_metrics set energy_j = NULL where run_id = ?1 and token_idx = (select tok from k)" \
  "update component_metrics set energy_j = NULL where run_id = ?1 and token_idx = (select tok from k)" \
  "update runs set extra = json_set(coalesce(extra, '{}'), '$.energy_unknown', json('{\"start\":[],\"end\":[],\"sections\":2,\"token_rows\":1}')) where id = ?1"
"$W" show "$id" --db "$tmp/fu.db" >"$tmp/fu.txt" 2>"$tmp/err" || bad "show fu.db: $(cat "$tmp/err")"
"$W" show "$id" --db "$tmp/fu.db" --json >"$tmp/fu.json" 2>"$tmp/err" || bad "show --json fu.db: $(cat "$tmp/err")"
python3 - "$tmp/fu.db" "$tmp/fu.json" "$tmp/fu.txt" <<'PY' && ok "rows without energy: every average, power and ratio is over the rows with energy, and the note says so" || bad "rows without energy: $(grep -E 'NOTE|decode J|EDP' "$tmp/fu.txt")"
import json, re, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
s = json.load(open(sys.argv[2]))
t = open(sys.argv[3]).read()
close = lambda a, b: a is not None and abs(a - b) <= 1e-9 * max(abs(b), 1e-12)
e, d_ms, n_no = c.execute("select sum(energy_j), sum(case when energy_j is not null then dur_ms end), "
                          "count(*) - count(energy_j) from sections where phase = 'decode'").fetchone()
dec = [p for p in s["phases"] if p["phase"] == "decode"][0]
assert n_no == 2 and dec["sections_without_energy"] == 2, (n_no, dec)
assert close(dec["avg_power_w"], e / (d_ms / 1000)), (dec["avg_power_w"], e / (d_ms / 1000))
rows = c.execute("select energy_j, dur_ms from tokens where is_input = 0 order by idx").fetchall()[1:]
known = [(j, ms) for j, ms in rows if j is not None]
assert len(known) == len(rows) - 1
ef = s["efficiency"]
assert close(ef["decode_j_per_output_token"], sum(j for j, _ in known) / len(known)), ef
assert close(ef["edp_per_token_js"], sum(j * ms / 1000 for j, ms in known) / len(known)), ef
assert ef["decode_edp_js"] is None and ef["prefill_edp_js"] is not None, ef
pre_in = ef["prefill_j_per_input_token"]
assert close(ef["output_input_energy_ratio"], ef["decode_j_per_output_token"] / pre_in), ef
lay = c.execute("select avg(l.energy_j), count(*) - count(l.energy_j) from layer_metrics l join tokens t "
                "on t.run_id = l.run_id and t.idx = l.token_idx where t.is_input = 0 and l.layer = 0").fetchone()
l0 = s["layers"][0]
assert lay[1] == 1 and l0["rows_without_energy"] == 1 and close(l0["decode_avg_energy_j"], lay[0]), (l0, lay)
# a phase's ENERGY % is of the run's energy: of the known sections' sum it inflated the
# complete phases' shares and added up to 100 as if nothing were missing
tot = s["totals"]["energy_j"]
for p in s["phases"]:
    assert close(p["energy_pct"], 100 * p["energy_j"] / tot), (p, tot)
shown = sum(p["energy_pct"] for p in s["phases"])
assert shown < 99.9, shown
assert ("\n  (ENERGY %%: of the run's energy, as 2 sections have no energy:\n"
        "  the shares add up to %.1f %%, and those sections hold the rest)\n" % shown) in t, t
# the footer under ENERGY/STEP says what it divides by: 6 of the 7 decode steps (once: "the 7")
assert "\n  /STEP: average over the 7 decode steps; " in t, t
assert "\n  (ENERGY/STEP: over the 6 of them whose rows have energy)\n" in t, t
assert re.search(r"\n  EDP decode +n/a\n", t)
n_lay = c.execute("select count(*) - count(energy_j) from layer_metrics").fetchone()[0]
assert n_lay > 1
assert ("  NOTE: 2 sections, 1 token row and %d layer rows have no energy (a sensor read failed at "
        "their start or end): the phase and layer energies add up the others only (they are low), "
        "every average, power and ratio uses only rows with energy, and a figure that needs them "
        "all (the EDP of their phase, a layer's energy per input token) is n/a.\n" % n_lay) in t, t
PY

# --- a mark that failed after the forward pass: its layer rows keep their energy --------------
# (they take it from the `layers` section's own marks): the note does not count them
copy "$db" "$tmp/fs.db"
sql "$tmp/fs.db" \
  "create temp table k as select min(idx) + 3 as tok from tokens where run_id = ?1 and is_input = 0" \
  "update sections set energy_j = NULL, package_j = NULL where run_id = ?1 and name = 'final_norm' and token_index = (select tok from k)" \
  "update tokens set energy_j = NULL, edp_js = NULL, avg_power_w = NULL where run_id = ?1 and idx = (select tok from k)" \
  "update runs set extra = json_set(coalesce(extra, '{}'), '$.energy_unknown', json('{\"start\":[],\"end\":[],\"sections\":1,\"token_rows\":1}')) where id = ?1"
"$W" show "$id" --db "$tmp/fs.db" >"$tmp/fs.txt" 2>"$tmp/err" || bad "show fs.db: $(cat "$tmp/err")"
grep -qF "  NOTE: 1 section and 1 token row have no energy (a sensor read failed at their start or end): the phase energies add up the others only (they are low), every average, power and ratio uses only rows with energy, and a figure that needs them all (the EDP of their phase) is n/a." "$tmp/fs.txt" \
  && ! grep -q "layer row" "$tmp/fs.txt" && ! grep -q "ENERGY/STEP: over" "$tmp/fs.txt" \
  && ok "a mark that failed after the forward pass: the note does not say its layer rows lack energy" \
  || bad "layer rows known: $(grep NOTE "$tmp/fs.txt")"

# --- the same in a run that never finished: no totals, no energy_unknown ---------------------
copy "$tmp/fu.db" "$tmp/fi.db"
sql "$tmp/fi.db" \
  "update runs set status = 'incomplete', energy_j = NULL, duration_ms = NULL, energy_method = NULL, energy_scope = NULL, input_tokens = NULL, output_tokens = NULL, j_per_token = NULL, extra = json_remove(extra, '$.energy_unknown') where id = ?1" \
  "delete from run_domains where run_id = ?1" "delete from component_agg where run_id = ?1"
"$W" show "$id" --db "$tmp/fi.db" >"$tmp/fi.txt" 2>"$tmp/err" || bad "show fi.db: $(cat "$tmp/err")"
"$W" show "$id" --db "$tmp/fi.db" --json >"$tmp/fi.json" 2>"$tmp/err" || bad "show --json fi.db: $(cat "$tmp/err")"
"$W" runs --db "$tmp/fi.db" >"$tmp/fi-runs.txt" 2>"$tmp/err" || bad "runs fi.db: $(cat "$tmp/err")"
"$W" runs --db "$tmp/fi.db" --json >"$tmp/fi-runs.json" 2>"$tmp/err" || bad "runs --json fi.db: $(cat "$tmp/err")"
python3 - "$tmp/fi.txt" "$tmp/fi.json" "$tmp/fi-runs.txt" "$tmp/fi-runs.json" <<'PY' && ok "an unfinished run with sections without energy: energy and J/token n/a in show and runs, with notes" || bad "unfinished run without energies: $(head -8 "$tmp/fi.txt"; cat "$tmp/fi-runs.txt")"
import json, re, sys
t, s = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
rt, rj = open(sys.argv[3]).read(), json.load(open(sys.argv[4]))["runs"][0]
assert ("\n  energy     n/a  (run total missing, and 2 of its sections were saved without energy: "
        "the sum of its phases is unknown)\n") in t, t[:600]
assert "\n  NOTE: 2 sections, 1 token row and " in t and " layer rows have no energy (a sensor read failed" in t
assert re.search(r"\n  J/token \(output\) +n/a\n", t) and re.search(r"\n  cost +n/a ", t)
# no run energy to take the phases' shares of
assert all(p["energy_pct"] is None for p in s["phases"]), s["phases"]
assert "\n  (ENERGY %: n/a, as 2 sections have no energy and the run's energy is unknown)\n" in t, t
tot = s["totals"]
assert tot["energy_j"] is None and tot["partial"] and not tot["energy_from_phases"], tot
u = tot["energy_unknown"]
assert u["sections"] == 2 and u["token_rows"] == 1 and u["counted_from_rows"] is True, u
assert u["start"] is None and u["end"] is None, u
assert s["efficiency"]["j_per_token"] is None and s["efficiency"]["decode_j_per_output_token"] > 0
assert rj["partial"] and rj["energy_j"] is None and rj["j_per_token"] is None, rj
assert rj["sections_without_energy"] == 2, rj
row = [l for l in rt.split("\n") if re.match(r"[0-9a-f]{8}  ", l)][0]
assert len(re.findall(r" n/a\* ", row)) == 2, row  # ENERGY and J/TOKEN
assert ("\n  n/a*: the run saved sections without energy (a sensor read failed at their start or\n"
        "  end), and the sum of the others would be low.\n") in rt, rt
PY

# --- a domain whose stored method this build cannot read is not "measured" --------------------
copy "$db" "$tmp/fm.db"
sql "$tmp/fm.db" \
  "insert into run_domains (run_id, domain, method, source, energy_j) values (?1, 'dram', NULL, 'x', 0.001)" \
  "update runs set energy_scope = 'package+dram' where id = ?1"
"$W" show "$id" --db "$tmp/fm.db" >"$tmp/fm.txt" 2>"$tmp/err" || bad "show fm.db: $(cat "$tmp/err")"
grep -q "^  NOTE: energy figures are ESTIMATED by wattlens's CPU-time model, not measured (no energy sensor was readable)\.$" "$tmp/fm.txt" \
  && ! grep -q "dram: ?" "$tmp/fm.txt" \
  && ok "a domain method that cannot be read counts as estimated, not measured" \
  || bad "unreadable method: $(grep NOTE "$tmp/fm.txt")"
# show --json gives an unknown method as null, as store.md's JSON rules say (old: "?", which is
# neither the stored value nor null); a readable one keeps its key
sql "$tmp/fm.db" "insert into run_domains (run_id, domain, method, source, energy_j) values (?1, 'gpu', 'quantum', 'y', 0.002)"
"$W" show "$id" --db "$tmp/fm.db" --json | python3 -c '
import json, sys
d = {o["domain"]: o for o in json.load(sys.stdin)["domains"]}
assert d["dram"]["method"] is None and d["gpu"]["method"] is None, d
assert d["package"]["method"] == "model_estimate", d["package"]
' && ok "show --json: a domain method that cannot be read is null" || bad "show --json unreadable method"
# and the text's domain table n/a, as every unknown cell (old: "?"); a readable one its key
"$W" show "$id" --db "$tmp/fm.db" >"$tmp/fm.txt" 2>"$tmp/err" || bad "show fm.db: $(cat "$tmp/err")"
grep -qE "^  dram +n/a +[^ ]" "$tmp/fm.txt" && grep -qE "^  gpu +n/a +[^ ]" "$tmp/fm.txt" \
  && grep -qE "^  package +model_estimate +[^ ]" "$tmp/fm.txt" \
  && ! grep -qE "^  [a-z]+ +\? " "$tmp/fm.txt" \
  && ok "show: a domain method that cannot be read is n/a in the domain table" \
  || bad "show unreadable method: $(grep -E '^  (dram|gpu|package) ' "$tmp/fm.txt")"

# --- a currency is the unit of its price -----------------------------------------------------
"$W" run "${q[@]}" -n 2 --db "$tmp/cur.db" --currency EUR >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "currency EUR needs --price-kwh: the default price (0.15 per kWh) is in USD" "$tmp/err" \
  && [ ! -e "$tmp/cur.db" ] \
  && ok "run --currency EUR without --price-kwh is a usage error" || bad "run --currency alone: rc $rc: $(cat "$tmp/err")"
copy "$db" "$tmp/jpy.db"
sql "$tmp/jpy.db" "update runs set extra = json_set(coalesce(extra, '{}'), '$.currency', 'JPY') where id = ?1"
"$W" show "$id" --db "$tmp/jpy.db" >"$tmp/jpy.txt" 2>"$tmp/err" || bad "show jpy.db: $(cat "$tmp/err")"
grep -qE "^  cost  .* USD .*at 0.15 USD/kWh \(default price\)$" "$tmp/jpy.txt" && ! grep -q JPY "$tmp/jpy.txt" \
  && ok "a stored currency without its price: the default price stays in USD" \
  || bad "currency without a price: $(grep cost "$tmp/jpy.txt")"
sql "$tmp/jpy.db" "update runs set extra = json_set(extra, '$.price_per_kwh', 30) where id = ?1"
"$W" show "$id" --db "$tmp/jpy.db" | grep -qE "^  cost  .* JPY .*at 30 JPY/kWh$" \
  && ok "a stored currency with its price is the cost's" || bad "currency with a price"

# --- the user's own price and intensity read as given -----------------------------------------
# (old: "at 0.288 EUR/kWh" and "at 1.235e+04 g/kWh", while show --json gave them exactly)
"$W" run "${q[@]}" -n 2 --db "$tmp/rate.db" --price-kwh 0.28751 --currency EUR \
  --co2-g-kwh 12345.678 >"$tmp/rate.txt" 2>"$tmp/err" || bad "run with rates: $(cat "$tmp/err")"
rid=$("$W" runs --db "$tmp/rate.db" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$W" show "$rid" --db "$tmp/rate.db" >"$tmp/rate-show.txt" 2>"$tmp/err" || bad "show rate.db: $(cat "$tmp/err")"
for f in rate.txt rate-show.txt; do
  grep -qE "^  cost  .* EUR.* at 0\.28751 EUR/kWh$" "$tmp/$f" \
    && grep -qE "^  CO2  .* at 12345\.678 g/kWh$" "$tmp/$f" \
    && ok "$f: the price and CO2 intensity read as given" \
    || bad "$f: rates rounded: $(grep -E '^  (cost|CO2) ' "$tmp/$f")"
done
"$W" show "$rid" --db "$tmp/rate.db" --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["cost"]
assert c["price_per_kwh"] == 0.28751 and c["co2_g_per_kwh"] == 12345.678, c
' && ok "show --json gives the same rates" || bad "show --json rates"

# --- a stored extra that does not parse: show says so ---------------------------------------
# written before set_extra checked its values with jansson (a --currency byte 0xA3, which
# SQLite's json() took), or by another writer: every figure from it falls back to its
# default. show said nothing: the cost at the default price read as the run's own.
copy "$tmp/rate.db" "$tmp/bad-extra.db"
python3 - "$tmp/bad-extra.db" "$rid" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
bad = b'{"price_per_kwh": 0.28751, "currency": "\xa3", "co2_g_per_kwh": 12345.678}'
c.execute("update runs set extra = cast(? as text) where uuid = ?", (bad, sys.argv[2]))
assert c.execute("select count(*) from runs where json_valid(extra)").fetchone()[0] == 1
c.commit()
PY
"$W" show "$rid" --db "$tmp/bad-extra.db" >"$tmp/bad-extra.txt" 2>"$tmp/err" || bad "show bad-extra.db: $(cat "$tmp/err")"
grep -q "^  NOTE: the run's stored extra fields (runs.extra) are not a readable JSON object: .*the cost and CO2 are at the default price and intensity" "$tmp/bad-extra.txt" \
  && grep -qE "^  cost  .* at 0\.15 USD/kWh \(default price\)$" "$tmp/bad-extra.txt" \
  && ok "show: an extra that does not parse is named in a NOTE, the cost at the default price" \
  || bad "unreadable extra, no note: $(grep -E 'NOTE|^  cost' "$tmp/bad-extra.txt")"
"$W" show "$rid" --db "$tmp/bad-extra.db" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["totals"]["extra_unreadable"] is True, j["totals"]
assert j["cost"]["defaults_used"] is True and j["cost"]["price_per_kwh"] == 0.15, j["cost"]
' && ok "show --json: totals.extra_unreadable" || bad "show --json: no extra_unreadable"
# runs says it too (it said nothing), in its text and per row in its JSON
"$W" runs --db "$tmp/bad-extra.db" >"$tmp/bad-extra-runs.txt" 2>"$tmp/err" || bad "runs bad-extra.db: $(cat "$tmp/err")"
grep -q "^NOTE: the stored extra fields (runs.extra) of run ${rid:0:8} are not a$" "$tmp/bad-extra-runs.txt" \
  && ok "runs: an extra that does not parse is named in a NOTE" \
  || bad "runs: no note of the unreadable extra: $(cat "$tmp/bad-extra-runs.txt")"
"$W" runs --db "$tmp/bad-extra.db" --json | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin)["runs"] if r["id"] == sys.argv[1]]
assert len(r) == 1 and r[0]["extra_unreadable"] is True, r
' "$rid" && ok "runs --json: extra_unreadable" || bad "runs --json: no extra_unreadable"
"$W" runs --db "$tmp/rate.db" --json | python3 -c '
import json, sys
assert all(r["extra_unreadable"] is False for r in json.load(sys.stdin)["runs"])
' && ! "$W" runs --db "$tmp/rate.db" | grep -q "runs.extra" \
  && ok "runs: a readable extra, no note" || bad "runs: a readable extra flagged"
"$W" show "$rid" --db "$tmp/rate.db" --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["totals"]["extra_unreadable"] is False
' && ! grep -q "runs.extra" "$tmp/rate-show.txt" \
  && ok "a readable extra: no note, extra_unreadable false" || bad "a readable extra flagged"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
