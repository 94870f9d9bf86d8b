/* Unit tests for src/zk/watches.c: registration, trigger rules (§11.2), check/removeWatches (§5), setWatches
 * catch-up (§11.4), connection removal, wchs/wchc/wchp output (§15). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "wire/jute.h"
#include "zk/zk.h"

/* Internal entry points of watches.c (not in zk.h). */
typedef bool (*zk_watches_lookup_fn)(void *ctx, pk_slice path, uint64_t *mzxid, uint64_t *pzxid);
int32_t zk_watches_set_lookup(zk_watches *w, zk_watches_lookup_fn lookup, void *ctx, uint64_t conn_id, int32_t op,
                              pk_slice body, pk_buf *out);
void zk_watches_trigger_event(zk_watches *w, int32_t type, pk_slice path, size_t index, pk_buf *out);

enum { CREATED = ZK_EVENT_NODE_CREATED, DELETED = ZK_EVENT_NODE_DELETED, CHANGED = ZK_EVENT_NODE_DATA_CHANGED,
       CHILDREN = ZK_EVENT_NODE_CHILDREN_CHANGED };

static zk_watches *W;
static pk_buf OUT;
static char TXT[4096];

/* Fresh tables and output buffer per test. */
static void setup(void) {
    W = zk_watches_new();
    pk_buf_init(&OUT);
}
/* Frees what setup made. */
static void teardown(void) {
    zk_watches_free(W);
    pk_buf_deinit(&OUT);
}

/* Short names for the event types in rendered deliveries. */
static const char *tname(int32_t t) {
    switch (t) {
    case CREATED: return "C";
    case DELETED: return "D";
    case CHANGED: return "M";
    case CHILDREN: return "K";
    default: return "?";
    }
}

/* Renders deliveries in buf as "conn:T:path " items (in order). */
static const char *render(const pk_buf *b) {
    size_t n = b->len / sizeof(zk_delivery);
    cr_assert_eq(b->len % sizeof(zk_delivery), 0);
    size_t pos = 0;
    TXT[0] = 0;
    for (size_t i = 0; i < n; i++) {
        zk_delivery d;
        memcpy(&d, b->data + i * sizeof d, sizeof d);
        pos += (size_t)snprintf(TXT + pos, sizeof TXT - pos, "%s%llu:%s:%.*s", i ? " " : "",
                                (unsigned long long)d.conn_id, tname(d.type), (int)d.path.len,
                                (const char *)d.path.ptr);
        cr_assert_lt(pos, sizeof TXT);
    }
    return TXT;
}

/* Fires one event and returns its rendered deliveries. */
static const char *fire(int32_t type, const char *path) {
    pk_buf_reset(&OUT);
    zk_watches_trigger_event(W, type, pk_slice_str(path), 7, &OUT);
    return render(&OUT);
}

/* Registers a watch. */
static void add(uint64_t conn, const char *path, int table, int mode) {
    zk_watches_add(W, conn, pk_slice_str(path), table, mode);
}
/* checkWatches. */
static int32_t check(uint64_t conn, const char *path, int32_t type) {
    return zk_watches_check_remove(W, conn, pk_slice_str(path), type, false);
}
/* removeWatches. */
static int32_t rm(uint64_t conn, const char *path, int32_t type) {
    return zk_watches_check_remove(W, conn, pk_slice_str(path), type, true);
}
/* Asserts the wchs counters. */
static void stats(uint64_t c, uint64_t p, uint64_t t) {
    uint64_t conns = 99, paths = 99, total = 99;
    zk_watches_stats(W, &conns, &paths, &total);
    cr_assert_eq(conns, c, "conns %llu want %llu", (unsigned long long)conns, (unsigned long long)c);
    cr_assert_eq(paths, p, "paths %llu want %llu", (unsigned long long)paths, (unsigned long long)p);
    cr_assert_eq(total, t, "total %llu want %llu", (unsigned long long)total, (unsigned long long)t);
}

TestSuite(zk_watches, .init = setup, .fini = teardown);

Test(zk_watches, standard_data_watch_fires_once) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(CHANGED, "/a"), "1:M:/a");
    cr_assert_str_eq(fire(CHANGED, "/a"), "");
    stats(0, 0, 0);
}

Test(zk_watches, delivery_fields) {
    add(5, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    pk_buf_reset(&OUT);
    zk_watches_trigger_event(W, CHANGED, pk_slice_str("/a"), 42, &OUT);
    cr_assert_eq(OUT.len, sizeof(zk_delivery));
    zk_delivery d;
    memcpy(&d, OUT.data, sizeof d);
    cr_assert_eq(d.conn_id, 5);
    cr_assert_eq(d.type, CHANGED);
    cr_assert_eq(d.event_index, 42);
    cr_assert(pk_slice_eq(d.path, pk_slice_str("/a")));
}

Test(zk_watches, exist_watch_fires_on_create) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(CHILDREN, "/a"), "");
    cr_assert_str_eq(fire(CREATED, "/a/b"), "");
    cr_assert_str_eq(fire(CREATED, "/a"), "1:C:/a");
    cr_assert_str_eq(fire(DELETED, "/a"), "");
}

Test(zk_watches, child_watch_fires_on_children_changed_only) {
    add(1, "/q", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(CHANGED, "/q"), "");
    cr_assert_str_eq(fire(CREATED, "/q"), "");
    cr_assert_str_eq(fire(CHILDREN, "/q/x"), "");
    cr_assert_str_eq(fire(CHILDREN, "/q"), "1:K:/q");
    cr_assert_str_eq(fire(CHILDREN, "/q"), "");
}

Test(zk_watches, child_watch_on_root) {
    add(3, "/", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(CHILDREN, "/"), "3:K:/");
}

Test(zk_watches, delete_fires_data_and_child_once_per_conn) {
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(2, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(3, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(DELETED, "/p"), "1:D:/p 3:D:/p 2:D:/p");
    /* everything standard was used up, including conn 1's suppressed child watch */
    cr_assert_eq(check(1, "/p", ZK_WATCHER_CHILDREN), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(1, "/p", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    cr_assert_str_eq(fire(DELETED, "/p"), "");
    stats(0, 0, 0);
}

Test(zk_watches, same_conn_registered_twice_is_one_watch) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    stats(1, 1, 1);
    cr_assert_str_eq(fire(CHANGED, "/a"), "1:M:/a");
    cr_assert_str_eq(fire(CHANGED, "/a"), "");
}

Test(zk_watches, persistent_stays_and_sits_in_both_tables) {
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    cr_assert_str_eq(fire(CHANGED, "/p"), "1:M:/p");
    cr_assert_str_eq(fire(CHANGED, "/p"), "1:M:/p");
    cr_assert_str_eq(fire(CHILDREN, "/p"), "1:K:/p");
    cr_assert_str_eq(fire(CHILDREN, "/p"), "1:K:/p");
    cr_assert_str_eq(fire(CREATED, "/p/c"), "");
    /* delete: data table notifies, child table is suppressed for the same connection */
    cr_assert_str_eq(fire(DELETED, "/p"), "1:D:/p");
    cr_assert_str_eq(fire(CREATED, "/p"), "1:C:/p");
    cr_assert_eq(check(1, "/p", ZK_WATCHER_PERSISTENT), ZK_ERR_OK);
    stats(1, 1, 1);
}

Test(zk_watches, persistent_table_argument_does_not_matter) {
    add(1, "/p", ZK_WATCH_CHILD, ZK_WMODE_PERSISTENT);
    add(2, "/p", ZK_WATCH_NONE, ZK_WMODE_PERSISTENT);
    cr_assert_str_eq(fire(CHANGED, "/p"), "1:M:/p 2:M:/p");
    cr_assert_str_eq(fire(CHILDREN, "/p"), "1:K:/p 2:K:/p");
    add(3, "/r", ZK_WATCH_CHILD, ZK_WMODE_PERSISTENT_RECURSIVE);
    cr_assert_str_eq(fire(CHILDREN, "/r"), "");
    cr_assert_str_eq(fire(CHANGED, "/r"), "3:M:/r");
}

Test(zk_watches, standard_and_persistent_together) {
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    cr_assert_str_eq(fire(CHANGED, "/p"), "1:M:/p");
    cr_assert_eq(check(1, "/p", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(1, "/p", ZK_WATCHER_PERSISTENT), ZK_ERR_OK);
    cr_assert_str_eq(fire(CHANGED, "/p"), "1:M:/p");
}

Test(zk_watches, recursive_on_ancestors_including_root) {
    add(1, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(2, "/a", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(3, "/a/b", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(4, "/ab", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    cr_assert_str_eq(fire(CREATED, "/a/b/c"), "3:C:/a/b/c 2:C:/a/b/c 1:C:/a/b/c");
    cr_assert_str_eq(fire(CHANGED, "/a/b"), "3:M:/a/b 2:M:/a/b 1:M:/a/b");
    cr_assert_str_eq(fire(DELETED, "/a"), "2:D:/a 1:D:/a");
    cr_assert_str_eq(fire(CHANGED, "/ab/x"), "4:M:/ab/x 1:M:/ab/x");
    cr_assert_str_eq(fire(CHANGED, "/"), "1:M:/");
    cr_assert_str_eq(fire(CHANGED, "/zz"), "1:M:/zz");
    /* recursive watches never produce NodeChildrenChanged */
    cr_assert_str_eq(fire(CHILDREN, "/a"), "");
    cr_assert_str_eq(fire(CHILDREN, "/"), "");
    stats(4, 4, 4);
}

Test(zk_watches, one_notification_per_conn_per_table) {
    add(1, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(1, "/a/b", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/a/b", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    add(2, "/a/b", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(2, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    cr_assert_str_eq(fire(CHANGED, "/a/b"), "1:M:/a/b 2:M:/a/b");
    /* standard ones were used up; the persistent and recursive ones still fire */
    cr_assert_eq(check(1, "/a/b", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(2, "/a/b", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
    cr_assert_str_eq(fire(CHANGED, "/a/b"), "1:M:/a/b 2:M:/a/b");
    /* delete: persistent child part of /a/b (conn 1) suppressed by its data notification */
    cr_assert_str_eq(fire(DELETED, "/a/b"), "1:D:/a/b 2:D:/a/b");
}

Test(zk_watches, recursive_conn_still_gets_child_table_event) {
    /* one per connection per TABLE: a recursive data notification does not suppress NodeChildrenChanged */
    add(1, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(1, "/q", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(CREATED, "/q/x"), "1:C:/q/x");
    cr_assert_str_eq(fire(CHILDREN, "/q"), "1:K:/q");
}

Test(zk_watches, delete_suppression_only_within_one_trigger) {
    add(1, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(1, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    /* the recursive data notification counts as "notified by the data table" for the delete trigger */
    cr_assert_str_eq(fire(DELETED, "/p"), "1:D:/p");
    cr_assert_eq(check(1, "/p", ZK_WATCHER_CHILDREN), ZK_ERR_NO_WATCHER);
    add(2, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    cr_assert_str_eq(fire(DELETED, "/p"), "1:D:/p 2:D:/p");
}

Test(zk_watches, recursive_removed_stops_ancestor_events) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    cr_assert_str_eq(fire(CHANGED, "/a/b"), "1:M:/a/b");
    cr_assert_eq(rm(1, "/a", ZK_WATCHER_PERSISTENT_RECURSIVE), ZK_ERR_OK);
    cr_assert_str_eq(fire(CHANGED, "/a/b"), "");
    cr_assert_str_eq(fire(CHANGED, "/a"), "");
    stats(0, 0, 0);
}

Test(zk_watches, check_watches_each_type) {
    /* conn 1: standard data; conn 2: standard child; conn 3: persistent; conn 4: recursive */
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(2, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(3, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    add(4, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    static const int32_t want[4][5] = {
        /* Children, Data, Any, Persistent, PersistentRecursive */
        {-121, 0, 0, -121, -121},
        {0, -121, 0, -121, -121},
        {-121, -121, 0, 0, -121},
        {-121, -121, 0, -121, 0},
    };
    for (int c = 0; c < 4; c++)
        for (int t = 1; t <= 5; t++)
            cr_assert_eq(check((uint64_t)c + 1, "/p", t), want[c][t - 1], "conn %d type %d", c + 1, t);
    /* nothing was removed by checking */
    stats(3, 1, 3);
    cr_assert_eq(check(1, "/other", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(9, "/p", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(1, "/p", 0), ZK_ERR_MARSHALLING);
    cr_assert_eq(check(1, "/p", 6), ZK_ERR_MARSHALLING);
}

Test(zk_watches, remove_watches_children_and_data) {
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_CHILDREN), ZK_ERR_OK);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_CHILDREN), ZK_ERR_NO_WATCHER);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_DATA), ZK_ERR_OK);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_PERSISTENT_RECURSIVE), ZK_ERR_NO_WATCHER);
    /* the persistent watch is untouched */
    cr_assert_str_eq(fire(CHILDREN, "/p"), "1:K:/p");
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_PERSISTENT), ZK_ERR_OK);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_PERSISTENT), ZK_ERR_NO_WATCHER);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    cr_assert_str_eq(fire(CHANGED, "/p"), "");
    stats(0, 0, 0);
}

Test(zk_watches, remove_persistent_clears_both_tables) {
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_PERSISTENT), ZK_ERR_OK);
    cr_assert_str_eq(fire(CHILDREN, "/p"), "");
    cr_assert_str_eq(fire(CHANGED, "/p"), "");
    cr_assert_eq(check(1, "/p", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
}

Test(zk_watches, remove_any_clears_every_mode) {
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/p", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    add(1, "/p", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(2, "/p", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_ANY), ZK_ERR_OK);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    cr_assert_str_eq(fire(CHANGED, "/p/x"), "");
    cr_assert_str_eq(fire(CHILDREN, "/p"), "");
    cr_assert_str_eq(fire(CHANGED, "/p"), "2:M:/p");
}

Test(zk_watches, remove_only_child_standard_keeps_child_persistent) {
    add(1, "/p", ZK_WATCH_CHILD, ZK_WMODE_PERSISTENT);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_CHILDREN), ZK_ERR_NO_WATCHER);
    cr_assert_eq(rm(1, "/p", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
    cr_assert_str_eq(fire(CHILDREN, "/p"), "1:K:/p");
}

Test(zk_watches, remove_conn_drops_all_its_watches) {
    char path[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(path, sizeof path, "/n%d", i);
        add(1, path, ZK_WATCH_DATA, ZK_WMODE_STANDARD);
        add(1, path, ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
        if (i % 10 == 0) add(2, path, ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    }
    add(1, "/", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    stats(2, 1001, 1101);
    zk_watches_remove_conn(W, 1);
    zk_watches_remove_conn(W, 1);
    zk_watches_remove_conn(W, 77);
    stats(1, 100, 100);
    cr_assert_str_eq(fire(CHANGED, "/n1"), "");
    cr_assert_str_eq(fire(CHILDREN, "/n0"), "");
    cr_assert_str_eq(fire(CHANGED, "/n10"), "2:M:/n10");
    cr_assert_eq(check(1, "/n5", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
}

Test(zk_watches, stats_count_data_table_only) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/b", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(2, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(3, "/c", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(2, "/d", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    stats(2, 2, 3);
    fire(CHILDREN, "/d");
    stats(2, 2, 3);
    fire(CHANGED, "/a");
    stats(1, 1, 1);
}

/* Maps conn ids to session ids for dumps: conn 1 -> 0x1f, 2 -> 0xabc..., else the id itself. */
static uint64_t sid_of(void *ctx, uint64_t conn) {
    cr_assert_eq(ctx, (void *)&OUT);
    if (conn == 1) return 0x1f;
    if (conn == 2) return 0xabcdef0123456789ULL;
    return conn;
}

Test(zk_watches, dump_by_connection_bytes) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(2, "/b", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/c", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
    add(1, "/d", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);   /* child table: not dumped */
    add(3, "/e", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);   /* conn with no data watches: not dumped */
    add(2, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    pk_buf b;
    pk_buf_init(&b);
    zk_watches_dump(W, false, sid_of, &OUT, &b);
    const char *want = "0x1f\n\t/a\n\t/c\n0xabcdef0123456789\n\t/b\n\t/a\n\n";
    cr_assert_eq(b.len, strlen(want));
    cr_assert(memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len, (const char *)b.data);
    pk_buf_deinit(&b);
}

Test(zk_watches, dump_by_path_bytes) {
    add(1, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(2, "/b", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    add(1, "/d", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
    add(2, "/a", ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
    add(0, "/a", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
    pk_buf b;
    pk_buf_init(&b);
    zk_watches_dump(W, true, sid_of, &OUT, &b);
    const char *want = "/a\n\t0x1f\n\t0xabcdef0123456789\n\t0x0\n/b\n\t0xabcdef0123456789\n\n";
    cr_assert_eq(b.len, strlen(want));
    cr_assert(memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len, (const char *)b.data);
    pk_buf_deinit(&b);
}

Test(zk_watches, dump_empty_is_blank_line) {
    pk_buf b;
    pk_buf_init(&b);
    zk_watches_dump(W, false, sid_of, &OUT, &b);
    zk_watches_dump(W, true, sid_of, &OUT, &b);
    cr_assert_eq(b.len, 2);
    cr_assert(memcmp(b.data, "\n\n", 2) == 0);
    pk_buf_deinit(&b);
}

/* ---- setWatches ---- */

/* Fake tree for catch-up: /m (mzxid 10, pzxid 5), /k (mzxid 5, pzxid 10), /o (mzxid 5, pzxid 5). */
static bool fake_lookup(void *ctx, pk_slice path, uint64_t *mzxid, uint64_t *pzxid) {
    cr_assert_eq(ctx, (void *)&TXT);
    if (pk_slice_eq(path, pk_slice_str("/m"))) { *mzxid = 10; *pzxid = 5; return true; }
    if (pk_slice_eq(path, pk_slice_str("/k"))) { *mzxid = 5; *pzxid = 10; return true; }
    if (pk_slice_eq(path, pk_slice_str("/o"))) { *mzxid = 5; *pzxid = 5; return true; }
    return false;
}

/* Appends a vector<ustring> of the NULL-terminated list. */
static void put_strs(pk_buf *b, const char *const *s) {
    int32_t n = 0;
    while (s[n]) n++;
    jute_write_vector_count(b, n);
    for (int32_t i = 0; i < n; i++) jute_write_cstring(b, s[i]);
}

static const char *const NONE[] = {NULL};

Test(zk_watches, set_watches_catch_up) {
    static const char *const data[] = {"/m", "/k", "/o", "/gone", NULL};
    static const char *const exist[] = {"/m", "/gone2", NULL};
    static const char *const child[] = {"/m", "/k", "/o", "/gone3", NULL};
    pk_buf body;
    pk_buf_init(&body);
    jute_write_long(&body, 5);
    put_strs(&body, data);
    put_strs(&body, exist);
    put_strs(&body, child);
    pk_buf_reset(&OUT);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 9, ZK_OP_SET_WATCHES, pk_buf_slice(&body), &OUT),
                 ZK_ERR_OK);
    cr_assert_str_eq(render(&OUT), "9:M:/m 9:D:/gone 9:C:/m 9:K:/k 9:D:/gone3");
    for (size_t i = 0; i < OUT.len / sizeof(zk_delivery); i++) {
        zk_delivery d;
        memcpy(&d, OUT.data + i * sizeof d, sizeof d);
        cr_assert_eq(d.event_index, SIZE_MAX);
        cr_assert(d.path.ptr >= body.data && d.path.ptr + d.path.len <= body.data + body.len);
    }
    /* registered: data /k, /o; exist /gone2; child /m, /o */
    cr_assert_eq(check(9, "/k", ZK_WATCHER_DATA), ZK_ERR_OK);
    cr_assert_eq(check(9, "/o", ZK_WATCHER_DATA), ZK_ERR_OK);
    cr_assert_eq(check(9, "/gone2", ZK_WATCHER_DATA), ZK_ERR_OK);
    cr_assert_eq(check(9, "/m", ZK_WATCHER_CHILDREN), ZK_ERR_OK);
    cr_assert_eq(check(9, "/o", ZK_WATCHER_CHILDREN), ZK_ERR_OK);
    cr_assert_eq(check(9, "/m", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(9, "/k", ZK_WATCHER_CHILDREN), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(9, "/gone", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    cr_assert_eq(check(9, "/gone3", ZK_WATCHER_ANY), ZK_ERR_NO_WATCHER);
    stats(1, 3, 3);
    cr_assert_str_eq(fire(CREATED, "/gone2"), "9:C:/gone2");
    pk_buf_deinit(&body);
}

Test(zk_watches, set_watches_rel_zxid_boundary) {
    /* equal zxids are not "changed": mzxid 10 with rel 10 registers */
    static const char *const data[] = {"/m", NULL};
    static const char *const child[] = {"/k", NULL};
    pk_buf body;
    pk_buf_init(&body);
    jute_write_long(&body, 10);
    put_strs(&body, data);
    put_strs(&body, NONE);
    put_strs(&body, child);
    pk_buf_reset(&OUT);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 9, ZK_OP_SET_WATCHES, pk_buf_slice(&body), &OUT),
                 ZK_ERR_OK);
    cr_assert_str_eq(render(&OUT), "");
    cr_assert_eq(check(9, "/m", ZK_WATCHER_DATA), ZK_ERR_OK);
    cr_assert_eq(check(9, "/k", ZK_WATCHER_CHILDREN), ZK_ERR_OK);
    pk_buf_deinit(&body);
}

Test(zk_watches, set_watches2_persistent_no_catch_up) {
    static const char *const pers[] = {"/gone", "/m", NULL};
    static const char *const rec[] = {"/r", NULL};
    pk_buf body;
    pk_buf_init(&body);
    jute_write_long(&body, 0);
    put_strs(&body, NONE);
    put_strs(&body, NONE);
    put_strs(&body, NONE);
    put_strs(&body, pers);
    put_strs(&body, rec);
    pk_buf_reset(&OUT);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 4, ZK_OP_SET_WATCHES2, pk_buf_slice(&body), &OUT),
                 ZK_ERR_OK);
    cr_assert_eq(OUT.len, 0);
    cr_assert_eq(check(4, "/gone", ZK_WATCHER_PERSISTENT), ZK_ERR_OK);
    cr_assert_eq(check(4, "/m", ZK_WATCHER_PERSISTENT), ZK_ERR_OK);
    cr_assert_eq(check(4, "/r", ZK_WATCHER_PERSISTENT_RECURSIVE), ZK_ERR_OK);
    cr_assert_str_eq(fire(CHILDREN, "/m"), "4:K:/m");
    cr_assert_str_eq(fire(CREATED, "/r/x"), "4:C:/r/x");
    pk_buf_deinit(&body);
}

Test(zk_watches, set_watches_null_vectors_are_empty) {
    pk_buf body;
    pk_buf_init(&body);
    jute_write_long(&body, 0);
    jute_write_vector_count(&body, -1);
    jute_write_vector_count(&body, -1);
    jute_write_vector_count(&body, -1);
    pk_buf_reset(&OUT);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 4, ZK_OP_SET_WATCHES, pk_buf_slice(&body), &OUT),
                 ZK_ERR_OK);
    cr_assert_eq(OUT.len, 0);
    stats(0, 0, 0);
    pk_buf_deinit(&body);
}

Test(zk_watches, set_watches_malformed_registers_nothing) {
    static const char *const data[] = {"/k", "/o", NULL};
    pk_buf body;
    pk_buf_init(&body);
    jute_write_long(&body, 100);
    put_strs(&body, data);
    put_strs(&body, NONE);
    /* child vector missing entirely */
    pk_buf_reset(&OUT);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 4, ZK_OP_SET_WATCHES, pk_buf_slice(&body), &OUT),
                 ZK_ERR_MARSHALLING);
    /* a setWatches2 op with a setWatches body is malformed too */
    put_strs(&body, NONE);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 4, ZK_OP_SET_WATCHES2, pk_buf_slice(&body), &OUT),
                 ZK_ERR_MARSHALLING);
    /* a count larger than the bytes left */
    pk_buf bad;
    pk_buf_init(&bad);
    jute_write_long(&bad, 0);
    jute_write_vector_count(&bad, 1000);
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 4, ZK_OP_SET_WATCHES, pk_buf_slice(&bad), &OUT),
                 ZK_ERR_MARSHALLING);
    cr_assert_eq(OUT.len, 0);
    stats(0, 0, 0);
    /* the well-formed setWatches body works */
    cr_assert_eq(zk_watches_set_lookup(W, fake_lookup, &TXT, 4, ZK_OP_SET_WATCHES, pk_buf_slice(&body), &OUT),
                 ZK_ERR_OK);
    stats(1, 2, 2);
    pk_buf_deinit(&bad);
    pk_buf_deinit(&body);
}

/* ---- a randomized cross-check against a naive model ---- */

enum { M_CONNS = 4, M_PATHS = 7 };
static const char *const MPATH[M_PATHS] = {"/", "/a", "/a/b", "/a/b/c", "/b", "/b/a", "/ab"};
/* model[conn][path][table] = mode bits (1 std, 2 pers, 4 rec) */
static uint8_t MODEL[M_CONNS][M_PATHS][2];

/* True when anc is a strict ancestor of p in MPATH terms. */
static bool is_ancestor(const char *anc, const char *p) {
    size_t n = strlen(anc);
    if (strcmp(anc, "/") == 0) return strcmp(p, "/") != 0;
    return strncmp(anc, p, n) == 0 && p[n] == '/';
}

/* Naive ZooKeeper trigger over MODEL, rendering the expected deliveries. */
static void model_fire(int32_t type, int pi, char *txt, size_t cap) {
    size_t pos = 0;
    txt[0] = 0;
    bool data_notified[M_CONNS] = {0};
    bool data_table = type != CHILDREN, child_table = type == CHILDREN || type == DELETED;
    if (data_table) {
        for (int c = 0; c < M_CONNS; c++) {
            if (MODEL[c][pi][0]) {
                data_notified[c] = true;
                MODEL[c][pi][0] &= (uint8_t)~1;
            }
        }
        for (int c = 0; c < M_CONNS; c++)
            for (int a = 0; a < M_PATHS; a++)
                if ((MODEL[c][a][0] & 4) && is_ancestor(MPATH[a], MPATH[pi])) data_notified[c] = true;
        for (int c = 0; c < M_CONNS; c++)
            if (data_notified[c]) pos += (size_t)snprintf(txt + pos, cap - pos, "%d:%s ", c, tname(type));
    }
    if (child_table) {
        for (int c = 0; c < M_CONNS; c++) {
            if (!MODEL[c][pi][1]) continue;
            MODEL[c][pi][1] &= (uint8_t)~1;
            if (!(type == DELETED && data_notified[c]))
                pos += (size_t)snprintf(txt + pos, cap - pos, "%d:%s ", c, tname(type));
        }
    }
}

/* Orders u64 values ascending (qsort). */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(zk_watches, randomized_against_model) {
    pk_prng r;
    pk_prng_seed(&r, 12345);
    memset(MODEL, 0, sizeof MODEL);
    char want[512], got[512];
    for (int step = 0; step < 4000; step++) {
        int c = (int)pk_prng_below(&r, M_CONNS), p = (int)pk_prng_below(&r, M_PATHS);
        int op = (int)pk_prng_below(&r, 10);
        if (op <= 3) {
            int kind = (int)pk_prng_below(&r, 4);
            if (kind == 0) { add((uint64_t)c, MPATH[p], ZK_WATCH_DATA, ZK_WMODE_STANDARD); MODEL[c][p][0] |= 1; }
            if (kind == 1) { add((uint64_t)c, MPATH[p], ZK_WATCH_CHILD, ZK_WMODE_STANDARD); MODEL[c][p][1] |= 1; }
            if (kind == 2) {
                add((uint64_t)c, MPATH[p], ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
                MODEL[c][p][0] |= 2;
                MODEL[c][p][1] |= 2;
            }
            if (kind == 3 && pk_prng_chance(&r, 1, 3)) {
                add((uint64_t)c, MPATH[p], ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
                MODEL[c][p][0] |= 4;
            }
        } else if (op == 4) {
            int32_t t = 1 + (int32_t)pk_prng_below(&r, 5);
            uint8_t d = MODEL[c][p][0], ch = MODEL[c][p][1];
            bool has = t == 1 ? (ch & 1) : t == 2 ? (d & 1) : t == 3 ? (d || ch) : t == 4 ? (d & 2) : (d & 4);
            cr_assert_eq(check((uint64_t)c, MPATH[p], t), has ? 0 : ZK_ERR_NO_WATCHER, "step %d", step);
            uint8_t nd = d, nc = ch;
            if (t == 1) nc &= (uint8_t)~1;
            if (t == 2) nd &= (uint8_t)~1;
            if (t == 3) nd = nc = 0;
            if (t == 4) { nd &= (uint8_t)~2; nc &= (uint8_t)~2; }
            if (t == 5) nd &= (uint8_t)~4;
            bool changed = nd != d || nc != ch;
            cr_assert_eq(rm((uint64_t)c, MPATH[p], t), changed ? 0 : ZK_ERR_NO_WATCHER, "step %d", step);
            MODEL[c][p][0] = nd;
            MODEL[c][p][1] = nc;
        } else if (op == 5 && pk_prng_chance(&r, 1, 8)) {
            zk_watches_remove_conn(W, (uint64_t)c);
            memset(MODEL[c], 0, sizeof MODEL[c]);
        } else {
            static const int32_t types[4] = {CREATED, DELETED, CHANGED, CHILDREN};
            int32_t type = types[pk_prng_below(&r, 4)];
            model_fire(type, p, want, sizeof want);
            pk_buf_reset(&OUT);
            zk_watches_trigger_event(W, type, pk_slice_str(MPATH[p]), 0, &OUT);
            /* order within one table is by registration; compare as sorted multisets per table */
            size_t n = OUT.len / sizeof(zk_delivery), pos = 0;
            uint64_t conns[2 * M_CONNS];
            cr_assert_leq(n, 2 * M_CONNS);
            for (size_t i = 0; i < n; i++) {
                zk_delivery dl;
                memcpy(&dl, OUT.data + i * sizeof dl, sizeof dl);
                cr_assert_eq(dl.type, type);
                cr_assert(pk_slice_eq(dl.path, pk_slice_str(MPATH[p])));
                conns[i] = dl.conn_id;
            }
            /* each connection appears at most once per trigger, so compare sorted lists */
            qsort(conns, n, sizeof conns[0], cmp_u64);
            got[0] = 0;
            for (size_t i = 0; i < n; i++)
                pos += (size_t)snprintf(got + pos, sizeof got - pos, "%d:%s ", (int)conns[i], tname(type));
            /* sort the model's list the same way */
            int wc[2 * M_CONNS], wn = 0;
            for (const char *s = want; *s; s = strchr(s, ' ') + 1) wc[wn++] = atoi(s);
            for (int i = 1; i < wn; i++)
                for (int j = i; j > 0 && wc[j - 1] > wc[j]; j--) { int t = wc[j]; wc[j] = wc[j - 1]; wc[j - 1] = t; }
            pos = 0;
            want[0] = 0;
            for (int i = 0; i < wn; i++) pos += (size_t)snprintf(want + pos, sizeof want - pos, "%d:%s ", wc[i], tname(type));
            cr_assert_str_eq(got, want, "step %d type %d path %s", step, type, MPATH[p]);
        }
        /* stats agree with the model */
        uint64_t mc = 0, mp = 0, mt = 0;
        for (int pp = 0; pp < M_PATHS; pp++) {
            bool any = false;
            for (int cc = 0; cc < M_CONNS; cc++) if (MODEL[cc][pp][0]) { any = true; mt++; }
            mp += any;
        }
        for (int cc = 0; cc < M_CONNS; cc++) {
            bool any = false;
            for (int pp = 0; pp < M_PATHS; pp++) if (MODEL[cc][pp][0]) any = true;
            mc += any;
        }
        stats(mc, mp, mt);
    }
}

/* Recycled watch and connection records (a fired standard watch is freed, the re-arm creates it again) come back
 * clean: modes, counters and per-connection state are those of a fresh record, across many fire/re-arm rounds
 * with more records than the spare pool holds, and with connections closing in between. */
Test(zk_watches, rearm_after_fire_reuses_records_cleanly) {
    char path[32];
    for (int round = 0; round < 4; round++) {
        for (uint64_t c = 1; c <= 1500; c++) add(c, "/r", ZK_WATCH_DATA, ZK_WMODE_STANDARD);
        add(2000, "/r", ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
        stats(1500, 1, 1500);
        pk_buf_reset(&OUT);
        zk_watches_trigger_event(W, CHANGED, pk_slice_str("/r"), 0, &OUT);
        cr_assert_eq(OUT.len / sizeof(zk_delivery), 1500, "round %d", round);
        stats(0, 0, 0);
        /* The child watch survived the data event, untouched by the records recycled around it. */
        cr_assert_eq(check(2000, "/r", ZK_WATCHER_CHILDREN), ZK_ERR_OK);
        cr_assert_eq(check(2000, "/r", ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
        cr_assert_eq(rm(2000, "/r", ZK_WATCHER_CHILDREN), ZK_ERR_OK);
        /* Recycled records on other paths and connections carry nothing over. */
        for (uint64_t c = 1; c <= 20; c++) {
            snprintf(path, sizeof path, "/r%d/%llu", round, (unsigned long long)c);
            add(c + 10000, path, ZK_WATCH_CHILD, ZK_WMODE_STANDARD);
            cr_assert_eq(check(c + 10000, path, ZK_WATCHER_DATA), ZK_ERR_NO_WATCHER);
            cr_assert_eq(check(c + 10000, path, ZK_WATCHER_CHILDREN), ZK_ERR_OK);
            cr_assert_str_eq(fire(CHANGED, path), "");
            zk_watches_remove_conn(W, c + 10000);
        }
        stats(0, 0, 0);
    }
}
