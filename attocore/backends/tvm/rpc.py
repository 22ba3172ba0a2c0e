"""TVM's RPC farm for tuning: the tracker's queue state (shown with the tuning progress), and a
farm on this machine (a tracker and rpc_servers, all bound to 127.0.0.1) that starts and stops
as one, for tests and for an emulated board (scripts/emulated_board.sh).

    with LocalFarm(key="cpu", servers=2) as farm:
        tune(graph, "net", rpc={"host": farm.host, "port": farm.port, "key": farm.key})

A board's server can be any command line (e.g. an aarch64 Python under qemu-user); the farm
runs each process in its own session and, leaving, stops exactly those process groups.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ...errors import RpcFarmError
from .library import load_tvm

HOST = "127.0.0.1"


def queue_state(host: str, port: int, key: str, timeout: float = 2.0) -> dict | None:
    """{'servers', 'free', 'busy', 'pending'} for `key` at the tracker, None if it does not answer."""
    try:
        load_tvm()
        from tvm import rpc
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            tracker = rpc.connect_tracker(host, port)
            summary = tracker.summary()
            tracker.close()
        finally:
            socket.setdefaulttimeout(old)
    except Exception:  # a tracker that is gone or busy must not stop a tuning session
        return None
    queue = summary.get("queue_info", {}).get(key, {})
    servers = sum(1 for s in summary.get("server_info", []) if s.get("key") == f"server:{key}")
    free = int(queue.get("free", 0))
    return {"servers": servers, "free": free, "busy": max(0, servers - free), "pending": int(queue.get("pending", 0))}


def describe_queue(state: dict | None, key: str) -> str:
    if state is None:
        return f"tracker: no answer for '{key}'"
    return f"'{key}': {state['free']} free / {state['busy']} busy, {state['pending']} waiting"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LocalFarm:
    """A tracker and `servers` rpc_servers under one key on 127.0.0.1.

    server_command: the argv prefix that runs a Python with TVM for the servers (default this
    interpreter); `-m tvm.exec.rpc_server ...` is appended. start_timeout bounds how long the
    servers may take to register (an emulated board needs tens of seconds)."""

    def __init__(self, key: str = "attocore", servers: int = 1, server_command=None, start_timeout: float = 120.0,
                 log_dir=None):
        self.key, self.n_servers, self.host = key, servers, HOST
        self.server_command = list(server_command or [sys.executable])
        self.start_timeout = start_timeout
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="attocore-farm-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = None
        self._procs = []

    def _spawn(self, argv, name):
        log = open(self.log_dir / f"{name}.log", "w")
        env = dict(os.environ, TVM_NUM_THREADS=os.environ.get("TVM_NUM_THREADS", "1"))
        # Its own session: stopping the farm signals the whole group (rpc_server forks a child
        # per measurement session) and nothing else.
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        log.close()
        self._procs.append((name, proc))
        return proc

    def _log(self, name) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def start(self):
        base = _free_port()
        self._spawn([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", HOST, "--port", str(base),
                     "--port-end", str(base + 20)], "tracker")
        deadline = time.time() + self.start_timeout
        while self.port is None:
            m = re.search(r"bind to 127\.0\.0\.1:(\d+)", self._log("tracker"))
            if m:
                self.port = int(m.group(1))
            elif time.time() > deadline or self._procs[0][1].poll() is not None:
                raise RpcFarmError(f"the RPC tracker did not start:\n{self._log('tracker')[-2000:]}")
            else:
                time.sleep(0.2)
        for i in range(self.n_servers):
            sport = _free_port()
            self._spawn(self.server_command + ["-m", "tvm.exec.rpc_server", "--host", HOST, "--port", str(sport),
                                               "--port-end", str(sport + 20), "--tracker", f"{HOST}:{self.port}",
                                               "--key", self.key], f"server{i}")
        while True:
            state = queue_state(HOST, self.port, self.key)
            if state and state["free"] >= self.n_servers:
                return self
            dead = [n for n, p in self._procs if p.poll() is not None]
            if dead or time.time() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"not registered after {self.start_timeout:.0f} s"
                raise RpcFarmError(f"RPC servers for '{self.key}': {why}; state {state}\n"
                                + "\n".join(f"--- {n}:\n{self._log(n)[-1500:]}" for n, _ in self._procs[1:]))
            time.sleep(0.5)

    def stop(self, grace: float = 5.0):
        """Stop every process this farm started (servers first), by its process group."""
        for _, proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, proc in reversed(self._procs):
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=grace)
        self._procs = []

    @property
    def rpc(self) -> dict:
        return {"host": self.host, "port": self.port, "key": self.key}

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
