#!/usr/bin/env bash
# The documents never present a command the binary does not have as if it
# existed: every `wattlens NAME` in README.md and docs/*.md whose NAME is not a
# command of `wattlens --help` (serve, record, ...) is in a paragraph that
# says it is planned ("planned" or "not built"). architecture.md opened with
# "three front ends: a CLI, ... (`wattlens serve`)" and named
# `wattlens record -- cmd` among what the product does.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
"$W" --help >"$tmp/help" 2>&1 || { bad "wattlens --help failed"; echo "$pass passed, $fail failed"; exit 1; }
# the command names: the lines under "Commands:" up to the blank line
sed -n '/^Commands:/,/^$/p' "$tmp/help" | awk 'NR > 1 && NF { print $1 }' >"$tmp/commands"
[ -s "$tmp/commands" ] && grep -qx run "$tmp/commands" && ok "commands read from --help" \
  || bad "no commands in --help: $(cat "$tmp/help")"
python3 - "$tmp/commands" "$src/README.md" "$src"/docs/*.md <<'PY' && ok "no unbuilt command presented as built" \
  || bad "a document names a command that is not built without saying so (see above)"
import re, sys
# "wattlens synth phi3 L2 ..." is the description `model synth` writes into a
# model's metadata, which the README quotes: text, not a command line
commands = set(open(sys.argv[1]).read().split()) | {"help", "synth"}
bad = 0
for path in sys.argv[2:]:
    text = open(path).read()
    for para in re.split(r"\n\s*\n", text):
        for name in re.findall(r"`wattlens (?:-[^\s`]+ )*([a-z][a-z-]*)", para):
            if name in commands:
                continue
            if "planned" in para or "not built" in para:
                continue
            print("%s: `wattlens %s` (no such command) in a paragraph that does not say it is "
                  "planned:\n%s\n" % (path, name, para.strip()[:400]))
            bad += 1
sys.exit(1 if bad else 0)
PY

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
