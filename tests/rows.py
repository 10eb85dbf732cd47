"""Rows that several test modules write to a lake's tables."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl


def quarantine_rows(count: int, doc_id: str = "d") -> pl.DataFrame:
    """``count`` quarantine rows of one document (lines 1..count, one bad byte each)."""
    return pl.DataFrame(
        {
            "doc_id": [doc_id] * count,
            "line_no": list(range(1, count + 1)),
            "reason": ["invalid_encoding"] * count,
            "detail": ["bad byte"] * count,
            "raw": [b"\xff"] * count,
            "run_id": ["r"] * count,
            "quarantined_at": pl.Series([datetime(2025, 8, 1, tzinfo=UTC)] * count, dtype=pl.Datetime("us", "UTC")),
        }
    )
