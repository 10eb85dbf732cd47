"""Settings: defaults < akhbar.toml < AKHBAR_* environment < command line, and where each value came from."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akhbar.cli import app
from akhbar.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AKHBAR_* variable from the caller, and a working directory without akhbar.toml."""
    for name in list(os.environ):
        if name.startswith("AKHBAR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults() -> None:
    effective = load_settings()
    assert effective.settings == Settings(
        lake=Path("data/lake"), taxonomy=None, runner="thread", language_backend="langdetect", prefect_home=None
    )
    assert set(effective.sources.values()) == {"default"}


def test_precedence_and_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "akhbar.toml").write_text(
        'lake = "from-file/lake"\nrunner = "dask"\ntaxonomy = "topics.toml"\n', encoding="utf-8"
    )
    monkeypatch.setenv("AKHBAR_RUNNER", "thread")
    monkeypatch.setenv("AKHBAR_LANGUAGE_BACKEND", "fasttext")
    monkeypatch.setenv("AKHBAR_TAXONOMY", "env-topics.toml")
    effective = load_settings({"taxonomy": Path("cli-topics.toml"), "lake": None})
    settings = effective.settings
    assert (settings.lake, settings.runner, settings.language_backend, settings.taxonomy) == (
        Path("from-file/lake"),
        "thread",
        "fasttext",
        Path("cli-topics.toml"),
    )
    assert effective.sources == {
        "lake": "akhbar.toml",
        "taxonomy": "command line",
        "runner": "environment",
        "dask_workers": "default",
        "batch_max_bytes": "default",
        "batch_max_files": "default",
        "language_backend": "environment",
        "prefect_home": "default",
    }
    rows = {name: (value, source) for name, value, source in effective.rows()}
    assert rows["runner"] == ("thread", "environment (AKHBAR_RUNNER)")
    assert rows["prefect_home"] == ("(Prefect's default)", "default")


def test_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKHBAR_LAKE", "")
    effective = load_settings()
    assert (effective.settings.lake, effective.sources["lake"]) == (Path("data/lake"), "default")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("", {"AKHBAR_RUNNER": "spark"}, "setting 'runner' = 'spark' from environment (AKHBAR_RUNNER): Input"),
        ('language_backend = "cld3"\n', {}, "setting 'language_backend' = 'cld3' from akhbar.toml: Input should be"),
        ('lakes = "typo"\n', {}, "setting 'lakes' = 'typo' from akhbar.toml: Extra inputs are not permitted"),
        ('lake = "unterminated\n', {}, "akhbar.toml: Illegal character"),
    ],
)
def test_invalid_settings_name_setting_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict[str, str], message: str
) -> None:
    if toml:
        (tmp_path / "akhbar.toml").write_text(toml, encoding="utf-8")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings()


def test_config_command_prints_values_and_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "akhbar.toml").write_text('runner = "dask"\n', encoding="utf-8")
    monkeypatch.setenv("AKHBAR_PREFECT_HOME", "/srv/prefect")
    result = CliRunner().invoke(app, ["config", "--lake", "elsewhere/lake"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") == 4}
    assert "elsewhere/lake" in lines["lake"] and "command line" in lines["lake"]
    assert "dask" in lines["runner"] and "akhbar.toml" in lines["runner"]
    assert "/srv/prefect" in lines["prefect_home"] and "environment (AKHBAR_PREFECT_HOME)" in lines["prefect_home"]
    assert "(packaged taxonomy)" in lines["taxonomy"] and "default" in lines["taxonomy"]


def test_config_command_invalid_value_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["config", "--runner", "spark"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: setting 'runner' = 'spark' from command line: Input should be 'thread' or 'dask'"
    ]


def test_one_name_per_idea_option_setting_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKHBAR_DASK_WORKERS", "6")
    monkeypatch.setenv("AKHBAR_LANGUAGE_BACKEND", "fasttext")
    monkeypatch.setenv("AKHBAR_TAXONOMY", "env-topics.toml")
    effective = load_settings()
    assert (effective.settings.dask_workers, effective.sources["dask_workers"]) == (6, "environment")
    assert effective.settings.language_backend == "fasttext"
    assert effective.settings.taxonomy == Path("env-topics.toml")
    result = CliRunner().invoke(
        app, ["config", "--dask-workers", "3", "--language-backend", "langdetect"], env={"COLUMNS": "200"}
    )
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") == 4}
    assert "3" in lines["dask_workers"] and "command line" in lines["dask_workers"]
    assert "langdetect" in lines["language_backend"]


def test_dask_workers_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKHBAR_DASK_WORKERS", "0")
    with pytest.raises(ConfigError, match="'dask_workers' = '0' from environment \\(AKHBAR_DASK_WORKERS\\)"):
        load_settings()
