"""Would a statistical layer help the lexicon?  A word n-gram model trained on corpus weak labels, measured.

Corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text Collection for
Textual Classification", AICCSA 2017.

Why.  Diplomacy is the lexicon's weak topic on real paragraphs (bench/calibration_review.py), and
the weak-evidence levels are where ``topic_confidence`` is least sure.  A linear model over n-grams,
trained on weak labels from the corpus, is the usual second opinion.  This study trains one and
measures it against the lexicon alone (the packaged taxonomy without its [model]) where it would
count.  It is the route NOT taken: the model akhbar ships is trained on paragraphs labeled by
reading instead (bench/topic_model.py), which these weak labels could not replace:

    backup       where the taxonomy says ``other``, take the model's topic when its probability is
                 >= tau: per-class F1 on dev, and precision / recall / F1 over all corpus
                 paragraphs, estimated from the reviewed sample (bench/calibration_reviewed.csv);
    calibration  split every evidence level by whether the model agrees with the taxonomy, measure
                 each half's agreement with the weak labels the ``[calibration]`` table comes from
                 (bench/calibration_map.py; the model cross-fitted: trained on the other articles),
                 and score that table and the unsplit one as ``topic_confidence``: ECE on dev, and
                 the calibration error over all corpus paragraphs (reviewed sample).

Training labels.  Every paragraph of an article inherits its weak label (calibration_map.weak_labels:
a sure title and an agreeing section); articles outside sport and economy whose title has no topic
evidence at all give ``other``, so war and domestic politics are in the ``other`` the model learns.
Dev articles are left out.  Model: TF-IDF over word uni- and bigrams of ``text_norm``, multinomial
logistic regression with balanced classes (scikit-learn, the ``bench`` extra).

    PYTHONPATH=.:bench python bench/topic_model_study.py [--data DIR] [--folds 2]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from calibration_map import article_paragraphs, classify, load_articles, weak_labels
from calibration_review import (
    REVIEWED_FILE,
    load_corpus_paragraphs,
    load_reviewed,
    reviewed_texts,
    topic_quality,
    weighted_reviews,
)
from section_shares import CORPUS_FILE, DATA, DEV_FILE, dev_article_ids

from akhbar.evaluation import score_predictions, taxonomy_labels
from akhbar.topics import OTHER_TOPIC, Taxonomy, evidence_level, load_taxonomy

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

#: Sections whose evidence-free titles do NOT make an article ``other`` (their topic may lack words).
TOPICAL_SECTIONS = ("sport", "economy")
#: Model probabilities from which the backup overrides an ``other`` of the taxonomy.
BACKUP_THRESHOLDS = (0.5, 0.7, 0.9)


def labeled_paragraphs(articles: pl.DataFrame, labels: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """Paragraphs of labeled articles: ``id``, ``weak``, ``text_norm``, the taxonomy's ``topic`` and ``level``."""
    level = evidence_level(taxonomy).alias("level")
    return classify(article_paragraphs(articles, labels), taxonomy).select("id", "weak", "text_norm", "topic", level)


def training_labels(articles: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """``id`` → ``weak``: the calibration weak labels' topics, and ``other`` for quiet titles (module doc)."""
    topical = weak_labels(articles, taxonomy).filter(pl.col("weak") != OTHER_TOPIC)
    titles = classify(articles.select("id", "section", pl.col("title").alias("text")), taxonomy)
    best = pl.col("topic_scores").list.eval(pl.element().struct.field("score")).list.max()
    quiet = titles.filter((best == 0) & ~pl.col("section").is_in(TOPICAL_SECTIONS)).select(
        "id", pl.lit(OTHER_TOPIC).alias("weak")
    )
    return pl.concat([topical, quiet]).unique("id", keep="first")


def fit_model(paragraphs: pl.DataFrame) -> Pipeline:
    """A TF-IDF + logistic regression model of ``weak`` from ``text_norm``."""
    # Imported here: scikit-learn is the bench extra; the measuring helpers below are tested without it.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=3, sublinear_tf=True, max_features=200_000),
        LogisticRegression(C=4.0, max_iter=300, class_weight="balanced"),
    )
    return model.fit(paragraphs.get_column("text_norm").to_list(), paragraphs.get_column("weak").to_list())


def with_model_vote(classified: pl.DataFrame, model: Pipeline) -> pl.DataFrame:
    """``classified`` (with ``text_norm``) plus ``model_topic`` and its probability ``model_prob``."""
    probabilities = model.predict_proba(classified.get_column("text_norm").to_list())
    classes = model.classes_
    return classified.with_columns(
        pl.Series("model_topic", classes[probabilities.argmax(axis=1)], dtype=pl.String),
        pl.Series("model_prob", probabilities.max(axis=1), dtype=pl.Float64),
    )


def backed_up(tau: float) -> pl.Expr:
    """The taxonomy's topic, or the model's where the taxonomy says ``other`` and the model is >= ``tau``."""
    overrides = (
        (pl.col("topic") == OTHER_TOPIC) & (pl.col("model_topic") != OTHER_TOPIC) & (pl.col("model_prob") >= tau)
    )
    return pl.when(overrides).then(pl.col("model_topic")).otherwise(pl.col("topic"))


def cross_fitted_agreement(training: pl.DataFrame, measured: pl.DataFrame, folds: int) -> pl.DataFrame:
    """Per (evidence level, model agrees): ``paragraphs`` of ``measured`` and how many the taxonomy gets right.

    ``measured`` are the paragraphs the ``[calibration]`` table is measured on (calibration_map's weak
    labels).  Each fold of articles is voted on by a model trained on the other folds' ``training``
    paragraphs, so the model never votes on a paragraph it learned from.
    """
    fold = (pl.col("id").hash(seed=14) % folds).alias("fold")
    training, measured = training.with_columns(fold), measured.with_columns(fold)
    voted = [
        with_model_vote(
            measured.filter(pl.col("fold") == index), fit_model(training.filter(pl.col("fold") != index))
        )
        for index in range(folds)
    ]
    return (
        pl.concat(voted)
        .with_columns((pl.col("model_topic") == pl.col("topic")).alias("model_agrees"))
        .group_by("level", "model_agrees")
        .agg(pl.len().alias("paragraphs"), (pl.col("topic") == pl.col("weak")).sum().alias("agree"))
        .sort("level", "model_agrees")
    )


def dev_report(dev: pl.DataFrame, topic: pl.Expr, confidence: pl.Expr, taxonomy: Taxonomy) -> tuple[float, float]:
    """Macro-F1 and ECE on dev for one choice of topic and confidence."""
    predictions = dev.select("label", topic.alias("predicted"), confidence.alias("topic_confidence"))
    report = score_predictions(predictions, taxonomy_labels(taxonomy), taxonomy=taxonomy)
    return report.macro_f1, report.ece


def corpus_calibration_error(reviewed: pl.DataFrame, confidence: pl.Expr, cells: list[str]) -> float:
    """|accuracy - confidence| over all corpus paragraphs, with ``cells`` as bins (reviewed weights)."""
    right = (pl.col("topic") == pl.col("label")).cast(pl.Float64)
    per_cell = reviewed.group_by(cells).agg(
        pl.col("w").sum().alias("w"),
        ((right * pl.col("w")).sum() / pl.col("w").sum()).alias("accuracy"),
        confidence.first().alias("confidence"),
    )
    gap = ((per_cell["accuracy"] - per_cell["confidence"]).abs() * per_cell["w"]).sum()
    return float(gap / per_cell["w"].sum())


def main() -> None:
    """Train the model on weak labels and print the backup and calibration measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="directory with the corpus and the dev set")
    parser.add_argument("--folds", type=int, default=2, help="article folds for the cross-fitted agreement")
    args = parser.parse_args()
    corpus, dev_file = args.data / CORPUS_FILE, args.data / DEV_FILE
    if not corpus.exists() or not dev_file.exists():
        raise SystemExit(f"{corpus} or {dev_file} not present")
    # The lexicon alone: the packaged taxonomy without its own [model] (bench/topic_model.py).
    taxonomy = dataclasses.replace(load_taxonomy(), model_vote=None)
    articles = load_articles(corpus, dev_article_ids(dev_file))
    paragraphs = labeled_paragraphs(articles, training_labels(articles, taxonomy), taxonomy)
    print(paragraphs.group_by("weak").len().sort("weak"))
    model = fit_model(paragraphs)

    dev = with_model_vote(
        classify(pl.read_ndjson(dev_file).select("text", "label"), taxonomy).with_columns(
            evidence_level(taxonomy).alias("level")
        ),
        model,
    )
    reviewed_keys = load_reviewed(REVIEWED_FILE)
    reviewed_paragraphs = reviewed_texts(load_corpus_paragraphs(corpus, dev_article_ids(dev_file)), reviewed_keys)
    reviewed = with_model_vote(
        classify(reviewed_paragraphs, taxonomy).with_columns(evidence_level(taxonomy).alias("level")), model
    )

    print("\nBackup: the model's topic where the taxonomy says other (corpus F1 from the reviewed sample)")
    choices = [("taxonomy alone", pl.col("topic")), ("model alone", pl.col("model_topic"))]
    choices += [(f"backup, model >= {tau}", backed_up(tau)) for tau in BACKUP_THRESHOLDS]
    rows = []
    for name, topic in choices:
        macro_f1, _ = dev_report(dev, topic, pl.col("topic_confidence"), taxonomy)
        quality = topic_quality(reviewed.with_columns(topic.alias("topic")), reviewed_keys)
        f1 = dict(quality.select("label", "f1").iter_rows())
        rows.append({"choice": name, "dev macro-F1": macro_f1, **{f"corpus F1 {k}": v for k, v in f1.items()}})
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(pl.DataFrame(rows))

    print(f"\nCalibration: each level split by model agreement (weak labels, {args.folds}-fold cross-fitted)")
    measured = labeled_paragraphs(articles, weak_labels(articles, taxonomy), taxonomy)
    split_table = cross_fitted_agreement(paragraphs, measured, args.folds).with_columns(
        (pl.col("agree") / pl.col("paragraphs")).alias("split_confidence")
    )
    level_table = split_table.group_by("level").agg(
        (pl.col("agree").sum() / pl.col("paragraphs").sum()).alias("level_confidence")
    )
    with pl.Config(tbl_rows=20, float_precision=3):
        print(split_table)

    def with_tables(frame: pl.DataFrame) -> pl.DataFrame:
        agrees = (pl.col("model_topic") == pl.col("topic")).alias("model_agrees")
        cells = split_table.select("level", "model_agrees", "split_confidence")
        return frame.with_columns(agrees).join(cells, on=["level", "model_agrees"], how="left").join(
            level_table, on="level", how="left"
        )

    weighted = weighted_reviews(with_tables(reviewed), reviewed_keys)
    for name, confidence, cells in (
        ("levels (weak-label agreement)", pl.col("level_confidence"), ["level"]),
        ("levels split by model agreement", pl.col("split_confidence"), ["level", "model_agrees"]),
    ):
        _, dev_ece = dev_report(with_tables(dev), pl.col("topic"), confidence, taxonomy)
        corpus_error = corpus_calibration_error(weighted, confidence, cells)
        print(f"{name:<36} dev ECE {dev_ece:.3f}   corpus calibration error {corpus_error:.3f}")


if __name__ == "__main__":
    main()
