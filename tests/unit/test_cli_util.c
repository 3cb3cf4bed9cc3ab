/* cli/cli_util.c: the CPU's model name from /proc/cpuinfo, as text
 * (wl_cli_cpuinfo_model_name) and from the file (wl_cli_host_cpu, under
 * WATTLENS_PROC_ROOT); cli_store.c's size and figure formatters; the KV cache type
 * parser (wl_cli_parse_cache_type); generate's phase line (wl_cli_phase_text); the strict
 * option number parsers (wl_cli_parse_long, wl_cli_parse_double); the capped whole-file
 * reader (wl_cli_read_all). The CLI's helper
 * sources are compiled into this test by cmake/extra/cli_fuzz.cmake.
 */
#include "test_support.h"

#include "cli.h"
#include "cli_store.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first processor of /proc/cpuinfo on the development machine (an AMD
 * EPYC guest, kernel 6.18), as read: tabs before the colons, a long flags
 * line, a blank line after the block. */
static const char cpuinfo_epyc[] =
    "processor\t: 0\n"
    "vendor_id\t: AuthenticAMD\n"
    "cpu family\t: 26\n"
    "model\t\t: 2\n"
    "model name\t: AMD EPYC\n"
    "stepping\t: 1\n"
    "microcode\t: 0x1000065\n"
    "cpu MHz\t\t: 2596.120\n"
    "cache size\t: 1024 KB\n"
    "physical id\t: 0\n"
    "siblings\t: 2\n"
    "core id\t\t: 0\n"
    "cpu cores\t: 2\n"
    "apicid\t\t: 0\n"
    "initial apicid\t: 0\n"
    "fpu\t\t: yes\n"
    "fpu_exception\t: yes\n"
    "cpuid level\t: 28\n"
    "wp\t\t: yes\n"
    "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm "
    "constant_tsc rep_good nopl xtopology nonstop_tsc cpuid extd_apicid tsc_known_freq "
    "pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt "
    "tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy "
    "cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext vmmcall fsgsbase "
    "tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq adx smap avx512ifma "
    "clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves "
    "avx_vnni avx512_bf16 clzero xsaveerptr arat avx512vbmi umip avx512_vbmi2 gfni vaes "
    "vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid fsrm "
    "avx512_vp2intersect\n"
    "bugs\t\t: sysret_ss_attrs null_seg spectre_v1 spectre_v2 spec_store_bypass srso "
    "spectre_v2_user\n"
    "bogomips\t: 5192.24\n"
    "TLB size\t: 192 4K pages\n"
    "clflush size\t: 64\n"
    "cache_alignment\t: 64\n"
    "address sizes\t: 48 bits physical, 48 bits virtual\n"
    "power management:\n"
    "\n";

/* Parses the NUL-terminated text into a buffer of size bytes that starts
 * "untouched". */
static bool model_name(const char *text, char *buf, size_t size)
{
    memset(buf, 0, size);
    snprintf(buf, size, "untouched");
    return wl_cli_cpuinfo_model_name(text, strlen(text), buf, size);
}

static void test_cpuinfo_model_name_of_kernel_formats(void **state)
{
    (void)state;
    char buf[256];
    assert_true(model_name(cpuinfo_epyc, buf, sizeof buf));
    assert_string_equal(buf, "AMD EPYC");
    /* x86 (Intel's brand string), one block per processor: the first */
    assert_true(model_name("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
                           "model\t\t: 79\n"
                           "model name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n"
                           "stepping\t: 1\n\nprocessor\t: 1\n"
                           "model name\t: Intel(R) Core(TM) i7 CPU\n",
                           buf, sizeof buf));
    assert_string_equal(buf, "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz");
    /* arm64 and others name no model: buf stays as it was */
    assert_false(model_name("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n"
                            "CPU implementer\t: 0x41\nCPU part\t: 0xd0c\n",
                            buf, sizeof buf));
    assert_string_equal(buf, "untouched");
    assert_false(model_name("", buf, sizeof buf));
    assert_string_equal(buf, "untouched");
}

static void test_cpuinfo_model_name_line_rules(void **state)
{
    (void)state;
    char buf[64];
    static const struct {
        const char *text, *want; /* want NULL: no model name */
    } cases[] = {
        {"model name: x", "x"},               /* no newline at the end */
        {"model name\t:\t \tx y \n", "x y "}, /* blanks after the name are kept */
        {"model name   \t  : x\n", "x"},
        {"model name\t:\n", ""}, /* named, empty */
        {"model name\t:", ""},
        {"model name\n", NULL}, /* no colon */
        {"model name x: y\n", NULL},
        {"model names\t: y\n", NULL},
        {" model name\t: y\n", NULL},
        {"Model Name\t: y\n", NULL},
        {"model\t\t: 79\n", NULL},
        {"model name\n\t: y\n", NULL},  /* the colon on the next line */
        {"model name\t: a\r\n", "a\r"}, /* bytes as they are */
        {"model name\t: \x1b[31mred\xff\n", "\x1b[31mred\xff"},
        {"model name\nmodel name\t: second\n", "second"}, /* the first line naming it */
        {"model name : first\nmodel name : second\n", "first"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool found = model_name(cases[i].text, buf, sizeof buf);
        if (found != (cases[i].want != NULL) || (found && strcmp(buf, cases[i].want) != 0))
            fprintf(stderr, "case %zu: got %d '%s'\n", i, found, buf);
        assert_int_equal(found, cases[i].want != NULL);
        assert_string_equal(buf, cases[i].want ? cases[i].want : "untouched");
    }
    /* a NUL ends the name; the text goes on after it */
    static const char nul[] = "model name\t: AMD\0EPYC\n";
    assert_true(wl_cli_cpuinfo_model_name(nul, sizeof nul - 1, buf, sizeof buf));
    assert_string_equal(buf, "AMD");
    static const char nul_key[] = "model\0name\t: x\nmodel name\t: y\n";
    assert_true(wl_cli_cpuinfo_model_name(nul_key, sizeof nul_key - 1, buf, sizeof buf));
    assert_string_equal(buf, "y");
    /* only len bytes are read */
    assert_true(wl_cli_cpuinfo_model_name("model name\t: AMD EPYC", 16, buf, sizeof buf));
    assert_string_equal(buf, "AMD");
    assert_false(wl_cli_cpuinfo_model_name("model name\t: AMD EPYC", 10, buf, sizeof buf));
}

/* A name longer than buf is cut between characters, an invalid byte
 * counting as one, as wl_utf8_copy cuts. */
static void test_cpuinfo_model_name_cut_between_characters(void **state)
{
    (void)state;
    char text[512], name[400], buf[128], want[128];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(name + n, sizeof name - n, "%s", i % 7 == 3 ? "\xff" : "\xc3\xa9");
    for (size_t size = 1; size <= sizeof buf; size++) {
        snprintf(text, sizeof text, "model name\t: %s\nflags\t\t: fpu\n", name);
        assert_true(model_name(text, buf, size));
        size_t len = wl_utf8_copy(want, size, name);
        assert_int_equal(len, strlen(name));
        assert_string_equal(buf, want);
        assert_true(strlen(buf) < size);
    }
    /* a character the end of the line cuts is an invalid byte, kept */
    assert_true(model_name("model name\t: ab\xc3\nx\xa9\n", buf, sizeof buf));
    assert_string_equal(buf, "ab\xc3");
}

/* wl_cli_host_cpu reads $WATTLENS_PROC_ROOT/cpuinfo a whole line at a time:
 * the reader of 1024-byte lines took the rest of a longer line for a line
 * of its own, so a line that went on with "model name: ..." past its
 * 1023rd byte named the CPU. */
static void test_host_cpu_reads_whole_lines(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/cpuinfo", dir);
    char text[4096];
    const size_t line = (size_t)snprintf(text, sizeof text, "processor\t: 0\n");
    size_t n = line + (size_t)snprintf(text + line, sizeof text - line, "flags\t\t: ");
    while (n - line < 1023)
        text[n++] = 'x';
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "model name: Fake\nmodel name\t: AMD EPYC\nflags\t\t: fpu\n");
    assert_int_equal(wl_test_write_file(path, text, n), 0);
    const char *old = getenv("WATTLENS_PROC_ROOT");
    char *saved = old ? strdup(old) : NULL;
    setenv("WATTLENS_PROC_ROOT", dir, 1);
    char buf[256];
    wl_cli_host_cpu(buf, sizeof buf);
    assert_string_equal(buf, "AMD EPYC");
    /* no file: unknown */
    unlink(path);
    wl_cli_host_cpu(buf, sizeof buf);
    assert_string_equal(buf, "");
    if (saved)
        setenv("WATTLENS_PROC_ROOT", saved, 1);
    else
        unsetenv("WATTLENS_PROC_ROOT");
    free(saved);
    wl_test_rmtree(dir);
    free(dir);
}

/* wl_cli_read_all with a maximum: a regular file over it is refused with its
 * size and not read (stdin redirected from one too, counted from its
 * offset); a device without a size is read to max + 1 bytes and refused
 * with size 0; a file of exactly max bytes is read. */
static void test_read_all_refuses_over_max(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/text", dir);
    char text[5000];
    memset(text, 'x', sizeof text);
    assert_int_equal(wl_test_write_file(path, text, sizeof text), 0);
    char *data = NULL;
    size_t n = 0;
    assert_int_equal(wl_cli_read_all(path, sizeof text - 1, &data, &n), EFBIG);
    assert_null(data);
    assert_int_equal(n, sizeof text);
    assert_int_equal(wl_cli_read_all(path, sizeof text, &data, &n), 0);
    assert_int_equal(n, sizeof text);
    free(data);
    data = NULL;

    /* '-': stdin from the same file, refused before a byte is read */
    fflush(stdin);
    int saved = dup(0);
    assert_true(saved >= 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    clearerr(stdin);
    assert_int_equal(wl_cli_read_all("-", 4000, &data, &n), EFBIG);
    assert_null(data);
    assert_int_equal(n, sizeof text);
    assert_int_equal(lseek(0, 0, SEEK_CUR), 0);
    /* from offset 1000 on, 4000 bytes are left: they fit */
    assert_int_equal(lseek(0, 1000, SEEK_SET), 1000);
    assert_int_equal(wl_cli_read_all("-", 4000, &data, &n), 0);
    assert_int_equal(n, 4000);
    free(data);
    data = NULL;
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    clearerr(stdin);

    /* an endless device: refused at the limit, its size unknown */
    n = 7;
    assert_int_equal(wl_cli_read_all("/dev/zero", (size_t)1 << 16, &data, &n), EFBIG);
    assert_null(data);
    assert_int_equal(n, 0);
    wl_test_rmtree(dir);
    free(dir);
}

/* Sizes read in the largest binary unit that keeps the number >= 1: a
 * small model's KV cache is "36.00 KiB", never "0.0 MiB". */
static void test_fmt_bytes_units(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(wl_cli_fmt_bytes(0, b, sizeof b), "0 B");
    assert_string_equal(wl_cli_fmt_bytes(1023, b, sizeof b), "1023 B");
    assert_string_equal(wl_cli_fmt_bytes(1024, b, sizeof b), "1.00 KiB");
    assert_string_equal(wl_cli_fmt_bytes(36864, b, sizeof b), "36.00 KiB");
    assert_string_equal(wl_cli_fmt_bytes(1048576 + 524288, b, sizeof b), "1.50 MiB");
    assert_string_equal(wl_cli_fmt_bytes(3LL << 30, b, sizeof b), "3.00 GiB");
    assert_string_equal(wl_cli_fmt_bytes(5LL << 40, b, sizeof b), "5120.00 GiB");
    assert_string_equal(wl_cli_fmt_bytes(-1, b, sizeof b), "n/a");
}

/* A huge figure (a hand-edited database) keeps its unit: three significant
 * digits past 1e9, where %f wrote every digit and cut the unit off. */
static void test_fmt_huge_values_keep_their_unit(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(wl_cli_fmt_duration(1e308, b, sizeof b), "1.67e+303 min");
    assert_string_equal(wl_cli_fmt_energy(-1e300, b, sizeof b), "-1e+297 kJ");
    assert_string_equal(wl_cli_fmt_duration(90e3, b, sizeof b), "90.00 s"); /* as before */
    assert_string_equal(wl_cli_fmt_duration(1e12, b, sizeof b), "16666666.7 min");
    assert_string_equal(wl_cli_fmt_duration(1e14, b, sizeof b), "1.67e+09 min");
    assert_string_equal(wl_cli_fmt(999999999.5, 1, "x", b, sizeof b), "999999999.5 x");
}

/* The KV cache types of the engine (generate/bench --cache-type, model info
 * --kv-type): f16 and f32 in any case; anything else (other weight types,
 * junk) is refused and leaves *out alone. */
static void test_parse_cache_type(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        enum wl_ttype t;
    } good[] = {
        {"f16", WL_TTYPE_F16}, {"F16", WL_TTYPE_F16}, {"f32", WL_TTYPE_F32}, {"F32", WL_TTYPE_F32}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        enum wl_ttype t = WL_TTYPE_Q8_0;
        assert_true(wl_cli_parse_cache_type("generate", "--cache-type", good[i].s, &t));
        assert_int_equal(t, good[i].t);
    }
    static const char *const bad[] = {"q8_0", "bf16", "q4_k", "f64", "", "x", "f16 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum wl_ttype t = WL_TTYPE_Q8_0;
        assert_false(wl_cli_parse_cache_type("generate", "--cache-type", bad[i], &t));
        assert_int_equal(t, WL_TTYPE_Q8_0);
    }
}

/* Option values are plain decimal: what strtol/strtod would also take
 * (leading blanks, '+', hex floats, inf) is refused, and *out untouched. */
static void test_parse_long_is_strict(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        long v;
    } good[] = {{"5", 5}, {"-5", -5}, {"0", 0}, {"007", 7}, {"-0", 0}, {"512", 512}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        long v = 42;
        assert_true(wl_cli_parse_long("t", "-n", good[i].s, -512, 512, &v));
        assert_int_equal(v, good[i].v);
    }
    static const char *const bad[] = {" 5",
                                      "\t3",
                                      "\n3",
                                      "+5",
                                      "5 ",
                                      "",
                                      "-",
                                      "- 5",
                                      "+-5",
                                      "--5",
                                      "0x10",
                                      "5e2",
                                      "5.0",
                                      "1,5",
                                      "513",
                                      "-513",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long v = 42;
        if (wl_cli_parse_long("t", "-n", bad[i], -512, 512, &v))
            fail_msg("'%s' accepted as an integer", bad[i]);
        assert_int_equal(v, 42);
    }
}

static void test_parse_double_is_strict(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double v;
    } good[] = {{"0.5", 0.5},   {"-.5", -0.5}, {".5", 0.5}, {"5.", 5},    {"5", 5},
                {"1e-3", 1e-3}, {"2E+2", 200}, {"-0", 0},   {"1e-400", 0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = 42;
        assert_true(wl_cli_parse_double("t", "--temp", good[i].s, -1e3, 1e3, &v));
        assert_true(v == good[i].v);
    }
    static const char *const bad[] = {
        " 0.5", "\t1", "+0.5",     "0.5 ", "",   "-",   ".",   "0x1p-1", "0X1P-1", "0x10",  "inf",
        "-inf", "nan", "infinity", "1,5",  "e5", "-e5", "--1", "+-1",    "1e",     "1e400", "2000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 42;
        if (wl_cli_parse_double("t", "--temp", bad[i], -1e3, 1e3, &v))
            fail_msg("'%s' accepted as a number", bad[i]);
        assert_true(v == 42);
    }
}

/* Runs getopt_long over argv (opterr 0, as the commands) and returns
 * wl_cli_option_error's message for its first error, from stderr (heap). */
static char *option_error(char **argv, int argc, const struct option *opts)
{
    wl_test_capture_stderr_begin();
    optind = 0; /* glibc: a full reset */
    opterr = 0;
    int c, rc = -1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            rc = wl_cli_option_error("t", c, argv, opts);
            break;
        }
    }
    char *text = wl_test_capture_stderr_end();
    assert_int_equal(rc, WL_EXIT_USAGE);
    return text;
}

/* option_error over argv (NULL-terminated) holds has and, unless lacks is
 * NULL, not lacks. */
static void expect_option_error(const struct option *opts, char **argv, const char *has,
                                const char *lacks)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char *text = option_error(argv, argc, opts);
    if (!strstr(text, has) || (lacks && strstr(text, lacks)))
        fprintf(stderr, "option error for %s: %s", argv[1], text);
    assert_non_null(strstr(text, has));
    if (lacks)
        assert_null(strstr(text, lacks));
    free(text);
}

static void test_option_error_ambiguous_prefix(void **state)
{
    (void)state;
    static const struct option opts[] = {
        {"since", required_argument, NULL, 'S'},
        {"search", required_argument, NULL, 's'},
        {"sort", no_argument, NULL, 'o'},
        {"sorted", no_argument, NULL, 'd'},
        {"colour", no_argument, NULL, 'c'},
        {"color", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    expect_option_error(opts, (char *[]){"t", "--s", "x", NULL},
                        "ambiguous option '--s' (--since, --search, --sort, --sorted)", NULL);
    expect_option_error(opts, (char *[]){"t", "--so=x", NULL},
                        "ambiguous option '--so' (--sort, --sorted)", NULL);
    /* an exact name is that option, not ambiguous: here one that takes no value */
    expect_option_error(opts, (char *[]){"t", "--sort=x", NULL}, "takes no value: '--sort=x'",
                        NULL);
    /* a prefix of two names of one option (same value) is that option */
    expect_option_error(opts, (char *[]){"t", "--col=x", NULL}, "takes no value: '--col=x'",
                        "ambiguous");
    expect_option_error(opts, (char *[]){"t", "--bogus", NULL}, "unknown option '--bogus'", NULL);
}

/* Sets or (NULL) unsets name; returns its old value (heap) or NULL. */
static char *swap_env(const char *name, const char *value)
{
    const char *old = getenv(name);
    char *saved = old ? strdup(old) : NULL;
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    return saved;
}

static void restore_env(const char *name, char *saved)
{
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

/* The run's CPU name comes from where the sensors identify the CPU: a
 * sysfs root given alone (another machine's tree, or a test's) is never
 * named after this machine's /proc/cpuinfo, but after a proc/cpuinfo next
 * to it, else unknown; a /proc root given names it. */
static void test_host_cpu_follows_the_sensor_roots(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char sys[4200], proc[4200], path[4300], other[4200];
    snprintf(sys, sizeof sys, "%s/sys", dir);
    snprintf(proc, sizeof proc, "%s/proc", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    assert_int_equal(mkdir(sys, 0755), 0);
    char *old_sys = swap_env("WATTLENS_SYSFS_ROOT", sys);
    char *old_proc = swap_env("WATTLENS_PROC_ROOT", NULL);
    char buf[256];
    wl_cli_host_cpu(buf, sizeof buf);
    assert_string_equal(buf, ""); /* unknown, not this machine's */
    /* a proc/cpuinfo next to the tree */
    assert_int_equal(mkdir(proc, 0755), 0);
    snprintf(path, sizeof path, "%s/cpuinfo", proc);
    static const char beside[] = "processor\t: 0\nmodel name\t: Tree CPU\n";
    assert_int_equal(wl_test_write_file(path, beside, sizeof beside - 1), 0);
    wl_cli_host_cpu(buf, sizeof buf);
    assert_string_equal(buf, "Tree CPU");
    /* a /proc root given names the CPU, the tree's notwithstanding */
    assert_int_equal(mkdir(other, 0755), 0);
    snprintf(path, sizeof path, "%s/cpuinfo", other);
    static const char given[] = "model name\t: Given CPU\n";
    assert_int_equal(wl_test_write_file(path, given, sizeof given - 1), 0);
    setenv("WATTLENS_PROC_ROOT", other, 1);
    wl_cli_host_cpu(buf, sizeof buf);
    assert_string_equal(buf, "Given CPU");
    restore_env("WATTLENS_PROC_ROOT", old_proc);
    restore_env("WATTLENS_SYSFS_ROOT", old_sys);
    wl_test_rmtree(dir);
    free(dir);
}

/* wattlens's own options given after a command: the error says where they
 * go (before the command); another unknown option gets no such hint. */
static void test_option_error_global_option_hint(void **state)
{
    (void)state;
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    expect_option_error(opts, (char *[]){"t", "-q", NULL},
                        "unknown option '-q' (a global option: put it before the "
                        "command, 'wattlens -q t ...')",
                        NULL);
    expect_option_error(opts, (char *[]){"t", "--verbose", NULL},
                        "unknown option '--verbose' (a global option: put it before the "
                        "command, 'wattlens --verbose t ...')",
                        NULL);
    expect_option_error(opts, (char *[]){"t", "-V", NULL},
                        "(the version is a global option: 'wattlens -V')", NULL);
    expect_option_error(opts, (char *[]){"t", "-x", NULL}, "unknown option '-x'", "global");
}

/* The one table of wattlens's own options, which main.c parses and the
 * hint above names: each by its letter and its long name, nothing else.
 * Old: two lists kept apart (the hint's had no --help). */
static void test_global_options_are_one_table(void **state)
{
    (void)state;
    const char *const both[][2] = {
        {"-h", "--help"}, {"-V", "--version"}, {"-v", "--verbose"}, {"-q", "--quiet"}};
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        assert_int_equal(wl_cli_global_option(both[i][0]), both[i][0][1]);
        assert_int_equal(wl_cli_global_option(both[i][1]), both[i][0][1]);
    }
    const char *const others[] = {"-x",      "-vq",    "--",         "-",   "",
                                  "verbose", "--json", "--verbosex", "---", "--verbose=1"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(wl_cli_global_option(others[i]), 0);
}

/* A long global option may be shortened to a prefix that names only it, as
 * getopt_long lets a command's be (--verb was unknown); a prefix of several
 * is '?' with their names, and no option for wl_cli_global_option. */
static void test_global_options_take_a_unique_prefix(void **state)
{
    (void)state;
    char names[64];
    assert_int_equal(wl_cli_global_option("--verb"), 'v');
    assert_int_equal(wl_cli_global_option("--vers"), 'V');
    assert_int_equal(wl_cli_global_option("--q"), 'q');
    assert_int_equal(wl_cli_global_option("--h"), 'h');
    assert_int_equal(wl_cli_global_option_match("--ver", names, sizeof names), '?');
    assert_string_equal(names, "--version, --verbose");
    assert_int_equal(wl_cli_global_option_match("--v", names, sizeof names), '?');
    assert_int_equal(wl_cli_global_option("--ver"), 0);
    assert_int_equal(wl_cli_global_option_match("--quiet", names, sizeof names), 'q');
}

/* An option a command rewrote before getopt saw it is named as typed,
 * with its value missing or unknown alike. */
static void test_option_error_typed_names_the_option_as_typed(void **state)
{
    (void)state;
    static const struct option opts[] = {
        {"ubatch-size", required_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    char *argv[] = {"t", "--ubatch-size", NULL};
    opterr = 0;
    optind = 0;
    int c = getopt_long(2, argv, ":", opts, NULL);
    assert_int_equal(c, ':');
    wl_test_capture_stderr_begin();
    const int rc = wl_cli_option_error_typed("t", c, argv, opts, "-ub");
    char *text = wl_test_capture_stderr_end();
    assert_int_equal(rc, WL_EXIT_USAGE);
    assert_non_null(strstr(text, "option '-ub' needs a value"));
    free(text);
}

/* An argument left over by run or generate: a model file (named .gguf, or
 * any regular file that exists) is to be given with -m; other words are
 * taken for an unquoted prompt. */
static void test_stray_argument_hint(void **state)
{
    (void)state;
    const enum wl_cli_args P = WL_CLI_ARGS_PROMPT;
    const char *model = "give the model with -m FILE", *prompt = "quote the prompt: -p \"...\"";
    assert_string_equal(wl_cli_stray_argument_hint("models/missing.gguf", P), model);
    char path[] = "/tmp/wl_stray_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_string_equal(wl_cli_stray_argument_hint(path, P), model);
    unlink(path);
    assert_string_equal(wl_cli_stray_argument_hint(path, P), prompt);
    assert_string_equal(wl_cli_stray_argument_hint("upon", P), prompt);
    assert_string_equal(wl_cli_stray_argument_hint(".gguf", P), prompt); /* no name before it */
    assert_string_equal(wl_cli_stray_argument_hint("/tmp", P), prompt);  /* a directory */
}

/* The same for tokenize, bench and detokenize: a model is a .gguf name or,
 * for tokenize (which reads text files with -f), a file with GGUF's magic;
 * other words are text (tokenize), values apart from their option (bench)
 * or no hint (detokenize: ids, the caller says what one is). */
static void test_stray_argument_hint_by_command(void **state)
{
    (void)state;
    const char *model = "give the model with -m FILE";
    assert_string_equal(wl_cli_stray_argument_hint("m.gguf", WL_CLI_ARGS_TEXT), model);
    assert_string_equal(wl_cli_stray_argument_hint("m.gguf", WL_CLI_ARGS_VALUES), model);
    assert_string_equal(wl_cli_stray_argument_hint("m.gguf", WL_CLI_ARGS_IDS), model);
    assert_string_equal(wl_cli_stray_argument_hint("world", WL_CLI_ARGS_TEXT),
                        "quote the text: -p \"...\"; -f - reads it from stdin");
    assert_string_equal(wl_cli_stray_argument_hint("512", WL_CLI_ARGS_VALUES),
                        "a value goes right after its option: -p 512, -n 128");
    assert_null(wl_cli_stray_argument_hint("hello", WL_CLI_ARGS_IDS));
    char path[] = "/tmp/wl_stray_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "text", 4), 4);
    assert_string_equal(wl_cli_stray_argument_hint(path, WL_CLI_ARGS_TEXT),
                        "read a text file with -f FILE");
    assert_string_equal(wl_cli_stray_argument_hint(path, WL_CLI_ARGS_VALUES), model);
    assert_int_equal(pwrite(fd, "GGUF", 4, 0), 4);
    close(fd);
    assert_string_equal(wl_cli_stray_argument_hint(path, WL_CLI_ARGS_TEXT), model);
    unlink(path);
}

/* model synth takes options only: a model file is its output (or a
 * tokenizer source), a number a value apart from its option, and -m's
 * hint, which synth does not take, is never given. */
static void test_stray_argument_hint_synth(void **state)
{
    (void)state;
    const enum wl_cli_args S = WL_CLI_ARGS_SHAPE;
    const char *out = "write the model with -o OUT.gguf; copy a tokenizer with --vocab-from FILE";
    assert_string_equal(wl_cli_stray_argument_hint("out.gguf", S), out);
    char path[] = "/tmp/wl_stray_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_string_equal(wl_cli_stray_argument_hint(path, S), out);
    unlink(path);
    assert_string_equal(wl_cli_stray_argument_hint("256", S),
                        "a value goes right after its option: --layers 4, --dim 256");
    assert_string_equal(wl_cli_stray_argument_hint("0.5", S),
                        "a value goes right after its option: --layers 4, --dim 256");
    assert_string_equal(wl_cli_stray_argument_hint("llama", S),
                        "model synth takes options only: --arch A, --layers N, ..., -o OUT.gguf");
    assert_string_equal(wl_cli_stray_argument_hint("", S),
                        "model synth takes options only: --arch A, --layers N, ..., -o OUT.gguf");
}

/* gc and runs take options only: a database (a .db name or a file with
 * SQLite's header) goes with --db, a number with gc's limits or runs's
 * --limit, a model file with runs's --model (any other file is not the
 * store's: the options they take); sensors takes nothing. */
static void test_stray_argument_hint_store_commands(void **state)
{
    (void)state;
    const enum wl_cli_args G = WL_CLI_ARGS_LIMITS, R = WL_CLI_ARGS_FILTERS;
    const char *db = "give the run database with --db FILE";
    const char *gc = "gc takes options only: --keep N and/or --max-age DAYS";
    const char *filters = "a filter goes after its option: --model M, --tag T, --search TEXT, "
                          "...; one run with 'wattlens show ID'";
    assert_string_equal(wl_cli_stray_argument_hint("runs.db", G), db);
    assert_string_equal(wl_cli_stray_argument_hint("runs.db", R), db);
    char path[] = "/tmp/wl_stray_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "text", 4), 4);
    assert_string_equal(wl_cli_stray_argument_hint(path, G), gc);
    assert_string_equal(wl_cli_stray_argument_hint(path, R), filters);
    assert_int_equal(pwrite(fd, "SQLite format 3", 16, 0), 16);
    close(fd);
    assert_string_equal(wl_cli_stray_argument_hint(path, G), db);
    assert_string_equal(wl_cli_stray_argument_hint(path, R), db);
    unlink(path);
    assert_string_equal(wl_cli_stray_argument_hint("30", G),
                        "a number goes after its option: --keep N keeps the N newest runs, "
                        "--max-age DAYS removes older ones");
    assert_string_equal(wl_cli_stray_argument_hint("all", G), gc);
    assert_string_equal(wl_cli_stray_argument_hint("10", R),
                        "at most N runs with --limit N; one run with 'wattlens show ID'");
    assert_string_equal(wl_cli_stray_argument_hint("m.gguf", R), "filter by model with --model M");
    assert_string_equal(wl_cli_stray_argument_hint("llama", R), filters);
    assert_string_equal(wl_cli_stray_argument_hint("rapl", WL_CLI_ARGS_PROBE),
                        "sensors takes no argument: it tries every backend; --json prints JSON");
}

/* generate's phase line: a rate when tokens ran in a measured time, "no
 * ... step" only when none ran, plain "n/a" when some ran faster than the
 * clock could tell (not "no decode step", which would be false). */
static void test_phase_text(void **state)
{
    (void)state;
    char b[128];
    assert_string_equal(wl_cli_phase_text("decode", 0.5, 20, " for the batch", b, sizeof b),
                        "decode 500.0 ms (40.00 tokens/s for the batch)");
    assert_string_equal(wl_cli_phase_text("prefill", 0.25, 5, "", b, sizeof b),
                        "prefill 250.0 ms (20.00 tokens/s)");
    assert_string_equal(wl_cli_phase_text("decode", 0.0001, 0, "", b, sizeof b),
                        "decode 0.1 ms (n/a: no decode step)");
    assert_string_equal(wl_cli_phase_text("decode", 0.0, 0, " for the batch", b, sizeof b),
                        "decode 0.0 ms (n/a: no decode step)");
    assert_string_equal(wl_cli_phase_text("prefill", 0.0, 3, "", b, sizeof b),
                        "prefill 0.0 ms (n/a)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuinfo_model_name_of_kernel_formats),
        cmocka_unit_test(test_cpuinfo_model_name_line_rules),
        cmocka_unit_test(test_cpuinfo_model_name_cut_between_characters),
        cmocka_unit_test(test_host_cpu_reads_whole_lines),
        cmocka_unit_test(test_read_all_refuses_over_max),
        cmocka_unit_test(test_fmt_bytes_units),
        cmocka_unit_test(test_fmt_huge_values_keep_their_unit),
        cmocka_unit_test(test_parse_cache_type),
        cmocka_unit_test(test_phase_text),
        cmocka_unit_test(test_parse_long_is_strict),
        cmocka_unit_test(test_parse_double_is_strict),
        cmocka_unit_test(test_option_error_ambiguous_prefix),
        cmocka_unit_test(test_option_error_global_option_hint),
        cmocka_unit_test(test_global_options_are_one_table),
        cmocka_unit_test(test_global_options_take_a_unique_prefix),
        cmocka_unit_test(test_option_error_typed_names_the_option_as_typed),
        cmocka_unit_test(test_host_cpu_follows_the_sensor_roots),
        cmocka_unit_test(test_stray_argument_hint),
        cmocka_unit_test(test_stray_argument_hint_by_command),
        cmocka_unit_test(test_stray_argument_hint_synth),
        cmocka_unit_test(test_stray_argument_hint_store_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
