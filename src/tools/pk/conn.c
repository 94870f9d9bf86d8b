/* conn.c: one libzookeeper-mt session whose watcher events are queued for the main thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pk.h"

/* Milliseconds on the monotonic clock. */
int64_t pk_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* zkCli's name for a session state. */
const char *pk_state_name(int state) {
    if (state == ZOO_CONNECTED_STATE) return "SyncConnected";
    if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) return "Disconnected";
    if (state == ZOO_EXPIRED_SESSION_STATE) return "Expired";
    if (state == ZOO_AUTH_FAILED_STATE) return "AuthFailed";
    if (state == ZOO_READONLY_STATE) return "ConnectedReadOnly";
    return "Disconnected";
}

/* zkCli's name for an event type. */
const char *pk_event_name(int type) {
    if (type == ZOO_CREATED_EVENT) return "NodeCreated";
    if (type == ZOO_DELETED_EVENT) return "NodeDeleted";
    if (type == ZOO_CHANGED_EVENT) return "NodeDataChanged";
    if (type == ZOO_CHILD_EVENT) return "NodeChildrenChanged";
    if (type == ZOO_NOTWATCHING_EVENT) return "DataWatchRemoved";
    return "None";
}

/* The watcher: runs on the client's completion thread, copies the event and wakes the main thread. */
static void conn_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    pk_conn *c = ctx;
    PK_ASSERT(c != NULL);
    PK_ASSERT(zh != NULL);
    pthread_mutex_lock(&c->mu);
    if (type == ZOO_SESSION_EVENT) {
        c->state = state;
        if (state == ZOO_EXPIRED_SESSION_STATE) c->expired = true;
    }
    if (c->print_events && type != ZOO_SESSION_EVENT) {
        fprintf(stdout, "\nWATCHER::\n\nWatchedEvent state:%s type:%s path:%s\n", pk_state_name(state),
                pk_event_name(type), path ? path : "null");
        fflush(stdout);
    }
    if (c->ring_count < PK_EVENT_RING) {
        pk_event *ev = &c->ring[(c->ring_head + c->ring_count) % PK_EVENT_RING];
        ev->type = type;
        ev->state = state;
        snprintf(ev->path, sizeof ev->path, "%s", path ? path : "");
        c->ring_count++;
    } else {
        c->dropped++;
    }
    pthread_mutex_unlock(&c->mu);
    char b = 1;
    ssize_t w = write(c->wake_fd[1], &b, 1);
    (void)w; /* a full pipe already means "wake up" */
}

/* Open a session to hosts and wait up to wait_ms for it to connect; returns a PK_EXIT code. */
int pk_conn_open(pk_conn *c, const char *hosts, int timeout_ms, int wait_ms, const clientid_t *cid) {
    PK_ASSERT(hosts != NULL);
    PK_ASSERT(timeout_ms > 0);
    memset(c, 0, sizeof *c);
    snprintf(c->hosts, sizeof c->hosts, "%s", hosts);
    c->timeout_ms = timeout_ms;
    c->ring = pk_calloc(PK_EVENT_RING, sizeof(pk_event));
    pthread_mutex_init(&c->mu, NULL);
    if (pipe2(c->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0) PK_PANIC("pipe: %s", strerror(errno));
    c->state = ZOO_CONNECTING_STATE;
    c->log = NULL;
    if (getenv("PK_DEBUG")) {
        zoo_set_debug_level(ZOO_LOG_LEVEL_DEBUG);
    } else {
        c->log = fopen("/dev/null", "we");
        if (c->log) zoo_set_log_stream(c->log);
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    }
    zoo_deterministic_conn_order(1);
    c->zh = zookeeper_init(hosts, conn_watcher, timeout_ms, cid, c, 0);
    if (c->zh == NULL) return PK_EXIT_USAGE;
    /* Never re-resolve host names behind our back: the connect string is what the user gave. */
    zoo_set_servers_resolution_delay(c->zh, -1);
    return pk_conn_wait_connected(c, wait_ms);
}

/* Wait until the session is connected; PK_EXIT_CONN on timeout, PK_EXIT_EXPIRED/AUTH on those. */
int pk_conn_wait_connected(pk_conn *c, int wait_ms) {
    PK_ASSERT(c->zh != NULL);
    PK_ASSERT(wait_ms >= 0);
    int64_t deadline = pk_now_ms() + wait_ms;
    for (int i = 0; i < 100000; i++) {
        int st = zoo_state(c->zh);
        if (st == ZOO_CONNECTED_STATE || st == ZOO_READONLY_STATE) return PK_EXIT_OK;
        if (st == ZOO_EXPIRED_SESSION_STATE) return PK_EXIT_EXPIRED;
        if (st == ZOO_AUTH_FAILED_STATE) return PK_EXIT_AUTH;
        int64_t left = deadline - pk_now_ms();
        if (left <= 0 || pk_sig_pending()) return PK_EXIT_CONN; /* give up at once on ^C / TERM */
        struct pollfd p[2] = {{.fd = c->wake_fd[0], .events = POLLIN}, {.fd = pk_sig_fd(), .events = POLLIN}};
        (void)poll(p, p[1].fd >= 0 ? 2 : 1, (int)PK_MIN(left, 50));
    }
    return PK_EXIT_CONN;
}

/* True when the session is currently connected. */
bool pk_conn_is_connected(pk_conn *c) {
    PK_ASSERT(c != NULL);
    if (c->zh == NULL) return false;
    int st = zoo_state(c->zh);
    return st == ZOO_CONNECTED_STATE || st == ZOO_READONLY_STATE;
}

/* Pop the next queued event, waiting up to timeout_ms; 1 if one was returned, 0 on timeout. */
int pk_conn_wait_event(pk_conn *c, pk_event *ev, int timeout_ms) {
    PK_ASSERT(c->zh != NULL);
    PK_ASSERT(ev != NULL);
    for (int round = 0; round < 2; round++) {
        char drain[64];
        while (read(c->wake_fd[0], drain, sizeof drain) > 0) {
        }
        pthread_mutex_lock(&c->mu);
        bool have = c->ring_count > 0;
        if (have) {
            *ev = c->ring[c->ring_head];
            c->ring_head = (c->ring_head + 1) % PK_EVENT_RING;
            c->ring_count--;
        }
        bool more = c->ring_count > 0;
        pthread_mutex_unlock(&c->mu);
        if (more) { /* keep the pipe readable while events remain */
            char b = 1;
            ssize_t w = write(c->wake_fd[1], &b, 1);
            (void)w;
        }
        if (have) return 1;
        if (round == 1 || timeout_ms == 0) return 0;
        struct pollfd p = {.fd = c->wake_fd[0], .events = POLLIN};
        (void)poll(&p, 1, timeout_ms);
    }
    return 0;
}

/* Close the session (deleting its ephemerals) and free the queue. */
void pk_conn_close(pk_conn *c) {
    PK_ASSERT(c != NULL);
    if (c->zh) zookeeper_close(c->zh);
    c->zh = NULL;
    PK_ASSERT(c->wake_fd[0] > 0);
    close(c->wake_fd[0]);
    close(c->wake_fd[1]);
    free(c->ring);
    c->ring = NULL;
    pthread_mutex_destroy(&c->mu);
    if (c->log) {
        zoo_set_log_stream(stderr);
        fclose(c->log);
    }
    c->log = NULL;
}
