/* sim_lin: Wing-Gong/Lowe linearizability search with memoization over a per-key ZooKeeper model. */
#include "sim_lin.h"

#include <stdio.h>
#include <stdlib.h>

#include "wire/proto.h"

/* The sequential model of one znode. */
typedef struct lin_state {
    bool exists;
    int64_t value;
    int32_t version;
    uint64_t owner;
} lin_state;

/* One call or return event in the search's linked list. */
typedef struct lin_entry {
    uint64_t t;
    uint32_t op;      /* index into the sub-history */
    uint32_t match;   /* the paired entry */
    bool is_call;
    uint32_t prev, next;
} lin_entry;

/* A saved search position: the call entry linearized and the state before it. */
typedef struct lin_frame {
    uint32_t entry;
    lin_state state;
} lin_frame;

/* The memo set of (linearized bitset, state) pairs seen. */
typedef struct lin_memo {
    uint32_t *slots;      /* 0 = empty, else 1 + record index */
    size_t slot_count;    /* power of two */
    uint64_t *arena;      /* records: words bitset words + 4 words of state */
    size_t records, record_cap;
    size_t words;         /* bitset words */
} lin_memo;

/* Applies op to state; returns true (and the next state) when the op's observed output is possible. */
static bool lin_step(const lin_state *s, const sim_lin_op *op, lin_state *next) {
    PK_ASSERT(op->kind >= SIM_LIN_CREATE && op->kind <= SIM_LIN_CLOSE);
    *next = *s;
    bool unknown = op->err == SIM_LIN_UNKNOWN;
    int32_t want = ZK_ERR_OK;
    switch (op->kind) {
    case SIM_LIN_CREATE:
        if (s->exists) { want = ZK_ERR_NODE_EXISTS; break; }
        if (unknown || op->err == ZK_ERR_OK) {
            next->exists = true; next->value = op->in_value; next->version = 0;
            next->owner = op->ephemeral ? op->session : 0;
        }
        break;
    case SIM_LIN_SET:
        if (!s->exists) { want = ZK_ERR_NO_NODE; break; }
        if (op->in_version != -1 && op->in_version != s->version) { want = ZK_ERR_BAD_VERSION; break; }
        if (!unknown && op->err == ZK_ERR_OK && op->out_version != s->version + 1) return false;
        next->value = op->in_value; next->version = s->version + 1;
        break;
    case SIM_LIN_DELETE:
        if (!s->exists) { want = ZK_ERR_NO_NODE; break; }
        if (op->in_version != -1 && op->in_version != s->version) { want = ZK_ERR_BAD_VERSION; break; }
        memset(next, 0, sizeof *next);
        break;
    case SIM_LIN_GET:
        if (!s->exists) { want = ZK_ERR_NO_NODE; break; }
        if (!unknown && op->err == ZK_ERR_OK && (op->out_value != s->value || op->out_version != s->version))
            return false;
        break;
    default: /* SIM_LIN_CLOSE */
        if (s->exists && s->owner != 0 && s->owner == op->session) memset(next, 0, sizeof *next);
        break;
    }
    if (unknown) return true;
    if (op->err != want) { *next = *s; return false; }
    return true;
}

/* Hashes a model state. */
static uint64_t lin_state_hash(const lin_state *s) {
    uint64_t w[4] = {s->exists, (uint64_t)s->value, (uint64_t)(uint32_t)s->version, s->owner};
    return pk_hash64(w, sizeof w, 0x5eed);
}

/* Returns the random Zobrist word for op i. */
static uint64_t lin_zobrist(uint32_t i) {
    return pk_hash64(&i, sizeof i, 0x7a0b);
}

/* Grows the memo's slot table to twice its size, reinserting every record. */
static void lin_memo_grow(lin_memo *m) {
    size_t nslots = m->slot_count * 2;
    uint32_t *slots = pk_calloc(nslots, sizeof *slots);
    size_t rec_words = m->words + 5;
    for (size_t r = 0; r < m->records; r++) {
        uint64_t h = m->arena[r * rec_words + m->words + 4];
        size_t i = h & (nslots - 1);
        for (size_t probe = 0; probe < nslots && slots[i] != 0; probe++) i = (i + 1) & (nslots - 1);
        PK_ASSERT(slots[i] == 0);
        slots[i] = (uint32_t)(r + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->slot_count = nslots;
    PK_ASSERT(m->records * 2 <= m->slot_count);
}

/* Inserts (bits, state) with hash h; returns false when it was already present. */
static bool lin_memo_add(lin_memo *m, const uint64_t *bits, const lin_state *s, uint64_t h) {
    PK_ASSERT(m->slot_count > 0);
    size_t rec_words = m->words + 5;
    uint64_t sw[4] = {s->exists, (uint64_t)s->value, (uint64_t)(uint32_t)s->version, s->owner};
    size_t i = h & (m->slot_count - 1);
    for (size_t probe = 0; probe < m->slot_count; probe++) {
        if (m->slots[i] == 0) break;
        const uint64_t *rec = m->arena + (size_t)(m->slots[i] - 1) * rec_words;
        if (rec[m->words + 4] == h && memcmp(rec, bits, m->words * 8) == 0 && memcmp(rec + m->words, sw, 32) == 0)
            return false;
        i = (i + 1) & (m->slot_count - 1);
    }
    PK_ASSERT(m->slots[i] == 0);
    if (m->records == m->record_cap) {
        m->record_cap = m->record_cap ? m->record_cap * 2 : 1024;
        m->arena = pk_realloc(m->arena, m->record_cap * rec_words * 8);
    }
    uint64_t *rec = m->arena + m->records * rec_words;
    memcpy(rec, bits, m->words * 8);
    memcpy(rec + m->words, sw, 32);
    rec[m->words + 4] = h;
    m->records++;
    m->slots[i] = (uint32_t)m->records;
    if (m->records * 2 > m->slot_count) lin_memo_grow(m);
    return true;
}

/* Orders entries by time, calls before returns at equal times, then by op index. */
static int lin_entry_cmp(const void *a, const void *b) {
    const lin_entry *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->is_call != y->is_call) return x->is_call ? -1 : 1;
    return x->op < y->op ? -1 : (x->op > y->op);
}

/* Removes call entry e and its return from the list. */
static void lin_lift(lin_entry *e, uint32_t c) {
    uint32_t r = e[c].match;
    e[e[c].prev].next = e[c].next; e[e[c].next].prev = e[c].prev;
    e[e[r].prev].next = e[r].next; e[e[r].next].prev = e[r].prev;
}

/* Puts call entry e and its return back where they were (inverse of lin_lift). */
static void lin_unlift(lin_entry *e, uint32_t c) {
    uint32_t r = e[c].match;
    e[e[r].prev].next = r; e[e[r].next].prev = r;
    e[e[c].prev].next = c; e[e[c].next].prev = c;
}

/* Builds the sorted, linked entry list for sub-history sub[0..n); the sentinel is entry 2n. */
static lin_entry *lin_build(const sim_lin_op *sub, uint32_t n) {
    lin_entry *e = pk_calloc(2 * (size_t)n + 1, sizeof *e);
    for (uint32_t i = 0; i < n; i++) {
        PK_ASSERT(sub[i].ret_t > sub[i].call_t);
        e[2 * i] = (lin_entry){.t = sub[i].call_t, .op = i, .is_call = true};
        e[2 * i + 1] = (lin_entry){.t = sub[i].ret_t, .op = i, .is_call = false};
    }
    qsort(e, 2 * (size_t)n, sizeof *e, lin_entry_cmp);
    uint32_t *call_at = pk_calloc(n ? n : 1, sizeof *call_at);
    uint32_t total = 2 * n;
    for (uint32_t k = 0; k < total; k++) {
        if (e[k].is_call) call_at[e[k].op] = k;
        else { e[k].match = call_at[e[k].op]; e[call_at[e[k].op]].match = k; }
        e[k].prev = k == 0 ? total : k - 1;
        e[k].next = k + 1;
    }
    e[total].next = total ? 0 : total;
    e[total].prev = total ? total - 1 : total;
    if (total) e[total - 1].next = total;
    free(call_at);
    return e;
}

/* Checks one key's sub-history; returns the result and the longest linearized prefix and steps used. */
static sim_lin_result lin_check_one(const sim_lin_op *sub, uint32_t n, uint64_t budget, size_t *max_lin,
                                    uint64_t *steps, uint32_t *best) {
    PK_ASSERT(n <= SIM_LIN_MAX_OPS);
    lin_entry *e = lin_build(sub, n);
    uint32_t head = 2 * n; /* sentinel */
    lin_memo m = {.words = (n + 63) / 64 + 1, .slot_count = 4096};
    m.slots = pk_calloc(m.slot_count, sizeof *m.slots);
    uint64_t *bits = pk_calloc(m.words, 8);
    lin_frame *stack = pk_calloc(n + 1, sizeof *stack);
    size_t depth = 0;
    lin_state state = {0};
    uint64_t zob = 0;
    sim_lin_result res = SIM_LIN_OK;
    uint32_t cur = e[head].next;
    *max_lin = 0;
    while (cur != head) {
        if (++*steps > budget) { res = SIM_LIN_INCONCLUSIVE; break; }
        if (e[cur].is_call) {
            lin_state next;
            uint32_t op = e[cur].op;
            bool ok = lin_step(&state, &sub[op], &next);
            if (ok) {
                bits[op / 64] |= 1ull << (op % 64);
                uint64_t z = zob ^ lin_zobrist(op);
                if (lin_memo_add(&m, bits, &next, z ^ lin_state_hash(&next))) {
                    stack[depth++] = (lin_frame){cur, state};
                    state = next;
                    zob = z;
                    lin_lift(e, cur);
                    if (depth > *max_lin) {
                        *max_lin = depth;
                        for (size_t k = 0; best && k < depth; k++) best[k] = e[stack[k].entry].op;
                    }
                    cur = e[head].next;
                    continue;
                }
                bits[op / 64] &= ~(1ull << (op % 64));
            }
            cur = e[cur].next;
        } else {
            if (depth == 0) { res = SIM_LIN_VIOLATION; break; }
            lin_frame f = stack[--depth];
            uint32_t op = e[f.entry].op;
            state = f.state;
            bits[op / 64] &= ~(1ull << (op % 64));
            zob ^= lin_zobrist(op);
            lin_unlift(e, f.entry);
            cur = e[f.entry].next;
        }
    }
    PK_ASSERT(res != SIM_LIN_OK || depth == n);
    free(e); free(m.slots); free(m.arena); free(bits); free(stack);
    return res;
}

/* Checks ops[0..count) (any order); budget bounds search steps per key. Fills *rep (keeping rep->best, which * may be NULL) and returns rep->result. */
sim_lin_result sim_lin_check(const sim_lin_op *ops, size_t count, uint64_t budget, sim_lin_report *rep) {
    PK_ASSERT(count <= SIM_LIN_MAX_OPS);
    PK_ASSERT(rep != NULL);
    uint32_t *best = rep->best;
    memset(rep, 0, sizeof *rep);
    rep->best = best;
    rep->key = -1;
    sim_lin_op *sub = pk_calloc(count ? count : 1, sizeof *sub);
    uint32_t *orig = pk_calloc(count ? count : 1, sizeof *orig);
    uint32_t *sub_best = pk_calloc(count ? count : 1, sizeof *sub_best);
    for (int key = 0; key < SIM_LIN_MAX_KEYS; key++) {
        uint32_t n = 0;
        bool any = false;
        for (size_t i = 0; i < count; i++) {
            bool mine = ops[i].kind == SIM_LIN_CLOSE || ops[i].key == key;
            if (!mine) continue;
            any |= ops[i].kind != SIM_LIN_CLOSE;
            orig[n] = (uint32_t)i;
            sub[n++] = ops[i];
        }
        if (!any) continue;
        size_t max_lin = 0;
        sim_lin_result r = lin_check_one(sub, n, budget, &max_lin, &rep->steps, sub_best);
        if (r != SIM_LIN_OK) {
            rep->result = r; rep->key = key; rep->key_ops = n; rep->max_linearized = max_lin;
            for (size_t i = 0; best && i < max_lin; i++) best[i] = orig[sub_best[i]];
            break;
        }
    }
    free(sub); free(orig); free(sub_best);
    return rep->result;
}

/* Writes a one-line readable form of op into buf (for traces and failure reports). */
void sim_lin_op_format(const sim_lin_op *op, char *buf, size_t len) {
    static const char *names[] = {"?", "create", "set", "delete", "get", "close"};
    PK_ASSERT(op->kind <= SIM_LIN_CLOSE);
    PK_ASSERT(len > 0);
    char ret[32], err[24];
    if (op->ret_t == SIM_LIN_NEVER) snprintf(ret, sizeof ret, "inf");
    else snprintf(ret, sizeof ret, "%llu", (unsigned long long)op->ret_t);
    if (op->err == SIM_LIN_UNKNOWN) snprintf(err, sizeof err, "unknown");
    else snprintf(err, sizeof err, "%d", op->err);
    snprintf(buf, len, "[%llu,%s] s=%llx %s /k%u%s in=(v%lld ver%d) -> err=%s out=(v%lld ver%d)",
             (unsigned long long)op->call_t, ret, (unsigned long long)op->session, names[op->kind], op->key,
             op->ephemeral ? " eph" : "", (long long)op->in_value, op->in_version, err,
             (long long)op->out_value, op->out_version);
}
