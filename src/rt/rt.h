/* rt: the runtime. The only code with sockets, clocks, signals and threads (DESIGN section 6).
 *
 * One libuv loop thread owns all state (zk state, px replica, connections). Helper threads (libuv's pool)
 * only write+fdatasync WAL batches and write snapshots; a small WAL batch while the loop is idle is written
 * inline on the loop thread instead (rt_node_commit). Order of effects for every batch:
 *   persist -> send what waited for it -> apply chosen -> queue watch events -> reply.
 *
 * Structure:
 *   rt_server  listener, connection table, timers, the before-sleep flush (server.c)
 *   rt_conn    one client connection: framing, handshake/4lw, a FIFO of pending requests (conn.c)
 *   rt_node    drives px + store + zk: resolves writes into txns, batches them into px proposals, group
 *              commits the WAL, applies chosen txns, routes replies and watch events (node.c)
 *   fourlw.c   four-letter words;  auth.c  digest/ip/super and SASL (Cyrus libsasl2)
 *
 * Ownership: the server owns connections and the node; a pending write whose connection closed is kept
 * (orphaned, conn == NULL) until its txn is applied, then freed.
 */
#ifndef PK_RT_RT_H
#define PK_RT_RT_H

#include <uv.h>

#include "base/base.h"
#include "px/px.h"
#include "rt/config.h"
#include "store/store.h"
#include "wire/jute.h"
#include "wire/proto.h"
#include "wire/records.h"
#include "zk/zk.h"

typedef struct rt_server rt_server;
typedef struct rt_conn rt_conn;
typedef struct rt_node rt_node;

/* ---- u64 -> pointer map (open addressing, for conn ids, session ids, in-flight zxids) ---- */
typedef struct rt_map {
    uint64_t *keys;   /* 0 = empty slot; key 0 is not allowed */
    void **vals;
    size_t cap;       /* power of two */
    size_t count;
    size_t tombs;
} rt_map;
void rt_map_init(rt_map *m);
void rt_map_deinit(rt_map *m);
void *rt_map_get(const rt_map *m, uint64_t key);
void rt_map_put(rt_map *m, uint64_t key, void *val);
void *rt_map_del(rt_map *m, uint64_t key);
/* Calls fn(ctx, key, val) for every entry (the map must not change during the walk). */
void rt_map_each(const rt_map *m, void (*fn)(void *ctx, uint64_t key, void *val), void *ctx);

/* ---- pending requests of a connection, in arrival order ---- */
typedef enum rt_pend_state {
    RT_PEND_WRITE,   /* txn proposed; waiting for apply (zxid) */
    RT_PEND_LOCAL,   /* a read/local op waiting for the writes ahead of it */
    RT_PEND_SYNC,    /* waiting until applied zxid >= zxid */
    RT_PEND_DONE,    /* reply frame ready in `reply` */
} rt_pend_state;

typedef struct rt_pending {
    pk_list link;          /* in conn->pending */
    rt_conn *conn;         /* NULL once the connection closed (orphaned write) */
    rt_pend_state state;
    int32_t xid;
    int32_t op;
    uint64_t zxid;
    bool close_after;      /* close the connection once this reply is flushed */
    uint64_t recv_ms;      /* when the request arrived (latency stats) */
    uint64_t conn_id;      /* createSession: the handshaking connection (looked up at apply) */
    bool null_path;        /* sync: the request's path was null (echoed as null, not "") */
    pk_buf body;           /* LOCAL: the request body; SYNC: the path; DONE: the reply frame */
} rt_pending;

/* ---- connection ---- */
typedef enum rt_conn_state {
    RT_CONN_HANDSHAKE,      /* waiting for the ConnectRequest (or a 4lw) */
    RT_CONN_WAIT_SESSION,   /* createSession txn in flight: frames stay buffered */
    RT_CONN_ACTIVE,
    RT_CONN_CLOSING,        /* flush output, then close */
} rt_conn_state;

#define RT_MAX_AUTH_IDS 16

struct rt_conn {
    uv_tcp_t tcp;
    rt_server *srv;
    uint64_t id;
    rt_conn_state state;
    char peer_ip[64];
    uint16_t peer_port;
    uint64_t session_id;
    int32_t timeout_ms;
    bool read_only_byte;          /* the ConnectRequest had the readOnly byte: mirror it */
    pk_buf in;
    pk_buf out;
    bool writing;                 /* a uv_write is in flight */
    bool reading;
    bool dirty;                   /* in srv->dirty list */
    pk_list dirty_link;
    pk_list all_link;
    pk_list pending;              /* rt_pending, arrival order */
    uint32_t pending_count;
    zk_auth_id auth_ids[RT_MAX_AUTH_IDS];
    size_t auth_count;
    void *sasl;                   /* sasl_conn_t while a SASL exchange is configured */
    /* stats for cons/stat */
    uint64_t packets_received, packets_sent;
    uint64_t established_ms;
    int32_t last_op;
    int32_t last_cxid;
    uint64_t last_zxid;
    uint64_t last_response_ms;
    uint64_t lat_min_ms, lat_max_ms, lat_sum_ms, lat_count;
    bool closed;
    bool processing;              /* process_input is on the stack (no re-entry) */
    bool node_wait;               /* stopped taking requests while the node's batch was full (rt_node_saturated) */
};

/* ---- server ---- */
struct rt_server {
    uv_loop_t *loop;
    rt_config cfg;
    uv_tcp_t listener;
    uv_prepare_t before_sleep;
    uv_timer_t tick_timer;
    uv_timer_t px_timer;
    uv_signal_t sig_term, sig_int;
    rt_node *node;
    zk_watches *watches;
    rt_map conns_by_id;
    rt_map conns_by_session;
    pk_list all_conns;
    pk_list dirty;
    uint64_t next_conn_id;
    uint32_t conn_count;
    uint64_t start_ms;
    bool serving;
    bool stopping;
    int exit_code;
    /* server stats */
    uint64_t packets_received, packets_sent;
    uint64_t lat_min_ms, lat_max_ms, lat_sum_ms, lat_count;
    uint64_t outstanding;
    uint64_t sync_waiting;        /* pending syncs across connections (drained after each apply) */
    uint64_t node_waiting;        /* connections with node_wait set (resumed before the loop sleeps) */
    uint64_t auth_failed_count;
    void *sasl_ready;             /* non-NULL when SASL is configured */
    pk_buf event_frame;           /* rt_conn_fanout's scratch: the notification frame being copied */
};

/* Runs the server with cfg until SIGTERM/SIGINT; returns the process exit code. */
int rt_server_run(const rt_config *cfg);
/* Monotonic milliseconds (the loop's clock). */
uint64_t rt_now_ms(rt_server *srv);
/* Wall-clock milliseconds since the epoch (txn times). */
int64_t rt_wall_ms(void);

/* conn.c */
void rt_conn_accept(rt_server *srv);
void rt_conn_close(rt_conn *c);
void rt_conn_flush(rt_conn *c);
void rt_conn_mark_dirty(rt_conn *c);
/* Appends a reply frame (header + body) to the connection's output. */
void rt_conn_send_reply(rt_conn *c, int32_t xid, uint64_t zxid, int32_t err, pk_slice body);
/* Appends a watch notification frame. */
void rt_conn_send_event(rt_conn *c, int32_t type, pk_slice path);
/* Queues the notifications of applied txns (deliveries from zk_watches_trigger, READ-filtered per watcher):
 * one frame encoded per distinct (type, path), copied to each watcher's output; flushed before the loop sleeps. */
void rt_conn_fanout(rt_server *srv, const zk_events *events, const zk_delivery *d, size_t count);
/* Completes a pending write/sync with its reply and sends every finished reply at the head. */
void rt_conn_complete(rt_pending *p, uint64_t zxid, int32_t err, pk_slice body);
/* Runs queued local ops and flushes finished replies from the head of the pending list. */
void rt_conn_drain(rt_conn *c);
/* Lets connections that stopped on a saturated node take requests again, while the node has room. */
void rt_conn_resume_node_waiters(rt_server *srv);
/* Sends the ConnectResponse for a session created (or refused) by the node. */
void rt_conn_session_ready(rt_conn *c, bool ok);
/* Builds the connection's zk_auth view. */
zk_auth rt_conn_auth(const rt_conn *c);
/* Frees a pending record. */
void rt_pending_free(rt_pending *p);

/* fourlw.c: runs a four-letter word, writing the text to out. */
void rt_fourlw_run(rt_server *srv, const char cmd[4], pk_buf *out);
/* True when the first 4 bytes of a connection are one of the 4lw commands. */
bool rt_fourlw_is_command(const uint8_t p[4]);

/* auth.c */
/* Computes ZooKeeper's digest id "user:base64(sha1(user:password))" for an auth packet. */
void rt_auth_digest_id(pk_slice userpass, char *out, size_t out_len);
/* Handles an auth packet (op 100); returns ZK_ERR_OK or ZK_ERR_AUTH_FAILED. */
int32_t rt_auth_packet(rt_conn *c, pk_slice body);
/* Sets up SASL (Cyrus) from the JAAS file; returns 0 or -1 with a message logged. */
int rt_sasl_init(rt_server *srv);
/* Handles one SASL token (op 102); appends the SetSASLResponse body; returns a ZK error code. */
int32_t rt_sasl_step(rt_conn *c, pk_slice body, pk_buf *reply);
/* Frees a connection's SASL state. */
void rt_sasl_conn_free(rt_conn *c);
/* Adds an auth id to the connection (copying the strings); false when the table is full. */
bool rt_conn_add_auth(rt_conn *c, const char *scheme, pk_slice id);

/* node.c */
/* Recovers state from the data directory and starts the replica. Returns 0 or -1 (message logged). */
int rt_node_open(rt_server *srv, rt_node **out);
void rt_node_close(rt_node *n);
/* True once recovery is complete and this node can serve clients. */
bool rt_node_serving(const rt_node *n);
const zk_state *rt_node_state(const rt_node *n);
/* Resolves a client write for conn's session and queues its txn; the pending record is completed on apply.
 * Returns ZK_ERR_OK, or an error code to answer at once (marshalling/unimplemented). */
int32_t rt_node_submit_write(rt_node *n, rt_conn *c, rt_pending *p, int32_t op, pk_slice body);
/* Creates a session (txn) for a handshaking connection. */
void rt_node_create_session(rt_node *n, rt_conn *c, int32_t timeout_ms);
/* Closes the connection's session (closeSession op). */
int32_t rt_node_close_session(rt_node *n, rt_conn *c, rt_pending *p);
/* The zxid the next sync must wait for (last assigned). */
uint64_t rt_node_last_assigned_zxid(const rt_node *n);
/* True while the session's closeSession txn is in flight (reconnects are refused as expired). */
bool rt_node_session_closing(const rt_node *n, uint64_t session_id);
/* Records session activity (every packet). */
void rt_node_touch(rt_node *n, uint64_t session_id, int32_t timeout_ms);
/* Proposes what was resolved this loop iteration (called before the loop sleeps). */
void rt_node_flush(rt_node *n);
/* True while a full batch (NODE_MAX_BATCH_BYTES) could not be proposed because px's window of unchosen slots is
 * full (the WAL is behind): connections take no more requests until it is proposed, so no batch outgrows one
 * px value however long a disk stalls. */
bool rt_node_saturated(const rt_node *n);
/* Starts the next WAL write (called only before the loop sleeps, after the replies were flushed): inline when
 * the batch is small and the loop has nothing else ready (returns true: the batch was applied and its replies
 * wait in dirty connections), else on the pool (returns false). */
bool rt_node_commit(rt_node *n);
/* Periodic work: session expiry, container/TTL reaping, px ticks. */
void rt_node_tick(rt_node *n);
/* Stats for 4lw. */
void rt_node_stats(const rt_node *n, uint64_t *last_zxid, const char **mode);

/* log helpers for identities */
#define RT_SID_FMT "0x%016llx"
#define RT_SID(x) ((unsigned long long)(x))

#endif
