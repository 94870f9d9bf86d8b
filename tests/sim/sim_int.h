/* sim internals shared by sim.c (world, network, faults, checks), sim_node.c (the node driver) and
 * sim_client.c (the ZooKeeper client model). Not a public API. */
#ifndef PK_SIM_INT_H
#define PK_SIM_INT_H

#include <stdio.h>

#include "px/px.h"
#include "sim.h"
#include "sim_disk.h"
#include "sim_lin.h"
#include "store/store.h"
#include "zk/zk.h"

#define SIM_MAX_NODES 5
#define SIM_MAX_CLIENTS 8
#define SIM_KEYS 4
#define SIM_MAX_JOBS 4096
#define SIM_MAX_BATCHES 64
#define SIM_BATCH_TXNS 8
#define SIM_MAX_MSGS 200000
#define SIM_DIR "/d"

/* Pseudo reply codes a node (or the network) gives a client, outside ZooKeeper's error space. */
enum {
    SIM_REP_NOT_LEADER = 1, /* not proposed: retry at the hint */
    SIM_REP_RETRY = 2,      /* not proposed: retry the same node shortly */
    SIM_REP_LOST = 3,       /* connection lost: the outcome is unknown */
    SIM_REP_REFUSED = 4,    /* the node is down: not received */
};

enum { SIM_MSG_PEER = 1, SIM_MSG_REQ = 2, SIM_MSG_REPLY = 3 };

typedef struct sim_msg {
    uint64_t at, seq;
    uint8_t kind;
    uint32_t from, to;        /* node ids (1-based) for PEER; REQ: to = node; REPLY: from = node */
    uint32_t client;          /* REQ/REPLY */
    uint64_t req_id;
    uint64_t session;         /* REQ: the client's session; REPLY: a created session id */
    int32_t op;
    int32_t err;              /* REPLY */
    uint64_t zxid;            /* REQ: client's last seen zxid; REPLY: reply header zxid */
    uint32_t hint;            /* REPLY NOT_LEADER: leader id or 0 */
    bool lin_read;            /* REQ getData: the read of a sync+read (only the leader that synced answers) */
    pk_buf bytes;             /* PEER: px message; REQ: request body; REPLY: response body */
} sim_msg;

/* A persist job: one px_update's durable effects, completing at done_at. */
typedef struct sim_job {
    uint64_t done_at;
    uint64_t token;           /* 0: nothing to persist, only waiting sends */
    bool has_promise;
    px_ballot promise;
    uint64_t first_slot;
    size_t entry_count;
    pk_buf wal_bytes;
    px_entry *written;        /* slot and ballot of each entry (value not kept), for the durability check */
    uint32_t send_count;
    uint32_t *send_to;
    pk_buf *send_bytes;
} sim_job;

/* A leader's batch: prepared txns from clients, then a proposal, then replies at apply. */
typedef struct sim_batch {
    pk_buf value;             /* zk batch ([u32 len][txn]...), empty for a sync or barrier */
    uint32_t count;           /* txns (or 1 for a sync, 0 for the barrier) */
    uint32_t client[SIM_BATCH_TXNS];
    uint64_t req_id[SIM_BATCH_TXNS];
    bool sync, barrier, proposed;
    uint64_t slot;
    px_ballot ballot;
} sim_batch;

typedef struct sim_node {
    uint32_t id;
    bool up;
    bool dead_pending;        /* a disk error: crash at the next top-level point */
    uint64_t restart_at, paused_until;
    int64_t clock_offset_ms;
    int32_t drift_ppm;
    sim_disk disk;            /* the simulator's own disk (--own-disk) */
    struct store_disk_mem *dmem;  /* the store's in-memory disk (default) */
    bool disk_armed;          /* a countdown fault is armed */
    px_ballot durable_promise;/* the highest promise whose meta write completed */
    px_ballot *durable_acc;   /* per slot: the highest ballot whose WAL write completed (0.0 = none) */
    size_t durable_acc_cap;
    bool rotted, wipe_needed; /* bit rot injected since the last start; recovery found corruption */
    bool disk_lost;           /* its disk was wiped: start with disk_lost until px reports it caught up (this flag
                                 stands for the durable marker an operator or rt keeps outside the data) */
    wal *wal;
    px_replica *px;
    zk_state *zk;
    zk_prep *prep;
    px_role role;
    px_ballot ballot;
    uint32_t leader_id;
    uint64_t next_deadline_ms;
    uint64_t chosen_to, applied;
    uint64_t applied_told;   /* the last slot given to px with PX_EV_APPLIED */
    bool leader_ready;
    uint64_t zxid_base;
    uint32_t zxid_counter;
    uint32_t epoch;           /* leader: chains started so far (a new one per barrier) */
    uint64_t chain_seq;       /* leader: seq of the last batch created in the current chain */
    uint64_t ap_round, ap_seq;/* applied chain position (replicated; saved with snapshots) */
    uint32_t ap_node, ap_epoch;
    sim_job jobs[SIM_MAX_JOBS];
    size_t job_head, job_count;
    sim_batch batches[SIM_MAX_BATCHES];
    size_t batch_count;
    pk_buf snap;              /* the last snapshot taken (kept alive for px) */
    uint64_t snap_slot;
    bool install_pending;
    uint64_t install_slot;
    pk_buf install_bytes;
    pk_buf reply_tmp;
    zk_events *events;
    uint64_t crashes;
} sim_node;

enum { SIM_C_IDLE = 0, SIM_C_WAIT = 1 };
enum { SIM_K_SESSION = 1, SIM_K_CREATE, SIM_K_SET, SIM_K_DELETE, SIM_K_GET, SIM_K_SYNC_GET, SIM_K_CLOSE };

typedef struct sim_client {
    uint32_t id;
    uint32_t target;          /* node id it talks to */
    uint64_t session;         /* 0 = none */
    int state;
    int kind;                 /* SIM_K_* of the current op */
    int phase;                /* SYNC_GET: 0 sync, 1 get */
    int32_t zk_op;            /* op of the current request */
    pk_buf body;
    sim_lin_op op;            /* history record of the current op */
    uint64_t req_id;
    uint64_t deadline, next_at;
    uint32_t attempts;
    uint64_t max_zxid;        /* highest zxid seen by this session */
    int32_t known_version[SIM_KEYS];
} sim_client;

typedef struct sim_slot_rec {
    bool set, has_digest;
    uint64_t value_hash;
    uint64_t digest;
    uint32_t node;            /* first node that applied it */
} sim_slot_rec;

typedef struct sim_claim {
    px_ballot ballot;
    uint32_t node;
} sim_claim;

typedef struct sim_world {
    sim_options opt;
    sim_result *res;
    pk_prng prng;
    uint64_t now;             /* global simulated ms */
    uint64_t ev_seq;          /* event numbers for the history */
    uint64_t msg_seq;
    sim_node nodes[SIM_MAX_NODES];
    uint32_t n;
    sim_client clients[SIM_MAX_CLIENTS];
    sim_msg **heap;
    size_t heap_count;
    bool blocked[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
    uint64_t partition_until;
    uint32_t drop_pm, dup_pm, slow_pm, delay_min_ms, delay_max_ms;
    uint32_t leader_crash_pm;    /* per 1000 proposals: the leader crashes right after proposing */
    uint32_t wipe_pm;            /* per 1000 crashes: the disk is lost too */
    uint32_t rot_pm;             /* per 1000 crashes: a bit rots in meta or a snapshot */
    uint32_t heartbeat_ms, election_ms, window_slots;  /* px timing and window, drawn per seed */
    uint32_t client_drop_pm;     /* per 1000 client requests/replies lost (the client then times out) */
    uint32_t congest_per_m;      /* per million ms: a directed link becomes congested (all messages late) */
    uint32_t congested_from, congested_to;
    uint64_t congested_until, congested_extra_ms;
    uint32_t crash_per_m, pause_per_m, part_per_m, diskfault_per_m;   /* per million per ms */
    sim_slot_rec *slots;
    size_t slot_cap;
    sim_claim claims[4096];
    size_t claim_count;
    sim_lin_op *history;
    size_t history_count;
    uint64_t next_session;
    uint64_t max_acked_slot;
    bool healed, live_commit;
    uint64_t heal_at, heal_ev;
    bool failed;
    uint64_t value_counter;
} sim_world;

/* ---- sim.c ---- */
/* Records a failure (the first one wins) and stops the run. */
void sim_fail(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a trace line when tracing. */
void sim_trace(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues a message for delivery at w->now + delay. */
void sim_msg_push(sim_world *w, sim_msg *m, uint64_t delay_ms);
/* Allocates a zeroed message. */
sim_msg *sim_msg_new(uint8_t kind);
/* Sends a px message between nodes through the faulty network (copying bytes). */
void sim_net_send(sim_world *w, uint32_t from, uint32_t to, pk_slice bytes);
/* Records that `node` applied `slot` with value hash vh; checks one value per slot. */
void sim_check_slot_value(sim_world *w, uint32_t node, uint64_t slot, uint64_t vh);
/* Records the digest after `slot` at `node`; checks equal digests at equal slots. */
void sim_check_slot_digest(sim_world *w, uint32_t node, uint64_t slot, uint64_t digest);
/* Checks that `node` claiming leadership of `ballot` is the only claimant. */
void sim_check_leader(sim_world *w, uint32_t node, px_ballot ballot);
/* Sends a reply to a client from node `from`. */
void sim_reply(sim_world *w, uint32_t from, uint32_t client, uint64_t req_id, int32_t err, uint64_t zxid,
               uint64_t session, pk_slice body, uint32_t hint);
/* Notes a fault injected. */
void sim_fault(sim_world *w);

/* ---- sim_node.c ---- */
/* Initializes node `id` with an empty disk (down until started). */
void sim_node_init(sim_world *w, sim_node *n, uint32_t id);
/* Frees a node. */
void sim_node_deinit(sim_node *n);
/* Starts (or restarts) a node: recovers from its disk and steps PX_EV_START. */
void sim_node_start(sim_world *w, sim_node *n);
/* Returns the node's store_disk (the store's disk_mem, or the simulator's own). */
store_disk *sim_node_disk(sim_node *n);
/* Arms a disk fault: the (countdown+1)-th next mutating op fails with err. */
void sim_node_disk_arm(sim_node *n, uint64_t countdown, int err);
/* Cancels an armed disk fault. */
void sim_node_disk_disarm(sim_node *n);
/* Flips a bit in a down node's meta or snapshot file (store disk_mem only); true when done. */
bool sim_node_rot(sim_world *w, sim_node *n);
/* Replaces a down node's disk with an empty one; it restarts with px_durable.disk_lost. */
void sim_node_wipe(sim_world *w, sim_node *n);
/* Crashes a node: in-flight work lost, disk loses unsynced state; clients' outstanding ops become unknown. */
void sim_node_crash(sim_world *w, sim_node *n);
/* The node's local clock at the current global time. */
uint64_t sim_node_clock(const sim_world *w, const sim_node *n);
/* Runs a node's time-driven work for this ms: fsync completions, timer, proposals, snapshots. */
void sim_node_tick(sim_world *w, sim_node *n);
/* Delivers a peer message to a node. */
void sim_node_on_peer(sim_world *w, sim_node *n, const sim_msg *m);
/* Handles a client request at a node. */
void sim_node_on_request(sim_world *w, sim_node *n, const sim_msg *m);

/* ---- sim_client.c ---- */
/* Initializes client `id`. */
void sim_client_init(sim_world *w, sim_client *c, uint32_t id);
/* Frees a client. */
void sim_client_deinit(sim_client *c);
/* Runs a client's time-driven work: start the next op, resend, time out. */
void sim_client_tick(sim_world *w, sim_client *c);
/* Handles a reply for a client. */
void sim_client_on_reply(sim_world *w, sim_client *c, const sim_msg *m);
/* Ends the run for a client: an op still in flight is recorded with an unknown outcome. */
void sim_client_end(sim_world *w, sim_client *c);
/* Tells the client its node crashed (an outstanding op becomes unknown). */
void sim_client_node_down(sim_world *w, sim_client *c, uint32_t node);

#endif
