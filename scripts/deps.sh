#!/usr/bin/env bash
# Installs the Debian packages that building and testing wattlens need, and only
# those that are missing. Idempotent: runs `apt-get update` only when something
# must be installed. Set WL_DEPS_SKIP=1 to skip entirely.
set -euo pipefail
[ "${WL_DEPS_SKIP:-0}" = 1 ] && exit 0

PKGS=(
  build-essential cmake pkg-config git
  python3                           # integration tests check JSON and the database with it
  clang libclang-rt-14-dev          # fuzzers (libFuzzer) and sanitizer runtimes
  libcmocka-dev                     # unit tests
  libsqlite3-dev                    # run store
  libjansson-dev                    # JSON
  libplist-dev                      # macOS powermetrics parsing
  libutf8proc-dev                   # Unicode data: tokenizers, caseless run search
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
