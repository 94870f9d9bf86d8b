/* rt/config: the server configuration, read from ZooKeeper's own zoo.cfg format.
 *
 * Every key ZooKeeper documents that we honour is parsed and validated; bad values fail with a message
 * naming the file, line and key. ZooKeeper keys we accept but do not act on are logged once as ignored;
 * unknown keys warn (ZooKeeper turns them into zookeeper.-prefixed system properties, so e.g.
 * DigestAuthenticationProvider.superDigest works in both servers).
 * Ownership: strings in rt_config are owned by it (rt_config_deinit frees them).
 */
#ifndef PK_RT_CONFIG_H
#define PK_RT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_MAX_SERVERS 9

typedef struct rt_server_addr {
    uint32_t id;
    char host[256];
    uint16_t peer_port;
    uint16_t election_port;
    bool observer;
    char client_host[256];
    uint16_t client_port;   /* 0 when the line has no ";clientPort" part */
} rt_server_addr;

/* Largest jute.maxbuffer (one request frame): with the "auth" ACL expansion (ZK_ACL_MAX_EXPANDED_BYTES) a
 * single write's txn stays below ZK_TXN_MAX_BYTES, and a batch flushed at 4 MiB plus one txn stays below one px
 * value (PX_MAX_VALUE_BYTES). ZooKeeper accepts up to 1 GiB here. */
#define RT_MAX_JUTE_BUFFER (8u << 20)

typedef struct rt_config {
    char *source;                  /* file the config came from, or "--dev" */
    uint32_t tick_time_ms;
    uint32_t init_limit;
    uint32_t sync_limit;
    char *data_dir;
    char *data_log_dir;            /* defaults to data_dir */
    uint16_t client_port;
    char *client_port_address;     /* default 0.0.0.0 (ZooKeeper binds all addresses) */
    uint32_t max_client_cnxns;     /* per client IP; 0 = unlimited */
    int32_t min_session_timeout_ms;/* resolved: default 2 * tick */
    int32_t max_session_timeout_ms;/* resolved: default 20 * tick */
    char *fourlw_whitelist;        /* comma-separated command names, "*" for all; default "srvr" */
    uint32_t autopurge_snap_retain_count;
    uint32_t autopurge_purge_interval_hours;
    char *super_digest;            /* "super:base64sha1" or NULL */
    bool extended_types_enabled;   /* TTL nodes */
    bool reconfig_enabled;         /* reconfigEnabled: standalone answers Unimplemented, else ReconfigDisabled */
    uint32_t jute_max_buffer;               /* at most RT_MAX_JUTE_BUFFER (larger values are clamped, with a warning) */
    uint32_t snap_count;           /* txns between snapshots */
    uint32_t container_check_interval_ms;
    uint32_t container_max_per_minute;
    char *jaas_config;             /* path of a JAAS file with a Server section (SASL DIGEST-MD5), or NULL */
    uint32_t server_id;            /* from dataDir/myid when server.N lines exist, else 1 */
    rt_server_addr servers[RT_MAX_SERVERS];
    uint32_t server_count;
} rt_config;

/* Fills cfg with ZooKeeper's defaults (tickTime 2000, clientPort 2181, ...). */
void rt_config_defaults(rt_config *cfg);
/* The --dev configuration: a single node on 127.0.0.1:2181 with data in ./pk-data. */
void rt_config_dev(rt_config *cfg);
/* Parses a zoo.cfg file over the defaults; returns 0, or -1 with a message in err naming file:line and key. */
int rt_config_load(rt_config *cfg, const char *path, char *err, size_t err_len);
/* Parses zoo.cfg text (used by rt_config_load and the tests); `source` names it in messages. */
int rt_config_parse(rt_config *cfg, const char *text, const char *source, char *err, size_t err_len);
/* Resolves derived values (session timeout bounds, dataLogDir, server id); returns 0 or -1 with a message. */
int rt_config_finish(rt_config *cfg, char *err, size_t err_len);
/* True when 4lw command `cmd` (4 letters) is allowed by the whitelist. */
bool rt_config_4lw_allowed(const rt_config *cfg, const char *cmd);
/* Frees the strings the config owns. */
void rt_config_deinit(rt_config *cfg);

#endif
