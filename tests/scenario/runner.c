/* px-scenario: replays readable px scenario scripts (tests/scenario/NAME.txt) and diffs their golden output.
 *
 * A script is a sequence of blocks in the manner of etcd-raft's datadriven tests:
 *
 *     # comment lines and blank lines are kept as they are
 *     <command line>
 *     ----
 *     <expected output lines, up to the next blank line>
 *
 * The harness drives real px replicas with an in-memory network (FIFO pool of messages, partitions) and
 * in-memory durable state (promise, accepted entries, snapshot). Persisting is explicit (`persist N`), so
 * the persist-before-send contract is visible: after_persist sends are held until then. Each node has its
 * own clock. `px-scenario --rewrite FILE...` regenerates the expected output in place.
 *
 * Commands: cluster N [q1=Q] [q2=Q] [window=W] [hb=MS] [et=MS] [seed=S] | tick N|all MS | propose N "v"...
 *           | persist N|all | deliver [all|A->B] | drop [all|A->B] | stabilize | crash N | restart N [lost]
 *           | partition A B | C ... | heal | snapshot N [pad=BYTES] | status [N] | log N | check
 * (A or B may be * in deliver/drop.)
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px/px.h"

#define MAX_NODES PX_MAX_NODES
#define MAX_NET 100000
#define MAX_PENDING 4096
#define MAX_ROUNDS 64

/* ---------------------------------------------------------------- output buffer */

static pk_buf g_out;

/* Appends formatted text to the command output. */
static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    PK_ASSERT(n >= 0);
    pk_buf_append(&g_out, tmp, (size_t)PK_MIN((size_t)n, sizeof tmp - 1));
}

/* Formats a value: noop, or a quoted (escaped, abbreviated) string. */
static const char *fmt_value(pk_slice v, char *buf, size_t cap) {
    if (v.len == 0) return "noop";
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < v.len && o + 8 < cap; i++) {
        if (i == 16 && v.len > 20) {
            o += (size_t)snprintf(buf + o, cap - o, "...(%zu bytes)", v.len);
            break;
        }
        uint8_t c = v.ptr[i];
        if (isprint(c) && c != '"' && c != '\\') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (o + 2 < cap) buf[o++] = '"';
    buf[o] = 0;
    return buf;
}

/* Formats a ballot as round.node. */
static const char *fmt_ballot(px_ballot b, char *buf) {
    snprintf(buf, 32, "%llu.%u", (unsigned long long)b.round, b.node);
    return buf;
}

static const char *const role_names[] = {"follower", "candidate", "leader"};

/* Appends a one-line description of an encoded px message. */
static void out_msg(pk_slice bytes) {
    px_msg m;
    char b1[32], b2[32], v[128];
    if (px_msg_decode(bytes, &m) != PK_OK) { outf("<malformed %zu bytes>", bytes.len); return; }
    outf("%s", px_msg_type_name(m.type));
    switch (m.type) {
    case PX_MSG_PREPARE: outf(" b=%s from=%llu chosen=%llu", fmt_ballot(m.ballot, b1), (unsigned long long)m.slot, (unsigned long long)m.chosen_to); break;
    case PX_MSG_PROMISE:
        outf(" b=%s from=%llu chosen=%llu%s", fmt_ballot(m.ballot, b1), (unsigned long long)m.slot,
             (unsigned long long)m.chosen_to, (m.flags & PX_PROMISE_INCOMPLETE) ? " incomplete" : "");
        if (m.offset) outf(" more-from=%llu", (unsigned long long)m.offset);
        break;
    case PX_MSG_NACK: outf(" b=%s promised=%s", fmt_ballot(m.ballot, b1), fmt_ballot(m.promised, b2)); break;
    case PX_MSG_ACCEPT:
        outf(" b=%s slot=%llu chosen=%llu %s", fmt_ballot(m.ballot, b1), (unsigned long long)m.slot,
             (unsigned long long)m.chosen_to, fmt_value(m.value, v, sizeof v));
        break;
    case PX_MSG_ACCEPTED: outf(" b=%s slot=%llu", fmt_ballot(m.ballot, b1), (unsigned long long)m.slot); break;
    case PX_MSG_HEARTBEAT:
    case PX_MSG_HEARTBEAT_ACK: outf(" b=%s chosen=%llu", fmt_ballot(m.ballot, b1), (unsigned long long)m.chosen_to); break;
    case PX_MSG_CATCHUP_REQ: outf(" from=%llu", (unsigned long long)m.slot); break;
    case PX_MSG_CATCHUP_ENTRIES:
        outf(" b=%s chosen=%llu end=%llu%s", fmt_ballot(m.ballot, b1), (unsigned long long)m.chosen_to,
             (unsigned long long)m.slot, (m.flags & PX_CATCHUP_FROM_LEADER) ? " leader" : "");
        break;
    case PX_MSG_SNAPSHOT_CHUNK:
        outf(" slot=%llu offset=%llu len=%zu total=%llu", (unsigned long long)m.slot, (unsigned long long)m.offset,
             m.value.len, (unsigned long long)m.total);
        break;
    case PX_MSG_SNAPSHOT_ACK: outf(" slot=%llu offset=%llu", (unsigned long long)m.slot, (unsigned long long)m.offset); break;
    default: break;
    }
    if (m.entry_count || m.type == PX_MSG_PROMISE || m.type == PX_MSG_CATCHUP_ENTRIES) {
        outf(" [");
        size_t cur = 0;
        px_entry e;
        for (uint32_t i = 0; i < m.entry_count && px_msg_entry_next(&m, &cur, &e); i++) {
            if (i == 8) { outf(" ...+%u", m.entry_count - 8); break; }
            outf("%s%llu:%s:%s", i ? " " : "", (unsigned long long)e.slot, fmt_ballot(e.ballot, b1),
                 fmt_value(e.value, v, sizeof v));
        }
        outf("]");
    }
}

/* ---------------------------------------------------------------- harness state */

typedef struct dslot {   /* one durable accepted entry */
    bool has;
    px_ballot ballot;
    uint8_t *value;
    size_t len;
} dslot;

typedef struct msg {
    uint32_t from, to;
    uint8_t *bytes;
    size_t len;
} msg;

typedef struct pending {  /* one update's persist step, not yet durable, and the sends waiting for it */
    uint64_t token;
    bool has_promise;
    px_ballot promise;
    px_entry *entries;    /* owned copies */
    size_t count;
    msg *sends;
    size_t send_count;
} pending;

typedef struct node {
    uint32_t id;
    bool exists, up;
    px_replica *r;
    px_config cfg;
    uint64_t now_ms;
    /* durable */
    px_ballot promised;
    dslot *log;
    size_t log_cap;       /* index = slot */
    uint64_t snap_slot;
    pk_buf snap;
    /* not yet durable */
    pending pend[MAX_PENDING];
    size_t pend_count;
    /* state machine: applied values (no-ops as "_") */
    uint64_t applied;
    pk_buf sm;
    /* last printed state */
    px_role role;
    uint32_t leader;
    px_ballot ballot;
    uint64_t deadline_ms;
    uint64_t starts;
} node;

static node g_nodes[MAX_NODES + 1];
static uint32_t g_n;
static msg g_net[MAX_NET];
static size_t g_net_count;
static uint32_t g_group[MAX_NODES + 1]; /* partition group; 0 = connected to all */

/* Frees a message's bytes. */
static void msg_free(msg *m) { free(m->bytes); m->bytes = NULL; }

/* Frees one pending persist record. */
static void pending_free(pending *p) {
    for (size_t i = 0; i < p->count; i++) free((void *)p->entries[i].value.ptr);
    free(p->entries);
    for (size_t i = 0; i < p->send_count; i++) msg_free(&p->sends[i]);
    free(p->sends);
    memset(p, 0, sizeof *p);
}

/* Copies bytes into a fresh allocation. */
static uint8_t *dup_bytes(pk_slice s) {
    uint8_t *p = pk_malloc(s.len ? s.len : 1);
    if (s.len) memcpy(p, s.ptr, s.len);
    return p;
}

/* Queues a message on the network and prints it. */
static void net_send(uint32_t from, uint32_t to, uint8_t *bytes, size_t len) {
    PK_ASSERT(g_net_count < MAX_NET);
    g_net[g_net_count++] = (msg){from, to, bytes, len};
    outf("%u->%u ", from, to);
    out_msg((pk_slice){bytes, len});
    outf("\n");
}

/* Writes durable slot `slot` of node n. */
static void durable_put(node *n, const px_entry *e) {
    if (e->slot >= n->log_cap) {
        size_t cap = n->log_cap ? n->log_cap : 64;
        while (cap <= e->slot) cap *= 2;
        n->log = pk_realloc(n->log, cap * sizeof *n->log);
        memset(n->log + n->log_cap, 0, (cap - n->log_cap) * sizeof *n->log);
        n->log_cap = cap;
    }
    dslot *d = &n->log[e->slot];
    free(d->value);
    d->has = true;
    d->ballot = e->ballot;
    d->len = e->value.len;
    d->value = dup_bytes(e->value);
}

static void step(node *n, px_event ev);

/* Rebuilds the state machine from the durable snapshot ("SLOT|v,v,..." plus padding). */
static void sm_from_snapshot(node *n) {
    pk_buf_reset(&n->sm);
    n->applied = n->snap_slot;
    if (n->snap.len == 0) return;
    const char *s = (const char *)n->snap.data;
    const char *bar = memchr(s, '|', n->snap.len);
    PK_ASSERT(bar != NULL);
    size_t rest = n->snap.len - (size_t)(bar + 1 - s);
    const char *end = memchr(bar + 1, '#', rest);
    size_t len = end ? (size_t)(end - bar - 1) : rest;
    pk_buf_append(&n->sm, bar + 1, len);
}

/* Applies newly chosen slots to the state machine. */
static void apply_chosen(node *n, uint64_t chosen_to) {
    if (chosen_to <= n->applied) return;
    uint64_t first = n->applied + 1;
    for (uint64_t s = first; s <= chosen_to; s++) {
        px_entry e;
        if (!px_chosen_get(n->r, s, &e)) {
            outf("%u: MISSING chosen slot %llu\n", n->id, (unsigned long long)s);
            break;
        }
        if (n->sm.len) pk_buf_append(&n->sm, ",", 1);
        if (e.value.len) pk_buf_append(&n->sm, e.value.ptr, e.value.len);
        else pk_buf_append(&n->sm, "_", 1);
        n->applied = s;
    }
    outf("%u: chosen_to %llu\n", n->id, (unsigned long long)chosen_to);
}

/* Carries out one update of node n: records the persist step, sends, applies, installs. */
static void handle_update(node *n, const px_update *u) {
    char b1[32], v[128];
    if (u->role != n->role || u->leader_id != n->leader || px_ballot_cmp(u->ballot, n->ballot) != 0) {
        outf("%u: %s ballot %s leader %u\n", n->id, role_names[u->role], fmt_ballot(u->ballot, b1), u->leader_id);
        n->role = u->role;
        n->leader = u->leader_id;
        n->ballot = u->ballot;
    }
    pending *p = NULL;
    if (u->persist_token) {
        PK_ASSERT(n->pend_count < MAX_PENDING);
        p = &n->pend[n->pend_count++];
        memset(p, 0, sizeof *p);
        p->token = u->persist_token;
        p->has_promise = u->persist_promise;
        p->promise = u->promise;
        p->count = u->persist_count;
        p->entries = pk_calloc(u->persist_count ? u->persist_count : 1, sizeof *p->entries);
        outf("%u: persist", n->id);
        if (u->persist_promise) outf(" promise %s", fmt_ballot(u->promise, b1));
        for (size_t i = 0; i < u->persist_count; i++) {
            const px_entry *e = &u->persist_entries[i];
            p->entries[i] = (px_entry){e->slot, e->ballot, {dup_bytes(e->value), e->value.len}};
            if (i < 8) outf(" %llu:%s:%s", (unsigned long long)e->slot, fmt_ballot(e->ballot, b1), fmt_value(e->value, v, sizeof v));
            else if (i == 8) outf(" ...+%zu", u->persist_count - 8);
        }
        outf(" (token %llu)\n", (unsigned long long)u->persist_token);
        p->sends = pk_calloc(u->send_count ? u->send_count : 1, sizeof *p->sends);
    }
    for (size_t i = 0; i < u->send_count; i++) {
        const px_send *s = &u->sends[i];
        uint8_t *bytes = dup_bytes(s->bytes);
        if (s->after_persist && p) p->sends[p->send_count++] = (msg){n->id, s->to, bytes, s->bytes.len};
        else net_send(n->id, s->to, bytes, s->bytes.len);
    }
    if (u->propose_status != PX_PROPOSE_NONE) {
        static const char *const st[] = {"none", "ok", "not leader", "full"};
        outf("%u: propose %s", n->id, st[u->propose_status]);
        if (u->propose_status == PX_PROPOSE_OK) outf(" slot %llu", (unsigned long long)u->propose_slot);
        if (u->propose_status == PX_PROPOSE_NOT_LEADER) outf(" (leader %u)", u->leader_id);
        outf("\n");
    }
    apply_chosen(n, u->chosen_to);
    n->deadline_ms = u->next_deadline_ms;
    if (u->install_snapshot) {
        outf("%u: install snapshot slot %llu (%zu bytes)\n", n->id, (unsigned long long)u->install_slot, u->install_bytes.len);
        pk_buf_reset(&n->snap);
        pk_buf_append(&n->snap, u->install_bytes.ptr, u->install_bytes.len);
        n->snap_slot = u->install_slot;
        sm_from_snapshot(n);
        step(n, (px_event){.kind = PX_EV_SNAPSHOT_INSTALLED, .u.snapshot_installed.slot = u->install_slot});
    }
}

/* Steps node n with ev at its current clock and carries out the update. */
static void step(node *n, px_event ev) {
    PK_ASSERT(n->up && n->r);
    px_update u;
    ev.now_ms = n->now_ms;
    px_step(n->r, &ev, &u);
    handle_update(n, &u);
}

/* Makes every pending persist of node n durable, releases held sends, and reports PERSISTED. */
static void persist_node(node *n) {
    if (!n->up || n->pend_count == 0) return;
    uint64_t last = 0, tokens[MAX_PENDING];
    size_t count = n->pend_count;
    for (size_t i = 0; i < count; i++) {
        pending *p = &n->pend[i];
        if (p->has_promise) n->promised = p->promise;
        for (size_t k = 0; k < p->count; k++) durable_put(n, &p->entries[k]);
        for (size_t k = 0; k < p->send_count; k++) {
            net_send(p->sends[k].from, p->sends[k].to, p->sends[k].bytes, p->sends[k].len);
            p->sends[k].bytes = NULL;
        }
        last = p->token;
        tokens[i] = p->token;
        pending_free(p);
    }
    n->pend_count = 0;
    outf("%u: durable (token %llu)\n", n->id, (unsigned long long)last);
    for (size_t i = 0; i < count; i++) /* every token is reported, in order */
        step(n, (px_event){.kind = PX_EV_PERSISTED, .u.persisted.token = tokens[i]});
}

/* Starts (or restarts) node n from its durable state. */
static void start_node(node *n, bool disk_lost) {
    px_config c = n->cfg;
    c.seed += 1000003ull * n->starts++; /* each incarnation seeds its own timers and nonce */
    n->r = px_replica_new(&c);
    n->up = true;
    n->role = PX_FOLLOWER;
    n->leader = 0;
    n->ballot = (px_ballot){0, 0};
    size_t cnt = 0;
    for (size_t s = 0; s < n->log_cap; s++) cnt += n->log[s].has && s > n->snap_slot;
    px_entry *acc = pk_calloc(cnt ? cnt : 1, sizeof *acc);
    size_t k = 0;
    for (size_t s = 0; s < n->log_cap; s++)
        if (n->log[s].has && s > n->snap_slot)
            acc[k++] = (px_entry){s, n->log[s].ballot, {n->log[s].value, n->log[s].len}};
    px_durable d = {n->promised, acc, cnt, n->snap_slot, disk_lost};
    sm_from_snapshot(n);
    step(n, (px_event){.kind = PX_EV_START, .u.start = &d});
    free(acc);
    if (n->snap_slot)
        step(n, (px_event){.kind = PX_EV_SNAPSHOT_TAKEN,
                           .u.snapshot_taken = {n->snap_slot, pk_buf_slice(&n->snap)}});
}

/* Crashes node n: unsynced persists and held sends are lost. */
static void crash_node(node *n) {
    for (size_t i = 0; i < n->pend_count; i++) pending_free(&n->pend[i]);
    n->pend_count = 0;
    px_replica_free(n->r);
    n->r = NULL;
    n->up = false;
}

/* Frees everything of node n. */
static void node_free(node *n) {
    if (n->up) crash_node(n);
    for (size_t s = 0; s < n->log_cap; s++) free(n->log[s].value);
    free(n->log);
    pk_buf_deinit(&n->snap);
    pk_buf_deinit(&n->sm);
    memset(n, 0, sizeof *n);
}

/* Tears the whole cluster down. */
static void reset_all(void) {
    for (uint32_t i = 1; i <= MAX_NODES; i++) node_free(&g_nodes[i]);
    for (size_t i = 0; i < g_net_count; i++) msg_free(&g_net[i]);
    g_net_count = 0;
    g_n = 0;
    memset(g_group, 0, sizeof g_group);
}

/* ---------------------------------------------------------------- commands */

/* Splits a command line into words; quoted strings keep spaces. Returns the word count. */
static int split(char *line, char **argv, int max) {
    int argc = 0;
    char *p = line;
    while (*p && argc < max) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (*p == '"') {
            argv[argc++] = ++p;
            while (*p && *p != '"') p++;
        } else {
            argv[argc++] = p;
            while (*p && *p != ' ' && *p != '\t') p++;
        }
        if (*p) *p++ = 0;
    }
    return argc;
}

/* Parses a node id (1..g_n) or returns 0. */
static uint32_t node_arg(const char *s) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < 1 || v > g_n) return 0;
    return (uint32_t)v;
}

/* Parses "A->B" with * wildcards (0). */
static bool link_arg(const char *s, uint32_t *from, uint32_t *to) {
    const char *arrow = strstr(s, "->");
    if (!arrow) return false;
    char a[16] = {0};
    size_t al = (size_t)(arrow - s);
    if (al == 0 || al >= sizeof a) return false;
    memcpy(a, s, al);
    *from = strcmp(a, "*") == 0 ? 0 : node_arg(a);
    *to = strcmp(arrow + 2, "*") == 0 ? 0 : node_arg(arrow + 2);
    return (*from || strcmp(a, "*") == 0) && (*to || strcmp(arrow + 2, "*") == 0);
}

/* True when the network may carry a message from a to b. */
static bool connected(uint32_t a, uint32_t b) {
    return g_group[a] == 0 || g_group[b] == 0 || g_group[a] == g_group[b];
}

/* Delivers (or drops) the messages in flight that match from/to (0 = any); new messages wait. */
static size_t deliver(uint32_t from, uint32_t to, bool drop) {
    size_t n = g_net_count, done = 0;
    msg *batch = pk_calloc(n ? n : 1, sizeof *batch);
    memcpy(batch, g_net, n * sizeof *batch);
    g_net_count = 0;
    for (size_t i = 0; i < n; i++) {
        msg *m = &batch[i];
        if ((from && m->from != from) || (to && m->to != to)) { g_net[g_net_count++] = *m; continue; }
        done++;
        node *dst = &g_nodes[m->to];
        const char *why = drop ? "" : !dst->up ? " (down)" : !connected(m->from, m->to) ? " (partitioned)" : NULL;
        if (why) {
            outf("dropped %u->%u ", m->from, m->to);
            out_msg((pk_slice){m->bytes, m->len});
            outf("%s\n", why);
        } else {
            step(dst, (px_event){.kind = PX_EV_MESSAGE, .u.message = {m->from, {m->bytes, m->len}}});
        }
        msg_free(m);
    }
    /* messages produced while delivering were appended after the kept ones: keep FIFO order */
    free(batch);
    return done;
}

/* `cluster N [q1=] [q2=] [window=] [hb=] [et=] [seed=]`: creates and starts N replicas. */
static void cmd_cluster(int argc, char **argv) {
    reset_all();
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    if (n < 1 || n > MAX_NODES) { outf("error: bad node count\n"); return; }
    g_n = (uint32_t)n;
    px_config c = {0};
    c.node_count = g_n;
    for (uint32_t i = 0; i < g_n; i++) c.node_ids[i] = i + 1;
    c.heartbeat_interval_ms = 50;
    c.election_timeout_ms = 300;
    c.window_slots = 8;
    c.seed = 1;
    for (int i = 2; i < argc; i++) {
        unsigned long long v = 0;
        if (sscanf(argv[i], "q1=%llu", &v) == 1) c.phase1_quorum = (uint32_t)v;
        else if (sscanf(argv[i], "q2=%llu", &v) == 1) c.phase2_quorum = (uint32_t)v;
        else if (sscanf(argv[i], "window=%llu", &v) == 1) c.window_slots = (uint32_t)v;
        else if (sscanf(argv[i], "hb=%llu", &v) == 1) c.heartbeat_interval_ms = v;
        else if (sscanf(argv[i], "et=%llu", &v) == 1) c.election_timeout_ms = v;
        else if (sscanf(argv[i], "seed=%llu", &v) == 1) c.seed = v;
        else outf("error: unknown option %s\n", argv[i]);
    }
    for (uint32_t i = 1; i <= g_n; i++) {
        node *nd = &g_nodes[i];
        nd->id = i;
        nd->exists = true;
        nd->cfg = c;
        nd->cfg.self_id = i;
        pk_buf_init(&nd->snap);
        pk_buf_init(&nd->sm);
        start_node(nd, false);
    }
}

/* Prints one node's status line. */
static void out_status(node *n) {
    char b1[32], b2[32];
    if (!n->up) { outf("%u: down\n", n->id); return; }
    px_status st;
    px_replica_status(n->r, &st);
    outf("%u: %s ballot %s promised %s leader %u chosen %llu log %llu..%llu", n->id, role_names[st.role],
         fmt_ballot(st.ballot, b1), fmt_ballot(st.promised, b2), st.leader_id, (unsigned long long)st.chosen_to,
         (unsigned long long)st.log_first, (unsigned long long)st.log_last);
    if (st.snapshot_slot) outf(" snap %llu", (unsigned long long)st.snapshot_slot);
    if (st.vote_blocked) outf(" vote-blocked");
    outf(" now %llu timer %llu", (unsigned long long)n->now_ms, (unsigned long long)n->deadline_ms);
    size_t len = n->sm.len;
    const char *sm = (const char *)n->sm.data;
    if (len > 60) { sm += len - 60; len = 60; outf(" applied %llu [...%.*s]", (unsigned long long)n->applied, (int)len, sm); }
    else outf(" applied %llu [%.*s]", (unsigned long long)n->applied, (int)len, sm ? sm : "");
    outf("\n");
}

/* `check`: every pair of replicas agrees on every slot both consider chosen. */
static void cmd_check(void) {
    size_t bad = 0, checked = 0;
    for (uint32_t a = 1; a <= g_n; a++)
        for (uint32_t b = a + 1; b <= g_n; b++) {
            if (!g_nodes[a].up || !g_nodes[b].up) continue;
            px_status sa, sb;
            px_replica_status(g_nodes[a].r, &sa);
            px_replica_status(g_nodes[b].r, &sb);
            uint64_t hi = PK_MIN(sa.chosen_to, sb.chosen_to);
            for (uint64_t s = PK_MAX(sa.log_first, sb.log_first); s <= hi; s++) {
                px_entry ea, eb;
                if (!px_chosen_get(g_nodes[a].r, s, &ea) || !px_chosen_get(g_nodes[b].r, s, &eb)) continue;
                checked++;
                if (!pk_slice_eq(ea.value, eb.value)) {
                    outf("VIOLATION slot %llu differs between %u and %u\n", (unsigned long long)s, a, b);
                    bad++;
                }
            }
        }
    if (!bad) outf("ok (%zu slot pairs agree)\n", checked);
}

/* Runs one command line and leaves its output in g_out. */
static void run_command(char *line) {
    char *argv[64];
    int argc = split(line, argv, 64);
    if (argc == 0) return;
    const char *c = argv[0];
    if (strcmp(c, "cluster") == 0) { cmd_cluster(argc, argv); return; }
    if (g_n == 0) { outf("error: no cluster\n"); return; }
    uint32_t a = argc > 1 ? node_arg(argv[1]) : 0;
    bool all = argc > 1 && strcmp(argv[1], "all") == 0;
    if (strcmp(c, "tick") == 0 && argc == 3 && (a || all)) {
        uint64_t ms = strtoull(argv[2], NULL, 10);
        for (uint32_t i = 1; i <= g_n; i++) {
            if ((!all && i != a) || !g_nodes[i].up) continue;
            g_nodes[i].now_ms += ms;
            step(&g_nodes[i], (px_event){.kind = PX_EV_TICK});
        }
    } else if (strcmp(c, "propose") == 0 && a && argc >= 3 && g_nodes[a].up) {
        for (int i = 2; i < argc; i++)
            step(&g_nodes[a], (px_event){.kind = PX_EV_PROPOSE, .u.propose.value = pk_slice_str(argv[i])});
    } else if (strcmp(c, "persist") == 0 && (a || all)) {
        for (uint32_t i = 1; i <= g_n; i++) {
            bool want = all;
            for (int k = 1; k < argc; k++) want = want || node_arg(argv[k]) == i;
            if (want) persist_node(&g_nodes[i]);
        }
    } else if ((strcmp(c, "deliver") == 0 || strcmp(c, "drop") == 0)) {
        uint32_t f = 0, t = 0;
        if (argc > 1 && strcmp(argv[1], "all") != 0 && !link_arg(argv[1], &f, &t)) { outf("error: bad link\n"); return; }
        deliver(f, t, c[1] == 'r');
    } else if (strcmp(c, "stabilize") == 0) {
        int round = 0;
        for (; round < MAX_ROUNDS; round++) {
            bool any = g_net_count > 0;
            for (uint32_t i = 1; i <= g_n; i++) any = any || (g_nodes[i].up && g_nodes[i].pend_count);
            if (!any) break;
            for (uint32_t i = 1; i <= g_n; i++) persist_node(&g_nodes[i]);
            deliver(0, 0, false);
        }
        if (round == MAX_ROUNDS) outf("error: not stable after %d rounds\n", MAX_ROUNDS);
    } else if (strcmp(c, "crash") == 0 && a) {
        crash_node(&g_nodes[a]);
        outf("%u: crashed\n", a);
    } else if (strcmp(c, "restart") == 0 && a && !g_nodes[a].up) {
        node *n = &g_nodes[a];
        bool lost = argc > 2 && strcmp(argv[2], "lost") == 0;
        if (lost) {
            for (size_t s = 0; s < n->log_cap; s++) { free(n->log[s].value); n->log[s] = (dslot){0}; }
            n->promised = (px_ballot){0, 0};
            n->snap_slot = 0;
            pk_buf_reset(&n->snap);
        }
        start_node(n, lost);
    } else if (strcmp(c, "partition") == 0) {
        memset(g_group, 0, sizeof g_group);
        uint32_t grp = 1;
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "|") == 0) { grp++; continue; }
            uint32_t id = node_arg(argv[i]);
            if (!id) { outf("error: bad node %s\n", argv[i]); return; }
            g_group[id] = grp;
        }
        outf("ok\n");
    } else if (strcmp(c, "heal") == 0) {
        memset(g_group, 0, sizeof g_group);
        outf("ok\n");
    } else if (strcmp(c, "snapshot") == 0 && a && g_nodes[a].up) {
        node *n = &g_nodes[a];
        unsigned long long pad = 0;
        if (argc > 2) sscanf(argv[2], "pad=%llu", &pad);
        char head[32];
        int hl = snprintf(head, sizeof head, "%llu|", (unsigned long long)n->applied);
        pk_buf_reset(&n->snap);
        pk_buf_append(&n->snap, head, (size_t)hl);
        pk_buf_append(&n->snap, n->sm.data ? (const char *)n->sm.data : "", n->sm.len);
        if (pad) { pk_buf_append(&n->snap, "#", 1); memset(pk_buf_extend(&n->snap, pad), '.', pad); }
        n->snap_slot = n->applied;
        outf("%u: snapshot slot %llu (%zu bytes)\n", a, (unsigned long long)n->applied, n->snap.len);
        step(n, (px_event){.kind = PX_EV_SNAPSHOT_TAKEN, .u.snapshot_taken = {n->applied, pk_buf_slice(&n->snap)}});
    } else if (strcmp(c, "status") == 0) {
        for (uint32_t i = 1; i <= g_n; i++)
            if (argc < 2 || i == a) out_status(&g_nodes[i]);
    } else if (strcmp(c, "log") == 0 && a && g_nodes[a].up) {
        px_status st;
        px_replica_status(g_nodes[a].r, &st);
        char b1[32], v[128];
        for (uint64_t s = st.log_first; s <= st.log_last; s++) {
            px_entry e;
            if (!px_replica_accepted(g_nodes[a].r, s, &e)) { outf("%llu: -\n", (unsigned long long)s); continue; }
            outf("%llu: %s %s%s\n", (unsigned long long)s, fmt_ballot(e.ballot, b1), fmt_value(e.value, v, sizeof v),
                 s <= st.chosen_to ? " chosen" : "");
        }
    } else if (strcmp(c, "check") == 0) {
        cmd_check();
    } else {
        outf("error: bad command\n");
    }
}

/* ---------------------------------------------------------------- script files */

/* Reads a whole file into a NUL-terminated string (NULL on error). */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    pk_buf b;
    pk_buf_init(&b);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) pk_buf_append(&b, tmp, n);
    fclose(f);
    pk_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* Runs one script; returns the number of mismatching blocks (rewrites the file when asked). */
static int run_file(const char *path, bool rewrite) {
    char *text = read_file(path);
    if (!text) { fprintf(stderr, "%s: %s\n", path, strerror(errno)); return 1; }
    pk_buf out;
    pk_buf_init(&out);
    int failures = 0, blocks = 0;
    char *p = text;
    size_t line_no = 0;
    while (*p) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = pk_strndup(p, len);
        p += len + (nl ? 1 : 0);
        line_no++;
        if (len == 0 || line[0] == '#') {
            pk_buf_append(&out, line, len);
            pk_buf_append(&out, "\n", 1);
            free(line);
            continue;
        }
        /* a command: expect ---- then expected output up to a blank line */
        size_t cmd_line = line_no;
        pk_buf expected;
        pk_buf_init(&expected);
        if (strncmp(p, "----\n", 5) == 0 || strcmp(p, "----") == 0) {
            p += strlen(p) >= 5 ? 5 : 4;
            line_no++;
            while (*p && *p != '\n') {
                char *e = strchr(p, '\n');
                size_t el = e ? (size_t)(e - p) + 1 : strlen(p);
                pk_buf_append(&expected, p, el);
                if (!e) pk_buf_append(&expected, "\n", 1);
                p += el;
                line_no++;
            }
        }
        char *cmd = pk_strndup(line, len);
        pk_buf_reset(&g_out);
        run_command(cmd);
        free(cmd);
        blocks++;
        if (!pk_slice_eq(pk_buf_slice(&g_out), pk_buf_slice(&expected))) {
            failures++;
            if (!rewrite) {
                fprintf(stderr, "%s:%zu: %s\n--- expected\n%.*s--- actual\n%.*s\n", path, cmd_line, line,
                        (int)expected.len, expected.data ? (char *)expected.data : "", (int)g_out.len,
                        g_out.data ? (char *)g_out.data : "");
            }
        }
        pk_buf_append(&out, line, len);
        pk_buf_append(&out, "\n----\n", 6);
        if (g_out.len) pk_buf_append(&out, g_out.data, g_out.len);
        pk_buf_deinit(&expected);
        free(line);
    }
    reset_all();
    if (rewrite) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
            fprintf(stderr, "%s: cannot write\n", path);
            failures = 1;
        } else {
            failures = 0;
        }
    }
    if (rewrite) printf("%s: %d blocks, rewritten\n", path, blocks);
    else printf("%s: %d blocks, %d failed\n", path, blocks, failures);
    pk_buf_deinit(&out);
    free(text);
    return failures;
}

/* Entry point: px-scenario [--rewrite] FILE... */
int main(int argc, char **argv) {
    bool rewrite = false;
    int failures = 0, files = 0;
    pk_buf_init(&g_out);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rewrite") == 0) { rewrite = true; continue; }
        failures += run_file(argv[i], rewrite);
        files++;
    }
    pk_buf_deinit(&g_out);
    if (files == 0) { fprintf(stderr, "usage: px-scenario [--rewrite] FILE...\n"); return 2; }
    return failures ? 1 : 0;
}
