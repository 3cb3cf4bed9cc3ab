#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building and testing wattlens need,
# and only those that are missing. Idempotent: runs `apt-get update` only
# when something must be installed, that is when a required package is
# missing or apt's current lists have a candidate for a missing optional one
# (one the distribution lacks does not update apt on every make). Set
# WL_DEPS_SKIP=1 to skip entirely.
#
# Two lists. REQUIRED is what `make`, `make run` and `make check` need: a
# missing one that cannot be installed stops make. OPTIONAL serves one make
# target each (`make fuzz`, `make format`): installed when the distribution
# has it; otherwise a note says which target will not work, and make goes
# on. On a host without dpkg and apt-get (macOS, Fedora, ...) nothing is
# installed: a note lists the packages to install by hand, and the exit
# status is 0.
set -euo pipefail
[ "${WL_DEPS_SKIP:-0}" = 1 ] && exit 0

REQUIRED=(
  build-essential cmake pkg-config git
  python3         # integration tests check JSON and the database with it
  procps          # integration tests find the processes of a measured command (pgrep)
  libcmocka-dev   # unit tests
  libsqlite3-dev  # run store
  libjansson-dev  # JSON
  libplist-dev    # macOS powermetrics parsing
  libutf8proc-dev # Unicode data: tokenizers, caseless run search
)
# The clang runtime comes from llvm-defaults (libclang-rt-dev), so it is
# always the one of the default `clang`, whatever its version. The
# sanitizer builds (make check-asan, check-tsan) use the default compiler's
# own runtimes (gcc: libasan, libtsan, with build-essential).
OPTIONAL=(
  clang libclang-rt-dev # make fuzz: libFuzzer
  clang-format          # make format
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: no dpkg/apt-get on this host: install by hand the equivalents of" \
    "${REQUIRED[*]} (and for make fuzz / make format: ${OPTIONAL[*]});" \
    "set WL_DEPS_SKIP=1 to silence this note" >&2
  exit 0
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# candidate PKG: true when apt's current lists have a version of PKG to install
candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

missing=() optional=()
for p in "${REQUIRED[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${OPTIONAL[@]}"; do installed "$p" || optional+=("$p"); done
[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && exit 0

# split_optional: available = the missing optional packages apt has a
# candidate for in its current lists, absent = the others
split_optional() {
  available=() absent=()
  for p in "${optional[@]}"; do
    if candidate "$p"; then available+=("$p"); else absent+=("$p"); fi
  done
}
note_absent() {
  if [ ${#absent[@]} -ne 0 ]; then
    echo "deps: not available here: ${absent[*]}; make fuzz (clang, libclang-rt-dev) or" \
      "make format (clang-format) may not work; everything else will" >&2
  fi
}
# Decided before any update: an optional package the lists have no
# candidate for is not a reason to update (it would be one on every make).
split_optional
if [ ${#missing[@]} -eq 0 ] && [ ${#available[@]} -eq 0 ]; then
  note_absent
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    if [ ${#missing[@]} -ne 0 ]; then
      echo "deps: need root (or sudo) to install: ${missing[*]} ${optional[*]}" >&2
      exit 1
    fi
    echo "deps: not installed (no root or sudo): ${optional[*]}; make fuzz or make format" \
      "may not work" >&2
    exit 0
  fi
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing missing Debian packages: ${missing[*]} ${available[*]}" >&2
$SUDO apt-get update -qq
if [ ${#missing[@]} -ne 0 ]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
split_optional # again, with the updated lists
if [ ${#available[@]} -ne 0 ] &&
  ! $SUDO apt-get install -y -qq --no-install-recommends "${available[@]}"; then
  absent+=("${available[@]}")
fi
note_absent
exit 0
