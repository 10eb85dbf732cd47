"""Real news in both shapes users receive: one small file per article (a scrape archive) and the
same articles as one feed export give the same segments, in a lake whose invariants hold.

Reads ``../shared/data/news_corpus.jsonl.gz`` (ANT Corpus v2.1) at run time; skips when absent.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import polars as pl
import pytest

from akhbar.lake import scan_dataset
from akhbar.lake_check import check_lake_invariants
from akhbar.pipeline import ingest_paths
from schemas import DOCUMENTS, SEGMENTS

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news_corpus.jsonl.gz"
ARTICLES = 300
BATCHES = 10

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason=f"{CORPUS} is absent")


def _articles() -> list[list[str]]:
    """The first articles with paragraphs: title, then paragraphs."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        articles = (json.loads(line) for line in lines)
        texts = ([a["title"].strip(), *(p.strip() for p in a["paragraphs"] if p.strip())] for a in articles)
        return list(itertools.islice((t for t in texts if len(t) > 1), ARTICLES))


def test_an_archive_of_small_files_and_a_feed_give_the_same_segments(tmp_path: Path) -> None:
    articles = _articles()
    archive = tmp_path / "archive"
    archive.mkdir()
    for number, article in enumerate(articles):
        (archive / f"{number:05d}.txt").write_text("\n".join(article) + "\n", encoding="utf-8")
    feed = tmp_path / "feed.txt"
    feed.write_text("\n\n".join("\n".join(article) for article in articles) + "\n", encoding="utf-8")

    small_lake, feed_lake = tmp_path / "small", tmp_path / "feed"
    files = sorted(archive.iterdir())
    results, failures = ingest_paths(
        files, small_lake, "small", tmp_path / "work-small", batch_max_files=ARTICLES // BATCHES
    )
    assert failures == []
    assert len(results) == BATCHES  # each batch one commit per table
    ingest_paths([feed], feed_lake, "feed", tmp_path / "work-feed")

    def segments(lake: Path) -> pl.DataFrame:
        columns = ["text", "text_norm", "lang", "lang_method", "topic", "topic_confidence", "countries", "dates"]
        return scan_dataset(lake, SEGMENTS).select(columns).collect().sort("text", "topic")

    assert segments(small_lake).equals(segments(feed_lake))
    documents = scan_dataset(small_lake, DOCUMENTS).collect()
    assert documents.height == len(articles)
    assert (documents.get_column("status") == "ingested").all()
    assert check_lake_invariants(small_lake) == []
    assert check_lake_invariants(feed_lake) == []
    assert sum(len(r.documents) for r in results) == len(articles)
