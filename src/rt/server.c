/* rt/server: the event loop, listener, timers, signals and the before-sleep flush. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "rt/log.h"
#include "rt/rt.h"

/* ---- u64 map ---- */

/* Initializes an empty map. */
void rt_map_init(rt_map *m) { memset(m, 0, sizeof *m); }

/* Frees the map's arrays (not the values). */
void rt_map_deinit(rt_map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

#define RT_MAP_TOMB UINT64_MAX

/* Finds the slot of key, or the slot where it would be inserted. */
static size_t map_slot(const rt_map *m, uint64_t key, bool for_insert) {
    PK_ASSERT(m->cap && key != 0 && key != RT_MAP_TOMB);
    size_t mask = m->cap - 1, i = (size_t)(pk_hash64(&key, 8, 0) & mask), tomb = SIZE_MAX;
    for (size_t probes = 0; probes < m->cap; probes++, i = (i + 1) & mask) {
        if (m->keys[i] == key) return i;
        if (m->keys[i] == 0) return (for_insert && tomb != SIZE_MAX) ? tomb : i;
        if (m->keys[i] == RT_MAP_TOMB && tomb == SIZE_MAX) tomb = i;
    }
    PK_ASSERT(tomb != SIZE_MAX);
    return tomb;
}

/* Rebuilds the table with capacity cap. */
static void map_resize(rt_map *m, size_t cap) {
    rt_map old = *m;
    m->keys = pk_calloc(cap, sizeof *m->keys);
    m->vals = pk_calloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->count = 0;
    m->tombs = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] && old.keys[i] != RT_MAP_TOMB) rt_map_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

/* Returns the value stored for key, or NULL. */
void *rt_map_get(const rt_map *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t i = map_slot(m, key, false);
    return m->keys[i] == key ? m->vals[i] : NULL;
}

/* Stores val for key (replacing any previous value). */
void rt_map_put(rt_map *m, uint64_t key, void *val) {
    if ((m->count + m->tombs + 1) * 4 >= m->cap * 3) map_resize(m, m->cap ? (m->count * 4 > m->cap ? m->cap * 2 : m->cap) : 16);
    size_t i = map_slot(m, key, true);
    if (m->keys[i] != key) {
        if (m->keys[i] == RT_MAP_TOMB) m->tombs--;
        m->keys[i] = key;
        m->count++;
    }
    m->vals[i] = val;
}

/* Removes key and returns its value (NULL when absent). */
void *rt_map_del(rt_map *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t i = map_slot(m, key, false);
    if (m->keys[i] != key) return NULL;
    void *v = m->vals[i];
    m->keys[i] = RT_MAP_TOMB;
    m->vals[i] = NULL;
    m->count--;
    m->tombs++;
    return v;
}

/* Visits every live entry. */
void rt_map_each(const rt_map *m, void (*fn)(void *ctx, uint64_t key, void *val), void *ctx) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != RT_MAP_TOMB) fn(ctx, m->keys[i], m->vals[i]);
}

/* ---- clocks ---- */

/* Monotonic milliseconds from the loop. */
uint64_t rt_now_ms(rt_server *srv) { return uv_now(srv->loop); }

/* Wall-clock milliseconds since the epoch. */
int64_t rt_wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- loop hooks ---- */

/* Writes out every dirty connection's output. */
static void flush_dirty(rt_server *srv) {
    for (size_t guard = 0; !pk_list_empty(&srv->dirty) && guard < 10000000; guard++) {
        rt_conn *c = PK_CONTAINER_OF(srv->dirty.next, rt_conn, dirty_link);
        pk_list_remove(&c->dirty_link);
        c->dirty = false;
        rt_conn_flush(c);
    }
}

/* Before the loop sleeps: propose what this iteration resolved, flush every dirty connection, then start the
 * next WAL write; an inline write completes here, so its replies are flushed and the round repeats. */
static void on_before_sleep(uv_prepare_t *h) {
    rt_server *srv = h->data;
    for (int round = 0; round < 1000000; round++) {
        if (srv->node) rt_node_flush(srv->node);
        if (srv->node && srv->node_waiting > 0 && !rt_node_saturated(srv->node)) {
            rt_conn_resume_node_waiters(srv);
            rt_node_flush(srv->node);
        }
        flush_dirty(srv);
        if (!srv->node || !rt_node_commit(srv->node)) break;
    }
}

/* Periodic tick: session expiry and reaping. */
static void on_tick(uv_timer_t *t) {
    rt_server *srv = t->data;
    if (srv->node) rt_node_tick(srv->node);
}

/* Closes a handle if it is active (for shutdown). */
static void close_handle(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* SIGTERM/SIGINT: stop accepting, close connections, stop the loop. */
static void on_signal(uv_signal_t *s, int signum) {
    rt_server *srv = s->data;
    LOG_INFO("received signal %d, shutting down", signum);
    srv->stopping = true;
    for (size_t guard = 0; !pk_list_empty(&srv->all_conns) && guard < 1000000; guard++)
        rt_conn_close(PK_CONTAINER_OF(srv->all_conns.next, rt_conn, all_link));
    uv_stop(srv->loop);
}

/* Accept callback of the listener. */
static void on_connection(uv_stream_t *server, int status) {
    rt_server *srv = server->data;
    if (status < 0) {
        LOG_WARN("accept failed: %s", uv_strerror(status));
        return;
    }
    rt_conn_accept(srv);
}

/* Binds and starts listening on clientPortAddress:clientPort. */
static int start_listener(rt_server *srv) {
    struct sockaddr_storage addr;
    const char *host = srv->cfg.client_port_address;
    int rc = uv_ip4_addr(host, srv->cfg.client_port, (struct sockaddr_in *)&addr);
    if (rc) rc = uv_ip6_addr(host, srv->cfg.client_port, (struct sockaddr_in6 *)&addr);
    if (rc) {
        LOG_ERROR("clientPortAddress '%s' is not an IP address", host);
        return -1;
    }
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc) {
        LOG_ERROR("cannot listen on %s:%u: %s", host, srv->cfg.client_port, uv_strerror(rc));
        return -1;
    }
    LOG_INFO("serving ZooKeeper clients on %s:%u", host, srv->cfg.client_port);
    return 0;
}

/* Sets up the server, recovers, serves until a signal, and tears down. */
int rt_server_run(const rt_config *cfg) {
    rt_server *srv = pk_calloc(1, sizeof *srv);
    srv->cfg = *cfg;
    srv->loop = uv_default_loop();
    srv->next_conn_id = 1;
    pk_list_init(&srv->all_conns);
    pk_list_init(&srv->dirty);
    rt_map_init(&srv->conns_by_id);
    rt_map_init(&srv->conns_by_session);
    srv->watches = zk_watches_new();
    pk_buf_init(&srv->event_frame);
    srv->start_ms = rt_now_ms(srv);
    signal(SIGPIPE, SIG_IGN);

    uv_prepare_init(srv->loop, &srv->before_sleep);
    srv->before_sleep.data = srv;
    uv_prepare_start(&srv->before_sleep, on_before_sleep);
    uv_signal_init(srv->loop, &srv->sig_term);
    uv_signal_init(srv->loop, &srv->sig_int);
    srv->sig_term.data = srv->sig_int.data = srv;
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);

    int exit_code = 1;
    if (srv->cfg.jaas_config && rt_sasl_init(srv) != 0) goto out;
    uint64_t t0 = rt_now_ms(srv);
    if (rt_node_open(srv, &srv->node) != 0) goto out;
    /* Run the loop until recovery has re-chosen and applied everything the log held. */
    for (int guard = 0; !rt_node_serving(srv->node) && !srv->stopping && guard < 100000000; guard++)
        uv_run(srv->loop, UV_RUN_ONCE);
    if (srv->stopping) { exit_code = 0; goto out; }
    uv_update_time(srv->loop);
    LOG_INFO("recovered in %llu ms: last zxid 0x%llx", (unsigned long long)(rt_now_ms(srv) - t0),
             (unsigned long long)zk_state_last_zxid(rt_node_state(srv->node)));
    if (start_listener(srv) != 0) goto out;
    srv->serving = true;
    uv_timer_init(srv->loop, &srv->tick_timer);
    srv->tick_timer.data = srv;
    uint64_t tick = srv->cfg.tick_time_ms / 2 ? srv->cfg.tick_time_ms / 2 : 1;
    uv_timer_start(&srv->tick_timer, on_tick, tick, tick);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    exit_code = srv->exit_code;
out:
    srv->stopping = true;
    uv_walk(srv->loop, close_handle, NULL);
    for (int i = 0; i < 1000 && uv_run(srv->loop, UV_RUN_NOWAIT); i++) {}
    if (srv->node) rt_node_close(srv->node);
    zk_watches_free(srv->watches);
    pk_buf_deinit(&srv->event_frame);
    rt_map_deinit(&srv->conns_by_id);
    rt_map_deinit(&srv->conns_by_session);
    LOG_INFO("stopped");
    free(srv);
    return exit_code;
}
