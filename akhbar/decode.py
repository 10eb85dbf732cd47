"""Decoding raw input files into numbered lines, in bounded chunks.

Files are read twice: once to hash them (the ``doc_id`` must be known before the first row is
written) and once to decode, in chunks of about ``chunk_bytes`` cut at line ends, so a large file is
never held in memory whole. Only the bytes counted by the hash are decoded, so a file that grows
while it is read is ingested as it was when hashed.

Encoding detection, in order: a BOM (UTF-8, UTF-16 LE/BE); binary signatures and NUL density;
strict UTF-8; UTF-8 with a few broken sequences (those lines are quarantined, not the file);
Windows-1256, the common legacy Arabic encoding; then charset-normalizer for anything else.

A line that does not decode is quarantined with its original bytes, whatever the encoding: UTF-8
and the other ASCII-compatible encodings are cut into lines as bytes; UTF-16 is decoded
incrementally with undecodable bytes escaped, so they can be put back.
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

#: ASCII-compatible codecs that still cannot be cut at byte-level line breaks (shift sequences).
STATEFUL_ENCODINGS = frozenset({"utf-7", "hz"})
#: Name of the decoding error handler that escapes undecodable bytes (see ``_escape_undecodable``).
ESCAPE_ERRORS = "akhbar-escape"
#: Runs of bytes escaped by ``ESCAPE_ERRORS`` (lone surrogates never come out of a valid decode).
ESCAPED_BYTES = re.compile("([\udc00-\udcff]+)")

LINE_BREAK = re.compile(r"\r\n|\r|\n")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
NON_ASCII = re.compile(r"[^\x00-\x7f]")

LINES_SCHEMA = {
    "line_no": pl.Int64,
    "line_text": pl.String,
    "raw": pl.Binary,
    "decode_error": pl.String,
}


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
        text = _decode_whole(chunk, encoding)
    except (UnicodeDecodeError, pl.exceptions.ComputeError):
        return _decode_lines_one_by_one(chunk, encoding, first_line_no)
    lines = split_lines_column(text)
    return pl.DataFrame(
        {
            "line_no": pl.int_range(first_line_no, first_line_no + lines.len(), eager=True),
            "line_text": lines,
        },
        schema={"line_no": pl.Int64, "line_text": pl.String},
    ).with_columns(
        pl.lit(None, dtype=pl.Binary).alias("raw"), pl.lit(None, dtype=pl.String).alias("decode_error")
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
    path: Path, size_bytes: int, encoding: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES
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
    name = codecs.lookup(encoding).name
    if name == "utf-8-sig":
        return True
    if name in STATEFUL_ENCODINGS or name.startswith("iso2022"):
        return False
    try:
        return "a\r\n".encode(name) == b"a\r\n"
    except UnicodeEncodeError:
        return False


def _iter_byte_chunk_lines(path: Path, size_bytes: int, encoding: str, chunk_bytes: int) -> Iterator[pl.DataFrame]:
    """Cut the bytes at line breaks, then decode each chunk: a broken line keeps its exact bytes."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    next_line_no = 1
    for index, chunk in enumerate(iter_byte_chunks(path, size_bytes, chunk_bytes)):
        if index == 0 and encoding == "utf-8-sig":
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        frame = decode_chunk(chunk, codec, next_line_no)
        next_line_no += frame.height
        yield frame


def _iter_transcoded_lines(path: Path, size_bytes: int, encoding: str, chunk_bytes: int) -> Iterator[pl.DataFrame]:
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
