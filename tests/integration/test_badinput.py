"""(c) Bad input never crashes the server: after each abuse it still answers ruok and serves.

Each case opens raw TCP connections and sends malformed or hostile bytes; the server may answer
with an error or close the connection, but must stay up: afterwards `ruok` answers `imok` and a
fresh session can create and read a znode.
"""

import os
import socket
import struct
import time

import pytest

import zkwire as w
from conftest import roundtrip

I = w.w_int


def raw(server):
    """A raw TCP socket to the server."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_quiet(s, data):
    """Send, ignoring errors (the server may already have closed)."""
    try:
        s.sendall(data)
    except OSError:
        pass


def drain(s, timeout_s=2.0):
    """Read until close or timeout; returns the bytes received."""
    out = b""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def rst_close(s):
    """Close with a TCP RST (SO_LINGER 0): the client vanishes."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def session(server):
    """A connected wire client."""
    return w.connect("127.0.0.1", server.port, io_timeout_s=5)


def framed(payload):
    return I(len(payload)) + payload


def case_garbage(server):
    s = raw(server)
    send_quiet(s, os.urandom(4096))
    drain(s, 1)
    s.close()


def case_negative_length(server):
    s = raw(server)
    send_quiet(s, I(-5) + b"abcd")
    drain(s, 1)
    s.close()


def case_huge_length(server):
    s = raw(server)
    send_quiet(s, I(0x7fffff00) + b"x" * 100)
    drain(s, 1)
    s.close()


def case_oversized_frame(server):
    """A 2 MiB frame (above jute.maxbuffer) after a valid handshake."""
    c = session(server)
    payload = struct.pack(">ii", 1, w.OP_CREATE) + w.req_create("/big", b"x" * (2 << 20),
                                                               w.OPEN_ACL, 0)
    send_quiet(c.sock, framed(payload))
    drain(c.sock, 2)
    c.close()


def case_data_just_over_maxbuffer(server):
    """A create whose data is 1 MiB: the server answers an error or closes; no crash."""
    c = session(server)
    try:
        r = c.create("/toolarge", b"y" * (1 << 20))
        assert r.err != 0
    except (w.ConnClosed, socket.timeout):
        pass
    c.close()


def case_truncated_connect(server):
    s = raw(server)
    send_quiet(s, I(45) + b"\x00" * 10)
    s.close()


def case_short_connect(server):
    """A complete frame that is too short to be a ConnectRequest."""
    s = raw(server)
    send_quiet(s, framed(b"\x00" * 7))
    drain(s, 1)
    s.close()


def case_bad_passwd_length(server):
    """ConnectRequest with a passwd length field of 2^31-1."""
    s = raw(server)
    body = I(0) + w.w_long(0) + I(30000) + w.w_long(0) + I(0x7fffffff) + b"\x00" * 16
    send_quiet(s, framed(body))
    drain(s, 1)
    s.close()


def case_request_shorter_than_header(server):
    c = session(server)
    send_quiet(c.sock, framed(b"\x00\x01\x02"))
    drain(c.sock, 1)
    c.close()


def case_truncated_record(server):
    """create with a body that stops in the middle of the path string."""
    c = session(server)
    send_quiet(c.sock, framed(struct.pack(">ii", 1, w.OP_CREATE) + I(50) + b"/abc"))
    drain(c.sock, 1)
    c.close()


def case_huge_string_length(server):
    c = session(server)
    send_quiet(c.sock, framed(struct.pack(">ii", 1, w.OP_GETDATA) + I(0x7ffffff0) + b"/a\x00"))
    drain(c.sock, 1)
    c.close()


def case_huge_acl_count(server):
    c = session(server)
    body = w.w_string("/acl") + w.w_buffer(b"d") + I(0x7fffffff) + I(31)
    send_quiet(c.sock, framed(struct.pack(">ii", 1, w.OP_CREATE) + body))
    drain(c.sock, 1)
    c.close()


def case_negative_vector_counts(server):
    c = session(server)
    body = w.w_long(0) + I(-7) + I(-1) + I(-100)
    send_quiet(c.sock, framed(struct.pack(">ii", 1, w.OP_SETWATCHES) + body))
    drain(c.sock, 1)
    c.close()


def case_huge_setwatches_count(server):
    c = session(server)
    body = w.w_long(0) + I(0x7fffffff) + w.w_string("/x")
    send_quiet(c.sock, framed(struct.pack(">ii", 1, w.OP_SETWATCHES) + body))
    drain(c.sock, 1)
    c.close()


def case_multi_without_end(server):
    c = session(server)
    body = I(w.OP_CREATE) + w.w_bool(False) + I(-1) + w.req_create("/m", b"", w.OPEN_ACL, 0)
    send_quiet(c.sock, framed(struct.pack(">ii", 1, w.OP_MULTI) + body))
    drain(c.sock, 1)
    c.close()


def case_multi_many_ops(server):
    """A multi with 20000 check ops (well under maxbuffer)."""
    c = session(server)
    ops = [(w.OP_CHECK, w.req_path_version("/", -1))] * 20000
    try:
        c.call(w.OP_MULTI, w.req_multi(ops), timeout_s=20)
    except (w.ConnClosed, socket.timeout):
        pass
    c.close()


def case_bad_utf8_path(server):
    c = session(server)
    try:
        c.call(w.OP_CREATE, w.w_string(b"/\xff\xfe\xc0") + w.w_buffer(b"") + w.w_acl(w.OPEN_ACL)
               + I(0))
    except (w.ConnClosed, socket.timeout):
        pass
    c.close()


def case_unknown_opcodes(server):
    for op in (0, 13, 20, 99, 1000, -10, -1, 0x7fffffff):
        c = session(server)
        try:
            c.call(op, os.urandom(16), timeout_s=2)
        except (w.ConnClosed, socket.timeout, w.DecodeError):
            pass
        c.close()


def case_pipeline_then_vanish(server):
    """500 pipelined requests, then a TCP reset without reading any reply."""
    c = session(server)
    reqs = b"".join(framed(struct.pack(">ii", i + 1, w.OP_CREATE)
                           + w.req_create("/pipe%d" % i, b"z" * 100, w.OPEN_ACL, 1))
                    for i in range(500))
    send_quiet(c.sock, reqs)
    rst_close(c.sock)


def case_half_frame_then_vanish(server):
    c = session(server)
    payload = struct.pack(">ii", 1, w.OP_CREATE) + w.req_create("/half", b"h" * 1000,
                                                               w.OPEN_ACL, 0)
    send_quiet(c.sock, framed(payload)[:500])
    rst_close(c.sock)


def case_vanish_during_handshake(server):
    s = raw(server)
    send_quiet(s, framed(w.req_connect())[:20])
    rst_close(s)


def case_bad_4lw(server):
    for cmd in (b"abcd", b"ru", b"ruokruok", b"stmk", b"\xff\xff\xff\xff"):
        s = raw(server)
        send_quiet(s, cmd)
        drain(s, 0.5)
        s.close()


def case_many_connections(server):
    socks = []
    for _ in range(200):
        try:
            socks.append(raw(server))
        except OSError:
            break
    for s in socks[::2]:
        rst_close(s)
    for s in socks[1::2]:
        s.close()


def case_slow_reader(server):
    """A client that requests a lot of data and never reads it, then vanishes."""
    c = session(server)
    assert c.create("/slow", b"s" * 500000).err in (0, -110)
    req = framed(struct.pack(">ii", 1, w.OP_GETDATA) + w.req_path_watch("/slow", False))
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    send_quiet(c.sock, req * 200)
    time.sleep(1.0)
    rst_close(c.sock)


def case_auth_garbage(server):
    c = session(server)
    for scheme in ("digest", "nosuchscheme", "", "ip", "super"):
        try:
            c.call(w.OP_AUTH, w.req_auth(scheme, os.urandom(40)), xid=w.XID_AUTH, timeout_s=2)
        except (w.ConnClosed, socket.timeout):
            c.close()
            c = session(server)
    c.close()


CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input_does_not_crash(server, case):
    roundtrip(server)
    case(server)
    time.sleep(0.1)
    assert server.running, "server process died:\n" + server.log_tail()
    assert server.is_up(), "server does not answer ruok after %s:\n%s" % (case.__name__,
                                                                          server.log_tail())
    roundtrip(server)


def test_all_cases_in_one_server(server):
    """All cases back to back on one server (state accumulated across cases)."""
    for case in CASES:
        case(server)
        assert server.running, "died at %s:\n%s" % (case.__name__, server.log_tail())
    time.sleep(0.2)
    assert server.is_up()
    roundtrip(server)
