/* pk-bench: a lean, single-threaded, pipelined ZooKeeper load generator built on src/wire.
 *
 * Shape: one epoll loop drives N client sessions (bench_conn), each with up to K requests in flight.
 * Requests are encoded with wire/records.h into a per-connection output buffer and flushed once per loop
 * iteration, so many frames leave in one write(); replies are parsed zero-copy from a per-connection
 * input buffer. Nothing is allocated per operation.
 *
 * Invariants and ownership:
 *  - A ZooKeeper server answers a session's requests in order, so each connection keeps its in-flight
 *    requests in a FIFO ring (bench_inflight) of fixed capacity; a reply always matches the ring's head
 *    (xid checked). Notifications (xid -1) and pings (xid -2) are not in the ring.
 *  - Every loop is bounded (ring capacity, buffer sizes, deadlines); a protocol surprise aborts the run
 *    with a message, never silently skews a figure.
 *  - Latency is measured from the *intended* send time: in closed-loop runs that is the moment the
 *    request was queued; in fixed-rate runs it is the schedule slot (no coordinated omission).
 *  - Server CPU time is utime+stime of the given PIDs from /proc/PID/stat over the measured window.
 */
#ifndef PK_BENCH_H
#define PK_BENCH_H

#include "base/base.h"
#include "wire/jute.h"
#include "wire/proto.h"
#include "wire/records.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define BENCH_MAX_PIDS 8
#define BENCH_MAX_SESSIONS 4096
#define BENCH_RING_CAP 65536          /* in-flight requests per connection (power of two) */
#define BENCH_IN_CAP (4u << 20)       /* input buffer per connection, bytes (>= one max frame) */
#define BENCH_MAX_FRAME (1u << 20)    /* jute.maxbuffer */
#define BENCH_PATH_MAX 256

/* ---- latency histogram (log-linear, ~1.6% resolution, 1 ns .. 2^63 ns) ---- */

#define BENCH_HIST_SUB 64
#define BENCH_HIST_EXP 64
typedef struct bench_hist {
    uint64_t counts[BENCH_HIST_EXP * BENCH_HIST_SUB];
    uint64_t total;
    uint64_t max_ns;
} bench_hist;

/* Empties the histogram. */
void bench_hist_reset(bench_hist *h);
/* Records one latency sample in nanoseconds. */
void bench_hist_add(bench_hist *h, uint64_t ns);
/* Returns the value (ns, upper edge of its bucket, capped at max) at quantile q in [0,1]; 0 when empty. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

/* ---- options ---- */

enum bench_workload {
    BENCH_READ,           /* getData of a size-byte node */
    BENCH_WRITE,          /* setData of size bytes */
    BENCH_MIXED,          /* read_pct% getData, the rest setData */
    BENCH_CREATE_DELETE,  /* create ephemeral-sequential, then delete what was created */
    BENCH_WATCH,          /* fan-out: one setData, `watchers` sessions notified; delivery latency */
    BENCH_CONNECT,        /* session establishment (connect + handshake + closeSession) */
    BENCH_LOAD,           /* create `count` persistent nodes of size bytes, pipelined, then stop */
    BENCH_PROBE,          /* retry connect + getData until the first read is served; report the time */
};

typedef struct bench_opts {
    enum bench_workload workload;
    const char *workload_name;
    char host[64];
    uint16_t port;
    uint32_t sessions;        /* N */
    uint32_t depth;           /* K: outstanding requests per session (closed loop) */
    uint32_t size;            /* value size in bytes */
    uint32_t nodes;           /* distinct nodes read/written (spread over sessions) */
    uint32_t read_pct;        /* mixed: share of reads */
    uint32_t watchers;        /* watch: sessions that watch */
    uint64_t count;           /* load: nodes to create; probe: unused */
    double rate;              /* ops/s for a fixed-rate run; 0 = closed loop */
    double duration_s;        /* measured window */
    double warmup_s;          /* before the window */
    double timeout_s;         /* probe / drain / setup bound */
    char prefix[128];         /* root of every path the bench uses */
    bool verify;              /* check every read's bytes */
    bool no_setup;            /* skip creating the fixtures */
    int pids[BENCH_MAX_PIDS]; /* server processes for CPU accounting */
    uint32_t pid_count;
    const char *label;        /* free text copied into the summary */
    uint64_t seed;
} bench_opts;

/* ---- time and /proc ---- */

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);
/* Sum of utime+stime (seconds) of the given processes; -1 if any /proc/PID/stat cannot be read. */
double bench_proc_cpu_s(const int *pids, uint32_t n);
/* This process's own CPU time (user + system), seconds. */
double bench_self_cpu_s(void);
/* Busy CPU time of the whole machine (all CPUs, everything but idle and iowait) from /proc/stat, seconds. */
double bench_machine_busy_s(void);

/* ---- one client session ---- */

/* What an in-flight request was, so its reply can be checked and counted. */
enum bench_kind {
    BENCH_K_GET = 1, BENCH_K_SET, BENCH_K_CREATE_EPH, BENCH_K_DELETE, BENCH_K_CREATE, BENCH_K_WATCH_GET,
    BENCH_K_CLOSE, BENCH_K_SETUP,
};

typedef struct bench_inflight {
    uint64_t intended_ns;  /* latency origin */
    int32_t xid;
    uint8_t kind;          /* enum bench_kind */
} bench_inflight;

enum bench_conn_state { BENCH_C_IDLE, BENCH_C_CONNECTING, BENCH_C_HANDSHAKE, BENCH_C_OPEN, BENCH_C_CLOSING };

typedef struct bench_conn {
    int fd;
    uint32_t index;            /* position in the session array */
    enum bench_conn_state state;
    int64_t session_id;
    int32_t next_xid;
    uint8_t *in;               /* BENCH_IN_CAP bytes */
    size_t in_pos;             /* bytes of in already parsed (compacted on the next fill) */
    size_t in_len;
    pk_buf out;                /* frames not yet written */
    size_t out_sent;           /* bytes of out already written */
    bench_inflight *ring;      /* BENCH_RING_CAP entries */
    uint32_t ring_head, ring_len;
    bool want_write;           /* EPOLLOUT registered */
    uint64_t started_ns;       /* connect workload: when the connect began */
    uint64_t seq;              /* per-session counter used by workloads */
} bench_conn;

/* Allocates the connection's buffers; the socket is not opened yet. */
void bench_conn_init(bench_conn *c, uint32_t index);
/* Closes the socket (if any) and frees the buffers. */
void bench_conn_deinit(bench_conn *c);
/* Starts a non-blocking TCP connect to host:port and queues the ConnectRequest; returns 0 or -errno. */
int bench_conn_open(bench_conn *c, const char *host, uint16_t port, int32_t timeout_ms);
/* Closes the socket and resets the buffers so the connection can be opened again. */
void bench_conn_close(bench_conn *c);
/* Appends a request frame (header + body) and records it in flight; returns the xid. */
int32_t bench_conn_send(bench_conn *c, const struct wire_request *req, uint8_t kind, uint64_t intended_ns);
/* Writes as much buffered output as the socket takes; returns 0, or -errno on a broken connection. */
int bench_conn_flush(bench_conn *c);
/* Reads what is available into the input buffer; returns bytes read, 0 on EOF, -EAGAIN, or -errno. */
ssize_t bench_conn_fill(bench_conn *c);
/* Returns the next complete frame body (without length prefix) or a null slice; see bench_conn_pop. */
pk_slice bench_conn_peek_frame(const bench_conn *c);
/* Drops the frame returned by bench_conn_peek_frame. */
void bench_conn_pop_frame(bench_conn *c);
/* Removes and returns the oldest in-flight request; the ring must not be empty. */
bench_inflight bench_conn_ring_pop(bench_conn *c);
/* Blocking request/response on an open connection (setup and checks only): writes req, waits for its
 * reply for at most timeout_ms, copies the reply body after the header into *body (reset first) and
 * returns the reply's ZooKeeper error code, or a negative PK_ code (PK_EIO, PK_EAGAIN on timeout). */
int bench_conn_call(bench_conn *c, const struct wire_request *req, pk_buf *body, int timeout_ms);
/* Blocking open + handshake (setup, checks, probe); returns 0 or a negative PK_ code. */
int bench_conn_connect_sync(bench_conn *c, const char *host, uint16_t port, int timeout_ms);
/* Parses a ConnectResponse frame body; returns 0 and sets session_id, or PK_EDECODE / PK_ECLOSED. */
int bench_conn_handshake_done(bench_conn *c, pk_slice body);

/* ---- running workloads ---- */

/* Results of one run, printed as the summary line. */
typedef struct bench_result {
    uint64_t ops;            /* successful operations completed inside the measured window */
    uint64_t total_ok;       /* successful operations over the whole run (setup excluded) */
    uint64_t creates_ok;     /* create-delete / load: successful creates over the whole run */
    uint64_t errors;         /* unexpected ZooKeeper errors over the whole run */
    uint64_t late_sends;     /* fixed rate: sends more than 1 ms behind schedule */
    double window_s;         /* measured window length */
    double server_cpu_s;     /* over the window; < 0 when no PID was given */
    double client_cpu_s;     /* pk-bench's own CPU over the window */
    double other_cpu_s;      /* the rest of the machine's busy CPU over the window (noise from others) */
    double probe_ms;         /* probe: time to the first served read */
    uint64_t events;         /* watch: notifications received in the window */
    bench_hist hist;         /* latency in the window */
} bench_result;

/* Runs the workload chosen in opts and fills *res; returns 0, or a negative PK_ code with a message
 * printed on stderr. */
int bench_run(const bench_opts *opts, bench_result *res);
/* Creates the fixture nodes the workload needs (prefix, data nodes); returns 0 or a negative PK_ code. */
int bench_setup(const bench_opts *opts);
/* Fills p[0..n) with the deterministic value pattern every node written by pk-bench holds. */
void bench_fill_value(uint8_t *p, size_t n);
/* Formats the path of data node i into buf. */
void bench_node_path(const bench_opts *opts, uint64_t i, char *buf, size_t len);

#endif
