/* Unit tests for px: ballot ordering, the quorum predicate, and the single-node (ensemble of one) path. */
#include <criterion/criterion.h>

#include "px/px.h"

/* Builds a config for `n` voters 1..n as seen by `self`. */
static px_config cfg_n(uint32_t self, uint32_t n) {
    px_config c = {0};
    c.self_id = self;
    c.node_count = n;
    for (uint32_t i = 0; i < n; i++) c.node_ids[i] = i + 1;
    c.heartbeat_interval_ms = 50;
    c.election_timeout_ms = 300;
    c.window_slots = 4;
    c.seed = 7;
    return c;
}

Test(px_ballot, ordering) {
    px_ballot a = {1, 1}, b = {1, 2}, c = {2, 1}, none = {0, 0};
    cr_assert_lt(px_ballot_cmp(a, b), 0);
    cr_assert_gt(px_ballot_cmp(b, a), 0);
    cr_assert_lt(px_ballot_cmp(b, c), 0, "round dominates node id");
    cr_assert_eq(px_ballot_cmp(c, (px_ballot){2, 1}), 0);
    cr_assert_lt(px_ballot_cmp(none, a), 0);
    cr_assert_lt(px_ballot_cmp((px_ballot){1, 255}, (px_ballot){2, 0}), 0);
}

Test(px_quorum, majority) {
    px_config c = cfg_n(1, 3);
    cr_assert(!px_quorum_ok(&c, 1, 1));
    cr_assert(px_quorum_ok(&c, 1, 2));
    cr_assert(px_quorum_ok(&c, 2, 2));
    cr_assert(px_quorum_ok(&c, 2, 3));
    c = cfg_n(1, 5);
    cr_assert(!px_quorum_ok(&c, 2, 2));
    cr_assert(px_quorum_ok(&c, 2, 3));
    c = cfg_n(1, 4);
    cr_assert(!px_quorum_ok(&c, 1, 2), "4 nodes need 3");
    cr_assert(px_quorum_ok(&c, 1, 3));
    c = cfg_n(1, 1);
    cr_assert(px_quorum_ok(&c, 1, 1));
    cr_assert(px_quorum_ok(&c, 2, 1));
    cr_assert(!px_quorum_ok(&c, 2, 0));
}

Test(px_quorum, flexible) {
    px_config c = cfg_n(1, 5);
    c.phase1_quorum = 4;
    c.phase2_quorum = 2;
    cr_assert(!px_quorum_ok(&c, 1, 3));
    cr_assert(px_quorum_ok(&c, 1, 4));
    cr_assert(px_quorum_ok(&c, 2, 2));
    cr_assert(!px_quorum_ok(&c, 2, 1));
    /* every phase-1 quorum meets every phase-2 quorum */
    for (uint32_t q1 = 1; q1 <= 5; q1++)
        for (uint32_t q2 = 1; q2 <= 5; q2++) {
            c.phase1_quorum = q1;
            c.phase2_quorum = q2;
            if (q1 + q2 <= 5) continue;
            for (uint32_t a = 0; a <= 5; a++)
                for (uint32_t b = 0; b <= 5; b++)
                    if (px_quorum_ok(&c, 1, a) && px_quorum_ok(&c, 2, b)) cr_assert_gt(a + b, 5u);
        }
}

/* Steps one event on r. */
static void step(px_replica *r, px_event ev, px_update *u) { px_step(r, &ev, u); }

Test(px_single, start_propose_persist_chosen) {
    px_config c = cfg_n(1, 1);
    px_replica *r = px_replica_new(&c);
    px_durable d = {0};
    px_update u;
    step(r, (px_event){.kind = PX_EV_START, .now_ms = 0, .u.start = &d}, &u);
    cr_assert_eq(u.role, PX_LEADER);
    cr_assert_eq(u.leader_id, 1u);
    cr_assert(u.persist_promise);
    cr_assert_eq(u.promise.round, 1u);
    cr_assert_eq(u.promise.node, 1u);
    cr_assert_neq(u.persist_token, 0u);
    cr_assert_eq(u.send_count, 0u);
    uint64_t t0 = u.persist_token;

    step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 1, .u.propose.value = pk_slice_str("hello")}, &u);
    cr_assert_eq(u.propose_status, PX_PROPOSE_OK);
    cr_assert_eq(u.propose_slot, 1u);
    cr_assert_eq(u.persist_count, 1u);
    cr_assert_eq(u.persist_entries[0].slot, 1u);
    cr_assert(pk_slice_eq(u.persist_entries[0].value, pk_slice_str("hello")));
    cr_assert_eq(u.chosen_to, 0u, "not chosen before its accept is durable");
    uint64_t t1 = u.persist_token;
    cr_assert_gt(t1, t0);

    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 2, .u.persisted.token = t0}, &u);
    cr_assert_eq(u.chosen_to, 0u);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 2, .u.persisted.token = t1}, &u);
    cr_assert_eq(u.chosen_to, 1u);
    px_entry e;
    cr_assert(px_chosen_get(r, 1, &e));
    cr_assert(pk_slice_eq(e.value, pk_slice_str("hello")));
    cr_assert(!px_chosen_get(r, 2, &e));

    /* window of 4; tokens reported out of order: chosen only up to the first unreported one */
    uint64_t tok[4];
    for (int i = 0; i < 4; i++) {
        step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 3, .u.propose.value = pk_slice_str("v")}, &u);
        cr_assert_eq(u.propose_status, PX_PROPOSE_OK);
        tok[i] = u.persist_token;
    }
    step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 3, .u.propose.value = pk_slice_str("v")}, &u);
    cr_assert_eq(u.propose_status, PX_PROPOSE_FULL);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 4, .u.persisted.token = tok[3]}, &u);
    cr_assert_eq(u.chosen_to, 1u, "slot 5's token reported, but slots 2..4 are not durable yet");
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 4, .u.persisted.token = tok[1]}, &u);
    cr_assert_eq(u.chosen_to, 1u);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 4, .u.persisted.token = tok[0]}, &u);
    cr_assert_eq(u.chosen_to, 3u, "slots 2 and 3 durable");
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 4, .u.persisted.token = tok[2]}, &u);
    cr_assert_eq(u.chosen_to, 5u);
    step(r, (px_event){.kind = PX_EV_TICK, .now_ms = 1000}, &u);
    cr_assert_eq(u.role, PX_LEADER, "an ensemble of one never steps down");
    cr_assert_gt(u.next_deadline_ms, 1000u);
    px_replica_free(r);
}

Test(px_single, restart_reproposes_accepted) {
    px_config c = cfg_n(1, 1);
    px_replica *r = px_replica_new(&c);
    px_entry acc[2] = {{1, {1, 1}, pk_slice_str("a")}, {3, {1, 1}, pk_slice_str("c")}};
    px_durable d = {.promised = {1, 1}, .accepted = acc, .accepted_count = 2};
    px_update u;
    step(r, (px_event){.kind = PX_EV_START, .now_ms = 0, .u.start = &d}, &u);
    cr_assert_eq(u.role, PX_LEADER);
    cr_assert_eq(u.promise.round, 2u);
    cr_assert_eq(u.chosen_to, 1u, "durably accepted by the only acceptor: chosen");
    cr_assert_eq(u.persist_count, 2u, "after the gap, slots 2..3 re-proposed, 2 as a no-op");
    cr_assert_eq(u.persist_entries[0].slot, 2u);
    cr_assert_eq(u.persist_entries[0].value.len, 0u);
    cr_assert_eq(u.persist_entries[1].ballot.round, 2u);
    cr_assert(pk_slice_eq(u.persist_entries[1].value, pk_slice_str("c")));
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 1, .u.persisted.token = u.persist_token}, &u);
    cr_assert_eq(u.chosen_to, 3u);
    step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 1, .u.propose.value = pk_slice_str("d")}, &u);
    cr_assert_eq(u.propose_slot, 4u);
    px_replica_free(r);
}

Test(px_single, applied_frees_entries) {
    px_config c = cfg_n(1, 1);
    px_replica *r = px_replica_new(&c);
    px_durable d = {0};
    px_update u;
    step(r, (px_event){.kind = PX_EV_START, .now_ms = 0, .u.start = &d}, &u);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 0, .u.persisted.token = u.persist_token}, &u);
    uint64_t tok[3];
    for (int i = 0; i < 3; i++) {
        step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 1, .u.propose.value = pk_slice_str("abc")}, &u);
        cr_assert_eq(u.propose_slot, (uint64_t)i + 1);
        tok[i] = u.persist_token;
    }
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 2, .u.persisted.token = tok[0]}, &u);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 2, .u.persisted.token = tok[1]}, &u);
    cr_assert_eq(u.chosen_to, 2u);
    px_entry e;
    cr_assert(px_chosen_get(r, 1, &e));
    step(r, (px_event){.kind = PX_EV_APPLIED, .now_ms = 3, .u.applied.slot = 1}, &u);
    cr_assert_eq(u.persist_count, 0u);
    cr_assert_eq(u.chosen_to, 2u);
    cr_assert(!px_chosen_get(r, 1, &e), "an ensemble of one frees an applied entry");
    cr_assert(px_chosen_get(r, 2, &e), "slot 2 is chosen but not applied yet");
    px_status st;
    px_replica_status(r, &st);
    cr_assert_eq(st.log_first, 2u);
    cr_assert_eq(st.log_last, 3u, "the unchosen slot 3 stays");
    step(r, (px_event){.kind = PX_EV_APPLIED, .now_ms = 3, .u.applied.slot = 2}, &u);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 4, .u.persisted.token = tok[2]}, &u);
    cr_assert_eq(u.chosen_to, 3u, "the unchosen tail is still chosen after the applied prefix was freed");
    cr_assert(px_chosen_get(r, 3, &e));
    cr_assert(pk_slice_eq(e.value, pk_slice_str("abc")));
    step(r, (px_event){.kind = PX_EV_APPLIED, .now_ms = 5, .u.applied.slot = 3}, &u);
    px_replica_status(r, &st);
    cr_assert_eq(st.log_first, 4u);
    cr_assert_eq(st.log_last, 3u, "empty");
    step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 6, .u.propose.value = pk_slice_str("x")}, &u);
    cr_assert_eq(u.propose_slot, 4u, "slots go on after the log was emptied");
    px_replica_free(r);
}

Test(px_single, follower_rejects_propose) {
    px_config c = cfg_n(2, 3);
    px_replica *r = px_replica_new(&c);
    px_durable d = {0};
    px_update u;
    step(r, (px_event){.kind = PX_EV_START, .now_ms = 0, .u.start = &d}, &u);
    cr_assert_eq(u.role, PX_FOLLOWER);
    cr_assert_geq(u.next_deadline_ms, 300u);
    cr_assert_lt(u.next_deadline_ms, 600u);
    step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 1, .u.propose.value = pk_slice_str("x")}, &u);
    cr_assert_eq(u.propose_status, PX_PROPOSE_NOT_LEADER);
    cr_assert_eq(u.leader_id, 0u);
    px_replica_free(r);
}

/* Finds the first send to `to` of message type `type` in an update, starting at index *from. */
static bool find_send(const px_update *u, uint32_t to, uint8_t type, size_t *from, px_msg *m) {
    for (size_t i = *from; i < u->send_count; i++) {
        if (u->sends[i].to != to) continue;
        cr_assert_eq(px_msg_decode(u->sends[i].bytes, m), PK_OK);
        if (m->type != type) continue;
        *from = i + 1;
        return true;
    }
    return false;
}

/* Copies every send of an update (bytes live only until the next step). */
static pk_buf *copy_sends(const px_update *u, size_t *n) {
    pk_buf *b = pk_calloc(u->send_count + 1, sizeof *b);
    for (size_t i = 0; i < u->send_count; i++) {
        pk_buf_init(&b[i]);
        pk_buf_append(&b[i], u->sends[i].bytes.ptr, u->sends[i].bytes.len);
    }
    *n = u->send_count;
    return b;
}

/* A Promise for more than PX_MAX_MSG_ENTRIES accepted slots arrives in chunks; the candidate counts the acceptor
 * only after the last chunk, and only when every chunk arrived in order. */
static void chunked_promise(bool reorder) {
    enum { N = PX_MAX_MSG_ENTRIES + 904 };
    px_config c1 = cfg_n(1, 3), c2 = cfg_n(2, 3);
    c1.window_slots = c2.window_slots = 8;
    px_replica *r1 = px_replica_new(&c1), *r2 = px_replica_new(&c2);
    px_entry *acc = pk_calloc(N, sizeof *acc);
    for (uint32_t i = 0; i < N; i++) acc[i] = (px_entry){i + 1, {1, 3}, pk_slice_str(i % 7 ? "x" : "")};
    px_durable d1 = {0}, d2 = {.promised = {1, 3}, .accepted = acc, .accepted_count = N};
    px_update u;
    step(r1, (px_event){.kind = PX_EV_START, .now_ms = 0, .u.start = &d1}, &u);
    step(r2, (px_event){.kind = PX_EV_START, .now_ms = 0, .u.start = &d2}, &u);
    step(r1, (px_event){.kind = PX_EV_TICK, .now_ms = 1000}, &u);
    cr_assert_eq(u.role, PX_CANDIDATE);
    cr_assert_eq(u.ballot.round, 1u);
    uint64_t t1 = u.persist_token;
    size_t at = 0, nprep;
    px_msg m;
    cr_assert(find_send(&u, 2, PX_MSG_PREPARE, &at, &m));
    pk_buf *prep = copy_sends(&u, &nprep);
    step(r1, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 1000, .u.persisted.token = t1}, &u);
    cr_assert_eq(u.role, PX_CANDIDATE, "its own promise alone is not a quorum");
    /* ballot 1.1 is below node 2's promise 1.3: nacked, node 1 backs off and retries with round 2 */
    step(r2, (px_event){.kind = PX_EV_MESSAGE, .now_ms = 0, .u.message = {1, pk_buf_slice(&prep[at - 1])}}, &u);
    at = 0;
    cr_assert(find_send(&u, 1, PX_MSG_NACK, &at, &m));
    for (size_t i = 0; i < nprep; i++) pk_buf_deinit(&prep[i]);
    free(prep);
    step(r1, (px_event){.kind = PX_EV_MESSAGE, .now_ms = 1001, .u.message = {2, u.sends[at - 1].bytes}}, &u);
    cr_assert_eq(u.role, PX_FOLLOWER);
    step(r1, (px_event){.kind = PX_EV_TICK, .now_ms = 3000}, &u);
    cr_assert_eq(u.role, PX_CANDIDATE);
    cr_assert_eq(u.ballot.round, 2u);
    t1 = u.persist_token;
    at = 0;
    cr_assert(find_send(&u, 2, PX_MSG_PREPARE, &at, &m));
    prep = copy_sends(&u, &nprep);
    step(r1, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 3000, .u.persisted.token = t1}, &u);
    step(r2, (px_event){.kind = PX_EV_MESSAGE, .now_ms = 0, .u.message = {1, pk_buf_slice(&prep[at - 1])}}, &u);
    cr_assert(u.persist_promise);
    cr_assert_eq(u.send_count, 2u, "two Promise chunks");
    cr_assert(u.sends[0].after_persist && u.sends[1].after_persist);
    cr_assert_eq(px_msg_decode(u.sends[0].bytes, &m), PK_OK);
    cr_assert_eq(m.entry_count, PX_MAX_MSG_ENTRIES);
    cr_assert_eq(m.slot, 1u);
    cr_assert_eq(m.offset, PX_MAX_MSG_ENTRIES + 1u);
    cr_assert_eq(px_msg_decode(u.sends[1].bytes, &m), PK_OK);
    cr_assert_eq(m.entry_count, 904u);
    cr_assert_eq(m.offset, 0u, "the last chunk");
    size_t nprom;
    pk_buf *prom = copy_sends(&u, &nprom);
    for (size_t k = 0; k < 2; k++) {
        size_t i = reorder ? 1 - k : k;
        step(r1, (px_event){.kind = PX_EV_MESSAGE, .now_ms = 3001, .u.message = {2, pk_buf_slice(&prom[i])}}, &u);
    }
    if (reorder) {
        cr_assert_eq(u.role, PX_CANDIDATE, "a chunk arrived out of order: the acceptor is not counted");
    } else {
        cr_assert_eq(u.role, PX_LEADER);
        cr_assert_eq(u.persist_count, (size_t)N, "every reported slot re-proposed under 2.1");
        cr_assert_eq(u.persist_entries[N - 1].ballot.round, 2u);
        cr_assert(pk_slice_eq(u.persist_entries[7].value, pk_slice_str("")));
        cr_assert(pk_slice_eq(u.persist_entries[8].value, pk_slice_str("x")));
        cr_assert_eq(u.send_count, 2u * 8u, "Accepts only for the first window of slots");
        step(r1, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 3002, .u.propose.value = pk_slice_str("new")}, &u);
        cr_assert_eq(u.propose_status, PX_PROPOSE_FULL, "the re-proposals fill the window first");
    }
    for (size_t i = 0; i < nprep; i++) pk_buf_deinit(&prep[i]);
    for (size_t i = 0; i < nprom; i++) pk_buf_deinit(&prom[i]);
    free(prep);
    free(prom);
    free(acc);
    px_replica_free(r1);
    px_replica_free(r2);
}

Test(px_multi, chunked_promise_in_order) { chunked_promise(false); }
Test(px_multi, chunked_promise_reordered) { chunked_promise(true); }
