"""Train akhbar's topic model (``akhbar/topic_model.parquet``) on reviewed corpus paragraphs, and cross-validate it.

Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017.

Training data.  Every paragraph of ``bench/calibration_reviewed.csv``: ANT corpus paragraphs drawn at
random (by evidence level, and by section) and labeled by reading, following docs/labeling.md.  The
texts are read from the corpus at run time; only keys and labels are in the repository.  Dev lines
are never used (their articles are not in the corpus file).

Model.  Binary features (the words and consecutive word pairs of ``text_norm``, see
:mod:`akhbar.topic_model`) present in at least ``--min-rows`` paragraphs, multinomial logistic
regression with an L2 penalty ``1 / C`` (scikit-learn, the ``bench`` extra).  Only the weight table is
shipped; akhbar scores it with polars.

    train  fit on every reviewed paragraph and write the model file;
    cv     ``--folds`` folds of articles: each fold is classified by akhbar with the taxonomy's
           [model] vote (or the one given by --vote-topics/--min-probability/--vote) using a model
           trained on the other folds; prints each topic's precision, recall and F1 over all corpus
           paragraphs (the reviewed paragraphs weighted by what they stand for), lexicon alone and
           with the vote; with the taxonomy's own vote, also the accuracy of each evidence level and
           the calibration error, out of sample (``calibration_review.py measure`` is in-sample for
           a model trained on the same paragraphs).

    PYTHONPATH=.:bench python bench/topic_model.py train [--out akhbar/topic_model.parquet]
    PYTHONPATH=.:bench python bench/topic_model.py cv [--folds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import polars as pl
from calibration_review import (
    REVIEWED_FILE,
    calibration_gap,
    classify_with_levels,
    level_accuracy,
    load_corpus_paragraphs,
    load_reviewed,
    reviewed_texts,
    topic_quality,
    weighted_reviews,
)
from section_shares import CORPUS_FILE, DATA, DEV_FILE, dev_article_ids

from akhbar.normalize import normalize_text
from akhbar.topic_model import FEATURE, TopicModel, feature_rows, write_topic_model
from akhbar.topics import ModelVote, Taxonomy, classify_topics, evidence_level, load_taxonomy

if TYPE_CHECKING:
    # scikit-learn and scipy are the bench extra: needed to train, never to classify; imported where used.
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

MODEL_FILE = Path(__file__).resolve().parents[1] / "akhbar" / "topic_model.parquet"
CITATION = "ANT Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, AICCSA 2017."
_ROW = "row"


def reviewed_paragraphs(corpus: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """The reviewed paragraphs of ``corpus`` with ``text_norm``, ``label`` and weight ``w``."""
    weighted = weighted_reviews(reviewed_texts(corpus, reviewed), reviewed)
    return weighted.with_columns(normalize_text(pl.col("text")).alias("text_norm"))


def vocabulary_of(paragraphs: pl.DataFrame, min_rows: int) -> pl.Series:
    """The features (sorted) found in at least ``min_rows`` of the ``text_norm`` values."""
    rows = feature_rows(paragraphs.lazy().with_row_index(_ROW), _ROW)
    counts = rows.group_by(FEATURE).len().filter(pl.col("len") >= min_rows)
    return counts.select(FEATURE).sort(FEATURE).collect().get_column(FEATURE)


def design_matrix(paragraphs: pl.DataFrame, vocabulary: pl.Series) -> csr_matrix:
    """Binary features: one row per paragraph, one column per ``vocabulary`` entry (others dropped)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    columns = vocabulary.to_frame(FEATURE).with_row_index("column")
    rows = feature_rows(paragraphs.lazy().with_row_index(_ROW), _ROW).collect()
    cells = rows.join(columns, on=FEATURE)
    return csr_matrix(
        (np.ones(cells.height), (cells.get_column(_ROW).to_numpy(), cells.get_column("column").to_numpy())),
        shape=(paragraphs.height, vocabulary.len()),
    )


def as_topic_model(
    classifier: LogisticRegression, vocabulary: pl.Series, *, source: str, trained_on: str
) -> TopicModel:
    """A fitted multinomial logistic regression over ``vocabulary`` as akhbar's weight table."""
    classes = tuple(str(name) for name in classifier.classes_)
    weights = pl.DataFrame(
        {FEATURE: vocabulary} | {name: classifier.coef_[index].astype("float32") for index, name in enumerate(classes)}
    )
    intercepts = tuple(float(value) for value in classifier.intercept_)
    return TopicModel(source, classes, weights, intercepts, fingerprint="", trained_on=trained_on)


def fit_model(paragraphs: pl.DataFrame, *, c: float, min_rows: int, source: str) -> TopicModel:
    """A :class:`TopicModel` of ``label`` from ``text_norm``, trained with scikit-learn."""
    from sklearn.linear_model import LogisticRegression

    vocabulary = vocabulary_of(paragraphs, min_rows)
    classifier = LogisticRegression(C=c, max_iter=5000)
    classifier.fit(design_matrix(paragraphs, vocabulary), paragraphs.get_column("label").to_numpy())
    trained_on = f"{paragraphs.height} reviewed ANT corpus paragraphs"
    return as_topic_model(classifier, vocabulary, source=source, trained_on=trained_on)


class VoteSettings(NamedTuple):
    """A [model] table's settings without its model: what ``cv`` tries instead of the taxonomy's own."""

    topics: tuple[str, ...]
    min_probability: float
    vote: float


def with_model(taxonomy: Taxonomy, model: TopicModel, settings: VoteSettings | None) -> Taxonomy:
    """``taxonomy`` voting with ``model``, by ``settings`` or else by its own [model] table's."""
    if settings is not None:
        return dataclasses.replace(taxonomy, model_vote=ModelVote(model, *settings))
    if taxonomy.model_vote is None:
        raise SystemExit(f"{taxonomy.source} has no [model] table: give --vote-topics, --min-probability, --vote")
    return dataclasses.replace(taxonomy, model_vote=dataclasses.replace(taxonomy.model_vote, model=model))


def cross_validate(
    paragraphs: pl.DataFrame, taxonomy: Taxonomy, vote: VoteSettings | None, *, folds: int, c: float, min_rows: int
) -> pl.DataFrame:
    """Each paragraph classified with a model that never saw its article (``topic``) and by the lexicon alone."""
    lexicon_alone = dataclasses.replace(taxonomy, model_vote=None)
    fold = (pl.col("id").hash(seed=14) % folds).alias("fold")
    split = paragraphs.with_columns(fold)
    parts = []
    for index in range(folds):
        held_out = split.filter(pl.col("fold") == index)
        model = fit_model(split.filter(pl.col("fold") != index), c=c, min_rows=min_rows, source=f"fold {index}")
        fold_taxonomy = with_model(taxonomy, model, vote)
        voted = classify_topics(held_out, fold_taxonomy).with_columns(evidence_level(fold_taxonomy).alias("level"))
        lexicon = classify_topics(held_out, lexicon_alone).get_column("topic").alias("lexicon_topic")
        parts.append(voted.with_columns(lexicon))
    return pl.concat(parts)


def main() -> None:
    """``train`` the model file or ``cv`` (cross-validate) the vote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("train", "cv"))
    parser.add_argument("--data", type=Path, default=DATA, help="directory with the corpus and the dev set")
    parser.add_argument("--reviewed", type=Path, default=REVIEWED_FILE, help="the reviewed CSV")
    parser.add_argument("--topics", type=Path, default=None, help="taxonomy TOML (default: the packaged one)")
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help="train: the model file to write")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 penalty of the logistic regression")
    parser.add_argument("--min-rows", type=int, default=2, help="keep features found in at least this many paragraphs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--vote-topics", nargs="*", help="cv: the topics the model may vote for")
    parser.add_argument("--min-probability", type=float, help="cv: the model votes from this probability")
    parser.add_argument("--vote", type=float, help="cv: the score a vote adds")
    args = parser.parse_args()
    if not (args.data / CORPUS_FILE).exists():
        raise SystemExit(f"{args.data / CORPUS_FILE} not present")
    corpus = load_corpus_paragraphs(args.data / CORPUS_FILE, dev_article_ids(args.data / DEV_FILE))
    reviewed = load_reviewed(args.reviewed)
    paragraphs = reviewed_paragraphs(corpus, reviewed)
    print(paragraphs.group_by("label").len().sort("label"))
    if args.command == "train":
        model = fit_model(paragraphs, c=args.c, min_rows=args.min_rows, source=str(args.out))
        write_topic_model(model, args.out, citation=CITATION)
        print(f"{args.out}: {model.weights.height} features, classes {', '.join(model.classes)}")
        return
    taxonomy = load_taxonomy(args.topics)
    vote = None
    if args.vote_topics:
        if args.min_probability is None or args.vote is None:
            raise SystemExit("--vote-topics needs --min-probability and --vote")
        vote = VoteSettings(tuple(args.vote_topics), args.min_probability, args.vote)
    classified = cross_validate(
        paragraphs, taxonomy, vote, folds=args.folds, c=args.c, min_rows=args.min_rows
    )
    lexicon = topic_quality(classified.with_columns(pl.col("lexicon_topic").alias("topic")), reviewed)
    voted = topic_quality(classified, reviewed)
    joined = lexicon.select("label", *(pl.col(k).alias(f"lexicon {k}") for k in ("precision", "recall", "f1"))).join(
        voted.select("label", *(pl.col(k).alias(f"voted {k}") for k in ("precision", "recall", "f1"))), on="label"
    )
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(joined)
    changed = classified.filter(pl.col("topic") != pl.col("lexicon_topic"))
    print(f"{changed.height} of {classified.height} reviewed paragraphs change topic with the vote")
    if vote is None:
        # The levels of the taxonomy as it is, out of sample: every corpus paragraph classified with
        # the packaged model gives the levels' shares; the reviewed ones take their cross-validated result.
        reviewed_keys = classified.select("id", "paragraph")
        everything = classify_with_levels(corpus, taxonomy).join(reviewed_keys, on=["id", "paragraph"], how="anti")
        merged = pl.concat([everything, classified.select(everything.columns)])
        levels = level_accuracy(merged, reviewed)
        with pl.Config(tbl_rows=20, float_precision=3):
            print(levels)
        print(f"calibration error over all {merged.height} paragraphs (levels as bins): {calibration_gap(levels):.3f}")


if __name__ == "__main__":
    main()
