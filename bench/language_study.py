"""Measurements behind akhbar's language-detection settings, on the corpus sample's segments.

* prefix agreement: langdetect on the first N characters of ``text_norm`` vs on the whole text,
  for several N, over a deterministic sample of distinct texts (full-text langdetect is slow);
* dedup: segments, distinct ``text_norm`` and distinct detection prefixes;
* the fasttext backend: speed-up over langdetect and agreement with it, per segment.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from akhbar import stages
from akhbar.language import (
    DETECTION_PREFIX_CHARS,
    Detection,
    clear_language_caches,
    detect_language,
    detect_languages,
    fasttext_detector,
)
from akhbar.staging import read_batch

PREFIX_CANDIDATES = (40, 60, 80, 100, 150, 200, 300)


def normalized_segments(sample: Path, work_root: Path) -> pl.DataFrame:
    """The sample's segments after decode, segment and normalize (akhbar's own stages)."""
    planned, _ = stages.fingerprint_files([sample])
    batch = stages.normalize_batch(stages.segment_batch(stages.decode_batch(planned, 1, work_root)))
    frame = read_batch(batch).select("segment_id", "text_norm")
    shutil.rmtree(batch.work_dir, ignore_errors=True)
    return frame


def timed_map(detect: Callable[[str], Detection], texts: Sequence[str]) -> tuple[list[Detection], float]:
    """Detect every text serially; return the results and the CPU seconds per text.

    CPU time, not wall time: other work on the machine then barely moves the comparison.
    """
    started = time.process_time()
    results = [detect(text) for text in texts]
    return results, (time.process_time() - started) / max(1, len(texts))


def prefix_agreement(distinct: pl.DataFrame, sample_size: int) -> list[dict[str, Any]]:
    """langdetect on prefixes vs on the whole text, over a deterministic sample of distinct texts."""
    sample = distinct.sort("text_norm").sample(n=min(sample_size, distinct.height), seed=0)
    texts = sample.get_column("text_norm").to_list()
    weights = sample.get_column("segments").to_list()
    full, full_cost = timed_map(detect_language, texts)
    arabic = [index for index, (lang, _) in enumerate(full) if lang == "ar"]
    rows: list[dict[str, Any]] = [
        {"prefix_chars": None, "texts": len(texts), "ms_per_text": round(full_cost * 1000, 3), "agreement": 1.0}
    ]
    for chars in PREFIX_CANDIDATES:
        cut, cost = timed_map(detect_language, [text[:chars] for text in texts])
        same = [a[0] == b[0] for a, b in zip(full, cut, strict=True)]
        rows.append(
            {
                "prefix_chars": chars,
                "texts": len(texts),
                "ms_per_text": round(cost * 1000, 3),
                "agreement": sum(same) / len(same),
                "agreement_weighted_by_segments": sum(w for w, s in zip(weights, same, strict=True) if s)
                / sum(weights),
                "agreement_on_arabic": sum(same[i] for i in arabic) / max(1, len(arabic)),
                "disagreements": len(same) - sum(same),
            }
        )
    return rows


def timed_detection(segments: pl.DataFrame, **options: Any) -> tuple[pl.DataFrame, float]:
    """``detect_languages`` from a cold cache; return the result and its seconds."""
    clear_language_caches()
    started = time.perf_counter()
    result = detect_languages(segments, **options)
    return result, time.perf_counter() - started


def backend_comparison(segments: pl.DataFrame) -> dict[str, Any]:
    """langdetect's time, and fasttext's speed-up and agreement."""
    fasttext_detector()  # load the model outside the timing, as langdetect's profiles are below
    detect_language("warm up")
    serial, serial_seconds = timed_detection(segments)
    fast, fast_seconds = timed_detection(segments, backend="fasttext")
    both = serial.select("lang").with_columns(fast.get_column("lang").alias("fasttext_lang"))
    agree = both.filter(pl.col("lang").is_not_null())
    arabic = agree.filter(pl.col("lang") == "ar")
    disagreements = (
        agree.filter(pl.col("lang") != pl.col("fasttext_lang"))
        .group_by("lang", "fasttext_lang")
        .len()
        .sort("len", descending=True)
        .head(10)
    )
    return {
        "segments": segments.height,
        "langdetect_serial_seconds": serial_seconds,
        "fasttext_seconds": fast_seconds,
        "fasttext_speedup_vs_serial": serial_seconds / fast_seconds,
        "fasttext_agreement": agree.filter(pl.col("lang") == pl.col("fasttext_lang")).height / max(1, agree.height),
        "fasttext_agreement_on_arabic": arabic.filter(pl.col("fasttext_lang") == "ar").height / max(1, arabic.height),
        "arabic_segments": arabic.height,
        "langdetect_lang_counts": dict(serial.group_by("lang").len().fill_null("null").iter_rows()),
        "fasttext_lang_counts": dict(fast.group_by("lang").len().fill_null("null").iter_rows()),
        "top_disagreements": disagreements.to_dicts(),
    }


def study(config: dict[str, Any]) -> dict[str, Any]:
    """All language measurements on the sample file."""
    segments = normalized_segments(Path(config["sample_file"]), Path(config["work_root"]))
    counted = segments.group_by("text_norm").agg(pl.len().alias("segments"))
    prefixes = {
        chars: segments.select(pl.col("text_norm").str.slice(0, chars).n_unique()).item()
        for chars in PREFIX_CANDIDATES
    }
    return {
        "prefix_chars_in_use": DETECTION_PREFIX_CHARS,
        "segments": segments.height,
        "distinct_text_norm": counted.height,
        "distinct_prefixes": prefixes,
        "prefix_agreement": prefix_agreement(counted, int(config.get("prefix_sample", 3000))),
        "backends": backend_comparison(segments),
    }
