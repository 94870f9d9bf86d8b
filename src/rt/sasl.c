/* rt/sasl: SASL (op 102) with Cyrus libsasl2: DIGEST-MD5, users from the JAAS file's `Server` section
 * (user_NAME="password", as ZooKeeper's DigestLoginModule reads them).
 *
 * The users are written at startup into a private sasldb file (<dataDir>/sasl/sasldb2, recreated each
 * start, mode 0600) that the stock sasldb auxprop plugin reads; the mechanism itself is Cyrus's.
 * Service "zookeeper", server name and realm "zk-sasl-md5": what the Java client and kazoo (pure-sasl) use.
 * After a successful exchange the connection gets auth id sasl:<user>. Without a JAAS file, ZooKeeper's
 * unconfigured behaviour: OK with a null token.
 */
#include <errno.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/log.h"
#include "rt/rt.h"

#define PK_SASL_SERVICE "zookeeper"
#define PK_SASL_REALM "zk-sasl-md5"
#define SASL_MAX_USERS 1024

static char sasldb_path[4096];

/* Cyrus option callback: point the sasldb plugin at our file and offer only DIGEST-MD5. */
static int sasl_getopt_cb(void *ctx, const char *plugin, const char *option, const char **result, unsigned *len) {
    (void)ctx;
    (void)plugin;
    if (!strcmp(option, "sasldb_path")) *result = sasldb_path;
    else if (!strcmp(option, "auxprop_plugin")) *result = "sasldb";
    else if (!strcmp(option, "mech_list")) *result = "DIGEST-MD5";
    else if (!strcmp(option, "log_level")) *result = "1";
    else return SASL_FAIL;
    if (len) *len = (unsigned)strlen(*result);
    return SASL_OK;
}

/* Cyrus log callback: forward to our log. */
static int sasl_log_cb(void *ctx, int level, const char *message) {
    (void)ctx;
    if (level <= SASL_LOG_ERR) LOG_WARN("sasl: %s", message);
    else LOG_DEBUG("sasl: %s", message);
    return SASL_OK;
}

static sasl_callback_t sasl_callbacks[] = {
    {SASL_CB_GETOPT, (int (*)(void))(void (*)(void))sasl_getopt_cb, NULL},
    {SASL_CB_LOG, (int (*)(void))(void (*)(void))sasl_log_cb, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* Reads a whole file into a NUL-terminated heap string (bounded to 1 MiB). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = pk_malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Finds the body of the JAAS section `name { ... };`; returns its start and sets *end. */
static char *jaas_section(char *text, const char *name, char **end) {
    size_t nl = strlen(name);
    for (char *p = text; (p = strstr(p, name)) != NULL; p += nl) {
        bool word_start = p == text || !(p[-1] == '_' || (p[-1] >= 'A' && p[-1] <= 'z'));
        char *q = p + nl;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        if (!word_start || *q != '{') continue;
        char *close = strstr(q, "};");
        if (!close) return NULL;
        *end = close;
        return q + 1;
    }
    return NULL;
}

/* Stores one user's password in the sasldb through a throwaway server connection. */
static int add_user(const char *user, const char *password) {
    sasl_conn_t *conn = NULL;
    int rc = sasl_server_new(PK_SASL_SERVICE, PK_SASL_REALM, PK_SASL_REALM, NULL, NULL, NULL, 0, &conn);
    if (rc == SASL_OK) rc = sasl_setpass(conn, user, password, (unsigned)strlen(password), NULL, 0, SASL_SET_CREATE);
    if (rc != SASL_OK) LOG_ERROR("sasl: cannot store user '%s': %s", user, conn ? sasl_errdetail(conn) : sasl_errstring(rc, NULL, NULL));
    if (conn) sasl_dispose(&conn);
    return rc == SASL_OK ? 0 : -1;
}

/* Parses the JAAS Server section, builds the sasldb and initializes Cyrus. */
int rt_sasl_init(rt_server *srv) {
    const char *path = srv->cfg.jaas_config;
    char *text = slurp(path);
    if (!text) {
        LOG_ERROR("jaasLoginConfig %s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char *end = NULL, *body = jaas_section(text, "Server", &end);
    if (!body) {
        LOG_ERROR("jaasLoginConfig %s: no `Server { ... };` section", path);
        free(text);
        return -1;
    }
    *end = '\0';
    char dir[3072];
    snprintf(dir, sizeof dir, "%s/sasl", srv->cfg.data_dir);
    mkdir(srv->cfg.data_dir, 0755);
    mkdir(dir, 0700);
    snprintf(sasldb_path, sizeof sasldb_path, "%s/sasldb2", dir);
    unlink(sasldb_path);
    int rc = sasl_server_init(sasl_callbacks, "pk-server");
    if (rc != SASL_OK) {
        LOG_ERROR("sasl_server_init failed: %s", sasl_errstring(rc, NULL, NULL));
        free(text);
        return -1;
    }
    int users = 0, failed = 0;
    for (char *p = body; (p = strstr(p, "user_")) != NULL && users < SASL_MAX_USERS;) {
        char *eq = strchr(p, '=');
        if (!eq) break;
        char name[256], pw[1024];
        size_t nl = (size_t)(eq - (p + 5));
        while (nl && (p[5 + nl - 1] == ' ' || p[5 + nl - 1] == '\t')) nl--;
        char *q = eq + 1;
        while (*q == ' ' || *q == '\t') q++;
        char *close = *q == '"' ? strchr(q + 1, '"') : NULL;
        if (!close || nl == 0 || nl >= sizeof name || (size_t)(close - q - 1) >= sizeof pw) {
            LOG_ERROR("jaasLoginConfig %s: malformed entry near '%.40s'", path, p);
            free(text);
            return -1;
        }
        memcpy(name, p + 5, nl);
        name[nl] = '\0';
        memcpy(pw, q + 1, (size_t)(close - q - 1));
        pw[close - q - 1] = '\0';
        failed |= add_user(name, pw);
        users++;
        p = close + 1;
    }
    chmod(sasldb_path, 0600);
    free(text);
    if (failed) return -1;
    srv->sasl_ready = (void *)1;
    LOG_INFO("SASL DIGEST-MD5 enabled with %d users from %s", users, path);
    return 0;
}

/* Runs one step of the SASL exchange for a connection; appends SetSASLResponse{token}. */
int32_t rt_sasl_step(rt_conn *c, pk_slice body, pk_buf *reply) {
    if (!c->srv->sasl_ready) {
        jute_write_null(reply);
        return ZK_ERR_OK;
    }
    jute_reader r;
    jute_reader_init_slice(&r, body, (int32_t)c->srv->cfg.jute_max_buffer);
    struct wire_get_sasl_request req;
    if (wire_get_sasl_request_decode(&r, &req) != 0) return ZK_ERR_AUTH_FAILED;
    const char *out = NULL;
    unsigned out_len = 0;
    int rc;
    if (!c->sasl) {
        sasl_conn_t *conn = NULL;
        /* SUCCESS_DATA: the final rspauth rides on the OK (ZooKeeper clients send no third message). */
        rc = sasl_server_new(PK_SASL_SERVICE, PK_SASL_REALM, PK_SASL_REALM, NULL, NULL, NULL, SASL_SUCCESS_DATA, &conn);
        if (rc != SASL_OK) return ZK_ERR_AUTH_FAILED;
        c->sasl = conn;
        rc = sasl_server_start(conn, "DIGEST-MD5", req.token.len ? (const char *)req.token.ptr : NULL,
                               (unsigned)req.token.len, &out, &out_len);
    } else {
        rc = sasl_server_step(c->sasl, (const char *)req.token.ptr, (unsigned)req.token.len, &out, &out_len);
    }
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        LOG_INFO("SASL authentication failed for %s:%u: %s", c->peer_ip, c->peer_port, sasl_errdetail(c->sasl));
        return ZK_ERR_AUTH_FAILED;
    }
    jute_write_buffer(reply, (pk_slice){(const uint8_t *)(out ? out : ""), out_len});
    LOG_DEBUG("sasl step for %s:%u: %s, %u bytes out", c->peer_ip, c->peer_port, rc == SASL_OK ? "ok" : "continue", out_len);
    if (rc == SASL_OK) {
        const void *user = NULL;
        int prc = sasl_getprop(c->sasl, SASL_USERNAME, &user);
        if (prc != SASL_OK || !user) LOG_WARN("sasl: no user name after a successful exchange (%d)", prc);
        if (prc == SASL_OK && user) {
            /* ZooKeeper's id is the authorization id without our realm: "bob", not "bob@zk-sasl-md5". */
            pk_slice id = pk_slice_str(user);
            const char *at = strrchr(user, '@');
            if (at && !strcmp(at + 1, PK_SASL_REALM)) id.len = (size_t)(at - (const char *)user);
            rt_conn_add_auth(c, "sasl", id);
            LOG_INFO("session " RT_SID_FMT " authenticated by SASL as '%s'", RT_SID(c->session_id), (const char *)user);
        }
    }
    return ZK_ERR_OK;
}

/* Frees a connection's SASL state. */
void rt_sasl_conn_free(rt_conn *c) {
    if (c->sasl) {
        sasl_conn_t *conn = c->sasl;
        sasl_dispose(&conn);
        c->sasl = NULL;
    }
}
