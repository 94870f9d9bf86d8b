/* Randomized px test: 3 and 5 real replicas over a lossy, reordering, duplicating in-memory network with
 * crashes (unsynced persists lost), restarts, partitions, delayed persists and snapshots, from fixed seeds.
 * Checked at every apply: one value per chosen slot across all replicas, equal state digests at equal slots.
 * Then a liveness phase: heal everything and require every replica to reach the same chosen point.
 * (The full simulator lives in tests/sim; this is px's own quick safety net.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "px/px.h"

#define FZ_NODES 5
#define FZ_SLOTS 4096
#define FZ_NET 4096
#define FZ_PEND 4096

typedef struct fz_msg {
    uint32_t from, to;
    uint8_t *bytes;
    size_t len;
} fz_msg;

typedef struct fz_pend {
    uint64_t token;
    bool has_promise;
    px_ballot promise;
    px_entry *entries;
    size_t count;
    fz_msg *sends;
    size_t send_count;
} fz_pend;

typedef struct fz_node {
    px_replica *r;
    bool up;
    uint64_t now;
    px_ballot promised;
    bool has[FZ_SLOTS];
    px_ballot ballot[FZ_SLOTS];
    uint8_t *val[FZ_SLOTS];
    size_t len[FZ_SLOTS];
    fz_pend pend[FZ_PEND];
    size_t npend;
    uint64_t applied, digest;
    uint64_t snap_slot;
    uint8_t snap[16];
    uint32_t group;
    bool lost_pending;  /* lost its disk and has not voted since: stays blocked across restarts (durable flag) */
} fz_node;

typedef struct fz_world {
    px_config cfg;
    uint32_t n;
    fz_node nodes[FZ_NODES + 1];
    fz_msg net[FZ_NET];
    size_t nnet;
    pk_prng rng;
    uint64_t chosen_hash[FZ_SLOTS]; /* value hash + 1 of the slot, as first applied anywhere; 0 = unknown */
    uint64_t digest_at[FZ_SLOTS];   /* state digest + 1 after applying the slot */
    uint64_t max_chosen;
    uint32_t counter;
    bool disk_loss;     /* restarts may lose the disk */
    uint64_t restarts;
} fz_world;

static fz_world *W;
static bool fz_trace;

/* Copies bytes into a new allocation. */
static uint8_t *fz_dup(pk_slice s) {
    uint8_t *p = pk_malloc(s.len ? s.len : 1);
    if (s.len) memcpy(p, s.ptr, s.len);
    return p;
}

/* Queues a message (drops it when the network is full). */
static void fz_send(uint32_t from, uint32_t to, uint8_t *bytes, size_t len) {
    if (W->nnet == FZ_NET) { free(bytes); return; }
    W->net[W->nnet++] = (fz_msg){from, to, bytes, len};
}

static void fz_step(uint32_t id, px_event ev);

/* Applies newly chosen slots at node id and checks them against every other replica. */
static void fz_apply(uint32_t id, uint64_t chosen_to) {
    fz_node *n = &W->nodes[id];
    for (uint64_t s = n->applied + 1; s <= chosen_to; s++) {
        px_entry e;
        cr_assert(px_chosen_get(n->r, s, &e), "node %u: chosen slot %llu not readable", id, (unsigned long long)s);
        cr_assert_lt(s, (uint64_t)FZ_SLOTS);
        uint64_t h = pk_hash64(e.value.ptr, e.value.len, 1) + 1;
        if (W->chosen_hash[s] == 0) W->chosen_hash[s] = h;
        cr_assert_eq(W->chosen_hash[s], h, "slot %llu chosen with two values (node %u, seed %llu)", (unsigned long long)s,
                     id, (unsigned long long)W->cfg.seed);
        n->digest = pk_hash64(&h, sizeof h, n->digest);
        if (W->digest_at[s] == 0) W->digest_at[s] = n->digest + 1;
        cr_assert_eq(W->digest_at[s], n->digest + 1, "digest differs at slot %llu (node %u)", (unsigned long long)s, id);
        if (fz_trace) fprintf(stderr, "  node %u applies slot %llu = %.*s (ballot %llu.%u)\n", id, (unsigned long long)s,
                              (int)e.value.len, e.value.len ? (const char *)e.value.ptr : "", (unsigned long long)e.ballot.round, e.ballot.node);
        n->applied = s;
        if (s > W->max_chosen) W->max_chosen = s;
    }
}

/* Carries out one update of node id. */
static void fz_handle(uint32_t id, const px_update *u) {
    fz_node *n = &W->nodes[id];
    fz_pend *p = NULL;
    if (u->persist_token) {
        cr_assert_lt(n->npend, (size_t)FZ_PEND);
        p = &n->pend[n->npend++];
        memset(p, 0, sizeof *p);
        p->token = u->persist_token;
        p->has_promise = u->persist_promise;
        p->promise = u->promise;
        p->count = u->persist_count;
        p->entries = pk_calloc(u->persist_count + 1, sizeof *p->entries);
        for (size_t i = 0; i < u->persist_count; i++) {
            const px_entry *e = &u->persist_entries[i];
            p->entries[i] = (px_entry){e->slot, e->ballot, {fz_dup(e->value), e->value.len}};
        }
        p->sends = pk_calloc(u->send_count + 1, sizeof *p->sends);
    }
    for (size_t i = 0; i < u->send_count; i++) {
        const px_send *s = &u->sends[i];
        uint8_t *b = fz_dup(s->bytes);
        if (s->after_persist && p) p->sends[p->send_count++] = (fz_msg){id, s->to, b, s->bytes.len};
        else fz_send(id, s->to, b, s->bytes.len);
    }
    fz_apply(id, u->chosen_to);
    if (u->install_snapshot) {
        cr_assert_eq(u->install_bytes.len, 16u);
        uint64_t slot = pk_get_u64(u->install_bytes.ptr);
        uint64_t dig = pk_get_u64(u->install_bytes.ptr + 8);
        cr_assert_eq(slot, u->install_slot);
        cr_assert_eq(W->digest_at[slot], dig + 1, "installed snapshot digest differs");
        memcpy(n->snap, u->install_bytes.ptr, 16);
        n->snap_slot = slot;
        if (slot > n->applied) { n->applied = slot; n->digest = dig; }
        fz_step(id, (px_event){.kind = PX_EV_SNAPSHOT_INSTALLED, .u.snapshot_installed.slot = slot});
    }
}

/* Steps node id with ev at its clock. */
static void fz_step(uint32_t id, px_event ev) {
    fz_node *n = &W->nodes[id];
    cr_assert(n->up);
    px_update u;
    ev.now_ms = n->now;
    px_step(n->r, &ev, &u);
    fz_handle(id, &u);
    if (n->lost_pending && n->up) {
        px_status st;
        px_replica_status(n->r, &st);
        if (!st.vote_blocked) n->lost_pending = false;
    }
}

/* Frees a pending record. */
static void fz_pend_free(fz_pend *p) {
    for (size_t i = 0; i < p->count; i++) free((void *)p->entries[i].value.ptr);
    for (size_t i = 0; i < p->send_count; i++) free(p->sends[i].bytes);
    free(p->entries);
    free(p->sends);
    memset(p, 0, sizeof *p);
}

/* Makes node id's pending persists durable, releases held sends and reports PERSISTED. */
static void fz_persist(uint32_t id) {
    fz_node *n = &W->nodes[id];
    if (!n->up || n->npend == 0) return;
    uint64_t last = 0, tokens[FZ_PEND];
    size_t count = n->npend;
    for (size_t i = 0; i < count; i++) {
        fz_pend *p = &n->pend[i];
        if (p->has_promise) n->promised = p->promise;
        for (size_t k = 0; k < p->count; k++) {
            const px_entry *e = &p->entries[k];
            cr_assert_lt(e->slot, (uint64_t)FZ_SLOTS);
            free(n->val[e->slot]);
            n->has[e->slot] = true;
            n->ballot[e->slot] = e->ballot;
            n->val[e->slot] = fz_dup(e->value);
            n->len[e->slot] = e->value.len;
        }
        for (size_t k = 0; k < p->send_count; k++) {
            fz_send(p->sends[k].from, p->sends[k].to, p->sends[k].bytes, p->sends[k].len);
            p->sends[k].bytes = NULL;
        }
        last = p->token;
        tokens[i] = p->token;
        fz_pend_free(p);
    }
    n->npend = 0;
    (void)last;
    for (size_t i = count; i > 1; i--) { /* report in any order (a caller may report promise-only updates early) */
        size_t j = (size_t)pk_prng_below(&W->rng, i);
        uint64_t t = tokens[i - 1];
        tokens[i - 1] = tokens[j];
        tokens[j] = t;
    }
    for (size_t i = 0; i < count; i++) fz_step(id, (px_event){.kind = PX_EV_PERSISTED, .u.persisted.token = tokens[i]});
}

/* Starts node id from its durable state. */
static void fz_start(uint32_t id, bool disk_lost) {
    fz_node *n = &W->nodes[id];
    if (fz_trace) fprintf(stderr, "start %u%s\n", id, disk_lost ? " (disk lost)" : "");
    if (disk_lost) n->lost_pending = true;
    if (disk_lost) { /* the disk is gone: start empty */
        for (size_t s = 0; s < FZ_SLOTS; s++) { free(n->val[s]); n->val[s] = NULL; n->has[s] = false; }
        n->promised = (px_ballot){0, 0};
        n->snap_slot = 0;
    }
    px_config c = W->cfg;
    c.self_id = id;
    c.seed = W->cfg.seed + 0x9E3779B97F4A7C15ull * ++W->restarts; /* each incarnation draws its own nonce */
    n->r = px_replica_new(&c);
    n->up = true;
    px_entry *acc = pk_calloc(FZ_SLOTS, sizeof *acc);
    size_t k = 0;
    for (uint64_t s = n->snap_slot + 1; s < FZ_SLOTS; s++)
        if (n->has[s]) acc[k++] = (px_entry){s, n->ballot[s], {n->val[s], n->len[s]}};
    px_durable d = {n->promised, acc, k, n->snap_slot, n->lost_pending};
    n->applied = n->snap_slot;
    n->digest = n->snap_slot ? pk_get_u64(n->snap + 8) : 0;
    fz_step(id, (px_event){.kind = PX_EV_START, .u.start = &d});
    free(acc);
    if (n->snap_slot)
        fz_step(id, (px_event){.kind = PX_EV_SNAPSHOT_TAKEN, .u.snapshot_taken = {n->snap_slot, {n->snap, 16}}});
}

/* Crashes node id: unsynced persists and held sends are lost. */
static void fz_crash(uint32_t id) {
    fz_node *n = &W->nodes[id];
    if (fz_trace) fprintf(stderr, "crash %u\n", id);
    for (size_t i = 0; i < n->npend; i++) fz_pend_free(&n->pend[i]);
    n->npend = 0;
    px_replica_free(n->r);
    n->r = NULL;
    n->up = false;
}

/* Delivers message i (or drops it when the receiver is down or partitioned away). */
static void fz_deliver(size_t i, bool keep) {
    fz_msg m = W->net[i];
    if (!keep) W->net[i] = W->net[--W->nnet];
    fz_node *dst = &W->nodes[m.to];
    bool ok = dst->up && (W->nodes[m.from].group == dst->group);
    if (ok && fz_trace) {
        px_msg pm;
        if (px_msg_decode((pk_slice){m.bytes, m.len}, &pm) == PK_OK)
            fprintf(stderr, "%u->%u %s b=%llu.%u slot=%llu chosen=%llu n=%u %.*s\n", m.from, m.to, px_msg_type_name(pm.type),
                    (unsigned long long)pm.ballot.round, pm.ballot.node, (unsigned long long)pm.slot,
                    (unsigned long long)pm.chosen_to, pm.entry_count, (int)pm.value.len,
                    pm.value.len ? (const char *)pm.value.ptr : "");
    }
    if (ok) {
        pk_slice b = {m.bytes, m.len};
        uint8_t *copy = keep ? fz_dup(b) : NULL;
        fz_step(m.to, (px_event){.kind = PX_EV_MESSAGE, .u.message = {m.from, keep ? (pk_slice){copy, m.len} : b}});
        free(copy);
    }
    if (!keep) free(m.bytes);
}

/* Sets up a world of n replicas. */
static void fz_init(uint32_t n, uint64_t seed, uint32_t q1, uint32_t q2) {
    W = pk_calloc(1, sizeof *W);
    W->n = n;
    W->cfg.node_count = n;
    for (uint32_t i = 0; i < n; i++) W->cfg.node_ids[i] = i + 1;
    W->cfg.phase1_quorum = q1;
    W->cfg.phase2_quorum = q2;
    W->cfg.heartbeat_interval_ms = 50;
    W->cfg.election_timeout_ms = 300;
    W->cfg.window_slots = 8;
    W->cfg.seed = seed;
    pk_prng_seed(&W->rng, seed);
    for (uint32_t i = 1; i <= n; i++) fz_start(i, false);
}

/* Frees the world. */
static void fz_free(void) {
    for (uint32_t i = 1; i <= W->n; i++) {
        if (W->nodes[i].up) fz_crash(i);
        for (size_t s = 0; s < FZ_SLOTS; s++) free(W->nodes[i].val[s]);
    }
    for (size_t i = 0; i < W->nnet; i++) free(W->net[i].bytes);
    free(W);
    W = NULL;
}

/* Proposes a fresh unique value at node id. */
static void fz_propose(uint32_t id) {
    char v[32];
    int len = snprintf(v, sizeof v, "v%u-%u", id, ++W->counter);
    fz_step(id, (px_event){.kind = PX_EV_PROPOSE, .u.propose.value = {(const uint8_t *)v, (size_t)len}});
}

/* Takes a snapshot at node id's applied slot. */
static void fz_snapshot(uint32_t id) {
    fz_node *n = &W->nodes[id];
    if (n->applied <= n->snap_slot) return;
    n->snap_slot = n->applied;
    pk_put_u64(n->snap, n->applied);
    pk_put_u64(n->snap + 8, n->digest);
    fz_step(id, (px_event){.kind = PX_EV_SNAPSHOT_TAKEN, .u.snapshot_taken = {n->snap_slot, {n->snap, 16}}});
}

/* One random action of the chaos phase. */
static void fz_chaos_step(uint32_t max_down) {
    pk_prng *g = &W->rng;
    uint32_t id = 1 + (uint32_t)pk_prng_below(g, W->n);
    uint32_t down = 0;
    uint32_t lost = 0;
    for (uint32_t i = 1; i <= W->n; i++) down += !W->nodes[i].up;
    for (uint32_t i = 1; i <= W->n; i++) lost += W->nodes[i].lost_pending;
    uint64_t r = pk_prng_below(g, 1000);
    if (r < 450) {
        if (W->nnet == 0) return;
        size_t i = (size_t)pk_prng_below(g, W->nnet);
        uint64_t f = pk_prng_below(g, 100);
        if (f < 5) { free(W->net[i].bytes); W->net[i] = W->net[--W->nnet]; }
        else fz_deliver(i, f < 10);
    } else if (r < 620) {
        fz_persist(id);
    } else if (r < 795) {
        if (W->nodes[id].up) { W->nodes[id].now += 1 + pk_prng_below(g, 80); fz_step(id, (px_event){.kind = PX_EV_TICK}); }
    } else if (r < 800) { /* tell px what was applied (an ensemble of one then frees those entries) */
        fz_node *n = &W->nodes[id];
        if (n->up && n->applied > 0) fz_step(id, (px_event){.kind = PX_EV_APPLIED, .u.applied.slot = pk_prng_below(g, n->applied + 1)});
    } else if (r < 940) {
        if (W->nodes[id].up) fz_propose(id);
    } else if (r < 955) {
        if (W->nodes[id].up && down + lost < max_down) fz_crash(id);
    } else if (r < 975) {
        if (!W->nodes[id].up) fz_start(id, W->disk_loss && lost == 0 && down <= max_down && pk_prng_chance(g, 1, 3));
    } else if (r < 985) {
        if (W->nodes[id].up) fz_snapshot(id);
    } else if (r < 990) {
        for (uint32_t i = 1; i <= W->n; i++) W->nodes[i].group = (uint32_t)pk_prng_below(g, 2);
    } else {
        for (uint32_t i = 1; i <= W->n; i++) W->nodes[i].group = 0;
    }
}

/* Heals everything and runs in order until all replicas agree; returns the common chosen point. */
static uint64_t fz_settle(void) {
    for (uint32_t i = 1; i <= W->n; i++) {
        W->nodes[i].group = 0;
        if (!W->nodes[i].up) fz_start(i, false);
    }
    uint64_t target = 0;
    bool proposed = false;
    for (int round = 0; round < 3000; round++) {
        for (uint32_t i = 1; i <= W->n; i++) fz_persist(i);
        size_t n = W->nnet;
        for (size_t k = 0; k < n && W->nnet > 0; k++) fz_deliver(0, false);
        for (uint32_t i = 1; i <= W->n; i++) {
            W->nodes[i].now += 10;
            fz_step(i, (px_event){.kind = PX_EV_TICK});
        }
        px_status st[FZ_NODES + 1];
        uint32_t leaders = 0, leader = 0;
        for (uint32_t i = 1; i <= W->n; i++) {
            px_replica_status(W->nodes[i].r, &st[i]);
            if (st[i].role == PX_LEADER) { leaders++; leader = i; }
        }
        if (leaders == 1 && (!proposed || round % 100 == 0)) { /* a proposal to a deposed leader may be lost */
            fz_propose(leader);
            if (!proposed) target = W->max_chosen + 1;
            proposed = true;
        }
        bool done = proposed;
        for (uint32_t i = 1; i <= W->n && done; i++)
            done = st[i].chosen_to >= target && W->nodes[i].applied == st[1].chosen_to;
        if (done) {
            for (uint32_t i = 2; i <= W->n; i++) cr_assert_eq(W->nodes[i].digest, W->nodes[1].digest);
            return target;
        }
        if (getenv("FZ_TRACE") && round > 2900) {
            for (size_t k = 0; k < W->nnet; k++) {
                px_msg m;
                if (px_msg_decode((pk_slice){W->net[k].bytes, W->net[k].len}, &m) == PK_OK)
                    fprintf(stderr, "r%d %u->%u %s slot=%llu chosen=%llu off=%llu n=%u\n", round, W->net[k].from,
                            W->net[k].to, px_msg_type_name(m.type), (unsigned long long)m.slot,
                            (unsigned long long)m.chosen_to, (unsigned long long)m.offset, m.entry_count);
            }
        }
    }
    for (uint32_t i = 1; i <= W->n; i++) {
        px_status s;
        px_replica_status(W->nodes[i].r, &s);
        fprintf(stderr, "log %llu..%llu snap %llu; ", (unsigned long long)s.log_first, (unsigned long long)s.log_last,
                (unsigned long long)s.snapshot_slot);
        fprintf(stderr, "node %u role %d ballot %llu.%u promised %llu.%u chosen %llu applied %llu blocked %d\n", i,
                s.role, (unsigned long long)s.ballot.round, s.ballot.node, (unsigned long long)s.promised.round,
                s.promised.node, (unsigned long long)s.chosen_to, (unsigned long long)W->nodes[i].applied,
                s.vote_blocked);
    }
    cr_assert_fail("no agreement after healing (target %llu)", (unsigned long long)target);
    return 0;
}

/* Runs one seed: chaos then settle. */
static void fz_run(uint32_t n, uint64_t seed, uint32_t q1, uint32_t q2, int steps, bool disk_loss) {
    const char *only = getenv("PX_FUZZ_ONLY"); /* replay one seed */
    if (only && strtoull(only, NULL, 10) != seed) return;
    fz_init(n, seed, q1, q2);
    W->disk_loss = disk_loss || getenv("PX_FUZZ_DISK_LOSS") != NULL;
    fz_trace = getenv("PX_FUZZ_TRACE") != NULL;
    for (int i = 0; i < steps; i++) fz_chaos_step((n - 1) / 2);
    fz_settle();
    fz_free();
}

/* Seeds per test: PX_FUZZ_SCALE=k multiplies them (for longer local runs). */
static uint64_t fz_scale(void) {
    const char *s = getenv("PX_FUZZ_SCALE");
    long v = s ? strtol(s, NULL, 10) : 1;
    return v > 0 ? (uint64_t)v : 1;
}

Test(px_fuzz, three_nodes) {
    for (uint64_t seed = 1; seed <= 40 * fz_scale(); seed++) fz_run(3, seed, 0, 0, 4000, false);
}

Test(px_fuzz, five_nodes) {
    for (uint64_t seed = 100000; seed < 100000 + 20 * fz_scale(); seed++) fz_run(5, seed, 0, 0, 4000, false);
}

Test(px_fuzz, five_nodes_flexible) {
    for (uint64_t seed = 200000; seed < 200000 + 16 * fz_scale(); seed++) fz_run(5, seed, 4, 2, 4000, false);
}

Test(px_fuzz, single_node) {
    for (uint64_t seed = 300000; seed < 300000 + 6 * fz_scale(); seed++) fz_run(1, seed, 0, 0, 2000, false);
}

/* Restarts may lose the disk (one replica at a time, with a durable "still blocked" flag across restarts). */
Test(px_fuzz, disk_loss) {
    for (uint64_t seed = 400000; seed < 400000 + 30 * fz_scale(); seed++) fz_run(3, seed, 0, 0, 4000, true);
    for (uint64_t seed = 500000; seed < 500000 + 15 * fz_scale(); seed++) fz_run(5, seed, 0, 0, 4000, true);
}
