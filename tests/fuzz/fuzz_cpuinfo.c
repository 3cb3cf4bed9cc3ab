/* Fuzz target: the CPU's model name in /proc/cpuinfo text
 * (wl_cli_cpuinfo_model_name in cli/cli_util.c, compiled into this target
 * by cmake/extra/cli_fuzz.cmake), and the file reader wl_cli_host_cpu over
 * the same text. Input: byte 0, bits 0-6, the buffer size less one
 * (1..128 bytes; the CLI uses 128 and 256), bits 6-7 both set the file
 * reader instead (the text written to a cpuinfo under WATTLENS_PROC_ROOT:
 * a quarter of the inputs, as a file costs far more than a parse); the
 * rest is the text. Checks, trapping on failure: a name is found exactly
 * when the harness's own search finds a line "model name", blanks, ':';
 * none leaves the buffer untouched (the reader gives ""); a found one is
 * NUL-terminated inside the buffer and is what wl_utf8_copy makes of the
 * first such line's value (after the colon and its blanks, up to the
 * line's end or a NUL): all of it or the longest prefix that fits and
 * ends between characters, so valid UTF-8 stays valid.
 */
#include "cli.h"
#include "util/utf8.h"

#include "fuzz_scratch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

/* The value of the first "model name" line of s[0..n) as a NUL-terminated
 * copy (malloc'd), or NULL when no line names the model. */
static char *expected_name(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t k = i;
        if (e - i >= 10 && strncmp(s + i, "model name", 10) == 0) {
            k = i + 10;
            while (k < e && (s[k] == ' ' || s[k] == '\t'))
                k++;
        }
        if (k > i && k < e && s[k] == ':') {
            k++;
            while (k < e && (s[k] == ' ' || s[k] == '\t'))
                k++;
            size_t v = k;
            while (v < e && s[v] != '\0')
                v++;
            char *out = malloc(v - k + 1);
            CHECK(out);
            memcpy(out, s + k, v - k);
            out[v - k] = '\0';
            return out;
        }
        i = e + 1;
    }
    return NULL;
}

/* The proc root: a scratch directory, made once per process and removed
 * at its exit, whose cpuinfo each input from a file writes. */
static void use_scratch_proc_root(void)
{
    static bool set;
    if (!set)
        CHECK(setenv("WATTLENS_PROC_ROOT", wl_fuzz_scratch_dir("fuzz_cpuinfo"), 1) == 0);
    set = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const size_t buf_size = 1 + (data[0] & 0x7f);
    const bool from_file = (data[0] & 0xc0) == 0xc0;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    char *want = expected_name(text, len);

    char *buf = malloc(buf_size); /* exactly the size: a write past it is caught */
    CHECK(buf);
    memset(buf, 0x5a, buf_size);
    bool found;
    if (from_file) {
        use_scratch_proc_root();
        wl_fuzz_scratch_write("cpuinfo", text, len);
        wl_cli_host_cpu(buf, buf_size);
        found = want != NULL; /* what the buffer holds says it, or "" */
        if (!found)
            CHECK(buf[0] == '\0');
    } else {
        found = wl_cli_cpuinfo_model_name(text, len, buf, buf_size);
        CHECK(found == (want != NULL));
    }
    if (!found) {
        for (size_t i = from_file; i < buf_size; i++)
            CHECK(buf[i] == 0x5a);
        free(buf);
        return 0;
    }
    CHECK(memchr(buf, '\0', buf_size) != NULL);
    char *copy = malloc(buf_size);
    CHECK(copy);
    size_t whole = wl_utf8_copy(copy, buf_size, want);
    CHECK(strcmp(buf, copy) == 0);
    size_t got = strlen(buf);
    CHECK(memcmp(buf, want, got) == 0);
    CHECK(whole < buf_size ? got == whole : got + 4 > buf_size - 1);
    if (wl_utf8_valid(want, whole))
        CHECK(wl_utf8_valid(buf, got));
    free(copy);
    free(want);
    free(buf);
    return 0;
}
