"""Regression: many pipelined writes from several sessions all complete (rt group commit).

Bug (found by pk-bench): rt's WAL completion handler stepped px with the finished batch's tokens while a
nested step could already start the next WAL write, which reused the token array under the loop; tokens
were lost, px never heard PERSISTED for them, and every later write (and new session) hung. The test
keeps several sessions with deep pipelines of setData and creates going until each has its replies.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkwire  # noqa: E402
from conftest import roundtrip  # noqa: E402

SESSIONS = 6
DEPTH = 64
ROUNDS = 40


def test_pipelined_writes_all_complete(server):
    conns = [zkwire.connect("127.0.0.1", server.port, io_timeout_s=20) for _ in range(SESSIONS)]
    base = conns[0].create("/pipe", b"")
    assert base.err in (0, -110), base
    for i, c in enumerate(conns):
        assert c.create("/pipe/n%d" % i, b"").err == 0
    for r in range(ROUNDS):
        xids = []
        for i, c in enumerate(conns):
            for k in range(DEPTH):
                if k % 4 == 3:
                    body = zkwire.req_create("/pipe/n%d/c-" % i, b"x", zkwire.OPEN_ACL, 2)
                    xids.append((c, c.send_request(zkwire.OP_CREATE, body), zkwire.OP_CREATE))
                else:
                    body = zkwire.req_setdata("/pipe/n%d" % i, os.urandom(100), -1)
                    xids.append((c, c.send_request(zkwire.OP_SETDATA, body), zkwire.OP_SETDATA))
        for c, xid, op in xids:
            rep = c.recv_reply(xid, timeout_s=20)
            assert rep.err == 0, (r, op, rep)
    # Every setData landed: version counts them.
    expected_sets = ROUNDS * (DEPTH - DEPTH // 4)
    for i, c in enumerate(conns):
        g = c.exists("/pipe/n%d" % i)
        assert g.err == 0
        stat = zkwire.decode_body(zkwire.OP_EXISTS, g.body)
        assert stat["version"] == expected_sets, (i, stat["version"], expected_sets)
        kids = zkwire.decode_body(zkwire.OP_GETCHILDREN, c.get_children("/pipe/n%d" % i).body)
        assert len(kids) == ROUNDS * (DEPTH // 4)
    for c in conns:
        c.close_session()
        c.close()
    roundtrip(server)


def test_inline_and_pool_commits_interleave(server):
    """Single writes on an idle server (committed inline on the loop thread), pairs (still inline), deep
    pipelines (committed on the pool) and new sessions (createSession/closeSession txns) alternate; every reply
    comes in request order, a read pipelined right behind a write sees it, and every write landed once."""
    a = zkwire.connect("127.0.0.1", server.port, io_timeout_s=20)
    b = zkwire.connect("127.0.0.1", server.port, io_timeout_s=20)
    assert a.create("/mix", b"").err == 0
    assert a.create("/mix/a", b"").err == 0
    assert b.create("/mix/b", b"").err == 0
    sets_a = sets_b = creates = 0
    for r in range(12):
        # 1) one write at a time, each acknowledged before the next (inline group commits of one txn)
        for k in range(5):
            val = b"a-%d-%d" % (r, k)
            assert a.set_data("/mix/a", val).err == 0
            sets_a += 1
            got = a.get_data("/mix/a")
            assert got.err == 0 and zkwire.decode_body(zkwire.OP_GETDATA, got.body)[0] == val
        # 2) a pair of writes plus a read behind them in one send (small batch)
        x1 = a.send_request(zkwire.OP_SETDATA, zkwire.req_setdata("/mix/a", b"p1-%d" % r, -1))
        x2 = b.send_request(zkwire.OP_SETDATA, zkwire.req_setdata("/mix/b", b"p2-%d" % r, -1))
        x3 = a.send_request(zkwire.OP_GETDATA, zkwire.req_path_watch("/mix/a", False))
        assert a.recv_reply(x1).err == 0 and b.recv_reply(x2).err == 0
        rep = a.recv_reply(x3)
        assert rep.err == 0 and zkwire.decode_body(zkwire.OP_GETDATA, rep.body)[0] == b"p1-%d" % r
        sets_a += 1
        sets_b += 1
        # 3) a deep pipeline on both sessions (large batches), the last request a read of the last write
        xids = []
        for k in range(DEPTH):
            c, path = (a, "/mix/a") if k % 2 == 0 else (b, "/mix/b")
            if k % 8 == 7:
                body = zkwire.req_create("/mix/c-", b"x", zkwire.OPEN_ACL, 2)
                xids.append((c, c.send_request(zkwire.OP_CREATE, body)))
                creates += 1
            else:
                xids.append((c, c.send_request(zkwire.OP_SETDATA, zkwire.req_setdata(path, b"d-%d-%d" % (r, k), -1))))
                if c is a:
                    sets_a += 1
                else:
                    sets_b += 1
        last = b.send_request(zkwire.OP_GETDATA, zkwire.req_path_watch("/mix/b", False))
        for c, xid in xids:
            assert c.recv_reply(xid).err == 0
        rep = b.recv_reply(last)
        assert zkwire.decode_body(zkwire.OP_GETDATA, rep.body)[0] == b"d-%d-%d" % (r, DEPTH - 3)
        # 4) a session comes and goes between the phases
        s = zkwire.connect("127.0.0.1", server.port, io_timeout_s=20)
        assert s.exists("/mix/a").err == 0
        s.close_session()
        s.close()
    for c, path, n in ((a, "/mix/a", sets_a), (b, "/mix/b", sets_b)):
        stat = zkwire.decode_body(zkwire.OP_EXISTS, c.exists(path).body)
        assert stat["version"] == n, (path, stat["version"], n)
    kids = zkwire.decode_body(zkwire.OP_GETCHILDREN, a.get_children("/mix").body)
    assert len(kids) == 2 + creates
    for c in (a, b):
        c.close_session()
        c.close()
    roundtrip(server)


def test_kill9_with_inline_and_pool_commits(server):
    """kill -9 while one session pipelines writes (pool commits) and two write one at a time (inline commits):
    after the restart every acknowledged write is there, in order (a node's version never falls below the
    number of acknowledged setData on it)."""
    import random
    import socket
    import threading
    import time

    rng = random.Random(4242)
    c0 = zkwire.connect("127.0.0.1", server.port, io_timeout_s=20)
    for p in ("/k9", "/k9/pipe", "/k9/s0", "/k9/s1"):
        assert c0.create(p, b"").err in (0, -110)
    c0.close_session()
    c0.close()
    acked = {"/k9/pipe": 0, "/k9/s0": 0, "/k9/s1": 0}
    acked_creates = set()
    for rnd in range(4):
        stop = threading.Event()
        counts = {p: 0 for p in acked}
        created = []

        def pipeliner():
            c = zkwire.connect("127.0.0.1", server.port, io_timeout_s=10)
            try:
                while not stop.is_set():
                    xids = [c.send_request(zkwire.OP_SETDATA, zkwire.req_setdata("/k9/pipe", b"v", -1))
                            for _ in range(48)]
                    for xid in xids:
                        if c.recv_reply(xid).err == 0:
                            counts["/k9/pipe"] += 1
            except (zkwire.ConnClosed, socket.timeout, OSError, zkwire.DecodeError):
                pass
            finally:
                c.close()

        def single(path, wid):
            c = zkwire.connect("127.0.0.1", server.port, io_timeout_s=10)
            try:
                for k in range(10 ** 6):
                    if stop.is_set():
                        break
                    if c.set_data(path, b"s").err == 0:
                        counts[path] += 1
                    node = "/k9/n-%d-%d-%d" % (rnd, wid, k)
                    if c.create(node, b"c").err == 0:
                        created.append(node)
            except (zkwire.ConnClosed, socket.timeout, OSError, zkwire.DecodeError):
                pass
            finally:
                c.close()

        threads = [threading.Thread(target=pipeliner, daemon=True),
                   threading.Thread(target=single, args=("/k9/s0", 0), daemon=True),
                   threading.Thread(target=single, args=("/k9/s1", 1), daemon=True)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.0))
        server.kill()
        stop.set()
        for t in threads:
            t.join(20)
            assert not t.is_alive()
        server.start(timeout_s=60)
        c = zkwire.connect("127.0.0.1", server.port, io_timeout_s=20)
        for p, n in counts.items():
            acked[p] += n
            stat = zkwire.decode_body(zkwire.OP_EXISTS, c.exists(p).body)
            assert stat["version"] >= acked[p], (rnd, p, stat["version"], acked[p])
            acked[p] = stat["version"]   # unacknowledged writes that landed count from here on
        acked_creates.update(created)
        for node in sorted(acked_creates):
            assert c.exists(node).err == 0, (rnd, node)
        c.close_session()
        c.close()
    assert acked["/k9/pipe"] > 0 and acked["/k9/s0"] > 0 and len(acked_creates) > 0
