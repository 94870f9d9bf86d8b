/* base: assertions, error codes, byte buffers and slices, hashing, crc32c, prng.
 *
 * Pure module: no I/O, no clocks, no threads. Every other module may depend on it.
 * Invariants:
 *  - PK_ASSERT is always on (also in release builds); a failed assertion aborts with file:line.
 *  - pk_buf owns its memory; a pk_slice never owns what it points to.
 *  - Error codes are negative values from one table (PK_ERRORS); 0 is success.
 */
#ifndef PK_BASE_H
#define PK_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- assertions (always on) ---- */
_Noreturn void pk_panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define PK_ASSERT(cond)                                                              \
    do {                                                                             \
        if (__builtin_expect(!(cond), 0)) pk_panic_at(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)
#define PK_PANIC(...) pk_panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define PK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PK_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- error table: X(name, value, message) ---- */
#define PK_ERRORS(X)                                              \
    X(PK_OK, 0, "ok")                                             \
    X(PK_ENOMEM, -1, "out of memory")                             \
    X(PK_EIO, -2, "i/o error")                                    \
    X(PK_ECORRUPT, -3, "corrupt data")                            \
    X(PK_ENOSPC, -4, "no space left on device")                   \
    X(PK_EDECODE, -5, "malformed input")                          \
    X(PK_ETOOBIG, -6, "input exceeds a size limit")               \
    X(PK_ENOENT, -7, "not found")                                 \
    X(PK_EINVAL, -8, "invalid argument")                          \
    X(PK_EAGAIN, -9, "try again")                                 \
    X(PK_EEXIST, -10, "already exists")                           \
    X(PK_ECONFIG, -11, "bad configuration")                       \
    X(PK_EFULL, -12, "queue or window full")                      \
    X(PK_ECLOSED, -13, "closed")

enum pk_err {
#define PK_ERR_ENUM(name, value, msg) name = value,
    PK_ERRORS(PK_ERR_ENUM)
#undef PK_ERR_ENUM
};

/* Returns a static, human-readable message for a PK_ error code. */
const char *pk_strerror(int err);

/* ---- slices and growable buffers ---- */
typedef struct pk_slice {
    const uint8_t *ptr; /* NULL with len 0 means "null" where the encoding distinguishes it */
    size_t len;
} pk_slice;

typedef struct pk_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} pk_buf;

/* Makes a slice over a NUL-terminated string (not including the NUL). */
static inline pk_slice pk_slice_str(const char *s) { return (pk_slice){(const uint8_t *)s, strlen(s)}; }
/* True when two slices hold the same bytes. */
static inline bool pk_slice_eq(pk_slice a, pk_slice b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
/* Initializes an empty buffer (no allocation until first append). */
void pk_buf_init(pk_buf *b);
/* Frees the buffer's memory and leaves it empty. */
void pk_buf_deinit(pk_buf *b);
/* Ensures room for `extra` more bytes; aborts on allocation failure. */
void pk_buf_reserve(pk_buf *b, size_t extra);
/* Appends n bytes. */
void pk_buf_append(pk_buf *b, const void *p, size_t n);
/* Appends n uninitialized bytes and returns a pointer to them. */
uint8_t *pk_buf_extend(pk_buf *b, size_t n);
/* Drops the first n bytes, shifting the rest down. */
void pk_buf_consume(pk_buf *b, size_t n);
/* Empties the buffer, keeping its capacity. */
static inline void pk_buf_reset(pk_buf *b) { b->len = 0; }
/* Returns the buffer's contents as a slice. */
static inline pk_slice pk_buf_slice(const pk_buf *b) { return (pk_slice){b->data, b->len}; }

/* Allocation helpers that abort on failure (memory exhaustion is not a recoverable state here). */
void *pk_malloc(size_t n);
void *pk_calloc(size_t count, size_t size);
void *pk_realloc(void *p, size_t n);
char *pk_strndup(const char *s, size_t n);

/* ---- big-endian helpers ---- */
static inline void pk_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t pk_get_u32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void pk_put_u64(uint8_t *p, uint64_t v) { pk_put_u32(p, (uint32_t)(v >> 32)); pk_put_u32(p + 4, (uint32_t)v); }
static inline uint64_t pk_get_u64(const uint8_t *p) { return ((uint64_t)pk_get_u32(p) << 32) | pk_get_u32(p + 4); }

/* ---- hashing and checksums ---- */
/* 64-bit non-cryptographic hash of n bytes (stable across runs and machines). */
uint64_t pk_hash64(const void *p, size_t n, uint64_t seed);
/* CRC32C (Castagnoli) of n bytes, continuing from crc (start with 0). */
uint32_t pk_crc32c(uint32_t crc, const void *p, size_t n);
/* The same CRC32C without CPU-specific instructions (pk_crc32c uses SSE4.2 when present). */
uint32_t pk_crc32c_portable(uint32_t crc, const void *p, size_t n);

/* ---- deterministic PRNG (xoshiro256**, seeded by splitmix64) ---- */
typedef struct pk_prng {
    uint64_t s[4];
} pk_prng;
/* Seeds the generator; the same seed always yields the same sequence. */
void pk_prng_seed(pk_prng *r, uint64_t seed);
/* Returns the next 64 random bits. */
uint64_t pk_prng_next(pk_prng *r);
/* Returns a uniform value in [0, n); n must be > 0. */
uint64_t pk_prng_below(pk_prng *r, uint64_t n);
/* Returns true with probability num/den. */
bool pk_prng_chance(pk_prng *r, uint32_t num, uint32_t den);

/* ---- intrusive doubly linked list ---- */
typedef struct pk_list {
    struct pk_list *prev, *next;
} pk_list;
/* Makes an empty list head (points to itself). */
static inline void pk_list_init(pk_list *h) { h->prev = h->next = h; }
/* True when the list has no elements. */
static inline bool pk_list_empty(const pk_list *h) { return h->next == h; }
/* Inserts n at the tail of h. */
static inline void pk_list_push_back(pk_list *h, pk_list *n) {
    n->prev = h->prev; n->next = h; h->prev->next = n; h->prev = n;
}
/* Unlinks n from whatever list holds it and makes it self-linked. */
static inline void pk_list_remove(pk_list *n) {
    n->prev->next = n->next; n->next->prev = n->prev; n->prev = n->next = n;
}
#define PK_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
