"""The classifier's fast paths give exactly the straightforward result: repeats, parallel parts, regex."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import akhbar.topics as topics
from akhbar.normalize import normalize_text
from akhbar.topics import Taxonomy, classify_topics, load_taxonomy

# Written for these tests (not taken from any corpus or evaluation set).
SENTENCES: list[str | None] = [
    "أعلن وزير الخارجية المصري أن المحادثات مع نظيره التركي كانت بناءة ومثمرة",
    "ارتفع سعر الذهب في السوق المحلية اليوم وسط إقبال ضعيف على الشراء",
    "سجل المنتخب الوطني هدفين في الشوط الثاني وحسم المباراة لصالحه",
    "هبط مؤشر البورصة الرئيسي مع موجة بيع واسعة لأسهم البنوك",
    "افتتح المحافظ معرضا للكتاب في المدينة بمشاركة عشرات دور النشر",
    # "وزير الخارجية" spans the 10th and 11th words: a phrase crossing the end of the lede.
    "في مساء أمس وبعد انتظار طويل لساعات عدة أعلن وزير الخارجية استئناف العلاقات الدبلوماسية",
    # Adjacent terms separated by punctuation only.
    "الذهب، الدولار، النفط: أسعار اليوم (تحديث) والذهب والذهب",
    "Oil prices fell as the dollar strengthened",
    "",
    None,
]
#: Every sentence, then repeats (as feeds repeat teasers), in a shuffled order.
ORDER = [*range(len(SENTENCES)), 1, 0, 9, 6, 1, 8, 5, 1, 3]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    """The packaged taxonomy, loaded once."""
    return load_taxonomy()


def segments(texts: list[str | None]) -> pl.DataFrame:
    """Raw texts → the frame the pipeline classifies (with a key column, to check it is kept)."""
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String}).with_row_index("segment_id")
    return frame.with_columns(normalize_text(pl.col("text")).alias("text_norm"))


def one_row_at_a_time(frame: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """The straightforward result: each row classified alone (no repeats, one query)."""
    return pl.concat([classify_topics(frame.slice(index, 1), taxonomy) for index in range(frame.height)])


def test_repeated_texts_get_the_result_of_one_row_at_a_time(taxonomy: Taxonomy) -> None:
    frame = segments([SENTENCES[index] for index in ORDER])
    result = classify_topics(frame, taxonomy)
    assert_frame_equal(result, one_row_at_a_time(frame, taxonomy))
    # The repeats really are repeats, with non-trivial results.
    gold_repeats = [position for position, index in enumerate(ORDER) if index == 1]
    assert len(gold_repeats) == 4
    assert result.filter(pl.col("segment_id").is_in(gold_repeats))["topic"].unique().to_list() == ["gold_prices"]
    assert (result["matched_terms"].list.len() > 1).any()


def test_splitting_into_parallel_queries_changes_nothing(taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = segments([SENTENCES[index] for index in ORDER])
    monkeypatch.setattr(topics, "MIN_ROWS_PER_QUERY", 10**9)
    whole = classify_topics(frame, taxonomy)
    # Three uneven parts of the distinct texts, as on a three-core machine.
    monkeypatch.setattr(topics, "MIN_ROWS_PER_QUERY", 1)
    monkeypatch.setattr(pl, "thread_pool_size", lambda: 3)
    assert_frame_equal(classify_topics(frame, taxonomy), whole)
    assert_frame_equal(classify_topics(frame.head(2), taxonomy), whole.head(2))


def without_regex(taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch) -> Taxonomy:
    """A fresh copy of ``taxonomy`` that matches with ``extract_many`` (the straightforward path)."""
    monkeypatch.setattr(topics, "REGEX_MIN_PATTERNS", 10**9)
    plain = dataclasses.replace(taxonomy)
    assert plain.pattern_regex is None
    monkeypatch.undo()
    return plain


def test_regex_alternation_finds_what_extract_many_finds(taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch) -> None:
    assert taxonomy.pattern_regex is not None
    frame = segments([SENTENCES[index] for index in ORDER])
    assert_frame_equal(classify_topics(frame, taxonomy), classify_topics(frame, without_regex(taxonomy, monkeypatch)))


def test_lede_hits_with_a_phrase_crossing_the_lede(taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch) -> None:
    crossing = segments([SENTENCES[5]])
    row = classify_topics(crossing, taxonomy).row(0, named=True)
    assert row["topic"] == "diplomacy"
    assert ("diplomacy", "وزير الخارجية") in [(item["topic"], item["term"]) for item in row["matched_terms"]]
    assert_frame_equal(
        classify_topics(crossing, without_regex(taxonomy, monkeypatch)), classify_topics(crossing, taxonomy)
    )


def test_regex_path_on_a_small_taxonomy(monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
version = "t1"
[morphology]
clitics = ["و", "ب", "ل"]
suffixes = ["ات", "ها"]
teh_marbuta_suffixes = ["ات"]
[topics.metals]
[[topics.metals.group]]
weight = 3.0
terms = ["(ال)ذهب", "سعر الذهب", "=s&p 500"]
[topics.money]
[[topics.money.group]]
weight = 3.5
terms = ["(ال)دولار", "عملة~"]
"""
    frame = segments(["ارتفع سعر الذهب والدولار وعملات أخرى", "S&P 500 index and gold", "الذهب الذهب بالذهب", None])
    plain = topics.parse_taxonomy(source.encode(), source="small.toml")
    assert plain.pattern_regex is None
    monkeypatch.setattr(topics, "REGEX_MIN_PATTERNS", 0)
    with_regex = dataclasses.replace(plain)
    assert with_regex.pattern_regex is not None
    expected = classify_topics(frame, plain)
    assert_frame_equal(classify_topics(frame, with_regex), expected)
    assert expected["topic"].to_list() == ["money", "metals", "metals", "other"]
