/* Unit tests for the simulator's linearizability checker (tests/sim/sim_lin.c): known linearizable and known
 * non-linearizable ZooKeeper histories. The checker source is compiled into this test directly. */
#include <criterion/criterion.h>

#include "../sim/sim_lin.c"

#define NEVER SIM_LIN_NEVER
#define UNK SIM_LIN_UNKNOWN

/* Builds an op. */
static sim_lin_op mk(uint64_t c, uint64_t r, int kind, int key, int64_t in_value, int32_t in_version, int32_t err,
                     int64_t out_value, int32_t out_version) {
    return (sim_lin_op){.call_t = c, .ret_t = r, .kind = (uint8_t)kind, .key = (uint8_t)key, .session = 1,
                        .in_value = in_value, .in_version = in_version, .err = err, .out_value = out_value,
                        .out_version = out_version};
}

/* Runs the checker with a generous budget. */
static sim_lin_result check(const sim_lin_op *ops, size_t n) {
    sim_lin_report rep = {0};
    return sim_lin_check(ops, n, 1000000, &rep);
}

Test(sim_checker, empty_history_is_linearizable) {
    cr_assert_eq(check(NULL, 0), SIM_LIN_OK);
}

Test(sim_checker, sequential_create_set_get) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 0, 10, 0, ZK_ERR_OK, 0, 0),
        mk(3, 4, SIM_LIN_SET, 0, 11, 0, ZK_ERR_OK, 0, 1),
        mk(5, 6, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 11, 1),
        mk(7, 8, SIM_LIN_SET, 0, 12, 0, ZK_ERR_BAD_VERSION, 0, 0),
        mk(9, 10, SIM_LIN_DELETE, 0, 0, 1, ZK_ERR_OK, 0, 0),
        mk(11, 12, SIM_LIN_GET, 0, 0, 0, ZK_ERR_NO_NODE, 0, 0),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
}

Test(sim_checker, stale_read_after_completed_write_is_violation) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 0, 10, 0, ZK_ERR_OK, 0, 0),
        mk(3, 4, SIM_LIN_SET, 0, 11, -1, ZK_ERR_OK, 0, 1),
        mk(5, 6, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 10, 0),
    };
    uint32_t best[3] = {9, 9, 9};
    sim_lin_report rep = {.best = best};
    cr_assert_eq(sim_lin_check(h, PK_ARRAY_LEN(h), 100000, &rep), SIM_LIN_VIOLATION);
    cr_assert_eq(rep.key, 0);
    cr_assert_eq(rep.max_linearized, 2);
    cr_assert_eq(rep.best, best);
    cr_assert(best[0] == 0 && best[1] == 1 && best[2] == 9, "longest linearization: %u %u %u", best[0], best[1],
              best[2]);
}

Test(sim_checker, concurrent_read_may_see_either) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 0, 10, 0, ZK_ERR_OK, 0, 0),
        mk(3, 8, SIM_LIN_SET, 0, 11, -1, ZK_ERR_OK, 0, 1),
        mk(4, 5, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 11, 1),
        mk(6, 7, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 11, 1),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
    /* ...but a read cannot go back once a later-started read saw the new value. */
    h[3] = mk(6, 7, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 10, 0);
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
}

Test(sim_checker, two_successful_creates_violate) {
    sim_lin_op h[] = {
        mk(1, 4, SIM_LIN_CREATE, 0, 10, 0, ZK_ERR_OK, 0, 0),
        mk(2, 3, SIM_LIN_CREATE, 0, 20, 0, ZK_ERR_OK, 0, 0),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
    h[1].err = ZK_ERR_NODE_EXISTS;
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
}

Test(sim_checker, compare_and_set_lost_update_is_violation) {
    /* Two CAS from version 0 both succeed: one of them must have seen version 1. */
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 1, 1, 0, ZK_ERR_OK, 0, 0),
        mk(3, 6, SIM_LIN_SET, 1, 2, 0, ZK_ERR_OK, 0, 1),
        mk(4, 5, SIM_LIN_SET, 1, 3, 0, ZK_ERR_OK, 0, 1),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
    h[2].err = ZK_ERR_BAD_VERSION;
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
}

Test(sim_checker, wrong_resulting_version_is_violation) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 0, 1, 0, ZK_ERR_OK, 0, 0),
        mk(3, 4, SIM_LIN_SET, 0, 2, -1, ZK_ERR_OK, 0, 2),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
}

Test(sim_checker, unknown_write_may_apply_late_or_never) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 0, 1, 0, ZK_ERR_OK, 0, 0),
        mk(3, NEVER, SIM_LIN_SET, 0, 7, -1, UNK, 0, 0),
        mk(4, 5, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 1, 0),
        mk(6, 7, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 7, 1),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
    /* Never applied is fine too. */
    h[3] = mk(6, 7, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 1, 0);
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
    /* But it cannot take effect before it was invoked. */
    h[1].call_t = 8; h[1].ret_t = NEVER;
    h[3] = mk(6, 7, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 7, 1);
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
}

Test(sim_checker, acknowledged_write_lost_is_violation) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 2, 5, 0, ZK_ERR_OK, 0, 0),
        mk(3, 4, SIM_LIN_GET, 2, 0, 0, ZK_ERR_NO_NODE, 0, 0),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
}

Test(sim_checker, close_session_removes_ephemerals) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 3, 5, 0, ZK_ERR_OK, 0, 0),
        mk(3, 4, SIM_LIN_CLOSE, 0, 0, 0, ZK_ERR_OK, 0, 0),
        mk(5, 6, SIM_LIN_GET, 3, 0, 0, ZK_ERR_NO_NODE, 0, 0),
    };
    h[0].ephemeral = true; h[0].session = 42; h[1].session = 42;
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
    /* A persistent node survives the close. */
    h[0].ephemeral = false;
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
    /* Another session's close does not remove it. */
    h[0].ephemeral = true; h[1].session = 43;
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
}

Test(sim_checker, unexpected_error_is_violation) {
    sim_lin_op h[] = {mk(1, 2, SIM_LIN_CREATE, 0, 5, 0, ZK_ERR_SESSION_EXPIRED, 0, 0)};
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_VIOLATION);
}

Test(sim_checker, keys_are_independent) {
    sim_lin_op h[] = {
        mk(1, 2, SIM_LIN_CREATE, 0, 5, 0, ZK_ERR_OK, 0, 0),
        mk(3, 4, SIM_LIN_GET, 1, 0, 0, ZK_ERR_NO_NODE, 0, 0),
        mk(5, 6, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, 5, 0),
    };
    cr_assert_eq(check(h, PK_ARRAY_LEN(h)), SIM_LIN_OK);
    h[1].key = 0;
    sim_lin_report rep = {0};
    cr_assert_eq(sim_lin_check(h, 3, 100000, &rep), SIM_LIN_VIOLATION);
    cr_assert_eq(rep.key, 0);
}

/* Many concurrent clients writing distinct values with reads that follow one real order: linearizable, and the
 * memoized search finishes quickly; corrupting one read makes it a violation. */
Test(sim_checker, large_concurrent_history) {
    enum { N = 400, C = 5 };
    static sim_lin_op h[N];
    pk_prng r;
    pk_prng_seed(&r, 7);
    int64_t value = 0;
    int32_t version = -1;
    uint64_t t = 100;
    size_t n = 0;
    /* A true sequential execution: op i takes effect at time lin_t; its interval is widened around it. */
    h[n++] = mk(t, t + 1, SIM_LIN_CREATE, 0, 0, 0, ZK_ERR_OK, 0, 0);
    version = 0;
    t += 10;
    for (int i = 1; i < N; i++, t += 10) {
        uint64_t c = t - pk_prng_below(&r, 5 * C), rr = t + 1 + pk_prng_below(&r, 5 * C);
        if (pk_prng_chance(&r, 1, 2)) {
            value = i; version++;
            h[n++] = mk(c, rr, SIM_LIN_SET, 0, value, -1, ZK_ERR_OK, 0, version);
        } else {
            h[n++] = mk(c, rr, SIM_LIN_GET, 0, 0, 0, ZK_ERR_OK, value, version);
        }
        /* keep times distinct */
        h[n - 1].call_t = h[n - 1].call_t * 64 + (uint64_t)i % 64;
        h[n - 1].ret_t = h[n - 1].ret_t * 64 + (uint64_t)i % 64;
    }
    h[0].call_t *= 64; h[0].ret_t *= 64;
    sim_lin_report rep = {0};
    cr_assert_eq(sim_lin_check(h, n, 2000000, &rep), SIM_LIN_OK, "steps %llu", (unsigned long long)rep.steps);
    for (size_t i = n / 2; i < n; i++) {
        if (h[i].kind == SIM_LIN_GET && h[i].out_version > 2) { h[i].out_version -= 2; h[i].out_value = -5; break; }
    }
    cr_assert_eq(sim_lin_check(h, n, 2000000, &rep), SIM_LIN_VIOLATION);
}
