"""Properties over arbitrary input: normalization is total and idempotent, decoding keeps every
character of every line, and every line of any byte string is accounted for.

The library functions are called directly (no Prefect), with small decoding chunks so that chunk
boundaries fall everywhere. Hypothesis runs derandomized: the same examples on every run.
"""

from __future__ import annotations

import codecs
import re
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from akhbar.decode import splits_on_byte_line_breaks
from akhbar.normalize import (
    ARABIC_DIACRITICS,
    INVISIBLE_CONTROLS,
    ZWJ_AFTER_NON_EMOJI,
    ZWJ_BEFORE_NON_EMOJI,
    clean_for_display,
    fold_for_display,
    normalize_segments,
    normalize_text,
)
from akhbar.publish import line_accounting
from akhbar.segment import LineKind, QuarantineReason
from akhbar.stages import decode_batch, fingerprint_files, segment_batch
from akhbar.staging import DecodedDocument, read_stage

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

#: Characters that stress the normalizer: letters that compose with marks (alef/waw + hamza, e +
#: acute, Hangul jamo), marks with every relevant combining class, what display cleaning removes
#: (tatweel, bidi and zero-width controls, C0/C1 controls), presentation forms (some expand to a
#: tatweel), ellipses and the Arabic separators that matching turns into dots, case oddities.
NORMALIZER_FOCUS = [
    "\u0627", "\u0648", "\u064a", "\u0649", "e", "A", "\u0130", "\u1e9e", "\u03a3", "\u2126",
    "\u0654", "\u0655", "\u0653", "\u064e", "\u0651", "\u0610", "\u06d6", "\u0670", "\u0301", "\u0308", "\u0316",
    "\u1100", "\u1161", "\u11a8", "\u0b47", "\u0b3e",
    "\u0640", "\u200b", "\u200d", "\u200f", "\u202b", "\u2066", "\ufeff", "\u00ad", "\u061c", "\x00", "\x1c", "\x85",
    "\ufe77", "\ufcf2", "\ufe71", "\ufe8d", "\ufefb", "\ufdfa", "\ufdf2",
    " ", "\t", "\n", "\u00a0", "\u2028", "\u3000", ".", "\u2026", "\u066b", "\u066c", "\u066a", "\u0660", "\u06f5",
    "\U0001f468", "\U0001f525", "\u2764", "\ufe0f", "\U0001f3fd", "\u2122", "\u203c", "\u200d", "\u200d",
]
ANY_CHARACTER = st.characters(codec="utf-8")  # every code point polars can hold (no lone surrogates)
TEXT = st.one_of(
    st.text(st.sampled_from(NORMALIZER_FOCUS), max_size=12),
    st.text(st.one_of(ANY_CHARACTER, st.sampled_from(NORMALIZER_FOCUS)), max_size=12),
    st.text(ANY_CHARACTER, max_size=24),
)
TEXTS = st.lists(TEXT, min_size=1, max_size=20)

DIACRITIC = re.compile(ARABIC_DIACRITICS)
INVISIBLE = re.compile(INVISIBLE_CONTROLS)


def _apply(expression: Callable[[pl.Expr], pl.Expr], values: list[str]) -> list[str]:
    frame = pl.DataFrame({"t": values}, schema={"t": pl.String})
    return frame.select(expression(pl.col("t"))).get_column("t").to_list()


def _has_no_invisible_noise(values: list[str]) -> bool:
    """No tatweel, bidi/zero-width controls, C0/C1 controls, or zero-width joiners outside emoji."""
    stray_joiner = pl.col("t").str.contains(ZWJ_AFTER_NON_EMOJI) | pl.col("t").str.contains(ZWJ_BEFORE_NON_EMOJI)
    if pl.DataFrame({"t": values}, schema={"t": pl.String}).select(stray_joiner.any()).item():
        return False
    return all(
        "\u0640" not in text
        and not INVISIBLE.search(text)
        and all(unicodedata.category(character) != "Cc" for character in text)
        for text in values
    )


# --- normalization --------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(TEXTS)
def test_display_cleaning_is_total_and_idempotent(values: list[str]) -> None:
    once = _apply(clean_for_display, values)
    assert _apply(clean_for_display, once) == once
    assert _has_no_invisible_noise(once)
    for text in once:
        assert unicodedata.is_normalized("NFKC", text)
        assert text == text.strip()
        assert not text.endswith(("...", "\u2026"))


@PROPERTY_SETTINGS
@given(TEXTS)
def test_matching_form_is_total_idempotent_and_free_of_marks_and_noise(values: list[str]) -> None:
    matching = _apply(normalize_text, values)
    assert _apply(normalize_text, matching) == matching
    # The pipeline normalizes the display text: the same matching form as from the raw line.
    assert _apply(normalize_text, _apply(clean_for_display, values)) == matching
    assert _has_no_invisible_noise(matching)
    assert not any(DIACRITIC.search(text) for text in matching)


@PROPERTY_SETTINGS
@given(TEXTS)
def test_normalize_segments_agrees_with_the_expressions(values: list[str]) -> None:
    frame = normalize_segments(pl.DataFrame({"line_text": values}, schema={"line_text": pl.String}))
    assert frame.get_column("text").to_list() == _apply(clean_for_display, values)
    assert frame.get_column("text_norm").to_list() == _apply(normalize_text, values)
    # Truncated exactly when display cleaning had a trailing ellipsis to remove.
    folded = _apply(fold_for_display, values)
    assert frame.get_column("is_truncated").to_list() == [
        fold != text for fold, text in zip(folded, frame.get_column("text").to_list(), strict=True)
    ]


# --- decoding and segmenting ---------------------------------------------------------------------

LINE_FOCUS = ["\u0627", "\u0644", "\u0630", "\u0647", "\u0628", " ", "\t", "\u200f", "\u0640", "\ufeff", "\ufffd",
              "\x00", "\x85", "\u2028", "\U0001f4f0", "a", "1", "\u2026"]
LINE = st.text(
    st.one_of(ANY_CHARACTER.filter(lambda c: c not in "\r\n"), st.sampled_from(LINE_FOCUS)), max_size=20
)
#: How each encoding is written: Python codec and the BOM the file starts with.
TEXT_ENCODINGS = {
    "utf-8": ("utf-8", b""),
    "utf-8-sig": ("utf-8", codecs.BOM_UTF8),
    "utf-16-le": ("utf-16-le", codecs.BOM_UTF16_LE),
    "utf-16-be": ("utf-16-be", codecs.BOM_UTF16_BE),
}


def _segmented(payload: bytes, chunk_bytes: int) -> tuple[DecodedDocument, pl.DataFrame, pl.DataFrame]:
    """Decode and segment ``payload`` as a file; the decoded document, its lines and quarantine rows."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "input.txt"
        source.write_bytes(payload)
        planned, _ = fingerprint_files([source])
        staged = segment_batch(decode_batch(planned, 1, Path(folder) / "work", chunk_bytes=chunk_bytes))
        lines = read_stage(staged.lines_path)
        (document,) = staged.documents
        quarantine = line_accounting(staged, "run", datetime.now(UTC), {document.doc_id})[1]
    assert isinstance(lines, pl.DataFrame)
    return document, lines, quarantine


def _non_whitespace(lines: list[str]) -> str:
    return "".join(character for line in lines for character in line if not character.isspace())


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(
    lines=st.lists(LINE, max_size=12),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    final_newline=st.booleans(),
    encoding=st.sampled_from(sorted(TEXT_ENCODINGS)),
    chunk_bytes=st.integers(min_value=3, max_value=64),
)
def test_decoding_keeps_every_line_and_character_in_order(
    lines: list[str], newline: str, final_newline: bool, encoding: str, chunk_bytes: int
) -> None:
    text = "".join(line + newline for line in lines) if final_newline else newline.join(lines)
    codec, bom = TEXT_ENCODINGS[encoding]
    # Without a BOM, a leading U+FEFF *is* a UTF-8 BOM; a UTF-16 LE text starting with NUL reads as
    # the UTF-32 LE BOM. Both are outside what a writer can express unambiguously.
    assume(not (encoding == "utf-8" and text.startswith("\ufeff")))
    assume(not (encoding == "utf-16-le" and text.startswith("\x00")))
    payload = bom + text.encode(codec)
    staged, decoded, quarantine = _segmented(payload, chunk_bytes)
    # The lines a reader of the file sees: a final line break does not start another line.
    expected = lines if final_newline or not lines or lines[-1] != "" else lines[:-1]
    if staged.encoding is None:  # e.g. NUL-dense text is refused as binary: kept whole, not lost
        event("refused as binary")
        assert decoded.height == 0
        assert quarantine.select("line_no", "raw").rows() == [(None, payload)]
        return
    event(f"decoded as {staged.encoding}")
    assert decoded.get_column("line_no").to_list() == list(range(1, len(expected) + 1))
    assert decoded.get_column("line_text").to_list() == expected
    assert _non_whitespace(decoded.get_column("line_text").to_list()) == _non_whitespace(expected)
    assert set(decoded.get_column("line_kind").to_list()) <= {LineKind.BLANK.value, LineKind.SEGMENT.value}
    assert quarantine.height == 0


#: Byte fragments of which messy files are made: text, broken sequences, breaks, BOMs, NULs, signatures.
BYTE_FRAGMENTS = [
    "خبر عاجل".encode(), b"news", b" ", b"\n", b"\r", b"\r\n", b"\r\r\n", b"\xff", b"\xc3", b"\xe2\x80",
    b"\xed\xa0\x80", b"\x00", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"\x89PNG\r\n\x1a\n",
    "سطر".encode("utf-16-le"), "سطر".encode("cp1256"), "\u2026".encode(), b"\xd9", b"\x0b\x0c\x1c",
    "خبر عاجل من القاهرة".encode("cp1256"),  # a legacy line beside UTF-8 ones: a mixed file
]
PAYLOAD = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(BYTE_FRAGMENTS), max_size=40).map(b"".join),
    st.lists(st.one_of(st.sampled_from(BYTE_FRAGMENTS), st.binary(max_size=4)), max_size=40).map(b"".join),
)
BYTE_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
TEXT_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _expected_line_count(payload: bytes, encoding: str) -> int:
    """Lines of the file as a reader counts them (a final line break does not start a line)."""
    if splits_on_byte_line_breaks(encoding):
        body = payload.removeprefix(codecs.BOM_UTF8) if encoding == "utf-8-sig" else payload
        pieces: list[bytes] | list[str] = BYTE_LINE_BREAK.split(body)
    else:
        pieces = TEXT_LINE_BREAK.split(payload.decode(encoding, errors="replace"))
    return len(pieces) - 1 if pieces[-1] in (b"", "") else len(pieces)


@PROPERTY_SETTINGS
@given(payload=PAYLOAD, chunk_bytes=st.integers(min_value=2, max_value=48))
def test_every_line_of_any_bytes_is_accounted_for(payload: bytes, chunk_bytes: int) -> None:
    staged, lines, quarantine = _segmented(payload, chunk_bytes)
    kinds = lines.get_column("line_kind").to_list()
    counts = {kind: kinds.count(kind.value) for kind in LineKind}
    # Every line is exactly one of blank, segment or quarantined, numbered without gaps.
    assert sum(counts.values()) == lines.height
    assert lines.get_column("line_no").to_list() == list(range(1, lines.height + 1))
    reasons = {reason.value for reason in QuarantineReason}
    if staged.encoding is None:
        event(f"whole file quarantined: {staged.file_quarantine_reason}")
        assert lines.height == 0
        assert quarantine.select("line_no", "raw").rows() == [(None, payload)]
        assert quarantine.get_column("reason").to_list()[0] in reasons
        return
    event(f"decoded as {staged.encoding}")
    assert lines.height == _expected_line_count(payload, staged.encoding)
    # Quarantined lines carry a known reason, a detail and their bytes; nothing else is quarantined.
    assert quarantine.get_column("line_no").to_list() == lines.filter(
        pl.col("line_kind") == LineKind.QUARANTINED.value
    ).get_column("line_no").to_list()
    assert quarantine.height == counts[LineKind.QUARANTINED]
    assert set(quarantine.get_column("reason").to_list()) <= reasons
    assert quarantine.filter(pl.col("raw").is_null() | pl.col("detail").is_null()).is_empty()
    if staged.encoding in ("utf-8", "utf-8-sig", "windows-1256", "mixed"):
        # Nothing lost: each line's bytes are its text re-encoded, or its quarantined raw bytes.
        body = payload.removeprefix(codecs.BOM_UTF8) if staged.encoding == "utf-8-sig" else payload
        pieces = BYTE_LINE_BREAK.split(body)
        if pieces[-1] == b"":
            pieces.pop()
        codec = "utf-8" if staged.encoding == "utf-8-sig" else staged.encoding
        # A mixed file's line was read as UTF-8 where valid, else as Windows-1256.
        codecs_of = ("utf-8", "windows-1256") if staged.encoding == "mixed" else (codec,)
        rebuilt = [
            raw if text is None else next((b for b in (text.encode(c) for c in codecs_of) if b == piece), None)
            for (text, raw), piece in zip(lines.select("line_text", "raw").rows(), pieces, strict=False)
        ]
        assert rebuilt == pieces
