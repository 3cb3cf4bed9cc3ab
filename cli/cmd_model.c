/* `wattlens model`: inspect, synthesize and quantize GGUF models.
 *   model info FILE [--metadata] [--tensors] [--json] [--kv-type T]
 *   model synth --arch A --layers N --dim D --ffn F --heads H --kv-heads K
 *               (--vocab-from VOCAB.gguf | --vocab N) --type T --seed S -o OUT.gguf
 *   model quantize IN OUT --type T [-t THREADS]
 * Thin: the work is in engine/gguf, arch, synth and requant. Data to stdout,
 * diagnostics (including the architecture warning) to stderr.
 */
#include "cli.h"
#include "cli_output.h"
#include "cli_store.h"
#include "cli_text.h"

#include "engine/arch.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/quant.h"
#include "engine/requant.h"
#include "engine/synth.h"
#include "engine/threadpool.h"
#include "util/json_text.h"
#include "util/log.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "model"
/* Each subcommand's messages name it ("wattlens model synth: ..."), the
 * helpers below take the name to use. */
#define CMD_INFO CMD " info"
#define CMD_SYNTH CMD " synth"
#define CMD_QUANTIZE CMD " quantize"

/* Each subcommand has its own page (`model SUB --help`, `help model SUB`);
 * `model --help` lists them. Old: one page for all four. */
static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: wattlens model info FILE [--metadata] [--tensors] [--json] [--kv-type TYPE]\n"
            "       wattlens model synth [options] -o OUT.gguf [--json]\n"
            "       wattlens model quantize IN.gguf OUT.gguf --type TYPE [-t THREADS] [--json]\n"
            "\n"
            "Inspect, synthesize and quantize GGUF models (versions 2 and 3).\n"
            "\n"
            "Subcommands ('wattlens model SUB --help' or 'wattlens help model SUB' for\n"
            "each one's options):\n"
            "  info               architecture, features, sizes and tensor types of a file\n"
            "  synth              write a model with deterministic pseudo-random weights\n"
            "  quantize           convert every weight matrix of a model to another type\n"
            "\n"
            "Examples:\n"
            "  wattlens model info ../shared/testdata/models/stories260K.gguf\n"
            "  wattlens model info model.gguf --tensors --json\n"
            "  wattlens model synth --layers 4 --dim 256 --ffn 688 --heads 8 --kv-heads 2 \\\n"
            "      --vocab 1024 --type q4_k --seed 7 -o /tmp/synth.gguf\n"
            "  wattlens model synth --arch gemma2 --context 256 -o /tmp/gemma2.gguf\n"
            "  wattlens model quantize model-f32.gguf model-q8.gguf --type q8_0\n"
            "  wattlens model quantize model-f16.gguf model-q4k.gguf --type q4_k -t 8\n"
            "  wattlens model synth --help\n");
}

static void print_help_info(FILE *out)
{
    fprintf(out,
            "Usage: wattlens model info FILE [--metadata] [--tensors] [--json] [--kv-type TYPE]\n"
            "\n"
            "info: architecture and features of a model file: layers, hidden and FFN\n"
            "sizes, heads and KV heads, attention (MHA/GQA/MQA), MoE experts, vocabulary,\n"
            "context, RoPE, parameter counts from the tensor shapes, tensor-type\n"
            "histogram, bits per weight, KV-cache bytes per token. The text output shows\n"
            "names and values from the file escaped for the terminal: \\xNN for a control\n"
            "byte or a byte that is not UTF-8, \\u00NN for a C1 control, \\\\ for '\\'.\n"
            "  --metadata         also list every metadata key with its type and value\n"
            "                     (arrays: element type and length; JSON: first 16 items;\n"
            "                     JSON shows a key or string value that is not UTF-8 with\n"
            "                     invalid bytes as U+FFFD and lists its bytes in hex under\n"
            "                     metadata_key_bytes or metadata_value_bytes)\n"
            "  --tensors          also list every tensor (name, type, shape, size, offset)\n"
            "  --json             print JSON instead of text (a number the file holds as\n"
            "                     NaN or inf is null there, so every key and item stays)\n"
            "  --kv-type TYPE     KV cache type for the bytes per token: f16 (default) or\n"
            "                     f32, as generate's --cache-type\n"
            "\n"
            "Examples:\n"
            "  wattlens model info ../shared/testdata/models/stories260K.gguf\n"
            "  wattlens model info model.gguf --tensors --json\n");
}

static void print_help_synth(FILE *out)
{
    fprintf(out,
            "Usage: wattlens model synth [options] -o OUT.gguf [--json]\n"
            "\n"
            "synth: write a model with deterministic pseudo-random weights (finite forward\n"
            "passes) in the layout real files of the family use.\n"
            "  --arch A           llama (default), qwen2, phi3, gemma, gemma2 or stablelm;\n"
            "                     mistral is accepted as llama (the same file layout)\n"
            "  --layers N         transformer blocks (default 2)\n"
            "  --dim D            hidden size (default 64)\n"
            "  --ffn F            feed-forward size (default 172)\n"
            "  --heads H          attention heads (default 8; must divide D)\n"
            "  --kv-heads K       KV heads (default: H; must divide H)\n"
            "  --vocab-from FILE  copy the tokenizer from a GGUF (e.g. a vocab file), with\n"
            "                     its general.name, which some tokenizer rules key on (Phi-3),\n"
            "                     so the copy gives the source's ids whatever --arch; the\n"
            "                     synth description goes to wattlens.synth.name\n"
            "  --vocab N          or generate a byte-level vocabulary of N >= 259 tokens (default "
            "512)\n"
            "  --type T           matrix type: f32 f16 bf16 q8_0 q4_0 q4_k q6_k (default f32);\n"
            "                     rows that do not fit the block fall back to q8_0 or f16\n"
            "                     (the 'wrote' line says how many, as quantize's does;\n"
            "                     a warning when none could take T)\n"
            "  --seed S           random seed (default 1)\n"
            "  --context N        context length (default 2048)\n"
            "  -o, --output FILE  output path (required)\n"
            "  --json             the 'wrote' line as JSON on stdout: output, type,\n"
            "                     weight_matrices, matrices_by_type, fallback (null or\n"
            "                     row_min, row_max, block_values, reason), architecture,\n"
            "                     bytes_in (null), bytes_out, the shape and seed. Not\n"
            "                     with OUT on stdout ('-')\n"
            "\n"
            "-o OUT: a regular file is replaced only once the model\n"
            "is complete (its mode kept; a new one gets 0666 less the umask); a symlink's\n"
            "target is written; a FIFO or a device is written in place; '-' (or\n"
            "/dev/stdout) is stdout itself, for a pipe. A terminal is refused (exit 2)\n"
            "before any work: stdout when it is one, or a name of one (/dev/tty).\n"
            "\n"
            "Examples:\n"
            "  wattlens model synth --layers 4 --dim 256 --ffn 688 --heads 8 --kv-heads 2 \\\n"
            "      --vocab 1024 --type q4_k --seed 7 -o /tmp/synth.gguf\n"
            "  wattlens model synth --arch gemma2 --context 256 -o /tmp/gemma2.gguf\n");
}

static void print_help_quantize(FILE *out)
{
    fprintf(out,
            "Usage: wattlens model quantize IN.gguf OUT.gguf --type TYPE [-t THREADS] [--json]\n"
            "\n"
            "quantize: convert every weight matrix of IN to TYPE (f32 f16 bf16 q8_0 q4_0\n"
            "q4_k q6_k); norms (2-D ones too), biases, MoE routers (ffn_gate_inp) and\n"
            "position embeddings stay as they are, as llama.cpp's quantize keeps them;\n"
            "metadata is copied. The output is the same whatever the thread count.\n"
            "Progress goes to stderr when it is a terminal (not with 'wattlens -q').\n"
            "OUT must not be IN (through any name or link, nor stdout redirected onto\n"
            "IN when OUT is '-').\n"
            "  --type T           target type (required)\n"
            "  -t, --threads N    threads that convert rows (default: the CPUs it may run on)\n"
            "  --json             the 'wrote' line as JSON on stdout: output, type,\n"
            "                     weight_matrices, matrices_by_type, fallback (null or\n"
            "                     row_min, row_max, block_values, reason), architecture,\n"
            "                     input, bytes_in, bytes_out, other_tensors. Not with OUT\n"
            "                     on stdout ('-')\n"
            "\n"
            "OUT: a regular file is replaced only once the model\n"
            "is complete (its mode kept; a new one gets 0666 less the umask); a symlink's\n"
            "target is written; a FIFO or a device is written in place; '-' (or\n"
            "/dev/stdout) is stdout itself, for a pipe. A terminal is refused (exit 2)\n"
            "before any work: stdout when it is one, or a name of one (/dev/tty).\n"
            "\n"
            "Examples:\n"
            "  wattlens model quantize model-f32.gguf model-q8.gguf --type q8_0\n"
            "  wattlens model quantize model-f16.gguf model-q4k.gguf --type q4_k -t 8\n");
}

static int open_model(const char *cmd, const char *path, wl_gguf **g)
{
    struct wl_errmsg err;
    int rc = wl_gguf_open(path, g, &err);
    if (rc)
        return wl_cli_fail(cmd, "%s", err.text);
    return WL_EXIT_OK;
}

/* True, after printing why, when out names the same file as in (through
 * any name, symlink or hard link), a model this command reads: in is mapped
 * while the output is written, and replacing it is not what was asked.
 * When the model goes to stdout or stderr ("-", /dev/stdout), what counts
 * is the file open there, not the name: `- 1<>IN` or `- >>IN` would write
 * over the input or append to it. */
static bool out_is_input(const char *cmd, const char *out, const char *in)
{
    if (!wl_cli_output_is_file(out, in))
        return false;
    wl_cli_fail(cmd,
                "refusing to write the output to %s: it is the input model %s; "
                "choose another file",
                out, in);
    return true;
}

/* True when path (through its symlinks) is a terminal: a character device
 * whose descriptor isatty says is one. Opened as the writer would open it,
 * but without becoming our controlling terminal (O_NOCTTY) and without
 * waiting for a modem line (O_NONBLOCK); closed at once, nothing written.
 * A device that cannot be opened is not called a terminal here: the writer
 * reports why it cannot write it. */
static bool names_terminal(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
        return false;
    int fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool tty = isatty(fd) == 1;
    close(fd);
    return tty;
}

/* True, after printing why, when the model would go to a terminal: binary
 * data there is never what was meant (random weights hold escape
 * sequences). stdout or stderr when OUT names them ("-", /dev/stdout), else
 * any name of a terminal (/dev/tty, /dev/pts/N, a link to one). Checked
 * before any work. */
static bool out_is_terminal(const char *cmd, const char *out)
{
    FILE *f = wl_cli_output_std_stream(out);
    if (f ? !isatty(fileno(f)) : !names_terminal(out))
        return false;
    wl_cli_usage_error(cmd,
                       "refusing to write a binary model to the terminal (%s); redirect it "
                       "(> FILE, | CMD) or give a file name",
                       out);
    return true;
}

/* Writes the model to out: to stdout itself for "-" or a name of stdout,
 * to stderr itself for a name of stderr (wl_cli_output_std_stream), so that
 * `>>` appends and a pipe works; any other name through
 * wl_gguf_writer_write. *werr: 0, or the cause of a failed write to
 * stdout or stderr, which the caller reports as any command's failed output
 * (wl_cli_output_error: once, and main does not report it again). */
static int write_model(const wl_gguf_writer *w, const char *out, struct wl_errmsg *err, int *werr)
{
    *werr = 0;
    FILE *f = wl_cli_output_std_stream(out);
    if (!f)
        return wl_gguf_writer_write(w, out, err);
    int rc = wl_gguf_writer_write_stream(w, f, f == stdout ? "stdout" : "stderr", err);
    if (rc && errno)
        *werr = errno;
    return rc;
}

/* Where "wrote OUT: ..." goes: stdout; stderr when the model itself went to
 * stdout (-o -, -o /dev/stdout), so that the line neither joins nor
 * overwrites it, and then nowhere under -q. NULL: not printed. */
static FILE *summary_stream(const char *out)
{
    if (wl_cli_output_std_stream(out) != stdout)
        return stdout;
    return wl_cli_quiet() ? NULL : stderr;
}

/* OUT as the summary names it. */
static const char *out_name(const char *out)
{
    FILE *f = wl_cli_output_std_stream(out);
    return f == stdout ? "stdout" : f == stderr ? "stderr" : out;
}

/* True, after the usage error, when --json was given and the model itself
 * goes to stdout (-o -): the JSON would join it. */
static bool json_on_model(const char *cmd, bool json, const char *out)
{
    if (!json || wl_cli_output_std_stream(out) != stdout)
        return false;
    wl_cli_usage_error(cmd, "--json prints to stdout, where the model goes (%s); give OUT a file",
                       out);
    return true;
}

/* A weight type synth and quantize can write: one they cannot (q2_k, a
 * type the engine only reads) is a command-line mistake like an unknown one. */
static bool parse_type(const char *cmd, const char *opt, const char *s, enum wl_ttype *t)
{
    if (wl_ttype_parse(s, t) != 0) {
        wl_cli_usage_error(
            cmd, "unknown tensor type '%s' for %s (f32 f16 bf16 q8_0 q4_0 q4_k q6_k)", s, opt);
        return false;
    }
    if (wl_requant_file_type(*t) < 0 || !wl_quant_is_supported(*t)) {
        wl_cli_usage_error(cmd,
                           "cannot write %s weights (%s): use f32 f16 bf16 q8_0 q4_0 q4_k or q6_k",
                           wl_ttype_name(*t), opt);
        return false;
    }
    return true;
}

/* An empty file name: open() would say only "invalid argument" or "no such
 * file" after the work, and it is never what was meant. */
static bool name_is_empty(const char *cmd, const char *what, const char *name)
{
    if (*name)
        return false;
    wl_cli_usage_error(cmd, "%s is empty: give a file name", what);
    return true;
}

/* ---- info ----------------------------------------------------------------------- */

/* "all F32" when one type holds every tensor, else "mixed, mostly Q4_K" (by parameters). */
static void precision_str(const struct wl_model_features *f, char *buf, size_t cap)
{
    uint32_t best = 0, kinds = 0;
    for (uint32_t t = 0; t < WL_TTYPE_COUNT; t++) {
        if (!f->type_tensors[t])
            continue;
        kinds++;
        if (f->type_params[t] >= f->type_params[best])
            best = t;
    }
    if (kinds == 0)
        snprintf(buf, cap, "none (0 tensors)");
    else if (kinds == 1)
        snprintf(buf, cap, "all %s", wl_ttype_name(best));
    else
        snprintf(buf, cap, "mixed, mostly %s", wl_ttype_name(best));
}

static void shape_str(const struct wl_gguf_tensor *t, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t d = 0; d < t->n_dims && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRIu64, d ? " x " : "", t->ne[d]);
    if (t->n_dims == 0)
        snprintf(buf, cap, "scalar");
}

/* ---- metadata listing (--metadata) ------------------------------------------------ */

/* A string value as the listing shows it: escaped (cli_text.h), and cut
 * with "..." after 60 bytes of escaped text (fewer when the 60th would split
 * a character or an escape). */
static const char *str_value(const struct wl_gguf_str *v, char buf[64])
{
    return wl_cli_textn(v->data, (size_t)v->len, buf, 64);
}

/* An unsigned integer as JSON, exact: a number up to INT64_MAX (jansson's
 * integers stop there), above it a string of its decimal digits, as
 * protobuf's JSON mapping writes 64-bit integers (a double, as this was,
 * keeps 15 digits: 2^64 - 1 read 1.84467440737096e19). */
static json_t *u64_json(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)u);
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, u);
    return json_string(digits);
}

/* Metadata values as JSON. A string that is not valid UTF-8 is shown with
 * each invalid byte as U+FFFD (wl_json_text), and *hex, NULL otherwise, is
 * set to its bytes: a hex string for a string, an array of every listed
 * item's hex for a string array (the shape wl_json_set_texts gives). The
 * caller files *hex under the key's name in metadata_value_bytes. A float
 * that is not finite is null (wl_json_real_or_null): JSON cannot write it. */
static json_t *scalar_json(const wl_gguf *g, const char *key, enum wl_gguf_vtype t, json_t **hex)
{
    struct wl_gguf_str sv;
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    if (t == WL_GGUF_STRING && wl_gguf_get_str(g, key, &sv) == 0) {
        bool lossy = false;
        json_t *j = wl_json_text(sv.data, (size_t)sv.len, &lossy);
        if (lossy)
            *hex = wl_json_hex(sv.data, (size_t)sv.len);
        return j;
    }
    if (t == WL_GGUF_BOOL && wl_gguf_get_bool(g, key, &b) == 0)
        return json_boolean(b);
    if ((t == WL_GGUF_FLOAT32 || t == WL_GGUF_FLOAT64) && wl_gguf_get_f64(g, key, &f) == 0)
        return wl_json_real_or_null(f);
    if (wl_gguf_get_i64(g, key, &i) == 0)
        return json_integer(i);
    if (wl_gguf_get_u64(g, key, &u) == 0)
        return u64_json(u); /* above INT64_MAX */
    return json_null();
}

/* Arrays: element type, length and the first elements (all when <= 16). */
static json_t *array_json(const wl_gguf *g, const char *key, json_t **hex)
{
    struct wl_gguf_arr a;
    if (wl_gguf_get_arr_view(g, key, &a) != 0)
        return json_null();
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("ARRAY"));
    json_object_set_new(j, "elem_type", json_string(wl_gguf_vtype_name(a.elem_type)));
    json_object_set_new(j, "n", json_integer((json_int_t)a.n));
    json_t *items = json_array();
    json_t *item_hex = a.elem_type == WL_GGUF_STRING ? json_array() : NULL;
    bool lossy = false;
    for (uint64_t k = 0; k < a.n && k < 16; k++) {
        struct wl_gguf_str sv;
        int64_t i;
        uint64_t u;
        double f;
        struct wl_gguf_arr sub;
        if (wl_gguf_arr_str(&a, k, &sv) == 0) {
            json_array_append_new(items, wl_json_text(sv.data, (size_t)sv.len, &lossy));
            json_array_append_new(item_hex, wl_json_hex(sv.data, (size_t)sv.len));
        } else if (wl_gguf_arr_sub(&a, k, &sub) == 0) {
            json_array_append_new(items, json_integer((json_int_t)sub.n));
        } else if ((a.elem_type == WL_GGUF_FLOAT32 || a.elem_type == WL_GGUF_FLOAT64) &&
                   wl_gguf_arr_f64(&a, k, &f) == 0) {
            json_array_append_new(items, wl_json_real_or_null(f));
        } else if (a.elem_type == WL_GGUF_BOOL && wl_gguf_arr_i64(&a, k, &i) == 0) {
            json_array_append_new(items, json_boolean(i != 0)); /* as a BOOL scalar */
        } else if (a.elem_type == WL_GGUF_UINT64 && wl_gguf_arr_u64(&a, k, &u) == 0) {
            json_array_append_new(items, u64_json(u)); /* above INT64_MAX too */
        } else if (wl_gguf_arr_i64(&a, k, &i) == 0) {
            json_array_append_new(items, json_integer(i));
        } else {
            json_array_append_new(items, json_null());
        }
    }
    json_object_set_new(j, a.n <= 16 ? "items" : "first_items", items);
    if (lossy)
        *hex = item_hex;
    else
        json_decref(item_hex);
    return j;
}

static json_t *kv_value_json(const wl_gguf *g, uint64_t k, json_t **hex)
{
    const char *key = wl_gguf_kv_key(g, k);
    enum wl_gguf_vtype t = wl_gguf_kv_type(g, k);
    *hex = NULL;
    json_t *v = t == WL_GGUF_ARRAY ? array_json(g, key, hex) : scalar_json(g, key, t, hex);
    return v ? v : json_null();
}

/* Sets obj[name] to key k's value and, when it is not valid UTF-8,
 * (*value_bytes)[name] to its bytes (creating *value_bytes then). */
static void set_kv(json_t *obj, const char *name, const wl_gguf *g, uint64_t k,
                   json_t **value_bytes)
{
    json_t *hex = NULL;
    json_object_set_new(obj, name, kv_value_json(g, k, &hex));
    if (!hex)
        return;
    if (!*value_bytes)
        *value_bytes = json_object();
    json_object_set_new(*value_bytes, name, hex);
}

/* Metadata keys as JSON object keys. JSON keys must be UTF-8, so a key that
 * is not valid UTF-8 is written with each invalid byte as U+FFFD (plus " #2",
 * " #3", ... if that name is taken) and listed in *key_bytes, created then:
 * {"that name": "the key's bytes in hex"}. Valid keys go first, so an
 * escaped key never displaces a real one. Values that are not valid UTF-8
 * are listed the same way, under the same name, in *value_bytes (see
 * scalar_json): a "<key>_hex" sibling inside the metadata object could be
 * taken for a real key. */
static json_t *metadata_json(const wl_gguf *g, json_t **key_bytes, json_t **value_bytes)
{
    json_t *j = json_object();
    *key_bytes = NULL;
    *value_bytes = NULL;
    for (int escaped_pass = 0; escaped_pass < 2; escaped_pass++) {
        for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++) {
            const char *key = wl_gguf_kv_key(g, k);
            const size_t len = strlen(key);
            bool lossy = false;
            json_t *shown = wl_json_text(key, len, &lossy);
            if (!shown || lossy != (escaped_pass == 1)) {
                json_decref(shown);
                continue;
            }
            if (!lossy) {
                set_kv(j, key, g, k, value_bytes);
                json_decref(shown);
                continue;
            }
            const char *base = json_string_value(shown);
            char *name = malloc(strlen(base) + 24);
            if (name) {
                strcpy(name, base);
                for (int n = 2; json_object_get(j, name); n++)
                    sprintf(name, "%s #%d", base, n);
                set_kv(j, name, g, k, value_bytes);
                if (!*key_bytes)
                    *key_bytes = json_object();
                json_object_set_new(*key_bytes, name, wl_json_hex(key, len));
            }
            free(name);
            json_decref(shown);
        }
    }
    return j;
}

static void print_metadata(const wl_gguf *g)
{
    printf("\n%-44s %-8s %s\n", "metadata key", "type", "value");
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++) {
        const char *key = wl_gguf_kv_key(g, k);
        enum wl_gguf_vtype t = wl_gguf_kv_type(g, k);
        char val[128];
        struct wl_gguf_str sv;
        int64_t i;
        uint64_t u;
        double f;
        val[0] = '\0';
        if (t == WL_GGUF_STRING && wl_gguf_get_str(g, key, &sv) == 0) {
            char tmp[64];
            snprintf(val, sizeof val, "'%s'", str_value(&sv, tmp));
        } else if (t == WL_GGUF_ARRAY) {
            struct wl_gguf_arr a;
            if (wl_gguf_get_arr_view(g, key, &a) == 0)
                snprintf(val, sizeof val, "[%s x %" PRIu64 "]", wl_gguf_vtype_name(a.elem_type),
                         a.n);
        } else if ((t == WL_GGUF_FLOAT32 || t == WL_GGUF_FLOAT64) &&
                   wl_gguf_get_f64(g, key, &f) == 0) {
            snprintf(val, sizeof val, "%g", f);
        } else if (wl_gguf_get_i64(g, key, &i) == 0) {
            snprintf(val, sizeof val, "%" PRId64, i);
        } else if (wl_gguf_get_u64(g, key, &u) == 0) {
            snprintf(val, sizeof val, "%" PRIu64, u);
        }
        wl_cli_put_text_padded(stdout, key, 44);
        printf(" %-8s %s\n", wl_gguf_vtype_name(t), val);
    }
}

/* Sets obj[field] to the string value of key as the file has it ("" when
 * it has none): whole, unlike the features' printable copies, and with
 * field_hex when it is not UTF-8. */
static void set_str_value(json_t *obj, const char *field, const wl_gguf *g, const char *key)
{
    struct wl_gguf_str sv;
    if (wl_gguf_get_str(g, key, &sv) != 0)
        sv = (struct wl_gguf_str){"", 0};
    wl_json_set_textn(obj, field, sv.data, (size_t)sv.len);
}

static json_t *features_json(const wl_gguf *g, const char *path, const struct wl_model_features *f,
                             enum wl_ttype kv_type, bool tensors, bool metadata)
{
    json_t *j = json_object();
    wl_json_set_text(j, "file", path); /* a path need not be UTF-8: then also file_hex */
    json_object_set_new(j, "file_size", json_integer((json_int_t)f->file_size));
    json_object_set_new(j, "gguf_version", json_integer(wl_gguf_version(g)));
    json_object_set_new(j, "alignment", json_integer((json_int_t)wl_gguf_alignment(g)));
    json_object_set_new(j, "architecture", json_string(wl_arch_name(f->arch)));
    set_str_value(j, "architecture_metadata", g, "general.architecture");
    json_object_set_new(j, "architecture_inferred", json_boolean(f->arch_inferred));
    set_str_value(j, "name", g, "general.name");
    json_object_set_new(j, "n_layers", json_integer(f->n_layers));
    json_object_set_new(j, "hidden_size", json_integer(f->hidden_size));
    json_object_set_new(j, "intermediate_size", json_integer(f->intermediate_size));
    json_object_set_new(j, "n_heads", json_integer(f->n_heads));
    json_object_set_new(j, "n_kv_heads", json_integer(f->n_kv_heads));
    json_object_set_new(j, "head_dim", json_integer(f->head_dim));
    json_object_set_new(j, "attention", json_string(wl_attention_name(f->attention)));
    json_t *moe = json_object();
    json_object_set_new(moe, "is_moe", json_boolean(f->n_experts > 0));
    json_object_set_new(moe, "n_experts", json_integer(f->n_experts));
    json_object_set_new(moe, "n_experts_used", json_integer(f->n_experts_used));
    json_object_set_new(j, "moe", moe);
    json_object_set_new(j, "vocab_size", json_integer(f->vocab_size));
    json_object_set_new(j, "context_length", json_integer(f->context_length));
    json_t *rope = json_object();
    json_object_set_new(rope, "dimension_count", json_integer(f->rope_dim));
    json_object_set_new(rope, "freq_base", wl_json_real_or_null(f->rope_freq_base));
    /* scale: the engine's (null: it refuses the model's scaling, and
     * scale_refused); scale_in_file: rope.scaling.factor (null: none) */
    json_object_set_new(rope, "scale", wl_json_real_or_null(f->rope_scaling.scale));
    json_object_set_new(rope, "scale_in_file", f->rope_scaling.in_file
                                                   ? wl_json_real_or_null(f->rope_scaling.factor)
                                                   : json_null());
    json_object_set_new(rope, "scale_refused", json_boolean(f->rope_scaling.refused));
    json_object_set_new(j, "rope", rope);
    json_object_set_new(j, "norm_eps", wl_json_real_or_null(f->norm_eps));
    json_object_set_new(j, "tied_embeddings", json_boolean(f->tied_embeddings));
    json_object_set_new(j, "n_params", json_integer((json_int_t)f->n_params));
    json_t *p = json_object();
    json_object_set_new(p, "total", json_integer((json_int_t)f->n_params));
    json_object_set_new(p, "embedding", json_integer((json_int_t)f->n_params_embedding));
    json_object_set_new(p, "output", json_integer((json_int_t)f->n_params_output));
    json_object_set_new(p, "attention", json_integer((json_int_t)f->n_params_attention));
    json_object_set_new(p, "attention_per_layer",
                        json_integer((json_int_t)f->n_params_attention_per_layer));
    json_object_set_new(p, "ffn", json_integer((json_int_t)f->n_params_ffn));
    json_object_set_new(p, "ffn_per_layer", json_integer((json_int_t)f->n_params_ffn_per_layer));
    json_object_set_new(p, "norm", json_integer((json_int_t)f->n_params_norm));
    json_object_set_new(p, "other", json_integer((json_int_t)f->n_params_other));
    json_object_set_new(p, "active_per_token", json_integer((json_int_t)f->n_params_active));
    json_object_set_new(j, "params", p);
    json_t *types = json_object();
    for (uint32_t t = 0; t < WL_TTYPE_COUNT; t++) {
        if (!f->type_tensors[t])
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "tensors", json_integer((json_int_t)f->type_tensors[t]));
        json_object_set_new(e, "params", json_integer((json_int_t)f->type_params[t]));
        json_object_set_new(e, "bytes", json_integer((json_int_t)f->type_bytes[t]));
        json_object_set_new(types, wl_ttype_name(t), e);
    }
    json_object_set_new(j, "tensor_types", types);
    char prec[64];
    precision_str(f, prec, sizeof prec);
    json_object_set_new(j, "precision", json_string(prec));
    json_object_set_new(j, "n_tensors", json_integer((json_int_t)f->n_tensors));
    json_object_set_new(j, "tensor_bytes", json_integer((json_int_t)f->tensor_bytes));
    json_object_set_new(j, "bits_per_weight", wl_json_real_or_null(f->bits_per_weight));
    uint64_t kv;
    json_object_set_new(j, "kv_cache_type", json_string(wl_ttype_name(kv_type)));
    json_object_set_new(j, "kv_bytes_per_token",
                        wl_model_kv_bytes_per_token(f, kv_type, &kv) == 0
                            ? u64_json(kv) /* above INT64_MAX: its digits */
                            : json_null());
    /* a warning quotes general.architecture as written: U+FFFD for a byte
     * that is not UTF-8, and warnings_hex (util/json_text.h) */
    const char *warning = f->warning;
    wl_json_set_texts(j, "warnings", &warning, NULL, f->warning[0] ? 1 : 0);
    if (metadata) {
        json_t *key_bytes = NULL, *value_bytes = NULL;
        json_object_set_new(j, "metadata", metadata_json(g, &key_bytes, &value_bytes));
        if (key_bytes)
            json_object_set_new(j, "metadata_key_bytes", key_bytes);
        if (value_bytes)
            json_object_set_new(j, "metadata_value_bytes", value_bytes);
    }
    if (tensors) {
        json_t *arr = json_array();
        for (uint64_t i = 0; i < wl_gguf_n_tensors(g); i++) {
            const struct wl_gguf_tensor *t = wl_gguf_tensor(g, i);
            json_t *e = json_object();
            json_t *shape = json_array();
            for (uint32_t d = 0; d < t->n_dims; d++)
                json_array_append_new(shape, json_integer((json_int_t)t->ne[d]));
            wl_json_set_text(e, "name", t->name); /* any bytes but NUL: name_hex */
            json_object_set_new(e, "type", json_string(wl_ttype_name(t->type)));
            json_object_set_new(e, "shape", shape);
            json_object_set_new(e, "n_params", json_integer((json_int_t)t->n_elements));
            json_object_set_new(e, "n_bytes", json_integer((json_int_t)t->n_bytes));
            json_object_set_new(e, "offset",
                                json_integer((json_int_t)(wl_gguf_data_offset(g) + t->offset)));
            json_array_append_new(arr, e);
        }
        json_object_set_new(j, "tensors", arr);
    }
    return j;
}

static void print_features(const wl_gguf *g, const char *path, const struct wl_model_features *f,
                           enum wl_ttype kv_type)
{
    fputs("file              ", stdout);
    wl_cli_put_text(stdout, path); /* a file's name can hold any byte too */
    printf(" (%" PRIu64 " bytes, GGUF v%" PRIu32 ", alignment %" PRIu64 ")\n", f->file_size,
           wl_gguf_version(g), wl_gguf_alignment(g));
    /* general.name and general.architecture as the file has them, escaped
     * (the features' copies only turn C0 controls into '?') */
    char text[256];
    struct wl_gguf_str sv;
    if (wl_gguf_get_str(g, "general.name", &sv) == 0 && sv.len > 0)
        printf("name              %s\n", wl_cli_textn(sv.data, (size_t)sv.len, text, sizeof text));
    printf("architecture      %s", wl_arch_name(f->arch));
    if (f->arch_inferred || (f->arch_string[0] && strcmp(f->arch_string, wl_arch_name(f->arch)))) {
        if (wl_gguf_get_str(g, "general.architecture", &sv) != 0) /* absent, or not a string */
            printf(" (no %sgeneral.architecture%s)",
                   wl_gguf_find_kv(g, "general.architecture") < 0 ? "" : "usable ",
                   f->arch_inferred ? "; inferred" : "");
        else
            printf(" (metadata says '%s'%s)",
                   wl_cli_textn(sv.data, (size_t)sv.len, text, sizeof text),
                   f->arch_inferred ? "; inferred" : "");
    }
    printf("\n");
    printf("layers            %" PRIu32 "\n", f->n_layers);
    printf("hidden size       %" PRIu32 "\n", f->hidden_size);
    printf("FFN size          %" PRIu32 "\n", f->intermediate_size);
    printf("attention         %s (%" PRIu32 " heads, %" PRIu32 " KV heads, head dim %" PRIu32 ")\n",
           wl_attention_name(f->attention), f->n_heads, f->n_kv_heads, f->head_dim);
    if (f->n_experts)
        printf("MoE               %" PRIu32 " experts, %" PRIu32 " used per token\n", f->n_experts,
               f->n_experts_used);
    else
        printf("MoE               no (dense)\n");
    printf("vocab size        %" PRIu32 "\n", f->vocab_size);
    printf("context length    %" PRIu32 "\n", f->context_length);
    printf("RoPE              dim %" PRIu32 ", base %g, scale ", f->rope_dim, f->rope_freq_base);
    const struct wl_rope_scaling *rs = &f->rope_scaling;
    if (rs->refused) /* the warning says why */
        printf("refused by the engine");
    else
        printf("%g", rs->scale);
    /* what the engine uses, then why (a refused scale is NaN: never equal) */
    if (rs->in_file && rs->factor != rs->scale)
        printf(" (file says %g%s)", rs->factor, rs->type_none ? " with scaling type none" : "");
    putchar('\n');
    printf("parameters        %" PRIu64 "%s\n", f->n_params,
           f->n_params_active != f->n_params ? "" : " (from tensor shapes)");
    if (f->n_params_active != f->n_params)
        printf("  active/token    %" PRIu64 "\n", f->n_params_active);
    printf("  embedding       %" PRIu64 "%s\n", f->n_params_embedding,
           f->tied_embeddings ? " (tied with output)" : "");
    printf("  output          %" PRIu64 "\n", f->n_params_output);
    printf("  attention       %" PRIu64 " per layer (%" PRIu64 " total)\n",
           f->n_params_attention_per_layer, f->n_params_attention);
    printf("  FFN             %" PRIu64 " per layer (%" PRIu64 " total)\n",
           f->n_params_ffn_per_layer, f->n_params_ffn);
    printf("  norms           %" PRIu64 "\n", f->n_params_norm);
    if (f->n_params_other)
        printf("  other           %" PRIu64 "\n", f->n_params_other);
    printf("tensor types     ");
    for (uint32_t t = 0; t < WL_TTYPE_COUNT; t++) {
        if (f->type_tensors[t])
            printf(" %s: %" PRIu64 " tensors, %" PRIu64 " params;", wl_ttype_name(t),
                   f->type_tensors[t], f->type_params[t]);
    }
    printf("%s\n", f->n_tensors ? "" : " none (0 tensors)");
    char prec[64];
    precision_str(f, prec, sizeof prec);
    printf("precision         %s\n", prec);
    char bpw[32];
    wl_cli_fmt(f->bits_per_weight, 2, NULL, bpw, sizeof bpw);
    printf("tensor data       %" PRIu64 " bytes in %" PRIu64 " tensors, %s bits per weight\n",
           f->tensor_bytes, f->n_tensors, bpw);
    uint64_t kv;
    if (wl_model_kv_bytes_per_token(f, kv_type, &kv) == 0)
        printf("KV cache          %" PRIu64 " bytes per token (%s)\n", kv, wl_ttype_name(kv_type));
    else
        printf("KV cache          unknown for %s\n", wl_ttype_name(kv_type));
}

static int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tensors", no_argument, NULL, 't'},  {"json", no_argument, NULL, 'j'},
        {"metadata", no_argument, NULL, 'm'}, {"kv-type", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    bool tensors = false, json = false, metadata = false;
    enum wl_ttype kv_type = WL_TTYPE_F16;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            tensors = true;
            break;
        case 'j':
            json = true;
            break;
        case 'm':
            metadata = true;
            break;
        case 'k':
            if (!wl_cli_parse_cache_type(CMD_INFO, "--kv-type", optarg, &kv_type))
                return WL_EXIT_USAGE;
            break;
        case 'h':
            wl_cli_print_help(print_help_info);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error(CMD_INFO, c, argv, opts);
        }
    }
    if (optind != argc - 1)
        return wl_cli_usage_error(CMD_INFO, "give exactly one FILE");
    const char *path = argv[optind];
    if (name_is_empty(CMD_INFO, "FILE", path))
        return WL_EXIT_USAGE;
    wl_gguf *g = NULL;
    int ec = open_model(CMD_INFO, path, &g);
    if (ec)
        return ec;
    struct wl_model_features f;
    struct wl_errmsg err;
    int rc = wl_model_features_from_gguf(g, &f, &err);
    if (rc) {
        wl_gguf_close(g);
        return wl_cli_fail(CMD_INFO, "%s: %s", path, err.text);
    }
    if (f.warning[0] && !wl_cli_quiet()) {
        char warning[4 * sizeof f.warning]; /* it quotes general.architecture */
        fprintf(stderr, "wattlens " CMD_INFO ": warning: %s: %s\n", path,
                wl_cli_text(f.warning, warning, sizeof warning));
    }
    if (json) {
        ec = wl_cli_print_json(features_json(g, path, &f, kv_type, tensors, metadata));
    } else {
        print_features(g, path, &f, kv_type);
        if (metadata)
            print_metadata(g);
        if (tensors) {
            printf("\n%-36s %-6s %-22s %12s %12s %12s\n", "tensor", "type", "shape", "params",
                   "bytes", "offset");
            for (uint64_t i = 0; i < wl_gguf_n_tensors(g); i++) {
                const struct wl_gguf_tensor *t = wl_gguf_tensor(g, i);
                char shape[96];
                shape_str(t, shape, sizeof shape);
                wl_cli_put_text_padded(stdout, t->name, 36);
                printf(" %-6s %-22s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n",
                       wl_ttype_name(t->type), shape, t->n_elements, t->n_bytes,
                       wl_gguf_data_offset(g) + t->offset);
            }
        }
        ec = wl_cli_flush_stdout(CMD_INFO);
    }
    wl_gguf_close(g);
    return ec;
}

/* ---- what a written model holds (synth, quantize) ------------------------------------ */

/* "their rows (172 values) are not a multiple of Q4_K's 256-value blocks":
 * why some matrices of a written model are in a fallback type. Returns buf. */
static const char *fallback_reason(enum wl_ttype type, const struct wl_requant_stats *st, char *buf,
                                   size_t cap)
{
    char rows[64];
    if (st->fallback_row_min == st->fallback_row_max)
        snprintf(rows, sizeof rows, "%" PRIu64, st->fallback_row_min);
    else
        snprintf(rows, sizeof rows, "%" PRIu64 " to %" PRIu64, st->fallback_row_min,
                 st->fallback_row_max);
    snprintf(buf, cap, "their rows (%s values) are not a multiple of %s's %" PRIu32 "-value blocks",
             rows, wl_ttype_name(type), (uint32_t)wl_ttype_block_elems(type));
    return buf;
}

/* "30 of 37 weight matrices in Q4_K, 7 in the fallback Q8_0 because their
 * rows (172 values) are not a multiple of Q4_K's 256-value blocks": what
 * the matrices of a written model became (quantize and synth). */
static void print_matrix_types(FILE *f, enum wl_ttype type, const struct wl_requant_stats *st)
{
    const uint64_t n_fb = st->n_matrices - st->n_requested;
    fprintf(f, "%" PRIu64 " of %" PRIu64 " weight matri%s in %s", st->n_requested, st->n_matrices,
            st->n_matrices == 1 ? "x" : "ces", wl_ttype_name(type));
    if (!n_fb)
        return;
    const char *sep = ", ";
    for (int t = 0; t < WL_TTYPE_COUNT; t++) {
        if (!st->n_fallback_to[t])
            continue;
        fprintf(f, "%s%" PRIu64 " in %s%s", sep, st->n_fallback_to[t],
                sep[0] == ',' ? "the fallback " : "", wl_ttype_name((enum wl_ttype)t));
        sep = " and ";
    }
    char why[160];
    fprintf(f, " because %s", fallback_reason(type, st, why, sizeof why));
}

/* What a written model holds, as JSON (synth and quantize --json): OUT, the
 * type asked for, the weight matrices in all and by the type each became
 * (the requested one first, then every fallback type), and why some fell
 * back (null when none did). The caller adds what is its own. */
static json_t *written_json(const char *out, enum wl_ttype type, const struct wl_requant_stats *st)
{
    json_t *j = json_object();
    wl_json_set_text(j, "output", out); /* a path need not be UTF-8: then also output_hex */
    json_object_set_new(j, "type", json_string(wl_ttype_name(type)));
    json_object_set_new(j, "weight_matrices", json_integer((json_int_t)st->n_matrices));
    json_t *by = json_object();
    json_object_set_new(by, wl_ttype_name(type), json_integer((json_int_t)st->n_requested));
    for (int t = 0; t < WL_TTYPE_COUNT; t++) {
        if (st->n_fallback_to[t])
            json_object_set_new(by, wl_ttype_name((enum wl_ttype)t),
                                json_integer((json_int_t)st->n_fallback_to[t]));
    }
    json_object_set_new(j, "matrices_by_type", by);
    json_t *fb = json_null();
    if (st->n_matrices > st->n_requested) {
        char why[160];
        fb = json_object();
        json_object_set_new(fb, "row_min", json_integer((json_int_t)st->fallback_row_min));
        json_object_set_new(fb, "row_max", json_integer((json_int_t)st->fallback_row_max));
        json_object_set_new(fb, "block_values",
                            json_integer((json_int_t)wl_ttype_block_elems(type)));
        json_object_set_new(fb, "reason", json_string(fallback_reason(type, st, why, sizeof why)));
    }
    json_object_set_new(j, "fallback", fb);
    return j;
}

/* The warning when no matrix took the requested type (a small model's rows
 * are shorter than a K-quant's 256-value blocks): the summary line alone is
 * easy to miss, and the file does not hold what was asked for. */
static void warn_no_matrix_in(const char *cmd, enum wl_ttype type,
                              const struct wl_requant_stats *st)
{
    if (st->n_matrices > 0 && st->n_requested == 0)
        wl_cli_note(cmd,
                    "warning: no weight matrix could be stored as %s: no row length is a "
                    "multiple of its %" PRIu32 "-value blocks; the output holds the fallback "
                    "types instead",
                    wl_ttype_name(type), (uint32_t)wl_ttype_block_elems(type));
}

/* ---- synth ---------------------------------------------------------------------- */

static bool parse_u32(const char *opt, const char *s, long min, long max, uint32_t *out)
{
    long v;
    if (!wl_cli_parse_long(CMD_SYNTH, opt, s, min, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"arch", required_argument, NULL, 'a'},
        {"layers", required_argument, NULL, 'l'},
        {"dim", required_argument, NULL, 'd'},
        {"ffn", required_argument, NULL, 'f'},
        {"heads", required_argument, NULL, 'H'},
        {"kv-heads", required_argument, NULL, 'K'},
        {"vocab-from", required_argument, NULL, 'V'},
        {"vocab", required_argument, NULL, 'v'},
        {"type", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"context", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct wl_synth_params p;
    wl_synth_default_params(&p);
    const char *out = NULL, *vocab_from = NULL;
    bool kv_set = false, vocab_set = false, json = false;
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': {
            enum wl_arch a = wl_arch_from_string(optarg, strlen(optarg));
            if (a == WL_ARCH_UNKNOWN)
                return wl_cli_usage_error(CMD_SYNTH, "unknown architecture '%s' for --arch",
                                          optarg);
            p.arch = a;
            break;
        }
        case 'l':
            if (!parse_u32("--layers", optarg, 1, 4096, &p.n_layers))
                return WL_EXIT_USAGE;
            break;
        case 'd':
            if (!parse_u32("--dim", optarg, 2, 1L << 20, &p.dim))
                return WL_EXIT_USAGE;
            break;
        case 'f':
            if (!parse_u32("--ffn", optarg, 1, 1L << 22, &p.ffn))
                return WL_EXIT_USAGE;
            break;
        case 'H':
            if (!parse_u32("--heads", optarg, 1, 4096, &p.n_heads))
                return WL_EXIT_USAGE;
            break;
        case 'K':
            if (!parse_u32("--kv-heads", optarg, 1, 4096, &p.n_kv_heads))
                return WL_EXIT_USAGE;
            kv_set = true;
            break;
        case 'V':
            vocab_from = optarg;
            break;
        case 'v':
            if (!parse_u32("--vocab", optarg, 259, 1L << 20, &p.vocab_size))
                return WL_EXIT_USAGE;
            vocab_set = true;
            break;
        case 't':
            if (!parse_type(CMD_SYNTH, "--type", optarg, &p.type))
                return WL_EXIT_USAGE;
            break;
        case 's':
            if (!wl_cli_parse_long(CMD_SYNTH, "--seed", optarg, 0, INT64_MAX, &v))
                return WL_EXIT_USAGE;
            p.seed = (uint64_t)v;
            break;
        case 'c':
            if (!parse_u32("--context", optarg, 1, 1L << 24, &p.context_length))
                return WL_EXIT_USAGE;
            break;
        case 'o':
            out = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            wl_cli_print_help(print_help_synth);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error(CMD_SYNTH, c, argv, opts);
        }
    }
    if (optind != argc)
        return wl_cli_usage_error(CMD_SYNTH, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_SHAPE));
    if (!out)
        return wl_cli_usage_error(CMD_SYNTH, "-o OUT.gguf is required");
    if (name_is_empty(CMD_SYNTH, "-o OUT.gguf", out) ||
        (vocab_from && name_is_empty(CMD_SYNTH, "--vocab-from", vocab_from)))
        return WL_EXIT_USAGE;
    if (vocab_from && vocab_set)
        return wl_cli_usage_error(CMD_SYNTH, "give either --vocab-from or --vocab, not both");
    if (!kv_set)
        p.n_kv_heads = p.n_heads;
    struct wl_errmsg err;
    if (wl_synth_check(&p, &err) != 0) /* a shape the options cannot make */
        return wl_cli_usage_error(CMD_SYNTH, "%s", err.text);
    if (json_on_model(CMD_SYNTH, json, out) || out_is_terminal(CMD_SYNTH, out) ||
        wl_cli_output_is_database(CMD_SYNTH, out, NULL) ||
        (vocab_from && out_is_input(CMD_SYNTH, out, vocab_from)))
        return WL_EXIT_USAGE;
    wl_gguf *vg = NULL;
    if (vocab_from) {
        int ec = open_model(CMD_SYNTH, vocab_from, &vg);
        if (ec)
            return ec;
        p.vocab_from = vg;
    }
    wl_gguf_writer *w = NULL;
    int werr = 0;
    int rc = wl_gguf_writer_new(&w);
    struct wl_requant_stats st;
    if (rc == 0)
        rc = wl_synth_model_stats(&p, w, &st, &err);
    else
        wl_errmsg_set(&err, rc, "out of memory");
    if (rc == 0)
        rc = write_model(w, out, &err, &werr);
    int ec = WL_EXIT_OK;
    FILE *sf = rc || json ? NULL : summary_stream(out);
    if (werr)
        ec = wl_cli_output_error(CMD_SYNTH, werr);
    else if (rc)
        ec = wl_cli_fail(CMD_SYNTH, "%s", err.text);
    else if (json) {
        json_t *j = written_json(out_name(out), p.type, &st);
        json_object_set_new(j, "architecture", json_string(wl_arch_name(p.arch)));
        json_object_set_new(j, "layers", json_integer(p.n_layers));
        json_object_set_new(j, "dim", json_integer(p.dim));
        json_object_set_new(j, "ffn", json_integer(p.ffn));
        json_object_set_new(j, "heads", json_integer(p.n_heads));
        json_object_set_new(j, "kv_heads", json_integer(p.n_kv_heads));
        json_object_set_new(j, "seed", json_integer((json_int_t)p.seed));
        /* no input model: nothing was read */
        json_object_set_new(j, "bytes_in", json_null());
        json_object_set_new(j, "bytes_out", json_integer((json_int_t)st.bytes_out));
        ec = wl_cli_print_json(j);
    } else if (sf) {
        fprintf(sf,
                "wrote %s: %s, %" PRIu32 " layer%s, dim %" PRIu32 ", ffn %" PRIu32 ", %" PRIu32
                " head%s, %" PRIu32 " KV head%s, seed %" PRIu64 "; ",
                out_name(out), wl_arch_name(p.arch), p.n_layers, p.n_layers == 1 ? "" : "s", p.dim,
                p.ffn, p.n_heads, p.n_heads == 1 ? "" : "s", p.n_kv_heads,
                p.n_kv_heads == 1 ? "" : "s", p.seed);
        /* the types the file holds, not only the one asked for */
        print_matrix_types(sf, p.type, &st);
        fputc('\n', sf);
    }
    if (rc == 0 && !werr)
        warn_no_matrix_in(CMD_SYNTH, p.type, &st);
    wl_gguf_writer_free(w);
    wl_gguf_close(vg);
    return ec;
}

/* ---- quantize ----------------------------------------------------------------------- */

/* A one-line progress display on stderr (a terminal), a progress line of
 * util/log.h: a log line or message meanwhile ends it and starts a line of
 * its own; the last tensor ends it. arg: unused. */
static void on_quantize_progress(void *arg, uint64_t done, uint64_t n, uint64_t bytes_done,
                                 uint64_t bytes_total)
{
    (void)arg;
    wl_log_progress("  quantize: %" PRIu64 "/%" PRIu64 " tensors, %.0f%% of the data   ", done, n,
                    bytes_total ? 100.0 * (double)bytes_done / (double)bytes_total : 100.0);
    if (done == n)
        wl_log_progress_end();
}

/* "wrote OUT: <print_matrix_types>; 11 other tensors kept in their source type;
 * tensor data A -> B bytes"; n_other: the other tensors (cmd_quantize). */
static void print_quantize_summary(FILE *f, const char *name, enum wl_ttype type,
                                   const struct wl_requant_stats *st, uint64_t n_other)
{
    fprintf(f, "wrote %s: ", name);
    print_matrix_types(f, type, st);
    fprintf(f,
            "; %" PRIu64 " other tensor%s kept in their source type; tensor data %" PRIu64
            " -> %" PRIu64 " bytes\n",
            n_other, n_other == 1 ? "" : "s", st->bytes_in, st->bytes_out);
}

/* quantize --json: written_json, with IN, its general.architecture (null
 * when it has none), the tensors kept as they were (n_other, as
 * print_quantize_summary's) and the tensor data's bytes before and after. */
static json_t *quantize_json(const wl_gguf *g, const char *in, const char *out, enum wl_ttype type,
                             const struct wl_requant_stats *st, uint64_t n_other)
{
    json_t *j = written_json(out, type, st);
    wl_json_set_text(j, "input", in);
    struct wl_gguf_str sv;
    if (wl_gguf_get_str(g, "general.architecture", &sv) == 0)
        wl_json_set_textn(j, "architecture", sv.data, (size_t)sv.len);
    else
        json_object_set_new(j, "architecture", json_null());
    json_object_set_new(j, "other_tensors", json_integer((json_int_t)n_other));
    json_object_set_new(j, "bytes_in", json_integer((json_int_t)st->bytes_in));
    json_object_set_new(j, "bytes_out", json_integer((json_int_t)st->bytes_out));
    return j;
}

static int cmd_quantize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 'T'},
        {"threads", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum wl_ttype type = WL_TTYPE_COUNT;
    long threads = 0;
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ht:", opts, NULL)) != -1) {
        switch (c) {
        case 'T':
            if (!parse_type(CMD_QUANTIZE, "--type", optarg, &type))
                return WL_EXIT_USAGE;
            break;
        case 't':
            if (!wl_cli_parse_long(CMD_QUANTIZE, "-t", optarg, 1, 256, &threads))
                return WL_EXIT_USAGE;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            wl_cli_print_help(print_help_quantize);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error(CMD_QUANTIZE, c, argv, opts);
        }
    }
    if (optind != argc - 2)
        return wl_cli_usage_error(CMD_QUANTIZE, "give IN and OUT");
    if (type == WL_TTYPE_COUNT)
        return wl_cli_usage_error(CMD_QUANTIZE, "--type is required");
    if (threads == 0)
        threads = wl_threadpool_default_threads();
    const char *in = argv[optind], *out = argv[optind + 1];
    if (name_is_empty(CMD_QUANTIZE, "IN", in) || name_is_empty(CMD_QUANTIZE, "OUT", out))
        return WL_EXIT_USAGE;
    if (json_on_model(CMD_QUANTIZE, json, out) || out_is_terminal(CMD_QUANTIZE, out) ||
        wl_cli_output_is_database(CMD_QUANTIZE, out, NULL) || out_is_input(CMD_QUANTIZE, out, in))
        return WL_EXIT_USAGE;
    wl_gguf *g = NULL;
    int ec = open_model(CMD_QUANTIZE, in, &g);
    if (ec)
        return ec;
    wl_gguf_writer *w = NULL;
    struct wl_threadpool *pool = NULL;
    struct wl_errmsg err;
    struct wl_requant_stats st;
    int werr = 0;
    int rc = wl_threadpool_create((int)threads, &pool);
    if (rc)
        wl_errmsg_set(&err, rc, "cannot start %ld threads", threads);
    if (rc == 0) {
        rc = wl_gguf_writer_new(&w);
        if (rc)
            wl_errmsg_set(&err, rc, "out of memory");
    }
    if (rc == 0) {
        const struct wl_requant_opts ro = {
            .pool = pool,
            .progress = wl_cli_stderr_is_tty() && !wl_cli_quiet() ? on_quantize_progress : NULL,
        };
        rc = wl_requant_model(g, type, &ro, w, &st, &err);
    }
    if (rc == 0)
        rc = write_model(w, out, &err, &werr); /* the tensors are converted while written */
    /* a failure part way left the progress line open */
    wl_log_progress_end();
    FILE *sf = rc || json ? NULL : summary_stream(out);
    /* the tensors kept in their source type that are no weight matrix
     * (norms, biases, ...): every tensor written, converted or copied, less
     * the matrices; for the summary line and --json alike */
    const uint64_t n_other = rc ? 0 : st.n_converted + st.n_copied - st.n_matrices;
    if (werr)
        ec = wl_cli_output_error(CMD_QUANTIZE, werr);
    else if (rc)
        ec = wl_cli_fail(CMD_QUANTIZE, "%s: %s", in, err.text);
    else if (json)
        ec = wl_cli_print_json(quantize_json(g, in, out_name(out), type, &st, n_other));
    else if (sf)
        print_quantize_summary(sf, out_name(out), type, &st, n_other);
    if (rc == 0 && !werr)
        warn_no_matrix_in(CMD_QUANTIZE, type, &st);
    wl_gguf_writer_free(w);
    wl_threadpool_destroy(pool);
    wl_gguf_close(g);
    return ec;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return WL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        wl_cli_print_help(print_help);
        return WL_EXIT_OK;
    }
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "synth") == 0)
        return cmd_synth(argc - 1, argv + 1);
    if (strcmp(argv[1], "quantize") == 0)
        return cmd_quantize(argc - 1, argv + 1);
    return wl_cli_usage_error(CMD, "unknown subcommand '%s' (info, synth, quantize)", argv[1]);
}

const struct wl_cli_command wl_cli_cmd_model = {
    "model", "inspect, synthesize and quantize GGUF models", run};
