/* store: the segmented write-ahead log.
 *
 * Record layout (all integers big-endian), WAL_HDR_BYTES = 32 bytes of header then the value:
 *
 *   offset  size  field
 *   0       4     magic      0x504B574C ("PKWL")
 *   4       4     crc        CRC32C (pk_crc32c, seed 0) over bytes [8, 32 + len): header fields after the crc
 *                            and the value
 *   8       4     len        value length in bytes (0 = no-op); len <= max_record_bytes
 *   12      8     slot
 *   20      8     round      ballot round
 *   28      4     node       ballot node id
 *   32      len   value
 *
 * Records are packed back to back with no padding. A segment is a file wal-<N, 20 digits>.log preallocated to
 * segment_bytes (zero-filled; via the disk's preallocate op = posix_fallocate, else a sparse truncate).
 * N is the first slot of the batch that opened the segment, raised to (previous segment's N + 1) when that
 * would not be increasing (a re-accepted low slot may open a segment), so name order is always log order.
 * A batch never spans segments; a batch larger than segment_bytes gets a segment of its own size.
 *
 * The end of the log: records are read until the first one that does not verify (magic, len bound, fits in
 * the file, crc). At that offset X:
 *   - everything from X to the end of the segment is zero: a clean end of this segment (the next segment,
 *     if any, continues the log);
 *   - otherwise the bytes from X are a torn tail when: the record header at X does not claim more than
 *     max_record_bytes, every non-zero byte lies within X + 32 + len (len as read, zero bytes where torn),
 *     no verifying record starts after X in that region, and every later segment is entirely zero.
 *     The torn bytes are overwritten with zeros (and fdatasynced) and later empty segments are deleted,
 *     so appends continue cleanly at X;
 *   - anything else is corruption: PK_ECORRUPT with "file offset: reason".
 * A prefix-torn write (the model of a crash during an unsynced write) always satisfies the torn-tail rule.
 * Known limit: a torn record whose value itself contains a verifying encoded record is reported as corruption.
 *
 * Preallocation measurements on this machine (ext4 on virtio, 2 cores, shared; pwrite + fdatasync, us/op):
 *   record bytes        100   4096  65536
 *   append (no prealloc) 210   169    363
 *   ftruncate (sparse)   128   169    194
 *   posix_fallocate      112   172    195
 *   zero-written file    120   155    119
 * posix_fallocate is as fast as sparse for small batches and, unlike sparse, reserves the space (no ENOSPC
 * in the middle of a segment), so the disk interface gained an optional `preallocate` op. Writing zeros is
 * faster for big batches but costs a 64 MiB write at every rollover on the commit path.
 * bench/store_bench.c (make store-bench) on the same machine, 100-byte values, 64 MiB segments, one run
 * (the machine is shared, so expect +-30%):
 *   records/batch     1      10     100    1000
 *   batches/s      6529    3353    4229    2118   (fallocate)
 *   batches/s      6019    5479    3545    1648   (sparse)
 *   p50 us          141     148     229     307   (fallocate; write + fdatasync)
 * Replay reads ~8-11 M records/s once the log is large; a fresh start also scans the active segment's
 * zero tail (tens of ms for 64 MiB).
 */
#include "store/store_int.h"

#include <inttypes.h>
#include <stdlib.h>

enum { WAL_HDR_BYTES = 32, WAL_CHUNK_BYTES = 4 << 20 };
#define WAL_MAGIC 0x504B574Cu

typedef struct wal_segment {
    uint64_t name;       /* the N of wal-N.log */
    uint64_t max_slot;   /* highest slot of any record in it (valid when has_records) */
    bool has_records;
} wal_segment;

struct wal {
    store_disk *d;
    char *dir;
    wal_options opt;
    wal_segment *segs;   /* ascending by name; the last one is the active segment */
    size_t seg_count, seg_cap;
    int fd;              /* active segment's fd, -1 when there is none yet */
    uint64_t end_off;    /* append offset in the active segment */
    uint64_t active_size;/* size of the active segment file */
    bool replayed;       /* wal_replay finished successfully: writes allowed */
    bool failed;         /* a write or sync failed: the wal refuses further writes */
};

/* A read window over one segment file. */
typedef struct wal_reader {
    store_disk *d;
    int fd;
    uint64_t size;
    uint8_t *buf;
    size_t cap;
    uint64_t win_off;
    size_t win_len;
} wal_reader;

/* Parsed header fields of a record. */
typedef struct wal_hdr {
    uint32_t magic, crc, len;
    uint64_t slot, round;
    uint32_t node;
} wal_hdr;

/* Decodes the 32 header bytes at p. */
static wal_hdr wal_hdr_decode(const uint8_t *p) {
    PK_ASSERT(p != NULL);
    wal_hdr h = {
        .magic = pk_get_u32(p), .crc = pk_get_u32(p + 4), .len = pk_get_u32(p + 8),
        .slot = pk_get_u64(p + 12), .round = pk_get_u64(p + 20), .node = pk_get_u32(p + 28),
    };
    return h;
}

/* Appends the encoded form of rec to buf. */
void wal_encode(pk_buf *buf, const wal_record *rec) {
    PK_ASSERT(buf != NULL && rec != NULL);
    PK_ASSERT(rec->value.len <= UINT32_MAX && (rec->value.ptr != NULL || rec->value.len == 0));
    uint8_t *p = pk_buf_extend(buf, WAL_HDR_BYTES + rec->value.len);
    pk_put_u32(p, WAL_MAGIC);
    pk_put_u32(p + 8, (uint32_t)rec->value.len);
    pk_put_u64(p + 12, rec->slot);
    pk_put_u64(p + 20, rec->round);
    pk_put_u32(p + 28, rec->node);
    if (rec->value.len) memcpy(p + WAL_HDR_BYTES, rec->value.ptr, rec->value.len);
    uint32_t crc = pk_crc32c(0, p + 8, WAL_HDR_BYTES - 8 + rec->value.len);
    pk_put_u32(p + 4, crc);
}

/* Opens the WAL directory (creating it); records are read by wal_replay. */
int wal_open(store_disk *d, const char *dir, const wal_options *opt, wal **out) {
    PK_ASSERT(d != NULL && dir != NULL && opt != NULL && out != NULL);
    PK_ASSERT(opt->segment_bytes >= 4096 && opt->max_record_bytes > 0);
    if (strlen(dir) + 64 >= STORE_PATH_MAX) return PK_EINVAL;
    int rc = d->ops->mkdir(d, dir);
    if (rc < 0) return rc;
    wal *w = pk_calloc(1, sizeof(*w));
    w->d = d;
    w->dir = pk_strndup(dir, strlen(dir));
    w->opt = *opt;
    w->fd = -1;
    *out = w;
    return PK_OK;
}

/* Closes the active segment and frees the WAL. */
void wal_close(wal *w) {
    if (w == NULL) return;
    PK_ASSERT(w->d != NULL);
    if (w->fd >= 0) w->d->ops->close(w->d, w->fd);
    free(w->segs);
    free(w->dir);
    free(w);
}

/* Builds the path of segment `name` into out. */
static void wal_seg_path(const wal *w, uint64_t name, char *out, size_t cap) {
    PK_ASSERT(w != NULL && out != NULL);
    char fname[64];
    store_name_format(fname, sizeof(fname), "wal-", name, ".log");
    int rc = store_path_join(out, cap, w->dir, fname);
    PK_ASSERT(rc == PK_OK); /* dir length was checked at open */
}

/* Makes [off, off + n) of the file available in the window (growing it for a big record); *out = NULL if
 * that range extends past the end of the file. */
static int wal_reader_get(wal_reader *r, uint64_t off, size_t n, const uint8_t **out) {
    PK_ASSERT(r != NULL && out != NULL);
    PK_ASSERT(r->win_len <= r->cap);
    *out = NULL;
    if (off > r->size || n > r->size - off) return PK_OK;
    if (n > r->cap) { /* a record larger than the window: bounded by max_record_bytes + header */
        r->buf = pk_realloc(r->buf, n);
        r->cap = n;
        r->win_len = 0;
    }
    if (off >= r->win_off && off + n <= r->win_off + r->win_len) {
        *out = r->buf + (off - r->win_off);
        return PK_OK;
    }
    size_t want = (size_t)PK_MIN((uint64_t)r->cap, r->size - off);
    size_t got = 0;
    int rc = store_read_full(r->d, r->fd, r->buf, want, off, &got);
    if (rc < 0) return rc;
    r->win_off = off;
    r->win_len = got;
    if (got < n) return PK_OK; /* the file shrank under us: treat as end */
    *out = r->buf;
    return PK_OK;
}

/* True when a verifying record starts at off; fills *h. */
static int wal_reader_record(wal_reader *r, uint32_t max_len, uint64_t off, wal_hdr *h, const uint8_t **rec,
                             bool *ok) {
    PK_ASSERT(r != NULL && h != NULL && ok != NULL);
    *ok = false;
    const uint8_t *p;
    int rc = wal_reader_get(r, off, WAL_HDR_BYTES, &p);
    if (rc < 0 || p == NULL) return rc;
    *h = wal_hdr_decode(p);
    if (h->magic != WAL_MAGIC || h->len > max_len) return PK_OK;
    rc = wal_reader_get(r, off, WAL_HDR_BYTES + (size_t)h->len, &p);
    if (rc < 0 || p == NULL) return rc;
    if (pk_crc32c(0, p + 8, WAL_HDR_BYTES - 8 + (size_t)h->len) != h->crc) return PK_OK;
    *rec = p;
    *ok = true;
    return PK_OK;
}

/* Finds one past the last non-zero byte in [from, size) (== from when all zero). */
static int wal_reader_last_nonzero(wal_reader *r, uint64_t from, uint64_t *end_out) {
    PK_ASSERT(r != NULL && end_out != NULL);
    PK_ASSERT(from <= r->size);
    uint64_t end = from;
    for (uint64_t off = from; off < r->size;) {
        size_t n = (size_t)PK_MIN((uint64_t)r->cap, r->size - off);
        const uint8_t *p;
        int rc = wal_reader_get(r, off, n, &p);
        if (rc < 0) return rc;
        if (p == NULL) break;
        size_t i = n;
        for (; i >= 8; i -= 8) { /* skip zero words quickly, from the end */
            uint64_t word;
            memcpy(&word, p + i - 8, 8);
            if (word != 0) break;
        }
        for (; i > 0 && p[i - 1] == 0; i--) {}
        if (i > 0) end = off + i;
        off += n;
    }
    *end_out = end;
    return PK_OK;
}

/* Appends a segment entry to the in-memory list. */
static void wal_segs_push(wal *w, uint64_t name) {
    PK_ASSERT(w != NULL);
    PK_ASSERT(w->seg_count == 0 || w->segs[w->seg_count - 1].name < name);
    if (w->seg_count == w->seg_cap) {
        w->seg_cap = w->seg_cap ? w->seg_cap * 2 : 8;
        w->segs = pk_realloc(w->segs, sizeof(wal_segment) * w->seg_cap);
    }
    w->segs[w->seg_count++] = (wal_segment){.name = name, .max_slot = 0, .has_records = false};
}

/* Per-replay state. */
typedef struct wal_scan {
    wal_reader r;
    int (*fn)(void *ctx, const wal_record *rec);
    void *ctx;
    char *errmsg;
    size_t errmsg_len;
    char path[STORE_PATH_MAX];
} wal_scan;

/* Reads records of the open segment from offset 0; *end_out = offset of the first non-verifying record. */
static int wal_scan_records(wal *w, wal_scan *s, wal_segment *seg, uint64_t *end_out) {
    PK_ASSERT(w != NULL && s != NULL && seg != NULL);
    PK_ASSERT(s->r.fd >= 0);
    uint64_t off = 0;
    for (uint64_t iter = 0; iter <= s->r.size / WAL_HDR_BYTES + 1; iter++) {
        wal_hdr h;
        const uint8_t *p = NULL;
        bool ok;
        int rc = wal_reader_record(&s->r, w->opt.max_record_bytes, off, &h, &p, &ok);
        if (rc < 0) return rc;
        if (!ok) break;
        wal_record rec = {.slot = h.slot, .round = h.round, .node = h.node,
                          .value = {h.len ? p + WAL_HDR_BYTES : NULL, h.len}};
        seg->max_slot = seg->has_records ? PK_MAX(seg->max_slot, h.slot) : h.slot;
        seg->has_records = true;
        rc = s->fn(s->ctx, &rec);
        if (rc != 0) return rc;
        off += WAL_HDR_BYTES + (uint64_t)h.len;
    }
    *end_out = off;
    return PK_OK;
}

/* Checks the bytes from a non-verifying record at x up to last (the last non-zero byte + 1) look torn. */
static int wal_check_torn(wal *w, wal_scan *s, uint64_t x, uint64_t last) {
    PK_ASSERT(w != NULL && s != NULL);
    PK_ASSERT(x < last && last <= s->r.size);
    uint8_t hdr[WAL_HDR_BYTES] = {0};
    size_t avail = (size_t)PK_MIN((uint64_t)WAL_HDR_BYTES, s->r.size - x);
    const uint8_t *p;
    int rc = wal_reader_get(&s->r, x, avail, &p);
    if (rc < 0) return rc;
    if (p == NULL) return PK_ECORRUPT;
    memcpy(hdr, p, avail);
    wal_hdr h = wal_hdr_decode(hdr);
    if (h.len > w->opt.max_record_bytes) {
        store_errmsg(s->errmsg, s->errmsg_len, "wal: %s offset %" PRIu64 ": record length %" PRIu32
                     " exceeds max_record_bytes %" PRIu32, s->path, x, h.len, w->opt.max_record_bytes);
        return PK_ECORRUPT;
    }
    if (last > x + WAL_HDR_BYTES + h.len) {
        store_errmsg(s->errmsg, s->errmsg_len, "wal: %s offset %" PRIu64 ": bad record followed by non-zero "
                     "data up to offset %" PRIu64, s->path, x, last);
        return PK_ECORRUPT;
    }
    for (uint64_t off = x + 1; off < last; off++) {
        wal_hdr h2;
        const uint8_t *rec;
        bool ok;
        rc = wal_reader_record(&s->r, w->opt.max_record_bytes, off, &h2, &rec, &ok);
        if (rc < 0) return rc;
        if (ok) {
            store_errmsg(s->errmsg, s->errmsg_len, "wal: %s offset %" PRIu64 ": bad record followed by a valid "
                         "record at offset %" PRIu64, s->path, x, off);
            return PK_ECORRUPT;
        }
    }
    return PK_OK;
}

/* Opens segment i for reading into s->r. */
static int wal_scan_open(wal *w, wal_scan *s, size_t i) {
    PK_ASSERT(w != NULL && s != NULL && i < w->seg_count);
    PK_ASSERT(s->r.fd < 0);
    wal_seg_path(w, w->segs[i].name, s->path, sizeof(s->path));
    int fd;
    int rc = w->d->ops->open(w->d, s->path, 0, &fd);
    if (rc < 0) return rc;
    s->r.fd = fd;
    s->r.win_off = 0;
    s->r.win_len = 0;
    rc = w->d->ops->size(w->d, fd, &s->r.size);
    return rc;
}

/* Closes the segment open in s->r. */
static void wal_scan_close(wal *w, wal_scan *s) {
    PK_ASSERT(w != NULL && s != NULL);
    if (s->r.fd >= 0) w->d->ops->close(w->d, s->r.fd);
    s->r.fd = -1;
}

/* True when every segment after i is entirely zero; otherwise names the first one in errmsg. */
static int wal_later_all_zero(wal *w, wal_scan *s, size_t i, uint64_t x, bool *zero) {
    PK_ASSERT(w != NULL && s != NULL);
    PK_ASSERT(i < w->seg_count);
    char bad_path[STORE_PATH_MAX];
    memcpy(bad_path, s->path, sizeof(bad_path));
    *zero = true;
    for (size_t j = i + 1; j < w->seg_count && *zero; j++) {
        wal_scan_close(w, s);
        int rc = wal_scan_open(w, s, j);
        if (rc < 0) return rc;
        uint64_t last;
        rc = wal_reader_last_nonzero(&s->r, 0, &last);
        if (rc < 0) return rc;
        if (last > 0) {
            store_errmsg(s->errmsg, s->errmsg_len, "wal: %s offset %" PRIu64 ": bad record followed by data in "
                         "later segment %s", bad_path, x, s->path);
            *zero = false;
        }
    }
    wal_scan_close(w, s);
    return PK_OK;
}

/* Writes zeros over [from, to) of fd and fdatasyncs. */
static int wal_zero_range(wal *w, int fd, uint64_t from, uint64_t to) {
    PK_ASSERT(w != NULL && fd >= 0);
    PK_ASSERT(from < to);
    static const uint8_t zeros[4096];
    int rc = PK_OK;
    for (uint64_t off = from; off < to && rc == PK_OK;) {
        size_t n = (size_t)PK_MIN((uint64_t)sizeof(zeros), to - off);
        rc = w->d->ops->pwrite(w->d, fd, zeros, n, off);
        off += n;
    }
    if (rc == PK_OK) rc = w->d->ops->fdatasync(w->d, fd);
    return rc;
}

/* Zeroes the torn bytes [x, last) of segment i, syncs, and deletes the (all-zero) segments after it. */
static int wal_cut_tail(wal *w, size_t i, uint64_t x, uint64_t last) {
    PK_ASSERT(w != NULL && i < w->seg_count);
    PK_ASSERT(x < last);
    char path[STORE_PATH_MAX];
    wal_seg_path(w, w->segs[i].name, path, sizeof(path));
    int fd;
    int rc = w->d->ops->open(w->d, path, 0, &fd);
    if (rc < 0) return rc;
    /* Two phases, so that a crash during the cut leaves something that still reads as a torn tail: first the
     * bytes after the header (the header still bounds them), synced; then the header itself, synced. */
    uint64_t hdr_end = PK_MIN(last, x + WAL_HDR_BYTES);
    if (last > hdr_end) rc = wal_zero_range(w, fd, hdr_end, last);
    if (rc == PK_OK) rc = wal_zero_range(w, fd, x, hdr_end);
    w->d->ops->close(w->d, fd);
    if (rc < 0) return rc;
    if (i + 1 == w->seg_count) return PK_OK;
    for (size_t j = i + 1; j < w->seg_count; j++) {
        wal_seg_path(w, w->segs[j].name, path, sizeof(path));
        rc = w->d->ops->unlink(w->d, path);
        if (rc < 0) return rc;
    }
    w->seg_count = i + 1;
    return w->d->ops->fsync_dir(w->d, w->dir);
}

/* Opens the last segment for appending at end_off. */
static int wal_position(wal *w, uint64_t end_off) {
    PK_ASSERT(w != NULL && w->fd < 0);
    PK_ASSERT(w->seg_count > 0);
    char path[STORE_PATH_MAX];
    wal_seg_path(w, w->segs[w->seg_count - 1].name, path, sizeof(path));
    int rc = w->d->ops->open(w->d, path, 0, &w->fd);
    if (rc < 0) return rc;
    rc = w->d->ops->size(w->d, w->fd, &w->active_size);
    if (rc < 0) return rc;
    PK_ASSERT(end_off <= w->active_size);
    w->end_off = end_off;
    return PK_OK;
}

/* Scans every segment in order; on a torn tail cuts it; returns the tail segment and offset. */
static int wal_scan_all(wal *w, wal_scan *s, uint64_t *end_off) {
    PK_ASSERT(w != NULL && s != NULL);
    PK_ASSERT(s->r.fd < 0);
    *end_off = 0;
    for (size_t i = 0; i < w->seg_count; i++) {
        int rc = wal_scan_open(w, s, i);
        uint64_t x = 0, last = 0;
        if (rc == PK_OK) rc = wal_scan_records(w, s, &w->segs[i], &x);
        if (rc == PK_OK) rc = wal_reader_last_nonzero(&s->r, x, &last);
        if (rc != PK_OK) {
            if (rc < 0) store_errmsg(s->errmsg, s->errmsg_len, "wal: reading %s: %s", s->path, pk_strerror(rc));
            wal_scan_close(w, s);
            return rc;
        }
        *end_off = x;
        if (last == x) {
            wal_scan_close(w, s);
            continue; /* clean end of this segment */
        }
        rc = wal_check_torn(w, s, x, last);
        bool zero = false;
        if (rc == PK_OK) rc = wal_later_all_zero(w, s, i, x, &zero);
        wal_scan_close(w, s);
        if (rc < 0) return rc;
        if (!zero) return PK_ECORRUPT;
        wal_seg_path(w, w->segs[i].name, s->path, sizeof(s->path));
        rc = wal_cut_tail(w, i, x, last);
        if (rc == PK_OK)
            store_errmsg(s->errmsg, s->errmsg_len, "wal: cut a torn tail of %" PRIu64 " bytes at %s offset %" PRIu64,
                         last - x, s->path, x);
        else store_errmsg(s->errmsg, s->errmsg_len, "wal: cutting the torn tail of %s: %s", s->path, pk_strerror(rc));
        return rc;
    }
    return PK_OK;
}

/* Replays every valid record in log order, cutting a torn tail; positions the WAL for appends. */
int wal_replay(wal *w, int (*fn)(void *ctx, const wal_record *rec), void *ctx, char *errmsg, size_t errmsg_len) {
    PK_ASSERT(w != NULL && fn != NULL);
    PK_ASSERT(!w->replayed && w->fd < 0);
    store_errmsg(errmsg, errmsg_len, "%s", "");
    uint64_t *names = NULL;
    size_t count = 0;
    int rc = store_list_numbered(w->d, w->dir, "wal-", ".log", &names, &count);
    if (rc < 0) return rc;
    w->seg_count = 0;
    for (size_t i = 0; i < count; i++) wal_segs_push(w, names[i]);
    free(names);
    size_t cap = WAL_CHUNK_BYTES;
    wal_scan *s = pk_calloc(1, sizeof(*s));
    s->r = (wal_reader){.d = w->d, .fd = -1, .buf = pk_malloc(cap), .cap = cap};
    s->fn = fn;
    s->ctx = ctx;
    s->errmsg = errmsg;
    s->errmsg_len = errmsg_len;
    uint64_t end_off = 0;
    rc = wal_scan_all(w, s, &end_off);
    free(s->r.buf);
    free(s);
    if (rc != PK_OK) return rc;
    if (w->seg_count > 0) {
        rc = wal_position(w, end_off);
        if (rc < 0) return rc;
    }
    w->replayed = true;
    return PK_OK;
}

/* Checks the batch is whole records within bounds and returns its highest slot. */
static int wal_batch_check(const wal *w, pk_slice encoded, uint64_t *max_slot) {
    PK_ASSERT(w != NULL && max_slot != NULL);
    PK_ASSERT(encoded.ptr != NULL && encoded.len >= WAL_HDR_BYTES);
    size_t off = 0;
    uint64_t mx = 0;
    for (size_t iter = 0; off < encoded.len; iter++) {
        PK_ASSERT(iter <= encoded.len / WAL_HDR_BYTES);
        PK_ASSERT(encoded.len - off >= WAL_HDR_BYTES);
        wal_hdr h = wal_hdr_decode(encoded.ptr + off);
        PK_ASSERT(h.magic == WAL_MAGIC);
        if (h.len > w->opt.max_record_bytes) return PK_ETOOBIG;
        PK_ASSERT(encoded.len - off - WAL_HDR_BYTES >= h.len);
        mx = PK_MAX(mx, h.slot);
        off += WAL_HDR_BYTES + (size_t)h.len;
    }
    *max_slot = mx;
    return PK_OK;
}

/* Creates, preallocates and makes durable a new active segment able to hold need bytes. */
static int wal_rollover(wal *w, uint64_t first_slot, uint64_t need) {
    PK_ASSERT(w != NULL && need > 0);
    PK_ASSERT(w->replayed && !w->failed);
    uint64_t name = first_slot;
    if (w->seg_count > 0 && name <= w->segs[w->seg_count - 1].name) name = w->segs[w->seg_count - 1].name + 1;
    uint64_t size = PK_MAX(w->opt.segment_bytes, need);
    char path[STORE_PATH_MAX];
    wal_seg_path(w, name, path, sizeof(path));
    int fd;
    int rc = w->d->ops->open(w->d, path, STORE_OPEN_CREATE | STORE_OPEN_TRUNC, &fd);
    if (rc < 0) return rc;
    if (w->d->ops->preallocate) rc = w->d->ops->preallocate(w->d, fd, size);
    else rc = w->d->ops->truncate(w->d, fd, size);
    if (rc == PK_OK) rc = w->d->ops->fdatasync(w->d, fd);
    if (rc == PK_OK) rc = w->d->ops->fsync_dir(w->d, w->dir);
    if (rc < 0) {
        w->d->ops->close(w->d, fd);
        return rc;
    }
    if (w->fd >= 0) w->d->ops->close(w->d, w->fd);
    wal_segs_push(w, name);
    w->fd = fd;
    w->end_off = 0;
    w->active_size = size;
    return PK_OK;
}

/* Writes one encoded batch at the end of the log with one pwrite and one fdatasync. */
int wal_write_sync(wal *w, uint64_t first_slot, pk_slice encoded) {
    PK_ASSERT(w != NULL && w->replayed);
    PK_ASSERT(encoded.len >= WAL_HDR_BYTES && pk_get_u64(encoded.ptr + 12) == first_slot);
    if (w->failed) return PK_EIO;
    uint64_t max_slot;
    int rc = wal_batch_check(w, encoded, &max_slot);
    if (rc < 0) return rc;
    if (w->fd < 0 || encoded.len > w->active_size - w->end_off) {
        rc = wal_rollover(w, first_slot, encoded.len);
        if (rc < 0) {
            w->failed = true;
            return rc;
        }
    }
    rc = w->d->ops->pwrite(w->d, w->fd, encoded.ptr, encoded.len, w->end_off);
    if (rc == PK_OK) rc = w->d->ops->fdatasync(w->d, w->fd);
    if (rc < 0) {
        w->failed = true;
        return rc;
    }
    w->end_off += encoded.len;
    wal_segment *seg = &w->segs[w->seg_count - 1];
    seg->max_slot = seg->has_records ? PK_MAX(seg->max_slot, max_slot) : max_slot;
    seg->has_records = true;
    return PK_OK;
}

/* Deletes every non-active segment whose records are all below slot. */
int wal_drop_below(wal *w, uint64_t slot) {
    PK_ASSERT(w != NULL && w->replayed);
    PK_ASSERT(w->seg_count == 0 || w->fd >= 0);
    size_t kept = 0, dropped = 0;
    int rc = PK_OK;
    for (size_t i = 0; i < w->seg_count; i++) {
        wal_segment seg = w->segs[i];
        bool active = i + 1 == w->seg_count;
        if (!active && rc == PK_OK && (!seg.has_records || seg.max_slot < slot)) {
            char path[STORE_PATH_MAX];
            wal_seg_path(w, seg.name, path, sizeof(path));
            rc = w->d->ops->unlink(w->d, path);
            if (rc == PK_OK) {
                dropped++;
                continue;
            }
        }
        w->segs[kept++] = seg;
    }
    PK_ASSERT(kept + dropped == w->seg_count);
    w->seg_count = kept;
    PK_ASSERT(w->seg_count > 0 || w->fd < 0); /* the active segment is never dropped */
    if (rc < 0) return rc;
    return dropped ? w->d->ops->fsync_dir(w->d, w->dir) : PK_OK;
}
