/* rt/auth: auth packets (digest, ip; super via superDigest) and SASL (Cyrus libsasl2, DIGEST-MD5 with users from
 * a ZooKeeper-style JAAS `Server` section). */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "rt/log.h"
#include "rt/rt.h"

/* Computes "user:base64(sha1(user:password))" the way ZooKeeper's DigestAuthenticationProvider does. */
void rt_auth_digest_id(pk_slice userpass, char *out, size_t out_len) {
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1(userpass.ptr ? userpass.ptr : (const uint8_t *)"", userpass.len, sha);
    unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, sha, SHA_DIGEST_LENGTH);
    PK_ASSERT(n > 0 && (size_t)n < sizeof b64);
    const uint8_t *colon = userpass.ptr ? memchr(userpass.ptr, ':', userpass.len) : NULL;
    size_t user_len = colon ? (size_t)(colon - userpass.ptr) : userpass.len;
    snprintf(out, out_len, "%.*s:%s", (int)user_len, userpass.ptr ? (const char *)userpass.ptr : "", b64);
}

/* Handles AuthPacket{type, scheme, auth}: digest never fails; ip adds the peer address; others fail. */
int32_t rt_auth_packet(rt_conn *c, pk_slice body) {
    jute_reader r;
    jute_reader_init_slice(&r, body, (int32_t)c->srv->cfg.jute_max_buffer);
    struct wire_auth_packet pkt;
    if (wire_auth_packet_decode(&r, &pkt) != 0) return ZK_ERR_AUTH_FAILED;
    if (pk_slice_eq(pkt.scheme, pk_slice_str("digest"))) {
        char id[1024];
        rt_auth_digest_id(pkt.auth, id, sizeof id);
        if (!rt_conn_add_auth(c, "digest", pk_slice_str(id))) return ZK_ERR_AUTH_FAILED;
        const char *super = c->srv->cfg.super_digest;
        if (super && strcmp(super, id) == 0) {
            rt_conn_add_auth(c, "super", pk_slice_str(""));
            LOG_INFO("session " RT_SID_FMT " authenticated as super", RT_SID(c->session_id));
        }
        return ZK_ERR_OK;
    }
    if (pk_slice_eq(pkt.scheme, pk_slice_str("ip"))) {
        rt_conn_add_auth(c, "ip", pk_slice_str(c->peer_ip));
        return ZK_ERR_OK;
    }
    LOG_INFO("auth with unknown scheme '%.*s' from %s:%u: AuthFailed", (int)PK_MIN(pkt.scheme.len, 64),
             pkt.scheme.ptr ? (const char *)pkt.scheme.ptr : "", c->peer_ip, c->peer_port);
    return ZK_ERR_AUTH_FAILED;
}
