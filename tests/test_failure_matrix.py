"""Bad input, one case at a time, all in one real run: the other files still go in, every line is
accounted for, the user is told which file (and line) could not be used, and the exit code follows
the README table.

One ``akhbar run`` (typer's CliRunner, the real flow in-process on the session's Prefect server)
ingests an inbox holding every case next to one good file; each parametrised test then reads that
one lake. The exit code of "this case next to one good file" is computed from the run's own
per-file results with ``RunSummary.exit_code``, the function the CLI exits with.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import os
import re
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from akhbar import cli
from akhbar.decode import MAX_LINE_BYTES
from akhbar.inputs import resolve_inputs
from akhbar.lake import scan_dataset
from akhbar.language import detect_language
from akhbar.runs import RunSummary
from schemas import DOCUMENTS, QUARANTINE, SEGMENTS

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

IS_ROOT = os.geteuid() == 0
GOOD_LINES = ["ارتفعت أسعار الذهب في الأسواق المحلية اليوم", "التقى وزير الخارجية نظيره الفرنسي في باريس"]


@dataclass(frozen=True)
class Case:
    """One bad input: how to write it, and what the run must make of it."""

    id: str
    name: str  # file (or folder) name in the inbox, or of an extra argument when ``argument``
    write: Callable[[Path], None]
    lines: int | None  # lines written; None when no document is expected
    status: str | None  # the documents row's status; None when no document is expected
    exit_code: int  # the exit code of a run of this input next to one good file
    quarantined: dict[int | None, str] = field(default_factory=dict)  # line_no (None: whole file) → reason
    blank: int = 0
    texts: dict[int, str] = field(default_factory=dict)  # line_no → expected display text
    encoding: str | None = None
    argument: bool = False  # passed as its own path argument instead of living in the inbox
    told: tuple[str, ...] = ()  # words the user must be told about it, on one line naming the file
    skip_reason: str | None = None  # why this case cannot be built here


def _text(lines: list[str], newline: str = "\n", encoding: str = "utf-8", bom: bytes = b"") -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(bom + newline.join(lines).encode(encoding) + newline.encode(encoding))

    return write


def _bytes(payload: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(payload)

    return write


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(200))
NUL_LINES = [f"خبر رقم {i} عن الاقتصاد" for i in range(300)]
NUL_LINES[149] = "سطر فيه\x00بايت صفري"
BROKEN_UTF8 = (
    "\n".join(GOOD_LINES * 2).encode() + b"\nbad \xff\xfe\xfd bytes\n" + "سطر سليم".encode() + b"\n\xd8 truncated\n"
)
LEGACY = ["ارتفعت أسعار الذهب اليوم", "", "قال وزير المالية إن الميزانية متوازنة"]
CR_ONLY = ["السطر الأول", "السطر الثاني", "", "السطر الرابع"]
LONG_LINE = ("ذهب " * (20 * 2**20 // 7)).encode()  # 7 bytes a repetition: a single 20 MB line
MANY_LINES = 1_000_000
MIXED = ["سعر Gold اليوم 📈 يرتفع 🔥", "Breaking: اتفاق جديد 🤝🏽 between two sides", "👨\u200d👩\u200d👧 عائلة سعيدة"]
PRESENTATION = ["\ufe8d\ufedf\ufeac\ufeeb\ufe90 \ufefb \ufdf2", "\ufeb3\ufecc\ufeae \ufe8d\ufedf\ufef4\ufeee\ufee1"]
MARKS = ["\u200fخبر\u200e عاجل\u202b", "\u200d\u200c\u200f\u2066\u2069", "ب\u200dت\u200cث", "\u061cمرحبا\u200b بكم"]
HTML = [
    "<p>ارتفع سعر <b>الذهب</b> اليوم &amp; أمس&nbsp;&quot;عاجل&quot;</p>",
    "<br/>",
    "&#1575;&#1604;&#1584;&#1607;&#1576; &lt;script&gt;",
]
ARABIC_NAME = "أخبار اليوم العاجلة.txt"
NAMED_LINES = ["افتتح المعرض الدولي للكتاب أبوابه", "وشارك فيه ناشرون من عشرين دولة"]


def _many_lines(path: Path) -> None:
    """Short teasers separated by blank lines, as exports often are: half the lines are blank."""
    with path.open("w", encoding="utf-8") as handle:
        for start in range(0, MANY_LINES, 100_000):
            handle.write("".join("\n" if i % 2 else f"خبر {i % 37}\n" for i in range(start, start + 100_000)))


def _mkfifo(path: Path) -> None:
    os.mkfifo(path)


def _unreadable(path: Path) -> None:
    path.write_text(GOOD_LINES[0], encoding="utf-8")
    path.chmod(0)


CASES = [
    Case("empty", "empty.txt", _bytes(b""), lines=0, status="empty", exit_code=0),
    Case("whitespace-only", "blank.txt", _text([" ", "\t\t", "", "   \u3000 "], newline="\r\n"), lines=4,
         status="ingested", exit_code=0, blank=4),
    Case("binary-png", "image.txt", _bytes(PNG), lines=0, status="quarantined", exit_code=1,
         quarantined={None: "binary_content"}, told=("quarantined", "binary_content")),
    Case("binary-zip", "archive.txt", _bytes(ZIP), lines=0, status="quarantined", exit_code=1,
         quarantined={None: "binary_content"}, told=("quarantined", "binary_content")),
    Case("nul-bytes-in-text", "nul.txt", _text(NUL_LINES), lines=len(NUL_LINES), status="ingested", exit_code=0,
         texts={150: "سطر فيه بايت صفري"}, encoding="utf-8"),
    Case("invalid-utf8-mid-file", "broken.txt", _bytes(BROKEN_UTF8), lines=7, status="partial", exit_code=1,
         quarantined={5: "invalid_encoding", 7: "invalid_encoding"}, encoding="utf-8",
         told=("quarantined", "line 5", "line 7", "invalid_encoding")),
    Case("windows-1256", "legacy.txt", _text(LEGACY, "\r\n", "cp1256"), lines=3, status="ingested", exit_code=0,
         blank=1, texts={1: LEGACY[0], 3: LEGACY[2]}, encoding="windows-1256"),
    Case("utf-16-le-bom", "utf16le.txt", _text(LEGACY, "\n", "utf-16-le", codecs.BOM_UTF16_LE), lines=3,
         status="ingested", exit_code=0, blank=1, texts={1: LEGACY[0], 3: LEGACY[2]}, encoding="utf-16"),
    Case("utf-16-be-bom", "utf16be.txt", _text(LEGACY, "\r\n", "utf-16-be", codecs.BOM_UTF16_BE), lines=3,
         status="ingested", exit_code=0, blank=1, texts={1: LEGACY[0], 3: LEGACY[2]}, encoding="utf-16"),
    Case("cr-only-line-endings", "mac.txt", _text(CR_ONLY, "\r"), lines=4, status="ingested", exit_code=0, blank=1,
         texts={1: CR_ONLY[0], 2: CR_ONLY[1], 4: CR_ONLY[3]}),
    Case("20mb-single-line", "long.txt", _bytes(LONG_LINE), lines=1, status="quarantined", exit_code=1,
         quarantined={1: "line_too_long"}, told=("quarantined", "line 1", "line_too_long")),
    Case("million-short-lines", "many.txt", _many_lines, lines=MANY_LINES, status="ingested", exit_code=0,
         blank=MANY_LINES // 2, texts={1: "خبر 0", 11: "خبر 10", MANY_LINES - 1: f"خبر {(MANY_LINES - 2) % 37}"}),
    Case("arabic-english-emoji", "mixed.txt", _text(MIXED), lines=3, status="ingested", exit_code=0,
         texts={1: MIXED[0], 2: MIXED[1], 3: MIXED[2]}),
    Case("presentation-forms", "forms.txt", _text(PRESENTATION), lines=2, status="ingested", exit_code=0,
         texts={1: "الذهب لا الله", 2: "سعر اليوم"}),
    Case("bidi-marks-and-joiners", "marks.txt", _text(MARKS), lines=4, status="ingested", exit_code=0, blank=1,
         texts={1: "خبر عاجل", 3: "بتث", 4: "مرحبا بكم"}),
    Case("html-left-in-scrape", "scrape.txt", _text(HTML), lines=3, status="ingested", exit_code=0,
         texts={1: HTML[0], 2: HTML[1], 3: HTML[2]}),
    Case("arabic-name-with-spaces", ARABIC_NAME, _text(NAMED_LINES), lines=2, status="ingested", exit_code=0,
         texts={1: NAMED_LINES[0], 2: NAMED_LINES[1]}),
    Case("missing-path", "gone.txt", lambda path: None, lines=None, status=None, exit_code=1, argument=True,
         told=("path not found",)),
    Case("directory-named-txt", "folder.txt", lambda path: path.mkdir(), lines=None, status=None, exit_code=1,
         argument=True, told=("no *.txt files under",)),
    Case("fifo-in-folder", "pipe.txt", _mkfifo, lines=None, status=None, exit_code=1,
         told=("not a regular file",)),
    Case("unreadable-chmod-0", "locked.txt", _unreadable, lines=None, status=None, exit_code=1,
         told=("cannot read", "permission denied"),
         skip_reason="running as root: chmod 0 does not stop root from reading" if IS_ROOT else None),
]
PARAMS = [
    pytest.param(c, id=c.id, marks=pytest.mark.skipif(c.skip_reason is not None, reason=str(c.skip_reason)))
    for c in CASES
]


def _cases() -> list[Case]:
    """The cases this machine can build."""
    return [c for c in CASES if c.skip_reason is None]


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class MatrixRun:
    """The one run over all the cases: its folders, CLI result and summary, and the lake's rows."""

    inbox: Path
    arguments: Path
    lake: Path
    exit_code: int
    output: str
    summary: RunSummary
    documents: pl.DataFrame
    quarantine: pl.DataFrame
    segments: pl.DataFrame
    growing_final: bytes
    fifo_opened: list[str]

    def path_of(self, case: Case) -> Path:
        return (self.arguments if case.argument else self.inbox) / case.name

    def document(self, case: Case) -> dict[str, Any]:
        rows = self.documents.filter(pl.col("source_path") == str(self.path_of(case).resolve()))
        assert rows.height == 1, f"{case.id}: {rows.height} documents rows"
        return rows.row(0, named=True)


class Grower(threading.Thread):
    """Appends a line every few milliseconds to a file while the run reads it."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            with self.path.open("ab") as handle:
                handle.write(f"سطر أضيف أثناء القراءة {number}\n".encode())
            number += 1
            time.sleep(0.002)


class FifoWatchdog(threading.Thread):
    """Unblocks anyone who opens the FIFOs for reading (so a regression hangs no test), and says so."""

    def __init__(self, fifos: list[Path]) -> None:
        super().__init__(daemon=True)
        self.fifos = fifos
        self.stop = threading.Event()
        self.opened: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for fifo in self.fifos:
                try:
                    descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:  # ENXIO: no reader, as it should be
                    continue
                self.opened.append(str(fifo))
                os.close(descriptor)  # the reader sees end of file


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[MatrixRun]:
    root = tmp_path_factory.mktemp("matrix")
    inbox, arguments, lake = root / "inbox", root / "arguments", root / "lake"
    inbox.mkdir()
    arguments.mkdir()
    (inbox / "good.txt").write_text("\n".join(GOOD_LINES) + "\n", encoding="utf-8")
    for case in _cases():
        case.write((arguments if case.argument else inbox) / case.name)
    (inbox / "nested").mkdir()
    (inbox / "nested" / "loop").symlink_to(inbox, target_is_directory=True)  # a symlink loop
    growing = inbox / "growing.txt"
    growing.write_bytes("".join(f"سطر أول {i}\n" for i in range(2000)).encode())
    summaries: list[RunSummary] = []
    original = cli._print_summary

    def spy(summary: RunSummary) -> None:
        summaries.append(summary)
        original(summary)

    grower = Grower(growing)
    watchdog = FifoWatchdog([p for p in inbox.iterdir() if stat.S_ISFIFO(p.lstat().st_mode)])
    grower.start()
    watchdog.start()
    argv = ["run", str(inbox), *(str(arguments / c.name) for c in _cases() if c.argument), "--lake", str(lake)]
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cli, "_print_summary", spy)
            result = CliRunner().invoke(cli.app, argv)
    finally:
        grower.stop.set()
        watchdog.stop.set()
        grower.join()
        watchdog.join()
    assert summaries, result.output
    yield MatrixRun(
        inbox=inbox,
        arguments=arguments,
        lake=lake,
        exit_code=result.exit_code,
        output=result.output,
        summary=summaries[0],
        documents=scan_dataset(lake, DOCUMENTS).collect(),
        quarantine=scan_dataset(lake, QUARANTINE).collect(),
        segments=scan_dataset(lake, SEGMENTS).select("doc_id", "line_no", "text").collect(),
        growing_final=growing.read_bytes(),
        fifo_opened=watchdog.opened,
    )


# --- the run as a whole -----------------------------------------------------------------------------


def test_the_run_finishes_and_ingests_the_good_file(matrix_run: MatrixRun) -> None:
    good = matrix_run.documents.filter(pl.col("source_path") == str((matrix_run.inbox / "good.txt").resolve()))
    assert good.select("status", "segment_lines").rows() == [("ingested", len(GOOD_LINES))], matrix_run.output
    assert matrix_run.summary.failures == []  # nothing crashed a task: bad input is quarantined, not fatal
    # Some files and lines are quarantined and some arguments are missing: README exit code 1.
    assert matrix_run.exit_code == cli.EXIT_WARNINGS == matrix_run.summary.exit_code, matrix_run.output


def test_every_document_adds_up_and_matches_what_was_written(matrix_run: MatrixRun) -> None:
    documents = matrix_run.documents
    assert documents.filter(
        pl.col("total_lines") != pl.col("blank_lines") + pl.col("segment_lines") + pl.col("quarantined_lines")
    ).is_empty()
    written = matrix_run.segments.group_by("doc_id").len("rows")
    joined = documents.join(written, on="doc_id", how="left").with_columns(pl.col("rows").fill_null(0))
    assert joined.filter(pl.col("rows") != pl.col("segment_lines")).is_empty()
    line_rows = matrix_run.quarantine.filter(pl.col("line_no").is_not_null()).group_by("doc_id").len("rows")
    joined = documents.join(line_rows, on="doc_id", how="left").with_columns(pl.col("rows").fill_null(0))
    assert joined.filter(pl.col("rows") != pl.col("quarantined_lines")).is_empty()


def test_the_symlink_loop_is_not_followed(matrix_run: MatrixRun) -> None:
    sources = matrix_run.documents.get_column("source_path").to_list()
    assert not [s for s in sources if "/loop/" in s]
    assert len(sources) == len(set(sources))
    assert matrix_run.documents.get_column("doc_id").n_unique() == matrix_run.documents.height


def test_a_file_growing_while_read_is_ingested_as_it_was_when_hashed(matrix_run: MatrixRun) -> None:
    growing = matrix_run.inbox / "growing.txt"
    row = matrix_run.documents.filter(pl.col("source_path") == str(growing.resolve())).row(0, named=True)
    hashed = matrix_run.growing_final[: row["size_bytes"]]
    assert len(matrix_run.growing_final) > row["size_bytes"]  # it did grow after it was hashed
    assert row["doc_id"] == hashlib.sha256(hashed).hexdigest()
    lines = hashed.split(b"\n")
    expected = len(lines) - 1 if lines[-1] == b"" else len(lines)
    assert row["total_lines"] == expected
    assert row["total_lines"] == row["blank_lines"] + row["segment_lines"] + row["quarantined_lines"]


def test_nothing_opened_a_fifo(matrix_run: MatrixRun) -> None:
    assert matrix_run.fifo_opened == []


# --- case by case -------------------------------------------------------------------------------------


def _case_summary(run: MatrixRun, case: Case) -> RunSummary:
    """The run's summary restricted to this case and the good file: what a run of just those reports."""
    kept = {str((run.inbox / "good.txt").resolve()), str(run.path_of(case).resolve()), str(run.path_of(case))}
    return dataclasses.replace(
        run.summary,
        documents=[d for d in run.summary.documents if d.source_path in kept],
        failures=[f for f in run.summary.failures if f.source_path in kept],
        input_problems=[p for p in run.summary.input_problems if str(run.path_of(case)) in p],
        already_ingested=[],
    )


@pytest.mark.parametrize("case", PARAMS)
def test_every_line_is_accounted_for(matrix_run: MatrixRun, case: Case) -> None:
    if case.lines is None:
        sources = matrix_run.documents.get_column("source_path").to_list()
        assert str(matrix_run.path_of(case).resolve()) not in sources
        return
    document = matrix_run.document(case)
    assert document["total_lines"] == case.lines
    assert document["total_lines"] == (
        document["blank_lines"] + document["segment_lines"] + document["quarantined_lines"]
    )
    assert document["status"] == case.status
    assert document["blank_lines"] == case.blank
    line_quarantine = {k: v for k, v in case.quarantined.items() if k is not None}
    assert document["quarantined_lines"] == len(line_quarantine)
    assert document["segment_lines"] == case.lines - case.blank - len(line_quarantine)
    if case.encoding is not None:
        assert document["encoding"] == case.encoding


@pytest.mark.parametrize("case", PARAMS)
def test_quarantine_has_a_specific_reason_and_the_raw_bytes(matrix_run: MatrixRun, case: Case) -> None:
    if case.lines is None:
        return
    doc_id = matrix_run.document(case)["doc_id"]
    rows = matrix_run.quarantine.filter(pl.col("doc_id") == doc_id).sort("line_no", nulls_last=False)
    assert dict(zip(rows.get_column("line_no").to_list(), rows.get_column("reason").to_list(), strict=True)) == (
        case.quarantined
    )
    assert rows.filter(pl.col("detail").str.len_chars() == 0).is_empty()
    payload = matrix_run.path_of(case).read_bytes()
    for line_no, raw in rows.select("line_no", "raw").rows():
        if line_no is None:
            assert raw == payload  # a whole file is kept byte for byte
        else:
            assert raw == re.split(rb"\r\n|\r|\n", payload)[line_no - 1]  # the line's own bytes


@pytest.mark.parametrize("case", PARAMS)
def test_display_text_of_the_lines(matrix_run: MatrixRun, case: Case) -> None:
    if not case.texts:
        return
    doc_id = matrix_run.document(case)["doc_id"]
    segments = matrix_run.segments.filter(pl.col("doc_id") == doc_id)
    found = dict(segments.filter(pl.col("line_no").is_in(list(case.texts))).select("line_no", "text").rows())
    expected = {n: unicodedata.normalize("NFKC", t) for n, t in case.texts.items()}
    assert found == expected


@pytest.mark.parametrize("case", PARAMS)
def test_exit_code_of_the_case_next_to_a_good_file(matrix_run: MatrixRun, case: Case) -> None:
    assert _case_summary(matrix_run, case).exit_code == case.exit_code


@pytest.mark.parametrize("case", PARAMS)
def test_the_user_is_told_which_file_and_line(matrix_run: MatrixRun, case: Case) -> None:
    path = matrix_run.path_of(case)
    named = [line for line in matrix_run.output.splitlines() if str(path) in line or str(path.resolve()) in line]
    if not case.told:
        assert not [line for line in named if "ERROR" in line or "quarantined" in line or "error:" in line]
        return
    assert [line for line in named if all(word in line for word in case.told)], named


def test_a_fifo_argument_is_reported_not_opened(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: it must be refused, not fingerprinted."""
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    selection = resolve_inputs([str(fifo)])
    assert selection.files == []
    assert [p.path for p in selection.problems] == [str(fifo)]


def test_long_line_detail_says_how_long(matrix_run: MatrixRun) -> None:
    long_case = next(c for c in _cases() if c.id == "20mb-single-line")
    doc_id = matrix_run.document(long_case)["doc_id"]
    detail = matrix_run.quarantine.filter(pl.col("doc_id") == doc_id).get_column("detail").item()
    assert detail == f"line of {len(LONG_LINE)} bytes exceeds the {MAX_LINE_BYTES} byte limit"


def test_first_language_detections_in_parallel_threads_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from langdetect import detector_factory

    loaded = detector_factory._factory
    original = detector_factory.DetectorFactory.load_profile

    def slow_load(self: object, directory: str) -> None:
        time.sleep(0.5)  # widen the window the first thread leaves open, to make the race certain
        original(self, directory)

    monkeypatch.setattr(detector_factory.DetectorFactory, "load_profile", slow_load)
    monkeypatch.setattr(detector_factory, "_factory", None)
    results: dict[str, tuple[str | None, float | None]] = {}

    def detect(name: str) -> None:
        results[name] = detect_language(GOOD_LINES[0])

    first = threading.Thread(target=detect, args=("first",))
    second = threading.Thread(target=detect, args=("second",))
    try:
        first.start()
        time.sleep(0.1)
        second.start()
        first.join()
        second.join()
    finally:
        monkeypatch.setattr(detector_factory, "_factory", loaded or detector_factory._factory)
    assert results["first"][0] == results["second"][0] == "ar"
