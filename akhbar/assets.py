"""The lake's datasets as assets: their keys (URIs) and what a materialization records (no Prefect here).

A dataset's asset key is its table's URI: ``file:///srv/news/lake/segments`` for a local lake, the
lake's own URI plus the dataset name for a remote one (``s3://bucket/lake/segments``). Prefect
forbids some characters in asset keys — among them ``%``, so a key cannot be percent-encoded — so
the path is written as it is, with each forbidden character (a space, ``#``, ``?``, ...) replaced by
``_``: a lake at ``/data/my lake`` has keys ``file:///data/my_lake/<dataset>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from akhbar.lake import LakePath, open_table, scan_dataset
from schemas import DatasetSchema

#: Characters Prefect does not accept in an asset key (prefect.types.names.RESTRICTED_ASSET_CHARACTERS).
FORBIDDEN_KEY_CHARACTERS = frozenset("\n\r\t\0 #?&%\"'<>[]{}|\\^`")


def dataset_asset_key(lake: LakePath | str, dataset: DatasetSchema) -> str:
    """The asset key of a dataset: its table's URI, forbidden characters replaced by ``_``."""
    text = str(lake)
    if "://" in text:  # already a URI (a remote lake)
        uri = f"{text.rstrip('/')}/{dataset.name}"
    else:
        uri = "file://" + (Path(text).resolve() / dataset.name).as_posix()
    return "".join("_" if char in FORBIDDEN_KEY_CHARACTERS else char for char in uri)


@dataclass(frozen=True)
class Materialization:
    """One dataset a run wrote to, and the metadata its asset event carries."""

    dataset: str
    key: str
    description: str
    metadata: dict[str, str | int]


def materializations(
    lake: LakePath,
    datasets: tuple[DatasetSchema, ...],
    rows_written: Mapping[str, int],
    run_id: str,
) -> list[Materialization]:
    """The datasets this run wrote rows to, with the table's version and row count as they are now."""
    found = []
    for dataset in datasets:
        written = rows_written.get(dataset.name, 0)
        if written <= 0:
            continue
        metadata: dict[str, str | int] = {
            "dataset": dataset.name,
            "table_version": open_table(lake, dataset).version(),
            # Answered from the Parquet footers: no data page is read.
            "rows": int(scan_dataset(lake, dataset).select(pl.len()).collect().item()),
            "rows_written": written,
            "schema_version": dataset.version,
            "run_id": run_id,
        }
        found.append(Materialization(dataset.name, dataset_asset_key(lake, dataset), dataset.row, metadata))
    return found
