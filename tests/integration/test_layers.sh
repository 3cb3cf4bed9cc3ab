#!/usr/bin/env bash
# Layers point one way (ARCHITECTURE.md): a file in src/<layer>/ may include
# only headers of the layers listed for it below, plus public include/wattlens/.
set -u
cd "${WL_SOURCE_DIR:?}"
declare -A allowed=(
  [util]="util"
  [sensors]="util sensors"
  [sampler]="util sensors sampler"
  [engine]="util engine"
  [store]="util sensors store"
  [profile]="util sensors sampler engine store profile"
  [perf]="util sensors sampler engine store perf"
  [analysis]="util sensors store analysis"
  [export]="util sensors store analysis export"
  [server]="util sensors sampler engine store profile perf analysis export server"
)
bad=0
while IFS= read -r f; do
  layer=$(echo "$f" | cut -d/ -f2)
  ok=" ${allowed[$layer]:-} "
  while IFS= read -r inc; do
    dep=${inc%%/*}
    case "$ok" in *" $dep "*) ;; *)
      echo "layer violation: $f includes \"$inc\" ($layer may use:${allowed[$layer]:- nothing})"; bad=1;;
    esac
  done < <(grep -oE '^#include "[a-z_]+/[^"]+"' "$f" | sed -E 's/#include "([^"]+)"/\1/' | grep -v '^wattlens/')
done < <(find src -name '*.[ch]' | sort)
if [ $bad = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $bad
