/* Unit tests for src/zk apply/prep/read: fresh tree, stats, versions, sequence names, ephemerals, errors. */
#include "test_zk_fixture.h"
#include "zk/zk_int.h"

/* Decodes a children vector reply into a comma-joined string (order as returned). */
static void children_str(pk_slice body, char *out, size_t cap, bool sorted_check_only) {
    jute_reader r;
    jute_reader_init(&r, body.ptr, body.len, 1 << 20);
    int32_t n = jute_read_int(&r);
    out[0] = 0;
    for (int32_t i = 0; i < n; i++) {
        pk_slice s = jute_read_ustring(&r);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%.*s", i ? "," : "", (int)s.len, (const char *)s.ptr);
    }
    (void)sorted_check_only;
}

/* Runs a read and returns err; body in out. */
static int32_t do_read(zkt *t, const zk_auth *auth, uint64_t sid, int32_t op, const pk_buf *body, pk_buf *out,
                       zk_read_result *rr) {
    pk_buf_reset(out);
    zk_read(t->s, auth ? auth : &zkt_anon, sid, op, pk_buf_slice(body), out, rr);
    return rr->err;
}

/* Encodes a path+watch request. */
static void path_watch(pk_buf *b, const char *path, bool watch) {
    pk_buf_reset(b);
    struct wire_get_data_request r = {pk_slice_str(path), watch};
    wire_get_data_request_encode(b, &r);
}

Test(zk_apply, fresh_tree_values) {
    zkt t;
    zkt_init(&t);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/", &st), 0);
    cr_assert_eq(st.cversion, -1);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.czxid, 0);
    cr_assert_eq(zkt_stat(&t, "/zookeeper", &st), 0);
    cr_assert_eq(st.cversion, -2);
    cr_assert_eq(st.num_children, 2);
    cr_assert_eq(zkt_stat(&t, "/zookeeper/config", &st), 0);
    cr_assert_eq(st.aversion, -1);
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    zk_read_result rr;
    path_watch(&b, "/", false);
    cr_assert_eq(do_read(&t, NULL, 0, ZK_OP_GET_CHILDREN, &b, &out, &rr), 0);
    char names[256];
    children_str(pk_buf_slice(&out), names, sizeof names, false);
    cr_assert_str_eq(names, "zookeeper");
    pk_buf_reset(&b);
    jute_write_cstring(&b, "/");
    cr_assert_eq(do_read(&t, NULL, 0, ZK_OP_GET_ALL_CHILDREN_NUMBER, &b, &out, &rr), 0);
    cr_assert_eq(out.len, 4);
    cr_assert_eq(pk_get_u32(out.data), 3);
    /* getData of / is an empty (not null) buffer */
    path_watch(&b, "/", true);
    cr_assert_eq(do_read(&t, NULL, 0, ZK_OP_GET_DATA, &b, &out, &rr), 0);
    cr_assert_eq(pk_get_u32(out.data), 0);
    cr_assert_eq(out.len, 4 + 68);
    cr_assert_eq(rr.watch, ZK_WATCH_DATA);
    zk_stats zs;
    zk_state_stats(t.s, &zs);
    cr_assert_eq(zs.node_count, 5);
    /* /zookeeper/config is world:READ: setData without super is NoAuth */
    cr_assert_eq(zkt_set(&t, 0, "/zookeeper/config", "x", -1, NULL), ZK_ERR_NO_AUTH);
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

Test(zk_apply, create_stats_and_reply_bodies) {
    zkt t;
    zkt_init(&t);
    t.now_ms = 5555;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a", "hello", 0), 0);
    cr_assert_eq(t.reply.len, 4 + 2);
    cr_assert_eq(memcmp(t.reply.data + 4, "/a", 2), 0);
    uint64_t z1 = t.zxid;
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE2, "/a/b", NULL, 0), 0);
    cr_assert_eq(t.reply.len, 4 + 4 + 68, "create2 = path + stat");
    jute_reader r;
    jute_reader_init(&r, t.reply.data, t.reply.len, 1 << 20);
    pk_slice p = jute_read_ustring(&r);
    struct wire_stat st;
    cr_assert_eq(wire_stat_decode(&r, &st), 0);
    cr_assert(pk_slice_eq(p, pk_slice_str("/a/b")));
    cr_assert_eq(st.czxid, (int64_t)t.zxid);
    cr_assert_eq(st.mzxid, (int64_t)t.zxid);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid);
    cr_assert_eq(st.ctime_ms, 5555);
    cr_assert_eq(st.data_length, 0);
    cr_assert_eq(zkt_stat(&t, "/a", &st), 0);
    cr_assert_eq(st.czxid, (int64_t)z1);
    cr_assert_eq(st.mzxid, (int64_t)z1);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid, "child create sets pzxid");
    cr_assert_eq(st.cversion, 1);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.data_length, 5);
    /* events: NodeCreated(/a/b) then NodeChildrenChanged(/a) */
    cr_assert_eq(zk_events_count(t.ev), 2);
    int32_t ty;
    pk_slice ep;
    zk_events_get(t.ev, 0, &ty, &ep);
    cr_assert_eq(ty, ZK_EVENT_NODE_CREATED);
    cr_assert(pk_slice_eq(ep, pk_slice_str("/a/b")));
    zk_events_get(t.ev, 1, &ty, &ep);
    cr_assert_eq(ty, ZK_EVENT_NODE_CHILDREN_CHANGED);
    cr_assert(pk_slice_eq(ep, pk_slice_str("/a")));
    /* null data stays null */
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    zk_read_result rr;
    path_watch(&b, "/a/b", false);
    cr_assert_eq(do_read(&t, NULL, 0, ZK_OP_GET_DATA, &b, &out, &rr), 0);
    cr_assert_eq((int32_t)pk_get_u32(out.data), -1);
    cr_assert_eq(rr.watch, ZK_WATCH_NONE);
    /* create of / child fires NodeChildrenChanged("/") */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/c", "", 0), 0);
    zk_events_get(t.ev, 1, &ty, &ep);
    cr_assert(pk_slice_eq(ep, pk_slice_str("/")));
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

Test(zk_apply, versions_and_version_checks) {
    cr_assert_eq(zk_version_next(0), 1);
    cr_assert_eq(zk_version_next(INT32_MAX), INT32_MIN, "wrap");
    cr_assert_eq(zk_version_next(-2), 0, "-1 is skipped");
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/v", "a", 0), 0);
    cr_assert_eq(zkt_set(&t, 0, "/v", "bb", 0, NULL), 0);
    cr_assert_eq(t.reply.len, 68, "setData returns a stat");
    cr_assert_eq((int32_t)pk_get_u32(t.reply.data + 32), 1, "stat.version at offset 32");
    cr_assert_eq(zkt_set(&t, 0, "/v", "cc", 0, NULL), ZK_ERR_BAD_VERSION);
    cr_assert_eq(t.reply.len, 0, "no body on error");
    cr_assert_eq(zkt_set(&t, 0, "/v", "cc", -1, NULL), 0);
    struct wire_stat st;
    zkt_stat(&t, "/v", &st);
    cr_assert_eq(st.version, 2);
    cr_assert_eq(st.mzxid, (int64_t)t.zxid);
    cr_assert_eq(zkt_delete(&t, 0, "/v", 1, NULL), ZK_ERR_BAD_VERSION);
    cr_assert_eq(zkt_delete(&t, 0, "/v", 2, NULL), 0);
    cr_assert_eq(zkt_stat(&t, "/v", &st), ZK_ERR_NO_NODE);
    /* forcing the wrap through the tree */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/w", "a", 0), 0);
    zk_node *n = zk_tree_find(t.s, pk_slice_str("/w"));
    t.s->digest -= zk_node_digest(t.s, n);
    zk_node_vals v;
    zk_node_get(n, &v);
    v.version = -2;
    n = zk_node_update(t.s, n, zk_node_czxid(n), zk_node_ctime(n), &v);
    t.s->digest += zk_node_digest(t.s, n);
    cr_assert_eq(zkt_set(&t, 0, "/w", "b", -2, NULL), 0);
    zkt_stat(&t, "/w", &st);
    cr_assert_eq(st.version, 0);
    zkt_deinit(&t);
}

Test(zk_apply, cversion_pzxid_on_delete) {
    zkt t;
    zkt_init(&t);
    zkt_create(&t, 0, ZK_OP_CREATE, "/p", "", 0);
    zkt_create(&t, 0, ZK_OP_CREATE, "/p/x", "", 0);
    zkt_create(&t, 0, ZK_OP_CREATE, "/p/y", "", 0);
    cr_assert_eq(zkt_delete(&t, 0, "/p/x", -1, NULL), 0);
    struct wire_stat st;
    zkt_stat(&t, "/p", &st);
    cr_assert_eq(st.cversion, 3, "2 creates + 1 delete");
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid);
    cr_assert_eq(zk_events_count(t.ev), 2);
    int32_t ty;
    pk_slice ep;
    zk_events_get(t.ev, 0, &ty, &ep);
    cr_assert_eq(ty, ZK_EVENT_NODE_DELETED);
    cr_assert(pk_slice_eq(ep, pk_slice_str("/p/x")));
    zk_events_get(t.ev, 1, &ty, &ep);
    cr_assert_eq(ty, ZK_EVENT_NODE_CHILDREN_CHANGED);
    cr_assert(pk_slice_eq(ep, pk_slice_str("/p")));
    cr_assert_eq(zkt_delete(&t, 0, "/p", -1, NULL), ZK_ERR_NOT_EMPTY);
    zkt_deinit(&t);
}

Test(zk_apply, sequential_names) {
    zkt t;
    zkt_init(&t);
    zkt_create(&t, 0, ZK_OP_CREATE, "/q", "", 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/q/", "", ZK_CREATE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(t.reply.len, 4 + 13);
    cr_assert_eq(memcmp(t.reply.data + 4, "/q/0000000000", 13), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/q/plain", "", 0), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/q/plain", -1, NULL), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/q/job-", "", ZK_CREATE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(memcmp(t.reply.data + 4, "/q/job-0000000002", 17), 0, "counter counts every create, never decremented");
    /* signed wrap: counter at INT32_MAX then MIN */
    zk_node *q = zk_tree_find(t.s, pk_slice_str("/q"));
    t.s->digest -= zk_node_digest(t.s, q);
    zk_node_vals v;
    zk_node_get(q, &v);
    v.ccount = INT32_MAX;
    q = zk_node_update(t.s, q, zk_node_czxid(q), zk_node_ctime(q), &v);
    t.s->digest += zk_node_digest(t.s, q);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/q/s", "", ZK_CREATE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(memcmp(t.reply.data + 4, "/q/s2147483647", 14), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/q/s", "", ZK_CREATE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(t.reply.len, 4 + 4 + 11);
    cr_assert_eq(memcmp(t.reply.data + 4, "/q/s-2147483648", 15), 0);
    zkt_deinit(&t);
}

Test(zk_apply, ephemerals_and_close_session) {
    zkt t;
    zkt_init(&t);
    uint64_t sid = 0x0100000000000001ull;
    zkt_session(&t, sid);
    int32_t to;
    uint8_t pw[16];
    cr_assert(zk_session_get(t.s, sid, &to, pw));
    cr_assert_eq(to, 30000);
    cr_assert_eq(pw[1], 2);
    zkt_create(&t, 0, ZK_OP_CREATE, "/e", "", 0);
    cr_assert_eq(zkt_create(&t, sid, ZK_OP_CREATE, "/e/1", "", ZK_CREATE_EPHEMERAL), 0);
    cr_assert_eq(zkt_create(&t, sid, ZK_OP_CREATE, "/e/2", "", ZK_CREATE_EPHEMERAL_SEQUENTIAL), 0);
    struct wire_stat st;
    zkt_stat(&t, "/e/1", &st);
    cr_assert_eq(st.ephemeral_owner, (int64_t)sid);
    cr_assert_eq(zkt_create(&t, sid, ZK_OP_CREATE, "/e/1/c", "", 0), ZK_ERR_NO_CHILDREN_FOR_EPHEMERALS);
    cr_assert_eq(zkt_create(&t, 0x0100000000000002ull, ZK_OP_CREATE, "/e/3", "", ZK_CREATE_EPHEMERAL),
                 ZK_ERR_SESSION_EXPIRED, "unknown session");
    /* getEphemerals */
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    zk_read_result rr;
    jute_write_cstring(&b, "/e/1");
    cr_assert_eq(do_read(&t, NULL, sid, ZK_OP_GET_EPHEMERALS, &b, &out, &rr), 0);
    cr_assert_eq(pk_get_u32(out.data), 1);
    pk_buf_reset(&b);
    jute_write_null(&b);
    cr_assert_eq(do_read(&t, NULL, sid, ZK_OP_GET_EPHEMERALS, &b, &out, &rr), 0);
    cr_assert_eq(pk_get_u32(out.data), 2);
    zk_stats zs;
    zk_state_stats(t.s, &zs);
    cr_assert_eq(zs.ephemeral_count, 2);
    cr_assert_eq(zs.session_count, 1);
    zkt_close(&t, sid);
    cr_assert_eq(zkt_stat(&t, "/e/1", &st), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_stat(&t, "/e", &st), 0);
    cr_assert_eq(st.num_children, 0);
    cr_assert_eq(st.pzxid, (int64_t)t.zxid);
    cr_assert_eq(zk_events_count(t.ev), 4, "deleted + children changed per ephemeral");
    cr_assert(!zk_session_get(t.s, sid, NULL, NULL));
    zk_state_stats(t.s, &zs);
    cr_assert_eq(zs.ephemeral_count, 0);
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

Test(zk_apply, create_error_order) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a", "", 7), ZK_ERR_BAD_ARGUMENTS, "flags");
    zk_prep_options o = {false, 0};
    zk_prep *np = zk_prep_new(&o);
    zk_prep *old = t.p;
    t.p = np;
    pk_buf b;
    pk_buf_init(&b);
    struct wire_create_ttl_request tr = {pk_slice_str("/t"), jute_null(), {1, &zkt_open_acl, {NULL, 0}}, 5, 100};
    wire_create_ttl_request_encode(&b, &tr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE_TTL, &b, NULL), ZK_ERR_UNIMPLEMENTED, "TTL disabled");
    t.p = old;
    zk_prep_free(np);
    tr.ttl_ms = 0;
    pk_buf_reset(&b);
    wire_create_ttl_request_encode(&b, &tr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE_TTL, &b, NULL), ZK_ERR_BAD_ARGUMENTS, "ttl 0");
    tr.ttl_ms = (int64_t)1 << 40;
    pk_buf_reset(&b);
    wire_create_ttl_request_encode(&b, &tr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE_TTL, &b, NULL), ZK_ERR_BAD_ARGUMENTS, "ttl too big");
    tr.ttl_ms = 100;
    tr.flags = 0;
    pk_buf_reset(&b);
    wire_create_ttl_request_encode(&b, &tr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE_TTL, &b, NULL), ZK_ERR_BAD_ARGUMENTS, "ttl on non-TTL mode");
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "noslash", "", 0), ZK_ERR_BAD_ARGUMENTS);
    /* bad ACL before missing parent */
    struct wire_acl bad = zkt_acl1(31, "world", "someone");
    zkt_create_body(&b, "/missing/x", "", 0, &bad, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), ZK_ERR_INVALID_ACL);
    zkt_create_body(&b, "/missing/x", "", 0, NULL, 0);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), ZK_ERR_INVALID_ACL, "empty ACL");
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/missing/x", "", 0), ZK_ERR_NO_NODE);
    /* NoAuth on parent before path validation and existence */
    struct wire_acl ro = zkt_acl1(ZK_PERM_READ, "world", "anyone");
    zkt_create_body(&b, "/ro", "", 0, &ro, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/ro/", "", 0), ZK_ERR_NO_AUTH);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/ro", "", 0), ZK_ERR_NODE_EXISTS);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a/", "", 0), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/", "", 0), ZK_ERR_NODE_EXISTS);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/a/.", "", 0), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/.", "", 0), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/x\x01", "", 0), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/\xf0\x9f\x98\x80", "", 0), ZK_ERR_BAD_ARGUMENTS, "astral");
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/\xc3\xa9t\xc3\xa9", "", 0), 0, "BMP ok");
    /* sequential "/" suffix case: validation after the suffix */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/", "", ZK_CREATE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(memcmp(t.reply.data + 4, "/0000000002", 11), 0);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_apply, delete_error_order) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_delete(&t, 0, "/", -1, NULL), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_delete(&t, 0, "/zookeeper", -1, NULL), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_delete(&t, 0, "/zookeeper/quota", -1, NULL), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_delete(&t, 0, "/zookeeper/config", -1, NULL), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_delete(&t, 0, "nope", -1, NULL), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_delete(&t, 0, "/a/b", -1, NULL), ZK_ERR_NO_NODE);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_acl nodel = zkt_acl1(ZK_PERM_ALL & ~ZK_PERM_DELETE, "world", "anyone");
    zkt_create_body(&b, "/nd", "", 0, &nodel, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/nd/missing", -1, NULL), ZK_ERR_NO_AUTH, "parent DELETE before existence");
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/nd/c", "", 0), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/nd/c", 5, NULL), ZK_ERR_NO_AUTH);
    cr_assert_eq(zkt_delete(&t, 0, "/nd", 5, NULL), ZK_ERR_BAD_VERSION, "version before NotEmpty");
    cr_assert_eq(zkt_delete(&t, 0, "/nd", 0, NULL), ZK_ERR_NOT_EMPTY);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_apply, set_acl_and_get_acl_masking) {
    zkt t;
    zkt_init(&t);
    zk_auth_id ids[2] = {zkt_ip_id, {pk_slice_str("digest"), pk_slice_str("bob:HASH=")}};
    zk_auth bob = {ids, 2};
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    struct wire_acl acl[2] = {zkt_acl1(ZK_PERM_ALL, "auth", ""), zkt_acl1(ZK_PERM_READ, "world", "anyone")};
    zkt_create_body(&b, "/s", "d", 0, acl, 2);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, &bob), 0);
    /* anonymous cannot use auth ACL (ip is not authenticated) */
    zkt_create_body(&b, "/s2", "d", 0, acl, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), ZK_ERR_INVALID_ACL);
    zk_read_result rr;
    pk_buf_reset(&b);
    jute_write_cstring(&b, "/s");
    cr_assert_eq(do_read(&t, &bob, 0, ZK_OP_GET_ACL, &b, &out, &rr), 0);
    jute_reader r;
    jute_reader_init(&r, out.data, out.len, 1 << 20);
    cr_assert_eq(jute_read_int(&r), 2);
    cr_assert_eq(jute_read_int(&r), ZK_PERM_ALL);
    cr_assert(pk_slice_eq(jute_read_ustring(&r), pk_slice_str("digest")));
    cr_assert(pk_slice_eq(jute_read_ustring(&r), pk_slice_str("bob:HASH=")), "admin sees the id");
    cr_assert_eq(do_read(&t, NULL, 0, ZK_OP_GET_ACL, &b, &out, &rr), 0, "READ suffices");
    jute_reader_init(&r, out.data, out.len, 1 << 20);
    jute_read_int(&r);
    jute_read_int(&r);
    jute_read_ustring(&r);
    cr_assert(pk_slice_eq(jute_read_ustring(&r), pk_slice_str("bob:x")), "masked without ADMIN");
    /* setACL: anonymous lacks ADMIN; bob may; aversion checked */
    struct wire_set_acl_request sr = {pk_slice_str("/s"), {1, &zkt_open_acl, {NULL, 0}}, 0};
    pk_buf_reset(&b);
    wire_set_acl_request_encode(&b, &sr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_SET_ACL, &b, NULL), ZK_ERR_NO_AUTH);
    sr.version = 3;
    pk_buf_reset(&b);
    wire_set_acl_request_encode(&b, &sr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_SET_ACL, &b, &bob), ZK_ERR_BAD_VERSION);
    sr.path = pk_slice_str("/nonode");
    struct wire_acl bad = zkt_acl1(1, "digest", "nocolon");
    sr.acl = (struct wire_acl_vec){1, &bad, {NULL, 0}};
    pk_buf_reset(&b);
    wire_set_acl_request_encode(&b, &sr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_SET_ACL, &b, &bob), ZK_ERR_INVALID_ACL, "InvalidACL before NoNode");
    sr = (struct wire_set_acl_request){pk_slice_str("/s"), {1, &zkt_open_acl, {NULL, 0}}, 0};
    pk_buf_reset(&b);
    wire_set_acl_request_encode(&b, &sr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_SET_ACL, &b, &bob), 0);
    cr_assert_eq(t.reply.len, 68);
    cr_assert_eq(zk_events_count(t.ev), 0, "setACL fires nothing");
    struct wire_stat st;
    zkt_stat(&t, "/s", &st);
    cr_assert_eq(st.aversion, 1);
    cr_assert_eq(st.mzxid, st.czxid, "setACL leaves mzxid");
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

Test(zk_apply, acl_checks_super_ip_masks) {
    pk_buf b;
    pk_buf_init(&b);
    jute_write_int(&b, 2);
    zk_acl_write_one(&b, ZK_PERM_READ, "ip", "10.1.0.0/16");
    zk_acl_write_one(&b, ZK_PERM_WRITE, "ip", "fe80::1/64");
    zk_acl *a = zk_acl_from_blob(pk_buf_slice(&b));
    cr_assert_not_null(a);
    zk_auth_id in = {pk_slice_str("ip"), pk_slice_str("10.1.200.3")};
    zk_auth_id out = {pk_slice_str("ip"), pk_slice_str("10.2.0.1")};
    zk_auth_id v6 = {pk_slice_str("ip"), pk_slice_str("fe80::abcd")};
    zk_auth_id sup[2] = {{pk_slice_str("ip"), pk_slice_str("1.1.1.1")}, {pk_slice_str("super"), pk_slice_str("")}};
    zk_auth ain = {&in, 1}, aout = {&out, 1}, a6 = {&v6, 1}, asup = {sup, 2};
    cr_assert(zk_acl_check(a, &ain, ZK_PERM_READ));
    cr_assert(!zk_acl_check(a, &ain, ZK_PERM_WRITE));
    cr_assert(!zk_acl_check(a, &aout, ZK_PERM_READ));
    cr_assert(zk_acl_check(a, &a6, ZK_PERM_WRITE));
    cr_assert(!zk_acl_check(a, &a6, ZK_PERM_READ), "v4 mask never matches v6");
    cr_assert(zk_acl_check(a, &asup, ZK_PERM_ADMIN), "super bypass");
    cr_assert(zk_auth_is_super(&asup));
    cr_assert(!zk_auth_is_super(&ain));
    free(a->ents);
    free(a);
    cr_assert(zk_acl_ip_valid(pk_slice_str("127.0.0.1")));
    cr_assert(zk_acl_ip_valid(pk_slice_str("10.0.0.0/8")));
    cr_assert(!zk_acl_ip_valid(pk_slice_str("10.0.0.0/33")));
    cr_assert(!zk_acl_ip_valid(pk_slice_str("10.0.0")));
    cr_assert(!zk_acl_ip_valid(pk_slice_str("256.0.0.1")));
    cr_assert(!zk_acl_ip_valid(pk_slice_str("host.example")));
    cr_assert(zk_acl_ip_valid(pk_slice_str("::1")));
    cr_assert(zk_acl_ip_valid(pk_slice_str("2001:db8::/32")));
    cr_assert(zk_acl_ip_valid(pk_slice_str("::ffff:1.2.3.4")));
    cr_assert(!zk_acl_ip_valid(pk_slice_str("1:2:3:4:5:6:7:8:9")));
    cr_assert(!zk_acl_ip_valid(pk_slice_str("1::2::3")));
    cr_assert(zk_acl_ip_match(pk_slice_str("0.0.0.0/0"), pk_slice_str("8.8.8.8")));
    /* digest validity: exactly one ':' (Java split semantics) */
    zkt t;
    zkt_init(&t);
    const char *ids[] = {"a:b", "a:", ":b", "a:b:c", "a:b:", "nocolon"};
    int32_t want[] = {0, ZK_ERR_INVALID_ACL, 0, ZK_ERR_INVALID_ACL, 0, ZK_ERR_INVALID_ACL};
    for (size_t i = 0; i < 6; i++) {
        char path[16];
        snprintf(path, sizeof path, "/d%zu", i);
        struct wire_acl d = zkt_acl1(ZK_PERM_ALL, "digest", ids[i]);
        zkt_create_body(&b, path, "", 0, &d, 1);
        cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), want[i], "digest id %s", ids[i]);
    }
    struct wire_acl s = zkt_acl1(ZK_PERM_ALL, "super", "x");
    zkt_create_body(&b, "/sup", "", 0, &s, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), ZK_ERR_INVALID_ACL, "no provider named super");
    /* NoAuth read paths and watch decisions */
    struct wire_acl none = zkt_acl1(ZK_PERM_ALL, "digest", "a:b");
    zkt_create_body(&b, "/secret", "", 0, &none, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    pk_buf o;
    pk_buf_init(&o);
    zk_read_result rr;
    pk_buf_reset(&b);
    struct wire_get_data_request g = {pk_slice_str("/secret"), true};
    wire_get_data_request_encode(&b, &g);
    zk_read(t.s, &zkt_anon, 0, ZK_OP_GET_DATA, pk_buf_slice(&b), &o, &rr);
    cr_assert_eq(rr.err, ZK_ERR_NO_AUTH);
    cr_assert_eq(rr.watch, ZK_WATCH_NONE);
    cr_assert_eq(o.len, 0);
    zk_read(t.s, &zkt_anon, 0, ZK_OP_EXISTS, pk_buf_slice(&b), &o, &rr);
    cr_assert_eq(rr.err, ZK_ERR_NO_AUTH, "3.8 exists checks READ");
    g.path = pk_slice_str("/nothere");
    pk_buf_reset(&b);
    wire_get_data_request_encode(&b, &g);
    zk_read(t.s, &zkt_anon, 0, ZK_OP_EXISTS, pk_buf_slice(&b), &o, &rr);
    cr_assert_eq(rr.err, ZK_ERR_NO_NODE);
    cr_assert_eq(rr.watch, ZK_WATCH_DATA, "exists on NoNode registers");
    cr_assert(pk_slice_eq(rr.watch_path, pk_slice_str("/nothere")));
    zk_read(t.s, &zkt_anon, 0, ZK_OP_GET_CHILDREN, pk_buf_slice(&b), &o, &rr);
    cr_assert_eq(rr.err, ZK_ERR_NO_NODE);
    cr_assert_eq(rr.watch, ZK_WATCH_NONE);
    /* event readability uses the ACL at apply time */
    zkt_set(&t, 0, "/d0", "x", -1, NULL);
    cr_assert_eq(zkt_set(&t, 0, "/secret", "x", -1, NULL), ZK_ERR_NO_AUTH);
    zk_auth_id su = {pk_slice_str("super"), pk_slice_str("")};
    zk_auth asu = {&su, 1};
    cr_assert_eq(zkt_set(&t, 0, "/secret", "x", -1, &asu), 0);
    cr_assert_eq(zk_events_count(t.ev), 1);
    cr_assert(!zk_events_readable(t.ev, 0, &zkt_anon));
    cr_assert(zk_events_readable(t.ev, 0, &asu));
    cr_assert_eq(zkt_delete(&t, 0, "/secret", -1, NULL), 0);
    cr_assert(!zk_events_readable(t.ev, 0, &zkt_anon), "NodeDeleted uses the deleted node's ACL");
    cr_assert(zk_events_readable(t.ev, 1, &zkt_anon), "NodeChildrenChanged uses the parent's ACL");
    pk_buf_deinit(&o);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_apply, set_data_and_check_error_order) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_set(&t, 0, "/bad/", "x", -1, NULL), ZK_ERR_BAD_ARGUMENTS);
    cr_assert_eq(zkt_set(&t, 0, "/none", "x", -1, NULL), ZK_ERR_NO_NODE);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_acl ro = zkt_acl1(ZK_PERM_READ, "world", "anyone");
    zkt_create_body(&b, "/ro", "", 0, &ro, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/ro", "x", 9, NULL), ZK_ERR_NO_AUTH, "NoAuth before BadVersion");
    struct wire_acl wo = zkt_acl1(ZK_PERM_WRITE, "world", "anyone");
    zkt_create_body(&b, "/wo", "", 0, &wo, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/wo", "x", 9, NULL), ZK_ERR_BAD_VERSION);
    /* check inside multi needs READ */
    pk_buf_reset(&b);
    struct wire_request c;
    memset(&c, 0, sizeof c);
    c.op = ZK_OP_CHECK;
    c.u.check = (struct wire_check_version_request){pk_slice_str("/wo"), 0};
    wire_multi_op_encode(&b, &c);
    wire_multi_done_encode(&b);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_MULTI, &b, NULL), 0);
    jute_reader r;
    jute_reader_init(&r, t.reply.data, t.reply.len, 1 << 20);
    struct wire_multi_header h;
    wire_multi_header_decode(&r, &h);
    cr_assert_eq(h.type, -1);
    cr_assert_eq(h.err, ZK_ERR_NO_AUTH);
    /* standalone check and deleteContainer from clients are not writes */
    cr_assert(!zk_op_is_write(ZK_OP_CHECK));
    cr_assert(!zk_op_is_write(ZK_OP_DELETE_CONTAINER));
    cr_assert(zk_op_is_read(ZK_OP_GET_ALL_CHILDREN_NUMBER));
    pk_buf txn;
    pk_buf_init(&txn);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CHECK, &b, NULL, &txn), ZK_ERR_UNIMPLEMENTED);
    cr_assert_eq(txn.len, 0);
    /* undecodable body: MarshallingError, nothing appended */
    pk_buf_reset(&b);
    jute_write_int(&b, 100);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &txn), ZK_ERR_MARSHALLING);
    cr_assert_eq(txn.len, 0);
    t.zxid--;
    /* reconfig: error txn ReconfigDisabled */
    pk_buf_reset(&b);
    struct wire_reconfig_request rc = {jute_null(), jute_null(), jute_null(), -1};
    wire_reconfig_request_encode(&b, &rc);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_RECONFIG, &b, NULL), ZK_ERR_RECONFIG_DISABLED);
    /* corrupt txn types */
    b.len = 2;
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_DELETE, &b, NULL, &txn), ZK_ERR_MARSHALLING);
    t.zxid--;
    zk_txn_header hh = {++t.zxid, 0, 0, ZK_OP_CREATE, 99};
    pk_buf_reset(&txn);
    zk_txn_header_encode(&txn, &hh);
    zk_apply_result res;
    cr_assert_eq(zk_apply(t.s, pk_buf_slice(&txn), &res, &t.reply, t.ev), PK_ECORRUPT);
    pk_buf_deinit(&txn);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_apply, get_ephemerals_prefix_is_string_prefix) {
    zkt t;
    zkt_init(&t);
    uint64_t sid = 0x0500000000000001ull, other = 0x0500000000000002ull;
    zkt_session(&t, sid);
    zkt_session(&t, other);
    zkt_create(&t, 0, ZK_OP_CREATE, "/a", "", 0);
    zkt_create(&t, sid, ZK_OP_CREATE, "/ab", "", ZK_CREATE_EPHEMERAL);
    zkt_create(&t, sid, ZK_OP_CREATE, "/a/x", "", ZK_CREATE_EPHEMERAL);
    zkt_create(&t, sid, ZK_OP_CREATE, "/c", "", ZK_CREATE_EPHEMERAL);
    zkt_create(&t, other, ZK_OP_CREATE, "/a/o", "", ZK_CREATE_EPHEMERAL);
    const char *prefixes[] = {"/a", "/", "", "  ", "/c", "/zz"};
    uint32_t want[] = {2, 3, 3, 3, 1, 0};
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    for (size_t i = 0; i < PK_ARRAY_LEN(prefixes); i++) {
        pk_buf_reset(&b);
        jute_write_cstring(&b, prefixes[i]);
        pk_buf_reset(&out);
        zk_read_result rr;
        zk_read(t.s, &zkt_anon, sid, ZK_OP_GET_EPHEMERALS, pk_buf_slice(&b), &out, &rr);
        cr_assert_eq(rr.err, 0);
        cr_assert_eq(pk_get_u32(out.data), want[i], "prefix '%s'", prefixes[i]);
    }
    /* getAllChildrenNumber counts all descendants */
    pk_buf_reset(&b);
    jute_write_cstring(&b, "/");
    zk_read_result rr;
    pk_buf_reset(&out);
    zk_read(t.s, &zkt_anon, 0, ZK_OP_GET_ALL_CHILDREN_NUMBER, pk_buf_slice(&b), &out, &rr);
    cr_assert_eq(pk_get_u32(out.data), 3 + 5);
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}
