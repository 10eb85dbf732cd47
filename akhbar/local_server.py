"""A local Prefect server that akhbar starts, supervises and stops, when no ``PREFECT_API_URL`` is set.

Why not Prefect's own temporary server: it never runs schedules (so ``akhbar serve`` would serve
nothing), and it is a plain child in akhbar's process group, so a Ctrl-C or a SIGTERM to the group
kills it at the same moment as the run — which then cannot tell Prefect that it stopped. This one
runs ``prefect server start`` on loopback in a session of its own (group signals do not reach it),
dies with akhbar even on SIGKILL (``PR_SET_PDEATHSIG``, set in the child before it runs Python),
keeps its database in ``<PREFECT_HOME>/server`` and is stopped by akhbar when it exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

#: The port of ``akhbar serve``'s server (Prefect's usual one), so the UI is where people expect it.
DEFAULT_PORT = 4200
#: A cold start on a small machine (migrations, UI assets) can take this long.
START_TIMEOUT_SECONDS = 180.0
#: After SIGTERM, the server gets this long before SIGKILL.
STOP_TIMEOUT_SECONDS = 5.0
#: How long the queued events and log lines of Prefect's clients may take to reach the local server.
DRAIN_SECONDS = 10.0
LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class LocalServerError(RuntimeError):
    """The local Prefect server could not be started (the message quotes its log)."""


@dataclass
class LocalServer:
    """A running ``prefect server start``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def api_url(self) -> str:
        """What PREFECT_API_URL must say to use it."""
        return f"http://{LOOPBACK}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """Where the UI is."""
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self, timeout_s: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM the server's whole session (uvicorn and its helpers), SIGKILL what is left."""
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, timeout_s)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
        # Helpers of the server may outlive its main process for a moment; they share its group.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when akhbar dies (Linux)."""
    # The signal follows the death of the *thread* that started the child: start it from the main one.
    with suppress(OSError, AttributeError):  # not Linux: akhbar's own clean-up still stops it
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_local_server(
    home: Path, port: int, *, services: bool = True, timeout_s: float = START_TIMEOUT_SECONDS
) -> LocalServer:
    """Start ``prefect server start`` on loopback with its database under ``home``; wait until healthy."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"server-{port}.log"
    environment = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    environment |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", LOOPBACK, "--port", str(port)]
    if not services:  # a single run needs the API only, not the scheduler and its companions
        command.append("--no-services")
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    server = LocalServer(process, port, log)
    deadline = time.monotonic() + timeout_s
    while not healthy(server.api_url):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            raise LocalServerError(
                f"the local Prefect server on port {port} did not start (log {log}): " + " / ".join(tail)
            )
        time.sleep(0.3)
    return server


def configured_api_url() -> str | None:
    """The Prefect API this process is set to use (environment, profile or test harness), if any."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


@contextmanager
def prefect_api(home: Path, port: int | None, *, services: bool = True) -> Iterator[LocalServer | None]:
    """Use the configured Prefect API, or a local server for the duration of the block (None: configured)."""
    if configured_api_url():
        yield None
        return
    server = start_local_server(home, port if port is not None else free_port(), services=services)
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield server
    finally:
        drain_prefect_clients()  # else they try a stopped server at exit, for minutes
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def drain_prefect_clients(timeout_s: float = DRAIN_SECONDS) -> None:
    """Send the events and log lines Prefect still queues, while the server is still up."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        with suppress(Exception):  # best effort: a run's data never depends on it
            service.drain_all(timeout=timeout_s)


def prefect_home() -> Path:
    """The Prefect home in force (PREFECT_HOME, else Prefect's default)."""
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home)
