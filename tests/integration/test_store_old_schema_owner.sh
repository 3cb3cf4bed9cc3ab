#!/usr/bin/env bash
# The owner's read commands (runs, show, export) never write a database of
# an older schema (schema 1: before n_seq; schema 2: before writer_start):
# they open it writable with no_migrate, with the usual locks, read it
# through the store's bridges, as a user who cannot write it does, and show
# what a migrated copy shows. Old: they opened it
# writable and migrated it, so that an older wattlens still using the file
# (another host, a pinned CI version) then found it "written by a newer
# wattlens". A command that writes anyway (gc) still migrates it.
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

# user_version of database $1 as SQLite reads it (the log's too)
version() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("pragma user_version").fetchone()[0])' "$1"
}

cmds=("runs --json" "show $id" "show $id --json" "export $id -f json" "export $id -f csv")
for v in 1 2; do
  f="$tmp/old/v$v.db"
  # want.*: what the owner sees once a command that writes (gc) has migrated a copy
  mkdir "$tmp/m$v" && cp "$f" "$tmp/m$v/v$v.db"
  "$WATTLENS" gc --db "$tmp/m$v/v$v.db" --keep 100 >/dev/null 2>&1 || bad "v$v: gc on a copy"
  [ "$(version "$tmp/m$v/v$v.db")" = 3 ] && ok "v$v: gc (a writer) migrates it" || bad "v$v: gc did not migrate"
  for i in "${!cmds[@]}"; do
    # shellcheck disable=SC2086
    "$WATTLENS" ${cmds[i]%% *} --db "$tmp/m$v/v$v.db" ${cmds[i]#* } >"$tmp/want.$v.$i" 2>&1 \
      || bad "v$v: ${cmds[i]} on a migrated copy"
  done
  sum=$(sha256sum <"$f")
  for i in "${!cmds[@]}"; do
    c=${cmds[i]}
    # shellcheck disable=SC2086
    "$WATTLENS" ${c%% *} --db "$f" ${c#* } >"$tmp/got" 2>&1; rc=$?
    [ $rc = 0 ] && cmp -s "$tmp/got" "$tmp/want.$v.$i" \
      && ok "v$v: the owner's $c shows what the migrated file shows" \
      || bad "v$v: $c exit $rc: $(diff "$tmp/want.$v.$i" "$tmp/got" | cut -c1-200 | head -5)"
  done
  [ "$(sha256sum <"$f")" = "$sum" ] && ok "v$v: the file is unchanged" || bad "v$v: the file changed"
  [ "$(ls "$tmp/old" | grep -c "^v$v.db-")" = 0 ] && ok "v$v: no file beside it" \
    || bad "v$v: files beside it: $(ls "$tmp/old")"
  [ "$(version "$f")" = "$v" ] && ok "v$v: still schema $v" || bad "v$v: migrated to $(version "$f")"
done

# a current file is read as before (writable: a dead run marked incomplete)
"$WATTLENS" show --db "$db" "$id" >/dev/null 2>&1 && ok "a current file: show reads it" \
  || bad "a current file: show failed"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
