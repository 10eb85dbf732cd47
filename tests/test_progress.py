"""Progress reporters: rich bar on a terminal, periodic plain lines elsewhere, silence with --quiet."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from akhbar.progress import (
    LogProgress,
    NullProgress,
    RichProgress,
    current_progress,
    format_eta,
    make_progress,
    reporting_to,
)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("seconds", "shown"), [(None, "?"), (0.4, "0:00"), (75, "1:15"), (3725, "1:02:05")])
def test_format_eta(seconds: float | None, shown: str) -> None:
    assert format_eta(seconds) == shown


def test_log_progress_emits_at_most_once_per_interval_and_at_finish() -> None:
    clock, lines = FakeClock(), list[str]()
    progress = LogProgress(lines.append, interval=10.0, clock=clock)
    progress.start(total_files=4, total_bytes=40_000_000)
    assert lines == ["ingesting 4 file(s), 40.0 MB"]
    clock.now += 2
    progress.file_done("a.txt", 10_000_000, lines=120)
    assert len(lines) == 1  # within the interval: quiet
    clock.now += 8  # 10 s in: 20 MB done at 2 MB/s, 20 MB left -> 10 s
    progress.file_done("b.txt", 10_000_000, lines=80)
    assert lines[-1] == "2/4 files, 200 lines, 20.0/40.0 MB, 2.0 MB/s, ETA 0:10"
    clock.now += 1
    progress.file_done("c.txt", 10_000_000, lines=1_000)
    assert len(lines) == 2
    clock.now += 4
    progress.file_done("d.txt", 10_000_000, lines=0)
    progress.finish()
    assert lines[-1] == "4/4 files, 1,200 lines, 40.0/40.0 MB, 2.7 MB/s, done in 0:15"
    assert len(lines) == 3


def test_log_progress_eta_unknown_before_any_byte() -> None:
    clock = FakeClock()
    progress = LogProgress(lambda line: None, clock=clock)
    progress.start(total_files=1, total_bytes=5)
    assert progress.status_line(clock.now + 3).endswith("0.0 MB/s, ETA ?")


def test_log_progress_counts_are_exact_across_threads() -> None:
    progress = LogProgress(lambda line: None, interval=0.0)
    progress.start(total_files=800, total_bytes=800 * 10)

    def work() -> None:
        for _ in range(100):
            progress.file_done("x.txt", 10, lines=3)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (progress.files, progress.lines, progress.bytes) == (800, 2400, 8000)


def test_rich_progress_shows_files_lines_and_bytes() -> None:
    screen = io.StringIO()
    progress = RichProgress(Console(file=screen, force_terminal=True, width=160), auto_refresh=False)
    progress.start(total_files=3, total_bytes=3_000)
    progress.file_done("a.txt", 1_000, lines=7)
    progress.file_done("b.txt", 1_500, lines=5)
    progress.finish()
    task = progress.progress.tasks[0]
    assert (task.completed, task.total, task.fields["files"], task.fields["lines"]) == (2_500, 3_000, 2, 12)
    shown = screen.getvalue()
    assert "2/3 files" in shown
    assert "12 lines" in shown
    assert "ETA" in shown


def test_make_progress_picks_the_reporter() -> None:
    stream = io.StringIO()
    assert isinstance(make_progress(quiet=True, is_tty=True), NullProgress)
    assert isinstance(make_progress(quiet=True, is_tty=False), NullProgress)
    assert isinstance(make_progress(quiet=False, is_tty=True, stream=stream), RichProgress)
    plain = make_progress(quiet=False, is_tty=False, stream=stream)
    assert isinstance(plain, LogProgress)
    plain.start(total_files=1, total_bytes=2_000_000)
    plain.file_done("a.txt", 2_000_000, lines=4)
    plain.finish()
    assert stream.getvalue().splitlines()[0] == "ingesting 1 file(s), 2.0 MB"
    assert stream.getvalue().splitlines()[-1].startswith("1/1 files, 4 lines, 2.0/2.0 MB")


def test_quiet_reporter_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = make_progress(quiet=True, is_tty=False)
    quiet.start(total_files=1, total_bytes=1)
    quiet.file_done("a.txt", 1, lines=1)
    quiet.finish()
    assert capsys.readouterr() == ("", "")


def test_current_progress_is_the_one_set_for_the_block() -> None:
    assert isinstance(current_progress(), NullProgress)
    lines: list[str] = []
    reporter = LogProgress(lines.append)
    with reporting_to(reporter):
        assert current_progress() is reporter
        current_progress().start(total_files=1, total_bytes=1)
    assert isinstance(current_progress(), NullProgress)
    assert lines == ["ingesting 1 file(s), 0.0 MB"]
