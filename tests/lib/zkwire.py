"""A raw ZooKeeper wire client: struct-packed jute (zk-protocol.md §1-2), every opcode.

Nothing is hidden: each request is built by a `req_*` function into bytes, sent with an explicit
xid and opcode, and the raw reply (header + body bytes) comes back as a Reply.  Watch events
(xid -1) that arrive while waiting are kept, in order, in Conn.events (raw and decoded).
decode_body(op, body) turns a success body into Python values.

    c = Conn("127.0.0.1", 2181); c.connect()
    r = c.call(OP_CREATE, req_create("/a", b"x", OPEN_ACL, 0))
    r.err, decode_body(OP_CREATE, r.body)

Used by the differential test (tests/diff), the integration suites and as a protocol probe.
"""

import socket
import struct
import time

# Opcodes (§5).
OP_NOTIFICATION = 0
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GETDATA = 4
OP_SETDATA = 5
OP_GETACL = 6
OP_SETACL = 7
OP_GETCHILDREN = 8
OP_SYNC = 9
OP_PING = 11
OP_GETCHILDREN2 = 12
OP_CHECK = 13
OP_MULTI = 14
OP_CREATE2 = 15
OP_RECONFIG = 16
OP_CHECKWATCHES = 17
OP_REMOVEWATCHES = 18
OP_CREATECONTAINER = 19
OP_DELETECONTAINER = 20
OP_CREATETTL = 21
OP_MULTIREAD = 22
OP_AUTH = 100
OP_SETWATCHES = 101
OP_SASL = 102
OP_GETEPHEMERALS = 103
OP_GETALLCHILDRENNUMBER = 104
OP_SETWATCHES2 = 105
OP_ADDWATCH = 106
OP_WHOAMI = 107
OP_CLOSESESSION = -11
OP_ERROR = -1

OP_NAMES = {v: k[3:].lower() for k, v in globals().items() if k.startswith("OP_")}
OP_NAMES[-1] = "error"

XID_WATCH = -1
XID_PING = -2
XID_AUTH = -4
XID_SETWATCHES = -8

# Perms (§9.1).
PERM_READ, PERM_WRITE, PERM_CREATE, PERM_DELETE, PERM_ADMIN, PERM_ALL = 1, 2, 4, 8, 16, 31
OPEN_ACL = [(PERM_ALL, "world", "anyone")]
READ_ACL = [(PERM_READ, "world", "anyone")]
CREATOR_ALL_ACL = [(PERM_ALL, "auth", "")]

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")
STAT_FMT = ">qqqqiiiqiiq"
STAT_SIZE = struct.calcsize(STAT_FMT)
assert STAT_SIZE == 68

MAX_FRAME = 64 << 20  # refuse to buffer more than this from a server


class DecodeError(Exception):
    """A reply does not parse as the expected jute record."""


class ConnClosed(Exception):
    """The server closed the connection (or it broke)."""


# ---------------------------------------------------------------- jute writer

def w_int(v):
    """jute int."""
    return struct.pack(">i", v)


def w_long(v):
    """jute long."""
    return struct.pack(">q", v)


def w_bool(v):
    """jute boolean (0/1)."""
    return b"\x01" if v else b"\x00"


def w_buffer(b):
    """jute buffer; None is encoded as length -1."""
    if b is None:
        return w_int(-1)
    return w_int(len(b)) + b


def w_string(s):
    """jute ustring; None is encoded as length -1; str is UTF-8 encoded."""
    if s is None:
        return w_int(-1)
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogatepass")
    return w_int(len(s)) + s


def w_strings(lst):
    """jute vector<ustring>; None is -1."""
    if lst is None:
        return w_int(-1)
    return w_int(len(lst)) + b"".join(w_string(x) for x in lst)


def w_acl(acl):
    """jute vector<ACL> from [(perms, scheme, id)]; None is -1."""
    if acl is None:
        return w_int(-1)
    return w_int(len(acl)) + b"".join(w_int(p) + w_string(s) + w_string(i) for p, s, i in acl)


# ---------------------------------------------------------------- jute reader

class Reader:
    """Bounds-checked jute reader over bytes."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, n):
        """Consume n bytes or raise DecodeError."""
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("need %d bytes at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def long(self):
        return struct.unpack(">q", self._take(8))[0]

    def bool(self):
        return self._take(1)[0]

    def buffer(self):
        n = self.int()
        if n == -1:
            return None
        if n < -1:
            raise DecodeError("negative buffer length %d" % n)
        return self._take(n)

    def string(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8", "surrogateescape")

    def strings(self):
        n = self.int()
        if n == -1:
            return None
        if n < -1 or n > len(self.data):
            raise DecodeError("bad vector length %d" % n)
        return [self.string() for _ in range(n)]

    def stat(self):
        return dict(zip(STAT_FIELDS, struct.unpack(STAT_FMT, self._take(STAT_SIZE))))

    def acl(self):
        n = self.int()
        if n == -1:
            return None
        if n < -1 or n > len(self.data):
            raise DecodeError("bad acl vector length %d" % n)
        return [(self.int(), self.string(), self.string()) for _ in range(n)]

    def remaining(self):
        return len(self.data) - self.pos

    def end(self):
        """Assert the record consumed the whole body."""
        if self.pos != len(self.data):
            raise DecodeError("%d trailing bytes" % (len(self.data) - self.pos))


# ---------------------------------------------------------------- requests

def req_connect(last_zxid=0, timeout_ms=30000, session_id=0, passwd=b"\x00" * 16,
                read_only=False, with_ro=True, protocol_version=0):
    """ConnectRequest body (45 bytes, 44 without the readOnly byte)."""
    b = w_int(protocol_version) + w_long(last_zxid) + w_int(timeout_ms) + w_long(session_id) \
        + w_buffer(passwd)
    return b + w_bool(read_only) if with_ro else b


def req_create(path, data, acl, flags):
    """CreateRequest (create, create2, createContainer)."""
    return w_string(path) + w_buffer(data) + w_acl(acl) + w_int(flags)


def req_create_ttl(path, data, acl, flags, ttl_ms):
    """CreateTTLRequest."""
    return req_create(path, data, acl, flags) + w_long(ttl_ms)


def req_path_version(path, version):
    """DeleteRequest / CheckVersionRequest."""
    return w_string(path) + w_int(version)


def req_path_watch(path, watch):
    """ExistsRequest / GetDataRequest / GetChildren(2)Request."""
    return w_string(path) + w_bool(watch)


def req_path(path):
    """GetACLRequest / SyncRequest / GetAllChildrenNumberRequest / GetEphemeralsRequest."""
    return w_string(path)


def req_setdata(path, data, version):
    """SetDataRequest."""
    return w_string(path) + w_buffer(data) + w_int(version)


def req_setacl(path, acl, version):
    """SetACLRequest."""
    return w_string(path) + w_acl(acl) + w_int(version)


def req_path_type(path, typ):
    """CheckWatchesRequest / RemoveWatchesRequest / AddWatchRequest (type = mode)."""
    return w_string(path) + w_int(typ)


def req_auth(scheme, auth, typ=0):
    """AuthPacket."""
    return w_int(typ) + w_string(scheme) + w_buffer(auth)


def req_setwatches(rel_zxid, data, exist, child):
    """SetWatches."""
    return w_long(rel_zxid) + w_strings(data) + w_strings(exist) + w_strings(child)


def req_setwatches2(rel_zxid, data, exist, child, persistent, recursive):
    """SetWatches2."""
    return req_setwatches(rel_zxid, data, exist, child) + w_strings(persistent) \
        + w_strings(recursive)


def req_multi(ops):
    """Multi/MultiRead body from [(type, record_bytes)], ended by the done header."""
    out = b""
    for typ, rec in ops:
        out += w_int(typ) + w_bool(False) + w_int(-1) + rec
    return out + w_int(-1) + w_bool(True) + w_int(-1)


def req_reconfig(joining, leaving, new_members, config_id=-1):
    """ReconfigRequest."""
    return w_string(joining) + w_string(leaving) + w_string(new_members) + w_long(config_id)


# ---------------------------------------------------------------- responses

def decode_connect_response(body):
    """ConnectResponse -> dict; readOnly is None if the 37th byte is absent."""
    r = Reader(body)
    out = {"protocolVersion": r.int(), "timeOut": r.int(), "sessionId": r.long(),
           "passwd": r.buffer()}
    out["readOnly"] = r.bool() if r.remaining() >= 1 else None
    r.end()
    return out


def decode_multi(body):
    """MultiResponse -> list of (type, err, value)."""
    r = Reader(body)
    res = []
    for _ in range(100000):
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            if (typ, err) != (-1, -1):
                raise DecodeError("bad done header %r" % ((typ, done, err),))
            break
        if typ == OP_CREATE:
            res.append((typ, err, r.string()))
        elif typ in (OP_CREATE2, OP_CREATECONTAINER, OP_CREATETTL):
            res.append((typ, err, (r.string(), r.stat())))
        elif typ in (OP_DELETE, OP_CHECK):
            res.append((typ, err, None))
        elif typ == OP_SETDATA:
            res.append((typ, err, r.stat()))
        elif typ == OP_GETCHILDREN:
            res.append((typ, err, r.strings()))
        elif typ == OP_GETDATA:
            res.append((typ, err, (r.buffer(), r.stat())))
        elif typ == OP_ERROR:
            res.append((typ, err, r.int()))
        else:
            raise DecodeError("unknown multi result type %d" % typ)
    else:
        raise DecodeError("multi response without end")
    r.end()
    return res


def decode_body(op, body):
    """Decode the success body of op; returns a Python value (None for header-only replies)."""
    r = Reader(body)
    if op == OP_CREATE:
        v = r.string()
    elif op in (OP_CREATE2, OP_CREATECONTAINER, OP_CREATETTL):
        v = (r.string(), r.stat())
    elif op in (OP_EXISTS, OP_SETDATA, OP_SETACL):
        v = r.stat()
    elif op == OP_GETDATA or op == OP_RECONFIG:
        v = (r.buffer(), r.stat())
    elif op == OP_GETACL:
        v = (r.acl(), r.stat())
    elif op == OP_GETCHILDREN:
        v = r.strings()
    elif op == OP_GETCHILDREN2:
        v = (r.strings(), r.stat())
    elif op == OP_SYNC:
        v = r.string()
    elif op == OP_GETALLCHILDRENNUMBER:
        v = r.int()
    elif op == OP_GETEPHEMERALS:
        v = r.strings()
    elif op == OP_WHOAMI:
        n = r.int()
        v = None if n == -1 else [(r.string(), r.string()) for _ in range(max(n, 0))]
    elif op == OP_ADDWATCH:
        v = r.int()
    elif op in (OP_MULTI, OP_MULTIREAD):
        return decode_multi(body)
    elif op == OP_SASL:
        v = r.buffer()
    else:
        v = None
    r.end()
    return v


def decode_event(body):
    """WatcherEvent -> (type, state, path)."""
    r = Reader(body)
    v = (r.int(), r.int(), r.string())
    r.end()
    return v


class Reply:
    """One server frame with a ReplyHeader: xid, zxid, err and the raw body bytes."""

    __slots__ = ("xid", "zxid", "err", "body", "raw")

    def __init__(self, raw):
        if len(raw) < 16:
            raise DecodeError("reply shorter than a ReplyHeader: %r" % raw)
        self.raw = raw
        self.xid, self.zxid, self.err = struct.unpack(">iqi", raw[:16])
        self.body = raw[16:]

    def __repr__(self):
        return "Reply(xid=%d zxid=%#x err=%d body=%s)" % (self.xid, self.zxid, self.err,
                                                         self.body.hex())


class Conn:
    """One TCP connection carrying one session; synchronous request/reply."""

    def __init__(self, host, port, timeout_ms=30000, session_id=0, passwd=b"\x00" * 16,
                 last_zxid=0, io_timeout_s=10.0):
        self.host, self.port = host, port
        self.timeout_ms = timeout_ms
        self.session_id = session_id
        self.passwd = passwd
        self.last_zxid = last_zxid
        self.io_timeout_s = io_timeout_s
        self.sock = None
        self.xid = 0
        self.events = []      # list of (Reply, (type, state, path)) in arrival order
        self.handshake = None  # decoded ConnectResponse
        self.handshake_raw = None
        self._buf = b""

    # -- transport
    def open_socket(self):
        """TCP connect only."""
        self.sock = socket.create_connection((self.host, self.port), timeout=self.io_timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        return self.sock

    def send_frame(self, payload):
        """Send a 4-byte length then payload."""
        self.send_raw(struct.pack(">i", len(payload)) + payload)

    def send_raw(self, data):
        """Send bytes as they are."""
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise ConnClosed("send failed: %s" % e)

    def _fill(self, n, deadline):
        """Read until the buffer holds n bytes."""
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for %d bytes" % n)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise
            except OSError as e:
                raise ConnClosed("recv failed: %s" % e)
            if not chunk:
                raise ConnClosed("connection closed by server")
            self._buf += chunk

    def read_frame(self, timeout_s=None):
        """Read one length-prefixed frame; returns the payload bytes."""
        deadline = time.monotonic() + (self.io_timeout_s if timeout_s is None else timeout_s)
        self._fill(4, deadline)
        n = struct.unpack(">i", self._buf[:4])[0]
        if n < 0 or n > MAX_FRAME:
            raise DecodeError("bad frame length %d" % n)
        self._fill(4 + n, deadline)
        payload, self._buf = self._buf[4:4 + n], self._buf[4 + n:]
        return payload

    def is_closed_by_peer(self, timeout_s=1.0):
        """True if the server closes the connection within timeout_s (pending frames are read
        and kept in self.late_frames)."""
        self.late_frames = []
        deadline = time.monotonic() + timeout_s
        try:
            for _ in range(1000):
                self.late_frames.append(self.read_frame(max(deadline - time.monotonic(), 0.001)))
        except ConnClosed:
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        """Close the socket (the session stays alive on the server)."""
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # -- session
    def connect(self, read_only=False, with_ro=True):
        """Open the socket and do the handshake; returns the decoded ConnectResponse."""
        self.open_socket()
        self.send_frame(req_connect(self.last_zxid, self.timeout_ms, self.session_id,
                                    self.passwd, read_only, with_ro))
        raw = self.read_frame()
        self.handshake_raw = raw
        self.handshake = decode_connect_response(raw)
        if self.handshake["timeOut"] > 0:
            self.session_id = self.handshake["sessionId"]
            self.passwd = self.handshake["passwd"]
        self.xid = 0
        return self.handshake

    def next_xid(self):
        """Java/kazoo-style xids: 1, 2, 3, ..."""
        self.xid = self.xid + 1 if self.xid < 0x7fffffff else 1
        return self.xid

    def send_request(self, op, body=b"", xid=None):
        """Send RequestHeader + body; returns the xid used."""
        if xid is None:
            xid = self.next_xid()
        self.send_frame(struct.pack(">ii", xid, op) + body)
        return xid

    def recv_reply(self, xid, timeout_s=None):
        """Read frames until the reply for xid; watch events on the way go to self.events."""
        for _ in range(100000):
            raw = self.read_frame(timeout_s)
            rep = Reply(raw)
            if rep.xid == XID_WATCH:
                self.events.append((rep, decode_event(rep.body)))
                continue
            if rep.xid != xid:
                raise DecodeError("reply xid %d while waiting for %d" % (rep.xid, xid))
            if rep.zxid > 0:
                self.last_zxid = max(self.last_zxid, rep.zxid)
            return rep
        raise DecodeError("too many frames")

    def call(self, op, body=b"", xid=None, timeout_s=None):
        """Send one request and wait for its reply (events are collected)."""
        xid = self.send_request(op, body, xid)
        return self.recv_reply(xid, timeout_s)

    def take_events(self):
        """Return and clear the collected events."""
        ev, self.events = self.events, []
        return ev

    # -- conveniences
    def ping(self):
        return self.call(OP_PING, b"", xid=XID_PING)

    def auth_digest(self, user_pw):
        return self.call(OP_AUTH, req_auth("digest", user_pw.encode()), xid=XID_AUTH)

    def create(self, path, data=b"", acl=OPEN_ACL, flags=0):
        return self.call(OP_CREATE, req_create(path, data, acl, flags))

    def get_data(self, path, watch=False):
        return self.call(OP_GETDATA, req_path_watch(path, watch))

    def set_data(self, path, data, version=-1):
        return self.call(OP_SETDATA, req_setdata(path, data, version))

    def exists(self, path, watch=False):
        return self.call(OP_EXISTS, req_path_watch(path, watch))

    def delete(self, path, version=-1):
        return self.call(OP_DELETE, req_path_version(path, version))

    def get_children(self, path, watch=False):
        return self.call(OP_GETCHILDREN, req_path_watch(path, watch))

    def close_session(self):
        """closeSession and wait for its reply."""
        return self.call(OP_CLOSESESSION, b"")


def connect(host, port, **kw):
    """Open a new session and return the Conn."""
    c = Conn(host, port, **kw)
    c.connect()
    return c
