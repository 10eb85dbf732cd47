"""The output lake: one Delta Lake table per dataset (delta-rs), on local disk or object storage.

Layout::

    <lake>/_akhbar_lake.json         the marker: this folder is an akhbar lake (format version)
    <lake>/<dataset>/                one Delta table per dataset: part-*.parquet + _delta_log/
    <lake>/_pending/<intent>.json    what a batch is about to commit (removed once its documents commit)
    <lake>/_staging/<run_id>/        intermediate stage files of runs in progress
    <lake>/report.html               the lake's report page
    <lake>/.akhbar.lock              the lock concurrent runs take turns on

A batch commits to each table in one Delta transaction — ``segments``, ``articles``, ``quarantine``,
then ``documents``, whose rows are the commit marker: a document counts as ingested once its
``documents`` row is there. Before the first commit the batch writes an *intent* naming the documents
it adds and removes; a run that dies between commits leaves the intent behind, and the next run rolls
it back (rows of documents never committed) and forward (removals of superseded documents).

After every run and every :func:`optimize_lake` the tables are vacuumed with zero retention, so the
Parquet files in a dataset folder are exactly the table's live files: a reader that only knows
Parquet (``read_parquet('<lake>/segments/*.parquet')``) counts right. The price is that old table
versions cannot be read back (time travel); the Delta log keeps what each commit did.

akhbar never deletes, moves or rewrites anything in a folder that lacks the marker, and cleanup
only ever touches names akhbar itself writes.

A lake may also be a prefix in an S3-compatible object store (``s3://bucket/prefix``, an
:class:`akhbar.storage.S3Path`) with the same layout as objects. Delta commits there rely on
conditional puts (see akhbar/storage.py); the lock is an object created with If-None-Match and kept
alive by its holder (:func:`_s3_lock`); stage files go under ``_staging/<run_id>/`` only when tasks
may run on other machines (:func:`run_staging`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import ColumnProperties, CommitProperties, DeltaTable, Field, Schema, WriterProperties, write_deltalake
from deltalake.transaction import AddAction, RemoveAction

from akhbar.storage import S3Path, plain_error, redact, storage_options
from schemas import ALL_DATASETS, DOCUMENTS, RUNS, DatasetSchema, SchemaViolation

logger = logging.getLogger(__name__)

MARKER_FILE = "_akhbar_lake.json"
#: 1: one Parquet file per document and dataset (before Delta); 2: one Delta table per dataset.
LAKE_FORMAT = 2
LOCK_FILE = ".akhbar.lock"
STAGING_DIR = "_staging"
PENDING_DIR = "_pending"
REPORT_FILE = "report.html"
DELTA_LOG = "_delta_log"
TEMP_SUFFIX = ".tmp"
#: Top-level names akhbar writes in a lake; anything else in it is the user's and left alone.
LAKE_ENTRIES = frozenset(
    {MARKER_FILE, LOCK_FILE, STAGING_DIR, PENDING_DIR, REPORT_FILE, *(d.name for d in ALL_DATASETS)}
)
#: Datasets written per document, before its ``documents`` row (the commit marker).
PER_DOCUMENT_DATASETS = tuple(d for d in ALL_DATASETS if d not in (DOCUMENTS, RUNS))
COMPRESSION: Literal["ZSTD"] = "ZSTD"
#: Identifier columns with few values per file; free text is never dictionary-encoded (it costs
#: ~30% of a write for nothing).
PER_FILE_IDENTIFIERS = ("doc_id", "run_id")
#: Rows per Parquet row group (a few MB of segments): bounds the writer's memory.
ROW_GROUP_ROWS = 32_768
#: delta-rs holds a data file in memory until it reaches this size: a commit of a large batch writes
#: several files this big instead of one that would hold all of the batch (compaction merges them).
WRITE_FILE_BYTES = 32 * 1024 * 1024
#: A table with more data files than this is compacted at the end of a run, so that a scheduled
#: inbox (a commit every 15 minutes) never fragments the lake.
AUTO_COMPACT_FILES = 16
#: Target size of a compacted file.
COMPACT_TARGET_BYTES = 128 * 1024 * 1024


#: A lake's location: a local folder or an ``s3://bucket/prefix`` (:mod:`akhbar.storage`).
LakePath = Path | S3Path
#: How long an S3 lake lock lives without its holder refreshing it: a killed run's lock is taken over
#: after this. The holder refreshes it every third of it.
S3_LOCK_LEASE_SECONDS = 60.0
#: A run's staging prefix on object storage untouched for this long belongs to a run that died (a
#: live run writes a stage file per batch and stage far more often).
STALE_STAGING_SECONDS = 6 * 3600.0


class LakeError(Exception):
    """A lake problem the user must act on; the message is one line naming the folder."""


class NotALakeError(LakeError):
    """The folder exists, is not empty and has no lake marker: akhbar will not touch it."""


# --- where things are ---------------------------------------------------------------------------


def dataset_dir(lake: LakePath, dataset: DatasetSchema) -> LakePath:
    """The folder of one dataset's Delta table."""
    return lake / dataset.name


def dataset_glob(lake: LakePath, dataset: DatasetSchema) -> str:
    """The glob that reads a dataset's live rows as plain Parquet (valid after a run or optimize)."""
    return str(dataset_dir(lake, dataset) / "*.parquet")


def staging_dir(lake: LakePath, run_id: str) -> LakePath:
    """The private work folder of one run."""
    return lake / STAGING_DIR / run_id


def delta_uri(path: LakePath) -> str:
    """The table location as delta-rs takes it."""
    return str(path)


def delta_options(path: LakePath) -> dict[str, str] | None:
    """delta-rs storage options: the AWS environment for an S3 table, none for a local one."""
    return storage_options() if isinstance(path, S3Path) else None


def delta_table(path: LakePath) -> DeltaTable:
    """The Delta table at ``path`` (local or S3)."""
    return DeltaTable(delta_uri(path), storage_options=delta_options(path))


def is_delta_table(path: LakePath) -> bool:
    """True when ``path`` holds a Delta table."""
    return DeltaTable.is_deltatable(delta_uri(path), storage_options=delta_options(path))


def dictionary_encoded_columns(dataset: DatasetSchema) -> list[str]:
    """Columns written with Parquet dictionary encoding: declared categories and per-file identifiers."""
    return [f.name for f in dataset.arrow_schema() if pa.types.is_dictionary(f.type) or f.name in PER_FILE_IDENTIFIERS]


def writer_properties(dataset: DatasetSchema) -> WriterProperties:
    """zstd Parquet, dictionary encoding only where it pays, row groups bounded in rows."""
    return WriterProperties(
        compression=COMPRESSION,
        # The writer holds a row group in memory until it is full: its default (1M rows) would hold
        # all of a large file's text before writing any of it.
        max_row_group_size=ROW_GROUP_ROWS,
        default_column_properties=ColumnProperties(dictionary_enabled=False),
        column_properties={
            name: ColumnProperties(dictionary_enabled=True) for name in dictionary_encoded_columns(dataset)
        },
    )


# --- the marker and the tables -------------------------------------------------------------------


def is_lake(lake: LakePath) -> bool:
    """True when the folder carries akhbar's lake marker."""
    return (lake / MARKER_FILE).is_file()


def lake_format(lake: LakePath) -> int:
    """The format version written in the marker."""
    try:
        return int(json.loads((lake / MARKER_FILE).read_text())["format"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LakeError(f"{lake / MARKER_FILE}: unreadable lake marker ({error})") from error


def looks_like_format_1(lake: LakePath) -> bool:
    """A lake written before Delta tables: dataset folders of per-document Parquet files, no marker."""
    if isinstance(lake, S3Path):  # object-store lakes were never written in format 1
        return False
    if (lake / "_migrating").is_dir():  # a conversion was interrupted: it resumes
        return True
    return (lake / DOCUMENTS.name / "_schema.parquet").is_file() and not (lake / DOCUMENTS.name / DELTA_LOG).exists()


def check_lake_folder(lake: LakePath) -> None:
    """Refuse a folder akhbar may not write to (one line, before any work); creating it is fine."""
    if isinstance(lake, S3Path):
        if is_lake(lake) or all(entry.name == LOCK_FILE for entry in lake.iterdir()):  # the lock is ours
            return
        raise NotALakeError(
            f"{lake} is not an akhbar lake (no {MARKER_FILE}) and is not empty: refusing to write there; "
            "give a new or empty prefix"
        )
    if lake.exists() and not lake.is_dir():
        raise LakeError(f"lake {lake} is a file, not a folder")
    if not lake.exists():
        parent = next((p for p in lake.parents if p.exists()), None)
        if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
            raise LakeError(f"lake {lake} cannot be created: {parent} is not writable")
        return
    if not os.access(lake, os.W_OK | os.X_OK):
        raise LakeError(f"lake {lake} is not writable")
    if is_lake(lake) or looks_like_format_1(lake):
        return
    if any(entry.name != LOCK_FILE for entry in lake.iterdir()):  # the lock file is ours
        raise NotALakeError(
            f"{lake} is not an akhbar lake (no {MARKER_FILE}) and is not empty: refusing to write there; "
            "give a new or empty folder"
        )


def ensure_lake(lake: LakePath, datasets: tuple[DatasetSchema, ...] = ALL_DATASETS) -> None:
    """Create the lake (marker and one Delta table per dataset), or check that ``lake`` is one.

    A lake in the per-document Parquet layout of format 1 is converted first (:func:`migrate_lake`).
    """
    check_lake_folder(lake)
    if isinstance(lake, Path) and not is_lake(lake) and looks_like_format_1(lake):
        from akhbar.migrate import migrate_lake

        migrate_lake(lake)
    lake.mkdir(parents=True, exist_ok=True)
    if not is_lake(lake):
        write_text_atomically(lake / MARKER_FILE, json.dumps({"akhbar_lake": True, "format": LAKE_FORMAT}) + "\n")
    elif (found := lake_format(lake)) != LAKE_FORMAT:
        raise LakeError(f"{lake}: lake format {found} is not supported by this akhbar (format {LAKE_FORMAT})")
    for dataset in datasets:
        ensure_table(lake, dataset)


def ensure_table(lake: LakePath, dataset: DatasetSchema) -> None:
    """Create a dataset's Delta table with its declared schema and descriptions, or add new columns."""
    path = dataset_dir(lake, dataset)
    if not is_delta_table(path):
        DeltaTable.create(
            delta_uri(path),
            schema=dataset.arrow_schema(),
            name=dataset.name,
            description=dataset.row,
            configuration={"delta.checkpointInterval": "100"},
            commit_properties=CommitProperties(custom_metadata={"akhbar.schema_version": str(dataset.version)}),
            storage_options=delta_options(path),
        )
        return
    table = delta_table(path)
    stored = {f.name for f in table.schema().fields}
    missing = [f for f in dataset.arrow_schema() if f.name not in stored]
    if missing:
        # A column added to the declaration (non-breaking): older rows read it as null.
        table.alter.add_columns([_delta_field(f) for f in missing])


def _delta_field(arrow_field: pa.Field) -> Field:
    """A Delta field for a new column (always nullable: older rows have no value)."""
    plain = pa.string() if pa.types.is_dictionary(arrow_field.type) else arrow_field.type
    schema = Schema.from_arrow(pa.schema([pa.field(arrow_field.name, plain, True, arrow_field.metadata)]))
    fields: list[Field] = schema.fields
    return fields[0]


def open_table(lake: LakePath, dataset: DatasetSchema) -> DeltaTable:
    """The dataset's Delta table; LakeError naming it when it is missing or unreadable."""
    path = dataset_dir(lake, dataset)
    try:
        return delta_table(path)
    except Exception as error:
        raise LakeError(f"{path}: not a readable Delta table ({one_line(error)})") from error


def one_line(error: BaseException) -> str:
    """An error as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {text[0] if text else ''}".rstrip(": ")


def scan_dataset(lake: LakePath, dataset: DatasetSchema) -> pl.LazyFrame:
    """A dataset as one lazy frame (zero rows, typed, when the lake or table does not exist yet)."""
    path = dataset_dir(lake, dataset)
    if not is_delta_table(path):
        return pl.LazyFrame(schema=dataset.polars_schema())
    options = delta_options(path)
    if options is not None:  # polars takes the AWS_* keys only (its retry keys are typed otherwise)
        options = {name: value for name, value in options.items() if name.startswith("AWS_")}
    return pl.scan_delta(delta_uri(path), storage_options=options)


def arrow_dataset(lake: LakePath, dataset: DatasetSchema) -> object:
    """The live files of a dataset as a pyarrow dataset (what DuckDB scans)."""
    return open_table(lake, dataset).to_pyarrow_dataset()


def sql_in(column: str, values: Iterable[str]) -> str:
    """A Delta predicate ``column IN (...)`` over string literals."""
    quoted = ",".join("'" + value.replace("'", "''") + "'" for value in sorted(set(values)))
    return f"{column} IN ({quoted})"


def commit_rows(
    lake: LakePath,
    dataset: DatasetSchema,
    batches: Iterable[pl.DataFrame],
    *,
    replacing: Collection[str] = (),
    key: str = "doc_id",
) -> int:
    """Validate frames and commit them to the dataset's table in one transaction; returns the rows.

    ``replacing`` names keys whose existing rows the same transaction removes (a re-ingested or a
    superseded document): new rows must carry keys from that set or from no existing row.
    """
    arrow_schema = dataset.arrow_schema()
    written = 0
    new_keys: set[str] = set()

    invalid: list[SchemaViolation] = []

    def validated() -> Iterator[pa.RecordBatch]:
        nonlocal written
        for frame in batches:
            if frame.height:
                try:
                    table = dataset.to_arrow(frame)
                except SchemaViolation as error:
                    invalid.append(error)  # delta-rs wraps it; the caller gets it as raised
                    raise
                written += table.num_rows
                new_keys.update(frame.get_column(key).unique().to_list())
                yield from table.to_batches()

    reader = pa.RecordBatchReader.from_batches(arrow_schema, validated())
    try:
        _write(lake, dataset, reader, replacing, key, new_keys)
    except Exception as error:
        if invalid:
            raise invalid[0] from error
        raise
    return written


def _write(
    lake: LakePath, dataset: DatasetSchema, reader: pa.RecordBatchReader, replacing: Collection[str], key: str,
    new_keys: set[str],
) -> None:
    """One Delta transaction: append, replace the rows of ``replacing``, or delete them."""
    arrow_schema = dataset.arrow_schema()
    location = dataset_dir(lake, dataset)
    path, options = delta_uri(location), delta_options(location)
    if replacing:
        # The predicate must cover the new rows too (delta-rs checks it), so name them as well.
        frames = list(reader)  # drains the generator so new_keys is complete
        predicate = sql_in(key, {*replacing, *new_keys})
        if frames:
            write_deltalake(
                path,
                pa.Table.from_batches(frames, arrow_schema),
                mode="overwrite",
                predicate=predicate,
                writer_properties=writer_properties(dataset),
                storage_options=options,
                target_file_size=WRITE_FILE_BYTES,
            )
        else:
            delta_table(location).delete(sql_in(key, replacing), writer_properties=writer_properties(dataset))
    elif isinstance(location, Path):
        _append_streaming(location, dataset, reader)
    else:
        peeked = _peek(reader)
        if peeked is not None:
            write_deltalake(
                path,
                peeked,
                mode="append",
                writer_properties=writer_properties(dataset),
                storage_options=options,
                target_file_size=WRITE_FILE_BYTES,
            )


def _append_streaming(table_dir: Path, dataset: DatasetSchema, reader: pa.RecordBatchReader) -> None:
    """Append to a local table in one transaction, writing its data files as the batches stream in.

    delta-rs's own writer holds the whole input in memory before it writes (measured: +850 MB for the
    segments of a 400 MB file); pyarrow's writer holds one row group. Each file is written under a
    name no ``*.parquet`` glob matches and renamed before the commit that adds it; a file a crash
    leaves behind is in no table version, and the next vacuum removes it.
    """
    files: list[tuple[Path, int]] = []
    writer: pq.ParquetWriter | None = None
    temporary = table_dir / ".unused"
    rows = 0

    def close() -> None:
        nonlocal writer, rows
        if writer is not None:
            writer.close()
            final = temporary.with_name(temporary.name.removesuffix(TEMP_SUFFIX))
            os.replace(temporary, final)
            files.append((final, rows))
            writer, rows = None, 0

    try:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            if writer is None:
                temporary = table_dir / f"part-{uuid.uuid4()}-c000.zstd.parquet{TEMP_SUFFIX}"
                writer = pq.ParquetWriter(
                    temporary,
                    dataset.arrow_schema(),
                    compression=COMPRESSION.lower(),
                    use_dictionary=dictionary_encoded_columns(dataset),
                )
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            rows += batch.num_rows
            if temporary.stat().st_size >= WRITE_FILE_BYTES:
                close()
        close()
    finally:
        if writer is not None:  # an error mid-file: drop the partial file
            writer.close()
            temporary.unlink(missing_ok=True)
    if not files:
        return
    now_ms = int(time.time() * 1000)
    actions: list[AddAction | RemoveAction] = [
        AddAction(
            path.name, path.stat().st_size, {}, now_ms, True, json.dumps({"numRecords": count})
        )
        for path, count in files
    ]
    DeltaTable(str(table_dir)).create_write_transaction(actions, mode="append", schema=dataset.arrow_schema())


def _peek(reader: pa.RecordBatchReader) -> pa.RecordBatchReader | None:
    """The reader if it yields at least one batch (an empty append would still make a commit)."""
    iterator = iter(reader)
    try:
        first = next(iterator)
    except StopIteration:
        return None

    def chained() -> Iterator[pa.RecordBatch]:
        yield first
        yield from iterator

    return pa.RecordBatchReader.from_batches(reader.schema, chained())


def delete_rows(lake: LakePath, dataset: DatasetSchema, doc_ids: Collection[str]) -> None:
    """Remove the rows of these documents from one table (one transaction; nothing when none match)."""
    if doc_ids:
        open_table(lake, dataset).delete(sql_in("doc_id", doc_ids), writer_properties=writer_properties(dataset))


# --- intents: what a batch is about to commit ------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    """Documents a batch adds and documents it removes, written before its first commit."""

    adds: tuple[str, ...]
    removes: tuple[str, ...]
    name: str = field(default_factory=lambda: uuid.uuid4().hex)


def write_intent(lake: LakePath, intent: Intent) -> LakePath:
    """Record the intent durably before the batch's first commit."""
    path = lake / PENDING_DIR / f"{intent.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps({"adds": intent.adds, "removes": intent.removes}))
    return path


def clear_intent(lake: LakePath, intent: Intent) -> None:
    """The batch's documents commit is done: its intent is fulfilled."""
    (lake / PENDING_DIR / f"{intent.name}.json").unlink(missing_ok=True)


def recover_intents(lake: LakePath) -> list[str]:
    """Finish what interrupted batches left: drop rows of uncommitted documents, complete removals.

    Call with the lake lock held. Returns one line per recovered intent.
    """
    folder = lake / PENDING_DIR
    if not folder.is_dir():
        return []
    recovered = []
    committed = committed_doc_ids(lake)
    intents: list[LakePath] = sorted(folder.glob("*.json"), key=str)
    for path in intents:
        try:
            data = json.loads(path.read_text())
            adds, removes = set(data["adds"]), set(data["removes"])
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable intent %s", path)
            continue
        uncommitted = adds - committed
        for dataset in PER_DOCUMENT_DATASETS:
            delete_rows(lake, dataset, uncommitted | removes)
        delete_rows(lake, DOCUMENTS, removes)
        path.unlink()
        recovered.append(
            f"rolled back {len(uncommitted)} uncommitted and completed {len(removes)} removed document(s) of an "
            "interrupted batch"
        )
    return recovered


def committed_doc_ids(lake: LakePath) -> set[str]:
    """The doc_ids with a ``documents`` row."""
    ids: list[str] = scan_dataset(lake, DOCUMENTS).select("doc_id").collect().get_column("doc_id").to_list()
    return set(ids)


# --- housekeeping ---------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory that holds the entry."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text_atomically(path: LakePath, text: str) -> LakePath:
    """Write a small text file aside, fsync it and rename it into place (an object put is atomic)."""
    if isinstance(path, S3Path):
        path.write_text(text)
        return path
    temporary = path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)
    return path


def vacuum_lake(lake: LakePath, datasets: tuple[DatasetSchema, ...] = ALL_DATASETS) -> int:
    """Delete data files no table version needs now: afterwards a folder holds exactly the live files."""
    removed = 0
    for dataset in datasets:
        removed += len(
            open_table(lake, dataset).vacuum(
                retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True
            )
        )
    return removed


@dataclass(frozen=True)
class OptimizeResult:
    """What compaction did to one table."""

    dataset: str
    files_before: int
    files_after: int
    removed_files: int


def data_file_count(lake: LakePath, dataset: DatasetSchema) -> int:
    """Live data files of a table."""
    return len(open_table(lake, dataset).file_uris())


def optimize_lake(
    lake: LakePath, datasets: tuple[DatasetSchema, ...] = ALL_DATASETS, *, min_files: int = 2
) -> list[OptimizeResult]:
    """Compact tables with at least ``min_files`` data files, then vacuum (call with the lock held)."""
    results = []
    for dataset in datasets:
        table = open_table(lake, dataset)
        before = len(table.file_uris())
        if before >= min_files:
            table.optimize.compact(target_size=COMPACT_TARGET_BYTES, writer_properties=writer_properties(dataset))
        removed = len(table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True))
        results.append(
            OptimizeResult(
                dataset.name,
                before,
                len(DeltaTable(table.table_uri, storage_options=delta_options(lake)).file_uris()),
                removed,
            )
        )
    return results


def auto_compact(lake: LakePath) -> list[OptimizeResult]:
    """Compact the tables that passed ``AUTO_COMPACT_FILES`` data files; vacuum every table."""
    crowded = tuple(d for d in ALL_DATASETS if data_file_count(lake, d) > AUTO_COMPACT_FILES)
    results = optimize_lake(lake, crowded) if crowded else []
    vacuum_lake(lake, tuple(d for d in ALL_DATASETS if d not in crowded))
    return results


def _log_wait(message: str) -> None:
    logger.warning(message)


#: One lock per lake for the threads of this process: the file lock orders runs, this one orders
#: the tasks of one run, which wait for each other without an "another run" warning.
_thread_locks: dict[LakePath, threading.RLock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(lake: LakePath) -> threading.RLock:
    """This process's lock for ``lake``."""
    with _thread_locks_guard:
        return _thread_locks.setdefault(lake.resolve(), threading.RLock())


_held = threading.local()


@contextmanager
def lake_lock(lake: LakePath, *, on_wait: Callable[[str], None] = _log_wait) -> Iterator[None]:
    """Hold the lake's exclusive lock (re-entrant within a thread); ``on_wait`` is told once if another
    process holds it."""
    lake.mkdir(parents=True, exist_ok=True)
    key = lake.resolve()
    depth: dict[LakePath, int] = getattr(_held, "depth", None) or {}
    _held.depth = depth
    if depth.get(key):
        depth[key] += 1
        try:
            yield
        finally:
            depth[key] -= 1
        return
    if isinstance(lake, S3Path):
        with _thread_lock(lake), _s3_lock(lake / LOCK_FILE, on_wait):
            depth[key] = 1
            try:
                yield
            finally:
                depth[key] = 0
        return
    with _thread_lock(lake), (lake / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"another akhbar run is writing to {lake}; waiting for it to finish")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        depth[key] = 1
        try:
            yield
        finally:
            depth[key] = 0
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


#: Left in a run's staging folder by a stopped run whose tasks did not finish in time: keep the folder.
STAGING_IN_USE = ".in-use"


@contextmanager
def _s3_lock(lock: S3Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    """The lake lock on object storage: an object created with If-None-Match, refreshed while held.

    fcntl cannot lock an object, and Delta's optimistic concurrency orders commits to one table but not
    a batch's commits across tables and its intent. A lock object whose holder stops refreshing it (a
    killed run) is taken over after :data:`S3_LOCK_LEASE_SECONDS` with an If-Match put, so two
    waiters never both take it.
    """
    body = json.dumps({"owner": uuid.uuid4().hex, "host": os.uname().nodename, "pid": os.getpid()}).encode()
    told = False
    try:
        while (tag := lock.create(body)) is None:
            meta = lock.head()
            if meta is not None and _age_seconds(meta) > S3_LOCK_LEASE_SECONDS:
                tag = lock.replace_if(body, str(meta["e_tag"]))
                if tag is not None:
                    logger.warning("took over the lock %s of a run that stopped refreshing it", lock)
                    break
            if not told:
                on_wait(f"another akhbar run is writing to {lock.parent}; waiting for it to finish")
                told = True
            time.sleep(0.5)
    except Exception as error:  # the store does not answer (or refuses): one line naming it
        raise LakeError(f"cannot take the lake lock {lock}: {plain_error(error)}") from error
    state = {"tag": tag}
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(S3_LOCK_LEASE_SECONDS / 3):
            try:
                new = lock.replace_if(body, state["tag"])
            except Exception as error:  # the store does not answer: try again at the next beat
                logger.warning("could not refresh the lake lock %s (%s)", lock, redact(one_line(error)))
                continue
            if new is None:
                logger.error("lost the lake lock %s (taken over by another run)", lock)
                return
            state["tag"] = new

    refresher = threading.Thread(target=refresh, name="akhbar-s3-lock", daemon=True)
    refresher.start()
    try:
        yield
    finally:
        stop.set()
        refresher.join()
        try:
            meta = lock.head()
            if meta is not None and str(meta["e_tag"]) == state["tag"]:  # still ours
                lock.unlink(missing_ok=True)
        except Exception as error:  # the store is down: the lease runs out and the next run takes over
            logger.warning("could not release the lake lock %s (%s)", lock, redact(one_line(error)))


def _age_seconds(meta: dict[str, object]) -> float:
    """Seconds since an object was last written."""
    modified = meta["last_modified"]
    assert isinstance(modified, datetime)
    return (datetime.now(UTC) - modified).total_seconds()


@contextmanager
def run_staging(lake: LakePath, run_id: str, *, shared: bool = True) -> Iterator[LakePath]:
    """A run's private work folder, locked while the run lives and removed when it ends.

    A killed run cannot remove its folder; :func:`remove_abandoned_staging` recognises such a folder
    because nobody holds its lock any more. With a lake on object storage the work folder is the
    prefix ``_staging/<run_id>/`` of the lake, so that a stage may run on any machine that reaches
    the object store (Dask workers share no folder); a killed run's prefix is removed once it has
    been untouched for :data:`STALE_STAGING_SECONDS`. ``shared=False`` says every task runs in this
    process: the stages of an object-store lake then stay in a local temporary folder, which saves an
    upload and a download per stage.
    """
    if isinstance(lake, S3Path) and not shared:
        local = Path(tempfile.mkdtemp(prefix=f"akhbar-staging-{run_id}-"))
        try:
            yield local
        finally:
            shutil.rmtree(local, ignore_errors=True)
        return
    if isinstance(lake, S3Path):
        prefix = lake / STAGING_DIR / run_id
        try:
            yield prefix
        finally:
            prefix.rmtree()
        return
    folder = lake / STAGING_DIR / run_id
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            if not (folder / STAGING_IN_USE).exists():  # else a task still writes there: the next run removes it
                shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned_staging(lake: LakePath) -> Sequence[LakePath]:
    """Delete the staging folders of runs that died (their lock is free); anything else there is left."""
    if isinstance(lake, S3Path):
        return _remove_stale_staging(lake)
    removed: list[Path] = []
    root = lake / STAGING_DIR
    if not root.is_dir():
        return removed
    for folder in sorted(root.iterdir()):
        lock = folder / LOCK_FILE
        if folder.is_symlink() or not folder.is_dir() or not lock.is_file():
            continue  # not a run's folder: not ours to judge
        try:
            with lock.open("a+") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except BlockingIOError:  # a live run owns it
            continue
        except OSError:  # its run finished and removed it meanwhile
            continue
    return removed


def _remove_stale_staging(lake: S3Path) -> list[LakePath]:
    """Delete the ``_staging/<run_id>/`` prefixes none of whose objects was written for a long while."""
    removed: list[LakePath] = []
    for prefix in (lake / STAGING_DIR).iterdir():
        ages = [_age_seconds(meta) for _, meta in prefix.walk_objects()]
        if ages and min(ages) > STALE_STAGING_SECONDS:
            prefix.rmtree()
            removed.append(prefix)
    return removed


def remove_temporaries(lake: LakePath) -> list[Path]:
    """Delete akhbar's own temporary files left by crashed runs (``<name>.<pid>.tmp`` in the lake root)."""
    removed: list[Path] = []
    if isinstance(lake, S3Path):  # object puts are atomic: no temporaries
        return removed
    for path in sorted(lake.glob(f"*{TEMP_SUFFIX}")):
        base = path.name.removesuffix(TEMP_SUFFIX).rsplit(".", 1)[0]
        if base in LAKE_ENTRIES and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def prepare_lake(lake: LakePath) -> list[str]:
    """Create or check the lake and undo what interrupted runs left; one line per thing undone."""
    check_lake_folder(lake)  # before the lock: its file must not land in a folder that is not a lake
    with lake_lock(lake):
        ensure_lake(lake)
        from akhbar.lake_check import damaged_files

        if damaged := damaged_files(lake):
            named = "; ".join(f"{d.dataset} file {d.path} ({d.error})" for d in damaged)
            raise LakeError(f"the lake {lake} has damaged data files: {named}; run `akhbar lake repair --lake {lake}`")
        undone = [f"removed {path}, left by an interrupted run" for path in remove_temporaries(lake)]
        undone += recover_intents(lake)
    undone += [f"removed {path}, left by an interrupted run" for path in remove_abandoned_staging(lake)]
    return undone

