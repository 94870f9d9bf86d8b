/* Unit tests for the meta file and snapshot files (src/store/meta.c, snap.c), on POSIX and in-memory disks. */
#include <criterion/criterion.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/disk_mem.h"
#include "store/store.h"

#define MEMDIR "/data"

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

/* Fills a payload of n bytes deterministically from seed. */
static uint8_t *payload_new(size_t n, uint64_t seed) {
    uint8_t *p = malloc(n ? n : 1);
    pk_prng r;
    pk_prng_seed(&r, seed);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = pk_prng_next(&r);
        memcpy(p + i, &v, PK_MIN((size_t)8, n - i));
    }
    return p;
}

/* Checks that the newest valid snapshot is `slot` with payload (n, seed). */
static void expect_latest(store_disk *d, const char *dir, uint64_t slot, size_t n, uint64_t seed, char *err,
                          size_t errlen) {
    pk_buf buf;
    pk_buf_init(&buf);
    uint64_t got = 0;
    int rc = store_snap_load_latest(d, dir, &buf, &got, err, errlen);
    cr_assert_eq(rc, PK_OK, "rc %d: %s", rc, err);
    cr_assert_eq(got, slot);
    cr_assert_eq(buf.len, n);
    uint8_t *want = payload_new(n, seed);
    cr_assert(n == 0 || memcmp(buf.data, want, n) == 0);
    free(want);
    pk_buf_deinit(&buf);
}

/* Writes a snapshot of n bytes from seed. */
static void write_snap(store_disk *d, const char *dir, uint64_t slot, size_t n, uint64_t seed) {
    uint8_t *p = payload_new(n, seed);
    cr_assert_eq(store_snap_write(d, dir, slot, (pk_slice){p, n}), PK_OK);
    free(p);
}

/* ---- meta ---- */

/* Meta round trip on a disk whose dir exists. */
static void meta_roundtrip(store_disk *d, const char *dir) {
    store_meta m;
    cr_assert_eq(store_meta_read(d, dir, &m), PK_ENOENT);
    store_meta a = {.node_id = 3, .promised_round = 0x0102030405060708ull, .promised_node = 2};
    cr_assert_eq(store_meta_write(d, dir, &a), PK_OK);
    cr_assert_eq(store_meta_read(d, dir, &m), PK_OK);
    cr_assert(m.node_id == 3 && m.promised_round == a.promised_round && m.promised_node == 2);
    a.promised_round = 99;
    a.promised_node = 5;
    cr_assert_eq(store_meta_write(d, dir, &a), PK_OK);
    cr_assert_eq(store_meta_read(d, dir, &m), PK_OK);
    cr_assert(m.promised_round == 99 && m.promised_node == 5 && m.node_id == 3);
}

Test(store_meta, roundtrip_posix_and_garbage_temp_file) {
    char *dir = tmpdir_new();
    store_disk *d = store_disk_posix();
    meta_roundtrip(d, dir);
    /* a torn temp file left by a crash does not affect the current meta, and the next write replaces it */
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s/meta.tmp", dir);
    FILE *f = fopen(tmp, "wb");
    cr_assert(f != NULL);
    fwrite("PKM", 1, 3, f);
    fclose(f);
    store_meta m;
    cr_assert_eq(store_meta_read(d, dir, &m), PK_OK);
    cr_assert_eq(m.promised_round, 99);
    store_meta b = {.node_id = 3, .promised_round = 100, .promised_node = 1};
    cr_assert_eq(store_meta_write(d, dir, &b), PK_OK);
    cr_assert_eq(store_meta_read(d, dir, &m), PK_OK);
    cr_assert_eq(m.promised_round, 100);
    tmpdir_free(dir);
}

Test(store_meta, roundtrip_mem_and_corruption) {
    store_disk_mem *mm = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(mm);
    cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
    meta_roundtrip(d, MEMDIR);
    for (uint64_t off = 0; off < 28; off++) {
        cr_assert_eq(store_disk_mem_corrupt(mm, MEMDIR "/meta", off, 0x04), PK_OK);
        store_meta m;
        cr_assert_eq(store_meta_read(d, MEMDIR, &m), PK_ECORRUPT, "byte %" PRIu64, off);
        cr_assert_eq(store_disk_mem_corrupt(mm, MEMDIR "/meta", off, 0x04), PK_OK);
        cr_assert_eq(store_meta_read(d, MEMDIR, &m), PK_OK);
    }
    store_disk_mem_free(mm);
}

Test(store_meta, torn_temp_write_keeps_old_meta) {
    for (size_t keep = 0; keep <= 28; keep++) {
        store_disk_mem *mm = store_disk_mem_new();
        store_disk *d = store_disk_mem_disk(mm);
        cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
        store_meta a = {.node_id = 1, .promised_round = 7, .promised_node = 1};
        cr_assert_eq(store_meta_write(d, MEMDIR, &a), PK_OK);
        store_meta b = {.node_id = 1, .promised_round = 8, .promised_node = 2};
        store_disk_mem_fail_after(mm, STORE_MEM_OP_FDATASYNC, 0, PK_EIO, false);
        cr_assert_eq(store_meta_write(d, MEMDIR, &b), PK_EIO);
        cr_assert_eq(d->ops->fsync_dir(d, MEMDIR), PK_OK); /* even if the temp file's entry is durable */
        store_disk_mem_crash_tear(mm, keep);
        store_meta m;
        cr_assert_eq(store_meta_read(d, MEMDIR, &m), PK_OK, "keep %zu", keep);
        cr_assert_eq(m.promised_round, 7);
        cr_assert_eq(store_meta_write(d, MEMDIR, &b), PK_OK);
        cr_assert_eq(store_meta_read(d, MEMDIR, &m), PK_OK);
        cr_assert_eq(m.promised_round, 8);
        store_disk_mem_free(mm);
    }
}

Test(store_meta, countdown_fault_then_crash_gives_old_or_new) {
    uint64_t n = 0;
    bool fired = true;
    for (; n < 1000 && fired; n++) {
        store_disk_mem *mm = store_disk_mem_new();
        store_disk *d = store_disk_mem_disk(mm);
        cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
        store_meta a = {.node_id = 1, .promised_round = 7, .promised_node = 1};
        cr_assert_eq(store_meta_write(d, MEMDIR, &a), PK_OK);
        store_meta b = {.node_id = 1, .promised_round = 8, .promised_node = 2};
        store_disk_mem_fail_after(mm, STORE_MEM_OP_MUTATING, n, PK_EIO, false);
        int rc = store_meta_write(d, MEMDIR, &b);
        fired = store_disk_mem_fail_fired(mm);
        cr_assert_eq(rc, fired ? PK_EIO : PK_OK);
        store_disk_mem_fail_clear(mm);
        store_disk_mem_crash(mm);
        store_meta m;
        int rrc = store_meta_read(d, MEMDIR, &m);
        cr_assert_eq(rrc, PK_OK, "n=%" PRIu64 ": rc %d", n, rrc);
        cr_assert(m.promised_round == 7 || m.promised_round == 8);
        if (rc == PK_OK) cr_assert_eq(m.promised_round, 8, "an acknowledged write survives");
        store_disk_mem_free(mm);
    }
    cr_assert_gt(n, 4);
}

/* ---- snapshots ---- */

Test(store_snap, newest_valid_chosen_damaged_skipped_prune) {
    store_disk_mem *mm = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(mm);
    cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
    char err[1024];
    pk_buf buf;
    pk_buf_init(&buf);
    uint64_t slot;
    cr_assert_eq(store_snap_load_latest(d, MEMDIR, &buf, &slot, err, sizeof(err)), PK_ENOENT);
    write_snap(d, MEMDIR, 10, 1000, 1);
    write_snap(d, MEMDIR, 20, 0, 2);
    write_snap(d, MEMDIR, 300, 5000, 3);
    expect_latest(d, MEMDIR, 300, 5000, 3, err, sizeof(err));
    cr_assert_str_empty(err);
    /* damage the newest payload: the one before it is chosen, with a message naming the damaged file */
    const char *p300 = MEMDIR "/snap-00000000000000000300.snap";
    cr_assert_eq(store_disk_mem_corrupt(mm, p300, 32 + 4000, 0x80), PK_OK);
    expect_latest(d, MEMDIR, 20, 0, 2, err, sizeof(err));
    cr_assert(strstr(err, "snap-00000000000000000300.snap") != NULL, "%s", err);
    cr_assert(strstr(err, "payload checksum") != NULL, "%s", err);
    /* damage the header of 20 too: 10 is chosen and both are named */
    cr_assert_eq(store_disk_mem_corrupt(mm, MEMDIR "/snap-00000000000000000020.snap", 9, 0x01), PK_OK);
    expect_latest(d, MEMDIR, 10, 1000, 1, err, sizeof(err));
    cr_assert(strstr(err, "00000000000000000020.snap") != NULL && strstr(err, "00000000000000000300.snap"), "%s", err);
    /* all damaged: corruption, not "none" */
    cr_assert_eq(store_disk_mem_corrupt(mm, MEMDIR "/snap-00000000000000000010.snap", 0, 0x01), PK_OK);
    cr_assert_eq(store_snap_load_latest(d, MEMDIR, &buf, &slot, err, sizeof(err)), PK_ECORRUPT);
    cr_assert(strstr(err, "00000000000000000010.snap") != NULL, "%s", err);
    /* prune keeps the newest `keep` files (by slot) and removes temp leftovers */
    write_snap(d, MEMDIR, 400, 77, 4);
    int fd;
    cr_assert_eq(d->ops->open(d, MEMDIR "/snap-00000000000000000500.tmp", STORE_OPEN_CREATE, &fd), PK_OK);
    cr_assert_eq(d->ops->close(d, fd), PK_OK);
    cr_assert_eq(store_snap_prune(d, MEMDIR, 2), PK_OK);
    cr_assert(!store_disk_mem_exists(mm, MEMDIR "/snap-00000000000000000010.snap"));
    cr_assert(!store_disk_mem_exists(mm, MEMDIR "/snap-00000000000000000020.snap"));
    cr_assert(store_disk_mem_exists(mm, p300));
    cr_assert(store_disk_mem_exists(mm, MEMDIR "/snap-00000000000000000400.snap"));
    cr_assert(!store_disk_mem_exists(mm, MEMDIR "/snap-00000000000000000500.tmp"));
    expect_latest(d, MEMDIR, 400, 77, 4, err, sizeof(err));
    cr_assert_eq(store_snap_prune(d, MEMDIR, 0), PK_OK);
    cr_assert_eq(store_snap_load_latest(d, MEMDIR, &buf, &slot, err, sizeof(err)), PK_ENOENT);
    pk_buf_deinit(&buf);
    store_disk_mem_free(mm);
}

Test(store_snap, truncated_or_misnamed_snapshot_skipped) {
    store_disk_mem *mm = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(mm);
    cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
    char err[1024];
    write_snap(d, MEMDIR, 5, 100, 1);
    write_snap(d, MEMDIR, 6, 100, 2);
    int fd;
    cr_assert_eq(d->ops->open(d, MEMDIR "/snap-00000000000000000006.snap", 0, &fd), PK_OK);
    cr_assert_eq(d->ops->truncate(d, fd, 100), PK_OK);
    cr_assert_eq(d->ops->close(d, fd), PK_OK);
    expect_latest(d, MEMDIR, 5, 100, 1, err, sizeof(err));
    cr_assert(strstr(err, "file size") != NULL, "%s", err);
    /* a valid snapshot renamed to a higher slot does not verify (the slot is in the header) */
    cr_assert_eq(d->ops->rename(d, MEMDIR "/snap-00000000000000000005.snap", MEMDIR "/snap-00000000000000000009.snap"), PK_OK);
    pk_buf buf;
    pk_buf_init(&buf);
    uint64_t slot;
    cr_assert_eq(store_snap_load_latest(d, MEMDIR, &buf, &slot, err, sizeof(err)), PK_ECORRUPT);
    cr_assert(strstr(err, "slot differs") != NULL, "%s", err);
    pk_buf_deinit(&buf);
    store_disk_mem_free(mm);
}

Test(store_snap, crash_during_write_keeps_previous) {
    uint64_t n = 0;
    bool fired = true;
    for (; n < 1000 && fired; n++) {
        store_disk_mem *mm = store_disk_mem_new();
        store_disk *d = store_disk_mem_disk(mm);
        cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
        char err[1024];
        write_snap(d, MEMDIR, 10, 3000, 1);
        store_disk_mem_fail_after(mm, STORE_MEM_OP_MUTATING, n, PK_EIO, false);
        uint8_t *p = payload_new(9000, 2);
        int rc = store_snap_write(d, MEMDIR, 20, (pk_slice){p, 9000});
        free(p);
        fired = store_disk_mem_fail_fired(mm);
        cr_assert_eq(rc, fired ? PK_EIO : PK_OK);
        store_disk_mem_fail_clear(mm);
        store_disk_mem_crash(mm);
        if (rc == PK_OK) expect_latest(d, MEMDIR, 20, 9000, 2, err, sizeof(err));
        else {
            pk_buf buf;
            pk_buf_init(&buf);
            uint64_t slot;
            cr_assert_eq(store_snap_load_latest(d, MEMDIR, &buf, &slot, err, sizeof(err)), PK_OK, "n=%" PRIu64 ": %s", n, err);
            cr_assert(slot == 10 || slot == 20);
            pk_buf_deinit(&buf);
        }
        store_disk_mem_free(mm);
    }
    cr_assert_gt(n, 5);
}

Test(store_snap, large_payload_posix) {
    char *dir = tmpdir_new();
    store_disk *d = store_disk_posix();
    char err[1024];
    size_t n = (20u << 20) + 12345; /* spans several 8 MiB chunks */
    write_snap(d, dir, 1, 10, 1);
    write_snap(d, dir, 1ull << 40, n, 9);
    expect_latest(d, dir, 1ull << 40, n, 9, err, sizeof(err));
    cr_assert_eq(store_snap_prune(d, dir, 1), PK_OK);
    char path[512];
    snprintf(path, sizeof(path), "%s/snap-00000000000000000001.snap", dir);
    cr_assert_eq(access(path, F_OK), -1);
    tmpdir_free(dir);
}

/* ---- in-memory disk model itself ---- */

Test(store_disk_mem, directory_entries_need_fsync_dir) {
    store_disk_mem *mm = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(mm);
    int fd;
    cr_assert_eq(d->ops->open(d, "/nodir/x", STORE_OPEN_CREATE, &fd), PK_ENOENT);
    cr_assert_eq(d->ops->mkdir(d, "/a"), PK_OK);
    cr_assert_eq(d->ops->open(d, "/a/x", STORE_OPEN_CREATE, &fd), PK_OK);
    cr_assert_eq(d->ops->pwrite(d, fd, "hello", 5, 0), PK_OK);
    cr_assert_eq(d->ops->fdatasync(d, fd), PK_OK);
    store_disk_mem_crash(mm);
    cr_assert(!store_disk_mem_exists(mm, "/a/x"), "created file without dir fsync is lost");
    cr_assert_eq(d->ops->pwrite(d, fd, "x", 1, 0), PK_EIO, "fds die in a crash");
    cr_assert_eq(d->ops->close(d, fd), PK_OK);
    cr_assert_eq(d->ops->open(d, "/a/x", STORE_OPEN_CREATE, &fd), PK_OK);
    cr_assert_eq(d->ops->pwrite(d, fd, "hello", 5, 0), PK_OK);
    cr_assert_eq(d->ops->fdatasync(d, fd), PK_OK);
    cr_assert_eq(d->ops->fsync_dir(d, "/a"), PK_OK);
    cr_assert_eq(d->ops->pwrite(d, fd, "J", 1, 0), PK_OK);
    cr_assert_eq(d->ops->rename(d, "/a/x", "/a/y"), PK_OK);
    store_disk_mem_crash(mm);
    pk_buf b;
    pk_buf_init(&b);
    cr_assert_eq(store_disk_mem_read_file(mm, "/a/x", &b), PK_OK, "unsynced rename is lost");
    cr_assert_eq(b.len, 5);
    cr_assert(memcmp(b.data, "hello", 5) == 0, "unsynced write is lost");
    cr_assert(!store_disk_mem_exists(mm, "/a/y"));
    cr_assert_gt(store_disk_mem_op_count(mm, STORE_MEM_OP_PWRITE), 2);
    pk_buf_deinit(&b);
    store_disk_mem_free(mm);
}

Test(store_snap, enospc_keeps_previous_and_cleans_temp) {
    store_disk_mem *mm = store_disk_mem_new();
    store_disk *d = store_disk_mem_disk(mm);
    cr_assert_eq(d->ops->mkdir(d, MEMDIR), PK_OK);
    char err[512];
    write_snap(d, MEMDIR, 1, 1000, 1);
    store_disk_mem_set_capacity(mm, 50000);
    uint8_t *p = payload_new(100000, 2);
    cr_assert_eq(store_snap_write(d, MEMDIR, 2, (pk_slice){p, 100000}), PK_ENOSPC);
    free(p);
    cr_assert(!store_disk_mem_exists(mm, MEMDIR "/snap-00000000000000000002.tmp"));
    expect_latest(d, MEMDIR, 1, 1000, 1, err, sizeof(err));
    store_meta m = {.node_id = 1, .promised_round = 2, .promised_node = 1};
    store_disk_mem_fail_after(mm, STORE_MEM_OP_PWRITE, 0, PK_ENOSPC, false);
    cr_assert_eq(store_meta_write(d, MEMDIR, &m), PK_ENOSPC);
    store_disk_mem_free(mm);
}

Test(store_snap, posix_enospc_maps_from_dev_full) {
    store_disk *d = store_disk_posix();
    int fd;
    cr_assert_eq(d->ops->open(d, "/dev/full", 0, &fd), PK_OK);
    cr_assert_eq(d->ops->pwrite(d, fd, "x", 1, 0), PK_ENOSPC);
    cr_assert_eq(d->ops->close(d, fd), PK_OK);
}
