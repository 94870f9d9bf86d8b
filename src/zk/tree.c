/* tree: the znode tree (nodes named by their last path component, one child table per parent, moves),
 * sessions, digest and stats of zk_state, plus txn headers, batches and events. */
#include "zk/zk_int.h"

/* Hash of a session id. */
static uint64_t zk_sid_hash(uint64_t id) { return pk_hash64(&id, sizeof id, 0x5e55); }
/* Hash of a table item that is a session. */
static uint64_t zk_session_hash_of(const void *item) { return zk_sid_hash(((const zk_session *)item)->id); }

/* Finds the child of parent named name. */
zk_node *zk_tree_child(const zk_state *s, const zk_node *parent, pk_slice name, uint32_t *id) {
    PK_ASSERT(s != NULL && parent != NULL);
    uint32_t cid = 0;
    if (zk_node_nkids(parent) != 0) {
        zk_ntab t;
        zk_node_kids_load(parent, &t);
        cid = zk_ntab_find(&t, &s->slab, zk_name_hash(name), name);
    }
    if (id != NULL) *id = cid;
    return cid != 0 ? zk_node_at(s, cid) : NULL;
}

/* Walks a path from the root, component by component, recording the node and its parent. */
zk_node *zk_tree_locate(const zk_state *s, pk_slice path, zk_loc *loc) {
    PK_ASSERT(s != NULL && loc != NULL);
    *loc = (zk_loc){NULL, NULL, 0, 0};
    if (path.ptr == NULL || path.len == 0 || path.ptr[0] != '/') return NULL;
    zk_node *cur = zk_tree_root(s);
    uint32_t cid = s->root_id;
    if (path.len == 1) {
        loc->n = cur;
        loc->id = cid;
        return cur;
    }
    const uint8_t *p = path.ptr + 1, *end = path.ptr + path.len;
    for (size_t guard = 0;; guard++) {
        PK_ASSERT(guard < path.len);
        const uint8_t *q = memchr(p, '/', (size_t)(end - p));
        pk_slice name = {p, (size_t)((q != NULL ? q : end) - p)};
        if (q == NULL) {
            loc->parent = cur;
            loc->pid = cid;
            loc->n = zk_tree_child(s, cur, name, &loc->id);
            return loc->n;
        }
        cur = zk_tree_child(s, cur, name, &cid);
        if (cur == NULL) return NULL;
        p = q + 1;
    }
}

/* Finds a node by full path. */
zk_node *zk_tree_find(const zk_state *s, pk_slice path) {
    zk_loc loc;
    return zk_tree_locate(s, path, &loc);
}

/* Finds the parent node of a non-root path. */
zk_node *zk_tree_parent(const zk_state *s, pk_slice path) {
    PK_ASSERT(path.len >= 2 && path.ptr[0] == '/');
    return zk_tree_find(s, (pk_slice){path.ptr, zk_path_parent_len(path)});
}

/* The node id of a linked node: root_id, or the entry of its parent's table that names it. */
uint32_t zk_node_id(const zk_state *s, const zk_node *n) {
    PK_ASSERT(s != NULL && n != NULL);
    if (n->parent == 0) {
        PK_ASSERT(zk_tree_root(s) == n);
        return s->root_id;
    }
    uint32_t id = 0;
    const zk_node *c = zk_tree_child(s, zk_node_at(s, n->parent), zk_node_name_slice(n), &id);
    PK_ASSERT(c == n);
    return id;
}

/* Fills a location from a linked node (and its id when known). */
void zk_tree_loc_of(const zk_state *s, zk_node *n, uint32_t id, zk_loc *loc) {
    PK_ASSERT(s != NULL && n != NULL && loc != NULL);
    loc->n = n;
    loc->id = id != 0 ? id : zk_node_id(s, n);
    PK_ASSERT(zk_node_at(s, loc->id) == n);
    loc->pid = n->parent;
    loc->parent = n->parent != 0 ? zk_node_at(s, n->parent) : NULL;
}

/* Bytes of a linked node's full path (the names up to the root, each after a '/'; "/" for the root). */
size_t zk_node_fullpath_len(const zk_state *s, const zk_node *n) {
    PK_ASSERT(s != NULL && n != NULL);
    size_t len = 0, guard = 0;
    while (n->parent != 0) {
        PK_ASSERT(guard++ < s->node_count);
        len += 1 + zk_node_name_len(n);
        n = zk_node_at(s, n->parent);
    }
    return len == 0 ? 1 : len;
}

/* Appends a linked node's full path, written back to front while walking up the parent ids. */
size_t zk_node_path_append(const zk_state *s, const zk_node *n, pk_buf *out) {
    PK_ASSERT(out != NULL);
    size_t len = zk_node_fullpath_len(s, n);
    uint8_t *p = pk_buf_extend(out, len);
    if (n->parent == 0) {
        p[0] = '/';
        return 1;
    }
    size_t at = len;
    while (n->parent != 0) {
        size_t k = zk_node_name_len(n);
        PK_ASSERT(at >= k + 1);
        at -= k;
        memcpy(p + at, zk_node_name(n), k);
        p[--at] = '/';
        n = zk_node_at(s, n->parent);
    }
    PK_ASSERT(at == 0);
    return len;
}

/* A pending node of zk_tree_walk: its id and the length of its parent's path prefix in the path buffer. */
typedef struct zk_walk_ent {
    uint32_t id;
    uint32_t plen;
} zk_walk_ent;

/* Visits every node depth first with its full path, kept in one buffer truncated to the parent's prefix. */
void zk_tree_walk(const zk_state *s, void (*fn)(void *ctx, const zk_node *n, uint32_t id, pk_slice path), void *ctx) {
    PK_ASSERT(s != NULL && fn != NULL);
    pk_buf st, path;
    pk_buf_init(&st);
    pk_buf_init(&path);
    zk_walk_ent e = {s->root_id, 0};
    pk_buf_append(&st, &e, sizeof e);
    size_t guard = 0;
    while (st.len > 0) {
        PK_ASSERT(guard++ < s->node_count);
        memcpy(&e, st.data + st.len - sizeof e, sizeof e);
        st.len -= sizeof e;
        const zk_node *n = zk_node_at(s, e.id);
        path.len = e.plen;
        pk_buf_append(&path, "/", 1);
        pk_buf_append(&path, zk_node_name(n), zk_node_name_len(n));
        fn(ctx, n, e.id, pk_buf_slice(&path));
        uint32_t plen = e.id == s->root_id ? 0u : (uint32_t)path.len; /* "/" is the empty prefix of "/a" */
        PK_ASSERT(path.len <= UINT32_MAX);
        zk_ntab t;
        zk_node_kids_load(n, &t);
        for (size_t i = 0; i < t.cap; i++) {
            zk_walk_ent c = {zk_ntab_id(&t, i), plen};
            if (c.id != 0) pk_buf_append(&st, &c, sizeof c);
        }
    }
    pk_buf_deinit(&st);
    pk_buf_deinit(&path);
}

/* Digest contribution of the node's fixed fields (path, stat, acl); h is zk_path_hash of its path. */
static uint64_t zk_node_fields_digest(const zk_state *s, const zk_node *n, uint64_t h) {
    uint8_t b[11 * 8];
    zk_node_vals v;
    zk_node_get(n, &v);
    const zk_acl *a = zk_node_acl(s, n);
    int64_t f[11] = {zk_node_czxid(n), v.mzxid, v.pzxid, zk_node_ctime(n), v.mtime_ms, v.owner,
                     v.version, v.aversion, v.ccount, zk_node_data_len(n), (int64_t)(a ? a->hash : 0)};
    for (size_t i = 0; i < 11; i++) pk_put_u64(b + 8 * i, (uint64_t)f[i]);
    return pk_hash64(b, sizeof b, h);
}

/* Digest contribution of the node's data; h is zk_path_hash of its path. */
static uint64_t zk_node_data_digest(const zk_node *n, uint64_t h) {
    size_t len = zk_node_data_size(n);
    if (len == 0) return 0;
    return pk_hash64(zk_node_data(n), len, h ^ 0xda7a);
}

/* Digest contribution of a node whose path hash is h. */
uint64_t zk_node_digest_h(const zk_state *s, const zk_node *n, uint64_t h) {
    return zk_node_fields_digest(s, n, h) + zk_node_data_digest(n, h);
}

/* Digest contribution of a linked node, hashing its rebuilt full path. */
uint64_t zk_node_digest(const zk_state *s, const zk_node *n) {
    pk_buf b;
    pk_buf_init(&b);
    zk_node_path_append(s, n, &b);
    uint64_t d = zk_node_digest_h(s, n, zk_path_hash(pk_buf_slice(&b)));
    pk_buf_deinit(&b);
    return d;
}

/* Digest contribution of a session. */
uint64_t zk_session_digest(const zk_session *se) {
    uint8_t b[8 + 4 + 16];
    pk_put_u64(b, se->id);
    pk_put_u32(b + 8, (uint32_t)se->timeout_ms);
    memcpy(b + 12, se->passwd, 16);
    return pk_hash64(b, sizeof b, 0x5e55);
}

/* True for nodes the reaper looks at: containers and TTL nodes. */
static bool zk_node_reapable(const zk_node *n) {
    int64_t o = zk_node_owner(n);
    return zk_owner_is_container(o) || zk_owner_is_ttl(o);
}

/* True when mzxid, pzxid and mtime are representable as deltas from czxid / ctime (the narrow layout). */
static bool zk_node_fits_narrow(int64_t czxid, int64_t ctime_ms, const zk_node_vals *v) {
    int32_t dt = (int32_t)(uint32_t)((uint64_t)v->mtime_ms - (uint64_t)ctime_ms);
    return (uint64_t)v->mzxid - (uint64_t)czxid <= UINT32_MAX && (uint64_t)v->pzxid - (uint64_t)czxid <= UINT32_MAX &&
           (uint64_t)ctime_ms + (uint64_t)(int64_t)dt == (uint64_t)v->mtime_ms;
}

/* The tail sections a node with these values needs (see zk_node in zk_int.h; PAR brings MOD along). */
static uint8_t zk_node_need(int64_t czxid, int64_t ctime_ms, const zk_node_vals *v) {
    unsigned f = 0;
    bool wide = !zk_node_fits_narrow(czxid, ctime_ms, v);
    if (v->owner != 0) f |= ZK_NODE_OWNER;
    if (wide) f |= ZK_NODE_WIDE;
    if (v->version != 0 || (!wide && (v->mzxid != czxid || v->mtime_ms != ctime_ms))) f |= ZK_NODE_MOD;
    if (v->nkids != 0 || v->ccount != 0 || (!wide && v->pzxid != czxid)) f |= ZK_NODE_PAR | ZK_NODE_MOD;
    if (v->aversion != 0) f |= ZK_NODE_AVER;
    return (uint8_t)f;
}

/* Stores an int64 at an unaligned address. */
static void zk_node_st64(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
/* Stores an int32 at an unaligned address. */
static void zk_node_st32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

/* Writes every tail field into the node's sections (its flags and czxid/ctime are final and hold v); the
 * child table fields of PAR are left alone. */
static void zk_node_pack(zk_node *n, const zk_node_vals *v) {
    PK_ASSERT((zk_node_need(zk_node_czxid(n), zk_node_ctime(n), v) & ~n->flags) == 0);
    bool wide = (n->flags & ZK_NODE_WIDE) != 0;
    if (n->flags & ZK_NODE_OWNER) zk_node_st64(zk_node_sec(n, ZK_NODE_OWNER), v->owner);
    if (wide) {
        uint8_t *w = zk_node_sec(n, ZK_NODE_WIDE);
        zk_node_st64(w, v->mzxid);
        zk_node_st64(w + 8, v->pzxid);
        zk_node_st64(w + 16, v->mtime_ms);
    }
    if (n->flags & ZK_NODE_MOD) {
        uint8_t *m = zk_node_sec(n, ZK_NODE_MOD);
        zk_node_st32(m, v->version);
        zk_node_st32(m + 4, wide ? 0 : (int32_t)(uint32_t)((uint64_t)v->mzxid - (uint64_t)zk_node_czxid(n)));
        zk_node_st32(m + 8, wide ? 0 : (int32_t)(uint32_t)((uint64_t)v->mtime_ms - (uint64_t)zk_node_ctime(n)));
    }
    if (n->flags & ZK_NODE_PAR) {
        uint8_t *q = zk_node_sec(n, ZK_NODE_PAR);
        zk_node_st32(q + ZK_PAR_CCOUNT, v->ccount);
        zk_node_st32(q + ZK_PAR_PZXID, wide ? 0 : (int32_t)(uint32_t)((uint64_t)v->pzxid - (uint64_t)zk_node_czxid(n)));
    }
    if (n->flags & ZK_NODE_AVER) zk_node_st32(zk_node_sec(n, ZK_NODE_AVER), v->aversion);
}

/* Allocation size of a node with the given layout flags, name length and data length. */
static size_t zk_node_size(uint8_t flags, size_t name_len, size_t data_len) {
    return ZK_NODE_HDR + zk_node_opt_len(flags) + name_len + data_len;
}

/* Bytes of a node's block. */
static size_t zk_node_block_len(const zk_node *n) {
    return zk_node_size(n->flags, zk_node_name_len(n), zk_node_data_size(n));
}

/* Allocates a detached node (parent 0, no children): name, data, acl, czxid, ctime and the tail fields v
 * (the layout is the smallest that holds them); *id receives its node id. */
static zk_node *zk_node_alloc(zk_state *s, pk_slice name, pk_slice data, zk_acl *acl, int64_t czxid, int64_t ctime_ms,
                              const zk_node_vals *v, uint32_t *id) {
    PK_ASSERT(name.len < UINT32_MAX && v->nkids == 0);
    PK_ASSERT(data.len <= INT32_MAX);
    int32_t data_len = data.ptr == NULL ? -1 : (int32_t)data.len;
    uint32_t acl_idx = acl != NULL ? acl->idx : 0;
    uint8_t flags = (uint8_t)(zk_node_need(czxid, ctime_ms, v) | zk_node_need_big(czxid, ctime_ms, name.len, data_len) |
                              zk_node_need_aclx(acl_idx));
    zk_node *n = zk_slab_alloc(&s->slab, zk_node_size(flags, name.len, data.len), id);
    memset(n, 0, ZK_NODE_HDR);
    n->flags = flags;
    zk_node_set_created(n, czxid, ctime_ms);
    zk_node_set_lens(n, name.len, data_len);
    zk_node_pack(n, v);
    if (flags & ZK_NODE_PAR) {
        zk_ntab none;
        zk_ntab_init(&none);
        zk_node_kids_store(n, &none);
    }
    if (name.len > 0) memcpy(zk_node_name(n), name.ptr, name.len);
    if (data.len > 0) memcpy(zk_node_data(n), data.ptr, data.len);
    zk_node_set_acl_idx(n, acl_idx);
    return n;
}

/* Adds an ephemeral (node id) to its session's vector. */
static void zk_session_add_eph(zk_session *se, uint32_t id) {
    if (se->neph == se->ecap) {
        se->ecap = se->ecap ? se->ecap * 2 : 4;
        se->eph = pk_realloc(se->eph, se->ecap * sizeof *se->eph);
    }
    se->eph[se->neph++] = id;
    PK_ASSERT(se->neph <= se->ecap);
}

/* Removes an ephemeral (node id) from its session's vector (searching from the end). */
static void zk_session_remove_eph(zk_session *se, uint32_t id) {
    for (uint32_t i = se->neph; i > 0; i--) {
        if (se->eph[i - 1] == id) {
            se->eph[i - 1] = se->eph[--se->neph];
            return;
        }
    }
    PK_PANIC("ephemeral node id %u not in session 0x%llx", id, (unsigned long long)se->id);
}

/* Moves a linked node (id, or 0 to look it up) to a new block with layout flags (a superset of its current
 * ones) and room for data_len data bytes (the old data is kept up to that length), fixing every reference
 * the state holds to it (its id changes): its parent's table slot, root_id, its session's ephemeral entry,
 * its reapable entry and the parent field of each child (O(children)). Returns the new address; *nidp (if
 * not NULL) receives the new id. */
static zk_node *zk_node_move(zk_state *s, zk_node *n, uint32_t id, uint8_t flags, size_t data_len, uint32_t *nidp) {
    PK_ASSERT((flags & n->flags) == n->flags && data_len <= INT32_MAX);
    if (id == 0) id = zk_node_id(s, n);
    PK_ASSERT(zk_node_at(s, id) == n);
    zk_node_vals v;
    zk_node_get(n, &v);
    zk_ntab kids;
    zk_node_kids_load(n, &kids);
    zk_session *se = zk_owner_is_session(v.owner) ? zk_session_find(s, (uint64_t)v.owner) : NULL;
    uint32_t ei = UINT32_MAX;
    for (uint32_t i = 0; se != NULL && i < se->neph; i++) {
        if (se->eph[i] == id) ei = i;
    }
    PK_ASSERT(se == NULL || ei != UINT32_MAX);
    bool reapable = zk_node_reapable(n);
    pk_slice name = zk_node_name_slice(n);
    uint64_t nh = n->parent != 0 ? zk_name_hash(name) : 0;
    uint32_t mid;
    zk_node *m = zk_slab_alloc(&s->slab, zk_node_size(flags, name.len, data_len), &mid);
    memset(m, 0, ZK_NODE_HDR);
    m->parent = n->parent;
    m->flags = flags;
    zk_node_set_acl_idx(m, zk_node_acl_idx(n));
    zk_node_set_created(m, zk_node_czxid(n), zk_node_ctime(n));
    size_t old_len = zk_node_data_size(n);
    zk_node_set_lens(m, name.len, data_len < old_len ? (int32_t)data_len : zk_node_data_len(n));
    zk_node_pack(m, &v);
    if (flags & ZK_NODE_PAR) zk_node_kids_store(m, &kids); /* the table itself stays where it is */
    if (name.len > 0) memcpy(zk_node_name(m), name.ptr, name.len);
    size_t keep = old_len < data_len ? old_len : data_len;
    if (keep > 0) memcpy(zk_node_data(m), zk_node_data(n), keep);
    zk_slab_free(&s->slab, id, zk_node_block_len(n));
    if (m->parent == 0) {
        s->root_id = mid;
    } else {
        zk_ntab pt;
        zk_node_kids_load(zk_node_at(s, m->parent), &pt);
        zk_ntab_replace(&pt, id, mid, nh); /* the slot stays: only the id changes (entries are shared) */
    }
    if (reapable) {
        zk_ntab_remove(&s->reapable, id, zk_id_hash(id));
        zk_ntab_insert(&s->reapable, mid, zk_id_hash(mid));
    }
    if (se != NULL) se->eph[ei] = mid;
    for (size_t i = 0; i < kids.cap; i++) {
        uint32_t c = zk_ntab_id(&kids, i);
        if (c != 0) zk_node_at(s, c)->parent = mid;
    }
    if (nidp != NULL) *nidp = mid;
    return m;
}

/* Stores czxid, ctime and the tail fields v of a linked node (id, or 0 to look it up when needed), moving it
 * when it lacks a section; *nidp (if not NULL) receives its id afterwards. */
static zk_node *zk_node_update_at(zk_state *s, zk_node *n, uint32_t id, int64_t czxid, int64_t ctime_ms,
                                  const zk_node_vals *v, uint32_t *nidp) {
    PK_ASSERT(s != NULL && n != NULL && v != NULL && v->nkids == zk_node_nkids(n));
    uint8_t flags = (uint8_t)(n->flags | zk_node_need(czxid, ctime_ms, v) |
                              zk_node_need_big(czxid, ctime_ms, zk_node_name_len(n), zk_node_data_len(n)));
    /* the move packs the old values against the old czxid/ctime (flags hold both the old and new needs) */
    if (flags != n->flags) n = zk_node_move(s, n, id, flags, zk_node_data_size(n), &id);
    bool was_reapable = zk_node_reapable(n);
    zk_node_set_created(n, czxid, ctime_ms);
    zk_node_pack(n, v);
    bool reapable = zk_node_reapable(n);
    if (was_reapable != reapable || nidp != NULL) {
        if (id == 0) id = zk_node_id(s, n);
        PK_ASSERT(zk_node_at(s, id) == n);
        if (was_reapable != reapable && reapable) zk_ntab_insert(&s->reapable, id, zk_id_hash(id));
        else if (was_reapable != reapable) zk_ntab_remove(&s->reapable, id, zk_id_hash(id));
        if (nidp != NULL) *nidp = id;
    }
    return n;
}

/* Stores czxid, ctime and the tail fields v of a linked node, moving it when it lacks a section. */
zk_node *zk_node_update(zk_state *s, zk_node *n, int64_t czxid, int64_t ctime_ms, const zk_node_vals *v) {
    return zk_node_update_at(s, n, 0, czxid, ctime_ms, v, NULL);
}

/* Creates a node under loc->parent (updated if the parent moves); takes over acl's node ref. */
zk_node *zk_tree_create(zk_state *s, zk_loc *loc, pk_slice path, pk_slice data, zk_acl *acl, int64_t owner,
                        uint64_t zxid, int64_t time_ms) {
    PK_ASSERT(s != NULL && loc != NULL && loc->parent != NULL && zk_node_at(s, loc->pid) == loc->parent);
    size_t plen = zk_path_parent_len(path);
    pk_slice name = zk_path_name(path);
    PK_ASSERT(name.len > 0 && zk_tree_child(s, loc->parent, name, NULL) == NULL);
    uint64_t ph = zk_path_hash((pk_slice){path.ptr, plen});
    zk_node *parent = loc->parent;
    s->digest -= zk_node_fields_digest(s, parent, ph);
    zk_node_vals pv;
    zk_node_get(parent, &pv);
    pv.ccount = (int32_t)((uint32_t)pv.ccount + 1u);
    pv.pzxid = (int64_t)zxid;
    parent = zk_node_update_at(s, parent, loc->pid, zk_node_czxid(parent), zk_node_ctime(parent), &pv, &loc->pid);
    if (!(parent->flags & ZK_NODE_PAR)) { /* only when ccount wrapped to 0 and pzxid == czxid */
        parent = zk_node_move(s, parent, loc->pid, (uint8_t)(parent->flags | ZK_NODE_PAR | ZK_NODE_MOD),
                              zk_node_data_size(parent), &loc->pid);
    }
    s->digest += zk_node_fields_digest(s, parent, ph);
    loc->parent = parent;
    zk_node_vals nv = {.owner = owner, .mzxid = (int64_t)zxid, .pzxid = (int64_t)zxid, .mtime_ms = time_ms};
    uint32_t id;
    zk_node *n = zk_node_alloc(s, name, data, acl, (int64_t)zxid, time_ms, &nv, &id);
    n->parent = loc->pid;
    zk_ntab t;
    zk_node_kids_load(parent, &t);
    zk_ntab_insert(&t, id, zk_name_hash(name));
    zk_node_kids_store(parent, &t);
    if (zk_node_reapable(n)) zk_ntab_insert(&s->reapable, id, zk_id_hash(id));
    s->digest += zk_node_digest_h(s, n, zk_path_hash(path));
    s->data_size += path.len + data.len;
    s->node_count++;
    if (zk_owner_is_session(owner)) {
        zk_session *se = zk_session_find(s, (uint64_t)owner);
        PK_ASSERT(se != NULL);
        zk_session_add_eph(se, id);
        s->ephemeral_count++;
    }
    loc->n = n;
    loc->id = id;
    return n;
}

/* Frees a detached node n (node id) and its child table; acls is the intern table to drop its ACL
 * reference from (NULL: do not drop it). */
static void zk_node_free(zk_state *s, zk_acls *acls, zk_node *n, uint32_t id) {
    if (zk_node_acl_idx(n) != 0 && acls != NULL) zk_acl_unref(acls, zk_node_acl(s, n));
    zk_ntab t;
    zk_node_kids_load(n, &t);
    zk_ntab_deinit(&t);
    zk_slab_free(&s->slab, id, zk_node_block_len(n));
}

/* Deletes a childless node of loc->parent. */
void zk_tree_delete(zk_state *s, zk_loc *loc, pk_slice path, uint64_t zxid) {
    PK_ASSERT(s != NULL && loc != NULL);
    zk_node *n = loc->n, *parent = loc->parent;
    uint32_t id = loc->id;
    PK_ASSERT(n != NULL && parent != NULL && n != zk_tree_root(s) && zk_node_nkids(n) == 0);
    PK_ASSERT(zk_node_at(s, id) == n && zk_node_at(s, loc->pid) == parent && n->parent == loc->pid);
    uint64_t ph = zk_path_hash((pk_slice){path.ptr, zk_path_parent_len(path)});
    zk_ntab t;
    zk_node_kids_load(parent, &t);
    zk_ntab_remove(&t, id, zk_name_hash(zk_node_name_slice(n)));
    if (t.count == 0) zk_ntab_deinit(&t);
    zk_node_kids_store(parent, &t);
    s->digest -= zk_node_fields_digest(s, parent, ph);
    zk_node_vals pv;
    zk_node_get(parent, &pv);
    if ((int64_t)zxid > pv.pzxid) pv.pzxid = (int64_t)zxid;
    parent = zk_node_update_at(s, parent, loc->pid, zk_node_czxid(parent), zk_node_ctime(parent), &pv, &loc->pid);
    s->digest += zk_node_fields_digest(s, parent, ph);
    loc->parent = parent;
    if (zk_node_reapable(n)) zk_ntab_remove(&s->reapable, id, zk_id_hash(id));
    s->digest -= zk_node_digest_h(s, n, zk_path_hash(path));
    s->data_size -= path.len + (zk_node_data_size(n));
    s->node_count--;
    int64_t owner = zk_node_owner(n);
    if (zk_owner_is_session(owner)) {
        zk_session *se = zk_session_find(s, (uint64_t)owner);
        PK_ASSERT(se != NULL);
        zk_session_remove_eph(se, id);
        s->ephemeral_count--;
    }
    zk_node_free(s, &s->acls, n, id);
    loc->n = NULL;
    loc->id = 0;
}

/* Replaces a node's data bytes in place or by moving the node (zk_node_move fixes every pointer to it). */
zk_node *zk_tree_replace_data(zk_state *s, zk_node *n, pk_slice data) {
    PK_ASSERT(n != NULL && data.len <= INT32_MAX);
    int32_t data_len = data.ptr == NULL ? -1 : (int32_t)data.len;
    uint8_t flags = (uint8_t)(n->flags | zk_node_need_big(zk_node_czxid(n), zk_node_ctime(n), zk_node_name_len(n), data_len));
    if (data.len != zk_node_data_size(n) || flags != n->flags) n = zk_node_move(s, n, 0, flags, data.len, NULL);
    if (data.len > 0) memcpy(zk_node_data(n), data.ptr, data.len);
    zk_node_set_lens(n, zk_node_name_len(n), data_len);
    return n;
}

/* Replaces data and bumps version/mzxid/mtime; returns the (possibly moved) node. */
zk_node *zk_tree_set_data(zk_state *s, zk_node *n, uint64_t h, pk_slice data, uint64_t zxid, int64_t time_ms) {
    PK_ASSERT(n != NULL && data.len <= INT32_MAX);
    size_t cur_len = zk_node_data_size(n);
    int32_t data_len = data.ptr == NULL ? -1 : (int32_t)data.len;
    s->digest -= zk_node_digest_h(s, n, h);
    s->data_size -= cur_len;
    uint64_t dz = (uint64_t)zxid - (uint64_t)zk_node_czxid(n);
    int32_t dt = (int32_t)(uint32_t)((uint64_t)time_ms - (uint64_t)zk_node_ctime(n));
    if ((n->flags & (ZK_NODE_MOD | ZK_NODE_WIDE)) == ZK_NODE_MOD && data.len == cur_len && dz <= UINT32_MAX &&
        (uint64_t)zk_node_ctime(n) + (uint64_t)(int64_t)dt == (uint64_t)time_ms) {
        /* the usual rewrite of a set node: same size, narrow fields fit, nothing moves */
        uint8_t *m = zk_node_sec(n, ZK_NODE_MOD);
        zk_node_st32(m, zk_version_next(zk_node_ld32(m)));
        zk_node_st32(m + 4, (int32_t)(uint32_t)dz);
        zk_node_st32(m + 8, dt);
    } else {
        zk_node_vals v;
        zk_node_get(n, &v);
        v.version = zk_version_next(v.version);
        v.mzxid = (int64_t)zxid;
        v.mtime_ms = time_ms;
        uint8_t flags = (uint8_t)(n->flags | zk_node_need(zk_node_czxid(n), zk_node_ctime(n), &v) |
                                  zk_node_need_big(zk_node_czxid(n), zk_node_ctime(n), zk_node_name_len(n), data_len));
        if (flags != n->flags || data.len != cur_len) n = zk_node_move(s, n, 0, flags, data.len, NULL); /* one move at most */
        zk_node_pack(n, &v);
    }
    if (data.len > 0) memcpy(zk_node_data(n), data.ptr, data.len);
    zk_node_set_lens(n, zk_node_name_len(n), data_len);
    s->data_size += data.len;
    s->digest += zk_node_digest_h(s, n, h);
    return n;
}

/* Replaces the ACL and bumps aversion; returns the (possibly moved) node. */
zk_node *zk_tree_set_acl(zk_state *s, zk_node *n, uint64_t h, zk_acl *acl) {
    PK_ASSERT(n != NULL && acl != NULL);
    s->digest -= zk_node_fields_digest(s, n, h);
    zk_acl_unref(&s->acls, zk_node_acl(s, n));
    zk_node_vals v;
    zk_node_get(n, &v);
    v.aversion = zk_version_next(v.aversion);
    /* one move at most: the sections the new aversion and the new index need, together */
    uint8_t flags = (uint8_t)(n->flags | zk_node_need(zk_node_czxid(n), zk_node_ctime(n), &v) | zk_node_need_aclx(acl->idx));
    if (flags != n->flags) n = zk_node_move(s, n, 0, flags, zk_node_data_size(n), NULL);
    zk_node_set_acl_idx(n, acl->idx);
    n = zk_node_update(s, n, zk_node_czxid(n), zk_node_ctime(n), &v);
    s->digest += zk_node_fields_digest(s, n, h);
    return n;
}

/* Fills the client-visible stat of a node. */
void zk_node_stat(const zk_node *n, struct wire_stat *st) {
    PK_ASSERT(n != NULL && st != NULL);
    zk_node_vals v;
    zk_node_get(n, &v);
    st->czxid = zk_node_czxid(n);
    st->mzxid = v.mzxid;
    st->ctime_ms = zk_node_ctime(n);
    st->mtime_ms = v.mtime_ms;
    st->version = v.version;
    st->cversion = zk_cversion(v.ccount, v.nkids);
    st->aversion = v.aversion;
    st->ephemeral_owner = zk_owner_visible(v.owner);
    st->data_length = (int32_t)zk_node_data_size(n);
    st->num_children = (int32_t)v.nkids;
    st->pzxid = v.pzxid;
}

/* Compares a session with an id key. */
static bool zk_session_eq(const void *item, const void *key) {
    return ((const zk_session *)item)->id == *(const uint64_t *)key;
}

/* Finds a session. */
zk_session *zk_session_find(const zk_state *s, uint64_t id) {
    PK_ASSERT(s != NULL);
    return zk_htab_find(&s->sessions, zk_sid_hash(id), zk_session_eq, &id);
}

/* Adds a session. */
zk_session *zk_session_add(zk_state *s, uint64_t id, int32_t timeout_ms, const uint8_t passwd[16]) {
    PK_ASSERT(zk_session_find(s, id) == NULL);
    zk_session *se = pk_calloc(1, sizeof *se);
    se->id = id;
    se->timeout_ms = timeout_ms;
    memcpy(se->passwd, passwd, 16);
    zk_htab_insert(&s->sessions, se);
    s->digest += zk_session_digest(se);
    return se;
}

/* Removes a session that holds no ephemerals. */
void zk_session_remove(zk_state *s, zk_session *se) {
    PK_ASSERT(se != NULL && se->neph == 0);
    s->digest -= zk_session_digest(se);
    zk_htab_remove(&s->sessions, se);
    free(se->eph);
    free(se);
}

/* Looks a session up. */
bool zk_session_get(const zk_state *s, uint64_t session_id, int32_t *timeout_ms, uint8_t passwd[16]) {
    zk_session *se = zk_session_find(s, session_id);
    if (se == NULL) return false;
    if (timeout_ms) *timeout_ms = se->timeout_ms;
    if (passwd) memcpy(passwd, se->passwd, 16);
    return true;
}

/* Calls fn for every live session. */
void zk_session_each(const zk_state *s, void (*fn)(void *ctx, uint64_t session_id, int32_t timeout_ms), void *ctx) {
    PK_ASSERT(s != NULL && fn != NULL);
    for (size_t i = 0; i < s->sessions.cap; i++) {
        const zk_session *se = s->sessions.slots[i];
        if (se != NULL) fn(ctx, se->id, se->timeout_ms);
    }
}

/* Creates a state holding only "/" (world:anyone ALL, empty data). */

/* Creates a state holding only "/" (world:anyone ALL, empty data). */
zk_state *zk_state_new_empty(void) {
    zk_state *s = pk_calloc(1, sizeof *s);
    zk_slab_init(&s->slab);
    zk_ntab_init(&s->reapable);
    zk_acls_init(&s->acls);
    zk_htab_init(&s->sessions, zk_session_hash_of);
    pk_buf b;
    pk_buf_init(&b);
    jute_write_int(&b, 1);
    zk_acl_write_one(&b, ZK_PERM_ALL, "world", "anyone");
    zk_acl *acl = zk_acl_intern(&s->acls, pk_buf_slice(&b));
    pk_buf_deinit(&b);
    PK_ASSERT(acl != NULL);
    static const zk_node_vals zero;
    zk_node *root = zk_node_alloc(s, (pk_slice){(const uint8_t *)"", 0}, jute_empty(), acl, 0, 0, &zero, &s->root_id);
    s->node_count = 1;
    s->digest = zk_node_digest_h(s, root, zk_path_hash(pk_slice_str("/")));
    return s;
}

/* Creates a fresh state as ZooKeeper has it. */
zk_state *zk_state_new(void) {
    zk_state *s = zk_state_new_empty();
    static const char *const paths[] = {"/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
    for (size_t i = 0; i < 3; i++) {
        zk_acl *acl = zk_node_acl(s, zk_tree_root(s));
        if (i == 2) {
            pk_buf b;
            pk_buf_init(&b);
            jute_write_int(&b, 1);
            zk_acl_write_one(&b, ZK_PERM_READ, "world", "anyone");
            acl = zk_acl_intern(&s->acls, pk_buf_slice(&b));
            pk_buf_deinit(&b);
        } else {
            acl->node_refs++;
        }
        pk_slice path = pk_slice_str(paths[i]);
        zk_loc loc;
        PK_ASSERT(zk_tree_locate(s, path, &loc) == NULL && loc.parent != NULL);
        zk_node *n = zk_tree_create(s, &loc, path, jute_empty(), acl, 0, 0, 0);
        if (i == 2) {
            zk_node_vals v;
            zk_node_get(n, &v);
            v.aversion = -1;
            zk_node_update(s, n, zk_node_czxid(n), zk_node_ctime(n), &v);
        }
    }
    zk_node *resets[2] = {zk_tree_root(s), zk_tree_find(s, pk_slice_str("/zookeeper"))};
    for (size_t i = 0; i < 2; i++) {
        zk_node_vals v;
        zk_node_get(resets[i], &v);
        v.ccount = 0;
        zk_node_update(s, resets[i], zk_node_czxid(resets[i]), zk_node_ctime(resets[i]), &v);
    }
    s->digest = zk_state_digest_full(s);
    PK_ASSERT(s->node_count == 4);
    return s;
}

/* Frees the state: every node (children found through the tables before their parent goes), then the rest. */
void zk_state_free(zk_state *s) {
    if (s == NULL) return;
    pk_buf st;
    pk_buf_init(&st);
    pk_buf_append(&st, &s->root_id, sizeof s->root_id);
    while (st.len > 0) {
        uint32_t id;
        memcpy(&id, st.data + st.len - sizeof id, sizeof id);
        st.len -= sizeof id;
        zk_node *n = zk_node_at(s, id);
        zk_ntab t;
        zk_node_kids_load(n, &t);
        for (size_t i = 0; i < t.cap; i++) {
            uint32_t c = zk_ntab_id(&t, i);
            if (c != 0) pk_buf_append(&st, &c, sizeof c);
        }
        zk_acl_unref(NULL, zk_node_acl(s, n));
        zk_node_set_acl_idx(n, 0);
        zk_node_free(s, NULL, n, id);
    }
    pk_buf_deinit(&st);
    for (size_t i = 0; i < s->sessions.cap; i++) {
        zk_session *se = s->sessions.slots[i];
        if (se != NULL) {
            free(se->eph);
            free(se);
        }
    }
    zk_ntab_deinit(&s->reapable);
    zk_acls_deinit(&s->acls);
    zk_htab_deinit(&s->sessions);
    zk_slab_deinit(&s->slab);
    free(s);
}

/* Last applied zxid. */
uint64_t zk_state_last_zxid(const zk_state *s) { return s->last_zxid; }
/* Incremental digest. */
uint64_t zk_state_digest(const zk_state *s) { return s->digest; }

/* The running sum of zk_state_digest_full's walk. */
typedef struct zk_digest_ctx {
    const zk_state *s;
    uint64_t d;
} zk_digest_ctx;

/* Adds one node's digest contribution (zk_tree_walk callback). */
static void zk_digest_walk(void *ctx, const zk_node *n, uint32_t id, pk_slice path) {
    zk_digest_ctx *c = ctx;
    (void)id;
    c->d += zk_node_digest_h(c->s, n, zk_path_hash(path));
}

/* Recomputes the digest from scratch. */
uint64_t zk_state_digest_full(const zk_state *s) {
    PK_ASSERT(s != NULL);
    zk_digest_ctx c = {s, 0};
    zk_tree_walk(s, zk_digest_walk, &c);
    uint64_t d = c.d;
    for (size_t i = 0; i < s->sessions.cap; i++) {
        const zk_session *se = s->sessions.slots[i];
        if (se != NULL) d += zk_session_digest(se);
    }
    return d;
}

/* Fills 4lw counters. */
void zk_state_stats(const zk_state *s, zk_stats *out) {
    PK_ASSERT(s != NULL && out != NULL);
    out->node_count = s->node_count + 1;
    out->ephemeral_count = s->ephemeral_count;
    out->approximate_data_size = s->data_size;
    out->session_count = s->sessions.count;
    out->last_zxid = s->last_zxid;
}

/* ---- txn headers ---- */

/* Decodes a txn header. */
bool zk_txn_header_decode(pk_slice txn, zk_txn_header *h) {
    PK_ASSERT(h != NULL);
    if (txn.ptr == NULL || txn.len < ZK_TXN_HEADER_LEN) return false;
    h->zxid = pk_get_u64(txn.ptr);
    h->time_ms = (int64_t)pk_get_u64(txn.ptr + 8);
    h->session_id = pk_get_u64(txn.ptr + 16);
    h->op = (int32_t)pk_get_u32(txn.ptr + 24);
    h->type = txn.ptr[28];
    return true;
}

/* Appends a txn header. */
void zk_txn_header_encode(pk_buf *b, const zk_txn_header *h) {
    uint8_t *p = pk_buf_extend(b, ZK_TXN_HEADER_LEN);
    pk_put_u64(p, h->zxid);
    pk_put_u64(p + 8, (uint64_t)h->time_ms);
    pk_put_u64(p + 16, h->session_id);
    pk_put_u32(p + 24, (uint32_t)h->op);
    p[28] = h->type;
}

/* Appends the payload of one non-multi op. */
void zk_txn_op_encode(pk_buf *b, const zk_txn_op *op) {
    PK_ASSERT(op->type != ZK_TXN_MULTI);
    switch (op->type) {
    case ZK_TXN_ERROR: jute_write_int(b, op->err); break;
    case ZK_TXN_CREATE:
        jute_write_ustring(b, op->path);
        jute_write_buffer(b, op->data);
        pk_buf_append(b, op->acl.ptr, op->acl.len);
        jute_write_long(b, op->owner);
        break;
    case ZK_TXN_DELETE:
    case ZK_TXN_CHECK:
        jute_write_ustring(b, op->path);
        jute_write_int(b, op->version);
        break;
    case ZK_TXN_SET_DATA:
        jute_write_ustring(b, op->path);
        jute_write_buffer(b, op->data);
        jute_write_int(b, op->version);
        break;
    case ZK_TXN_SET_ACL:
        jute_write_ustring(b, op->path);
        pk_buf_append(b, op->acl.ptr, op->acl.len);
        jute_write_int(b, op->version);
        break;
    case ZK_TXN_CREATE_SESSION:
        jute_write_int(b, op->timeout_ms);
        pk_buf_append(b, op->passwd, 16);
        break;
    case ZK_TXN_CLOSE_SESSION: break;
    case ZK_TXN_DELETE_CONTAINER: jute_write_ustring(b, op->path); break;
    default: PK_PANIC("bad txn type %d", op->type);
    }
}

/* ---- batches ---- */

/* Appends one txn to a batch. */
void zk_batch_append(pk_buf *batch, pk_slice txn) {
    PK_ASSERT(batch != NULL && txn.len <= UINT32_MAX);
    uint8_t *p = pk_buf_extend(batch, 4);
    pk_put_u32(p, (uint32_t)txn.len);
    pk_buf_append(batch, txn.ptr, txn.len);
}

/* Iterates a batch. */
bool zk_batch_next(pk_slice batch, size_t *offset, pk_slice *txn) {
    PK_ASSERT(offset != NULL && txn != NULL);
    if (*offset >= batch.len || batch.len - *offset < 4) return false;
    size_t n = pk_get_u32(batch.ptr + *offset);
    if (batch.len - *offset - 4 < n) return false;
    *txn = (pk_slice){batch.ptr + *offset + 4, n};
    *offset += 4 + n;
    return true;
}

/* ---- events ---- */
typedef struct zk_event_rec {
    int32_t type;
    uint32_t path_len;
    size_t path_off;
    zk_acl *acl;
} zk_event_rec;

struct zk_events {
    zk_event_rec *recs;
    size_t count, cap;
    pk_buf paths;
};

/* Creates an empty event list. */
zk_events *zk_events_new(void) {
    zk_events *e = pk_calloc(1, sizeof *e);
    pk_buf_init(&e->paths);
    return e;
}

/* Empties the list. */
void zk_events_clear(zk_events *e) {
    PK_ASSERT(e != NULL);
    for (size_t i = 0; i < e->count; i++) {
        if (e->recs[i].acl != NULL) zk_acl_ext_unref(e->recs[i].acl);
    }
    e->count = 0;
    pk_buf_reset(&e->paths);
}

/* Frees the list. */
void zk_events_free(zk_events *e) {
    if (e == NULL) return;
    zk_events_clear(e);
    free(e->recs);
    pk_buf_deinit(&e->paths);
    free(e);
}

/* Number of events. */
size_t zk_events_count(const zk_events *e) { return e->count; }

/* Appends an event with an ext ref on acl. */
void zk_events_push(zk_events *e, int32_t type, pk_slice path, zk_acl *acl) {
    PK_ASSERT(e != NULL && type >= ZK_EVENT_NODE_CREATED && type <= ZK_EVENT_NODE_CHILDREN_CHANGED);
    if (e->count == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->recs = pk_realloc(e->recs, e->cap * sizeof(zk_event_rec));
    }
    if (acl != NULL) acl->ext_refs++;
    e->recs[e->count++] = (zk_event_rec){type, (uint32_t)path.len, e->paths.len, acl};
    pk_buf_append(&e->paths, path.ptr, path.len);
}

/* Reads event i. */
void zk_events_get(const zk_events *e, size_t i, int32_t *type, pk_slice *path) {
    PK_ASSERT(e != NULL && i < e->count);
    const zk_event_rec *r = &e->recs[i];
    if (type) *type = r->type;
    if (path) *path = (pk_slice){e->paths.data + r->path_off, r->path_len};
}

/* True when auth may READ the event's znode per the ACL at apply time. */
bool zk_events_readable(const zk_events *e, size_t i, const zk_auth *auth) {
    PK_ASSERT(e != NULL && i < e->count);
    return zk_acl_check(e->recs[i].acl, auth, ZK_PERM_READ);
}

/* Links a loaded node (snapshot) under its existing parent without changing the parent's stat or the digest;
 * returns false when the path is a duplicate, has no parent, or the owner session is missing. */
bool zk_tree_load_node(zk_state *s, zk_node *n, uint32_t id, pk_slice path, zk_load_hint *hint) {
    PK_ASSERT(s != NULL && n != NULL && hint != NULL && n->parent == 0);
    if (path.len < 2 || path.ptr[0] != '/') return false;
    pk_slice name = zk_node_name_slice(n);
    PK_ASSERT(pk_slice_eq(name, zk_path_name(path)));
    if (name.len == 0) return false;
    /* Siblings arrive together in a snapshot: reuse the previous node's parent when the paths agree. */
    pk_slice pp = {path.ptr, zk_path_parent_len(path)};
    if (hint->parent == NULL || !pk_slice_eq(hint->path, pp)) {
        zk_loc l;
        hint->parent = zk_tree_locate(s, pp, &l);
        hint->pid = l.id;
        hint->path = pp;
    }
    zk_node *parent = hint->parent;
    if (parent == NULL || zk_owner_is_session(zk_node_owner(parent))) return false;  /* ephemerals have no children */
    PK_ASSERT(zk_node_nkids(n) == 0);
    uint64_t nh = zk_name_hash(name);
    if (zk_node_nkids(parent) != 0) {
        zk_ntab t;
        zk_node_kids_load(parent, &t);
        if (zk_ntab_find(&t, &s->slab, nh, name) != 0) return false;
    }
    zk_session *se = NULL;
    int64_t owner = zk_node_owner(n);
    if (zk_owner_is_session(owner)) {
        se = zk_session_find(s, (uint64_t)owner);
        if (se == NULL) return false;
    }
    if (!(parent->flags & ZK_NODE_PAR)) { /* a loaded parent usually has ccount > 0, hence PAR, already */
        parent = zk_node_move(s, parent, hint->pid, (uint8_t)(parent->flags | ZK_NODE_PAR | ZK_NODE_MOD),
                              zk_node_data_size(parent), &hint->pid);
        hint->parent = parent;
    }
    zk_ntab t;
    zk_node_kids_load(parent, &t);
    if (hint->expect > 0) { /* the first of a group of siblings: room for all of them at once */
        zk_ntab_reserve(&t, t.count + hint->expect);
        hint->expect = 0;
    }
    zk_ntab_insert(&t, id, nh);
    zk_node_kids_store(parent, &t);
    n->parent = hint->pid;
    if (zk_node_reapable(n)) zk_ntab_insert(&s->reapable, id, zk_id_hash(id));
    s->data_size += path.len + (zk_node_data_size(n));
    s->node_count++;
    if (se != NULL) {
        zk_session_add_eph(se, id);
        s->ephemeral_count++;
    }
    return true;
}

/* Allocates a detached node for loading (data copied). */
zk_node *zk_tree_alloc_node(zk_state *s, pk_slice name, pk_slice data, zk_acl *acl, int64_t czxid, int64_t ctime_ms,
                            const zk_node_vals *v, uint32_t *id) {
    PK_ASSERT(v->nkids == 0);
    return zk_node_alloc(s, name, data, acl, czxid, ctime_ms, v, id);
}

/* Stores ACL index idx in a linked node (references are the caller's), moving it when it needs ZK_NODE_ACLX. */
zk_node *zk_tree_put_acl(zk_state *s, zk_node *n, uint32_t idx) {
    PK_ASSERT(s != NULL && n != NULL);
    uint8_t flags = (uint8_t)(n->flags | zk_node_need_aclx(idx));
    if (flags != n->flags) n = zk_node_move(s, n, 0, flags, zk_node_data_size(n), NULL);
    zk_node_set_acl_idx(n, idx);
    return n;
}

/* Frees a detached node (load failure). */
void zk_tree_free_node(zk_state *s, zk_node *n, uint32_t id) { zk_node_free(s, &s->acls, n, id); }
