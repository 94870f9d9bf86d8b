/* sim_client: simulated ZooKeeper clients issuing create, conditional setData, delete, getData, sync+getData
 * and closeSession against the leader, recording a history for sim_lin and checking monotonic reads. */
#include <stdlib.h>

#include "sim_int.h"
#include "wire/records.h"

#define SIM_CLIENT_TIMEOUT_MS 600
#define SIM_CLIENT_RETRY_MS 7

static const char *const sim_key_paths[SIM_KEYS] = {"/k0", "/k1", "/k2", "/k3"};

/* Sends (or resends) the client's current request to its target node. */
static void client_send(sim_world *w, sim_client *c) {
    PK_ASSERT(c->state == SIM_C_WAIT);
    PK_ASSERT(c->target >= 1 && c->target <= w->n);
    sim_msg *m = sim_msg_new(SIM_MSG_REQ);
    m->to = c->target;
    m->client = c->id;
    m->req_id = ++c->req_id;
    m->session = c->session;
    m->op = c->zk_op;
    m->zxid = c->max_zxid;
    m->lin_read = c->kind == SIM_K_SYNC_GET;
    pk_buf_append(&m->bytes, c->body.data, c->body.len);
    c->attempts++;
    c->next_at = 0;
    if (!w->healed && w->client_drop_pm && pk_prng_below(&w->prng, 1000) < w->client_drop_pm) {
        pk_buf_deinit(&m->bytes); /* the request is lost: the client times out (unknown outcome) */
        free(m);
        return;
    }
    sim_msg_push(w, m, 1 + pk_prng_below(&w->prng, 2));
}

/* Encodes an 8-byte value as znode data. */
static void client_value(uint8_t out[8], int64_t v) {
    pk_put_u64(out, (uint64_t)v);
}

/* Builds the request body of the current op (c->kind, c->op.key, ...). */
static void client_build(sim_world *w, sim_client *c) {
    pk_buf_reset(&c->body);
    static uint8_t data[8];
    client_value(data, c->op.in_value);
    pk_slice path = pk_slice_str(sim_key_paths[c->op.key]);
    switch (c->kind) {
    case SIM_K_SESSION: c->zk_op = ZK_OP_CREATE_SESSION; break;
    case SIM_K_CLOSE: c->zk_op = ZK_OP_CLOSE_SESSION; break;
    case SIM_K_CREATE: {
        struct wire_acl acl = {31, {pk_slice_str("world"), pk_slice_str("anyone")}};
        struct wire_create_request r = {path, {data, 8}, {1, &acl, {0}}, c->op.ephemeral ? 1 : 0};
        wire_create_request_encode(&c->body, &r);
        c->zk_op = ZK_OP_CREATE;
        break;
    }
    case SIM_K_SET: {
        struct wire_set_data_request r = {path, {data, 8}, c->op.in_version};
        wire_set_data_request_encode(&c->body, &r);
        c->zk_op = ZK_OP_SET_DATA;
        break;
    }
    case SIM_K_DELETE: {
        struct wire_delete_request r = {path, c->op.in_version};
        wire_delete_request_encode(&c->body, &r);
        c->zk_op = ZK_OP_DELETE;
        break;
    }
    case SIM_K_SYNC_GET:
        if (c->phase == 0) {
            struct wire_sync_request r = {path};
            wire_sync_request_encode(&c->body, &r);
            c->zk_op = ZK_OP_SYNC;
            break;
        }
        __attribute__((fallthrough)); /* phase 1 is a getData */
    default: {
        struct wire_get_data_request r = {path, false};
        wire_get_data_request_encode(&c->body, &r);
        c->zk_op = ZK_OP_GET_DATA;
        break;
    }
    }
    (void)w;
}

/* Picks and starts the next op. */
static void client_start(sim_world *w, sim_client *c) {
    PK_ASSERT(c->state == SIM_C_IDLE);
    memset(&c->op, 0, sizeof c->op);
    c->op.session = c->session;
    c->op.key = (uint8_t)pk_prng_below(&w->prng, SIM_KEYS);
    c->op.in_value = (int64_t)++w->value_counter;
    c->phase = 0;
    c->attempts = 0;
    uint64_t r = pk_prng_below(&w->prng, 100);
    if (c->session == 0) c->kind = SIM_K_SESSION;
    else if (r < 20) { c->kind = SIM_K_CREATE; c->op.kind = SIM_LIN_CREATE; c->op.ephemeral = r < 8; }
    else if (r < 45) {
        c->kind = SIM_K_SET; c->op.kind = SIM_LIN_SET;
        c->op.in_version = pk_prng_chance(&w->prng, 1, 4) ? -1 : c->known_version[c->op.key];
    } else if (r < 55) {
        c->kind = SIM_K_DELETE; c->op.kind = SIM_LIN_DELETE;
        c->op.in_version = pk_prng_chance(&w->prng, 1, 2) ? -1 : c->known_version[c->op.key];
    } else if (r < 72) { c->kind = SIM_K_GET; }
    else if (r < 97) { c->kind = SIM_K_SYNC_GET; c->op.kind = SIM_LIN_GET; }
    else { c->kind = SIM_K_CLOSE; c->op.kind = SIM_LIN_CLOSE; }
    c->op.call_t = ++w->ev_seq;
    /* plain reads go to any server half of the time (served locally there, never behind the session) */
    if (c->kind == SIM_K_GET && pk_prng_chance(&w->prng, 1, 2)) c->target = 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
#ifdef SIM_MUTANT_SYNC_LOCAL
    if (c->kind == SIM_K_GET || c->kind == SIM_K_SYNC_GET) c->target = 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
#endif
    c->state = SIM_C_WAIT;
    c->deadline = w->now + SIM_CLIENT_TIMEOUT_MS;
    client_build(w, c);
    client_send(w, c);
}

/* Appends the current op to the history with its outcome. */
static void client_record(sim_world *w, sim_client *c, bool unknown) {
    PK_ASSERT(c->op.kind >= SIM_LIN_CREATE && c->op.kind <= SIM_LIN_CLOSE);
    if (w->history_count >= SIM_LIN_MAX_OPS) return;
    if (unknown) { c->op.ret_t = SIM_LIN_NEVER; c->op.err = SIM_LIN_UNKNOWN; }
    else c->op.ret_t = ++w->ev_seq;
    w->history[w->history_count++] = c->op;
    if (w->opt.trace) {
        char buf[256];
        sim_lin_op_format(&c->op, buf, sizeof buf);
        sim_trace(w, "c%u history %s", c->id, buf);
    }
}

/* Finishes the current op: records it (writes and sync+get) and goes idle for a think time. */
static void client_finish(sim_world *w, sim_client *c, bool unknown) {
    PK_ASSERT(c->state == SIM_C_WAIT);
    w->res->client_ops++;
    if (c->kind == SIM_K_SESSION) {
        if (unknown) c->session = 0;
    } else if (c->kind == SIM_K_GET || (c->kind == SIM_K_SYNC_GET && unknown)) {
        /* plain reads are checked for monotonicity only; a sync+get without result tells nothing */
    } else {
        client_record(w, c, unknown);
        if (c->kind == SIM_K_CLOSE) c->session = 0;
    }
    if (unknown && c->kind != SIM_K_GET && c->kind != SIM_K_SYNC_GET && w->healed && c->kind != SIM_K_SESSION)
        sim_trace(w, "c%u op unknown after heal", c->id);
    c->state = SIM_C_IDLE;
    c->next_at = w->now + pk_prng_below(&w->prng, 12);
}

/* Decodes data+stat of a getData reply into value and version; false if malformed. */
static bool client_decode_get(const pk_buf *body, int64_t *value, int32_t *version, int64_t *mzxid) {
    jute_reader r;
    jute_reader_init(&r, body->data, body->len, 1 << 20);
    struct wire_get_data_response g;
    if (wire_get_data_response_decode(&r, &g) != 0 || g.data.len != 8) return false;
    *value = (int64_t)pk_get_u64(g.data.ptr);
    *version = g.stat.version;
    *mzxid = g.stat.mzxid;
    return true;
}

/* Handles a definite ZooKeeper reply (not a pseudo code). */
static void client_result(sim_world *w, sim_client *c, const sim_msg *m) {
    if (w->healed && c->op.call_t > w->heal_ev && c->kind != SIM_K_GET && c->kind != SIM_K_SYNC_GET)
        w->live_commit = true;
    if (m->err == ZK_ERR_OK && m->kind == SIM_MSG_REPLY && c->zk_op != ZK_OP_SYNC) {
        bool is_read = c->zk_op == ZK_OP_GET_DATA;
        if (is_read && m->zxid < c->max_zxid)
            sim_fail(w, "c%u session %llx: read went back in time: reply zxid %llx < seen %llx (node %u)", c->id,
                     (unsigned long long)c->session, (unsigned long long)m->zxid, (unsigned long long)c->max_zxid,
                     m->from);
        if (m->zxid > c->max_zxid) c->max_zxid = m->zxid;
    }
    if (c->kind == SIM_K_SESSION) {
        if (m->err == ZK_ERR_OK) c->session = m->session;
        else sim_fail(w, "c%u: createSession failed with %d", c->id, m->err);
        client_finish(w, c, false);
        return;
    }
    c->op.err = m->err;
    if (c->kind == SIM_K_SYNC_GET && c->phase == 0) {
        if (m->err != ZK_ERR_OK) sim_fail(w, "c%u: sync failed with %d", c->id, m->err);
        c->phase = 1;
        client_build(w, c);
        client_send(w, c);
        return;
    }
    if (c->zk_op == ZK_OP_GET_DATA && m->err == ZK_ERR_OK) {
        int64_t mzxid = 0;
        if (!client_decode_get(&m->bytes, &c->op.out_value, &c->op.out_version, &mzxid))
            sim_fail(w, "c%u: malformed getData reply", c->id);
        if ((uint64_t)mzxid > m->zxid) sim_fail(w, "c%u: getData mzxid %llx above reply zxid %llx", c->id,
                                                (unsigned long long)mzxid, (unsigned long long)m->zxid);
        c->known_version[c->op.key] = c->op.out_version;
    }
    if (c->kind == SIM_K_SET && m->err == ZK_ERR_OK) {
        jute_reader r;
        jute_reader_init(&r, m->bytes.data, m->bytes.len, 1 << 20);
        struct wire_set_data_response s;
        if (wire_set_data_response_decode(&r, &s) != 0) sim_fail(w, "c%u: malformed setData reply", c->id);
        c->op.out_version = s.stat.version;
        c->known_version[c->op.key] = s.stat.version;
    }
    if (c->kind == SIM_K_CREATE && m->err == ZK_ERR_OK) c->known_version[c->op.key] = 0;
    client_finish(w, c, false);
}

/* Handles a reply for a client. */
void sim_client_on_reply(sim_world *w, sim_client *c, const sim_msg *m) {
    PK_ASSERT(m->kind == SIM_MSG_REPLY);
    if (c->state != SIM_C_WAIT || m->req_id != c->req_id) return; /* stale */
    switch (m->err) {
    case SIM_REP_NOT_LEADER:
        c->target = m->hint ? m->hint : 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
        c->next_at = w->now + SIM_CLIENT_RETRY_MS;
        c->req_id++; /* nothing outstanding; resend at next_at */
        return;
    case SIM_REP_REFUSED:
        c->target = 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
        c->next_at = w->now + SIM_CLIENT_RETRY_MS;
        c->req_id++;
        return;
    case SIM_REP_RETRY:
        c->next_at = w->now + SIM_CLIENT_RETRY_MS;
        c->req_id++;
        return;
    case SIM_REP_LOST:
        client_finish(w, c, true);
        return;
    default:
        client_result(w, c, m);
    }
}

/* Runs a client's time-driven work: start the next op, resend, time out. */
void sim_client_tick(sim_world *w, sim_client *c) {
    if (c->state == SIM_C_IDLE) {
        if (w->now >= c->next_at) client_start(w, c);
        return;
    }
    if (w->now >= c->deadline) {
        client_finish(w, c, true);
        c->target = 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
        return;
    }
    /* a request bounced (NOT_LEADER/RETRY/REFUSED) bumps req_id; resend when due */
    if (c->next_at != 0 && w->now >= c->next_at) client_send(w, c);
}

/* Ends the run for a client: an op still in flight is recorded with an unknown outcome. */
void sim_client_end(sim_world *w, sim_client *c) {
    if (c->state == SIM_C_WAIT) client_finish(w, c, true); /* in flight at the end: unknown outcome */
    PK_ASSERT(c->state == SIM_C_IDLE);
}

/* Tells the client its node crashed (an outstanding op becomes unknown). */
void sim_client_node_down(sim_world *w, sim_client *c, uint32_t node) {
    if (c->state != SIM_C_WAIT || c->target != node || c->next_at != 0) return;
    client_finish(w, c, true);
    c->target = 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
}

/* Initializes client `id`. */
void sim_client_init(sim_world *w, sim_client *c, uint32_t id) {
    PK_ASSERT(id < SIM_MAX_CLIENTS);
    memset(c, 0, sizeof *c);
    c->id = id;
    c->target = 1 + (uint32_t)pk_prng_below(&w->prng, w->n);
    c->next_at = pk_prng_below(&w->prng, 20);
    for (int k = 0; k < SIM_KEYS; k++) c->known_version[k] = -1;
    pk_buf_init(&c->body);
}

/* Frees a client. */
void sim_client_deinit(sim_client *c) {
    pk_buf_deinit(&c->body);
}
