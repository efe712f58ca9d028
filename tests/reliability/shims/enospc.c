/* LD_PRELOAD shim: a disk that fills up, for machines where tmpfs cannot be mounted.
 *
 * Writes to files whose path starts with LUMA_SHIM_ENOSPC_DIR draw on a byte budget
 * (LUMA_SHIM_ENOSPC_BUDGET). A write larger than what is left is cut short, as a full disk
 * does; once nothing is left, write/pwrite/writev/pwritev/fallocate/posix_fallocate fail with
 * ENOSPC. luma_shim_free(n) gives n bytes back ("space was freed"); luma_shim_left() reads
 * the budget. Every refusal adds one line to LUMA_SHIM_LOG when it is set.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_IOV 1024

static const char *dir;
static size_t dir_len;
static atomic_long budget = -1;
static int log_fd = -1;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_posix_fallocate)(int, off_t, off_t);

__attribute__((constructor)) static void shim_init(void) {
    const char *v;
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_fallocate = dlsym(RTLD_NEXT, "fallocate");
    real_posix_fallocate = dlsym(RTLD_NEXT, "posix_fallocate");
    if ((v = getenv("LUMA_SHIM_ENOSPC_DIR")) && *v) { dir = v; dir_len = strlen(v); }
    if ((v = getenv("LUMA_SHIM_ENOSPC_BUDGET")) && *v) atomic_store(&budget, atol(v));
    if ((v = getenv("LUMA_SHIM_LOG")) && *v)
        log_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

void luma_shim_free(long n) { atomic_fetch_add(&budget, n); }
long luma_shim_left(void) { return atomic_load(&budget); }

static int watched(int fd) {
    char link[64], path[512];
    ssize_t n;
    if (dir == NULL || atomic_load(&budget) < 0) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return strncmp(path, dir, dir_len) == 0;
}

/* How many of `want` bytes may be written to fd; 0 with errno=ENOSPC when none. */
static size_t grant(int fd, size_t want, int all_or_nothing) {
    long left, give;
    if (want == 0 || !watched(fd)) return want;
    left = atomic_load(&budget);
    do {
        give = (long)want < left ? (long)want : left;
        if (give <= 0 || (all_or_nothing && give < (long)want)) {
            if (log_fd >= 0) {
                char line[128];
                int len = snprintf(line, sizeof line, "ENOSPC fd=%d want=%zu left=%ld\n", fd, want, left);
                if (len > 0) (void)!real_write(log_fd, line, (size_t)len);
            }
            errno = ENOSPC;
            return 0;
        }
    } while (!atomic_compare_exchange_weak(&budget, &left, left - give));
    return (size_t)give;
}

ssize_t write(int fd, const void *buf, size_t n) {
    size_t g = grant(fd, n, 0);
    if (g == 0 && n > 0) return -1;
    return real_write(fd, buf, g);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    size_t g = grant(fd, n, 0);
    if (g == 0 && n > 0) return -1;
    return real_pwrite(fd, buf, g, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    size_t g = grant(fd, n, 0);
    if (g == 0 && n > 0) return -1;
    return real_pwrite64(fd, buf, g, off);
}

/* Copy iov into out, cut to `limit` bytes; returns the new count. */
static int trim(const struct iovec *iov, int cnt, size_t limit, struct iovec *out) {
    int i, k = 0;
    for (i = 0; i < cnt && limit > 0 && k < MAX_IOV; i++, k++) {
        out[k] = iov[i];
        if (out[k].iov_len > limit) out[k].iov_len = limit;
        limit -= out[k].iov_len;
    }
    return k;
}

static size_t total(const struct iovec *iov, int cnt) {
    size_t sum = 0;
    for (int i = 0; i < cnt; i++) sum += iov[i].iov_len;
    return sum;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    struct iovec cut[MAX_IOV];
    size_t want = total(iov, cnt), g = grant(fd, want, cnt > MAX_IOV);
    if (g == 0 && want > 0) return -1;
    if (g == want) return real_writev(fd, iov, cnt);
    return real_writev(fd, cut, trim(iov, cnt, g, cut));
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    struct iovec cut[MAX_IOV];
    size_t want = total(iov, cnt), g = grant(fd, want, cnt > MAX_IOV);
    if (g == 0 && want > 0) return -1;
    if (g == want) return real_pwritev(fd, iov, cnt, off);
    return real_pwritev(fd, cut, trim(iov, cnt, g, cut), off);
}

int fallocate(int fd, int mode, off_t off, off_t len) {
    if (len > 0 && grant(fd, (size_t)len, 1) == 0) return -1;
    return real_fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len) {
    if (len > 0 && grant(fd, (size_t)len, 1) == 0) return ENOSPC;
    return real_posix_fallocate(fd, off, len);
}
