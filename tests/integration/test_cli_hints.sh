#!/usr/bin/env bash
# Usage errors that say what to do instead, end to end (each exits 2 before
# any model is loaded or run stored):
# - `run --depth off --activations`: statistics need components, which depth
#   off does not record (it was accepted, announced, and stored nothing);
# - `run model.gguf` / `generate model.gguf`: the model goes with -m (the
#   hint was to quote the prompt); a stray word still gets that hint;
# - bench, tokenize and detokenize say the same of a model given without -m;
#   bench of a value apart from its option (`-p 512 128`), tokenize of
#   unquoted text (quote it) or a text file (-f FILE);
# - an argument `model synth` does not take names the subcommand (it said
#   "model:") and says where a word, a value or a file name goes;
# - gc, runs and sensors say what they take instead of a stray argument: gc
#   a number with --keep or --max-age, runs filters with their options (a
#   number: --limit, a model file: --model), both a database with --db;
#   sensors nothing at all;
# - wattlens's global options after a command (`measure -q`, `runs -v`) are
#   unknown to the command: the error says to put them before it.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
db=$tmp/runs.db
# were a usage error missed, the built-in model would be made: in the build tree's cache
export XDG_CACHE_HOME=${WL_BINARY_DIR:-$tmp}/model-cache

# expect_usage NAME PATTERN CMD...: exit 2, PATTERN (fixed) on stderr, no database made
expect_usage() {
  local name=$1 pat=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -qF -- "$pat" "$tmp/err" && [ ! -e "$db" ]; then
    ok "$name"
  else
    bad "$name (rc $rc): $(cat "$tmp/err")"
  fi
}

expect_usage "run --depth off --activations refused" \
  "run: --activations needs --depth module or deep" \
  "$W" run --depth off --activations --db "$db" --baseline 0 --settle 0
expect_usage "run --activations --depth off (either order) refused" \
  "run: --activations needs --depth module or deep" \
  "$W" run --activations --depth off --db "$db" --baseline 0 --settle 0
"$W" run --help | tr '\n' ' ' | tr -s ' ' | grep -q "writes them); needs depth module or deep" \
  && ok "run --help: --activations needs depth module or deep" || bad "run --help: --activations"

touch "$tmp/some file.bin"
for c in run generate; do
  # generate stores nothing and takes no --db: the check that no database is made holds
  dbopt=(); [ $c = run ] && dbopt=(--db "$db")
  expect_usage "$c model.gguf: give it with -m" \
    "$c: unexpected argument 'stories260K.gguf' (give the model with -m FILE)" \
    "$W" $c stories260K.gguf "${dbopt[@]}"
  expect_usage "$c EXISTING-FILE: give it with -m" \
    "(give the model with -m FILE)" "$W" $c "$tmp/some file.bin" "${dbopt[@]}"
  expect_usage "$c WORD: quote the prompt" \
    "$c: unexpected argument 'upon' (quote the prompt: -p \"...\")" \
    "$W" $c -p once upon "${dbopt[@]}"
done

for c in bench tokenize detokenize; do
  expect_usage "$c model.gguf: give it with -m" \
    "$c: unexpected argument 'stories260K.gguf' (give the model with -m FILE)" \
    "$W" $c stories260K.gguf 1
done
expect_usage "bench -p 512 128: a value goes after its option" \
  "bench: unexpected argument '128' (a value goes right after its option: -p 512, -n 128)" \
  "$W" bench -m stories260K.gguf -p 512 128
expect_usage "tokenize WORD: quote the text" \
  "tokenize: unexpected argument 'upon' (quote the text: -p \"...\"; -f - reads it from stdin)" \
  "$W" tokenize -m stories260K.gguf -p once upon
expect_usage "tokenize TEXT-FILE: read it with -f" \
  "tokenize: unexpected argument '$tmp/some file.bin' (read a text file with -f FILE)" \
  "$W" tokenize -m stories260K.gguf "$tmp/some file.bin"
printf 'GGUF' >"$tmp/model.bin"
expect_usage "tokenize GGUF-FILE: give it with -m" \
  "tokenize: unexpected argument '$tmp/model.bin' (give the model with -m FILE)" \
  "$W" tokenize "$tmp/model.bin" -p hello
# an id list is detokenize's argument: a word that is not one keeps its message
expect_usage "detokenize WORD: an invalid id" \
  "detokenize: invalid token id 'hello' (expected integers from 0 to 2147483647)" \
  "$W" detokenize -m stories260K.gguf 1 hello

# model synth takes options only; nothing is written
for a in EXTRA 4 "$tmp/synth.gguf"; do
  case $a in
    EXTRA) hint="model synth takes options only: --arch A, --layers N, ..., -o OUT.gguf" ;;
    4) hint="a value goes right after its option: --layers 4, --dim 256" ;;
    *) hint="write the model with -o OUT.gguf; copy a tokenizer with --vocab-from FILE" ;;
  esac
  expect_usage "model synth $a: named, with a hint" \
    "wattlens model synth: unexpected argument '$a' ($hint)" \
    "$W" model synth --layers 2 "$a" -o "$tmp/out.gguf"
  [ ! -e "$tmp/out.gguf" ] && ok "model synth $a: nothing written" || bad "model synth $a: wrote"
done

expect_usage "sensors WORD: takes no argument" \
  "wattlens sensors: unexpected argument 'rapl' (sensors takes no argument: it tries every backend; --json prints JSON)" \
  "$W" sensors rapl
expect_usage "gc NUMBER: --keep or --max-age" \
  "wattlens gc: unexpected argument '5' (a number goes after its option: --keep N keeps the N newest runs, --max-age DAYS removes older ones)" \
  "$W" gc 5 --db "$db"
expect_usage "gc WORD: the options it takes" \
  "wattlens gc: unexpected argument 'all' (gc takes options only: --keep N and/or --max-age DAYS)" \
  "$W" gc --keep 5 all --db "$db"
expect_usage "runs WORD: filters go with their option" \
  "wattlens runs: unexpected argument 'llama' (a filter goes after its option: --model M, --tag T, --search TEXT, ...; one run with 'wattlens show ID')" \
  "$W" runs llama --db "$db"
expect_usage "runs NUMBER: --limit" \
  "wattlens runs: unexpected argument '5' (at most N runs with --limit N; one run with 'wattlens show ID')" \
  "$W" runs 5 --db "$db"
expect_usage "runs model.gguf: --model" \
  "wattlens runs: unexpected argument 'stories260K.gguf' (filter by model with --model M)" \
  "$W" runs stories260K.gguf --db "$db"
for c in gc runs; do
  expect_usage "$c DATABASE: --db" \
    "wattlens $c: unexpected argument '$db' (give the run database with --db FILE)" \
    "$W" $c "$db"
done

expect_usage "measure -q: a global option" \
  "measure: unknown option '-q' (a global option: put it before the command, 'wattlens -q measure ...')" \
  "$W" measure -q -- true
expect_usage "runs -v: a global option" \
  "runs: unknown option '-v' (a global option: put it before the command, 'wattlens -v runs ...')" \
  "$W" runs -v --db "$db"
expect_usage "show --quiet: a global option" \
  "show: unknown option '--quiet' (a global option: put it before the command" \
  "$W" show --quiet 1234 --db "$db"
expect_usage "sensors --version: a global option" \
  "sensors: unknown option '--version' (the version is a global option: 'wattlens --version')" \
  "$W" sensors --version
expect_usage "an unknown option that is not global: no hint" "unknown option '-x'" "$W" sensors -x
grep -q global "$tmp/err" && bad "sensors -x: a global hint: $(cat "$tmp/err")" || ok "sensors -x: no global hint"
# bench has a -v of its own: still taken as bench's
"$W" bench --help >/dev/null 2>&1 && "$W" bench -v --help >/dev/null 2>"$tmp/err" \
  && ok "bench -v is bench's own" || bad "bench -v: $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
