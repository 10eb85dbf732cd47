"""A reviewed sample of ANT corpus paragraphs: the accuracy of each evidence level, read by hand.

Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017.

Why.  Weak labels (bench/calibration_map.py) come from easy articles (a sure title, an agreeing
section) and give every paragraph its article's label; a feed holds every paragraph of every
article.  A reviewed random sample of all paragraphs measures each evidence level on that mix.

    sample   draw ``--per-stratum`` paragraphs at random from every evidence level (all corpus
             paragraphs of >= MIN_CHARS characters, dev articles left out) and write them, WITHOUT
             akhbar's prediction, to a JSONL file outside the repository for reading;
    add      append the labels read for a sample (``{"key": "id#paragraph", "label": …}`` lines);
    measure  join the reviewed labels (``bench/calibration_reviewed.csv``) back to the corpus and
             print, per evidence level, its share of all paragraphs, how many reviewed paragraphs
             akhbar got right and the taxonomy's confidence; then the calibration error over all
             paragraphs (levels as bins, weighted by their shares), and each topic's precision and
             recall over all paragraphs.

The CSV holds keys and labels only (article id, paragraph index, a hash of the paragraph to catch a
changed corpus), never the texts.  Labels follow docs/labeling.md; a paragraph is labeled by what it
is about, not by its article or section, without seeing akhbar's prediction.

    PYTHONPATH=. python bench/calibration_review.py sample --seed N --out /tmp/review.jsonl [--per-stratum 80]
    PYTHONPATH=. python bench/calibration_review.py sample --by section --seed N --out /tmp/review.jsonl
    PYTHONPATH=. python bench/calibration_review.py add --sample /tmp/review.jsonl --labels LABELS.jsonl
    PYTHONPATH=. python bench/calibration_review.py measure
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import polars as pl
from calibration_map import load_articles
from section_shares import CORPUS_FILE, DATA, DEV_FILE, MIN_CHARS, dev_article_ids

from akhbar.normalize import normalize_text
from akhbar.topics import OTHER_TOPIC, Taxonomy, classify_topics, evidence_level, load_taxonomy

REVIEWED_FILE = Path(__file__).with_name("calibration_reviewed.csv")
#: The labels a reviewed paragraph may have: the packaged taxonomy's topics and ``other``.
LABELS = (*load_taxonomy().topic_names, OTHER_TOPIC)
#: What a sample may be stratified by: the evidence level of each paragraph, or its corpus section.
STRATA = ("level", "section")


def text_hash(text: str) -> str:
    """A short fingerprint of a paragraph, to notice when the corpus under a key has changed."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def load_corpus_paragraphs(path: Path, exclude: set[str]) -> pl.DataFrame:
    """``id``, ``paragraph`` (index in the article), ``section``, ``text`` of every prose paragraph."""
    articles = load_articles(path, exclude)
    return (
        articles.select(
            "id",
            pl.int_ranges(pl.col("paragraphs").list.len(), dtype=pl.Int64).alias("paragraph"),
            "section",
            pl.col("paragraphs").alias("text"),
        )
        .explode("paragraph", "text")
        .filter(pl.col("text").str.len_chars() >= MIN_CHARS)
    )


def classify_with_levels(paragraphs: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """``paragraphs`` with akhbar's ``topic``, ``topic_confidence`` and evidence ``level``."""
    normalized = paragraphs.with_columns(normalize_text(pl.col("text")).alias("text_norm"))
    return classify_topics(normalized, taxonomy).with_columns(evidence_level(taxonomy).alias("level"))


def draw_sample(
    classified: pl.DataFrame,
    taxonomy_version: str,
    per_stratum: int,
    seed: int,
    exclude: pl.DataFrame,
    by: str = "level",
) -> pl.DataFrame:
    """Up to ``per_stratum`` random paragraphs of every stratum not in ``exclude``, shuffled together.

    Strata are the evidence levels (``by="level"``: how the calibration is measured) or the corpus
    sections (``by="section"``: paragraphs as a section holds them, for training and checking a
    model).  Each row keeps its ``stratum`` (for levels, with the taxonomy version they were drawn
    with) and ``stratum_size`` (that stratum's paragraphs in the whole corpus), so a reviewed
    paragraph can be weighted by how many corpus paragraphs it stands for whatever the taxonomy
    later becomes.
    """
    if by not in STRATA:
        raise ValueError(f"by must be one of {STRATA}, got {by!r}")
    sizes = classified.group_by(by).agg(pl.len().cast(pl.Int64).alias("stratum_size"))
    candidates = classified.join(exclude.select("id", "paragraph"), on=["id", "paragraph"], how="anti")
    parts = [
        group.sample(n=min(per_stratum, group.height), seed=seed)
        for _, group in candidates.group_by(by, maintain_order=True)
    ]
    prefix = f"{taxonomy_version} " if by == "level" else "section "
    return (
        pl.concat(parts)
        .join(sizes, on=by)
        .with_columns(pl.concat_str(pl.lit(prefix), pl.col(by)).alias("stratum"))
        .sample(fraction=1.0, shuffle=True, seed=seed)
    )


REVIEWED_SCHEMA = {
    "id": pl.String,
    "paragraph": pl.Int64,
    "hash": pl.String,
    "label": pl.String,
    "stratum": pl.String,
    "stratum_size": pl.Int64,
}


def load_reviewed(path: Path) -> pl.DataFrame:
    """The reviewed keys and labels; unknown labels are an error naming the line."""
    if not path.exists():
        return pl.DataFrame(schema=REVIEWED_SCHEMA)
    reviewed = pl.read_csv(path, schema=REVIEWED_SCHEMA)
    unknown = reviewed.with_row_index("line", offset=2).filter(~pl.col("label").is_in(LABELS))
    if unknown.height:
        first = unknown.row(0, named=True)
        raise SystemExit(f"{path}:{first['line']}: unknown label {first['label']!r} (expected one of {LABELS})")
    return reviewed


def add_reviewed(path: Path, sample: Path, labels: Path) -> pl.DataFrame:
    """``path`` with the labels read for a drawn sample (``{"key": "id#paragraph", "label": …}`` lines)."""
    drawn = pl.read_ndjson(sample).select(
        pl.concat_str("id", pl.lit("#"), pl.col("paragraph").cast(pl.String)).alias("key"),
        *(column for column in REVIEWED_SCHEMA if column != "label"),
    )
    read = pl.read_ndjson(labels).select("key", "label")
    missing = read.join(drawn, on="key", how="anti")
    if missing.height:
        raise SystemExit(f"{labels}: {missing.height} keys are not in {sample} (first: {missing.item(0, 'key')})")
    added = read.join(drawn, on="key").select(*REVIEWED_SCHEMA).cast(REVIEWED_SCHEMA)  # type: ignore[arg-type]
    merged = pl.concat([load_reviewed(path), added]).unique(["id", "paragraph"], keep="first").sort("id", "paragraph")
    merged.write_csv(path)
    return merged


def reviewed_texts(corpus: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """The paragraphs of ``corpus`` (:func:`load_corpus_paragraphs`) whose keys ``reviewed`` holds."""
    return corpus.join(reviewed.select("id", "paragraph"), on=["id", "paragraph"])


def weighted_reviews(classified: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """The reviewed paragraphs, classified, with ``w``: the corpus paragraphs each one stands for.

    ``w`` is ``stratum_size`` / reviewed paragraphs of the stratum it was drawn from.  A key missing
    from the corpus, or a paragraph whose text changed since it was read, is an error.
    """
    joined = classified.join(reviewed, on=["id", "paragraph"], how="inner")
    if joined.height != reviewed.height:
        raise SystemExit(f"{reviewed.height - joined.height} reviewed keys are not in the corpus")
    changed = [key for key, text, kept in joined.select("id", "text", "hash").iter_rows() if text_hash(text) != kept]
    if changed:
        raise SystemExit(f"{len(changed)} reviewed paragraphs changed in the corpus (first: {changed[0]})")
    return joined.with_columns((pl.col("stratum_size") / pl.len().over("stratum")).alias("w"))


def level_accuracy(classified: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """Per evidence level: share of all paragraphs, reviewed paragraphs, accuracy, configured confidence.

    Each reviewed paragraph weighs the corpus paragraphs it stands for in the stratum it was drawn
    from (``stratum_size`` / reviewed paragraphs of that stratum): strata are the levels of the
    taxonomy at drawing time, so the estimates stay fair after terms change which level a paragraph
    falls in.  ``pm95`` is the half-width of a normal 95% interval, on the effective sample size.
    """
    shares = classified.group_by("level").agg((pl.len() / classified.height).alias("share"))
    right = (pl.col("topic") == pl.col("label")).cast(pl.Float64)
    effective = pl.col("w").sum() ** 2 / (pl.col("w") ** 2).sum()
    return (
        weighted_reviews(classified, reviewed)
        .with_columns(right.alias("right"))
        .group_by("level")
        .agg(
            pl.len().alias("reviewed"),
            ((pl.col("right") * pl.col("w")).sum() / pl.col("w").sum()).alias("accuracy"),
            pl.col("topic_confidence").first().alias("configured"),
            effective.alias("effective"),
        )
        .join(shares, on="level")
        .with_columns(
            (pl.col("accuracy") - pl.col("configured")).alias("gap"),
            (1.96 * (pl.col("accuracy") * (1 - pl.col("accuracy")) / pl.col("effective")).sqrt()).alias("pm95"),
        )
        .drop("effective")
        .sort("level")
    )


def topic_quality(classified: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """Per label: precision, recall and F1 over all corpus paragraphs, estimated from the reviewed sample.

    The strata cover every paragraph, so weighting each reviewed paragraph by the paragraphs it stands
    for estimates the counts of the whole corpus (a Horvitz-Thompson estimate).
    """
    weighted = weighted_reviews(classified, reviewed)
    rows = []
    for label in LABELS:
        right = weighted.filter((pl.col("topic") == label) & (pl.col("label") == label)).get_column("w").sum()
        predicted = weighted.filter(pl.col("topic") == label).get_column("w").sum()
        actual = weighted.filter(pl.col("label") == label).get_column("w").sum()
        precision = right / predicted if predicted else None
        recall = right / actual if actual else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
        rows.append(
            {
                "label": label,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "corpus_share": actual / weighted.get_column("w").sum(),
                # How many reviewed paragraphs the estimates rest on: few means a wide interval.
                "reviewed_predicted": weighted.filter(pl.col("topic") == label).height,
                "reviewed_label": weighted.filter(pl.col("label") == label).height,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "label": pl.String,
            "precision": pl.Float64,
            "recall": pl.Float64,
            "f1": pl.Float64,
            "corpus_share": pl.Float64,
            "reviewed_predicted": pl.Int64,
            "reviewed_label": pl.Int64,
        },
    )


def calibration_gap(levels: pl.DataFrame) -> float:
    """The expected calibration error over all paragraphs, with each evidence level as a bin."""
    # Every paragraph of a level has the same confidence, so a level is a natural bin; ten equal
    # bins would merge levels (0.93, 0.96 and 0.99 share one) and could only read lower.
    return float((levels.get_column("gap").abs() * levels.get_column("share")).sum())


def main() -> None:
    """``sample`` a blind review file, ``add`` its labels, or ``measure`` the accuracy per evidence level."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("sample", "add", "measure"))
    parser.add_argument("--data", type=Path, default=DATA, help="directory with the corpus and the dev set")
    parser.add_argument("--topics", type=Path, default=None, help="taxonomy TOML (default: the packaged one)")
    parser.add_argument("--per-stratum", type=int, default=80, help="sample: paragraphs drawn per stratum")
    parser.add_argument("--by", choices=STRATA, default="level", help="sample: stratify by evidence level or section")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path, help="sample: the JSONL file to write for review")
    parser.add_argument("--sample", type=Path, help="add: the JSONL file `sample` wrote")
    parser.add_argument("--labels", type=Path, help='add: JSON lines {"key": "id#paragraph", "label": …}')
    parser.add_argument("--reviewed", type=Path, default=REVIEWED_FILE, help="the reviewed CSV")
    args = parser.parse_args()
    if args.command == "add":
        if args.sample is None or args.labels is None:
            raise SystemExit("add needs --sample and --labels")
        merged = add_reviewed(args.reviewed, args.sample, args.labels)
        print(f"{args.reviewed}: {merged.height} reviewed paragraphs")
        return
    corpus = args.data / CORPUS_FILE
    if not corpus.exists():
        raise SystemExit(f"{corpus} not present")
    taxonomy = load_taxonomy(args.topics)
    classified = classify_with_levels(load_corpus_paragraphs(corpus, dev_article_ids(args.data / DEV_FILE)), taxonomy)
    if args.command == "sample":
        if args.out is None:
            raise SystemExit("sample needs --out (a path outside the repository)")
        sample = draw_sample(
            classified, taxonomy.version, args.per_stratum, args.seed, load_reviewed(args.reviewed), args.by
        )
        with args.out.open("w", encoding="utf-8") as out:
            for row in sample.select("id", "paragraph", "text", "stratum", "stratum_size").iter_rows(named=True):
                row["hash"] = text_hash(row["text"])
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{sample.height} paragraphs written to {args.out}")
        print(sample.group_by("stratum").len().sort("stratum"))
        return
    reviewed = load_reviewed(args.reviewed)
    if taxonomy.model_vote is not None:
        # The packaged model learned from these very paragraphs: its votes on them are in-sample.
        print(
            f"note: {taxonomy.source} votes with a model trained on the reviewed paragraphs; the figures below"
            " are in-sample for its votes. Out-of-sample figures: bench/topic_model.py cv"
        )
    levels = level_accuracy(classified, reviewed)
    with pl.Config(tbl_rows=20, float_precision=3):
        print(levels)
        print(topic_quality(classified, reviewed))
    print(f"calibration error over all {classified.height} paragraphs (levels as bins): {calibration_gap(levels):.3f}")


if __name__ == "__main__":
    main()
