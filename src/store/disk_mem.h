/* store_disk_mem: a pure in-memory store_disk with fault injection, for unit tests and the simulator.
 *
 * Model (what survives a crash):
 *   - Every file (inode) has a current image (what reads see) and a durable image. pwrite and truncate
 *     (and preallocate, which extends like truncate) change the current image and are queued as pending ops;
 *     fdatasync on any fd of the file applies the pending ops to the durable image.
 *   - Directory entries (create, rename, unlink) change the current namespace at once and become durable
 *     only when fsync_dir is called on their parent directory (per directory). mkdir is durable at once.
 *   - store_disk_mem_crash*() replaces the current state with what survives, closes every fd (later calls
 *     on an old fd fail with PK_EIO, close on it succeeds and frees the fd slot, so call wal_close on the
 *     pre-crash wal) and frees files no entry names any more.
 * Faults (SQLite-style countdown): store_disk_mem_fail_after() makes the (countdown+1)-th call of the chosen
 * ops fail with the given error, without effect, once or from then on (sticky). A capacity limit makes
 * growing writes fail with PK_ENOSPC.
 * Paths are plain strings; an entry's directory is the text before its last '/'. Deterministic: no clock,
 * no global state, randomness only from the caller's pk_prng. Not thread-safe.
 * Memory: each file holds two full images (current and durable), so keep WAL segments small in simulations.
 */
#ifndef PK_STORE_DISK_MEM_H
#define PK_STORE_DISK_MEM_H

#include "store/store.h"

typedef struct store_disk_mem store_disk_mem;

/* Operation classes for fault injection and counting (bit mask). */
enum store_mem_op {
    STORE_MEM_OP_OPEN = 1u << 0,
    STORE_MEM_OP_PWRITE = 1u << 1,
    STORE_MEM_OP_PREAD = 1u << 2,
    STORE_MEM_OP_FDATASYNC = 1u << 3,
    STORE_MEM_OP_TRUNCATE = 1u << 4, /* also preallocate */
    STORE_MEM_OP_RENAME = 1u << 5,
    STORE_MEM_OP_UNLINK = 1u << 6,
    STORE_MEM_OP_MKDIR = 1u << 7,
    STORE_MEM_OP_FSYNC_DIR = 1u << 8,
    STORE_MEM_OP_LIST = 1u << 9,
    STORE_MEM_OP_SIZE = 1u << 10,
    STORE_MEM_OP_COUNT = 11,
    STORE_MEM_OP_ALL = (1u << 11) - 1,
    /* Everything that changes state (what a "fail after N writes" test wants). */
    STORE_MEM_OP_MUTATING = STORE_MEM_OP_OPEN | STORE_MEM_OP_PWRITE | STORE_MEM_OP_FDATASYNC |
                            STORE_MEM_OP_TRUNCATE | STORE_MEM_OP_RENAME | STORE_MEM_OP_UNLINK |
                            STORE_MEM_OP_MKDIR | STORE_MEM_OP_FSYNC_DIR,
};

/* Creates an empty in-memory disk (no directories, no files). */
store_disk_mem *store_disk_mem_new(void);
/* Frees the disk and every file in it. */
void store_disk_mem_free(store_disk_mem *m);
/* Returns the store_disk view of m (valid until store_disk_mem_free). */
store_disk *store_disk_mem_disk(store_disk_mem *m);

/* Makes the (countdown+1)-th future call of an op in op_mask fail with err (PK_EIO or PK_ENOSPC) without
 * effect; with sticky, every later call in op_mask fails too. Replaces any earlier fault. */
void store_disk_mem_fail_after(store_disk_mem *m, uint32_t op_mask, uint64_t countdown, int err, bool sticky);
/* Cancels the fault set by store_disk_mem_fail_after. */
void store_disk_mem_fail_clear(store_disk_mem *m);
/* True when the fault fired at least once since it was set. */
bool store_disk_mem_fail_fired(const store_disk_mem *m);
/* Returns how many calls of the ops in op_mask were made so far (failed ones included). */
uint64_t store_disk_mem_op_count(const store_disk_mem *m, uint32_t op_mask);
/* Limits the total bytes of all current file images (0 = unlimited); growing past it fails with PK_ENOSPC. */
void store_disk_mem_set_capacity(store_disk_mem *m, uint64_t bytes);
/* Returns the total bytes of all current file images. */
uint64_t store_disk_mem_used_bytes(const store_disk_mem *m);

/* Crash: every unsynced file change and unsynced directory change is lost; every fd is closed. */
void store_disk_mem_crash(store_disk_mem *m);
/* Crash like store_disk_mem_crash, except that the last pwrite, if still unsynced, persists its first
 * keep_bytes bytes (a torn write); the directory entry of its file must be durable for it to be seen. */
void store_disk_mem_crash_tear(store_disk_mem *m, size_t keep_bytes);
/* Crash where each unsynced pwrite/truncate is independently kept, lost or (pwrite) torn at a random byte,
 * and each directory's unsynced entry changes are kept or lost as a whole, drawn from r. */
void store_disk_mem_crash_random(store_disk_mem *m, pk_prng *r);

/* XORs the byte at off of the file at path with xor_mask, in both images (bit rot); PK_ENOENT/PK_EINVAL. */
int store_disk_mem_corrupt(store_disk_mem *m, const char *path, uint64_t off, uint8_t xor_mask);
/* Copies the current contents of the file at path into out (replacing its contents); PK_ENOENT if absent. */
int store_disk_mem_read_file(store_disk_mem *m, const char *path, pk_buf *out);
/* True when path names a file in the current namespace. */
bool store_disk_mem_exists(const store_disk_mem *m, const char *path);

#endif
