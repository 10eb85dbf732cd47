"""Ingest progress people can see: a rich bar on a terminal, periodic log lines elsewhere, nothing with --quiet.

Every reporter has the same three calls: ``start(total_files, total_bytes)`` once, ``file_done(path,
size_bytes, lines)`` per finished file (from any thread), ``finish()`` once. Rates and ETA are by
bytes, since files differ in size by orders of magnitude and bytes are what the decode stage reads.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

MEGABYTE = 1_000_000
#: A non-TTY log gets one line at most this often (plus one at the end), whatever the file count.
LOG_INTERVAL_SECONDS = 10.0


class ProgressReporter(Protocol):
    """What the CLI and the flow call while ingesting."""

    def start(self, total_files: int, total_bytes: int) -> None:
        """The run is about to ingest this many files and bytes."""

    def file_done(self, path: str | Path, size_bytes: int, lines: int) -> None:
        """One file finished (ingested or not)."""

    def finish(self) -> None:
        """The run ended; flush and close the display."""


class NullProgress:
    """Reports nothing (``--quiet``)."""

    def start(self, total_files: int, total_bytes: int) -> None:
        """Nothing to show."""

    def file_done(self, path: str | Path, size_bytes: int, lines: int) -> None:
        """Nothing to show."""

    def finish(self) -> None:
        """Nothing to show."""


def format_eta(seconds: float | None) -> str:
    """ETA as 'm:ss' or 'h:mm:ss'; '?' while unknown."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class LogProgress:
    """One plain line per ``interval`` seconds (and a last one at finish), for logs and CI."""

    def __init__(
        self,
        emit: Callable[[str], None] | None = None,
        *,
        interval: float = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit or (lambda line: print(line, file=sys.stderr, flush=True))
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()  # file_done may come from several task threads
        self.total_files = self.total_bytes = 0
        self.files = self.lines = self.bytes = 0
        self._started = self._last_emit = 0.0

    def start(self, total_files: int, total_bytes: int) -> None:
        """Remember the totals and say what is about to happen."""
        with self._lock:
            self.total_files, self.total_bytes = total_files, total_bytes
            self._started = self._last_emit = self._clock()
        self._emit(f"ingesting {total_files} file(s), {total_bytes / MEGABYTE:.1f} MB")

    def file_done(self, path: str | Path, size_bytes: int, lines: int) -> None:
        """Count the file; emit a line when the interval has passed."""
        with self._lock:
            self.files += 1
            self.lines += lines
            self.bytes += size_bytes
            now = self._clock()
            due = now - self._last_emit >= self._interval
            if due:
                self._last_emit = now
                line = self.status_line(now)
        if due:
            self._emit(line)

    def finish(self) -> None:
        """Emit the final totals."""
        with self._lock:
            line = self.status_line(self._clock(), final=True)
        self._emit(line)

    def status_line(self, now: float, *, final: bool = False) -> str:
        """'3/10 files, 1,204 lines, 12.0/40.0 MB, 4.0 MB/s, ETA 0:07' (or 'done in' when final)."""
        elapsed = max(now - self._started, 1e-9)
        speed = self.bytes / elapsed
        head = f"{self.files}/{self.total_files} files, {self.lines:,} lines, "
        head += f"{self.bytes / MEGABYTE:.1f}/{self.total_bytes / MEGABYTE:.1f} MB, {speed / MEGABYTE:.1f} MB/s"
        if final:
            return f"{head}, done in {format_eta(elapsed)}"
        remaining = (self.total_bytes - self.bytes) / speed if speed > 0 else None
        return f"{head}, ETA {format_eta(remaining)}"


class RichProgress:
    """A rich progress bar: files, lines, MB/s and ETA (by bytes), for a terminal."""

    def __init__(self, console: Console | None = None, *, auto_refresh: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            TextColumn("{task.fields[files]}/{task.fields[total_files]} files"),
            TextColumn("{task.fields[lines]:,} lines"),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            auto_refresh=auto_refresh,
            transient=False,
        )
        self._lock = threading.Lock()
        self._task: TaskID | None = None
        self.files = self.lines = 0

    def start(self, total_files: int, total_bytes: int) -> None:
        """Show the bar."""
        self._progress.start()
        self._task = self._progress.add_task("ingest", total=total_bytes, files=0, total_files=total_files, lines=0)

    def file_done(self, path: str | Path, size_bytes: int, lines: int) -> None:
        """Advance the bar by the file's bytes."""
        if self._task is None:
            return
        with self._lock:
            self.files += 1
            self.lines += lines
            self._progress.update(self._task, advance=size_bytes, files=self.files, lines=self.lines)

    def finish(self) -> None:
        """Draw the final state and release the terminal."""
        if self._task is not None:
            self._progress.refresh()
        self._progress.stop()

    @property
    def progress(self) -> Progress:
        """The underlying rich Progress (tests read its task)."""
        return self._progress


_active: ProgressReporter = NullProgress()
_active_lock = threading.Lock()


@contextmanager
def reporting_to(reporter: ProgressReporter) -> Iterator[ProgressReporter]:
    """Make ``reporter`` what :func:`current_progress` returns in this process while the block runs.

    The CLI sets it around the flow call; the flow reports to ``current_progress()``. A reporter is
    not a flow parameter (it is neither serializable nor meaningful on a remote worker), and a
    deployment run outside the CLI reports to NullProgress (the Prefect UI shows its progress).
    """
    global _active
    with _active_lock:
        previous, _active = _active, reporter
    try:
        yield reporter
    finally:
        with _active_lock:
            _active = previous


def current_progress() -> ProgressReporter:
    """The reporter set by :func:`reporting_to`, else NullProgress."""
    return _active


def make_progress(quiet: bool, is_tty: bool, *, stream: TextIO | None = None) -> ProgressReporter:
    """NullProgress when quiet, RichProgress on a terminal, LogProgress otherwise (to ``stream``, default stderr)."""
    if quiet:
        return NullProgress()
    out = stream or sys.stderr
    if is_tty:
        return RichProgress(Console(file=out))
    return LogProgress(lambda line: print(line, file=out, flush=True))
