/* jute: bounds-checked reader and appending writer for ZooKeeper's binary encoding. See jute.h. */
#include "wire/jute.h"

/* The byte a non-null empty slice points at (never dereferenced for len 0). */
static const uint8_t jute_empty_byte = 0;

/* Starts reading len bytes at p. */
void jute_reader_init(jute_reader *r, const void *p, size_t len, int32_t max_field_len) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(p != NULL || len == 0);
    PK_ASSERT(max_field_len >= 0);
    r->ptr = p;
    r->len = len;
    r->pos = 0;
    r->max_field_len = max_field_len;
    r->err = 0;
}

/* Sets the sticky error if none is set yet. */
void jute_reader_fail(jute_reader *r, int err) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(err < 0);
    if (r->err == 0) r->err = err;
}

/* Returns the unconsumed bytes (a null slice once an error is set). */
pk_slice jute_reader_rest(const jute_reader *r) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(r->pos <= r->len);
    if (r->err != 0) return jute_null();
    if (r->ptr == NULL) return jute_empty();
    return (pk_slice){r->ptr + r->pos, r->len - r->pos};
}

/* Returns a pointer to the next n bytes and consumes them, or NULL (and sets PK_EDECODE) if short. */
static const uint8_t *jute_take(jute_reader *r, size_t n) {
    PK_ASSERT(r != NULL);
    PK_ASSERT(r->pos <= r->len);
    if (r->err != 0) return NULL;
    if (n > r->len - r->pos) {
        r->err = PK_EDECODE;
        return NULL;
    }
    if (r->ptr == NULL) return &jute_empty_byte; /* n == 0 on an empty input: no pointer arithmetic on NULL */
    const uint8_t *p = r->ptr + r->pos;
    r->pos += n;
    return p;
}

/* Reads one byte (0 on error). */
uint8_t jute_read_byte(jute_reader *r) {
    const uint8_t *p = jute_take(r, 1);
    return p ? p[0] : 0;
}

/* Reads a boolean: any nonzero byte is true. */
bool jute_read_bool(jute_reader *r) { return jute_read_byte(r) != 0; }

/* Reads a big-endian int32 (0 on error). */
int32_t jute_read_int(jute_reader *r) {
    const uint8_t *p = jute_take(r, 4);
    return p ? (int32_t)pk_get_u32(p) : 0;
}

/* Reads a big-endian int64 (0 on error). */
int64_t jute_read_long(jute_reader *r) {
    const uint8_t *p = jute_take(r, 8);
    return p ? (int64_t)pk_get_u64(p) : 0;
}

/* Reads a length-prefixed byte string as a zero-copy slice (null for -1 and on error). */
pk_slice jute_read_buffer(jute_reader *r) {
    int32_t n = jute_read_int(r);
    if (r->err != 0 || n == -1) return jute_null();
    if (n < -1) {
        jute_reader_fail(r, PK_EDECODE);
        return jute_null();
    }
    if (n > r->max_field_len) {
        jute_reader_fail(r, PK_ETOOBIG);
        return jute_null();
    }
    const uint8_t *p = jute_take(r, (size_t)n);
    if (p == NULL) return jute_null();
    PK_ASSERT(p != NULL && r->pos <= r->len);
    return (pk_slice){p, (size_t)n};
}

/* Reads a ustring (same wire form as a buffer). */
pk_slice jute_read_ustring(jute_reader *r) { return jute_read_buffer(r); }

/* Reads a vector count bounded by the remaining bytes. */
int32_t jute_read_vector_count(jute_reader *r, size_t min_elem_size) {
    PK_ASSERT(min_elem_size > 0);
    int32_t n = jute_read_int(r);
    if (r->err != 0) return 0;
    if (n == -1) return -1;
    if (n < -1 || (size_t)n > (r->len - r->pos) / min_elem_size) {
        jute_reader_fail(r, PK_EDECODE);
        return 0;
    }
    PK_ASSERT(n >= 0);
    return n;
}

/* Consumes n raw bytes. */
pk_slice jute_read_raw(jute_reader *r, size_t n) {
    const uint8_t *p = jute_take(r, n);
    if (p == NULL) return jute_null();
    return (pk_slice){p, n};
}

/* Returns a non-null empty slice. */
pk_slice jute_empty(void) { return (pk_slice){&jute_empty_byte, 0}; }

/* Appends one byte. */
void jute_write_byte(pk_buf *b, uint8_t v) {
    PK_ASSERT(b != NULL);
    pk_buf_append(b, &v, 1);
}

/* Appends a boolean as 0 or 1. */
void jute_write_bool(pk_buf *b, bool v) { jute_write_byte(b, v ? 1 : 0); }

/* Appends a big-endian int32. */
void jute_write_int(pk_buf *b, int32_t v) {
    PK_ASSERT(b != NULL);
    pk_put_u32(pk_buf_extend(b, 4), (uint32_t)v);
}

/* Appends a big-endian int64. */
void jute_write_long(pk_buf *b, int64_t v) {
    PK_ASSERT(b != NULL);
    pk_put_u64(pk_buf_extend(b, 8), (uint64_t)v);
}

/* Appends a buffer (-1 for a null slice). */
void jute_write_buffer(pk_buf *b, pk_slice s) {
    PK_ASSERT(b != NULL);
    if (s.ptr == NULL) {
        PK_ASSERT(s.len == 0);
        jute_write_int(b, -1);
        return;
    }
    PK_ASSERT(s.len <= (size_t)INT32_MAX);
    jute_write_int(b, (int32_t)s.len);
    if (s.len > 0) pk_buf_append(b, s.ptr, s.len);
}

/* Appends a ustring (same form as a buffer). */
void jute_write_ustring(pk_buf *b, pk_slice s) { jute_write_buffer(b, s); }

/* Appends a C string as a ustring; NULL becomes null. */
void jute_write_cstring(pk_buf *b, const char *s) {
    jute_write_buffer(b, s ? pk_slice_str(s) : jute_null());
}

/* Appends the null marker -1. */
void jute_write_null(pk_buf *b) { jute_write_int(b, -1); }

/* Appends a vector count (>= -1). */
void jute_write_vector_count(pk_buf *b, int32_t count) {
    PK_ASSERT(count >= -1);
    jute_write_int(b, count);
}

/* Appends a 4-byte frame-length placeholder and returns its offset. */
size_t jute_frame_begin(pk_buf *b) {
    PK_ASSERT(b != NULL);
    size_t mark = b->len;
    pk_put_u32(pk_buf_extend(b, 4), 0);
    PK_ASSERT(b->len == mark + 4);
    return mark;
}

/* Patches the frame-length placeholder at mark with the bytes written after it. */
void jute_frame_end(pk_buf *b, size_t mark) {
    PK_ASSERT(b != NULL);
    PK_ASSERT(mark + 4 <= b->len);
    size_t body = b->len - mark - 4;
    PK_ASSERT(body <= (size_t)INT32_MAX);
    pk_put_u32(b->data + mark, (uint32_t)body);
}

/* Checks whether a complete frame sits at the head of p[0..avail). */
int jute_frame_peek(const uint8_t *p, size_t avail, int32_t max_body_len, size_t *body_len) {
    PK_ASSERT(p != NULL || avail == 0);
    PK_ASSERT(body_len != NULL && max_body_len >= 0);
    if (avail < JUTE_FRAME_HEADER_LEN) return 0;
    int32_t n = (int32_t)pk_get_u32(p);
    if (n < 0 || n > max_body_len) return PK_ETOOBIG;
    if (avail - JUTE_FRAME_HEADER_LEN < (size_t)n) return 0;
    *body_len = (size_t)n;
    return 1;
}
