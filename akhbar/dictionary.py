"""The data dictionary: every dataset's columns, types, nullability and descriptions, from ``schemas/``.

Everything is read back from :meth:`DatasetSchema.arrow_schema`, i.e. from the exact schema (and
field metadata) written into every Parquet file of the lake, so the dictionary cannot say something
the files do not. ``docs/data-dictionary.md`` is :func:`render_markdown` of ``ALL_DATASETS``;
regenerate it with ``akhbar schema --format markdown > docs/data-dictionary.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

import duckdb
import pyarrow as pa

from schemas import ALL_DATASETS, DatasetSchema

#: Where the generated dictionary lives in the repository (relative to its root).
DICTIONARY_FILE = "docs/data-dictionary.md"
TABLE_HEADER = "| column | Arrow type | DuckDB type | nullable | description |"
REGENERATE_COMMAND = f"akhbar schema --format markdown > {DICTIONARY_FILE}"


@dataclass(frozen=True)
class ColumnEntry:
    """One column as the dictionary shows it."""

    name: str
    arrow_type: str
    duckdb_type: str
    nullable: bool
    description: str


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset as the dictionary shows it."""

    name: str
    version: int
    row: str
    columns: tuple[ColumnEntry, ...]


def arrow_type_name(kind: pa.DataType) -> str:
    """A readable Arrow type: dictionary-encoded strings say so, nested types spell out their fields."""
    if pa.types.is_dictionary(kind):
        return f"dictionary<{arrow_type_name(kind.value_type)}>"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<{arrow_type_name(kind.value_type)}>"
    if pa.types.is_struct(kind):
        return "struct<" + ", ".join(f"{f.name}: {arrow_type_name(f.type)}" for f in kind) + ">"
    if pa.types.is_timestamp(kind):
        return f"timestamp[{kind.unit}, {kind.tz}]" if kind.tz else f"timestamp[{kind.unit}]"
    if pa.types.is_date32(kind):
        return "date32"
    return str(kind)


@lru_cache(maxsize=256)
def duckdb_type_name(kind: pa.DataType) -> str:
    """The type DuckDB gives a column of this Arrow type (asked of DuckDB itself, not a hand-kept map)."""
    empty = pa.schema([pa.field("c", kind)]).empty_table()
    with duckdb.connect() as connection:
        return str(connection.from_arrow(empty).dtypes[0])


def _text(metadata: dict[bytes, bytes] | None, key: str) -> str:
    return (metadata or {}).get(key.encode(), b"").decode()


def dataset_entry(dataset: DatasetSchema) -> DatasetEntry:
    """The dictionary entry of one dataset, read from the Arrow schema its Parquet files carry."""
    schema = dataset.arrow_schema()
    columns = tuple(
        ColumnEntry(
            name=field.name,
            arrow_type=arrow_type_name(field.type),
            duckdb_type=duckdb_type_name(field.type),
            nullable=field.nullable,
            description=_text(field.metadata, "description"),
        )
        for field in schema
    )
    return DatasetEntry(
        name=_text(schema.metadata, "akhbar.dataset"),
        version=int(_text(schema.metadata, "akhbar.schema_version")),
        row=_text(schema.metadata, "akhbar.row"),
        columns=columns,
    )


def dictionary_entries(datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> list[DatasetEntry]:
    """Dictionary entries of the given datasets, in declaration order."""
    return [dataset_entry(dataset) for dataset in datasets]


def _cell(text: str) -> str:
    """Escape a value for a markdown table cell (descriptions contain '|', e.g. status values)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> str:
    """The data dictionary as markdown (the content of docs/data-dictionary.md)."""
    entries = dictionary_entries(datasets)
    parts = [
        "# akhbar data dictionary",
        f"Generated from `schemas/datasets.py`; do not edit by hand. Regenerate with `{REGENERATE_COMMAND}`.",
        "Each dataset is a Delta Lake table in a folder of the lake, `<lake>/<dataset>/` (in `akhbar sql` it "
        "is simply a view named after the dataset; after a run the folder's `*.parquet` files are exactly the "
        "table's live files). Every description below is stored in the table's schema and in each Parquet "
        "file, as the `description` metadata of its field; the table's name and description are the "
        "dataset's, and its creation commit records `akhbar.schema_version`. Timestamps are UTC. "
        "`dictionary<string>` columns are dictionary-encoded in the Parquet files and plain strings in the "
        "table's schema (strings to DuckDB, polars and pandas through deltalake).",
        "Datasets: " + ", ".join(f"`{entry.name}`" for entry in entries) + ".",
    ]
    for entry in entries:
        rows = [
            f"| `{c.name}` | `{_cell(c.arrow_type)}` | `{_cell(c.duckdb_type)}` | {'yes' if c.nullable else 'no'} "
            f"| {_cell(c.description)} |"
            for c in entry.columns
        ]
        parts += [
            f"## {entry.name}",
            f"One row: {entry.row}. Schema version {entry.version}; {len(entry.columns)} columns.",
            "\n".join([TABLE_HEADER, "|---|---|---|---|---|", *rows]),
        ]
    return "\n\n".join(parts) + "\n"


def render_json(datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> str:
    """The data dictionary as JSON: ``{"datasets": [{name, version, row, columns: [...]}, ...]}``."""
    entries = [asdict(entry) for entry in dictionary_entries(datasets)]
    return json.dumps({"datasets": entries}, ensure_ascii=False, indent=2) + "\n"
