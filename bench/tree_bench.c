/* tree-bench: memory and speed of the in-memory znode tree alone (src/zk, no server, no log): N creates of
 * /pkload/n<i> with V-byte values through zk_prep_request + zk_apply (as the server applies them), heap
 * bytes per znode from mallinfo2 before/after, then timings of getData, same-size setData, a snapshot
 * serialize + load, and N deletes. Not a test: numbers depend on the machine and its load.
 *
 * Usage: tree-bench [count (default 1000000)] [value bytes (default 100)] [reads per node (default 2)]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wire/records.h"
#include "zk/zk.h"

static const zk_auth_id tb_ip = {{(const uint8_t *)"ip", 2}, {(const uint8_t *)"127.0.0.1", 9}};
static const zk_auth tb_auth = {&tb_ip, 1};
static const struct wire_acl tb_open = {ZK_PERM_ALL, {{(const uint8_t *)"world", 5}, {(const uint8_t *)"anyone", 6}}};

/* Returns monotonic time in seconds. */
static double tb_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Heap bytes in use (main arena + mmapped chunks). */
static size_t tb_heap_bytes(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

typedef struct tb {
    zk_state *s;
    zk_prep *p;
    zk_events *ev;
    uint64_t zxid;
    pk_buf body, txn, reply;
} tb;

/* Preps and applies one write; exits on any error. */
static void tb_write(tb *t, int32_t op) {
    zk_request req = {0, op, pk_buf_slice(&t->body), &tb_auth};
    pk_buf_reset(&t->txn);
    pk_buf_reset(&t->reply);
    zk_events_clear(t->ev);
    t->zxid++;
    int rc = zk_prep_request(t->p, t->s, &req, t->zxid, 1700000000000 + (int64_t)t->zxid, &t->txn);
    zk_apply_result res;
    if (rc != ZK_ERR_OK || zk_apply(t->s, pk_buf_slice(&t->txn), &res, &t->reply, t->ev) != PK_OK || res.err != 0) {
        fprintf(stderr, "tree-bench: write op %d failed (prep %d)\n", op, rc);
        exit(1);
    }
    zk_prep_applied(t->p, res.zxid);
}

/* Formats the path of node i. */
static pk_slice tb_path(char *buf, size_t len, size_t i) {
    int n = snprintf(buf, len, "/pkload/n%zu", i);
    return (pk_slice){(const uint8_t *)buf, (size_t)n};
}

int main(int argc, char **argv) {
    size_t count = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t vlen = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
    size_t reads = argc > 3 ? strtoul(argv[3], NULL, 10) : 2;
    uint8_t *val = malloc(vlen + 1);
    for (size_t i = 0; i < vlen; i++) val[i] = (uint8_t)('a' + i % 26);
    tb t = {0};
    pk_buf_init(&t.body);
    pk_buf_init(&t.txn);
    pk_buf_init(&t.reply);
    zk_prep_options o = {true, ZK_MAX_BUFFER_DEFAULT};
    t.p = zk_prep_new(&o);
    t.ev = zk_events_new();
    t.s = zk_state_new();
    char path[64];
    struct wire_create_request cr = {pk_slice_str("/pkload"), jute_empty(), {1, &tb_open, {NULL, 0}}, 0};
    wire_create_request_encode(&t.body, &cr);
    tb_write(&t, ZK_OP_CREATE);
    size_t heap0 = tb_heap_bytes();
    double t0 = tb_now_s();
    for (size_t i = 0; i < count; i++) {
        pk_buf_reset(&t.body);
        cr.path = tb_path(path, sizeof path, i);
        cr.data = (pk_slice){val, vlen};
        wire_create_request_encode(&t.body, &cr);
        tb_write(&t, ZK_OP_CREATE);
    }
    double t1 = tb_now_s();
    size_t heap1 = tb_heap_bytes();
    printf("create: %zu nodes of %zu B in %.3f s (%.0f ns/op); heap +%.1f MiB = %.1f B/znode\n", count, vlen, t1 - t0,
           (t1 - t0) * 1e9 / (double)count, (double)(heap1 - heap0) / 1048576.0, (double)(heap1 - heap0) / (double)count);
    /* getData in a scattered order (each read a likely cache miss, as with many clients) */
    pk_buf out;
    pk_buf_init(&out);
    uint64_t x = 88172645463325252ull, sum = 0;
    t0 = tb_now_s();
    for (size_t i = 0; i < count * reads; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pk_buf_reset(&t.body);
        struct wire_get_data_request gr = {tb_path(path, sizeof path, x % count), false};
        wire_get_data_request_encode(&t.body, &gr);
        pk_buf_reset(&out);
        zk_read_result rr;
        zk_read(t.s, &tb_auth, 0, ZK_OP_GET_DATA, pk_buf_slice(&t.body), &out, &rr);
        sum += out.len + (uint64_t)rr.err;
    }
    t1 = tb_now_s();
    printf("getData: %.0f ns/op (checksum %llu)\n", (t1 - t0) * 1e9 / (double)(count * reads), (unsigned long long)sum);
    t0 = tb_now_s();
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pk_buf_reset(&t.body);
        struct wire_set_data_request sr = {tb_path(path, sizeof path, x % count), (pk_slice){val, vlen}, -1};
        wire_set_data_request_encode(&t.body, &sr);
        tb_write(&t, ZK_OP_SET_DATA);
    }
    t1 = tb_now_s();
    printf("setData (same size): %.0f ns/op\n", (t1 - t0) * 1e9 / (double)count);
    pk_buf snap;
    pk_buf_init(&snap);
    t0 = tb_now_s();
    zk_state_serialize(t.s, &snap);
    t1 = tb_now_s();
    zk_state *s2 = NULL;
    char err[128] = "";
    if (zk_state_deserialize(pk_buf_slice(&snap), &s2, err, sizeof err) != PK_OK) {
        fprintf(stderr, "tree-bench: reload failed: %s\n", err);
        return 1;
    }
    double t2 = tb_now_s();
    printf("snapshot: %zu bytes, serialize %.0f ms, load %.0f ms, digest %s\n", snap.len, (t1 - t0) * 1e3,
           (t2 - t1) * 1e3, zk_state_digest(s2) == zk_state_digest(t.s) ? "ok" : "MISMATCH");
    zk_state_free(s2);
    pk_buf_deinit(&snap);
    t0 = tb_now_s();
    for (size_t i = 0; i < count; i++) {
        pk_buf_reset(&t.body);
        struct wire_delete_request dr = {tb_path(path, sizeof path, i), -1};
        wire_delete_request_encode(&t.body, &dr);
        tb_write(&t, ZK_OP_DELETE);
    }
    t1 = tb_now_s();
    printf("delete: %.0f ns/op\n", (t1 - t0) * 1e9 / (double)count);
    pk_buf_deinit(&out);
    zk_state_free(t.s);
    zk_prep_free(t.p);
    zk_events_free(t.ev);
    pk_buf_deinit(&t.body);
    pk_buf_deinit(&t.txn);
    pk_buf_deinit(&t.reply);
    free(val);
    return 0;
}
