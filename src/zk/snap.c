/* snap: exact, versioned serialization of the whole zk_state (ACLs, sessions, nodes parent-first, zxid,
 * digest) with a CRC32C trailer; deserialization validates everything and recomputes the digest.
 *
 * Format (big-endian): "PKZS" u32 version(1) | u64 last_zxid | u64 digest | u32 nacls { u32 len, blob } |
 *   u64 nsessions { u64 id, i32 timeout_ms, 16 passwd } | u64 nnodes { u32 path_len, path, i32 data_len
 *   (-1 null), data, i64 czxid mzxid pzxid ctime mtime owner, i32 version aversion ccount, u32 acl_index } |
 *   u32 crc32c(all previous bytes). The first node is "/"; every node comes after its parent. */
#include "zk/zk_int.h"

#define ZK_SNAP_MAGIC 0x504b5a53u
#define ZK_SNAP_VERSION 1u

/* Appends a u32. */
static void zk_w32(pk_buf *b, uint32_t v) { pk_put_u32(pk_buf_extend(b, 4), v); }
/* Appends a u64. */
static void zk_w64(pk_buf *b, uint64_t v) { pk_put_u64(pk_buf_extend(b, 8), v); }

/* Writes one node record. */
static void zk_snap_node(pk_buf *out, const zk_state *s, const zk_node *n) {
    size_t dl = zk_node_data_size(n), pl = zk_node_path_len(n);
    uint8_t *p = pk_buf_extend(out, 4 + pl + 4 + dl + 6 * 8 + 4 * 4);
    pk_put_u32(p, (uint32_t)pl);
    p += 4;
    memcpy(p, zk_node_path(n), pl);
    p += pl;
    pk_put_u32(p, (uint32_t)zk_node_data_len(n));
    p += 4;
    if (dl) memcpy(p, zk_node_data(n), dl);
    p += dl;
    zk_node_vals v;
    zk_node_get(n, &v);
    int64_t f[6] = {zk_node_czxid(n), v.mzxid, v.pzxid, zk_node_ctime(n), v.mtime_ms, v.owner};
    for (int i = 0; i < 6; i++, p += 8) pk_put_u64(p, (uint64_t)f[i]);
    int32_t g[3] = {v.version, v.aversion, v.ccount};
    for (int i = 0; i < 3; i++, p += 4) pk_put_u32(p, (uint32_t)g[i]);
    pk_put_u32(p, zk_node_acl(s, n)->snap_index);
}

/* Serializes the state. */
void zk_state_serialize(const zk_state *s, pk_buf *out) {
    PK_ASSERT(s != NULL && out != NULL);
    size_t start = out->len;
    pk_buf_reserve(out, s->data_size + s->nodes.count * 96 + 4096);
    zk_w32(out, ZK_SNAP_MAGIC);
    zk_w32(out, ZK_SNAP_VERSION);
    zk_w64(out, s->last_zxid);
    zk_w64(out, s->digest);
    zk_w32(out, (uint32_t)s->acls.map.count);
    uint32_t idx = 0;
    for (size_t i = 0; i < s->acls.map.cap; i++) {
        zk_acl *a = s->acls.map.slots[i];
        if (a == NULL) continue;
        a->snap_index = idx++;  /* scratch field: serialization is the only writer */
        zk_w32(out, a->blob_len);
        pk_buf_append(out, a->blob, a->blob_len);
    }
    PK_ASSERT(idx == s->acls.map.count);
    zk_w64(out, s->sessions.count);
    for (size_t i = 0; i < s->sessions.cap; i++) {
        const zk_session *se = s->sessions.slots[i];
        if (se == NULL) continue;
        zk_w64(out, se->id);
        zk_w32(out, (uint32_t)se->timeout_ms);
        pk_buf_append(out, se->passwd, 16);
    }
    zk_w64(out, s->nodes.count);
    /* breadth-first from the root with an explicit queue: parents before children */
    const zk_node **q = pk_malloc(s->nodes.count * sizeof(zk_node *));
    size_t qh = 0, qt = 0;
    q[qt++] = zk_tree_root(s);
    while (qh < qt) {
        const zk_node *n = q[qh++];
        zk_snap_node(out, s, n);
        uint32_t nk = zk_node_nkids(n);
        const uint32_t *kids = zk_node_kids(n);
        for (uint32_t k = 0; k < nk; k++) {
            PK_ASSERT(qt < s->nodes.count);
            q[qt++] = zk_node_at(s, kids[k]);
        }
    }
    PK_ASSERT(qt == s->nodes.count);
    free(q);
    zk_w32(out, pk_crc32c(0, out->data + start, out->len - start));
}

/* Formats an error message without stdio. */
static int zk_snap_fail(char *errmsg, size_t errmsg_len, const char *msg) {
    if (errmsg != NULL && errmsg_len > 0) {
        size_t n = strlen(msg);
        if (n >= errmsg_len) n = errmsg_len - 1;
        memcpy(errmsg, msg, n);
        errmsg[n] = 0;
    }
    return PK_ECORRUPT;
}

/* Reads one node record and links it (or fills the root); returns NULL-message on success. */
static const char *zk_snap_read_node(jute_reader *r, zk_state *s, zk_acl **acls, uint32_t nacls, bool first,
                                     zk_node **parent_hint, uint64_t *digest) {
    uint32_t plen = (uint32_t)jute_read_int(r);
    pk_slice path = jute_read_raw(r, plen);
    int32_t dlen = jute_read_int(r);
    pk_slice data = dlen < 0 ? jute_null() : jute_read_raw(r, (size_t)dlen);
    int64_t f[6];
    for (int i = 0; i < 6; i++) f[i] = jute_read_long(r);
    int32_t g[3];
    for (int i = 0; i < 3; i++) g[i] = jute_read_int(r);
    uint32_t ai = (uint32_t)jute_read_int(r);
    if (r->err != 0 || plen == 0 || path.ptr == NULL) return "truncated node record";
    if (dlen < -1) return "bad data length";
    if (ai >= nacls) return "bad acl index";
    if (dlen == 0) data = jute_empty();
    zk_node *n;
    uint32_t id = 0;
    zk_node_vals v = {.owner = f[5], .mzxid = f[1], .pzxid = f[2], .mtime_ms = f[4], .version = g[0],
                      .aversion = g[1], .ccount = g[2], .nkids = 0, .kids = NULL};
    if (first) {
        if (!pk_slice_eq(path, pk_slice_str("/"))) return "first node is not /";
        if (zk_owner_is_session(f[5])) return "/ has an ephemeral owner";
        zk_node *root = zk_tree_root(s);
        zk_acl_unref(&s->acls, zk_node_acl(s, root));
        root->acl = 0;
        n = zk_tree_replace_data(s, root, data);
        s->data_size += data.len;
        PK_ASSERT(zk_node_nkids(n) == 0); /* "/" is loaded before any other node */
        n = zk_node_update(s, n, f[0], f[3], &v);
    } else {
        n = zk_tree_alloc_node(s, path, data, NULL, f[0], f[3], &v, &id);
    }
    n->acl = acls[ai]->idx;
    acls[ai]->node_refs++;
    uint64_t h = 0;
    if (first) h = zk_path_hash(path);
    else if (!zk_tree_load_node(s, n, id, parent_hint, &h)) {
        zk_tree_free_node(s, n, id);
        return "node does not fit the tree (duplicate, orphan or unknown owner)";
    }
    *digest += zk_node_digest_h(s, n, h); /* while the node is hot in cache; the root's fields are final here too */
    return NULL;
}

/* Rebuilds a state from zk_state_serialize output. */
int zk_state_deserialize(pk_slice in, zk_state **out, char *errmsg, size_t errmsg_len) {
    PK_ASSERT(out != NULL);
    *out = NULL;
    if (in.ptr == NULL || in.len < 32) return zk_snap_fail(errmsg, errmsg_len, "snapshot too short");
    if (pk_crc32c(0, in.ptr, in.len - 4) != pk_get_u32(in.ptr + in.len - 4))
        return zk_snap_fail(errmsg, errmsg_len, "snapshot checksum mismatch");
    jute_reader r;
    jute_reader_init(&r, in.ptr, in.len - 4, INT32_MAX);
    if ((uint32_t)jute_read_int(&r) != ZK_SNAP_MAGIC) return zk_snap_fail(errmsg, errmsg_len, "bad snapshot magic");
    if ((uint32_t)jute_read_int(&r) != ZK_SNAP_VERSION) return zk_snap_fail(errmsg, errmsg_len, "unknown snapshot version");
    uint64_t zxid = (uint64_t)jute_read_long(&r);
    uint64_t digest = (uint64_t)jute_read_long(&r);
    uint32_t nacls = (uint32_t)jute_read_int(&r);
    if (r.err != 0 || nacls > jute_reader_remaining(&r) / 4) return zk_snap_fail(errmsg, errmsg_len, "bad acl count");
    zk_state *s = zk_state_new_empty();
    s->data_size = 0;
    zk_acl **acls = pk_calloc(nacls ? nacls : 1, sizeof(zk_acl *));
    const char *err = NULL;
    for (uint32_t i = 0; i < nacls && err == NULL; i++) {
        uint32_t len = (uint32_t)jute_read_int(&r);
        pk_slice blob = jute_read_raw(&r, len);
        if (r.err != 0) { err = "truncated acl"; break; }
        acls[i] = zk_acl_intern(&s->acls, blob);  /* holds a temporary node ref */
        if (acls[i] == NULL) err = "malformed acl";
    }
    uint64_t nsess = (uint64_t)jute_read_long(&r);
    if (err == NULL && (r.err != 0 || nsess > jute_reader_remaining(&r) / 28)) err = "bad session count";
    for (uint64_t i = 0; err == NULL && i < nsess; i++) {
        uint64_t id = (uint64_t)jute_read_long(&r);
        int32_t to = jute_read_int(&r);
        pk_slice pw = jute_read_raw(&r, 16);
        if (r.err != 0) err = "truncated session";
        else if (zk_session_find(s, id) != NULL || !zk_owner_is_session((int64_t)id)) err = "bad session id";
        else zk_session_add(s, id, to, pw.ptr);
    }
    uint64_t computed = 0;
    for (size_t i = 0; err == NULL && i < s->sessions.cap; i++)
        if (s->sessions.slots[i] != NULL) computed += zk_session_digest(s->sessions.slots[i]);
    zk_node *parent_hint = NULL;
    uint64_t nnodes = (uint64_t)jute_read_long(&r);
    if (err == NULL && (r.err != 0 || nnodes == 0 || nnodes > jute_reader_remaining(&r) / 60)) err = "bad node count";
    if (err == NULL) zk_tree_reserve(s, (size_t)nnodes);
    for (uint64_t i = 0; err == NULL && i < nnodes; i++)
        err = zk_snap_read_node(&r, s, acls, nacls, i == 0, &parent_hint, &computed);
    if (err == NULL && !jute_reader_done(&r)) err = "trailing bytes in snapshot";
    for (uint32_t i = 0; i < nacls; i++) {
        if (acls[i] != NULL) zk_acl_unref(&s->acls, acls[i]);  /* drop the temporary ref */
    }
    free(acls);
    if (err == NULL) {
        s->last_zxid = zxid;
        /* The digest is a sum over nodes and sessions, accumulated above as each was loaded: one pass. */
        s->digest = computed;
        if (s->digest != digest) err = "snapshot digest mismatch";
    }
    if (err != NULL) {
        zk_state_free(s);
        return zk_snap_fail(errmsg, errmsg_len, err);
    }
    *out = s;
    return PK_OK;
}
