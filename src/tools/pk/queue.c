/* queue.c: `pk queue put|take|size`: a distributed FIFO queue of persistent-sequential children.
 * take = read the lowest item, then delete it; whoever deletes it owns it (at most once). */
#include <stdlib.h>
#include <string.h>

#include "pk.h"

/* The queue's item names (children "q-<seq>"), sorted; ZOK or a ZK code. */
static int queue_items(pk_ctx *ctx, const char *dir, int watch, pk_paths *out) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(out != NULL);
    struct String_vector kids = {0};
    int z = zoo_get_children(ctx->conn.zh, dir, watch, &kids);
    if (z != ZOK) return z;
    for (int i = 0; i < kids.count; i++)
        if (strncmp(kids.data[i], "q-", 2) == 0 && pk_seq_of(kids.data[i]) >= 0) pk_paths_push(out, kids.data[i]);
    deallocate_String_vector(&kids);
    pk_sort_strs(out->v, out->count);
    return ZOK;
}

/* Try to take one item: 1 taken (printed), 0 queue empty, or -ZK code. */
static int queue_take_one(pk_ctx *ctx, const char *dir, int watch) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(dir != NULL);
    pk_paths items = {0};
    int z = queue_items(ctx, dir, watch, &items);
    int result = z == ZOK ? 0 : z;
    char *buf = pk_malloc(PK_DATA_MAX);
    for (int i = 0; z == ZOK && i < items.count && result == 0; i++) {
        char *p = pk_path_join(dir, items.v[i]);
        int len = PK_DATA_MAX;
        struct Stat st;
        z = zoo_get(ctx->conn.zh, p, 0, buf, &len, &st);
        if (z == ZOK) z = zoo_delete(ctx->conn.zh, p, -1);
        if (z == ZOK) {
            if (ctx->o.json) {
                fprintf(ctx->o.out, "{\"item\":");
                pk_json_str(ctx->o.out, p, strlen(p));
                fprintf(ctx->o.out, ",\"data\":");
                pk_json_str(ctx->o.out, buf, len > 0 ? (size_t)len : 0);
                fprintf(ctx->o.out, "}\n");
            } else {
                if (len > 0) fwrite(buf, 1, (size_t)len, ctx->o.out);
                fputc('\n', ctx->o.out);
            }
            result = 1;
        } else if (z == ZNONODE) {
            z = ZOK; /* someone else took it */
        } else {
            result = z;
        }
        free(p);
    }
    free(buf);
    pk_paths_free(&items);
    return result;
}

/* pk queue put PATH DATA | take [--wait-ms N] PATH | size PATH */
int pk_recipe_queue(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    static const char usage[] = "pk queue put PATH DATA | pk queue take [--wait-ms N] PATH | pk queue size PATH";
    if (argc < 3) return pk_report_usage(&ctx->o, usage);
    const char *op = argv[1];
    int wait_ms = -1, i = 2;
    if (strcmp(op, "take") == 0 && argc == 5 && strcmp(argv[2], "--wait-ms") == 0) {
        wait_ms = atoi(argv[3]);
        i = 4;
    }
    const char *dir = argv[i];
    bool ok = dir[0] == '/' && ((strcmp(op, "put") == 0 && argc == i + 2) ||
                                ((strcmp(op, "take") == 0 || strcmp(op, "size") == 0) && argc == i + 1));
    if (!ok) return pk_report_usage(&ctx->o, usage);
    int rc = pk_ctx_connect(ctx);
    if (rc != PK_EXIT_OK) {
        pk_ctx_disconnect(ctx);
        return rc;
    }
    if (strcmp(op, "put") == 0) {
        char *prefix = pk_path_join(dir, "q-");
        char made[PK_PATH_MAX];
        int z = pk_mkdirs(ctx->conn.zh, prefix);
        if (z == ZOK)
            z = zoo_create(ctx->conn.zh, prefix, argv[i + 1], (int)strlen(argv[i + 1]), &ZOO_OPEN_ACL_UNSAFE,
                           ZOO_PERSISTENT_SEQUENTIAL, made, sizeof made);
        if (z != ZOK) rc = pk_report_zerr(&ctx->o, z, prefix);
        else if (ctx->o.json) {
            fprintf(ctx->o.out, "{\"item\":");
            pk_json_str(ctx->o.out, made, strlen(made));
            fprintf(ctx->o.out, "}\n");
        }
        else fprintf(ctx->o.out, "%s\n", made);
        free(prefix);
    } else if (strcmp(op, "size") == 0) {
        pk_paths items = {0};
        int z = queue_items(ctx, dir, 0, &items);
        if (z != ZOK) rc = pk_report_zerr(&ctx->o, z, dir);
        else if (ctx->o.json) fprintf(ctx->o.out, "{\"size\":%d}\n", items.count);
        else fprintf(ctx->o.out, "%d\n", items.count);
        pk_paths_free(&items);
    } else {
        int64_t deadline = wait_ms >= 0 ? pk_now_ms() + wait_ms : INT64_MAX;
        for (long k = 0; k < (1L << 40); k++) {
            int r = queue_take_one(ctx, dir, 1);
            if (r == 1) break;
            if (r < 0 && r != ZNONODE && r != ZCONNECTIONLOSS) {
                rc = pk_report_zerr(&ctx->o, r, dir);
                break;
            }
            int64_t left = deadline - pk_now_ms();
            if (left <= 0) {
                rc = PK_EXIT_TIMEOUT;
                break;
            }
            pk_wait_fds(&ctx->conn, -1, (int)PK_MIN(left, 500));
            if (pk_sig_drain()) {
                rc = PK_EXIT_TIMEOUT;
                break;
            }
            pk_event ev;
            while (pk_conn_wait_event(&ctx->conn, &ev, 0) == 1) {
            }
            if (ctx->conn.expired) {
                rc = PK_EXIT_EXPIRED;
                break;
            }
        }
    }
    fflush(ctx->o.out);
    pk_ctx_disconnect(ctx);
    PK_ASSERT(rc >= 0);
    return rc;
}
