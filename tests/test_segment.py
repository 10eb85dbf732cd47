"""Sorting lines into blank, segment and quarantined."""

from __future__ import annotations

import polars as pl

from akhbar.decode import LINES_SCHEMA, MAX_LINE_BYTES
from akhbar.segment import segment_lines

DOC_ID = "ab" * 32


def _lines(texts: list[str | None], raws: list[bytes | None] | None = None) -> pl.DataFrame:
    raws = raws or [None] * len(texts)
    errors = [None if raw is None else "invalid utf-8 byte sequence at byte 0" for raw in raws]
    return pl.DataFrame(
        {"line_no": list(range(1, len(texts) + 1)), "line_text": texts, "raw": raws, "decode_error": errors},
        schema=LINES_SCHEMA,
    )


def test_every_line_gets_exactly_one_kind() -> None:
    lines = _lines(["خبر أول", "", "  \u200f ", None, "خبر ثان"], [None, None, None, b"\xff", None])
    segmented = segment_lines(lines, DOC_ID)
    assert segmented.get_column("line_kind").to_list() == ["segment", "blank", "blank", "quarantined", "segment"]
    assert segmented.get_column("quarantine_reason").to_list() == [None, None, None, "invalid_encoding", None]
    assert segmented.get_column("raw").to_list() == [None, None, None, b"\xff", None]


def test_segment_ids_are_stable_and_readable() -> None:
    segmented = segment_lines(_lines(["أ", "ب"]), DOC_ID)
    assert segmented.get_column("segment_id").to_list() == [f"{DOC_ID[:16]}-1", f"{DOC_ID[:16]}-2"]


def test_follows_blank_line_carries_across_chunks() -> None:
    segmented = segment_lines(_lines(["أ", "", "ب"]), DOC_ID, previous_line_blank=True)
    assert segmented.get_column("follows_blank_line").to_list() == [True, False, True]


def test_overlong_line_is_quarantined_with_its_bytes() -> None:
    long_line = "ذ" * (MAX_LINE_BYTES // 2 + 1)
    segmented = segment_lines(_lines(["قصير", long_line]), DOC_ID)
    assert segmented.get_column("line_kind").to_list() == ["segment", "quarantined"]
    assert segmented.get_column("quarantine_reason").to_list() == [None, "line_too_long"]
    assert segmented.get_column("raw")[1] == long_line.encode()
