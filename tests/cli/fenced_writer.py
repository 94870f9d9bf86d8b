#!/usr/bin/env python3
"""Child of `pk lock`: one increment of a counter kept in a file that plays a storage service which
checks fencing tokens (it remembers the highest token it has seen and refuses older ones).

usage: fenced_writer.py STORE LOG MODE HOSTPORT [nofence]
  MODE normal: read, write value+1.
  MODE expire: read, then expire our own lock session (as a long GC pause would), keep going until a
               newer holder has touched the store, then try the (now stale) write.
Ignores SIGTERM on purpose (a paused process cannot react), but records that it was signalled.
Exit 0 if the write was applied, 3 if the store refused it."""
import fcntl
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pkt import expire_session  # noqa: E402

store, log, mode, hostport = sys.argv[1:5]
fence = "nofence" not in sys.argv[5:]
token = int(os.environ["PK_LOCK_TOKEN"])
signalled = []
signal.signal(signal.SIGTERM, lambda *a: signalled.append(time.time()))


def op(fn):
    """Run fn on the store's state atomically (the storage service's own serialization)."""
    with open(store, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        st = json.load(f)
        res = fn(st)
        f.seek(0)
        f.truncate()
        json.dump(st, f)
        f.flush()
        return res


def fenced_read(st):
    if fence and token < st["max_token"]:
        return None
    st["max_token"] = max(st["max_token"], token)
    return st["value"]


value = op(fenced_read)
ok = False
if value is not None:
    if mode == "expire":
        sid = int(os.environ["PK_LOCK_SESSION_ID"], 16)
        pw = bytes.fromhex(os.environ["PK_LOCK_SESSION_PASSWD"])
        assert expire_session(hostport, sid, pw)
        deadline = time.time() + 8
        while time.time() < deadline and op(lambda st: st["max_token"]) <= token:
            time.sleep(0.02)

    def fenced_write(st):
        if fence and token < st["max_token"]:
            return False
        st["value"] = value + 1
        st["max_token"] = max(st["max_token"], token)
        return True

    ok = op(fenced_write)
    if mode == "expire":  # stay around until pk tells us the lock is gone
        deadline = time.time() + 8
        while not signalled and time.time() < deadline:
            time.sleep(0.02)
with open(log, "a") as f:
    f.write(json.dumps({"token": token, "read": value, "ok": ok, "mode": mode, "signalled": bool(signalled),
                        "pid": os.getpid()}) + "\n")
sys.exit(0 if ok else 3)
