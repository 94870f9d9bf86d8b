/* sim_disk: in-memory store_disk with strict crash semantics and countdown fault injection. */
#include "sim_disk.h"

#include <stdlib.h>
#include <sys/types.h>

/* Returns the sim_disk behind a store_disk. */
static sim_disk *sd(store_disk *d) {
    PK_ASSERT(d != NULL && d->ctx != NULL);
    return d->ctx;
}

/* Counts a mutating op; returns the armed error when this op is the one that fails, else PK_OK. */
static int sd_fault(sim_disk *d) {
    d->ops++;
    if (d->fail_countdown <= 0) return PK_OK;
    if (--d->fail_countdown > 0) return PK_OK;
    d->faults++;
    PK_ASSERT(d->fail_err < 0);
    return d->fail_err;
}

/* Finds a name in a namespace table; returns its index or -1. */
static ssize_t sd_find(const sim_name *t, size_t n, const char *path) {
    PK_ASSERT(n <= SIM_DISK_MAX_NAMES);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].path, path) == 0) return (ssize_t)i;
    return -1;
}

/* Allocates a fresh inode; returns its index. */
static uint32_t sd_inode_new(sim_disk *d) {
    for (uint32_t i = 0; i < SIM_DISK_MAX_FILES; i++) {
        if (!d->inodes[i].used) {
            sim_inode *n = &d->inodes[i];
            memset(n, 0, sizeof *n);
            n->used = true;
            return i;
        }
    }
    PK_PANIC("sim_disk: out of inodes");
}

/* Returns the inode behind an open fd. */
static sim_inode *sd_fd(sim_disk *d, int fd) {
    PK_ASSERT(fd >= 0 && fd < SIM_DISK_MAX_FDS);
    PK_ASSERT(d->fds[fd] > 0);
    return &d->inodes[d->fds[fd] - 1];
}

/* Opens (maybe creating / truncating) a file. */
static int sd_open(store_disk *disk, const char *path, int flags, int *fd_out) {
    sim_disk *d = sd(disk);
    ssize_t k = sd_find(d->names, d->name_count, path);
    uint32_t ino;
    if (k < 0) {
        if (!(flags & STORE_OPEN_CREATE)) return PK_ENOENT;
        int rc = sd_fault(d);
        if (rc) return rc;
        PK_ASSERT(d->name_count < SIM_DISK_MAX_NAMES);
        ino = sd_inode_new(d);
        d->names[d->name_count++] = (sim_name){pk_strndup(path, strlen(path)), ino};
    } else {
        ino = d->names[k].inode;
    }
    if (flags & STORE_OPEN_TRUNC) {
        int rc = sd_fault(d);
        if (rc) return rc;
        d->inodes[ino].data.len = 0;
        d->inodes[ino].dirty = true;
        d->inodes[ino].has_last = false;
    }
    for (int fd = 0; fd < SIM_DISK_MAX_FDS; fd++) {
        if (d->fds[fd] == 0) { d->fds[fd] = (int32_t)ino + 1; *fd_out = fd; return PK_OK; }
    }
    PK_PANIC("sim_disk: out of descriptors");
}

/* Closes a descriptor. */
static int sd_close(store_disk *disk, int fd) {
    sim_disk *d = sd(disk);
    (void)sd_fd(d, fd);
    d->fds[fd] = 0;
    return PK_OK;
}

/* Makes the inode's data at least n bytes long (zero filled). */
static void sd_grow(sim_inode *n, uint64_t len) {
    PK_ASSERT(len < (1ull << 31));
    if (n->data.len >= len) return;
    size_t extra = (size_t)len - n->data.len;
    memset(pk_buf_extend(&n->data, extra), 0, extra);
}

/* Writes n bytes at off (volatile until fdatasync). */
static int sd_pwrite(store_disk *disk, int fd, const void *p, size_t n, uint64_t off) {
    sim_disk *d = sd(disk);
    sim_inode *f = sd_fd(d, fd);
    int rc = sd_fault(d);
    if (rc) return rc;
    sd_grow(f, off + n);
    memcpy(f->data.data + off, p, n);
    f->dirty = true;
    f->last_off = off;
    f->last_write.len = 0;
    pk_buf_append(&f->last_write, p, n);
    f->has_last = true;
    return PK_OK;
}

/* Reads up to n bytes at off. */
static int sd_pread(store_disk *disk, int fd, void *p, size_t n, uint64_t off, size_t *got) {
    sim_disk *d = sd(disk);
    sim_inode *f = sd_fd(d, fd);
    *got = 0;
    if (off >= f->data.len) return PK_OK;
    size_t k = PK_MIN(n, f->data.len - (size_t)off);
    memcpy(p, f->data.data + off, k);
    *got = k;
    PK_ASSERT(*got <= n);
    return PK_OK;
}

/* Makes the file's data durable. */
static int sd_fdatasync(store_disk *disk, int fd) {
    sim_disk *d = sd(disk);
    sim_inode *f = sd_fd(d, fd);
    int rc = sd_fault(d);
    if (rc) return rc;
    f->synced.len = 0;
    pk_buf_append(&f->synced, f->data.data, f->data.len);
    f->dirty = false;
    f->has_last = false;
    return PK_OK;
}

/* Returns the file size. */
static int sd_size(store_disk *disk, int fd, uint64_t *size_out) {
    *size_out = sd_fd(sd(disk), fd)->data.len;
    return PK_OK;
}

/* Truncates or extends the file. */
static int sd_truncate(store_disk *disk, int fd, uint64_t size) {
    sim_disk *d = sd(disk);
    sim_inode *f = sd_fd(d, fd);
    int rc = sd_fault(d);
    if (rc) return rc;
    if (size < f->data.len) f->data.len = (size_t)size;
    else sd_grow(f, size);
    f->dirty = true;
    f->has_last = false;
    return PK_OK;
}

/* Removes name index k from the volatile namespace. */
static void sd_name_drop(sim_disk *d, size_t k) {
    PK_ASSERT(k < d->name_count);
    free(d->names[k].path);
    d->names[k] = d->names[--d->name_count];
}

/* Renames from -> to in the volatile namespace (replacing to). */
static int sd_rename(store_disk *disk, const char *from, const char *to) {
    sim_disk *d = sd(disk);
    ssize_t k = sd_find(d->names, d->name_count, from);
    if (k < 0) return PK_ENOENT;
    int rc = sd_fault(d);
    if (rc) return rc;
    uint32_t ino = d->names[k].inode;
    ssize_t t = sd_find(d->names, d->name_count, to);
    if (t >= 0) sd_name_drop(d, (size_t)t);
    k = sd_find(d->names, d->name_count, from);
    PK_ASSERT(k >= 0);
    free(d->names[k].path);
    d->names[k] = (sim_name){pk_strndup(to, strlen(to)), ino};
    return PK_OK;
}

/* Removes a name from the volatile namespace. */
static int sd_unlink(store_disk *disk, const char *path) {
    sim_disk *d = sd(disk);
    ssize_t k = sd_find(d->names, d->name_count, path);
    if (k < 0) return PK_ENOENT;
    int rc = sd_fault(d);
    if (rc) return rc;
    sd_name_drop(d, (size_t)k);
    return PK_OK;
}

/* Creates a directory (durably; ok if it exists). */
static int sd_mkdir(store_disk *disk, const char *path) {
    sim_disk *d = sd(disk);
    for (size_t i = 0; i < d->dir_count; i++)
        if (strcmp(d->dirs[i], path) == 0) return PK_OK;
    PK_ASSERT(d->dir_count < PK_ARRAY_LEN(d->dirs));
    d->dirs[d->dir_count++] = pk_strndup(path, strlen(path));
    return PK_OK;
}

/* True when path is directly inside dir. */
static bool sd_in_dir(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/' && strchr(path + n + 1, '/') == NULL;
}

/* Makes the namespace of dir durable: the durable table's entries for dir become the volatile ones. */
static int sd_fsync_dir(store_disk *disk, const char *dir) {
    sim_disk *d = sd(disk);
    int rc = sd_fault(d);
    if (rc) return rc;
    size_t w = 0;
    for (size_t i = 0; i < d->durable_count; i++) {
        if (sd_in_dir(d->durable[i].path, dir)) free(d->durable[i].path);
        else d->durable[w++] = d->durable[i];
    }
    d->durable_count = w;
    for (size_t i = 0; i < d->name_count; i++) {
        if (!sd_in_dir(d->names[i].path, dir)) continue;
        PK_ASSERT(d->durable_count < SIM_DISK_MAX_NAMES);
        d->durable[d->durable_count++] = (sim_name){pk_strndup(d->names[i].path, strlen(d->names[i].path)),
                                                    d->names[i].inode};
    }
    return PK_OK;
}

/* Lists names in dir. */
static int sd_list(store_disk *disk, const char *dir, char ***names, size_t *count) {
    sim_disk *d = sd(disk);
    bool found = false;
    for (size_t i = 0; i < d->dir_count; i++) found |= strcmp(d->dirs[i], dir) == 0;
    if (!found) return PK_ENOENT;
    char **out = pk_calloc(d->name_count + 1, sizeof *out);
    size_t n = 0, dl = strlen(dir);
    for (size_t i = 0; i < d->name_count; i++) {
        if (!sd_in_dir(d->names[i].path, dir)) continue;
        const char *base = d->names[i].path + dl + 1;
        out[n++] = pk_strndup(base, strlen(base));
    }
    /* sort for determinism (insertion sort; bounded by SIM_DISK_MAX_NAMES) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            char *t = out[j]; out[j] = out[j - 1]; out[j - 1] = t;
        }
    *names = out;
    *count = n;
    return PK_OK;
}

static const store_disk_ops sim_disk_ops = {
    .open = sd_open, .close = sd_close, .pwrite = sd_pwrite, .pread = sd_pread, .fdatasync = sd_fdatasync,
    .size = sd_size, .truncate = sd_truncate, .rename = sd_rename, .unlink = sd_unlink, .mkdir = sd_mkdir,
    .fsync_dir = sd_fsync_dir, .list = sd_list,
};

/* Initializes an empty disk. */
void sim_disk_init(sim_disk *d) {
    PK_ASSERT(d != NULL);
    memset(d, 0, sizeof *d);
    d->disk.ops = &sim_disk_ops;
    d->disk.ctx = d;
    d->inodes = pk_calloc(SIM_DISK_MAX_FILES, sizeof *d->inodes);
}

/* Frees everything. */
void sim_disk_deinit(sim_disk *d) {
    PK_ASSERT(d->inodes != NULL);
    for (size_t i = 0; i < SIM_DISK_MAX_FILES; i++) {
        pk_buf_deinit(&d->inodes[i].data);
        pk_buf_deinit(&d->inodes[i].synced);
        pk_buf_deinit(&d->inodes[i].last_write);
    }
    free(d->inodes);
    for (size_t i = 0; i < d->name_count; i++) free(d->names[i].path);
    for (size_t i = 0; i < d->durable_count; i++) free(d->durable[i].path);
    for (size_t i = 0; i < d->dir_count; i++) free(d->dirs[i]);
    memset(d, 0, sizeof *d);
}

/* Loses unsynced state as a power cut would; tears last writes using prng. Closes every descriptor. */
void sim_disk_crash(sim_disk *d, pk_prng *prng) {
    PK_ASSERT(d->inodes != NULL);
    for (size_t i = 0; i < d->name_count; i++) free(d->names[i].path);
    d->name_count = d->durable_count;
    for (size_t i = 0; i < d->durable_count; i++)
        d->names[i] = (sim_name){pk_strndup(d->durable[i].path, strlen(d->durable[i].path)), d->durable[i].inode};
    bool live[SIM_DISK_MAX_FILES] = {0};
    for (size_t i = 0; i < d->name_count; i++) live[d->names[i].inode] = true;
    for (uint32_t i = 0; i < SIM_DISK_MAX_FILES; i++) {
        sim_inode *f = &d->inodes[i];
        if (!f->used) continue;
        if (!live[i]) {
            pk_buf_deinit(&f->data); pk_buf_deinit(&f->synced); pk_buf_deinit(&f->last_write);
            memset(f, 0, sizeof *f);
            continue;
        }
        bool tear = f->has_last && pk_prng_chance(prng, 1, 2);
        f->data.len = 0;
        pk_buf_append(&f->data, f->synced.data, f->synced.len);
        if (tear) {
            size_t keep = (size_t)pk_prng_below(prng, f->last_write.len + 1);
            sd_grow(f, f->last_off + keep);
            memcpy(f->data.data + f->last_off, f->last_write.data, keep);
            f->synced.len = 0;
            pk_buf_append(&f->synced, f->data.data, f->data.len);
        }
        f->dirty = false;
        f->has_last = false;
    }
    memset(d->fds, 0, sizeof d->fds);
    d->fail_countdown = 0;
}

/* Arms a fault: the n-th next mutating operation (n >= 1) fails with err. */
void sim_disk_fail_after(sim_disk *d, int64_t n, int err) {
    PK_ASSERT(n >= 1);
    PK_ASSERT(err < 0);
    d->fail_countdown = n;
    d->fail_err = err;
}

/* Total bytes held (data), for statistics and bounds. */
size_t sim_disk_bytes(const sim_disk *d) {
    size_t total = 0;
    for (size_t i = 0; i < SIM_DISK_MAX_FILES; i++) total += d->inodes[i].data.len;
    return total;
}
