/* pk-bench: command line, and the one machine-readable summary line per run (JSON on stdout). */
#include "tools/bench/bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const usage_text =
    "usage: pk-bench [options]\n"
    "  -s, --server HOST:PORT   server (default 127.0.0.1:2181)\n"
    "  -w, --workload NAME      read | write | mixed | create-delete | watch | connect | load | probe\n"
    "  -n, --sessions N         sessions (default 8; connect: concurrent handshakes)\n"
    "  -k, --depth K            outstanding requests per session (default 32)\n"
    "      --size BYTES         value size (default 1024)\n"
    "      --nodes N            distinct data nodes for read/write/mixed (default 64)\n"
    "      --read-pct P         mixed: percent reads (default 90)\n"
    "      --watchers N         watch: watching sessions (default 100)\n"
    "      --count N            load: nodes to create (default 10000)\n"
    "  -r, --rate OPS           fixed rate (ops/s over all sessions); latency from intended send time\n"
    "  -d, --duration SEC       measured window (default 5)\n"
    "      --warmup SEC         time before the window (default 1)\n"
    "      --timeout SEC        probe / drain bound (default 30)\n"
    "      --prefix PATH        root of every node used (default /pkbench)\n"
    "      --verify             check the bytes of every read\n"
    "      --no-setup           do not create fixture nodes\n"
    "  -p, --pid PID            server process for CPU accounting (repeatable)\n"
    "      --label TEXT         copied into the summary line\n"
    "Prints one JSON summary line on stdout; exits 1 on errors.\n";

/* Maps a workload name to its enum; returns false for an unknown name. */
static bool parse_workload(const char *s, enum bench_workload *w) {
    static const struct { const char *name; enum bench_workload w; } names[] = {
        {"read", BENCH_READ}, {"write", BENCH_WRITE}, {"mixed", BENCH_MIXED},
        {"create-delete", BENCH_CREATE_DELETE}, {"watch", BENCH_WATCH}, {"connect", BENCH_CONNECT},
        {"load", BENCH_LOAD}, {"probe", BENCH_PROBE},
    };
    PK_ASSERT(s != NULL && w != NULL);
    for (size_t i = 0; i < PK_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *w = names[i].w;
            return true;
        }
    }
    return false;
}

/* Parses HOST:PORT into opts; returns false when malformed. */
static bool parse_server(const char *s, bench_opts *o) {
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof(o->host) || colon == s) return false;
    memcpy(o->host, s, (size_t)(colon - s));
    o->host[colon - s] = 0;
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535) return false;
    o->port = (uint16_t)port;
    return strcmp(o->host, "localhost") != 0 || (strcpy(o->host, "127.0.0.1"), true);
}

/* Fills the defaults. */
static void opts_defaults(bench_opts *o) {
    memset(o, 0, sizeof(*o));
    strcpy(o->host, "127.0.0.1");
    o->port = 2181;
    o->workload = BENCH_READ;
    o->workload_name = "read";
    o->sessions = 8;
    o->depth = 32;
    o->size = 1024;
    o->nodes = 64;
    o->read_pct = 90;
    o->watchers = 100;
    o->count = 10000;
    o->duration_s = 5;
    o->warmup_s = 1;
    o->timeout_s = 30;
    strcpy(o->prefix, "/pkbench");
    o->label = "";
    o->seed = 42;
}

/* Validates option ranges; prints the problem and returns false when something is off. */
static bool opts_valid(const bench_opts *o) {
    const char *bad = NULL;
    if (o->sessions == 0 || o->sessions > BENCH_MAX_SESSIONS) bad = "--sessions must be 1..4096";
    else if (o->depth == 0 || o->depth >= BENCH_RING_CAP / 2) bad = "--depth must be 1..32767";
    else if (o->size > 1000000) bad = "--size must be <= 1000000";
    else if (o->nodes == 0) bad = "--nodes must be > 0";
    else if (o->read_pct > 100) bad = "--read-pct must be 0..100";
    else if (o->watchers == 0 || o->watchers > BENCH_MAX_SESSIONS) bad = "--watchers must be 1..4096";
    else if (o->duration_s <= 0 || o->warmup_s < 0 || o->timeout_s <= 0) bad = "bad duration/warmup/timeout";
    else if (o->prefix[0] != '/' || strlen(o->prefix) < 2 || o->prefix[strlen(o->prefix) - 1] == '/') bad = "bad --prefix";
    else if (o->rate < 0) bad = "--rate must be >= 0";
    if (bad) fprintf(stderr, "pk-bench: %s\n", bad);
    return bad == NULL;
}

/* Applies one parsed option; returns false on a bad value. */
static bool apply_opt(bench_opts *o, int ch, const char *arg) {
    switch (ch) {
    case 's': return parse_server(arg, o);
    case 'w': o->workload_name = arg; return parse_workload(arg, &o->workload);
    case 'n': o->sessions = (uint32_t)strtoul(arg, NULL, 10); return true;
    case 'k': o->depth = (uint32_t)strtoul(arg, NULL, 10); return true;
    case 1: o->size = (uint32_t)strtoul(arg, NULL, 10); return true;
    case 2: o->nodes = (uint32_t)strtoul(arg, NULL, 10); return true;
    case 3: o->read_pct = (uint32_t)strtoul(arg, NULL, 10); return true;
    case 4: o->watchers = (uint32_t)strtoul(arg, NULL, 10); return true;
    case 5: o->count = strtoull(arg, NULL, 10); return true;
    case 'r': o->rate = strtod(arg, NULL); return true;
    case 'd': o->duration_s = strtod(arg, NULL); return true;
    case 6: o->warmup_s = strtod(arg, NULL); return true;
    case 7: o->timeout_s = strtod(arg, NULL); return true;
    case 8: return snprintf(o->prefix, sizeof(o->prefix), "%s", arg) < (int)sizeof(o->prefix);
    case 9: o->verify = true; return true;
    case 10: o->no_setup = true; return true;
    case 'p':
        if (o->pid_count >= BENCH_MAX_PIDS) return false;
        o->pids[o->pid_count++] = atoi(arg);
        return true;
    case 11: o->label = arg; return true;
    default: return false;
    }
}

/* Parses argv into opts; returns false (after printing usage) on any problem. */
static bool parse_args(int argc, char **argv, bench_opts *o) {
    static const struct option longs[] = {
        {"server", 1, 0, 's'}, {"workload", 1, 0, 'w'}, {"sessions", 1, 0, 'n'}, {"depth", 1, 0, 'k'},
        {"size", 1, 0, 1}, {"nodes", 1, 0, 2}, {"read-pct", 1, 0, 3}, {"watchers", 1, 0, 4},
        {"count", 1, 0, 5}, {"rate", 1, 0, 'r'}, {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 6},
        {"timeout", 1, 0, 7}, {"prefix", 1, 0, 8}, {"verify", 0, 0, 9}, {"no-setup", 0, 0, 10},
        {"pid", 1, 0, 'p'}, {"label", 1, 0, 11}, {"help", 0, 0, 'h'}, {0, 0, 0, 0},
    };
    opts_defaults(o);
    for (int i = 0; i < 1000; i++) {
        int ch = getopt_long(argc, argv, "s:w:n:k:r:d:p:h", longs, NULL);
        if (ch == -1) break;
        if (ch == 'h' || !apply_opt(o, ch, optarg)) {
            fputs(usage_text, ch == 'h' ? stdout : stderr);
            return false;
        }
    }
    if (optind != argc) {
        fputs(usage_text, stderr);
        return false;
    }
    return opts_valid(o);
}

/* Prints the JSON summary line (stdout) and a short human line (stderr). */
static void print_summary(const bench_opts *o, const bench_result *r, int rc) {
    double secs = r->window_s > 0 ? r->window_s : 1e-9;
    double us_per_op = (r->server_cpu_s >= 0 && r->ops > 0) ? r->server_cpu_s * 1e6 / (double)r->ops : -1;
    double client_us = r->ops > 0 ? r->client_cpu_s * 1e6 / (double)r->ops : -1;
    const bench_hist *h = &r->hist;
    printf("{\"bench\":\"pk-bench\",\"label\":\"%s\",\"workload\":\"%s\",\"server\":\"%s:%u\",\"sessions\":%u,"
           "\"depth\":%u,\"size\":%u,\"rate\":%.0f,\"window_s\":%.3f,\"ops\":%llu,\"ops_per_s\":%.1f,"
           "\"total_ok\":%llu,\"creates_ok\":%llu,\"errors\":%llu,\"late_sends\":%llu,"
           "\"server_cpu_s\":%.3f,\"server_cpu_us_per_op\":%.2f,\"client_cpu_us_per_op\":%.2f,\"other_cpu_s\":%.3f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"probe_ms\":%.1f,\"ok\":%s}\n",
           o->label, o->workload_name, o->host, o->port, o->workload == BENCH_WATCH ? o->watchers : o->sessions,
           o->depth, o->size, o->rate, r->window_s, (unsigned long long)r->ops, (double)r->ops / secs,
           (unsigned long long)r->total_ok, (unsigned long long)r->creates_ok, (unsigned long long)r->errors,
           (unsigned long long)r->late_sends, r->server_cpu_s, us_per_op, client_us, r->other_cpu_s,
           bench_hist_quantile(h, 0.5) / 1e3, bench_hist_quantile(h, 0.99) / 1e3,
           bench_hist_quantile(h, 0.999) / 1e3, h->max_ns / 1e3, r->probe_ms,
           (rc == 0 && r->errors == 0) ? "true" : "false");
    fflush(stdout);
    fprintf(stderr, "pk-bench %s: %.0f ops/s, server %.1f us/op, p50 %.0f us, p99 %.0f us, other CPU %.2f s, errors %llu%s\n",
            o->workload_name, (double)r->ops / secs, us_per_op, bench_hist_quantile(h, 0.5) / 1e3,
            bench_hist_quantile(h, 0.99) / 1e3, r->other_cpu_s, (unsigned long long)r->errors, rc == 0 ? "" : " (FAILED)");
}

/* Entry point: parse, run, print, exit 0 only when the run completed without errors. */
int main(int argc, char **argv) {
    static bench_opts opts;
    static bench_result res;
    if (!parse_args(argc, argv, &opts)) return 2;
    int rc = bench_run(&opts, &res);
    print_summary(&opts, &res, rc);
    return (rc == 0 && res.errors == 0) ? 0 : 1;
}
