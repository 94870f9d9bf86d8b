/* base: 64-bit hash, CRC32C and the deterministic PRNG. */
#include "base.h"

/* Mixes a 64-bit value (the splitmix64 / murmur3 finalizer). */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Hashes n bytes, 8 at a time, with a final avalanche; stable across machines. */
uint64_t pk_hash64(const void *p, size_t n, uint64_t seed) {
    const uint8_t *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t v = 0; /* little-endian load: the same value on every machine (compilers emit one mov) */
        for (int i = 7; i >= 0; i--) v = (v << 8) | s[i];
        h = mix64(h ^ v) * 0x9e3779b97f4a7c15ULL;
        s += 8; n -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < n; i++) tail |= (uint64_t)s[i] << (8 * i);
    return mix64(h ^ tail ^ 0x2545f4914f6cdd1dULL);
}

static uint32_t crc32c_table[8][256];

/* Builds the slicing-by-8 tables for the Castagnoli polynomial (0x82F63B78, reflected), before main. */
__attribute__((constructor)) static void crc32c_init_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^ crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

/* Computes CRC32C of n bytes continuing from crc (0 to start). */
uint32_t pk_crc32c(uint32_t crc, const void *p, size_t n) {
    PK_ASSERT(crc32c_table[0][1] != 0); /* tables are built by the constructor above */
    const uint8_t *s = p;
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
        uint32_t hi = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 24;
        crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^ crc32c_table[5][(lo >> 16) & 0xff] ^
              crc32c_table[4][lo >> 24] ^ crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
              crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
        s += 8; n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *s++) & 0xff];
    return ~crc;
}

/* Seeds xoshiro256** from one 64-bit seed via splitmix64. */
void pk_prng_seed(pk_prng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ULL;
        r->s[i] = mix64(seed);
    }
    PK_ASSERT(r->s[0] | r->s[1] | r->s[2] | r->s[3]);
}

/* Rotates a 64-bit value left by k bits. */
static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Returns the next xoshiro256** output. */
uint64_t pk_prng_next(pk_prng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* Returns a uniform value below n using rejection to avoid modulo bias. */
uint64_t pk_prng_below(pk_prng *r, uint64_t n) {
    PK_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    for (int i = 0; i < 64; i++) {
        uint64_t v = pk_prng_next(r);
        if (v < limit) return v % n;
    }
    return pk_prng_next(r) % n; /* astronomically unlikely; bounded loop */
}

/* Returns true with probability num/den. */
bool pk_prng_chance(pk_prng *r, uint32_t num, uint32_t den) {
    PK_ASSERT(den > 0);
    return pk_prng_below(r, den) < num;
}
