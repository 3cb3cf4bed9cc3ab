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
# every spelling of an include: "layer/x.h", <layer/x.h> (src/ is on the
# include path), "# include", leading blanks; a "../" path is refused outright
# (it names a layer by where the file is, which the check cannot follow)
inc_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^>"]+)[>"]'
bad=0
while IFS= read -r f; do
  layer=$(echo "$f" | cut -d/ -f2)
  ok=" ${allowed[$layer]:-} "
  while IFS= read -r line; do
    kind=${line%% *} inc=${line#* }
    case "$inc" in *../*)
      echo "layer violation: $f includes \"$inc\" (a ../ path: name the header from src/)"; bad=1; continue;;
    esac
    case "$inc" in */*) ;; *) continue;; esac # same directory
    dep=${inc%%/*}
    [ "$dep" = wattlens ] && continue
    # <sys/x.h>, <linux/x.h>: system headers; <layer/x.h> is judged as "layer/x.h"
    [ "$kind" = '<' ] && [ -z "${allowed[$dep]+set}" ] && continue
    case "$ok" in *" $dep "*) ;; *)
      echo "layer violation: $f includes \"$inc\" ($layer may use:${allowed[$layer]:- nothing})"; bad=1;;
    esac
  done < <(sed -nE "s/$inc_re.*/\1 \2/p" "$f")
done < <(find src -name '*.[ch]' | sort)
if [ $bad = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $bad
