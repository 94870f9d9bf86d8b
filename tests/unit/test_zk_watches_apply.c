/* Unit tests for src/zk/watches.c driven by the real state machine: writes go through zk_prep_request and
 * zk_apply, and the resulting zk_events feed zk_watches_trigger (the data flow of DESIGN §4). */
#include <criterion/criterion.h>
#include <stdio.h>

#include "wire/jute.h"
#include "wire/records.h"
#include "zk/zk.h"

static zk_state *S;
static zk_prep *P;
static zk_watches *W;
static zk_events *EV;
static pk_buf OUT;
static uint64_t ZXID;
static char TXT[2048];

/* Fresh state, overlay, watch tables and events per test. */
static void setup(void) {
    S = zk_state_new();
    zk_prep_options opt = {.ttl_enabled = false, .max_buffer_bytes = 1 << 20};
    P = zk_prep_new(&opt);
    W = zk_watches_new();
    EV = zk_events_new();
    pk_buf_init(&OUT);
    ZXID = 0;
}
/* Frees what setup made. */
static void teardown(void) {
    pk_buf_deinit(&OUT);
    zk_events_free(EV);
    zk_watches_free(W);
    zk_prep_free(P);
    zk_state_free(S);
}

TestSuite(zk_watches_apply, .init = setup, .fini = teardown);

/* Resolves and applies one client write, then triggers watches; returns the rendered deliveries. */
static const char *write_op(int32_t op, const pk_buf *body) {
    static const zk_auth_id none[1] = {{{NULL, 0}, {NULL, 0}}};
    zk_auth auth = {none, 0};
    zk_request req = {.session_id = 0, .op = op, .body = pk_buf_slice(body), .auth = &auth};
    pk_buf txn, reply;
    pk_buf_init(&txn);
    pk_buf_init(&reply);
    ZXID++;
    cr_assert_eq(zk_prep_request(P, S, &req, ZXID, 1000, &txn), ZK_ERR_OK);
    zk_apply_result res;
    zk_events_clear(EV);
    cr_assert_eq(zk_apply(S, pk_buf_slice(&txn), &res, &reply, EV), 0);
    cr_assert_eq(res.err, ZK_ERR_OK, "op %d err %d", op, res.err);
    zk_prep_applied(P, ZXID);
    pk_buf_reset(&OUT);
    zk_watches_trigger(W, EV, &OUT);
    size_t n = OUT.len / sizeof(zk_delivery), pos = 0;
    TXT[0] = 0;
    for (size_t i = 0; i < n; i++) {
        zk_delivery d;
        memcpy(&d, OUT.data + i * sizeof d, sizeof d);
        cr_assert_lt(d.event_index, zk_events_count(EV));
        int32_t type;
        pk_slice path;
        zk_events_get(EV, d.event_index, &type, &path);
        cr_assert_eq(type, d.type);
        cr_assert(pk_slice_eq(path, d.path));
        pos += (size_t)snprintf(TXT + pos, sizeof TXT - pos, "%s%llu:%d:%.*s", i ? " " : "",
                                (unsigned long long)d.conn_id, (int)d.type, (int)d.path.len,
                                (const char *)d.path.ptr);
    }
    pk_buf_deinit(&txn);
    pk_buf_deinit(&reply);
    return TXT;
}

/* create path (persistent, world:anyone ALL). */
static const char *create(const char *path) {
    struct wire_acl acl = {.perms = ZK_PERM_ALL, .id = {pk_slice_str("world"), pk_slice_str("anyone")}};
    struct wire_create_request c = {.path = pk_slice_str(path), .data = pk_slice_str("x"),
                                    .acl = {.count = 1, .items = &acl}, .flags = 0};
    pk_buf b;
    pk_buf_init(&b);
    wire_create_request_encode(&b, &c);
    const char *r = write_op(ZK_OP_CREATE, &b);
    pk_buf_deinit(&b);
    return r;
}

/* setData path, any version. */
static const char *set_data(const char *path) {
    struct wire_set_data_request c = {.path = pk_slice_str(path), .data = pk_slice_str("y"), .version = -1};
    pk_buf b;
    pk_buf_init(&b);
    wire_set_data_request_encode(&b, &c);
    const char *r = write_op(ZK_OP_SET_DATA, &b);
    pk_buf_deinit(&b);
    return r;
}

/* delete path, any version. */
static const char *delete(const char *path) {
    struct wire_delete_request c = {.path = pk_slice_str(path), .version = -1};
    pk_buf b;
    pk_buf_init(&b);
    wire_delete_request_encode(&b, &c);
    const char *r = write_op(ZK_OP_DELETE, &b);
    pk_buf_deinit(&b);
    return r;
}

/* Registers a watch. */
static void add(uint64_t conn, const char *path, int table, int mode) {
    zk_watches_add(W, conn, pk_slice_str(path), table, mode);
}

Test(zk_watches_apply, create_set_delete_fire_in_order) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);   /* exists watch on a missing node */
    add(2, "/", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(create("/a"), "1:1:/a 2:4:/");
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(3, "/a", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(set_data("/a"), "1:3:/a");
    cr_assert_str_eq(create("/a/b"), "3:4:/a");
    add(1, "/a/b", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/a/b", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(2, "/a", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(delete("/a/b"), "1:2:/a/b 2:4:/a");
    cr_assert_str_eq(delete("/a"), "");
}

Test(zk_watches_apply, persistent_recursive_over_real_events) {
    add(7, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(8, "/a", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    cr_assert_str_eq(create("/a"), "8:1:/a 7:1:/a");
    cr_assert_str_eq(create("/a/b"), "7:1:/a/b 8:4:/a");
    cr_assert_str_eq(set_data("/a/b"), "7:3:/a/b");
    cr_assert_str_eq(delete("/a/b"), "7:2:/a/b 8:4:/a");
    cr_assert_str_eq(delete("/a"), "8:2:/a 7:2:/a");
    cr_assert_str_eq(create("/a"), "8:1:/a 7:1:/a");
}

/* Appends a vector<ustring> of the NULL-terminated list. */
static void put_strs(pk_buf *b, const char *const *s) {
    int32_t n = 0;
    while (s[n]) n++;
    jute_write_vector_count(b, n);
    for (int32_t i = 0; i < n; i++) jute_write_cstring(b, s[i]);
}

/* Runs setWatches (op 101) for conn with relativeZxid rel and renders the catch-up deliveries. */
static const char *set_watches(uint64_t conn, int64_t rel, const char *const *data, const char *const *exist,
                               const char *const *child, pk_buf *body) {
    pk_buf_reset(body);
    jute_write_long(body, rel);
    put_strs(body, data);
    put_strs(body, exist);
    put_strs(body, child);
    pk_buf_reset(&OUT);
    cr_assert_eq(zk_watches_set(W, S, conn, ZK_OP_SET_WATCHES, pk_buf_slice(body), &OUT), ZK_ERR_OK);
    size_t n = OUT.len / sizeof(zk_delivery), pos = 0;
    TXT[0] = 0;
    for (size_t i = 0; i < n; i++) {
        zk_delivery d;
        memcpy(&d, OUT.data + i * sizeof d, sizeof d);
        cr_assert_eq(d.event_index, SIZE_MAX);
        pos += (size_t)snprintf(TXT + pos, sizeof TXT - pos, "%s%llu:%d:%.*s", i ? " " : "",
                                (unsigned long long)d.conn_id, (int)d.type, (int)d.path.len,
                                (const char *)d.path.ptr);
    }
    return TXT;
}

Test(zk_watches_apply, set_watches_against_real_state) {
    create("/a");        /* zxid 1: /a mzxid 1; / pzxid 1 */
    create("/a/b");      /* zxid 2: /a pzxid 2 */
    set_data("/a/b");    /* zxid 3: /a/b mzxid 3 */
    static const char *const data[] = {"/a", "/a/b", "/gone", NULL};
    static const char *const exist[] = {"/a", "/nope", NULL};
    static const char *const child[] = {"/", "/a", "/a/b", "/gone", NULL};
    pk_buf body;
    pk_buf_init(&body);
    /* client saw zxid 2: /a/b's data changed after that; /a's children did not */
    cr_assert_str_eq(set_watches(4, 2, data, exist, child, &body), "4:3:/a/b 4:2:/gone 4:1:/a 4:2:/gone");
    cr_assert_eq(zk_watches_check_remove(W, 4, pk_slice_str("/a"), ZK_WATCHER_DATA, false), ZK_ERR_OK);
    cr_assert_eq(zk_watches_check_remove(W, 4, pk_slice_str("/nope"), ZK_WATCHER_DATA, false), ZK_ERR_OK);
    cr_assert_eq(zk_watches_check_remove(W, 4, pk_slice_str("/"), ZK_WATCHER_CHILDREN, false), ZK_ERR_OK);
    cr_assert_eq(zk_watches_check_remove(W, 4, pk_slice_str("/a"), ZK_WATCHER_CHILDREN, false), ZK_ERR_OK);
    cr_assert_eq(zk_watches_check_remove(W, 4, pk_slice_str("/a/b"), ZK_WATCHER_CHILDREN, false), ZK_ERR_OK);
    /* client saw only zxid 1: /a's children changed since */
    static const char *const none[] = {NULL};
    static const char *const child_a[] = {"/a", NULL};
    cr_assert_str_eq(set_watches(5, 1, none, none, child_a, &body), "5:4:/a");
    /* the registered watches fire on the next real change */
    cr_assert_str_eq(create("/nope"), "4:1:/nope 4:4:/");
    pk_buf_deinit(&body);
}
