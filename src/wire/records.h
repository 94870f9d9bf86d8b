/* records: every ZooKeeper client-protocol record (zookeeper.jute, reference/zk-protocol.md §2), with a
 * decode/encode pair per record, request-body dispatch by opcode, and multi request/response helpers.
 *
 * Pure module, allocation-free on the decode path.
 *
 * Shape: for each record NAME in WIRE_RECORDS below there is
 *     struct wire_NAME { ...fields in wire order... };
 *     int  wire_NAME_decode(jute_reader *r, struct wire_NAME *out);   // 0 or the reader's negative PK_ error
 *     void wire_NAME_encode(pk_buf *b, const struct wire_NAME *v);     // appends the record's bytes
 * plus hand-written struct wire_connect_request / wire_connect_response (optional trailing readOnly byte).
 *
 * Invariants and ownership:
 *  - Decoded ustrings/buffers are zero-copy slices into the reader's input (valid while the input is).
 *    Null (-1) gives ptr == NULL (jute_is_null); empty gives ptr != NULL, len 0. Strings are NOT
 *    NUL-terminated and not UTF-8 checked; the zk layer validates paths. kazoo sends an empty ustring as
 *    null (-1): where a string is expected, treat null like "".
 *  - Decode never reads past the input; on any error every field of *out is zero/null and the error is
 *    sticky in the reader. A decoder does NOT require the input to end after the record (ZooKeeper ignores
 *    trailing bytes); check jute_reader_done() when you need that.
 *  - Vectors (vector<ustring>, vector<ACL>, vector<ClientInfo>) are a {count, items, raw} struct:
 *      count: -1 = null vector, else the number of elements.
 *      raw:   set by decode: the encoded elements, validated completely at decode time (so iterating
 *             them cannot fail); items is NULL after decode.
 *      items: set by the caller before encode: an array of `count` elements. If items is NULL, encode
 *             writes count + raw verbatim (so a decoded record re-encodes byte for byte).
 *    A zero-initialized vector encodes as an empty vector (count 0). Iterate either form with
 *    wire_vec_iter_init + wire_str_vec_next / wire_acl_vec_next / wire_client_info_vec_next.
 *  - Field names are snake_case of the jute names; times carry units: Stat.ctime_ms/mtime_ms,
 *    ConnectRequest.timeout_ms, CreateTTLRequest.ttl_ms.
 */
#ifndef PK_WIRE_RECORDS_H
#define PK_WIRE_RECORDS_H

#include "base/base.h"
#include "wire/jute.h"
#include "wire/proto.h"

struct wire_acl;
struct wire_client_info;

/* vector<ustring>: see "Vectors" above. */
struct wire_str_vec {
    int32_t count;
    const pk_slice *items;
    pk_slice raw;
};
/* vector<ACL>: see "Vectors" above. */
struct wire_acl_vec {
    int32_t count;
    const struct wire_acl *items;
    pk_slice raw;
};
/* vector<ClientInfo>: see "Vectors" above. */
struct wire_client_info_vec {
    int32_t count;
    const struct wire_client_info *items;
    pk_slice raw;
};

/* C types of the field kinds used in the record table. */
#define WIRE_CTYPE_INT int32_t
#define WIRE_CTYPE_LONG int64_t
#define WIRE_CTYPE_BOOL bool
#define WIRE_CTYPE_BUFFER pk_slice
#define WIRE_CTYPE_USTRING pk_slice
#define WIRE_CTYPE_ID struct wire_id
#define WIRE_CTYPE_STAT struct wire_stat
#define WIRE_CTYPE_STRVEC struct wire_str_vec
#define WIRE_CTYPE_ACLVEC struct wire_acl_vec
#define WIRE_CTYPE_CINFOVEC struct wire_client_info_vec

/* Field lists, in wire (declaration) order: F(kind, name). */
#define WIRE_ID_FIELDS(F) F(USTRING, scheme) F(USTRING, id)
#define WIRE_ACL_FIELDS(F) F(INT, perms) F(ID, id)
#define WIRE_STAT_FIELDS(F)                                                                        \
    F(LONG, czxid) F(LONG, mzxid) F(LONG, ctime_ms) F(LONG, mtime_ms) F(INT, version)                \
    F(INT, cversion) F(INT, aversion) F(LONG, ephemeral_owner) F(INT, data_length)                   \
    F(INT, num_children) F(LONG, pzxid)
#define WIRE_CLIENT_INFO_FIELDS(F) F(USTRING, auth_scheme) F(USTRING, user)
#define WIRE_REQUEST_HEADER_FIELDS(F) F(INT, xid) F(INT, type)
#define WIRE_REPLY_HEADER_FIELDS(F) F(INT, xid) F(LONG, zxid) F(INT, err)
#define WIRE_MULTI_HEADER_FIELDS(F) F(INT, type) F(BOOL, done) F(INT, err)
#define WIRE_AUTH_PACKET_FIELDS(F) F(INT, type) F(USTRING, scheme) F(BUFFER, auth)
#define WIRE_WATCHER_EVENT_FIELDS(F) F(INT, type) F(INT, state) F(USTRING, path)
#define WIRE_ERROR_RESPONSE_FIELDS(F) F(INT, err)
#define WIRE_SET_WATCHES_FIELDS(F)                                                                 \
    F(LONG, relative_zxid) F(STRVEC, data_watches) F(STRVEC, exist_watches) F(STRVEC, child_watches)
#define WIRE_SET_WATCHES2_FIELDS(F)                                                                \
    WIRE_SET_WATCHES_FIELDS(F) F(STRVEC, persistent_watches) F(STRVEC, persistent_recursive_watches)
#define WIRE_CREATE_REQUEST_FIELDS(F) F(USTRING, path) F(BUFFER, data) F(ACLVEC, acl) F(INT, flags)
#define WIRE_CREATE_TTL_REQUEST_FIELDS(F) WIRE_CREATE_REQUEST_FIELDS(F) F(LONG, ttl_ms)
#define WIRE_PATH_FIELDS(F) F(USTRING, path)
#define WIRE_PATH_WATCH_FIELDS(F) F(USTRING, path) F(BOOL, watch)
#define WIRE_PATH_VERSION_FIELDS(F) F(USTRING, path) F(INT, version)
#define WIRE_PATH_TYPE_FIELDS(F) F(USTRING, path) F(INT, type)
#define WIRE_STAT_ONLY_FIELDS(F) F(STAT, stat)
#define WIRE_CREATE2_RESPONSE_FIELDS(F) F(USTRING, path) F(STAT, stat)
#define WIRE_GET_DATA_RESPONSE_FIELDS(F) F(BUFFER, data) F(STAT, stat)
#define WIRE_SET_DATA_REQUEST_FIELDS(F) F(USTRING, path) F(BUFFER, data) F(INT, version)
#define WIRE_GET_ACL_RESPONSE_FIELDS(F) F(ACLVEC, acl) F(STAT, stat)
#define WIRE_SET_ACL_REQUEST_FIELDS(F) F(USTRING, path) F(ACLVEC, acl) F(INT, version)
#define WIRE_GET_CHILDREN_RESPONSE_FIELDS(F) F(STRVEC, children)
#define WIRE_GET_CHILDREN2_RESPONSE_FIELDS(F) F(STRVEC, children) F(STAT, stat)
#define WIRE_GET_ALL_CHILDREN_NUMBER_RESPONSE_FIELDS(F) F(INT, total_number)
#define WIRE_RECONFIG_REQUEST_FIELDS(F)                                                            \
    F(USTRING, joining_servers) F(USTRING, leaving_servers) F(USTRING, new_members) F(LONG, cur_config_id)
#define WIRE_ADD_WATCH_REQUEST_FIELDS(F) F(USTRING, path) F(INT, mode)
#define WIRE_GET_EPHEMERALS_REQUEST_FIELDS(F) F(USTRING, prefix_path)
#define WIRE_GET_EPHEMERALS_RESPONSE_FIELDS(F) F(STRVEC, ephemerals)
#define WIRE_WHOAMI_RESPONSE_FIELDS(F) F(CINFOVEC, client_info)
#define WIRE_TOKEN_FIELDS(F) F(BUFFER, token)
#define WIRE_DELETE_CONTAINER_REQUEST_FIELDS(F) F(BUFFER, path)

/* The record table: R(name, FIELDS). Order matters only in that nested records come first. */
#define WIRE_RECORDS(R)                                                                            \
    R(id, WIRE_ID_FIELDS)                                                                          \
    R(acl, WIRE_ACL_FIELDS)                                                                        \
    R(stat, WIRE_STAT_FIELDS)                                                                      \
    R(client_info, WIRE_CLIENT_INFO_FIELDS)                                                        \
    R(request_header, WIRE_REQUEST_HEADER_FIELDS)                                                  \
    R(reply_header, WIRE_REPLY_HEADER_FIELDS)                                                      \
    R(multi_header, WIRE_MULTI_HEADER_FIELDS)                                                      \
    R(auth_packet, WIRE_AUTH_PACKET_FIELDS)                                                        \
    R(watcher_event, WIRE_WATCHER_EVENT_FIELDS)                                                    \
    R(error_response, WIRE_ERROR_RESPONSE_FIELDS)                                                  \
    R(set_watches, WIRE_SET_WATCHES_FIELDS)                                                        \
    R(set_watches2, WIRE_SET_WATCHES2_FIELDS)                                                      \
    R(create_request, WIRE_CREATE_REQUEST_FIELDS)                                                  \
    R(create_ttl_request, WIRE_CREATE_TTL_REQUEST_FIELDS)                                          \
    R(create_response, WIRE_PATH_FIELDS)                                                           \
    R(create2_response, WIRE_CREATE2_RESPONSE_FIELDS)                                              \
    R(delete_request, WIRE_PATH_VERSION_FIELDS)                                                    \
    R(exists_request, WIRE_PATH_WATCH_FIELDS)                                                      \
    R(exists_response, WIRE_STAT_ONLY_FIELDS)                                                      \
    R(get_data_request, WIRE_PATH_WATCH_FIELDS)                                                    \
    R(get_data_response, WIRE_GET_DATA_RESPONSE_FIELDS)                                            \
    R(set_data_request, WIRE_SET_DATA_REQUEST_FIELDS)                                              \
    R(set_data_response, WIRE_STAT_ONLY_FIELDS)                                                    \
    R(get_acl_request, WIRE_PATH_FIELDS)                                                           \
    R(get_acl_response, WIRE_GET_ACL_RESPONSE_FIELDS)                                              \
    R(set_acl_request, WIRE_SET_ACL_REQUEST_FIELDS)                                                \
    R(set_acl_response, WIRE_STAT_ONLY_FIELDS)                                                     \
    R(get_children_request, WIRE_PATH_WATCH_FIELDS)                                                \
    R(get_children_response, WIRE_GET_CHILDREN_RESPONSE_FIELDS)                                    \
    R(get_children2_request, WIRE_PATH_WATCH_FIELDS)                                               \
    R(get_children2_response, WIRE_GET_CHILDREN2_RESPONSE_FIELDS)                                  \
    R(get_all_children_number_request, WIRE_PATH_FIELDS)                                           \
    R(get_all_children_number_response, WIRE_GET_ALL_CHILDREN_NUMBER_RESPONSE_FIELDS)              \
    R(check_version_request, WIRE_PATH_VERSION_FIELDS)                                             \
    R(sync_request, WIRE_PATH_FIELDS)                                                              \
    R(sync_response, WIRE_PATH_FIELDS)                                                             \
    R(reconfig_request, WIRE_RECONFIG_REQUEST_FIELDS)                                              \
    R(check_watches_request, WIRE_PATH_TYPE_FIELDS)                                                \
    R(remove_watches_request, WIRE_PATH_TYPE_FIELDS)                                               \
    R(add_watch_request, WIRE_ADD_WATCH_REQUEST_FIELDS)                                            \
    R(get_ephemerals_request, WIRE_GET_EPHEMERALS_REQUEST_FIELDS)                                  \
    R(get_ephemerals_response, WIRE_GET_EPHEMERALS_RESPONSE_FIELDS)                                \
    R(whoami_response, WIRE_WHOAMI_RESPONSE_FIELDS)                                                \
    R(get_sasl_request, WIRE_TOKEN_FIELDS)                                                         \
    R(set_sasl_response, WIRE_TOKEN_FIELDS)                                                        \
    R(delete_container_request, WIRE_DELETE_CONTAINER_REQUEST_FIELDS)

/* Declares struct wire_NAME and its decode/encode functions. */
#define WIRE_DECL_FIELD(kind, name) WIRE_CTYPE_##kind name;
#define WIRE_DECL_RECORD(name, FIELDS)                                                             \
    struct wire_##name {                                                                           \
        FIELDS(WIRE_DECL_FIELD)                                                                    \
    };                                                                                             \
    int wire_##name##_decode(jute_reader *r, struct wire_##name *out);                             \
    void wire_##name##_encode(pk_buf *b, const struct wire_##name *v);
WIRE_RECORDS(WIRE_DECL_RECORD)

/* Fixed encoded sizes (bytes). */
#define WIRE_STAT_LEN 68
#define WIRE_REQUEST_HEADER_LEN 8
#define WIRE_REPLY_HEADER_LEN 16
#define WIRE_MULTI_HEADER_LEN 9

/* ---- handshake records (hand-written: the trailing readOnly byte is optional) ---- */

/* ConnectRequest: 44 bytes (go-zk, no readOnly) or 45 bytes (Java, C, kazoo) with a 16-byte passwd. */
struct wire_connect_request {
    int32_t protocol_version;
    int64_t last_zxid_seen;
    int32_t timeout_ms;
    int64_t session_id;
    pk_slice passwd;
    bool read_only;      /* false when absent */
    bool has_read_only;  /* true when the request carried the readOnly byte: mirror it in the reply */
};
/* Decodes a ConnectRequest; readOnly is read iff at least one byte remains after passwd. */
int wire_connect_request_decode(jute_reader *r, struct wire_connect_request *out);
/* Encodes a ConnectRequest; the readOnly byte is written iff v->has_read_only. */
void wire_connect_request_encode(pk_buf *b, const struct wire_connect_request *v);

/* ConnectResponse: 36 bytes (no readOnly) or 37 bytes with a 16-byte passwd. */
struct wire_connect_response {
    int32_t protocol_version;
    int32_t timeout_ms;
    int64_t session_id;
    pk_slice passwd;
    bool read_only;
    bool has_read_only;  /* write the readOnly byte (iff the request had one) */
};
/* Decodes a ConnectResponse; readOnly is read iff at least one byte remains after passwd. */
int wire_connect_response_decode(jute_reader *r, struct wire_connect_response *out);
/* Encodes a ConnectResponse; the readOnly byte is written iff v->has_read_only. */
void wire_connect_response_encode(pk_buf *b, const struct wire_connect_response *v);

/* ---- vector iteration (works on both decoded {raw} and caller-built {items} vectors) ---- */

struct wire_vec_iter {
    jute_reader r;        /* over raw (decoded vectors) */
    const void *items;    /* caller-built vectors */
    int32_t index;        /* next element */
    int32_t count;        /* elements in total (0 for a null vector) */
};
/* Starts iterating a vector<ustring>. */
void wire_str_vec_iter_init(struct wire_vec_iter *it, const struct wire_str_vec *v);
/* Starts iterating a vector<ACL>. */
void wire_acl_vec_iter_init(struct wire_vec_iter *it, const struct wire_acl_vec *v);
/* Starts iterating a vector<ClientInfo>. */
void wire_client_info_vec_iter_init(struct wire_vec_iter *it, const struct wire_client_info_vec *v);
/* Stores the next string in *out and returns true, or returns false at the end. */
bool wire_str_vec_next(struct wire_vec_iter *it, pk_slice *out);
/* Stores the next ACL in *out and returns true, or returns false at the end. */
bool wire_acl_vec_next(struct wire_vec_iter *it, struct wire_acl *out);
/* Stores the next ClientInfo in *out and returns true, or returns false at the end. */
bool wire_client_info_vec_next(struct wire_vec_iter *it, struct wire_client_info *out);

/* ---- request bodies by opcode ---- */

/* A decoded client request body. `op` is the RequestHeader.type; the union member is chosen by op. */
struct wire_request {
    int32_t op;
    union {
        struct wire_create_request create;             /* 1 create, 15 create2, 19 createContainer */
        struct wire_create_ttl_request create_ttl;     /* 21 */
        struct wire_delete_request del;                /* 2 */
        struct wire_exists_request exists;             /* 3 */
        struct wire_get_data_request get_data;         /* 4 */
        struct wire_set_data_request set_data;         /* 5 */
        struct wire_get_acl_request get_acl;           /* 6 */
        struct wire_set_acl_request set_acl;           /* 7 */
        struct wire_get_children_request get_children; /* 8 */
        struct wire_sync_request sync;                 /* 9 */
        struct wire_get_children2_request get_children2; /* 12 */
        struct wire_check_version_request check;       /* 13 */
        pk_slice multi;                                /* 14, 22: the whole body; see wire_multi_iter */
        struct wire_reconfig_request reconfig;         /* 16 */
        struct wire_check_watches_request check_watches;   /* 17 */
        struct wire_remove_watches_request remove_watches; /* 18 */
        struct wire_delete_container_request delete_container; /* 20 */
        struct wire_auth_packet auth;                  /* 100 */
        struct wire_set_watches set_watches;           /* 101 */
        struct wire_get_sasl_request sasl;             /* 102 */
        struct wire_get_ephemerals_request get_ephemerals; /* 103 */
        struct wire_get_all_children_number_request get_all_children_number; /* 104 */
        struct wire_set_watches2 set_watches2;         /* 105 */
        struct wire_add_watch_request add_watch;       /* 106 */
    } u;
};
/* Decodes the request record for `op` (ping 11, closeSession -11 and whoAmI 107 have an empty body and
 * decode nothing). Returns 0; PK_ENOENT for an op with no client request record (unknown, 0, -1, -10:
 * ZooKeeper answers Unimplemented and closes); or the reader's error for a bad body (MarshallingError). */
int wire_request_decode(jute_reader *r, int32_t op, struct wire_request *out);
/* Encodes the request record of req->op (nothing for empty-body ops); req->op must be a known op. */
void wire_request_encode(pk_buf *b, const struct wire_request *req);
/* True when op has a request record that wire_request_decode understands (including empty bodies). */
bool wire_request_op_known(int32_t op);

/* ---- multi (14) and multiRead (22) ---- */

/* Iterator over a multi request body: MultiHeader + op record, until a header with done=true. */
struct wire_multi_iter {
    jute_reader r;
    int32_t multi_op;   /* ZK_OP_MULTI or ZK_OP_MULTI_READ: decides which op types are allowed */
    uint32_t ops;       /* ops returned so far */
    bool finished;      /* the done header was read */
};
/* Starts iterating `body` (the request body of a multi_op request). */
void wire_multi_iter_init(struct wire_multi_iter *it, int32_t multi_op, pk_slice body, int32_t max_field_len);
/* Decodes the next op into *op (op->op = header type) and returns 1; returns 0 at the done header; returns
 * PK_EDECODE (→ MarshallingError) for a truncated body or an op type not allowed in this multi kind
 * (multi: 1, 2, 5, 13, 15, 19, 21; multiRead: 4, 8). Errors are sticky. */
int wire_multi_iter_next(struct wire_multi_iter *it, struct wire_request *op);
/* Appends one multi request op: MultiHeader{op->op, false, -1} + its request record. */
void wire_multi_op_encode(pk_buf *b, const struct wire_request *op);
/* Appends the end marker of a multi request or response: MultiHeader{-1, true, -1}. */
void wire_multi_done_encode(pk_buf *b);
/* Appends a successful result header MultiHeader{type, false, 0}; the caller then appends the body
 * (CreateResponse for 1; Create2Response for 15; SetDataResponse for 5; none for 2 and 13; ...). */
void wire_multi_result_header_encode(pk_buf *b, int32_t type);
/* Appends an error result: MultiHeader{-1, false, err} + ErrorResponse{err}. */
void wire_multi_error_result_encode(pk_buf *b, int32_t err);


/* A decoded MultiResponse entry; header.type picks the union member (2 delete and 13 check have no body). */
struct wire_multi_result {
    struct wire_multi_header header;
    union {
        struct wire_create_response create;             /* 1 */
        struct wire_create2_response create2;           /* 15 (also for 19 and 21 creates) */
        struct wire_set_data_response set_data;         /* 5 */
        struct wire_get_data_response get_data;         /* 4 (multiRead) */
        struct wire_get_children_response get_children; /* 8 (multiRead) */
        struct wire_error_response error;               /* -1 */
    } u;
};
/* Iterator over a MultiResponse body (client side: tests, simulator, tools). */
struct wire_multi_result_iter {
    jute_reader r;
    uint32_t results;   /* results returned so far */
    bool finished;      /* the done header was read */
};
/* Starts iterating a MultiResponse body. */
void wire_multi_result_iter_init(struct wire_multi_result_iter *it, pk_slice body, int32_t max_field_len);
/* Decodes the next result into *out and returns 1; 0 at the done header; PK_EDECODE (sticky) for a truncated
 * body or a result type other than 1, 2, 4, 5, 8, 13, 15, -1. */
int wire_multi_result_iter_next(struct wire_multi_result_iter *it, struct wire_multi_result *out);

#endif
