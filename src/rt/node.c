/* rt/node: drives px + store + zk for this server.
 *
 * Write path: rt_node_submit_write() resolves a request into a txn (zk_prep_request, zxid = last assigned + 1)
 * and appends it to the iteration's batch; before the loop sleeps rt_node_flush() proposes the batch as one px
 * value. px asks for the accepted entry to be persisted: its WAL record is encoded into `wal_next`. One WAL
 * write+fdatasync runs at a time (group commit: whatever accumulated meanwhile goes in the next write); it is
 * started only from the before-sleep hook (rt_node_commit), after the iteration's replies were sent. A batch of
 * at most NODE_INLINE_MAX_TXNS txns and NODE_INLINE_MAX_BYTES while the loop has no other event ready is written
 * inline on the loop thread (no thread handoff: at low rates the futex wake, two context switches and the
 * eventfd completion are a measurable share of the per-write CPU); anything else goes to libuv's pool so the
 * loop keeps reading and resolving the next batch during the fdatasync.
 * When it completes, px hears PERSISTED and reports the slot chosen; chosen slots are applied in order
 * (zk_apply per txn), watch events are queued to connections, then the origin's reply.
 * Recovery: meta (promise) + newest valid snapshot + WAL records above it -> px START; the node serves only
 * after everything the log held has been chosen and applied again.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include "rt/log.h"
#include "rt/rt.h"
#include "zk/txn.h"

#define NODE_MAX_BATCH_BYTES (4u << 20)
/* A batch is flushed once it reaches NODE_MAX_BATCH_BYTES, so it holds at most that plus one txn. */
_Static_assert(NODE_MAX_BATCH_BYTES + ZK_TXN_MAX_BYTES + 64u <= PX_MAX_VALUE_BYTES, "a batch must fit one px value");
#define NODE_WAL_SEGMENT_BYTES (64ull << 20)
#define NODE_MAX_RECORD_BYTES (256u << 20)
#define NODE_MAX_TOKENS 4096
#define NODE_EXPIRE_MAX 1024
#define NODE_INLINE_MAX_BYTES (64u << 10) /* largest WAL batch written inline on the loop thread */
#define NODE_INLINE_MAX_TXNS 2           /* most txns in a WAL batch written inline on the loop thread */

struct rt_node {
    rt_server *srv;
    store_disk *disk;
    const char *data_dir;       /* meta + snapshots */
    const char *log_dir;        /* WAL */
    wal *wal;
    px_replica *px;
    px_config pxcfg;
    zk_state *zk;
    zk_prep *prep;
    zk_expiry *expiry;
    zk_events *events;
    pk_buf reply;
    pk_buf deliveries;
    /* batching */
    pk_buf batch;
    uint32_t batch_txns;
    uint64_t last_assigned_zxid;
    rt_map inflight;            /* zxid -> rt_pending (origin of a txn resolved here) */
    rt_map closing;             /* session id -> non-NULL while its closeSession txn is in flight */
    uint64_t next_session_id;
    /* px */
    bool leader;
    bool serving;
    bool applying;              /* apply_chosen is on the stack: nested updates only raise chosen_to */
    uint64_t chosen_to;         /* the highest chosen_to px reported */
    uint64_t applied_slot;
    uint64_t applied_told;      /* the last slot given to px with PX_EV_APPLIED */
    uint64_t recovered_max_slot;
    uv_timer_t px_timer;
    uint64_t ready_tokens[NODE_MAX_TOKENS];
    size_t ready_count;
    /* WAL group commit */
    pk_buf wal_next, wal_busy;
    uint64_t wal_next_first_slot, wal_busy_first_slot;
    uint64_t tokens_next[NODE_MAX_TOKENS], tokens_busy[NODE_MAX_TOKENS];
    size_t tokens_next_count, tokens_busy_count;
    bool wal_writing;
    int wal_result;
    uint64_t wal_drop_below, wal_busy_drop_below;
    uv_work_t wal_work;
    uint64_t wal_writes, wal_bytes;
    uint64_t wal_inline_writes;  /* of wal_writes, written inline on the loop thread */
    uint64_t wal_next_txns;      /* client txns proposed since the last WAL write started (inline heuristic) */
    /* snapshots */
    uint64_t txns_since_snapshot;
    bool snap_writing;
    int snap_result;
    pk_buf snap_bytes;
    uint64_t snap_slot;
    uv_work_t snap_work;
    uint64_t last_reap_ms;
};

static void node_step(rt_node *n, const px_event *ev);

/* Stops the process after a failure that threatens durability or determinism. */
static _Noreturn void node_fatal(const char *what, int err) {
    LOG_ERROR("FATAL: %s: %s (%d); stopping the server (an fsync or apply failure is never retried)", what,
              pk_strerror(err), err);
    _exit(70);
}

/* Returns the applied state (read-only). */
const zk_state *rt_node_state(const rt_node *n) { return n->zk; }

/* True once recovery is done and the node leads (standalone: always, after recovery). */
bool rt_node_serving(const rt_node *n) { return n->serving; }

/* The highest zxid handed out so far (a sync waits until it is applied). */
uint64_t rt_node_last_assigned_zxid(const rt_node *n) { return n->last_assigned_zxid; }

/* Fills 4lw stats. */
void rt_node_stats(const rt_node *n, uint64_t *last_zxid, const char **mode) {
    *last_zxid = zk_state_last_zxid(n->zk);
    *mode = n->pxcfg.node_count == 1 ? "standalone" : (n->leader ? "leader" : "follower");
}

/* ---- WAL group commit on the pool ---- */

/* Pool thread: drop old segments if asked, then write+fdatasync one batch. */
static void wal_work_cb(uv_work_t *req) {
    rt_node *n = req->data;
    int rc = 0;
    if (n->wal_busy_drop_below) rc = wal_drop_below(n->wal, n->wal_busy_drop_below);
    if (rc == 0 && n->wal_busy.len) rc = wal_write_sync(n->wal, n->wal_busy_first_slot, pk_buf_slice(&n->wal_busy));
    n->wal_result = rc;
}

/* Loop thread: the batch is durable; tell px, in order. */
static void wal_after_cb(uv_work_t *req, int status) {
    rt_node *n = req->data;
    PK_ASSERT(n->wal_writing);
    if (status == UV_ECANCELED) return;
    if (n->wal_result != 0) node_fatal("write-ahead log write/fdatasync failed", n->wal_result);
    n->wal_writes++;
    n->wal_bytes += n->wal_busy.len;
    pk_buf_reset(&n->wal_busy);
    n->wal_busy_drop_below = 0;
    /* wal_writing stays set while px hears about this batch: steps may queue more records (and must not start
     * the next write, which would reuse tokens_busy under this loop); the next write starts after it. */
    size_t count = n->tokens_busy_count;
    for (size_t i = 0; i < count; i++) {
        px_event ev = {.kind = PX_EV_PERSISTED, .now_ms = rt_now_ms(n->srv), .u.persisted.token = n->tokens_busy[i]};
        node_step(n, &ev);
    }
    PK_ASSERT(n->tokens_busy_count == count);
    n->tokens_busy_count = 0;
    n->wal_writing = false;
    /* The next write starts before the loop sleeps (rt_node_commit from the before-sleep hook). */
}

/* Moves the waiting records, tokens and segment drop into the busy slot; false when nothing waits or a write
 * is running. */
static bool wal_take_next(rt_node *n) {
    if (n->wal_writing || (n->wal_next.len == 0 && n->wal_drop_below == 0)) return false;
    pk_buf tmp = n->wal_busy;
    n->wal_busy = n->wal_next;
    n->wal_next = tmp;
    pk_buf_reset(&n->wal_next);
    n->wal_busy_first_slot = n->wal_next_first_slot;
    memcpy(n->tokens_busy, n->tokens_next, n->tokens_next_count * sizeof n->tokens_next[0]);
    n->tokens_busy_count = n->tokens_next_count;
    n->tokens_next_count = 0;
    n->wal_busy_drop_below = n->wal_drop_below;
    n->wal_drop_below = 0;
    n->wal_next_txns = 0;
    n->wal_writing = true;
    n->wal_work.data = n;
    return true;
}

/* True when the loop has no I/O, timer or async event ready (its epoll set polls empty). */
static bool loop_idle(rt_node *n) {
    struct pollfd p = {.fd = uv_backend_fd(n->srv->loop), .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

/* Starts the next WAL write if none is running and something is waiting (called only before the loop sleeps).
 * A small batch (at most NODE_INLINE_MAX_TXNS txns and NODE_INLINE_MAX_BYTES) while the loop has nothing else
 * ready is written and fdatasynced inline on the loop thread and completed at once (returns true: replies are
 * waiting to be sent); otherwise the pool writes it and wal_after_cb completes it on a later iteration (returns
 * false). Measured on the 2-core VM: inline saves the handoff at low rates (one txn per fdatasync), but with
 * several txns per batch (e.g. 8 concurrent handshakes) overlapping the next batch's CPU work with the
 * fdatasync on the pool gives ~13% more sessions/s. */
bool rt_node_commit(rt_node *n) {
    bool small = n->wal_next.len <= NODE_INLINE_MAX_BYTES && n->wal_next_txns <= NODE_INLINE_MAX_TXNS &&
                 n->wal_drop_below == 0;
    bool inline_ok = small && n->wal_next.len > 0 && !n->wal_writing && loop_idle(n);
    if (!wal_take_next(n)) return false;
    if (inline_ok) {
        n->wal_inline_writes++;
        wal_work_cb(&n->wal_work);
        wal_after_cb(&n->wal_work, 0);
        return true;
    }
    int rc = uv_queue_work(n->srv->loop, &n->wal_work, wal_work_cb, wal_after_cb);
    PK_ASSERT(rc == 0);
    return false;
}

/* ---- snapshots ---- */

/* Pool thread: write the serialized state and prune old snapshots. */
static void snap_work_cb(uv_work_t *req) {
    rt_node *n = req->data;
    int rc = store_snap_write(n->disk, n->data_dir, n->snap_slot, pk_buf_slice(&n->snap_bytes));
    if (rc == 0) rc = store_snap_prune(n->disk, n->data_dir, n->srv->cfg.autopurge_snap_retain_count);
    n->snap_result = rc;
}

/* Loop thread: a snapshot is on disk; let px compact and the WAL drop what it covers. */
static void snap_after_cb(uv_work_t *req, int status) {
    rt_node *n = req->data;
    n->snap_writing = false;
    if (status == UV_ECANCELED) return;
    if (n->snap_result != 0) {
        LOG_ERROR("snapshot at slot %llu failed: %s; the WAL still holds everything, will retry",
                  (unsigned long long)n->snap_slot, pk_strerror(n->snap_result));
        return;
    }
    LOG_INFO("snapshot at slot %llu written (%zu bytes)", (unsigned long long)n->snap_slot, n->snap_bytes.len);
    bool keep_bytes = n->pxcfg.node_count > 1; /* px serves them to lagging followers */
    px_event ev = {.kind = PX_EV_SNAPSHOT_TAKEN, .now_ms = rt_now_ms(n->srv),
                   .u.snapshot_taken = {.slot = n->snap_slot, .bytes = keep_bytes ? pk_buf_slice(&n->snap_bytes) : (pk_slice){0}}};
    node_step(n, &ev);
    if (!keep_bytes) pk_buf_deinit(&n->snap_bytes);
    /* Give free heap pages back: buffers that grew while the snapshot was serialized and written, and entries
     * px freed, leave holes between long-lived znode chunks (measured: 6 MiB of 184 at 1M znodes). */
    malloc_trim(0); /* ~0.2-0.7 ms at 1M znodes, once per snapCount txns */
    n->wal_drop_below = n->snap_slot + 1; /* dropped by the next WAL write (rt_node_commit) */
}

/* Takes a snapshot at the applied slot when snapCount txns were applied since the last one. */
static void maybe_snapshot(rt_node *n) {
    if (n->snap_writing || n->txns_since_snapshot < n->srv->cfg.snap_count) return;
    pk_buf_reset(&n->snap_bytes);
    zk_state_serialize(n->zk, &n->snap_bytes);
    n->snap_slot = n->applied_slot;
    n->txns_since_snapshot = 0;
    n->snap_writing = true;
    n->snap_work.data = n;
    int rc = uv_queue_work(n->srv->loop, &n->snap_work, snap_work_cb, snap_after_cb);
    PK_ASSERT(rc == 0);
}

/* ---- apply ---- */

/* Sends the watch events of one applied txn to the connections watching, filtered by READ permission. */
static void deliver_events(rt_node *n) {
    rt_server *srv = n->srv;
    if (zk_events_count(n->events) == 0) return;
    pk_buf_reset(&n->deliveries);
    zk_watches_trigger(srv->watches, n->events, &n->deliveries);
    rt_conn_fanout(srv, n->events, (const zk_delivery *)n->deliveries.data, n->deliveries.len / sizeof(zk_delivery));
}

/* Routes the result of one applied txn: session bookkeeping and the origin's reply. */
static void route_result(rt_node *n, const zk_apply_result *res) {
    rt_server *srv = n->srv;
    rt_pending *origin = rt_map_del(&n->inflight, res->zxid);
    if (res->op == ZK_OP_CREATE_SESSION) {
        int32_t timeout_ms = 0;
        uint8_t passwd[16];
        if (zk_session_get(n->zk, res->session_id, &timeout_ms, passwd))
            zk_expiry_touch(n->expiry, res->session_id, timeout_ms, rt_now_ms(srv));
        if (origin) {
            rt_conn *c = rt_map_get(&srv->conns_by_id, origin->conn_id);
            if (c && !c->closed) rt_conn_session_ready(c, res->err == ZK_ERR_OK);
            rt_pending_free(origin);
        }
        return;
    }
    if (res->op == ZK_OP_CLOSE_SESSION) {
        zk_expiry_remove(n->expiry, res->session_id);
        rt_map_del(&n->closing, res->session_id);
        rt_conn *holder = rt_map_get(&srv->conns_by_session, res->session_id);
        rt_conn *origin_conn = origin ? origin->conn : NULL;
        if (origin) rt_conn_complete(origin, res->zxid, res->err, pk_buf_slice(&n->reply));
        /* Any other connection still bound to the session (expiry, or a client that re-attached while the close
         * was in flight) is closed with no message: its client learns of the expiry when it reconnects. */
        if (holder && holder != origin_conn) rt_conn_close(holder);
        return;
    }
    if (origin) rt_conn_complete(origin, res->zxid, res->err, pk_buf_slice(&n->reply));
}

/* Applies every txn of one chosen slot. */
static void apply_slot(rt_node *n, uint64_t slot) {
    px_entry e;
    if (!px_chosen_get(n->px, slot, &e)) node_fatal("chosen slot missing from the replica's log", PK_ENOENT);
    size_t off = 0;
    pk_slice txn;
    uint32_t count = 0;
    for (size_t guard = 0; guard < e.value.len + 1 && zk_batch_next(e.value, &off, &txn); guard++) {
        zk_apply_result res;
        pk_buf_reset(&n->reply);
        zk_events_clear(n->events);
        int rc = zk_apply(n->zk, txn, &res, &n->reply, n->events);
        if (rc != 0) node_fatal("applying a chosen txn failed (state machine divergence)", rc);
        zk_prep_applied(n->prep, res.zxid);
        if (res.zxid > n->last_assigned_zxid) n->last_assigned_zxid = res.zxid;
        deliver_events(n);
        route_result(n, &res);
        count++;
    }
    if (off != e.value.len) node_fatal("malformed batch in a chosen slot", PK_ECORRUPT);
    n->txns_since_snapshot += count;
}

/* Drains connections whose head request is a sync that may now be satisfied. */
static void drain_syncs(rt_server *srv) {
    if (!srv->sync_waiting) return;
    for (pk_list *l = srv->all_conns.next, *next; l != &srv->all_conns; l = next) {
        next = l->next;
        rt_conn *c = PK_CONTAINER_OF(l, rt_conn, all_link);
        if (pk_list_empty(&c->pending)) continue;
        rt_pending *p = PK_CONTAINER_OF(c->pending.next, rt_pending, link);
        if (p->state == RT_PEND_SYNC) rt_conn_drain(c);
    }
}

/* Applies chosen slots up to n->chosen_to, in order. Applying completes requests, and a completion may resolve
 * the connection's next writes and propose a full batch (rt_node_flush) from inside this loop; that update is
 * handled (persisted) but must not apply again: the slot being applied is not counted in applied_slot yet, so a
 * nested apply would apply it twice (tests/integration/test_rt_reentry.py). Nested updates only raise chosen_to,
 * which this loop then reaches. */
static void apply_chosen(rt_node *n) {
    PK_ASSERT(!n->applying);
    n->applying = true;
    for (uint64_t guard = 0; n->applied_slot < n->chosen_to && guard < UINT32_MAX; guard++) {
        apply_slot(n, n->applied_slot + 1);
        n->applied_slot++;
    }
    n->applying = false;
    drain_syncs(n->srv);
    if (n->serving) maybe_snapshot(n);
}

/* ---- px driving ---- */

/* Timer: px asked to be ticked. */
static void on_px_timer(uv_timer_t *t) {
    rt_node *n = t->data;
    px_event ev = {.kind = PX_EV_TICK, .now_ms = rt_now_ms(n->srv)};
    node_step(n, &ev);
}

/* rt_map_each callback: frees an orphaned origin record. */
static void free_origin(void *ctx, uint64_t zxid, void *val) {
    (void)ctx;
    (void)zxid;
    rt_pending_free(val);
}

/* Carries out one px update: persist, (send), apply, timers. */
static void handle_update(rt_node *n, const px_update *u) {
    if (u->persist_promise) {
        store_meta m = {.node_id = n->pxcfg.self_id, .promised_round = u->promise.round, .promised_node = u->promise.node};
        int rc = store_meta_write(n->disk, n->data_dir, &m);
        if (rc != 0) node_fatal("writing the acceptor's promise failed", rc);
    }
    for (size_t i = 0; i < u->persist_count; i++) {
        const px_entry *e = &u->persist_entries[i];
        if (n->wal_next.len == 0) n->wal_next_first_slot = e->slot;
        wal_record rec = {.slot = e->slot, .round = e->ballot.round, .node = e->ballot.node, .value = e->value};
        wal_encode(&n->wal_next, &rec);
    }
    if (u->persist_token) {
        if (u->persist_count > 0) {
            if (n->tokens_next_count >= NODE_MAX_TOKENS) node_fatal("too many unpersisted px updates", PK_EFULL);
            n->tokens_next[n->tokens_next_count++] = u->persist_token;
        } else {
            /* Only a promise: already durable (written synchronously above). */
            if (n->ready_count >= NODE_MAX_TOKENS) node_fatal("too many ready px tokens", PK_EFULL);
            n->ready_tokens[n->ready_count++] = u->persist_token;
        }
    }
    if (u->send_count > 0 && n->pxcfg.node_count == 1) node_fatal("px asked a single node to send messages", PK_EINVAL);
    bool was_leader = n->leader;
    n->leader = u->role == PX_LEADER;
    if (was_leader && !n->leader) {
        /* Speculation made as leader is void: proposals may never be chosen. Requests still waiting get no reply;
         * their connections are closed so clients retry (ZooKeeper drops connections on leader change too). */
        LOG_WARN("lost leadership at ballot (%llu, %u); dropping %zu in-flight writes", (unsigned long long)u->ballot.round,
                 u->ballot.node, n->inflight.count);
        zk_prep_reset(n->prep);
        pk_buf_reset(&n->batch);
        n->batch_txns = 0;
        n->last_assigned_zxid = zk_state_last_zxid(n->zk);
        rt_server *srv = n->srv;
        for (pk_list *l = srv->all_conns.next, *next; l != &srv->all_conns; l = next) {
            next = l->next;
            rt_conn *c = PK_CONTAINER_OF(l, rt_conn, all_link);
            if (c->pending_count) rt_conn_close(c);
        }
        rt_map_each(&n->inflight, free_origin, NULL); /* all orphaned now */
        rt_map_deinit(&n->inflight);
        rt_map_init(&n->inflight);
        rt_map_deinit(&n->closing);
        rt_map_init(&n->closing);
    }
    if (u->chosen_to > n->chosen_to) n->chosen_to = u->chosen_to;
    if (n->chosen_to > n->applied_slot && !n->applying) apply_chosen(n);
    if (u->next_deadline_ms) {
        uint64_t now = rt_now_ms(n->srv);
        uv_timer_start(&n->px_timer, on_px_timer, u->next_deadline_ms > now ? u->next_deadline_ms - now : 0, 0);
    }
}

/* Steps px with one event and carries out the update and any follow-up PERSISTED steps (no recursion). */
static void node_step(rt_node *n, const px_event *ev) {
    px_update u;
    px_step(n->px, ev, &u);
    handle_update(n, &u);
    for (size_t guard = 0; n->ready_count > 0 && guard < 1000000; guard++) {
        uint64_t token = n->ready_tokens[--n->ready_count];
        px_event pe = {.kind = PX_EV_PERSISTED, .now_ms = rt_now_ms(n->srv), .u.persisted.token = token};
        px_step(n->px, &pe, &u);
        handle_update(n, &u);
    }
    if (n->applied_slot > n->applied_told) {
        /* px (an ensemble of one) frees the applied entries: the WAL holds them until the next snapshot */
        n->applied_told = n->applied_slot;
        px_event ae = {.kind = PX_EV_APPLIED, .now_ms = rt_now_ms(n->srv), .u.applied.slot = n->applied_slot};
        px_step(n->px, &ae, &u);
        handle_update(n, &u);
    }
    if (!n->serving && n->leader && n->applied_slot >= n->recovered_max_slot) {
        n->serving = true;
        n->last_assigned_zxid = zk_state_last_zxid(n->zk);
    }
}

/* ---- client-facing entry points ---- */

/* Adds a resolved txn to this iteration's batch and remembers its origin. */
static void batch_add(rt_node *n, rt_pending *origin, uint64_t zxid, const pk_buf *txn) {
    PK_ASSERT(txn->len <= ZK_TXN_MAX_BYTES);
    zk_batch_append(&n->batch, pk_buf_slice(txn));
    n->batch_txns++;
    if (origin) {
        origin->zxid = zxid;
        rt_map_put(&n->inflight, zxid, origin);
    }
    if (n->batch.len >= NODE_MAX_BATCH_BYTES) rt_node_flush(n);
}

/* Resolves a client write and queues its txn. */
int32_t rt_node_submit_write(rt_node *n, rt_conn *c, rt_pending *p, int32_t op, pk_slice body) {
    zk_auth auth = rt_conn_auth(c);
    zk_request req = {.session_id = c->session_id, .op = op, .body = body, .auth = &auth};
    pk_buf txn;
    pk_buf_init(&txn);
    uint64_t zxid = n->last_assigned_zxid + 1;
    int32_t rc = zk_prep_request(n->prep, n->zk, &req, zxid, rt_wall_ms(), &txn);
    if (rc == ZK_ERR_OK) {
        PK_ASSERT(txn.len > 0);
        n->last_assigned_zxid = zxid;
        batch_add(n, p, zxid, &txn);
    }
    pk_buf_deinit(&txn);
    return rc;
}

/* Picks a fresh session id: (server id << 56) | time bits, skipping ids in use. */
static uint64_t new_session_id(rt_node *n) {
    for (int guard = 0; guard < 1000; guard++) {
        uint64_t id = n->next_session_id++;
        int32_t t;
        uint8_t pw[16];
        if (id != 0 && !zk_session_get(n->zk, id, &t, pw)) return id;
    }
    PK_PANIC("no free session id");
}

/* Queues a createSession txn for a handshaking connection. */
void rt_node_create_session(rt_node *n, rt_conn *c, int32_t timeout_ms) {
    uint8_t passwd[16];
    if (getrandom(passwd, sizeof passwd, 0) != (ssize_t)sizeof passwd) node_fatal("getrandom failed", PK_EIO);
    c->session_id = new_session_id(n);
    pk_buf txn;
    pk_buf_init(&txn);
    uint64_t zxid = n->last_assigned_zxid + 1;
    int rc = zk_prep_create_session(n->prep, n->zk, c->session_id, timeout_ms, passwd, zxid, rt_wall_ms(), &txn);
    PK_ASSERT(rc == ZK_ERR_OK);
    n->last_assigned_zxid = zxid;
    rt_pending *p = pk_calloc(1, sizeof *p);
    pk_list_init(&p->link);
    pk_buf_init(&p->body);
    p->op = ZK_OP_CREATE_SESSION;
    p->conn_id = c->id;
    batch_add(n, p, zxid, &txn);
    pk_buf_deinit(&txn);
}

/* True while a closeSession txn for the session is in flight: reconnects to it are refused. */
bool rt_node_session_closing(const rt_node *n, uint64_t session_id) { return rt_map_get(&n->closing, session_id) != NULL; }

/* Queues a closeSession txn: for a client's closeSession (origin p) or an expiry (p == NULL). */
static void close_session(rt_node *n, uint64_t session_id, rt_pending *p) {
    rt_map_put(&n->closing, session_id, n);
    pk_buf txn;
    pk_buf_init(&txn);
    uint64_t zxid = n->last_assigned_zxid + 1;
    int rc = zk_prep_close_session(n->prep, n->zk, session_id, zxid, rt_wall_ms(), &txn);
    PK_ASSERT(rc == ZK_ERR_OK);
    n->last_assigned_zxid = zxid;
    batch_add(n, p, zxid, &txn);
    pk_buf_deinit(&txn);
}

/* The client asked to close its session. */
int32_t rt_node_close_session(rt_node *n, rt_conn *c, rt_pending *p) {
    LOG_DEBUG("closing session " RT_SID_FMT " at the client's request", RT_SID(c->session_id));
    zk_expiry_remove(n->expiry, c->session_id);
    close_session(n, c->session_id, p);
    return ZK_ERR_OK;
}

/* Records activity of a session. */
void rt_node_touch(rt_node *n, uint64_t session_id, int32_t timeout_ms) {
    if (session_id) zk_expiry_touch(n->expiry, session_id, timeout_ms, rt_now_ms(n->srv));
}

/* Proposes the batch resolved during this loop iteration. */
void rt_node_flush(rt_node *n) {
    if (n->batch_txns == 0 || !n->leader) return;
    px_event ev = {.kind = PX_EV_PROPOSE, .now_ms = rt_now_ms(n->srv), .u.propose.value = pk_buf_slice(&n->batch)};
    px_update u;
    px_step(n->px, &ev, &u);
    if (u.propose_status == PX_PROPOSE_FULL) return; /* retried after more slots are chosen */
    if (u.propose_status != PX_PROPOSE_OK) node_fatal("the only replica refused a proposal", PK_EINVAL);
    n->wal_next_txns += n->batch_txns;
    pk_buf_reset(&n->batch);
    n->batch_txns = 0;
    handle_update(n, &u);
}

/* True while a full batch waits for room in px's window. */
bool rt_node_saturated(const rt_node *n) { return n->batch.len >= NODE_MAX_BATCH_BYTES; }

/* Periodic work: expire sessions, reap containers and TTL nodes. */
void rt_node_tick(rt_node *n) {
    if (!n->serving || !n->leader || rt_node_saturated(n)) return; /* expiry waits while the batch is full */
    uint64_t ids[NODE_EXPIRE_MAX];
    size_t count = zk_expiry_due(n->expiry, rt_now_ms(n->srv), ids, NODE_EXPIRE_MAX);
    for (size_t i = 0; i < count; i++) {
        int32_t t;
        uint8_t pw[16];
        if (!zk_session_get(n->zk, ids[i], &t, pw)) continue;
        LOG_INFO("expiring session " RT_SID_FMT ", timeout of %d ms exceeded", RT_SID(ids[i]), t);
        close_session(n, ids[i], NULL);
    }
    uint64_t now = rt_now_ms(n->srv);
    if (now - n->last_reap_ms >= n->srv->cfg.container_check_interval_ms) {
        n->last_reap_ms = now;
        pk_buf paths;
        pk_buf_init(&paths);
        size_t max = n->srv->cfg.container_max_per_minute;
        size_t found = zk_reap_candidates(n->zk, rt_wall_ms(), max, &paths);
        size_t off = 0;
        for (size_t i = 0; i < found && off < paths.len; i++) {
            const char *path = (const char *)paths.data + off;
            size_t len = strnlen(path, paths.len - off);
            pk_buf txn;
            pk_buf_init(&txn);
            uint64_t zxid = n->last_assigned_zxid + 1;
            if (zk_prep_delete_container(n->prep, n->zk, (pk_slice){(const uint8_t *)path, len}, zxid, rt_wall_ms(), &txn) == ZK_ERR_OK) {
                n->last_assigned_zxid = zxid;
                batch_add(n, NULL, zxid, &txn);
            }
            pk_buf_deinit(&txn);
            off += len + 1;
        }
        if (found) LOG_INFO("reaping %zu empty containers / expired TTL nodes", found);
        pk_buf_deinit(&paths);
    }
}

/* ---- recovery ---- */

typedef struct recovered {
    px_entry *entries;
    size_t count, cap;
    pk_buf arena;               /* values; entries hold offsets until the end */
    uint64_t min_slot;          /* records at or below it are covered by the snapshot */
} recovered;

/* WAL replay callback: keeps records above the snapshot (the later one wins per slot). */
static int collect_record(void *ctx, const wal_record *rec) {
    recovered *r = ctx;
    if (rec->slot <= r->min_slot) return 0;
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->entries = pk_realloc(r->entries, r->cap * sizeof *r->entries);
    }
    px_entry *e = &r->entries[r->count++];
    e->slot = rec->slot;
    e->ballot = (px_ballot){rec->round, rec->node};
    e->value = (pk_slice){(const uint8_t *)(uintptr_t)r->arena.len, rec->value.len};
    pk_buf_append(&r->arena, rec->value.ptr, rec->value.len);
    return 0;
}

/* A recovered record's slot and its position in the log, for a stable order. */
typedef struct slot_pos {
    uint64_t slot;
    size_t pos;
} slot_pos;

/* Orders (slot, log position) keys. */
static int cmp_slot_pos(const void *a, const void *b) {
    const slot_pos *x = a, *y = b;
    if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* Sorts by slot and keeps the last record written for each slot; turns value offsets into pointers. */
static void finish_recovered(recovered *r) {
    size_t n = r->count ? r->count : 1;
    slot_pos *keys = pk_malloc(n * sizeof *keys);
    px_entry *sorted = pk_malloc(n * sizeof *sorted);
    for (size_t i = 0; i < r->count; i++) keys[i] = (slot_pos){r->entries[i].slot, i};
    qsort(keys, r->count, sizeof *keys, cmp_slot_pos);
    size_t out = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (i + 1 < r->count && keys[i + 1].slot == keys[i].slot) continue; /* a later record supersedes */
        sorted[out] = r->entries[keys[i].pos];
        uintptr_t off = (uintptr_t)sorted[out].value.ptr;
        sorted[out].value.ptr = r->arena.data ? r->arena.data + off : NULL;
        out++;
    }
    PK_ASSERT(out <= r->count);
    if (out) memcpy(r->entries, sorted, out * sizeof *sorted);
    r->count = out;
    free(keys);
    free(sorted);
}

/* px's window of unchosen slots: 256, or PK_TEST_WINDOW_SLOTS (tests make the window fill with it). */
static uint32_t node_window_slots(void) {
    const char *v = getenv("PK_TEST_WINDOW_SLOTS");
    if (v == NULL || *v == '\0') return 256;
    long w = strtol(v, NULL, 10);
    if (w < 1 || w > 4096) return 256;
    LOG_WARN("PK_TEST_WINDOW_SLOTS=%ld: px's window of unchosen slots is %ld (a test setting)", w, w);
    return (uint32_t)w;
}

/* Loads meta, the newest snapshot and the WAL tail, and starts px with them. */
int rt_node_open(rt_server *srv, rt_node **out) {
    rt_node *n = pk_calloc(1, sizeof *n);
    const rt_config *cfg = &srv->cfg;
    n->srv = srv;
    n->last_reap_ms = rt_now_ms(srv); /* the first container scan is one interval after start, as ZooKeeper's */
    n->disk = store_disk_posix();
    n->data_dir = cfg->data_dir;
    n->log_dir = cfg->data_log_dir;
    rt_map_init(&n->inflight);
    rt_map_init(&n->closing);
    pk_buf_init(&n->batch);
    pk_buf_init(&n->reply);
    pk_buf_init(&n->deliveries);
    pk_buf_init(&n->wal_next);
    pk_buf_init(&n->wal_busy);
    pk_buf_init(&n->snap_bytes);
    n->events = zk_events_new();
    n->expiry = zk_expiry_new(cfg->tick_time_ms);
    zk_prep_options popt = {.ttl_enabled = cfg->extended_types_enabled, .max_buffer_bytes = cfg->jute_max_buffer};
    n->prep = zk_prep_new(&popt);
    uv_timer_init(srv->loop, &n->px_timer);
    n->px_timer.data = n;
    *out = n;

    int rc = n->disk->ops->mkdir(n->disk, n->data_dir);
    if (rc == 0 && strcmp(n->log_dir, n->data_dir)) rc = n->disk->ops->mkdir(n->disk, n->log_dir);
    if (rc != 0) {
        LOG_ERROR("cannot create data directory %s: %s", n->data_dir, pk_strerror(rc));
        return -1;
    }
    store_meta meta;
    rc = store_meta_read(n->disk, n->data_dir, &meta);
    if (rc == PK_ENOENT) {
        meta = (store_meta){.node_id = cfg->server_id};
        rc = store_meta_write(n->disk, n->data_dir, &meta);
        LOG_INFO("initialized a new data directory %s for server %u", n->data_dir, cfg->server_id);
    }
    if (rc != 0) {
        LOG_ERROR("cannot read or write %s/meta: %s", n->data_dir, pk_strerror(rc));
        return -1;
    }
    if (meta.node_id != cfg->server_id) {
        LOG_ERROR("data directory %s belongs to server %u, but this is server %u", n->data_dir, meta.node_id,
                  cfg->server_id);
        return -1;
    }
    char errmsg[512] = "";
    pk_buf snap;
    pk_buf_init(&snap);
    uint64_t snap_slot = 0;
    rc = store_snap_load_latest(n->disk, n->data_dir, &snap, &snap_slot, errmsg, sizeof errmsg);
    if (errmsg[0]) LOG_WARN("snapshots: %s", errmsg);
    if (rc == PK_ENOENT) {
        n->zk = zk_state_new();
    } else if (rc == 0) {
        rc = zk_state_deserialize(pk_buf_slice(&snap), &n->zk, errmsg, sizeof errmsg);
        if (rc != 0) {
            LOG_ERROR("snapshot at slot %llu is unusable: %s", (unsigned long long)snap_slot, errmsg);
            pk_buf_deinit(&snap);
            return -1;
        }
        LOG_INFO("loaded snapshot at slot %llu (%zu bytes, last zxid 0x%llx)", (unsigned long long)snap_slot, snap.len,
                 (unsigned long long)zk_state_last_zxid(n->zk));
    } else {
        LOG_ERROR("cannot load snapshots from %s: %s", n->data_dir, errmsg[0] ? errmsg : pk_strerror(rc));
        pk_buf_deinit(&snap);
        return -1;
    }
    pk_buf_deinit(&snap);
    n->applied_slot = n->applied_told = n->chosen_to = snap_slot;

    wal_options wopt = {.segment_bytes = NODE_WAL_SEGMENT_BYTES, .max_record_bytes = NODE_MAX_RECORD_BYTES};
    rc = wal_open(n->disk, n->log_dir, &wopt, &n->wal);
    if (rc != 0) {
        LOG_ERROR("cannot open the write-ahead log in %s: %s", n->log_dir, pk_strerror(rc));
        return -1;
    }
    recovered r = {.min_slot = snap_slot};
    pk_buf_init(&r.arena);
    errmsg[0] = '\0';
    rc = wal_replay(n->wal, collect_record, &r, errmsg, sizeof errmsg);
    if (rc != 0) {
        LOG_ERROR("write-ahead log recovery failed: %s", errmsg[0] ? errmsg : pk_strerror(rc));
        free(r.entries);
        pk_buf_deinit(&r.arena);
        return -1;
    }
    if (errmsg[0]) LOG_WARN("write-ahead log: %s", errmsg);
    finish_recovered(&r);
    n->recovered_max_slot = r.count ? r.entries[r.count - 1].slot : snap_slot;
    LOG_INFO("write-ahead log: %zu entries above the snapshot (slots up to %llu)", r.count,
             (unsigned long long)n->recovered_max_slot);

    n->pxcfg = (px_config){
        .self_id = cfg->server_id,
        .node_ids = {cfg->server_id},
        .node_count = 1,
        .heartbeat_interval_ms = cfg->tick_time_ms,
        .election_timeout_ms = (uint64_t)cfg->tick_time_ms * 5,
        .window_slots = node_window_slots(),
        .seed = (uint64_t)rt_wall_ms() ^ ((uint64_t)getpid() << 32),
    };
    n->px = px_replica_new(&n->pxcfg);
    n->next_session_id = ((uint64_t)cfg->server_id << 56) | ((((uint64_t)rt_wall_ms()) << 24) >> 8);
    px_durable d = {.promised = {meta.promised_round, meta.promised_node}, .accepted = r.entries,
                    .accepted_count = r.count, .snapshot_slot = snap_slot, .disk_lost = false};
    px_event ev = {.kind = PX_EV_START, .now_ms = rt_now_ms(srv), .u.start = &d};
    node_step(n, &ev);
    free(r.entries);
    pk_buf_deinit(&r.arena);
    malloc_trim(0); /* the snapshot file, the WAL tail and px's copies of it were freed: give the holes back */
    return 0;
}

/* Frees the node (after the loop stopped). */
void rt_node_close(rt_node *n) {
    if (n->wal) wal_close(n->wal);
    if (n->px) px_replica_free(n->px);
    if (n->zk) zk_state_free(n->zk);
    zk_prep_free(n->prep);
    zk_expiry_free(n->expiry);
    zk_events_free(n->events);
    pk_buf_deinit(&n->batch);
    pk_buf_deinit(&n->reply);
    pk_buf_deinit(&n->deliveries);
    pk_buf_deinit(&n->wal_next);
    pk_buf_deinit(&n->wal_busy);
    pk_buf_deinit(&n->snap_bytes);
    rt_map_deinit(&n->inflight);
    rt_map_deinit(&n->closing);
    free(n);
}
