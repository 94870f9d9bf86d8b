/* apply: executes a txn against zk_state (deterministic), producing the origin's reply body and events. */
#include "zk/zk_int.h"

/* Reads the raw bytes of a jute vector<ACL> at the reader's position. */
static pk_slice zk_txn_read_acl(jute_reader *r) {
    size_t start = r->pos;
    int32_t n = jute_read_vector_count(r, 12);
    if (n < 0) jute_reader_fail(r, PK_EDECODE);
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        struct wire_acl a;
        (void)wire_acl_decode(r, &a);
    }
    if (r->err != 0) return jute_null();
    PK_ASSERT(r->pos >= start);
    return (pk_slice){r->ptr + start, r->pos - start};
}

/* Reads a non-null path. */
static pk_slice zk_txn_read_path(jute_reader *r) {
    pk_slice p = jute_read_ustring(r);
    if (r->err == 0 && (p.ptr == NULL || p.len == 0 || p.ptr[0] != '/')) jute_reader_fail(r, PK_EDECODE);
    return p;
}

/* Decodes one non-multi op payload of the given type; returns the reader's error state. */
static int zk_txn_op_decode(jute_reader *r, uint8_t type, zk_txn_op *op) {
    memset(op, 0, sizeof *op);
    op->type = type;
    switch (type) {
    case ZK_TXN_ERROR: op->err = jute_read_int(r); break;
    case ZK_TXN_CREATE:
        op->path = zk_txn_read_path(r);
        op->data = jute_read_buffer(r);
        op->acl = zk_txn_read_acl(r);
        op->owner = jute_read_long(r);
        if (r->err == 0 && (op->path.len < 2 || !zk_path_valid(op->path))) jute_reader_fail(r, PK_EDECODE);
        break;
    case ZK_TXN_DELETE:
    case ZK_TXN_CHECK:
        op->path = zk_txn_read_path(r);
        op->version = jute_read_int(r);
        break;
    case ZK_TXN_SET_DATA:
        op->path = zk_txn_read_path(r);
        op->data = jute_read_buffer(r);
        op->version = jute_read_int(r);
        break;
    case ZK_TXN_SET_ACL:
        op->path = zk_txn_read_path(r);
        op->acl = zk_txn_read_acl(r);
        op->version = jute_read_int(r);
        break;
    case ZK_TXN_CREATE_SESSION: {
        op->timeout_ms = jute_read_int(r);
        pk_slice pw = jute_read_raw(r, 16);
        op->passwd = pw.ptr;
        break;
    }
    case ZK_TXN_CLOSE_SESSION: break;
    case ZK_TXN_DELETE_CONTAINER: op->path = zk_txn_read_path(r); break;
    default: jute_reader_fail(r, PK_EDECODE); break;
    }
    return r->err;
}

/* Appends a stat to a reply. */
static void zk_reply_stat(pk_buf *reply, const zk_node *n) {
    struct wire_stat st;
    zk_node_stat(n, &st);
    wire_stat_encode(reply, &st);
}

/* True for paths that can never be deleted. */
static bool zk_path_special(pk_slice p) {
    return pk_slice_eq(p, pk_slice_str("/")) || pk_slice_eq(p, pk_slice_str("/zookeeper")) ||
           pk_slice_eq(p, pk_slice_str("/zookeeper/quota")) || pk_slice_eq(p, pk_slice_str("/zookeeper/config"));
}

/* Applies a create; appends the create/create2 body (by client op) when reply is not NULL. */
static int32_t zk_apply_create(zk_state *s, const zk_txn_header *h, const zk_txn_op *op, pk_buf *reply,
                               zk_events *ev) {
    if (op->path.len < 2 || op->path.ptr[op->path.len - 1] == '/') return ZK_ERR_BAD_ARGUMENTS;
    zk_loc loc;
    if (zk_tree_locate(s, op->path, &loc) != NULL) return ZK_ERR_NODE_EXISTS;
    if (loc.parent == NULL) return ZK_ERR_NO_NODE;
    if (zk_owner_is_session(zk_node_owner(loc.parent))) return ZK_ERR_NO_CHILDREN_FOR_EPHEMERALS;
    if (zk_owner_is_session(op->owner) && zk_session_find(s, (uint64_t)op->owner) == NULL)
        return ZK_ERR_SESSION_EXPIRED;
    zk_acl *acl = zk_acl_intern(&s->acls, op->acl);
    PK_ASSERT(acl != NULL); /* validated at decode */
    zk_node *n = zk_tree_create(s, &loc, op->path, op->data, acl, op->owner, h->zxid, h->time_ms);
    zk_events_push(ev, ZK_EVENT_NODE_CREATED, op->path, zk_node_acl(s, n));
    zk_events_push(ev, ZK_EVENT_NODE_CHILDREN_CHANGED, (pk_slice){op->path.ptr, zk_path_parent_len(op->path)},
                   zk_node_acl(s, loc.parent));
    if (reply != NULL) {
        jute_write_ustring(reply, op->path);
        if (op->op != ZK_OP_CREATE) zk_reply_stat(reply, n);
    }
    return ZK_ERR_OK;
}

/* Deletes the node loc->n at path with its events. */
static void zk_apply_delete_node(zk_state *s, zk_loc *loc, pk_slice path, uint64_t zxid, zk_events *ev) {
    PK_ASSERT(loc->n != NULL && loc->parent != NULL);
    zk_events_push(ev, ZK_EVENT_NODE_DELETED, path, zk_node_acl(s, loc->n));
    zk_events_push(ev, ZK_EVENT_NODE_CHILDREN_CHANGED, (pk_slice){path.ptr, zk_path_parent_len(path)},
                   zk_node_acl(s, loc->parent));
    zk_tree_delete(s, loc, path, zxid);
}

/* Applies a delete / deleteContainer. */
static int32_t zk_apply_delete(zk_state *s, const zk_txn_header *h, const zk_txn_op *op, zk_events *ev) {
    if (zk_path_special(op->path)) return ZK_ERR_BAD_ARGUMENTS;
    zk_loc loc;
    zk_node *n = zk_tree_locate(s, op->path, &loc);
    if (n == NULL) return ZK_ERR_NO_NODE;
    if (op->type == ZK_TXN_DELETE && op->version != -1 && op->version != zk_node_version(n)) return ZK_ERR_BAD_VERSION;
    if (zk_node_nkids(n) > 0) return ZK_ERR_NOT_EMPTY;
    zk_apply_delete_node(s, &loc, op->path, h->zxid, ev);
    return ZK_ERR_OK;
}

/* Applies setData / setACL / check. */
static int32_t zk_apply_modify(zk_state *s, const zk_txn_header *h, const zk_txn_op *op, pk_buf *reply,
                               zk_events *ev) {
    zk_node *n = zk_tree_find(s, op->path);
    if (n == NULL) return ZK_ERR_NO_NODE;
    int32_t cur = op->type == ZK_TXN_SET_ACL ? zk_node_aversion(n) : zk_node_version(n);
    if (op->version != -1 && op->version != cur) return ZK_ERR_BAD_VERSION;
    if (op->type == ZK_TXN_SET_DATA) {
        n = zk_tree_set_data(s, n, zk_path_hash(op->path), op->data, h->zxid, h->time_ms);
        zk_events_push(ev, ZK_EVENT_NODE_DATA_CHANGED, op->path, zk_node_acl(s, n));
    } else if (op->type == ZK_TXN_SET_ACL) {
        zk_acl *acl = zk_acl_intern(&s->acls, op->acl);
        PK_ASSERT(acl != NULL);
        n = zk_tree_set_acl(s, n, zk_path_hash(op->path), acl);
    }
    if (reply != NULL && op->type != ZK_TXN_CHECK) zk_reply_stat(reply, n);
    return ZK_ERR_OK;
}

/* An ephemeral closeSession deletes: its id and where its rebuilt path is in the paths buffer. */
typedef struct zk_close_ent {
    uint32_t id;
    uint32_t len;
    size_t off;
    const uint8_t *base; /* the paths buffer's data (set once the buffer is complete) */
} zk_close_ent;

/* Compares two closeSession entries by path (they are deleted in path order, for determinism). */
static int zk_close_ent_cmp(const void *a, const void *b) {
    const zk_close_ent *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->base + x->off, y->base + y->off, n); /* strcmp's order: paths hold no NUL byte */
    if (c != 0) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Applies closeSession: deletes the session's ephemerals (in path order) and the session. */
static int32_t zk_apply_close_session(zk_state *s, const zk_txn_header *h, zk_events *ev) {
    zk_session *se = zk_session_find(s, h->session_id);
    if (se == NULL) return ZK_ERR_OK;
    uint32_t n = se->neph;
    zk_close_ent *v = pk_malloc((n ? n : 1) * sizeof *v);
    pk_buf paths;
    pk_buf_init(&paths);
    for (uint32_t i = 0; i < n; i++) {
        size_t off = paths.len;
        size_t len = zk_node_path_append(s, zk_node_at(s, se->eph[i]), &paths);
        PK_ASSERT(len <= UINT32_MAX);
        v[i] = (zk_close_ent){se->eph[i], (uint32_t)len, off, NULL};
    }
    for (uint32_t i = 0; i < n; i++) v[i].base = paths.data;
    qsort(v, n, sizeof *v, zk_close_ent_cmp);
    /* the session's vector in reverse deletion order: each delete then removes its last entry (O(1) instead of
     * a scan, which made closing a session with E ephemerals O(E^2)) */
    for (uint32_t i = 0; i < n; i++) se->eph[i] = v[n - 1 - i].id;
    for (uint32_t i = 0; i < n; i++) {
        zk_node *e = zk_node_at(s, v[i].id); /* deletes move no other ephemeral (only parents move) */
        PK_ASSERT(zk_node_nkids(e) == 0);
        zk_loc loc;
        zk_tree_loc_of(s, e, v[i].id, &loc);
        zk_apply_delete_node(s, &loc, (pk_slice){paths.data + v[i].off, v[i].len}, h->zxid, ev);
    }
    pk_buf_deinit(&paths);
    free(v);
    PK_ASSERT(se->neph == 0);
    zk_session_remove(s, se);
    return ZK_ERR_OK;
}

/* Applies one non-multi op; reply may be NULL (multi writes its own result headers). */
static int32_t zk_apply_op(zk_state *s, const zk_txn_header *h, const zk_txn_op *op, pk_buf *reply, zk_events *ev) {
    switch (op->type) {
    case ZK_TXN_ERROR: return op->err;
    case ZK_TXN_CREATE: return zk_apply_create(s, h, op, reply, ev);
    case ZK_TXN_DELETE:
    case ZK_TXN_DELETE_CONTAINER: return zk_apply_delete(s, h, op, ev);
    case ZK_TXN_SET_DATA:
    case ZK_TXN_SET_ACL:
    case ZK_TXN_CHECK: return zk_apply_modify(s, h, op, reply, ev);
    case ZK_TXN_CREATE_SESSION:
        if (zk_session_find(s, h->session_id) == NULL) zk_session_add(s, h->session_id, op->timeout_ms, op->passwd);
        return ZK_ERR_OK;
    case ZK_TXN_CLOSE_SESSION: return zk_apply_close_session(s, h, ev);
    default: PK_PANIC("bad txn type %d", op->type);
    }
}

/* Multi result header type for a successful sub-op. */
static int32_t zk_multi_result_type(const zk_txn_op *op) {
    switch (op->type) {
    case ZK_TXN_CREATE: return op->op == ZK_OP_CREATE ? ZK_OP_CREATE : ZK_OP_CREATE2;
    case ZK_TXN_DELETE: return ZK_OP_DELETE;
    case ZK_TXN_SET_DATA: return ZK_OP_SET_DATA;
    case ZK_TXN_SET_ACL: return ZK_OP_SET_ACL;
    case ZK_TXN_CHECK: return ZK_OP_CHECK;
    default: PK_PANIC("bad multi sub-op type %d", op->type);
    }
}

/* Writes the failure layout: err 0 before the failing op, its code, -2 after. */
static void zk_multi_fail_reply(pk_buf *reply, uint32_t n, uint32_t failed, int32_t code) {
    for (uint32_t i = 0; i < n; i++) {
        int32_t e = i < failed ? ZK_ERR_OK : i == failed ? code : ZK_ERR_RUNTIME_INCONSISTENCY;
        wire_multi_error_result_encode(reply, e);
    }
    wire_multi_done_encode(reply);
}

/* Applies a multi of decoded sub-ops: all or nothing (validated against an overlay first). */
static void zk_apply_multi(zk_state *s, const zk_txn_header *h, const zk_txn_op *ops, uint32_t n, pk_buf *reply,
                           zk_events *ev) {
    bool error_txn = false;
    for (uint32_t i = 0; i < n; i++) error_txn |= ops[i].type == ZK_TXN_ERROR;
    if (error_txn) {  /* resolved as failed by prep: per-op codes as recorded */
        for (uint32_t i = 0; i < n; i++) wire_multi_error_result_encode(reply, ops[i].type == ZK_TXN_ERROR ? ops[i].err : 0);
        wire_multi_done_encode(reply);
        return;
    }
    zk_prep_options opt = {true, UINT32_MAX};
    zk_prep *tmp = zk_prep_new(&opt);
    for (uint32_t i = 0; i < n; i++) {
        int32_t rc = zk_prep_validate_op(tmp, s, &ops[i], h->zxid);
        if (rc != ZK_ERR_OK) {
            zk_prep_free(tmp);
            zk_multi_fail_reply(reply, n, i, rc);
            return;
        }
    }
    zk_prep_free(tmp);
    for (uint32_t i = 0; i < n; i++) {
        wire_multi_result_header_encode(reply, zk_multi_result_type(&ops[i]));
        int32_t rc = zk_apply_op(s, h, &ops[i], reply, ev);
        PK_ASSERT(rc == ZK_ERR_OK); /* validated above */
    }
    wire_multi_done_encode(reply);
}

/* Decodes a multi body into a fresh array; NULL with *n = 0 on malformed input. */
static zk_txn_op *zk_txn_multi_decode(jute_reader *r, uint32_t *n) {
    int32_t cnt = jute_read_int(r);
    *n = 0;
    if (r->err != 0 || cnt < 0 || cnt > ZK_TXN_MAX_MULTI_OPS || (size_t)cnt * 9 > jute_reader_remaining(r)) return NULL;
    zk_txn_op *ops = pk_calloc(cnt ? (size_t)cnt : 1, sizeof(zk_txn_op));
    for (int32_t i = 0; i < cnt; i++) {
        int32_t sub_op = jute_read_int(r);
        uint8_t type = jute_read_byte(r);
        bool ok_type = type == ZK_TXN_ERROR || type == ZK_TXN_CREATE || type == ZK_TXN_DELETE ||
                       type == ZK_TXN_SET_DATA || type == ZK_TXN_SET_ACL || type == ZK_TXN_CHECK;
        if (r->err != 0 || !ok_type || zk_txn_op_decode(r, type, &ops[i]) != 0) {
            free(ops);
            return NULL;
        }
        ops[i].op = sub_op;
    }
    *n = (uint32_t)cnt;
    return ops;
}

/* True when every ACL in the decoded ops is a well-formed vector (checked before mutating). */
static bool zk_ops_acls_ok(const zk_txn_op *ops, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (ops[i].type != ZK_TXN_CREATE && ops[i].type != ZK_TXN_SET_ACL) continue;
        zk_acl *a = zk_acl_from_blob(ops[i].acl);
        if (a == NULL) return false;
        free(a->ents);
        free(a);
    }
    return true;
}

/* Applies one txn. */
int zk_apply(zk_state *s, pk_slice txn, zk_apply_result *res, pk_buf *reply, zk_events *events) {
    PK_ASSERT(s != NULL && res != NULL);
    PK_ASSERT(reply != NULL && events != NULL);
    zk_txn_header h;
    if (!zk_txn_header_decode(txn, &h) || h.zxid <= s->last_zxid) return PK_ECORRUPT;
    jute_reader r;
    jute_reader_init(&r, txn.ptr + ZK_TXN_HEADER_LEN, txn.len - ZK_TXN_HEADER_LEN, INT32_MAX);
    zk_txn_op single;
    zk_txn_op *ops = NULL;
    uint32_t n = 0;
    if (h.type == ZK_TXN_MULTI) {
        ops = zk_txn_multi_decode(&r, &n);
        if (ops == NULL) return PK_ECORRUPT;
    } else if (zk_txn_op_decode(&r, h.type, &single) != 0) {
        return PK_ECORRUPT;
    } else {
        single.op = h.op;
        ops = &single;
        n = 1;
    }
    if (!jute_reader_done(&r) || !zk_ops_acls_ok(ops, n)) {
        if (ops != &single) free(ops);
        return PK_ECORRUPT;
    }
    *res = (zk_apply_result){h.zxid, h.time_ms, h.session_id, h.op, ZK_ERR_OK};
    if (h.type == ZK_TXN_MULTI) {
        zk_apply_multi(s, &h, ops, n, reply, events);
        free(ops);
    } else {
        size_t mark = reply->len;
        res->err = zk_apply_op(s, &h, &single, reply, events);
        if (res->err != ZK_ERR_OK) reply->len = mark;
    }
    s->last_zxid = h.zxid;
    return PK_OK;
}
