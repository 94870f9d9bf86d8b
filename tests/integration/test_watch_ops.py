"""checkWatches (17) and removeWatches (18) on odd paths: the error codes ZooKeeper 3.8.0 answers.

Found by tests/diff (seed 1149, `run_diff.py --start 1149 --seeds 1`): pk-server answered a relative path in
removeWatches with MarshallingError (-5) where ZooKeeper looks the path up and answers NoWatcher (-121);
only checkWatches rejects a relative path. Runs against PK_TARGET=pk (default) and PK_TARGET=zk.
"""

import pytest

import zkwire as w

OP_EXISTS, OP_CHECK, OP_REMOVE = 3, 17, 18
MARSHALLING, NO_WATCHER = -5, -121


def expected(op, path):
    """ZooKeeper 3.8.0: checkWatches throws on a path not starting with '/', removeWatches does not."""
    if op == OP_CHECK and path and not path.startswith("/"):
        return MARSHALLING
    return NO_WATCHER


@pytest.mark.parametrize("with_watch", [False, True], ids=["no-watches", "exists-watch"])
def test_check_and_remove_watches_on_odd_paths(server, with_watch):
    host, port = server.host, server.port
    got, want = {}, {}
    for op in (OP_CHECK, OP_REMOVE):
        for typ in (1, 2, 3):
            for path in ("noslash", "", "/a/", "/nx"):
                c = w.Conn(host, port)
                c.connect()
                if with_watch:
                    assert c.call(OP_EXISTS, w.req_path_watch("/nx", True)).err == -101
                key = (op, typ, path)
                got[key] = c.call(op, w.req_path_type(path, typ)).err
                want[key] = expected(op, path)
                c.close()
    # With an exists watch on /nx, a Data or Any check/remove of /nx finds it.
    if with_watch:
        for op in (OP_CHECK, OP_REMOVE):
            for typ in (2, 3):
                want[(op, typ, "/nx")] = 0
    assert got == want
