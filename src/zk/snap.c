/* snap: exact, versioned serialization of the whole zk_state (ACLs, sessions, nodes parent-first, zxid,
 * digest) with a CRC32C trailer; deserialization validates everything and recomputes the digest.
 *
 * Format (big-endian): "PKZS" u32 version(1) | u64 last_zxid | u64 digest | u32 nacls { u32 len, blob } |
 *   u64 nsessions { u64 id, i32 timeout_ms, 16 passwd } | u64 nnodes { u32 path_len, path, i32 data_len
 *   (-1 null), data, i64 czxid mzxid pzxid ctime mtime owner, i32 version aversion ccount, u32 acl_index } |
 *   u32 crc32c(all previous bytes). The first node is "/"; every node comes after its parent. The writer emits
 *   breadth first, siblings together in the order of (zk_name_hash of the name, name), a function of the
 *   tree alone; the reader accepts any parent-first order. */
#include "zk/zk_int.h"

#define ZK_SNAP_MAGIC 0x504b5a53u
#define ZK_SNAP_VERSION 1u

/* Appends a u32. */
static void zk_w32(pk_buf *b, uint32_t v) { pk_put_u32(pk_buf_extend(b, 4), v); }
/* Appends a u64. */
static void zk_w64(pk_buf *b, uint64_t v) { pk_put_u64(pk_buf_extend(b, 8), v); }

/* A node waiting in the serializer's queue: its id, and its parent's path as written in the output
 * (offset and length; length 0 for the children of "/", whose paths are "/" + name). */
typedef struct zk_snap_ent {
    uint32_t id;
    uint32_t plen;
    size_t poff;
} zk_snap_ent;

/* Writes one node record (its path is the parent's, copied from the output, + "/" + name); *path_off
 * receives the offset of the written path in out and the return value its length. */
static size_t zk_snap_node(pk_buf *out, const zk_state *s, const zk_node *n, const zk_snap_ent *e, size_t *path_off) {
    size_t dl = zk_node_data_size(n);
    size_t nl = zk_node_name_len(n);
    size_t len = e->plen + 1 + nl;
    PK_ASSERT(len <= UINT32_MAX);
    uint8_t *p = pk_buf_extend(out, 4 + len + 4 + dl + 6 * 8 + 4 * 4);
    pk_put_u32(p, (uint32_t)len);
    p += 4;
    *path_off = (size_t)(p - out->data);
    if (e->plen > 0) memcpy(p, out->data + e->poff, e->plen); /* an earlier record: no overlap */
    p[e->plen] = '/';
    if (nl > 0) memcpy(p + e->plen + 1, zk_node_name(n), nl);
    p += len;
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
    return len;
}

/* Orders two child table entries of one parent: by stored name hash, then by name (the snapshot's sibling
 * order, a function of the names alone, so a reload serializes to the same bytes whatever the tables' history). */
static int zk_snap_kid_cmp(const void *pa, const void *pb, void *ctx) {
    const zk_state *s = ctx;
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    uint32_t ha = (uint32_t)(a >> 32), hb = (uint32_t)(b >> 32);
    if (ha != hb) return ha < hb ? -1 : 1;
    if (a == b) return 0;
    pk_slice x = zk_node_name_slice(zk_node_at(s, (uint32_t)a)), y = zk_node_name_slice(zk_node_at(s, (uint32_t)b));
    int c = memcmp(x.ptr, y.ptr, x.len < y.len ? x.len : y.len);
    if (c != 0) return c;
    return x.len < y.len ? -1 : x.len > y.len;
}

/* Copies a child table's entries into v in zk_snap_kid_cmp order. The slot order is nearly that order
 * already (home slots grow with the hash): entries that wrapped around the end are moved to the back,
 * then an insertion sort fixes the local disorder of clusters, falling back to qsort_r past a budget. */
static void zk_snap_sorted_kids(const zk_state *s, const zk_ntab *t, uint64_t *v) {
    size_t k = 0, w = 0;
    for (size_t i = 0; i < t->cap; i++) { /* the leading run's entries homed past their slot wrapped */
        uint64_t e = t->ents[i];
        if (e == 0) break;
        if ((size_t)(((e >> 32) * t->cap) >> 32) > i) w++;
    }
    uint64_t *wrapped = v + t->count - w;
    size_t wi = 0;
    for (size_t i = 0; i < t->cap; i++) {
        uint64_t e = t->ents[i];
        if (e == 0) continue;
        if (wi < w && (size_t)(((e >> 32) * t->cap) >> 32) > i) wrapped[wi++] = e;
        else v[k++] = e;
    }
    PK_ASSERT(k + wi == t->count && wi == w);
    size_t budget = 16 * t->count + 64; /* element shifts */
    for (size_t i = 1; i < t->count; i++) {
        uint64_t e = v[i];
        size_t j = i;
        while (j > 0 && (v[j - 1] >> 32 > e >> 32 ||
                         (v[j - 1] >> 32 == e >> 32 && zk_snap_kid_cmp(&v[j - 1], &e, (void *)(uintptr_t)s) > 0))) {
            if (budget == 0) { /* far from sorted (e.g. many equal hashes): v is a permutation again, sort it */
                v[j] = e;
                qsort_r(v, t->count, sizeof *v, zk_snap_kid_cmp, (void *)(uintptr_t)s);
                return;
            }
            budget--;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = e;
    }
}

/* Orders two interned ACL lists by hash, then bytes: the snapshot's ACL order, a function of the lists alone. */
static int zk_snap_acl_cmp(const void *pa, const void *pb) {
    const zk_acl *a = *(const zk_acl *const *)pa, *b = *(const zk_acl *const *)pb;
    if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
    if (a->blob_len != b->blob_len) return a->blob_len < b->blob_len ? -1 : 1;
    return memcmp(a->blob, b->blob, a->blob_len);
}

/* Serializes the state. */
void zk_state_serialize(const zk_state *s, pk_buf *out) {
    PK_ASSERT(s != NULL && out != NULL);
    size_t start = out->len;
    pk_buf_reserve(out, s->data_size + s->node_count * 96 + 4096);
    zk_w32(out, ZK_SNAP_MAGIC);
    zk_w32(out, ZK_SNAP_VERSION);
    zk_w64(out, s->last_zxid);
    zk_w64(out, s->digest);
    size_t nacls = s->acls.map.count;
    zk_w32(out, (uint32_t)nacls);
    zk_acl **acls = pk_malloc((nacls ? nacls : 1) * sizeof *acls);
    size_t idx = 0;
    for (size_t i = 0; i < s->acls.map.cap; i++) {
        if (s->acls.map.slots[i] != NULL) acls[idx++] = s->acls.map.slots[i];
    }
    PK_ASSERT(idx == nacls);
    qsort(acls, nacls, sizeof *acls, zk_snap_acl_cmp); /* not the table's slot order, which depends on its history */
    for (size_t i = 0; i < nacls; i++) {
        acls[i]->snap_index = (uint32_t)i; /* scratch field: serialization is the only writer */
        zk_w32(out, acls[i]->blob_len);
        pk_buf_append(out, acls[i]->blob, acls[i]->blob_len);
    }
    free(acls);
    zk_w64(out, s->sessions.count);
    for (size_t i = 0; i < s->sessions.cap; i++) {
        const zk_session *se = s->sessions.slots[i];
        if (se == NULL) continue;
        zk_w64(out, se->id);
        zk_w32(out, (uint32_t)se->timeout_ms);
        pk_buf_append(out, se->passwd, 16);
    }
    zk_w64(out, s->node_count);
    /* breadth-first from the root with an explicit queue: parents before children, siblings together in
     * zk_snap_kid_cmp order */
    zk_snap_ent *q = pk_malloc(s->node_count * sizeof *q);
    uint64_t *kids = NULL;
    size_t kids_cap = 0;
    size_t qh = 0, qt = 0;
    q[qt++] = (zk_snap_ent){s->root_id, 0, 0};
    while (qh < qt) {
        zk_snap_ent e = q[qh++];
        if (qh + 8 < qt) __builtin_prefetch(zk_node_at(s, q[qh + 8].id)); /* siblings are in hash order, not memory order */
        const zk_node *n = zk_node_at(s, e.id);
        size_t off = 0;
        size_t len = zk_snap_node(out, s, n, &e, &off);
        zk_ntab t;
        zk_node_kids_load(n, &t);
        if (t.count == 0) continue;
        if (t.count > kids_cap) {
            kids_cap = t.count;
            kids = pk_realloc(kids, kids_cap * sizeof *kids);
        }
        zk_snap_sorted_kids(s, &t, kids);
        for (size_t k = 0; k < t.count; k++) {
            PK_ASSERT(qt < s->node_count);
            q[qt++] = (zk_snap_ent){(uint32_t)kids[k], e.id == s->root_id ? 0u : (uint32_t)len, off};
        }
    }
    PK_ASSERT(qt == s->node_count);
    free(kids);
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

/* The parent path of a record's path (empty when the path has no parent). */
static pk_slice zk_snap_parent_of(pk_slice path) {
    if (path.len < 2 || path.ptr[0] != '/') return (pk_slice){NULL, 0};
    return (pk_slice){path.ptr, zk_path_parent_len(path)};
}

/* Counts how many of the next (at most left) records, from byte pos of in, have the parent path pp: the
 * siblings that follow. Stops at the first other parent or malformed record (the reader reports it). */
static size_t zk_snap_count_siblings(const uint8_t *in, size_t len, size_t pos, pk_slice pp, uint64_t left) {
    size_t n = 0;
    while (left-- > 0 && len - pos >= 4) {
        size_t plen = pk_get_u32(in + pos);
        if (len - pos - 4 < plen + 4) break;
        pk_slice q = zk_snap_parent_of((pk_slice){in + pos + 4, plen});
        if (q.ptr == NULL || !pk_slice_eq(q, pp)) break;
        pos += 4 + plen;
        int32_t dlen = (int32_t)pk_get_u32(in + pos);
        size_t skip = 4 + (dlen > 0 ? (size_t)dlen : 0) + 6 * 8 + 4 * 4;
        if (len - pos < skip) break;
        pos += skip;
        n++;
    }
    return n;
}

/* Reads one node record and links it (or fills the root); returns NULL-message on success. */
static const char *zk_snap_read_node(jute_reader *r, zk_state *s, zk_acl **acls, uint32_t nacls, bool first,
                                     uint64_t left, zk_load_hint *hint, uint64_t *digest) {
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
                      .aversion = g[1], .ccount = g[2], .nkids = 0};
    if (first) {
        if (!pk_slice_eq(path, pk_slice_str("/"))) return "first node is not /";
        if (zk_owner_is_session(f[5])) return "/ has an ephemeral owner";
        zk_node *root = zk_tree_root(s);
        zk_acl_unref(&s->acls, zk_node_acl(s, root));
        zk_node_set_acl_idx(root, 0);
        n = zk_tree_replace_data(s, root, data);
        s->data_size += data.len;
        PK_ASSERT(zk_node_nkids(n) == 0); /* "/" is loaded before any other node */
        n = zk_node_update(s, n, f[0], f[3], &v);
        n = zk_tree_put_acl(s, n, acls[ai]->idx);
    } else {
        if (path.len < 2 || path.ptr[0] != '/') return "bad node path";
        pk_slice name = zk_path_name(path);
        if (name.len == 0 || memchr(name.ptr, '/', name.len) != NULL) return "bad node path"; /* "//b", "/a/" */
        n = zk_tree_alloc_node(s, name, data, acls[ai], f[0], f[3], &v, &id);
    }
    acls[ai]->node_refs++;
    if (!first && (hint->parent == NULL || !pk_slice_eq(hint->path, zk_snap_parent_of(path))))
        hint->expect = 1 + zk_snap_count_siblings(r->ptr, r->len, r->pos, zk_snap_parent_of(path), left);
    if (!first && !zk_tree_load_node(s, n, id, path, hint)) {
        zk_tree_free_node(s, n, id);
        return "node does not fit the tree (duplicate, orphan or unknown owner)";
    }
    *digest += zk_node_digest_h(s, n, zk_path_hash(path)); /* while the node is hot in cache; the root's fields are final here too */
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
    zk_load_hint hint = {NULL, 0, {NULL, 0}, 0};
    uint64_t nnodes = (uint64_t)jute_read_long(&r);
    if (err == NULL && (r.err != 0 || nnodes == 0 || nnodes > jute_reader_remaining(&r) / 60)) err = "bad node count";
    for (uint64_t i = 0; err == NULL && i < nnodes; i++)
        err = zk_snap_read_node(&r, s, acls, nacls, i == 0, nnodes - i - 1, &hint, &computed);
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
