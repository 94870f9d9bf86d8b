"""Start/stop helpers for the two servers our test suites run against.

Two kinds share one interface (class Server):
  kind "zk": Apache ZooKeeper 3.8.0 from the Debian package, run as
             `java -Xmx512m -cp /usr/share/java/zookeeper.jar ... ZooKeeperServerMain zoo.cfg`
  kind "pk": our build/pk-server, run as `build/pk-server zoo.cfg`

Both read the same zoo.cfg, written by write_cfg().  Keys ZooKeeper does not know become
`zookeeper.<key>` system properties there; pk-server ignores unknown keys with a warning.

A server lives in a work directory (temp dir unless given) holding zoo.cfg, data/, log/ and
server.log (its stdout+stderr).  stop() (SIGTERM) and kill() (SIGKILL) keep the data; start()
again restarts on the same data dir.  A server is "up" when a TCP connect to clientPort works
and the 4lw `ruok` answers `imok`; start() waits for that with a bounded timeout.

Environment:
  PK_SERVER       path of the pk-server binary (default: <repo>/build/pk-server)
  ZK_JAVA         java binary (default: java)
  ZK_CLASSPATH    classpath for ZooKeeper (default: Debian jars)
  PK_KEEP_LOGS=1  do not delete work dirs on cleanup()
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# superDigest for user "super", password "test" (the one kazoo's harness uses).
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="

ZK_CLASSPATH_DEFAULT = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

# Port ranges assigned to this team member (see docs): pk 21800-21999, zk 23000-23999.
PK_PORT_BASE = 21800
ZK_PORT_BASE = 23000


def _die_with_parent():
    """preexec_fn: ask the kernel to SIGKILL the server if the test process dies."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def pk_server_path():
    """Path of the pk-server binary under test."""
    return os.environ.get("PK_SERVER", os.path.join(REPO, "build", "pk-server"))


def four_letter(port, cmd, host="127.0.0.1", timeout_s=3.0):
    """Send a four-letter word and return the whole reply (bytes) or None on failure."""
    assert len(cmd) == 4
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.settimeout(timeout_s)
            s.sendall(cmd.encode())
            out = b""
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and len(out) < (1 << 22):
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out
    except OSError:
        return None


def port_free(port, host="127.0.0.1"):
    """True if nothing listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return False
    except OSError:
        return True


def write_cfg(path, port, data_dir, extra=None, tick_ms=2000, datalog_dir=None):
    """Write a zoo.cfg that both ZooKeeper and pk-server accept."""
    lines = [
        "tickTime=%d" % tick_ms,
        "dataDir=%s" % data_dir,
        "clientPort=%d" % port,
        "clientPortAddress=127.0.0.1",
        "maxClientCnxns=0",
        "4lw.commands.whitelist=*",
        "admin.enableServer=false",
        "extendedTypesEnabled=true",
        "DigestAuthenticationProvider.superDigest=%s" % SUPER_DIGEST,
    ]
    if datalog_dir:
        lines.append("dataLogDir=%s" % datalog_dir)
    for k, v in (extra or {}).items():
        lines = [l for l in lines if not l.startswith(k + "=")]
        lines.append("%s=%s" % (k, v))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class ServerError(Exception):
    """The server did not come up or died."""


class Server:
    """One server process (ZooKeeper or pk-server) on 127.0.0.1:port with its own work dir."""

    def __init__(self, kind, port, workdir=None, cfg_extra=None, java_props=None,
                 tick_ms=2000, name=None, jaas_config=None):
        assert kind in ("zk", "pk"), kind
        assert 1024 < port < 65536
        self.kind = kind
        self.port = port
        self.host = "127.0.0.1"
        self.name = name or "%s-%d" % (kind, port)
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="pk-%s-" % self.name)
        self.data_dir = os.path.join(self.workdir, "data")
        self.cfg_path = os.path.join(self.workdir, "zoo.cfg")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.cfg_extra = dict(cfg_extra or {})
        self.java_props = list(java_props or [])
        self.tick_ms = tick_ms
        self.proc = None
        self._log = None
        self.jaas_path = None
        self._bin = None
        os.makedirs(self.data_dir, exist_ok=True)
        if jaas_config:
            # SASL: ZooKeeper reads a JAAS file named by -Djava.security.auth.login.config; pk-server
            # gets the same flag in SERVER_JVMFLAGS (what zkServer.sh users set).
            self.jaas_path = os.path.join(self.workdir, "jaas.conf")
            with open(self.jaas_path, "w") as f:
                f.write(jaas_config)
            self.cfg_extra.setdefault("authProvider.1",
                                      "org.apache.zookeeper.server.auth.SASLAuthenticationProvider")

    @property
    def address(self):
        """host:port of the client port."""
        return "%s:%d" % (self.host, self.port)

    @property
    def running(self):
        """True while the process we started has not exited."""
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        """The argv that starts this server."""
        if self.kind == "pk":
            return [self._bin or pk_server_path(), self.cfg_path]
        cp = os.environ.get("ZK_CLASSPATH", ZK_CLASSPATH_DEFAULT)
        return ([os.environ.get("ZK_JAVA", "java"), "-Xmx512m", "-cp", cp,
                 "-Dfile.encoding=UTF-8",
                 "-Djava.awt.headless=true",
                 "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                 "-Dzookeeper.extendedTypesEnabled=true",
                 "-Dzookeeper.admin.enableServer=false",
                 "-Dzookeeper.4lw.commands.whitelist=*",
                 "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + SUPER_DIGEST]
                + (["-Djava.security.auth.login.config=" + self.jaas_path] if self.jaas_path else [])
                + self.java_props
                + ["org.apache.zookeeper.server.ZooKeeperServerMain", self.cfg_path])

    def start(self, timeout_s=30.0, wait=True):
        """Start the process on the existing data dir and (by default) wait until it is up."""
        assert not self.running, "already running"
        if not port_free(self.port):
            raise ServerError("port %d is already in use" % self.port)
        if self.kind == "pk" and self._bin is None:
            if not os.access(pk_server_path(), os.X_OK):
                raise ServerError("pk-server binary not found: %s" % pk_server_path())
            # Our own copy: a rebuild of the shared binary mid-test must not break restarts.
            self._bin = os.path.join(self.workdir, "pk-server")
            shutil.copy2(pk_server_path(), self._bin)
        write_cfg(self.cfg_path, self.port, self.data_dir, self.cfg_extra, self.tick_ms)
        self._log = open(self.log_path, "ab")
        self._log.write(("==== start %s %s\n" % (time.strftime("%H:%M:%S"),
                                                  " ".join(self.command()))).encode())
        self._log.flush()
        env = dict(os.environ)
        if self.kind == "pk":
            # pk-server reads the same -D properties from SERVER_JVMFLAGS, as zkServer.sh passes them.
            flags = list(self.java_props)
            if self.jaas_path:
                flags.append("-Djava.security.auth.login.config=" + self.jaas_path)
            if flags:
                env["SERVER_JVMFLAGS"] = " ".join(flags)
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir, env=env,
                                     preexec_fn=_die_with_parent)
        if wait:
            self.wait_up(timeout_s)
        return self

    def is_up(self):
        """One probe: TCP connect works and ruok answers imok (and srvr, if answered, does not say
        'not currently serving': ZooKeeper answers ruok before it accepts sessions)."""
        if four_letter(self.port, "ruok", timeout_s=1.0) != b"imok":
            return False
        srvr = four_letter(self.port, "srvr", timeout_s=1.0) or b""
        return b"not currently serving" not in srvr

    def wait_up(self, timeout_s=30.0):
        """Wait (bounded) until the server answers ruok; raise ServerError with its log tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError("%s exited with %s during startup:\n%s"
                                  % (self.name, self.proc.returncode,
                                     self.log_tail(since_start=True)))
            if self.is_up():
                return
            time.sleep(0.05)
        raise ServerError("%s not up after %.0f s:\n%s" % (self.name, timeout_s,
                                                           self.log_tail(since_start=True)))

    def log_tail(self, n=40, since_start=False):
        """Last n lines of the server's log (of its last start only, if since_start)."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            return "(no log)"
        if since_start:
            starts = [i for i, l in enumerate(lines) if l.startswith(b"==== start")]
            if starts:
                lines = lines[starts[-1]:]
                if len(lines) > n:
                    lines = lines[:n // 2] + [b"..."] + lines[-(n // 2):]
        return b"\n".join(lines[-n - 1:]).decode("utf-8", "replace")

    def _reap(self, timeout_s):
        """Wait for the process to exit; return its exit code (None if still running)."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout_s=20.0):
        """SIGTERM and wait; SIGKILL if it does not exit in time.  Returns the exit code."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self._reap(timeout_s)
            if rc is None:
                self.proc.kill()
                rc = self._reap(10)
                self._note("did not exit on SIGTERM within %.0f s; killed" % timeout_s)
        self._close_log()
        self.last_rc = rc
        return rc

    def kill(self):
        """SIGKILL (crash) and reap.  Data stays for a restart."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self._reap(10)
        self._close_log()
        return rc

    def restart(self, timeout_s=30.0):
        """SIGTERM, then start again on the same data dir."""
        self.stop()
        return self.start(timeout_s)

    def reset(self):
        """Stop and wipe the data dir."""
        self.stop()
        shutil.rmtree(self.data_dir, True)
        os.makedirs(self.data_dir, exist_ok=True)

    def cleanup(self):
        """Stop and remove the work dir (unless PK_KEEP_LOGS is set or the dir was given)."""
        self.stop()
        if self._own_dir and not os.environ.get("PK_KEEP_LOGS"):
            shutil.rmtree(self.workdir, True)

    def _note(self, msg):
        """Append a harness note to the server log."""
        try:
            with open(self.log_path, "ab") as f:
                f.write(("==== harness: %s\n" % msg).encode())
        except OSError:
            pass

    def _close_log(self):
        """Close our handle on the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


def zk_diff_props():
    """Java properties that make ZooKeeper's background activity deterministic for diff tests."""
    return ["-Dznode.container.checkIntervalMs=3600000",
            "-Dzookeeper.forceSync=no"]


def make_server(kind, port, **kw):
    """Create (not start) a server of the given kind ('zk' or 'pk')."""
    return Server(kind, port, **kw)


def target_kind(default="pk"):
    """Which server the suites target: env PK_TARGET = 'pk' or 'zk'."""
    kind = os.environ.get("PK_TARGET", default)
    assert kind in ("pk", "zk"), "PK_TARGET must be pk or zk, not %r" % kind
    return kind
