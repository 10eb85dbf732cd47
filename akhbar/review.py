"""What a curator looks at: sample segments per topic and the review queue (pure polars, no Prefect).

``topic_samples`` shows, per topic, the segments the classifier is surest and least sure of;
``review_queue`` lists the segments worth a second look: low confidence, or a runner-up topic that
scored close to the winner. Both take the ``segments`` and ``documents`` datasets as lazy frames (the
flow passes one run's rows, ``akhbar review`` the whole lake) and return small typed frames;
:func:`artifact_rows` turns either into rows for a Prefect table artifact.
"""

from __future__ import annotations

import polars as pl

from akhbar.lake import LakePath, scan_dataset
from schemas import DOCUMENTS, SEGMENTS

#: A sample's or queue entry's text is cut to about this many characters (at a word boundary).
SNIPPET_CHARS = 200
#: Per topic, this many of the most and this many of the least confident segments.
SAMPLES_PER_END = 2
#: Below this ``topic_confidence`` a segment is queued for review. The packaged calibration gives
#: 0.61-0.70 to weak evidence (a topic by a hair, or ``other`` with some topic terms) and >= 0.89 above.
LOW_CONFIDENCE = 0.75
#: A runner-up topic whose score is within this much of the winner's makes a close call (the
#: calibration's first margin edge: below it the winner is least reliable).
CLOSE_MARGIN = 1.5
#: Rows of the review queue shown by default.
REVIEW_LIMIT = 20

MOST_CONFIDENT, LEAST_CONFIDENT = "most confident", "least confident"
LOW_REASON, CLOSE_REASON = "low confidence", "close call"

SAMPLE_SCHEMA = pl.Schema(
    {
        "topic": pl.String(),
        "pick": pl.String(),
        "topic_confidence": pl.Float64(),
        "text": pl.String(),
        "matched_terms": pl.List(pl.Struct({"topic": pl.String(), "term": pl.String()})),
        "source_path": pl.String(),
        "line_no": pl.Int64(),
        "segment_id": pl.String(),
    }
)
QUEUE_SCHEMA = pl.Schema(
    {
        "reason": pl.String(),
        "topic": pl.String(),
        "topic_confidence": pl.Float64(),
        "top_topic": pl.String(),
        "top_score": pl.Float64(),
        "second_topic": pl.String(),
        "second_score": pl.Float64(),
        "text": pl.String(),
        "source_path": pl.String(),
        "line_no": pl.Int64(),
        "segment_id": pl.String(),
    }
)

ArtifactRow = dict[str, str | int | float | None]


def lake_frames(lake: LakePath, run_id: str | None = None) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The lake's ``segments`` and ``documents`` scans, only ``run_id``'s rows when given."""
    segments, documents = scan_dataset(lake, SEGMENTS), scan_dataset(lake, DOCUMENTS)
    if run_id is None:
        return segments, documents
    # A filter on the scan: polars prunes files and row groups by their run_id statistics.
    return segments.filter(pl.col("run_id") == run_id), documents.filter(pl.col("run_id") == run_id)


def snippet(text: pl.Expr, max_chars: int = SNIPPET_CHARS) -> pl.Expr:
    """``text`` cut to at most ``max_chars`` characters, at a word boundary, ending in "…" when cut."""
    # Cutting at a space never leaves half a word or a letter without its diacritics.
    head = text.str.slice(0, max_chars).str.replace(r"\s+\S*$", "")
    return pl.when(text.str.len_chars() > max_chars).then(head + "…").otherwise(text)


def _with_details(picked: pl.DataFrame, segments: pl.LazyFrame, documents: pl.LazyFrame) -> pl.LazyFrame:
    """The picked segments with their text (cut), matched terms, line and document's ``source_path``."""
    # Picks are made on the small columns; the text is read only for the few segments picked.
    details = segments.filter(pl.col("segment_id").is_in(picked.get_column("segment_id").implode())).select(
        "segment_id", "doc_id", "line_no", "text", "matched_terms"
    )
    return (
        picked.lazy()
        .join(details, on="segment_id", how="left")
        .join(documents.select("doc_id", "source_path"), on="doc_id", how="left")
    )


def topic_samples(
    segments: pl.LazyFrame,
    documents: pl.LazyFrame,
    *,
    per_end: int = SAMPLES_PER_END,
    max_chars: int = SNIPPET_CHARS,
) -> pl.DataFrame:
    """Per topic, its ``per_end`` most and ``per_end`` least confident segments; ties by segment_id."""
    # Sorted by confidence then segment_id, so an ordinal rank breaks ties by segment_id both ways.
    ranked = (
        segments.select("segment_id", "topic", "topic_confidence")
        .sort("topic", "topic_confidence", "segment_id")
        .with_columns(
            least=pl.int_range(pl.len()).over("topic"),
            most=pl.col("topic_confidence").rank("ordinal", descending=True).over("topic").cast(pl.Int64) - 1,
        )
    )
    is_most = pl.col("most") < per_end
    picked = (
        ranked.filter(is_most | (pl.col("least") < per_end))
        .with_columns(
            pick=pl.when(is_most).then(pl.lit(MOST_CONFIDENT)).otherwise(pl.lit(LEAST_CONFIDENT)),
            order=pl.when(is_most).then(pl.col("most")).otherwise(per_end + pl.col("least")),
        )
        .collect(engine="streaming")
    )
    return (
        _with_details(picked, segments, documents)
        .with_columns(text=snippet(pl.col("text"), max_chars))
        .sort("topic", "order")
        .select(SAMPLE_SCHEMA.names())
        .cast(SAMPLE_SCHEMA)
        .collect()
    )


def _ranked_scores() -> pl.Expr:
    """``topic_scores`` from the highest score down (ties in taxonomy order)."""
    return pl.col("topic_scores").list.eval(
        pl.element().sort_by(pl.element().struct.field("score"), descending=True, maintain_order=True)
    )


def review_queue(
    segments: pl.LazyFrame,
    documents: pl.LazyFrame,
    *,
    topic: str | None = None,
    limit: int = REVIEW_LIMIT,
    low_confidence: float = LOW_CONFIDENCE,
    close_margin: float = CLOSE_MARGIN,
    max_chars: int = SNIPPET_CHARS,
) -> pl.DataFrame:
    """Segments to review, least confident first: confidence below ``low_confidence`` or a close call.

    A close call is a runner-up topic (a positive score) within ``close_margin`` of the top score;
    ``second_topic`` and ``second_score`` are null when there is no runner-up.
    With ``topic``, only segments of that topic or whose close call involves it.
    """
    ranked = _ranked_scores()
    top, second = ranked.list.get(0, null_on_oob=True), ranked.list.get(1, null_on_oob=True)
    scored = segments.select("segment_id", "topic", "topic_confidence", "topic_scores")
    scored = scored.with_columns(
        top_topic=top.struct.field("topic"),
        top_score=top.struct.field("score"),
        # A runner-up is a topic with some evidence: none when every other topic scored 0.
        second_topic=pl.when(second.struct.field("score") > 0).then(second.struct.field("topic")),
        second_score=pl.when(second.struct.field("score") > 0).then(second.struct.field("score")),
    ).with_columns(
        low=pl.col("topic_confidence") < low_confidence,
        close=(pl.col("top_score") - pl.col("second_score") < close_margin).fill_null(False),
    )
    queued = scored.filter(pl.col("low") | pl.col("close"))
    if topic is not None:
        involved = pl.col("close") & ((pl.col("top_topic") == topic) | (pl.col("second_topic") == topic))
        queued = queued.filter((pl.col("topic") == topic) | involved)
    reason = pl.concat_str(
        pl.when(pl.col("low")).then(pl.lit(LOW_REASON)),
        pl.when(pl.col("close")).then(pl.lit(CLOSE_REASON)),
        separator=", ",
        ignore_nulls=True,
    )
    order = ["topic_confidence", "gap", "segment_id"]
    picked = (
        queued.with_columns(gap=pl.col("top_score") - pl.col("second_score"))
        .sort(order, nulls_last=True)
        .head(limit)
        .with_columns(reason=reason)
        .drop("topic_scores")
        .collect(engine="streaming")
    )
    return (
        _with_details(picked, segments, documents)
        .with_columns(text=snippet(pl.col("text"), max_chars))
        .sort(order, nulls_last=True)  # a join does not keep the order
        .select(QUEUE_SCHEMA.names())
        .cast(QUEUE_SCHEMA)
        .collect()
    )


def known_topics(segments: pl.LazyFrame) -> list[str]:
    """Every topic the segments were classified into or scored for, sorted."""
    scored = segments.select(pl.col("topic_scores").list.eval(pl.element().struct.field("topic")).explode())
    chosen = segments.select(pl.col("topic").cast(pl.String))
    names = pl.concat([scored.rename({"topic_scores": "topic"}), chosen]).drop_nulls().unique().collect()
    return sorted(names.get_column("topic").to_list())


def artifact_rows(frame: pl.DataFrame) -> list[ArtifactRow]:
    """A samples or queue frame as table-artifact rows: matched terms as one string, scores rounded, text last."""
    shown = frame.with_columns(pl.col(pl.Float64).round(2))
    if "matched_terms" in shown.columns:
        # The terms only: each sample's topic is in its own column, and the terms read as Arabic.
        terms = pl.col("matched_terms").list.eval(pl.element().struct.field("term")).list.unique(maintain_order=True)
        shown = shown.with_columns(matched_terms=terms.list.join("، "))
    if "text" in shown.columns:  # last: a long text then scrolls instead of pushing the other columns away
        shown = shown.select(pl.exclude("text"), "text")
    rows: list[ArtifactRow] = shown.to_dicts()
    return rows
