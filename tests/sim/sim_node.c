/* sim_node: a simulated server node driving the real px + zk + store like rt does (see sim.h). */
#include <stdlib.h>

#include "sim_int.h"
#include "store/disk_mem.h"
#include "wire/records.h"

#define SIM_SNAP_EVERY 40
#define SIM_SEGMENT_BYTES (64 * 1024)
#define SIM_CHAIN_HDR 24

static void node_process(sim_world *w, sim_node *n, const px_update *u);
static void node_start_once(sim_world *w, sim_node *n);

/* Returns the node's store_disk (the store's disk_mem, or the simulator's own). */
store_disk *sim_node_disk(sim_node *n) {
    PK_ASSERT(n != NULL);
    return n->dmem ? store_disk_mem_disk(n->dmem) : &n->disk.disk;
}

/* Arms a disk fault: the (countdown+1)-th next mutating op fails with err. */
void sim_node_disk_arm(sim_node *n, uint64_t countdown, int err) {
    PK_ASSERT(err < 0);
    if (n->dmem) store_disk_mem_fail_after(n->dmem, STORE_MEM_OP_MUTATING, countdown, err, false);
    else sim_disk_fail_after(&n->disk, (int64_t)countdown + 1, err);
    n->disk_armed = true;
}

/* Cancels an armed disk fault. */
void sim_node_disk_disarm(sim_node *n) {
    if (n->dmem) store_disk_mem_fail_clear(n->dmem);
    else n->disk.fail_countdown = 0;
    n->disk_armed = false;
}

/* Returns the node's local clock: global time with drift and offset (monotonic). */
uint64_t sim_node_clock(const sim_world *w, const sim_node *n) {
    int64_t t = (int64_t)w->now + ((int64_t)w->now * n->drift_ppm) / 1000000 + n->clock_offset_ms;
    PK_ASSERT(t >= 0);
    return (uint64_t)t;
}

/* Feeds one event to px and carries out the update. */
static void node_step(sim_world *w, sim_node *n, px_event *ev) {
    PK_ASSERT(n->up && n->px != NULL);
    ev->now_ms = sim_node_clock(w, n);
    px_update u;
    memset(&u, 0, sizeof u);
    px_step(n->px, ev, &u);
    node_process(w, n, &u);
    /* Tells px what was applied (an ensemble of one frees those entries), like rt's node_step. */
    uint64_t upto = PK_MIN(n->applied, n->chosen_to);
    if (!n->up || n->px == NULL || upto <= n->applied_told) return;
    n->applied_told = upto;
    px_event ap = {.kind = PX_EV_APPLIED, .now_ms = sim_node_clock(w, n), .u.applied.slot = upto};
    memset(&u, 0, sizeof u);
    px_step(n->px, &ap, &u);
    node_process(w, n, &u);
}

/* Marks the node to crash at the next top-level point (a disk error stops the server). */
static void node_disk_error(sim_world *w, sim_node *n, const char *what, int rc) {
    sim_trace(w, "n%u disk error in %s: %s -> stop", n->id, what, pk_strerror(rc));
    n->dead_pending = true;
}

/* Replies to every txn of batch b with err (a pseudo code: LOST or NOT_LEADER). */
static void node_batch_fail(sim_world *w, sim_node *n, sim_batch *b, int32_t err) {
    PK_ASSERT(b->count <= SIM_BATCH_TXNS);
    for (uint32_t i = 0; i < b->count; i++)
        sim_reply(w, n->id, b->client[i], b->req_id[i], err, 0, 0, (pk_slice){0}, n->leader_id);
    pk_buf_deinit(&b->value);
    memset(b, 0, sizeof *b);
}

/* Drops every batch: proposed ones become unknown outcomes, unproposed ones NOT_LEADER (never proposed). */
static void node_batches_fail_all(sim_world *w, sim_node *n) {
    PK_ASSERT(n->batch_count <= SIM_MAX_BATCHES);
    for (size_t i = 0; i < n->batch_count; i++)
        node_batch_fail(w, n, &n->batches[i], n->batches[i].proposed ? SIM_REP_LOST : SIM_REP_NOT_LEADER);
    n->batch_count = 0;
    if (n->prep) zk_prep_reset(n->prep);
}

/* Removes batch i keeping FIFO order. */
static void node_batch_remove(sim_node *n, size_t i) {
    PK_ASSERT(i < n->batch_count);
    memmove(&n->batches[i], &n->batches[i + 1], (n->batch_count - i - 1) * sizeof n->batches[0]);
    n->batch_count--;
    memset(&n->batches[n->batch_count], 0, sizeof n->batches[0]);
}

/* Appends a new batch of the current chain (header only); returns NULL when the queue is full. */
static sim_batch *node_batch_new(sim_node *n) {
    PK_ASSERT(n->role == PX_LEADER);
    if (n->batch_count == SIM_MAX_BATCHES) return NULL;
    sim_batch *b = &n->batches[n->batch_count++];
    memset(b, 0, sizeof *b);
    pk_buf_init(&b->value);
    uint8_t *h = pk_buf_extend(&b->value, SIM_CHAIN_HDR);
    pk_put_u64(h, n->ballot.round);
    pk_put_u32(h + 8, n->ballot.node);
    pk_put_u32(h + 12, n->epoch);
    pk_put_u64(h + 16, ++n->chain_seq);
    return b;
}

/* Starts a new chain at this leader: drops all batches and queues its barrier (seq 1). */
static void node_new_chain(sim_world *w, sim_node *n) {
    node_batches_fail_all(w, n);
    n->leader_ready = false;
    n->epoch++;
    n->chain_seq = 0;
    PK_ASSERT(n->ballot.round < (1ull << 24) && n->epoch < 256);
    n->zxid_base = (n->ballot.round << 40) | ((uint64_t)n->ballot.node << 32) | ((uint64_t)n->epoch << 24);
    n->zxid_counter = 0;
    sim_batch *b = node_batch_new(n);
    PK_ASSERT(b != NULL);
    b->barrier = true;
}

/* Handles a role or ballot change reported by px. */
static void node_role(sim_world *w, sim_node *n, const px_update *u) {
    bool was_leader = n->role == PX_LEADER;
    bool is_leader = u->role == PX_LEADER;
    bool new_term = is_leader && (!was_leader || px_ballot_cmp(u->ballot, n->ballot) != 0);
    if (is_leader) sim_check_leader(w, n->id, u->ballot);
    if ((was_leader && !is_leader) || new_term) {
        if (was_leader) sim_trace(w, "n%u steps down (ballot %llu.%u)", n->id,
                                  (unsigned long long)n->ballot.round, n->ballot.node);
        node_batches_fail_all(w, n);
        n->leader_ready = false;
    }
    n->role = u->role;
    n->ballot = u->ballot;
    n->leader_id = u->leader_id;
    if (new_term) {
        sim_trace(w, "n%u leads ballot %llu.%u", n->id, (unsigned long long)u->ballot.round, u->ballot.node);
        node_new_chain(w, n);
    }
}

/* Queues the persist effects and the sends of an update (sends that wait ride with the job). */
static void node_persist_and_send(sim_world *w, sim_node *n, const px_update *u) {
    bool waiting_exists = u->persist_token != 0 || n->job_count > 0;
    sim_job *job = NULL;
    if (waiting_exists) {
        bool any_wait = u->persist_token != 0;
        for (size_t i = 0; i < u->send_count; i++) any_wait |= u->sends[i].after_persist;
        if (any_wait) {
            PK_ASSERT(n->job_count < SIM_MAX_JOBS);
            job = &n->jobs[(n->job_head + n->job_count++) % SIM_MAX_JOBS];
            memset(job, 0, sizeof *job);
            uint64_t prev_done = w->now;
            if (n->job_count > 1) prev_done = n->jobs[(n->job_head + n->job_count - 2) % SIM_MAX_JOBS].done_at;
            /* group commit: each write takes 1-4 ms, completions stay in FIFO order */
            job->done_at = PK_MAX(prev_done, w->now + (u->persist_token ? 1 + pk_prng_below(&w->prng, 4) : 0));
            job->token = u->persist_token;
            job->has_promise = u->persist_promise;
            job->promise = u->promise;
            job->send_to = pk_calloc(u->send_count + 1, sizeof *job->send_to);
            job->send_bytes = pk_calloc(u->send_count + 1, sizeof *job->send_bytes);
            job->written = pk_calloc(u->persist_count + 1, sizeof *job->written);
            for (size_t i = 0; i < u->persist_count; i++) {
                const px_entry *e = &u->persist_entries[i];
                job->written[i] = (px_entry){e->slot, e->ballot, {NULL, 0}};
                if (i == 0) job->first_slot = e->slot;
                else PK_ASSERT(e->slot > u->persist_entries[i - 1].slot);
                wal_record rec = {e->slot, e->ballot.round, e->ballot.node, e->value};
                wal_encode(&job->wal_bytes, &rec);
            }
            job->entry_count = u->persist_count;
        }
    }
    for (size_t i = 0; i < u->send_count; i++) {
        const px_send *s = &u->sends[i];
#ifdef SIM_MUTANT_REPLY_BEFORE_FSYNC
        bool wait = false;
#else
        bool wait = job != NULL && s->after_persist;
#endif
        if (!wait) { sim_net_send(w, n->id, s->to, s->bytes); continue; }
        job->send_to[job->send_count] = s->to;
        pk_buf_init(&job->send_bytes[job->send_count]);
        pk_buf_append(&job->send_bytes[job->send_count], s->bytes.ptr, s->bytes.len);
        job->send_count++;
    }
}

/* Checks a batch's chain header against the applied chain position and advances it; false = stale batch. */
static bool node_chain_ok(sim_node *n, const uint8_t *h) {
    uint64_t round = pk_get_u64(h), seq = pk_get_u64(h + 16);
    uint32_t node = pk_get_u32(h + 8), epoch = pk_get_u32(h + 12);
    int cmp = round != n->ap_round ? (round < n->ap_round ? -1 : 1)
            : node != n->ap_node   ? (node < n->ap_node ? -1 : 1)
            : epoch != n->ap_epoch ? (epoch < n->ap_epoch ? -1 : 1) : 0;
    bool ok = (cmp > 0 && seq == 1) || (cmp == 0 && seq == n->ap_seq + 1);
    if (!ok) return false;
    n->ap_round = round; n->ap_node = node; n->ap_epoch = epoch; n->ap_seq = seq;
    PK_ASSERT(n->ap_seq >= 1);
    return true;
}

/* Applies the txns of a valid batch, replying to their clients when `mine` is this node's batch. */
static void node_apply_txns(sim_world *w, sim_node *n, uint64_t slot, pk_slice batch, sim_batch *mine) {
    size_t off = 0;
    pk_slice txn;
    uint32_t k = 0;
    for (uint32_t guard = 0; guard < 100000 && zk_batch_next(batch, &off, &txn); guard++) {
        zk_apply_result r;
        memset(&r, 0, sizeof r);
        pk_buf_reset(&n->reply_tmp);
        zk_events_clear(n->events);
        int rc = zk_apply(n->zk, txn, &r, &n->reply_tmp, n->events);
        if (rc < 0) {
            sim_fail(w, "n%u: zk_apply slot %llu txn %u failed: %s (determinism violation)", n->id,
                     (unsigned long long)slot, k, pk_strerror(rc));
            return;
        }
        if (n->prep) zk_prep_applied(n->prep, r.zxid);
        if (mine && k < mine->count) {
            sim_trace(w, "n%u applied slot %llu txn %u: op %d err %d zxid %llx session %llx -> c%u", n->id,
                      (unsigned long long)slot, k, r.op, r.err, (unsigned long long)r.zxid,
                      (unsigned long long)r.session_id, mine->client[k]);
            sim_reply(w, n->id, mine->client[k], mine->req_id[k], r.err, r.zxid, r.session_id,
                      pk_buf_slice(&n->reply_tmp), 0);
            if (slot > w->max_acked_slot) w->max_acked_slot = slot;
        }
        k++;
    }
    if (off != batch.len) sim_fail(w, "n%u: malformed batch at slot %llu", n->id, (unsigned long long)slot);
}

/* Applies one chosen slot: checks its value, applies a valid batch, answers this node's clients. */
static void node_apply_one(sim_world *w, sim_node *n, uint64_t slot, const px_entry *e) {
    sim_check_slot_value(w, n->id, slot, pk_hash64(e->value.ptr, e->value.len, e->value.len));
    sim_batch *mine = NULL;
    size_t mine_i = 0;
    for (size_t i = 0; i < n->batch_count; i++)
        if (n->batches[i].proposed && n->batches[i].slot == slot) { mine = &n->batches[i]; mine_i = i; }
    if (mine && !pk_slice_eq(e->value, pk_buf_slice(&mine->value))) {
        node_batch_fail(w, n, mine, SIM_REP_LOST);
        node_batch_remove(n, mine_i);
        mine = NULL;
    }
    if (e->value.len == 0) return; /* a px no-op */
    if (e->value.len < SIM_CHAIN_HDR) { sim_fail(w, "n%u: short value at slot %llu", n->id, (unsigned long long)slot); return; }
    if (!node_chain_ok(n, e->value.ptr)) {
        sim_trace(w, "n%u slot %llu: stale batch of chain %llu.%u.%u seq %llu skipped", n->id, (unsigned long long)slot,
                  (unsigned long long)pk_get_u64(e->value.ptr), pk_get_u32(e->value.ptr + 8),
                  pk_get_u32(e->value.ptr + 12), (unsigned long long)pk_get_u64(e->value.ptr + 16));
        if (mine) {
            node_batch_fail(w, n, mine, SIM_REP_LOST);
            node_batch_remove(n, mine_i);
            if (n->role == PX_LEADER) node_new_chain(w, n); /* our chain broke: resynchronize */
        }
        return;
    }
    pk_slice batch = {e->value.ptr + SIM_CHAIN_HDR, e->value.len - SIM_CHAIN_HDR};
    node_apply_txns(w, n, slot, batch, mine && !mine->sync && !mine->barrier ? mine : NULL);
    if (!mine) return;
    if (mine->barrier && n->role == PX_LEADER) {
        n->leader_ready = true;
        sim_trace(w, "n%u ready as leader at slot %llu", n->id, (unsigned long long)slot);
    }
    if (mine->sync && mine->count == 1)
        sim_reply(w, n->id, mine->client[0], mine->req_id[0], ZK_ERR_OK, zk_state_last_zxid(n->zk), 0,
                  (pk_slice){0}, 0);
    pk_buf_deinit(&mine->value);
    mine->count = 0;
    node_batch_remove(n, mine_i);
}

/* Applies chosen slots above n->applied while px holds them (in order; reversed in the mutant). */
static void node_apply_chosen(sim_world *w, sim_node *n) {
    uint64_t from = n->applied + 1, to = n->chosen_to;
    if (to < from) return;
    if (to - from > 100000) to = from + 100000;
#ifdef SIM_MUTANT_APPLY_OUT_OF_ORDER
    if (to > from) {
        for (uint64_t s = to; s >= from && !w->failed; s--) {
            px_entry e;
            if (!px_chosen_get(n->px, s, &e)) return;
            node_apply_one(w, n, s, &e);
        }
        n->applied = to;
        sim_check_slot_digest(w, n->id, to, zk_state_digest(n->zk));
        return;
    }
#endif
    for (uint64_t s = from; s <= to && !w->failed; s++) {
        px_entry e;
        if (!px_chosen_get(n->px, s, &e)) {
            if (!n->install_pending || s > n->install_slot)
                sim_fail(w, "n%u: px reports chosen_to %llu but does not hold chosen slot %llu (applied %llu)", n->id,
                         (unsigned long long)n->chosen_to, (unsigned long long)s, (unsigned long long)n->applied);
            return;
        }
        PK_ASSERT(e.slot == s);
        node_apply_one(w, n, s, &e);
        n->applied = s;
        sim_check_slot_digest(w, n->id, s, zk_state_digest(n->zk));
        if (s % 16 == 0 && zk_state_digest(n->zk) != zk_state_digest_full(n->zk))
            sim_fail(w, "n%u: incremental digest differs from full recomputation at slot %llu", n->id,
                     (unsigned long long)s);
    }
    PK_ASSERT(n->applied <= n->chosen_to);
}

/* Carries out one px_update: role, persist/send, chosen/apply, snapshot install request, deadline. */
static void node_process(sim_world *w, sim_node *n, const px_update *u) {
    PK_ASSERT(u->chosen_to >= n->chosen_to);
    PK_ASSERT(u->send_count < 100000);
    node_role(w, n, u);
    node_persist_and_send(w, n, u);
#ifdef SIM_MUTANT_REPLY_BEFORE_FSYNC
    if (u->persist_token != 0) {
        px_event ev = {.kind = PX_EV_PERSISTED, .u.persisted.token = u->persist_token};
        n->chosen_to = u->chosen_to;
        n->next_deadline_ms = u->next_deadline_ms;
        node_apply_chosen(w, n);
        node_step(w, n, &ev);
        return;
    }
#endif
    n->chosen_to = u->chosen_to;
    n->next_deadline_ms = u->next_deadline_ms;
    if (u->install_snapshot && u->install_slot > n->applied) {
        n->install_pending = true;
        n->install_slot = u->install_slot;
        pk_buf_reset(&n->install_bytes);
        pk_buf_append(&n->install_bytes, u->install_bytes.ptr, u->install_bytes.len);
    }
    node_apply_chosen(w, n);
}

/* Records that an accept for e->slot under e->ballot is durable (for the recovery check). */
static void node_note_durable(sim_node *n, const px_entry *e) {
    PK_ASSERT(e->slot > 0 && e->slot < (1u << 24));
    if (e->slot >= n->durable_acc_cap) {
        size_t cap = n->durable_acc_cap ? n->durable_acc_cap : 1024;
        while (cap <= e->slot) cap *= 2;
        n->durable_acc = pk_realloc(n->durable_acc, cap * sizeof *n->durable_acc);
        memset(n->durable_acc + n->durable_acc_cap, 0, (cap - n->durable_acc_cap) * sizeof *n->durable_acc);
        n->durable_acc_cap = cap;
    }
    if (px_ballot_cmp(e->ballot, n->durable_acc[e->slot]) > 0) n->durable_acc[e->slot] = e->ballot;
    PK_ASSERT(n->durable_acc[e->slot].round > 0 || n->durable_acc[e->slot].node > 0);
}

/* Checks that recovery returned every promise and accept whose write completed before the crash (store
 * durability under torn and lost unsynced writes); entries at or below the snapshot may be compacted. */
static void node_check_recovered(sim_world *w, sim_node *n, const px_durable *dur, const px_entry *arr, size_t count) {
    if (n->rotted) return; /* an older snapshot may have been used: the WAL legitimately starts later */
    if (px_ballot_cmp(dur->promised, n->durable_promise) < 0)
        sim_fail(w, "n%u recovered promise %llu.%u below the durable %llu.%u", n->id,
                 (unsigned long long)dur->promised.round, dur->promised.node,
                 (unsigned long long)n->durable_promise.round, n->durable_promise.node);
    size_t k = 0;
    for (uint64_t s = dur->snapshot_slot + 1; s < n->durable_acc_cap && !w->failed; s++) {
        px_ballot b = n->durable_acc[s];
        if (b.round == 0 && b.node == 0) continue;
        while (k < count && arr[k].slot < s) k++;
        if (k < count && arr[k].slot == s && px_ballot_cmp(arr[k].ballot, b) >= 0) continue;
        sim_fail(w, "n%u recovery lost a durable accept: slot %llu ballot %llu.%u (snapshot %llu)", n->id,
                 (unsigned long long)s, (unsigned long long)b.round, b.node,
                 (unsigned long long)dur->snapshot_slot);
    }
}

/* Completes the persist jobs due now: writes meta and WAL, sends what waited, steps PX_EV_PERSISTED. */
static void node_jobs(sim_world *w, sim_node *n) {
    for (uint32_t guard = 0; guard < SIM_MAX_JOBS && n->job_count > 0 && n->up && !w->failed; guard++) {
        sim_job *j = &n->jobs[n->job_head];
        if (j->done_at > w->now) break;
        int rc = PK_OK;
        if (j->has_promise) {
            store_meta m = {n->id, j->promise.round, j->promise.node};
            rc = store_meta_write(sim_node_disk(n), SIM_DIR, &m);
            if (rc) { node_disk_error(w, n, "store_meta_write", rc); return; }
            if (px_ballot_cmp(j->promise, n->durable_promise) > 0) n->durable_promise = j->promise;
        }
        if (j->entry_count > 0) {
            rc = wal_write_sync(n->wal, j->first_slot, pk_buf_slice(&j->wal_bytes));
            if (rc) { node_disk_error(w, n, "wal_write_sync", rc); return; }
            for (size_t i = 0; i < j->entry_count; i++) node_note_durable(n, &j->written[i]);
        }
        for (uint32_t i = 0; i < j->send_count; i++) {
            sim_net_send(w, n->id, j->send_to[i], pk_buf_slice(&j->send_bytes[i]));
            pk_buf_deinit(&j->send_bytes[i]);
        }
        uint64_t token = j->token;
        free(j->send_to); free(j->send_bytes); free(j->written); pk_buf_deinit(&j->wal_bytes);
        memset(j, 0, sizeof *j);
        n->job_head = (n->job_head + 1) % SIM_MAX_JOBS;
        n->job_count--;
#ifndef SIM_MUTANT_REPLY_BEFORE_FSYNC
        if (token != 0) {
            px_event ev = {.kind = PX_EV_PERSISTED, .u.persisted.token = token};
            node_step(w, n, &ev);
        }
#else
        (void)token;
#endif
    }
}

/* Proposes queued batches in FIFO order while px accepts them. */
static void node_propose(sim_world *w, sim_node *n) {
    for (size_t i = 0; i < n->batch_count && n->up && !n->dead_pending && !w->failed; i++) {
        sim_batch *b = &n->batches[i];
        if (b->proposed) continue;
        if (n->role != PX_LEADER) { node_batches_fail_all(w, n); return; }
        if (!b->barrier && !n->leader_ready) return;
        px_event ev = {.kind = PX_EV_PROPOSE, .u.propose.value = pk_buf_slice(&b->value)};
        px_ballot ballot = n->ballot;
        PK_ASSERT(n->px != NULL);
        ev.now_ms = sim_node_clock(w, n);
        px_update u;
        memset(&u, 0, sizeof u);
        px_step(n->px, &ev, &u);
        if (u.propose_status == PX_PROPOSE_OK) {
            b->proposed = true;
            b->slot = u.propose_slot;
            b->ballot = ballot;
            sim_trace(w, "n%u proposes slot %llu (%u txns%s)", n->id, (unsigned long long)u.propose_slot, b->count,
                      b->barrier ? ", barrier" : b->sync ? ", sync" : "");
            if (!w->healed && w->leader_crash_pm && pk_prng_below(&w->prng, 1000) < w->leader_crash_pm) {
                sim_fault(w);
                sim_trace(w, "n%u will crash right after proposing", n->id);
                n->dead_pending = true; /* crashes at the end of this tick, its Accepts in flight */
                n->restart_at = w->now + 20 + pk_prng_below(&w->prng, 300);
            }
        }
        px_propose_status st = u.propose_status;
        node_process(w, n, &u);
        if (st == PX_PROPOSE_FULL) return;
        if (st == PX_PROPOSE_NOT_LEADER) { node_batches_fail_all(w, n); return; }
    }
}

/* Serializes the applied state: the chain position, then the zk state. */
static void node_snap_encode(const sim_node *n, pk_buf *out) {
    PK_ASSERT(n->zk != NULL);
    pk_buf_reset(out);
    uint8_t *h = pk_buf_extend(out, SIM_CHAIN_HDR);
    pk_put_u64(h, n->ap_round);
    pk_put_u32(h + 8, n->ap_node);
    pk_put_u32(h + 12, n->ap_epoch);
    pk_put_u64(h + 16, n->ap_seq);
    zk_state_serialize(n->zk, out);
    PK_ASSERT(out->len > SIM_CHAIN_HDR);
}

/* Rebuilds the chain position and a zk state from node_snap_encode output. */
static int node_snap_decode(sim_node *n, pk_slice in, zk_state **zk, char *err, size_t err_len) {
    if (in.len < SIM_CHAIN_HDR) { snprintf(err, err_len, "short snapshot"); return PK_ECORRUPT; }
    int rc = zk_state_deserialize((pk_slice){in.ptr + SIM_CHAIN_HDR, in.len - SIM_CHAIN_HDR}, zk, err, err_len);
    if (rc) return rc;
    n->ap_round = pk_get_u64(in.ptr);
    n->ap_node = pk_get_u32(in.ptr + 8);
    n->ap_epoch = pk_get_u32(in.ptr + 12);
    n->ap_seq = pk_get_u64(in.ptr + 16);
    return PK_OK;
}

/* Installs a snapshot px received: replaces the zk state, persists it, tells px. */
static void node_install(sim_world *w, sim_node *n) {
    zk_state *s = NULL;
    char err[256];
    int rc = node_snap_decode(n, pk_buf_slice(&n->install_bytes), &s, err, sizeof err);
    if (rc) { sim_fail(w, "n%u: snapshot from px does not deserialize: %s", n->id, err); return; }
    rc = store_snap_write(sim_node_disk(n), SIM_DIR, n->install_slot, pk_buf_slice(&n->install_bytes));
    if (rc) { zk_state_free(s); node_disk_error(w, n, "store_snap_write(install)", rc); return; }
    zk_state_free(n->zk);
    n->zk = s;
    n->applied = n->install_slot;
    n->install_pending = false;
    sim_trace(w, "n%u installed snapshot at slot %llu", n->id, (unsigned long long)n->install_slot);
    sim_check_slot_digest(w, n->id, n->applied, zk_state_digest(n->zk));
    for (size_t i = 0; i < n->batch_count;) {
        if (n->batches[i].proposed && n->batches[i].slot <= n->applied) {
            node_batch_fail(w, n, &n->batches[i], SIM_REP_LOST);
            node_batch_remove(n, i);
        } else {
            i++;
        }
    }
    px_event ev = {.kind = PX_EV_SNAPSHOT_INSTALLED, .u.snapshot_installed.slot = n->install_slot};
    node_step(w, n, &ev);
}

/* Takes a snapshot every SIM_SNAP_EVERY applied slots, persists it and lets px compact. */
static void node_snapshot(sim_world *w, sim_node *n) {
    if (n->applied < n->snap_slot + SIM_SNAP_EVERY) return;
    uint64_t slot = n->applied;
    node_snap_encode(n, &n->snap);
    int rc = store_snap_write(sim_node_disk(n), SIM_DIR, slot, pk_buf_slice(&n->snap));
    if (rc) { node_disk_error(w, n, "store_snap_write", rc); return; }
    n->snap_slot = slot;
    px_event ev = {.kind = PX_EV_SNAPSHOT_TAKEN, .u.snapshot_taken = {slot, pk_buf_slice(&n->snap)}};
    node_step(w, n, &ev);
    if (!n->up || n->dead_pending) return;
    rc = wal_drop_below(n->wal, slot + 1);
    if (rc) { node_disk_error(w, n, "wal_drop_below", rc); return; }
    rc = store_snap_prune(sim_node_disk(n), SIM_DIR, 2);
    if (rc) node_disk_error(w, n, "store_snap_prune", rc);
}

/* Runs a node's time-driven work for this ms: fsync completions, timer, proposals, snapshots. */
void sim_node_tick(sim_world *w, sim_node *n) {
    PK_ASSERT(n->up);
    if (w->now < n->paused_until) return;
    if (n->disk_lost) {
        px_status st;
        px_replica_status(n->px, &st);
        if (!st.vote_blocked) {
            n->disk_lost = false; /* the durable "disk lost" marker is cleared once px caught up */
            sim_trace(w, "n%u caught up after disk loss: votes again", n->id);
        }
    }
    node_jobs(w, n);
    if (n->up && !n->dead_pending && sim_node_clock(w, n) >= n->next_deadline_ms) {
        px_event ev = {.kind = PX_EV_TICK};
        node_step(w, n, &ev);
    }
    if (n->up && !n->dead_pending && n->install_pending) node_install(w, n);
    if (n->up && !n->dead_pending) node_apply_chosen(w, n);
    if (n->up && !n->dead_pending) node_propose(w, n);
    if (n->up && !n->dead_pending && !w->failed) node_snapshot(w, n);
    if (n->dead_pending && n->up) sim_node_crash(w, n);
}

/* Delivers a peer message to a node. */
void sim_node_on_peer(sim_world *w, sim_node *n, const sim_msg *m) {
    PK_ASSERT(m->kind == SIM_MSG_PEER);
    PK_ASSERT(n->up);
    px_event ev = {.kind = PX_EV_MESSAGE, .u.message = {m->from, pk_buf_slice(&m->bytes)}};
    node_step(w, n, &ev);
    if (n->dead_pending && n->up) sim_node_crash(w, n);
}

/* Resolves a client write into a txn appended to the tail batch (or a new one); returns a reply code. */
static int32_t node_prep_write(sim_world *w, sim_node *n, const sim_msg *m) {
    sim_batch *b = n->batch_count ? &n->batches[n->batch_count - 1] : NULL;
    if (!b || b->proposed || b->sync || b->barrier || b->count == SIM_BATCH_TXNS) b = node_batch_new(n);
    if (!b) return SIM_REP_RETRY;
    PK_ASSERT(n->zxid_counter + 1 < (1u << 24));
    uint64_t zxid = n->zxid_base | ++n->zxid_counter;
    int64_t time_ms = (int64_t)sim_node_clock(w, n);
    pk_buf txn;
    pk_buf_init(&txn);
    int rc;
    if (m->op == ZK_OP_CREATE_SESSION) {
        uint8_t passwd[16] = {0};
        rc = zk_prep_create_session(n->prep, n->zk, w->next_session++, 2000000000, passwd, zxid, time_ms, &txn);
    } else if (m->op == ZK_OP_CLOSE_SESSION) {
        rc = zk_prep_close_session(n->prep, n->zk, m->session, zxid, time_ms, &txn);
    } else {
        zk_auth auth = {0};
        zk_request req = {m->session, m->op, pk_buf_slice(&m->bytes), &auth};
        rc = zk_prep_request(n->prep, n->zk, &req, zxid, time_ms, &txn);
    }
    if (rc != ZK_ERR_OK) {
        n->zxid_counter--;
        if (b->count == 0 && !b->proposed) {
            pk_buf_deinit(&b->value);
            n->batch_count--;
            n->chain_seq--;
        }
        pk_buf_deinit(&txn);
        return rc;
    }
    zk_batch_append(&b->value, pk_buf_slice(&txn));
    pk_buf_deinit(&txn);
    b->client[b->count] = m->client;
    b->req_id[b->count] = m->req_id;
    b->count++;
    return ZK_ERR_OK;
}

/* Answers a getData from the node's applied state (reply zxid = its last applied zxid). */
static void node_read(sim_world *w, sim_node *n, const sim_msg *m) {
    PK_ASSERT(m->op == ZK_OP_GET_DATA);
    PK_ASSERT(n->zk != NULL);
    zk_auth auth = {0};
    zk_read_result rr;
    pk_buf out;
    pk_buf_init(&out);
    zk_read(n->zk, &auth, m->session, m->op, pk_buf_slice(&m->bytes), &out, &rr);
    sim_reply(w, n->id, m->client, m->req_id, rr.err, zk_state_last_zxid(n->zk), 0, pk_buf_slice(&out), 0);
    pk_buf_deinit(&out);
}

/* Handles a client request at a node. */
void sim_node_on_request(sim_world *w, sim_node *n, const sim_msg *m) {
    PK_ASSERT(m->kind == SIM_MSG_REQ);
    PK_ASSERT(n->up);
#ifdef SIM_MUTANT_SYNC_LOCAL
    /* Any server answers sync and reads from its local state without a quorum round (ZooKeeper's follower
     * reads with ZOOKEEPER-1675's sync): stale after a leader change or while lagging. */
    if ((m->op == ZK_OP_SYNC || m->op == ZK_OP_GET_DATA) && m->zxid <= zk_state_last_zxid(n->zk)) {
        zk_auth auth = {0};
        zk_read_result rr = {0};
        pk_buf out;
        pk_buf_init(&out);
        if (m->op == ZK_OP_GET_DATA) zk_read(n->zk, &auth, m->session, m->op, pk_buf_slice(&m->bytes), &out, &rr);
        sim_reply(w, n->id, m->client, m->req_id, rr.err, zk_state_last_zxid(n->zk), 0, pk_buf_slice(&out), 0);
        pk_buf_deinit(&out);
        return;
    }
#endif
    if (m->op == ZK_OP_GET_DATA && !m->lin_read) { /* a plain read: any server, from its applied state */
#ifdef SIM_MUTANT_IGNORE_LAST_ZXID
        bool behind = false; /* serves a session from a state older than what it saw */
#else
        bool behind = m->zxid > zk_state_last_zxid(n->zk);
#endif
        if (behind) { /* behind what the session saw: refuse, client goes elsewhere */
            sim_reply(w, n->id, m->client, m->req_id, SIM_REP_REFUSED, 0, 0, (pk_slice){0}, 0);
            return;
        }
        node_read(w, n, m);
        return;
    }
    if (n->role != PX_LEADER) {
        sim_reply(w, n->id, m->client, m->req_id, SIM_REP_NOT_LEADER, 0, 0, (pk_slice){0},
                  n->leader_id == n->id ? 0 : n->leader_id);
        return;
    }
    if (!n->leader_ready || m->zxid > zk_state_last_zxid(n->zk)) {
        sim_reply(w, n->id, m->client, m->req_id, SIM_REP_RETRY, 0, 0, (pk_slice){0}, 0);
        return;
    }
    if (m->op == ZK_OP_GET_DATA) {
        node_read(w, n, m);
        return;
    }
    if (m->op == ZK_OP_SYNC) {
        sim_batch *b = node_batch_new(n);
        if (!b) { sim_reply(w, n->id, m->client, m->req_id, SIM_REP_RETRY, 0, 0, (pk_slice){0}, 0); return; }
        b->sync = true;
        b->count = 1;
        b->client[0] = m->client;
        b->req_id[0] = m->req_id;
        return;
    }
    int32_t rc = node_prep_write(w, n, m);
    if (rc != ZK_ERR_OK) sim_reply(w, n->id, m->client, m->req_id, rc, 0, 0, (pk_slice){0}, 0);
}

/* Replays one WAL record into the accepted list (a later record for a slot supersedes). */
static int node_replay_cb(void *ctx, const wal_record *rec) {
    sim_node *n = ctx;
    pk_buf *acc = &n->install_bytes; /* scratch: px_entry array during recovery */
    size_t count = acc->len / sizeof(px_entry);
    px_entry *arr = (px_entry *)acc->data;
    uint8_t *copy = pk_malloc(rec->value.len + 1);
    if (rec->value.len) memcpy(copy, rec->value.ptr, rec->value.len);
    px_entry e = {rec->slot, {rec->round, rec->node}, {copy, rec->value.len}};
    for (size_t i = 0; i < count; i++) {
        if (arr[i].slot == rec->slot) { free((void *)arr[i].value.ptr); arr[i] = e; return 0; }
    }
    pk_buf_append(acc, &e, sizeof e);
    return 0;
}

/* Orders px entries by slot. */
static int node_entry_cmp(const void *a, const void *b) {
    const px_entry *x = a, *y = b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Builds the px config of node n. */
static void node_config(sim_world *w, sim_node *n, px_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->self_id = n->id;
    for (uint32_t i = 0; i < w->n; i++) cfg->node_ids[i] = i + 1;
    cfg->node_count = w->n;
    cfg->heartbeat_interval_ms = w->heartbeat_ms;
    cfg->election_timeout_ms = w->election_ms;
    cfg->window_slots = w->window_slots;
    cfg->seed = w->opt.seed * 31 + n->id * 7 + n->crashes;
}

/* Handles corruption found at recovery: expected after injected bit rot (the node's disk is then wiped and it
 * rejoins with disk_lost, as an operator would), a failure of the run otherwise. Returns false (stay down). */
static bool node_corrupt(sim_world *w, sim_node *n, const char *what, const char *err) {
    PK_ASSERT(!n->up);
    if (n->zk) { zk_state_free(n->zk); n->zk = NULL; }
    if (!n->rotted) {
        sim_fail(w, "n%u recovery: %s corrupt without injected bit rot: %s", n->id, what, err);
        return false;
    }
    sim_trace(w, "n%u recovery: %s corruption detected (injected bit rot): %s", n->id, what, err);
    n->wipe_needed = true;
    return false;
}

/* Recovers durable state from disk into px_durable, zk and the WAL; false (node stays down) on error. */
static bool node_recover(sim_world *w, sim_node *n, px_durable *dur) {
    store_disk *d = sim_node_disk(n);
    char err[256] = {0};
    store_meta meta = {0};
    int rc = d->ops->mkdir(d, SIM_DIR);
    if (w->opt.trace && rc == PK_OK) {
        char **names = NULL;
        size_t count = 0;
        char line[512] = {0};
        size_t k = 0;
        if (d->ops->list(d, SIM_DIR, &names, &count) == PK_OK) {
            for (size_t i = 0; i < count; i++) {
                if (k < sizeof line - 80) k += (size_t)snprintf(line + k, sizeof line - k, " %s", names[i]);
                free(names[i]);
            }
            free(names);
        }
        sim_trace(w, "n%u recovery: %zu files:%s", n->id, count, line);
    }
    if (rc == PK_OK) rc = store_meta_read(d, SIM_DIR, &meta);
    if (rc == PK_ENOENT) rc = PK_OK;
    if (rc == PK_ECORRUPT) return node_corrupt(w, n, "meta", "");
    if (rc) { sim_trace(w, "n%u recovery: meta: %s", n->id, pk_strerror(rc)); return false; }
    dur->promised = (px_ballot){meta.promised_round, meta.promised_node};
    pk_buf *payload = &n->snap; /* kept alive: px serves it to lagging peers after SNAPSHOT_TAKEN */
    pk_buf_reset(payload);
    uint64_t snap_slot = 0;
    rc = store_snap_load_latest(d, SIM_DIR, payload, &snap_slot, err, sizeof err);
    if (rc == PK_OK) {
        rc = node_snap_decode(n, pk_buf_slice(payload), &n->zk, err, sizeof err);
        if (rc) return node_corrupt(w, n, "snapshot deserialize", err);
    } else if (rc == PK_ENOENT) {
        n->zk = zk_state_new();
        rc = PK_OK;
    } else if (rc == PK_ECORRUPT) {
        return node_corrupt(w, n, "snapshot (none verifies)", err);
    }
    if (rc) { sim_trace(w, "n%u recovery: snapshot: %s %s", n->id, pk_strerror(rc), err); return false; }
    wal_options wo = {SIM_SEGMENT_BYTES, 1 << 20};
    rc = wal_open(d, SIM_DIR, &wo, &n->wal);
    if (rc == PK_OK) rc = wal_replay(n->wal, node_replay_cb, n, err, sizeof err);
    if (rc == PK_ECORRUPT) {
        wal_close(n->wal);
        n->wal = NULL;
        return node_corrupt(w, n, "WAL", err);
    }
    if (rc) {
        sim_trace(w, "n%u recovery: WAL: %s: %s (stays down)", n->id, pk_strerror(rc), err);
        return false;
    }
    dur->snapshot_slot = snap_slot;
    n->applied = n->chosen_to = n->snap_slot = n->applied_told = snap_slot;
    return true;
}

/* Starts (or restarts) a node: recovers from its disk and steps PX_EV_START. */
void sim_node_start(sim_world *w, sim_node *n) {
    node_start_once(w, n);
    if (n->up || !n->wipe_needed || w->failed) return;
    n->wipe_needed = false;
    sim_node_wipe(w, n);
    node_start_once(w, n);
}

/* Flips one bit of the node's meta or a snapshot file (checksummed as a whole; the WAL's last record would read
 * as a torn tail, so it is not a target). Returns true when a bit was flipped. */
bool sim_node_rot(sim_world *w, sim_node *n) {
    PK_ASSERT(!n->up);
    if (!n->dmem) return false;
    store_disk *d = sim_node_disk(n);
    char **names = NULL;
    size_t count = 0;
    if (d->ops->list(d, SIM_DIR, &names, &count) != PK_OK) return false;
    char path[256] = {0};
    size_t pick = count ? (size_t)pk_prng_below(&w->prng, count) : 0;
    for (size_t i = 0; i < count; i++) {
        bool target = !strcmp(names[i], "meta") || (!strncmp(names[i], "snap-", 5) && !strstr(names[i], ".tmp"));
        if (i >= pick && target && !path[0]) snprintf(path, sizeof path, "%s/%s", SIM_DIR, names[i]);
        free(names[i]);
    }
    free(names);
    if (!path[0]) return false;
    pk_buf data;
    pk_buf_init(&data);
    bool ok = store_disk_mem_read_file(n->dmem, path, &data) == PK_OK && data.len > 0 &&
              store_disk_mem_corrupt(n->dmem, path, pk_prng_below(&w->prng, data.len),
                                     (uint8_t)(1u << pk_prng_below(&w->prng, 8))) == PK_OK;
    pk_buf_deinit(&data);
    if (ok) {
        n->rotted = true;
        sim_trace(w, "n%u BIT ROT in %s", n->id, path);
    }
    return ok;
}

/* Starts a node once: recovers from disk and steps PX_EV_START (stays down when recovery fails). */
static void node_start_once(sim_world *w, sim_node *n) {
    PK_ASSERT(!n->up);
    PK_ASSERT(n->px == NULL && n->zk == NULL);
    px_durable dur;
    memset(&dur, 0, sizeof dur);
    pk_buf_reset(&n->install_bytes);
    bool ok = node_recover(w, n, &dur);
    size_t count = n->install_bytes.len / sizeof(px_entry);
    px_entry *arr = (px_entry *)n->install_bytes.data;
    if (count) qsort(arr, count, sizeof *arr, node_entry_cmp);
    size_t keep = 0;
    for (size_t i = 0; i < count; i++) {
        if (arr[i].slot > dur.snapshot_slot) arr[keep++] = arr[i];
        else free((void *)arr[i].value.ptr);
    }
    dur.accepted = arr;
    dur.accepted_count = keep;
    if (ok) node_check_recovered(w, n, &dur, arr, keep);
    if (ok) {
        px_config cfg;
        node_config(w, n, &cfg);
        n->px = px_replica_new(&cfg);
        n->prep = zk_prep_new(&(zk_prep_options){false, ZK_MAX_BUFFER_DEFAULT});
        n->up = true;
        n->role = PX_FOLLOWER;
        n->leader_id = 0;
        n->ballot = (px_ballot){0, 0};
        sim_trace(w, "n%u starts: promised %llu.%u, %zu accepted, snapshot %llu%s", n->id,
                  (unsigned long long)dur.promised.round, dur.promised.node, keep,
                  (unsigned long long)dur.snapshot_slot, n->disk_lost ? ", DISK LOST (not voting)" : "");
        n->rotted = false; /* what was not detected now is latent (old files) */
        dur.disk_lost = n->disk_lost;
#ifdef SIM_MUTANT_FORGET_DISK_LOST
        dur.disk_lost = false; /* a wiped node votes at once, with its promises and accepts forgotten */
#endif
        px_event ev = {.kind = PX_EV_START, .u.start = &dur};
        node_step(w, n, &ev);
        if (n->up && !n->dead_pending && dur.snapshot_slot > 0) {
            px_event st = {.kind = PX_EV_SNAPSHOT_TAKEN,
                           .u.snapshot_taken = {dur.snapshot_slot, pk_buf_slice(&n->snap)}};
            node_step(w, n, &st);
        }
    } else {
        if (n->wal) { wal_close(n->wal); n->wal = NULL; }
        if (n->zk) { zk_state_free(n->zk); n->zk = NULL; }
    }
    for (size_t i = 0; i < keep; i++) free((void *)arr[i].value.ptr);
    pk_buf_reset(&n->install_bytes);
}

/* Crashes a node: in-flight work lost, disk loses unsynced state; clients' outstanding ops become unknown. */
void sim_node_crash(sim_world *w, sim_node *n) {
    PK_ASSERT(n->up);
    sim_trace(w, "n%u CRASH (role %d, applied %llu, %zu jobs lost)", n->id, n->role,
              (unsigned long long)n->applied, n->job_count);
    n->up = false;
    n->dead_pending = false;
    n->crashes++;
    for (size_t i = 0; i < n->batch_count; i++) {
        pk_buf_deinit(&n->batches[i].value);
        memset(&n->batches[i], 0, sizeof n->batches[i]);
    }
    n->batch_count = 0;
    for (size_t k = 0; k < n->job_count; k++) {
        sim_job *j = &n->jobs[(n->job_head + k) % SIM_MAX_JOBS];
        for (uint32_t i = 0; i < j->send_count; i++) pk_buf_deinit(&j->send_bytes[i]);
        free(j->send_to); free(j->send_bytes); free(j->written); pk_buf_deinit(&j->wal_bytes);
        memset(j, 0, sizeof *j);
    }
    n->job_head = n->job_count = 0;
    px_replica_free(n->px); n->px = NULL;
    zk_state_free(n->zk); n->zk = NULL;
    zk_prep_free(n->prep); n->prep = NULL;
    wal_close(n->wal); n->wal = NULL;
    sim_node_disk_disarm(n);
    if (n->dmem) store_disk_mem_crash_random(n->dmem, &w->prng);
    else sim_disk_crash(&n->disk, &w->prng);
    n->disk_armed = false;
    n->role = PX_FOLLOWER;
    n->leader_ready = false;
    n->install_pending = false;
    n->ap_round = n->ap_seq = 0;
    n->ap_node = n->ap_epoch = 0;
    n->paused_until = 0;
    for (uint32_t i = 0; i < w->opt.clients; i++) sim_client_node_down(w, &w->clients[i], n->id);
}

/* Replaces a down node's disk with an empty one; it restarts with px_durable.disk_lost. */
void sim_node_wipe(sim_world *w, sim_node *n) {
    PK_ASSERT(!n->up);
    if (n->dmem) {
        store_disk_mem_free(n->dmem);
        n->dmem = store_disk_mem_new();
    } else {
        sim_disk_deinit(&n->disk);
        sim_disk_init(&n->disk);
    }
    n->disk_lost = true;
    n->disk_armed = false;
    n->rotted = false;
    n->durable_promise = (px_ballot){0, 0};
    if (n->durable_acc) memset(n->durable_acc, 0, n->durable_acc_cap * sizeof *n->durable_acc);
    sim_trace(w, "n%u DISK WIPED (restarts empty with disk_lost)", n->id);
}

/* Initializes node `id` with an empty disk (down until started). */
void sim_node_init(sim_world *w, sim_node *n, uint32_t id) {
    PK_ASSERT(id >= 1 && id <= SIM_MAX_NODES);
    memset(n, 0, sizeof *n);
    n->id = id;
    sim_disk_init(&n->disk);
    if (!w->opt.own_disk) n->dmem = store_disk_mem_new();
    pk_buf_init(&n->snap);
    pk_buf_init(&n->install_bytes);
    pk_buf_init(&n->reply_tmp);
    n->events = zk_events_new();
    if (w->opt.faults) {
        uint32_t range = pk_prng_chance(&w->prng, 1, 4) ? 300000 : 50000; /* some runs: very bad clocks */
        n->drift_ppm = (int32_t)pk_prng_below(&w->prng, 2 * range + 1) - (int32_t)range;
        n->clock_offset_ms = 1000 + (int64_t)pk_prng_below(&w->prng, 5000);
    } else {
        n->clock_offset_ms = 1000;
    }
}

/* Frees a node. */
void sim_node_deinit(sim_node *n) {
    if (n->px) px_replica_free(n->px);
    if (n->zk) zk_state_free(n->zk);
    if (n->prep) zk_prep_free(n->prep);
    if (n->wal) wal_close(n->wal);
    for (size_t k = 0; k < n->job_count; k++) {
        sim_job *j = &n->jobs[(n->job_head + k) % SIM_MAX_JOBS];
        for (uint32_t i = 0; i < j->send_count; i++) pk_buf_deinit(&j->send_bytes[i]);
        free(j->send_to); free(j->send_bytes); free(j->written); pk_buf_deinit(&j->wal_bytes);
    }
    for (size_t i = 0; i < n->batch_count; i++) pk_buf_deinit(&n->batches[i].value);
    zk_events_free(n->events);
    free(n->durable_acc);
    pk_buf_deinit(&n->snap);
    pk_buf_deinit(&n->install_bytes);
    pk_buf_deinit(&n->reply_tmp);
    sim_disk_deinit(&n->disk);
    if (n->dmem) store_disk_mem_free(n->dmem);
    memset(n, 0, sizeof *n);
}
