"""Topic shares per news section of the ANT corpus: a weak, label-free check of the taxonomy.

The corpus (A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017) files every article under a section.  A section is not a
topic — a `middleEast` story may be a bombing, an `economy` story a budget — but the share of its
paragraphs that land on the matching topic moves with recall, and the share of `culture` and
`technology` paragraphs that land on any topic moves with false hits.  Each paragraph goes through
the library's own path (``normalize_text`` then ``classify_topics``), so the figures are the
pipeline's.  Paragraphs of the articles in the dev set are left out, so the two measures stay apart.

    PYTHONPATH=. python bench/section_shares.py [--topics FILE] [--sample 0.25] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import polars as pl

from akhbar.normalize import normalize_text
from akhbar.topics import OTHER_TOPIC, classify_topics, load_taxonomy

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The team's data directory beside the repository (``--data`` points elsewhere, e.g. from a worktree).
DATA = REPO_ROOT.parent / "shared" / "data"
CORPUS_FILE = "news_corpus.jsonl.gz"
DEV_FILE = "dev_labeled.jsonl"
#: Section → the topics whose share is its headline figure.
TARGETS: dict[str, tuple[str, ...]] = {
    "sport": ("football",),
    "economy": ("markets", "gold_prices"),
    "middleEast": ("diplomacy",),
    "internationalNews": ("diplomacy",),
}
#: Paragraphs shorter than this (characters) are captions and datelines, not prose.
MIN_CHARS = 40


def dev_article_ids(path: Path) -> set[str]:
    """Corpus ids of the articles the dev set's paragraphs come from (``ant:`` prefix stripped)."""
    if not path.exists():
        return set()
    ids = (json.loads(line).get("id", "") for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {value.removeprefix("ant:") for value in ids}


def load_paragraphs(path: Path, exclude: set[str], sample: float, seed: int) -> pl.DataFrame:
    """One row per paragraph (``section``, ``text``), dev articles excluded, optionally sampled by article."""
    ids: list[str] = []
    sections: list[str] = []
    texts: list[list[str]] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["id"] in exclude:
                continue
            ids.append(record["id"])
            sections.append(record["category"])
            texts.append(record["paragraphs"])
    frame = pl.DataFrame({"id": ids, "section": sections, "text": texts})
    if sample < 1.0:
        frame = frame.sample(fraction=sample, seed=seed)
    return frame.explode("text").filter(pl.col("text").str.len_chars() >= MIN_CHARS).select("section", "text")


def section_shares(paragraphs: pl.DataFrame, topics: Path | None) -> pl.DataFrame:
    """Per section and topic: the share of its paragraphs classified so, and the mean confidence."""
    taxonomy = load_taxonomy(topics)
    classified = classify_topics(paragraphs.with_columns(normalize_text(pl.col("text")).alias("text_norm")), taxonomy)
    return (
        classified.group_by("section", "topic")
        .agg(pl.len().alias("n"), pl.col("topic_confidence").mean().alias("confidence"))
        .with_columns((pl.col("n") / pl.col("n").sum().over("section")).alias("share"))
        .sort("section", "topic")
    )


def main() -> None:
    """Print the headline shares and the full section × topic table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=Path, default=None, help="taxonomy TOML (default: the packaged one)")
    parser.add_argument("--sample", type=float, default=1.0, help="fraction of articles to use")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--data", type=Path, default=DATA, help="directory with the corpus and the dev set")
    parser.add_argument("--json", type=Path, default=None, help="write the table as JSON")
    args = parser.parse_args()
    corpus = args.data / CORPUS_FILE
    if not corpus.exists():
        raise SystemExit(f"{corpus} not present")
    started = time.perf_counter()
    paragraphs = load_paragraphs(corpus, dev_article_ids(args.data / DEV_FILE), args.sample, args.seed)
    table = section_shares(paragraphs, args.topics)
    elapsed = time.perf_counter() - started
    print(f"{paragraphs.height} paragraphs in {elapsed:.1f} s (dev articles excluded)")
    for section, topics in TARGETS.items():
        rows = table.filter((pl.col("section") == section) & pl.col("topic").is_in(topics))
        print(f"{section:>18} → {'+'.join(topics):<22} {rows['share'].sum():.3f}")
    for section in ("culture", "technology"):
        rows = table.filter((pl.col("section") == section) & (pl.col("topic") != OTHER_TOPIC))
        print(f"{section:>18} → any topic{'':<13} {rows['share'].sum():.3f}")
    wide = table.pivot(on="topic", index="section", values="share").fill_null(0.0).sort("section")
    with pl.Config(tbl_rows=20, tbl_cols=10, float_precision=3):
        print(wide)
    if args.json:
        args.json.write_text(json.dumps(table.to_dicts(), ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
