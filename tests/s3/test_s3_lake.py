"""A lake on S3-compatible object storage (a real SeaweedFS): runs, incremental re-runs, the lake
commands, concurrent writers, the lock, and secrets kept out of everything akhbar writes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from akhbar.analytics import open_lake, run_query
from akhbar.lake import (
    LOCK_FILE,
    MARKER_FILE,
    STAGING_DIR,
    commit_rows,
    ensure_lake,
    lake_lock,
    open_table,
    optimize_lake,
    prepare_lake,
    run_staging,
    scan_dataset,
)
from akhbar.lake_check import check_lake_invariants
from akhbar.pipeline import ingest_paths
from akhbar.storage import S3Path, parse_location
from schemas import DOCUMENTS, QUARANTINE, SEGMENTS
from tests.rows import quarantine_rows
from tests.s3.conftest import SECRET_KEY, S3Server

TEXT_A = "عاجل: الحكومة تعلن خطة اقتصادية جديدة لدعم الصادرات بقيمة 3 مليارات دولار\nخبر رياضي عن المنتخب الوطني\n"
TEXT_B = "وزير الصحة يفتتح مستشفى جديداً في القاهرة\n\nارتفاع أسعار النفط في الأسواق العالمية\n"


def _inputs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    a, b = folder / "a.txt", folder / "b.txt"
    a.write_text(TEXT_A, encoding="utf-8")
    b.write_text(TEXT_B, encoding="utf-8")
    return [a, b]


def _lake(prefix: str) -> S3Path:
    lake = parse_location(prefix)
    assert isinstance(lake, S3Path)
    return lake


def test_library_ingest_into_an_s3_lake(s3_prefix: str, tmp_path: Path) -> None:
    lake = _lake(s3_prefix)
    sources = _inputs(tmp_path / "in")
    results, failures = ingest_paths(sources, lake, "run-1", tmp_path / "work")
    assert not failures and len(results) == 1
    assert (lake / MARKER_FILE).is_file()
    documents = scan_dataset(lake, DOCUMENTS).collect()
    assert sorted(Path(p).name for p in documents.get_column("source_path")) == ["a.txt", "b.txt"]
    segments = scan_dataset(lake, SEGMENTS).collect().height
    assert segments == 4
    # Incremental: nothing new; a changed file replaces its document's rows.
    results, _ = ingest_paths(sources, lake, "run-2", tmp_path / "work")
    assert sum(len(r.documents) for r in results) == 0
    sources[1].write_text(TEXT_B + "خبر ثالث عن الطقس\n", encoding="utf-8")
    results, _ = ingest_paths(sources, lake, "run-3", tmp_path / "work")
    assert sum(len(r.documents) for r in results) == 1
    assert scan_dataset(lake, DOCUMENTS).collect().height == 2
    assert scan_dataset(lake, SEGMENTS).collect().height == 5
    assert check_lake_invariants(lake) == []
    # The DuckDB read contract, read-only sandbox included.
    with open_lake(lake) as connection:
        relation = run_query(connection, "SELECT count(*) FROM segments")
        assert relation is not None and relation.fetchall() == [(5,)]
    results_after = optimize_lake(lake)
    assert all(r.files_after <= 1 for r in results_after)
    assert scan_dataset(lake, SEGMENTS).collect().height == 5
    assert check_lake_invariants(lake) == []


def test_concurrent_writers_lose_no_commit(s3_prefix: str) -> None:
    """Conditional put: writers appending to one table at once all land, each in its own version.

    No lake lock here on purpose: this is delta-rs's commit protocol alone on SeaweedFS.
    """
    lake = _lake(s3_prefix)
    ensure_lake(lake, (QUARANTINE,))
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            for repeat in range(3):
                commit_rows(lake, QUARANTINE, [quarantine_rows(2, f"w{number}-{repeat}")])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert scan_dataset(lake, QUARANTINE).collect().height == 24
    assert open_table(lake, QUARANTINE).version() == 12  # the create, then one version per commit


def test_the_lock_object_orders_holders(s3_prefix: str) -> None:
    lake = _lake(s3_prefix)
    order: list[str] = []
    waits: list[str] = []
    entered = threading.Event()

    def second() -> None:
        entered.wait()
        with lake_lock(lake, on_wait=waits.append):
            order.append("second")

    thread = threading.Thread(target=second)
    with lake_lock(lake):
        assert (lake / LOCK_FILE).is_file()
        thread.start()
        entered.set()
        thread.join(timeout=1.5)
        order.append("first")
    thread.join(timeout=30)
    assert order == ["first", "second"]
    assert not (lake / LOCK_FILE).is_file()


def test_two_holders_of_the_lock_object_take_turns(s3_prefix: str) -> None:
    """The object lock itself (as two processes meet it; in one process a thread lock comes first)."""
    from akhbar.lake import _s3_lock

    lock = _lake(s3_prefix) / LOCK_FILE
    inside: list[str] = []
    waits: list[str] = []
    first_in = threading.Event()

    def holder(name: str) -> None:
        with _s3_lock(lock, waits.append):
            inside.append(f"{name} in")
            first_in.set()
            time.sleep(1.0)
            inside.append(f"{name} out")

    first = threading.Thread(target=holder, args=("a",))
    first.start()
    first_in.wait(30)
    second = threading.Thread(target=holder, args=("b",))
    second.start()
    first.join(30)
    second.join(30)
    assert inside == ["a in", "a out", "b in", "b out"]  # never both inside
    assert waits and "another akhbar run is writing" in waits[0]
    assert not lock.is_file()


def test_a_lock_nobody_refreshes_is_taken_over(s3_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import akhbar.lake

    lake = _lake(s3_prefix)
    (lake / LOCK_FILE).write_text('{"owner": "a killed run"}')
    monkeypatch.setattr(akhbar.lake, "S3_LOCK_LEASE_SECONDS", 1.0)
    with lake_lock(lake):
        assert "killed" not in (lake / LOCK_FILE).read_text()


def test_secrets_never_written(s3_env: S3Server, s3_prefix: str, tmp_path: Path) -> None:
    lake = _lake(s3_prefix)
    ingest_paths(_inputs(tmp_path / "in"), lake, "run-1", tmp_path / "work")
    for path, _ in lake.walk_objects():
        assert SECRET_KEY.encode() not in path.read_bytes(), path


def test_the_server_stopped_mid_run(
    s3_env: S3Server, s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run fails with an error naming the store, the lake stays readable, a re-run converges."""
    import akhbar.lake
    import akhbar.publish

    monkeypatch.setattr(akhbar.lake, "S3_LOCK_LEASE_SECONDS", 2.0)  # the dead run's lock expires fast
    lake = _lake(s3_prefix)
    sources = _inputs(tmp_path / "in")
    real_checkpoint = akhbar.publish.checkpoint

    def stop_the_server(name: str) -> None:
        if name == "after-segments":
            s3_env.stop()
        real_checkpoint(name)

    monkeypatch.setattr(akhbar.publish, "checkpoint", stop_the_server)
    with pytest.raises(Exception, match=r"127\.0\.0\.1|connect|error sending request|Generic S3 error") as failed:
        ingest_paths(sources, lake, "run-1", tmp_path / "work")
    print(f"the run failed with: {failed.value!r}")
    assert SECRET_KEY not in str(failed.value)
    monkeypatch.setattr(akhbar.publish, "checkpoint", real_checkpoint)
    s3_env.start()
    # Readable: the segments commit landed, the documents commit never did.
    assert scan_dataset(lake, DOCUMENTS).collect().height == 0
    problems = check_lake_invariants(lake)
    assert any("interrupted batch" in p for p in problems), problems
    results, failures = ingest_paths(sources, lake, "run-2", tmp_path / "work")
    assert not failures and sum(len(r.documents) for r in results) == 2
    assert check_lake_invariants(lake) == []
    assert scan_dataset(lake, SEGMENTS).collect().height == 4


def test_staging_of_an_s3_lake(s3_prefix: str) -> None:
    """Shared (Dask): under the lake's _staging/<run>/ prefix; threads only: a local folder. Both removed."""
    lake = _lake(s3_prefix)
    with run_staging(lake, "run-a") as shared:
        assert shared == lake / STAGING_DIR / "run-a"
        (shared / "batch-00001" / "lines.arrow").write_bytes(b"x")
    assert not (lake / STAGING_DIR).is_dir()
    with run_staging(lake, "run-b", shared=False) as local:
        assert isinstance(local, Path) and local.is_dir()
    assert not local.exists()


def test_a_damaged_object_is_named_repaired_and_reingested(s3_prefix: str, tmp_path: Path) -> None:
    from akhbar.commands.preflight import lake_problem
    from akhbar.lake_check import live_files, repair_lake

    lake = _lake(s3_prefix)
    sources = _inputs(tmp_path / "in")
    ingest_paths(sources, lake, "run-1", tmp_path / "work")
    [damaged] = live_files(lake, SEGMENTS)
    assert isinstance(damaged, S3Path)
    damaged.write_bytes(b"not parquet at all")
    assert f"segments: damaged data file {damaged}" in "\n".join(check_lake_invariants(lake))
    problem = lake_problem(lake)
    assert problem is not None and f"segments file {damaged}" in problem
    repaired = repair_lake(lake)
    assert [d.path for d in repaired.damaged] == [str(damaged)]
    assert lake_problem(lake) is None
    results, failures = ingest_paths(sources, lake, "run-2", tmp_path / "work")
    assert not failures and sum(len(r.documents) for r in results) == 2  # re-ingested
    assert check_lake_invariants(lake) == []
    assert scan_dataset(lake, SEGMENTS).collect().height == 4


def test_a_dead_runs_staging_prefix_is_removed_once_stale(
    s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import akhbar.lake

    lake = _lake(s3_prefix)
    ingest_paths(_inputs(tmp_path / "in"), lake, "run-1", tmp_path / "work")
    (lake / STAGING_DIR / "dead-run" / "batch-00001" / "lines.arrow").write_bytes(b"x")
    prepare_lake(lake)
    assert (lake / STAGING_DIR / "dead-run").is_dir()  # recent: it may belong to a live run
    monkeypatch.setattr(akhbar.lake, "STALE_STAGING_SECONDS", 0.0)
    assert any("dead-run" in line for line in prepare_lake(lake))
    assert not (lake / STAGING_DIR).is_dir()
