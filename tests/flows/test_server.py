"""Against a real Prefect server: what the UI shows, served schedules, Dask, resuming after a kill.

One `prefect server start` (SQLite in a temporary PREFECT_HOME, loopback port) serves the module;
`akhbar` runs as a subprocess with PREFECT_API_URL pointing at it, as a user's would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.assets import dataset_asset_key
from akhbar.lake import open_table, scan_dataset
from akhbar.review import LOW_REASON, SNIPPET_CHARS, artifact_rows, lake_frames, review_queue, topic_samples
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
    # The UI asks this server, not the default port 4200 (`--port` does not change what the UI calls).
    env["PREFECT_UI_API_URL"] = f"http://127.0.0.1:{port}/api"
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
    written = [d.name for d in ALL_DATASETS if d is not RUNS and run[f"{d.name}_written"]]
    assert states.pop(f"materialize {len(written) + 1} dataset(s)") == "COMPLETED"  # and the runs row
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


# --- the data in the UI: topic samples, the review queue, datasets as assets, a triggered deployment --

REPO_ROOT = Path(__file__).resolve().parents[2]
SECOND_FILE = (
    "ارتفع سعر الذهب عيار 21 في الأسواق المصرية اليوم\n\nفاز الأهلي على الزمالك في الدوري الممتاز\n"
)
#: A match with no football terms but "the match": other, on weak evidence — a line to review.
WEAK_LINE = "تأجلت المباراة بسبب الأمطار الغزيرة"
MATERIALIZED = "prefect.asset.materialization.succeeded"


@dataclass(frozen=True)
class UiRun:
    """One `akhbar run` into <project>/data/lake, with the report deployment of prefect.yaml deployed."""

    env: dict[str, str]
    lake: Path
    run: dict[str, object]
    flow_run_id: UUID


def _prefect(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def ui_run(server_env: dict[str, str], seed_file: Path, tmp_path_factory: pytest.TempPathFactory) -> UiRun:
    """The seed and a second file ingested once, after `prefect deploy` of the report deployment."""
    project = tmp_path_factory.mktemp("project")
    inbox = project / "inbox"
    inbox.mkdir()
    shutil.copy(seed_file, inbox / "seed.txt")
    (inbox / "second.txt").write_text(SECOND_FILE, encoding="utf-8")
    (inbox / "weak.txt").write_text(WEAK_LINE + "\n", encoding="utf-8")
    # As a user deploys it, from the repository root; its trigger names $PWD/data/lake/segments.
    env = server_env | {"PWD": str(project)}
    _prefect(env, "work-pool", "create", "akhbar", "--type", "process")
    _prefect(env, "--no-prompt", "deploy", "--name", "akhbar-report")
    lake = project / "data" / "lake"
    result = _akhbar(env, "run", str(inbox), "--lake", str(lake))
    assert result.returncode == 0, result.stdout + result.stderr
    run = _latest_run(lake)
    return UiRun(env, lake, run, UUID(str(run["flow_run_id"])))


def _artifact(env: dict[str, str], flow_run_id: UUID, key: str) -> Any:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with _client(env) as client:  # type: ignore[attr-defined]
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), key=ArtifactFilterKey(any_=[key])
            )
        )
    return artifact


def _rows(artifact: Any) -> list[dict[str, object]]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else list(artifact.data)


def test_ui_shows_topic_samples_and_review_queue(ui_run: UiRun) -> None:
    segments, documents = lake_frames(ui_run.lake, str(ui_run.run["run_id"]))
    samples = _rows(_artifact(ui_run.env, ui_run.flow_run_id, "topic-samples"))
    assert samples == artifact_rows(topic_samples(segments, documents))
    run_segments = segments.collect()
    assert {row["topic"] for row in samples} == set(run_segments.get_column("topic").to_list())
    texts = dict(run_segments.select("segment_id", "text").iter_rows())
    sources = {str(p) for p in scan_dataset(ui_run.lake, DOCUMENTS).collect().get_column("source_path")}
    for row in samples:
        full = texts[str(row["segment_id"])]
        assert full.startswith(str(row["text"]).removesuffix("…"))
        assert len(str(row["text"])) <= SNIPPET_CHARS + 1
        assert row["source_path"] in sources
    queue = _rows(_artifact(ui_run.env, ui_run.flow_run_id, "review-queue"))
    assert queue == artifact_rows(review_queue(segments, documents))
    weak = [row for row in queue if row["text"] == WEAK_LINE]
    assert [(row["reason"], row["topic"], row["source_path"], row["line_no"]) for row in weak] == [
        (LOW_REASON, "other", str(ui_run.lake.parent.parent / "inbox" / "weak.txt"), 1)
    ]
    for row in queue:
        if "close call" in str(row["reason"]):
            assert row["top_score"] is not None and row["second_score"] is not None  # both scores shown


def _materializations(env: dict[str, str], keys: list[str]) -> list[Any]:
    """The materialization events of these asset keys, once all of them are stored."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    found: list[Any] = []

    def stored() -> bool:
        nonlocal found
        event_filter = EventFilter(event=EventNameFilter(name=[MATERIALIZED]), resource=EventResourceFilter(id=keys))
        with _client(env) as client:  # type: ignore[attr-defined]
            found = client.read_events(filter=event_filter, limit=50).events
        return {e.resource.id for e in found} == set(keys)

    _wait_until(stored, 60, "the asset materialization events")
    return found


def test_datasets_are_materialized_assets_with_row_counts_and_version(ui_run: UiRun) -> None:
    written = {d.name: int(ui_run.run[f"{d.name}_written"]) for d in ALL_DATASETS if d is not RUNS}  # type: ignore[call-overload]
    written[RUNS.name] = 1
    datasets = [d for d in ALL_DATASETS if written[d.name]]
    keys = [dataset_asset_key(ui_run.lake, d) for d in datasets]
    assert keys[0] == f"file://{ui_run.lake.resolve() / 'segments'}"
    events = {e.resource.id: e for e in _materializations(ui_run.env, keys)}
    for dataset, key in zip(datasets, keys, strict=True):
        event = events[key]
        assert event.resource.get("prefect.resource.name") == dataset.name
        assert event.payload == {
            "dataset": dataset.name,
            "table_version": open_table(ui_run.lake, dataset).version(),
            "rows": scan_dataset(ui_run.lake, dataset).collect().height,
            "rows_written": written[dataset.name],
            "schema_version": dataset.version,
            "run_id": ui_run.run["run_id"],
        }
        assert {"prefect.resource.id": "akhbar", "prefect.resource.role": "asset-materialized-by"} in [
            dict(r.root) for r in event.related
        ]


def test_segments_materialization_triggers_the_report_deployment(ui_run: UiRun, tmp_path: Path) -> None:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with _client(ui_run.env) as client:  # type: ignore[attr-defined]
        deployment = client.read_deployment_by_name("report/akhbar-report")
        (automation,) = client.read_automations_by_name(f"{deployment.name}__automation_1")
    trigger = automation.trigger
    assert trigger.expect == {MATERIALIZED}
    segments_key = dataset_asset_key(ui_run.lake, SEGMENTS)
    assert dict(trigger.match.root) == {"prefect.resource.id": segments_key}  # the key the run emitted
    _materializations(ui_run.env, [segments_key])
    flow_runs: list[Any] = []

    def triggered() -> bool:
        nonlocal flow_runs
        with _client(ui_run.env) as client:  # type: ignore[attr-defined]
            flow_runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            )
        return bool(flow_runs)

    _wait_until(triggered, 120, "a flow run of the report deployment")
    assert len(flow_runs) == 1  # one run materialized segments once
    assert flow_runs[0].parameters == {"lake": "data/lake", "out": "data/site/report.html"}
    # What that run does (no worker here to pick it up): the report of the lake.
    from flows.report import rebuild_report

    out = tmp_path / "site" / "report.html"
    assert rebuild_report.fn(str(ui_run.lake), str(out)) == str(out)
    assert "<h1>akhbar lake report</h1>" in out.read_text(encoding="utf-8")


# --- end to end: the Prefect UI as a person sees it, in headless Chromium --------------------------

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SCREENSHOTS = REPO_ROOT / "data"
#: Finds the text node holding `text` and reports where its characters are drawn and its direction.
LAYOUT_SCRIPT = """
((text, firstWord) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode()) && !node.data.includes(text)) {}
  if (!node) return null;
  const start = node.data.indexOf(text);
  const box = (from, to) => {
    const range = document.createRange();
    range.setStart(node, start + from);
    range.setEnd(node, start + to);
    const r = range.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, width: r.width};
  };
  const second = text.indexOf(" ", firstWord.length + 1);
  return {
    firstLetter: box(0, 1),
    lastLetter: box(firstWord.length - 1, firstWord.length),
    firstWord: box(0, firstWord.length),
    secondWord: box(firstWord.length + 1, second < 0 ? text.length : second),
    direction: getComputedStyle(node.parentElement).direction,
  };
})
"""


class Page:
    """One headless Chromium tab driven over the DevTools protocol (a websocket, no extra packages)."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._socket = connect(url, max_size=None, open_timeout=30)
        self._next = 0
        for domain in ("Page", "Runtime", "DOM", "CSS"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params: object) -> dict[str, Any]:
        self._next += 1
        self._socket.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == self._next:
                assert "error" not in message, message
                return dict(message["result"])

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def open(self, url: str, shows: str) -> None:
        """Navigate and wait until the page's text contains ``shows`` (the UI renders client-side)."""
        self.call("Page.navigate", url=url)
        check = f"!!document.body && document.body.innerText.includes({json.dumps(shows)})"
        try:
            _wait_until(lambda: self.evaluate(check), 90, f"{url} to show {shows!r}")
        except AssertionError as error:
            shown = self.evaluate("document.location.href + '\\n' + (document.body ? document.body.innerText : '')")
            raise AssertionError(f"{error}; the page shows: {str(shown)[:2000]}") from None

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def fonts_of(self, text: str) -> dict[str, int]:
        """Glyphs drawn per platform font in the element whose text node is ``text``."""
        find = (
            "(() => { const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); let node;"
            f" while ((node = walker.nextNode()) && node.data.trim() !== {json.dumps(text)}) {{}}"
            " return node ? node.parentElement : null; })()"
        )
        found = self.call("Runtime.evaluate", expression=find)["result"]
        assert "objectId" in found, f"no element shows {text!r}"
        self.call("DOM.getDocument", depth=0)
        node = self.call("DOM.requestNode", objectId=found["objectId"])["nodeId"]
        fonts = self.call("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
        return {font["familyName"]: font["glyphCount"] for font in fonts}

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def chromium_page(tmp_path: Path) -> Iterator[Page]:
    """A headless Chromium with one blank tab, driven over its DevTools websocket."""
    assert CHROMIUM is not None
    port = _free_port()
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", f"--remote-debugging-port={port}",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    targets: list[dict[str, str]] = []

    def listening() -> bool:
        nonlocal targets
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                targets = [t for t in json.load(response) if t.get("type") == "page"]
        except OSError:
            return False
        return bool(targets)

    try:
        _wait_until(listening, 60, "Chromium's DevTools endpoint")
        page = Page(targets[0]["webSocketDebuggerUrl"])
        yield page
        page.close()
    finally:
        os.killpg(browser.pid, signal.SIGTERM)
        browser.wait(timeout=30)


def _arabic_font_families() -> set[str]:
    """Font families installed that have Arabic letters (fontconfig's view, which Chromium uses)."""
    listed = subprocess.run(["fc-list", ":charset=0627 0644", "family"], capture_output=True, text=True, check=True)
    return {family for line in listed.stdout.splitlines() for family in line.split(",") if family}


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_prefect_ui_renders_the_arabic_samples(ui_run: UiRun, chromium_page: Page) -> None:
    from PIL import Image

    ui = ui_run.env["PREFECT_API_URL"].removesuffix("/api")
    SCREENSHOTS.mkdir(exist_ok=True)
    with _client(ui_run.env) as client:  # type: ignore[attr-defined]
        flow_run = client.read_flow_run(ui_run.flow_run_id)
    # Its logs are loaded once the run's last line shows.
    last_log = f"run {ui_run.run['run_id']} finished"
    chromium_page.open(f"{ui}/runs/flow-run/{ui_run.flow_run_id}", shows=last_log)
    assert flow_run.name in chromium_page.evaluate("document.body.innerText")
    chromium_page.screenshot(SCREENSHOTS / "ui-flow-run.png")

    artifact = _artifact(ui_run.env, ui_run.flow_run_id, "topic-samples")
    text = WEAK_LINE  # letters and spaces only: every glyph must come from a font with Arabic letters
    assert text in [row["text"] for row in _rows(artifact)]
    chromium_page.open(f"{ui}/artifacts/artifact/{artifact.id}", shows=text)
    shot = SCREENSHOTS / "ui-topic-samples.png"
    chromium_page.screenshot(shot)
    with Image.open(shot) as image:
        assert image.size == (1400, 1000)
        assert len({color for _, color in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}) > 50

    # No tofu: every letter of the cell is drawn by a font that has Arabic letters; a font without
    # them (the UI's Latin web font) may draw the spaces only — a missing letter would be one more.
    assert re.fullmatch(r"[\u0621-\u064a ]+", text)
    fonts = chromium_page.fonts_of(text)
    arabic = _arabic_font_families()
    assert sum(n for family, n in fonts.items() if family in arabic) > 0, fonts
    assert sum(n for family, n in fonts.items() if family not in arabic) <= text.count(" "), fonts
    # Right to left: a word's first letter is drawn right of its last, the first word right of the second.
    first_word = text.split(" ")[0]
    layout = chromium_page.evaluate(f"({LAYOUT_SCRIPT})({json.dumps(text)}, {json.dumps(first_word)})")
    assert layout is not None, "the sample's text is not in the page"
    assert layout["firstLetter"]["left"] > layout["lastLetter"]["left"], layout
    assert layout["firstWord"]["top"] == layout["secondWord"]["top"], layout  # one short line
    assert layout["firstWord"]["left"] > layout["secondWord"]["right"] - 1, layout
