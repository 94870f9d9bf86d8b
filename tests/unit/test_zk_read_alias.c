/* zk reads: the empty path "" reads the root, as ZooKeeper's DataTree aliases it (differential finding). */
#include <criterion/criterion.h>

#include "wire/jute.h"
#include "wire/records.h"
#include "zk/zk.h"

/* Encodes {path, watch} and runs one read op; returns the result. */
static zk_read_result read_path(const zk_state *s, int32_t op, const char *path, pk_buf *out) {
    pk_buf body;
    pk_buf_init(&body);
    jute_write_ustring(&body, (pk_slice){(const uint8_t *)path, strlen(path)});
    if (op != ZK_OP_GET_ACL && op != ZK_OP_GET_ALL_CHILDREN_NUMBER) jute_write_bool(&body, false);
    zk_auth auth = {NULL, 0};
    zk_read_result res;
    pk_buf_reset(out);
    zk_read(s, &auth, 0, op, pk_buf_slice(&body), out, &res);
    pk_buf_deinit(&body);
    return res;
}

Test(zk_read_alias, empty_path_reads_the_root) {
    zk_state *s = zk_state_new();
    pk_buf out, root_out;
    pk_buf_init(&out);
    pk_buf_init(&root_out);
    int32_t ops[] = {ZK_OP_EXISTS, ZK_OP_GET_DATA, ZK_OP_GET_CHILDREN, ZK_OP_GET_CHILDREN2, ZK_OP_GET_ACL,
                     ZK_OP_GET_ALL_CHILDREN_NUMBER};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        zk_read_result a = read_path(s, ops[i], "", &out);
        zk_read_result b = read_path(s, ops[i], "/", &root_out);
        cr_assert_eq(a.err, ZK_ERR_OK, "op %d", ops[i]);
        cr_assert_eq(b.err, ZK_ERR_OK, "op %d", ops[i]);
        cr_assert(pk_slice_eq(pk_buf_slice(&out), pk_buf_slice(&root_out)), "op %d: same reply as /", ops[i]);
    }
    cr_assert_eq(read_path(s, ZK_OP_GET_DATA, "nope", &out).err, ZK_ERR_NO_NODE);
    pk_buf_deinit(&out);
    pk_buf_deinit(&root_out);
    zk_state_free(s);
}
