/* pk-bench helpers: latency histogram, clocks, /proc CPU accounting, value pattern, paths. */
#include "tools/bench/bench.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Empties the histogram. */
void bench_hist_reset(bench_hist *h) {
    PK_ASSERT(h != NULL);
    memset(h, 0, sizeof(*h));
    PK_ASSERT(h->total == 0);
}

/* Maps a value to its bucket: exponent of the top bit, then 6 bits below it as the sub-bucket. */
static uint32_t hist_index(uint64_t ns) {
    if (ns < BENCH_HIST_SUB) return (uint32_t)ns;
    uint32_t top = 63u - (uint32_t)__builtin_clzll(ns);    /* >= 6 */
    uint32_t sub = (uint32_t)(ns >> (top - 6)) & (BENCH_HIST_SUB - 1);
    uint32_t idx = (top - 5) * BENCH_HIST_SUB + sub;
    PK_ASSERT(top >= 6 && top < 64);
    PK_ASSERT(idx < BENCH_HIST_EXP * BENCH_HIST_SUB);
    return idx;
}

/* Returns the largest value that falls into bucket idx. */
static uint64_t hist_upper(uint32_t idx) {
    PK_ASSERT(idx < BENCH_HIST_EXP * BENCH_HIST_SUB);
    if (idx < BENCH_HIST_SUB) return idx;
    uint32_t top = idx / BENCH_HIST_SUB + 5;
    uint64_t sub = idx % BENCH_HIST_SUB;
    PK_ASSERT(top >= 6 && top < 64);
    uint64_t base = (1ull << top) | (sub << (top - 6));
    return base + ((1ull << (top - 6)) - 1);
}

/* Records one latency sample in nanoseconds. */
void bench_hist_add(bench_hist *h, uint64_t ns) {
    PK_ASSERT(h != NULL);
    h->counts[hist_index(ns)]++;
    h->total++;
    if (ns > h->max_ns) h->max_ns = ns;
    PK_ASSERT(h->total > 0);
}

/* Returns the value at quantile q (upper edge of its bucket, capped at the maximum seen). */
uint64_t bench_hist_quantile(const bench_hist *h, double q) {
    PK_ASSERT(h != NULL);
    PK_ASSERT(q >= 0.0 && q <= 1.0);
    if (h->total == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)h->total + 0.5);
    if (want == 0) want = 1;
    if (want > h->total) want = h->total;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < BENCH_HIST_EXP * BENCH_HIST_SUB; i++) {
        seen += h->counts[i];
        if (seen >= want) return PK_MIN(hist_upper(i), h->max_ns);
    }
    return h->max_ns;
}

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    PK_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads utime+stime (ticks) of one process from /proc/PID/stat; -1 on failure. */
static long long proc_ticks(int pid) {
    char path[64], line[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = 0;
    /* The command name may hold spaces: fields are counted after the last ')'. */
    char *p = strrchr(line, ')');
    if (p == NULL) return -1;
    unsigned long long utime = 0, stime = 0;
    int got = sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime);
    PK_ASSERT(got <= 2);
    return got == 2 ? (long long)(utime + stime) : -1;
}

/* Sum of utime+stime (seconds) of the given processes; -1 if any cannot be read. */
double bench_proc_cpu_s(const int *pids, uint32_t n) {
    PK_ASSERT(n <= BENCH_MAX_PIDS);
    if (n == 0) return -1;
    long long total = 0;
    for (uint32_t i = 0; i < n; i++) {
        long long t = proc_ticks(pids[i]);
        if (t < 0) return -1;
        total += t;
    }
    long hz = sysconf(_SC_CLK_TCK);
    PK_ASSERT(hz > 0);
    return (double)total / (double)hz;
}

/* This process's own CPU time (user + system), seconds. */
double bench_self_cpu_s(void) {
    struct rusage ru;
    int rc = getrusage(RUSAGE_SELF, &ru);
    PK_ASSERT(rc == 0);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Fills p[0..n) with the deterministic value pattern: 'a'..'z' repeating. */
void bench_fill_value(uint8_t *p, size_t n) {
    PK_ASSERT(p != NULL || n == 0);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)('a' + i % 26);
    PK_ASSERT(n == 0 || p[0] == 'a');
}

/* Formats the path of data node i ("<prefix>/n<i>") into buf. */
void bench_node_path(const bench_opts *opts, uint64_t i, char *buf, size_t len) {
    PK_ASSERT(opts != NULL && buf != NULL);
    int n = snprintf(buf, len, "%s/n%llu", opts->prefix, (unsigned long long)i);
    PK_ASSERT(n > 0 && (size_t)n < len);
}

/* Busy CPU time of the whole machine from the first line of /proc/stat, seconds (-1 if unreadable). */
double bench_machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) return -1;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &v[6], &v[7]);
    fclose(f);
    if (got != 8) return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6];   /* not idle (3), iowait (4), steal (7) */
    long hz = sysconf(_SC_CLK_TCK);
    PK_ASSERT(hz > 0);
    return (double)busy / (double)hz;
}
