#!/usr/bin/env bash
# `make build` configures (cmake -S . -B BUILD) when the build directory has
# not been configured successfully, or was with other CMAKE_FLAGS, and only
# then: its stamp is written after cmake succeeded. It was keyed on
# CMakeCache.txt, which cmake writes even when the configure fails or is
# interrupted: every later make skipped the configure and failed in
# `cmake --build` ("Makefile: No such file or directory") until the build
# directory was deleted, and new CMAKE_FLAGS were ignored. A stand-in cmake
# (first on PATH) logs its arguments and fails its configure while
# $tmp/fail exists, after writing CMakeCache.txt as cmake does; deps are
# skipped (WL_DEPS_SKIP=1): nothing is installed or compiled.
set -u
: "${WL_SOURCE_DIR:?}"
. "$(dirname "$0")/common.sh"
need_tool make make

mkdir -p "$tmp/bin"
cat >"$tmp/bin/cmake" <<STUB
#!/bin/sh
echo "\$*" >>"$tmp/log"
if [ "\$1" = --build ]; then
  [ -f "\$2/Makefile" ] || { echo "gmake: Makefile: No such file or directory" >&2; exit 2; }
  exit 0
fi
# -S . -B DIR FLAGS...
mkdir -p "\$4" && : >"\$4/CMakeCache.txt"
[ -f "$tmp/fail" ] && { echo "Configuring incomplete, errors occurred!" >&2; exit 1; }
: >"\$4/Makefile"
STUB
chmod +x "$tmp/bin/cmake"
need_stubs "$tmp/bin" cmake

b=$tmp/b
mk() {
  : >"$tmp/log"
  env -u MAKEFLAGS -u MAKELEVEL WL_DEPS_SKIP=1 JOBS=1 PATH="$tmp/bin:$PATH" \
    make -C "$WL_SOURCE_DIR" BUILD="$b" "$@" >"$tmp/out" 2>&1
}
configured() { grep -q "^-S \. -B $b" "$tmp/log"; }
# step WHAT WANT_RC WANT_CONFIGURE(y/n) [MAKE ARGS...]
step() {
  local what=$1 want_rc=$2 want_cfg=$3 rc cfg=n
  shift 3
  mk build "$@"; rc=$?
  configured && cfg=y
  if [ "$rc" = "$want_rc" ] && [ "$cfg" = "$want_cfg" ]; then
    ok "$what: exit $rc, configure run: $cfg"
  else
    bad "$what: exit $rc (want $want_rc), configure run: $cfg (want $want_cfg): $(cat "$tmp/log" "$tmp/out")"
  fi
}

touch "$tmp/fail"
step "a configure that fails" 2 y
rm -f "$tmp/fail"
step "the next make configures again (CMakeCache.txt is there)" 0 y
step "configured: no configure" 0 n
step "new CMAKE_FLAGS: configure again" 0 y CMAKE_FLAGS="-DWL_BUILD_BENCH=OFF -DX='a b'"
if grep -qF -- "-DWL_BUILD_BENCH=OFF -DX=a b" "$tmp/log"; then ok "the new flags reach cmake"
else bad "the new flags do not reach cmake: $(cat "$tmp/log")"; fi
step "the same CMAKE_FLAGS: no configure" 0 n CMAKE_FLAGS="-DWL_BUILD_BENCH=OFF -DX='a b'"
step "back to no CMAKE_FLAGS: configure again" 0 y
# an interrupted configure (the stamp is removed before cmake runs)
touch "$tmp/fail"
step "new flags, configure fails" 2 y CMAKE_FLAGS=-DY=1
rm -f "$tmp/fail"
step "after it, the old flags: configure again" 0 y

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
