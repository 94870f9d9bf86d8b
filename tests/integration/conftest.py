"""Shared fixtures for the integration suites: a server of kind PK_TARGET (pk or zk).

Ports: pk-server 21900-21949, ZooKeeper 23100-23149 (our assigned ranges).
"""

import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkserver  # noqa: E402
import zkwire  # noqa: E402

PORT_BASE = {"pk": 21900, "zk": 23100}
_next = itertools.count()


def new_port(kind):
    """Next free port in our range for this kind."""
    for _ in range(50):
        p = PORT_BASE[kind] + next(_next) % 50
        if zkserver.port_free(p):
            return p
    raise RuntimeError("no free port in our range")


@pytest.fixture(scope="session")
def kind():
    """pk or zk (env PK_TARGET, default pk)."""
    return zkserver.target_kind()


@pytest.fixture
def server(kind):
    """A fresh running server for one test; stopped and removed afterwards."""
    s = zkserver.Server(kind, new_port(kind), name="integ-%s" % kind)
    s.start(timeout_s=60)
    yield s
    alive = s.running
    rc = s.stop()
    s.cleanup()
    if alive and kind == "pk":
        assert rc == 0, "pk-server exit code %s on SIGTERM (contract: 0)" % rc


def roundtrip(server, path="/__alive"):
    """Prove the server still serves: new session, create-or-set, read back, close."""
    c = zkwire.connect("127.0.0.1", server.port, io_timeout_s=10)
    val = os.urandom(8)
    r = c.create(path, val)
    if r.err == -110:
        r = c.set_data(path, val)
    assert r.err == 0, r
    g = c.get_data(path)
    assert g.err == 0 and zkwire.decode_body(zkwire.OP_GETDATA, g.body)[0] == val
    c.close_session()
    c.close()
