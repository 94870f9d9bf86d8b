/* px: Multi-Paxos as a pure state machine (DESIGN section 3). Knows nothing of ZooKeeper.
 *
 * One px_replica is one voting server: acceptor and learner always, proposer (leader) when elected.
 * The only entry point is px_step(): the caller feeds events (start, message, persisted, tick, propose,
 * snapshot taken/installed) and receives a px_update describing effects to carry out, in this order:
 *
 *   1. persist: the promise (if persist_promise) and the accepted entries, durably (fdatasync);
 *   2. send: every message in `sends`; one with after_persist=true only once step 1 is durable;
 *      then step PX_EV_PERSISTED with update.persist_token;
 *   3. apply: slots up to update.chosen_to are chosen; read each with px_chosen_get() in slot order;
 *   4. install/send snapshots as asked; 5. call px_step(PX_EV_TICK) at update.next_deadline_ms at the latest.
 *
 * Ownership: everything an update points to (entries, values, message bytes) belongs to px and stays valid
 * until the next px_step() on that replica (etcd-raft's Ready/Advance, not callbacks). Values passed in
 * events are copied by px; the caller may free them when px_step returns.
 *
 * Invariants (asserted):
 *  - An acceptor never accepts below its promise, and never answers before its promise/accept is durable
 *    (messages that reveal durable state are marked after_persist).
 *  - A slot is marked chosen only on a phase-2 quorum of Accepted under one ballot, or, at a follower, on a
 *    leader's chosen-up-to for a slot it accepted under that same ballot.
 *  - chosen_to never decreases; chosen values never change.
 *  - Quorums come from one predicate (px_quorum_ok); any phase-1 quorum meets any phase-2 quorum.
 * Pure: no clocks (time is `now_ms` in every event), no randomness but the seeded pk_prng in the config.
 */
#ifndef PK_PX_H
#define PK_PX_H

#include "base/base.h"

#define PX_MAX_NODES 9

/* Ballot = (round, node id), ordered lexicographically. (0,0) is "none". */
typedef struct px_ballot {
    uint64_t round;
    uint32_t node;
} px_ballot;

/* Returns <0, 0 or >0 as a orders before, equal to, or after b. */
int px_ballot_cmp(px_ballot a, px_ballot b);

typedef struct px_config {
    uint32_t self_id;                   /* 1..255 */
    uint32_t node_ids[PX_MAX_NODES];    /* voters, self included */
    uint32_t node_count;                /* 1..PX_MAX_NODES; 1 = an ensemble of one */
    uint32_t phase1_quorum;             /* 0 = majority; Flexible Paxos: phase1 + phase2 > node_count */
    uint32_t phase2_quorum;             /* 0 = majority */
    uint64_t heartbeat_interval_ms;     /* leader heartbeat period (a tick) */
    uint64_t election_timeout_ms;       /* a follower waits a random time in [t, 2t) without a leader */
    uint32_t window_slots;              /* max proposed-but-unchosen slots at the leader */
    uint64_t seed;                      /* seeds randomized timeouts */
} px_config;

/* One log entry. A value of length 0 is a no-op. */
typedef struct px_entry {
    uint64_t slot;
    px_ballot ballot;
    pk_slice value;
} px_entry;

/* Durable acceptor state as loaded from disk at start. */
typedef struct px_durable {
    px_ballot promised;
    const px_entry *accepted;   /* ascending slot, at most one per slot (the last one written) */
    size_t accepted_count;
    uint64_t snapshot_slot;     /* the local state machine already reflects slots <= this (0 = none) */
    bool disk_lost;             /* started empty although it was a member: do not vote until caught up */
} px_durable;

typedef enum px_event_kind {
    PX_EV_START,              /* once, first: loaded durable state */
    PX_EV_MESSAGE,            /* bytes received from peer `from` (px decodes and validates them) */
    PX_EV_PERSISTED,          /* everything of the update with this token is durable */
    PX_EV_TICK,               /* time passed; call at next_deadline_ms at the latest */
    PX_EV_PROPOSE,            /* leader only: propose one value (a batch of state machine commands) */
    PX_EV_SNAPSHOT_TAKEN,     /* the state machine holds a snapshot at `slot` (bytes kept alive by caller
                                 until the next SNAPSHOT_TAKEN); px may drop log entries <= slot */
    PX_EV_SNAPSHOT_INSTALLED, /* the caller installed the snapshot px asked for (update.install_*) */
} px_event_kind;

typedef struct px_event {
    px_event_kind kind;
    uint64_t now_ms;
    union {
        const px_durable *start;
        struct { uint32_t from; pk_slice bytes; } message;
        struct { uint64_t token; } persisted;
        struct { pk_slice value; } propose;
        struct { uint64_t slot; pk_slice bytes; } snapshot_taken;
        struct { uint64_t slot; } snapshot_installed;
    } u;
} px_event;

typedef enum px_role { PX_FOLLOWER = 0, PX_CANDIDATE = 1, PX_LEADER = 2 } px_role;

typedef enum px_propose_status {
    PX_PROPOSE_NONE = 0,       /* the event was not a proposal */
    PX_PROPOSE_OK = 1,         /* accepted into the log at update.propose_slot */
    PX_PROPOSE_NOT_LEADER = 2, /* retry at update.leader_id (0 = unknown) */
    PX_PROPOSE_FULL = 3,       /* window full: retry after more slots are chosen */
} px_propose_status;

typedef struct px_send {
    uint32_t to;
    pk_slice bytes;       /* an encoded px message, framed and checksummed by the caller's transport */
    bool after_persist;   /* send only after this update's persist step is durable */
} px_send;

typedef struct px_update {
    /* 1. persist */
    bool persist_promise;
    px_ballot promise;
    const px_entry *persist_entries;
    size_t persist_count;
    uint64_t persist_token;          /* 0 when there is nothing to persist */
    /* 2. send */
    const px_send *sends;
    size_t send_count;
    /* 3. chosen: every slot <= chosen_to is chosen (and contiguous from the start of the log) */
    uint64_t chosen_to;
    /* 4. snapshots: install the snapshot px received (bytes valid until the next step) */
    bool install_snapshot;
    uint64_t install_slot;
    pk_slice install_bytes;
    /* role, leadership, proposal result, timer */
    px_role role;
    uint32_t leader_id;              /* 0 when no leader is known */
    px_ballot ballot;                /* the ballot this replica leads or follows */
    px_propose_status propose_status;
    uint64_t propose_slot;
    uint64_t next_deadline_ms;
} px_update;

typedef struct px_replica px_replica;

/* Allocates a replica for `config`; it does nothing until PX_EV_START. */
px_replica *px_replica_new(const px_config *config);
/* Frees a replica and everything it owns. */
void px_replica_free(px_replica *r);
/* Feeds one event and fills *out with the effects to carry out (owned by px until the next step). */
void px_step(px_replica *r, const px_event *ev, px_update *out);
/* Reads chosen slot `slot` (<= chosen_to, above the compaction point); returns false if not held. */
bool px_chosen_get(const px_replica *r, uint64_t slot, px_entry *out);
/* True when `count` acceptors out of `config` form a quorum for `phase` (1 or 2): the one quorum predicate. */
bool px_quorum_ok(const px_config *config, int phase, uint32_t count);

#endif
