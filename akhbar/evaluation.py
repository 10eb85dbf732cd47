"""Evaluate the topic classifier on a labeled JSONL file: per-class P/R/F1, confusion, calibration.

Pure functions; the ``akhbar eval`` command wires them to files and the console.  Metrics are
computed with polars.  Macro-F1 averages over every label that occurs in the gold labels or in the
predictions (as scikit-learn does by default).

Calibration: ``topic_confidence`` is cut into ``CALIBRATION_BINS`` equal-width bins over [0, 1] (the
last one closed, a confidence of exactly 1.0 falls in it).  The expected calibration error is
``ECE = Σ_b (n_b / N) · |accuracy_b − mean confidence_b|`` over the non-empty bins: the average gap,
weighted by examples, between how sure the classifier says it is and how often it is right
(Naeini et al. 2015; Guo et al. 2017).  0 is perfectly calibrated.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from akhbar.normalize import normalize_text
from akhbar.topics import OTHER_TOPIC, Taxonomy, classify_topics

#: Equal-width calibration bins of ``topic_confidence`` (for the table and the ECE).
CALIBRATION_BINS = 10
#: Edges of the calibration bins; the last bin includes 1.0.
CALIBRATION_EDGES = tuple(index / CALIBRATION_BINS for index in range(CALIBRATION_BINS + 1))
LABELED_KEYS = ("text", "label")


class LabeledDataError(ValueError):
    """A labeled file that cannot be evaluated; the message names the file and line."""


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one label, and its number of gold examples."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class CalibrationBucket:
    """Accuracy of the predictions whose confidence falls in [lower, upper)."""

    lower: float
    upper: float
    count: int
    correct: int
    mean_confidence: float | None

    @property
    def accuracy(self) -> float | None:
        """Share of correct predictions; ``None`` for an empty bucket."""
        return self.correct / self.count if self.count else None

    @property
    def name(self) -> str:
        """The bucket as an interval, e.g. "[0.70, 0.85)"."""
        closing = "]" if self.upper >= CALIBRATION_EDGES[-1] else ")"
        return f"[{self.lower:.2f}, {self.upper:.2f}{closing}"


@dataclass(frozen=True)
class EvaluationReport:
    """Everything ``akhbar eval`` reports about one labeled set and one taxonomy."""

    taxonomy_version: str
    taxonomy_fingerprint: str
    examples: int
    labels: tuple[str, ...]
    per_class: tuple[ClassMetrics, ...]
    macro_f1: float
    accuracy: float
    #: ``confusion[i][j]``: examples with gold ``labels[i]`` predicted as ``labels[j]``.
    confusion: tuple[tuple[int, ...], ...]
    calibration: tuple[CalibrationBucket, ...]
    #: Expected calibration error over ``calibration`` (module doc); 0.0 for no examples.
    ece: float

    def metrics_for(self, label: str) -> ClassMetrics:
        """The metrics of one label (KeyError when the label is unknown)."""
        for metrics in self.per_class:
            if metrics.label == label:
                return metrics
        raise KeyError(label)

    def to_json_dict(self) -> dict[str, object]:
        """A JSON-serializable dict of the whole report."""
        return {
            "taxonomy": {"version": self.taxonomy_version, "fingerprint": self.taxonomy_fingerprint},
            "examples": self.examples,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "ece": self.ece,
            "per_class": {
                m.label: {
                    "precision": m.precision,
                    "recall": m.recall,
                    "f1": m.f1,
                    "support": m.support,
                    "predicted": m.predicted,
                }
                for m in self.per_class
            },
            "confusion": {"labels": list(self.labels), "matrix": [list(row) for row in self.confusion]},
            "calibration": [
                {
                    "bucket": b.name,
                    "lower": b.lower,
                    "upper": b.upper,
                    "count": b.count,
                    "accuracy": b.accuracy,
                    "mean_confidence": b.mean_confidence,
                }
                for b in self.calibration
            ],
        }


# --- loading --------------------------------------------------------------------------------------


def load_labeled(path: Path) -> pl.DataFrame:
    """Read a JSONL file of objects with string ``text`` and ``label``; blank lines are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise LabeledDataError(f"{path}: cannot read labeled file ({error})") from error
    texts: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        text, label = _parse_labeled_line(line, f"{path}:{number}")
        texts.append(text)
        labels.append(label)
    return pl.DataFrame({"text": texts, "label": labels}, schema={"text": pl.String, "label": pl.String})


def _parse_labeled_line(line: str, where: str) -> tuple[str, str]:
    """One JSONL line → (text, label), with an error naming file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise LabeledDataError(f"{where}: invalid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(record, dict):
        raise LabeledDataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in LABELED_KEYS if key not in record]
    if missing:
        raise LabeledDataError(f"{where}: missing key(s) {', '.join(missing)}")
    text, label = record["text"], record["label"]
    if not isinstance(text, str) or not isinstance(label, str) or not label.strip():
        raise LabeledDataError(f"{where}: `text` and `label` must be strings (label non-empty)")
    return text, label.strip()


# --- evaluation -------------------------------------------------------------------------------------


def predict_labeled(labeled: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """Classify ``labeled`` exactly as the pipeline does: normalize, then :func:`classify_topics`."""
    segments = labeled.with_columns(normalize_text(pl.col("text")).alias("text_norm"))
    return classify_topics(segments, taxonomy)


def evaluate(labeled: pl.DataFrame, taxonomy: Taxonomy) -> EvaluationReport:
    """Classify the labeled texts and score the predictions against their labels."""
    predictions = predict_labeled(labeled, taxonomy).select(
        pl.col("label"), pl.col("topic").alias("predicted"), pl.col("topic_confidence")
    )
    return score_predictions(predictions, taxonomy_labels(taxonomy), taxonomy=taxonomy)


def taxonomy_labels(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The labels a taxonomy can predict: its topics in order, then ``other``."""
    return (*taxonomy.topic_names, OTHER_TOPIC)


def score_predictions(
    predictions: pl.DataFrame, labels: tuple[str, ...], *, taxonomy: Taxonomy | None = None
) -> EvaluationReport:
    """Metrics of a frame with ``label``, ``predicted`` and ``topic_confidence`` columns."""
    extra = predictions.select(pl.col("label").unique().sort()).to_series().to_list()
    all_labels = (*labels, *(label for label in extra if label not in labels))
    confusion = confusion_matrix(predictions, all_labels)
    per_class = per_class_metrics(confusion, all_labels)
    counted = [m for m in per_class if m.support > 0 or m.predicted > 0]
    correct = predictions.select((pl.col("label") == pl.col("predicted")).sum()).item()
    calibration = calibration_buckets(predictions)
    return EvaluationReport(
        taxonomy_version=taxonomy.version if taxonomy else "",
        taxonomy_fingerprint=taxonomy.fingerprint if taxonomy else "",
        examples=predictions.height,
        labels=all_labels,
        per_class=tuple(per_class),
        macro_f1=sum(m.f1 for m in counted) / len(counted) if counted else 0.0,
        accuracy=correct / predictions.height if predictions.height else 0.0,
        confusion=confusion,
        calibration=calibration,
        ece=expected_calibration_error(calibration),
    )


def confusion_matrix(predictions: pl.DataFrame, labels: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    """Counts of (gold label, predicted label) pairs in ``labels`` × ``labels`` order."""
    counts = predictions.group_by("label", "predicted").len()
    grid = pl.DataFrame({"label": list(labels)}).join(pl.DataFrame({"predicted": list(labels)}), how="cross")
    filled = grid.join(counts, on=["label", "predicted"], how="left", maintain_order="left")
    values = filled.select(pl.col("len").fill_null(0)).to_series().to_list()
    size = len(labels)
    return tuple(tuple(int(v) for v in values[row * size : (row + 1) * size]) for row in range(size))


def per_class_metrics(confusion: tuple[tuple[int, ...], ...], labels: tuple[str, ...]) -> list[ClassMetrics]:
    """Precision, recall and F1 per label from a confusion matrix (0 where undefined)."""
    frame = pl.DataFrame(
        {
            "label": list(labels),
            "tp": [confusion[i][i] for i in range(len(labels))],
            "support": [sum(row) for row in confusion],
            "predicted": [sum(row[j] for row in confusion) for j in range(len(labels))],
        }
    ).with_columns(
        _safe_ratio(pl.col("tp"), pl.col("predicted")).alias("precision"),
        _safe_ratio(pl.col("tp"), pl.col("support")).alias("recall"),
    )
    frame = frame.with_columns(
        _safe_ratio(2 * pl.col("precision") * pl.col("recall"), pl.col("precision") + pl.col("recall")).alias("f1")
    )
    return [
        ClassMetrics(
            label=row["label"],
            precision=row["precision"],
            recall=row["recall"],
            f1=row["f1"],
            support=row["support"],
            predicted=row["predicted"],
        )
        for row in frame.iter_rows(named=True)
    ]


def _safe_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator as Float64, 0.0 where the denominator is 0."""
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(0.0).cast(pl.Float64)


def calibration_buckets(predictions: pl.DataFrame) -> tuple[CalibrationBucket, ...]:
    """Accuracy per ``topic_confidence`` bucket (see ``CALIBRATION_EDGES``)."""
    edges = CALIBRATION_EDGES
    # Equal widths: the bin is floor(confidence · bins), with 1.0 (and rounding above it) in the last.
    bucket = (pl.col("topic_confidence") * CALIBRATION_BINS).floor().cast(pl.Int64).clip(0, CALIBRATION_BINS - 1)
    stats = (
        predictions.with_columns(bucket.alias("bucket"))
        .group_by("bucket")
        .agg(
            pl.len().alias("count"),
            (pl.col("label") == pl.col("predicted")).sum().alias("correct"),
            pl.col("topic_confidence").mean().alias("mean_confidence"),
        )
    )
    by_bucket = {row["bucket"]: row for row in stats.iter_rows(named=True)}
    buckets = []
    for index, (lower, upper) in enumerate(itertools.pairwise(edges)):
        row = by_bucket.get(index)
        buckets.append(
            CalibrationBucket(
                lower=lower,
                upper=upper,
                count=int(row["count"]) if row else 0,
                correct=int(row["correct"]) if row else 0,
                mean_confidence=row["mean_confidence"] if row else None,
            )
        )
    return tuple(buckets)


def expected_calibration_error(buckets: tuple[CalibrationBucket, ...]) -> float:
    """ECE: the example-weighted mean of |accuracy − mean confidence| over the non-empty bins."""
    total = sum(b.count for b in buckets)
    if total == 0:
        return 0.0
    gaps = (
        b.count * abs(b.correct / b.count - b.mean_confidence)
        for b in buckets
        if b.count and b.mean_confidence is not None
    )
    return sum(gaps) / total


# --- rendering --------------------------------------------------------------------------------------


def render_report(report: EvaluationReport, console: Console) -> None:
    """Print per-class metrics, macro-F1, the confusion matrix and calibration as rich tables."""
    console.print(_metrics_table(report))
    console.print(
        f"macro-F1 [bold]{report.macro_f1:.3f}[/bold]   accuracy {report.accuracy:.3f}   ECE {report.ece:.3f}   "
        f"examples {report.examples}   taxonomy {escape(str(report.taxonomy_version))} "
        f"({report.taxonomy_fingerprint[:12]})"
    )
    console.print(_confusion_table(report))
    console.print(_calibration_table(report))


def _metrics_table(report: EvaluationReport) -> Table:
    """Per-class precision, recall, F1 and support."""
    table = Table(title="Per-class metrics")
    table.add_column("label")
    for name in ("precision", "recall", "F1", "support", "predicted"):
        table.add_column(name, justify="right")
    for m in report.per_class:
        table.add_row(
            escape(m.label), f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}", str(m.support), str(m.predicted)
        )
    return table


def _confusion_table(report: EvaluationReport) -> Table:
    """Gold labels (rows) × predicted labels (columns)."""
    table = Table(title="Confusion (rows: gold, columns: predicted)")
    table.add_column("gold \\ predicted")
    for label in report.labels:
        table.add_column(escape(label), justify="right")
    for label, row in zip(report.labels, report.confusion, strict=True):
        table.add_row(escape(label), *(str(count) for count in row))
    return table


def _calibration_table(report: EvaluationReport) -> Table:
    """Accuracy per confidence bucket: well calibrated when it tracks the mean confidence."""
    table = Table(title=f"Calibration of topic_confidence (ECE {report.ece:.3f}, {CALIBRATION_BINS} equal-width bins)")
    for name in ("bucket", "count", "accuracy", "mean confidence"):
        table.add_column(name, justify="right")
    for b in report.calibration:
        accuracy = "-" if b.accuracy is None else f"{b.accuracy:.3f}"
        mean = "-" if b.mean_confidence is None else f"{b.mean_confidence:.3f}"
        table.add_row(escape(b.name), str(b.count), accuracy, mean)
    return table
