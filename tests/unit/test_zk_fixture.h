/* Shared fixture for the zk state-machine unit tests: a state, an overlay, a zxid counter and request
 * builders that go through the real prep -> apply path. */
#ifndef PK_TEST_ZK_FIXTURE_H
#define PK_TEST_ZK_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "wire/records.h"
#include "zk/zk.h"
#include "zk/txn.h"

typedef struct zkt {
    zk_state *s;
    zk_prep *p;
    zk_events *ev;
    uint64_t zxid;
    int64_t now_ms;
    pk_buf reply;
    zk_apply_result res;
} zkt;

static const zk_auth_id zkt_ip_id = {{(const uint8_t *)"ip", 2}, {(const uint8_t *)"127.0.0.1", 9}};
static const zk_auth zkt_anon = {&zkt_ip_id, 1};

/* Sets up a fresh fixture. */
static inline void zkt_init(zkt *t) {
    t->s = zk_state_new();
    zk_prep_options o = {true, ZK_MAX_BUFFER_DEFAULT};
    t->p = zk_prep_new(&o);
    t->ev = zk_events_new();
    t->zxid = 0;
    t->now_ms = 1000;
    pk_buf_init(&t->reply);
}

/* Tears the fixture down. */
static inline void zkt_deinit(zkt *t) {
    zk_state_free(t->s);
    zk_prep_free(t->p);
    zk_events_free(t->ev);
    pk_buf_deinit(&t->reply);
}

/* Applies a txn (asserting it is well formed), clearing reply and events first. */
static inline int32_t zkt_apply(zkt *t, pk_slice txn) {
    pk_buf_reset(&t->reply);
    zk_events_clear(t->ev);
    int rc = zk_apply(t->s, txn, &t->res, &t->reply, t->ev);
    cr_assert_eq(rc, PK_OK, "apply rc %d", rc);
    zk_prep_applied(t->p, t->res.zxid);
    cr_assert_eq(zk_state_digest(t->s), zk_state_digest_full(t->s), "digest drift");
    return t->res.err;
}

/* Preps a request into txn (not applied); returns the prep rc. */
static inline int zkt_prep(zkt *t, uint64_t sid, int32_t op, const pk_buf *body, const zk_auth *auth, pk_buf *txn) {
    zk_request req = {sid, op, pk_buf_slice(body), auth ? auth : &zkt_anon};
    pk_buf_reset(txn);
    return zk_prep_request(t->p, t->s, &req, ++t->zxid, t->now_ms, txn);
}

/* Preps and applies a write; returns the reply header err. */
static inline int32_t zkt_write(zkt *t, uint64_t sid, int32_t op, const pk_buf *body, const zk_auth *auth) {
    pk_buf txn;
    pk_buf_init(&txn);
    int rc = zkt_prep(t, sid, op, body, auth, &txn);
    cr_assert_eq(rc, ZK_ERR_OK, "prep rc %d", rc);
    int32_t err = zkt_apply(t, pk_buf_slice(&txn));
    pk_buf_deinit(&txn);
    return err;
}

/* Appends an ACL vector with one entry. */
static inline struct wire_acl zkt_acl1(int32_t perms, const char *scheme, const char *id) {
    struct wire_acl a = {perms, {pk_slice_str(scheme), pk_slice_str(id)}};
    return a;
}

static const struct wire_acl zkt_open_acl = {ZK_PERM_ALL, {{(const uint8_t *)"world", 5}, {(const uint8_t *)"anyone", 6}}};

/* Builds a CreateRequest body. */
static inline void zkt_create_body(pk_buf *b, const char *path, const char *data, int32_t flags,
                                   const struct wire_acl *acl, int32_t nacl) {
    pk_buf_reset(b);
    struct wire_create_request r = {pk_slice_str(path), data ? pk_slice_str(data) : jute_null(),
                                    {nacl, acl ? acl : &zkt_open_acl, {NULL, 0}}, flags};
    wire_create_request_encode(b, &r);
}

/* create(op) of path with data and flags, open ACL; returns err. */
static inline int32_t zkt_create(zkt *t, uint64_t sid, int32_t op, const char *path, const char *data, int32_t flags) {
    pk_buf b;
    pk_buf_init(&b);
    zkt_create_body(&b, path, data, flags, NULL, 1);
    int32_t e = zkt_write(t, sid, op, &b, NULL);
    pk_buf_deinit(&b);
    return e;
}

/* delete(path, version); returns err. */
static inline int32_t zkt_delete(zkt *t, uint64_t sid, const char *path, int32_t version, const zk_auth *auth) {
    pk_buf b;
    pk_buf_init(&b);
    struct wire_delete_request r = {pk_slice_str(path), version};
    wire_delete_request_encode(&b, &r);
    int32_t e = zkt_write(t, sid, ZK_OP_DELETE, &b, auth);
    pk_buf_deinit(&b);
    return e;
}

/* setData(path, data, version); returns err. */
static inline int32_t zkt_set(zkt *t, uint64_t sid, const char *path, const char *data, int32_t version,
                              const zk_auth *auth) {
    pk_buf b;
    pk_buf_init(&b);
    struct wire_set_data_request r = {pk_slice_str(path), data ? pk_slice_str(data) : jute_null(), version};
    wire_set_data_request_encode(&b, &r);
    int32_t e = zkt_write(t, sid, ZK_OP_SET_DATA, &b, auth);
    pk_buf_deinit(&b);
    return e;
}

/* Creates a session via prep+apply. */
static inline void zkt_session(zkt *t, uint64_t sid) {
    pk_buf txn;
    pk_buf_init(&txn);
    uint8_t pw[16] = {1, 2, 3};
    cr_assert_eq(zk_prep_create_session(t->p, t->s, sid, 30000, pw, ++t->zxid, t->now_ms, &txn), ZK_ERR_OK);
    cr_assert_eq(zkt_apply(t, pk_buf_slice(&txn)), ZK_ERR_OK);
    pk_buf_deinit(&txn);
}

/* Closes a session via prep+apply. */
static inline void zkt_close(zkt *t, uint64_t sid) {
    pk_buf txn;
    pk_buf_init(&txn);
    cr_assert_eq(zk_prep_close_session(t->p, t->s, sid, ++t->zxid, t->now_ms, &txn), ZK_ERR_OK);
    cr_assert_eq(zkt_apply(t, pk_buf_slice(&txn)), ZK_ERR_OK);
    pk_buf_deinit(&txn);
}

/* Reads the stat of path via exists; returns err. */
static inline int32_t zkt_stat(zkt *t, const char *path, struct wire_stat *st) {
    pk_buf b, out;
    pk_buf_init(&b);
    pk_buf_init(&out);
    struct wire_exists_request r = {pk_slice_str(path), false};
    wire_exists_request_encode(&b, &r);
    zk_read_result rr;
    zk_read(t->s, &zkt_anon, 0, ZK_OP_EXISTS, pk_buf_slice(&b), &out, &rr);
    if (rr.err == ZK_ERR_OK) {
        jute_reader jr;
        jute_reader_init(&jr, out.data, out.len, 1 << 20);
        cr_assert_eq(wire_stat_decode(&jr, st), 0);
        cr_assert(jute_reader_done(&jr));
    }
    pk_buf_deinit(&b);
    pk_buf_deinit(&out);
    return rr.err;
}

/* Serializes the state, loads it back and checks the digest, the stats and that serializing the loaded state
 * gives the same bytes; returns the loaded state (the caller frees it). */
static inline zk_state *zkt_reload(zkt *t) {
    pk_buf a, b;
    pk_buf_init(&a);
    pk_buf_init(&b);
    zk_state_serialize(t->s, &a);
    zk_state *s2 = NULL;
    char err[128] = "";
    cr_assert_eq(zk_state_deserialize(pk_buf_slice(&a), &s2, err, sizeof err), PK_OK, "%s", err);
    cr_assert_eq(zk_state_digest(s2), zk_state_digest(t->s));
    cr_assert_eq(zk_state_digest_full(s2), zk_state_digest(t->s));
    zk_state_serialize(s2, &b);
    cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "a reload serializes to other bytes");
    zk_stats x, y;
    zk_state_stats(t->s, &x);
    zk_state_stats(s2, &y);
    cr_assert_eq(memcmp(&x, &y, sizeof x), 0, "stats differ after a reload");
    pk_buf_deinit(&a);
    pk_buf_deinit(&b);
    return s2;
}

#endif
