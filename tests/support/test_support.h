/* Helpers shared by the unit tests: paths to shared test data and the CLI,
 * temporary directories, running the CLI and capturing its output.
 * Test-only code; not part of libwattlens.
 */
#ifndef WL_TEST_SUPPORT_H
#define WL_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* WL_TEST_UNDER_SANITIZER: 1 in an ASan, TSan or MSan build, else 0. They
 * reserve terabytes of address space for shadow memory, so a test cannot
 * make an allocation fail with an address-space limit there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WL_TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define WL_TEST_UNDER_SANITIZER 1
#endif
#endif
#ifndef WL_TEST_UNDER_SANITIZER
#define WL_TEST_UNDER_SANITIZER 0
#endif

/* The calling process's address space in bytes (VmSize in
 * /proc/self/status), 0 when unknown (not Linux): the base of an
 * RLIMIT_AS a forked child sets to make a large allocation fail. */
uint64_t wl_test_vm_size_bytes(void);

/* Path of a file under ../shared/testdata (static buffer; valid until the next call). */
const char *wl_test_data_path(const char *rel);

/* True when the shared test data folder exists; otherwise prints why the
 * calling test is skipped. Use: if (!wl_test_have_data()) { skip(); } */
int wl_test_have_data(void);

/* Ends the calling test as inconclusive: a check this machine could not
 * judge now (a timing verdict a stalled thread explains). Unlike a plain
 * skip() (no AVX-512 here, no test data), it makes the test binary's ctest
 * status Skipped, not Passed (tests/support/skip_status.c counts them in
 * wl__test_n_inconclusive). Free what the test holds first: this does not
 * return. */
#define wl_test_skip_inconclusive() wl__test_skip_inconclusive(__FILE__, __LINE__)
void wl__test_skip_inconclusive(const char *file, int line);
extern unsigned long wl__test_n_inconclusive;

/* Ends the calling test, which cannot act as another user here (root
 * cannot become uid 65534 or give it a file, or this is not root): prints
 * why (a printf format) and skips it, or, when WL_REQUIRE_OTHER_USER is set
 * and not empty (.ci/run as root, once it found other users can reach the
 * checkout), fails it, as tests/integration/common.sh's skip_other_user
 * does. Free what the test holds first: this does not return. */
#define wl_test_skip_other_user(...) wl__test_skip_other_user(__FILE__, __LINE__, __VA_ARGS__)
void wl__test_skip_other_user(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Creates a fresh temporary directory (mkdtemp) and returns its path (heap,
 * caller frees with wl_test_rmtree + free). */
char *wl_test_tmpdir(void);

/* Creates (mkdir -p, mode 0755) and returns (heap) a directory under parent
 * with a long multibyte path: parent/ then pad (0..8) 'x' bytes, then
 * n_parts components of 120 x "é" (240 bytes each) joined by '/'. For tests
 * of cuts between characters: a cut at a fixed byte inside the "é"s splits
 * a character for exactly one of pad 0 and pad 1. */
char *wl_test_mkdir_multibyte(const char *parent, int pad, int n_parts);

/* Removes a directory tree (rm -rf). */
void wl_test_rmtree(const char *path);

/* Writes size bytes to path; returns 0 or -1. */
int wl_test_write_file(const char *path, const void *data, size_t size);

/* Reads a whole file into a NUL-terminated heap buffer; returns NULL on error. */
char *wl_test_read_file(const char *path, size_t *size_out);

/* Captures what this process writes to stderr (fd 2, and the stderr
 * stream) between begin and end, in a temporary file: end restores stderr
 * and returns the text (heap, NUL-terminated; caller frees). One capture
 * at a time; failures are cmocka assertions. */
void wl_test_capture_stderr_begin(void);
char *wl_test_capture_stderr_end(void);

/* Runs the wattlens CLI through /bin/sh with the given argument string
 * (shell-quoted by the caller), capturing stdout into *out (heap, NUL-terminated,
 * may be NULL) and returning the exit status (or -1). stderr is captured into
 * *err when err is not NULL. It sees no sensor of the host's: WATTLENS_SYSFS_ROOT
 * and WATTLENS_DEV_ROOT are empty directories, WATTLENS_NVML_LIB and
 * WATTLENS_POWERMETRICS paths that do not exist, as tests/integration/common.sh
 * sets them, unless the test set one (not empty) itself. */
int wl_test_run_cli(const char *args, char **out, char **err);

/* Loads a model from a GGUF image in memory (buf must outlive the model):
 * the model owns the parsed file and frees it. The image must parse (a cmocka
 * assertion); returns wl_model_load_gguf's result, *m NULL on failure. */
struct wl_model;
struct wl_errmsg;
int wl_test_model_from_memory(const void *buf, size_t size, struct wl_model **m,
                              struct wl_errmsg *err);

#endif
