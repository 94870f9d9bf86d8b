/* watch.c: `pk watch PATH -- CMD`: a persistent watch (addWatch PERSISTENT, on pk's own small client,
 * since libzookeeper-mt 3.8 has no addWatch); CMD runs once per observed new version of the data,
 * with the data on stdin. After a lost session it reconnects, re-adds the watch and runs CMD if the
 * data changed meanwhile. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pk.h"

/* Watch state shared with the raw client's event callback. */
typedef struct watch_state {
    const char *path;
    bool pending;
    int64_t last_mzxid; /* -1: node absent, 0: never seen */
    int runs;
} watch_state;

/* Event callback: any event on our path means "look again". */
static void watch_on_event(void *ctx, int type, int state, const char *path) {
    watch_state *w = ctx;
    PK_ASSERT(w != NULL);
    PK_ASSERT(path != NULL);
    if (strcmp(path, w->path) == 0) w->pending = true;
}

/* Run cmd with data on stdin, keeping the session alive meanwhile; returns its exit code. */
static int watch_run(pk_raw *r, char **cmd, const pk_buf *data, const struct Stat *st, const char *path) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(cmd != NULL && cmd[0] != NULL);
    int fd = memfd_create("pk-watch", MFD_CLOEXEC);
    if (fd < 0) return PK_EXIT_USAGE;
    if (data->len && write(fd, data->data, data->len) != (ssize_t)data->len) {
        close(fd);
        return PK_EXIT_USAGE;
    }
    lseek(fd, 0, SEEK_SET);
    char e_path[PK_PATH_MAX + 32], e_ver[64], e_zxid[64];
    snprintf(e_path, sizeof e_path, "PK_WATCH_PATH=%s", path);
    snprintf(e_ver, sizeof e_ver, "PK_WATCH_VERSION=%d", st->version);
    snprintf(e_zxid, sizeof e_zxid, "PK_WATCH_MZXID=%" PRId64, st->mzxid);
    char *env[] = {e_path, e_ver, e_zxid, NULL};
    pk_child ch;
    int rc = pk_child_spawn(&ch, cmd, env, fd);
    close(fd);
    if (rc != PK_OK) return PK_EXIT_USAGE;
    for (long i = 0; i < (1L << 40) && !pk_child_reap(&ch); i++) {
        int sig = pk_sig_drain();
        if (sig) pk_child_signal(&ch, sig);
        (void)pk_raw_poll(r, 50); /* keeps pinging; events only set `pending` */
    }
    return pk_child_exit_code(&ch);
}

/* Connect a raw session to the first reachable server of the connect string. */
static int watch_connect(pk_ctx *ctx, pk_raw *r) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(r != NULL);
    char hosts[1024];
    snprintf(hosts, sizeof hosts, "%s", ctx->hosts);
    char *save = NULL;
    for (char *h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(h, '/'); /* chroot suffixes are not supported here */
        if (slash) *slash = 0;
        if (pk_raw_connect(r, h, ctx->timeout_ms, ctx->connect_wait_ms) == ZOK) return ZOK;
    }
    return ZCONNECTIONLOSS;
}

/* Look at the node; run CMD if its data is a version we have not run for. */
static int watch_check(pk_raw *r, watch_state *w, char **cmd, bool force) {
    PK_ASSERT(r != NULL && w != NULL);
    pk_buf data;
    pk_buf_init(&data);
    struct Stat st;
    memset(&st, 0, sizeof st);
    int rc = pk_raw_get_data(r, w->path, &data, &st);
    if (rc == ZNONODE) {
        w->last_mzxid = -1;
        rc = ZOK;
    } else if (rc == ZOK && (force || (w->last_mzxid != 0 && st.mzxid != w->last_mzxid))) {
        w->last_mzxid = st.mzxid;
        int code = watch_run(r, cmd, &data, &st, w->path);
        w->runs++;
        if (code != 0) fprintf(stderr, "pk: command exited with %d\n", code);
    } else if (rc == ZOK && w->last_mzxid == 0) {
        w->last_mzxid = st.mzxid;
    }
    pk_buf_deinit(&data);
    PK_ASSERT(rc <= 0);
    return rc;
}

/* pk watch [--initial] [--count N] PATH -- CMD... */
int pk_recipe_watch(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    static const char usage[] = "pk watch [--initial] [--count N] PATH -- CMD...";
    bool initial = false;
    int max_runs = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--initial") == 0) initial = true;
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) max_runs = atoi(argv[++i]);
        else return pk_report_usage(&ctx->o, usage);
    }
    if (argc < i + 3 || strcmp(argv[i + 1], "--") != 0 || argv[i][0] != '/') return pk_report_usage(&ctx->o, usage);
    watch_state w = {.path = argv[i], .last_mzxid = initial ? -2 : 0};
    char **cmd = argv + i + 2;
    int result = PK_EXIT_OK;
    for (int session = 0; session < 1000000; session++) {
        pk_raw r;
        if (watch_connect(ctx, &r) != ZOK) {
            if (session == 0) {
                fprintf(stderr, "Cannot connect to %s\n", ctx->hosts);
                return PK_EXIT_CONN;
            }
            if (pk_sig_drain()) break;
            usleep(500 * 1000);
            continue;
        }
        r.on_event = watch_on_event;
        r.event_ctx = &w;
        pk_buf req, resp;
        pk_buf_init(&req);
        pk_buf_init(&resp);
        pk_raw_put_str(&req, w.path);
        pk_raw_put_i32(&req, 0); /* PERSISTENT */
        int rc = pk_raw_call(&r, PK_OP_ADDWATCH, req.data, req.len, &resp, r.timeout_ms);
        pk_buf_deinit(&req);
        pk_buf_deinit(&resp);
        if (rc == ZOK) rc = watch_check(&r, &w, cmd, w.last_mzxid == -2);
        int sig = 0;
        for (long k = 0; k < (1L << 40) && rc == ZOK && !sig; k++) {
            if (max_runs && w.runs >= max_runs) break;
            rc = pk_raw_poll(&r, 200);
            if (rc == ZOPERATIONTIMEOUT) rc = ZCONNECTIONLOSS;
            sig = pk_sig_drain();
            if (rc == ZOK && w.pending && !sig) {
                w.pending = false;
                rc = watch_check(&r, &w, cmd, false);
            }
        }
        pk_raw_close(&r);
        if (sig || (max_runs && w.runs >= max_runs)) break;
        if (rc == ZUNIMPLEMENTED || rc == ZNOAUTH || rc == ZBADARGUMENTS) {
            result = pk_report_zerr(&ctx->o, rc, w.path);
            break;
        }
        fprintf(stderr, "pk: watch session lost (%s); reconnecting\n", pk_zrc_name(rc));
        if (w.last_mzxid == 0) w.last_mzxid = -1;
        usleep(200 * 1000);
    }
    return result;
}
