/* `wattlens model info --metadata` on keys that are not valid UTF-8: the text
 * listing shows them escaped (\xNN, distinct keys stay distinct), and the
 * JSON keeps every one of them (none dropped)
 * under a name with each invalid byte as U+FFFD, unique even when that name
 * is also a real key, with the raw bytes in metadata_key_bytes; the listing's
 * key column is padded by display width, not bytes, and a long value is cut
 * between characters; string values and string-array items that are not
 * UTF-8 keep their bytes in metadata_value_bytes (and general.name in
 * name_hex); a path that is not UTF-8 stays in the JSON, and so do the bytes
 * of a tensor name that is not (name_hex in --tensors); ESC and C1 controls
 * in keys, values, names and tensor names never reach the terminal as they
 * are; NaN and inf are null in the JSON, in place; integers are exact (a
 * UINT64 above INT64_MAX as a string of digits, and so are KV bytes per token) and BOOL items
 * booleans; KV heads that do not group are not GQA; the RoPE scale shown is
 * the engine's; --kv-type takes the engine's cache types. The file is a synthesized model with
 * extra keys, read by the real `wattlens` binary.
 */
#include "test_support.h"

#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A writer holding the default synthesized model, for a test to add to. */
static wl_gguf_writer *synth_writer(void)
{
    struct wl_synth_params p;
    wl_synth_default_params(&p);
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_synth_model(&p, w, &err), 0);
    return w;
}

/* Writes the model to path and frees the writer. */
static void write_model(wl_gguf_writer *w, const char *path)
{
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_writer_write(w, path, &err), 0);
    wl_gguf_writer_free(w);
}

/* `model info` on w's model, written as `name` in a fresh directory (w
 * freed; the directory removed), with flags that ask for JSON: the output
 * parsed, for the caller to json_decref. */
static json_t *info_json(wl_gguf_writer *w, const char *name, const char *flags)
{
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_model(w, path);
    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "model info '%s' %s", path, flags);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    assert_non_null(doc);
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
    return doc;
}

static void test_metadata_keys_that_are_not_utf8(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/keys.gguf", dir);
    wl_gguf_writer *w = synth_writer();
    /* two keys that differ only in an invalid byte, and a real key spelled
     * like their escaped form */
    assert_int_equal(wl_gguf_writer_set_u32(w,
                                            "test.bad\xff"
                                            "key",
                                            1),
                     0);
    assert_int_equal(wl_gguf_writer_set_u32(w,
                                            "test.bad\xfe"
                                            "key",
                                            2),
                     0);
    assert_int_equal(wl_gguf_writer_set_u32(w,
                                            "test.bad\xef\xbf\xbd"
                                            "key",
                                            3),
                     0);
    assert_int_equal(wl_gguf_writer_set_str(w, "test.ok", "fine"), 0);
    /* 59 ASCII bytes and then euro signs: the 60-byte cut falls inside one */
    assert_int_equal(
        wl_gguf_writer_set_str(w, "test.long",
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "\xE2\x82\xAC\xE2\x82\xAC"),
        0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "test.\xE6\xA8\xA1\xE5\x9E\x8B", 4), 0); /* 2 wide */
    write_model(w, path);

    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "model info '%s' --metadata", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    /* the three keys stay apart: two escaped, one with a real U+FFFD */
    assert_non_null(strstr(out, "\ntest.bad\\xffkey "));
    assert_non_null(strstr(out, "\ntest.bad\\xfekey "));
    assert_non_null(strstr(out, "\ntest.bad\xef\xbf\xbd"
                                "key "));
    assert_null(strchr(out, '\xff'));
    assert_null(strchr(out, '\xfe'));
    /* the key column is 44 display columns: "test." and two wide characters
     * take 9 of them and 13 bytes */
    assert_non_null(strstr(out, "\ntest.\xE6\xA8\xA1\xE5\x9E\x8B                                   "
                                " UINT32   4\n"));
    assert_non_null(
        strstr(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'\n"));
    free(out);
    free(errs);

    snprintf(args, sizeof args, "model info '%s' --metadata --json", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    assert_non_null(doc);
    json_t *meta = json_object_get(doc, "metadata");
    json_t *bytes = json_object_get(doc, "metadata_key_bytes");
    assert_non_null(meta);
    assert_non_null(bytes);
    /* the real key keeps its name and value */
    assert_int_equal(json_integer_value(json_object_get(meta, "test.bad\xef\xbf\xbd"
                                                              "key")),
                     3);
    assert_string_equal(json_string_value(json_object_get(meta, "test.ok")), "fine");
    /* the other two get unique names, listed with their bytes */
    json_t *a = json_object_get(meta, "test.bad\xef\xbf\xbd"
                                      "key #2");
    json_t *b = json_object_get(meta, "test.bad\xef\xbf\xbd"
                                      "key #3");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(json_integer_value(a), 1);
    assert_int_equal(json_integer_value(b), 2);
    assert_int_equal(json_object_size(bytes), 2);
    assert_string_equal(json_string_value(json_object_get(bytes, "test.bad\xef\xbf\xbd"
                                                                 "key #2")),
                        "746573742e626164ff6b6579");
    assert_string_equal(json_string_value(json_object_get(bytes, "test.bad\xef\xbf\xbd"
                                                                 "key #3")),
                        "746573742e626164fe6b6579");
    /* every key of the file is there */
    assert_non_null(json_object_get(meta, "general.architecture"));
    json_decref(doc);
    free(out);
    free(errs);

    /* a file without such keys or values has no metadata_key_bytes or
     * metadata_value_bytes */
    snprintf(args, sizeof args, "model info '%s' --metadata --json",
             wl_test_data_path("models/stories260K.gguf"));
    if (wl_test_have_data()) {
        assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
        assert_null(strstr(out, "metadata_key_bytes"));
        assert_null(strstr(out, "metadata_value_bytes"));
        free(out);
        free(errs);
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* String values and string-array items that are not valid UTF-8 follow the
 * rule for text in JSON: shown with each invalid byte as U+FFFD, the exact
 * bytes in hex under metadata_value_bytes, keyed by the name the key has in
 * "metadata" (a string: its hex; an array: every listed item's hex, as for
 * any array of texts). The text listing shows the value's bytes escaped. */
static void test_metadata_values_that_are_not_utf8(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/values.gguf", dir);
    wl_gguf_writer *w = synth_writer();
    assert_int_equal(wl_gguf_writer_set_str(w, "test.val", "ok\xFFx"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "test.fine", "caf\xC3\xA9"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "test.both\xFE", "\xE2\x82"), 0); /* key too */
    assert_int_equal(wl_gguf_writer_set_str(w, "general.name", "Model \xFF"), 0);
    const struct wl_gguf_str arr[3] = {{"a", 1}, {"b\xFF", 2}, {"\xC3\xA9", 2}};
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "test.arr", arr, 3), 0);
    const struct wl_gguf_str fine[2] = {{"x", 1}, {"y", 1}};
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "test.fine_arr", fine, 2), 0);
    /* 20 items, the 3rd not UTF-8: the first 16 are listed, with their bytes;
     * a bad item beyond them changes nothing */
    struct wl_gguf_str big[20];
    for (int i = 0; i < 20; i++)
        big[i] = (struct wl_gguf_str){i == 2 ? "\x80" : "z", 1};
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "test.big_arr", big, 20), 0);
    big[2].data = "z";
    big[18].data = "\x80";
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "test.big_arr_late", big, 20), 0);
    write_model(w, path);

    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "model info '%s' --metadata", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_non_null(strstr(out, " STRING   'ok\\xffx'\n"));
    assert_non_null(strstr(out, " STRING   '\\xe2\\x82'\n"));
    assert_non_null(strstr(out, "\nname              Model \\xff\n"));
    assert_null(strstr(out, "not UTF-8"));
    free(out);
    free(errs);

    snprintf(args, sizeof args, "model info '%s' --metadata --json", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_null(strstr(out, "not UTF-8"));
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    assert_non_null(doc);
    json_t *meta = json_object_get(doc, "metadata");
    json_t *vb = json_object_get(doc, "metadata_value_bytes");
    assert_non_null(meta);
    assert_non_null(vb);
    assert_string_equal(json_string_value(json_object_get(meta, "test.val")), "ok\xEF\xBF\xBDx");
    assert_string_equal(json_string_value(json_object_get(vb, "test.val")), "6f6bff78");
    assert_string_equal(json_string_value(json_object_get(meta, "test.fine")), "caf\xC3\xA9");
    assert_null(json_object_get(vb, "test.fine"));
    /* a key and its value both not UTF-8: one name in both maps */
    assert_string_equal(json_string_value(json_object_get(meta, "test.both\xEF\xBF\xBD")),
                        "\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(doc, "metadata_key_bytes"), "test.both\xEF\xBF\xBD")),
                        "746573742e626f7468fe");
    assert_string_equal(json_string_value(json_object_get(vb, "test.both\xEF\xBF\xBD")), "e282");
    /* a string array: every item's bytes, in order */
    json_t *items = json_object_get(json_object_get(meta, "test.arr"), "items");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(json_string_value(json_array_get(items, 1)), "b\xEF\xBF\xBD");
    json_t *hex = json_object_get(vb, "test.arr");
    assert_int_equal(json_array_size(hex), 3);
    assert_string_equal(json_string_value(json_array_get(hex, 0)), "61");
    assert_string_equal(json_string_value(json_array_get(hex, 1)), "62ff");
    assert_string_equal(json_string_value(json_array_get(hex, 2)), "c3a9");
    assert_null(json_object_get(vb, "test.fine_arr"));
    items = json_object_get(json_object_get(meta, "test.big_arr"), "first_items");
    assert_int_equal(json_array_size(items), 16);
    hex = json_object_get(vb, "test.big_arr");
    assert_int_equal(json_array_size(hex), 16);
    assert_string_equal(json_string_value(json_array_get(hex, 2)), "80");
    assert_null(json_object_get(vb, "test.big_arr_late"));
    /* general.name also as "name" (with name_hex) */
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "Model \xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(doc, "name_hex")), "4d6f64656c20ff");
    assert_null(json_object_get(doc, "architecture_metadata_hex"));
    json_decref(doc);
    free(out);
    free(errs);

    /* without --metadata, no metadata maps */
    snprintf(args, sizeof args, "model info '%s' --json", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_null(strstr(out, "metadata_value_bytes"));
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

/* A model whose path is not valid UTF-8 keeps its "file" in the JSON
 * (shown with U+FFFD, the bytes in file_hex) instead of losing the field. */
static void test_info_json_keeps_a_path_that_is_not_utf8(void **state)
{
    (void)state;
    json_t *doc = info_json(synth_writer(), "m\xff.gguf", "--json");
    const char *file = json_string_value(json_object_get(doc, "file"));
    const char *hex = json_string_value(json_object_get(doc, "file_hex"));
    assert_non_null(file);
    assert_non_null(hex);
    assert_non_null(strstr(file, "/m\xEF\xBF\xBD.gguf"));
    assert_non_null(strstr(hex, "2f6dff2e67677566")); /* "/m\xff.gguf" */
    json_decref(doc);
}

/* NaN and inf in the file: JSON cannot hold them, so they are null, in
 * place. A float array keeps item k at element k (no item dropped), and the
 * features keep every key (rope.freq_base, norm_eps). */
static void test_info_json_non_finite_numbers_are_null(void **state)
{
    (void)state;
    wl_gguf_writer *w = synth_writer();
    assert_int_equal(wl_gguf_writer_set_f32(w, "llama.rope.freq_base", INFINITY), 0);
    assert_int_equal(wl_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", NAN), 0);
    const float items[] = {INFINITY, NAN, -5.0f, 1.5f, -INFINITY};
    assert_int_equal(wl_gguf_writer_set_arr(w, "test.floats", WL_GGUF_FLOAT32, items, 5), 0);
    json_t *doc = info_json(w, "nonfinite.gguf", "--json --metadata");
    json_t *rope = json_object_get(doc, "rope");
    assert_non_null(rope);
    assert_true(json_is_null(json_object_get(rope, "freq_base")));
    assert_true(json_is_real(json_object_get(rope, "scale")));
    assert_true(json_is_null(json_object_get(doc, "norm_eps")));
    json_t *meta = json_object_get(doc, "metadata");
    assert_true(json_is_null(json_object_get(meta, "llama.rope.freq_base")));
    json_t *arr = json_object_get(meta, "test.floats");
    assert_int_equal(json_integer_value(json_object_get(arr, "n")), 5);
    json_t *got = json_object_get(arr, "items");
    assert_int_equal(json_array_size(got), 5);
    assert_true(json_is_null(json_array_get(got, 0)));
    assert_true(json_is_null(json_array_get(got, 1)));
    assert_true(json_real_value(json_array_get(got, 2)) == -5.0);
    assert_true(json_real_value(json_array_get(got, 3)) == 1.5);
    assert_true(json_is_null(json_array_get(got, 4)));
    json_decref(doc);
}

/* Integers in --metadata --json are exact: up to INT64_MAX a JSON integer,
 * a UINT64 above it a string of its digits (a double kept 15 of them), in
 * scalars and array items alike; BOOL array items are true/false, as a BOOL
 * scalar is. */
static void test_info_json_metadata_integers_are_exact(void **state)
{
    (void)state;
    wl_gguf_writer *w = synth_writer();
    assert_int_equal(wl_gguf_writer_set_u64(w, "test.u64_max", UINT64_MAX), 0);
    assert_int_equal(wl_gguf_writer_set_u64(w, "test.u64_big", (1ull << 63) + 1), 0);
    assert_int_equal(wl_gguf_writer_set_u64(w, "test.u64_small", (1ull << 63) - 1), 0);
    assert_int_equal(wl_gguf_writer_set_i64(w, "test.i64_min", INT64_MIN), 0);
    assert_int_equal(wl_gguf_writer_set_bool(w, "test.bool", true), 0);
    const uint64_t u64s[] = {1, 1ull << 63, UINT64_MAX};
    assert_int_equal(wl_gguf_writer_set_arr(w, "test.u64s", WL_GGUF_UINT64, u64s, 3), 0);
    const bool bools[] = {false, true, true};
    assert_int_equal(wl_gguf_writer_set_arr(w, "test.bools", WL_GGUF_BOOL, bools, 3), 0);
    json_t *doc = info_json(w, "ints.gguf", "--json --metadata");
    json_t *meta = json_object_get(doc, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "test.u64_max")),
                        "18446744073709551615");
    assert_string_equal(json_string_value(json_object_get(meta, "test.u64_big")),
                        "9223372036854775809");
    assert_true(json_is_integer(json_object_get(meta, "test.u64_small")));
    assert_true(json_integer_value(json_object_get(meta, "test.u64_small")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(meta, "test.i64_min")) == INT64_MIN);
    assert_true(json_is_true(json_object_get(meta, "test.bool")));
    json_t *items = json_object_get(json_object_get(meta, "test.u64s"), "items");
    assert_int_equal(json_array_size(items), 3);
    assert_true(json_integer_value(json_array_get(items, 0)) == 1);
    assert_string_equal(json_string_value(json_array_get(items, 1)), "9223372036854775808");
    assert_string_equal(json_string_value(json_array_get(items, 2)), "18446744073709551615");
    items = json_object_get(json_object_get(meta, "test.bools"), "items");
    assert_int_equal(json_array_size(items), 3);
    assert_true(json_is_false(json_array_get(items, 0)));
    assert_true(json_is_true(json_array_get(items, 1)));
    assert_true(json_is_true(json_array_get(items, 2)));
    json_decref(doc);
}

/* KV bytes per token above INT64_MAX (up to 2^64 - 1 they are a number,
 * wl_model_kv_bytes_per_token) are written as a string of their digits in
 * the JSON, as the metadata's integers, never a wrapped negative; KV heads
 * above the head count are no grouping (unknown, not GQA), and a warning
 * says the engine refuses the model. Metadata only: 1 layer, 1 head, 2^31
 * KV heads of 2^30 dims, F16: 2 * 2^31 * 2^30 * 2 = 2^63 bytes. */
static void test_info_json_kv_bytes_above_int64_max(void **state)
{
    (void)state;
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "llama.block_count", 1), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "llama.attention.head_count", 1), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "llama.attention.head_count_kv", 1u << 31), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "llama.attention.key_length", 1u << 30), 0);
    json_t *doc = info_json(w, "kvbig.gguf", "--json --kv-type f16");
    assert_string_equal(json_string_value(json_object_get(doc, "kv_bytes_per_token")),
                        "9223372036854775808");
    assert_string_equal(json_string_value(json_object_get(doc, "attention")), "unknown");
    json_t *warnings = json_object_get(doc, "warnings");
    assert_non_null(strstr(json_string_value(json_array_get(warnings, 0)),
                           "the engine refuses this model: 1 heads cannot be grouped over "
                           "2147483648 KV heads"));
    json_decref(doc);
}

/* The RoPE scale info shows is the one the engine uses: rope.scaling.factor
 * when it is > 0 and the scaling type is not "none", else 1, with what the
 * file says after it; JSON has both (scale, scale_in_file). A scaling type
 * the engine refuses ("yarn") shows no scale but that refusal (JSON: scale
 * null, scale_refused), with the loader's reason as a warning, and the
 * engine does refuse to load that model. */
static void test_info_rope_scale_is_the_engines(void **state)
{
    (void)state;
    static const struct {
        float factor;
        const char *type; /* rope.scaling.type, NULL: none */
        const char *text; /* the RoPE line's end */
        double scale;     /* NAN: refused */
    } cases[] = {
        {-2.0f, NULL, ", scale 1 (file says -2)\n", 1.0},
        {0.0f, NULL, ", scale 1 (file says 0)\n", 1.0},
        {4.0f, "none", ", scale 1 (file says 4 with scaling type none)\n", 1.0},
        {4.0f, "linear", ", scale 4\n", 4.0},
        {4.0f, "yarn", ", scale refused by the engine (file says 4)\n", NAN},
    };
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/rope.gguf", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_gguf_writer *w = synth_writer();
        assert_int_equal(wl_gguf_writer_set_f32(w, "llama.rope.scaling.factor", cases[i].factor),
                         0);
        if (cases[i].type)
            assert_int_equal(wl_gguf_writer_set_str(w, "llama.rope.scaling.type", cases[i].type),
                             0);
        write_model(w, path);
        char *out = NULL, *errs = NULL;
        snprintf(args, sizeof args, "model info '%s'", path);
        assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
        if (!strstr(out, cases[i].text))
            fprintf(stderr, "case %zu: %s\n", i, out);
        assert_non_null(strstr(out, cases[i].text));
        const bool refused = isnan(cases[i].scale);
        if (refused)
            assert_non_null(strstr(errs, "the engine refuses this model: RoPE scaling type "
                                         "'yarn' is not supported"));
        else
            assert_null(strstr(errs, "refuses"));
        free(out);
        free(errs);
        snprintf(args, sizeof args, "model info '%s' --json", path);
        assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
        json_error_t je;
        json_t *doc = json_loads(out, 0, &je);
        assert_non_null(doc);
        json_t *rope = json_object_get(doc, "rope");
        if (refused)
            assert_true(json_is_null(json_object_get(rope, "scale")));
        else
            assert_true(json_real_value(json_object_get(rope, "scale")) == cases[i].scale);
        assert_true(json_real_value(json_object_get(rope, "scale_in_file")) == cases[i].factor);
        assert_true(json_is_boolean(json_object_get(rope, "scale_refused")));
        assert_true(json_boolean_value(json_object_get(rope, "scale_refused")) == refused);
        json_decref(doc);
        free(out);
        free(errs);
        /* the loader agrees: it refuses exactly the refused case */
        wl_model *m = NULL;
        struct wl_errmsg err = {{0}};
        const int rc = wl_model_load(path, &m, &err);
        if (refused) {
            assert_int_equal(rc, WL_ENOTSUP);
            assert_non_null(strstr(err.text, "RoPE scaling type 'yarn' is not supported"));
        } else {
            assert_int_equal(rc, 0);
            assert_true(m->config.rope_freq_scale == (float)(1.0 / cases[i].scale));
        }
        wl_model_free(m);
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* A value the loader refuses (a count of 0 or above 2^30, a block count
 * past the tensor count, a RoPE base or norm epsilon that is not > 0 or
 * not a number, an embedding length the heads do not split, a RoPE
 * dimension that is odd or past the head dimension) makes `model info`
 * warn, in the loader's own words after "the engine refuses this model: ",
 * and info still shows the model; the loader does refuse each. */
static void test_info_warns_of_values_the_loader_refuses(void **state)
{
    (void)state;
    enum kind { U32, I32, F32, STR };
    static const struct {
        const char *key;
        enum kind kind;
        double value;
        const char *said; /* what the loader's message names (NULL: the key) */
    } cases[] = {
        {"llama.block_count", U32, 0, NULL},
        {"llama.block_count", U32, 100000, NULL},
        {"llama.embedding_length", I32, -64, NULL},
        {"llama.attention.head_count_kv", U32, 0, NULL},
        {"llama.context_length", U32, 0, NULL},
        {"llama.rope.dimension_count", U32, 2147483648.0, NULL},
        {"llama.rope.freq_base", F32, 0, NULL},
        {"llama.rope.freq_base", F32, -10000, NULL},
        {"llama.rope.freq_base", STR, 0, NULL},
        {"llama.attention.layer_norm_rms_epsilon", F32, 0, NULL},
        {"llama.attention.layer_norm_rms_epsilon", F32, -1e-5, NULL},
        /* the synthetic model's 64 values over 8 heads of 8 */
        {"llama.embedding_length", U32, 66,
         "'llama.embedding_length' = 66 but tensor 'token_embd.weight' has rows of 64 values"},
        {"llama.rope.dimension_count", U32, 7, "rope dimension 7 does not fit head dimension 8"},
        {"llama.rope.dimension_count", U32, 10, "rope dimension 10 does not fit head dimension 8"},
    };
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/refused.gguf", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_gguf_writer *w = synth_writer();
        const char *key = cases[i].key;
        const double v = cases[i].value;
        int rc = 0;
        switch (cases[i].kind) {
        case U32:
            rc = wl_gguf_writer_set_u32(w, key, (uint32_t)v);
            break;
        case I32:
            rc = wl_gguf_writer_set_i32(w, key, (int32_t)v);
            break;
        case F32:
            rc = wl_gguf_writer_set_f32(w, key, (float)v);
            break;
        case STR:
            rc = wl_gguf_writer_set_str(w, key, "10000");
            break;
        }
        assert_int_equal(rc, 0);
        write_model(w, path);
        wl_model *m = NULL;
        struct wl_errmsg err = {{0}};
        assert_int_equal(wl_model_load(path, &m, &err), WL_EFORMAT);
        const char *said = cases[i].said ? cases[i].said : key;
        if (!strstr(err.text, said))
            fail_msg("case %zu: the loader's message does not name %s: %s", i, said, err.text);
        char *out = NULL, *errs = NULL;
        snprintf(args, sizeof args, "model info '%s'", path);
        assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
        /* the loader's message after the path it puts first */
        const size_t n_path = strlen(path);
        const char *why =
            strncmp(err.text, path, n_path) == 0 && strncmp(err.text + n_path, ": ", 2) == 0
                ? err.text + n_path + 2
                : err.text;
        char want[sizeof err.text + 64];
        snprintf(want, sizeof want, "the engine refuses this model: %s", why);
        if (!strstr(errs, want))
            fail_msg("case %zu: expected \"%s\" in: %s", i, want, errs);
        assert_non_null(strstr(out, "RoPE"));
        free(out);
        free(errs);
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* --kv-type takes the engine's KV cache types only (f16, f32; any case),
 * and says so: not "cannot write ... weights", since info writes nothing. */
static void test_info_kv_type_is_a_cache_type(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    write_model(synth_writer(), path);
    static const char *const bad[] = {"q2_k", "q8_0", "q4_k", "bf16", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL, *errs = NULL;
        snprintf(args, sizeof args, "model info '%s' --kv-type %s", path, bad[i]);
        assert_int_equal(wl_test_run_cli(args, &out, &errs), 2);
        /* the message generate's and bench's --cache-type give, naming --kv-type */
        char want[128];
        snprintf(want, sizeof want,
                 "--kv-type must be f16 or f32 (the engine's KV cache types), not '%s'", bad[i]);
        if (!strstr(errs, want))
            fprintf(stderr, "%s: %s\n", bad[i], errs);
        assert_non_null(strstr(errs, want));
        /* named by its subcommand, as info's other errors are */
        assert_non_null(strstr(errs, "wattlens model info: --kv-type"));
        assert_null(strstr(errs, "weights"));
        assert_string_equal(out, "");
        free(out);
        free(errs);
    }
    static const char *const good[][2] = {{"f32", "(F32)"}, {"F16", "(F16)"}};
    for (size_t i = 0; i < 2; i++) {
        char *out = NULL, *errs = NULL;
        snprintf(args, sizeof args, "model info '%s' --kv-type %s", path, good[i][0]);
        assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
        assert_non_null(strstr(out, "bytes per token "));
        assert_non_null(strstr(out, good[i][1]));
        free(out);
        free(errs);
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* `--tensors --json`: a tensor name that is not UTF-8 shows U+FFFD and keeps
 * its bytes in name_hex (a UTF-8 name has none). */
static void test_tensor_names_that_are_not_utf8(void **state)
{
    (void)state;
    wl_gguf_writer *w = synth_writer();
    uint64_t ne[1] = {4};
    float *d = calloc(4, sizeof *d);
    assert_int_equal(wl_gguf_writer_add_tensor_owned(w, "extra.\xFF", WL_TTYPE_F32, 1, ne, d, 16),
                     0);
    json_t *doc = info_json(w, "tensors.gguf", "--tensors --json");
    json_t *arr = json_object_get(doc, "tensors");
    size_t n_hex = 0, n_named = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (json_string_value(json_object_get(e, "name")))
            n_named++;
        const char *hex = json_string_value(json_object_get(e, "name_hex"));
        if (!hex)
            continue;
        n_hex++;
        assert_string_equal(hex, "65787472612eff");
        assert_string_equal(json_string_value(json_object_get(e, "name")), "extra.\xEF\xBF\xBD");
    }
    assert_true(json_array_size(arr) > 1);
    assert_int_equal(n_named, json_array_size(arr));
    assert_int_equal(n_hex, 1);
    json_decref(doc);
}

/* No control byte from the file reaches the terminal: ESC (0x1b), CSI as the
 * character U+009B (C2 9B) and as a raw 0x9B byte in a key, a string value,
 * general.name, general.architecture and a tensor name are shown escaped
 * (\x1b, \u009b, \x9b), in the listing and in the warning on stderr; a
 * backslash is doubled; the tensor column is still padded by display width. */
static void test_text_output_escapes_terminal_controls(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/controls.gguf", dir);
    wl_gguf_writer *w = synth_writer();
    assert_int_equal(wl_gguf_writer_set_u32(w, "test.\x1b[2J\xC2\x9B\x9B", 7), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "test.value",
                                            "v\x1b]0;t\x07\xC2\x9B"
                                            "1m\x9B"),
                     0);
    assert_int_equal(wl_gguf_writer_set_str(w, "test.back\\slash", "c:\\dir"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.name", "N\x1b\xC2\x9B\x9B"), 0);
    /* not an architecture this tool knows: inferred from the tensor names,
     * quoted in the architecture line and in the warning */
    assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", "a\x1b\xC2\x9B\x9B"), 0);
    uint64_t ne[1] = {4};
    float *d = calloc(4, sizeof *d);
    assert_int_equal(
        wl_gguf_writer_add_tensor_owned(w, "x.\x1b\xC2\x9B\x9B", WL_TTYPE_F32, 1, ne, d, 16), 0);
    write_model(w, path);

    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "model info '%s' --metadata --tensors", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    /* no ESC, BEL or 0x9B byte anywhere (nothing else here is above ASCII) */
    for (const char *o = out; *o; o++)
        assert_true((unsigned char)*o < 0x80 && ((unsigned char)*o >= 0x20 || *o == '\n'));
    for (const char *e = errs; *e; e++)
        assert_true((unsigned char)*e < 0x80 && ((unsigned char)*e >= 0x20 || *e == '\n'));
    assert_non_null(strstr(out, "\ntest.\\x1b[2J\\u009b\\x9b "));
    assert_non_null(strstr(out, " STRING   'v\\x1b]0;t\\x07\\u009b1m\\x9b'\n"));
    assert_non_null(strstr(out, "\ntest.back\\\\slash "));
    assert_non_null(strstr(out, " STRING   'c:\\\\dir'\n"));
    assert_non_null(strstr(out, "\nname              N\\x1b\\u009b\\x9b\n"));
    assert_non_null(strstr(out, "(metadata says 'a\\x1b\\u009b\\x9b'; inferred)"));
    /* "x." and three escapes take 16 of the tensor column's 36 columns */
    assert_non_null(strstr(out, "\nx.\\x1b\\u009b\\x9b                     F32 "));
    /* the warning quotes the file's bytes, escaped as every other message */
    assert_non_null(strstr(errs, "architecture 'a\\x1b\\u009b\\x9b' is not known"));
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

/* An error that quotes a key from the file reaches stderr escaped: the
 * parser's copy turns ESC into '?', and CSI, as U+009B or a raw 0x9B byte,
 * is \u009b and \x9b (wl_cli_fail escapes every diagnostic). */
static void test_errors_quoting_the_file_are_escaped(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/badbool.gguf", dir);
    static const char key[] = "k\x1b\xC2\x9B\x9B";
    wl_gguf_writer *w = synth_writer();
    assert_int_equal(wl_gguf_writer_set_bool(w, key, true), 0);
    write_model(w, path);
    /* the key's bytes, its type (u32) and the bool's byte: make that 2 */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    const size_t kl = sizeof key - 1;
    size_t at = 0;
    for (; at + kl + 5 <= n && memcmp(buf + at, key, kl) != 0; at++)
        ;
    assert_true(at + kl + 5 <= n);
    assert_int_equal(buf[at + kl + 4], 1);
    assert_int_equal(fseek(f, (long)(at + kl + 4), SEEK_SET), 0);
    assert_int_equal(fputc(2, f), 2);
    assert_int_equal(fclose(f), 0);

    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "model info '%s'", path);
    assert_int_not_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_non_null(strstr(errs, "key 'k?\\u009b\\x9b': bool value at byte"));
    for (const char *e = errs; *e; e++)
        assert_true((unsigned char)*e < 0x80 && ((unsigned char)*e >= 0x20 || *e == '\n'));
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_keys_that_are_not_utf8),
        cmocka_unit_test(test_metadata_values_that_are_not_utf8),
        cmocka_unit_test(test_info_json_keeps_a_path_that_is_not_utf8),
        cmocka_unit_test(test_info_json_non_finite_numbers_are_null),
        cmocka_unit_test(test_info_json_metadata_integers_are_exact),
        cmocka_unit_test(test_info_json_kv_bytes_above_int64_max),
        cmocka_unit_test(test_info_rope_scale_is_the_engines),
        cmocka_unit_test(test_info_warns_of_values_the_loader_refuses),
        cmocka_unit_test(test_info_kv_type_is_a_cache_type),
        cmocka_unit_test(test_tensor_names_that_are_not_utf8),
        cmocka_unit_test(test_text_output_escapes_terminal_controls),
        cmocka_unit_test(test_errors_quoting_the_file_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
