/* util/proc_stat: /proc/PID/stat into ppid, CPU ticks and the start time,
 * as the CPU-time model and the store's writer tokens read it. A command
 * name with spaces and ')', a start time present or cut off, a start time
 * that is not a number or overflows, a malformed field between the CPU
 * times and the start time (which the store's old hand parser read past),
 * and this process's own stat line checked against a plain split of it.
 * Also /proc/stat's aggregate cpu line (sensors/sensor_parse.h): the busy
 * time of this machine's CPUs, steal left out.
 */
#include "test_support.h"

#include "sensors/sensor_parse.h"
#include "util/proc_stat.h"
#include "wattlens/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct wl__proc_stat UNTOUCHED = {-7, 777, 888, true, '?'};

/* Parses text, which must be refused with want_rc, leaving the output alone. */
static void expect_refused(const char *text, int want_rc)
{
    struct wl__proc_stat st = UNTOUCHED;
    int rc = wl__proc_stat_parse(text, &st);
    if (rc != want_rc)
        fail_msg("%s: got %d, want %d", text, rc, want_rc);
    assert_int_equal(st.ppid, -7);
    assert_true(st.cpu_ticks == 777 && st.start_ticks == 888 && st.has_start);
    assert_int_equal(st.state, '?');
}

static void expect_parsed(const char *text, pid_t ppid, uint64_t ticks, bool has_start,
                          uint64_t start)
{
    struct wl__proc_stat st = UNTOUCHED;
    int rc = wl__proc_stat_parse(text, &st);
    if (rc != 0)
        fail_msg("%s: refused with %d", text, rc);
    assert_int_equal(st.ppid, ppid);
    assert_true(st.cpu_ticks == ticks);
    assert_int_equal(st.has_start, has_start);
    assert_true(st.start_ticks == start);
}

/* Fields 3-17 of a line (state S, ppid 77, CPU times 10 5 3 2) after the
 * command, ready for fields 18 on. */
#define HEAD_3_17 " S 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5 3 2"

static void test_command_with_spaces_and_parens(void **state)
{
    (void)state;
    expect_parsed("1234 (a) b (c) d)" HEAD_3_17 " 20 0 1 0 98765 10000 200\n", 77, 20, true, 98765);
    /* a command that looks like the rest of a stat line: a parser taking
     * the first ')' would read ppid 99 and start 1 */
    expect_parsed("1234 (x) S 99 1 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 1)" HEAD_3_17
                  " 20 0 1 0 98765 10000 200\n",
                  77, 20, true, 98765);
    expect_parsed("1234 ())" HEAD_3_17 " 20 0 1 0 5 1\n", 77, 20, true, 5);
    expect_parsed("1234 ( )" HEAD_3_17 " 20 0 1 0 5 1\n", 77, 20, true, 5);
    expect_refused("1234 (x S 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5 3 2 20 0 1 0 5\n",
                   WL_EFORMAT); /* no ')' at all */
    expect_refused("1234 (x)S 77 1 1 0 -1 0 0 0 0 0 10 5 3 2 20 0 1 0 5\n", WL_EFORMAT);
}

/* Field 3's first byte: the store takes a zombie ('Z') or a dead process
 * ('X', 'x') for a writer that is gone (sqlite_liveness.c). */
static void test_state_is_field_3(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "1 (x)" HEAD_3_17 " 20 0 1 0 5\n",
        "1 (x) Z 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5 3 2 20 0 1 0 5\n",
        "1 (a) Z b)  X 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5 3 2 20 0 1 0 5\n",
        "1 (x) x 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5 3 2\n",
    };
    static const char want[] = {'S', 'Z', 'X', 'x'};
    for (size_t i = 0; i < sizeof want; i++) {
        struct wl__proc_stat st = UNTOUCHED;
        assert_int_equal(wl__proc_stat_parse(lines[i], &st), 0);
        assert_int_equal(st.state, want[i]);
        assert_int_equal(st.ppid, 77);
    }
}

static void test_start_time_present_or_absent(void **state)
{
    (void)state;
    expect_parsed("1 (x)" HEAD_3_17 " 20 0 1 0 5000 10000 200 18446744073709551615\n", 77, 20, true,
                  5000);
    expect_parsed("1 (x)" HEAD_3_17 " 20 0 1 0 5000", 77, 20, true, 5000);
    expect_parsed("1 (x)" HEAD_3_17 " 20 0 1 0 18446744073709551615\n", 77, 20, true, UINT64_MAX);
    expect_parsed("1 (x)" HEAD_3_17 " 20 0 1 0 0\n", 77, 20, true, 0);
    /* a line ending after field 17, 19 or 21 (as the CPU-time model's fake
     * /proc trees could): ppid and ticks, no start time */
    expect_parsed("1 (x)" HEAD_3_17 "\n", 77, 20, false, 0);
    expect_parsed("1 (x)" HEAD_3_17, 77, 20, false, 0);
    expect_parsed("1 (x)" HEAD_3_17 "  \n", 77, 20, false, 0);
    expect_parsed("1 (x)" HEAD_3_17 " 20 0", 77, 20, false, 0);
    expect_parsed("1 (x)" HEAD_3_17 " 20 0 1 0 \n", 77, 20, false, 0);
    /* what follows the newline is not the line */
    expect_parsed("1 (x)" HEAD_3_17 " 20 0\n1 0 5000 10000\n", 77, 20, false, 0);
    /* before field 17 the line may not end */
    expect_refused("1 (x) S 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5 3\n", WL_EFORMAT);
    expect_refused("1 (x) S 77 1234 1234 34816 1234 4194304 100 0 0 0 10 5\n3 2 20 0 1 0 5\n",
                   WL_EFORMAT);
}

static void test_start_time_must_be_a_number_in_range(void **state)
{
    (void)state;
    static const char *const bad[] = {"50x0", "x", "-5", "+5", "0x10", "5.0", "5\t", "5\r", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "1 (x)" HEAD_3_17 " 20 0 1 0 %s 10000 200\n", bad[i]);
        expect_refused(text, WL_EFORMAT);
    }
    expect_refused("1 (x)" HEAD_3_17 " 20 0 1 0 18446744073709551616 10000\n", WL_ERANGE);
    expect_refused("1 (x)" HEAD_3_17 " 20 0 1 0 99999999999999999999999999\n", WL_ERANGE);
    /* the overflow is seen before the bad character after it, as for the
     * CPU times */
    expect_refused("1 (x)" HEAD_3_17 " 20 0 1 0 99999999999999999999999x\n", WL_ERANGE);
}

static void test_cpu_ticks_and_ppid_keep_their_rules(void **state)
{
    (void)state;
    /* negative cutime/cstime count as 0 */
    expect_parsed("1 (x) S 77 1 1 0 -1 0 0 0 0 0 10 5 -3 -1 20 0 1 0 9\n", 77, 15, true, 9);
    expect_refused("1 (x) S 77 1 1 0 -1 0 0 0 0 0 18446744073709551615 1 0 0 20 0 1 0 9\n",
                   WL_ERANGE);
    expect_refused("1 (x) S 77 1 1 0 -1 0 0 0 0 0 18446744073709551616 0 0 0 20 0 1 0 9\n",
                   WL_ERANGE);
    expect_refused("1 (x) S -1 1 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 9\n", WL_EFORMAT);
    expect_refused("1 (x) S 2147483648 1 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 9\n", WL_EFORMAT);
    expect_parsed("1 (x) S 2147483647 1 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 9\n", INT32_MAX, 4, true,
                  9);
    /* unused fields: shape only (an overlong one is taken) */
    expect_parsed("1 (x) S 77 99999999999999999999999 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 9\n", 77, 4,
                  true, 9);
    expect_refused("1 (x) S 77 1 1 0 -1 0 x 0 0 0 1 1 1 1 20 0 1 0 9\n", WL_EFORMAT);
}

/* The store's old hand parser (wl__process_start_token before util/proc_stat),
 * its loop kept here to show what it took: after the last ')' it skipped 19
 * fields as "spaces, then anything but a space" (a newline or a bad field
 * counted as one) and took the digits found there, whatever followed them.
 * The length of the digits, or 0 where it gave no token. */
static size_t old_start_digits(const char *line, const char **digits)
{
    const char *p = strrchr(line, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22; field++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
    }
    p += strspn(p, " ");
    size_t len = strspn(p, "0123456789");
    if (len == 0 || len > 20)
        return 0;
    *digits = p;
    return len;
}

/* Each of these gave the old parser a start token (shown); the parser now
 * refuses the line, or finds no start time in it. */
static void test_malformed_fields_before_the_start_time_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *old_token; /* the digits the old loop took */
        int rc;                /* now */
    } cases[] = {
        /* field 19 (nice) not a number */
        {"1 (x)" HEAD_3_17 " 20 zero 1 0 5000 10000\n", "5000", WL_EFORMAT},
        /* field 20 (num_threads) with a stray byte */
        {"1 (x)" HEAD_3_17 " 20 0 1x 0 5000 10000\n", "5000", WL_EFORMAT},
        /* field 18 a lone '-' */
        {"1 (x)" HEAD_3_17 " - 0 1 0 5000 10000\n", "5000", WL_EFORMAT},
        /* the start time followed by garbage: the old loop took its digits */
        {"1 (x)" HEAD_3_17 " 20 0 1 0 5000abc 10000\n", "5000", WL_EFORMAT},
        /* 20 digits above UINT64_MAX: the old loop took them as they were */
        {"1 (x)" HEAD_3_17 " 20 0 1 0 99999999999999999999 10000\n", "99999999999999999999",
         WL_ERANGE},
        /* a field 15 that is not a number: the CPU-time model always refused
         * this line, the store took its start time */
        {"1 (x) S 77 1 1 0 -1 0 0 0 0 0 10 ? 3 2 20 0 1 0 5000 10000\n", "5000", WL_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *d = NULL;
        size_t len = old_start_digits(cases[i].line, &d);
        assert_int_equal(len, strlen(cases[i].old_token));
        assert_memory_equal(d, cases[i].old_token, len);
        expect_refused(cases[i].line, cases[i].rc);
    }
    /* a newline inside the fields: the old loop counted "0\n1" as one field
     * and so took field 23 (10000) for the start time; the line ends at the
     * newline, after field 19: no start time, so no token */
    const char *split = "1 (x)" HEAD_3_17 " 20 0\n1 0 5000 10000\n";
    const char *d = NULL;
    size_t len = old_start_digits(split, &d);
    assert_int_equal(len, 5);
    assert_memory_equal(d, "10000", 5);
    expect_parsed(split, 77, 20, false, 0);
}

/* Field n (1-based, n >= 3) of a stat line by a plain split after the last
 * ')', as strtoull reads it; the text is changed. */
static uint64_t split_field(char *text, int n)
{
    char *p = strrchr(text, ')');
    assert_non_null(p);
    char *save = NULL, *t = strtok_r(p + 1, " \n", &save);
    for (int f = 3; f < n && t; f++)
        t = strtok_r(NULL, " \n", &save);
    assert_non_null(t);
    return strtoull(t, NULL, 10);
}

static void test_own_stat_line_matches_a_plain_split(void **state)
{
    (void)state;
#ifdef __linux__
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        skip();
    char line[1024];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof line - 1);
    line[n] = '\0';
    struct wl__proc_stat st = UNTOUCHED;
    assert_int_equal(wl__proc_stat_parse(line, &st), 0);
    assert_true(st.has_start);
    assert_int_equal(st.ppid, getppid());
    char copy[1024];
    memcpy(copy, line, n + 1);
    assert_true(st.start_ticks == split_field(copy, 22));
    uint64_t ticks = 0;
    for (int i = 14; i <= 17; i++) {
        memcpy(copy, line, n + 1);
        ticks += split_field(copy, i);
    }
    assert_true(st.cpu_ticks == ticks);
    assert_true(st.start_ticks > 0); /* this process did not start at boot */
    assert_int_equal(st.state, 'R'); /* it is running: it reads the line */
#else
    skip();
#endif
}

/* /proc/stat's aggregate cpu line: the CPU model's whole-system busy time
 * is the time this machine's CPUs ran, user + nice + system + irq +
 * softirq. Steal (another tenant's time on the host) is left out, as the
 * process scopes (/proc/PID/stat utime+stime, the process clock) leave it
 * out; guest and guest_nice are inside user and nice already, so they are
 * not added again. */
static void test_system_cpu_line_counts_this_machines_time(void **state)
{
    (void)state;
    uint64_t busy = 0;
    /*                              user nice sys idle iowait irq softirq steal guest guest_nice */
    assert_int_equal(wl__proc_parse_stat_cpu("cpu  1000 200 300 9000 400 50 60 7000 800 90\n"
                                             "cpu0 1000 200 300 9000 400 50 60 7000 800 90\n",
                                             &busy),
                     0);
    assert_int_equal(busy, 1000 + 200 + 300 + 50 + 60);
    /* the same without steal and the guest fields (old kernels) */
    assert_int_equal(wl__proc_parse_stat_cpu("cpu  1000 200 300 9000 400 50 60\n", &busy), 0);
    assert_int_equal(busy, 1610);
    /* steal does not change the busy time, however large */
    assert_int_equal(
        wl__proc_parse_stat_cpu("cpu  1000 200 300 9000 400 50 60 18446744073709551615\n", &busy),
        0);
    assert_int_equal(busy, 1610);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_with_spaces_and_parens),
        cmocka_unit_test(test_state_is_field_3),
        cmocka_unit_test(test_start_time_present_or_absent),
        cmocka_unit_test(test_start_time_must_be_a_number_in_range),
        cmocka_unit_test(test_cpu_ticks_and_ppid_keep_their_rules),
        cmocka_unit_test(test_malformed_fields_before_the_start_time_are_refused),
        cmocka_unit_test(test_own_stat_line_matches_a_plain_split),
        cmocka_unit_test(test_system_cpu_line_counts_this_machines_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
