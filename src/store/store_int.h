/* store internals shared by wal.c, meta.c and snap.c: path building, name parsing, full reads/writes.
 * Not part of the public API; nothing outside src/store includes this header.
 */
#ifndef PK_STORE_INT_H
#define PK_STORE_INT_H

#include "store/store.h"

enum { STORE_PATH_MAX = 4096 };

/* Writes "dir/name" into out (cap bytes); PK_EINVAL when it does not fit. */
int store_path_join(char *out, size_t cap, const char *dir, const char *name);
/* Parses "<prefix><20 digits><suffix>" into *num; false when name has another shape. */
bool store_name_parse(const char *name, const char *prefix, const char *suffix, uint64_t *num);
/* Formats "<prefix><num as 20 digits><suffix>" into out (cap bytes, at least 64). */
void store_name_format(char *out, size_t cap, const char *prefix, uint64_t num, const char *suffix);
/* Frees a name list returned by the disk's list op. */
void store_names_free(char **names, size_t count);
/* Reads up to n bytes at off, looping over short reads; *got < n only at end of file. */
int store_read_full(store_disk *d, int fd, void *p, size_t n, uint64_t off, size_t *got);
/* Lists dir and returns the numbers of names "<prefix><20 digits><suffix>", sorted ascending (caller frees). */
int store_list_numbered(store_disk *d, const char *dir, const char *prefix, const char *suffix,
                        uint64_t **nums_out, size_t *count_out);
/* Writes errmsg (if non-NULL) with a printf format. */
void store_errmsg(char *errmsg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends to errmsg (if non-NULL), keeping what is there. */
void store_errmsg_append(char *errmsg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
