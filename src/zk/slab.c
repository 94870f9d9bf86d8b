/* slab: the znode allocator of a zk_state (see zk_slab in zk_int.h). Small blocks are carved from chunks in
 * 4-byte steps without a per-block header and recycled through one free list per size; the caller gives
 * the block's size back on free (a node's size follows from its header). Large blocks use malloc. Every
 * block is named by a 32-bit id: slot (id >> ZK_SLAB_ID_SHIFT) of the base table, plus 4-byte units. */
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

_Static_assert(ZK_SLAB_SLOT_BYTES == (ZK_SLAB_ID_MASK + 1u) * ZK_SLAB_ALIGN, "a slot is 2^shift units");
_Static_assert(ZK_SLAB_MAX_BLOCK <= ZK_SLAB_SLOT_BYTES, "a large block must never name less id space than it uses");
_Static_assert(ZK_SLAB_FIRST_CHUNK % ZK_SLAB_SLOT_BYTES == 0, "chunks are whole slots");

/* Bytes a block of n bytes occupies (n rounded up to ZK_SLAB_ALIGN). */
static inline size_t zk_slab_round(size_t n) { return (n + (ZK_SLAB_ALIGN - 1u)) & ~(size_t)(ZK_SLAB_ALIGN - 1u); }

/* Reads the free-list link stored in a free block. */
static inline uint32_t zk_slab_link(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Initializes an empty allocator (slot 0 is reserved so that id 0 is never a block). */
void zk_slab_init(zk_slab *a) {
    PK_ASSERT(a != NULL);
    memset(a, 0, sizeof *a);
    a->slot_cap = 16;
    a->base = pk_calloc(a->slot_cap, sizeof *a->base);
    a->nslots = 1;
}

/* Frees every chunk and the tables (blocks from malloc are the caller's to free with zk_slab_free first). */
void zk_slab_deinit(zk_slab *a) {
    PK_ASSERT(a != NULL);
    PK_ASSERT(a->large_count == 0);
    for (size_t i = 0; i < a->nchunks; i++) {
        uint8_t *c = a->base[a->chunk_slot[i]];
        ZK_SLAB_UNPOISON(c, a->chunk_sizes[i]);
        free(c);
    }
    free(a->base);
    free(a->chunk_slot);
    free(a->chunk_sizes);
    free(a->free_slots);
    memset(a, 0, sizeof *a);
}

/* Appends k consecutive slots to the base table and returns the first (fails loudly past 2^32 ids). */
static uint32_t zk_slab_add_slots(zk_slab *a, uint32_t k) {
    if ((uint64_t)a->nslots + k > ZK_SLAB_MAX_SLOTS)
        PK_PANIC("zk_slab: node id space exhausted (ids address 16 GiB of node memory: 2^32 units of 4 bytes)");
    if (a->nslots + k > a->slot_cap) {
        /* grow by an eighth: the table is 8 B per 2 KiB of nodes, so its slack stays below 0.05% of them;
         * a large table's realloc is a page remap, not a copy */
        uint64_t cap = (uint64_t)a->slot_cap + a->slot_cap / 8u + k + 16u;
        a->slot_cap = (uint32_t)(cap < ZK_SLAB_MAX_SLOTS ? cap : ZK_SLAB_MAX_SLOTS);
        a->base = pk_realloc(a->base, a->slot_cap * sizeof *a->base);
    }
    uint32_t first = a->nslots;
    a->nslots += k;
    return first;
}

/* Starts a new chunk with room for at least r bytes. */
static void zk_slab_new_chunk(zk_slab *a, size_t r) {
    size_t sz = a->nchunks == 0 ? ZK_SLAB_FIRST_CHUNK : a->chunk_sizes[a->nchunks - 1] * 2;
    if (sz > ZK_SLAB_MAX_CHUNK) sz = ZK_SLAB_MAX_CHUNK;
    PK_ASSERT(sz >= r && sz % ZK_SLAB_SLOT_BYTES == 0);
    uint32_t k = (uint32_t)(sz / ZK_SLAB_SLOT_BYTES);
    uint32_t first = zk_slab_add_slots(a, k);
    a->chunk_slot = pk_realloc(a->chunk_slot, (a->nchunks + 1) * sizeof *a->chunk_slot);
    a->chunk_sizes = pk_realloc(a->chunk_sizes, (a->nchunks + 1) * sizeof *a->chunk_sizes);
    uint8_t *c = pk_malloc(sz);
    ZK_SLAB_POISON(c, sz);
    for (uint32_t i = 0; i < k; i++) a->base[first + i] = c + (size_t)i * ZK_SLAB_SLOT_BYTES;
    a->chunk_slot[a->nchunks] = first;
    a->chunk_sizes[a->nchunks] = sz;
    a->nchunks++;
    a->cur = c;
    a->cur_id = first << ZK_SLAB_ID_SHIFT;
    a->cur_left = sz;
}

/* Allocates a block of n > ZK_SLAB_MAX_BLOCK bytes from malloc, naming it by a slot of its own. */
static void *zk_slab_alloc_large(zk_slab *a, size_t n, uint32_t *id) {
    uint32_t slot = a->nfree_slots > 0 ? a->free_slots[--a->nfree_slots] : zk_slab_add_slots(a, 1);
    uint8_t *p = pk_malloc(n);
    a->base[slot] = p;
    a->large_count++;
    *id = slot << ZK_SLAB_ID_SHIFT;
    return p;
}

/* Allocates n bytes (ZK_SLAB_ALIGN-aligned); *id receives the block's id (never 0). */
void *zk_slab_alloc(zk_slab *a, size_t n, uint32_t *id) {
    PK_ASSERT(a != NULL && n > 0 && id != NULL);
    size_t r = zk_slab_round(n);
    if (r > ZK_SLAB_MAX_BLOCK) return zk_slab_alloc_large(a, n, id);
    size_t c = r / ZK_SLAB_ALIGN;
    uint32_t f = a->free[c];
    if (f != 0) {
        uint8_t *p = zk_slab_at(a, f);
        ZK_SLAB_UNPOISON(p, r);
        a->free[c] = zk_slab_link(p);
        a->free_bytes -= r;
        *id = f;
        return p;
    }
    if (a->cur_left < r) {
        /* the tail of the current chunk becomes a free block of its size when it can hold one */
        if (a->cur_left >= ZK_SLAB_ALIGN) {
            size_t t = a->cur_left;
            ZK_SLAB_UNPOISON(a->cur, t);
            memcpy(a->cur, &a->free[t / ZK_SLAB_ALIGN], 4);
            ZK_SLAB_POISON(a->cur, t);
            a->free[t / ZK_SLAB_ALIGN] = a->cur_id;
            a->free_bytes += t;
        }
        zk_slab_new_chunk(a, r);
    }
    uint8_t *p = a->cur;
    *id = a->cur_id;
    PK_ASSERT(zk_slab_at(a, *id) == p);
    ZK_SLAB_UNPOISON(p, r);
    a->cur += r;
    a->cur_id += (uint32_t)(r / ZK_SLAB_ALIGN);
    a->cur_left -= r;
    return p;
}

/* Frees the block id of n bytes (the size it was allocated with). */
void zk_slab_free(zk_slab *a, uint32_t id, size_t n) {
    PK_ASSERT(a != NULL && id != 0 && n > 0);
    size_t r = zk_slab_round(n);
    if (r > ZK_SLAB_MAX_BLOCK) {
        uint32_t slot = id >> ZK_SLAB_ID_SHIFT;
        PK_ASSERT((id & ZK_SLAB_ID_MASK) == 0 && slot < a->nslots && a->base[slot] != NULL && a->large_count > 0);
        free(a->base[slot]);
        a->base[slot] = NULL;
        a->large_count--;
        if (a->nfree_slots == a->free_slots_cap) {
            a->free_slots_cap = a->free_slots_cap ? a->free_slots_cap * 2 : 16;
            a->free_slots = pk_realloc(a->free_slots, a->free_slots_cap * sizeof *a->free_slots);
        }
        a->free_slots[a->nfree_slots++] = slot;
        return;
    }
    uint8_t *p = zk_slab_at(a, id);
    size_t c = r / ZK_SLAB_ALIGN;
    memcpy(p, &a->free[c], 4);
    a->free[c] = id;
    a->free_bytes += r;
    ZK_SLAB_POISON(p, r);
}
