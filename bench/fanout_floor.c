/* fanout-floor: the kernel floor of the watch fan-out workload on this machine. Not a test.
 *
 * What any server must do per event in `pk-bench -w watch` (100 watching sessions, each re-arming with a
 * getData(watch) after its notification): write one small frame (the notification) to each of N loopback TCP
 * connections, read one small frame back from each (the re-arm request) and, optionally, write one reply frame
 * (the getData reply with the 1 KiB value). This tool does exactly that with nothing else: a server process
 * (epoll, one read() per readable socket, replies flushed after the epoll batch like pk-server's before-sleep
 * flush) and a client process, pinned to different CPUs, over 127.0.0.1 with TCP_NODELAY. A round starts when
 * the client has seen every reply and sent a one-frame "go" on connection 0 (pk-bench's writer sends its setData
 * then). There is no disk and no ZooKeeper logic, so server CPU per event here is what the kernel costs; the rest
 * of a real server's CPU per event is its own.
 *
 * Usage: fanout-floor [-n CONNS (100)] [-e EVENT_BYTES (48)] [-q REQUEST_BYTES (40)] [-r REPLY_BYTES (1116,
 *        0 = no reply)] [-d SECONDS (5)] [-w WARMUP_SECONDS (1)] [-p PORT (25250)] [-S SERVER_CPU (0)]
 *        [-C CLIENT_CPU (1)] [-c CONGESTION_CONTROL (system default)]
 * Byte counts are whole frames including the 4-byte length. Prints one JSON line for the server side (rate, CPU
 * per event of both processes, syscalls per event) and one for the client side: delivery latency of each event
 * from the moment the server started writing its round to the moment the client read it (p50/p99/max), which is
 * the fan-out part of pk-bench's delivery latency (pk-bench also counts the setData and its fdatasync).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { FLOOR_MAX_CONNS = 4096, FLOOR_BUF = 1 << 16, FLOOR_MAX_FRAME = 1 << 16 };

typedef struct floor_opts {
    int conns, event_bytes, request_bytes, reply_bytes, port, server_cpu, client_cpu;
    double seconds, warmup;
    const char *cc;
} floor_opts;

typedef struct floor_conn {
    int fd;
    uint8_t in[FLOOR_BUF];
    size_t in_len;
    int owe_reply;   /* server: replies queued for the end of the epoll batch */
} floor_conn;

static floor_conn *g_conns;
static uint64_t g_writes, g_reads, g_waits;

/* Aborts with a message (this is a measuring tool: any surprise invalidates the run). */
static _Noreturn void floor_die(const char *what) {
    fprintf(stderr, "fanout-floor: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Monotonic seconds. */
static double floor_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds (utime + stime) of a process from /proc/PID/stat. */
static double floor_cpu_s(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) floor_die("open /proc/PID/stat");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) floor_die("parse /proc/PID/stat");
    unsigned long long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        floor_die("parse utime/stime");
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Pins the calling process to one CPU. */
static void floor_pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) floor_die("sched_setaffinity");
}

/* Sets TCP_NODELAY (and the congestion control, when asked) on a socket. */
static void floor_sockopts(int fd, const floor_opts *o) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) floor_die("TCP_NODELAY");
    if (o->cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o->cc, (socklen_t)strlen(o->cc)) != 0)
        floor_die("TCP_CONGESTION");
}

static uint64_t g_round_ns;   /* server: when the current round's first event was written (in every 'E') */

/* Monotonic nanoseconds. */
static uint64_t floor_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Writes one whole frame of `bytes` bytes whose first payload byte is `type` (one write() call). */
static void floor_send(int fd, char type, int bytes) {
    static uint8_t frame[FLOOR_MAX_FRAME];
    uint32_t len = (uint32_t)bytes - 4;
    frame[0] = (uint8_t)(len >> 24);
    frame[1] = (uint8_t)(len >> 16);
    frame[2] = (uint8_t)(len >> 8);
    frame[3] = (uint8_t)len;
    frame[4] = (uint8_t)type;
    if (type == 'E') memcpy(frame + 5, &g_round_ns, sizeof g_round_ns);
    ssize_t n = write(fd, frame, (size_t)bytes);
    g_writes++;
    if (n != bytes) floor_die("short or failed write (socket buffer full?)");
}

/* Reads once from c and calls on_frame(index, type, payload) per whole frame; false on EOF. */
static bool floor_read(int index, void (*on_frame)(int index, char type, const uint8_t *payload)) {
    floor_conn *c = &g_conns[index];
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    g_reads++;
    if (n == 0) return false;
    if (n < 0) {
        if (errno == EAGAIN) return true;
        floor_die("read");
    }
    c->in_len += (size_t)n;
    size_t off = 0;
    while (c->in_len - off >= 5) {
        const uint8_t *p = c->in + off;
        uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (len == 0 || len + 4 > sizeof c->in) { errno = EPROTO; floor_die("bad frame"); }
        if (c->in_len - off < 4 + (size_t)len) break;
        on_frame(index, (char)p[4], p + 4);
        off += 4 + len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return true;
}

/* ---- server ---- */

static const floor_opts *s_o;
static int s_requests, s_go;
static int *s_owing;
static int s_owing_count;

/* Server: one request ('Q') or go ('G') frame arrived on connection index. */
static void server_frame(int index, char type, const uint8_t *payload) {
    (void)payload;
    if (type == 'G') { s_go++; return; }
    if (type != 'Q') { errno = EPROTO; floor_die("server got an unexpected frame"); }
    s_requests++;
    if (s_o->reply_bytes > 0 && g_conns[index].owe_reply++ == 0) s_owing[s_owing_count++] = index;
}

/* Server: accepts the connections and runs rounds until the window ends; prints the result. */
static int run_server(const floor_opts *o, int lfd, pid_t child) {
    s_o = o;
    s_owing = calloc((size_t)o->conns, sizeof *s_owing);
    int ep = epoll_create1(0);
    for (int i = 0; i < o->conns; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) floor_die("accept");
        floor_sockopts(fd, o);
        g_conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) floor_die("epoll_ctl");
    }
    /* Connections are accepted in the client's connect order. The client sends one 'G' when all are up. */
    struct epoll_event evs[256];
    double t0 = floor_now(), t_start = t0 + o->warmup, t_end = t_start + o->seconds;
    bool measuring = false, first = true;
    uint64_t events = 0, rounds = 0, w0 = 0, r0 = 0, e0 = 0;
    double cpu0 = 0, ccpu0 = 0, wall0 = 0;
    for (;;) {
        if (first ? s_go > 0 : (s_go > 0 && s_requests == o->conns)) {
            double now = floor_now();
            if (!measuring && now >= t_start) {
                measuring = true;
                wall0 = now;
                cpu0 = floor_cpu_s(getpid());
                ccpu0 = floor_cpu_s(child);
                w0 = g_writes; r0 = g_reads; e0 = g_waits;
                events = 0;
                rounds = 0;
            }
            if (measuring && now >= t_end) {
                double wall = now - wall0, cpu = floor_cpu_s(getpid()) - cpu0, ccpu = floor_cpu_s(child) - ccpu0;
                printf("{\"tool\":\"fanout-floor\",\"conns\":%d,\"event_bytes\":%d,\"request_bytes\":%d,"
                       "\"reply_bytes\":%d,\"cc\":\"%s\",\"window_s\":%.3f,\"rounds\":%llu,\"events\":%llu,"
                       "\"events_per_s\":%.1f,\"server_cpu_us_per_event\":%.2f,\"client_cpu_us_per_event\":%.2f,"
                       "\"server_writes_per_event\":%.2f,\"server_reads_per_event\":%.2f,"
                       "\"server_epoll_waits_per_event\":%.3f}\n",
                       o->conns, o->event_bytes, o->request_bytes, o->reply_bytes, o->cc ? o->cc : "default", wall,
                       (unsigned long long)rounds, (unsigned long long)events, (double)events / wall,
                       cpu * 1e6 / (double)events, ccpu * 1e6 / (double)events,
                       (double)(g_writes - w0) / (double)events, (double)(g_reads - r0) / (double)events,
                       (double)(g_waits - e0) / (double)events);
                fflush(stdout);
                for (int i = 0; i < o->conns; i++) close(g_conns[i].fd);
                int status;
                waitpid(child, &status, 0);
                return 0;
            }
            first = false;
            s_go = 0;
            s_requests = 0;
            g_round_ns = floor_now_ns();
            for (int i = 0; i < o->conns; i++) floor_send(g_conns[i].fd, 'E', o->event_bytes);
            events += (uint64_t)o->conns;
            rounds++;
        }
        int n = epoll_wait(ep, evs, 256, 5000);
        g_waits++;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) floor_die("server epoll_wait (stalled or failed)");
        for (int k = 0; k < n; k++)
            if (!floor_read((int)evs[k].data.u32, server_frame)) { errno = ECONNRESET; floor_die("client closed"); }
        for (int k = 0; k < s_owing_count; k++) {
            floor_conn *c = &g_conns[s_owing[k]];
            for (; c->owe_reply > 0; c->owe_reply--) floor_send(c->fd, 'R', o->reply_bytes);
        }
        s_owing_count = 0;
    }
}

/* ---- client ---- */

static const floor_opts *c_o;
static int c_replies, c_requests;
static bool c_closed;
static uint64_t c_measure_from_ns;   /* latencies of events sent after this are kept */
static uint32_t *c_lat_us;           /* delivery latency per event: round start -> the client reads the event */
static size_t c_lat_count, c_lat_cap;

/* Orders u32 ascending (qsort). */
static int floor_cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Client: one event ('E') or reply ('R') frame arrived on connection index. */
static void client_frame(int index, char type, const uint8_t *payload) {
    if (type == 'E') {
        uint64_t sent_ns;
        memcpy(&sent_ns, payload + 1, sizeof sent_ns);
        if (sent_ns >= c_measure_from_ns) {
            if (c_lat_count == c_lat_cap) {
                c_lat_cap = c_lat_cap ? c_lat_cap * 2 : 1 << 16;
                c_lat_us = realloc(c_lat_us, c_lat_cap * sizeof *c_lat_us);
                if (!c_lat_us) floor_die("realloc");
            }
            uint64_t now = floor_now_ns();
            c_lat_us[c_lat_count++] = (uint32_t)((now > sent_ns ? now - sent_ns : 0) / 1000);
        }
        floor_send(g_conns[index].fd, 'Q', c_o->request_bytes);
        if (c_o->reply_bytes == 0 && ++c_requests == c_o->conns) {
            c_requests = 0;
            floor_send(g_conns[0].fd, 'G', 8);
        }
        return;
    }
    if (type != 'R') { errno = EPROTO; floor_die("client got an unexpected frame"); }
    if (++c_replies == c_o->conns) {
        c_replies = 0;
        floor_send(g_conns[0].fd, 'G', 8);
    }
}

/* Client: connects, says go, answers every event with a request until the server closes. */
static int run_client(const floor_opts *o) {
    c_o = o;
    floor_pin(o->client_cpu);
    int ep = epoll_create1(0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < o->conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) floor_die("connect");
        floor_sockopts(fd, o);
        g_conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) floor_die("epoll_ctl");
    }
    c_measure_from_ns = floor_now_ns() + (uint64_t)(o->warmup * 1e9);
    floor_send(g_conns[0].fd, 'G', 8);
    struct epoll_event evs[256];
    while (!c_closed) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) floor_die("client epoll_wait (stalled or failed)");
        for (int k = 0; k < n; k++)
            if (!floor_read((int)evs[k].data.u32, client_frame)) c_closed = true;
    }
    if (c_lat_count) {
        qsort(c_lat_us, c_lat_count, sizeof *c_lat_us, floor_cmp_u32);
        printf("{\"tool\":\"fanout-floor\",\"side\":\"client\",\"events\":%zu,\"delivery_p50_us\":%u,"
               "\"delivery_p99_us\":%u,\"delivery_max_us\":%u}\n",
               c_lat_count, c_lat_us[c_lat_count / 2], c_lat_us[c_lat_count * 99 / 100], c_lat_us[c_lat_count - 1]);
    }
    return 0;
}

/* Parses options, forks the client and runs the server. */
int main(int argc, char **argv) {
    floor_opts o = {.conns = 100, .event_bytes = 48, .request_bytes = 40, .reply_bytes = 1116, .port = 25250,
                    .server_cpu = 0, .client_cpu = 1, .seconds = 5, .warmup = 1};
    int opt;
    while ((opt = getopt(argc, argv, "n:e:q:r:d:w:p:S:C:c:")) != -1) {
        switch (opt) {
        case 'n': o.conns = atoi(optarg); break;
        case 'e': o.event_bytes = atoi(optarg); break;
        case 'q': o.request_bytes = atoi(optarg); break;
        case 'r': o.reply_bytes = atoi(optarg); break;
        case 'd': o.seconds = atof(optarg); break;
        case 'w': o.warmup = atof(optarg); break;
        case 'p': o.port = atoi(optarg); break;
        case 'S': o.server_cpu = atoi(optarg); break;
        case 'C': o.client_cpu = atoi(optarg); break;
        case 'c': o.cc = optarg; break;
        default:
            fprintf(stderr, "usage: fanout-floor [-n conns] [-e event_bytes] [-q request_bytes] [-r reply_bytes|0] "
                            "[-d s] [-w s] [-p port] [-S server_cpu] [-C client_cpu] [-c cc]\n");
            return 2;
        }
    }
    if (o.conns < 1 || o.conns > FLOOR_MAX_CONNS || o.event_bytes < 16 || o.request_bytes < 8 ||
        (o.reply_bytes != 0 && o.reply_bytes < 8) || o.event_bytes > FLOOR_MAX_FRAME ||
        o.request_bytes > FLOOR_MAX_FRAME || o.reply_bytes > FLOOR_MAX_FRAME / 2) {
        fprintf(stderr, "fanout-floor: bad sizes\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_conns = calloc((size_t)o.conns, sizeof *g_conns);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, FLOOR_MAX_CONNS) != 0)
        floor_die("listen");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) floor_die("fork");
    if (child == 0) {
        close(lfd);
        return run_client(&o);
    }
    floor_pin(o.server_cpu);
    int rc = run_server(&o, lfd, child);
    close(lfd);
    return rc;
}
