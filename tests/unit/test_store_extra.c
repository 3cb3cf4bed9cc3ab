/* store/: a run's extra fields (wl_store_run_set_extra) stay readable by
 * jansson, the parser of every reader (summary, show, run): a value it
 * does not parse is refused with WL_EINVAL and the object is left as it
 * was. SQLite's json() took bytes that are not UTF-8 (a currency 0xA3,
 * `£` in Latin-1) and a number out of a double's range; the column then
 * did not parse, and the readers lost every key (the price with it).
 */
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <string.h>

static void test_a_value_jansson_cannot_read_is_refused(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    assert_int_equal(wl_store_run_set_extra(r, "price_per_kwh", "0.3"), 0);
    assert_int_equal(wl_store_run_set_extra(r, "currency", "\"\xa3\""), WL_EINVAL);
    assert_non_null(
        strstr(wl_store_last_error(f->s), "extra field 'currency': value is not valid JSON"));
    assert_int_equal(wl_store_run_set_extra(r, "co2_g_per_kwh", "1e999"), WL_EINVAL);
    assert_int_equal(wl_store_run_set_extra(r, "note", "\"a\\u0000b\""), WL_EINVAL);
    assert_int_equal(wl_store_run_set_extra(r, "tab", "\"a\tb\""), WL_EINVAL);
    /* valid UTF-8 and escapes are kept */
    assert_int_equal(wl_store_run_set_extra(r, "euro", "\"\xe2\x82\xac\""), 0);
    assert_int_equal(wl_store_run_set_extra(r, "quoted", "\"a\\\"b\\u0001\""), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1, 1, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_non_null(a.run.extra_json);
    json_error_t je;
    json_t *x = json_loads(a.run.extra_json, 0, &je);
    if (!x)
        fail_msg("runs.extra does not parse: %s: %s", je.text, a.run.extra_json);
    assert_true(json_is_object(x));
    assert_true(json_real_value(json_object_get(x, "price_per_kwh")) == 0.3);
    assert_string_equal(json_string_value(json_object_get(x, "euro")), "\xe2\x82\xac");
    assert_string_equal(json_string_value(json_object_get(x, "quoted")), "a\"b\x01");
    assert_null(json_object_get(x, "currency"));
    assert_null(json_object_get(x, "co2_g_per_kwh"));
    assert_null(json_object_get(x, "note"));
    assert_int_equal(json_object_size(x), 3);
    json_decref(x);
    wl_store_aggregates_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_value_jansson_cannot_read_is_refused,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
