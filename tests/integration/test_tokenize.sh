#!/usr/bin/env bash
# `wattlens tokenize` / `wattlens detokenize` end to end: --ids output format
# and values against llama.cpp's reference ids, pieces, --json, --stats on
# stderr, a tokenize | detokenize round trip of a file byte for byte,
# special tokens, and clear errors with the right exit status.
set -u
W=${WATTLENS:?}
V=${WL_TESTDATA:?}/vocab
# tmp, the exit trap and sanitizer reports; ok/bad are this file's (ok is quiet)
. "$(dirname "$0")/common.sh"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # name expected actual
  if [ "$2" == "$3" ]; then ok; else bad "$1: expected [$2] got [$3]"; fi
}

[ -f "$V/ggml-vocab-gpt-2.gguf" ] || skip_no_data "$V/ggml-vocab-gpt-2.gguf"
SPM=$V/ggml-vocab-llama-spm.gguf
GPT2=$V/ggml-vocab-gpt-2.gguf

# --ids: ids separated by single spaces, one trailing newline, nothing else
out=$("$W" tokenize -m "$SPM" -p 'Hello world' --ids --no-bos)
check "spm ids" "15043 3186" "$out"
out=$("$W" tokenize -m "$SPM" -p 'Hello world' --ids)
check "spm ids with BOS" "1 15043 3186" "$out"
"$W" tokenize -m "$GPT2" -p " Hello, world!" --ids > "$tmp/ids" 2> "$tmp/err"
check "gpt2 ids bytes" "$(printf ' 18435 11 995 0\n' | cut -c2-)" "$(cat "$tmp/ids")"
if printf '18435 11 995 0\n' | cmp -s - "$tmp/ids"; then ok; else bad "--ids output is not exactly the ids line"; fi
check "--ids keeps stderr quiet" "" "$(cat "$tmp/err")"

# reference cases straight from the .inp/.out files
for voc in llama-spm gpt-2 starcoder deepseek-llm phi-3; do
  inp=$V/ggml-vocab-$voc.gguf.inp
  outf=$V/ggml-vocab-$voc.gguf.out
  for k in 0 1 17 18 20 22; do # cases without leading/trailing newlines
    text=$(awk -v RS='\n__ggml_vocab_test__\n' -v k="$k" 'NR == k + 1 { printf "%s", $0 }' "$inp")
    want=$(sed -n "$((k + 1))p" "$outf" | sed 's/^ //')
    got=$("$W" tokenize -m "$V/ggml-vocab-$voc.gguf" -p "$text" --ids --no-bos)
    check "$voc case $k" "$want" "$got"
  done
done

# default output: ID<TAB>"piece"
out=$("$W" tokenize -m "$SPM" -p 'Hi' --no-bos)
check "table" "$(printf '6324\t" Hi"')" "$out"
out=$("$W" tokenize -m "$GPT2" -p 'a<|endoftext|>b' --special --pieces)
check "pieces with special" "$(printf '"a"\n"<|endoftext|>"\n"b"')" "$out"

# round trip of a file through the pipe, byte for byte (no trailing newline added)
printf 'Line one\n\tTabbed  "quoted" \xc3\xa9\xe2\x82\xac \xf0\x9f\x9a\x80 3.14159\n\n  trailing  ' > "$tmp/in.txt"
for m in "$SPM" "$GPT2"; do
  "$W" tokenize -m "$m" -f "$tmp/in.txt" --ids --no-bos | "$W" detokenize -m "$m" > "$tmp/back.txt"
  if cmp -s "$tmp/in.txt" "$tmp/back.txt"; then ok; else bad "round trip via $(basename "$m")"; fi
  # stdin input, with BOS: detokenize drops BOS and the SentencePiece prefix space
  "$W" tokenize -m "$m" -f - --ids < "$tmp/in.txt" | "$W" detokenize -m "$m" > "$tmp/back2.txt"
  if cmp -s "$tmp/in.txt" "$tmp/back2.txt"; then ok; else bad "stdin round trip via $(basename "$m")"; fi
done
out=$("$W" detokenize -m "$SPM" 1 15043 3186)
check "detokenize args" "Hello world" "$out"
out=$("$W" detokenize -m "$SPM" --special "1,15043,3186")
check "detokenize --special" "<s>Hello world" "$out"
out=$("$W" detokenize -m "$SPM" --keep-space 15043)
check "detokenize --keep-space" " Hello" "$out"

# --stats goes to stderr, stdout stays data
"$W" tokenize -m "$GPT2" -f "$tmp/in.txt" --ids --stats > "$tmp/o" 2> "$tmp/e"; st=$?
if grep -q 'MB/s' "$tmp/e" && grep -q 'lookups' "$tmp/e" && grep -q 'hit rate' "$tmp/e"; then ok; else bad "--stats content: $(cat "$tmp/e")"; fi
# ids on stdout (not empty: a crash or an early exit would pass the grep), nothing else
if [ $st = 0 ] && [ -s "$tmp/o" ] && ! grep -qv '^[0-9 ]*$' "$tmp/o"; then ok; else bad "--stats polluted stdout (status $st): $(head -c 200 "$tmp/o")"; fi
# an unused word cache gives a reason true for every tokenizer (BPE here)
"$W" tokenize -m "$GPT2" -p "" --stats 2>"$tmp/e" >/dev/null
"$W" tokenize -m "$GPT2" -p "<|endoftext|>" --special --stats 2>>"$tmp/e" >/dev/null
if [ "$(grep -c '^word cache: not used (no words to merge)$' "$tmp/e")" = 2 ]; then ok; else bad "--stats unused cache: $(grep 'word cache' "$tmp/e")"; fi
"$W" tokenize -m "$GPT2" -p "$(printf 'a%.0s' $(seq 300))" --stats 2>"$tmp/e" >/dev/null
if grep -q '^word cache: not used (every word is too long to cache)$' "$tmp/e"; then ok; else bad "--stats long word: $(grep 'word cache' "$tmp/e")"; fi

# bytes starcoder cannot spell (never valid UTF-8: C0, C1, F5-FF) are U+FFFD
# (8448) as in llama.cpp, and a warning on stderr says so with the count, in
# every output form (they used to vanish with exit status 0 and no word)
SC=$V/ggml-vocab-starcoder.gguf
printf 'a\xffb' | "$W" tokenize -m "$SC" -f - --ids > "$tmp/o" 2> "$tmp/e"; st=$?
check "starcoder invalid byte ids" "102 8448 103" "$(cat "$tmp/o")"
check "starcoder invalid byte status" 0 "$st"
check "starcoder invalid byte warning" "wattlens tokenize: warning: 1 input byte is not valid UTF-8 and has no token in this vocabulary: tokenized as U+FFFD" "$(cat "$tmp/e")"
# an overlong pair (C0 AF): the lead is U+FFFD and the continuation byte
# stays a byte; llama.cpp's lax decoder reads the pair as '/' (102 52 103):
# a known difference (docs/internals/tokenizer.md, "Invalid UTF-8")
printf 'a\xc0\xafb' | "$W" tokenize -m "$SC" -f - --ids > "$tmp/o" 2> "$tmp/e"
check "starcoder overlong pair ids" "102 8448 145 103" "$(cat "$tmp/o")"
printf 'a\xff\xfe\xc0b' | "$W" tokenize -m "$SC" -f - --json > "$tmp/o" 2> "$tmp/e"
grep -q '"bytes_replaced": 3,' "$tmp/o" && ok || bad "--json bytes_replaced: $(grep bytes_ "$tmp/o")"
grep -q 'warning: 3 input bytes are not valid UTF-8' "$tmp/e" && ok || bad "--json warning: $(cat "$tmp/e")"
"$W" -q tokenize -m "$SC" -p "$(printf 'a\xffb')" --ids > /dev/null 2> "$tmp/e"
check "-q keeps the warning quiet" "" "$(cat "$tmp/e")"
"$W" tokenize -m "$SC" -p 'a b' --ids > /dev/null 2> "$tmp/e"
check "valid text: no warning" "" "$(cat "$tmp/e")"

# --json is valid JSON with tokens and stats
"$W" tokenize -m "$SPM" -p 'Hello world' --json > "$tmp/j"
if command -v python3 > /dev/null; then
  r=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["n_tokens"], [t["id"] for t in d["tokens"]], d["stats"]["vocab_lookups"] > 0, d["tokenizer"]["type"])' "$tmp/j")
  check "json" "3 [1, 15043, 3186] True llama" "$r"
  r=$("$W" detokenize -m "$SPM" --json 15043 3186 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["text"], d["n_tokens"], d["valid_utf8"])')
  check "detokenize json" "Hello world 2 True" "$r"
else
  if grep -q '"n_tokens": 3' "$tmp/j"; then ok; else bad "json (no python3)"; fi
fi

# errors: what is wrong, right exit status
"$W" tokenize -p hi > /dev/null 2> "$tmp/e"; st=$?
check "missing -m status" 2 "$st"
grep -q -- '-m FILE.gguf is required' "$tmp/e" && ok || bad "missing -m message"
"$W" tokenize -m /nonexistent.gguf -p hi > /dev/null 2> "$tmp/e"; st=$?
check "bad model status" 1 "$st"
grep -q 'nonexistent.gguf' "$tmp/e" && ok || bad "bad model message: $(cat "$tmp/e")"
"$W" tokenize -m "$SPM" -p hi --ids --pieces > /dev/null 2>&1; check "--ids --pieces" 2 "$?"
"$W" tokenize -m "$SPM" -p hi -f x > /dev/null 2>&1; check "-p and -f" 2 "$?"
"$W" tokenize -m "$SPM" -f "$tmp" > /dev/null 2> "$tmp/e"; check "-f DIR status" 1 "$?"
grep -q "cannot read '$tmp': Is a directory" "$tmp/e" && ok || bad "-f DIR message: $(cat "$tmp/e")"
"$W" tokenize -m "$SPM" -f - < "$tmp" > /dev/null 2> "$tmp/e"; check "-f - from a directory status" 1 "$?"
grep -q "Is a directory" "$tmp/e" && ok || bad "-f - from a directory message: $(cat "$tmp/e")"
"$W" tokenize -m "$SPM" -f "$tmp/missing.txt" > /dev/null 2> "$tmp/e"; check "-f missing status" 1 "$?"
grep -q "cannot read '$tmp/missing.txt': No such file or directory" "$tmp/e" && ok || bad "-f missing message: $(cat "$tmp/e")"
"$W" detokenize -m "$SPM" 99999 > /dev/null 2> "$tmp/e"; st=$?
check "id out of range status" 1 "$st"
grep -q 'outside the vocabulary' "$tmp/e" && ok || bad "range message"
"$W" detokenize -m "$SPM" 12abc > /dev/null 2>&1; check "bad id status" 2 "$?"
# an id too large for a token id is a non-negative integer all the same: the
# message gives the range instead of "expected integers >= 0"
"$W" detokenize -m "$SPM" 99999999999 > /dev/null 2> "$tmp/e"; check "huge id status" 2 "$?"
grep -qF "invalid token id '99999999999' (expected integers from 0 to 2147483647)" "$tmp/e" &&
  ok || bad "huge id message: $(cat -v "$tmp/e")"
printf '1 99999999999' | "$W" detokenize -m "$SPM" > /dev/null 2> "$tmp/e"; check "huge stdin id status" 2 "$?"
grep -qF "invalid token id '99999999999' on stdin (expected integers from 0 to 2147483647)" "$tmp/e" &&
  ok || bad "huge stdin id message: $(cat -v "$tmp/e")"
"$W" detokenize -m "$SPM" -- -5 > /dev/null 2>&1; check "signed id status" 2 "$?"
# a bad id on stdin is quoted whole (to its separator) and escaped: an ESC
# from the input never reaches the terminal
printf '1 \033[31mred,2' | "$W" detokenize -m "$SPM" > /dev/null 2> "$tmp/e"; check "bad stdin id status" 2 "$?"
grep -qF "invalid token id '\\x1b[31mred' on stdin" "$tmp/e" && ok || bad "bad stdin id message: $(cat -v "$tmp/e")"
# a NUL byte on stdin is an error, not the end of the input (what followed it,
# a bad id included, used to be ignored with exit status 0)
printf '15043 3186\0 zzz 99' | "$W" detokenize -m "$SPM" > "$tmp/o" 2> "$tmp/e"; check "NUL on stdin status" 2 "$?"
grep -qF "invalid input on stdin: a NUL byte at byte 10 (token ids are text)" "$tmp/e" &&
  ok || bad "NUL on stdin message: $(cat -v "$tmp/e")"
check "NUL on stdin: no text" "" "$(cat "$tmp/o")"
"$W" tokenize -m "$WL_TESTDATA/powermetrics/$(ls "$WL_TESTDATA/powermetrics" | head -1)" -p hi > /dev/null 2> "$tmp/e"
check "not a GGUF status" 1 "$?"
# a text over the tokenizer's 1 GiB limit: said before it is read (a sparse
# file, so nothing is written or read), naming the limit
truncate -s $((1024 * 1024 * 1024 + 1)) "$tmp/big.txt"
"$W" tokenize -m "$GPT2" -f "$tmp/big.txt" --ids > /dev/null 2> "$tmp/e"; check "text over 1 GiB status" 1 "$?"
grep -qF "is 1073741825 bytes: the tokenizer takes at most 1073741824 bytes (1 GiB) per text" "$tmp/e" &&
  ok || bad "text over 1 GiB message: $(cat "$tmp/e")"
# the same file as stdin ('-') is refused before it is read too; it shares
# its offset with fd 3 here, which stays at 0 (it used to be read whole, up
# to a 2 GiB buffer, and refused only then)
exec 3< "$tmp/big.txt"
"$W" tokenize -m "$GPT2" -f - --ids <&3 > /dev/null 2> "$tmp/e"; check "stdin over 1 GiB status" 1 "$?"
grep -qF "'-' is 1073741825 bytes: the tokenizer takes at most 1073741824 bytes (1 GiB) per text" "$tmp/e" &&
  ok || bad "stdin over 1 GiB message: $(cat "$tmp/e")"
if [ -r "/proc/$$/fdinfo/3" ]; then
  check "stdin over 1 GiB is not read" 0 "$(sed -n 's/^pos:[[:space:]]*//p' "/proc/$$/fdinfo/3")"
fi
# detokenize takes at most 1 GiB of ids on stdin, said before reading a file
"$W" detokenize -m "$GPT2" <&3 > /dev/null 2> "$tmp/e"; check "detokenize stdin over 1 GiB status" 1 "$?"
grep -qF "the ids on stdin are more than 1073741824 bytes (1 GiB), the most detokenize reads" "$tmp/e" &&
  ok || bad "detokenize stdin over 1 GiB message: $(cat "$tmp/e")"
exec 3<&-
rm -f "$tmp/big.txt"
"$W" tokenize --help | grep -q 'Examples' && ok || bad "tokenize --help"
"$W" detokenize --help | grep -q 'Examples' && ok || bad "detokenize --help"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
