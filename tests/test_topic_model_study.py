"""The statistical-layer study (bench/topic_model_study.py): its labels, its backup rule, its calibration error."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

from calibration_map import weak_labels  # noqa: E402
from topic_model_study import backed_up, corpus_calibration_error, training_labels  # noqa: E402

from akhbar.topics import OTHER_TOPIC, load_taxonomy  # noqa: E402


def test_the_backup_overrides_only_a_taxonomy_other_with_a_sure_model_topic() -> None:
    frame = pl.DataFrame(
        {
            "topic": ["other", "other", "other", "football", "other"],
            "model_topic": ["diplomacy", "diplomacy", "other", "markets", "markets"],
            "model_prob": [0.95, 0.60, 0.99, 0.99, 0.70],
        }
    )
    chosen = frame.select(backed_up(0.7).alias("chosen")).get_column("chosen").to_list()
    # Sure enough; not sure enough; the model says other too; the taxonomy decided; exactly at tau.
    assert chosen == ["diplomacy", "other", "other", "football", "markets"]


def test_the_calibration_error_weighs_each_cell_by_the_paragraphs_it_stands_for() -> None:
    reviewed = pl.DataFrame(
        {
            "cell": ["a", "a", "b", "b"],
            "topic": ["football", "other", "other", "other"],
            "label": ["football", "football", "other", "other"],
            "w": [30.0, 10.0, 5.0, 5.0],
            "confidence": [0.9, 0.9, 0.8, 0.8],
        }
    )
    accuracy_a, accuracy_b = 30.0 / 40.0, 1.0
    expected = (40.0 * abs(accuracy_a - 0.9) + 10.0 * abs(accuracy_b - 0.8)) / 50.0
    measured = corpus_calibration_error(reviewed, pl.col("confidence"), ["cell"])
    assert abs(measured - expected) < 1e-12


def test_training_labels_add_quiet_titles_outside_sport_and_economy_as_other() -> None:
    taxonomy = load_taxonomy()
    quiet_title = "افتتاح معرض للكتاب في المدينة القديمة"
    articles = pl.DataFrame(
        {
            "id": ["quiet-news", "quiet-sport", "quiet-economy", "sure-football"],
            "section": ["middleEast", "sport", "economy", "sport"],
            "title": [
                quiet_title,
                quiet_title,
                quiet_title,
                "الأهلي يفوز على الزمالك بهدفين في الدوري المصري الممتاز ويتصدر جدول الترتيب",
            ],
            "paragraphs": [["نص"], ["نص"], ["نص"], ["نص"]],
        }
    )
    labels = training_labels(articles, taxonomy).sort("id")
    topical = weak_labels(articles, taxonomy).filter(pl.col("weak") != OTHER_TOPIC)
    assert topical.get_column("id").to_list() == ["sure-football"]
    expected = pl.concat([topical, pl.DataFrame({"id": ["quiet-news"], "weak": [OTHER_TOPIC]})]).sort("id")
    assert_frame_equal(labels, expected)
