"""Checking and repairing a lake's invariants (``akhbar lake check`` / ``akhbar lake repair``).

The invariants: every table opens and every live data file reads; a dataset folder holds exactly
its table's live files; each document's lines add up (``total = blank + segment + quarantined``)
and match the rows written for it; no segments, articles or quarantine row without its
``documents`` row; no interrupted batch waiting for recovery.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from akhbar.lake import (
    PENDING_DIR,
    PER_DOCUMENT_DATASETS,
    LakeError,
    LakePath,
    delete_rows,
    delta_options,
    delta_uri,
    is_lake,
    lake_lock,
    one_line,
    open_table,
    scan_dataset,
    vacuum_lake,
    writer_properties,
)
from akhbar.storage import S3Path, parse_location
from schemas import ALL_DATASETS, ARTICLES, DOCUMENTS, QUARANTINE, SEGMENTS, DatasetSchema


@dataclass(frozen=True)
class DamagedFile:
    """A live data file of a table that cannot be read."""

    dataset: str
    path: str
    error: str


def live_files(lake: LakePath, dataset: DatasetSchema) -> list[LakePath]:
    """The table's live data files as local paths or object-store locations."""
    uris = open_table(lake, dataset).file_uris()
    if isinstance(lake, S3Path):
        return [parse_location(uri) for uri in uris]
    return [Path(uri.removeprefix("file://")) for uri in uris]


def _parquet_source(path: LakePath) -> Path | io.BytesIO:
    """What pyarrow/polars read a data file from: the local path, or the object's bytes."""
    return io.BytesIO(path.read_bytes()) if isinstance(path, S3Path) else path


def damaged_files(lake: LakePath, datasets: tuple[DatasetSchema, ...] = ALL_DATASETS) -> list[DamagedFile]:
    """Live files whose Parquet footer or data cannot be read (a missing file counts)."""
    damaged = []
    for dataset in datasets:
        for path in live_files(lake, dataset):
            try:
                pq.ParquetFile(_parquet_source(path)).read(columns=[dataset.column_names[0]])
            except Exception as error:
                damaged.append(DamagedFile(dataset.name, str(path), one_line(error)))
    return damaged


def _per_document(lake: LakePath, dataset: DatasetSchema, name: str, *, lines_only: bool = False) -> pl.DataFrame:
    """Rows per doc_id of one dataset (quarantine: line rows only, when asked)."""
    frame = scan_dataset(lake, dataset)
    if lines_only:
        frame = frame.filter(pl.col("line_no").is_not_null())
    return frame.group_by("doc_id").agg(pl.len().alias(name)).collect()


def accounting_problems(lake: LakePath) -> pl.DataFrame:
    """Documents whose line accounting does not hold, with what is wrong (doc_id, source_path, problem)."""
    documents = (
        scan_dataset(lake, DOCUMENTS)
        .select("doc_id", "source_path", "total_lines", "blank_lines", "segment_lines", "quarantined_lines")
        .collect()
    )
    joined = (
        documents.join(_per_document(lake, SEGMENTS, "segments"), on="doc_id", how="left")
        .join(_per_document(lake, QUARANTINE, "quarantined", lines_only=True), on="doc_id", how="left")
        .fill_null(0)
    )
    problem = (
        pl.when(pl.col("total_lines") != pl.col("blank_lines") + pl.col("segment_lines") + pl.col("quarantined_lines"))
        .then(pl.lit("total_lines != blank + segment + quarantined lines"))
        .when(pl.col("segments") != pl.col("segment_lines"))
        .then(pl.format("{} segments rows for {} segment lines", "segments", "segment_lines"))
        .when(pl.col("quarantined") != pl.col("quarantined_lines"))
        .then(pl.format("{} quarantine line rows for {} quarantined lines", "quarantined", "quarantined_lines"))
    )
    return joined.select("doc_id", "source_path", problem.alias("problem")).filter(pl.col("problem").is_not_null())


def orphan_doc_ids(lake: LakePath) -> dict[str, list[str]]:
    """Per dataset, doc_ids with rows but no ``documents`` row."""
    committed = scan_dataset(lake, DOCUMENTS).select("doc_id")
    orphans = {}
    for dataset in PER_DOCUMENT_DATASETS:
        ids = (
            scan_dataset(lake, dataset)
            .select("doc_id")
            .unique()
            .join(committed, on="doc_id", how="anti")
            .collect()
            .get_column("doc_id")
            .sort()
            .to_list()
        )
        if ids:
            orphans[dataset.name] = ids
    return orphans


def stray_files(lake: LakePath, dataset: DatasetSchema) -> list[LakePath]:
    """Parquet files in a dataset folder that are not live files of its table."""
    live = {str(p.resolve()) for p in live_files(lake, dataset)}
    found: list[LakePath] = list((lake / dataset.name).glob("*.parquet"))
    return sorted((p for p in found if str(p.resolve()) not in live), key=str)


def check_lake_invariants(lake: LakePath) -> list[str]:
    """Every broken invariant, one line each naming the table, file or document; empty when all hold."""
    if not is_lake(lake):
        return [f"{lake}: not an akhbar lake (no lake marker)"]
    problems: list[str] = []
    readable: list[DatasetSchema] = []
    for dataset in ALL_DATASETS:
        try:
            open_table(lake, dataset)
            readable.append(dataset)
        except LakeError as error:
            problems.append(str(error))
    damaged = damaged_files(lake, tuple(readable))
    problems += [f"{d.dataset}: damaged data file {d.path} ({d.error})" for d in damaged]
    for dataset in readable:
        problems += [f"{dataset.name}: {p} is not a live file of the table" for p in stray_files(lake, dataset)]
    intents: list[LakePath] = list((lake / PENDING_DIR).glob("*.json")) if (lake / PENDING_DIR).is_dir() else []
    pending = sorted(intents, key=str)
    problems += [f"interrupted batch awaiting recovery (the next run completes it): {p}" for p in pending]
    if damaged or len(readable) < len(ALL_DATASETS):
        problems.append("document checks skipped: some tables cannot be read (run `akhbar lake repair`)")
        return problems
    for row in accounting_problems(lake).iter_rows(named=True):
        problems.append(f"documents: {row['source_path']} ({row['doc_id'][:16]}): {row['problem']}")
    for name, ids in orphan_doc_ids(lake).items():
        problems.append(f"{name}: rows of {len(ids)} document(s) without a documents row, e.g. {ids[0][:16]}")
    return problems


@dataclass(frozen=True)
class RepairResult:
    """What a repair removed: damaged files dropped from their tables and documents to re-ingest."""

    damaged: list[DamagedFile]
    removed_documents: list[str]


def _drop_damaged(lake: LakePath, dataset: DatasetSchema, damaged: set[str]) -> None:
    """Rewrite a table from its readable live files only (one overwrite transaction)."""
    frames = [
        pl.read_parquet(_parquet_source(path)) for path in live_files(lake, dataset) if str(path) not in damaged
    ] or [pl.DataFrame(schema=dataset.polars_schema())]
    rows = pl.concat(frames, how="diagonal_relaxed").select(dataset.column_names)
    from deltalake import write_deltalake

    table = lake / dataset.name
    write_deltalake(
        delta_uri(table),
        dataset.to_arrow(rows),
        mode="overwrite",
        writer_properties=writer_properties(dataset),
        storage_options=delta_options(table),
    )


def repair_lake(lake: LakePath) -> RepairResult:
    """Drop damaged files from their tables, then every document whose rows no longer add up.

    The removed documents have no ``documents`` row afterwards, so the next run given their input
    files re-ingests them.
    """
    with lake_lock(lake):
        damaged = damaged_files(lake)
        for dataset in ALL_DATASETS:
            own = {d.path for d in damaged if d.dataset == dataset.name}
            if own:
                _drop_damaged(lake, dataset, own)
        broken = set(accounting_problems(lake).get_column("doc_id").to_list())
        orphans = {doc_id for ids in orphan_doc_ids(lake).values() for doc_id in ids}
        with_articles = set(_per_document(lake, ARTICLES, "articles").get_column("doc_id").to_list())
        segmented = set(_per_document(lake, SEGMENTS, "segments").get_column("doc_id").to_list())
        broken |= segmented - with_articles  # a lost articles file
        for dataset in PER_DOCUMENT_DATASETS:
            delete_rows(lake, dataset, broken | orphans)
        delete_rows(lake, DOCUMENTS, broken)
        vacuum_lake(lake)
    return RepairResult(damaged=damaged, removed_documents=sorted(broken | orphans))
