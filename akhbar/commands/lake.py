"""``akhbar lake``: keep a lake compact and sound — optimize, check, repair, migrate.

Each command takes the lake lock, so it can run beside a scheduled inbox: the run waits its turn.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from akhbar.commands.options import LakeOption
from akhbar.config import ConfigError, load_settings
from akhbar.lake import (
    LakeError,
    LakePath,
    ensure_lake,
    is_lake,
    lake_lock,
    looks_like_format_1,
    optimize_lake,
)

EXIT_PROBLEMS, EXIT_USAGE = 1, 2
lake_app = typer.Typer(help="Keep the lake compact and sound: optimize, check, repair, migrate.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)



def _lake(lake: str | None) -> LakePath:
    """The effective lake folder, which must be an existing akhbar lake."""
    try:
        path = load_settings({"lake": lake} if lake is not None else {}).settings.lake
    except ConfigError as error:
        _fail(str(error))
    if not path.is_dir() or not (is_lake(path) or looks_like_format_1(path)):
        _fail(f"not an akhbar lake: {path}")
    return path


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


@lake_app.command("optimize")
def optimize(lake: LakeOption = None) -> None:
    """Compact every table's small files into large ones, then vacuum what no version needs."""
    path = _lake(lake)
    try:
        with lake_lock(path):
            ensure_lake(path)
            results = optimize_lake(path)
    except LakeError as error:
        _fail(str(error))
    for result in results:
        console.print(
            f"{result.dataset:<11} {result.files_before} → {result.files_after} data file(s), "
            f"{result.removed_files} removed",
            highlight=False,
        )


@lake_app.command("check")
def check(lake: LakeOption = None) -> None:
    """Verify the lake's invariants; exit 1 naming each one broken."""
    from akhbar.lake_check import check_lake_invariants

    problems = check_lake_invariants(_lake(lake))
    for problem in problems:
        errors.print(f"[red]problem:[/red] {escape(problem)}", highlight=False)
    if problems:
        raise typer.Exit(EXIT_PROBLEMS)
    console.print("lake ok: every table reads, every document's lines add up, no orphan rows", highlight=False)


@lake_app.command("repair")
def repair(lake: LakeOption = None) -> None:
    """Drop damaged files and the documents they held, so that the next run re-ingests those inputs."""
    from akhbar.lake_check import repair_lake

    result = repair_lake(_lake(lake))
    for damaged in result.damaged:
        console.print(f"dropped damaged {damaged.dataset} file {escape(damaged.path)}", highlight=False)
    console.print(
        f"removed {len(result.removed_documents)} document(s); run `akhbar run` on their inputs to re-ingest them",
        highlight=False,
    )


@lake_app.command("migrate")
def migrate(lake: LakeOption = None) -> None:
    """Convert a lake of per-document Parquet files (format 1) into Delta tables (runs also do it)."""
    from akhbar.migrate import migrate_lake

    path = _lake(lake)
    if is_lake(path) or not isinstance(path, Path):  # object-store lakes are Delta from the start
        console.print(f"{path} is already a Delta lake: nothing to migrate", highlight=False)
        return
    with lake_lock(path):
        results = migrate_lake(path)
        ensure_lake(path)
    for result in results:
        console.print(
            f"{result.dataset:<11} {result.files} file(s), {result.rows_found} rows found, "
            f"{result.rows_written} written",
            highlight=False,
        )
