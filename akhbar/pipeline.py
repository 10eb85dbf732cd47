"""The ingest pipeline as pure, Prefect-free stage functions over staged Arrow IPC files.

Each stage reads the document batch by batch (one batch per decoded chunk) and writes its own file,
so memory is bounded by the batch size whatever the input size, and only small ``StagedDocument``
records (paths and counts) travel between stages — which is what lets Prefect pickle them, cache
them and ship them to Dask workers. Stages up to normalization write whole rows; the later ones
(language, topic, facts) write only the columns they add, which line up row for row with the
normalized file, so the text is written once. ``ingest_file`` chains all stages for callers that do
not need an orchestrator.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc  # binds pa.ipc

from akhbar import __version__
from akhbar.articles import assign_articles, build_articles
from akhbar.decode import (
    DEFAULT_CHUNK_BYTES,
    LINES_SCHEMA,
    FileFingerprint,
    detect_encoding,
    fingerprint_file,
    iter_decoded_lines,
    read_sample,
)
from akhbar.facts import extract_facts
from akhbar.faults import checkpoint
from akhbar.lake import (
    AtomicParquetWriter,
    dataset_file,
    ensure_lake,
    lake_lock,
    remove_abandoned_staging,
    remove_dataset_file,
    remove_temporaries,
    remove_uncommitted,
    scan_dataset,
    write_dataset_file,
)
from akhbar.language import Backend, detect_languages
from akhbar.normalize import normalize_segments
from akhbar.segment import LineKind, segment_lines
from akhbar.topics import Taxonomy, classify_topics, load_taxonomy
from schemas import ARTICLES, DOCUMENTS, QUARANTINE, SEGMENTS

LINES_STAGE = "lines"
#: Quarantined lines named in a run's messages (all of them are in the quarantine dataset).
QUARANTINE_EXAMPLES = 5
SEGMENTED_STAGE = "segmented"


class AccountingError(RuntimeError):
    """The lines of a file do not add up to blank + segment + quarantined lines."""


@dataclass(frozen=True)
class StagedDocument:
    """A document moving through the stages: its identity and where its latest stage file is."""

    source_path: str
    doc_id: str
    size_bytes: int
    encoding: str | None
    work_dir: str
    #: The latest stage file that holds whole rows: the document's rows, in line order.
    stage_path: str
    lines_path: str
    file_quarantine_reason: str | None = None
    file_quarantine_detail: str | None = None
    #: Files written by later stages that only add columns: batch for batch, row for row, they
    #: line up with ``stage_path`` (a stage writes what it adds, not the whole text again).
    column_paths: tuple[str, ...] = ()


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


# --- staged files -------------------------------------------------------------------------------


#: Stage files are uncompressed Arrow IPC: they live for one run, and writing or reading one costs
#: little more than a memory copy (Parquet's encoding and compression cost ~0.3 s per stage per 25 MB).
STAGE_SUFFIX = ".arrow"


def stage_file(work_dir: str | Path, stage: str) -> Path:
    """Where a document's file for ``stage`` lives."""
    return Path(work_dir) / f"{stage}{STAGE_SUFFIX}"


def iter_stage_batches(path: Path) -> Iterator[pl.DataFrame]:
    """Read a stage file one record batch at a time (always at least one, possibly empty, frame).

    The file is read, not memory-mapped, so that only the batch in hand is resident.
    """
    with pa.OSFile(str(path), "rb") as source:
        reader = pa.ipc.open_file(source)
        if reader.num_record_batches == 0:
            yield pl.from_arrow(reader.schema.empty_table())  # type: ignore[misc]
            return
        for index in range(reader.num_record_batches):
            yield pl.from_arrow(reader.get_batch(index))  # type: ignore[misc]


def read_stage(path: str | Path) -> pl.DataFrame:
    """A whole stage file (for tests and small files; stages themselves read batch by batch)."""
    return pl.concat(list(iter_stage_batches(Path(path))), how="vertical")


class StageAlignmentError(RuntimeError):
    """A column file does not line up with the rows it extends (a bug, never silently joined)."""


def iter_document_batches(document: StagedDocument) -> Iterator[pl.DataFrame]:
    """The document's rows batch by batch: the row stage file with its column files alongside."""
    readers = [iter_stage_batches(Path(path)) for path in (document.stage_path, *document.column_paths)]
    for parts in zip(*readers, strict=True):
        if len({part.height for part in parts}) > 1:
            raise StageAlignmentError(f"{document.source_path}: stage batches of unequal lengths")
        yield pl.concat(parts, how="horizontal")


def read_document(document: StagedDocument) -> pl.DataFrame:
    """All of a document's staged rows and columns (for tests and small files)."""
    return pl.concat(list(iter_document_batches(document)), how="vertical")


def write_stage(path: Path, batches: Iterator[pl.DataFrame]) -> Path:
    """Write frames as the record batches of one stage file (aside, then renamed)."""
    temporary = path.with_suffix(".tmp")
    writer: pa.ipc.RecordBatchFileWriter | None = None
    schema: pa.Schema | None = None
    try:
        for batch in batches:
            table = batch.to_arrow()
            if writer is None or schema is None:
                schema = table.schema
                writer = pa.ipc.new_file(str(temporary), schema)
            writer.write_table(table.cast(schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError(f"stage {path.name}: no batch to write (a stage always gets at least an empty one)")
    temporary.replace(path)
    return path


def rewrite_stage(
    document: StagedDocument, stage: str, transform: Callable[[pl.DataFrame], pl.DataFrame]
) -> StagedDocument:
    """Apply a batch-wise transform that may change the rows; its output becomes the row stage file."""
    target = stage_file(document.work_dir, stage)
    write_stage(target, (transform(batch) for batch in iter_document_batches(document)))
    return dataclasses.replace(document, stage_path=str(target), column_paths=())


#: The row key of staged segments: a transform that adds columns must keep it, row for row.
ROW_KEY = "segment_id"


def transform_stage(
    document: StagedDocument, stage: str, transform: Callable[[pl.DataFrame], pl.DataFrame]
) -> StagedDocument:
    """Apply a batch-wise transform that adds columns; only the added columns are written."""
    target = stage_file(document.work_dir, stage)

    def added_columns() -> Iterator[pl.DataFrame]:
        for batch in iter_document_batches(document):
            result = transform(batch)
            if result.height != batch.height or (
                ROW_KEY in batch.columns and not result.get_column(ROW_KEY).equals(batch.get_column(ROW_KEY))
            ):
                raise StageAlignmentError(f"{document.source_path}: stage {stage!r} changed the rows it was given")
            yield result.select([name for name in result.columns if name not in batch.columns])

    write_stage(target, added_columns())
    return dataclasses.replace(document, column_paths=(*document.column_paths, str(target)))


# --- stages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedFile:
    """An input file and the fingerprint it had when the run was planned."""

    source: Path
    fingerprint: FileFingerprint


@dataclass(frozen=True)
class IngestPlan:
    """Which inputs a run will process, and which it skips because the lake already has them."""

    to_ingest: list[PlannedFile]
    already_ingested: list[PlannedFile]


def plan_file(source: Path) -> PlannedFile:
    """Fingerprint one input file (its content hash decides whether the lake already has it)."""
    return PlannedFile(source, fingerprint_file(source))


def plan_ingest(lake: Path, planned: list[PlannedFile], taxonomy_version: str, *, force: bool = False) -> IngestPlan:
    """Skip files whose exact content the lake holds from this package and taxonomy version.

    The lake is the cache: a file is done when its ``documents`` row (written last) is there, so a
    run retried after a crash redoes only unfinished files, and a wiped lake is never mistaken for a
    full one. A changed file has a new doc_id and is ingested; ``force`` re-processes everything.
    """
    if force:
        return IngestPlan(to_ingest=planned, already_ingested=[])
    done = set(
        scan_dataset(lake, DOCUMENTS)
        .filter((pl.col("package_version") == __version__) & (pl.col("taxonomy_version") == taxonomy_version))
        .select("doc_id")
        .collect()
        .get_column("doc_id")
        .to_list()
    )
    seen: set[str] = set()
    to_ingest: list[PlannedFile] = []
    skipped: list[PlannedFile] = []
    for item in planned:
        # Two inputs with identical bytes are one document: ingest it once.
        duplicate = item.fingerprint.doc_id in done or item.fingerprint.doc_id in seen
        (skipped if duplicate else to_ingest).append(item)
        seen.add(item.fingerprint.doc_id)
    return IngestPlan(to_ingest=to_ingest, already_ingested=skipped)


def decode_document(
    source: Path,
    work_root: Path,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    fingerprint: FileFingerprint | None = None,
) -> StagedDocument:
    """Fingerprint (unless given), detect the encoding and decode a file into numbered lines, in chunks."""
    fingerprint = fingerprint or fingerprint_file(source)
    guess = detect_encoding(read_sample(source, fingerprint.size_bytes))
    work_dir = work_root / fingerprint.doc_id
    work_dir.mkdir(parents=True, exist_ok=True)
    lines_path = stage_file(work_dir, LINES_STAGE)
    if guess.encoding is None:
        batches: Iterator[pl.DataFrame] = iter([pl.DataFrame(schema=LINES_SCHEMA)])
    else:
        batches = iter_decoded_lines(source, fingerprint.size_bytes, guess.encoding, chunk_bytes)
    write_stage(lines_path, batches)
    return StagedDocument(
        source_path=str(source),
        doc_id=fingerprint.doc_id,
        size_bytes=fingerprint.size_bytes,
        encoding=guess.encoding,
        work_dir=str(work_dir),
        stage_path=str(lines_path),
        lines_path=str(lines_path),
        file_quarantine_reason=guess.quarantine_reason,
        file_quarantine_detail=guess.detail or None,
    )


def segment_document(document: StagedDocument) -> StagedDocument:
    """Classify every line as blank, segment or quarantined (carrying blankness across chunks)."""
    target = stage_file(document.work_dir, SEGMENTED_STAGE)

    def batches() -> Iterator[pl.DataFrame]:
        previous_blank = False
        for lines in iter_stage_batches(Path(document.stage_path)):
            segmented = segment_lines(lines, document.doc_id, previous_line_blank=previous_blank)
            if segmented.height:
                previous_blank = bool(segmented.get_column("line_kind")[-1] == LineKind.BLANK.value)
            yield segmented

    write_stage(target, batches())
    return dataclasses.replace(document, stage_path=str(target), lines_path=str(target))


def select_segments(lines: pl.DataFrame) -> pl.DataFrame:
    """Keep the segment lines and the columns later stages need."""
    return lines.filter(pl.col("line_kind") == LineKind.SEGMENT.value).select(
        "segment_id", "doc_id", "line_no", "follows_blank_line", "line_text"
    )


def normalize_document(document: StagedDocument) -> StagedDocument:
    """Add display-clean ``text``, matching ``text_norm`` and ``is_truncated`` to the segments."""
    return rewrite_stage(
        document, "normalized", lambda lines: normalize_segments(select_segments(lines)).drop("line_text")
    )


def detect_document_languages(document: StagedDocument, backend: Backend = "langdetect") -> StagedDocument:
    """Add ``lang`` and ``lang_prob`` (langdetect by default; fasttext for large volumes)."""
    return transform_stage(document, "languages", lambda segments: detect_languages(segments, backend=backend))


@lru_cache(maxsize=8)
def cached_taxonomy(path: str | None) -> Taxonomy:
    """Load a taxonomy once per process (workers load it themselves instead of receiving it)."""
    return load_taxonomy(Path(path) if path else None)


def classify_document(document: StagedDocument, taxonomy_path: str | None) -> StagedDocument:
    """Add ``topic``, ``topic_confidence``, ``topic_scores`` and ``matched_terms``."""
    taxonomy = cached_taxonomy(taxonomy_path)
    return transform_stage(document, "topics", lambda segments: classify_topics(segments, taxonomy))


def extract_document_facts(document: StagedDocument) -> StagedDocument:
    """Add ``dates``, ``unresolved_dates``, ``published_at``, ``quantities`` and ``countries``.

    Facts are extracted per chunk, so on a file larger than one chunk a year-less date is resolved
    from the dates of its own chunk only (left unresolved, never guessed, when that is ambiguous).
    """
    return transform_stage(document, "facts", extract_facts)


def iter_whole_articles(batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """Regroup segment batches (in line order) so that no article is split between two frames.

    The last article of a batch may continue in the next one, so it is held back and re-grouped
    with the next batch: memory stays bounded by one batch plus one article.
    """
    carry: pl.DataFrame | None = None
    for batch in batches:
        frame = batch if carry is None else pl.concat([carry, batch], how="vertical_relaxed")
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


# --- publishing ---

#: Datasets written per document, before its ``documents`` row (the commit marker).
PER_DOCUMENT_DATASETS = (SEGMENTS, ARTICLES, QUARANTINE)


def prepare_lake(lake: Path) -> list[Path]:
    """Create the lake's datasets and undo what interrupted runs left behind.

    That is: temporary files, files of documents without a ``documents`` row, the old content of a
    changed file whose replacement was committed but not yet cleaned up, and abandoned staging folders.
    """
    with lake_lock(lake):
        ensure_lake(lake)
        removed = remove_temporaries(lake) + _remove_all_superseded(lake)
        committed = set(scan_dataset(lake, DOCUMENTS).select("doc_id").collect().get_column("doc_id").to_list())
        removed += remove_uncommitted(lake, committed, PER_DOCUMENT_DATASETS)
    return removed + remove_abandoned_staging(lake)


def _remove_all_superseded(lake: Path) -> list[Path]:
    """Drop documents that a newer document from the same source path replaced."""
    stale = (
        scan_dataset(lake, DOCUMENTS)
        .select("doc_id", "source_path", "ingested_at")
        .filter(pl.col("ingested_at") < pl.col("ingested_at").max().over("source_path"))
        .collect()
        .get_column("doc_id")
        .to_list()
    )
    removed = []
    for doc_id in stale:
        removed += _remove_document(lake, doc_id)
    return removed


def _remove_document(lake: Path, doc_id: str) -> list[Path]:
    """Delete all files of one document; its ``documents`` row (the commit marker) goes last."""
    return [
        dataset_file(lake, dataset, doc_id)
        for dataset in (*PER_DOCUMENT_DATASETS, DOCUMENTS)
        if remove_dataset_file(lake, dataset, doc_id)
    ]


def _count_by(frame: pl.LazyFrame, column: str) -> dict[str, int]:
    """Counts per value of a column, as a plain dict sorted by value (only that column is read)."""
    counts = frame.group_by(column).len().sort(column).collect()
    return {str(key): int(count) for key, count in counts.iter_rows()}


def line_accounting(document: StagedDocument, run_id: str, now: datetime) -> tuple[dict[str, int], pl.DataFrame]:
    """Lines per kind, and the quarantine rows (bad lines, or the whole undecodable file), in one read.

    Batch by batch: a scan of the whole lines file would hold every selected column of every line
    (the 64-character doc_id alone is ~175 MB for a 1 GB input) before filtering.
    """
    counts: Counter[str] = Counter()
    quarantined: list[pl.DataFrame] = []
    for batch in iter_stage_batches(Path(document.lines_path)):
        counts.update(_count_by(batch.lazy(), "line_kind"))
        quarantined.append(
            batch.filter(pl.col("line_kind") == LineKind.QUARANTINED.value).select(
                "doc_id",
                "line_no",
                pl.col("quarantine_reason").alias("reason"),
                pl.col("quarantine_detail").alias("detail"),
                "raw",
            )
        )
    stamp = {"run_id": pl.lit(run_id), "quarantined_at": pl.lit(now, dtype=pl.Datetime("us", "UTC"))}
    if document.file_quarantine_reason is not None:
        raw = Path(document.source_path).read_bytes()[: document.size_bytes]
        quarantine = pl.DataFrame(
            {
                "doc_id": [document.doc_id],
                "line_no": pl.Series([None], dtype=pl.Int64),
                "reason": [document.file_quarantine_reason],
                "detail": [document.file_quarantine_detail or document.file_quarantine_reason],
                "raw": [raw],
            }
        ).with_columns(**stamp)
    else:
        quarantine = pl.concat(quarantined, how="vertical").with_columns(**stamp).sort("line_no")
    return dict(sorted(counts.items())), quarantine


def quarantine_rows(document: StagedDocument, run_id: str, now: datetime) -> pl.DataFrame:
    """The quarantine rows of a document: its bad lines, or the whole file when nothing was decodable."""
    return line_accounting(document, run_id, now)[1]


def document_status(counts: dict[str, int], file_quarantined: bool) -> str:
    """ingested, partial, quarantined or empty (see the documents schema)."""
    if file_quarantined or (counts.get("quarantined", 0) and not counts.get("segment", 0)):
        return "quarantined"
    if not sum(counts.values()):
        return "empty"
    return "partial" if counts.get("quarantined", 0) else "ingested"


def publish_document(
    document: StagedDocument, lake: Path, run_id: str, taxonomy_version: str
) -> DocumentResult:
    """Write a document's segments, quarantine and documents rows into the lake, replacing it whole."""
    now = datetime.now(UTC)
    counts, quarantine = line_accounting(document, run_id, now)
    stamp = [pl.lit(run_id).alias("run_id"), pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("processed_at")]
    status = document_status(counts, document.file_quarantine_reason is not None)
    topic_counts: Counter[str] = Counter()
    lang_counts: Counter[str] = Counter()
    with lake_lock(lake):
        with (
            AtomicParquetWriter(dataset_file(lake, SEGMENTS, document.doc_id), SEGMENTS) as segments,
            AtomicParquetWriter(dataset_file(lake, ARTICLES, document.doc_id), ARTICLES) as articles,
        ):
            for batch in iter_whole_articles(iter_document_batches(document)):
                segments.write(batch.with_columns(stamp).select(SEGMENTS.column_names))
                articles.write(build_articles(batch).with_columns(stamp).select(ARTICLES.column_names))
                topic_counts.update(_count_by(batch.lazy(), "topic"))
                lang_counts.update(_count_by(batch.lazy().with_columns(pl.col("lang").fill_null("und")), "lang"))
            written, article_count = segments.rows, articles.rows
            segments.commit()
            articles.commit()
        checkpoint("after-segments")
        _check_accounting(document, counts, written, quarantine)
        if quarantine.height:
            write_dataset_file(lake, QUARANTINE, document.doc_id, quarantine)
        else:
            remove_dataset_file(lake, QUARANTINE, document.doc_id)
        checkpoint("after-quarantine")
        write_dataset_file(lake, DOCUMENTS, document.doc_id, _document_row(document, counts, status, run_id,
                                                                           now, taxonomy_version))
        checkpoint("after-documents")
        _remove_superseded(lake, document)
    return DocumentResult(
        source_path=document.source_path,
        doc_id=document.doc_id,
        encoding=document.encoding,
        status=status,
        total_lines=sum(counts.values()),
        blank_lines=counts.get(LineKind.BLANK.value, 0),
        segment_lines=counts.get(LineKind.SEGMENT.value, 0),
        article_count=article_count,
        quarantined_lines=counts.get(LineKind.QUARANTINED.value, 0),
        quarantine_rows=quarantine.height,
        topic_counts=dict(sorted(topic_counts.items())),
        lang_counts=dict(sorted(lang_counts.items())),
        quarantine_counts=_count_by(quarantine.lazy(), "reason"),
        quarantined_examples=[
            (int(line), str(reason))
            for line, reason in quarantine.filter(pl.col("line_no").is_not_null())
            .select("line_no", "reason")
            .head(QUARANTINE_EXAMPLES)
            .iter_rows()
        ],
    )


def _check_accounting(
    document: StagedDocument, counts: dict[str, int], segments_written: int, quarantine: pl.DataFrame
) -> None:
    """Every line is blank, a segment or quarantined — and what was written matches."""
    expected_quarantine = counts.get(LineKind.QUARANTINED.value, 0)
    line_quarantine = quarantine.filter(pl.col("line_no").is_not_null()).height
    if segments_written != counts.get(LineKind.SEGMENT.value, 0) or line_quarantine != expected_quarantine:
        raise AccountingError(
            f"{document.source_path}: {sum(counts.values())} lines = {counts}, but wrote "
            f"{segments_written} segments and {line_quarantine} quarantined lines"
        )


def _document_row(
    document: StagedDocument, counts: dict[str, int], status: str, run_id: str, now: datetime,
    taxonomy_version: str,
) -> pl.DataFrame:
    """The single documents row of a file."""
    return pl.DataFrame(
        {
            "doc_id": [document.doc_id],
            "source_path": [document.source_path],
            "size_bytes": [document.size_bytes],
            "encoding": pl.Series([document.encoding], dtype=pl.String),
            "status": [status],
            "total_lines": [sum(counts.values())],
            "blank_lines": [counts.get(LineKind.BLANK.value, 0)],
            "segment_lines": [counts.get(LineKind.SEGMENT.value, 0)],
            "quarantined_lines": [counts.get(LineKind.QUARANTINED.value, 0)],
            "ingested_at": pl.Series([now], dtype=pl.Datetime("us", "UTC")),
            "run_id": [run_id],
            "package_version": [__version__],
            "taxonomy_version": [taxonomy_version],
        }
    )


def _remove_superseded(lake: Path, document: StagedDocument) -> None:
    """A changed file replaces its old content: drop documents from the same path with another doc_id."""
    stale = (
        scan_dataset(lake, DOCUMENTS)
        .filter((pl.col("source_path") == document.source_path) & (pl.col("doc_id") != document.doc_id))
        .select("doc_id")
        .collect()
        .get_column("doc_id")
        .to_list()
    )
    for doc_id in stale:
        _remove_document(lake, doc_id)


def ingest_file(
    source: Path,
    lake: Path,
    run_id: str,
    work_root: Path,
    taxonomy_path: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    lang_backend: Backend = "langdetect",
) -> DocumentResult:
    """All stages for one file, without an orchestrator (the flow runs the same stages as tasks)."""
    staged = decode_document(source, work_root, chunk_bytes)
    staged = segment_document(staged)
    staged = normalize_document(staged)
    staged = detect_document_languages(staged, lang_backend)
    staged = classify_document(staged, taxonomy_path)
    staged = extract_document_facts(staged)
    return publish_document(staged, lake, run_id, cached_taxonomy(taxonomy_path).version)
