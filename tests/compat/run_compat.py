#!/usr/bin/python3
"""Run kazoo's own test suite against Apache ZooKeeper 3.8.0 and against pk-server, compare.

    run_compat.py [--targets zk,pk] [--out DIR] [-k EXPR] [--pytest-args ...]

Each target gets one pytest run (kazoo_plugin.py swaps kazoo's ZooKeeper launcher for
tests/lib/zkserver.py with a one-server cluster) that writes a JUnit XML file.  The result FAILS
(exit 1) if any test that passes against ZooKeeper does not pass against pk-server; those tests
are re-run once against pk-server first, and a test that passes on the re-run is reported as
flaky (not a failure).  It also fails if the ZooKeeper run itself looks broken (pytest exit code
other than 0/1, or fewer than MIN_ZK_PASSED passes): the reference is 479 tests, 468-469 passed.
"""

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KAZOO_TESTS = "/usr/lib/python3/dist-packages/kazoo/tests"
PORTS = {"zk": 23000, "pk": 21800}
MIN_ZK_PASSED = 450

# Tests that need more than one server; they fail against a one-server ZooKeeper too.
KNOWN_MULTI_SERVER = {
    "test_update_host_list": "needs 3 servers (stops cluster[0] and expects the client to move on)",
    "TestReconfig": "reconfig needs a quorum ensemble; a standalone server answers Unimplemented",
    "TestReadOnlyMode": "needs 3 servers (stops two and expects read-only mode on the third)",
}

PYTEST_EXIT = {0: "all passed", 1: "some tests failed", 2: "interrupted", 3: "internal error",
               4: "usage error", 5: "no tests collected"}


KNOWN_PK_FILE = os.path.join(HERE, "known_pk_failures.txt")


def known_pk_failures():
    """{test id: reason} from known_pk_failures.txt (regressions on pk that are tracked, reported
    on every run, and do not fail the target; delete a line when pk-server is fixed)."""
    out = {}
    if os.path.exists(KNOWN_PK_FILE):
        with open(KNOWN_PK_FILE) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    tid, _, why = line.partition("#")
                    out[tid.strip()] = why.strip()
    return out


def multi_server_kexpr():
    """A -k expression that leaves out the tests that need more than one server."""
    return "not (" + " or ".join(KNOWN_MULTI_SERVER) + ")"


def known_reason(test_id):
    """Why a test is expected to fail on a one-server cluster, or None."""
    for key, why in KNOWN_MULTI_SERVER.items():
        if key in test_id:
            return why
    return None


def parse_junit(path):
    """JUnit XML -> {test id: (outcome, message)}; outcome is passed/failed/error/skipped."""
    out = {}
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        cls = tc.get("classname", "")
        tid = "%s::%s" % (cls.replace("usr.lib.python3.dist-packages.", ""), tc.get("name"))
        outcome, msg = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                msg = (child.get("message") or "").strip().splitlines()[:1]
                msg = msg[0][:160] if msg else ""
                break
        if tid in out and out[tid][0] != "passed":
            continue  # keep a setup/teardown error over the pass
        out[tid] = (outcome, msg)
    return out


def node_id(tid):
    """Convert a junit id back to a pytest node id under KAZOO_TESTS."""
    cls, name = tid.split("::", 1)
    parts = cls.split(".")  # test_client.TestClient (possibly with a package prefix)
    i = max(k for k, p in enumerate(parts) if p.startswith("test_"))
    return "%s/%s.py::%s::%s" % (KAZOO_TESTS, parts[i], "::".join(parts[i + 1:]), name)


def run_pytest(target, out_dir, args, extra_env=None, label=None):
    """Run pytest for one target; returns (exit code, junit path, seconds)."""
    label = label or target
    junit = os.path.join(out_dir, "junit-%s.xml" % label)
    log = os.path.join(out_dir, "pytest-%s.log" % label)
    env = dict(os.environ)
    env.update({"PK_TARGET": target, "COMPAT_PORT": str(PORTS[target]),
                "PYTHONPATH": HERE, "PYTHONDONTWRITEBYTECODE": "1",
                "ZOOKEEPER_VERSION": "3.8.0"})
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "pytest", "-p", "kazoo_plugin", "-p", "no:cacheprovider",
           "-q", "-rfE", "-o", "faulthandler_timeout=180", "--junitxml=" + junit]
    try:
        import pytest_timeout  # noqa: F401  (python3-pytest-timeout: a hung test fails alone)
        cmd.append("--timeout=60")
    except ImportError:
        pass
    cmd += args
    t0 = time.time()
    with open(log, "w") as f:
        try:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=out_dir, env=env,
                                 timeout=900)
        except subprocess.TimeoutExpired:
            rc = -1
            f.write("\n*** run_compat: pytest killed after 900 s\n")
    return rc, junit, time.time() - t0, log


def summarize(name, res):
    """One line of counts."""
    n = {k: sum(1 for o, _ in res.values() if o == k) for k in ("passed", "failed", "error",
                                                               "skipped")}
    return "%-10s %d tests: %d passed, %d failed, %d errors, %d skipped" % (
        name, len(res), n["passed"], n["failed"], n["error"], n["skipped"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="zk,pk")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "compat"))
    ap.add_argument("-k", dest="kexpr", default=None)
    ap.add_argument("--all-on-pk", action="store_true",
                    help="also run the multi-server tests against pk-server")
    ap.add_argument("paths", nargs="*", default=[KAZOO_TESTS])
    a = ap.parse_args()
    a.out = os.path.abspath(a.out)  # pytest runs with cwd=out: every path handed to it must be absolute
    os.makedirs(a.out, exist_ok=True)
    args = list(a.paths) + (["-k", a.kexpr] if a.kexpr else [])
    targets = a.targets.split(",")
    results, broken = {}, False
    for t in targets:
        targs = list(args)
        if t == "pk" and not a.kexpr and not a.all_on_pk:
            # They fail on a one-server ZooKeeper too (shown by the zk run); on pk they would
            # only cost time.
            targs += ["-k", multi_server_kexpr()]
            print("== not run on pk (need more than one server, see the zk run): %s"
                  % ", ".join(KNOWN_MULTI_SERVER))
        print("== kazoo suite against %s (port %d) ..." % (t, PORTS[t]), flush=True)
        rc, junit, secs, log = run_pytest(t, a.out, targs)
        print("   pytest exit %d (%s) in %.0f s; log %s" % (rc, PYTEST_EXIT.get(rc, "?"), secs, log))
        if rc not in (0, 1) or not os.path.exists(junit):
            print("   HARNESS FAILURE against %s: pytest exit %d; tail of the log:" % (t, rc))
            with open(log) as f:
                print("".join(f.readlines()[-30:]))
            broken = True
            continue
        results[t] = parse_junit(junit)
        print("   " + summarize(t, results[t]))
        for tid, (o, msg) in sorted(results[t].items()):
            if o in ("failed", "error"):
                why = known_reason(tid)
                print("   %s %-7s %s%s" % (t, o.upper(), tid,
                                            "  [known: %s]" % why if why else "  (%s)" % msg))
    if broken:
        print("compat: FAILED (a pytest run did not complete)")
        return 1
    if "zk" in results:
        npass = sum(1 for o, _ in results["zk"].values() if o == "passed")
        if npass < MIN_ZK_PASSED and not a.kexpr and a.paths == [KAZOO_TESTS]:
            print("compat: FAILED: only %d tests passed against ZooKeeper (expected >= %d): "
                  "the harness is broken" % (npass, MIN_ZK_PASSED))
            return 1
    if "zk" not in results or "pk" not in results:
        print("compat: single target run, no comparison")
        return 0
    zk, pk = results["zk"], results["pk"]
    regress = sorted(t for t, (o, _) in zk.items() if o == "passed" and pk.get(t, ("missing",))[0]
                     != "passed")
    if a.kexpr is None and a.paths == [KAZOO_TESTS] and not a.all_on_pk:
        regress = [t for t in regress if not known_reason(t)]
    flaky = []
    if regress:
        print("== re-running %d tests that passed on zk but not on pk ..." % len(regress))
        rc, junit, secs, log = run_pytest("pk", a.out, [node_id(t) for t in regress], label="pk-rerun")
        rerun = parse_junit(junit) if os.path.exists(junit) else {}
        flaky = [t for t in regress if rerun.get(t, ("missing",))[0] == "passed"]
        regress = [t for t in regress if t not in flaky]
    only_pk = sorted(t for t, (o, _) in pk.items() if o == "passed" and zk.get(t, ("",))[0]
                     != "passed")
    print("\n== compat summary")
    print(summarize("zookeeper", zk))
    print(summarize("pk-server", pk))
    for t in flaky:
        print("FLAKY on pk (failed, then passed on re-run): %s  (%s)" % (t, pk[t][1]))
    for t in only_pk:
        print("passes on pk only: %s" % t)
    known = known_pk_failures()
    for t in sorted(known):
        if t in pk and pk[t][0] == "passed":
            print("NOW PASSES on pk (remove it from tests/compat/known_pk_failures.txt): %s" % t)
    tolerated = [t for t in regress if t in known]
    regress = [t for t in regress if t not in known]
    for t in tolerated:
        print("KNOWN REGRESSION (listed in known_pk_failures.txt: %s): %s  (%s)"
              % (known[t], t, pk.get(t, ("", ""))[1]))
    for t in regress:
        print("REGRESSION (passes on zk, %s on pk): %s  (%s)" % (pk.get(t, ("missing", ""))[0], t,
                                                            pk.get(t, ("", ""))[1]))
    zp = sum(1 for o, _ in zk.values() if o == "passed")
    pp = sum(1 for o, _ in pk.values() if o == "passed")
    print("compat: zookeeper %d passed; pk-server %d passed; %d regressions (+%d known, listed)"
          % (zp, pp, len(regress), len(tolerated)))
    if regress:
        print("compat: FAILED")
        return 1
    print("compat: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
