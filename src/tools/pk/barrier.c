/* barrier.c: `pk barrier PATH COUNT -- CMD`: ZooKeeper's double barrier. Enter: an ephemeral child
 * per participant; whoever sees COUNT participants creates PATH/ready, which lets everyone in.
 * Leave: delete our child, then wait until no participant remains. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pk.h"

/* Count participants (children other than "ready"); -1 with *zrc set on error. */
static int barrier_count(pk_ctx *ctx, const char *dir, int *zrc) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(zrc != NULL);
    struct String_vector kids = {0};
    *zrc = zoo_get_children(ctx->conn.zh, dir, 1, &kids);
    if (*zrc != ZOK) return -1;
    int n = 0;
    for (int i = 0; i < kids.count; i++) n += strcmp(kids.data[i], "ready") != 0;
    deallocate_String_vector(&kids);
    return n;
}

/* Wait for the next watch/session event, a signal, or the deadline; 0, 128+sig, or PK_EXIT_TIMEOUT. */
static int barrier_pause(pk_ctx *ctx, int64_t deadline) {
    PK_ASSERT(ctx->connected);
    int64_t left = deadline - pk_now_ms();
    if (left <= 0) return PK_EXIT_TIMEOUT;
    pk_wait_fds(&ctx->conn, -1, (int)PK_MIN(left, 500));
    int sig = pk_sig_drain();
    if (sig) return 128 + sig;
    pk_event ev;
    while (pk_conn_wait_event(&ctx->conn, &ev, 0) == 1) {
    }
    PK_ASSERT(left > 0);
    return ctx->conn.expired ? PK_EXIT_EXPIRED : 0;
}

/* pk barrier [--wait-ms N] [--id ID] PATH COUNT -- CMD... */
int pk_recipe_barrier(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    static const char usage[] = "pk barrier [--wait-ms N] [--id ID] PATH COUNT -- CMD...";
    int wait_ms = 0, i = 1;
    char id[128];
    snprintf(id, sizeof id, "p-%d", (int)getpid());
    for (; i + 1 < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i += 2) {
        if (strcmp(argv[i], "--wait-ms") == 0 && atoi(argv[i + 1]) > 0) wait_ms = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--id") == 0 && strchr(argv[i + 1], '/') == NULL) snprintf(id, sizeof id, "%s", argv[i + 1]);
        else return pk_report_usage(&ctx->o, usage);
    }
    if (argc < i + 4 || argv[i][0] != '/' || strcmp(argv[i + 2], "--") != 0 || atoi(argv[i + 1]) <= 0)
        return pk_report_usage(&ctx->o, usage);
    const char *dir = argv[i];
    int count = atoi(argv[i + 1]);
    int64_t deadline = wait_ms ? pk_now_ms() + wait_ms : INT64_MAX;
    int rc = pk_ctx_connect(ctx);
    char *me = pk_path_join(dir, id), *ready = pk_path_join(dir, "ready");
    int z = rc == PK_EXIT_OK ? pk_mkdirs(ctx->conn.zh, me) : ZOK;
    if (rc == PK_EXIT_OK && z == ZOK)
        z = zoo_create(ctx->conn.zh, me, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    if (rc == PK_EXIT_OK && z != ZOK) rc = pk_report_zerr(&ctx->o, z, me);
    /* Enter: wait for "ready" (or create it once COUNT participants are present). */
    for (long k = 0; rc == PK_EXIT_OK && k < (1L << 40); k++) {
        struct Stat st;
        z = zoo_exists(ctx->conn.zh, ready, 1, &st);
        if (z == ZOK) break;
        int n = barrier_count(ctx, dir, &z);
        if (n >= count) {
            z = zoo_create(ctx->conn.zh, ready, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
            if (z == ZOK || z == ZNODEEXISTS) break;
        }
        if (z != ZOK && z != ZNONODE && z != ZCONNECTIONLOSS) rc = pk_exit_for_zrc(z);
        else rc = barrier_pause(ctx, deadline);
    }
    int code = rc;
    if (rc == PK_EXIT_OK) {
        pk_child ch;
        if (pk_child_spawn(&ch, argv + i + 3, NULL, -1) != PK_OK) code = PK_EXIT_USAGE;
        for (long k = 0; code == PK_EXIT_OK && k < (1L << 40) && !pk_child_reap(&ch); k++) {
            pk_wait_fds(NULL, -1, 100);
            int sig = pk_sig_drain();
            if (sig) pk_child_signal(&ch, sig);
        }
        if (code == PK_EXIT_OK) code = pk_child_exit_code(&ch);
        /* Leave: remove ourselves, then wait until every participant has left. */
        z = zoo_delete(ctx->conn.zh, me, -1);
        for (long k = 0; k < (1L << 40); k++) {
            int n = barrier_count(ctx, dir, &z);
            if (n == 0 || (z != ZOK && z != ZCONNECTIONLOSS)) break;
            int p = barrier_pause(ctx, deadline);
            if (p != 0) {
                code = code ? code : p;
                break;
            }
        }
        (void)zoo_delete(ctx->conn.zh, ready, -1); /* best effort; another leaver may win */
    }
    free(me);
    free(ready);
    pk_ctx_disconnect(ctx);
    PK_ASSERT(code >= 0);
    return code;
}
