/* Helpers shared by the benchmarks; see bench_support.h. */
#include "bench_support.h"

#include "engine/kernels/corelat.h"
#include "engine/model.h"
#include "util/errmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv (argv[0] a path, or a name without '/' looked up on PATH; no
 * shell, so no argument is split or interpreted) and waits; returns its
 * exit status, -1 when it did not run or did not exit. */
static int run_argv(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

const char *wl_bench_cli_path(void)
{
    const char *cli = getenv("WL_BENCH_CLI");
    return cli && *cli ? cli : WL_CLI_PATH;
}

/* Runs argv as run_argv does and keeps the first line of its stdout in
 * line (size bytes; "" when it printed none). Returns its exit status, -1
 * when it did not run or did not exit. */
static int run_argv_line(char *const argv[], char *line, size_t size)
{
    int p[2];
    line[0] = '\0';
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        if (p[1] != STDOUT_FILENO) {
            dup2(p[1], STDOUT_FILENO);
            close(p[1]);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    char buf[256];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof buf)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (ssize_t i = 0; i < r && n + 1 < size; i++)
            line[n++] = buf[i];
    }
    close(p[0]);
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* mkdir -p: dir and its missing parents (0755). 0, or -1 with errno. */
static int mkdir_p(const char *dir)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *c = buf + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        const char keep = *c;
        *c = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *c = keep;
        if (!keep)
            break;
    }
    struct stat st;
    if (stat(buf, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* The stamp's first line, and its version: a new version (a changed
 * format, or a generator change the arguments do not show) makes every
 * cached model stale. */
#define STAMP_HEAD "wattlens bench model stamp 1\n"

/* Reads at most size - 1 bytes of path into buf (NUL-terminated); 0 or -1. */
static int read_small(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

/* Writes text to a new file next to path and renames it over path (a
 * reader sees the old stamp or the new one, never half of one). 0 or -1. */
static int write_replace(const char *path, const char *text)
{
    char tmp[1300];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    fputs(text, f);
    if (fclose(f) != 0 || chmod(tmp, 0644) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Empty when the model at path loads (header, metadata, every tensor
 * inside the file: what a truncated or foreign file fails), else why not
 * (the loader's message, which names the file) in why (size bytes). */
static void check_loads(const char *path, char *why, size_t size)
{
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    why[0] = '\0';
    if (wl_model_load(path, &m, &err) != 0)
        snprintf(why, size, "%s", err.text[0] ? err.text : "it does not load");
    wl_model_free(m);
}

int wl_bench_synth_1b(const char *who, const char *type, char *path, size_t size)
{
    char dir[1024], stamp_path[1300], tmp[1300];
    const char *cache = getenv("WL_BENCH_MODEL_CACHE");
    if (cache && *cache)
        snprintf(dir, sizeof dir, "%s", cache);
    else
        snprintf(dir, sizeof dir, "%s/model-cache", WL_BINARY_DIR);
    int n = snprintf(path, size, "%s/llama-1.1b-shape-%s.gguf", dir, type);
    if (n < 0 || (size_t)n >= size ||
        snprintf(stamp_path, sizeof stamp_path, "%s.stamp", path) >= (int)sizeof stamp_path ||
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        fprintf(stderr, "%s: the model cache path is too long: %s\n", who, dir);
        return -1;
    }
    if (mkdir_p(dir) != 0) {
        fprintf(stderr, "%s: cannot create the model cache directory %s: %s\n", who, dir,
                strerror(errno));
        return -1;
    }
    struct stat st;
    const char *vocab = WL_TESTDATA_DIR "/vocab/ggml-vocab-llama-spm.gguf";
    const bool have_vocab = stat(vocab, &st) == 0;
    const long long vocab_size = have_vocab ? (long long)st.st_size : 0;
    char *argv[] = {(char *)wl_bench_cli_path(),
                    "model",
                    "synth",
                    "--arch",
                    "llama",
                    "--layers",
                    "22",
                    "--dim",
                    "2048",
                    "--ffn",
                    "5632",
                    "--heads",
                    "32",
                    "--kv-heads",
                    "4",
                    have_vocab ? "--vocab-from" : "--vocab",
                    have_vocab ? (char *)vocab : "32000",
                    "--type",
                    (char *)type,
                    "--seed",
                    "1",
                    "-o",
                    tmp,
                    NULL};
    const size_t n_synth = sizeof argv / sizeof argv[0] - 3; /* without -o TMP and NULL */

    /* What the model is made from, as its stamp (PATH.stamp) says it: the
     * synth arguments, the vocabulary file's size, the CLI's version; then
     * the file's size. A cached model is used when its stamp says the same
     * and it loads; otherwise it is made again. */
    char version[128];
    char *const version_argv[] = {argv[0], "--version", NULL};
    const bool have_cli = run_argv_line(version_argv, version, sizeof version) == 0 && version[0];
    char want[2048]; /* the stamp up to its "cli:" line */
    size_t w = (size_t)snprintf(want, sizeof want, STAMP_HEAD "synth:");
    for (size_t i = 1; i < n_synth && w < sizeof want; i++)
        w += (size_t)snprintf(want + w, sizeof want - w, " %s", argv[i]);
    if (w < sizeof want)
        w += (size_t)snprintf(want + w, sizeof want - w, "\nvocabulary file: %lld bytes\n",
                              vocab_size);
    char cli_line[160];
    snprintf(cli_line, sizeof cli_line, "cli: %s\n", have_cli ? version : "?");
    if (w >= sizeof want) {
        fprintf(stderr, "%s: the bench model's stamp is too long\n", who);
        return -1;
    }

    char why[2600] = "";
    if (stat(path, &st) != 0) {
        why[0] = '\0'; /* not made yet */
    } else {
        char have[2200];
        char size_line[64];
        snprintf(size_line, sizeof size_line, "file: %lld bytes\n", (long long)st.st_size);
        /* without a CLI to ask, its version is not compared: the model
         * may still be good, and there is nothing to make a new one with */
        const char *rest = have + w;
        if (read_small(stamp_path, have, sizeof have) != 0)
            snprintf(why, sizeof why, "it has no stamp %s (made by an older bench?)", stamp_path);
        else if (strncmp(have, want, w) != 0 || strncmp(rest, "cli: ", 5) != 0 ||
                 (have_cli && strncmp(rest, cli_line, strlen(cli_line)) != 0))
            snprintf(why, sizeof why,
                     "its stamp %s says other synth arguments, vocabulary or CLI version",
                     stamp_path);
        else if (strcmp(rest + strcspn(rest, "\n") + 1, size_line) != 0)
            snprintf(why, sizeof why, "its size is not the one its stamp %s says", stamp_path);
        else
            check_loads(path, why, sizeof why);
        if (!why[0])
            return 0;
        fprintf(stderr, "%s: the cached bench model %s is stale or damaged: %s; making it again\n",
                who, path, why);
    }

    if (!have_cli) {
        fprintf(stderr,
                "%s: cannot make %s: `%s --version` failed. Build the wattlens CLI (or point "
                "WL_BENCH_CLI at one) and run again\n",
                who, path, argv[0]);
        return -1;
    }
    /* a temporary name of this process's own (two builds sharing the cache
     * may make it at once: each renames a whole file of the same content) */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr,
                "%s: cannot create a file in the model cache %s: %s (WL_BENCH_MODEL_CACHE "
                "names another)\n",
                who, dir, strerror(errno));
        return -1;
    }
    close(fd);
    fprintf(stderr, "%s: generating %s (once; cached)\n", who, path);
    int rc = run_argv(argv);
    char bad[2600] = "";
    if (rc == 0) {
        if (stat(tmp, &st) != 0 || st.st_size == 0)
            snprintf(bad, sizeof bad, "`%s model synth` wrote no file", argv[0]);
        else
            check_loads(tmp, bad, sizeof bad);
    } else {
        snprintf(bad, sizeof bad, "`%s model synth` %s (exit %d)", argv[0],
                 rc < 0 ? "was killed" : "failed", rc);
    }
    const char *advice = "is WL_BENCH_CLI a wattlens CLI of this version?";
    char stamp[2200];
    if (!bad[0])
        snprintf(stamp, sizeof stamp, "%s%sfile: %lld bytes\n", want, cli_line,
                 (long long)st.st_size);
    /* the stamp first, then the model: a reader that finds the new model
     * finds its stamp */
    if (!bad[0] && (chmod(tmp, 0644) != 0 || write_replace(stamp_path, stamp) != 0 ||
                    rename(tmp, path) != 0)) {
        snprintf(bad, sizeof bad, "cannot write into the model cache %s: %s", dir, strerror(errno));
        advice = "WL_BENCH_MODEL_CACHE names another directory";
    }
    if (!bad[0])
        return 0;
    unlink(tmp);
    fprintf(stderr, "%s: could not generate %s: %s (%s)\n", who, path, bad, advice);
    return -1;
}

void wl_bench_rmtree(const char *who, const char *dir)
{
    char *argv[] = {"rm", "-rf", "--", (char *)dir, NULL};
    if (run_argv(argv) != 0)
        fprintf(stderr, "%s: could not remove %s\n", who, dir);
}

uint64_t wl_bench_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

float wl_bench_frand(uint64_t *state)
{
    return (float)((wl_bench_xorshift64(state) >> 40) & 0xffff) / 32768.0f - 1.0f;
}

double wl_bench_core_roundtrip_ns(void)
{
    struct wl_corelat_result c;
    if (wl_corelat_measure(20000, 50, &c) != 0 || c.cpu_a < 0 || c.cpu_a == c.cpu_b)
        return -1.0;
    return c.roundtrip_ns;
}

const char *wl_bench_core_probe_text(char *buf, size_t size)
{
    int a, b, n;
    if (wl_corelat_cpus(&a, &b, &n) != 0)
        snprintf(buf, size, "core probe: CPU affinity cannot be read here: no core distance");
    else if (a == b)
        snprintf(buf, size, "core probe: one CPU allowed (CPU %d): no core distance", a);
    else if (n <= 2)
        snprintf(buf, size, "core probe: CPUs %d and %d, the two this process may run on", a, b);
    else
        snprintf(buf, size,
                 "core probe: CPUs %d and %d of %d allowed; the pools are not pinned, so near / "
                 "far is where CPUs %d and %d sat, not necessarily the pools' cores",
                 a, b, n, a, b);
    return buf;
}

const char *wl_bench_share_text(char *buf, size_t size, double fraction)
{
    if (fraction < 0)
        snprintf(buf, size, "unknown");
    else
        snprintf(buf, size, "%.0f %%", 100.0 * fraction);
    return buf;
}

int wl_bench_core_distance(double rt_before_ns, double rt_after_ns)
{
    const double a = rt_before_ns, b = rt_after_ns;
    if (a >= WL_BENCH_FAR_RT_NS && b >= WL_BENCH_FAR_RT_NS)
        return 1;
    if (a >= 0 && b >= 0 && a < WL_BENCH_FAR_RT_NS && b < WL_BENCH_FAR_RT_NS)
        return 0;
    return -1;
}

bool wl_bench_arg_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int wl_bench_usage_error(const char *who, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%.*s\n(%s --help says more)\n", (int)strcspn(usage, "\n"), usage, who);
    return 2;
}

int wl_bench_args_none(int argc, char **argv, const char *who, const char *usage)
{
    if (argc < 2)
        return -1;
    if (argc == 2 && wl_bench_arg_is_help(argv[1])) {
        fputs(usage, stdout);
        return 0;
    }
    return wl_bench_usage_error(who, usage, "unexpected argument '%s' (it takes none but --help)",
                                wl_bench_arg_is_help(argv[1]) ? argv[2] : argv[1]);
}
