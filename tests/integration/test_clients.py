"""(a) Official clients against the server: the C client's cli_mt and Java's zkCli."""

import os
import queue
import re
import subprocess
import threading
import time

import pytest

import zkwire

CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
ZKCLI_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar"


def cli_mt(server, cmd, timeout_s=20):
    """Run one cli_mt batch command; returns its combined output."""
    p = subprocess.run([CLI_MT, "-h", server.address, "-c", cmd], capture_output=True,
                       timeout=timeout_s, text=True, errors="replace")
    return p.stdout + p.stderr


class Interactive:
    """A line-oriented interactive client process with a reader thread."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        self.q = queue.Queue()
        self.out = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait_for(self, pattern, timeout_s=20):
        """Wait until a line matching pattern appears (searching what came so far too)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        for line in self.out:
            if rx.search(line):
                return line
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            self.out.append(line)
            if rx.search(line):
                return line
        raise AssertionError("no line matching %r within %d s; output:\n%s"
                             % (pattern, timeout_s, "".join(self.out)))

    def close(self):
        try:
            self.send("quit")
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def test_cli_mt_create_get_set_ls_delete(server):
    out = cli_mt(server, "create /cmt")
    assert "[/cmt]: rc = 0" in out, out
    out = cli_mt(server, "set /cmt hello")
    assert "/cmt: rc = 0" in out and "version=1" in out, out
    out = cli_mt(server, "get /cmt")
    assert "rc = 0" in out and "value_len = 5" in out and "\nhello" in out, out
    out = cli_mt(server, "ls /")
    assert re.search(r"^\s+cmt$", out, re.M) and re.search(r"^\s+zookeeper$", out, re.M), out
    out = cli_mt(server, "create +e /cmt/eph")
    assert "rc = 0" in out, out
    out = cli_mt(server, "ls /cmt")
    assert "/cmt: rc = 0" in out and "eph" not in out, "ephemeral outlived its session:\n" + out
    out = cli_mt(server, "delete /cmt")
    assert "/cmt: rc = 0" in out, out
    out = cli_mt(server, "ls /")
    assert "/: rc = 0" in out and not re.search(r"^\s+cmt$", out, re.M), out


def test_cli_mt_watch(server):
    c = Interactive([CLI_MT, "-h", server.address])
    try:
        c.wait_for("CONNECTED_STATE")
        c.send("create /cw")
        c.wait_for(r"\[/cw\]: rc = 0")
        c.send("wexists /cw")
        c.send("ls /cw")  # replies come in order: after this one the watch is set
        c.wait_for(r"/cw: rc = 0")
        w = zkwire.connect("127.0.0.1", server.port)
        assert w.set_data("/cw", b"changed").err == 0
        w.close_session()
        c.wait_for(r"CHANGED_EVENT .*for path /cw")
    finally:
        c.close()


def test_zkcli_create_get_set_ls_delete_watch(server):
    c = Interactive(["java", "-Xmx256m", "-cp", ZKCLI_CP, "org.apache.zookeeper.ZooKeeperMain",
                     "-server", server.address])
    try:
        c.wait_for("SyncConnected", timeout_s=30)
        c.send("create /jz hello")
        c.wait_for(r"Created /jz")
        c.send("get -w /jz")
        c.wait_for(r"^hello$")
        w = zkwire.connect("127.0.0.1", server.port)
        assert w.set_data("/jz", b"bye").err == 0
        c.wait_for(r"type:NodeDataChanged path:/jz")
        c.send("ls /")
        c.wait_for(r"\[.*jz.*zookeeper.*\]|\[.*zookeeper.*jz.*\]")
        c.send("set /jz again")
        c.send("get /jz")
        c.wait_for(r"^again$")
        c.send("create /jz/child x")
        c.wait_for(r"Created /jz/child")
        c.send("ls /jz")
        c.wait_for(r"^\[child\]$")
        c.send("deleteall /jz")
        c.send("stat /jz")
        c.wait_for(r"Node does not exist: /jz")
        r = w.exists("/jz")
        assert r.err == -101
        w.close_session()
    finally:
        c.close()
