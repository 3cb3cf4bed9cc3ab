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

# The set-up starts with `make`, which a minimal Debian/Ubuntu (a container,
# a cloud image) does not have: the Set-up section says how to get it
# (scripts/deps.sh, which runs without make, or apt-get install make); it
# said only "the build installs any missing Debian packages itself"
python3 - "$src/README.md" <<'PY' && ok "the set-up says how to get make" || bad "README's Set-up does not say how to get make"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^## Set-up\n(.*?)^## ", text, re.S | re.M)
assert m, "no Set-up section"
setup = m.group(1)
assert "make: command not found" in setup, setup[:300]
assert re.search(r"`scripts/deps\.sh` first", setup) or "apt-get install -y make" in setup, setup[:300]
PY
[ -x "$src/scripts/deps.sh" ] && ok "scripts/deps.sh runs as written" || bad "scripts/deps.sh is not executable"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
