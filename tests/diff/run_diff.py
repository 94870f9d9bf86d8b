#!/usr/bin/python3
"""Differential test: the same seeded random operation sequence against two servers.

    run_diff.py --a zk --b pk --seeds 40 [--start 1] [--ops 120] [--mutate-at N] [-v]

Both servers (A = reference, normally Apache ZooKeeper 3.8.0; B = under test) run fresh in temp
dirs.  For every seed, three sessions per server work in the subtree /d<seed>; the generator
picks one operation at a time (using A's results to choose paths), runs it on A and then on B,
normalizes both replies, and stops at the first difference, printing the seed, the step, the
op and both raw and normalized replies.  Exit 0 = identical, 1 = a difference, 2 = harness error.

What is compared for every step (all wire-level, decoded with tests/lib/zkwire.py):
  the reply header err, the decoded body (or raw bytes if it does not decode), the watch events
  every session received because of the op (events that the acting session got before its reply,
  and those each other session got before a barrier read sent right after the op), and for
  closeSession / unknown opcodes whether the server closed the connection.

Normalizations (documented in tests/diff/README.md; applied identically on both sides):
  * zxids (reply header zxid, czxid, mzxid, pzxid) are replaced by labels Z1, Z2, ... in order of
    first appearance on that side within the seed (labels restart at every seed); a zxid that is not larger than every zxid seen before gets
    "@k" appended, its insertion rank at discovery.  Equalities (czxid == mzxid, pzxid == the
    header zxid of the write, one zxid for a whole multi) and order are thus kept.  0 and -1 stay.
  * watch-notification header zxids are dropped (ZK 3.8 sends -1, 3.9+ the txn zxid).
  * ctime/mtime become "T" after a plausibility check (inside the run's wall-clock window, and
    mtime >= ctime); an implausible time becomes "T!<value>" and so shows up as a difference.
  * session ids (handshake, ephemeralOwner) become S0, S1, ... labels by first appearance; the
    16-byte session password becomes its length.
  * children lists (getChildren, getChildren2, multiRead), getEphemerals lists, whoAmI lists and
    getACL lists are sorted (ZK uses hash sets: the order is unspecified; an "auth" ACL expands
    to the connection's ids in hash-set order).
  * sessions ask for a 10-minute timeout (maxSessionTimeout=600000 in zoo.cfg), so no session
    expires during a run (an expiry is a txn at a nondeterministic moment).
  * the events a closeSession produces are sorted per receiving session (ZK deletes a session's
    ephemerals in hash-set order).
ZooKeeper is started with container reaping effectively off (znode.container.checkIntervalMs
= 1 h) and forceSync=no, and TTLs used are one hour, so no background txn happens mid-run.
"""

import argparse
import bisect
import os
import random
import socket
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import zkserver  # noqa: E402
import zkwire as w  # noqa: E402

NSESS = 3
PORTS = {"pk": 21850, "zk": 23050}
ALT_PORTS = {"pk": 21851, "zk": 23051}  # the second server when A and B are the same kind

USERS = ["alice:pw", "bob:pw", "carol:pw"]


def digest_id(user_pw):
    """ZooKeeper's digest id for user:password."""
    import base64
    import hashlib
    user = user_pw.split(":", 1)[0]
    return user + ":" + base64.b64encode(hashlib.sha1(user_pw.encode()).digest()).decode()


# ------------------------------------------------------------------ normalization

class Normalizer:
    """Per-server label maps for zxids and session ids (see the module doc)."""

    def __init__(self, t0_ms):
        self.t0_ms = t0_ms
        self.reset()

    def reset(self):
        """Forget all labels (at the start of every seed, so seeds are independent)."""
        self.zx_sorted = []
        self.zx_label = {}
        self.sess_label = {}

    def zxid(self, z):
        """Label a zxid."""
        if z in (0, -1):
            return z
        if z not in self.zx_label:
            pos = bisect.bisect_left(self.zx_sorted, z)
            lab = "Z%d" % (len(self.zx_label) + 1)
            if pos != len(self.zx_sorted):
                lab += "@%d" % pos
            self.zx_label[z] = lab
            self.zx_sorted.insert(pos, z)
        return self.zx_label[z]

    def session(self, sid):
        """Label a session id."""
        if sid == 0:
            return 0
        if sid not in self.sess_label:
            self.sess_label[sid] = "S%d" % len(self.sess_label)
        return self.sess_label[sid]

    def time_ms(self, t):
        """A plausible wall-clock time becomes T."""
        now = int(time.time() * 1000)
        if self.t0_ms - 5000 <= t <= now + 5000:
            return "T"
        return "T!%d" % t

    def stat(self, st):
        """Normalize a Stat dict into a tuple."""
        if st is None:
            return None
        ct, mt = self.time_ms(st["ctime"]), self.time_ms(st["mtime"])
        if st["mtime"] < st["ctime"]:
            mt = "T!mtime<ctime"
        return ("stat", self.zxid(st["czxid"]), self.zxid(st["mzxid"]), ct, mt, st["version"],
                st["cversion"], st["aversion"], self.session(st["ephemeralOwner"]),
                st["dataLength"], st["numChildren"], self.zxid(st["pzxid"]))

    def body(self, op, body):
        """Decode and normalize a success body."""
        try:
            v = w.decode_body(op, body)
        except w.DecodeError as e:
            return ("undecodable", str(e), body.hex())
        return self.value(op, v)

    def value(self, op, v):
        """Normalize a decoded value of op."""
        if op in (w.OP_CREATE2, w.OP_CREATECONTAINER, w.OP_CREATETTL):
            return (v[0], self.stat(v[1]))
        if op in (w.OP_EXISTS, w.OP_SETDATA, w.OP_SETACL):
            return self.stat(v)
        if op == w.OP_GETDATA:
            return (v[0], self.stat(v[1]))
        if op == w.OP_GETACL:
            # sorted: an "auth" ACL expands to the connection's auth ids in ZK's hash-set order
            return (sorted(v[0]) if v[0] is not None else None, self.stat(v[1]))
        if op == w.OP_GETCHILDREN:
            return sorted(v) if v is not None else None
        if op == w.OP_GETCHILDREN2:
            return (sorted(v[0]) if v[0] is not None else None, self.stat(v[1]))
        if op == w.OP_GETEPHEMERALS:
            return sorted(v) if v is not None else None
        if op == w.OP_WHOAMI:
            return sorted(v) if v is not None else None  # ZK keeps auth ids in a hash set
        if op in (w.OP_MULTI, w.OP_MULTIREAD):
            out = []
            for typ, err, val in v:
                if typ == w.OP_ERROR or val is None:
                    out.append((typ, err, val))
                else:
                    out.append((typ, err, self.value(typ, val)))
            return out
        return v

    def reply(self, op, rep):
        """Normalize a Reply of op: (err, zxid label, body)."""
        if rep is None:
            return None
        if rep.err == 0:
            b = self.body(op, rep.body)
        else:
            b = ("error-body", rep.body.hex()) if rep.body else None
        return ("err", rep.err, "zxid", self.zxid(rep.zxid), b)

    def handshake(self, hs):
        """Normalize a decoded ConnectResponse."""
        return ("connect", hs["protocolVersion"], hs["timeOut"], self.session(hs["sessionId"]),
                len(hs["passwd"]) if hs["passwd"] is not None else None, hs["readOnly"])


# ------------------------------------------------------------------ one server side

class Side:
    """One server with NSESS session slots."""

    def __init__(self, name, server, t0_ms):
        self.name = name
        self.server = server
        self.norm = Normalizer(t0_ms)
        self.conns = [None] * NSESS
        self.mutate_next = False

    def conn(self, timeout_ms=600000, **kw):
        """A new unconnected Conn to this server."""
        return w.Conn("127.0.0.1", self.server.port, timeout_ms=timeout_ms, **kw)

    def open(self, slot):
        """Open a fresh session in slot; returns the normalized handshake."""
        c = self.conn()
        hs = c.connect()
        self.conns[slot] = c
        return self.norm.handshake(hs)

    def mutate(self, rep):
        """Deliberately alter a raw reply (to prove the comparison catches it)."""
        if rep is None:
            return rep
        raw = bytearray(rep.raw)
        if len(raw) > 16:
            raw[-1] ^= 0x01
        else:
            raw[15] ^= 0x01  # low byte of err
        return w.Reply(bytes(raw))

    def call(self, slot, op, body, xid=None):
        """Run one request on slot; returns the normalized (reply, own events, closed?)."""
        c = self.conns[slot]
        if c is None:
            return ("no-connection",)
        try:
            rep = c.call(op, body, xid=xid)
        except w.ConnClosed as e:
            self.conns[slot] = None
            self.end_session(c)
            return ("closed-before-reply", str(e).split(":")[0])
        except socket.timeout:
            self.conns[slot] = None
            self.end_session(c)
            return ("timeout",)
        if self.mutate_next:
            rep = self.mutate(rep)
            self.mutate_next = False
        res = self.norm.reply(op, rep)
        closed = None
        if op == w.OP_CLOSESESSION or (rep.err == -6 and op not in (w.OP_CREATETTL,
                                                                    w.OP_RECONFIG)):
            closed = c.is_closed_by_peer(2.0)
            if closed:
                c.close()
                self.conns[slot] = None
                if op != w.OP_CLOSESESSION:
                    self.end_session(c)
        elif rep.err == -115:  # AuthFailed closes the connection
            closed = c.is_closed_by_peer(2.0)
            if closed:
                self.conns[slot] = None
                self.end_session(c)
        return res, closed, rep

    def end_session(self, c):
        """Close a session whose connection the server dropped, so it cannot expire later
        (an expiry would be a background txn at a nondeterministic moment)."""
        c.close()
        nc = self.conn(session_id=c.session_id, passwd=c.passwd, last_zxid=c.last_zxid)
        try:
            nc.connect()
            nc.close_session()
        except (w.ConnClosed, socket.timeout, w.DecodeError):
            pass
        nc.close()

    def events(self, slot, sort=False):
        """Collect the events slot has received so far (barrier for other sessions)."""
        c = self.conns[slot]
        if c is None:
            return None
        evs = [e for _, e in c.take_events()]
        return sorted(evs) if sort else evs

    def barrier(self, slot):
        """A read on slot after which every event caused by earlier writes has arrived."""
        c = self.conns[slot]
        if c is None:
            return
        try:
            c.call(w.OP_EXISTS, w.req_path_watch("/", False))
        except (w.ConnClosed, socket.timeout):
            self.conns[slot] = None

    def close_all(self):
        """closeSession every slot (end of a seed)."""
        for i, c in enumerate(self.conns):
            if c is not None:
                try:
                    c.close_session()
                except Exception:  # noqa: BLE001
                    pass
                c.close()
                self.conns[i] = None


# ------------------------------------------------------------------ generator

class Gen:
    """Seeded operation generator; keeps a model of known paths from side A's results."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.root = "/d%d" % seed
        self.known = {self.root}
        self.names = ["a", "b", "c", "e"]
        self.persist = {}  # slot -> {(path, mode)} of successful addWatch calls

    def path(self):
        """A path that often exists, sometimes not, rarely bad."""
        r = self.r
        x = r.random()
        if x < 0.04:
            return r.choice(["", "noslash", self.root + "/", self.root + "//a", self.root + "/./a",
                             self.root + "/../a", self.root + "/a\x00b", self.root + "/\x01",
                             "/zookeeper", "/zookeeper/config", "/zookeeper/quota", "/",
                             self.root + "/\u00e9t\u00e9"])
        base = r.choice(sorted(self.known))
        if x < 0.55 and base != self.root:
            return base
        if base.count("/") >= 4:
            base = self.root
        return base + "/" + r.choice(self.names)

    def acl(self):
        """A random ACL list, sometimes invalid."""
        r = self.r
        x = r.random()
        if x < 0.55:
            return w.OPEN_ACL
        if x < 0.65:
            return w.READ_ACL
        if x < 0.75:
            return [(w.PERM_ALL, "digest", digest_id("alice:pw")), (w.PERM_READ, "world", "anyone")]
        if x < 0.82:
            return [(r.choice([1, 3, 7, 15, 31, 16, 0]), "digest", digest_id(r.choice(USERS)))]
        if x < 0.88:
            return w.CREATOR_ALL_ACL
        if x < 0.91:
            return [(31, "ip", "127.0.0.1"), (1, "world", "anyone")]
        return r.choice([[], [(31, "world", "bob")], [(31, "digest", "nocolon")],
                         [(31, "foo", "bar")], [(31, "ip", "999.1.1.1")],
                         [(31, "world", "anyone"), (31, "world", "anyone")]])

    def data(self):
        """Random data; sometimes None or empty."""
        r = self.r
        x = r.random()
        if x < 0.1:
            return None
        if x < 0.2:
            return b""
        return bytes(r.getrandbits(8) for _ in range(r.choice([1, 3, 10, 40])))

    def version(self):
        """-1 mostly, sometimes a specific version."""
        return self.r.choice([-1, -1, -1, 0, 0, 1, 2, 5])

    def watchlist(self):
        """A few paths for setWatches."""
        return [self.path() for _ in range(self.r.randint(0, 2))]

    def sub_op(self, read):
        """One multi/multiRead sub-op as (type, record bytes, description)."""
        r = self.r
        p = self.path()
        if read:
            if r.random() < 0.5:
                return (w.OP_GETDATA, w.req_path_watch(p, r.random() < 0.3), ("getData", p))
            return (w.OP_GETCHILDREN, w.req_path_watch(p, False), ("getChildren", p))
        k = r.random()
        if k < 0.4:
            flags = r.choice([0, 0, 1, 2, 3])
            typ = r.choice([w.OP_CREATE, w.OP_CREATE2, w.OP_CREATE, w.OP_CREATECONTAINER])
            if typ == w.OP_CREATECONTAINER:
                flags = 4
            return (typ, w.req_create(p, self.data(), self.acl(), flags), ("create", typ, p, flags))
        if k < 0.6:
            v = self.version()
            return (w.OP_DELETE, w.req_path_version(p, v), ("delete", p, v))
        if k < 0.8:
            v = self.version()
            return (w.OP_SETDATA, w.req_setdata(p, self.data(), v), ("setData", p, v))
        v = self.version()
        return (w.OP_CHECK, w.req_path_version(p, v), ("check", p, v))

    def op(self):
        """Pick the next op: (description, slot, opcode or pseudo-op, body, xid)."""
        r = self.r
        s = r.randrange(NSESS)
        p = self.path()
        table = [
            (14, "create"), (5, "create2"), (3, "createContainer"), (2, "createTTL"),
            (7, "delete"), (7, "exists"), (7, "getData"), (7, "setData"), (5, "getChildren"),
            (4, "getChildren2"), (2, "getAllChildrenNumber"), (2, "getEphemerals"),
            (3, "getACL"), (3, "setACL"), (6, "multi"), (2, "multiRead"), (1, "sync"),
            (1, "auth"), (2, "addWatch"), (2, "removeWatches"), (2, "checkWatches"),
            (1, "setWatches"), (1, "setWatches2"), (1, "whoAmI"), (1, "ping"),
            (1, "closeSession"), (1, "reconnect"), (1, "badFlags"),
        ]
        tot = sum(wt for wt, _ in table)
        x = r.uniform(0, tot)
        for wt, name in table:
            x -= wt
            if x <= 0:
                break
        if name == "create":
            fl = r.choice([0, 0, 0, 1, 2, 3, 4])
            return ((name, p, fl), s, w.OP_CREATE, w.req_create(p, self.data(), self.acl(), fl), None)
        if name == "create2":
            fl = r.choice([0, 1, 2, 3])
            return ((name, p, fl), s, w.OP_CREATE2, w.req_create(p, self.data(), self.acl(), fl), None)
        if name == "badFlags":
            fl = r.choice([7, -1, 5, 100])
            op = r.choice([w.OP_CREATE, w.OP_CREATE2])
            return ((name, p, fl), s, op, w.req_create(p, self.data(), w.OPEN_ACL, fl), None)
        if name == "createContainer":
            return ((name, p), s, w.OP_CREATECONTAINER, w.req_create(p, self.data(), self.acl(), 4), None)
        if name == "createTTL":
            fl = r.choice([5, 6, 6, 0])
            ttl = r.choice([3600000, 3600000, 0, -5, 1 << 41])
            if fl == 0 and ttl < 0:
                # ZooKeeper 3.8.0 accepts this, then dies applying the txn ("Severe unrecoverable
                # error ... ttl must be positive"): not a comparable behaviour.
                ttl = 3600000
            return ((name, p, fl, ttl), s, w.OP_CREATETTL,
                    w.req_create_ttl(p, self.data(), self.acl(), fl, ttl), None)
        if name == "delete":
            v = self.version()
            return ((name, p, v), s, w.OP_DELETE, w.req_path_version(p, v), None)
        if name in ("exists", "getData", "getChildren", "getChildren2"):
            watch = r.random() < 0.5
            op = {"exists": w.OP_EXISTS, "getData": w.OP_GETDATA, "getChildren": w.OP_GETCHILDREN,
                  "getChildren2": w.OP_GETCHILDREN2}[name]
            return ((name, p, watch), s, op, w.req_path_watch(p, watch), None)
        if name == "setData":
            v = self.version()
            return ((name, p, v), s, w.OP_SETDATA, w.req_setdata(p, self.data(), v), None)
        if name == "getAllChildrenNumber":
            p = r.choice([p, self.root])
            return ((name, p), s, w.OP_GETALLCHILDRENNUMBER, w.req_path(p), None)
        if name == "getEphemerals":
            p = r.choice([self.root, self.root + "/a", ""])
            return ((name, p), s, w.OP_GETEPHEMERALS, w.req_path(p), None)
        if name == "getACL":
            return ((name, p), s, w.OP_GETACL, w.req_path(p), None)
        if name == "setACL":
            v = r.choice([-1, -1, 0, 1])
            return ((name, p, v), s, w.OP_SETACL, w.req_setacl(p, self.acl(), v), None)
        if name == "multi":
            subs = [self.sub_op(False) for _ in range(r.randint(1, 4))]
            return ((name, [d for _, _, d in subs]), s, w.OP_MULTI,
                    w.req_multi([(t, b) for t, b, _ in subs]), None)
        if name == "multiRead":
            subs = [self.sub_op(True) for _ in range(r.randint(1, 3))]
            return ((name, [d for _, _, d in subs]), s, w.OP_MULTIREAD,
                    w.req_multi([(t, b) for t, b, _ in subs]), None)
        if name == "sync":
            return ((name, p), s, w.OP_SYNC, w.req_path(p), None)
        if name == "auth":
            u = r.choice(USERS)
            return ((name, u), s, w.OP_AUTH, w.req_auth("digest", u.encode()), w.XID_AUTH)
        if name == "addWatch":
            m = r.choice([0, 1])
            return ((name, p, m), s, w.OP_ADDWATCH, w.req_path_type(p, m), None)
        if name in ("removeWatches", "checkWatches"):
            # WatcherType 4/5 (persistent) are 3.9+: ZK 3.8.0 answers MarshallingError.
            t = r.choice([1, 2, 3])
            op = w.OP_REMOVEWATCHES if name == "removeWatches" else w.OP_CHECKWATCHES
            return ((name, p, t), s, op, w.req_path_type(p, t), None)
        if name == "setWatches":
            lists = (self.watchlist(), self.watchlist(), self.watchlist())
            return ((name,) + lists, s, "setWatches", lists, None)
        if name == "setWatches2":
            lists = (self.watchlist(), self.watchlist(), self.watchlist(), self.watchlist(),
                     self.watchlist())
            return ((name,) + lists, s, "setWatches2", lists, None)
        if name == "whoAmI":
            return ((name,), s, w.OP_WHOAMI, b"", None)
        if name == "ping":
            return ((name,), s, w.OP_PING, b"", w.XID_PING)
        if name == "closeSession":
            return ((name,), s, w.OP_CLOSESESSION, b"", None)
        return ((name,), s, "reconnect", None, None)

    def learn(self, desc, norm_reply, slot):
        """Update known paths (and persistent watches) from A's normalized result of desc."""
        if not isinstance(norm_reply, tuple) or len(norm_reply) < 2:
            return
        res = norm_reply[0]
        if desc[0] in ("closeSession", "reconnect") or (isinstance(res, tuple) and res
                                                         and res[0] in ("reopen", "reopen-first")):
            self.persist.pop(slot, None)  # watches belong to the connection
        if isinstance(res, tuple) and res and isinstance(res[0], tuple):
            res = res[0]  # (normalized reply, closed?)
        if not isinstance(res, tuple) or not res or res[0] != "err":
            return
        err, body = res[1], res[4]
        name = desc[0]
        if err == 0 and name == "addWatch":
            self.persist.setdefault(slot, set()).add((desc[1], desc[2]))
        if err == 0 and name == "setWatches2":
            for p in desc[4]:
                self.persist.setdefault(slot, set()).add((p, 0))
            for p in desc[5]:
                self.persist.setdefault(slot, set()).add((p, 1))
        if err == 0 and name in ("create", "create2", "createContainer", "createTTL", "badFlags"):
            path = body if isinstance(body, str) else body[0]
            self.known.add(path)
        elif err == 0 and name == "multi":
            for typ, e, val in body:
                if typ in (w.OP_CREATE,):
                    self.known.add(val)
                elif typ == w.OP_CREATE2:
                    self.known.add(val[0])
        elif err == 0 and name == "delete" and desc[1] in self.known and desc[1] != self.root:
            self.known.discard(desc[1])
        self.known = {p for p in self.known if p == self.root or p.startswith(self.root + "/")}
        if len(self.known) > 60:
            self.known = set(sorted(self.known)[:60]) | {self.root}


# ------------------------------------------------------------------ known differences

def _err(res):
    """The header err of a normalized step result, or None."""
    try:
        return res[0][0][1]
    except (TypeError, IndexError):
        return None


def _paths(desc):
    """Every path argument of an op description (multi sub-ops included)."""
    out = []
    for x in desc[1:]:
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, list):
            for y in x:
                if isinstance(y, tuple):
                    out.extend(z for z in y if isinstance(z, str))
                elif isinstance(y, str):
                    out.append(y)
    return out


def _multi_create2_as_create(desc, ra, rb):
    """B answers create2 (op 15) inside multi with a type-15 result (path + stat) where ZK 3.8.0
    answers a type-1 result (path only); equal otherwise."""
    if desc[0] != "multi":
        return False
    try:
        la, lb = ra[0][0][4], rb[0][0][4]
        if len(la) != len(lb):
            return False
        fixed = []
        for (ta, ea, va), (tb, eb, vb) in zip(la, lb):
            if ta == w.OP_CREATE and tb == w.OP_CREATE2 and ea == eb == 0:
                fixed.append((ta, eb, vb[0]))
            else:
                fixed.append((tb, eb, vb))
        return ra[0][0][:4] == rb[0][0][:4] and fixed == la and ra[1:] == rb[1:]
    except (TypeError, IndexError, KeyError):
        return False


# Differences between ZooKeeper 3.8.0 and pk-server that are known and reported (see
# tests/diff/README.md), tolerated unless --strict.  Each: (id, description, predicate(desc, ra,
# rb), what to do: "continue" the seed (the difference leaves both states equal) or "abandon" it
# (watch state may now differ, so later events would differ too)).
KNOWN = [
    ("exists-noauth",
     "exists on a node without READ: ZK 3.8.0 returns the stat, pk-server NoAuth (-102) "
     "(the READ check of ZOOKEEPER-2590, in later 3.8.x)",
     lambda d, ra, rb: d[0] == "exists" and not d[2] and _err(ra) == 0 and _err(rb) == -102,
     "continue"),
    ("exists-noauth-watch",
     "the same with watch=true (ZK 3.8.0 leaves a data watch; whether pk-server does is not "
     "compared: the seed stops here)",
     lambda d, ra, rb: d[0] == "exists" and d[2] and _err(ra) == 0 and _err(rb) == -102,
     "abandon"),
    ("checkwatches-any-connection",
     "checkWatches (17): ZK 3.8.0 answers 0 when ANY connection has a watch of that type on the "
     "path (and for persistent watches with type Children/Data), pk-server checks only the "
     "caller's own watches and answers NoWatcher (-121); checkWatches changes no state",
     lambda d, ra, rb: d[0] == "checkWatches" and _err(ra) == 0 and _err(rb) == -121,
     "continue"),
    ("persistent-watch-by-type",
     "removeWatches with type Children(1)/Data(2) on a path with only a persistent "
     "or persistent-recursive watch (addWatch): ZK 3.8.0 finds/removes it (0), pk-server "
     "answers NoWatcher (-121)",
     lambda d, ra, rb: d[0] == "removeWatches" and d[2] in (1, 2)
     and _err(ra) == 0 and _err(rb) == -121, "abandon"),
    ("multi-create2-result",
     "create2 inside multi: ZK 3.8.0 answers a create(1) result with the path only, pk-server a "
     "create2(15) result with path and stat",
     _multi_create2_as_create, "continue"),
]


def _extra_persistent_events(d, ra, rb, persist):
    """B delivers extra events, all on paths where that session has a persistent watch
    (addWatch), while results are equal: ZK 3.8.0 keeps one watch mode per (watcher, path), so a
    later standard watch (exists/getData/getChildren/setWatches) on the same path replaces the
    persistent one, which is then gone once it fires (ZOOKEEPER-4466, fixed after 3.8.0)."""
    if ra[0] != rb[0] or ra[1] == rb[1]:
        return False
    for slot in set(ra[1]) | set(rb[1]):
        ea, eb = list(ra[1].get(slot, [])), list(rb[1].get(slot, []))
        extra = list(eb)
        for e in ea:
            if e not in extra:
                return False
            extra.remove(e)
        for (_typ, _state, path) in extra:
            ok = any(path == p or (m == 1 and path.startswith(p + "/"))
                     for p, m in persist.get(slot, ()))
            if not ok:
                return False
    return True


KNOWN.append(("persistent-watch-replaced",
              "ZK 3.8.0 keeps one watch mode per (connection, path): a standard watch set on a "
              "path that has a persistent watch replaces it (ZOOKEEPER-4466); pk-server keeps "
              "both and delivers the later events",
              None, "abandon"))


def _multi_as_zk380(desc, rb):
    """rb with create2 results inside a multi rewritten the ZK 3.8.0 way (type 1, path only)."""
    try:
        if desc[0] != "multi" or rb[0][0][1] != 0:
            return rb
        lst = [(w.OP_CREATE, e, v[0]) if t == w.OP_CREATE2 and e == 0 else (t, e, v)
               for t, e, v in rb[0][0][4]]
        return ((rb[0][0][:4] + (lst,),) + rb[0][1:],) + rb[1:]
    except (TypeError, IndexError):
        return rb


def known_difference(desc, ra, rb, persist):
    """The KNOWN entry that explains this difference, or None."""
    rb2 = _multi_as_zk380(desc, rb)
    if rb2 != rb and rb2 != ra and _extra_persistent_events(desc, ra, rb2, persist):
        return [k for k in KNOWN if k[0] == "persistent-watch-replaced"][0]
    for k in KNOWN:
        if k[2] is None:
            if k[0] == "persistent-watch-replaced" and _extra_persistent_events(desc, ra, rb,
                                                                                persist):
                return k
        elif k[2](desc, ra, rb):
            return k
    return None


# ------------------------------------------------------------------ driver

def run_step(side, desc, slot, op, body, xid, sort_events):
    """Run one generated op on one side; returns its normalized result."""
    if op == "reconnect":
        c = side.conns[slot]
        if c is None:
            res = ("reopen", side.open(slot))
        else:
            c.close()
            nc = side.conn(session_id=c.session_id, passwd=c.passwd, last_zxid=c.last_zxid)
            try:
                hs = nc.connect()
                side.conns[slot] = nc
                res = ("reconnect", side.norm.handshake(hs))
            except (w.ConnClosed, socket.timeout, w.DecodeError) as e:
                side.conns[slot] = None
                res = ("reconnect-failed", type(e).__name__)
    elif op in ("setWatches", "setWatches2"):
        c = side.conns[slot]
        rel = c.last_zxid if c is not None else 0
        if op == "setWatches":
            r = side.call(slot, w.OP_SETWATCHES, w.req_setwatches(rel, *body), xid=w.XID_SETWATCHES)
        else:
            r = side.call(slot, w.OP_SETWATCHES2, w.req_setwatches2(rel, *body))
        res = r[:2] if len(r) == 3 else r
    else:
        if side.conns[slot] is None:
            res = ("reopen-first", side.open(slot))
        else:
            r = side.call(slot, op, body, xid=xid)
            res = r[:2] if len(r) == 3 else r
    events = {}
    own = side.events(slot, sort_events)
    if own:
        events[slot] = own
    for o in range(NSESS):
        if o != slot:
            side.barrier(o)
            ev = side.events(o, sort_events)
            if ev:
                events[o] = ev
    if side.conns[slot] is None and op == w.OP_CLOSESESSION:
        pass
    return (res, events)


def unknown_opcode_probe(side, opcode):
    """Open a throwaway session, send an invalid opcode, record reply and close."""
    c = side.conn()
    hs = c.connect()
    try:
        rep = c.call(opcode, b"", timeout_s=2.0)
        res = (side.norm.reply(opcode, rep), c.is_closed_by_peer(1.0))
    except w.ConnClosed:
        res = ("closed-without-reply",)
    except socket.timeout:
        res = ("no-reply-within-2s",)
    side.end_session(c)
    return (side.norm.handshake(hs)[0], res)


def fmt(v):
    """Readable repr."""
    return repr(v)


def run_seed(seed, A, B, nops, mutate_at, verbose, counter, strict=True, known_seen=None,
             cut_short=None):
    """Run one seed on both sides; returns None or a difference report."""
    g = Gen(seed)
    for side in (A, B):
        side.norm.reset()
        for s in range(NSESS):
            try:
                side.open(s)
            except (OSError, w.ConnClosed, w.DecodeError) as e:
                return "seed %d: %s: opening session %d failed: %r (server up: %s)" % (
                    seed, side.name, s, e, side.server.is_up())
        # Start each seed from the same set of auths: session 1 is bob, session 2 alice.
        side.conns[1].auth_digest("bob:pw")
        side.conns[2].auth_digest("alice:pw")
    setup = [(side.conns[0].call(w.OP_CREATE, w.req_create(g.root, b"r", w.OPEN_ACL, 0)))
             for side in (A, B)]
    ra, rb = A.norm.reply(w.OP_CREATE, setup[0]), B.norm.reply(w.OP_CREATE, setup[1])
    if ra != rb:
        return "seed %d setup: create %s differs:\n  A %s\n  B %s" % (seed, g.root, ra, rb)
    for i in range(nops):
        desc, slot, op, body, xid = g.op()
        counter[0] += 1
        if mutate_at is not None and counter[0] == mutate_at:
            B.mutate_next = True
        sort_ev = op == w.OP_CLOSESESSION
        try:
            ra = run_step(A, desc, slot, op, body, xid, sort_ev)
            rb = run_step(B, desc, slot, op, body, xid, sort_ev)
        except Exception:  # noqa: BLE001
            return "seed %d step %d op %s on session %d: harness exception\n%s" % (
                seed, i, fmt(desc), slot, traceback.format_exc())
        if verbose:
            print("  seed %d step %d S%d %s -> %s" % (seed, i, slot, fmt(desc), fmt(ra)))
            if ra != rb:
                print("      B: %s" % fmt(rb))
        if ra != rb and not strict:
            k = known_difference(desc, ra, rb, g.persist)
            if k is not None:
                if k[0] not in known_seen:
                    print("diff: KNOWN DIFFERENCE %s (first at seed %d step %d): %s\n  op: %s\n"
                          "  A: %s\n  B: %s" % (k[0], seed, i, k[1], fmt(desc), fmt(ra), fmt(rb)))
                known_seen[k[0]] = known_seen.get(k[0], 0) + 1
                if k[3] == "abandon":
                    cut_short[0] += 1
                    break
                g.learn(desc, ra, slot)
                # The two sides may have labelled different zxids in this step: restart the
                # labels on both, so later steps compare again (labels stay consistent).
                A.norm.reset()
                B.norm.reset()
                continue
        if ra != rb:
            return ("DIFFERENCE at seed %d step %d (global op #%d), session slot %d\n"
                    "  op: %s\n  A (%s): %s\n  B (%s): %s\n"
                    "  reproduce: tests/diff/run_diff.py --a %s --b %s --start %d --seeds 1 -v"
                    % (seed, i, counter[0], slot, fmt(desc), A.name, fmt(ra), B.name, fmt(rb),
                       A.server.kind, B.server.kind, seed))
        g.learn(desc, ra, slot)
    A.close_all()
    B.close_all()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", default="zk", choices=["zk", "pk"])
    ap.add_argument("--b", default="pk", choices=["zk", "pk"])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--ops", type=int, default=120)
    ap.add_argument("--mutate-at", type=int, default=None,
                    help="flip one bit of B's raw reply at this global op number (self-test)")
    ap.add_argument("--expect-diff", action="store_true",
                    help="exit 0 only if a difference IS found (for the mutation self-test)")
    ap.add_argument("--strict", action="store_true",
                    help="do not tolerate the KNOWN differences between ZK 3.8.0 and pk-server")
    ap.add_argument("--keep-going", action="store_true",
                    help="after a difference, close the seed's sessions and go on with the next "
                         "seed (report every seed's first difference)")
    ap.add_argument("--port-a", type=int, default=None)
    ap.add_argument("--port-b", type=int, default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    t0_ms = int(time.time() * 1000)
    pa = a.port_a or PORTS[a.a]
    pb = a.port_b or (ALT_PORTS[a.b] if a.a == a.b else PORTS[a.b])
    props = zkserver.zk_diff_props()
    cfg = {"maxSessionTimeout": "600000"}
    sa = zkserver.Server(a.a, pa, java_props=props, name="diffA-" + a.a, cfg_extra=cfg)
    sb = zkserver.Server(a.b, pb, java_props=props, name="diffB-" + a.b, cfg_extra=cfg)
    t = time.time()
    found = None
    try:
        sa.start(timeout_s=60)
        sb.start(timeout_s=60)
        A = Side("A:" + a.a, sa, t0_ms)
        B = Side("B:" + a.b, sb, t0_ms)
        counter = [0]
        diffs = []
        known_seen = {}
        cut_short = [0]
        # Invalid opcodes, once per run on throwaway sessions: 999 and 0 (notification) must
        # give the same answer (ZK: Unimplemented, then close).  Standalone check (13) and
        # createSession (-10) are only printed: ZK 3.8.0 answers MarshallingError and keeps the
        # connection, the fact sheet recommends Unimplemented + close; no client sends them.
        for opcode in (999, 0, w.OP_CHECK, -10):
            ra, rb = unknown_opcode_probe(A, opcode), unknown_opcode_probe(B, opcode)
            print("diff: invalid opcode %d: A %s B %s" % (opcode, ra, rb))
            if ra != rb and opcode in (999, 0):
                diffs.append("invalid opcode %d differs:\n  A %s\n  B %s" % (opcode, ra, rb))
                if not a.keep_going:
                    break
        found = "\n".join(diffs) if diffs else None
        for seed in ([] if found and not a.keep_going else range(a.start, a.start + a.seeds)):
            d = run_seed(seed, A, B, a.ops, a.mutate_at, a.verbose, counter, a.strict,
                         known_seen, cut_short)
            if d:
                diffs.append(d)
                found = "\n".join(diffs)
                if not a.keep_going:
                    break
                A.close_all()
                B.close_all()
        for s in (sa, sb):
            if not s.is_up():
                found = (found or "") + "\nserver %s no longer answers ruok:\n%s" % (
                    s.name, s.log_tail())
    except zkserver.ServerError as e:
        print("diff: HARNESS ERROR: %s" % e)
        return 2
    finally:
        for s in (sa, sb):
            rc = s.stop()
            if found:
                print("---- %s log tail (exit %s) ----\n%s" % (s.name, rc, s.log_tail(15)))
            s.cleanup()
    secs = time.time() - t
    if not a.strict:
        print("diff: known differences tolerated (--strict to fail on them): %s"
              % (", ".join("%s x%d" % kv for kv in sorted(known_seen.items())) or "none"))
    if found:
        print(found)
        print("diff: %s vs %s: FAILED after %d ops (%.0f s), %d difference(s)" % (
            a.a, a.b, counter[0], secs, max(len(diffs), 1)))
        return 0 if a.expect_diff else 1
    if known_seen:
        print("diff: %s vs %s: %d seeds, %d ops: no unexplained difference; %d known differences "
              "tolerated, %d seeds cut short by one (%.0f s)" % (
                  a.a, a.b, a.seeds, counter[0], sum(known_seen.values()), cut_short[0], secs))
    else:
        print("diff: %s vs %s: %d seeds x %d ops identical (%d ops, %.0f s)" % (
            a.a, a.b, a.seeds, a.ops, counter[0], secs))
    if a.expect_diff:
        print("diff: FAILED: the deliberately altered reply was NOT detected")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
