/* Unit tests for the simulator's own in-memory disk (tests/sim/sim_disk.c): what survives a crash, torn last
 * writes, namespace durability, countdown faults. The source is compiled into this test directly. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../sim/sim_disk.c"

/* Opens path on d, asserting success. */
static int open_ok(sim_disk *d, const char *path, int flags) {
    int fd = -1;
    cr_assert_eq(d->disk.ops->open(&d->disk, path, flags, &fd), PK_OK);
    return fd;
}

/* Returns the size of the file at path (which must exist). */
static uint64_t file_size(sim_disk *d, const char *path) {
    int fd = open_ok(d, path, 0);
    uint64_t size = 0;
    cr_assert_eq(d->disk.ops->size(&d->disk, fd, &size), PK_OK);
    d->disk.ops->close(&d->disk, fd);
    return size;
}

Test(sim_disk, crash_keeps_synced_and_loses_unsynced) {
    sim_disk d;
    sim_disk_init(&d);
    pk_prng r;
    pk_prng_seed(&r, 1);
    const store_disk_ops *o = d.disk.ops;
    cr_assert_eq(o->mkdir(&d.disk, "/d"), PK_OK);
    int fd = open_ok(&d, "/d/f", STORE_OPEN_CREATE);
    cr_assert_eq(o->pwrite(&d.disk, fd, "abcd", 4, 0), PK_OK);
    cr_assert_eq(o->fdatasync(&d.disk, fd), PK_OK);
    cr_assert_eq(o->fsync_dir(&d.disk, "/d"), PK_OK);
    cr_assert_eq(o->pwrite(&d.disk, fd, "efgh", 4, 4), PK_OK);
    cr_assert_eq(file_size(&d, "/d/f"), 8);
    /* tear at a random prefix: the synced 4 bytes always survive, at most 4 more */
    sim_disk_crash(&d, &r);
    uint64_t size = file_size(&d, "/d/f");
    cr_assert(size >= 4 && size <= 8, "size %llu", (unsigned long long)size);
    fd = open_ok(&d, "/d/f", 0);
    char buf[8] = {0};
    size_t got = 0;
    cr_assert_eq(o->pread(&d.disk, fd, buf, 8, 0, &got), PK_OK);
    cr_assert_eq(got, size);
    cr_assert(memcmp(buf, "abcd", 4) == 0);
    cr_assert(memcmp(buf + 4, "efgh", got - 4) == 0);
    sim_disk_deinit(&d);
}

Test(sim_disk, names_need_fsync_dir) {
    sim_disk d;
    sim_disk_init(&d);
    pk_prng r;
    pk_prng_seed(&r, 2);
    const store_disk_ops *o = d.disk.ops;
    o->mkdir(&d.disk, "/d");
    int fd = open_ok(&d, "/d/tmp", STORE_OPEN_CREATE);
    o->pwrite(&d.disk, fd, "x", 1, 0);
    o->fdatasync(&d.disk, fd);
    o->close(&d.disk, fd);
    cr_assert_eq(o->rename(&d.disk, "/d/tmp", "/d/meta"), PK_OK);
    sim_disk_crash(&d, &r); /* neither the create nor the rename was made durable */
    fd = -1;
    cr_assert_eq(o->open(&d.disk, "/d/meta", 0, &fd), PK_ENOENT);
    cr_assert_eq(o->open(&d.disk, "/d/tmp", 0, &fd), PK_ENOENT);
    fd = open_ok(&d, "/d/tmp", STORE_OPEN_CREATE);
    o->pwrite(&d.disk, fd, "y", 1, 0);
    o->fdatasync(&d.disk, fd);
    o->close(&d.disk, fd);
    o->rename(&d.disk, "/d/tmp", "/d/meta");
    o->fsync_dir(&d.disk, "/d");
    sim_disk_crash(&d, &r);
    cr_assert_eq(file_size(&d, "/d/meta"), 1);
    char **names = NULL;
    size_t count = 0;
    cr_assert_eq(o->list(&d.disk, "/d", &names, &count), PK_OK);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(names[0], "meta");
    free(names[0]);
    free(names);
    sim_disk_deinit(&d);
}

Test(sim_disk, countdown_fault_fails_without_effect) {
    sim_disk d;
    sim_disk_init(&d);
    const store_disk_ops *o = d.disk.ops;
    o->mkdir(&d.disk, "/d");
    int fd = open_ok(&d, "/d/f", STORE_OPEN_CREATE);
    sim_disk_fail_after(&d, 2, PK_EIO);
    cr_assert_eq(o->pwrite(&d.disk, fd, "ab", 2, 0), PK_OK);
    cr_assert_eq(o->fdatasync(&d.disk, fd), PK_EIO);
    cr_assert_eq(d.faults, 1);
    cr_assert_eq(o->pwrite(&d.disk, fd, "cd", 2, 2), PK_OK); /* one-shot */
    pk_prng r;
    pk_prng_seed(&r, 3);
    sim_disk_crash(&d, &r);
    cr_assert_eq(d.fail_countdown, 0);
    sim_disk_deinit(&d);
}
