/* zk reads: the empty path "" reads the root, as ZooKeeper's DataTree aliases it (differential finding);
 * getAllChildrenNumber("") counts the alias key too, one more than "/" (ZooKeeper 3.8.0 answers 4 and 3 on a
 * fresh server). */
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
    int32_t ops[] = {ZK_OP_EXISTS, ZK_OP_GET_DATA, ZK_OP_GET_CHILDREN, ZK_OP_GET_CHILDREN2, ZK_OP_GET_ACL};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        zk_read_result a = read_path(s, ops[i], "", &out);
        zk_read_result b = read_path(s, ops[i], "/", &root_out);
        cr_assert_eq(a.err, ZK_ERR_OK, "op %d", ops[i]);
        cr_assert_eq(b.err, ZK_ERR_OK, "op %d", ops[i]);
        cr_assert(pk_slice_eq(pk_buf_slice(&out), pk_buf_slice(&root_out)), "op %d: same reply as /", ops[i]);
    }
    cr_assert_eq(read_path(s, ZK_OP_GET_ALL_CHILDREN_NUMBER, "", &out).err, ZK_ERR_OK);
    cr_assert_eq(read_path(s, ZK_OP_GET_ALL_CHILDREN_NUMBER, "/", &root_out).err, ZK_ERR_OK);
    jute_reader r1, r2;
    jute_reader_init_slice(&r1, pk_buf_slice(&out), 1 << 20);
    jute_reader_init_slice(&r2, pk_buf_slice(&root_out), 1 << 20);
    int32_t n_empty = jute_read_int(&r1), n_root = jute_read_int(&r2);
    cr_assert(jute_reader_done(&r1) && jute_reader_done(&r2));
    cr_assert_eq(n_root, 3, "/zookeeper, /zookeeper/config, /zookeeper/quota");
    cr_assert_eq(n_empty, n_root + 1, "\"\" counts ZooKeeper's \"/\" alias key");
    cr_assert_eq(read_path(s, ZK_OP_GET_DATA, "nope", &out).err, ZK_ERR_NO_NODE);
    pk_buf_deinit(&out);
    pk_buf_deinit(&root_out);
    zk_state_free(s);
}
