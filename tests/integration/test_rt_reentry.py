"""Regression: writes that a client pipelines behind its ConnectRequest (or behind a paused pipeline) are
resolved while a chosen slot is being applied; when they fill the batch past its flush limit (4 MiB) the
batch is proposed right there. pk-server used to apply the chosen slots again inside that proposal (its
applied slot was not advanced yet), hit "applying a chosen txn failed (state machine divergence)" and exit
70: any client could stop the server (found by review). Fails on that code (connection closed, server exit 70)
and passes against ZooKeeper 3.8.0 and the fixed pk-server.
"""

import os
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkserver  # noqa: E402
import zkwire  # noqa: E402
from conftest import new_port, roundtrip  # noqa: E402

VALUE_BYTES = 1000000   # under the default jute.maxbuffer (1 MiB - 1) with the request around it
WRITES = 6              # 6 MB: crosses the 4 MiB batch limit while the createSession is applied


def frame(payload):
    """A length-prefixed frame."""
    return struct.pack(">i", len(payload)) + payload


def send_while_stopped(server, conn, wire):
    """Sends wire while the server process is stopped, so that most of it is already buffered when the server
    handles the ConnectRequest (without the pause the createSession may be applied before the rest arrives)."""
    sender = threading.Thread(target=conn.send_raw, args=(wire,))
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        sender.start()
        time.sleep(0.3)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    sender.join(60)
    assert not sender.is_alive()


def test_large_writes_pipelined_behind_the_handshake(server):
    for attempt in range(3):
        c = zkwire.Conn("127.0.0.1", server.port, io_timeout_s=60)
        c.open_socket()
        c.sock.setsockopt(zkwire.socket.SOL_SOCKET, zkwire.socket.SO_SNDBUF, 8 << 20)
        data = [bytes([65 + i]) * VALUE_BYTES for i in range(WRITES)]
        wire = frame(zkwire.req_connect(0, 30000))
        for i in range(WRITES):
            body = zkwire.req_create("/reentry-%d-%d" % (attempt, i), data[i], zkwire.OPEN_ACL, 0)
            wire += frame(struct.pack(">ii", i + 1, zkwire.OP_CREATE) + body)
        send_while_stopped(server, c, wire)
        hs = zkwire.decode_connect_response(c.read_frame())
        assert hs["timeOut"] > 0, hs
        c.session_id, c.passwd = hs["sessionId"], hs["passwd"]
        for i in range(WRITES):
            rep = c.recv_reply(i + 1, timeout_s=60)
            assert rep.err == 0, (attempt, i, rep)
        c.xid = WRITES
        for i in range(WRITES):
            g = c.get_data("/reentry-%d-%d" % (attempt, i))
            assert g.err == 0 and zkwire.decode_body(zkwire.OP_GETDATA, g.body)[0] == data[i], (attempt, i)
        c.close_session()
        c.close()
    roundtrip(server)


def test_write_over_the_log_entry_limit_with_a_large_jute_maxbuffer(kind):
    """jute.maxbuffer=32 MiB and a 20 MB create: ZooKeeper stores it; pk-server clamps jute.maxbuffer to 8 MiB (a
    write must fit one replicated log entry) and closes the connection like ZooKeeper does for any frame over
    jute.maxbuffer. pk-server used to accept the frame and stop on an assertion (the batch exceeded px's 16 MiB
    value limit). Either way the server must go on serving."""
    s = zkserver.Server(kind, new_port(kind), name="bigwrite-%s" % kind, java_props=["-Djute.maxbuffer=33554432"])
    s.start(timeout_s=60)
    try:
        c = zkwire.connect("127.0.0.1", s.port, io_timeout_s=60)
        big = b"z" * 20000000
        try:
            rep = c.create("/big", big)
            created = rep.err == 0
        except zkwire.ConnClosed:
            created = False
        if kind == "pk":
            assert not created, "pk-server took a 20 MB write"
        else:
            assert created
        c.close()
        roundtrip(s)
        d = zkwire.connect("127.0.0.1", s.port, io_timeout_s=60)
        g = d.get_data("/big")
        assert (g.err == 0 and zkwire.decode_body(zkwire.OP_GETDATA, g.body)[0] == big) if created else g.err == -101
        d.close_session()
        d.close()
        assert s.running
    finally:
        s.stop()
        s.cleanup()


def test_full_window_holds_requests_back(kind, monkeypatch):
    """px's window of unchosen slots fills when the WAL falls behind (a slow disk): a full batch (4 MiB) then
    cannot be proposed. pk-server used to keep resolving requests into it until it passed px's 16 MiB value
    limit and stopped on an assertion; now connections stop taking requests until the batch is proposed.
    PK_TEST_WINDOW_SLOTS=1 makes the window fill at the second batch (ZooKeeper ignores the variable)."""
    monkeypatch.setenv("PK_TEST_WINDOW_SLOTS", "1")
    s = zkserver.Server(kind, new_port(kind), name="window-%s" % kind)
    s.start(timeout_s=60)
    try:
        conns = [zkwire.connect("127.0.0.1", s.port, io_timeout_s=120) for _ in range(6)]
        assert conns[0].create("/w", b"").err == 0
        for i in range(len(conns)):
            assert conns[0].create("/w/%d" % i, b"").err == 0
        xids = []
        for rnd in range(12):
            for i, c in enumerate(conns):
                body = zkwire.req_setdata("/w/%d" % i, bytes([48 + rnd % 10]) * 900000, -1)
                xids.append((c, c.send_request(zkwire.OP_SETDATA, body)))
        for c, xid in xids:
            rep = c.recv_reply(xid, timeout_s=120)
            assert rep.err == 0, rep
        for i, c in enumerate(conns):
            g = c.exists("/w/%d" % i)
            assert zkwire.decode_body(zkwire.OP_EXISTS, g.body)["version"] == 12
            c.close_session()
            c.close()
        roundtrip(s)
        assert s.running
    finally:
        s.stop()
        s.cleanup()
