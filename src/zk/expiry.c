/* zk_expiry: the leader's session-expiry tracker, ZooKeeper's ExpiryQueue (reference §12.1).
 *
 * A session touched at now_ms with timeout T goes into the bucket at
 *     expiry = (floor((now_ms + T) / tick) + 1) * tick
 * which is ZooKeeper's ExpiryQueue.roundToNextInterval: the next tick boundary strictly after now + T (so when
 * now + T is itself a boundary, the session lands one tick later, exactly as ZooKeeper does). A session is due
 * once now_ms >= its bucket time.
 *
 * Structure: a hash map session id -> session record, a hash map bucket time -> bucket (a list of sessions),
 * and a min-heap of the non-empty buckets by time. touch is O(1) except when it creates or empties a bucket
 * (then O(log buckets), and the number of live buckets is bounded by max timeout / tick + 1).
 * Invariants: every tracked session is in exactly one bucket; no bucket is empty; heap[i]->heap_index == i.
 */
#include "zk/zk_int.h"

#include <stdlib.h>

/* A table entry keyed by a u64 (first member of sessions and buckets, kept in zk_htab tables). */
typedef struct exp_hnode {
    uint64_t key;
} exp_hnode;

typedef struct exp_bucket {
    exp_hnode h;        /* key = expiry time in ms */
    pk_list sessions;   /* exp_session.link */
    size_t count;
    size_t heap_index;
} exp_bucket;

typedef struct exp_session {
    exp_hnode h;        /* key = session id */
    exp_bucket *bucket;
    pk_list link;
} exp_session;

struct zk_expiry {
    uint64_t tick_ms;
    zk_htab sessions;   /* exp_session by session id */
    zk_htab buckets;    /* exp_bucket by expiry time */
    exp_bucket **heap;
    size_t heap_len;
    size_t heap_cap;
};

/* Mixes a u64 key into a well-distributed slot hash (splitmix64 finalizer). */
static uint64_t exp_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The table hash of an entry (zk_htab's hash_of). */
static uint64_t exp_hash_of(const void *item) { return exp_mix(((const exp_hnode *)item)->key); }

/* True when the entry has this key (zk_htab's eq). */
static bool exp_key_eq(const void *item, const void *key) { return ((const exp_hnode *)item)->key == *(const uint64_t *)key; }

/* Returns the entry with this key, or NULL. */
static exp_hnode *exp_find(const zk_htab *t, uint64_t key) { return zk_htab_find(t, exp_mix(key), exp_key_eq, &key); }

/* Swaps two heap slots and fixes their back-indices. */
static void exp_heap_swap(zk_expiry *e, size_t a, size_t b) {
    exp_bucket *t = e->heap[a];
    e->heap[a] = e->heap[b];
    e->heap[b] = t;
    e->heap[a]->heap_index = a;
    e->heap[b]->heap_index = b;
}

/* Moves the bucket at index i up while it is earlier than its parent. */
static void exp_heap_up(zk_expiry *e, size_t i) {
    PK_ASSERT(i < e->heap_len);
    for (size_t n = 0; i > 0; n++) {
        PK_ASSERT(n < 64);
        size_t parent = (i - 1) / 2;
        if (e->heap[parent]->h.key <= e->heap[i]->h.key) break;
        exp_heap_swap(e, parent, i);
        i = parent;
    }
}

/* Moves the bucket at index i down while a child is earlier. */
static void exp_heap_down(zk_expiry *e, size_t i) {
    PK_ASSERT(i < e->heap_len);
    for (size_t n = 0; n < 64; n++) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->heap_len && e->heap[l]->h.key < e->heap[m]->h.key) m = l;
        if (r < e->heap_len && e->heap[r]->h.key < e->heap[m]->h.key) m = r;
        if (m == i) return;
        exp_heap_swap(e, i, m);
        i = m;
    }
    PK_PANIC("expiry heap deeper than 64 levels");
}

/* Returns the bucket for this expiry time, creating it (and pushing it on the heap) if needed. */
static exp_bucket *exp_bucket_get(zk_expiry *e, uint64_t time_ms) {
    exp_hnode *h = exp_find(&e->buckets, time_ms);
    if (h != NULL) return PK_CONTAINER_OF(h, exp_bucket, h);
    exp_bucket *b = pk_calloc(1, sizeof(*b));
    b->h.key = time_ms;
    pk_list_init(&b->sessions);
    zk_htab_insert(&e->buckets, &b->h);
    if (e->heap_len == e->heap_cap) {
        e->heap_cap = e->heap_cap ? e->heap_cap * 2 : 16;
        e->heap = pk_realloc(e->heap, e->heap_cap * sizeof(*e->heap));
    }
    b->heap_index = e->heap_len;
    e->heap[e->heap_len++] = b;
    exp_heap_up(e, b->heap_index);
    PK_ASSERT(e->heap_len == e->buckets.count);
    return b;
}

/* Frees an empty bucket, removing it from the map and the heap. */
static void exp_bucket_free(zk_expiry *e, exp_bucket *b) {
    PK_ASSERT(b->count == 0 && pk_list_empty(&b->sessions));
    size_t i = b->heap_index;
    PK_ASSERT(i < e->heap_len && e->heap[i] == b);
    size_t last = e->heap_len - 1;
    if (i != last) {
        exp_heap_swap(e, i, last);
        e->heap_len--;
        exp_heap_down(e, i);
        exp_heap_up(e, i);
    } else {
        e->heap_len--;
    }
    zk_htab_remove(&e->buckets, &b->h);
    PK_ASSERT(e->heap_len == e->buckets.count);
    free(b);
}

/* Takes a session out of its bucket, freeing the bucket if it became empty. */
static void exp_session_unbucket(zk_expiry *e, exp_session *s) {
    exp_bucket *b = s->bucket;
    PK_ASSERT(b != NULL && b->count > 0);
    pk_list_remove(&s->link);
    b->count--;
    s->bucket = NULL;
    if (b->count == 0) exp_bucket_free(e, b);
}

/* Creates an expiry tracker with buckets of tick_ms. */
zk_expiry *zk_expiry_new(uint64_t tick_ms) {
    PK_ASSERT(tick_ms > 0);
    zk_expiry *e = pk_calloc(1, sizeof(*e));
    e->tick_ms = tick_ms;
    zk_htab_init(&e->sessions, exp_hash_of);
    zk_htab_init(&e->buckets, exp_hash_of);
    PK_ASSERT(e->heap_len == 0);
    return e;
}

/* Frees the tracker. */
void zk_expiry_free(zk_expiry *e) {
    if (e == NULL) return;
    for (size_t i = 0; i < e->sessions.cap; i++)
        if (e->sessions.slots[i] != NULL) free(PK_CONTAINER_OF((exp_hnode *)e->sessions.slots[i], exp_session, h));
    for (size_t i = 0; i < e->heap_len; i++) free(e->heap[i]);
    zk_htab_deinit(&e->sessions);
    zk_htab_deinit(&e->buckets);
    free(e->heap);
    free(e);
}

/* Records activity: the session expires at the tick boundary after now_ms + timeout_ms. Adds it if unknown. */
void zk_expiry_touch(zk_expiry *e, uint64_t session_id, int32_t timeout_ms, uint64_t now_ms) {
    PK_ASSERT(e != NULL && timeout_ms >= 0);
    uint64_t t = now_ms + (uint64_t)timeout_ms;
    PK_ASSERT(t >= now_ms);
    uint64_t expiry_ms = (t / e->tick_ms + 1) * e->tick_ms;
    PK_ASSERT(expiry_ms > t);
    exp_hnode *h = exp_find(&e->sessions, session_id);
    exp_session *s;
    if (h != NULL) {
        s = PK_CONTAINER_OF(h, exp_session, h);
        if (s->bucket->h.key == expiry_ms) return;
        exp_session_unbucket(e, s);
    } else {
        s = pk_calloc(1, sizeof(*s));
        s->h.key = session_id;
        pk_list_init(&s->link);
        zk_htab_insert(&e->sessions, &s->h);
    }
    exp_bucket *b = exp_bucket_get(e, expiry_ms);
    pk_list_push_back(&b->sessions, &s->link);
    b->count++;
    s->bucket = b;
}

/* Stops tracking a session (closed); unknown ids are ignored. */
void zk_expiry_remove(zk_expiry *e, uint64_t session_id) {
    PK_ASSERT(e != NULL);
    exp_hnode *h = exp_find(&e->sessions, session_id);
    if (h == NULL) return;
    exp_session *s = PK_CONTAINER_OF(h, exp_session, h);
    exp_session_unbucket(e, s);
    zk_htab_remove(&e->sessions, &s->h);
    free(s);
}

/* Appends up to max expired session ids (bucket time <= now_ms) to ids and stops tracking them. */
size_t zk_expiry_due(zk_expiry *e, uint64_t now_ms, uint64_t *ids, size_t max) {
    PK_ASSERT(e != NULL);
    PK_ASSERT(ids != NULL || max == 0);
    size_t n = 0;
    while (n < max && e->heap_len > 0 && e->heap[0]->h.key <= now_ms) {
        exp_bucket *b = e->heap[0];
        PK_ASSERT(b->count > 0 && !pk_list_empty(&b->sessions));
        exp_session *s = PK_CONTAINER_OF(b->sessions.next, exp_session, link);
        ids[n++] = s->h.key;
        exp_session_unbucket(e, s);
        zk_htab_remove(&e->sessions, &s->h);
        free(s);
    }
    PK_ASSERT(n <= max);
    return n;
}
