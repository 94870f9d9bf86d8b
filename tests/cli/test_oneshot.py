"""One-shot commands: outputs, JSON, and exit codes that tell errors apart."""
import json
import uuid

from pkt import pk, normalize


def base(server):
    """A fresh subtree for one test."""
    b = "/t-" + uuid.uuid4().hex[:8]
    assert pk(server, "create", b).returncode == 0
    return b


def test_create_get_set_delete(server):
    b = base(server)
    r = pk(server, "create", b + "/a", "hello")
    assert (r.returncode, r.stdout) == (0, "Created %s/a\n" % b)
    r = pk(server, "get", b + "/a")
    assert (r.returncode, r.stdout) == (0, "hello\n")
    r = pk(server, "set", b + "/a", "world")
    assert (r.returncode, r.stdout) == (0, "")
    r = pk(server, "get", "-s", b + "/a")
    lines = r.stdout.splitlines()
    assert lines[0] == "world"
    assert "dataVersion = 1" in lines and "dataLength = 5" in lines and "numChildren = 0" in lines
    assert [l.split(" = ")[0] for l in lines[1:]] == [
        "cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
        "ephemeralOwner", "dataLength", "numChildren"]
    r = pk(server, "create", b + "/empty")
    assert r.returncode == 0
    assert pk(server, "get", b + "/empty").stdout == "null\n"
    assert pk(server, "delete", b + "/a").returncode == 0
    assert pk(server, "ls", b).stdout == "[empty]\n"


def test_exit_codes(server):
    b = base(server)
    pk(server, "create", b + "/a", "x")
    pk(server, "create", b + "/a/child")
    cases = [
        (("get", b + "/nope"), 1, "Node does not exist: %s/nope\n" % b),
        (("create", b + "/a"), 3, "Node already exists: %s/a\n" % b),
        (("set", "-v", "7", b + "/a", "y"), 4, "version No is not valid : %s/a\n" % b),
        (("delete", b + "/a"), 5, "Node not empty: %s/a\n" % b),
        (("delete", "-v", "3", b + "/a/child"), 4, "version No is not valid : %s/a/child\n" % b),
        (("create", b + "/x/y/z"), 1, "Node does not exist: %s/x/y/z\n" % b),
        (("get",), 2, "get [-s] [-w] path\n"),
        (("get", "relative"), 10, None),
        (("bogus",), 2, None),
    ]
    for args, code, err in cases:
        r = pk(server, *args)
        assert r.returncode == code, (args, r.returncode, r.stderr)
        if err is not None:
            assert r.stderr == err, (args, r.stderr)
        assert r.stdout == ""


def test_no_auth_exit_code(server):
    b = base(server)
    assert pk(server, "create", b + "/ro", "x", "world:anyone:r").returncode == 0
    r = pk(server, "set", b + "/ro", "y")
    assert (r.returncode, r.stderr) == (6, "Insufficient permission : %s/ro\n" % b)
    r = pk(server, "getAcl", b + "/ro")
    assert r.stdout == "'world,'anyone\n: r\n"


def test_connection_refused_exit_code():
    class Dead:
        hostport = "127.0.0.1:1"
    r = pk(Dead(), "--connect-wait-ms", "500", "ls", "/")
    assert r.returncode == 7
    assert "Cannot connect" in r.stderr


def test_json(server):
    b = base(server)
    r = pk(server, "create", "-s", b + "/seq-", "v1", json=True)
    created = json.loads(r.stdout)["created"]
    assert created.startswith(b + "/seq-") and len(created) == len(b + "/seq-") + 10
    g = json.loads(pk(server, "get", created, json=True).stdout)
    assert g["data"] == "v1" and g["stat"]["version"] == 0 and g["stat"]["dataLength"] == 2
    s = json.loads(pk(server, "set", created, "v2", json=True).stdout)
    assert s["stat"]["version"] == 1
    ls = json.loads(pk(server, "ls", "-s", b, json=True).stdout)
    assert ls["children"] == [created.rsplit("/", 1)[1]] and ls["stat"]["numChildren"] == 1
    r = pk(server, "get", b + "/missing", json=True)
    err = json.loads(r.stderr)
    assert (r.returncode, err["error"], err["code"]) == (1, "NoNode", -101)
    acl = json.loads(pk(server, "getAcl", b, json=True).stdout)
    assert acl["acl"] == [{"scheme": "world", "id": "anyone", "perms": "cdrwa"}]
    n = json.loads(pk(server, "getAllChildrenNumber", b, json=True).stdout)
    assert n["count"] == 1
    assert json.loads(pk(server, "stat", b, json=True).stdout)["stat"]["numChildren"] == 1
    assert json.loads(pk(server, "whoami", json=True).stdout) == {"auth": [{"scheme": "ip", "user": "127.0.0.1"}]}


def test_tree_commands(server):
    b = base(server)
    for p in ["/a", "/a/x", "/a/y", "/b", "/a/x/deep"]:
        assert pk(server, "create", b + p, "d").returncode == 0
    assert pk(server, "ls", "-R", b).stdout.split() == [b + p for p in ["", "/a", "/a/x", "/a/x/deep", "/a/y", "/b"]]
    assert pk(server, "getAllChildrenNumber", b).stdout == "5\n"
    assert pk(server, "getAllChildrenNumber", b + "/a").stdout == "3\n"
    assert pk(server, "setAcl", "-R", b + "/a", "world:anyone:cdra").returncode == 0
    assert pk(server, "getAcl", b + "/a/x/deep").stdout == "'world,'anyone\n: cdra\n"
    assert pk(server, "deleteall", b + "/a").returncode == 0
    assert pk(server, "ls", b).stdout == "[b]\n"
    r = pk(server, "sync", b)
    assert (r.returncode, r.stdout) == (0, "Sync is OK\n")


def test_create_modes(server):
    b = base(server)
    assert pk(server, "create", "-c", b + "/cont").returncode == 0
    r = pk(server, "create", "-t", "60000", b + "/ttl", "x")
    assert (r.returncode, r.stdout) == (0, "Created %s/ttl\n" % b)
    r = pk(server, "create", "-e", b + "/eph")
    assert r.returncode == 0
    # the one-shot session closed, so its ephemeral is gone
    assert pk(server, "stat", b + "/eph").returncode == 1
    assert pk(server, "stat", b + "/ttl").returncode == 0
    r = pk(server, "create", "-s", "-e", b + "/q-")
    assert r.returncode == 0 and r.stdout.startswith("Created %s/q-00000000" % b)


def test_addauth_digest_and_whoami(server):
    b = base(server)
    script = ("addauth digest alice:secret\ncreate %s/private data auth::cdrwa\ngetAcl %s/private\n"
              "get %s/private\nwhoami\n" % (b, b, b))
    r = pk(server, input=script)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "Created %s/private" % b
    assert out[1].startswith("'digest,'alice:") and out[2] == ": cdrwa"
    assert out[3] == "data"
    assert out[4] == "Auth scheme: User"
    assert sorted(out[5:]) == ["digest: alice", "ip: 127.0.0.1"]
    r = pk(server, "get", b + "/private")
    assert r.returncode == 6


def test_ephemerals_and_config_in_one_session(server):
    b = base(server)
    script = "create -e %s/e1\ncreate -e %s/e2\ncreate %s/p\ngetEphemerals %s\nconfig\n" % (b, b, b, b)
    r = pk(server, input=script)
    assert r.returncode == 0, r.stderr
    assert "[%s/e1, %s/e2]" % (b, b) in r.stdout.splitlines()


def test_same_output_on_every_server(all_servers):
    """The same one-shot script gives the same (normalized) output on each server."""
    script = [
        ("create", "{b}/n", "v"), ("create", "-s", "{b}/s-", "x"), ("create", "-s", "{b}/s-", "y"),
        ("ls", "{b}"), ("get", "-s", "{b}/n"), ("set", "-s", "{b}/n", "w"), ("stat", "{b}/n"),
        ("getAcl", "-s", "{b}/n"), ("ls", "-R", "{b}"), ("getAllChildrenNumber", "{b}"),
        ("delete", "{b}/n"), ("get", "{b}/n"), ("create", "{b}/s-0000000000"), ("delete", "-v", "5", "{b}/s-0000000001"),
        ("deleteall", "{b}"), ("ls", "{b}"), ("whoami",), ("sync", "/"),
    ]
    transcripts = {}
    for kind, server in all_servers.items():
        b = "/same-" + uuid.uuid4().hex[:6]
        pk(server, "create", b)
        lines = []
        for step in script:
            args = [a.format(b=b) for a in step]
            for js in (False, True):
                r = pk(server, *args, json=js)
                lines.append("%s json=%s rc=%d\n%s%s" % (" ".join(step), js, r.returncode,
                                                         r.stdout.replace(b, "{b}"), r.stderr.replace(b, "{b}")))
        transcripts[kind] = normalize("".join(lines))
    kinds = sorted(transcripts)
    for k in kinds[1:]:
        assert transcripts[k] == transcripts[kinds[0]], "%s differs from %s" % (k, kinds[0])
    assert "rc=1\nNode does not exist: {b}/n" in transcripts[kinds[0]]
