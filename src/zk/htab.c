/* htab: the open-addressing pointer table used for ACLs, sessions, watches and the prep overlay, and zk_ntab,
 * the node table (node ids keyed by path). Capacity is any size >= ZK_HTAB_MIN_CAP (not a power of two): an
 * item's home slot is the multiply-shift reduction of the low 32 bits of its hash, which the table stores
 * beside the slot, so growth and removal never call hash_of (or, for zk_ntab, rehash a node's path). */
#include "zk/zk_int.h"

#define ZK_HTAB_MIN_CAP 16u
/* Maximum load: count * ZK_HTAB_LOAD_DEN <= cap * ZK_HTAB_LOAD_NUM (0.85). */
#define ZK_HTAB_LOAD_NUM 17u
#define ZK_HTAB_LOAD_DEN 20u
/* Load right after a growth: cap = count * ZK_HTAB_GROW_DEN / ZK_HTAB_GROW_NUM (0.6). */
#define ZK_HTAB_GROW_NUM 3u
#define ZK_HTAB_GROW_DEN 5u

/* Initializes an empty table. */
void zk_htab_init(zk_htab *t, uint64_t (*hash_of)(const void *item)) {
    PK_ASSERT(t != NULL);
    PK_ASSERT(hash_of != NULL);
    t->slots = NULL;
    t->hashes = NULL;
    t->cap = 0;
    t->count = 0;
    t->hash_of = hash_of;
}

/* Frees the slot array. */
void zk_htab_deinit(zk_htab *t) {
    PK_ASSERT(t != NULL);
    free(t->slots);
    free(t->hashes);
    t->slots = NULL;
    t->hashes = NULL;
    t->cap = 0;
    t->count = 0;
}

/* The home slot of a stored 32-bit hash in a table of cap slots (multiply-shift). */
static inline size_t zk_htab_home(uint32_t h32, size_t cap) { return (size_t)(((uint64_t)h32 * cap) >> 32); }

/* True when count items are within the maximum load of cap slots. */
static inline bool zk_htab_fits(size_t count, size_t cap) { return count * ZK_HTAB_LOAD_DEN <= cap * ZK_HTAB_LOAD_NUM; }

/* The capacity that holds n items at load num/den, or 0 when cap already holds them (both tables' policy). */
static size_t zk_htab_cap_for(size_t cap, size_t n, size_t num, size_t den) {
    if (cap > 0 && zk_htab_fits(n, cap)) return 0;
    size_t ncap = n / num * den + den;
    if (ncap < ZK_HTAB_MIN_CAP) ncap = ZK_HTAB_MIN_CAP;
    PK_ASSERT(zk_htab_fits(n, ncap));
    return ncap;
}

/* Places an item in the first free slot of its probe sequence (no growth). */
static void zk_htab_place(void **slots, uint32_t *hashes, size_t cap, uint32_t h32, void *item) {
    PK_ASSERT(cap > 0 && cap <= UINT32_MAX);
    size_t i = zk_htab_home(h32, cap);
    for (size_t n = 0; n < cap; n++) {
        if (slots[i] == NULL) {
            slots[i] = item;
            hashes[i] = h32;
            return;
        }
        if (++i == cap) i = 0;
    }
    PK_PANIC("zk_htab full");
}

/* Moves every item into a table of ncap slots. */
static void zk_htab_rehash(zk_htab *t, size_t ncap) {
    PK_ASSERT(ncap > t->count && ncap >= ZK_HTAB_MIN_CAP && ncap <= UINT32_MAX);
    void **ns = pk_calloc(ncap, sizeof(void *));
    uint32_t *nh = pk_malloc(ncap * sizeof(uint32_t));
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) zk_htab_place(ns, nh, ncap, t->hashes[i], t->slots[i]);
    }
    free(t->slots);
    free(t->hashes);
    t->slots = ns;
    t->hashes = nh;
    t->cap = ncap;
}

/* Resizes the table to hold n items at load num/den (when they do not fit under the maximum load). */
static void zk_htab_resize_for(zk_htab *t, size_t n, size_t num, size_t den) {
    size_t cap = zk_htab_cap_for(t->cap, n, num, den);
    if (cap) zk_htab_rehash(t, cap);
}

/* Grows the table so that n items fit at load 3/4 (an exact reservation, e.g. a snapshot's node count). */
void zk_htab_reserve(zk_htab *t, size_t n) {
    PK_ASSERT(t != NULL);
    zk_htab_resize_for(t, n, 3, 4);
}

/* Finds the item with hash h matching key. */
void *zk_htab_find(const zk_htab *t, uint64_t h, bool (*eq)(const void *item, const void *key), const void *key) {
    PK_ASSERT(t != NULL && eq != NULL);
    if (t->cap == 0) return NULL;
    uint32_t h32 = (uint32_t)h;
    size_t i = zk_htab_home(h32, t->cap);
    for (size_t n = 0; n < t->cap; n++) {
        void *it = t->slots[i];
        if (it == NULL) return NULL;
        if (t->hashes[i] == h32 && eq(it, key)) return it;
        if (++i == t->cap) i = 0;
    }
    return NULL;
}

/* Inserts an item whose hash is h, growing at the maximum load. */
void zk_htab_insert_h(zk_htab *t, void *item, uint64_t h) {
    PK_ASSERT(t != NULL && item != NULL);
    if (t->cap == 0 || !zk_htab_fits(t->count + 1, t->cap))
        zk_htab_resize_for(t, t->count + 1, ZK_HTAB_GROW_NUM, ZK_HTAB_GROW_DEN);
    zk_htab_place(t->slots, t->hashes, t->cap, (uint32_t)h, item);
    t->count++;
    PK_ASSERT(t->count < t->cap);
}

/* Inserts an item. */
void zk_htab_insert(zk_htab *t, void *item) {
    PK_ASSERT(t != NULL && item != NULL);
    zk_htab_insert_h(t, item, t->hash_of(item));
}

/* Removes an item. */
void zk_htab_remove(zk_htab *t, const void *item) {
    PK_ASSERT(t != NULL && item != NULL);
    zk_htab_remove_h(t, item, t->hash_of(item));
}

/* Removes an item whose hash is h with backward-shift deletion (no tombstones). */
void zk_htab_remove_h(zk_htab *t, const void *item, uint64_t h) {
    PK_ASSERT(t != NULL && item != NULL && t->cap > 0);
    size_t cap = t->cap;
    size_t i = zk_htab_home((uint32_t)h, cap);
    size_t n = 0;
    while (t->slots[i] != item) {
        PK_ASSERT(t->slots[i] != NULL && n++ < cap);
        if (++i == cap) i = 0;
    }
    PK_ASSERT(t->hashes[i] == (uint32_t)h);
    t->slots[i] = NULL;
    t->count--;
    size_t j = i + 1 == cap ? 0 : i + 1;
    for (n = 0; n < cap && t->slots[j] != NULL; n++) {
        size_t home = zk_htab_home(t->hashes[j], cap);
        /* the item at j may move to the hole i when its home is not cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            t->hashes[i] = t->hashes[j];
            t->slots[j] = NULL;
            i = j;
        }
        if (++j == cap) j = 0;
    }
}

/* ---- zk_ntab: the node table (node ids and 32-bit path hashes packed in one 64-bit entry) ---- */

/* An entry holding node id with 32-bit hash h32. */
static inline uint64_t zk_ntab_ent(uint32_t id, uint32_t h32) { return (uint64_t)h32 << 32 | id; }

/* Initializes an empty node table. */
void zk_ntab_init(zk_ntab *t) {
    PK_ASSERT(t != NULL);
    t->ents = NULL;
    t->cap = 0;
    t->count = 0;
}

/* Frees the entries. */
void zk_ntab_deinit(zk_ntab *t) {
    PK_ASSERT(t != NULL);
    free(t->ents);
    t->ents = NULL;
    t->cap = 0;
    t->count = 0;
}

/* Places an entry in the first free slot of its probe sequence (no growth). */
static void zk_ntab_place(uint64_t *ents, size_t cap, uint64_t e) {
    PK_ASSERT(cap > 0 && cap <= UINT32_MAX && (uint32_t)e != 0);
    size_t i = zk_htab_home((uint32_t)(e >> 32), cap);
    for (size_t n = 0; n < cap; n++) {
        if (ents[i] == 0) {
            ents[i] = e;
            return;
        }
        if (++i == cap) i = 0;
    }
    PK_PANIC("zk_ntab full");
}

/* Moves every entry into a table of ncap slots. */
static void zk_ntab_rehash(zk_ntab *t, size_t ncap) {
    PK_ASSERT(ncap > t->count && ncap >= ZK_HTAB_MIN_CAP && ncap <= UINT32_MAX);
    uint64_t *ne = pk_calloc(ncap, sizeof *ne);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->ents[i] != 0) zk_ntab_place(ne, ncap, t->ents[i]);
    }
    free(t->ents);
    t->ents = ne;
    t->cap = ncap;
}

/* Resizes the table to hold n entries at load num/den (when they do not fit under the maximum load). */
static void zk_ntab_resize_for(zk_ntab *t, size_t n, size_t num, size_t den) {
    size_t cap = zk_htab_cap_for(t->cap, n, num, den);
    if (cap) zk_ntab_rehash(t, cap);
}

/* Grows the table so that n nodes fit at load 3/4. */
void zk_ntab_reserve(zk_ntab *t, size_t n) {
    PK_ASSERT(t != NULL);
    zk_ntab_resize_for(t, n, 3, 4);
}

/* Finds the id of the node whose path is path (hash h) among the nodes of slab a. */
uint32_t zk_ntab_find(const zk_ntab *t, const zk_slab *a, uint64_t h, pk_slice path) {
    PK_ASSERT(t != NULL && a != NULL);
    if (t->cap == 0) return 0;
    uint32_t h32 = (uint32_t)h;
    size_t i = zk_htab_home(h32, t->cap);
    for (size_t n = 0; n < t->cap; n++) {
        uint64_t e = t->ents[i];
        if (e == 0) return 0;
        if ((uint32_t)(e >> 32) == h32) {
            const zk_node *x = (const zk_node *)(const void *)zk_slab_at(a, (uint32_t)e);
            if (zk_node_path_len(x) == path.len && memcmp(zk_node_path(x), path.ptr, path.len) == 0) return (uint32_t)e;
        }
        if (++i == t->cap) i = 0;
    }
    return 0;
}

/* Inserts node id with hash h, growing at the maximum load. */
void zk_ntab_insert(zk_ntab *t, uint32_t id, uint64_t h) {
    PK_ASSERT(t != NULL && id != 0);
    if (t->cap == 0 || !zk_htab_fits(t->count + 1, t->cap))
        zk_ntab_resize_for(t, t->count + 1, ZK_HTAB_GROW_NUM, ZK_HTAB_GROW_DEN);
    zk_ntab_place(t->ents, t->cap, zk_ntab_ent(id, (uint32_t)h));
    t->count++;
    PK_ASSERT(t->count < t->cap);
}

/* The slot holding exactly node id with hash h (which must be present). */
static size_t zk_ntab_slot_of(const zk_ntab *t, uint32_t id, uint64_t h) {
    PK_ASSERT(t != NULL && id != 0 && t->cap > 0);
    uint64_t want = zk_ntab_ent(id, (uint32_t)h);
    size_t i = zk_htab_home((uint32_t)h, t->cap);
    size_t n = 0;
    while (t->ents[i] != want) {
        PK_ASSERT(t->ents[i] != 0 && n++ < t->cap);
        if (++i == t->cap) i = 0;
    }
    return i;
}

/* Replaces node id by nid in its slot. */
void zk_ntab_replace(zk_ntab *t, uint32_t id, uint32_t nid, uint64_t h) {
    PK_ASSERT(nid != 0);
    t->ents[zk_ntab_slot_of(t, id, h)] = zk_ntab_ent(nid, (uint32_t)h);
}

/* Removes node id with hash h with backward-shift deletion (no tombstones). */
void zk_ntab_remove(zk_ntab *t, uint32_t id, uint64_t h) {
    size_t cap = t->cap;
    size_t i = zk_ntab_slot_of(t, id, h);
    t->ents[i] = 0;
    t->count--;
    size_t j = i + 1 == cap ? 0 : i + 1;
    for (size_t n = 0; n < cap && t->ents[j] != 0; n++) {
        size_t home = zk_htab_home((uint32_t)(t->ents[j] >> 32), cap);
        /* the entry at j may move to the hole i when its home is not cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->ents[i] = t->ents[j];
            t->ents[j] = 0;
            i = j;
        }
        if (++j == cap) j = 0;
    }
}
