/* Nodes that store only their names: per-parent child tables, paths found by walking from the root and
 * rebuilt from parent ids, moves of parents with many children (each child's parent id must follow),
 * ephemerals and containers whose full paths are rebuilt (closeSession, getEphemerals, the reaper), equal
 * names under different parents, and snapshot round trips with equal digests. */
#include "test_zk_fixture.h"
#include "zk/zk_int.h"

/* Checks one node's structure (zk_tree_walk callback): its children's parent ids, table keys and count. */
static void zkn_check_node(void *ctx, const zk_node *n, uint32_t id, pk_slice path) {
    const zk_state *s = ctx;
    cr_assert_eq(zk_node_id(s, n), id, "%.*s", (int)path.len, path.ptr);
    cr_assert_eq(zk_tree_find(s, path), n, "%.*s", (int)path.len, path.ptr);
    pk_buf b;
    pk_buf_init(&b);
    cr_assert_eq(zk_node_path_append(s, n, &b), path.len);
    cr_assert(memcmp(b.data, path.ptr, path.len) == 0, "rebuilt path of %.*s", (int)path.len, path.ptr);
    pk_buf_deinit(&b);
    zk_ntab t;
    zk_node_kids_load(n, &t);
    size_t count = 0;
    for (size_t i = 0; i < t.cap; i++) {
        uint32_t c = zk_ntab_id(&t, i);
        if (c == 0) continue;
        count++;
        const zk_node *k = zk_node_at(s, c);
        cr_assert_eq(k->parent, id, "a child of %.*s names another parent", (int)path.len, path.ptr);
        cr_assert_eq(zk_ntab_h32(&t, i), (uint32_t)zk_name_hash(zk_node_name_slice(k)));
    }
    cr_assert_eq(count, zk_node_nkids(n));
    if (n->flags & ZK_NODE_PAR) cr_assert(n->flags & ZK_NODE_MOD, "PAR brings MOD");
}

/* Checks every node of the state, the digest against a full recomputation and a snapshot round trip. */
static void zkn_check(zkt *t) {
    zk_tree_walk(t->s, zkn_check_node, t->s);
    cr_assert_eq(zk_state_digest_full(t->s), zk_state_digest(t->s));
    zk_state *s2 = zkt_reload(t);
    zk_tree_walk(s2, zkn_check_node, s2);
    zk_state_free(s2);
}

Test(zk_names, deep_path_walks_and_rebuilds) {
    zkt t;
    zkt_init(&t);
    char path[4096];
    size_t len = 0;
    for (int d = 0; d < 100; d++) {
        len += (size_t)snprintf(path + len, sizeof path - len, "/lvl%d", d);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, path, "v", 0), 0);
    }
    zk_loc loc;
    zk_node *n = zk_tree_locate(t.s, pk_slice_str(path), &loc);
    cr_assert_not_null(n);
    cr_assert_eq(loc.pid, n->parent);
    cr_assert(pk_slice_eq(zk_node_name_slice(n), pk_slice_str("lvl99")));
    cr_assert_eq(zk_node_fullpath_len(t.s, n), len);
    cr_assert_eq(zk_node_digest(t.s, n), zk_node_digest_h(t.s, n, zk_path_hash(pk_slice_str(path))));
    /* lookups that only a full-path table used to reject: empty components, trailing slash, no slash */
    cr_assert_null(zk_tree_find(t.s, pk_slice_str("//lvl0")));
    cr_assert_null(zk_tree_find(t.s, pk_slice_str("/lvl0/")));
    cr_assert_null(zk_tree_find(t.s, pk_slice_str("lvl0")));
    cr_assert_null(zk_tree_find(t.s, pk_slice_str("/lvl0/lvl2")));
    cr_assert_eq(zk_tree_find(t.s, pk_slice_str("/")), zk_tree_root(t.s));
    cr_assert_null(zk_tree_locate(t.s, pk_slice_str("/lvl0/nope/x"), &loc));
    cr_assert_null(loc.parent, "no parent when an inner component is missing");
    cr_assert_null(zk_tree_locate(t.s, pk_slice_str("/lvl0/nope"), &loc));
    cr_assert_eq(loc.parent, zk_tree_find(t.s, pk_slice_str("/lvl0")));
    zkn_check(&t);
    zkt_deinit(&t);
}

Test(zk_names, moving_a_parent_fixes_its_childrens_parent_ids) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/big", "x", 0), 0);
    char p[64];
    enum { N = 700 };
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "/big/c%d", i);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p, "d", 0), 0);
    }
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/big/c7/g", "", 0), 0); /* a grandchild: c7 is a parent too */
    uint32_t before = zk_node_id(t.s, zk_tree_find(t.s, pk_slice_str("/big")));
    cr_assert_eq(zkt_set(&t, 0, "/big", "a longer value", -1, NULL), 0); /* new data length: the parent moves */
    uint32_t after = zk_node_id(t.s, zk_tree_find(t.s, pk_slice_str("/big")));
    cr_assert_neq(before, after, "the parent did move");
    zkn_check(&t);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_acl ro = zkt_acl1(ZK_PERM_ALL, "world", "anyone");
    struct wire_set_acl_request sr = {pk_slice_str("/big"), {1, &ro, {NULL, 0}}, -1};
    wire_set_acl_request_encode(&b, &sr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_SET_ACL, &b, NULL), 0); /* gains AVER: moves again */
    pk_buf_deinit(&b);
    t.zxid += 3ull << 32; /* an epoch change: the next create widens the parent (one more move) */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/big/late", "", 0), 0);
    cr_assert(zk_tree_find(t.s, pk_slice_str("/big"))->flags & ZK_NODE_WIDE);
    cr_assert_eq(zkt_set(&t, 0, "/big/c7", "grown value", -1, NULL), 0); /* a middle parent moves */
    zkn_check(&t);
    for (int i = 0; i < N; i += 3) {
        snprintf(p, sizeof p, "/big/c%d", i);
        if (i != 7) cr_assert_eq(zkt_delete(&t, 0, p, -1, NULL), 0, "%s", p);
    }
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/big/c7/g", &st), 0);
    cr_assert_eq(zkt_stat(&t, "/big", &st), 0);
    cr_assert_eq(st.num_children, N - (N + 2) / 3 + 1);
    zkn_check(&t);
    zkt_deinit(&t);
}

/* getEphemerals of session sid with prefix: the returned paths, NUL-separated, sorted into out. */
static int32_t zkn_ephemerals(zkt *t, uint64_t sid, const char *prefix, char out[][64], int max) {
    pk_buf b, r;
    pk_buf_init(&b);
    pk_buf_init(&r);
    jute_write_cstring(&b, prefix);
    zk_read_result rr;
    zk_read(t->s, &zkt_anon, sid, ZK_OP_GET_EPHEMERALS, pk_buf_slice(&b), &r, &rr);
    cr_assert_eq(rr.err, 0);
    jute_reader jr;
    jute_reader_init(&jr, r.data, r.len, 1 << 20);
    int32_t n = jute_read_int(&jr);
    cr_assert_leq(n, max);
    for (int32_t i = 0; i < n; i++) {
        pk_slice p = jute_read_ustring(&jr);
        cr_assert_lt(p.len, 64);
        memcpy(out[i], p.ptr, p.len);
        out[i][p.len] = 0;
    }
    cr_assert(jute_reader_done(&jr) && jr.err == 0);
    qsort(out, (size_t)n, sizeof out[0], (int (*)(const void *, const void *))strcmp);
    pk_buf_deinit(&b);
    pk_buf_deinit(&r);
    return n;
}

Test(zk_names, ephemerals_under_several_parents_close_and_list) {
    zkt t;
    zkt_init(&t);
    uint64_t sid = 0x0700000000000001ull;
    zkt_session(&t, sid);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/p1", "", 0), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/p2", "", 0), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/p2/q", "", 0), 0);
    const char *eph[] = {"/p1/e", "/p2/q/e", "/p2/e", "/e", "/p1/f"};
    for (size_t i = 0; i < PK_ARRAY_LEN(eph); i++)
        cr_assert_eq(zkt_create(&t, sid, ZK_OP_CREATE, eph[i], "1", ZK_CREATE_EPHEMERAL), 0, "%s", eph[i]);
    cr_assert_eq(zkt_set(&t, 0, "/p2/q", "the parent moves", -1, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/p1/f", "the ephemeral moves", -1, NULL), 0);
    char got[8][64];
    cr_assert_eq(zkn_ephemerals(&t, sid, "/", got, 8), 5);
    const char *sorted[] = {"/e", "/p1/e", "/p1/f", "/p2/e", "/p2/q/e"};
    for (int i = 0; i < 5; i++) cr_assert_str_eq(got[i], sorted[i]);
    cr_assert_eq(zkn_ephemerals(&t, sid, "/p2", got, 8), 2);
    cr_assert_str_eq(got[0], "/p2/e");
    cr_assert_str_eq(got[1], "/p2/q/e");
    cr_assert_eq(zkn_ephemerals(&t, sid, "/p1/", got, 8), 2);
    zkn_check(&t);
    zkt_close(&t, sid);
    struct wire_stat st;
    for (size_t i = 0; i < PK_ARRAY_LEN(eph); i++) cr_assert_eq(zkt_stat(&t, eph[i], &st), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_stat(&t, "/p2", &st), 0);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(zkt_stat(&t, "/p2/q", &st), 0);
    cr_assert_eq(st.num_children, 0);
    zk_stats x;
    zk_state_stats(t.s, &x);
    cr_assert_eq(x.ephemeral_count, 0);
    zkn_check(&t);
    zkt_deinit(&t);
}

Test(zk_names, reaper_rebuilds_container_paths) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/x", "", 0), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/x/y", "", 0), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE_CONTAINER, "/x/y/box", "", ZK_CREATE_CONTAINER), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE_CONTAINER, "/box", "", ZK_CREATE_CONTAINER), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/x/y/box/k", "", 0), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/box/k", "", 0), 0);
    pk_buf paths;
    pk_buf_init(&paths);
    cr_assert_eq(zk_reap_candidates(t.s, t.now_ms, 10, &paths), 0, "containers with children stay");
    cr_assert_eq(zkt_set(&t, 0, "/x/y", "moves the container's parent", -1, NULL), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/x/y/box/k", -1, NULL), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/box/k", -1, NULL), 0);
    cr_assert_eq(zk_reap_candidates(t.s, t.now_ms, 10, &paths), 2);
    cr_assert_eq(paths.len, sizeof "/x/y/box" + sizeof "/box");
    bool a = memcmp(paths.data, "/box", 5) == 0 && memcmp(paths.data + 5, "/x/y/box", 9) == 0;
    bool b = memcmp(paths.data, "/x/y/box", 9) == 0 && memcmp(paths.data + 9, "/box", 5) == 0;
    cr_assert(a || b, "full paths of both containers");
    zkn_check(&t);
    pk_buf txn;
    pk_buf_init(&txn);
    cr_assert_eq(zk_prep_delete_container(t.p, t.s, pk_slice_str("/x/y/box"), ++t.zxid, t.now_ms, &txn), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&txn)), 0);
    pk_buf_reset(&paths);
    cr_assert_eq(zk_reap_candidates(t.s, t.now_ms, 10, &paths), 1);
    cr_assert_str_eq((const char *)paths.data, "/box");
    pk_buf_deinit(&txn);
    pk_buf_deinit(&paths);
    zkn_check(&t);
    zkt_deinit(&t);
}

Test(zk_names, equal_names_under_different_parents) {
    zkt t;
    zkt_init(&t);
    const char *paths[] = {"/a", "/b", "/a/same", "/b/same", "/a/same/same", "/same", "/b/same/a"};
    for (size_t i = 0; i < PK_ARRAY_LEN(paths); i++)
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, paths[i], paths[i], 0), 0, "%s", paths[i]);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a/same", "", 0), ZK_ERR_NODE_EXISTS);
    for (size_t i = 0; i < PK_ARRAY_LEN(paths); i++) {
        zk_node *n = zk_tree_find(t.s, pk_slice_str(paths[i]));
        cr_assert_not_null(n, "%s", paths[i]);
        cr_assert_eq(zk_node_data_len(n), (int32_t)strlen(paths[i]));
        cr_assert(memcmp(zk_node_data(n), paths[i], strlen(paths[i])) == 0, "%s finds its own node", paths[i]);
    }
    zkn_check(&t);
    cr_assert_eq(zkt_delete(&t, 0, "/a/same/same", -1, NULL), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/a/same", -1, NULL), 0);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/a/same", &st), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_stat(&t, "/b/same", &st), 0);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(zkt_stat(&t, "/same", &st), 0);
    zkn_check(&t);
    zkt_deinit(&t);
}

Test(zk_names, snapshot_of_many_parents_round_trips) {
    zkt t;
    zkt_init(&t);
    char p[64];
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int i = 0; i < 3000; i++) { /* random tree of depth up to 4 over a few names, with deletes */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int n = 0;
        for (int d = 0; d <= (int)(x % 4); d++) n += snprintf(p + n, sizeof p - (size_t)n, "/n%u", (unsigned)((x >> (8 * d + 3)) % 6));
        if ((x >> 50) % 4 == 0) (void)zkt_delete(&t, 0, p, -1, NULL);
        else (void)zkt_create(&t, 0, ZK_OP_CREATE, p, (x >> 40) % 2 ? "data" : "longer data", 0);
        if (i % 1000 == 999) zkn_check(&t);
    }
    zkt_deinit(&t);
}

Test(zk_names, child_table_shrinks_when_most_children_go) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/s", "", 0), 0);
    char p[64];
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "/s/k%d", i);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p, "", 0), 0);
    }
    zk_ntab tab;
    zk_node_kids_load(zk_tree_find(t.s, pk_slice_str("/s")), &tab);
    cr_assert_geq(tab.cap, N);
    for (int i = 10; i < N; i++) {
        snprintf(p, sizeof p, "/s/k%d", i);
        cr_assert_eq(zkt_delete(&t, 0, p, -1, NULL), 0);
    }
    zk_node_kids_load(zk_tree_find(t.s, pk_slice_str("/s")), &tab);
    cr_assert_eq(tab.count, 10);
    cr_assert_lt(tab.cap, 100, "the table shrank (cap %zu)", tab.cap);
    zkn_check(&t);
    zkt_deinit(&t);
}

/* Rewrites the path of node old (same length) to new in a serialized state, fixing the digest and the CRC. */
static void zkn_forge_path(zkt *t, pk_buf *a, const char *old, const char *new_path) {
    size_t len = strlen(old);
    cr_assert_eq(strlen(new_path), len);
    const zk_node *n = zk_tree_find(t->s, pk_slice_str(old));
    cr_assert(n != NULL);
    uint64_t d = zk_state_digest(t->s) - zk_node_digest_h(t->s, n, zk_path_hash(pk_slice_str(old))) +
                 zk_node_digest_h(t->s, n, zk_path_hash(pk_slice_str(new_path)));
    uint8_t rec[4 + 64];
    cr_assert(len <= 64);
    pk_put_u32(rec, (uint32_t)len);
    memcpy(rec + 4, old, len);
    uint8_t *p = NULL;
    for (size_t i = 0; i + 4 + len <= a->len && p == NULL; i++)
        if (memcmp(a->data + i, rec, 4 + len) == 0) p = a->data + i + 4;
    cr_assert(p != NULL, "record of %s not found", old);
    memcpy(p, new_path, len);
    pk_put_u64(a->data + 16, d); /* after magic and version, the last zxid, then the digest */
    pk_put_u32(a->data + a->len - 4, pk_crc32c(0, a->data, a->len - 4));
}

Test(zk_names, snapshot_load_rejects_names_with_a_slash_or_empty) {
    /* review finding: "//b" loaded as a child of "/" named "/b", listed by getChildren but unreachable */
    const char *forged[] = {"//b", "/x/", "//"};
    const char *orig[] = {"/xb", "/xx", "/y"};
    for (int k = 0; k < 3; k++) {
        zkt t;
        zkt_init(&t);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/xx", "d", 0), 0);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, orig[k], "d", 0) == 0 || k == 1, 1);
        pk_buf a;
        pk_buf_init(&a);
        zk_state_serialize(t.s, &a);
        zkn_forge_path(&t, &a, orig[k], forged[k]);
        zk_state *s2 = NULL;
        char err[128] = "";
        int rc = zk_state_deserialize(pk_buf_slice(&a), &s2, err, sizeof err);
        cr_assert_neq(rc, PK_OK, "snapshot with path %s was accepted", forged[k]);
        cr_assert_null(s2);
        pk_buf_deinit(&a);
        zkt_deinit(&t);
    }
}

Test(zk_names, close_session_with_many_ephemerals_under_several_parents) {
    zkt t;
    zkt_init(&t);
    zkt_session(&t, 0x42);
    char p[64];
    for (int d = 0; d < 4; d++) {
        snprintf(p, sizeof p, "/d%d", d);
        cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, p, "", 0), 0);
    }
    enum { N = 6000 };
    for (int i = 0; i < N; i++) { /* created in an order unlike the path order closeSession deletes in */
        snprintf(p, sizeof p, "/d%d/e%d", (i * 7) % 4, N - i);
        cr_assert_eq(zkt_create(&t, 0x42, ZK_OP_CREATE, p, "x", ZK_CREATE_EPHEMERAL), 0);
    }
    zk_stats st;
    zk_state_stats(t.s, &st);
    cr_assert_eq(st.ephemeral_count, N);
    zkt_close(&t, 0x42);
    zk_state_stats(t.s, &st);
    cr_assert_eq(st.ephemeral_count, 0);
    for (int d = 0; d < 4; d++) {
        snprintf(p, sizeof p, "/d%d", d);
        cr_assert_eq(zk_node_nkids(zk_tree_find(t.s, pk_slice_str(p))), 0);
    }
    zkn_check(&t);
    zkt_deinit(&t);
}
