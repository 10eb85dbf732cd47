"""Against a real Prefect server: what the UI shows, served schedules, Dask, resuming after a kill.

One `prefect server start` (SQLite in a temporary PREFECT_HOME, loopback port) serves the module;
`akhbar` runs as a subprocess with PREFECT_API_URL pointing at it, as a user's would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.lake import scan_dataset
from schemas import ALL_DATASETS, DOCUMENTS, RUNS, SEGMENTS

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: Columns that legitimately differ between two runs over the same input.
RUN_SPECIFIC = {"run_id", "processed_at", "ingested_at", "quarantined_at", "flow_run_id", "started_at", "finished_at"}
SERVER_START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(predicate: object, timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on a loopback port and the environment that points a process at it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        _wait_until(lambda: _healthy(url) or server.poll() is not None, SERVER_START_TIMEOUT_S, "the Prefect server")
        assert server.poll() is None, (home / "server.log").read_text()
        yield env | {"PREFECT_API_URL": url}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _akhbar(env: dict[str, str], *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "akhbar"), *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def _client(env: dict[str, str]) -> object:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return get_client(sync_client=True)


def _latest_run(lake: Path) -> dict[str, object]:
    return scan_dataset(lake, RUNS).collect().sort("started_at").row(-1, named=True)


def _lake_content(lake: Path) -> dict[str, pl.DataFrame]:
    """Every dataset except runs, without run-specific columns, in a stable order."""
    content = {}
    for dataset in ALL_DATASETS:
        if dataset is RUNS:
            continue
        frame = scan_dataset(lake, dataset).collect()
        frame = frame.drop([c for c in frame.columns if c in RUN_SPECIFIC])
        content[dataset.name] = frame.sort(frame.columns[:3])
    return content


@pytest.fixture
def inputs(tmp_path: Path, seed_file: Path) -> Path:
    """An inbox with the seed and a second file of the team's own sentences."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(seed_file, inbox / "seed.txt")
    (inbox / "second.txt").write_text(
        "ارتفع سعر الذهب عيار 21 في الأسواق المصرية اليوم\n\nفاز الأهلي على الزمالك في الدوري الممتاز\n",
        encoding="utf-8",
    )
    return inbox


def test_ui_shows_run_tasks_and_artifacts(server_env: dict[str, str], inputs: Path, tmp_path: Path) -> None:
    eio = inputs / "failing-disk.txt"  # reads fail with EIO, as on a failing disk
    eio.symlink_to("/proc/self/mem")
    lake = tmp_path / "lake"
    result = _akhbar(server_env, "run", str(inputs), "--lake", str(lake))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{eio}: fingerprint failed: OSError" in result.stderr

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

    run = _latest_run(lake)
    flow_run_id = UUID(str(run["flow_run_id"]))
    with _client(server_env) as client:  # type: ignore[attr-defined]
        flow_run = client.read_flow_run(flow_run_id)
        assert flow_run.state.is_completed()
        assert flow_run.name == f"ingest {inputs.name} → {lake.name}"
        assert flow_run.state.message == (
            "completed_with_warnings: 2 new files ingested, 0 already in the lake, 1 failed"
        )
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    states = {t.name: t.state.type.value for t in task_runs}
    stages = ["fingerprint", "decode", "segment", "normalize", "detect-language", "classify-topic", "extract-facts",
              "publish"]
    # One task run per stage for the whole batch (the readable files), one fingerprint for all inputs.
    assert states.pop("fingerprint 3 file(s)") == "COMPLETED"
    batch = f"batch 1 (2 files, {sum(p.stat().st_size for p in inputs.glob('*.txt') if p != eio) / 1e6:.1f} MB)"
    assert states == {f"{stage} {batch}": "COMPLETED" for stage in stages[1:]}

    by_key = {a.key: a for a in artifacts}
    segments = scan_dataset(lake, SEGMENTS).collect()
    summary = by_key["ingest-summary"].data
    assert f"| segments | {segments.height} |" in summary
    for topic, count in segments.group_by("topic").len().iter_rows():
        assert f"| {topic} | {count} |" in summary
    assert f"{eio}: fingerprint failed" in summary
    table = by_key["ingest-files"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert sorted(r["result"] for r in rows) == ["failed", "ingested", "ingested"]
    assert {f"dataset-{d.name}" for d in ALL_DATASETS} <= by_key.keys()
    assert by_key["dataset-segments"].data.endswith(f"({(lake.resolve() / 'segments').as_uri()})")
    assert by_key["ingest-progress"].data == 100.0


def test_served_schedule_ingests_only_new_files(server_env: dict[str, str], inputs: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (inputs / "second.txt").rename(tmp_path / "second.txt")  # arrives later
    serve = subprocess.Popen(
        [str(BIN / "akhbar"), "serve", "--inbox", str(inputs), "--lake", str(lake), "--interval", "5"],
        env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        runs = lambda: scan_dataset(lake, RUNS).collect() if (lake / "runs").is_dir() else pl.DataFrame()  # noqa: E731
        _wait_until(lambda: runs().height >= 1, 240, "the first scheduled run")
        first_docs = scan_dataset(lake, DOCUMENTS).collect()
        assert first_docs.get_column("source_path").to_list() == [str((inputs / "seed.txt").resolve())]
        (tmp_path / "second.txt").rename(inputs / "second.txt")
        _wait_until(lambda: runs().filter(pl.col("documents_written") > 0).height >= 2, 240, "a run with the new file")
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        serve.wait(timeout=60)
    documents = scan_dataset(lake, DOCUMENTS).collect()
    assert documents.height == 2
    assert documents.get_column("run_id").n_unique() == 2  # each file by its own run
    second_run = runs().filter(pl.col("run_id") == documents.filter(pl.col("source_path").str.ends_with("second.txt"))
                               ["run_id"][0]).row(0, named=True)
    assert second_run["documents_written"] == 1
    assert second_run["files_seen"] == 2  # the seed was seen and skipped
    assert scan_dataset(lake, SEGMENTS).collect().get_column("segment_id").is_unique().all()


def test_dask_cluster_writes_the_same_datasets(server_env: dict[str, str], inputs: Path, tmp_path: Path) -> None:
    threads = _akhbar(server_env, "run", str(inputs), "--lake", str(tmp_path / "threads"))
    dask = _akhbar(server_env, "run", str(inputs), "--lake", str(tmp_path / "dask"), "--runner", "dask")
    assert threads.returncode == dask.returncode == 0, dask.stdout + dask.stderr
    expected, actual = _lake_content(tmp_path / "threads"), _lake_content(tmp_path / "dask")
    for name in expected:
        assert_frame_equal(actual[name].drop("source_path", strict=False), expected[name].drop("source_path",
                                                                                              strict=False))
    assert expected["segments"].height > 0


def test_run_killed_midway_resumes_without_redoing_finished_files(
    server_env: dict[str, str], inputs: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    # One file per batch, so that the kill falls between the first batch's commit and the second's.
    env = server_env | {"AKHBAR_PAUSE_AT": "after-documents@1", "AKHBAR_PAUSE_SECONDS": "120",
                        "AKHBAR_BATCH_MAX_FILES": "1"}
    killed = subprocess.Popen(
        [str(BIN / "akhbar"), "run", str(inputs), "--lake", str(lake)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert killed.stderr is not None
    for line in killed.stderr:
        if "akhbar: paused at after-documents" in line:
            break
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    finished = scan_dataset(lake, DOCUMENTS).collect()
    assert finished.height == 1  # one file committed before the kill

    resumed = _akhbar(server_env | {"AKHBAR_BATCH_MAX_FILES": "1"}, "run", str(inputs), "--lake", str(lake))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    documents = scan_dataset(lake, DOCUMENTS).collect()
    assert documents.height == 2
    kept = documents.filter(pl.col("doc_id") == finished["doc_id"][0])
    assert kept["run_id"].to_list() == finished["run_id"].to_list()  # not redone
    run = _latest_run(lake)
    assert (run["documents_written"], run["files_seen"]) == (1, 2)
    segments = scan_dataset(lake, SEGMENTS).collect()
    assert segments.get_column("segment_id").is_unique().all()
    assert segments.height == documents.get_column("segment_lines").sum()
