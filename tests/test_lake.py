"""Lake I/O: the marker, Delta tables typed by schemas/, one-transaction replacement, compaction,
migration from the per-document layout, housekeeping that touches only akhbar's own names, locking."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from akhbar.analytics import open_lake
from akhbar.lake import (
    AUTO_COMPACT_FILES,
    MARKER_FILE,
    STAGING_DIR,
    LakeError,
    NotALakeError,
    auto_compact,
    commit_rows,
    data_file_count,
    dataset_dir,
    dataset_glob,
    ensure_lake,
    lake_lock,
    prepare_lake,
    scan_dataset,
    write_text_atomically,
)
from akhbar.lake_check import check_lake_invariants
from akhbar.migrate import migrate_lake
from schemas import ALL_DATASETS, DOCUMENTS, QUARANTINE, RUNS, SEGMENTS, SchemaViolation
from tests.rows import quarantine_rows

FORMAT_1_LAKE = Path(__file__).parent / "fixtures" / "lake-format-1"


def _version(lake: Path) -> int:
    return DeltaTable(str(dataset_dir(lake, QUARANTINE))).version()


def test_a_new_lake_has_a_marker_and_typed_empty_tables(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ensure_lake(lake)
    assert json.loads((lake / MARKER_FILE).read_text())["format"] >= 2
    with open_lake(lake) as connection:
        for dataset in ALL_DATASETS:
            relation = connection.sql(f"SELECT * FROM {dataset.name}")
            assert relation.columns == dataset.column_names
            assert relation.fetchall() == []


def test_tables_carry_the_declared_descriptions(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    commit_rows(tmp_path, QUARANTINE, [quarantine_rows(2)])
    declared = {c.name: c.description for c in QUARANTINE.columns}
    table = DeltaTable(str(dataset_dir(tmp_path, QUARANTINE)))
    assert {f.name: f.metadata["description"] for f in table.schema().fields} == declared
    assert table.metadata().description == QUARANTINE.row
    (data_file,) = dataset_dir(tmp_path, QUARANTINE).glob("*.parquet")
    schema = pq.read_schema(data_file)
    assert {f.name: f.metadata[b"description"].decode() for f in schema} == declared


def test_invalid_rows_commit_nothing(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    before = _version(tmp_path)
    with pytest.raises(SchemaViolation):
        commit_rows(tmp_path, QUARANTINE, [quarantine_rows(2), quarantine_rows(1).drop("detail")])
    assert _version(tmp_path) == before
    assert scan_dataset(tmp_path, QUARANTINE).collect().height == 0


def test_replacing_a_document_is_one_transaction_without_duplicates(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    commit_rows(tmp_path, QUARANTINE, [quarantine_rows(3, "a"), quarantine_rows(1, "b")])
    before = _version(tmp_path)
    commit_rows(tmp_path, QUARANTINE, [quarantine_rows(2, "a"), quarantine_rows(1, "c")], replacing={"a", "old"})
    assert _version(tmp_path) == before + 1
    counts = dict(scan_dataset(tmp_path, QUARANTINE).group_by("doc_id").len().collect().iter_rows())
    assert counts == {"a": 2, "b": 1, "c": 1}


def test_crowded_tables_are_compacted_and_folders_hold_only_live_files(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    for index in range(AUTO_COMPACT_FILES + 1):
        commit_rows(tmp_path, QUARANTINE, [quarantine_rows(2, f"doc-{index}")])
    assert data_file_count(tmp_path, QUARANTINE) == AUTO_COMPACT_FILES + 1
    commit_rows(tmp_path, QUARANTINE, [quarantine_rows(1, "doc-0")], replacing={"doc-0"})  # leaves a dead file
    auto_compact(tmp_path)
    assert data_file_count(tmp_path, QUARANTINE) == 1
    plain = duckdb.sql(f"SELECT count(*) FROM read_parquet('{dataset_glob(tmp_path, QUARANTINE)}')").fetchall()
    assert plain == [(scan_dataset(tmp_path, QUARANTINE).collect().height,)]


def test_a_folder_that_is_not_a_lake_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "draft.tmp").write_text("mine")
    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "my_analysis.parquet").write_bytes(b"mine")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(NotALakeError, match="not an akhbar lake"):
        prepare_lake(tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_file_is_not_a_lake(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    path.write_text("x")
    with pytest.raises(LakeError, match="is a file"):
        prepare_lake(path)


def test_housekeeping_tolerates_strangers_in_staging_and_keeps_user_temporaries(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    (tmp_path / STAGING_DIR).mkdir()
    (tmp_path / STAGING_DIR / "stray.txt").write_text("not a run folder")
    (tmp_path / STAGING_DIR / "someone-elses-folder").mkdir()
    (tmp_path / "notes.tmp").write_text("user file")
    (tmp_path / f"{MARKER_FILE}.123.tmp").write_text("ours, left by a crash")
    undone = prepare_lake(tmp_path)
    assert (tmp_path / STAGING_DIR / "stray.txt").exists()
    assert (tmp_path / STAGING_DIR / "someone-elses-folder").exists()
    assert (tmp_path / "notes.tmp").exists()
    assert not (tmp_path / f"{MARKER_FILE}.123.tmp").exists()
    assert len(undone) == 1


def _format_1_rows(name: str) -> pl.DataFrame:
    files = [p for p in (FORMAT_1_LAKE / name).glob("*.parquet") if p.name != "_schema.parquet"]
    return pl.concat([pl.read_parquet(p) for p in files], how="diagonal_relaxed")


def test_a_format_1_lake_migrates_without_losing_or_duplicating_rows(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(FORMAT_1_LAKE, lake)
    results = {result.dataset: result for result in migrate_lake(lake)}
    for dataset in ALL_DATASETS:
        old = _format_1_rows(dataset.name)
        new = scan_dataset(lake, dataset).collect()
        assert results[dataset.name].rows_found == old.height == results[dataset.name].rows_written
        assert new.height == old.height, dataset.name
        common = [c for c in old.columns if not old.schema[c].is_nested()]
        assert new.select(common).cast(old.select(common).schema).sort(common).equals(old.select(common).sort(common))
    assert scan_dataset(lake, SEGMENTS).collect().get_column("segment_id").is_unique().all()
    documents = scan_dataset(lake, DOCUMENTS).collect()
    assert documents.get_column("source_paths").to_list() == [[p] for p in documents.get_column("source_path")]
    assert check_lake_invariants(lake) == []


def test_the_first_run_on_a_format_1_lake_migrates_it(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(FORMAT_1_LAKE, lake)
    prepare_lake(lake)
    assert (lake / MARKER_FILE).exists()
    assert scan_dataset(lake, RUNS).collect().height == _format_1_rows("runs").height
    assert not (lake / "_migrating").exists()


#: A process that holds the lake lock for half a second.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from akhbar.lake import lake_lock
with lake_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(0.5)
"""


def test_lock_makes_a_second_thread_wait_without_warning(tmp_path: Path) -> None:
    events: list[str] = []
    waits: list[str] = []

    def second() -> None:
        with lake_lock(tmp_path, on_wait=waits.append):
            events.append("second")

    with lake_lock(tmp_path):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        events.append("first")
    thread.join(timeout=5)
    assert events == ["first", "second"]
    assert waits == []  # the tasks of one run wait for each other silently


def test_lock_makes_another_process_wait_and_says_so(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waits: list[str] = []
        started = time.monotonic()
        with lake_lock(tmp_path, on_wait=waits.append):
            waited = time.monotonic() - started
    finally:
        holder.wait(timeout=10)
    assert waits and "another akhbar run" in waits[0] and str(tmp_path) in waits[0]
    assert waited > 0.1


def test_a_page_written_aside_leaves_the_old_one_whole_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "report.html"
    page.write_text("old page")

    def disk_full(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("akhbar.lake.os.replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomically(page, "new page")
    assert page.read_text() == "old page"
