"""The shared Arabic vocabulary: clitic chains, the ل + ال rule, currency words, normalization."""

from __future__ import annotations

import tomllib
from importlib import resources

import polars as pl
from polars.testing import assert_series_equal

from akhbar import arabic, facts, places
from akhbar.arabic import ARTICLE, PROCLITICS, article_forms, is_arabic, normalize_words, with_proclitics


def test_proclitic_chains() -> None:
    assert PROCLITICS == ("و", "ف", "ب", "ل", "ك", "وب", "ول", "وك", "فب", "فل", "فك")


def test_packaged_taxonomy_uses_the_shared_clitics() -> None:
    # The taxonomy file stays the user's to edit; the packaged one must not drift from the module.
    document = tomllib.loads(resources.files("akhbar").joinpath("taxonomy.toml").read_text(encoding="utf-8"))
    assert tuple(document["morphology"]["clitics"]) == PROCLITICS


def test_article_forms_contract_lam_and_article() -> None:
    forms = article_forms("سفير", ("و", "ل", "ول"))
    assert forms == ["السفير", "والسفير", "للسفير", "وللسفير"]
    # A stem starting with ل: the literal three-lam spelling and the written two-lam one.
    assert article_forms("ليرة", ("ل",)) == ["الليرة", "للليرة", "لليرة"]


def test_with_proclitics_reads_a_leading_al_both_ways() -> None:
    forms = with_proclitics("السعودية", ("ل",))
    assert forms == sorted({"السعودية", "لالسعودية", "للسعودية"})
    assert with_proclitics("مصر", ("و", "ب")) == ["بمصر", "مصر", "ومصر"]


def test_is_arabic() -> None:
    assert [is_arabic(char) for char in ("م", "x", "1", "\u06ff")] == [True, False, False, True]


def test_normalize_words_is_the_text_norm_form() -> None:
    words = ["أسعار", "الذَّهَب", "إيران"]
    expected = pl.Series(["اسعار", "الذهب", "ايران"])
    assert_series_equal(pl.Series(normalize_words(words)), expected)
    assert ARTICLE == "ال"


def test_currency_words_have_one_home() -> None:
    # Places read every currency word; facts only those with a unit, plus Latin spellings.
    assert tuple(arabic.CURRENCY_FORMS) == places.CURRENCY_WORDS
    arabic_in_facts = {form for form in facts.CURRENCY_WORDS if is_arabic(form[0])}
    with_unit = {form for form, base in arabic.CURRENCY_FORMS.items() if base in facts.DEFAULT_CURRENCY}
    assert arabic_in_facts == with_unit
    assert set(arabic.CURRENCY_FORMS.values()) <= set(arabic.CURRENCY_FORMS)


def test_places_find_a_lam_initial_name_after_lam() -> None:
    # ل + اللاذقية is written للاذقية: the shared rule gives places that spelling too.
    found = places.find_countries(pl.Series(["وصل الوفد للاذقية", "عاد الوفد الى اللاذقية"]))
    assert found.to_list() == [["SY"], ["SY"]]
