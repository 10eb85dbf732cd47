"""The data dictionary: generated from schemas/, identical to the Parquet metadata, committed in docs/."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from akhbar.cli import app
from akhbar.dictionary import (
    DICTIONARY_FILE,
    REGENERATE_COMMAND,
    arrow_type_name,
    dictionary_entries,
    duckdb_type_name,
    render_json,
    render_markdown,
)
from schemas import ALL_DATASETS

REPO_ROOT = Path(__file__).resolve().parents[1]



def test_committed_dictionary_matches_schemas() -> None:
    committed = (REPO_ROOT / DICTIONARY_FILE).read_text(encoding="utf-8")
    assert committed == render_markdown(), f"{DICTIONARY_FILE} is stale: regenerate it with `{REGENERATE_COMMAND}`"


def test_entries_are_the_parquet_metadata_of_every_column() -> None:
    entries = {entry.name: entry for entry in dictionary_entries()}
    assert list(entries) == [dataset.name for dataset in ALL_DATASETS]
    for dataset in ALL_DATASETS:
        entry = entries[dataset.name]
        assert (entry.version, entry.row) == (dataset.version, dataset.row)
        schema = dataset.arrow_schema()
        assert [c.name for c in entry.columns] == schema.names
        for column, field, declared in zip(entry.columns, schema, dataset.columns, strict=True):
            assert column.description == field.metadata[b"description"].decode() == declared.description
            assert column.nullable == field.nullable == declared.nullable
            assert column.description, f"{dataset.name}.{column.name} has no description"


@pytest.mark.parametrize(
    ("kind", "arrow", "duckdb"),
    [
        (pa.dictionary(pa.int32(), pa.string()), "dictionary<string>", "VARCHAR"),
        (pa.timestamp("us", tz="UTC"), "timestamp[us, UTC]", "TIMESTAMP WITH TIME ZONE"),
        (pa.list_(pa.date32()), "list<date32>", "DATE[]"),
        (
            pa.list_(pa.struct([("value", pa.float64()), ("unit", pa.string())])),
            "list<struct<value: double, unit: string>>",
            "STRUCT(\"value\" DOUBLE, unit VARCHAR)[]",
        ),
        (pa.binary(), "binary", "BLOB"),
    ],
)
def test_type_names(kind: pa.DataType, arrow: str, duckdb: str) -> None:
    assert arrow_type_name(kind) == arrow
    assert duckdb_type_name(kind) == duckdb


def test_markdown_escapes_pipes_in_descriptions() -> None:
    markdown = render_markdown()
    status_row = next(line for line in markdown.splitlines() if line.startswith("| `status` | `dictionary"))
    assert "ingested \\| partial" in status_row
    unescaped = status_row.replace("\\|", "")
    assert unescaped.count("|") == 6  # five cells


def test_json_lists_every_dataset_and_column() -> None:
    document = json.loads(render_json())
    assert [d["name"] for d in document["datasets"]] == [d.name for d in ALL_DATASETS]
    segments = document["datasets"][0]
    assert segments["columns"][0] == {
        "name": "segment_id",
        "arrow_type": "string",
        "duckdb_type": "VARCHAR",
        "nullable": False,
        "description": ALL_DATASETS[0].columns[0].description,
    }


def test_schema_command_prints_the_committed_file() -> None:
    result = CliRunner().invoke(app, ["schema", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (REPO_ROOT / DICTIONARY_FILE).read_text(encoding="utf-8")


def test_schema_command_one_dataset_as_json() -> None:
    result = CliRunner().invoke(app, ["schema", "runs", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [d["name"] for d in json.loads(result.stdout)["datasets"]] == ["runs"]


def test_schema_command_unknown_dataset_is_one_line_exit_2() -> None:
    result = CliRunner().invoke(app, ["schema", "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown dataset 'nope'; known datasets: " + ", ".join(d.name for d in ALL_DATASETS)
    ]
