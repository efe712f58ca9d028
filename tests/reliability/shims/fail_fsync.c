/* LD_PRELOAD shim: make fsync/fdatasync/sync_file_range fail with EIO on demand.
 *
 * Environment (read once, when the library loads):
 *   LUMA_SHIM_FAIL_AFTER=N   the first N counted calls succeed, the ones after fail (default: never)
 *   LUMA_SHIM_FAIL_COUNT=K   only K calls fail, later ones succeed again (default 0 = all fail)
 *   LUMA_SHIM_SUFFIX=.log    count only calls on files whose path ends with this suffix
 *   LUMA_SHIM_LOG=/path      append one line per call seen after arming (ok, fail or skip)
 *   LUMA_SHIM_ARMED=1        start counting at load; otherwise the process calls luma_shim_arm()
 *
 * A log line reads: "<seq> <ok|EIO|skip> <function> tid=<tid> fd=<fd> path=<path>".
 * <seq> is a process-wide counter of every sync call seen after arming (counted or not); the
 * process under test reads it with luma_shim_seq() to place its own events between sync calls.
 * The log is written with write(2), which this shim does not interpose.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long fail_after = -1;
static long fail_count;
static const char *suffix;
static int log_fd = -1;
static atomic_int armed;
static atomic_long seq;
static atomic_long counted;
static atomic_long failed;

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sfr)(int, off_t, off_t, unsigned int);

__attribute__((constructor)) static void shim_init(void) {
    const char *v;
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    real_sfr = (int (*)(int, off_t, off_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
    if ((v = getenv("LUMA_SHIM_FAIL_AFTER")) && *v) fail_after = atol(v);
    if ((v = getenv("LUMA_SHIM_FAIL_COUNT")) && *v) fail_count = atol(v);
    if ((v = getenv("LUMA_SHIM_SUFFIX")) && *v) suffix = v;
    if ((v = getenv("LUMA_SHIM_LOG")) && *v)
        log_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if ((v = getenv("LUMA_SHIM_ARMED")) && strcmp(v, "1") == 0) atomic_store(&armed, 1);
}

void luma_shim_arm(void) { atomic_store(&armed, 1); }
long luma_shim_seq(void) { return atomic_load(&seq); }
long luma_shim_failed(void) { return atomic_load(&failed); }

static int ends_with(const char *s, const char *end) {
    size_t ls = strlen(s), le = strlen(end);
    return ls >= le && strcmp(s + ls - le, end) == 0;
}

/* 1 if this call must fail with EIO. */
static int decide(int fd, const char *fn) {
    char link[64], path[512], line[700];
    ssize_t n;
    long number, k;
    int counts, fail = 0;
    const char *verdict;
    if (!atomic_load(&armed)) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    number = atomic_fetch_add(&seq, 1) + 1;
    counts = suffix == NULL || ends_with(path, suffix);
    if (counts) {
        k = atomic_fetch_add(&counted, 1) + 1;
        fail = fail_after >= 0 && k > fail_after && (fail_count == 0 || k <= fail_after + fail_count);
    }
    if (fail) atomic_fetch_add(&failed, 1);
    verdict = fail ? "EIO" : (counts ? "ok" : "skip");
    if (log_fd >= 0) {
        int len = snprintf(line, sizeof line, "%ld %s %s tid=%ld fd=%d path=%s\n", number, verdict,
                           fn, (long)syscall(SYS_gettid), fd, path);
        if (len > 0) (void)!write(log_fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
    }
    return fail;
}

int fsync(int fd) {
    if (decide(fd, "fsync")) { errno = EIO; return -1; }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    if (decide(fd, "fdatasync")) { errno = EIO; return -1; }
    return real_fdatasync(fd);
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags) {
    if (decide(fd, "sync_file_range")) { errno = EIO; return -1; }
    return real_sfr(fd, offset, nbytes, flags);
}
