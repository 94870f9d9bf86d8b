"""Watch fan-out delivery (rt_conn_fanout): one notification frame is encoded per (type, path) of an applied txn
and copied to every watcher, so these tests pin what that copy must preserve. They pass against ZooKeeper 3.8
too (`make test-integration-zk`), which is the reference for every expectation here.

- many watches on one connection: one event per table and path, in the txn's order, with each path's own bytes
  (a multi triggers several paths in one apply, so the shared frame must be re-encoded between them);
- the writer's own watch: its notification arrives before its setData reply;
- a watcher that stops reading while a persistent watch keeps firing (its output backs up into libuv's async
  write) delays nobody else and later receives every event, in order;
- watchers whose connections are reset around the fan-out: the others get their event, the server keeps serving.
"""

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkwire  # noqa: E402
from conftest import roundtrip  # noqa: E402

EV_CREATED, EV_DELETED, EV_DATA, EV_CHILD = 1, 2, 3, 4
MULTI_SETDATA = 5
MULTI_CREATE = 1


def events_of(conn):
    """(type, path) of the events collected on conn, in arrival order."""
    return [(t, p) for _, (t, _s, p) in conn.take_events()]


def read_events(conn, count, timeout_s=30):
    """Reads exactly count notification frames from conn (nothing else may arrive); returns [(type, path)]."""
    out = []
    for _ in range(count):
        rep = zkwire.Reply(conn.read_frame(timeout_s))
        assert rep.xid == zkwire.XID_WATCH, rep
        t, _s, p = zkwire.decode_event(rep.body)
        out.append((t, p))
    return out


def test_many_watches_on_one_connection_get_their_own_paths(server):
    w = zkwire.connect("127.0.0.1", server.port)
    wr = zkwire.connect("127.0.0.1", server.port)
    assert wr.create("/fan").err == 0
    for name in ("a", "bb", "ccc"):
        assert wr.create("/fan/" + name, b"0").err == 0
    # One connection: getData + exists on the same path (one data-table watch), children of the parent, and
    # data watches on three children whose paths differ in length.
    assert w.get_data("/fan/a", watch=True).err == 0
    assert w.exists("/fan/a", watch=True).err == 0
    assert w.get_children("/fan", watch=True).err == 0
    for name in ("bb", "ccc"):
        assert w.get_data("/fan/" + name, watch=True).err == 0
    # One txn, several events: setData on three children then a create under the parent.
    ops = [(MULTI_SETDATA, zkwire.req_setdata("/fan/" + n, b"1", -1)) for n in ("ccc", "a", "bb")]
    ops.append((MULTI_CREATE, zkwire.req_create("/fan/d", b"", zkwire.OPEN_ACL, 0)))
    r = wr.call(zkwire.OP_MULTI, zkwire.req_multi(ops))
    assert r.err == 0, r
    got = read_events(w, 4)
    assert got == [(EV_DATA, "/fan/ccc"), (EV_DATA, "/fan/a"), (EV_DATA, "/fan/bb"), (EV_CHILD, "/fan")], got
    # Every watch was one-shot: another change delivers nothing, and a ping comes back with no event before it.
    assert wr.set_data("/fan/a", b"2").err == 0
    assert w.ping().err == 0
    assert events_of(w) == []
    for c in (w, wr):
        c.close_session()
        c.close()


def test_writer_sees_its_own_event_before_its_reply(server):
    c = zkwire.connect("127.0.0.1", server.port)
    others = [zkwire.connect("127.0.0.1", server.port) for _ in range(20)]
    assert c.create("/own", b"x").err == 0
    for o in others + [c]:
        assert o.get_data("/own", watch=True).err == 0
    xid = c.send_request(zkwire.OP_SETDATA, zkwire.req_setdata("/own", b"y", -1))
    first = zkwire.Reply(c.read_frame())
    assert first.xid == zkwire.XID_WATCH, "the reply overtook the notification: %r" % first
    assert zkwire.decode_event(first.body)[0::2] == (EV_DATA, "/own")
    assert c.recv_reply(xid).err == 0
    for o in others:
        assert read_events(o, 1) == [(EV_DATA, "/own")]
    for o in others + [c]:
        o.close_session()
        o.close()


def test_unreading_watcher_delays_nobody_and_gets_every_event_later(server):
    # Long paths make each notification ~1 KiB: ~8 MB of them exceed what the kernel buffers for a watcher that
    # does not read (its receive buffer does not grow without reads), so the server has to keep the rest queued.
    name = "/slow-" + "p" * 900
    count = 8000
    wr = zkwire.connect("127.0.0.1", server.port, io_timeout_s=60)
    slow = zkwire.connect("127.0.0.1", server.port, io_timeout_s=60)
    fast = zkwire.connect("127.0.0.1", server.port, io_timeout_s=60)
    assert wr.create(name, b"").err == 0
    body = zkwire.w_string(name) + struct.pack(">i", 0)  # addWatch PERSISTENT
    for w in (slow, fast):
        assert w.call(zkwire.OP_ADDWATCH, body).err == 0
    got_fast = []
    reader = threading.Thread(target=lambda: got_fast.extend(read_events(fast, count, timeout_s=60)))
    reader.start()
    xids = [wr.send_request(zkwire.OP_SETDATA, zkwire.req_setdata(name, b"v", -1)) for _ in range(count)]
    for x in xids:
        assert wr.recv_reply(x, timeout_s=60).err == 0
    reader.join(90)
    assert not reader.is_alive(), "the reading watcher did not get its events while another watcher stalled"
    assert got_fast == [(EV_DATA, name)] * count
    # The stalled watcher gets all of them now, in order, then a reply to a request sent after them.
    assert read_events(slow, count, timeout_s=60) == [(EV_DATA, name)] * count
    assert slow.ping().err == 0
    for c in (wr, slow, fast):
        c.close_session()
        c.close()
    roundtrip(server)


def test_unreading_persistent_watcher_is_dropped_past_the_output_limit(server, kind):
    # pk-server drops a client whose unread output passes 64 MiB (checked in the fan-out too: a persistent watch
    # fills a never-reading client's output with no request of its own ever completing). ZooKeeper has no such
    # limit and keeps every event for it.
    name = "/flood-" + "p" * 1000
    count = 80000  # ~83 MB of notifications
    wr = zkwire.connect("127.0.0.1", server.port, io_timeout_s=120)
    slow = zkwire.connect("127.0.0.1", server.port, io_timeout_s=120)
    assert wr.create(name, b"").err == 0
    assert slow.call(zkwire.OP_ADDWATCH, zkwire.w_string(name) + struct.pack(">i", 0)).err == 0
    sent = 0
    for _ in range(count // 1000):
        xids = [wr.send_request(zkwire.OP_SETDATA, zkwire.req_setdata(name, b"", -1)) for _ in range(1000)]
        for x in xids:
            assert wr.recv_reply(x, timeout_s=120).err == 0
        sent += 1000
    got = 0
    try:
        for _ in range(count):
            rep = zkwire.Reply(slow.read_frame(60))
            assert rep.xid == zkwire.XID_WATCH and zkwire.decode_event(rep.body)[0::2] == (EV_DATA, name)
            got += 1
        closed = False
    except zkwire.ConnClosed:
        closed = True
    if kind == "pk":
        assert closed and got < count, (got, count)
        assert "bytes of unread output" in server.log_tail(200, since_start=True)
    else:
        assert not closed and got == count, (got, count)
    wr.close_session()
    wr.close()
    slow.close()
    roundtrip(server)


def reset(conn):
    """Closes conn's socket with a RST (SO_LINGER 0), without closeSession."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_watchers_reset_around_the_fanout(server):
    wr = zkwire.connect("127.0.0.1", server.port)
    assert wr.create("/gone", b"").err == 0
    for rnd in range(5):
        watchers = [zkwire.connect("127.0.0.1", server.port) for _ in range(40)]
        for w in watchers:
            assert w.get_data("/gone", watch=True).err == 0
        # Reset every other watcher: half just before the setData, half right after it was sent (racing the
        # fan-out); the rest must each get exactly one event.
        doomed, kept = watchers[0::2], watchers[1::2]
        for w in doomed[:10]:
            reset(w)
        xid = wr.send_request(zkwire.OP_SETDATA, zkwire.req_setdata("/gone", b"%d" % rnd, -1))
        for w in doomed[10:]:
            reset(w)
        assert wr.recv_reply(xid).err == 0
        for w in kept:
            assert read_events(w, 1) == [(EV_DATA, "/gone")], rnd
            assert w.ping().err == 0
            assert events_of(w) == []
            w.close_session()
            w.close()
    wr.close_session()
    wr.close()
    roundtrip(server)
