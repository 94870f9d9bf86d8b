/* rt/sasl: SASL on op 102. Until a JAAS file is configured, ZooKeeper's unconfigured behaviour: OK, null token. */
#include <string.h>

#include "rt/log.h"
#include "rt/rt.h"

/* Sets up SASL from the JAAS file named in the config. */
int rt_sasl_init(rt_server *srv) {
    LOG_ERROR("SASL (jaasLoginConfig=%s) is not available in this build yet", srv->cfg.jaas_config);
    return -1;
}

/* Answers a SASL token: with SASL unconfigured, ZooKeeper replies OK with a null token. */
int32_t rt_sasl_step(rt_conn *c, pk_slice body, pk_buf *reply) {
    (void)c;
    (void)body;
    jute_write_null(reply);
    return ZK_ERR_OK;
}

/* Frees a connection's SASL state (none without SASL). */
void rt_sasl_conn_free(rt_conn *c) { (void)c; }
