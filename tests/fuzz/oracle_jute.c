/* Differential test of src/wire against an independent oracle: the official ZooKeeper C client's generated jute
 * serializers (libzookeeper-mt, zookeeper.jute.h). For every record both know, random values are written
 * with both encoders and the bytes must be identical; our decoder must then read the oracle's bytes back to
 * the same values (checked by re-encoding). Deterministic (seeded); exits non-zero on the first mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <zookeeper/zookeeper.jute.h>

#include "wire/records.h"

#define ORACLE_ROUNDS 300
#define ORACLE_STRS 256

/* Random-value source plus storage for strings and vector elements of one instance. */
struct octx {
    pk_prng prng;
    char text[ORACLE_STRS][24];
    int ntext;
    pk_slice slices[ORACLE_STRS];
    char *cstrs[ORACLE_STRS];
    int nslices;
    struct wire_acl acls[32];
    struct ACL cacls[32];
    int nacls;
    struct wire_client_info cis[32];
    struct ClientInfo ccis[32];
    int ncis;
};

static const char oracle_alphabet[] = "/abcdefghijklmnopqrstuvwxyz0123456789:._-";

/* Returns a fresh random NUL-free string of 0..20 characters from the arena. */
static char *octx_text(struct octx *c) {
    PK_ASSERT(c->ntext < ORACLE_STRS);
    char *t = c->text[c->ntext++];
    size_t len = (size_t)pk_prng_below(&c->prng, 21);
    for (size_t i = 0; i < len; i++) t[i] = oracle_alphabet[pk_prng_below(&c->prng, sizeof oracle_alphabet - 1)];
    t[len] = '\0';
    PK_ASSERT(strlen(t) == len);
    return t;
}

/* Fills an int field in both structs. */
static void of_INT(struct octx *c, int32_t *m, int32_t *z) { *m = *z = (int32_t)pk_prng_next(&c->prng); }
/* Fills a long field in both structs. */
static void of_LONG(struct octx *c, int64_t *m, int64_t *z) { *m = *z = (int64_t)pk_prng_next(&c->prng); }
/* Fills a boolean field (the C client stores booleans as int32_t). */
static void of_BOOL(struct octx *c, bool *m, int32_t *z) {
    *m = pk_prng_below(&c->prng, 2) == 1;
    *z = *m;
}
/* Fills a ustring field: null 1 time in 8. */
static void of_USTRING(struct octx *c, pk_slice *m, char **z) {
    if (pk_prng_below(&c->prng, 8) == 0) {
        *m = jute_null();
        *z = NULL;
        return;
    }
    *z = octx_text(c);
    *m = pk_slice_str(*z);
}
/* Fills a buffer field: null (len -1) 1 time in 8. */
static void of_BUFFER(struct octx *c, pk_slice *m, struct buffer *z) {
    if (pk_prng_below(&c->prng, 8) == 0) {
        *m = jute_null();
        z->len = -1;
        z->buff = NULL;
        return;
    }
    char *t = octx_text(c);
    *m = pk_slice_str(t);
    z->len = (int32_t)m->len;
    z->buff = t;
}
/* Fills an Id. */
static void of_ID(struct octx *c, struct wire_id *m, struct Id *z) {
    of_USTRING(c, &m->scheme, &z->scheme);
    of_USTRING(c, &m->id, &z->id);
}
#define OF_FIELD(kind, mine, theirs) of_##kind(c, &m->mine, &z->theirs);
#define ORACLE_STAT_FIELDS(F)                                                                      \
    F(LONG, czxid, czxid) F(LONG, mzxid, mzxid) F(LONG, ctime_ms, ctime) F(LONG, mtime_ms, mtime)  \
    F(INT, version, version) F(INT, cversion, cversion) F(INT, aversion, aversion)                 \
    F(LONG, ephemeral_owner, ephemeralOwner) F(INT, data_length, dataLength)                       \
    F(INT, num_children, numChildren) F(LONG, pzxid, pzxid)
/* Fills a Stat. */
static void of_STAT(struct octx *c, struct wire_stat *m, struct Stat *z) { ORACLE_STAT_FIELDS(OF_FIELD) }
/* Returns a random vector count, -1 (null) .. 3. */
static int32_t octx_count(struct octx *c) { return (int32_t)pk_prng_below(&c->prng, 5) - 1; }
/* Fills a vector<ustring> (elements never null: the C client cannot write null elements). */
static void of_STRVEC(struct octx *c, struct wire_str_vec *m, struct String_vector *z) {
    m->count = z->count = octx_count(c);
    m->raw = jute_null();
    m->items = c->slices + c->nslices;
    z->data = c->cstrs + c->nslices;
    for (int32_t i = 0; i < m->count; i++) {
        PK_ASSERT(c->nslices < ORACLE_STRS);
        c->cstrs[c->nslices] = octx_text(c);
        c->slices[c->nslices] = pk_slice_str(c->cstrs[c->nslices]);
        c->nslices++;
    }
}
/* Fills a vector<ACL>. */
static void of_ACLVEC(struct octx *c, struct wire_acl_vec *m, struct ACL_vector *z) {
    m->count = z->count = octx_count(c);
    m->raw = jute_null();
    m->items = c->acls + c->nacls;
    z->data = c->cacls + c->nacls;
    for (int32_t i = 0; i < m->count; i++, c->nacls++) {
        PK_ASSERT(c->nacls < 32);
        of_INT(c, &c->acls[c->nacls].perms, &c->cacls[c->nacls].perms);
        of_ID(c, &c->acls[c->nacls].id, &c->cacls[c->nacls].id);
    }
}
/* Fills a vector<ClientInfo>. */
static void of_CINFOVEC(struct octx *c, struct wire_client_info_vec *m, struct ClientInfo_vector *z) {
    m->count = z->count = octx_count(c);
    m->raw = jute_null();
    m->items = c->cis + c->ncis;
    z->data = c->ccis + c->ncis;
    for (int32_t i = 0; i < m->count; i++, c->ncis++) {
        PK_ASSERT(c->ncis < 32);
        of_USTRING(c, &c->cis[c->ncis].auth_scheme, &c->ccis[c->ncis].authScheme);
        of_USTRING(c, &c->cis[c->ncis].user, &c->ccis[c->ncis].user);
    }
}

/* Compares our encoding with the oracle's, then decodes the oracle's bytes and re-encodes them. */
static int oracle_compare(const char *name, uint64_t seed, const pk_buf *mine, struct oarchive *oa) {
    const uint8_t *theirs = (const uint8_t *)get_buffer(oa);
    size_t n = (size_t)get_buffer_len(oa);
    PK_ASSERT(theirs != NULL || n == 0);
    if (n != mine->len || memcmp(theirs, mine->data, n) != 0) {
        fprintf(stderr, "oracle_jute: %s seed %llu: %zu bytes from the C client, %zu from wire\n", name,
                (unsigned long long)seed, n, mine->len);
        return 1;
    }
    return 0;
}

/* Field tables: F(kind, our field, C client field), in our (wire) order. */
#define O_ID(F) F(USTRING, scheme, scheme) F(USTRING, id, id)
#define O_ACL(F) F(INT, perms, perms) F(ID, id, id)
#define O_CINFO(F) F(USTRING, auth_scheme, authScheme) F(USTRING, user, user)
#define O_REQH(F) F(INT, xid, xid) F(INT, type, type)
#define O_REPH(F) F(INT, xid, xid) F(LONG, zxid, zxid) F(INT, err, err)
#define O_MULTIH(F) F(INT, type, type) F(BOOL, done, done) F(INT, err, err)
#define O_AUTH(F) F(INT, type, type) F(USTRING, scheme, scheme) F(BUFFER, auth, auth)
#define O_EVENT(F) F(INT, type, type) F(INT, state, state) F(USTRING, path, path)
#define O_ERR(F) F(INT, err, err)
#define O_SW(F) F(LONG, relative_zxid, relativeZxid) F(STRVEC, data_watches, dataWatches) \
    F(STRVEC, exist_watches, existWatches) F(STRVEC, child_watches, childWatches)
#define O_SW2(F) O_SW(F) F(STRVEC, persistent_watches, persistentWatches) \
    F(STRVEC, persistent_recursive_watches, persistentRecursiveWatches)
#define O_CREATE(F) F(USTRING, path, path) F(BUFFER, data, data) F(ACLVEC, acl, acl) F(INT, flags, flags)
#define O_CREATE_TTL(F) O_CREATE(F) F(LONG, ttl_ms, ttl)
#define O_PATH(F) F(USTRING, path, path)
#define O_PATH_WATCH(F) F(USTRING, path, path) F(BOOL, watch, watch)
#define O_PATH_VERSION(F) F(USTRING, path, path) F(INT, version, version)
#define O_PATH_TYPE(F) F(USTRING, path, path) F(INT, type, type)
#define O_STAT_ONLY(F) F(STAT, stat, stat)
#define O_CREATE2_RESP(F) F(USTRING, path, path) F(STAT, stat, stat)
#define O_GETDATA_RESP(F) F(BUFFER, data, data) F(STAT, stat, stat)
#define O_SETDATA(F) F(USTRING, path, path) F(BUFFER, data, data) F(INT, version, version)
#define O_GETACL_RESP(F) F(ACLVEC, acl, acl) F(STAT, stat, stat)
#define O_SETACL(F) F(USTRING, path, path) F(ACLVEC, acl, acl) F(INT, version, version)
#define O_CHILDREN(F) F(STRVEC, children, children)
#define O_CHILDREN2(F) F(STRVEC, children, children) F(STAT, stat, stat)
#define O_TOTAL(F) F(INT, total_number, totalNumber)
#define O_RECONFIG(F) F(USTRING, joining_servers, joiningServers) F(USTRING, leaving_servers, leavingServers) \
    F(USTRING, new_members, newMembers) F(LONG, cur_config_id, curConfigId)
#define O_ADDWATCH(F) F(USTRING, path, path) F(INT, mode, mode)
#define O_EPH_REQ(F) F(USTRING, prefix_path, prefixPath)
#define O_EPH_RESP(F) F(STRVEC, ephemerals, ephemerals)
#define O_WHOAMI(F) F(CINFOVEC, client_info, clientInfo)
#define O_TOKEN(F) F(BUFFER, token, token)
#define O_CONNREQ(F) F(INT, protocol_version, protocolVersion) F(LONG, last_zxid_seen, lastZxidSeen) \
    F(INT, timeout_ms, timeOut) F(LONG, session_id, sessionId) F(BUFFER, passwd, passwd)
#define O_CONNRESP(F) F(INT, protocol_version, protocolVersion) F(INT, timeout_ms, timeOut) \
    F(LONG, session_id, sessionId) F(BUFFER, passwd, passwd)

/* R(our record, C struct, field table). */
#define ORACLE_RECORDS(R)                                                                          \
    R(id, Id, O_ID) R(acl, ACL, O_ACL) R(stat, Stat, ORACLE_STAT_FIELDS) R(client_info, ClientInfo, O_CINFO) \
    R(request_header, RequestHeader, O_REQH) R(reply_header, ReplyHeader, O_REPH)                  \
    R(multi_header, MultiHeader, O_MULTIH) R(auth_packet, AuthPacket, O_AUTH)                      \
    R(watcher_event, WatcherEvent, O_EVENT) R(error_response, ErrorResponse, O_ERR)                \
    R(set_watches, SetWatches, O_SW) R(set_watches2, SetWatches2, O_SW2)                           \
    R(create_request, CreateRequest, O_CREATE) R(create_ttl_request, CreateTTLRequest, O_CREATE_TTL) \
    R(create_response, CreateResponse, O_PATH) R(create2_response, Create2Response, O_CREATE2_RESP) \
    R(delete_request, DeleteRequest, O_PATH_VERSION) R(exists_request, ExistsRequest, O_PATH_WATCH) \
    R(exists_response, ExistsResponse, O_STAT_ONLY) R(get_data_request, GetDataRequest, O_PATH_WATCH) \
    R(get_data_response, GetDataResponse, O_GETDATA_RESP) R(set_data_request, SetDataRequest, O_SETDATA) \
    R(set_data_response, SetDataResponse, O_STAT_ONLY) R(get_acl_request, GetACLRequest, O_PATH)   \
    R(get_acl_response, GetACLResponse, O_GETACL_RESP) R(set_acl_request, SetACLRequest, O_SETACL) \
    R(set_acl_response, SetACLResponse, O_STAT_ONLY)                                               \
    R(get_children_request, GetChildrenRequest, O_PATH_WATCH)                                      \
    R(get_children_response, GetChildrenResponse, O_CHILDREN)                                      \
    R(get_children2_request, GetChildren2Request, O_PATH_WATCH)                                    \
    R(get_children2_response, GetChildren2Response, O_CHILDREN2)                                   \
    R(get_all_children_number_request, GetAllChildrenNumberRequest, O_PATH)                        \
    R(get_all_children_number_response, GetAllChildrenNumberResponse, O_TOTAL)                     \
    R(check_version_request, CheckVersionRequest, O_PATH_VERSION) R(sync_request, SyncRequest, O_PATH) \
    R(sync_response, SyncResponse, O_PATH) R(reconfig_request, ReconfigRequest, O_RECONFIG)        \
    R(check_watches_request, CheckWatchesRequest, O_PATH_TYPE)                                     \
    R(remove_watches_request, RemoveWatchesRequest, O_PATH_TYPE)                                   \
    R(add_watch_request, AddWatchRequest, O_ADDWATCH)                                              \
    R(get_ephemerals_request, GetEphemeralsRequest, O_EPH_REQ)                                     \
    R(get_ephemerals_response, GetEphemeralsResponse, O_EPH_RESP)                                  \
    R(whoami_response, WhoAmIResponse, O_WHOAMI) R(get_sasl_request, GetSASLRequest, O_TOKEN)      \
    R(set_sasl_response, SetSASLResponse, O_TOKEN)                                                 \
    R(connect_request, ConnectRequest, O_CONNREQ) R(connect_response, ConnectResponse, O_CONNRESP)

/* One function per record: ORACLE_ROUNDS random values, encoded by both sides and compared; then our decoder
 * reads the oracle's bytes and must re-encode them identically. Returns the number of mismatches. */
#define ORACLE_RECORD(name, CName, FIELDS)                                                         \
    static int oracle_##name(void) {                                                               \
        int bad = 0;                                                                               \
        for (uint64_t seed = 1; seed <= ORACLE_ROUNDS; seed++) {                                   \
            struct octx *c = calloc(1, sizeof *c);                                                 \
            PK_ASSERT(c != NULL);                                                                  \
            pk_prng_seed(&c->prng, seed);                                                          \
            struct wire_##name mine, *m = &mine;                                                   \
            struct CName theirs, *z = &theirs;                                                     \
            memset(m, 0, sizeof *m);                                                               \
            memset(z, 0, sizeof *z);                                                               \
            FIELDS(OF_FIELD)                                                                       \
            pk_buf b, b2;                                                                          \
            pk_buf_init(&b);                                                                       \
            pk_buf_init(&b2);                                                                      \
            wire_##name##_encode(&b, m);                                                           \
            struct oarchive *oa = create_buffer_oarchive();                                        \
            PK_ASSERT(serialize_##CName(oa, "v", z) == 0);                                         \
            bad += oracle_compare(#name, seed, &b, oa);                                            \
            jute_reader r;                                                                         \
            jute_reader_init(&r, get_buffer(oa), (size_t)get_buffer_len(oa), 1 << 20);            \
            struct wire_##name d;                                                                  \
            if (wire_##name##_decode(&r, &d) != 0 || !jute_reader_done(&r)) bad++;                 \
            else wire_##name##_encode(&b2, &d);                                                    \
            if (b2.len != b.len || (b.len > 0 && memcmp(b.data, b2.data, b.len) != 0)) bad++;      \
            close_buffer_oarchive(&oa, 1);                                                         \
            pk_buf_deinit(&b);                                                                     \
            pk_buf_deinit(&b2);                                                                    \
            free(c);                                                                               \
            if (bad) break;                                                                        \
        }                                                                                          \
        return bad;                                                                                \
    }
ORACLE_RECORDS(ORACLE_RECORD)

/* Runs every record comparison and reports. */
int main(void) {
    int failed = 0, records = 0;
#define ORACLE_RUN(name, CName, FIELDS)                                                            \
    records++;                                                                                     \
    if (oracle_##name() != 0) {                                                                    \
        fprintf(stderr, "oracle_jute: MISMATCH in %s (C struct %s)\n", #name, #CName);             \
        failed++;                                                                                  \
    }
    ORACLE_RECORDS(ORACLE_RUN)
    printf("oracle_jute: %d records x %d random values compared with the C client's serializers: %d failed\n",
           records, ORACLE_ROUNDS, failed);
    return failed ? 1 : 0;
}
