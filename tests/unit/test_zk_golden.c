/* Golden snapshot: a deterministic history (creates of every kind and size, setData, setACL, deletes,
 * sessions and their ephemerals, zxid epoch changes, clock jumps) must serialize to exactly the bytes and
 * digest recorded below. A change of the in-memory layout must never change the snapshot format, the digest or
 * what clients see (sibling order aside: ZooKeeper itself does not define it). */
#include "test_zk_fixture.h"
#include "base/base.h"

/* The expected results. Length and digest were recorded from git e9cdaa2 (layout before 32-bit node ids).
 * The two snapshot hashes were re-recorded when nodes came to store only their names in per-parent child
 * tables: the writer's sibling order changed from creation order (with swap-removal) to the order of
 * (zk_name_hash of the name, name). Checked then against the previous bytes: identical header, ACL and
 * session sections, the same node records as a multiset, still breadth first with siblings together; only
 * the order of siblings (and so of their subtrees) differs. Re-recorded again when the writer came to list ACL
 * lists in (hash, blob) order instead of the intern table's slot order (which depends on the table's history):
 * checked against the previous bytes of both snapshots, the header, the sessions and every node record in
 * order, with each node's ACL index resolved to the list's bytes, are identical; only the order of the 18
 * and 24 lists differs. */
#define GOLD_SNAP_LEN 728092u
#define GOLD_SNAP_HASH 0x4529c3a326565d27ull
#define GOLD_DIGEST 0x988010ad72b39b2eull
#define GOLD_MID_HASH 0x65e272e4e4ce8f37ull

/* xorshift64* step: the history's only source of choices. */
static uint64_t gold_rand(uint64_t *x) {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* Preps and, when prep accepts it, applies a write (a rejected request still consumes a zxid). */
static void gold_write(zkt *t, uint64_t sid, int32_t op, const pk_buf *body) {
    pk_buf txn;
    pk_buf_init(&txn);
    if (zkt_prep(t, sid, op, body, NULL, &txn) == ZK_ERR_OK) (void)zkt_apply(t, pk_buf_slice(&txn));
    pk_buf_deinit(&txn);
}

/* Fills buf with a path under a small universe (depth up to 3) picked by r. */
static void gold_path(uint64_t r, char *buf, size_t len) {
    static const char *const top[] = {"/a", "/b", "/c", "/zookeeper/x", "/longer-name-of-a-parent"};
    int depth = (int)(r % 3);
    int n = snprintf(buf, len, "%s", top[(r >> 2) % 5]);
    for (int i = 0; i < depth; i++) n += snprintf(buf + n, len - (size_t)n, "/k%u", (unsigned)((r >> (8 + 4 * i)) % 7));
}

/* Fills data with n deterministic bytes. */
static void gold_data(uint64_t r, char *data, size_t n) {
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + (r + i * 7) % 26);
    data[n] = 0;
}

/* Serializes t's state and returns pk_hash64 of the bytes (len in *len). */
static uint64_t gold_snap_hash(zkt *t, size_t *len) {
    pk_buf b;
    pk_buf_init(&b);
    zk_state_serialize(t->s, &b);
    uint64_t h = pk_hash64(b.data, b.len, 0x601d);
    *len = b.len;
    zk_state *s2 = NULL;
    char err[128] = "";
    cr_assert_eq(zk_state_deserialize(pk_buf_slice(&b), &s2, err, sizeof err), PK_OK, "%s", err);
    pk_buf c;
    pk_buf_init(&c);
    zk_state_serialize(s2, &c);
    cr_assert(c.len == b.len && memcmp(c.data, b.data, b.len) == 0, "reload changes the bytes");
    zk_state_free(s2);
    pk_buf_deinit(&c);
    pk_buf_deinit(&b);
    return h;
}

/* Runs the deterministic history: n steps from seed. */
static void gold_history(zkt *t, uint64_t seed, int n) {
    static char data[6000];
    char path[128];
    pk_buf b;
    pk_buf_init(&b);
    uint64_t x = seed;
    static const size_t sizes[] = {0, 1, 3, 10, 100, 255, 1000, 2030, 2100, 5000};
    for (int i = 0; i < n; i++) {
        uint64_t r = gold_rand(&x);
        gold_path(r >> 16, path, sizeof path);
        uint64_t sid = (r >> 40) % 4 == 0 ? 0x100 + (r >> 44) % 3 : 0;
        size_t dn = sizes[(r >> 50) % 10];
        gold_data(r, data, dn);
        t->now_ms += (int64_t)((r >> 20) % 1000);
        switch (r % 16) {
        case 0: case 1: case 2: case 3: { /* create: persistent, ephemeral, sequential, null data */
            int32_t flags = (int32_t)((r >> 8) % 4); /* persistent, ephemeral, seq, ephemeral seq */
            zkt_create_body(&b, path, (r >> 12) % 5 == 0 ? NULL : data, flags, NULL, 1);
            gold_write(t, sid, ZK_OP_CREATE2, &b);
            break;
        }
        case 4: {
            zkt_create_body(&b, path, data, ZK_CREATE_CONTAINER, NULL, 1);
            gold_write(t, 0, ZK_OP_CREATE_CONTAINER, &b);
            break;
        }
        case 5: {
            pk_buf_reset(&b);
            struct wire_create_ttl_request tr = {pk_slice_str(path), pk_slice_str(data), {1, &zkt_open_acl, {NULL, 0}},
                                                 ZK_CREATE_PERSISTENT_WITH_TTL, (int64_t)(r % 100000) + 1};
            wire_create_ttl_request_encode(&b, &tr);
            gold_write(t, 0, ZK_OP_CREATE_TTL, &b);
            break;
        }
        case 6: case 7: case 8: {
            pk_buf_reset(&b);
            struct wire_set_data_request sr = {pk_slice_str(path), (r >> 9) % 7 == 0 ? jute_null() : pk_slice_str(data), -1};
            wire_set_data_request_encode(&b, &sr);
            gold_write(t, 0, ZK_OP_SET_DATA, &b);
            break;
        }
        case 9: {
            struct wire_acl acls[2] = {zkt_acl1(ZK_PERM_ALL, "world", "anyone"),
                                       zkt_acl1((int32_t)(1 + (r >> 30) % 31), "ip", "10.0.0.0/8")};
            pk_buf_reset(&b);
            struct wire_set_acl_request ar = {pk_slice_str(path), {1 + (int32_t)((r >> 7) % 2), acls, {NULL, 0}}, -1};
            wire_set_acl_request_encode(&b, &ar);
            gold_write(t, 0, ZK_OP_SET_ACL, &b);
            break;
        }
        case 10: case 11: case 12: {
            pk_buf_reset(&b);
            struct wire_delete_request dr = {pk_slice_str(path), -1};
            wire_delete_request_encode(&b, &dr);
            gold_write(t, 0, ZK_OP_DELETE, &b);
            break;
        }
        case 13: { /* a session comes or goes */
            uint64_t s = 0x100 + (r >> 44) % 3;
            pk_buf txn;
            pk_buf_init(&txn);
            uint8_t pw[16] = {(uint8_t)s, 2, 3};
            int rc = (r >> 10) % 2 ? zk_prep_create_session(t->p, t->s, s, 30000, pw, ++t->zxid, t->now_ms, &txn)
                                   : zk_prep_close_session(t->p, t->s, s, ++t->zxid, t->now_ms, &txn);
            if (rc == ZK_ERR_OK) (void)zkt_apply(t, pk_buf_slice(&txn));
            pk_buf_deinit(&txn);
            break;
        }
        case 14: /* epoch changes and long clock jumps widen stat fields */
            if ((r >> 11) % 8 == 0) t->zxid += 1ull << 32;
            if ((r >> 14) % 8 == 0) t->now_ms += (int64_t)1 << 31;
            break;
        default: { /* a wide parent: many children under /b */
            char p2[64];
            snprintf(p2, sizeof p2, "/b/many%u", (unsigned)(r >> 24) % 300);
            zkt_create_body(&b, p2, dn < 200 ? data : "", 0, NULL, 1);
            gold_write(t, 0, ZK_OP_CREATE, &b);
            break;
        }
        }
    }
    pk_buf_deinit(&b);
}

Test(zk_golden, snapshot_bytes_and_digest_match_main) {
    zkt t;
    zkt_init(&t);
    pk_buf b;
    pk_buf_init(&b);
    static const char *const parents[] = {"/a", "/b", "/c", "/longer-name-of-a-parent"};
    for (size_t i = 0; i < 4; i++) {
        zkt_create_body(&b, parents[i], "p", 0, NULL, 1);
        gold_write(&t, 0, ZK_OP_CREATE, &b);
    }
    pk_buf_deinit(&b);
    gold_history(&t, 0x9e3779b97f4a7c15ull, 4000);
    size_t len = 0;
    uint64_t mid = gold_snap_hash(&t, &len);
    gold_history(&t, 0x1234567887654321ull, 6000);
    zkt_session(&t, 0x200); /* end with live ephemerals, some of them moved by setData */
    char p2[64];
    for (int i = 0; i < 6; i++) {
        snprintf(p2, sizeof p2, "/c/eph%d", i);
        cr_assert_eq(zkt_create(&t, 0x200, ZK_OP_CREATE, p2, "e", ZK_CREATE_EPHEMERAL), 0);
        if (i % 2) cr_assert_eq(zkt_set(&t, 0, p2, "longer", -1, NULL), 0);
    }
    uint64_t h = gold_snap_hash(&t, &len);
    zk_stats st;
    zk_state_stats(t.s, &st);
    printf("golden: len %zu hash 0x%016llx digest 0x%016llx mid 0x%016llx nodes %llu eph %llu\n", len,
           (unsigned long long)h, (unsigned long long)zk_state_digest(t.s), (unsigned long long)mid,
           (unsigned long long)st.node_count, (unsigned long long)st.ephemeral_count);
    cr_assert_gt(st.node_count, 200, "the history builds a tree worth checking");
    cr_assert_eq(len, GOLD_SNAP_LEN);
    cr_assert_eq(h, GOLD_SNAP_HASH);
    cr_assert_eq(zk_state_digest(t.s), GOLD_DIGEST);
    cr_assert_eq(mid, GOLD_MID_HASH);
    zkt_deinit(&t);
}
