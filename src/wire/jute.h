/* jute: ZooKeeper's binary record encoding (BinaryInputArchive / BinaryOutputArchive) and 4-byte framing.
 *
 * Pure module: no I/O, no clocks, no allocation on the read path.
 *
 * Reader invariants (jute_reader):
 *  - It never reads outside [ptr, ptr + len). It never trusts a length, count or flag from the input.
 *  - Errors are sticky: after the first failed read `err` stays set (negative PK_ code) and every later
 *    read returns a zero value (0, false, or a null slice) without consuming anything.
 *  - A buffer/ustring length of -1 is null: the slice has ptr == NULL, len == 0. Any other negative
 *    length is PK_EDECODE; a length > max_field_len is PK_ETOOBIG; a length past the end is PK_EDECODE.
 *    An empty (len 0) buffer/ustring yields a slice with ptr != NULL (pointing into the input), so
 *    jute_is_null() tells null from empty.
 *  - Slices returned by reads are zero-copy views into the input: they live as long as the input bytes.
 *  - A vector count is -1 (null) or 0..N where N * min_elem_size <= remaining bytes, so a hostile count
 *    can never make a caller loop (or allocate) more than the input size allows.
 *
 * Writer invariants: writers append to a pk_buf (which grows; allocation failure aborts). A slice with
 * ptr == NULL is written as null (length -1); a slice with ptr != NULL as its bytes (len may be 0).
 */
#ifndef PK_WIRE_JUTE_H
#define PK_WIRE_JUTE_H

#include "base/base.h"

/* Length prefix of every frame on a ZooKeeper client connection. */
#define JUTE_FRAME_HEADER_LEN 4

/* Bounds-checked cursor over an input byte range. Fields are private to jute.c except via accessors. */
typedef struct jute_reader {
    const uint8_t *ptr;     /* start of the input (may be NULL only when len == 0) */
    size_t len;             /* input length in bytes */
    size_t pos;             /* bytes consumed, always <= len */
    int32_t max_field_len;  /* largest accepted buffer/ustring length */
    int err;                /* 0, or the first negative PK_ error (sticky) */
} jute_reader;

/* Starts reading len bytes at p; buffer/ustring lengths above max_field_len (>= 0) are PK_ETOOBIG. */
void jute_reader_init(jute_reader *r, const void *p, size_t len, int32_t max_field_len);
/* Starts reading the bytes of a slice (see jute_reader_init). */
static inline void jute_reader_init_slice(jute_reader *r, pk_slice s, int32_t max_field_len) {
    jute_reader_init(r, s.ptr, s.len, max_field_len);
}
/* Returns the sticky error: 0 if every read so far succeeded, else a negative PK_ code. */
static inline int jute_reader_error(const jute_reader *r) { return r->err; }
/* Returns the number of bytes not yet consumed (0 once an error is set). */
static inline size_t jute_reader_remaining(const jute_reader *r) { return r->err ? 0 : r->len - r->pos; }
/* True when every byte was consumed and no read failed. */
static inline bool jute_reader_done(const jute_reader *r) { return r->err == 0 && r->pos == r->len; }
/* Returns the unconsumed bytes as a slice (a null slice once an error is set). */
pk_slice jute_reader_rest(const jute_reader *r);
/* Sets the sticky error (if none is set yet); err must be negative. Used by record decoders. */
void jute_reader_fail(jute_reader *r, int err);

/* Reads one byte (0 on error). */
uint8_t jute_read_byte(jute_reader *r);
/* Reads a jute boolean: any nonzero byte is true, like Java's reader (false on error). */
bool jute_read_bool(jute_reader *r);
/* Reads a big-endian 32-bit int (0 on error). */
int32_t jute_read_int(jute_reader *r);
/* Reads a big-endian 64-bit long (0 on error). */
int64_t jute_read_long(jute_reader *r);
/* Reads a length-prefixed buffer as a zero-copy slice; -1 gives a null slice (null on error too). */
pk_slice jute_read_buffer(jute_reader *r);
/* Reads a length-prefixed ustring (bytes are not UTF-8 checked); same rules as jute_read_buffer. */
pk_slice jute_read_ustring(jute_reader *r);
/* Reads a vector count: -1 (null) or 0..remaining/min_elem_size; anything else is PK_EDECODE (returns 0). */
int32_t jute_read_vector_count(jute_reader *r, size_t min_elem_size);
/* Consumes n raw bytes and returns them as a slice (null slice on error). */
pk_slice jute_read_raw(jute_reader *r, size_t n);

/* True when s is the null buffer/ustring (as opposed to an empty one). */
static inline bool jute_is_null(pk_slice s) { return s.ptr == NULL; }
/* The null slice: written as length -1. */
static inline pk_slice jute_null(void) { return (pk_slice){NULL, 0}; }
/* A non-null empty slice: written as length 0. */
pk_slice jute_empty(void);

/* Appends one byte. */
void jute_write_byte(pk_buf *b, uint8_t v);
/* Appends a boolean as 0 or 1. */
void jute_write_bool(pk_buf *b, bool v);
/* Appends a big-endian 32-bit int. */
void jute_write_int(pk_buf *b, int32_t v);
/* Appends a big-endian 64-bit long. */
void jute_write_long(pk_buf *b, int64_t v);
/* Appends a buffer: -1 if s.ptr == NULL, else the length and bytes (s.len must fit in int32). */
void jute_write_buffer(pk_buf *b, pk_slice s);
/* Appends a ustring (same encoding as a buffer). */
void jute_write_ustring(pk_buf *b, pk_slice s);
/* Appends a NUL-terminated C string as a ustring; NULL is written as null (-1). */
void jute_write_cstring(pk_buf *b, const char *s);
/* Appends a null buffer/ustring/vector marker (-1). */
void jute_write_null(pk_buf *b);
/* Appends a vector count (count >= -1; -1 = null vector). */
void jute_write_vector_count(pk_buf *b, int32_t count);

/* Appends a 4-byte length placeholder and returns its offset (pass it to jute_frame_end). */
size_t jute_frame_begin(pk_buf *b);
/* Patches the placeholder at `mark` with the number of bytes appended after it. */
void jute_frame_end(pk_buf *b, size_t mark);
/* Looks at the head of a byte stream: returns 1 and sets *body_len when a whole frame (4-byte length +
 * body) is present in p[0..avail), 0 when more bytes are needed, PK_ETOOBIG when the length is < 0 or
 * > max_body_len (ZooKeeper closes the connection: "Len error"). */
int jute_frame_peek(const uint8_t *p, size_t avail, int32_t max_body_len, size_t *body_len);

#endif
