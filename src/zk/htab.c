/* htab: the open-addressing pointer table used for nodes, ACLs, sessions and the prep overlay. */
#include "zk/zk_int.h"

#define ZK_HTAB_MIN_CAP 16u

/* Initializes an empty table. */
void zk_htab_init(zk_htab *t, uint64_t (*hash_of)(const void *item)) {
    PK_ASSERT(t != NULL);
    PK_ASSERT(hash_of != NULL);
    t->slots = NULL;
    t->tags = NULL;
    t->cap = 0;
    t->count = 0;
    t->hash_of = hash_of;
}

/* Frees the slot array. */
void zk_htab_deinit(zk_htab *t) {
    PK_ASSERT(t != NULL);
    free(t->slots);
    free(t->tags);
    t->slots = NULL;
    t->tags = NULL;
    t->cap = 0;
    t->count = 0;
}

/* The probe tag of a hash (its top 16 bits; the slot index uses the low bits). */
static inline uint16_t zk_htab_tag(uint64_t h) { return (uint16_t)(h >> 48); }

/* Places an item in the first free slot of its probe sequence (no growth). */
static void zk_htab_place(void **slots, uint16_t *tags, size_t cap, uint64_t h, void *item) {
    PK_ASSERT(cap > 0 && (cap & (cap - 1)) == 0);
    size_t mask = cap - 1;
    size_t i = (size_t)h & mask;
    for (size_t n = 0; n < cap; n++, i = (i + 1) & mask) {
        if (slots[i] == NULL) {
            slots[i] = item;
            tags[i] = zk_htab_tag(h);
            return;
        }
    }
    PK_PANIC("zk_htab full");
}

/* Rehashes every item into a table of ncap slots. */
static void zk_htab_rehash(zk_htab *t, size_t ncap) {
    PK_ASSERT(ncap > t->count && (ncap & (ncap - 1)) == 0);
    void **ns = pk_calloc(ncap, sizeof(void *));
    uint16_t *nt = pk_calloc(ncap, sizeof(uint16_t));
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) zk_htab_place(ns, nt, ncap, t->hash_of(t->slots[i]), t->slots[i]);
    }
    free(t->slots);
    free(t->tags);
    t->slots = ns;
    t->tags = nt;
    t->cap = ncap;
}

/* Doubles the capacity. */
static void zk_htab_grow(zk_htab *t) {
    size_t ncap = t->cap ? t->cap * 2 : ZK_HTAB_MIN_CAP;
    PK_ASSERT(ncap > t->count * 2);
    zk_htab_rehash(t, ncap);
}

/* Grows the table so that n items fit under the 3/4 load limit. */
void zk_htab_reserve(zk_htab *t, size_t n) {
    PK_ASSERT(t != NULL);
    size_t cap = t->cap ? t->cap : ZK_HTAB_MIN_CAP;
    for (size_t i = 0; i < 64 && (n + 1) * 4 > cap * 3; i++) cap *= 2;
    if (cap > t->cap) zk_htab_rehash(t, cap);
}

/* Finds the item with hash h matching key. */
void *zk_htab_find(const zk_htab *t, uint64_t h, bool (*eq)(const void *item, const void *key), const void *key) {
    PK_ASSERT(t != NULL && eq != NULL);
    if (t->cap == 0) return NULL;
    size_t mask = t->cap - 1;
    size_t i = (size_t)h & mask;
    uint16_t tag = zk_htab_tag(h);
    for (size_t n = 0; n < t->cap; n++, i = (i + 1) & mask) {
        void *it = t->slots[i];
        if (it == NULL) return NULL;
        if (t->tags[i] == tag && t->hash_of(it) == h && eq(it, key)) return it;
    }
    return NULL;
}

/* Inserts an item, growing at 3/4 load. */
void zk_htab_insert(zk_htab *t, void *item) {
    PK_ASSERT(t != NULL && item != NULL);
    if ((t->count + 1) * 4 > t->cap * 3) zk_htab_grow(t);
    zk_htab_place(t->slots, t->tags, t->cap, t->hash_of(item), item);
    t->count++;
    PK_ASSERT(t->count < t->cap);
}

/* Removes an item with backward-shift deletion (no tombstones). */
void zk_htab_remove(zk_htab *t, const void *item) {
    PK_ASSERT(t != NULL && item != NULL && t->cap > 0);
    size_t mask = t->cap - 1;
    size_t i = (size_t)t->hash_of(item) & mask;
    size_t n = 0;
    while (t->slots[i] != item) {
        PK_ASSERT(t->slots[i] != NULL && n++ < t->cap);
        i = (i + 1) & mask;
    }
    t->slots[i] = NULL;
    t->count--;
    size_t j = (i + 1) & mask;
    for (n = 0; n < t->cap && t->slots[j] != NULL; n++, j = (j + 1) & mask) {
        void *it = t->slots[j];
        size_t home = (size_t)t->hash_of(it) & mask;
        /* it may move to the hole i when its home is not cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slots[i] = it;
            t->tags[i] = t->tags[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
}
