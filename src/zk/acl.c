/* acl: interned ACL lists, ZooKeeper's checkACL and fixupACL, and the ip scheme's address masks. */
#include "zk/zk_int.h"

/* True when s equals the C string lit. */
static bool zk_eq_lit(pk_slice s, const char *lit) { return pk_slice_eq(s, pk_slice_str(lit)); }

/* True when auth holds a "super" id. */
bool zk_auth_is_super(const zk_auth *auth) {
    if (auth == NULL) return false;
    PK_ASSERT(auth->count == 0 || auth->ids != NULL);
    for (size_t i = 0; i < auth->count; i++) {
        if (zk_eq_lit(auth->ids[i].scheme, "super")) return true;
    }
    return false;
}

/* Counts the entries of a jute vector<ACL> blob, checking it is well formed and exactly consumed. */
static int64_t zk_acl_blob_count(pk_slice blob) {
    jute_reader r;
    jute_reader_init_slice(&r, blob, INT32_MAX);
    int32_t n = jute_read_vector_count(&r, 12);
    if (r.err != 0 || n < 0) return -1;
    for (int32_t i = 0; i < n && r.err == 0; i++) {
        struct wire_acl a;
        (void)wire_acl_decode(&r, &a);
    }
    if (!jute_reader_done(&r)) return -1;
    return n;
}

/* Builds an unshared ACL list (refs 0) from a jute vector<ACL> blob; NULL if malformed. */
zk_acl *zk_acl_from_blob(pk_slice blob) {
    int64_t n = zk_acl_blob_count(blob);
    if (n < 0) return NULL;
    zk_acl *a = pk_malloc(sizeof(zk_acl) + blob.len);
    memcpy(a->blob, blob.ptr, blob.len);
    a->blob_len = (uint32_t)blob.len;
    a->hash = pk_hash64(blob.ptr, blob.len, 0x61636c);
    a->node_refs = 0;
    a->ext_refs = 0;
    a->snap_index = 0;
    a->idx = 0;
    a->count = (uint32_t)n;
    a->ents = pk_calloc(n ? (size_t)n : 1, sizeof(zk_acl_entry));
    jute_reader r;
    jute_reader_init(&r, a->blob, a->blob_len, INT32_MAX);
    (void)jute_read_vector_count(&r, 12);
    for (int64_t i = 0; i < n; i++) {
        struct wire_acl w;
        int rc = wire_acl_decode(&r, &w);
        PK_ASSERT(rc == 0);
        a->ents[i] = (zk_acl_entry){w.perms, w.id.scheme, w.id.id};
    }
    PK_ASSERT(jute_reader_done(&r));
    return a;
}

/* Frees a list. */
static void zk_acl_free(zk_acl *a) {
    PK_ASSERT(a->node_refs == 0 && a->ext_refs == 0);
    free(a->ents);
    free(a);
}

/* Compares an interned list with a blob key. */
static bool zk_acl_eq(const void *item, const void *key) {
    const zk_acl *a = item;
    const pk_slice *k = key;
    return a->blob_len == k->len && memcmp(a->blob, k->ptr, k->len) == 0;
}

/* Hash of a table item that is an ACL list. */
static uint64_t zk_acl_hash_of(const void *item) { return ((const zk_acl *)item)->hash; }

/* Initializes an empty list table (index 0 reserved for "no list"). */
void zk_acls_init(zk_acls *t) {
    PK_ASSERT(t != NULL);
    memset(t, 0, sizeof *t);
    zk_htab_init(&t->map, zk_acl_hash_of);
    t->cap = 8;
    t->by_idx = pk_calloc(t->cap, sizeof *t->by_idx);
    t->n = 1;
}

/* Frees the table's arrays. */
void zk_acls_deinit(zk_acls *t) {
    PK_ASSERT(t != NULL);
    zk_htab_deinit(&t->map);
    free(t->by_idx);
    free(t->free_idx);
    memset(t, 0, sizeof *t);
}

/* Gives a list an index (a released one first). */
static void zk_acls_take_idx(zk_acls *t, zk_acl *a) {
    uint32_t i;
    if (t->nfree > 0) {
        i = t->free_idx[--t->nfree];
    } else {
        if (t->n == t->cap) {
            PK_ASSERT(t->cap < UINT32_MAX / 2);
            t->cap *= 2;
            t->by_idx = pk_realloc(t->by_idx, t->cap * sizeof *t->by_idx);
        }
        i = t->n++;
    }
    PK_ASSERT(i != 0 && i < t->n);
    t->by_idx[i] = a;
    a->idx = i;
}

/* Releases a list's index for reuse. */
static void zk_acls_drop_idx(zk_acls *t, zk_acl *a) {
    PK_ASSERT(a->idx != 0 && a->idx < t->n && t->by_idx[a->idx] == a);
    t->by_idx[a->idx] = NULL;
    if (t->nfree == t->free_cap) {
        t->free_cap = t->free_cap ? t->free_cap * 2 : 8;
        t->free_idx = pk_realloc(t->free_idx, t->free_cap * sizeof *t->free_idx);
    }
    t->free_idx[t->nfree++] = a->idx;
    a->idx = 0;
}

/* Interns a blob: returns the shared list with one more node ref. */
zk_acl *zk_acl_intern(zk_acls *table, pk_slice blob) {
    PK_ASSERT(table != NULL);
    uint64_t h = pk_hash64(blob.ptr, blob.len, 0x61636c);
    zk_acl *a = zk_htab_find(&table->map, h, zk_acl_eq, &blob);
    if (a == NULL) {
        a = zk_acl_from_blob(blob);
        if (a == NULL) return NULL;
        zk_htab_insert(&table->map, a);
        zk_acls_take_idx(table, a);
    }
    PK_ASSERT(a->hash == h && table->by_idx[a->idx] == a);
    a->node_refs++;
    return a;
}

/* Drops a node ref; at zero the list leaves the table and is freed unless events hold it. */
void zk_acl_unref(zk_acls *table, zk_acl *a) {
    PK_ASSERT(a != NULL && a->node_refs > 0);
    a->node_refs--;
    if (a->node_refs > 0) return;
    if (table != NULL) {
        zk_htab_remove(&table->map, a);
        zk_acls_drop_idx(table, a);
    }
    if (a->ext_refs == 0) zk_acl_free(a);
}

/* Drops an event ref; frees the list when nothing holds it any more. */
void zk_acl_ext_unref(zk_acl *a) {
    PK_ASSERT(a != NULL && a->ext_refs > 0);
    a->ext_refs--;
    if (a->ext_refs == 0 && a->node_refs == 0) zk_acl_free(a);
}

/* True when one ACL entry's id is matched by the connection's ids (entry perms already checked). */
static bool zk_acl_entry_matches(const zk_acl_entry *e, const zk_auth *auth) {
    if (zk_eq_lit(e->scheme, "world") && zk_eq_lit(e->id, "anyone")) return true;
    bool ip = zk_eq_lit(e->scheme, "ip");
    bool known = ip || zk_eq_lit(e->scheme, "digest") || zk_eq_lit(e->scheme, "sasl") || zk_eq_lit(e->scheme, "x509");
    if (!known || auth == NULL) return false;
    for (size_t i = 0; i < auth->count; i++) {
        const zk_auth_id *c = &auth->ids[i];
        if (!pk_slice_eq(c->scheme, e->scheme)) continue;
        if (ip ? zk_acl_ip_match(e->id, c->id) : pk_slice_eq(c->id, e->id)) return true;
    }
    return false;
}

/* ZooKeeper's checkACL over decoded entries. */
static bool zk_acl_check_entries(const zk_acl_entry *ents, uint32_t n, const zk_auth *auth, int32_t perm) {
    if (n == 0) return true;
    if (zk_auth_is_super(auth)) return true;
    for (uint32_t i = 0; i < n; i++) {
        if ((ents[i].perms & perm) != 0 && zk_acl_entry_matches(&ents[i], auth)) return true;
    }
    return false;
}

/* True when auth may perform perm on a node with ACL a. */
bool zk_acl_check(const zk_acl *a, const zk_auth *auth, int32_t perm) {
    PK_ASSERT(perm != 0);
    if (a == NULL) return true;
    return zk_acl_check_entries(a->ents, a->count, auth, perm);
}

/* checkACL against a blob (overlay ACLs). */
bool zk_acl_check_blob(pk_slice blob, const zk_auth *auth, int32_t perm) {
    PK_ASSERT(perm != 0);
    if (blob.len == 0) return true;
    if (zk_auth_is_super(auth)) return true;
    jute_reader r;
    jute_reader_init_slice(&r, blob, INT32_MAX);
    int32_t n = jute_read_vector_count(&r, 12);
    for (int32_t i = 0; i < n && r.err == 0; i++) {
        struct wire_acl w;
        if (wire_acl_decode(&r, &w) != 0) break;
        zk_acl_entry e = {w.perms, w.id.scheme, w.id.id};
        if ((e.perms & perm) != 0 && zk_acl_entry_matches(&e, auth)) return true;
    }
    return n <= 0;
}

/* Java Integer.parseInt on a slice (optional sign, decimal digits, range checked); false if invalid. */
static bool zk_parse_int(pk_slice s, int64_t lo, int64_t hi, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (s.len > 0 && (s.ptr[0] == '+' || s.ptr[0] == '-')) { neg = s.ptr[0] == '-'; i = 1; }
    if (i >= s.len || s.len - i > 11) return false;
    int64_t v = 0;
    for (; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
        v = v * 10 + (s.ptr[i] - '0');
    }
    if (neg) v = -v;
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* Parses a dotted IPv4 literal into 4 bytes. */
static bool zk_parse_ip4(pk_slice s, uint8_t out[4]) {
    size_t part = 0, start = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i == s.len || s.ptr[i] == '.') {
            int64_t v;
            if (part >= 4 || !zk_parse_int((pk_slice){s.ptr + start, i - start}, 0, 255, &v)) return false;
            out[part++] = (uint8_t)v;
            start = i + 1;
        }
    }
    return part == 4;
}

/* Value of a hex digit, or -1. */
static int zk_hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses an IPv6 literal (with "::" and an optional trailing dotted IPv4) into 16 bytes. */
static bool zk_parse_ip6(pk_slice s, uint8_t out[16]) {
    uint8_t tmp[16] = {0};
    size_t nb = 0, i = 0;
    int64_t gap = -1;
    if (s.len >= 2 && s.ptr[0] == ':' && s.ptr[1] == ':') { gap = 0; i = 2; }
    else if (s.len >= 1 && s.ptr[0] == ':') return false;
    while (i < s.len) {
        size_t st = i;
        unsigned v = 0;
        while (i < s.len && i - st < 5 && zk_hexval(s.ptr[i]) >= 0) v = v * 16 + (unsigned)zk_hexval(s.ptr[i++]);
        if (i < s.len && s.ptr[i] == '.') {  /* embedded IPv4 tail */
            if (nb + 4 > 16 || !zk_parse_ip4((pk_slice){s.ptr + st, s.len - st}, tmp + nb)) return false;
            nb += 4;
            i = s.len;
            break;
        }
        if (i == st || i - st > 4 || nb + 2 > 16) return false;
        tmp[nb++] = (uint8_t)(v >> 8);
        tmp[nb++] = (uint8_t)v;
        if (i == s.len) break;
        if (s.ptr[i] != ':') return false;
        i++;
        if (i < s.len && s.ptr[i] == ':') {
            if (gap >= 0) return false;
            gap = (int64_t)nb;
            i++;
        } else if (i == s.len) {
            return false;
        }
    }
    if (gap < 0) {
        if (nb != 16) return false;
        memcpy(out, tmp, 16);
        return true;
    }
    if (nb > 14) return false;
    memset(out, 0, 16);
    memcpy(out, tmp, (size_t)gap);
    memcpy(out + 16 - (nb - (size_t)gap), tmp + gap, nb - (size_t)gap);
    return true;
}

/* Parses an address (v6 when it contains ':'); returns its byte length (4 or 16), 0 if invalid. */
static size_t zk_parse_addr(pk_slice s, uint8_t out[16]) {
    if (memchr(s.ptr ? (const void *)s.ptr : "", ':', s.len) != NULL) return zk_parse_ip6(s, out) ? 16 : 0;
    return zk_parse_ip4(s, out) ? 4 : 0;
}

/* Splits "addr[/bits]" and parses both; returns the address length or 0 if invalid. */
static size_t zk_parse_ip_acl(pk_slice id, uint8_t addr[16], int64_t *bits) {
    if (id.ptr == NULL) return 0;
    const uint8_t *slash = memchr(id.ptr, '/', id.len);
    pk_slice a = {id.ptr, slash ? (size_t)(slash - id.ptr) : id.len};
    size_t n = zk_parse_addr(a, addr);
    if (n == 0) return 0;
    *bits = (int64_t)n * 8;
    if (slash != NULL) {
        pk_slice b = {slash + 1, id.len - a.len - 1};
        if (!zk_parse_int(b, 0, (int64_t)n * 8, bits)) return 0;
    }
    return n;
}

/* True when the ip ACL id is valid. */
bool zk_acl_ip_valid(pk_slice id) {
    uint8_t addr[16];
    int64_t bits;
    return zk_parse_ip_acl(id, addr, &bits) != 0;
}

/* True when addr matches the ip ACL id under its mask. */
bool zk_acl_ip_match(pk_slice acl_id, pk_slice addr) {
    uint8_t a[16], r[16];
    int64_t bits;
    size_t n = zk_parse_ip_acl(acl_id, a, &bits);
    if (n == 0 || addr.ptr == NULL) return false;
    if (zk_parse_addr(addr, r) != n) return false;
    PK_ASSERT(bits >= 0 && bits <= (int64_t)n * 8);
    for (size_t i = 0; i < n; i++) {
        int64_t keep = bits - (int64_t)i * 8;
        uint8_t m = keep >= 8 ? 0xFF : keep <= 0 ? 0 : (uint8_t)(0xFF << (8 - keep));
        if ((a[i] & m) != (r[i] & m)) return false;
    }
    return true;
}

/* Java's id.split(":").length == 2 (trailing empty parts dropped). */
static bool zk_digest_id_valid(pk_slice id) {
    size_t end = id.len;
    while (end > 0 && id.ptr[end - 1] == ':') end--;
    if (end == 0) return false;
    size_t colons = 0;
    for (size_t i = 0; i < end; i++) colons += id.ptr[i] == ':';
    return colons == 1;
}

/* True when a scheme's provider is "authenticated" (auth ACLs expand to it). */
static bool zk_scheme_authenticated(pk_slice scheme) {
    return zk_eq_lit(scheme, "digest") || zk_eq_lit(scheme, "sasl") || zk_eq_lit(scheme, "x509");
}

/* True when (scheme, id) names a provider that accepts id (isValid). */
static bool zk_acl_id_valid(pk_slice scheme, pk_slice id) {
    if (zk_eq_lit(scheme, "world")) return zk_eq_lit(id, "anyone");
    if (zk_eq_lit(scheme, "digest")) return id.ptr != NULL && zk_digest_id_valid(id);
    if (zk_eq_lit(scheme, "ip")) return zk_acl_ip_valid(id);
    if (zk_eq_lit(scheme, "sasl")) return true;
    if (zk_eq_lit(scheme, "x509")) return id.len > 0;
    return false;
}

/* True when two ACL entries are identical. */
static bool zk_acl_entry_same(const zk_acl_entry *a, const zk_acl_entry *b) {
    return a->perms == b->perms && pk_slice_eq(a->scheme, b->scheme) && pk_slice_eq(a->id, b->id);
}

/* Appends one ACL entry to a jute blob under construction. */
static void zk_acl_write_entry(pk_buf *out, int32_t perms, pk_slice scheme, pk_slice id) {
    jute_write_int(out, perms);
    jute_write_ustring(out, scheme.ptr ? scheme : jute_empty());
    jute_write_ustring(out, id.ptr ? id : jute_empty());
}

/* fixupACL (§9.3): dedupe, validate, expand "auth"; writes the resulting vector<ACL> to out. */
int32_t zk_acl_fixup(const struct wire_acl_vec *acl, const zk_auth *auth, pk_buf *out) {
    PK_ASSERT(acl != NULL && out != NULL);
    if (acl->count <= 0) return ZK_ERR_INVALID_ACL;
    zk_acl_entry *u = pk_calloc((size_t)acl->count, sizeof(zk_acl_entry));
    size_t nu = 0;
    struct wire_vec_iter it;
    struct wire_acl w;
    wire_acl_vec_iter_init(&it, acl);
    while (wire_acl_vec_next(&it, &w)) {
        zk_acl_entry e = {w.perms, w.id.scheme, w.id.id};
        bool dup = false;
        for (size_t k = 0; k < nu && !dup; k++) dup = zk_acl_entry_same(&u[k], &e);
        if (!dup) u[nu++] = e;
        PK_ASSERT(nu <= (size_t)acl->count);
    }
    size_t mark = out->len;
    jute_write_int(out, 0);
    int32_t n = 0;
    int32_t rc = ZK_ERR_OK;
    for (size_t k = 0; k < nu && rc == ZK_ERR_OK; k++) {
        if (zk_eq_lit(u[k].scheme, "auth")) {
            bool any = false;
            for (size_t i = 0; auth != NULL && i < auth->count; i++) {
                if (!zk_scheme_authenticated(auth->ids[i].scheme)) continue;
                zk_acl_write_entry(out, u[k].perms, auth->ids[i].scheme, auth->ids[i].id);
                n++;
                any = true;
            }
            if (!any) rc = ZK_ERR_INVALID_ACL;
            /* distinct "auth" entries times the session's ids: bounded, or one request could grow a txn ~1000x */
            if (out->len - mark > ZK_ACL_MAX_EXPANDED_BYTES) rc = ZK_ERR_INVALID_ACL;
        } else if (zk_acl_id_valid(u[k].scheme, u[k].id)) {
            zk_acl_write_entry(out, u[k].perms, u[k].scheme, u[k].id);
            n++;
        } else {
            rc = ZK_ERR_INVALID_ACL;
        }
    }
    free(u);
    if (rc != ZK_ERR_OK) {
        out->len = mark;
        return rc;
    }
    pk_put_u32(out->data + mark, (uint32_t)n);
    return ZK_ERR_OK;
}

/* Appends one ACL entry (C strings) to a jute vector<ACL> under construction. */
void zk_acl_write_one(pk_buf *out, int32_t perms, const char *scheme, const char *id) {
    PK_ASSERT(out != NULL && scheme != NULL && id != NULL);
    zk_acl_write_entry(out, perms, pk_slice_str(scheme), pk_slice_str(id));
}
