/* Unit tests for rt/config: zoo.cfg parsing, defaults, validation messages, the 4lw whitelist. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rt/config.h"

/* Parses text over the defaults and finishes; returns the rc of the first failing step. */
static int parse(rt_config *cfg, const char *text, char *err, size_t len) {
    rt_config_defaults(cfg);
    int rc = rt_config_parse(cfg, text, "zoo.cfg", err, len);
    if (rc == 0) rc = rt_config_finish(cfg, err, len);
    return rc;
}

Test(rt_config, defaults_match_zookeeper) {
    rt_config cfg;
    char err[256] = "";
    cr_assert_eq(parse(&cfg, "dataDir=/tmp/x\n", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.tick_time_ms, 2000);
    cr_assert_eq(cfg.client_port, 2181);
    cr_assert_eq(cfg.max_client_cnxns, 60);
    cr_assert_eq(cfg.min_session_timeout_ms, 4000);
    cr_assert_eq(cfg.max_session_timeout_ms, 40000);
    cr_assert_str_eq(cfg.data_log_dir, "/tmp/x");
    cr_assert_eq(cfg.jute_max_buffer, 0xfffff);
    cr_assert(rt_config_4lw_allowed(&cfg, "srvr"));
    cr_assert_not(rt_config_4lw_allowed(&cfg, "ruok"));
    rt_config_deinit(&cfg);
}

Test(rt_config, jute_maxbuffer_is_clamped) {
    /* a write must fit one replicated log entry: larger values are clamped (with a warning), not refused */
    rt_config cfg;
    char err[256] = "";
    cr_assert_eq(parse(&cfg, "dataDir=/tmp/x\njute.maxbuffer=33554432\n", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.jute_max_buffer, RT_MAX_JUTE_BUFFER);
    rt_config_deinit(&cfg);
    cr_assert_eq(parse(&cfg, "dataDir=/tmp/x\njute.maxbuffer=4194304\n", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.jute_max_buffer, 4194304u);
    rt_config_deinit(&cfg);
}

Test(rt_config, full_file) {
    rt_config cfg;
    char err[256] = "";
    const char *text =
        "# comment\n"
        "tickTime=500\n"
        "initLimit=5\n"
        "syncLimit=2\n"
        "dataDir=/var/lib/zk\n"
        "dataLogDir=/var/log/zk\n"
        "clientPort=2182\n"
        "clientPortAddress=127.0.0.1\n"
        "maxClientCnxns=0\n"
        "minSessionTimeout=1000\n"
        "maxSessionTimeout=90000\n"
        "4lw.commands.whitelist=ruok, stat,mntr\n"
        "autopurge.snapRetainCount=5\n"
        "autopurge.purgeInterval=1\n"
        "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
        "extendedTypesEnabled=true\n"
        "  admin.enableServer = false  \n"
        "server.1=127.0.0.1:2888:3888;2182\n";
    cr_assert_eq(parse(&cfg, text, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.tick_time_ms, 500);
    cr_assert_str_eq(cfg.data_log_dir, "/var/log/zk");
    cr_assert_eq(cfg.client_port, 2182);
    cr_assert_eq(cfg.max_client_cnxns, 0);
    cr_assert_eq(cfg.min_session_timeout_ms, 1000);
    cr_assert_eq(cfg.max_session_timeout_ms, 90000);
    cr_assert(rt_config_4lw_allowed(&cfg, "stat"));
    cr_assert(rt_config_4lw_allowed(&cfg, "mntr"));
    cr_assert_not(rt_config_4lw_allowed(&cfg, "srvr"));
    cr_assert_eq(cfg.autopurge_snap_retain_count, 5);
    cr_assert_str_eq(cfg.super_digest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    cr_assert(cfg.extended_types_enabled);
    cr_assert_eq(cfg.server_count, 1);
    cr_assert_eq(cfg.servers[0].peer_port, 2888);
    cr_assert_eq(cfg.servers[0].client_port, 2182);
    cr_assert_eq(cfg.server_id, 1);
    rt_config_deinit(&cfg);
}

Test(rt_config, bad_values_name_line_and_key) {
    rt_config cfg;
    char err[256] = "";
    cr_assert_neq(parse(&cfg, "dataDir=/x\ntickTime=abc\n", err, sizeof err), 0);
    cr_assert(strstr(err, "zoo.cfg:2") && strstr(err, "tickTime") && strstr(err, "abc"), "%s", err);
    rt_config_deinit(&cfg);
    cr_assert_neq(parse(&cfg, "clientPort=70000\ndataDir=/x\n", err, sizeof err), 0);
    cr_assert(strstr(err, "zoo.cfg:1") && strstr(err, "clientPort"), "%s", err);
    rt_config_deinit(&cfg);
    cr_assert_neq(parse(&cfg, "dataDir=/x\njustakey\n", err, sizeof err), 0);
    cr_assert(strstr(err, "zoo.cfg:2"), "%s", err);
    rt_config_deinit(&cfg);
    cr_assert_neq(parse(&cfg, "dataDir=/x\nserver.1=host:notaport:3888\n", err, sizeof err), 0);
    cr_assert(strstr(err, "server.1"), "%s", err);
    rt_config_deinit(&cfg);
    cr_assert_neq(parse(&cfg, "dataDir=/x\nminSessionTimeout=50000\nmaxSessionTimeout=1000\n", err, sizeof err), 0);
    cr_assert(strstr(err, "minSessionTimeout"), "%s", err);
    rt_config_deinit(&cfg);
    cr_assert_neq(parse(&cfg, "tickTime=2000\n", err, sizeof err), 0);
    cr_assert(strstr(err, "dataDir"), "%s", err);
    rt_config_deinit(&cfg);
}

Test(rt_config, unknown_keys_only_warn) {
    rt_config cfg;
    char err[256] = "";
    cr_assert_eq(parse(&cfg, "dataDir=/x\nsomeFutureKey=1\nmetricsProvider.className=x\n", err, sizeof err), 0, "%s", err);
    rt_config_deinit(&cfg);
}

Test(rt_config, whitelist_star_and_dev) {
    rt_config cfg;
    rt_config_dev(&cfg);
    char err[256] = "";
    cr_assert_eq(rt_config_finish(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg.data_dir, "pk-data");
    cr_assert_str_eq(cfg.client_port_address, "127.0.0.1");
    cr_assert(rt_config_4lw_allowed(&cfg, "ruok"));
    cr_assert(rt_config_4lw_allowed(&cfg, "wchp"));
    rt_config_deinit(&cfg);
}
