/* px_msg: the compact, versioned binary encoding of px messages.
 *
 * Layout: u8 version, u8 type, then the fields the type carries, in this fixed order:
 * ballot (u64 round, u32 node), promised (same), slot u64, chosen_to u64, offset u64, total u64, flags u32,
 * value (u32 length + bytes), entries (u32 count + count x (slot u64, ballot, u32 length, bytes)).
 * All integers big-endian. Decoding never trusts input: every length is bounds-checked, trailing bytes are
 * an error, entries must be in strictly ascending slot order.
 */
#include "px/px.h"

enum {
    F_BALLOT = 1 << 0,
    F_PROMISED = 1 << 1,
    F_SLOT = 1 << 2,
    F_CHOSEN = 1 << 3,
    F_OFFSET = 1 << 4,
    F_TOTAL = 1 << 5,
    F_FLAGS = 1 << 6,
    F_VALUE = 1 << 7,
    F_ENTRIES = 1 << 8,
};

/* Fields carried by each message type, indexed by type. */
static const uint16_t px_msg_fields[PX_MSG_TYPE_MAX + 1] = {
    [PX_MSG_PREPARE] = F_BALLOT | F_SLOT | F_CHOSEN,
    [PX_MSG_PROMISE] = F_BALLOT | F_SLOT | F_CHOSEN | F_OFFSET | F_FLAGS | F_ENTRIES,
    [PX_MSG_NACK] = F_BALLOT | F_PROMISED,
    [PX_MSG_ACCEPT] = F_BALLOT | F_SLOT | F_CHOSEN | F_VALUE,
    [PX_MSG_ACCEPTED] = F_BALLOT | F_SLOT,
    [PX_MSG_HEARTBEAT] = F_BALLOT | F_SLOT | F_CHOSEN,
    [PX_MSG_HEARTBEAT_ACK] = F_BALLOT | F_CHOSEN,
    [PX_MSG_CATCHUP_REQ] = F_SLOT | F_TOTAL,
    [PX_MSG_CATCHUP_ENTRIES] = F_BALLOT | F_PROMISED | F_SLOT | F_CHOSEN | F_TOTAL | F_FLAGS | F_ENTRIES,
    [PX_MSG_SNAPSHOT_CHUNK] = F_SLOT | F_TOTAL | F_OFFSET | F_VALUE,
    [PX_MSG_SNAPSHOT_ACK] = F_SLOT | F_OFFSET,
};

static const char *const px_msg_names[PX_MSG_TYPE_MAX + 1] = {
    [PX_MSG_PREPARE] = "PREPARE",         [PX_MSG_PROMISE] = "PROMISE",
    [PX_MSG_NACK] = "NACK",               [PX_MSG_ACCEPT] = "ACCEPT",
    [PX_MSG_ACCEPTED] = "ACCEPTED",       [PX_MSG_HEARTBEAT] = "HEARTBEAT",
    [PX_MSG_HEARTBEAT_ACK] = "HEARTBEAT_ACK", [PX_MSG_CATCHUP_REQ] = "CATCHUP_REQ",
    [PX_MSG_CATCHUP_ENTRIES] = "CATCHUP_ENTRIES", [PX_MSG_SNAPSHOT_CHUNK] = "SNAPSHOT_CHUNK",
    [PX_MSG_SNAPSHOT_ACK] = "SNAPSHOT_ACK",
};

/* Returns the printable name of a message type. */
const char *px_msg_type_name(uint8_t type) {
    if (type == 0 || type > PX_MSG_TYPE_MAX) return "?";
    PK_ASSERT(px_msg_names[type] != NULL);
    return px_msg_names[type];
}

/* Appends a big-endian u64. */
static void put64(pk_buf *out, uint64_t v) { pk_put_u64(pk_buf_extend(out, 8), v); }
/* Appends a big-endian u32. */
static void put32(pk_buf *out, uint32_t v) { pk_put_u32(pk_buf_extend(out, 4), v); }
/* Appends a ballot (round, node). */
static void put_ballot(pk_buf *out, px_ballot b) { put64(out, b.round); put32(out, b.node); }

/* Appends the encoding of one message with its entries. */
void px_msg_encode(const px_msg *m, const px_entry *entries, pk_buf *out) {
    PK_ASSERT(m->type >= 1 && m->type <= PX_MSG_TYPE_MAX);
    PK_ASSERT(m->entry_count <= PX_MAX_MSG_ENTRIES);
    uint16_t f = px_msg_fields[m->type];
    uint8_t *h = pk_buf_extend(out, 2);
    h[0] = PX_MSG_VERSION;
    h[1] = m->type;
    if (f & F_BALLOT) put_ballot(out, m->ballot);
    if (f & F_PROMISED) put_ballot(out, m->promised);
    if (f & F_SLOT) put64(out, m->slot);
    if (f & F_CHOSEN) put64(out, m->chosen_to);
    if (f & F_OFFSET) put64(out, m->offset);
    if (f & F_TOTAL) put64(out, m->total);
    if (f & F_FLAGS) put32(out, m->flags);
    if (f & F_VALUE) {
        PK_ASSERT(m->value.len <= PX_MAX_VALUE_BYTES);
        put32(out, (uint32_t)m->value.len);
        if (m->value.len) pk_buf_append(out, m->value.ptr, m->value.len);
    }
    if (f & F_ENTRIES) {
        put32(out, m->entry_count);
        for (uint32_t i = 0; i < m->entry_count; i++) {
            PK_ASSERT(entries[i].value.len <= PX_MAX_VALUE_BYTES);
            PK_ASSERT(i == 0 || entries[i].slot > entries[i - 1].slot);
            put64(out, entries[i].slot);
            put_ballot(out, entries[i].ballot);
            put32(out, (uint32_t)entries[i].value.len);
            if (entries[i].value.len) pk_buf_append(out, entries[i].value.ptr, entries[i].value.len);
        }
    }
}

/* A bounds-checked read cursor over untrusted bytes. */
typedef struct px_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
} px_rd;

/* Returns a pointer to the next n bytes, or NULL (and marks the cursor bad) if they are not there. */
static const uint8_t *rd_take(px_rd *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}

/* Reads a u64 (0 on underflow). */
static uint64_t rd64(px_rd *r) { const uint8_t *q = rd_take(r, 8); return q ? pk_get_u64(q) : 0; }
/* Reads a u32 (0 on underflow). */
static uint32_t rd32(px_rd *r) { const uint8_t *q = rd_take(r, 4); return q ? pk_get_u32(q) : 0; }

/* Reads a ballot and checks its node id range (node ids are 1..255; (0,0) is none). */
static px_ballot rd_ballot(px_rd *r) {
    px_ballot b;
    b.round = rd64(r);
    b.node = rd32(r);
    if (b.node > 255 || (b.node == 0 && b.round != 0)) r->bad = true;
    return b;
}

/* Reads one length-prefixed value of at most PX_MAX_VALUE_BYTES. */
static pk_slice rd_value(px_rd *r) {
    uint32_t n = rd32(r);
    if (n > PX_MAX_VALUE_BYTES) {
        r->bad = true;
        return (pk_slice){NULL, 0};
    }
    const uint8_t *q = rd_take(r, n);
    return (pk_slice){n ? q : NULL, q ? n : 0};
}

/* Validates the entries section; returns false when malformed. */
static bool rd_entries(px_rd *r, px_msg *m) {
    m->entry_count = rd32(r);
    if (r->bad || m->entry_count > PX_MAX_MSG_ENTRIES) return false;
    size_t start = r->pos;
    uint64_t prev = 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < m->entry_count && !r->bad; i++) {
        uint64_t slot = rd64(r);
        (void)rd_ballot(r);
        pk_slice v = rd_value(r);
        bytes += v.len;
        if (slot == 0 || slot <= prev || bytes > PX_MAX_MSG_ENTRY_BYTES) r->bad = true;
        prev = slot;
    }
    m->entries = (pk_slice){r->p + start, r->pos - start};
    return !r->bad;
}

/* Decodes and validates one message. */
int px_msg_decode(pk_slice bytes, px_msg *out) {
    memset(out, 0, sizeof *out);
    px_rd r = {bytes.ptr, bytes.len, 0, false};
    if (bytes.len < 2 || bytes.ptr == NULL) return PK_EDECODE;
    const uint8_t *h = rd_take(&r, 2);
    PK_ASSERT(h != NULL);
    if (h[0] != PX_MSG_VERSION || h[1] == 0 || h[1] > PX_MSG_TYPE_MAX) return PK_EDECODE;
    out->type = h[1];
    uint16_t f = px_msg_fields[out->type];
    if (f & F_BALLOT) out->ballot = rd_ballot(&r);
    if (f & F_PROMISED) out->promised = rd_ballot(&r);
    if (f & F_SLOT) out->slot = rd64(&r);
    if (f & F_CHOSEN) out->chosen_to = rd64(&r);
    if (f & F_OFFSET) out->offset = rd64(&r);
    if (f & F_TOTAL) out->total = rd64(&r);
    if (f & F_FLAGS) out->flags = rd32(&r);
    if (f & F_VALUE) out->value = rd_value(&r);
    if ((f & F_ENTRIES) && !rd_entries(&r, out)) r.bad = true;
    if (r.bad || r.pos != r.len) {
        memset(out, 0, sizeof *out);
        return PK_EDECODE;
    }
    PK_ASSERT(r.pos == bytes.len);
    return PK_OK;
}

/* Reads the next entry of a validated message. */
bool px_msg_entry_next(const px_msg *m, size_t *cursor, px_entry *out) {
    PK_ASSERT(*cursor <= m->entries.len);
    if (*cursor >= m->entries.len) return false;
    px_rd r = {m->entries.ptr, m->entries.len, *cursor, false};
    out->slot = rd64(&r);
    out->ballot = rd_ballot(&r);
    out->value = rd_value(&r);
    PK_ASSERT(!r.bad); /* validated at decode */
    *cursor = r.pos;
    return true;
}
