"""Segmenting decoded lines: every line becomes a blank, a segment, or a quarantined line."""

from __future__ import annotations

from enum import StrEnum

import polars as pl

from akhbar.decode import MAX_LINE_BYTES
from akhbar.normalize import is_blank_line


class LineKind(StrEnum):
    """Where an input line ends up; every line is exactly one of these."""

    BLANK = "blank"
    SEGMENT = "segment"
    QUARANTINED = "quarantined"


class QuarantineReason(StrEnum):
    """Why a line or file was quarantined (the ``reason`` column of the quarantine dataset)."""

    BINARY_CONTENT = "binary_content"
    UNDECODABLE = "undecodable"
    INVALID_ENCODING = "invalid_encoding"
    LINE_TOO_LONG = "line_too_long"


def segment_id(doc_id: pl.Expr, line_no: pl.Expr) -> pl.Expr:
    """Stable segment id: the first 16 hex digits of the doc_id and the line number."""
    return pl.concat_str(doc_id.str.slice(0, 16), pl.lit("-"), line_no.cast(pl.String))


def segment_lines(lines: pl.DataFrame, doc_id: str | None = None, *, previous_line_blank: bool = False) -> pl.DataFrame:
    """Classify decoded lines (``akhbar.decode.LINES_SCHEMA``) and give segments their ids.

    ``lines`` holds the lines of one document (``doc_id`` given) or of several, in (document, line)
    order, with a ``doc_id`` column. ``previous_line_blank`` is the blankness of the line before the
    first row — the last line of the previous chunk when the first row's document continues there —
    so that ``follows_blank_line`` is right across chunk boundaries.
    """
    if doc_id is not None:
        lines = lines.with_columns(pl.lit(doc_id).alias("doc_id"))
    undecodable = pl.col("line_text").is_null()
    too_long = pl.col("line_text").str.len_bytes() > MAX_LINE_BYTES
    blank = is_blank_line(pl.col("line_text"))
    kind = (
        pl.when(undecodable | too_long)
        .then(pl.lit(LineKind.QUARANTINED.value))
        .when(blank)
        .then(pl.lit(LineKind.BLANK.value))
        .otherwise(pl.lit(LineKind.SEGMENT.value))
    )
    reason = (
        pl.when(undecodable)
        .then(pl.lit(QuarantineReason.INVALID_ENCODING.value))
        .when(too_long)
        .then(pl.lit(QuarantineReason.LINE_TOO_LONG.value))
    )
    detail = (
        pl.when(undecodable)
        .then(pl.col("decode_error"))
        .when(too_long)
        .then(pl.format("line of {} bytes exceeds the {} byte limit", pl.col("line_text").str.len_bytes(),
                        pl.lit(MAX_LINE_BYTES)))
    )
    previous_blank = (pl.col("line_kind") == LineKind.BLANK.value).shift(1)
    same_document = pl.col("doc_id") == pl.col("doc_id").shift(1)
    follows_blank = (
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(previous_line_blank))
        .when(same_document)
        .then(previous_blank)
        .otherwise(pl.lit(False))
    )
    return (
        lines.with_columns(kind.alias("line_kind"))
        .with_columns(
            reason.alias("quarantine_reason"),
            detail.alias("quarantine_detail"),
            pl.when(too_long).then(pl.col("line_text").cast(pl.Binary)).otherwise(pl.col("raw")).alias("raw"),
            follows_blank.alias("follows_blank_line"),
            segment_id(pl.col("doc_id"), pl.col("line_no")).alias("segment_id"),
        )
        .drop("decode_error")
    )
