/* store: snapshot files (opaque payload at one slot), written atomically, loaded newest-valid-first.
 *
 * Layout of snap-<slot, 20 digits>.snap (integers big-endian), a 32-byte header then the payload:
 *   offset  size  field
 *   0       4     magic        0x504B534E ("PKSN")
 *   4       4     version      1
 *   8       8     slot         equals the slot in the file name
 *   16      8     payload_len  file size = 32 + payload_len exactly
 *   24      4     payload_crc  CRC32C (pk_crc32c, seed 0) of the payload
 *   28      4     header_crc   CRC32C over bytes [0, 28)
 *   32      payload_len bytes of payload
 * Writing: snap-<slot>.tmp (create, truncate), written in chunks of SNAP_CHUNK_BYTES, fdatasync, close,
 * rename to snap-<slot>.snap, fsync the directory. Leftover .tmp files are ignored and removed by prune.
 */
#include "store/store_int.h"

#include <inttypes.h>
#include <stdlib.h>

enum { SNAP_HDR_BYTES = 32, SNAP_VERSION = 1, SNAP_CHUNK_BYTES = 8 << 20, SNAP_MAX_FILES = 1 << 20 };
#define SNAP_MAGIC 0x504B534Eu

/* Builds the path of the snapshot (or its temp file) for slot. */
static int snap_path(char *out, size_t cap, const char *dir, uint64_t slot, const char *suffix) {
    PK_ASSERT(out != NULL && dir != NULL);
    PK_ASSERT(suffix != NULL);
    char name[64];
    store_name_format(name, sizeof(name), "snap-", slot, suffix);
    return store_path_join(out, cap, dir, name);
}

/* Writes header and payload to an open temp file, then fdatasyncs it. */
static int snap_write_fd(store_disk *d, int fd, uint64_t slot, pk_slice payload) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(payload.ptr != NULL || payload.len == 0);
    uint8_t h[SNAP_HDR_BYTES];
    pk_put_u32(h, SNAP_MAGIC);
    pk_put_u32(h + 4, SNAP_VERSION);
    pk_put_u64(h + 8, slot);
    pk_put_u64(h + 16, payload.len);
    pk_put_u32(h + 24, pk_crc32c(0, payload.ptr, payload.len));
    pk_put_u32(h + 28, pk_crc32c(0, h, 28));
    int rc = d->ops->pwrite(d, fd, h, sizeof(h), 0);
    for (size_t off = 0; rc == PK_OK && off < payload.len;) {
        size_t n = PK_MIN((size_t)SNAP_CHUNK_BYTES, payload.len - off);
        rc = d->ops->pwrite(d, fd, payload.ptr + off, n, SNAP_HDR_BYTES + (uint64_t)off);
        off += n;
    }
    if (rc == PK_OK) rc = d->ops->fdatasync(d, fd);
    return rc;
}

/* Writes a snapshot durably: temp file, fdatasync, rename, fsync dir. */
int store_snap_write(store_disk *d, const char *dir, uint64_t slot, pk_slice payload) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(payload.ptr != NULL || payload.len == 0);
    char tmp[STORE_PATH_MAX], path[STORE_PATH_MAX];
    int rc = snap_path(tmp, sizeof(tmp), dir, slot, ".tmp");
    if (rc == PK_OK) rc = snap_path(path, sizeof(path), dir, slot, ".snap");
    if (rc < 0) return rc;
    int fd;
    rc = d->ops->open(d, tmp, STORE_OPEN_CREATE | STORE_OPEN_TRUNC, &fd);
    if (rc < 0) return rc;
    rc = snap_write_fd(d, fd, slot, payload);
    int crc = d->ops->close(d, fd);
    if (rc == PK_OK) rc = crc;
    if (rc == PK_OK) rc = d->ops->rename(d, tmp, path);
    if (rc == PK_OK) rc = d->ops->fsync_dir(d, dir);
    if (rc < 0) d->ops->unlink(d, tmp); /* best effort; a leftover temp file is harmless */
    return rc;
}

/* Reads and verifies the header and payload of an open snapshot; PK_ECORRUPT with a reason when damaged. */
static int snap_read_fd(store_disk *d, int fd, uint64_t slot, pk_buf *payload, const char **why) {
    PK_ASSERT(d != NULL && fd >= 0);
    PK_ASSERT(payload != NULL && why != NULL);
    uint64_t size;
    int rc = d->ops->size(d, fd, &size);
    if (rc < 0) return rc;
    uint8_t h[SNAP_HDR_BYTES];
    size_t got = 0;
    rc = store_read_full(d, fd, h, sizeof(h), 0, &got);
    if (rc < 0) return rc;
    *why = "short header";
    if (got != sizeof(h)) return PK_ECORRUPT;
    *why = "bad header (magic, version or checksum)";
    if (pk_get_u32(h) != SNAP_MAGIC || pk_get_u32(h + 4) != SNAP_VERSION) return PK_ECORRUPT;
    if (pk_crc32c(0, h, 28) != pk_get_u32(h + 28)) return PK_ECORRUPT;
    *why = "header slot differs from file name";
    if (pk_get_u64(h + 8) != slot) return PK_ECORRUPT;
    uint64_t len = pk_get_u64(h + 16);
    *why = "file size differs from header payload length";
    if (len != size - SNAP_HDR_BYTES || len > SIZE_MAX / 2) return PK_ECORRUPT;
    pk_buf_reset(payload);
    pk_buf_reserve(payload, (size_t)len);
    uint32_t crc = 0;
    for (uint64_t off = 0; off < len;) {
        size_t n = (size_t)PK_MIN((uint64_t)SNAP_CHUNK_BYTES, len - off);
        rc = store_read_full(d, fd, payload->data + off, n, SNAP_HDR_BYTES + off, &got);
        if (rc < 0) return rc;
        *why = "file shorter than its payload";
        if (got != n) return PK_ECORRUPT;
        crc = pk_crc32c(crc, payload->data + off, n);
        off += n;
    }
    *why = "payload checksum mismatch";
    if (crc != pk_get_u32(h + 24)) return PK_ECORRUPT;
    payload->len = (size_t)len;
    PK_ASSERT(payload->len <= payload->cap);
    return PK_OK;
}

/* Loads the snapshot for slot into payload; damaged files yield PK_ECORRUPT and a message. */
static int snap_load_one(store_disk *d, const char *dir, uint64_t slot, pk_buf *payload, char *errmsg,
                         size_t errmsg_len) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(payload != NULL);
    char path[STORE_PATH_MAX];
    int rc = snap_path(path, sizeof(path), dir, slot, ".snap");
    if (rc < 0) return rc;
    int fd;
    rc = d->ops->open(d, path, 0, &fd);
    if (rc < 0) return rc;
    const char *why = "";
    rc = snap_read_fd(d, fd, slot, payload, &why);
    d->ops->close(d, fd);
    if (rc == PK_ECORRUPT) store_errmsg_append(errmsg, errmsg_len, "snapshot %s skipped: %s", path, why);
    if (rc < 0) pk_buf_reset(payload);
    return rc;
}

/* Loads the newest snapshot that verifies; PK_ENOENT when there is none at all. */
int store_snap_load_latest(store_disk *d, const char *dir, pk_buf *payload, uint64_t *slot_out,
                           char *errmsg, size_t errmsg_len) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(payload != NULL && slot_out != NULL);
    store_errmsg(errmsg, errmsg_len, "%s", "");
    uint64_t *slots = NULL;
    size_t count = 0;
    int rc = store_list_numbered(d, dir, "snap-", ".snap", &slots, &count);
    if (rc < 0) return rc;
    PK_ASSERT(count <= SNAP_MAX_FILES);
    rc = count ? PK_ECORRUPT : PK_ENOENT;
    for (size_t i = count; i > 0; i--) {
        int one = snap_load_one(d, dir, slots[i - 1], payload, errmsg, errmsg_len);
        if (one == PK_ECORRUPT || one == PK_ENOENT) continue; /* damaged, or removed since listing */
        rc = one;
        if (one == PK_OK) *slot_out = slots[i - 1];
        break;
    }
    free(slots);
    return rc;
}

/* Deletes the snapshots of the given numbers with suffix; counts deletions in *deleted. */
static int snap_unlink_range(store_disk *d, const char *dir, const uint64_t *slots, size_t n, const char *suffix,
                             size_t *deleted) {
    PK_ASSERT(d != NULL && dir != NULL && deleted != NULL);
    PK_ASSERT(slots != NULL || n == 0);
    for (size_t i = 0; i < n; i++) {
        char path[STORE_PATH_MAX];
        int rc = snap_path(path, sizeof(path), dir, slots[i], suffix);
        if (rc == PK_OK) rc = d->ops->unlink(d, path);
        if (rc < 0 && rc != PK_ENOENT) return rc;
        (*deleted)++;
    }
    return PK_OK;
}

/* Deletes all snapshots but the newest keep ones, and any leftover temp files. */
int store_snap_prune(store_disk *d, const char *dir, uint32_t keep) {
    PK_ASSERT(d != NULL && dir != NULL);
    uint64_t *slots = NULL, *tmps = NULL;
    size_t count = 0, tcount = 0, deleted = 0;
    int rc = store_list_numbered(d, dir, "snap-", ".snap", &slots, &count);
    if (rc < 0) return rc;
    rc = store_list_numbered(d, dir, "snap-", ".tmp", &tmps, &tcount);
    if (rc == PK_OK && count > keep) rc = snap_unlink_range(d, dir, slots, count - keep, ".snap", &deleted);
    if (rc == PK_OK) rc = snap_unlink_range(d, dir, tmps, tcount, ".tmp", &deleted);
    free(slots);
    free(tmps);
    PK_ASSERT(deleted <= count + tcount);
    if (rc == PK_OK && deleted > 0) rc = d->ops->fsync_dir(d, dir);
    return rc;
}
