"""Scheduled inbox runs as an operator sees them: `akhbar serve` out of the box (its own local Prefect
server), quiet idle runs, and a served run cancelled or a serve stopped without leaving processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
import pytest
from test_server import BIN, _client, _free_port, _wait_until, server_env  # noqa: F401 - a fixture

from akhbar.analytics import open_lake
from akhbar.lake import REPORT_FILE, scan_dataset
from schemas import ALL_DATASETS, DOCUMENTS

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


class Serve:
    """``akhbar serve`` in a session of its own; its output collected line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "akhbar"), "serve", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def family(self) -> list[psutil.Process]:
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> float:
        """Signal the serve process (only it, as a service manager does); seconds until it exited."""
        sent = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError("".join(self.lines[-40:])) from None
        return time.monotonic() - sent

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture
def serving() -> Iterator[list[Serve]]:
    """Serve processes started by a test, killed if the test left them running."""
    started: list[Serve] = []
    yield started
    for serve in started:
        serve.kill()


def _documents(lake: Path) -> int:
    return scan_dataset(lake, DOCUMENTS).collect().height if (lake / DOCUMENTS.name).is_dir() else 0


def _assert_gone(family: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [p.pid for p in alive]


@pytest.mark.usefixtures("prefect_harness")
def test_idle_inbox_runs_are_quiet_successes(tmp_path: Path, seed_file: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows import ingest

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"

    def run() -> tuple[str | None, set[str]]:
        state = ingest(paths=[str(inbox)], lake=str(lake), inbox=True, return_state=True)
        assert state.is_completed(), state
        flow_run_id = state.state_details.flow_run_id
        assert flow_run_id is not None
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
        return state.message, {a.key for a in artifacts if a.key}

    assert run()[0] == "nothing new (0 files already in the lake)"  # the missing inbox was created
    assert inbox.is_dir()
    (inbox / "seed.txt").write_bytes(seed_file.read_bytes())
    message, keys = run()
    assert message == "completed: 1 new file ingested, 0 already in the lake, 0 failed"
    assert "lake-figures" in keys
    report = lake / REPORT_FILE
    written = report.stat().st_mtime_ns
    message, keys = run()
    assert message == "nothing new (1 file already in the lake)"
    assert "lake-figures" not in keys and "ingest-summary" in keys
    assert report.stat().st_mtime_ns == written  # an idle run rewrites no report


def test_serve_without_an_api_url_runs_schedules_on_its_own_server(
    server_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    seed_file: Path,
    serving: list[Serve],
) -> None:
    env = {k: v for k, v in server_env.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    inbox, lake, port = tmp_path / "inbox", tmp_path / "lake", _free_port()
    serve = Serve(env, "--inbox", str(inbox), "--lake", str(lake), "--interval", "5", "--port", str(port))
    serving.append(serve)
    _wait_until(lambda: serve.said("being served") or serve.process.poll() is not None, 240, "akhbar serve")
    assert serve.said(f"Prefect UI: http://127.0.0.1:{port}"), "".join(serve.lines)
    assert inbox.is_dir()  # created for the files to land in
    (inbox / "seed.txt").write_bytes(seed_file.read_bytes())
    _wait_until(lambda: _documents(lake) == 1, 240, "a scheduled run that ingests the dropped file")
    family = serve.family()
    assert any("prefect" in " ".join(p.cmdline()) and "server" in p.cmdline() for p in family[1:])
    seconds = serve.stop(signal.SIGTERM)
    assert seconds < 30, "".join(serve.lines[-30:])
    assert serve.process.returncode == 0  # a stop asked for is the normal end of serving
    _assert_gone(family)  # the local server and any flow-run process went with it


def test_cancelling_a_served_run_stops_it_and_leaves_no_process(
    server_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    seed_file: Path,
    serving: list[Serve],
) -> None:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    (inbox / "seed.txt").write_bytes(seed_file.read_bytes())
    env = server_env | {"AKHBAR_PAUSE_AT": "after-segments", "AKHBAR_PAUSE_SECONDS": "300"}
    serve = Serve(env, "--inbox", str(inbox), "--lake", str(lake), "--interval", "3600")
    serving.append(serve)
    _wait_until(lambda: serve.said("being served") or serve.process.poll() is not None, 240, "akhbar serve")
    run_it = [str(BIN / "prefect"), "deployment", "run", "ingest/akhbar-inbox-served"]
    _wait_until(  # the runner registers the deployment as it starts
        lambda: subprocess.run(run_it, env=server_env, capture_output=True, timeout=120).returncode == 0,
        120, "the served deployment", interval_s=2,
    )  # fmt: skip
    _wait_until(lambda: serve.said("akhbar: paused at after-segments"), 240, "the run to reach its publish")
    running = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])))
    with _client(server_env) as client:  # type: ignore[attr-defined]
        (flow_run,) = client.read_flow_runs(flow_run_filter=running)
    engines = [p for p in serve.family() if "prefect.engine" in " ".join(p.cmdline())]
    assert engines, [p.cmdline() for p in serve.family()]
    cancelled_at = time.monotonic()
    subprocess.run(
        [str(BIN / "prefect"), "flow-run", "cancel", str(flow_run.id)],
        env=server_env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip

    def state() -> StateType | None:
        with _client(server_env) as client:  # type: ignore[attr-defined]
            return client.read_flow_run(UUID(str(flow_run.id))).state_type  # type: ignore[no-any-return]

    _wait_until(lambda: state() is StateType.CANCELLED, 60, "the flow run to end Cancelled")
    with _client(server_env) as client:  # type: ignore[attr-defined]
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    assert not [t.name for t in task_runs if t.state is not None and t.state.is_failed()]
    _assert_gone(engines)  # the run's process is gone, the pause abandoned
    assert time.monotonic() - cancelled_at < 60
    assert serve.process.poll() is None  # serving goes on
    with open_lake(lake) as connection:  # readable; the next run recovers the abandoned publish
        for dataset in ALL_DATASETS:
            connection.sql(f"SELECT * FROM {dataset.name}").fetchall()
    family = serve.family()
    assert serve.stop(signal.SIGTERM) < 30
    _assert_gone(family)


def test_served_and_worker_deployments_live_side_by_side(
    server_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    seed_file: Path,
    serving: list[Serve],
) -> None:
    """`akhbar serve` and `prefect deploy --all` + a process worker on one server: two deployments that
    do not overwrite each other, and the worker's run ingests prefect.yaml's data/inbox."""
    root = tmp_path / "project"  # a copy of the repository root, as a team's checkout
    root.mkdir()
    shutil.copy(REPO_ROOT / "prefect.yaml", root / "prefect.yaml")
    for package in ("akhbar", "flows", "schemas"):
        (root / package).symlink_to(REPO_ROOT / package)
    (root / "data" / "inbox").mkdir(parents=True)
    (root / "data" / "inbox" / "seed.txt").write_bytes(seed_file.read_bytes())
    # `{{ $PWD }}` in the pull step is the deploying shell's PWD; a subprocess's cwd does not set it.
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), server_env.get("PYTHONPATH")]))
    env = server_env | {"PWD": str(root), "PYTHONPATH": python_path}
    served_inbox = tmp_path / "served-inbox"
    serve = Serve(env, "--inbox", str(served_inbox), "--lake", str(tmp_path / "served-lake"), "--interval", "3600")
    serving.append(serve)
    _wait_until(lambda: serve.said("being served") or serve.process.poll() is not None, 240, "akhbar serve")

    def prefect(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", *args],
            env=env, cwd=root, capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done

    prefect("work-pool", "create", "akhbar", "--type", "process")
    prefect("deploy", "--all")
    names = ["akhbar-inbox", "akhbar-inbox-served"]
    _wait_until(lambda: len(_deployments(server_env, names)) == 2, 60, "both deployments")
    by_name = {d.name: d for d in _deployments(server_env, names)}
    assert by_name["akhbar-inbox"].parameters["paths"] == ["data/inbox"]
    assert by_name["akhbar-inbox-served"].parameters["paths"] == [str(served_inbox.resolve())]
    assert by_name["akhbar-inbox"].work_pool_name == "akhbar"

    prefect("deployment", "run", "ingest/akhbar-inbox")
    prefect("worker", "start", "--pool", "akhbar", "--run-once", timeout_s=600)
    assert _documents(root / "data" / "lake") == 1
    assert serve.process.poll() is None  # the served deployment was not disturbed
    serve.stop(signal.SIGTERM)


def _deployments(env: dict[str, str], names: list[str]) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with _client(env) as client:  # type: ignore[attr-defined]
        return list(client.read_deployments(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names))))
