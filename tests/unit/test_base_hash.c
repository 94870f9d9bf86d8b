/* Unit tests for base hashing: the hardware and portable CRC32C agree; pk_hash64's long-input lanes. */
#include <criterion/criterion.h>

#include "base/base.h"

Test(base_hash, crc32c_paths_agree) {
    pk_prng r;
    pk_prng_seed(&r, 42);
    static uint8_t buf[5000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)pk_prng_next(&r);
    for (size_t len = 0; len < 300; len++) {
        size_t off = (size_t)pk_prng_below(&r, 64);
        cr_assert_eq(pk_crc32c(0, buf + off, len), pk_crc32c_portable(0, buf + off, len), "len %zu", len);
    }
    uint32_t whole = pk_crc32c(0, buf, sizeof buf);
    cr_assert_eq(pk_crc32c(pk_crc32c(0, buf, 1237), buf + 1237, sizeof buf - 1237), whole);
    cr_assert_eq(pk_crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

Test(base_hash, hash64_long_inputs) {
    static uint8_t buf[1024];
    uint64_t h0 = pk_hash64(buf, sizeof buf, 0);
    for (size_t i = 0; i < sizeof buf; i += 97) {
        buf[i] ^= 1;
        cr_assert_neq(pk_hash64(buf, sizeof buf, 0), h0, "a flipped bit at %zu must change the hash", i);
        buf[i] ^= 1;
    }
    cr_assert_eq(pk_hash64(buf, sizeof buf, 0), h0);
    cr_assert_neq(pk_hash64(buf, 32, 0), pk_hash64(buf, 33, 0));
    cr_assert_neq(pk_hash64(buf, 64, 1), pk_hash64(buf, 64, 2));
}
