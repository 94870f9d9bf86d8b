/* rt/conn: client connections: framing, handshake and 4lw, request dispatch, per-session FIFO, output. */
#include <stdlib.h>
#include <string.h>

#include "rt/log.h"
#include "rt/rt.h"

#define RT_READ_CHUNK 65536
#define RT_MAX_PENDING 10000            /* stop reading a connection with this many requests outstanding */
#define RT_MAX_OUTPUT_BYTES (64u << 20) /* a client that lets this much output pile up is dropped */

static void process_input(rt_conn *c);

/* Frees a pending record and its buffer. */
void rt_pending_free(rt_pending *p) {
    pk_buf_deinit(&p->body);
    free(p);
}

/* Allocates a pending record queued at the tail of c's FIFO. */
static rt_pending *pending_push(rt_conn *c, rt_pend_state state, int32_t xid, int32_t op) {
    rt_pending *p = pk_calloc(1, sizeof *p);
    pk_list_init(&p->link);
    pk_buf_init(&p->body);
    p->conn = c;
    p->state = state;
    p->xid = xid;
    p->op = op;
    p->recv_ms = rt_now_ms(c->srv);
    pk_list_push_back(&c->pending, &p->link);
    c->pending_count++;
    c->srv->outstanding++;
    return p;
}

/* Unlinks a pending record from its connection. */
static void pending_unlink(rt_pending *p) {
    rt_conn *c = p->conn;
    PK_ASSERT(c && c->pending_count > 0);
    pk_list_remove(&p->link);
    c->pending_count--;
    c->srv->outstanding--;
}

/* Queues the connection for a flush before the loop sleeps. */
void rt_conn_mark_dirty(rt_conn *c) {
    if (c->dirty || c->closed) return;
    c->dirty = true;
    pk_list_push_back(&c->srv->dirty, &c->dirty_link);
}

/* Builds the zk_auth view of the connection's auth ids. */
zk_auth rt_conn_auth(const rt_conn *c) { return (zk_auth){c->auth_ids, c->auth_count}; }

/* Adds an auth id (copies the strings); duplicates are ignored. */
bool rt_conn_add_auth(rt_conn *c, const char *scheme, pk_slice id) {
    pk_slice sch = pk_slice_str(scheme);
    for (size_t i = 0; i < c->auth_count; i++)
        if (pk_slice_eq(c->auth_ids[i].scheme, sch) && pk_slice_eq(c->auth_ids[i].id, id)) return true;
    if (c->auth_count >= RT_MAX_AUTH_IDS) return false;
    zk_auth_id *a = &c->auth_ids[c->auth_count++];
    a->scheme = (pk_slice){(const uint8_t *)pk_strndup(scheme, sch.len), sch.len};
    a->id = (pk_slice){(const uint8_t *)pk_strndup((const char *)(id.ptr ? id.ptr : (const uint8_t *)""), id.len), id.len};
    return true;
}

/* Appends a reply frame: ReplyHeader{xid, zxid, err} + body. */
static void append_reply(pk_buf *out, int32_t xid, uint64_t zxid, int32_t err, pk_slice body) {
    size_t mark = jute_frame_begin(out);
    jute_write_int(out, xid);
    jute_write_long(out, (int64_t)zxid);
    jute_write_int(out, err);
    pk_buf_append(out, body.ptr, body.len);
    jute_frame_end(out, mark);
}

/* Appends a reply frame to the connection's output and schedules a flush. */
void rt_conn_send_reply(rt_conn *c, int32_t xid, uint64_t zxid, int32_t err, pk_slice body) {
    if (c->closed) return;
    append_reply(&c->out, xid, zxid, err, body);
    c->packets_sent++;
    c->srv->packets_sent++;
    rt_conn_mark_dirty(c);
}

/* Encodes one watch notification frame: ReplyHeader{-1, -1, 0} + WatcherEvent{type, SyncConnected, path}. */
static void encode_event(pk_buf *out, int32_t type, pk_slice path) {
    size_t mark = jute_frame_begin(out);
    jute_write_int(out, ZK_XID_NOTIFICATION);
    jute_write_long(out, -1);
    jute_write_int(out, 0);
    jute_write_int(out, type);
    jute_write_int(out, ZK_STATE_SYNC_CONNECTED);
    jute_write_ustring(out, path.ptr ? path : jute_empty());
    jute_frame_end(out, mark);
}

/* Closes a connection whose unread output passed RT_MAX_OUTPUT_BYTES (a client that stopped reading); true if closed. */
static bool drop_if_output_overflows(rt_conn *c) {
    if (c->out.len <= RT_MAX_OUTPUT_BYTES) return false;
    LOG_WARN("dropping %s:%u (session " RT_SID_FMT "): %zu bytes of unread output", c->peer_ip, c->peer_port,
             RT_SID(c->session_id), c->out.len);
    rt_conn_close(c);
    return true;
}

/* Appends a watch notification frame. */
void rt_conn_send_event(rt_conn *c, int32_t type, pk_slice path) {
    if (c->closed) return;
    encode_event(&c->out, type, path);
    c->packets_sent++;
    c->srv->packets_sent++;
    rt_conn_mark_dirty(c);
}

/* Queues the notifications of applied txns: each distinct (type, path) is encoded once and its bytes are copied
 * to every live watcher allowed to READ the znode; a watcher whose unread output passes the limit is dropped. */
void rt_conn_fanout(rt_server *srv, const zk_events *events, const zk_delivery *d, size_t count) {
    pk_buf *frame = &srv->event_frame;
    bool have = false;
    int32_t frame_type = 0;
    pk_slice frame_path = {0};
    for (size_t i = 0; i < count; i++) {
        rt_conn *c = rt_map_get(&srv->conns_by_id, d[i].conn_id);
        if (!c || c->closed) continue;
        if (d[i].event_index != SIZE_MAX) {
            zk_auth auth = rt_conn_auth(c);
            if (!zk_events_readable(events, d[i].event_index, &auth)) continue;
        }
        if (!have || frame_type != d[i].type || !pk_slice_eq(frame_path, d[i].path)) {
            pk_buf_reset(frame);
            encode_event(frame, d[i].type, d[i].path);
            frame_type = d[i].type;
            frame_path = d[i].path;
            have = true;
        }
        pk_buf_append(&c->out, frame->data, frame->len);
        c->packets_sent++;
        srv->packets_sent++;
        rt_conn_mark_dirty(c);
        drop_if_output_overflows(c);
    }
}

/* Records a request's latency in the connection and server stats. */
static void record_latency(rt_conn *c, uint64_t recv_ms) {
    rt_server *srv = c->srv;
    uint64_t now = rt_now_ms(srv), lat = now > recv_ms ? now - recv_ms : 0;
    c->last_response_ms = now;
    if (!c->lat_count || lat < c->lat_min_ms) c->lat_min_ms = lat;
    if (lat > c->lat_max_ms) c->lat_max_ms = lat;
    c->lat_sum_ms += lat;
    c->lat_count++;
    if (!srv->lat_count || lat < srv->lat_min_ms) srv->lat_min_ms = lat;
    if (lat > srv->lat_max_ms) srv->lat_max_ms = lat;
    srv->lat_sum_ms += lat;
    srv->lat_count++;
}

/* ---- output ---- */

typedef struct write_req {
    uv_write_t req;
    rt_conn *conn;
    uv_buf_t buf;
} write_req;

/* Completion of an asynchronous write: free it, then continue flushing. */
static void on_write(uv_write_t *req, int status) {
    write_req *w = PK_CONTAINER_OF(req, write_req, req);
    rt_conn *c = w->conn;
    free(w->buf.base);
    free(w);
    c->writing = false;
    if (c->closed) return;
    if (status < 0) {
        LOG_DEBUG("write to %s:%u failed: %s", c->peer_ip, c->peer_port, uv_strerror(status));
        rt_conn_close(c);
        return;
    }
    rt_conn_flush(c);
}

/* Writes as much output as the socket takes now, handing the rest to an async write. */
void rt_conn_flush(rt_conn *c) {
    if (c->closed || c->writing) return;
    if (c->out.len > 0) {
        uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            LOG_DEBUG("write to %s:%u failed: %s", c->peer_ip, c->peer_port, uv_strerror(n));
            rt_conn_close(c);
            return;
        }
        if (n > 0) pk_buf_consume(&c->out, (size_t)n);
        if (c->out.len > 0) {
            write_req *w = pk_malloc(sizeof *w);
            w->conn = c;
            w->buf = uv_buf_init(pk_malloc(c->out.len), (unsigned)c->out.len);
            memcpy(w->buf.base, c->out.data, c->out.len);
            pk_buf_reset(&c->out);
            c->writing = true;
            int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write);
            if (rc) {
                c->writing = false;
                free(w->buf.base);
                free(w);
                rt_conn_close(c);
                return;
            }
        }
    }
    if (c->state == RT_CONN_CLOSING && c->out.len == 0 && !c->writing) rt_conn_close(c);
}

/* ---- lifecycle ---- */

/* Frees the connection once libuv has closed its handle. */
static void on_closed(uv_handle_t *h) {
    rt_conn *c = h->data;
    for (size_t i = 0; i < c->auth_count; i++) {
        free((void *)c->auth_ids[i].scheme.ptr);
        free((void *)c->auth_ids[i].id.ptr);
    }
    pk_buf_deinit(&c->in);
    pk_buf_deinit(&c->out);
    free(c);
}

/* Closes a connection: watches dropped, queued reads freed, in-flight writes orphaned. */
void rt_conn_close(rt_conn *c) {
    if (c->closed) return;
    rt_server *srv = c->srv;
    c->closed = true;
    if (c->dirty) { pk_list_remove(&c->dirty_link); c->dirty = false; }
    pk_list_remove(&c->all_link);
    rt_map_del(&srv->conns_by_id, c->id);
    if (c->session_id && rt_map_get(&srv->conns_by_session, c->session_id) == c)
        rt_map_del(&srv->conns_by_session, c->session_id);
    zk_watches_remove_conn(srv->watches, c->id);
    rt_sasl_conn_free(c);
    for (size_t guard = 0; !pk_list_empty(&c->pending) && guard < 100000000; guard++) {
        rt_pending *p = PK_CONTAINER_OF(c->pending.next, rt_pending, link);
        pending_unlink(p);
        if (p->state == RT_PEND_SYNC) srv->sync_waiting--;
        if (p->state == RT_PEND_WRITE) p->conn = NULL; /* freed when its txn is applied */
        else rt_pending_free(p);
    }
    if (c->node_wait) srv->node_waiting--;
    c->node_wait = false;
    srv->conn_count--;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Counts live connections from an IP address (maxClientCnxns). */
static uint32_t conns_from_ip(rt_server *srv, const char *ip) {
    uint32_t n = 0;
    for (pk_list *l = srv->all_conns.next; l != &srv->all_conns; l = l->next)
        n += strcmp(PK_CONTAINER_OF(l, rt_conn, all_link)->peer_ip, ip) == 0;
    return n;
}

/* Hands read buffers from the tail of the connection's input buffer. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    rt_conn *c = h->data;
    pk_buf_reserve(&c->in, RT_READ_CHUNK);
    *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

/* Read callback: append bytes and process whole frames. */
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    rt_conn *c = s->data;
    if (c->closed) return;
    if (nread < 0) {
        if (nread != UV_EOF) LOG_DEBUG("read from %s:%u: %s", c->peer_ip, c->peer_port, uv_strerror((int)nread));
        rt_conn_close(c);
        return;
    }
    c->in.len += (size_t)nread;
    PK_ASSERT(c->in.len <= c->in.cap);
    process_input(c);
}

/* Starts or stops reading based on back-pressure. */
static void update_reading(rt_conn *c) {
    bool want = !c->closed && c->state != RT_CONN_CLOSING && c->pending_count < RT_MAX_PENDING &&
                c->out.len < RT_MAX_OUTPUT_BYTES / 4 && !c->node_wait;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Accepts a new client connection (or refuses it over maxClientCnxns). */
void rt_conn_accept(rt_server *srv) {
    rt_conn *c = pk_calloc(1, sizeof *c);
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    c->srv = srv;
    c->id = srv->next_conn_id++;
    c->state = RT_CONN_HANDSHAKE;
    pk_buf_init(&c->in);
    pk_buf_init(&c->out);
    pk_list_init(&c->pending);
    pk_list_init(&c->dirty_link);
    c->established_ms = rt_now_ms(srv);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof c->peer_ip);
            c->peer_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer_ip, sizeof c->peer_ip);
            c->peer_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    if (srv->cfg.max_client_cnxns && conns_from_ip(srv, c->peer_ip) >= srv->cfg.max_client_cnxns) {
        LOG_WARN("too many connections from %s - max is %u", c->peer_ip, srv->cfg.max_client_cnxns);
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    pk_list_push_back(&srv->all_conns, &c->all_link);
    rt_map_put(&srv->conns_by_id, c->id, c);
    srv->conn_count++;
    rt_conn_add_auth(c, "ip", pk_slice_str(c->peer_ip));
    update_reading(c);
}

/* ---- handshake ---- */

/* Writes a ConnectResponse frame. */
static void send_connect_response(rt_conn *c, int32_t timeout_ms, uint64_t session_id, const uint8_t passwd[16]) {
    static const uint8_t zeros[16];
    struct wire_connect_response r = {
        .protocol_version = 0,
        .timeout_ms = timeout_ms,
        .session_id = (int64_t)session_id,
        .passwd = {passwd ? passwd : zeros, 16},
        .read_only = false,
        .has_read_only = c->read_only_byte,
    };
    size_t mark = jute_frame_begin(&c->out);
    wire_connect_response_encode(&c->out, &r);
    jute_frame_end(&c->out, mark);
    rt_conn_mark_dirty(c);
}

/* Binds an established session to this connection, closing any other connection holding it. */
static void bind_session(rt_conn *c) {
    rt_server *srv = c->srv;
    rt_conn *other = rt_map_get(&srv->conns_by_session, c->session_id);
    if (other && other != c) {
        LOG_INFO("session " RT_SID_FMT " moved from %s:%u to %s:%u", RT_SID(c->session_id), other->peer_ip,
                 other->peer_port, c->peer_ip, c->peer_port);
        other->session_id = 0; /* keep it from unbinding us */
        rt_conn_close(other);
    }
    rt_map_put(&srv->conns_by_session, c->session_id, c);
    c->state = RT_CONN_ACTIVE;
    rt_node_touch(srv->node, c->session_id, c->timeout_ms);
}

/* The node applied (or refused) the createSession txn of this connection. */
void rt_conn_session_ready(rt_conn *c, bool ok) {
    if (c->closed) return;
    if (!ok) {
        send_connect_response(c, 0, 0, NULL);
        c->state = RT_CONN_CLOSING;
        return;
    }
    int32_t timeout_ms;
    uint8_t passwd[16];
    bool found = zk_session_get(rt_node_state(c->srv->node), c->session_id, &timeout_ms, passwd);
    PK_ASSERT(found);
    LOG_DEBUG("session " RT_SID_FMT " established for %s:%u, timeout %d ms", RT_SID(c->session_id), c->peer_ip,
             c->peer_port, c->timeout_ms);
    send_connect_response(c, c->timeout_ms, c->session_id, passwd);
    bind_session(c);
    process_input(c); /* frames that arrived behind the ConnectRequest */
}

/* Handles the first frame: a ConnectRequest. */
static void handle_connect(rt_conn *c, pk_slice body) {
    rt_server *srv = c->srv;
    jute_reader r;
    jute_reader_init_slice(&r, body, (int32_t)srv->cfg.jute_max_buffer);
    struct wire_connect_request req;
    if (wire_connect_request_decode(&r, &req) != 0 || req.passwd.len > 64) {
        LOG_INFO("closing %s:%u: malformed ConnectRequest", c->peer_ip, c->peer_port);
        rt_conn_close(c);
        return;
    }
    c->read_only_byte = req.has_read_only;
    uint64_t applied = zk_state_last_zxid(rt_node_state(srv->node));
    if ((uint64_t)req.last_zxid_seen > applied) {
        LOG_INFO("refusing session " RT_SID_FMT " from %s:%u: client has seen zxid 0x%llx, ours is 0x%llx "
                 "(client must try another server)",
                 RT_SID(req.session_id), c->peer_ip, c->peer_port, (unsigned long long)req.last_zxid_seen,
                 (unsigned long long)applied);
        rt_conn_close(c);
        return;
    }
    int32_t t = req.timeout_ms;
    if (t < srv->cfg.min_session_timeout_ms) t = srv->cfg.min_session_timeout_ms;
    if (t > srv->cfg.max_session_timeout_ms) t = srv->cfg.max_session_timeout_ms;
    c->timeout_ms = t;
    if (req.session_id == 0) {
        c->state = RT_CONN_WAIT_SESSION;
        rt_node_create_session(srv->node, c, t);
        return;
    }
    int32_t stored_timeout;
    uint8_t passwd[16];
    bool ok = zk_session_get(rt_node_state(srv->node), (uint64_t)req.session_id, &stored_timeout, passwd) &&
              req.passwd.len == 16 && memcmp(req.passwd.ptr, passwd, 16) == 0 &&
              !rt_node_session_closing(srv->node, (uint64_t)req.session_id);
    if (!ok) {
        LOG_INFO("session " RT_SID_FMT " from %s:%u is expired or invalid", RT_SID(req.session_id), c->peer_ip,
                 c->peer_port);
        send_connect_response(c, 0, 0, NULL);
        c->state = RT_CONN_CLOSING;
        return;
    }
    c->session_id = (uint64_t)req.session_id;
    LOG_DEBUG("session " RT_SID_FMT " reconnected from %s:%u, timeout %d ms", RT_SID(c->session_id), c->peer_ip,
             c->peer_port, t);
    send_connect_response(c, t, c->session_id, passwd);
    bind_session(c);
}

/* ---- requests ---- */

/* Encodes the whoAmI response: one {scheme, user} per auth id. */
static void whoami_body(rt_conn *c, pk_buf *out) {
    jute_write_vector_count(out, (int32_t)c->auth_count);
    for (size_t i = 0; i < c->auth_count; i++) {
        const zk_auth_id *a = &c->auth_ids[i];
        pk_slice user = a->id;
        if (pk_slice_eq(a->scheme, pk_slice_str("digest"))) {
            const uint8_t *colon = memchr(user.ptr, ':', user.len);
            if (colon) user.len = (size_t)(colon - user.ptr);
        }
        jute_write_ustring(out, a->scheme);
        jute_write_ustring(out, user.ptr ? user : jute_empty());
    }
}

/* Runs a local op's body into out (the reply body is appended there); returns the reply's err. */
static int32_t run_local(rt_conn *c, int32_t op, pk_slice body, pk_buf *out) {
    rt_server *srv = c->srv;
    const zk_state *st = rt_node_state(srv->node);
    if (zk_op_is_read(op)) {
        zk_auth auth = rt_conn_auth(c);
        zk_read_result res;
        zk_read(st, &auth, c->session_id, op, body, out, &res);
        if (res.watch != ZK_WATCH_NONE)
            zk_watches_add(srv->watches, c->id, res.watch_path, res.watch, ZK_WMODE_STANDARD);
        return res.err;
    }
    jute_reader r;
    jute_reader_init_slice(&r, body, (int32_t)srv->cfg.jute_max_buffer);
    if (op == ZK_OP_ADD_WATCH) {
        struct wire_add_watch_request req;
        if (wire_add_watch_request_decode(&r, &req) != 0 || (req.mode != 0 && req.mode != 1)) return ZK_ERR_MARSHALLING;
        if (req.mode == 0) {
            zk_watches_add(srv->watches, c->id, req.path, ZK_WATCH_DATA, ZK_WMODE_PERSISTENT);
            zk_watches_add(srv->watches, c->id, req.path, ZK_WATCH_CHILD, ZK_WMODE_PERSISTENT);
        } else {
            zk_watches_add(srv->watches, c->id, req.path, ZK_WATCH_DATA, ZK_WMODE_PERSISTENT_RECURSIVE);
        }
        jute_write_int(out, 0); /* ErrorResponse{0}: Java reads it */
        return ZK_ERR_OK;
    }
    if (op == ZK_OP_CHECK_WATCHES || op == ZK_OP_REMOVE_WATCHES) {
        struct wire_remove_watches_request req;
        /* ZooKeeper 3.8's checkWatches throws on a relative path (MarshallingError); removeWatches looks every path
         * up (NoWatcher), as do both for other odd paths (tests/integration/test_watch_ops.py). */
        if (wire_remove_watches_request_decode(&r, &req) != 0) return ZK_ERR_MARSHALLING;
        if (op == ZK_OP_CHECK_WATCHES && req.path.len > 0 && req.path.ptr[0] != '/') return ZK_ERR_MARSHALLING;
        return zk_watches_check_remove(srv->watches, c->id, req.path, req.type, op == ZK_OP_REMOVE_WATCHES);
    }
    if (op == ZK_OP_WHOAMI) {
        whoami_body(c, out);
        return ZK_ERR_OK;
    }
    if (op == ZK_OP_SASL) return rt_sasl_step(c, body, out);
    PK_PANIC("run_local: op %d is not local", op);
}

/* Executes a local op against the applied state now, encoding its reply straight into the output buffer. */
static void exec_local(rt_conn *c, int32_t xid, int32_t op, pk_slice body, uint64_t recv_ms) {
    rt_server *srv = c->srv;
    const zk_state *st = rt_node_state(srv->node);
    if (op == ZK_OP_SET_WATCHES || op == ZK_OP_SET_WATCHES2) {
        /* Catch-up events go out before the reply. */
        pk_buf deliveries;
        pk_buf_init(&deliveries);
        int32_t err = zk_watches_set(srv->watches, st, c->id, op, body, &deliveries);
        const zk_delivery *d = (const zk_delivery *)deliveries.data;
        for (size_t i = 0; i < deliveries.len / sizeof *d; i++) rt_conn_send_event(c, d[i].type, d[i].path);
        pk_buf_deinit(&deliveries);
        rt_conn_send_reply(c, xid, zk_state_last_zxid(st), err, (pk_slice){0});
        record_latency(c, recv_ms);
        return;
    }
    if (c->closed) return;
    size_t mark = jute_frame_begin(&c->out);
    jute_write_int(&c->out, xid);
    size_t patch = c->out.len;
    jute_write_long(&c->out, 0);
    jute_write_int(&c->out, 0);
    size_t body_start = c->out.len;
    int32_t err = run_local(c, op, body, &c->out);
    if (err != ZK_ERR_OK) c->out.len = body_start; /* no body on errors */
    uint64_t zxid = op == ZK_OP_SASL ? 0 : zk_state_last_zxid(st);
    pk_put_u64(c->out.data + patch, zxid);
    pk_put_u32(c->out.data + patch + 8, (uint32_t)err);
    jute_frame_end(&c->out, mark);
    c->packets_sent++;
    srv->packets_sent++;
    rt_conn_mark_dirty(c);
    record_latency(c, recv_ms);
    if (op == ZK_OP_SASL && err != ZK_ERR_OK) {
        srv->auth_failed_count++;
        c->state = RT_CONN_CLOSING; /* ZooKeeper closes after a failed SASL exchange */
    }
}

/* True for ops executed locally (in FIFO order) without a txn. */
static bool op_is_local(int32_t op) {
    return zk_op_is_read(op) || op == ZK_OP_SET_WATCHES || op == ZK_OP_SET_WATCHES2 || op == ZK_OP_ADD_WATCH ||
           op == ZK_OP_CHECK_WATCHES || op == ZK_OP_REMOVE_WATCHES || op == ZK_OP_WHOAMI || op == ZK_OP_SASL;
}

/* Completes a pending record with a ready reply. */
void rt_conn_complete(rt_pending *p, uint64_t zxid, int32_t err, pk_slice body) {
    if (!p->conn) {
        rt_pending_free(p);
        return;
    }
    rt_conn *c = p->conn;
    pk_buf_reset(&p->body);
    append_reply(&p->body, p->xid, zxid, err, body);
    p->state = RT_PEND_DONE;
    rt_conn_drain(c);
}

/* Sends replies from the head of the FIFO while they are ready; runs queued local ops whose turn came. */
void rt_conn_drain(rt_conn *c) {
    rt_server *srv = c->srv;
    for (size_t guard = 0; !c->closed && !pk_list_empty(&c->pending) && guard < 100000000; guard++) {
        rt_pending *p = PK_CONTAINER_OF(c->pending.next, rt_pending, link);
        if (p->state == RT_PEND_WRITE) break;
        if (p->state == RT_PEND_SYNC) {
            if (zk_state_last_zxid(rt_node_state(srv->node)) < p->zxid) break;
            srv->sync_waiting--;
            pending_unlink(p);
            pk_buf reply;
            pk_buf_init(&reply);
            jute_write_ustring(&reply, p->null_path ? jute_null() : (pk_slice){p->body.data ? p->body.data : (const uint8_t *)"", p->body.len});
            rt_conn_send_reply(c, p->xid, zk_state_last_zxid(rt_node_state(srv->node)), ZK_ERR_OK, pk_buf_slice(&reply));
            record_latency(c, p->recv_ms);
            pk_buf_deinit(&reply);
            rt_pending_free(p);
            continue;
        }
        pending_unlink(p);
        if (p->state == RT_PEND_LOCAL) {
            exec_local(c, p->xid, p->op, pk_buf_slice(&p->body), p->recv_ms);
        } else {
            pk_buf_append(&c->out, p->body.data, p->body.len);
            c->packets_sent++;
            srv->packets_sent++;
            record_latency(c, p->recv_ms);
            rt_conn_mark_dirty(c);
            if (p->close_after) c->state = RT_CONN_CLOSING;
        }
        rt_pending_free(p);
        if (c->state == RT_CONN_CLOSING) break;
    }
    if (c->closed || drop_if_output_overflows(c)) return;
    bool was_reading = c->reading;
    update_reading(c);
    if (!was_reading && c->reading && c->state == RT_CONN_ACTIVE) process_input(c);
}

/* Lets connections that stopped on a saturated node take requests again, while the node has room. */
void rt_conn_resume_node_waiters(rt_server *srv) {
    for (pk_list *l = srv->all_conns.next, *next; l != &srv->all_conns && srv->node_waiting > 0; l = next) {
        next = l->next;
        rt_conn *c = PK_CONTAINER_OF(l, rt_conn, all_link);
        if (!c->node_wait) continue;
        if (!srv->node || rt_node_saturated(srv->node)) return;
        c->node_wait = false;
        srv->node_waiting--;
        /* to the back of the list: the next round starts with the connections this one could not reach */
        pk_list_remove(&c->all_link);
        pk_list_push_back(&srv->all_conns, &c->all_link);
        process_input(c); /* takes the buffered frames, then starts reading again (update_reading) */
    }
}

/* Queues an immediate reply (error or auth result) behind earlier requests. */
static void reply_in_order(rt_conn *c, int32_t xid, int32_t op, uint64_t zxid, int32_t err, bool close_after) {
    if (pk_list_empty(&c->pending)) {
        rt_conn_send_reply(c, xid, zxid, err, (pk_slice){0});
        if (close_after) c->state = RT_CONN_CLOSING;
        return;
    }
    rt_pending *p = pending_push(c, RT_PEND_DONE, xid, op);
    append_reply(&p->body, xid, zxid, err, (pk_slice){0});
    p->close_after = close_after;
}

/* Dispatches one request frame (RequestHeader + body) of an active session. */
static void handle_request(rt_conn *c, pk_slice frame) {
    rt_server *srv = c->srv;
    jute_reader r;
    jute_reader_init_slice(&r, frame, (int32_t)srv->cfg.jute_max_buffer);
    int32_t xid = jute_read_int(&r), op = jute_read_int(&r);
    if (jute_reader_error(&r)) {
        LOG_INFO("closing %s:%u: request shorter than its header", c->peer_ip, c->peer_port);
        rt_conn_close(c);
        return;
    }
    pk_slice body = jute_reader_rest(&r);
    if (!body.ptr) body = (pk_slice){frame.ptr + frame.len, 0};
    c->packets_received++;
    srv->packets_received++;
    c->last_op = op;
    c->last_cxid = xid;
    rt_node_touch(srv->node, c->session_id, c->timeout_ms);
    uint64_t applied = zk_state_last_zxid(rt_node_state(srv->node));

    if (op == ZK_OP_PING) {
        rt_conn_send_reply(c, ZK_XID_PING, applied, ZK_ERR_OK, (pk_slice){0});
        return;
    }
    if (op == ZK_OP_AUTH) {
        int32_t err = rt_auth_packet(c, body);
        if (err != ZK_ERR_OK) srv->auth_failed_count++;
        reply_in_order(c, xid, op, 0, err, err != ZK_ERR_OK);
        return;
    }
    if (op == ZK_OP_RECONFIG) {
        /* ZooKeeper: ReconfigDisabled unless reconfigEnabled; a standalone server then says Unimplemented. */
        reply_in_order(c, xid, op, applied, srv->cfg.reconfig_enabled ? ZK_ERR_UNIMPLEMENTED : ZK_ERR_RECONFIG_DISABLED, false);
        return;
    }
    if (op == ZK_OP_SYNC) {
        jute_reader sr;
        jute_reader_init_slice(&sr, body, (int32_t)srv->cfg.jute_max_buffer);
        struct wire_sync_request req;
        if (wire_sync_request_decode(&sr, &req) != 0) {
            reply_in_order(c, xid, op, applied, ZK_ERR_MARSHALLING, false);
            return;
        }
        rt_pending *p = pending_push(c, RT_PEND_SYNC, xid, op);
        p->zxid = rt_node_last_assigned_zxid(srv->node);
        pk_buf_append(&p->body, req.path.ptr, req.path.len);
        p->null_path = req.path.ptr == NULL;
        srv->sync_waiting++;
        rt_conn_drain(c);
        return;
    }
    if (op_is_local(op)) {
        if (pk_list_empty(&c->pending)) {
            exec_local(c, xid, op, body, rt_now_ms(srv));
        } else {
            rt_pending *p = pending_push(c, RT_PEND_LOCAL, xid, op);
            pk_buf_append(&p->body, body.ptr, body.len);
        }
        return;
    }
    if (op == ZK_OP_CLOSE_SESSION) {
        rt_pending *p = pending_push(c, RT_PEND_WRITE, xid, op);
        p->close_after = true;
        rt_node_close_session(srv->node, c, p);
        return;
    }
    if (zk_op_is_write(op)) {
        rt_pending *p = pending_push(c, RT_PEND_WRITE, xid, op);
        int32_t err = rt_node_submit_write(srv->node, c, p, op, body);
        if (err != ZK_ERR_OK) {
            p->state = RT_PEND_DONE;
            append_reply(&p->body, xid, applied, err, (pk_slice){0});
            rt_conn_drain(c);
        }
        return;
    }
    LOG_INFO("closing %s:%u: unimplemented op %d", c->peer_ip, c->peer_port, op);
    /* The reply carries the request's zxid, which is -1 for a request that never became a txn. */
    reply_in_order(c, xid, op, UINT64_MAX, ZK_ERR_UNIMPLEMENTED, true);
}

/* Handles a four-letter word on a fresh connection: reply text, then close. */
static void handle_4lw(rt_conn *c) {
    char cmd[5];
    memcpy(cmd, c->in.data, 4);
    cmd[4] = '\0';
    if (!rt_config_4lw_allowed(&c->srv->cfg, cmd)) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "%s is not executed because it is not in the whitelist.\n", cmd);
        pk_buf_append(&c->out, msg, (size_t)n);
    } else {
        rt_fourlw_run(c->srv, cmd, &c->out);
    }
    pk_buf_reset(&c->in);
    c->state = RT_CONN_CLOSING;
    rt_conn_mark_dirty(c);
    update_reading(c);
}

/* Consumes every whole frame in the input buffer that the connection's state allows. */
static void process_input(rt_conn *c) {
    rt_server *srv = c->srv;
    if (c->processing) return; /* the outer call on the stack picks up the rest */
    c->processing = true;
    size_t off = 0;
    for (size_t guard = 0; !c->closed && guard < 1000000; guard++) {
        if (c->state == RT_CONN_WAIT_SESSION || c->state == RT_CONN_CLOSING) break;
        if (c->state == RT_CONN_ACTIVE && c->pending_count >= RT_MAX_PENDING) break;
        size_t avail = c->in.len - off;
        if (c->state == RT_CONN_HANDSHAKE && off == 0 && avail >= 4 && rt_fourlw_is_command(c->in.data)) {
            handle_4lw(c);
            c->processing = false;
            return;
        }
        size_t body_len;
        int rc = jute_frame_peek(c->in.data + off, avail, (int32_t)srv->cfg.jute_max_buffer, &body_len);
        if (rc < 0) {
            LOG_WARN("closing %s:%u: frame length out of range (jute.maxbuffer is %u)", c->peer_ip, c->peer_port,
                     srv->cfg.jute_max_buffer);
            rt_conn_close(c);
            c->processing = false;
            return;
        }
        if (rc == 0) break;
        if (srv->node && rt_node_saturated(srv->node)) { /* resumed by rt_conn_resume_node_waiters */
            if (!c->node_wait) srv->node_waiting++;
            c->node_wait = true;
            break;
        }
        pk_slice frame = {c->in.data + off + 4, body_len};
        off += 4 + body_len;
        if (c->state == RT_CONN_HANDSHAKE) handle_connect(c, frame);
        else handle_request(c, frame);
    }
    c->processing = false;
    if (c->closed) return;
    if (off) pk_buf_consume(&c->in, off);
    update_reading(c);
}
