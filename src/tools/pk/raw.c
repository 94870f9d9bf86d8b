/* raw.c: a minimal synchronous ZooKeeper client for the requests libzookeeper-mt 3.8 cannot send
 * (addWatch, whoami, getAllChildrenNumber) and for `pk watch`'s persistent watch. One session on one
 * socket; requests are strictly one at a time under r->mu; notifications go to r->on_event. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk.h"

#define RAW_FRAME_MAX (PK_DATA_MAX + 64 * 1024)
#define RAW_XID_WATCH (-1)
#define RAW_XID_PING (-2)
#define RAW_XID_AUTH (-4)

/* Append a big-endian int32. */
void pk_raw_put_i32(pk_buf *b, int32_t v) {
    PK_ASSERT(b != NULL);
    uint8_t *p = pk_buf_extend(b, 4);
    PK_ASSERT(p != NULL);
    pk_put_u32(p, (uint32_t)v);
}

/* Append a big-endian int64. */
static void raw_put_i64(pk_buf *b, int64_t v) {
    PK_ASSERT(b != NULL);
    uint8_t *p = pk_buf_extend(b, 8);
    PK_ASSERT(p != NULL);
    pk_put_u64(p, (uint64_t)v);
}

/* Append a jute ustring (length-prefixed). */
void pk_raw_put_str(pk_buf *b, const char *s) {
    PK_ASSERT(b != NULL);
    PK_ASSERT(s != NULL);
    size_t n = strlen(s);
    PK_ASSERT(n < RAW_FRAME_MAX);
    pk_raw_put_i32(b, (int32_t)n);
    pk_buf_append(b, s, n);
}

/* Read a big-endian int32 from s; PK_EDECODE when short. */
int pk_raw_get_i32(pk_slice *s, int32_t *v) {
    PK_ASSERT(s != NULL);
    PK_ASSERT(v != NULL);
    if (s->len < 4) return PK_EDECODE;
    *v = (int32_t)pk_get_u32(s->ptr);
    s->ptr += 4;
    s->len -= 4;
    return PK_OK;
}

/* Read a big-endian int64 from s; PK_EDECODE when short. */
int pk_raw_get_i64(pk_slice *s, int64_t *v) {
    PK_ASSERT(s != NULL);
    PK_ASSERT(v != NULL);
    if (s->len < 8) return PK_EDECODE;
    *v = (int64_t)pk_get_u64(s->ptr);
    s->ptr += 8;
    s->len -= 8;
    return PK_OK;
}

/* Read a jute buffer/ustring (length -1 means null: *p = NULL, *n = -1). */
int pk_raw_get_buf(pk_slice *s, const uint8_t **p, int32_t *n) {
    PK_ASSERT(p != NULL);
    PK_ASSERT(n != NULL);
    if (pk_raw_get_i32(s, n) != PK_OK) return PK_EDECODE;
    if (*n < 0) {
        *p = NULL;
        *n = -1;
        return PK_OK;
    }
    if ((size_t)*n > s->len) return PK_EDECODE;
    *p = s->ptr;
    s->ptr += *n;
    s->len -= (size_t)*n;
    return PK_OK;
}

/* Read a Stat record. */
int pk_raw_get_stat(pk_slice *s, struct Stat *st) {
    PK_ASSERT(s != NULL);
    PK_ASSERT(st != NULL);
    int32_t v32[3], dl, nc;
    int rc = pk_raw_get_i64(s, &st->czxid) | pk_raw_get_i64(s, &st->mzxid) | pk_raw_get_i64(s, &st->ctime) |
             pk_raw_get_i64(s, &st->mtime) | pk_raw_get_i32(s, &v32[0]) | pk_raw_get_i32(s, &v32[1]) |
             pk_raw_get_i32(s, &v32[2]) | pk_raw_get_i64(s, &st->ephemeralOwner) | pk_raw_get_i32(s, &dl) |
             pk_raw_get_i32(s, &nc) | pk_raw_get_i64(s, &st->pzxid);
    st->version = v32[0];
    st->cversion = v32[1];
    st->aversion = v32[2];
    st->dataLength = dl;
    st->numChildren = nc;
    return rc ? PK_EDECODE : PK_OK;
}

/* Write all of p, or fail with ZCONNECTIONLOSS. */
static int raw_write_all(int fd, const uint8_t *p, size_t n) {
    PK_ASSERT(fd >= 0);
    PK_ASSERT(p != NULL);
    size_t off = 0;
    for (int i = 0; i < 100000 && off < n; i++) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return ZCONNECTIONLOSS;
        off += (size_t)w;
    }
    return off == n ? ZOK : ZCONNECTIONLOSS;
}

/* Read exactly n bytes before the deadline, or fail with ZCONNECTIONLOSS / ZOPERATIONTIMEOUT. */
static int raw_read_all(int fd, uint8_t *p, size_t n, int64_t deadline_ms) {
    PK_ASSERT(fd >= 0);
    PK_ASSERT(p != NULL || n == 0);
    size_t off = 0;
    for (int i = 0; i < 1000000 && off < n; i++) {
        int64_t left = deadline_ms - pk_now_ms();
        if (left <= 0) return ZOPERATIONTIMEOUT;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)PK_MIN(left, 1000));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        ssize_t r = recv(fd, p + off, n - off, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ZCONNECTIONLOSS;
        off += (size_t)r;
    }
    return off == n ? ZOK : ZOPERATIONTIMEOUT;
}

/* Read one length-prefixed frame into out. */
static int raw_read_frame(int fd, pk_buf *out, int64_t deadline_ms) {
    PK_ASSERT(out != NULL);
    uint8_t hdr[4];
    int rc = raw_read_all(fd, hdr, 4, deadline_ms);
    if (rc != ZOK) return rc;
    uint32_t len = pk_get_u32(hdr);
    if (len > RAW_FRAME_MAX) return ZMARSHALLINGERROR;
    pk_buf_reset(out);
    uint8_t *p = pk_buf_extend(out, len);
    PK_ASSERT(out->len == len);
    return raw_read_all(fd, p, len, deadline_ms);
}

/* Open a TCP connection to "host:port". */
static int raw_dial(const char *hostport, int wait_ms) {
    PK_ASSERT(hostport != NULL);
    PK_ASSERT(wait_ms > 0);
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || (size_t)(colon - hostport) >= sizeof host) return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    const char *port = colon + 1;
    char h2[256];
    if (host[0] == '[') { /* [::1]:2181 */
        snprintf(h2, sizeof h2, "%.*s", (int)strlen(host) - 2, host + 1);
    } else {
        snprintf(h2, sizeof h2, "%s", host);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(h2, port, &hints, &res) != 0 || res == NULL) return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* Connect to one server and create a new session; returns a ZooKeeper code. */
int pk_raw_connect(pk_raw *r, const char *hostport, int timeout_ms, int wait_ms) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(timeout_ms > 0);
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->fd = raw_dial(hostport, wait_ms);
    if (r->fd < 0) return ZCONNECTIONLOSS;
    pk_buf b;
    pk_buf_init(&b);
    pk_raw_put_i32(&b, 0); /* frame length, patched below */
    pk_raw_put_i32(&b, 0); /* protocolVersion */
    raw_put_i64(&b, 0);    /* lastZxidSeen */
    pk_raw_put_i32(&b, timeout_ms);
    raw_put_i64(&b, 0); /* sessionId: new session */
    pk_raw_put_i32(&b, 16);
    memset(pk_buf_extend(&b, 16), 0, 16);
    pk_buf_append(&b, "\0", 1); /* readOnly = false */
    pk_put_u32(b.data, (uint32_t)(b.len - 4));
    int rc = raw_write_all(r->fd, b.data, b.len);
    if (rc == ZOK) rc = raw_read_frame(r->fd, &b, pk_now_ms() + wait_ms);
    int32_t proto = 0, to = 0;
    pk_slice s = pk_buf_slice(&b);
    if (rc == ZOK && (pk_raw_get_i32(&s, &proto) || pk_raw_get_i32(&s, &to) ||
                      pk_raw_get_i64(&s, &r->session_id)))
        rc = ZMARSHALLINGERROR;
    if (rc == ZOK && to <= 0) rc = ZSESSIONEXPIRED;
    pk_buf_deinit(&b);
    if (rc != ZOK) {
        close(r->fd);
        r->fd = -1;
        return rc;
    }
    r->timeout_ms = to;
    return ZOK;
}

/* Close the session politely (closeSession) and the socket. */
void pk_raw_close(pk_raw *r) {
    PK_ASSERT(r != NULL);
    if (r->fd >= 0) {
        pk_buf resp;
        pk_buf_init(&resp);
        (void)pk_raw_call(r, ZOO_CLOSE_OP, NULL, 0, &resp, 1000);
        pk_buf_deinit(&resp);
        close(r->fd);
    }
    r->fd = -1;
    PK_ASSERT(r->fd == -1);
    pthread_mutex_destroy(&r->mu);
}

/* Hand a notification frame's WatcherEvent to the event callback. */
static void raw_dispatch_event(pk_raw *r, pk_slice s) {
    PK_ASSERT(r != NULL);
    int32_t type = 0, state = 0, n = 0;
    const uint8_t *p = NULL;
    if (pk_raw_get_i32(&s, &type) || pk_raw_get_i32(&s, &state) || pk_raw_get_buf(&s, &p, &n)) return;
    char path[PK_PATH_MAX];
    snprintf(path, sizeof path, "%.*s", n < 0 ? 0 : n, p ? (const char *)p : "");
    PK_ASSERT(strlen(path) < sizeof path);
    if (r->on_event) r->on_event(r->event_ctx, type, state, path);
}

/* Send one request (xid chosen here unless type is auth/ping) and wait for its reply; r->mu held. */
static int raw_call_locked(pk_raw *r, int32_t xid, int type, const uint8_t *req, size_t req_len, pk_buf *resp,
                           int wait_ms) {
    PK_ASSERT(r->fd >= 0);
    PK_ASSERT(resp != NULL);
    pk_buf b;
    pk_buf_init(&b);
    pk_raw_put_i32(&b, (int32_t)(8 + req_len));
    pk_raw_put_i32(&b, xid);
    pk_raw_put_i32(&b, type);
    if (req_len) pk_buf_append(&b, req, req_len);
    int rc = raw_write_all(r->fd, b.data, b.len);
    pk_buf_deinit(&b);
    r->last_send_ms = pk_now_ms();
    int64_t deadline = pk_now_ms() + wait_ms;
    for (int i = 0; rc == ZOK && i < 100000; i++) {
        rc = raw_read_frame(r->fd, resp, deadline);
        if (rc != ZOK) break;
        pk_slice s = pk_buf_slice(resp);
        int32_t rxid = 0, err = 0;
        int64_t zxid = 0;
        if (pk_raw_get_i32(&s, &rxid) || pk_raw_get_i64(&s, &zxid) || pk_raw_get_i32(&s, &err))
            return ZMARSHALLINGERROR;
        if (rxid == RAW_XID_WATCH) {
            raw_dispatch_event(r, s);
            continue;
        }
        if (rxid != xid) continue; /* a ping reply */
        if (err != 0) return err;
        pk_buf_consume(resp, 16);
        return ZOK;
    }
    return rc;
}

/* Send one request and wait up to wait_ms for its reply; the reply body (after the header) lands in resp. */
int pk_raw_call(pk_raw *r, int type, const uint8_t *req, size_t req_len, pk_buf *resp, int wait_ms) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(wait_ms > 0);
    if (r->fd < 0) return ZCONNECTIONLOSS;
    pthread_mutex_lock(&r->mu);
    int32_t xid = type == ZOO_SETAUTH_OP ? RAW_XID_AUTH : ++r->xid;
    int rc = raw_call_locked(r, xid, type, req, req_len, resp, wait_ms);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* Wait up to wait_ms for notifications and dispatch them; ping after timeout/3 of silence. */
int pk_raw_poll(pk_raw *r, int wait_ms) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(wait_ms >= 0);
    if (r->fd < 0) return ZCONNECTIONLOSS;
    struct pollfd pf = {.fd = r->fd, .events = POLLIN};
    int pr = poll(&pf, 1, wait_ms);
    pthread_mutex_lock(&r->mu);
    if (pr > 0) pr = poll(&pf, 1, 0); /* a call may have read it while we waited for the lock */
    pk_buf resp;
    pk_buf_init(&resp);
    int rc = ZOK;
    if (pr > 0) {
        /* Frames that arrive outside a call are notifications or stray ping replies. */
        rc = raw_read_frame(r->fd, &resp, pk_now_ms() + r->timeout_ms);
        pk_slice s = pk_buf_slice(&resp);
        int32_t rxid = 0, err = 0;
        int64_t zxid = 0;
        if (rc == ZOK && !pk_raw_get_i32(&s, &rxid) && !pk_raw_get_i64(&s, &zxid) && !pk_raw_get_i32(&s, &err) &&
            rxid == RAW_XID_WATCH)
            raw_dispatch_event(r, s);
    } else if (pk_now_ms() - r->last_send_ms >= r->timeout_ms / 3) {
        rc = raw_call_locked(r, RAW_XID_PING, ZOO_PING_OP, NULL, 0, &resp, r->timeout_ms);
    }
    pk_buf_deinit(&resp);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* getData (no watch) over the raw session. */
int pk_raw_get_data(pk_raw *r, const char *path, pk_buf *data, struct Stat *st) {
    PK_ASSERT(path != NULL);
    PK_ASSERT(data != NULL);
    pk_buf req, resp;
    pk_buf_init(&req);
    pk_buf_init(&resp);
    pk_raw_put_str(&req, path);
    pk_buf_append(&req, "\0", 1);
    int rc = pk_raw_call(r, ZOO_GETDATA_OP, req.data, req.len, &resp, r->timeout_ms);
    pk_slice s = pk_buf_slice(&resp);
    const uint8_t *p = NULL;
    int32_t n = 0;
    if (rc == ZOK && (pk_raw_get_buf(&s, &p, &n) || pk_raw_get_stat(&s, st))) rc = ZMARSHALLINGERROR;
    pk_buf_reset(data);
    if (rc == ZOK && n > 0) pk_buf_append(data, p, (size_t)n);
    pk_buf_deinit(&req);
    pk_buf_deinit(&resp);
    return rc;
}
