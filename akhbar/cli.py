"""The ``akhbar`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from akhbar.inputs import resolve_inputs
from akhbar.runs import RunSummary
from akhbar.settings import apply_prefect_defaults

app = typer.Typer(help="Raw Arabic news text → clean, classified, typed Parquet datasets.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

#: Exit codes (README "Failure behaviour").
EXIT_OK, EXIT_WARNINGS, EXIT_NOTHING = 0, 1, 2  # the same as RunSummary.exit_code

LakeOption = Annotated[Path, typer.Option("--lake", help="Output lake folder.")]
TopicsOption = Annotated[
    Path | None, typer.Option("--topics", help="Taxonomy TOML to use instead of the packaged one.")
]


@app.callback()
def main() -> None:
    """akhbar: ingest, classify and analyse Arabic news text."""


@app.command()
def run(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (*.txt, recursively) or globs.")],
    lake: LakeOption = Path("data/lake"),
    topics: TopicsOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-process files the lake already holds.")] = False,
    runner: Annotated[str, typer.Option("--runner", help="Where tasks run: thread | dask.")] = "thread",
    dask_address: Annotated[
        str | None, typer.Option("--dask-address", help="Existing Dask scheduler (tcp://HOST:PORT) for --runner dask.")
    ] = None,
) -> None:
    """Ingest raw text files into the lake through the Prefect `ingest` flow."""
    selection = resolve_inputs(paths)
    if not selection.files:  # fail fast, before starting Prefect; otherwise the flow reports problems
        for problem in selection.problems:
            errors.print(f"[red]error:[/red] {problem.message}", highlight=False)
        errors.print("nothing to ingest", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    if topics is not None and not topics.is_file():
        errors.print(f"[red]error:[/red] taxonomy file not found: {topics}", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    if runner not in ("thread", "dask"):
        errors.print(f"[red]error:[/red] unknown runner {runner!r}; use thread or dask", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    apply_prefect_defaults()
    from flows import ingest  # Prefect is imported only once its defaults are in place.
    from flows.runners import RunnerKind, make_task_runner

    flow = ingest.with_options(task_runner=make_task_runner(RunnerKind(runner), dask_address))
    state = flow(
        paths,
        lake=str(lake),
        topics=str(topics) if topics else None,
        force=force,
        return_state=True,
    )
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, RunSummary):  # the flow itself crashed (e.g. an invalid taxonomy)
        errors.print(f"[red]error:[/red] {state.message or summary}", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


@app.command()
def serve(
    inbox: Annotated[Path, typer.Option("--inbox", help="Folder where new raw files land.")],
    lake: LakeOption = Path("data/lake"),
    topics: TopicsOption = None,
    cron: Annotated[str | None, typer.Option("--cron", help='Cron schedule, e.g. "*/15 * * * *".')] = None,
    interval: Annotated[float | None, typer.Option("--interval", help="Schedule every N seconds.")] = None,
) -> None:
    """Serve the `ingest` deployment over an inbox on a schedule (Prefect's serve) until interrupted."""
    if (cron is None) == (interval is None):
        errors.print("[red]error:[/red] give exactly one of --cron or --interval", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    if not inbox.is_dir():
        errors.print(f"[red]error:[/red] inbox folder not found: {inbox}", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    apply_prefect_defaults()
    from flows.deployments import inbox_deployment, serve_inbox

    serve_inbox(inbox_deployment(inbox, lake, cron=cron, interval_seconds=interval, topics=topics))


def _print_summary(summary: RunSummary) -> None:
    """Where the datasets are, and segments per topic."""
    lake = Path(summary.lake)
    console.print(f"[bold]run {summary.run_id}[/bold]: {summary.status}", highlight=False)
    for dataset in ("segments", "articles", "documents", "quarantine", "runs"):
        if (lake / dataset).is_dir():
            console.print(f"  {dataset:<11} {lake / dataset}", highlight=False)
    table = Table(title="segments per topic")
    table.add_column("topic")
    table.add_column("segments", justify="right")
    for topic, count in summary.merged_counts("topic_counts").items():
        table.add_row(topic, str(count))
    console.print(table)
    for message in summary.input_problems + [failure.message for failure in summary.failures]:
        errors.print(f"[red]error:[/red] {message}", highlight=False)
    for document in summary.documents:
        if document.quarantine_rows:
            reasons = ", ".join(f"{k}: {v}" for k, v in document.quarantine_counts.items())
            errors.print(f"[yellow]quarantined[/yellow] {document.source_path}: {reasons}", highlight=False)


if __name__ == "__main__":
    app()
