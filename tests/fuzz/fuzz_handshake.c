/* libFuzzer target: a client byte stream decoded exactly as the server does. First frame: 4-byte length +
 * ConnectRequest body (44 or 45 bytes with a 16-byte passwd, else the connection is dropped); the server's
 * reply must be 36 or 37 bytes mirroring readOnly. Then frames of RequestHeader + body decoded by op (multi
 * bodies iterated to their end), each answered with a ReplyHeader frame, until the input ends or a frame is
 * malformed (the server would close the connection). */
#include "fuzz_common.h"

/* The largest frame body the fuzz server accepts (small, to exercise the limit). */
#define FUZZ_MAX_FRAME_LEN 65536
/* At most this many request frames per input (every frame is >= 4 bytes, so this is a safety bound). */
#define FUZZ_MAX_FRAMES 100000

/* Handles the ConnectRequest frame; returns the bytes consumed, or 0 to drop the connection. */
static size_t fz_handshake(const uint8_t *p, size_t n, pk_buf *out) {
    size_t body_len = 0;
    if (jute_frame_peek(p, n, FUZZ_MAX_FRAME_LEN, &body_len) != 1) return 0;
    if (body_len != ZK_CONNECT_REQUEST_LEN && body_len != ZK_CONNECT_REQUEST_LEN_OLD) return 0;
    jute_reader r;
    jute_reader_init(&r, p + JUTE_FRAME_HEADER_LEN, body_len, FUZZ_MAX_FIELD_LEN);
    struct wire_connect_request c;
    if (wire_connect_request_decode(&r, &c) != 0 || !jute_reader_done(&r)) return 0;
    if (c.passwd.len != ZK_PASSWD_LEN) return 0;
    PK_ASSERT(c.has_read_only == (body_len == ZK_CONNECT_REQUEST_LEN));
    static const uint8_t passwd[ZK_PASSWD_LEN];
    struct wire_connect_response resp = {.protocol_version = 0, .timeout_ms = c.timeout_ms, .session_id = c.session_id,
                                         .passwd = {passwd, ZK_PASSWD_LEN}, .read_only = false,
                                         .has_read_only = c.has_read_only};
    size_t mark = jute_frame_begin(out);
    wire_connect_response_encode(out, &resp);
    jute_frame_end(out, mark);
    PK_ASSERT(out->len - mark - 4 == (c.has_read_only ? ZK_CONNECT_RESPONSE_LEN : ZK_CONNECT_RESPONSE_LEN_OLD));
    return JUTE_FRAME_HEADER_LEN + body_len;
}

/* Handles one request frame body; returns false when the server would close the connection. */
static bool fz_request_frame(const uint8_t *p, size_t n, pk_buf *out) {
    jute_reader r;
    jute_reader_init(&r, p, n, FUZZ_MAX_FIELD_LEN);
    struct wire_request_header h;
    if (wire_request_header_decode(&r, &h) != 0) return false;
    struct wire_request q;
    int rc = wire_request_decode(&r, h.type, &q);
    int32_t err = ZK_ERR_OK;
    if (rc == PK_ENOENT) err = ZK_ERR_UNIMPLEMENTED;
    else if (rc != 0) err = ZK_ERR_MARSHALLING;
    else {
        (void)fuzz_walk_request(&q);
        fuzz_check_request_reencode(&q, r.pos - WIRE_REQUEST_HEADER_LEN);
        if (h.type == ZK_OP_MULTI || h.type == ZK_OP_MULTI_READ) (void)fuzz_walk_multi(h.type, q.u.multi);
    }
    size_t mark = jute_frame_begin(out);
    struct wire_reply_header rh = {.xid = h.xid, .zxid = 1, .err = err};
    wire_reply_header_encode(out, &rh);
    jute_frame_end(out, mark);
    return err != ZK_ERR_UNIMPLEMENTED && h.type != ZK_OP_CLOSE_SESSION;
}

/* libFuzzer entry point: run one connection's worth of client bytes through the server's decoding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pk_buf out;
    pk_buf_init(&out);
    size_t pos = fz_handshake(data, size, &out);
    for (uint32_t frames = 0; pos > 0 && pos < size && frames < FUZZ_MAX_FRAMES; frames++) {
        size_t body_len = 0;
        int rc = jute_frame_peek(data + pos, size - pos, FUZZ_MAX_FRAME_LEN, &body_len);
        PK_ASSERT(rc == 0 || rc == 1 || rc == PK_ETOOBIG);
        if (rc != 1) break;
        PK_ASSERT(pos + JUTE_FRAME_HEADER_LEN + body_len <= size);
        if (!fz_request_frame(data + pos + JUTE_FRAME_HEADER_LEN, body_len, &out)) break;
        pos += JUTE_FRAME_HEADER_LEN + body_len;
    }
    pk_buf_deinit(&out);
    return 0;
}
