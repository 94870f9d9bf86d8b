"""The interactive shell, driven through a pseudo-terminal: prompt, commands, watches, completion, history."""
import os
import re
import tempfile
import time
import uuid

from pkt import PK, Pty, pk

PROMPT = r"\[pk: [^\]]*\(CONNECTED\) \d+\] "


def shell(server):
    hist = tempfile.mktemp(prefix="pk-hist-")
    p = Pty([PK, "-s", server.hostport], env={"PK_HISTFILE": hist})
    p.expect(PROMPT)
    return p, hist


def run(p, line):
    """Type a line, return what the shell printed for it (without the echoed line and next prompt)."""
    p.sendline(line)
    out = p.expect(PROMPT)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).replace("\r\n", "\n").replace("\r", "")
    # The echo of what we typed is a whole line (the tty may echo it once more before libedit does).
    ends = [m.end() for m in re.finditer(r"(?:^|(?<=\n))%s\n" % re.escape(line), out)]
    assert ends, (line, out)
    return out[ends[-1]:]


def test_shell_commands_and_outputs(server):
    b = "/sh-" + uuid.uuid4().hex[:8]
    p, hist = shell(server)
    assert run(p, "create %s 'hello world'" % b) == "Created %s\n" % b
    assert run(p, "get %s" % b) == "hello world\n"
    assert run(p, "create %s/child" % b) == "Created %s/child\n" % b
    assert run(p, "ls %s" % b) == "[child]\n"
    assert run(p, "get %s/nope" % b) == "Node does not exist: %s/nope\n" % b
    assert run(p, "set -v 9 %s x" % b) == "version No is not valid : %s\n" % b
    out = run(p, "stat %s" % b)
    assert "numChildren = 1" in out and "dataVersion = 0" in out
    assert run(p, "sync %s" % b) == "Sync is OK\n"
    assert run(p, "getAcl %s" % b) == "'world,'anyone\n: cdrwa\n"
    assert run(p, "create -e %s/eph" % b) == "Created %s/eph\n" % b
    assert run(p, "getEphemerals %s" % b) == "[%s/eph]\n" % b
    assert run(p, "getAllChildrenNumber %s" % b) == "2\n"
    assert "Auth scheme: User\nip: 127.0.0.1\n" == run(p, "whoami")
    assert run(p, "deleteall %s" % b) == ""
    assert run(p, "ls %s" % b) == "Node does not exist: %s\n" % b
    out = run(p, "history")
    # zkCli's history: the last ten commands, numbered
    assert out.splitlines()[0] == "6 - stat %s" % b
    assert out.splitlines()[-3:] == ["13 - deleteall %s" % b, "14 - ls %s" % b, "15 - history"]
    p.sendline("quit")
    assert p.wait() == 0
    assert "deleteall\\040%s" % b in open(hist).read()  # history persists (libedit vis-encodes spaces)
    os.unlink(hist)


def test_shell_watch_events(server):
    b = "/shw-" + uuid.uuid4().hex[:8]
    pk(server, "create", b, "v0")
    p, _ = shell(server)
    assert run(p, "get -w %s" % b) == "v0\n"
    pk(server, "set", b, "v1")
    p.expect(r"WatchedEvent state:SyncConnected type:NodeDataChanged path:%s" % b)
    # persistent recursive watch: fires for every change below, and keeps firing
    p.sendline("addWatch %s" % b)
    p.expect(PROMPT)
    pk(server, "create", b + "/kid", "k")
    p.expect(r"type:NodeCreated path:%s/kid" % b)
    pk(server, "set", b + "/kid", "k2")
    p.expect(r"type:NodeDataChanged path:%s/kid" % b)
    pk(server, "set", b + "/kid", "k3")
    p.expect(r"type:NodeDataChanged path:%s/kid" % b)
    p.sendline("removewatches %s" % b)
    p.expect(PROMPT)
    p.sendline("ls -w %s" % b)
    p.expect(r"\[kid\]")
    pk(server, "delete", b + "/kid")
    p.expect(r"type:NodeChildrenChanged path:%s" % b)
    p.sendline("quit")
    assert p.wait() == 0


def test_shell_tab_completion(server):
    b = "/shc-" + uuid.uuid4().hex[:8]
    pk(server, "create", b)
    pk(server, "create", b + "/alpha-node", "A")
    pk(server, "create", b + "/beta")
    p, _ = shell(server)
    # command-name completion, then path completion of a unique child
    p.send("getA")
    p.send("\t")
    p.expect("getA")
    p.expect(r"(cl|ll)")  # getAcl or getAllChildrenNumber are both candidates
    p.send("\x15")  # ^U: kill the line
    p.send("get %s/al" % b)
    p.send("\t")
    p.expect("pha-node")
    p.sendline("")
    out = p.expect(PROMPT)
    assert "A" in out.replace("\r\n", "\n").split("\n")
    # ambiguous prefix lists the candidates
    p.send("ls %s/" % b)
    p.send("\t")
    p.expect("alpha-node  beta")
    p.send("\x15")
    p.sendline("close")
    p.expect(r"\(CLOSED\)")
    p.sendline("ls /")
    p.expect("Not connected")
    p.sendline("connect %s" % server.hostport)
    p.expect(PROMPT)
    assert run(p, "get %s/alpha-node" % b) == "A\n"
    assert run(p, "get %s/beta" % b) == "null\n"
    p.sendline("quit")
    assert p.wait() == 0


def test_shell_line_editing(server):
    b = "/she-" + uuid.uuid4().hex[:8]
    p, _ = shell(server)
    # type with a typo, move left and fix it (emacs keys): "crate" -> ^A, ^F, ^F, insert 'e'
    p.send("crate %s x" % b)
    p.send("\x01\x06\x06e")
    p.sendline("")
    p.expect("Created %s" % b)
    p.expect(PROMPT)
    # history recall with up-arrow (ESC [ A) re-runs the previous command
    run(p, "get %s" % b)
    p.send("\x1b[A")
    p.sendline("")
    p.expect("x")
    p.expect(PROMPT)
    p.sendline("quit")
    assert p.wait() == 0


def test_shell_same_output_on_every_server(all_servers):
    """The same typed session prints the same (normalized) output on each server."""
    from pkt import normalize
    script = ["create {b} data", "create -s {b}/s- x", "create -e {b}/e", "ls -s {b}", "get -s {b}",
              "set -v 3 {b} y", "set {b} z", "getAcl {b}", "getEphemerals {b}", "getAllChildrenNumber {b}",
              "delete {b}", "stat {b}/nope", "sync {b}", "whoami", "deleteall {b}", "ls {b}", "history"]
    transcripts = {}
    for kind, server in all_servers.items():
        b = "/shs-" + uuid.uuid4().hex[:6]
        p, hist = shell(server)
        outs = [run(p, line.format(b=b)).replace(b, "{b}") for line in script]
        p.sendline("quit")
        assert p.wait() == 0
        os.unlink(hist)
        transcripts[kind] = normalize("".join("> %s\n%s" % (l, o) for l, o in zip(script, outs)))
    kinds = sorted(transcripts)
    for k in kinds[1:]:
        assert transcripts[k] == transcripts[kinds[0]], "%s differs from %s" % (k, kinds[0])
    assert "Node not empty: {b}" in transcripts[kinds[0]]
