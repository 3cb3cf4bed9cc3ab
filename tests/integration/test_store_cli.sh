#!/usr/bin/env bash
# The store commands guard the run database: an output file that is the
# database (or its -wal/-shm) is refused (export, measure, model synth and
# quantize) and the runs stay; a mistyped --db
# is an error that creates nothing; gc --dry-run counts what it would keep
# (and reads a database this user cannot write);
# -q leaves stderr empty; cost says when it uses the default price; runs that
# match nothing say why (the filters, or no runs yet); runs --search
# is caseless for Unicode; a database in a read-only directory can be read but
# not written, and creating one there says the directory is not writable.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
db="$tmp/runs.db"

for i in 1 2 3; do
  "$WATTLENS" run --db "$db" -m "$M" -n 4 -t 1 --baseline 0 --settle 0 >/dev/null 2>&1 \
    || bad "run $i failed"
done
id=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
[ -n "$id" ] && ok "three runs stored" || bad "no run id"

# --- an output that is the database -------------------------------------------------
"$WATTLENS" export --db "$db" "$id" -f json -o "$db" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && ok "export -o DB refused (2)" || bad "export -o DB exit $rc"
grep -q "it is the run database" "$tmp/err" && ok "export -o DB says why" || bad "export -o DB message: $(cat "$tmp/err")"
ln -s "$db" "$tmp/alias.db"
"$WATTLENS" export --db "$db" "$id" -f csv -o "$tmp/alias.db" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "export -o a link to the DB refused" || bad "export -o link exit $rc"
"$WATTLENS" measure --db "$db" -o "$db" -- true >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "measure -o DB refused" || bad "measure -o DB exit $rc"
# model synth and quantize write their model another way, with the same
# refusal (model has no --db: the database is $WATTLENS_DB's), before any work
cp "$db" "$tmp/before.db"
WATTLENS_DB="$db" "$WATTLENS" model synth -o "$db" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "refusing to write the output to $db: it is the run database" "$tmp/err" \
  && ok "model synth -o DB refused (2)" || bad "model synth -o DB exit $rc: $(cat "$tmp/err")"
WATTLENS_DB="$db" "$WATTLENS" model quantize "$M" "$tmp/alias.db" --type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "it is the run database" "$tmp/err" \
  && ok "model quantize IN a-link-to-DB refused (2)" || bad "model quantize OUT=DB exit $rc: $(cat "$tmp/err")"
WATTLENS_DB="$db" "$WATTLENS" model synth -o "$db-wal" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && [ ! -e "$db-wal" ] && grep -q "it is the run database's wal file" "$tmp/err" \
  && ok "model synth -o DB-wal refused (2)" || bad "model synth -o DB-wal exit $rc: $(cat "$tmp/err")"
WATTLENS_DB="$db" "$WATTLENS" model synth -o - 1<>"$db" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "output to stdout: it is the run database" "$tmp/err" \
  && ok "model synth -o - 1<>DB refused (2)" || bad "model synth -o - 1<>DB exit $rc: $(cat "$tmp/err")"
cmp -s "$db" "$tmp/before.db" && ok "the refused model outputs left the database as it was" \
  || bad "a refused model output changed the database"
n=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
[ "$n" = 3 ] && ok "the database still holds its 3 runs" || bad "runs after refused outputs: $n"
"$WATTLENS" export --db "$db" "$id" -f json -o "$tmp/out.json" >/dev/null 2>&1 \
  && python3 -m json.tool "$tmp/out.json" >/dev/null && ok "export -o another file works" \
  || bad "export -o another file"

# --- output that cannot be written: one message with its cause, exit 1 ---------------------
for c in "show $id" "export $id -f json" "export $id -f csv" "runs"; do
  # shellcheck disable=SC2086
  "$WATTLENS" $c --db "$db" >/dev/full 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "No space left" "$tmp/err" \
    && ok "$c >/dev/full: one error line" || bad "$c >/dev/full: exit $rc, $(cat "$tmp/err")"
done

# --- a database that does not exist -----------------------------------------------------
for c in "runs" "show $id" "export $id -f json" "rm $id" "gc --keep 1 --dry-run"; do
  # shellcheck disable=SC2086
  "$WATTLENS" $c --db "$tmp/nodir/typo.db" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && grep -q "no run database at" "$tmp/err" && ok "$c on a missing DB: error" \
    || bad "$c on a missing DB: exit $rc, $(cat "$tmp/err")"
done
[ ! -e "$tmp/nodir" ] && ok "nothing created for a missing DB" || bad "a missing DB was created"
# no default path at all (no WATTLENS_DB, XDG_DATA_HOME or HOME: cron, env -i): say so, as
# run and measure do, not "nothing was recorded there yet"
for c in "runs" "show $id" "rm $id" "gc --keep 1"; do
  # shellcheck disable=SC2086
  env -u WATTLENS_DB -u XDG_DATA_HOME -u HOME "$WATTLENS" $c >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && grep -q "cannot find a default database path" "$tmp/err" \
    && ! grep -q "nothing was recorded" "$tmp/err" && ok "$c with no default path: named" \
    || bad "$c with no default path: exit $rc, $(cat "$tmp/err")"
done
[ ! -e "$WATTLENS_DB" ] || bad "the default DB was created" # common.sh sets it, under $tmp
"$WATTLENS" runs --db '' >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "--db '' is a usage error" || bad "--db '' exit $rc"

# --- an id with one character too many is not a run id (not "too short") ----------------
"$WATTLENS" show "${id}0" --db "$db" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "not a run id (37 characters; a full id has 36)" "$tmp/err" \
  && ! grep -q "first 4" "$tmp/err" && ok "show ID+1 char: not a run id" \
  || bad "show ID+1 char: exit $rc, $(cat "$tmp/err")"

# --- a malformed or too short id is a usage error (2), found before the database is opened:
# the same with a database that does not exist; rm removes nothing when one of its ids is bad
for c in "show 7f" "show ABCD" "export 7f -f json" "export ABCD -f csv" "rm 7f" "rm $id ABCD"; do
  for d in "$db" "$tmp/nodir/typo.db"; do
    # shellcheck disable=SC2086
    "$WATTLENS" $c --db "$d" >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc = 2 ] && grep -q "give the full id or at least its first 4 characters\|not a run id (lowercase hex" "$tmp/err" \
      && grep -q "Try 'wattlens" "$tmp/err" && ! grep -q "no run database" "$tmp/err" \
      && ok "$c (--db ${d##*/}): usage error" || bad "$c (--db ${d##*/}): exit $rc, $(cat "$tmp/err")"
  done
done
n=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
[ "$n" = 3 ] && ok "rm with a bad id removed nothing" || bad "runs after rm with a bad id: $n"

# --- gc --dry-run counts -------------------------------------------------------------------
"$WATTLENS" gc --db "$db" --keep 1 --dry-run >"$tmp/gc" 2>&1
grep -q "2 runs would be removed; 1 run would be kept" "$tmp/gc" && ok "gc --dry-run counts" \
  || bad "gc --dry-run: $(tail -1 "$tmp/gc")"
left=$("$WATTLENS" gc --db "$db" --keep 1 --dry-run --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs_left"])')
[ "$left" = 1 ] && ok "gc --dry-run --json runs_left" || bad "runs_left $left"

# --- rm --json: the full ids removed, the arguments that were not ---------------------------
rdb="$tmp/rm.db"
for i in 1 2; do "$WATTLENS" -q measure --db "$rdb" -- true >/dev/null || bad "measure $i for rm"; done
ids=$("$WATTLENS" runs --db "$rdb" --json | python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)["runs"]))')
set -- $ids
# (no version 4 UUID has 'f' at position 14: a well-formed id of no run)
"$WATTLENS" rm --db "$rdb" --json "${1:0:8}" ffffffff-ffff-f "$1" "${2:0:4}" >"$tmp/rm.json" 2>"$tmp/err"; rc=$?
python3 - "$tmp/rm.json" "$1" "$2" <<'PY' 2>"$tmp/py" && [ $rc = 1 ] && grep -q "'ffffffff-ffff-f'" "$tmp/err" \
  && ok "rm --json: removed (full ids, once each) and not_removed, exit 1, the reason on stderr" \
  || bad "rm --json: exit $rc, $(cat "$tmp/rm.json" "$tmp/err" "$tmp/py")"
import json, sys
assert json.load(open(sys.argv[1])) == {"removed": [sys.argv[2], sys.argv[3]], "not_removed": ["ffffffff-ffff-f"]}
PY
n=$("$WATTLENS" runs --db "$rdb" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
[ "$n" = 0 ] && ok "rm --json removed both runs" || bad "runs left after rm --json: $n"

# --- -q: nothing on stderr but errors --------------------------------------------------------
"$WATTLENS" -q run --db "$db" -m "$M" -n 4 -t 1 --baseline 0 --settle 0 >/dev/null 2>"$tmp/err"
[ ! -s "$tmp/err" ] && ok "-q run: stderr empty" || bad "-q run stderr: $(cat "$tmp/err")"
"$WATTLENS" -q measure --db "$db" -- true >/dev/null 2>"$tmp/err"
[ ! -s "$tmp/err" ] && ok "-q measure: stderr empty" || bad "-q measure stderr: $(cat "$tmp/err")"

# --- the default price is said to be one; a given one is not ----------------------------------
"$WATTLENS" show --db "$db" "$id" >"$tmp/show" 2>&1
grep -q "(default price)" "$tmp/show" && ok "show: default price labelled" || bad "no default-price label"
"$WATTLENS" run --db "$db" -m "$M" -n 4 -t 1 --baseline 0 --settle 0 --price-kwh 0.5 \
  --co2-g-kwh 100 --json >"$tmp/run.json" 2>/dev/null
python3 - "$tmp/run.json" <<'PY' && ok "run --price-kwh: defaults_used false" || bad "given price reported as default"
import json, sys
j = json.load(open(sys.argv[1]))
c = j["summary"]["cost"] if "summary" in j else j["cost"]
assert c["defaults_used"] is False and abs(c["price_per_kwh"] - 0.5) < 1e-12, c
PY

# --- stored JSON text has 15 significant digits, as every output -----------------------------
# The CSV export keeps the stored text of the run's JSON columns: a given price of 0.7 reads 0.7
# there as in the JSON export (old: 0.69999999999999996 in the CSV), and no number written into
# them (sequences, sensor provenance of a run and of a measure) has more than 15 digits.
ddb="$tmp/digits.db"
"$WATTLENS" run --db "$ddb" -m "$M" -n 4 -t 1 --baseline 0 --settle 0 --price-kwh 0.7 \
  --co2-g-kwh 0.1 --batch 2 -p a -p b >/dev/null 2>"$tmp/err" || bad "run --price-kwh 0.7: $(cat "$tmp/err")"
"$WATTLENS" measure --db "$ddb" -- true >/dev/null 2>"$tmp/err" || bad "measure: $(cat "$tmp/err")"
for rid in $("$WATTLENS" runs --db "$ddb" --json | python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)["runs"]))'); do
  "$WATTLENS" export --db "$ddb" "$rid" -f csv >"$tmp/d.csv" 2>"$tmp/err" || bad "export csv: $(cat "$tmp/err")"
  "$WATTLENS" export --db "$ddb" "$rid" -f json >"$tmp/d.json" 2>"$tmp/err" || bad "export json: $(cat "$tmp/err")"
  python3 - "$tmp/d.csv" "$tmp/d.json" <<'PY' && ok "stored JSON text: 15 digits ($rid)" || bad "stored JSON text digits ($rid)"
import csv, json, re, sys
lines = open(sys.argv[1], newline="").read().split("\n\n")[0].splitlines()[2:]  # "# metadata", header
meta = {row[0]: row[1] for row in csv.reader(lines)}
run = json.load(open(sys.argv[2]))["run"]
for col in ("model_features", "sampling", "sensor_provenance", "extra"):
    text = meta.get(col, "")
    if not text:
        continue
    json.loads(text)
    for num in re.findall(r'(?<=[:\[,])-?[0-9][0-9.]*(?:[eE][-+]?[0-9]+)?(?=[,}\]])', text):
        digits = re.sub(r"[eE].*", "", num).replace("-", "").replace(".", "").lstrip("0").rstrip("0")
        assert len(digits) <= 15, (col, num)
if run["kind"] == "inference":
    assert '"price_per_kwh":0.7,' in meta["extra"] and '"co2_g_per_kwh":0.1,' in meta["extra"], meta["extra"]
    assert run["extra"]["price_per_kwh"] == 0.7 and run["extra"]["co2_g_per_kwh"] == 0.1, run["extra"]
    assert len(run["extra"]["sequences"]) == 2, run["extra"]
PY
done

# --- runs --search is caseless for all of Unicode (its own database: the counts above stay) ---
sdb="$tmp/search.db"
for p in "Une école à Paris" "Die Straße" "plain prompt"; do
  "$WATTLENS" run --db "$sdb" -m "$M" -p "$p" -n 2 -t 1 --baseline 0 --settle 0 >/dev/null 2>&1 \
    || bad "run -p '$p' failed"
done
found() {
  "$WATTLENS" runs --db "$sdb" --search "$1" --json 2>"$tmp/err" \
    | python3 -c 'import json,sys; print("|".join(sorted(r["prompt"] for r in json.load(sys.stdin)["runs"])))'
}
[ "$(found ÉCOLE)" = "Une école à Paris" ] && ok "runs --search ÉCOLE finds école" || bad "ÉCOLE: '$(found ÉCOLE)' $(cat "$tmp/err")"
[ "$(found STRASSE)" = "Die Straße" ] && ok "runs --search STRASSE finds Straße" || bad "STRASSE: '$(found STRASSE)'"
[ "$(found pLAIN)" = "plain prompt" ] && ok "runs --search stays caseless for ASCII" || bad "pLAIN: '$(found pLAIN)'"
"$WATTLENS" runs --db "$sdb" --search $'\xff\xfe' --json >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["total"] == 0' "$tmp/out" \
  && ok "runs --search with invalid UTF-8: no match, no error" || bad "invalid UTF-8 search: exit $rc, $(cat "$tmp/err")"

# --- runs that match nothing: why (the filters, or no runs at all) --------------------
# filters that leave none say so and how many runs there are, not "record one"
"$WATTLENS" runs --db "$sdb" --tag nosuchtag >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && grep -qx "No runs match these filters (the database holds 3 runs)." "$tmp/out" \
  && ! grep -q "Record one" "$tmp/out" && ok "runs --tag X matching nothing: the filters, 3 runs" \
  || bad "runs --tag X (rc $rc): $(cat "$tmp/out" "$tmp/err")"
"$WATTLENS" runs --db "$sdb" --search pLAIN --offset 5 >"$tmp/out" 2>&1
grep -qx "No runs on this page (1 match; lower --offset)." "$tmp/out" && ok "runs past the last page" \
  || bad "runs past the last page: $(cat "$tmp/out")"
# a database without runs: record one, filtered or not
cp "$sdb" "$tmp/none.db"
# shellcheck disable=SC2046
"$WATTLENS" rm --db "$tmp/none.db" $("$WATTLENS" runs --db "$sdb" --json \
  | python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)["runs"]))') >/dev/null 2>&1
for f in "" "--tag nosuchtag"; do
  # shellcheck disable=SC2086
  "$WATTLENS" runs --db "$tmp/none.db" $f >"$tmp/out" 2>&1
  grep -qx "No runs in the database yet. Record one with 'wattlens measure -- CMD' or 'wattlens run'." "$tmp/out" \
    && ok "runs $f on a database without runs: record one" || bad "runs $f without runs: $(cat "$tmp/out")"
done
rm -f "$tmp/none.db"*

# --- a database in a directory this user cannot write -------------------------------------
# Readers read it; writers fail and say why; a write-ahead log that cannot be used is an
# error, never a silently stale list. Root writes anywhere, so the commands run as nobody.
ro="$tmp/ro"
mkdir "$ro" "$tmp/live"
cp "$db" "$ro/runs.db"
chmod 755 "$tmp" && chmod 644 "$ro/runs.db"
as_user() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; else "$@"; fi
}
chmod 555 "$ro"
if ! as_user test -r "$ro/runs.db" -a -x "$WATTLENS" -a -r "$M" 2>/dev/null; then
  skip_other_user "cannot run as an unprivileged user that reaches $ro, $WATTLENS and $M (read-only directory checks skipped)"
else
  want=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
  n=$(as_user "$WATTLENS" runs --db "$ro/runs.db" --json 2>"$tmp/err" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
  [ "$n" = "$want" ] && ok "runs in a read-only directory: $n runs" || bad "runs read-only dir: '$n' of $want, $(cat "$tmp/err")"
  as_user "$WATTLENS" show --db "$ro/runs.db" "$id" >"$tmp/out" 2>"$tmp/err" && grep -q "$id" "$tmp/out" \
    && ok "show in a read-only directory" || bad "show read-only dir: $(cat "$tmp/err")"
  as_user "$WATTLENS" export --db "$ro/runs.db" "$id" -f json 2>"$tmp/err" | python3 -m json.tool >/dev/null \
    && ok "export in a read-only directory" || bad "export read-only dir: $(cat "$tmp/err")"
  # gc --dry-run only reads: it lists what would go, as the owner's would
  as_user "$WATTLENS" gc --db "$ro/runs.db" --keep 1 --dry-run >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] && grep -q "would be removed" "$tmp/out" && ok "gc --dry-run in a read-only directory" \
    || bad "gc --dry-run read-only dir: exit $rc, $(cat "$tmp/err")"
  as_user "$WATTLENS" gc --db "$ro/runs.db" --keep 1 >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && grep -q "directory is not writable" "$tmp/err" && ok "gc in a read-only directory: error" \
    || bad "gc read-only dir: exit $rc, $(cat "$tmp/err")"
  for c in "measure -- true" "rm $id"; do
    # shellcheck disable=SC2086
    as_user "$WATTLENS" ${c%% *} --db "$ro/runs.db" ${c#* } >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc = 1 ] && grep -q "directory is not writable" "$tmp/err" && ok "${c%% *} in a read-only directory: error" \
      || bad "${c%% *} read-only dir: exit $rc, $(cat "$tmp/err")"
  done
  # the file (root's, 0644) is read-only to this user too: both causes are
  # named, so that fixing the directory does not meet a second refusal (only
  # the directory was, after "preparing a query:")
  as_user "$WATTLENS" rm --db "$ro/runs.db" "$id" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && grep -q "runs.db: the database file is read-only, and its directory is not writable by this user either" "$tmp/err" \
    && ! grep -q "preparing a query" "$tmp/err" && ok "rm: a read-only file in a read-only directory names both" \
    || bad "read-only file and directory: exit $rc, $(cat "$tmp/err")"
  # a file this user can write in that directory: only the directory is named
  chmod u+w "$ro" && cp "$db" "$ro/mine.db" && chmod 666 "$ro/mine.db" && chmod 555 "$ro"
  as_user "$WATTLENS" rm --db "$ro/mine.db" "$id" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && grep -q "directory is not writable" "$tmp/err" && ! grep -q "file is read-only" "$tmp/err" \
    && ok "rm: a writable file in a read-only directory names the directory" \
    || bad "writable file, read-only directory: exit $rc, $(cat "$tmp/err")"
  chmod u+w "$ro" && rm -f "$ro/mine.db" && chmod 555 "$ro"
  # a new database there: the message names the directory, not "unable to open database file"
  as_user "$WATTLENS" run --db "$ro/new.db" -m "$M" -n 1 --baseline 0 --settle 0 >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && grep -q "cannot create the database: its directory $ro is not writable by this user" "$tmp/err" \
    && ok "run creating a database in a read-only directory: says the directory is not writable" \
    || bad "new database in a read-only directory: exit $rc, $(cat "$tmp/err")"
  cmp -s "$db" "$ro/runs.db" && [ "$(ls "$ro")" = runs.db ] && ok "the read-only directory is unchanged" \
    || bad "read-only directory changed: $(ls "$ro")"

  # A run committed only to the write-ahead log (another connection keeps the log), copied
  # without its index (-shm): the file alone would miss that run.
  cp "$db" "$tmp/live/runs.db"
  chmod u+w "$ro"
  python3 - "$WATTLENS" "$tmp/live/runs.db" "$ro" <<'PY' || bad "could not build a database with a log"
import shutil, sqlite3, subprocess, sys
exe, live, ro = sys.argv[1:]
held = sqlite3.connect(live)
before = held.execute("select count(*) from runs").fetchone()[0]
subprocess.run([exe, "measure", "--db", live, "--", "true"], check=True, capture_output=True)
shutil.copy(live, ro + "/runs.db")
shutil.copy(live + "-wal", ro + "/runs.db-wal")
held.close()
alone = sqlite3.connect("file:" + ro + "/runs.db?immutable=1", uri=True)
assert alone.execute("select count(*) from runs").fetchone()[0] == before  # the new run is in the log
PY
  chmod 644 "$ro/runs.db-wal" && chmod 555 "$ro"
  as_user "$WATTLENS" runs --db "$ro/runs.db" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 1 ] && [ ! -s "$tmp/out" ] && grep -q "runs.db-wal holds changes" "$tmp/err" \
    && ok "runs with an unusable log: an error, not a stale list" || bad "unusable log: exit $rc, $(cat "$tmp/out" "$tmp/err")"
fi
chmod 755 "$ro"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
