#!/usr/bin/env bash
# `run` whose storing fails says so in its final output, not only in the
# error line above it, and exits 1. The failures are made by the LD_PRELOAD
# helper fail_wal_write (tests/fakes/fail_wal_write.c): SQLite's write of
# the write-ahead log that holds a given text fails (EIO), so it happens at
# a fixed point without timing:
# - a batch of the settle's samples fails once, SQLite rolls it back, and
#   the run is stored `failed` with the lost rows in its error: the summary
#   shows `failed` and the last line says the run is stored as failed and
#   not all of it could be stored (it said "Run ... stored in DB." as after
#   a clean run); `--json`'s status is the stored one (it said `complete`)
#   and store_error has the message;
# - every log write from the generation's first batch on fails, so the
#   run's finish never lands: the row, left running by a writer that gave
#   up on it, is shown incomplete (it was shown `running`, "the run has not
#   ended"), and the last line says the run is NOT stored whole;
# - the same, and every read of the database fails too: `--json` still
#   prints one object (the run's id, store_error, the texts, the recorder's
#   own figures under `generation`, `summary` null), where it printed
#   nothing; in text, the generated text and a last line with the
#   recorder's figures marked as not stored (it printed nothing on
#   stdout); the failed reads are said to be an I/O error, not damage;
# - the run's row itself cannot be created: nothing is generated, one
#   error says the run was not started, stdout stays empty with `--json`
#   too (README), exit 1;
# - store_error is there when the message it holds (a --db path) is not
#   UTF-8, with the exact bytes in store_error_hex.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}" "${WL_BINARY_DIR:?}"
. "$(dirname "$0")/common.sh"
lib="$WL_BINARY_DIR/libfail_wal_write.so"
[ -f "$lib" ] || { bad "no $lib (build the fail_wal_write target)"; echo "$pass passed, $fail failed"; exit 1; }
M="$WL_TESTDATA/models/stories260K.gguf"
skip_no_data "$M"
# an ASan build checks that its runtime is loaded first; the helper is not
# instrumented and only passes calls on
asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# failing VAR=TEXT DB ARGS...: `run` into DB with the helper preloaded
failing() {
  local spec=$1 db=$2
  shift 2
  env LD_PRELOAD="$lib" ASAN_OPTIONS="$asan" "$spec" \
    "$WATTLENS" run -m "$M" -t 1 -n 8 --baseline 0 --db "$db" "$@"
}

# --- a rolled-back batch: stored failed ------------------------------------------------------
# The settle stores its samples about every second (profile.md): a settle
# of 2.2 s commits at least one batch of them before the generation.
db="$tmp/lost.db"
failing WL_FAIL_WAL_ONCE=settle "$db" --settle 2.2 >"$tmp/lost.out" 2>"$tmp/lost.err"
st=$?
python3 - "$tmp/lost.out" "$tmp/lost.err" "$st" <<'PY' && ok "run: a batch rolled back: stored failed, said last, exit 1" || { bad "run: a batch rolled back"; cat "$tmp/lost.out" "$tmp/lost.err"; }
import re, sys
out, err, st = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
assert st == 1, st
assert re.search(r"was stored as failed: rows not stored: \d+ power samples?, which SQLite rolled back", err), err
assert re.search(r"\nRun [0-9a-f-]{36}  \(failed, inference\)\n", out), out
assert re.search(r"\n  error .*rows not stored: \d+ power samples?", out), out
last = out.rstrip("\n").split("\n")[-2:]
assert re.fullmatch(r"Run [0-9a-f-]{36} stored in .*lost\.db as failed: not all of it could be "
                    r"stored \(see the error above\)\.", last[0]), last
assert last[1].startswith("See it again: wattlens show "), last
PY

db="$tmp/lost-json.db"
failing WL_FAIL_WAL_ONCE=kv_cache_type "$db" --settle 0 --json >"$tmp/lost.json" 2>"$tmp/lost-json.err"
st=$?
python3 - "$tmp/lost.json" "$st" <<'PY' && ok "run --json: a batch rolled back: status failed, store_error" || { bad "run --json: a batch rolled back"; cat "$tmp/lost.json" "$tmp/lost-json.err"; }
import json, sys
j, st = json.load(open(sys.argv[1])), int(sys.argv[2])
assert st == 1, st
assert j["status"] == "failed", j["status"]
assert "was stored as failed: rows not stored" in j["store_error"], j["store_error"]
assert j["summary"]["run"]["status"] == "failed", j["summary"]["run"]
PY

# --- a finish that never lands: shown incomplete ---------------------------------------------
# The generation (8 tokens) is shorter than a flush interval: its rows and
# the finish are one batch, the first log write to hold a "decode" row.
db="$tmp/gone.db"
failing WL_FAIL_WAL_FROM=decode "$db" --settle 0 >"$tmp/gone.out" 2>"$tmp/gone.err"
st=$?
python3 - "$tmp/gone.out" "$tmp/gone.err" "$st" <<'PY' && ok "run: the finish failed: shown incomplete, said last, exit 1" || { bad "run: the finish failed"; cat "$tmp/gone.out" "$tmp/gone.err"; }
import re, sys
out, err, st = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
assert st == 1, st
assert "storing the run: " in err and "disk I/O error" in err, err
assert re.search(r"\nRun [0-9a-f-]{36}  \(incomplete, inference\)\n", out), out
assert "(running, " not in out and "the run has not ended" not in out, out
last = out.rstrip("\n").split("\n")[-2:]
assert re.fullmatch(r"Run [0-9a-f-]{36} is NOT stored whole in .*gone\.db: storing it failed "
                    r"\(see the error above\); what was saved before reads as incomplete\.",
                    last[0]), last
PY
failing WL_FAIL_WAL_FROM=decode "$tmp/gone-json.db" --settle 0 --json >"$tmp/gone.json" 2>/dev/null
st=$?
python3 - "$tmp/gone.json" "$st" <<'PY' && ok "run --json: the finish failed: status incomplete, store_error" || { bad "run --json: the finish failed"; cat "$tmp/gone.json"; }
import json, sys
j, st = json.load(open(sys.argv[1])), int(sys.argv[2])
assert st == 1, st
assert j["status"] == "incomplete" and "disk I/O error" in j["store_error"], j
PY
# The message quotes the --db path: one that is not UTF-8 (a byte 0xFF in a
# directory's name) keeps store_error, as U+FFFD, with its bytes in
# store_error_hex. Old: json_string refused the text and the key was
# dropped, though --help says it is always there.
mkdir "$tmp/x"$'\xff'"y"
failing WL_FAIL_WAL_FROM=decode "$tmp/x"$'\xff'"y/gone.db" --settle 0 --json >"$tmp/gone-ff.json" 2>/dev/null
st=$?
python3 - "$tmp/gone-ff.json" "$st" <<'PY' && ok "run --json: a --db path that is not UTF-8: store_error kept, its bytes in store_error_hex" || { bad "run --json: store_error with a path that is not UTF-8"; cat "$tmp/gone-ff.json"; }
import json, sys
j, st = json.load(open(sys.argv[1])), int(sys.argv[2])
assert st == 1, st
assert j["status"] == "incomplete", j
e = j["store_error"]
assert "x\ufffdy/gone.db" in e and "disk I/O error" in e, e
raw = bytes.fromhex(j["store_error_hex"])
assert b"x\xffy/gone.db" in raw and raw.decode("utf-8", "replace") == e, raw
PY
# what readers see once it exited
"$WATTLENS" runs --db "$db" --json >"$tmp/gone-runs.json" 2>&1
python3 - "$tmp/gone-runs.json" <<'PY' && ok "runs: the run whose finish failed reads incomplete" || { bad "runs after a failed finish"; cat "$tmp/gone-runs.json"; }
import json, sys
r = json.load(open(sys.argv[1]))["runs"]
assert len(r) == 1 and r[0]["status"] == "incomplete", r
PY

# --- nor can it be read back: --json still prints what is known ----------------------------------
# Every read of the database fails too once the finish failed (a disk gone
# bad): the summary cannot be read back. Old: `run --json` printed nothing
# at all (the error on stderr only, exit 1). The failed reads are an I/O
# error, not a damaged file (SQLite says "malformed"; the store called the
# file damaged and suggested salvaging it).
env WL_FAIL_READS=1 LD_PRELOAD="$lib" ASAN_OPTIONS="$asan" WL_FAIL_WAL_FROM=decode \
  "$WATTLENS" run -m "$M" -t 1 -n 8 --baseline 0 --settle 0 --db "$tmp/unread.db" --json \
  >"$tmp/unread.json" 2>"$tmp/unread.err"
st=$?
python3 - "$tmp/unread.json" "$st" "$tmp/unread.err" <<'PY' && ok "run --json: stored and read back neither: still one object, exit 1" || { bad "run --json: not read back"; cat "$tmp/unread.json" "$tmp/unread.err"; }
import json, re, sys
j, st = json.load(open(sys.argv[1])), int(sys.argv[2])
assert st == 1, st
# SQLite says "database disk image is malformed" for the failed reads: the
# file is not called damaged (it said "damaged database ... salvaged")
err = open(sys.argv[3]).read()
assert re.search(r"reading the run back failed: .*unread\.db: [a-z ]+: an I/O error reading the "
                 r"file \(Input/output error at byte \d+ of .*unread\.db(-wal)?; SQLite: database "
                 r"disk image is malformed\); the disk or its filesystem failed the read", j["store_error"]), j["store_error"]
assert "damaged" not in err and "salvage" not in err, err
assert re.fullmatch(r"[0-9a-f-]{36}", j["run_id"]), j["run_id"]
assert j["status"] is None, j["status"]  # its finish did not land: not known
e = j["store_error"]
assert "disk I/O error" in e and "; then reading the run back failed: " in e, e
assert j["summary"] is None, j["summary"]
g = j["generation"]  # the recorder's own figures
assert g["input_tokens"] == 5 and g["output_tokens"] == 8, g
assert g["duration_ms"] > 0 and g["energy_j"] is not None and g["energy_method"], g
assert j["sequences"][0]["output_tokens"] == 8 and j["text"] == j["sequences"][0]["text"], j
assert j["provenance"] is not None, j
PY

# and in text: the generated text and, last, the recorder's own figures
# marked as not stored. Old: nothing on stdout (the error on stderr only).
env WL_FAIL_READS=1 LD_PRELOAD="$lib" ASAN_OPTIONS="$asan" WL_FAIL_WAL_FROM=decode \
  "$WATTLENS" run -m "$M" -t 1 -n 8 --baseline 0 --settle 0 --db "$tmp/unread-text.db" \
  >"$tmp/unread.out" 2>"$tmp/unread-text.err"
st=$?
python3 - "$tmp/unread.out" "$tmp/unread-text.err" "$st" <<'PY' && ok "run: stored and read back neither: the text and the recorder's figures, not stored, exit 1" || { bad "run: not read back (text)"; cat "$tmp/unread.out" "$tmp/unread-text.err"; }
import re, sys
out, err, st = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
assert st == 1, st
assert "an I/O error reading the file" in err and "damaged" not in err, err
assert re.match(r"Generated text \(8 tokens, stop: [a-z ]+\):\n.+\n", out), out
last = out.rstrip("\n").split("\n")[-1]
assert re.fullmatch(r"Run [0-9a-f-]{36} is NOT stored whole in .*unread-text\.db, nor could it be "
                    r"read back \(see the errors above\)\. The recorder's own figures, not stored: "
                    r"5 input tokens, 8 output tokens, [0-9.]+ [mµu]?s, energy [0-9.]+ [mµu]?J "
                    r"\([^,()]+(\([^()]*\))?, [a-z+]+\)\.", last), last
assert "See it again" not in out, out
PY

# --- the run's row cannot be created: not started, said once, stdout empty -----------------------
# The first log write that holds the prompt (the run's row) and every one
# after fail: nothing is generated and there is no run to describe, so
# `--json` too prints nothing on stdout (as when the model or the database
# cannot be opened) and the one error says the run was not started. Old:
# "cannot store the run: ..." left open whether anything had run.
for mode in json text; do
  flag=; [ "$mode" = json ] && flag=--json
  env LD_PRELOAD="$lib" ASAN_OPTIONS="$asan" WL_FAIL_WAL_FROM=zqx_first_row_prompt \
    "$WATTLENS" run -m "$M" -t 1 -n 8 --baseline 0 --settle 0 -p zqx_first_row_prompt \
    --db "$tmp/norow-$mode.db" $flag >"$tmp/norow-$mode.out" 2>"$tmp/norow-$mode.err"
  st=$?
  python3 - "$tmp/norow-$mode.out" "$tmp/norow-$mode.err" "$st" <<'PY' && ok "run ($mode): the run's row cannot be created: not started, stdout empty, exit 1" || { bad "run ($mode): the run's row cannot be created (exit $st)"; cat "$tmp/norow-$mode.out" "$tmp/norow-$mode.err"; }
import re, sys
out, err, st = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
assert st == 1, st
assert out == "", out
errs = [l for l in err.splitlines() if "cannot" in l or "failed" in l or "error" in l]
assert len(errs) == 1, errs
assert re.fullmatch(r"wattlens run: cannot store the run, so it was not started: .*norow-[a-z]+\.db: "
                    r"creating the run: disk I/O error", errs[0]), errs
assert "prefill and decode" not in err, err
PY
done

# --- a clean run says nothing of the kind ----------------------------------------------------
"$WATTLENS" run -m "$M" -t 1 -n 8 --settle 0 --baseline 0 --db "$tmp/clean.db" >"$tmp/clean.out" 2>"$tmp/clean.err"
st=$?
if [ "$st" = 0 ] && grep -qE "^Run [0-9a-f-]{36} stored in .*clean\.db\.$" "$tmp/clean.out" &&
   "$WATTLENS" run -m "$M" -t 1 -n 8 --settle 0 --baseline 0 --db "$tmp/clean.db" --json |
   python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["status"]=="complete" and j["store_error"] is None, j'; then
  ok "run: a clean run: stored, status complete, store_error null"
else
  bad "run: a clean run (exit $st)"; cat "$tmp/clean.out" "$tmp/clean.err"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
