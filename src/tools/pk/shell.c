/* shell.c: the interactive shell: libedit line editing, persistent history, path completion. */
#include <histedit.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pk.h"

#define SHELL_ARGV_MAX 64
#define SHELL_MATCH_MAX 4096

/* Remember a line for the `history` command. */
static void shell_remember(pk_ctx *ctx, const char *line) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(line != NULL);
    if (ctx->history_count == ctx->history_cap) {
        ctx->history_cap = ctx->history_cap ? ctx->history_cap * 2 : 64;
        ctx->history = pk_realloc(ctx->history, (size_t)ctx->history_cap * sizeof(char *));
    }
    ctx->history[ctx->history_count++] = pk_strndup(line, strlen(line));
}

/* zkCli-like prompt: [pk: host:port(STATE) N] */
static char *shell_prompt(EditLine *el) {
    static char buf[1200];
    pk_ctx *ctx = NULL;
    el_get(el, EL_CLIENTDATA, &ctx);
    PK_ASSERT(ctx != NULL);
    const char *st = !ctx->connected ? "CLOSED" : pk_conn_is_connected(&ctx->conn) ? "CONNECTED" : "CONNECTING";
    snprintf(buf, sizeof buf, "[pk: %s(%s) %d] ", ctx->hosts, st, ctx->history_count);
    PK_ASSERT(strlen(buf) < sizeof buf);
    return buf;
}

/* Length of the longest common prefix of all candidates. */
static size_t common_prefix(char **v, int n) {
    PK_ASSERT(n > 0);
    PK_ASSERT(v != NULL);
    size_t len = strlen(v[0]);
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < len && v[i][k] == v[0][k]) k++;
        len = k;
    }
    return len;
}

/* Tab: complete a command name (first word) or a znode path (word starting with '/'). */
static unsigned char shell_complete(EditLine *el, int ch) {
    pk_ctx *ctx = NULL;
    el_get(el, EL_CLIENTDATA, &ctx);
    PK_ASSERT(ctx != NULL);
    const LineInfo *li = el_line(el);
    PK_ASSERT(li != NULL && li->cursor >= li->buffer);
    const char *start = li->cursor;
    while (start > li->buffer && start[-1] != ' ') start--;
    bool first_word = true;
    for (const char *p = li->buffer; p < start; p++) first_word = first_word && *p == ' ';
    char word[PK_PATH_MAX];
    snprintf(word, sizeof word, "%.*s", (int)(li->cursor - start), start);
    pk_paths cands = {0};
    size_t typed = strlen(word); /* how much of each candidate is already on the line */
    if (first_word) {
        for (int i = 0; pk_cmd_name_at(i) && i < 64; i++)
            if (strncmp(pk_cmd_name_at(i), word, typed) == 0) pk_paths_push(&cands, pk_cmd_name_at(i));
    } else if (word[0] == '/' && ctx->connected) {
        char *slash = strrchr(word, '/');
        const char *prefix = slash + 1;
        char dir[PK_PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", slash == word ? 1 : (int)(slash - word), word);
        typed = strlen(prefix);
        struct String_vector kids = {0};
        if (zoo_get_children(ctx->conn.zh, dir, 0, &kids) == ZOK) {
            pk_sort_strs(kids.data, kids.count);
            for (int i = 0; i < kids.count && cands.count < SHELL_MATCH_MAX; i++)
                if (strncmp(kids.data[i], prefix, typed) == 0) pk_paths_push(&cands, kids.data[i]);
            deallocate_String_vector(&kids);
        }
    }
    unsigned char ret = CC_REFRESH;
    if (cands.count == 1) {
        char buf[PK_PATH_MAX + 2];
        snprintf(buf, sizeof buf, "%s%s", cands.v[0] + typed, first_word ? " " : "");
        el_insertstr(el, buf);
    } else if (cands.count > 1) {
        size_t cp = common_prefix(cands.v, cands.count);
        if (cp > typed) {
            char buf[PK_PATH_MAX];
            snprintf(buf, sizeof buf, "%.*s", (int)(cp - typed), cands.v[0] + typed);
            el_insertstr(el, buf);
        } else {
            fputc('\n', stdout);
            for (int i = 0; i < cands.count; i++) fprintf(stdout, "%s%s", i ? "  " : "", cands.v[i]);
            fputc('\n', stdout);
            ret = CC_REDISPLAY;
        }
    } else {
        ret = CC_ERROR;
    }
    pk_paths_free(&cands);
    return ret;
}

/* Where history persists: $PK_HISTFILE, else ~/.pk_history, else nowhere. */
static void shell_histfile(char *buf, size_t n) {
    PK_ASSERT(buf != NULL);
    PK_ASSERT(n > 0);
    const char *env = getenv("PK_HISTFILE"), *home = getenv("HOME");
    if (env) snprintf(buf, n, "%s", env);
    else if (home) snprintf(buf, n, "%s/.pk_history", home);
    else buf[0] = 0;
}

/* Execute one line; returns true if the shell should exit. */
static bool shell_exec(pk_ctx *ctx, char *line) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(line != NULL);
    char *argv[SHELL_ARGV_MAX + 1];
    char *copy = pk_strndup(line, strlen(line));
    int argc = pk_split_line(copy, argv, SHELL_ARGV_MAX);
    argv[argc] = NULL;
    bool quit = false;
    (void)pk_sig_drain(); /* a ^C typed at the prompt must not cancel this command's connect */
    if (argc > 0) {
        if (strcmp(argv[0], "quit") == 0) {
            quit = true;
        } else {
            ctx->last_status = pk_cmd_run(ctx, argc, argv);
        }
        fflush(ctx->o.out);
        fflush(ctx->o.err);
    }
    free(copy);
    return quit;
}

/* The non-interactive shell: commands from a pipe or file, no prompt; returns the last status. */
static int shell_batch(pk_ctx *ctx) {
    PK_ASSERT(ctx != NULL);
    char *line = NULL;
    size_t cap = 0;
    for (long i = 0; i < (1L << 40); i++) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) break;
        shell_remember(ctx, line);
        if (ctx->history_count > 0) {
            size_t k = strlen(ctx->history[ctx->history_count - 1]);
            if (k && ctx->history[ctx->history_count - 1][k - 1] == '\n')
                ctx->history[ctx->history_count - 1][k - 1] = 0;
        }
        if (shell_exec(ctx, line)) break;
    }
    free(line);
    PK_ASSERT(ctx->last_status >= 0);
    return ctx->last_status;
}

/* Run the shell until quit or EOF. */
int pk_shell(pk_ctx *ctx) {
    PK_ASSERT(ctx != NULL);
    PK_ASSERT(ctx->shell);
    if (!isatty(STDIN_FILENO)) return shell_batch(ctx);
    EditLine *el = el_init("pk", stdin, stdout, stderr);
    History *hist = history_init();
    HistEvent ev;
    history(hist, &ev, H_SETSIZE, 1000);
    history(hist, &ev, H_SETUNIQUE, 1);
    char hf[1024];
    shell_histfile(hf, sizeof hf);
    if (hf[0]) history(hist, &ev, H_LOAD, hf);
    el_set(el, EL_CLIENTDATA, ctx);
    el_set(el, EL_PROMPT, shell_prompt);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_HIST, history, hist);
    el_set(el, EL_ADDFN, "pk-complete", "complete a command or znode path", shell_complete);
    el_set(el, EL_BIND, "^I", "pk-complete", NULL);
    el_source(el, NULL);
    for (long i = 0; i < (1L << 40); i++) {
        int count = 0;
        const char *got = el_gets(el, &count);
        if (got == NULL || count <= 0) break;
        char *line = pk_strndup(got, (size_t)count);
        if (count > 0 && line[count - 1] == '\n') line[count - 1] = 0;
        bool blank = strspn(line, " \t") == strlen(line);
        if (!blank) {
            history(hist, &ev, H_ENTER, line);
            shell_remember(ctx, line);
        }
        bool quit = shell_exec(ctx, line);
        free(line);
        if (quit) break;
    }
    if (hf[0]) history(hist, &ev, H_SAVE, hf);
    history_end(hist);
    el_end(el);
    fputc('\n', stdout);
    return PK_EXIT_OK;
}
