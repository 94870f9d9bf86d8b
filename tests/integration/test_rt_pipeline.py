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
