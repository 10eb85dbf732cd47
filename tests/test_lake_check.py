"""`akhbar lake check` names what is broken; `akhbar lake repair` makes the next run re-ingest it;
a damaged file stops a run before it starts, with one line naming it, and never breaks queries on
other tables."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from akhbar.analytics import open_lake
from akhbar.cli import app
from akhbar.lake import LakeError, prepare_lake, scan_dataset
from akhbar.lake_check import check_lake_invariants, live_files, repair_lake
from akhbar.pipeline import ingest_paths
from schemas import DOCUMENTS, SEGMENTS

GOLD = "ارتفعت أسعار الذهب في الأسواق المحلية اليوم"
FOOTBALL = "فاز المنتخب الوطني على ضيفه في مباراة ودية"


def _lake(root: Path) -> tuple[Path, list[Path]]:
    """Two files ingested in two runs (so that each table has one data file per file)."""
    inbox = root / "inbox"
    inbox.mkdir()
    sources = [inbox / "gold.txt", inbox / "football.txt"]
    sources[0].write_text(GOLD + "\n", encoding="utf-8")
    sources[1].write_text(FOOTBALL + "\n\n" + GOLD + "…\n", encoding="utf-8")
    lake = root / "lake"
    for index, source in enumerate(sources):
        ingest_paths([source], lake, f"run-{index}", root / "work")
    return lake, sources


def _damage(lake: Path, dataset_name: str, how: str) -> Path:
    """Replace one live file of a table with garbage, or cut it in half."""
    dataset = SEGMENTS if dataset_name == "segments" else DOCUMENTS
    path = sorted(live_files(lake, dataset))[0]
    data = path.read_bytes()
    path.write_bytes(b"not parquet at all" if how == "garbage" else data[: len(data) // 2])
    return path


def test_a_healthy_lake_checks_clean(tmp_path: Path) -> None:
    lake, _ = _lake(tmp_path)
    assert check_lake_invariants(lake) == []
    result = CliRunner().invoke(app, ["lake", "check", "--lake", str(lake)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("dataset", "how"), [("documents", "garbage"), ("segments", "truncated")])
def test_check_names_a_damaged_file_and_repair_lets_the_next_run_reingest(
    tmp_path: Path, dataset: str, how: str
) -> None:
    lake, sources = _lake(tmp_path)
    expected = scan_dataset(lake, SEGMENTS).collect().drop("run_id", "processed_at").sort("segment_id")
    damaged = _damage(lake, dataset, how)
    result = CliRunner().invoke(app, ["lake", "check", "--lake", str(lake)])
    assert result.exit_code == 1
    assert f"{dataset}: damaged data file {damaged}" in result.stderr
    # A run refuses to start on it, with one line naming the file (not a traceback mid-run).
    with pytest.raises(LakeError, match=f"damaged data files: {dataset} file {damaged}"):
        prepare_lake(lake)
    repaired = repair_lake(lake)
    assert [d.path for d in repaired.damaged] == [str(damaged)]
    assert repaired.removed_documents  # the documents the file held are no longer committed
    assert check_lake_invariants(lake) == []
    ingest_paths(sources, lake, "run-again", tmp_path / "work")
    assert check_lake_invariants(lake) == []
    after = scan_dataset(lake, SEGMENTS).collect().drop("run_id", "processed_at").sort("segment_id")
    assert after.equals(expected)


def test_queries_on_other_tables_survive_a_damaged_file(tmp_path: Path) -> None:
    lake, _ = _lake(tmp_path)
    _damage(lake, "segments", "garbage")
    with open_lake(lake) as connection:
        assert connection.sql("SELECT count(*) FROM documents").fetchall() == [(2,)]
    documents = scan_dataset(lake, DOCUMENTS).select(pl.len()).collect().item()
    assert documents == 2


def test_a_run_refuses_a_damaged_lake_before_prefect_starts(tmp_path: Path) -> None:
    lake, sources = _lake(tmp_path)
    damaged = _damage(lake, "documents", "garbage")
    result = CliRunner().invoke(app, ["run", str(sources[0]), "--lake", str(lake)])
    assert result.exit_code == 2
    assert str(damaged) in result.stderr and "akhbar lake repair" in result.stderr
    assert "Traceback" not in result.output
