"""`pk lock`: many processes contending for one lock increment a counter without losing an update;
with sessions expired on purpose, writers that check the fencing token still lose none and apply none
twice; the same run without the fencing check does lose updates (so the test can fail)."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid

from pkt import PK, pk

HERE = os.path.dirname(os.path.abspath(__file__))
WRITER = os.path.join(HERE, "fenced_writer.py")


def contend(server, workers, rounds, expire_at, fence=True):
    """workers threads each run `pk lock` rounds times; (worker, round) in expire_at expire their session.
    Returns (final store state, writer log entries, [(mode, pk exit code)])."""
    d = tempfile.mkdtemp(prefix="pk-lock-")
    store, log = os.path.join(d, "store.json"), os.path.join(d, "log")
    with open(store, "w") as f:
        json.dump({"value": 0, "max_token": 0}, f)
    lock = "/locks/" + uuid.uuid4().hex[:8]
    results, mu = [], threading.Lock()

    def worker(w):
        for r in range(rounds):
            mode = "expire" if (w, r) in expire_at else "normal"
            argv = [PK, "-s", server.hostport, "--timeout-ms", "4000", "lock", "--export-session",
                    "--grace-ms", "20000", lock, "--", sys.executable, WRITER, store, log, mode, server.hostport]
            if not fence:
                argv.append("nofence")
            p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            with mu:
                results.append((mode, p.returncode, p.stderr))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = [json.loads(l) for l in open(log)]
    return json.load(open(store)), entries, results, lock


def test_lock_no_lost_updates(server):
    st, entries, results, lock = contend(server, workers=6, rounds=4, expire_at=set())
    assert [r[1] for r in results] == [0] * 24, results
    assert st["value"] == 24
    assert sorted(e["read"] for e in entries) == list(range(24))
    tokens = [e["token"] for e in entries]
    assert len(set(tokens)) == 24  # every acquisition has its own token
    # the lock node is released by every holder
    assert pk(server, "ls", lock).stdout == "[]\n"


def test_lock_fencing_with_expired_sessions(server):
    expire_at = {(0, 1), (2, 0), (4, 2)}
    st, entries, results, lock = contend(server, workers=6, rounds=4, expire_at=expire_at)
    applied = [e for e in entries if e["ok"]]
    # no update lost, none applied twice: the applied increments read 0, 1, ..., value-1 exactly once
    assert sorted(e["read"] for e in applied) == list(range(st["value"]))
    expired = [e for e in entries if e["mode"] == "expire"]
    assert len(expired) == 3
    for e in expired:
        assert not e["ok"], e  # the stale holder's write was refused by its token
        assert e["signalled"], (e, [r for r in results if r[0] == "expire"])  # pk signalled the command
    assert sorted(r[1] for r in results if r[0] == "expire") == [8, 8, 8], results
    for mode, code, err in results:  # pk learnt it from the session's expiry or its node's deletion
        lost = ("pk: session expired; signalling" in err) or ("pk: lock node deleted; signalling" in err)
        assert (mode == "expire") == lost, (mode, code, err)
    assert [r[1] for r in results if r[0] == "normal"] == [0] * 21, results
    assert st["value"] == 21
    assert pk(server, "ls", lock).stdout == "[]\n"


def test_lock_without_fencing_loses_updates(server):
    """Control: the same expiry with writers that ignore the token loses an update."""
    st, entries, results, lock = contend(server, workers=3, rounds=2, expire_at={(0, 0)}, fence=False)
    applied = [e for e in entries if e["ok"]]
    assert len(applied) == 6
    assert st["value"] < 6  # the stale write overwrote a newer one
    assert len({e["read"] for e in applied}) < 6


def test_lock_wait_timeout_and_exit_code(server):
    lock = "/locks/" + uuid.uuid4().hex[:8]
    holder = subprocess.Popen([PK, "-s", server.hostport, "lock", lock, "--", "sleep", "3"])
    try:  # (finally: the holder never outlives the test)
        for _ in range(100):
            if pk(server, "ls", lock).stdout.count("lock-") == 1:
                break
        r = pk(server, "lock", "--wait-ms", "300", lock, "--", "true")
        assert r.returncode == 11 and "timed out" in r.stderr
        # a waiter left no node behind; the command's exit status passes through
        assert pk(server, "ls", lock).stdout.count("lock-") == 1
    finally:
        holder.terminate()
        holder.wait()
    r = pk(server, "lock", lock, "--", "sh", "-c", "echo $PK_LOCK_TOKEN; exit 7")
    assert r.returncode == 7 and int(r.stdout) > 0
    assert pk(server, "lock", lock).returncode == 2  # usage


def test_lock_closed_session_reaches_client(server):
    """After its session is closed, the client must be told (its connection closed, reconnect refused
    as expired), not kept talking to a dead session. The child outlives the expiry by 6 s so that a
    slow reconnect on a loaded machine is still seen (2.5 s failed once against ZooKeeper under load)."""
    lock = "/locks/" + uuid.uuid4().hex[:8]
    child = ("import os,signal,sys,time; sys.path.insert(0,%r); from pkt import expire_session; "
             "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
             "assert expire_session(%r, int(os.environ['PK_LOCK_SESSION_ID'],16), "
             "bytes.fromhex(os.environ['PK_LOCK_SESSION_PASSWD'])); time.sleep(6)" % (HERE, server.hostport))
    for attempt in range(3):
        r = pk(server, "--timeout-ms", "4000", "lock", "--export-session", "--grace-ms", "20000", lock, "--",
               sys.executable, "-c", child)
        assert r.returncode == 8, r.stderr
        assert "pk: session expired" in r.stderr, r.stderr
