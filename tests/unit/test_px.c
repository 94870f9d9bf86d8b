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
    cr_assert_eq(u.persist_count, 3u, "slots 1..3 re-proposed, 2 as a no-op");
    cr_assert_eq(u.persist_entries[1].slot, 2u);
    cr_assert_eq(u.persist_entries[1].value.len, 0u);
    cr_assert_eq(u.persist_entries[2].ballot.round, 2u);
    step(r, (px_event){.kind = PX_EV_PERSISTED, .now_ms = 1, .u.persisted.token = u.persist_token}, &u);
    cr_assert_eq(u.chosen_to, 3u);
    step(r, (px_event){.kind = PX_EV_PROPOSE, .now_ms = 1, .u.propose.value = pk_slice_str("d")}, &u);
    cr_assert_eq(u.propose_slot, 4u);
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
