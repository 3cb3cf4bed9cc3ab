/* util/outfile: an output named by the user is written where the name
 * points and stays what it was. A regular file is replaced whole (its mode
 * and owner kept, a new one's mode from the umask), a failed or abandoned
 * write leaves the old file and no temporary file; symlinks are followed to
 * their target and kept; FIFOs, devices and names on kernel file systems
 * (/proc) are written in place, never replaced, a regular file on /dev's
 * own file system is not; loops, directories and missing directories fail
 * before anything is written. Special files are made in the test's own
 * directory (mkfifo, mknod), never taken from /dev.
 */
#include "test_support.h"

#include "util/outfile.h"
#include "wattlens/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* dir/name in a static buffer (one of four, so a call may use a few) */
static const char *at(const char *dir, const char *name)
{
    static char buf[4][4096];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* Writes text to path through wl_outfile and commits; returns close's code. */
static int write_through(const char *path, const char *text)
{
    struct wl_outfile o;
    int rc = wl_outfile_open(&o, path, 0);
    if (rc)
        return rc;
    FILE *f = wl_outfile_stream(&o);
    assert_non_null(f);
    fputs(text, f);
    return wl_outfile_close(&o, true);
}

static bool has_text(const char *path, const char *text)
{
    char *s = wl_test_read_file(path, NULL);
    bool same = s && strcmp(s, text) == 0;
    free(s);
    return same;
}

/* No ".tmp." file in dir. */
static bool no_temp_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    bool none = true;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            none = false;
    closedir(d);
    return none;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_a_new_file_gets_0666_less_the_umask(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    mode_t old = umask(027);
    assert_int_equal(write_through(at(dir, "new.txt"), "hello\n"), 0);
    umask(077);
    assert_int_equal(write_through(at(dir, "private.txt"), "p\n"), 0);
    umask(old);
    assert_true(has_text(at(dir, "new.txt"), "hello\n"));
    assert_int_equal(mode_of(at(dir, "new.txt")), 0640);
    assert_int_equal(mode_of(at(dir, "private.txt")), 0600);
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

static void test_an_existing_file_keeps_its_mode_and_is_replaced_whole(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    const char *p = at(dir, "keep.txt");
    assert_int_equal(wl_test_write_file(p, "old\n", 4), 0);
    assert_int_equal(chmod(p, 0604), 0);
    struct stat before, after;
    assert_int_equal(stat(p, &before), 0);
    assert_int_equal(write_through(p, "new\n"), 0);
    assert_int_equal(stat(p, &after), 0);
    assert_true(has_text(p, "new\n"));
    assert_int_equal(mode_of(p), 0604);
    /* replaced by a new file (a rename), not rewritten in place */
    assert_true(after.st_ino != before.st_ino);
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* Abandoned (!commit) or failed writes leave the old file as it was and no
 * temporary file; a stream whose error flag is set is never committed. */
static void test_a_failed_write_leaves_the_old_file(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    const char *p = at(dir, "old.txt");
    assert_int_equal(wl_test_write_file(p, "old\n", 4), 0);

    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, p, 0), 0);
    assert_int_equal(o.kind, WL_OUTFILE_REPLACE);
    assert_true(o.existed);
    assert_true(no_temp_in(dir)); /* the open-time check leaves nothing */
    FILE *f = wl_outfile_stream(&o);
    assert_non_null(f);
    assert_ptr_equal(wl_outfile_stream(&o), f);
    assert_false(no_temp_in(dir));
    fputs("half", f);
    assert_int_equal(wl_outfile_close(&o, false), 0);
    assert_true(has_text(p, "old\n"));
    assert_true(no_temp_in(dir));
    assert_int_equal(o.kind, WL_OUTFILE_NONE);

    assert_int_equal(wl_outfile_open(&o, p, 0), 0);
    f = wl_outfile_stream(&o);
    assert_non_null(f);
    close(fileno(f)); /* every write from now on fails: EBADF */
    fputs("lost", f);
    fflush(f);
    assert_true(ferror(f));
    assert_int_equal(wl_outfile_close(&o, true), WL_EIO);
    assert_int_equal(o.step, WL_OUTFILE_STEP_WRITE);
    assert_true(has_text(p, "old\n"));
    assert_true(no_temp_in(dir));

    /* a never opened or closed one closes quietly */
    struct wl_outfile none = {0};
    assert_int_equal(wl_outfile_close(&none, true), 0);
    assert_int_equal(wl_outfile_close(&o, true), 0);
    wl_test_rmtree(dir);
    free(dir);
}

/* /dev/shm is a tmpfs of ordinary files, not a device directory: a file
 * there is replaced whole, and a failed write keeps the old one (it was
 * written in place, truncated at open, as /dev's devices are). */
static void test_a_file_in_dev_shm_is_replaced_whole(void **state)
{
    (void)state;
    char tmpl[] = "/dev/shm/wattlens-test-outfile-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        fprintf(stderr, "no /dev/shm here (%s): skipped\n", strerror(errno));
        skip();
    }
    const char *p = at(dir, "old.txt");
    assert_int_equal(wl_test_write_file(p, "old\n", 4), 0);
    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, p, 0), 0);
    assert_int_equal(o.kind, WL_OUTFILE_REPLACE);
    FILE *f = wl_outfile_stream(&o);
    assert_non_null(f);
    close(fileno(f)); /* every write from now on fails: EBADF */
    fputs("lost", f);
    fflush(f);
    assert_int_equal(wl_outfile_close(&o, true), WL_EIO);
    assert_true(has_text(p, "old\n"));
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
}

/* A regular file on /dev's own file system (devtmpfs here; hugetlbfs at
 * /dev/hugepages, or any ordinary file system mounted under /dev, is the
 * same case) is replaced whole: only /dev/shm was excepted from "anything
 * in /dev is written in place", so it was truncated at open and a failed
 * write destroyed it. What is written in place is decided by file type and
 * file system now, not by path. Root only (a file made in /dev). */
static void test_a_regular_file_on_a_dev_file_system_is_replaced_whole(void **state)
{
    (void)state;
    char p[] = "/dev/wattlens-test-outfile-XXXXXX";
    int fd = mkstemp(p);
    if (fd < 0) {
        fprintf(stderr, "cannot make a file in /dev (%s): skipped\n", strerror(errno));
        skip();
    }
    assert_int_equal(write(fd, "old\n", 4), 4);
    close(fd);
    /* checked once the file is gone: nothing is left in /dev */
    struct wl_outfile o;
    const int rc_open = wl_outfile_open(&o, p, 0);
    const enum wl_outfile_kind kind = o.kind;
    int rc_close = -1, rc_again = -1;
    if (rc_open == 0) {
        FILE *f = wl_outfile_stream(&o);
        if (f) {
            close(fileno(f)); /* every write from now on fails: EBADF */
            fputs("lost", f);
            fflush(f);
        }
        rc_close = wl_outfile_close(&o, true);
    }
    const bool kept = has_text(p, "old\n");
    if (rc_open == 0)
        rc_again = write_through(p, "new\n");
    const bool replaced = has_text(p, "new\n");
    unlink(p);
    assert_int_equal(rc_open, 0);
    assert_int_equal(kind, WL_OUTFILE_REPLACE);
    assert_int_equal(rc_close, WL_EIO);
    assert_true(kept);
    assert_int_equal(rc_again, 0);
    assert_true(replaced);
}

/* A regular file of procfs (a kernel attribute: /proc/self/comm) is
 * written in place, never renamed over, by its file system: what was the
 * /proc path rule. */
static void test_a_proc_attribute_is_written_in_place(void **state)
{
    (void)state;
    char old[64] = {0};
    FILE *c = fopen("/proc/self/comm", "r");
    if (!c || !fgets(old, sizeof old, c)) {
        if (c)
            fclose(c);
        skip(); /* no /proc */
    }
    fclose(c);
    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, "/proc/self/comm", 0), 0);
    assert_int_equal(o.kind, WL_OUTFILE_DIRECT);
    fputs("wl-outfile", wl_outfile_stream(&o));
    assert_int_equal(wl_outfile_close(&o, true), 0);
    assert_true(has_text("/proc/self/comm", "wl-outfile\n"));
    assert_int_equal(write_through("/proc/self/comm", old), 0);
}

/* Links are followed one at a time (relative to their own directory,
 * dangling ones too) and kept; a loop is ELOOP before anything is written. */
static void test_symlinks_are_followed_and_kept(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    assert_int_equal(mkdir(at(dir, "sub"), 0755), 0);
    assert_int_equal(wl_test_write_file(at(dir, "real.txt"), "old\n", 4), 0);
    assert_int_equal(chmod(at(dir, "real.txt"), 0600), 0);
    /* sub/link -> ../real.txt, and top -> sub/link: a chain with a relative link */
    assert_int_equal(symlink("../real.txt", at(dir, "sub/link")), 0);
    assert_int_equal(symlink("sub/link", at(dir, "top")), 0);
    assert_int_equal(write_through(at(dir, "top"), "via links\n"), 0);
    struct stat st;
    assert_int_equal(lstat(at(dir, "top"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(at(dir, "sub/link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_true(has_text(at(dir, "real.txt"), "via links\n"));
    assert_int_equal(mode_of(at(dir, "real.txt")), 0600);

    /* dangling: the target is created, the link stays */
    assert_int_equal(symlink("sub/made.txt", at(dir, "dangling")), 0);
    assert_int_equal(write_through(at(dir, "dangling"), "made\n"), 0);
    assert_int_equal(lstat(at(dir, "dangling"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_true(has_text(at(dir, "sub/made.txt"), "made\n"));

    /* a loop */
    assert_int_equal(symlink("loop2", at(dir, "loop1")), 0);
    assert_int_equal(symlink("loop1", at(dir, "loop2")), 0);
    struct wl_outfile o;
    assert_int_not_equal(wl_outfile_open(&o, at(dir, "loop1"), 0), 0);
    assert_int_equal(o.step, WL_OUTFILE_STEP_RESOLVE);
    assert_int_equal(o.errnum, ELOOP);
    assert_int_equal(lstat(at(dir, "loop1"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* the same file: through links, and where a file not made yet would be */
    assert_true(wl_outfile_same_file(at(dir, "top"), at(dir, "real.txt")));
    assert_false(wl_outfile_same_file(at(dir, "top"), at(dir, "sub/made.txt")));
    assert_int_equal(symlink("sub/later.txt", at(dir, "later")), 0);
    assert_true(wl_outfile_same_file(at(dir, "later"), at(dir, "sub/../sub/later.txt")));
    assert_false(wl_outfile_same_file(at(dir, "later"), at(dir, "sub/sooner.txt")));
    assert_false(wl_outfile_same_file(at(dir, "loop1"), at(dir, "loop2")));
    assert_true(no_temp_in(dir));
    assert_true(no_temp_in(at(dir, "sub")));
    wl_test_rmtree(dir);
    free(dir);
}

/* Directories, missing directories and an empty name fail at open, naming
 * the step and the errno, and leave nothing behind. */
static void test_bad_names_fail_before_writing(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    struct wl_outfile o;
    assert_int_not_equal(wl_outfile_open(&o, dir, 0), 0);
    assert_int_equal(o.step, WL_OUTFILE_STEP_RESOLVE);
    assert_int_equal(o.errnum, EISDIR);
    assert_int_equal(wl_outfile_open(&o, at(dir, "missing/x.txt"), 0), WL_ENOENT);
    assert_int_equal(o.step, WL_OUTFILE_STEP_TEMP);
    assert_int_equal(o.errnum, ENOENT);
    assert_string_equal(o.hint, "");
    assert_int_equal(wl_outfile_open(&o, "", 0), WL_ENOENT);
    assert_int_equal(wl_outfile_open(&o, NULL, 0), WL_EINVAL);
    assert_int_equal(wl_outfile_close(&o, true), 0);
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* A name as long as a file name may be (NAME_MAX) is written like any
 * other, new or existing: its temporary file is named after a prefix of it,
 * cut between UTF-8 characters; one longer is refused before writing. */
static void test_a_name_of_name_max_bytes_is_written(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char name[NAME_MAX + 2];
    memset(name, 'a', NAME_MAX);
    name[NAME_MAX] = '\0';
    assert_int_equal(write_through(at(dir, name), "new\n"), 0);
    assert_true(has_text(at(dir, name), "new\n"));
    assert_int_equal(write_through(at(dir, name), "again\n"), 0);
    assert_true(has_text(at(dir, name), "again\n"));
    /* two-byte characters (U+00E9) where the prefix is cut: the temporary
     * file's name ends with a whole one before ".tmp." */
    name[0] = 'x';
    for (int i = 1; i + 1 < NAME_MAX; i += 2)
        memcpy(name + i, "\xc3\xa9", 2);
    name[NAME_MAX] = '\0';
    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, at(dir, name), 0), 0);
    FILE *f = wl_outfile_stream(&o);
    assert_non_null(f);
    const char *tmp = strrchr(o.tmp, '/') + 1;
    const char *dot = strstr(tmp, ".tmp.");
    assert_non_null(dot);
    assert_true(strlen(tmp) <= NAME_MAX);
    assert_int_equal((unsigned char)dot[-1], 0xa9);
    assert_memory_equal(tmp, name, (size_t)(dot - tmp));
    fputs("utf8\n", f);
    assert_int_equal(wl_outfile_close(&o, true), 0);
    assert_true(has_text(at(dir, name), "utf8\n"));
    assert_true(no_temp_in(dir));
    memset(name, 'b', NAME_MAX + 1);
    name[NAME_MAX + 1] = '\0';
    assert_int_not_equal(wl_outfile_open(&o, at(dir, name), 0), 0);
    assert_int_equal(o.errnum, ENAMETOOLONG);
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* A stop signal that comes twice (timeout(1) signals its child, then its
 * whole group) still removes the temporary file. The cleanup handler used
 * SA_RESETHAND: from the first signal's delivery to its unlink the action
 * was the default again, and the kernel ends a process at once for a
 * second such signal, before the unlink. The window is microseconds; over
 * 400 children, two SIGTERMs back to back hit it about a dozen times here. */
static void test_a_stop_signal_sent_twice_leaves_no_temporary_file(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    const char *target = at(dir, "out.txt");
    int left = 0, not_signalled = 0;
    for (int i = 0; i < 400; i++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct wl_outfile o;
            if (wl_outfile_open(&o, target, 0) != 0)
                _exit(3);
            FILE *f = wl_outfile_stream(&o);
            if (!f || write(pfd[1], "x", 1) != 1)
                _exit(4);
            for (;;)
                fputs("data\n", f);
        }
        char b;
        close(pfd[1]);
        assert_int_equal(read(pfd[0], &b, 1), 1);
        close(pfd[0]);
        kill(pid, SIGTERM);
        kill(pid, SIGTERM);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM)
            not_signalled++;
        if (!no_temp_in(dir)) {
            left++;
            wl_test_rmtree(dir);
            assert_int_equal(mkdir(dir, 0700), 0);
        }
    }
    assert_int_equal(not_signalled, 0);
    assert_int_equal(left, 0);
    wl_test_rmtree(dir);
    free(dir);
}

/* A FIFO is opened in place (its reader gets the data) and stays a FIFO. */
static void test_a_fifo_is_written_in_place(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    const char *p = at(dir, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    int rd = open(p, O_RDONLY | O_NONBLOCK); /* a reader, so the open does not wait */
    assert_true(rd >= 0);
    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, p, 0), 0);
    assert_int_equal(o.kind, WL_OUTFILE_DIRECT);
    FILE *f = wl_outfile_stream(&o);
    assert_non_null(f);
    fputs("through the fifo", f);
    assert_int_equal(wl_outfile_close(&o, true), 0);
    char buf[64] = {0};
    assert_int_equal(read(rd, buf, sizeof buf - 1), 16);
    assert_string_equal(buf, "through the fifo");
    close(rd);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* A name in /proc (here a pipe's descriptor link) is written in place:
 * never renamed over, whatever it points to. */
static void test_a_proc_name_is_written_in_place(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fds[1]);
    struct stat st;
    if (stat(p, &st) != 0) { /* no /proc */
        close(fds[0]);
        close(fds[1]);
        skip();
    }
    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, p, 0), 0);
    assert_int_equal(o.kind, WL_OUTFILE_DIRECT);
    fputs("piped", wl_outfile_stream(&o));
    assert_int_equal(wl_outfile_close(&o, true), 0);
    close(fds[1]);
    char buf[16] = {0};
    assert_int_equal(read(fds[0], buf, sizeof buf - 1), 5);
    assert_string_equal(buf, "piped");
    close(fds[0]);
}

/* Device nodes of our own (mknod, root only, a file system without nodev):
 * a copy of the null device takes the data and stays a device; a copy of
 * the full device fails the write with ENOSPC. */
static void test_a_device_is_written_in_place(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    const char *null = at(dir, "null"), *full = at(dir, "full");
    int fd = -1;
    if (mknod(null, S_IFCHR | 0666, makedev(1, 3)) != 0 ||
        mknod(full, S_IFCHR | 0666, makedev(1, 7)) != 0 || (fd = open(null, O_WRONLY)) < 0) {
        wl_test_rmtree(dir);
        free(dir);
        skip(); /* not root, or mounted nodev */
    }
    close(fd);
    assert_int_equal(write_through(null, "gone\n"), 0);
    struct stat st;
    assert_int_equal(lstat(null, &st), 0);
    assert_true(S_ISCHR(st.st_mode));

    struct wl_outfile o;
    assert_int_equal(wl_outfile_open(&o, full, 0), 0);
    assert_int_equal(o.kind, WL_OUTFILE_DIRECT);
    fputs("no room", wl_outfile_stream(&o));
    assert_int_equal(wl_outfile_close(&o, true), WL_EIO);
    assert_int_equal(o.step, WL_OUTFILE_STEP_WRITE);
    assert_int_equal(o.errnum, ENOSPC);
    assert_int_equal(lstat(full, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* Whether this root can act as another user here, which the tests below
 * need: give a file in dir to uid and (group, else gid), and become uid,
 * gid and the supplementary group (none when (gid_t)-1) in a child. In a
 * user namespace that maps root alone (a rootless container) chown and
 * setuid fail with EINVAL (an id not mapped) or EPERM: this writes why
 * into why[why_size], and the caller skips with it rather than failing.
 * Any other error fails. */
static bool can_act_as(const char *dir, uid_t uid, gid_t gid, gid_t group, char *why,
                       size_t why_size)
{
    const char *probe = at(dir, "act-as-probe");
    assert_int_equal(wl_test_write_file(probe, "", 0), 0);
    int rc = chown(probe, uid, group == (gid_t)-1 ? gid : group);
    int err = errno;
    assert_int_equal(unlink(probe), 0);
    if (rc != 0) {
        assert_true(err == EPERM || err == EINVAL);
        snprintf(why, why_size, "cannot give a file to uid %d here (%s)", (int)uid, strerror(err));
        return false;
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gid_t groups[1] = {group};
        if (setgroups(group == (gid_t)-1 ? 0 : 1, groups) != 0 || setgid(gid) != 0 ||
            setuid(uid) != 0)
            _exit(errno == EPERM || errno == EINVAL ? 1 : 2);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) <= 1);
    if (WEXITSTATUS(status) == 1) {
        snprintf(why, why_size, "cannot become uid %d here", (int)uid);
        return false;
    }
    return true;
}

/* As root an existing file keeps its owner; a user who cannot keep a
 * file's group drops its group bits instead of giving them to their own
 * group (checked in a child that becomes "nobody"). */
static void test_owner_kept_as_root_and_group_bits_dropped_otherwise(void **state)
{
    (void)state;
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw)
        wl_test_skip_other_user("not root, or no user nobody: cannot write as another user");
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char why[128];
    if (!can_act_as(dir, uid, gid, (gid_t)-1, why, sizeof why)) {
        wl_test_rmtree(dir);
        free(dir);
        wl_test_skip_other_user("%s", why);
    }
    const char *p = at(dir, "theirs.txt");
    assert_int_equal(wl_test_write_file(p, "old\n", 4), 0);
    assert_int_equal(chown(p, uid, gid), 0);
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(write_through(p, "new\n"), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, uid);
    assert_int_equal(st.st_gid, gid);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_true(has_text(p, "new\n"));

    /* root's file, group root, writable by all, in a directory anyone can write */
    const char *q = at(dir, "shared.txt");
    assert_int_equal(wl_test_write_file(q, "old\n", 4), 0);
    assert_int_equal(chown(q, 0, 0), 0);
    assert_int_equal(chmod(q, 0666), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* no supplementary groups: root's would let it keep group root */
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(3);
        _exit(write_through(q, "by nobody\n") == 0 ? 0 : 4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(stat(q, &st), 0);
    assert_int_equal(st.st_uid, uid);
    assert_int_equal(st.st_mode & 07777, 0606);
    assert_true(has_text(q, "by nobody\n"));
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* Runs write_through(path, text) in a child that drops root for uid, gid
 * and the one supplementary group group (none when (gid_t)-1); returns
 * write_through's code, or -1 when the child could not drop privileges or
 * died. Only as root. */
static int write_as(uid_t uid, gid_t gid, gid_t group, const char *path, const char *text)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gid_t groups[1] = {group};
        if (setgroups(group == (gid_t)-1 ? 0 : 1, groups) != 0 || setgid(gid) != 0 ||
            setuid(uid) != 0)
            _exit(100);
        int rc = write_through(path, text);
        _exit(rc < 0 ? 101 : rc > 99 ? 99 : rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) >= 100)
        return -1;
    return WEXITSTATUS(status);
}

/* Another user's file of a group we belong to: fchown of owner and group
 * fails as a whole (EPERM), but the group alone can be kept, and with it
 * the group bits (uid 1001 in group 2000 writes 1000:2000 0664). */
static void test_a_group_member_keeps_the_group(void **state)
{
    (void)state;
    if (geteuid() != 0)
        wl_test_skip_other_user("not root: cannot write as another user");
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char why[128];
    if (!can_act_as(dir, 1000, 1000, 2000, why, sizeof why) ||
        !can_act_as(dir, 1001, 1001, 2000, why, sizeof why)) {
        wl_test_rmtree(dir);
        free(dir);
        wl_test_skip_other_user("%s", why);
    }
    assert_int_equal(chmod(dir, 0777), 0);
    const char *p = at(dir, "group.txt");
    assert_int_equal(wl_test_write_file(p, "old\n", 4), 0);
    assert_int_equal(chown(p, 1000, 2000), 0);
    assert_int_equal(chmod(p, 0664), 0);
    assert_int_equal(write_as(1001, 1001, 2000, p, "by a member\n"), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 1001);
    assert_int_equal(st.st_gid, 2000);
    assert_int_equal(st.st_mode & 07777, 0664);
    assert_true(has_text(p, "by a member\n"));

    /* not a member (the file writable by all): the group bits go */
    assert_int_equal(chown(p, 1000, 2000), 0);
    assert_int_equal(chmod(p, 0666), 0);
    assert_int_equal(write_as(1001, 1001, (gid_t)-1, p, "by another\n"), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 1001);
    assert_int_equal(st.st_gid, 1001);
    assert_int_equal(st.st_mode & 07777, 0606);
    assert_true(has_text(p, "by another\n"));
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

/* In a sticky directory (1777, like /tmp) that is not ours, another user's
 * file writable by all passes access(W_OK) and the probe, but cannot be
 * renamed over (EPERM): it is written in place, as the shell's `>` would
 * (the same inode), and truncated only once the output is written. */
static void test_another_users_file_in_a_sticky_directory_is_written_in_place(void **state)
{
    (void)state;
    if (geteuid() != 0)
        wl_test_skip_other_user("not root: cannot write as another user");
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char why[128];
    if (!can_act_as(dir, 1000, 1000, (gid_t)-1, why, sizeof why) ||
        !can_act_as(dir, 1001, 1001, (gid_t)-1, why, sizeof why)) {
        wl_test_rmtree(dir);
        free(dir);
        wl_test_skip_other_user("%s", why);
    }
    assert_int_equal(chmod(dir, 01777), 0);
    const char *p = at(dir, "theirs.txt");
    assert_int_equal(wl_test_write_file(p, "old and longer\n", 15), 0);
    assert_int_equal(chown(p, 1000, 1000), 0);
    assert_int_equal(chmod(p, 0666), 0);
    struct stat before, after;
    assert_int_equal(stat(p, &before), 0);
    assert_int_equal(write_as(1001, 1001, (gid_t)-1, p, "new\n"), 0);
    assert_int_equal(stat(p, &after), 0);
    assert_true(has_text(p, "new\n"));
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_uid, 1000);
    assert_int_equal(after.st_mode & 07777, 0666);
    assert_true(no_temp_in(dir));

    /* opened, then abandoned: the file is left as it was */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(1001) != 0 || setuid(1001) != 0)
            _exit(100);
        struct wl_outfile o;
        if (wl_outfile_open(&o, p, 0) != 0 || o.kind != WL_OUTFILE_DIRECT)
            _exit(1);
        _exit(wl_outfile_close(&o, false) == 0 ? 0 : 2);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(has_text(p, "new\n"));

    /* our own file there is still replaced (a rename) */
    const char *q = at(dir, "ours.txt");
    assert_int_equal(wl_test_write_file(q, "old\n", 4), 0);
    assert_int_equal(chown(q, 1001, 1001), 0);
    assert_int_equal(stat(q, &before), 0);
    assert_int_equal(write_as(1001, 1001, (gid_t)-1, q, "mine\n"), 0);
    assert_int_equal(stat(q, &after), 0);
    assert_true(has_text(q, "mine\n"));
    assert_true(after.st_ino != before.st_ino);
    assert_true(no_temp_in(dir));
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_new_file_gets_0666_less_the_umask),
        cmocka_unit_test(test_an_existing_file_keeps_its_mode_and_is_replaced_whole),
        cmocka_unit_test(test_a_failed_write_leaves_the_old_file),
        cmocka_unit_test(test_symlinks_are_followed_and_kept),
        cmocka_unit_test(test_bad_names_fail_before_writing),
        cmocka_unit_test(test_a_name_of_name_max_bytes_is_written),
        cmocka_unit_test(test_a_stop_signal_sent_twice_leaves_no_temporary_file),
        cmocka_unit_test(test_a_fifo_is_written_in_place),
        cmocka_unit_test(test_a_proc_name_is_written_in_place),
        cmocka_unit_test(test_a_device_is_written_in_place),
        cmocka_unit_test(test_a_file_in_dev_shm_is_replaced_whole),
        cmocka_unit_test(test_a_regular_file_on_a_dev_file_system_is_replaced_whole),
        cmocka_unit_test(test_a_proc_attribute_is_written_in_place),
        cmocka_unit_test(test_owner_kept_as_root_and_group_bits_dropped_otherwise),
        cmocka_unit_test(test_a_group_member_keeps_the_group),
        cmocka_unit_test(test_another_users_file_in_a_sticky_directory_is_written_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
