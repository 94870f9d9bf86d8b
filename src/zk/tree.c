/* tree: the znode table, sessions, digest and stats of zk_state, plus txn headers, batches and events. */
#include "zk/zk_int.h"

/* Hash of a session id. */
static uint64_t zk_sid_hash(uint64_t id) { return pk_hash64(&id, sizeof id, 0x5e55); }
/* Hash of a table item that is a session. */
static uint64_t zk_session_hash_of(const void *item) { return zk_sid_hash(((const zk_session *)item)->id); }

/* Finds a node by full path whose zk_path_hash is h. */
zk_node *zk_tree_find_h(const zk_state *s, pk_slice path, uint64_t h) {
    PK_ASSERT(s != NULL); /* h is not re-checked: computing it is what the caller saved */
    if (path.ptr == NULL || path.len == 0) return NULL;
    uint32_t id = zk_ntab_find(&s->nodes, &s->slab, h, path);
    return id != 0 ? zk_node_at(s, id) : NULL;
}

/* Finds a node by full path. */
zk_node *zk_tree_find(const zk_state *s, pk_slice path) {
    PK_ASSERT(s != NULL);
    if (path.ptr == NULL || path.len == 0) return NULL;
    return zk_tree_find_h(s, path, zk_path_hash(path));
}

/* Finds the parent node of a non-root path. */
zk_node *zk_tree_parent(const zk_state *s, pk_slice path) {
    PK_ASSERT(path.len >= 2 && path.ptr[0] == '/');
    return zk_tree_find(s, (pk_slice){path.ptr, zk_path_parent_len(path)});
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

/* Digest contribution of a node. */
uint64_t zk_node_digest(const zk_state *s, const zk_node *n) { return zk_node_digest_h(s, n, zk_path_hash(zk_node_path_slice(n))); }

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

/* The tail sections a node with these values needs (see zk_node in zk_int.h). */
static uint8_t zk_node_need(int64_t czxid, int64_t ctime_ms, const zk_node_vals *v) {
    unsigned f = 0;
    bool wide = !zk_node_fits_narrow(czxid, ctime_ms, v);
    if (v->owner != 0) f |= ZK_NODE_OWNER;
    if (wide) f |= ZK_NODE_WIDE;
    if (v->version != 0 || (!wide && (v->mzxid != czxid || v->mtime_ms != ctime_ms))) f |= ZK_NODE_MOD;
    if (v->nkids != 0 || v->ccount != 0 || (!wide && v->pzxid != czxid)) f |= ZK_NODE_PAR;
    if (v->aversion != 0) f |= ZK_NODE_AVER;
    PK_ASSERT(v->nkids != 0 || v->kids == NULL);
    return (uint8_t)f;
}

/* Stores an int64 at an unaligned address. */
static void zk_node_st64(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
/* Stores an int32 at an unaligned address. */
static void zk_node_st32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

/* Writes every tail field into the node's sections (its flags and czxid/ctime are final and hold v). */
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
        memcpy(q, &v->kids, sizeof v->kids);
        zk_node_st32(q + sizeof(void *), (int32_t)v->nkids);
        zk_node_st32(q + sizeof(void *) + 4u, v->ccount);
        zk_node_st32(q + sizeof(void *) + 8u, wide ? 0 : (int32_t)(uint32_t)((uint64_t)v->pzxid - (uint64_t)zk_node_czxid(n)));
    }
    if (n->flags & ZK_NODE_AVER) zk_node_st32(zk_node_sec(n, ZK_NODE_AVER), v->aversion);
}

/* Allocation size of a node with the given layout flags, path length and data length. */
static size_t zk_node_size(uint8_t flags, size_t path_len, size_t data_len) {
    return ZK_NODE_HDR + zk_node_opt_len(flags) + path_len + data_len;
}

/* Bytes of a node's block. */
static size_t zk_node_block_len(const zk_node *n) {
    return zk_node_size(n->flags, zk_node_path_len(n), zk_node_data_size(n));
}

/* Allocates a detached node: path, data, acl, czxid, ctime and the tail fields v (the layout is the
 * smallest that holds them); *id receives its node id. */
static zk_node *zk_node_alloc(zk_state *s, pk_slice path, pk_slice data, zk_acl *acl, int64_t czxid, int64_t ctime_ms,
                              const zk_node_vals *v, uint32_t *id) {
    PK_ASSERT(path.len > 0 && path.len < UINT32_MAX);
    PK_ASSERT(data.len <= INT32_MAX);
    int32_t data_len = data.ptr == NULL ? -1 : (int32_t)data.len;
    uint8_t flags = (uint8_t)(zk_node_need(czxid, ctime_ms, v) | zk_node_need_big(czxid, ctime_ms, path.len, data_len));
    zk_node *n = zk_slab_alloc(&s->slab, zk_node_size(flags, path.len, data.len), id);
    memset(n, 0, ZK_NODE_HDR);
    n->flags = flags;
    zk_node_set_created(n, czxid, ctime_ms);
    zk_node_set_lens(n, path.len, data_len);
    zk_node_pack(n, v);
    memcpy(zk_node_path(n), path.ptr, path.len);
    if (data.len > 0) memcpy(zk_node_data(n), data.ptr, data.len);
    n->acl = acl != NULL ? acl->idx : 0;
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

/* The node id of a linked node n whose parent is parent (NULL for the root). */
static uint32_t zk_node_id(const zk_state *s, const zk_node *parent, const zk_node *n) {
    uint32_t id = parent == NULL ? s->root_id : zk_node_kids(parent)[n->pidx];
    PK_ASSERT(parent == NULL || n->pidx < zk_node_nkids(parent));
    PK_ASSERT(zk_node_at(s, id) == n);
    return id;
}

/* Moves a linked node to a new block with layout flags (a superset of its current ones) and room for
 * data_len data bytes (the old data is kept up to that length), fixing every reference the state holds to
 * it (its id changes): table slots, parent's kids, session's ephemerals, root_id. Returns the new address. */
static zk_node *zk_node_move(zk_state *s, zk_node *n, uint8_t flags, size_t data_len) {
    PK_ASSERT((flags & n->flags) == n->flags && data_len <= INT32_MAX);
    pk_slice path = zk_node_path_slice(n);
    bool is_root = n == zk_tree_root(s);
    zk_node *parent = is_root ? NULL : zk_tree_parent(s, path);
    PK_ASSERT(is_root || parent != NULL);
    uint32_t id = zk_node_id(s, parent, n);
    zk_node_vals v;
    zk_node_get(n, &v);
    zk_session *se = zk_owner_is_session(v.owner) ? zk_session_find(s, (uint64_t)v.owner) : NULL;
    uint32_t ei = UINT32_MAX;
    for (uint32_t i = 0; se != NULL && i < se->neph; i++) {
        if (se->eph[i] == id) ei = i;
    }
    PK_ASSERT(se == NULL || ei != UINT32_MAX);
    uint64_t h = zk_path_hash(path);
    bool reapable = zk_node_reapable(n);
    if (reapable) zk_ntab_remove(&s->reapable, id, h);
    uint32_t mid;
    zk_node *m = zk_slab_alloc(&s->slab, zk_node_size(flags, path.len, data_len), &mid);
    memset(m, 0, ZK_NODE_HDR);
    m->acl = n->acl;
    m->pidx = n->pidx;
    m->flags = flags;
    zk_node_set_created(m, zk_node_czxid(n), zk_node_ctime(n));
    size_t old_len = zk_node_data_size(n);
    zk_node_set_lens(m, path.len, data_len < old_len ? (int32_t)data_len : zk_node_data_len(n));
    zk_node_pack(m, &v);
    memcpy(zk_node_path(m), path.ptr, path.len);
    size_t keep = old_len < data_len ? old_len : data_len;
    if (keep > 0) memcpy(zk_node_data(m), zk_node_data(n), keep);
    zk_slab_free(&s->slab, id, zk_node_block_len(n));
    zk_ntab_replace(&s->nodes, id, mid, h); /* the slot stays: only the id changes */
    if (reapable) zk_ntab_insert(&s->reapable, mid, h);
    if (parent == NULL) s->root_id = mid;
    else zk_node_kids(parent)[m->pidx] = mid;
    if (se != NULL) se->eph[ei] = mid;
    return m;
}

/* Stores czxid, ctime and the tail fields v of a linked node, moving it when it lacks a section. */
zk_node *zk_node_update(zk_state *s, zk_node *n, int64_t czxid, int64_t ctime_ms, const zk_node_vals *v) {
    PK_ASSERT(s != NULL && n != NULL && v != NULL);
    uint8_t flags = (uint8_t)(n->flags | zk_node_need(czxid, ctime_ms, v) |
                              zk_node_need_big(czxid, ctime_ms, zk_node_path_len(n), zk_node_data_len(n)));
    /* the move packs the old values against the old czxid/ctime (flags hold both the old and new needs) */
    if (flags != n->flags) n = zk_node_move(s, n, flags, zk_node_data_size(n));
    bool was_reapable = zk_node_reapable(n);
    zk_node_set_created(n, czxid, ctime_ms);
    zk_node_pack(n, v);
    bool reapable = zk_node_reapable(n);
    if (was_reapable != reapable) {
        pk_slice path = zk_node_path_slice(n);
        uint64_t h = zk_path_hash(path);
        uint32_t id = zk_ntab_find(&s->nodes, &s->slab, h, path);
        PK_ASSERT(id != 0 && zk_node_at(s, id) == n);
        if (reapable) zk_ntab_insert(&s->reapable, id, h);
        else zk_ntab_remove(&s->reapable, id, h);
    }
    return n;
}

/* Appends child (node id cid) to the vector v of its parent (not yet stored back). */
static void zk_kids_push(zk_node_vals *v, zk_node *child, uint32_t cid) {
    uint32_t k = v->nkids;
    PK_ASSERT(k < UINT32_MAX / 2);
    if (k == 0 || (k >= 2 && (k & (k - 1)) == 0)) {  /* capacity invariant: see zk_node_vals.kids */
        v->kids = pk_realloc(v->kids, (k == 0 ? 2 : 2 * (size_t)k) * sizeof *v->kids);
    }
    child->pidx = k;
    v->kids[v->nkids++] = cid;
}

/* Creates a node under *parentp (updated if the parent moves); takes over acl's node ref. */
zk_node *zk_tree_create(zk_state *s, zk_node **parentp, pk_slice path, pk_slice data, zk_acl *acl, int64_t owner,
                        uint64_t zxid, int64_t time_ms) {
    zk_node *parent = *parentp;
    uint64_t h = zk_path_hash(path);
    PK_ASSERT(zk_ntab_find(&s->nodes, &s->slab, h, path) == 0);
    size_t plen = zk_path_parent_len(path);
    PK_ASSERT(parent != NULL && zk_node_path_len(parent) == plen && memcmp(zk_node_path(parent), path.ptr, plen) == 0);
    zk_node_vals nv = {.owner = owner, .mzxid = (int64_t)zxid, .pzxid = (int64_t)zxid, .mtime_ms = time_ms};
    uint32_t id;
    zk_node *n = zk_node_alloc(s, path, data, acl, (int64_t)zxid, time_ms, &nv, &id);
    uint64_t ph = zk_path_hash(zk_node_path_slice(parent));
    s->digest -= zk_node_fields_digest(s, parent, ph);
    zk_node_vals pv;
    zk_node_get(parent, &pv);
    pv.ccount = (int32_t)((uint32_t)pv.ccount + 1u);
    pv.pzxid = (int64_t)zxid;
    zk_kids_push(&pv, n, id);
    parent = zk_node_update(s, parent, zk_node_czxid(parent), zk_node_ctime(parent), &pv);
    s->digest += zk_node_fields_digest(s, parent, ph);
    *parentp = parent;
    zk_ntab_insert(&s->nodes, id, h);
    if (zk_node_reapable(n)) zk_ntab_insert(&s->reapable, id, h);
    s->digest += zk_node_digest_h(s, n, h);
    s->data_size += path.len + data.len;
    if (zk_owner_is_session(owner)) {
        zk_session *se = zk_session_find(s, (uint64_t)owner);
        PK_ASSERT(se != NULL);
        zk_session_add_eph(se, id);
        s->ephemeral_count++;
    }
    return n;
}

/* Frees a detached node n (node id); acls is the intern table to drop its ACL reference from (NULL: do
 * not drop it). */
static void zk_node_free(zk_state *s, zk_acls *acls, zk_node *n, uint32_t id) {
    if (n->acl != 0 && acls != NULL) zk_acl_unref(acls, zk_node_acl(s, n));
    free(zk_node_kids(n));
    zk_slab_free(&s->slab, id, zk_node_block_len(n));
}

/* Deletes a childless node of parent. */
void zk_tree_delete(zk_state *s, zk_node *parent, zk_node *n, uint64_t zxid) {
    PK_ASSERT(n != NULL && n != zk_tree_root(s) && parent != NULL);
    zk_node_vals pv;
    zk_node_get(parent, &pv);
    PK_ASSERT(zk_node_nkids(n) == 0);
    uint32_t id = zk_node_id(s, parent, n);
    uint64_t ph = zk_path_hash(zk_node_path_slice(parent));
    s->digest -= zk_node_fields_digest(s, parent, ph);
    uint32_t last = pv.kids[--pv.nkids]; /* swap with the last */
    pv.kids[n->pidx] = last;
    zk_node_at(s, last)->pidx = n->pidx;
    if (pv.nkids == 0) {
        free(pv.kids);
        pv.kids = NULL;
    }
    if ((int64_t)zxid > pv.pzxid) pv.pzxid = (int64_t)zxid;
    parent = zk_node_update(s, parent, zk_node_czxid(parent), zk_node_ctime(parent), &pv);
    s->digest += zk_node_fields_digest(s, parent, ph);
    uint64_t h = zk_path_hash(zk_node_path_slice(n));
    zk_ntab_remove(&s->nodes, id, h);
    if (zk_node_reapable(n)) zk_ntab_remove(&s->reapable, id, h);
    s->digest -= zk_node_digest_h(s, n, h);
    s->data_size -= zk_node_path_len(n) + zk_node_data_size(n);
    int64_t owner = zk_node_owner(n);
    if (zk_owner_is_session(owner)) {
        zk_session *se = zk_session_find(s, (uint64_t)owner);
        PK_ASSERT(se != NULL);
        zk_session_remove_eph(se, id);
        s->ephemeral_count--;
    }
    zk_node_free(s, &s->acls, n, id);
}

/* Replaces a node's data bytes in place or by moving the node (zk_node_move fixes every pointer to it). */
zk_node *zk_tree_replace_data(zk_state *s, zk_node *n, pk_slice data) {
    PK_ASSERT(n != NULL && data.len <= INT32_MAX);
    int32_t data_len = data.ptr == NULL ? -1 : (int32_t)data.len;
    uint8_t flags = (uint8_t)(n->flags | zk_node_need_big(zk_node_czxid(n), zk_node_ctime(n), zk_node_path_len(n), data_len));
    if (data.len != zk_node_data_size(n) || flags != n->flags) n = zk_node_move(s, n, flags, data.len);
    if (data.len > 0) memcpy(zk_node_data(n), data.ptr, data.len);
    zk_node_set_lens(n, zk_node_path_len(n), data_len);
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
                                  zk_node_need_big(zk_node_czxid(n), zk_node_ctime(n), zk_node_path_len(n), data_len));
        if (flags != n->flags || data.len != cur_len) n = zk_node_move(s, n, flags, data.len); /* one move at most */
        zk_node_pack(n, &v);
    }
    if (data.len > 0) memcpy(zk_node_data(n), data.ptr, data.len);
    zk_node_set_lens(n, zk_node_path_len(n), data_len);
    s->data_size += data.len;
    s->digest += zk_node_digest_h(s, n, h);
    return n;
}

/* Replaces the ACL and bumps aversion; returns the (possibly moved) node. */
zk_node *zk_tree_set_acl(zk_state *s, zk_node *n, zk_acl *acl) {
    PK_ASSERT(n != NULL && acl != NULL);
    uint64_t h = zk_path_hash(zk_node_path_slice(n));
    s->digest -= zk_node_fields_digest(s, n, h);
    zk_acl_unref(&s->acls, zk_node_acl(s, n));
    n->acl = acl->idx;
    zk_node_vals v;
    zk_node_get(n, &v);
    v.aversion = zk_version_next(v.aversion);
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
zk_state *zk_state_new_empty(void) {
    zk_state *s = pk_calloc(1, sizeof *s);
    zk_slab_init(&s->slab);
    zk_ntab_init(&s->nodes);
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
    zk_node *root = zk_node_alloc(s, pk_slice_str("/"), jute_empty(), acl, 0, 0, &zero, &s->root_id);
    zk_ntab_insert(&s->nodes, s->root_id, zk_path_hash(zk_node_path_slice(root)));
    s->digest = zk_node_digest(s, root);
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
        zk_node *parent = zk_tree_parent(s, path);
        zk_node *n = zk_tree_create(s, &parent, path, jute_empty(), acl, 0, 0, 0);
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
    PK_ASSERT(s->nodes.count == 4);
    return s;
}

/* Frees the state. */
void zk_state_free(zk_state *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->nodes.cap; i++) {
        uint32_t id = zk_ntab_id(&s->nodes, i);
        if (id != 0) {
            zk_node *n = zk_node_at(s, id);
            zk_acl_unref(NULL, zk_node_acl(s, n));
            n->acl = 0;
            zk_node_free(s, NULL, n, id);
        }
    }
    for (size_t i = 0; i < s->sessions.cap; i++) {
        zk_session *se = s->sessions.slots[i];
        if (se != NULL) {
            free(se->eph);
            free(se);
        }
    }
    zk_ntab_deinit(&s->nodes);
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

/* Recomputes the digest from scratch. */
uint64_t zk_state_digest_full(const zk_state *s) {
    PK_ASSERT(s != NULL);
    uint64_t d = 0;
    for (size_t i = 0; i < s->nodes.cap; i++) {
        uint32_t id = zk_ntab_id(&s->nodes, i);
        if (id != 0) d += zk_node_digest(s, zk_node_at(s, id));
    }
    for (size_t i = 0; i < s->sessions.cap; i++) {
        const zk_session *se = s->sessions.slots[i];
        if (se != NULL) d += zk_session_digest(se);
    }
    return d;
}

/* Fills 4lw counters. */
void zk_state_stats(const zk_state *s, zk_stats *out) {
    PK_ASSERT(s != NULL && out != NULL);
    out->node_count = s->nodes.count + 1;
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
bool zk_tree_load_node(zk_state *s, zk_node *n, uint32_t id, zk_node **parent_hint, uint64_t *hash_out) {
    PK_ASSERT(s != NULL && n != NULL && parent_hint != NULL && hash_out != NULL);
    pk_slice path = zk_node_path_slice(n);
    if (path.len < 2 || path.ptr[0] != '/') return false;
    uint64_t h = zk_path_hash(path);
    *hash_out = h;
    if (zk_ntab_find(&s->nodes, &s->slab, h, path) != 0) return false;
    /* Siblings arrive together in a snapshot: reuse the previous node's parent when the paths agree. */
    size_t plen = zk_path_parent_len(path);
    zk_node *parent = *parent_hint;
    if (parent == NULL || zk_node_path_len(parent) != plen || memcmp(zk_node_path(parent), path.ptr, plen) != 0)
        parent = zk_tree_parent(s, path);
    *parent_hint = parent;
    if (parent == NULL || zk_owner_is_session(zk_node_owner(parent))) return false;  /* ephemerals have no children */
    PK_ASSERT(zk_node_nkids(n) == 0);
    zk_session *se = NULL;
    int64_t owner = zk_node_owner(n);
    if (zk_owner_is_session(owner)) {
        se = zk_session_find(s, (uint64_t)owner);
        if (se == NULL) return false;
    }
    if (parent->flags & ZK_NODE_PAR) { /* the usual case (a loaded parent has ccount > 0): only kids change */
        zk_node_vals pv = {.nkids = zk_node_nkids(parent), .kids = zk_node_kids(parent)};
        zk_kids_push(&pv, n, id);
        uint8_t *q = zk_node_sec(parent, ZK_NODE_PAR);
        memcpy(q, &pv.kids, sizeof pv.kids);
        zk_node_st32(q + sizeof(void *), (int32_t)pv.nkids);
    } else {
        zk_node_vals pv;
        zk_node_get(parent, &pv);
        zk_kids_push(&pv, n, id);
        parent = zk_node_update(s, parent, zk_node_czxid(parent), zk_node_ctime(parent), &pv); /* moves to gain PAR */
        *parent_hint = parent;
    }
    zk_ntab_insert(&s->nodes, id, h);
    if (zk_node_reapable(n)) zk_ntab_insert(&s->reapable, id, h);
    s->data_size += zk_node_path_len(n) + zk_node_data_size(n);
    if (se != NULL) {
        zk_session_add_eph(se, id);
        s->ephemeral_count++;
    }
    return true;
}

/* Allocates a detached node for loading (fields zero, hash set, data copied). */
zk_node *zk_tree_alloc_node(zk_state *s, pk_slice path, pk_slice data, zk_acl *acl, int64_t czxid, int64_t ctime_ms,
                            const zk_node_vals *v, uint32_t *id) {
    PK_ASSERT(v->nkids == 0 && v->kids == NULL);
    return zk_node_alloc(s, path, data, acl, czxid, ctime_ms, v, id);
}

/* Pre-sizes the node table. */
void zk_tree_reserve(zk_state *s, size_t n) { zk_ntab_reserve(&s->nodes, n); }

/* Frees a detached node (load failure). */
void zk_tree_free_node(zk_state *s, zk_node *n, uint32_t id) { zk_node_free(s, &s->acls, n, id); }
