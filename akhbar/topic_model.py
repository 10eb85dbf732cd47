"""A linear topic model over words and word pairs: the statistical second opinion behind the taxonomy.

The model is a table, not code: one row per feature (a word, or two consecutive words joined by a
space) with one weight per class, plus one intercept per class (the row whose feature is
:data:`INTERCEPT`).  A text's class scores are the intercepts plus the weights of the distinct
features it contains (binary features), and its probabilities their softmax: multinomial logistic
regression, trained offline (bench/topic_model.py) and scored here with polars joins, no per-row
Python and no machine-learning library at run time.

Features come from ``text_norm``: runs of letters (digits and punctuation separate words and are
dropped), Latin lower-cased.  Training (:func:`feature_rows`) and scoring (:func:`class_probabilities`)
share one tokenizer, so they can never tokenize differently.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

#: A word: a run of letters and combining marks.  Digits, punctuation and spaces separate words.
WORD_PATTERN = r"[\p{L}\p{M}]+"
#: The feature name of the intercept row (never a word: words are non-empty).
INTERCEPT = ""
#: The column of feature names; the class columns follow it.
FEATURE = "feature"


class TopicModelError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class TopicModel:
    """The weights of a linear model: ``feature`` plus one Float32 column per class, intercepts apart."""

    source: str
    classes: tuple[str, ...]
    #: ``feature`` (String) and one weight column per class, in ``classes`` order; no intercept row.
    weights: pl.DataFrame = field(repr=False, compare=False)
    intercepts: tuple[float, ...]
    #: SHA-256 of the file's bytes: part of the taxonomy fingerprint.
    fingerprint: str
    #: What the file says it was trained on (free text from its metadata).
    trained_on: str = ""


def feature_rows(texts: pl.LazyFrame, row: str) -> pl.LazyFrame:
    """One row per distinct (``row``, feature) of every ``text_norm``: its words and consecutive word pairs."""
    return _features(texts, row).unique([row, FEATURE])


def _features(texts: pl.LazyFrame, row: str) -> pl.LazyFrame:
    """Every (``row``, feature) occurrence of every ``text_norm``, repeats included."""
    words = texts.select(row, pl.col("text_norm").str.to_lowercase().str.extract_all(WORD_PATTERN).alias("word"))
    # A word's pair is itself and the next word: the list without its last word beside the list
    # without its first, exploded together (no window over rows).
    pair_count = pl.col("word").list.len() - 1
    pairs = (
        words.select(row, pl.col("word").list.head(pair_count).alias("first"), pl.col("word").list.tail(pair_count))
        .explode("first", "word", empty_as_null=False, keep_nulls=False)
        .select(row, pl.concat_str("first", pl.lit(" "), "word").alias(FEATURE))
    )
    singles = words.explode("word", empty_as_null=False, keep_nulls=False).select(row, pl.col("word").alias(FEATURE))
    return pl.concat([singles, pairs])


def class_probabilities(texts: pl.LazyFrame, row: str, model: TopicModel) -> pl.LazyFrame:
    """Per ``row`` of ``texts`` (with ``text_norm``): ``model_topic`` and its probability ``model_probability``."""
    columns = [f"{FEATURE}:{name}" for name in model.classes]
    weights = model.weights.lazy().rename(dict(zip(model.classes, columns, strict=True)))
    # Features the model does not know are dropped by the join first; the repeats of known ones are
    # then dropped on integers (binary features), cheaper than de-duplicating every string.
    known = (
        _features(texts, row)
        .join(weights.select(FEATURE).with_row_index("feature_index"), on=FEATURE, how="inner")
        .select(row, "feature_index")
        .unique()
    )
    sums = (
        known.join(weights.drop(FEATURE).with_row_index("feature_index"), on="feature_index", how="inner")
        .group_by(row)
        .agg(pl.col(column).cast(pl.Float64).sum() for column in columns)
    )
    logits = [
        (pl.col(column).fill_null(0.0) + intercept).alias(column)
        for column, intercept in zip(columns, model.intercepts, strict=True)
    ]
    # Softmax: only the winning class and its probability are needed, shifted by the largest logit.
    top = pl.max_horizontal(columns)
    total = pl.sum_horizontal([(pl.col(column) - top).exp() for column in columns])
    best = pl.lit(None, dtype=pl.String)
    for name, column in reversed(list(zip(model.classes, columns, strict=True))):
        best = pl.when(pl.col(column) == top).then(pl.lit(name)).otherwise(best)
    return (
        texts.select(row)
        .join(sums, on=row, how="left", maintain_order="left")
        .with_columns(logits)
        .select(row, best.alias("model_topic"), (1.0 / total).alias("model_probability"))
    )


def write_topic_model(model: TopicModel, path: Path, *, citation: str = "") -> None:
    """``model`` as the Parquet file :func:`load_topic_model` reads: the intercept row, then the features."""
    intercept = pl.DataFrame(
        {FEATURE: [INTERCEPT]} | {name: [value] for name, value in zip(model.classes, model.intercepts, strict=True)}
    ).cast({name: pl.Float32 for name in model.classes})
    table = pl.concat([intercept, model.weights.cast({name: pl.Float32 for name in model.classes})]).to_arrow()
    metadata = {"classes": ",".join(model.classes), "trained_on": model.trained_on, "citation": citation}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    pq.write_table(table, path, compression="zstd", compression_level=19)


def load_topic_model(path: Path, *, source: str | None = None) -> TopicModel:
    """Read a model file (Parquet: ``feature`` and one Float32 column per class, metadata names them)."""
    name = source or str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TopicModelError(f"{name}: cannot read topic model ({error.strerror or error})") from error
    return parse_topic_model(data, source=name)


def parse_topic_model(data: bytes, *, source: str) -> TopicModel:
    """A :class:`TopicModel` from the bytes of its Parquet file."""
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as error:  # pyarrow raises several types for a damaged or foreign file
        raise TopicModelError(f"{source}: not a Parquet topic model ({error})") from error
    metadata = {key.decode(): value.decode() for key, value in (table.schema.metadata or {}).items()}
    if "classes" not in metadata:
        raise TopicModelError(f"{source}: no `classes` in the Parquet metadata: not an akhbar topic model")
    classes = tuple(metadata["classes"].split(","))
    frame = pl.from_arrow(table)
    if not isinstance(frame, pl.DataFrame):  # a table always converts to a frame; this narrows the type
        raise TopicModelError(f"{source}: not a table")
    expected = [FEATURE, *classes]
    if frame.columns != expected:
        raise TopicModelError(f"{source}: columns must be {expected}, got {frame.columns}")
    if frame.schema[FEATURE] != pl.String or any(frame.schema[name] != pl.Float32 for name in classes):
        raise TopicModelError(f"{source}: `feature` must be String and the class columns Float32")
    intercept = frame.filter(pl.col(FEATURE) == INTERCEPT)
    if intercept.height != 1:
        raise TopicModelError(f"{source}: needs exactly one intercept row (feature \"\"), got {intercept.height}")
    if frame.get_column(FEATURE).is_null().any() or frame.get_column(FEATURE).is_duplicated().any():
        raise TopicModelError(f"{source}: features must be unique and not null")
    return TopicModel(
        source=source,
        classes=classes,
        weights=frame.filter(pl.col(FEATURE) != INTERCEPT),
        intercepts=tuple(float(intercept.item(0, name)) for name in classes),
        fingerprint=hashlib.sha256(data).hexdigest(),
        trained_on=metadata.get("trained_on", ""),
    )
