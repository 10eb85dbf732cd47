"""Language detection speed on one core: stock langdetect, VectorizedDetector and the batch detector.

Usage: ``PYTHONPATH=. python bench/language_speed.py [--corpus PATH] [--texts N] [--reference-texts M]``
       ``PYTHONPATH=. python bench/language_speed.py --pool-mb 25``  (serial vs a process pool)

Texts are distinct 80-character paragraph prefixes of the ANT news corpus (every k-th paragraph,
deterministic), what akhbar hands to the detector. Speeds are texts per CPU second (all threads of
the process, so a multi-threaded library cannot look faster than one core). Stock langdetect and
VectorizedDetector run on the first M texts (they are slow), the batch detector on all N, warm
(profiles loaded, character tables and draw tables built on other texts) and cold. Agreement is
each detector's language against stock langdetect's on the M texts, and the largest probability
difference.

``--pool-mb`` instead compares, on the distinct prefixes of the first MB of corpus paragraphs (a
feed-like batch), serial batch detection with a ``spawn`` pool of 2 batch-detector processes,
wall clock, each including its own profile loading (and the pool its start-up) — the measurement
behind removing akhbar's language process pool.

Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from akhbar.langdetect_batch import BatchDetector, Detection, reference_detect
from akhbar.language import (
    DETECTION_PREFIX_CHARS,
    VectorizedDetector,
    batch_detector,
    langdetect_factory,
    profile_matrix,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "data" / "news_corpus.jsonl.gz"


def corpus_prefixes(corpus: Path, count: int, stride: int, skip: int = 0) -> list[str]:
    """``count`` distinct detection prefixes: every ``stride``-th paragraph after the first ``skip``."""
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        paragraphs = (paragraph for line in lines for paragraph in json.loads(line)["paragraphs"])
        prefixes = (
            paragraph[:DETECTION_PREFIX_CHARS] for paragraph in itertools.islice(paragraphs, skip, None, stride)
        )
        return list(itertools.islice(dict.fromkeys(prefix for prefix in prefixes if prefix.strip()), count))


def cpu_seconds(run: Callable[[], list[Detection]]) -> tuple[list[Detection], float]:
    """Run and return the result and the process's CPU seconds."""
    started = time.process_time()
    result = run()
    return result, time.process_time() - started


def agreement(results: Sequence[Detection], reference: Sequence[Detection]) -> tuple[float, float]:
    """Share of equal languages, and the largest probability difference where both have one."""
    same = sum(a[0] == b[0] for a, b in zip(results, reference, strict=False)) / len(reference)
    gaps = [abs(a[1] - b[1]) for a, b in zip(results, reference, strict=False) if a[1] is not None and b[1] is not None]
    return same, max(gaps, default=0.0)


POOL_WORKERS = 2
POOL_CHUNK_TEXTS = 4_096


def detect_chunk(texts: list[str]) -> list[Detection]:
    """Pool task: the worker's batch detector on a chunk (built on its first task)."""
    return batch_detector().detect(texts)


def warm_worker() -> None:
    """Pool initializer: build the batch detector before the first task, as a real pool would."""
    batch_detector()


def feed_prefixes(corpus: Path, megabytes: float) -> tuple[int, list[str]]:
    """The distinct detection prefixes of the first ``megabytes`` of corpus paragraphs."""
    paragraphs: list[str] = []
    size = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            for paragraph in json.loads(line)["paragraphs"]:
                paragraphs.append(paragraph)
                size += len(paragraph.encode())
            if size > megabytes * 1e6:
                break
    return len(paragraphs), list(dict.fromkeys(paragraph[:DETECTION_PREFIX_CHARS] for paragraph in paragraphs))


def pool_vs_serial(corpus: Path, megabytes: float) -> None:
    """Serial batch detection vs a spawn pool (start-up included), wall clock; print both."""
    paragraphs, prefixes = feed_prefixes(corpus, megabytes)
    started = time.perf_counter()
    pooled: list[Detection] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(POOL_WORKERS, mp_context=context, initializer=warm_worker) as pool:
        chunks = [prefixes[start : start + POOL_CHUNK_TEXTS] for start in range(0, len(prefixes), POOL_CHUNK_TEXTS)]
        for chunk in pool.map(detect_chunk, chunks):
            pooled.extend(chunk)
    pool_seconds = time.perf_counter() - started
    started = time.perf_counter()
    serial = batch_detector().detect(prefixes)  # profiles loaded here, as in each pool worker
    serial_seconds = time.perf_counter() - started
    print(f"{megabytes:g} MB: {paragraphs:,} paragraphs, {len(prefixes):,} distinct prefixes")
    print(f"serial batch detection: {serial_seconds:.2f} s wall")
    print(f"pool of {POOL_WORKERS} (start-up included): {pool_seconds:.2f} s wall; same answers: {pooled == serial}")


def main() -> None:
    """Measure and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--reference-texts", type=int, default=1_500)
    parser.add_argument("--stride", type=int, default=11)
    parser.add_argument("--pool-mb", type=float, default=0.0, help="compare serial and pool on this many MB")
    args = parser.parse_args()
    if args.pool_mb:
        pool_vs_serial(args.corpus, args.pool_mb)
        return

    texts = corpus_prefixes(args.corpus, args.texts, args.stride)
    warm_up = corpus_prefixes(args.corpus, 2_000, args.stride, skip=args.stride // 2)  # other paragraphs
    reference_texts = texts[: args.reference_texts]
    factory = langdetect_factory()
    matrix = profile_matrix(factory.word_lang_prob_map)[1]

    stock, stock_seconds = cpu_seconds(lambda: [reference_detect(factory, text) for text in reference_texts])

    def vectorized(text: str) -> Detection:
        """One text through VectorizedDetector."""
        detector = VectorizedDetector(factory)
        detector.append(text)
        try:
            ranked = detector.get_probabilities()
        except Exception:  # langdetect's "no features in text"
            return None, None
        return (ranked[0].lang, float(ranked[0].prob)) if ranked else (None, None)

    vector, vector_seconds = cpu_seconds(lambda: [vectorized(text) for text in reference_texts])

    started = time.process_time()
    cold_detector = BatchDetector(factory, matrix=matrix)
    cold, _ = cpu_seconds(lambda: cold_detector.detect(texts))
    cold_seconds = time.process_time() - started
    warm_detector = BatchDetector(factory, matrix=matrix)
    warm_detector.detect(warm_up)
    warm, warm_seconds = cpu_seconds(lambda: warm_detector.detect(texts))
    assert warm == cold, "the batch detector's answers do not depend on what it saw before"

    rows = [
        ("stock langdetect 1.0.9 (seed 0)", len(reference_texts), stock_seconds, stock),
        ("VectorizedDetector", len(reference_texts), vector_seconds, vector),
        ("batch detector, cold (incl. building it)", len(texts), cold_seconds, cold),
        ("batch detector, warm", len(texts), warm_seconds, warm),
    ]
    print(f"{len(texts):,} distinct {DETECTION_PREFIX_CHARS}-character paragraph prefixes from {args.corpus.name}")
    print()
    print("| detector | texts | CPU s | texts/s | same language as stock | max prob difference |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, seconds, results in rows:
        same, gap = agreement(results[: len(reference_texts)], stock)
        print(f"| {name} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {same:.2%} | {gap:.1e} |")


if __name__ == "__main__":
    main()
