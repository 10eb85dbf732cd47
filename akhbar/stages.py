"""The ingest stages as pure, Prefect-free functions over batches of files, and the one table of them.

A run fingerprints its inputs, plans them (:func:`plan_ingest`: what the lake already holds, which
old documents the new content replaces) and cuts what is left into batches bounded by bytes and by
file count (:func:`plan_batches`). Each batch then goes through ``decode`` and the :data:`STAGES`
table, then ``publish`` (``akhbar.publish``). The flow, :func:`ingest_batch` and the benchmark all
walk the same table, so the stage sequence is declared once.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from akhbar import __version__
from akhbar.decode import (
    DEFAULT_CHUNK_BYTES,
    DETECTION_SAMPLE_BYTES,
    LINES_SCHEMA,
    EncodingGuess,
    FileFingerprint,
    InputPath,
    decode_utf8_documents,
    detect_encoding,
    detect_encodings,
    fingerprint_file,
    iter_decoded_lines,
    read_sample,
    utf8_for_batch_decoding,
)
from akhbar.facts import extract_facts
from akhbar.lake import LakePath, scan_dataset
from akhbar.language import Backend, detect_languages
from akhbar.normalize import normalize_segments
from akhbar.segment import LineKind, segment_lines
from akhbar.settings import BATCH_MAX_BYTES, BATCH_MAX_FILES
from akhbar.staging import (
    DecodedDocument,
    FileFailure,
    StagedBatch,
    iter_stage_batches,
    rewrite_stage,
    stage_file,
    transform_stage,
    write_stage,
)
from akhbar.storage import plain_error
from akhbar.topics import Taxonomy, classify_topics, load_taxonomy
from schemas import DOCUMENTS

LINES_STAGE = "lines"
SEGMENTED_STAGE = "segmented"


# --- planning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedFile:
    """An input file and the fingerprint it had when the run was planned."""

    source: InputPath
    fingerprint: FileFingerprint


def fingerprint_files(sources: Sequence[InputPath]) -> tuple[list[PlannedFile], list[FileFailure]]:
    """Hash every input; a file that cannot be read fails alone, naming itself."""
    planned: list[PlannedFile] = []
    failures: list[FileFailure] = []
    for source in sources:
        try:
            planned.append(PlannedFile(source, fingerprint_file(source)))
        except OSError as error:
            failures.append(FileFailure(str(source), failure_message(source, "fingerprint", error)))
    return planned, failures


def failure_message(source: InputPath | str, stage: str, error: BaseException) -> str:
    """One line naming the file, the stage and the error."""
    return f"{source}: {stage} failed: {error.__class__.__name__}: {plain_error(error)}"


@dataclass(frozen=True)
class IngestPlan:
    """Which inputs a run processes, which it skips, and which old documents the new content replaces."""

    to_ingest: list[PlannedFile]
    already_ingested: list[PlannedFile]
    #: Every input path per content of this run (a content at two paths is ingested once).
    paths_by_doc: dict[str, tuple[str, ...]]
    #: Documents in the lake that no path holds any more, by the new document that replaced them.
    superseded_by: dict[str, tuple[str, ...]]
    #: Documents in the lake whose set of paths changes, with the new set (empty: remove the document).
    path_changes: dict[str, tuple[str, ...]]
    #: Documents of this run that the lake holds already (``force``): their rows are replaced.
    reingested: frozenset[str]


def plan_ingest(
    lake: LakePath, planned: list[PlannedFile], taxonomy_version: str, *, force: bool = False
) -> IngestPlan:
    """Skip content the lake holds from this package and taxonomy version; track paths per content.

    Reads ``documents`` once. The lake is the cache: a file is done when its ``documents`` row
    (written last) is there, so a run retried after a crash redoes only unfinished files, and a
    wiped lake is never mistaken for a full one. A changed file has a new doc_id and is ingested; the
    old content's rows go when no path holds it any more — never while another path still does.
    """
    lake_documents = (
        scan_dataset(lake, DOCUMENTS).select("doc_id", "source_paths", "package_version", "taxonomy_version").collect()
    )
    current = {
        doc_id
        for doc_id, package, taxonomy in lake_documents.select(
            "doc_id", "package_version", "taxonomy_version"
        ).iter_rows()
        if package == __version__ and taxonomy == taxonomy_version
    }
    known_paths: dict[str, tuple[str, ...]] = {
        doc_id: tuple(paths or ()) for doc_id, paths in lake_documents.select("doc_id", "source_paths").iter_rows()
    }
    paths_by_doc: dict[str, list[str]] = defaultdict(list)
    first_of: dict[str, PlannedFile] = {}
    for item in planned:
        paths_by_doc[item.fingerprint.doc_id].append(str(item.source))
        first_of.setdefault(item.fingerprint.doc_id, item)
    holder_of = {path: doc_id for doc_id, paths in paths_by_doc.items() for path in paths}
    to_ingest = [item for doc_id, item in first_of.items() if force or doc_id not in current]
    ingesting = {item.fingerprint.doc_id for item in to_ingest}
    already = [item for item in planned if item.fingerprint.doc_id not in ingesting]
    superseded: dict[str, list[str]] = defaultdict(list)
    changes: dict[str, tuple[str, ...]] = {}
    for doc_id, paths in known_paths.items():
        if doc_id in ingesting:
            continue
        # Paths seen in this run now hold other content; paths not given to this run keep theirs.
        kept = [p for p in paths if holder_of.get(p, doc_id) == doc_id]
        gained = [p for p in paths_by_doc.get(doc_id, []) if p not in paths]
        new_paths = tuple(sorted({*kept, *gained}))
        if new_paths == tuple(sorted(paths)):
            continue
        replacing = next((holder_of[p] for p in paths if p in holder_of and holder_of[p] in ingesting), None)
        if not new_paths and replacing is not None:
            superseded[replacing].append(doc_id)  # leaves in the same commit that adds its replacement
        else:
            changes[doc_id] = new_paths
    # A document of this run keeps the paths the lake knows for it that no input of this run
    # contradicts (paths not given to this run still hold it, as far as akhbar knows).
    all_paths = {
        doc_id: tuple(sorted({*paths, *(p for p in known_paths.get(doc_id, ()) if holder_of.get(p, doc_id) == doc_id)}))
        for doc_id, paths in paths_by_doc.items()
    }
    return IngestPlan(
        to_ingest=to_ingest,
        already_ingested=already,
        paths_by_doc={doc_id: tuple(sorted(paths)) for doc_id, paths in all_paths.items()},
        superseded_by={doc_id: tuple(sorted(old)) for doc_id, old in superseded.items()},
        path_changes=changes,
        reingested=frozenset(ingesting & set(known_paths)),
    )


def plan_batches(
    files: Sequence[PlannedFile], max_bytes: int = BATCH_MAX_BYTES, max_files: int = BATCH_MAX_FILES
) -> list[list[PlannedFile]]:
    """Cut the files, in order, into batches of at most ``max_bytes`` and ``max_files``."""
    batches: list[list[PlannedFile]] = []
    current: list[PlannedFile] = []
    current_bytes = 0
    for item in files:
        size = item.fingerprint.size_bytes
        if current and (current_bytes + size > max_bytes or len(current) >= max_files):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


# --- stages ---------------------------------------------------------------------------------------


#: Files up to this size are read once, whole, and decoded together with the batch's other small
#: UTF-8 and Windows-1256 files (``utf8_for_batch_decoding``); larger ones stream in chunks.
SMALL_FILE_BYTES = DETECTION_SAMPLE_BYTES
#: A small file's whole content and its detected encoding.
SmallFileRead = tuple[bytes, EncodingGuess]


@dataclass
class SmallFiles:
    """Whole small files, as UTF-8, waiting to be decoded together."""

    doc_ids: list[str] = dataclasses.field(default_factory=list)
    contents: list[bytes] = dataclasses.field(default_factory=list)
    size_bytes: int = 0

    def add(self, doc_id: str, content: bytes) -> None:
        """Queue one file's bytes."""
        self.doc_ids.append(doc_id)
        self.contents.append(content)
        self.size_bytes += len(content)

    def take(self) -> pl.DataFrame:
        """The queued files as one frame of numbered lines; the queue is empty afterwards."""
        frame = decode_utf8_documents(self.doc_ids, self.contents)
        self.doc_ids, self.contents, self.size_bytes = [], [], 0
        return frame


def decode_batch(
    files: Sequence[PlannedFile],
    number: int,
    work_root: LakePath,
    paths_by_doc: dict[str, tuple[str, ...]] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> StagedBatch:
    """Detect each file's encoding and decode all of them into numbered lines, one frame per chunk.

    Small files (one article each, the usual scrape archive) are read once and their encodings
    detected together, up to ``chunk_bytes`` of them at a time; the UTF-8 and Windows-1256 ones are
    decoded together too. Other files stream in chunks, alone. A file that cannot be read fails
    alone; rows it had yielded are dropped at publish.
    """
    work_dir = work_root / f"batch-{number:05d}"
    work_dir.mkdir(parents=True, exist_ok=True)
    documents: list[DecodedDocument] = []
    failures: list[FileFailure] = []
    small_files = SmallFiles()

    def record(item: PlannedFile, guess: EncodingGuess) -> None:
        documents.append(
            DecodedDocument(
                source_path=str(item.source),
                doc_id=item.fingerprint.doc_id,
                size_bytes=item.fingerprint.size_bytes,
                encoding=guess.encoding,
                source_paths=(paths_by_doc or {}).get(item.fingerprint.doc_id, (str(item.source),)),
                file_quarantine_reason=guess.quarantine_reason,
                file_quarantine_detail=guess.detail or None,
            )
        )

    def document_frames(item: PlannedFile, small: SmallFileRead | None) -> Iterator[pl.DataFrame]:
        if small is not None:
            content, guess = small
            utf8 = utf8_for_batch_decoding(content, guess.encoding)
            if utf8 is not None:
                small_files.add(item.fingerprint.doc_id, utf8)
                record(item, guess)
                return
        else:
            guess = detect_encoding(read_sample(item.source, item.fingerprint.size_bytes))
        if guess.encoding is not None:
            for frame in iter_decoded_lines(item.source, item.fingerprint.size_bytes, guess.encoding, chunk_bytes):
                yield frame.with_columns(pl.lit(item.fingerprint.doc_id).alias("doc_id"))
        record(item, guess)

    def planned_reads() -> Iterator[tuple[PlannedFile, SmallFileRead | None]]:
        """Every file in order; a small one with its whole content and encoding, detected with its neighbours'."""
        window: list[tuple[PlannedFile, bytes]] = []
        window_bytes = 0

        def detected() -> Iterator[tuple[PlannedFile, SmallFileRead | None]]:
            guesses = detect_encodings([content for _, content in window])
            yield from ((item, (content, guess)) for (item, content), guess in zip(window, guesses, strict=True))
            window.clear()

        for item in files:
            size = item.fingerprint.size_bytes
            if size > min(SMALL_FILE_BYTES, chunk_bytes):
                yield from detected()
                window_bytes = 0
                yield item, None
                continue
            try:
                window.append((item, read_sample(item.source, size, size)))  # the whole file: read once
            except OSError as error:
                failures.append(FileFailure(str(item.source), failure_message(item.source, "decode", error)))
                continue
            window_bytes += size
            if window_bytes >= chunk_bytes:
                yield from detected()
                window_bytes = 0
        yield from detected()

    def frames() -> Iterator[pl.DataFrame]:
        pending: list[pl.DataFrame] = []
        pending_bytes = 0
        yielded = False
        for item, small in planned_reads():
            try:
                for frame in document_frames(item, small):
                    pending.append(frame)
                    pending_bytes += int(frame.get_column("line_text").str.len_bytes().sum() or 0)
                    if pending_bytes >= chunk_bytes:  # a large file's chunks leave one by one
                        yield pl.concat(pending, how="vertical")
                        yielded, pending, pending_bytes = True, [], 0
            except (OSError, UnicodeError) as error:
                failures.append(FileFailure(str(item.source), failure_message(item.source, "decode", error)))
            if small_files.size_bytes >= chunk_bytes:
                yield small_files.take()
                yielded = True
        if small_files.doc_ids:
            pending.append(small_files.take())
        if pending or not yielded:  # a stage file always holds at least one, possibly empty, frame
            yield pl.concat(pending, how="vertical") if pending else _empty_lines()

    lines_path = write_stage(stage_file(work_dir, LINES_STAGE), frames())
    return StagedBatch(
        number=number,
        work_dir=str(work_dir),
        documents=tuple(documents),
        failures=tuple(failures),
        stage_path=str(lines_path),
        lines_path=str(lines_path),
    )


def _empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema={**LINES_SCHEMA, "doc_id": pl.String})


def segment_batch(batch: StagedBatch) -> StagedBatch:
    """Classify every line as blank, segment or quarantined (carrying blankness across chunks)."""
    target = stage_file(batch.work_dir, SEGMENTED_STAGE)

    def frames() -> Iterator[pl.DataFrame]:
        last: tuple[str, bool] | None = None  # (doc_id, blank) of the previous frame's last line
        for lines in iter_stage_batches(batch.stage_path):
            continues = last is not None and lines.height > 0 and lines.get_column("doc_id")[0] == last[0]
            segmented = segment_lines(lines, previous_line_blank=bool(continues and last and last[1]))
            if segmented.height:
                last = (
                    str(segmented.get_column("doc_id")[-1]),
                    bool(segmented.get_column("line_kind")[-1] == LineKind.BLANK.value),
                )
            yield segmented

    write_stage(target, frames())
    return dataclasses.replace(batch, stage_path=str(target), lines_path=str(target))


def select_segments(lines: pl.DataFrame) -> pl.DataFrame:
    """Keep the segment lines and the columns later stages need."""
    return lines.filter(pl.col("line_kind") == LineKind.SEGMENT.value).select(
        "segment_id", "doc_id", "line_no", "follows_blank_line", "line_text"
    )


def normalize_batch(batch: StagedBatch) -> StagedBatch:
    """Add display-clean ``text``, matching ``text_norm`` and ``is_truncated`` to the segments."""
    return rewrite_stage(
        batch, "normalized", lambda lines: normalize_segments(select_segments(lines)).drop("line_text")
    )


def detect_batch_languages(batch: StagedBatch, backend: Backend = "langdetect") -> StagedBatch:
    """Add ``lang`` and ``lang_prob`` (langdetect by default; fasttext for large volumes)."""
    return transform_stage(batch, "languages", lambda segments: detect_languages(segments, backend=backend))


@lru_cache(maxsize=8)
def cached_taxonomy(path: str | None) -> Taxonomy:
    """Load a taxonomy once per process (workers load it themselves instead of receiving it)."""
    return load_taxonomy(Path(path) if path else None)


def classify_batch(batch: StagedBatch, taxonomy_path: str | None = None) -> StagedBatch:
    """Add ``topic``, ``topic_confidence``, ``topic_scores`` and ``matched_terms``."""
    taxonomy = cached_taxonomy(taxonomy_path)
    return transform_stage(batch, "topics", lambda segments: classify_topics(segments, taxonomy))


def extract_batch_facts(batch: StagedBatch) -> StagedBatch:
    """Add ``dates``, ``unresolved_dates``, ``published_at``, ``quantities`` and ``countries``.

    Facts are extracted per chunk, so in a file larger than one chunk a year-less date is resolved
    from the dates of its own chunk only (left unresolved, never guessed, when that is ambiguous).
    """
    return transform_stage(batch, "facts", extract_facts)


@dataclass(frozen=True)
class StageOptions:
    """The run-wide choices a stage may need."""

    taxonomy_path: str | None = None
    lang_backend: Backend = "langdetect"


@dataclass(frozen=True)
class Stage:
    """One step between decode and publish: its name (task names, logs, the bench) and its function."""

    name: str
    run: Callable[[StagedBatch, StageOptions], StagedBatch]
    #: At most this many batches in this stage at once (None: as many as there are task threads).
    #: Language detection is Python and numpy under the GIL: two batches in it at once take as long
    #: as one after the other, and keep threads from the stages that run beside it.
    max_batches: int | None = None


#: The stage sequence between ``decode`` and ``publish``, declared once: the flow, ingest_batch and
#: the benchmark walk this table.
STAGES: tuple[Stage, ...] = (
    Stage("segment", lambda batch, options: segment_batch(batch)),
    Stage("normalize", lambda batch, options: normalize_batch(batch)),
    Stage("detect-language", lambda batch, options: detect_batch_languages(batch, options.lang_backend), max_batches=1),
    Stage("classify-topic", lambda batch, options: classify_batch(batch, options.taxonomy_path)),
    Stage("extract-facts", lambda batch, options: extract_batch_facts(batch)),
)
#: Every step a batch goes through, by name, in order.
STAGE_NAMES: tuple[str, ...] = ("decode", *(stage.name for stage in STAGES), "publish")


def run_stages(batch: StagedBatch, options: StageOptions, stages: Sequence[Stage] = STAGES) -> StagedBatch:
    """Walk a decoded batch through the stage table."""
    for stage in stages:
        batch = stage.run(batch, options)
    return batch
