/* sim_lin: a linearizability checker for client histories over a sequential ZooKeeper model.
 *
 * A history is a list of completed or unknown-outcome operations on a small set of keys (znodes
 * "/k0".."/k7" directly under the root). Each op has an invocation time and a return time (strictly
 * distinct event numbers from the simulator); an op whose outcome is unknown (no reply: connection
 * lost, node crashed) has ret_t = SIM_LIN_NEVER and err = SIM_LIN_UNKNOWN: it may take effect at any
 * point after its invocation, or never (linearized after everything else).
 *
 * The model per key: exists, value, version, ephemeral owner. Ops: create (NODE_EXISTS if present),
 * setData with expected version (-1 = any; NO_NODE / BAD_VERSION; returns the new version), delete with
 * expected version, getData (a sync+read: returns value and version, or NO_NODE), and closeSession
 * (deletes the session's ephemerals). Any other observed error code is non-linearizable.
 *
 * Algorithm: Wing & Gong's search with Lowe's just-in-time linearization and memoization of
 * (set of linearized ops, model state), as Porcupine does, run per key (P-compositionality). A closeSession
 * op is put into every key's sub-history; checking the projections is sound (a violation found is real)
 * but may miss a violation that needs two keys to see.
 *
 * Bounds: at most SIM_LIN_MAX_OPS ops per history; the search stops after `budget` steps per key and
 * reports SIM_LIN_INCONCLUSIVE. Ownership: the checker copies nothing it keeps beyond one call.
 */
#ifndef PK_SIM_LIN_H
#define PK_SIM_LIN_H

#include "base/base.h"

#define SIM_LIN_MAX_KEYS 8
#define SIM_LIN_MAX_OPS 20000
#define SIM_LIN_NEVER UINT64_MAX
#define SIM_LIN_UNKNOWN INT32_MIN

typedef enum sim_lin_kind {
    SIM_LIN_CREATE = 1,
    SIM_LIN_SET = 2,
    SIM_LIN_DELETE = 3,
    SIM_LIN_GET = 4,
    SIM_LIN_CLOSE = 5,
} sim_lin_kind;

typedef struct sim_lin_op {
    uint64_t call_t;       /* invocation (event number) */
    uint64_t ret_t;        /* response, > call_t; SIM_LIN_NEVER for an unknown outcome */
    uint8_t kind;          /* sim_lin_kind */
    uint8_t key;           /* < SIM_LIN_MAX_KEYS (ignored for CLOSE) */
    bool ephemeral;        /* create: owned by `session` */
    uint64_t session;      /* the client's session (create ephemeral, close) */
    int64_t in_value;      /* create/set: value written */
    int32_t in_version;    /* set/delete: expected version, -1 = any */
    int32_t err;           /* observed ZK_ERR_* or SIM_LIN_UNKNOWN */
    int64_t out_value;     /* get: value read */
    int32_t out_version;   /* get: version read; set: resulting version */
} sim_lin_op;

typedef enum sim_lin_result {
    SIM_LIN_OK = 0,
    SIM_LIN_VIOLATION = 1,
    SIM_LIN_INCONCLUSIVE = 2,
} sim_lin_result;

typedef struct sim_lin_report {
    sim_lin_result result;
    int key;               /* the key whose sub-history failed (-1 when OK) */
    size_t key_ops;        /* ops in that sub-history */
    size_t max_linearized; /* the longest linearized prefix the search found for it */
    uint32_t *best;        /* optional, caller-provided (count entries): filled with the indices into ops of
                              that longest prefix, in linearization order (max_linearized of them) */
    uint64_t steps;        /* search steps used over all keys */
} sim_lin_report;

/* Checks ops[0..count) (any order); budget bounds search steps per key. Fills *rep (keeping rep->best, which
 * may be NULL) and returns rep->result. */
sim_lin_result sim_lin_check(const sim_lin_op *ops, size_t count, uint64_t budget, sim_lin_report *rep);

/* Writes a one-line readable form of op into buf (for traces and failure reports). */
void sim_lin_op_format(const sim_lin_op *op, char *buf, size_t len);

#endif
