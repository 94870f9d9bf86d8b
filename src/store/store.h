/* store: durable state behind a small disk interface (DESIGN section 5).
 *
 * Three things live in a data directory:
 *   - the WAL: segments named wal-<first slot, 20 digits>.log, each a sequence of records
 *     [magic u32][crc32c u32 of the rest][len u32][slot u64][round u64][node u32][value len bytes]
 *     (exact layout: see wal.c and docs/ARCHITECTURE.md). A later record for a slot supersedes an earlier
 *     one (an acceptor may re-accept a slot under a higher ballot).
 *   - the meta file (`meta`): the acceptor's promised ballot and the node id, replaced atomically
 *     (write temp, fdatasync, rename, fsync dir).
 *   - snapshots: snap-<slot, 20 digits>.snap = header (magic, version, slot, payload length, crc32c) + payload
 *     (the state machine's serialized state, opaque here), written to a temp file, fsynced, renamed, dir fsynced.
 *
 * Recovery rules: a torn or partially written record at the very end of the last segment is cut off
 * (overwritten with zeros, synced; wal_replay then returns PK_OK with a note in errmsg) and recovery proceeds; a bad record anywhere else (middle of the log, or followed by valid
 * data) is corruption: recovery stops with PK_ECORRUPT and a message naming the file and offset.
 * A failed write or fsync returns an error; the caller must stop the process (never retry an fsync).
 *
 * Threads: the store has no threads of its own. wal_write_sync() may be called from a helper thread while
 * the loop thread encodes the next batch with wal_encode() into its own buffer; no other wal call may run
 * concurrently with wal_write_sync() on the same wal.
 * Ownership: slices returned by replay point into store-owned memory valid only during the callback.
 */
#ifndef PK_STORE_H
#define PK_STORE_H

#include "base/base.h"

/* ---- disk interface (POSIX implementation in disk_posix.c; the simulator supplies a faulty one) ---- */
typedef struct store_disk store_disk;

enum { STORE_OPEN_CREATE = 1, STORE_OPEN_TRUNC = 2 };

typedef struct store_disk_ops {
    int (*open)(store_disk *d, const char *path, int flags, int *fd_out);      /* PK_ENOENT if missing */
    int (*close)(store_disk *d, int fd);
    int (*pwrite)(store_disk *d, int fd, const void *p, size_t n, uint64_t off);
    int (*pread)(store_disk *d, int fd, void *p, size_t n, uint64_t off, size_t *got);
    int (*fdatasync)(store_disk *d, int fd);
    int (*size)(store_disk *d, int fd, uint64_t *size_out);
    int (*truncate)(store_disk *d, int fd, uint64_t size);
    int (*rename)(store_disk *d, const char *from, const char *to);
    int (*unlink)(store_disk *d, const char *path);
    int (*mkdir)(store_disk *d, const char *path);                            /* ok if it exists */
    int (*fsync_dir)(store_disk *d, const char *dir);
    /* Lists the names (not paths) of the files in dir into *names (caller frees each and the array). */
    int (*list)(store_disk *d, const char *dir, char ***names, size_t *count);
    /* Optional (may be NULL: callers then extend with truncate, a sparse file): reserves [0, size) so later
     * writes below size need no block allocation and cannot fail with ENOSPC (posix_fallocate). */
    int (*preallocate)(store_disk *d, int fd, uint64_t size);
} store_disk_ops;

struct store_disk {
    const store_disk_ops *ops;
    void *ctx;
};

/* Returns the process-wide POSIX disk (real files, fdatasync). An in-memory disk with fault injection
 * (crash losing unsynced data, torn writes, bit rot, EIO/ENOSPC countdowns) is in store/disk_mem.h. */
store_disk *store_disk_posix(void);

/* ---- write-ahead log ---- */
typedef struct wal wal;

typedef struct wal_record {
    uint64_t slot;
    uint64_t round;   /* ballot round */
    uint32_t node;    /* ballot node id */
    pk_slice value;   /* empty = no-op */
} wal_record;

typedef struct wal_options {
    uint64_t segment_bytes;   /* preallocated size of a segment (e.g. 64 MiB); a batch never spans segments */
    uint32_t max_record_bytes;/* records larger than this are corruption on read and refused on write */
} wal_options;

/* Opens (creating if needed) the WAL in `dir`. Does not read records: call wal_replay next. */
int wal_open(store_disk *d, const char *dir, const wal_options *opt, wal **out);
/* Closes the WAL and frees it. */
void wal_close(wal *w);
/* Reads every valid record in log order, calling fn for each; cuts a torn tail; returns PK_ECORRUPT with a
 * message in errmsg for corruption in the middle. Positions the WAL for appending after the last valid record.
 * fn returning nonzero stops the replay with that value. */
int wal_replay(wal *w, int (*fn)(void *ctx, const wal_record *rec), void *ctx, char *errmsg, size_t errmsg_len);
/* Appends the encoded form of rec to buf (pure; may run on the loop thread while a write is in flight). */
void wal_encode(pk_buf *buf, const wal_record *rec);
/* Writes encoded records (a whole batch from wal_encode, first record's slot = first_slot) at the end of the
 * log and fdatasyncs it; starts a new segment first when the current one is full. */
int wal_write_sync(wal *w, uint64_t first_slot, pk_slice encoded);
/* Deletes whole segments whose records are all below `slot` (after a snapshot covering them). */
int wal_drop_below(wal *w, uint64_t slot);

/* ---- meta: the acceptor's promise ---- */
typedef struct store_meta {
    uint32_t node_id;
    uint64_t promised_round;
    uint32_t promised_node;
} store_meta;

/* Reads the meta file; PK_ENOENT when there is none (a fresh directory). */
int store_meta_read(store_disk *d, const char *dir, store_meta *out);
/* Atomically replaces the meta file (temp, fdatasync, rename, fsync dir). */
int store_meta_write(store_disk *d, const char *dir, const store_meta *m);

/* ---- snapshots ---- */
/* Writes a snapshot of the state at `slot` (temp, fdatasync, rename, fsync dir). */
int store_snap_write(store_disk *d, const char *dir, uint64_t slot, pk_slice payload);
/* Loads the newest snapshot whose checksum verifies (skipping damaged newer ones, with a message in errmsg);
 * PK_ENOENT when there is no snapshot file at all; PK_ECORRUPT (message in errmsg) when snapshot files exist
 * but none verifies (starting empty would silently lose state the WAL no longer holds). */
int store_snap_load_latest(store_disk *d, const char *dir, pk_buf *payload, uint64_t *slot_out,
                           char *errmsg, size_t errmsg_len);
/* Deletes all snapshots but the newest `keep` ones, and leftover snap-*.tmp files (so never run it
 * concurrently with store_snap_write on the same dir). */
int store_snap_prune(store_disk *d, const char *dir, uint32_t keep);

#endif
