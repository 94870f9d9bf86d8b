"""Smoke check of pk-bench's client: short runs against pk-server (and Apache ZooKeeper 3.8 when java is
installed), with every result cross-checked through two independent clients: kazoo, and the official C
client (libzookeeper-mt, through build/pk --json).

What is checked, per server:
  - write: the sum of the nodes' versions equals the setData count pk-bench reports; data is the pattern.
  - read --verify: passes on nodes kazoo wrote with the pattern, and FAILS when kazoo changes one byte.
  - create-delete: no node is left behind and the parent's cversion is 2 x the creates reported.
  - load: exactly --count children, each holding the pattern.
  - watch / connect / fixed rate: complete without errors and count what they should.
Ports 24200-24299.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from types import SimpleNamespace

from kazoo.client import KazooClient

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PK_BENCH = os.environ.get("PK_BENCH", os.path.join(REPO, "build", "pk-bench"))
PK_SERVER = os.environ.get("PK_SERVER", os.path.join(REPO, "build", "pk-server"))
PK_BIN = os.environ.get("PK_BIN", os.path.join(REPO, "build", "pk"))
ZK_CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"


def pattern(n):
    """The value every pk-bench node holds: 'a'..'z' repeating."""
    return bytes(ord("a") + i % 26 for i in range(n))


def ruok(port):
    """True when the server answers imok."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"ruok")
            return s.recv(16).startswith(b"imok")
    except OSError:
        return False


def kinds():
    """Servers to check: pk always, zk when java and the jar exist."""
    out = ["pk"]
    if shutil.which("java") and os.path.exists("/usr/share/java/zookeeper.jar"):
        out.append("zk")
    return out


@pytest.fixture(scope="module", params=kinds())
def server(request):
    """A fresh standalone server; yields (kind, port, pid)."""
    kind = request.param
    port = 24201 if kind == "pk" else 24202
    work = tempfile.mkdtemp(prefix="pk-bench-smoke-")
    cfg = os.path.join(work, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                "maxClientCnxns=0\n4lw.commands.whitelist=*\n" % (work, port))
    if kind == "pk":
        cmd = [PK_SERVER, cfg]
    else:
        cmd = ["java", "-Xmx512m", "-cp", ZK_CLASSPATH, "-Dzookeeper.admin.enableServer=false",
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dzookeeper.4lw.commands.whitelist=*",
               "org.apache.zookeeper.server.ZooKeeperServerMain", cfg]
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ruok(port):
        assert proc.poll() is None, "server exited: see %s/server.log" % work
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield kind, port, proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    shutil.rmtree(work, ignore_errors=True)


class OfficialClient:
    """The calls the checks make, through the official C client: one `pk --json` command each (pk is built
    on libzookeeper-mt). Values are the ASCII patterns below, so they pass through argv and JSON unchanged."""

    def __init__(self, port):
        self.server = "127.0.0.1:%d" % port
        self.tag = "c"

    def _run(self, *args):
        p = subprocess.run([PK_BIN, "-s", self.server, "--json"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
        assert p.returncode == 0, (args, p.returncode, p.stderr.decode())
        return json.loads(p.stdout.decode().splitlines()[-1])

    def get(self, path):
        r = self._run("get", path)
        data = r["data"].encode() if r["data"] is not None else None
        return data, SimpleNamespace(version=r["stat"]["version"], cversion=r["stat"]["cversion"])

    def get_children(self, path):
        return self._run("ls", path)["children"]

    def create(self, path, value):
        self._run("create", path, value.decode())

    def set(self, path, value):
        self._run("set", path, value.decode())


@pytest.fixture(params=["kazoo", "official-c"])
def check(request, server):
    """An independent client to verify pk-bench's results with: kazoo, or the official C client."""
    if request.param == "official-c":
        yield OfficialClient(server[1])
        return
    c = KazooClient(hosts="127.0.0.1:%d" % server[1], timeout=10)
    c.start(timeout=15)
    c.tag = "kz"
    yield c
    c.stop()
    c.close()


def bench(server, *args, expect_ok=True):
    """Runs pk-bench and returns its JSON summary; asserts the exit status matches expect_ok."""
    kind, port, pid = server
    cmd = [PK_BENCH, "-s", "127.0.0.1:%d" % port, "-p", str(pid), "--warmup", "0.2", "-d", "1"] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
    assert len(lines) == 1, (cmd, p.stdout, p.stderr)
    res = json.loads(lines[0])
    assert (p.returncode == 0) == expect_ok, (cmd, p.returncode, p.stderr.decode())
    assert res["ok"] == expect_ok
    return res


def test_write_versions_match(server, check):
    res = bench(server, "-w", "write", "-n", "4", "-k", "8", "--nodes", "6", "--size", "300",
                "--prefix", f"/sm-w-{check.tag}")
    assert res["errors"] == 0 and res["total_ok"] > 0
    assert res["ops"] <= res["total_ok"]
    versions = 0
    for i in range(6):
        data, stat = check.get(f"/sm-w-{check.tag}/n{i}")
        assert data == pattern(300)
        versions += stat.version
    assert versions == res["total_ok"]


def test_read_verify_catches_wrong_bytes(server, check):
    check.create(f"/sm-r-{check.tag}", b"")
    for i in range(4):
        check.create(f"/sm-r-{check.tag}/n{i}", pattern(1024))
    res = bench(server, "-w", "read", "-n", "2", "-k", "16", "--nodes", "4", "--verify",
                "--prefix", f"/sm-r-{check.tag}")
    assert res["errors"] == 0 and res["ops"] > 100
    bad = bytearray(pattern(1024))
    bad[700] ^= 1
    check.set(f"/sm-r-{check.tag}/n2", bytes(bad))
    res = bench(server, "-w", "read", "-n", "2", "-k", "16", "--nodes", "4", "--verify",
                "--prefix", f"/sm-r-{check.tag}", expect_ok=False)
    assert res["errors"] > 0


def test_create_delete_leaves_nothing(server, check):
    res = bench(server, "-w", "create-delete", "-n", "3", "-k", "8", "--size", "64",
                "--prefix", f"/sm-cd-{check.tag}")
    assert res["errors"] == 0 and res["creates_ok"] > 0
    assert res["total_ok"] == 2 * res["creates_ok"]
    assert check.get_children(f"/sm-cd-{check.tag}/e") == []
    _, stat = check.get(f"/sm-cd-{check.tag}/e")
    assert stat.cversion == 2 * res["creates_ok"]


def test_load_creates_exact_count(server, check):
    res = bench(server, "-w", "load", "--count", "1500", "--size", "100", "-n", "3", "-k", "32",
                "--prefix", f"/sm-l-{check.tag}")
    assert res["creates_ok"] == 1500 and res["errors"] == 0
    children = check.get_children(f"/sm-l-{check.tag}")
    assert sorted(children) == sorted("n%d" % i for i in range(1500))
    for i in (0, 777, 1499):
        assert check.get(f"/sm-l-{check.tag}/n{i}")[0] == pattern(100)
    probe = bench(server, "-w", "probe", "--prefix", f"/sm-l-{check.tag}", "--timeout", "5")
    assert probe["probe_ms"] > 0


def test_watch_connect_and_rate(server, check):
    res = bench(server, "-w", "watch", "--watchers", "5", "--size", "32", "--prefix", f"/sm-wa-{check.tag}")
    assert res["errors"] == 0 and res["ops"] > 0
    assert res["total_ok"] % 5 == 0   # every round notifies every watcher
    _, stat = check.get(f"/sm-wa-{check.tag}/w")
    assert stat.version * 5 == res["total_ok"]
    res = bench(server, "-w", "connect", "-n", "2")
    assert res["errors"] == 0 and res["ops"] > 0
    res = bench(server, "-w", "write", "-r", "400", "-n", "2", "--prefix", f"/sm-rate-{check.tag}")
    assert 200 <= res["ops_per_s"] <= 600   # 400/s schedule; wide for a loaded machine
    assert res["p50_us"] > 0 and res["p99_us"] >= res["p50_us"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
