/* zk internals shared by the files of src/zk (not part of the public contract; include zk.h instead).
 *
 * Layout of the replicated state:
 *  - Nodes form a tree of slab blocks (zk_slab), each named by a 32-bit node id (zk_node_at decodes it). A
 *    node stores its NAME (the last path component; "/" has the empty name), not its full path, and the id
 *    of its parent (zk_node.parent, 0 for "/"). A parent keeps its children in its own hash table (zk_ntab
 *    in its PAR section: node id + 32 bits of zk_name_hash(name) per slot), so a path is found by walking
 *    from the root one component at a time (zk_tree_locate, which yields the parent too), and a full path is
 *    rebuilt by walking parent ids up (zk_node_path_append). A node that changes size (data length, a new
 *    section) moves to a new block with a new id; zk_node_move re-points its slot in its parent's table,
 *    root_id, its session's ephemeral entry, its reapable entry and the parent field of each of its children,
 *    the only references the state keeps to a node.
 *  - ACL lists are interned (refcounted, like ZooKeeper's ReferenceCountedACLCache). A list is stored
 *    as its jute vector<ACL> bytes ("blob") plus decoded entries pointing into the blob. node_refs counts
 *    nodes using it (prep overlay entries keep their own copy of the ACL bytes); ext_refs counts zk_events holding it. A list is in the
 *    intern table (zk_acls) while node_refs > 0 and is freed when both counts reach zero. A node names its
 *    list by a 32-bit index (zk_node_acl_idx: the header's byte, or the ACLX section for an index of 255 or
 *    more; zk_acls.by_idx), held while the list is interned.
 *  - Sessions: a table id -> {timeout, passwd, vector of ephemeral node ids}.
 *  - Digest: sum (mod 2^64) over nodes of fields_hash(node) + data_hash(node), both seeded with
 *    zk_path_hash(full path), plus the sum over sessions of session_hash(session). Maintained on every
 *    mutation; zk_state_digest_full recomputes it (independent of the in-memory layout).
 * Invariants: zk_node_nkids(node) == number of nodes whose parent field is node's id == entries of node's child
 *  table; every node but "/" is in exactly one child table (its parent's), under zk_name_hash of its name, and
 *  no two children of a node share a name; a node's id is the one in its parent's table (root_id for "/") and,
 *  for an ephemeral (owner is a session id), in its session's vector; a container or TTL node's id is in
 *  reapable; node_count is the number of nodes ("/" included).
 */
#ifndef PK_ZK_INT_H
#define PK_ZK_INT_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "zk/zk.h"
#include "zk/txn.h"
#include "wire/jute.h"
#include "wire/records.h"

/* ---- generic open-addressing pointer table (linear probing, backward-shift deletion) ---- */
typedef struct zk_htab {
    void **slots;
    uint32_t *hashes; /* low 32 bits of each occupied slot's hash: the home slot is derived from them
                       * (multiply-shift), and probes skip most items without touching them */
    size_t cap;       /* any size >= 16 (load <= 0.85, 0.6 after a growth), or 0 */
    size_t count;
    uint64_t (*hash_of)(const void *item); /* only zk_htab_insert / zk_htab_remove call it; growth and
                                              * removal shifts never do */
} zk_htab;

/* Initializes an empty table whose items report their hash through hash_of. */
void zk_htab_init(zk_htab *t, uint64_t (*hash_of)(const void *item));
/* Frees the slot array (not the items). */
void zk_htab_deinit(zk_htab *t);
/* Finds the item with hash h for which eq(item, key) holds, or NULL. */
void *zk_htab_find(const zk_htab *t, uint64_t h, bool (*eq)(const void *item, const void *key), const void *key);
/* Inserts an item (its key must not be present). */
void zk_htab_insert(zk_htab *t, void *item);
/* Inserts an item whose hash_of is h (saves recomputing it). */
void zk_htab_insert_h(zk_htab *t, void *item, uint64_t h);
/* Removes exactly this item (must be present). */
void zk_htab_remove(zk_htab *t, const void *item);
/* Removes exactly this item, whose hash_of is h (must be present). */
void zk_htab_remove_h(zk_htab *t, const void *item, uint64_t h);
/* Grows the table so that n items fit at load 3/4 (an exact reservation). */
void zk_htab_reserve(zk_htab *t, size_t n);

/* ---- node allocator ----
 * Blocks up to ZK_SLAB_MAX_BLOCK bytes are carved in 4-byte steps (ZK_SLAB_ALIGN) from chunks (4 KiB
 * doubling to 1 MiB) with no per-block header, and recycled through one LIFO free list per size (memory is
 * never given back to malloc before zk_slab_deinit). Larger blocks go to malloc. The caller passes the
 * block's size to zk_slab_free. Under ASan free and unused bytes are poisoned.
 * Node ids: every block is named by a 32-bit id, decoded by zk_slab_at as base[id >> 9] + (id & 511) * 4.
 * The base table has one entry per 2 KiB slot of id space: a chunk takes as many consecutive slots as it
 * has 2 KiB pieces (base[first + i] = chunk + i * 2 KiB), a large block takes one slot of its own (offset
 * 0; slots of freed large blocks are reused by later large blocks). A large block is larger than 2 KiB, so
 * no block names more id space than it occupies: 2^32 ids of 4 bytes address 16 GiB of node memory (less
 * the reserved slot 0 and the id space of freed large blocks' slots while they wait for reuse). Past that,
 * allocation fails loudly (PK_PANIC). Id 0 is never a block ("none"). */
#define ZK_SLAB_MAX_BLOCK 2048u
#define ZK_SLAB_ALIGN 4u
#define ZK_SLAB_ID_SHIFT 9u
#define ZK_SLAB_ID_MASK ((1u << ZK_SLAB_ID_SHIFT) - 1u)
#define ZK_SLAB_SLOT_BYTES (ZK_SLAB_ALIGN << ZK_SLAB_ID_SHIFT)
#define ZK_SLAB_MAX_SLOTS (1u << (32u - ZK_SLAB_ID_SHIFT))

typedef struct zk_slab {
    uint8_t **base;        /* per slot of id space: the address of its first byte (NULL: free or slot 0) */
    uint32_t nslots, slot_cap;
    uint32_t free[ZK_SLAB_MAX_BLOCK / ZK_SLAB_ALIGN + 1u]; /* free[r / 4]: id of a free block of r bytes (the
                                                             * next one's id is stored in its first 4 bytes) */
    uint8_t *cur;          /* unused rest of the newest chunk, and its id */
    uint32_t cur_id;
    size_t cur_left;
    uint32_t *chunk_slot;  /* first slot of each chunk */
    size_t *chunk_sizes;
    size_t nchunks;
    uint32_t *free_slots;  /* slots of freed large blocks */
    uint32_t nfree_slots, free_slots_cap;
    size_t large_count;    /* large blocks allocated */
    size_t free_bytes;     /* bytes on the free lists */
} zk_slab;

/* Initializes an empty allocator. */
void zk_slab_init(zk_slab *a);
/* Frees every chunk (blocks larger than ZK_SLAB_MAX_BLOCK must have been freed with zk_slab_free). */
void zk_slab_deinit(zk_slab *a);
/* Allocates n > 0 bytes, 4-byte aligned; *id receives the block's id. */
void *zk_slab_alloc(zk_slab *a, size_t n, uint32_t *id);
/* Frees the block id allocated with n bytes. */
void zk_slab_free(zk_slab *a, uint32_t id, size_t n);
/* The address of the block with id (nonzero, live). */
static inline uint8_t *zk_slab_at(const zk_slab *a, uint32_t id) {
    return a->base[id >> ZK_SLAB_ID_SHIFT] + ((size_t)(id & ZK_SLAB_ID_MASK) << 2);
}

/* ---- node id table: node ids keyed by a 64-bit hash (linear probing, backward-shift deletion) ----
 * One 64-bit entry per slot: the node id in the low 32 bits, the low 32 bits of the key's hash in the high
 * ones (0: empty; ids are never 0). The home slot is the multiply-shift reduction of the stored hash, so
 * growth and removal never rehash a key, and a probe reads one array. Used for each parent's children (keyed
 * by zk_name_hash of the child's name: zk_ntab_find compares names) and for the reapable set (keyed by
 * zk_id_hash of the id). Any capacity (tiny tables for few children); the load stays <= 0.85. */
typedef struct zk_ntab {
    uint64_t *ents;
    size_t cap;            /* 0, or any size >= 2 (load <= 0.85, about 0.6 after a growth) */
    size_t count;
} zk_ntab;

/* Initializes an empty table. */
void zk_ntab_init(zk_ntab *t);
/* Frees the entries. */
void zk_ntab_deinit(zk_ntab *t);
/* The id of the node named name (whose zk_name_hash is h) among the nodes of slab a in the table, or 0. */
uint32_t zk_ntab_find(const zk_ntab *t, const zk_slab *a, uint64_t h, pk_slice name);
/* Inserts node id with hash h (its key must not be present). */
void zk_ntab_insert(zk_ntab *t, uint32_t id, uint64_t h);
/* Removes node id with hash h (must be present). */
void zk_ntab_remove(zk_ntab *t, uint32_t id, uint64_t h);
/* Replaces node id (hash h) by nid in place: a node that moved keeps its slot. */
void zk_ntab_replace(zk_ntab *t, uint32_t id, uint32_t nid, uint64_t h);
/* Grows the table so that n nodes fit at load 3/4 (an exact reservation). */
void zk_ntab_reserve(zk_ntab *t, size_t n);
/* The node id in entry i (0 when empty). */
static inline uint32_t zk_ntab_id(const zk_ntab *t, size_t i) { return (uint32_t)t->ents[i]; }
/* The stored 32-bit hash in entry i (meaningful when the entry is not empty). */
static inline uint32_t zk_ntab_h32(const zk_ntab *t, size_t i) { return (uint32_t)(t->ents[i] >> 32); }
/* Hash of a node id as the reapable set keys it. */
static inline uint64_t zk_id_hash(uint32_t id) { return pk_hash64(&id, sizeof id, 0x1d5e7); }

/* ---- ACL lists ---- */
typedef struct zk_acl_entry {
    int32_t perms;
    pk_slice scheme;
    pk_slice id;
} zk_acl_entry;

typedef struct zk_acl {
    uint64_t hash;        /* pk_hash64 of the blob */
    uint32_t node_refs;
    uint32_t ext_refs;
    uint32_t count;       /* entries */
    uint32_t blob_len;
    uint32_t snap_index;  /* scratch for serialization */
    uint32_t idx;         /* index in zk_acls.by_idx while interned */
    zk_acl_entry *ents;   /* count entries, pointing into blob */
    uint8_t blob[];       /* jute vector<ACL> */
} zk_acl;

/* The interned lists of a state: a hash table by blob (snapshots list them in (hash, blob) order) and an
 * index, so that a node names its list with a 32-bit index (zk_node_acl_idx). Index 0 is never a list ("none"). */
typedef struct zk_acls {
    zk_htab map;          /* zk_acl items by hash of the blob */
    zk_acl **by_idx;      /* by_idx[a->idx] == a for every list in map; NULL for free indices and 0 */
    uint32_t *free_idx;   /* indices released by lists that left map (reused last-in first-out) */
    uint32_t n, cap, nfree, free_cap; /* by_idx has n used entries (0 included) of cap */
} zk_acls;

/* Builds an (unshared, refs 0) ACL list from jute vector<ACL> bytes; NULL if malformed. */
zk_acl *zk_acl_from_blob(pk_slice blob);
/* Initializes an empty list table. */
void zk_acls_init(zk_acls *t);
/* Frees the table's arrays (not the lists). */
void zk_acls_deinit(zk_acls *t);
/* Interns blob in table: returns the shared list with node_refs incremented; NULL if malformed. */
zk_acl *zk_acl_intern(zk_acls *table, pk_slice blob);
/* Drops one node reference; removes the list from table (and frees it if no events hold it) at zero.
 * table NULL (state teardown): only the counts and the memory are handled. */
void zk_acl_unref(zk_acls *table, zk_acl *a);
/* Drops an event reference (frees the list when no node or event holds it any more). */
void zk_acl_ext_unref(zk_acl *a);
/* True when auth may perform perm on a node with ACL a (ZooKeeper's checkACL). */
bool zk_acl_check(const zk_acl *a, const zk_auth *auth, int32_t perm);
/* True when the decoded blob (jute vector<ACL>) grants perm to auth; used for overlay ACLs too. */
bool zk_acl_check_blob(pk_slice blob, const zk_auth *auth, int32_t perm);
/* ACL fixup (§9.3): validates/expands the request ACL into out (a jute vector<ACL>); ZK_ERR_OK or INVALID_ACL. */
int32_t zk_acl_fixup(const struct wire_acl_vec *acl, const zk_auth *auth, pk_buf *out);
/* Appends one ACL entry (C strings) to a jute vector<ACL> under construction. */
void zk_acl_write_one(pk_buf *out, int32_t perms, const char *scheme, const char *id);
/* True when the ip-scheme ACL id (addr[/bits]) is valid. */
bool zk_acl_ip_valid(pk_slice id);
/* True when the connection address matches the ip ACL id (addr[/bits]). */
bool zk_acl_ip_match(pk_slice acl_id, pk_slice addr);

/* ---- paths ---- */
/* ZooKeeper's PathUtils.validatePath (§13.3) on raw UTF-8 bytes. */
bool zk_path_valid(pk_slice path);
/* Length of the parent path of a valid non-root path ("/a" -> 1 meaning "/"). */
size_t zk_path_parent_len(pk_slice path);
/* The name (last component) of a non-root path ("/a/b" -> "b", "/a" -> "a"). */
static inline pk_slice zk_path_name(pk_slice path) {
    size_t plen = zk_path_parent_len(path);
    size_t start = plen == 1 ? 1 : plen + 1;
    return (pk_slice){path.ptr + start, path.len - start};
}
/* Hash of a full path: seeds a node's digest terms and keys the prep overlay. */
static inline uint64_t zk_path_hash(pk_slice path) { return pk_hash64(path.ptr, path.len, 0x7a6b5f7061746821ull); }
/* Hash of a node name (one path component) as the child tables key it. */
static inline uint64_t zk_name_hash(pk_slice name) { return pk_hash64(name.ptr, name.len, 0x6e616d655f6b6579ull); }

/* ---- nodes ----
 * Compact layout (docs/ARCHITECTURE.md "Memory layout of a znode"): a fixed 21-byte header (the parent id,
 * czxid and ctime in 48 bits, the data length in 16 bits, the name length and the ACL index in 8 bits, all
 * read through accessors), then a tail of optional sections, each present only when its flag is set, in this
 * order:
 *   ZK_NODE_OWNER  owner i64                                        (absent: 0)
 *   ZK_NODE_WIDE   mzxid i64, pzxid i64, mtime i64                  (absent: narrow, see below)
 *   ZK_NODE_MOD    version i32, mzxid_d u32, mtime_d i32            (absent: version 0, no deltas)
 *   ZK_NODE_PAR    table pointer, cap u32, nkids u32, ccount i32, pzxid_d u32  (absent: no children, ccount 0)
 *                  (the children's table: a malloc'ed zk_ntab entry array of cap slots holding nkids
 *                  children keyed by zk_name_hash of their names; NULL when nkids is 0)
 *   ZK_NODE_AVER   aversion i32                                     (absent: 0)
 *   ZK_NODE_BIG    czxid i64, ctime i64, name_len u32, data_len i32 (absent: the header's 48/16/8-bit fields;
 *                  present when czxid or ctime is outside [0, 2^48), the name is longer than 255 bytes or
 *                  the data is 65535 bytes or longer; the header's fields are then zero)
 *   ZK_NODE_ACLX   acl index u32                                    (absent: the header's byte; present when
 *                  the index is 255 or more, the header's byte is then zero)
 * then the name (the last path component, no NUL terminator: zk_node_name_len bytes; empty for "/") and the
 * data bytes. Without ZK_NODE_WIDE, mzxid = czxid + mzxid_d,
 * pzxid = czxid + pzxid_d (unsigned 32-bit deltas, 0 when their section is absent) and
 * mtime = ctime + mtime_d (signed 32-bit). A pristine leaf (never set, no children ever, no owner, ACL
 * never set) is header + name + data. A node that gains PAR gains MOD with it, so that a parent's first
 * setData of the same length does not move it (a move costs O(children): each child's parent field). A
 * mutation that needs a section the node lacks (or a value that
 * does not fit a delta) moves the node to a larger block with the section added (sections are never
 * dropped while the node lives; a reload drops the ones whose values are defaults): zk_node_update and
 * the zk_tree_* functions return the new address and fix every reference the state holds to it (its node
 * id changes: parent's table slot, children's parent fields, session's ephemerals, reapable, root_id).
 * Blocks are 4-byte aligned (slab steps of 4): the header's packed fields and the tail fields are read and
 * written through the memcpy accessors below only. The node caches neither its path hash (the digest
 * recomputes zk_path_hash of the full path) nor its own id (a linked node's id is in its parent's table,
 * found with zk_node_id, or root_id). */
#define ZK_NODE_OWNER 0x01u
#define ZK_NODE_WIDE 0x02u
#define ZK_NODE_MOD 0x04u
#define ZK_NODE_PAR 0x08u
#define ZK_NODE_AVER 0x10u
#define ZK_NODE_BIG 0x20u
#define ZK_NODE_ACLX 0x40u
/* data_len_w of a node whose data is null. */
#define ZK_NODE_NULL_W 0xFFFFu
/* czxid and ctime fit the header when in [0, ZK_NODE_W48_END). */
#define ZK_NODE_W48_END (1ll << 48)
/* Names up to this many bytes fit the header's length byte (longer ones take ZK_NODE_BIG). */
#define ZK_NODE_NAME_W_MAX 255u
/* ACL indices below this fit the header's byte (others take ZK_NODE_ACLX). */
#define ZK_NODE_ACL_W_END 255u

typedef struct zk_node {
    uint32_t parent;          /* node id of the parent (0 for "/" and for a detached node) */
    uint16_t czxid_w[3];      /* czxid as 48 bits, low word first (unused with ZK_NODE_BIG): zk_node_czxid */
    uint16_t ctime_w[3];      /* ctime_ms likewise: zk_node_ctime */
    uint16_t data_len_w;      /* data length, ZK_NODE_NULL_W = null (unused with ZK_NODE_BIG): zk_node_data_len */
    uint8_t name_len_w;       /* name length (unused with ZK_NODE_BIG): zk_node_name_len */
    uint8_t acl_w;            /* index of the interned list (unused with ZK_NODE_ACLX): zk_node_acl_idx; the list's
                               * node_refs are held; 0 only while loading */
    uint8_t flags;            /* ZK_NODE_*: which optional tail sections are present */
    uint8_t tail[];           /* see above */
} zk_node;

/* Every stat/structure field of a node that may live in the tail, unpacked (the child table itself is
 * read and written with zk_node_kids_load / zk_node_kids_store). */
typedef struct zk_node_vals {
    int64_t owner;            /* raw: container INT64_MIN, TTL 0xFF<<56|ttl, session id, or 0 */
    int64_t mzxid, pzxid, mtime_ms;
    int32_t version, aversion;
    int32_t ccount;           /* child create counter (cversion reported as 2*ccount - nkids) */
    uint32_t nkids;           /* read-only here: the child table's count */
} zk_node_vals;

/* Bytes of a node's header (the tail starts here; sizeof would include padding). */
#define ZK_NODE_HDR offsetof(zk_node, tail)
#define ZK_NODE_OWNER_LEN 8u
#define ZK_NODE_WIDE_LEN 24u
#define ZK_NODE_MOD_LEN 12u
#define ZK_NODE_PAR_LEN (sizeof(void *) + 16u)
#define ZK_NODE_AVER_LEN 4u
#define ZK_NODE_BIG_LEN 24u
#define ZK_NODE_ACLX_LEN 4u
/* Offsets in the PAR section. */
#define ZK_PAR_CAP sizeof(void *)
#define ZK_PAR_NKIDS (sizeof(void *) + 4u)
#define ZK_PAR_CCOUNT (sizeof(void *) + 8u)
#define ZK_PAR_PZXID (sizeof(void *) + 12u)

/* Bytes of the optional tail sections present in flags. */
static inline size_t zk_node_opt_len(uint8_t flags) {
    return ((flags & ZK_NODE_OWNER) ? ZK_NODE_OWNER_LEN : 0u) + ((flags & ZK_NODE_WIDE) ? ZK_NODE_WIDE_LEN : 0u) +
           ((flags & ZK_NODE_MOD) ? ZK_NODE_MOD_LEN : 0u) + ((flags & ZK_NODE_PAR) ? ZK_NODE_PAR_LEN : 0u) +
           ((flags & ZK_NODE_AVER) ? ZK_NODE_AVER_LEN : 0u) + ((flags & ZK_NODE_BIG) ? ZK_NODE_BIG_LEN : 0u) +
           ((flags & ZK_NODE_ACLX) ? ZK_NODE_ACLX_LEN : 0u);
}
/* The tail section with flag f (which must be present) of a node. */
static inline uint8_t *zk_node_sec(const zk_node *n, uint8_t f) {
    return (uint8_t *)(uintptr_t)n->tail + zk_node_opt_len((uint8_t)(n->flags & (f - 1u)));
}
/* Reads a native int64 from an unaligned address. */
static inline int64_t zk_node_ld64(const uint8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}
/* Reads a native int32 from an unaligned address. */
static inline int32_t zk_node_ld32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
/* Reads a 48-bit header field. */
static inline int64_t zk_node_ld48(const uint16_t w[3]) {
    return (int64_t)((uint64_t)w[0] | (uint64_t)w[1] << 16 | (uint64_t)w[2] << 32);
}
/* Stores v (in [0, 2^48)) into a 48-bit header field. */
static inline void zk_node_st48(uint16_t w[3], int64_t v) {
    PK_ASSERT(v >= 0 && v < ZK_NODE_W48_END);
    w[0] = (uint16_t)v;
    w[1] = (uint16_t)((uint64_t)v >> 16);
    w[2] = (uint16_t)((uint64_t)v >> 32);
}
/* ZK_NODE_BIG when the header cannot hold these creation fields and lengths (data_len -1 = null), else 0. */
static inline uint8_t zk_node_need_big(int64_t czxid, int64_t ctime_ms, size_t name_len, int64_t data_len) {
    bool fits = czxid >= 0 && czxid < ZK_NODE_W48_END && ctime_ms >= 0 && ctime_ms < ZK_NODE_W48_END &&
                name_len <= ZK_NODE_NAME_W_MAX && data_len >= -1 && data_len < (int64_t)ZK_NODE_NULL_W;
    return fits ? 0u : (uint8_t)ZK_NODE_BIG;
}
/* The BIG section of a node that has one. */
static inline uint8_t *zk_node_big(const zk_node *n) { return zk_node_sec(n, ZK_NODE_BIG); }
/* Creation zxid. */
static inline int64_t zk_node_czxid(const zk_node *n) {
    return (n->flags & ZK_NODE_BIG) ? zk_node_ld64(zk_node_big(n)) : zk_node_ld48(n->czxid_w);
}
/* Creation time. */
static inline int64_t zk_node_ctime(const zk_node *n) {
    return (n->flags & ZK_NODE_BIG) ? zk_node_ld64(zk_node_big(n) + 8u) : zk_node_ld48(n->ctime_w);
}
/* Stores the creation zxid and time (only allocation, moves, snapshot load and zk_node_update change them);
 * a node without ZK_NODE_BIG must be able to hold them in the header. */
static inline void zk_node_set_created(zk_node *n, int64_t czxid, int64_t ctime_ms) {
    if (n->flags & ZK_NODE_BIG) {
        memcpy(zk_node_big(n), &czxid, 8);
        memcpy(zk_node_big(n) + 8u, &ctime_ms, 8);
    } else {
        zk_node_st48(n->czxid_w, czxid);
        zk_node_st48(n->ctime_w, ctime_ms);
    }
}
/* Bytes of the node's name. */
static inline size_t zk_node_name_len(const zk_node *n) {
    return (n->flags & ZK_NODE_BIG) ? (size_t)(uint32_t)zk_node_ld32(zk_node_big(n) + 16u) : n->name_len_w;
}
/* Length of the node's data, -1 when it is null. */
static inline int32_t zk_node_data_len(const zk_node *n) {
    if (n->flags & ZK_NODE_BIG) return zk_node_ld32(zk_node_big(n) + 20u);
    return n->data_len_w == ZK_NODE_NULL_W ? -1 : (int32_t)n->data_len_w;
}
/* Bytes of data stored (0 for null). */
static inline size_t zk_node_data_size(const zk_node *n) {
    int32_t d = zk_node_data_len(n);
    return d > 0 ? (size_t)d : 0u;
}
/* Stores the name and data lengths (data_len -1 = null); a node without ZK_NODE_BIG must be able to hold them. */
static inline void zk_node_set_lens(zk_node *n, size_t name_len, int32_t data_len) {
    PK_ASSERT(data_len >= -1 && name_len <= UINT32_MAX);
    if (n->flags & ZK_NODE_BIG) {
        uint32_t p = (uint32_t)name_len;
        memcpy(zk_node_big(n) + 16u, &p, 4);
        memcpy(zk_node_big(n) + 20u, &data_len, 4);
    } else {
        PK_ASSERT(name_len <= ZK_NODE_NAME_W_MAX && data_len < (int32_t)ZK_NODE_NULL_W);
        n->name_len_w = (uint8_t)name_len;
        n->data_len_w = data_len < 0 ? (uint16_t)ZK_NODE_NULL_W : (uint16_t)data_len;
    }
}
/* ZK_NODE_ACLX when the header's byte cannot hold ACL index idx, else 0. */
static inline uint8_t zk_node_need_aclx(uint32_t idx) { return idx < ZK_NODE_ACL_W_END ? 0u : (uint8_t)ZK_NODE_ACLX; }
/* Index of the node's interned ACL list (0 only while loading). */
static inline uint32_t zk_node_acl_idx(const zk_node *n) {
    return (n->flags & ZK_NODE_ACLX) ? (uint32_t)zk_node_ld32(zk_node_sec(n, ZK_NODE_ACLX)) : n->acl_w;
}
/* Stores the ACL index (references are the caller's); a node without ZK_NODE_ACLX must be able to hold it. */
static inline void zk_node_set_acl_idx(zk_node *n, uint32_t idx) {
    if (n->flags & ZK_NODE_ACLX) {
        memcpy(zk_node_sec(n, ZK_NODE_ACLX), &idx, 4);
    } else {
        PK_ASSERT(idx < ZK_NODE_ACL_W_END);
        n->acl_w = (uint8_t)idx;
    }
}
/* The node's name (the last component of its path; zk_node_name_len bytes, not NUL-terminated). */
static inline char *zk_node_name(const zk_node *n) { return (char *)(uintptr_t)(n->tail + zk_node_opt_len(n->flags)); }
/* The node's name as a slice. */
static inline pk_slice zk_node_name_slice(const zk_node *n) {
    return (pk_slice){(const uint8_t *)zk_node_name(n), zk_node_name_len(n)};
}
/* The node's data bytes (stored right after the name). */
static inline uint8_t *zk_node_data(const zk_node *n) { return (uint8_t *)(uintptr_t)(zk_node_name(n) + zk_node_name_len(n)); }
/* The raw owner (0 when absent). */
static inline int64_t zk_node_owner(const zk_node *n) { return (n->flags & ZK_NODE_OWNER) ? zk_node_ld64(n->tail) : 0; }
/* Data version. */
static inline int32_t zk_node_version(const zk_node *n) {
    return (n->flags & ZK_NODE_MOD) ? zk_node_ld32(zk_node_sec(n, ZK_NODE_MOD)) : 0;
}
/* ACL version. */
static inline int32_t zk_node_aversion(const zk_node *n) {
    return (n->flags & ZK_NODE_AVER) ? zk_node_ld32(zk_node_sec(n, ZK_NODE_AVER)) : 0;
}
/* Number of children. */
static inline uint32_t zk_node_nkids(const zk_node *n) {
    return (n->flags & ZK_NODE_PAR) ? (uint32_t)zk_node_ld32(zk_node_sec(n, ZK_NODE_PAR) + ZK_PAR_NKIDS) : 0u;
}
/* Copies the node's child table into t (an empty table when the node has no PAR section); a change made
 * through t is kept only after zk_node_kids_store (entries changed in place, e.g. zk_ntab_replace, are
 * shared). */
static inline void zk_node_kids_load(const zk_node *n, zk_ntab *t) {
    t->ents = NULL;
    t->cap = 0;
    t->count = 0;
    if (!(n->flags & ZK_NODE_PAR)) return;
    const uint8_t *q = zk_node_sec(n, ZK_NODE_PAR);
    memcpy(&t->ents, q, sizeof t->ents);
    t->cap = (uint32_t)zk_node_ld32(q + ZK_PAR_CAP);
    t->count = (uint32_t)zk_node_ld32(q + ZK_PAR_NKIDS);
}
/* Stores t as the child table of a node that has the PAR section. */
static inline void zk_node_kids_store(zk_node *n, const zk_ntab *t) {
    PK_ASSERT((n->flags & ZK_NODE_PAR) && t->cap <= UINT32_MAX && t->count < t->cap + (t->cap == 0));
    uint8_t *q = zk_node_sec(n, ZK_NODE_PAR);
    uint32_t cap = (uint32_t)t->cap, cnt = (uint32_t)t->count;
    memcpy(q, &t->ents, sizeof t->ents);
    memcpy(q + ZK_PAR_CAP, &cap, 4);
    memcpy(q + ZK_PAR_NKIDS, &cnt, 4);
}
/* Child create counter. */
static inline int32_t zk_node_ccount(const zk_node *n) {
    return (n->flags & ZK_NODE_PAR) ? zk_node_ld32(zk_node_sec(n, ZK_NODE_PAR) + ZK_PAR_CCOUNT) : 0;
}
/* Last modification zxid. */
static inline int64_t zk_node_mzxid(const zk_node *n) {
    if (n->flags & ZK_NODE_WIDE) return zk_node_ld64(zk_node_sec(n, ZK_NODE_WIDE));
    uint32_t d = (n->flags & ZK_NODE_MOD) ? (uint32_t)zk_node_ld32(zk_node_sec(n, ZK_NODE_MOD) + 4u) : 0u;
    return (int64_t)((uint64_t)zk_node_czxid(n) + d);
}
/* Zxid of the last child create/delete. */
static inline int64_t zk_node_pzxid(const zk_node *n) {
    if (n->flags & ZK_NODE_WIDE) return zk_node_ld64(zk_node_sec(n, ZK_NODE_WIDE) + 8u);
    uint32_t d = (n->flags & ZK_NODE_PAR) ? (uint32_t)zk_node_ld32(zk_node_sec(n, ZK_NODE_PAR) + ZK_PAR_PZXID) : 0u;
    return (int64_t)((uint64_t)zk_node_czxid(n) + d);
}
/* Last modification time. */
static inline int64_t zk_node_mtime(const zk_node *n) {
    if (n->flags & ZK_NODE_WIDE) return zk_node_ld64(zk_node_sec(n, ZK_NODE_WIDE) + 16u);
    int32_t d = (n->flags & ZK_NODE_MOD) ? zk_node_ld32(zk_node_sec(n, ZK_NODE_MOD) + 8u) : 0;
    return (int64_t)((uint64_t)zk_node_ctime(n) + (uint64_t)(int64_t)d);
}
/* Unpacks every tail field of a node (not the child table). */
static inline void zk_node_get(const zk_node *n, zk_node_vals *v) {
    v->owner = zk_node_owner(n);
    v->mzxid = zk_node_mzxid(n);
    v->pzxid = zk_node_pzxid(n);
    v->mtime_ms = zk_node_mtime(n);
    v->version = zk_node_version(n);
    v->aversion = zk_node_aversion(n);
    v->ccount = zk_node_ccount(n);
    v->nkids = zk_node_nkids(n);
}

#define ZK_OWNER_CONTAINER INT64_MIN
#define ZK_OWNER_TTL_MASK 0xFF00000000000000ull
#define ZK_TTL_MAX ((int64_t)0xFFFFFFFFFFll)

/* True when owner marks a container. */
static inline bool zk_owner_is_container(int64_t o) { return o == ZK_OWNER_CONTAINER; }
/* True when owner marks a TTL node. */
static inline bool zk_owner_is_ttl(int64_t o) { return o != ZK_OWNER_CONTAINER && ((uint64_t)o & ZK_OWNER_TTL_MASK) == ZK_OWNER_TTL_MASK; }
/* True when owner is a session id (a real ephemeral). */
static inline bool zk_owner_is_session(int64_t o) { return o != 0 && !zk_owner_is_container(o) && !zk_owner_is_ttl(o); }
/* The ephemeralOwner clients see: 0 for containers and TTL nodes. */
static inline int64_t zk_owner_visible(int64_t o) { return zk_owner_is_session(o) ? o : 0; }
/* Next version with ZooKeeper's wrap rule: MAX -> MIN, -1 skipped. */
static inline int32_t zk_version_next(int32_t v) {
    int32_t n = (int32_t)((uint32_t)v + 1u);
    return n == -1 ? 0 : n;
}
/* Reported cversion: 2*ccount - numChildren with 32-bit wrap. */
static inline int32_t zk_cversion(int32_t ccount, uint32_t nkids) { return (int32_t)(2u * (uint32_t)ccount - nkids); }

typedef struct zk_session {
    uint64_t id;
    int32_t timeout_ms;
    uint8_t passwd[16];
    uint32_t *eph;            /* node ids of the session's ephemerals */
    uint32_t neph, ecap;
} zk_session;

struct zk_state_s {
    zk_slab slab;       /* every node's memory */
    zk_ntab reapable;   /* the container and TTL nodes, by zk_id_hash of their ids: what the reaper scans */
    zk_acls acls;
    zk_htab sessions;
    uint32_t root_id;   /* node id of "/" */
    uint64_t node_count;      /* nodes in the tree, "/" included */
    uint64_t last_zxid;
    uint64_t digest;
    uint64_t ephemeral_count;
    uint64_t data_size;       /* approximate_data_size: sum of full path + data lengths */
};

/* The node with id (nonzero, live). */
static inline zk_node *zk_node_at(const zk_state *s, uint32_t id) { return (zk_node *)(void *)zk_slab_at(&s->slab, id); }
/* The root node "/". */
static inline zk_node *zk_tree_root(const zk_state *s) { return zk_node_at(s, s->root_id); }
/* The interned ACL list of a node (NULL only for a node being loaded). */
static inline zk_acl *zk_node_acl(const zk_state *s, const zk_node *n) { return s->acls.by_idx[zk_node_acl_idx(n)]; }

/* Where a path lookup ended: the node and its parent, with their ids (NULL / 0 for what does not exist). */
typedef struct zk_loc {
    zk_node *n, *parent;
    uint32_t id, pid;
} zk_loc;

/* Walks path from the root one component at a time: fills loc with the node and its parent (for "/" the
 * parent is NULL; for an absent node whose parent exists only the parent is set). Returns loc->n. */
zk_node *zk_tree_locate(const zk_state *s, pk_slice path, zk_loc *loc);
/* Finds a node by path (NULL if absent). */
zk_node *zk_tree_find(const zk_state *s, pk_slice path);
/* Finds the parent of a non-root path. */
zk_node *zk_tree_parent(const zk_state *s, pk_slice path);
/* The child of parent named name, or NULL; *id (if not NULL) receives its id. */
zk_node *zk_tree_child(const zk_state *s, const zk_node *parent, pk_slice name, uint32_t *id);
/* The node id of a linked node (a probe of its parent's table, or root_id). */
uint32_t zk_node_id(const zk_state *s, const zk_node *n);
/* Bytes of a linked node's full path. */
size_t zk_node_fullpath_len(const zk_state *s, const zk_node *n);
/* Appends a linked node's full path (no NUL) to out, rebuilt from the names up to the root; returns its length. */
size_t zk_node_path_append(const zk_state *s, const zk_node *n, pk_buf *out);
/* Calls fn(ctx, node, id, full path) for every node, parents before children (depth first, "/" first). */
void zk_tree_walk(const zk_state *s, void (*fn)(void *ctx, const zk_node *n, uint32_t id, pk_slice path), void *ctx);
/* Creates a node at path under loc->parent (loc->pid), the existing parent of path (no checks beyond
 * asserts); acl's node_ref is taken over. The parent may move (its pzxid changes): loc->parent and loc->pid
 * are updated; loc->n and loc->id receive the new node. */
zk_node *zk_tree_create(zk_state *s, zk_loc *loc, pk_slice path, pk_slice data, zk_acl *acl, int64_t owner,
                        uint64_t zxid, int64_t time_ms);
/* Deletes the childless node loc->n at path (loc->id, loc->parent, loc->pid set), updating the parent's pzxid
 * (the parent may move: loc->parent/pid are updated) and the session's ephemerals; loc->n becomes NULL. */
void zk_tree_delete(zk_state *s, zk_loc *loc, pk_slice path, uint64_t zxid);
/* Fills loc for a linked node n with id (0: look it up). */
void zk_tree_loc_of(const zk_state *s, zk_node *n, uint32_t id, zk_loc *loc);
/* Replaces the data of node n (h = zk_path_hash of its path), bumping version, mzxid and mtime; the node may
 * move: returns its new address. */
zk_node *zk_tree_set_data(zk_state *s, zk_node *n, uint64_t h, pk_slice data, uint64_t zxid, int64_t time_ms);
/* Replaces a node's ACL (takes over acl's node_ref), bumping aversion; h is zk_path_hash of its path. The
 * node may move: returns its new address. */
zk_node *zk_tree_set_acl(zk_state *s, zk_node *n, uint64_t h, zk_acl *acl);
/* Fills a wire stat with what clients see. */
void zk_node_stat(const zk_node *n, struct wire_stat *st);
/* Session lookup. */
zk_session *zk_session_find(const zk_state *s, uint64_t id);
/* Adds a session (must not exist). */
zk_session *zk_session_add(zk_state *s, uint64_t id, int32_t timeout_ms, const uint8_t passwd[16]);
/* Removes a session that holds no ephemerals. */
void zk_session_remove(zk_state *s, zk_session *se);
/* Digest contribution of a linked node (its path is rebuilt). */
uint64_t zk_node_digest(const zk_state *s, const zk_node *n);
/* Digest contribution of a node whose full path hash (zk_path_hash) is h. */
uint64_t zk_node_digest_h(const zk_state *s, const zk_node *n, uint64_t h);
/* Digest contribution of a session. */
uint64_t zk_session_digest(const zk_session *se);
/* The parent a snapshot load linked last, with its full path (a slice of the snapshot): siblings arrive
 * together, so the next node's parent is usually this one. */
typedef struct zk_load_hint {
    zk_node *parent;
    uint32_t pid;
    pk_slice path;
    size_t expect;   /* set by the reader: siblings of the next node (it included) when its parent differs from
                      * path; the parent's table is sized for them at once (inserting hash-ordered names into
                      * a growing table would build one long cluster) */
} zk_load_hint;
/* Links a snapshot-loaded node n (node id, full path) under its parent (no stat/digest changes); false if
 * it does not fit (duplicate, orphan, child of an ephemeral, unknown owner). */
bool zk_tree_load_node(zk_state *s, zk_node *n, uint32_t id, pk_slice path, zk_load_hint *hint);
/* Replaces a node's data bytes only (no stat/digest change; the node may move): returns its new address. */
zk_node *zk_tree_replace_data(zk_state *s, zk_node *n, pk_slice data);
/* Stores every tail field v (and czxid, ctime) of a linked node, adding the sections it needs (the node
 * moves then); no digest or table change beyond the move: returns its new address. v->nkids must be the
 * node's child count; an owner change keeps the reapable set in step but never the session lists (only
 * snapshot load of "/" and tests change it). */
zk_node *zk_node_update(zk_state *s, zk_node *n, int64_t czxid, int64_t ctime_ms, const zk_node_vals *v);
/* Allocates a detached node for loading with name, ACL acl (its index only: the caller takes the node ref),
 * czxid, ctime and the tail fields v (v->nkids 0); *id receives its node id. */
zk_node *zk_tree_alloc_node(zk_state *s, pk_slice name, pk_slice data, zk_acl *acl, int64_t czxid, int64_t ctime_ms,
                            const zk_node_vals *v, uint32_t *id);
/* Frees a detached node (node id), dropping its ACL ref. */
void zk_tree_free_node(zk_state *s, zk_node *n, uint32_t id);
/* Stores ACL index idx in a linked node (the list's references are the caller's), moving the node when the
 * index needs the ZK_NODE_ACLX section; returns its address. */
zk_node *zk_tree_put_acl(zk_state *s, zk_node *n, uint32_t idx);
/* Creates an empty state with only "/" (no /zookeeper nodes; used by deserialize). */
zk_state *zk_state_new_empty(void);

/* ---- prep overlay view (shared by prep and apply's multi validation) ---- */
typedef struct zk_view {
    bool exists;
    int32_t version, aversion, ccount;
    int64_t nkids;
    int64_t owner;
    pk_slice acl;          /* jute vector<ACL> bytes (owned by the state or the overlay entry) */
    const zk_acl *aclp;    /* the interned list when the view comes from the state, else NULL */
} zk_view;

/* Reads the pending view of path: the overlay entry if any, else the state. */
void zk_prep_view(zk_prep *p, const zk_state *s, pk_slice path, zk_view *v);
/* Records the pending view of path (copies acl) for a txn with zxid. */
void zk_prep_put(zk_prep *p, pk_slice path, const zk_view *v, uint64_t zxid);
/* Structural checks and overlay update of one write sub-op as apply re-checks it (no ACL checks). */
int32_t zk_prep_validate_op(zk_prep *p, const zk_state *s, const zk_txn_op *op, uint64_t zxid);

/* ---- events ---- */
/* Appends an event (takes an ext ref on acl). */
void zk_events_push(zk_events *e, int32_t type, pk_slice path, zk_acl *acl);

#endif
