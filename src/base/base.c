/* base: implementation of assertions, error strings, buffers and allocation helpers. */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Prints a fatal message with its source location and aborts the process. */
void pk_panic_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "PANIC %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

/* Returns a static message for an error code from the PK_ERRORS table. */
const char *pk_strerror(int err) {
    switch (err) {
#define PK_ERR_CASE(name, value, msg) case value: return msg;
        PK_ERRORS(PK_ERR_CASE)
#undef PK_ERR_CASE
    default: return "unknown error";
    }
}

/* Allocates n bytes or aborts. */
void *pk_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) PK_PANIC("out of memory allocating %zu bytes", n);
    return p;
}

/* Allocates zeroed memory or aborts. */
void *pk_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) PK_PANIC("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

/* Resizes an allocation or aborts. */
void *pk_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) PK_PANIC("out of memory reallocating %zu bytes", n);
    return q;
}

/* Copies at most n bytes of s into a new NUL-terminated string. */
char *pk_strndup(const char *s, size_t n) {
    char *d = pk_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Initializes an empty buffer. */
void pk_buf_init(pk_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Frees the buffer's memory. */
void pk_buf_deinit(pk_buf *b) {
    free(b->data);
    pk_buf_init(b);
}

/* Grows capacity geometrically so that `extra` more bytes fit. */
void pk_buf_reserve(pk_buf *b, size_t extra) {
    PK_ASSERT(b->len <= b->cap);
    if (b->cap - b->len >= extra) return;
    size_t need = b->len + extra;
    PK_ASSERT(need >= b->len); /* no overflow */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = pk_realloc(b->data, cap);
    b->cap = cap;
}

/* Appends n bytes from p. */
void pk_buf_append(pk_buf *b, const void *p, size_t n) {
    if (n == 0) return;
    pk_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends n uninitialized bytes and returns where they start. */
uint8_t *pk_buf_extend(pk_buf *b, size_t n) {
    pk_buf_reserve(b, n);
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

/* Removes the first n bytes. */
void pk_buf_consume(pk_buf *b, size_t n) {
    PK_ASSERT(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
