/* store-bench: measures WAL group commit (one pwrite + one fdatasync per batch) for several batch sizes,
 * with and without segment preallocation, then WAL replay speed and snapshot write/load throughput, on the
 * real disk. Not a test: numbers depend on the machine and its load.
 *
 * Usage: store-bench [dir (default: a fresh /tmp/pk-store-bench-XXXXXX)] [seconds per case (default 1)]
 *                    [snapshot MiB (default 200)]
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

enum { BENCH_VALUE_BYTES = 100, BENCH_MAX_SAMPLES = 1 << 20 };

/* Returns monotonic time in microseconds. */
static double bench_now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* nftw callback removing one entry. */
static int bench_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Orders doubles ascending for qsort. */
static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Counts replayed records. */
static int bench_count(void *ctx, const wal_record *r) {
    (void)r;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* Runs batches of `batch` records for about `seconds`, prints throughput and latency percentiles. */
static void bench_wal_case(store_disk *d, const char *root, const char *label, size_t batch, double seconds) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/wal-%s-%zu", root, label, batch);
    wal_options o = {.segment_bytes = 64u << 20, .max_record_bytes = 1u << 20};
    wal *w;
    char err[256];
    uint64_t n = 0;
    PK_ASSERT(wal_open(d, dir, &o, &w) == PK_OK);
    PK_ASSERT(wal_replay(w, bench_count, &n, err, sizeof(err)) == PK_OK);
    pk_buf buf;
    pk_buf_init(&buf);
    uint8_t value[BENCH_VALUE_BYTES];
    memset(value, 0x5A, sizeof(value));
    double *lat = malloc(sizeof(double) * BENCH_MAX_SAMPLES);
    size_t count = 0;
    uint64_t slot = 1;
    double t0 = bench_now_us(), end = t0 + seconds * 1e6;
    while (count < BENCH_MAX_SAMPLES && bench_now_us() < end) {
        pk_buf_reset(&buf);
        for (size_t i = 0; i < batch; i++) {
            wal_record r = {.slot = slot + i, .round = 1, .node = 1, .value = {value, sizeof(value)}};
            wal_encode(&buf, &r);
        }
        double a = bench_now_us();
        int rc = wal_write_sync(w, slot, pk_buf_slice(&buf));
        lat[count++] = bench_now_us() - a;
        PK_ASSERT(rc == PK_OK);
        slot += batch;
    }
    double total_s = (bench_now_us() - t0) / 1e6;
    qsort(lat, count, sizeof(double), bench_cmp);
    printf("wal %-8s batch %5zu x %d B: %8.0f batches/s %9.0f records/s %7.1f MB/s  write+sync p50 %6.0f us "
           "p99 %6.0f us\n", label, batch, BENCH_VALUE_BYTES, (double)count / total_s,
           (double)(slot - 1) / total_s, (double)(slot - 1) * (BENCH_VALUE_BYTES + 32) / total_s / 1e6,
           lat[count / 2], lat[count * 99 / 100]);
    wal_close(w);
    /* replay speed of what was just written */
    n = 0;
    double r0 = bench_now_us();
    PK_ASSERT(wal_open(d, dir, &o, &w) == PK_OK);
    PK_ASSERT(wal_replay(w, bench_count, &n, err, sizeof(err)) == PK_OK);
    double rs = (bench_now_us() - r0) / 1e6;
    PK_ASSERT(n == slot - 1);
    printf("    replay %" PRIu64 " records in %.3f s (%.0f records/s)\n", n, rs, (double)n / rs);
    wal_close(w);
    free(lat);
    pk_buf_deinit(&buf);
}

/* Writes and loads one snapshot of mib MiB, printing throughput. */
static void bench_snap(store_disk *d, const char *root, size_t mib) {
    size_t n = mib << 20;
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + (i >> 12));
    double t0 = bench_now_us();
    PK_ASSERT(store_snap_write(d, root, 42, (pk_slice){p, n}) == PK_OK);
    double ws = (bench_now_us() - t0) / 1e6;
    pk_buf buf;
    pk_buf_init(&buf);
    uint64_t slot = 0;
    char err[512];
    t0 = bench_now_us();
    PK_ASSERT(store_snap_load_latest(d, root, &buf, &slot, err, sizeof(err)) == PK_OK);
    double ls = (bench_now_us() - t0) / 1e6;
    PK_ASSERT(slot == 42 && buf.len == n && memcmp(buf.data, p, n) == 0);
    printf("snapshot %zu MiB: write+fdatasync+rename %.2f s (%.0f MB/s), load+verify %.2f s (%.0f MB/s)\n", mib, ws,
           (double)n / ws / 1e6, ls, (double)n / ls / 1e6);
    pk_buf_deinit(&buf);
    free(p);
}

/* Runs every case. */
int main(int argc, char **argv) {
    char root[4096];
    bool made = argc < 2 || argv[1][0] == '\0';
    if (made) {
        snprintf(root, sizeof(root), "/tmp/pk-store-bench-XXXXXX");
        PK_ASSERT(mkdtemp(root) != NULL);
    } else {
        snprintf(root, sizeof(root), "%s", argv[1]);
    }
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    size_t snap_mib = argc > 3 ? (size_t)atol(argv[3]) : 200;
    store_disk *posix = store_disk_posix();
    PK_ASSERT(posix->ops->mkdir(posix, root) == PK_OK);
    /* the same disk without the preallocate op: segments are extended with ftruncate (sparse) */
    store_disk_ops sparse_ops = *posix->ops;
    sparse_ops.preallocate = NULL;
    store_disk sparse = {.ops = &sparse_ops, .ctx = NULL};
    printf("store-bench in %s, %.1f s per case\n", root, seconds);
    size_t batches[] = {1, 10, 100, 1000};
    for (size_t i = 0; i < PK_ARRAY_LEN(batches); i++) {
        bench_wal_case(posix, root, "fallocate", batches[i], seconds);
        bench_wal_case(&sparse, root, "sparse", batches[i], seconds);
    }
    if (snap_mib > 0) bench_snap(posix, root, snap_mib);
    if (made) nftw(root, bench_rm, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
