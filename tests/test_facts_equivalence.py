"""The fast paths of extract_facts give exactly what the straightforward run gives.

Each shortcut (distinct texts, pattern hints, text dates only where a month name is a word,
digit-blind amount shapes, publish-time branches only for the zones present, n-grams only as long
as a head's keys) is switched off in turn and the result compared, on the team's own sentences.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar import facts, places
from akhbar.facts import extract_facts
from akhbar.normalize import normalize_segments

LINES: list[tuple[str, str | None]] = [
    ("a", "أعلنت الوزارة في 3 مارس 2024 عن صفقة بقيمة 50 مليون دولار مع شركة إماراتية"),
    ("a", "وتعقد القمة المقبلة في 15 أكتوبر المقبل بالعاصمة السعودية الرياض"),
    ("a", "ارتفع سعر الأوقية إلى 2350 دولارا للأوقية يوم 2024/5/12"),
    ("a", "سجل جرام الذهب عيار 21 نحو 3100 جنيه في القاهرة، وعيار 18 نحو 2650 جنيها"),
    ("a", "نشر في 12 يناير 2025 - 09:30 ص بتوقيت مكة المكرمة"),
    ("a", "تم تحديثه الأحد 2025/3/2 7:15 م بتوقيت بيروت"),
    ("a", "للتواصل: press@example.org أو زوروا https://example.org/2025/1/1/report?x=5%"),
    ("a", "تراجع التضخم إلى 3.5 في المئة خلال أيار الماضي"),
    ("a", "بلغت الصادرات 1,250.75 مليار ريال سعودي و$12 bn من السندات"),
    ("a", "فاز الفريق 3-1 في مباراة أقيمت يوم 5/6/2023 في جنوب السودان"),
    ("a", "وقع الاتفاق في ٣ آب ٢٠٢٤ بحضور الوزير الروسي"),
    ("a", "بين 20 يناير الماضي و5 مارس المقبل صدرت أرقام 1-8-2024 ثم 2025.8.1"),
    ("a", "خاتم ذهب وسبيكة 24 قيراط"),
    ("a", "للاستفسار راسلونا على sales@deal50%.com"),
    ("a", "Reuters reported 5% growth in 2024"),
    ("a", "2024"),
    ("a", ""),
    ("a", None),
    ("a", "سجل جرام الذهب عيار 21 نحو 3100 جنيه في القاهرة، وعيار 18 نحو 2650 جنيها"),
    ("b", "اجتمع المجلس في 1 فبراير 2023 بمدينة دبي"),
    ("b", "وتعقد القمة المقبلة في 15 أكتوبر المقبل بالعاصمة السعودية الرياض"),
    ("b", "سجل جرام الذهب عيار 21 نحو 3100 جنيه في القاهرة، وعيار 18 نحو 2650 جنيها"),
    ("c", "سعر الجنيه المصري بتوقيت القاهرة 48.5 جنيه للدولار"),
    ("c", "قفزت الأسهم 7 بالمائة في بورصة دبي بعد 22 أيلول"),
    ("c", "قفزت الأسهم 7 بالمائة في بورصة دبي بعد 22 أيلول"),
]


@pytest.fixture(scope="module")
def segments() -> pl.DataFrame:
    raw = pl.DataFrame(
        {
            "doc_id": [doc for doc, _ in LINES],
            "line_no": list(range(1, len(LINES) + 1)),
            "line_text": [line for _, line in LINES],
        },
        schema={"doc_id": pl.String, "line_no": pl.Int64, "line_text": pl.String},
    )
    return normalize_segments(raw)


@pytest.fixture(scope="module")
def fast(segments: pl.DataFrame) -> pl.DataFrame:
    return extract_facts(segments)


def _every_row_its_own_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("text_norm").with_row_index(facts.TEXT)


def _row_is_its_text(frame: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    rows = frame.select("doc_id").with_row_index(facts.ROW)
    return rows.select(facts.ROW, "doc_id", pl.col(facts.ROW).alias(facts.TEXT))


def test_the_sentences_exercise_every_fact(fast: pl.DataFrame) -> None:
    # Guards the comparisons below against passing on empty results.
    assert fast["published_at"].drop_nulls().to_list() == [
        datetime.fromisoformat("2025-01-12T06:30:00+00:00"),
        datetime.fromisoformat("2025-03-02T17:15:00+00:00"),
    ]
    kinds = fast["quantities"].explode().struct.field("kind").drop_nulls().unique().sort().to_list()
    assert kinds == ["gold_price", "karat", "money", "percent"]
    # The repeated year-less line resolves in doc b (one reference) and not in doc a (several).
    assert fast["unresolved_dates"].to_list()[1] == ["15 اكتوبر المقبل"]
    assert fast["dates"].to_list()[20] == [date(2023, 10, 15)]
    assert fast["unresolved_dates"].to_list()[11] == ["20 يناير الماضي", "5 مارس المقبل"]
    assert fast["countries"].to_list()[9] == ["SS"]


def test_distinct_texts_give_what_every_row_gives(
    segments: pl.DataFrame, fast: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts, "distinct_texts", _every_row_its_own_text)
    monkeypatch.setattr(facts, "row_texts", _row_is_its_text)
    assert_frame_equal(extract_facts(segments), fast)


def test_hints_skip_only_texts_without_matches(
    segments: pl.DataFrame, fast: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty pattern matches every text: every pattern then runs on every text.
    for hint in ("DIGIT_HINT", "URL_HINT", "NUMERIC_DATE_HINT", "KARAT_HINT", "PUBLISH_HINT"):
        monkeypatch.setattr(facts, hint, "")
    assert_frame_equal(extract_facts(segments), fast)


def test_month_hint_skips_only_texts_without_text_dates(
    segments: pl.DataFrame, fast: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def every_text_has_a_month(texts: pl.Series, words: Collection[str]) -> tuple[pl.Series, pl.Series]:
        countries, _ = places.find_countries_and_words(texts, words)
        return countries, pl.repeat(True, texts.len(), eager=True)

    monkeypatch.setattr(facts, "find_countries_and_words", every_text_has_a_month)
    assert_frame_equal(extract_facts(segments), fast)


def test_kept_text_dates_have_a_month_word(segments: pl.DataFrame) -> None:
    parts = pl.col(facts.MATCH).str.extract_groups(facts.TEXT_DATE)
    kept = (
        segments.with_row_index("row")
        .select("row", pl.col("text_norm").str.extract_all(facts.TEXT_DATE).alias(facts.MATCH))
        .explode(facts.MATCH)
        .drop_nulls()
        .filter(parts.struct.field("mtail") == "")
    )
    _, has_month = places.find_countries_and_words(segments["text_norm"], facts.MONTH_WORDS)
    assert kept.height >= 5
    assert has_month.gather(kept["row"]).all()


def test_amount_shapes_parse_like_the_amounts(
    segments: pl.DataFrame, fast: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts, "SHAPE_DIGITS", r"[^\s\S]")  # matches nothing: each amount is its own shape
    assert_frame_equal(extract_facts(segments), fast)


def test_ngrams_limited_to_the_heads_span(
    segments: pl.DataFrame, fast: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    unlimited = places.TOKEN_TABLE.with_columns(
        pl.when(pl.col("head").is_not_null()).then(places.MAX_NAME_TOKENS).alias("span")
    )
    monkeypatch.setattr(places, "TOKEN_TABLE", unlimited)
    assert_frame_equal(extract_facts(segments), fast)


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        ("URL", "URL_HINT"),
        ("NUMERIC_DATE", "NUMERIC_DATE_HINT"),
        ("KARAT", "KARAT_HINT"),
        ("PUBLISH_CUE", "PUBLISH_HINT"),
        ("TEXT_DATE", "DIGIT_HINT"),
        ("QUANTITY", "DIGIT_HINT"),
        ("PUBLISHED", "DIGIT_HINT"),
    ],
)
def test_every_match_has_its_hint(segments: pl.DataFrame, pattern: str, hint: str) -> None:
    text = pl.col("text_norm")
    flags = segments.select(
        text.str.contains(getattr(facts, pattern)).alias("match"), text.str.contains(getattr(facts, hint)).alias("hint")
    ).drop_nulls()
    assert flags["match"].any()
    assert flags.filter(pl.col("match") & ~pl.col("hint")).is_empty()


def test_every_publish_cue_has_the_hint() -> None:
    assert all(re.search(facts.PUBLISH_HINT, cue) for cue in facts.PUBLISH_CUES)


def test_quantity_pattern_has_no_digit_literal() -> None:
    # What makes a shape (digits → 0) match exactly like its amount: digits only appear as [0-9].
    without_counts = re.sub(r"\{\d+(?:,\d*)?\}", "", facts.QUANTITY).replace("[0-9]", "").replace("[^0-9", "[^")
    assert "[0-9]" in facts.QUANTITY
    assert re.search("[0-9]", without_counts) is None


def test_numbers_read_at_the_shape_offsets(fast: pl.DataFrame, segments: pl.DataFrame) -> None:
    matches = segments.select(pl.col("text_norm").str.extract_all(facts.QUANTITY).alias(facts.MATCH)).explode(
        facts.MATCH
    )
    groups = pl.col(facts.MATCH).str.extract_groups(facts.QUANTITY)
    plain = matches.drop_nulls().select(
        facts.MATCH,
        pl.coalesce(*(groups.struct.field(name) for name in ("num", "gnum", "dnum"))).alias("number"),
    )
    shaped = plain.with_columns(pl.col(facts.MATCH).str.replace_all(facts.SHAPE_DIGITS, "0").alias("_shape"))
    located = shaped.join(facts.parse_shapes(shaped.select("_shape").unique()), on="_shape", how="left")
    read = located.select(pl.col(facts.MATCH).str.slice(pl.col("_offset"), pl.col("_length")).alias("number"))
    assert plain.height >= 8
    assert_frame_equal(read, plain.select("number"))


def test_zone_branches_only_for_zones_present() -> None:
    local = pl.DataFrame(
        {
            "naive": [datetime(2025, 8, 1, 10, 8), datetime(2025, 1, 15, 23, 45), datetime(2025, 3, 30, 2, 30)],
            "zone": ["Asia/Dubai", "Africa/Cairo", None],
        }
    )
    naive, zone = pl.col("naive"), pl.col("zone")
    every = local.select(facts.local_to_utc(naive, zone, facts.TIME_ZONES.values()))
    present = local.select(facts.local_to_utc(naive, zone, ["Africa/Cairo", "Asia/Dubai"]))
    assert_frame_equal(present, every)
