/* store: the in-memory fault-injecting disk (model described in disk_mem.h). */
#include "store/disk_mem.h"

#include <stdlib.h>

enum { MEM_MAX_FILES = 1 << 16, MEM_MAX_FDS = 1 << 16, MEM_MAX_PENDING = 1 << 20 };

typedef enum mem_op_kind { MEM_WRITE = 1, MEM_TRUNCATE = 2 } mem_op_kind;

/* An unsynced change to a file. */
typedef struct mem_op {
    mem_op_kind kind;
    uint64_t off;    /* write offset, or new size for truncate */
    uint8_t *data;   /* write bytes (owned) */
    size_t len;
    uint64_t seq;    /* global write sequence number */
} mem_op;

typedef struct mem_inode {
    pk_buf cur;
    pk_buf dur;
    mem_op *pending;
    size_t npend, cappend;
} mem_inode;

typedef struct mem_entry {
    char *path;
    mem_inode *cur; /* NULL: absent now */
    mem_inode *dur; /* NULL: absent after a crash */
} mem_entry;

typedef struct mem_fd {
    mem_inode *ino;
    bool used;
    bool dead; /* closed by a crash: ops fail, close frees the slot */
} mem_fd;

struct store_disk_mem {
    store_disk disk;
    mem_entry *ents;
    size_t nents, capents;
    char **dirs;
    size_t ndirs, capdirs;
    mem_fd *fds;
    size_t nfds;
    mem_inode **inos;
    size_t ninos, capinos;
    uint64_t write_seq;
    uint64_t counts[STORE_MEM_OP_COUNT];
    uint32_t fail_mask;
    uint64_t fail_countdown;
    int fail_err;
    bool fail_sticky, fail_fired;
    uint64_t capacity;
};

/* ---- helpers ---- */

/* Returns the disk_mem behind a store_disk. */
static store_disk_mem *mem_of(store_disk *d) {
    PK_ASSERT(d != NULL && d->ctx != NULL);
    store_disk_mem *m = d->ctx;
    PK_ASSERT(&m->disk == d);
    return m;
}

/* Counts a call of op and returns the injected error, if the fault fires now. */
static int mem_fault(store_disk_mem *m, uint32_t op) {
    PK_ASSERT(m != NULL && op != 0 && (op & (op - 1)) == 0);
    PK_ASSERT(op <= STORE_MEM_OP_ALL);
    m->counts[__builtin_ctz(op)]++;
    if (!(m->fail_mask & op)) return PK_OK;
    if (m->fail_countdown > 0) {
        m->fail_countdown--;
        return PK_OK;
    }
    m->fail_fired = true;
    int err = m->fail_err;
    if (!m->fail_sticky) m->fail_mask = 0;
    return err;
}

/* Length of the directory part of path (up to its last '/'), or 0 when it has none. */
static size_t mem_dir_len(const char *path) {
    PK_ASSERT(path != NULL);
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) : 0;
}

/* True when path's directory is exactly dir. */
static bool mem_in_dir(const char *path, const char *dir) {
    PK_ASSERT(path != NULL && dir != NULL);
    size_t n = mem_dir_len(path);
    return n == strlen(dir) && memcmp(path, dir, n) == 0 && path[n] == '/';
}

/* True when dir was created with mkdir (or path has no directory part). */
static bool mem_dir_exists(const store_disk_mem *m, const char *path, size_t dlen) {
    PK_ASSERT(m != NULL && path != NULL);
    if (dlen == 0) return true;
    for (size_t i = 0; i < m->ndirs; i++) {
        if (strlen(m->dirs[i]) == dlen && memcmp(m->dirs[i], path, dlen) == 0) return true;
    }
    return false;
}

/* Finds the entry for path (present now or durably), or NULL. */
static mem_entry *mem_entry_find(const store_disk_mem *m, const char *path) {
    PK_ASSERT(m != NULL && path != NULL);
    for (size_t i = 0; i < m->nents; i++) {
        if (strcmp(m->ents[i].path, path) == 0) return &m->ents[i];
    }
    return NULL;
}

/* Finds or adds an entry for path. */
static mem_entry *mem_entry_get(store_disk_mem *m, const char *path) {
    PK_ASSERT(m != NULL && path != NULL);
    mem_entry *e = mem_entry_find(m, path);
    if (e) return e;
    PK_ASSERT(m->nents < MEM_MAX_FILES);
    if (m->nents == m->capents) {
        m->capents = m->capents ? m->capents * 2 : 16;
        m->ents = pk_realloc(m->ents, sizeof(mem_entry) * m->capents);
    }
    e = &m->ents[m->nents++];
    *e = (mem_entry){.path = pk_strndup(path, strlen(path)), .cur = NULL, .dur = NULL};
    return e;
}

/* Allocates a new empty file. */
static mem_inode *mem_inode_new(store_disk_mem *m) {
    PK_ASSERT(m != NULL && m->ninos < MEM_MAX_FILES);
    mem_inode *ino = pk_calloc(1, sizeof(*ino));
    pk_buf_init(&ino->cur);
    pk_buf_init(&ino->dur);
    if (m->ninos == m->capinos) {
        m->capinos = m->capinos ? m->capinos * 2 : 16;
        m->inos = pk_realloc(m->inos, sizeof(mem_inode *) * m->capinos);
    }
    m->inos[m->ninos++] = ino;
    return ino;
}

/* Frees the pending ops of a file. */
static void mem_pending_clear(mem_inode *ino) {
    PK_ASSERT(ino != NULL);
    PK_ASSERT(ino->npend <= ino->cappend);
    for (size_t i = 0; i < ino->npend; i++) free(ino->pending[i].data);
    ino->npend = 0;
}

/* Frees a file. */
static void mem_inode_free(mem_inode *ino) {
    PK_ASSERT(ino != NULL);
    mem_pending_clear(ino);
    free(ino->pending);
    pk_buf_deinit(&ino->cur);
    pk_buf_deinit(&ino->dur);
    free(ino);
}

/* Sets an image's size, zero-filling growth. */
static void mem_image_resize(pk_buf *b, uint64_t size) {
    PK_ASSERT(b != NULL && size <= SIZE_MAX / 2);
    if (size > b->len) {
        size_t grow = (size_t)size - b->len;
        memset(pk_buf_extend(b, grow), 0, grow);
    }
    b->len = (size_t)size;
    PK_ASSERT(b->len == size);
}

/* Writes n bytes at off into an image, zero-filling any gap. */
static void mem_image_write(pk_buf *b, const uint8_t *p, size_t n, uint64_t off) {
    PK_ASSERT(b != NULL && (p != NULL || n == 0));
    PK_ASSERT(off + n >= off);
    if (off + n > b->len) mem_image_resize(b, off + n);
    if (n) memcpy(b->data + off, p, n);
}

/* Applies one op (or its first keep bytes, for a torn write) to an image. */
static void mem_op_apply(pk_buf *b, const mem_op *op, size_t keep) {
    PK_ASSERT(b != NULL && op != NULL);
    PK_ASSERT(keep <= op->len || op->kind == MEM_TRUNCATE);
    if (op->kind == MEM_WRITE) mem_image_write(b, op->data, keep, op->off);
    else mem_image_resize(b, op->off);
}

/* Queues an unsynced op on a file. */
static void mem_pending_push(store_disk_mem *m, mem_inode *ino, mem_op op) {
    PK_ASSERT(m != NULL && ino != NULL);
    PK_ASSERT(ino->npend < MEM_MAX_PENDING);
    if (ino->npend == ino->cappend) {
        ino->cappend = ino->cappend ? ino->cappend * 2 : 8;
        ino->pending = pk_realloc(ino->pending, sizeof(mem_op) * ino->cappend);
    }
    ino->pending[ino->npend++] = op;
}

/* True when ino is named by an entry or held by an open fd. */
static bool mem_inode_referenced(const store_disk_mem *m, const mem_inode *ino) {
    PK_ASSERT(m != NULL && ino != NULL);
    for (size_t i = 0; i < m->nents; i++) {
        if (m->ents[i].cur == ino || m->ents[i].dur == ino) return true;
    }
    for (size_t i = 0; i < m->nfds; i++) {
        if (m->fds[i].used && m->fds[i].ino == ino) return true;
    }
    return false;
}

/* Frees files nothing refers to and entries absent both now and durably. */
static void mem_gc(store_disk_mem *m) {
    PK_ASSERT(m != NULL);
    size_t k = 0;
    for (size_t i = 0; i < m->nents; i++) {
        if (m->ents[i].cur == NULL && m->ents[i].dur == NULL) free(m->ents[i].path);
        else m->ents[k++] = m->ents[i];
    }
    m->nents = k;
    k = 0;
    for (size_t i = 0; i < m->ninos; i++) {
        if (mem_inode_referenced(m, m->inos[i])) m->inos[k++] = m->inos[i];
        else mem_inode_free(m->inos[i]);
    }
    m->ninos = k;
    PK_ASSERT(m->ninos <= m->capinos);
}

/* Returns the file of a live fd, or NULL. */
static mem_inode *mem_fd_get(store_disk_mem *m, int fd) {
    PK_ASSERT(m != NULL);
    if (fd < 0 || (size_t)fd >= m->nfds || !m->fds[fd].used || m->fds[fd].dead) return NULL;
    PK_ASSERT(m->fds[fd].ino != NULL);
    return m->fds[fd].ino;
}

/* Checks that growing by `grow` bytes stays within capacity. */
static int mem_space(const store_disk_mem *m, uint64_t grow) {
    PK_ASSERT(m != NULL);
    if (m->capacity == 0 || grow == 0) return PK_OK;
    return store_disk_mem_used_bytes(m) + grow > m->capacity ? PK_ENOSPC : PK_OK;
}

/* ---- store_disk_ops ---- */

/* Opens (optionally creating/truncating) the file at path. */
static int mem_open(store_disk *d, const char *path, int flags, int *fd_out) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(path != NULL && fd_out != NULL);
    int rc = mem_fault(m, STORE_MEM_OP_OPEN);
    if (rc < 0) return rc;
    mem_entry *e = mem_entry_find(m, path);
    if (e == NULL || e->cur == NULL) {
        if (!(flags & STORE_OPEN_CREATE) || !mem_dir_exists(m, path, mem_dir_len(path))) return PK_ENOENT;
        e = mem_entry_get(m, path);
        e->cur = mem_inode_new(m);
    }
    if ((flags & STORE_OPEN_TRUNC) && e->cur->cur.len > 0) {
        e->cur->cur.len = 0;
        mem_pending_push(m, e->cur, (mem_op){.kind = MEM_TRUNCATE, .off = 0});
    }
    size_t slot = m->nfds;
    for (size_t i = 0; i < m->nfds; i++) {
        if (!m->fds[i].used) {
            slot = i;
            break;
        }
    }
    PK_ASSERT(slot < MEM_MAX_FDS);
    if (slot == m->nfds) m->fds = pk_realloc(m->fds, sizeof(mem_fd) * ++m->nfds);
    m->fds[slot] = (mem_fd){.ino = e->cur, .used = true, .dead = false};
    *fd_out = (int)slot;
    return PK_OK;
}

/* Closes fd (also an fd killed by a crash). */
static int mem_close(store_disk *d, int fd) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(fd >= 0 && (size_t)fd < m->nfds);
    PK_ASSERT(m->fds[fd].used);
    m->fds[fd] = (mem_fd){0};
    mem_gc(m);
    return PK_OK;
}

/* Writes n bytes at off (unsynced until fdatasync). */
static int mem_pwrite(store_disk *d, int fd, const void *p, size_t n, uint64_t off) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(p != NULL || n == 0);
    mem_inode *ino = mem_fd_get(m, fd);
    if (ino == NULL) return PK_EIO;
    int rc = mem_fault(m, STORE_MEM_OP_PWRITE);
    if (rc == PK_OK && off + n > ino->cur.len) rc = mem_space(m, off + n - ino->cur.len);
    if (rc < 0) return rc;
    mem_image_write(&ino->cur, p, n, off);
    uint8_t *copy = pk_malloc(n);
    if (n) memcpy(copy, p, n);
    mem_pending_push(m, ino, (mem_op){.kind = MEM_WRITE, .off = off, .data = copy, .len = n, .seq = ++m->write_seq});
    return PK_OK;
}

/* Reads up to n bytes at off from the current image. */
static int mem_pread(store_disk *d, int fd, void *p, size_t n, uint64_t off, size_t *got) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(got != NULL && (p != NULL || n == 0));
    mem_inode *ino = mem_fd_get(m, fd);
    if (ino == NULL) return PK_EIO;
    int rc = mem_fault(m, STORE_MEM_OP_PREAD);
    if (rc < 0) return rc;
    size_t g = 0;
    if (off < ino->cur.len) g = (size_t)PK_MIN((uint64_t)n, ino->cur.len - off);
    if (g) memcpy(p, ino->cur.data + off, g);
    *got = g;
    return PK_OK;
}

/* Makes the file's pending changes durable. */
static int mem_fdatasync(store_disk *d, int fd) {
    store_disk_mem *m = mem_of(d);
    mem_inode *ino = mem_fd_get(m, fd);
    if (ino == NULL) return PK_EIO;
    int rc = mem_fault(m, STORE_MEM_OP_FDATASYNC);
    if (rc < 0) return rc;
    for (size_t i = 0; i < ino->npend; i++) mem_op_apply(&ino->dur, &ino->pending[i], ino->pending[i].len);
    mem_pending_clear(ino);
    PK_ASSERT(ino->dur.len == ino->cur.len);
    return PK_OK;
}

/* Returns the current size. */
static int mem_size(store_disk *d, int fd, uint64_t *size_out) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(size_out != NULL);
    mem_inode *ino = mem_fd_get(m, fd);
    if (ino == NULL) return PK_EIO;
    int rc = mem_fault(m, STORE_MEM_OP_SIZE);
    if (rc < 0) return rc;
    *size_out = ino->cur.len;
    return PK_OK;
}

/* Sets the size (unsynced until fdatasync). */
static int mem_truncate(store_disk *d, int fd, uint64_t size) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(size <= SIZE_MAX / 2);
    mem_inode *ino = mem_fd_get(m, fd);
    if (ino == NULL) return PK_EIO;
    int rc = mem_fault(m, STORE_MEM_OP_TRUNCATE);
    if (rc == PK_OK && size > ino->cur.len) rc = mem_space(m, size - ino->cur.len);
    if (rc < 0) return rc;
    mem_image_resize(&ino->cur, size);
    mem_pending_push(m, ino, (mem_op){.kind = MEM_TRUNCATE, .off = size});
    return PK_OK;
}

/* Extends to at least size (like truncate; the model has no sparse files). */
static int mem_preallocate(store_disk *d, int fd, uint64_t size) {
    store_disk_mem *m = mem_of(d);
    mem_inode *ino = mem_fd_get(m, fd);
    if (ino == NULL) return PK_EIO;
    PK_ASSERT(size <= SIZE_MAX / 2);
    if (size <= ino->cur.len) return mem_fault(m, STORE_MEM_OP_TRUNCATE);
    return mem_truncate(d, fd, size);
}

/* Moves the entry from -> to (durable after fsync_dir of both directories). */
static int mem_rename(store_disk *d, const char *from, const char *to) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(from != NULL && to != NULL);
    int rc = mem_fault(m, STORE_MEM_OP_RENAME);
    if (rc < 0) return rc;
    mem_entry *src = mem_entry_find(m, from);
    if (src == NULL || src->cur == NULL || !mem_dir_exists(m, to, mem_dir_len(to))) return PK_ENOENT;
    if (strcmp(from, to) == 0) return PK_OK;
    mem_inode *ino = src->cur;
    src->cur = NULL;
    mem_entry *dst = mem_entry_get(m, to); /* may move the entries array: src is stale now */
    dst->cur = ino;
    mem_gc(m);
    return PK_OK;
}

/* Removes the entry (durable after fsync_dir). */
static int mem_unlink(store_disk *d, const char *path) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(path != NULL);
    int rc = mem_fault(m, STORE_MEM_OP_UNLINK);
    if (rc < 0) return rc;
    mem_entry *e = mem_entry_find(m, path);
    if (e == NULL || e->cur == NULL) return PK_ENOENT;
    e->cur = NULL;
    mem_gc(m);
    return PK_OK;
}

/* Creates a directory (durable at once); ok if it exists. */
static int mem_mkdir(store_disk *d, const char *path) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(path != NULL && path[0] != '\0');
    int rc = mem_fault(m, STORE_MEM_OP_MKDIR);
    if (rc < 0) return rc;
    if (mem_dir_exists(m, path, strlen(path))) return PK_OK;
    PK_ASSERT(m->ndirs < MEM_MAX_FILES);
    if (m->ndirs == m->capdirs) {
        m->capdirs = m->capdirs ? m->capdirs * 2 : 8;
        m->dirs = pk_realloc(m->dirs, sizeof(char *) * m->capdirs);
    }
    m->dirs[m->ndirs++] = pk_strndup(path, strlen(path));
    return PK_OK;
}

/* Makes the directory's entry changes durable. */
static int mem_fsync_dir(store_disk *d, const char *dir) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(dir != NULL);
    int rc = mem_fault(m, STORE_MEM_OP_FSYNC_DIR);
    if (rc < 0) return rc;
    if (!mem_dir_exists(m, dir, strlen(dir))) return PK_ENOENT;
    for (size_t i = 0; i < m->nents; i++) {
        if (mem_in_dir(m->ents[i].path, dir)) m->ents[i].dur = m->ents[i].cur;
    }
    mem_gc(m);
    return PK_OK;
}

/* Lists the names of the files present in dir. */
static int mem_list(store_disk *d, const char *dir, char ***names, size_t *count) {
    store_disk_mem *m = mem_of(d);
    PK_ASSERT(dir != NULL && names != NULL && count != NULL);
    int rc = mem_fault(m, STORE_MEM_OP_LIST);
    if (rc < 0) return rc;
    if (!mem_dir_exists(m, dir, strlen(dir))) return PK_ENOENT;
    char **v = pk_malloc(sizeof(char *) * (m->nents ? m->nents : 1));
    size_t n = 0;
    for (size_t i = 0; i < m->nents; i++) {
        const char *p = m->ents[i].path;
        if (m->ents[i].cur && mem_in_dir(p, dir)) v[n++] = pk_strndup(p + strlen(dir) + 1, strlen(p) - strlen(dir) - 1);
    }
    *names = v;
    *count = n;
    return PK_OK;
}

static const store_disk_ops mem_ops = {
    .open = mem_open,
    .close = mem_close,
    .pwrite = mem_pwrite,
    .pread = mem_pread,
    .fdatasync = mem_fdatasync,
    .size = mem_size,
    .truncate = mem_truncate,
    .rename = mem_rename,
    .unlink = mem_unlink,
    .mkdir = mem_mkdir,
    .fsync_dir = mem_fsync_dir,
    .list = mem_list,
    .preallocate = mem_preallocate,
};

/* ---- public API ---- */

/* Creates an empty in-memory disk. */
store_disk_mem *store_disk_mem_new(void) {
    store_disk_mem *m = pk_calloc(1, sizeof(*m));
    m->disk = (store_disk){.ops = &mem_ops, .ctx = m};
    PK_ASSERT(mem_of(&m->disk) == m);
    return m;
}

/* Frees the disk and all files. */
void store_disk_mem_free(store_disk_mem *m) {
    if (m == NULL) return;
    PK_ASSERT(m->disk.ctx == m);
    for (size_t i = 0; i < m->nents; i++) free(m->ents[i].path);
    for (size_t i = 0; i < m->ninos; i++) mem_inode_free(m->inos[i]);
    for (size_t i = 0; i < m->ndirs; i++) free(m->dirs[i]);
    free(m->ents);
    free(m->inos);
    free(m->dirs);
    free(m->fds);
    free(m);
}

/* Returns the store_disk view. */
store_disk *store_disk_mem_disk(store_disk_mem *m) {
    PK_ASSERT(m != NULL && m->disk.ctx == m);
    return &m->disk;
}

/* Arms a countdown fault. */
void store_disk_mem_fail_after(store_disk_mem *m, uint32_t op_mask, uint64_t countdown, int err, bool sticky) {
    PK_ASSERT(m != NULL && (op_mask & ~(uint32_t)STORE_MEM_OP_ALL) == 0);
    PK_ASSERT(err < 0);
    m->fail_mask = op_mask;
    m->fail_countdown = countdown;
    m->fail_err = err;
    m->fail_sticky = sticky;
    m->fail_fired = false;
}

/* Disarms the fault. */
void store_disk_mem_fail_clear(store_disk_mem *m) {
    PK_ASSERT(m != NULL);
    m->fail_mask = 0;
    m->fail_countdown = 0;
}

/* True when the armed fault fired. */
bool store_disk_mem_fail_fired(const store_disk_mem *m) {
    PK_ASSERT(m != NULL);
    return m->fail_fired;
}

/* Sums the call counts of the ops in op_mask. */
uint64_t store_disk_mem_op_count(const store_disk_mem *m, uint32_t op_mask) {
    PK_ASSERT(m != NULL);
    uint64_t n = 0;
    for (int i = 0; i < STORE_MEM_OP_COUNT; i++) {
        if (op_mask & (1u << i)) n += m->counts[i];
    }
    return n;
}

/* Sets the capacity limit. */
void store_disk_mem_set_capacity(store_disk_mem *m, uint64_t bytes) {
    PK_ASSERT(m != NULL);
    m->capacity = bytes;
}

/* Sums the current image sizes. */
uint64_t store_disk_mem_used_bytes(const store_disk_mem *m) {
    PK_ASSERT(m != NULL);
    uint64_t n = 0;
    for (size_t i = 0; i < m->ninos; i++) n += m->inos[i]->cur.len;
    return n;
}

/* Crash core: decides entries per directory, rebuilds each file from its durable image plus kept ops. */
static void mem_crash(store_disk_mem *m, uint64_t tear_seq, size_t keep_bytes, pk_prng *r) {
    PK_ASSERT(m != NULL);
    PK_ASSERT(tear_seq == 0 || r == NULL);
    for (size_t i = 0; i < m->nfds; i++) {
        if (m->fds[i].used) m->fds[i] = (mem_fd){.ino = NULL, .used = true, .dead = true};
    }
    for (size_t di = 0; r != NULL && di < m->ndirs; di++) {
        if (!pk_prng_chance(r, 1, 2)) continue; /* this directory's unsynced changes are lost */
        for (size_t i = 0; i < m->nents; i++) {
            if (mem_in_dir(m->ents[i].path, m->dirs[di])) m->ents[i].dur = m->ents[i].cur;
        }
    }
    for (size_t i = 0; i < m->nents; i++) m->ents[i].cur = m->ents[i].dur;
    for (size_t i = 0; i < m->ninos; i++) {
        mem_inode *ino = m->inos[i];
        for (size_t k = 0; k < ino->npend; k++) {
            const mem_op *op = &ino->pending[k];
            if (r != NULL) {
                uint64_t pick = pk_prng_below(r, 3); /* 0 lost, 1 kept, 2 torn */
                if (pick == 1) mem_op_apply(&ino->dur, op, op->len);
                else if (pick == 2 && op->kind == MEM_WRITE) mem_op_apply(&ino->dur, op, (size_t)pk_prng_below(r, op->len + 1));
            } else if (op->kind == MEM_WRITE && op->seq == tear_seq) {
                mem_op_apply(&ino->dur, op, PK_MIN(keep_bytes, op->len));
            }
        }
        mem_pending_clear(ino);
        pk_buf_reset(&ino->cur);
        if (ino->dur.len) pk_buf_append(&ino->cur, ino->dur.data, ino->dur.len);
    }
    mem_gc(m);
}

/* Crash losing every unsynced change. */
void store_disk_mem_crash(store_disk_mem *m) {
    PK_ASSERT(m != NULL);
    mem_crash(m, 0, 0, NULL);
    PK_ASSERT(m->ninos == 0 || m->inos[0]->npend == 0);
}

/* Crash keeping a prefix of the last write. */
void store_disk_mem_crash_tear(store_disk_mem *m, size_t keep_bytes) {
    PK_ASSERT(m != NULL);
    PK_ASSERT(m->write_seq > 0 || keep_bytes == 0);
    mem_crash(m, m->write_seq, keep_bytes, NULL);
}

/* Crash keeping, losing or tearing each unsynced change at random. */
void store_disk_mem_crash_random(store_disk_mem *m, pk_prng *r) {
    PK_ASSERT(m != NULL && r != NULL);
    mem_crash(m, 0, 0, r);
}

/* Flips bits of one byte in both images. */
int store_disk_mem_corrupt(store_disk_mem *m, const char *path, uint64_t off, uint8_t xor_mask) {
    PK_ASSERT(m != NULL && path != NULL);
    mem_entry *e = mem_entry_find(m, path);
    if (e == NULL || e->cur == NULL) return PK_ENOENT;
    mem_inode *ino = e->cur;
    if (off >= ino->cur.len) return PK_EINVAL;
    ino->cur.data[off] ^= xor_mask;
    if (off < ino->dur.len) ino->dur.data[off] ^= xor_mask;
    return PK_OK;
}

/* Copies the current contents of a file. */
int store_disk_mem_read_file(store_disk_mem *m, const char *path, pk_buf *out) {
    PK_ASSERT(m != NULL && path != NULL);
    PK_ASSERT(out != NULL);
    mem_entry *e = mem_entry_find(m, path);
    if (e == NULL || e->cur == NULL) return PK_ENOENT;
    pk_buf_reset(out);
    if (e->cur->cur.len) pk_buf_append(out, e->cur->cur.data, e->cur->cur.len);
    return PK_OK;
}

/* True when path names a file now. */
bool store_disk_mem_exists(const store_disk_mem *m, const char *path) {
    PK_ASSERT(m != NULL && path != NULL);
    mem_entry *e = mem_entry_find(m, path);
    return e != NULL && e->cur != NULL;
}
