/* Unit tests for the write-ahead log (src/store/wal.c) on the POSIX disk and the in-memory faulty disk. */
#include <criterion/criterion.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/disk_mem.h"
#include "store/store.h"

/* ---- helpers ---- */

typedef struct rec_copy {
    uint64_t slot, round;
    uint32_t node;
    uint8_t value[4096];
    size_t len;
} rec_copy;

typedef struct recs {
    rec_copy *v;
    size_t n, cap;
} recs;

/* Replay callback: copies each record into a recs list. */
static int collect(void *ctx, const wal_record *r) {
    recs *rs = ctx;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->v = realloc(rs->v, sizeof(rec_copy) * rs->cap);
    }
    rec_copy *c = &rs->v[rs->n++];
    c->slot = r->slot;
    c->round = r->round;
    c->node = r->node;
    c->len = r->value.len;
    if (r->value.len) memcpy(c->value, r->value.ptr, PK_MIN(r->value.len, sizeof(c->value))); /* a prefix */
    return 0;
}

/* Deterministic record content for (slot, round). */
static wal_record make_rec(uint64_t slot, uint64_t round, uint8_t *buf) {
    size_t len = (size_t)((slot * 37 + round * 11) % 300);
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(slot + round + i * 7);
    return (wal_record){.slot = slot, .round = round, .node = (uint32_t)(slot % 5), .value = {len ? buf : NULL, len}};
}

/* Asserts that got[i] equals make_rec of want's (slot, round). */
static void check_rec(const rec_copy *got, uint64_t slot, uint64_t round) {
    uint8_t buf[600];
    wal_record w = make_rec(slot, round, buf);
    cr_assert_eq(got->slot, slot, "slot %" PRIu64 " != %" PRIu64, got->slot, slot);
    cr_assert_eq(got->round, round);
    cr_assert_eq(got->node, w.node);
    cr_assert_eq(got->len, w.value.len);
    cr_assert(got->len == 0 || memcmp(got->value, buf, got->len) == 0);
}

/* Encodes records slot..slot+count-1 at round into buf (reset first). */
static void encode_batch(pk_buf *buf, uint64_t slot, size_t count, uint64_t round) {
    pk_buf_reset(buf);
    for (size_t i = 0; i < count; i++) {
        uint8_t v[600];
        wal_record r = make_rec(slot + i, round, v);
        wal_encode(buf, &r);
    }
}

/* Opens and replays a WAL, returning the replay result; records land in rs. */
static int open_replay(store_disk *d, const char *dir, const wal_options *o, wal **w, recs *rs, char *err,
                       size_t errlen) {
    rs->n = 0;
    int rc = wal_open(d, dir, o, w);
    cr_assert_eq(rc, PK_OK);
    return wal_replay(*w, collect, rs, err, errlen);
}

/* Counts files in dir whose name starts with prefix. */
static size_t count_files(store_disk *d, const char *dir, const char *prefix) {
    char **names;
    size_t n, k = 0;
    cr_assert_eq(d->ops->list(d, dir, &names, &n), PK_OK);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], prefix, strlen(prefix)) == 0) k++;
        free(names[i]);
    }
    free(names);
    return k;
}

/* nftw callback removing one entry. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Creates a fresh temp directory under /tmp. */
static char *tmpdir_new(void) {
    char *t = strdup("/tmp/pk-store-test-XXXXXX");
    cr_assert(mkdtemp(t) != NULL);
    return t;
}

/* Removes a temp directory tree. */
static void tmpdir_free(char *t) {
    nftw(t, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
}

static const wal_options small_opts = {.segment_bytes = 4096, .max_record_bytes = 1024};
#define MEMDIR "/data"

/* Writes `batches` batches of 1..4 records from slot `*next`, advancing it. */
static void write_batches(wal *w, pk_buf *buf, uint64_t *next, size_t batches, uint64_t round) {
    for (size_t b = 0; b < batches; b++) {
        size_t count = 1 + (*next % 4);
        encode_batch(buf, *next, count, round);
        cr_assert_eq(wal_write_sync(w, *next, pk_buf_slice(buf)), PK_OK);
        *next += count;
    }
}

/* Round trip across segment rollovers on a given disk. */
static void roundtrip(store_disk *d, const char *dir) {
    wal *w;
    recs rs = {0};
    char err[512];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, dir, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    cr_assert_eq(rs.n, 0);
    uint64_t next = 1;
    write_batches(w, &buf, &next, 120, 1);
    wal_close(w);
    cr_assert_gt(count_files(d, dir, "wal-"), 5, "expected several segments");
    cr_assert_eq(open_replay(d, dir, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, next - 1);
    for (size_t i = 0; i < rs.n; i++) check_rec(&rs.v[i], i + 1, 1);
    uint64_t before = next;
    write_batches(w, &buf, &next, 30, 1); /* appends continue after replay */
    wal_close(w);
    cr_assert_eq(open_replay(d, dir, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, next - 1);
    cr_assert_gt(next, before);
    for (size_t i = 0; i < rs.n; i++) check_rec(&rs.v[i], i + 1, 1);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
}

Test(store_wal, roundtrip_rollover_posix) {
    char *dir = tmpdir_new();
    roundtrip(store_disk_posix(), dir);
    tmpdir_free(dir);
}

Test(store_wal, roundtrip_rollover_mem) {
    store_disk_mem *m = store_disk_mem_new();
    roundtrip(store_disk_mem_disk(m), MEMDIR);
    store_disk_mem_free(m);
}

Test(store_wal, empty_values_and_big_batch_own_segment) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal_options o = {.segment_bytes = 4096, .max_record_bytes = 4000};
    wal *w;
    recs rs = {0};
    char err[256];
    cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK);
    pk_buf buf;
    pk_buf_init(&buf);
    wal_record noop = {.slot = 1, .round = 2, .node = 3, .value = {NULL, 0}};
    wal_encode(&buf, &noop);
    cr_assert_eq(wal_write_sync(w, 1, pk_buf_slice(&buf)), PK_OK);
    pk_buf_reset(&buf);
    uint8_t big[3000];
    memset(big, 0xAB, sizeof(big));
    for (uint64_t s = 2; s < 5; s++) { /* 3 x 3032 bytes > one segment */
        wal_record r = {.slot = s, .round = 2, .node = 3, .value = {big, sizeof(big)}};
        wal_encode(&buf, &r);
    }
    cr_assert_eq(wal_write_sync(w, 2, pk_buf_slice(&buf)), PK_OK);
    wal_close(w);
    cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, 4);
    cr_assert_eq(rs.v[0].len, 0);
    cr_assert_eq(rs.v[0].node, 3);
    cr_assert_eq(rs.v[3].slot, 4);
    wal_close(w);
    /* a record above max_record_bytes is refused on write */
    wal_options tiny = {.segment_bytes = 4096, .max_record_bytes = 100};
    cr_assert_eq(open_replay(d, "/other", &tiny, &w, &rs, err, sizeof(err)), PK_OK);
    pk_buf_reset(&buf);
    wal_record r = {.slot = 9, .round = 1, .node = 1, .value = {big, 101}};
    wal_encode(&buf, &r);
    cr_assert_eq(wal_write_sync(w, 9, pk_buf_slice(&buf)), PK_ETOOBIG);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, superseding_records_replay_in_log_order) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal *w;
    recs rs = {0};
    char err[256];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    /* slots 10..40 at round 1, then slots 12..13 re-accepted at round 2 (log order must win, also when the
     * re-accepted low slot opens a new segment whose name must still sort after the older ones) */
    uint64_t next = 10;
    write_batches(w, &buf, &next, 20, 1);
    encode_batch(&buf, 12, 2, 2);
    cr_assert_eq(wal_write_sync(w, 12, pk_buf_slice(&buf)), PK_OK);
    for (int i = 0; i < 12; i++) { /* fill up so that a low-slot batch opens a segment */
        encode_batch(&buf, 12, 2, (uint64_t)(3 + i));
        cr_assert_eq(wal_write_sync(w, 12, pk_buf_slice(&buf)), PK_OK);
    }
    wal_close(w);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    uint64_t last_round[256] = {0};
    for (size_t i = 0; i < rs.n; i++) {
        cr_assert_lt(rs.v[i].slot, 256);
        check_rec(&rs.v[i], rs.v[i].slot, rs.v[i].round);
        last_round[rs.v[i].slot] = rs.v[i].round;
    }
    cr_assert_eq(last_round[12], 14);
    cr_assert_eq(last_round[13], 14);
    cr_assert_eq(last_round[14], 1);
    cr_assert_eq(last_round[10], 1);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}

/* Writes `n` synced batches to a fresh mem disk, then one batch of `last_count` records whose fdatasync
 * fails; returns the disk and the encoded last batch length. */
static store_disk_mem *setup_unsynced_tail(const wal_options *o, size_t n, size_t last_count, uint64_t *next,
                                           size_t *last_len, bool *rolls) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal *w;
    recs rs = {0};
    char err[256];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, o, &w, &rs, err, sizeof(err)), PK_OK);
    *next = 1;
    write_batches(w, &buf, next, n, 1);
    encode_batch(&buf, *next, last_count, 1);
    /* mirror the wal's rule (a batch that does not fit opens a segment, whose preallocation is fdatasynced
     * before the batch is written) from the size of the active segment's records */
    uint64_t end = 0, slot = 1;
    for (size_t b = 0; b < n; b++) {
        size_t count = 1 + (slot % 4), len = 0;
        for (size_t i = 0; i < count; i++) {
            uint8_t v[600];
            len += 32 + make_rec(slot + i, 1, v).value.len;
        }
        end = end + len > o->segment_bytes ? len : end + len;
        slot += count;
    }
    bool roll = end + buf.len > o->segment_bytes;
    if (rolls) *rolls = roll;
    store_disk_mem_fail_after(m, STORE_MEM_OP_FDATASYNC, roll ? 1 : 0, PK_EIO, false);
    cr_assert_eq(wal_write_sync(w, *next, pk_buf_slice(&buf)), PK_EIO);
    cr_assert_eq(wal_write_sync(w, *next, pk_buf_slice(&buf)), PK_EIO, "a failed wal refuses more writes");
    store_disk_mem_fail_clear(m);
    *last_len = buf.len;
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    return m;
}

/* Tears the unsynced last batch at every byte and checks replay and later appends. */
static void torn_tail_every_offset(size_t synced_batches, bool want_roll) {
    uint64_t next;
    size_t last_len;
    bool rolls = !want_roll;
    for (; synced_batches < 200 && rolls != want_roll; synced_batches++) {
        store_disk_mem *probe = setup_unsynced_tail(&small_opts, synced_batches, 3, &next, &last_len, &rolls);
        store_disk_mem_free(probe);
    }
    synced_batches--;
    cr_assert_eq(rolls, want_roll);
    /* sizes of the 3 records of the last batch */
    size_t rec_end[3], acc = 0;
    for (size_t i = 0; i < 3; i++) {
        uint8_t v[600];
        wal_record r = make_rec(next + i, 1, v);
        acc += 32 + r.value.len;
        rec_end[i] = acc;
    }
    cr_assert_eq(acc, last_len);
    for (size_t keep = 0; keep <= last_len; keep++) {
        uint64_t nx;
        size_t ll;
        store_disk_mem *m = setup_unsynced_tail(&small_opts, synced_batches, 3, &nx, &ll, NULL);
        store_disk *d = store_disk_mem_disk(m);
        store_disk_mem_crash_tear(m, keep);
        wal *w;
        recs rs = {0};
        char err[256];
        cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "keep %zu: %s", keep, err);
        size_t whole = 0;
        for (size_t i = 0; i < 3; i++) whole += rec_end[i] <= keep;
        bool cut = keep > 0 && keep != rec_end[0] && keep != rec_end[1] && keep != rec_end[2];
        cr_assert_eq(strstr(err, "cut a torn tail") != NULL, cut, "keep %zu: '%s'", keep, err);
        cr_assert_eq(rs.n, next - 1 + whole, "keep %zu: got %zu records", keep, rs.n);
        for (size_t i = 0; i < rs.n; i++) check_rec(&rs.v[i], i + 1, 1);
        /* appends after the cut are clean */
        pk_buf buf;
        pk_buf_init(&buf);
        uint64_t s = next + whole;
        encode_batch(&buf, s, 2, 7);
        cr_assert_eq(wal_write_sync(w, s, pk_buf_slice(&buf)), PK_OK);
        wal_close(w);
        cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "keep %zu: %s", keep, err);
        cr_assert_eq(rs.n, next - 1 + whole + 2);
        check_rec(&rs.v[rs.n - 1], s + 1, 7);
        wal_close(w);
        pk_buf_deinit(&buf);
        free(rs.v);
        store_disk_mem_free(m);
    }
}

Test(store_wal, torn_tail_every_byte_same_segment) { torn_tail_every_offset(2, false); }

Test(store_wal, torn_tail_every_byte_first_in_new_segment) { torn_tail_every_offset(2, true); }

/* Writes 12 single-record batches (all in one segment) and returns the disk. */
static store_disk_mem *setup_twelve(uint64_t *rec_off, char *seg_path, size_t seg_path_len) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    wal *w;
    recs rs = {0};
    char err[256];
    cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK);
    pk_buf buf;
    pk_buf_init(&buf);
    uint64_t off = 0;
    for (uint64_t s = 1; s <= 12; s++) {
        encode_batch(&buf, s, 1, 1);
        rec_off[s] = off;
        off += buf.len;
        cr_assert_eq(wal_write_sync(w, s, pk_buf_slice(&buf)), PK_OK);
    }
    rec_off[13] = off;
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    snprintf(seg_path, seg_path_len, MEMDIR "/wal-%020d.log", 1);
    return m;
}

Test(store_wal, corrupt_middle_record_every_byte) {
    uint64_t off[14];
    char path[128];
    store_disk_mem *probe = setup_twelve(off, path, sizeof(path));
    store_disk_mem_free(probe);
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    for (uint64_t b = off[5]; b < off[6]; b++) { /* every byte of record 5 */
        store_disk_mem *m = setup_twelve(off, path, sizeof(path));
        cr_assert_eq(store_disk_mem_corrupt(m, path, b, 0x10), PK_OK);
        wal *w;
        recs rs = {0};
        char err[512];
        int rc = open_replay(store_disk_mem_disk(m), MEMDIR, &o, &w, &rs, err, sizeof(err));
        cr_assert_eq(rc, PK_ECORRUPT, "byte %" PRIu64 ": rc %d", b, rc);
        char want[64];
        snprintf(want, sizeof(want), "offset %" PRIu64 ":", off[5]);
        cr_assert(strstr(err, "wal-00000000000000000001.log") != NULL, "%s", err);
        cr_assert(strstr(err, want) != NULL, "byte %" PRIu64 ": %s", b, err);
        cr_assert_eq(rs.n, 4, "records before the damage are delivered");
        wal_close(w);
        free(rs.v);
        store_disk_mem_free(m);
    }
}

Test(store_wal, corrupt_last_record_is_cut_like_a_torn_tail) {
    uint64_t off[14];
    char path[128];
    store_disk_mem *m = setup_twelve(off, path, sizeof(path));
    cr_assert_eq(store_disk_mem_corrupt(m, path, off[12] + 40, 0x01), PK_OK);
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    wal *w;
    recs rs = {0};
    char err[512];
    cr_assert_eq(open_replay(store_disk_mem_disk(m), MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, 11);
    wal_close(w);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, garbage_after_clean_end_is_corruption) {
    uint64_t off[14];
    char path[128];
    store_disk_mem *m = setup_twelve(off, path, sizeof(path));
    cr_assert_eq(store_disk_mem_corrupt(m, path, off[13] + 500, 0x40), PK_OK);
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    wal *w;
    recs rs = {0};
    char err[512];
    cr_assert_eq(open_replay(store_disk_mem_disk(m), MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_ECORRUPT);
    cr_assert(strstr(err, "non-zero") != NULL, "%s", err);
    cr_assert_eq(rs.n, 12);
    wal_close(w);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, oversized_length_is_corruption) {
    uint64_t off[14];
    char path[128];
    store_disk_mem *m = setup_twelve(off, path, sizeof(path));
    cr_assert_eq(store_disk_mem_corrupt(m, path, off[12] + 9, 0x40), PK_OK); /* len += 0x400000 */
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    wal *w;
    recs rs = {0};
    char err[512];
    cr_assert_eq(open_replay(store_disk_mem_disk(m), MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_ECORRUPT);
    cr_assert(strstr(err, "exceeds max_record_bytes") != NULL, "%s", err);
    wal_close(w);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, bad_record_in_earlier_segment_is_corruption) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal *w;
    recs rs = {0};
    char err[512];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    uint64_t next = 1;
    write_batches(w, &buf, &next, 40, 1);
    wal_close(w);
    /* damage the first record of the first segment (its last record would also do) */
    cr_assert_eq(store_disk_mem_corrupt(m, MEMDIR "/wal-00000000000000000001.log", 20, 0xff), PK_OK);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_ECORRUPT);
    cr_assert(strstr(err, "wal-00000000000000000001.log offset 0:") != NULL, "%s", err);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, crash_loses_unsynced_and_rollover) {
    uint64_t next;
    size_t len;
    store_disk_mem *m = setup_unsynced_tail(&small_opts, 5, 2, &next, &len, NULL);
    store_disk_mem_crash(m);
    wal *w;
    recs rs = {0};
    char err[256];
    cr_assert_eq(open_replay(store_disk_mem_disk(m), MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, next - 1);
    wal_close(w);
    store_disk_mem_free(m);
    /* a crash after a failed directory fsync during rollover loses the new segment but nothing acknowledged */
    m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    next = 1;
    write_batches(w, &buf, &next, 3, 1);
    store_disk_mem_fail_after(m, STORE_MEM_OP_FSYNC_DIR, 0, PK_EIO, false);
    int rc = PK_OK;
    for (int i = 0; i < 50 && rc == PK_OK; i++) {
        size_t count = 1 + (next % 4);
        encode_batch(&buf, next, count, 1);
        rc = wal_write_sync(w, next, pk_buf_slice(&buf));
        if (rc == PK_OK) next += count;
    }
    cr_assert_eq(rc, PK_EIO);
    wal_close(w);
    store_disk_mem_crash(m);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, next - 1);
    for (size_t i = 0; i < rs.n; i++) check_rec(&rs.v[i], i + 1, 1);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, eio_and_enospc_propagate) {
    uint32_t ops[] = {STORE_MEM_OP_PWRITE, STORE_MEM_OP_FDATASYNC};
    int errs[] = {PK_EIO, PK_ENOSPC};
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            store_disk_mem *m = store_disk_mem_new();
            store_disk *d = store_disk_mem_disk(m);
            wal *w;
            recs rs = {0};
            char err[256];
            pk_buf buf;
            pk_buf_init(&buf);
            cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
            uint64_t next = 1;
            write_batches(w, &buf, &next, 2, 1);
            store_disk_mem_fail_after(m, ops[i], 0, errs[j], false);
            encode_batch(&buf, next, 1, 1);
            cr_assert_eq(wal_write_sync(w, next, pk_buf_slice(&buf)), errs[j]);
            cr_assert(store_disk_mem_fail_fired(m));
            wal_close(w);
            pk_buf_deinit(&buf);
            free(rs.v);
            store_disk_mem_free(m);
        }
    }
    /* a capacity limit makes segment preallocation fail with PK_ENOSPC */
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    store_disk_mem_set_capacity(m, 3 * 4096);
    wal *w;
    recs rs = {0};
    char err[256];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    int rc = PK_OK;
    uint64_t next = 1;
    for (int i = 0; i < 100 && rc == PK_OK; i++) {
        encode_batch(&buf, next, 2, 1);
        rc = wal_write_sync(w, next, pk_buf_slice(&buf));
        next += 2;
    }
    cr_assert_eq(rc, PK_ENOSPC);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, posix_error_mapping) {
    store_disk *d = store_disk_posix();
    int fd;
    cr_assert_eq(d->ops->open(d, "/tmp/pk-store-definitely-missing/x", 0, &fd), PK_ENOENT);
    cr_assert_eq(d->ops->unlink(d, "/tmp/pk-store-definitely-missing-file"), PK_ENOENT);
    cr_assert_eq(d->ops->fsync_dir(d, "/tmp"), PK_OK);
    cr_assert_eq(d->ops->mkdir(d, "/tmp"), PK_OK, "mkdir of an existing dir is ok");
}

/* One countdown run: the n-th mutating op fails once; returns true when the fault fired. */
static bool countdown_run(uint64_t n, bool sticky) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    store_disk_mem_fail_after(m, STORE_MEM_OP_MUTATING, n, PK_EIO, sticky);
    wal *w = NULL;
    recs rs = {0};
    char err[256];
    pk_buf buf;
    pk_buf_init(&buf);
    uint64_t acked = 0, next = 1;
    int rc = wal_open(d, MEMDIR, &small_opts, &w);
    if (rc == PK_OK) rc = wal_replay(w, collect, &rs, err, sizeof(err));
    for (int b = 0; b < 30 && rc == PK_OK; b++) {
        size_t count = 1 + (next % 4);
        encode_batch(&buf, next, count, 1);
        rc = wal_write_sync(w, next, pk_buf_slice(&buf));
        if (rc == PK_OK) acked = next + count - 1;
        next += count;
        if (rc == PK_OK && b == 20) rc = wal_drop_below(w, 10);
    }
    cr_assert(rc == PK_OK || rc == PK_EIO);
    wal_close(w);
    bool fired = store_disk_mem_fail_fired(m);
    store_disk_mem_fail_clear(m);
    store_disk_mem_crash(m);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "n=%" PRIu64 ": %s", n, err);
    /* the log ends exactly at the last acknowledged record (unsynced data is lost), in order, nothing invented */
    if (acked == 0) cr_assert_eq(rs.n, 0, "n=%" PRIu64, n);
    else cr_assert(rs.n > 0 && rs.v[rs.n - 1].slot == acked, "n=%" PRIu64 ": acked %" PRIu64, n, acked);
    for (size_t i = 0; i + 1 < rs.n; i++) cr_assert_eq(rs.v[i + 1].slot, rs.v[i].slot + 1);
    for (size_t i = 0; i < rs.n; i++) check_rec(&rs.v[i], rs.v[i].slot, 1);
    cr_assert(rs.n == 0 || rs.v[rs.n - 1].slot < next);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
    return fired;
}

Test(store_wal, countdown_fault_then_crash_recovers) {
    uint64_t n = 0;
    for (; n < 10000 && countdown_run(n, false); n++) {}
    cr_assert_gt(n, 50, "the workload has that many mutating ops");
    cr_assert_lt(n, 10000);
    for (uint64_t k = 0; k < n; k += 7) countdown_run(k, true);
}

Test(store_wal, random_crash_never_corrupts) {
    for (uint64_t seed = 1; seed <= 300; seed++) {
        pk_prng r;
        pk_prng_seed(&r, seed);
        store_disk_mem *m = store_disk_mem_new();
        store_disk *d = store_disk_mem_disk(m);
        wal *w;
        recs rs = {0};
        char err[256];
        pk_buf buf;
        pk_buf_init(&buf);
        uint64_t next = 1, acked = 0;
        for (int round = 0; round < 3; round++) {
            cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "seed %" PRIu64 ": %s", seed, err);
            cr_assert(rs.n >= acked, "seed %" PRIu64 ": lost acknowledged records", seed);
            for (size_t i = 0; i < rs.n; i++) cr_assert_eq(rs.v[i].slot, i + 1);
            next = rs.n + 1;
            store_disk_mem_fail_after(m, STORE_MEM_OP_FDATASYNC | STORE_MEM_OP_FSYNC_DIR, pk_prng_below(&r, 12), PK_EIO, false);
            int rc = PK_OK;
            for (int b = 0; b < 20 && rc == PK_OK; b++) {
                size_t count = 1 + pk_prng_below(&r, 4);
                encode_batch(&buf, next, count, 1);
                rc = wal_write_sync(w, next, pk_buf_slice(&buf));
                if (rc == PK_OK) acked = next + count - 1;
                if (rc == PK_OK) next += count;
            }
            wal_close(w);
            store_disk_mem_fail_clear(m);
            store_disk_mem_crash_random(m, &r);
        }
        pk_buf_deinit(&buf);
        free(rs.v);
        store_disk_mem_free(m);
    }
}

Test(store_wal, drop_below_deletes_old_segments_only) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal *w;
    recs rs = {0};
    char err[256];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    uint64_t next = 1;
    write_batches(w, &buf, &next, 60, 1);
    size_t before = count_files(d, MEMDIR, "wal-");
    cr_assert_gt(before, 4);
    cr_assert_eq(wal_drop_below(w, 0), PK_OK);
    cr_assert_eq(count_files(d, MEMDIR, "wal-"), before);
    cr_assert_eq(wal_drop_below(w, next / 2), PK_OK);
    size_t mid = count_files(d, MEMDIR, "wal-");
    cr_assert_lt(mid, before);
    cr_assert_gt(mid, 1);
    wal_close(w);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_leq(rs.v[0].slot, next / 2, "segments holding slots >= the bound are kept");
    cr_assert_eq(rs.v[rs.n - 1].slot, next - 1);
    cr_assert_eq(wal_drop_below(w, UINT64_MAX), PK_OK);
    cr_assert_eq(count_files(d, MEMDIR, "wal-"), 1, "the active segment is never dropped");
    write_batches(w, &buf, &next, 3, 1);
    wal_close(w);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.v[rs.n - 1].slot, next - 1);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}

Test(store_wal, bad_length_covering_later_records_is_corruption) {
    uint64_t off[14];
    char path[128];
    store_disk_mem *m = setup_twelve(off, path, sizeof(path));
    /* record 10's len grows by 512 so that it spans records 11 and 12: still corruption, not a torn tail */
    cr_assert_lt(off[13] - off[10], 32 + 512);
    cr_assert_eq(store_disk_mem_corrupt(m, path, off[10] + 10, 0x02), PK_OK);
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    wal *w;
    recs rs = {0};
    char err[512];
    cr_assert_eq(open_replay(store_disk_mem_disk(m), MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_ECORRUPT);
    char want[96];
    snprintf(want, sizeof(want), "followed by a valid record at offset %" PRIu64, off[11]);
    cr_assert(strstr(err, want) != NULL, "%s", err);
    cr_assert_eq(rs.n, 9);
    wal_close(w);
    free(rs.v);
    store_disk_mem_free(m);
}

/* Path of the single segment a fresh posix test dir has. */
static void first_segment_path(const char *dir, char *out, size_t len) {
    snprintf(out, len, "%s/wal-%020d.log", dir, 1);
}

Test(store_wal, posix_preallocated_torn_tail_and_corruption) {
    char *dir = tmpdir_new();
    store_disk *d = store_disk_posix();
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 1024};
    wal *w;
    recs rs = {0};
    char err[512];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, dir, &o, &w, &rs, err, sizeof(err)), PK_OK);
    uint64_t end = 0;
    for (uint64_t s = 1; s <= 5; s++) {
        encode_batch(&buf, s, 1, 1);
        cr_assert_eq(wal_write_sync(w, s, pk_buf_slice(&buf)), PK_OK);
        end += buf.len;
    }
    wal_close(w);
    char seg[4200];
    first_segment_path(dir, seg, sizeof(seg));
    struct stat st;
    cr_assert_eq(stat(seg, &st), 0);
    cr_assert_eq(st.st_size, 1 << 16, "segments are preallocated");
    /* a torn write: the first 45 bytes of a 6th record after the end */
    encode_batch(&buf, 6, 1, 1);
    FILE *f = fopen(seg, "r+b");
    cr_assert(f != NULL);
    cr_assert_eq(fseek(f, (long)end, SEEK_SET), 0);
    cr_assert_eq(fwrite(buf.data, 1, 45, f), 45);
    fclose(f);
    cr_assert_eq(open_replay(d, dir, &o, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, 5);
    wal_close(w);
    /* the cut left zeros: a second replay is clean too, and a flipped byte in record 2 is corruption */
    cr_assert_eq(open_replay(d, dir, &o, &w, &rs, err, sizeof(err)), PK_OK, "%s", err);
    cr_assert_eq(rs.n, 5);
    wal_close(w);
    f = fopen(seg, "r+b");
    cr_assert(f != NULL);
    uint8_t v[600];
    long off2 = (long)(32 + make_rec(1, 1, v).value.len) + 33;
    cr_assert_eq(fseek(f, off2, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, off2, SEEK_SET), 0);
    fputc(c ^ 1, f);
    fclose(f);
    cr_assert_eq(open_replay(d, dir, &o, &w, &rs, err, sizeof(err)), PK_ECORRUPT);
    cr_assert(strstr(err, seg) != NULL, "%s", err);
    cr_assert_eq(rs.n, 1);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    tmpdir_free(dir);
}

Test(store_wal, crash_while_cutting_a_torn_tail) {
    wal_options o = {.segment_bytes = 1 << 16, .max_record_bytes = 16384};
    uint8_t big[12000];
    memset(big, 0x77, sizeof(big));
    for (uint64_t fail_at = 0; fail_at < 2; fail_at++) {
        for (uint64_t seed = 1; seed <= 40; seed++) {
            store_disk_mem *m = store_disk_mem_new();
            store_disk *d = store_disk_mem_disk(m);
            wal *w;
            recs rs = {0};
            char err[256];
            pk_buf buf;
            pk_buf_init(&buf);
            cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK);
            encode_batch(&buf, 1, 3, 1);
            cr_assert_eq(wal_write_sync(w, 1, pk_buf_slice(&buf)), PK_OK);
            pk_buf_reset(&buf);
            wal_record r = {.slot = 4, .round = 1, .node = 1, .value = {big, sizeof(big)}};
            wal_encode(&buf, &r);
            store_disk_mem_fail_after(m, STORE_MEM_OP_FDATASYNC, 0, PK_EIO, false);
            cr_assert_eq(wal_write_sync(w, 4, pk_buf_slice(&buf)), PK_EIO);
            wal_close(w);
            store_disk_mem_crash_tear(m, 11000); /* a torn record spanning several 4 KiB zeroing writes */
            store_disk_mem_fail_after(m, STORE_MEM_OP_FDATASYNC, fail_at, PK_EIO, false);
            cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_EIO);
            wal_close(w);
            store_disk_mem_fail_clear(m);
            pk_prng pr;
            pk_prng_seed(&pr, seed);
            store_disk_mem_crash_random(m, &pr);
            cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK,
                         "fail_at %" PRIu64 " seed %" PRIu64 ": %s", fail_at, seed, err);
            cr_assert_eq(rs.n, 3);
            wal_close(w);
            pk_buf_deinit(&buf);
            free(rs.v);
            store_disk_mem_free(m);
        }
    }
}

Test(store_wal, records_larger_than_the_read_window) {
    wal_options o = {.segment_bytes = 1 << 20, .max_record_bytes = 12u << 20};
    size_t big = (5u << 20) + 3;
    uint8_t *v = malloc(big);
    for (size_t i = 0; i < big; i++) v[i] = (uint8_t)(i * 13 + 1);
    size_t keeps[] = {0, 31, 32, 4u << 20, big + 31, big + 32};
    for (size_t k = 0; k < PK_ARRAY_LEN(keeps); k++) {
        store_disk_mem *m = store_disk_mem_new();
        store_disk *d = store_disk_mem_disk(m);
        wal *w;
        recs rs = {0};
        char err[256];
        pk_buf buf;
        pk_buf_init(&buf);
        cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK);
        encode_batch(&buf, 1, 2, 1);
        cr_assert_eq(wal_write_sync(w, 1, pk_buf_slice(&buf)), PK_OK);
        pk_buf_reset(&buf);
        wal_record r = {.slot = 3, .round = 1, .node = 1, .value = {v, big}};
        wal_encode(&buf, &r);
        cr_assert_eq(wal_write_sync(w, 3, pk_buf_slice(&buf)), PK_OK);
        encode_batch(&buf, 4, 1, 1);
        cr_assert_eq(wal_write_sync(w, 4, pk_buf_slice(&buf)), PK_OK);
        pk_buf_reset(&buf);
        r.slot = 5;
        wal_encode(&buf, &r);
        store_disk_mem_fail_after(m, STORE_MEM_OP_FDATASYNC, 1, PK_EIO, false); /* rollover syncs first */
        cr_assert_eq(wal_write_sync(w, 5, pk_buf_slice(&buf)), PK_EIO);
        wal_close(w);
        store_disk_mem_crash_tear(m, keeps[k]);
        cr_assert_eq(open_replay(d, MEMDIR, &o, &w, &rs, err, sizeof(err)), PK_OK, "keep %zu: %s", keeps[k], err);
        size_t want = 4 + (keeps[k] >= big + 32);
        cr_assert_eq(rs.n, 0 + want, "keep %zu: %zu records", keeps[k], rs.n);
        cr_assert_eq(rs.v[1].slot, 2);
        cr_assert_eq(rs.v[2].len, big);
        cr_assert(memcmp(rs.v[2].value, v, sizeof(rs.v[2].value)) == 0);
        cr_assert_eq(rs.v[3].slot, 4);
        wal_close(w);
        pk_buf_deinit(&buf);
        free(rs.v);
        store_disk_mem_free(m);
    }
    free(v);
}

Test(store_wal, damaged_last_record_of_an_earlier_segment_is_corruption) {
    store_disk_mem *m = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(m);
    wal *w;
    recs rs = {0};
    char err[512];
    pk_buf buf;
    pk_buf_init(&buf);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_OK);
    uint64_t next = 1;
    write_batches(w, &buf, &next, 40, 1);
    wal_close(w);
    const char *seg1 = MEMDIR "/wal-00000000000000000001.log";
    cr_assert_eq(store_disk_mem_read_file(m, seg1, &buf), PK_OK);
    size_t off = 0, last = 0, count = 0;
    while (off + 32 <= buf.len && pk_get_u32(buf.data + off) != 0) { /* walk the records of segment 1 */
        last = off;
        off += 32 + pk_get_u32(buf.data + off + 8);
        count++;
    }
    cr_assert_gt(count, 2);
    cr_assert_eq(store_disk_mem_corrupt(m, seg1, last + 33, 0x08), PK_OK);
    cr_assert_eq(open_replay(d, MEMDIR, &small_opts, &w, &rs, err, sizeof(err)), PK_ECORRUPT);
    char want[128];
    snprintf(want, sizeof(want), "%s offset %zu: bad record followed by data in later segment", seg1, last);
    cr_assert(strstr(err, want) != NULL, "%s", err);
    cr_assert_eq(rs.n, count - 1);
    wal_close(w);
    pk_buf_deinit(&buf);
    free(rs.v);
    store_disk_mem_free(m);
}
