"""System properties given as -D flags (SERVER_JVMFLAGS for pk-server, the java command line for ZooKeeper)
that ZooKeeper reads without the `zookeeper.` prefix: znode.container.checkIntervalMs. pk-server ignored them
until a long tests/diff run showed its container reaper running at the default interval while ZooKeeper's
was set to one hour. Runs against PK_TARGET=pk (default) and PK_TARGET=zk.
"""

import time

import zkserver
import zkwire as w

from conftest import new_port

CONTAINER = 4  # CreateMode flag


def _reaped_within(kind, props, wait_s):
    """Starts a server with props, empties a used container and reports whether it is gone after wait_s."""
    s = zkserver.Server(kind, new_port(kind), name="sysprops-%s" % kind, java_props=props)
    s.start(timeout_s=60)
    try:
        c = w.Conn("127.0.0.1", s.port)
        c.connect()
        assert c.call(w.OP_CREATECONTAINER, w.req_create("/box", b"", w.OPEN_ACL, CONTAINER)).err == 0
        assert c.call(w.OP_CREATE, w.req_create("/box/item", b"", w.OPEN_ACL, 0)).err == 0
        assert c.call(w.OP_DELETE, w.req_path_version("/box/item", -1)).err == 0
        deadline = time.time() + wait_s
        while time.time() < deadline:
            if c.call(w.OP_EXISTS, w.req_path_watch("/box", False)).err == -101:
                return True
            time.sleep(0.1)
        return False
    finally:
        s.stop()
        s.cleanup()


def test_container_check_interval_from_system_property(kind):
    """With the default interval (60 s) the emptied container would outlive the 10 s wait."""
    assert _reaped_within(kind, ["-Dznode.container.checkIntervalMs=200"], 10.0)

