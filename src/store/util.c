/* store: helpers shared by the WAL, meta and snapshot code (paths, names, full reads, listings). */
#include "store/store_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Joins dir and name with a slash into out; PK_EINVAL when the result does not fit. */
int store_path_join(char *out, size_t cap, const char *dir, const char *name) {
    PK_ASSERT(out != NULL && cap > 0);
    PK_ASSERT(dir != NULL && name != NULL);
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return PK_EINVAL;
    return PK_OK;
}

/* Parses "<prefix><20 digits><suffix>" into *num. */
bool store_name_parse(const char *name, const char *prefix, const char *suffix, uint64_t *num) {
    PK_ASSERT(name != NULL && prefix != NULL && suffix != NULL);
    PK_ASSERT(num != NULL);
    size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
    if (nl != pl + 20 + sl) return false;
    if (memcmp(name, prefix, pl) != 0 || memcmp(name + pl + 20, suffix, sl) != 0) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < 20; i++) {
        char c = name[pl + i];
        if (c < '0' || c > '9') return false;
        uint64_t digit = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - digit) / 10) return false; /* overflow */
        v = v * 10 + digit;
    }
    *num = v;
    return true;
}

/* Formats "<prefix><num, 20 digits><suffix>". */
void store_name_format(char *out, size_t cap, const char *prefix, uint64_t num, const char *suffix) {
    PK_ASSERT(out != NULL && cap >= 64);
    int n = snprintf(out, cap, "%s%020" PRIu64 "%s", prefix, num, suffix);
    PK_ASSERT(n > 0 && (size_t)n < cap);
}

/* Frees each name and the array. */
void store_names_free(char **names, size_t count) {
    PK_ASSERT(names != NULL || count == 0);
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

/* Reads n bytes at off, looping over short reads until n or end of file. */
int store_read_full(store_disk *d, int fd, void *p, size_t n, uint64_t off, size_t *got) {
    PK_ASSERT(d != NULL && got != NULL);
    PK_ASSERT(p != NULL || n == 0);
    size_t done = 0;
    for (size_t iter = 0; done < n; iter++) {
        PK_ASSERT(iter <= n); /* every successful iteration reads at least one byte */
        size_t g = 0;
        int rc = d->ops->pread(d, fd, (uint8_t *)p + done, n - done, off + done, &g);
        if (rc < 0) return rc;
        if (g == 0) break;
        done += g;
    }
    *got = done;
    return PK_OK;
}

/* Orders uint64 values ascending for qsort. */
static int store_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the numbers of matching names in dir, ascending. */
int store_list_numbered(store_disk *d, const char *dir, const char *prefix, const char *suffix,
                        uint64_t **nums_out, size_t *count_out) {
    PK_ASSERT(d != NULL && dir != NULL);
    PK_ASSERT(nums_out != NULL && count_out != NULL);
    char **names = NULL;
    size_t count = 0;
    int rc = d->ops->list(d, dir, &names, &count);
    if (rc < 0) return rc;
    uint64_t *nums = pk_malloc(sizeof(uint64_t) * (count ? count : 1));
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t v;
        if (store_name_parse(names[i], prefix, suffix, &v)) nums[n++] = v;
    }
    store_names_free(names, count);
    qsort(nums, n, sizeof(uint64_t), store_cmp_u64);
    *nums_out = nums;
    *count_out = n;
    return PK_OK;
}

/* Formats a message into errmsg when there is one. */
void store_errmsg(char *errmsg, size_t len, const char *fmt, ...) {
    if (errmsg == NULL || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, len, fmt, ap);
    va_end(ap);
}

/* Appends a message to errmsg when there is one (separated by "; "). */
void store_errmsg_append(char *errmsg, size_t len, const char *fmt, ...) {
    if (errmsg == NULL || len == 0) return;
    size_t used = strnlen(errmsg, len);
    if (used + 3 >= len) return;
    if (used > 0) {
        memcpy(errmsg + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg + used, len - used, fmt, ap);
    va_end(ap);
}
