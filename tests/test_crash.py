"""Crashes and concurrent runs: a killed ``akhbar run`` leaves a readable lake that the next run
repairs, and two runs on one lake take turns without corrupting or duplicating anything.

Kill points sit between the Delta commits of one batch (segments | articles + quarantine |
documents), after the last batch and between the run record and the compaction.

Every ``akhbar run`` here is a real process (``python -m akhbar.cli``) killed with SIGKILL while it
waits at a named pause point of ``akhbar/faults.py``. The processes report to the session's Prefect
test server (``PREFECT_API_URL``), so none of them pays for starting an embedded server, and the
kill points run in parallel, one lake each. Re-runs are in-process (typer's CliRunner): the code
that recovers is the same, and it is much faster.

The scenario is an incremental run: the lake already holds two files; then one of them changes
(its new content has an undecodable line) and ``akhbar run`` is started on both again, so the run
skips one file and replaces the other whole, writing segments, articles, quarantine, documents and
the run record — each of which a kill can interrupt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from akhbar import cli
from akhbar.analytics import open_lake
from akhbar.faults import CHECKPOINTS, PAUSE_AT_VARIABLE, PAUSE_SECONDS_VARIABLE
from akhbar.lake import (
    LOCK_FILE,
    PENDING_DIR,
    PER_DOCUMENT_DATASETS,
    STAGING_DIR,
    dataset_glob,
    ensure_lake,
    prepare_lake,
    scan_dataset,
)
from akhbar.lake_check import check_lake_invariants
from akhbar.runs import RunSummary, write_run_record
from schemas import ALL_DATASETS, ARTICLES, DOCUMENTS, QUARANTINE, RUNS, SEGMENTS, DatasetSchema

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Columns that differ between two runs of the same input by design.
RUN_COLUMNS = ("run_id", "processed_at", "ingested_at", "quarantined_at")
#: How long a subprocess may take to reach its pause point (Python and Prefect start-up included).
PAUSE_TIMEOUT_SECONDS = 180

STEADY = ["ارتفعت أسعار الذهب في الأسواق المحلية اليوم", "", "التقى وزير الخارجية نظيره الفرنسي في باريس"]
CHANGING_BEFORE = ["سجل المؤشر العام للبورصة ارتفاعا طفيفا", "وأغلقت الأسهم القيادية على مكاسب"]
CHANGING_AFTER = (
    "سجل المؤشر العام للبورصة تراجعا حادا\n".encode()
    + b"\xff\xfe broken \xc3\n"
    + "\n".join(["وأغلقت الأسهم القيادية على خسائر", "", "فاز المنتخب الوطني في مباراة الأمس"]).encode()
    + b"\n"
)
runner = CliRunner()
#: ``python -c`` program run as ``akhbar`` (the console script's own entry point).
AKHBAR_PROGRAM = "from akhbar.cli import app; app(prog_name='akhbar')"


# --- helpers ------------------------------------------------------------------------------------------


def _api_url() -> str:
    """The session's Prefect test server, for the subprocesses to report to."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the prefect_harness fixture sets PREFECT_API_URL"
    return str(url)


def _environment(prefect_home: Path, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AKHBAR_"))}
    environment.update(
        PREFECT_API_URL=_api_url(),
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        AKHBAR_LANGUAGE_WORKERS="1",  # no worker pool: the only process to kill is the one started
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return environment


@dataclass
class AkhbarProcess:
    """``akhbar run`` as a subprocess in its own session, its stderr read line by line."""

    process: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)
    paused: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, arguments: list[str], environment: dict[str, str], stdout: Path) -> AkhbarProcess:
        with stdout.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", AKHBAR_PROGRAM, "run", *arguments],
                env=environment,
                cwd=REPO_ROOT,
                stdout=output,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group: the kill reaches all it started
            )
        started = cls(process)
        threading.Thread(target=started._read_stderr, daemon=True).start()
        return started

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            if line.startswith("akhbar: paused at "):
                self.paused.set()

    def wait_paused(self, point: str) -> None:
        if not self.paused.wait(PAUSE_TIMEOUT_SECONDS):
            self.kill()
            raise AssertionError(f"never paused at {point}:\n{''.join(self.stderr[-40:])}")
        assert f"akhbar: paused at {point.split('@')[0]}\n" in self.stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _assert_readable(lake: Path) -> None:
    """Every table reads through its Delta log (polars) and as akhbar sql's DuckDB view, fully typed."""
    with open_lake(lake) as connection:
        for dataset in ALL_DATASETS:
            relation = connection.sql(f"SELECT * FROM {dataset.name}")
            assert relation.columns == dataset.column_names
            relation.fetchall()
    for dataset in ALL_DATASETS:
        scan_dataset(lake, dataset).collect()


def _plain_parquet_rows(lake: Path, dataset: DatasetSchema) -> int:
    """Rows a reader that only knows Parquet counts in the dataset folder."""
    if not list((lake / dataset.name).glob("*.parquet")):
        return 0
    return int(duckdb.sql(f"SELECT count(*) FROM read_parquet('{dataset_glob(lake, dataset)}')").fetchall()[0][0])


def _content(lake: Path, dataset: DatasetSchema) -> pl.DataFrame:
    """A dataset's rows without the per-run columns, in a stable order."""
    frame = scan_dataset(lake, dataset).collect().drop(RUN_COLUMNS, strict=False)
    keys = [name for name, dtype in frame.schema.items() if not dtype.is_nested()]
    return frame.sort(keys)


def _assert_same_lake(lake: Path, reference: Path) -> None:
    for dataset in ALL_DATASETS:
        if dataset is not RUNS:
            assert _content(lake, dataset).equals(_content(reference, dataset)), dataset.name


def _uncommitted(lake: Path) -> set[str]:
    """Datasets holding rows of documents without a ``documents`` row (until the next run recovers)."""
    committed = scan_dataset(lake, DOCUMENTS).select("doc_id")
    return {
        dataset.name
        for dataset in PER_DOCUMENT_DATASETS
        if scan_dataset(lake, dataset).select("doc_id").join(committed, on="doc_id", how="anti").collect().height
    }


def _cli_run(inputs: list[Path] | list[str], lake: Path, expected: tuple[int, ...]) -> int:
    """``akhbar run`` in-process; its exit code, which must be one of ``expected``."""
    result = runner.invoke(cli.app, ["run", *map(str, inputs), "--lake", str(lake)])
    assert result.exit_code in expected, result.output
    return result.exit_code


# --- the scenario ---------------------------------------------------------------------------------------


@dataclass
class Killed:
    """A lake whose ``akhbar run`` was killed at ``point``."""

    point: str
    lake: Path
    stderr: str
    returncode: int
    seconds: float


@dataclass
class Scenario:
    inputs: list[Path]
    before: Path  # the lake before the interrupted run
    reference: Path  # the lake after the same run, uninterrupted
    killed: dict[str, Killed]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("crash")
    inbox = root / "inbox"
    inbox.mkdir()
    steady, changing = inbox / "steady.txt", inbox / "changing.txt"
    steady.write_text("\n".join(STEADY) + "\n", encoding="utf-8")
    changing.write_text("\n".join(CHANGING_BEFORE) + "\n", encoding="utf-8")
    inputs = [steady, changing]
    before = root / "before"
    _cli_run(inputs, before, (cli.EXIT_OK,))
    changing.write_bytes(CHANGING_AFTER)
    reference = root / "reference"
    shutil.copytree(before, reference)
    _cli_run(inputs, reference, (cli.EXIT_WARNINGS,))  # the new content has a bad line

    processes: dict[str, tuple[AkhbarProcess, Path]] = {}
    try:
        for index, point in enumerate(CHECKPOINTS):
            lake = root / f"killed-{index}-{point}"
            shutil.copytree(before, lake)
            environment = _environment(
                root / f"prefect-{index}", **{PAUSE_AT_VARIABLE: point, PAUSE_SECONDS_VARIABLE: "600"}
            )
            arguments = [*map(str, inputs), "--lake", str(lake)]
            processes[point] = (AkhbarProcess.start(arguments, environment, root / f"stdout-{index}.txt"), lake)
        killed = {}
        for point, (process, lake) in processes.items():
            process.wait_paused(point)
            process.kill()
            killed[point] = Killed(
                point, lake, "".join(process.stderr), process.process.returncode, time.monotonic() - process.started
            )
    finally:
        for process, _ in processes.values():
            process.kill()
    yield Scenario(inputs=inputs, before=before, reference=reference, killed=killed)


# --- kills ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_killed_run_leaves_a_readable_lake(scenario: Scenario, point: str) -> None:
    killed = scenario.killed[point]
    assert killed.returncode == -signal.SIGKILL
    _assert_readable(killed.lake)
    # What the lake held of the unchanged file is all still there: a crash only ever adds or replaces.
    steady_id = scan_dataset(scenario.before, DOCUMENTS).filter(
        pl.col("source_path") == str(scenario.inputs[0].resolve())
    ).collect().get_column("doc_id").item()
    for dataset in PER_DOCUMENT_DATASETS:
        before = scan_dataset(scenario.before, dataset).filter(pl.col("doc_id") == steady_id).collect()
        after = scan_dataset(killed.lake, dataset).filter(pl.col("doc_id") == steady_id).collect()
        assert after.sort(after.columns[:3]).equals(before.sort(before.columns[:3])), dataset.name
    # The kill happened where it says: what is committed, and what is left uncommitted.
    documents = scan_dataset(killed.lake, DOCUMENTS).collect()
    new_id = hashlib.sha256(CHANGING_AFTER).hexdigest()
    committed = new_id in set(documents.get_column("doc_id"))
    assert committed is (point in ("after-documents", "before-run-record", "before-compact"))
    # The old content leaves in the same documents commit that adds the new one: never both rows.
    assert documents.height == 2
    assert _uncommitted(killed.lake) == {
        "after-segments": {SEGMENTS.name},
        "after-quarantine": {SEGMENTS.name, ARTICLES.name, QUARANTINE.name},
    }.get(point, set())
    # A batch cut short between its commits leaves its intent for the next run to complete.
    pending = list((killed.lake / PENDING_DIR).glob("*.json"))
    assert bool(pending) is (point in ("after-segments", "after-quarantine", "after-documents"))
    assert scan_dataset(killed.lake, RUNS).collect().height == (2 if point == "before-compact" else 1)


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_rerun_after_a_kill_converges_to_the_uninterrupted_lake(scenario: Scenario, point: str) -> None:
    killed = scenario.killed[point]
    lake = killed.lake.with_name(killed.lake.name + "-rerun")
    shutil.copytree(killed.lake, lake)
    _cli_run(scenario.inputs, lake, (cli.EXIT_OK, cli.EXIT_WARNINGS))
    _assert_readable(lake)
    assert _uncommitted(lake) == set()
    assert not list((lake / PENDING_DIR).glob("*.json"))
    _assert_same_lake(lake, scenario.reference)
    assert check_lake_invariants(lake) == []
    # After the run's vacuum, a reader that only knows Parquet counts what the table holds.
    for dataset in ALL_DATASETS:
        assert _plain_parquet_rows(lake, dataset) == scan_dataset(lake, dataset).collect().height, dataset.name


def test_rerun_removes_the_staging_left_by_a_killed_run(scenario: Scenario) -> None:
    killed = scenario.killed["after-segments"]
    lake = killed.lake.with_name(killed.lake.name + "-staging")
    shutil.copytree(killed.lake, lake)
    left = [p.name for p in (lake / STAGING_DIR).iterdir()]
    assert left, "the killed run had a staging folder"
    _cli_run(scenario.inputs, lake, (cli.EXIT_OK, cli.EXIT_WARNINGS))
    assert not [p for p in (lake / STAGING_DIR).iterdir() if p.name in left]


# --- concurrent runs -----------------------------------------------------------------------------------


def test_two_runs_on_one_lake_take_turns(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    texts = {
        "a.txt": ["ارتفعت أسعار الذهب اليوم", "وتراجع الدولار أمام اليورو"],
        "b.txt": ["التقى وزير الخارجية نظيره الفرنسي", "", "وبحثا العلاقات الثنائية"],
        "c.txt": ["فاز المنتخب الوطني على ضيفه", "في مباراة ودية"],
    }
    for name, lines in texts.items():
        (inbox / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    first_inputs = [str(inbox / "a.txt"), str(inbox / "b.txt")]
    second_inputs = [str(inbox / "b.txt"), str(inbox / "c.txt")]  # b.txt is in both
    lake = tmp_path / "lake"
    # The first run pauses for a few seconds while publishing, holding the lake's lock, so the
    # second one surely arrives while the first is writing.
    first = AkhbarProcess.start(
        [*first_inputs, "--lake", str(lake)],
        _environment(tmp_path / "prefect-1", **{PAUSE_AT_VARIABLE: "after-segments@1", PAUSE_SECONDS_VARIABLE: "10"}),
        tmp_path / "first.txt",
    )
    try:
        first.wait_paused("after-segments")
        second = AkhbarProcess.start(
            [*second_inputs, "--lake", str(lake)], _environment(tmp_path / "prefect-2"), tmp_path / "second.txt"
        )
        try:
            assert second.process.wait(timeout=PAUSE_TIMEOUT_SECONDS) == cli.EXIT_OK, "".join(second.stderr)
        finally:
            second.kill()
        assert first.process.wait(timeout=PAUSE_TIMEOUT_SECONDS) == cli.EXIT_OK, "".join(first.stderr)
    finally:
        first.kill()
    _assert_readable(lake)
    reference = tmp_path / "reference"
    _cli_run([str(inbox / name) for name in texts], reference, (cli.EXIT_OK,))
    _assert_same_lake(lake, reference)
    documents = scan_dataset(lake, DOCUMENTS).collect()
    assert sorted(documents.get_column("source_path")) == sorted(str((inbox / name).resolve()) for name in texts)
    runs = scan_dataset(lake, RUNS).collect().sort("started_at")
    assert runs.height == 2
    assert runs.get_column("started_at")[1] < runs.get_column("finished_at")[0]  # they did overlap
    assert (lake / LOCK_FILE).exists()
    assert check_lake_invariants(lake) == []


def test_a_run_record_being_written_survives_another_run_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    ensure_lake(lake)
    now = datetime.now(UTC)
    summary = RunSummary(
        run_id="live-run", flow_run_id=None, lake=str(lake), started_at=now, finished_at=now, taxonomy_version="t"
    )
    monkeypatch.setenv(PAUSE_AT_VARIABLE, "before-compact")
    monkeypatch.setenv(PAUSE_SECONDS_VARIABLE, "1")
    errors: list[BaseException] = []

    def finish_live_run() -> None:
        try:
            write_run_record(lake, summary)  # pauses with its row committed, the lake not yet vacuumed
        except BaseException as error:
            errors.append(error)

    writer = threading.Thread(target=finish_live_run)
    writer.start()
    time.sleep(0.3)
    monkeypatch.delenv(PAUSE_AT_VARIABLE)
    prepare_lake(lake)  # what the next run does first: it waits for the lock, then finds nothing to undo
    writer.join()
    assert errors == []
    assert scan_dataset(lake, RUNS).collect().get_column("run_id").to_list() == ["live-run"]
