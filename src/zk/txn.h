/* txn: the binary form of a resolved write (produced by zk_prep_*, consumed by zk_apply).
 *
 * All integers big-endian, strings/buffers in jute form (i32 length + bytes, -1 = null), so a txn is
 * self-describing and decoding is bounds-checked by jute_reader. Layout:
 *
 *   header:   u64 zxid | i64 time_ms | u64 session_id | i32 op (client op answered) | u8 type
 *   payload by type (ZK_TXN_*):
 *     ERROR            i32 err
 *     CREATE           ustring path | buffer data | vector<ACL> acl | i64 owner (raw ephemeralOwner:
 *                      session id, 0, container INT64_MIN or TTL 0xFF<<56|ttl)
 *     DELETE           ustring path | i32 version (-1 = any)
 *     SET_DATA         ustring path | buffer data | i32 version (-1 = any)
 *     SET_ACL          ustring path | vector<ACL> acl | i32 aversion (-1 = any)
 *     CHECK            ustring path | i32 version
 *     MULTI            i32 n | n x (i32 sub_op | u8 sub_type | payload of sub_type)
 *                      A failed multi is a MULTI whose subs are all ERROR (err 0 before the failing op,
 *                      its code, then -2); apply then changes nothing and replies the failure layout.
 *     CREATE_SESSION   i32 timeout_ms | 16 bytes passwd
 *     CLOSE_SESSION    (nothing: the session is the header's; apply removes its ephemerals)
 *     DELETE_CONTAINER ustring path
 * The ACL in a txn is already fixed up (§9.3): apply stores it as is and never checks permissions.
 * Apply re-checks only structure (existence, versions, emptiness) and turns a violation into that error,
 * deterministically, so every replica agrees even if a leader's overlay was stale.
 */
#ifndef PK_ZK_TXN_H
#define PK_ZK_TXN_H

#include "base/base.h"

enum zk_txn_type {
    ZK_TXN_ERROR = 1,
    ZK_TXN_CREATE = 2,
    ZK_TXN_DELETE = 3,
    ZK_TXN_SET_DATA = 4,
    ZK_TXN_SET_ACL = 5,
    ZK_TXN_CHECK = 6,
    ZK_TXN_MULTI = 7,
    ZK_TXN_CREATE_SESSION = 8,
    ZK_TXN_CLOSE_SESSION = 9,
    ZK_TXN_DELETE_CONTAINER = 10,
};

#define ZK_TXN_HEADER_LEN 29
#define ZK_TXN_MAX_MULTI_OPS 100000
/* Largest txn prep produces: a multi whose txn would be larger fails as a whole (its first op BadArguments) and
 * changes nothing. A single op stays below it when the request is at most 8 MiB (rt clamps jute.maxbuffer
 * there): its only growth is its ACL's "auth" expansion, capped at ZK_ACL_MAX_EXPANDED_BYTES. rt's batches
 * rely on it to stay inside one px value (PX_MAX_VALUE_BYTES). */
#define ZK_TXN_MAX_BYTES (10u << 20)
/* Largest ACL list (jute bytes) a request's ACL may expand to ("auth" entries become one entry per
 * authenticated id of the session); larger is InvalidACL. */
#define ZK_ACL_MAX_EXPANDED_BYTES (1u << 20)

typedef struct zk_txn_header {
    uint64_t zxid;
    int64_t time_ms;
    uint64_t session_id;
    int32_t op;
    uint8_t type;
} zk_txn_header;

/* One decoded (sub-)txn payload; slices point into the txn bytes. */
typedef struct zk_txn_op {
    int32_t op;         /* client op (for multi results) */
    uint8_t type;       /* ZK_TXN_* (never MULTI) */
    int32_t err;        /* ERROR */
    pk_slice path;
    pk_slice data;      /* CREATE, SET_DATA (ptr NULL = null data) */
    pk_slice acl;       /* CREATE, SET_ACL: jute vector<ACL> bytes */
    int64_t owner;      /* CREATE */
    int32_t version;    /* DELETE, SET_DATA, SET_ACL (aversion), CHECK */
    int32_t timeout_ms; /* CREATE_SESSION */
    const uint8_t *passwd; /* CREATE_SESSION: 16 bytes */
} zk_txn_op;

/* Decodes the fixed header; false if txn is shorter than ZK_TXN_HEADER_LEN. */
bool zk_txn_header_decode(pk_slice txn, zk_txn_header *h);
/* Appends a txn header. */
void zk_txn_header_encode(pk_buf *b, const zk_txn_header *h);
/* Appends the payload of one non-multi op (by op->type). */
void zk_txn_op_encode(pk_buf *b, const zk_txn_op *op);

#endif
