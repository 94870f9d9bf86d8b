/* Unit tests for src/wire/jute: reader bounds, null vs empty, sticky errors, writer bytes, framing. */
#include <criterion/criterion.h>

#include "wire/jute.h"
#include "wire/proto.h"

/* Asserts that buffer b holds exactly the n bytes at want. */
static void expect_bytes(const pk_buf *b, const uint8_t *want, size_t n) {
    cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(b->data[i], want[i], "byte %zu: %02x, want %02x", i, b->data[i], want[i]);
}

Test(wire_jute, read_scalars_big_endian) {
    static const uint8_t in[] = {0x12, 0x34, 0x56, 0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x00, 0x07, 0x80};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 100);
    cr_assert_eq(jute_read_int(&r), 0x12345678);
    cr_assert_eq(jute_read_long(&r), -2);
    cr_assert_eq(jute_read_bool(&r), true);
    cr_assert_eq(jute_read_bool(&r), false);
    cr_assert_eq(jute_read_bool(&r), true, "any nonzero byte is true");
    cr_assert_eq(jute_read_byte(&r), 0x80);
    cr_assert(jute_reader_done(&r));
    cr_assert_eq(jute_reader_remaining(&r), 0);
}

Test(wire_jute, write_scalars_big_endian) {
    pk_buf b;
    pk_buf_init(&b);
    jute_write_int(&b, 0x12345678);
    jute_write_long(&b, -2);
    jute_write_bool(&b, true);
    jute_write_bool(&b, false);
    jute_write_byte(&b, 0x80);
    static const uint8_t want[] = {0x12, 0x34, 0x56, 0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 1, 0, 0x80};
    expect_bytes(&b, want, sizeof want);
    pk_buf_deinit(&b);
}

Test(wire_jute, null_vs_empty_buffer) {
    static const uint8_t in[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 100);
    pk_slice a = jute_read_buffer(&r), e = jute_read_ustring(&r), s = jute_read_buffer(&r);
    cr_assert(jute_is_null(a));
    cr_assert_eq(a.len, 0);
    cr_assert(!jute_is_null(e));
    cr_assert_eq(e.len, 0);
    cr_assert_eq(s.len, 2);
    cr_assert_eq(s.ptr, in + 12, "slices are zero-copy views into the input");
    cr_assert(jute_reader_done(&r));

    pk_buf b;
    pk_buf_init(&b);
    jute_write_buffer(&b, jute_null());
    jute_write_ustring(&b, jute_empty());
    jute_write_cstring(&b, "hi");
    expect_bytes(&b, in, sizeof in);
    pk_buf_reset(&b);
    jute_write_cstring(&b, NULL);
    jute_write_null(&b);
    static const uint8_t two_nulls[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_bytes(&b, two_nulls, sizeof two_nulls);
    pk_buf_deinit(&b);
}

Test(wire_jute, negative_length_other_than_minus_one_is_decode_error) {
    static const uint8_t in[] = {0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 100);
    pk_slice s = jute_read_buffer(&r);
    cr_assert(jute_is_null(s));
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
    static const uint8_t min[] = {0x80, 0, 0, 0};
    jute_reader_init(&r, min, sizeof min, 100);
    (void)jute_read_ustring(&r);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
}

Test(wire_jute, length_above_max_is_too_big_never_read) {
    static const uint8_t in[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e'};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 4);
    (void)jute_read_buffer(&r);
    cr_assert_eq(jute_reader_error(&r), PK_ETOOBIG);
    jute_reader_init(&r, in, sizeof in, 5);
    pk_slice s = jute_read_buffer(&r);
    cr_assert_eq(jute_reader_error(&r), 0);
    cr_assert_eq(s.len, 5);
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
    jute_reader_init(&r, huge, sizeof huge, ZK_MAX_BUFFER_DEFAULT);
    (void)jute_read_buffer(&r);
    cr_assert_eq(jute_reader_error(&r), PK_ETOOBIG);
}

Test(wire_jute, length_past_end_is_decode_error) {
    static const uint8_t in[] = {0, 0, 0, 6, 'a', 'b', 'c', 'd', 'e'};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 100);
    (void)jute_read_buffer(&r);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
}

Test(wire_jute, errors_are_sticky_and_reads_return_zero) {
    static const uint8_t in[] = {0, 0, 1, 0, 0, 0, 0, 7, 1};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 100);
    (void)jute_read_long(&r); /* needs 8, 9 available: ok */
    cr_assert_eq(jute_reader_error(&r), 0);
    (void)jute_read_int(&r);  /* needs 4, 1 available */
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
    size_t pos = r.pos;
    cr_assert_eq(jute_read_byte(&r), 0, "the last byte is 1 but reads after an error return 0");
    cr_assert_eq(jute_read_bool(&r), false);
    cr_assert_eq(jute_read_int(&r), 0);
    cr_assert_eq(jute_read_long(&r), 0);
    cr_assert(jute_is_null(jute_read_buffer(&r)));
    cr_assert_eq(jute_read_vector_count(&r, 4), 0);
    cr_assert(jute_is_null(jute_read_raw(&r, 0)));
    cr_assert_eq(r.pos, pos, "nothing consumed after an error");
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
    cr_assert(!jute_reader_done(&r));
    cr_assert_eq(jute_reader_remaining(&r), 0);
    cr_assert(jute_is_null(jute_reader_rest(&r)));
    jute_reader_fail(&r, PK_ETOOBIG);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE, "the first error wins");
}

Test(wire_jute, vector_count_bounds) {
    jute_reader r;
    static const uint8_t null_vec[] = {0xff, 0xff, 0xff, 0xff};
    jute_reader_init(&r, null_vec, sizeof null_vec, 100);
    cr_assert_eq(jute_read_vector_count(&r, 4), -1);
    cr_assert(jute_reader_done(&r));

    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfd};
    jute_reader_init(&r, neg, sizeof neg, 100);
    cr_assert_eq(jute_read_vector_count(&r, 4), 0);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);

    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    jute_reader_init(&r, huge, sizeof huge, 100);
    cr_assert_eq(jute_read_vector_count(&r, 4), 0);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE, "a count that cannot fit the remaining bytes is refused");

    static const uint8_t two[] = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    jute_reader_init(&r, two, sizeof two, 100);
    cr_assert_eq(jute_read_vector_count(&r, 4), 2);
    jute_reader_init(&r, two, sizeof two, 100);
    cr_assert_eq(jute_read_vector_count(&r, 5), 0, "2 elements of >= 5 bytes do not fit in 8");
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
}

Test(wire_jute, read_raw_and_rest) {
    static const uint8_t in[] = {1, 2, 3, 4, 5};
    jute_reader r;
    jute_reader_init(&r, in, sizeof in, 100);
    pk_slice a = jute_read_raw(&r, 2);
    cr_assert_eq(a.ptr, in);
    cr_assert_eq(a.len, 2);
    pk_slice rest = jute_reader_rest(&r);
    cr_assert_eq(rest.ptr, in + 2);
    cr_assert_eq(rest.len, 3);
    (void)jute_read_raw(&r, 4);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
}

Test(wire_jute, empty_input) {
    jute_reader r;
    jute_reader_init(&r, NULL, 0, 100);
    cr_assert(jute_reader_done(&r));
    cr_assert_eq(jute_reader_rest(&r).len, 0);
    cr_assert_eq(jute_read_int(&r), 0);
    cr_assert_eq(jute_reader_error(&r), PK_EDECODE);
}

Test(wire_jute, frame_begin_end) {
    pk_buf b;
    pk_buf_init(&b);
    jute_write_byte(&b, 0xaa); /* something before the frame */
    size_t mark = jute_frame_begin(&b);
    cr_assert_eq(mark, 1);
    jute_write_int(&b, 7);
    jute_write_long(&b, 9);
    jute_frame_end(&b, mark);
    static const uint8_t want[] = {0xaa, 0, 0, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9};
    expect_bytes(&b, want, sizeof want);
    pk_buf_reset(&b);
    mark = jute_frame_begin(&b);
    jute_frame_end(&b, mark);
    static const uint8_t empty[] = {0, 0, 0, 0};
    expect_bytes(&b, empty, sizeof empty);
    pk_buf_deinit(&b);
}

Test(wire_jute, frame_peek) {
    static const uint8_t f[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0};
    size_t body = 99;
    for (size_t avail = 0; avail < 7; avail++) {
        cr_assert_eq(jute_frame_peek(f, avail, 100, &body), 0, "avail %zu needs more", avail);
        cr_assert_eq(body, 99);
    }
    cr_assert_eq(jute_frame_peek(f, 7, 100, &body), 1);
    cr_assert_eq(body, 3);
    cr_assert_eq(jute_frame_peek(f, sizeof f, 100, &body), 1);
    cr_assert_eq(jute_frame_peek(f, sizeof f, 2, &body), PK_ETOOBIG);
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(jute_frame_peek(neg, sizeof neg, 100, &body), PK_ETOOBIG);
    static const uint8_t ruok[] = {'r', 'u', 'o', 'k'};
    cr_assert_eq(jute_frame_peek(ruok, sizeof ruok, 0xfffff, &body), PK_ETOOBIG,
                 "a four-letter word reads as a length above jute.maxbuffer");
    static const uint8_t zero[] = {0, 0, 0, 0};
    cr_assert_eq(jute_frame_peek(zero, sizeof zero, 100, &body), 1);
    cr_assert_eq(body, 0);
}

/* Regression (found by fuzz_jute): a zero-length take on an empty NULL input did pointer arithmetic on NULL. */
Test(wire_jute, regression_zero_length_take_on_null_input) {
    jute_reader r;
    jute_reader_init(&r, NULL, 0, 10);
    pk_slice s = jute_read_raw(&r, 0);
    cr_assert(!jute_is_null(s));
    cr_assert_eq(s.len, 0);
    cr_assert(jute_reader_done(&r));
}
