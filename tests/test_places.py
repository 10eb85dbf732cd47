"""Country mentions: names, capitals, nisba forms, clitics, and the documented non-matches."""

from __future__ import annotations

import polars as pl
import pytest

from akhbar import places
from akhbar.normalize import normalize_text
from akhbar.places import PLACE_LOOKUP, TOKEN_TABLE, find_countries


def _countries(*raw: str | None) -> list[list[str]]:
    texts = pl.DataFrame({"t": list(raw)}, schema={"t": pl.String}).select(normalize_text(pl.col("t")))["t"]
    return find_countries(texts).to_list()


SENTENCES = [
    pytest.param("زار الوفد سوريا ثم روسيا", ["RU", "SY"], id="short-names"),
    pytest.param("وصل الرئيس إلى القاهرة قادما من واشنطن", ["EG", "US"], id="capitals"),
    pytest.param("اجتمع الوزيران السوريان مع نظيريهما الروسيين", ["RU", "SY"], id="nisba-dual-plural"),
    pytest.param("القاعدتان الروسيتان والقاعدتين الروسيتين", ["RU"], id="nisba-feminine-dual"),
    pytest.param("أكد المسؤولون المصريون والإيرانيين", ["EG", "IR"], id="nisba-plural"),
    pytest.param("العقوبات الأمريكية والموقف الأميركي", ["US"], id="nisba-both-spellings"),
    pytest.param("الدعم الروسي لسوريا وبموسكو وللإمارات", ["AE", "RU", "SY"], id="clitics"),
    pytest.param("والسعودية وفرنسا وكالصين", ["CN", "FR", "SA"], id="waw-and-kaf-clitics"),
    pytest.param("الجمهورية العربية السورية", ["SY"], id="pycountry-official-name"),
    pytest.param("التقى مسؤولون من المملكة العربية السعودية", ["SA"], id="multi-word-with-clitic"),
    pytest.param("للولايات المتحدة وكوريا الجنوبية", ["KR", "US"], id="multi-word-with-lam"),
    pytest.param("انفصال جنوب السودان", ["SS"], id="longest-match-wins-over-sudan"),
    pytest.param("رئيس روسيا البيضاء", ["BY"], id="longest-match-wins-over-russia"),
    pytest.param("الحكومة في طرطوس وحميميم", ["SY"], id="city"),
    pytest.param("بيان الكرملين والبيت الأبيض", ["RU", "US"], id="seats-of-government"),
    pytest.param("الروس والأتراك", ["RU", "TR"], id="irregular-plurals"),
    pytest.param("مسؤول في سلطنة عمان", ["OM"], id="oman-qualified"),
    pytest.param("وصل الوفد إلى عمان", [], id="bare-oman-amman-is-ambiguous"),
    pytest.param("في العاصمة الأردنية عمان", ["JO"], id="amman-through-its-nisba"),
    pytest.param("قرض من مصرف الإمارات", ["AE"], id="masr-inside-masraf-is-no-egypt"),
    pytest.param("تحسن الوضع المالي للشركة", [], id="mali-is-financial"),
    pytest.param("سجل الهدف بقدمه اليمنى", [], id="right-foot-is-not-yemen"),
    pytest.param("الحكومة اليمنية", ["YE"], id="yemeni-feminine-still-matches"),
    pytest.param("سعر الجنيه المصري مقابل الدولار الأمريكي", [], id="currency-nisba-is-no-place"),
    pytest.param("وصل إلى 50 جنيها مصريا", [], id="currency-nisba-accusative"),
    pytest.param("الساعة 10 مساء بتوقيت مكة المكرمة", [], id="time-zone-is-no-place"),
    pytest.param("دول أمريكا اللاتينية", [], id="latin-america-is-not-us"),
    pytest.param("بعد صلاة المغرب", [], id="sunset-prayer-is-not-morocco"),
    pytest.param("المغرب والجزائر", ["DZ", "MA"], id="morocco"),
    pytest.param("جنوب، السودان", ["SD"], id="punctuation-breaks-multi-word-names"),
    pytest.param("كوريا", [], id="korea-alone-is-ambiguous"),
    pytest.param("المالديف ومولدوفا", ["MD", "MV"], id="pycountry-erratum-fixed"),
    pytest.param("سوريا سوريا سوريا", ["SY"], id="deduplicated"),
    pytest.param("no arabic here, Syria", [], id="latin-text"),
    pytest.param("", [], id="empty"),
    pytest.param(None, [], id="null"),
]


@pytest.mark.parametrize(("sentence", "codes"), SENTENCES)
def test_find_countries(sentence: str | None, codes: list[str]) -> None:
    assert _countries(sentence) == [codes]


def test_ngrams_only_as_long_as_their_heads_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    sentences = [param.values[0] for param in SENTENCES]
    limited = _countries(*sentences)
    unlimited = TOKEN_TABLE.with_columns(
        pl.when(pl.col("head").is_not_null()).then(places.MAX_NAME_TOKENS).alias("span")
    )
    monkeypatch.setattr(places, "TOKEN_TABLE", unlimited)
    assert _countries(*sentences) == limited
    assert sum(map(len, limited)) >= 30


def test_span_is_the_longest_key_of_a_head() -> None:
    spans = dict(TOKEN_TABLE.filter(pl.col("head").is_not_null()).select("token", "span").iter_rows())
    assert spans["جنوب"] == 2
    assert spans["الولايات"] == 3  # "الولايات المتحدة الامريكية"
    assert spans["بين"] == 2  # ب + ين (yen): a currency marker before a nisba


def test_spread_keeps_rows_in_order() -> None:
    frame = pl.DataFrame({"n": list(range(7))})
    spread = places.spread(frame)
    assert spread.equals(frame)
    assert 1 <= spread.n_chunks() <= pl.thread_pool_size()
    assert places.spread(frame.head(0)).height == 0


def test_find_countries_keeps_row_order_and_length() -> None:
    assert _countries("موسكو", None, "", "دمشق والقاهرة", "لا شيء") == [["RU"], [], [], ["EG", "SY"], []]


def test_batches_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["موسكو", "", "جنوب السودان", "لا شيء", "دمشق"] * 3
    whole = _countries(*texts)
    monkeypatch.setattr(places, "BATCH_ROWS", 2)
    assert _countries(*texts) == whole


def test_find_countries_on_empty_series() -> None:
    result = find_countries(pl.Series("t", [], dtype=pl.String))
    assert result.dtype == pl.List(pl.String) and result.len() == 0


def test_lookup_is_in_text_norm_form() -> None:
    # Keys were normalized like text_norm: no hamza-alef, no alef maqsura, no diacritics.
    assert PLACE_LOOKUP.filter(pl.col("key").str.contains("[أإآىًٌٍَُِّْ]")).is_empty()
    assert PLACE_LOOKUP["key"].is_unique().all()
    assert TOKEN_TABLE["token"].is_unique().all()


@pytest.mark.parametrize("key", ["عمان", "مالي", "كوريا", "الكونغو", "طرابلس", "اليمني"])
def test_ambiguous_or_common_words_are_not_keys(key: str) -> None:
    assert PLACE_LOOKUP.filter(pl.col("key") == key).is_empty()
