#!/usr/bin/env bash
# ctest-labels: timing (the measured command moves a fake counter while `measure` samples)
# A RAPL counter that never changes over the command (the core zone many
# Xeons expose but never update) is a sensor gap (WL_DISC_STUCK) of that
# domain alone, and measure says so: the gap's line and the gaps line name
# core and say core's figures are n/a (not measured: it is stuck over the
# whole command; not "low by it"), not "the figures" (package moved and
# is whole); its row has no energy, power or peak (n/a; --json null,
# energy_lost true), not "0.000 J ... measured"; and a gap from the
# sampler's first read, just before the command's start, reads 0.000 s,
# not -0.000 s. Old: all four.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
pk=$(fake_zone intel-rapl:0 package-0 1000000) || { echo "FAIL: no fake powercap zone"; exit 1; }
fake_zone intel-rapl:0:0 core 500000 >/dev/null || { echo "FAIL: no fake core zone"; exit 1; }
# the command moves package (in place, 1<>) every few ms; core stays put
mover="i=0; while [ \$i -lt 150 ]; do printf '%020d\n' \$((1000000 + i * 20000)) 1<>'$pk'; \
i=\$((i + 1)); sleep 0.005; done"
"$W" measure --no-store -i 10 -- sh -c "$mover" >"$tmp/m.txt" 2>"$tmp/m.err"
printf '%020d\n' 1000000 1<>"$pk"
"$W" measure --no-store --json -i 10 -- sh -c "$mover" >"$tmp/m.json" 2>/dev/null
# check WHAT: one group of assertions on the two reports (each fix on its own)
check() {
  python3 - "$1" "$tmp/m.txt" "$tmp/m.json" >"$tmp/py.txt" 2>&1 <<'PY'
import json, re, sys
what, t = sys.argv[1], open(sys.argv[2]).read()
j = json.load(open(sys.argv[3]))
gl = re.findall(r"^  sensor gap +(-?[0-9.]+ s) \.\. [^(]*\(([^\n]*(?:\n {18}[^\n]*)*)", t, re.M)
assert len(gl) == 1, ("one gap line", t)
start, text = gl[0]
assert "did not change once" in text, text
if what == "zero":
    assert not start.startswith("-0.000"), ("a negative zero", start)
elif what == "names":
    # core is stuck over the whole command: its figures are n/a, not low
    assert text.startswith("core: ") and "the core figures are n/a (not measured)" in text, text
    m = re.search(r"^  sensor gaps: 1 .*", t, re.M)
    assert m and "the core figures are n/a (not measured)" in m.group(0), t
    g = j["sampling"]["gaps"]
    assert len(g) == 1 and g[0].get("lost_domains") == ["core"] and g[0].get("domains") == ["core"], g
elif what == "row":
    row = re.search(r"^  core +(\S+) +(\S+) +(\S+) ", t, re.M)
    assert row and row.groups() == ("n/a", "n/a", "n/a"), (row and row.groups(), t)
    p = re.search(r"^  package +([0-9.]+) ", t, re.M)
    assert p and float(p.group(1)) > 0, t
    d = {x["domain"]: x for x in j["domains"]}
    c = d["core"]
    assert c["energy_j"] is None and c["avg_power_w"] is None and c["peak_power_w"] is None, c
    assert c.get("energy_lost") is True, c
    assert d["package"]["energy_j"] > 0 and d["package"].get("energy_lost") is False, d["package"]
PY
}
if check zero; then ok "a gap from the start reads 0.000 s"
else bad "negative zero: $(cat "$tmp/py.txt")"; fi
if check names; then ok "the gap's line, the gaps line and --json name core alone"
else bad "the stuck core gap's domains: $(cat "$tmp/py.txt")"; fi
if check row; then ok "the stuck core's row: n/a (--json null, energy_lost)"
else bad "the stuck core's row: $(cat "$tmp/py.txt")"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
