#!/usr/bin/env bash
# `wattlens generate` and `wattlens bench` end to end:
# - stories260K greedy 200 tokens prints exactly the reference text
#   (llama2.c and llama.cpp print the same; BOS only, leading space dropped);
# - the same model quantized to Q8_0 keeps at least the first 50 greedy tokens
#   (compared as text: the first 50 tokens' pieces); Q4_0, Q4_K and Q6_K run
#   and print text;
# - a synthetic llama with the real 32000-token llama vocabulary runs at every
#   supported weight type without NaN/Inf (generate fails loudly on a
#   non-finite logit);
# - bad input gives clear errors (--cache-type names itself and takes any case;
#   an empty prompt on GPT-2's vocabulary, which has a BOS id but does not add
#   it, says so and asks for -p);
# - a full context's hint says whether a larger -c runs past the training context;
# - bench prints llama-bench formats (md with its widths).
# Skips (and says so) the parts whose test data is absent.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"

model=$D/models/stories260K.gguf
expected=$D/expected/stories260K-greedy-200.txt
vocab=$D/vocab/ggml-vocab-llama-spm.gguf

# --- usage errors -------------------------------------------------------------
if "$W" generate --help | grep -q -- "--temp"; then ok "generate --help"; else bad "generate --help"; fi
# a prefill checks Ctrl-C once per forward batch, which --batch N above 64 makes N tokens
# (context.c raises n_ubatch to n_seq); the help said 64 whatever --batch was
if "$W" generate --help | tr '\n' ' ' | grep -q "within one forward batch: 64 tokens, or N with --batch N above 64;"; then
  ok "generate --help: Ctrl-C in prefill within one forward batch, N with --batch N"
else bad "generate --help: the prefill's Ctrl-C batch"; fi
"$W" generate -n 5 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "model" "$tmp/err"; then ok "generate without -m is a usage error"; else bad "generate without -m (rc $rc)"; fi
"$W" generate -m "$tmp/missing.gguf" -n 5 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "missing.gguf" "$tmp/err"; then ok "missing model file is a clear error"; else bad "missing model (rc $rc)"; fi
"$W" generate -m x --temp nope >/dev/null 2>&1; rc=$?
if [ $rc = 2 ]; then ok "bad --temp is a usage error"; else bad "bad --temp (rc $rc)"; fi
# --cache-type takes the engine's KV cache types (f16, f32) in any case, and
# names itself when refusing one (bench's -ctk is the same option)
for cmd in generate bench; do
  "$W" $cmd -m "$tmp/missing.gguf" --cache-type q8_0 >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q -- "--cache-type must be f16 or f32 (the engine's KV cache types), not 'q8_0'" "$tmp/err"; then
    ok "$cmd --cache-type q8_0 is a usage error naming the option"
  else bad "$cmd --cache-type q8_0 (rc $rc)"; cat "$tmp/err"; fi
  "$W" $cmd -m "$tmp/missing.gguf" --cache-type F32 >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -q "missing.gguf" "$tmp/err"; then ok "$cmd --cache-type F32 is accepted"
  else bad "$cmd --cache-type F32 (rc $rc)"; cat "$tmp/err"; fi
done

if [ ! -f "$model" ] || [ ! -f "$expected" ]; then
  echo "SKIP: stories260K test data absent under $D (generation tests skipped)"
else
  # --- the reference text ------------------------------------------------------
  "$W" generate -m "$model" --temp 0 -n 200 >"$tmp/out.txt" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && cmp -s "$tmp/out.txt" "$expected"; then
    ok "stories260K greedy 200 tokens = reference text"
  else
    bad "stories260K greedy text differs (rc $rc)"; diff <(cat "$expected") <(cat "$tmp/out.txt") | head -5; cat "$tmp/err"
  fi
  if grep -q "tokens/s" "$tmp/err"; then ok "speed goes to stderr"; else bad "no speed on stderr"; fi
  # a prompt cut inside a character (head -c): its partial UTF-8 is the
  # prompt's, so no U+FFFD for it comes before the generated text
  "$W" -q generate -m "$model" -p $'Once\xe2' -n 4 -t 1 --temp 0 >"$tmp/cut.txt" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && [ -s "$tmp/cut.txt" ] && ! grep -q $'\xef\xbf\xbd' "$tmp/cut.txt"; then
    ok "a prompt ending inside a character: no U+FFFD of its own in the output"
  else bad "prompt ending inside a character (rc $rc)"; od -c "$tmp/cut.txt" | head -2; cat "$tmp/err"; fi
  "$W" -q generate -m "$model" --batch 2 -p $'Once\xe2' -p $'One\xe2' -n 4 -t 1 --temp 0 >"$tmp/cutb.txt" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && [ -s "$tmp/cutb.txt" ] && ! grep -q $'\xef\xbf\xbd' "$tmp/cutb.txt"; then
    ok "--batch: prompts ending inside a character give no U+FFFD of their own"
  else bad "--batch prompts ending inside a character (rc $rc)"; od -c "$tmp/cutb.txt" | head -3; cat "$tmp/err"; fi
  # one token comes from the prefill's logits: there is no decode step to give a rate
  "$W" generate -m "$model" --temp 0 -n 1 >/dev/null 2>"$tmp/err1"
  if grep -Eq "decode [0-9.]+ ms \(n/a: no decode step\)" "$tmp/err1" && ! grep -q "0.00 tokens/s" "$tmp/err1"; then
    ok "-n 1: the decode rate is n/a, not 0.00 tokens/s"
  else bad "-n 1 decode rate"; cat "$tmp/err1"; fi
  "$W" generate -m "$model" --temp 0 -n 2 --batch 2 -p a -p b >/dev/null 2>"$tmp/errb"
  if grep -q "generated in 1 decode round$" "$tmp/errb"; then ok "batch: 1 decode round (singular)"
  else bad "batch rounds wording"; cat "$tmp/errb"; fi
  # same with 2 threads and an F32 KV cache
  "$W" generate -m "$model" --temp 0 -n 200 -t 2 --cache-type f32 >"$tmp/out2.txt" 2>/dev/null
  if cmp -s "$tmp/out2.txt" "$expected"; then ok "2 threads, F32 cache: same text"; else bad "2 threads / F32 cache text differs"; fi
  # a prompt: only the generated text is printed, and it continues the prompt
  "$W" generate -m "$model" --temp 0 -n 20 -p "Once upon a time" >"$tmp/p.txt" 2>/dev/null; rc=$?
  if [ $rc = 0 ] && [ -s "$tmp/p.txt" ] && ! grep -q "^Once upon a time" "$tmp/p.txt"; then
    ok "prompt is not echoed"
  else
    bad "prompt run (rc $rc)"
  fi
  # sampling with a seed is reproducible
  a=$("$W" generate -m "$model" --temp 0.9 --top-k 20 --top-p 0.9 --min-p 0.02 --repeat-penalty 1.1 --seed 7 -n 40 2>/dev/null)
  b=$("$W" generate -m "$model" --temp 0.9 --top-k 20 --top-p 0.9 --min-p 0.02 --repeat-penalty 1.1 --seed 7 -n 40 2>/dev/null)
  if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "seeded sampling is reproducible"; else bad "seeded sampling differs"; fi
  # context full: a clear stop, not a crash
  "$W" generate -m "$model" --temp 0 -n 100 -c 16 >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -qi "context" "$tmp/err"; then ok "full context stops with a message"; else bad "context full (rc $rc)"; fi

  # --- quantized variants --------------------------------------------------------
  if "$W" model quantize --help >/dev/null 2>&1; then
    # the first 50 generated tokens of the F32 model, as text
    "$W" generate -m "$model" --temp 0 -n 50 >"$tmp/f32-50.txt" 2>/dev/null
    for t in q8_0 q4_0 q4_k q6_k; do
      if ! "$W" model quantize "$model" "$tmp/$t.gguf" --type $t >/dev/null 2>"$tmp/qerr"; then
        bad "quantize $t: $(head -1 "$tmp/qerr")"; continue
      fi
      "$W" generate -m "$tmp/$t.gguf" --temp 0 -n 50 >"$tmp/$t-50.txt" 2>"$tmp/err"; rc=$?
      if [ $rc != 0 ]; then bad "generate $t (rc $rc): $(tail -1 "$tmp/err")"; continue; fi
      if [ $t = q8_0 ]; then
        if cmp -s "$tmp/$t-50.txt" "$tmp/f32-50.txt"; then ok "Q8_0: same first 50 greedy tokens"; else bad "Q8_0 text differs"; diff "$tmp/f32-50.txt" "$tmp/$t-50.txt" | head -4; fi
      else
        # finite, sensible logits: generation succeeded (a non-finite logit is an
        # error) and the text is mostly letters and spaces
        letters=$(tr -cd 'a-zA-Z ' <"$tmp/$t-50.txt" | wc -c)
        total=$(wc -c <"$tmp/$t-50.txt")
        if [ "$total" -gt 20 ] && [ $((letters * 100 / total)) -ge 70 ]; then ok "$t: finite logits, sensible text"; else bad "$t: text looks wrong"; fi
      fi
    done
  else
    echo "SKIP: 'wattlens model quantize' not available in this build (quantized checks skipped)"
  fi
fi

# --- synthetic llama with the real 32000-token vocabulary -----------------------------
if [ -f "$vocab" ] && "$W" model synth --help >/dev/null 2>&1; then
  for t in f32 f16 bf16 q8_0 q4_0 q4_k q6_k; do
    out=$tmp/synth-$t.gguf
    if ! "$W" model synth --arch llama --layers 2 --dim 256 --ffn 512 --heads 4 --kv-heads 2 \
        --vocab-from "$vocab" --type $t --seed 1 -o "$out" >/dev/null 2>"$tmp/serr"; then
      bad "synth $t: $(head -1 "$tmp/serr")"; continue
    fi
    "$W" generate -m "$out" --temp 0 -n 8 -p "Hello world" >/dev/null 2>"$tmp/err"; rc=$?
    if [ $rc = 0 ]; then ok "synthetic 32000-vocab llama at $t: finite"; else bad "synthetic $t (rc $rc): $(tail -1 "$tmp/err")"; fi
  done
else
  echo "SKIP: llama-spm vocabulary or 'wattlens model synth' absent (synthetic-model checks skipped)"
fi

# --- a full context: the hint says when a larger -c runs past the training context -------
# (without -c the context stops at the training context; the hint said "use -c to make it
# larger" there too, as if nothing stood past it)
if "$W" model synth --context 8 -o "$tmp/c8.gguf" >/dev/null 2>&1; then
  "$W" generate -m "$tmp/c8.gguf" -t 1 -n 20 --temp 0 -p Hi >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -q "(stop: context full)" "$tmp/err" &&
     grep -qF "the context (8 positions) is full: it is the model's whole training context; a larger -c runs past what the model was trained for" "$tmp/err"; then
    ok "context full without -c: it is the training context, a larger -c runs past it"
  else bad "context full without -c (rc $rc)"; cat "$tmp/err"; fi
  "$W" generate -m "$tmp/c8.gguf" -t 1 -n 20 --temp 0 -p Hi -c 7 >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -qF "the context (7 positions) is full; use -c to make it larger (the model's training context is 8 positions)" "$tmp/err"; then
    ok "context full with -c below the training context: use -c"
  else bad "context full with -c 7 (rc $rc)"; cat "$tmp/err"; fi
  "$W" generate -m "$tmp/c8.gguf" -t 1 -n 20 --temp 0 -p Hi -c 10 >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -qF "the context (10 positions) is full; it is past the model's training context (8 positions) already: a larger -c runs further past it" "$tmp/err"; then
    ok "context full with -c past the training context: says so"
  else bad "context full with -c 10 (rc $rc)"; cat "$tmp/err"; fi
else
  echo "SKIP: 'wattlens model synth' absent (context-full hints skipped)"
fi

# --- an empty prompt on a vocabulary with a BOS id that it does not add (GPT-2) ---------
gpt2=$D/vocab/ggml-vocab-gpt-2.gguf
if [ -f "$gpt2" ] && "$W" -q model synth --arch qwen2 --layers 1 --vocab-from "$gpt2" -o "$tmp/gpt2.gguf" >/dev/null 2>"$tmp/serr"; then
  "$W" generate -m "$tmp/gpt2.gguf" -t 1 -n 2 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -qF "the prompt is empty and this vocabulary does not add its BOS token (id 50256; tokenizer.ggml.add_bos_token is false, or unset and the gpt2 vocabulary's pre-tokenizer 'gpt-2' adds none by default): give a prompt with -p" "$tmp/err"; then
    ok "empty prompt, GPT-2 vocabulary: says BOS is not added, asks for -p"
  else bad "empty prompt, GPT-2 vocabulary (rc $rc)"; cat "$tmp/err"; fi
  "$W" -q generate -m "$tmp/gpt2.gguf" -t 1 -n 2 --temp 0 -p "Hello" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ]; then ok "GPT-2 vocabulary with -p generates"; else bad "GPT-2 vocabulary with -p (rc $rc)"; cat "$tmp/err"; fi
else
  echo "SKIP: gpt-2 vocabulary or 'wattlens model synth' absent (empty-prompt check skipped)"
fi

# --- prompt bytes the vocabulary cannot spell (starcoder: C0, C1, F5-FF) ---------------
# they are tokenized as U+FFFD (as llama.cpp does for a lone such byte) and generate and run say so, with
# the count, before generating (they used to be dropped without a word)
sc=$D/vocab/ggml-vocab-starcoder.gguf
if [ -f "$sc" ] && "$W" -q model synth --arch qwen2 --layers 1 --vocab-from "$sc" -o "$tmp/sc.gguf" >/dev/null 2>"$tmp/serr"; then
  bytes=$(printf 'a\xff\xfe\xc0b')
  warn="warning: prompt: 3 input bytes are not valid UTF-8 and have no token in this vocabulary: tokenized as U+FFFD"
  "$W" generate -m "$tmp/sc.gguf" -t 1 -n 1 --temp 0 -p "$bytes" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -qF "wattlens generate: $warn" "$tmp/err"; then ok "generate warns about replaced prompt bytes"
  else bad "generate, invalid prompt bytes (rc $rc)"; cat "$tmp/err"; fi
  "$W" generate -m "$tmp/sc.gguf" -t 1 -n 1 --temp 0 --batch 2 -p ok -p "$bytes" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -qF "wattlens generate: warning: prompt 1: 3 input bytes" "$tmp/err" \
    && ! grep -q "prompt 0:" "$tmp/err"; then ok "generate --batch names the prompt"
  else bad "generate --batch, invalid prompt bytes (rc $rc)"; cat "$tmp/err"; fi
  "$W" run -m "$tmp/sc.gguf" -t 1 -n 1 --temp 0 --baseline 0 --settle 0 --db "$tmp/sc.db" -p "$bytes" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && grep -qF "wattlens run: $warn" "$tmp/err"; then ok "run warns about replaced prompt bytes"
  else bad "run, invalid prompt bytes (rc $rc)"; cat "$tmp/err"; fi
  # run repeats one prompt over the batch: one warning, naming no index
  "$W" run -m "$tmp/sc.gguf" -t 1 -n 1 --temp 0 --baseline 0 --settle 0 --db "$tmp/sc.db" --batch 3 -p "$bytes" >/dev/null 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && [ "$(grep -c "warning: prompt" "$tmp/err")" = 1 ] && grep -qF "wattlens run: $warn" "$tmp/err"; then ok "run --batch: one warning for one prompt"
  else bad "run --batch, invalid prompt bytes (rc $rc)"; cat "$tmp/err"; fi
  "$W" generate -m "$tmp/sc.gguf" -t 1 -n 1 --temp 0 -p "ab" >/dev/null 2>"$tmp/err"
  if ! grep -q "warning" "$tmp/err"; then ok "valid prompt: no warning"; else bad "valid prompt warned"; cat "$tmp/err"; fi
else
  echo "SKIP: starcoder vocabulary or 'wattlens model synth' absent (prompt-bytes check skipped)"
fi

# --- bench formats ---------------------------------------------------------------------
if [ -f "$model" ]; then
  "$W" bench -m "$model" -p 16 -n 8 -r 2 -t 1 >"$tmp/b.md" 2>/dev/null
  if grep -q "| model" "$tmp/b.md" && grep -q "pp16" "$tmp/b.md" && grep -q "tg8" "$tmp/b.md" && grep -q "±" "$tmp/b.md"; then ok "bench md"; else bad "bench md"; cat "$tmp/b.md"; fi
  # llama-bench's widths after the model column: size 10, params 10, backend -10, threads 7,
  # test 15, t/s 20 (markdown_printer::get_field_width in tools/llama-bench/llama-bench.cpp)
  if sed -n 2p "$tmp/b.md" | grep -qF -- "- | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |" \
    && sed -n 1p "$tmp/b.md" | grep -qF -- " |       size |     params | backend    | threads |            test |                  t/s |"; then
    ok "bench md: llama-bench's column widths"
  else
    bad "bench md column widths"; cat "$tmp/b.md"
  fi
  "$W" bench -m "$model" -p 16 -n 0 -r 2 -t 1 -o csv >"$tmp/b.csv" 2>/dev/null
  if head -1 "$tmp/b.csv" | grep -q "avg_ts,stddev_ts,n_seq$" && [ "$(wc -l <"$tmp/b.csv")" = 2 ]; then ok "bench csv"; else bad "bench csv"; fi
  if tail -1 "$tmp/b.csv" | grep -q ',"1"$'; then ok "bench csv: n_seq 1 without --batch"; else bad "bench csv n_seq"; cat "$tmp/b.csv"; fi
  # llama-bench's fields in its order (test::get_fields, mid-2025: what
  # scripts/compare-llama-bench.py stores), then n_seq; the settings a CPU
  # engine lacks at llama-bench's defaults; model_type as llama_model_ftype_name
  # writes a guessed type ("... (guessed)" after it)
  if python3 - "$tmp/b.csv" <<'PY' 2>"$tmp/py"; then ok "bench csv: llama-bench's columns and values"; else bad "bench csv columns"; cat "$tmp/py"; fi
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
want = ("build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,"
        "model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,"
        "split_mode,main_gpu,no_kv_offload,flash_attn,tensor_split,tensor_buft_overrides,use_mmap,"
        "embeddings,no_op_offload,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts,"
        "n_seq").split(",")
assert rows[0] == want, rows[0]
r = dict(zip(rows[0], rows[1]))
assert len(rows[1]) == len(want), len(rows[1])
fixed = {"cpu_mask": "0x0", "cpu_strict": "0", "poll": "50", "n_gpu_layers": "0", "split_mode": "layer",
         "main_gpu": "0", "no_kv_offload": "0", "flash_attn": "0", "tensor_split": "0.00",
         "tensor_buft_overrides": "none", "use_mmap": "1", "embeddings": "0", "no_op_offload": "0",
         "n_prompt": "16", "n_gen": "0", "n_depth": "0"}
for k, v in fixed.items():
    assert r[k] == v, (k, r[k])
assert r["model_type"] == "llama ?B all F32 (guessed)", r["model_type"]
PY
  # --batch 3: every row says how many sequences its t/s counts
  "$W" bench -m "$model" -p 4 -n 2 -r 2 -t 1 --batch 3 -o csv >"$tmp/b3.csv" 2>/dev/null
  if [ "$(grep -c ',"3"$' "$tmp/b3.csv")" = 2 ] && [ "$(wc -l <"$tmp/b3.csv")" = 3 ]; then ok "bench csv --batch 3: n_seq 3"; else bad "bench csv --batch 3"; cat "$tmp/b3.csv"; fi
  "$W" bench -m "$model" -p 0 -n 8 -r 3 -t 1 -o json >"$tmp/b.json" 2>/dev/null
  if python3 -c "import json,sys; d=json.load(open('$tmp/b.json')); r=d[0]; assert r['n_gen']==8 and len(r['samples_ns'])==3 and r['avg_ts']>0" 2>/dev/null; then ok "bench json"; else bad "bench json"; fi
  # the same fields as csv, typed as llama-bench's json printer types them
  if python3 -c "
import json; r = json.load(open('$tmp/b.json'))[0]
want = {'cpu_mask': '0x0', 'cpu_strict': False, 'poll': 50, 'split_mode': 'layer', 'main_gpu': 0,
        'no_kv_offload': False, 'flash_attn': False, 'tensor_split': '0.00', 'tensor_buft_overrides': 'none',
        'use_mmap': True, 'embeddings': False, 'no_op_offload': 0, 'n_depth': 0, 'n_seq': 1,
        'model_type': 'llama ?B all F32 (guessed)'}
for k, v in want.items():
    assert r[k] == v and type(r[k]) is type(v), (k, r.get(k))" 2>"$tmp/py"; then ok "bench json: llama-bench's fields"; else bad "bench json fields"; cat "$tmp/py"; fi
  # json keeps csv's order: llama-bench's fields, its samples_ns/samples_ts
  # arrays after stddev_ts (where llama-bench's json has them), n_seq last
  if python3 - "$tmp/b.csv" "$tmp/b.json" <<'PY' 2>"$tmp/py"; then ok "bench json: csv's key order, n_seq last"; else bad "bench json key order"; cat "$tmp/py"; fi
import csv, json, sys
head = next(csv.reader(open(sys.argv[1])))
want = head[:-1] + ["samples_ns", "samples_ts", "n_seq"]
got = list(json.load(open(sys.argv[2]))[0].keys())
assert got == want, got
PY
  # -v: progress per repetition and the weights' page sizes (the share depends on the kernel)
  "$W" bench -m "$model" -p 0 -n 4 -r 2 -t 1 -v >/dev/null 2>"$tmp/b.err"
  if grep -q "tg4 repetition 2" "$tmp/b.err" && grep -Eq "weights: [0-9.]+ MiB resident, [0-9]+ % on 2 MiB pages" "$tmp/b.err"; then ok "bench -v"; else bad "bench -v"; cat "$tmp/b.err"; fi
  "$W" bench -m "$model" -o xml >/dev/null 2>&1; rc=$?
  if [ $rc = 2 ]; then ok "bench bad format is a usage error"; else bad "bench -o xml (rc $rc)"; fi
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
