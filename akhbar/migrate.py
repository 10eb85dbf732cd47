"""Converting a lake of format 1 (one Parquet file per document and dataset) to Delta tables.

Format 1 kept ``<lake>/<dataset>/<doc_id>.parquet`` plus a zero-row ``_schema.parquet`` per dataset.
The conversion moves each dataset folder aside to ``<lake>/_migrating/<dataset>``, creates the Delta
table in its place and appends the old rows in one commit, ``documents`` last. Rows of documents
that had no ``documents`` row (a publish cut short) are dropped, as the old layout's next run would
have done. An interrupted conversion resumes: the folders still aside are converted again.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas import ALL_DATASETS, DOCUMENTS, RUNS, DatasetSchema

MIGRATING_DIR = "_migrating"
OLD_SCHEMA_FILE = "_schema.parquet"


@dataclass(frozen=True)
class MigratedDataset:
    """Rows found in the old files and rows committed to the new table."""

    dataset: str
    files: int
    rows_found: int
    rows_written: int


def _old_rows(folder: Path, dataset: DatasetSchema) -> tuple[int, pl.DataFrame]:
    """All rows of a format-1 dataset folder, typed as declared now (new columns filled)."""
    files = sorted(p for p in folder.glob("*.parquet") if p.name != OLD_SCHEMA_FILE)
    if not files:
        return 0, dataset.empty_frame()
    frame = pl.concat([pl.read_parquet(p) for p in files], how="diagonal_relaxed")
    if dataset is DOCUMENTS and "source_paths" not in frame.columns:
        frame = frame.with_columns(pl.concat_list(pl.col("source_path")).alias("source_paths"))
    for name, dtype in dataset.polars_schema().items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return len(files), frame.select(dataset.column_names)


def migrate_lake(lake: Path) -> list[MigratedDataset]:
    """Convert every format-1 dataset folder into a Delta table; documents last."""
    from akhbar.lake import LAKE_FORMAT, MARKER_FILE, commit_rows, ensure_table, write_text_atomically

    aside = lake / MIGRATING_DIR
    aside.mkdir(exist_ok=True)
    for dataset in ALL_DATASETS:
        current, moved = lake / dataset.name, aside / dataset.name
        if (current / OLD_SCHEMA_FILE).exists() and not moved.exists():
            current.rename(moved)
        elif moved.exists() and current.exists():
            shutil.rmtree(current)  # a table half-made by an interrupted conversion: made again below
    committed = set(_old_rows(aside / DOCUMENTS.name, DOCUMENTS)[1].get_column("doc_id").to_list())
    ordered = [d for d in ALL_DATASETS if d is not DOCUMENTS] + [DOCUMENTS]
    results = []
    for dataset in ordered:
        moved = aside / dataset.name
        files, rows = _old_rows(moved, dataset) if moved.exists() else (0, dataset.empty_frame())
        found = rows.height
        if dataset is not RUNS:
            rows = rows.filter(pl.col("doc_id").is_in(committed))
        ensure_table(lake, dataset)
        written = commit_rows(lake, dataset, [rows], key="run_id" if dataset is RUNS else "doc_id")
        results.append(MigratedDataset(dataset.name, files, found, written))
    write_text_atomically(lake / MARKER_FILE, json.dumps({"akhbar_lake": True, "format": LAKE_FORMAT}) + "\n")
    shutil.rmtree(aside)
    return results
