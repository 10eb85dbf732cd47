"""Run-level bookkeeping: the summary of one ingest run, its ``runs`` row and its markdown report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from akhbar import __version__
from akhbar.faults import checkpoint
from akhbar.lake import LakePath, auto_compact, commit_rows, lake_lock
from akhbar.publish import DocumentResult
from akhbar.staging import FileFailure
from schemas import RUNS

__all__ = ["FileFailure", "RunSummary"]


@dataclass(frozen=True)
class RunSummary:
    """Everything a run did, small enough to return from a flow and to render."""

    run_id: str
    flow_run_id: str | None
    lake: str
    started_at: datetime
    finished_at: datetime
    taxonomy_version: str
    documents: list[DocumentResult] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    input_problems: list[str] = field(default_factory=list)
    already_ingested: list[str] = field(default_factory=list)
    #: Stopped by a signal or a cancellation before every batch was done (the next run resumes).
    interrupted: bool = False

    @property
    def status(self) -> str:
        """completed; completed_with_warnings (something quarantined, failed or missing); failed (new
        files were given and none could be ingested); interrupted. Nothing new to ingest is a success."""
        if self.interrupted:
            return "interrupted"
        attempted = self.documents or self.failures
        if attempted and all(d.status == "quarantined" for d in self.documents):
            return "failed"
        warned = self.failures or self.input_problems or any(d.quarantine_rows for d in self.documents)
        return "completed_with_warnings" if warned else "completed"

    @property
    def counts_message(self) -> str:
        """``3 new files ingested, 9 already in the lake, 0 failed``."""
        ingested = sum(d.status != "quarantined" for d in self.documents)
        quarantined = len(self.documents) - ingested
        parts = [
            f"{ingested} new file{'s' if ingested != 1 else ''} ingested",
            f"{len(self.already_ingested)} already in the lake",
            f"{len(self.failures)} failed",
        ]
        if quarantined:
            parts.append(f"{quarantined} quarantined whole")
        if self.input_problems:
            parts.append(f"{len(self.input_problems)} input problem{'s' if len(self.input_problems) != 1 else ''}")
        return ", ".join(parts)

    @property
    def exit_code(self) -> int:
        """0: all ingested; 1: some files or lines quarantined or failed; 2: nothing could be ingested."""
        return {"completed": 0, "completed_with_warnings": 1}.get(self.status, 2)

    def total(self, attribute: str) -> int:
        """Sum an integer attribute over the documents."""
        return sum(int(getattr(d, attribute)) for d in self.documents)

    def merged_counts(self, attribute: str) -> dict[str, int]:
        """Merge per-document count dicts (topics, languages, quarantine reasons)."""
        merged: Counter[str] = Counter()
        for document in self.documents:
            merged.update(getattr(document, attribute))
        return dict(sorted(merged.items()))


def quarantine_message(document: DocumentResult) -> str:
    """What was quarantined in one file, naming the file and its first bad lines."""
    reasons = ", ".join(f"{reason}: {count}" for reason, count in document.quarantine_counts.items())
    if document.status == "quarantined" and not document.quarantined_examples:
        return f"{document.source_path}: whole file ({reasons})"
    named = ", ".join(f"line {line} {reason}" for line, reason in document.quarantined_examples)
    more = document.quarantine_rows - len(document.quarantined_examples)
    suffix = f" (+{more} more in the quarantine dataset)" if more > 0 else ""
    return f"{document.source_path}: {named}{suffix}"


def _pairs(counts: dict[str, int], key: str) -> list[dict[str, object]]:
    return [{key: name, "count": count} for name, count in counts.items()]


def run_record(summary: RunSummary) -> pl.DataFrame:
    """The single ``runs`` row of a run."""
    return pl.DataFrame(
        {
            "run_id": [summary.run_id],
            "flow_run_id": pl.Series([summary.flow_run_id], dtype=pl.String),
            "started_at": pl.Series([summary.started_at], dtype=pl.Datetime("us", "UTC")),
            "finished_at": pl.Series([summary.finished_at], dtype=pl.Datetime("us", "UTC")),
            "status": [summary.status],
            "files_seen": [len(summary.documents) + len(summary.failures) + len(summary.already_ingested)],
            "files_ingested": [sum(d.status != "quarantined" for d in summary.documents)],
            "files_failed": [len(summary.failures)],
            "segments_written": [summary.total("segment_lines")],
            "articles_written": [summary.total("article_count")],
            "documents_written": [len(summary.documents)],
            "quarantine_written": [summary.total("quarantine_rows")],
            "topic_counts": [_pairs(summary.merged_counts("topic_counts"), "topic")],
            "lang_counts": [_pairs(summary.merged_counts("lang_counts"), "lang")],
            "quarantine_counts": [_pairs(summary.merged_counts("quarantine_counts"), "reason")],
            "package_version": [__version__],
            "taxonomy_version": [summary.taxonomy_version],
        },
        schema_overrides={
            name: RUNS.polars_dtype(name) for name in ("topic_counts", "lang_counts", "quarantine_counts")
        },
    )


def file_result_rows(summary: RunSummary) -> list[dict[str, str | int | None]]:
    """One row per input file of the run, for the per-file table artifact."""
    rows: list[dict[str, str | int | None]] = [
        {
            "file": d.source_path,
            "result": d.status,
            "encoding": d.encoding,
            "lines": d.total_lines,
            "blank": d.blank_lines,
            "segments": d.segment_lines,
            "quarantined": d.quarantine_rows,
            "error": None,
        }
        for d in summary.documents
    ]
    rows += [{"file": f.source_path, "result": "failed", "error": f.message} for f in summary.failures]
    rows += [{"file": path, "result": "already ingested", "error": None} for path in summary.already_ingested]
    return rows


def write_run_record(lake: LakePath, summary: RunSummary) -> None:
    """Append the run to the ``runs`` table, then compact crowded tables and vacuum, under the lake lock.

    The vacuum is what keeps every dataset folder equal to its table's live files after a run.
    """
    with lake_lock(lake):
        commit_rows(lake, RUNS, [run_record(summary)], key="run_id")
        checkpoint("before-compact")
        auto_compact(lake)


def _markdown_table(header: tuple[str, str], rows: Iterable[tuple[str, object]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def render_run_markdown(summary: RunSummary) -> str:
    """The run report published as a Prefect markdown artifact."""
    datasets = [
        ("segments", summary.total("segment_lines")),
        ("articles", summary.total("article_count")),
        ("documents", len(summary.documents)),
        ("quarantine", summary.total("quarantine_rows")),
        ("runs", 1),
    ]
    parts = [
        f"# akhbar ingest run `{summary.run_id}`",
        f"Status **{summary.status}** · lake `{summary.lake}` · taxonomy `{summary.taxonomy_version}` · "
        f"{len(summary.documents)} file(s) ingested, {len(summary.failures)} failed, "
        f"{len(summary.already_ingested)} already in the lake.",
        "## Rows written per dataset",
        _markdown_table(("dataset", "rows"), datasets),
        "## Segments per topic",
        _markdown_table(("topic", "segments"), summary.merged_counts("topic_counts").items()),
        "## Segments per language",
        _markdown_table(("lang", "segments"), summary.merged_counts("lang_counts").items()),
        "## Quarantine",
        _markdown_table(("reason", "rows"), summary.merged_counts("quarantine_counts").items())
        if summary.total("quarantine_rows")
        else "Nothing quarantined.",
    ]
    examples = [f"- {quarantine_message(d)}" for d in summary.documents if d.quarantine_rows]
    if examples:
        parts += ["Examples:", "\n".join(examples)]
    problems = [f.message for f in summary.failures] + summary.input_problems
    if problems:
        parts += ["## Files that could not be ingested", "\n".join(f"- {p}" for p in problems)]
    return "\n\n".join(parts) + "\n"
