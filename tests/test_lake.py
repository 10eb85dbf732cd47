"""Lake I/O: atomic files, schema files, replacement, locking."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from akhbar.lake import (
    AtomicParquetWriter,
    dataset_file,
    dataset_glob,
    ensure_lake,
    lake_lock,
    scan_dataset,
    write_dataset_file,
)
from schemas import ALL_DATASETS, QUARANTINE, SchemaViolation


def _rows(count: int, doc_id: str = "d") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "doc_id": [doc_id] * count,
            "line_no": list(range(1, count + 1)),
            "reason": ["invalid_encoding"] * count,
            "detail": ["bad byte"] * count,
            "raw": [b"\xff"] * count,
            "run_id": ["r"] * count,
            "quarantined_at": pl.Series([datetime(2025, 8, 1, tzinfo=UTC)] * count, dtype=pl.Datetime("us", "UTC")),
        }
    )


def test_empty_lake_datasets_read_in_duckdb_with_types(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    for dataset in ALL_DATASETS:
        relation = duckdb.sql(
            f"SELECT * FROM read_parquet('{dataset_glob(tmp_path, dataset)}', hive_partitioning = true)"
        )
        assert relation.columns == dataset.column_names
        assert relation.fetchall() == []


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = dataset_file(tmp_path, QUARANTINE, "doc")
    with pytest.raises(SchemaViolation), AtomicParquetWriter(target, QUARANTINE) as writer:
        writer.write(_rows(2))
        writer.write(_rows(1).drop("detail"))
    assert list(tmp_path.rglob("*")) == [target.parent]


def test_rewrite_replaces_whole_file(tmp_path: Path) -> None:
    write_dataset_file(tmp_path, QUARANTINE, "doc", _rows(3))
    write_dataset_file(tmp_path, QUARANTINE, "doc", _rows(2))
    assert scan_dataset(tmp_path, QUARANTINE).collect().height == 2


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
