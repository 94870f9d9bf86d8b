/* sim: the world of one simulation run: time, network, faults, invariant checks and the run loop. */
#include <stdarg.h>
#include <stdlib.h>

#include "sim_int.h"

/* Records a failure (the first one wins) and stops the run. */
void sim_fail(sim_world *w, const char *fmt, ...) {
    PK_ASSERT(w != NULL && fmt != NULL);
    if (w->failed) return;
    w->failed = true;
    w->res->ok = false;
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(w->res->failure, sizeof w->res->failure, "t=%llu: ", (unsigned long long)w->now);
    vsnprintf(w->res->failure + k, sizeof w->res->failure - (size_t)k, fmt, ap);
    va_end(ap);
    if (w->opt.trace) printf("%8llu FAIL %s\n", (unsigned long long)w->now, w->res->failure);
}

/* Prints a trace line when tracing. */
void sim_trace(sim_world *w, const char *fmt, ...) {
    if (!w->opt.trace) return;
    va_list ap;
    va_start(ap, fmt);
    printf("%8llu ", (unsigned long long)w->now);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

/* Notes a fault injected. */
void sim_fault(sim_world *w) {
    w->res->faults++;
}

/* Allocates a zeroed message. */
sim_msg *sim_msg_new(uint8_t kind) {
    PK_ASSERT(kind >= SIM_MSG_PEER && kind <= SIM_MSG_REPLY);
    sim_msg *m = pk_calloc(1, sizeof *m);
    m->kind = kind;
    pk_buf_init(&m->bytes);
    return m;
}

/* Frees a message. */
static void msg_free(sim_msg *m) {
    pk_buf_deinit(&m->bytes);
    free(m);
}

/* True when message a is due before b. */
static bool msg_before(const sim_msg *a, const sim_msg *b) {
    return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

/* Queues a message for delivery at w->now + delay. */
void sim_msg_push(sim_world *w, sim_msg *m, uint64_t delay_ms) {
    PK_ASSERT(m != NULL);
    if (w->heap_count >= SIM_MAX_MSGS) { msg_free(m); return; } /* bounded queue: overflow drops */
    m->at = w->now + delay_ms;
    m->seq = ++w->msg_seq;
    size_t i = w->heap_count++;
    w->heap[i] = m;
    for (uint32_t guard = 0; i > 0 && guard < 64; guard++) {
        size_t p = (i - 1) / 2;
        if (!msg_before(w->heap[i], w->heap[p])) break;
        sim_msg *t = w->heap[i]; w->heap[i] = w->heap[p]; w->heap[p] = t;
        i = p;
    }
}

/* Pops the earliest message if it is due now; NULL otherwise. */
static sim_msg *msg_pop_due(sim_world *w) {
    if (w->heap_count == 0 || w->heap[0]->at > w->now) return NULL;
    sim_msg *top = w->heap[0];
    w->heap[0] = w->heap[--w->heap_count];
    size_t i = 0;
    for (uint32_t guard = 0; guard < 64; guard++) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_count && msg_before(w->heap[l], w->heap[m])) m = l;
        if (r < w->heap_count && msg_before(w->heap[r], w->heap[m])) m = r;
        if (m == i) break;
        sim_msg *t = w->heap[i]; w->heap[i] = w->heap[m]; w->heap[m] = t;
        i = m;
    }
    return top;
}

/* Returns a random network delay from `from` to `to`; a few messages take a long time (a retransmission), and
 * every message on a congested link does while the congestion lasts. */
static uint64_t net_delay(sim_world *w, uint32_t from, uint32_t to) {
    uint64_t d = w->delay_min_ms + pk_prng_below(&w->prng, w->delay_max_ms - w->delay_min_ms + 1);
    if (w->slow_pm && pk_prng_below(&w->prng, 1000) < w->slow_pm) d += 50 + pk_prng_below(&w->prng, 600);
    if (w->now < w->congested_until && from == w->congested_from && to == w->congested_to)
        d += w->congested_extra_ms + pk_prng_below(&w->prng, 50);
    return d;
}

/* Sends a px message between nodes through the faulty network (copying bytes). */
void sim_net_send(sim_world *w, uint32_t from, uint32_t to, pk_slice bytes) {
    PK_ASSERT(from >= 1 && from <= w->n);
    if (to < 1 || to > w->n || to == from) { sim_fail(w, "n%u sends to bad node %u", from, to); return; }
    if (w->blocked[from][to]) return;
    if (w->drop_pm && pk_prng_below(&w->prng, 1000) < w->drop_pm) return;
    uint32_t copies = (w->dup_pm && pk_prng_below(&w->prng, 1000) < w->dup_pm) ? 2 : 1;
    for (uint32_t i = 0; i < copies; i++) {
        sim_msg *m = sim_msg_new(SIM_MSG_PEER);
        m->from = from;
        m->to = to;
        pk_buf_append(&m->bytes, bytes.ptr, bytes.len);
        sim_msg_push(w, m, net_delay(w, from, to));
    }
}

void sim_reply(sim_world *w, uint32_t from, uint32_t client, uint64_t req_id, int32_t err, uint64_t zxid,
               uint64_t session, pk_slice body, uint32_t hint) {
    PK_ASSERT(client < w->opt.clients);
    sim_msg *m = sim_msg_new(SIM_MSG_REPLY);
    m->from = from;
    m->client = client;
    m->req_id = req_id;
    m->err = err;
    m->zxid = zxid;
    m->session = session;
    m->hint = hint;
    if (body.len) pk_buf_append(&m->bytes, body.ptr, body.len);
    if (!w->healed && w->client_drop_pm && pk_prng_below(&w->prng, 1000) < w->client_drop_pm) {
        pk_buf_deinit(&m->bytes); /* the reply is lost: the client will time out (unknown outcome) */
        free(m);
        return;
    }
    sim_msg_push(w, m, 1 + pk_prng_below(&w->prng, 2));
}

/* Returns the record of `slot`, growing the table. */
static sim_slot_rec *slot_rec(sim_world *w, uint64_t slot) {
    PK_ASSERT(slot < (1u << 24));
    if (slot >= w->slot_cap) {
        size_t cap = w->slot_cap ? w->slot_cap : 1024;
        while (cap <= slot) cap *= 2;
        w->slots = pk_realloc(w->slots, cap * sizeof *w->slots);
        memset(w->slots + w->slot_cap, 0, (cap - w->slot_cap) * sizeof *w->slots);
        w->slot_cap = cap;
    }
    return &w->slots[slot];
}

/* Records that `node` applied `slot` with value hash vh; checks one value per slot. */
void sim_check_slot_value(sim_world *w, uint32_t node, uint64_t slot, uint64_t vh) {
    sim_slot_rec *r = slot_rec(w, slot);
    if (slot > w->res->slots) w->res->slots = slot;
    if (!r->set) { r->set = true; r->value_hash = vh; r->node = node; return; }
    if (r->value_hash != vh)
        sim_fail(w, "two values chosen for slot %llu: n%u applied %016llx, n%u applied %016llx",
                 (unsigned long long)slot, r->node, (unsigned long long)r->value_hash, node, (unsigned long long)vh);
    if (slot > w->res->slots) w->res->slots = slot;
}

/* Records the digest after `slot` at `node`; checks equal digests at equal slots. */
void sim_check_slot_digest(sim_world *w, uint32_t node, uint64_t slot, uint64_t digest) {
    sim_slot_rec *r = slot_rec(w, slot);
    if (!r->has_digest) { r->has_digest = true; r->digest = digest; return; }
    if (r->digest != digest)
        sim_fail(w, "state digests differ at slot %llu: %016llx (first) vs %016llx at n%u",
                 (unsigned long long)slot, (unsigned long long)r->digest, (unsigned long long)digest, node);
}

/* Checks that `node` claiming leadership of `ballot` is the only claimant. */
void sim_check_leader(sim_world *w, uint32_t node, px_ballot ballot) {
    if (ballot.node != node) sim_fail(w, "n%u leads ballot %llu.%u of another node", node,
                                      (unsigned long long)ballot.round, ballot.node);
    for (size_t i = 0; i < w->claim_count; i++) {
        if (px_ballot_cmp(w->claims[i].ballot, ballot) != 0) continue;
        if (w->claims[i].node != node)
            sim_fail(w, "two leaders for ballot %llu.%u: n%u and n%u", (unsigned long long)ballot.round, ballot.node,
                     w->claims[i].node, node);
        return;
    }
    if (w->claim_count < PK_ARRAY_LEN(w->claims)) w->claims[w->claim_count++] = (sim_claim){ballot, node};
}

/* Delivers one due message. */
static void deliver(sim_world *w, sim_msg *m) {
    if (m->kind == SIM_MSG_REPLY) {
        sim_client_on_reply(w, &w->clients[m->client], m);
        msg_free(m);
        return;
    }
    sim_node *n = &w->nodes[m->to - 1];
    if (n->up && w->now < n->paused_until) { /* a paused process reads its socket later */
        uint64_t delay = n->paused_until - w->now;
        m->seq = 0;
        sim_msg_push(w, m, delay);
        return;
    }
    if (!n->up) {
        if (m->kind == SIM_MSG_REQ)
            sim_reply(w, m->to, m->client, m->req_id, SIM_REP_REFUSED, 0, 0, (pk_slice){0}, 0);
        msg_free(m);
        return;
    }
    if (m->kind == SIM_MSG_PEER) sim_node_on_peer(w, n, m);
    else sim_node_on_request(w, n, m);
    msg_free(m);
}

/* Cuts the network into two random sides (or isolates one node) until `until`. */
static void fault_partition(sim_world *w, uint64_t until) {
    bool side[SIM_MAX_NODES + 1] = {0};
    if (pk_prng_chance(&w->prng, 1, 2)) side[1 + pk_prng_below(&w->prng, w->n)] = true;
    else for (uint32_t i = 1; i <= w->n; i++) side[i] = pk_prng_chance(&w->prng, 1, 2);
    bool one_way = pk_prng_chance(&w->prng, 1, 5);
    /* a bridge node that still talks to both sides (a non-transitive partition) */
    uint32_t bridge = pk_prng_chance(&w->prng, 1, 4) ? 1 + (uint32_t)pk_prng_below(&w->prng, w->n) : 0;
    for (uint32_t a = 1; a <= w->n; a++)
        for (uint32_t b = 1; b <= w->n; b++)
            w->blocked[a][b] = side[a] != side[b] && (!one_way || side[a]) && a != bridge && b != bridge;
    w->partition_until = until;
    sim_fault(w);
    if (w->opt.trace) {
        char buf[64] = {0};
        size_t k = 0;
        for (uint32_t i = 1; i <= w->n; i++) buf[k++] = side[i] ? 'A' : 'b';
        sim_trace(w, "PARTITION %s%s bridge n%u until %llu", buf, one_way ? " (one-way, A cannot send)" : "",
                  bridge, (unsigned long long)until);
    }
}

/* Heals every partition. */
static void heal_partition(sim_world *w) {
    memset(w->blocked, 0, sizeof w->blocked);
    w->partition_until = 0;
    sim_trace(w, "partition healed");
}

/* True when some node's disk was wiped and it has not caught up yet (one lost disk at a time: f >= 1). */
static bool any_disk_lost(const sim_world *w) {
    for (uint32_t i = 0; i < w->n; i++)
        if (w->nodes[i].disk_lost || w->nodes[i].rotted) return true; /* rotted: may be wiped at restart */
    return false;
}

/* Injects this ms's random faults (chaos phase only). */
static void faults_tick(sim_world *w) {
    pk_prng *p = &w->prng;
    for (uint32_t i = 0; i < w->n; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->up) {
            if (w->now >= n->restart_at) sim_node_start(w, n);
            continue;
        }
        if (pk_prng_below(p, 1000000) < w->crash_per_m) {
            sim_fault(w);
            sim_node_crash(w, n);
            n->restart_at = w->now + 20 + pk_prng_below(p, 400);
            if (w->wipe_pm && pk_prng_below(p, 1000) < w->wipe_pm && !any_disk_lost(w)) sim_node_wipe(w, n);
            else if (w->rot_pm && pk_prng_below(p, 1000) < w->rot_pm && !any_disk_lost(w)) sim_node_rot(w, n);
            continue;
        }
        if (w->now >= n->paused_until && pk_prng_below(p, 1000000) < w->pause_per_m) {
            sim_fault(w);
            n->paused_until = w->now + 10 + pk_prng_below(p, 300);
            sim_trace(w, "n%u PAUSE until %llu", n->id, (unsigned long long)n->paused_until);
        }
        if (!n->disk_armed && pk_prng_below(p, 1000000) < w->diskfault_per_m) {
            sim_fault(w);
            int err = pk_prng_chance(p, 1, 2) ? PK_EIO : PK_ENOSPC;
            sim_node_disk_arm(n, pk_prng_below(p, 30), err);
            sim_trace(w, "n%u disk fault armed (%s)", n->id, pk_strerror(err));
        }
    }
    if (w->now >= w->congested_until && pk_prng_below(p, 1000000) < w->congest_per_m) {
        sim_fault(w);
        w->congested_from = 1 + (uint32_t)pk_prng_below(p, w->n);
        w->congested_to = 1 + (uint32_t)pk_prng_below(p, w->n);
        w->congested_extra_ms = 100 + pk_prng_below(p, 500);
        w->congested_until = w->now + 100 + pk_prng_below(p, 800);
        sim_trace(w, "CONGESTION n%u->n%u +%llu ms until %llu", w->congested_from, w->congested_to,
                  (unsigned long long)w->congested_extra_ms, (unsigned long long)w->congested_until);
    }
    if (w->partition_until && w->now >= w->partition_until) heal_partition(w);
    else if (!w->partition_until && pk_prng_below(p, 1000000) < w->part_per_m)
        fault_partition(w, w->now + 50 + pk_prng_below(p, 800));
}

/* Ends the chaos phase: heals partitions, disk faults and pauses, restarts crashed nodes, calms the net. */
static void heal_all(sim_world *w) {
    heal_partition(w);
    w->drop_pm = w->dup_pm = 0;
    for (uint32_t i = 0; i < w->n; i++) {
        sim_node *n = &w->nodes[i];
        sim_node_disk_disarm(n);
        n->paused_until = 0;
        if (!n->up) sim_node_start(w, n);
    }
    w->healed = true;
    w->heal_at = w->now;
    w->heal_ev = w->ev_seq;
    w->slow_pm = 0;
    w->congested_until = 0;
    sim_trace(w, "HEAL: every node up, network whole; liveness bound %llu ms",
              (unsigned long long)w->opt.liveness_ms);
}

/* True when every node is up and has applied the same slot with the same digest. */
static bool converged(sim_world *w) {
    uint64_t a = w->nodes[0].applied;
    for (uint32_t i = 0; i < w->n; i++) {
        const sim_node *n = &w->nodes[i];
        if (!n->up || n->applied != a || n->applied < w->max_acked_slot) return false;
        if (zk_state_digest(n->zk) != zk_state_digest(w->nodes[0].zk)) return false;
    }
    return true;
}

/* Randomizes this run's fault intensities. */
static void world_params(sim_world *w) {
    pk_prng *p = &w->prng;
    w->delay_min_ms = 1;
    w->delay_max_ms = 2 + (uint32_t)pk_prng_below(p, 15);
    w->heartbeat_ms = 10 + (uint32_t)pk_prng_below(p, 21);
    w->election_ms = w->heartbeat_ms * (3 + (uint32_t)pk_prng_below(p, 6));
    w->window_slots = 1 + (uint32_t)pk_prng_below(p, 32);
    if (!w->opt.faults) return;
    w->client_drop_pm = pk_prng_chance(p, 1, 3) ? (uint32_t)pk_prng_below(p, 20) : 0;
    w->drop_pm = (uint32_t)pk_prng_below(p, 150);
    w->dup_pm = (uint32_t)pk_prng_below(p, 40);
    w->slow_pm = (uint32_t)pk_prng_below(p, 30);
    w->leader_crash_pm = (uint32_t)pk_prng_below(p, 12);
    w->wipe_pm = pk_prng_chance(p, 1, 3) ? (uint32_t)pk_prng_below(p, 300) : 0;
    w->rot_pm = pk_prng_chance(p, 1, 3) ? (uint32_t)pk_prng_below(p, 400) : 0;
    w->congest_per_m = (uint32_t)pk_prng_below(p, 1500);
    w->crash_per_m = 100 + (uint32_t)pk_prng_below(p, 900);
    w->pause_per_m = (uint32_t)pk_prng_below(p, 500);
    w->part_per_m = 200 + (uint32_t)pk_prng_below(p, 1500);
    w->diskfault_per_m = (uint32_t)pk_prng_below(p, 300);
    if (w->n == 1) w->wipe_pm = w->rot_pm = 0; /* f = 0: a lost or rotted disk loses acknowledged writes by definition */
}

/* Prints the failing key's sub-history by invocation: '+' = in the longest linearization found (with its
 * position), '!' = the first op the search could not place. */
static void history_dump(sim_world *w, const sim_lin_report *rep) {
    size_t n = w->history_count;
    uint32_t *pos = pk_calloc(n + 1, sizeof *pos);
    for (size_t i = 0; i < rep->max_linearized; i++) pos[rep->best[i]] = (uint32_t)i + 1;
    uint32_t *order = pk_calloc(n + 1, sizeof *order);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (w->history[i].kind == SIM_LIN_CLOSE || w->history[i].key == rep->key) order[m++] = (uint32_t)i;
    for (size_t i = 1; i < m; i++) /* insertion sort by call time (m is small) */
        for (size_t j = i; j > 0 && w->history[order[j - 1]].call_t > w->history[order[j]].call_t; j--) {
            uint32_t t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    printf("  sub-history of /k%d by invocation ('+N' = N-th in the longest linearization; '!' = first op left out):\n",
           rep->key);
    bool marked = false;
    for (size_t i = 0; i < m; i++) {
        char buf[256];
        sim_lin_op_format(&w->history[order[i]], buf, sizeof buf);
        bool first_out = !pos[order[i]] && !marked;
        marked |= first_out;
        if (pos[order[i]]) printf("   +%-4u %s\n", pos[order[i]], buf);
        else printf("   %s     %s\n", first_out ? "!" : " ", buf);
    }
    free(pos);
    free(order);
}

/* Runs the linearizability checker over the history and reports a violation with its sub-history. */
static void check_history(sim_world *w) {
    sim_lin_report rep = {.best = pk_calloc(w->history_count + 1, sizeof(uint32_t))};
    sim_lin_result r = sim_lin_check(w->history, w->history_count, 5000000, &rep);
    w->res->history_ops = w->history_count;
    w->res->lin_steps = rep.steps;
    if (r == SIM_LIN_OK) { free(rep.best); return; }
    sim_fail(w, "history %s on /k%d (%zu ops, longest linearizable prefix %zu)",
             r == SIM_LIN_VIOLATION ? "NOT LINEARIZABLE" : "check inconclusive (budget)", rep.key, rep.key_ops,
             rep.max_linearized);
    if (w->opt.trace) history_dump(w, &rep);
    free(rep.best);
}

/* Runs one ms of the world. */
static void world_ms(sim_world *w) {
    if (w->opt.faults && !w->healed) faults_tick(w);
    for (uint32_t guard = 0; guard < SIM_MAX_MSGS && !w->failed; guard++) {
        sim_msg *m = msg_pop_due(w);
        if (!m) break;
        deliver(w, m);
    }
    uint32_t start = (uint32_t)pk_prng_below(&w->prng, w->n);
    for (uint32_t k = 0; k < w->n && !w->failed; k++) {
        sim_node *n = &w->nodes[(start + k) % w->n];
        if (n->up) sim_node_tick(w, n);
    }
    for (uint32_t i = 0; i < w->opt.clients && !w->failed; i++) sim_client_tick(w, &w->clients[i]);
}

/* Frees everything the world holds. */
static void world_free(sim_world *w) {
    for (uint32_t i = 0; i < w->n; i++) sim_node_deinit(&w->nodes[i]);
    for (uint32_t i = 0; i < w->opt.clients; i++) sim_client_deinit(&w->clients[i]);
    for (size_t i = 0; i < w->heap_count; i++) msg_free(w->heap[i]);
    free(w->heap);
    free(w->slots);
    free(w->history);
}

/* Fills defaults for a run of `nodes` replicas with `seed`. */
void sim_options_default(sim_options *opt, uint64_t seed, uint32_t nodes) {
    memset(opt, 0, sizeof *opt);
    opt->seed = seed;
    opt->nodes = nodes;
    opt->clients = 4;
    opt->chaos_ms = 4000;
    opt->liveness_ms = 4000;
    opt->faults = true;
}

/* Runs one simulation; returns true when every check passed. */
bool sim_run(const sim_options *opt, sim_result *res) {
    PK_ASSERT(opt->nodes >= 1 && opt->nodes <= SIM_MAX_NODES);
    PK_ASSERT(opt->clients >= 1 && opt->clients <= SIM_MAX_CLIENTS);
    memset(res, 0, sizeof *res);
    res->ok = true;
    sim_world *w = pk_calloc(1, sizeof *w);
    w->opt = *opt;
    w->res = res;
    w->n = opt->nodes;
    w->next_session = 0x1000;
    pk_prng_seed(&w->prng, opt->seed);
    w->heap = pk_calloc(SIM_MAX_MSGS, sizeof *w->heap);
    w->history = pk_calloc(SIM_LIN_MAX_OPS, sizeof *w->history);
    world_params(w);
    sim_trace(w, "seed %llu: %u nodes, %u clients, drop %u/1000, dup %u/1000, slow %u/1000, delay %u-%u ms, "
              "heartbeat %u ms, election %u ms, window %u, client drop %u/1000", (unsigned long long)opt->seed, w->n,
              opt->clients, w->drop_pm, w->dup_pm, w->slow_pm, w->delay_min_ms, w->delay_max_ms, w->heartbeat_ms,
              w->election_ms, w->window_slots, w->client_drop_pm);
    for (uint32_t i = 0; i < w->n; i++) sim_node_init(w, &w->nodes[i], i + 1);
    for (uint32_t i = 0; i < opt->clients; i++) sim_client_init(w, &w->clients[i], i);
    for (uint32_t i = 0; i < w->n; i++) sim_node_start(w, &w->nodes[i]);
    uint64_t end = opt->chaos_ms + opt->liveness_ms;
    for (w->now = 1; w->now <= end && !w->failed; w->now++) {
        if (!w->healed && w->now >= opt->chaos_ms) heal_all(w);
        world_ms(w);
        if (w->healed && w->live_commit && converged(w)) break;
    }
    res->sim_ms = w->now;
    if (!w->failed && !(w->live_commit && converged(w))) {
        char nodes[600] = {0};
        size_t k = 0;
        for (uint32_t i = 0; i < w->n && k < sizeof nodes - 120; i++) {
            const sim_node *n = &w->nodes[i];
            k += (size_t)snprintf(nodes + k, sizeof nodes - k, " [n%u %s role=%d ballot=%llu.%u leader=%u chosen=%llu "
                                  "applied=%llu ready=%d batches=%zu]", n->id, n->up ? "up" : "down", n->role,
                                  (unsigned long long)n->ballot.round, n->ballot.node, n->leader_id,
                                  (unsigned long long)n->chosen_to, (unsigned long long)n->applied, n->leader_ready,
                                  n->batch_count);
        }
        sim_fail(w, "liveness: %s within %llu ms after healing;%s", w->live_commit ? "replicas did not converge"
                                                                                  : "no new write committed",
                 (unsigned long long)opt->liveness_ms, nodes);
    }
    for (uint32_t i = 0; i < opt->clients; i++) sim_client_end(w, &w->clients[i]);
    if (!w->failed) check_history(w);
    world_free(w);
    free(w);
    return res->ok;
}
