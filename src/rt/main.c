/* pk-server: the paxoskeeper server. `pk-server zoo.cfg` or `pk-server --dev`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/log.h"
#include "rt/rt.h"

/* Prints usage to stderr. */
static void usage(void) {
    fprintf(stderr,
            "usage: pk-server [--verbose] [--jaas FILE] <zoo.cfg>\n"
            "       pk-server [--verbose] --dev     one node on 127.0.0.1:2181, data in ./pk-data\n"
            "Reads ZooKeeper's zoo.cfg format. --jaas names a JAAS file whose Server section lists SASL\n"
            "DIGEST-MD5 users (user_NAME=\"password\"); the zoo.cfg key jaasLoginConfig does the same.\n");
}

/* Applies -Dkey=value flags from SERVER_JVMFLAGS (what zkServer.sh users set): the JAAS file, zookeeper.*,
 * znode.container.* and jute.maxbuffer, which ZooKeeper reads as system properties. Returns 0, or -1 with a message in err. */
static int apply_jvmflags(rt_config *cfg, char *err, size_t err_len) {
    const char *flags = getenv("SERVER_JVMFLAGS");
    if (!flags || !*flags) return 0;
    char *copy = strdup(flags), *save = NULL;
    pk_buf props;
    pk_buf_init(&props);
    for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (strncmp(tok, "-D", 2) || !strchr(tok, '=')) continue;
        const char *kv = tok + 2;
        if (!strncmp(kv, "java.security.auth.login.config=", 32)) {
            free(cfg->jaas_config);
            cfg->jaas_config = strdup(kv + 32);
        } else if (!strncmp(kv, "zookeeper.", 10) || !strncmp(kv, "znode.container.", 16) ||
                   !strncmp(kv, "jute.maxbuffer=", 15)) {
            pk_buf_append(&props, kv, strlen(kv));
            pk_buf_append(&props, "\n", 1);
        }
    }
    pk_buf_append(&props, "", 1);
    int rc = rt_config_parse(cfg, (const char *)props.data, "SERVER_JVMFLAGS", err, err_len);
    pk_buf_deinit(&props);
    free(copy);
    return rc;
}

/* Parses arguments, loads the configuration and runs the server. */
int main(int argc, char **argv) {
    const char *cfg_path = NULL, *jaas = NULL;
    bool dev = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dev")) dev = true;
        else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) rt_log_set_level(RT_LOG_DEBUG);
        else if (!strcmp(argv[i], "--jaas") && i + 1 < argc) jaas = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(); return 0; }
        else if (argv[i][0] == '-' || cfg_path) { usage(); return 2; }
        else cfg_path = argv[i];
    }
    if (dev == (cfg_path != NULL)) { usage(); return 2; }
    rt_config cfg;
    char err[1024];
    if (dev) {
        rt_config_dev(&cfg);
    } else {
        rt_config_defaults(&cfg);
        if (rt_config_load(&cfg, cfg_path, err, sizeof err) != 0) {
            LOG_ERROR("%s", err);
            rt_config_deinit(&cfg);
            return 2;
        }
    }
    if (apply_jvmflags(&cfg, err, sizeof err) != 0) {
        LOG_ERROR("%s", err);
        rt_config_deinit(&cfg);
        return 2;
    }
    if (jaas) {
        free(cfg.jaas_config);
        cfg.jaas_config = strdup(jaas);
    }
    if (rt_config_finish(&cfg, err, sizeof err) != 0) {
        LOG_ERROR("%s", err);
        rt_config_deinit(&cfg);
        return 2;
    }
    if (cfg.server_count > 1) {
        LOG_ERROR("%s lists %u servers: the replicated ensemble is not wired into pk-server yet; "
                  "run with a single server (no server.N lines or exactly one)", cfg.source, cfg.server_count);
        rt_config_deinit(&cfg);
        return 2;
    }
    LOG_INFO("paxoskeeper starting: config %s, dataDir %s, dataLogDir %s, client %s:%u, tickTime %u ms",
             cfg.source, cfg.data_dir, cfg.data_log_dir, cfg.client_port_address, cfg.client_port, cfg.tick_time_ms);
    int rc = rt_server_run(&cfg);
    rt_config_deinit(&cfg);
    return rc;
}
