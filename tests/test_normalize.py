"""Each normalization step on the team's own Arabic examples."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.normalize import clean_for_display, is_blank_line, normalize_segments, normalize_text


def _apply(expression_of: object, value: str | None) -> str | None:
    frame = pl.DataFrame({"t": [value]}, schema={"t": pl.String})
    result = frame.select(expression_of(pl.col("t")))  # type: ignore[operator]
    return result.item()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("raw", "display"),
    [
        pytest.param("السلامُ عليكم", "السلامُ عليكم", id="diacritics-kept-for-display"),
        pytest.param("مـــرحـبـا", "مرحبا", id="tatweel"),
        pytest.param("\ufe8d\ufedf\ufeb3\ufefc\ufee1", "السلام", id="presentation-forms"),
        pytest.param("\u200fخبر\u200e عاجل\u202b", "خبر عاجل", id="bidi-marks"),
        pytest.param("صباح\u200bالخير\u200d", "صباحالخير", id="zero-width"),
        pytest.param("  عنوان \t\t  الخبر  ", "عنوان الخبر", id="whitespace"),
        pytest.param("ارتفع المؤشر…", "ارتفع المؤشر", id="trailing-ellipsis"),
        pytest.param("ارتفع المؤشر ...", "ارتفع المؤشر", id="trailing-three-dots"),
        pytest.param("قال: «نعم… ولكن» ثم غادر", "قال: «نعم... ولكن» ثم غادر", id="inner-ellipsis-kept"),
        pytest.param("سعر ٢٤ قيراط", "سعر ٢٤ قيراط", id="digits-kept-for-display"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="null-stays-null"),
    ],
)
def test_clean_for_display(raw: str | None, display: str | None) -> None:
    assert _apply(clean_for_display, raw) == display


@pytest.mark.parametrize(
    ("raw", "matching"),
    [
        pytest.param("مُحَمَّدٌ وَصَلَ", "محمد وصل", id="diacritics"),
        pytest.param("أحمد وإبراهيم وآمال", "احمد وابراهيم وامال", id="alef-hamza"),
        pytest.param("مصطفى على المبنى", "مصطفي علي المبني", id="alef-maqsura"),
        pytest.param("ارتفع ٢٫٥٪ إلى ١٢٣٤", "ارتفع 2.5% الي 1234", id="arabic-indic-digits"),
        pytest.param("سال ۱۴۰۳", "سال 1403", id="persian-digits"),
        pytest.param("شركة Apple و NASDAQ", "شركة apple و nasdaq", id="latin-lowercased"),
        pytest.param("ﺍﻟﺬﻫﺐ", "الذهب", id="presentation-forms"),
        pytest.param("كتاب ی", "كتاب ي", id="persian-letters"),
        pytest.param("الـــذهـــب\u200f…", "الذهب", id="everything-at-once"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="null-stays-null"),
    ],
)
def test_normalize_text(raw: str | None, matching: str | None) -> None:
    assert _apply(normalize_text, raw) == matching


@pytest.mark.parametrize(
    ("line", "blank"),
    [("", True), ("   \t", True), ("\u200f\u200b", True), ("ــــ", True), ("خبر", False), ("1", False)],
)
def test_is_blank_line(line: str, blank: bool) -> None:
    assert _apply(is_blank_line, line) is blank


def test_normalize_segments_adds_both_texts_and_truncation() -> None:
    lines = pl.DataFrame({"line_no": [1, 2], "line_text": ["وزيرُ الخارجية…", "أسعار الذهب"]})
    expected = pl.DataFrame(
        {
            "line_no": [1, 2],
            "line_text": ["وزيرُ الخارجية…", "أسعار الذهب"],
            "is_truncated": [True, False],
            "text": ["وزيرُ الخارجية", "أسعار الذهب"],
            "text_norm": ["وزير الخارجية", "اسعار الذهب"],
        }
    )
    assert_frame_equal(normalize_segments(lines), expected)


def test_matching_form_is_idempotent_on_examples() -> None:
    texts = ["مُحَمَّدٌ إلى أحمد…", "ﻻ ﺑﺄﺱ ٢٫٥٪", "Gold سعر الأونصة"]
    once = pl.DataFrame({"t": texts}).select(normalize_text(pl.col("t")))
    twice = once.select(normalize_text(pl.col("t")))
    assert_frame_equal(once, twice)
