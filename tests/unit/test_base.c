/* Unit tests for src/base: crc32c, pk_buf, prng, hash, slices, lists, byte order, error strings. */
#include <criterion/criterion.h>

#include "base/base.h"

Test(base, crc32c_check_value) {
    cr_assert_eq(pk_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(pk_crc32c(0, "", 0), 0u);
    /* Continuing from a previous value equals one pass, at every split point (covers the 8-byte path). */
    static const char s[] = "The quick brown fox jumps over the lazy dog, twice over.";
    uint32_t whole = pk_crc32c(0, s, sizeof s - 1);
    for (size_t k = 0; k < sizeof s; k++)
        cr_assert_eq(pk_crc32c(pk_crc32c(0, s, k), s + k, sizeof s - 1 - k), whole, "split at %zu", k);
    /* RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA; 32 bytes of 0xFF -> 0x62A8AB43. */
    uint8_t z[32];
    memset(z, 0, sizeof z);
    cr_assert_eq(pk_crc32c(0, z, sizeof z), 0x8A9136AAu);
    memset(z, 0xff, sizeof z);
    cr_assert_eq(pk_crc32c(0, z, sizeof z), 0x62A8AB43u);
}

Test(base, buf_growth_and_consume) {
    pk_buf b;
    pk_buf_init(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_null(b.data);
    for (int i = 0; i < 10000; i++) {
        uint8_t v = (uint8_t)(i * 7);
        pk_buf_append(&b, &v, 1);
        cr_assert_geq(b.cap, b.len);
    }
    cr_assert_eq(b.len, 10000);
    for (int i = 0; i < 10000; i++) cr_assert_eq(b.data[i], (uint8_t)(i * 7));
    pk_buf_consume(&b, 9990);
    cr_assert_eq(b.len, 10);
    cr_assert_eq(b.data[0], (uint8_t)(9990 * 7));
    uint8_t *p = pk_buf_extend(&b, 5);
    memset(p, 0xab, 5);
    cr_assert_eq(b.len, 15);
    cr_assert_eq(b.data[14], 0xab);
    size_t cap = b.cap;
    pk_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, cap, "reset keeps capacity");
    pk_buf_append(&b, "xyz", 0);
    cr_assert_eq(b.len, 0);
    pk_slice s = pk_buf_slice(&b);
    cr_assert_eq(s.len, 0);
    pk_buf_deinit(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.cap, 0);
}

Test(base, prng_determinism) {
    pk_prng a, b;
    pk_prng_seed(&a, 0);
    /* splitmix64 from seed 0: published first outputs. */
    cr_assert_eq(a.s[0], 0xe220a8397b1dcdafULL);
    cr_assert_eq(a.s[1], 0x6e789e6aa1b965f4ULL);
    cr_assert_eq(a.s[2], 0x06c45d188009454fULL);
    cr_assert_eq(a.s[3], 0xf88bb8a8724c81ecULL);
    /* xoshiro256** outputs, computed by an independent re-implementation. */
    cr_assert_eq(pk_prng_next(&a), 0x99ec5f36cb75f2b4ULL);
    cr_assert_eq(pk_prng_next(&a), 0xbf6e1f784956452aULL);
    cr_assert_eq(pk_prng_next(&a), 0x1a5f849d4933e6e0ULL);
    pk_prng_seed(&a, 42);
    cr_assert_eq(pk_prng_next(&a), 0x15780b2e0c2ec716ULL);
    cr_assert_eq(pk_prng_next(&a), 0x6104d9866d113a7eULL);

    pk_prng_seed(&a, 12345);
    pk_prng_seed(&b, 12345);
    for (int i = 0; i < 1000; i++) cr_assert_eq(pk_prng_next(&a), pk_prng_next(&b));
    pk_prng_seed(&b, 12346);
    int same = 0;
    for (int i = 0; i < 100; i++) same += pk_prng_next(&a) == pk_prng_next(&b);
    cr_assert_lt(same, 2, "different seeds give different sequences");
}

Test(base, prng_below_and_chance) {
    pk_prng r;
    pk_prng_seed(&r, 7);
    int hist[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t v = pk_prng_below(&r, 10);
        cr_assert_lt(v, 10);
        hist[v]++;
    }
    for (int i = 0; i < 10; i++) cr_assert(hist[i] > 800 && hist[i] < 1200, "bucket %d: %d", i, hist[i]);
    for (int i = 0; i < 100; i++) cr_assert_eq(pk_prng_below(&r, 1), 0);
    for (int i = 0; i < 100; i++) {
        cr_assert(!pk_prng_chance(&r, 0, 5));
        cr_assert(pk_prng_chance(&r, 5, 5));
    }
}

Test(base, hash_stability) {
    /* Pinned values: hashes are persisted (digests), so they must never change. */
    cr_assert_eq(pk_hash64("", 0, 0), 0x952f14f1e8ddc491ULL);
    cr_assert_eq(pk_hash64("abc", 3, 0), 0xe0ed3272e95af5f1ULL);
    cr_assert_eq(pk_hash64("hello world, paxoskeeper", 24, 7), 0xe86e0a52bad7f1caULL);
    cr_assert_neq(pk_hash64("abc", 3, 1), pk_hash64("abc", 3, 0), "the seed matters");
    cr_assert_neq(pk_hash64("abd", 3, 0), pk_hash64("abc", 3, 0));
    cr_assert_neq(pk_hash64("abc\0", 4, 0), pk_hash64("abc", 3, 0), "the length matters");
}

Test(base, byte_order_helpers) {
    uint8_t p[8];
    pk_put_u32(p, 0x01020304u);
    cr_assert(p[0] == 1 && p[1] == 2 && p[2] == 3 && p[3] == 4);
    cr_assert_eq(pk_get_u32(p), 0x01020304u);
    pk_put_u64(p, 0x0102030405060708ULL);
    cr_assert(p[0] == 1 && p[7] == 8);
    cr_assert_eq(pk_get_u64(p), 0x0102030405060708ULL);
}

Test(base, slices_lists_errors) {
    cr_assert(pk_slice_eq(pk_slice_str("abc"), pk_slice_str("abc")));
    cr_assert(!pk_slice_eq(pk_slice_str("abc"), pk_slice_str("abd")));
    cr_assert(pk_slice_eq((pk_slice){NULL, 0}, pk_slice_str("")));
    pk_list h, a, b;
    pk_list_init(&h);
    cr_assert(pk_list_empty(&h));
    pk_list_push_back(&h, &a);
    pk_list_push_back(&h, &b);
    cr_assert_eq(h.next, &a);
    cr_assert_eq(h.prev, &b);
    pk_list_remove(&a);
    cr_assert_eq(h.next, &b);
    pk_list_remove(&b);
    cr_assert(pk_list_empty(&h));
    cr_assert_str_eq(pk_strerror(PK_OK), "ok");
    cr_assert_str_eq(pk_strerror(PK_EDECODE), "malformed input");
    char *d = pk_strndup("hello", 3);
    cr_assert_str_eq(d, "hel");
    free(d);
}
