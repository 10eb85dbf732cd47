"""Evaluation: loading labeled JSONL, metrics checked by hand, rendering, and the dev-set gate."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from akhbar.evaluation import (
    LabeledDataError,
    evaluate,
    load_labeled,
    render_report,
    score_predictions,
    taxonomy_labels,
)
from akhbar.topics import Taxonomy, load_taxonomy

DEV_SET = Path(__file__).resolve().parents[1].parent / "shared/data/dev_labeled.jsonl"
LABELS = ("diplomacy", "gold_prices", "football", "markets", "other")


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    """The packaged taxonomy, loaded once."""
    return load_taxonomy()


def hand_frame() -> pl.DataFrame:
    """Six predictions whose metrics are worked out by hand in the tests below."""
    return pl.DataFrame(
        {
            "label": ["diplomacy", "diplomacy", "football", "football", "other", "other"],
            "predicted": ["diplomacy", "football", "football", "football", "other", "diplomacy"],
            "topic_confidence": [0.30, 0.60, 0.90, 0.95, 0.75, 0.50],
        }
    )


# --- metrics --------------------------------------------------------------------------------------


def test_per_class_metrics_by_hand() -> None:
    report = score_predictions(hand_frame(), LABELS)
    # diplomacy: 1 right of 2 predicted, 1 found of 2 → P = R = F1 = 0.5
    diplomacy = report.metrics_for("diplomacy")
    assert (diplomacy.precision, diplomacy.recall, diplomacy.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert (diplomacy.support, diplomacy.predicted) == (2, 2)
    # football: 2 right of 3 predicted, 2 of 2 found → P = 2/3, R = 1, F1 = 0.8
    football = report.metrics_for("football")
    assert (football.precision, football.recall, football.f1) == pytest.approx((2 / 3, 1.0, 0.8))
    # other: 1 of 1 predicted, 1 of 2 found → P = 1, R = 0.5, F1 = 2/3
    other = report.metrics_for("other")
    assert (other.precision, other.recall, other.f1) == pytest.approx((1.0, 0.5, 2 / 3))
    # Labels neither in the gold set nor predicted are reported as zeros and left out of macro-F1.
    gold = report.metrics_for("gold_prices")
    assert (gold.precision, gold.recall, gold.f1, gold.support) == (0.0, 0.0, 0.0, 0)
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.examples == 6


def test_confusion_matrix_by_hand() -> None:
    report = score_predictions(hand_frame(), LABELS)
    assert report.labels == LABELS
    assert report.confusion == (
        (1, 0, 1, 0, 0),  # diplomacy → diplomacy, football
        (0, 0, 0, 0, 0),
        (0, 0, 2, 0, 0),  # football → football ×2
        (0, 0, 0, 0, 0),
        (1, 0, 0, 0, 1),  # other → diplomacy, other
    )


def test_calibration_buckets_by_hand() -> None:
    buckets = score_predictions(hand_frame(), LABELS).calibration
    # Ten equal-width bins; the last one is closed.
    assert [b.name for b in buckets][:2] == ["[0.00, 0.10)", "[0.10, 0.20)"]
    assert buckets[-1].name == "[0.90, 1.00]"
    # 0.30 right → bin 3; 0.50 wrong → 5; 0.60 wrong → 6; 0.75 right → 7; 0.90 and 0.95 right → 9.
    counts = [(b.count, b.correct) for b in buckets]
    assert counts == [(0, 0)] * 3 + [(1, 1), (0, 0), (1, 0), (1, 0), (1, 1), (0, 0), (2, 2)]
    assert buckets[9].mean_confidence == pytest.approx(0.925)
    assert buckets[0].accuracy is None


def test_expected_calibration_error_by_hand() -> None:
    report = score_predictions(hand_frame(), LABELS)
    # Σ n_b/N · |acc_b − conf_b|: four bins of one row, one bin of two rows (acc 1, conf 0.925).
    by_hand = (abs(1 - 0.30) + abs(0 - 0.50) + abs(0 - 0.60) + abs(1 - 0.75)) / 6 + 2 / 6 * abs(1 - 0.925)
    assert report.ece == pytest.approx(by_hand)


def test_expected_calibration_error_is_zero_when_confidence_is_accuracy() -> None:
    # Four predictions at 0.75 of which three are right, one at 1.0 that is right.
    frame = pl.DataFrame(
        {
            "label": ["football", "football", "football", "other", "markets"],
            "predicted": ["football", "football", "football", "football", "markets"],
            "topic_confidence": [0.75, 0.75, 0.75, 0.75, 1.0],
        }
    )
    report = score_predictions(frame, LABELS)
    assert report.ece == pytest.approx(0.0)
    assert report.calibration[-1].count == 1


def test_unknown_gold_label_is_reported() -> None:
    frame = hand_frame().with_columns(pl.lit("weather").alias("label"))
    report = score_predictions(frame, LABELS)
    assert report.labels[-1] == "weather"
    assert report.metrics_for("weather").support == 6
    assert report.accuracy == 0.0


def test_empty_predictions() -> None:
    empty = hand_frame().head(0)
    report = score_predictions(empty, LABELS)
    assert (report.examples, report.macro_f1, report.accuracy, report.ece) == (0, 0.0, 0.0, 0.0)
    assert all(b.count == 0 and b.accuracy is None for b in report.calibration)


def test_json_dict_round_trips() -> None:
    data = score_predictions(hand_frame(), LABELS).to_json_dict()
    decoded = json.loads(json.dumps(data))
    assert decoded["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert decoded["per_class"]["football"]["support"] == 2
    assert decoded["confusion"]["labels"] == list(LABELS)
    assert decoded["calibration"][9]["count"] == 2
    assert decoded["ece"] == pytest.approx(data["ece"])


def test_render_report_prints_every_table() -> None:
    console = Console(record=True, width=140)
    render_report(score_predictions(hand_frame(), LABELS), console)
    text = console.export_text()
    for expected in ("Per-class metrics", "macro-F1 0.656", "ECE 0.367", "Confusion", "Calibration", "gold_prices"):
        assert expected in text


def test_render_report_prints_labels_and_buckets_as_written() -> None:
    """Labels come from the user's file: one that looks like rich markup is printed as it is."""
    frame = hand_frame().with_columns(pl.col("label").replace("other", "[bold]misc[/bold]"))
    console = Console(record=True, width=160)
    render_report(score_predictions(frame, LABELS), console)
    text = console.export_text()
    assert "[bold]misc[/bold]" in text
    assert "[0.90, 1.00]" in text


# --- loading and the pipeline path --------------------------------------------------------------------


def test_load_labeled(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [{"text": "سعر الذهب اليوم", "label": "gold_prices", "id": 1}, {"text": "خبر", "label": "other"}]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n\n", encoding="utf-8")
    frame = load_labeled(path)
    assert frame.columns == ["text", "label"]
    assert frame["label"].to_list() == ["gold_prices", "other"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"text": "x", "label": ', "invalid JSON"),
        ('{"text": "x"}', "missing key(s) label"),
        ('["x", "other"]', "expected a JSON object"),
        ('{"text": 3, "label": "other"}', "must be strings"),
    ],
)
def test_load_labeled_errors_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "ok", "label": "other"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(LabeledDataError, match=r"broken\.jsonl:2") as caught:
        load_labeled(path)
    assert problem in str(caught.value)


def test_evaluate_runs_the_pipeline_path(taxonomy: Taxonomy) -> None:
    labeled = pl.DataFrame(
        {
            # Raw text (diacritics, Arabic-Indic digits, punctuation): evaluate must normalize it.
            "text": [
                "ارتفعَ سعرُ الذهبِ عيار ٢١ اليومَ",
                "التقى وزيرُ الخارجيةِ نظيرَه الفرنسيّ",
                "سجّل محمد صلاح هدفين لليفربول",
                "تراجعت البورصةُ المصرية في ختام التعاملات",
                "افتتاح معرض الكتاب في القاهرة",
            ],
            "label": ["gold_prices", "diplomacy", "football", "markets", "other"],
        }
    )
    report = evaluate(labeled, taxonomy)
    assert report.accuracy == 1.0
    assert report.macro_f1 == 1.0
    assert report.labels == taxonomy_labels(taxonomy)
    assert report.taxonomy_fingerprint == taxonomy.fingerprint


@pytest.mark.skipif(not DEV_SET.exists(), reason=f"{DEV_SET} not present")
def test_dev_set_quality_gate(taxonomy: Taxonomy) -> None:
    report = evaluate(load_labeled(DEV_SET), taxonomy)
    summary = {m.label: round(m.f1, 3) for m in report.per_class}
    assert report.macro_f1 >= 0.92, summary
    assert all(m.f1 >= 0.85 for m in report.per_class if m.support > 0), summary
    assert report.metrics_for("other").precision >= 0.85
    # Calibrated from corpus weak labels, not from these lines: a loose bound, not a fit.
    assert report.ece <= 0.08
