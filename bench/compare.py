#!/usr/bin/python3
"""Side-by-side benchmark: Apache ZooKeeper 3.8 vs pk-server, same machine, same run, same loads.

Starts both servers pinned to CPU 0 (taskset), drives identical loads with pk-bench pinned to CPU 1,
and prints one markdown table with both figures and the ratio pk/zk against the targets:

  throughput of every workload (read, write, mixed 90% reads, create+delete of ephemeral-sequential
  nodes, watch fan-out events, session establishment), server CPU per op (utime+stime from
  /proc/PID/stat over the measured window), p50/p99/p999/max at fixed rates (2,000 writes/s and
  10,000 reads/s, measured from the intended send time), resident memory holding 1,000,000 znodes of
  100 bytes (VmRSS after pipelined creates), and restart time with them (kill -9, start, time until
  the first read of one of them is served).

Every pk-bench run prints one JSON line; all of them are saved (--json). Each measurement is repeated
(--repeat) alternating between the servers, and the best run is kept (highest throughput for closed
loops, lowest p99 for fixed rates): the machine is shared, and noise from other processes only makes a
run worse. The CPU other processes used during each kept run is reported beside it.

The machine is shared with other work, and the kernel groups processes by session (autogroup), so a
plain nice value does nothing against other sessions: the script re-runs itself in a new session
whose autogroup gets nice -15 (BENCH_AUTOGROUP_NICE), and servers and pk-bench run at nice -15
(BENCH_NICE) inside it, so other processes take little from the measured ones; both servers get the
same treatment.

Topology: --topology standalone (default) or 3 (three servers on loopback, one zoo.cfg with server.1-3
lines, every server pinned to the same CPU as a standalone one). In a 3-server run pk-bench connects every
session to one follower (--ensemble-client follower, the usual case: reads local, writes forwarded) or to
the leader, server CPU is summed over the three processes (pk-bench -p per server), RSS is the largest of
the three, and restart is kill -9 of all three, start all three, until the first read is served. A server
kind whose ensemble does not start (pk-server refuses several server.N lines until the replicated ensemble
is wired in) gets "n/a" in its column and the reason below the table.

Usage: bench/compare.py [--quick] [--repeat N] [--znodes N] [--skip-memory] [--only pk|zk]
                        [--topology standalone|3] [--ensemble-client follower|leader]
                        [--json FILE] [--md FILE]
Ports 24100-24199 (this script's share of the bench range).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PK_BENCH = os.environ.get("PK_BENCH", os.path.join(REPO, "build", "pk-bench"))
PK_SERVER = os.environ.get("PK_SERVER", os.path.join(REPO, "build", "pk-server"))
ZK_CLASSPATH = os.environ.get("ZK_CLASSPATH", "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar")
NICE = ["nice", "-n", os.environ.get("BENCH_NICE", "-15")]   # see the docstring: shared machine
AUTOGROUP_NICE = os.environ.get("BENCH_AUTOGROUP_NICE", "-15")
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
PORTS = {"zk": 24101, "pk": 24102}
# 3-server runs: client, quorum and election ports per (kind, server id 1..3)
ENSEMBLE_PORTS = {"zk": (24111, 24121, 24131), "pk": (24141, 24151, 24161)}
NAMES = {"zk": "ZooKeeper 3.8.0", "pk": "pk-server"}
BENCH_COPY = None   # frozen copy of pk-bench for this run


def log(msg):
    """Progress on stderr (the table goes to stdout)."""
    sys.stderr.write("[compare %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def port_open(port):
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def four_letter(port, cmd):
    """Sends a 4lw command and returns the reply text ('' on failure)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(cmd.encode())
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out.decode(errors="replace")
    except OSError:
        return ""


class Server:
    """One server (kind 'zk' or 'pk') in its own work dir, pinned to SERVER_CPU: standalone, or member sid
    (1..3) of a 3-server ensemble on loopback."""

    def __init__(self, kind, workdir, sid=0):
        self.kind = kind
        self.sid = sid
        self.port = ENSEMBLE_PORTS[kind][0] + sid - 1 if sid else PORTS[kind]
        self.dir = os.path.join(workdir, "%s-%d" % (kind, sid) if sid else kind)
        self.data = os.path.join(self.dir, "data")
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        self.proc = None
        self.logf = None
        os.makedirs(self.data, exist_ok=True)
        # Frozen copy (others may relink build/ meanwhile), under a name no broad `pkill -f pk-server` matches.
        self.binary = os.path.join(workdir, "pkbsrv")
        if kind == "pk" and not os.path.exists(self.binary):
            shutil.copy2(os.path.realpath(PK_SERVER), self.binary)
        with open(self.cfg, "w") as f:
            f.write("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\n"
                    "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n"
                    % (self.data, self.port))
            if sid:
                _, quorum, election = ENSEMBLE_PORTS[kind]
                for i in (1, 2, 3):
                    f.write("server.%d=127.0.0.1:%d:%d\n" % (i, quorum + i - 1, election + i - 1))

    def command(self):
        """argv of the server, pinned with taskset."""
        pin = NICE + ["taskset", "-c", SERVER_CPU]
        if self.kind == "pk":
            return pin + [self.binary, self.cfg]
        main = "org.apache.zookeeper.server.quorum.QuorumPeerMain" if self.sid else \
            "org.apache.zookeeper.server.ZooKeeperServerMain"
        return pin + ["java", "-Xmx2g", "-cp", ZK_CLASSPATH,
                      "-Djava.awt.headless=true",
                      "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                      "-Dzookeeper.admin.enableServer=false",
                      "-Dzookeeper.4lw.commands.whitelist=*",
                      main, self.cfg]

    def start(self, wait=True):
        """Starts the process (on the existing data dir) and waits until `ruok` answers."""
        assert self.proc is None
        if port_open(self.port):
            raise RuntimeError("port %d already in use" % self.port)
        if self.sid:
            with open(os.path.join(self.data, "myid"), "w") as f:
                f.write("%d\n" % self.sid)
        self.logf = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        if not wait:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start (%s); see %s/server.log"
                                   % (self.kind, self.last_log_line(), self.dir))
            if four_letter(self.port, "ruok").startswith("imok"):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not come up" % self.kind)

    @property
    def pid(self):
        """PID of the server (nice and taskset exec it, so it is the Popen PID)."""
        return self.proc.pid

    @property
    def pids(self):
        """Every server process (one for a standalone server)."""
        return [self.proc.pid] if self.proc else []

    def ensure_alive(self, results):
        """Restarts the server (same data dir) if it died since the last run, and records the incident."""
        if self.proc is not None and self.proc.poll() is None:
            return
        code = None if self.proc is None else self.proc.returncode
        log("%s server is not running (exit %s); restarting it" % (self.kind, code))
        results.setdefault("incidents", []).append("%s %s: server had exited with %s; restarted"
                                                   % (time.strftime("%H:%M:%S"), self.kind, code))
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        self.start()

    def rss_kib(self):
        """VmRSS of the server in KiB."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def kill(self):
        """SIGKILL and reap; the data dir stays."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def wipe(self):
        """Deletes the data dir (server must be stopped)."""
        assert self.proc is None
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)

    def last_log_line(self):
        """The last non-empty line of the server's log (why it exited)."""
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                lines = [l.strip() for l in f.read().decode(errors="replace").splitlines() if l.strip()]
            return lines[-1][-240:] if lines else "no output"
        except OSError:
            return "no log"


class Ensemble:
    """Three servers of one kind on loopback, driven like one Server: pk-bench talks to one member's client
    port (a follower's or the leader's), CPU is summed over all three, RSS is the largest member's."""

    def __init__(self, kind, workdir, client_role):
        self.kind = kind
        self.members = [Server(kind, workdir, sid) for sid in (1, 2, 3)]
        self.client_role = client_role
        self.target = self.members[0]

    @property
    def port(self):
        """The client port pk-bench uses."""
        return self.target.port

    @property
    def pids(self):
        """Every running member's PID."""
        return [p for m in self.members for p in m.pids]

    @property
    def proc(self):
        """Truthy while any member runs."""
        return self.pids or None

    def modes(self):
        """Mode (leader/follower/...) each member reports through `srvr` ('' when not serving)."""
        out = []
        for m in self.members:
            mode = ""
            for line in four_letter(m.port, "srvr").splitlines():
                if line.startswith("Mode:"):
                    mode = line.split(":", 1)[1].strip()
            out.append(mode)
        return out

    def start(self, wait=True):
        """Starts the three members; with wait, until a leader and two followers serve, then picks the target."""
        for m in self.members:
            m.start(wait=False)
        if not wait:
            return
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for m in self.members:
                if m.proc.poll() is not None:
                    reason = m.last_log_line()
                    self.kill()
                    raise RuntimeError("%s member %d exited at start: %s" % (self.kind, m.sid, reason))
            modes = self.modes()
            if modes.count("leader") == 1 and modes.count("follower") == 2:
                want = "leader" if self.client_role == "leader" else "follower"
                self.target = self.members[modes.index(want)]
                log("%s ensemble up: modes %s, pk-bench uses member %d (%s, port %d)"
                    % (self.kind, modes, self.target.sid, want, self.target.port))
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("%s ensemble did not elect a leader within 90 s" % self.kind)

    def ensure_alive(self, results):
        """Restarts the whole ensemble if a member died since the last run, and records the incident."""
        if all(m.proc is not None and m.proc.poll() is None for m in self.members):
            return
        log("%s ensemble lost a member; restarting all three" % self.kind)
        results.setdefault("incidents", []).append("%s %s: an ensemble member had exited; restarted"
                                                   % (time.strftime("%H:%M:%S"), self.kind))
        self.kill()
        self.start()

    def rss_kib(self):
        """VmRSS of the largest member in KiB."""
        return max(m.rss_kib() for m in self.members)

    def kill(self):
        """SIGKILL every member; data dirs stay."""
        for m in self.members:
            m.kill()

    def wipe(self):
        """Deletes every member's data dir."""
        for m in self.members:
            m.wipe()


def pk_bench(server, args, label, timeout_s=600):
    """Runs pk-bench pinned to CLIENT_CPU against server; returns its JSON summary (dict)."""
    pid_args = [a for p in server.pids for a in ("-p", str(p))]
    cmd = NICE + ["taskset", "-c", CLIENT_CPU, BENCH_COPY or PK_BENCH, "-s", "127.0.0.1:%d" % server.port,
           "--label", label] + pid_args + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout_s)
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError("pk-bench printed no summary: %s\n%s" % (" ".join(cmd), p.stderr.decode()))
    res = json.loads(lines[-1])
    res["cmd"] = " ".join(cmd)
    res["exit"] = p.returncode
    if p.returncode != 0:
        log("pk-bench %s on %s exited %d: %s" % (label, server.kind, p.returncode, p.stderr.decode().strip()[-300:]))
    return res


# name, pk-bench args, pick ('tput' = best throughput, 'lat' = lowest p99)
def workloads(quick):
    """The measured workloads (8 sessions x 32 outstanding, 1 KiB values, like the reference)."""
    d = ["-d", "2" if quick else "5", "--warmup", "1", "--timeout", "10"]
    base = ["-n", "8", "-k", "32", "--size", "1024"]
    return [
        ("read", base + ["-w", "read", "--verify"] + d, "tput"),
        ("write", base + ["-w", "write"] + d, "tput"),
        ("mixed", base + ["-w", "mixed", "--read-pct", "90", "--verify"] + d, "tput"),
        ("create-delete", base + ["-w", "create-delete"] + d, "tput"),
        ("watch", ["-w", "watch", "--watchers", "100", "--size", "1024"] + d, "tput"),
        ("connect", ["-w", "connect", "-n", "8"] + d, "tput"),
        ("write@2000/s", base + ["-w", "write", "-r", "2000"] + d, "lat"),
        ("read@10000/s", base + ["-w", "read", "-r", "10000", "--verify"] + d, "lat"),
    ]


def better(a, b, pick):
    """True when run a is better than run b (None loses)."""
    if b is None:
        return True
    if a.get("exit") != 0 and b.get("exit") == 0:
        return False
    if pick == "tput":
        return a["ops_per_s"] > b["ops_per_s"]
    return a["p99_us"] < b["p99_us"]


def run_workloads(servers, args, results):
    """Runs every workload on every server, alternating, args.repeat times; keeps the best run."""
    for name, wargs, pick in workloads(args.quick):
        for rep in range(args.repeat):
            for s in servers:
                s.ensure_alive(results)
                r = pk_bench(s, wargs + ["--prefix", "/pkbench-%s" % name.split("@")[0]], name)
                r["repeat"] = rep
                results["runs"].append(dict(r, server=s.kind))
                key = (s.kind, name)
                if better(r, results["best"].get(key), pick):
                    results["best"][key] = r
                log("%-14s %s rep %d: %9.0f ops/s  cpu %6.2f us/op  p50 %7.0f p99 %8.0f us  other-cpu %.2f s%s"
                    % (name, s.kind, rep, r["ops_per_s"], r["server_cpu_us_per_op"], r["p50_us"], r["p99_us"],
                       r["other_cpu_s"], "" if r["exit"] == 0 else "  FAILED"))


def run_memory_restart(server, znodes, results):
    """Loads znodes of 100 bytes into a fresh server, reads RSS, kill -9, restart, time the first read."""
    server.kill()
    server.wipe()
    server.start()
    r = pk_bench(server, ["-w", "load", "--count", str(znodes), "--size", "100", "-n", "8", "-k", "64",
                          "--prefix", "/pkload", "--timeout", "120"], "load", timeout_s=1800)
    time.sleep(2)
    rss = server.rss_kib()
    count = ""
    for line in four_letter(server.port, "mntr").splitlines():
        if line.startswith("zk_znode_count"):
            count = line.split()[-1]
    log("%s: loaded %d znodes at %.0f/s, RSS %.1f MiB, mntr znode_count %s"
        % (server.kind, r["creates_ok"], r["ops_per_s"], rss / 1024.0, count))
    server.kill()
    t0 = time.monotonic()
    server.start(wait=False)
    probe = pk_bench(server, ["-w", "probe", "--prefix", "/pkload", "--timeout", "120"], "probe", timeout_s=200)
    restart_ms = (time.monotonic() - t0) * 1000.0
    rss_after = server.rss_kib()
    log("%s: restart to first read %.0f ms (probe %s), RSS after restart %.1f MiB"
        % (server.kind, restart_ms, "ok" if probe["exit"] == 0 else "FAILED", rss_after / 1024.0))
    results["memory"][server.kind] = {
        "znodes": r["creates_ok"], "load_ops_per_s": r["ops_per_s"], "load_cpu_us_per_op": r["server_cpu_us_per_op"],
        "rss_kib": rss, "mntr_znode_count": count, "restart_ms": restart_ms if probe["exit"] == 0 else None,
        "rss_after_restart_kib": rss_after, "load": r, "probe": probe,
    }


def fmt(v, unit=""):
    """Formats a number compactly for the table."""
    if v is None or v < 0:
        return "n/a"
    if v >= 100000:
        return "%.0fk%s" % (v / 1000.0, unit)
    if v >= 10000:
        return "%.1fk%s" % (v / 1000.0, unit)
    if v >= 100:
        return "%.0f%s" % (v, unit)
    return "%.2f%s" % (v, unit)


FAILED = object()   # table marker: the kept run of this cell failed


def ratio_cell(pk, zk, target, higher_is_better):
    """ratio pk/zk, the target and whether it is met."""
    if pk is None or zk is None or pk < 0 or zk <= 0:
        return "n/a", target[0], "?"
    if pk == 0 and not higher_is_better:
        return "n/a", target[0], "?"
    r = pk / zk
    ok = r >= target[1] if higher_is_better else r <= target[1]
    return "%.2fx" % r, target[0], "yes" if ok else "no"


def table(results, topology="standalone"):
    """Builds the markdown table (list of lines)."""
    best = results["best"]
    rows = []

    def row(metric, zk, pk, unit, target, higher):
        rc, tg, met = ratio_cell(None if pk is FAILED else pk, None if zk is FAILED else zk, target, higher)
        cell = lambda v: "FAILED" if v is FAILED else fmt(v, unit)
        rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (metric, topology, cell(zk), cell(pk), rc, tg, met))

    for name, _, pick in workloads(False):
        zk, pk = best.get(("zk", name)), best.get(("pk", name))
        if zk is None and pk is None:
            continue
        g = lambda r, k: None if r is None else (FAILED if r.get("exit") != 0 else r[k])
        if pick == "tput":
            unit = " ev/s" if name == "watch" else (" sess/s" if name == "connect" else " ops/s")
            row("%s throughput" % name, g(zk, "ops_per_s"), g(pk, "ops_per_s"), unit, (">= 3x", 3.0), True)
            row("%s server CPU/op" % name, g(zk, "server_cpu_us_per_op"), g(pk, "server_cpu_us_per_op"), " us",
                ("<= 0.2x", 0.2), False)
            if name == "watch":
                row("watch delivery p99", g(zk, "p99_us"), g(pk, "p99_us"), " us", ("<= 0.33x", 1 / 3.0), False)
        else:
            for q in ("p50", "p99", "p999", "max"):
                target = ("<= 0.33x", 1 / 3.0) if q == "p99" else ("-", 1e9)
                row("%s %s latency" % (name, q), g(zk, q + "_us"), g(pk, q + "_us"), " us", target, False)
            row("%s server CPU/op" % name, g(zk, "server_cpu_us_per_op"), g(pk, "server_cpu_us_per_op"), " us",
                ("<= 0.2x", 0.2), False)
    mem = results["memory"]
    if mem:
        zk, pk = mem.get("zk", {}), mem.get("pk", {})
        n = (pk or zk).get("znodes", 0)
        mib = lambda d: None if not d else d["rss_kib"] / 1024.0
        row("RSS with %d znodes of 100 B" % n, mib(zk), mib(pk), " MiB", ("<= 0.2x", 0.2), False)
        row("restart to first read (%d znodes)" % n, zk.get("restart_ms"), pk.get("restart_ms"), " ms",
            ("<= 0.2x", 0.2), False)
        row("load: pipelined creates of 100 B", zk.get("load_ops_per_s"), pk.get("load_ops_per_s"), " ops/s",
            ("-", 0), True)
    head = ["| metric | topology | %s | %s | ratio pk/zk | target | met |" % (NAMES["zk"], NAMES["pk"]),
            "|---|---|---|---|---|---|---|"]
    return head + rows


def noise_lines(results):
    """One line per kept run: CPU used by other processes during its window."""
    out = []
    for (kind, name), r in sorted(results["best"].items()):
        if r.get("exit") != 0:
            out.append("- %s %s: every run FAILED (see the log)" % (kind, name))
            continue
        out.append("- %s %s: other processes used %.2f CPU-s in the %.1f s window" % (kind, name, r["other_cpu_s"], r["window_s"]))
    return out


def machine():
    """nproc, CPU model, kernel."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "model": model, "kernel": os.uname().release}


def own_autogroup():
    """Re-executes this script in a new session (own autogroup) with a raised autogroup priority."""
    if os.environ.get("BENCH_IN_AUTOGROUP") == "1":
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(AUTOGROUP_NICE)
        except OSError as e:
            log("cannot set the autogroup nice (%s); measuring at normal priority" % e)
        return
    env = dict(os.environ, BENCH_IN_AUTOGROUP="1")
    rc = subprocess.call(["setsid", "-w", sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env=env)
    sys.exit(rc)


def main():
    own_autogroup()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 s windows instead of 5 s")
    ap.add_argument("--repeat", type=int, default=2, help="runs per workload and server (best kept)")
    ap.add_argument("--znodes", type=int, default=1000000, help="znodes for the memory/restart rows")
    ap.add_argument("--skip-memory", action="store_true", help="skip the memory and restart rows")
    ap.add_argument("--skip-workloads", action="store_true", help="only the memory and restart rows")
    ap.add_argument("--only", choices=["pk", "zk"], help="run one server only")
    ap.add_argument("--topology", choices=["standalone", "3"], default="standalone",
                    help="one server per kind, or three on loopback (see the docstring)")
    ap.add_argument("--ensemble-client", choices=["follower", "leader"], default="follower",
                    help="3 servers: the member pk-bench connects to")
    ap.add_argument("--json", default=None, help="write every run's summary here")
    ap.add_argument("--md", default=None, help="write the table here too")
    args = ap.parse_args()
    for path in (PK_BENCH, PK_SERVER):
        if not os.access(path, os.X_OK):
            sys.exit("missing %s (run make)" % path)
    kinds = [args.only] if args.only else ["zk", "pk"]
    workdir = tempfile.mkdtemp(prefix="pk-compare-")
    global BENCH_COPY
    BENCH_COPY = os.path.join(workdir, "pk-bench")
    shutil.copy2(os.path.realpath(PK_BENCH), BENCH_COPY)
    if args.topology == "3":
        servers = [Ensemble(k, workdir, args.ensemble_client) for k in kinds]
    else:
        servers = [Server(k, workdir) for k in kinds]
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode().strip()
    results = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
               "pk_server": os.path.realpath(PK_SERVER), "git_head": rev,
               "runs": [], "best": {}, "memory": {}, "topology": args.topology, "unavailable": {}}
    log("machine: %s; work dir %s" % (results["machine"], workdir))
    try:
        for s in list(servers):
            try:
                s.start()
            except RuntimeError as e:
                if args.topology != "3":
                    raise
                log("%s: no 3-server run: %s" % (s.kind, e))
                results["unavailable"][s.kind] = str(e)
                servers.remove(s)
                continue
            log("%s up, pids %s, port %d" % (s.kind, s.pids, s.port))
        if not args.skip_workloads:
            run_workloads(servers, args, results)
        if not args.skip_memory:
            for s in servers:
                run_memory_restart(s, args.znodes, results)
    finally:
        for s in servers:
            s.kill()
    lines = table(results, "3 servers" if args.topology == "3" else "standalone")
    text = "\n".join(lines + [""] + noise_lines(results) + ["- incident: " + i for i in results.get("incidents", [])]
                     + ["- %s: n/a in this topology: %s" % (NAMES[k], why) for k, why in results["unavailable"].items()]) + "\n"
    print("Machine: %(nproc)s CPUs, %(model)s, Linux %(kernel)s" % results["machine"])
    print("Run: %s, pk-server %s (git HEAD %s)\n" % (results["started"], results["pk_server"], results["git_head"]))
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    if args.json:
        out = dict(results, best={"%s/%s" % k: v for k, v in results["best"].items()})
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
