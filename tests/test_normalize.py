"""Each normalization step on the team's own Arabic examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.normalize import clean_for_display, is_blank_line, normalize_segments, normalize_text


def _apply(expression_of: Callable[[pl.Expr], pl.Expr], value: str | None) -> Any:
    frame = pl.DataFrame({"t": [value]}, schema={"t": pl.String})
    return frame.select(expression_of(pl.col("t"))).item()


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
        pytest.param("ارتفع المؤشر… ...", "ارتفع المؤشر", id="every-trailing-ellipsis"),
        pytest.param("\u0627\u0640\u0654", "\u0623", id="tatweel-before-hamza-recomposed"),
        pytest.param("e\u200b\u0301", "\u00e9", id="control-before-mark-recomposed"),
        pytest.param("\u0628\ufe77", "\u0628\u064e", id="tatweel-presentation-form"),
        pytest.param("👨\u200d👩\u200d👧 عائلة", "👨\u200d👩\u200d👧 عائلة", id="emoji-zwj-sequence-kept"),
        pytest.param("❤\ufe0f\u200d🔥 خبر\u200d", "❤\ufe0f\u200d🔥 خبر", id="emoji-zwj-kept-other-zwj-removed"),
        pytest.param("™\u200d😀", "TM😀", id="zwj-after-letterlike-removed"),
        pytest.param("<p>سعر &quot;الذهب&quot;&nbsp;اليوم</p>", "<p>سعر &quot;الذهب&quot;&nbsp;اليوم</p>",
                     id="html-markup-kept-verbatim"),
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
        pytest.param("e\u0610\u0301", "\u00e9", id="mark-freed-by-diacritic-removal-recomposed"),
        pytest.param("انتهى ٫٫٫", "انتهي", id="separators-turned-into-an-ellipsis"),
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


@pytest.mark.parametrize(
    "raw",
    ["ارتفع المؤشر… ...", "\u0627\u0640\u0654", "e\u200b\u0301", "e\u0610\u0301", "انتهى ٫٫٫"],
)
def test_cleaning_and_matching_twice_change_nothing_more(raw: str) -> None:
    """Inputs on which cleaning or matching used to change its own output (see tests/test_properties.py)."""
    display = _apply(clean_for_display, raw)
    assert _apply(clean_for_display, display) == display
    matching = _apply(normalize_text, raw)
    assert _apply(normalize_text, matching) == matching
