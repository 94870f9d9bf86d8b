/* rt/fourlw: ZooKeeper's four-letter words (ruok, srvr, stat, mntr, conf, envi, cons, wchs, wchc, wchp, dirs,
 * isro, crst, srst), in ZooKeeper's output formats (reference/zk-protocol.md section 15). */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "rt/log.h"
#include "rt/rt.h"

#define PK_VERSION_FULL "3.8.0-paxoskeeper-0.1, built on " __DATE__

static const char *const fourlw_commands[] = {"ruok", "srvr", "stat", "mntr", "conf", "envi", "cons", "wchs",
                                              "wchc", "wchp", "dirs", "isro", "crst", "srst", "dump", "gtmk",
                                              "stmk", "hash", NULL};

/* True when the 4 bytes are a known four-letter word. */
bool rt_fourlw_is_command(const uint8_t p[4]) {
    for (size_t i = 0; fourlw_commands[i]; i++)
        if (!memcmp(p, fourlw_commands[i], 4)) return true;
    return false;
}

/* Appends printf-formatted text. */
static void outf(pk_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(pk_buf *out, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) pk_buf_append(out, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Average latency as ZooKeeper prints it (a double). */
static double avg_latency(uint64_t sum, uint64_t count) { return count ? (double)sum / (double)count : 0.0; }

/* The stats block shared by srvr and stat. */
static void stats_block(rt_server *srv, pk_buf *out) {
    zk_stats st;
    zk_state_stats(rt_node_state(srv->node), &st);
    uint64_t zxid;
    const char *mode;
    rt_node_stats(srv->node, &zxid, &mode);
    outf(out, "Latency min/avg/max: %llu/%.4f/%llu\n", (unsigned long long)srv->lat_min_ms,
         avg_latency(srv->lat_sum_ms, srv->lat_count), (unsigned long long)srv->lat_max_ms);
    outf(out, "Received: %llu\nSent: %llu\nConnections: %u\nOutstanding: %llu\nZxid: 0x%llx\nMode: %s\nNode count: %llu\n",
         (unsigned long long)srv->packets_received, (unsigned long long)srv->packets_sent, srv->conn_count,
         (unsigned long long)srv->outstanding, (unsigned long long)zxid, mode, (unsigned long long)st.node_count);
}

/* One line per connection, in cons/stat format (brief = stat's short form). */
static void conn_lines(rt_server *srv, pk_buf *out, bool brief) {
    uint64_t now = rt_now_ms(srv);
    for (pk_list *l = srv->all_conns.next; l != &srv->all_conns; l = l->next) {
        rt_conn *c = PK_CONTAINER_OF(l, rt_conn, all_link);
        outf(out, " /%s:%u[%d](queued=%u,recved=%llu,sent=%llu", c->peer_ip, c->peer_port, c->reading ? 1 : 0,
             c->pending_count, (unsigned long long)c->packets_received, (unsigned long long)c->packets_sent);
        if (!brief && c->session_id) {
            outf(out, ",sid=0x%llx,lop=%s,est=%llu,to=%d,lcxid=0x%x,lzxid=0x%llx,lresp=%llu,llat=%llu,minlat=%llu,avglat=%llu,maxlat=%llu",
                 (unsigned long long)c->session_id, zk_op_name(c->last_op),
                 (unsigned long long)(rt_wall_ms() - (int64_t)(now - c->established_ms)), c->timeout_ms,
                 (unsigned)c->last_cxid, (unsigned long long)zk_state_last_zxid(rt_node_state(srv->node)),
                 (unsigned long long)c->last_response_ms, (unsigned long long)0, (unsigned long long)c->lat_min_ms,
                 (unsigned long long)(c->lat_count ? c->lat_sum_ms / c->lat_count : 0), (unsigned long long)c->lat_max_ms);
        }
        outf(out, ")\n");
    }
    outf(out, "\n");
}

/* Sums the sizes of regular files in a directory (dirs). */
static uint64_t dir_size(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    for (int guard = 0; (e = readdir(d)) && guard < 1000000; guard++) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* Counts open file descriptors of this process. */
static uint64_t open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    uint64_t n = 0;
    for (int guard = 0; readdir(d) && guard < 10000000; guard++) n++;
    closedir(d);
    return n > 2 ? n - 3 : 0; /* ., .. and the dir's own fd */
}

/* mntr: zk_<key>\t<value> lines. */
static void mntr(rt_server *srv, pk_buf *out) {
    zk_stats st;
    zk_state_stats(rt_node_state(srv->node), &st);
    uint64_t zxid, wconns, wpaths, wtotal;
    const char *mode;
    rt_node_stats(srv->node, &zxid, &mode);
    zk_watches_stats(srv->watches, &wconns, &wpaths, &wtotal);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    outf(out, "zk_version\t%s\n", PK_VERSION_FULL);
    outf(out, "zk_server_state\t%s\n", mode);
    outf(out, "zk_avg_latency\t%.4f\n", avg_latency(srv->lat_sum_ms, srv->lat_count));
    outf(out, "zk_max_latency\t%llu\n", (unsigned long long)srv->lat_max_ms);
    outf(out, "zk_min_latency\t%llu\n", (unsigned long long)srv->lat_min_ms);
    outf(out, "zk_packets_received\t%llu\n", (unsigned long long)srv->packets_received);
    outf(out, "zk_packets_sent\t%llu\n", (unsigned long long)srv->packets_sent);
    outf(out, "zk_num_alive_connections\t%u\n", srv->conn_count);
    outf(out, "zk_outstanding_requests\t%llu\n", (unsigned long long)srv->outstanding);
    outf(out, "zk_uptime\t%llu\n", (unsigned long long)(rt_now_ms(srv) - srv->start_ms));
    outf(out, "zk_znode_count\t%llu\n", (unsigned long long)st.node_count);
    outf(out, "zk_watch_count\t%llu\n", (unsigned long long)wtotal);
    outf(out, "zk_ephemerals_count\t%llu\n", (unsigned long long)st.ephemeral_count);
    outf(out, "zk_approximate_data_size\t%llu\n", (unsigned long long)st.approximate_data_size);
    outf(out, "zk_global_sessions\t%llu\n", (unsigned long long)st.session_count);
    outf(out, "zk_local_sessions\t0\n");
    outf(out, "zk_open_file_descriptor_count\t%llu\n", (unsigned long long)open_fds());
    outf(out, "zk_max_file_descriptor_count\t%llu\n", (unsigned long long)rl.rlim_cur);
    outf(out, "zk_auth_failed_count\t%llu\n", (unsigned long long)srv->auth_failed_count);
    outf(out, "zk_last_zxid\t0x%llx\n", (unsigned long long)zxid);
}

/* conf: the effective configuration as key=value lines. */
static void conf(rt_server *srv, pk_buf *out) {
    const rt_config *c = &srv->cfg;
    outf(out, "clientPort=%u\nsecureClientPort=-1\ndataDir=%s\ndataDirSize=%llu\ndataLogDir=%s\ndataLogSize=%llu\n",
         c->client_port, c->data_dir, (unsigned long long)dir_size(c->data_dir), c->data_log_dir,
         (unsigned long long)dir_size(c->data_log_dir));
    outf(out, "tickTime=%u\nmaxClientCnxns=%u\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=-1\nserverId=%u\n",
         c->tick_time_ms, c->max_client_cnxns, c->min_session_timeout_ms, c->max_session_timeout_ms, c->server_id);
}

/* envi: environment lines; kazoo parses zookeeper.version with [\d.]*. */
static void envi(pk_buf *out) {
    struct utsname u;
    uname(&u);
    char host[256] = "", cwd[1024] = "";
    gethostname(host, sizeof host - 1);
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "?");
    outf(out, "Environment:\nzookeeper.version=%s\nhost.name=%s\njava.version=none (paxoskeeper is C)\n", PK_VERSION_FULL, host);
    outf(out, "os.name=%s\nos.arch=%s\nos.version=%s\nuser.dir=%s\n", u.sysname, u.machine, u.release, cwd);
}

/* Maps a connection id to its session id (for wchc/wchp). */
static uint64_t fourlw_conn_session(void *ctx, uint64_t conn_id) {
    rt_server *srv = ctx;
    rt_conn *c = rt_map_get(&srv->conns_by_id, conn_id);
    return c ? c->session_id : 0;
}

/* Runs one command and appends its output. */
void rt_fourlw_run(rt_server *srv, const char cmd[4], pk_buf *out) {
    if (!memcmp(cmd, "ruok", 4)) { outf(out, "imok"); return; }
    if (!memcmp(cmd, "isro", 4)) { outf(out, "rw"); return; }
    if (!srv->serving) { outf(out, "This ZooKeeper instance is not currently serving requests\n"); return; }
    if (!memcmp(cmd, "srvr", 4)) {
        outf(out, "Zookeeper version: %s\n", PK_VERSION_FULL);
        stats_block(srv, out);
    } else if (!memcmp(cmd, "stat", 4)) {
        outf(out, "Zookeeper version: %s\nClients:\n", PK_VERSION_FULL);
        conn_lines(srv, out, true);
        stats_block(srv, out);
    } else if (!memcmp(cmd, "cons", 4)) {
        conn_lines(srv, out, false);
    } else if (!memcmp(cmd, "mntr", 4)) {
        mntr(srv, out);
    } else if (!memcmp(cmd, "conf", 4)) {
        conf(srv, out);
    } else if (!memcmp(cmd, "envi", 4)) {
        envi(out);
    } else if (!memcmp(cmd, "wchs", 4)) {
        uint64_t conns, paths, total;
        zk_watches_stats(srv->watches, &conns, &paths, &total);
        outf(out, "%llu connections watching %llu paths\nTotal watches:%llu\n", (unsigned long long)conns,
             (unsigned long long)paths, (unsigned long long)total);
    } else if (!memcmp(cmd, "wchc", 4) || !memcmp(cmd, "wchp", 4)) {
        zk_watches_dump(srv->watches, cmd[3] == 'p', fourlw_conn_session, srv, out);
    } else if (!memcmp(cmd, "dirs", 4)) {
        outf(out, "datadir_size: %llu\nlogdir_size: %llu\n", (unsigned long long)dir_size(srv->cfg.data_dir),
             (unsigned long long)dir_size(srv->cfg.data_log_dir));
    } else if (!memcmp(cmd, "crst", 4)) {
        for (pk_list *l = srv->all_conns.next; l != &srv->all_conns; l = l->next) {
            rt_conn *c = PK_CONTAINER_OF(l, rt_conn, all_link);
            c->packets_received = c->packets_sent = 0;
            c->lat_min_ms = c->lat_max_ms = c->lat_sum_ms = c->lat_count = 0;
        }
        outf(out, "Connection stats reset.\n");
    } else if (!memcmp(cmd, "srst", 4)) {
        srv->packets_received = srv->packets_sent = 0;
        srv->lat_min_ms = srv->lat_max_ms = srv->lat_sum_ms = srv->lat_count = 0;
        outf(out, "Server stats reset.\n");
    } else {
        outf(out, "%.4s is not supported by paxoskeeper\n", cmd);
    }
}

