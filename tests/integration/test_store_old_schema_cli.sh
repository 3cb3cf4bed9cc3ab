#!/usr/bin/env bash
# A database written by an older wattlens (schema 1: before n_seq; schema 2:
# before writer_start) is read by a user who cannot write it, and by
# `gc --dry-run`, which always opens read-only: the columns later migrations
# only added read as NULL (old: "schema version N needs a migration to 3,
# which a read-only open does not do"). runs, show and export show what they
# show for the migrated file, and the file stays byte for byte as it was,
# with no -wal, -shm or -journal beside it.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
db="$tmp/new.db"

"$WATTLENS" run --db "$db" -m "$M" -n 4 -t 1 --baseline 0 --settle 0 >/dev/null 2>&1 || bad "run failed"
"$WATTLENS" measure --db "$db" -- true >/dev/null 2>&1 || bad "measure failed"
id=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][-1]["id"])')
[ -n "$id" ] || bad "no run id"

# old/vN.db: the same runs without the columns that migrations after N added
make_old_schema_dbs "$db" "$tmp/old" || bad "could not build the old databases"

# want.N.*: what the owner sees once a writable open (gc: the owner's reads
# no longer migrate) has migrated a copy
cmds=("runs --json" "show $id" "export $id -f json" "export $id -f csv")
for v in 1 2; do
  cp "$tmp/old/v$v.db" "$tmp/migrated$v.db"
  "$WATTLENS" gc --db "$tmp/migrated$v.db" --keep 100 >/dev/null 2>&1 || bad "v$v: gc on a copy"
  for i in "${!cmds[@]}"; do
    # shellcheck disable=SC2086
    "$WATTLENS" ${cmds[i]%% *} --db "$tmp/migrated$v.db" ${cmds[i]#* } >"$tmp/want.$v.$i" 2>&1 \
      || bad "v$v: ${cmds[i]} on a migrated copy"
  done
done

# as_user CMD...: CMD as a user who cannot write $tmp/old (nobody under root)
as_user() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; else "$@"; fi
}
chmod 755 "$tmp" && chmod 644 "$tmp"/old/*.db && chmod 555 "$tmp/old"
other=1
as_user test -r "$tmp/old/v1.db" -a -x "$WATTLENS" 2>/dev/null && ! as_user test -w "$tmp/old" 2>/dev/null \
  || { other=0; skip_other_user "cannot run as a user that reads but cannot write $tmp/old (reader checks skipped)"; }

for v in 1 2; do
  f="$tmp/old/v$v.db"
  sum=$(sha256sum <"$f")
  # gc --dry-run always opens read-only, whoever runs it
  "$WATTLENS" gc --db "$f" --keep 1 --dry-run >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 0 ] && grep -q "dry run: 1 run would be removed; 1 run would be kept" "$tmp/out" \
    && ok "v$v: gc --dry-run reads it" || bad "v$v: gc --dry-run exit $rc: $(cat "$tmp/out" "$tmp/err")"
  if [ $other = 1 ]; then
    for i in "${!cmds[@]}"; do
      c=${cmds[i]}
      # shellcheck disable=SC2086
      as_user "$WATTLENS" ${c%% *} --db "$f" ${c#* } >"$tmp/got" 2>&1; rc=$?
      [ $rc = 0 ] && cmp -s "$tmp/got" "$tmp/want.$v.$i" \
        && ok "v$v: $c as another user shows what the migrated file shows" \
        || bad "v$v: $c exit $rc: $(diff "$tmp/want.$v.$i" "$tmp/got" | cut -c1-200 | head -5)"
    done
  fi
  [ "$(sha256sum <"$f")" = "$sum" ] && ok "v$v: the file is unchanged" || bad "v$v: the file changed"
  [ "$(ls "$tmp/old" | grep -c "^v$v.db-")" = 0 ] && ok "v$v: no file beside it" \
    || bad "v$v: files beside it: $(ls "$tmp/old")"
done
chmod 755 "$tmp/old"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
