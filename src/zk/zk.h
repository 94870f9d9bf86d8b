/* zk: the ZooKeeper state machine, pure (DESIGN section 4). Depends on wire and base only.
 *
 * Objects:
 *  - zk_state:   the replicated state: the znode tree, the session table, ACLs, last applied zxid, digest.
 *                Changed only by zk_apply(); apply is a pure, deterministic function of (state, txn).
 *  - zk_prep:    leader-only speculative overlay of changes proposed but not yet applied (ZooKeeper's
 *                outstanding changes). zk_prep_* resolve a client write into a deterministic txn against
 *                state + overlay: all checks (ACL, versions, existence, sequence numbers) happen here.
 *  - zk_watches: one server's watch tables (per connection id); pure bookkeeping of ZooKeeper's watch rules.
 *  - zk_expiry:  the leader's session-expiry buckets (time enters as now_ms).
 *
 * Data flow of a write: rt decodes RequestHeader -> zk_prep_request() -> txn bytes (a real txn or an error
 * txn, each taking a zxid) -> zk_batch_append() into a px value -> chosen -> zk_apply() per txn -> reply
 * header err + reply body for the origin connection, plus zk_events -> zk_watches_trigger() -> deliveries.
 * Data flow of a read: zk_read() against applied state; watch registration decided by the result.
 * The txn byte format is documented in zk/txn.h (header: zxid, time, session, op, type; then the payload).
 * Leader duties: call zk_prep_applied(zxid) after applying each txn, and zk_prep_reset() whenever proposals
 * may have been lost or leadership changed (the overlay must only describe txns that will still be applied;
 * apply re-checks existence/versions anyway, so a stale overlay yields errors, never divergence).
 * Session ids must be nonzero, != INT64_MIN and must not have top byte 0xFF (ephemeralOwner encodings).
 *
 * Ownership: zk_state owns all node data; slices passed in are copied when kept. Reply bodies and events
 * are appended to caller-owned pk_bufs / zk_events. Strings in zk_auth are owned by the caller.
 * Invariants (asserted in debug checks and the simulator): zxids strictly increase across applied txns;
 * reported cversion = 2*creates - numChildren; a node's numChildren equals its child count; every
 * ephemeral's owner is a live session; the digest equals a from-scratch recomputation.
 */
#ifndef PK_ZK_H
#define PK_ZK_H

#include "base/base.h"
#include "wire/proto.h"

typedef struct zk_state_s zk_state; /* tag differs: wire/proto.h has enum zk_state */
typedef struct zk_prep zk_prep;
typedef struct zk_watches zk_watches;
typedef struct zk_expiry zk_expiry;

/* ---- identity of a request: the connection's auth ids ---- */
typedef struct zk_auth_id {
    pk_slice scheme;   /* "ip", "digest", "sasl", "super" */
    pk_slice id;       /* "127.0.0.1", "user:base64(sha1(user:pw))", ... */
} zk_auth_id;

typedef struct zk_auth {
    const zk_auth_id *ids;
    size_t count;
} zk_auth;

/* True when auth holds a "super" id (bypasses ACL checks). */
bool zk_auth_is_super(const zk_auth *auth);

/* ---- state ---- */
/* Creates a fresh state: "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config" as ZooKeeper has them. */
zk_state *zk_state_new(void);
/* Frees the state and everything in it. */
void zk_state_free(zk_state *s);
/* Returns the zxid of the last applied txn (0 for a fresh state). */
uint64_t zk_state_last_zxid(const zk_state *s);
/* Returns the rolling digest of the whole state (maintained incrementally; O(1)). */
uint64_t zk_state_digest(const zk_state *s);
/* Recomputes the digest from scratch (tests and the simulator compare it with zk_state_digest). */
uint64_t zk_state_digest_full(const zk_state *s);

typedef struct zk_stats {
    uint64_t node_count;          /* as ZooKeeper reports it (root counted twice: fresh = 5) */
    uint64_t ephemeral_count;
    uint64_t approximate_data_size;
    uint64_t session_count;
    uint64_t last_zxid;
} zk_stats;
/* Fills counters for 4lw srvr/mntr. */
void zk_state_stats(const zk_state *s, zk_stats *out);

/* Serializes the whole state (tree, sessions, ACLs, zxid, digest) into out (exact, at the applied point). */
void zk_state_serialize(const zk_state *s, pk_buf *out);
/* Rebuilds a state from zk_state_serialize output; verifies the digest; PK_ECORRUPT with a message if bad. */
int zk_state_deserialize(pk_slice in, zk_state **out, char *errmsg, size_t errmsg_len);

/* ---- sessions (replicated table) ---- */
/* Looks a session up; false when it does not exist (never created, closed or expired). */
bool zk_session_get(const zk_state *s, uint64_t session_id, int32_t *timeout_ms, uint8_t passwd[16]);
/* Calls fn for every live session (used by a new leader to restart every session's expiry clock). */
void zk_session_each(const zk_state *s, void (*fn)(void *ctx, uint64_t session_id, int32_t timeout_ms), void *ctx);

/* ---- reads (local, against applied state) ---- */
enum { ZK_WATCH_NONE = 0, ZK_WATCH_DATA = 1, ZK_WATCH_CHILD = 2 };

typedef struct zk_read_result {
    int32_t err;          /* reply header err (ZK_ERR_*) */
    int watch;            /* ZK_WATCH_* to register for this connection on watch_path (when requested) */
    pk_slice watch_path;  /* points into the request body */
} zk_read_result;

/* Executes a read op (exists, getData, getChildren, getChildren2, getACL, getAllChildrenNumber,
 * getEphemerals, multiRead) for `session_id` with `auth`, appending the response body to out when there is one. */
void zk_read(const zk_state *s, const zk_auth *auth, uint64_t session_id, int32_t op, pk_slice body,
             pk_buf *out, zk_read_result *res);
/* True when op is a read that zk_read handles. */
bool zk_op_is_read(int32_t op);
/* True when op is a write that zk_prep_request handles (create, create2, createContainer, createTTL, delete,
 * setData, setACL, multi, reconfig: reconfig becomes an error txn ReconfigDisabled). check(13) standalone,
 * deleteContainer(20) and createSession(-10) from clients are not writes: answer Unimplemented. */
bool zk_op_is_write(int32_t op);

/* ---- write resolution (leader) ---- */
typedef struct zk_prep_options {
    bool ttl_enabled;              /* zoo.cfg extendedTypesEnabled: else createTTL -> Unimplemented */
    uint32_t max_buffer_bytes;     /* jute.maxbuffer */
} zk_prep_options;

typedef struct zk_request {
    uint64_t session_id;
    int32_t op;
    pk_slice body;                 /* the request record after the RequestHeader */
    const zk_auth *auth;
} zk_request;

/* Creates an empty overlay. */
zk_prep *zk_prep_new(const zk_prep_options *opt);
/* Frees the overlay. */
void zk_prep_free(zk_prep *p);
/* Drops all speculation (new leadership, or after a proposal was lost). */
void zk_prep_reset(zk_prep *p);
/* Resolves a client write into a txn with this zxid and time, appended to txn_out. Returns ZK_ERR_OK when a
 * txn was produced (a real txn, or an error txn whose apply yields that error: it still takes the zxid), or
 * ZK_ERR_MARSHALLING / ZK_ERR_UNIMPLEMENTED when the request is rejected before any txn (nothing appended). */
int zk_prep_request(zk_prep *p, const zk_state *s, const zk_request *req, uint64_t zxid, int64_t time_ms,
                    pk_buf *txn_out);
/* Resolves a new session (its id, negotiated timeout and 16-byte password chosen by the caller). */
int zk_prep_create_session(zk_prep *p, const zk_state *s, uint64_t session_id, int32_t timeout_ms,
                           const uint8_t passwd[16], uint64_t zxid, int64_t time_ms, pk_buf *txn_out);
/* Resolves closing (or expiring) a session; apply deletes its ephemerals. */
int zk_prep_close_session(zk_prep *p, const zk_state *s, uint64_t session_id, uint64_t zxid, int64_t time_ms,
                          pk_buf *txn_out);
/* Resolves the reaping of an empty container or expired TTL node (an error txn if it no longer qualifies). */
int zk_prep_delete_container(zk_prep *p, const zk_state *s, pk_slice path, uint64_t zxid, int64_t time_ms,
                             pk_buf *txn_out);
/* Forgets overlay entries of txns with zxid <= zxid (call after applying them). */
void zk_prep_applied(zk_prep *p, uint64_t zxid);
/* Appends up to max paths of containers/TTL nodes due for reaping at now_ms, as NUL-separated strings. */
size_t zk_reap_candidates(const zk_state *s, int64_t now_ms, size_t max, pk_buf *paths_out);

/* ---- batches: a px value is a sequence of txns ---- */
/* Appends one txn to a batch buffer ([u32 length][txn]). */
void zk_batch_append(pk_buf *batch, pk_slice txn);
/* Iterates a batch: returns true and the next txn while *offset < batch.len; false at the end or if malformed. */
bool zk_batch_next(pk_slice batch, size_t *offset, pk_slice *txn);

/* ---- apply ---- */
typedef struct zk_events zk_events;   /* triggered watch events of applied txns (opaque, growable) */
/* Creates an empty event list. */
zk_events *zk_events_new(void);
/* Frees an event list. */
void zk_events_free(zk_events *e);
/* Empties the list, keeping capacity. */
void zk_events_clear(zk_events *e);
/* Number of events held. */
size_t zk_events_count(const zk_events *e);
/* Reads event i: its type (ZK_EVENT_*) and the znode path. */
void zk_events_get(const zk_events *e, size_t i, int32_t *type, pk_slice *path);
/* True when auth may READ the znode the event is about (parent for NodeChildrenChanged), per ACL at apply. */
bool zk_events_readable(const zk_events *e, size_t i, const zk_auth *auth);

typedef struct zk_apply_result {
    uint64_t zxid;
    int64_t time_ms;
    uint64_t session_id;   /* origin session (0 for server-internal txns: reaping) */
    int32_t op;            /* the client op this txn answers (ZK_OP_*; createSession/closeSession too) */
    int32_t err;           /* reply header err; multi: 0 even when it failed (errors are in the body) */
} zk_apply_result;

/* Applies one txn: mutates state, appends the reply body for the origin to reply (per op: create path,
 * create2 path+stat, setData stat, multi results, ...) and the triggered events to events.
 * A malformed txn or a zxid not above the last applied is a determinism violation: returns PK_ECORRUPT. */
int zk_apply(zk_state *s, pk_slice txn, zk_apply_result *res, pk_buf *reply, zk_events *events);

/* ---- watches (one server's) ---- */
enum { ZK_WMODE_STANDARD = 0, ZK_WMODE_PERSISTENT = 1, ZK_WMODE_PERSISTENT_RECURSIVE = 2 };

typedef struct zk_delivery {
    uint64_t conn_id;
    int32_t type;          /* ZK_EVENT_* */
    size_t event_index;    /* index into the zk_events it came from (for zk_events_readable); SIZE_MAX for
                              setWatches catch-up events (no ACL filter) */
    pk_slice path;         /* valid while the zk_events (or the setWatches request) is alive */
} zk_delivery;

/* Creates empty watch tables. */
zk_watches *zk_watches_new(void);
/* Frees the tables. */
void zk_watches_free(zk_watches *w);
/* Registers a standard watch (ZK_WATCH_DATA or ZK_WATCH_CHILD) from a read, or addWatch's persistent modes. */
void zk_watches_add(zk_watches *w, uint64_t conn_id, pk_slice path, int table, int mode);
/* Removes every watch of a connection (connection closed). */
void zk_watches_remove_conn(zk_watches *w, uint64_t conn_id);
/* checkWatches (remove=false) / removeWatches (remove=true) for watcher type 1..5; ZK_ERR_OK or NO_WATCHER. */
int32_t zk_watches_check_remove(zk_watches *w, uint64_t conn_id, pk_slice path, int32_t watcher_type, bool remove);
/* Computes deliveries for events (one per connection per table per trigger, ZooKeeper's rules), removing
 * fired standard watches; appends zk_delivery records to out (as raw bytes: out->len / sizeof(zk_delivery)). */
void zk_watches_trigger(zk_watches *w, const zk_events *events, pk_buf *out);
/* Handles setWatches (101) / setWatches2 (105) body for a connection: registers watches and appends the
 * catch-up deliveries (against relativeZxid) to out. Returns ZK_ERR_OK or ZK_ERR_MARSHALLING. */
int32_t zk_watches_set(zk_watches *w, const zk_state *s, uint64_t conn_id, int32_t op, pk_slice body,
                       pk_buf *out);
/* Watch counts for 4lw wchs/mntr: connections watching, distinct paths, total watches (data table). */
void zk_watches_stats(const zk_watches *w, uint64_t *conns, uint64_t *paths, uint64_t *total);
/* Text for 4lw wchc (by_path=false) or wchp (by_path=true) in ZooKeeper's format, appended to out. The
 * caller maps conn ids to session ids with conn_session(ctx, conn_id). */
void zk_watches_dump(const zk_watches *w, bool by_path, uint64_t (*conn_session)(void *ctx, uint64_t conn_id),
                     void *ctx, pk_buf *out);

/* ---- session expiry (leader) ---- */
/* Creates an expiry tracker with buckets of tick_ms. */
zk_expiry *zk_expiry_new(uint64_t tick_ms);
/* Frees the tracker. */
void zk_expiry_free(zk_expiry *e);
/* Records activity: the session expires at roundUp(now_ms + timeout_ms, tick). Adds it if unknown. */
void zk_expiry_touch(zk_expiry *e, uint64_t session_id, int32_t timeout_ms, uint64_t now_ms);
/* Stops tracking a session (closed). */
void zk_expiry_remove(zk_expiry *e, uint64_t session_id);
/* Appends up to max expired session ids (at now_ms) to ids and stops tracking them; returns how many. */
size_t zk_expiry_due(zk_expiry *e, uint64_t now_ms, uint64_t *ids, size_t max);

#endif
