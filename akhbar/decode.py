"""Decoding raw input files into numbered lines, in bounded chunks.

Files are read twice: once to hash them (the ``doc_id`` must be known before the first row is
written) and once to decode, in chunks of about ``chunk_bytes`` cut at line ends, so a large file is
never held in memory whole. Only the bytes counted by the hash are decoded, so a file that grows
while it is read is ingested as it was when hashed.

Encoding detection, in order: a BOM (UTF-8, UTF-16 LE/BE); binary signatures and NUL density;
strict UTF-8; UTF-8 with a few broken sequences (those lines are quarantined, not the file);
Windows-1256, the common legacy Arabic encoding; then charset-normalizer for anything else.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from charset_normalizer import from_bytes

#: Bytes examined to detect the encoding: enough for a confident guess, small enough to be instant.
DETECTION_SAMPLE_BYTES = 1 << 20
#: Default decoding chunk: bounds memory per batch while keeping polars batches large.
DEFAULT_CHUNK_BYTES = 8 << 20
#: Longest line kept as a segment; anything longer is not a news paragraph and is quarantined.
MAX_LINE_BYTES = 1 << 20

#: File signatures of common binary formats found in scraped folders (images, archives, PDFs, ...).
BINARY_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"PK\x05\x06", b"%PDF-", b"\x1f\x8b", b"GIF87a", b"GIF89a",
    b"\xff\xd8\xff", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"\x7fELF", b"SQLite format 3\x00",
)
#: Share of NUL bytes above which content without a UTF-16 BOM is treated as binary.
MAX_NUL_SHARE = 0.01
#: Share of broken sequences among non-ASCII UTF-8 sequences still read as "UTF-8 with bad lines".
#: Legacy Arabic text read as UTF-8 breaks almost every non-ASCII sequence (share near 1).
MAX_INVALID_UTF8_SHARE = 0.25
#: Share of Arabic letters among non-ASCII characters that makes a Windows-1256 reading plausible.
MIN_ARABIC_SHARE = 0.7

LINE_BREAK = re.compile(r"\r\n|\r|\n")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
NON_ASCII = re.compile(r"[^\x00-\x7f]")

LINES_SCHEMA = {
    "line_no": pl.Int64,
    "line_text": pl.String,
    "raw": pl.Binary,
    "decode_error": pl.String,
}


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


def fingerprint_file(path: Path, block_bytes: int = 1 << 20) -> FileFingerprint:
    """Hash a file's bytes with sha256, streaming."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(block_bytes):
            digest.update(block)
            size += len(block)
    return FileFingerprint(doc_id=digest.hexdigest(), size_bytes=size)


def read_sample(path: Path, size_bytes: int, sample_bytes: int = DETECTION_SAMPLE_BYTES) -> bytes:
    """The first ``sample_bytes`` of the file (never past the fingerprinted size)."""
    with path.open("rb") as handle:
        return handle.read(min(sample_bytes, size_bytes))


def detect_encoding(sample: bytes) -> EncodingGuess:
    """Guess the encoding of a file from its first bytes (see the module docstring for the order)."""
    if sample.startswith(codecs.BOM_UTF8):
        return EncodingGuess("utf-8-sig")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not sample.startswith(
        codecs.BOM_UTF32_LE
    ):
        return EncodingGuess("utf-16")
    if not sample:
        return EncodingGuess("utf-8")
    for signature in BINARY_SIGNATURES:
        if sample.startswith(signature):
            return EncodingGuess(None, "binary_content", f"starts with the signature {signature[:8]!r}")
    nul_share = sample.count(0) / len(sample)
    if nul_share > MAX_NUL_SHARE:
        return EncodingGuess(None, "binary_content", f"{nul_share:.0%} of the first bytes are NUL")
    if _utf8_invalid_share(sample) <= MAX_INVALID_UTF8_SHARE:
        return EncodingGuess("utf-8")
    if _arabic_share(sample.decode("cp1256")) >= MIN_ARABIC_SHARE:
        return EncodingGuess("windows-1256")
    best = from_bytes(sample).best()
    if best is not None and best.encoding:
        return EncodingGuess(codecs.lookup(best.encoding).name)
    return EncodingGuess(None, "undecodable", "no text encoding fits the content")


def _utf8_invalid_share(sample: bytes) -> float:
    """Share of broken sequences among the non-ASCII sequences of a UTF-8 reading."""
    # The sample may end inside a multi-byte character: drop an incomplete tail before judging.
    decoded = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=False)
    broken = decoded.count("\ufffd")
    non_ascii = len(NON_ASCII.findall(decoded))
    return broken / non_ascii if non_ascii else 0.0


def _arabic_share(text: str) -> float:
    """Share of Arabic-block characters among the non-ASCII characters of ``text``."""
    non_ascii = len(NON_ASCII.findall(text))
    return len(ARABIC_LETTER.findall(text)) / non_ascii if non_ascii else 0.0


def iter_byte_chunks(path: Path, size_bytes: int, chunk_bytes: int) -> Iterator[bytes]:
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


def decode_chunk(chunk: bytes, encoding: str, first_line_no: int) -> pl.DataFrame:
    """Decode one chunk into numbered lines; undecodable lines keep their raw bytes and an error."""
    try:
        lines = split_lines(chunk.decode(encoding))
    except UnicodeDecodeError:
        return _decode_lines_one_by_one(chunk, encoding, first_line_no)
    return pl.DataFrame(
        {
            "line_no": pl.int_range(first_line_no, first_line_no + len(lines), eager=True),
            "line_text": lines,
        },
        schema={"line_no": pl.Int64, "line_text": pl.String},
    ).with_columns(
        pl.lit(None, dtype=pl.Binary).alias("raw"), pl.lit(None, dtype=pl.String).alias("decode_error")
    )


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
    return pl.DataFrame(
        {
            "line_no": pl.int_range(first_line_no, first_line_no + len(texts), eager=True),
            "line_text": texts,
            "raw": raws,
            "decode_error": errors,
        },
        schema=LINES_SCHEMA,
    )


def iter_decoded_lines(
    path: Path, size_bytes: int, encoding: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[pl.DataFrame]:
    """Decode a file into frames of numbered lines (``LINES_SCHEMA``), one frame per chunk."""
    next_line_no = 1
    if encoding in ("utf-8", "utf-8-sig"):
        chunks = iter_byte_chunks(path, size_bytes, chunk_bytes)
        first = True
        for chunk in chunks:
            if first and encoding == "utf-8-sig":
                chunk = chunk.removeprefix(codecs.BOM_UTF8)
            first = False
            frame = decode_chunk(chunk, "utf-8", next_line_no)
            next_line_no += frame.height
            yield frame
        return
    # Multi-byte legacy encodings (UTF-16) cannot be cut at byte-level line breaks: transcode to
    # UTF-8 with an incremental decoder first. Broken sequences become U+FFFD and are flagged.
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    carry = ""
    with path.open("rb") as handle:
        remaining = size_bytes
        while remaining > 0:
            block = handle.read(min(chunk_bytes, remaining))
            if not block:
                break
            remaining -= len(block)
            text = carry + decoder.decode(block, final=remaining <= 0)
            cut = max(text.rfind("\n"), text.rfind("\r"))
            if cut == len(text) - 1 and text.endswith("\r") and remaining > 0:
                cut = max(text.rfind("\n", 0, cut), text.rfind("\r", 0, cut))
            if remaining > 0 and cut < 0:
                carry = text
                continue
            complete, carry = (text, "") if remaining <= 0 else (text[: cut + 1], text[cut + 1 :])
            frame = _flag_replacement_characters(
                decode_chunk(complete.encode("utf-8"), "utf-8", next_line_no), encoding
            )
            next_line_no += frame.height
            yield frame
    if carry:
        yield _flag_replacement_characters(decode_chunk(carry.encode("utf-8"), "utf-8", next_line_no), encoding)


def _flag_replacement_characters(lines: pl.DataFrame, encoding: str) -> pl.DataFrame:
    """Mark lines where the legacy decoder had to substitute U+FFFD as undecodable."""
    broken = pl.col("line_text").str.contains("\ufffd", literal=True)
    return lines.with_columns(
        pl.when(broken).then(pl.col("line_text").cast(pl.Binary)).otherwise(pl.col("raw")).alias("raw"),
        pl.when(broken)
        .then(pl.lit(f"invalid {encoding} byte sequence (kept as UTF-8 with U+FFFD)"))
        .otherwise(pl.col("decode_error"))
        .alias("decode_error"),
    ).with_columns(pl.when(broken).then(None).otherwise(pl.col("line_text")).alias("line_text"))
