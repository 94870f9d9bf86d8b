/* tree.c: path helpers and iterative (non-recursive, bounded) subtree walks. */
#include <stdlib.h>
#include <string.h>

#include "pk.h"

/* Append a copy of s to the list. */
void pk_paths_push(pk_paths *p, const char *s) {
    PK_ASSERT(p != NULL);
    PK_ASSERT(s != NULL);
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = pk_realloc(p->v, (size_t)p->cap * sizeof(char *));
    }
    p->v[p->count++] = pk_strndup(s, strlen(s));
}

/* Free every string and the list itself. */
void pk_paths_free(pk_paths *p) {
    PK_ASSERT(p != NULL);
    PK_ASSERT(p->count <= p->cap);
    for (int i = 0; i < p->count; i++) free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->count = p->cap = 0;
}

/* qsort comparator for an array of C strings. */
int pk_cmp_str(const void *a, const void *b) {
    PK_ASSERT(a != NULL && b != NULL);
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort n C strings in place (n may be 0 with v NULL). */
void pk_sort_strs(char **v, int n) {
    PK_ASSERT(n >= 0);
    PK_ASSERT(v != NULL || n == 0);
    if (n > 1) qsort(v, (size_t)n, sizeof(char *), pk_cmp_str);
}

/* parent + "/" + child, without doubling the root's slash; caller frees. */
char *pk_path_join(const char *parent, const char *child) {
    PK_ASSERT(parent != NULL);
    PK_ASSERT(child != NULL);
    size_t n = strlen(parent) + strlen(child) + 2;
    char *s = pk_malloc(n);
    snprintf(s, n, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, child);
    return s;
}

/* The 10-digit sequence suffix of a sequential node's name, or -1. */
int pk_seq_of(const char *name) {
    PK_ASSERT(name != NULL);
    size_t n = strlen(name);
    if (n < 10) return -1;
    const char *p = name + n - 10;
    for (int i = 0; i < 10; i++)
        if (p[i] < '0' || p[i] > '9') return -1;
    long v = strtol(p, NULL, 10);
    PK_ASSERT(v >= 0);
    return (int)v;
}

/* Pre-order depth-first walk of root's subtree with children sorted; root first; descendants that
 * vanish or deny READ are skipped. ZOK or a ZK code. */
int pk_tree_walk(zhandle_t *zh, const char *root, pk_paths *out) {
    PK_ASSERT(zh != NULL);
    PK_ASSERT(root != NULL && out != NULL);
    pk_paths stack = {0};
    pk_paths_push(&stack, root);
    int rc = ZOK;
    for (int iter = 0; stack.count > 0 && iter < PK_TREE_MAX_NODES; iter++) {
        char *path = stack.v[--stack.count];
        struct String_vector kids = {0};
        int r = zoo_get_children(zh, path, 0, &kids);
        if ((r == ZNONODE || r == ZNOAUTH) && out->count > 0) { /* vanished or unreadable: skip it */
            free(path);
            continue;
        }
        if (r != ZOK) {
            rc = r;
            free(path);
            break;
        }
        pk_paths_push(out, path);
        pk_sort_strs(kids.data, kids.count);
        for (int i = kids.count - 1; i >= 0; i--) {
            char *c = pk_path_join(path, kids.data[i]);
            pk_paths_push(&stack, c);
            free(c);
        }
        deallocate_String_vector(&kids);
        free(path);
    }
    for (int i = 0; i < stack.count; i++) free(stack.v[i]);
    free(stack.v);
    return rc;
}

/* Create every missing ancestor of path (not path itself) as a persistent empty node. */
int pk_mkdirs(zhandle_t *zh, const char *path) {
    PK_ASSERT(zh != NULL);
    PK_ASSERT(path != NULL && path[0] == '/');
    char buf[PK_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        *p = '/';
        if (rc != ZOK && rc != ZNODEEXISTS) return rc;
    }
    return ZOK;
}
