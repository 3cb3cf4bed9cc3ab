#!/usr/bin/env bash
# The Makefile's sanitizer targets start their tests in an environment the
# sanitizer runtimes can start in, whatever the machine's and the caller's:
# - mmap randomness above 28 bits (Ubuntu >= 23.10 hosts: 32), where gcc 12's
#   TSan and ASan cannot place their shadow memory: the tests run under
#   setarch -R (address randomization off); at 28 or below, as they are;
# - LD_PRELOAD unset: a caller's preloaded library would come before the
#   ASan runtime, which then refuses to start.
# Checked on the commands `make -n` prints (nothing is built or run), with
# MMAP_RND_BITS given as the kernel's would be read.
set -u
: "${WL_SOURCE_DIR:?}"
. "$(dirname "$0")/common.sh"
need_tool make make
arch=$(uname -m)
for t in check-asan check-tsan; do
  for bits in 32 28; do
    make -n -C "$WL_SOURCE_DIR" WL_DEPS_SKIP=1 MMAP_RND_BITS=$bits "$t" >"$tmp/cmds" 2>&1
    run=$(grep -E "sh -c '(ctest|\\$\\(CTEST\\))" "$tmp/cmds" | sed 's/^[[:space:]]*//' | tr -s ' ')
    if [ "$bits" = 32 ]; then want="env -u LD_PRELOAD setarch $arch -R sh -c "; else want="env -u LD_PRELOAD sh -c "; fi
    case "$run" in
      "$want"*) ok "$t, mmap_rnd_bits $bits: ${want% sh -c }" ;;
      *) bad "$t, mmap_rnd_bits $bits: the tests run as '$run' (want '$want...'): $(cat "$tmp/cmds")" ;;
    esac
  done
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
