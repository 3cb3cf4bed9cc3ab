#!/usr/bin/env bash
# `run` and `measure` make the missing directories of their database; for a
# path the user named (--db, WATTLENS_DB), likely a typo when its directories
# do not exist, a note names each one made (old: made without a word); the
# default path's (XDG_DATA_HOME/wattlens) are made silently, and -q silences
# the note.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
cd "$tmp" || exit 1
export XDG_DATA_HOME="$tmp/xdg" WATTLENS_DB=

"$W" measure --db "$tmp/typo/runs/x.db" -- true >out 2>err; rc=$?
want="wattlens measure: note: made the directories $tmp/typo, $tmp/typo/runs for the run database $tmp/typo/runs/x.db (--db named it)"
if [ $rc = 0 ] && [ -s "$tmp/typo/runs/x.db" ] && grep -qxF "$want" err; then ok "--db: each directory made named"
else bad "--db (rc $rc): $(cat err)"; fi
# the directories exist now: nothing to say
"$W" measure --db "$tmp/typo/runs/y.db" -- true >out 2>err; rc=$?
if [ $rc = 0 ] && ! grep -q "made the director" err; then ok "--db in an existing directory: no note"
else bad "--db again (rc $rc): $(cat err)"; fi
# a relative path, one directory
(cd "$tmp" && "$W" measure --db rel/x.db -- true >out 2>err); rc=$?
if [ $rc = 0 ] && grep -qxF "wattlens measure: note: made the directory rel for the run database rel/x.db (--db named it)" err
then ok "relative --db: one directory"; else bad "relative --db (rc $rc): $(cat err)"; fi
WATTLENS_DB="$tmp/env/x.db" "$W" measure -- true >out 2>err; rc=$?
if [ $rc = 0 ] && grep -qF "note: made the directory $tmp/env for the run database $tmp/env/x.db (WATTLENS_DB named it)" err
then ok "WATTLENS_DB: the directory named"; else bad "WATTLENS_DB (rc $rc): $(cat err)"; fi
"$W" -q measure --db "$tmp/quiet/x.db" -- true >out 2>err; rc=$?
if [ $rc = 0 ] && [ -s "$tmp/quiet/x.db" ] && [ ! -s err ]; then ok "-q: no note"
else bad "-q (rc $rc): $(cat err)"; fi
# the default path: made without a word
"$W" measure -- true >out 2>err; rc=$?
if [ $rc = 0 ] && [ -s "$tmp/xdg/wattlens/wattlens.db" ] && ! grep -q "made the director" err
then ok "the default path: no note"; else bad "default path (rc $rc): $(cat err)"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
