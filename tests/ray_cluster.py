"""A small Ray cluster on this machine for tests: a head and optional extra nodes.

Each node is a ``ray start --block`` child process with its own ports and a private temp
dir, so other Ray clusters on the same machine are never touched: stopping sends SIGTERM
to our own ``ray start`` processes (which end the processes of their node), never
``ray stop`` (which kills every Ray process of the user).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports. Each socket stays bound until all are picked: one
    closed at once lets the kernel hand the same port out again (two of a node's ports once
    came out equal, and ``ray start`` refused them)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


_NODE_PORT_FLAGS = (
    "--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port",
)


def _node_ports(ports: list[int]) -> list[str]:
    """A node's own ports, one per flag of ``_NODE_PORT_FLAGS``, and its worker port range."""
    # Below Linux's ephemeral range (32768+), where the free ports above come from.
    base = random.randrange(20000, 32400, 200)
    pairs = [*zip(_NODE_PORT_FLAGS, ports, strict=True),
             ("--min-worker-port", base), ("--max-worker-port", base + 199)]
    return [str(item) for pair in pairs for item in pair]


@dataclass
class LocalCluster:
    """A head node plus extra nodes, each a ``ray start --block`` child of this process."""

    env: dict[str, str]
    temp_dir: Path
    address: str = ""
    nodes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def start(cls, head_cpus: int, env: dict[str, str] | None = None) -> LocalCluster:
        # Short: Ray's socket paths live under it and must stay under ~107 characters.
        temp_dir = Path(tempfile.mkdtemp(prefix="acray", dir="/tmp"))
        base_env = dict(os.environ if env is None else env)
        # Token auth would share ~/.ray/auth_token with every other cluster of this user;
        # this cluster listens on this host only for the length of a test.
        # Ray 2.60 drains a node for up to 30 s on SIGTERM (for Serve); nothing here
        # serves traffic, so the test cluster stops at once.
        base_env.update(RAY_TMPDIR=str(temp_dir), RAY_USAGE_STATS_ENABLED="0",
                        RAY_AUTH_MODE="disabled", RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0")
        cluster = cls(env=base_env, temp_dir=temp_dir)
        from ray.util import get_node_ip_address

        port, dashboard, *node_ports = _free_ports(2 + len(_NODE_PORT_FLAGS))
        # The address Ray itself picks for this host: a driver on it must find its raylet.
        cluster.address = f"{get_node_ip_address()}:{port}"
        cluster._spawn([
            "--head", "--port", str(port), "--num-cpus", str(head_cpus),
            "--include-dashboard", "false", "--dashboard-port", str(dashboard),
            "--temp-dir", str(temp_dir),
        ], node_ports)
        try:
            cluster.wait_for_nodes(1)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_node(self, cpus: int, resources: str = "{}") -> None:
        """Join one more node to the head, with its own CPUs and custom resources."""
        self._spawn([
            "--address", self.address, "--num-cpus", str(cpus), "--resources", resources,
        ])
        self.wait_for_nodes(len(self.nodes))

    def _spawn(self, args: list[str], ports: list[int] | None = None) -> None:
        ray_bin = Path(sys.executable).with_name("ray")
        ports = ports or _free_ports(len(_NODE_PORT_FLAGS))
        command = [str(ray_bin), "start", "--block", "--disable-usage-stats", *args,
                   *_node_ports(ports)]
        log = open(self.temp_dir / f"node{len(self.nodes)}.log", "wb")  # noqa: SIM115
        self.nodes.append(subprocess.Popen(command, env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT))

    def wait_for_nodes(self, count: int, timeout: float = 120.0) -> None:
        """Block until ``count`` nodes are alive, as the cluster itself reports."""
        # One driver process that polls: each new driver costs seconds of Ray start-up.
        code = (
            "import ray, sys, time\n"
            f"ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n"
            f"deadline = time.monotonic() + {timeout}\n"
            f"while sum(1 for n in ray.nodes() if n['Alive']) != {count}:\n"
            "    if time.monotonic() > deadline:\n"
            "        sys.exit(3)\n"
            "    time.sleep(0.2)\n"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiter = subprocess.Popen([sys.executable, "-c", code], env=self.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while waiter.poll() is None and time.monotonic() < deadline:
                    self._check_nodes_running()  # a node that died fails at once
                    time.sleep(0.2)
            finally:
                if waiter.poll() is None:
                    waiter.kill()
                waiter.wait()
            if waiter.returncode == 0:
                return
            time.sleep(0.5)  # the head was not up yet (ray.init gave up): try again
        raise TimeoutError(f"Ray cluster did not reach {count} node(s)")

    def _check_nodes_running(self) -> None:
        for number, node in enumerate(self.nodes):
            if node.poll() is not None:
                log = (self.temp_dir / f"node{number}.log").read_text()
                raise RuntimeError(f"ray start exited {node.returncode}:\n{log[-3000:]}")

    def stop(self) -> None:
        """End our nodes (newest first) and remove the temp dir."""
        for node in reversed(self.nodes):
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        for node in reversed(self.nodes):
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
