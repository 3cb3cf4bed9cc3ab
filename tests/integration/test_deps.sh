#!/usr/bin/env bash
# scripts/deps.sh against stand-ins for dpkg-query, apt-get, apt-cache, id
# and sudo (nothing is installed for real): it installs only what is
# missing, the packages the tests and make targets need (procps for pgrep,
# clang-format, the clang runtime of the default clang: libclang-rt-dev,
# never a versioned one; strace for make check's fsync checks, optional:
# a fresh machine without it still builds and checks); a required one that
# fails to install stops it; a
# host without dpkg/apt-get gets a note and exit status 0. An optional
# package never stops make nor asks for a password: sudo -n only, a failed
# apt-get update or install is a note, said once (remembered in
# BUILD/deps-optional-missing) and tried again by --retry-optional.
set -u
: "${WL_SOURCE_DIR:?}"
. "$(dirname "$0")/common.sh"
DEPS=$WL_SOURCE_DIR/scripts/deps.sh
BASH_BIN=$(command -v bash)

mkdir -p "$tmp/bin" "$tmp/empty"
# dpkg-query -W -f=FORMAT PKG: the Status "install ok installed" when PKG
# is a line of $tmp/installed, "hold ok installed" (apt-mark hold) when one
# of $tmp/held, "install ok half-installed" when one of $tmp/half; FORMAT
# ${Status} or ${db:Status-Status} (the last word, dpkg's state)
# Without a package name (the last argument an option): every package's
# line, "STATE PROVIDES", from $tmp/provides; each such listing adds a
# line to $tmp/listings.
cat >"$tmp/bin/dpkg-query" <<'SH'
#!/bin/sh
for p; do :; done
case $p in -*) echo listed >>"$STUB/listings"; cat "$STUB/provides" 2>/dev/null; exit 0 ;; esac
if grep -qx "$p" "$STUB/installed" 2>/dev/null; then s="install ok installed"
elif grep -qx "$p" "$STUB/held" 2>/dev/null; then s="hold ok installed"
elif grep -qx "$p" "$STUB/half" 2>/dev/null; then s="install ok half-installed"
else echo "dpkg-query: no packages found matching $p" >&2; exit 1; fi
case "$*" in *'${db:Status-Status}'*) s=${s##* } ;; esac
printf '%s' "$s"
SH
# apt-get [-o OPTION]... COMMAND: logged; update fails when $tmp/update-fails
# exists, and while $tmp/lists-locked holds a count above 0 (counted down)
# fails as when another apt holds the lists lock (in German unless
# LC_ALL=C, as apt's translation says it); install fails when $tmp/fail
# names one of the packages, else adds them to $tmp/installed; an install
# writes the DEBIAN_FRONTEND it sees to $tmp/frontend
cat >"$tmp/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$STUB/log"
while [ "$1" = -o ]; do shift 2; done
[ "$1" = install ] && echo "DEBIAN_FRONTEND=${DEBIAN_FRONTEND-unset}" >>"$STUB/frontend"
n=$(cat "$STUB/lists-locked" 2>/dev/null || echo 0)
if [ "$1" = update ] && [ "$n" -gt 0 ]; then
  echo $((n - 1)) >"$STUB/lists-locked"
  if [ "${LC_ALL:-}" = C ]; then
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
    echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
  else
    echo "E: Sperre /var/lib/apt/lists/lock konnte nicht erhalten werden." >&2
  fi
  exit 100
fi
[ "$1" = update ] && { [ -e "$STUB/update-fails" ] && exit 100; exit 0; }
for p; do grep -qx -- "$p" "$STUB/fail" 2>/dev/null && exit 100; done
for p; do case $p in -* | install) ;; *) echo "$p" >>"$STUB/installed" ;; esac; done
exit 0
SH
# apt-cache policy PKG: no candidate for a line of $tmp/unknown; in German
# where the locale is (as apt's translation says it)
cat >"$tmp/bin/apt-cache" <<'SH'
#!/bin/sh
grep -qx "$2" "$STUB/unknown" 2>/dev/null && exit 0
case ${LC_ALL:-${LC_MESSAGES:-${LANG:-}}} in
de*) printf '%s:\n  Installiert: (keine)\n  Installationskandidat: 1.0\n' "$2" ;;
*) printf '%s:\n  Installed: (none)\n  Candidate: 1.0\n' "$2" ;;
esac
SH
# id -u: the content of $tmp/uid (0: root, no sudo)
printf '#!/bin/sh\ncat "$STUB/uid"\n' >"$tmp/bin/id"
# sudo [-n] CMD...: logged; runs CMD when $tmp/sudo-nopasswd exists (a
# NOPASSWD rule, or a password typed a moment ago); else `sudo -n` fails
# as the real one does, and plain sudo "prompts": it runs CMD when
# $tmp/sudo-tty exists (a password typed at a terminal), else fails for
# want of a terminal. CMD gets a reset environment, as from the real one
# (env_reset): PATH, the locale and the stand-ins' STUB; an exported
# DEBIAN_FRONTEND does not get through
cat >"$tmp/bin/sudo" <<'SH'
#!/bin/sh
echo "sudo $*" >>"$STUB/sudo-log"
n=0
[ "$1" = -n ] && { n=1; shift; }
run() { exec env -i PATH="$PATH" STUB="$STUB" ${LANG+LANG="$LANG"} ${LC_ALL+LC_ALL="$LC_ALL"} "$@"; }
[ -e "$STUB/sudo-nopasswd" ] && run "$@"
[ $n = 1 ] && { echo "sudo: a password is required" >&2; exit 1; }
echo "PROMPT" >>"$STUB/sudo-log"
[ -e "$STUB/sudo-tty" ] && run "$@"
echo "sudo: a terminal is required to read the password" >&2; exit 1
SH
chmod +x "$tmp/bin/"*
need_stubs "$tmp/bin" dpkg-query apt-get apt-cache id sudo
export STUB=$tmp
echo 0 >"$tmp/uid"

B=$tmp/build
STAMP=$B/deps-optional-missing
all="build-essential cmake pkg-config git python3 procps libcmocka-dev libsqlite3-dev
libjansson-dev libplist-dev libutf8proc-dev clang libclang-rt-dev clang-format strace"
# (the lists lock polled at once: no test waits for it)
deps() {
  env -u WL_DEPS_SKIP WL_DEPS_LOCK_POLL_S=0 PATH="$tmp/bin:$PATH" "$BASH_BIN" "$DEPS" "$@" "$B" 2>"$tmp/err"
}
# fresh: empty logs, nothing remembered, every stand-in setting back to its default
fresh() {
  : >"$tmp/log"
  : >"$tmp/sudo-log"
  : >"$tmp/frontend"
  : >"$tmp/fail"
  : >"$tmp/unknown"
  : >"$tmp/held"
  : >"$tmp/half"
  : >"$tmp/provides"
  : >"$tmp/listings"
  rm -f "$STAMP" "$tmp/update-fails" "$tmp/lists-locked" "$tmp/sudo-nopasswd" "$tmp/sudo-tty"
  echo 0 >"$tmp/uid"
}
# installed_but PKG...: every package installed except these
installed_but() {
  local p args=()
  for p; do args+=(-e "$p"); done
  printf '%s\n' $all | grep -vx "${args[@]}" >"$tmp/installed"
}

# install_noninteractive WHAT: every apt-get install of the run saw
# DEBIAN_FRONTEND=noninteractive (no debconf question, which would hang make
# without a terminal), through sudo too, which resets the environment
install_noninteractive() {
  if [ -s "$tmp/frontend" ] && ! grep -qvx "DEBIAN_FRONTEND=noninteractive" "$tmp/frontend"; then
    ok "$1: apt-get install sees DEBIAN_FRONTEND=noninteractive"
  else bad "$1: apt-get install without DEBIAN_FRONTEND=noninteractive"; cat "$tmp/frontend"; fi
}

# everything installed: nothing to do, apt not even updated
fresh
printf '%s\n' $all >"$tmp/installed"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then ok "all installed: nothing done"
else bad "all installed (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi

# a required package that is only a name another installed package
# provides (libplist-dev, if a release has only libplist-2.0-dev provide
# it): installed, apt not touched (was: apt-get install on every make)
fresh
installed_but libplist-dev
printf '%s\n' "installed libplist-2.0-dev-doc" "installed libfoo (= 1), libplist-dev (= 2.6.0-1), libbar" >"$tmp/provides"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then ok "a provided package counts as installed"
else bad "a provided package (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
# ... but not when its provider is not installed (only its config files
# left), nor for a name that merely starts the same
printf '%s\n' "config-files libplist-dev" "installed libplist-dev-extra (= 1)" >"$tmp/provides"
deps; rc=$?
if [ $rc = 0 ] && grep -q "install.* libplist-dev$" "$tmp/log"; then ok "a provider not installed: installed"
else bad "a provider not installed (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
# several names not installed: every package is listed once, not once a name
fresh
installed_but libplist-dev libjansson-dev clang-format strace
printf '%s\n' "installed libplist-2.0-dev (= 2.6.0-1), libplist-dev (= 2.6.0-1)" >"$tmp/provides"
deps; rc=$?
if [ $rc = 0 ] && [ "$(wc -l <"$tmp/listings")" = 1 ] && ! grep -q "install.* libplist-dev" "$tmp/log" &&
  grep -q "install.* libjansson-dev" "$tmp/log"; then
  ok "four names not installed: dpkg's packages listed once"
else bad "four names not installed (rc $rc, $(wc -l <"$tmp/listings") listings)"; cat "$tmp/log" "$tmp/err"; fi

# nothing installed, and this distribution has no libclang-rt-dev
fresh
: >"$tmp/installed"
echo libclang-rt-dev >"$tmp/unknown"
deps; rc=$?
inst=$(grep "install" "$tmp/log" | tr '\n' ' ')
if [ $rc = 0 ]; then ok "an optional package missing from the distribution: exit 0"; else bad "optional missing: rc $rc"; cat "$tmp/err"; fi
for p in procps python3 libcmocka-dev clang clang-format strace; do
  case " $inst " in *" $p "*) ok "installs $p" ;; *) bad "does not install $p: $inst" ;; esac
done
case "$inst" in *libclang-rt*) bad "asked for a clang runtime apt does not have: $inst" ;; *) ok "no libclang-rt-dev asked for" ;; esac
if grep -q "not installed.*: libclang-rt-dev" "$tmp/err" && grep -q "make fuzz" "$tmp/err"; then ok "says make fuzz will not work"
else bad "no note about libclang-rt-dev"; cat "$tmp/err"; fi
if [ "$(grep -c "update" "$tmp/log")" = 1 ]; then ok "one apt-get update"; else bad "apt-get update count"; cat "$tmp/log"; fi
install_noninteractive "as root"
# every install waits for a dpkg lock another apt holds (unattended-upgrades at boot)
if [ "$(grep -c " install " "$tmp/log")" = 2 ] &&
  [ "$(grep " install " "$tmp/log" | grep -c "^apt-get -o DPkg::Lock::Timeout=300 install ")" = 2 ]; then
  ok "apt-get install waits for the dpkg lock"
else bad "apt-get install without a lock timeout"; cat "$tmp/log"; fi

# the next make: libclang-rt-dev is still unknown to apt: said once is
# enough, no apt-get update (not on every make)
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then
  ok "second run, optional package still unknown: nothing done, nothing said"
else bad "second run (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
# a required package missing on top of that: apt updated once, the unknown optional one not asked for
installed_but libclang-rt-dev procps
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "update" "$tmp/log")" = 1 ] && grep -q "install.* procps" "$tmp/log" &&
  ! grep -q "libclang-rt" "$tmp/log"; then
  ok "a required package missing: one update, its install"
else bad "required missing, optional unknown (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi

# strace (make check's fsync checks) is optional: where apt has none, or
# installing it fails, make check goes on (the checks skip) after a note,
# said once, that names the package and the checks
for how in unknown fail; do
  fresh
  installed_but strace
  echo strace >"$tmp/$how"
  deps; rc=$?
  if [ $rc = 0 ] && grep -q "not installed (.*): strace, which make check's fsync checks (skipped without it) needs;" "$tmp/err" \
    && grep -q "apt-get install strace" "$tmp/err"; then
    ok "strace: $how: a note naming it and make check's fsync checks, exit 0"
  else bad "strace: $how (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
  : >"$tmp/log"
  deps; rc=$?
  if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then ok "strace: $how: not tried nor said on the next make"
  else bad "strace: $how: the next make (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
done
# all three optional needs in one note: "A, B and C need"
fresh
echo 1000 >"$tmp/uid"
installed_but clang clang-format strace
deps </dev/null; rc=$?
if [ $rc = 0 ] && grep -q "clang clang-format strace, which make fuzz, make format and make check's fsync checks (skipped without it) need;" "$tmp/err"; then
  ok "three optional needs named in one note"
else bad "three optional needs (rc $rc)"; cat "$tmp/err"; fi

# a package kept at its version (apt-mark hold: "hold ok installed") is
# installed; a half-installed one is not
fresh
installed_but cmake procps
echo cmake >"$tmp/held"
echo procps >"$tmp/half"
deps; rc=$?
if [ $rc = 0 ] && ! grep -q "install.* cmake" "$tmp/log"; then ok "a held package counts as installed"
else bad "held package installed again (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
if grep -q "install.* procps" "$tmp/log"; then ok "a half-installed package is installed again"
else bad "half-installed package not installed (rc $rc)"; cat "$tmp/log"; fi
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ]; then ok "held: nothing done on the next make"
else bad "held: apt run again (rc $rc)"; cat "$tmp/log"; fi

# where the distribution has it, the clang runtime is llvm-defaults' one
fresh
: >"$tmp/installed"
deps; rc=$?
if [ $rc = 0 ] && grep -q "install.* libclang-rt-dev" "$tmp/log" && ! grep -q "libclang-rt-[0-9]" "$tmp/log"; then
  ok "installs libclang-rt-dev, no versioned runtime"
else bad "clang runtime (rc $rc)"; cat "$tmp/log"; fi

# apt speaks the user's language: its candidate is found all the same
fresh
installed_but clang-format
LC_ALL= LC_MESSAGES= LANG=de_DE.UTF-8 deps; rc=$?
if [ $rc = 0 ] && grep -q "install.* clang-format" "$tmp/log"; then ok "LANG=de_DE: the candidate is found"
else bad "LANG=de_DE: no install (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi

# a required package that fails to install stops it (and so make)
fresh
: >"$tmp/installed"
echo procps >"$tmp/fail"
deps; rc=$?
if [ $rc != 0 ] && grep -q "procps" "$tmp/err"; then ok "a required package that fails: exit $rc"; else bad "a failed required install passed"; fi
# an optional one that fails does not; the next make does not try again,
# --retry-optional (make fuzz, make format) does
fresh
installed_but clang-format
echo clang-format >"$tmp/fail"
deps; rc=$?
if [ $rc = 0 ] && grep -q "clang-format" "$tmp/err" && grep -q "make format" "$tmp/err"; then ok "an optional package that fails: a note, exit 0"
else bad "optional install failure (rc $rc)"; cat "$tmp/err"; fi
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then ok "a failed optional install is not tried on every make"
else bad "failed optional install tried again (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
deps --retry-optional; rc=$?
if [ $rc = 0 ] && grep -q "install.* clang-format" "$tmp/log" && grep -q "clang-format" "$tmp/err"; then
  ok "--retry-optional tries it again"
else bad "--retry-optional (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
# once it installs, the note is gone and so is the memory of it
: >"$tmp/fail"
deps --retry-optional; rc=$?
if [ $rc = 0 ] && [ ! -e "$STAMP" ] && grep -qx clang-format "$tmp/installed"; then ok "installed on a retry: nothing remembered"
else bad "retry that installs (rc $rc)"; cat "$tmp/err"; fi
# a different set of missing optional packages is tried again
fresh
installed_but clang-format
echo clang-format >"$tmp/fail"
deps
installed_but clang-format clang
: >"$tmp/log"
: >"$tmp/fail"
deps; rc=$?
if [ $rc = 0 ] && grep -q "install.* clang" "$tmp/log"; then ok "another package missing: tried again"
else bad "another optional package missing (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi

# --- no password, no terminal: optional packages never fail make nor prompt ----
# a developer (uid 1000) whose sudo asks for a password, run without a
# terminal (an IDE, a script): only optional packages are missing
fresh
echo 1000 >"$tmp/uid"
installed_but clang libclang-rt-dev clang-format
deps </dev/null; rc=$?
if [ $rc = 0 ]; then ok "optional missing, sudo needs a password: exit 0"; else bad "optional missing, sudo needs a password: rc $rc"; cat "$tmp/err"; fi
if ! grep -q PROMPT "$tmp/sudo-log" && ! grep -q "^sudo [^-]" "$tmp/sudo-log"; then ok "only sudo -n, no prompt"
else bad "sudo without -n for optional packages"; cat "$tmp/sudo-log"; fi
if [ ! -s "$tmp/log" ]; then ok "no apt-get run without rights"; else bad "apt-get run"; cat "$tmp/log"; fi
if grep -q "make fuzz and make format" "$tmp/err" && grep -q "password" "$tmp/err"; then ok "a note says why and what will not work"
else bad "note for sudo with a password"; cat "$tmp/err"; fi
: >"$tmp/sudo-log"
deps </dev/null; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/sudo-log" ] && [ ! -s "$tmp/err" ]; then ok "the next make: sudo not even asked"
else bad "next make with a password sudo (rc $rc)"; cat "$tmp/sudo-log" "$tmp/err"; fi
# with a NOPASSWD rule (or a password just typed), sudo -n installs them
fresh
echo 1000 >"$tmp/uid"
installed_but clang-format
touch "$tmp/sudo-nopasswd"
deps </dev/null; rc=$?
if [ $rc = 0 ] && grep -q "install.* clang-format" "$tmp/log" && grep -q "^sudo -n .*apt-get -o DPkg::Lock::Timeout=300 install" "$tmp/sudo-log" &&
  [ ! -e "$STAMP" ]; then ok "sudo -n without a password: installed"
else bad "sudo -n install (rc $rc)"; cat "$tmp/log" "$tmp/sudo-log" "$tmp/err"; fi
install_noninteractive "sudo -n"
# a required package: plain sudo, which may prompt at a terminal
fresh
echo 1000 >"$tmp/uid"
installed_but procps
touch "$tmp/sudo-tty"
deps; rc=$?
if [ $rc = 0 ] && grep -q "install.* procps" "$tmp/log" && grep -Eq "^sudo ([^-].* )?apt-get -o DPkg::Lock::Timeout=300 install" "$tmp/sudo-log"; then
  ok "a required package: installed through sudo"
else bad "required package through sudo (rc $rc)"; cat "$tmp/log" "$tmp/sudo-log" "$tmp/err"; fi
install_noninteractive "plain sudo"
# and without a terminal, a missing required package still stops make
rm -f "$tmp/sudo-tty"
installed_but procps
: >"$tmp/log"
deps </dev/null; rc=$?
if [ $rc != 0 ] && grep -q "procps" "$tmp/err"; then ok "a required package, sudo cannot ask: exit $rc"
else bad "required package, no terminal (rc $rc)"; cat "$tmp/err"; fi

# --- as root, apt-get update failing (an unsigned source, a mirror down) ------
# (no lists after a failed update on a fresh machine: apt has no candidate)
fresh
installed_but clang libclang-rt-dev clang-format
touch "$tmp/update-fails"
printf '%s\n' clang libclang-rt-dev clang-format >"$tmp/unknown"
deps; rc=$?
if [ $rc = 0 ] && grep -q "update failed" "$tmp/err" &&
  grep -q "not installed (apt has no candidate for clang libclang-rt-dev clang-format (.*apt-get update failed)): " "$tmp/err" &&
  [ "$(cat "$STAMP" 2>/dev/null)" = "clang libclang-rt-dev clang-format" ]; then
  ok "root, update fails, optional missing: a note that says the update failed, remembered, exit 0"
else bad "root, update fails, optional missing (rc $rc)"; cat "$tmp/err"; fi
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then ok "root, update fails: not tried on every make"
else bad "root, update fails, tried again (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
# one package apt does not have, another that fails to install: one note with both reasons
fresh
installed_but clang-format strace
echo strace >"$tmp/unknown"
echo clang-format >"$tmp/fail"
deps; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "not installed" "$tmp/err")" = 1 ] &&
  grep -q "not installed (apt has no candidate for strace; apt-get install failed): clang-format strace," "$tmp/err"; then
  ok "no candidate and a failed install: one note with both reasons"
else bad "no candidate and a failed install (rc $rc)"; cat "$tmp/err"; fi
# a required package: installed from the current lists all the same
fresh
installed_but procps
touch "$tmp/update-fails"
deps; rc=$?
if [ $rc = 0 ] && grep -qx procps "$tmp/installed"; then ok "root, update fails: a required package installed from the current lists"
else bad "root, update fails, required missing (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi

# --- apt's lists lock, held by another apt (apt-daily, unattended-upgrades at boot) ---
# apt-get update cannot wait for it (DPkg::Lock::Timeout is the dpkg lock's):
# deps.sh tries it again, says so once, and installs after it is released;
# whatever the user's language (apt's message is read in the C locale)
for lang in C de_DE.UTF-8; do
  fresh
  installed_but procps clang-format
  echo 3 >"$tmp/lists-locked"
  LC_ALL= LC_MESSAGES= LANG=$lang deps; rc=$?
  if [ $rc = 0 ] && [ "$(grep -c "update" "$tmp/log")" = 4 ] &&
    [ "$(grep -c "waiting up to 300 s for apt-get update" "$tmp/err")" = 1 ] &&
    ! grep -q "update failed" "$tmp/err" && grep -q "install.* procps" "$tmp/log" &&
    grep -q "install.* clang-format" "$tmp/log"; then
    ok "LANG=$lang: the lists lock held for 3 updates: waited for, said once, then installed"
  else bad "LANG=$lang: lists lock held for a while (rc $rc): $(cat "$tmp/log" "$tmp/err")"; fi
done
# held past the wait: the update fails (the current lists are used), with apt's words
fresh
installed_but procps
echo 1000 >"$tmp/lists-locked"
WL_DEPS_LOCK_WAIT_S=0 deps; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "update" "$tmp/log")" = 1 ] &&
  grep -q "still held by another apt after 0 s" "$tmp/err" &&
  grep -q "Could not get lock /var/lib/apt/lists/lock" "$tmp/err" &&
  grep -q "update failed; trying with apt's current lists" "$tmp/err" && grep -q "install.* procps" "$tmp/log"; then
  ok "the lists lock held past the wait: the update fails, install from the current lists"
else bad "lists lock held past the wait (rc $rc): $(cat "$tmp/log" "$tmp/err")"; fi
# another failure is not waited on: one update
fresh
installed_but procps
touch "$tmp/update-fails"
deps; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "update" "$tmp/log")" = 1 ] && ! grep -q "waiting" "$tmp/err"; then
  ok "an update failing otherwise is not tried again"
else bad "update failing otherwise (rc $rc): $(cat "$tmp/log" "$tmp/err")"; fi
# through sudo -n (optional packages, a NOPASSWD rule): waited for too
fresh
echo 1000 >"$tmp/uid"
installed_but clang-format
touch "$tmp/sudo-nopasswd"
echo 2 >"$tmp/lists-locked"
deps </dev/null; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "^sudo -n env LC_ALL=C apt-get update" "$tmp/sudo-log")" = 3 ] &&
  grep -qx clang-format "$tmp/installed"; then
  ok "sudo -n: the lists lock waited for, then installed"
else bad "sudo -n, lists lock (rc $rc): $(cat "$tmp/sudo-log" "$tmp/err")"; fi

# --- .ci/run: make fuzz comes last, after about an hour of checks; what it
# needs (clang, its libFuzzer runtime) is checked right after deps.sh, which
# only notes an optional package it could not install, and so is strace
# (without it make check's fsync checks skip). A copy of .ci/run in a tree
# of stand-ins: deps.sh and make log their calls; strace is absent or
# works; clang is absent, or cannot link a libFuzzer target (no
# libclang-rt-dev), or can. Its probe's scratch directory (under TMPDIR)
# is removed on every exit.
mkdir -p "$tmp/ci/.ci" "$tmp/ci/scripts" "$tmp/cibin" "$tmp/citmp"
cp "$WL_SOURCE_DIR/.ci/run" "$tmp/ci/.ci/run"
cp "$WL_SOURCE_DIR/Makefile" "$tmp/ci/Makefile"
printf '#!/bin/sh\necho "deps.sh $*" >>"$STUB/ci-log"\n' >"$tmp/ci/scripts/deps.sh"
printf '#!/bin/sh\necho "make $*" >>"$STUB/ci-log"\necho "${WL_REQUIRE_OTHER_USER:-}" >"$STUB/ci-require"\n' >"$tmp/cibin/make"
chmod +x "$tmp/ci/.ci/run" "$tmp/ci/scripts/deps.sh" "$tmp/cibin/make"
for t in bash cat dirname grep head id mktemp rm sed sort tr; do ln -sf "$(command -v $t)" "$tmp/cibin/$t"; done
for how in no-strace no-clang no-runtime clang-works; do
  rm -f "$tmp/cibin/clang" "$tmp/cibin/strace"
  case $how in
  no-strace) printf '#!/bin/sh\nexit 0\n' >"$tmp/cibin/clang" ;;
  no-runtime) printf '#!/bin/sh\necho "/usr/bin/ld: cannot find libclang_rt.fuzzer-x86_64.a" >&2\nexit 1\n' >"$tmp/cibin/clang" ;;
  clang-works) printf '#!/bin/sh\nwhile [ "$1" != -o ]; do shift; done\n: >"$2"\n' >"$tmp/cibin/clang" ;;
  esac
  [ -e "$tmp/cibin/clang" ] && chmod +x "$tmp/cibin/clang"
  [ $how = no-strace ] || { printf '#!/bin/sh\nexit 0\n' >"$tmp/cibin/strace" && chmod +x "$tmp/cibin/strace"; }
  : >"$tmp/ci-log"
  env PATH="$tmp/cibin" TMPDIR="$tmp/citmp" "$tmp/ci/.ci/run" >/dev/null 2>"$tmp/err"; rc=$?
  case $how in
  no-strace) want="ci: strace is missing (package strace" ;;
  no-clang) want="ci: clang is missing" ;;
  no-runtime) want="ci: clang cannot link a libFuzzer target (package libclang-rt-dev" ;;
  esac
  if [ -n "$(ls -A "$tmp/citmp")" ]; then
    bad ".ci/run, $how: left its scratch behind: $(ls -A "$tmp/citmp")"
    rm -rf "${tmp:?}/citmp/"*
  fi
  if [ $how = clang-works ]; then
    if [ $rc = 0 ] && [ "$(tr '\n' ' ' <"$tmp/ci-log")" = "deps.sh --retry-optional make check make check-asan make check-tsan make fuzz " ]; then
      ok ".ci/run with strace, clang and libFuzzer: deps.sh --retry-optional, then every check"
    else bad ".ci/run, clang works (rc $rc): $(cat "$tmp/ci-log" "$tmp/err")"; fi
  elif [ $rc = 1 ] && grep -qF "$want" "$tmp/err" &&
    { [ $how = no-strace ] && grep -q "fsync checks cannot run" "$tmp/err" || grep -q "make fuzz cannot run" "$tmp/err"; } &&
    [ "$(cat "$tmp/ci-log")" = "deps.sh --retry-optional" ]; then
    ok ".ci/run, $how: stops before any check, says why"
  else bad ".ci/run, $how (rc $rc): $(cat "$tmp/ci-log" "$tmp/err")"; fi
done

# .ci/run as root requires the checks run as user nobody
# (WL_REQUIRE_OTHER_USER=1) only where nobody can reach the checkout and
# the Makefile's test directories, the umask lets others into what CI
# makes, and nobody can write TMPDIR; else a WARNING says why and they may
# skip. The copy's checkout is made unreachable (mode 0700 on a parent),
# then reachable: under umask 022 (whatever the caller's), with a closed
# test directory (one the Makefile names, and one renamed there), and
# under umask 077.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1 && id -u nobody >/dev/null 2>&1; then
  for t in runuser test; do ln -sf "$(type -P $t)" "$tmp/cibin/$t"; done
  chmod 755 "$tmp/cibin" # nobody runs test from it (made under the caller's umask)
  mkdir -p "$tmp/closed" && chmod 700 "$tmp/closed" && cp -a "$tmp/ci" "$tmp/closed/ci"
  rm -f "$tmp/ci-require"
  env PATH="$tmp/cibin" TMPDIR="$tmp/citmp" "$tmp/closed/ci/.ci/run" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && [ "$(cat "$tmp/ci-require")" = "" ] &&
    grep -q "^WARNING: user nobody cannot reach the checkout $tmp/closed/ci .*SKIPPED, not required" "$tmp/err"; then
    ok ".ci/run as root, checkout closed to nobody: a WARNING, the other-user checks not required"
  else bad ".ci/run, closed checkout (rc $rc, require '$(cat "$tmp/ci-require" 2>/dev/null)'): $(cat "$tmp/err")"; fi
  chmod 1777 "$tmp/citmp"
  chmod 755 "$tmp" "$tmp/ci"
  if runuser -u nobody -- test -x "$tmp/ci"; then
    # ci_as_root MASK: runs the copy under umask MASK; rc, require, err
    ci_as_root() {
      rm -f "$tmp/ci-require"
      (umask "$1" && exec env PATH="$tmp/cibin" TMPDIR="$tmp/citmp" "$tmp/ci/.ci/run") >/dev/null 2>"$tmp/err"
      rc=$?
      require=$(cat "$tmp/ci-require" 2>/dev/null)
    }
    ci_as_root 022
    if [ $rc = 0 ] && [ "$require" = 1 ] && ! grep -q "another user" "$tmp/err"; then
      ok ".ci/run as root, checkout open to nobody: WL_REQUIRE_OTHER_USER=1"
    else bad ".ci/run, open checkout (rc $rc, require '$require'): $(cat "$tmp/err")"; fi
    ci_as_root 077
    if [ $rc = 0 ] && [ "$require" = "" ] &&
      grep -q "^WARNING: the umask 0077 keeps other users out of the build directories .*SKIPPED, not required" "$tmp/err"; then
      ok ".ci/run as root, umask 077: a WARNING, the other-user checks not required"
    else bad ".ci/run, umask 077 (rc $rc, require '$require'): $(cat "$tmp/err")"; fi
    sed -i 's/^\tcd build-tsan &&/\tcd build-t2 \&\&/' "$tmp/ci/Makefile"
    for d in build-asan build-t2; do
      mkdir -m 700 "$tmp/ci/$d"
      ci_as_root 022
      if [ $rc = 0 ] && [ "$require" = "" ] &&
        grep -q "^WARNING: user nobody cannot reach the build directory $tmp/ci/$d: .*SKIPPED, not required" "$tmp/err"; then
        ok ".ci/run as root, the Makefile's test directory $d closed to nobody: a WARNING"
      else bad ".ci/run, $d closed (rc $rc, require '$require'): $(cat "$tmp/err")"; fi
      rmdir "$tmp/ci/$d"
    done
  else
    echo "SKIP: nobody cannot reach $tmp's parent: the open-checkout case of .ci/run is not checked"
  fi
  chmod 700 "$tmp"
fi

# no dpkg/apt-get at all (macOS, Fedora): a note, exit 0
env -u WL_DEPS_SKIP PATH="$tmp/empty" "$BASH_BIN" "$DEPS" "$B" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "no dpkg/apt-get" "$tmp/err" && grep -q "WL_DEPS_SKIP=1" "$tmp/err"; then
  ok "no dpkg/apt-get: a note, exit 0"
else bad "no dpkg/apt-get (rc $rc)"; cat "$tmp/err"; fi
# WL_DEPS_SKIP=1: nothing at all
WL_DEPS_SKIP=1 PATH="$tmp/empty" "$BASH_BIN" "$DEPS" "$B" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/err" ]; then ok "WL_DEPS_SKIP=1: silent"; else bad "WL_DEPS_SKIP=1 (rc $rc)"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
