"""Recipes under connection loss: the server is frozen (SIGSTOP) for longer than the session timeout
and then resumed. Needs a server this suite started (skipped with PK_TEST_SERVER)."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from pkt import PK, pk


def frozen(server, seconds):
    """Freeze the server process for `seconds`."""
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)


@pytest.fixture
def own_server(server):
    if getattr(server, "proc", None) is None:
        pytest.skip("needs a server started by the suite (not PK_TEST_SERVER)")
    return server


def test_lock_holder_signalled_when_server_unreachable(own_server):
    server = own_server
    lock = "/locks/" + uuid.uuid4().hex[:8]
    log = tempfile.mktemp()
    child = ("import signal,time,sys; signal.signal(signal.SIGTERM, lambda *a: (open(%r,'a').write('term %%f\\n' %% "
             "time.time()), sys.exit(5))); open(%r,'a').write('start\\n'); time.sleep(30)" % (log, log))
    p = subprocess.Popen([PK, "-s", server.hostport, "--timeout-ms", "3000", "lock", "--lost-after-ms", "500", lock,
                          "--", sys.executable, "-c", child], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not (os.path.exists(log) and "start" in open(log).read()) and time.time() < deadline:
            time.sleep(0.05)
        t0 = time.time()
        frozen(server, 4.5)
        assert p.wait(15) == 8
        term = float(open(log).read().split()[-1])
        # signalled while the server was still unreachable, before it could have expired the session
        assert term - t0 < 3.0 + 0.5, term - t0
        assert "signalling the command" in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_watch_survives_connection_loss(own_server):
    server = own_server
    path = "/watchloss-" + uuid.uuid4().hex[:8]
    out = tempfile.mktemp()
    pk(server, "create", path, "before")
    w = subprocess.Popen([PK, "-s", server.hostport, "--timeout-ms", "3000", "watch", "--count", "2", path, "--",
                          "sh", "-c", "cat >> %s; echo >> %s" % (out, out)], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        frozen(server, 4.5)  # the watch session times out; pk reconnects with a new session
        time.sleep(1.0)
        pk(server, "set", path, "after-1")
        deadline = time.time() + 10
        while not (os.path.exists(out) and "after-1" in open(out).read()) and time.time() < deadline:
            time.sleep(0.05)
        pk(server, "set", path, "after-2")
        assert w.wait(15) == 0
        assert open(out).read().split() == ["after-1", "after-2"]
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()


def test_register_present_again_after_outage(own_server):
    server = own_server
    path = "/services/" + uuid.uuid4().hex[:8] + "/api"
    r = subprocess.Popen([PK, "-s", server.hostport, "--timeout-ms", "2000", "register", path, "v1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert r.stdout.readline() == "registered %s\n" % path
        frozen(server, 4.0)  # twice the session timeout: the server may expire the session on resuming
        deadline = time.time() + 15
        ok = False
        while time.time() < deadline and not ok:
            g = pk(server, "get", path)
            ok = g.returncode == 0 and g.stdout == "v1\n"
            time.sleep(0.1)
        assert ok, "registration not back after the outage"
        assert r.poll() is None  # still running, still keeping it alive
        r.send_signal(signal.SIGTERM)
        assert r.wait(10) == 0
        assert pk(server, "stat", path).returncode == 1
    finally:
        if r.poll() is None:
            r.kill()
            r.wait()
