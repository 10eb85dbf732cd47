"""How often Arabic news comes out Persian or Urdu, before and after akhbar's script guard.

Usage: ``PYTHONPATH=. python bench/language_script_guard.py [--corpus PATH]``

Every paragraph (and, apart, every title) of the ANT corpus goes through akhbar's normalize stage
and ``detect_languages`` (langdetect backend). "Before" is the backend's own answer, "after" the
published ``lang`` once the script guard has run. Also printed: how often langdetect calls the
corpus's Arabic-script paragraphs something other than Arabic, by number of letters in the
detection prefix (what ``SCRIPT_MIN_LETTERS`` rests on).

Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import polars as pl

from akhbar.language import (
    ARABIC_LETTER,
    ARABIC_SCRIPT_RIVALS,
    LETTER,
    SCRIPT_MIN_LETTERS,
    detect_distinct,
    detect_languages,
    detection_prefix,
)
from akhbar.normalize import normalize_segments

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "data" / "news_corpus.jsonl.gz"
LETTER_BINS = [5, 10, 15, 20, 25, 30, 40, 60]


def read_corpus(corpus: Path) -> tuple[list[str], list[str]]:
    """All paragraphs and all titles."""
    paragraphs: list[str] = []
    titles: list[str] = []
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            article = json.loads(line)
            paragraphs.extend(article["paragraphs"])
            titles.append(article["title"])
    return paragraphs, titles


def before_and_after(lines: list[str]) -> pl.DataFrame:
    """Each line's display text, the backend's language (before) and the published one (after)."""
    segments = normalize_segments(pl.DataFrame({"line_text": lines})).drop("line_text")
    after = detect_languages(segments)
    prefixes = segments.select(detection_prefix(pl.col("text_norm")).alias("prefix")).get_column("prefix")
    distinct = prefixes.unique(maintain_order=True).to_list()
    backend = dict(zip(distinct, (lang for lang, _ in detect_distinct(distinct)), strict=True))  # cached: free
    return after.with_columns(
        before=prefixes.replace_strict(backend, default=None, return_dtype=pl.String),
        letters=detection_prefix(pl.col("text_norm")).str.count_matches(LETTER),
        arabic_letters=detection_prefix(pl.col("text_norm")).str.count_matches(ARABIC_LETTER),
    )


def share_table(name: str, frame: pl.DataFrame) -> str:
    """One markdown row: fa/ur share before and after the guard."""
    rivals = list(ARABIC_SCRIPT_RIVALS)
    before = frame.filter(pl.col("before").is_in(rivals)).height
    after = frame.filter(pl.col("lang").is_in(rivals)).height
    script = frame.filter(pl.col("lang_method") == "script").height
    return (
        f"| {name} | {frame.height:,} | {before:,} ({before / frame.height:.3%}) | "
        f"{after:,} ({after / frame.height:.4%}) | {script:,} ({script / frame.height:.2%}) |"
    )


def main() -> None:
    """Measure and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    paragraphs, titles = read_corpus(args.corpus)
    started = time.perf_counter()
    paragraph_frame, title_frame = before_and_after(paragraphs), before_and_after(titles)
    seconds = time.perf_counter() - started
    print(f"{args.corpus.name}: {len(paragraphs):,} paragraphs, {len(titles):,} titles ({seconds:.1f} s)")
    print()
    print("| segments | count | fa/ur before (langdetect) | fa/ur after (guard) | decided by script |")
    print("|---|---:|---:|---:|---:|")
    print(share_table("paragraphs", paragraph_frame))
    print(share_table("titles", title_frame))
    arabic = paragraph_frame.filter(pl.col("arabic_letters") * 2 > pl.col("letters"))
    bins = (
        arabic.with_columns(letters=pl.col("letters").cut(LETTER_BINS))
        .group_by("letters")
        .agg(
            pl.len().alias("paragraphs"),
            (pl.col("before") != "ar").fill_null(True).mean().alias("not_ar_before"),
            (pl.col("lang") != "ar").fill_null(True).mean().alias("not_ar_after"),
        )
        .sort("letters")
    )
    print()
    print(f"Arabic-script paragraphs by letters in the detection prefix (script decides below {SCRIPT_MIN_LETTERS}):")
    print()
    print("| letters | paragraphs | not 'ar' (langdetect) | not 'ar' (after guard) |")
    print("|---|---:|---:|---:|")
    for letters, count, before, after in bins.iter_rows():
        print(f"| {letters} | {count:,} | {before:.2%} | {after:.2%} |")
    remaining = paragraph_frame.filter(pl.col("lang").is_in(list(ARABIC_SCRIPT_RIVALS)))
    print()
    print(f"Paragraphs still fa/ur after the guard: {remaining.height}")


if __name__ == "__main__":
    main()
