#!/usr/bin/env bash
# Text as the outputs show it, end to end:
# - text that is not valid UTF-8 (a prompt, a tag, a command's argument, a
#   generated token that is part of a character) is never dropped from JSON:
#   `run --json`, `measure --json`, `runs --json`, `show --json` and `export`
#   show it with U+FFFD and keep the exact bytes in "<field>_hex"; so do
#   `bench -o json` (the model path) and `sensors --json` (hwmon names and
#   labels, and the paths in source and why);
# - the `runs`, `bench` and `sensors` tables line up in display columns (a
#   model file named in CJK or with accents does not push the columns after
#   it), measured here with Python's own Unicode width data;
# - `bench -o csv` quotes a path with commas, quotes and a line break
#   (RFC 4180) and keeps its bytes, escaped on a terminal;
# - text outputs never pass a control character from a file, a sensor or a
#   stored run to the terminal: `sensors` shows a sysfs root holding ESC and
#   CSI (as U+009B and as a raw 0x9B byte) escaped in its source and why
#   lines (\x1b, \u009b, \x9b), and `measure` in its sources line; `show`,
#   `gc --dry-run`, `rm` and `runs` show a stored run whose every text field
#   holds them without one;
# - `sensors --help` names every kind of reason for a "not read:" or "not
#   summed:" line.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
M=$D/models/stories260K.gguf
db=$tmp/runs.db

# --- text that is not UTF-8 in JSON ------------------------------------------------------
"$W" run -m "$M" -p "$(printf 'a\xffb')" -n 3 -t 1 --baseline 0 --settle 0 --db "$db" \
  --tags "$(printf 't\xfe'),ok" --json >"$tmp/run.json" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && ok "run with a prompt that is not UTF-8" || bad "run: exit $rc, $(cat "$tmp/err")"
python3 - "$tmp/run.json" <<'PY' && ok "run --json keeps the prompt and tags" || bad "run --json (see above)"
import json, sys
j = json.load(open(sys.argv[1]))
q = j["sequences"][0]
assert q["prompt"] == "a\ufffdb" and q["prompt_hex"] == "61ff62", q
r = j["summary"]["run"]
assert r["prompt"] == "a\ufffdb" and r["prompt_hex"] == "61ff62", r
assert r["tags"] == ["ok", "t\ufffd"] and r["tags_hex"] == ["6f6b", "74fe"], r
assert isinstance(j["text"], str) and isinstance(q["text"], str), j
PY
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/run.json")
"$W" runs --db "$db" --json >"$tmp/runs.json" 2>"$tmp/err" \
  && python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert r["prompt_hex"] == "61ff62" and r["tags_hex"] == ["6f6b", "74fe"], r' "$tmp/runs.json" \
  && ok "runs --json keeps them" || bad "runs --json: $(cat "$tmp/err" "$tmp/runs.json" | head -40)"
"$W" show --db "$db" --json "$id" >"$tmp/show.json" 2>"$tmp/err" \
  && python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["run"]
assert r["prompt"] == "a\ufffdb" and r["prompt_hex"] == "61ff62", r' "$tmp/show.json" \
  && ok "show --json keeps them" || bad "show --json: $(cat "$tmp/err")"
# Every token's exact bytes are in the export: its text, or text_hex when the text is
# not UTF-8 (the model's byte tokens can be part of a character).
"$W" export --db "$db" "$id" -f json >"$tmp/exp.json" 2>"$tmp/err"
python3 - "$tmp/exp.json" <<'PY' && ok "export keeps every byte" || bad "export (see above) $(cat "$tmp/err")"
import json, sys
run = json.load(open(sys.argv[1]))["run"]
assert bytes.fromhex(run["prompt_hex"]) == b"a\xffb", run["prompt"]
assert run["tags_hex"] == ["6f6b", "74fe"]
out = [t for t in run["tokens"] if not t["is_input"]]
assert len(out) == 3, out
for t in out:
    assert isinstance(t["text"], str), t
    if "text_hex" in t:
        assert bytes.fromhex(t["text_hex"]).decode("utf-8", "replace") == t["text"], t
    else:
        t["text"].encode("utf-8")
PY

# measure: the command's arguments, as given
"$W" measure --db "$db" --json -o "$tmp/m.json" -- printf '%s' "$(printf 'x\xff')" >/dev/null 2>"$tmp/err"; rc=$?
python3 - "$tmp/m.json" <<'PY' && ok "measure --json keeps the command" || bad "measure --json: exit $rc, $(cat "$tmp/err")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["command"] == ["printf", "%s", "x\ufffd"], j["command"]
assert j["command_hex"] == ["7072696e7466", "2573", "78ff"], j
PY
mid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/m.json")
"$W" export --db "$db" "$mid" -f json 2>"$tmp/err" | python3 -c '
import json, sys
run = json.load(sys.stdin)["run"]
assert b"x\xff" in bytes.fromhex(run["command_hex"]), run["command"]' \
  && ok "export of the measure run keeps the command" || bad "export of the measure run: $(cat "$tmp/err")"

# --- the runs table in display columns --------------------------------------------------
tdb=$tmp/table.db
for name in "模型-小" "café-modèle" "plain"; do
  cp "$M" "$tmp/$name.gguf"
  "$W" run -m "$tmp/$name.gguf" -n 1 -t 1 --baseline 0 --settle 0 --db "$tdb" --tags "标签,é" \
    >/dev/null 2>&1 || bad "run of $name.gguf"
done
"$W" runs --db "$tdb" >"$tmp/table" 2>"$tmp/err"
python3 - "$tmp/table" <<'PY' && ok "runs table aligned in display columns" || bad "runs table (see above): $(cat "$tmp/table")"
import re, sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
head = lines[0]
want = head.index("DURATION") + len("DURATION")
rows = [l for l in lines[1:4]]
assert len(rows) == 3 and any("模型" in r for r in rows) and any("modèle" in r for r in rows), rows
for r in rows:
    m = re.search(r"\d+\.\d+ (ns|us|ms|s|min)", r)
    assert m and width(r[:m.end()]) == want, (r, width(r[:m.end()]), want)
PY

# --- show's prompt line: escaped (a line feed is \x0a), one line, cut at a character ----------
long=$(python3 -c 'print("\u00e9" * 150 + "\nsecond line " + "x" * 100, end="")')
"$W" run -m "$M" -p "$long" -n 2 -t 1 --baseline 0 --settle 0 --db "$db" --json >"$tmp/long.json" 2>"$tmp/err"
lid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/long.json" 2>/dev/null)
"$W" show "$lid" --db "$db" >"$tmp/long.txt" 2>"$tmp/err"
python3 - "$tmp/long.txt" <<'PY' && ok "show cuts a long prompt at a character, on one line" || bad "show's prompt line (see above)"
import sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")          # fails when a character was cut in two
lines = [l for l in text.splitlines() if l.startswith("  prompt ")]
assert len(lines) == 1, lines
p = lines[0][len("  prompt     "):]
assert p.startswith("\u00e9" * 150 + "\\x0asecond line") and p.endswith("..."), p
assert len(p) <= 200, len(p)        # one column per character here
assert "second line" not in text.replace(lines[0], ""), "the prompt's second line leaked out"
PY

# --- bench: a model path that is not UTF-8, with CJK, a comma, quotes and a line break -----
bm="$tmp/$(printf 'b\xff模型,"q"\nx').gguf"
cp "$M" "$bm"
B=(bench -m "$bm" -p 4 -n 2 -r 1 -t 1 --no-warmup)
"$W" "${B[@]}" -o json >"$tmp/bench.json" 2>"$tmp/err"
python3 - "$tmp/bench.json" "$bm" <<'PY' && ok "bench -o json keeps the model path" || bad "bench -o json: $(cat "$tmp/err")"
import json, os, sys
rows = json.load(open(sys.argv[1]))
path = os.fsencode(sys.argv[2])
assert len(rows) == 2, rows
for r in rows:
    assert bytes.fromhex(r["model_filename_hex"]) == path, r
    assert r["model_filename"] == path.decode("utf-8", "replace"), r
    assert "\ufffd模型" in r["model_filename"], r
    assert r["model_type"] and r["cpu_info"], r
PY
# a CPU name longer than the 128 bytes kept: cut between characters
mkdir -p "$tmp/proc"
{ printf 'processor\t: 0\nmodel name\t: '; for _ in $(seq 100); do printf '\xc3\xa9'; done; printf '\n'; } >"$tmp/proc/cpuinfo"
WATTLENS_PROC_ROOT="$tmp/proc" "$W" "${B[@]}" -o json >"$tmp/bench.json" 2>"$tmp/err"
python3 - "$tmp/bench.json" <<'PY' && ok "bench cuts a long CPU name between characters" || bad "bench cpu_info: $(cat "$tmp/err")"
import json, sys
for r in json.load(open(sys.argv[1])):
    assert r["cpu_info"] == "\u00e9" * 63 and "cpu_info_hex" not in r, r
PY
"$W" "${B[@]}" -o csv >"$tmp/bench.csv" 2>"$tmp/err"
python3 - "$tmp/bench.csv" "$bm" <<'PY' && ok "bench -o csv quotes the model path (RFC 4180)" || bad "bench -o csv: $(cat "$tmp/err" "$tmp/bench.csv")"
import csv, io, os, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
rows = list(csv.reader(io.StringIO(text, newline="")))
head = rows[0]
assert len(rows) == 3 and all(len(r) == len(head) for r in rows), rows
for r in rows[1:]:
    assert os.fsencode(r[head.index("model_filename")]) == os.fsencode(sys.argv[2]), r
    assert r[head.index("backends")] == "CPU" and r[head.index("n_seq")] == "1", r
PY
# on a terminal the CSV's text is escaped as the md table's is: an ESC and a
# CSI in the model path reach it as \x1b and \u009b, never as themselves
if command -v script >/dev/null 2>&1; then
  tm="$tmp/$(printf 't\033[31m\302\233')".gguf
  cp "$M" "$tm"
  # script(1) runs the line with $SHELL, which may be dash: no bash quoting
  # in it, the paths reach it through the environment
  WL_T_W=$W WL_T_M=$tm script -qec \
    '"$WL_T_W" bench -m "$WL_T_M" -p 0 -n 1 -r 1 -t 1 --no-warmup -o csv' /dev/null \
    >"$tmp/bench-tty.csv" 2>&1
  python3 - "$tmp/bench-tty.csv" <<'PY' && ok "bench -o csv on a terminal escapes the model path" || bad "bench -o csv on a terminal: $(od -c "$tmp/bench-tty.csv" | head -20)"
import sys
text = open(sys.argv[1], "rb").read().decode("utf-8")  # a raw 0x9B byte fails here
assert '/t\\x1b[31m\\u009b.gguf"' in text, text
bad = [c for c in text if (ord(c) < 0x20 and c not in "\r\n") or 0x7F <= ord(c) < 0xA0]
assert not bad, bad
PY
else
  echo "SKIP: no script(1) for a terminal (bench -o csv on a terminal)"
fi
"$W" "${B[@]}" >"$tmp/bench.md" 2>"$tmp/err"
python3 - "$tmp/bench.md" <<'PY' && ok "bench md table aligned in display columns" || bad "bench md table (see above): $(cat "$tmp/err" "$tmp/bench.md")"
import sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 4 and "±" in lines[2], lines
# every '|' of every row at the header's display column
bars = [[width(l[:i]) for i, c in enumerate(l) if c == "|"] for l in lines]
assert all(b == bars[0] for b in bars), bars
PY

# --- sensors: hwmon names and labels in CJK and not UTF-8, under a root that is not UTF-8 ------
# hwmon reads one channel of all whole-system meters (hwmon0电源's power
# meter, ranked first) and lists the others (hwmon2's PSU) as not read; a
# device of unknown scope (hwmon3, an SFP module) as not summed; hwmon1's
# folder name is not UTF-8 and hwmon0电源's channel name is longer than the
# channel column
sroot="$tmp/$(printf 'sys\xfe')"
hw="$sroot/class/hwmon"
hw0="$hw/hwmon0电源"
hw1="$hw/$(printf 'hwmon1\xff')"
mkdir -p "$hw0" "$hw1" "$hw/hwmon2" "$hw/hwmon3"
echo power_meter >"$hw0/name"
printf 'CPU 功率\n' >"$hw0/power1_label"
echo 1000000 >"$hw0/power1_input"
printf 'amd_energy\n' >"$hw1/name"
printf 'l\xfe\n' >"$hw1/energy1_label"
echo 5 >"$hw1/energy1_input"
echo corsairpsu >"$hw/hwmon2/name"
echo 2000000 >"$hw/hwmon2/power1_input"
printf '光模块\n' >"$hw/hwmon3/name"
echo 500 >"$hw/hwmon3/power1_input"
S_ENV=(env WATTLENS_SYSFS_ROOT="$sroot") # no NVML, powermetrics or /dev (common.sh)
"${S_ENV[@]}" "$W" sensors --json >"$tmp/sensors.json" 2>"$tmp/err"
python3 - "$tmp/sensors.json" "$sroot" <<'PY' && ok "sensors --json keeps hwmon names, labels and paths" || bad "sensors --json: $(cat "$tmp/err")"
import json, os, sys
j = json.load(open(sys.argv[1]))
root = os.fsencode(sys.argv[2])
b = {x["backend"]: x for x in j["backends"]}
ch = {c["name"]: c for c in b["hwmon"]["channels"]}
cjk = ch["hwmon0电源/power_meter/power1"]
assert cjk["label"] == "CPU 功率" and "name_hex" not in cjk and "label_hex" not in cjk, cjk
assert cjk["domain"] == "total", cjk
raw = ch["hwmon1\ufffd/amd_energy/energy1"]
assert bytes.fromhex(raw["name_hex"]) == b"hwmon1\xff/amd_energy/energy1", raw
assert raw["label"] == "l\ufffd" and raw["label_hex"] == "6cfe", raw
assert len(ch) == 2 and b["hwmon"]["partial"], b["hwmon"]
assert b["hwmon"]["not_read"] == [
    "hwmon2/corsairpsu/power1: not summed with hwmon0电源/power_meter/power1, read as the total "
    "(whole-system meters may measure the same power)"], b["hwmon"]
assert b["hwmon"]["n_not_summed"] == 1 and b["hwmon"]["not_summed"] == [
    "hwmon3/光模块/power1: scope unknown (not a whole-system meter), not summed"], b["hwmon"]
assert root in bytes.fromhex(b["hwmon"]["source_hex"]), b["hwmon"]
assert root in bytes.fromhex(b["rapl-powercap"]["why_hex"]), b["rapl-powercap"]
PY
"${S_ENV[@]}" "$W" sensors >"$tmp/sensors.txt" 2>"$tmp/err"
python3 - "$tmp/sensors.txt" <<'PY' && ok "sensors table aligned in display columns" || bad "sensors table (see above): $(cat "$tmp/err" "$tmp/sensors.txt")"
import sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in s)
# the source: and why: lines name the root escaped (\xfe); the table is UTF-8
lines = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape").splitlines()
start = lines.index("  hwmon          IN USE")
hi = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("channel "))
head, rows = lines[hi], lines[hi + 1:hi + 3]
assert any("hwmon0电源/power_meter/power1" in r and "[CPU 功率]" in r for r in rows), rows
assert any("hwmon1\ufffd/amd_energy/energy1" in r and "[l\ufffd]" in r for r in rows), rows
assert lines[hi + 3].startswith("      not read: hwmon2/corsairpsu/power1: "), lines[hi + 3]
assert lines[hi + 4] == ("      not summed: hwmon3/光模块/power1: scope unknown (not a "
                         "whole-system meter), not summed"), lines[hi + 4]
for r in rows:
    r.encode("utf-8")  # no byte that is not UTF-8 reaches a cell
    domain = " total " if " total " in r else " package "
    for col, cell in (("domain", domain), ("method", " measured (")):
        want, got = width(head[:head.index(col)]), width(r[:r.index(cell) + 1])
        assert got == want, (col, r, got, want)
PY
# sensors --help gives every kind of reason a backend has for a "not read:" or
# a "not summed:" line (the backends' wl__sensor_not_read / _not_summed calls)
"$W" sensors --help | tr '\n' ' ' | tr -s ' ' >"$tmp/sensors.help"
miss=
for want in "cannot be read" "over the limit of" "powercap zone of an unknown name" \
  "rapl-msr DRAM or psys register whose unit is unknown" "whole-system meter other than the one read as the total" \
  "hwmon device whose scope is unknown" "a channel inside another one" "an i915 GPU's parts" \
  "a TPMI zone of the same domain as an intel-rapl zone" "on AMD the powercap core zone" \
  "a psys counter that stays flat or rises far less than the packages"; do
  grep -qF -- "$want" "$tmp/sensors.help" || miss="$miss [$want]"
done
if [ -z "$miss" ]; then ok "sensors --help names every not-read and not-summed reason"; else bad "sensors --help lacks:$miss"; fi
# ... and that a sysfs root given alone brings the dev/ beside it, not /dev
grep -qF -- "WATTLENS_DEV_ROOT instead of /dev (MSR device files); unset while WATTLENS_SYSFS_ROOT is set: the dev/ beside that root (<dir>/dev for <dir>/sys), never /dev" "$tmp/sensors.help" \
  && ok "sensors --help: WATTLENS_SYSFS_ROOT=<dir>/sys brings <dir>/dev" \
  || bad "sensors --help: WATTLENS_DEV_ROOT does not say a sysfs root brings its dev/"
# ... and what the /proc root is read for (not only "instead of /proc"), and
# that a sysfs root alone brings its proc/ for the CPU and kernel, not the rest
grep -qF -- "WATTLENS_PROC_ROOT instead of /proc: CPU time (the CPU model), the CPU (cpuinfo), the kernel version (hwmon's fix), a run writer's liveness (the store); unset while WATTLENS_SYSFS_ROOT is set: the CPU and kernel from the proc/ beside that root, the rest /proc" "$tmp/sensors.help" \
  && ok "sensors --help: what WATTLENS_PROC_ROOT is read for, and a sysfs root's proc/" \
  || bad "sensors --help: WATTLENS_PROC_ROOT does not say what it is read for"

# --- sensors: a root and hwmon names with ESC and CSI reach no terminal as they are ---------
# no_controls FILE: FILE is UTF-8 without a control character (C0 but a newline, DEL, C1)
no_controls() {
  python3 - "$1" <<'PY'
import sys
text = open(sys.argv[1], "rb").read().decode("utf-8")  # a raw 0x9B byte fails here
assert text, "no output"
bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]
assert not bad, bad
PY
}
# (hwmon0's name: a device of unknown scope, in a "not summed:" line; hwmon1
# a GPU whose label has them)
croot="$tmp/$(printf 's\033[31m\302\233\233')"
mkdir -p "$croot/class/hwmon/hwmon0" "$croot/class/hwmon/hwmon1"
printf 'n\033[2J\302\233\233\n' >"$croot/class/hwmon/hwmon0/name"
echo 1000000 >"$croot/class/hwmon/hwmon0/power1_input"
echo amdgpu >"$croot/class/hwmon/hwmon1/name"
printf 'l\033]0;t\007\n' >"$croot/class/hwmon/hwmon1/power1_label"
echo 1000000 >"$croot/class/hwmon/hwmon1/power1_input"
WATTLENS_SYSFS_ROOT="$croot" "$W" sensors >"$tmp/csensors.txt" 2>"$tmp/err"
no_controls "$tmp/csensors.txt" && ok "sensors prints no control character from sysfs" \
  || bad "sensors: a control character reached the output: $(od -c "$tmp/csensors.txt" | head -30)"
python3 - "$tmp/csensors.txt" <<'PY' && ok "sensors escapes the root in its source and why lines" || bad "sensors source/why lines: $(cat "$tmp/csensors.txt")"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
esc = "/s\\x1b[31m\\u009b\\x9b/class/"
src = [l for l in lines if l.startswith("      source: ")]
why = [l for l in lines if l.startswith("      why: ")]
assert any(esc in l for l in src), src
assert any(esc in l for l in why), why
ns = [l for l in lines if l.startswith("      not summed: ")]
assert ns == ["      not summed: hwmon0/n\\x1b[2J\\u009b\\x9b/power1: scope unknown (not a "
              "whole-system meter), not summed"], ns
PY
WATTLENS_SYSFS_ROOT="$croot" "$W" measure --no-store -- true >"$tmp/cmeasure.txt" 2>"$tmp/err"
no_controls "$tmp/cmeasure.txt" && grep -qF '/s\x1b[31m\u009b\x9b/class/hwmon' "$tmp/cmeasure.txt" \
  && ok "measure escapes the sensors in its sources line" || bad "measure: $(cat "$tmp/err" "$tmp/cmeasure.txt")"

# a warning from the library quotes what it ignored, escaped (util/log.c)
WATTLENS_SYSFS_ROOT="$croot" WATTLENS_MODEL_IDLE_W="$(printf 'w\033[31m\302\233\233')" \
  "$W" sensors >/dev/null 2>"$tmp/cwarn.txt"
no_controls "$tmp/cwarn.txt" && grep -qF "WATTLENS_MODEL_IDLE_W='w\x1b[31m\u009b\x9b'" "$tmp/cwarn.txt" \
  && ok "log warnings are escaped" || bad "log warning: $(cat "$tmp/cwarn.txt")"

# --- stored runs: every text field with ESC and CSI, as another writer (or a hand edit) left them
cdb=$tmp/controls.db
"$W" run -m "$M" -p "$(printf 'p\033[1m')" -n 2 -t 1 --baseline 0 --settle 0 --db "$cdb" \
  --tags "$(printf 't\033[1m\302\233\233')" --json >"$tmp/crun.json" 2>"$tmp/err" \
  || bad "run into $cdb: $(cat "$tmp/err")"
"$W" measure --db "$cdb" -- printf '%s' "$(printf 'c\033[2J\302\233\233')" >/dev/null 2>"$tmp/err" \
  || bad "measure into $cdb: $(cat "$tmp/err")"
python3 - "$cdb" <<'PY' || bad "could not edit $cdb"
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
bad = "\x1b[31m\x9b"  # ESC, and CSI as the character U+009B (C2 9B in UTF-8)
raw = lambda s: s.encode() + b"\x9b"  # ... and a raw 0x9B byte, which is not UTF-8
rid, extra = c.execute("select id, extra from runs where kind = 'inference'").fetchone()
x = json.loads(extra or "{}")
x["currency"] = "U" + bad
x["price_per_kwh"] = 0.2  # the currency of a stored price (without one: the default's, USD)
x["sequences"] = [{"seq": 0, "prompt_tokens": 1, "output_tokens": 2, "stop": "s" + bad}]
c.execute("update runs set uuid = cast(? as text), model_name = cast(? as text),"
          " model_path = ?, experiment = ?, depth = ?, energy_scope = ?, error = ?, extra = ?"
          " where id = ?",
          (raw("abcd\x1b0000-1111"), raw("m" + bad), "/p" + bad, "x" + bad, "d" + bad,
           "sc" + bad, "er" + bad, json.dumps(x), rid))
c.execute("update sections set phase = ? where run_id = ? and phase = 'decode'", ("ph" + bad, rid))
for table in ("component_agg", "component_metrics"):  # show reads the first
    c.execute(f"update {table} set name = ? where run_id = ? and name = 'q'", ("q" + bad, rid))
c.commit()
PY
# the run is looked up by a prefix of its id, as a user types it
"$W" show --db "$cdb" abcd >"$tmp/cshow.txt" 2>"$tmp/err"
no_controls "$tmp/cshow.txt" && ok "show prints no control character from the store" \
  || bad "show: a control character reached the output: $(cat "$tmp/err") $(od -c "$tmp/cshow.txt" | head -30)"
python3 - "$tmp/cshow.txt" <<'PY' && ok "show escapes the run's text fields" || bad "show's text fields: $(cat "$tmp/cshow.txt")"
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
e = "\\x1b[31m\\u009b"
for want in ["Run abcd\\x1b0000-1111\\x9b  (", "  model      m" + e + "\\x9b  (/p" + e + ")",
             "tags: t\\x1b[1m\\u009b\\x9b", "experiment: x" + e, "depth: d" + e,
             "scope sc" + e, "  error      er" + e + "\n", "U" + e + "/kWh",
             " s" + e + " " * 8, "export abcd\\x1b000 --format"]:
    assert want in t, want
# the phase and component cells, then their counts and times
assert re.search(r"\n  ph\\x1b\[31m\\u009b +\d+ ", t), "phase"
assert re.search(r"\n  q\\x1b\[31m\\u009b +\d[\d.]* [nmu]?s ", t), "component"
PY
"$W" gc --db "$cdb" --keep 0 --dry-run >"$tmp/cgc.txt" 2>"$tmp/err"
no_controls "$tmp/cgc.txt" && grep -qF 'would remove abcd\x1b0000-1111\x9b ' "$tmp/cgc.txt" \
  && grep -qF "UTC  printf %s 'c\\x1b[2J\\u009b\\x9b'" "$tmp/cgc.txt" \
  && ok "gc --dry-run escapes ids, models and commands" || bad "gc --dry-run: $(cat "$tmp/err" "$tmp/cgc.txt")"
"$W" runs --db "$cdb" >"$tmp/cruns.txt" 2>"$tmp/err"
no_controls "$tmp/cruns.txt" && grep -qF 'abcd\x1b000  ' "$tmp/cruns.txt" \
  && ok "runs prints no control character from the store" || bad "runs: $(cat "$tmp/err" "$tmp/cruns.txt")"
"$W" rm --db "$cdb" abcd >"$tmp/crm.txt" 2>"$tmp/err"
no_controls "$tmp/crm.txt" && grep -qxF 'removed abcd\x1b0000-1111\x9b' "$tmp/crm.txt" \
  && ok "rm escapes the id it removed" || bad "rm: $(cat "$tmp/err" "$tmp/crm.txt")"

# --- stored text holding a NUL byte (another writer's): every byte in JSON, \x00 in text ----
# Old: the command, model, prompt and experiment went through C strings, so
# show --json and runs --json cut them at the NUL and the text outputs ended
# there; the runs table's MODEL and TAGS cells showed controls as spaces and
# invalid bytes as U+FFFD, where show escapes them.
ndb=$tmp/nul.db
"$W" measure --db "$ndb" -- true >/dev/null 2>"$tmp/err" || bad "measure into $ndb: $(cat "$tmp/err")"
python3 - "$ndb" <<'PY' || bad "could not edit $ndb"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("update runs set command = cast(? as text), model_name = cast(? as text),"
          " prompt = cast(? as text), experiment = cast(? as text)",
          (b"c\0d", b"m\0n\x1b", b"p\0q\xff", b"e\0f"))
c.execute("insert into run_tags(run_id, tag) select id, cast(? as text) from runs", (b"t\0u\xfe\x1b",))
c.commit()
PY
nid=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select uuid from runs").fetchone()[0])' "$ndb")
"$W" show --db "$ndb" --json "$nid" >"$tmp/nshow.json" 2>"$tmp/err"
"$W" runs --db "$ndb" --json >"$tmp/nruns.json" 2>>"$tmp/err"
python3 - "$tmp/nshow.json" "$tmp/nruns.json" <<'PY' && ok "show --json and runs --json keep a NUL byte in every text" \
  || bad "NUL in JSON (see above): $(cat "$tmp/err")"
import json, sys
for r in (json.load(open(sys.argv[1]))["run"], json.load(open(sys.argv[2]))["runs"][0]):
    assert r["command"] == "c\0d" and r["model"] == "m\0n\x1b" and r["experiment"] == "e\0f", r
    assert r["prompt"] == "p\0q\ufffd" and r["prompt_hex"] == "700071ff", r
    assert r["tags_hex"] == ["740075fe1b"], r
PY
"$W" show --db "$ndb" "$nid" >"$tmp/nshow.txt" 2>"$tmp/err"
no_controls "$tmp/nshow.txt" && grep -qxF '  model      m\x00n\x1b' "$tmp/nshow.txt" \
  && grep -qxF '  command    c\x00d' "$tmp/nshow.txt" && grep -qxF '  prompt     p\x00q\xff' "$tmp/nshow.txt" \
  && grep -qF 'tags: t\x00u\xfe\x1b   experiment: e\x00f' "$tmp/nshow.txt" \
  && ok "show escapes a NUL byte in the run's text" || bad "show with NUL: $(cat "$tmp/err" "$tmp/nshow.txt")"
"$W" gc --db "$ndb" --keep 0 --dry-run >"$tmp/ngc.txt" 2>"$tmp/err"
grep -qF 'UTC  m\x00n\x1b' "$tmp/ngc.txt" && ok "gc --dry-run escapes a NUL byte in the model" \
  || bad "gc with NUL: $(cat "$tmp/err" "$tmp/ngc.txt")"
# the runs table's text cells escape as show does (old: "m n " and "t u\ufffd ")
"$W" runs --db "$ndb" >"$tmp/nruns.txt" 2>"$tmp/err"
no_controls "$tmp/nruns.txt" && grep -qF '  m\x00n\x1b  ' "$tmp/nruns.txt" \
  && grep -qE '  t\\x00u\\xfe\\x1b$' "$tmp/nruns.txt" \
  && ok "runs escapes its MODEL and TAGS cells as show does" || bad "runs with NUL: $(cat "$tmp/err" "$tmp/nruns.txt")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
