/* cmds.c: zkCli's commands on one pk_ctx, shared by the shell and the one-shot command line. */
#include <getopt.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pk.h"

typedef int (*cmd_fn)(pk_ctx *ctx, int argc, char **argv);

/* One command: name, handler, usage line, whether it needs a live session. */
typedef struct cmd_def {
    const char *name;
    cmd_fn fn;
    const char *usage;
    bool needs_conn;
} cmd_def;

/* Reset getopt for a fresh argv (glibc: optind = 0 re-initialises, including permutation). */
static void opt_reset(void) {
    optind = 0;
    opterr = 0;
}

/* Parse a decimal integer argument; false if it is not one. */
static bool parse_int(const char *s, int64_t *v) {
    PK_ASSERT(s != NULL);
    PK_ASSERT(v != NULL);
    char *end = NULL;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end != 0) return false;
    *v = x;
    return true;
}

/* Print a list of strings as zkCli does ("[a, b]") or as a JSON array. */
static void print_list(pk_ctx *ctx, char **v, int n) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(n >= 0);
    FILE *f = ctx->o.out;
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(ctx->o.json ? "," : ", ", f);
        if (ctx->o.json)
            pk_json_str(f, v[i], strlen(v[i]));
        else
            fputs(v[i], f);
    }
    fputc(']', f);
}

/* Validate a znode path the way the client library would, printing zkCli's message. */
static int check_path(pk_ctx *ctx, const char *path) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(path != NULL);
    size_t n = strlen(path);
    bool ok = n > 0 && path[0] == '/' && n < PK_PATH_MAX && (n == 1 || path[n - 1] != '/') &&
              strstr(path, "//") == NULL;
    if (ok) return PK_EXIT_OK;
    if (ctx->o.json) {
        fprintf(ctx->o.err, "{\"error\":\"BadPath\",\"code\":-8,\"path\":");
        pk_json_str(ctx->o.err, path, n);
        fprintf(ctx->o.err, ",\"message\":\"Path must start with / character and not end with /\"}\n");
    } else {
        fprintf(ctx->o.err, "Path must start with / character and not end with / : %s\n", path);
    }
    return PK_EXIT_ARGS;
}

/* The `ls [-s] [-w] [-R] path` command. */
static int cmd_ls(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false, w = false, r = false;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "swR")) != -1;) {
        if (c == 's') s = true;
        else if (c == 'w') w = true;
        else if (c == 'R') r = true;
        else return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    zhandle_t *zh = ctx->conn.zh;
    FILE *f = ctx->o.out;
    if (r) {
        pk_paths all = {0};
        int rc = pk_tree_walk(zh, path, &all);
        if (rc != ZOK) {
            pk_paths_free(&all);
            return pk_report_zerr(&ctx->o, rc, path);
        }
        if (ctx->o.json) {
            fprintf(f, "{\"path\":");
            pk_json_str(f, path, strlen(path));
            fprintf(f, ",\"paths\":");
            print_list(ctx, all.v, all.count);
            fprintf(f, "}\n");
        } else {
            for (int i = 0; i < all.count; i++) fprintf(f, "%s\n", all.v[i]);
        }
        pk_paths_free(&all);
        return PK_EXIT_OK;
    }
    struct String_vector kids = {0};
    struct Stat st;
    int rc = zoo_get_children2(zh, path, w, &kids, &st);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    pk_sort_strs(kids.data, kids.count);
    if (ctx->o.json) {
        fprintf(f, "{\"path\":");
        pk_json_str(f, path, strlen(path));
        fprintf(f, ",\"children\":");
        print_list(ctx, kids.data, kids.count);
        if (s) {
            fprintf(f, ",\"stat\":");
            pk_json_stat(f, &st);
        }
        fprintf(f, "}\n");
    } else {
        print_list(ctx, kids.data, kids.count);
        fputc('\n', f);
        if (s) pk_text_stat(f, &st);
    }
    deallocate_String_vector(&kids);
    return PK_EXIT_OK;
}

/* Print node data (text: raw bytes + newline, "null" for no data; JSON: a string or null). */
static void print_data(pk_ctx *ctx, const char *buf, int len) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(len >= -1);
    FILE *f = ctx->o.out;
    if (ctx->o.json) {
        if (len < 0)
            fputs("null", f);
        else
            pk_json_str(f, buf, (size_t)len);
    } else {
        if (len < 0)
            fputs("null", f);
        else
            fwrite(buf, 1, (size_t)len, f);
        fputc('\n', f);
    }
}

/* The `get [-s] [-w] path` command. */
static int cmd_get(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false, w = false;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "sw")) != -1;) {
        if (c == 's') s = true;
        else if (c == 'w') w = true;
        else return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    char *buf = pk_malloc(PK_DATA_MAX);
    int len = PK_DATA_MAX;
    struct Stat st;
    int rc = zoo_get(ctx->conn.zh, path, w, buf, &len, &st);
    if (rc != ZOK) {
        free(buf);
        return pk_report_zerr(&ctx->o, rc, path);
    }
    FILE *f = ctx->o.out;
    if (ctx->o.json) {
        fprintf(f, "{\"path\":");
        pk_json_str(f, path, strlen(path));
        fprintf(f, ",\"data\":");
        print_data(ctx, buf, len);
        fprintf(f, ",\"stat\":");
        pk_json_stat(f, &st);
        fprintf(f, "}\n");
    } else {
        print_data(ctx, buf, len);
        if (s) pk_text_stat(f, &st);
    }
    free(buf);
    return PK_EXIT_OK;
}

/* Print "path + stat" results of set/setAcl/stat. */
static void print_path_stat(pk_ctx *ctx, const char *path, const struct Stat *st, bool text_stat) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(st != NULL);
    FILE *f = ctx->o.out;
    if (ctx->o.json) {
        fprintf(f, "{\"path\":");
        pk_json_str(f, path, strlen(path));
        fprintf(f, ",\"stat\":");
        pk_json_stat(f, st);
        fprintf(f, "}\n");
    } else if (text_stat) {
        pk_text_stat(f, st);
    }
}

/* The `set [-s] [-v version] path data` command. */
static int cmd_set(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false;
    int64_t version = -1;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "sv:")) != -1;) {
        if (c == 's') s = true;
        else if (c == 'v' && parse_int(optarg, &version)) continue;
        else return -1;
    }
    if (optind != argc - 2) return -1;
    const char *path = argv[optind], *data = argv[optind + 1];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    struct Stat st;
    int rc = zoo_set2(ctx->conn.zh, path, data, (int)strlen(data), (int)version, &st);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    print_path_stat(ctx, path, &st, s);
    return PK_EXIT_OK;
}

/* Parse one "c,d,r,w,a" permission string; -1 if it has other letters. */
static int parse_perms(const char *s) {
    PK_ASSERT(s != NULL);
    int perms = 0;
    for (int i = 0; s[i] && i < 16; i++) {
        switch (s[i]) {
        case 'c': perms |= ZOO_PERM_CREATE; break;
        case 'd': perms |= ZOO_PERM_DELETE; break;
        case 'r': perms |= ZOO_PERM_READ; break;
        case 'w': perms |= ZOO_PERM_WRITE; break;
        case 'a': perms |= ZOO_PERM_ADMIN; break;
        default: return -1;
        }
    }
    PK_ASSERT(perms >= 0);
    return perms;
}

/* Parse "scheme:id:perms[,scheme:id:perms...]" (id may contain ':') into v; false if malformed. */
static bool parse_acl(const char *text, struct ACL_vector *v) {
    PK_ASSERT(text != NULL);
    PK_ASSERT(v != NULL);
    char *copy = pk_strndup(text, strlen(text));
    int n = 1;
    for (const char *p = copy; *p; p++) n += *p == ',';
    allocate_ACL_vector(v, n);
    v->count = 0;
    bool ok = true;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
        char *first = strchr(tok, ':'), *last = strrchr(tok, ':');
        if (first == NULL || first == last) {
            ok = false;
            break;
        }
        *first = 0;
        *last = 0;
        int perms = parse_perms(last + 1);
        if (perms < 0) {
            ok = false;
            break;
        }
        struct ACL *a = &v->data[v->count++];
        a->perms = perms;
        a->id.scheme = pk_strndup(tok, strlen(tok));
        a->id.id = pk_strndup(first + 1, strlen(first + 1));
    }
    free(copy);
    if (!ok || v->count == 0) {
        deallocate_ACL_vector(v);
        return false;
    }
    return true;
}

/* The `create [-s] [-e] [-c] [-t ttl] path [data] [acl]` command. */
static int cmd_create(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false, e = false, c_ = false;
    int64_t ttl = -1;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "sect:")) != -1;) {
        if (c == 's') s = true;
        else if (c == 'e') e = true;
        else if (c == 'c') c_ = true;
        else if (c == 't' && parse_int(optarg, &ttl) && ttl > 0) continue;
        else return -1;
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 3) return -1;
    const char *path = argv[optind];
    const char *data = npos >= 2 ? argv[optind + 1] : NULL;
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    if ((e && (c_ || ttl > 0)) || (c_ && (s || ttl > 0))) {
        fprintf(ctx->o.err, "-e, -c and -t cannot be combined (except -s with -e or -t)\n");
        return PK_EXIT_USAGE;
    }
    int mode = ZOO_PERSISTENT;
    if (e) mode = s ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL;
    else if (c_) mode = ZOO_CONTAINER;
    else if (ttl > 0) mode = s ? ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL : ZOO_PERSISTENT_WITH_TTL;
    else if (s) mode = ZOO_PERSISTENT_SEQUENTIAL;
    struct ACL_vector acl = {0};
    bool own_acl = npos == 3;
    if (own_acl && !parse_acl(argv[optind + 2], &acl)) {
        fprintf(ctx->o.err, "Invalid ACL: %s\n", argv[optind + 2]);
        return PK_EXIT_USAGE;
    }
    char created[PK_PATH_MAX];
    struct Stat st;
    int rc = zoo_create2_ttl(ctx->conn.zh, path, data, data ? (int)strlen(data) : -1,
                             own_acl ? &acl : &ZOO_OPEN_ACL_UNSAFE, mode, ttl > 0 ? ttl : -1, created,
                             sizeof created, &st);
    if (own_acl) deallocate_ACL_vector(&acl);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    if (ctx->o.json) {
        fprintf(ctx->o.out, "{\"created\":");
        pk_json_str(ctx->o.out, created, strlen(created));
        fprintf(ctx->o.out, ",\"stat\":");
        pk_json_stat(ctx->o.out, &st);
        fprintf(ctx->o.out, "}\n");
    } else {
        fprintf(ctx->o.out, "Created %s\n", created);
    }
    return PK_EXIT_OK;
}

/* The `delete [-v version] path` command. */
static int cmd_delete(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    int64_t version = -1;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "v:")) != -1;) {
        if (c == 'v' && parse_int(optarg, &version)) continue;
        return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    int rc = zoo_delete(ctx->conn.zh, path, (int)version);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    if (ctx->o.json) {
        fprintf(ctx->o.out, "{\"deleted\":");
        pk_json_str(ctx->o.out, path, strlen(path));
        fprintf(ctx->o.out, "}\n");
    }
    return PK_EXIT_OK;
}

/* deleteall path [-b batch]: delete the subtree, deepest first. */
static int cmd_deleteall(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    int64_t batch = 1000;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "b:")) != -1;) {
        if (c == 'b' && parse_int(optarg, &batch) && batch > 0) continue;
        return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    if (strcmp(path, "/") == 0) {
        fprintf(ctx->o.err, "Cannot delete the root node\n");
        return PK_EXIT_ARGS;
    }
    pk_paths all = {0};
    int rc = pk_tree_walk(ctx->conn.zh, path, &all);
    int deleted = 0;
    for (int i = all.count - 1; rc == ZOK && i >= 0; i--) {
        rc = zoo_delete(ctx->conn.zh, all.v[i], -1);
        if (rc == ZNONODE) rc = ZOK;
        else if (rc == ZOK) deleted++;
        if (rc != ZOK) {
            int x = pk_report_zerr(&ctx->o, rc, all.v[i]);
            pk_paths_free(&all);
            return x;
        }
    }
    pk_paths_free(&all);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    if (ctx->o.json) fprintf(ctx->o.out, "{\"deleted\":%d}\n", deleted);
    return PK_EXIT_OK;
}

/* The `stat [-w] path` command. */
static int cmd_stat(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool w = false;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "w")) != -1;) {
        if (c == 'w') w = true;
        else return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    struct Stat st;
    int rc = zoo_exists(ctx->conn.zh, path, w, &st);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    print_path_stat(ctx, path, &st, true);
    return PK_EXIT_OK;
}

/* Render a permission mask as zkCli does ("cdrwa" order). */
static void perms_str(int perms, char out[8]) {
    PK_ASSERT(out != NULL);
    PK_ASSERT(perms >= 0);
    int n = 0;
    if (perms & ZOO_PERM_CREATE) out[n++] = 'c';
    if (perms & ZOO_PERM_DELETE) out[n++] = 'd';
    if (perms & ZOO_PERM_READ) out[n++] = 'r';
    if (perms & ZOO_PERM_WRITE) out[n++] = 'w';
    if (perms & ZOO_PERM_ADMIN) out[n++] = 'a';
    out[n] = 0;
}

/* The `getAcl [-s] path` command. */
static int cmd_getacl(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "s")) != -1;) {
        if (c == 's') s = true;
        else return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    struct ACL_vector acl = {0};
    struct Stat st;
    int rc = zoo_get_acl(ctx->conn.zh, path, &acl, &st);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    FILE *f = ctx->o.out;
    if (ctx->o.json) {
        fprintf(f, "{\"path\":");
        pk_json_str(f, path, strlen(path));
        fprintf(f, ",\"acl\":[");
    }
    for (int i = 0; i < acl.count; i++) {
        char p[8];
        perms_str(acl.data[i].perms, p);
        if (ctx->o.json) {
            fprintf(f, "%s{\"scheme\":", i ? "," : "");
            pk_json_str(f, acl.data[i].id.scheme, strlen(acl.data[i].id.scheme));
            fprintf(f, ",\"id\":");
            pk_json_str(f, acl.data[i].id.id, strlen(acl.data[i].id.id));
            fprintf(f, ",\"perms\":\"%s\"}", p);
        } else {
            fprintf(f, "'%s,'%s\n: %s\n", acl.data[i].id.scheme, acl.data[i].id.id, p);
        }
    }
    if (ctx->o.json) {
        fprintf(f, "],\"stat\":");
        pk_json_stat(f, &st);
        fprintf(f, "}\n");
    } else if (s) {
        pk_text_stat(f, &st);
    }
    deallocate_ACL_vector(&acl);
    return PK_EXIT_OK;
}

/* The `setAcl [-s] [-v version] [-R] path acl` command. */
static int cmd_setacl(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false, r = false;
    int64_t version = -1;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "sRv:")) != -1;) {
        if (c == 's') s = true;
        else if (c == 'R') r = true;
        else if (c == 'v' && parse_int(optarg, &version)) continue;
        else return -1;
    }
    if (optind != argc - 2) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    struct ACL_vector acl = {0};
    if (!parse_acl(argv[optind + 1], &acl)) {
        fprintf(ctx->o.err, "Invalid ACL: %s\n", argv[optind + 1]);
        return PK_EXIT_USAGE;
    }
    pk_paths targets = {0};
    int rc = ZOK;
    if (r)
        rc = pk_tree_walk(ctx->conn.zh, path, &targets);
    else
        pk_paths_push(&targets, path);
    const char *failed = path;
    for (int i = 0; rc == ZOK && i < targets.count; i++) {
        rc = zoo_set_acl(ctx->conn.zh, targets.v[i], r ? -1 : (int)version, &acl);
        failed = targets.v[i];
    }
    int ret = PK_EXIT_OK;
    if (rc != ZOK) {
        ret = pk_report_zerr(&ctx->o, rc, failed);
    } else {
        struct Stat st;
        rc = zoo_exists(ctx->conn.zh, path, 0, &st);
        if (rc == ZOK) print_path_stat(ctx, path, &st, s);
    }
    pk_paths_free(&targets);
    deallocate_ACL_vector(&acl);
    return ret;
}

/* Completion for async calls waited on synchronously: result code plus a semaphore. */
typedef struct wait_void {
    sem_t sem;
    int rc;
} wait_void;

/* void/string completion: record the code and wake the waiter. */
static void wait_void_done(int rc, const void *data) {
    wait_void *w = (wait_void *)data;
    PK_ASSERT(w != NULL);
    w->rc = rc;
    sem_post(&w->sem);
}

/* string completion adapter for zoo_async. */
static void wait_string_done(int rc, const char *value, const void *data) {
    PK_ASSERT(data != NULL);
    (void)value;
    wait_void_done(rc, data);
}

/* Wait for an async call's completion (the client library always completes, also on close). */
static int wait_void_for(wait_void *w, int submit_rc) {
    PK_ASSERT(w != NULL);
    if (submit_rc != ZOK) {
        sem_destroy(&w->sem);
        return submit_rc;
    }
    while (sem_wait(&w->sem) != 0) {
    }
    sem_destroy(&w->sem);
    PK_ASSERT(w->rc <= 0);
    return w->rc;
}

/* Open (once) the raw side session on the server the main session uses, replaying addauth. */
static int ctx_raw(pk_ctx *ctx) {
    PK_ASSERT(ctx->connected);
    if (ctx->raw_open) return ZOK;
    const char *server = zoo_get_current_server(ctx->conn.zh);
    char hp[1100];
    snprintf(hp, sizeof hp, "%s", server ? server : ctx->hosts);
    char *comma = strchr(hp, ',');
    if (comma) *comma = 0;
    int rc = pk_raw_connect(&ctx->raw, hp, ctx->timeout_ms, ctx->connect_wait_ms);
    if (rc != ZOK) return rc;
    ctx->raw_open = true;
    for (int i = 0; i < ctx->auth_count && rc == ZOK; i++) {
        pk_buf req, resp;
        pk_buf_init(&req);
        pk_buf_init(&resp);
        pk_raw_put_i32(&req, 0);
        pk_raw_put_str(&req, ctx->auths[i].scheme);
        pk_raw_put_str(&req, ctx->auths[i].cred);
        rc = pk_raw_call(&ctx->raw, ZOO_SETAUTH_OP, req.data, req.len, &resp, ctx->timeout_ms);
        pk_buf_deinit(&req);
        pk_buf_deinit(&resp);
    }
    PK_ASSERT(ctx->raw.fd >= 0);
    return rc;
}

/* The `addauth scheme auth` command. */
static int cmd_addauth(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    if (argc != 3) return -1;
    PK_ASSERT(argv[1] != NULL);
    wait_void w = {.rc = 0};
    sem_init(&w.sem, 0, 0);
    int rc = wait_void_for(&w, zoo_add_auth(ctx->conn.zh, argv[1], argv[2], (int)strlen(argv[2]),
                                           wait_void_done, &w));
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, argv[1]);
    if (ctx->auth_count < (int)PK_ARRAY_LEN(ctx->auths)) {
        pk_auth *a = &ctx->auths[ctx->auth_count++];
        snprintf(a->scheme, sizeof a->scheme, "%s", argv[1]);
        snprintf(a->cred, sizeof a->cred, "%s", argv[2]);
    }
    if (ctx->raw_open) { /* replay on the side session too */
        pk_raw_close(&ctx->raw);
        ctx->raw_open = false;
    }
    if (ctx->o.json) fprintf(ctx->o.out, "{\"ok\":true}\n");
    return PK_EXIT_OK;
}

/* The `sync path` command. */
static int cmd_sync(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    if (argc != 2) return -1;
    if (check_path(ctx, argv[1])) return PK_EXIT_ARGS;
    wait_void w = {.rc = 0};
    sem_init(&w.sem, 0, 0);
    int rc = wait_void_for(&w, zoo_async(ctx->conn.zh, argv[1], wait_string_done, &w));
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, argv[1]);
    if (ctx->o.json) {
        fprintf(ctx->o.out, "{\"path\":");
        pk_json_str(ctx->o.out, argv[1], strlen(argv[1]));
        fprintf(ctx->o.out, ",\"synced\":true}\n");
    } else {
        fprintf(ctx->o.out, "Sync is OK\n");
    }
    return PK_EXIT_OK;
}

/* getEphemerals [path]: this session's ephemeral nodes whose path starts with path (a tree walk). */
static int cmd_getephemerals(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    if (argc > 2) return -1;
    const char *prefix = argc == 2 ? argv[1] : "/";
    if (prefix[0] != '/') return check_path(ctx, prefix);
    /* Walk from the deepest ancestor directory the prefix names. */
    char root[PK_PATH_MAX];
    snprintf(root, sizeof root, "%s", prefix);
    char *slash = strrchr(root, '/');
    PK_ASSERT(slash != NULL);
    if (slash == root) root[1] = 0;
    else *slash = 0;
    pk_paths all = {0}, mine = {0};
    int rc = pk_tree_walk(ctx->conn.zh, root, &all);
    int64_t me = zoo_client_id(ctx->conn.zh)->client_id;
    for (int i = 0; rc == ZOK && i < all.count; i++) {
        struct Stat st;
        if (strncmp(all.v[i], prefix, strlen(prefix)) != 0) continue;
        if (zoo_exists(ctx->conn.zh, all.v[i], 0, &st) == ZOK && st.ephemeralOwner == me)
            pk_paths_push(&mine, all.v[i]);
    }
    if (rc == ZNONODE) rc = ZOK;
    int ret = PK_EXIT_OK;
    if (rc != ZOK) {
        ret = pk_report_zerr(&ctx->o, rc, prefix);
    } else {
        if (ctx->o.json) fprintf(ctx->o.out, "{\"ephemerals\":");
        print_list(ctx, mine.v, mine.count);
        fprintf(ctx->o.out, ctx->o.json ? "}\n" : "\n");
    }
    pk_paths_free(&all);
    pk_paths_free(&mine);
    return ret;
}

/* getAllChildrenNumber path (opcode 104 over the side session). */
static int cmd_getallchildrennumber(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    if (argc != 2) return -1;
    const char *path = argv[1];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    int rc = ctx_raw(ctx);
    pk_buf req, resp;
    pk_buf_init(&req);
    pk_buf_init(&resp);
    pk_raw_put_str(&req, path);
    if (rc == ZOK) rc = pk_raw_call(&ctx->raw, PK_OP_GETALLCHILDRENNUMBER, req.data, req.len, &resp, ctx->timeout_ms);
    int32_t n = 0;
    pk_slice s = pk_buf_slice(&resp);
    if (rc == ZOK && pk_raw_get_i32(&s, &n) != PK_OK) rc = ZMARSHALLINGERROR;
    pk_buf_deinit(&req);
    pk_buf_deinit(&resp);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    if (ctx->o.json) {
        fprintf(ctx->o.out, "{\"path\":");
        pk_json_str(ctx->o.out, path, strlen(path));
        fprintf(ctx->o.out, ",\"count\":%d}\n", n);
    } else {
        fprintf(ctx->o.out, "%d\n", n);
    }
    return PK_EXIT_OK;
}

/* config [-s] [-w]: the ensemble configuration node. */
static int cmd_config(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    bool s = false, w = false;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "swc")) != -1;) {
        if (c == 's') s = true;
        else if (c == 'w') w = true;
        else if (c == 'c') continue;
        else return -1;
    }
    if (optind != argc) return -1;
    char *buf = pk_malloc(PK_DATA_MAX);
    int len = PK_DATA_MAX;
    struct Stat st;
    int rc = zoo_getconfig(ctx->conn.zh, w, buf, &len, &st);
    if (rc != ZOK) {
        free(buf);
        return pk_report_zerr(&ctx->o, rc, ZOO_CONFIG_NODE);
    }
    if (ctx->o.json) {
        fprintf(ctx->o.out, "{\"config\":");
        pk_json_str(ctx->o.out, buf, len > 0 ? (size_t)len : 0);
        fprintf(ctx->o.out, ",\"stat\":");
        pk_json_stat(ctx->o.out, &st);
        fprintf(ctx->o.out, "}\n");
    } else {
        if (len > 0) fwrite(buf, 1, (size_t)len, ctx->o.out);
        if (len > 0 && buf[len - 1] != '\n') fputc('\n', ctx->o.out);
        if (s) pk_text_stat(ctx->o.out, &st);
    }
    free(buf);
    return PK_EXIT_OK;
}

/* whoami: the identities the server associates with this client's credentials (opcode 107). */
static int cmd_whoami(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    if (argc != 1) return -1;
    pk_buf resp;
    pk_buf_init(&resp);
    int rc = ctx_raw(ctx);
    if (rc == ZOK) rc = pk_raw_call(&ctx->raw, PK_OP_WHOAMI, NULL, 0, &resp, ctx->timeout_ms);
    pk_slice s = pk_buf_slice(&resp);
    int32_t n = 0;
    if (rc == ZOK && (pk_raw_get_i32(&s, &n) != PK_OK || n < 0 || n > 1024)) rc = ZMARSHALLINGERROR;
    if (rc != ZOK) {
        pk_buf_deinit(&resp);
        return pk_report_zerr(&ctx->o, rc, "whoami");
    }
    FILE *f = ctx->o.out;
    fprintf(f, ctx->o.json ? "{\"auth\":[" : "Auth scheme: User\n");
    for (int i = 0; i < n; i++) {
        const uint8_t *sp = NULL, *up = NULL;
        int32_t sn = 0, un = 0;
        if (pk_raw_get_buf(&s, &sp, &sn) || pk_raw_get_buf(&s, &up, &un)) break;
        sn = PK_MAX(sn, 0);
        un = PK_MAX(un, 0);
        if (ctx->o.json) {
            fprintf(f, "%s{\"scheme\":", i ? "," : "");
            pk_json_str(f, (const char *)sp, (size_t)sn);
            fprintf(f, ",\"user\":");
            pk_json_str(f, (const char *)up, (size_t)un);
            fputc('}', f);
        } else {
            fprintf(f, "%.*s: %.*s\n", sn, (const char *)sp, un, (const char *)up);
        }
    }
    if (ctx->o.json) fprintf(f, "]}\n");
    pk_buf_deinit(&resp);
    return PK_EXIT_OK;
}

/* Side-session notification printer (shell mode), in zkCli's layout. */
static void raw_print_event(void *c, int type, int state, const char *path) {
    PK_ASSERT(c != NULL);
    PK_ASSERT(path != NULL);
    fprintf(stdout, "\nWATCHER::\n\nWatchedEvent state:%s type:%s path:%s\n", pk_state_name(state),
            pk_event_name(type), path);
    fflush(stdout);
}

/* Background thread: keeps the side session alive and prints its persistent-watch events. */
static void *raw_thread_main(void *arg) {
    pk_ctx *ctx = arg;
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(ctx->raw_open);
    for (long i = 0; i < (1L << 40) && !ctx->raw_thread_stop; i++) {
        int rc = pk_raw_poll(&ctx->raw, 100);
        if (rc != ZOK && rc != ZOPERATIONTIMEOUT) {
            fprintf(stdout, "\nWATCHER::\n\nWatchedEvent state:Disconnected type:None path:null "
                            "(persistent watches lost)\n");
            fflush(stdout);
            break;
        }
    }
    return NULL;
}

/* addWatch [-m mode] path: a persistent (recursive) watch, held by the side session. */
static int cmd_addwatch(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    int mode = 1; /* PERSISTENT_RECURSIVE is zkCli's default */
    opt_reset();
    for (int c; (c = getopt(argc, argv, "m:")) != -1;) {
        if (c == 'm' && strcmp(optarg, "PERSISTENT") == 0) mode = 0;
        else if (c == 'm' && strcmp(optarg, "PERSISTENT_RECURSIVE") == 0) mode = 1;
        else return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    int rc = ctx_raw(ctx);
    pk_buf req, resp;
    pk_buf_init(&req);
    pk_buf_init(&resp);
    pk_raw_put_str(&req, path);
    pk_raw_put_i32(&req, mode);
    if (ctx->shell) {
        ctx->raw.on_event = raw_print_event;
        ctx->raw.event_ctx = ctx;
    }
    if (rc == ZOK) rc = pk_raw_call(&ctx->raw, PK_OP_ADDWATCH, req.data, req.len, &resp, ctx->timeout_ms);
    pk_buf_deinit(&req);
    pk_buf_deinit(&resp);
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    if (ctx->shell && !ctx->raw_thread_running) {
        ctx->raw_thread_stop = false;
        if (pthread_create(&ctx->raw_thread, NULL, raw_thread_main, ctx) == 0) ctx->raw_thread_running = true;
    }
    if (ctx->o.json) {
        fprintf(ctx->o.out, "{\"path\":");
        pk_json_str(ctx->o.out, path, strlen(path));
        fprintf(ctx->o.out, ",\"mode\":\"%s\"}\n", mode ? "PERSISTENT_RECURSIVE" : "PERSISTENT");
    }
    return PK_EXIT_OK;
}

/* removewatches path [-c|-d|-a] [-l]: on the main session and, for persistent watches, the side one. */
static int cmd_removewatches(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx->connected);
    PK_ASSERT(argc >= 1 && argv[0] != NULL);
    int type = ZWATCHTYPE_ANY, local = 0;
    opt_reset();
    for (int c; (c = getopt(argc, argv, "cdal")) != -1;) {
        if (c == 'c') type = ZWATCHTYPE_CHILD;
        else if (c == 'd') type = ZWATCHTYPE_DATA;
        else if (c == 'a') type = ZWATCHTYPE_ANY;
        else if (c == 'l') local = 1;
        else return -1;
    }
    if (optind != argc - 1) return -1;
    const char *path = argv[optind];
    if (check_path(ctx, path)) return PK_EXIT_ARGS;
    int rc = zoo_remove_all_watches(ctx->conn.zh, path, (ZooWatcherType)type, local);
    if (ctx->raw_open && !local) {
        pk_buf req, resp;
        pk_buf_init(&req);
        pk_buf_init(&resp);
        pk_raw_put_str(&req, path);
        pk_raw_put_i32(&req, type);
        int rc2 = pk_raw_call(&ctx->raw, PK_OP_REMOVEWATCHES, req.data, req.len, &resp, ctx->timeout_ms);
        if (rc2 == ZOK) rc = ZOK;
        pk_buf_deinit(&req);
        pk_buf_deinit(&resp);
    }
    if (rc != ZOK) return pk_report_zerr(&ctx->o, rc, path);
    if (ctx->o.json) fprintf(ctx->o.out, "{\"removed\":true}\n");
    return PK_EXIT_OK;
}

/* close: end the session (ephemerals go away). */
static int cmd_close(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    pk_ctx_disconnect(ctx);
    return PK_EXIT_OK;
}

/* connect [host:port[,...]]: close the session and open a new one. */
static int cmd_connect(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    if (argc > 2) return -1;
    pk_ctx_disconnect(ctx);
    if (argc == 2) snprintf(ctx->hosts, sizeof ctx->hosts, "%s", argv[1]);
    int rc = pk_ctx_connect(ctx);
    PK_ASSERT(rc >= 0);
    return rc;
}

/* history: the shell's command history, numbered. */
static int cmd_history(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(ctx->history_count >= 0);
    int from = PK_MAX(0, ctx->history_count - 10);
    for (int i = from; i < ctx->history_count; i++) fprintf(ctx->o.out, "%d - %s\n", i, ctx->history[i]);
    return PK_EXIT_OK;
}

static const cmd_def CMDS[] = {
    {"ls", cmd_ls, "ls [-s] [-w] [-R] path", true},
    {"get", cmd_get, "get [-s] [-w] path", true},
    {"set", cmd_set, "set [-s] [-v version] path data", true},
    {"create", cmd_create, "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", true},
    {"delete", cmd_delete, "delete [-v version] path", true},
    {"deleteall", cmd_deleteall, "deleteall path [-b batch size]", true},
    {"stat", cmd_stat, "stat [-w] path", true},
    {"getAcl", cmd_getacl, "getAcl [-s] path", true},
    {"setAcl", cmd_setacl, "setAcl [-s] [-v version] [-R] path acl", true},
    {"addauth", cmd_addauth, "addauth scheme auth", true},
    {"sync", cmd_sync, "sync path", true},
    {"getEphemerals", cmd_getephemerals, "getEphemerals path", true},
    {"getAllChildrenNumber", cmd_getallchildrennumber, "getAllChildrenNumber path", true},
    {"config", cmd_config, "config [-c] [-w] [-s]", true},
    {"whoami", cmd_whoami, "whoami", true},
    {"addWatch", cmd_addwatch, "addWatch [-m mode] path # optional mode is one of [PERSISTENT, "
                               "PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", true},
    {"removewatches", cmd_removewatches, "removewatches path [-c|-d|-a] [-l]", true},
    {"close", cmd_close, "close", false},
    {"connect", cmd_connect, "connect host:port", false},
    {"history", cmd_history, "history", false},
};

/* True if name is one of the commands above (or quit/help). */
bool pk_cmd_known(const char *name) {
    PK_ASSERT(name != NULL);
    for (size_t i = 0; i < PK_ARRAY_LEN(CMDS); i++)
        if (strcmp(CMDS[i].name, name) == 0) return true;
    return strcmp(name, "quit") == 0 || strcmp(name, "help") == 0;
}

/* The i-th command name (for completion), or NULL past the end. */
const char *pk_cmd_name_at(int i) {
    PK_ASSERT(i >= 0);
    if ((size_t)i < PK_ARRAY_LEN(CMDS)) return CMDS[i].name;
    if ((size_t)i == PK_ARRAY_LEN(CMDS)) return "quit";
    return NULL;
}

/* Print every command's usage (zkCli's "help"). */
static int print_help(pk_ctx *ctx) {
    PK_ASSERT(ctx != NULL);
    fprintf(ctx->o.err, "ZooKeeper -server host:port -client-configuration properties-file cmd args\n");
    for (size_t i = 0; i < PK_ARRAY_LEN(CMDS); i++) fprintf(ctx->o.err, "\t%s\n", CMDS[i].usage);
    fprintf(ctx->o.err, "\tquit\n");
    PK_ASSERT(ctx->o.err != NULL);
    return PK_EXIT_OK;
}

/* Connect ctx->conn to ctx->hosts, reporting failure; returns a PK_EXIT code. */
int pk_ctx_connect(pk_ctx *ctx) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(!ctx->connected);
    int rc = pk_conn_open(&ctx->conn, ctx->hosts, ctx->timeout_ms, ctx->connect_wait_ms, NULL);
    ctx->conn.print_events = ctx->shell;
    if (ctx->conn.zh) ctx->connected = true;
    if (rc != PK_EXIT_OK) {
        if (ctx->o.json)
            fprintf(ctx->o.err, "{\"error\":\"ConnectionLoss\",\"code\":-4,\"message\":\"cannot connect to %s\"}\n",
                    ctx->hosts);
        else
            fprintf(ctx->o.err, "Cannot connect to %s (%s)\n", ctx->hosts,
                    rc == PK_EXIT_EXPIRED ? "session expired" : "timed out");
    }
    return rc;
}

/* Close the main and side sessions, if open. */
void pk_ctx_disconnect(pk_ctx *ctx) {
    PK_ASSERT(ctx != NULL);
    if (ctx->raw_thread_running) {
        ctx->raw_thread_stop = true;
        pthread_join(ctx->raw_thread, NULL);
        ctx->raw_thread_running = false;
    }
    if (ctx->raw_open) pk_raw_close(&ctx->raw);
    ctx->raw_open = false;
    if (ctx->connected) pk_conn_close(&ctx->conn);
    ctx->connected = false;
    PK_ASSERT(!ctx->raw_open);
}

/* Run one command line (argv[0] is the command); returns a PK_EXIT code. */
int pk_cmd_run(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(argc >= 1);
    if (strcmp(argv[0], "help") == 0) return print_help(ctx);
    for (size_t i = 0; i < PK_ARRAY_LEN(CMDS); i++) {
        const cmd_def *d = &CMDS[i];
        if (strcmp(d->name, argv[0]) != 0) continue;
        if (d->needs_conn && !ctx->connected) {
            fprintf(ctx->o.err, "Not connected\n");
            return PK_EXIT_CONN;
        }
        int rc = d->fn(ctx, argc, argv);
        fflush(ctx->o.out);
        if (rc < 0) return pk_report_usage(&ctx->o, d->usage);
        return rc;
    }
    fprintf(ctx->o.err, "Unknown command: %s\n", argv[0]);
    print_help(ctx);
    return PK_EXIT_USAGE;
}

/* Split a shell line into words in place, honouring '...' and "..." quotes; returns the count. */
int pk_split_line(char *line, char **argv, int max) {
    PK_ASSERT(line != NULL);
    PK_ASSERT(max > 0);
    int n = 0;
    char *r = line, *w = line;
    for (int guard = 0; *r && n < max && guard < 1000000; guard++) {
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') r++;
        if (!*r) break;
        argv[n++] = w;
        char quote = 0;
        for (; *r; r++) {
            if (quote) {
                if (*r == quote) quote = 0;
                else *w++ = *r;
            } else if (*r == '\'' || *r == '"') {
                quote = *r;
            } else if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
                r++;
                break;
            } else {
                *w++ = *r;
            }
        }
        *w++ = 0;
    }
    return n;
}
