/* run.c: signals through a self-pipe, child processes for the recipes, and one poll over both. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pk.h"

static int sig_pipe[2] = {-1, -1};

/* Signal handler: forward the signal number through the pipe. */
static void sig_handler(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(sig_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

/* Route SIGCHLD, SIGINT, SIGTERM and SIGHUP into the self-pipe. */
int pk_sig_setup(void) {
    PK_ASSERT(sig_pipe[0] == -1);
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return PK_EIO;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sig_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < PK_ARRAY_LEN(sigs); i++) sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    PK_ASSERT(sig_pipe[0] >= 0);
    return PK_OK;
}

/* The read end of the signal pipe (-1 before pk_sig_setup). */
int pk_sig_fd(void) {
    PK_ASSERT(sig_pipe[0] >= -1);
    PK_ASSERT((sig_pipe[0] < 0) == (sig_pipe[1] < 0));
    return sig_pipe[0];
}

static int sig_pending = 0; /* a terminating signal seen by pk_sig_pending, not yet drained */

/* Note a terminating signal without consuming it (0 if none, or if signals are not set up). */
int pk_sig_pending(void) {
    if (sig_pipe[0] < 0) return 0;
    int t = pk_sig_drain();
    if (t) sig_pending = t;
    PK_ASSERT(sig_pending >= 0);
    return sig_pending;
}

/* Read all pending signals; returns the last terminating signal (INT/TERM/HUP) seen, or 0. */
int pk_sig_drain(void) {
    PK_ASSERT(sig_pipe[0] >= 0);
    int term = sig_pending;
    sig_pending = 0;
    unsigned char buf[64];
    for (int i = 0; i < 1000; i++) {
        ssize_t n = read(sig_pipe[0], buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t k = 0; k < n; k++)
            if (buf[k] != SIGCHLD) term = buf[k];
    }
    PK_ASSERT(term >= 0);
    return term;
}

/* Fork and exec argv with extra "K=V" environment entries and optional stdin; PK_OK or PK_EIO. */
int pk_child_spawn(pk_child *ch, char **argv, char **extra_env, int stdin_fd) {
    PK_ASSERT(ch != NULL);
    PK_ASSERT(argv != NULL && argv[0] != NULL);
    memset(ch, 0, sizeof *ch);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return PK_EIO;
    if (pid == 0) {
        int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGPIPE};
        for (size_t i = 0; i < PK_ARRAY_LEN(sigs); i++) signal(sigs[i], SIG_DFL);
        for (int i = 0; extra_env && extra_env[i] && i < 64; i++) putenv(extra_env[i]);
        if (stdin_fd >= 0) {
            dup2(stdin_fd, STDIN_FILENO);
            close(stdin_fd);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "pk: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    ch->pid = pid;
    return PK_OK;
}

/* Reap the child if it has exited; true once it has. */
bool pk_child_reap(pk_child *ch) {
    PK_ASSERT(ch != NULL);
    PK_ASSERT(ch->pid > 0);
    if (ch->exited) return true;
    int status = 0;
    pid_t r = waitpid(ch->pid, &status, WNOHANG);
    if (r == ch->pid) {
        ch->exited = true;
        ch->status = status;
    }
    return ch->exited;
}

/* Send sig to the child if it is still running. */
void pk_child_signal(pk_child *ch, int sig) {
    PK_ASSERT(ch != NULL);
    PK_ASSERT(sig > 0);
    if (!ch->exited && ch->pid > 0) kill(ch->pid, sig);
}

/* Shell-style exit code of a finished child (128+N when killed by signal N). */
int pk_child_exit_code(const pk_child *ch) {
    PK_ASSERT(ch != NULL);
    PK_ASSERT(ch->exited);
    if (WIFEXITED(ch->status)) return WEXITSTATUS(ch->status);
    if (WIFSIGNALED(ch->status)) return 128 + WTERMSIG(ch->status);
    return 1;
}

/* Wait until the connection queues an event, a signal arrives, or extra_fd is readable. */
int pk_wait_fds(pk_conn *c, int extra_fd, int timeout_ms) {
    PK_ASSERT(timeout_ms >= 0);
    struct pollfd p[3];
    int n = 0;
    p[n++] = (struct pollfd){.fd = pk_sig_fd(), .events = POLLIN};
    if (c && c->zh) p[n++] = (struct pollfd){.fd = c->wake_fd[0], .events = POLLIN};
    if (extra_fd >= 0) p[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
    PK_ASSERT(n <= 3);
    int r = poll(p, (nfds_t)n, timeout_ms);
    return r < 0 ? 0 : r;
}
