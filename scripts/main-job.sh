#!/usr/bin/env bash
# `make run`: the main job. Shows what this machine can measure, then profiles
# a generation on the built-in default model (a small synthetic llama made once
# into $XDG_CACHE_HOME/wattlens or ~/.cache/wattlens; its text is meaningless)
# and prints the complete profile, labelled with its energy source. The run is
# stored in the default database; `wattlens show ID` prints it again.
set -euo pipefail
wl=${1:-build/wattlens}
"$wl" sensors
echo
echo "== profiling a generation on the built-in model (1 s settle, 2 s idle baseline)"
"$wl" run -p "Once upon a time" -n 64 --depth module
