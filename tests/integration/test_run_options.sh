#!/usr/bin/env bash
# `wattlens run` options whose values are stored with the run:
# - --tags: all are stored (100 here), where only the first 64 were kept
#   (a later one was never found by `runs --tag`); one given twice is stored once, with a
#   note (run said nothing).
# - --currency: 1 to 8 bytes of printable UTF-8 (a quote included). A byte that is not UTF-8
#   (0xA3, `£` in Latin-1) was stored into the run's extra, which the
#   summary's JSON reader then could not read: run and show lost every key
#   of it (the price: the cost at the default price; the batch's Sequences
#   table) with exit 0. A control byte was refused by SQLite and the error
#   ignored (the price shown in USD). Both are now usage errors, before
#   anything is stored; a currency in UTF-8 (€) is stored and read back
#   with the price and the Sequences table.
set -u
W=${WATTLENS:?}
: "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"

# quick RUN ARGS...: a short run of stories260K (no baseline, no settle)
quick() { "$W" run -m "$M" -t 1 -n 2 --baseline 0 --settle 0 "$@"; }

# --- --tags: as many as given --------------------------------------------------------------------
tags() { python3 -c "import sys; print(','.join('t%d' % i for i in range(int(sys.argv[1]))))" "$1"; }
db="$tmp/tags.db"
quick --db "$db" --tags "$(tags 100)" --json >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["summary"]["run"]["tags"]
assert sorted(t) == sorted("t%d" % i for i in range(100)), t' "$tmp/out" \
  && [ "$("$W" runs --db "$db" --tag t99 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')" = 1 ]; then
  ok "run --tags with 100 tags: all stored, the last one found by runs --tag"
else
  bad "run --tags with 100 tags (rc $rc): $(cat "$tmp/err")"
fi

# --- --tags: a tag given twice is carried once, with a note (none under -q) -----------------
# the store keeps one row per tag, so "b,a,b" is stored as b and a; run said nothing about the
# repeat, which reads as a typo passed over (a tag meant and mistyped)
db="$tmp/tags-twice.db"
quick --db "$db" --tags b,a,b,a --json >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "more than once" "$tmp/err")" = 1 ] \
  && grep -q "^wattlens run: --tags names 'b' more than once; the run carries each tag once$" "$tmp/err" \
  && python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["summary"]["run"]["tags"] == ["a", "b"]' "$tmp/out" \
  && "$W" runs --db "$db" --tag b --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["runs"]
assert len(r) == 1 and r[0]["tags"] == ["a", "b"], r'; then
  ok "run --tags b,a,b,a: each tag stored once, one note"
else
  bad "run --tags b,a,b,a (rc $rc): $(cat "$tmp/err")"
fi
"$W" -q run -m "$M" -t 1 -n 2 --baseline 0 --settle 0 --db "$db" --tags a,a >/dev/null 2>"$tmp/err" \
  && ! grep -q "more than once" "$tmp/err" && ok "run -q --tags a,a: no note" \
  || bad "run -q --tags a,a: $(cat "$tmp/err")"

# --- --currency: printable UTF-8 -------------------------------------------------------------
for c in $'\xa3' $'A\x01' $'A\t' $'\xc2\x9b' $'\xe2\x80\xae' '' 123456789 'a\b'; do
  db="$tmp/cur.db"
  quick --db "$db" --price-kwh 0.3 --currency "$c" --json >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q "^wattlens run: --currency: 1 to 8 bytes of printable UTF-8" "$tmp/err" \
    && [ ! -s "$tmp/out" ] && [ ! -e "$db" ]; then
    ok "run --currency (bytes $(printf %s "$c" | od -An -tx1 | tr -d " \n")): refused, exit 2, nothing stored"
  else
    bad "run --currency (bytes $(printf %s "$c" | od -An -tx1 | tr -d " \n")) (rc $rc): $(cat "$tmp/err")"
  fi
done
db="$tmp/euro.db"
quick --db "$db" -n 4 --batch 2 --price-kwh 0.3 --currency € --json >"$tmp/euro.json" 2>"$tmp/err"; rc=$?
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/euro.json" 2>/dev/null)
"$W" show --db "$db" "$id" >"$tmp/euro.txt" 2>>"$tmp/err"
if [ $rc = 0 ] && python3 - "$tmp/euro.json" "$tmp/euro.txt" <<'PY'; then
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
c = s["cost"]
assert c["currency"] == "€" and c["price_per_kwh"] == 0.3, c
assert len(s["batch"]["sequences"]) == 2, s["batch"]
t = open(sys.argv[2]).read()
assert " € (" in t and "at 0.3 €/kWh" in t and "(default price)" not in t, t
assert "\nSequences (batch of 2;" in t, t
PY
  ok "run --currency €: stored, read back with its price and the batch's Sequences table"
else
  bad "run --currency € (rc $rc): $(cat "$tmp/err")"
fi
# a quote is stored and read back as it is (the run's extra is encoded by jansson)
db="$tmp/quote.db"
quick --db "$db" --price-kwh 0.3 --currency 'a"b' --json >"$tmp/quote.json" 2>"$tmp/err"; rc=$?
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/quote.json" 2>/dev/null)
"$W" show --db "$db" "$id" >"$tmp/quote.txt" 2>>"$tmp/err"
"$W" show --db "$db" "$id" --json >"$tmp/quote.show.json" 2>>"$tmp/err"
if [ $rc = 0 ] && python3 - "$tmp/quote.json" "$tmp/quote.txt" "$tmp/quote.show.json" <<'PY'; then
import json, sys
for c in (json.load(open(sys.argv[1]))["summary"]["cost"], json.load(open(sys.argv[3]))["cost"]):
    assert c["currency"] == 'a"b' and c["price_per_kwh"] == 0.3, c
t = open(sys.argv[2]).read()
assert 'at 0.3 a"b/kWh' in t and "(default price)" not in t, t
PY
  ok "run --currency 'a\"b': stored, read back with its price by run and show"
else
  bad "run --currency 'a\"b' (rc $rc): $(cat "$tmp/err")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
