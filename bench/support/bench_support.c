/* Helpers shared by the benchmarks; see bench_support.h. */
#include "bench_support.h"

#include "engine/kernels/corelat.h"

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

int wl_bench_synth_1b(const char *who, const char *type, char *path, size_t size)
{
    char dir[1024], tmp[1200];
    const char *cache = getenv("WL_BENCH_MODEL_CACHE");
    if (cache && *cache)
        snprintf(dir, sizeof dir, "%s", cache);
    else
        snprintf(dir, sizeof dir, "%s/model-cache", WL_BINARY_DIR);
    mkdir(dir, 0755);
    int n = snprintf(path, size, "%s/llama-1.1b-shape-%s.gguf", dir, type);
    if (n < 0 || (size_t)n >= size ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "%s: the model cache path is too long: %s\n", who, dir);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
        return 0;
    const char *vocab = WL_TESTDATA_DIR "/vocab/ggml-vocab-llama-spm.gguf";
    const bool have_vocab = stat(vocab, &st) == 0;
    char *const argv[] = {(char *)wl_bench_cli_path(),
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
    fprintf(stderr, "%s: generating %s (once; cached)\n", who, path);
    int rc = run_argv(argv);
    if (rc == 0 && stat(tmp, &st) == 0 && st.st_size > 0 && rename(tmp, path) == 0)
        return 0;
    if (rc < 0)
        fprintf(stderr, "%s: could not generate %s: `%s model synth` was killed\n", who, path,
                argv[0]);
    else if (rc == 127)
        fprintf(stderr,
                "%s: could not generate %s: `%s` could not be run (exit 127; WL_BENCH_CLI?)\n", who,
                path, argv[0]);
    else
        fprintf(stderr, "%s: could not generate %s: `%s model synth` %s (exit %d)\n", who, path,
                argv[0], rc ? "failed" : "wrote no file", rc);
    unlink(tmp);
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
