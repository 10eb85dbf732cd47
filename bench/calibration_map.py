"""Derive the taxonomy's ``[calibration]`` table from weak labels on the ANT corpus, not from dev lines.

Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017.

Weak labels.  An article is labeled by its TITLE when the taxonomy is sure of it and the corpus
section agrees: a title scoring >= ``CONFIDENT_SCORE`` for football in `sport`, for markets or
gold_prices in `economy`, for diplomacy in `middleEast`/`internationalNews`; a `culture` or
`technology` article whose title has no evidence at all is ``other``.  Every paragraph of a labeled
article inherits the label.  Articles of the dev set are left out.  These articles are the easy
ones (a sure title, an agreeing section): a reviewed sample of ALL paragraphs
(bench/calibration_review.py) finds the topic levels lower than their agreement here.

Levels.  Each paragraph is classified with the taxonomy's decision rule and put in an evidence
level: for ``other``, by the strongest topic score (none, weak, near ``min_score``); for a topic, by
its margin over the runner-up or ``min_score``, whichever is higher.  The confidence of a level is
the share of its paragraphs whose prediction equals the weak label ("agreement", the number the
taxonomy uses).  Two brackets are printed beside it: the same over ledes only (the first paragraph,
faithful to the title: optimistic for ``other``) and with each weak class weighted equally
("balanced": every paragraph that drifts from its article's topic counts five times as much
against ``other``: pessimistic).

    PYTHONPATH=. python bench/calibration_map.py [--data DIR] [--topics FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import polars as pl
from section_shares import DATA, DEV_FILE, MIN_CHARS, dev_article_ids

from akhbar.normalize import normalize_text
from akhbar.topics import OTHER_TOPIC, Taxonomy, classify_topics, evidence_level, load_taxonomy

#: A title at least this sure of its topic labels its article (twice the packaged ``min_score``).
CONFIDENT_SCORE = 6.0
#: Sections that agree with a topic decided from the title.
AGREEING_SECTIONS: dict[str, tuple[str, ...]] = {
    "football": ("sport",),
    "markets": ("economy",),
    "gold_prices": ("economy",),
    "diplomacy": ("middleEast", "internationalNews"),
}
#: Sections whose evidence-free titles label their article ``other``.
OTHER_SECTIONS = ("culture", "technology")


def load_articles(path: Path, exclude: set[str]) -> pl.DataFrame:
    """``id``, ``section``, ``title`` and the ``paragraphs`` list of every article not in ``exclude``."""
    rows: dict[str, list[object]] = {"id": [], "section": [], "title": [], "paragraphs": []}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["id"] in exclude:
                continue
            rows["id"].append(record["id"])
            rows["section"].append(record["category"])
            rows["title"].append(record.get("title") or "")
            rows["paragraphs"].append(record["paragraphs"])
    return pl.DataFrame(rows)


def classify(frame: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """``frame`` (with a raw ``text``) through normalize + classify."""
    return classify_topics(frame.with_columns(normalize_text(pl.col("text")).alias("text_norm")), taxonomy)


def weak_labels(articles: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """``id`` → ``weak`` label of the articles whose title and section agree (module doc)."""
    titles = classify(articles.select("id", "section", pl.col("title").alias("text")), taxonomy)
    best = pl.col("topic_scores").list.eval(pl.element().struct.field("score")).list.max()
    rules = [(pl.col("section").is_in(OTHER_SECTIONS) & (best == 0), OTHER_TOPIC)]
    for topic, sections in AGREEING_SECTIONS.items():
        rules.append(
            ((pl.col("topic") == topic) & pl.col("section").is_in(sections) & (best >= CONFIDENT_SCORE), topic)
        )
    weak = pl.lit(None, dtype=pl.String)
    for condition, label in reversed(rules):
        weak = pl.when(condition).then(pl.lit(label)).otherwise(weak)
    return titles.select("id", weak.alias("weak")).drop_nulls("weak")


def article_paragraphs(articles: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Every prose paragraph (``text``) of the articles in ``labels``, with the article's label columns."""
    return (
        articles.join(labels, on="id")
        .explode("paragraphs")
        .rename({"paragraphs": "text"})
        .filter(pl.col("text").str.len_chars() >= MIN_CHARS)
    )


def level_agreement(
    articles: pl.DataFrame, labels: pl.DataFrame, taxonomy: Taxonomy, *, lede_only: bool
) -> pl.DataFrame:
    """Per evidence level: paragraphs, raw and class-balanced agreement with the weak label."""
    paragraphs = article_paragraphs(articles, labels)
    if lede_only:
        paragraphs = paragraphs.unique("id", keep="first", maintain_order=True)
    classified = classify(paragraphs, taxonomy).with_columns(
        evidence_level(taxonomy).alias("level"), (pl.col("topic") == pl.col("weak")).alias("agree")
    )
    # Each weak class weighs the same in total: w = 1 / (paragraphs of the class).
    weight = 1.0 / pl.len().over("weak")
    return (
        classified.with_columns(weight.alias("w"))
        .group_by("level")
        .agg(
            pl.len().alias("paragraphs"),
            pl.col("agree").mean().alias("agreement"),
            ((pl.col("agree") * pl.col("w")).sum() / pl.col("w").sum()).alias("balanced"),
        )
        .sort("level")
    )


def main() -> None:
    """Print the agreement per evidence level: the numbers of the ``[calibration]`` table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="directory with the corpus and the dev set")
    parser.add_argument("--topics", type=Path, default=None, help="taxonomy TOML (default: the packaged one)")
    args = parser.parse_args()
    corpus = args.data / "news_corpus.jsonl.gz"
    if not corpus.exists():
        raise SystemExit(f"{corpus} not present")
    taxonomy = load_taxonomy(args.topics)
    articles = load_articles(corpus, dev_article_ids(args.data / DEV_FILE))
    labels = weak_labels(articles, taxonomy)
    print(labels.group_by("weak").len().sort("weak"))
    with pl.Config(tbl_rows=20, float_precision=3):
        print(level_agreement(articles, labels, taxonomy, lede_only=True))
        print(level_agreement(articles, labels, taxonomy, lede_only=False))


if __name__ == "__main__":
    main()
