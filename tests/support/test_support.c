/* Test helpers; see test_support.h. */
#include "test_support.h"

#include "engine/gguf.h"
#include "engine/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *wl_test_data_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", WL_TESTDATA_DIR, rel);
    return buf;
}

int wl_test_have_data(void)
{
    struct stat st;
    if (stat(WL_TESTDATA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    const char *req = getenv("WL_REQUIRE_TESTDATA");
    if (req && *req) { /* CI: missing data is a broken set-up, not a skip */
        fprintf(stderr, "shared test data not found at %s (WL_REQUIRE_TESTDATA is set)\n",
                WL_TESTDATA_DIR);
        exit(1);
    }
    fprintf(stderr, "skipping: shared test data not found at %s\n", WL_TESTDATA_DIR);
    return 0;
}

void wl__test_skip_other_user(const char *file, int line, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *req = getenv("WL_REQUIRE_OTHER_USER");
    if (req && *req) {
        fprintf(stderr, "FAIL: %s (WL_REQUIRE_OTHER_USER is set)\n", why);
        _fail(file, line);
    }
    fprintf(stderr, "skipped: %s\n", why);
    wl__test_skip_inconclusive(file, line);
}

unsigned long wl__test_n_inconclusive;

void wl__test_skip_inconclusive(const char *file, int line)
{
    wl__test_n_inconclusive++;
    _skip(file, line);
}

static int capture_saved = -1;  /* the real stderr while capturing */
static char capture_path[4096]; /* the file it goes to */

void wl_test_capture_stderr_begin(void)
{
    assert_true(capture_saved < 0);
    const char *base = getenv("TMPDIR");
    snprintf(capture_path, sizeof capture_path, "%s/wattlens-stderr-XXXXXX",
             base && *base ? base : "/tmp");
    int fd = mkstemp(capture_path);
    assert_true(fd >= 0);
    fflush(stderr);
    capture_saved = dup(STDERR_FILENO);
    assert_true(capture_saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

char *wl_test_capture_stderr_end(void)
{
    assert_true(capture_saved >= 0);
    fflush(stderr);
    dup2(capture_saved, STDERR_FILENO);
    close(capture_saved);
    capture_saved = -1;
    char *text = wl_test_read_file(capture_path, NULL);
    unlink(capture_path);
    assert_non_null(text);
    return text;
}

char *wl_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/wattlens-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

char *wl_test_mkdir_multibyte(const char *parent, int pad, int n_parts)
{
    char path[4096];
    size_t n = (size_t)snprintf(path, sizeof path, "%s/", parent);
    for (int i = 0; i < pad && i < 8; i++)
        path[n++] = 'x';
    for (int part = 0; part < n_parts && n + 242 < sizeof path; part++) {
        if (part > 0)
            path[n++] = '/';
        for (int k = 0; k < 120; k++) {
            path[n++] = '\xC3';
            path[n++] = '\xA9';
        }
        path[n] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return NULL;
    }
    return strdup(path);
}

void wl_test_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        int st;
        waitpid(pid, &st, 0);
    }
}

int wl_test_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, size, f);
    int rc = fclose(f);
    return (n == size && rc == 0) ? 0 : -1;
}

char *wl_test_read_file(const char *path, size_t *size_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    if (size_out)
        *size_out = len;
    return buf;
}

int wl_test_run_cli(const char *args, char **out, char **err)
{
    char *dir = wl_test_tmpdir();
    if (!dir)
        return -1;
    char outp[4200], errp[4200], sys[4200], dev[4200], cmd[32768];
    snprintf(outp, sizeof outp, "%s/stdout", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    snprintf(sys, sizeof sys, "%s/sys", dir);
    snprintf(dev, sizeof dev, "%s/dev", dir);
    if (mkdir(sys, 0755) != 0 || mkdir(dev, 0755) != 0) {
        wl_test_rmtree(dir);
        free(dir);
        return -1;
    }
    /* the sensors of nothing, as tests/integration/common.sh gives the
     * scripts, unless the test set its own: the host's RAPL, hwmon or NVIDIA
     * GPU must not change what a run prints (empty is unset, for the CLI and
     * for ${:-}) */
    snprintf(cmd, sizeof cmd,
             "WATTLENS_SYSFS_ROOT=\"${WATTLENS_SYSFS_ROOT:-%s}\" "
             "WATTLENS_DEV_ROOT=\"${WATTLENS_DEV_ROOT:-%s}\" "
             "WATTLENS_NVML_LIB=\"${WATTLENS_NVML_LIB:-%s/no-libnvidia-ml.so.1}\" "
             "WATTLENS_POWERMETRICS=\"${WATTLENS_POWERMETRICS:-%s/no-powermetrics}\" "
             "'%s' %s >'%s' 2>'%s' </dev/null",
             sys, dev, dir, dir, WL_CLI_PATH, args, outp, errp);
    int st = system(cmd);
    if (out)
        *out = wl_test_read_file(outp, NULL);
    if (err)
        *err = wl_test_read_file(errp, NULL);
    wl_test_rmtree(dir);
    free(dir);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int wl_test_model_from_memory(const void *buf, size_t size, struct wl_model **m,
                              struct wl_errmsg *err)
{
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open_memory(buf, size, &g, err), 0);
    int rc = wl_model_load_gguf(g, m, err);
    if (rc != 0)
        wl_gguf_close(g);
    return rc;
}

uint64_t wl_test_vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}
