"""Dataset declarations: Arrow schema with descriptions, and validation at the write boundary."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from schemas import ALL_DATASETS, DOCUMENTS, QUARANTINE, SchemaViolation, dataset_by_name


@pytest.mark.parametrize("dataset", ALL_DATASETS, ids=lambda d: d.name)
def test_every_column_has_a_description_in_the_arrow_schema(dataset: object) -> None:
    schema = dataset.arrow_schema()  # type: ignore[attr-defined]
    assert schema.metadata[b"akhbar.dataset"] == dataset.name.encode()  # type: ignore[attr-defined]
    for field in schema:
        assert field.metadata[b"description"].strip(), field.name


@pytest.mark.parametrize("dataset", ALL_DATASETS, ids=lambda d: d.name)
def test_empty_frame_round_trips_through_validation(dataset: object) -> None:
    table = dataset.to_arrow(dataset.empty_frame())  # type: ignore[attr-defined]
    assert table.schema.equals(dataset.arrow_schema(), check_metadata=True)  # type: ignore[attr-defined]


def _quarantine_row(**overrides: object) -> pl.DataFrame:
    row: dict[str, object] = {
        "doc_id": "d", "line_no": 3, "reason": "invalid_encoding", "detail": "bad byte", "raw": b"\xff",
        "run_id": "r", "quarantined_at": pl.datetime(2025, 8, 1, time_zone="UTC"),
    }
    row.update(overrides)
    return pl.select(**{k: v if isinstance(v, pl.Expr) else pl.lit(v) for k, v in row.items()})


def test_valid_frame_becomes_typed_table_with_dictionary_reason() -> None:
    table = QUARANTINE.to_arrow(_quarantine_row())
    assert table.schema.field("reason").type == pa.dictionary(pa.int32(), pa.string())
    assert table.schema.field("quarantined_at").type == pa.timestamp("us", tz="UTC")


def test_missing_and_extra_columns_are_named() -> None:
    frame = _quarantine_row().drop("detail").with_columns(pl.lit(1).alias("surprise"))
    with pytest.raises(SchemaViolation, match=r"'quarantine'.*\['detail'\].*\['surprise'\]"):
        QUARANTINE.to_arrow(frame)


def test_null_in_non_nullable_column_is_refused() -> None:
    frame = _quarantine_row(reason=pl.lit(None, dtype=pl.String))
    with pytest.raises(SchemaViolation, match="'reason' is declared non-null"):
        QUARANTINE.to_arrow(frame)


def test_uncastable_type_is_refused() -> None:
    frame = _quarantine_row(line_no="three")
    with pytest.raises(SchemaViolation, match="'line_no'"):
        QUARANTINE.to_arrow(frame)


def test_lookup_by_name() -> None:
    assert dataset_by_name("documents") is DOCUMENTS
    with pytest.raises(KeyError, match="known datasets"):
        dataset_by_name("nope")
