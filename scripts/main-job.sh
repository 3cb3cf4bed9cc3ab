#!/usr/bin/env bash
# `make run`: the main job (until the engine exists). Shows what this machine
# can measure, then measures a short built-in CPU workload: after a 1 s idle
# baseline, hashing 1 GiB of zeros with sha256sum (a few seconds of one busy
# core; coreutils only, no network, no files).
set -euo pipefail
wl=${1:-build/wattlens}
"$wl" sensors
echo
echo "== measuring a built-in CPU workload: sha256 of 1 GiB of zeros, after a 1 s idle baseline"
"$wl" measure --baseline 1 -- sh -c 'head -c 1G /dev/zero | sha256sum >/dev/null'
