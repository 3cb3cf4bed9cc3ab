#!/usr/bin/env bash
# What `show` and `runs` say about a stored run whose inputs are partly not
# figures, on copies of a real run (stories260K, the CPU-time model) edited
# as the recorder or another writer leaves them: a currency stored without
# its price (and `run` refusing one).
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
W=$WATTLENS
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
db="$tmp/runs.db"
mkdir -p "$tmp/sys" "$tmp/dev"
export WATTLENS_DB="$tmp/unused.db" WATTLENS_SYSFS_ROOT="$tmp/sys" WATTLENS_DEV_ROOT="$tmp/dev" \
       WATTLENS_NVML_LIB="$tmp/no-libnvidia-ml.so.1" WATTLENS_POWERMETRICS="$tmp/no-powermetrics"
q=(-m "$M" --temp 0 --baseline 0 --settle 0 -t 1)
"$W" run "${q[@]}" -n 8 --db "$db" >/dev/null 2>"$tmp/err" || bad "run -n 8: $(cat "$tmp/err")"
id=$("$W" runs --db "$db" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')

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

# --- a currency is the unit of its price -----------------------------------------------------
"$W" run "${q[@]}" -n 2 --db "$tmp/cur.db" --currency EUR >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "currency EUR needs --price-kwh: the default price (0.15 per kWh) is in USD" "$tmp/err" \
  && [ ! -e "$tmp/cur.db" ] \
  && ok "run --currency EUR without --price-kwh is a usage error" || bad "run --currency alone: rc $rc: $(cat "$tmp/err")"
cp "$db" "$tmp/jpy.db"
sql "$tmp/jpy.db" "update runs set extra = json_set(coalesce(extra, '{}'), '$.currency', 'JPY') where id = ?1"
"$W" show "$id" --db "$tmp/jpy.db" >"$tmp/jpy.txt" 2>"$tmp/err" || bad "show jpy.db: $(cat "$tmp/err")"
grep -qE "^  cost  .* USD .*at 0.15 USD/kWh \(default price\)$" "$tmp/jpy.txt" && ! grep -q JPY "$tmp/jpy.txt" \
  && ok "a stored currency without its price: the default price stays in USD" \
  || bad "currency without a price: $(grep cost "$tmp/jpy.txt")"
sql "$tmp/jpy.db" "update runs set extra = json_set(extra, '$.price_per_kwh', 30) where id = ?1"
"$W" show "$id" --db "$tmp/jpy.db" | grep -qE "^  cost  .* JPY .*at 30 JPY/kWh$" \
  && ok "a stored currency with its price is the cost's" || bad "currency with a price"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
