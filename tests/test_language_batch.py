"""The batch detector answers as stock langdetect (seeded), text for text: corpus, hand-written and arbitrary texts."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from akhbar import langdetect_batch
from akhbar.langdetect_batch import BatchDetector, NgramTable, RandomStream, python_sum, reference_detect
from akhbar.language import DETECTION_PREFIX_CHARS, batch_detector, langdetect_factory

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT.parent / "shared" / "data" / "news_corpus.jsonl.gz"
#: Corpus paragraph prefixes compared with stock langdetect (every STRIDE-th paragraph, for variety).
CORPUS_SAMPLE = 400
CORPUS_STRIDE = 37
#: langdetect's probability may differ from the reference by no more than this.
PROB_TOLERANCE = 1e-9

#: Hand-written texts: Arabic with and without diacritics, Persian, Urdu, mixed scripts, acronyms,
#: URLs and e-mail addresses, Vietnamese combining marks, very short, empty, digits and symbols only.
TEXTS = [
    "أعلنت وزارة الصحة عن حملة تطعيم جديدة تبدأ الأسبوع المقبل في جميع المحافظات",
    "دمار هائل",
    "تقييم إيجابي",
    "سيداتي سادتي",
    "فرانس24/ أ ف ب",
    "وَقَّعَ الطَّرَفَانِ اتِّفَاقِيَّةً لِلتَّعَاوُنِ الاقْتِصَادِيِّ",
    "قال رئيس نادي الزمالك إن الفريق سيواجه Real Madrid في مباراة ودية بالقاهرة",
    "للمزيد زوروا https://news.example.org/a?b=1&c=2 أو اكتبوا إلى desk@example.org اليوم",
    "دولت ایران امروز بودجه سال آینده را به مجلس شورای اسلامی ارائه کرد",
    "وزیراعظم نے کہا کہ حکومت مہنگائی کم کرنے کے لیے اقدامات کر رہی ہے",
    "The UN Security Council met on Friday to discuss the ceasefire proposal",
    "NATO AND THE EU AGREED ON A NEW PACKAGE",
    "Le gouvernement a présenté son budget mercredi à l'Assemblée nationale",
    "Thu tuc hanh chinh: Thủ tướng đã ký quyết định",
    "Người dân đã đến",  # combining marks (decomposed): langdetect's Vietnamese rewrite
    "Правительство утвердило новый бюджет на следующий год",
    "政府今天公布了新的经济计划",
    "日本の首相は記者会見で新しい政策を発表した",
    "대통령은 오늘 기자회견을 열었다",
    "ب",
    "a",
    "e",  # every trial runs to langdetect's 1,000-iteration limit (es, en, … never pass 0.99999)
    "",
    " ",
    "2026/12/06 - 11:45",
    "١٢٣٤ ٥٦٧",
    "!!! ??? ...",
    "\u200f\u200e",
    "ك ي ة ى ال",
    "x" * 12_000,
    ("خبر " * 3_000) + "news",
]


@pytest.fixture(scope="module")
def detector() -> BatchDetector:
    """The process's batch detector."""
    return batch_detector()


@pytest.fixture(scope="module")
def factory() -> Any:
    """langdetect's profiles (the reference path's factory)."""
    return langdetect_factory()


def assert_same_as_reference(factory: Any, detector: BatchDetector, texts: list[str]) -> None:
    """Batch detection of ``texts`` gives the reference language, and its probability within the tolerance."""
    for text, (lang, prob) in zip(texts, detector.detect(texts), strict=True):
        expected_lang, expected_prob = reference_detect(factory, text)
        assert lang == expected_lang, text
        if expected_prob is None:
            assert prob is None, text
        else:
            assert prob is not None and abs(prob - expected_prob) <= PROB_TOLERANCE, text


def test_hand_written_texts_match_stock_langdetect(factory: Any, detector: BatchDetector) -> None:
    assert_same_as_reference(factory, detector, TEXTS)


def test_each_text_alone_and_in_a_batch_gets_the_same_answer(detector: BatchDetector) -> None:
    together = detector.detect(TEXTS + TEXTS[::-1])
    alone = [detector.detect([text])[0] for text in TEXTS]
    assert together == alone + alone[::-1]


def test_prefixes_of_a_long_text_match_stock_langdetect(factory: Any, detector: BatchDetector) -> None:
    paragraph = " ".join(TEXTS[:10])
    assert_same_as_reference(factory, detector, [paragraph[:length] for length in range(0, len(paragraph), 5)])


@pytest.mark.parametrize(("batch", "stragglers"), [(3, 0), (3, 10), (8, 4), (5, 2)])
def test_chunks_and_stragglers_give_the_same_answers(
    monkeypatch: pytest.MonkeyPatch, detector: BatchDetector, batch: int, stragglers: int
) -> None:
    texts = TEXTS + [" ".join(TEXTS[:8])[:length] for length in range(3, 200, 9)]
    whole = detector.detect(texts)
    monkeypatch.setattr(langdetect_batch, "BATCH_TEXTS", batch)
    monkeypatch.setattr(langdetect_batch, "STRAGGLERS", stragglers)  # stop chunks early, resume later
    monkeypatch.setattr(langdetect_batch, "COMPACT_SHARE", 0.0)  # compact after every finished text
    assert detector.detect(texts) == whole


def test_threads_detecting_at_once_get_the_serial_answers(factory: Any, detector: BatchDetector) -> None:
    texts = TEXTS + [text[::-1] for text in TEXTS]
    serial = detector.detect(texts)
    fresh = BatchDetector(factory)  # its character tables fill while the threads run
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda _: fresh.detect(texts), range(4))) == [serial] * 4


def test_no_texts() -> None:
    assert batch_detector().detect([]) == []


def corpus_prefixes(count: int, stride: int) -> Iterator[str]:
    """Every ``stride``-th paragraph prefix of the corpus, ``count`` of them."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        paragraphs = (paragraph for line in lines for paragraph in json.loads(line)["paragraphs"])
        yield from itertools.islice((p[:DETECTION_PREFIX_CHARS] for p in paragraphs), 0, count * stride, stride)


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not beside the repository")
def test_corpus_prefixes_match_stock_langdetect(factory: Any, detector: BatchDetector) -> None:
    texts = list(corpus_prefixes(CORPUS_SAMPLE, CORPUS_STRIDE))
    assert len(texts) == CORPUS_SAMPLE
    assert_same_as_reference(factory, detector, texts)


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=60), min_size=1, max_size=6))
def test_arbitrary_strings_match_stock_langdetect(texts: list[str]) -> None:
    assert_same_as_reference(langdetect_factory(), batch_detector(), texts)


#: Arabic, Persian and Latin letters, spaces and digits: strings that do have n-grams in the profiles.
LETTERS = "ابتثجحخدذرسشصضطظعغفقكلمنهويةىءأإآپچژگکی ABCabcéz 0123"


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=LETTERS, min_size=1, max_size=90), min_size=1, max_size=6))
def test_arbitrary_letter_strings_match_stock_langdetect(texts: list[str]) -> None:
    assert_same_as_reference(langdetect_factory(), batch_detector(), texts)


#: Pieces of URLs, e-mail addresses and Vietnamese combining marks: langdetect's ``append`` rules.
APPEND_RULE_PIECES = ["http", "https://", "www.", "@", "news", "a.b", "/x?y=1", " ", "ê", "\u0301", "\u0323", "خبر"]


@settings(max_examples=100, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(APPEND_RULE_PIECES), max_size=12).map("".join), min_size=1, max_size=6))
def test_urls_mails_and_marks_match_stock_langdetect(texts: list[str]) -> None:
    assert_same_as_reference(langdetect_factory(), batch_detector(), texts)


# --- the pieces ---------------------------------------------------------------------------------------


def test_stream_words_and_gaussian_pairs_are_pythons() -> None:
    stream = RandomStream(0, words=64)
    sampler = random.Random(0)
    assert stream.words.tolist() == [sampler.getrandbits(32) for _ in range(64)]
    for position in (0, 1, 7, 30):
        sampler = random.Random(0)
        for _ in range(position):
            sampler.getrandbits(32)
        assert stream.gauss_pair(position) == (sampler.gauss(0.0, 1.0), sampler.gauss(0.0, 1.0))


def test_accepted_draws_are_those_of_choice() -> None:
    stream = RandomStream(0, words=512)
    for count in (1, 2, 3, 5, 64, 65, 190):
        positions, values = stream.accepted(count, needed=200)
        sampler = random.Random(0)
        drawn = [sampler.choice(range(count)) for _ in range(len(values) - 1)]
        assert values[: len(drawn)].tolist() == drawn
        assert (positions < len(stream.words)).all()


def test_a_stream_too_short_is_refused_not_misread() -> None:
    with pytest.raises(RuntimeError, match="random stream too short"):
        RandomStream(0, words=16).accepted(3, needed=100)


def neumaier_sum(values: list[float]) -> float:
    """CPython 3.12's ``sum`` of floats (builtin_sum_impl), written out."""
    total, compensation = 0.0, 0.0
    for value in values:
        step = total + value
        if abs(total) >= abs(value):
            compensation += (total - step) + value
        else:
            compensation += (value - step) + total
        total = step
    if compensation and math.isfinite(compensation):
        total += compensation
    return total


def test_row_sums_are_pythons_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = np.random.default_rng(0).random((50, 55)) ** 8  # spread magnitudes: rounding shows
    rows[0] = [1e-300, 1.0, 1e-17, 3.0, *[1e-16] * 51]
    assert python_sum(rows).tolist() == [sum(row) for row in rows.tolist()]
    monkeypatch.setattr(langdetect_batch, "sum_is_compensated", lambda: True)  # Python 3.12's sum, on any Python
    assert python_sum(rows).tolist() == [neumaier_sum(row) for row in rows.tolist()]


def test_ngram_table_finds_every_key_and_no_other() -> None:
    keys = np.array([5, 7, 1 << 40, (3 << 21) | 9, 11, 2**62], dtype=np.int64)
    table = NgramTable(keys)
    assert table.rows(keys).tolist() == list(range(len(keys)))
    assert table.rows(np.array([6, 8, 1 << 41, 0], dtype=np.int64)).tolist() == [-1] * 4


def test_an_unseeded_factory_is_refused() -> None:
    class Unseeded:
        seed = None

    with pytest.raises(ValueError, match="seeded langdetect only"):
        BatchDetector(Unseeded())
