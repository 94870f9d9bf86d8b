/* read: local reads against applied state (exists, getData, getChildren(2), getACL, getAllChildrenNumber,
 * getEphemerals, multiRead), with ZooKeeper's checks, response encoding and watch decisions. */
#include "zk/zk_int.h"

/* True when op is a read that zk_read handles. */
bool zk_op_is_read(int32_t op) {
    switch (op) {
    case ZK_OP_EXISTS: case ZK_OP_GET_DATA: case ZK_OP_GET_ACL: case ZK_OP_GET_CHILDREN:
    case ZK_OP_GET_CHILDREN2: case ZK_OP_MULTI_READ: case ZK_OP_GET_EPHEMERALS:
    case ZK_OP_GET_ALL_CHILDREN_NUMBER:
        return true;
    default: return false;
    }
}

/* Appends a node's stat. */
static void zk_read_stat(pk_buf *out, const zk_node *n) {
    struct wire_stat st;
    zk_node_stat(n, &st);
    wire_stat_encode(out, &st);
}

/* Appends a node's data as a jute buffer (null stays null). */
static void zk_read_data(pk_buf *out, const zk_node *n) {
    int32_t len = zk_node_data_len(n);
    if (len < 0) jute_write_null(out);
    else jute_write_buffer(out, len == 0 ? jute_empty() : (pk_slice){zk_node_data(n), (size_t)len});
}

/* Appends the children names of a node as vector<ustring>. */
static void zk_read_children(const zk_state *s, pk_buf *out, const zk_node *n) {
    uint32_t nk = zk_node_nkids(n);
    const uint32_t *kids = zk_node_kids(n);
    jute_write_vector_count(out, (int32_t)nk);
    for (uint32_t i = 0; i < nk; i++) {
        const zk_node *c = zk_node_at(s, kids[i]);
        const char *cp = zk_node_path(c);
        size_t len = zk_node_path_len(c), k = len;
        while (k > 0 && cp[k - 1] != '/') k--;
        PK_ASSERT(k > 0);
        jute_write_ustring(out, (pk_slice){(const uint8_t *)cp + k, len - k});
    }
}

/* Finds a node for a read: like ZooKeeper's DataTree, the empty path "" is an alias of the root. */
static const zk_node *zk_read_find(const zk_state *s, pk_slice path) {
    if (path.ptr != NULL && path.len == 0) return zk_tree_root(s);
    return zk_tree_find(s, path);
}

/* getData / getChildren / getChildren2 core: err, and the body on success. */
static int32_t zk_read_node(const zk_state *s, const zk_auth *auth, int32_t op, pk_slice path, pk_buf *out) {
    const zk_node *n = zk_read_find(s, path);
    if (n == NULL) return ZK_ERR_NO_NODE;
    if (!zk_acl_check(zk_node_acl(s, n), auth, ZK_PERM_READ)) return ZK_ERR_NO_AUTH;
    if (op == ZK_OP_GET_DATA) {
        zk_read_data(out, n);
        zk_read_stat(out, n);
    } else {
        zk_read_children(s, out, n);
        if (op == ZK_OP_GET_CHILDREN2) zk_read_stat(out, n);
    }
    return ZK_ERR_OK;
}

/* getACL: READ or ADMIN; digest ids masked to "user:x" without ADMIN. */
static int32_t zk_read_acl(const zk_state *s, const zk_auth *auth, pk_slice path, pk_buf *out) {
    const zk_node *n = zk_read_find(s, path);
    if (n == NULL) return ZK_ERR_NO_NODE;
    if (!zk_acl_check(zk_node_acl(s, n), auth, ZK_PERM_READ | ZK_PERM_ADMIN)) return ZK_ERR_NO_AUTH;
    if (zk_acl_check(zk_node_acl(s, n), auth, ZK_PERM_ADMIN)) {
        pk_buf_append(out, zk_node_acl(s, n)->blob, zk_node_acl(s, n)->blob_len);
    } else {
        jute_write_vector_count(out, (int32_t)zk_node_acl(s, n)->count);
        for (uint32_t i = 0; i < zk_node_acl(s, n)->count; i++) {
            const zk_acl_entry *e = &zk_node_acl(s, n)->ents[i];
            jute_write_int(out, e->perms);
            jute_write_ustring(out, e->scheme);
            if (pk_slice_eq(e->scheme, pk_slice_str("digest")) && e->id.ptr != NULL) {
                const uint8_t *colon = memchr(e->id.ptr, ':', e->id.len);
                size_t ulen = colon ? (size_t)(colon - e->id.ptr) : e->id.len;
                jute_write_int(out, (int32_t)(ulen + 2));
                pk_buf_append(out, e->id.ptr, ulen);
                pk_buf_append(out, ":x", 2);
            } else {
                jute_write_ustring(out, e->id);
            }
        }
    }
    zk_read_stat(out, n);
    return ZK_ERR_OK;
}

/* Counts all descendants of a node with an explicit stack (no recursion). */
static int64_t zk_count_descendants(const zk_state *s, const zk_node *n) {
    pk_buf st;
    pk_buf_init(&st);
    int64_t total = 0;
    pk_buf_append(&st, &n, sizeof n);
    size_t guard = 0;
    while (st.len > 0) {
        PK_ASSERT(guard++ <= s->nodes.count);
        const zk_node *c;
        memcpy(&c, st.data + st.len - sizeof c, sizeof c);
        st.len -= sizeof c;
        uint32_t nk = zk_node_nkids(c);
        const uint32_t *kids = zk_node_kids(c);
        total += nk;
        for (uint32_t i = 0; i < nk; i++) {
            const zk_node *k = zk_node_at(s, kids[i]);
            if (zk_node_nkids(k) > 0) pk_buf_append(&st, &k, sizeof k);
        }
    }
    pk_buf_deinit(&st);
    return total;
}

/* getEphemerals: the session's ephemerals, filtered by a string prefix unless it is null/blank/"/". */
static void zk_read_ephemerals(const zk_state *s, uint64_t sid, pk_slice prefix, pk_buf *out) {
    bool all = prefix.ptr == NULL || pk_slice_eq(prefix, pk_slice_str("/"));
    if (!all) {
        all = true;
        for (size_t i = 0; i < prefix.len; i++) all &= prefix.ptr[i] == ' ' || prefix.ptr[i] == '\t' ||
                                                     prefix.ptr[i] == '\n' || prefix.ptr[i] == '\r';
    }
    const zk_session *se = zk_session_find(s, sid);
    size_t mark = out->len;
    jute_write_int(out, 0);
    int32_t n = 0;
    for (uint32_t i = 0; se != NULL && i < se->neph; i++) {
        const zk_node *e = zk_node_at(s, se->eph[i]);
        if (!all && (zk_node_path_len(e) < prefix.len || memcmp(zk_node_path(e), prefix.ptr, prefix.len) != 0)) continue;
        jute_write_ustring(out, zk_node_path_slice(e));
        n++;
    }
    pk_put_u32(out->data + mark, (uint32_t)n);
}

/* multiRead: each op independently; errors become error results; never watches. */
static int32_t zk_read_multi(const zk_state *s, const zk_auth *auth, pk_slice body, pk_buf *out) {
    struct wire_multi_iter it;
    wire_multi_iter_init(&it, ZK_OP_MULTI_READ, body, INT32_MAX);
    struct wire_request w;
    int rc;
    size_t mark = out->len;
    size_t guard = 0;
    while ((rc = wire_multi_iter_next(&it, &w)) == 1) {
        PK_ASSERT(guard++ <= body.len);
        pk_slice path = w.op == ZK_OP_GET_DATA ? w.u.get_data.path : w.u.get_children.path;
        size_t at = out->len;
        wire_multi_result_header_encode(out, w.op);
        int32_t err = zk_read_node(s, auth, w.op, path, out);
        if (err != ZK_ERR_OK) {
            out->len = at;
            wire_multi_error_result_encode(out, err);
        }
    }
    if (rc != 0) {
        out->len = mark;
        return ZK_ERR_MARSHALLING;
    }
    wire_multi_done_encode(out);
    return ZK_ERR_OK;
}

/* Executes a read op. */
void zk_read(const zk_state *s, const zk_auth *auth, uint64_t session_id, int32_t op, pk_slice body, pk_buf *out,
             zk_read_result *res) {
    PK_ASSERT(s != NULL && out != NULL && res != NULL);
    PK_ASSERT(zk_op_is_read(op));
    *res = (zk_read_result){ZK_ERR_OK, ZK_WATCH_NONE, {NULL, 0}};
    size_t mark = out->len;
    if (op == ZK_OP_MULTI_READ) {
        res->err = zk_read_multi(s, auth, body, out);
        return;
    }
    jute_reader r;
    jute_reader_init_slice(&r, body, INT32_MAX);
    struct wire_request w;
    if (wire_request_decode(&r, op, &w) != 0) {
        res->err = ZK_ERR_MARSHALLING;
        return;
    }
    switch (op) {
    case ZK_OP_EXISTS: {
        pk_slice path = w.u.exists.path;
        if (path.ptr != NULL && memchr(path.ptr, 0, path.len) != NULL) { res->err = ZK_ERR_BAD_ARGUMENTS; break; }
        const zk_node *n = zk_read_find(s, path);
        if (n != NULL && !zk_acl_check(zk_node_acl(s, n), auth, ZK_PERM_READ)) { res->err = ZK_ERR_NO_AUTH; break; }
        if (n == NULL) res->err = ZK_ERR_NO_NODE;
        else zk_read_stat(out, n);
        if (w.u.exists.watch) { res->watch = ZK_WATCH_DATA; res->watch_path = path; }
        break;
    }
    case ZK_OP_GET_DATA:
    case ZK_OP_GET_CHILDREN:
    case ZK_OP_GET_CHILDREN2: {
        const struct wire_get_data_request *g = &w.u.get_data;  /* same layout: path, watch */
        pk_slice path = op == ZK_OP_GET_DATA ? g->path : op == ZK_OP_GET_CHILDREN ? w.u.get_children.path
                                                                                   : w.u.get_children2.path;
        bool watch = op == ZK_OP_GET_DATA ? g->watch : op == ZK_OP_GET_CHILDREN ? w.u.get_children.watch
                                                                                  : w.u.get_children2.watch;
        res->err = zk_read_node(s, auth, op, path, out);
        if (res->err == ZK_ERR_OK && watch) {
            res->watch = op == ZK_OP_GET_DATA ? ZK_WATCH_DATA : ZK_WATCH_CHILD;
            res->watch_path = path;
        }
        break;
    }
    case ZK_OP_GET_ACL: res->err = zk_read_acl(s, auth, w.u.get_acl.path, out); break;
    case ZK_OP_GET_ALL_CHILDREN_NUMBER: {
        const zk_node *n = zk_read_find(s, w.u.get_all_children_number.path);
        if (n == NULL) res->err = ZK_ERR_NO_NODE;
        else if (!zk_acl_check(zk_node_acl(s, n), auth, ZK_PERM_READ)) res->err = ZK_ERR_NO_AUTH;
        else {
            /* ZooKeeper's DataTree holds the root under both "" and "/"; for "" it counts every key starting
             * with "/", so the "/" alias too: one more than for "/" (differential finding, seed 1533). */
            pk_slice p = w.u.get_all_children_number.path;
            size_t alias = p.ptr != NULL && p.len == 0 ? 1 : 0;
            jute_write_int(out, (int32_t)(zk_count_descendants(s, n) + alias));
        }
        break;
    }
    case ZK_OP_GET_EPHEMERALS: zk_read_ephemerals(s, session_id, w.u.get_ephemerals.prefix_path, out); break;
    default: PK_PANIC("not a read op %d", op);
    }
    if (res->err != ZK_ERR_OK) out->len = mark;
}

/* Appends up to max reapable container/TTL paths (NUL-separated). */
size_t zk_reap_candidates(const zk_state *s, int64_t now_ms, size_t max, pk_buf *paths_out) {
    PK_ASSERT(s != NULL && paths_out != NULL);
    size_t found = 0;
    for (size_t i = 0; i < s->reapable.cap && found < max; i++) {
        uint32_t id = zk_ntab_id(&s->reapable, i);
        if (id == 0) continue;
        const zk_node *n = zk_node_at(s, id);
        if (zk_node_nkids(n) != 0) continue;
        bool due = false;
        int64_t owner = zk_node_owner(n);
        if (zk_owner_is_container(owner)) due = zk_node_ccount(n) != 0;
        else if (zk_owner_is_ttl(owner)) {
            int64_t ttl = (int64_t)((uint64_t)owner & ~ZK_OWNER_TTL_MASK);
            due = now_ms - zk_node_mtime(n) > ttl;
        }
        if (!due) continue;
        pk_buf_append(paths_out, zk_node_path(n), zk_node_path_len(n));
        pk_buf_append(paths_out, "", 1); /* the node stores no NUL */
        found++;
    }
    return found;
}
