/* pk-bench connections: non-blocking sockets, framing, the in-flight ring and blocking helpers. */
#include "tools/bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* Allocates the connection's buffers; the socket is not opened yet. */
void bench_conn_init(bench_conn *c, uint32_t index) {
    PK_ASSERT(c != NULL);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->index = index;
    c->in = pk_malloc(BENCH_IN_CAP);
    c->ring = pk_calloc(BENCH_RING_CAP, sizeof(bench_inflight));
    pk_buf_init(&c->out);
    pk_buf_reserve(&c->out, 64 * 1024);
    PK_ASSERT((BENCH_RING_CAP & (BENCH_RING_CAP - 1)) == 0);
}

/* Closes the socket (if any) and frees the buffers. */
void bench_conn_deinit(bench_conn *c) {
    PK_ASSERT(c != NULL);
    bench_conn_close(c);
    free(c->in);
    free(c->ring);
    pk_buf_deinit(&c->out);
    c->in = NULL;
    c->ring = NULL;
    PK_ASSERT(c->fd < 0);
}

/* Closes the socket and resets the buffers so the connection can be opened again. */
void bench_conn_close(bench_conn *c) {
    PK_ASSERT(c != NULL);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = BENCH_C_IDLE;
    c->in_len = c->in_pos = 0;
    pk_buf_reset(&c->out);
    c->out_sent = 0;
    c->ring_head = c->ring_len = 0;
    c->want_write = false;
    c->session_id = 0;
    PK_ASSERT(c->ring_len == 0);
}

/* Appends the ConnectRequest frame (protocol 0, fresh session, readOnly byte present). */
static void queue_connect_request(bench_conn *c, int32_t timeout_ms) {
    static const uint8_t zero_passwd[16];
    struct wire_connect_request req = {
        .protocol_version = 0, .last_zxid_seen = 0, .timeout_ms = timeout_ms, .session_id = 0,
        .passwd = {zero_passwd, sizeof(zero_passwd)}, .read_only = false, .has_read_only = true,
    };
    size_t mark = jute_frame_begin(&c->out);
    wire_connect_request_encode(&c->out, &req);
    jute_frame_end(&c->out, mark);
    PK_ASSERT(c->out.len > mark + 4);
    PK_ASSERT(timeout_ms > 0);
}

/* Starts a non-blocking TCP connect to host:port and queues the ConnectRequest; returns 0 or -errno. */
int bench_conn_open(bench_conn *c, const char *host, uint16_t port, int32_t timeout_ms) {
    PK_ASSERT(c != NULL && c->fd < 0);
    PK_ASSERT(host != NULL && port != 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    c->fd = fd;
    c->state = BENCH_C_CONNECTING;
    c->next_xid = 1;
    queue_connect_request(c, timeout_ms);
    return 0;
}

/* Appends a request frame (header + body) and records it in flight; returns the xid. */
int32_t bench_conn_send(bench_conn *c, const struct wire_request *req, uint8_t kind, uint64_t intended_ns) {
    PK_ASSERT(c != NULL && c->fd >= 0);
    PK_ASSERT(c->ring_len < BENCH_RING_CAP);
    int32_t xid = c->next_xid++;
    if (c->next_xid <= 0) c->next_xid = 1;
    size_t mark = jute_frame_begin(&c->out);
    struct wire_request_header h = {.xid = xid, .type = req->op};
    wire_request_header_encode(&c->out, &h);
    wire_request_encode(&c->out, req);
    jute_frame_end(&c->out, mark);
    bench_inflight *slot = &c->ring[(c->ring_head + c->ring_len) & (BENCH_RING_CAP - 1)];
    slot->intended_ns = intended_ns;
    slot->xid = xid;
    slot->kind = kind;
    c->ring_len++;
    return xid;
}

/* Writes as much buffered output as the socket takes; returns 0, or -errno on a broken connection. */
int bench_conn_flush(bench_conn *c) {
    PK_ASSERT(c != NULL && c->fd >= 0);
    PK_ASSERT(c->out_sent <= c->out.len);
    for (int round = 0; round < 64 && c->out_sent < c->out.len; round++) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) break;
            if (errno == EINTR) continue;
            return -errno;
        }
        c->out_sent += (size_t)n;
    }
    if (c->out_sent == c->out.len) {
        pk_buf_reset(&c->out);
        c->out_sent = 0;
    } else if (c->out_sent > (1u << 20)) {
        pk_buf_consume(&c->out, c->out_sent);
        c->out_sent = 0;
    }
    return 0;
}

/* Reads what is available into the input buffer; returns bytes read, 0 on EOF, -EAGAIN, or -errno. */
ssize_t bench_conn_fill(bench_conn *c) {
    PK_ASSERT(c != NULL && c->fd >= 0);
    if (c->in_pos > 0) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    PK_ASSERT(c->in_len < BENCH_IN_CAP);
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, BENCH_IN_CAP - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            return n;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return -errno;
    }
}

/* Returns the next complete frame body (without length prefix) or a null slice. */
pk_slice bench_conn_peek_frame(const bench_conn *c) {
    PK_ASSERT(c != NULL);
    size_t body_len = 0;
    int rc = jute_frame_peek(c->in + c->in_pos, c->in_len - c->in_pos, BENCH_MAX_FRAME, &body_len);
    if (rc < 0) PK_PANIC("pk-bench: bad frame length from server (session %u)", c->index);
    if (rc == 0) return jute_null();
    PK_ASSERT(c->in_pos + body_len + 4 <= c->in_len);
    return (pk_slice){c->in + c->in_pos + 4, body_len};
}

/* Drops the frame returned by bench_conn_peek_frame (the space is reclaimed by the next fill). */
void bench_conn_pop_frame(bench_conn *c) {
    PK_ASSERT(c->in_pos + 4 <= c->in_len);
    size_t n = 4 + pk_get_u32(c->in + c->in_pos);
    PK_ASSERT(c->in_pos + n <= c->in_len);
    c->in_pos += n;
    if (c->in_pos == c->in_len) c->in_pos = c->in_len = 0;
}

/* Removes and returns the oldest in-flight request; the ring must not be empty. */
bench_inflight bench_conn_ring_pop(bench_conn *c) {
    PK_ASSERT(c != NULL);
    PK_ASSERT(c->ring_len > 0);
    bench_inflight f = c->ring[c->ring_head];
    c->ring_head = (c->ring_head + 1) & (BENCH_RING_CAP - 1);
    c->ring_len--;
    return f;
}

/* Parses a ConnectResponse frame body; returns 0 and sets session_id, or PK_EDECODE / PK_ECLOSED. */
int bench_conn_handshake_done(bench_conn *c, pk_slice body) {
    PK_ASSERT(c != NULL);
    PK_ASSERT(c->state == BENCH_C_CONNECTING || c->state == BENCH_C_HANDSHAKE);
    jute_reader r;
    jute_reader_init_slice(&r, body, BENCH_MAX_FRAME);
    struct wire_connect_response resp;
    if (wire_connect_response_decode(&r, &resp) < 0) return PK_EDECODE;
    if (resp.timeout_ms <= 0 || resp.session_id == 0) return PK_ECLOSED;
    c->session_id = resp.session_id;
    c->state = BENCH_C_OPEN;
    return 0;
}

/* Waits until fd is ready for `events` or the deadline passes; returns >0 ready, 0 timeout, <0 error. */
static int wait_fd(int fd, short events, uint64_t deadline_ns) {
    uint64_t now = bench_now_ns();
    if (now >= deadline_ns) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int ms = (int)((deadline_ns - now) / 1000000u) + 1;
    int rc = poll(&p, 1, ms);
    if (rc < 0 && errno == EINTR) return 0;
    return rc;
}

/* Flushes all output and reads until a whole frame is buffered, blocking up to the deadline. */
static int sync_exchange(bench_conn *c, uint64_t deadline_ns, pk_slice *frame) {
    PK_ASSERT(c->fd >= 0);
    for (int i = 0; i < 100000; i++) {
        if (bench_conn_flush(c) < 0) return PK_EIO;
        *frame = bench_conn_peek_frame(c);
        if (frame->ptr != NULL && c->out.len == 0) return 0;
        short ev = c->out.len > 0 ? (POLLIN | POLLOUT) : POLLIN;
        int rc = wait_fd(c->fd, ev, deadline_ns);
        if (rc == 0) return PK_EAGAIN;
        if (rc < 0) return PK_EIO;
        ssize_t n = bench_conn_fill(c);
        if (n == 0 || (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK)) return PK_EIO;
    }
    return PK_EAGAIN;
}

/* Blocking open + handshake; returns 0 or a negative PK_ code. */
int bench_conn_connect_sync(bench_conn *c, const char *host, uint16_t port, int timeout_ms) {
    PK_ASSERT(c != NULL && c->fd < 0);
    PK_ASSERT(timeout_ms > 0);
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    if (bench_conn_open(c, host, port, 30000) < 0) return PK_EIO;
    pk_slice frame;
    int rc = sync_exchange(c, deadline, &frame);
    if (rc == 0) rc = bench_conn_handshake_done(c, frame);
    if (rc == 0) bench_conn_pop_frame(c);
    if (rc < 0) bench_conn_close(c);
    return rc;
}

/* Blocking request/response on an open connection; see bench.h. */
int bench_conn_call(bench_conn *c, const struct wire_request *req, pk_buf *body, int timeout_ms) {
    PK_ASSERT(c != NULL && c->state == BENCH_C_OPEN);
    PK_ASSERT(c->ring_len == 0);
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int32_t xid = bench_conn_send(c, req, BENCH_K_SETUP, bench_now_ns());
    for (int i = 0; i < 1000; i++) {
        pk_slice frame;
        int rc = sync_exchange(c, deadline, &frame);
        if (rc < 0) return rc;
        jute_reader r;
        jute_reader_init_slice(&r, frame, BENCH_MAX_FRAME);
        struct wire_reply_header h;
        if (wire_reply_header_decode(&r, &h) < 0) return PK_EDECODE;
        if (h.xid != xid) {   /* a notification or ping: skip it */
            bench_conn_pop_frame(c);
            continue;
        }
        pk_slice rest = jute_reader_rest(&r);
        if (body != NULL) {
            pk_buf_reset(body);
            pk_buf_append(body, rest.ptr, rest.len);
        }
        bench_conn_pop_frame(c);
        (void)bench_conn_ring_pop(c);
        return h.err;
    }
    return PK_EAGAIN;
}
