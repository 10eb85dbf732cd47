"""Fact extraction on the team's own sentences, per pattern family, and on the seed file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.facts import extract_facts
from akhbar.normalize import normalize_segments

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_9f5a928a3eee6293.txt"
QUANTITY = pl.Struct({"value": pl.Float64, "unit": pl.String, "kind": pl.String})


def _segments(lines: list[str | None], doc_ids: list[str] | None = None) -> pl.DataFrame:
    raw = pl.DataFrame(
        {
            "doc_id": doc_ids or ["doc-a"] * len(lines),
            "line_no": list(range(1, len(lines) + 1)),
            "line_text": lines,
        },
        schema={"doc_id": pl.String, "line_no": pl.Int64, "line_text": pl.String},
    )
    return normalize_segments(raw)


def _facts(*lines: str) -> pl.DataFrame:
    return extract_facts(_segments(list(lines)))


def _one(line: str, column: str) -> object:
    return _facts(line)[column].to_list()[0]


@pytest.fixture(scope="module")
def seed() -> pl.DataFrame:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    return extract_facts(_segments(list(lines), ["9f5a928a3eee6293"] * len(lines)))


def _seed_line(seed: pl.DataFrame, line_no: int) -> dict[str, Any]:
    return seed.filter(pl.col("line_no") == line_no).row(0, named=True)


# --- the seed (the "done means") ------------------------------------------------------------


def test_seed_publish_line_is_abu_dhabi_time_in_utc(seed: pl.DataFrame) -> None:
    assert _seed_line(seed, 11)["published_at"] == datetime(2025, 8, 1, 18, 8, tzinfo=UTC)
    assert seed["published_at"].drop_nulls().len() == 1


def test_seed_dates(seed: pl.DataFrame) -> None:
    assert date(2025, 8, 1) in _seed_line(seed, 14)["dates"]
    assert date(2025, 8, 1) in _seed_line(seed, 11)["dates"]
    # "15 أكتوبر/تشرين الأول المقبل" resolves from the document's own dates (all in 2025).
    assert _seed_line(seed, 2)["dates"] == [date(2025, 10, 15)]
    assert seed["unresolved_dates"].list.len().sum() == 0


def test_seed_quantities(seed: pl.DataFrame) -> None:
    assert {"value": 90.3, "unit": "%", "kind": "percent"} in _seed_line(seed, 12)["quantities"]
    assert {"value": 2.0, "unit": "%", "kind": "percent"} in _seed_line(seed, 10)["quantities"]


def test_seed_countries(seed: pl.DataFrame) -> None:
    assert {"SY", "RU"} <= set(_seed_line(seed, 1)["countries"])
    assert {"SY", "RU"} <= set(_seed_line(seed, 5)["countries"])
    assert _seed_line(seed, 9)["countries"] == ["EG"]


def test_output_dtypes(seed: pl.DataFrame) -> None:
    schema = seed.schema
    assert schema["dates"] == pl.List(pl.Date)
    assert schema["unresolved_dates"] == pl.List(pl.String)
    assert schema["published_at"] == pl.Datetime("us", "UTC")
    assert schema["quantities"] == pl.List(QUANTITY)
    assert schema["countries"] == pl.List(pl.String)


# --- dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "dates"),
    [
        pytest.param("عقد الاجتماع في 3 مارس 2024 بالعاصمة", [date(2024, 3, 3)], id="egyptian-month"),
        pytest.param("الخميس 5 يونيه 2025", [date(2025, 6, 5)], id="weekday-and-yunyah"),
        pytest.param("افتتح المعرض في 12 حزيران 2023", [date(2023, 6, 12)], id="levantine-month"),
        pytest.param("بدأ العام الدراسي 2 كانون الثاني 2026", [date(2026, 1, 2)], id="two-word-month"),
        pytest.param("في 9 تشرين الأول 2024", [date(2024, 10, 9)], id="tishreen-awwal"),
        pytest.param("منذ 4 آذار 2022 و7 آب 2021", [date(2021, 8, 7), date(2022, 3, 4)], id="madda-months"),
        pytest.param("يوم 15 أكتوبر/تشرين الأول 2025", [date(2025, 10, 15)], id="combined-slash"),
        pytest.param("في 8 أيلول (سبتمبر) 2025", [date(2025, 9, 8)], id="combined-brackets"),
        pytest.param("وقع الاتفاق في ٣ أغسطس ٢٠٢٥", [date(2025, 8, 3)], id="arabic-indic-digits"),
        pytest.param("ولد في 15 مايو عام 1990", [date(1990, 5, 15)], id="aam-before-year"),
        pytest.param("انطلق في 14 جويلية 2024", [date(2024, 7, 14)], id="maghrebi-month"),
        pytest.param("صدر القرار 2025/8/1", [date(2025, 8, 1)], id="numeric-ymd"),
        pytest.param("صدر القرار 1/8/2025", [date(2025, 8, 1)], id="numeric-dmy-slash"),
        pytest.param("صدر القرار 1-8-2025", [date(2025, 8, 1)], id="numeric-dmy-dash"),
        pytest.param("صدر القرار 2025-08-01", [date(2025, 8, 1)], id="numeric-iso"),
        pytest.param("في 1 أغسطس 2025 ثم 2025/8/1", [date(2025, 8, 1)], id="deduplicated"),
        pytest.param("حقق 2025 نقطة هذا الموسم", [], id="year-like-number-is-no-date"),
        pytest.param("خلال عام 2025", [], id="bare-year-is-no-date"),
        pytest.param("ارتفع الذهب يوم الجمعة 1", [], id="day-without-month"),
        pytest.param("في 31 فبراير 2025", [], id="impossible-day"),
        pytest.param("قابل 5 ابراهيم", [], id="ab-inside-a-word-is-no-august"),
        pytest.param("صدر في 1/8/25", [], id="two-digit-year"),
        pytest.param("انتهت المباراة 2/1", [], id="score-is-no-date"),
        pytest.param("سعر الأونصة 3350 في 1400/5/3", [], id="year-out-of-range"),
    ],
)
def test_dates(line: str, dates: list[date]) -> None:
    assert _one(line, "dates") == dates


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("صدر القرار ١٢٠७/٥/٣", id="devanagari-digit-in-a-date"),
        pytest.param("بلغ السعر ५० دولارا و 12० يورو", id="devanagari-digits-in-amounts"),
        pytest.param("عيار ২১ سجل ارتفاعا في ১/৮/2025", id="bengali-digits"),
    ],
)
def test_digits_of_other_scripts_are_not_read_and_do_not_fail(line: str) -> None:
    facts = _facts(line)
    assert facts.height == 1
    assert facts["dates"].to_list() == [[]]
    assert facts["quantities"].to_list() == [[]]


def test_year_less_date_without_reference_is_unresolved() -> None:
    facts = _facts("القمة في 15 أكتوبر المقبل")
    assert facts["dates"].to_list() == [[]]
    assert facts["unresolved_dates"].to_list() == [["15 اكتوبر المقبل"]]


def test_year_less_dates_resolve_from_the_documents_dates() -> None:
    facts = extract_facts(
        _segments(
            [
                "استقرت الأسعار اليوم الجمعة 1 أغسطس 2025",
                "تعقد القمة في 15 أكتوبر المقبل",
                "وكانت الأسعار قد ارتفعت في 20 يناير الماضي",
                "ويبدأ الموسم في 10 مارس المقبل",
                "وأغلق المصنع في 10 سبتمبر الماضي",
                "وصدر القرار في 3 يونيو",
                "وسيجتمع المجلس في 5 أغسطس الجاري",
            ]
        )
    )
    expected = pl.DataFrame(
        {
            "line_no": [1, 2, 3, 4, 5, 6, 7],
            "dates": [
                [date(2025, 8, 1)],
                [date(2025, 10, 15)],
                [date(2025, 1, 20)],
                [date(2026, 3, 10)],  # the next 10 March after 1 August 2025
                [date(2024, 9, 10)],  # the last 10 September before it
                [date(2025, 6, 3)],  # no qualifier: the year every full date shares
                [date(2025, 8, 5)],
            ],
            "unresolved_dates": [[]] * 7,
        },
        schema={"line_no": pl.Int64, "dates": pl.List(pl.Date), "unresolved_dates": pl.List(pl.String)},
    )
    assert_frame_equal(facts.select("line_no", "dates", "unresolved_dates"), expected)


def test_year_less_date_with_disagreeing_references_is_unresolved() -> None:
    facts = _facts("اجتماع 1 أغسطس 2025 بعد اجتماع 3 مارس 2024", "وفي 15 أكتوبر المقبل")
    assert facts["dates"].to_list() == [[date(2024, 3, 3), date(2025, 8, 1)], []]
    assert facts["unresolved_dates"].to_list() == [[], ["15 اكتوبر المقبل"]]


def test_year_less_date_never_uses_another_documents_dates() -> None:
    facts = extract_facts(_segments(["في 1 أغسطس 2025", "في 15 أكتوبر المقبل"], ["doc-a", "doc-b"]))
    assert facts["dates"].to_list() == [[date(2025, 8, 1)], []]
    assert facts["unresolved_dates"].to_list() == [[], ["15 اكتوبر المقبل"]]


# --- publish time -------------------------------------------------------------------------------------


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "published"),
    [
        pytest.param("تم تحديثه الجمعة 2025/8/1 10:08 م بتوقيت أبوظبي", _utc(2025, 8, 1, 18, 8), id="abu-dhabi-pm"),
        pytest.param("نشر في 1 أغسطس 2025 - 10:30 ص بتوقيت القاهرة", _utc(2025, 8, 1, 7, 30), id="cairo-summer-dst"),
        pytest.param("آخر تحديث: 2025/1/15 11:45 م بتوقيت القاهرة", _utc(2025, 1, 15, 21, 45), id="cairo-winter"),
        pytest.param("نشر بتاريخ 1-8-2025 12:05 ص بتوقيت مكة", _utc(2025, 7, 31, 21, 5), id="mecca-midnight-am"),
        pytest.param("نشر في 2025/8/1 12:30 م بتوقيت الرياض", _utc(2025, 8, 1, 9, 30), id="riyadh-noon-pm"),
        pytest.param("تم تحديثه الخميس 31/07/2025 09:15 بتوقيت غرينتش", _utc(2025, 7, 31, 9, 15), id="greenwich-24h"),
        pytest.param("تاريخ النشر 2025-08-01 10:00 GMT+3", _utc(2025, 8, 1, 7, 0), id="gmt-offset"),
        pytest.param("نشر في 2025/8/1 08:00 ص بتوقيت بيروت", _utc(2025, 8, 1, 5, 0), id="beirut-summer"),
        pytest.param(
            "نشر في: الجمعة، 01 أغسطس 2025 - 10:08 م بتوقيت القاهرة", _utc(2025, 8, 1, 19, 8), id="weekday-comma-dash"
        ),
        pytest.param("آخر تحديث 2025/8/1 الساعة 22:08 بتوقيت الدوحة", _utc(2025, 8, 1, 19, 8), id="al-saa-24h"),
        pytest.param("نشر بتاريخ ٢٠٢٥/٨/١ ١٠:٠٨ م", _utc(2025, 8, 1, 22, 8), id="no-zone-is-utc"),
        pytest.param("نشر في 1 أغسطس 2025", _utc(2025, 8, 1), id="no-time-is-midnight-utc"),
        pytest.param("الاجتماع 2025/8/1 الساعة 10:08 م بتوقيت أبوظبي", None, id="no-publish-cue"),
        pytest.param("نشر في صحيفة الأهرام مقال عن الاقتصاد", None, id="cue-without-date"),
    ],
)
def test_published_at(line: str, published: datetime | None) -> None:
    assert _one(line, "published_at") == published


# --- quantities ---------------------------------------------------------------------------------------


def _q(value: float, unit: str, kind: str) -> dict[str, object]:
    return {"value": value, "unit": unit, "kind": kind}


@pytest.mark.parametrize(
    ("line", "quantities"),
    [
        pytest.param("ارتفع المؤشر بنسبة 2%", [_q(2.0, "%", "percent")], id="percent-sign"),
        pytest.param("شكلت 90.3% من التعاملات", [_q(90.3, "%", "percent")], id="percent-decimal"),
        pytest.param("نما الاقتصاد ٢٫٥٪", [_q(2.5, "%", "percent")], id="percent-arabic-indic"),
        pytest.param("زاد بنسبة 2 في المئة", [_q(2.0, "%", "percent")], id="fi-al-mia"),
        pytest.param("تراجع 3 بالمئة و4 في المائة", [_q(3.0, "%", "percent"), _q(4.0, "%", "percent")], id="bil-mia"),
        pytest.param("صفقة بقيمة 50 مليون دولار", [_q(5e7, "USD", "money")], id="usd-million"),
        pytest.param("استثمارات بـ2.5 مليار جنيه", [_q(2.5e9, "EGP", "money")], id="egp-billion"),
        pytest.param("بيع بسعر 300 ريال قطري", [_q(300.0, "QAR", "money")], id="qualified-riyal"),
        pytest.param("راتب 7 آلاف ريال", [_q(7000.0, "SAR", "money")], id="bare-riyal-default-sar"),
        pytest.param("غرامة 1,500 درهم", [_q(1500.0, "AED", "money")], id="thousands-comma-dirham"),
        pytest.param("دفع 10 دنانير كويتية", [_q(10.0, "KWD", "money")], id="qualified-dinar"),
        pytest.param("دفع 10 دنانير", [_q(10.0, "DINAR", "money")], id="bare-dinar-generic"),
        pytest.param("بلغ 5 ليرات تركية", [_q(5.0, "TRY", "money")], id="qualified-lira"),
        pytest.param("بلغ 5 آلاف ليرة", [_q(5000.0, "LIRA", "money")], id="bare-lira-generic"),
        pytest.param("تكلفة 20 يورو", [_q(20.0, "EUR", "money")], id="euro"),
        pytest.param("منحة 1.5 مليون جنيه إسترليني", [_q(1.5e6, "GBP", "money")], id="sterling"),
        pytest.param("قيمتها $5 billion", [_q(5e9, "USD", "money")], id="dollar-sign-before"),
        pytest.param("قيمتها 100$ فقط", [_q(100.0, "USD", "money")], id="dollar-sign-after"),
        pytest.param("سجلت 3350 دولارا للأونصة", [_q(3350.0, "USD/oz", "gold_price")], id="per-ounce"),
        pytest.param("بلغ 4600 جنيه للجرام", [_q(4600.0, "EGP/g", "gold_price")], id="per-gram"),
        pytest.param("سعر الأوقية 3300 دولار", [_q(3300.0, "USD/oz", "gold_price")], id="ounce-before-price"),
        pytest.param(
            "سعر جرام الذهب عيار 21 يسجل 4600 جنيه",
            [_q(4600.0, "EGP/g", "gold_price"), _q(21.0, "K", "karat")],
            id="gram-karat-price",
        ),
        pytest.param("خاتم عيار 18 وسبيكة 24 قيراط", [_q(18.0, "K", "karat"), _q(24.0, "K", "karat")], id="karats"),
        pytest.param("زيارة https://x.com/a%20b و https://x.com/50%20off", [], id="percent-inside-url"),
        pytest.param("حقق 2025 نقطة", [], id="bare-number"),
        pytest.param("بلغت الصفقة 50 مليون", [], id="money-without-currency"),
        pytest.param("يبدأ في 5 يناير", [], id="yanayir-is-no-yen"),
        pytest.param("عيار 99 من الفضة", [], id="karat-out-of-range"),
    ],
)
def test_quantities(line: str, quantities: list[dict[str, object]]) -> None:
    assert _one(line, "quantities") == quantities


# --- the frame contract -------------------------------------------------------------------------------


def test_rows_and_other_columns_pass_through_in_order() -> None:
    segments = _segments(["نشر في 1 أغسطس 2025", "زار سوريا", None, ""], ["b", "a", "b", "a"])
    segments = segments.with_columns(pl.Series("extra", [3, 1, 4, 1]))
    facts = extract_facts(segments)
    assert_frame_equal(facts.select(segments.columns), segments)
    assert facts["countries"].to_list() == [[], ["SY"], [], []]
    assert facts["dates"].to_list() == [[date(2025, 8, 1)], [], [], []]


def test_existing_fact_columns_are_recomputed() -> None:
    once = _facts("زار سوريا في 1 أغسطس 2025")
    assert_frame_equal(extract_facts(once.drop("quantities")), once)


def test_empty_input() -> None:
    facts = extract_facts(_segments([]))
    assert facts.height == 0
    assert facts.schema["quantities"] == pl.List(QUANTITY)
    assert facts.schema["published_at"] == pl.Datetime("us", "UTC")
