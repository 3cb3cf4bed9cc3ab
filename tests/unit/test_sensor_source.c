/* A sensor's source and notes (wl__sensor_set_source, wl__sensor_not_read,
 * wl__sensor_not_summed, wl__sensor_drop_channel; sensor_impl.h), driven
 * directly: the suffix that says how many were not read or not summed is
 * kept up to date by the shared code whether a note comes before or after
 * the source is set (a psys the update-period probe drops comes after:
 * each backend rebuilt its source for it), and a long source is cut
 * between characters before the suffix, which always stays whole. A read
 * where no channel was read fails in the shared code, for any backend,
 * and ends the open-time probes at that read. */
#include "test_support.h"

#include "sensors/sensor_impl.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct wl_sensor_ops fake_ops = {.name = "fake", .what = "a test sensor"};

static void test_a_note_after_the_source_refreshes_its_suffix(void **state)
{
    (void)state;
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &fake_ops;
    wl__sensor_not_summed(s, "before the source");
    wl__sensor_set_source(s, "dev (%u package(s))", 2u);
    assert_string_equal(s->info.source, "dev (2 package(s)) - 1 not summed");
    wl__sensor_not_summed(s, "psys: dropped by the probe");
    assert_string_equal(s->info.source, "dev (2 package(s)) - 2 not summed");
    wl__sensor_not_read(s, "a zone");
    assert_string_equal(s->info.source,
                        "dev (2 package(s)) - PARTIAL: 1 found but not read - 2 not summed");
    free(s);
}

static void test_a_long_source_is_cut_before_a_suffix_that_grows(void **state)
{
    (void)state;
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &fake_ops;
    char longer[400] = "";
    while (strlen(longer) + 2 < sizeof longer - 2)
        strcat(longer, "\xc3\xa9"); /* e acute, two bytes */
    wl__sensor_set_source(s, "%s", longer);
    assert_string_equal(s->info.source + strlen(s->info.source) - 3, "...");
    wl__sensor_not_summed(s, "one");
    const char *suffix = " - 1 not summed";
    const size_t n = strlen(s->info.source), k = strlen(suffix);
    assert_true(n > k && n < sizeof s->info.source);
    assert_string_equal(s->info.source + n - k, suffix);
    assert_memory_equal(s->info.source + n - k - 3, "...", 3);
    /* cut between characters: an even count of two-byte characters */
    assert_int_equal((n - k - 3) % 2, 0);
    free(s);
}

/* A backend returns 0 for every read it ran; when no channel was read,
 * wl_sensor_read fails for it with WL_ESENSOR and no values. */
static unsigned fake_valid;
static int fake_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    r->n_channels = s->info.n_channels;
    for (unsigned i = 0; i < r->n_channels; i++) {
        r->v[i].valid = i == 1 ? fake_valid : 0; /* channel 1 alone, if at all */
        r->v[i].energy_uj = 0;
    }
    return 0;
}
static const struct wl_sensor_ops fake_read_ops = {
    .name = "fake", .what = "a test sensor", .read = fake_read};

static void test_a_read_with_no_channel_read_fails(void **state)
{
    (void)state;
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &fake_read_ops;
    assert_int_equal(pthread_mutex_init(&s->lock, NULL), 0);
    s->info.n_channels = 3;
    struct wl_sensor_reading r;
    fake_valid = 0;
    assert_int_equal(wl_sensor_read(s, &r), WL_ESENSOR);
    assert_int_equal(r.n_channels, 0);
    fake_valid = WL_CH_GPU_INFO; /* not a reading of energy or power */
    assert_int_equal(wl_sensor_read(s, &r), WL_ESENSOR);
    fake_valid = WL_CH_POWER; /* one channel read: the read succeeds */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.n_channels, 3);
    assert_int_equal(r.v[0].valid, 0);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The open-time probes read through the same rule: once no channel is
 * read they stop at that read, not poll until their budgets run out. The
 * fake counts its reads; the first probe_good of them read a package
 * (channel 0, rising) and a flat psys (channel 1), the rest read nothing.
 * Counted reads, not time: the old probes read on hundreds of times. */
static unsigned probe_reads, probe_good;
static int probe_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    probe_reads++;
    r->n_channels = s->info.n_channels;
    for (unsigned i = 0; i < r->n_channels; i++) {
        r->v[i].valid = probe_reads <= probe_good ? WL_CH_ENERGY : 0;
        r->v[i].energy_uj = i == 0 ? probe_reads : 5;
    }
    return 0;
}
static const struct wl_sensor_ops probe_read_ops = {
    .name = "fake", .what = "a test sensor", .read = probe_read};

static wl_sensor *probe_sensor(struct wl_sensor_params *p)
{
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &probe_read_ops;
    s->info.n_channels = 2;
    s->info.ch[0].flags = s->info.ch[1].flags = WL_CH_ENERGY;
    s->info.ch[0].domain = WL_DOMAIN_PACKAGE;
    s->info.ch[1].domain = WL_DOMAIN_PSYS;
    memset(p, 0, sizeof *p);
    p->period_probe_ns = 200000000; /* 200 ms: room for hundreds of reads */
    probe_reads = probe_good = 0;
    return s;
}

static void test_the_probes_stop_at_a_read_with_no_channel_read(void **state)
{
    (void)state;
    struct wl_sensor_params p;
    wl_sensor *s = probe_sensor(&p);
    /* the update-period probe: its first read has nothing */
    assert_int_equal(wl__sensor_measure_period(s, &p), 0);
    assert_int_equal(probe_reads, 1);
    /* the psys probe: its first read, then the period probe's first */
    const uint64_t contains[2] = {0, 1};
    probe_reads = 0;
    assert_int_equal(wl__sensor_probe_psys(s, &p, "a test", 1e6, contains), 0);
    assert_int_equal(probe_reads, 2);
    /* reads fail during the period probe: a start (1), the period probe's
     * first read and the package's 12 changes (2..14), one more read
     * waiting for the flat psys to change too (every channel's period is
     * measured: 15), then a read of nothing (16) ends the period probe,
     * and the read after it (17) reads nothing too: the still undecided
     * flat psys is kept */
    probe_reads = 0;
    probe_good = 1 + (WL__PERIOD_PROBE_CHANGES + 1) + 1;
    assert_int_equal(wl__sensor_probe_psys(s, &p, "a test", 1e6, contains), 0);
    assert_int_equal(probe_reads, probe_good + 2);
    free(s);
}

static void test_drop_channel_moves_the_rest_down(void **state)
{
    (void)state;
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &fake_ops;
    const char *names[] = {"package-0", "psys", "package-1"};
    for (unsigned i = 0; i < 3; i++) {
        snprintf(s->info.ch[i].name, sizeof s->info.ch[i].name, "%s", names[i]);
        s->info.n_channels++;
    }
    wl__sensor_drop_channel(s, 1);
    assert_int_equal(s->info.n_channels, 2);
    assert_string_equal(s->info.ch[0].name, "package-0");
    assert_string_equal(s->info.ch[1].name, "package-1");
    free(s);
}

/* The run's `sensors` provenance, the same text for run and measure:
 * "backend (source)" joined by "; ", cut at the buffer's size. */
static void test_set_describe_names_each_backend_and_source(void **state)
{
    (void)state;
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.backends = WL_BACKEND_CPU_MODEL;
    p.model_use = WL_MODEL_ALWAYS;
    p.period_probe_ns = 0;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, 0));
    char want[WL_SENSOR_SET_DESCRIBE_SIZE + 16];
    snprintf(want, sizeof want, "%s (%s)", in->backend, in->source);
    char buf[WL_SENSOR_SET_DESCRIBE_SIZE];
    assert_int_equal(wl_sensor_set_describe(set, buf, sizeof buf), strlen(want));
    assert_string_equal(buf, want);
    char small[8];
    assert_int_equal(wl_sensor_set_describe(set, small, sizeof small), 7);
    assert_memory_equal(small, want, 7);
    assert_int_equal(small[7], '\0');
    wl_sensor_set_close(set);
}

/* A /proc root longer than the reader's path buffer is refused by name,
 * not read cut (a cut path is another directory, whose cpuinfo would
 * judge the CPU). */
static void test_a_proc_root_too_long_is_not_read_cut(void **state)
{
    (void)state;
    static char root[1400];
    memset(root, 'a', sizeof root - 1);
    root[0] = '/';
    root[sizeof root - 1] = '\0';
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.proc_root = root;
    struct wl__cpu_ident id;
    char from[256];
    assert_int_equal(wl__sensor_cpu_ident(&p, &id, from, sizeof from), WL_ERANGE);
    assert_non_null(strstr(from, "the /proc root is too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_note_after_the_source_refreshes_its_suffix),
        cmocka_unit_test(test_a_long_source_is_cut_before_a_suffix_that_grows),
        cmocka_unit_test(test_drop_channel_moves_the_rest_down),
        cmocka_unit_test(test_a_read_with_no_channel_read_fails),
        cmocka_unit_test(test_the_probes_stop_at_a_read_with_no_channel_read),
        cmocka_unit_test(test_set_describe_names_each_backend_and_source),
        cmocka_unit_test(test_a_proc_root_too_long_is_not_read_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
