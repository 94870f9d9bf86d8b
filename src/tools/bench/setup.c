/* pk-bench fixtures: the prefix and the nodes a workload reads, writes, watches or creates under. */
#include "tools/bench/bench.h"

#include <stdio.h>
#include <unistd.h>

/* Creates path with data (world:anyone, persistent); an existing node is fine. Returns 0 or an error. */
static int create_node(bench_conn *c, const char *path, pk_slice data) {
    static const struct wire_acl acl = {
        .perms = ZK_PERM_ALL, .id = {.scheme = {(const uint8_t *)"world", 5}, .id = {(const uint8_t *)"anyone", 6}}};
    struct wire_request req = {.op = ZK_OP_CREATE};
    req.u.create.path = pk_slice_str(path);
    req.u.create.data = data;
    req.u.create.acl = (struct wire_acl_vec){.count = 1, .items = &acl};
    req.u.create.flags = ZK_CREATE_PERSISTENT;
    int rc = bench_conn_call(c, &req, NULL, 10000);
    if (rc == ZK_ERR_NODE_EXISTS) rc = 0;
    if (rc != 0) fprintf(stderr, "pk-bench: setup: create %s: %d\n", path, rc);
    return rc == 0 ? 0 : PK_EIO;
}

/* Creates every ancestor of the prefix and the prefix itself. */
static int create_prefix(bench_conn *c, const char *prefix) {
    PK_ASSERT(prefix[0] == '/');
    char path[BENCH_PATH_MAX];
    size_t len = strlen(prefix);
    PK_ASSERT(len < sizeof(path));
    for (size_t i = 1; i <= len; i++) {
        if (i < len && prefix[i] != '/') continue;
        memcpy(path, prefix, i);
        path[i] = 0;
        int rc = create_node(c, path, jute_empty());
        if (rc < 0) return rc;
    }
    return 0;
}

/* Creates the nodes the chosen workload needs. */
static int create_fixtures(bench_conn *c, const bench_opts *o, pk_slice value) {
    char path[BENCH_PATH_MAX];
    switch (o->workload) {
    case BENCH_READ: case BENCH_WRITE: case BENCH_MIXED:
        for (uint32_t i = 0; i < o->nodes; i++) {
            bench_node_path(o, i, path, sizeof(path));
            if (create_node(c, path, value) < 0) return PK_EIO;
        }
        return 0;
    case BENCH_CREATE_DELETE:
        snprintf(path, sizeof(path), "%s/e", o->prefix);
        return create_node(c, path, jute_empty());
    case BENCH_WATCH:
        snprintf(path, sizeof(path), "%s/w", o->prefix);
        return create_node(c, path, value);
    default: return 0;
    }
}

/* Creates the fixture nodes the workload needs (prefix, data nodes). */
int bench_setup(const bench_opts *o) {
    PK_ASSERT(o != NULL);
    PK_ASSERT(o->prefix[0] == '/');
    if (o->workload == BENCH_CONNECT || o->workload == BENCH_PROBE) return 0;
    bench_conn c;
    bench_conn_init(&c, 0);
    int rc = PK_EIO;
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    for (int i = 0; i < 100000 && rc < 0 && bench_now_ns() < deadline; i++) {
        rc = bench_conn_connect_sync(&c, o->host, o->port, 2000);   /* a starting server may refuse */
        if (rc < 0) usleep(20000);
    }
    if (rc < 0) fprintf(stderr, "pk-bench: setup: cannot connect to %s:%u\n", o->host, o->port);
    uint8_t *value = pk_malloc(o->size ? o->size : 1);
    bench_fill_value(value, o->size);
    if (rc == 0) rc = create_prefix(&c, o->prefix);
    if (rc == 0) rc = create_fixtures(&c, o, (pk_slice){value, o->size});
    if (c.state == BENCH_C_OPEN) {
        struct wire_request req = {.op = ZK_OP_CLOSE_SESSION};
        (void)bench_conn_call(&c, &req, NULL, 5000);
    }
    free(value);
    bench_conn_deinit(&c);
    return rc;
}
