"""pytest plugin (-p kazoo_plugin): run kazoo's own test suite against our launcher.

It replaces kazoo.testing's ZookeeperCluster (used by KazooTestHarness through
get_global_cluster) with a one-server cluster started by tests/lib/zkserver.py.
Env: PK_TARGET=pk|zk picks the server, COMPAT_PORT the client port.
"""

import atexit
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import zkserver  # noqa: E402
import kazoo.testing.common as kcommon  # noqa: E402
import kazoo.testing.harness as kharness  # noqa: E402


class ManagedServer:
    """Adapter with the interface of kazoo.testing.common.ManagedZooKeeper."""

    def __init__(self, kind, port, cfg_extra, jaas_config):
        self.server = zkserver.Server(kind, port, name="compat-%s" % kind, cfg_extra=cfg_extra,
                                      jaas_config=jaas_config,
                                      java_props=["-Dreadonlymode.enabled=true"])
        self.host = "127.0.0.1"
        self.server_info = kcommon.ServerInfo(1, port, port + 1, port + 2, port + 3,
                                              "participant")

    @property
    def address(self):
        return self.server.address

    @property
    def client_port(self):
        return self.server.port

    @property
    def running(self):
        return self.server.running

    def run(self):
        """Start (if not running) on the retained data dir and wait until it is up."""
        if not self.server.running:
            self.server.start(timeout_s=60)

    def stop(self):
        """SIGTERM, keep data."""
        self.server.stop()

    def reset(self):
        """Stop and wipe data."""
        self.server.reset()

    def destroy(self):
        """Stop and remove the work dir."""
        self.server.cleanup()


class OneServerCluster:
    """Replacement for kazoo.testing.common.ZookeeperCluster: always one server."""

    def __init__(self, *args, configuration_entries=(), jaas_config=None, **kw):
        # kazoo passes "4lw.commands.whitelist=*" and "reconfigEnabled=true" for ZK >= 3.5.
        cfg_extra = dict(e.split("=", 1) for e in configuration_entries if "=" in e)
        kind = zkserver.target_kind()
        port = int(os.environ.get("COMPAT_PORT",
                                  zkserver.PK_PORT_BASE if kind == "pk" else zkserver.ZK_PORT_BASE))
        self._servers = [ManagedServer(kind, port, cfg_extra, jaas_config)]

    def __getitem__(self, k):
        return self._servers[k]

    def __iter__(self):
        return iter(self._servers)

    def __len__(self):
        return len(self._servers)

    def start(self):
        for s in self._servers:
            s.run()

    def stop(self):
        for s in self._servers:
            s.stop()

    def terminate(self):
        for s in self._servers:
            s.destroy()

    def reset(self):
        for s in self._servers:
            s.reset()


kcommon.ZookeeperCluster = OneServerCluster
kharness.ZookeeperCluster = OneServerCluster
os.environ.setdefault("ZOOKEEPER_VERSION", "3.8.0")
os.environ["ZOOKEEPER_CLUSTER_SIZE"] = "1"


def _terminate():
    """Make sure the server dies with pytest."""
    if kharness.CLUSTER is not None:
        kharness.CLUSTER.terminate()


atexit.register(_terminate)
