"""Messages are printed as text, never as rich markup: paths and OS errors often hold "[...]"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akhbar import cli
from akhbar.cli import EXIT_NOTHING, app
from akhbar.pipeline import DocumentResult
from akhbar.runs import FileFailure, RunSummary

runner = CliRunner()


def test_a_missing_pattern_is_named_with_its_brackets(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    result = runner.invoke(app, ["run", str(tmp_path / "w" / "[only].txt"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == EXIT_NOTHING
    assert f"pattern '{tmp_path / 'w' / '[only].txt'}' matched no files" in result.output


def test_summary_prints_brackets_and_markup_like_text(capsys: pytest.CaptureFixture[str]) -> None:
    when = datetime(2025, 8, 1, tzinfo=UTC)
    document = DocumentResult(
        "in/[/]odd[bold].txt", "d" * 64, "utf-8", "ingested", 2, 0, 1, 1, 1, 1,
        {"[/]sports": 1}, {"ar": 1}, {"invalid_encoding": 1}, [(2, "invalid_encoding")],
    )  # fmt: skip
    failure = FileFailure("in/full.txt", "cannot write in/full.txt: [Errno 28] No space left on device")
    summary = RunSummary("run-1", None, "lake/[x]", when, when, "v1", [document], [failure], ["path [/] gone"])
    cli._print_summary(summary)  # raised rich.errors.MarkupError before the fix
    out, err = capsys.readouterr()
    assert "lake/[x]/segments" in out
    assert "[/]sports" in out
    assert "error: cannot write in/full.txt: [Errno 28] No space left on device" in err
    assert "error: path [/] gone" in err
    assert "quarantined in/[/]odd[bold].txt: line 2 invalid_encoding" in err


@pytest.mark.parametrize("lake", ["[red]lake", "lake[/]"])
def test_sql_errors_keep_their_brackets(tmp_path: Path, lake: str) -> None:
    result = runner.invoke(app, ["sql", "SELECT 1", "--lake", str(tmp_path / lake)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: lake not found: {tmp_path / lake}"


def test_config_prints_a_bracketed_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "--lake", "data/[/]lake"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "data/[/]lake" in result.stdout
