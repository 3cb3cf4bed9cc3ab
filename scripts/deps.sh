#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building and testing wattlens need,
# and only those that are missing. Idempotent: apt is not touched when
# nothing is missing. Set WL_DEPS_SKIP=1 to skip entirely.
#
# Usage: scripts/deps.sh [--retry-optional] [BUILD_DIR]
#
# Two lists. REQUIRED is what `make`, `make run` and `make check` need: a
# missing one is installed (as root, or through sudo, which may ask for a
# password), and one that cannot be installed stops make. OPTIONAL serves
# one make target or check each (`make fuzz`, `make format`, the fsync
# checks of `make check`, which are skipped without strace) and never stops
# or prompts: it is installed as root or through `sudo -n` (no password),
# and when that cannot be done (no sudo rights, apt-get update or install
# failing, a package apt does not have) a note says which target or check
# will not work, once: the packages are remembered in BUILD_DIR/deps-optional-missing
# (default: build), and later runs leave them alone while that set of
# missing optional packages stays the same. `make fuzz` and `make format`
# pass --retry-optional, which tries once more. On a host without dpkg and
# apt-get (macOS, Fedora, ...) nothing is installed: a note lists the
# packages to install by hand, and the exit status is 0.
set -euo pipefail
[ "${WL_DEPS_SKIP:-0}" = 1 ] && exit 0

retry=0
if [ "${1:-}" = --retry-optional ]; then
  retry=1
  shift
fi
build_dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
stamp=$build_dir/deps-optional-missing

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
# own runtimes (gcc: libasan, libtsan, with build-essential). .ci/run does
# need the optional packages (it runs make fuzz, and make check's fsync
# checks want strace): it stops at once, before its checks, when make fuzz
# could not work.
OPTIONAL=(
  clang libclang-rt-dev # make fuzz: libFuzzer
  clang-format          # make format
  strace                # make check: a replaced file's directory fsynced (test_cli_output.sh)
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: no dpkg/apt-get on this host: install by hand the equivalents of" \
    "${REQUIRED[*]} (and for make fuzz, make format and make check's fsync checks:" \
    "${OPTIONAL[*]});" \
    "set WL_DEPS_SKIP=1 to silence this note" >&2
  exit 0
fi

# installed PKG: dpkg's state of PKG is "installed". The state alone: the
# whole Status is "WANT ok STATE", and a package kept with `apt-mark hold`
# is "hold ok installed"; one half-installed, unpacked or with only its
# config files left is missing.
# A package named only as a virtual one, provided by another (a library
# whose -dev package a newer release renames and has provide the old name),
# counts as installed when an installed package provides it: apt-get install
# of the name installs the provider, and the name itself never has a state,
# so every make would run apt again.
installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ] || provided "$1"
}

# provided PKG: an installed package lists PKG in its Provides ("name",
# "name (= version)", comma-separated). dpkg-query without a package name
# lists every package dpkg knows: once, on the first call (a few tenths of
# a second), kept in provides_list until an install sets provides_listed=0.
provides_listed=0 provides_list=
provided() {
  local state provides item items
  if [ $provides_listed = 0 ]; then
    provides_list=$(dpkg-query -W -f='${db:Status-Status} ${Provides}\n' 2>/dev/null)
    provides_listed=1
  fi
  while read -r state provides; do
    [ "$state" = installed ] && [ -n "$provides" ] || continue
    IFS=, read -ra items <<<"${provides// /}"
    for item in "${items[@]}"; do
      [ "${item%%(*}" = "$1" ] && return 0
    done
  done <<<"$provides_list"
  return 1
}

# candidate PKG: true when apt's current lists have a version of PKG to
# install. apt translates "Candidate:" ("Installationskandidat:" in German):
# read in the C locale.
candidate() {
  local c
  c=$(LC_ALL=C apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

missing=() optional=()
for p in "${REQUIRED[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${OPTIONAL[@]}"; do installed "$p" || optional+=("$p"); done
if [ ${#optional[@]} -eq 0 ]; then
  rm -f "$stamp"
elif [ $retry = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${optional[*]}" ]; then
  optional=() # said once already: not tried, nor said, on every make
fi
[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && exit 0

# note_optional WHY PKG...: the optional packages that are not installed,
# the targets and checks that need them, and how to try again; remembered
# in $stamp
note_optional() {
  local why=$1
  shift
  local pkgs=" $* " needs=() need verb=needs i
  case $pkgs in *" clang "* | *" libclang-rt-dev "*) needs+=("make fuzz") ;; esac
  case $pkgs in *" clang-format "*) needs+=("make format") ;; esac
  case $pkgs in *" strace "*) needs+=("make check's fsync checks (skipped without it)") ;; esac
  # "A", "A and B", "A, B and C"
  need=${needs[0]:-some make targets}
  for ((i = 1; i < ${#needs[@]}; i++)); do
    verb=need
    if [ $i = $((${#needs[@]} - 1)) ]; then need+=" and ${needs[i]}"; else need+=", ${needs[i]}"; fi
  done
  echo "deps: not installed ($why): $*, which $need $verb; everything else works." \
    "Install by hand: apt-get install $*. Not said again: make fuzz and make format" \
    "try again, and so does any make once $stamp is deleted" >&2
  mkdir -p "$build_dir" 2>/dev/null && printf '%s\n' "${optional[*]}" >"$stamp" 2>/dev/null || true
}

# How apt is run. As root: directly. Otherwise through sudo: plain sudo
# for a required package (a password prompt is better than a build that
# cannot work), `sudo -n` for an optional one (never a prompt).
SUDO=() OSUDO=()
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    if [ ${#missing[@]} -ne 0 ]; then
      echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
    note_optional "no root or sudo" "${optional[@]}"
    exit 0
  fi
  SUDO=(sudo) OSUDO=(sudo -n)
fi
# install waits up to 5 minutes for a dpkg lock held by another apt
# (unattended-upgrades at boot) instead of failing at once. Its debconf
# questions are never asked: DEBIAN_FRONTEND=noninteractive is given on its
# command line, not exported, as sudo resets the environment (env_reset)
# and would drop an exported one.
INSTALL=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq
  --no-install-recommends)

# apt_update [SUDO...]: apt-get update, through SUDO. DPkg::Lock::Timeout
# does not cover the lock of apt's lists (/var/lib/apt/lists/lock), which
# apt-get update takes: held by another apt (apt-daily, unattended-upgrades
# at boot), the update fails at once. Such a failure is tried again every
# WL_DEPS_LOCK_POLL_S seconds (5) until WL_DEPS_LOCK_WAIT_S (300, as the
# dpkg lock's wait) have passed, said once; apt runs in the C locale, so
# that its message can be recognised. Any other failure, or the lock still
# held at the end, fails at once, with apt's messages.
apt_update() {
  local wait=${WL_DEPS_LOCK_WAIT_S:-300} poll=${WL_DEPS_LOCK_POLL_S:-5} start=$SECONDS err said=0
  while :; do
    # apt's stderr kept, its stdout passed on (fd 3)
    if { err=$("$@" env LC_ALL=C apt-get update -qq 2>&1 1>&3); } 3>&1; then
      [ -z "$err" ] || printf '%s\n' "$err" >&2
      return 0
    fi
    if ! grep -Eq 'Could not get lock [^ ]*/lists/lock|Unable to lock directory [^ ]*/lists' <<<"$err"; then
      printf '%s\n' "$err" >&2
      return 1
    fi
    if [ $((SECONDS - start)) -ge "$wait" ]; then
      printf '%s\n' "$err" >&2
      echo "deps: apt's lists lock (/var/lib/apt/lists/lock) is still held by another apt after ${wait} s" >&2
      return 1
    fi
    if [ $said = 0 ]; then
      said=1
      echo "deps: another apt holds apt's lists lock (/var/lib/apt/lists/lock; apt-daily or" \
        "unattended-upgrades, often at boot): waiting up to ${wait} s for apt-get update" >&2
    fi
    sleep "$poll"
  done
}
update_tried=0 update_failed=0
if [ ${#missing[@]} -ne 0 ]; then
  echo "deps: installing missing Debian packages: ${missing[*]}" >&2
  # a failing update (an unsigned third-party source, a mirror that is
  # down) need not keep the current lists from having the packages
  update_tried=1
  if ! apt_update "${SUDO[@]}"; then
    update_failed=1
    echo "deps: apt-get update failed; trying with apt's current lists" >&2
  fi
  if ! "${SUDO[@]}" "${INSTALL[@]}" "${missing[@]}"; then
    echo "deps: could not install ${missing[*]}, which make needs" >&2
    exit 1
  fi
fi
[ ${#optional[@]} -eq 0 ] && exit 0

# The optional packages: nothing here may fail the build or wait for input.
# One attempt (update, install); what is still missing afterwards is noted
# and remembered, so the next make does not try again.
if [ ${#OSUDO[@]} -ne 0 ] && ! sudo -n true </dev/null 2>/dev/null; then
  note_optional "sudo asks for a password" "${optional[@]}"
  exit 0
fi
echo "deps: installing optional Debian packages: ${optional[*]}" >&2
if [ $update_tried = 0 ]; then
  if ! apt_update "${OSUDO[@]}" </dev/null; then
    update_failed=1
    echo "deps: apt-get update failed; trying with apt's current lists" >&2
  fi
fi
available=() absent=()
for p in "${optional[@]}"; do
  if candidate "$p"; then available+=("$p"); else absent+=("$p"); fi
done
failed=()
if [ ${#available[@]} -ne 0 ] &&
  ! "${OSUDO[@]}" "${INSTALL[@]}" "${available[@]}" </dev/null; then
  failed=("${available[@]}")
fi
left=()
provides_listed=0 # what the installs brought may provide a name
for p in "${optional[@]}"; do installed "$p" || left+=("$p"); done
if [ ${#left[@]} -eq 0 ]; then
  rm -f "$stamp"
  exit 0
fi
optional=("${left[@]}") # what the note remembers
# one note, with every reason
why=
if [ ${#absent[@]} -ne 0 ]; then
  why="apt has no candidate for ${absent[*]}"
  [ $update_failed = 1 ] && why+=" (its lists may be old or empty: apt-get update failed)"
fi
[ ${#failed[@]} -ne 0 ] && why+="${why:+; }apt-get install failed"
# installed without an error, yet not installed
note_optional "${why:-still missing after apt-get install}" "${left[@]}"
exit 0
