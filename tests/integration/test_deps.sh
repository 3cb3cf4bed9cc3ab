#!/usr/bin/env bash
# scripts/deps.sh against stand-ins for dpkg-query, apt-get and apt-cache
# (nothing is installed for real): it installs only what is missing, the
# packages the tests and make targets need (procps for pgrep, clang-format,
# the clang runtime of the default clang: libclang-rt-dev, never a
# versioned one); an optional package the distribution lacks is a note, not
# a failure; a required one that fails to install stops it; a host without
# dpkg/apt-get gets a note and exit status 0.
set -u
: "${WL_SOURCE_DIR:?}"
. "$(dirname "$0")/common.sh"
DEPS=$WL_SOURCE_DIR/scripts/deps.sh
BASH_BIN=$(command -v bash)

mkdir -p "$tmp/bin" "$tmp/empty"
# dpkg-query -W -f=... PKG: installed when PKG is a line of $tmp/installed
cat >"$tmp/bin/dpkg-query" <<'SH'
#!/bin/sh
for p; do :; done
grep -qx "$p" "$STUB/installed" 2>/dev/null && { printf 'install ok installed'; exit 0; }
echo "dpkg-query: no packages found matching $p" >&2; exit 1
SH
# apt-get: logged; install fails when $tmp/fail names one of the packages
cat >"$tmp/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$STUB/log"
for p; do grep -qx -- "$p" "$STUB/fail" 2>/dev/null && exit 100; done
exit 0
SH
# apt-cache policy PKG: no candidate for a line of $tmp/unknown
cat >"$tmp/bin/apt-cache" <<'SH'
#!/bin/sh
grep -qx "$2" "$STUB/unknown" 2>/dev/null && exit 0
printf '%s:\n  Installed: (none)\n  Candidate: 1.0\n' "$2"
SH
printf '#!/bin/sh\necho 0\n' >"$tmp/bin/id" # root: no sudo
chmod +x "$tmp/bin/"*
need_stubs "$tmp/bin" dpkg-query apt-get apt-cache id
export STUB=$tmp

all="build-essential cmake pkg-config git python3 procps libcmocka-dev libsqlite3-dev
libjansson-dev libplist-dev libutf8proc-dev clang libclang-rt-dev clang-format"
deps() { env -u WL_DEPS_SKIP PATH="$tmp/bin:$PATH" "$BASH_BIN" "$DEPS" 2>"$tmp/err"; }

# everything installed: nothing to do, apt not even updated
printf '%s\n' $all >"$tmp/installed"
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/log" ] && [ ! -s "$tmp/err" ]; then ok "all installed: nothing done"
else bad "all installed (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi

# nothing installed, and this distribution has no libclang-rt-dev
: >"$tmp/installed"
: >"$tmp/log"
echo libclang-rt-dev >"$tmp/unknown"
deps; rc=$?
inst=$(grep "install" "$tmp/log" | tr '\n' ' ')
if [ $rc = 0 ]; then ok "an optional package missing from the distribution: exit 0"; else bad "optional missing: rc $rc"; cat "$tmp/err"; fi
for p in procps python3 libcmocka-dev clang clang-format; do
  case " $inst " in *" $p "*) ok "installs $p" ;; *) bad "does not install $p: $inst" ;; esac
done
case "$inst" in *libclang-rt*) bad "asked for a clang runtime apt does not have: $inst" ;; *) ok "no libclang-rt-dev asked for" ;; esac
if grep -q "not available here: libclang-rt-dev" "$tmp/err" && grep -q "make fuzz" "$tmp/err"; then ok "says make fuzz will not work"
else bad "no note about libclang-rt-dev"; cat "$tmp/err"; fi
if [ "$(grep -c "update" "$tmp/log")" = 1 ]; then ok "one apt-get update"; else bad "apt-get update count"; cat "$tmp/log"; fi

# the next make: everything else is installed now, libclang-rt-dev is still
# unknown to apt: a note again, but no apt-get update (not on every make)
printf '%s\n' $all | grep -vx libclang-rt-dev >"$tmp/installed"
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && ! grep -q "update" "$tmp/log" && grep -q "not available here: libclang-rt-dev" "$tmp/err"; then
  ok "second run, optional package still unknown: a note, no apt-get update"
else bad "second run (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
# a required package missing on top of that: apt updated once, the unknown optional one not asked for
printf '%s\n' $all | grep -vx -e libclang-rt-dev -e procps >"$tmp/installed"
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "update" "$tmp/log")" = 1 ] && grep -q "install.* procps" "$tmp/log" &&
  ! grep -q "libclang-rt" "$tmp/log"; then
  ok "a required package missing: one update, its install"
else bad "required missing, optional unknown (rc $rc)"; cat "$tmp/log" "$tmp/err"; fi
: >"$tmp/installed"

# where the distribution has it, the clang runtime is llvm-defaults' one
: >"$tmp/unknown"
: >"$tmp/log"
deps; rc=$?
if [ $rc = 0 ] && grep -q "install.* libclang-rt-dev" "$tmp/log" && ! grep -q "libclang-rt-[0-9]" "$tmp/log"; then
  ok "installs libclang-rt-dev, no versioned runtime"
else bad "clang runtime (rc $rc)"; cat "$tmp/log"; fi

# a required package that fails to install stops it (and so make)
echo procps >"$tmp/fail"
deps; rc=$?
if [ $rc != 0 ]; then ok "a required package that fails: exit $rc"; else bad "a failed required install passed"; fi
# an optional one that fails does not
echo clang-format >"$tmp/fail"
deps; rc=$?
if [ $rc = 0 ] && grep -q "clang-format" "$tmp/err"; then ok "an optional package that fails: a note, exit 0"
else bad "optional install failure (rc $rc)"; cat "$tmp/err"; fi
: >"$tmp/fail"

# no dpkg/apt-get at all (macOS, Fedora): a note, exit 0
env -u WL_DEPS_SKIP PATH="$tmp/empty" "$BASH_BIN" "$DEPS" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "no dpkg/apt-get" "$tmp/err" && grep -q "WL_DEPS_SKIP=1" "$tmp/err"; then
  ok "no dpkg/apt-get: a note, exit 0"
else bad "no dpkg/apt-get (rc $rc)"; cat "$tmp/err"; fi
# WL_DEPS_SKIP=1: nothing at all
WL_DEPS_SKIP=1 PATH="$tmp/empty" "$BASH_BIN" "$DEPS" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/err" ]; then ok "WL_DEPS_SKIP=1: silent"; else bad "WL_DEPS_SKIP=1 (rc $rc)"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
