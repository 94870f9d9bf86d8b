"""Four-letter words: every command the issue names, in ZooKeeper's output format, and the whitelist rules.

Runs against the server of PK_TARGET (pk by default; `make test-integration-zk` runs it against Apache
ZooKeeper 3.8.0), so the expectations below are checked against the real ZooKeeper too.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkserver  # noqa: E402
import zkwire  # noqa: E402
from conftest import new_port  # noqa: E402

STATS_BLOCK = (r"Latency min/avg/max: \d+/[\d.]+/\d+\nReceived: \d+\nSent: \d+\nConnections: \d+\n"
               r"Outstanding: \d+\nZxid: 0x[0-9a-f]+\nMode: standalone\nNode count: \d+\n")


def lw(server, cmd):
    out = zkserver.four_letter(server.port, cmd, timeout_s=10.0)
    assert out is not None, "%s: no answer" % cmd
    return out.decode()


def test_every_command_format(server):
    c = zkwire.connect("127.0.0.1", server.port, io_timeout_s=10)
    assert c.create("/fw", b"x").err == 0
    assert c.get_data("/fw", watch=True).err == 0   # one data watch for wchs/wchc/wchp
    sid = c.session_id

    assert lw(server, "ruok") == "imok"          # no newline
    assert lw(server, "isro") == "rw"            # no newline: the C client and kazoo compare exactly
    assert re.fullmatch(r"Zookeeper version: \d[^\n]*\n" + STATS_BLOCK, lw(server, "srvr")), lw(server, "srvr")
    stat = lw(server, "stat")
    assert re.fullmatch(r"Zookeeper version: \d[^\n]*\nClients:\n( /[^\n]+\(queued=\d+,recved=\d+,sent=\d+[^\n]*\)\n)+\n"
                        + STATS_BLOCK, stat), stat
    mntr = dict(line.split("\t", 1) for line in lw(server, "mntr").splitlines() if "\t" in line)
    for key in ("zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
                "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
                "zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
                "zk_open_file_descriptor_count", "zk_max_file_descriptor_count"):
        assert key in mntr, key
    assert mntr["zk_server_state"] == "standalone"
    assert int(mntr["zk_watch_count"]) >= 1
    conf = lw(server, "conf")
    for key in ("clientPort", "dataDir", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
                "serverId"):
        assert re.search(r"^%s=" % key, conf, re.M), (key, conf)
    assert re.search(r"^clientPort=%d$" % server.port, conf, re.M), conf
    envi = lw(server, "envi")
    assert envi.startswith("Environment:\n") and re.search(r"^zookeeper\.version=\d", envi, re.M), envi
    cons = lw(server, "cons")
    assert re.search(r"sid=0x0*%x\b" % sid, cons), cons
    assert cons.endswith("\n\n"), cons
    wchs = lw(server, "wchs")
    assert re.fullmatch(r"(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n", wchs), wchs
    assert int(re.match(r"(\d+)", wchs).group(1)) >= 1
    wchc = lw(server, "wchc")
    assert re.search(r"^0x0*%x\n\t/fw\n" % sid, wchc, re.M), wchc
    wchp = lw(server, "wchp")
    assert re.search(r"^/fw\n\t0x0*%x\n" % sid, wchp, re.M), wchp
    assert re.fullmatch(r"datadir_size: \d+\nlogdir_size: \d+\n", lw(server, "dirs")), lw(server, "dirs")
    assert lw(server, "crst") == "Connection stats reset.\n"
    assert lw(server, "srst") == "Server stats reset.\n"
    assert re.search(r"^Received: \d+$", lw(server, "srvr"), re.M)
    c.close_session()
    c.close()




def test_whitelist(kind):
    s = zkserver.Server(kind, new_port(kind), name="fourlw-wl-%s" % kind,
                        cfg_extra={"4lw.commands.whitelist": "ruok, srvr,stat"})
    # Startup waits for ruok/srvr, both allowed here.
    s.start(timeout_s=60)
    try:
        assert lw(s, "ruok") == "imok"
        assert lw(s, "stat").startswith("Zookeeper version: ")
        assert lw(s, "mntr") == "mntr is not executed because it is not in the whitelist.\n"
        assert lw(s, "wchs") == "wchs is not executed because it is not in the whitelist.\n"
    finally:
        s.stop()
        s.cleanup()
