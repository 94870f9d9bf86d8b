/* proto: names for ZooKeeper opcodes and error codes. See proto.h. */
#include "wire/proto.h"

#include "base/base.h"

/* X(op, short name as in cons lop= (FinalRequestProcessor), long name as in Request.op2String). */
#define ZK_OP_NAMES(X)                                                 \
    X(ZK_OP_NOTIFICATION, "NA", "notification")                        \
    X(ZK_OP_CREATE, "CREA", "create")                                  \
    X(ZK_OP_DELETE, "DELE", "delete")                                  \
    X(ZK_OP_EXISTS, "EXIS", "exists")                                  \
    X(ZK_OP_GET_DATA, "GETD", "getData")                               \
    X(ZK_OP_SET_DATA, "SETD", "setData")                               \
    X(ZK_OP_GET_ACL, "GETA", "getACL")                                 \
    X(ZK_OP_SET_ACL, "SETA", "setACL")                                 \
    X(ZK_OP_GET_CHILDREN, "GETC", "getChildren")                       \
    X(ZK_OP_SYNC, "SYNC", "sync")                                      \
    X(ZK_OP_PING, "PING", "ping")                                      \
    X(ZK_OP_GET_CHILDREN2, "GETC", "getChildren2")                     \
    X(ZK_OP_CHECK, "CHEC", "check")                                    \
    X(ZK_OP_MULTI, "MULT", "multi")                                    \
    X(ZK_OP_CREATE2, "CREA", "create2")                                \
    X(ZK_OP_RECONFIG, "RECO", "reconfig")                              \
    X(ZK_OP_CHECK_WATCHES, "CHKW", "checkWatches")                     \
    X(ZK_OP_REMOVE_WATCHES, "REMW", "removeWatches")                   \
    X(ZK_OP_CREATE_CONTAINER, "CREA", "createContainer")               \
    X(ZK_OP_DELETE_CONTAINER, "DELE", "deleteContainer")               \
    X(ZK_OP_CREATE_TTL, "CREA", "createTTL")                           \
    X(ZK_OP_MULTI_READ, "MLTR", "multiRead")                           \
    X(ZK_OP_AUTH, "NA", "auth")                                        \
    X(ZK_OP_SET_WATCHES, "SETW", "setWatches")                         \
    X(ZK_OP_SASL, "NA", "sasl")                                        \
    X(ZK_OP_GET_EPHEMERALS, "GETE", "getEphemerals")                   \
    X(ZK_OP_GET_ALL_CHILDREN_NUMBER, "GETACN", "getAllChildrenNumber") \
    X(ZK_OP_SET_WATCHES2, "STW2", "setWatches2")                       \
    X(ZK_OP_ADD_WATCH, "ADDW", "addWatch")                             \
    X(ZK_OP_WHOAMI, "HOMI", "whoAmI")                                  \
    X(ZK_OP_CREATE_SESSION, "SESS", "createSession")                   \
    X(ZK_OP_CLOSE_SESSION, "CLOS", "closeSession")                     \
    X(ZK_OP_ERROR, "NA", "error")

/* X(code, name as in KeeperException.Code / the C client). */
#define ZK_ERR_NAMES(X)                                                \
    X(ZK_ERR_OK, "OK")                                                 \
    X(ZK_ERR_SYSTEM, "SYSTEMERROR")                                    \
    X(ZK_ERR_RUNTIME_INCONSISTENCY, "RUNTIMEINCONSISTENCY")            \
    X(ZK_ERR_DATA_INCONSISTENCY, "DATAINCONSISTENCY")                  \
    X(ZK_ERR_CONNECTION_LOSS, "CONNECTIONLOSS")                        \
    X(ZK_ERR_MARSHALLING, "MARSHALLINGERROR")                          \
    X(ZK_ERR_UNIMPLEMENTED, "UNIMPLEMENTED")                           \
    X(ZK_ERR_OPERATION_TIMEOUT, "OPERATIONTIMEOUT")                    \
    X(ZK_ERR_BAD_ARGUMENTS, "BADARGUMENTS")                            \
    X(ZK_ERR_INVALID_STATE, "INVALIDSTATE")                            \
    X(ZK_ERR_UNKNOWN_SESSION, "UNKNOWNSESSION")                        \
    X(ZK_ERR_NEW_CONFIG_NO_QUORUM, "NEWCONFIGNOQUORUM")                \
    X(ZK_ERR_RECONFIG_IN_PROGRESS, "RECONFIGINPROGRESS")               \
    X(ZK_ERR_SSL_CONNECTION, "SSLCONNECTIONERROR")                     \
    X(ZK_ERR_API, "APIERROR")                                          \
    X(ZK_ERR_NO_NODE, "NONODE")                                        \
    X(ZK_ERR_NO_AUTH, "NOAUTH")                                        \
    X(ZK_ERR_BAD_VERSION, "BADVERSION")                                \
    X(ZK_ERR_NO_CHILDREN_FOR_EPHEMERALS, "NOCHILDRENFOREPHEMERALS")    \
    X(ZK_ERR_NODE_EXISTS, "NODEEXISTS")                                \
    X(ZK_ERR_NOT_EMPTY, "NOTEMPTY")                                    \
    X(ZK_ERR_SESSION_EXPIRED, "SESSIONEXPIRED")                        \
    X(ZK_ERR_INVALID_CALLBACK, "INVALIDCALLBACK")                      \
    X(ZK_ERR_INVALID_ACL, "INVALIDACL")                                \
    X(ZK_ERR_AUTH_FAILED, "AUTHFAILED")                                \
    X(ZK_ERR_CLOSING, "CLOSING")                                       \
    X(ZK_ERR_NOTHING, "NOTHING")                                       \
    X(ZK_ERR_SESSION_MOVED, "SESSIONMOVED")                            \
    X(ZK_ERR_NOT_READONLY, "NOTREADONLY")                              \
    X(ZK_ERR_EPHEMERAL_ON_LOCAL_SESSION, "EPHEMERALONLOCALSESSION")    \
    X(ZK_ERR_NO_WATCHER, "NOWATCHER")                                  \
    X(ZK_ERR_REQUEST_TIMEOUT, "REQUESTTIMEOUT")                        \
    X(ZK_ERR_RECONFIG_DISABLED, "RECONFIGDISABLED")                    \
    X(ZK_ERR_SESSION_CLOSED_REQUIRE_SASL_AUTH, "SESSIONCLOSEDREQUIRESASLAUTH") \
    X(ZK_ERR_QUOTA_EXCEEDED, "QUOTAEXCEEDED")                          \
    X(ZK_ERR_THROTTLED, "THROTTLEDOP")

/* Returns the cons lop= short name of op ("NA" when ZooKeeper never sets one). */
const char *zk_op_name(int op) {
    switch (op) {
#define ZK_OP_SHORT_CASE(code, short_name, long_name) \
    case code: return short_name;
        ZK_OP_NAMES(ZK_OP_SHORT_CASE)
#undef ZK_OP_SHORT_CASE
    default: return "NA";
    }
}

/* Returns the Request.op2String-style name of op ("unknown" for others). */
const char *zk_op_long_name(int op) {
    switch (op) {
#define ZK_OP_LONG_CASE(code, short_name, long_name) \
    case code: return long_name;
        ZK_OP_NAMES(ZK_OP_LONG_CASE)
#undef ZK_OP_LONG_CASE
    default: return "unknown";
    }
}

/* Returns the KeeperException.Code name of err ("UNKNOWN" for others). */
const char *zk_err_name(int err) {
    switch (err) {
#define ZK_ERR_NAME_CASE(code, name) \
    case code: return name;
        ZK_ERR_NAMES(ZK_ERR_NAME_CASE)
#undef ZK_ERR_NAME_CASE
    default: return "UNKNOWN";
    }
}

/* True when err is a code of enum zk_err. */
int zk_err_known(int err) {
    switch (err) {
#define ZK_ERR_KNOWN_CASE(code, name) \
    case code: return 1;
        ZK_ERR_NAMES(ZK_ERR_KNOWN_CASE)
#undef ZK_ERR_KNOWN_CASE
    default: return 0;
    }
}
