"""Encoding detection and chunked decoding into numbered lines."""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from akhbar.decode import (
    LEGACY_ENCODING,
    LINES_SCHEMA,
    MIXED,
    decode_chunk,
    decode_utf8_documents,
    detect_encoding,
    detect_encodings,
    fingerprint_file,
    iter_byte_chunks,
    iter_decoded_lines,
    split_lines,
    splits_on_byte_line_breaks,
    utf8_for_batch_decoding,
)

ARABIC_LINES = ["ارتفعت أسعار الذهب في السوق المحلية اليوم", "وقال وزير الخارجية إن المحادثات مثمرة"]
TEXT = "\n".join(ARABIC_LINES) + "\n"


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [
        pytest.param(TEXT.encode("utf-8"), "utf-8", id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig", id="utf-8-bom"),
        pytest.param(TEXT.encode("utf-16"), "utf-16", id="utf-16-native-bom"),
        pytest.param(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16", id="utf-16-le"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16", id="utf-16-be"),
        pytest.param(TEXT.encode("cp1256"), "windows-1256", id="windows-1256"),
        pytest.param(b"plain ascii news line\n", "utf-8", id="ascii"),
        pytest.param(b"", "utf-8", id="empty"),
    ],
)
def test_detect_encoding(payload: bytes, encoding: str) -> None:
    assert detect_encoding(payload).encoding == encoding


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "binary_content", id="png"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 40, "binary_content", id="zip"),
        pytest.param(b"abc\x00\x00\x00\x00def\x00\x00", "binary_content", id="nul-heavy"),
    ],
)
def test_binary_content_is_refused(payload: bytes, reason: str) -> None:
    guess = detect_encoding(payload)
    assert guess.encoding is None
    assert guess.quarantine_reason == reason


def test_utf8_with_one_broken_line_stays_utf8() -> None:
    payload = (TEXT * 20).encode("utf-8") + b"\xff\xfe broken \xc3\n" + TEXT.encode("utf-8")
    assert detect_encoding(payload).encoding == "utf-8"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("a\rb\r", ["a", "b"]),
        ("a\n\nb", ["a", "", "b"]),
        ("a\r\n\r\nb", ["a", "", "b"]),
        ("", []),
        ("\n", [""]),
    ],
)
def test_split_lines_handles_lf_crlf_cr(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines


def test_broken_line_keeps_its_raw_bytes() -> None:
    chunk = "سطر سليم\n".encode() + b"bad \xff\xfe line\n" + "سطر آخر\n".encode()
    lines = decode_chunk(chunk, "utf-8", first_line_no=1)
    assert lines.get_column("line_no").to_list() == [1, 2, 3]
    assert lines.get_column("line_text").to_list() == ["سطر سليم", None, "سطر آخر"]
    assert lines.get_column("raw").to_list() == [None, b"bad \xff\xfe line", None]
    assert lines.get_column("decode_error").is_null().to_list() == [True, False, True]


def _write(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "input.txt"
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "windows-1256"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_chunked_decoding_equals_whole_file_decoding(tmp_path: Path, encoding: str, newline: str) -> None:
    lines = [f"{ARABIC_LINES[i % 2]} رقم {i}" for i in range(200)] + ["", "سطر أخير"]
    path = _write(tmp_path, newline.join(lines).encode("cp1256" if encoding == "windows-1256" else encoding))
    size = fingerprint_file(path).size_bytes
    whole = pl.concat(iter_decoded_lines(path, size, encoding, chunk_bytes=1 << 30))
    chunked = pl.concat(iter_decoded_lines(path, size, encoding, chunk_bytes=97))
    assert whole.get_column("line_text").to_list() == lines
    assert_frame_equal(chunked, whole)


def test_byte_chunks_never_split_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, b"ab\r\ncd\r\nef\r\n")
    chunks = list(iter_byte_chunks(path, 12, chunk_bytes=3))
    assert b"".join(chunks) == b"ab\r\ncd\r\nef\r\n"
    assert all(not c.endswith(b"\r") for c in chunks)


def test_only_fingerprinted_bytes_are_decoded(tmp_path: Path) -> None:
    path = _write(tmp_path, "سطر أول\n".encode())
    size = fingerprint_file(path).size_bytes
    with path.open("ab") as handle:  # the file grows after it was hashed
        handle.write("سطر جاء متأخرا\n".encode())
    decoded = pl.concat(iter_decoded_lines(path, size, "utf-8"))
    assert decoded.get_column("line_text").to_list() == ["سطر أول"]


def test_utf16_broken_line_keeps_its_original_bytes_and_a_real_replacement_character_is_kept(tmp_path: Path) -> None:
    real_fffd = "سطر فيه \ufffd حقيقي"
    broken = "سطر مقطوع".encode("utf-16-le") + b"\x41"  # an odd trailing byte cannot be UTF-16
    payload = codecs.BOM_UTF16_LE + real_fffd.encode("utf-16-le") + "\n".encode("utf-16-le") + broken
    path = _write(tmp_path, payload)
    for chunk_bytes in (5, 1 << 20):
        lines = pl.concat(iter_decoded_lines(path, len(payload), "utf-16", chunk_bytes=chunk_bytes))
        assert lines.get_column("line_text").to_list() == [real_fffd, None]
        assert lines.get_column("raw").to_list() == [None, broken]
        assert lines.get_column("decode_error")[1] == f"invalid utf-16 byte sequence at byte {len(broken) - 1}"


def test_utf16_be_lone_surrogate_is_quarantined_with_its_bytes(tmp_path: Path) -> None:
    bad = "خبر ".encode("utf-16-be") + b"\xd8\x00" + " آخر".encode("utf-16-be")
    payload = codecs.BOM_UTF16_BE + "سليم\r".encode("utf-16-be") + bad
    path = _write(tmp_path, payload)
    lines = pl.concat(iter_decoded_lines(path, len(payload), "utf-16", chunk_bytes=3))
    assert lines.select("line_no", "line_text", "raw").rows() == [(1, "سليم", None), (2, None, bad)]


@pytest.mark.parametrize(
    ("encoding", "by_bytes"),
    [
        ("utf-8", True),
        ("utf-8-sig", True),
        ("windows-1256", True),
        ("cp1252", True),
        ("shift_jis", True),
        ("utf-16", False),
        ("utf-32", False),
        ("cp037", False),
        ("iso2022_jp", False),
        ("utf-7", False),
    ],
)
def test_which_encodings_are_cut_at_byte_line_breaks(encoding: str, by_bytes: bool) -> None:
    assert splits_on_byte_line_breaks(encoding) is by_bytes


def test_legacy_single_byte_broken_line_keeps_its_bytes(tmp_path: Path) -> None:
    bad = b"caf\xe9 \x81 undefined in cp1252"
    payload = "café ok\n".encode("cp1252") + bad + b"\n"
    path = _write(tmp_path, payload)
    lines = pl.concat(iter_decoded_lines(path, len(payload), "cp1252"))
    assert lines.select("line_text", "raw").rows() == [("café ok", None), (None, bad)]


@pytest.mark.parametrize(
    "payload", [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE], ids=["empty", "utf-8-bom", "utf-16-bom"]
)
def test_a_file_without_lines_still_gives_one_empty_frame(tmp_path: Path, payload: bytes) -> None:
    path = _write(tmp_path, payload)
    frames = list(iter_decoded_lines(path, len(payload), detect_encoding(payload).encoding or "utf-8"))
    assert [frame.height for frame in frames] == [0]
    assert frames[0].schema == pl.Schema(LINES_SCHEMA)


NEWS = [f"{ARABIC_LINES[i % 2]} رقم {i}" for i in range(16)]


def _concatenated(utf8_lines: int, legacy_lines: int, newline: str = "\n") -> bytes:
    """A concatenated export: UTF-8 lines, then Windows-1256 lines."""
    head = "".join(line + newline for line in NEWS[:utf8_lines]).encode("utf-8")
    return head + "".join(line + newline for line in NEWS[utf8_lines : utf8_lines + legacy_lines]).encode("cp1256")


@pytest.mark.parametrize(("utf8_lines", "legacy_lines"), [(8, 8), (10, 5), (1, 15), (15, 1)])
def test_utf8_and_windows_1256_lines_in_one_file_are_mixed(tmp_path: Path, utf8_lines: int, legacy_lines: int) -> None:
    payload = _concatenated(utf8_lines, legacy_lines)
    assert detect_encoding(payload).encoding == MIXED
    path = _write(tmp_path, payload)
    lines = pl.concat(iter_decoded_lines(path, len(payload), MIXED))
    assert lines.get_column("line_text").to_list() == NEWS[: utf8_lines + legacy_lines]  # no mojibake
    assert lines.get_column("raw").null_count() == lines.height


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_mixed_decoding_in_chunks_equals_whole_file_decoding(tmp_path: Path, newline: str) -> None:
    payload = (_concatenated(8, 8, newline) + b"ascii \xff\xfe broken" + newline.encode()) * 5 + b"last \xd8"
    path = _write(tmp_path, payload)
    whole = pl.concat(iter_decoded_lines(path, len(payload), MIXED, chunk_bytes=1 << 30))
    chunked = pl.concat(iter_decoded_lines(path, len(payload), MIXED, chunk_bytes=61))
    assert_frame_equal(chunked, whole)
    assert whole.height == 5 * 17 + 1


def test_mixed_lines_round_trip_and_the_rest_is_quarantined_with_its_bytes() -> None:
    cut_utf8 = "ههههه يييي".encode() + b"\xd8"  # UTF-8 with a cut character: its Windows-1256 reading is mojibake
    stray = b"plain \xff\xfe bytes"  # reads as one Arabic letter in Windows-1256: not text either
    raws = [NEWS[0].encode(), NEWS[1].encode("cp1256"), cut_utf8, stray, b"", NEWS[2].encode("cp1256")]
    lines = decode_chunk(b"\n".join(raws) + b"\n", MIXED, first_line_no=1)
    assert lines.get_column("line_text").to_list() == [NEWS[0], NEWS[1], None, None, "", NEWS[2]]
    assert lines.get_column("raw").to_list() == [None, None, cut_utf8, stray, None, None]
    assert lines.get_column("decode_error").to_list()[2:4] == [
        "invalid utf-8 byte sequence at byte 19, and not windows-1256 text",
        "invalid utf-8 byte sequence at byte 6, and not windows-1256 text",
    ]
    # Every stored text gives its original bytes back in the encoding it was read in.
    for raw, text in zip(raws, lines.get_column("line_text").to_list(), strict=True):
        if text is not None:
            assert raw in (text.encode("utf-8"), text.encode("cp1256"))


def test_a_mostly_ascii_file_with_a_few_broken_bytes_stays_utf8_line_by_line() -> None:
    good = [f"plain ascii news line {i}".encode() for i in range(30)]
    payload = b"\n".join([*good[:10], b"bad \xff\xfe here", *good[10:20], b"another \x80 one", *good[20:]]) + b"\n"
    assert detect_encoding(payload).encoding == "utf-8"
    lines = decode_chunk(payload, "utf-8", first_line_no=1)
    assert lines.filter(pl.col("raw").is_not_null()).get_column("line_no").to_list() == [11, 22]
    assert lines.get_column("line_text").drop_nulls().to_list() == [g.decode() for g in good]


def test_utf8_with_a_cut_arabic_character_is_not_mixed() -> None:
    payload = (TEXT * 3).encode() + "ههههه يييي".encode() + b"\xd8\n" + (TEXT * 3).encode()
    assert detect_encoding(payload).encoding == "utf-8"


def test_a_sample_cut_inside_a_line_is_judged_on_its_complete_lines() -> None:
    payload = _concatenated(4, 4) + NEWS[9].encode("utf-8")[:-1]  # the sample ends inside a character
    assert detect_encoding(payload).encoding == MIXED


def test_utf8_lines_after_the_sample_of_a_windows_1256_file_are_quarantined_not_mojibake(tmp_path: Path) -> None:
    legacy = "".join(line + "\n" for line in NEWS[:8]).encode("cp1256")
    late_utf8 = NEWS[8].encode("utf-8")
    payload = legacy + late_utf8 + b"\n" + NEWS[9].encode("cp1256") + b"\n"
    assert detect_encoding(legacy).encoding == "windows-1256"  # the sample held only the first export
    path = _write(tmp_path, payload)
    for chunk_bytes in (1 << 30, 50):
        lines = pl.concat(iter_decoded_lines(path, len(payload), "windows-1256", chunk_bytes=chunk_bytes))
        assert lines.get_column("line_text").to_list() == [*NEWS[:8], None, NEWS[9]]
        assert lines.get_column("raw").to_list()[8] == late_utf8
        assert "valid UTF-8" in lines.get_column("decode_error").to_list()[8]


def test_a_legacy_last_line_without_a_line_break_still_counts() -> None:
    payload = "".join(line + "\n" for line in NEWS[:8]).encode() + NEWS[8].encode("cp1256")
    assert detect_encoding(payload).encoding == MIXED


LEGACY_WORDS = ["خبر", "عاجل", "من", "القاهرة", "وزير", "الخارجية", "الذهب", "2025", "news", "،"]
MIXED_LINE = st.one_of(
    st.tuples(st.just("utf-8"), st.lists(st.sampled_from(LEGACY_WORDS), min_size=1, max_size=8).map(" ".join)),
    st.tuples(st.just("cp1256"), st.lists(st.sampled_from(LEGACY_WORDS), min_size=3, max_size=8).map(" ".join)),
    st.tuples(st.just("bytes"), st.binary(max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b)),
)


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(lines=st.lists(MIXED_LINE, min_size=1, max_size=20), chunk_bytes=st.integers(min_value=8, max_value=200))
def test_mixed_decoding_never_stores_text_that_does_not_round_trip(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[str, str | bytes]], chunk_bytes: int
) -> None:
    raws = [value if isinstance(value, bytes) else value.encode(kind) for kind, value in lines]
    payload = b"\n".join(raws) + b"\n"
    path = _write(tmp_path_factory.mktemp("mixed"), payload)
    decoded = pl.concat(iter_decoded_lines(path, len(payload), MIXED, chunk_bytes=chunk_bytes))
    assert_frame_equal(decoded, pl.concat(iter_decoded_lines(path, len(payload), MIXED, chunk_bytes=1 << 30)))
    assert decoded.height == len(raws)
    for (kind, value), raw, (text, kept) in zip(lines, raws, decoded.select("line_text", "raw").rows(), strict=True):
        if text is None:
            assert kept == raw
        else:
            assert raw in (text.encode("utf-8"), text.encode("cp1256"))
        if kind == "utf-8" or (kind == "bytes" and isinstance(value, bytes) and _is_utf8(value)):
            assert text == raw.decode("utf-8")  # a valid UTF-8 line is always read as UTF-8
        if kind == "cp1256" and not _is_utf8(raw) and sum("\u0621" <= c <= "\u064a" for c in str(value)) >= 3:
            assert text == value  # an Arabic Windows-1256 line is read as such


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: Pieces of small UTF-8 files: Arabic and ASCII words, every kind of line end, blank lines, broken bytes.
FILE_PIECE = st.sampled_from(["خبر", "عاجل", " ", "news", "\n", "\r\n", "\r", "\n\n", "\ufffd"]).map(
    str.encode
) | st.just(b"\xd8")


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(files=st.lists(st.lists(FILE_PIECE, max_size=12).map(b"".join), max_size=8))
def test_small_files_decoded_together_equal_each_file_decoded_alone(files: list[bytes]) -> None:
    doc_ids = [f"doc-{index}" for index in range(len(files))]
    together = decode_utf8_documents(doc_ids, files)
    alone = [
        decode_chunk(content, "utf-8", 1).with_columns(pl.lit(doc_id).alias("doc_id"))
        for doc_id, content in zip(doc_ids, files, strict=True)
    ]
    expected = pl.concat([pl.DataFrame(schema={**LINES_SCHEMA, "doc_id": pl.String}), *alone], how="vertical")
    # Broken files are decoded after the others: each file's rows are its own, in line order.
    assert_frame_equal(together.sort("doc_id", "line_no"), expected.sort("doc_id", "line_no"))


#: Pieces of small files of any kind: UTF-8 and Windows-1256 Arabic, ASCII, line ends, broken and NUL bytes.
SAMPLE_PIECE = st.one_of(
    st.sampled_from(LEGACY_WORDS).map(lambda word: word.encode("utf-8")),
    st.sampled_from(LEGACY_WORDS).map(lambda word: word.encode("cp1256")),
    st.sampled_from([b" ", b"\n", b"\r\n", b"\r", b"\xd8", b"\x00", codecs.BOM_UTF8, "\ufffd".encode()]),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(samples=st.lists(st.lists(SAMPLE_PIECE, max_size=30).map(b"".join), max_size=8))
def test_encodings_detected_together_equal_each_detected_alone(samples: list[bytes]) -> None:
    # Together, the samples' lines are classified in one frame: no line may count for a neighbour.
    assert detect_encodings(samples) == [detect_encoding(sample) for sample in samples]


def test_a_batch_of_samples_gets_each_its_own_encoding() -> None:
    legacy = TEXT.encode("cp1256")
    mixed = TEXT.encode("utf-8") + legacy
    samples = [legacy, TEXT.encode("utf-8"), mixed, b"", legacy + b"no final line break"]
    assert [guess.encoding for guess in detect_encodings(samples)] == [
        "windows-1256",
        "utf-8",
        MIXED,
        "utf-8",
        "windows-1256",
    ]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(content=st.lists(SAMPLE_PIECE, max_size=30).map(b"".join))
def test_a_small_windows_1256_file_decoded_with_the_batch_equals_it_decoded_alone(content: bytes) -> None:
    # Its text goes through the batch's UTF-8 path; lines and quarantine must not change.
    guess = detect_encoding(content)
    utf8 = utf8_for_batch_decoding(content, guess.encoding)
    if guess.encoding != LEGACY_ENCODING or utf8 is None:
        return
    together = decode_utf8_documents(["doc"], [utf8]).drop("doc_id")
    assert_frame_equal(together, decode_chunk(content, LEGACY_ENCODING, 1), check_dtypes=True)


def test_a_windows_1256_file_ending_in_a_utf8_line_is_decoded_alone() -> None:
    content = TEXT.encode("cp1256") + ARABIC_LINES[0].encode("utf-8")
    assert detect_encoding(content).encoding == LEGACY_ENCODING
    assert utf8_for_batch_decoding(content, LEGACY_ENCODING) is None
    assert detect_encoding(content + b"\n").encoding == MIXED  # a complete UTF-8 line: detection sees it
    assert utf8_for_batch_decoding(TEXT.encode("cp1256"), LEGACY_ENCODING) is not None
