/* pk-sim: runs the deterministic simulator for one seed (with an optional readable trace) or many seeds
 * (with a summary line). Exit status 0 when every run passed, 1 when one failed, 2 on bad usage. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static volatile uint64_t pk_sim_current_seed;
static volatile uint32_t pk_sim_current_nodes;

/* On an assertion abort inside a run, names the seed so it can be replayed. */
static void pk_sim_on_abort(int sig) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "\nFAIL seed=%llu nodes=%u: aborted (assertion) -- replay: pk-sim --seed %llu "
                     "--nodes %u --trace\n", (unsigned long long)pk_sim_current_seed, pk_sim_current_nodes,
                     (unsigned long long)pk_sim_current_seed, pk_sim_current_nodes);
    if (n > 0) (void)!write(2, buf, (size_t)n);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Prints usage. */
static void usage(void) {
    fprintf(stderr, "usage: pk-sim --seed N [--nodes 3|5] [--trace]\n"
                    "       pk-sim --seeds N [--start S] [--nodes 3|5] [--stop-on-fail]\n"
                    "options: --chaos-ms MS  --liveness-ms MS  --clients C  --no-faults  --own-disk (sim_disk, not disk_mem)\n");
}

/* Returns seconds of monotonic wall time (statistics only; the simulation itself never reads a clock). */
static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses options, runs one seed or many, prints results; exits 0 when every run passed. */
int main(int argc, char **argv) {
    uint64_t seed = 0, seeds = 0, start = 1, chaos_ms = 0, liveness_ms = 0;
    uint32_t nodes = 0, clients = 0;
    bool one = false, trace = false, stop = false, faults = true, own_disk = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--seed") && has) { seed = strtoull(argv[++i], NULL, 0); one = true; }
        else if (!strcmp(a, "--seeds") && has) seeds = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--start") && has) start = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--nodes") && has) nodes = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--clients") && has) clients = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--chaos-ms") && has) chaos_ms = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--liveness-ms") && has) liveness_ms = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--trace")) trace = true;
        else if (!strcmp(a, "--stop-on-fail")) stop = true;
        else if (!strcmp(a, "--no-faults")) faults = false;
        else if (!strcmp(a, "--own-disk")) own_disk = true;
        else { usage(); return 2; }
    }
    if ((!one && seeds == 0) || (nodes != 0 && nodes != 3 && nodes != 5 && nodes != 1) || clients > 8) {
        usage();
        return 2;
    }
    signal(SIGABRT, pk_sim_on_abort);
    if (one) { seeds = 1; start = seed; }
    uint64_t failures = 0, faults_total = 0, ops_total = 0;
    double t0 = wall_s();
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t s = start + k;
        uint32_t nn = nodes ? nodes : (s % 2 ? 5 : 3);
        sim_options opt;
        sim_options_default(&opt, s, nn);
        opt.trace = trace;
        opt.faults = faults;
        opt.own_disk = own_disk;
        if (chaos_ms) opt.chaos_ms = chaos_ms;
        if (liveness_ms) opt.liveness_ms = liveness_ms;
        if (clients) opt.clients = clients;
        pk_sim_current_seed = s;
        pk_sim_current_nodes = nn;
        sim_result res;
        bool ok = sim_run(&opt, &res);
        faults_total += res.faults;
        ops_total += res.client_ops;
        if (one || trace)
            printf("seed=%llu nodes=%u: %s faults=%llu client_ops=%llu history=%llu slots=%llu sim_ms=%llu "
                   "lin_steps=%llu\n", (unsigned long long)s, nn, ok ? "ok" : "FAIL",
                   (unsigned long long)res.faults, (unsigned long long)res.client_ops,
                   (unsigned long long)res.history_ops, (unsigned long long)res.slots,
                   (unsigned long long)res.sim_ms, (unsigned long long)res.lin_steps);
        if (!ok) {
            failures++;
            printf("FAIL seed=%llu nodes=%u: %s\n  replay: pk-sim --seed %llu --nodes %u --trace\n",
                   (unsigned long long)s, nn, res.failure, (unsigned long long)s, nn);
            fflush(stdout);
            if (stop) { seeds = k + 1; break; }
        }
    }
    double dt = wall_s() - t0;
    printf("pk-sim: seeds=%llu failures=%llu avg_faults=%.1f ops_per_sec=%.0f wall_s=%.1f\n",
           (unsigned long long)seeds, (unsigned long long)failures, seeds ? (double)faults_total / (double)seeds : 0,
           dt > 0 ? (double)ops_total / dt : 0, dt);
    return failures ? 1 : 0;
}
