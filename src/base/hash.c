/* base: 64-bit hash, CRC32C and the deterministic PRNG. */
#include "base.h"

/* Mixes a 64-bit value (the splitmix64 / murmur3 finalizer). */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Loads 8 bytes as a little-endian word (the same value on every machine; one mov on x86). */
static inline uint64_t load_le64(const uint8_t *s) {
    uint64_t v;
    memcpy(&v, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Rotates a 64-bit value left by k bits (1..63). */
static inline uint64_t rotl64_h(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* One lane round for long inputs (xxhash64's round: two multiplies, independent across lanes). */
static inline uint64_t lane_round(uint64_t acc, uint64_t w) {
    return rotl64_h(acc + w * 0xc2b2ae3d27d4eb4fULL, 31) * 0x9e3779b185ebca87ULL;
}

/* Hashes n bytes; inputs of 32 bytes or more run four independent lanes (about 4x the throughput of one
 * dependent chain), then the tail 8 bytes at a time with a final avalanche. Stable across machines. */
uint64_t pk_hash64(const void *p, size_t n, uint64_t seed) {
    const uint8_t *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    if (n >= 32) {
        uint64_t v0 = h, v1 = h ^ 0x2545f4914f6cdd1dULL, v2 = h + 0x9e3779b97f4a7c15ULL, v3 = h - 0xbf58476d1ce4e5b9ULL;
        while (n >= 32) {
            v0 = lane_round(v0, load_le64(s));
            v1 = lane_round(v1, load_le64(s + 8));
            v2 = lane_round(v2, load_le64(s + 16));
            v3 = lane_round(v3, load_le64(s + 24));
            s += 32;
            n -= 32;
        }
        h = mix64(v0) ^ rotl64_h(mix64(v1), 17) ^ rotl64_h(mix64(v2), 31) ^ rotl64_h(mix64(v3), 47);
    }
    while (n >= 8) {
        h = mix64(h ^ load_le64(s)) * 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
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

#if defined(__x86_64__)
#include <nmmintrin.h>
static bool crc32c_hw;

/* Chooses the SSE4.2 instruction when the CPU has it (before main, like the tables). */
__attribute__((constructor)) static void crc32c_pick(void) { crc32c_hw = __builtin_cpu_supports("sse4.2"); }

/* CRC32C with the SSE4.2 crc32 instruction, 8 bytes per step. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *s, size_t n) {
    uint64_t c = ~crc;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = _mm_crc32_u64(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n > 0; s++, n--) c32 = _mm_crc32_u8(c32, *s);
    return ~c32;
}
#endif

/* Computes CRC32C of n bytes continuing from crc (0 to start): the hardware path when the CPU has one. */
uint32_t pk_crc32c(uint32_t crc, const void *p, size_t n) {
#if defined(__x86_64__)
    if (crc32c_hw) return crc32c_sse42(crc, p, n);
#endif
    return pk_crc32c_portable(crc, p, n);
}

/* Computes CRC32C with the slicing-by-8 tables (any CPU; tests cross-check it with the hardware path). */
uint32_t pk_crc32c_portable(uint32_t crc, const void *p, size_t n) {
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
