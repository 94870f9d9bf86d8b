"""(b) Crash durability: kill -9 under a write load, restart on the same data dir, and check
that every acknowledged write survived.

Writers (raw wire clients, one session each) create persistent znodes with unique data and bump
a per-writer counter znode with setData; each acknowledgement (err 0) is recorded.  At a random
moment the server is SIGKILLed; writers stop at the first connection error.  After the restart:
every acknowledged create must exist with exactly its data, and every counter must hold a value
>= its last acknowledged value (a write in flight may or may not have landed) and <= the last
value sent.  CRASH_ROUNDS (default 20) rounds; the whole test is bounded by CRASH_BUDGET_S.
"""

import os
import random
import socket
import threading
import time

import zkwire

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "20"))
BUDGET_S = float(os.environ.get("CRASH_BUDGET_S", "150"))
WRITERS = 4


class Writer(threading.Thread):
    """One session doing creates and setData until the connection breaks or stop is set."""

    def __init__(self, port, wid, rnd, stop):
        super().__init__(daemon=True)
        self.port, self.wid, self.rnd, self.stop = port, wid, rnd, stop
        self.acked_creates = {}   # path -> data
        self.acked_counter = -1
        self.sent_counter = -1
        self.error = None
        # Connect before the load starts, so the kill cannot come before the session exists.
        self.conn = zkwire.connect("127.0.0.1", self.port, timeout_ms=10000, io_timeout_s=10)

    def run(self):
        c = self.conn
        k = 0
        key = "/crash/k%d" % self.wid
        try:
            for _ in range(10 ** 6):
                if self.stop.is_set():
                    break
                path = "/crash/r%d-w%d-n%d" % (self.rnd, self.wid, k)
                data = ("%d:%d:%d:%s" % (self.rnd, self.wid, k, os.urandom(4).hex())).encode()
                r = c.create(path, data)
                if r.err == 0:
                    self.acked_creates[path] = data
                elif r.err != 0:
                    self.error = "create %s -> err %d" % (path, r.err)
                    return
                value = self.rnd * 1000000 + k
                self.sent_counter = value
                r = c.set_data(key, str(value).encode())
                if r.err != 0:
                    self.error = "setData %s -> err %d" % (key, r.err)
                    return
                self.acked_counter = value
                k += 1
        except (zkwire.ConnClosed, socket.timeout, OSError, zkwire.DecodeError):
            pass  # the crash
        finally:
            c.close()


def setup_tree(port):
    """Create /crash and the counter nodes (idempotent)."""
    c = zkwire.connect("127.0.0.1", port)
    for p in ["/crash"] + ["/crash/k%d" % i for i in range(WRITERS)]:
        r = c.create(p, b"-1")
        assert r.err in (0, -110), (p, r)
    c.close_session()
    c.close()


def verify(port, writers, all_acked):
    """Check every acknowledged write of this round (and the existence of all earlier ones)."""
    c = zkwire.connect("127.0.0.1", port, io_timeout_s=20)
    problems = []
    for w in writers:
        for path, data in w.acked_creates.items():
            r = c.get_data(path)
            if r.err != 0:
                problems.append("acknowledged create %s lost (err %d)" % (path, r.err))
            elif zkwire.decode_body(zkwire.OP_GETDATA, r.body)[0] != data:
                problems.append("acknowledged create %s has other data" % path)
        if w.acked_counter >= 0:
            r = c.get_data("/crash/k%d" % w.wid)
            assert r.err == 0, r
            v = int(zkwire.decode_body(zkwire.OP_GETDATA, r.body)[0])
            if not (w.acked_counter <= v <= max(w.sent_counter, w.acked_counter)):
                problems.append("counter k%d = %d, acknowledged %d, last sent %d"
                                % (w.wid, v, w.acked_counter, w.sent_counter))
    r = c.get_children("/crash")
    assert r.err == 0, r
    present = set(zkwire.decode_body(zkwire.OP_GETCHILDREN, r.body))
    missing = [p for p in all_acked if p.rsplit("/", 1)[1] not in present]
    if missing:
        problems.append("%d acknowledged creates of earlier rounds lost, e.g. %s"
                        % (len(missing), missing[:3]))
    c.close_session()
    c.close()
    return problems


def test_kill9_keeps_acknowledged_writes(server):
    rng = random.Random(int(os.environ.get("CRASH_SEED", "12345")))
    setup_tree(server.port)
    all_acked = set()
    t_end = time.monotonic() + BUDGET_S
    rounds_done, total_acked = 0, 0
    for rnd in range(ROUNDS):
        if time.monotonic() > t_end:
            break
        stop = threading.Event()
        writers = [Writer(server.port, i, rnd, stop) for i in range(WRITERS)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.1, 1.0))
        server.kill()
        stop.set()
        for w in writers:
            w.join(15)
            assert not w.is_alive(), "writer %d hangs after the kill" % w.wid
        errors = [w.error for w in writers if w.error]
        assert not errors, "writers failed before the crash: %s" % errors
        server.start(timeout_s=60)
        problems = verify(server.port, writers, all_acked)
        assert not problems, "round %d (after %d acknowledged writes):\n  %s" % (
            rnd, sum(len(w.acked_creates) for w in writers), "\n  ".join(problems[:20]))
        for w in writers:
            all_acked.update(w.acked_creates)
            total_acked += len(w.acked_creates) + (w.acked_counter >= 0)
        rounds_done += 1
    print("crash: %d rounds, %d acknowledged creates kept" % (rounds_done, len(all_acked)))
    assert rounds_done >= min(ROUNDS, 5), "only %d rounds within the budget" % rounds_done
    assert len(all_acked) > 0, "no write was ever acknowledged"


def test_verify_detects_a_lost_write(server):
    """The checker itself can fail: a write recorded as acknowledged but never made is reported."""
    setup_tree(server.port)
    stop = threading.Event()
    w = Writer(server.port, 0, 999, stop)
    w.conn.close()
    w.acked_creates["/crash/never-written"] = b"x"
    w.acked_counter = 5
    w.sent_counter = 5
    problems = verify(server.port, [w], {"/crash/also-never-written"})
    assert len(problems) == 3, problems
