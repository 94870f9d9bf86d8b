/* store: the meta file (the acceptor's promise and the node id), replaced atomically.
 *
 * Layout of `meta` (28 bytes, integers big-endian):
 *   offset  size  field
 *   0       4     magic           0x504B4D54 ("PKMT")
 *   4       4     version         1
 *   8       4     node_id
 *   12      8     promised_round
 *   20      4     promised_node
 *   24      4     crc             CRC32C (pk_crc32c, seed 0) over bytes [0, 24)
 * Replacement: write `meta.tmp` (create, truncate), fdatasync, rename over `meta`, fsync the directory.
 * A crash at any point leaves either the old or the new `meta`; a leftover `meta.tmp` is ignored.
 */
#include "store/store_int.h"

enum { META_BYTES = 28, META_VERSION = 1 };
#define META_MAGIC 0x504B4D54u

/* Encodes m into the 28-byte layout. */
static void meta_encode(uint8_t *p, const store_meta *m) {
    PK_ASSERT(p != NULL && m != NULL);
    pk_put_u32(p, META_MAGIC);
    pk_put_u32(p + 4, META_VERSION);
    pk_put_u32(p + 8, m->node_id);
    pk_put_u64(p + 12, m->promised_round);
    pk_put_u32(p + 20, m->promised_node);
    pk_put_u32(p + 24, pk_crc32c(0, p, 24));
    PK_ASSERT(pk_get_u32(p) == META_MAGIC);
}

/* Reads the meta file; PK_ENOENT when absent, PK_ECORRUPT when it does not verify. */
int store_meta_read(store_disk *d, const char *dir, store_meta *out) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(out != NULL);
    char path[STORE_PATH_MAX];
    int rc = store_path_join(path, sizeof(path), dir, "meta");
    if (rc < 0) return rc;
    int fd;
    rc = d->ops->open(d, path, 0, &fd);
    if (rc < 0) return rc;
    uint8_t p[META_BYTES + 1];
    size_t got = 0;
    rc = store_read_full(d, fd, p, sizeof(p), 0, &got);
    d->ops->close(d, fd);
    if (rc < 0) return rc;
    if (got != META_BYTES) return PK_ECORRUPT;
    if (pk_get_u32(p) != META_MAGIC || pk_get_u32(p + 4) != META_VERSION) return PK_ECORRUPT;
    if (pk_crc32c(0, p, 24) != pk_get_u32(p + 24)) return PK_ECORRUPT;
    out->node_id = pk_get_u32(p + 8);
    out->promised_round = pk_get_u64(p + 12);
    out->promised_node = pk_get_u32(p + 20);
    return PK_OK;
}

/* Atomically replaces the meta file: temp, fdatasync, rename, fsync dir. */
int store_meta_write(store_disk *d, const char *dir, const store_meta *m) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(m != NULL);
    char tmp[STORE_PATH_MAX], path[STORE_PATH_MAX];
    int rc = store_path_join(tmp, sizeof(tmp), dir, "meta.tmp");
    if (rc == PK_OK) rc = store_path_join(path, sizeof(path), dir, "meta");
    if (rc < 0) return rc;
    uint8_t p[META_BYTES];
    meta_encode(p, m);
    int fd;
    rc = d->ops->open(d, tmp, STORE_OPEN_CREATE | STORE_OPEN_TRUNC, &fd);
    if (rc < 0) return rc;
    rc = d->ops->pwrite(d, fd, p, sizeof(p), 0);
    if (rc == PK_OK) rc = d->ops->fdatasync(d, fd);
    int crc = d->ops->close(d, fd);
    if (rc == PK_OK) rc = crc;
    if (rc == PK_OK) rc = d->ops->rename(d, tmp, path);
    if (rc == PK_OK) rc = d->ops->fsync_dir(d, dir);
    return rc;
}
