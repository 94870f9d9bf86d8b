"""Recipes besides lock: elect, watch, register, barrier, queue; and `pk status`."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from pkt import PK, expire_session, pk, four_letter

HERE = os.path.dirname(os.path.abspath(__file__))


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


_spawned = []


@pytest.fixture(autouse=True)
def _reap_spawned():
    """No pk process a test started outlives it, even when the test fails."""
    yield
    while _spawned:
        p = _spawned.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


def spawn(server, *args, **kw):
    p = subprocess.Popen([PK, "-s", server.hostport] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **kw)
    _spawned.append(p)
    return p


def test_elect_runs_only_while_leader(server):
    path = "/elect/" + uuid.uuid4().hex[:8]
    d = tempfile.mkdtemp()
    log = os.path.join(d, "log")
    body = ("import os,sys,time,signal; f=open(%r,'a'); "
            "signal.signal(signal.SIGTERM, lambda *a: (f.write('stop %%s %%f\\n' %% (sys.argv[1], time.time())), f.flush(), sys.exit(0))); "
            "f.write('start %%s %%f\\n' %% (sys.argv[1], time.time())); f.flush(); time.sleep(60)" % log)
    a = spawn(server, "--timeout-ms", "4000", "elect", "--export-session", path, "A", "--",
              sys.executable, "-c", body, "A")
    wait_for(lambda: os.path.exists(log) and "start A" in open(log).read(), what="A to lead")
    b = spawn(server, "--timeout-ms", "4000", "elect", path, "B", "--", sys.executable, "-c", body, "B")
    time.sleep(0.5)
    assert "start B" not in open(log).read()  # B waits while A leads
    kids = json.loads(pk(server, "ls", path, json=True).stdout)["children"]
    assert len(kids) == 2
    leader_node = sorted(kids, key=lambda k: k[-10:])[0]
    assert pk(server, "get", path + "/" + leader_node).stdout == "A\n"
    a.send_signal(signal.SIGTERM)  # A resigns: its command is stopped, then B takes over
    assert a.wait(10) == 0
    wait_for(lambda: "start B" in open(log).read(), what="B to lead")
    b.send_signal(signal.SIGTERM)
    b.wait(10)
    events = [l.split() for l in open(log)]
    assert [e[:2] for e in events] == [["start", "A"], ["stop", "A"], ["start", "B"], ["stop", "B"]]
    assert float(events[1][2]) <= float(events[2][2])  # never two leaders at once
    assert pk(server, "ls", path).stdout == "[]\n"


def test_watch_runs_command_per_change(server):
    path = "/watch-" + uuid.uuid4().hex[:8]
    out = tempfile.mktemp()
    w = spawn(server, "watch", "--count", "4", path, "--", "sh", "-c",
              'echo "$PK_WATCH_VERSION:$(cat)" >> %s' % out)
    time.sleep(0.5)  # let it add its persistent watch
    pk(server, "create", path, "one")
    wait_for(lambda: os.path.exists(out) and "0:one" in open(out).read(), what="first run")
    for v in ["two", "three"]:
        pk(server, "set", path, v)
        wait_for(lambda: v in open(out).read(), what=v)
    pk(server, "delete", path)
    time.sleep(0.3)
    pk(server, "create", path, "again")
    assert w.wait(10) == 0
    assert open(out).read().split() == ["0:one", "1:two", "2:three", "0:again"]


def test_watch_initial_and_bad_usage(server):
    path = "/watchi-" + uuid.uuid4().hex[:8]
    pk(server, "create", path, "now")
    r = pk(server, "watch", "--initial", "--count", "1", path, "--", "cat")
    assert (r.returncode, r.stdout) == (0, "now")
    assert pk(server, "watch", path).returncode == 2


def test_register_keeps_ephemeral_until_interrupted(server):
    path = "/services/" + uuid.uuid4().hex[:8] + "/web-1"
    r = spawn(server, "register", path, "10.0.0.1:8080")
    assert r.stdout.readline() == "registered %s\n" % path
    st = json.loads(pk(server, "stat", path, json=True).stdout)["stat"]
    assert st["ephemeralOwner"] != 0
    assert pk(server, "get", path).stdout == "10.0.0.1:8080\n"
    r.send_signal(signal.SIGINT)
    assert r.wait(10) == 0
    assert pk(server, "stat", path).returncode == 1  # gone at once, not after a session timeout


def test_register_sequential(server):
    base = "/services/" + uuid.uuid4().hex[:8]
    r1 = spawn(server, "register", "-s", base + "/node-", "a")
    r2 = spawn(server, "register", "-s", base + "/node-", "b")
    names = sorted([r1.stdout.readline().split()[1], r2.stdout.readline().split()[1]])
    assert names == [base + "/node-0000000000", base + "/node-0000000001"]
    for r in (r1, r2):
        r.terminate()
        assert r.wait(10) == 0
    assert pk(server, "ls", base).stdout == "[]\n"


def test_barrier_double(server):
    path = "/barrier/" + uuid.uuid4().hex[:8]
    d = tempfile.mkdtemp()
    procs, launched = [], []
    for i in range(3):
        log = os.path.join(d, "p%d" % i)
        body = "import time; open(%r,'w').write('%%f ' %% time.time()); time.sleep(0.%d); " \
               "open(%r,'a').write('%%f' %% time.time())" % (log, i + 1, log)
        procs.append(spawn(server, "barrier", "--wait-ms", "20000", path, "3", "--", sys.executable, "-c", body))
        launched.append(time.time())
        time.sleep(0.4)
    exits = []
    for p in procs:
        assert p.wait(20) == 0, p.stderr.read()
        exits.append(time.time())
    spans = [tuple(map(float, open(os.path.join(d, "p%d" % i)).read().split())) for i in range(3)]
    assert min(s[0] for s in spans) >= launched[-1] - 0.05  # nobody entered before all three arrived
    assert min(exits) >= max(s[1] for s in spans)  # nobody left before all finished
    r = pk(server, "barrier", "--wait-ms", "300", path + "-lonely", "2", "--", "true")
    assert r.returncode == 11


def test_queue_fifo_and_exclusive_take(server):
    q = "/queue/" + uuid.uuid4().hex[:8]
    for item in ["a", "b", "c", "d"]:
        assert pk(server, "queue", "put", q, item).returncode == 0
    assert pk(server, "queue", "size", q).stdout == "4\n"
    assert pk(server, "queue", "take", q).stdout == "a\n"
    takers = [spawn(server, "queue", "take", q) for _ in range(3)]
    got = sorted(t.communicate(timeout=20)[0] for t in takers)
    assert got == ["b\n", "c\n", "d\n"]
    assert json.loads(pk(server, "queue", "size", q, json=True).stdout) == {"size": 0}
    r = pk(server, "queue", "take", "--wait-ms", "200", q)
    assert r.returncode == 11
    waiter = spawn(server, "queue", "take", q)  # blocks until something arrives
    time.sleep(0.3)
    pk(server, "queue", "put", q, "late")
    assert waiter.communicate(timeout=10)[0] == "late\n"


def test_status(server):
    r = pk(server, "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["SERVER", "MODE", "ZXID", "LATENCY(min/avg/max)", "CONNECTIONS", "OUTSTANDING",
                                "FOLLOWERS-IN-SYNC"]
    row = lines[1].split()
    srvr = four_letter(server.hostport, "srvr")
    assert row[0] == server.hostport and "Mode: %s" % row[1] in srvr
    assert row[2].startswith("0x") and row[3].count("/") == 2
    js = json.loads(pk(server, "status", json=True).stdout)
    assert js[0]["up"] is True and js[0]["server"] == server.hostport and js[0]["connections"] >= 1
    r = subprocess.run([PK, "-s", server.hostport + ",127.0.0.1:1", "--json", "status"], capture_output=True,
                       text=True)
    js = json.loads(r.stdout)
    assert r.returncode == 7 and [s["up"] for s in js] == [True, False]


def test_elect_session_expiry_hands_over_and_rejoins(server):
    path = "/elect/" + uuid.uuid4().hex[:8]
    d = tempfile.mkdtemp()
    log = os.path.join(d, "log")
    body = ("import os,sys,time,signal; f=open(%r,'a'); "
            "signal.signal(signal.SIGTERM, lambda *a: (f.write('stop %%s\\n' %% sys.argv[1]), f.flush(), sys.exit(0))); "
            "f.write('start %%s %%s %%s\\n' %% (sys.argv[1], os.environ['PK_ELECT_SESSION_ID'], "
            "os.environ.get('PK_ELECT_SESSION_PASSWD', '-'))); f.flush(); time.sleep(60)" % log)
    a = spawn(server, "--timeout-ms", "4000", "elect", "--export-session", path, "A", "--",
              sys.executable, "-c", body, "A")
    wait_for(lambda: os.path.exists(log) and "start A" in open(log).read(), what="A to lead")
    b = spawn(server, "--timeout-ms", "4000", "elect", path, "B", "--", sys.executable, "-c", body, "B")
    wait_for(lambda: len(json.loads(pk(server, "ls", path, json=True).stdout)["children"]) == 2, what="B to join")
    _, _, sid, pw = open(log).read().split()
    assert expire_session(server.hostport, int(sid, 16), bytes.fromhex(pw))
    t0 = time.time()
    wait_for(lambda: "start B" in open(log).read(), what="B to take over")
    # A's command is stopped once its client learns of the expiry (B may start a moment before that:
    # the inherent window every ZooKeeper election has, which the token in PK_ELECT_TOKEN fences).
    wait_for(lambda: "stop A" in open(log).read(), timeout=5, what="A's command to be stopped")
    assert time.time() - t0 < 5
    lines = [l.split()[:2] for l in open(log)]
    assert sorted(map(tuple, lines[:3])) == [("start", "A"), ("start", "B"), ("stop", "A")]
    wait_for(lambda: len(json.loads(pk(server, "ls", path, json=True).stdout)["children"]) == 2, what="A to rejoin")
    b.terminate()
    b.wait(10)
    wait_for(lambda: open(log).read().count("start A") == 2, what="A to lead again")
    a.terminate()
    assert a.wait(10) == 0
    assert [l.split()[:2] for l in open(log)][3:] == [["stop", "B"], ["start", "A"], ["stop", "A"]]
