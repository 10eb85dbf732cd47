"""Decoding raw input files into numbered lines, in bounded chunks.

Files are read twice: once to hash them (the ``doc_id`` must be known before the first row is
written) and once to decode, in chunks of about ``chunk_bytes`` cut at line ends, so a large file is
never held in memory whole. Only the bytes counted by the hash are decoded, so a file that grows
while it is read is ingested as it was when hashed.

Encoding detection, in order: a BOM (UTF-8, UTF-16 LE/BE); binary signatures and NUL density;
strict UTF-8; then line by line (``classify_utf8_lines``): UTF-8 lines beside Windows-1256 lines (a
concatenated export) are ``mixed``; only Windows-1256 lines are ``windows-1256``, the common legacy
Arabic encoding; UTF-8 with a few broken lines stays ``utf-8`` (those lines are quarantined, not the
file); charset-normalizer guesses anything else.

``mixed`` (``MIXED``) is decided per line: a line that is valid UTF-8 is read as UTF-8, any other
line as Windows-1256 when it reads as Arabic text there (``LEGACY_ENCODING``, see
``looks_like_legacy``), else it is quarantined with its bytes. The document records ``mixed``.
Detection sees only the first MiB: in a file detected as ``utf-8``, later Windows-1256 lines are
quarantined (invalid UTF-8); in one detected as ``windows-1256``, later UTF-8 Arabic lines are
quarantined too (``_set_aside_utf8_lines``) rather than stored as mojibake. Stored text always
encodes back to the line's bytes in the encoding it was read in.

A line that does not decode is quarantined with its original bytes, whatever the encoding: UTF-8
and the other ASCII-compatible encodings are cut into lines as bytes; UTF-16 is decoded
incrementally with undecodable bytes escaped, so they can be put back.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from charset_normalizer import from_bytes

from akhbar.storage import S3Path

#: Bytes examined to detect the encoding: enough for a confident guess, small enough to be instant.
DETECTION_SAMPLE_BYTES = 1 << 20
#: Default decoding chunk: bounds memory per batch while keeping polars batches large.
DEFAULT_CHUNK_BYTES = 8 << 20
#: Longest line kept as a segment; anything longer is not a news paragraph and is quarantined.
MAX_LINE_BYTES = 1 << 20

#: File signatures of common binary formats found in scraped folders (images, archives, PDFs, ...).
BINARY_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"%PDF-",
    b"\x1f\x8b",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"\x7fELF",
    b"SQLite format 3\x00",
)
#: Share of NUL bytes above which content without a UTF-16 BOM is treated as binary.
MAX_NUL_SHARE = 0.01
#: Share of broken sequences among non-ASCII UTF-8 sequences still read as "UTF-8 with bad lines".
#: Legacy Arabic text read as UTF-8 breaks almost every non-ASCII sequence (share near 1).
MAX_INVALID_UTF8_SHARE = 0.25
#: Share of Arabic letters among non-ASCII characters that makes a Windows-1256 reading plausible.
MIN_ARABIC_SHARE = 0.7

#: Document encoding of a file whose lines are UTF-8 or Windows-1256, decided line by line.
MIXED = "mixed"
#: The legacy encoding a ``mixed`` file's non-UTF-8 lines are read in.
LEGACY_ENCODING = "windows-1256"
#: A line is legacy text only if at least this share of its non-ASCII characters read as UTF-8 are broken
#: sequences: Windows-1256 Arabic breaks nearly every one, a UTF-8 line with a cut character one or two.
MIN_LEGACY_INVALID_SHARE = 0.5
#: ... and its Windows-1256 reading has at least this many Arabic letters (a stray 0xFF is not a word).
MIN_LEGACY_ARABIC_LETTERS = 3
#: Share of non-blank lines that may be broken UTF-8 (and not legacy text) for a file to stay UTF-8,
#: its broken lines quarantined: a mostly-ASCII file with a few bad bytes is not in another encoding.
MAX_BROKEN_LINE_SHARE = 0.1

#: ASCII-compatible codecs that still cannot be cut at byte-level line breaks (shift sequences).
STATEFUL_ENCODINGS = frozenset({"utf-7", "hz"})
#: Name of the decoding error handler that escapes undecodable bytes (see ``_escape_undecodable``).
ESCAPE_ERRORS = "akhbar-escape"
#: Runs of bytes escaped by ``ESCAPE_ERRORS`` (lone surrogates never come out of a valid decode).
ESCAPED_BYTES = re.compile("([\udc00-\udcff]+)")

LINE_BREAK = re.compile(r"\r\n|\r|\n")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
NON_ASCII = re.compile(r"[^\x00-\x7f]")
REPLACEMENT = "\ufffd"

LINES_SCHEMA = {
    "line_no": pl.Int64,
    "line_text": pl.String,
    "raw": pl.Binary,
    "decode_error": pl.String,
}

#: A local file or an object (akhbar.inputs.InputPath).
InputPath = Path | S3Path


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: each undecodable byte becomes the lone surrogate U+DC00 + byte."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(0xDC00 + byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(ESCAPE_ERRORS, _escape_undecodable)


@dataclass(frozen=True)
class FileFingerprint:
    """Identity of a file's content: sha256 of its bytes and how many bytes were hashed."""

    doc_id: str
    size_bytes: int


@dataclass(frozen=True)
class EncodingGuess:
    """The outcome of detection: an encoding, or a reason to quarantine the whole file."""

    encoding: str | None
    quarantine_reason: str | None = None
    detail: str = ""


def fingerprint_file(path: InputPath, block_bytes: int = 1 << 20) -> FileFingerprint:
    """Hash a file's bytes with sha256, streaming."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(block_bytes):
            digest.update(block)
            size += len(block)
    return FileFingerprint(doc_id=digest.hexdigest(), size_bytes=size)


def read_sample(path: InputPath, size_bytes: int, sample_bytes: int = DETECTION_SAMPLE_BYTES) -> bytes:
    """The first ``sample_bytes`` of the file (never past the fingerprinted size)."""
    with path.open("rb") as handle:
        return handle.read(min(sample_bytes, size_bytes))


def detect_encoding(sample: bytes) -> EncodingGuess:
    """Guess the encoding of a file from its first bytes (see the module docstring for the order)."""
    return detect_encodings([sample])[0]


def detect_encodings(samples: Sequence[bytes]) -> list[EncodingGuess]:
    """:func:`detect_encoding` of many samples (a batch's small files), the same guess for each.

    The line-by-line step runs once over the lines of all samples that need it: for a one-article
    file a polars query's fixed cost, paid a dozen times per file, was most of the detection time.
    """
    guesses = [_guess_before_lines(sample) for sample in samples]
    pending = [index for index, guess in enumerate(guesses) if guess is None]
    if pending:
        counts = _line_counts([samples[index] for index in pending])
        for index, row in zip(pending, counts.iter_rows(named=True), strict=True):
            guesses[index] = _guess_from_lines(samples[index], LineCounts(**row))
    return [guess for guess in guesses if guess is not None]


@dataclass(frozen=True)
class LineCounts:
    """What detection needs to know about a sample's lines (``classify_utf8_lines``)."""

    legacy: int
    utf8_non_ascii: int
    broken: int
    non_blank: int


def _guess_before_lines(sample: bytes) -> EncodingGuess | None:
    """The guess from the sample as a whole (BOM, binary, strict UTF-8); ``None``: look at its lines."""
    if sample.startswith(codecs.BOM_UTF8):
        return EncodingGuess("utf-8-sig")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not sample.startswith(codecs.BOM_UTF32_LE):
        return EncodingGuess("utf-16")
    if not sample:
        return EncodingGuess("utf-8")
    for signature in BINARY_SIGNATURES:
        if sample.startswith(signature):
            return EncodingGuess(None, "binary_content", f"starts with the signature {signature[:8]!r}")
    nul_share = sample.count(0) / len(sample)
    if nul_share > MAX_NUL_SHARE:
        return EncodingGuess(None, "binary_content", f"{nul_share:.0%} of the first bytes are NUL")
    if _valid_utf8(sample):
        return EncodingGuess("utf-8")
    return None


def _line_counts(samples: Sequence[bytes]) -> pl.DataFrame:
    """Per sample (in order), its ``LineCounts`` fields, from one ``classify_utf8_lines`` over all of them."""
    # Each sample's lines, each ended by LF: joined, the lines are the samples' lines one after the other.
    chunks = [normalize_line_breaks(_complete_lines(sample)) for sample in samples]
    chunks = [chunk if chunk.endswith(b"\n") else chunk + b"\n" for chunk in chunks]
    line_counts = pl.Series([chunk.count(b"\n") for chunk in chunks], dtype=pl.Int64)
    lines = classify_utf8_lines(b"".join(chunks)).with_columns(
        pl.int_range(line_counts.len(), dtype=pl.Int64).repeat_by(line_counts).explode().alias("sample")
    )
    non_ascii = pl.col("text").str.len_bytes() > pl.col("text").str.len_chars()
    return (
        lines.group_by("sample")
        .agg(
            pl.col("legacy").sum().alias("legacy"),
            (pl.col("valid") & non_ascii).sum().alias("utf8_non_ascii"),
            (~pl.col("valid")).sum().alias("broken"),
            (pl.col("raw").bin.size() > 0).sum().alias("non_blank"),
        )
        .sort("sample")
        .drop("sample")
    )


def _guess_from_lines(sample: bytes, lines: LineCounts) -> EncodingGuess:
    """The guess for a sample that is not strict UTF-8, from its lines' counts."""
    if lines.legacy:
        if not lines.utf8_non_ascii and _arabic_share(sample.decode(LEGACY_ENCODING)) >= MIN_ARABIC_SHARE:
            return EncodingGuess(LEGACY_ENCODING)
        return EncodingGuess(MIXED)
    if lines.broken / max(lines.non_blank, 1) <= MAX_BROKEN_LINE_SHARE or (
        _utf8_invalid_share(sample) <= MAX_INVALID_UTF8_SHARE
    ):
        return EncodingGuess("utf-8")
    best = from_bytes(sample).best()
    if best is not None and best.encoding:
        return EncodingGuess(codecs.lookup(best.encoding).name)
    return EncodingGuess(None, "undecodable", "no text encoding fits the content")


def _valid_utf8(sample: bytes) -> bool:
    """True when the sample is UTF-8 (a multi-byte character cut by the sample's end is fine)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _complete_lines(sample: bytes) -> bytes:
    """The sample without a last line that is broken only because the sample's end cut a character."""
    cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
    if cut < 0 or cut == len(sample) - 1:
        return sample
    return sample[: cut + 1] if _valid_utf8(sample[cut + 1 :]) else sample


def normalize_line_breaks(chunk: bytes) -> bytes:
    """CRLF and CR as LF: line content is unchanged, and lines are cut at one byte value."""
    if b"\r" not in chunk:
        return chunk
    return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def split_byte_lines(data: bytes) -> pl.Series:
    """Lines of LF-only ``data`` as a Binary series (a final LF starts no line), cut without a Python loop."""
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    ends = breaks if data.endswith(b"\n") or not data else np.append(breaks, len(data))
    if not len(ends):
        return pl.Series("raw", [], dtype=pl.Binary)
    # Each line and the LF after it are consecutive pieces of one buffer: take every other piece.
    bounds = np.empty(2 * len(ends), dtype=np.int64)
    bounds[0::2] = np.concatenate(([0], breaks[: len(ends) - 1] + 1))
    bounds[1::2] = ends
    pieces = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(bounds) - 1, [None, pa.py_buffer(bounds), pa.py_buffer(data)]
    )
    return pl.Series("raw", pieces.take(pa.array(np.arange(0, len(bounds) - 1, 2))), dtype=pl.Binary)


def classify_utf8_lines(chunk: bytes) -> pl.DataFrame:
    """Per line of ``chunk``: its bytes and text, whether it is valid UTF-8, whether it reads as legacy text.

    Columns: ``raw`` (the line's bytes), ``text`` (its UTF-8 reading, U+FFFD for each broken
    sequence), ``valid``, ``legacy_text`` (the Windows-1256 reading of an invalid line, else null) and
    ``legacy`` (``looks_like_legacy``). The work is text-wide: one decode of the chunk, polars over the
    lines; only lines that hold U+FFFD and its bytes (a real U+FFFD, rare) are checked one by one.
    """
    data = normalize_line_breaks(chunk)
    raw = split_byte_lines(data)
    text = split_lines_column(pl.Series([data.decode("utf-8", "replace")], dtype=pl.String)).alias("text")
    frame = pl.DataFrame([raw, text]).with_columns(
        (~pl.col("text").str.contains(REPLACEMENT, literal=True)).alias("valid")
    )
    real = frame.select(pl.arg_where(~pl.col("valid") & pl.col("raw").bin.contains(REPLACEMENT.encode()))).to_series()
    if real.len():  # U+FFFD written in the file, or produced by a broken sequence? Ask the decoder.
        checked = [_valid_utf8(line) for line in frame.get_column("raw").gather(real).to_list()]
        frame = frame.with_columns(frame.get_column("valid").scatter(real, checked))
    bad = frame.select(pl.arg_where(~pl.col("valid"))).to_series()
    legacy_text = pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias("legacy_text")
    legacy = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias("legacy")
    if bad.len():
        # Windows-1256 maps every byte to one character and LF to LF: decode all bad lines at once.
        joined = b"\n".join(frame.get_column("raw").gather(bad).to_list()).decode(LEGACY_ENCODING)
        bad_lines = frame.select(pl.col("text").gather(bad)).with_columns(
            pl.Series("legacy_text", [joined]).str.split("\n").explode()
        )
        legacy_text = legacy_text.scatter(bad, bad_lines.get_column("legacy_text"))
        legacy = legacy.scatter(bad, bad_lines.select(looks_like_legacy()).to_series())
    return frame.with_columns(legacy_text, legacy)


def looks_like_legacy() -> pl.Expr:
    """Over lines that are not valid UTF-8 (``text`` their UTF-8 reading, ``legacy_text`` their
    Windows-1256 one): True for Windows-1256 text.

    Most of the line's non-ASCII characters must be broken sequences in UTF-8 (a UTF-8 line with a cut
    character has one or two), and its Windows-1256 reading mostly Arabic letters, at least
    ``MIN_LEGACY_ARABIC_LETTERS`` of them. Non-ASCII characters are counted from UTF-8 lengths (bytes
    minus characters), not a regex: that is exact for Arabic letters and errs towards "not legacy".
    """
    text, legacy = pl.col("text"), pl.col("legacy_text")
    replaced = text.str.count_matches(REPLACEMENT, literal=True)  # each takes 3 bytes for 1 character
    other_non_ascii = text.str.len_bytes() - text.str.len_chars() - 2 * replaced
    broken_share = replaced * (1 - MIN_LEGACY_INVALID_SHARE) >= MIN_LEGACY_INVALID_SHARE * other_non_ascii
    arabic = legacy.str.count_matches(ARABIC_LETTER.pattern)
    legacy_non_ascii = legacy.str.len_bytes() - legacy.str.len_chars()
    arabic_enough = (arabic >= MIN_LEGACY_ARABIC_LETTERS) & (arabic >= MIN_ARABIC_SHARE * legacy_non_ascii)
    return (broken_share & arabic_enough).fill_null(False).alias("legacy")


def _utf8_invalid_share(sample: bytes) -> float:
    """Share of undecodable bytes among the non-ASCII characters and bytes of a UTF-8 reading.

    Undecodable bytes are escaped rather than replaced, so a text that really contains U+FFFD (a
    common trace of an earlier bad conversion) is not mistaken for a broken one.
    """
    # The sample may end inside a multi-byte character: drop an incomplete tail before judging.
    decoded = codecs.getincrementaldecoder("utf-8")(errors=ESCAPE_ERRORS).decode(sample, final=False)
    if not ESCAPED_BYTES.search(decoded):  # The common case, and cheap: nothing is broken.
        return 0.0
    broken = sum(len(run) for run in ESCAPED_BYTES.findall(decoded))
    non_ascii = len(NON_ASCII.findall(decoded))
    return broken / non_ascii if non_ascii else 0.0


def _arabic_share(text: str) -> float:
    """Share of Arabic-block characters among the non-ASCII characters of ``text``."""
    non_ascii = len(NON_ASCII.findall(text))
    return len(ARABIC_LETTER.findall(text)) / non_ascii if non_ascii else 0.0


def iter_byte_chunks(path: InputPath, size_bytes: int, chunk_bytes: int) -> Iterator[bytes]:
    """Yield the first ``size_bytes`` of a file in chunks that end at a line break (or EOF)."""
    pending = b""
    remaining = size_bytes
    with path.open("rb") as handle:
        while remaining > 0:
            block = handle.read(min(chunk_bytes, remaining))
            if not block:  # The file shrank after hashing; stop at what is there.
                break
            remaining -= len(block)
            pending += block
            cut = max(pending.rfind(b"\n"), pending.rfind(b"\r"))
            # A chunk ending in CR may be half of a CRLF: keep the CR for the next chunk.
            if cut == len(pending) - 1 and pending.endswith(b"\r") and remaining > 0:
                cut = max(pending.rfind(b"\n", 0, cut), pending.rfind(b"\r", 0, cut))
            if cut >= 0:
                yield pending[: cut + 1]
                pending = pending[cut + 1 :]
    if pending:
        yield pending


def split_lines(text: str) -> list[str]:
    """Split on LF, CRLF or CR; a final line break does not start another line."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


#: Chunks up to this size are split into lines in Python (see decode_chunk).
SMALL_CHUNK_BYTES = 64 * 1024


def decode_chunk(chunk: bytes, encoding: str, first_line_no: int) -> pl.DataFrame:
    """Decode one chunk into numbered lines; undecodable lines keep their raw bytes and an error.

    ``encoding`` may be ``MIXED``: UTF-8 lines as UTF-8, the others as Windows-1256 where they read as
    Arabic text (``looks_like_legacy``).
    """
    utf8 = encoding == MIXED or codecs.lookup(encoding).name == "utf-8"
    try:
        text = _decode_whole(chunk, "utf-8" if utf8 else encoding)
    except (UnicodeDecodeError, pl.exceptions.ComputeError):
        if utf8:
            return _decode_utf8_lines(chunk, first_line_no, legacy=encoding == MIXED)
        return _decode_lines_one_by_one(chunk, encoding, first_line_no)
    if len(chunk) <= SMALL_CHUNK_BYTES:
        # A small file (one article): Python's split costs less than a polars query's fixed cost.
        lines = pl.Series("line_text", split_lines(text.item()), dtype=pl.String)
    else:
        lines = split_lines_column(text)
    frame = pl.DataFrame(
        {
            "line_no": pl.int_range(first_line_no, first_line_no + lines.len(), eager=True),
            "line_text": lines,
        },
        schema={"line_no": pl.Int64, "line_text": pl.String},
    ).with_columns(pl.lit(None, dtype=pl.Binary).alias("raw"), pl.lit(None, dtype=pl.String).alias("decode_error"))
    if not utf8 and codecs.lookup(encoding).name == "cp1256" and _may_hold_utf8_arabic(chunk):
        return _set_aside_utf8_lines(frame, chunk)
    return frame


def decode_utf8_documents(doc_ids: Sequence[str], contents: Sequence[bytes]) -> pl.DataFrame:
    """Whole small UTF-8 files as one frame of numbered lines (``LINES_SCHEMA`` plus ``doc_id``).

    One cast and one split for all of them: per file, a polars query's fixed cost is larger than the
    work on a one-article file. Lines are cut as :func:`split_lines` cuts them. A content with broken
    sequences is decoded alone by :func:`decode_chunk` (its bad lines quarantined with their bytes).
    """
    binary = pl.Series("content", contents, dtype=pl.Binary)
    try:
        texts = binary.cast(pl.String)
    except pl.exceptions.ComputeError:  # rare: decode the broken contents one by one
        valid = [_strict_utf8(content) for content in contents]
        broken = [
            decode_chunk(content, "utf-8", 1).with_columns(pl.lit(doc_id).alias("doc_id"))
            for doc_id, content, ok in zip(doc_ids, contents, valid, strict=True)
            if not ok
        ]
        kept = [index for index, ok in enumerate(valid) if ok]
        whole = decode_utf8_documents([doc_ids[i] for i in kept], [contents[i] for i in kept])
        return pl.concat([whole, *broken], how="vertical")
    return _utf8_document_lines(pl.DataFrame({"doc_id": pl.Series(doc_ids, dtype=pl.String), "text": texts}))


def utf8_for_batch_decoding(content: bytes, encoding: str | None) -> bytes | None:
    """A small file's content as UTF-8 for :func:`decode_utf8_documents`; ``None``: decode it alone.

    ``content`` is the whole file and ``encoding`` was detected from all of it. UTF-8 loses its BOM.
    Windows-1256 decodes every byte and keeps line breaks, so its text re-encoded as UTF-8 gives the
    same lines; detection has seen that no complete line is UTF-8 with non-ASCII characters, so only a
    last line without a line break can be one that ``decode_chunk`` would quarantine: such a file is
    decoded alone.
    """
    if encoding == "utf-8":
        return content
    if encoding == "utf-8-sig":
        return content.removeprefix(codecs.BOM_UTF8)
    if encoding == LEGACY_ENCODING and not _utf8_non_ascii_tail(content):
        return content.decode(LEGACY_ENCODING).encode("utf-8")
    return None


def _utf8_non_ascii_tail(content: bytes) -> bool:
    """True when the text after the last line break is valid UTF-8 with non-ASCII characters."""
    tail = content[max(content.rfind(b"\n"), content.rfind(b"\r")) + 1 :]
    return not tail.isascii() and _strict_utf8(tail)


def _utf8_document_lines(documents: pl.DataFrame) -> pl.DataFrame:
    """Columns ``doc_id`` and ``text`` (a whole file) → one row per line, numbered from 1 per document."""
    text = pl.col("text")
    if documents.get_column("text").str.contains("\r", literal=True).any():
        text = text.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
    pieces = text.str.split("\n")
    # A final line break ends the last line; it does not start another one (and "" has no lines).
    ends_line = text.str.ends_with("\n") | (text.str.len_bytes() == 0)
    lines = pl.when(ends_line).then(pieces.list.head(pieces.list.len() - 1)).otherwise(pieces)
    return (
        documents.select("doc_id", lines.alias("line_text"))
        .with_columns(pl.int_ranges(1, pl.col("line_text").list.len() + 1, dtype=pl.Int64).alias("line_no"))
        .explode("line_text", "line_no")  # a document without lines leaves no row
        .select(
            "line_no",
            "line_text",
            pl.lit(None, dtype=pl.Binary).alias("raw"),
            pl.lit(None, dtype=pl.String).alias("decode_error"),
            "doc_id",
        )
    )


def _strict_utf8(content: bytes) -> bool:
    """True when every byte sequence of ``content`` is valid UTF-8 (to its very end)."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _may_hold_utf8_arabic(chunk: bytes) -> bool:
    """True when the chunk has a UTF-8 Arabic letter's bytes (0xD8-0xDB then 0x80-0xBF).

    In Windows-1256 Arabic that pair ("ط،", "ظ؛", ...) is rare, so a pure legacy chunk is cleared
    with one numpy pass, not a second decode.
    """
    data = np.frombuffer(chunk, dtype=np.uint8)
    lead = (data[:-1] >= 0xD8) & (data[:-1] <= 0xDB)
    return bool(np.any(lead & (data[1:] >= 0x80) & (data[1:] <= 0xBF)))


def _set_aside_utf8_lines(frame: pl.DataFrame, chunk: bytes) -> pl.DataFrame:
    """Quarantine the non-ASCII UTF-8 lines of a file detected as Windows-1256 (a second export that starts
    after the detection sample): read as Windows-1256 they would be stored as mojibake."""
    lines = classify_utf8_lines(chunk)
    utf8 = lines.get_column("valid") & (
        lines.get_column("text").str.len_bytes() > lines.get_column("text").str.len_chars()
    )
    if not utf8.any():
        return frame
    error = f"valid UTF-8 in a file decoded as {LEGACY_ENCODING} (the file's first MiB decided its encoding)"
    return frame.with_columns(
        pl.when(utf8).then(None).otherwise(pl.col("line_text")).alias("line_text"),
        pl.when(utf8).then(lines.get_column("raw")).otherwise(pl.col("raw")).alias("raw"),
        pl.when(utf8).then(pl.lit(error)).otherwise(pl.col("decode_error")).alias("decode_error"),
    )


def _decode_whole(chunk: bytes, encoding: str) -> pl.Series:
    """A chunk as one polars string; raises when any byte sequence is invalid.

    UTF-8 is validated by polars' cast (Rust, no Python str in between); other codecs go
    through Python's decoder.
    """
    if codecs.lookup(encoding).name == "utf-8":
        return pl.Series([chunk], dtype=pl.Binary).cast(pl.String)
    return pl.Series([chunk.decode(encoding)], dtype=pl.String)


def split_lines_column(text: pl.Series) -> pl.Series:
    """Split a one-string series on LF, CRLF or CR, as ``split_lines`` does, into a series of lines."""
    if text.str.contains("\r", literal=True).item():
        text = text.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
    # A final line break ends the last line; it does not start another one (and "" has no lines).
    ends_line = text.str.ends_with("\n").item() or text.str.len_bytes().item() == 0
    lines = text.str.split("\n").explode().rename("line_text")
    return lines.head(-1) if ends_line else lines


def _decode_utf8_lines(chunk: bytes, first_line_no: int, *, legacy: bool) -> pl.DataFrame:
    """A UTF-8 chunk with broken lines: valid lines decoded, the rest Windows-1256 (``legacy``) or kept as bytes."""
    lines = classify_utf8_lines(chunk)
    keep_legacy = pl.col("legacy") if legacy else pl.lit(False)
    decoded = lines.select(
        pl.when(pl.col("valid")).then(pl.col("text")).when(keep_legacy).then(pl.col("legacy_text")).alias("line_text"),
        pl.when(pl.col("valid") | keep_legacy).then(None).otherwise(pl.col("raw")).alias("raw"),
    )
    quarantined = decoded.get_column("raw")
    suffix = f", and not {LEGACY_ENCODING} text" if legacy else ""
    errors = (
        [  # only the quarantined lines, usually few: say where the first broken byte is
            None if raw is None else f"invalid utf-8 byte sequence at byte {_first_invalid_utf8(raw)}{suffix}"
            for raw in quarantined.to_list()
        ]
        if quarantined.null_count() < quarantined.len()
        else [None] * quarantined.len()
    )
    return pl.DataFrame(
        {
            "line_no": pl.int_range(first_line_no, first_line_no + decoded.height, eager=True),
            "line_text": decoded.get_column("line_text"),
            "raw": quarantined,
            "decode_error": pl.Series(errors, dtype=pl.String),
        },
        schema=LINES_SCHEMA,
    )


def _first_invalid_utf8(raw: bytes) -> int:
    """Offset of the first byte of ``raw`` that is not part of a valid UTF-8 sequence."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start
    return len(raw)


def _decode_lines_one_by_one(chunk: bytes, encoding: str, first_line_no: int) -> pl.DataFrame:
    """Slow path for a chunk with broken sequences: find and keep the bad lines, decode the rest."""
    texts: list[str | None] = []
    raws: list[bytes | None] = []
    errors: list[str | None] = []
    for raw_line in chunk.splitlines():  # bytes.splitlines breaks on LF, CR and CRLF only.
        try:
            texts.append(raw_line.decode(encoding))
            raws.append(None)
            errors.append(None)
        except UnicodeDecodeError as error:
            texts.append(None)
            raws.append(raw_line)
            errors.append(f"invalid {encoding} byte sequence at byte {error.start}")
    return _lines_frame(texts, raws, errors, first_line_no)


def iter_decoded_lines(
    path: InputPath, size_bytes: int, encoding: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[pl.DataFrame]:
    """Decode a file into frames of numbered lines (``LINES_SCHEMA``), one frame per chunk.

    There is always at least one frame (empty for an empty file), so a stage file can be written.
    """
    if splits_on_byte_line_breaks(encoding):
        frames = _iter_byte_chunk_lines(path, size_bytes, encoding, chunk_bytes)
    else:
        frames = _iter_transcoded_lines(path, size_bytes, encoding, chunk_bytes)
    empty = True
    for frame in frames:
        empty = False
        yield frame
    if empty:
        yield pl.DataFrame(schema=LINES_SCHEMA)


def splits_on_byte_line_breaks(encoding: str) -> bool:
    """True when LF and CR are single ASCII bytes that no other character's bytes contain.

    That holds for UTF-8, Windows-1256 and every ASCII-compatible legacy encoding (in Shift_JIS, Big5
    or GBK no trail byte is below 0x40) but not for UTF-16/32, EBCDIC or the stateful ISO-2022 family.
    """
    if encoding == MIXED:
        return True
    name = codecs.lookup(encoding).name
    if name == "utf-8-sig":
        return True
    if name in STATEFUL_ENCODINGS or name.startswith("iso2022"):
        return False
    try:
        return "a\r\n".encode(name) == b"a\r\n"
    except UnicodeEncodeError:
        return False


def _iter_byte_chunk_lines(path: InputPath, size_bytes: int, encoding: str, chunk_bytes: int) -> Iterator[pl.DataFrame]:
    """Cut the bytes at line breaks, then decode each chunk: a broken line keeps its exact bytes."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    next_line_no = 1
    for index, chunk in enumerate(iter_byte_chunks(path, size_bytes, chunk_bytes)):
        if index == 0 and encoding == "utf-8-sig":
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        frame = decode_chunk(chunk, codec, next_line_no)
        next_line_no += frame.height
        yield frame


def _iter_transcoded_lines(path: InputPath, size_bytes: int, encoding: str, chunk_bytes: int) -> Iterator[pl.DataFrame]:
    """Decode incrementally, then cut the text at line breaks (UTF-16 cannot be cut as bytes).

    Undecodable bytes are escaped (``ESCAPE_ERRORS``), so a broken line is told apart from a line
    that really contains U+FFFD, and is quarantined with its original bytes.
    """
    with path.open("rb") as handle:
        head = handle.read(min(4, size_bytes))
    encoder = _encoder_for(encoding, head)
    decoder = codecs.getincrementaldecoder(encoding)(errors=ESCAPE_ERRORS)
    next_line_no = 1
    carry = ""
    with path.open("rb") as handle:
        remaining = size_bytes
        while remaining > 0:
            block = handle.read(min(chunk_bytes, remaining))
            if not block:  # The file shrank after hashing; stop at what is there.
                break
            remaining -= len(block)
            text = carry + decoder.decode(block)
            cut = max(text.rfind("\n"), text.rfind("\r"))
            # A text ending in CR may be half of a CRLF: keep the CR for the next block.
            if cut == len(text) - 1 and text.endswith("\r") and remaining > 0:
                cut = max(text.rfind("\n", 0, cut), text.rfind("\r", 0, cut))
            complete, carry = text[: cut + 1], text[cut + 1 :]
            if complete:
                frame = _text_lines(complete, encoding, encoder, next_line_no)
                next_line_no += frame.height
                yield frame
    rest = carry + decoder.decode(b"", final=True)
    if rest:
        yield _text_lines(rest, encoding, encoder, next_line_no)


def _encoder_for(encoding: str, head: bytes) -> str:
    """The codec that turns decoded text back into the file's bytes (UTF-16/32 without a new BOM)."""
    name = codecs.lookup(encoding).name
    if name in ("utf-16", "utf-32"):
        little = head.startswith(codecs.BOM_UTF32_LE if name == "utf-32" else codecs.BOM_UTF16_LE)
        return f"{name}-{'le' if little else 'be'}"
    return name


def _restore_bytes(line: str, encoder: str) -> bytes:
    """The original bytes of a decoded line: its text re-encoded, escaped bytes put back."""
    parts = ESCAPED_BYTES.split(line)
    restored = bytearray()
    for index, part in enumerate(parts):
        if index % 2:
            restored += bytes(ord(character) - 0xDC00 for character in part)
        else:
            restored += part.encode(encoder)
    return bytes(restored)


def _text_lines(text: str, encoding: str, encoder: str, first_line_no: int) -> pl.DataFrame:
    """Numbered lines of decoded text; lines holding escaped bytes are undecodable, with their bytes."""
    lines = split_lines(text)
    if not ESCAPED_BYTES.search(text):
        return _lines_frame(lines, [None] * len(lines), [None] * len(lines), first_line_no)
    texts: list[str | None] = []
    raws: list[bytes | None] = []
    errors: list[str | None] = []
    for line in lines:
        escaped = ESCAPED_BYTES.search(line)
        if escaped is None:
            texts.append(line)
            raws.append(None)
            errors.append(None)
        else:
            texts.append(None)
            raws.append(_restore_bytes(line, encoder))
            offset = len(_restore_bytes(line[: escaped.start()], encoder))
            errors.append(f"invalid {encoding} byte sequence at byte {offset}")
    return _lines_frame(texts, raws, errors, first_line_no)


def _lines_frame(
    texts: list[str] | list[str | None], raws: list[bytes | None], errors: list[str | None], first_line_no: int
) -> pl.DataFrame:
    """A ``LINES_SCHEMA`` frame numbered from ``first_line_no``."""
    return pl.DataFrame(
        {
            "line_no": pl.int_range(first_line_no, first_line_no + len(texts), eager=True),
            "line_text": texts,
            "raw": raws,
            "decode_error": errors,
        },
        schema=LINES_SCHEMA,
    )
