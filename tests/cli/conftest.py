"""Servers for the pk CLI tests: Apache ZooKeeper 3.8 (always) and pk-server (when built and it starts),
or only PK_TEST_SERVER=host:port when that is set. Every test that takes `server` runs on each."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pkt  # noqa: E402

_servers = {}


def _targets():
    if os.environ.get("PK_TEST_SERVER"):
        return ["external"]
    kinds = ["zookeeper"]
    if os.path.exists(pkt.PK_SERVER) and os.environ.get("PK_TEST_NO_PKSERVER") != "1":
        kinds.append("pk-server")
    return kinds


def _get(kind):
    if kind not in _servers:
        if kind == "external":
            _servers[kind] = pkt.External(os.environ["PK_TEST_SERVER"])
        else:
            s = pkt.Server(kind)
            ok = s.start()
            if not ok:
                log = open(s.log).read()[-3000:] if os.path.exists(s.log) else ""
                s.stop()
                _servers[kind] = None
                sys.stderr.write("\n*** %s did not start; its log tail:\n%s\n" % (kind, log))
            else:
                _servers[kind] = s
    return _servers[kind]


def pytest_generate_tests(metafunc):
    if "server" in metafunc.fixturenames:
        metafunc.parametrize("server", _targets(), indirect=True, scope="session")


@pytest.fixture(scope="session")
def server(request):
    s = _get(request.param)
    if s is None:
        if request.param == "pk-server" and os.environ.get("PK_TEST_REQUIRE_PKSERVER") != "1":
            pytest.skip("pk-server exists but did not start (set PK_TEST_REQUIRE_PKSERVER=1 to fail)")
        pytest.fail("%s did not start" % request.param)
    return s


@pytest.fixture(scope="session")
def all_servers():
    """Every target that started, by kind (for same-output comparisons)."""
    out = {}
    for k in _targets():
        s = _get(k)
        if s is not None:
            out[k] = s
    return out


def pytest_sessionfinish(session, exitstatus):
    for s in _servers.values():
        if s is not None:
            s.stop()
