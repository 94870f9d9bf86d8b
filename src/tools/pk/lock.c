/* lock.c: `pk lock` and `pk elect`: ephemeral-sequential contenders, each watching only its
 * predecessor (no herd effect), a fencing token (the node's czxid) for the child, and the child
 * signalled when the session is lost. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pk.h"

#define LOCK_RETRY_MAX 1000

/* One contender's node. */
typedef struct contend {
    char dir[PK_PATH_MAX];
    char tag[16];  /* "lock" or "n" */
    char guid[33]; /* protects against lost create replies (Curator's trick) */
    char node[PK_PATH_MAX];
    int64_t czxid;
} contend;

/* Options shared by lock and elect. */
typedef struct hold_opts {
    int wait_ms;       /* give up acquiring after this long (0: wait forever) */
    int grace_ms;      /* SIGKILL the child this long after signalling it */
    int lost_after_ms; /* a disconnection this long counts as losing the session (0: 2/3 of its timeout) */
    int signal;        /* what the child gets when the session is lost */
    bool export_session;
    bool once;
} hold_opts;

/* Fill buf with 32 random hex digits. */
static void random_hex(char *buf, size_t n) {
    PK_ASSERT(n >= 33);
    uint8_t raw[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof raw) {
        uint64_t x = (uint64_t)getpid() ^ (uint64_t)pk_now_ms() << 20;
        memcpy(raw, &x, sizeof x);
    }
    for (int i = 0; i < 16; i++) snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    PK_ASSERT(strlen(buf) == 32);
}

/* True if a child name belongs to this recipe ("..-<tag>-<seq>"). */
static bool is_contender(const char *name, const char *tag) {
    PK_ASSERT(name != NULL && tag != NULL);
    char mark[24];
    snprintf(mark, sizeof mark, "-%s-", tag);
    return strstr(name, mark) != NULL && pk_seq_of(name) >= 0;
}

/* qsort comparator: by sequence suffix. */
static int cmp_seq(const void *a, const void *b) {
    PK_ASSERT(a != NULL && b != NULL);
    int x = pk_seq_of(*(char *const *)a), y = pk_seq_of(*(char *const *)b);
    return (x > y) - (x < y);
}

/* Wait for the session to come back after a connection loss: OK, or EXPIRED/CONN. */
static int recover(pk_ctx *ctx) {
    PK_ASSERT(ctx->connected);
    if (ctx->conn.expired || zoo_state(ctx->conn.zh) == ZOO_EXPIRED_SESSION_STATE) return PK_EXIT_EXPIRED;
    int rc = pk_conn_wait_connected(&ctx->conn, zoo_recv_timeout(ctx->conn.zh) + 1000);
    PK_ASSERT(rc >= 0);
    return rc;
}

/* Find our node among the children of c->dir by its guid; 1 found, 0 not, or -PK_EXIT code. */
static int find_own(pk_ctx *ctx, contend *c) {
    PK_ASSERT(ctx != NULL && c != NULL);
    struct String_vector kids = {0};
    int rc = zoo_get_children(ctx->conn.zh, c->dir, 0, &kids);
    if (rc != ZOK) return -pk_exit_for_zrc(rc);
    int found = 0;
    for (int i = 0; i < kids.count && !found; i++) {
        if (strstr(kids.data[i], c->guid) == NULL) continue;
        char *p = pk_path_join(c->dir, kids.data[i]);
        snprintf(c->node, sizeof c->node, "%s", p);
        free(p);
        found = 1;
    }
    deallocate_String_vector(&kids);
    return found;
}

/* Create our ephemeral-sequential node, surviving connection loss without leaving a twin. */
static int contend_create(pk_ctx *ctx, contend *c, const char *data) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(c->dir[0] == '/');
    random_hex(c->guid, sizeof c->guid);
    char prefix[PK_PATH_MAX + 64];
    snprintf(prefix, sizeof prefix, "%s/_c_%s-%s-", strcmp(c->dir, "/") ? c->dir : "", c->guid, c->tag);
    bool maybe_created = false;
    for (int attempt = 0; attempt < LOCK_RETRY_MAX; attempt++) {
        if (maybe_created) {
            int f = find_own(ctx, c);
            if (f == 1) break;
            if (f < 0 && -f != PK_EXIT_CONN) return -f;
            if (f < 0) {
                int r = recover(ctx);
                if (r != PK_EXIT_OK) return r;
                continue;
            }
        }
        int rc = pk_mkdirs(ctx->conn.zh, prefix);
        if (rc == ZOK)
            rc = zoo_create(ctx->conn.zh, prefix, data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE,
                            ZOO_EPHEMERAL_SEQUENTIAL, c->node, sizeof c->node);
        if (rc == ZOK) break;
        if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT) return pk_report_zerr(&ctx->o, rc, prefix);
        maybe_created = true;
        int r = recover(ctx);
        if (r != PK_EXIT_OK) return r;
    }
    struct Stat st;
    int rc = zoo_exists(ctx->conn.zh, c->node, 0, &st);
    if (rc != ZOK) return rc == ZNONODE ? PK_EXIT_EXPIRED : pk_exit_for_zrc(rc);
    c->czxid = st.czxid;
    PK_ASSERT(c->node[0] == '/');
    return PK_EXIT_OK;
}

/* Wait until our node is the lowest; watches only the predecessor. Returns OK, EXPIRED, TIMEOUT,
 * or 128+signal when interrupted. */
static int contend_wait(pk_ctx *ctx, contend *c, int wait_ms) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(c->node[0] == '/');
    int64_t deadline = wait_ms > 0 ? pk_now_ms() + wait_ms : INT64_MAX;
    const char *own = strrchr(c->node, '/') + 1;
    for (long round = 0; round < (1L << 40); round++) {
        struct String_vector kids = {0};
        int rc = zoo_get_children(ctx->conn.zh, c->dir, 0, &kids);
        if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
            int r = recover(ctx);
            if (r != PK_EXIT_OK) return r;
            continue;
        }
        if (rc != ZOK) return pk_exit_for_zrc(rc);
        char **v = pk_calloc((size_t)kids.count + 1, sizeof(char *));
        int n = 0;
        for (int i = 0; i < kids.count; i++)
            if (is_contender(kids.data[i], c->tag)) v[n++] = kids.data[i];
        qsort(v, (size_t)n, sizeof(char *), cmp_seq);
        int me = -1;
        for (int i = 0; i < n && me < 0; i++)
            if (strcmp(v[i], own) == 0) me = i;
        char pred[PK_PATH_MAX] = "";
        if (me > 0) {
            char *p = pk_path_join(c->dir, v[me - 1]);
            snprintf(pred, sizeof pred, "%s", p);
            free(p);
        }
        free(v);
        deallocate_String_vector(&kids);
        if (me < 0) return PK_EXIT_EXPIRED; /* our node is gone: the session ended */
        if (me == 0) return PK_EXIT_OK;
        struct Stat st;
        rc = zoo_exists(ctx->conn.zh, pred, 1, &st);
        if (rc == ZNONODE) continue;
        if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT) return pk_exit_for_zrc(rc);
        /* Wait for the predecessor's deletion (or any session change), then look again. */
        for (int spin = 0; spin < 1000000; spin++) {
            int64_t left = deadline - pk_now_ms();
            if (left <= 0) return PK_EXIT_TIMEOUT;
            pk_wait_fds(&ctx->conn, -1, (int)PK_MIN(left, 500));
            int sig = pk_sig_drain();
            if (sig) return 128 + sig;
            pk_event ev;
            bool again = rc != ZOK;
            while (pk_conn_wait_event(&ctx->conn, &ev, 0) == 1) {
                if (ev.type == ZOO_SESSION_EVENT && ev.state == ZOO_EXPIRED_SESSION_STATE) return PK_EXIT_EXPIRED;
                if (ev.type == ZOO_SESSION_EVENT && ev.state == ZOO_CONNECTED_STATE) again = true;
                if (ev.type != ZOO_SESSION_EVENT && strcmp(ev.path, pred) == 0) again = true;
            }
            if (ctx->conn.expired) return PK_EXIT_EXPIRED;
            if (again && pk_conn_is_connected(&ctx->conn)) break;
        }
    }
    return PK_EXIT_TIMEOUT;
}

/* Delete our node (best effort, retrying through connection loss while the session lives). */
static void contend_release(pk_ctx *ctx, contend *c) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(c->node[0] == '/');
    for (int attempt = 0; attempt < 20; attempt++) {
        int rc = zoo_delete(ctx->conn.zh, c->node, -1);
        if (rc == ZOK || rc == ZNONODE || rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE) return;
        if (recover(ctx) != PK_EXIT_OK) return;
    }
}

/* Run cmd while we hold the node; signal it if the session is lost. Returns the child's exit code,
 * or PK_EXIT_EXPIRED if the session was lost while it ran (*lost set). */
static int hold_run(pk_ctx *ctx, contend *c, char **cmd, const hold_opts *ho, const char *env_prefix, bool *lost) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(cmd != NULL && cmd[0] != NULL);
    const clientid_t *cid = zoo_client_id(ctx->conn.zh);
    char e_token[64], e_node[PK_PATH_MAX + 32], e_sid[64], e_pw[80];
    snprintf(e_token, sizeof e_token, "%s_TOKEN=%" PRId64, env_prefix, c->czxid);
    snprintf(e_node, sizeof e_node, "%s_NODE=%s", env_prefix, c->node);
    snprintf(e_sid, sizeof e_sid, "%s_SESSION_ID=0x%" PRIx64, env_prefix, (uint64_t)cid->client_id);
    int l = snprintf(e_pw, sizeof e_pw, "%s_SESSION_PASSWD=", env_prefix);
    for (int i = 0; i < 16; i++) l += snprintf(e_pw + l, sizeof e_pw - (size_t)l, "%02x", (uint8_t)cid->passwd[i]);
    char *env[] = {e_token, e_node, e_sid, ho->export_session ? e_pw : NULL, NULL};
    pk_child ch;
    if (pk_child_spawn(&ch, cmd, env, -1) != PK_OK) return PK_EXIT_USAGE;
    int lost_after = ho->lost_after_ms > 0 ? ho->lost_after_ms : zoo_recv_timeout(ctx->conn.zh) * 2 / 3;
    int64_t down_since = 0, kill_at = 0;
    *lost = false;
    bool node_gone = false, told_expired = false;
    struct Stat st;
    if (zoo_exists(ctx->conn.zh, c->node, 1, &st) == ZNONODE) node_gone = true; /* watch our own node */
    for (long i = 0; i < (1L << 40) && !pk_child_reap(&ch); i++) {
        pk_wait_fds(&ctx->conn, -1, 100);
        int sig = pk_sig_drain();
        if (sig) pk_child_signal(&ch, sig); /* pass ^C / TERM on; we release when it exits */
        pk_event ev;
        while (pk_conn_wait_event(&ctx->conn, &ev, 0) == 1)
            if (ev.type == ZOO_DELETED_EVENT && strcmp(ev.path, c->node) == 0) node_gone = true;
        int64_t now = pk_now_ms();
        bool up = pk_conn_is_connected(&ctx->conn);
        down_since = up ? 0 : down_since ? down_since : now;
        if (!*lost && (ctx->conn.expired || node_gone || (down_since && now - down_since >= lost_after))) {
            *lost = true;
            fprintf(stderr, "pk: %s; signalling the command\n",
                    ctx->conn.expired ? "session expired"
                    : node_gone      ? "lock node deleted"
                                     : "disconnected too long, session presumed lost");
            pk_child_signal(&ch, ho->signal);
            kill_at = now + ho->grace_ms;
        }
        if (*lost && now >= kill_at) pk_child_signal(&ch, SIGKILL);
        if (ctx->conn.expired && !told_expired && node_gone) fprintf(stderr, "pk: session expired\n");
        told_expired = told_expired || ctx->conn.expired;
    }
    PK_ASSERT(ch.exited);
    if (*lost) return PK_EXIT_EXPIRED;
    return pk_child_exit_code(&ch);
}

/* Parse the options before PATH and find "--"; returns the index of the first positional or -1. */
static int parse_hold_opts(pk_ctx *ctx, int argc, char **argv, hold_opts *ho, int *dashdash) {
    PK_ASSERT(argc >= 1);
    PK_ASSERT(ho != NULL);
    *ho = (hold_opts){.wait_ms = 0, .grace_ms = 10000, .lost_after_ms = 0, .signal = SIGTERM};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        int x = atoi(v);
        if (strcmp(a, "--wait-ms") == 0 && x > 0) ho->wait_ms = x, i++;
        else if (strcmp(a, "--grace-ms") == 0 && x > 0) ho->grace_ms = x, i++;
        else if (strcmp(a, "--lost-after-ms") == 0 && x > 0) ho->lost_after_ms = x, i++;
        else if (strcmp(a, "--signal") == 0 && x > 0 && x < 64) ho->signal = x, i++;
        else if (strcmp(a, "--export-session") == 0) ho->export_session = true;
        else if (strcmp(a, "--once") == 0) ho->once = true;
        else return -1;
    }
    *dashdash = -1;
    for (int k = i; k < argc; k++)
        if (strcmp(argv[k], "--") == 0) {
            *dashdash = k;
            break;
        }
    PK_ASSERT(ctx != NULL);
    return *dashdash > i && *dashdash + 1 < argc ? i : -1;
}

/* pk lock [opts] PATH -- CMD... */
int pk_recipe_lock(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    static const char usage[] = "pk lock [--wait-ms N] [--grace-ms N] [--lost-after-ms N] [--signal N] "
                                "[--export-session] PATH -- CMD...";
    hold_opts ho;
    int dd;
    int p = parse_hold_opts(ctx, argc, argv, &ho, &dd);
    if (p < 0 || dd != p + 1 || argv[p][0] != '/') return pk_report_usage(&ctx->o, usage);
    contend c = {0};
    snprintf(c.dir, sizeof c.dir, "%s", argv[p]);
    snprintf(c.tag, sizeof c.tag, "lock");
    int rc = pk_ctx_connect(ctx);
    if (rc == PK_EXIT_OK) rc = contend_create(ctx, &c, NULL);
    if (rc == PK_EXIT_OK) {
        rc = contend_wait(ctx, &c, ho.wait_ms);
        if (rc == PK_EXIT_OK) {
            bool lost = false;
            rc = hold_run(ctx, &c, argv + dd + 1, &ho, "PK_LOCK", &lost);
        } else if (rc == PK_EXIT_TIMEOUT) {
            fprintf(stderr, "pk: timed out waiting for the lock %s\n", c.dir);
        }
        contend_release(ctx, &c);
    }
    pk_ctx_disconnect(ctx);
    PK_ASSERT(rc >= 0);
    return rc;
}

/* pk elect [opts] PATH ID -- CMD...: volunteer, run CMD while leader; rejoin after losing (unless --once). */
int pk_recipe_elect(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    static const char usage[] = "pk elect [--once] [--grace-ms N] [--lost-after-ms N] [--signal N] PATH ID -- CMD...";
    hold_opts ho;
    int dd;
    int p = parse_hold_opts(ctx, argc, argv, &ho, &dd);
    if (p < 0 || dd != p + 2 || argv[p][0] != '/') return pk_report_usage(&ctx->o, usage);
    int rc = PK_EXIT_OK;
    for (int term = 0; term < 1000000; term++) {
        contend c = {0};
        snprintf(c.dir, sizeof c.dir, "%s", argv[p]);
        snprintf(c.tag, sizeof c.tag, "n");
        rc = pk_ctx_connect(ctx);
        if (rc == PK_EXIT_OK) rc = contend_create(ctx, &c, argv[p + 1]);
        bool lost = false;
        if (rc == PK_EXIT_OK) {
            rc = contend_wait(ctx, &c, 0);
            if (rc == PK_EXIT_OK) {
                fprintf(stderr, "pk: %s is the leader of %s (token %" PRId64 ")\n", argv[p + 1], c.dir, c.czxid);
                rc = hold_run(ctx, &c, argv + dd + 1, &ho, "PK_ELECT", &lost);
            }
            contend_release(ctx, &c);
        }
        pk_ctx_disconnect(ctx);
        bool retry = (rc == PK_EXIT_EXPIRED || rc == PK_EXIT_CONN) && !ho.once;
        if (!retry) break;
        fprintf(stderr, "pk: leadership lost or never gained (%d); volunteering again\n", rc);
        usleep(200 * 1000);
        if (pk_sig_drain()) break;
    }
    return rc;
}

/* Wait for an interrupt while keeping an ephemeral node alive; re-create it after expiry. */
int pk_recipe_register(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    static const char usage[] = "pk register [-s] PATH DATA";
    bool seq = argc > 1 && strcmp(argv[1], "-s") == 0;
    int p = seq ? 2 : 1;
    if (argc != p + 2 || argv[p][0] != '/') return pk_report_usage(&ctx->o, usage);
    const char *path = argv[p], *data = argv[p + 1];
    int rc = PK_EXIT_OK;
    for (int session = 0; session < 1000000; session++) {
        rc = pk_ctx_connect(ctx);
        char made[PK_PATH_MAX] = "";
        for (int attempt = 0; rc == PK_EXIT_OK && attempt < LOCK_RETRY_MAX && !made[0]; attempt++) {
            int z = pk_mkdirs(ctx->conn.zh, path);
            if (z == ZOK)
                z = zoo_create(ctx->conn.zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE,
                               seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL, made, sizeof made);
            struct Stat st;
            if (z == ZNODEEXISTS && zoo_exists(ctx->conn.zh, path, 0, &st) == ZOK &&
                st.ephemeralOwner == zoo_client_id(ctx->conn.zh)->client_id)
                snprintf(made, sizeof made, "%s", path); /* our own create whose reply was lost */
            else if (z == ZNODEEXISTS) {
                fprintf(stderr, "pk: %s is registered by another session; waiting\n", path);
                usleep(500 * 1000);
            } else if (z == ZCONNECTIONLOSS || z == ZOPERATIONTIMEOUT)
                rc = recover(ctx);
            else if (z != ZOK)
                rc = pk_report_zerr(&ctx->o, z, path);
            if (pk_sig_drain()) break;
        }
        if (rc != PK_EXIT_OK || !made[0]) break;
        if (ctx->o.json) {
            fprintf(stdout, "{\"registered\":");
            pk_json_str(stdout, made, strlen(made));
            fprintf(stdout, "}\n");
        } else {
            fprintf(stdout, "registered %s\n", made);
        }
        fflush(stdout);
        int sig = 0;
        for (long i = 0; i < (1L << 40) && !sig && !ctx->conn.expired; i++) {
            pk_wait_fds(&ctx->conn, -1, 1000);
            sig = pk_sig_drain();
            pk_event ev;
            while (pk_conn_wait_event(&ctx->conn, &ev, 0) == 1) {
            }
        }
        pk_ctx_disconnect(ctx); /* closing the session removes the registration at once */
        if (sig) break;
        fprintf(stderr, "pk: session expired; registering again\n");
    }
    return rc;
}
