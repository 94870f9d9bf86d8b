/* pk-floor: the platform floor for pk-bench's loads — what any server pays on this machine.
 *
 * A minimal, single-threaded epoll server that speaks just enough of the ZooKeeper protocol for pk-bench
 * (ConnectRequest/ConnectResponse, create, delete, getData, setData, ping, closeSession) with correct
 * replies (data, Stat fields, error codes), and makes every write durable before answering it: each write
 * (createSession, create, delete, setData, closeSession) appends a record (zxid, length, crc32c, request
 * bytes) to a preallocated file; at the end of each epoll round the records that arrived in that round are
 * written with one pwrite and one fdatasync (group commit, inline on the one thread), and only then are that
 * round's replies written to the sockets. No threads, no timers, no session expiry, no ACLs, no watches,
 * no snapshots, no recovery: it is a measuring stick, not a server.
 *
 * Invariants: a reply to a write never leaves before its record is fdatasynced (replies are written only
 * after the round's commit); replies to one connection leave in request order (one output buffer each).
 * Ownership: the node table owns its paths and values; each connection owns its buffers.
 *
 * Usage: pk-floor [-p PORT] [-f FILE] [--file-mib N]   (127.0.0.1 only; not a test, not installed)
 */
#include "base/base.h"
#include "wire/jute.h"
#include "wire/proto.h"
#include "wire/records.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MAX_CONNS 4096
#define FLOOR_MAX_NODES 65536          /* power of two */
#define FLOOR_MAX_FRAME (1u << 20)

typedef struct floor_node {
    char *path;        /* NULL = empty slot */
    pk_buf data;
    int64_t czxid, mzxid, ctime_ms, mtime_ms;
    int32_t version;
    bool deleted;      /* tombstone (keeps probe chains intact) */
} floor_node;

typedef struct floor_conn {
    int fd;
    bool handshaken;
    bool close_after;  /* closeSession answered: close once the output is flushed */
    bool dirty;
    bool want_out;     /* EPOLLOUT registered */
    int64_t session_id;
    pk_buf in, out;
} floor_conn;

typedef struct floor_server {
    int ep, listen_fd, log_fd;
    uint64_t log_size, log_off;
    pk_buf log;        /* this round's records */
    int64_t zxid;
    int64_t next_session;
    int64_t seq;       /* sequential-node counter (one parent's worth is enough for pk-bench) */
    floor_node *nodes;
    floor_conn *conns[FLOOR_MAX_CONNS];
    uint32_t dirty[FLOOR_MAX_CONNS];
    uint32_t dirty_count;
    uint64_t commits, records;
} floor_server;

static volatile sig_atomic_t floor_stop;

/* SIGTERM/SIGINT: leave the loop at the next wakeup. */
static void on_signal(int sig) {
    (void)sig;
    floor_stop = 1;
}

/* Milliseconds of wall time (Stat times). */
static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Finds the slot of path (or the first free slot for it when create is set); NULL when absent/full. */
static floor_node *node_slot(floor_server *s, pk_slice path, bool create) {
    uint64_t mask = FLOOR_MAX_NODES - 1, i = pk_hash64(path.ptr, path.len, 0) & mask;
    floor_node *free_slot = NULL;
    for (uint64_t probes = 0; probes < FLOOR_MAX_NODES; probes++, i = (i + 1) & mask) {
        floor_node *n = &s->nodes[i];
        if (n->path == NULL) return create ? (free_slot ? free_slot : n) : NULL;
        if (n->deleted) {
            if (!free_slot) free_slot = n;
            continue;
        }
        if (strlen(n->path) == path.len && memcmp(n->path, path.ptr, path.len) == 0) return n;
    }
    return create ? free_slot : NULL;
}

/* Encodes the Stat of node n. */
static void put_stat(pk_buf *b, const floor_node *n) {
    struct wire_stat st = {.czxid = n->czxid, .mzxid = n->mzxid, .ctime_ms = n->ctime_ms, .mtime_ms = n->mtime_ms,
                           .version = n->version, .data_length = (int32_t)n->data.len, .pzxid = n->czxid};
    wire_stat_encode(b, &st);
}

/* Appends one durable record (zxid, length, crc32c, bytes) for a write to this round's batch. */
static void log_record(floor_server *s, pk_slice bytes) {
    uint8_t hdr[16];
    pk_put_u64(hdr, (uint64_t)s->zxid);
    pk_put_u32(hdr + 8, (uint32_t)bytes.len);
    pk_put_u32(hdr + 12, pk_crc32c(0, bytes.ptr, bytes.len));
    pk_buf_append(&s->log, hdr, sizeof hdr);
    pk_buf_append(&s->log, bytes.ptr, bytes.len);
    s->records++;
}

/* Writes this round's records with one pwrite and one fdatasync (wrapping at the end of the file). */
static void log_commit(floor_server *s) {
    if (s->log.len == 0) return;
    PK_ASSERT(s->log.len <= s->log_size);
    if (s->log_off + s->log.len > s->log_size) s->log_off = 0;
    for (size_t done = 0; done < s->log.len;) {
        ssize_t w = pwrite(s->log_fd, s->log.data + done, s->log.len - done, (off_t)(s->log_off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) PK_PANIC("pk-floor: pwrite: %s", strerror(errno));
        done += (size_t)w;
    }
    int rc;
    do rc = fdatasync(s->log_fd);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) PK_PANIC("pk-floor: fdatasync: %s", strerror(errno));
    s->log_off += s->log.len;
    pk_buf_reset(&s->log);
    s->commits++;
}

/* Marks c to be flushed after this round's commit. */
static void mark_dirty(floor_server *s, floor_conn *c) {
    if (c->dirty) return;
    c->dirty = true;
    s->dirty[s->dirty_count++] = (uint32_t)c->fd;
}

/* Appends a reply frame: header (xid, zxid, err) + body. */
static void reply(floor_server *s, floor_conn *c, int32_t xid, int32_t err, const pk_buf *body) {
    size_t mark = jute_frame_begin(&c->out);
    struct wire_reply_header h = {.xid = xid, .zxid = s->zxid, .err = err};
    wire_reply_header_encode(&c->out, &h);
    if (err == 0 && body && body->len) pk_buf_append(&c->out, body->data, body->len);
    jute_frame_end(&c->out, mark);
    mark_dirty(s, c);
}

/* Handles the ConnectRequest: a new session is a write (logged), then the ConnectResponse. */
static int handle_connect(floor_server *s, floor_conn *c, pk_slice frame) {
    jute_reader r;
    jute_reader_init(&r, frame.ptr, frame.len, FLOOR_MAX_FRAME);
    struct wire_connect_request req;
    if (wire_connect_request_decode(&r, &req) < 0) return -1;
    s->zxid++;
    c->session_id = ++s->next_session;
    log_record(s, frame);
    static const uint8_t passwd[16];
    struct wire_connect_response resp = {.timeout_ms = req.timeout_ms > 0 ? req.timeout_ms : 30000,
                                         .session_id = c->session_id, .passwd = {passwd, sizeof passwd},
                                         .has_read_only = req.has_read_only};
    size_t mark = jute_frame_begin(&c->out);
    wire_connect_response_encode(&c->out, &resp);
    jute_frame_end(&c->out, mark);
    c->handshaken = true;
    mark_dirty(s, c);
    return 0;
}

/* Handles one request frame; returns -1 on a protocol error (the connection is closed). */
static int handle_request(floor_server *s, floor_conn *c, pk_slice frame, pk_buf *body) {
    jute_reader r;
    jute_reader_init(&r, frame.ptr, frame.len, FLOOR_MAX_FRAME);
    struct wire_request_header h;
    if (wire_request_header_decode(&r, &h) < 0) return -1;
    pk_buf_reset(body);
    if (h.type == ZK_OP_PING) {
        reply(s, c, h.xid, 0, NULL);
        return 0;
    }
    if (h.type == ZK_OP_CLOSE_SESSION) {
        s->zxid++;
        log_record(s, frame);
        reply(s, c, h.xid, 0, NULL);
        c->close_after = true;
        return 0;
    }
    if (!wire_request_op_known(h.type)) {
        reply(s, c, h.xid, ZK_ERR_UNIMPLEMENTED, NULL);
        return 0;
    }
    struct wire_request req;
    if (wire_request_decode(&r, h.type, &req) < 0) return -1;
    int32_t err = 0;
    switch (h.type) {
    case ZK_OP_GET_DATA: {
        floor_node *n = node_slot(s, req.u.get_data.path, false);
        if (!n) { err = ZK_ERR_NO_NODE; break; }
        jute_write_buffer(body, pk_buf_slice(&n->data));
        put_stat(body, n);
        break;
    }
    case ZK_OP_SET_DATA: {
        floor_node *n = node_slot(s, req.u.set_data.path, false);
        if (!n) { err = ZK_ERR_NO_NODE; break; }
        if (req.u.set_data.version != -1 && req.u.set_data.version != n->version) { err = ZK_ERR_BAD_VERSION; break; }
        s->zxid++;
        log_record(s, frame);
        pk_buf_reset(&n->data);
        pk_buf_append(&n->data, req.u.set_data.data.ptr, req.u.set_data.data.len);
        n->version++;
        n->mzxid = s->zxid;
        n->mtime_ms = wall_ms();
        put_stat(body, n);
        break;
    }
    case ZK_OP_CREATE: {
        char path[512];
        pk_slice p = req.u.create.path;
        if (p.len + 11 > sizeof path) { err = ZK_ERR_BAD_ARGUMENTS; break; }
        memcpy(path, p.ptr, p.len);
        path[p.len] = 0;
        if (req.u.create.flags & 2) snprintf(path + p.len, 11, "%010lld", (long long)s->seq++);
        pk_slice full = pk_slice_str(path);
        floor_node *n = node_slot(s, full, true);
        if (!n) { err = ZK_ERR_BAD_ARGUMENTS; break; }
        if (n->path && !n->deleted) { err = ZK_ERR_NODE_EXISTS; break; }
        s->zxid++;
        log_record(s, frame);
        if (!n->path) {
            n->path = pk_malloc(full.len + 1);
            pk_buf_init(&n->data);
        }
        memcpy(n->path, path, full.len + 1);
        n->deleted = false;
        pk_buf_reset(&n->data);
        pk_buf_append(&n->data, req.u.create.data.ptr, req.u.create.data.len);
        n->czxid = n->mzxid = s->zxid;
        n->ctime_ms = n->mtime_ms = wall_ms();
        n->version = 0;
        jute_write_ustring(body, full);
        break;
    }
    case ZK_OP_DELETE: {
        floor_node *n = node_slot(s, req.u.del.path, false);
        if (!n) { err = ZK_ERR_NO_NODE; break; }
        if (req.u.del.version != -1 && req.u.del.version != n->version) { err = ZK_ERR_BAD_VERSION; break; }
        s->zxid++;
        log_record(s, frame);
        n->deleted = true;
        break;
    }
    default: err = ZK_ERR_UNIMPLEMENTED; break;
    }
    reply(s, c, h.xid, err, body);
    return 0;
}

/* Closes a connection and frees it. */
static void conn_close(floor_server *s, floor_conn *c) {
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    s->conns[c->fd] = NULL;
    pk_buf_deinit(&c->in);
    pk_buf_deinit(&c->out);
    free(c);
}

/* Reads what the socket has and handles every whole frame; returns -1 when the connection must close. */
static int conn_read(floor_server *s, floor_conn *c, pk_buf *body) {
    for (int i = 0; i < 64; i++) {
        pk_buf_reserve(&c->in, 65536);
        ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) return -1;
        c->in.len += (size_t)n;
        if ((size_t)n < 65536) break;
    }
    size_t off = 0, body_len;
    for (int rc; (rc = jute_frame_peek(c->in.data + off, c->in.len - off, FLOOR_MAX_FRAME, &body_len)) != 0;) {
        if (rc < 0) return -1;
        pk_slice frame = {c->in.data + off + 4, body_len};
        off += 4 + body_len;
        if (c->close_after) continue;  /* nothing after closeSession */
        if (!c->handshaken ? handle_connect(s, c, frame) : handle_request(s, c, frame, body)) return -1;
    }
    pk_buf_consume(&c->in, off);
    return 0;
}

/* Writes c's output; registers for EPOLLOUT when the socket is full. Returns -1 when c must close. */
static int conn_flush(floor_server *s, floor_conn *c) {
    while (c->out.len) {
        ssize_t w = write(c->fd, c->out.data, c->out.len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (w <= 0) return -1;
        pk_buf_consume(&c->out, (size_t)w);
    }
    bool want = c->out.len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = c->fd};
        epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return (c->close_after && c->out.len == 0) ? -1 : 0;
}

/* Accepts every pending connection. */
static void accept_all(floor_server *s) {
    for (int i = 0; i < 1024; i++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (fd >= FLOOR_MAX_CONNS) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        floor_conn *c = pk_calloc(1, sizeof *c);
        c->fd = fd;
        pk_buf_init(&c->in);
        pk_buf_init(&c->out);
        s->conns[fd] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Opens and preallocates the log file. */
static void open_log(floor_server *s, const char *path, uint64_t size) {
    s->log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->log_fd < 0) PK_PANIC("pk-floor: open %s: %s", path, strerror(errno));
    int rc = posix_fallocate(s->log_fd, 0, (off_t)size);
    if (rc != 0) PK_PANIC("pk-floor: posix_fallocate: %s", strerror(rc));
    if (fsync(s->log_fd) != 0) PK_PANIC("pk-floor: fsync: %s", strerror(errno));
    s->log_size = size;
}

/* Serves until SIGTERM/SIGINT. */
int main(int argc, char **argv) {
    int port = 25101;
    const char *file = "/tmp/pk-floor.log";
    uint64_t file_mib = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-p") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-f") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--file-mib") && i + 1 < argc) file_mib = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: pk-floor [-p PORT] [-f FILE] [--file-mib N]\n");
            return 2;
        }
    }
    floor_server *s = pk_calloc(1, sizeof *s);
    s->nodes = pk_calloc(FLOOR_MAX_NODES, sizeof *s->nodes);
    s->next_session = (int64_t)0x7f00000000000000;
    pk_buf_init(&s->log);
    open_log(s, file, file_mib << 20);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) || listen(s->listen_fd, 1024))
        PK_PANIC("pk-floor: listen on 127.0.0.1:%d: %s", port, strerror(errno));
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = s->listen_fd};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->listen_fd, &lev);
    fprintf(stderr, "pk-floor: serving on 127.0.0.1:%d, log %s (%llu MiB)\n", port, file, (unsigned long long)file_mib);

    pk_buf body;
    pk_buf_init(&body);
    struct epoll_event evs[256];
    while (!floor_stop) {
        int n = epoll_wait(s->ep, evs, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) PK_PANIC("pk-floor: epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->listen_fd) {
                accept_all(s);
                continue;
            }
            floor_conn *c = s->conns[fd];
            if (!c) continue;
            if ((evs[i].events & EPOLLOUT)) mark_dirty(s, c);
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(s, c, &body) < 0) {
                if (c->dirty) c->close_after = true, c->in.len = 0;   /* flush what it was owed, then close */
                else conn_close(s, c);
            }
        }
        log_commit(s);   /* group commit: everything written this round is durable before any reply leaves */
        for (uint32_t i = 0; i < s->dirty_count; i++) {
            floor_conn *c = s->conns[s->dirty[i]];
            if (!c) continue;
            c->dirty = false;
            if (conn_flush(s, c) < 0) conn_close(s, c);
        }
        s->dirty_count = 0;
    }
    fprintf(stderr, "pk-floor: %llu records in %llu commits\n", (unsigned long long)s->records,
            (unsigned long long)s->commits);
    pk_buf_deinit(&body);
    pk_buf_deinit(&s->log);
    for (int fd = 0; fd < FLOOR_MAX_CONNS; fd++)
        if (s->conns[fd]) conn_close(s, s->conns[fd]);
    for (size_t i = 0; i < FLOOR_MAX_NODES; i++) {
        free(s->nodes[i].path);
        if (s->nodes[i].path) pk_buf_deinit(&s->nodes[i].data);
    }
    free(s->nodes);
    close(s->log_fd);
    close(s->ep);
    close(s->listen_fd);
    free(s);
    return 0;
}
