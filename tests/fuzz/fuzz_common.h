/* Shared helpers for the wire fuzz targets: walking decoded vectors and multi bodies, and checking that a
 * decoded record re-encodes to a stable form. Header-only (static functions), included by each target. */
#ifndef PK_FUZZ_COMMON_H
#define PK_FUZZ_COMMON_H

#include "wire/records.h"

/* Field limit used by the fuzz targets: small, so length checks are hit often. */
#define FUZZ_MAX_FIELD_LEN 4096

/* Touches every byte of a slice (lets ASan check the zero-copy view is inside the input). */
static inline uint32_t fuzz_touch(pk_slice s) {
    PK_ASSERT(s.ptr != NULL || s.len == 0);
    uint32_t h = 0;
    for (size_t i = 0; i < s.len; i++) h = h * 31u + s.ptr[i];
    return h;
}

/* Walks a decoded vector<ustring> and checks it yields exactly count elements. */
static inline uint32_t fuzz_walk_strs(const struct wire_str_vec *v) {
    struct wire_vec_iter it;
    pk_slice s;
    uint32_t h = 0;
    int32_t n = 0;
    wire_str_vec_iter_init(&it, v);
    while (wire_str_vec_next(&it, &s)) { h ^= fuzz_touch(s); n++; }
    PK_ASSERT(n == (v->count < 0 ? 0 : v->count));
    PK_ASSERT(n <= INT32_MAX);
    return h;
}

/* Walks a decoded vector<ACL> and checks it yields exactly count elements. */
static inline uint32_t fuzz_walk_acls(const struct wire_acl_vec *v) {
    struct wire_vec_iter it;
    struct wire_acl a;
    uint32_t h = 0;
    int32_t n = 0;
    wire_acl_vec_iter_init(&it, v);
    while (wire_acl_vec_next(&it, &a)) { h ^= fuzz_touch(a.id.scheme) ^ fuzz_touch(a.id.id) ^ (uint32_t)a.perms; n++; }
    PK_ASSERT(n == (v->count < 0 ? 0 : v->count));
    PK_ASSERT(n <= INT32_MAX);
    return h;
}

/* Walks the vectors and strings of a decoded request. */
static inline uint32_t fuzz_walk_request(const struct wire_request *q) {
    PK_ASSERT(q != NULL);
    switch (q->op) {
    case ZK_OP_CREATE: case ZK_OP_CREATE2: case ZK_OP_CREATE_CONTAINER:
        return fuzz_touch(q->u.create.path) ^ fuzz_touch(q->u.create.data) ^ fuzz_walk_acls(&q->u.create.acl);
    case ZK_OP_CREATE_TTL:
        return fuzz_touch(q->u.create_ttl.path) ^ fuzz_walk_acls(&q->u.create_ttl.acl);
    case ZK_OP_SET_ACL:
        return fuzz_touch(q->u.set_acl.path) ^ fuzz_walk_acls(&q->u.set_acl.acl);
    case ZK_OP_SET_WATCHES:
        return fuzz_walk_strs(&q->u.set_watches.data_watches) ^ fuzz_walk_strs(&q->u.set_watches.exist_watches) ^
               fuzz_walk_strs(&q->u.set_watches.child_watches);
    case ZK_OP_SET_WATCHES2:
        return fuzz_walk_strs(&q->u.set_watches2.data_watches) ^ fuzz_walk_strs(&q->u.set_watches2.persistent_watches) ^
               fuzz_walk_strs(&q->u.set_watches2.persistent_recursive_watches);
    case ZK_OP_AUTH:
        return fuzz_touch(q->u.auth.scheme) ^ fuzz_touch(q->u.auth.auth);
    default:
        return 0;
    }
}

/* Iterates a multi body to its end or first error; returns the number of ops decoded. */
static inline uint32_t fuzz_walk_multi(int32_t multi_op, pk_slice body) {
    struct wire_multi_iter it;
    struct wire_request op;
    uint32_t ops = 0;
    wire_multi_iter_init(&it, multi_op, body, FUZZ_MAX_FIELD_LEN);
    int rc;
    while ((rc = wire_multi_iter_next(&it, &op)) == 1) {
        (void)fuzz_walk_request(&op);
        ops++;
        PK_ASSERT(ops <= body.len / WIRE_MULTI_HEADER_LEN);
    }
    PK_ASSERT(rc <= 0);
    PK_ASSERT(wire_multi_iter_next(&it, &op) == rc); /* sticky end or error */
    return ops;
}

/* Checks a successfully decoded request re-encodes to `consumed` bytes and decodes back to the same bytes. */
static inline void fuzz_check_request_reencode(const struct wire_request *q, size_t consumed) {
    pk_buf b1, b2;
    pk_buf_init(&b1);
    pk_buf_init(&b2);
    wire_request_encode(&b1, q);
    PK_ASSERT(b1.len == consumed);
    jute_reader r;
    jute_reader_init(&r, b1.data, b1.len, FUZZ_MAX_FIELD_LEN);
    struct wire_request q2;
    PK_ASSERT(wire_request_decode(&r, q->op, &q2) == 0);
    PK_ASSERT(jute_reader_done(&r));
    wire_request_encode(&b2, &q2);
    PK_ASSERT(b1.len == b2.len && (b1.len == 0 || memcmp(b1.data, b2.data, b1.len) == 0));
    pk_buf_deinit(&b1);
    pk_buf_deinit(&b2);
}

#endif
