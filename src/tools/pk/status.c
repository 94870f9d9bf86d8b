/* status.c: `pk status`: every server of the connect string at a glance, from `srvr` and `mntr`. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk.h"

#define STATUS_REPLY_MAX 65536
#define STATUS_SERVERS_MAX 64

/* One server's row. */
typedef struct status_row {
    char server[256];
    bool up;
    char mode[32], zxid[32], latency[64], conns[16], outstanding[16], synced[16], version[64];
} status_row;

/* Send a four-letter word to host:port and read the whole reply into buf; false if unreachable. */
static bool status_4lw(const char *hostport, const char *word, char *buf, size_t cap) {
    PK_ASSERT(hostport != NULL && word != NULL);
    PK_ASSERT(cap > 1);
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) return false;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) return false;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 2};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    bool ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
              send(fd, word, strlen(word), MSG_NOSIGNAL) == (ssize_t)strlen(word);
    freeaddrinfo(res);
    size_t len = 0;
    for (int i = 0; ok && i < 10000 && len + 1 < cap; i++) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    if (fd >= 0) close(fd);
    return ok && len > 0;
}

/* Copy the value after "key" up to the end of its line into out ("-" if absent). */
static void status_field(const char *text, const char *key, char *out, size_t cap) {
    PK_ASSERT(text != NULL && key != NULL);
    PK_ASSERT(cap > 1);
    const char *p = strstr(text, key);
    snprintf(out, cap, "-");
    if (!p) return;
    p += strlen(key);
    while (*p == ' ' || *p == '\t' || *p == ':') p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)n, p);
}

/* Fill one row from srvr (and mntr for followers in sync). */
static void status_probe(status_row *r) {
    PK_ASSERT(r != NULL);
    char *buf = pk_malloc(STATUS_REPLY_MAX);
    r->up = status_4lw(r->server, "srvr", buf, STATUS_REPLY_MAX) && strstr(buf, "Mode") != NULL;
    if (r->up) {
        status_field(buf, "Mode", r->mode, sizeof r->mode);
        status_field(buf, "Zxid", r->zxid, sizeof r->zxid);
        status_field(buf, "Latency min/avg/max", r->latency, sizeof r->latency);
        status_field(buf, "Connections", r->conns, sizeof r->conns);
        status_field(buf, "Outstanding", r->outstanding, sizeof r->outstanding);
        status_field(buf, "Zookeeper version", r->version, sizeof r->version);
        char *comma = strchr(r->version, ',');
        if (comma) *comma = 0;
    } else {
        snprintf(r->mode, sizeof r->mode, "%s", buf[0] ? "refused" : "down");
    }
    snprintf(r->synced, sizeof r->synced, "-");
    if (r->up && strcmp(r->mode, "leader") == 0 && status_4lw(r->server, "mntr", buf, STATUS_REPLY_MAX))
        status_field(buf, "zk_synced_followers", r->synced, sizeof r->synced);
    PK_ASSERT(r->mode[0] != 0);
    free(buf);
}

/* A field as a JSON number, or "null" when the server did not report a number. */
static const char *status_num(const char *v) {
    PK_ASSERT(v != NULL);
    size_t n = strlen(v);
    bool digits = n > 0 && n < 15 && strspn(v, "0123456789") == n;
    PK_ASSERT(n < 64);
    return digits ? v : "null";
}

/* pk status: probe every server in the connect string. */
int pk_status(pk_ctx *ctx, int argc, char **argv) {
    PK_ASSERT(ctx != NULL);
    if (argc != 1) return pk_report_usage(&ctx->o, "pk [-s hosts] status");
    status_row *rows = pk_calloc(STATUS_SERVERS_MAX, sizeof(status_row));
    char hosts[1024];
    snprintf(hosts, sizeof hosts, "%s", ctx->hosts);
    char *slash = strchr(hosts, '/');
    if (slash) *slash = 0;
    int n = 0;
    char *save = NULL;
    for (char *h = strtok_r(hosts, ",", &save); h && n < STATUS_SERVERS_MAX; h = strtok_r(NULL, ",", &save)) {
        snprintf(rows[n].server, sizeof rows[n].server, "%s", h);
        status_probe(&rows[n++]);
    }
    int down = 0;
    FILE *f = ctx->o.out;
    if (ctx->o.json) fputc('[', f);
    else
        fprintf(f, "%-22s %-11s %-12s %-20s %-11s %-11s %s\n", "SERVER", "MODE", "ZXID", "LATENCY(min/avg/max)",
                "CONNECTIONS", "OUTSTANDING", "FOLLOWERS-IN-SYNC");
    for (int i = 0; i < n; i++) {
        status_row *r = &rows[i];
        down += !r->up;
        if (ctx->o.json) {
            fprintf(f, "%s{\"server\":", i ? "," : "");
            pk_json_str(f, r->server, strlen(r->server));
            fprintf(f, ",\"up\":%s,\"mode\":", r->up ? "true" : "false");
            pk_json_str(f, r->mode, strlen(r->mode));
            if (r->up) {
                fprintf(f, ",\"zxid\":");
                pk_json_str(f, r->zxid, strlen(r->zxid));
                fprintf(f, ",\"latency\":");
                pk_json_str(f, r->latency, strlen(r->latency));
                fprintf(f, ",\"connections\":%s,\"outstanding\":%s,\"synced_followers\":%s,\"version\":",
                        status_num(r->conns), status_num(r->outstanding), status_num(r->synced));
                pk_json_str(f, r->version, strlen(r->version));
            }
            fputc('}', f);
        } else {
            fprintf(f, "%-22s %-11s %-12s %-20s %-11s %-11s %s\n", r->server, r->mode, r->up ? r->zxid : "-",
                    r->up ? r->latency : "-", r->up ? r->conns : "-", r->up ? r->outstanding : "-", r->synced);
        }
    }
    if (ctx->o.json) fprintf(f, "]\n");
    free(rows);
    PK_ASSERT(down <= n);
    return down ? PK_EXIT_CONN : PK_EXIT_OK;
}
