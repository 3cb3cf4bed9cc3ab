#!/usr/bin/env bash
# `wattlens run --cache-type`: the KV cache type is the one asked for (an F32
# cache holds twice the bytes of an F16 one), stored with the run, and a
# type the engine has not is refused with a usage error.
set -u
W=${WATTLENS:?}
: "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
db="$tmp/runs.db"

# kv_bytes TYPE: the stored run's kv_cache_bytes and kv_cache_type
kv_of() {
  "$W" run -m "$M" -n 4 -t 1 --baseline 0 --settle 0 --cache-type "$1" --db "$db" --json 2>"$tmp/err" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])' >"$tmp/id" || return 1
  "$W" export --db "$db" "$(cat "$tmp/id")" -f json | python3 -c '
import json, sys
r = json.load(sys.stdin)["run"]
print(r["kv_cache_bytes"], (r["extra"] or {}).get("kv_cache_type"))'
}
f16=$(kv_of f16) || bad "f16: $(cat "$tmp/err")"
f32=$(kv_of f32) || bad "f32: $(cat "$tmp/err")"
set -- $f16 $f32
[ "${2:-}" = F16 ] && [ "${4:-}" = F32 ] && ok "the cache type is stored ($2, $4)" || bad "stored: '$f16' '$f32'"
[ -n "${1:-}" ] && [ "${3:-}" = $((2 * ${1:-0})) ] && ok "an F32 cache is twice an F16 one ($1, $3 bytes)" \
  || bad "cache bytes: '$f16' '$f32'"

"$W" run -m "$M" --cache-type q8_0 --db "$db" >/dev/null 2>"$tmp/bad.err"
rc=$?
[ $rc = 2 ] && grep -q "cache-type must be f16 or f32" "$tmp/bad.err" && ok "an unknown type is a usage error" \
  || bad "unknown type: rc $rc: $(cat "$tmp/bad.err")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
