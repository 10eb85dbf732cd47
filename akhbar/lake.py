"""The output lake: one folder per dataset, one Parquet file per input document.

Layout::

    <lake>/<dataset>/<doc_id>.parquet     segments, quarantine, documents (and articles)
    <lake>/runs/<run_id>.parquet          one row per run
    <lake>/<dataset>/_schema.parquet      zero rows; keeps every dataset readable (and typed) even
                                          before it has data, e.g. quarantine on a clean lake
    <lake>/_staging/<run_id>/             intermediate stage files of runs in progress

Files are written aside (``*.parquet.tmp``, which no ``*.parquet`` glob matches), fsync'ed and
renamed into place, so a reader never sees a partial file. A document's files are replaced whole;
its ``documents`` row is written last and acts as the commit marker. Publishing holds an exclusive
lock on ``<lake>/.akhbar.lock`` so concurrent runs on one lake take turns instead of interleaving.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from akhbar.faults import checkpoint
from schemas import ALL_DATASETS, DatasetSchema

logger = logging.getLogger(__name__)

LOCK_FILE = ".akhbar.lock"
STAGING_DIR = "_staging"
SCHEMA_FILE = "_schema.parquet"
TEMP_SUFFIX = ".tmp"
COMPRESSION = "zstd"
#: Identifier columns that hold one value per file: a one-entry Parquet dictionary stores them in
#: a few bytes. Free text is never dictionary-encoded: trying costs ~30% of a write, for nothing.
PER_FILE_IDENTIFIERS = ("doc_id", "run_id")


def dictionary_encoded_columns(dataset: DatasetSchema) -> list[str]:
    """Columns written with Parquet dictionary encoding: the declared categories and per-file identifiers."""
    return [
        field.name
        for field in dataset.arrow_schema()
        if pa.types.is_dictionary(field.type) or field.name in PER_FILE_IDENTIFIERS
    ]


def dataset_dir(lake: Path, dataset: DatasetSchema) -> Path:
    """The folder holding one dataset's files."""
    return lake / dataset.name


def dataset_file(lake: Path, dataset: DatasetSchema, key: str) -> Path:
    """The file holding one document's (or one run's) rows of a dataset."""
    return dataset_dir(lake, dataset) / f"{key}.parquet"


def dataset_glob(lake: Path, dataset: DatasetSchema) -> str:
    """The glob that reads a dataset as one table (also in DuckDB with hive_partitioning)."""
    return str(dataset_dir(lake, dataset) / "**" / "*.parquet")


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory that holds the entry."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class AtomicParquetWriter:
    """Writes a dataset file as row groups into a temporary file, renamed into place on commit."""

    def __init__(self, target: Path, dataset: DatasetSchema) -> None:
        self.target = target
        self.dataset = dataset
        self.temporary = target.with_name(f"{target.name}.{os.getpid()}{TEMP_SUFFIX}")
        self.rows = 0
        target.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(
            self.temporary,
            dataset.arrow_schema(),
            compression=COMPRESSION,
            use_dictionary=dictionary_encoded_columns(dataset),
        )

    def write(self, frame: pl.DataFrame) -> None:
        """Validate a frame against the dataset and append it as one row group."""
        if frame.height:
            self._writer.write_table(self.dataset.to_arrow(frame))
            self.rows += frame.height

    def commit(self) -> Path:
        """Close, fsync and rename the file into place."""
        self._writer.close()
        with self.temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        checkpoint("before-rename")
        os.replace(self.temporary, self.target)
        _fsync_dir(self.target.parent)
        return self.target

    def abort(self) -> None:
        """Drop the temporary file."""
        self._writer.close()
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()


def write_dataset_file(lake: Path, dataset: DatasetSchema, key: str, frame: pl.DataFrame) -> Path:
    """Validate and atomically write one dataset file."""
    with AtomicParquetWriter(dataset_file(lake, dataset, key), dataset) as writer:
        writer.write(frame)
        return writer.commit()


def ensure_lake(lake: Path, datasets: tuple[DatasetSchema, ...] = ALL_DATASETS) -> None:
    """Create the dataset folders and their zero-row schema files."""
    for dataset in datasets:
        schema_file = dataset_dir(lake, dataset) / SCHEMA_FILE
        if not schema_file.exists() or _stored_schema_differs(schema_file, dataset):
            dataset_dir(lake, dataset).mkdir(parents=True, exist_ok=True)
            write_dataset_file(lake, dataset, SCHEMA_FILE.removesuffix(".parquet"), dataset.empty_frame())


def _stored_schema_differs(path: Path, dataset: DatasetSchema) -> bool:
    """True when a schema file predates the current declaration."""
    return not pq.read_schema(path).equals(dataset.arrow_schema(), check_metadata=True)


def _log_wait(message: str) -> None:
    logger.warning(message)


#: One lock per lake for the threads of this process: the file lock orders runs, this one orders
#: the tasks of one run, which wait for each other without a "another run" warning.
_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(lake: Path) -> threading.Lock:
    """This process's lock for ``lake``."""
    with _thread_locks_guard:
        return _thread_locks.setdefault(lake.resolve(), threading.Lock())


@contextmanager
def lake_lock(lake: Path, *, on_wait: Callable[[str], None] = _log_wait) -> Iterator[None]:
    """Hold the lake's exclusive lock; ``on_wait`` is told once if another run (process) holds it."""
    lake.mkdir(parents=True, exist_ok=True)
    with _thread_lock(lake), (lake / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"another akhbar run is writing to {lake}; waiting for it to finish")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def run_staging(lake: Path, run_id: str) -> Iterator[Path]:
    """A run's private work folder, locked while the run lives and removed when it ends.

    A killed run cannot remove its folder; :func:`remove_abandoned_staging` recognises such a folder
    because nobody holds its lock any more.
    """
    folder = staging_dir(lake, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned_staging(lake: Path) -> list[Path]:
    """Delete the staging folders of runs that died (their lock is free)."""
    removed = []
    for folder in sorted((lake / STAGING_DIR).glob("*")):
        lock = folder / LOCK_FILE
        try:
            with lock.open("a+") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except BlockingIOError:  # a live run owns it
            continue
        except FileNotFoundError:  # its run finished and removed it meanwhile
            continue
    return removed


def scan_dataset(lake: Path, dataset: DatasetSchema) -> pl.LazyFrame:
    """Read a dataset as one lazy frame (zero rows, typed, when it holds no data yet)."""
    files = sorted(dataset_dir(lake, dataset).glob("*.parquet"))
    if not files:
        return dataset.empty_frame().lazy()
    return pl.scan_parquet(files)


def remove_dataset_file(lake: Path, dataset: DatasetSchema, key: str) -> bool:
    """Delete one document's file of a dataset, if present; True when there was one."""
    path = dataset_file(lake, dataset, key)
    if not path.exists():
        return False
    path.unlink()
    _fsync_dir(path.parent)
    return True


def staging_dir(lake: Path, run_id: str) -> Path:
    """The private work folder of one run."""
    return lake / STAGING_DIR / run_id


def remove_temporaries(lake: Path) -> list[Path]:
    """Delete temporary files left by crashed runs; call with the lake lock held (writers hold it too)."""
    removed = sorted(lake.glob(f"*/*{TEMP_SUFFIX}"))
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def remove_uncommitted(lake: Path, committed: set[str], per_document: tuple[DatasetSchema, ...]) -> list[Path]:
    """Delete per-document files whose document has no ``documents`` row (a publish cut short)."""
    removed = []
    for dataset in per_document:
        for path in sorted(dataset_dir(lake, dataset).glob("*.parquet")):
            if path.name != SCHEMA_FILE and path.stem not in committed:
                path.unlink()
                removed.append(path)
    return removed


def read_table(path: Path) -> pa.Table:
    """Read one Parquet file as Arrow (used by tests and tools)."""
    return pq.read_table(path)
