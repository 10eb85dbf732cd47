"""Dataset declarations and the validation applied at the lake's write boundary.

Each dataset is declared once here. The Arrow schema written into every Parquet file comes from
these declarations, with each column's description stored as field metadata (``description``) and
the dataset name and schema version stored as schema metadata. Bump ``version`` on a breaking
change (a removed/renamed column or a changed type); adding a nullable column is not breaking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

#: Strings with few distinct values (topics, languages, reasons) are dictionary-encoded.
CATEGORY = pa.dictionary(pa.int32(), pa.string())
UTC_MICROS = pa.timestamp("us", tz="UTC")



def list_of(item: pa.DataType) -> pa.DataType:
    """A list type whose item field is named as Parquet names it, so schemas round-trip unchanged."""
    return pa.list_(pa.field("element", item))


TOPIC_SCORE = pa.struct([("topic", pa.string()), ("score", pa.float64())])
MATCHED_TERM = pa.struct([("topic", pa.string()), ("term", pa.string())])
QUANTITY = pa.struct([("value", pa.float64()), ("unit", pa.string()), ("kind", pa.string())])
TOPIC_COUNT = pa.struct([("topic", pa.string()), ("count", pa.int64())])
LANG_COUNT = pa.struct([("lang", pa.string()), ("count", pa.int64())])
REASON_COUNT = pa.struct([("reason", pa.string()), ("count", pa.int64())])


class SchemaViolation(ValueError):
    """A frame does not match its dataset declaration; the message names dataset and column."""


@dataclass(frozen=True)
class Column:
    """One declared column."""

    name: str
    type: pa.DataType
    nullable: bool
    description: str


@dataclass(frozen=True)
class DatasetSchema:
    """One declared dataset: its columns, version and what a row means."""

    name: str
    version: int
    row: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        """Column names in declared order."""
        return [column.name for column in self.columns]

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema with descriptions as field metadata and the version as schema metadata."""
        fields = [
            pa.field(c.name, c.type, nullable=c.nullable, metadata={"description": c.description})
            for c in self.columns
        ]
        metadata = {
            "akhbar.dataset": self.name,
            "akhbar.schema_version": str(self.version),
            "akhbar.row": self.row,
        }
        return pa.schema(fields, metadata=metadata)

    def to_arrow(self, frame: pl.DataFrame) -> pa.Table:
        """Validate ``frame`` against the declaration and return it as a typed Arrow table."""
        missing = [name for name in self.column_names if name not in frame.columns]
        extra = [name for name in frame.columns if name not in self.column_names]
        if missing or extra:
            raise SchemaViolation(f"dataset {self.name!r}: missing columns {missing}, unexpected columns {extra}")
        table = frame.select(self.column_names).to_arrow()
        arrays = [_cast_column(self.name, column, table.column(column.name)) for column in self.columns]
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema())

    def polars_schema(self) -> pl.Schema:
        """The polars dtypes of the columns (categories read back as plain strings)."""
        return pl.Schema(
            {
                name: (pl.String() if dtype == pl.Categorical else dtype)
                for name, dtype in self.empty_frame().schema.items()
            }
        )

    def polars_dtype(self, name: str) -> pl.DataType:
        """The polars dtype of one column (what stages that build it cast to)."""
        return self.polars_schema()[name]

    def empty_frame(self) -> pl.DataFrame:
        """A zero-row polars frame with this dataset's columns and types."""
        return pl.from_arrow(self.arrow_schema().empty_table())  # type: ignore[return-value]


def _cast_column(dataset: str, column: Column, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cast one column to its declared type and enforce its nullability."""
    if not column.nullable and values.null_count:
        raise SchemaViolation(
            f"dataset {dataset!r}: column {column.name!r} is declared non-null but has {values.null_count} nulls"
        )
    try:
        if pa.types.is_dictionary(column.type):
            plain = values.cast(pa.string())
            return plain.dictionary_encode().cast(column.type)
        return values.cast(column.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise SchemaViolation(
            f"dataset {dataset!r}: column {column.name!r} of type {values.type} cannot be cast to {column.type}"
        ) from error


def _columns(*columns: Column) -> tuple[Column, ...]:
    return columns


RUN_ID = Column("run_id", pa.string(), False, "akhbar run that wrote this row (UUID4).")

SEGMENTS = DatasetSchema(
    name="segments",
    version=1,
    row="one non-blank, decodable line of an input file",
    columns=_columns(
        Column("segment_id", pa.string(), False, "Stable id: first 16 hex of doc_id, '-', the line number."),
        Column("doc_id", pa.string(), False, "sha256 of the input file's bytes (joins to documents)."),
        Column("line_no", pa.int64(), False, "1-based line number in the input file (LF, CRLF or CR)."),
        Column("text", pa.string(), False, "Display-clean text: NFKC, no bidi/zero-width controls or "
               "tatweel, whitespace collapsed, trailing ellipsis removed."),
        Column("text_norm", pa.string(), False, "Matching form of text: no diacritics, alef variants "
               "unified, alef maqsura as ya, ASCII digits, Latin lowercased."),
        Column("is_truncated", pa.bool_(), False, "The line ended with an ellipsis (a teaser cut by the feed)."),
        Column("lang", CATEGORY, True, "ISO 639-1 language of the text's first 80 characters, from the "
               "run's language backend (langdetect, seeded, by default; fasttext optional); null when the "
               "text has no letters."),
        Column("lang_prob", pa.float64(), True, "The backend's probability (langdetect) or score (fasttext) "
               "for lang; null when lang is null."),
        Column("lang_method", CATEGORY, True, "How lang was decided: 'langdetect' or 'fasttext' (the run's "
               "backend), or 'script' (Arabic-script text too short for the backend, or called Persian/Urdu "
               "without any Persian/Urdu letter but with Arabic-only ones: lang 'ar', lang_prob 0.9); null "
               "when lang is null."),
        Column("topic", CATEGORY, False, "Winning topic of the taxonomy, or 'other'."),
        Column("topic_confidence", pa.float64(), False, "Confidence in topic, 0..1."),
        Column("topic_scores", list_of(TOPIC_SCORE), False, "Score of every taxonomy topic."),
        Column("matched_terms", list_of(MATCHED_TERM), False, "Taxonomy terms found in text_norm, "
               "with their topic: the evidence for topic."),
        Column("article_id", pa.string(), False, "The article (story) this paragraph belongs to "
               "(joins to articles): first 16 hex of doc_id, '-', the article's first line number."),
        Column("dates", list_of(pa.date32()), False, "Dates mentioned (Gregorian month names in "
               "Egyptian/Gulf and Levantine forms, numeric dates), sorted; a year-less date is resolved "
               "from the document's other dates only when that is unambiguous."),
        Column("unresolved_dates", list_of(pa.string()), False, "Year-less date mentions that could "
               "not be resolved unambiguously, as written in text_norm (never guessed)."),
        Column("published_at", UTC_MICROS, True, "Publication/update time of an update line "
               "('تم تحديثه', 'نشر في'), converted to UTC from the named time zone (UTC if none)."),
        Column("quantities", list_of(QUANTITY), False, "Numbers with meaning: kind percent (unit %), "
               "money (ISO 4217 unit), karat (unit K), gold_price (e.g. USD/oz, EGP/g)."),
        Column("countries", list_of(pa.string()), False, "ISO 3166-1 alpha-2 codes of countries "
               "named (names, capitals, nisba adjectives), sorted."),
        RUN_ID,
        Column("processed_at", UTC_MICROS, False, "When the row was produced (UTC)."),
    ),
)

ARTICLES = DatasetSchema(
    name="articles",
    version=1,
    row="one story: consecutive paragraphs of one document (a teaser is a story of its own)",
    columns=_columns(
        Column("article_id", pa.string(), False, "Stable id: first 16 hex of doc_id, '-', first line number."),
        Column("doc_id", pa.string(), False, "sha256 of the input file's bytes (joins to documents)."),
        Column("first_line_no", pa.int64(), False, "Line number of the article's first paragraph."),
        Column("last_line_no", pa.int64(), False, "Line number of the article's last paragraph."),
        Column("segment_count", pa.int64(), False, "Paragraphs (segments) in the article."),
        Column("text", pa.string(), False, "The paragraphs' display-clean text joined with newlines."),
        Column("topic", CATEGORY, False, "Topic with the highest summed score over the paragraphs, "
               "or 'other'."),
        Column("lang", CATEGORY, True, "Most frequent language of the paragraphs; null if none has one."),
        Column("is_truncated", pa.bool_(), False, "The article is (or contains) a truncated teaser."),
        Column("published_at", UTC_MICROS, True, "First publication/update time found in its paragraphs."),
        Column("dates", list_of(pa.date32()), False, "Union of the paragraphs' dates, sorted."),
        Column("countries", list_of(pa.string()), False, "Union of the paragraphs' countries, sorted."),
        RUN_ID,
        Column("processed_at", UTC_MICROS, False, "When the row was produced (UTC)."),
    ),
)

DOCUMENTS = DatasetSchema(
    name="documents",
    version=1,
    row="one input file's content, keyed by doc_id",
    columns=_columns(
        Column("doc_id", pa.string(), False, "sha256 of the file's bytes."),
        Column("source_path", pa.string(), False, "Absolute path (or URL) the content was first read from."),
        Column("source_paths", list_of(pa.string()), False, "Every input path that held this content when "
               "last seen, sorted; the document's rows are removed only when none holds it any more."),
        Column("size_bytes", pa.int64(), False, "File size in bytes."),
        Column("encoding", CATEGORY, True, "Detected encoding (utf-8, utf-8-sig, utf-16, windows-1256, "
               "...); null when the content could not be decoded."),
        Column("status", CATEGORY, False, "ingested | partial (some lines quarantined) | quarantined "
               "(nothing usable) | empty (no lines)."),
        Column("total_lines", pa.int64(), False, "Lines in the decoded file; equals blank + segment + "
               "quarantined lines."),
        Column("blank_lines", pa.int64(), False, "Lines with nothing visible in them."),
        Column("segment_lines", pa.int64(), False, "Lines written to segments."),
        Column("quarantined_lines", pa.int64(), False, "Lines written to quarantine."),
        Column("ingested_at", UTC_MICROS, False, "When the file was ingested (UTC)."),
        RUN_ID,
        Column("package_version", pa.string(), False, "akhbar version that ingested the file."),
        Column("taxonomy_version", pa.string(), False, "Version of the topic taxonomy used."),
    ),
)

QUARANTINE = DatasetSchema(
    name="quarantine",
    version=1,
    row="one input line (or a whole file) that could not be used, with the reason and its raw bytes",
    columns=_columns(
        Column("doc_id", pa.string(), False, "sha256 of the file's bytes."),
        Column("line_no", pa.int64(), True, "1-based line number; null when the whole file is quarantined."),
        Column("reason", CATEGORY, False, "Machine-readable reason, e.g. binary_content, undecodable, "
               "invalid_encoding, line_too_long."),
        Column("detail", pa.string(), False, "Human-readable explanation."),
        Column("raw", pa.binary(), False, "The raw bytes of the line (or file), kept so nothing is lost."),
        RUN_ID,
        Column("quarantined_at", UTC_MICROS, False, "When the row was produced (UTC)."),
    ),
)

RUNS = DatasetSchema(
    name="runs",
    version=1,
    row="one akhbar run (one Prefect flow run of `ingest`)",
    columns=_columns(
        RUN_ID,
        Column("flow_run_id", pa.string(), True, "Prefect flow-run id; null outside Prefect."),
        Column("started_at", UTC_MICROS, False, "Run start (UTC)."),
        Column("finished_at", UTC_MICROS, False, "Run end (UTC)."),
        Column("status", CATEGORY, False, "completed | completed_with_warnings | failed | interrupted."),
        Column("files_seen", pa.int64(), False, "Input files selected."),
        Column("files_ingested", pa.int64(), False, "Files whose rows were written."),
        Column("files_failed", pa.int64(), False, "Files that could not be read at all."),
        Column("segments_written", pa.int64(), False, "Rows written to segments."),
        Column("articles_written", pa.int64(), False, "Rows written to articles."),
        Column("documents_written", pa.int64(), False, "Rows written to documents."),
        Column("quarantine_written", pa.int64(), False, "Rows written to quarantine."),
        Column("topic_counts", list_of(TOPIC_COUNT), False, "Segments per topic in this run."),
        Column("lang_counts", list_of(LANG_COUNT), False, "Segments per language in this run "
               "(lang 'und' when undetermined)."),
        Column("quarantine_counts", list_of(REASON_COUNT), False, "Quarantined rows per reason."),
        Column("package_version", pa.string(), False, "akhbar version."),
        Column("taxonomy_version", pa.string(), False, "Topic taxonomy version."),
    ),
)

ALL_DATASETS: tuple[DatasetSchema, ...] = (SEGMENTS, ARTICLES, DOCUMENTS, QUARANTINE, RUNS)


def dataset_by_name(name: str, datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> DatasetSchema:
    """Look a dataset up by name; the error lists the known names."""
    for dataset in datasets:
        if dataset.name == name:
            return dataset
    known = ", ".join(d.name for d in datasets)
    raise KeyError(f"unknown dataset {name!r}; known datasets: {known}")
