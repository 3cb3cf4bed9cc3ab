/* powermetrics: every real capture parses to the numbers written in it; a
 * NUL-joined stream gives one sample per document whatever the chunking;
 * truncated or garbled input is an error, never a crash; missing keys are
 * tolerated; a document nested deeper than 64 is refused, never parsed
 * (libplist's recursion would overflow a thread's stack); the backend runs a fake `powermetrics`
 * executable and sums the energies of its stream, a sample lost after open (garbled, oversized) is
 * a discontinuity and a warning; that child survives signals sent to the caller's process group (a
 * terminal's ^C) and is still stopped by close(). Text from the stream or from powermetrics' stderr
 * that is shown cut is cut between characters. */
#include "test_support.h"

#include "sampler/sampler.h"
#include "sensors/powermetrics_parse.h"
#include "sensors/sensor.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tests whose regression would hang (a child that cannot be stopped) arm
 * this watchdog: SIGALRM's default action ends the process (a failure). */
#define WATCHDOG_S 20

struct capture {
    const char *file;
    uint64_t elapsed_ns;
    double cpu_mj, gpu_mj, ane_mj;
    double cpu_mw, gpu_mw, ane_mw, combined_mw;
    const char *hw_model;
};

/* Values read from the files in ../shared/testdata/powermetrics (processor dict). */
static const struct capture captures[] = {
    {"powermetrics/powermetrics-output-m1.xml", 2019178750ull, 89, 31, 0, 44.0773, 15.3528, 0,
     59.4301, "MacBookPro17,1"},
    {"powermetrics/powermetrics-output-m1-2.xml", 525992374ull, 54, 10, 0, 102.663, 19.0117, 0,
     121.675, "MacBookPro17,1"},
    {"powermetrics/powermetrics-output-m2ultra.xml", 1023721416ull, 855, 72607, 0, 835.188, 70924.6,
     0, 71759.8, "Mac14,14"},
};
#define N_CAPTURES (sizeof captures / sizeof captures[0])

static char *load(const char *rel, size_t *len)
{
    char *buf = wl_test_read_file(wl_test_data_path(rel), len);
    assert_non_null(buf);
    return buf;
}

static void check_sample(const struct wl_pm_sample *s, const struct capture *c)
{
    unsigned all = WL_PM_CPU_ENERGY | WL_PM_GPU_ENERGY | WL_PM_ANE_ENERGY | WL_PM_CPU_POWER |
                   WL_PM_GPU_POWER | WL_PM_ANE_POWER | WL_PM_COMBINED_POWER | WL_PM_ELAPSED;
    assert_int_equal(s->present, all);
    assert_int_equal(s->elapsed_ns, c->elapsed_ns);
    assert_float_equal(s->cpu_energy_mj, c->cpu_mj, 1e-9);
    assert_float_equal(s->gpu_energy_mj, c->gpu_mj, 1e-9);
    assert_float_equal(s->ane_energy_mj, c->ane_mj, 1e-9);
    assert_float_equal(s->cpu_power_mw, c->cpu_mw, 1e-9);
    assert_float_equal(s->gpu_power_mw, c->gpu_mw, 1e-9);
    assert_float_equal(s->ane_power_mw, c->ane_mw, 1e-9);
    assert_float_equal(s->combined_power_mw, c->combined_mw, 1e-9);
    assert_string_equal(s->hw_model, c->hw_model);
}

static void test_every_capture_parses_to_its_numbers(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    for (size_t i = 0; i < N_CAPTURES; i++) {
        size_t len;
        char *doc = load(captures[i].file, &len);
        struct wl_pm_sample s;
        struct wl_errmsg em;
        int rc = wl_pm_parse(doc, len, &s, &em);
        if (rc != 0)
            fprintf(stderr, "%s: %s\n", captures[i].file, em.text);
        assert_int_equal(rc, 0);
        check_sample(&s, &captures[i]);
        free(doc);
    }
}

struct collected {
    int n;
    int errors;
    struct wl_pm_sample s[16];
};

static void collect(void *ud, const char *doc, size_t len)
{
    struct collected *c = ud;
    struct wl_errmsg em;
    if (c->n < 16 && wl_pm_parse(doc, len, &c->s[c->n], &em) == 0)
        c->n++;
    else
        c->errors++;
}

/* all captures joined by NUL bytes (with a leading newline on later documents,
 * as a real stream has), and a trailing NUL */
static char *make_stream(size_t *len_out)
{
    size_t cap = 0, len = 0;
    char *docs[N_CAPTURES];
    size_t lens[N_CAPTURES];
    for (size_t i = 0; i < N_CAPTURES; i++) {
        docs[i] = load(captures[i].file, &lens[i]);
        cap += lens[i] + 2;
    }
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t i = 0; i < N_CAPTURES; i++) {
        if (i > 0)
            buf[len++] = '\n';
        memcpy(buf + len, docs[i], lens[i]);
        len += lens[i];
        buf[len++] = '\0';
        free(docs[i]);
    }
    *len_out = len;
    return buf;
}

static void test_nul_joined_stream_gives_one_sample_each(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    size_t len;
    char *stream = make_stream(&len);
    static const size_t chunks[] = {1, 7, 4096, 1 << 20};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct wl_pm_splitter sp;
        struct collected c;
        memset(&c, 0, sizeof c);
        wl_pm_splitter_init(&sp, 1 << 20);
        for (size_t off = 0; off < len; off += chunks[k]) {
            size_t n = len - off < chunks[k] ? len - off : chunks[k];
            assert_int_equal(wl_pm_splitter_feed(&sp, stream + off, n, collect, &c), 0);
        }
        wl_pm_splitter_finish(&sp, collect, &c);
        wl_pm_splitter_free(&sp);
        assert_int_equal(c.errors, 0);
        assert_int_equal(c.n, (int)N_CAPTURES);
        for (size_t i = 0; i < N_CAPTURES; i++)
            check_sample(&c.s[i], &captures[i]);
    }
    /* without the trailing NUL, finish() delivers the last document */
    struct wl_pm_splitter sp;
    struct collected c;
    memset(&c, 0, sizeof c);
    wl_pm_splitter_init(&sp, 1 << 20);
    wl_pm_splitter_feed(&sp, stream, len - 1, collect, &c);
    assert_int_equal(c.n, (int)N_CAPTURES - 1);
    wl_pm_splitter_finish(&sp, collect, &c);
    assert_int_equal(c.n, (int)N_CAPTURES);
    wl_pm_splitter_free(&sp);
    free(stream);
}

static void test_oversized_document_is_dropped_and_counted(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    size_t len;
    char *stream = make_stream(&len);
    struct wl_pm_splitter sp;
    struct collected c;
    memset(&c, 0, sizeof c);
    wl_pm_splitter_init(&sp, 40000); /* the m2ultra capture is 65 kB */
    assert_int_equal(wl_pm_splitter_feed(&sp, stream, len, collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(sp.n_oversized, 1);
    wl_pm_splitter_free(&sp);
    free(stream);
}

static void test_truncated_and_garbled_input_is_an_error(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    for (size_t i = 0; i < N_CAPTURES; i++) {
        size_t len;
        char *doc = load(captures[i].file, &len);
        struct wl_pm_sample s;
        struct wl_errmsg em;
        /* cut before the closing tags: never a valid document */
        for (size_t cut = 0; cut + 16 < len; cut += 331) {
            wl_errmsg_clear(&em);
            assert_int_equal(wl_pm_parse(doc, cut, &s, &em), WL_EFORMAT);
            assert_true(em.text[0] != '\0');
        }
        /* garble bytes in place: an error or a sample, never a crash */
        for (size_t pos = 0; pos < len; pos += 97) {
            char saved = doc[pos];
            doc[pos] = (char)(saved ^ 0x5a);
            int rc = wl_pm_parse(doc, len, &s, &em);
            assert_true(rc == 0 || rc == WL_EFORMAT);
            doc[pos] = saved;
        }
        free(doc);
    }
    struct wl_pm_sample s;
    struct wl_errmsg em;
    assert_int_equal(wl_pm_parse("", 0, &s, &em), WL_EFORMAT);
    assert_int_equal(wl_pm_parse("hello world", 11, &s, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "not an XML plist"));
    const char *no_proc = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>x</key>"
                          "<integer>1</integer></dict></plist>";
    assert_int_equal(wl_pm_parse(no_proc, strlen(no_proc), &s, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "processor"));
    const char *empty_proc = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>processor"
                             "</key><dict><key>freq_hz</key><real>1.0</real></dict></dict></plist>";
    assert_int_equal(wl_pm_parse(empty_proc, strlen(empty_proc), &s, &em), WL_EFORMAT);
    const char *neg = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>processor</key>"
                      "<dict><key>cpu_energy</key><integer>-5</integer></dict></dict></plist>";
    assert_int_equal(wl_pm_parse(neg, strlen(neg), &s, &em), WL_EFORMAT);
}

/* A sample document with `inner` inserted as the value of a key "deep" in
 * the root dictionary (malloc'd; *len its length). */
static char *doc_with(const char *inner, size_t *len)
{
    static const char head[] = "<?xml version=\"1.0\"?>\n<plist version=\"1.0\"><dict>"
                               "<key>processor</key><dict><key>cpu_power</key><real>5.5</real>"
                               "</dict><key>deep</key>";
    static const char tail[] = "</dict></plist>";
    *len = strlen(head) + strlen(inner) + strlen(tail);
    char *doc = malloc(*len + 1);
    assert_non_null(doc);
    snprintf(doc, *len + 1, "%s%s%s", head, inner, tail);
    return doc;
}

/* n copies of open, then n of close (either may be ""). */
static char *nest(const char *open, const char *close, size_t n)
{
    const size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + 1), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

struct deep_parse {
    const char *doc;
    size_t len;
    int rc;
    struct wl_errmsg em;
};

static void *deep_parse_thread(void *arg)
{
    struct deep_parse *d = arg;
    struct wl_pm_sample s;
    d->rc = wl_pm_parse(d->doc, d->len, &s, &d->em);
    return NULL;
}

/* wl_pm_parse on a thread with macOS's default secondary-thread stack
 * (512 KiB), where the backend's reader thread parses. */
static int parse_on_small_stack(const char *doc, size_t len, struct wl_errmsg *em)
{
    struct deep_parse d = {.doc = doc, .len = len, .rc = -1};
    pthread_attr_t attr;
    pthread_t th;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 512 * 1024), 0);
    assert_int_equal(pthread_create(&th, &attr, deep_parse_thread, &d), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    *em = d.em;
    return d.rc;
}

/* libplist builds and frees its tree recursively: a document nested tens of
 * thousands of levels deep overflowed the reader thread's stack. One
 * nested more than WL_PM_MAX_DEPTH (64, the root dictionary counted; real
 * samples nest 8) is refused before libplist sees it, with a message; the
 * count is not fooled by close tags inside comments or CDATA, and empty
 * <array/> elements do not nest. */
static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    struct wl_pm_sample s;
    struct wl_errmsg em;
    size_t len;
    /* 20000 nested arrays: a crash on a 512 KiB stack before, refused now */
    char *inner = nest("<array>", "</array>", 20000);
    char *doc = doc_with(inner, &len);
    assert_int_equal(parse_on_small_stack(doc, len, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "nested more than 64 arrays and dictionaries deep"));
    free(doc);
    free(inner);
    /* the bound exactly: 63 levels under the root dictionary parse */
    inner = nest("<array>", "</array>", WL_PM_MAX_DEPTH - 1);
    doc = doc_with(inner, &len);
    assert_int_equal(wl_pm_parse(doc, len, &s, &em), 0);
    assert_true(s.cpu_power_mw == 5.5);
    free(doc);
    free(inner);
    /* one more is refused, dictionaries as arrays */
    inner = nest("<dict><key>k</key>", "</dict>", WL_PM_MAX_DEPTH);
    doc = doc_with(inner, &len);
    assert_int_equal(wl_pm_parse(doc, len, &s, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "nested more than 64"));
    free(doc);
    free(inner);
    /* close tags libplist does not read as markup close nothing */
    static const char *const hidden[] = {
        "<array><!-- </array> -->",
        "<array><string><![CDATA[</array>]]></string>",
        "<array></dict>",
    };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        inner = nest(hidden[i], "</array>", 20000);
        doc = doc_with(inner, &len);
        assert_int_equal(parse_on_small_stack(doc, len, &em), WL_EFORMAT);
        if (!strstr(em.text, "nested more than 64"))
            fail_msg("'%s': %s", hidden[i], em.text);
        free(doc);
        free(inner);
    }
    /* many empty arrays side by side nest nothing */
    inner = nest("<array/><array />", "", 1000);
    char *wrapped = malloc(strlen(inner) + 20);
    assert_non_null(wrapped);
    sprintf(wrapped, "<array>%s</array>", inner);
    doc = doc_with(wrapped, &len);
    assert_int_equal(wl_pm_parse(doc, len, &s, &em), 0);
    free(doc);
    free(wrapped);
    free(inner);
}

static void test_missing_keys_are_tolerated(void **state)
{
    (void)state;
    /* an older release: power only, no energies, no combined, no elapsed_ns */
    const char *doc = "<?xml version=\"1.0\"?>\n<plist version=\"1.0\"><dict>"
                      "<key>processor</key><dict><key>cpu_power</key><real>1234.5</real>"
                      "<key>gpu_power</key><integer>20</integer></dict></dict></plist>\n";
    struct wl_pm_sample s;
    struct wl_errmsg em;
    assert_int_equal(wl_pm_parse(doc, strlen(doc), &s, &em), 0);
    assert_int_equal(s.present, WL_PM_CPU_POWER | WL_PM_GPU_POWER);
    assert_float_equal(s.cpu_power_mw, 1234.5, 1e-9);
    assert_float_equal(s.gpu_power_mw, 20, 1e-9);
    /* GPU energy only in the top-level gpu dictionary */
    const char *doc2 = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
                       "<key>processor</key><dict><key>cpu_energy</key><integer>7</integer></dict>"
                       "<key>gpu</key><dict><key>gpu_energy</key><integer>3</integer></dict>"
                       "</dict></plist>";
    assert_int_equal(wl_pm_parse(doc2, strlen(doc2), &s, &em), 0);
    assert_int_equal(s.present, WL_PM_CPU_ENERGY | WL_PM_GPU_ENERGY);
    assert_float_equal(s.gpu_energy_mj, 3, 1e-9);
}

/* n copies of the 2-byte "é" after prefix, into buf */
static char *e_acute(char *buf, size_t size, const char *prefix, unsigned n)
{
    size_t len = (size_t)snprintf(buf, size, "%s", prefix);
    for (unsigned i = 0; i < n && len + 3 <= size; i++)
        len += (size_t)snprintf(buf + len, size - len, "\xC3\xA9");
    return buf;
}

/* What an error shows of a document that is not a plist comes from its len
 * bytes only (the splitter's documents end in no NUL) and is cut between
 * characters; so is a long multibyte hw_model. */
static void test_shown_text_is_cut_between_characters(void **state)
{
    (void)state;
    struct wl_pm_sample s;
    struct wl_errmsg em;
    assert_int_equal(wl_pm_parse("hello, more bytes after the document", 5, &s, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "(document starts with 'hello')"));
    char doc[1024], want[256], name[128];
    e_acute(doc, sizeof doc, "x", 20); /* 16 bytes end inside the 8th "é" */
    assert_int_equal(wl_pm_parse(doc, strlen(doc), &s, &em), WL_EFORMAT);
    assert_true(wl_utf8_valid(em.text, strlen(em.text)));
    snprintf(want, sizeof want, "(document starts with '%s...')",
             e_acute(name, sizeof name, "x", 6));
    assert_non_null(strstr(em.text, want));
    /* 40 x "é" (80 bytes) as hw_model: its 31 bytes end inside the 16th */
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>hw_model</key>"
             "<string>%s</string><key>processor</key><dict><key>cpu_power</key>"
             "<real>1.5</real></dict></dict></plist>",
             e_acute(name, sizeof name, "", 40));
    assert_int_equal(wl_pm_parse(doc, strlen(doc), &s, &em), 0);
    assert_string_equal(s.hw_model, e_acute(want, sizeof want, "", 15));
}

/* Writes an executable shell script and returns its path (heap). */
static char *write_script(const char *dir, const char *name, const char *body)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(wl_test_write_file(path, body, strlen(body)), 0);
    assert_int_equal(chmod(path, 0755), 0);
    if (access(path, X_OK) != 0) /* a TMPDIR mounted noexec */
        fail_msg("cannot run %s (%s): set TMPDIR to a directory that allows running programs", path,
                 strerror(errno));
    return strdup(path);
}

static void test_backend_runs_fake_powermetrics(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    char *dir = wl_test_tmpdir();
    char body[8192];
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "# fake powermetrics: checks its arguments, streams the real captures\n"
             "if [ \"$1 $2 $3 $5 $6 $#\" != \"--samplers cpu_power,gpu_power,ane_power -i -f "
             "plist 6\" ] || ! [ \"$4\" -gt 0 ]; then echo \"bad arguments: $*\" >&2; exit 2; fi\n"
             "d='%s/powermetrics'\n"
             "for f in m1 m1-2 m2ultra; do cat \"$d/powermetrics-output-$f.xml\"; printf '\\0'; "
             "sleep 0.02; done\n"
             "sleep 0.3\n",
             WL_TESTDATA_DIR);
    char *fake = write_script(dir, "powermetrics", body);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    p.powermetrics_interval_ms = 50;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    int rc = wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", st.why);
    assert_int_equal(rc, 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 4);
    static const char *names[] = {"cpu", "gpu", "ane", "combined"};
    static const enum wl_domain doms[] = {WL_DOMAIN_PACKAGE, WL_DOMAIN_GPU, WL_DOMAIN_ANE,
                                          WL_DOMAIN_SOC};
    for (unsigned i = 0; i < 4; i++) {
        assert_string_equal(in->ch[i].name, names[i]);
        assert_int_equal(in->ch[i].domain, doms[i]);
        assert_int_equal(in->ch[i].method, WL_METHOD_VENDOR_ESTIMATE);
    }
    assert_true(in->ch[3].flags & WL_CH_CONTAINS);
    /* cpu, gpu and ane are parts of combined: the headline never adds them */
    for (unsigned i = 0; i < 3; i++)
        assert_true(in->ch[i].flags & WL_CH_PART);
    assert_true(in->period_measured && in->update_period_ns > 0);
    assert_non_null(strstr(in->source, "MacBookPro17,1"));
    /* wait for the whole stream */
    struct wl_sensor_reading r;
    double want_cpu_uj = (89 + 54 + 855) * 1000.0, want_gpu_uj = (31 + 10 + 72607) * 1000.0;
    uint64_t deadline = wl_clock_now_ns() + 3000000000ull;
    do {
        wl_clock_sleep_ns(10000000);
        rc = wl_sensor_read(s, &r);
    } while (rc == 0 && (double)r.v[0].energy_uj < want_cpu_uj && wl_clock_now_ns() < deadline);
    assert_int_equal(rc, 0);
    assert_float_equal((double)r.v[0].energy_uj, want_cpu_uj, 0.5);
    assert_float_equal((double)r.v[1].energy_uj, want_gpu_uj, 0.5);
    assert_float_equal((double)r.v[2].energy_uj, 0, 0.5);
    assert_float_equal((double)r.v[3].energy_uj, want_cpu_uj + want_gpu_uj, 0.5);
    assert_float_equal(r.v[3].power_w, 71.7598, 1e-9); /* last sample's combined_power */
    /* the stream ends: reads fail from then on (the sampler records a gap) */
    deadline = wl_clock_now_ns() + 3000000000ull;
    while ((rc = wl_sensor_read(s, &r)) == 0 && wl_clock_now_ns() < deadline)
        wl_clock_sleep_ns(20000000);
    assert_int_equal(rc, WL_ESENSOR);
    wl_sensor_close(s);
    free(fake);

    /* a powermetrics that refuses to run without root */
    fake = write_script(dir, "pm-noroot",
                        "#!/bin/sh\necho 'powermetrics must be invoked as the superuser' >&2\n"
                        "exit 1\n");
    p.powermetrics = fake;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st), WL_EACCES);
    assert_non_null(strstr(st.why, "superuser"));
    assert_non_null(strstr(st.fix, "sudo"));
    free(fake);

    /* garbage output */
    fake = write_script(dir, "pm-garbage", "#!/bin/sh\nprintf 'not a plist\\0'\n");
    p.powermetrics = fake;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st), WL_ESENSOR);
    assert_non_null(strstr(st.why, "not an XML plist"));
    free(fake);

    p.powermetrics = "/nonexistent/powermetrics";
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "not an executable"));
    wl_test_rmtree(dir);
    free(dir);
}

/* A powermetrics that says something long and multibyte on stderr and
 * gives no sample: the why that quotes it is cut between characters. One
 * whose path is long and multibyte: the source that quotes it is cut between
 * characters and ends "...", the rest kept (each pad puts the cut in another
 * place in the "é"s). */
static void test_long_multibyte_stderr_and_path_are_cut_between_characters(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char text[512], body[1024];
    /* "x" + 200 x "é": the 255 bytes kept of it end inside an "é" */
    snprintf(body, sizeof body, "#!/bin/sh\nprintf '%s' >&2\nexit 1\n",
             e_acute(text, sizeof text, "x", 200));
    char *fake = write_script(dir, "pm-multibyte", body);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    p.powermetrics_interval_ms = 50;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st), WL_ESENSOR);
    assert_true(wl_utf8_valid(st.why, strlen(st.why)));
    assert_non_null(strstr(st.why, "gave no sample: x\xC3\xA9"));
    free(fake);
    for (int pad = 0; pad < 2; pad++) {
        char *sub = wl_test_mkdir_multibyte(dir, pad, 1);
        assert_non_null(sub);
        fake = write_script(sub, "powermetrics",
                            "#!/bin/sh\nprintf '<?xml version=\"1.0\"?><plist version=\"1.0\">"
                            "<dict><key>processor</key><dict><key>cpu_power</key><real>1.5</real>"
                            "</dict></dict></plist>\\0'\nsleep 0.3\n");
        p.powermetrics = fake;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st), 0);
        const char *src = wl_sensor_get_info(s)->source;
        assert_true(wl_utf8_valid(src, strlen(src)));
        assert_non_null(strstr(src, "... -i 50 -f plist"));
        wl_sensor_close(s);
        free(fake);
        free(sub);
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* A fake powermetrics that streams a 10 mJ cpu sample every 20 ms for ever
 * (until a signal ends it). Where /proc tells, it first refuses to run with
 * SIGHUP, SIGINT or SIGTERM blocked or ignored (what a child inherits: the
 * shell itself unblocks signals while it waits, so only its children show
 * the mask it was given). */
static const char *endless_fake =
    "#!/bin/sh\n"
    "blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/self/status 2>/dev/null)\n"
    "ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status 2>/dev/null)\n"
    "if [ -n \"$blk\" ] && [ $(( (0x$blk | 0x$ign) & 0x4003 )) -ne 0 ]; then\n"
    "  echo \"signals blocked ($blk) or ignored ($ign)\" >&2; exit 2; fi\n"
    "while :; do printf '<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
    "<key>elapsed_ns</key><integer>20000000</integer><key>processor</key><dict>"
    "<key>cpu_energy</key><integer>10</integer><key>cpu_power</key><real>500</real>"
    "</dict></dict></plist>\\0'; sleep 0.02; done\n";

static void on_signal(int sig)
{
    (void)sig;
}

/* Reads until the cpu total reaches want_uj or a read fails (or 10 s pass:
 * a safety net, not a measured time). Returns the read's code. */
static int read_until(wl_sensor *s, double want_uj, struct wl_sensor_reading *r)
{
    uint64_t deadline = wl_clock_now_ns() + 10000000000ull;
    int rc;
    while ((rc = wl_sensor_read(s, r)) == 0 && (double)r->v[0].energy_uj < want_uj &&
           wl_clock_now_ns() < deadline)
        wl_clock_sleep_ns(5000000);
    return rc;
}

/* The scenario of test_survives_a_group_signal, in a forked process that
 * leads its own process group (kill(0, ...) reaches nobody else). Returns
 * the exit code: 0 when it passed. */
static int group_signal_scenario(const char *fake, bool block_term)
{
    alarm(WATCHDOG_S);
    if (setpgid(0, 0) != 0)
        return 10;
    /* a command under measurement that handles ^C and hangup (handlers do
     * not cross exec), and a caller that ignores SIGTERM or blocks it
     * (both would cross exec): none of it may reach powermetrics */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (block_term) {
        sigaction(SIGTERM, &sa, NULL);
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, NULL);
    } else {
        signal(SIGTERM, SIG_IGN);
    }
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    p.powermetrics_interval_ms = 20;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    if (wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st) != 0) {
        fprintf(stderr, "open: %s\n", st.why);
        return 11;
    }
    struct wl_sensor_reading r;
    if (read_until(s, 10000.0, &r) != 0 || r.v[0].energy_uj < 10000)
        return 12;
    /* ^C and a hangup to the whole foreground group */
    kill(0, SIGINT);
    kill(0, SIGHUP);
    /* powermetrics goes on: three more samples arrive after the signals
     * (a killed one ends its stream, and reads fail: every figure n/a) */
    double want = (double)r.v[0].energy_uj + 3 * 10000.0;
    if (read_until(s, want, &r) != 0)
        return 13;
    if ((double)r.v[0].energy_uj < want)
        return 14;
    /* close() stops it although this process ignores or blocks SIGTERM (a
     * hang here is ended by the watchdog) */
    wl_sensor_close(s);
    return 0;
}

static void test_survives_a_group_signal_and_close_stops_it(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char *fake = write_script(dir, "powermetrics", endless_fake);
    for (int block_term = 0; block_term < 2; block_term++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(group_signal_scenario(fake, block_term));
        int stt = 0;
        while (waitpid(pid, &stt, 0) < 0)
            assert_int_equal(errno, EINTR);
        if (!WIFEXITED(stt) || WEXITSTATUS(stt) != 0)
            fprintf(stderr, "scenario (SIGTERM %s): %s %d\n", block_term ? "blocked" : "ignored",
                    WIFEXITED(stt) ? "exit code" : "killed by signal",
                    WIFEXITED(stt) ? WEXITSTATUS(stt) : WTERMSIG(stt));
        assert_true(WIFEXITED(stt));
        assert_int_equal(WEXITSTATUS(stt), 0);
    }
    free(fake);
    wl_test_rmtree(dir);
    free(dir);
}

/* Waits (a safety net of 10 s, not a measured time) until the cpu total
 * reaches want_uj and the reads have seen want_disc discontinuities;
 * counts the reads that said one was theirs. Returns the last read's code. */
static int read_until_disc(wl_sensor *s, double want_uj, uint32_t want_disc,
                           struct wl_sensor_reading *r, int *n_disc_reads)
{
    uint64_t deadline = wl_clock_now_ns() + 10000000000ull;
    int rc;
    while ((rc = wl_sensor_read(s, r)) == 0) {
        for (unsigned i = 0; i < r->n_channels; i++)
            assert_int_equal(r->v[i].n_discontinuities, r->v[0].n_discontinuities);
        if (r->v[0].disc != WL_DISC_NONE) {
            assert_int_equal(r->v[0].disc, WL_DISC_LOST_SAMPLE); /* not "went back" */
            /* the lost sample began before this read */
            assert_true(r->v[0].lost_from_ns > 0 && r->v[0].lost_from_ns < r->t_before_ns);
            (*n_disc_reads)++;
        }
        if (((double)r->v[0].energy_uj >= want_uj && r->v[0].n_discontinuities >= want_disc) ||
            wl_clock_now_ns() >= deadline)
            break;
        wl_clock_sleep_ns(5000000);
    }
    return rc;
}

/* A sample that cannot be read after open (one that does not parse, one
 * over the size limit) loses its interval's energy: every channel counts
 * it as a discontinuity at the next read (the sampler records a gap), and
 * it is logged. The fake waits for files the test creates, so that each
 * lost sample comes after the reads before it. */
static void test_lost_samples_are_discontinuities(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char body[4096];
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "good='<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>elapsed_ns</key>"
             "<integer>100000000</integer><key>processor</key><dict><key>cpu_energy</key>"
             "<integer>200</integer><key>cpu_power</key><real>2000</real></dict></dict>"
             "</plist>'\n"
             "wait_for() { while ! [ -e \"%s/$1\" ]; do sleep 0.01; done; }\n"
             "printf '%%s\\0' \"$good\"\n"
             "wait_for go1\n"
             "printf '<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>\\0'\n"
             "printf '%%s\\0' \"$good\"\n"
             "wait_for go2\n"
             "head -c 17000000 /dev/zero | tr '\\0' x; printf '\\0'\n"
             "printf '%%s\\0' \"$good\"\n"
             "exec sleep 30\n",
             dir);
    char *fake = write_script(dir, "powermetrics", body);
    char go[2048];
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    p.powermetrics_interval_ms = 100;
    /* the warnings go to stderr: captured for this test */
    wl_test_capture_stderr_begin();
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    int rc = wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st);
    struct wl_sensor_reading r;
    int n_disc_reads = 0;
    uint32_t disc_after_first = 99, disc_after_second = 99;
    double e_first = 0;
    if (rc == 0) {
        rc = wl_sensor_read(s, &r);
        assert_int_equal(r.v[0].n_discontinuities, 0);
        assert_int_equal(r.v[0].disc, WL_DISC_NONE);
        snprintf(go, sizeof go, "%s/go1", dir);
        assert_int_equal(wl_test_write_file(go, "", 0), 0);
        /* the garbled sample, then a good one: 2 of the 3 samples' energy */
        rc = read_until_disc(s, 400000.0, 1, &r, &n_disc_reads);
        disc_after_first = r.v[0].n_discontinuities;
        e_first = (double)r.v[0].energy_uj;
        snprintf(go, sizeof go, "%s/go2", dir);
        assert_int_equal(wl_test_write_file(go, "", 0), 0);
        /* the oversized sample, then a good one */
        if (rc == 0)
            rc = read_until_disc(s, 600000.0, 2, &r, &n_disc_reads);
        disc_after_second = r.v[0].n_discontinuities;
        wl_sensor_close(s);
    }
    char *text = wl_test_capture_stderr_end();
    if (rc != 0 && s == NULL)
        fprintf(stderr, "open: %s\n", st.why);
    assert_int_equal(rc, 0);
    assert_float_equal(e_first, 400000.0, 0.5);
    assert_int_equal(disc_after_first, 1);
    assert_float_equal((double)r.v[0].energy_uj, 600000.0, 0.5);
    assert_int_equal(disc_after_second, 2);
    assert_int_equal(n_disc_reads, 2); /* each said once, by the read that saw it */
    if (!strstr(text, "a sample could not be read (malformed plist XML") ||
        !strstr(text, "a sample could not be read (a document over the limit of 16777216 bytes)"))
        fprintf(stderr, "warnings: %s\n", text);
    assert_non_null(strstr(text, "a sample could not be read (malformed plist XML"));
    assert_non_null(
        strstr(text, "a sample could not be read (a document over the limit of 16777216 bytes)"));
    free(text);
    free(fake);
    wl_test_rmtree(dir);
    free(dir);
}

/* open() names the Mac model in the source from the samples while the
 * reader thread goes on writing it with every sample: open formats the
 * source from a copy taken under the lock (it read the shared buffer
 * unlocked, a data race a TSan build reports here: the fake streams
 * samples back to back so that one lands while the source is formatted). */
static void test_source_names_the_model_while_samples_stream(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char *fake = write_script(
        dir, "powermetrics",
        "#!/bin/sh\n"
        "while :; do printf '<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
        "<key>hw_model</key><string>Mac14,2</string>"
        "<key>elapsed_ns</key><integer>1000000</integer><key>processor</key><dict>"
        "<key>cpu_energy</key><integer>1</integer></dict></dict></plist>\\0' || exit 0; done\n");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    for (int i = 0; i < 5; i++) {
        wl_sensor *s = NULL;
        struct wl_sensor_status st;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st), 0);
        assert_non_null(strstr(wl_sensor_get_info(s)->source, " -f plist on Mac14,2"));
        wl_sensor_close(s);
    }
    free(fake);
    wl_test_rmtree(dir);
    free(dir);
}

/* Waits (no time asserted: a stalled host only waits longer) until the
 * sampler has taken n more samples than it had. */
static void wait_samples(wl_sampler *s, uint64_t n)
{
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    const uint64_t want = st.n_samples + n;
    for (int i = 0; i < 20000 && st.n_samples < want; i++) {
        wl_clock_sleep_ns(1000000);
        wl_sampler_stats(s, &st);
    }
    assert_true(st.n_samples >= want);
}

/* A lost sample loses the energy of its own interval, which began when
 * the sample before it arrived, not at the sampler's previous read: the
 * gap must start there (it started at the previous read, so a lost 0.5 s
 * sample under 10 ms reads was told as a 10 ms gap, and the figures said
 * low by that). The fake sends a sample, waits until the test has seen
 * it counted and the sampler has read a few times more, then sends a
 * garbled one: the gap starts at or before the time the test saw the
 * good sample, never at a later read. Nothing here is timed. */
static void test_lost_sample_gap_starts_where_the_sample_did(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char body[4096];
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "good='<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>elapsed_ns</key>"
             "<integer>500000000</integer><key>processor</key><dict><key>cpu_energy</key>"
             "<integer>200</integer><key>cpu_power</key><real>400</real></dict></dict>"
             "</plist>'\n"
             "wait_for() { while ! [ -e \"%s/$1\" ]; do sleep 0.01; done; }\n"
             "printf '%%s\\0' \"$good\"\n"
             "wait_for go0\n"
             "printf '%%s\\0' \"$good\"\n"
             "wait_for go1\n"
             "printf '<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>\\0'\n"
             "printf '%%s\\0' \"$good\"\n"
             "exec sleep 30\n",
             dir);
    char *fake = write_script(dir, "powermetrics", body);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    p.powermetrics_interval_ms = 100;
    p.backends = WL_BACKEND_POWERMETRICS;
    p.model_use = WL_MODEL_NEVER;
    wl_test_capture_stderr_begin(); /* the lost sample's warning */
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 10000000;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    assert_int_equal(wl_sampler_start(s), 0);
    wait_samples(s, 3);
    char go[2048];
    snprintf(go, sizeof go, "%s/go0", dir);
    assert_int_equal(wl_test_write_file(go, "", 0), 0);
    /* the second sample is counted: it arrived before t_seen */
    struct wl_sample now;
    for (int i = 0; i < 20000; i++) {
        assert_int_equal(wl_sampler_snapshot(s, &now), 0);
        if (now.energy_uj[WL_DOMAIN_PACKAGE] >= 200000)
            break;
        wl_clock_sleep_ns(1000000);
    }
    assert_int_equal(now.energy_uj[WL_DOMAIN_PACKAGE], 200000);
    const uint64_t t_seen = wl_clock_now_ns();
    wait_samples(s, 3); /* reads after t_seen, before the loss */
    snprintf(go, sizeof go, "%s/go1", dir);
    assert_int_equal(wl_test_write_file(go, "", 0), 0);
    struct wl_sampler_gap g[2];
    size_t n_gaps = 0;
    for (int i = 0; i < 20000 && n_gaps == 0; i++) {
        n_gaps = wl_sampler_gaps(s, g, 2);
        if (n_gaps == 0)
            wl_clock_sleep_ns(1000000);
    }
    assert_int_equal(wl_sampler_stop(s), 0);
    char *text = wl_test_capture_stderr_end();
    assert_int_equal(n_gaps, 1);
    assert_true(g[0].counter_fell);
    assert_true(g[0].causes & (1u << WL_DISC_LOST_SAMPLE));
    assert_true(g[0].lost_mask & (1u << WL_DOMAIN_PACKAGE));
    fprintf(stderr, "good sample seen %.1f ms; gap %.1f .. %.1f ms (from the sampler's start)\n",
            (double)(t_seen - wl_sampler_t0_ns(s)) / 1e6,
            (double)(g[0].t_start_ns - wl_sampler_t0_ns(s)) / 1e6,
            (double)(g[0].t_end_ns - wl_sampler_t0_ns(s)) / 1e6);
    assert_true(g[0].t_start_ns <= t_seen);
    assert_true(g[0].t_start_ns >= wl_sampler_t0_ns(s));
    assert_true(g[0].t_end_ns > t_seen);
    assert_non_null(strstr(text, "since the previous sample is not counted (a gap)"));
    /* the sampler's warning gives the gap's span, which begins at the lost
     * sample's own start: it said "since the previous read" (10 ms before) */
    const char *w = strstr(text, "[sampler] powermetrics");
    assert_non_null(w);
    w = strstr(w, "could not be read; its energy over the ");
    assert_non_null(w);
    double span_s = -1;
    char tail[64] = "";
    assert_int_equal(
        sscanf(w, "could not be read; its energy over the %lf s %63[a-z ]", &span_s, tail), 2);
    assert_string_equal(tail, "this gap spans is unknown and not counted");
    const double gap_s = (double)(g[0].t_end_ns - g[0].t_start_ns) / 1e9;
    if (span_s < gap_s - 0.0006 || span_s > gap_s + 0.0006) {
        fprintf(stderr, "warned of %.3f s, the gap spans %.4f s\n", span_s, gap_s);
        fail();
    }
    free(text);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    free(fake);
    wl_test_rmtree(dir);
    free(dir);
}

/* The cpu, gpu, ane and combined totals of s's last read r, in uJ (-1 for
 * a channel s does not have). */
static double total_uj(const wl_sensor *s, const struct wl_sensor_reading *r, const char *name)
{
    const struct wl_sensor_info *in = wl_sensor_get_info((wl_sensor *)s);
    for (unsigned i = 0; i < in->n_channels; i++)
        if (strcmp(in->ch[i].name, name) == 0)
            return (double)r->v[i].energy_uj;
    return -1;
}

/* A release whose samples have power but no elapsed_ns: each power-only
 * figure is its power x the requested interval for the first sample, x
 * the wall time since the previous one after (0 s made them add 0 J
 * without a word); combined is then the sum of the components, not Apple's
 * absent combined_power (0). A sample with some energies and a component
 * with power only (ane here) has that component in combined too (it was
 * left out). The fake waits for a file the test creates, so the second
 * sample comes after the first was counted. */
static void test_power_only_samples_are_not_zero(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char body[4096];
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "doc='<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>processor</key>"
             "<dict><key>cpu_power</key><real>2000</real><key>gpu_power</key><real>500</real>"
             "</dict></dict></plist>'\n"
             "printf '%%s\\0' \"$doc\"\n"
             "while ! [ -e \"%s/go\" ]; do sleep 0.01; done\n"
             "printf '%%s\\0' \"$doc\"\n"
             "exec sleep 30\n",
             dir);
    char *fake = write_script(dir, "powermetrics", body);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.powermetrics = fake;
    p.powermetrics_interval_ms = 100;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    int rc = wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", st.why);
    assert_int_equal(rc, 0);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    /* the first sample: 100 ms at 2 W and 0.5 W */
    assert_float_equal(total_uj(s, &r, "cpu"), 200000.0, 0.5);
    assert_float_equal(total_uj(s, &r, "gpu"), 50000.0, 0.5);
    assert_float_equal(total_uj(s, &r, "combined"), 250000.0, 0.5);
    char go[2048];
    snprintf(go, sizeof go, "%s/go", dir);
    assert_int_equal(wl_test_write_file(go, "", 0), 0);
    /* the second: some time later, never 0 J */
    assert_int_equal(read_until(s, 200001.0, &r), 0);
    assert_true(total_uj(s, &r, "cpu") > 200000.0);
    assert_float_equal(total_uj(s, &r, "combined"), total_uj(s, &r, "cpu") + total_uj(s, &r, "gpu"),
                       1.0);
    wl_sensor_close(s);
    free(fake);

    /* cpu has an energy, ane a power only: combined holds both */
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "printf '<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>elapsed_ns</key>"
             "<integer>100000000</integer><key>processor</key><dict><key>cpu_energy</key>"
             "<integer>50</integer><key>cpu_power</key><real>500</real><key>ane_power</key>"
             "<real>300</real></dict></dict></plist>\\0'\n"
             "exec sleep 30\n");
    fake = write_script(dir, "pm-ane", body);
    p.powermetrics = fake;
    rc = wl_sensor_open_backend(WL_BACKEND_POWERMETRICS, &p, &s, &st);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", st.why);
    assert_int_equal(rc, 0);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(total_uj(s, &r, "cpu"), 50000.0, 0.5);
    assert_float_equal(total_uj(s, &r, "ane"), 30000.0, 0.5);
    assert_float_equal(total_uj(s, &r, "combined"), 80000.0, 0.5);
    wl_sensor_close(s);
    free(fake);
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_capture_parses_to_its_numbers),
        cmocka_unit_test(test_nul_joined_stream_gives_one_sample_each),
        cmocka_unit_test(test_oversized_document_is_dropped_and_counted),
        cmocka_unit_test(test_truncated_and_garbled_input_is_an_error),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_missing_keys_are_tolerated),
        cmocka_unit_test(test_shown_text_is_cut_between_characters),
        cmocka_unit_test(test_backend_runs_fake_powermetrics),
        cmocka_unit_test(test_lost_sample_gap_starts_where_the_sample_did),
        cmocka_unit_test(test_source_names_the_model_while_samples_stream),
        cmocka_unit_test(test_power_only_samples_are_not_zero),
        cmocka_unit_test(test_long_multibyte_stderr_and_path_are_cut_between_characters),
        cmocka_unit_test(test_survives_a_group_signal_and_close_stops_it),
        cmocka_unit_test(test_lost_samples_are_discontinuities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
