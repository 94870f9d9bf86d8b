"""Limits a ZooKeeper operator relies on: maxClientCnxns per client IP, session timeout negotiation.

Runs against PK_TARGET (pk by default; `make test-integration-zk` checks the same expectations against
Apache ZooKeeper 3.8.0).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkserver  # noqa: E402
import zkwire  # noqa: E402
from conftest import new_port  # noqa: E402


def test_max_client_cnxns_per_ip(kind):
    s = zkserver.Server(kind, new_port(kind), name="limits-cnx-%s" % kind, cfg_extra={"maxClientCnxns": "3"})
    s.start(timeout_s=60)
    try:
        conns = [zkwire.connect("127.0.0.1", s.port, io_timeout_s=10) for _ in range(3)]
        extra = zkwire.Conn("127.0.0.1", s.port, io_timeout_s=5)
        refused = False
        try:
            extra.connect()
        except (zkwire.ConnClosed, OSError):
            refused = True
        assert refused, "a 4th connection from one IP must be refused with maxClientCnxns=3"
        conns[0].close_session()
        conns[0].close()
        again = None
        for _ in range(50):  # the server notices the close asynchronously
            try:
                again = zkwire.connect("127.0.0.1", s.port, io_timeout_s=5)
                break
            except (zkwire.ConnClosed, OSError):
                time.sleep(0.1)
        assert again is not None, "a slot freed by a closed connection must be usable again"
        for c in conns[1:] + [again]:
            c.close_session()
            c.close()
    finally:
        s.stop()
        s.cleanup()


def test_session_timeout_negotiation(kind):
    s = zkserver.Server(kind, new_port(kind), name="limits-to-%s" % kind,
                        cfg_extra={"minSessionTimeout": "5000", "maxSessionTimeout": "20000"})
    s.start(timeout_s=60)
    try:
        for asked, expect in ((1000, 5000), (12345, 12345), (100000, 20000)):
            c = zkwire.Conn("127.0.0.1", s.port, timeout_ms=asked, io_timeout_s=10)
            hs = c.connect()
            assert hs["timeOut"] == expect, (asked, hs)
            c.close_session()
            c.close()
    finally:
        s.stop()
        s.cleanup()
