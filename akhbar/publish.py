"""Publishing a batch into the lake: articles, line accounting, validation and one commit per table.

The batch's rows are regrouped so that no article is split, stamped, validated against ``schemas/``
and written to two local Arrow files; then, under the lake lock, the batch records its intent and
commits ``segments``, ``articles``, ``quarantine`` and finally ``documents`` (the commit marker), each
in one Delta transaction that also removes the rows of documents this batch replaces.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from akhbar import __version__
from akhbar.articles import assign_articles, build_articles
from akhbar.faults import checkpoint
from akhbar.lake import (
    PER_DOCUMENT_DATASETS,
    Intent,
    LakePath,
    clear_intent,
    commit_rows,
    delete_rows,
    lake_lock,
    scan_dataset,
    write_intent,
)
from akhbar.segment import LineKind
from akhbar.staging import (
    FileFailure,
    StagedBatch,
    StagePath,
    iter_batch_frames,
    iter_stage_batches,
    stage_file,
    write_stage,
)
from akhbar.storage import S3Path, parse_location
from schemas import ARTICLES, DOCUMENTS, QUARANTINE, SEGMENTS

#: Quarantined lines named in a run's messages (all of them are in the quarantine dataset).
QUARANTINE_EXAMPLES = 5
UTC_MICROS = pl.Datetime("us", "UTC")


class AccountingError(RuntimeError):
    """The lines of a file do not add up to blank + segment + quarantined lines."""


@dataclass(frozen=True)
class DocumentResult:
    """What publishing one document wrote: the per-file line accounting and its breakdowns."""

    source_path: str
    doc_id: str
    encoding: str | None
    status: str
    total_lines: int
    blank_lines: int
    segment_lines: int
    article_count: int
    quarantined_lines: int
    quarantine_rows: int
    topic_counts: dict[str, int]
    lang_counts: dict[str, int]
    quarantine_counts: dict[str, int]
    #: The first quarantined lines (line number, reason), to name them to the user.
    quarantined_examples: list[tuple[int, str]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    """What publishing a batch wrote, per document, and the files of the batch that failed."""

    label: str
    documents: tuple[DocumentResult, ...]
    failures: tuple[FileFailure, ...]


def iter_whole_articles(frames: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """Regroup segment frames (in document, line order) so that no article is split between two.

    The last article of a frame may continue in the next one, so it is held back and regrouped with
    the next frame: memory stays bounded by one frame plus one article.
    """
    carry: pl.DataFrame | None = None
    for frame in frames:
        frame = frame if carry is None else pl.concat([carry, frame], how="vertical_relaxed")
        if frame.is_empty():
            continue
        frame = assign_articles(frame)
        last = frame.get_column("article_id")[-1]
        complete = frame.filter(pl.col("article_id") != last)
        carry = frame.filter(pl.col("article_id") == last).drop("article_id")
        if complete.height:
            yield complete
    if carry is not None and carry.height:
        yield assign_articles(carry)


def _per_document_counts(frame: pl.DataFrame, column: str) -> Counter[tuple[str, str]]:
    """(doc_id, value) → rows, for one frame."""
    counts = frame.group_by("doc_id", column).len()
    return Counter({(str(doc), str(value)): int(n) for doc, value, n in counts.iter_rows()})


def line_accounting(
    batch: StagedBatch, run_id: str, now: datetime, doc_ids: set[str]
) -> tuple[dict[str, dict[str, int]], pl.DataFrame]:
    """Lines per kind and document, and the quarantine rows (bad lines, or whole undecodable files).

    Read frame by frame from the segmented lines: a whole-file scan would hold every line's
    64-character doc_id before filtering.
    """
    counts: Counter[tuple[str, str]] = Counter()
    quarantined: list[pl.DataFrame] = []
    for frame in iter_stage_batches(batch.lines_path):
        frame = frame.filter(pl.col("doc_id").is_in(doc_ids))
        counts.update(_per_document_counts(frame, "line_kind"))
        quarantined.append(
            frame.filter(pl.col("line_kind") == LineKind.QUARANTINED.value).select(
                "doc_id",
                "line_no",
                pl.col("quarantine_reason").alias("reason"),
                pl.col("quarantine_detail").alias("detail"),
                "raw",
            )
        )
    whole_files = [
        pl.DataFrame(
            {
                "doc_id": [document.doc_id],
                "line_no": pl.Series([None], dtype=pl.Int64),
                "reason": [document.file_quarantine_reason],
                "detail": [document.file_quarantine_detail or document.file_quarantine_reason],
                "raw": [parse_location(document.source_path).read_bytes()[: document.size_bytes]],
            }
        )
        for document in batch.documents
        if document.file_quarantine_reason is not None and document.doc_id in doc_ids
    ]
    quarantine = (
        pl.concat([*quarantined, *whole_files], how="vertical_relaxed")
        .with_columns(pl.lit(run_id).alias("run_id"), pl.lit(now, dtype=UTC_MICROS).alias("quarantined_at"))
        .sort("doc_id", "line_no", nulls_last=False)
    )
    by_document: dict[str, dict[str, int]] = defaultdict(dict)
    for (doc_id, kind), n in counts.items():
        by_document[doc_id][kind] = n
    return by_document, quarantine


def document_status(counts: Mapping[str, int], file_quarantined: bool) -> str:
    """ingested, partial, quarantined or empty (see the documents schema)."""
    if file_quarantined or (counts.get("quarantined", 0) and not counts.get("segment", 0)):
        return "quarantined"
    if not sum(counts.values()):
        return "empty"
    return "partial" if counts.get("quarantined", 0) else "ingested"


@dataclass
class _Written:
    """Rows written per document while staging the batch's final segments and articles."""

    segments: Counter[str] = dataclasses.field(default_factory=Counter)
    articles: Counter[str] = dataclasses.field(default_factory=Counter)
    topics: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    langs: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)


def _stage_final_rows(
    batch: StagedBatch, run_id: str, now: datetime, doc_ids: set[str], folder: Path
) -> tuple[StagePath, StagePath, _Written]:
    """Write the batch's final, validated segments and articles to local files, counting per document."""
    stamp = [pl.lit(run_id).alias("run_id"), pl.lit(now, dtype=UTC_MICROS).alias("processed_at")]
    written = _Written()

    def segments() -> Iterator[pl.DataFrame]:
        frames = (frame.filter(pl.col("doc_id").is_in(doc_ids)) for frame in iter_batch_frames(batch))
        yielded = False
        for frame in iter_whole_articles(frames):
            rows = frame.with_columns(stamp).select(SEGMENTS.column_names)
            written.segments.update(dict(rows.group_by("doc_id").len().iter_rows()))
            written.topics.update(_per_document_counts(rows, "topic"))
            written.langs.update(_per_document_counts(rows.with_columns(pl.col("lang").fill_null("und")), "lang"))
            yielded = True
            SEGMENTS.to_arrow(rows)  # validate before the lake is touched; committing validates again
            yield rows
        if not yielded:
            yield pl.DataFrame(schema=SEGMENTS.polars_schema())

    def articles() -> Iterator[pl.DataFrame]:
        # A second pass over the staged segments, whose frames hold whole articles: holding every
        # article of a large file until the first pass ends would hold all its text.
        for frame in iter_stage_batches(segments_path):
            built = build_articles(frame).with_columns(stamp).select(ARTICLES.column_names)
            written.articles.update(dict(built.group_by("doc_id").len().iter_rows()))
            ARTICLES.to_arrow(built)
            yield built

    segments_path = write_stage(stage_file(folder, "publish-segments"), segments())
    articles_path = write_stage(stage_file(folder, "publish-articles"), articles())
    return segments_path, articles_path, written


def publish_batch(
    batch: StagedBatch,
    lake: LakePath,
    run_id: str,
    taxonomy_version: str,
    superseded_by: Mapping[str, tuple[str, ...]] | None = None,
    reingested: frozenset[str] = frozenset(),
) -> BatchResult:
    """Commit a batch's documents to the lake: one transaction per table, ``documents`` last.

    ``superseded_by`` names, per new document, old documents no path holds any more: their rows
    leave in the same transactions that add the new rows. ``reingested`` names documents the lake
    already holds (``--force``): their rows are replaced, never duplicated.
    """
    now = datetime.now(UTC)
    with _publish_folder(batch) as folder:
        return _publish_staged(batch, lake, run_id, taxonomy_version, superseded_by, reingested, now, folder)


@contextmanager
def _publish_folder(batch: StagedBatch) -> Iterator[Path]:
    """Where publish writes its final rows: the batch's folder, or a private local one when stages
    live on object storage (they are read back by this same task: no round trip through the store)."""
    if isinstance(parse_location(batch.work_dir), S3Path):
        with tempfile.TemporaryDirectory(prefix="akhbar-publish-") as folder:
            yield Path(folder)
    else:
        yield Path(batch.work_dir)


def _publish_staged(
    batch: StagedBatch,
    lake: LakePath,
    run_id: str,
    taxonomy_version: str,
    superseded_by: Mapping[str, tuple[str, ...]] | None,
    reingested: frozenset[str],
    now: datetime,
    folder: Path,
) -> BatchResult:
    """Stage the final rows in ``folder``, then commit them (see :func:`publish_batch`)."""
    doc_ids = {document.doc_id for document in batch.documents}
    counts, quarantine = line_accounting(batch, run_id, now, doc_ids)
    segments_path, articles_path, written = _stage_final_rows(batch, run_id, now, doc_ids, folder)
    _check_accounting(batch, counts, written, quarantine)
    removes = sorted({old for doc_id in doc_ids for old in (superseded_by or {}).get(doc_id, ())})
    replacing = {*removes, *(doc_ids & reingested)}
    documents = _document_rows(batch, counts, run_id, now, taxonomy_version)
    intent = Intent(adds=tuple(sorted(doc_ids)), removes=tuple(removes))
    with lake_lock(lake):
        write_intent(lake, intent)
        commit_rows(lake, SEGMENTS, iter_stage_batches(segments_path), replacing=replacing)
        checkpoint("after-segments")
        commit_rows(lake, ARTICLES, iter_stage_batches(articles_path), replacing=replacing)
        commit_rows(lake, QUARANTINE, [quarantine], replacing=replacing)
        checkpoint("after-quarantine")
        commit_rows(lake, DOCUMENTS, [documents], replacing=replacing)
        checkpoint("after-documents")
        clear_intent(lake, intent)
    return BatchResult(label=batch.label, documents=_document_results(batch, counts, written, quarantine),
                       failures=batch.failures)


def _by_document(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """(doc_id, value) → n counts regrouped per document, values sorted."""
    grouped: dict[str, dict[str, int]] = defaultdict(dict)
    for (doc_id, value), n in sorted(counts.items()):
        grouped[doc_id][value] = n
    return grouped


def _document_results(
    batch: StagedBatch, counts: dict[str, dict[str, int]], written: _Written, quarantine: pl.DataFrame
) -> tuple[DocumentResult, ...]:
    """The per-file summaries of a published batch (each breakdown computed once for the batch)."""
    topics, langs = _by_document(written.topics), _by_document(written.langs)
    reasons = _by_document(
        Counter({(str(d), str(r)): int(n) for d, r, n in quarantine.group_by("doc_id", "reason").len().iter_rows()})
    )
    quarantine_rows = dict(quarantine.group_by("doc_id").len().iter_rows())
    examples: dict[str, list[tuple[int, str]]] = defaultdict(list)
    first_lines = (
        quarantine.filter(pl.col("line_no").is_not_null())
        .group_by("doc_id", maintain_order=True)
        .head(QUARANTINE_EXAMPLES)
        .select("doc_id", "line_no", "reason")
    )
    for doc_id, line, reason in first_lines.iter_rows():
        examples[doc_id].append((int(line), str(reason)))
    results = []
    for document in batch.documents:
        lines = counts.get(document.doc_id, {})
        results.append(
            DocumentResult(
                source_path=document.source_path,
                doc_id=document.doc_id,
                encoding=document.encoding,
                status=document_status(lines, document.file_quarantine_reason is not None),
                total_lines=sum(lines.values()),
                blank_lines=lines.get(LineKind.BLANK.value, 0),
                segment_lines=lines.get(LineKind.SEGMENT.value, 0),
                article_count=written.articles.get(document.doc_id, 0),
                quarantined_lines=lines.get(LineKind.QUARANTINED.value, 0),
                quarantine_rows=int(quarantine_rows.get(document.doc_id, 0)),
                topic_counts=topics.get(document.doc_id, {}),
                lang_counts=langs.get(document.doc_id, {}),
                quarantine_counts=reasons.get(document.doc_id, {}),
                quarantined_examples=examples.get(document.doc_id, []),
            )
        )
    return tuple(results)


def _check_accounting(
    batch: StagedBatch, counts: dict[str, dict[str, int]], written: _Written, quarantine: pl.DataFrame
) -> None:
    """Every line is blank, a segment or quarantined — and what was written matches, per document."""
    line_quarantine = Counter(quarantine.filter(pl.col("line_no").is_not_null()).get_column("doc_id").to_list())
    for document in batch.documents:
        lines = counts.get(document.doc_id, {})
        if written.segments.get(document.doc_id, 0) != lines.get(LineKind.SEGMENT.value, 0) or line_quarantine.get(
            document.doc_id, 0
        ) != lines.get(LineKind.QUARANTINED.value, 0):
            raise AccountingError(
                f"{document.source_path}: {sum(lines.values())} lines = {lines}, but wrote "
                f"{written.segments.get(document.doc_id, 0)} segments and "
                f"{line_quarantine.get(document.doc_id, 0)} quarantined lines"
            )


def _document_rows(
    batch: StagedBatch, counts: dict[str, dict[str, int]], run_id: str, now: datetime, taxonomy_version: str
) -> pl.DataFrame:
    """One documents row per document of the batch."""
    documents = batch.documents
    lines = [counts.get(d.doc_id, {}) for d in documents]
    return pl.DataFrame(
        {
            "doc_id": [d.doc_id for d in documents],
            "source_path": [d.source_path for d in documents],
            "source_paths": pl.Series(
                [list(d.source_paths or (d.source_path,)) for d in documents], dtype=pl.List(pl.String)
            ),
            "size_bytes": pl.Series([d.size_bytes for d in documents], dtype=pl.Int64),
            "encoding": pl.Series([d.encoding for d in documents], dtype=pl.String),
            "status": [
                document_status(n, d.file_quarantine_reason is not None) for d, n in zip(documents, lines, strict=True)
            ],
            "total_lines": pl.Series([sum(n.values()) for n in lines], dtype=pl.Int64),
            "blank_lines": pl.Series([n.get(LineKind.BLANK.value, 0) for n in lines], dtype=pl.Int64),
            "segment_lines": pl.Series([n.get(LineKind.SEGMENT.value, 0) for n in lines], dtype=pl.Int64),
            "quarantined_lines": pl.Series([n.get(LineKind.QUARANTINED.value, 0) for n in lines], dtype=pl.Int64),
            "ingested_at": pl.Series([now] * len(documents), dtype=UTC_MICROS),
            "run_id": [run_id] * len(documents),
            "package_version": [__version__] * len(documents),
            "taxonomy_version": [taxonomy_version] * len(documents),
        },
        schema=DOCUMENTS.polars_schema(),
    )


def apply_path_changes(lake: LakePath, path_changes: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Record new path sets of documents this run did not re-ingest; drop those no path holds.

    Returns the doc_ids removed. One transaction per table, documents last.
    """
    if not path_changes:
        return []
    removed = sorted(doc_id for doc_id, paths in path_changes.items() if not paths)
    kept = {doc_id: paths for doc_id, paths in path_changes.items() if paths}
    with lake_lock(lake):
        intent = Intent(adds=(), removes=tuple(removed))
        write_intent(lake, intent)
        for dataset in PER_DOCUMENT_DATASETS:
            delete_rows(lake, dataset, removed)
        rows = (
            scan_dataset(lake, DOCUMENTS)
            .filter(pl.col("doc_id").is_in(list(kept)))
            .collect()
            .with_columns(
                pl.col("doc_id")
                .replace_strict({k: list(v) for k, v in kept.items()}, return_dtype=pl.List(pl.String))
                .alias("source_paths")
            )
            if kept
            else DOCUMENTS.empty_frame()
        )
        commit_rows(lake, DOCUMENTS, [rows], replacing={*removed, *kept})
        clear_intent(lake, intent)
    return removed
