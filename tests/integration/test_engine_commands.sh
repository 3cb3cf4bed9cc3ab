#!/usr/bin/env bash
# The engine-facing commands (generate, tokenize, detokenize, bench, run,
# model) end to end, for what a user sees at their edges:
# - an error about the model file names its path once;
# - tokenize/detokenize --json keep text that is not UTF-8 (a model path, a
#   piece, a decoded text) with U+FFFD and its bytes in "<field>_hex";
# - detokenize reports a stdin it cannot read (a directory) with exit 1;
# - command-line mistakes exit 2 before any work, naming the cause;
# - a run stopped during the baseline does not announce the generation;
# - generate prints the load time on stderr;
# - a damaged cached built-in model is generated again, and said so;
# - bench reports llama-bench's model_size (tensor bytes) and model_type, and the
#   n_batch / n_ubatch the engine ran (raised by --batch, capped by the context);
# - quantize says how many tensors got the requested type and warns when none did;
# - a closed stdout is one exit status 1, never a SIGPIPE death;
# - singular nouns for one, -q over -v, a bad WATTLENS_LOG is warned about.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
M=$D/models/stories260K.gguf
export XDG_CACHE_HOME=$tmp/cache

[ -f "$M" ] || skip_no_data "$M"

# --- the model path, once ----------------------------------------------------------------
missing=$tmp/nonexist.gguf
for cmd in "generate -m $missing -n 1" "tokenize -m $missing -p hi" "detokenize -m $missing 1" \
  "bench -m $missing" "run -m $missing --db $tmp/m.db --baseline 0 --settle 0"; do
  # shellcheck disable=SC2086
  "$W" $cmd >/dev/null 2>"$tmp/err"; rc=$?
  # the error line (run also notes "loading PATH" before it)
  n=$(grep "No such file" "$tmp/err" | grep -o "nonexist.gguf" | wc -l)
  name=${cmd%% *}
  if [ $rc = 1 ] && [ "$n" = 1 ] && grep -q "No such file" "$tmp/err"; then
    ok "$name: missing model named once"
  else
    bad "$name: missing model (rc $rc, named $n times): $(cat "$tmp/err")"
  fi
done
# an error found after the file opened (a truncated tensor list) names it too
head -c 5000 "$M" >"$tmp/short.gguf"
"$W" generate -m "$tmp/short.gguf" -n 1 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && [ "$(grep -o "short.gguf" "$tmp/err" | wc -l)" = 1 ]; then
  ok "generate: damaged model named once"
else bad "generate: damaged model (rc $rc): $(cat "$tmp/err")"; fi

# --- JSON with a model path and text that are not UTF-8 -------------------------------------
P=$(printf '%s/bad\377\033"name.gguf' "$tmp")
cp "$M" "$P"
"$W" tokenize -m "$P" -p hi --json >"$tmp/tok.json" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 - "$tmp/tok.json" "$P" <<'PY'; then ok "tokenize --json: model path with U+FFFD and model_hex"; else bad "tokenize --json with a non-UTF-8 path (rc $rc): $(cat "$tmp/err")"; fi
import json, os, sys
j = json.load(open(sys.argv[1]))
want = os.fsencode(sys.argv[2])
assert j["model"] == want.decode("utf-8", "replace"), j["model"]
assert bytes.fromhex(j["model_hex"]) == want, j["model_hex"]
assert j["n_tokens"] >= 1
PY
"$W" detokenize -m "$P" --json 1 2 3 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ]; then ok "detokenize --json with a non-UTF-8 path"; else bad "detokenize --json path (rc $rc)"; fi
# a byte token (<0xFF> is id 258 in stories260K) decodes to a byte that is not UTF-8
"$W" detokenize -m "$M" --json 258 >"$tmp/detok.json" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["text"] == "\ufffd" and j["text_hex"] == "ff" and j["valid_utf8"] is False, j
' "$tmp/detok.json"; then ok "detokenize --json: text_hex"; else bad "detokenize --json text_hex (rc $rc): $(cat "$tmp/detok.json" "$tmp/err")"; fi
"$W" tokenize -m "$M" -p "$(printf '\377')" --no-bos --json >"$tmp/tok2.json" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 -c '
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["tokens"] if t.get("piece_hex")]
assert t and t[0]["piece_hex"] == "ff" and t[0]["piece_is_partial_utf8"], t
' "$tmp/tok2.json"; then ok "tokenize --json: piece_hex"; else bad "tokenize --json piece_hex (rc $rc): $(cat "$tmp/tok2.json" "$tmp/err")"; fi

# an unknown architecture holding ESC and a byte that is not UTF-8: the
# warning shows them escaped as every other message does, and JSON keeps it
python3 - "$tmp/arch.gguf" <<'PY'
import struct, sys
def gstr(b): return struct.pack("<Q", len(b)) + b
kv = gstr(b"general.architecture") + struct.pack("<I", 8) + gstr(b"\x1b[2J|\xff")
open(sys.argv[1], "wb").write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv)
PY
"$W" model info "$tmp/arch.gguf" >/dev/null 2>"$tmp/err"
if grep -qF "architecture '\x1b[2J|\xff' is not known" "$tmp/err"; then ok "model info: warning escapes the architecture"
else bad "model info warning: $(cat "$tmp/err")"; fi
"$W" model info "$tmp/arch.gguf" --json 2>/dev/null >"$tmp/arch.json"
if python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["warnings"]) == 1 and "\ufffd" in j["warnings"][0], j["warnings"]
assert "1b5b324a7cff" in j["warnings_hex"][0], j
' "$tmp/arch.json"; then ok "model info --json keeps the warning (warnings_hex)"; else bad "model info --json warnings: $(grep -A3 warnings "$tmp/arch.json")"; fi

# --- detokenize: a stdin it cannot read ---------------------------------------------------
"$W" detokenize -m "$M" <"$tmp" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "cannot read '-': Is a directory" "$tmp/err" && [ ! -s "$tmp/out" ]; then
  ok "detokenize: unreadable stdin is an error"
else bad "detokenize < DIR (rc $rc): $(cat "$tmp/err")"; fi
"$W" tokenize -m "$M" -f - <"$tmp" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "cannot read '-': Is a directory" "$tmp/err"; then ok "tokenize -f - < DIR"; else bad "tokenize < DIR (rc $rc)"; fi
printf '1 50 171' | "$W" detokenize -m "$M" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ -s "$tmp/out" ]; then ok "detokenize reads ids from stdin"; else bad "detokenize stdin (rc $rc)"; fi

# --- command-line mistakes: exit 2 before any work, naming the cause ------------------------
usage2() { # name expected-text command...
  local name=$1 want=$2
  shift 2
  "$W" "$@" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -qF -- "$want" "$tmp/err" && ! grep -q "loading" "$tmp/err"; then ok "$name"
  else bad "$name (rc $rc): $(cat "$tmp/err")"; fi
}
usage2 "synth --heads 7" "not a multiple of 7 heads" model synth --heads 7 -o "$tmp/s.gguf"
usage2 "synth --kv-heads 3" "not a multiple of 3 KV heads" model synth --kv-heads 3 -o "$tmp/s.gguf"
usage2 "synth --dim 9 --heads 3" "must be even" model synth --dim 9 --heads 3 -o "$tmp/s.gguf"
usage2 "synth --type q2_k" "cannot write Q2_K weights" model synth --type q2_k -o "$tmp/s.gguf"
usage2 "quantize --type q2_k" "cannot write Q2_K weights" model quantize "$M" "$tmp/q.gguf" --type q2_k
usage2 "synth -o ''" "-o OUT.gguf is empty" model synth -o ''
usage2 "quantize IN OUT=''" "OUT is empty" model quantize "$M" '' --type q8_0
usage2 "run --db ''" "--db needs a file name" run -m "$M" --db '' --baseline 0 --settle 0
if [ ! -e "$tmp/s.gguf" ] && [ ! -e "$tmp/q.gguf" ]; then ok "no output written on a usage error"; else bad "usage error wrote output"; fi

# --- run stopped during the baseline: no "prefill and decode" line -------------------------
# (a background job of a script starts with SIGINT ignored, which run leaves ignored)
env --default-signal=INT "$W" run -m "$M" --baseline 100 --settle 0 --db "$tmp/b.db" >/dev/null 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 300); do grep -q "settling" "$tmp/err" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
wait $pid; rc=$?
if [ $rc = 130 ] && grep -q "cancelled" "$tmp/err" && ! grep -q "prefill and decode" "$tmp/err"; then
  ok "run stopped in the baseline does not announce the generation"
else bad "run stopped in the baseline (rc $rc): $(cat "$tmp/err")"; fi

# --- generate: the load time its help promises ------------------------------------------------
"$W" generate -m "$M" -n 3 -t 1 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -Eq "load [0-9.]+ ms" "$tmp/err" && grep -q " 1 thread$" "$tmp/err"; then
  ok "generate prints the load time"
else bad "generate load time (rc $rc): $(cat "$tmp/err")"; fi

# --- a damaged cached built-in model is generated again ------------------------------------
runb() { "$W" run --baseline 0 --settle 0 -n 4 -t 1 --db "$tmp/d.db" >/dev/null 2>"$tmp/err"; }
runb; rc=$?
cached=$(ls "$XDG_CACHE_HOME"/wattlens/default-llama-*.gguf 2>/dev/null | head -1)
if [ $rc = 0 ] && [ -s "$cached" ]; then ok "run generates the built-in model"; else bad "built-in model (rc $rc): $(cat "$tmp/err")"; fi
size=$(stat -c %s "$cached")
truncate -s $((size / 2)) "$cached"
runb; rc=$?
if [ $rc = 0 ] && grep -q "was damaged (.*extends past the end of the file.*); generated it again" "$tmp/err" &&
  [ "$(stat -c %s "$cached")" = "$size" ]; then
  ok "a truncated built-in model is generated again"
else bad "truncated built-in model (rc $rc): $(cat "$tmp/err")"; fi
cp "$M" "$cached" # a valid GGUF, but another model
runb; rc=$?
if [ $rc = 0 ] && grep -q "was damaged (its shape is not the built-in model's" "$tmp/err" &&
  [ "$(stat -c %s "$cached")" = "$size" ]; then
  ok "another model in the built-in model's place is replaced"
else bad "wrong built-in model (rc $rc): $(cat "$tmp/err")"; fi
# kept: the same file (inode and mtime), not regenerated without a word
before=$(stat -c '%i %y' "$cached")
runb; rc=$?
after=$(stat -c '%i %y' "$cached")
if [ $rc = 0 ] && ! grep -q "generated" "$tmp/err" && [ "$before" = "$after" ]; then ok "a good built-in model is kept"
else bad "good built-in model (rc $rc; $before -> $after): $(cat "$tmp/err")"; fi

# --- bench: llama-bench's model_size (tensor data bytes) and model_type ----------------------
"$W" model info "$M" --json >"$tmp/info.json" 2>/dev/null
"$W" bench -m "$M" -p 0 -n 2 -r 1 -t 1 --no-warmup -o json >"$tmp/bench.json" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 -c '
import json, os, sys
b = json.load(open(sys.argv[1]))[0]
i = json.load(open(sys.argv[2]))
assert b["model_size"] == i["tensor_bytes"] != os.path.getsize(sys.argv[3]), (b["model_size"], i["tensor_bytes"])
assert b["model_n_params"] == i["n_params"], b
assert b["model_type"] == "llama ?B all F32 (guessed)", b["model_type"]
' "$tmp/bench.json" "$tmp/info.json" "$M"; then ok "bench: model_size is the tensor bytes; model_type as llama.cpp"
else bad "bench model_size/model_type (rc $rc): $(grep model_ "$tmp/bench.json")"; fi
for spec in "llama 16 q8_0:llama 1B Q8_0" "qwen2 24 q4_0:qwen2 1B Q4_0" "gemma 18 f16:gemma 2B F16" \
  "stablelm 5 q8_0:stablelm ?B Q8_0"; do
  set -- ${spec%%:*}
  "$W" model synth --arch "$1" --layers "$2" --dim 64 --heads 2 --ffn 64 --type "$3" \
    -o "$tmp/syn.gguf" >/dev/null 2>&1
  got=$("$W" bench -m "$tmp/syn.gguf" -p 0 -n 1 -r 1 -t 1 --no-warmup -o csv 2>/dev/null | tail -1 | cut -d, -f7)
  if [ "$got" = "\"${spec#*:}\"" ]; then ok "bench model_type $got"; else bad "bench model_type: want ${spec#*:}, got $got"; fi
done
# n_batch / n_ubatch are the batch the engine ran: --batch 100 raises the 64
# to 100; a 16-token context holds batches of 16; -ub is taken as given
for spec in "--batch 100 -p 0 -n 2:100 100" "-p 16 -n 0:16 1" "-ub 32 -p 64 -n 0:32 1" \
  "-p 96 -n 0:64 1"; do
  # shellcheck disable=SC2086
  "$W" bench -m "$M" ${spec%%:*} -r 1 -t 1 --no-warmup -o json >"$tmp/bench.json" 2>"$tmp/err"
  got=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))[0]
print(r["n_ubatch"], r["n_seq"]) if r["n_batch"] == r["n_ubatch"] else print("n_batch", r["n_batch"])' \
    "$tmp/bench.json" 2>&1)
  csv=$("$W" bench -m "$M" ${spec%%:*} -r 1 -t 1 --no-warmup -o csv 2>/dev/null | tail -1 | cut -d, -f10,11)
  want=${spec#*:}
  if [ "$got" = "$want" ] && [ "$csv" = "\"${want% *}\",\"${want% *}\"" ]; then
    ok "bench ${spec%%:*}: n_ubatch ${want% *}"
  else bad "bench ${spec%%:*}: want n_ubatch/n_seq $want, got $got (csv $csv): $(cat "$tmp/err")"; fi
done

# --- quantize says what the output holds --------------------------------------------------------
"$W" model quantize "$M" "$tmp/q4k.gguf" --type q4_k >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "0 of 37 weight matrices in Q4_K, 5 in the fallback F16 and 32 in Q8_0 because their rows (64 to 172 values) are not a multiple of Q4_K's 256-value blocks" "$tmp/out" &&
  grep -q "warning: no weight matrix could be stored as Q4_K" "$tmp/err"; then
  ok "quantize: no Q4_K tensor is said, with a warning"
else bad "quantize q4_k summary (rc $rc): $(cat "$tmp/out" "$tmp/err")"; fi
"$W" model quantize "$M" "$tmp/f16.gguf" --type f16 >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "37 of 37 weight matrices in F16; 11 other tensors kept in their source type;" "$tmp/out" && [ ! -s "$tmp/err" ]; then
  ok "quantize f16: all matrices, no warning"
else bad "quantize f16 summary (rc $rc): $(cat "$tmp/out" "$tmp/err")"; fi

# --- synth says it the same way: the types the file holds, not only the one asked for ---------
"$W" model synth --type q4_k -o "$tmp/s4k.gguf" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "8 KV heads, seed 1; 0 of 16 weight matrices in Q4_K, 2 in the fallback F16 and 14 in Q8_0 because their rows (64 to 172 values) are not a multiple of Q4_K's 256-value blocks$" "$tmp/out" &&
  ! grep -q "Q4_K weights" "$tmp/out" && grep -q "warning: no weight matrix could be stored as Q4_K" "$tmp/err" &&
  "$W" model info "$tmp/s4k.gguf" | grep -q "F32: 5 tensors.*F16: 2 tensors.*Q8_0: 14 tensors"; then
  ok "synth --type q4_k with rows too short: the fallbacks said, with quantize's warning"
else bad "synth q4_k summary (rc $rc): $(cat "$tmp/out" "$tmp/err")"; fi
"$W" model synth --type q4_k --dim 256 --ffn 512 -o "$tmp/s4k.gguf" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "seed 1; 16 of 16 weight matrices in Q4_K$" "$tmp/out" && [ ! -s "$tmp/err" ]; then
  ok "synth --type q4_k with rows that fit: all matrices, no warning"
else bad "synth q4_k 256 summary (rc $rc): $(cat "$tmp/out" "$tmp/err")"; fi
"$W" model synth --arch mistral -o "$tmp/mis.gguf" >"$tmp/out" 2>&1; rc=$?
if [ $rc = 0 ] && grep -q "wrote .*: llama, " "$tmp/out" && "$W" model synth --help | grep -q "mistral is accepted as llama"; then
  ok "synth --arch mistral: a llama file, as model synth --help says"
else bad "synth --arch mistral (rc $rc): $(cat "$tmp/out")"; fi

# --- special tokens in a prompt: documented, and tokenize --special gives generate's ids ----
for c in generate run; do
  if "$W" $c --help | grep -q "tokenize --special"; then ok "$c --help: control tokens in the prompt"; else bad "$c --help lacks the special-token note"; fi
done
ids=$("$W" tokenize -m "$M" -p 'Hi</s><s>' --special --ids)
case " $ids " in *" 2 1 "*) ok "tokenize --special: </s><s> are EOS and BOS" ;; *) bad "tokenize --special ids: $ids" ;; esac

# --- a reader that goes away: exit 1, quietly; measured commands keep SIGPIPE --------------
# (started through python with SIGPIPE at its default, whatever this shell inherited)
dflpipe() { python3 -c 'import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
dflpipe "$W" generate -m "$M" -n 2000 -t 1 2>"$tmp/err" | head -c1 >/dev/null
rc=${PIPESTATUS[0]}
if [ "$rc" = 1 ] && [ ! -s "$tmp/err" ]; then ok "generate | head -c1: exit 1, no message"
else bad "generate | head -c1 (rc $rc): $(cat "$tmp/err")"; fi
out=$(dflpipe "$W" measure --no-store -- bash -c 'yes | head -c1 >/dev/null; echo "yes ${PIPESTATUS[0]}"' 2>/dev/null | head -1)
if [ "$out" = "yes 141" ]; then ok "measure: the command gets the default SIGPIPE"; else bad "measure command SIGPIPE: $out"; fi
"$W" tokenize -m "$M" -p hi >&- 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "writing the output: Bad file descriptor" "$tmp/err"; then ok "closed stdout: one message, exit 1"
else bad "closed stdout (rc $rc): $(cat "$tmp/err")"; fi

# --- smaller things: singular for one, -q over -v, WATTLENS_LOG, tiny numbers, EDP digits ---
"$W" model synth --layers 1 --heads 1 --dim 8 -o "$tmp/one.gguf" >"$tmp/out" 2>&1
if grep -q "1 layer, dim 8, ffn 172, 1 head, 1 KV head," "$tmp/out"; then ok "synth: singular for one"; else bad "synth singular: $(cat "$tmp/out")"; fi
"$W" run -m "$M" -n 1 -t 1 --baseline 0 --settle 0 --db "$tmp/one.db" >"$tmp/out" 2>/dev/null
if grep -q "Generated text (1 token, stop" "$tmp/out" && grep -q "Efficiency (.* 1 output token)" "$tmp/out"; then
  ok "run: singular for one token"
else bad "run singular: $(grep -E 'Generated|Efficiency' "$tmp/out")"; fi
# EDP lines: every figure with three significant digits (1.00e-06, not 1e-06)
if python3 -c '
import re, sys
lines = [l for l in open(sys.argv[1]) if l.strip().startswith("EDP")]
assert lines, "no EDP line"
for l in lines:
    v = l.split()[-2]
    if v == "n/a": continue
    digits = re.sub(r"e.*$", "", v).replace("-", "").replace(".", "").lstrip("0")
    assert len(digits) == 3, l
' "$tmp/out"; then ok "EDP figures have three significant digits"; else bad "EDP digits: $(grep EDP "$tmp/out")"; fi
"$W" -q bench -m "$M" -v -p 0 -n 2 -r 2 -t 1 --no-warmup >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/err" ]; then ok "-q bench -v: -q wins"; else bad "-q bench -v (rc $rc): $(cat "$tmp/err")"; fi
"$W" -q -v model synth -o "$tmp/x.gguf" >/dev/null 2>"$tmp/err"
"$W" -v -q tokenize -m "$M" -p hi >/dev/null 2>>"$tmp/err"
if [ ! -s "$tmp/err" ]; then ok "-q wins over -v in either order"; else bad "-q -v: $(cat "$tmp/err")"; fi
WATTLENS_LOG=bogus "$W" tokenize -m "$M" -p hi --ids >/dev/null 2>"$tmp/err"
if [ "$(grep -c "WATTLENS_LOG='bogus' is not a log level" "$tmp/err")" = 1 ]; then ok "a bad WATTLENS_LOG is warned about once"
else bad "WATTLENS_LOG=bogus: $(cat "$tmp/err")"; fi
"$W" generate -m "$M" --top-p 1e-320 -n 2 -t 1 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ]; then ok "--top-p 1e-320 (a denormal) is a number"; else bad "--top-p 1e-320 (rc $rc): $(cat "$tmp/err")"; fi
"$W" generate -m "$M" --top-p 1e999 -n 2 >/dev/null 2>&1; rc=$?
if [ $rc = 2 ]; then ok "--top-p 1e999 (an overflow) is refused"; else bad "--top-p 1e999 (rc $rc)"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
