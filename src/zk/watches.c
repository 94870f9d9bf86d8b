/* zk_watches: one server's watch tables, ZooKeeper's WatchManager pair (data + child) with watch modes
 * (reference/zk-protocol.md §5, §11, §15).
 *
 * NOTE for the owner of the tree (src/zk tree/apply): setWatches catch-up needs a node lookup on zk_state.
 * This file calls
 *     bool zk_node_zxids(const zk_state *s, pk_slice path, uint64_t *mzxid, uint64_t *pzxid);
 * (true and both zxids when the node exists, false when it does not). Please define it next to the tree and
 * declare it in zk.h; this file's local (weak) declaration below must then match it. Until it is linked in,
 * the lookup falls back to zk_read(exists) with a super identity, which gives the same answer more slowly.
 *
 * Model: per (connection, path) one watch record holding two mode sets, one per table (data, child); a mode set
 * is a bitmask of ZK_WMODE_STANDARD / PERSISTENT / PERSISTENT_RECURSIVE. Recursive only ever lives in the data
 * table. exists/getData: standard in data; getChildren: standard in child; addWatch persistent: data and child;
 * addWatch persistent-recursive: data only.
 *
 * Indexes (all hash maps, chained, power-of-two slots):
 *  - paths:   path bytes -> wt_path (list of its watch records),
 *  - conns:   conn id -> wt_conn (list of its watch records),
 *  - watches: (conn, path) -> wt_watch.
 * Removing a connection is O(its watches). A trigger is O(watches on the path), plus, only while some recursive
 * watch exists, one map lookup per ancestor of the path.
 * Invariants: a wt_watch has a nonzero mode set in at least one table; a wt_path / wt_conn exists iff it has at
 * least one watch; the data_* counters equal what a full scan of the data table would count.
 */
#include "zk/zk_int.h"

#include <stdlib.h>

#include "wire/jute.h"
#include "wire/records.h"

/* Node lookup provided by the tree (see the note at the top). Weak until the tree defines it. */
bool zk_node_zxids(const zk_state *s, pk_slice path, uint64_t *mzxid, uint64_t *pzxid) __attribute__((weak));

/* Catch-up lookup used by setWatches: true with the node's mzxid/pzxid when it exists. */
typedef bool (*zk_watches_lookup_fn)(void *ctx, pk_slice path, uint64_t *mzxid, uint64_t *pzxid);
/* setWatches against any node lookup (tests use a fake); not in zk.h, declared locally by its users. */
int32_t zk_watches_set_lookup(zk_watches *w, zk_watches_lookup_fn lookup, void *ctx, uint64_t conn_id, int32_t op,
                              pk_slice body, pk_buf *out);
/* Fires one event; the per-event step of zk_watches_trigger (tests call it directly). */
void zk_watches_trigger_event(zk_watches *w, int32_t type, pk_slice path, size_t index, pk_buf *out);

enum {
    WT_STD = 1u << ZK_WMODE_STANDARD,
    WT_PERS = 1u << ZK_WMODE_PERSISTENT,
    WT_REC = 1u << ZK_WMODE_PERSISTENT_RECURSIVE,
    WT_DATA = 0,   /* index into wt_watch.modes */
    WT_CHILD = 1,
    WT_MAX_PATH_DEPTH_SCAN = 1 << 20,
    WT_SPARE_MAX = 1024,  /* freed watch / connection records kept for reuse (a re-armed watch is re-created) */
};

/* The first member of every table entry: its stored hash (zk_htab's hash_of reads it, growth never rehashes keys). */
typedef struct wt_hnode {
    uint64_t hash;
} wt_hnode;

typedef struct wt_path {
    wt_hnode h;
    pk_list watches;    /* wt_watch.by_path, registration order */
    pk_list order;      /* in zk_watches.path_order */
    size_t n_watches;
    size_t n_data;      /* watches with a nonempty data mode set */
    size_t len;
    uint8_t bytes[];
} wt_path;

typedef struct wt_conn {
    wt_hnode h;
    uint64_t conn_id;
    pk_list watches;    /* wt_watch.by_conn, registration order */
    pk_list order;      /* in zk_watches.conn_order */
    size_t n_watches;
    size_t n_data;
    uint64_t data_stamp;  /* trigger stamp of the last data-table notification */
    uint64_t child_stamp; /* trigger stamp of the last child-table notification */
} wt_conn;

typedef struct wt_watch {
    wt_hnode h;
    wt_conn *conn;
    wt_path *path;
    pk_list by_path;
    pk_list by_conn;
    uint8_t modes[2];   /* [WT_DATA], [WT_CHILD] */
} wt_watch;

struct zk_watches {
    zk_htab paths;     /* wt_path by path bytes */
    zk_htab conns;     /* wt_conn by connection id */
    zk_htab watches;   /* wt_watch by (connection, path) */
    pk_list path_order;
    pk_list conn_order;
    uint64_t stamp;
    uint64_t data_conns;   /* connections with at least one data-table watch */
    uint64_t data_paths;   /* paths with at least one data-table watch */
    uint64_t data_total;   /* (connection, path) pairs in the data table */
    uint64_t recursive;    /* watches holding PERSISTENT_RECURSIVE */
    /* Recycled records, owned by the tables: a standard watch is freed when it fires and created again by the
     * client's re-arm, so the fan-out workload would otherwise malloc/free two records per event. */
    void *spare_watches[WT_SPARE_MAX];
    void *spare_conns[WT_SPARE_MAX];
    size_t n_spare_watches, n_spare_conns;
};

/* Returns a zeroed record of size bytes, reusing a spare one when there is one. */
static void *wt_alloc(void **spare, size_t *n_spare, size_t size) {
    if (*n_spare == 0) return pk_calloc(1, size);
    void *p = spare[--*n_spare];
    memset(p, 0, size);
    return p;
}

/* Keeps a freed record for reuse (up to WT_SPARE_MAX), else frees it. */
static void wt_release(void **spare, size_t *n_spare, void *p) {
    if (*n_spare < WT_SPARE_MAX) spare[(*n_spare)++] = p;
    else free(p);
}

/* ---------------------------------------------------------------- hash tables */

/* Mixes a u64 into a well-distributed hash (splitmix64 finalizer). */
static uint64_t wt_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Hash of path bytes. */
static uint64_t wt_path_hash(pk_slice p) { return pk_hash64(p.ptr, p.len, 0x7761746368ULL); }

/* Hash of a (connection, path) pair. */
static uint64_t wt_pair_hash(const wt_conn *c, const wt_path *p) { return wt_mix(c->conn_id ^ wt_mix(p->h.hash)); }

/* The stored hash of a table entry (zk_htab's hash_of). */
static uint64_t wt_hash_of(const void *item) { return ((const wt_hnode *)item)->hash; }

/* ---------------------------------------------------------------- lookups */

/* True when a path entry holds exactly these bytes. */
static bool wt_path_eq(const void *item, const void *key) {
    const wt_path *p = PK_CONTAINER_OF((const wt_hnode *)item, wt_path, h);
    const pk_slice *k = key;
    return p->len == k->len && (k->len == 0 || memcmp(p->bytes, k->ptr, k->len) == 0);
}

/* Finds the path entry for these bytes, or NULL. */
static wt_path *wt_path_find(const zk_watches *w, pk_slice path, uint64_t hash) {
    wt_hnode *n = zk_htab_find(&w->paths, hash, wt_path_eq, &path);
    return n ? PK_CONTAINER_OF(n, wt_path, h) : NULL;
}

/* True when a connection entry has this id. */
static bool wt_conn_eq(const void *item, const void *key) {
    return PK_CONTAINER_OF((const wt_hnode *)item, wt_conn, h)->conn_id == *(const uint64_t *)key;
}

/* Finds the connection entry, or NULL. */
static wt_conn *wt_conn_find(const zk_watches *w, uint64_t conn_id) {
    wt_hnode *n = zk_htab_find(&w->conns, wt_mix(conn_id), wt_conn_eq, &conn_id);
    return n ? PK_CONTAINER_OF(n, wt_conn, h) : NULL;
}

/* The (connection, path) key of a watch record. */
typedef struct wt_pair {
    const wt_conn *conn;
    const wt_path *path;
} wt_pair;

/* True when a watch record belongs to this (connection, path). */
static bool wt_watch_eq(const void *item, const void *key) {
    const wt_watch *x = PK_CONTAINER_OF((const wt_hnode *)item, wt_watch, h);
    const wt_pair *k = key;
    return x->conn == k->conn && x->path == k->path;
}

/* Finds the watch record of (c, p), or NULL. */
static wt_watch *wt_watch_find(const zk_watches *w, const wt_conn *c, const wt_path *p) {
    wt_pair key = {c, p};
    wt_hnode *n = zk_htab_find(&w->watches, wt_pair_hash(c, p), wt_watch_eq, &key);
    return n ? PK_CONTAINER_OF(n, wt_watch, h) : NULL;
}

/* Returns the path entry for these bytes, creating it. */
static wt_path *wt_path_get(zk_watches *w, pk_slice path) {
    uint64_t hash = wt_path_hash(path);
    wt_path *p = wt_path_find(w, path, hash);
    if (p != NULL) return p;
    p = pk_calloc(1, sizeof(*p) + path.len + 1);
    p->h.hash = hash;
    p->len = path.len;
    if (path.len > 0) memcpy(p->bytes, path.ptr, path.len);
    pk_list_init(&p->watches);
    pk_list_push_back(&w->path_order, &p->order);
    zk_htab_insert(&w->paths, &p->h);
    PK_ASSERT(wt_path_find(w, path, hash) == p);
    return p;
}

/* Returns the connection entry, creating it. */
static wt_conn *wt_conn_get(zk_watches *w, uint64_t conn_id) {
    wt_conn *c = wt_conn_find(w, conn_id);
    if (c != NULL) return c;
    c = wt_alloc(w->spare_conns, &w->n_spare_conns, sizeof(*c));
    c->h.hash = wt_mix(conn_id);
    c->conn_id = conn_id;
    pk_list_init(&c->watches);
    pk_list_push_back(&w->conn_order, &c->order);
    zk_htab_insert(&w->conns, &c->h);
    PK_ASSERT(wt_conn_find(w, conn_id) == c);
    return c;
}

/* Frees a path entry that has no watches left. */
static void wt_path_gc(zk_watches *w, wt_path *p) {
    if (p->n_watches != 0) return;
    PK_ASSERT(pk_list_empty(&p->watches) && p->n_data == 0);
    pk_list_remove(&p->order);
    zk_htab_remove(&w->paths, &p->h);
    free(p);
}

/* Frees a connection entry that has no watches left. */
static void wt_conn_gc(zk_watches *w, wt_conn *c) {
    if (c->n_watches != 0) return;
    PK_ASSERT(pk_list_empty(&c->watches) && c->n_data == 0);
    pk_list_remove(&c->order);
    zk_htab_remove(&w->conns, &c->h);
    wt_release(w->spare_conns, &w->n_spare_conns, c);
}

/* ---------------------------------------------------------------- mode changes */

/* Sets a watch's mode sets, keeping every counter right; a watch left with no modes is freed (its path and
 * connection entries are not: the caller runs wt_path_gc / wt_conn_gc when it is safe). Returns true if freed. */
static bool wt_watch_set(zk_watches *w, wt_watch *x, uint8_t data_modes, uint8_t child_modes) {
    PK_ASSERT((child_modes & WT_REC) == 0);
    PK_ASSERT((data_modes & ~(WT_STD | WT_PERS | WT_REC)) == 0 && (child_modes & ~(WT_STD | WT_PERS)) == 0);
    bool had_data = x->modes[WT_DATA] != 0, has_data = data_modes != 0;
    if (had_data != has_data) {
        if (has_data) {
            if (x->path->n_data++ == 0) w->data_paths++;
            if (x->conn->n_data++ == 0) w->data_conns++;
            w->data_total++;
        } else {
            PK_ASSERT(x->path->n_data > 0 && x->conn->n_data > 0 && w->data_total > 0);
            if (--x->path->n_data == 0) w->data_paths--;
            if (--x->conn->n_data == 0) w->data_conns--;
            w->data_total--;
        }
    }
    bool had_rec = (x->modes[WT_DATA] & WT_REC) != 0, has_rec = (data_modes & WT_REC) != 0;
    if (had_rec && !has_rec) w->recursive--;
    if (!had_rec && has_rec) w->recursive++;
    x->modes[WT_DATA] = data_modes;
    x->modes[WT_CHILD] = child_modes;
    if (data_modes != 0 || child_modes != 0) return false;
    pk_list_remove(&x->by_path);
    pk_list_remove(&x->by_conn);
    zk_htab_remove(&w->watches, &x->h);
    PK_ASSERT(x->path->n_watches > 0 && x->conn->n_watches > 0);
    x->path->n_watches--;
    x->conn->n_watches--;
    wt_release(w->spare_watches, &w->n_spare_watches, x);
    return true;
}

/* Returns the watch record of (conn, path), creating an empty one. */
static wt_watch *wt_watch_get(zk_watches *w, uint64_t conn_id, pk_slice path) {
    wt_conn *c = wt_conn_get(w, conn_id);
    wt_path *p = wt_path_get(w, path);
    wt_watch *x = wt_watch_find(w, c, p);
    if (x != NULL) return x;
    x = wt_alloc(w->spare_watches, &w->n_spare_watches, sizeof(*x));
    x->conn = c;
    x->path = p;
    x->h.hash = wt_pair_hash(c, p);
    pk_list_push_back(&p->watches, &x->by_path);
    pk_list_push_back(&c->watches, &x->by_conn);
    p->n_watches++;
    c->n_watches++;
    zk_htab_insert(&w->watches, &x->h);
    PK_ASSERT(x->modes[WT_DATA] == 0 && x->modes[WT_CHILD] == 0);
    return x;
}

/* Adds mode bits to a watch's tables (data_add to data, child_add to child). */
static void wt_add_modes(zk_watches *w, uint64_t conn_id, pk_slice path, uint8_t data_add, uint8_t child_add) {
    PK_ASSERT(data_add != 0 || child_add != 0);
    wt_watch *x = wt_watch_get(w, conn_id, path);
    bool freed = wt_watch_set(w, x, x->modes[WT_DATA] | data_add, x->modes[WT_CHILD] | child_add);
    PK_ASSERT(!freed);
}

/* ---------------------------------------------------------------- public: lifecycle and registration */

/* Creates empty watch tables. */
zk_watches *zk_watches_new(void) {
    zk_watches *w = pk_calloc(1, sizeof(*w));
    zk_htab_init(&w->paths, wt_hash_of);
    zk_htab_init(&w->conns, wt_hash_of);
    zk_htab_init(&w->watches, wt_hash_of);
    pk_list_init(&w->path_order);
    pk_list_init(&w->conn_order);
    PK_ASSERT(w->data_total == 0 && w->recursive == 0);
    return w;
}

/* Frees the tables and every record in them. */
void zk_watches_free(zk_watches *w) {
    if (w == NULL) return;
    size_t bound = w->conns.count + 1;
    for (size_t i = 0; !pk_list_empty(&w->conn_order); i++) {
        PK_ASSERT(i < bound);
        wt_conn *c = PK_CONTAINER_OF(w->conn_order.next, wt_conn, order);
        zk_watches_remove_conn(w, c->conn_id);
    }
    PK_ASSERT(w->paths.count == 0 && w->watches.count == 0 && w->conns.count == 0);
    zk_htab_deinit(&w->paths);
    zk_htab_deinit(&w->conns);
    zk_htab_deinit(&w->watches);
    for (size_t i = 0; i < w->n_spare_watches; i++) free(w->spare_watches[i]);
    for (size_t i = 0; i < w->n_spare_conns; i++) free(w->spare_conns[i]);
    free(w);
}

/* Registers a standard watch in one table (from a read), or addWatch's persistent modes. A persistent mode goes
 * into both tables and a persistent-recursive one into the data table, whatever `table` says (ZooKeeper's
 * addWatch rules), so callers may pass either table (or ZK_WATCH_NONE) for those. */
void zk_watches_add(zk_watches *w, uint64_t conn_id, pk_slice path, int table, int mode) {
    PK_ASSERT(w != NULL);
    PK_ASSERT(table == ZK_WATCH_NONE || table == ZK_WATCH_DATA || table == ZK_WATCH_CHILD);
    switch (mode) {
    case ZK_WMODE_STANDARD:
        PK_ASSERT(table != ZK_WATCH_NONE);
        if (table == ZK_WATCH_DATA) wt_add_modes(w, conn_id, path, WT_STD, 0);
        else wt_add_modes(w, conn_id, path, 0, WT_STD);
        break;
    case ZK_WMODE_PERSISTENT: wt_add_modes(w, conn_id, path, WT_PERS, WT_PERS); break;
    case ZK_WMODE_PERSISTENT_RECURSIVE: wt_add_modes(w, conn_id, path, WT_REC, 0); break;
    default: PK_PANIC("zk_watches_add: bad mode %d", mode);
    }
}

/* Removes every watch of a connection (connection closed): O(its watches). */
void zk_watches_remove_conn(zk_watches *w, uint64_t conn_id) {
    PK_ASSERT(w != NULL);
    wt_conn *c = wt_conn_find(w, conn_id);
    if (c == NULL) return;
    size_t bound = c->n_watches + 1;
    for (size_t i = 0; !pk_list_empty(&c->watches); i++) {
        PK_ASSERT(i < bound);
        wt_watch *x = PK_CONTAINER_OF(c->watches.next, wt_watch, by_conn);
        wt_path *p = x->path;
        bool freed = wt_watch_set(w, x, 0, 0);
        PK_ASSERT(freed);
        wt_path_gc(w, p);
    }
    PK_ASSERT(c->n_watches == 0 && c->n_data == 0);
    wt_conn_gc(w, c);
}

/* Reports whether the watch holds what watcher_type names (checkWatches, DataTree.containsWatcher). */
static bool wt_contains(const wt_watch *x, int32_t watcher_type) {
    uint8_t d = x->modes[WT_DATA], ch = x->modes[WT_CHILD];
    switch (watcher_type) {
    case ZK_WATCHER_CHILDREN: return (ch & WT_STD) != 0;
    case ZK_WATCHER_DATA: return (d & WT_STD) != 0;
    case ZK_WATCHER_ANY: return d != 0 || ch != 0;
    case ZK_WATCHER_PERSISTENT: return (d & WT_PERS) != 0;
    case ZK_WATCHER_PERSISTENT_RECURSIVE: return (d & WT_REC) != 0;
    default: PK_PANIC("bad watcher type %d", (int)watcher_type);
    }
}

/* Computes the mode sets left after removeWatches of watcher_type (DataTree.removeWatch). */
static void wt_removed(const wt_watch *x, int32_t watcher_type, uint8_t *d, uint8_t *ch) {
    *d = x->modes[WT_DATA];
    *ch = x->modes[WT_CHILD];
    switch (watcher_type) {
    case ZK_WATCHER_CHILDREN: *ch &= (uint8_t)~WT_STD; break;
    case ZK_WATCHER_DATA: *d &= (uint8_t)~WT_STD; break;
    case ZK_WATCHER_ANY: *d = 0; *ch = 0; break;
    case ZK_WATCHER_PERSISTENT: *d &= (uint8_t)~WT_PERS; *ch &= (uint8_t)~WT_PERS; break;
    case ZK_WATCHER_PERSISTENT_RECURSIVE: *d &= (uint8_t)~WT_REC; break;
    default: PK_PANIC("bad watcher type %d", (int)watcher_type);
    }
}

/* checkWatches (remove=false) / removeWatches (remove=true) for watcher type 1..5; ZK_ERR_OK or NO_WATCHER.
 * An unknown watcher type is MarshallingError (ZooKeeper's WatcherType.fromInt throws). */
int32_t zk_watches_check_remove(zk_watches *w, uint64_t conn_id, pk_slice path, int32_t watcher_type, bool remove) {
    PK_ASSERT(w != NULL);
    if (watcher_type < ZK_WATCHER_CHILDREN || watcher_type > ZK_WATCHER_PERSISTENT_RECURSIVE)
        return ZK_ERR_MARSHALLING;
    wt_conn *c = wt_conn_find(w, conn_id);
    wt_path *p = c ? wt_path_find(w, path, wt_path_hash(path)) : NULL;
    wt_watch *x = p ? wt_watch_find(w, c, p) : NULL;
    if (x == NULL) return ZK_ERR_NO_WATCHER;
    if (!remove) return wt_contains(x, watcher_type) ? ZK_ERR_OK : ZK_ERR_NO_WATCHER;
    uint8_t d, ch;
    wt_removed(x, watcher_type, &d, &ch);
    if (d == x->modes[WT_DATA] && ch == x->modes[WT_CHILD]) return ZK_ERR_NO_WATCHER;
    wt_watch_set(w, x, d, ch);
    wt_path_gc(w, p);
    wt_conn_gc(w, c);
    PK_ASSERT(w->data_total >= w->data_paths || w->data_total == 0);
    return ZK_ERR_OK;
}

/* ---------------------------------------------------------------- triggers */

/* Appends one delivery record to out. */
static void wt_deliver(pk_buf *out, uint64_t conn_id, int32_t type, size_t event_index, pk_slice path) {
    zk_delivery d = {.conn_id = conn_id, .type = type, .event_index = event_index, .path = path};
    PK_ASSERT(type >= ZK_EVENT_NODE_CREATED && type <= ZK_EVENT_NODE_CHILDREN_CHANGED);
    pk_buf_append(out, &d, sizeof(d));
    PK_ASSERT(out->len % sizeof(zk_delivery) == 0);
}

/* Fires the data table for an event on path: every data watch on the path itself (standard ones are used up),
 * then persistent-recursive watches on every ancestor; one delivery per connection. */
static void wt_trigger_data(zk_watches *w, pk_slice path, int32_t type, size_t index, pk_buf *out) {
    wt_path *p = wt_path_find(w, path, wt_path_hash(path));
    if (p != NULL) {
        size_t bound = p->n_watches + 1;
        pk_list *it = p->watches.next;
        for (size_t i = 0; it != &p->watches; i++) {
            PK_ASSERT(i < bound);
            wt_watch *x = PK_CONTAINER_OF(it, wt_watch, by_path);
            it = it->next;
            if (x->modes[WT_DATA] == 0) continue;
            wt_conn *c = x->conn;
            if (c->data_stamp != w->stamp) wt_deliver(out, c->conn_id, type, index, path);
            c->data_stamp = w->stamp;
            wt_watch_set(w, x, x->modes[WT_DATA] & (uint8_t)~WT_STD, x->modes[WT_CHILD]);
            wt_conn_gc(w, c);
        }
        wt_path_gc(w, p);
    }
    if (w->recursive == 0) return;
    PK_ASSERT(path.len < WT_MAX_PATH_DEPTH_SCAN);
    for (size_t end = path.len; end-- > 0;) {
        if (path.ptr[end] != '/') continue;
        pk_slice anc = {path.ptr, end == 0 ? 1 : end};
        if (anc.len == path.len) continue;   /* path "/" itself */
        wt_path *a = wt_path_find(w, anc, wt_path_hash(anc));
        if (a == NULL) continue;
        size_t bound = a->n_watches + 1;
        pk_list *it = a->watches.next;
        for (size_t i = 0; it != &a->watches; i++, it = it->next) {
            PK_ASSERT(i < bound);
            wt_watch *x = PK_CONTAINER_OF(it, wt_watch, by_path);
            if (!(x->modes[WT_DATA] & WT_REC) || x->conn->data_stamp == w->stamp) continue;
            x->conn->data_stamp = w->stamp;
            wt_deliver(out, x->conn->conn_id, type, index, path);
        }
    }
}

/* Fires the child table on path; with suppress_data, connections already notified by the data table for this
 * trigger get nothing (their standard child watch is used up all the same, as in ZooKeeper). */
static void wt_trigger_child(zk_watches *w, pk_slice path, int32_t type, size_t index, bool suppress_data,
                             pk_buf *out) {
    wt_path *p = wt_path_find(w, path, wt_path_hash(path));
    if (p == NULL) return;
    size_t bound = p->n_watches + 1;
    pk_list *it = p->watches.next;
    for (size_t i = 0; it != &p->watches; i++) {
        PK_ASSERT(i < bound);
        wt_watch *x = PK_CONTAINER_OF(it, wt_watch, by_path);
        it = it->next;
        if (x->modes[WT_CHILD] == 0) continue;
        wt_conn *c = x->conn;
        bool skip = (suppress_data && c->data_stamp == w->stamp) || c->child_stamp == w->stamp;
        if (!skip) wt_deliver(out, c->conn_id, type, index, path);
        c->child_stamp = w->stamp;
        wt_watch_set(w, x, x->modes[WT_DATA], x->modes[WT_CHILD] & (uint8_t)~WT_STD);
        wt_conn_gc(w, c);
    }
    wt_path_gc(w, p);
}

/* Fires one event (type, path) as event number index: appends its deliveries, using up standard watches.
 * Not in zk.h (tests drive it directly); declared locally by its users. */
void zk_watches_trigger_event(zk_watches *w, int32_t type, pk_slice path, size_t index, pk_buf *out) {
    PK_ASSERT(w != NULL && out != NULL);
    PK_ASSERT(path.ptr != NULL || path.len == 0);
    w->stamp++;
    switch (type) {
    case ZK_EVENT_NODE_CREATED:
    case ZK_EVENT_NODE_DATA_CHANGED: wt_trigger_data(w, path, type, index, out); break;
    case ZK_EVENT_NODE_DELETED:
        wt_trigger_data(w, path, type, index, out);
        wt_trigger_child(w, path, type, index, true, out);
        break;
    case ZK_EVENT_NODE_CHILDREN_CHANGED: wt_trigger_child(w, path, type, index, false, out); break;
    default: PK_PANIC("zk_watches_trigger: bad event type %d", (int)type);
    }
}

/* Computes deliveries for events in order (ZooKeeper's rules, §11.2), removing fired standard watches. */
void zk_watches_trigger(zk_watches *w, const zk_events *events, pk_buf *out) {
    PK_ASSERT(w != NULL && events != NULL && out != NULL);
    size_t n = zk_events_count(events);
    for (size_t i = 0; i < n; i++) {
        int32_t type = 0;
        pk_slice path = {0};
        zk_events_get(events, i, &type, &path);
        zk_watches_trigger_event(w, type, path, i, out);
    }
    PK_ASSERT(out->len % sizeof(zk_delivery) == 0);
}

/* ---------------------------------------------------------------- setWatches */

/* Applies one setWatches list (kind 0 data, 1 exist, 2 child, 3 persistent, 4 recursive) of a decoded body. */
static void wt_set_list(zk_watches *w, const struct wire_str_vec *v, int kind, int64_t rel,
                        zk_watches_lookup_fn lookup, void *ctx, uint64_t conn_id, pk_buf *out) {
    struct wire_vec_iter it;
    wire_str_vec_iter_init(&it, v);
    pk_slice path;
    for (int32_t i = 0; wire_str_vec_next(&it, &path); i++) {
        PK_ASSERT(i < v->count);
        uint64_t mzxid = 0, pzxid = 0;
        bool exists = kind <= 2 ? lookup(ctx, path, &mzxid, &pzxid) : false;
        bool changed_m = rel < 0 || mzxid > (uint64_t)rel, changed_p = rel < 0 || pzxid > (uint64_t)rel;
        switch (kind) {
        case 0:
            if (!exists) wt_deliver(out, conn_id, ZK_EVENT_NODE_DELETED, SIZE_MAX, path);
            else if (changed_m) wt_deliver(out, conn_id, ZK_EVENT_NODE_DATA_CHANGED, SIZE_MAX, path);
            else wt_add_modes(w, conn_id, path, WT_STD, 0);
            break;
        case 1:
            if (exists) wt_deliver(out, conn_id, ZK_EVENT_NODE_CREATED, SIZE_MAX, path);
            else wt_add_modes(w, conn_id, path, WT_STD, 0);
            break;
        case 2:
            if (!exists) wt_deliver(out, conn_id, ZK_EVENT_NODE_DELETED, SIZE_MAX, path);
            else if (changed_p) wt_deliver(out, conn_id, ZK_EVENT_NODE_CHILDREN_CHANGED, SIZE_MAX, path);
            else wt_add_modes(w, conn_id, path, 0, WT_STD);
            break;
        case 3: wt_add_modes(w, conn_id, path, WT_PERS, WT_PERS); break;
        default: wt_add_modes(w, conn_id, path, WT_REC, 0); break;
        }
    }
}

/* setWatches (101) / setWatches2 (105) against any node lookup: decodes (and so validates) the whole body first,
 * so nothing is registered from a malformed body, then registers and appends catch-up deliveries
 * (event_index SIZE_MAX) in ZooKeeper's order: data, exist, child, persistent, persistent-recursive lists.
 * Null vectors count as empty; trailing bytes are ignored, as ZooKeeper does. */
int32_t zk_watches_set_lookup(zk_watches *w, zk_watches_lookup_fn lookup, void *ctx, uint64_t conn_id, int32_t op,
                              pk_slice body, pk_buf *out) {
    PK_ASSERT(w != NULL && lookup != NULL && out != NULL);
    PK_ASSERT(op == ZK_OP_SET_WATCHES || op == ZK_OP_SET_WATCHES2);
    jute_reader r;
    jute_reader_init_slice(&r, body, INT32_MAX);
    struct wire_set_watches2 sw;
    memset(&sw, 0, sizeof sw);
    int rc;
    if (op == ZK_OP_SET_WATCHES2) {
        rc = wire_set_watches2_decode(&r, &sw);
    } else {
        struct wire_set_watches v1;
        rc = wire_set_watches_decode(&r, &v1);
        sw.relative_zxid = v1.relative_zxid;
        sw.data_watches = v1.data_watches;
        sw.exist_watches = v1.exist_watches;
        sw.child_watches = v1.child_watches;
    }
    if (rc != 0 || jute_reader_error(&r) != 0) return ZK_ERR_MARSHALLING;
    const struct wire_str_vec *lists[5] = {&sw.data_watches, &sw.exist_watches, &sw.child_watches,
                                           &sw.persistent_watches, &sw.persistent_recursive_watches};
    for (int k = 0; k < 5; k++) wt_set_list(w, lists[k], k, sw.relative_zxid, lookup, ctx, conn_id, out);
    PK_ASSERT(out->len % sizeof(zk_delivery) == 0);
    return ZK_ERR_OK;
}

/* Looks a node up through zk_node_zxids when the tree provides it, else through zk_read(exists) as super (no ACL
 * check, as ZooKeeper's setWatches does none); true with mzxid/pzxid when the node exists. */
static bool wt_state_lookup(void *ctx, pk_slice path, uint64_t *mzxid, uint64_t *pzxid) {
    const zk_state *s = ctx;
    PK_ASSERT(s != NULL && mzxid != NULL && pzxid != NULL);
    if (path.ptr == NULL) return false;   /* a null string names no node */
    if (zk_node_zxids != NULL) return zk_node_zxids(s, path, mzxid, pzxid);
    static const zk_auth_id super_id = {{(const uint8_t *)"super", 5}, {(const uint8_t *)"", 0}};
    zk_auth auth = {&super_id, 1};
    struct wire_exists_request req = {.path = path, .watch = false};
    pk_buf body, reply;
    pk_buf_init(&body);
    pk_buf_init(&reply);
    wire_exists_request_encode(&body, &req);
    zk_read_result res;
    zk_read(s, &auth, 0, ZK_OP_EXISTS, pk_buf_slice(&body), &reply, &res);
    bool exists = res.err == ZK_ERR_OK;
    if (exists) {
        jute_reader r;
        jute_reader_init_slice(&r, pk_buf_slice(&reply), INT32_MAX);
        struct wire_stat st;
        int rc = wire_stat_decode(&r, &st);
        PK_ASSERT(rc == 0);
        *mzxid = (uint64_t)st.mzxid;
        *pzxid = (uint64_t)st.pzxid;
    }
    pk_buf_deinit(&body);
    pk_buf_deinit(&reply);
    return exists;
}

/* Handles setWatches (101) / setWatches2 (105) for a connection against the applied state. */
int32_t zk_watches_set(zk_watches *w, const zk_state *s, uint64_t conn_id, int32_t op, pk_slice body,
                       pk_buf *out) {
    PK_ASSERT(w != NULL && s != NULL);
    return zk_watches_set_lookup(w, wt_state_lookup, (void *)s, conn_id, op, body, out);
}

/* ---------------------------------------------------------------- 4lw */

/* Watch counts for 4lw wchs/mntr: connections watching, distinct paths, total watches (data table). */
void zk_watches_stats(const zk_watches *w, uint64_t *conns, uint64_t *paths, uint64_t *total) {
    PK_ASSERT(w != NULL);
    PK_ASSERT(w->data_paths <= w->data_total && w->data_conns <= w->data_total);
    if (conns) *conns = w->data_conns;
    if (paths) *paths = w->data_paths;
    if (total) *total = w->data_total;
}

/* Appends "0x" and v in lowercase hex without leading zeros (Java's Long.toHexString). */
static void wt_put_hex(pk_buf *out, uint64_t v) {
    char tmp[18];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0 && n < 16);
    PK_ASSERT(v == 0 && n <= 16);
    pk_buf_append(out, "0x", 2);
    for (size_t i = 0; i < n; i++) pk_buf_append(out, &tmp[n - 1 - i], 1);
}

/* wchc: per connection with data watches, "0x<sid>\n" then "\t<path>\n" per data-watched path. */
static void wt_dump_by_conn(const zk_watches *w, uint64_t (*conn_session)(void *, uint64_t), void *ctx,
                            pk_buf *out) {
    size_t bound = w->conns.count + 1;
    const pk_list *ci = w->conn_order.next;
    for (size_t i = 0; ci != &w->conn_order; i++, ci = ci->next) {
        PK_ASSERT(i < bound);
        const wt_conn *c = PK_CONTAINER_OF(ci, wt_conn, order);
        if (c->n_data == 0) continue;
        wt_put_hex(out, conn_session(ctx, c->conn_id));
        pk_buf_append(out, "\n", 1);
        const pk_list *xi = c->watches.next;
        for (size_t j = 0; xi != &c->watches; j++, xi = xi->next) {
            PK_ASSERT(j <= c->n_watches);
            const wt_watch *x = PK_CONTAINER_OF(xi, wt_watch, by_conn);
            if (x->modes[WT_DATA] == 0) continue;
            pk_buf_append(out, "\t", 1);
            pk_buf_append(out, x->path->bytes, x->path->len);
            pk_buf_append(out, "\n", 1);
        }
    }
}

/* wchp: per path with data watches, "<path>\n" then "\t0x<sid>\n" per watching connection. */
static void wt_dump_by_path(const zk_watches *w, uint64_t (*conn_session)(void *, uint64_t), void *ctx,
                            pk_buf *out) {
    size_t bound = w->paths.count + 1;
    const pk_list *pi = w->path_order.next;
    for (size_t i = 0; pi != &w->path_order; i++, pi = pi->next) {
        PK_ASSERT(i < bound);
        const wt_path *p = PK_CONTAINER_OF(pi, wt_path, order);
        if (p->n_data == 0) continue;
        pk_buf_append(out, p->bytes, p->len);
        pk_buf_append(out, "\n", 1);
        const pk_list *xi = p->watches.next;
        for (size_t j = 0; xi != &p->watches; j++, xi = xi->next) {
            PK_ASSERT(j <= p->n_watches);
            const wt_watch *x = PK_CONTAINER_OF(xi, wt_watch, by_path);
            if (x->modes[WT_DATA] == 0) continue;
            pk_buf_append(out, "\t", 1);
            wt_put_hex(out, conn_session(ctx, x->conn->conn_id));
            pk_buf_append(out, "\n", 1);
        }
    }
}

/* Text for 4lw wchc (by_path=false) or wchp (by_path=true), data table, then a blank line. */
void zk_watches_dump(const zk_watches *w, bool by_path, uint64_t (*conn_session)(void *ctx, uint64_t conn_id),
                     void *ctx, pk_buf *out) {
    PK_ASSERT(w != NULL && out != NULL);
    PK_ASSERT(conn_session != NULL);
    if (by_path) wt_dump_by_path(w, conn_session, ctx, out);
    else wt_dump_by_conn(w, conn_session, ctx, out);
    pk_buf_append(out, "\n", 1);
}
