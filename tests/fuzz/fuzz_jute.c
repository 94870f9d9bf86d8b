/* libFuzzer target: decode every jute record type from untrusted bytes. The first input byte picks the
 * target (index into WIRE_RECORDS, then ConnectRequest, ConnectResponse, a request body by opcode, and multi /
 * multiRead bodies); the rest is the record's bytes. A successful decode must re-encode to exactly the bytes
 * it consumed (up to boolean normalization) and decode again to the same encoding. */
#include "fuzz_common.h"

/* Decodes one record type, then checks encode/decode stability. */
#define FZ_RECORD(name, FIELDS)                                                                    \
    static void fz_##name(const uint8_t *p, size_t n) {                                            \
        jute_reader r;                                                                             \
        jute_reader_init(&r, p, n, FUZZ_MAX_FIELD_LEN);                                            \
        struct wire_##name v;                                                                      \
        if (wire_##name##_decode(&r, &v) != 0) return;                                             \
        pk_buf b1, b2;                                                                             \
        pk_buf_init(&b1);                                                                          \
        pk_buf_init(&b2);                                                                          \
        wire_##name##_encode(&b1, &v);                                                             \
        PK_ASSERT(b1.len == r.pos);                                                                \
        jute_reader r2;                                                                            \
        jute_reader_init(&r2, b1.data, b1.len, FUZZ_MAX_FIELD_LEN);                                \
        struct wire_##name v2;                                                                     \
        PK_ASSERT(wire_##name##_decode(&r2, &v2) == 0);                                            \
        PK_ASSERT(jute_reader_done(&r2));                                                          \
        wire_##name##_encode(&b2, &v2);                                                            \
        PK_ASSERT(b2.len == b1.len && memcmp(b1.data, b2.data, b1.len) == 0);                      \
        pk_buf_deinit(&b1);                                                                        \
        pk_buf_deinit(&b2);                                                                        \
    }
WIRE_RECORDS(FZ_RECORD)

#define FZ_ENTRY(name, FIELDS) fz_##name,
static void (*const fz_records[])(const uint8_t *, size_t) = {WIRE_RECORDS(FZ_ENTRY)};

/* Decodes a ConnectRequest (44/45-byte or any other shape) and checks the re-encoding. */
static void fz_connect_request(const uint8_t *p, size_t n) {
    jute_reader r;
    jute_reader_init(&r, p, n, FUZZ_MAX_FIELD_LEN);
    struct wire_connect_request v;
    if (wire_connect_request_decode(&r, &v) != 0) return;
    PK_ASSERT(v.has_read_only == (r.pos == 29 + v.passwd.len));
    pk_buf b;
    pk_buf_init(&b);
    wire_connect_request_encode(&b, &v);
    PK_ASSERT(b.len == r.pos);
    pk_buf_deinit(&b);
}

/* Decodes a ConnectResponse and checks the re-encoding length. */
static void fz_connect_response(const uint8_t *p, size_t n) {
    jute_reader r;
    jute_reader_init(&r, p, n, FUZZ_MAX_FIELD_LEN);
    struct wire_connect_response v;
    if (wire_connect_response_decode(&r, &v) != 0) return;
    pk_buf b;
    pk_buf_init(&b);
    wire_connect_response_encode(&b, &v);
    PK_ASSERT(b.len == r.pos);
    pk_buf_deinit(&b);
}

/* Reads a 4-byte opcode, then decodes the body as that op's request. */
static void fz_request(const uint8_t *p, size_t n) {
    if (n < 4) return;
    int32_t op = (int32_t)pk_get_u32(p);
    jute_reader r;
    jute_reader_init(&r, p + 4, n - 4, FUZZ_MAX_FIELD_LEN);
    struct wire_request q;
    int rc = wire_request_decode(&r, op, &q);
    PK_ASSERT(rc <= 0);
    PK_ASSERT(rc != PK_ENOENT || !wire_request_op_known(op));
    if (rc != 0) return;
    (void)fuzz_walk_request(&q);
    fuzz_check_request_reencode(&q, r.pos);
    if (op == ZK_OP_MULTI || op == ZK_OP_MULTI_READ) (void)fuzz_walk_multi(op, q.u.multi);
}

/* Iterates a multi (14) body. */
static void fz_multi(const uint8_t *p, size_t n) { (void)fuzz_walk_multi(ZK_OP_MULTI, (pk_slice){p, n}); }
/* Iterates a multiRead (22) body. */
static void fz_multi_read(const uint8_t *p, size_t n) { (void)fuzz_walk_multi(ZK_OP_MULTI_READ, (pk_slice){p, n}); }

/* Iterates a MultiResponse body. */
static void fz_multi_result(const uint8_t *p, size_t n) {
    struct wire_multi_result_iter it;
    struct wire_multi_result res;
    wire_multi_result_iter_init(&it, (pk_slice){p, n}, FUZZ_MAX_FIELD_LEN);
    int rc;
    uint32_t steps = 0;
    while ((rc = wire_multi_result_iter_next(&it, &res)) == 1) {
        if (res.header.type == ZK_OP_GET_CHILDREN) (void)fuzz_walk_strs(&res.u.get_children.children);
        steps++;
        PK_ASSERT(steps <= n / WIRE_MULTI_HEADER_LEN);
    }
    PK_ASSERT(rc <= 0);
}

static void (*const fz_extra[])(const uint8_t *, size_t) = {fz_connect_request, fz_connect_response, fz_request,
                                                             fz_multi, fz_multi_read, fz_multi_result};

/* libFuzzer entry point: dispatch on the first byte. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t nrec = PK_ARRAY_LEN(fz_records), nall = nrec + PK_ARRAY_LEN(fz_extra);
    size_t pick = data[0] % nall;
    const uint8_t *p = size > 1 ? data + 1 : NULL;
    if (pick < nrec) fz_records[pick](p, size - 1);
    else fz_extra[pick - nrec](p, size - 1);
    return 0;
}
