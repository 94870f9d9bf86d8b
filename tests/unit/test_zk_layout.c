/* Compact znode layout (zk_int.h): narrow/wide stat fields, the optional owner field, moves of nodes that
 * other structures point to, deep paths, long names, many children, delete/re-create, and the node table
 * (non-power-of-two capacity, backward-shift removal), each checked against stats, getChildren, the full
 * digest and a snapshot round trip. */
#include "test_zk_fixture.h"
#include "zk/zk_int.h"
#include <signal.h>

/* Serializes the state, loads it back and checks both agree (zkt_reload). */
static void zkl_snap_roundtrip(zkt *t) { zk_state_free(zkt_reload(t)); }

/* Returns the number of children getChildren reports for path and checks that name is among them (if given). */
static int32_t zkl_children(zkt *t, const char *path, const char *name) {
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    struct wire_get_children_request r = {pk_slice_str(path), false};
    wire_get_children_request_encode(&b, &r);
    zk_read_result rr;
    zk_read(t->s, &zkt_anon, 0, ZK_OP_GET_CHILDREN, pk_buf_slice(&b), &out, &rr);
    cr_assert_eq(rr.err, ZK_ERR_OK);
    jute_reader jr;
    jute_reader_init(&jr, out.data, out.len, 1 << 24);
    int32_t n = jute_read_int(&jr);
    bool found = name == NULL;
    for (int32_t i = 0; i < n; i++) {
        pk_slice c = jute_read_ustring(&jr);
        if (name != NULL && pk_slice_eq(c, pk_slice_str(name))) found = true;
    }
    cr_assert(jute_reader_done(&jr) && jr.err == 0);
    cr_assert(found, "%s not among the children of %s", name, path);
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    return n;
}

Test(zk_layout, header_is_compact) {
    cr_assert_leq(ZK_NODE_HDR, 21, "header grew: %zu bytes", (size_t)ZK_NODE_HDR);
}

Test(zk_layout, sections_appear_as_fields_leave_their_defaults) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/s", "data", 0), 0);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s"))->flags, 0, "a pristine leaf is header + name + data");
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/s/k", NULL, 0), 0); /* the parent moves to gain PAR (and MOD) */
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s"))->flags, ZK_NODE_PAR | ZK_NODE_MOD);
    zk_node *before = zk_tree_find(t.s, pk_slice_str("/s"));
    cr_assert_eq(zkt_set(&t, 0, "/s", "data", -1, NULL), 0); /* same size: a parent already has MOD, no move */
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s")), before);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s"))->flags, ZK_NODE_PAR | ZK_NODE_MOD);
    t.now_ms += 5;
    cr_assert_eq(zkt_set(&t, 0, "/s", "DATA", -1, NULL), 0); /* same size, deltas fit: rewritten in place */
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s")), before);
    struct wire_stat st0;
    cr_assert_eq(zkt_stat(&t, "/s", &st0), 0);
    cr_assert_eq(st0.version, 2);
    cr_assert_eq(st0.mzxid, (int64_t)t.zxid);
    cr_assert_eq(st0.mtime_ms, t.now_ms);
    t.now_ms -= 5;
    cr_assert_eq(zkt_set(&t, 0, "/s", "data", -1, NULL), 0);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_acl ro = zkt_acl1(ZK_PERM_ALL, "world", "anyone");
    struct wire_set_acl_request sr = {pk_slice_str("/s/k"), {1, &ro, {NULL, 0}}, -1};
    wire_set_acl_request_encode(&b, &sr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_SET_ACL, &b, NULL), 0);
    pk_buf_deinit(&b);
    zk_node *k = zk_tree_find(t.s, pk_slice_str("/s/k"));
    cr_assert_eq(k->flags, ZK_NODE_AVER);
    cr_assert_eq(zk_node_data_len(k), -1);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/s/k", &st), 0);
    cr_assert_eq(st.aversion, 1);
    cr_assert_eq(st.version, 0);
    cr_assert_eq(st.mzxid, st.czxid);
    cr_assert_eq(st.pzxid, st.czxid);
    cr_assert_eq(zkt_stat(&t, "/s", &st), 0);
    cr_assert_eq(st.version, 3);
    cr_assert_eq(st.cversion, 1);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.pzxid, st.czxid + 1);
    cr_assert_eq(st.mzxid, st.czxid + 4);
    t.zxid += 9ull << 32; /* same size but the zxid delta no longer fits: the in-place path must not be taken */
    cr_assert_eq(zkt_set(&t, 0, "/s", "data", -1, NULL), 0);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s"))->flags, ZK_NODE_PAR | ZK_NODE_MOD | ZK_NODE_WIDE);
    cr_assert_eq(zkt_stat(&t, "/s", &st), 0);
    cr_assert_eq(st.mzxid, (int64_t)t.zxid);
    cr_assert_eq(st.version, 4);
    zkl_snap_roundtrip(&t);
    cr_assert_eq(zkt_delete(&t, 0, "/s/k", -1, NULL), 0); /* sections stay while the node lives */
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/s"))->flags, ZK_NODE_PAR | ZK_NODE_MOD | ZK_NODE_WIDE);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, epoch_change_widens_mzxid_and_pzxid) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/p", "abc", 0), 0);
    zk_node *p = zk_tree_find(t.s, pk_slice_str("/p"));
    cr_assert_eq(p->flags, 0, "a fresh node is narrow and has no owner");
    t.zxid = 3ull << 32; /* a later epoch: deltas from czxid no longer fit 32 bits */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/p/c", "x", 0), 0);
    p = zk_tree_find(t.s, pk_slice_str("/p"));
    cr_assert(p->flags & ZK_NODE_WIDE, "parent's pzxid no longer fits");
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/p", &st), 0);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid);
    cr_assert_eq(st.mzxid, 1);
    cr_assert_eq(st.czxid, 1);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.data_length, 3);
    cr_assert_eq(zkl_children(&t, "/p", "c"), 1);
    cr_assert_eq(zkt_set(&t, 0, "/p", "longer data", -1, NULL), 0); /* moves the wide node */
    cr_assert_eq(zkt_stat(&t, "/p", &st), 0);
    cr_assert_eq(st.mzxid, (int64_t)t.zxid);
    cr_assert_eq(st.version, 1);
    cr_assert_eq(zkl_children(&t, "/p", "c"), 1);
    zkl_snap_roundtrip(&t);
    cr_assert_eq(zkt_delete(&t, 0, "/p/c", -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, "/p", &st), 0);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid);
    cr_assert_eq(st.cversion, 2);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, mtime_backwards_and_far_ahead) {
    zkt t;
    zkt_init(&t);
    t.now_ms = 5000000;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/m", "", 0), 0);
    struct wire_stat st;
    t.now_ms = 1; /* clocks may go back */
    cr_assert_eq(zkt_set(&t, 0, "/m", "a", -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, "/m", &st), 0);
    cr_assert_eq(st.ctime_ms, 5000000);
    cr_assert_eq(st.mtime_ms, 1);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/m"))->flags, ZK_NODE_MOD, "a small negative delta stays narrow");
    t.now_ms = 5000000 + ((int64_t)1 << 31); /* 24.9 days later: just past the signed 32-bit delta */
    cr_assert_eq(zkt_set(&t, 0, "/m", "b", -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, "/m", &st), 0);
    cr_assert_eq(st.mtime_ms, t.now_ms);
    cr_assert(zk_tree_find(t.s, pk_slice_str("/m"))->flags & ZK_NODE_WIDE);
    t.now_ms = INT64_MAX;
    cr_assert_eq(zkt_set(&t, 0, "/m", "c", -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, "/m", &st), 0);
    cr_assert_eq(st.mtime_ms, INT64_MAX);
    cr_assert_eq(st.ctime_ms, 5000000);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

/* Returns a NUL-terminated string of len copies of c (caller frees). */
static char *zkl_fill(size_t len, char c) {
    char *p = malloc(len + 1);
    cr_assert(p != NULL);
    memset(p, c, len);
    p[len] = '\0';
    return p;
}

Test(zk_layout, big_section_holds_what_the_header_cannot) {
    zkt t;
    zkt_init(&t);
    struct wire_stat st;
    /* data lengths around the 16-bit limit: 65534 fits the header, 65535 needs the BIG section */
    char *d1 = zkl_fill(65534, 'a'), *d2 = zkl_fill(65535, 'b'), *d3 = zkl_fill(70000, 'c');
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/d", d1, 0), 0);
    zk_node *n = zk_tree_find(t.s, pk_slice_str("/d"));
    cr_assert_eq(n->flags, 0);
    cr_assert_eq(zk_node_data_len(n), 65534);
    cr_assert_eq(zkt_set(&t, 0, "/d", d2, -1, NULL), 0); /* grows past the header: moves to gain BIG */
    n = zk_tree_find(t.s, pk_slice_str("/d"));
    cr_assert(n->flags & ZK_NODE_BIG);
    cr_assert_eq(zk_node_data_len(n), 65535);
    cr_assert(memcmp(zk_node_data(n), d2, 65535) == 0);
    cr_assert_eq(zkt_set(&t, 0, "/d", d3, -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, "/d", &st), 0);
    cr_assert_eq(st.data_length, 70000);
    cr_assert_eq(st.version, 2);
    cr_assert_eq(zkt_set(&t, 0, "/d", "tiny", -1, NULL), 0); /* sections stay while the node lives */
    n = zk_tree_find(t.s, pk_slice_str("/d"));
    cr_assert(n->flags & ZK_NODE_BIG);
    cr_assert_eq(zk_node_data_len(n), 4);
    cr_assert(memcmp(zk_node_data(n), "tiny", 4) == 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/d/kid", NULL, 0), 0); /* a BIG parent gains PAR */
    cr_assert_eq(zkt_set(&t, 0, "/d", NULL, -1, NULL), 0);
    n = zk_tree_find(t.s, pk_slice_str("/d"));
    cr_assert_eq(n->flags & (ZK_NODE_BIG | ZK_NODE_PAR), ZK_NODE_BIG | ZK_NODE_PAR);
    cr_assert_eq(zk_node_data_len(n), -1);
    cr_assert_eq(zkl_children(&t, "/d", "kid"), 1);
    zkl_snap_roundtrip(&t);
    /* a name (and so a path) longer than 65535 bytes */
    char *name = zkl_fill(70001, 'p');
    name[0] = '/';
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, name, "v", 0), 0);
    n = zk_tree_find(t.s, pk_slice_str(name));
    cr_assert(n != NULL && (n->flags & ZK_NODE_BIG));
    cr_assert_eq(zk_node_name_len(n), 70000);
    cr_assert_eq(zkl_children(&t, "/", name + 1), 3); /* zookeeper, d and it */
    cr_assert_eq(zkt_set(&t, 0, name, "vw", -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, name, &st), 0);
    cr_assert_eq(st.data_length, 2);
    zkl_snap_roundtrip(&t);
    cr_assert_eq(zkt_delete(&t, 0, name, -1, NULL), 0);
    /* a path longer than 65535 bytes made of short names: the names fit the header, no BIG section */
    char *deep = zkl_fill(72000, 'q');
    size_t dl = 0;
    for (int i = 0; i < 700; i++) {
        deep[dl] = '/';
        dl += 100;
        deep[dl] = 0;
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, deep, "v", 0), 0);
        deep[dl] = 'q';
    }
    deep[dl] = 0;
    n = zk_tree_find(t.s, pk_slice_str(deep));
    cr_assert(n != NULL && !(n->flags & ZK_NODE_BIG));
    cr_assert_eq(zk_node_name_len(n), 99);
    cr_assert_eq(zk_node_fullpath_len(t.s, n), 70000);
    zkl_snap_roundtrip(&t);
    free(deep);
    /* czxid past 48 bits (epoch >= 65536) and creation times outside [0, 2^48) */
    t.zxid = (70000ull << 32) | 5;
    int64_t tz = t.now_ms;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/z", "x", 0), 0);
    t.now_ms = -3;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/neg", "x", 0), 0);
    t.now_ms = INT64_MAX - 7;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/far", "x", 0), 0);
    t.now_ms = (1ll << 48) - 1; /* the largest time the header holds */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/edge", "x", 0), 0);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/z"))->flags, ZK_NODE_BIG);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/neg"))->flags, ZK_NODE_BIG);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/far"))->flags, ZK_NODE_BIG);
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/edge"))->flags, ZK_NODE_BIG, "czxid is past 48 bits here too");
    cr_assert_eq(zkt_stat(&t, "/z", &st), 0);
    cr_assert_eq(st.czxid, (int64_t)((70000ull << 32) | 6));
    cr_assert_eq(st.mzxid, st.czxid);
    cr_assert_eq(st.ctime_ms, tz);
    cr_assert_eq(zkt_stat(&t, "/neg", &st), 0);
    cr_assert_eq(st.ctime_ms, -3);
    cr_assert_eq(st.mtime_ms, -3);
    cr_assert_eq(zkt_stat(&t, "/far", &st), 0);
    cr_assert_eq(st.ctime_ms, INT64_MAX - 7);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/z/c", "y", 0), 0); /* a BIG node gains PAR and moves */
    cr_assert_eq(zkt_stat(&t, "/z", &st), 0);
    cr_assert_eq(st.czxid, (int64_t)((70000ull << 32) | 6));
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid);
    cr_assert_eq(zk_state_digest_full(t.s), zk_state_digest(t.s));
    zkl_snap_roundtrip(&t);
    free(name);
    free(d1);
    free(d2);
    free(d3);
    zkt_deinit(&t);
}

Test(zk_layout, header_holds_48_bit_creation_fields) {
    zkt t;
    zkt_init(&t);
    t.zxid = (65535ull << 32) | 0xFFFFFFF0u; /* the largest epoch whose zxids fit 48 bits */
    t.now_ms = (1ll << 48) - 1;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/h", "x", 0), 0);
    zk_node *n = zk_tree_find(t.s, pk_slice_str("/h"));
    cr_assert_eq(n->flags, 0);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/h", &st), 0);
    cr_assert_eq(st.czxid, (int64_t)t.zxid);
    cr_assert_eq(st.ctime_ms, (1ll << 48) - 1);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, ephemeral_owner_field_and_moves) {
    zkt t;
    zkt_init(&t);
    zkt_session(&t, 0x1234);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/e", "", 0), 0);
    cr_assert_eq(zkt_create(&t, 0x1234, ZK_OP_CREATE, "/e/a", "1", ZK_CREATE_EPHEMERAL), 0);
    cr_assert_eq(zkt_create(&t, 0x1234, ZK_OP_CREATE, "/e/b", "2", ZK_CREATE_EPHEMERAL), 0);
    zk_node *a = zk_tree_find(t.s, pk_slice_str("/e/a"));
    cr_assert_eq(a->flags, ZK_NODE_OWNER);
    cr_assert_eq(zk_node_owner(a), 0x1234);
    t.zxid += 5ull << 32;
    /* the ephemeral moves twice (wide mzxid, then a new data size): its session's list must follow */
    cr_assert_eq(zkt_set(&t, 0, "/e/a", "1", -1, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/e/a", "a much longer value than before", -1, NULL), 0);
    a = zk_tree_find(t.s, pk_slice_str("/e/a"));
    cr_assert_eq(a->flags, ZK_NODE_OWNER | ZK_NODE_WIDE | ZK_NODE_MOD);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/e/a", &st), 0);
    cr_assert_eq(st.ephemeral_owner, 0x1234);
    cr_assert_eq(st.mzxid, (int64_t)t.zxid);
    cr_assert_eq(st.data_length, 31);
    zkl_snap_roundtrip(&t);
    zkt_close(&t, 0x1234);
    cr_assert_eq(zkt_stat(&t, "/e/a", &st), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_stat(&t, "/e/b", &st), ZK_ERR_NO_NODE);
    cr_assert_eq(zkl_children(&t, "/e", NULL), 0);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, container_owner_survives_a_move) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE_CONTAINER, "/c", "", ZK_CREATE_CONTAINER), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/c/k", "", 0), 0);
    t.zxid += 7ull << 32;
    cr_assert_eq(zkt_set(&t, 0, "/c", "grown data", -1, NULL), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/c/k", -1, NULL), 0);
    zk_node *c = zk_tree_find(t.s, pk_slice_str("/c"));
    cr_assert_eq(c->flags, ZK_NODE_OWNER | ZK_NODE_WIDE | ZK_NODE_MOD | ZK_NODE_PAR);
    pk_buf paths;
    pk_buf_init(&paths);
    cr_assert_eq(zk_reap_candidates(t.s, t.now_ms, 10, &paths), 1, "the moved container is still reapable");
    cr_assert_eq(paths.len, 3);
    cr_assert(memcmp(paths.data, "/c", 3) == 0);
    pk_buf_deinit(&paths);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, deep_paths_and_long_names) {
    zkt t;
    zkt_init(&t);
    char path[8192];
    size_t len = 0;
    for (int d = 0; d < 200; d++) { /* depth 200 */
        len += (size_t)snprintf(path + len, sizeof path - len, "/d%d", d);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, path, "v", 0), 0);
    }
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, path, &st), 0);
    char name[4100];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    char longp[8192];
    snprintf(longp, sizeof longp, "/%s", name); /* a 4,099-byte name */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, longp, "long", 0), 0);
    cr_assert_eq(zkl_children(&t, "/", name), 3);
    t.zxid += 1ull << 32;
    cr_assert_eq(zkt_set(&t, 0, longp, "longer", -1, NULL), 0);
    cr_assert_eq(zkt_stat(&t, longp, &st), 0);
    cr_assert_eq(st.data_length, 6);
    zkl_snap_roundtrip(&t);
    for (int d = 199; d >= 0; d--) {
        cr_assert_eq(zkt_delete(&t, 0, path, -1, NULL), 0);
        while (len > 0 && path[len - 1] != '/') len--;
        path[--len] = 0;
    }
    cr_assert_eq(zkt_delete(&t, 0, longp, -1, NULL), 0);
    zk_stats x;
    zk_state_stats(t.s, &x);
    cr_assert_eq(x.node_count, 5, "/, /zookeeper, quota, config (+1 as ZooKeeper counts)");
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, many_children_delete_and_recreate) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/m", "", 0), 0);
    char p[64];
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "/m/k%d", i);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p, i % 3 ? "data" : NULL, 0), 0);
    }
    for (int i = 0; i < N; i += 2) { /* every other one: the table's removal shifts run over live items */
        snprintf(p, sizeof p, "/m/k%d", i);
        cr_assert_eq(zkt_delete(&t, 0, p, -1, NULL), 0);
    }
    struct wire_stat st;
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "/m/k%d", i);
        cr_assert_eq(zkt_stat(&t, p, &st), i % 2 ? ZK_ERR_OK : ZK_ERR_NO_NODE, "%s", p);
    }
    cr_assert_eq(zkl_children(&t, "/m", "k1"), N / 2);
    for (int i = 0; i < N; i += 2) { /* re-create with a different size */
        snprintf(p, sizeof p, "/m/k%d", i);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p, "re-created", 0), 0);
        cr_assert_eq(zkt_stat(&t, p, &st), 0);
        cr_assert_eq(st.czxid, (int64_t)t.zxid);
        cr_assert_eq(st.version, 0);
        cr_assert_eq(st.data_length, 10);
    }
    cr_assert_eq(zkt_stat(&t, "/m", &st), 0);
    cr_assert_eq(st.num_children, N);
    cr_assert_eq(st.cversion, 2 * (N + N / 2) - N);
    zkl_snap_roundtrip(&t);
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "/m/k%d", i);
        cr_assert_eq(zkt_delete(&t, 0, p, -1, NULL), 0);
    }
    cr_assert_eq(zkl_children(&t, "/m", NULL), 0);
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

/* Items of the table test: a key and a chosen hash (so collisions and wrap-around can be forced). */
typedef struct zkl_item {
    uint64_t key;
    uint64_t hash;
} zkl_item;

/* hash_of of a test item. */
static uint64_t zkl_hash_of(const void *item) { return ((const zkl_item *)item)->hash; }
/* eq of a test item and a key. */
static bool zkl_eq(const void *item, const void *key) { return ((const zkl_item *)item)->key == *(const uint64_t *)key; }

Test(zk_layout, htab_clusters_wraparound_and_growth) {
    enum { N = 5000 };
    static zkl_item it[N];
    static bool in[N];
    zk_htab h;
    zk_htab_init(&h, zkl_hash_of);
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (!in[i]) { /* new key and hash while out of the table */
                it[i].key = (uint64_t)i;
                /* a third of the items share one low half near the top of the range: long clusters that wrap */
                it[i].hash = i % 3 == 0 ? 0xFFFFFFFFull | (x << 32) : x;
            }
            if (!in[i] && (x >> 40) % 2 == 0) {
                zk_htab_insert(&h, &it[i]);
                in[i] = true;
            } else if (in[i] && (x >> 41) % 3 == 0) {
                zk_htab_remove(&h, &it[i]);
                in[i] = false;
            }
        }
        size_t count = 0;
        for (int i = 0; i < N; i++) {
            uint64_t k = (uint64_t)i;
            void *f = zk_htab_find(&h, it[i].hash, zkl_eq, &k);
            cr_assert_eq(f, in[i] ? &it[i] : NULL, "item %d round %d", i, round);
            count += in[i];
        }
        cr_assert_eq(h.count, count);
        cr_assert(h.count * 20 <= h.cap * 17, "load above 0.85");
    }
    for (int i = 0; i < N; i++) {
        if (in[i]) zk_htab_remove(&h, &it[i]);
    }
    cr_assert_eq(h.count, 0);
    for (size_t i = 0; i < h.cap; i++) cr_assert_null(h.slots[i]);
    zk_htab_reserve(&h, 1000);
    cr_assert(h.cap >= 1000 * 4 / 3);
    zk_htab_deinit(&h);
}

Test(zk_layout, slab_sizes_reuse_and_large_blocks) {
    enum { N = 4000 };
    static uint8_t *p[N];
    static uint32_t id[N];
    static size_t sz[N];
    zk_slab a;
    zk_slab_init(&a);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (p[i] != NULL) { /* contents intact and the id still decodes to the block, then free */
                cr_assert_eq(zk_slab_at(&a, id[i]), p[i], "block %d", i);
                for (size_t k = 0; k < sz[i]; k++) cr_assert_eq(p[i][k], (uint8_t)(i + k), "block %d byte %zu", i, k);
                if ((i + round) % 2 == 0) {
                    zk_slab_free(&a, id[i], sz[i]);
                    p[i] = NULL;
                }
                continue;
            }
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            sz[i] = i % 97 == 0 ? ZK_SLAB_MAX_BLOCK + 1 + x % 5000 : 1 + x % 300; /* some go to malloc */
            p[i] = zk_slab_alloc(&a, sz[i], &id[i]);
            cr_assert_neq(id[i], 0, "id 0 means none");
            cr_assert_eq(zk_slab_at(&a, id[i]), p[i]);
            cr_assert_eq((uintptr_t)p[i] % ZK_SLAB_ALIGN, 0);
            if (sz[i] > ZK_SLAB_MAX_BLOCK) cr_assert_eq(id[i] & ZK_SLAB_ID_MASK, 0, "a large block has a slot of its own");
            for (size_t k = 0; k < sz[i]; k++) p[i][k] = (uint8_t)(i + k);
        }
    }
    size_t before = a.nchunks;
    uint32_t slots = a.nslots;
    for (int i = 0; i < N; i++) { /* free everything, then the same sizes fit without new chunks or slots */
        if (p[i] != NULL) zk_slab_free(&a, id[i], sz[i]);
    }
    cr_assert_eq(a.large_count, 0);
    for (int i = 0; i < N; i++) {
        p[i] = zk_slab_alloc(&a, sz[i], &id[i]);
        cr_assert_eq(zk_slab_at(&a, id[i]), p[i]);
        memset(p[i], 0xAB, sz[i]);
    }
    cr_assert_eq(a.nchunks, before, "freed blocks are reused by same-size allocations");
    cr_assert_eq(a.nslots, slots, "slots of freed large blocks are reused");
    for (int i = 0; i < N; i++) zk_slab_free(&a, id[i], sz[i]);
    zk_slab_deinit(&a);
}

Test(zk_layout, slab_ids_encode_offsets_across_slots) {
    zk_slab a;
    zk_slab_init(&a);
    /* 4-byte granularity: a 149-byte block takes 152 bytes, so ids advance by 38 units */
    uint32_t prev_id = 0;
    uint8_t *prev = NULL;
    size_t crossed = 0;
    for (int i = 0; i < 3000; i++) {
        uint32_t id;
        uint8_t *q = zk_slab_alloc(&a, 149, &id);
        cr_assert_eq(zk_slab_at(&a, id), q);
        cr_assert_eq(id >> ZK_SLAB_ID_SHIFT == 0, false, "slot 0 is reserved");
        if (prev != NULL && q == prev + 152) { /* same chunk: consecutive in memory and in id space */
            cr_assert_eq(id, prev_id + 38);
            crossed += (id >> ZK_SLAB_ID_SHIFT) != (prev_id >> ZK_SLAB_ID_SHIFT);
        }
        prev = q;
        prev_id = id;
    }
    cr_assert_gt(crossed, 100, "blocks straddle 2 KiB slots and still decode");
    /* every slot of a chunk points 2 KiB further into it */
    for (uint32_t s = 1; s + 1 < a.nslots; s++) {
        if (a.base[s] != NULL && a.base[s + 1] != NULL && a.base[s + 1] - a.base[s] == (ptrdiff_t)ZK_SLAB_SLOT_BYTES) {
            cr_assert_eq(zk_slab_at(&a, (s + 1) << ZK_SLAB_ID_SHIFT), zk_slab_at(&a, (s << ZK_SLAB_ID_SHIFT) + 512));
        }
    }
    /* the largest offset of a slot, and the id arithmetic's limits */
    cr_assert_eq(ZK_SLAB_SLOT_BYTES, 2048u);
    cr_assert_eq((uint64_t)ZK_SLAB_MAX_SLOTS * ZK_SLAB_SLOT_BYTES, 16ull << 30, "ids address 16 GiB");
    cr_assert_geq(ZK_SLAB_SLOT_BYTES, ZK_SLAB_MAX_BLOCK, "no large block names more id space than it uses");
    zk_slab_deinit(&a);
}

Test(zk_layout, slab_large_blocks_free_and_reuse_slots) {
    zk_slab a;
    zk_slab_init(&a);
    uint32_t ids[8];
    for (int i = 0; i < 8; i++) {
        uint8_t *q = zk_slab_alloc(&a, ZK_SLAB_MAX_BLOCK + 1 + (size_t)i * 100000, &ids[i]);
        cr_assert_eq(zk_slab_at(&a, ids[i]), q);
        cr_assert_eq(ids[i] & ZK_SLAB_ID_MASK, 0);
        q[0] = (uint8_t)i;
    }
    cr_assert_eq(a.large_count, 8);
    uint32_t slots = a.nslots;
    zk_slab_free(&a, ids[3], ZK_SLAB_MAX_BLOCK + 1 + 300000);
    zk_slab_free(&a, ids[5], ZK_SLAB_MAX_BLOCK + 1 + 500000);
    uint32_t r1, r2;
    (void)zk_slab_alloc(&a, 70000, &r1);
    (void)zk_slab_alloc(&a, 3000, &r2);
    cr_assert(r1 == ids[5] && r2 == ids[3], "freed slots come back last-in first-out");
    cr_assert_eq(a.nslots, slots);
    zk_slab_free(&a, r1, 70000);
    zk_slab_free(&a, r2, 3000);
    for (int i = 0; i < 8; i++) {
        if (i != 3 && i != 5) zk_slab_free(&a, ids[i], ZK_SLAB_MAX_BLOCK + 1 + (size_t)i * 100000);
    }
    cr_assert_eq(a.large_count, 0);
    zk_slab_deinit(&a);
}

/* The id space is full: the next slot would not fit in 32-bit ids. */
static void zkl_fill_id_space(zk_slab *a) { a->nslots = ZK_SLAB_MAX_SLOTS; }

Test(zk_layout, slab_id_space_exhaustion_fails_loudly_large, .signal = SIGABRT) {
    zk_slab a;
    zk_slab_init(&a);
    zkl_fill_id_space(&a);
    uint32_t id;
    (void)zk_slab_alloc(&a, ZK_SLAB_MAX_BLOCK + 1, &id);
}

Test(zk_layout, slab_id_space_exhaustion_fails_loudly_chunk, .signal = SIGABRT) {
    zk_slab a;
    zk_slab_init(&a);
    zkl_fill_id_space(&a);
    uint32_t id;
    (void)zk_slab_alloc(&a, 100, &id); /* the first chunk needs two slots */
}

/* Allocates a bare node block holding only a name (enough for zk_ntab_find) and returns its id. */
static uint32_t zkl_bare_node(zk_slab *a, const char *name) {
    uint32_t id;
    size_t len = strlen(name);
    zk_node *n = zk_slab_alloc(a, ZK_NODE_HDR + len, &id);
    memset(n, 0, ZK_NODE_HDR);
    zk_node_set_lens(n, len, 0);
    memcpy(zk_node_name(n), name, len);
    return id;
}

Test(zk_layout, ntab_ids_collisions_replace_and_growth) {
    enum { N = 3000 };
    static uint32_t id[N];
    static uint64_t h[N];
    static bool in[N];
    static char path[N][16];
    zk_slab a;
    zk_slab_init(&a);
    zk_ntab t;
    zk_ntab_init(&t);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        snprintf(path[i], sizeof path[i], "n%d", i);
        id[i] = zkl_bare_node(&a, path[i]);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* a third share their low 32 bits near the top of the range: equal stored hashes, wrapping clusters */
        h[i] = i % 3 == 0 ? 0xFFFFFFF0ull | (x << 32) : x;
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (!in[i] && (x >> 40) % 2 == 0) {
                zk_ntab_insert(&t, id[i], h[i]);
                in[i] = true;
            } else if (in[i] && (x >> 41) % 3 == 0) {
                zk_ntab_remove(&t, id[i], h[i]);
                in[i] = false;
            } else if (in[i] && (x >> 42) % 5 == 0) { /* a move: same name, new block and id, same slot */
                uint32_t nid = zkl_bare_node(&a, path[i]);
                zk_ntab_replace(&t, id[i], nid, h[i]);
                zk_slab_free(&a, id[i], ZK_NODE_HDR + strlen(path[i]));
                id[i] = nid;
            }
        }
        size_t count = 0;
        for (int i = 0; i < N; i++) {
            uint32_t f = zk_ntab_find(&t, &a, h[i], pk_slice_str(path[i]));
            cr_assert_eq(f, in[i] ? id[i] : 0, "node %d round %d", i, round);
            count += in[i];
        }
        cr_assert_eq(t.count, count);
        cr_assert(t.count * 20 <= t.cap * 17, "load above 0.85");
    }
    for (int i = 0; i < N; i++) {
        if (in[i]) zk_ntab_remove(&t, id[i], h[i]);
        zk_slab_free(&a, id[i], ZK_NODE_HDR + strlen(path[i]));
    }
    cr_assert_eq(t.count, 0);
    for (size_t i = 0; i < t.cap; i++) cr_assert_eq(zk_ntab_id(&t, i), 0);
    zk_ntab_reserve(&t, 1000);
    cr_assert(t.cap >= 1000 * 4 / 3);
    zk_ntab_deinit(&t);
    zk_slab_deinit(&a);
}

Test(zk_layout, names_past_the_length_byte_take_big) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/l", "", 0), 0);
    char p255[300], p256[300];
    char *n255 = zkl_fill(255, 'a'), *n256 = zkl_fill(256, 'b');
    snprintf(p255, sizeof p255, "/l/%s", n255);
    snprintf(p256, sizeof p256, "/l/%s", n256);
    free(n255);
    free(n256);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p255, "x", 0), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p256, "y", 0), 0);
    zk_node *a = zk_tree_find(t.s, pk_slice_str(p255)), *b = zk_tree_find(t.s, pk_slice_str(p256));
    cr_assert(a != NULL && b != NULL);
    cr_assert_eq(a->flags, 0, "a 255-byte name fits the header");
    cr_assert_eq(b->flags, ZK_NODE_BIG, "a 256-byte name takes BIG");
    cr_assert_eq(zk_node_name_len(a), 255);
    cr_assert_eq(zk_node_name_len(b), 256);
    cr_assert_eq(zkl_children(&t, "/l", p256 + 3), 2);
    char kid[320];
    snprintf(kid, sizeof kid, "%s/k", p256);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, kid, "z", 0), 0); /* the BIG node gains PAR and moves */
    b = zk_tree_find(t.s, pk_slice_str(p256));
    cr_assert_eq(b->flags & (ZK_NODE_BIG | ZK_NODE_PAR), ZK_NODE_BIG | ZK_NODE_PAR);
    cr_assert_eq(zk_node_name_len(b), 256);
    cr_assert(zk_tree_find(t.s, pk_slice_str(kid)) != NULL);
    cr_assert_eq(zkt_set(&t, 0, p255, "longer data", -1, NULL), 0); /* moves, still no BIG */
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str(p255))->flags & ZK_NODE_BIG, 0);
    zk_state *s2 = zkt_reload(&t);
    cr_assert_eq(zk_tree_find(s2, pk_slice_str(p255))->flags & ZK_NODE_BIG, 0);
    cr_assert(zk_tree_find(s2, pk_slice_str(p256))->flags & ZK_NODE_BIG);
    zk_state_free(s2);
    zkt_deinit(&t);
}

/* The ACL list "ip:127.<k / 256>.<k % 256>.0/8 with every permission" (k < 65536): distinct lists that all
 * grant the fixture's client (127.0.0.1) everything. */
static struct wire_acl zkl_ip_acl(int k, char *buf, size_t len) {
    snprintf(buf, len, "127.%d.%d.0/8", k / 256, k % 256);
    return zkt_acl1(ZK_PERM_ALL, "ip", buf);
}

/* Creates parent/n<k> for k in [0, n), each with its own ACL list zkl_ip_acl(k) (distinct lists, so indices
 * pass the header byte's 254 once n is large enough). */
static void zkl_create_ip_nodes(zkt *t, const char *parent, int n) {
    char path[64], ip[32];
    pk_buf b;
    pk_buf_init(&b);
    for (int k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/n%d", parent, k);
        struct wire_acl acl = zkl_ip_acl(k, ip, sizeof ip);
        zkt_create_body(&b, path, "v", 0, &acl, 1);
        cr_assert_eq(zkt_write(t, 0, ZK_OP_CREATE, &b, NULL), 0);
    }
    pk_buf_deinit(&b);
}

Test(zk_layout, many_acl_lists_reload_to_the_same_bytes) {
    /* the snapshot listed ACL lists in the intern table's slot order, which depends on the table's history: a
     * loaded state with 300 lists re-serialized to other bytes (zkt_reload compares them) */
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a", "", 0), 0);
    zkl_create_ip_nodes(&t, "/a", 300);
    zk_state_free(zkt_reload(&t));
    zkt_deinit(&t);
}

/* setACL of path to the single entry acl (any version); returns err. */
static int32_t zkl_set_acl(zkt *t, const char *path, struct wire_acl acl) {
    pk_buf b;
    pk_buf_init(&b);
    struct wire_set_acl_request sr = {pk_slice_str(path), {1, &acl, {NULL, 0}}, -1};
    wire_set_acl_request_encode(&b, &sr);
    int32_t e = zkt_write(t, 0, ZK_OP_SET_ACL, &b, NULL);
    pk_buf_deinit(&b);
    return e;
}

/* Checks every node of s (zk_tree_walk callback): ACLX is present exactly when its index needs it (a live node
 * keeps its sections, so only a loaded state is checked for "exactly") and the list is a live one. */
static void zkl_check_acl(void *ctx, const zk_node *n, uint32_t id, pk_slice path) {
    const bool *exact = ctx;
    uint32_t idx = zk_node_acl_idx(n);
    cr_assert_neq(idx, 0, "%.*s", (int)path.len, path.ptr);
    if (zk_node_need_aclx(idx)) cr_assert(n->flags & ZK_NODE_ACLX, "%.*s: index %u", (int)path.len, path.ptr, idx);
    else if (*exact) cr_assert_eq(n->flags & ZK_NODE_ACLX, 0, "%.*s: index %u", (int)path.len, path.ptr, idx);
}

/* True when node path of s has the same ACL list as in t's state. */
static bool zkl_same_acl(zkt *t, zk_state *s, const char *path) {
    const zk_acl *x = zk_node_acl(t->s, zk_tree_find(t->s, pk_slice_str(path)));
    const zk_acl *y = zk_node_acl(s, zk_tree_find(s, pk_slice_str(path)));
    return x->blob_len == y->blob_len && memcmp(x->blob, y->blob, x->blob_len) == 0;
}

Test(zk_layout, acl_index_past_the_header_byte_takes_aclx) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a", "", 0), 0);
    enum { N = 300 };
    char path[64], ip[32];
    zkl_create_ip_nodes(&t, "/a", N);
    int high = -1, low = -1;
    for (int k = 0; k < N; k++) {
        snprintf(path, sizeof path, "/a/n%d", k);
        zk_node *n = zk_tree_find(t.s, pk_slice_str(path));
        cr_assert_eq(n->flags, zk_node_need_aclx(zk_node_acl_idx(n)), "a new node holds the index it needs");
        if (n->flags & ZK_NODE_ACLX) high = k;
        else low = k;
    }
    cr_assert(high >= 0 && low >= 0, "both kinds of index (%d, %d)", high, low);
    bool exact = false;
    zk_tree_walk(t.s, zkl_check_acl, &exact);

    /* setACL from a header index to an ACLX one: AVER and ACLX come in one move */
    snprintf(path, sizeof path, "/a/n%d", low);
    cr_assert_eq(zkl_set_acl(&t, path, zkl_ip_acl(high, ip, sizeof ip)), 0);
    zk_node *n = zk_tree_find(t.s, pk_slice_str(path));
    cr_assert_eq(n->flags, ZK_NODE_AVER | ZK_NODE_ACLX);
    snprintf(ip, sizeof ip, "/a/n%d", high);
    cr_assert_eq(zk_node_acl(t.s, n), zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str(ip))));
    /* and back to the open list: the section stays (sections are never dropped while a node lives) */
    cr_assert_eq(zkl_set_acl(&t, path, zkt_open_acl), 0);
    n = zk_tree_find(t.s, pk_slice_str(path));
    cr_assert(n->flags & ZK_NODE_ACLX);
    cr_assert(zk_node_acl_idx(n) < ZK_NODE_ACL_W_END);
    zk_tree_walk(t.s, zkl_check_acl, &exact);

    /* "/" with an ACLX index after a reload goes through zk_tree_put_acl's move: find a list that lands there */
    bool root_aclx = false;
    for (int k = N - 1; k >= 0 && !root_aclx; k--) {
        cr_assert_eq(zkl_set_acl(&t, "/", zkl_ip_acl(k, ip, sizeof ip)), 0);
        zk_state *s2 = zkt_reload(&t); /* digest (it covers each node's ACL), same bytes, same stats */
        exact = true;
        zk_tree_walk(s2, zkl_check_acl, &exact);
        cr_assert(zkl_same_acl(&t, s2, "/"));
        cr_assert(zkl_same_acl(&t, s2, path));
        root_aclx = (zk_tree_root(s2)->flags & ZK_NODE_ACLX) != 0;
        zk_state_free(s2);
    }
    cr_assert(root_aclx, "no list loaded at an index past the header byte for /");
    for (int k = 0; k < N; k++) { /* deleting frees the lists (ASan: nothing leaks) */
        snprintf(path, sizeof path, "/a/n%d", k);
        cr_assert_eq(zkt_delete(&t, 0, path, -1, NULL), 0);
    }
    zkl_snap_roundtrip(&t);
    zkt_deinit(&t);
}

Test(zk_layout, aclx_survives_moves_and_sits_after_big_and_owner) {
    /* found by review: no test moved a node that already had ACLX, or held ACLX beside BIG or OWNER */
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a", "", 0), 0);
    char path[400], ip[32];
    zkl_create_ip_nodes(&t, "/a", 300);
    pk_buf b;
    pk_buf_init(&b);
    /* a 256-byte name (BIG) with the last list (ACLX) */
    char *n256 = zkl_fill(256, 'q');
    snprintf(path, sizeof path, "/a/%s", n256);
    free(n256);
    struct wire_acl acl = zkl_ip_acl(299, ip, sizeof ip);
    zkt_create_body(&b, path, "v", 0, &acl, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    pk_buf_deinit(&b);
    zk_node *n = zk_tree_find(t.s, pk_slice_str(path));
    cr_assert_eq(n->flags, ZK_NODE_BIG | ZK_NODE_ACLX);
    cr_assert_eq(zk_node_acl(t.s, n), zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n299"))));
    /* moves of ACLX nodes: a new data length, a first child */
    cr_assert_eq(zkt_set(&t, 0, "/a/n299", "longer data", -1, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, path, "longer data", -1, NULL), 0);
    char kid[420];
    snprintf(kid, sizeof kid, "%s/k", path);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, kid, "z", 0), 0);
    cr_assert_eq(zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str(path))),
                 zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n299"))));
    cr_assert_eq(zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n299")))->blob_len,
                 zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n298")))->blob_len);
    cr_assert_neq(zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n299"))),
                  zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n298"))));
    cr_assert_eq(zk_node_name_len(zk_tree_find(t.s, pk_slice_str(path))), 256);
    /* an ephemeral with OWNER (the first section) and ACLX (the last), deleted by its session's close */
    zkt_session(&t, 0x42);
    pk_buf_init(&b);
    acl = zkl_ip_acl(298, ip, sizeof ip);
    zkt_create_body(&b, "/a/e", "v", ZK_CREATE_EPHEMERAL, &acl, 1);
    cr_assert_eq(zkt_write(&t, 0x42, ZK_OP_CREATE, &b, NULL), 0);
    pk_buf_deinit(&b);
    n = zk_tree_find(t.s, pk_slice_str("/a/e"));
    cr_assert_eq(n->flags, ZK_NODE_OWNER | ZK_NODE_ACLX);
    cr_assert_eq(zk_node_owner(n), 0x42);
    cr_assert_eq(zk_node_acl(t.s, n), zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n298"))));
    cr_assert_eq(zkt_set(&t, 0x42, "/a/e", "moved", -1, NULL), 0);
    n = zk_tree_find(t.s, pk_slice_str("/a/e"));
    cr_assert_eq(zk_node_owner(n), 0x42);
    cr_assert_eq(zk_node_acl(t.s, n), zk_node_acl(t.s, zk_tree_find(t.s, pk_slice_str("/a/n298"))));
    cr_assert_eq(zk_state_digest_full(t.s), zk_state_digest(t.s));
    zk_state_free(zkt_reload(&t));
    zkt_close(&t, 0x42);
    cr_assert_null(zk_tree_find(t.s, pk_slice_str("/a/e")));
    cr_assert_eq(zk_state_digest_full(t.s), zk_state_digest(t.s));
    zk_state_free(zkt_reload(&t));
    zkt_deinit(&t);
}
