/* proto: ZooKeeper client-protocol constants (opcodes, error codes, xids, events, states, perms, modes).
 *
 * Pure module. Values are exact (reference/zk-protocol.md §4-§9, §14); never invent new codes: clients
 * reject unknown error codes. zk_op_name/zk_err_name return static strings and never NULL.
 */
#ifndef PK_WIRE_PROTO_H
#define PK_WIRE_PROTO_H

#include <stdint.h>

/* Opcodes (ZooDefs.OpCode): RequestHeader.type, MultiHeader.type, txn types. */
enum zk_op {
    ZK_OP_NOTIFICATION = 0,
    ZK_OP_CREATE = 1,
    ZK_OP_DELETE = 2,
    ZK_OP_EXISTS = 3,
    ZK_OP_GET_DATA = 4,
    ZK_OP_SET_DATA = 5,
    ZK_OP_GET_ACL = 6,
    ZK_OP_SET_ACL = 7,
    ZK_OP_GET_CHILDREN = 8,
    ZK_OP_SYNC = 9,
    ZK_OP_PING = 11,
    ZK_OP_GET_CHILDREN2 = 12,
    ZK_OP_CHECK = 13,
    ZK_OP_MULTI = 14,
    ZK_OP_CREATE2 = 15,
    ZK_OP_RECONFIG = 16,
    ZK_OP_CHECK_WATCHES = 17,
    ZK_OP_REMOVE_WATCHES = 18,
    ZK_OP_CREATE_CONTAINER = 19,
    ZK_OP_DELETE_CONTAINER = 20,
    ZK_OP_CREATE_TTL = 21,
    ZK_OP_MULTI_READ = 22,
    ZK_OP_AUTH = 100,
    ZK_OP_SET_WATCHES = 101,
    ZK_OP_SASL = 102,
    ZK_OP_GET_EPHEMERALS = 103,
    ZK_OP_GET_ALL_CHILDREN_NUMBER = 104,
    ZK_OP_SET_WATCHES2 = 105,
    ZK_OP_ADD_WATCH = 106,
    ZK_OP_WHOAMI = 107,
    ZK_OP_CREATE_SESSION = -10,
    ZK_OP_CLOSE_SESSION = -11,
    ZK_OP_ERROR = -1,
};

/* Error codes (KeeperException.Code; C-client-only codes marked). */
enum zk_err {
    ZK_ERR_OK = 0,
    ZK_ERR_SYSTEM = -1,
    ZK_ERR_RUNTIME_INCONSISTENCY = -2,
    ZK_ERR_DATA_INCONSISTENCY = -3,
    ZK_ERR_CONNECTION_LOSS = -4,
    ZK_ERR_MARSHALLING = -5,
    ZK_ERR_UNIMPLEMENTED = -6,
    ZK_ERR_OPERATION_TIMEOUT = -7,
    ZK_ERR_BAD_ARGUMENTS = -8,
    ZK_ERR_INVALID_STATE = -9,          /* C client only */
    ZK_ERR_UNKNOWN_SESSION = -12,
    ZK_ERR_NEW_CONFIG_NO_QUORUM = -13,
    ZK_ERR_RECONFIG_IN_PROGRESS = -14,
    ZK_ERR_SSL_CONNECTION = -15,        /* C client only */
    ZK_ERR_API = -100,
    ZK_ERR_NO_NODE = -101,
    ZK_ERR_NO_AUTH = -102,
    ZK_ERR_BAD_VERSION = -103,
    ZK_ERR_NO_CHILDREN_FOR_EPHEMERALS = -108,
    ZK_ERR_NODE_EXISTS = -110,
    ZK_ERR_NOT_EMPTY = -111,
    ZK_ERR_SESSION_EXPIRED = -112,
    ZK_ERR_INVALID_CALLBACK = -113,
    ZK_ERR_INVALID_ACL = -114,
    ZK_ERR_AUTH_FAILED = -115,
    ZK_ERR_CLOSING = -116,              /* C client only */
    ZK_ERR_NOTHING = -117,              /* C client only */
    ZK_ERR_SESSION_MOVED = -118,
    ZK_ERR_NOT_READONLY = -119,
    ZK_ERR_EPHEMERAL_ON_LOCAL_SESSION = -120,
    ZK_ERR_NO_WATCHER = -121,
    ZK_ERR_REQUEST_TIMEOUT = -122,
    ZK_ERR_RECONFIG_DISABLED = -123,
    ZK_ERR_SESSION_CLOSED_REQUIRE_SASL_AUTH = -124,
    ZK_ERR_QUOTA_EXCEEDED = -125,
    ZK_ERR_THROTTLED = -127,
};

/* Special xids (§4). */
enum zk_xid {
    ZK_XID_NOTIFICATION = -1,
    ZK_XID_PING = -2,
    ZK_XID_AUTH = -4,
    ZK_XID_SET_WATCHES = -8,
};

/* WatcherEvent.type (Watcher.Event.EventType). The server only sends 1..4. */
enum zk_event_type {
    ZK_EVENT_NONE = -1,
    ZK_EVENT_NODE_CREATED = 1,
    ZK_EVENT_NODE_DELETED = 2,
    ZK_EVENT_NODE_DATA_CHANGED = 3,
    ZK_EVENT_NODE_CHILDREN_CHANGED = 4,
    ZK_EVENT_DATA_WATCH_REMOVED = 5,
    ZK_EVENT_CHILD_WATCH_REMOVED = 6,
    ZK_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};

/* WatcherEvent.state (Watcher.Event.KeeperState). The server only sends SYNC_CONNECTED. */
enum zk_state {
    ZK_STATE_UNKNOWN = -1,
    ZK_STATE_DISCONNECTED = 0,
    ZK_STATE_NO_SYNC_CONNECTED = 1,
    ZK_STATE_SYNC_CONNECTED = 3,
    ZK_STATE_AUTH_FAILED = 4,
    ZK_STATE_CONNECTED_READ_ONLY = 5,
    ZK_STATE_SASL_AUTHENTICATED = 6,
    ZK_STATE_CLOSED = 7,
    ZK_STATE_EXPIRED = -112,
};

/* ACL permission bits (ZooDefs.Perms). */
enum zk_perm {
    ZK_PERM_READ = 1,
    ZK_PERM_WRITE = 2,
    ZK_PERM_CREATE = 4,
    ZK_PERM_DELETE = 8,
    ZK_PERM_ADMIN = 16,
    ZK_PERM_ALL = 31,
};

/* CreateRequest.flags (CreateMode); other values are BadArguments. */
enum zk_create_mode {
    ZK_CREATE_PERSISTENT = 0,
    ZK_CREATE_EPHEMERAL = 1,
    ZK_CREATE_PERSISTENT_SEQUENTIAL = 2,
    ZK_CREATE_EPHEMERAL_SEQUENTIAL = 3,
    ZK_CREATE_CONTAINER = 4,
    ZK_CREATE_PERSISTENT_WITH_TTL = 5,
    ZK_CREATE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
    ZK_CREATE_MODE_MAX = 6,
};

/* CheckWatchesRequest / RemoveWatchesRequest .type (WatcherType). */
enum zk_watcher_type {
    ZK_WATCHER_CHILDREN = 1,
    ZK_WATCHER_DATA = 2,
    ZK_WATCHER_ANY = 3,
    ZK_WATCHER_PERSISTENT = 4,
    ZK_WATCHER_PERSISTENT_RECURSIVE = 5,
};

/* AddWatchRequest.mode (AddWatchMode). */
enum zk_add_watch_mode {
    ZK_ADD_WATCH_PERSISTENT = 0,
    ZK_ADD_WATCH_PERSISTENT_RECURSIVE = 1,
};

/* Default jute.maxbuffer (bytes): the request frame limit and the basis of the field limit. */
#define ZK_MAX_BUFFER_DEFAULT 0xfffff
/* Length of the session password in ConnectRequest/ConnectResponse (clients require exactly 16). */
#define ZK_PASSWD_LEN 16
/* ConnectRequest body sizes: without and with the trailing readOnly byte (passwd of 16 bytes). */
#define ZK_CONNECT_REQUEST_LEN_OLD 44
#define ZK_CONNECT_REQUEST_LEN 45
/* ConnectResponse body sizes: without and with readOnly. */
#define ZK_CONNECT_RESPONSE_LEN_OLD 36
#define ZK_CONNECT_RESPONSE_LEN 37

/* True when the create mode is ephemeral (1 or 3). */
static inline int zk_create_mode_is_ephemeral(int32_t mode) { return mode == 1 || mode == 3; }
/* True when the create mode appends a sequence suffix (2, 3 or 6). */
static inline int zk_create_mode_is_sequential(int32_t mode) { return mode == 2 || mode == 3 || mode == 6; }
/* True when the create mode is a TTL mode (5 or 6). */
static inline int zk_create_mode_is_ttl(int32_t mode) { return mode == 5 || mode == 6; }

/* Short op name as ZooKeeper prints it in cons `lop=` ("CREA", "GETD", ...; "NA" for others). */
const char *zk_op_name(int op);
/* Long op name in the style of ZooKeeper's Request.op2String ("create", "getData", ...; "unknown" for others). */
const char *zk_op_long_name(int op);
/* Error-code name (KeeperException.Code, e.g. "NONODE"); "UNKNOWN" for a code not in the table. */
const char *zk_err_name(int err);
/* True when err is one of the codes in enum zk_err. */
int zk_err_known(int err);

#endif
