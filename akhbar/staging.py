"""Stage files: how a batch's data moves between stages as uncompressed Arrow IPC files.

A batch's stage file holds the rows of all its documents, keyed by ``doc_id`` and ``line_no``, in
record batches of at most one decoded chunk (8 MiB of text): many small files share one record
batch, a large file spans several. Each stage reads the file record batch by record batch and
writes its own, so memory is bounded by the chunk size whatever the input size, and only small
``StagedBatch`` records (paths and counts) travel between stages — which is what lets Prefect pickle
them and ship them to Dask workers. Stages up to normalization write whole rows; the later ones
(language, topic, facts) write only the columns they add, which line up row for row with the
normalized file, so the text is written once.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc  # binds pa.ipc

from akhbar.storage import S3Path, parse_location

#: Where stage files live: the run's local folder, or the lake's ``_staging/`` prefix when the lake is
#: on object storage (so that Dask workers on other machines need no shared folder).
StagePath = Path | S3Path

#: Stage files are uncompressed Arrow IPC: they live for one run, and writing or reading one costs
#: little more than a memory copy (Parquet's encoding and compression cost ~0.3 s per stage per 25 MB).
STAGE_SUFFIX = ".arrow"
#: The row key of staged segments: a transform that adds columns must keep it, row for row.
ROW_KEY = "segment_id"


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be ingested at all, and why (the message names the file)."""

    source_path: str
    message: str


@dataclass(frozen=True)
class DecodedDocument:
    """One input file of a batch: its identity, every path holding it, and how it decoded."""

    source_path: str
    doc_id: str
    size_bytes: int
    encoding: str | None
    #: Every input path that holds this content (sorted; ``source_path`` among them).
    source_paths: tuple[str, ...] = ()
    file_quarantine_reason: str | None = None
    file_quarantine_detail: str | None = None


@dataclass(frozen=True)
class StagedBatch:
    """A batch of files moving through the stages: its documents and where its latest stage file is."""

    number: int
    work_dir: str
    documents: tuple[DecodedDocument, ...]
    #: Files of the batch that could not be read or decoded: they fail alone, not the batch.
    failures: tuple[FileFailure, ...]
    #: The latest stage file that holds whole rows, in (document, line) order.
    stage_path: str
    #: The segmented lines (every line's kind), for the line accounting at publish.
    lines_path: str
    #: Files written by later stages that only add columns: record batch for record batch, row for
    #: row, they line up with ``stage_path``.
    column_paths: tuple[str, ...] = ()

    @property
    def size_bytes(self) -> int:
        """Input bytes of the batch's documents."""
        return sum(d.size_bytes for d in self.documents)

    @property
    def label(self) -> str:
        """What the batch holds, for task-run names and logs: ``batch 3 (412 files, 31.2 MB)``."""
        files = len(self.documents) + len(self.failures)
        return batch_label(self.number, files, self.size_bytes)


def batch_label(number: int, files: int, size_bytes: int) -> str:
    """``batch 3 (412 files, 31.2 MB)``."""
    return f"batch {number} ({files} file{'s' if files != 1 else ''}, {size_bytes / 1e6:.1f} MB)"


class StageAlignmentError(RuntimeError):
    """A column file does not line up with the rows it extends (a bug, never silently joined)."""


def stage_file(work_dir: str | Path | S3Path, stage: str) -> StagePath:
    """Where a batch's file for ``stage`` lives."""
    return parse_location(work_dir) / f"{stage}{STAGE_SUFFIX}"


def iter_stage_batches(path: str | Path | S3Path) -> Iterator[pl.DataFrame]:
    """Read a stage file one record batch at a time (always at least one, possibly empty, frame).

    The file is read, not memory-mapped, so that only the batch in hand is resident. A stage object
    is first copied to a private temporary file (the IPC file format reads its footer first).
    """
    location = parse_location(path)
    if isinstance(location, S3Path):
        with tempfile.TemporaryDirectory(prefix="akhbar-stage-") as folder:
            local = Path(folder) / location.name
            location.download(local)
            yield from iter_stage_batches(local)
        return
    with pa.OSFile(str(location), "rb") as source:
        reader = pa.ipc.open_file(source)
        if reader.num_record_batches == 0:
            yield pl.from_arrow(reader.schema.empty_table())  # type: ignore[misc]
            return
        for index in range(reader.num_record_batches):
            yield pl.from_arrow(reader.get_batch(index))  # type: ignore[misc]


def read_stage(path: str | Path | S3Path) -> pl.DataFrame:
    """A whole stage file (for tests and small batches; stages themselves read batch by batch)."""
    return pl.concat(list(iter_stage_batches(path)), how="vertical")


def iter_batch_frames(batch: StagedBatch) -> Iterator[pl.DataFrame]:
    """The batch's rows record batch by record batch: the row stage file with its column files alongside."""
    readers = [iter_stage_batches(path) for path in (batch.stage_path, *batch.column_paths)]
    for parts in zip(*readers, strict=True):
        if len({part.height for part in parts}) > 1:
            raise StageAlignmentError(f"{batch.label}: stage batches of unequal lengths")
        yield pl.concat(parts, how="horizontal")


def read_batch(batch: StagedBatch) -> pl.DataFrame:
    """All of a batch's staged rows and columns (for tests and small batches)."""
    return pl.concat(list(iter_batch_frames(batch)), how="vertical")


def write_stage(path: StagePath, batches: Iterator[pl.DataFrame]) -> StagePath:
    """Write frames as the record batches of one stage file (aside, then renamed; an object is written
    locally, then uploaded in one put)."""
    if isinstance(path, S3Path):
        with tempfile.TemporaryDirectory(prefix="akhbar-stage-") as folder:
            path.upload(write_stage(Path(folder) / path.name, batches))  # type: ignore[arg-type]
        return path
    temporary = path.with_suffix(".tmp")
    writer: pa.ipc.RecordBatchFileWriter | None = None
    schema: pa.Schema | None = None
    try:
        for batch in batches:
            # One record batch per frame: a frame concatenated from many files' frames would
            # otherwise be written (and read back by every stage) as one tiny batch per file.
            table = batch.rechunk().to_arrow()
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


def rewrite_stage(batch: StagedBatch, stage: str, transform: Callable[[pl.DataFrame], pl.DataFrame]) -> StagedBatch:
    """Apply a frame-wise transform that may change the rows; its output becomes the row stage file."""
    target = stage_file(batch.work_dir, stage)
    write_stage(target, (transform(frame) for frame in iter_batch_frames(batch)))
    return dataclasses.replace(batch, stage_path=str(target), column_paths=())


def transform_stage(batch: StagedBatch, stage: str, transform: Callable[[pl.DataFrame], pl.DataFrame]) -> StagedBatch:
    """Apply a frame-wise transform that adds columns; only the added columns are written."""
    target = stage_file(batch.work_dir, stage)

    def added_columns() -> Iterator[pl.DataFrame]:
        for frame in iter_batch_frames(batch):
            result = transform(frame)
            if result.height != frame.height or (
                ROW_KEY in frame.columns and not result.get_column(ROW_KEY).equals(frame.get_column(ROW_KEY))
            ):
                raise StageAlignmentError(f"{batch.label}: stage {stage!r} changed the rows it was given")
            yield result.select([name for name in result.columns if name not in frame.columns])

    write_stage(target, added_columns())
    return dataclasses.replace(batch, column_paths=(*batch.column_paths, str(target)))
