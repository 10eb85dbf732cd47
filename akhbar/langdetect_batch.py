"""langdetect's algorithm on many texts at once, as numpy arrays: stock langdetect's answers, >10x faster.

langdetect (1.0.9) detects one text at a time: it cleans the text, lists its n-grams, reseeds its
sampler with ``DetectorFactory.seed`` and runs 7 trials; each trial starts from uniform
probabilities, draws n-grams at random and multiplies the 55 language probabilities by the drawn
n-gram's profile (plus a smoothing ``alpha`` with gaussian noise), normalizing every 5 draws until
one language passes 0.99999 or 1,000 draws are done. This module does the same arithmetic for a
whole batch:

* the n-grams of every text come from one flat array of code points (a character table built
  from langdetect's own ``NGram.normalize``, looked up in a hash table of the profiles' n-grams);
* because the sampler is reseeded for every text, all texts read *the same* Mersenne Twister word
  stream: it is generated once. A draw among ``n`` n-grams is ``word >> (32 - n.bit_length())``,
  rejected when ``>= n`` (CPython's ``choice``), so the accepted draws for each n-gram count are
  computed once and each text only advances an index into them; the gaussian noise of a trial
  depends only on the stream position where the trial starts (memoised, computed with Python's own
  ``math`` functions so that it is bit for bit ``random.gauss``);
* trials of all texts advance together as a ``texts × languages`` array; texts that converge
  start their next trial (or finish) while the others go on; the few that run to the iteration
  limit are set aside (:class:`Trials`) and finished together with the other chunks' at the end.

Every floating-point operation is langdetect's, in langdetect's order (element-wise products and
quotients are correctly rounded in numpy as in Python; the normalizing sum is accumulated in
Python's order, see :func:`python_sum`), so language and probability equal stock langdetect's;
tests/test_language_batch.py checks it against :func:`reference_detect` (one text through stock
langdetect) on the corpus, on hand-written texts and on arbitrary strings.
"""

from __future__ import annotations

import math
import random
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from langdetect.detector import Detector
from langdetect.lang_detect_exception import LangDetectException
from langdetect.utils.ngram import NGram

#: A language code as langdetect spells it and its probability; (None, None) when undetermined.
Detection = tuple[str | None, float | None]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Mersenne Twister words generated up front. A text consumes at most 7 trials x 1,001 accepted
#: draws (plus 16 words of gaussian noise); about half of the words or more are accepted whatever
#: the n-gram count, so 2^15 words (≥ ~16k draws) leave a wide margin — :meth:`RandomStream.accepted`
#: still checks it.
STREAM_WORDS = 1 << 15
#: Texts advanced together: bounds the ``texts x languages`` arrays (≈0.5 KB per text each).
BATCH_TEXTS = 4_096
#: A chunk's run stops when fewer of its texts than this are still running (texts that need many
#: iterations); they are finished together with the other chunks' at the end.
STRAGGLERS = BATCH_TEXTS // 8
#: Compact the working arrays once this share of their rows belongs to finished texts.
COMPACT_SHARE = 0.25
#: Bits per code point in an n-gram key: three code points fit in 63 bits.
CODE_POINT_BITS = 21
SPACE = ord(" ")
#: The combining marks langdetect's ``append`` composes with a preceding Vietnamese vowel. Texts with
#: one, with "@" or "http" (e-mail addresses, URLs) take langdetect's own regular expressions, in
#: Python (they are rare).
VIETNAMESE_MARKS = np.array([ord(mark) for mark in NGram.DMARK_CLASS], dtype=np.int64)
#: CPython's ``random()``: 53 random bits from two 32-bit words.
TWO_POW_26 = 67108864.0
INV_TWO_POW_53 = 1.0 / 9007199254740992.0
TWOPI = 2.0 * math.pi


def reference_detect(factory: Any, text: str) -> Detection:
    """One text through stock langdetect (``factory.create()``): the readable reference path."""
    detector = factory.create()
    detector.append(text)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:  # no n-gram of the text is in the profiles
        return None, None
    if not ranked:  # no language above langdetect's 0.1 reporting threshold
        return None, None
    return ranked[0].lang, float(ranked[0].prob)


@dataclass(frozen=True)
class Settings:
    """langdetect's detector constants, read from langdetect so that a new version cannot drift."""

    alpha: float = Detector.ALPHA_DEFAULT
    alpha_width: float = Detector.ALPHA_WIDTH
    base_freq: int = Detector.BASE_FREQ
    iteration_limit: int = Detector.ITERATION_LIMIT
    conv_threshold: float = Detector.CONV_THRESHOLD
    prob_threshold: float = Detector.PROB_THRESHOLD
    n_trial: int = 7
    max_text_length: int = 10000

    @classmethod
    def of(cls, factory: Any) -> Settings:
        """The settings of the detectors ``factory`` creates (some are only set in ``Detector.__init__``)."""
        detector = factory.create()
        return cls(alpha=detector.alpha, n_trial=detector.n_trial, max_text_length=detector.max_text_length)


@cache
def sum_is_compensated() -> bool:
    """Whether this Python's ``sum`` of floats is compensated (Neumaier, Python >= 3.12)."""
    return sum([1.0, 1e100, 1.0, -1e100]) == 2.0


def python_sum(rows: FloatArray) -> FloatArray:
    """Python's ``sum`` of each row, bit for bit (langdetect normalizes with the builtin ``sum``)."""
    if not sum_is_compensated():
        # Left to right: numpy's accumulate is sequential (its ``sum`` is pairwise, rounded otherwise).
        return np.add.accumulate(rows, axis=1)[:, -1].copy() if rows.shape[1] else np.zeros(len(rows))
    # CPython >= 3.12: Neumaier's compensated sum, as in builtin_sum_impl, one column at a time.
    total = np.zeros(len(rows))
    compensation = np.zeros(len(rows))
    for column in rows.T:
        step = total + column
        compensation += np.where(np.abs(total) >= np.abs(column), (total - step) + column, (column - step) + total)
        total = step
    usable = (compensation != 0.0) & np.isfinite(compensation)
    return np.where(usable, total + compensation, total)


class RandomStream:
    """The word stream of ``random.Random(seed)``, with the draws ``choice`` makes from it per count."""

    def __init__(self, seed: int, words: int = STREAM_WORDS) -> None:
        raw = random.Random(seed).getrandbits(32 * words).to_bytes(4 * words, "little")
        # getrandbits(32k) packs the k words generated in order from the least significant one.
        self.words = np.frombuffer(raw, dtype="<u4").astype(np.int64)
        self._accepted: dict[tuple[int, int], tuple[IntArray, IntArray]] = {}
        self._gauss: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def accepted(self, count: int, needed: int) -> tuple[IntArray, IntArray]:
        """Stream positions and values of the first ``needed`` draws ``choice`` makes among ``count`` items.

        A text reads at most ``needed`` of them (its draws, plus those its gaussian noise skips),
        so only those are kept: ≈110 KB per n-gram count.
        """
        with self._lock:
            found = self._accepted.get((count, needed))
            if found is None:
                values = self.words >> (32 - count.bit_length())
                positions = np.flatnonzero(values < count)
                if len(positions) < needed:  # cannot happen with STREAM_WORDS (>= ~50% accepted); never silent
                    raise RuntimeError(f"random stream too short for {count} n-grams: {len(positions)} < {needed}")
                positions = positions[:needed]
                found = self._accepted[count, needed] = (positions, values[positions])
        return found

    def gauss_pair(self, position: int) -> tuple[float, float]:
        """The two normal deviates ``random.gauss`` makes from the 4 words at ``position``."""
        pair = self._gauss.get(position)
        if pair is None:
            a, b, c, d = (int(word) for word in self.words[position : position + 4])
            first = ((a >> 5) * TWO_POW_26 + (b >> 6)) * INV_TWO_POW_53
            second = ((c >> 5) * TWO_POW_26 + (d >> 6)) * INV_TWO_POW_53
            x2pi = first * TWOPI
            g2rad = math.sqrt(-2.0 * math.log(1.0 - second))
            pair = self._gauss[position] = (math.cos(x2pi) * g2rad, math.sin(x2pi) * g2rad)
        return pair


class NgramTable:
    """A hash table from n-gram keys to profile rows, probed for many keys at once (open addressing)."""

    #: Fibonacci hashing: the top bits of key x 2^64/phi spread consecutive code points apart.
    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, keys: IntArray) -> None:
        self.bits = max(4, int(len(keys) * 3).bit_length())  # load factor <= 1/3: short probe runs
        size = 1 << self.bits
        self.keys = np.full(size, -1, dtype=np.int64)
        self.values = np.full(size, -1, dtype=np.int64)
        # Linear probing, all keys at once: a key moves on only past occupied slots, so a lookup
        # that stops at the first empty slot finds it whatever order the keys were placed in.
        pending, slot = np.arange(len(keys)), self.slots(keys)
        while len(pending):
            free = np.flatnonzero(self.keys[slot] < 0)
            _, first = np.unique(slot[free], return_index=True)  # one key per free slot
            placed = free[first]
            self.keys[slot[placed]] = keys[pending[placed]]
            self.values[slot[placed]] = pending[placed]
            waiting = np.ones(len(pending), dtype=np.bool_)
            waiting[placed] = False
            pending, slot = pending[waiting], slot[waiting]
            slot = np.where(self.keys[slot] >= 0, (slot + 1) & (size - 1), slot)

    def slots(self, keys: IntArray) -> IntArray:
        """Each key's home slot."""
        with np.errstate(over="ignore"):
            hashed = keys.astype(np.uint64) * self.MULTIPLIER  # wraps modulo 2^64, as intended
        return (hashed >> np.uint64(64 - self.bits)).astype(np.int64)

    def rows(self, keys: IntArray) -> IntArray:
        """The profile row of each key, -1 where the key is not an n-gram of the profiles."""
        found = np.full(len(keys), -1, dtype=np.int64)
        pending = np.arange(len(keys))
        slot = self.slots(keys)
        mask = len(self.keys) - 1
        while len(pending):
            stored = self.keys[slot]
            hit = stored == keys[pending]
            found[pending[hit]] = self.values[slot[hit]]
            going_on = ~hit & (stored >= 0)  # an empty slot ends the probe: the key is absent
            pending, slot = pending[going_on], (slot[going_on] + 1) & mask
        return found


@dataclass
class Trials:
    """The texts whose trials are under way: everything a run needs to carry on with them."""

    text: IntArray  # row of each text in the results
    counts: IntArray  # its number of n-grams
    gram_rows: IntArray  # the profile rows of its n-grams, text after text
    draw: IntArray  # its next draw among the accepted draws for its count (-1: not started)
    weight: FloatArray  # alpha / BASE_FREQ of its current trial
    spare: FloatArray  # random.gauss's second deviate, for its next (odd) trial
    iteration: IntArray
    trial: IntArray
    prob: FloatArray  # texts x languages
    langprob: FloatArray  # texts x languages: the sum of the finished trials' probabilities / n_trial

    @classmethod
    def start(
        cls,
        gram_rows: IntArray,
        counts: IntArray,
        first_row: int,
        languages: int,
        stream: RandomStream,
        settings: Settings,
    ) -> Trials:
        """Texts with n-grams, before their first trial (texts without any are left out)."""
        featured = np.flatnonzero(counts > 0)
        first, second = stream.gauss_pair(0)  # every text's first trial starts at word 0
        size = len(featured)
        return cls(
            text=featured + first_row,
            counts=counts[featured],
            gram_rows=gram_rows,
            draw=np.full(size, -1, dtype=np.int64),
            weight=np.full(size, (settings.alpha + (0.0 + first * 1.0) * settings.alpha_width) / settings.base_freq),
            spare=np.full(size, second),
            iteration=np.zeros(size, dtype=np.int64),
            trial=np.zeros(size, dtype=np.int64),
            prob=np.full((size, languages), 1.0 / languages),
            langprob=np.zeros((size, languages)),
        )

    @staticmethod
    def segments(gram_rows: IntArray, starts: IntArray, counts: IntArray) -> IntArray:
        """The n-gram rows from each start, ``counts`` of them, end to end."""
        if not len(starts):
            return gram_rows[:0]
        ends = np.cumsum(counts)
        offsets = np.repeat(starts - (ends - counts), counts)
        picked: IntArray = gram_rows[np.arange(ends[-1]) + offsets]
        return picked

    @classmethod
    def merge(cls, parts: Sequence[Trials], languages: int) -> Trials:
        """Several runs' unfinished texts as one."""

        def joined(name: str) -> Any:
            return np.concatenate([getattr(part, name) for part in parts])

        if not parts:
            none, nothing = np.zeros(0, dtype=np.int64), np.zeros(0)
            return cls(
                none, none, none, none, nothing, nothing, none, none, np.zeros((0, languages)), np.zeros((0, languages))
            )
        return cls(
            **{name: joined(name) for name in ("text", "counts", "gram_rows", "draw", "weight", "spare")},
            iteration=joined("iteration"),
            trial=joined("trial"),
            prob=np.concatenate([part.prob for part in parts]).reshape(-1, languages),
            langprob=np.concatenate([part.langprob for part in parts]).reshape(-1, languages),
        )


class BatchDetector:
    """langdetect's detection of many texts at once, with stock langdetect's answers for its seed."""

    def __init__(
        self,
        factory: Any,
        *,
        matrix: FloatArray | None = None,
        settings: Settings | None = None,
        stream_words: int = STREAM_WORDS,
    ) -> None:
        """Index ``factory``'s profiles; ``matrix`` may share their rows (in the map's order) already built."""
        if factory.seed is None:
            raise ValueError("the batch detector reproduces seeded langdetect only: set DetectorFactory.seed")
        self.seed = int(factory.seed)
        self.settings = settings or Settings.of(factory)
        self.langlist: list[str] = list(factory.langlist)
        words = list(factory.word_lang_prob_map)
        keys = np.array([self.ngram_key(word) for word in words], dtype=np.int64)
        if len(np.unique(keys)) != len(keys) or (keys < 0).any():
            raise ValueError("langdetect profile n-grams do not fit the 3 x 21-bit key")  # guards the encoding
        self.table = NgramTable(keys)
        if matrix is None:
            matrix = np.array([factory.word_lang_prob_map[word] for word in words], dtype=np.float64)
        self.matrix = matrix
        self.stream = RandomStream(self.seed, stream_words)
        # Per code point: langdetect's normalized character and its case, filled in as characters appear.
        self._normalized = np.full(sys.maxunicode + 1, -1, dtype=np.int32)
        self._upper = np.zeros(sys.maxunicode + 1, dtype=np.bool_)
        self._non_latin = np.zeros(sys.maxunicode + 1, dtype=np.bool_)
        self._tables_lock = threading.Lock()

    @staticmethod
    def ngram_key(word: str) -> int:
        """An n-gram of 1 to 3 characters as an integer (-1 for other lengths, which never match)."""
        if not 1 <= len(word) <= NGram.N_GRAM or "\0" in word:
            return -1
        key = 0
        for char in word:
            key = (key << CODE_POINT_BITS) | ord(char)
        return key

    # --- text to n-grams --------------------------------------------------------------------------

    def appended(self, texts: Sequence[str], special: IntArray) -> list[str]:
        """The texts as langdetect's ``append`` leaves them, rewriting those at ``special`` (the rest need not)."""
        limit = self.settings.max_text_length
        result = list(texts)
        for index in special.tolist():  # langdetect's own regular expressions on the few that need them
            text = Detector.URL_RE.sub(" ", result[index])
            text = Detector.MAIL_RE.sub(" ", text)
            result[index] = NGram.normalize_vi(text)[:limit]
        # Runs of spaces that ``append`` collapses are collapsed again below: only the cut matters.
        return result

    def code_points(self, texts: Sequence[str]) -> tuple[IntArray, IntArray]:
        """All texts' code points, each after a space (langdetect's n-gram buffer starts as " "), and their text."""
        points = np.frombuffer((" " + " ".join(texts)).encode("utf-32-le"), dtype="<u4").astype(np.int64)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
        return points, np.repeat(np.arange(len(texts)), lengths)

    def needs_append_rules(self, points: IntArray, text_of: IntArray, texts: int) -> IntArray:
        """Texts that langdetect's ``append`` may change: "http", "@", a Vietnamese mark, or too long."""
        candidate = (points == ord("@")) | np.isin(points, VIETNAMESE_MARKS)
        http = points[:-3] == ord("h")
        for offset, char in enumerate("ttp", start=1):
            http &= points[offset : len(points) - 3 + offset] == ord(char)
        candidate[:-3] |= http
        lengths = np.bincount(text_of, minlength=texts) - 1
        return np.flatnonzero(
            (np.bincount(text_of, weights=candidate, minlength=texts) > 0) | (lengths > self.settings.max_text_length)
        )

    def _fill_tables(self, code_points: IntArray) -> None:
        """Add the characters not yet seen to the per-code-point tables (langdetect's own functions)."""
        from akhbar.language import counts_as_non_latin, normalized_char

        with self._tables_lock:
            distinct = np.unique(code_points)
            for point in distinct[self._normalized[distinct] < 0].tolist():
                char = chr(point)
                normalized = normalized_char(char)
                self._non_latin[point] = counts_as_non_latin(char)
                self._upper[point] = normalized.isupper()  # the case langdetect tests: the normalized char's
                self._normalized[point] = ord(normalized)

    def ngram_rows(self, texts: Sequence[str]) -> tuple[IntArray, IntArray]:
        """Each text's n-grams as profile rows, in langdetect's order: (rows of all texts, counts)."""
        points, text_of = self.code_points(texts)
        special = self.needs_append_rules(points, text_of, len(texts))
        if len(special):  # rare: URLs, e-mail addresses, Vietnamese marks, texts over 10,000 characters
            points, text_of = self.code_points(self.appended(texts, special))
        self._fill_tables(points)
        # cleaning_text: in mostly non-Latin text, the characters "A".."z" are dropped.
        latin = (points >= ord("A")) & (points <= ord("z"))
        latin_count = np.bincount(text_of, weights=latin, minlength=len(texts))
        non_latin_count = np.bincount(text_of, weights=self._non_latin[points], minlength=len(texts))
        keep = ~(latin & (latin_count * 2 < non_latin_count)[text_of])
        kept, text_of = points[keep], text_of[keep]
        chars, upper = self._normalized[kept].astype(np.int64), self._upper[kept]
        starts = np.ones(len(chars), dtype=np.bool_)
        starts[1:] = text_of[1:] != text_of[:-1]
        # The buffer restarts at each space, so runs of spaces act as one.
        space = chars == SPACE
        repeated = np.zeros(len(chars), dtype=np.bool_)
        repeated[1:] = space[1:] & space[:-1]
        keep = ~(repeated & ~starts)
        chars, text_of, starts, upper, space = chars[keep], text_of[keep], starts[keep], upper[keep], space[keep]
        previous = np.concatenate(([SPACE], chars[:-1]))
        before_previous = np.concatenate(([SPACE, SPACE], chars[:-2]))[: len(chars)]
        previous_space = np.concatenate(([True], space[:-1]))
        # After two capitals in a row (an acronym), langdetect emits no n-gram ending there.
        emits = ~starts & ~(upper & np.concatenate(([False], upper[:-1])))
        keys = np.stack(
            (
                chars,
                (previous << CODE_POINT_BITS) | chars,
                (before_previous << (2 * CODE_POINT_BITS)) | (previous << CODE_POINT_BITS) | chars,
            ),
            axis=1,
        )
        # 1-gram: not a space; 2-gram: any (its first character may be the space); 3-gram: no inner space.
        valid = np.stack((emits & ~space, emits, emits & ~previous_space), axis=1)
        # Row-major flattening keeps langdetect's order: by position, then 1-, 2-, 3-gram.
        candidates = np.flatnonzero(valid.ravel())
        rows = self.table.rows(keys.ravel()[candidates])
        found = rows >= 0
        rows, counts = rows[found], np.bincount(text_of[candidates[found] // 3], minlength=len(texts))
        return rows, counts

    # --- the trials -------------------------------------------------------------------------------

    def probabilities(self, texts: Sequence[str]) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """langdetect's ``langprob`` of each text (``texts x languages``) and whether it had n-grams."""
        results = np.zeros((len(texts), len(self.langlist)))
        featured = np.zeros(len(texts), dtype=np.bool_)
        stragglers: list[Trials] = []
        for start in range(0, len(texts), BATCH_TEXTS):
            chunk = texts[start : start + BATCH_TEXTS]
            rows, counts = self.ngram_rows(chunk)
            featured[start : start + len(chunk)] = counts > 0
            trials = Trials.start(rows, counts, start, len(self.langlist), self.stream, self.settings)
            # The few texts that need many iterations would make every chunk end with a long run
            # of steps over a handful of rows: they are set aside and finished together.
            stragglers.append(self._run(trials, results, stop_below=STRAGGLERS))
        self._run(Trials.merge(stragglers, len(self.langlist)), results, stop_below=0)
        return results, featured

    def _draw_tables(self, counts: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        """The accepted draws of every n-gram count given, end to end, and where each count's begin.

        Stream positions are offset by the count's rank times the stream length, so the whole
        array is sorted and one searchsorted finds, for every text, its first draw after a position.
        """
        s = self.settings
        # All a text can read: its draws (n_trial x ITERATION_LIMIT + 1) and the accepted draws its
        # gaussian noise skips (4 words, at most 4 times).
        needed = s.n_trial * (s.iteration_limit + 1) + 16
        words = len(self.stream.words)
        positions, values, bases = [], [], [0]
        for rank, count in enumerate(counts.tolist()):
            found_positions, found_values = self.stream.accepted(count, needed)
            positions.append(found_positions + rank * words)
            values.append(found_values)
            bases.append(bases[-1] + len(found_positions))
        return np.concatenate(positions), np.concatenate(values), np.array(bases[:-1], dtype=np.int64)

    def _run(self, trials: Trials, results: FloatArray, stop_below: int) -> Trials:
        """Advance all texts' trials together until fewer than ``stop_below`` run; return those."""
        s = self.settings
        t = trials
        if not len(t.text):
            return t
        distinct = np.unique(t.counts)
        draw_positions, draw_values, bases = self._draw_tables(distinct)
        words = len(self.stream.words)
        rank = np.searchsorted(distinct, t.counts)
        stream_base, draw_base = rank * words, bases[rank]
        # A text's next draw: `draw_values[cursor]`; a fresh text's first one follows the 4 words of
        # its first trial's gaussian noise.
        fresh = t.draw < 0
        cursor = np.where(fresh, np.searchsorted(draw_positions, stream_base + 4), draw_base + t.draw)
        grams = np.concatenate(([0], np.cumsum(t.counts)[:-1]))
        text, gram_rows, prob, langprob = t.text, t.gram_rows, t.prob, t.langprob
        weight, spare, iteration, trial = t.weight, t.spare, t.iteration, t.trial
        live = np.ones(len(text), dtype=np.bool_)
        uniform = 1.0 / len(self.langlist)
        buffer = np.empty_like(prob)
        finished = 0
        while len(text) - finished >= max(1, stop_below):
            # One iteration of every text: prob[i] *= weight + profile[i] for a drawn n-gram.
            factors = buffer[: len(text)]
            np.take(self.matrix, gram_rows[grams + draw_values[cursor]], axis=0, out=factors)
            cursor += 1
            factors += weight[:, None]
            prob *= factors
            check = np.flatnonzero((iteration % 5 == 0) & live)
            if len(check):
                block = prob[check]
                block /= python_sum(block)[:, None]
                prob[check] = block
                done = (block.max(axis=1) > s.conv_threshold) | (iteration[check] >= s.iteration_limit)
                ended = check[done]
                if len(ended):
                    langprob[ended] += block[done] / s.n_trial
                    trial[ended] += 1
                    iteration[ended] = -1
                    prob[ended] = uniform
                    # Odd trials take the spare deviate; even ones draw two more at the stream position.
                    odd = ended[trial[ended] % 2 == 1]
                    weight[odd] = (s.alpha + (0.0 + spare[odd] * 1.0) * s.alpha_width) / s.base_freq
                    even = ended[(trial[ended] % 2 == 0) & (trial[ended] < s.n_trial)]
                    if len(even):
                        # The noise comes from the 4 words after the last draw; the draws resume after.
                        at = draw_positions[cursor[even] - 1] - stream_base[even] + 1
                        pairs = np.array([self.stream.gauss_pair(p) for p in at.tolist()], dtype=np.float64)
                        weight[even] = (s.alpha + (0.0 + pairs[:, 0] * 1.0) * s.alpha_width) / s.base_freq
                        spare[even] = pairs[:, 1]
                        cursor[even] = np.searchsorted(draw_positions, stream_base[even] + at + 4)
                    over = ended[trial[ended] == s.n_trial]
                    if len(over):
                        results[text[over]] = langprob[over]
                        live[over] = False
                        # Finished rows keep drawing until compacted: from the first count's draws
                        # (long enough for any text's remaining iterations) and the first n-grams.
                        cursor[over] = grams[over] = 0
                        finished += len(over)
            iteration += 1
            if finished > COMPACT_SHARE * len(text):
                text, grams, stream_base, draw_base, cursor = (
                    text[live],
                    grams[live],
                    stream_base[live],
                    draw_base[live],
                    cursor[live],
                )
                weight, spare, iteration, trial = weight[live], spare[live], iteration[live], trial[live]
                prob, langprob, live = prob[live], langprob[live], live[live]
                finished = 0
        counts = distinct[np.searchsorted(bases, draw_base, side="right") - 1]
        return Trials(
            text=text[live],
            counts=counts[live],
            gram_rows=Trials.segments(gram_rows, grams[live], counts[live]),
            draw=(cursor - draw_base)[live],
            weight=weight[live],
            spare=spare[live],
            iteration=iteration[live],
            trial=trial[live],
            prob=prob[live],
            langprob=langprob[live],
        )

    def detect(self, texts: Sequence[str]) -> list[Detection]:
        """langdetect's best language and probability of each text, as ``detect_langs(text)[0]``."""
        langprob, featured = self.probabilities(texts)
        if not len(texts):
            return []
        best = langprob.argmax(axis=1)  # the first of equal maxima, as langdetect's stable sort
        top = langprob[np.arange(len(texts)), best]
        reported = featured & (top > self.settings.prob_threshold)
        return [
            (self.langlist[index], probability) if ok else (None, None)
            for index, probability, ok in zip(best.tolist(), top.tolist(), reported.tolist(), strict=True)
        ]
