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
 *   4. install/send snapshots as asked; 5. call px_step(PX_EV_TICK) at update.next_deadline_ms at the latest;
 *   6. optionally step PX_EV_APPLIED once chosen slots were applied, so px may free what no one needs any more.
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
    PX_EV_APPLIED,            /* the state machine applied every slot <= `slot` (<= chosen_to); see below */
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
        struct { uint64_t slot; } applied;
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
    const px_entry *persist_entries; /* ascending slot, one per slot; may rewrite or precede earlier slots */
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

/* ---- additions (px owner): limits, token semantics, message codec, introspection ----
 *
 * Persist tokens increase with every update that persists something; PX_EV_PERSISTED(t) means the persist step
 * of the update with token t is durable. Report every token exactly once, in any order (at most 65536 ahead of
 * the oldest unreported one); px counts state as durable once its token and all earlier ones were reported
 * (a promise-only update written synchronously may be reported at once). An update whose
 * after_persist sends reveal state that is not durable yet always re-lists that state in its own persist step,
 * so a caller may send after_persist messages as soon as *this* update's persist step is durable.
 * A replica with node_count 1 is leader right in the update of PX_EV_START (its promise is in that update's
 * persist step; nothing new is chosen before its own accept, persisted after the promise, is durable). Its
 * loaded accepted entries, durable at the only acceptor, are chosen at START up to the first gap.
 * After PX_EV_START with snapshot_slot > 0, feed PX_EV_SNAPSHOT_TAKEN with the loaded snapshot so this
 * replica can serve lagging peers. Values passed to PX_EV_PROPOSE must be at most PX_MAX_VALUE_BYTES.
 * Snapshot install: when an update has install_snapshot, the caller replaces its state machine with install_bytes
 * (state at install_slot) and then steps PX_EV_SNAPSHOT_INSTALLED; until then px does not advance chosen_to. px
 * keeps the installed bytes to serve other replicas until the next PX_EV_SNAPSHOT_TAKEN.
 * Applied: a replica with node_count 1 drops its log entries <= the slot of PX_EV_APPLIED at once (no peer can ever
 * ask for them, and the caller's WAL still holds them until its next snapshot), so px_chosen_get no longer holds
 * them; a replica with peers keeps them to serve catch-up until PX_EV_SNAPSHOT_TAKEN compacts them. A caller that
 * never steps PX_EV_APPLIED keeps every entry until its snapshot, as before.
 * Lost disk: px_durable.disk_lost makes the replica non-voting until it has caught up to the leader's log end
 * as learned after the restart (the last slot the leader had proposed: every slot this replica may have voted
 * in before is at or below it), from the leader's answer to a catch-up request carrying this incarnation's
 * random nonce (so a message sent before the restart cannot count), and until it has heard n - q1 + 1 peers
 * answer such a request: it then promises at least the highest ballot they promised (a promise it gave before
 * its disk was lost is known to another member of that phase-1 quorum). Seed each incarnation differently
 * (config.seed). The caller must keep the "disk lost" fact durable and pass disk_lost=true again
 * on every restart until px_replica_status() reports vote_blocked == false (a replica restarting while still
 * blocked must not vote either).
 * Leader stickiness: an acceptor ignores a Prepare while it heard the current leader within election_timeout_ms.
 * A leader steps down when fewer than a phase-2 quorum (itself included) answered within election_timeout_ms.
 */
#define PX_MAX_VALUE_BYTES (16u << 20)      /* one log value (a batch of commands) */
#define PX_MAX_LOG_SLOTS (1u << 20)         /* retained log span; the caller must snapshot to go on */
#define PX_MAX_MSG_ENTRIES 4096u            /* entries in one Promise / CatchupEntries message */
#define PX_MAX_MSG_ENTRY_BYTES (32u << 20)  /* value bytes in one Promise / CatchupEntries message */
#define PX_SNAPSHOT_CHUNK_BYTES (64u << 10) /* one SnapshotChunk */
#define PX_MAX_SNAPSHOT_BYTES (1ull << 34)  /* largest snapshot px will receive */

/* Message types of the px wire encoding (version PX_MSG_VERSION). */
#define PX_MSG_VERSION 1
typedef enum px_msg_type {
    PX_MSG_PREPARE = 1,         /* ballot, slot = from_slot, chosen_to */
    PX_MSG_PROMISE = 2,         /* ballot, slot = chunk start (the first is from_slot), offset = chunk end (exclusive;
                                   0 = last chunk), chosen_to, flags, entries (what it accepted in the chunk) */
    PX_MSG_NACK = 3,            /* ballot = the rejected ballot, promised = the higher promise */
    PX_MSG_ACCEPT = 4,          /* ballot, slot, chosen_to, value */
    PX_MSG_ACCEPTED = 5,        /* ballot, slot */
    PX_MSG_HEARTBEAT = 6,       /* ballot, slot = the leader's last proposed slot, chosen_to */
    PX_MSG_HEARTBEAT_ACK = 7,   /* ballot, chosen_to (the follower's) */
    PX_MSG_CATCHUP_REQ = 8,     /* slot = first slot wanted (0: no entries, only the reply's fields),
                                   total = the requester's incarnation nonce */
    PX_MSG_CATCHUP_ENTRIES = 9, /* ballot, promised (sender's), slot = sender's log end, chosen_to,
                                   total = echoed nonce, flags (PX_CATCHUP_FROM_LEADER), entries (chosen, ascending) */
    PX_MSG_SNAPSHOT_CHUNK = 10, /* slot = snapshot slot, total, offset, value = chunk bytes */
    PX_MSG_SNAPSHOT_ACK = 11,   /* slot = snapshot slot, offset = bytes received so far */
} px_msg_type;
#define PX_MSG_TYPE_MAX 11

#define PX_PROMISE_INCOMPLETE 1u /* Promise flag: the acceptor could not list every slot from from_slot on */
#define PX_CATCHUP_FROM_LEADER 1u /* CatchupEntries flag: the sender leads its ballot */

/* A decoded message; slices point into the decoded bytes. Fields a type does not carry are zero. */
typedef struct px_msg {
    uint8_t type;           /* px_msg_type */
    px_ballot ballot;
    px_ballot promised;
    uint64_t slot;
    uint64_t chosen_to;
    uint64_t offset;
    uint64_t total;
    uint32_t flags;
    pk_slice value;
    uint32_t entry_count;   /* entries, validated at decode; read them with px_msg_entry_next */
    pk_slice entries;
} px_msg;

/* Appends the encoding of m (with `entry_count` entries from `entries`) to out. */
void px_msg_encode(const px_msg *m, const px_entry *entries, pk_buf *out);
/* Decodes and fully validates one message; returns PK_OK or PK_EDECODE/PK_ETOOBIG (never asserts on input). */
int px_msg_decode(pk_slice bytes, px_msg *out);
/* Reads the next entry of a decoded message at *cursor (start at 0); returns false after the last one. */
bool px_msg_entry_next(const px_msg *m, size_t *cursor, px_entry *out);
/* Returns a short upper-case name for a message type ("PREPARE"), or "?" for an unknown one. */
const char *px_msg_type_name(uint8_t type);

/* A read-only view of a replica's protocol state, for tests and invariant checks. */
typedef struct px_status {
    px_role role;
    px_ballot ballot;          /* the ballot it leads or follows */
    px_ballot promised;        /* highest ballot promised (may not be durable yet) */
    uint32_t leader_id;
    uint64_t chosen_to;
    uint64_t log_first;        /* first slot held in memory (compaction point + 1) */
    uint64_t log_last;         /* last slot held (log_first - 1 when empty) */
    uint64_t next_slot;        /* leader: next slot to propose into */
    uint64_t durable_token;    /* highest PERSISTED token seen */
    uint64_t snapshot_slot;    /* latest snapshot given with SNAPSHOT_TAKEN (or installed) */
    bool vote_blocked;         /* disk lost and not yet caught up */
    uint64_t election_deadline_ms;
} px_status;

/* Fills *out with the replica's current state. */
void px_replica_status(const px_replica *r, px_status *out);
/* Reads the entry this replica accepted at `slot` (chosen or not); false if it holds none. */
bool px_replica_accepted(const px_replica *r, uint64_t slot, px_entry *out);

#endif
