#!/usr/bin/python3
"""Platform floor next to pk-server and ZooKeeper: the fixed-rate and connect rows, same client, same run.

Starts ZooKeeper 3.8 (as bench/compare.py does), one or more pk-server binaries and pk-floor (bench/floor.c:
a minimal single-threaded epoll server with inline pwrite+fdatasync group commit), each pinned to CPU 0,
and runs the chosen rows with pk-bench pinned to CPU 1, alternating between the servers, --repeat times.
Prints one line per run and a summary of the best run per (row, server) (lowest p99 for fixed rates,
highest throughput for closed loops), with server CPU/op from /proc.

Usage: bench/floor.py [--repeat N] [--rows read@10000/s,write@2000/s,connect] [--connect-sessions 8,32,64]
                      [--pk LABEL=PATH ...] [--no-zk] [--no-floor] [--duration S] [--json FILE]
Ports 25110-25129 (BENCH_FLOOR_PORT_BASE moves them).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (Server, pk_bench, the autogroup/nice settings)

PORT_BASE = int(os.environ.get("BENCH_FLOOR_PORT_BASE", "25110"))
PK_FLOOR = os.environ.get("PK_FLOOR", os.path.join(compare.REPO, "build", "pk-floor"))


class Srv(compare.Server):
    """A server of kind zk, pk (any binary) or floor, with its own name, port and work dir."""

    def __init__(self, name, kind, binary, port, workdir):
        compare.PORTS[name] = port
        self.name = name
        super().__init__(name, workdir)   # writes zoo.cfg for `name`'s port
        self.kind = kind
        self.port = port
        if binary:
            self.binary = os.path.join(workdir, "pkb-" + name)
            shutil.copy2(os.path.realpath(binary), self.binary)

    def command(self):
        """argv, pinned like compare.py's servers."""
        pin = compare.NICE + ["taskset", "-c", compare.SERVER_CPU]
        if self.kind == "pk":
            return pin + [self.binary, self.cfg]
        if self.kind == "floor":
            return pin + [self.binary, "-p", str(self.port), "-f", os.path.join(self.data, "floor.log")]
        return compare.Server.command(self)

    def start(self, wait=True):
        """Starts; pk-floor has no 4lw, so it is up once its port accepts."""
        if self.kind != "floor":
            return compare.Server.start(self, wait)
        self.logf = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not compare.port_open(self.port):
            time.sleep(0.02)


def rows(names, sessions, duration):
    """(label, pk-bench args, pick) for each requested row."""
    d = ["-d", str(duration), "--warmup", "1", "--timeout", "10"]
    base = ["-n", "8", "--size", "1024"]
    table = {
        "read@10000/s": base + ["-w", "read", "-r", "10000", "--verify"] + d,
        "write@2000/s": base + ["-w", "write", "-r", "2000"] + d,
        "write": base + ["-k", "32", "-w", "write"] + d,
        "read": base + ["-k", "32", "-w", "read", "--verify"] + d,
        "mixed": base + ["-k", "32", "-w", "mixed", "--read-pct", "90", "--verify"] + d,
        "create-delete": base + ["-k", "32", "-w", "create-delete"] + d,
    }
    out = []
    for n in names:
        if n == "connect":
            for s in sessions:
                out.append(("connect-n%d" % s, ["-w", "connect", "-n", str(s)] + d, "tput"))
        else:
            out.append((n, table[n], "lat" if "@" in n else "tput"))
    return out


def own_autogroup():
    """Re-executes this script in its own session with a raised autogroup priority (see compare.py)."""
    if os.environ.get("BENCH_IN_AUTOGROUP") == "1":
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(compare.AUTOGROUP_NICE)
        except OSError as e:
            compare.log("cannot set the autogroup nice (%s)" % e)
        return
    env = dict(os.environ, BENCH_IN_AUTOGROUP="1")
    sys.exit(subprocess.call(["setsid", "-w", sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env=env))


def main():
    own_autogroup()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", default="read@10000/s,write@2000/s,connect")
    ap.add_argument("--connect-sessions", default="8")
    ap.add_argument("--pk", action="append", default=[], help="LABEL=PATH of a pk-server binary (repeatable)")
    ap.add_argument("--no-zk", action="store_true")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="pk-floor-")
    compare.BENCH_COPY = os.path.join(workdir, "pk-bench")
    shutil.copy2(os.path.realpath(compare.PK_BENCH), compare.BENCH_COPY)
    specs = []
    if not args.no_zk:
        specs.append(("zk", "zk", None))
    for p in args.pk or ["pk=" + compare.PK_SERVER]:
        label, path = p.split("=", 1)
        specs.append((label, "pk", path))
    if not args.no_floor:
        specs.append(("floor", "floor", PK_FLOOR))
    servers = [Srv(name, kind, binary, PORT_BASE + i, workdir) for i, (name, kind, binary) in enumerate(specs)]
    sessions = [int(x) for x in args.connect_sessions.split(",")]
    best, runs = {}, []
    try:
        for s in servers:
            s.start()
            compare.log("%s up, pid %d, port %d" % (s.name, s.pid, s.port))
        for label, wargs, pick in rows(args.rows.split(","), sessions, args.duration):
            for rep in range(args.repeat):
                for s in servers:
                    r = compare.pk_bench(s, wargs + ["--prefix", "/pkfloor-%s" % label.split("@")[0]], label)
                    r["server_name"] = s.name
                    runs.append(r)
                    if compare.better(r, best.get((label, s.name)), pick):
                        best[(label, s.name)] = r
                    compare.log("%-14s %-8s rep %d: %9.0f ops/s  cpu %6.2f us/op  p50 %6.0f p99 %7.0f us  other %.2f s%s"
                                % (label, s.name, rep, r["ops_per_s"], r["server_cpu_us_per_op"], r["p50_us"],
                                   r["p99_us"], r["other_cpu_s"], "" if r["exit"] == 0 else "  FAILED"))
    finally:
        for s in servers:
            s.kill()
    print("| row | server | ops/s | server CPU/op | median CPU/op (all runs) | p50 | p99 | p999 | other CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (label, name), r in best.items():
        cpus = sorted(x["server_cpu_us_per_op"] for x in runs if x["label"] == label and x["server_name"] == name)
        print("| %s | %s | %.0f | %.2f us | %.2f us (n=%d) | %.0f us | %.0f us | %.0f us | %.2f |%s"
              % (label, name, r["ops_per_s"], r["server_cpu_us_per_op"], cpus[len(cpus) // 2], len(cpus), r["p50_us"],
                 r["p99_us"], r["p999_us"], r["other_cpu_s"], "" if r["exit"] == 0 else " FAILED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
