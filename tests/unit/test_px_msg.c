/* Unit tests for the px message codec: round trips of every type, truncation at every offset, hostile input. */
#include <criterion/criterion.h>

#include "px/px.h"

/* Builds one sample message of each type into m (entries point at static data). */
static px_msg sample(uint8_t type) {
    px_msg m = {0};
    m.type = type;
    switch (type) {
    case PX_MSG_PREPARE: m.ballot = (px_ballot){3, 2}; m.slot = 10; m.chosen_to = 9; break;
    case PX_MSG_PROMISE:
        m.ballot = (px_ballot){3, 2}; m.slot = 10; m.chosen_to = 12; m.offset = 20; m.flags = PX_PROMISE_INCOMPLETE;
        m.entry_count = 3;
        break;
    case PX_MSG_NACK: m.ballot = (px_ballot){1, 1}; m.promised = (px_ballot){5, 3}; break;
    case PX_MSG_ACCEPT: m.ballot = (px_ballot){7, 1}; m.slot = 44; m.chosen_to = 40; m.value = pk_slice_str("batch"); break;
    case PX_MSG_ACCEPTED: m.ballot = (px_ballot){7, 1}; m.slot = 44; break;
    case PX_MSG_HEARTBEAT: m.ballot = (px_ballot){7, 1}; m.slot = 3; m.chosen_to = 1ull << 40; break;
    case PX_MSG_HEARTBEAT_ACK: m.ballot = (px_ballot){7, 1}; m.chosen_to = 77; break;
    case PX_MSG_CATCHUP_REQ: m.slot = 5; m.total = 0xdeadbeefcafe; break;
    case PX_MSG_CATCHUP_ENTRIES:
        m.ballot = (px_ballot){7, 1}; m.promised = (px_ballot){9, 2}; m.slot = 12; m.chosen_to = 8; m.total = 77;
        m.flags = PX_CATCHUP_FROM_LEADER;
        m.entry_count = 3;
        break;
    case PX_MSG_SNAPSHOT_CHUNK: m.slot = 100; m.total = 9; m.offset = 4; m.value = pk_slice_str("chunk"); break;
    case PX_MSG_SNAPSHOT_ACK: m.slot = 100; m.offset = 9; break;
    default: break;
    }
    return m;
}

static const px_entry sample_entries[3] = {
    {5, {1, 1}, {(const uint8_t *)"a", 1}},
    {6, {2, 3}, {NULL, 0}},
    {9, {2, 3}, {(const uint8_t *)"xyz", 3}},
};

Test(px_msg, round_trip_every_type) {
    for (uint8_t t = 1; t <= PX_MSG_TYPE_MAX; t++) {
        px_msg m = sample(t), d;
        pk_buf b;
        pk_buf_init(&b);
        px_msg_encode(&m, sample_entries, &b);
        cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_OK, "type %s", px_msg_type_name(t));
        cr_assert_eq(d.type, t);
        cr_assert_eq(px_ballot_cmp(d.ballot, m.ballot), 0);
        cr_assert_eq(px_ballot_cmp(d.promised, m.promised), 0);
        cr_assert_eq(d.slot, m.slot);
        cr_assert_eq(d.chosen_to, m.chosen_to);
        cr_assert_eq(d.offset, m.offset);
        cr_assert_eq(d.total, m.total);
        cr_assert_eq(d.flags, m.flags);
        cr_assert(pk_slice_eq(d.value, m.value));
        cr_assert_eq(d.entry_count, m.entry_count);
        size_t cur = 0;
        px_entry e;
        uint32_t n = 0;
        while (px_msg_entry_next(&d, &cur, &e)) {
            cr_assert_lt(n, 3u);
            cr_assert_eq(e.slot, sample_entries[n].slot);
            cr_assert_eq(px_ballot_cmp(e.ballot, sample_entries[n].ballot), 0);
            cr_assert(pk_slice_eq(e.value, sample_entries[n].value));
            n++;
        }
        cr_assert_eq(n, m.entry_count);
        pk_buf_deinit(&b);
    }
}

Test(px_msg, truncated_at_every_offset_and_trailing_garbage) {
    for (uint8_t t = 1; t <= PX_MSG_TYPE_MAX; t++) {
        px_msg m = sample(t), d;
        pk_buf b;
        pk_buf_init(&b);
        px_msg_encode(&m, sample_entries, &b);
        for (size_t cut = 0; cut < b.len; cut++)
            cr_assert_eq(px_msg_decode((pk_slice){b.data, cut}, &d), PK_EDECODE, "type %u cut %zu", t, cut);
        pk_buf_append(&b, "\0", 1);
        cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE, "trailing byte accepted");
        pk_buf_deinit(&b);
    }
}

Test(px_msg, hostile_headers_and_lengths) {
    px_msg d;
    uint8_t bad_version[] = {2, PX_MSG_CATCHUP_REQ, 0, 0, 0, 0, 0, 0, 0, 1};
    cr_assert_eq(px_msg_decode((pk_slice){bad_version, sizeof bad_version}, &d), PK_EDECODE);
    uint8_t bad_type[] = {1, 0};
    cr_assert_eq(px_msg_decode((pk_slice){bad_type, 2}, &d), PK_EDECODE);
    bad_type[1] = PX_MSG_TYPE_MAX + 1;
    cr_assert_eq(px_msg_decode((pk_slice){bad_type, 2}, &d), PK_EDECODE);
    cr_assert_eq(px_msg_decode((pk_slice){NULL, 0}, &d), PK_EDECODE);

    /* an Accept whose value length claims far more than present, or more than the maximum */
    px_msg m = sample(PX_MSG_ACCEPT);
    pk_buf b;
    pk_buf_init(&b);
    px_msg_encode(&m, NULL, &b);
    size_t len_off = b.len - m.value.len - 4;
    pk_put_u32(b.data + len_off, 0xFFFFFFFFu);
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE);
    pk_put_u32(b.data + len_off, (uint32_t)m.value.len + 1);
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE);
    /* ballot with node id out of range */
    pk_put_u32(b.data + len_off, (uint32_t)m.value.len);
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_OK);
    pk_put_u32(b.data + 2 + 8, 256);
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE);
    pk_buf_deinit(&b);

    /* entries out of order, and an entry count beyond the limit */
    px_msg p = sample(PX_MSG_CATCHUP_ENTRIES);
    px_entry bad[2] = {{5, {1, 1}, {NULL, 0}}, {6, {1, 1}, {NULL, 0}}};
    p.entry_count = 2;
    pk_buf_init(&b);
    px_msg_encode(&p, bad, &b);
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_OK);
    size_t first_slot = 2 + 12 + 12 + 8 + 8 + 8 + 4 + 4; /* ballot, promised, slot, chosen_to, total, flags, count */
    pk_put_u64(b.data + first_slot, 6); /* now 6, 6: not ascending */
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE);
    pk_put_u64(b.data + first_slot, 0); /* slot 0 is invalid */
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE);
    pk_put_u64(b.data + first_slot, 5);
    pk_put_u32(b.data + first_slot - 4, PX_MAX_MSG_ENTRIES + 1);
    cr_assert_eq(px_msg_decode(pk_buf_slice(&b), &d), PK_EDECODE);
    pk_buf_deinit(&b);
}

Test(px_msg, random_bytes_never_crash) {
    pk_prng rng;
    pk_prng_seed(&rng, 99);
    uint8_t buf[96];
    uint32_t ok = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)pk_prng_below(&rng, sizeof buf + 1);
        for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)pk_prng_next(&rng);
        if (n >= 2) { buf[0] = 1; buf[1] = (uint8_t)(1 + pk_prng_below(&rng, PX_MSG_TYPE_MAX)); }
        px_msg d;
        if (px_msg_decode((pk_slice){buf, n}, &d) == PK_OK) {
            ok++;
            size_t cur = 0;
            px_entry e;
            for (uint32_t k = 0; k <= d.entry_count && px_msg_entry_next(&d, &cur, &e); k++) {}
        }
    }
    cr_assert_lt(ok, 20000u);
}

/* Feeds every truncation of a real message into a started replica: it must drop them without effects. */
Test(px_msg, replica_drops_malformed) {
    px_config c = {.self_id = 1, .node_ids = {1, 2, 3}, .node_count = 3, .heartbeat_interval_ms = 50,
                   .election_timeout_ms = 300, .window_slots = 8, .seed = 1};
    px_replica *r = px_replica_new(&c);
    px_durable dur = {0};
    px_update u;
    px_event ev = {.kind = PX_EV_START, .now_ms = 0, .u.start = &dur};
    px_step(r, &ev, &u);
    for (uint8_t t = 1; t <= PX_MSG_TYPE_MAX; t++) {
        px_msg m = sample(t);
        if (m.ballot.node) m.ballot.node = 2;
        pk_buf b;
        pk_buf_init(&b);
        px_msg_encode(&m, sample_entries, &b);
        for (size_t cut = 0; cut < b.len; cut++) {
            ev = (px_event){.kind = PX_EV_MESSAGE, .now_ms = 1, .u.message = {2, {b.data, cut}}};
            px_step(r, &ev, &u);
            cr_assert_eq(u.send_count, 0u);
            cr_assert_eq(u.persist_token, 0u);
        }
        /* also from an unknown node and from itself */
        ev = (px_event){.kind = PX_EV_MESSAGE, .now_ms = 1, .u.message = {9, pk_buf_slice(&b)}};
        px_step(r, &ev, &u);
        cr_assert_eq(u.send_count, 0u);
        ev.u.message.from = 1;
        px_step(r, &ev, &u);
        cr_assert_eq(u.send_count, 0u);
        pk_buf_deinit(&b);
    }
    px_replica_free(r);
}
