/* htab: the open-addressing pointer table used for nodes, ACLs, sessions, watches and the prep overlay.
 * Capacity is any size >= ZK_HTAB_MIN_CAP (not a power of two): an item's home slot is the multiply-shift
 * reduction of the low 32 bits of its hash, which the table stores beside the slot, so growth and
 * removal never call hash_of (a node's hash_of rehashes its whole path). */
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
    if (t->cap > 0 && zk_htab_fits(n, t->cap)) return;
    size_t cap = n / num * den + den;
    if (cap < ZK_HTAB_MIN_CAP) cap = ZK_HTAB_MIN_CAP;
    PK_ASSERT(zk_htab_fits(n, cap));
    zk_htab_rehash(t, cap);
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
