/* main.c: pk's command line: global options, then a shell, a one-shot command, a recipe or status. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pk.h"

static const char USAGE[] =
    "usage: pk [-s host:port[,host:port...]] [--json] [--timeout-ms N] [--connect-wait-ms N] [COMMAND ARGS...]\n"
    "\n"
    "With no COMMAND, pk starts an interactive shell (zkCli's commands; `help` lists them).\n"
    "One-shot commands: ls get set create delete deleteall stat getAcl setAcl addauth sync\n"
    "  getEphemerals getAllChildrenNumber config whoami addWatch removewatches\n"
    "Recipes:\n"
    "  pk lock [--wait-ms N] [--grace-ms N] PATH -- CMD...     run CMD holding a lock (PK_LOCK_TOKEN)\n"
    "  pk elect [--once] PATH ID -- CMD...                     run CMD only while leader\n"
    "  pk watch [--initial] PATH -- CMD...                     run CMD with the new data on every change\n"
    "  pk register [-s] PATH DATA                              keep an ephemeral registration alive\n"
    "  pk barrier [--wait-ms N] PATH COUNT -- CMD...           double barrier around CMD\n"
    "  pk queue put PATH DATA | take [--wait-ms N] PATH | size PATH\n"
    "  pk status                                               the ensemble from the 4lw words\n"
    "  pk bench [pk-bench options]                             load generator (runs pk-bench; --help)\n"
    "The server defaults to $PK_SERVER, else 127.0.0.1:2181.\n"
    "Exit codes: 0 ok, 1 no node, 2 usage, 3 node exists, 4 bad version, 5 not empty, 6 no auth,\n"
    "  7 connection, 8 session expired / lock lost, 9 other server error, 10 bad arguments, 11 timed out.\n";

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer: libedit keeps a few wcsdup'ed strings until exit (not ours to free). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:wcsdup\nleak:libedit\n"; }
#endif

/* Parse a positive int option value or exit with a usage error. */
static int opt_int(const char *name, const char *v) {
    PK_ASSERT(name != NULL);
    char *end = NULL;
    long x = v ? strtol(v, &end, 10) : -1;
    if (v == NULL || *end != 0 || x <= 0 || x > 86400000) {
        fprintf(stderr, "pk: %s needs a positive number\n", name);
        exit(PK_EXIT_USAGE);
    }
    PK_ASSERT(x > 0);
    return (int)x;
}

/* `pk bench ARGS`: runs the pk-bench program installed beside pk, with the first server of -s / $PK_SERVER. */
static int run_bench(const pk_ctx *ctx, int nargs, char **args) {
    PK_ASSERT(nargs >= 1 && strcmp(args[0], "bench") == 0);
    char self[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "pk: cannot find my own directory to run pk-bench\n");
        return PK_EXIT_USAGE;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    *slash = 0;
    snprintf(path, sizeof path, "%s/pk-bench", self);
    char first[sizeof ctx->hosts];
    memcpy(first, ctx->hosts, sizeof first);
    first[strcspn(first, ",/")] = 0;
    bool has_server = false;
    for (int k = 1; k < nargs; k++) has_server |= !strcmp(args[k], "-s") || !strcmp(args[k], "--server");
    char **argv2 = calloc((size_t)nargs + 4, sizeof *argv2);
    PK_ASSERT(argv2 != NULL);
    int j = 0;
    argv2[j++] = path;
    if (!has_server) { argv2[j++] = "-s"; argv2[j++] = first; }
    for (int k = 1; k < nargs; k++) argv2[j++] = args[k];
    argv2[j] = NULL;
    execv(path, argv2);
    fprintf(stderr, "pk: cannot run %s: %s (build it with make)\n", path, strerror(errno));
    free(argv2);
    return PK_EXIT_USAGE;
}

/* Entry point. */
int main(int argc, char **argv) {
    PK_ASSERT(argc >= 1);
    static pk_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = (pk_out){.json = false, .out = stdout, .err = stderr};
    ctx.timeout_ms = 10000;
    ctx.connect_wait_ms = 10000;
    const char *env = getenv("PK_SERVER");
    snprintf(ctx.hosts, sizeof ctx.hosts, "%s", env && *env ? env : "127.0.0.1:2181");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0 || strcmp(a, "-server") == 0) {
            if (!next) return pk_report_usage(&ctx.o, USAGE);
            snprintf(ctx.hosts, sizeof ctx.hosts, "%s", next);
            i++;
        } else if (strcmp(a, "--json") == 0) {
            ctx.o.json = true;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            ctx.timeout_ms = opt_int(a, next);
            i++;
        } else if (strcmp(a, "--connect-wait-ms") == 0) {
            ctx.connect_wait_ms = opt_int(a, next);
            i++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            return PK_EXIT_OK;
        } else {
            fprintf(stderr, "pk: unknown option %s\n", a);
            return pk_report_usage(&ctx.o, USAGE);
        }
    }
    PK_ASSERT(i <= argc);
    if (pk_sig_setup() != PK_OK) return PK_EXIT_USAGE;
    int nargs = argc - i;
    char **args = argv + i;
    if (nargs > 0 && strcmp(args[0], "status") == 0) return pk_status(&ctx, nargs, args);
    if (nargs > 0 && strcmp(args[0], "bench") == 0) return run_bench(&ctx, nargs, args);
    struct {
        const char *name;
        int (*fn)(pk_ctx *, int, char **);
    } recipes[] = {{"lock", pk_recipe_lock},         {"elect", pk_recipe_elect},
                   {"watch", pk_recipe_watch},       {"register", pk_recipe_register},
                   {"barrier", pk_recipe_barrier},   {"queue", pk_recipe_queue}};
    for (size_t k = 0; nargs > 0 && k < PK_ARRAY_LEN(recipes); k++)
        if (strcmp(args[0], recipes[k].name) == 0) return recipes[k].fn(&ctx, nargs, args);
    if (nargs > 0 && !pk_cmd_known(args[0])) {
        fprintf(stderr, "pk: unknown command %s\n", args[0]);
        return pk_report_usage(&ctx.o, USAGE);
    }
    if (nargs > 0 && strcmp(args[0], "help") == 0) {
        fputs(USAGE, stdout);
        return PK_EXIT_OK;
    }
    ctx.shell = nargs == 0;
    int rc = pk_ctx_connect(&ctx);
    if (rc != PK_EXIT_OK && !ctx.shell) {
        pk_ctx_disconnect(&ctx);
        return rc;
    }
    if (ctx.shell)
        rc = pk_shell(&ctx);
    else
        rc = pk_cmd_run(&ctx, nargs, args);
    pk_ctx_disconnect(&ctx);
    for (int k = 0; k < ctx.history_count; k++) free(ctx.history[k]);
    free(ctx.history);
    fflush(stdout);
    return rc;
}
