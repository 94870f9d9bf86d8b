/* prep: resolves client writes into txns against state + a speculative overlay (PrepRequestProcessor). */
#include "zk/zk_int.h"

#define ZK_PREP_MAX_SESSIONS 1000000u

/* One pending change of a path (ZooKeeper's ChangeRecord). */
typedef struct zk_prep_entry {
    uint64_t hash;
    uint64_t zxid;
    struct zk_prep_entry *next;   /* FIFO in zxid order */
    zk_view v;                    /* v.acl points at acl_bytes */
    uint8_t *acl_bytes;
    uint32_t path_len;
    char path[];
} zk_prep_entry;

/* A pending session change (created or closing). */
typedef struct zk_prep_session {
    uint64_t id;
    uint64_t zxid;
    bool closing;
} zk_prep_session;

struct zk_prep {
    zk_prep_options opt;
    zk_htab map;                  /* path -> latest entry */
    zk_prep_entry *head, *tail;
    zk_prep *below;               /* scratch overlays (multi) read through to this one */
    zk_prep_session *sess;
    size_t nsess, csess;
};

/* Hash of an overlay entry. */
static uint64_t zk_prep_entry_hash(const void *item) { return ((const zk_prep_entry *)item)->hash; }

/* Compares an entry's path with a slice key. */
static bool zk_prep_entry_eq(const void *item, const void *key) {
    const zk_prep_entry *e = item;
    const pk_slice *k = key;
    return e->path_len == k->len && memcmp(e->path, k->ptr, k->len) == 0;
}

/* Creates an empty overlay. */
zk_prep *zk_prep_new(const zk_prep_options *opt) {
    PK_ASSERT(opt != NULL);
    zk_prep *p = pk_calloc(1, sizeof *p);
    p->opt = *opt;
    if (p->opt.max_buffer_bytes == 0) p->opt.max_buffer_bytes = ZK_MAX_BUFFER_DEFAULT;
    zk_htab_init(&p->map, zk_prep_entry_hash);
    return p;
}

/* Frees one entry. */
static void zk_prep_entry_free(zk_prep_entry *e) {
    free(e->acl_bytes);
    free(e);
}

/* Drops all speculation. */
void zk_prep_reset(zk_prep *p) {
    PK_ASSERT(p != NULL);
    zk_prep_entry *e = p->head;
    while (e != NULL) {
        zk_prep_entry *nx = e->next;
        zk_prep_entry_free(e);
        e = nx;
    }
    p->head = p->tail = NULL;
    zk_htab_deinit(&p->map);
    zk_htab_init(&p->map, zk_prep_entry_hash);
    p->nsess = 0;
}

/* Frees the overlay. */
void zk_prep_free(zk_prep *p) {
    if (p == NULL) return;
    zk_prep_reset(p);
    zk_htab_deinit(&p->map);
    free(p->sess);
    free(p);
}

/* Forgets entries of txns with zxid <= zxid. */
void zk_prep_applied(zk_prep *p, uint64_t zxid) {
    PK_ASSERT(p != NULL);
    size_t guard = 0;
    while (p->head != NULL && p->head->zxid <= zxid) {
        zk_prep_entry *e = p->head;
        PK_ASSERT(guard++ < ((size_t)1 << 40));
        p->head = e->next;
        if (p->head == NULL) p->tail = NULL;
        pk_slice key = {(const uint8_t *)e->path, e->path_len};
        if (zk_htab_find(&p->map, e->hash, zk_prep_entry_eq, &key) == e) zk_htab_remove(&p->map, e);
        zk_prep_entry_free(e);
    }
    size_t k = 0;
    for (size_t i = 0; i < p->nsess; i++) {
        if (p->sess[i].zxid > zxid) p->sess[k++] = p->sess[i];
    }
    p->nsess = k;
}

/* Reads the pending view of a path (own map, then lower overlays, then the state). */
void zk_prep_view(zk_prep *p, const zk_state *s, pk_slice path, zk_view *v) {
    PK_ASSERT(s != NULL && v != NULL);
    uint64_t h = zk_path_hash(path);
    for (zk_prep *q = p; q != NULL; q = q->below) {
        zk_prep_entry *e = zk_htab_find(&q->map, h, zk_prep_entry_eq, &path);
        if (e != NULL) {
            *v = e->v;
            return;
        }
    }
    memset(v, 0, sizeof *v);
    const zk_node *n = zk_tree_find(s, path);
    if (n == NULL) return;
    *v = (zk_view){true, zk_node_version(n), zk_node_aversion(n), zk_node_ccount(n), zk_node_nkids(n), zk_node_owner(n),
                   (pk_slice){zk_node_acl(s, n)->blob, zk_node_acl(s, n)->blob_len}, zk_node_acl(s, n)};
}

/* Records the pending view of a path for a txn with zxid. */
void zk_prep_put(zk_prep *p, pk_slice path, const zk_view *v, uint64_t zxid) {
    PK_ASSERT(p != NULL && v != NULL && path.len > 0);
    PK_ASSERT(p->tail == NULL || p->tail->zxid <= zxid);
    zk_prep_entry *e = pk_malloc(sizeof(zk_prep_entry) + path.len + 1);
    e->hash = zk_path_hash(path);
    e->zxid = zxid;
    e->next = NULL;
    e->path_len = (uint32_t)path.len;
    memcpy(e->path, path.ptr, path.len);
    e->path[path.len] = 0;
    e->v = *v;
    e->v.aclp = NULL;
    e->acl_bytes = NULL;
    if (v->exists && v->acl.len > 0) {
        e->acl_bytes = pk_malloc(v->acl.len);
        memcpy(e->acl_bytes, v->acl.ptr, v->acl.len);
        e->v.acl = (pk_slice){e->acl_bytes, v->acl.len};
    } else {
        e->v.acl = (pk_slice){NULL, 0};
    }
    zk_prep_entry *old = zk_htab_find(&p->map, e->hash, zk_prep_entry_eq, &path);
    if (old != NULL) zk_htab_remove(&p->map, old);
    zk_htab_insert(&p->map, e);
    if (p->tail) p->tail->next = e;
    else p->head = e;
    p->tail = e;
}

/* Moves every entry of a scratch overlay into p (after a multi resolved successfully). */
static void zk_prep_merge(zk_prep *p, const zk_prep *scratch) {
    for (const zk_prep_entry *e = scratch->head; e != NULL; e = e->next) {
        zk_prep_put(p, (pk_slice){(const uint8_t *)e->path, e->path_len}, &e->v, e->zxid);
    }
}

/* True when a view's ACL grants perm to auth. */
static bool zk_view_allows(const zk_view *v, const zk_auth *auth, int32_t perm) {
    if (v->aclp != NULL) return zk_acl_check(v->aclp, auth, perm);
    return zk_acl_check_blob(v->acl, auth, perm);
}

/* Records a pending session change. */
static void zk_prep_session_note(zk_prep *p, uint64_t id, bool closing, uint64_t zxid) {
    if (p->nsess == p->csess) {
        p->csess = p->csess ? p->csess * 2 : 8;
        PK_ASSERT(p->csess <= ZK_PREP_MAX_SESSIONS * 2);
        p->sess = pk_realloc(p->sess, p->csess * sizeof(zk_prep_session));
    }
    p->sess[p->nsess++] = (zk_prep_session){id, zxid, closing};
}

/* True when a session is alive as far as the overlay knows (exists and not closing). */
static bool zk_prep_session_alive(const zk_prep *p, const zk_state *s, uint64_t id) {
    for (size_t i = p->nsess; i > 0; i--) {
        if (p->sess[i - 1].id == id) return !p->sess[i - 1].closing;
    }
    return zk_session_find(s, id) != NULL;
}

/* True for paths that can never be deleted. */
static bool zk_prep_special(pk_slice p) {
    return pk_slice_eq(p, pk_slice_str("/")) || pk_slice_eq(p, pk_slice_str("/zookeeper")) ||
           pk_slice_eq(p, pk_slice_str("/zookeeper/quota")) || pk_slice_eq(p, pk_slice_str("/zookeeper/config"));
}

/* Parent of path as ZooKeeper computes it: substring before the last '/', "" meaning "/". Returns false when
 * the path has no '/' or contains NUL. */
static bool zk_prep_parent(pk_slice path, pk_slice *parent) {
    if (path.ptr == NULL || path.len == 0 || memchr(path.ptr, 0, path.len) != NULL) return false;
    size_t i = path.len;
    while (i > 0 && path.ptr[i - 1] != '/') i--;
    if (i == 0) return false;
    size_t plen = i - 1;
    *parent = plen == 0 ? pk_slice_str("/") : (pk_slice){path.ptr, plen};
    return true;
}

/* Pending effect of creating path (under parent view pv) on the overlay. */
static void zk_prep_note_create(zk_prep *p, pk_slice parent, zk_view *pv, pk_slice path, int64_t owner,
                                pk_slice acl, uint64_t zxid) {
    pv->ccount = (int32_t)((uint32_t)pv->ccount + 1u);
    pv->nkids++;
    zk_prep_put(p, parent, pv, zxid);
    zk_view nv = {true, 0, 0, 0, 0, owner, acl, NULL};
    zk_prep_put(p, path, &nv, zxid);
}

/* Pending effect of deleting path on the overlay. */
static void zk_prep_note_delete(zk_prep *p, const zk_state *s, pk_slice path, uint64_t zxid) {
    pk_slice parent;
    bool ok = zk_prep_parent(path, &parent);
    PK_ASSERT(ok);
    zk_view pv;
    zk_prep_view(p, s, parent, &pv);
    if (pv.exists) {
        pv.nkids--;
        zk_prep_put(p, parent, &pv, zxid);
    }
    zk_view gone = {0};
    zk_prep_put(p, path, &gone, zxid);
}

/* Owner value for a create by op and mode. */
static int64_t zk_create_owner(int32_t op, int32_t flags, int64_t ttl_ms, uint64_t session_id) {
    if (op == ZK_OP_CREATE_CONTAINER) return ZK_OWNER_CONTAINER;
    if (op == ZK_OP_CREATE_TTL && zk_create_mode_is_ttl(flags)) return (int64_t)(ZK_OWNER_TTL_MASK | (uint64_t)ttl_ms);
    if (zk_create_mode_is_ephemeral(flags)) return (int64_t)session_id;
    return 0;
}

/* Resolves a create* in ZooKeeper's check order; on success appends the CREATE payload to out. */
static int32_t zk_prep_create(zk_prep *p, const zk_state *s, const zk_request *req, int32_t op,
                              const struct wire_create_request *cr, int64_t ttl_ms, uint64_t zxid, zk_txn_op *top,
                              pk_buf *scratch) {
    int32_t flags = cr->flags;
    if (flags < 0 || flags > ZK_CREATE_MODE_MAX) return ZK_ERR_BAD_ARGUMENTS;
    bool ttl_mode = zk_create_mode_is_ttl(flags);
    if (ttl_mode && !p->opt.ttl_enabled) return ZK_ERR_UNIMPLEMENTED;
    if (ttl_mode ? (ttl_ms <= 0 || ttl_ms > ZK_TTL_MAX) : ttl_ms >= 0) return ZK_ERR_BAD_ARGUMENTS;
    if (zk_create_mode_is_ephemeral(flags) && !zk_prep_session_alive(p, s, req->session_id))
        return ZK_ERR_SESSION_EXPIRED;
    pk_slice parent;
    if (!zk_prep_parent(cr->path, &parent)) return ZK_ERR_BAD_ARGUMENTS;
    size_t acl_off = scratch->len;
    int32_t rc = zk_acl_fixup(&cr->acl, req->auth, scratch);
    if (rc != ZK_ERR_OK) return rc;
    zk_view pv;
    zk_prep_view(p, s, parent, &pv);
    if (!pv.exists) return ZK_ERR_NO_NODE;
    if (!zk_view_allows(&pv, req->auth, ZK_PERM_CREATE)) return ZK_ERR_NO_AUTH;
    size_t path_off = scratch->len;
    pk_buf_append(scratch, cr->path.ptr, cr->path.len);
    if (zk_create_mode_is_sequential(flags)) {
        char suffix[16];
        int32_t c = pv.ccount;
        /* %010d without stdio: sign, then zero-padded digits */
        int64_t v = c;
        size_t k = 0;
        char digits[12];
        uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
        do { digits[k++] = (char)('0' + u % 10); u /= 10; } while (u > 0 && k < sizeof digits);
        size_t w = 0;
        if (v < 0) suffix[w++] = '-';
        for (size_t z = k + (v < 0 ? 1 : 0); z < 10; z++) suffix[w++] = '0';
        while (k > 0) suffix[w++] = digits[--k];
        pk_buf_append(scratch, suffix, w);
    }
    pk_slice path = {scratch->data + path_off, scratch->len - path_off};
    pk_slice acl = {scratch->data + acl_off, path_off - acl_off};
    if (!zk_path_valid(path)) return ZK_ERR_BAD_ARGUMENTS;
    zk_view nv;
    zk_prep_view(p, s, path, &nv);
    if (nv.exists) return ZK_ERR_NODE_EXISTS;
    if (zk_owner_is_session(pv.owner)) return ZK_ERR_NO_CHILDREN_FOR_EPHEMERALS;
    int64_t owner = zk_create_owner(op, flags, ttl_ms, req->session_id);
    zk_prep_note_create(p, parent, &pv, path, owner, acl, zxid);
    *top = (zk_txn_op){.op = op, .type = ZK_TXN_CREATE, .path = path, .data = cr->data, .acl = acl, .owner = owner};
    return ZK_ERR_OK;
}

/* Resolves a delete. */
static int32_t zk_prep_delete(zk_prep *p, const zk_state *s, const zk_request *req, pk_slice path, int32_t version,
                              uint64_t zxid, zk_txn_op *top) {
    pk_slice parent;
    if (!zk_prep_parent(path, &parent) || zk_prep_special(path)) return ZK_ERR_BAD_ARGUMENTS;
    zk_view pv, nv;
    zk_prep_view(p, s, parent, &pv);
    if (!pv.exists) return ZK_ERR_NO_NODE;
    if (!zk_view_allows(&pv, req->auth, ZK_PERM_DELETE)) return ZK_ERR_NO_AUTH;
    zk_prep_view(p, s, path, &nv);
    if (!nv.exists) return ZK_ERR_NO_NODE;
    if (version != -1 && version != nv.version) return ZK_ERR_BAD_VERSION;
    if (nv.nkids > 0) return ZK_ERR_NOT_EMPTY;
    zk_prep_note_delete(p, s, path, zxid);
    *top = (zk_txn_op){.op = ZK_OP_DELETE, .type = ZK_TXN_DELETE, .path = path, .version = version};
    return ZK_ERR_OK;
}

/* Resolves setData (type SET_DATA) or check (type CHECK). */
static int32_t zk_prep_set_data(zk_prep *p, const zk_state *s, const zk_request *req, uint8_t type, pk_slice path,
                                pk_slice data, int32_t version, uint64_t zxid, zk_txn_op *top) {
    if (!zk_path_valid(path)) return ZK_ERR_BAD_ARGUMENTS;
    zk_view nv;
    zk_prep_view(p, s, path, &nv);
    if (!nv.exists) return ZK_ERR_NO_NODE;
    int32_t perm = type == ZK_TXN_CHECK ? ZK_PERM_READ : ZK_PERM_WRITE;
    if (!zk_view_allows(&nv, req->auth, perm)) return ZK_ERR_NO_AUTH;
    if (version != -1 && version != nv.version) return ZK_ERR_BAD_VERSION;
    if (type == ZK_TXN_SET_DATA) {
        nv.version = zk_version_next(nv.version);
        zk_prep_put(p, path, &nv, zxid);
    }
    *top = (zk_txn_op){.op = type == ZK_TXN_CHECK ? ZK_OP_CHECK : ZK_OP_SET_DATA, .type = type, .path = path,
                       .data = data, .version = version};
    return ZK_ERR_OK;
}

/* Resolves setACL. */
static int32_t zk_prep_set_acl(zk_prep *p, const zk_state *s, const zk_request *req,
                               const struct wire_set_acl_request *sr, uint64_t zxid, zk_txn_op *top, pk_buf *scratch) {
    if (!zk_path_valid(sr->path)) return ZK_ERR_BAD_ARGUMENTS;
    size_t acl_off = scratch->len;
    int32_t rc = zk_acl_fixup(&sr->acl, req->auth, scratch);
    if (rc != ZK_ERR_OK) return rc;
    zk_view nv;
    zk_prep_view(p, s, sr->path, &nv);
    if (!nv.exists) return ZK_ERR_NO_NODE;
    if (!zk_view_allows(&nv, req->auth, ZK_PERM_ADMIN)) return ZK_ERR_NO_AUTH;
    if (sr->version != -1 && sr->version != nv.aversion) return ZK_ERR_BAD_VERSION;
    pk_slice acl = {scratch->data + acl_off, scratch->len - acl_off};
    nv.aversion = zk_version_next(nv.aversion);
    nv.acl = acl;
    nv.aclp = NULL;
    zk_prep_put(p, sr->path, &nv, zxid);
    *top = (zk_txn_op){.op = ZK_OP_SET_ACL, .type = ZK_TXN_SET_ACL, .path = sr->path, .acl = acl,
                       .version = sr->version};
    return ZK_ERR_OK;
}

/* Resolves one decoded write op (not multi) into *top; slices may point into scratch (stable: reserved). */
static int32_t zk_prep_one(zk_prep *p, const zk_state *s, const zk_request *req, const struct wire_request *w,
                           uint64_t zxid, zk_txn_op *top, pk_buf *scratch) {
    switch (w->op) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATE_CONTAINER:
        return zk_prep_create(p, s, req, w->op, &w->u.create, -1, zxid, top, scratch);
    case ZK_OP_CREATE_TTL: {
        const struct wire_create_ttl_request *t = &w->u.create_ttl;
        struct wire_create_request cr = {t->path, t->data, t->acl, t->flags};
        return zk_prep_create(p, s, req, w->op, &cr, t->ttl_ms, zxid, top, scratch);
    }
    case ZK_OP_DELETE: return zk_prep_delete(p, s, req, w->u.del.path, w->u.del.version, zxid, top);
    case ZK_OP_SET_DATA:
        return zk_prep_set_data(p, s, req, ZK_TXN_SET_DATA, w->u.set_data.path, w->u.set_data.data,
                                w->u.set_data.version, zxid, top);
    case ZK_OP_CHECK:
        return zk_prep_set_data(p, s, req, ZK_TXN_CHECK, w->u.check.path, jute_null(), w->u.check.version, zxid, top);
    case ZK_OP_SET_ACL: return zk_prep_set_acl(p, s, req, &w->u.set_acl, zxid, top, scratch);
    default: PK_PANIC("not a write op %d", w->op);
    }
}

/* True when op is a write that zk_prep_request handles. */
bool zk_op_is_write(int32_t op) {
    switch (op) {
    case ZK_OP_CREATE: case ZK_OP_CREATE2: case ZK_OP_CREATE_CONTAINER: case ZK_OP_CREATE_TTL:
    case ZK_OP_DELETE: case ZK_OP_SET_DATA: case ZK_OP_SET_ACL: case ZK_OP_MULTI: case ZK_OP_RECONFIG:
        return true;
    default: return false;
    }
}

/* Field-length limit for decoding requests (jute.maxbuffer + extrasize). */
static int32_t zk_prep_field_limit(const zk_prep *p) {
    uint64_t lim = (uint64_t)p->opt.max_buffer_bytes * 2;
    if (lim < 1024) lim = 1024;
    return lim > INT32_MAX ? INT32_MAX : (int32_t)lim;
}

/* Appends an error txn. */
static void zk_prep_error_txn(pk_buf *out, uint64_t zxid, int64_t time_ms, uint64_t sid, int32_t op, int32_t err) {
    zk_txn_header h = {zxid, time_ms, sid, op, ZK_TXN_ERROR};
    zk_txn_header_encode(out, &h);
    jute_write_int(out, err);
}

/* Resolves a multi: decodes all ops first (MarshallingError before any txn), then resolves each against a
 * scratch overlay; success merges it, failure writes the error multi. */
static int zk_prep_multi(zk_prep *p, const zk_state *s, const zk_request *req, uint64_t zxid, int64_t time_ms,
                         pk_buf *out) {
    struct wire_multi_iter it;
    wire_multi_iter_init(&it, ZK_OP_MULTI, req->body, zk_prep_field_limit(p));
    size_t cap = 16, n = 0;
    struct wire_request *ws = pk_malloc(cap * sizeof *ws);
    int rc;
    while ((rc = wire_multi_iter_next(&it, &ws[n])) == 1) {
        if (++n == cap) {
            cap *= 2;
            PK_ASSERT(cap <= (size_t)ZK_TXN_MAX_MULTI_OPS * 4);
            ws = pk_realloc(ws, cap * sizeof *ws);
        }
        if (n > ZK_TXN_MAX_MULTI_OPS) { rc = -1; break; }
    }
    if (rc != 0) {
        free(ws);
        return ZK_ERR_MARSHALLING;
    }
    zk_prep scratch_ov;
    memset(&scratch_ov, 0, sizeof scratch_ov);
    scratch_ov.opt = p->opt;
    scratch_ov.below = p;
    zk_htab_init(&scratch_ov.map, zk_prep_entry_hash);
    zk_txn_op *tops = pk_calloc(n ? n : 1, sizeof(zk_txn_op));
    pk_buf *bufs = pk_calloc(n ? n : 1, sizeof(pk_buf));  /* one per op: slices into them stay valid */
    size_t failed = n;
    int32_t code = ZK_ERR_OK;
    for (size_t i = 0; i < n && failed == n; i++) {
        scratch_ov.sess = p->sess;   /* session checks read the real overlay's pending sessions */
        scratch_ov.nsess = p->nsess;
        pk_buf_init(&bufs[i]);
        code = zk_prep_one(&scratch_ov, s, req, &ws[i], zxid, &tops[i], &bufs[i]);
        if (code != ZK_ERR_OK) failed = i;
    }
    scratch_ov.sess = NULL;
    size_t start = out->len;
    for (int pass = 0; pass < 2; pass++) {
        out->len = start;
        zk_txn_header h = {zxid, time_ms, req->session_id, ZK_OP_MULTI, ZK_TXN_MULTI};
        zk_txn_header_encode(out, &h);
        jute_write_int(out, (int32_t)n);
        for (size_t i = 0; i < n; i++) {
            if (failed < n) {
                int32_t e = i < failed ? ZK_ERR_OK : i == failed ? code : ZK_ERR_RUNTIME_INCONSISTENCY;
                zk_txn_op eo = {.op = ws[i].op, .type = ZK_TXN_ERROR, .err = e};
                tops[i] = eo;
            }
            jute_write_int(out, tops[i].op);
            jute_write_byte(out, tops[i].type);
            zk_txn_op_encode(out, &tops[i]);
        }
        if (failed < n || out->len - start <= ZK_TXN_MAX_BYTES) break;
        failed = 0; /* too large as a whole: fails at its first op and changes nothing (ZK_TXN_MAX_BYTES) */
        code = ZK_ERR_BAD_ARGUMENTS;
    }
    PK_ASSERT(out->len - start <= ZK_TXN_MAX_BYTES);
    if (failed == n) zk_prep_merge(p, &scratch_ov);
    zk_prep_reset(&scratch_ov);
    zk_htab_deinit(&scratch_ov.map);
    for (size_t i = 0; i < n; i++) pk_buf_deinit(&bufs[i]);
    free(bufs);
    free(tops);
    free(ws);
    return ZK_ERR_OK;
}

/* Resolves a client write into a txn. */
int zk_prep_request(zk_prep *p, const zk_state *s, const zk_request *req, uint64_t zxid, int64_t time_ms,
                    pk_buf *txn_out) {
    PK_ASSERT(p != NULL && s != NULL && req != NULL);
    PK_ASSERT(txn_out != NULL && p->below == NULL);
    if (!zk_op_is_write(req->op)) return ZK_ERR_UNIMPLEMENTED;
    if (req->op == ZK_OP_MULTI) return zk_prep_multi(p, s, req, zxid, time_ms, txn_out);
    jute_reader r;
    jute_reader_init_slice(&r, req->body, zk_prep_field_limit(p));
    struct wire_request w;
    if (wire_request_decode(&r, req->op, &w) != 0) return ZK_ERR_MARSHALLING;
    if (req->op == ZK_OP_RECONFIG) {
        zk_prep_error_txn(txn_out, zxid, time_ms, req->session_id, req->op, ZK_ERR_RECONFIG_DISABLED);
        return ZK_ERR_OK;
    }
    pk_buf scratch;
    pk_buf_init(&scratch);
    zk_txn_op top;
    int32_t code = zk_prep_one(p, s, req, &w, zxid, &top, &scratch);
    if (code != ZK_ERR_OK) {
        zk_prep_error_txn(txn_out, zxid, time_ms, req->session_id, req->op, code);
    } else {
        zk_txn_header h = {zxid, time_ms, req->session_id, req->op, top.type};
        zk_txn_header_encode(txn_out, &h);
        zk_txn_op_encode(txn_out, &top);
    }
    pk_buf_deinit(&scratch);
    return ZK_ERR_OK;
}

/* Resolves a new session. */
int zk_prep_create_session(zk_prep *p, const zk_state *s, uint64_t session_id, int32_t timeout_ms,
                           const uint8_t passwd[16], uint64_t zxid, int64_t time_ms, pk_buf *txn_out) {
    PK_ASSERT(p != NULL && s != NULL && passwd != NULL);
    PK_ASSERT(session_id != 0 && zk_owner_is_session((int64_t)session_id));
    zk_txn_header h = {zxid, time_ms, session_id, ZK_OP_CREATE_SESSION, ZK_TXN_CREATE_SESSION};
    zk_txn_header_encode(txn_out, &h);
    zk_txn_op op = {.type = ZK_TXN_CREATE_SESSION, .timeout_ms = timeout_ms, .passwd = passwd};
    zk_txn_op_encode(txn_out, &op);
    zk_prep_session_note(p, session_id, false, zxid);
    return ZK_ERR_OK;
}

/* Collects the paths the close of a session will delete (state ephemerals + pending ones) into the overlay. */
static void zk_prep_close_ephemerals(zk_prep *p, const zk_state *s, uint64_t sid, uint64_t zxid) {
    pk_buf paths;
    pk_buf_init(&paths);
    const zk_session *se = zk_session_find(s, sid);
    for (uint32_t i = 0; se != NULL && i < se->neph; i++) {
        const zk_node *n = zk_node_at(s, se->eph[i]);
        pk_buf_append(&paths, zk_node_path(n), zk_node_path_len(n));
        pk_buf_append(&paths, "", 1); /* the node stores no NUL */
    }
    for (size_t i = 0; i < p->map.cap; i++) {
        const zk_prep_entry *e = p->map.slots[i];
        if (e != NULL && e->v.exists && e->v.owner == (int64_t)sid) pk_buf_append(&paths, e->path, e->path_len + 1);
    }
    size_t off = 0;
    while (off < paths.len) {
        const char *path = (const char *)paths.data + off;
        size_t len = strlen(path);
        pk_slice ps = {(const uint8_t *)path, len};
        zk_view v;
        zk_prep_view(p, s, ps, &v);
        if (v.exists && v.owner == (int64_t)sid) zk_prep_note_delete(p, s, ps, zxid);
        off += len + 1;
    }
    pk_buf_deinit(&paths);
}

/* Resolves closing (or expiring) a session. */
int zk_prep_close_session(zk_prep *p, const zk_state *s, uint64_t session_id, uint64_t zxid, int64_t time_ms,
                          pk_buf *txn_out) {
    PK_ASSERT(p != NULL && s != NULL);
    PK_ASSERT(txn_out != NULL);
    zk_txn_header h = {zxid, time_ms, session_id, ZK_OP_CLOSE_SESSION, ZK_TXN_CLOSE_SESSION};
    zk_txn_header_encode(txn_out, &h);
    zk_prep_close_ephemerals(p, s, session_id, zxid);
    zk_prep_session_note(p, session_id, true, zxid);
    return ZK_ERR_OK;
}

/* Resolves reaping of a container / TTL node (error txn when it no longer qualifies). */
int zk_prep_delete_container(zk_prep *p, const zk_state *s, pk_slice path, uint64_t zxid, int64_t time_ms,
                             pk_buf *txn_out) {
    PK_ASSERT(p != NULL && s != NULL);
    PK_ASSERT(txn_out != NULL);
    pk_slice parent;
    zk_view v;
    int32_t code = ZK_ERR_OK;
    if (!zk_prep_parent(path, &parent) || zk_prep_special(path)) {
        code = ZK_ERR_BAD_ARGUMENTS;
    } else {
        zk_prep_view(p, s, path, &v);
        if (!v.exists) code = ZK_ERR_NO_NODE;
        else if (v.nkids > 0) code = ZK_ERR_NOT_EMPTY;
        else if (!zk_owner_is_container(v.owner) && !zk_owner_is_ttl(v.owner)) code = ZK_ERR_BAD_VERSION;
    }
    if (code != ZK_ERR_OK) {
        zk_prep_error_txn(txn_out, zxid, time_ms, 0, ZK_OP_DELETE_CONTAINER, code);
        return ZK_ERR_OK;
    }
    zk_prep_note_delete(p, s, path, zxid);
    zk_txn_header h = {zxid, time_ms, 0, ZK_OP_DELETE_CONTAINER, ZK_TXN_DELETE_CONTAINER};
    zk_txn_header_encode(txn_out, &h);
    zk_txn_op op = {.type = ZK_TXN_DELETE_CONTAINER, .path = path};
    zk_txn_op_encode(txn_out, &op);
    return ZK_ERR_OK;
}

/* Structural re-check of one decoded sub-op at apply time, recording its effect in the overlay p. */
int32_t zk_prep_validate_op(zk_prep *p, const zk_state *s, const zk_txn_op *op, uint64_t zxid) {
    PK_ASSERT(p != NULL && op != NULL);
    zk_view nv, pv;
    pk_slice parent;
    switch (op->type) {
    case ZK_TXN_CREATE:
        if (!zk_prep_parent(op->path, &parent) || op->path.len < 2 || op->path.ptr[op->path.len - 1] == '/')
            return ZK_ERR_BAD_ARGUMENTS;
        zk_prep_view(p, s, parent, &pv);
        if (!pv.exists) return ZK_ERR_NO_NODE;
        zk_prep_view(p, s, op->path, &nv);
        if (nv.exists) return ZK_ERR_NODE_EXISTS;
        if (zk_owner_is_session(pv.owner)) return ZK_ERR_NO_CHILDREN_FOR_EPHEMERALS;
        if (zk_owner_is_session(op->owner) && zk_session_find(s, (uint64_t)op->owner) == NULL)
            return ZK_ERR_SESSION_EXPIRED;
        zk_prep_note_create(p, parent, &pv, op->path, op->owner, op->acl, zxid);
        return ZK_ERR_OK;
    case ZK_TXN_DELETE:
        if (zk_prep_special(op->path)) return ZK_ERR_BAD_ARGUMENTS;
        zk_prep_view(p, s, op->path, &nv);
        if (!nv.exists) return ZK_ERR_NO_NODE;
        if (op->version != -1 && op->version != nv.version) return ZK_ERR_BAD_VERSION;
        if (nv.nkids > 0) return ZK_ERR_NOT_EMPTY;
        zk_prep_note_delete(p, s, op->path, zxid);
        return ZK_ERR_OK;
    case ZK_TXN_SET_DATA:
    case ZK_TXN_SET_ACL:
    case ZK_TXN_CHECK: {
        zk_prep_view(p, s, op->path, &nv);
        if (!nv.exists) return ZK_ERR_NO_NODE;
        int32_t cur = op->type == ZK_TXN_SET_ACL ? nv.aversion : nv.version;
        if (op->version != -1 && op->version != cur) return ZK_ERR_BAD_VERSION;
        if (op->type == ZK_TXN_SET_DATA) nv.version = zk_version_next(nv.version);
        if (op->type == ZK_TXN_SET_ACL) nv.aversion = zk_version_next(nv.aversion);
        if (op->type != ZK_TXN_CHECK) zk_prep_put(p, op->path, &nv, zxid);
        return ZK_ERR_OK;
    }
    default: PK_PANIC("bad sub-op type %d", op->type);
    }
}
