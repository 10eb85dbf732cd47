"""Every ```sql and ```python block of the analyst documentation runs on the seed's lake.

The blocks are read from README.md; while README.md does not contain the analyst guide yet, also
from docs/analyst-guide.md. Blocks run with the working directory set so that ``data/lake`` is a
lake built from the seed by the ``ingest`` flow, as it is after ``make run``. A ```sql block whose
``-- needs:`` line names columns that ``schemas/`` does not declare yet is skipped on that lake,
with a reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from akhbar.analytics import open_lake, run_query
from schemas import ALL_DATASETS

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
GUIDE = REPO_ROOT / "docs" / "analyst-guide.md"
DECLARED = {f"{dataset.name}.{column}" for dataset in ALL_DATASETS for column in dataset.column_names}
FENCE = re.compile(r"^```(\w*)\s*$")
QUESTION = re.compile(r"^\*\*(\d+)\.")
NEEDS = re.compile(r"^--\s*needs:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One fenced code block of a document."""

    where: str
    language: str
    code: str
    question: int | None

    @property
    def needs(self) -> tuple[str, ...]:
        """Columns named on a '-- needs:' line."""
        return tuple(name.strip() for match in NEEDS.findall(self.code) for name in match.split(","))


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file, with the number of the '**N.' question they answer."""
    blocks: list[Block] = []
    body: list[str] = []
    language: str | None = None
    start = 0
    question: int | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line)
        if language is None:
            if fence:
                language, start, body = fence.group(1), number, []
            elif match := QUESTION.match(line):
                question = int(match.group(1))
            elif line.startswith("#"):
                question = None
        elif fence and not fence.group(1):
            blocks.append(Block(f"{path.name}:{start}", language, "\n".join(body), question))
            language, question = None, None
        else:
            body.append(line)
    return blocks


def analyst_documents() -> list[Path]:
    """README.md, plus the analyst guide while README.md does not contain it yet."""
    if not GUIDE.exists():  # merged into README.md and removed
        return [README]
    heading = GUIDE.read_text(encoding="utf-8").splitlines()[0]
    return [README] if heading in README.read_text(encoding="utf-8").splitlines() else [README, GUIDE]


BLOCKS = [block for document in analyst_documents() for block in fenced_blocks(document)]
SQL_BLOCKS = [block for block in BLOCKS if block.language == "sql"]
PYTHON_BLOCKS = [block for block in BLOCKS if block.language == "python"]


def test_the_documents_hold_the_five_questions_and_three_loads() -> None:
    assert sorted(block.question for block in SQL_BLOCKS if block.question) == [1, 2, 3, 4, 5]
    loaders = " ".join(block.code for block in PYTHON_BLOCKS)
    for call in ("DeltaTable(", ".to_pandas(", "pl.scan_delta(", 'spark.read.format("delta")'):
        assert call in loaders


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory: pytest.TempPathFactory, seed_file: Path, prefect_harness: None) -> Path:
    """A folder whose data/lake is the seed ingested by the flow."""
    from flows import ingest

    root = tmp_path_factory.mktemp("readme")
    summary = ingest([str(seed_file)], lake=str(root / "data" / "lake"))
    assert getattr(summary, "exit_code", None) == 0
    return root


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run a block from ``path``, so its relative ``data/lake`` is the test lake."""
    with contextlib.chdir(path):
        yield


def run_sql_block(root: Path, block: Block) -> list[tuple[Any, ...]]:
    """Run a block like `akhbar sql` does (views registered) from ``root``; the last statement's rows."""
    with working_directory(root), open_lake(Path("data/lake"), read_only=False) as connection:
        # Some blocks are for a plain duckdb shell (CREATE VIEW, SET): not the sandboxed akhbar sql.
        relation = run_query(connection, block.code, read_only=False)
        return relation.fetchall() if relation is not None else []


@pytest.mark.parametrize("block", SQL_BLOCKS, ids=lambda block: block.where)
def test_sql_block_runs_on_the_seed_lake(seed_root: Path, block: Block) -> None:
    undeclared = [name for name in block.needs if name not in DECLARED]
    if undeclared:
        pytest.skip(f"needs {', '.join(undeclared)}, not declared in schemas/")
    rows = run_sql_block(seed_root, block)
    if block.question != 5:  # the seed is clean: nothing quarantined
        assert rows, f"{block.where} returned no rows on the seed"


def _answer(root: Path, question: int) -> list[tuple[Any, ...]]:
    (block,) = [b for b in SQL_BLOCKS if b.question == question]
    return run_sql_block(root, block)


def test_answers_on_the_seed(seed_root: Path, seed_file: Path) -> None:
    assert _answer(seed_root, 4) == [(str(seed_file.resolve()), 14, 6, 0.429)]
    assert _answer(seed_root, 5) == []


def test_fact_answers_on_the_seed(seed_root: Path) -> None:
    per_day = _answer(seed_root, 1)
    assert sum(int(row[2]) for row in per_day) == 14
    assert (date(2025, 8, 1), "other", 1) in per_day  # line 11 was "updated 2025/8/1 10:08 PM Abu Dhabi time"
    countries = _answer(seed_root, 2)
    # Top 5 per topic, a segment counted once per country, ties broken by name.
    assert countries[:2] == [("diplomacy", "RU", 8), ("diplomacy", "SY", 8)]
    assert ("markets", "EG", 1) in countries
    gold = _answer(seed_root, 3)
    assert sum(int(row[1]) for row in gold) == 2
    mentioned = [q for row in gold for q in row[2]]
    assert {"value": 2.0, "unit": "%", "kind": "percent"} in mentioned


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: the Spark snippet is not run in CI (the text says how to run it by hand)"
    if importlib.util.find_spec("delta") is None:
        return "delta-spark is not installed: the Spark snippet is not run in CI"
    if shutil.which("java") is None:
        return "no Java runtime for Spark: the Spark snippet is not run in CI"
    return None


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.where)
def test_python_block_runs_on_the_seed_lake(seed_root: Path, block: Block) -> None:
    if "pyspark" in block.code and (reason := _spark_missing()):
        pytest.skip(reason)
    printed = io.StringIO()
    with working_directory(seed_root), contextlib.redirect_stdout(printed):
        exec(compile(block.code, block.where, "exec"), {"__name__": "__readme__"})
    assert "diplomacy" in printed.getvalue(), f"{block.where} printed no per-topic counts"
