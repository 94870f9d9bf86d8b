/* pk-bench workloads: the epoll loop, closed-loop and fixed-rate request issue, reply accounting. */
#include "tools/bench/bench.h"

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_EVENTS 256
#define BENCH_LOOP_BOUND 2000000000ull   /* iterations; far above any sane run */

/* State of one run: the sessions, the window, the schedule and workload-specific counters. */
typedef struct bench_ctx {
    const bench_opts *o;
    bench_result *res;
    bench_conn *conns;
    uint32_t nconns;
    int ep;
    uint8_t *value;
    char (*paths)[BENCH_PATH_MAX];   /* data nodes read/written */
    uint32_t npaths;
    uint32_t *dirty;                 /* connections with output to flush */
    uint32_t ndirty;
    bool *is_dirty;
    uint64_t t_start, t_win_begin, t_win_end;
    bool in_window, stopping, window_done;
    double cpu0, self0, busy0;
    pk_prng prng;
    /* fixed rate */
    uint64_t next_slot_ns;
    double interval_ns;
    uint64_t slots_sent;
    uint32_t rr;
    /* watch fan-out */
    uint32_t armed, notified;
    bool round_live;
    uint64_t round_sent_ns;
    /* load */
    uint64_t load_next;
    uint32_t open_count;
    bool failed;
} bench_ctx;

/* Marks a connection as having output to flush at the end of this loop iteration. */
static void mark_dirty(bench_ctx *x, bench_conn *c) {
    PK_ASSERT(c->index < x->nconns);
    if (x->is_dirty[c->index]) return;
    x->is_dirty[c->index] = true;
    x->dirty[x->ndirty++] = c->index;
    PK_ASSERT(x->ndirty <= x->nconns);
}

/* Sends a getData of path (optionally leaving a watch). */
static void send_get(bench_ctx *x, bench_conn *c, const char *path, bool watch, uint8_t kind,
                     uint64_t intended) {
    struct wire_request req = {.op = ZK_OP_GET_DATA};
    req.u.get_data.path = pk_slice_str(path);
    req.u.get_data.watch = watch;
    bench_conn_send(c, &req, kind, intended);
    mark_dirty(x, c);
}

/* Sends a setData of the bench value to path (any version). */
static void send_set(bench_ctx *x, bench_conn *c, const char *path, uint64_t intended) {
    struct wire_request req = {.op = ZK_OP_SET_DATA};
    req.u.set_data.path = pk_slice_str(path);
    req.u.set_data.data = (pk_slice){x->value, x->o->size};
    req.u.set_data.version = -1;
    bench_conn_send(c, &req, BENCH_K_SET, intended);
    mark_dirty(x, c);
}

/* The world:anyone ACL every node is created with. */
static struct wire_acl_vec open_acl(void) {
    static const struct wire_acl acl = {
        .perms = ZK_PERM_ALL, .id = {.scheme = {(const uint8_t *)"world", 5}, .id = {(const uint8_t *)"anyone", 6}}};
    return (struct wire_acl_vec){.count = 1, .items = &acl};
}

/* Sends a create of path with the bench value and the given flags. */
static void send_create(bench_ctx *x, bench_conn *c, const char *path, int32_t flags, uint8_t kind,
                        uint64_t intended) {
    struct wire_request req = {.op = ZK_OP_CREATE};
    req.u.create.path = pk_slice_str(path);
    req.u.create.data = (pk_slice){x->value, x->o->size};
    req.u.create.acl = open_acl();
    req.u.create.flags = flags;
    bench_conn_send(c, &req, kind, intended);
    mark_dirty(x, c);
}

/* Sends a delete of path (any version). */
static void send_delete(bench_ctx *x, bench_conn *c, pk_slice path, uint64_t intended) {
    struct wire_request req = {.op = ZK_OP_DELETE};
    req.u.del.path = path;
    req.u.del.version = -1;
    bench_conn_send(c, &req, BENCH_K_DELETE, intended);
    mark_dirty(x, c);
}

/* Picks the data node for the next read or write of a session. */
static const char *next_path(bench_ctx *x, bench_conn *c) {
    PK_ASSERT(x->npaths > 0);
    uint64_t i = (c->seq++ * x->nconns + c->index) % x->npaths;
    PK_ASSERT(i < x->npaths);
    return x->paths[i];
}

/* Issues one request of the workload on c (closed loop and fixed rate share this). */
static void issue(bench_ctx *x, bench_conn *c, uint64_t intended) {
    const bench_opts *o = x->o;
    PK_ASSERT(c->state == BENCH_C_OPEN);
    char path[BENCH_PATH_MAX];
    switch (o->workload) {
    case BENCH_READ: send_get(x, c, next_path(x, c), false, BENCH_K_GET, intended); break;
    case BENCH_WRITE: send_set(x, c, next_path(x, c), intended); break;
    case BENCH_MIXED:
        if (pk_prng_below(&x->prng, 100) < o->read_pct) send_get(x, c, next_path(x, c), false, BENCH_K_GET, intended);
        else send_set(x, c, next_path(x, c), intended);
        break;
    case BENCH_CREATE_DELETE:
        snprintf(path, sizeof(path), "%s/e/s%u-", o->prefix, c->index);
        send_create(x, c, path, ZK_CREATE_EPHEMERAL_SEQUENTIAL, BENCH_K_CREATE_EPH, intended);
        break;
    case BENCH_LOAD:
        PK_ASSERT(x->load_next < o->count);
        bench_node_path(o, x->load_next++, path, sizeof(path));
        send_create(x, c, path, ZK_CREATE_PERSISTENT, BENCH_K_CREATE, intended);
        break;
    default: PK_PANIC("pk-bench: workload %d has no request to issue", (int)o->workload);
    }
}

/* Counts one successful operation and, inside the window, its latency. */
static void count_ok(bench_ctx *x, uint64_t intended, uint64_t now) {
    x->res->total_ok++;
    if (!x->in_window) return;
    x->res->ops++;
    bench_hist_add(&x->res->hist, now >= intended ? now - intended : 0);
}

/* Counts an unexpected error reply (printing the first few). */
static void count_error(bench_ctx *x, const char *what, int32_t err) {
    if (x->res->errors < 5) fprintf(stderr, "pk-bench: %s failed: ZooKeeper error %d\n", what, err);
    x->res->errors++;
}

/* Fires the next fan-out round when every watcher has its watch set again. */
static void watch_maybe_fire(bench_ctx *x, uint64_t now) {
    uint32_t w = x->o->watchers;
    if (x->stopping || x->round_live || x->armed < w) return;
    bench_conn *writer = &x->conns[w];
    if (writer->state != BENCH_C_OPEN || writer->ring_len > 0) return;
    x->armed = 0;
    x->notified = 0;
    x->round_live = true;
    x->round_sent_ns = now;
    send_set(x, writer, x->paths[0], now);
}

/* Handles a watch notification (xid -1) on a watcher session. */
static void on_event(bench_ctx *x, bench_conn *c, uint64_t now) {
    PK_ASSERT(x->o->workload == BENCH_WATCH);
    if (c->index >= x->o->watchers || !x->round_live) {
        count_error(x, "unexpected notification", 0);
        return;
    }
    if (x->in_window) {
        x->res->events++;
        x->res->ops++;
        bench_hist_add(&x->res->hist, now - x->round_sent_ns);
    }
    x->res->total_ok++;
    if (++x->notified == x->o->watchers) x->round_live = false;
    if (!x->stopping) send_get(x, c, x->paths[0], true, BENCH_K_WATCH_GET, now);
    watch_maybe_fire(x, now);
}

/* Checks a getData reply body against the bench value (when --verify). */
static bool verify_get(bench_ctx *x, jute_reader *r) {
    struct wire_get_data_response resp;
    if (wire_get_data_response_decode(r, &resp) < 0) return false;
    if (!x->o->verify) return true;
    return resp.data.len == x->o->size && memcmp(resp.data.ptr, x->value, x->o->size) == 0;
}

/* Sends closeSession on c (connect workload and the final close). */
static void send_close(bench_ctx *x, bench_conn *c, uint64_t now) {
    struct wire_request req = {.op = ZK_OP_CLOSE_SESSION};
    bench_conn_send(c, &req, BENCH_K_CLOSE, now);
    c->state = BENCH_C_CLOSING;
    mark_dirty(x, c);
}

/* Registers c with epoll (after a successful open). */
static void watch_fd(bench_ctx *x, bench_conn *c) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c->index};
    c->want_write = true;
    int rc = epoll_ctl(x->ep, EPOLL_CTL_ADD, c->fd, &ev);
    PK_ASSERT(rc == 0);
}

/* Opens connection c (non-blocking) and registers it. */
static void open_conn(bench_ctx *x, bench_conn *c, uint64_t now) {
    int rc = bench_conn_open(c, x->o->host, x->o->port, 30000);
    if (rc < 0) PK_PANIC("pk-bench: connect to %s:%u: %s", x->o->host, x->o->port, strerror(-rc));
    c->started_ns = now;
    watch_fd(x, c);
    mark_dirty(x, c);
}

/* Handles the end of a session's handshake. */
static void on_open(bench_ctx *x, bench_conn *c, uint64_t now) {
    const bench_opts *o = x->o;
    x->open_count++;
    if (o->workload == BENCH_CONNECT) {
        count_ok(x, c->started_ns, now);
        send_close(x, c, now);
        return;
    }
    if (o->workload == BENCH_WATCH) {
        if (c->index < o->watchers) send_get(x, c, x->paths[0], true, BENCH_K_WATCH_GET, now);
        watch_maybe_fire(x, now);
        return;
    }
    if (o->rate > 0) return;   /* the schedule issues requests */
    for (uint32_t i = 0; i < o->depth && !x->stopping; i++) {
        if (o->workload == BENCH_LOAD && x->load_next >= o->count) break;
        issue(x, c, now);
    }
}

/* After a reply in a closed-loop run, keeps the session's pipeline full. */
static void refill(bench_ctx *x, bench_conn *c, uint64_t now) {
    if (x->stopping || x->o->rate > 0) return;
    if (x->o->workload == BENCH_LOAD && x->load_next >= x->o->count) return;
    issue(x, c, now);
}

/* Handles one reply (not a notification) for the in-flight request f. */
static void on_reply(bench_ctx *x, bench_conn *c, bench_inflight f, int32_t err, jute_reader *r, uint64_t now) {
    switch (f.kind) {
    case BENCH_K_GET:
        if (err != 0 || !verify_get(x, r)) count_error(x, "getData", err ? err : -3);
        else count_ok(x, f.intended_ns, now);
        refill(x, c, now);
        break;
    case BENCH_K_SET:
        if (err != 0) count_error(x, "setData", err);
        else if (x->o->workload != BENCH_WATCH) count_ok(x, f.intended_ns, now);
        if (x->o->workload == BENCH_WATCH) watch_maybe_fire(x, now);
        else refill(x, c, now);
        break;
    case BENCH_K_CREATE_EPH: {
        struct wire_create_response cr;
        if (err != 0 || wire_create_response_decode(r, &cr) < 0) {
            count_error(x, "create", err);
            refill(x, c, now);
            break;
        }
        x->res->creates_ok++;
        count_ok(x, f.intended_ns, now);
        send_delete(x, c, cr.path, now);   /* always: leave no node behind */
        break;
    }
    case BENCH_K_DELETE:
        if (err != 0) count_error(x, "delete", err);
        else count_ok(x, f.intended_ns, now);
        refill(x, c, now);
        break;
    case BENCH_K_CREATE:
        if (err != 0) count_error(x, "create", err);
        else {
            x->res->creates_ok++;
            count_ok(x, f.intended_ns, now);
        }
        refill(x, c, now);
        break;
    case BENCH_K_WATCH_GET:
        if (err != 0) count_error(x, "getData(watch)", err);
        else x->armed++;
        watch_maybe_fire(x, now);
        break;
    case BENCH_K_CLOSE:
        x->open_count--;
        epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
        bench_conn_close(c);
        if (x->o->workload == BENCH_CONNECT && !x->stopping) open_conn(x, c, now);
        break;
    default: PK_PANIC("pk-bench: reply for unknown kind %u", f.kind);
    }
}

/* Parses every complete frame buffered on c. */
static void drain_frames(bench_ctx *x, bench_conn *c, uint64_t now) {
    for (uint32_t i = 0; i < 1000000 && c->fd >= 0; i++) {
        pk_slice frame = bench_conn_peek_frame(c);
        if (frame.ptr == NULL) return;
        if (c->state == BENCH_C_CONNECTING || c->state == BENCH_C_HANDSHAKE) {
            if (bench_conn_handshake_done(c, frame) < 0) PK_PANIC("pk-bench: handshake refused (session %u)", c->index);
            bench_conn_pop_frame(c);
            on_open(x, c, now);
            continue;
        }
        jute_reader r;
        jute_reader_init_slice(&r, frame, BENCH_MAX_FRAME);
        struct wire_reply_header h;
        if (wire_reply_header_decode(&r, &h) < 0) PK_PANIC("pk-bench: short reply header");
        if (h.xid == ZK_XID_NOTIFICATION) {
            bench_conn_pop_frame(c);
            on_event(x, c, now);
            continue;
        }
        if (h.xid == ZK_XID_PING) { bench_conn_pop_frame(c); continue; }
        if (c->ring_len == 0) PK_PANIC("pk-bench: reply xid %d with nothing in flight", h.xid);
        bench_inflight f = bench_conn_ring_pop(c);
        if (f.xid != h.xid) PK_PANIC("pk-bench: reply xid %d, expected %d (session %u)", h.xid, f.xid, c->index);
        on_reply(x, c, f, h.err, &r, now);
        if (c->fd >= 0 && f.kind != BENCH_K_CLOSE) bench_conn_pop_frame(c);
    }
}

/* Reads from c and handles what arrived; a closed or broken connection ends the run with an error. */
static void on_readable(bench_ctx *x, bench_conn *c, uint64_t now) {
    PK_ASSERT(c->fd >= 0);
    for (int i = 0; i < 16; i++) {
        ssize_t n = bench_conn_fill(c);
        if (n == -EAGAIN || n == -EWOULDBLOCK) return;
        if (n <= 0) {
            if (c->state == BENCH_C_CLOSING && c->ring_len == 0) return;
            fprintf(stderr, "pk-bench: session %u: connection lost (%s)\n", c->index, n == 0 ? "EOF" : strerror((int)-n));
            x->failed = true;
            epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
            bench_conn_close(c);
            return;
        }
        drain_frames(x, c, now);
        if (c->fd < 0 || c->in_len - c->in_pos < BENCH_IN_CAP / 2) return;
    }
}

/* Flushes every dirty connection and adjusts EPOLLOUT interest. */
static void flush_dirty(bench_ctx *x) {
    PK_ASSERT(x->ndirty <= x->nconns);
    for (uint32_t i = 0; i < x->ndirty; i++) {
        bench_conn *c = &x->conns[x->dirty[i]];
        x->is_dirty[c->index] = false;
        if (c->fd < 0 || c->state == BENCH_C_CONNECTING) continue;
        if (bench_conn_flush(c) < 0) {
            fprintf(stderr, "pk-bench: session %u: write failed\n", c->index);
            x->failed = true;
            continue;
        }
        bool want = c->out.len > 0;
        if (want != c->want_write) {
            struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = c->index};
            epoll_ctl(x->ep, EPOLL_CTL_MOD, c->fd, &ev);
            c->want_write = want;
        }
    }
    x->ndirty = 0;
}

/* Handles writability: a finished connect, or room for buffered output. */
static void on_writable(bench_ctx *x, bench_conn *c) {
    PK_ASSERT(c->fd >= 0);
    if (c->state == BENCH_C_CONNECTING) c->state = BENCH_C_HANDSHAKE;
    x->is_dirty[c->index] = false;   /* re-marked below: flush now */
    mark_dirty(x, c);
}

/* Sends every fixed-rate request whose slot has come (round robin over open sessions). */
static void send_due(bench_ctx *x, uint64_t now) {
    if (x->o->rate <= 0 || x->stopping) return;
    for (uint32_t n = 0; n < 100000 && x->next_slot_ns <= now; n++) {
        bench_conn *c = NULL;
        for (uint32_t k = 0; k < x->nconns && c == NULL; k++) {
            bench_conn *cand = &x->conns[x->rr++ % x->nconns];
            if (cand->state == BENCH_C_OPEN) c = cand;
        }
        if (c == NULL) return;
        if (c->ring_len >= BENCH_RING_CAP - 1) PK_PANIC("pk-bench: server cannot keep up with --rate");
        if (now - x->next_slot_ns > 1000000u) x->res->late_sends++;
        issue(x, c, x->next_slot_ns);
        x->slots_sent++;
        x->next_slot_ns = x->t_start + (uint64_t)((double)x->slots_sent * x->interval_ns);
    }
}

/* Opens or closes the measured window as time passes. */
static void advance_window(bench_ctx *x, uint64_t now) {
    if (!x->in_window && !x->window_done && now >= x->t_win_begin) {
        x->in_window = true;
        x->cpu0 = bench_proc_cpu_s(x->o->pids, x->o->pid_count);
        x->self0 = bench_self_cpu_s();
        x->busy0 = bench_machine_busy_s();
        x->t_win_begin = now;
    }
    if (x->in_window && now >= x->t_win_end) {
        double cpu1 = bench_proc_cpu_s(x->o->pids, x->o->pid_count);
        x->res->server_cpu_s = (x->cpu0 >= 0 && cpu1 >= 0) ? cpu1 - x->cpu0 : -1;
        x->res->client_cpu_s = bench_self_cpu_s() - x->self0;
        double busy = bench_machine_busy_s() - x->busy0;
        x->res->other_cpu_s = busy - x->res->client_cpu_s - (x->res->server_cpu_s > 0 ? x->res->server_cpu_s : 0);
        x->res->window_s = (double)(now - x->t_win_begin) / 1e9;
        x->in_window = false;
        x->window_done = true;
        x->stopping = true;
    }
}

/* True when no request is in flight on any session and no fan-out round awaits notifications. */
static bool all_idle(const bench_ctx *x) {
    if (x->round_live) return false;
    for (uint32_t i = 0; i < x->nconns; i++) {
        const bench_conn *c = &x->conns[i];
        if (c->fd < 0) continue;
        if (c->ring_len > 0 || c->state == BENCH_C_CONNECTING || c->state == BENCH_C_HANDSHAKE) return false;
    }
    return true;
}

/* Waits for events up to the next deadline and dispatches them. */
static void poll_once(bench_ctx *x, uint64_t now) {
    uint64_t wake = now + 100000000u;
    if (!x->window_done) wake = PK_MIN(wake, x->in_window ? x->t_win_end : x->t_win_begin);
    if (x->o->rate > 0 && !x->stopping) wake = PK_MIN(wake, x->next_slot_ns);
    uint64_t wait_ns = wake > now ? wake - now : 0;
    struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000u), .tv_nsec = (long)(wait_ns % 1000000000u)};
    struct epoll_event evs[BENCH_MAX_EVENTS];
    int n = epoll_pwait2(x->ep, evs, BENCH_MAX_EVENTS, &ts, NULL);
    if (n < 0 && errno != EINTR) PK_PANIC("pk-bench: epoll_pwait2: %s", strerror(errno));
    uint64_t t = bench_now_ns();
    for (int i = 0; i < n; i++) {
        bench_conn *c = &x->conns[evs[i].data.u32];
        if (c->fd < 0) continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR)) on_writable(x, c);
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(x, c, t);
    }
}

/* The main loop: runs until the window has passed and every request is answered. */
static int run_loop(bench_ctx *x) {
    uint64_t drain_deadline = 0;
    for (uint64_t iter = 0; iter < BENCH_LOOP_BOUND; iter++) {
        uint64_t now = bench_now_ns();
        advance_window(x, now);
        send_due(x, now);
        flush_dirty(x);
        if (x->failed) return PK_EIO;
        if (x->o->workload == BENCH_LOAD && !x->window_done && x->load_next >= x->o->count && all_idle(x)) {
            x->t_win_end = now;
            advance_window(x, now);
        }
        if (x->stopping) {
            if (drain_deadline == 0) drain_deadline = now + (uint64_t)(x->o->timeout_s * 1e9);
            if (all_idle(x)) return 0;
            if (now > drain_deadline) {
                fprintf(stderr, "pk-bench: requests still unanswered %.1f s after the window\n", x->o->timeout_s);
                return PK_EAGAIN;
            }
        }
        poll_once(x, now);
    }
    return PK_EAGAIN;
}

/* Closes every open session with closeSession (blocking, bounded). */
static void close_all(bench_ctx *x) {
    for (uint32_t i = 0; i < x->nconns; i++) {
        bench_conn *c = &x->conns[i];
        if (c->fd < 0) continue;
        if (c->state == BENCH_C_OPEN && c->ring_len == 0) {
            struct wire_request req = {.op = ZK_OP_CLOSE_SESSION};
            int rc = bench_conn_call(c, &req, NULL, 5000);
            if (rc != 0) fprintf(stderr, "pk-bench: closeSession on session %u: %d\n", i, rc);
        }
        bench_conn_close(c);
    }
}

/* Fills the path table: the data nodes, or the single watched node. */
static void init_paths(bench_ctx *x) {
    const bench_opts *o = x->o;
    x->npaths = o->workload == BENCH_WATCH ? 1 : o->nodes;
    x->paths = pk_calloc(x->npaths ? x->npaths : 1, BENCH_PATH_MAX);
    for (uint32_t i = 0; i < x->npaths; i++) {
        if (o->workload == BENCH_WATCH) snprintf(x->paths[i], BENCH_PATH_MAX, "%s/w", o->prefix);
        else bench_node_path(o, i, x->paths[i], BENCH_PATH_MAX);
    }
    PK_ASSERT(x->npaths <= o->nodes || o->workload == BENCH_WATCH);
}

/* Sets up the context: sessions, value, paths, epoll, window times. */
static void ctx_init(bench_ctx *x, const bench_opts *o, bench_result *res) {
    memset(x, 0, sizeof(*x));
    x->o = o;
    x->res = res;
    x->nconns = o->workload == BENCH_WATCH ? o->watchers + 1 : o->sessions;
    PK_ASSERT(x->nconns > 0 && x->nconns <= BENCH_MAX_SESSIONS + 1);
    x->conns = pk_calloc(x->nconns, sizeof(bench_conn));
    for (uint32_t i = 0; i < x->nconns; i++) bench_conn_init(&x->conns[i], i);
    x->dirty = pk_calloc(x->nconns, sizeof(uint32_t));
    x->is_dirty = pk_calloc(x->nconns, sizeof(bool));
    x->value = pk_malloc(o->size ? o->size : 1);
    bench_fill_value(x->value, o->size);
    init_paths(x);
    pk_prng_seed(&x->prng, o->seed);
    x->ep = epoll_create1(EPOLL_CLOEXEC);
    PK_ASSERT(x->ep >= 0);
    x->t_start = bench_now_ns();
    bool whole = o->workload == BENCH_LOAD;
    x->t_win_begin = x->t_start + (whole ? 0 : (uint64_t)(o->warmup_s * 1e9));
    x->t_win_end = whole ? UINT64_MAX : x->t_win_begin + (uint64_t)(o->duration_s * 1e9);
    x->next_slot_ns = x->t_start;
    x->interval_ns = o->rate > 0 ? 1e9 / o->rate : 0;
}

/* Frees everything ctx_init allocated. */
static void ctx_deinit(bench_ctx *x) {
    PK_ASSERT(x->conns != NULL);
    for (uint32_t i = 0; i < x->nconns; i++) bench_conn_deinit(&x->conns[i]);
    free(x->conns);
    free(x->dirty);
    free(x->is_dirty);
    free(x->value);
    free(x->paths);
    close(x->ep);
}

/* Probe: retries connect + getData of node 0 until it is served; reports the elapsed time. */
static int run_probe(const bench_opts *o, bench_result *res) {
    uint64_t t0 = bench_now_ns();
    uint64_t deadline = t0 + (uint64_t)(o->timeout_s * 1e9);
    char path[BENCH_PATH_MAX];
    bench_node_path(o, 0, path, sizeof(path));
    bench_conn c;
    bench_conn_init(&c, 0);
    pk_buf body;
    pk_buf_init(&body);
    int rc = PK_EAGAIN;
    for (uint32_t i = 0; i < 1000000 && bench_now_ns() < deadline; i++) {
        if (bench_conn_connect_sync(&c, o->host, o->port, 2000) == 0) {
            struct wire_request req = {.op = ZK_OP_GET_DATA};
            req.u.get_data.path = pk_slice_str(path);
            int err = bench_conn_call(&c, &req, &body, 2000);
            bench_conn_close(&c);
            if (err == 0) { rc = 0; break; }
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    res->probe_ms = (double)(bench_now_ns() - t0) / 1e6;
    res->window_s = res->probe_ms / 1e3;
    res->total_ok = rc == 0;
    res->ops = rc == 0;
    pk_buf_deinit(&body);
    bench_conn_deinit(&c);
    return rc;
}

/* Runs the workload chosen in opts and fills *res. */
int bench_run(const bench_opts *o, bench_result *res) {
    PK_ASSERT(o != NULL && res != NULL);
    memset(res, 0, sizeof(*res));
    res->server_cpu_s = -1;
    if (o->workload == BENCH_PROBE) return run_probe(o, res);
    if (!o->no_setup) {
        int rc = bench_setup(o);
        if (rc < 0) return rc;
    }
    bench_ctx x;
    ctx_init(&x, o, res);
    uint64_t now = bench_now_ns();
    for (uint32_t i = 0; i < x.nconns; i++) open_conn(&x, &x.conns[i], now);
    int rc = run_loop(&x);
    if (x.res->window_s == 0) x.res->window_s = (double)(bench_now_ns() - x.t_win_begin) / 1e9;
    close_all(&x);
    ctx_deinit(&x);
    PK_ASSERT(res->ops <= res->total_ok);
    return rc;
}
