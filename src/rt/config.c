/* rt/config: zoo.cfg parsing and validation. */
#include "rt/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "rt/log.h"

#define CONFIG_MAX_LINES 100000
#define CONFIG_MAX_BYTES (16u << 20)

/* Replaces an owned string field with a copy of value. */
static void set_str(char **field, const char *value) {
    free(*field);
    *field = pk_strndup(value, strlen(value));
}

/* Fills cfg with ZooKeeper 3.8's defaults. */
void rt_config_defaults(rt_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    set_str(&cfg->source, "(defaults)");
    cfg->tick_time_ms = 2000;
    cfg->init_limit = 10;
    cfg->sync_limit = 5;
    cfg->client_port = 2181;
    set_str(&cfg->client_port_address, "0.0.0.0");
    cfg->max_client_cnxns = 60;
    cfg->min_session_timeout_ms = -1;
    cfg->max_session_timeout_ms = -1;
    set_str(&cfg->fourlw_whitelist, "srvr");
    cfg->autopurge_snap_retain_count = 3;
    cfg->jute_max_buffer = 0xfffff;
    cfg->snap_count = 100000;
    cfg->container_check_interval_ms = 60000;
    cfg->container_max_per_minute = 10000;
    cfg->server_id = 1;
}

/* The --dev configuration: one node on loopback, data in ./pk-data, every 4lw enabled. */
void rt_config_dev(rt_config *cfg) {
    rt_config_defaults(cfg);
    set_str(&cfg->source, "--dev");
    set_str(&cfg->data_dir, "pk-data");
    set_str(&cfg->client_port_address, "127.0.0.1");
    set_str(&cfg->fourlw_whitelist, "*");
}

/* Writes a formatted message into err. */
static int fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Parses a decimal unsigned integer in [lo, hi]; false on junk or range errors. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!*s || !isdigit((unsigned char)*s)) return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* Parses a signed decimal integer in [lo, hi]. */
static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* Parses ZooKeeper's boolean spellings (true/false, yes/no). */
static bool parse_bool(const char *s, bool *out) {
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) { *out = true; return true; }
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) { *out = false; return true; }
    return false;
}

/* Splits "host:port" (host may be [v6]); false when malformed. */
static bool split_host_port(const char *s, char *host, size_t host_len, uint16_t *port) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return false;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') { s++; hl -= 2; }
    if (hl == 0 || hl >= host_len) return false;
    uint64_t p;
    if (!parse_u64(colon + 1, 1, 65535, &p)) return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return true;
}

/* Parses a server.N value: host:peerPort:electionPort[:participant|observer][;[clientHost:]clientPort]. */
static bool parse_server_line(const char *value, rt_server_addr *srv) {
    char buf[600];
    if (strlen(value) >= sizeof buf) return false;
    strcpy(buf, value);
    char *client = strchr(buf, ';');
    if (client) *client++ = '\0';
    char *parts[5] = {0};
    int n = 0;
    for (char *tok = strtok(buf, ":"); tok && n < 5; tok = strtok(NULL, ":")) parts[n++] = tok;
    if (n < 3 || n > 4 || strlen(parts[0]) >= sizeof srv->host) return false;
    uint64_t p1, p2;
    if (!parse_u64(parts[1], 1, 65535, &p1) || !parse_u64(parts[2], 1, 65535, &p2)) return false;
    strcpy(srv->host, parts[0]);
    srv->peer_port = (uint16_t)p1;
    srv->election_port = (uint16_t)p2;
    if (n == 4) {
        if (!strcmp(parts[3], "observer")) srv->observer = true;
        else if (strcmp(parts[3], "participant")) return false;
    }
    if (client) {
        uint64_t cp;
        if (strchr(client, ':')) {
            if (!split_host_port(client, srv->client_host, sizeof srv->client_host, &srv->client_port)) return false;
        } else if (parse_u64(client, 1, 65535, &cp)) {
            strcpy(srv->client_host, "0.0.0.0");
            srv->client_port = (uint16_t)cp;
        } else {
            return false;
        }
    }
    return true;
}

/* ZooKeeper keys we accept without acting on them (logged once as ignored, not warned). */
static const char *const ignored_keys[] = {
    "standaloneEnabled", "dynamicConfigFile", "electionAlg", "peerType", "syncEnabled",
    "cnxTimeout", "globalOutstandingLimit", "preAllocSize", "leaderServes", "quorumListenOnAllIPs",
    "secureClientPort", "secureClientPortAddress", "clientPortListenBacklog", "localSessionsEnabled",
    "localSessionsUpgradingEnabled", "skipACL", "forceSync", "fsync.warningthresholdms", "syncLimit",
    "connectToLearnerMasterLimit", "maxResponseCacheSize", "serverCnxnFactory", "snapshot.trust.empty",
    "audit.enable", "initLimit", "readonlymode.enabled", NULL};

/* Prefixes of ZooKeeper key families we accept and ignore. */
static const char *const ignored_prefixes[] = {"admin.", "metricsProvider.", "ssl.", "authProvider.", "quorum.",
                                               "zookeeper.", "group.", "weight.", NULL};

/* True when key is a known ZooKeeper key we deliberately do not act on. */
static bool key_is_ignored(const char *key) {
    for (size_t i = 0; ignored_keys[i]; i++)
        if (!strcmp(key, ignored_keys[i])) return true;
    for (size_t i = 0; ignored_prefixes[i]; i++)
        if (!strncmp(key, ignored_prefixes[i], strlen(ignored_prefixes[i]))) return true;
    return false;
}

/* Applies one key=value; returns 0, or -1 with a message in err. */
static int apply_key(rt_config *cfg, const char *key, const char *value, const char *where, char *err,
                     size_t err_len) {
    uint64_t u;
    int64_t i;
    bool b;
#define NEED(cond, what) \
    if (!(cond)) return fail(err, err_len, "%s: %s: expected %s, got '%s'", where, key, what, value)
    if (!strcmp(key, "tickTime")) { NEED(parse_u64(value, 1, 3600000, &u), "a tick in ms (1..3600000)"); cfg->tick_time_ms = (uint32_t)u; }
    else if (!strcmp(key, "initLimit")) { NEED(parse_u64(value, 1, 100000, &u), "a positive integer"); cfg->init_limit = (uint32_t)u; }
    else if (!strcmp(key, "syncLimit")) { NEED(parse_u64(value, 1, 100000, &u), "a positive integer"); cfg->sync_limit = (uint32_t)u; }
    else if (!strcmp(key, "dataDir")) { NEED(*value, "a directory"); set_str(&cfg->data_dir, value); }
    else if (!strcmp(key, "dataLogDir")) { NEED(*value, "a directory"); set_str(&cfg->data_log_dir, value); }
    else if (!strcmp(key, "clientPort")) { NEED(parse_u64(value, 1, 65535, &u), "a port (1..65535)"); cfg->client_port = (uint16_t)u; }
    else if (!strcmp(key, "clientPortAddress")) { NEED(*value, "an address"); set_str(&cfg->client_port_address, value); }
    else if (!strcmp(key, "maxClientCnxns")) { NEED(parse_u64(value, 0, 1000000, &u), "a count (0 = unlimited)"); cfg->max_client_cnxns = (uint32_t)u; }
    else if (!strcmp(key, "minSessionTimeout")) { NEED(parse_i64(value, -1, INT32_MAX, &i), "a timeout in ms or -1"); cfg->min_session_timeout_ms = (int32_t)i; }
    else if (!strcmp(key, "maxSessionTimeout")) { NEED(parse_i64(value, -1, INT32_MAX, &i), "a timeout in ms or -1"); cfg->max_session_timeout_ms = (int32_t)i; }
    else if (!strcmp(key, "4lw.commands.whitelist")) { set_str(&cfg->fourlw_whitelist, value); }
    else if (!strcmp(key, "autopurge.snapRetainCount")) { NEED(parse_u64(value, 1, 1000000, &u), "a count >= 1"); cfg->autopurge_snap_retain_count = (uint32_t)u < 3 ? 3 : (uint32_t)u; }
    else if (!strcmp(key, "autopurge.purgeInterval")) { NEED(parse_u64(value, 0, 1000000, &u), "hours (0 = off)"); cfg->autopurge_purge_interval_hours = (uint32_t)u; }
    else if (!strcmp(key, "DigestAuthenticationProvider.superDigest") ||
             !strcmp(key, "zookeeper.DigestAuthenticationProvider.superDigest")) {
        NEED(strchr(value, ':') != NULL, "user:base64digest");
        set_str(&cfg->super_digest, value);
    }
    else if (!strcmp(key, "extendedTypesEnabled") || !strcmp(key, "zookeeper.extendedTypesEnabled")) { NEED(parse_bool(value, &b), "true or false"); cfg->extended_types_enabled = b; }
    else if (!strcmp(key, "reconfigEnabled")) { NEED(parse_bool(value, &b), "true or false"); cfg->reconfig_enabled = b; }
    else if (!strcmp(key, "jute.maxbuffer")) {
        NEED(parse_u64(value, 1024, 1u << 30, &u), "a size in bytes (1024..1 GiB)");
        if (u > RT_MAX_JUTE_BUFFER) {
            LOG_WARN("%s: jute.maxbuffer=%llu is above the largest request paxoskeeper accepts (%u bytes: a write must "
                     "fit one replicated log entry); using %u", where, (unsigned long long)u, RT_MAX_JUTE_BUFFER,
                     RT_MAX_JUTE_BUFFER);
            u = RT_MAX_JUTE_BUFFER;
        }
        cfg->jute_max_buffer = (uint32_t)u;
    }
    else if (!strcmp(key, "snapCount")) { NEED(parse_u64(value, 2, 100000000, &u), "a count >= 2"); cfg->snap_count = (uint32_t)u; }
    else if (!strcmp(key, "znode.container.checkIntervalMs")) { NEED(parse_u64(value, 1, 86400000, &u), "ms"); cfg->container_check_interval_ms = (uint32_t)u; }
    else if (!strcmp(key, "znode.container.maxPerMinute")) { NEED(parse_u64(value, 1, 100000000, &u), "a count"); cfg->container_max_per_minute = (uint32_t)u; }
    else if (!strcmp(key, "jaasLoginConfig") || !strcmp(key, "java.security.auth.login.config")) { set_str(&cfg->jaas_config, value); }
    else if (!strncmp(key, "server.", 7)) {
        NEED(parse_u64(key + 7, 1, 254, &u), "server.N with N in 1..254 and");
        if (cfg->server_count >= RT_MAX_SERVERS) return fail(err, err_len, "%s: %s: more than %d servers", where, key, RT_MAX_SERVERS);
        rt_server_addr *srv = &cfg->servers[cfg->server_count];
        memset(srv, 0, sizeof *srv);
        srv->id = (uint32_t)u;
        NEED(parse_server_line(value, srv), "host:peerPort:electionPort[:participant|observer][;[host:]clientPort]");
        for (uint32_t k = 0; k < cfg->server_count; k++)
            if (cfg->servers[k].id == srv->id) return fail(err, err_len, "%s: %s: duplicate server id", where, key);
        cfg->server_count++;
    }
    else if (key_is_ignored(key)) { LOG_INFO("%s: %s is accepted but has no effect in paxoskeeper", where, key); }
    else { LOG_WARN("%s: unknown key '%s' ignored", where, key); }
#undef NEED
    return 0;
}

/* Trims leading and trailing whitespace in place and returns the start. */
static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Parses zoo.cfg text: key=value lines, '#' comments, blank lines. */
int rt_config_parse(rt_config *cfg, const char *text, const char *source, char *err, size_t err_len) {
    PK_ASSERT(cfg && text && source);
    char *copy = pk_strndup(text, strlen(text));
    char *save = NULL;
    int rc = 0;
    unsigned lineno = 0;
    for (char *line = strtok_r(copy, "\n", &save); line && lineno < CONFIG_MAX_LINES;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == '!') continue;
        char *eq = strchr(s, '=');
        char where[512];
        snprintf(where, sizeof where, "%s:%u", source, lineno);
        if (!eq) { rc = fail(err, err_len, "%s: expected key=value, got '%s'", where, s); break; }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (!*key) { rc = fail(err, err_len, "%s: empty key", where); break; }
        if ((rc = apply_key(cfg, key, value, where, err, err_len)) != 0) break;
    }
    free(copy);
    return rc;
}

/* Reads a whole (bounded) file into a NUL-terminated heap string. */
static char *read_file(const char *path, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (!f) { fail(err, err_len, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    pk_buf b;
    pk_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        pk_buf_append(&b, chunk, n);
        if (b.len > CONFIG_MAX_BYTES) break;
    }
    bool bad = ferror(f) || b.len > CONFIG_MAX_BYTES;
    fclose(f);
    if (bad) { pk_buf_deinit(&b); fail(err, err_len, "%s: unreadable or larger than 16 MiB", path); return NULL; }
    pk_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* Loads and parses a zoo.cfg file. */
int rt_config_load(rt_config *cfg, const char *path, char *err, size_t err_len) {
    char *text = read_file(path, err, err_len);
    if (!text) return -1;
    set_str(&cfg->source, path);
    int rc = rt_config_parse(cfg, text, path, err, err_len);
    free(text);
    return rc;
}

/* Reads dataDir/myid (ZooKeeper's convention) into *id. */
static int read_myid(const char *data_dir, uint32_t *id, char *err, size_t err_len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/myid", data_dir);
    char *text = read_file(path, err, err_len);
    if (!text) return -1;
    uint64_t v;
    bool ok = parse_u64(trim(text), 1, 254, &v);
    free(text);
    if (!ok) return fail(err, err_len, "%s: expected a server id in 1..254", path);
    *id = (uint32_t)v;
    return 0;
}

/* Resolves defaults that depend on other keys and checks cross-key rules. */
int rt_config_finish(rt_config *cfg, char *err, size_t err_len) {
    if (!cfg->data_dir) return fail(err, err_len, "%s: dataDir is not set", cfg->source);
    if (!cfg->data_log_dir) set_str(&cfg->data_log_dir, cfg->data_dir);
    if (cfg->min_session_timeout_ms < 0) cfg->min_session_timeout_ms = (int32_t)(2 * cfg->tick_time_ms);
    if (cfg->max_session_timeout_ms < 0) cfg->max_session_timeout_ms = (int32_t)(20 * cfg->tick_time_ms);
    if (cfg->min_session_timeout_ms > cfg->max_session_timeout_ms)
        return fail(err, err_len, "%s: minSessionTimeout (%d) is larger than maxSessionTimeout (%d)", cfg->source,
                    cfg->min_session_timeout_ms, cfg->max_session_timeout_ms);
    if (cfg->server_count > 1) {
        if (read_myid(cfg->data_dir, &cfg->server_id, err, err_len) != 0) return -1;
        bool found = false;
        for (uint32_t k = 0; k < cfg->server_count; k++) found |= cfg->servers[k].id == cfg->server_id;
        if (!found) return fail(err, err_len, "%s: myid %u has no server.%u line", cfg->source, cfg->server_id, cfg->server_id);
    } else if (cfg->server_count == 1) {
        cfg->server_id = cfg->servers[0].id;
    }
    return 0;
}

/* Checks a 4lw command name against the comma/space-separated whitelist ("*" = all). */
bool rt_config_4lw_allowed(const rt_config *cfg, const char *cmd) {
    const char *w = cfg->fourlw_whitelist ? cfg->fourlw_whitelist : "srvr";
    for (size_t guard = 0; *w && guard < 4096; guard++) {
        while (*w == ',' || isspace((unsigned char)*w)) w++;
        size_t n = 0;
        while (w[n] && w[n] != ',' && !isspace((unsigned char)w[n])) n++;
        if (n == 1 && w[0] == '*') return true;
        if (n == 4 && !strncmp(w, cmd, 4)) return true;
        w += n;
    }
    return false;
}

/* Frees owned strings. */
void rt_config_deinit(rt_config *cfg) {
    free(cfg->source);
    free(cfg->data_dir);
    free(cfg->data_log_dir);
    free(cfg->client_port_address);
    free(cfg->fourlw_whitelist);
    free(cfg->super_digest);
    free(cfg->jaas_config);
    memset(cfg, 0, sizeof *cfg);
}
