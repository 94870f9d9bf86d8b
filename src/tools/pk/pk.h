/* pk: the paxoskeeper command-line client, shell and recipes, on the official ZooKeeper C client.
 *
 * Files: main.c (argument parsing, dispatch), conn.c (libzookeeper-mt session with an event queue),
 * raw.c (a minimal synchronous jute client for the operations libzookeeper-mt 3.8 lacks: addWatch,
 * whoami, getAllChildrenNumber), out.c (text/JSON output, exit codes), cmds.c (the zkCli commands),
 * shell.c (libedit shell), tree.c (iterative subtree walks), run.c (child processes), lock.c,
 * elect.c, watch.c, register.c, barrier.c, queue.c (recipes), status.c (4lw ensemble view).
 *
 * Invariants and ownership:
 *  - One pk_conn per process; libzookeeper-mt owns its own threads; the watcher only queues events
 *    (bounded ring) and wakes the main thread through a pipe, except in the interactive shell where
 *    it prints node events directly (as zkCli does).
 *  - Every command returns a pk exit code (PK_EXIT_*), never a negative value.
 *  - Strings handed out by helpers are owned by the caller unless documented otherwise.
 */
#ifndef PK_TOOLS_PK_H
#define PK_TOOLS_PK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#ifndef THREADED
#define THREADED 1 /* libzookeeper-mt: enables the synchronous API */
#endif
#include <zookeeper/proto.h>
#include <zookeeper/zookeeper.h>

#include "base/base.h"

/* Exit codes: each class of failure has its own code so scripts can tell them apart. */
enum pk_exit {
    PK_EXIT_OK = 0,
    PK_EXIT_NONODE = 1,     /* node does not exist */
    PK_EXIT_USAGE = 2,      /* bad command line */
    PK_EXIT_EXISTS = 3,     /* node already exists */
    PK_EXIT_BADVERSION = 4, /* version check failed */
    PK_EXIT_NOTEMPTY = 5,   /* node has children */
    PK_EXIT_AUTH = 6,       /* no permission or authentication failed */
    PK_EXIT_CONN = 7,       /* could not connect, connection lost, or timed out */
    PK_EXIT_EXPIRED = 8,    /* session expired (for recipes: the lock/leadership was lost) */
    PK_EXIT_ZK = 9,         /* any other server error */
    PK_EXIT_ARGS = 10,      /* server rejected the arguments (bad ACL, bad arguments, unimplemented) */
    PK_EXIT_TIMEOUT = 11,   /* a recipe gave up waiting (lock, barrier, queue take) */
};

/* Opcodes libzookeeper-mt 3.8 has no API for (ZooDefs.OpCode). */
#define PK_OP_REMOVEWATCHES 18
#define PK_OP_GETEPHEMERALS 103
#define PK_OP_GETALLCHILDRENNUMBER 104
#define PK_OP_ADDWATCH 106
#define PK_OP_WHOAMI 107

#define PK_PATH_MAX 4096
#define PK_DATA_MAX (1024 * 1024)
#define PK_EVENT_RING 256
#define PK_TREE_MAX_NODES 1000000

/* One watcher event copied out of the client's thread. */
typedef struct pk_event {
    int type;
    int state;
    char path[PK_PATH_MAX];
} pk_event;

/* A libzookeeper-mt session plus a bounded queue of its watcher events. */
typedef struct pk_conn {
    zhandle_t *zh;
    char hosts[1024];
    int timeout_ms;
    int wake_fd[2]; /* watcher writes one byte per queued event */
    pthread_mutex_t mu;
    pk_event *ring; /* PK_EVENT_RING entries */
    int ring_head;
    int ring_count;
    int dropped;
    int state; /* last session state seen by the watcher */
    bool expired;
    bool print_events; /* shell mode: print node events from the watcher thread */
    FILE *log;         /* where the C client logs (/dev/null unless PK_DEBUG) */
} pk_conn;

/* Output settings shared by every command. */
typedef struct pk_out {
    bool json;
    FILE *out;
    FILE *err;
} pk_out;

/* A minimal synchronous ZooKeeper connection of our own (see raw.c). */
typedef struct pk_raw {
    int fd;
    int64_t session_id;
    int timeout_ms;
    int32_t xid;
    int64_t last_send_ms; /* for pings: one every timeout/3 of silence */
    pthread_mutex_t mu;
    void (*on_event)(void *ctx, int type, int state, const char *path);
    void *event_ctx;
} pk_raw;

/* An addauth credential remembered so the raw connection can replay it. */
typedef struct pk_auth {
    char scheme[64];
    char cred[512];
} pk_auth;

/* Everything one command needs: connection, output, shell state. */
typedef struct pk_ctx {
    pk_conn conn;
    bool connected; /* conn.zh is open */
    pk_out o;
    char hosts[1024];
    int timeout_ms;
    int connect_wait_ms;
    pk_auth auths[16];
    int auth_count;
    pk_raw raw;
    bool raw_open;
    pthread_t raw_thread;
    bool raw_thread_running;
    volatile bool raw_thread_stop;
    bool shell;
    char **history; /* shell history lines, owned */
    int history_count;
    int history_cap;
    int last_status;
} pk_ctx;

/* conn.c */
int pk_conn_open(pk_conn *c, const char *hosts, int timeout_ms, int wait_ms, const clientid_t *cid);
void pk_conn_close(pk_conn *c);
int pk_conn_wait_event(pk_conn *c, pk_event *ev, int timeout_ms);
int pk_conn_wait_connected(pk_conn *c, int wait_ms);
bool pk_conn_is_connected(pk_conn *c);
const char *pk_state_name(int state);
const char *pk_event_name(int type);
int64_t pk_now_ms(void);

/* out.c */
int pk_exit_for_zrc(int rc);
const char *pk_zrc_name(int rc);
int pk_report_zerr(pk_out *o, int rc, const char *path);
int pk_report_usage(pk_out *o, const char *usage);
void pk_json_str(FILE *f, const char *s, size_t n);
void pk_json_stat(FILE *f, const struct Stat *st);
void pk_text_stat(FILE *f, const struct Stat *st);
void pk_format_time(char *buf, size_t n, int64_t ms);

/* raw.c */
int pk_raw_connect(pk_raw *r, const char *hostport, int timeout_ms, int wait_ms);
void pk_raw_close(pk_raw *r);
int pk_raw_call(pk_raw *r, int type, const uint8_t *req, size_t req_len, pk_buf *resp, int wait_ms);
int pk_raw_poll(pk_raw *r, int wait_ms);
void pk_raw_put_str(pk_buf *b, const char *s);
void pk_raw_put_i32(pk_buf *b, int32_t v);
int pk_raw_get_i32(pk_slice *s, int32_t *v);
int pk_raw_get_i64(pk_slice *s, int64_t *v);
int pk_raw_get_buf(pk_slice *s, const uint8_t **p, int32_t *n);
int pk_raw_get_stat(pk_slice *s, struct Stat *st);
int pk_raw_get_data(pk_raw *r, const char *path, pk_buf *data, struct Stat *st);

/* tree.c */
typedef struct pk_paths {
    char **v;
    int count;
    int cap;
} pk_paths;
void pk_paths_push(pk_paths *p, const char *s);
void pk_paths_free(pk_paths *p);
int pk_tree_walk(zhandle_t *zh, const char *root, pk_paths *out);
char *pk_path_join(const char *parent, const char *child);
int pk_mkdirs(zhandle_t *zh, const char *path);
int pk_cmp_str(const void *a, const void *b);
void pk_sort_strs(char **v, int n);
int pk_seq_of(const char *name);

/* cmds.c */
int pk_cmd_run(pk_ctx *ctx, int argc, char **argv);
bool pk_cmd_known(const char *name);
const char *pk_cmd_name_at(int i);
int pk_ctx_connect(pk_ctx *ctx);
void pk_ctx_disconnect(pk_ctx *ctx);
int pk_split_line(char *line, char **argv, int max);

/* shell.c */
int pk_shell(pk_ctx *ctx);

/* run.c */
typedef struct pk_child {
    pid_t pid;
    int status;
    bool exited;
} pk_child;
int pk_sig_setup(void);
int pk_sig_fd(void);
int pk_sig_drain(void);
int pk_sig_pending(void);
int pk_child_spawn(pk_child *ch, char **argv, char **extra_env, int stdin_fd);
bool pk_child_reap(pk_child *ch);
void pk_child_signal(pk_child *ch, int sig);
int pk_child_exit_code(const pk_child *ch);
int pk_wait_fds(pk_conn *c, int extra_fd, int timeout_ms);

/* recipes */
int pk_recipe_lock(pk_ctx *ctx, int argc, char **argv);
int pk_recipe_elect(pk_ctx *ctx, int argc, char **argv);
int pk_recipe_watch(pk_ctx *ctx, int argc, char **argv);
int pk_recipe_register(pk_ctx *ctx, int argc, char **argv);
int pk_recipe_barrier(pk_ctx *ctx, int argc, char **argv);
int pk_recipe_queue(pk_ctx *ctx, int argc, char **argv);
int pk_status(pk_ctx *ctx, int argc, char **argv);

#endif
