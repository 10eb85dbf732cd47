"""Content is tracked with every path that holds it: a changed file replaces its old content only
when no other path still holds that content; identical content at two paths is stored once."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from akhbar.lake import scan_dataset
from akhbar.lake_check import check_lake_invariants
from akhbar.pipeline import ingest_paths
from schemas import DOCUMENTS, SEGMENTS

FIRST = "التقى وزير الخارجية نظيره الفرنسي في باريس\n"
SECOND = "ارتفعت أسعار الذهب في الأسواق المحلية اليوم\n"
THIRD = "فاز المنتخب الوطني على ضيفه في مباراة ودية\n"


def _documents(lake: Path) -> dict[str, list[str]]:
    """text of each document's first segment → its source paths."""
    texts = scan_dataset(lake, SEGMENTS).select("doc_id", "text").collect()
    documents = scan_dataset(lake, DOCUMENTS).select("doc_id", "source_paths").collect()
    joined = documents.join(texts, on="doc_id", how="left")
    return {text: sorted(paths) for text, paths in joined.select("text", "source_paths").iter_rows()}


def test_identical_content_at_two_paths_survives_one_of_them_changing(tmp_path: Path) -> None:
    x, y, lake = tmp_path / "x.txt", tmp_path / "y.txt", tmp_path / "lake"
    x.write_text(FIRST, encoding="utf-8")
    y.write_text(FIRST, encoding="utf-8")
    ingest_paths([x, y], lake, "run-1", tmp_path / "work")
    assert _documents(lake) == {FIRST.strip(): [str(x), str(y)]}  # stored once, both paths recorded

    x.write_text(SECOND, encoding="utf-8")
    ingest_paths([x, y], lake, "run-2", tmp_path / "work")
    assert _documents(lake) == {FIRST.strip(): [str(y)], SECOND.strip(): [str(x)]}

    y.write_text(THIRD, encoding="utf-8")  # now no path holds the first content: it goes
    ingest_paths([x, y], lake, "run-3", tmp_path / "work")
    assert _documents(lake) == {SECOND.strip(): [str(x)], THIRD.strip(): [str(y)]}
    assert check_lake_invariants(lake) == []


def test_a_path_that_takes_content_the_lake_holds_moves_to_it(tmp_path: Path) -> None:
    x, y, lake = tmp_path / "x.txt", tmp_path / "y.txt", tmp_path / "lake"
    x.write_text(FIRST, encoding="utf-8")
    y.write_text(SECOND, encoding="utf-8")
    ingest_paths([x, y], lake, "run-1", tmp_path / "work")
    x.write_text(SECOND, encoding="utf-8")  # x now holds what y holds: nothing new to ingest
    results, _ = ingest_paths([x, y], lake, "run-2", tmp_path / "work")
    assert results == []
    assert _documents(lake) == {SECOND.strip(): [str(x), str(y)]}
    assert scan_dataset(lake, SEGMENTS).select(pl.len()).collect().item() == 1
    assert check_lake_invariants(lake) == []


def test_reingesting_identical_content_adds_nothing(tmp_path: Path) -> None:
    x, lake = tmp_path / "x.txt", tmp_path / "lake"
    x.write_text(FIRST + SECOND, encoding="utf-8")
    ingest_paths([x], lake, "run-1", tmp_path / "work")
    before = scan_dataset(lake, SEGMENTS).collect()
    results, _ = ingest_paths([x], lake, "run-2", tmp_path / "work")
    assert results == []
    assert scan_dataset(lake, SEGMENTS).collect().equals(before)
    ingest_paths([x], lake, "run-3", tmp_path / "work", force=True)  # --force replaces, never duplicates
    after = scan_dataset(lake, SEGMENTS).collect()
    assert after.height == before.height
    assert after.get_column("run_id").unique().to_list() == ["run-3"]
