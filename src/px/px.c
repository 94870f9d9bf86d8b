/* px: the Multi-Paxos step function (see px.h for the contract and invariants).
 *
 * Layout of this file: replica state and the in-memory log; update assembly (persist list, sends);
 * acceptor (Prepare/Accept); proposer (elections, phase 1 merge, phase 2 window, heartbeats, step-down);
 * learner (chosen-up-to, catch-up, snapshots); the event dispatcher px_step.
 */
#include "px/px.h"

#include <stdlib.h>

/* One log slot held in memory: what this acceptor accepted there, plus leader bookkeeping. */
typedef struct px_slot {
    bool has;           /* something accepted (or learned chosen) here */
    px_ballot ballot;
    uint8_t *value;     /* owned copy; NULL when len == 0 (a no-op) */
    uint32_t len;
    uint64_t token;     /* persist token that makes this accept durable */
    uint64_t mark;      /* step id in which it was queued for persist */
    uint32_t acks;      /* leader: bitmask of peer indexes that accepted it under the leader's ballot */
} px_slot;

/* A send being assembled: offset into the step's byte arena. */
typedef struct px_psend {
    uint32_t to;
    size_t off, len;
    bool after_persist;
} px_psend;

/* Outgoing snapshot transfer to one peer. */
typedef struct px_snap_out {
    bool active;
    uint64_t slot;      /* snapshot slot being sent */
    uint64_t offset;    /* bytes acknowledged */
    uint64_t sent_ms;
} px_snap_out;

#define PX_MAX_AHEAD_SLOTS 65536u /* an acceptor holds accepts at most this far past window + chosen_to */
#define PX_TOKEN_WINDOW 65536u /* tokens that may be reported ahead of the oldest unreported one */
#define PX_MAX_SENDS_PER_STEP (PX_MAX_NODES * (PX_MAX_MSG_ENTRIES + 8))

struct px_replica {
    px_config cfg;
    pk_prng prng;
    bool started;
    uint32_t self_idx;
    /* protocol state */
    px_role role;
    px_ballot ballot;           /* ballot led (leader/candidate) or followed */
    px_ballot promised;         /* highest promise (durable once promise_token <= durable_token) */
    uint64_t promise_token;
    uint64_t max_round_seen;
    uint32_t leader_id;
    uint64_t leader_contact_ms;
    uint64_t election_deadline_ms;
    uint64_t leader_chosen_to;  /* highest chosen-up-to heard from the current leader */
    /* log: log[i] is slot log_first + i */
    px_slot *log;
    size_t log_len, log_cap;
    uint64_t log_first;
    uint64_t chosen_to;
    /* persistence */
    uint64_t next_token, step_id;
    uint64_t durable_token;     /* every token <= this was reported PERSISTED */
    uint8_t reported[PX_TOKEN_WINDOW / 8]; /* tokens above durable_token reported out of order (bit t % window) */
    /* proposer */
    uint32_t p1_acks;           /* peer bitmask */
    uint64_t p1_next[PX_MAX_NODES]; /* per peer: start of the next Promise chunk expected */
    uint64_t p1_from;
    px_slot *p1;                /* best (highest ballot) accepted per slot from p1_from on */
    size_t p1_len, p1_cap;
    uint64_t next_slot;
    uint64_t leader_since_ms, next_heartbeat_ms;
    uint64_t last_ack_ms[PX_MAX_NODES];
    /* catch-up */
    uint64_t catchup_sent_ms;
    bool catchup_sent;
    /* lost disk */
    bool vote_blocked;
    uint64_t nonce;             /* this incarnation's random id: catch-up replies echo it (fresh, not in flight) */
    bool rejoin_known;
    uint64_t rejoin_target;
    uint32_t rejoin_heard;      /* peers that answered a rejoin query of this incarnation (bitmask) */
    px_ballot rejoin_promised;  /* highest promise they reported */
    uint64_t rejoin_query_ms;
    px_ballot max_ballot_seen;
    /* snapshots */
    pk_slice snap_bytes;
    uint64_t snap_slot;
    px_snap_out snap_out[PX_MAX_NODES];
    pk_buf snap_own;            /* an installed snapshot px serves itself until the next SNAPSHOT_TAKEN */
    pk_buf snap_in;
    uint64_t snap_in_slot, snap_in_total;
    bool snap_in_done;
    /* step outputs */
    pk_buf arena;
    px_psend *psend;
    size_t psend_len, psend_cap;
    px_send *sends;
    size_t sends_cap;
    uint64_t *plist;
    size_t plist_len, plist_cap;
    px_entry *pout;
    size_t pout_cap;
    bool persist_promise_now;
    bool install_now;
    pk_buf msg_entries_scratch;
};

/* ---------------------------------------------------------------- small helpers */

/* Returns <0, 0 or >0 as a orders before, equal to, or after b. */
int px_ballot_cmp(px_ballot a, px_ballot b) {
    if (a.round != b.round) return a.round < b.round ? -1 : 1;
    if (a.node != b.node) return a.node < b.node ? -1 : 1;
    return 0;
}

/* Returns the majority size for n voters. */
static uint32_t majority(uint32_t n) { return n / 2 + 1; }

/* True when `count` acceptors form a quorum for `phase`: the one quorum predicate. */
bool px_quorum_ok(const px_config *config, int phase, uint32_t count) {
    PK_ASSERT(phase == 1 || phase == 2);
    PK_ASSERT(config->node_count >= 1 && config->node_count <= PX_MAX_NODES);
    uint32_t q = phase == 1 ? config->phase1_quorum : config->phase2_quorum;
    if (q == 0) q = majority(config->node_count);
    return count >= q;
}

/* Returns the index of node id `id` in the config, or -1 when it is not a voter. */
static int node_index(const px_replica *r, uint32_t id) {
    for (uint32_t i = 0; i < r->cfg.node_count; i++)
        if (r->cfg.node_ids[i] == id) return (int)i;
    return -1;
}

/* Counts the bits set in a peer bitmask. */
static uint32_t popcount32(uint32_t v) { return (uint32_t)__builtin_popcount(v); }

/* Draws a randomized election timeout in [t, 2t). */
static uint64_t election_timeout(px_replica *r) {
    uint64_t t = r->cfg.election_timeout_ms;
    PK_ASSERT(t > 0);
    return t + pk_prng_below(&r->prng, t);
}

/* Records the highest ballot/round seen in any message. */
static void see_ballot(px_replica *r, px_ballot b) {
    if (b.round > r->max_round_seen) r->max_round_seen = b.round;
    if (px_ballot_cmp(b, r->max_ballot_seen) > 0) r->max_ballot_seen = b;
}

/* ---------------------------------------------------------------- the log */

/* Returns the slot record for `slot` if it lies inside the held log, else NULL. */
static px_slot *log_at(const px_replica *r, uint64_t slot) {
    if (slot < r->log_first || slot - r->log_first >= r->log_len) return NULL;
    return &r->log[slot - r->log_first];
}

/* Returns the last slot held (log_first - 1 when empty). */
static uint64_t log_last(const px_replica *r) { return r->log_first + r->log_len - 1; }

/* Grows the log so that `slot` is held; returns NULL if that would exceed PX_MAX_LOG_SLOTS. */
static px_slot *log_ensure(px_replica *r, uint64_t slot) {
    PK_ASSERT(slot >= r->log_first);
    if (slot - r->log_first >= PX_MAX_LOG_SLOTS) return NULL;
    size_t need = (size_t)(slot - r->log_first) + 1;
    if (need > r->log_cap) {
        size_t cap = r->log_cap ? r->log_cap : 64;
        while (cap < need) cap *= 2;
        r->log = pk_realloc(r->log, cap * sizeof *r->log);
        r->log_cap = cap;
    }
    if (need > r->log_len) {
        memset(&r->log[r->log_len], 0, (need - r->log_len) * sizeof *r->log);
        r->log_len = need;
    }
    PK_ASSERT(r->log_len <= r->log_cap);
    return &r->log[slot - r->log_first];
}

/* Replaces a slot record's content with (ballot, copy of value). */
static void slot_set(px_slot *s, px_ballot b, pk_slice v) {
    PK_ASSERT(v.len <= PX_MAX_VALUE_BYTES);
    free(s->value);
    s->value = NULL;
    if (v.len) {
        s->value = pk_malloc(v.len);
        memcpy(s->value, v.ptr, v.len);
    }
    s->len = (uint32_t)v.len;
    s->ballot = b;
    s->has = true;
    s->acks = 0;
}

/* Returns a slot's value as a slice. */
static pk_slice slot_value(const px_slot *s) { return (pk_slice){s->value, s->len}; }

/* Drops every held slot <= `upto` (frees values) and moves log_first past it. */
static void log_compact(px_replica *r, uint64_t upto) {
    if (upto < r->log_first) return;
    size_t drop = (size_t)PK_MIN(upto - r->log_first + 1, (uint64_t)r->log_len);
    for (size_t i = 0; i < drop; i++) free(r->log[i].value);
    if (r->log_len > drop) memmove(r->log, r->log + drop, (r->log_len - drop) * sizeof *r->log);
    r->log_len -= drop;
    r->log_first = upto + 1;
    PK_ASSERT(r->log_first > upto);
}

/* ---------------------------------------------------------------- update assembly */

/* Queues slot `slot` (held) to be persisted by this step's update. */
static void persist_slot(px_replica *r, uint64_t slot) {
    px_slot *s = log_at(r, slot);
    PK_ASSERT(s != NULL && s->has);
    if (s->mark == r->step_id) return;
    s->mark = r->step_id;
    if (r->plist_len == r->plist_cap) {
        r->plist_cap = r->plist_cap ? r->plist_cap * 2 : 64;
        r->plist = pk_realloc(r->plist, r->plist_cap * sizeof *r->plist);
    }
    r->plist[r->plist_len++] = slot;
    s->token = r->next_token; /* the token this step's update will carry */
}

/* Makes sure an accept about to be revealed (after_persist) is durable by the end of this update. */
static void ensure_slot_durable(px_replica *r, uint64_t slot) {
    px_slot *s = log_at(r, slot);
    if (s && s->has && s->token > r->durable_token) persist_slot(r, slot);
}

/* Queues the promise to be persisted by this step's update. */
static void persist_promise(px_replica *r) {
    r->persist_promise_now = true;
    r->promise_token = r->next_token;
}

/* Makes sure the current promise is durable by the end of this update. */
static void ensure_promise_durable(px_replica *r) {
    if (r->promise_token > r->durable_token) persist_promise(r);
}

/* Encodes `m` (with entries) into the step arena as a send to `to`. */
static void send_msg(px_replica *r, uint32_t to, const px_msg *m, const px_entry *entries, bool after_persist) {
    PK_ASSERT(to != r->cfg.self_id);
    PK_ASSERT(r->psend_len < PX_MAX_SENDS_PER_STEP);
    if (r->psend_len == r->psend_cap) {
        r->psend_cap = r->psend_cap ? r->psend_cap * 2 : 32;
        r->psend = pk_realloc(r->psend, r->psend_cap * sizeof *r->psend);
    }
    size_t off = r->arena.len;
    px_msg_encode(m, entries, &r->arena);
    r->psend[r->psend_len++] = (px_psend){to, off, r->arena.len - off, after_persist};
}

/* Sends `m` to every other voter. */
static void broadcast(px_replica *r, const px_msg *m) {
    for (uint32_t i = 0; i < r->cfg.node_count; i++)
        if (i != r->self_idx) send_msg(r, r->cfg.node_ids[i], m, NULL, false);
}

/* Resets the per-step output state at the start of a step. */
static void step_begin(px_replica *r) {
    r->step_id++;
    pk_buf_reset(&r->arena);
    r->psend_len = 0;
    r->plist_len = 0;
    r->persist_promise_now = false;
    r->install_now = false;
}

/* Orders two slot numbers for qsort. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Fills the update from the step's outputs. */
static void step_end(px_replica *r, px_update *out) {
    bool sorted = true;
    for (size_t i = 1; i < r->plist_len && sorted; i++) sorted = r->plist[i - 1] < r->plist[i];
    if (!sorted) qsort(r->plist, r->plist_len, sizeof *r->plist, cmp_u64); /* persist_entries ascend by slot */
    out->persist_promise = r->persist_promise_now;
    out->promise = r->promised;
    if (r->plist_len > r->pout_cap) {
        r->pout_cap = r->plist_len;
        r->pout = pk_realloc(r->pout, r->pout_cap * sizeof *r->pout);
    }
    size_t n = 0;
    for (size_t i = 0; i < r->plist_len; i++) {
        const px_slot *s = log_at(r, r->plist[i]);
        if (!s || !s->has) continue; /* compacted or replaced within the step */
        r->pout[n++] = (px_entry){r->plist[i], s->ballot, slot_value(s)};
    }
    out->persist_entries = n ? r->pout : NULL;
    out->persist_count = n;
    out->persist_token = 0;
    if (n || r->persist_promise_now) out->persist_token = r->next_token++;
    if (r->psend_len > r->sends_cap) {
        r->sends_cap = r->psend_len;
        r->sends = pk_realloc(r->sends, r->sends_cap * sizeof *r->sends);
    }
    for (size_t i = 0; i < r->psend_len; i++) {
        const px_psend *p = &r->psend[i];
        r->sends[i] = (px_send){p->to, (pk_slice){r->arena.data + p->off, p->len}, p->after_persist};
    }
    out->sends = r->psend_len ? r->sends : NULL;
    out->send_count = r->psend_len;
    out->chosen_to = r->chosen_to;
    out->install_snapshot = r->install_now;
    out->install_slot = r->install_now ? r->snap_in_slot : 0;
    out->install_bytes = r->install_now ? pk_buf_slice(&r->snap_in) : (pk_slice){NULL, 0};
    out->role = r->role;
    out->leader_id = r->leader_id;
    out->ballot = r->ballot;
}

/* ---------------------------------------------------------------- roles and timers */

/* Becomes a follower of ballot `b` (leader b.node, or unknown when b is none). */
static void become_follower(px_replica *r, px_ballot b, uint64_t now) {
    PK_ASSERT(b.node <= 255);
    r->role = PX_FOLLOWER;
    r->ballot = b;
    r->leader_id = b.node;
    r->leader_contact_ms = now;
    r->election_deadline_ms = now + election_timeout(r);
    r->p1_acks = 0;
    r->catchup_sent = false;
    PK_ASSERT(r->election_deadline_ms > now);
}

/* True when this replica heard from a live leader (other than `except`) within the election timeout. */
static bool hears_live_leader(const px_replica *r, uint32_t except, uint64_t now) {
    if (r->role == PX_LEADER) return true;
    if (r->leader_id == 0 || r->leader_id == except) return false;
    return now - r->leader_contact_ms < r->cfg.election_timeout_ms;
}

static void phase1_check(px_replica *r, uint64_t now);

/* Clears the phase-1 merge table. */
static void p1_reset(px_replica *r) {
    for (size_t i = 0; i < r->p1_len; i++) free(r->p1[i].value);
    r->p1_len = 0;
}

/* Merges one reported accepted entry into the phase-1 table (keeps the highest ballot per slot). */
static void p1_merge(px_replica *r, const px_entry *e) {
    if (e->slot < r->p1_from || e->slot - r->p1_from >= PX_MAX_LOG_SLOTS) return;
    size_t i = (size_t)(e->slot - r->p1_from);
    if (i >= r->p1_cap) {
        size_t cap = r->p1_cap ? r->p1_cap : 64;
        while (cap <= i) cap *= 2;
        r->p1 = pk_realloc(r->p1, cap * sizeof *r->p1);
        r->p1_cap = cap;
    }
    if (i >= r->p1_len) {
        memset(&r->p1[r->p1_len], 0, (i + 1 - r->p1_len) * sizeof *r->p1);
        r->p1_len = i + 1;
    }
    px_slot *s = &r->p1[i];
#ifdef PX_MUTANT_ADOPT_NOT_HIGHEST
    bool better = !s->has || px_ballot_cmp(e->ballot, s->ballot) < 0; /* BUG: keeps the lowest ballot */
#else
    bool better = !s->has || px_ballot_cmp(e->ballot, s->ballot) > 0;
#endif
    if (better) slot_set(s, e->ballot, e->value);
    PK_ASSERT(s->has);
}

/* Sends Prepare for ballot r->ballot to every peer. */
static void send_prepares(px_replica *r) {
    px_msg m = {.type = PX_MSG_PREPARE, .ballot = r->ballot, .slot = r->p1_from, .chosen_to = r->chosen_to};
    broadcast(r, &m);
}

/* Starts phase 1 with a fresh ballot above everything seen. */
static void start_election(px_replica *r, uint64_t now) {
    PK_ASSERT(!r->vote_blocked);
    uint64_t round = PK_MAX(r->max_round_seen, r->promised.round) + 1;
    r->role = PX_CANDIDATE;
    r->ballot = (px_ballot){round, r->cfg.self_id};
    see_ballot(r, r->ballot);
    PK_ASSERT(px_ballot_cmp(r->ballot, r->promised) > 0);
    r->promised = r->ballot;
    persist_promise(r);
    r->leader_id = 0;
    r->p1_acks = 0;
    r->p1_from = r->chosen_to + 1;
    for (uint32_t i = 0; i < PX_MAX_NODES; i++) r->p1_next[i] = r->p1_from;
    p1_reset(r);
    r->election_deadline_ms = now + election_timeout(r);
    for (uint64_t s = r->p1_from; s <= log_last(r) && s >= r->log_first; s++) {
        const px_slot *ls = log_at(r, s);
        if (ls->has) p1_merge(r, &(px_entry){s, ls->ballot, slot_value(ls)});
    }
    send_prepares(r);
    phase1_check(r, now);
}

/* Sends Accept for held slot `slot` to peer `to` (or all peers when to == 0). */
static void send_accept(px_replica *r, uint64_t slot, uint32_t to) {
    const px_slot *s = log_at(r, slot);
    PK_ASSERT(s && s->has);
    px_msg m = {.type = PX_MSG_ACCEPT, .ballot = r->ballot, .slot = slot, .chosen_to = r->chosen_to,
                .value = slot_value(s)};
    if (to) send_msg(r, to, &m, NULL, false);
    else broadcast(r, &m);
}

static void leader_try_choose(px_replica *r);

/* Phase 1 succeeded: re-propose the highest-ballot value of every reported slot, no-ops in gaps. */
static void become_leader(px_replica *r, uint64_t now) {
    PK_ASSERT(r->role == PX_CANDIDATE);
    PK_ASSERT(r->p1_from == r->chosen_to + 1);
    r->role = PX_LEADER;
    r->leader_id = r->cfg.self_id;
    r->leader_since_ms = now;
    r->next_heartbeat_ms = now;
    for (uint32_t i = 0; i < PX_MAX_NODES; i++) r->last_ack_ms[i] = now;
    uint64_t s = r->p1_from;
    for (size_t i = 0; i < r->p1_len; i++, s++) {
        px_slot *best = &r->p1[i];
#ifdef PX_MUTANT_SKIP_NOOP_FILL
        if (!best->has) continue; /* BUG: leaves the gap unfilled (and leader_try_choose skips it) */
#endif
        px_slot *ls = log_ensure(r, s);
        PK_ASSERT(ls != NULL);
        slot_set(ls, r->ballot, best->has ? slot_value(best) : (pk_slice){NULL, 0});
        persist_slot(r, s);
        if (s - r->p1_from < r->cfg.window_slots) send_accept(r, s, 0); /* the rest go out as the window moves */
    }
    r->next_slot = s;
    p1_reset(r);
    leader_try_choose(r);
}

/* Counts phase-1 votes and becomes leader on a phase-1 quorum. */
static void phase1_check(px_replica *r, uint64_t now) {
    if (r->role != PX_CANDIDATE) return;
    bool self = r->promise_token <= r->durable_token || r->cfg.node_count == 1;
    uint32_t votes = popcount32(r->p1_acks) + (self ? 1 : 0);
    if (px_quorum_ok(&r->cfg, 1, votes)) become_leader(r, now);
}

/* Leader: marks slots chosen from chosen_to+1 on while each has a phase-2 quorum under the leader's ballot. */
static void leader_try_choose(px_replica *r) {
    if (r->role != PX_LEADER) return;
    uint64_t bound = r->next_slot;
    for (uint64_t s = r->chosen_to + 1; s < bound; s++) {
        const px_slot *ls = log_at(r, s);
#ifdef PX_MUTANT_SKIP_NOOP_FILL
        if (ls && !ls->has) { r->chosen_to = s; continue; } /* BUG: advances past an unfilled slot */
#endif
        if (!ls || !ls->has || px_ballot_cmp(ls->ballot, r->ballot) != 0) break;
        uint32_t acks = popcount32(ls->acks) + (ls->token <= r->durable_token ? 1 : 0);
#ifdef PX_MUTANT_CHOSEN_WITHOUT_QUORUM
        acks += 1; /* BUG: off by one, chosen one ack short of a quorum */
#endif
        if (!px_quorum_ok(&r->cfg, 2, acks)) break;
        r->chosen_to = s;
    }
    PK_ASSERT(r->role == PX_LEADER);
    PK_ASSERT(r->next_slot > r->chosen_to);
}

static void send_snapshot_chunk(px_replica *r, uint32_t idx, uint64_t now);

/* Leader: one heartbeat round (heartbeats, Accept resends, stale snapshot chunks) and the step-down check. */
static void leader_heartbeat(px_replica *r, uint64_t now) {
    PK_ASSERT(r->role == PX_LEADER);
    uint32_t live = 1;
    for (uint32_t i = 0; i < r->cfg.node_count; i++)
        if (i != r->self_idx && now - r->last_ack_ms[i] < r->cfg.election_timeout_ms) live++;
    if (!px_quorum_ok(&r->cfg, 2, live) && now - r->leader_since_ms >= r->cfg.election_timeout_ms) {
        become_follower(r, (px_ballot){0, 0}, now); /* cut off from a phase-2 quorum: step down */
        return;
    }
    px_msg hb = {.type = PX_MSG_HEARTBEAT, .ballot = r->ballot, .slot = r->next_slot - 1, .chosen_to = r->chosen_to};
    broadcast(r, &hb);
    for (uint32_t i = 0; i < r->cfg.node_count; i++) {
        if (i == r->self_idx) continue;
        uint64_t end = PK_MIN(r->next_slot, r->chosen_to + 1 + r->cfg.window_slots);
        for (uint64_t s = r->chosen_to + 1; s < end; s++) {
            const px_slot *ls = log_at(r, s);
            if (ls && ls->has && !(ls->acks & (1u << i))) send_accept(r, s, r->cfg.node_ids[i]);
        }
        if (r->snap_out[i].active && now - r->snap_out[i].sent_ms >= r->cfg.heartbeat_interval_ms)
            send_snapshot_chunk(r, i, now);
    }
    r->next_heartbeat_ms = now + r->cfg.heartbeat_interval_ms;
    PK_ASSERT(r->role == PX_LEADER);
}

/* ---------------------------------------------------------------- learner: chosen, catch-up, snapshots */

/* Sends a catch-up request for the slots after chosen_to to `to`. */
static void request_catchup(px_replica *r, uint32_t to, uint64_t now) {
    if (to == 0 || to == r->cfg.self_id) return;
    px_msg m = {.type = PX_MSG_CATCHUP_REQ, .slot = r->chosen_to + 1, .total = r->nonce};
    send_msg(r, to, &m, NULL, false);
    r->catchup_sent = true;
    r->catchup_sent_ms = now;
}

/* Lost disk: asks every peer for its promise and log end (a catch-up request for slot 0 carries only that). */
static void rejoin_query(px_replica *r, uint64_t now) {
    PK_ASSERT(r->vote_blocked);
    px_msg m = {.type = PX_MSG_CATCHUP_REQ, .slot = 0, .total = r->nonce};
    broadcast(r, &m);
    r->rejoin_query_ms = now;
    PK_ASSERT(r->nonce != 0);
}

/* Lifts the lost-disk vote block once caught up to the leader's log end learned after restart. */
static void rejoin_check(px_replica *r) {
    if (!r->vote_blocked || !r->rejoin_known || r->chosen_to < r->rejoin_target) return;
    /* Promises it gave before are lost: hear enough peers that every phase-1 quorum it was part of has another
     * member among them (n - q1 + 1 peers), and promise at least the highest ballot they promised. */
    uint32_t q1 = r->cfg.phase1_quorum ? r->cfg.phase1_quorum : majority(r->cfg.node_count);
    if (popcount32(r->rejoin_heard) < r->cfg.node_count - q1 + 1) return;
    r->vote_blocked = false;
    px_ballot p = px_ballot_cmp(r->max_ballot_seen, r->rejoin_promised) > 0 ? r->max_ballot_seen : r->rejoin_promised;
    if (px_ballot_cmp(p, r->promised) > 0) {
        r->promised = p;
        persist_promise(r);
    }
    PK_ASSERT(!r->vote_blocked);
}

/* Follower: learns chosen-up-to `c` from the leader of ballot `b`; marks chosen what it accepted under b. */
static void learn_chosen(px_replica *r, px_ballot b, uint64_t c, uint64_t now) {
    PK_ASSERT(r->role == PX_FOLLOWER);
    if (c > r->leader_chosen_to) r->leader_chosen_to = c;
    if (r->snap_in_done) return; /* a snapshot install is pending: the log moves on after it */
    uint64_t limit = PK_MIN(c, log_last(r));
    for (uint64_t s = r->chosen_to + 1; s <= limit; s++) {
        const px_slot *ls = log_at(r, s);
        if (!ls || !ls->has || px_ballot_cmp(ls->ballot, b) != 0) break;
        r->chosen_to = s;
    }
    PK_ASSERT(r->chosen_to <= log_last(r)); /* chosen slots are held (or compacted) */
    rejoin_check(r);
    if (r->chosen_to < r->leader_chosen_to &&
        (!r->catchup_sent || now - r->catchup_sent_ms >= r->cfg.heartbeat_interval_ms))
        request_catchup(r, r->leader_id, now);
}

/* Sends the next snapshot chunk to peer index `idx`. */
static void send_snapshot_chunk(px_replica *r, uint32_t idx, uint64_t now) {
    px_snap_out *so = &r->snap_out[idx];
    if (so->slot != r->snap_slot) *so = (px_snap_out){true, r->snap_slot, 0, now};
    if (r->snap_slot == 0) { so->active = false; return; }
    PK_ASSERT(so->offset <= r->snap_bytes.len);
    uint64_t n = PK_MIN((uint64_t)PX_SNAPSHOT_CHUNK_BYTES, r->snap_bytes.len - so->offset);
    px_msg m = {.type = PX_MSG_SNAPSHOT_CHUNK, .slot = so->slot, .total = r->snap_bytes.len,
                .offset = so->offset, .value = {r->snap_bytes.ptr + so->offset, (size_t)n}};
    send_msg(r, r->cfg.node_ids[idx], &m, NULL, false);
    so->sent_ms = now;
}

/* Serves a catch-up request: chosen entries from `from` on, or a snapshot if they were compacted. */
static void serve_catchup(px_replica *r, uint32_t idx, uint64_t from, uint64_t nonce, uint64_t now) {
    PK_ASSERT(idx < r->cfg.node_count && idx != r->self_idx);
    PK_ASSERT(r->log_first <= r->chosen_to + 1);
    if (from != 0 && from < r->log_first) {
        if (r->snap_slot >= from && r->snap_bytes.len > 0) {
            if (!r->snap_out[idx].active || r->snap_out[idx].slot != r->snap_slot)
                r->snap_out[idx] = (px_snap_out){true, r->snap_slot, 0, now};
            send_snapshot_chunk(r, idx, now);
        }
        return;
    }
    pk_buf_reset(&r->msg_entries_scratch);
    uint32_t count = 0;
    uint64_t bytes = 0;
    for (uint64_t s = from; from != 0 && s <= r->chosen_to && count < PX_MAX_MSG_ENTRIES; s++) {
        const px_slot *ls = log_at(r, s);
        if (!ls || !ls->has || bytes + ls->len > PX_MAX_MSG_ENTRY_BYTES) break;
        px_entry e = {s, ls->ballot, slot_value(ls)};
        pk_buf_append(&r->msg_entries_scratch, &e, sizeof e);
        count++;
        bytes += ls->len;
    }
    /* slot = our log end and the echoed nonce let a replica that lost its disk learn a fresh rejoin point */
    px_msg m = {.type = PX_MSG_CATCHUP_ENTRIES, .ballot = r->ballot, .chosen_to = r->chosen_to, .entry_count = count,
                .slot = r->role == PX_LEADER ? r->next_slot - 1 : log_last(r), .total = nonce, .promised = r->promised,
                .flags = r->role == PX_LEADER ? PX_CATCHUP_FROM_LEADER : 0};
    send_msg(r, r->cfg.node_ids[idx], &m, (const px_entry *)(void *)r->msg_entries_scratch.data, false);
}

/* Installs chosen entries received by catch-up, in slot order, right after chosen_to. */
static void on_catchup_entries(px_replica *r, uint32_t from, const px_msg *m, uint64_t now) {
    if (r->role == PX_LEADER) return; /* a leader holds everything from its phase 1 on */
    if (r->role == PX_CANDIDATE) become_follower(r, (px_ballot){0, 0}, now); /* retry once caught up */
    if (r->snap_in_done) return; /* a snapshot install is pending */
    size_t cur = 0;
    px_entry e;
    for (uint32_t i = 0; i < m->entry_count && px_msg_entry_next(m, &cur, &e); i++) {
        if (e.slot != r->chosen_to + 1 || e.slot > m->chosen_to) continue;
        px_slot *ls = log_ensure(r, e.slot);
        if (!ls) break;
        if (!ls->has || px_ballot_cmp(ls->ballot, e.ballot) <= 0) {
            uint32_t keep_acks = ls->acks;
            slot_set(ls, e.ballot, e.value);
            ls->acks = keep_acks;
            persist_slot(r, e.slot);
        }
        r->chosen_to = e.slot;
        PK_ASSERT(log_at(r, e.slot) && log_at(r, e.slot)->has);
    }
    PK_ASSERT(r->role == PX_FOLLOWER);
    if (r->vote_blocked && m->total == r->nonce) { /* a reply to a request of this incarnation */
        int idx = node_index(r, from);
        PK_ASSERT(idx >= 0);
        r->rejoin_heard |= 1u << idx;
        if (px_ballot_cmp(m->promised, r->rejoin_promised) > 0) r->rejoin_promised = m->promised;
        if (!r->rejoin_known && (m->flags & PX_CATCHUP_FROM_LEADER)) {
            /* A leader's log end covers every slot this replica may have voted in before it lost its disk. */
            r->rejoin_known = true;
            r->rejoin_target = PK_MAX(m->slot, m->chosen_to);
        }
    }
    if (m->chosen_to > r->leader_chosen_to && from == r->leader_id) r->leader_chosen_to = m->chosen_to;
    rejoin_check(r);
    r->catchup_sent = false;
    if (r->chosen_to < m->chosen_to && m->entry_count > 0) request_catchup(r, from, now);
}

/* Receives one snapshot chunk; when complete, asks the caller to install it. */
static void on_snapshot_chunk(px_replica *r, uint32_t from, const px_msg *m) {
    if (m->total > PX_MAX_SNAPSHOT_BYTES || m->offset > m->total || m->value.len > m->total - m->offset) return;
    px_msg ack = {.type = PX_MSG_SNAPSHOT_ACK, .slot = m->slot};
    if (m->slot <= r->chosen_to || r->snap_in_done || r->role == PX_LEADER) { /* a leader needs no snapshot */
        ack.offset = m->total; /* already have this state: stop the transfer */
        send_msg(r, from, &ack, NULL, false);
        return;
    }
    if (m->offset == 0 && (m->slot != r->snap_in_slot || r->snap_in_done || r->snap_in.len != 0)) {
        pk_buf_reset(&r->snap_in);
        r->snap_in_slot = m->slot;
        r->snap_in_total = m->total;
        r->snap_in_done = false;
    }
    if (m->slot == r->snap_in_slot && m->total == r->snap_in_total && m->offset == r->snap_in.len &&
        !r->snap_in_done) {
        if (m->value.len) pk_buf_append(&r->snap_in, m->value.ptr, m->value.len);
        if (r->snap_in.len == r->snap_in_total) {
            r->snap_in_done = true;
            r->install_now = true;
        }
    }
    ack.offset = m->slot == r->snap_in_slot ? r->snap_in.len : 0;
    send_msg(r, from, &ack, NULL, false);
}

/* Sender side: a snapshot ack; sends the next chunk or ends the transfer. */
static void on_snapshot_ack(px_replica *r, uint32_t idx, const px_msg *m, uint64_t now) {
    px_snap_out *so = &r->snap_out[idx];
    if (!so->active || m->slot != so->slot || so->slot != r->snap_slot) return;
    if (m->offset >= r->snap_bytes.len) {
        so->active = false;
        return;
    }
    if (m->offset > so->offset) so->offset = m->offset;
    else if (m->offset < so->offset) so->offset = m->offset;
    send_snapshot_chunk(r, idx, now);
}

/* ---------------------------------------------------------------- acceptor */

/* Sends a Nack telling `to` about our higher promise. */
static void send_nack(px_replica *r, uint32_t to, px_ballot rejected) {
    px_msg m = {.type = PX_MSG_NACK, .ballot = rejected, .promised = r->promised};
    send_msg(r, to, &m, NULL, false);
}

/* Sends what this acceptor accepted from p->slot on, in Promise chunks of bounded size; the last has offset 0. */
static void send_promise_chunks(px_replica *r, uint32_t to, px_msg *p) {
    pk_buf_reset(&r->msg_entries_scratch);
    uint32_t count = 0;
    uint64_t bytes = 0;
    for (uint64_t s = p->slot; s <= log_last(r); s++) {
        const px_slot *ls = log_at(r, s);
        PK_ASSERT(ls != NULL);
        if (!ls->has) continue;
        if (count == PX_MAX_MSG_ENTRIES || (count > 0 && bytes + ls->len > PX_MAX_MSG_ENTRY_BYTES)) {
            p->offset = s; /* this chunk covers [p->slot, s) */
            p->entry_count = count;
            send_msg(r, to, p, (const px_entry *)(void *)r->msg_entries_scratch.data, true);
            p->slot = s;
            pk_buf_reset(&r->msg_entries_scratch);
            count = 0;
            bytes = 0;
        }
        ensure_slot_durable(r, s);
        px_entry e = {s, ls->ballot, slot_value(ls)};
        pk_buf_append(&r->msg_entries_scratch, &e, sizeof e);
        count++;
        bytes += ls->len;
    }
    p->offset = 0;
    p->entry_count = count;
    send_msg(r, to, p, (const px_entry *)(void *)r->msg_entries_scratch.data, true);
}

/* Acceptor: handles Prepare(b, from_slot). */
static void on_prepare(px_replica *r, uint32_t from, const px_msg *m, uint64_t now) {
    PK_ASSERT(m->type == PX_MSG_PREPARE);
    PK_ASSERT(from != r->cfg.self_id);
    if (m->ballot.node != from || r->vote_blocked) return;
    int c = px_ballot_cmp(m->ballot, r->promised);
    if (c < 0) { send_nack(r, from, m->ballot); return; }
    if (c > 0 && hears_live_leader(r, from, now)) return; /* leader stickiness */
    if (c > 0) {
        r->promised = m->ballot;
        persist_promise(r);
        become_follower(r, (px_ballot){0, 0}, now);
        r->ballot = m->ballot;
        r->leader_id = 0;
    }
    ensure_promise_durable(r);
    PK_ASSERT(px_ballot_cmp(r->promised, m->ballot) == 0);
    px_msg p = {.type = PX_MSG_PROMISE, .ballot = m->ballot, .slot = m->slot, .chosen_to = r->chosen_to};
    if (m->slot < r->log_first) { /* compacted slots: the candidate must catch up first */
        p.flags = PX_PROMISE_INCOMPLETE;
        send_msg(r, from, &p, NULL, true);
        return;
    }
    send_promise_chunks(r, from, &p);
}

/* Candidate: handles a Promise for its ballot. */
static void on_promise(px_replica *r, uint32_t from, int idx, const px_msg *m, uint64_t now) {
    PK_ASSERT(m->type == PX_MSG_PROMISE);
    PK_ASSERT(idx >= 0 && (uint32_t)idx < r->cfg.node_count && (uint32_t)idx != r->self_idx);
    if (r->role != PX_CANDIDATE || px_ballot_cmp(m->ballot, r->ballot) != 0) return;
    if (m->flags & PX_PROMISE_INCOMPLETE) {
        request_catchup(r, from, now); /* we are behind that acceptor: catch up, then try again */
        return;
    }
    if ((r->p1_acks & (1u << idx)) || m->slot != r->p1_next[idx]) return; /* duplicate, or a chunk was lost */
    if (m->offset != 0 && m->offset <= m->slot) return;
    size_t cur = 0;
    px_entry e;
    for (uint32_t i = 0; i < m->entry_count && px_msg_entry_next(m, &cur, &e); i++) {
        see_ballot(r, e.ballot);
        p1_merge(r, &e);
    }
    if (m->offset != 0) {
        r->p1_next[idx] = m->offset; /* more chunks follow */
        return;
    }
    r->p1_acks |= 1u << idx;
    phase1_check(r, now);
}

/* Handles a Nack: someone promised a higher ballot; back off (candidate) or re-prepare (leader). */
static void on_nack(px_replica *r, const px_msg *m, uint64_t now) {
    see_ballot(r, m->promised);
    if (r->role == PX_FOLLOWER || px_ballot_cmp(m->ballot, r->ballot) != 0) return;
    if (px_ballot_cmp(m->promised, r->ballot) <= 0) return;
    if (r->role == PX_LEADER) {
        r->role = PX_CANDIDATE;
        start_election(r, now); /* keep leading: re-run phase 1 above the higher promise */
    } else {
        become_follower(r, (px_ballot){0, 0}, now);
    }
}

/* Follows the leader of ballot b after hearing an Accept or Heartbeat from it. */
static void follow(px_replica *r, px_ballot b, uint64_t now) {
    if (r->role != PX_FOLLOWER || px_ballot_cmp(r->ballot, b) != 0 || r->leader_id != b.node)
        become_follower(r, b, now);
    r->leader_contact_ms = now;
    r->election_deadline_ms = now + election_timeout(r);
}

/* Acceptor: handles Accept(b, slot, value, chosen_to). */
static void on_accept(px_replica *r, uint32_t from, const px_msg *m, uint64_t now) {
    PK_ASSERT(m->type == PX_MSG_ACCEPT);
    PK_ASSERT(m->value.len <= PX_MAX_VALUE_BYTES);
    if (m->ballot.node != from || m->slot == 0) return;
    if (r->vote_blocked) {
        r->leader_id = from;
        r->leader_contact_ms = now;
        learn_chosen(r, (px_ballot){0, 0}, m->chosen_to, now);
        return;
    }
    int c = px_ballot_cmp(m->ballot, r->promised);
#ifndef PX_MUTANT_ACCEPT_BELOW_PROMISE
    if (c < 0) { send_nack(r, from, m->ballot); return; }
#endif /* else BUG: an Accept below the promise is stored and acknowledged (the promise check is missing) */
    if (c > 0) {
        r->promised = m->ballot;
        persist_promise(r);
    }
    if (c >= 0) follow(r, m->ballot, now);
    if (m->slot > r->chosen_to + r->cfg.window_slots + PX_MAX_AHEAD_SLOTS) return; /* far ahead: catch up first */
    if (m->slot > r->chosen_to) {
        px_slot *ls = log_ensure(r, m->slot);
        if (!ls) return; /* beyond the retained log span: drop, catch up first */
        if (!ls->has || px_ballot_cmp(ls->ballot, m->ballot) != 0) { /* a ballot proposes one value per slot */
            slot_set(ls, m->ballot, m->value);
            persist_slot(r, m->slot);
        }
    }
    ensure_slot_durable(r, m->slot);
    px_msg a = {.type = PX_MSG_ACCEPTED, .ballot = m->ballot, .slot = m->slot};
    send_msg(r, from, &a, NULL, true);
    if (c >= 0) learn_chosen(r, m->ballot, m->chosen_to, now);
}

/* Leader: counts an Accepted. */
static void on_accepted(px_replica *r, int idx, const px_msg *m, uint64_t now) {
    if (r->role != PX_LEADER || px_ballot_cmp(m->ballot, r->ballot) != 0) return;
    r->last_ack_ms[idx] = now;
    px_slot *ls = log_at(r, m->slot);
    if (!ls || !ls->has || m->slot >= r->next_slot || px_ballot_cmp(ls->ballot, r->ballot) != 0) return;
    ls->acks |= 1u << idx;
    leader_try_choose(r);
}

/* Follower: handles a Heartbeat(b, chosen_to). */
static void on_heartbeat(px_replica *r, uint32_t from, const px_msg *m, uint64_t now) {
    if (m->ballot.node != from) return;
    if (r->vote_blocked) {
        r->leader_id = from;
        r->leader_contact_ms = now;
        learn_chosen(r, (px_ballot){0, 0}, m->chosen_to, now);
        return;
    }
    if (px_ballot_cmp(m->ballot, r->promised) < 0) { send_nack(r, from, m->ballot); return; }
    follow(r, m->ballot, now);
    learn_chosen(r, m->ballot, m->chosen_to, now);
    px_msg a = {.type = PX_MSG_HEARTBEAT_ACK, .ballot = m->ballot, .chosen_to = r->chosen_to};
    send_msg(r, from, &a, NULL, false);
}

/* Dispatches one received message (decoded and validated first; malformed input is dropped). */
static void on_message(px_replica *r, uint32_t from, pk_slice bytes, uint64_t now) {
    int idx = node_index(r, from);
    if (idx < 0 || (uint32_t)idx == r->self_idx) return;
    px_msg m;
    if (px_msg_decode(bytes, &m) != PK_OK) return;
    see_ballot(r, m.ballot);
    switch (m.type) {
    case PX_MSG_PREPARE: on_prepare(r, from, &m, now); break;
    case PX_MSG_PROMISE: on_promise(r, from, idx, &m, now); break;
    case PX_MSG_NACK: on_nack(r, &m, now); break;
    case PX_MSG_ACCEPT: on_accept(r, from, &m, now); break;
    case PX_MSG_ACCEPTED: on_accepted(r, idx, &m, now); break;
    case PX_MSG_HEARTBEAT: on_heartbeat(r, from, &m, now); break;
    case PX_MSG_HEARTBEAT_ACK:
        if (r->role == PX_LEADER && px_ballot_cmp(m.ballot, r->ballot) == 0) r->last_ack_ms[idx] = now;
        break;
    case PX_MSG_CATCHUP_REQ: serve_catchup(r, (uint32_t)idx, m.slot, m.total, now); break;
    case PX_MSG_CATCHUP_ENTRIES: on_catchup_entries(r, from, &m, now); break;
    case PX_MSG_SNAPSHOT_CHUNK: on_snapshot_chunk(r, from, &m); break;
    case PX_MSG_SNAPSHOT_ACK: on_snapshot_ack(r, (uint32_t)idx, &m, now); break;
    default: break;
    }
}

/* ---------------------------------------------------------------- events */

/* START: loads durable state; a single replica becomes leader at once, others wait as followers. */
static void on_start(px_replica *r, const px_durable *d, uint64_t now) {
    PK_ASSERT(!r->started);
    r->started = true;
    r->promised = d->promised;
    r->max_round_seen = d->promised.round;
    r->max_ballot_seen = d->promised;
    r->log_first = d->snapshot_slot + 1;
    r->chosen_to = d->snapshot_slot;
    r->snap_slot = 0;
    for (size_t i = 0; i < d->accepted_count; i++) {
        const px_entry *e = &d->accepted[i];
        PK_ASSERT(i == 0 || e->slot > d->accepted[i - 1].slot);
        if (e->slot <= d->snapshot_slot) continue;
        px_slot *ls = log_ensure(r, e->slot);
        PK_ASSERT(ls != NULL);
        slot_set(ls, e->ballot, e->value);
        see_ballot(r, e->ballot);
    }
    r->vote_blocked = d->disk_lost && r->cfg.node_count > 1;
    become_follower(r, (px_ballot){0, 0}, now);
    if (r->vote_blocked) rejoin_query(r, now);
    if (r->cfg.node_count == 1) {
        /* The only acceptor durably accepted these: each was chosen. Only what follows a gap is re-proposed. */
        for (uint64_t s = r->chosen_to + 1; s <= log_last(r) && log_at(r, s)->has; s++) r->chosen_to = s;
        start_election(r, now);
    }
}

/* PROPOSE: the leader appends one value in the window and sends Accepts. */
static void on_propose(px_replica *r, pk_slice value, uint64_t now, px_update *out) {
    PK_ASSERT(value.len <= PX_MAX_VALUE_BYTES);
    (void)now;
    if (r->role != PX_LEADER) { out->propose_status = PX_PROPOSE_NOT_LEADER; return; }
    PK_ASSERT(r->next_slot > r->chosen_to);
    if (r->next_slot - r->chosen_to - 1 >= r->cfg.window_slots) { out->propose_status = PX_PROPOSE_FULL; return; }
    px_slot *ls = log_ensure(r, r->next_slot);
    if (!ls) { out->propose_status = PX_PROPOSE_FULL; return; }
    slot_set(ls, r->ballot, value);
    persist_slot(r, r->next_slot);
    send_accept(r, r->next_slot, 0);
    out->propose_status = PX_PROPOSE_OK;
    out->propose_slot = r->next_slot++;
}

/* TICK: heartbeats and step-down (leader), elections (follower/candidate), catch-up retries. */
static void on_tick(px_replica *r, uint64_t now) {
    if (r->role == PX_LEADER) {
        if (now >= r->next_heartbeat_ms) leader_heartbeat(r, now);
        return;
    }
    bool retry = !r->catchup_sent || now - r->catchup_sent_ms >= r->cfg.heartbeat_interval_ms;
    if (r->chosen_to < r->leader_chosen_to && r->catchup_sent && retry) request_catchup(r, r->leader_id, now);
    if (r->vote_blocked && now - r->rejoin_query_ms >= r->cfg.heartbeat_interval_ms) rejoin_query(r, now);
    if (r->vote_blocked || now < r->election_deadline_ms) return;
    start_election(r, now);
}

/* SNAPSHOT_TAKEN: remembers the snapshot to serve and compacts the log, keeping a window of tail. */
static void on_snapshot_taken(px_replica *r, uint64_t slot, pk_slice bytes) {
    PK_ASSERT(slot <= r->chosen_to);
    PK_ASSERT(bytes.len <= PX_MAX_SNAPSHOT_BYTES);
    if (slot < r->snap_slot) return;
    r->snap_slot = slot;
    r->snap_bytes = bytes;
    pk_buf_deinit(&r->snap_own); /* the caller's snapshot supersedes an installed one */
    pk_buf_init(&r->snap_own);
    uint64_t keep = r->cfg.window_slots;
    if (slot > keep) log_compact(r, slot - keep);
}

/* APPLIED: the caller applied every slot <= slot; an ensemble of one frees those entries (no peer can need them). */
static void on_applied(px_replica *r, uint64_t slot) {
    PK_ASSERT(slot <= r->chosen_to);
    if (r->cfg.node_count == 1) log_compact(r, slot);
    PK_ASSERT(r->cfg.node_count > 1 || r->log_first > slot);
}

/* SNAPSHOT_INSTALLED: the state machine now reflects every slot <= slot. */
static void on_snapshot_installed(px_replica *r, uint64_t slot, uint64_t now) {
    PK_ASSERT(r->snap_in_done && slot == r->snap_in_slot);
    if (r->role != PX_FOLLOWER) become_follower(r, (px_ballot){0, 0}, now);
    if (slot > r->chosen_to) {
        log_compact(r, slot);
        r->chosen_to = slot;
    }
    r->snap_in_done = false;
    if (slot >= r->snap_slot) { /* serve the installed snapshot to others: px keeps the bytes */
        pk_buf_deinit(&r->snap_own);
        r->snap_own = r->snap_in;
        pk_buf_init(&r->snap_in);
        r->snap_slot = slot;
        r->snap_bytes = pk_buf_slice(&r->snap_own);
    }
    rejoin_check(r);
    if (r->chosen_to < r->leader_chosen_to) request_catchup(r, r->leader_id, now);
}

/* PERSISTED(t): marks token t durable and advances the watermark over every contiguous reported token. */
static void on_persisted(px_replica *r, uint64_t t) {
    PK_ASSERT(t > 0 && t < r->next_token);
    if (t <= r->durable_token) return; /* reported twice */
    PK_ASSERT(t - r->durable_token <= PX_TOKEN_WINDOW);
    r->reported[(t % PX_TOKEN_WINDOW) / 8] |= (uint8_t)(1u << (t % 8));
    for (uint32_t guard = 0; guard < PX_TOKEN_WINDOW; guard++) {
        uint64_t n = r->durable_token + 1;
        uint8_t *byte = &r->reported[(n % PX_TOKEN_WINDOW) / 8];
        if (!(*byte & (1u << (n % 8)))) break;
        *byte = (uint8_t)(*byte & ~(1u << (n % 8)));
        r->durable_token = n;
    }
    PK_ASSERT(r->durable_token < r->next_token);
}

/* Returns the earliest time the caller must call TICK. */
static uint64_t next_deadline(const px_replica *r, uint64_t now) {
    uint64_t d = r->role == PX_LEADER ? r->next_heartbeat_ms : r->election_deadline_ms;
    if (r->role != PX_LEADER && r->vote_blocked) d = now + r->cfg.heartbeat_interval_ms;
    if (r->role != PX_LEADER && r->chosen_to < r->leader_chosen_to && r->catchup_sent)
        d = PK_MIN(d, r->catchup_sent_ms + r->cfg.heartbeat_interval_ms);
    return PK_MAX(d, now);
}

/* ---------------------------------------------------------------- public API */

/* Allocates a replica for `config`. */
px_replica *px_replica_new(const px_config *config) {
    PK_ASSERT(config->node_count >= 1 && config->node_count <= PX_MAX_NODES);
    PK_ASSERT(config->heartbeat_interval_ms > 0 && config->election_timeout_ms > 0 && config->window_slots > 0);
    uint32_t q1 = config->phase1_quorum ? config->phase1_quorum : majority(config->node_count);
    uint32_t q2 = config->phase2_quorum ? config->phase2_quorum : majority(config->node_count);
    PK_ASSERT(q1 + q2 > config->node_count && q1 <= config->node_count && q2 <= config->node_count);
    px_replica *r = pk_calloc(1, sizeof *r);
    r->cfg = *config;
    r->self_idx = PX_MAX_NODES;
    for (uint32_t i = 0; i < config->node_count; i++) {
        PK_ASSERT(config->node_ids[i] >= 1 && config->node_ids[i] <= 255);
        if (config->node_ids[i] == config->self_id) r->self_idx = i;
    }
    PK_ASSERT(r->self_idx < config->node_count);
    pk_prng_seed(&r->prng, config->seed ^ ((uint64_t)config->self_id << 32));
    uint64_t salt[2] = {config->seed, config->self_id};
    r->nonce = pk_hash64(salt, sizeof salt, 0x6e6f6e6365ull) | 1; /* does not disturb the timer sequence */
    r->next_token = 1;
    r->log_first = 1;
    pk_buf_init(&r->arena);
    pk_buf_init(&r->snap_in);
    pk_buf_init(&r->snap_own);
    pk_buf_init(&r->msg_entries_scratch);
    return r;
}

/* Frees a replica and everything it owns. */
void px_replica_free(px_replica *r) {
    if (!r) return;
    for (size_t i = 0; i < r->log_len; i++) free(r->log[i].value);
    p1_reset(r);
    free(r->log);
    free(r->p1);
    free(r->psend);
    free(r->sends);
    free(r->plist);
    free(r->pout);
    pk_buf_deinit(&r->arena);
    pk_buf_deinit(&r->snap_in);
    pk_buf_deinit(&r->snap_own);
    pk_buf_deinit(&r->msg_entries_scratch);
    free(r);
}

/* Feeds one event and fills *out with the effects to carry out. */
void px_step(px_replica *r, const px_event *ev, px_update *out) {
    PK_ASSERT(r != NULL && ev != NULL && out != NULL);
    PK_ASSERT(r->started || ev->kind == PX_EV_START);
    memset(out, 0, sizeof *out);
    step_begin(r);
    uint64_t chosen_before = r->chosen_to;
    uint64_t now = ev->now_ms;
    switch (ev->kind) {
    case PX_EV_START: on_start(r, ev->u.start, now); break;
    case PX_EV_MESSAGE: on_message(r, ev->u.message.from, ev->u.message.bytes, now); break;
    case PX_EV_PERSISTED:
        on_persisted(r, ev->u.persisted.token);
        phase1_check(r, now);
        leader_try_choose(r);
        break;
    case PX_EV_TICK: on_tick(r, now); break;
    case PX_EV_PROPOSE: on_propose(r, ev->u.propose.value, now, out); break;
    case PX_EV_SNAPSHOT_TAKEN: on_snapshot_taken(r, ev->u.snapshot_taken.slot, ev->u.snapshot_taken.bytes); break;
    case PX_EV_SNAPSHOT_INSTALLED: on_snapshot_installed(r, ev->u.snapshot_installed.slot, now); break;
    case PX_EV_APPLIED: on_applied(r, ev->u.applied.slot); break;
    default: PK_PANIC("px_step: unknown event kind %d", (int)ev->kind);
    }
    PK_ASSERT(r->chosen_to >= chosen_before);
    step_end(r, out);
    out->next_deadline_ms = next_deadline(r, now);
}

/* Reads chosen slot `slot`. */
bool px_chosen_get(const px_replica *r, uint64_t slot, px_entry *out) {
    if (slot == 0 || slot > r->chosen_to) return false;
    const px_slot *ls = log_at(r, slot);
#ifdef PX_MUTANT_SKIP_NOOP_FILL
    if (ls && !ls->has) { *out = (px_entry){slot, {0, 0}, {NULL, 0}}; return true; }
#endif
    if (!ls || !ls->has) return false;
    *out = (px_entry){slot, ls->ballot, slot_value(ls)};
    return true;
}

/* Fills *out with the replica's current state. */
void px_replica_status(const px_replica *r, px_status *out) {
    memset(out, 0, sizeof *out);
    out->role = r->role;
    out->ballot = r->ballot;
    out->promised = r->promised;
    out->leader_id = r->leader_id;
    out->chosen_to = r->chosen_to;
    out->log_first = r->log_first;
    out->log_last = log_last(r);
    out->next_slot = r->next_slot;
    out->durable_token = r->durable_token;
    out->snapshot_slot = r->snap_slot;
    out->vote_blocked = r->vote_blocked;
    out->election_deadline_ms = r->election_deadline_ms;
}

/* Reads the entry this replica accepted at `slot`. */
bool px_replica_accepted(const px_replica *r, uint64_t slot, px_entry *out) {
    const px_slot *ls = log_at(r, slot);
    if (!ls || !ls->has) return false;
    *out = (px_entry){slot, ls->ballot, slot_value(ls)};
    return true;
}
