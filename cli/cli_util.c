/* Helpers shared by the subcommands: error printing, strict number parsing,
 * JSON output, reading an input whole, and the checks every command shares
 * (option errors, quiet, writing stdout, closed standard descriptors).
 * State, process-wide (the CLI is single-threaded): why stdout first failed
 * and whether that was reported; which standard descriptors were closed at
 * start-up. */
#include "cli.h"
#include "cli_text.h"
#include "sensors/sensor.h"
#include "util/log.h"
#include "util/json_text.h"
#include "util/parse_num.h"
#include "util/read_all.h"
#include "util/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The message is escaped (cli_text.h): it can quote a key from a model
 * file, a sysfs path or a stored run's id, and stderr is a terminal too.
 * It starts a line of its own: an open progress line is ended first
 * (util/log.h). The caller holds stderr locked (flockfile) around it. */
static void wl__cli_vmsg(const char *cmd, const char *fmt, va_list ap)
{
    wl_log_progress_end();
    char small[1024], *big = NULL;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (big = malloc((size_t)n + 1)) != NULL)
        vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    fprintf(stderr, "wattlens%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    wl_cli_put_text(stderr, big ? big : small);
    fputc('\n', stderr);
    free(big);
}

int wl_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    wl__cli_vmsg(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'wattlens %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    funlockfile(stderr);
    return WL_EXIT_USAGE;
}

bool wl_cli_model_name_empty(const char *cmd, const char *model)
{
    if (!model || *model)
        return false;
    wl_cli_usage_error(cmd, "-m is empty: give a GGUF file name");
    return true;
}

int wl_cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    wl__cli_vmsg(cmd, fmt, ap);
    funlockfile(stderr);
    va_end(ap);
    return WL_EXIT_FAIL;
}

bool wl_cli_quiet(void)
{
    return wl_log_get_level() <= WL_LOG_ERROR;
}

void wl_cli_note(const char *cmd, const char *fmt, ...)
{
    if (wl_cli_quiet())
        return;
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    wl__cli_vmsg(cmd, fmt, ap);
    funlockfile(stderr);
    va_end(ap);
}

/* The first characters strtol may start at: a digit, or '-' and a digit.
 * strtol itself skips leading blanks and takes a '+', which the option
 * values do not: "5 " is refused as it should be, so " 5" and "+5" are too
 * (as --since, the id lists and wl_parse_decimal refuse them). */
static bool starts_as_integer(const char *s)
{
    const char *p = *s == '-' ? s + 1 : s;
    return isdigit((unsigned char)*p);
}

bool wl_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max,
                       long *out)
{
    char *end = NULL;
    errno = 0;
    long v = starts_as_integer(s) ? strtol(s, &end, 10) : 0;
    if (!end || errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        wl_cli_usage_error(cmd, "invalid value '%s' for %s (expected an integer in %ld..%ld)", s,
                           opt, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool wl_cli_parse_double(const char *cmd, const char *opt, const char *s, double min, double max,
                         double *out)
{
    /* decimal only, as the sensors read watts from the environment
     * (util/parse_num.h): no hex, inf, nan, blanks or '+' */
    double v = 0;
    if (wl_parse_decimal(s, min, max, &v) != 0) {
        wl_cli_usage_error(cmd, "invalid value '%s' for %s (expected a number in %g..%g)", s, opt,
                           min, max);
        return false;
    }
    *out = v;
    return true;
}

/* errno of the first failed flush of stdout (0: none seen). glibc drops the
 * buffer when a flush fails, so a later flush succeeds and only this says
 * why the output was lost. */
static int stdout_errnum;
static bool output_error_reported;

/* Flushes stdout; false (and the reason noted) when the output was lost. */
static bool flush_stdout(void)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return true;
    if (stdout_errnum == 0)
        stdout_errnum = errno;
    return false;
}

int wl_cli_print_json(json_t *j)
{
    if (!j)
        return wl_cli_fail(NULL, "internal error: could not build JSON output");
    int rc = wl_cli_put_json(stdout, j, JSON_INDENT(2) | WL_JSON_REAL_FLAGS); /* escaped on a tty */
    json_decref(j);
    fputc('\n', stdout);
    if (!flush_stdout() || rc != 0)
        return WL_EXIT_FAIL; /* main reports the write error, with the command's name */
    return WL_EXIT_OK;
}

bool wl_cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO) == 1;
}

bool wl_cli_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO) == 1;
}

int wl_cli_output_error(const char *cmd, int errnum)
{
    if (output_error_reported)
        return WL_EXIT_FAIL;
    output_error_reported = true;
    /* EPIPE: the reader stopped reading (`| head`), which it meant to do:
     * no message, as from tools that die of SIGPIPE, but exit status 1 */
    if (errnum == EPIPE)
        return WL_EXIT_FAIL;
    if (errnum != 0)
        return wl_cli_fail(cmd, "writing the output: %s", strerror(errnum));
    return wl_cli_fail(cmd, "writing the output failed");
}

void wl_cli_print_help(void (*print)(FILE *out))
{
    errno = 0;
    print(stdout);
    if (ferror(stdout) && stdout_errnum == 0)
        stdout_errnum = errno;
}

int wl_cli_flush_stdout(const char *cmd)
{
    if (flush_stdout())
        return WL_EXIT_OK;
    return wl_cli_output_error(cmd, stdout_errnum);
}

int wl_cli_close_stdout(const char *cmd, int status)
{
    /* fclose also catches errors that show only at close (e.g. NFS) */
    bool failed = !flush_stdout();
    errno = 0;
    if (fclose(stdout) != 0) {
        failed = true;
        if (stdout_errnum == 0)
            stdout_errnum = errno;
    }
    if (!failed)
        return status;
    wl_cli_output_error(cmd, stdout_errnum);
    return status == WL_EXIT_OK ? WL_EXIT_FAIL : status;
}

/* True when long options a and b do the same (getopt_long takes a prefix
 * of both as either, not as ambiguous). */
static bool same_option(const struct option *a, const struct option *b)
{
    return a->has_arg == b->has_arg && a->flag == b->flag && a->val == b->val;
}

/* When "--NAME" (n bytes of name) is a prefix of options of opts that do
 * different things, and none is exactly NAME, writes them to list
 * ("--since, --search, --sort") and returns true. */
static bool ambiguous_option(const char *name, size_t n, const struct option *opts, char *list,
                             size_t size)
{
    const struct option *first = NULL;
    bool differ = false;
    size_t len = 0;
    list[0] = '\0';
    for (const struct option *o = opts; o && o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        if (o->name[n] == '\0')
            return false; /* an exact match is never ambiguous */
        if (!first)
            first = o;
        else if (!same_option(first, o))
            differ = true;
        if (len < size) {
            int w = snprintf(list + len, size - len, "%s--%s", len ? ", " : "", o->name);
            len = w < 0 ? size : len + (size_t)w;
        }
    }
    return differ;
}

/* wattlens's own options (main.c parses them before the command) */
static const struct {
    char letter;
    const char *name;
} wl__global_options[] = {
    {'h', "--help"},
    {'V', "--version"},
    {'v', "--verbose"},
    {'q', "--quiet"},
};

char wl_cli_global_option_match(const char *a, char *names, size_t cap)
{
    const size_t n_opts = sizeof wl__global_options / sizeof wl__global_options[0];
    const size_t len = strlen(a);
    char found = 0;
    int n_found = 0;
    if (names && cap)
        names[0] = '\0';
    for (size_t i = 0; i < n_opts; i++) {
        const char l = wl__global_options[i].letter;
        const char *name = wl__global_options[i].name;
        if (strcmp(a, name) == 0 || (a[0] == '-' && a[1] == l && a[2] == '\0'))
            return l;
        /* a prefix of the long name: "--" and at least one letter of it */
        if (len > 2 && a[1] == '-' && strncmp(a, name, len) == 0) {
            if (names && cap) {
                const size_t used = strlen(names);
                snprintf(names + used, cap - used, "%s%s", n_found ? ", " : "", name);
            }
            found = l;
            n_found++;
        }
    }
    return n_found > 1 ? '?' : found;
}

char wl_cli_global_option(const char *a)
{
    const char g = wl_cli_global_option_match(a, NULL, 0);
    return g == '?' ? 0 : g;
}

/* options of the commands that a user is likely to put before the command */
static const struct {
    const char *name, *letter, *value; /* letter: "-m" or NULL; value: " FILE" or "" */
} wl__command_options[] = {
    {"--db", NULL, " FILE"},
    {"--json", NULL, ""},
    {"--model", "-m", " MODEL"},
};

/* The command option argv[i] is (an index into wl__command_options), or
 * -1; *attached: its value is in the word (--db=FILE, -mFILE). */
static int command_option(const char *a, bool *attached)
{
    const size_t n = strcspn(a, "="); /* --db=FILE names --db */
    const size_t n_opts = sizeof wl__command_options / sizeof wl__command_options[0];
    for (size_t i = 0; i < n_opts; i++) {
        const char *name = wl__command_options[i].name, *letter = wl__command_options[i].letter;
        const bool is_name = strlen(name) == n && strncmp(a, name, n) == 0;
        /* -m, or -mFILE as getopt takes it */
        const bool is_letter = letter && a[0] == '-' && a[1] == letter[1] && a[1] != '\0';
        if (is_name || is_letter) {
            *attached = is_name ? a[n] == '=' : a[2] != '\0';
            return (int)i;
        }
    }
    return -1;
}

/* The first word from argv[j] on that is no option (the command the user
 * typed after the misplaced options), skipping the value of each command
 * option that takes one as its next word; NULL when there is none. */
static const char *typed_command(int argc, char *const argv[], int j)
{
    while (j < argc) {
        const char *a = argv[j];
        if (strcmp(a, "--") == 0) /* the end of the global options */
            return j + 1 < argc ? argv[j + 1] : NULL;
        if (a[0] != '-' || a[1] == '\0')
            return a;
        bool attached = false;
        const int o = command_option(a, &attached);
        j += o >= 0 && *wl__command_options[o].value && !attached ? 2 : 1;
    }
    return NULL;
}

/* w as one shell word into buf (size bytes, at least 3; a longer word is
 * cut, its quotes still closed): as it is when every byte is plain, else in
 * single quotes (a quote as '"'"': no backslash, which the message's
 * escaping would double), so the hint can be typed back: "a b.db" is
 * 'a b.db'. */
static const char *shell_word(const char *w, char *buf, size_t size)
{
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_-./:=@%+,";
    if (*w && w[strspn(w, plain)] == '\0')
        return w;
    size_t n = 0;
    buf[n++] = '\'';
    for (const char *p = w; *p; p++) {
        const size_t len = *p == '\'' ? 5 : 1;
        if (n + len + 2 > size) /* room for the closing quote and the NUL */
            break;
        memcpy(buf + n, *p == '\'' ? "'\"'\"'" : p, len);
        n += len;
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

bool wl_cli_command_option_hint(int argc, char *const argv[], int i, char *hint, size_t size)
{
    const char *a = argv[i];
    bool attached = false;
    const int o = command_option(a, &attached);
    if (o < 0)
        return false;
    const bool is_name = a[1] == '-';
    const char *shown = is_name ? wl__command_options[o].name : wl__command_options[o].letter;
    /* the option as typed, with its value: the word after it when the value
     * is not in the word; the placeholder (" FILE") when there is none */
    const char *placeholder = wl__command_options[o].value, *value = "";
    int next = i + 1;
    if (*placeholder && !attached && i + 1 < argc) {
        value = argv[i + 1];
        next = i + 2;
    }
    const char *cmd = typed_command(argc, argv, next);
    char cmd_q[256], a_q[1024], value_q[4096];
    snprintf(hint, size, "%s is an option of the command: wattlens %s %s%s%s", shown,
             cmd ? shell_word(cmd, cmd_q, sizeof cmd_q) : "COMMAND", shell_word(a, a_q, sizeof a_q),
             *value ? " " : (attached ? "" : placeholder),
             *value ? shell_word(value, value_q, sizeof value_q) : "");
    return true;
}

int wl_cli_option_error(const char *cmd, int c, char *const argv[], const struct option *opts)
{
    return wl_cli_option_error_typed(cmd, c, argv, opts, NULL);
}

int wl_cli_option_error_typed(const char *cmd, int c, char *const argv[], const struct option *opts,
                              const char *typed)
{
    /* getopt has stepped past a long option and past a lone short option;
     * optopt holds a short option's letter */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char name[64];
    if (strncmp(arg, "--", 2) == 0) {
        size_t n = strcspn(arg, "=");
        /* getopt_long takes a unique prefix (--lim for --limit) and refuses
         * one shared by several options as it refuses an unknown one */
        char list[512];
        if (c == '?' && ambiguous_option(arg + 2, n - 2, opts, list, sizeof list))
            return wl_cli_usage_error(cmd, "ambiguous option '%.*s' (%s)", (int)n, arg, list);
        if (c != ':' && arg[n] == '=')
            return wl_cli_usage_error(cmd, "unknown option, or one that takes no value: '%s'", arg);
        snprintf(name, sizeof name, "%.*s", (int)n, arg);
    } else if (optopt > 0 && optopt < 0x80 && isgraph(optopt)) {
        snprintf(name, sizeof name, "-%c", optopt);
    } else {
        snprintf(name, sizeof name, "%s", arg);
    }
    if (typed)
        snprintf(name, sizeof name, "%s", typed);
    if (c == ':')
        return wl_cli_usage_error(cmd, "option '%s' needs a value", name);
    /* wattlens's own options are taken only before the command: after it
     * they are the command's, and this one has none of that name (help is
     * every command's own) */
    const char g = wl_cli_global_option(name);
    if (g == 'V')
        return wl_cli_usage_error(cmd,
                                  "unknown option '%s' (the version is a global option: "
                                  "'wattlens %s')",
                                  name, name);
    if (g != 0 && g != 'h')
        return wl_cli_usage_error(cmd,
                                  "unknown option '%s' (a global option: put it before the "
                                  "command, 'wattlens %s %s ...')",
                                  name, name, cmd);
    return wl_cli_usage_error(cmd, "unknown option '%s'", name);
}

/* arg names a file that starts with the len (at most 16) bytes of magic */
static bool file_starts_with(const char *arg, const char *magic, size_t len)
{
    char head[16];
    FILE *f = fopen(arg, "rb");
    if (!f)
        return false;
    const bool match =
        len <= sizeof head && fread(head, 1, len, f) == len && memcmp(head, magic, len) == 0;
    fclose(f);
    return match;
}

/* arg, of n bytes, ends in suffix after at least one byte of name */
static bool has_suffix(const char *arg, size_t n, const char *suffix)
{
    const size_t k = strlen(suffix);
    return n > k && strcmp(arg + n - k, suffix) == 0;
}

/* arg is a number as a value is written: 512, 0.5, -1 */
static bool is_number(const char *arg)
{
    char *end;
    if (!*arg || isspace((unsigned char)*arg))
        return false;
    (void)strtod(arg, &end);
    return *end == '\0';
}

/* The hint of a command that takes a model with -m (run, generate,
 * tokenize, bench, detokenize). */
static const char *model_command_hint(const char *arg, size_t n, bool regular,
                                      enum wl_cli_args args)
{
    /* a model given without -m (as `model info FILE` takes it) is the
     * likeliest mistake; anything else is most likely an unquoted prompt
     * or text, or a value apart from its option */
    static const char model[] = "give the model with -m FILE";
    if (has_suffix(arg, n, ".gguf"))
        return model;
    /* tokenize reads text from a file (-f): only a GGUF file is a model */
    if (regular) {
        if (args != WL_CLI_ARGS_TEXT || file_starts_with(arg, "GGUF", 4))
            return model;
        return "read a text file with -f FILE";
    }
    switch (args) {
    case WL_CLI_ARGS_PROMPT:
        return "quote the prompt: -p \"...\"";
    case WL_CLI_ARGS_TEXT:
        return "quote the text: -p \"...\"; -f - reads it from stdin";
    case WL_CLI_ARGS_VALUES:
        return "a value goes right after its option: -p 512, -n 128";
    default:
        return NULL;
    }
}

/* Whether arg (n bytes; regular: a regular file) looks like the store's
 * file: a .db name or SQLite's 16-byte header, which is read for it (only
 * the commands that take --db ask). */
static bool looks_like_database(const char *arg, size_t n, bool regular)
{
    return has_suffix(arg, n, ".db") || (regular && file_starts_with(arg, "SQLite format 3", 16));
}

const char *wl_cli_stray_argument_hint(const char *arg, enum wl_cli_args args)
{
    static const char db[] = "give the run database with --db FILE";
    const size_t n = strlen(arg);
    struct stat st;
    const bool regular = stat(arg, &st) == 0 && S_ISREG(st.st_mode);
    switch (args) {
    case WL_CLI_ARGS_PROMPT:
    case WL_CLI_ARGS_TEXT:
    case WL_CLI_ARGS_VALUES:
    case WL_CLI_ARGS_IDS:
        return model_command_hint(arg, n, regular, args);
    case WL_CLI_ARGS_SHAPE:
        if (has_suffix(arg, n, ".gguf") || regular)
            return "write the model with -o OUT.gguf; copy a tokenizer with --vocab-from FILE";
        if (is_number(arg))
            return "a value goes right after its option: --layers 4, --dim 256";
        return "model synth takes options only: --arch A, --layers N, ..., -o OUT.gguf";
    case WL_CLI_ARGS_LIMITS:
        if (looks_like_database(arg, n, regular))
            return db;
        if (is_number(arg))
            return "a number goes after its option: --keep N keeps the N newest runs, "
                   "--max-age DAYS removes older ones";
        return "gc takes options only: --keep N and/or --max-age DAYS";
    case WL_CLI_ARGS_FILTERS:
        if (looks_like_database(arg, n, regular))
            return db;
        if (has_suffix(arg, n, ".gguf"))
            return "filter by model with --model M";
        if (is_number(arg))
            return "at most N runs with --limit N; one run with 'wattlens show ID'";
        return "a filter goes after its option: --model M, --tag T, --search TEXT, ...; "
               "one run with 'wattlens show ID'";
    case WL_CLI_ARGS_PROBE:
        break;
    }
    return "sensors takes no argument: it tries every backend; --json prints JSON";
}

/* Bit fd set: standard descriptor fd was closed when wattlens started. */
static unsigned closed_std_fds;

/* O_PATH is Linux's; glibc names it only under _GNU_SOURCE, but always
 * defines __O_PATH */
#if defined(__linux__) && !defined(O_PATH) && defined(__O_PATH)
#define O_PATH __O_PATH
#endif

/* stdin's stand-in descriptor. On Linux: an O_PATH descriptor of a socket closed
 * at once. A read or a write fails with EBADF (O_PATH), and no name of it
 * opens (/dev/stdin, /dev/fd/0, /proc/self/fd/0: a socket cannot be opened
 * by name, ENXIO), so that `-o /dev/stdin` and `-f /dev/stdin` fail as the
 * shell's `> /dev/stdin` does when stdin is closed, instead of writing
 * into or reading from /dev/null. Elsewhere (or without /proc): a
 * write-only /dev/null, through which such a name still reaches
 * /dev/null. Returns a descriptor, the lowest free one or another. */
static int stdin_stand_in(void)
{
#ifdef O_PATH
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s >= 0) {
        char name[32];
        snprintf(name, sizeof name, "/proc/self/fd/%d", s);
        int fd = open(name, O_PATH);
        close(s);
        if (fd >= 0)
            return fd;
    }
#endif
    return open("/dev/null", O_WRONLY);
}

/* A standard descriptor that was closed (`wattlens ... >&-`) is taken by a
 * stand-in descriptor on which using it fails as a closed one would: otherwise the
 * next file opened (a model, the run database) would get the number and
 * stdout would write into it. stdin gets stdin_stand_in (a read fails
 * with EBADF, its names do not open); stdout and stderr each get the read
 * end of a pipe of their own whose write end is closed (a write fails with
 * EBADF, a read gives EOF). No other name reaches that pipe, so a name of
 * the descriptor (-o /dev/stdout) is told from any file by inode alone
 * (wl_cli_output_std_stream), never from /dev/null. */
void wl_cli_reserve_std_fds(void)
{
    unsigned closed = 0;
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
            closed |= 1u << fd;
    closed_std_fds = closed;
    for (int fd = 0; fd <= 2; fd++) {
        if (!(closed >> fd & 1u))
            continue;
        int p[2] = {-1, -1};
        if (fd == 0)
            p[0] = stdin_stand_in();
        else if (pipe(p) != 0)
            continue;
        /* the lowest free numbers: p[0] is fd itself, or p[1] is (a lower
         * one failed), which dup2 then closes; the stand-in of stdin
         * may be any number (its socket took 0 while it was made) */
        if (p[0] >= 0 && p[0] != fd) {
            dup2(p[0], fd);
            close(p[0]);
        }
        if (p[1] >= 0 && p[1] != fd)
            close(p[1]);
    }
}

bool wl_cli_std_fd_closed(int fd)
{
    return fd >= 0 && fd <= 2 && (closed_std_fds >> fd & 1u);
}

int wl_cli_read_all(const char *path, size_t max, char **data, size_t *n)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return errno;
    /* a directory opens on Linux; reading it is EISDIR, said before trying.
     * A regular file (stdin redirected from one too) says its size: one over
     * max is refused before a byte of it is read. */
    struct stat st;
    const bool known = fstat(fileno(f), &st) == 0;
    int rc = 0;
    if (known && S_ISDIR(st.st_mode)) {
        rc = EISDIR;
    } else if (known && S_ISREG(st.st_mode)) {
        /* what is left from the current offset (stdin may start inside) */
        off_t at = ftello(f);
        uintmax_t left = (uintmax_t)st.st_size - (at > 0 && at <= st.st_size ? (uintmax_t)at : 0);
        if (left > max) {
            *n = left < SIZE_MAX ? (size_t)left : SIZE_MAX;
            rc = EFBIG;
        }
    }
    if (rc == 0) {
        rc = wl_read_stream(f, 65536, max, data, n);
        if (rc == EFBIG) /* a pipe or a device: its size is not known */
            *n = 0;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

bool wl_cli_parse_cache_type(const char *cmd, const char *opt, const char *s, enum wl_ttype *out)
{
    enum wl_ttype t;
    if (wl_ttype_parse(s, &t) == 0 && (t == WL_TTYPE_F16 || t == WL_TTYPE_F32)) {
        *out = t;
        return true;
    }
    wl_cli_usage_error(cmd, "%s must be f16 or f32 (the engine's KV cache types), not '%s'", opt,
                       s);
    return false;
}

const char *wl_cli_phase_text(const char *name, double s, int64_t count, const char *suffix,
                              char *buf, size_t size)
{
    if (count == 0)
        snprintf(buf, size, "%s %.1f ms (n/a: no %s step)", name, s * 1e3, name);
    else if (s > 0)
        snprintf(buf, size, "%s %.1f ms (%.2f tokens/s%s)", name, s * 1e3, (double)count / s,
                 suffix);
    else /* steps ran, faster than the clock could tell */
        snprintf(buf, size, "%s %.1f ms (n/a)", name, s * 1e3);
    return buf;
}

bool wl_cli_cpuinfo_model_name(const char *text, size_t len, char *buf, size_t size)
{
    static const char key[] = "model name";
    const char *p = text, *end = text + len;
    while (p != end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *c = p + sizeof key - 1;
        const char *next = nl ? nl + 1 : end;
        if ((size_t)(le - p) < sizeof key - 1 || memcmp(p, key, sizeof key - 1) != 0) {
            p = next;
            continue;
        }
        while (c != le && (*c == ' ' || *c == '\t'))
            c++;
        if (c == le || *c != ':') {
            p = next;
            continue;
        }
        c++;
        while (c != le && (*c == ' ' || *c == '\t'))
            c++;
        const char *nul = memchr(c, '\0', (size_t)(le - c));
        const size_t n = (size_t)((nul ? nul : le) - c);
        /* wl_utf8_copy's cut over bytes that are not NUL-terminated: whole
         * characters (an invalid byte is one) while they fit */
        size_t keep = 0;
        while (keep < n) {
            size_t cl = wl_utf8_char_len(c + keep, n - keep);
            if (cl == 0)
                cl = 1;
            if (keep + cl > size - 1)
                break;
            keep += cl;
        }
        memcpy(buf, c, keep);
        buf[keep] = '\0';
        return true;
    }
    return false;
}

void wl_cli_host_cpu(char *buf, size_t size)
{
    buf[0] = '\0';
    /* the CPU the sensors read (WATTLENS_PROC_ROOT, WATTLENS_SYSFS_ROOT):
     * a faked sysfs tree is never named after this machine's CPU. Only the
     * roots are set: the defaults' model watts would warn again about a bad
     * WATTLENS_MODEL_*_W */
    const struct wl_sensor_params roots = {0};
    char path[4096];
    if (wl_sensor_cpuinfo_path(&roots, path, sizeof path) != 0)
        return; /* unknown */
    /* non-blocking and a regular file only: a FIFO there must not hang
     * the command (procfs files are regular) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    FILE *f = NULL;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
        if (fd >= 0)
            close(fd);
        return;
    }
    /* line by line, whole lines of any length: the name is in the first
     * processor's block, so the rest of a long file is not read */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (wl_cli_cpuinfo_model_name(line, (size_t)n, buf, size))
            break;
    }
    free(line);
    fclose(f);
}
