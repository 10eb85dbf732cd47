"""The `akhbar` command line: exit codes and messages that name what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from akhbar.cli import EXIT_NOTHING, EXIT_WARNINGS, app

runner = CliRunner()


def test_missing_path_only_writes_nothing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["run", str(tmp_path / "nope.txt"), "--lake", str(lake)])
    assert result.exit_code == EXIT_NOTHING
    assert f"path not found: {tmp_path / 'nope.txt'}" in result.output
    assert not lake.exists()


def test_empty_directory_is_named(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    result = runner.invoke(app, ["run", str(tmp_path / "inbox"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == EXIT_NOTHING
    assert f"no *.txt files under {tmp_path / 'inbox'}" in result.output


def test_missing_taxonomy_file_is_named(tmp_path: Path, seed_file: Path) -> None:
    result = runner.invoke(app, ["run", str(seed_file), "--lake", str(tmp_path / "lake"), "--topics", "x.toml"])
    assert result.exit_code == EXIT_NOTHING
    assert "taxonomy file not found: x.toml" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_run_ingests_good_input_and_reports_the_missing_one(tmp_path: Path, seed_file: Path) -> None:
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["run", str(seed_file), str(tmp_path / "gone.txt"), "--lake", str(lake)])
    assert result.exit_code == EXIT_WARNINGS, result.output
    assert f"path not found: {tmp_path / 'gone.txt'}" in result.output
    assert str(lake / "segments") in result.output
    assert "segments per topic" in result.output
    assert "diplomacy" in result.output
    assert len(list((lake / "segments").glob("*.parquet"))) == 2  # the document and the schema file
