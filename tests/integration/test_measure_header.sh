#!/usr/bin/env bash
# measure's report header gives the command as it is stored and `show`
# prints it: quoted for a shell (an embedded ' as '\'', an empty argument as
# ''), its control bytes escaped (a newline as \x0a, so the header stays one
# line). Old: each argument with a blank or quote was wrapped in '...' as it
# was ("echo 'it's'"), an empty one vanished and a newline was printed raw.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
export WATTLENS_DB="$tmp/runs.db"
nl='
'
"$W" measure -b 0 -- true "it's" "" "a${nl}b" "'" >"$tmp/m.txt" 2>"$tmp/m.err"
[ $? = 0 ] && ok "measure ran" || bad "measure failed: $(cat "$tmp/m.err")"
head=$(grep '^wattlens measure:' "$tmp/m.txt")
# the stored quoting, then wl_cli_put_text's escapes (a backslash doubled)
want="wattlens measure: true 'it'\\\\''s' '' 'a\\x0ab' ''\\\\'''"
[ "$head" = "$want" ] && ok "header quotes and escapes the command" ||
  bad "header: [$head], want [$want]; report: $(cat "$tmp/m.txt")"
# one line: the newline argument does not split it
grep -q '^b' "$tmp/m.txt" && bad "a newline in an argument split the header" || ok "header is one line"
# the same text as `show` gives for the stored run
id=$(sed -n 's/.*saved as run \([0-9a-f-]*\).*/\1/p' "$tmp/m.err")
"$W" show "$id" >"$tmp/show.txt" 2>"$tmp/show.err"
shown=$(sed -n 's/^  command    //p' "$tmp/show.txt")
[ "wattlens measure: $shown" = "$head" ] && ok "header is show's command" ||
  bad "show's command [$shown] differs from the header [$head]"
# a byte any shell acts on is quoted too: `echo #x ~root` was stored bare,
# and pasted back it ran `echo` with a comment
"$W" measure -b 0 -- true '#x' '~root' '{a,b}' '[ab]' '!!' 'x=1' >"$tmp/s.txt" 2>"$tmp/s.err"
head=$(grep '^wattlens measure:' "$tmp/s.txt")
want="wattlens measure: true '#x' '~root' '{a,b}' '[ab]' '!!' x=1"
[ "$head" = "$want" ] && ok "header quotes #, ~, {, [ and !" || bad "header: [$head], want [$want]"
id=$(sed -n 's/.*saved as run \([0-9a-f-]*\).*/\1/p' "$tmp/s.err")
shown=$("$W" show "$id" 2>/dev/null | sed -n 's/^  command    //p')
[ "wattlens measure: $shown" = "$want" ] && ok "show quotes them as the header" ||
  bad "show's command [$shown], want [$want]"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
