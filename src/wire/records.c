/* records: decode/encode for every ZooKeeper client record, generated from the table in records.h,
 * plus the handshake records, vector iteration, request dispatch and multi helpers. */
#include "wire/records.h"

/* ---- per-kind field codecs (used by the generated record functions) ---- */

/* Decodes an int field. */
static void wire_dec_INT(jute_reader *r, int32_t *o) { *o = jute_read_int(r); }
/* Decodes a long field. */
static void wire_dec_LONG(jute_reader *r, int64_t *o) { *o = jute_read_long(r); }
/* Decodes a boolean field. */
static void wire_dec_BOOL(jute_reader *r, bool *o) { *o = jute_read_bool(r); }
/* Decodes a buffer field. */
static void wire_dec_BUFFER(jute_reader *r, pk_slice *o) { *o = jute_read_buffer(r); }
/* Decodes a ustring field. */
static void wire_dec_USTRING(jute_reader *r, pk_slice *o) { *o = jute_read_ustring(r); }
/* Decodes a nested Id. */
static void wire_dec_ID(jute_reader *r, struct wire_id *o) { (void)wire_id_decode(r, o); }
/* Decodes a nested Stat. */
static void wire_dec_STAT(jute_reader *r, struct wire_stat *o) { (void)wire_stat_decode(r, o); }

/* Skips one encoded ustring (vector element validation). */
static void wire_skip_str(jute_reader *r) { (void)jute_read_ustring(r); }
/* Skips one encoded ACL (vector element validation). */
static void wire_skip_acl(jute_reader *r) {
    struct wire_acl a;
    (void)wire_acl_decode(r, &a);
}
/* Skips one encoded ClientInfo (vector element validation). */
static void wire_skip_client_info(jute_reader *r) {
    struct wire_client_info c;
    (void)wire_client_info_decode(r, &c);
}

/* Decodes a vector: reads the count, validates every element with skip, and records the raw bytes. */
static void wire_vec_decode(jute_reader *r, size_t min_elem_len, void (*skip)(jute_reader *), int32_t *count,
                            pk_slice *raw) {
    PK_ASSERT(r != NULL && skip != NULL);
    PK_ASSERT(count != NULL && raw != NULL);
    *raw = jute_null();
    *count = jute_read_vector_count(r, min_elem_len);
    if (r->err != 0 || *count < 0) return;
    size_t start = r->pos;
    for (int32_t i = 0; i < *count && r->err == 0; i++) skip(r);  /* bounded: count <= remaining/min */
    if (r->err != 0) {
        *count = 0;
        return;
    }
    PK_ASSERT(r->pos >= start && r->pos <= r->len);
    *raw = (pk_slice){r->ptr + start, r->pos - start};
}

/* Decodes a vector<ustring>. */
static void wire_dec_STRVEC(jute_reader *r, struct wire_str_vec *o) {
    o->items = NULL;
    wire_vec_decode(r, 4, wire_skip_str, &o->count, &o->raw);
}
/* Decodes a vector<ACL> (an ACL is at least 12 bytes). */
static void wire_dec_ACLVEC(jute_reader *r, struct wire_acl_vec *o) {
    o->items = NULL;
    wire_vec_decode(r, 12, wire_skip_acl, &o->count, &o->raw);
}
/* Decodes a vector<ClientInfo> (at least 8 bytes each). */
static void wire_dec_CINFOVEC(jute_reader *r, struct wire_client_info_vec *o) {
    o->items = NULL;
    wire_vec_decode(r, 8, wire_skip_client_info, &o->count, &o->raw);
}

/* Encodes an int field. */
static void wire_enc_INT(pk_buf *b, const int32_t *v) { jute_write_int(b, *v); }
/* Encodes a long field. */
static void wire_enc_LONG(pk_buf *b, const int64_t *v) { jute_write_long(b, *v); }
/* Encodes a boolean field. */
static void wire_enc_BOOL(pk_buf *b, const bool *v) { jute_write_bool(b, *v); }
/* Encodes a buffer field. */
static void wire_enc_BUFFER(pk_buf *b, const pk_slice *v) { jute_write_buffer(b, *v); }
/* Encodes a ustring field. */
static void wire_enc_USTRING(pk_buf *b, const pk_slice *v) { jute_write_ustring(b, *v); }
/* Encodes a nested Id. */
static void wire_enc_ID(pk_buf *b, const struct wire_id *v) { wire_id_encode(b, v); }
/* Encodes a nested Stat. */
static void wire_enc_STAT(pk_buf *b, const struct wire_stat *v) { wire_stat_encode(b, v); }

/* Writes a vector's count, then its raw bytes when it has no items array; returns true if items remain
 * to be written by the caller. */
static bool wire_vec_encode_head(pk_buf *b, int32_t count, const void *items, pk_slice raw) {
    PK_ASSERT(b != NULL);
    PK_ASSERT(count >= -1);
    jute_write_vector_count(b, count);
    if (count <= 0) return false;
    if (items != NULL) return true;
    PK_ASSERT(raw.ptr != NULL);
    pk_buf_append(b, raw.ptr, raw.len);
    return false;
}

/* Encodes a vector<ustring>. */
static void wire_enc_STRVEC(pk_buf *b, const struct wire_str_vec *v) {
    if (!wire_vec_encode_head(b, v->count, v->items, v->raw)) return;
    for (int32_t i = 0; i < v->count; i++) jute_write_ustring(b, v->items[i]);
}
/* Encodes a vector<ACL>. */
static void wire_enc_ACLVEC(pk_buf *b, const struct wire_acl_vec *v) {
    if (!wire_vec_encode_head(b, v->count, v->items, v->raw)) return;
    for (int32_t i = 0; i < v->count; i++) wire_acl_encode(b, &v->items[i]);
}
/* Encodes a vector<ClientInfo>. */
static void wire_enc_CINFOVEC(pk_buf *b, const struct wire_client_info_vec *v) {
    if (!wire_vec_encode_head(b, v->count, v->items, v->raw)) return;
    for (int32_t i = 0; i < v->count; i++) wire_client_info_encode(b, &v->items[i]);
}

/* ---- generated record functions ---- */

#define WIRE_DEC_FIELD(kind, name) wire_dec_##kind(r, &out->name);
#define WIRE_ENC_FIELD(kind, name) wire_enc_##kind(b, &v->name);

/* For each record: decode reads the fields in order (zeroing *out on error); encode appends them. */
#define WIRE_DEFINE_RECORD(name, FIELDS)                                                           \
    int wire_##name##_decode(jute_reader *r, struct wire_##name *out) {                            \
        PK_ASSERT(r != NULL);                                                                      \
        PK_ASSERT(out != NULL);                                                                    \
        FIELDS(WIRE_DEC_FIELD)                                                                     \
        if (r->err != 0) memset(out, 0, sizeof *out);                                              \
        return r->err;                                                                             \
    }                                                                                              \
    void wire_##name##_encode(pk_buf *b, const struct wire_##name *v) {                            \
        PK_ASSERT(b != NULL);                                                                      \
        PK_ASSERT(v != NULL);                                                                      \
        FIELDS(WIRE_ENC_FIELD)                                                                     \
    }
WIRE_RECORDS(WIRE_DEFINE_RECORD)

/* ---- handshake records ---- */

/* Decodes a ConnectRequest with an optional trailing readOnly byte. */
int wire_connect_request_decode(jute_reader *r, struct wire_connect_request *out) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    out->protocol_version = jute_read_int(r);
    out->last_zxid_seen = jute_read_long(r);
    out->timeout_ms = jute_read_int(r);
    out->session_id = jute_read_long(r);
    out->passwd = jute_read_buffer(r);
    if (r->err == 0 && jute_reader_remaining(r) > 0) {
        out->read_only = jute_read_bool(r);
        out->has_read_only = true;
    }
    if (r->err != 0) memset(out, 0, sizeof *out);
    return r->err;
}

/* Encodes a ConnectRequest (readOnly only if has_read_only). */
void wire_connect_request_encode(pk_buf *b, const struct wire_connect_request *v) {
    PK_ASSERT(b != NULL);
    PK_ASSERT(v != NULL);
    jute_write_int(b, v->protocol_version);
    jute_write_long(b, v->last_zxid_seen);
    jute_write_int(b, v->timeout_ms);
    jute_write_long(b, v->session_id);
    jute_write_buffer(b, v->passwd);
    if (v->has_read_only) jute_write_bool(b, v->read_only);
}

/* Decodes a ConnectResponse with an optional trailing readOnly byte. */
int wire_connect_response_decode(jute_reader *r, struct wire_connect_response *out) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    out->protocol_version = jute_read_int(r);
    out->timeout_ms = jute_read_int(r);
    out->session_id = jute_read_long(r);
    out->passwd = jute_read_buffer(r);
    if (r->err == 0 && jute_reader_remaining(r) > 0) {
        out->read_only = jute_read_bool(r);
        out->has_read_only = true;
    }
    if (r->err != 0) memset(out, 0, sizeof *out);
    return r->err;
}

/* Encodes a ConnectResponse (readOnly only if has_read_only). */
void wire_connect_response_encode(pk_buf *b, const struct wire_connect_response *v) {
    PK_ASSERT(b != NULL);
    PK_ASSERT(v != NULL);
    jute_write_int(b, v->protocol_version);
    jute_write_int(b, v->timeout_ms);
    jute_write_long(b, v->session_id);
    jute_write_buffer(b, v->passwd);
    if (v->has_read_only) jute_write_bool(b, v->read_only);
}

/* ---- vector iteration ---- */

/* Shared iterator setup: array mode when items is set, else a reader over the validated raw bytes. */
static void wire_vec_iter_setup(struct wire_vec_iter *it, int32_t count, const void *items, pk_slice raw) {
    PK_ASSERT(it != NULL);
    PK_ASSERT(count >= -1);
    it->items = items;
    it->index = 0;
    it->count = count < 0 ? 0 : count;
    jute_reader_init(&it->r, items != NULL ? NULL : raw.ptr, items != NULL ? 0 : raw.len, INT32_MAX);
}

/* Starts iterating a vector<ustring>. */
void wire_str_vec_iter_init(struct wire_vec_iter *it, const struct wire_str_vec *v) {
    wire_vec_iter_setup(it, v->count, v->items, v->raw);
}
/* Starts iterating a vector<ACL>. */
void wire_acl_vec_iter_init(struct wire_vec_iter *it, const struct wire_acl_vec *v) {
    wire_vec_iter_setup(it, v->count, v->items, v->raw);
}
/* Starts iterating a vector<ClientInfo>. */
void wire_client_info_vec_iter_init(struct wire_vec_iter *it, const struct wire_client_info_vec *v) {
    wire_vec_iter_setup(it, v->count, v->items, v->raw);
}

/* Returns the next string of a vector<ustring>. */
bool wire_str_vec_next(struct wire_vec_iter *it, pk_slice *out) {
    PK_ASSERT(it != NULL && out != NULL);
    if (it->index >= it->count) return false;
    if (it->items != NULL) {
        *out = ((const pk_slice *)it->items)[it->index];
    } else {
        *out = jute_read_ustring(&it->r);
        PK_ASSERT(it->r.err == 0); /* raw was validated at decode */
    }
    it->index++;
    return true;
}

/* Returns the next ACL of a vector<ACL>. */
bool wire_acl_vec_next(struct wire_vec_iter *it, struct wire_acl *out) {
    PK_ASSERT(it != NULL && out != NULL);
    if (it->index >= it->count) return false;
    if (it->items != NULL) {
        *out = ((const struct wire_acl *)it->items)[it->index];
    } else {
        int rc = wire_acl_decode(&it->r, out);
        PK_ASSERT(rc == 0); /* raw was validated at decode */
    }
    it->index++;
    return true;
}

/* Returns the next ClientInfo of a vector<ClientInfo>. */
bool wire_client_info_vec_next(struct wire_vec_iter *it, struct wire_client_info *out) {
    PK_ASSERT(it != NULL && out != NULL);
    if (it->index >= it->count) return false;
    if (it->items != NULL) {
        *out = ((const struct wire_client_info *)it->items)[it->index];
    } else {
        int rc = wire_client_info_decode(&it->r, out);
        PK_ASSERT(rc == 0); /* raw was validated at decode */
    }
    it->index++;
    return true;
}

/* ---- request bodies by opcode ---- */

/* X(op, union member, record name) for every op whose body is one record. */
#define WIRE_REQUEST_OPS(X)                                                        \
    X(ZK_OP_CREATE, create, create_request)                                        \
    X(ZK_OP_CREATE2, create, create_request)                                       \
    X(ZK_OP_CREATE_CONTAINER, create, create_request)                              \
    X(ZK_OP_CREATE_TTL, create_ttl, create_ttl_request)                            \
    X(ZK_OP_DELETE, del, delete_request)                                           \
    X(ZK_OP_EXISTS, exists, exists_request)                                        \
    X(ZK_OP_GET_DATA, get_data, get_data_request)                                  \
    X(ZK_OP_SET_DATA, set_data, set_data_request)                                  \
    X(ZK_OP_GET_ACL, get_acl, get_acl_request)                                     \
    X(ZK_OP_SET_ACL, set_acl, set_acl_request)                                     \
    X(ZK_OP_GET_CHILDREN, get_children, get_children_request)                      \
    X(ZK_OP_SYNC, sync, sync_request)                                              \
    X(ZK_OP_GET_CHILDREN2, get_children2, get_children2_request)                   \
    X(ZK_OP_CHECK, check, check_version_request)                                   \
    X(ZK_OP_RECONFIG, reconfig, reconfig_request)                                  \
    X(ZK_OP_CHECK_WATCHES, check_watches, check_watches_request)                   \
    X(ZK_OP_REMOVE_WATCHES, remove_watches, remove_watches_request)                \
    X(ZK_OP_DELETE_CONTAINER, delete_container, delete_container_request)          \
    X(ZK_OP_AUTH, auth, auth_packet)                                               \
    X(ZK_OP_SET_WATCHES, set_watches, set_watches)                                 \
    X(ZK_OP_SASL, sasl, get_sasl_request)                                          \
    X(ZK_OP_GET_EPHEMERALS, get_ephemerals, get_ephemerals_request)                \
    X(ZK_OP_GET_ALL_CHILDREN_NUMBER, get_all_children_number, get_all_children_number_request) \
    X(ZK_OP_SET_WATCHES2, set_watches2, set_watches2)                              \
    X(ZK_OP_ADD_WATCH, add_watch, add_watch_request)

/* True for ops whose request body is empty. */
static bool wire_op_empty_body(int32_t op) {
    return op == ZK_OP_PING || op == ZK_OP_CLOSE_SESSION || op == ZK_OP_WHOAMI;
}

/* True for the multi ops, whose body is kept whole. */
static bool wire_op_is_multi(int32_t op) { return op == ZK_OP_MULTI || op == ZK_OP_MULTI_READ; }

/* True when op has a request record wire_request_decode understands. */
bool wire_request_op_known(int32_t op) {
    switch (op) {
#define WIRE_KNOWN_CASE(code, member, rec) case code:
        WIRE_REQUEST_OPS(WIRE_KNOWN_CASE)
#undef WIRE_KNOWN_CASE
        return true;
    default:
        return wire_op_empty_body(op) || wire_op_is_multi(op);
    }
}

/* Decodes the request record for op. */
int wire_request_decode(jute_reader *r, int32_t op, struct wire_request *out) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    out->op = op;
    switch (op) {
#define WIRE_DECODE_CASE(code, member, rec) \
    case code: return wire_##rec##_decode(r, &out->u.member);
        WIRE_REQUEST_OPS(WIRE_DECODE_CASE)
#undef WIRE_DECODE_CASE
    default: break;
    }
    if (wire_op_empty_body(op)) return r->err;
    if (!wire_op_is_multi(op)) return PK_ENOENT;
    out->u.multi = jute_read_raw(r, jute_reader_remaining(r));
    return r->err;
}

/* Encodes the request record of req->op. */
void wire_request_encode(pk_buf *b, const struct wire_request *req) {
    PK_ASSERT(b != NULL && req != NULL);
    PK_ASSERT(wire_request_op_known(req->op));
    switch (req->op) {
#define WIRE_ENCODE_CASE(code, member, rec) \
    case code: wire_##rec##_encode(b, &req->u.member); return;
        WIRE_REQUEST_OPS(WIRE_ENCODE_CASE)
#undef WIRE_ENCODE_CASE
    default: break;
    }
    if (wire_op_is_multi(req->op) && req->u.multi.len > 0) pk_buf_append(b, req->u.multi.ptr, req->u.multi.len);
}

/* ---- multi ---- */

/* True when an op of type may appear inside a multi_op (14: writes and check; 22: reads). */
static bool wire_multi_op_allowed(int32_t multi_op, int32_t type) {
    if (multi_op == ZK_OP_MULTI_READ) return type == ZK_OP_GET_DATA || type == ZK_OP_GET_CHILDREN;
    switch (type) {
    case ZK_OP_CREATE: case ZK_OP_CREATE2: case ZK_OP_CREATE_CONTAINER: case ZK_OP_CREATE_TTL:
    case ZK_OP_DELETE: case ZK_OP_SET_DATA: case ZK_OP_CHECK:
        return true;
    default:
        return false;
    }
}

/* Starts iterating a multi request body. */
void wire_multi_iter_init(struct wire_multi_iter *it, int32_t multi_op, pk_slice body, int32_t max_field_len) {
    PK_ASSERT(it != NULL);
    PK_ASSERT(wire_op_is_multi(multi_op));
    jute_reader_init_slice(&it->r, body, max_field_len);
    it->multi_op = multi_op;
    it->ops = 0;
    it->finished = false;
}

/* Decodes the next op of a multi request. */
int wire_multi_iter_next(struct wire_multi_iter *it, struct wire_request *op) {
    PK_ASSERT(it != NULL && op != NULL);
    PK_ASSERT(it->ops <= it->r.len / WIRE_MULTI_HEADER_LEN); /* every op consumed a 9-byte header */
    if (it->r.err != 0) return it->r.err;
    if (it->finished) return 0;
    struct wire_multi_header h;
    if (wire_multi_header_decode(&it->r, &h) != 0) return it->r.err;
    if (h.done) {
        it->finished = true;
        return 0;
    }
    if (!wire_multi_op_allowed(it->multi_op, h.type)) {
        jute_reader_fail(&it->r, PK_EDECODE);
        return it->r.err;
    }
    int rc = wire_request_decode(&it->r, h.type, op);
    if (rc != 0) return rc;
    it->ops++;
    return 1;
}

/* Appends one multi request op (header + record). */
void wire_multi_op_encode(pk_buf *b, const struct wire_request *op) {
    PK_ASSERT(b != NULL && op != NULL);
    PK_ASSERT(!wire_op_is_multi(op->op));
    struct wire_multi_header h = {.type = op->op, .done = false, .err = -1};
    wire_multi_header_encode(b, &h);
    wire_request_encode(b, op);
}

/* Appends the multi end marker {-1, true, -1}. */
void wire_multi_done_encode(pk_buf *b) {
    struct wire_multi_header h = {.type = -1, .done = true, .err = -1};
    wire_multi_header_encode(b, &h);
}

/* Appends a success result header {type, false, 0}. */
void wire_multi_result_header_encode(pk_buf *b, int32_t type) {
    PK_ASSERT(type != ZK_OP_ERROR);
    struct wire_multi_header h = {.type = type, .done = false, .err = 0};
    wire_multi_header_encode(b, &h);
}

/* Appends an error result {-1, false, err} + ErrorResponse{err}. */
void wire_multi_error_result_encode(pk_buf *b, int32_t err) {
    struct wire_multi_header h = {.type = ZK_OP_ERROR, .done = false, .err = err};
    wire_multi_header_encode(b, &h);
    struct wire_error_response e = {.err = err};
    wire_error_response_encode(b, &e);
}

/* Starts iterating a MultiResponse body. */
void wire_multi_result_iter_init(struct wire_multi_result_iter *it, pk_slice body, int32_t max_field_len) {
    PK_ASSERT(it != NULL);
    PK_ASSERT(max_field_len >= 0);
    jute_reader_init_slice(&it->r, body, max_field_len);
    it->results = 0;
    it->finished = false;
}

/* Decodes the body of one result of the given type; returns false for a type with no known result. */
static bool wire_multi_result_body_decode(jute_reader *r, int32_t type, struct wire_multi_result *out) {
    PK_ASSERT(r != NULL && out != NULL);
    switch (type) {
    case ZK_OP_CREATE: (void)wire_create_response_decode(r, &out->u.create); return true;
    case ZK_OP_CREATE2: (void)wire_create2_response_decode(r, &out->u.create2); return true;
    case ZK_OP_SET_DATA: (void)wire_set_data_response_decode(r, &out->u.set_data); return true;
    case ZK_OP_GET_DATA: (void)wire_get_data_response_decode(r, &out->u.get_data); return true;
    case ZK_OP_GET_CHILDREN: (void)wire_get_children_response_decode(r, &out->u.get_children); return true;
    case ZK_OP_ERROR: (void)wire_error_response_decode(r, &out->u.error); return true;
    case ZK_OP_DELETE: case ZK_OP_CHECK: return true;
    default: return false;
    }
}

/* Decodes the next MultiResponse entry. */
int wire_multi_result_iter_next(struct wire_multi_result_iter *it, struct wire_multi_result *out) {
    PK_ASSERT(it != NULL && out != NULL);
    PK_ASSERT(it->results <= it->r.len / WIRE_MULTI_HEADER_LEN); /* every result consumed a 9-byte header */
    memset(out, 0, sizeof *out);
    if (it->r.err != 0) return it->r.err;
    if (it->finished) return 0;
    if (wire_multi_header_decode(&it->r, &out->header) != 0) return it->r.err;
    if (out->header.done) {
        it->finished = true;
        return 0;
    }
    if (!wire_multi_result_body_decode(&it->r, out->header.type, out)) jute_reader_fail(&it->r, PK_EDECODE);
    if (it->r.err != 0) {
        memset(out, 0, sizeof *out);
        return it->r.err;
    }
    it->results++;
    return 1;
}
