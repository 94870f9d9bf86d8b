/* store: the POSIX disk (real files, pwrite/pread, fdatasync, rename, directory fsync).
 * Errors map to PK_ codes: ENOSPC/EDQUOT -> PK_ENOSPC, ENOENT -> PK_ENOENT, anything else -> PK_EIO.
 * EINTR is retried for reads, writes and syncs. Short writes are looped until complete.
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps the current errno to a PK_ error code. */
static int disk_posix_err(void) {
    switch (errno) {
    case ENOSPC:
    case EDQUOT: return PK_ENOSPC;
    case ENOENT: return PK_ENOENT;
    default: return PK_EIO;
    }
}

/* Opens path read-write (optionally creating/truncating it). */
static int disk_posix_open(store_disk *d, const char *path, int flags, int *fd_out) {
    PK_ASSERT(d != NULL && path != NULL);
    PK_ASSERT(fd_out != NULL && (flags & ~(STORE_OPEN_CREATE | STORE_OPEN_TRUNC)) == 0);
    int of = O_RDWR | O_CLOEXEC;
    if (flags & STORE_OPEN_CREATE) of |= O_CREAT;
    if (flags & STORE_OPEN_TRUNC) of |= O_TRUNC;
    int fd;
    do fd = open(path, of, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return disk_posix_err();
    *fd_out = fd;
    return PK_OK;
}

/* Closes fd. */
static int disk_posix_close(store_disk *d, int fd) {
    PK_ASSERT(d != NULL && fd >= 0);
    return close(fd) == 0 ? PK_OK : PK_EIO;
}

/* Writes all n bytes at off, looping over short writes. */
static int disk_posix_pwrite(store_disk *d, int fd, const void *p, size_t n, uint64_t off) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(p != NULL || n == 0);
    size_t done = 0;
    for (size_t iter = 0; done < n; iter++) {
        PK_ASSERT(iter <= n);
        ssize_t w = pwrite(fd, (const uint8_t *)p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return disk_posix_err();
        if (w == 0) return PK_EIO;
        done += (size_t)w;
    }
    return PK_OK;
}

/* Reads up to n bytes at off; *got is what was read (0 at end of file). */
static int disk_posix_pread(store_disk *d, int fd, void *p, size_t n, uint64_t off, size_t *got) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(got != NULL && (p != NULL || n == 0));
    ssize_t r;
    do r = pread(fd, p, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0) return disk_posix_err();
    *got = (size_t)r;
    return PK_OK;
}

/* Flushes fd's data (and the metadata needed to read it) to stable storage. */
static int disk_posix_fdatasync(store_disk *d, int fd) {
    PK_ASSERT(d != NULL && fd >= 0);
    int rc;
    do rc = fdatasync(fd);
    while (rc < 0 && errno == EINTR);
    return rc == 0 ? PK_OK : disk_posix_err();
}

/* Returns the file's size. */
static int disk_posix_size(store_disk *d, int fd, uint64_t *size_out) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(size_out != NULL);
    struct stat st;
    if (fstat(fd, &st) != 0) return disk_posix_err();
    *size_out = (uint64_t)st.st_size;
    return PK_OK;
}

/* Sets the file's size (extending with zeros, sparse). */
static int disk_posix_truncate(store_disk *d, int fd, uint64_t size) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(size <= (uint64_t)INT64_MAX);
    int rc;
    do rc = ftruncate(fd, (off_t)size);
    while (rc < 0 && errno == EINTR);
    return rc == 0 ? PK_OK : disk_posix_err();
}

/* Renames from to to (atomic replace). */
static int disk_posix_rename(store_disk *d, const char *from, const char *to) {
    PK_ASSERT(d != NULL);
    PK_ASSERT(from != NULL && to != NULL);
    return rename(from, to) == 0 ? PK_OK : disk_posix_err();
}

/* Removes path. */
static int disk_posix_unlink(store_disk *d, const char *path) {
    PK_ASSERT(d != NULL);
    PK_ASSERT(path != NULL);
    return unlink(path) == 0 ? PK_OK : disk_posix_err();
}

/* Creates a directory; success if it already exists. */
static int disk_posix_mkdir(store_disk *d, const char *path) {
    PK_ASSERT(d != NULL);
    PK_ASSERT(path != NULL);
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return PK_OK;
    return disk_posix_err();
}

/* Makes the directory's entries (creates, renames, unlinks) durable. */
static int disk_posix_fsync_dir(store_disk *d, const char *dir) {
    PK_ASSERT(d != NULL);
    PK_ASSERT(dir != NULL);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return disk_posix_err();
    int rc;
    do rc = fsync(fd);
    while (rc < 0 && errno == EINTR);
    int err = rc == 0 ? PK_OK : disk_posix_err();
    close(fd);
    return err;
}

/* Lists the names of the regular entries of dir (not "." or ".."). */
static int disk_posix_list(store_disk *d, const char *dir, char ***names, size_t *count) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(names != NULL && count != NULL);
    DIR *dp = opendir(dir);
    if (dp == NULL) return disk_posix_err();
    size_t n = 0, cap = 16;
    char **v = pk_malloc(sizeof(char *) * cap);
    for (size_t iter = 0; iter < 10000000; iter++) {
        errno = 0;
        struct dirent *e = readdir(dp);
        if (e == NULL) break;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n == cap) {
            cap *= 2;
            v = pk_realloc(v, sizeof(char *) * cap);
        }
        v[n++] = pk_strndup(e->d_name, strlen(e->d_name));
    }
    int err = errno != 0 ? disk_posix_err() : PK_OK;
    closedir(dp);
    if (err < 0) {
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return err;
    }
    *names = v;
    *count = n;
    return PK_OK;
}

/* Reserves blocks for [0, size) with posix_fallocate; falls back to ftruncate where unsupported. */
static int disk_posix_preallocate(store_disk *d, int fd, uint64_t size) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(size <= (uint64_t)INT64_MAX);
    int rc = posix_fallocate(fd, 0, (off_t)size);
    if (rc == 0) return PK_OK;
    if (rc == EOPNOTSUPP || rc == EINVAL) return disk_posix_truncate(d, fd, size);
    errno = rc;
    return disk_posix_err();
}

static const store_disk_ops disk_posix_ops = {
    .open = disk_posix_open,
    .close = disk_posix_close,
    .pwrite = disk_posix_pwrite,
    .pread = disk_posix_pread,
    .fdatasync = disk_posix_fdatasync,
    .size = disk_posix_size,
    .truncate = disk_posix_truncate,
    .rename = disk_posix_rename,
    .unlink = disk_posix_unlink,
    .mkdir = disk_posix_mkdir,
    .fsync_dir = disk_posix_fsync_dir,
    .list = disk_posix_list,
    .preallocate = disk_posix_preallocate,
};

static store_disk disk_posix = {.ops = &disk_posix_ops, .ctx = NULL};

/* Returns the process-wide POSIX disk. */
store_disk *store_disk_posix(void) { return &disk_posix; }
