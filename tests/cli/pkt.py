"""Helpers for the pk CLI tests: servers (Apache ZooKeeper 3.8, pk-server), running pk, a pty driver,
and a raw-protocol session killer. Stdlib only."""
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PK = os.environ.get("PK_BIN") or os.path.join(ROOT, "build", "release", "pk")
PK_SERVER = os.path.join(ROOT, "build", "release", "pk-server")
PORT_LO, PORT_HI = 22000, 22199


def free_port():
    """A port in our range (22000-22199) that nobody listens on now."""
    start = PORT_LO + (os.getpid() * 7) % (PORT_HI - PORT_LO)
    for i in range(PORT_HI - PORT_LO):
        port = PORT_LO + (start - PORT_LO + i) % (PORT_HI - PORT_LO)
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in 22000-22199")


def four_letter(hostport, word, timeout=2.0):
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(word.encode())
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    return out.decode(errors="replace")


class Server:
    """A ZooKeeper-protocol server on 127.0.0.1:port in its own temp dir."""

    def __init__(self, kind):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="pk-cli-%s-" % kind)
        self.port = free_port()
        self.hostport = "127.0.0.1:%d" % self.port
        self.proc = None
        self.log = os.path.join(self.dir, "server.log")

    def write_cfg(self):
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=500\ninitLimit=10\nsyncLimit=5\n")
            f.write("dataDir=%s\n" % os.path.join(self.dir, "data"))
            f.write("clientPort=%d\nclientPortAddress=127.0.0.1\n" % self.port)
            f.write("4lw.commands.whitelist=*\nadmin.enableServer=false\n")
            f.write("extendedTypesEnabled=true\nmaxSessionTimeout=60000\nminSessionTimeout=1000\n")
        return cfg

    def start(self, wait_s=30.0):
        cfg = self.write_cfg()
        logf = open(self.log, "w")
        if self.kind == "zookeeper":
            with open(os.path.join(self.dir, "log4j.properties"), "w") as f:
                f.write("log4j.rootLogger=WARN, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n"
                        "log4j.appender.C.layout=org.apache.log4j.PatternLayout\n")
            # zkEnv.sh's classpath: the conf dir plus zookeeper.jar (its manifest names the rest).
            cmd = ["java", "-Xmx512m", "-cp", "%s:/usr/share/java/zookeeper.jar" % self.dir,
                   "-Dzookeeper.admin.enableServer=false",
                   "org.apache.zookeeper.server.ZooKeeperServerMain", cfg]
        else:
            cmd = [PK_SERVER, cfg]
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + wait_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = subprocess.run([PK, "-s", self.hostport, "--connect-wait-ms", "1000", "ls", "/"],
                                   capture_output=True, timeout=10)
                if r.returncode == 0:
                    return True
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.3)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class External:
    """A server someone else runs (PK_TEST_SERVER=host:port)."""

    def __init__(self, hostport):
        self.kind = "external"
        self.hostport = hostport

    def stop(self):
        pass


def pk(server, *args, json=False, timeout=30, input=None, env=None):
    """Run pk one-shot against server; returns CompletedProcess (text)."""
    argv = [PK, "-s", server.hostport] + (["--json"] if json else []) + list(args)
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, env=e)


class Pty:
    """Drive an interactive program through a pseudo-terminal."""

    def __init__(self, argv, env=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ.update(env or {})
            os.environ["TERM"] = "xterm"
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.buf = b""

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def sendline(self, s):
        self.send(s + "\r")

    def _fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.buf += data
        return True

    def expect(self, pattern, timeout=10.0):
        """Wait for a regex (bytes or str) in the output; return the text before it and consume through it."""
        pat = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.time() + timeout
        while True:
            m = pat.search(self.buf)
            if m:
                before = self.buf[:m.start()]
                self.buf = self.buf[m.end():]
                return before.decode(errors="replace")
            left = deadline - time.time()
            if left <= 0 or not self._fill(left):
                if not pat.search(self.buf):
                    raise AssertionError("timed out waiting for %r; got %r" % (pattern, self.buf[-2000:]))

    def wait(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            self._fill(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("pty program did not exit")


def _recv_frame(s):
    def rd(n):
        out = b""
        while len(out) < n:
            b = s.recv(n - len(out))
            if not b:
                raise ConnectionError("closed")
            out += b
        return out
    (n,) = struct.unpack(">i", rd(4))
    return rd(n)


def expire_session(hostport, session_id, passwd, timeout_s=10.0):
    """End another client's session the way a server-side expiry would look to it: attach to the session
    with its id and password (the server drops the owner's connection) and send closeSession."""
    host, port = hostport.rsplit(":", 1)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=5) as s:
                body = struct.pack(">iqiqi", 0, 0, 30000, session_id, 16) + passwd + b"\x00"
                s.sendall(struct.pack(">i", len(body)) + body)
                proto, to, sid = struct.unpack(">iiq", _recv_frame(s)[:16])
                if to <= 0:
                    return True  # already gone
                s.sendall(struct.pack(">iii", 8, 1, -11))
                xid, zxid, err = struct.unpack(">iqi", _recv_frame(s)[:16])
                if xid == 1 and err == 0:
                    return True
        except (OSError, ConnectionError, struct.error):
            pass
        time.sleep(0.05)
    return False


ZXID_RE = re.compile(r"0x[0-9a-f]+")
TIME_RE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \w+ \d{4}")


def normalize(text):
    """Remove what legitimately differs between servers and runs: zxids, times, session ids."""
    text = TIME_RE.sub("<time>", text)
    text = ZXID_RE.sub("<hex>", text)
    text = re.sub(r'"(czxid|mzxid|pzxid|ctime|mtime|ephemeralOwner)":-?\d+', r'"\1":<n>', text)
    return text
