/* Unit tests for pk-bench's helpers (src/tools/bench/util.c): the latency histogram's quantiles and
 * bucket edges, the value pattern, node paths and /proc CPU accounting. util.c is compiled in here
 * because pk-bench is not part of libpkcore. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "../../src/tools/bench/util.c"

static bench_hist hist;

/* Adds v to the histogram n times. */
static void add_n(uint64_t v, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) bench_hist_add(&hist, v);
}

Test(bench_hist, empty_is_zero) {
    bench_hist_reset(&hist);
    cr_assert_eq(bench_hist_quantile(&hist, 0.5), 0);
    cr_assert_eq(hist.total, 0);
}

Test(bench_hist, small_values_are_exact) {
    bench_hist_reset(&hist);
    for (uint64_t v = 0; v < 64; v++) bench_hist_add(&hist, v);
    cr_assert_eq(bench_hist_quantile(&hist, 1.0), 63);
    cr_assert_eq(bench_hist_quantile(&hist, 0.5), 31);
    cr_assert_eq(hist.max_ns, 63);
}

Test(bench_hist, quantiles_within_resolution) {
    bench_hist_reset(&hist);
    add_n(100000, 990);      /* 100 us */
    add_n(5000000, 9);       /* 5 ms */
    add_n(80000000, 1);      /* 80 ms */
    uint64_t p50 = bench_hist_quantile(&hist, 0.5);
    uint64_t p99 = bench_hist_quantile(&hist, 0.99);
    uint64_t p999 = bench_hist_quantile(&hist, 0.999);
    cr_assert(p50 >= 100000 && p50 <= 101600, "p50 %llu", (unsigned long long)p50);
    cr_assert(p99 >= 100000 && p99 <= 101600, "p99 %llu", (unsigned long long)p99);
    cr_assert(p999 >= 5000000 && p999 <= 5080000, "p999 %llu", (unsigned long long)p999);
    cr_assert_eq(bench_hist_quantile(&hist, 1.0), 80000000);
}

Test(bench_hist, bucket_edges_bound_every_value) {
    uint64_t v = 1;
    for (int i = 0; i < 400; i++) {
        uint32_t idx = hist_index(v);
        cr_assert(hist_upper(idx) >= v, "upper(%u) < %llu", idx, (unsigned long long)v);
        cr_assert(idx == 0 || hist_upper(idx - 1) < v, "value %llu also fits bucket %u", (unsigned long long)v, idx - 1);
        v = v * 11 / 10 + 1;
    }
    cr_assert_eq(hist_index(UINT64_MAX), (63 - 5) * BENCH_HIST_SUB + 63);   /* the last bucket used */
}

Test(bench_util, value_pattern_and_paths) {
    uint8_t v[30];
    bench_fill_value(v, sizeof v);
    cr_assert_eq(v[0], 'a');
    cr_assert_eq(v[25], 'z');
    cr_assert_eq(v[26], 'a');
    bench_opts o;
    memset(&o, 0, sizeof o);
    strcpy(o.prefix, "/pkbench");
    char path[64];
    bench_node_path(&o, 1234567, path, sizeof path);
    cr_assert_str_eq(path, "/pkbench/n1234567");
}

Test(bench_util, proc_cpu_of_self) {
    int pid = getpid();
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < 20000000; i++) x += i;   /* burn a little CPU so the clock moves */
    cr_assert(bench_proc_cpu_s(&pid, 1) >= 0);
    int bogus = 0x7ffffff0;
    cr_assert(bench_proc_cpu_s(&bogus, 1) < 0);
    cr_assert(bench_self_cpu_s() > 0);
    cr_assert(bench_machine_busy_s() > 0);
}
