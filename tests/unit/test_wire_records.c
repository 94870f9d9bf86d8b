/* Unit tests for src/wire/records: golden bytes from the spec, round trips of every record, truncation at
 * every offset, hostile lengths and counts, vector iteration, request dispatch and multi. */
#include <criterion/criterion.h>

#include "wire/records.h"

/* Big-endian byte lists for building golden inputs by hand. */
#define I4(x) (uint8_t)((uint32_t)(x) >> 24), (uint8_t)((uint32_t)(x) >> 16), (uint8_t)((uint32_t)(x) >> 8), (uint8_t)(x)
#define L8(x) I4((uint64_t)(x) >> 32), I4((uint64_t)(x) & 0xffffffffu)

/* Asserts that buffer b holds exactly the n bytes at want. */
static void expect_bytes(const pk_buf *b, const uint8_t *want, size_t n) {
    cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(b->data[i], want[i], "byte %zu: %02x, want %02x", i, b->data[i], want[i]);
}

/* True when slice s holds the C string z (and is not null). */
static bool slice_is(pk_slice s, const char *z) { return !jute_is_null(s) && pk_slice_eq(s, pk_slice_str(z)); }

/* ---------------- golden bytes ---------------- */

static const uint8_t connect45[] = {
    I4(0),                                       /* protocolVersion */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* lastZxidSeen */
    0x00, 0x00, 0x75, 0x30,                      /* timeOut 30000 */
    0, 0, 0, 0, 0, 0, 0, 0,                      /* sessionId 0 */
    0, 0, 0, 16,                                 /* passwd length */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* passwd */
    1,                                           /* readOnly */
};

Test(wire_records, golden_connect_request_45) {
    cr_assert_eq(sizeof connect45, 45);
    jute_reader r;
    jute_reader_init(&r, connect45, sizeof connect45, ZK_MAX_BUFFER_DEFAULT);
    struct wire_connect_request c;
    cr_assert_eq(wire_connect_request_decode(&r, &c), 0);
    cr_assert(jute_reader_done(&r));
    cr_assert_eq(c.protocol_version, 0);
    cr_assert_eq(c.last_zxid_seen, 0x0102030405060708LL);
    cr_assert_eq(c.timeout_ms, 30000);
    cr_assert_eq(c.session_id, 0);
    cr_assert_eq(c.passwd.len, ZK_PASSWD_LEN);
    cr_assert(c.has_read_only);
    cr_assert(c.read_only);
    pk_buf b;
    pk_buf_init(&b);
    wire_connect_request_encode(&b, &c);
    expect_bytes(&b, connect45, sizeof connect45);
    pk_buf_deinit(&b);
}

Test(wire_records, golden_connect_request_44_go_zk) {
    jute_reader r;
    jute_reader_init(&r, connect45, 44, ZK_MAX_BUFFER_DEFAULT);
    struct wire_connect_request c;
    cr_assert_eq(wire_connect_request_decode(&r, &c), 0);
    cr_assert(jute_reader_done(&r));
    cr_assert(!c.has_read_only);
    cr_assert(!c.read_only);
    cr_assert_eq(c.timeout_ms, 30000);
    pk_buf b;
    pk_buf_init(&b);
    wire_connect_request_encode(&b, &c);
    expect_bytes(&b, connect45, 44);
    pk_buf_deinit(&b);
    /* Truncated inside the fixed part: an error, never a short record. */
    for (size_t k = 0; k < 44; k++) {
        jute_reader_init(&r, connect45, k, ZK_MAX_BUFFER_DEFAULT);
        cr_assert_neq(wire_connect_request_decode(&r, &c), 0, "prefix %zu", k);
        cr_assert_eq(c.timeout_ms, 0);
        cr_assert(!c.has_read_only);
    }
}

Test(wire_records, golden_connect_response_36_37) {
    static const uint8_t want[] = {
        I4(0), I4(40000), L8(0x0100000000000042LL), I4(16),
        'p', 'a', 's', 's', 'w', 'o', 'r', 'd', 'p', 'a', 's', 's', 'w', 'o', 'r', 'd', 0,
    };
    cr_assert_eq(sizeof want, ZK_CONNECT_RESPONSE_LEN);
    struct wire_connect_response v = {.protocol_version = 0, .timeout_ms = 40000, .session_id = 0x0100000000000042LL,
                                      .passwd = pk_slice_str("passwordpassword"), .read_only = false,
                                      .has_read_only = true};
    pk_buf b;
    pk_buf_init(&b);
    wire_connect_response_encode(&b, &v);
    expect_bytes(&b, want, ZK_CONNECT_RESPONSE_LEN);
    pk_buf_reset(&b);
    v.has_read_only = false;
    wire_connect_response_encode(&b, &v);
    expect_bytes(&b, want, ZK_CONNECT_RESPONSE_LEN_OLD);
    jute_reader r;
    struct wire_connect_response d;
    jute_reader_init(&r, want, sizeof want, 100);
    cr_assert_eq(wire_connect_response_decode(&r, &d), 0);
    cr_assert(d.has_read_only && !d.read_only && d.timeout_ms == 40000 && d.session_id == 0x0100000000000042LL);
    cr_assert(slice_is(d.passwd, "passwordpassword"));
    jute_reader_init(&r, want, ZK_CONNECT_RESPONSE_LEN_OLD, 100);
    cr_assert_eq(wire_connect_response_decode(&r, &d), 0);
    cr_assert(!d.has_read_only);
    pk_buf_deinit(&b);
}

Test(wire_records, golden_headers) {
    static const uint8_t reply[] = {0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0x9b};
    struct wire_reply_header h = {.xid = 7, .zxid = 0x100000002LL, .err = ZK_ERR_NO_NODE};
    pk_buf b;
    pk_buf_init(&b);
    wire_reply_header_encode(&b, &h);
    expect_bytes(&b, reply, sizeof reply);
    cr_assert_eq(b.len, WIRE_REPLY_HEADER_LEN);

    static const uint8_t req[] = {0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11}; /* ping */
    jute_reader r;
    jute_reader_init(&r, req, sizeof req, 100);
    struct wire_request_header rh;
    cr_assert_eq(wire_request_header_decode(&r, &rh), 0);
    cr_assert(rh.xid == ZK_XID_PING && rh.type == ZK_OP_PING);
    cr_assert(jute_reader_done(&r));

    static const uint8_t mh[] = {0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff};
    pk_buf_reset(&b);
    wire_multi_done_encode(&b);
    expect_bytes(&b, mh, sizeof mh);
    cr_assert_eq(b.len, WIRE_MULTI_HEADER_LEN);

    /* A notification: ReplyHeader{-1, -1, 0} + WatcherEvent{NodeDeleted, SyncConnected, "/a"}. */
    static const uint8_t ev[] = {I4(-1), L8(-1), I4(0), I4(2), I4(3), I4(2), '/', 'a'};
    pk_buf_reset(&b);
    struct wire_reply_header nh = {.xid = ZK_XID_NOTIFICATION, .zxid = -1, .err = 0};
    struct wire_watcher_event we = {.type = ZK_EVENT_NODE_DELETED, .state = ZK_STATE_SYNC_CONNECTED,
                                    .path = pk_slice_str("/a")};
    wire_reply_header_encode(&b, &nh);
    wire_watcher_event_encode(&b, &we);
    expect_bytes(&b, ev, sizeof ev);
    pk_buf_deinit(&b);
}

static const uint8_t stat_bytes[] = {L8(1), L8(2), L8(3), L8(4), I4(5), I4(6), I4(7), L8(8), I4(9), I4(10), L8(11)};

Test(wire_records, golden_stat_68) {
    cr_assert_eq(sizeof stat_bytes, WIRE_STAT_LEN);
    struct wire_stat s = {.czxid = 1, .mzxid = 2, .ctime_ms = 3, .mtime_ms = 4, .version = 5, .cversion = 6,
                          .aversion = 7, .ephemeral_owner = 8, .data_length = 9, .num_children = 10, .pzxid = 11};
    pk_buf b;
    pk_buf_init(&b);
    wire_stat_encode(&b, &s);
    expect_bytes(&b, stat_bytes, sizeof stat_bytes);
    jute_reader r;
    jute_reader_init(&r, stat_bytes, sizeof stat_bytes, 0);
    struct wire_stat d;
    cr_assert_eq(wire_stat_decode(&r, &d), 0);
    cr_assert(d.czxid == 1 && d.mzxid == 2 && d.ctime_ms == 3 && d.mtime_ms == 4 && d.version == 5);
    cr_assert(d.cversion == 6 && d.aversion == 7 && d.ephemeral_owner == 8 && d.data_length == 9);
    cr_assert(d.num_children == 10 && d.pzxid == 11);
    pk_buf_deinit(&b);
}

static const uint8_t create_bytes[] = {
    I4(2), '/', 'a',                    /* path */
    I4(2), 'h', 'i',                    /* data */
    I4(1),                              /* acl count */
    I4(31), I4(5), 'w', 'o', 'r', 'l', 'd', I4(6), 'a', 'n', 'y', 'o', 'n', 'e',
    I4(1),                              /* flags: ephemeral */
};

Test(wire_records, golden_create_request) {
    struct wire_acl open = {.perms = ZK_PERM_ALL, .id = {.scheme = pk_slice_str("world"), .id = pk_slice_str("anyone")}};
    struct wire_create_request v = {.path = pk_slice_str("/a"), .data = pk_slice_str("hi"),
                                    .acl = {.count = 1, .items = &open}, .flags = ZK_CREATE_EPHEMERAL};
    pk_buf b;
    pk_buf_init(&b);
    wire_create_request_encode(&b, &v);
    expect_bytes(&b, create_bytes, sizeof create_bytes);

    jute_reader r;
    jute_reader_init(&r, create_bytes, sizeof create_bytes, 100);
    struct wire_create_request d;
    cr_assert_eq(wire_create_request_decode(&r, &d), 0);
    cr_assert(jute_reader_done(&r));
    cr_assert(slice_is(d.path, "/a") && slice_is(d.data, "hi") && d.flags == 1);
    cr_assert_eq(d.acl.count, 1);
    cr_assert_null(d.acl.items);
    cr_assert_eq(d.acl.raw.ptr, create_bytes + 16, "raw points at the first ACL inside the input");
    cr_assert_eq(d.acl.raw.len, 4 + 4 + 5 + 4 + 6);
    struct wire_vec_iter it;
    struct wire_acl a;
    wire_acl_vec_iter_init(&it, &d.acl);
    cr_assert(wire_acl_vec_next(&it, &a));
    cr_assert(a.perms == 31 && slice_is(a.id.scheme, "world") && slice_is(a.id.id, "anyone"));
    cr_assert(!wire_acl_vec_next(&it, &a));
    cr_assert(!wire_acl_vec_next(&it, &a), "the end is sticky");

    /* The same bytes dispatched by opcode, for create, create2 and createContainer. */
    int32_t ops[] = {ZK_OP_CREATE, ZK_OP_CREATE2, ZK_OP_CREATE_CONTAINER};
    for (size_t i = 0; i < PK_ARRAY_LEN(ops); i++) {
        struct wire_request q;
        jute_reader_init(&r, create_bytes, sizeof create_bytes, 100);
        cr_assert_eq(wire_request_decode(&r, ops[i], &q), 0);
        cr_assert_eq(q.op, ops[i]);
        cr_assert(slice_is(q.u.create.path, "/a"));
        pk_buf_reset(&b);
        wire_request_encode(&b, &q);
        expect_bytes(&b, create_bytes, sizeof create_bytes);
    }
    pk_buf_deinit(&b);
}

Test(wire_records, golden_null_vs_empty_data) {
    static const uint8_t null_data[] = {I4(-1), L8(1), L8(2), L8(3), L8(4), I4(5), I4(6), I4(7), L8(8), I4(9), I4(10), L8(11)};
    static const uint8_t empty_data[] = {I4(0), L8(1), L8(2), L8(3), L8(4), I4(5), I4(6), I4(7), L8(8), I4(9), I4(10), L8(11)};
    struct wire_get_data_response v;
    jute_reader r;
    jute_reader_init(&r, null_data, sizeof null_data, 100);
    cr_assert_eq(wire_get_data_response_decode(&r, &v), 0);
    cr_assert(jute_is_null(v.data));
    cr_assert_eq(v.stat.pzxid, 11);
    jute_reader_init(&r, empty_data, sizeof empty_data, 100);
    cr_assert_eq(wire_get_data_response_decode(&r, &v), 0);
    cr_assert(!jute_is_null(v.data));
    cr_assert_eq(v.data.len, 0);

    pk_buf b;
    pk_buf_init(&b);
    struct wire_get_data_response e = {.data = jute_null()};
    memcpy(&e.stat, &v.stat, sizeof e.stat);
    wire_get_data_response_encode(&b, &e);
    expect_bytes(&b, null_data, sizeof null_data);
    pk_buf_reset(&b);
    e.data = jute_empty();
    wire_get_data_response_encode(&b, &e);
    expect_bytes(&b, empty_data, sizeof empty_data);
    pk_buf_deinit(&b);
}

Test(wire_records, golden_add_watch_reply_and_errors) {
    /* addWatch success body is ErrorResponse{0}: exactly 4 zero bytes. */
    static const uint8_t zero[] = {0, 0, 0, 0};
    pk_buf b;
    pk_buf_init(&b);
    struct wire_error_response e = {.err = 0};
    wire_error_response_encode(&b, &e);
    expect_bytes(&b, zero, sizeof zero);
    pk_buf_deinit(&b);
}

Test(wire_records, golden_set_watches_and_children) {
    /* SetWatches{relativeZxid=5, data=["/a"], exist=[], child=null}. */
    static const uint8_t sw[] = {L8(5), I4(1), I4(2), '/', 'a', I4(0), I4(-1)};
    jute_reader r;
    jute_reader_init(&r, sw, sizeof sw, 100);
    struct wire_set_watches v;
    cr_assert_eq(wire_set_watches_decode(&r, &v), 0);
    cr_assert(jute_reader_done(&r));
    cr_assert_eq(v.relative_zxid, 5);
    cr_assert_eq(v.data_watches.count, 1);
    cr_assert_eq(v.exist_watches.count, 0);
    cr_assert_eq(v.child_watches.count, -1);
    struct wire_vec_iter it;
    pk_slice s;
    wire_str_vec_iter_init(&it, &v.data_watches);
    cr_assert(wire_str_vec_next(&it, &s) && slice_is(s, "/a"));
    cr_assert(!wire_str_vec_next(&it, &s));
    wire_str_vec_iter_init(&it, &v.child_watches);
    cr_assert(!wire_str_vec_next(&it, &s), "a null vector iterates as empty");
    pk_buf b;
    pk_buf_init(&b);
    wire_set_watches_encode(&b, &v);
    expect_bytes(&b, sw, sizeof sw);

    /* GetChildren2Response from an items array. */
    pk_slice kids[] = {pk_slice_str("x"), pk_slice_str("yz")};
    struct wire_get_children2_response c2 = {.children = {.count = 2, .items = kids}};
    memset(&c2.stat, 0, sizeof c2.stat);
    c2.stat.num_children = 2;
    static const uint8_t c2b[] = {I4(2), I4(1), 'x', I4(2), 'y', 'z', L8(0), L8(0), L8(0), L8(0), I4(0), I4(0),
                                  I4(0), L8(0), I4(0), I4(2), L8(0)};
    pk_buf_reset(&b);
    wire_get_children2_response_encode(&b, &c2);
    expect_bytes(&b, c2b, sizeof c2b);
    /* A zero-initialized vector encodes as an empty vector. */
    struct wire_get_children_response c0;
    memset(&c0, 0, sizeof c0);
    pk_buf_reset(&b);
    wire_get_children_response_encode(&b, &c0);
    static const uint8_t zero[] = {0, 0, 0, 0};
    expect_bytes(&b, zero, sizeof zero);
    pk_buf_deinit(&b);
}

Test(wire_records, golden_create_ttl_and_whoami) {
    static const uint8_t ttl[] = {I4(2), '/', 't', I4(-1), I4(0), I4(5), L8(60000)};
    jute_reader r;
    jute_reader_init(&r, ttl, sizeof ttl, 100);
    struct wire_request q;
    cr_assert_eq(wire_request_decode(&r, ZK_OP_CREATE_TTL, &q), 0);
    cr_assert(jute_reader_done(&r));
    cr_assert(slice_is(q.u.create_ttl.path, "/t") && jute_is_null(q.u.create_ttl.data));
    cr_assert(q.u.create_ttl.acl.count == 0 && q.u.create_ttl.flags == 5 && q.u.create_ttl.ttl_ms == 60000);

    struct wire_client_info ci[] = {{pk_slice_str("ip"), pk_slice_str("127.0.0.1")}, {pk_slice_str("digest"), pk_slice_str("bob")}};
    struct wire_whoami_response w = {.client_info = {.count = 2, .items = ci}};
    static const uint8_t wb[] = {I4(2), I4(2), 'i', 'p', I4(9), '1', '2', '7', '.', '0', '.', '0', '.', '1',
                                 I4(6), 'd', 'i', 'g', 'e', 's', 't', I4(3), 'b', 'o', 'b'};
    pk_buf b;
    pk_buf_init(&b);
    wire_whoami_response_encode(&b, &w);
    expect_bytes(&b, wb, sizeof wb);
    jute_reader_init(&r, wb, sizeof wb, 100);
    struct wire_whoami_response d;
    cr_assert_eq(wire_whoami_response_decode(&r, &d), 0);
    struct wire_vec_iter it;
    struct wire_client_info c;
    wire_client_info_vec_iter_init(&it, &d.client_info);
    cr_assert(wire_client_info_vec_next(&it, &c) && slice_is(c.auth_scheme, "ip") && slice_is(c.user, "127.0.0.1"));
    cr_assert(wire_client_info_vec_next(&it, &c) && slice_is(c.auth_scheme, "digest") && slice_is(c.user, "bob"));
    cr_assert(!wire_client_info_vec_next(&it, &c));
    pk_buf_deinit(&b);
}

/* ---------------- round trips of every record ---------------- */

/* Deterministic value generator with storage for vector elements. */
struct fill_ctx {
    pk_prng prng;
    pk_slice strs[128];
    int nstrs;
    struct wire_acl acls[32];
    int nacls;
    struct wire_client_info cis[32];
    int ncis;
};

static const char fill_pool[] = "/zookeeper/quota/abcdefghijklmnopqrstuvwxyz0123456789-_.:";

/* Returns a random slice of the pool: null 1 time in 8, else 0..19 bytes. */
static pk_slice fill_slice(struct fill_ctx *c) {
    if (pk_prng_below(&c->prng, 8) == 0) return jute_null();
    size_t len = (size_t)pk_prng_below(&c->prng, 20);
    size_t start = (size_t)pk_prng_below(&c->prng, sizeof fill_pool - 1 - len);
    return (pk_slice){(const uint8_t *)fill_pool + start, len};
}
/* Fills a INT value (round-trip helper). */
static void fill_INT(struct fill_ctx *c, int32_t *v) { *v = (int32_t)pk_prng_next(&c->prng); }
/* Fills a LONG value (round-trip helper). */
static void fill_LONG(struct fill_ctx *c, int64_t *v) { *v = (int64_t)pk_prng_next(&c->prng); }
/* Fills a BOOL value (round-trip helper). */
static void fill_BOOL(struct fill_ctx *c, bool *v) { *v = pk_prng_below(&c->prng, 2) == 1; }
/* Fills a BUFFER value (round-trip helper). */
static void fill_BUFFER(struct fill_ctx *c, pk_slice *v) { *v = fill_slice(c); }
/* Fills a USTRING value (round-trip helper). */
static void fill_USTRING(struct fill_ctx *c, pk_slice *v) { *v = fill_slice(c); }
/* Fills a ID value (round-trip helper). */
static void fill_ID(struct fill_ctx *c, struct wire_id *v) {
    v->scheme = fill_slice(c);
    v->id = fill_slice(c);
}
#define FILL_FIELD(kind, name) fill_##kind(c, &v->name);
/* Fills a STAT value (round-trip helper). */
static void fill_STAT(struct fill_ctx *c, struct wire_stat *v) { WIRE_STAT_FIELDS(FILL_FIELD) }
/* Returns a random vector count: -1 (null) .. 3. */
static int32_t fill_count(struct fill_ctx *c) { return (int32_t)pk_prng_below(&c->prng, 5) - 1; }
/* Fills a STRVEC value (round-trip helper). */
static void fill_STRVEC(struct fill_ctx *c, struct wire_str_vec *v) {
    v->count = fill_count(c);
    v->raw = jute_null();
    v->items = c->strs + c->nstrs;
    for (int32_t i = 0; i < v->count; i++) {
        cr_assert_lt(c->nstrs, 128);
        c->strs[c->nstrs++] = fill_slice(c);
    }
}
/* Fills a ACLVEC value (round-trip helper). */
static void fill_ACLVEC(struct fill_ctx *c, struct wire_acl_vec *v) {
    v->count = fill_count(c);
    v->raw = jute_null();
    v->items = c->acls + c->nacls;
    for (int32_t i = 0; i < v->count; i++) {
        cr_assert_lt(c->nacls, 32);
        struct wire_acl *a = &c->acls[c->nacls++];
        fill_INT(c, &a->perms);
        fill_ID(c, &a->id);
    }
}
/* Fills a CINFOVEC value (round-trip helper). */
static void fill_CINFOVEC(struct fill_ctx *c, struct wire_client_info_vec *v) {
    v->count = fill_count(c);
    v->raw = jute_null();
    v->items = c->cis + c->ncis;
    for (int32_t i = 0; i < v->count; i++) {
        cr_assert_lt(c->ncis, 32);
        struct wire_client_info *ci = &c->cis[c->ncis++];
        ci->auth_scheme = fill_slice(c);
        ci->user = fill_slice(c);
    }
}

/* Equality of decoded and original values, field by field (vectors compared through the iterators). */
static void eq_INT(const int32_t *a, const int32_t *b) { cr_assert_eq(*a, *b); }
/* Asserts equality of a LONG value (round-trip helper). */
static void eq_LONG(const int64_t *a, const int64_t *b) { cr_assert_eq(*a, *b); }
/* Asserts equality of a BOOL value (round-trip helper). */
static void eq_BOOL(const bool *a, const bool *b) { cr_assert_eq(*a, *b); }
/* Asserts equality of a slice value (round-trip helper). */
static void eq_slice(pk_slice a, pk_slice b) {
    cr_assert_eq(jute_is_null(a), jute_is_null(b));
    cr_assert(pk_slice_eq(a, b));
}
/* Asserts equality of a BUFFER value (round-trip helper). */
static void eq_BUFFER(const pk_slice *a, const pk_slice *b) { eq_slice(*a, *b); }
/* Asserts equality of a USTRING value (round-trip helper). */
static void eq_USTRING(const pk_slice *a, const pk_slice *b) { eq_slice(*a, *b); }
/* Asserts equality of a ID value (round-trip helper). */
static void eq_ID(const struct wire_id *a, const struct wire_id *b) {
    eq_slice(a->scheme, b->scheme);
    eq_slice(a->id, b->id);
}
#define EQ_FIELD(kind, name) eq_##kind(&a->name, &b->name);
/* Asserts equality of a STAT value (round-trip helper). */
static void eq_STAT(const struct wire_stat *a, const struct wire_stat *b) { WIRE_STAT_FIELDS(EQ_FIELD) }
/* Asserts equality of a STRVEC value (round-trip helper). */
static void eq_STRVEC(const struct wire_str_vec *a, const struct wire_str_vec *b) {
    cr_assert_eq(a->count, b->count);
    struct wire_vec_iter ia, ib;
    pk_slice sa, sb;
    wire_str_vec_iter_init(&ia, a);
    wire_str_vec_iter_init(&ib, b);
    for (int i = 0; i < 8; i++) {
        bool ha = wire_str_vec_next(&ia, &sa), hb = wire_str_vec_next(&ib, &sb);
        cr_assert_eq(ha, hb);
        if (!ha) return;
        eq_slice(sa, sb);
    }
    cr_assert_fail("vector longer than generated");
}
/* Asserts equality of a ACLVEC value (round-trip helper). */
static void eq_ACLVEC(const struct wire_acl_vec *a, const struct wire_acl_vec *b) {
    cr_assert_eq(a->count, b->count);
    struct wire_vec_iter ia, ib;
    struct wire_acl sa, sb;
    wire_acl_vec_iter_init(&ia, a);
    wire_acl_vec_iter_init(&ib, b);
    for (int i = 0; i < 8; i++) {
        bool ha = wire_acl_vec_next(&ia, &sa), hb = wire_acl_vec_next(&ib, &sb);
        cr_assert_eq(ha, hb);
        if (!ha) return;
        cr_assert_eq(sa.perms, sb.perms);
        eq_ID(&sa.id, &sb.id);
    }
    cr_assert_fail("vector longer than generated");
}
/* Asserts equality of a CINFOVEC value (round-trip helper). */
static void eq_CINFOVEC(const struct wire_client_info_vec *a, const struct wire_client_info_vec *b) {
    cr_assert_eq(a->count, b->count);
    struct wire_vec_iter ia, ib;
    struct wire_client_info sa, sb;
    wire_client_info_vec_iter_init(&ia, a);
    wire_client_info_vec_iter_init(&ib, b);
    for (int i = 0; i < 8; i++) {
        bool ha = wire_client_info_vec_next(&ia, &sa), hb = wire_client_info_vec_next(&ib, &sb);
        cr_assert_eq(ha, hb);
        if (!ha) return;
        eq_slice(sa.auth_scheme, sb.auth_scheme);
        eq_slice(sa.user, sb.user);
    }
    cr_assert_fail("vector longer than generated");
}

/* One test per record: 40 random values; encode (from items), decode, compare fields, re-encode (from raw)
 * to the same bytes; every strict prefix fails to decode and leaves a zeroed record. */
#define RT_TEST(name, FIELDS)                                                                      \
    static void fill_##name(struct fill_ctx *c, struct wire_##name *v) { FIELDS(FILL_FIELD) }      \
    static void eq_##name(const struct wire_##name *a, const struct wire_##name *b) { FIELDS(EQ_FIELD) } \
    Test(wire_records, roundtrip_##name) {                                                         \
        for (uint64_t seed = 1; seed <= 40; seed++) {                                              \
            struct fill_ctx *c = calloc(1, sizeof *c);                                             \
            pk_prng_seed(&c->prng, seed);                                                          \
            struct wire_##name v, d, zero;                                                         \
            memset(&v, 0, sizeof v);                                                               \
            memset(&zero, 0, sizeof zero);                                                         \
            fill_##name(c, &v);                                                                    \
            pk_buf b1, b2;                                                                         \
            pk_buf_init(&b1);                                                                      \
            pk_buf_init(&b2);                                                                      \
            wire_##name##_encode(&b1, &v);                                                         \
            cr_assert_gt(b1.len, 0);                                                               \
            jute_reader r;                                                                         \
            jute_reader_init(&r, b1.data, b1.len, 64);                                             \
            cr_assert_eq(wire_##name##_decode(&r, &d), 0, "seed %llu", (unsigned long long)seed);  \
            cr_assert(jute_reader_done(&r));                                                       \
            eq_##name(&v, &d);                                                                     \
            wire_##name##_encode(&b2, &d);                                                         \
            cr_assert_eq(b1.len, b2.len);                                                          \
            cr_assert_eq(memcmp(b1.data, b2.data, b1.len), 0);                                     \
            for (size_t k = 0; k < b1.len; k++) {                                                  \
                jute_reader_init(&r, b1.data, k, 64);                                              \
                cr_assert_neq(wire_##name##_decode(&r, &d), 0, "prefix %zu of %zu", k, b1.len);    \
                cr_assert_eq(memcmp(&d, &zero, sizeof d), 0, "zeroed on error");                   \
            }                                                                                      \
            pk_buf_deinit(&b1);                                                                    \
            pk_buf_deinit(&b2);                                                                    \
            free(c);                                                                               \
        }                                                                                          \
    }
WIRE_RECORDS(RT_TEST)

Test(wire_records, roundtrip_connect_request) {
    pk_prng p;
    pk_prng_seed(&p, 3);
    for (int i = 0; i < 50; i++) {
        struct wire_connect_request v = {
            .protocol_version = (int32_t)pk_prng_next(&p), .last_zxid_seen = (int64_t)pk_prng_next(&p),
            .timeout_ms = (int32_t)pk_prng_next(&p), .session_id = (int64_t)pk_prng_next(&p),
            .passwd = (pk_slice){(const uint8_t *)fill_pool, (size_t)pk_prng_below(&p, 17)},
            .has_read_only = pk_prng_below(&p, 2) == 1};
        v.read_only = v.has_read_only && pk_prng_below(&p, 2) == 1;
        pk_buf b;
        pk_buf_init(&b);
        wire_connect_request_encode(&b, &v);
        cr_assert_eq(b.len, 28 + v.passwd.len + (v.has_read_only ? 1 : 0));
        jute_reader r;
        struct wire_connect_request d;
        jute_reader_init(&r, b.data, b.len, 64);
        cr_assert_eq(wire_connect_request_decode(&r, &d), 0);
        cr_assert(jute_reader_done(&r));
        cr_assert(d.protocol_version == v.protocol_version && d.last_zxid_seen == v.last_zxid_seen);
        cr_assert(d.timeout_ms == v.timeout_ms && d.session_id == v.session_id && pk_slice_eq(d.passwd, v.passwd));
        cr_assert(d.has_read_only == v.has_read_only && d.read_only == v.read_only);
        pk_buf_deinit(&b);
    }
}

/* ---------------- hostile inputs ---------------- */

Test(wire_records, hostile_vector_counts) {
    /* GetChildrenResponse with count 0x7fffffff and 4 bytes of data: refused at once, no looping. */
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    jute_reader r;
    struct wire_get_children_response v;
    jute_reader_init(&r, huge, sizeof huge, 100);
    cr_assert_eq(wire_get_children_response_decode(&r, &v), PK_EDECODE);
    cr_assert_eq(v.children.count, 0);
    /* Count -2. */
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    jute_reader_init(&r, neg, sizeof neg, 100);
    cr_assert_eq(wire_get_children_response_decode(&r, &v), PK_EDECODE);
    /* Count 2 but the second element's length runs past the end. */
    static const uint8_t past[] = {I4(2), I4(1), 'a', I4(9), 'b'};
    jute_reader_init(&r, past, sizeof past, 100);
    cr_assert_eq(wire_get_children_response_decode(&r, &v), PK_EDECODE);
    /* ACL vector with a count that fits 4-byte elements but not 12-byte ACLs. */
    struct wire_set_acl_request sa;
    static const uint8_t acl2[] = {I4(2), '/', 'a', I4(2), I4(31), I4(5), 'w', 'o', 'r', 'l', 'd', I4(0)};
    jute_reader_init(&r, acl2, sizeof acl2, 100);
    cr_assert_eq(wire_set_acl_request_decode(&r, &sa), PK_EDECODE, "2 ACLs cannot fit in the 17 bytes left");
}

Test(wire_records, hostile_lengths_in_records) {
    jute_reader r;
    struct wire_get_data_request g;
    static const uint8_t neg[] = {I4(-7), 0};
    jute_reader_init(&r, neg, sizeof neg, 100);
    cr_assert_eq(wire_get_data_request_decode(&r, &g), PK_EDECODE);
    static const uint8_t big[] = {I4(200), 0};
    jute_reader_init(&r, big, sizeof big, 100);
    cr_assert_eq(wire_get_data_request_decode(&r, &g), PK_ETOOBIG);
    static const uint8_t past[] = {I4(3), '/', 'a'};
    jute_reader_init(&r, past, sizeof past, 100);
    cr_assert_eq(wire_get_data_request_decode(&r, &g), PK_EDECODE);
    /* Trailing bytes are left for the caller to judge. */
    static const uint8_t trail[] = {I4(2), '/', 'a', 1, 0xee};
    jute_reader_init(&r, trail, sizeof trail, 100);
    cr_assert_eq(wire_get_data_request_decode(&r, &g), 0);
    cr_assert(g.watch);
    cr_assert(!jute_reader_done(&r));
    cr_assert_eq(jute_reader_remaining(&r), 1);
}

Test(wire_records, garbage_never_crashes_and_reencodes_stably) {
    pk_prng p;
    pk_prng_seed(&p, 99);
    uint8_t in[64];
    int ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)pk_prng_below(&p, sizeof in + 1);
        for (size_t i = 0; i < n; i++) {
            /* Bias towards small lengths so some decodes succeed. */
            uint64_t x = pk_prng_next(&p);
            in[i] = (x & 3) == 0 ? (uint8_t)(x >> 8) : (uint8_t)((x >> 8) & 3);
        }
        struct wire_request q;
        jute_reader r;
        jute_reader_init(&r, in, n, 32);
        int32_t op = (int32_t)pk_prng_below(&p, 110) - 12;
        int rc = wire_request_decode(&r, op, &q);
        if (rc != 0) continue;
        ok++;
        pk_buf b1, b2;
        pk_buf_init(&b1);
        pk_buf_init(&b2);
        wire_request_encode(&b1, &q);
        cr_assert_leq(b1.len, r.pos, "re-encoding is never longer than what was consumed");
        jute_reader_init(&r, b1.data, b1.len, 32);
        struct wire_request q2;
        cr_assert_eq(wire_request_decode(&r, op, &q2), 0);
        cr_assert(jute_reader_done(&r));
        wire_request_encode(&b2, &q2);
        cr_assert_eq(b1.len, b2.len);
        cr_assert(b1.len == 0 || memcmp(b1.data, b2.data, b1.len) == 0);
        pk_buf_deinit(&b1);
        pk_buf_deinit(&b2);
    }
    cr_assert_gt(ok, 100, "the generator should produce some valid requests (%d)", ok);
}

/* ---------------- request dispatch ---------------- */

Test(wire_records, request_dispatch_known_and_unknown) {
    jute_reader r;
    struct wire_request q;
    int32_t empty_ops[] = {ZK_OP_PING, ZK_OP_CLOSE_SESSION, ZK_OP_WHOAMI};
    for (size_t i = 0; i < PK_ARRAY_LEN(empty_ops); i++) {
        jute_reader_init(&r, NULL, 0, 100);
        cr_assert_eq(wire_request_decode(&r, empty_ops[i], &q), 0);
        cr_assert(wire_request_op_known(empty_ops[i]));
    }
    int32_t unknown[] = {0, -1, -10, 10, 23, 99, 108, 1000, INT32_MIN};
    for (size_t i = 0; i < PK_ARRAY_LEN(unknown); i++) {
        jute_reader_init(&r, NULL, 0, 100);
        cr_assert_eq(wire_request_decode(&r, unknown[i], &q), PK_ENOENT, "op %d", unknown[i]);
        cr_assert(!wire_request_op_known(unknown[i]));
    }
    /* Every op with a record fails cleanly on an empty body. */
    int32_t rec_ops[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 18, 19, 20, 21, 100, 101, 102, 103, 104, 105, 106};
    for (size_t i = 0; i < PK_ARRAY_LEN(rec_ops); i++) {
        cr_assert(wire_request_op_known(rec_ops[i]));
        jute_reader_init(&r, NULL, 0, 100);
        cr_assert_eq(wire_request_decode(&r, rec_ops[i], &q), PK_EDECODE, "op %d", rec_ops[i]);
    }
    /* Auth packet. */
    static const uint8_t auth[] = {I4(0), I4(6), 'd', 'i', 'g', 'e', 's', 't', I4(7), 'b', 'o', 'b', ':', 'p', 'w', 'd'};
    jute_reader_init(&r, auth, sizeof auth, 100);
    cr_assert_eq(wire_request_decode(&r, ZK_OP_AUTH, &q), 0);
    cr_assert(slice_is(q.u.auth.scheme, "digest") && slice_is(q.u.auth.auth, "bob:pwd"));
}

/* ---------------- multi ---------------- */

/* Builds a multi body: create /a, delete /b v3, check /c v-1, done. */
static void build_multi(pk_buf *b) {
    struct wire_request op;
    memset(&op, 0, sizeof op);
    op.op = ZK_OP_CREATE;
    op.u.create.path = pk_slice_str("/a");
    op.u.create.data = jute_null();
    wire_multi_op_encode(b, &op);
    memset(&op, 0, sizeof op);
    op.op = ZK_OP_DELETE;
    op.u.del.path = pk_slice_str("/b");
    op.u.del.version = 3;
    wire_multi_op_encode(b, &op);
    memset(&op, 0, sizeof op);
    op.op = ZK_OP_CHECK;
    op.u.check.path = pk_slice_str("/c");
    op.u.check.version = -1;
    wire_multi_op_encode(b, &op);
    wire_multi_done_encode(b);
}

Test(wire_records, multi_golden_and_iterate) {
    static const uint8_t want[] = {
        I4(1), 0, I4(-1), I4(2), '/', 'a', I4(-1), I4(0), I4(0),
        I4(2), 0, I4(-1), I4(2), '/', 'b', I4(3),
        I4(13), 0, I4(-1), I4(2), '/', 'c', I4(-1),
        I4(-1), 1, I4(-1),
    };
    pk_buf b;
    pk_buf_init(&b);
    build_multi(&b);
    expect_bytes(&b, want, sizeof want);

    jute_reader r;
    struct wire_request q;
    jute_reader_init(&r, want, sizeof want, 100);
    cr_assert_eq(wire_request_decode(&r, ZK_OP_MULTI, &q), 0);
    cr_assert_eq(q.u.multi.len, sizeof want);
    struct wire_multi_iter it;
    wire_multi_iter_init(&it, ZK_OP_MULTI, q.u.multi, 100);
    struct wire_request op;
    cr_assert_eq(wire_multi_iter_next(&it, &op), 1);
    cr_assert(op.op == ZK_OP_CREATE && slice_is(op.u.create.path, "/a") && jute_is_null(op.u.create.data));
    cr_assert_eq(wire_multi_iter_next(&it, &op), 1);
    cr_assert(op.op == ZK_OP_DELETE && slice_is(op.u.del.path, "/b") && op.u.del.version == 3);
    cr_assert_eq(wire_multi_iter_next(&it, &op), 1);
    cr_assert(op.op == ZK_OP_CHECK && slice_is(op.u.check.path, "/c") && op.u.check.version == -1);
    cr_assert_eq(wire_multi_iter_next(&it, &op), 0);
    cr_assert_eq(wire_multi_iter_next(&it, &op), 0, "done is sticky");
    cr_assert(jute_reader_done(&it.r));

    /* The same body as a multiRead is malformed (writes inside). */
    wire_multi_iter_init(&it, ZK_OP_MULTI_READ, q.u.multi, 100);
    cr_assert_eq(wire_multi_iter_next(&it, &op), PK_EDECODE);
    cr_assert_eq(wire_multi_iter_next(&it, &op), PK_EDECODE, "errors are sticky");

    /* Truncated at every offset: never an op past the end, always an error before done. */
    for (size_t k = 0; k < sizeof want; k++) {
        wire_multi_iter_init(&it, ZK_OP_MULTI, (pk_slice){want, k}, 100);
        int rc, steps = 0;
        while ((rc = wire_multi_iter_next(&it, &op)) == 1) steps++;
        cr_assert_lt(rc, 0, "prefix %zu", k);
        cr_assert_leq(steps, 3);
    }
    pk_buf_deinit(&b);
}

Test(wire_records, multi_read_and_bad_types) {
    pk_buf b;
    pk_buf_init(&b);
    struct wire_request op;
    memset(&op, 0, sizeof op);
    op.op = ZK_OP_GET_DATA;
    op.u.get_data.path = pk_slice_str("/x");
    wire_multi_op_encode(&b, &op);
    op.op = ZK_OP_GET_CHILDREN;
    op.u.get_children.path = pk_slice_str("/y");
    op.u.get_children.watch = false;
    wire_multi_op_encode(&b, &op);
    wire_multi_done_encode(&b);
    struct wire_multi_iter it;
    wire_multi_iter_init(&it, ZK_OP_MULTI_READ, pk_buf_slice(&b), 100);
    cr_assert_eq(wire_multi_iter_next(&it, &op), 1);
    cr_assert(op.op == ZK_OP_GET_DATA && slice_is(op.u.get_data.path, "/x"));
    cr_assert_eq(wire_multi_iter_next(&it, &op), 1);
    cr_assert(op.op == ZK_OP_GET_CHILDREN && slice_is(op.u.get_children.path, "/y"));
    cr_assert_eq(wire_multi_iter_next(&it, &op), 0);
    /* Reads inside a write multi are malformed. */
    wire_multi_iter_init(&it, ZK_OP_MULTI, pk_buf_slice(&b), 100);
    cr_assert_eq(wire_multi_iter_next(&it, &op), PK_EDECODE);
    /* Unknown op type 99 and type 0. */
    static const uint8_t bad[] = {I4(99), 0, I4(-1), I4(-1), 1, I4(-1)};
    wire_multi_iter_init(&it, ZK_OP_MULTI, (pk_slice){bad, sizeof bad}, 100);
    cr_assert_eq(wire_multi_iter_next(&it, &op), PK_EDECODE);
    /* An empty multi (just done) is accepted. */
    wire_multi_iter_init(&it, ZK_OP_MULTI, (pk_slice){bad + 9, 9}, 100);
    cr_assert_eq(wire_multi_iter_next(&it, &op), 0);
    /* No done header at all: an error. */
    wire_multi_iter_init(&it, ZK_OP_MULTI, (pk_slice){NULL, 0}, 100);
    cr_assert_eq(wire_multi_iter_next(&it, &op), PK_EDECODE);
    pk_buf_deinit(&b);
}

Test(wire_records, multi_response_entries) {
    /* A failed multi of three ops: [0, NoNode, RuntimeInconsistency] then done. */
    static const uint8_t want[] = {
        I4(-1), 0, I4(0), I4(0),
        I4(-1), 0, I4(-101), I4(-101),
        I4(-1), 0, I4(-2), I4(-2),
        I4(-1), 1, I4(-1),
    };
    pk_buf b;
    pk_buf_init(&b);
    wire_multi_error_result_encode(&b, ZK_ERR_OK);
    wire_multi_error_result_encode(&b, ZK_ERR_NO_NODE);
    wire_multi_error_result_encode(&b, ZK_ERR_RUNTIME_INCONSISTENCY);
    wire_multi_done_encode(&b);
    expect_bytes(&b, want, sizeof want);
    /* A successful create result: header{1,false,0} + CreateResponse{path}. */
    static const uint8_t ok[] = {I4(1), 0, I4(0), I4(2), '/', 'a'};
    pk_buf_reset(&b);
    wire_multi_result_header_encode(&b, ZK_OP_CREATE);
    struct wire_create_response cr = {.path = pk_slice_str("/a")};
    wire_create_response_encode(&b, &cr);
    expect_bytes(&b, ok, sizeof ok);
    pk_buf_deinit(&b);
}

/* ---------------- names ---------------- */

Test(wire_records, op_and_error_names) {
    cr_assert_str_eq(zk_op_name(ZK_OP_CREATE), "CREA");
    cr_assert_str_eq(zk_op_name(ZK_OP_CREATE_TTL), "CREA");
    cr_assert_str_eq(zk_op_name(ZK_OP_GET_DATA), "GETD");
    cr_assert_str_eq(zk_op_name(ZK_OP_SET_ACL), "SETA");
    cr_assert_str_eq(zk_op_name(ZK_OP_PING), "PING");
    cr_assert_str_eq(zk_op_name(ZK_OP_CREATE_SESSION), "SESS");
    cr_assert_str_eq(zk_op_name(ZK_OP_MULTI_READ), "MLTR");
    cr_assert_str_eq(zk_op_name(ZK_OP_WHOAMI), "HOMI");
    cr_assert_str_eq(zk_op_name(12345), "NA");
    cr_assert_str_eq(zk_op_long_name(ZK_OP_GET_CHILDREN2), "getChildren2");
    cr_assert_str_eq(zk_op_long_name(-99), "unknown");
    cr_assert_str_eq(zk_err_name(ZK_ERR_NO_NODE), "NONODE");
    cr_assert_str_eq(zk_err_name(ZK_ERR_THROTTLED), "THROTTLEDOP");
    cr_assert_str_eq(zk_err_name(-126), "UNKNOWN");
    cr_assert(zk_err_known(ZK_ERR_QUOTA_EXCEEDED));
    cr_assert(!zk_err_known(-126));
    cr_assert(!zk_err_known(1));
    cr_assert(zk_create_mode_is_sequential(ZK_CREATE_PERSISTENT_SEQUENTIAL_WITH_TTL));
    cr_assert(!zk_create_mode_is_ephemeral(ZK_CREATE_CONTAINER));
    cr_assert(zk_create_mode_is_ttl(ZK_CREATE_PERSISTENT_WITH_TTL));
}

Test(wire_records, multi_result_iter) {
    pk_buf b;
    pk_buf_init(&b);
    wire_multi_result_header_encode(&b, ZK_OP_CREATE);
    struct wire_create_response cr = {.path = pk_slice_str("/a0000000001")};
    wire_create_response_encode(&b, &cr);
    wire_multi_result_header_encode(&b, ZK_OP_CREATE2);
    struct wire_create2_response c2 = {.path = pk_slice_str("/b")};
    memset(&c2.stat, 0, sizeof c2.stat);
    c2.stat.czxid = 77;
    wire_create2_response_encode(&b, &c2);
    wire_multi_result_header_encode(&b, ZK_OP_DELETE);
    wire_multi_result_header_encode(&b, ZK_OP_CHECK);
    wire_multi_error_result_encode(&b, ZK_ERR_BAD_VERSION);
    wire_multi_done_encode(&b);

    struct wire_multi_result_iter it;
    struct wire_multi_result res;
    wire_multi_result_iter_init(&it, pk_buf_slice(&b), 100);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 1);
    cr_assert(res.header.type == 1 && res.header.err == 0 && slice_is(res.u.create.path, "/a0000000001"));
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 1);
    cr_assert(res.header.type == 15 && slice_is(res.u.create2.path, "/b") && res.u.create2.stat.czxid == 77);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 1);
    cr_assert_eq(res.header.type, ZK_OP_DELETE);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 1);
    cr_assert_eq(res.header.type, ZK_OP_CHECK);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 1);
    cr_assert(res.header.type == -1 && res.header.err == ZK_ERR_BAD_VERSION && res.u.error.err == ZK_ERR_BAD_VERSION);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 0);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), 0);
    cr_assert(jute_reader_done(&it.r));
    for (size_t k = 0; k < b.len; k++) {
        wire_multi_result_iter_init(&it, (pk_slice){b.data, k}, 100);
        int rc, steps = 0;
        while ((rc = wire_multi_result_iter_next(&it, &res)) == 1) steps++;
        cr_assert_lt(rc, 0, "prefix %zu", k);
        cr_assert_leq(steps, 5);
    }
    static const uint8_t bad[] = {I4(7), 0, I4(0)};
    wire_multi_result_iter_init(&it, (pk_slice){bad, sizeof bad}, 100);
    cr_assert_eq(wire_multi_result_iter_next(&it, &res), PK_EDECODE);
    pk_buf_deinit(&b);
}
