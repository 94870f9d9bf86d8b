/* sim_disk: an in-memory store_disk with crash semantics and fault injection, for the simulator.
 *
 * Model (strict POSIX): file contents become durable only at fdatasync; names (create, rename, unlink) become
 * durable only at fsync_dir of their directory. sim_disk_crash() reverts every file to its last synced content
 * and the namespace to its last synced state, and may tear the last unsynced write of each file (a random
 * prefix of it reaches the platter). Directories themselves are created durably.
 * Faults: sim_disk_fail_after(n, err) makes the n-th next mutating operation (pwrite, fdatasync, truncate,
 * rename, unlink, fsync_dir) fail with err (PK_EIO, PK_ENOSPC) without effect; the caller must then stop the
 * node (never retry an fsync) and crash the disk.
 * Bounds: SIM_DISK_MAX_FILES inodes, SIM_DISK_MAX_FDS open descriptors, SIM_DISK_MAX_NAMES names.
 * Ownership: the disk owns all file data; list() returns names the caller frees. Pure: no real I/O.
 */
#ifndef PK_SIM_DISK_H
#define PK_SIM_DISK_H

#include "base/base.h"
#include "store/store.h"

#define SIM_DISK_MAX_FILES 4096
#define SIM_DISK_MAX_FDS 64
#define SIM_DISK_MAX_NAMES 512

typedef struct sim_inode {
    bool used;
    pk_buf data;        /* what reads see */
    pk_buf synced;      /* what survives a crash */
    bool dirty;         /* data != synced */
    uint64_t last_off;  /* the last unsynced pwrite (for tearing) */
    pk_buf last_write;
    bool has_last;
} sim_inode;

typedef struct sim_name {
    char *path;         /* full path "dir/name" */
    uint32_t inode;
} sim_name;

typedef struct sim_disk {
    store_disk disk;                    /* ops + ctx = this; pass &d->disk to the store */
    sim_inode *inodes;                  /* SIM_DISK_MAX_FILES */
    sim_name names[SIM_DISK_MAX_NAMES]; /* the volatile namespace */
    size_t name_count;
    sim_name durable[SIM_DISK_MAX_NAMES];
    size_t durable_count;
    int32_t fds[SIM_DISK_MAX_FDS];      /* fd -> inode + 1 (0 = closed) */
    char *dirs[16];
    size_t dir_count;
    int64_t fail_countdown;             /* <= 0: no fault armed */
    int fail_err;
    uint64_t ops;                       /* mutating ops performed (statistics) */
    uint64_t faults;                    /* faults injected */
} sim_disk;

/* Initializes an empty disk. */
void sim_disk_init(sim_disk *d);
/* Frees everything. */
void sim_disk_deinit(sim_disk *d);
/* Loses unsynced state as a power cut would; tears last writes using prng. Closes every descriptor. */
void sim_disk_crash(sim_disk *d, pk_prng *prng);
/* Arms a fault: the n-th next mutating operation (n >= 1) fails with err. */
void sim_disk_fail_after(sim_disk *d, int64_t n, int err);
/* Total bytes held (data), for statistics and bounds. */
size_t sim_disk_bytes(const sim_disk *d);

#endif
