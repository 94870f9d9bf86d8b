/* slab: the znode allocator of a zk_state (see zk_slab in zk_int.h). Small blocks are carved from chunks in
 * 8-byte steps without a per-block header and recycled through one free list per size; the caller gives
 * the block's size back on free (a node's size follows from its header). Large blocks use malloc. */
#include "zk/zk_int.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ZK_SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ZK_SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ZK_SLAB_POISON(p, n) ((void)(p), (void)(n))
#define ZK_SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ZK_SLAB_FIRST_CHUNK 4096u
#define ZK_SLAB_MAX_CHUNK (1u << 20)

/* Bytes a block of n bytes occupies (n rounded up to 8). */
static inline size_t zk_slab_round(size_t n) { return (n + 7u) & ~(size_t)7u; }

/* Initializes an empty allocator. */
void zk_slab_init(zk_slab *a) {
    PK_ASSERT(a != NULL);
    memset(a, 0, sizeof *a);
}

/* Frees every chunk (blocks from malloc are the caller's to free with zk_slab_free first). */
void zk_slab_deinit(zk_slab *a) {
    PK_ASSERT(a != NULL);
    for (size_t i = 0; i < a->nchunks; i++) {
        ZK_SLAB_UNPOISON(a->chunks[i], a->chunk_sizes[i]);
        free(a->chunks[i]);
    }
    free(a->chunks);
    free(a->chunk_sizes);
    memset(a, 0, sizeof *a);
}

/* Starts a new chunk with room for at least r bytes. */
static void zk_slab_new_chunk(zk_slab *a, size_t r) {
    size_t sz = a->nchunks == 0 ? ZK_SLAB_FIRST_CHUNK : a->chunk_sizes[a->nchunks - 1] * 2;
    if (sz > ZK_SLAB_MAX_CHUNK) sz = ZK_SLAB_MAX_CHUNK;
    PK_ASSERT(sz >= r);
    a->chunks = pk_realloc(a->chunks, (a->nchunks + 1) * sizeof *a->chunks);
    a->chunk_sizes = pk_realloc(a->chunk_sizes, (a->nchunks + 1) * sizeof *a->chunk_sizes);
    uint8_t *c = pk_malloc(sz);
    ZK_SLAB_POISON(c, sz);
    a->chunks[a->nchunks] = c;
    a->chunk_sizes[a->nchunks] = sz;
    a->nchunks++;
    a->cur = c;
    a->cur_left = sz;
}

/* Allocates n bytes (8-byte aligned). */
void *zk_slab_alloc(zk_slab *a, size_t n) {
    PK_ASSERT(a != NULL && n > 0);
    size_t r = zk_slab_round(n);
    if (r > ZK_SLAB_MAX_BLOCK) return pk_malloc(n);
    size_t c = r / 8u;
    void *p = a->free[c];
    if (p != NULL) {
        ZK_SLAB_UNPOISON(p, r);
        memcpy(&a->free[c], p, sizeof(void *));
        a->free_bytes -= r;
        return p;
    }
    if (a->cur_left < r) {
        /* the tail of the current chunk becomes a free block of its size when it can hold one */
        if (a->cur_left >= 8u) {
            size_t t = a->cur_left;
            ZK_SLAB_UNPOISON(a->cur, t);
            memcpy(a->cur, &a->free[t / 8u], sizeof(void *));
            ZK_SLAB_POISON(a->cur, t);
            a->free[t / 8u] = a->cur;
            a->free_bytes += t;
        }
        zk_slab_new_chunk(a, r);
    }
    p = a->cur;
    ZK_SLAB_UNPOISON(p, r);
    a->cur += r;
    a->cur_left -= r;
    return p;
}

/* Frees a block of n bytes (the size it was allocated with). */
void zk_slab_free(zk_slab *a, void *p, size_t n) {
    PK_ASSERT(a != NULL && p != NULL && n > 0);
    size_t r = zk_slab_round(n);
    if (r > ZK_SLAB_MAX_BLOCK) {
        free(p);
        return;
    }
    size_t c = r / 8u;
    memcpy(p, &a->free[c], sizeof(void *));
    a->free[c] = p;
    a->free_bytes += r;
    ZK_SLAB_POISON(p, r);
}
