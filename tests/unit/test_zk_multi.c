/* Unit tests for src/zk: multi layouts, pipelined prep against the overlay, snapshots, reaping, random ops. */
#include "test_zk_fixture.h"
#include "zk/zk_int.h"

/* Appends one multi op (header + record) for the given request. */
static void multi_op(pk_buf *b, const struct wire_request *r) { wire_multi_op_encode(b, r); }

/* A create op for a multi. */
static struct wire_request mk_create(int32_t op, const char *path, int32_t flags) {
    struct wire_request r;
    memset(&r, 0, sizeof r);
    r.op = op;
    r.u.create = (struct wire_create_request){pk_slice_str(path), pk_slice_str("d"), {1, &zkt_open_acl, {NULL, 0}}, flags};
    return r;
}

/* A delete op for a multi. */
static struct wire_request mk_delete(const char *path, int32_t version) {
    struct wire_request r;
    memset(&r, 0, sizeof r);
    r.op = ZK_OP_DELETE;
    r.u.del = (struct wire_delete_request){pk_slice_str(path), version};
    return r;
}

/* A check op for a multi. */
static struct wire_request mk_check(const char *path, int32_t version) {
    struct wire_request r;
    memset(&r, 0, sizeof r);
    r.op = ZK_OP_CHECK;
    r.u.check = (struct wire_check_version_request){pk_slice_str(path), version};
    return r;
}

/* A setData op for a multi. */
static struct wire_request mk_set(const char *path, int32_t version) {
    struct wire_request r;
    memset(&r, 0, sizeof r);
    r.op = ZK_OP_SET_DATA;
    r.u.set_data = (struct wire_set_data_request){pk_slice_str(path), pk_slice_str("nd"), version};
    return r;
}

Test(zk_multi, success_layout_and_events) {
    zkt t;
    zkt_init(&t);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_request ops[] = {mk_create(ZK_OP_CREATE, "/m", 0), mk_create(ZK_OP_CREATE2, "/m/s-", 2),
                                 mk_set("/m", 0), mk_check("/m", 1), mk_delete("/m/s-0000000000", -1),
                                 mk_create(ZK_OP_CREATE, "/m/s-", 2)};
    for (size_t i = 0; i < PK_ARRAY_LEN(ops); i++) multi_op(&b, &ops[i]);
    wire_multi_done_encode(&b);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_MULTI, &b, NULL), 0);
    pk_buf want;
    pk_buf_init(&want);
    struct wire_stat st;
    wire_multi_result_header_encode(&want, ZK_OP_CREATE);
    jute_write_cstring(&want, "/m");
    wire_multi_result_header_encode(&want, ZK_OP_CREATE2);
    jute_write_cstring(&want, "/m/s-0000000000");
    /* the stat the create2 had at that moment: czxid=mzxid=pzxid=zxid, version 0 */
    st = (struct wire_stat){(int64_t)t.zxid, (int64_t)t.zxid, t.now_ms, t.now_ms, 0, 0, 0, 0, 1, 0, (int64_t)t.zxid};
    wire_stat_encode(&want, &st);
    wire_multi_result_header_encode(&want, ZK_OP_SET_DATA);
    /* /m after setData: version 1, 1 child (cversion 2*1-1 = 1) */
    st = (struct wire_stat){(int64_t)t.zxid, (int64_t)t.zxid, t.now_ms, t.now_ms, 1, 1, 0, 0, 2, 1, (int64_t)t.zxid};
    wire_stat_encode(&want, &st);
    wire_multi_result_header_encode(&want, ZK_OP_CHECK);
    wire_multi_result_header_encode(&want, ZK_OP_DELETE);
    wire_multi_result_header_encode(&want, ZK_OP_CREATE);
    jute_write_cstring(&want, "/m/s-0000000001");
    wire_multi_done_encode(&want);
    cr_assert_eq(t.reply.len, want.len, "len %zu want %zu", t.reply.len, want.len);
    cr_assert_eq(memcmp(t.reply.data, want.data, want.len), 0, "multi success bytes");
    cr_assert_eq(t.res.err, 0);
    /* events in op order: created /m, cc /, created s-0, cc /m, data /m, deleted s-0, cc /m, created s-1, cc /m */
    cr_assert_eq(zk_events_count(t.ev), 9);
    int32_t ty;
    pk_slice p;
    zk_events_get(t.ev, 4, &ty, &p);
    cr_assert_eq(ty, ZK_EVENT_NODE_DATA_CHANGED);
    zk_events_get(t.ev, 5, &ty, &p);
    cr_assert_eq(ty, ZK_EVENT_NODE_DELETED);
    cr_assert(pk_slice_eq(p, pk_slice_str("/m/s-0000000000")));
    cr_assert_eq(zkt_stat(&t, "/m/s-0000000001", &st), 0);
    pk_buf_deinit(&want);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_multi, failure_layout_bytes_and_rollback) {
    zkt t;
    zkt_init(&t);
    zkt_create(&t, 0, ZK_OP_CREATE, "/f", "", 0);
    uint64_t digest = zk_state_digest(t.s);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_request ops[] = {mk_create(ZK_OP_CREATE, "/f/a", 0), mk_check("/f", 0), mk_check("/f", 7),
                                 mk_delete("/f", -1)};
    for (size_t i = 0; i < PK_ARRAY_LEN(ops); i++) multi_op(&b, &ops[i]);
    wire_multi_done_encode(&b);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_MULTI, &b, NULL), 0, "header err 0 on failed multi");
    pk_buf want;
    pk_buf_init(&want);
    int32_t codes[] = {0, 0, ZK_ERR_BAD_VERSION, ZK_ERR_RUNTIME_INCONSISTENCY};
    for (size_t i = 0; i < 4; i++) wire_multi_error_result_encode(&want, codes[i]);
    wire_multi_done_encode(&want);
    cr_assert_eq(t.reply.len, want.len);
    cr_assert_eq(memcmp(t.reply.data, want.data, want.len), 0, "failure layout bytes");
    static const uint8_t first[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(memcmp(t.reply.data, first, sizeof first), 0, "{-1,false,0} + ErrorResponse{0}");
    cr_assert_eq(zk_events_count(t.ev), 0);
    cr_assert_eq(zk_state_digest(t.s), digest, "nothing applied");
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/f/a", &st), ZK_ERR_NO_NODE);
    /* the overlay forgot the failed multi's effects: /f/a can be created now, sequence unchanged */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/f/a", "", 0), 0);
    cr_assert_eq(zkt_stat(&t, "/f", &st), 0);
    cr_assert_eq(st.cversion, 1);
    /* malformed multi (read op inside) is rejected before any txn */
    pk_buf_reset(&b);
    struct wire_request rd;
    memset(&rd, 0, sizeof rd);
    rd.op = ZK_OP_GET_DATA;
    rd.u.get_data = (struct wire_get_data_request){pk_slice_str("/f"), false};
    multi_op(&b, &rd);
    wire_multi_done_encode(&b);
    pk_buf txn;
    pk_buf_init(&txn);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_MULTI, &b, NULL, &txn), ZK_ERR_MARSHALLING);
    cr_assert_eq(txn.len, 0);
    t.zxid--;
    pk_buf_deinit(&txn);
    pk_buf_deinit(&want);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_multi, multi_read) {
    zkt t;
    zkt_init(&t);
    zkt_create(&t, 0, ZK_OP_CREATE, "/r", "xy", 0);
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    struct wire_request g;
    memset(&g, 0, sizeof g);
    g.op = ZK_OP_GET_DATA;
    g.u.get_data = (struct wire_get_data_request){pk_slice_str("/r"), true};
    multi_op(&b, &g);
    g.u.get_data.path = pk_slice_str("/none");
    multi_op(&b, &g);
    g.op = ZK_OP_GET_CHILDREN;
    g.u.get_children = (struct wire_get_children_request){pk_slice_str("/r"), true};
    multi_op(&b, &g);
    wire_multi_done_encode(&b);
    zk_read_result rr;
    zk_read(t.s, &zkt_anon, 0, ZK_OP_MULTI_READ, pk_buf_slice(&b), &out, &rr);
    cr_assert_eq(rr.err, 0);
    cr_assert_eq(rr.watch, ZK_WATCH_NONE);
    jute_reader r;
    jute_reader_init(&r, out.data, out.len, 1 << 20);
    struct wire_multi_header h;
    wire_multi_header_decode(&r, &h);
    cr_assert_eq(h.type, ZK_OP_GET_DATA);
    cr_assert(pk_slice_eq(jute_read_buffer(&r), pk_slice_str("xy")));
    struct wire_stat st;
    wire_stat_decode(&r, &st);
    wire_multi_header_decode(&r, &h);
    cr_assert_eq(h.type, -1);
    cr_assert_eq(h.err, ZK_ERR_NO_NODE);
    cr_assert_eq(jute_read_int(&r), ZK_ERR_NO_NODE);
    wire_multi_header_decode(&r, &h);
    cr_assert_eq(h.type, ZK_OP_GET_CHILDREN);
    cr_assert_eq(jute_read_int(&r), 0);
    wire_multi_header_decode(&r, &h);
    cr_assert(h.done);
    cr_assert(jute_reader_done(&r));
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

Test(zk_multi, pipelined_prep_against_overlay) {
    zkt t;
    zkt_init(&t);
    pk_buf b, t1, t2, t3, t4;
    pk_buf_init(&b);
    pk_buf_init(&t1);
    pk_buf_init(&t2);
    pk_buf_init(&t3);
    pk_buf_init(&t4);
    zkt_create_body(&b, "/x", "", 0, NULL, 1);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &t1), 0);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &t2), 0);
    zkt_create_body(&b, "/x/n-", "", ZK_CREATE_PERSISTENT_SEQUENTIAL, NULL, 1);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &t3), 0, "parent pending in overlay");
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &t4), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t1)), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t2)), ZK_ERR_NODE_EXISTS, "second pipelined create");
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t3)), 0);
    cr_assert_eq(memcmp(t.reply.data + 4, "/x/n-0000000000", 15), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t4)), 0);
    cr_assert_eq(memcmp(t.reply.data + 4, "/x/n-0000000001", 15), 0, "counter across pipelined creates");
    /* pipelined setData versions and delete-then-create */
    struct wire_set_data_request sd = {pk_slice_str("/x"), pk_slice_str("1"), 0};
    pk_buf_reset(&b);
    wire_set_data_request_encode(&b, &sd);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_SET_DATA, &b, NULL, &t1), 0);
    sd.version = 1;
    pk_buf_reset(&b);
    wire_set_data_request_encode(&b, &sd);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_SET_DATA, &b, NULL, &t2), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t1)), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t2)), 0, "second setData saw version 1 in the overlay");
    /* closeSession pending: its ephemeral is gone for later creates */
    uint64_t sid = 0x0200000000000001ull;
    zkt_session(&t, sid);
    cr_assert_eq(zkt_create(&t, sid, ZK_OP_CREATE, "/eph", "", ZK_CREATE_EPHEMERAL), 0);
    pk_buf_reset(&t1);
    cr_assert_eq(zk_prep_close_session(t.p, t.s, sid, ++t.zxid, t.now_ms, &t1), 0);
    zkt_create_body(&b, "/eph", "", 0, NULL, 1);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &t2), 0);
    zkt_create_body(&b, "/e2", "", ZK_CREATE_EPHEMERAL, NULL, 1);
    cr_assert_eq(zkt_prep(&t, sid, ZK_OP_CREATE, &b, NULL, &t3), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t1)), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t2)), 0, "create after pending close");
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&t3)), ZK_ERR_SESSION_EXPIRED);
    /* a reset overlay + stale prep still applies deterministically (apply re-checks structure) */
    zk_prep_reset(t.p);
    pk_buf_deinit(&b);
    pk_buf_deinit(&t1);
    pk_buf_deinit(&t2);
    pk_buf_deinit(&t3);
    pk_buf_deinit(&t4);
    zkt_deinit(&t);
}

Test(zk_multi, apply_rejects_corrupt_and_old_zxid) {
    zkt t;
    zkt_init(&t);
    pk_buf b, txn;
    pk_buf_init(&b);
    pk_buf_init(&txn);
    zkt_create_body(&b, "/c", "", 0, NULL, 1);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_CREATE, &b, NULL, &txn), 0);
    zk_apply_result res;
    pk_buf reply;
    pk_buf_init(&reply);
    for (size_t cut = 0; cut < txn.len; cut++) {
        cr_assert_eq(zk_apply(t.s, (pk_slice){txn.data, cut}, &res, &reply, t.ev), PK_ECORRUPT, "cut %zu", cut);
    }
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&txn)), 0);
    cr_assert_eq(zk_apply(t.s, pk_buf_slice(&txn), &res, &reply, t.ev), PK_ECORRUPT, "same zxid again");
    cr_assert_eq(zk_state_last_zxid(t.s), t.zxid);
    pk_buf_deinit(&reply);
    pk_buf_deinit(&b);
    pk_buf_deinit(&txn);
    zkt_deinit(&t);
}

Test(zk_multi, reap_candidates_and_delete_container) {
    zkt t;
    zkt_init(&t);
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE_CONTAINER, "/box", "", ZK_CREATE_CONTAINER), 0);
    cr_assert_eq(t.reply.len, 4 + 4 + 68, "createContainer answers create2");
    struct wire_stat st;
    zkt_stat(&t, "/box", &st);
    cr_assert_eq(st.ephemeral_owner, 0, "clients see 0 for containers");
    pk_buf out;
    pk_buf_init(&out);
    cr_assert_eq(zk_reap_candidates(t.s, 1 << 30, 10, &out), 0, "never-used container stays");
    zkt_create(&t, 0, ZK_OP_CREATE, "/box/k", "", 0);
    zkt_delete(&t, 0, "/box/k", -1, NULL);
    pk_buf b;
    pk_buf_init(&b);
    struct wire_create_ttl_request tr = {pk_slice_str("/ttl"), jute_null(), {1, &zkt_open_acl, {NULL, 0}},
                                         ZK_CREATE_PERSISTENT_WITH_TTL, 500};
    wire_create_ttl_request_encode(&b, &tr);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE_TTL, &b, NULL), 0);
    zkt_stat(&t, "/ttl", &st);
    cr_assert_eq(st.ephemeral_owner, 0);
    pk_buf_reset(&out);
    cr_assert_eq(zk_reap_candidates(t.s, t.now_ms + 500, 10, &out), 1, "only the used container");
    cr_assert_str_eq((const char *)out.data, "/box");
    pk_buf_reset(&out);
    cr_assert_eq(zk_reap_candidates(t.s, t.now_ms + 501, 10, &out), 2);
    pk_buf txn;
    pk_buf_init(&txn);
    cr_assert_eq(zk_prep_delete_container(t.p, t.s, pk_slice_str("/box"), ++t.zxid, t.now_ms, &txn), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&txn)), 0);
    cr_assert_eq(t.res.op, ZK_OP_DELETE_CONTAINER);
    cr_assert_eq(zkt_stat(&t, "/box", &st), ZK_ERR_NO_NODE);
    pk_buf_reset(&txn);
    cr_assert_eq(zk_prep_delete_container(t.p, t.s, pk_slice_str("/zookeeper"), ++t.zxid, t.now_ms, &txn), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&txn)), ZK_ERR_BAD_ARGUMENTS);
    zkt_create(&t, 0, ZK_OP_CREATE, "/plain", "", 0);
    pk_buf_reset(&txn);
    cr_assert_eq(zk_prep_delete_container(t.p, t.s, pk_slice_str("/plain"), ++t.zxid, t.now_ms, &txn), 0);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&txn)), ZK_ERR_BAD_VERSION, "a normal node is not reaped");
    pk_buf_deinit(&txn);
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

/* Serializes s, deserializes, and checks digest and a re-serialization byte equality. */
static zk_state *round_trip(const zk_state *s) {
    pk_buf a, b2;
    pk_buf_init(&a);
    pk_buf_init(&b2);
    zk_state_serialize(s, &a);
    zk_state *r = NULL;
    char err[128];
    cr_assert_eq(zk_state_deserialize(pk_buf_slice(&a), &r, err, sizeof err), PK_OK, "%s", err);
    cr_assert_eq(zk_state_digest(r), zk_state_digest(s));
    cr_assert_eq(zk_state_digest_full(r), zk_state_digest(s));
    cr_assert_eq(zk_state_last_zxid(r), zk_state_last_zxid(s));
    zk_stats x, y;
    zk_state_stats(s, &x);
    zk_state_stats(r, &y);
    cr_assert_eq(memcmp(&x, &y, sizeof x), 0);
    /* A wrong stored digest (CRC trailer fixed up, so only the digest check can see it): rejected. */
    a.data[16] ^= 0x01;
    pk_put_u32(a.data + a.len - 4, pk_crc32c(0, a.data, a.len - 4));
    zk_state *tampered = NULL;
    cr_assert_eq(zk_state_deserialize(pk_buf_slice(&a), &tampered, err, sizeof err), PK_ECORRUPT);
    cr_assert(strstr(err, "digest") != NULL, "%s", err);
    cr_assert_null(tampered);
    a.data[16] ^= 0x01;
    /* A changed byte in the last node record's stat (CRC fixed up): the loaded state's digest differs. */
    a.data[a.len - 4 - 12] ^= 0x01; /* inside the last node's int fields, before its acl index */
    pk_put_u32(a.data + a.len - 4, pk_crc32c(0, a.data, a.len - 4));
    cr_assert_eq(zk_state_deserialize(pk_buf_slice(&a), &tampered, err, sizeof err), PK_ECORRUPT);
    cr_assert_null(tampered);
    a.data[a.len - 4 - 12] ^= 0x01;
    pk_put_u32(a.data + a.len - 4, pk_crc32c(0, a.data, a.len - 4));
    /* corrupt one byte: rejected */
    a.data[a.len / 2] ^= 0x40;
    zk_state *bad = NULL;
    cr_assert_eq(zk_state_deserialize(pk_buf_slice(&a), &bad, err, sizeof err), PK_ECORRUPT);
    cr_assert_null(bad);
    cr_assert_eq(zk_state_deserialize((pk_slice){a.data, a.len - 1}, &bad, err, sizeof err), PK_ECORRUPT);
    pk_buf_deinit(&a);
    pk_buf_deinit(&b2);
    return r;
}

/* Applies one random write op through prep. */
static void random_op(zkt *t, pk_prng *rng, const uint64_t *sids, size_t nsids) {
    static const char *const names[] = {"/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/q", "/c", "/b/z/w"};
    const char *path = names[pk_prng_below(rng, PK_ARRAY_LEN(names))];
    uint64_t sid = sids[pk_prng_below(rng, nsids)];
    switch (pk_prng_below(rng, 7)) {
    case 0: zkt_create(t, sid, ZK_OP_CREATE, path, "v", (int32_t)pk_prng_below(rng, 4)); break;
    case 1: zkt_create(t, sid, ZK_OP_CREATE2, path, NULL, 0); break;
    case 2: zkt_delete(t, sid, path, -1, NULL); break;
    case 3: zkt_set(t, sid, path, pk_prng_chance(rng, 1, 2) ? "data" : NULL, -1, NULL); break;
    case 4: {
        pk_buf b;
        pk_buf_init(&b);
        struct wire_request ops[3] = {mk_create(ZK_OP_CREATE, path, 2), mk_set(path, -1),
                                      mk_delete(names[pk_prng_below(rng, PK_ARRAY_LEN(names))], -1)};
        for (int i = 0; i < 3; i++) multi_op(&b, &ops[i]);
        wire_multi_done_encode(&b);
        zkt_write(t, sid, ZK_OP_MULTI, &b, NULL);
        pk_buf_deinit(&b);
        break;
    }
    case 5: {
        pk_buf b;
        pk_buf_init(&b);
        struct wire_acl acl = zkt_acl1((int32_t)pk_prng_below(rng, 32) | ZK_PERM_ADMIN, "world", "anyone");
        struct wire_set_acl_request sr = {pk_slice_str(path), {1, &acl, {NULL, 0}}, -1};
        wire_set_acl_request_encode(&b, &sr);
        zkt_write(t, sid, ZK_OP_SET_ACL, &b, NULL);
        pk_buf_deinit(&b);
        break;
    }
    default:
        if (pk_prng_chance(rng, 1, 4)) {
            zkt_close(t, sid);
            zkt_session(t, sid);
        }
        break;
    }
}

Test(zk_multi, random_ops_digest_and_snapshot) {
    zkt t;
    zkt_init(&t);
    uint64_t sids[3] = {0x0300000000000001ull, 0x0300000000000002ull, 0x0300000000000003ull};
    for (int i = 0; i < 3; i++) zkt_session(&t, sids[i]);
    pk_prng rng;
    pk_prng_seed(&rng, 42);
    for (int i = 0; i < 3000; i++) {
        random_op(&t, &rng, sids, 3);  /* zkt_apply checks digest == full digest after each */
        if (i % 500 == 499) {
            zk_state *r = round_trip(t.s);
            zk_state_free(r);
        }
    }
    /* two replicas applying the same txns agree */
    zk_state *r = round_trip(t.s);
    cr_assert_eq(zk_state_digest(r), zk_state_digest_full(t.s));
    zk_state_free(r);
    zkt_deinit(&t);
}

Test(zk_multi, snapshot_fresh_and_events_outlive_state) {
    zk_state *s = zk_state_new();
    zk_state *r = round_trip(s);
    zk_stats st;
    zk_state_stats(r, &st);
    cr_assert_eq(st.node_count, 5);
    zk_state_free(r);
    zk_state_free(s);
    /* events keep their ACL after the node and even the state are gone */
    zkt t;
    zkt_init(&t);
    struct wire_acl own = zkt_acl1(ZK_PERM_ALL, "digest", "u:p");
    pk_buf b;
    pk_buf_init(&b);
    zkt_create_body(&b, "/z", "", 0, &own, 1);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, NULL), 0);
    zk_auth_id su = {pk_slice_str("super"), pk_slice_str("")};
    zk_auth asu = {&su, 1};
    cr_assert_eq(zkt_delete(&t, 0, "/z", -1, &asu), 0);
    zk_events *keep = t.ev;
    t.ev = zk_events_new();
    zk_state_free(t.s);
    t.s = zk_state_new();
    cr_assert(!zk_events_readable(keep, 0, &zkt_anon));
    zk_auth_id u = {pk_slice_str("digest"), pk_slice_str("u:p")};
    zk_auth au = {&u, 1};
    cr_assert(zk_events_readable(keep, 0, &au));
    zk_events_free(keep);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_multi, path_validation_table) {
    const char *ok[] = {"/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/.a", "/\xc3\xa9", "/a b"};
    const char *bad[] = {"", "a", "/a/", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/\x7f", "/\xc2\x80",
                         "/\xef\xbf\xbd", "/\xee\x80\x80", "/\xff", "/\xc0\xaf", "/\xed\xa0\x80"};
    for (size_t i = 0; i < PK_ARRAY_LEN(ok); i++) cr_assert(zk_path_valid(pk_slice_str(ok[i])), "%s", ok[i]);
    for (size_t i = 0; i < PK_ARRAY_LEN(bad); i++) cr_assert(!zk_path_valid(pk_slice_str(bad[i])), "bad %zu", i);
    cr_assert(!zk_path_valid((pk_slice){(const uint8_t *)"/a\0b", 4}));
}

Test(zk_multi, set_data_moves_node_safely) {
    zkt t;
    zkt_init(&t);
    uint64_t sid = 0x0400000000000001ull;
    zkt_session(&t, sid);
    zkt_create(&t, 0, ZK_OP_CREATE, "/p", "", 0);
    cr_assert_eq(zkt_create(&t, sid, ZK_OP_CREATE, "/p/e", "s", ZK_CREATE_EPHEMERAL), 0);
    zkt_create(&t, 0, ZK_OP_CREATE, "/p/k", "s", 0);
    zkt_create(&t, 0, ZK_OP_CREATE, "/p/k/g", "s", 0);
    char big[3000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(zkt_set(&t, 0, "/p/e", big, -1, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/p/k", big, -1, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/", big, -1, NULL), 0);
    cr_assert_eq(zkt_set(&t, 0, "/p/k", NULL, -1, NULL), 0);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/p/k", &st), 0);
    cr_assert_eq(st.num_children, 1);
    cr_assert_eq(st.version, 2);
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    struct wire_get_children_request g = {pk_slice_str("/p"), false};
    wire_get_children_request_encode(&b, &g);
    zk_read_result rr;
    zk_read(t.s, &zkt_anon, 0, ZK_OP_GET_CHILDREN, pk_buf_slice(&b), &out, &rr);
    cr_assert_eq(rr.err, 0);
    cr_assert_eq(pk_get_u32(out.data), 2);
    zk_state *r = round_trip(t.s);
    zk_state_free(r);
    zkt_close(&t, sid);
    cr_assert_eq(zkt_stat(&t, "/p/e", &st), ZK_ERR_NO_NODE);
    cr_assert_eq(zkt_delete(&t, 0, "/p/k/g", -1, NULL), 0);
    cr_assert_eq(zkt_delete(&t, 0, "/p/k", -1, NULL), 0);
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    zkt_deinit(&t);
}

Test(zk_multi, mutated_txns_never_crash_apply) {
    zkt t;
    zkt_init(&t);
    uint64_t sid = 0x0600000000000001ull;
    zkt_session(&t, sid);
    pk_prng rng;
    pk_prng_seed(&rng, 7);
    pk_buf b, txn;
    pk_buf_init(&b);
    pk_buf_init(&txn);
    static const char *const paths[] = {"/a", "/a/b", "/c", "/a/b/c"};
    size_t applied_ok = 0, corrupt = 0;
    for (int i = 0; i < 4000; i++) {
        const char *path = paths[pk_prng_below(&rng, 4)];
        int kind = (int)pk_prng_below(&rng, 4);
        int32_t op = ZK_OP_CREATE;
        if (kind == 0 || kind == 1) {
            zkt_create_body(&b, path, "data", (int32_t)pk_prng_below(&rng, 4), NULL, 1);
            op = kind == 0 ? ZK_OP_CREATE : ZK_OP_CREATE2;
        } else if (kind == 2) {
            pk_buf_reset(&b);
            struct wire_set_data_request r = {pk_slice_str(path), pk_slice_str("xyz"), -1};
            wire_set_data_request_encode(&b, &r);
            op = ZK_OP_SET_DATA;
        } else {
            pk_buf_reset(&b);
            struct wire_delete_request r = {pk_slice_str(path), -1};
            wire_delete_request_encode(&b, &r);
            op = ZK_OP_DELETE;
        }
        cr_assert_eq(zkt_prep(&t, sid, op, &b, NULL, &txn), 0);
        /* mutate 1-3 bytes after the header (keep zxid valid) */
        int flips = 1 + (int)pk_prng_below(&rng, 3);
        for (int f = 0; f < flips && txn.len > ZK_TXN_HEADER_LEN; f++) {
            size_t at = ZK_TXN_HEADER_LEN - 1 + pk_prng_below(&rng, txn.len - ZK_TXN_HEADER_LEN + 1);
            txn.data[at] ^= (uint8_t)(1u << pk_prng_below(&rng, 8));
        }
        if (pk_prng_chance(&rng, 1, 8)) txn.len = pk_prng_below(&rng, txn.len + 1);
        pk_buf_reset(&t.reply);
        zk_events_clear(t.ev);
        int rc = zk_apply(t.s, pk_buf_slice(&txn), &t.res, &t.reply, t.ev);
        cr_assert(rc == PK_OK || rc == PK_ECORRUPT, "rc %d", rc);
        if (rc == PK_OK) applied_ok++;
        else corrupt++;
        zk_prep_reset(t.p);  /* the overlay no longer describes what was applied */
        cr_assert_eq(zk_state_digest(t.s), zk_state_digest_full(t.s));
    }
    cr_assert_gt(applied_ok, 100);
    cr_assert_gt(corrupt, 100);
    zk_state *r = round_trip(t.s);
    zk_state_free(r);
    pk_buf_deinit(&b);
    pk_buf_deinit(&txn);
    zkt_deinit(&t);
}

/* Counts sessions seen by zk_session_each. */
static void count_session(void *ctx, uint64_t sid, int32_t timeout_ms) {
    (void)sid;
    cr_assert_eq(timeout_ms, 30000);
    (*(int *)ctx)++;
}

Test(zk_multi, batches_sessions_and_digest_sensitivity) {
    pk_buf batch;
    pk_buf_init(&batch);
    zk_batch_append(&batch, pk_slice_str("one"));
    zk_batch_append(&batch, pk_slice_str(""));
    zk_batch_append(&batch, pk_slice_str("three"));
    size_t off = 0;
    pk_slice txn;
    cr_assert(zk_batch_next(pk_buf_slice(&batch), &off, &txn));
    cr_assert(pk_slice_eq(txn, pk_slice_str("one")));
    cr_assert(zk_batch_next(pk_buf_slice(&batch), &off, &txn));
    cr_assert_eq(txn.len, 0);
    cr_assert(zk_batch_next(pk_buf_slice(&batch), &off, &txn));
    cr_assert(pk_slice_eq(txn, pk_slice_str("three")));
    cr_assert(!zk_batch_next(pk_buf_slice(&batch), &off, &txn));
    off = 0;
    cr_assert(!zk_batch_next((pk_slice){batch.data, 5}, &off, &txn), "truncated batch");
    pk_buf_deinit(&batch);

    zkt a, b;
    zkt_init(&a);
    zkt_init(&b);
    cr_assert_eq(zk_state_digest(a.s), zk_state_digest(b.s));
    zkt_session(&a, 0x0700000000000001ull);
    zkt_session(&a, 0x0700000000000002ull);
    int n = 0;
    zk_session_each(a.s, count_session, &n);
    cr_assert_eq(n, 2);
    zkt_session(&b, 0x0700000000000001ull);
    zkt_session(&b, 0x0700000000000002ull);
    cr_assert_eq(zk_state_digest(a.s), zk_state_digest(b.s), "same history, same digest");
    zkt_create(&a, 0, ZK_OP_CREATE, "/d", "x", 0);
    zkt_create(&b, 0, ZK_OP_CREATE, "/d", "y", 0);
    cr_assert_neq(zk_state_digest(a.s), zk_state_digest(b.s), "data is in the digest");
    zkt_set(&b, 0, "/d", "x", -1, NULL);
    cr_assert_neq(zk_state_digest(a.s), zk_state_digest(b.s), "version is in the digest");
    zkt_deinit(&a);
    zkt_deinit(&b);
}

/* A session authenticated with 16 digest ids of ~1 KiB and an ACL of `count` distinct "auth" entries: each entry
 * expands to the 16 ids, so the ACL grows ~16.7 KB per entry when fixed up. */
typedef struct big_auth {
    char idbuf[16][1024];
    zk_auth_id ids[16];
    zk_auth auth;
    char names[80][16];
    struct wire_acl acl[80];
} big_auth;

/* Fills b (static storage: ~20 KB) with the ids and count <= 80 ACL entries. */
static void big_auth_init(big_auth *b, int count) {
    cr_assert_leq(count, 80);
    for (int i = 0; i < 16; i++) {
        memset(b->idbuf[i], 'a' + i, sizeof b->idbuf[i] - 1);
        b->idbuf[i][sizeof b->idbuf[i] - 1] = '\0';
        b->ids[i] = (zk_auth_id){pk_slice_str("digest"), pk_slice_str(b->idbuf[i])};
    }
    b->auth = (zk_auth){b->ids, 16};
    for (int i = 0; i < count; i++) {
        snprintf(b->names[i], sizeof b->names[i], "x%d", i);
        b->acl[i] = zkt_acl1(ZK_PERM_ALL, "auth", b->names[i]);
    }
}

Test(zk_multi, auth_acl_expansion_is_bounded) {
    /* 80 distinct "auth" entries would expand to ~1.3 MB of ACL: InvalidACL, no txn growth */
    zkt t;
    zkt_init(&t);
    static big_auth ba;
    big_auth_init(&ba, 80);
    pk_buf b;
    pk_buf_init(&b);
    zkt_create_body(&b, "/big-acl", "", 0, ba.acl, 80);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, &ba.auth), ZK_ERR_INVALID_ACL);
    struct wire_stat st;
    cr_assert_eq(zkt_stat(&t, "/big-acl", &st), ZK_ERR_NO_NODE);
    /* 40 entries (~0.66 MB expanded) are fine */
    zkt_create_body(&b, "/big-acl", "", 0, ba.acl, 40);
    cr_assert_eq(zkt_write(&t, 0, ZK_OP_CREATE, &b, &ba.auth), ZK_ERR_OK);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}

Test(zk_multi, oversized_multi_fails_whole) {
    /* 16 creates, each with ~0.66 MB of expanded ACL: ~10.7 MB of txn > ZK_TXN_MAX_BYTES, so the multi fails at
     * its first op (BadArguments), the rest RuntimeInconsistency, and nothing changes */
    zkt t;
    zkt_init(&t);
    static big_auth ba;
    big_auth_init(&ba, 40);
    enum { N = 16 };
    char paths[N][16];
    pk_buf b;
    pk_buf_init(&b);
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "/om%d", i);
        struct wire_request r;
        memset(&r, 0, sizeof r);
        r.op = ZK_OP_CREATE;
        r.u.create = (struct wire_create_request){pk_slice_str(paths[i]), pk_slice_str("d"), {40, ba.acl, {NULL, 0}}, 0};
        multi_op(&b, &r);
    }
    wire_multi_done_encode(&b);
    uint64_t digest = zk_state_digest(t.s);
    pk_buf txn;
    pk_buf_init(&txn);
    cr_assert_eq(zkt_prep(&t, 0, ZK_OP_MULTI, &b, &ba.auth, &txn), ZK_ERR_OK);
    cr_assert_leq(txn.len, (size_t)ZK_TXN_MAX_BYTES);
    cr_assert_lt(txn.len, 4096u, "an all-error multi is small (%zu bytes)", txn.len);
    cr_assert_eq(zkt_apply(&t, pk_buf_slice(&txn)), 0);
    pk_buf want;
    pk_buf_init(&want);
    for (int i = 0; i < N; i++) wire_multi_error_result_encode(&want, i == 0 ? ZK_ERR_BAD_ARGUMENTS : ZK_ERR_RUNTIME_INCONSISTENCY);
    wire_multi_done_encode(&want);
    cr_assert_eq(t.reply.len, want.len);
    cr_assert_eq(memcmp(t.reply.data, want.data, want.len), 0);
    cr_assert_eq(zk_state_digest(t.s), digest, "nothing applied");
    /* the overlay kept nothing: each path can be created now */
    cr_assert_eq(zkt_create(&t, 0, ZK_OP_CREATE, "/om0", "", 0), 0);
    pk_buf_deinit(&want);
    pk_buf_deinit(&txn);
    pk_buf_deinit(&b);
    zkt_deinit(&t);
}
