"""Chunks and batches are invisible: tiny chunks and one whole-file chunk give identical rows, and so
do many files in one batch and each file alone."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar import stages
from akhbar.language import clear_language_caches
from akhbar.publish import line_accounting
from akhbar.staging import StageAlignmentError, StagedBatch, iter_stage_batches, read_batch, read_stage, transform_stage

#: Small enough that lines straddle chunks (Arabic letters are two bytes, lines 60-400 bytes).
TINY_CHUNK = 257
WHOLE_FILE = 1 << 30

PARAGRAPHS = [
    "استقبل وزير الخارجية في عمّان نظيره المغربي وبحثا سبل تعزيز العلاقات الثنائية في مجال الطاقة المتجددة،"
    " واتفق الجانبان على عقد اجتماع اللجنة المشتركة في الرباط خلال شهر أكتوبر المقبل.",
    "ارتفع سعر غرام الذهب عيار ٢١ في القاهرة صباح اليوم إلى ٣٬٢٤٥ جنيهاً مع صعود الأوقية عالمياً…",
    "فاز فريق النسور على ضيفه الصقور بنتيجة 2-1 في المباراة التي أقيمت الخميس ضمن منافسات الدوري الممتاز.",
    "أغلق المؤشر الرئيسي للبورصة تعاملات الأحد مرتفعاً بنسبة 1.25 بالمئة عند مستوى 18,420 نقطة.",
    "تَوَقَّعَتْ هيئة الأرصاد الجوية طقساً حاراً نهاراً معتدلاً ليلاً على معظم المناطق",
    "الـقـاهـرة - خاص",
    "The foreign minister arrived in Cairo on Monday for talks on regional trade.",
]
#: Line ends and blank lines of every kind, in an order that puts blanks at chunk edges too.
LINE_ENDS = ["\r\n", "\n", "\r", "\r\n\r\n", "\n   \n", "\r\r", "\n"]


def document_text(repeats: int = 4) -> str:
    """A multi-line Arabic feed export with LF, CRLF and CR line ends and blank lines."""
    parts = []
    for index in range(repeats * len(PARAGRAPHS)):
        parts.append(PARAGRAPHS[index % len(PARAGRAPHS)] + f" ({index})")
        parts.append(LINE_ENDS[index % len(LINE_ENDS)])
    return "".join(parts)


def utf8_with_broken_line() -> bytes:
    """UTF-8 with one line that is not valid UTF-8 (a cut multi-byte sequence), and no final line end."""
    text = document_text()
    middle = len(text) // 2
    cut = text.index("\n", middle) + 1
    broken = "خبر مقطوع ".encode() + b"\xd8\r\n" + "سطر سليم بعده".encode() + b"\xff\xfe\n"
    return text[:cut].encode() + broken + text[cut:].encode() + "آخر سطر بلا نهاية".encode()


def concatenated_export() -> bytes:
    """A UTF-8 export followed by a Windows-1256 one, and a line that is neither."""
    text = document_text()
    return (
        text.encode("utf-8") + b"\n"
        + text.replace("ّ", "").encode("cp1256", errors="replace") + b"\nascii \xff\xfe broken\n"
    )  # fmt: skip


PAYLOADS: dict[str, Callable[[], bytes]] = {
    "mixed": concatenated_export,
    "utf-8-broken-line": utf8_with_broken_line,
    "utf-8-bom": lambda: codecs.BOM_UTF8 + document_text().encode("utf-8"),
    "utf-16": lambda: document_text().encode("utf-16"),
    "windows-1256": lambda: document_text().replace("ّ", "").encode("cp1256", errors="replace"),
}


def _decoded(sources: list[Path], work_root: Path, chunk_bytes: int) -> StagedBatch:
    """One batch of ``sources`` decoded with ``chunk_bytes``."""
    planned, failures = stages.fingerprint_files(sources)
    assert failures == []
    return stages.decode_batch(planned, 1, work_root, chunk_bytes=chunk_bytes)


def run_stages(
    sources: Path | list[Path], work_root: Path, chunk_bytes: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Decode with ``chunk_bytes``, run every stage; return the lines, the final segments and the quarantine."""
    clear_language_caches()  # each run detects from scratch, as a fresh process would
    batch = _decoded(sources if isinstance(sources, list) else [sources], work_root, chunk_bytes)
    batch = stages.run_stages(batch, stages.StageOptions())
    lines = read_stage(batch.lines_path)
    segments = read_batch(batch)
    doc_ids = {document.doc_id for document in batch.documents}
    quarantine = line_accounting(batch, "run-1", datetime(2025, 1, 1, tzinfo=UTC), doc_ids)[1]
    return lines, segments, quarantine


@pytest.mark.parametrize("encoding", list(PAYLOADS))
def test_tiny_chunks_and_whole_file_give_identical_datasets(encoding: str, tmp_path: Path) -> None:
    source = tmp_path / f"feed-{encoding}.txt"
    source.write_bytes(PAYLOADS[encoding]())
    tiny_lines, tiny_segments, tiny_quarantine = run_stages(source, tmp_path / "tiny", TINY_CHUNK)
    whole_lines, whole_segments, whole_quarantine = run_stages(source, tmp_path / "whole", WHOLE_FILE)
    assert tiny_segments.height > 25
    assert_frame_equal(tiny_lines, whole_lines)
    assert_frame_equal(tiny_segments, whole_segments)
    assert_frame_equal(tiny_quarantine, whole_quarantine)


def test_tiny_chunks_really_split_the_file(tmp_path: Path) -> None:
    source = tmp_path / "feed.txt"
    source.write_bytes(utf8_with_broken_line())
    batch = _decoded([source], tmp_path / "work", TINY_CHUNK)
    assert len(list(iter_stage_batches(Path(batch.stage_path)))) > 12


def test_many_files_in_one_batch_give_each_file_its_own_rows(tmp_path: Path) -> None:
    sources = []
    for encoding, payload in PAYLOADS.items():
        sources.append(tmp_path / f"{encoding}.txt")
        sources[-1].write_bytes(payload())
    _, batched, batched_quarantine = run_stages(sources, tmp_path / "batch", TINY_CHUNK)
    alone = [run_stages(source, tmp_path / source.stem, WHOLE_FILE) for source in sources]
    assert_frame_equal(batched, pl.concat([segments for _, segments, _ in alone]))
    expected_quarantine = pl.concat([quarantine for _, _, quarantine in alone]).sort("doc_id", "line_no")
    assert_frame_equal(batched_quarantine, expected_quarantine)


def test_broken_line_is_quarantined_and_blanks_are_counted(tmp_path: Path) -> None:
    source = tmp_path / "feed.txt"
    source.write_bytes(utf8_with_broken_line())
    lines, segments, quarantine = run_stages(source, tmp_path / "work", TINY_CHUNK)
    kinds = dict(lines.group_by("line_kind").len().iter_rows())
    assert kinds["quarantined"] == 2
    assert quarantine.get_column("reason").to_list() == ["invalid_encoding", "invalid_encoding"]
    assert kinds["blank"] >= 8
    assert segments.height == kinds["segment"]
    assert set(segments.get_column("lang").drop_nulls().to_list()) >= {"ar", "en"}


def _segmented_document(tmp_path: Path) -> StagedBatch:
    """The test feed decoded in tiny chunks, segmented and normalized."""
    source = tmp_path / "feed.txt"
    source.write_text(document_text(), encoding="utf-8")
    batch = _decoded([source], tmp_path / "work", TINY_CHUNK)
    return stages.normalize_batch(stages.segment_batch(batch))


def test_a_column_stage_writes_only_what_it_adds(tmp_path: Path) -> None:
    normalized = _segmented_document(tmp_path)
    marked = transform_stage(
        normalized, "marked", lambda frame: frame.with_columns(pl.col("line_no").mul(10).alias("tenfold"))
    )
    assert marked.stage_path == normalized.stage_path
    assert read_stage(marked.column_paths[-1]).columns == ["tenfold"]
    whole = read_batch(marked)
    expected = read_stage(normalized.stage_path).with_columns(pl.col("line_no").mul(10).alias("tenfold"))
    assert_frame_equal(whole, expected)


def test_a_column_stage_that_reorders_rows_is_refused(tmp_path: Path) -> None:
    normalized = _segmented_document(tmp_path)
    with pytest.raises(StageAlignmentError, match="changed the rows"):
        transform_stage(normalized, "shuffled", lambda frame: frame.reverse().with_columns(pl.lit(1).alias("one")))


def test_a_concatenated_export_is_mixed_and_stored_without_mojibake(tmp_path: Path) -> None:
    source = tmp_path / "feed.txt"
    source.write_bytes(concatenated_export())
    (document,) = _decoded([source], tmp_path / "work", TINY_CHUNK).documents
    assert document.encoding == "mixed"
    _, segments, quarantine = run_stages(source, tmp_path / "stages", TINY_CHUNK)
    texts = segments.get_column("text").to_list()
    assert texts.count(PARAGRAPHS[3] + " (3)") == 2  # once from each half, the same text
    assert not any("ط§" in text for text in texts)  # UTF-8 Arabic read as Windows-1256 ("ا" → "ط§")
    assert quarantine.get_column("reason").to_list() == ["invalid_encoding"]


def test_a_mostly_ascii_file_with_broken_bytes_keeps_its_good_lines(tmp_path: Path) -> None:
    source = tmp_path / "feed.txt"
    good = [f"The minister arrived in Cairo on day {i} for talks." for i in range(30)]
    source.write_bytes(
        b"\n".join([*(g.encode() for g in good[:15]), b"bad \xff\xfe", *(g.encode() for g in good[15:])])
    )
    _, segments, quarantine = run_stages(source, tmp_path / "work", WHOLE_FILE)
    assert segments.get_column("text").to_list() == good
    assert quarantine.select("reason", "line_no").rows() == [("invalid_encoding", 16)]


def test_small_files_decoded_together_give_each_file_its_own_rows(tmp_path: Path) -> None:
    """A scrape archive: one-article files (UTF-8, with a BOM, CRLF, Windows-1256, a broken byte, empty)
    decoded as one frame give every file the rows it gets when streamed alone."""
    article = "\n".join(PARAGRAPHS[:4]) + "\n"
    payloads = {
        "plain": article.encode(),
        "bom": codecs.BOM_UTF8 + article.encode(),
        "crlf": article.replace("\n", "\r\n").encode(),
        "no-final-break": article.rstrip("\n").encode(),
        "legacy": article.encode("cp1256", errors="replace"),
        "broken": article.encode() + b"\xd8 cut\n",
        "blank-lines": ("\n\n" + article + "\n  \n").encode(),
        "empty": b"",
    }
    sources = []
    for name, payload in payloads.items():
        sources.append(tmp_path / f"{name}.txt")
        sources[-1].write_bytes(payload)
    lines, batched, batched_quarantine = run_stages(sources, tmp_path / "batch", stages.DEFAULT_CHUNK_BYTES)
    alone = [run_stages(source, tmp_path / source.stem, TINY_CHUNK) for source in sources]  # streamed
    assert lines.get_column("doc_id").n_unique() == len(payloads) - 1  # every file but the empty one has lines
    by_line = ["doc_id", "line_no"]
    assert_frame_equal(batched.sort(by_line), pl.concat([segments for _, segments, _ in alone]).sort(by_line))
    expected_quarantine = pl.concat([quarantine for _, _, quarantine in alone]).sort(by_line)
    assert_frame_equal(batched_quarantine.sort(by_line), expected_quarantine)
