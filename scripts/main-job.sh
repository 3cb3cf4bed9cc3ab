#!/usr/bin/env bash
# `make run`: the main job. Shows what this machine can measure, then measures
# a short built-in CPU workload.
set -euo pipefail
wl=${1:-build/wattlens}
"$wl" sensors
echo
"$wl" measure -- "$wl" sensors --json >/dev/null
