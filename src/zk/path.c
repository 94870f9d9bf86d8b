/* path: ZooKeeper path validation (PathUtils.validatePath, reference §13.3) and parent computation. */
#include "zk/zk_int.h"

/* Decodes one UTF-8 code point at p[*i]; returns it and advances *i, or returns -1 when malformed
 * (Java's decoder would substitute U+FFFD, which the path rules reject anyway). */
static int32_t zk_utf8_next(const uint8_t *p, size_t len, size_t *i) {
    PK_ASSERT(*i < len);
    uint8_t c = p[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t n;
    int32_t cp, min;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return -1;
    if (*i + n >= len) return -1;
    for (size_t k = 1; k <= n; k++) {
        uint8_t cc = p[*i + k];
        if ((cc & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF) return -1;
    *i += n + 1;
    PK_ASSERT(*i <= len);
    return cp;
}

/* True when a code point is forbidden in a path (code points >= U+10000 are surrogate pairs in Java). */
static bool zk_path_cp_bad(int32_t c) {
    return c < 0 || c == 0 || (c > 0 && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xF8FF) ||
           c >= 0xFFF0;
}

/* Validates a path exactly like ZooKeeper's PathUtils.validatePath. */
bool zk_path_valid(pk_slice path) {
    const uint8_t *p = path.ptr;
    size_t len = path.len;
    if (p == NULL || len == 0 || p[0] != '/') return false;
    if (len == 1) return true;
    if (p[len - 1] == '/') return false;
    size_t i = 1;
    int32_t last = '/';
    size_t guard = 0;
    while (i < len) {
        PK_ASSERT(guard++ <= len);
        size_t at = i;
        int32_t c = zk_utf8_next(p, len, &i);
        if (zk_path_cp_bad(c)) return false;
        if (c == '/' && last == '/') return false;
        if (c == '.') {
            bool seg_end = (i == len || p[i] == '/');
            if (last == '/' && seg_end) return false;                                 /* "." segment */
            if (last == '.' && at >= 2 && p[at - 2] == '/' && seg_end) return false;  /* ".." segment */
        }
        last = c;
    }
    return true;
}

/* Length of the parent path of a valid non-root path ("/a" -> 1, "/a/b" -> 2). */
size_t zk_path_parent_len(pk_slice path) {
    PK_ASSERT(path.len >= 2 && path.ptr[0] == '/');
    size_t i = path.len - 1;
    while (i > 0 && path.ptr[i] != '/') i--;
    PK_ASSERT(path.ptr[i] == '/');
    return i == 0 ? 1 : i;
}
