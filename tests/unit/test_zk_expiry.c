/* Unit tests for src/zk/expiry.c: ZooKeeper ExpiryQueue bucket rounding, touch, remove, due. */
#include <criterion/criterion.h>

#include "zk/zk.h"

static zk_expiry *E;

/* A tracker with 2 s ticks per test. */
static void setup(void) { E = zk_expiry_new(2000); }
/* Frees the tracker. */
static void teardown(void) { zk_expiry_free(E); }

TestSuite(zk_expiry, .init = setup, .fini = teardown);

/* Calls due and returns how many came back, storing them in ids. */
static size_t due(uint64_t now, uint64_t *ids, size_t max) { return zk_expiry_due(E, now, ids, max); }

Test(zk_expiry, bucket_is_next_tick_after_now_plus_timeout) {
    uint64_t ids[8];
    zk_expiry_touch(E, 1, 3000, 1000);   /* 4000 is a boundary -> 6000 (roundToNextInterval) */
    zk_expiry_touch(E, 2, 3000, 1500);   /* 4500 -> 6000 */
    zk_expiry_touch(E, 3, 3000, 999);    /* 3999 -> 4000 */
    cr_assert_eq(due(3999, ids, 8), 0);
    cr_assert_eq(due(4000, ids, 8), 1);
    cr_assert_eq(ids[0], 3);
    cr_assert_eq(due(5999, ids, 8), 0);
    cr_assert_eq(due(6000, ids, 8), 2);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 2);
    cr_assert_eq(due(1000000, ids, 8), 0);
}

Test(zk_expiry, never_before_timeout_never_later_than_timeout_plus_tick) {
    uint64_t ids[2];
    for (uint64_t now = 0; now < 5000; now += 37) {
        zk_expiry *e = zk_expiry_new(500);
        zk_expiry_touch(e, 42, 1234, now);
        cr_assert_eq(zk_expiry_due(e, now + 1234, ids, 2), 0, "now %llu", (unsigned long long)now);
        cr_assert_eq(zk_expiry_due(e, now + 1234 + 500, ids, 2), 1, "now %llu", (unsigned long long)now);
        cr_assert_eq(ids[0], 42);
        zk_expiry_free(e);
    }
}

Test(zk_expiry, touch_moves_session_later) {
    uint64_t ids[8];
    zk_expiry_touch(E, 7, 4000, 0);      /* -> 6000 */
    zk_expiry_touch(E, 7, 4000, 2500);   /* -> 8000 */
    zk_expiry_touch(E, 7, 4000, 2600);   /* same bucket */
    cr_assert_eq(due(6000, ids, 8), 0);
    cr_assert_eq(due(7999, ids, 8), 0);
    cr_assert_eq(due(8000, ids, 8), 1);
    cr_assert_eq(ids[0], 7);
    /* once due it is no longer tracked */
    cr_assert_eq(due(100000, ids, 8), 0);
}

Test(zk_expiry, touch_with_shorter_timeout_moves_earlier) {
    uint64_t ids[8];
    zk_expiry_touch(E, 7, 40000, 0);     /* -> 42000 */
    zk_expiry_touch(E, 7, 1000, 100);    /* -> 2000 */
    cr_assert_eq(due(2000, ids, 8), 1);
    cr_assert_eq(ids[0], 7);
    cr_assert_eq(due(50000, ids, 8), 0);
}

Test(zk_expiry, remove_stops_tracking) {
    uint64_t ids[8];
    zk_expiry_touch(E, 1, 1000, 0);
    zk_expiry_touch(E, 2, 1000, 0);
    zk_expiry_remove(E, 1);
    zk_expiry_remove(E, 1);
    zk_expiry_remove(E, 99);
    cr_assert_eq(due(10000, ids, 8), 1);
    cr_assert_eq(ids[0], 2);
    /* a removed session can come back */
    zk_expiry_touch(E, 1, 1000, 20000);
    cr_assert_eq(due(22000, ids, 8), 1);
    cr_assert_eq(ids[0], 1);
}

Test(zk_expiry, due_respects_max_and_bucket_order) {
    uint64_t ids[3];
    for (uint64_t s = 1; s <= 5; s++) zk_expiry_touch(E, s, 5000, 0);    /* 6000 */
    for (uint64_t s = 11; s <= 12; s++) zk_expiry_touch(E, s, 1000, 0);  /* 2000 */
    cr_assert_eq(due(7000, ids, 0), 0);
    cr_assert_eq(due(7000, ids, 3), 3);
    cr_assert_eq(ids[0], 11);
    cr_assert_eq(ids[1], 12);
    cr_assert_eq(ids[2], 1);
    cr_assert_eq(due(7000, ids, 3), 3);
    cr_assert_eq(ids[0], 2);
    cr_assert_eq(ids[2], 4);
    cr_assert_eq(due(7000, ids, 3), 1);
    cr_assert_eq(ids[0], 5);
    cr_assert_eq(due(7000, ids, 3), 0);
}

Test(zk_expiry, randomized_against_model) {
    enum { N = 64 };
    uint64_t expires[N] = {0};   /* 0 = untracked */
    pk_prng r;
    pk_prng_seed(&r, 99);
    uint64_t now = 0, ids[N];
    zk_expiry *e = zk_expiry_new(100);
    for (int step = 0; step < 20000; step++) {
        uint64_t s = pk_prng_below(&r, N);
        switch (pk_prng_below(&r, 4)) {
        case 0:
        case 1: {
            int32_t to = (int32_t)(100 + pk_prng_below(&r, 2000));
            zk_expiry_touch(e, s + 1, to, now);
            expires[s] = ((now + (uint64_t)to) / 100 + 1) * 100;
            break;
        }
        case 2:
            zk_expiry_remove(e, s + 1);
            expires[s] = 0;
            break;
        default: {
            now += pk_prng_below(&r, 150);
            size_t n = zk_expiry_due(e, now, ids, N);
            size_t want = 0;
            for (size_t i = 0; i < N; i++) want += expires[i] != 0 && expires[i] <= now;
            cr_assert_eq(n, want, "step %d", step);
            uint64_t last_bucket = 0;
            for (size_t i = 0; i < n; i++) {
                uint64_t k = ids[i] - 1;
                cr_assert(k < N && expires[k] != 0 && expires[k] <= now, "step %d", step);
                cr_assert_geq(expires[k], last_bucket);
                last_bucket = expires[k];
                expires[k] = 0;
            }
        }
        }
    }
    zk_expiry_free(e);
}
