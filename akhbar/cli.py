"""The ``akhbar`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from akhbar.commands.analytics import register as register_analytics_commands
from akhbar.commands.lake import lake_app
from akhbar.config import ConfigError, Settings, load_settings
from akhbar.inputs import resolve_inputs
from akhbar.progress import make_progress, reporting_to
from akhbar.runs import RunSummary, quarantine_message
from akhbar.settings import apply_prefect_defaults
from akhbar.shutdown import exit_code_for, hard_exit, run_stoppable
from schemas import ALL_DATASETS

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

app = typer.Typer(help="Raw Arabic news text → clean, classified, typed Parquet datasets.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

#: Exit codes (README "Failure behaviour").
EXIT_OK, EXIT_WARNINGS, EXIT_NOTHING = 0, 1, 2  # the same as RunSummary.exit_code

LakeOption = Annotated[Path | None, typer.Option("--lake", help="Output lake folder [default: data/lake].")]
TopicsOption = Annotated[
    Path | None, typer.Option("--topics", help="Taxonomy TOML to use instead of the packaged one.")
]


@app.callback()
def main() -> None:
    """akhbar: ingest, classify and analyse Arabic news text."""


def _settings(**overrides: object) -> Settings:
    """Effective settings: command line over AKHBAR_* variables over akhbar.toml over defaults."""
    try:
        settings = load_settings({k: v for k, v in overrides.items() if v is not None}).settings
    except ConfigError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(EXIT_NOTHING) from error
    if settings.taxonomy is not None and not settings.taxonomy.is_file():
        errors.print(f"[red]error:[/red] taxonomy file not found: {settings.taxonomy}", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    if settings.prefect_home is not None:  # before Prefect is imported, which reads it once
        os.environ["PREFECT_HOME"] = str(settings.prefect_home)
    apply_prefect_defaults()
    return settings


@app.command()
def run(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (*.txt, recursively) or globs.")],
    lake: LakeOption = None,
    topics: TopicsOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-process files the lake already holds.")] = False,
    runner: Annotated[
        str | None, typer.Option("--runner", help="Where tasks run: thread | dask [default: thread].")
    ] = None,
    dask_address: Annotated[
        str | None, typer.Option("--dask-address", help="Existing Dask scheduler (tcp://HOST:PORT) for --runner dask.")
    ] = None,
    lang_backend: Annotated[
        str | None, typer.Option("--lang-backend", help="langdetect | fasttext [default: langdetect].")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Ingest raw text files into the lake through the Prefect `ingest` flow."""
    selection = resolve_inputs(paths)
    if not selection.files:  # fail fast, before starting Prefect; otherwise the flow reports problems
        for problem in selection.problems:
            errors.print(f"[red]error:[/red] {problem.message}", highlight=False)
        errors.print("nothing to ingest", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    settings = _settings(lake=lake, taxonomy=topics, runner=runner, language_backend=lang_backend)
    from akhbar.local_server import configured_api_url, healthy, prefect_api, prefect_home
    from flows import ingest  # Prefect is imported only once its defaults are in place.
    from flows.control import mark_abandoned
    from flows.runners import RunnerKind, make_task_runner

    flow = ingest.with_options(task_runner=make_task_runner(RunnerKind(settings.runner), dask_address))

    def work() -> State[Any]:
        with reporting_to(make_progress(quiet, sys.stderr.isatty())):
            return flow(
                paths,
                lake=str(settings.lake),
                topics=str(settings.taxonomy) if settings.taxonomy else None,
                force=force,
                lang_backend=settings.language_backend,
                batch_max_bytes=settings.batch_max_bytes,
                batch_max_files=settings.batch_max_files,
                return_state=True,
            )

    # Without PREFECT_API_URL, a local server outside our process group (akhbar/local_server.py); the
    # flow runs in a thread so that SIGINT/SIGTERM always reach this one (akhbar/shutdown.py).
    with prefect_api(prefect_home() / "server", None, services=False):
        api = configured_api_url()
        state, signum = run_stoppable(
            work,
            on_abandon=lambda: mark_abandoned("stopped by a signal"),
            healthy=(lambda: healthy(api)) if api else None,
        )
        if signum is not None:  # stopped in time: say how far it got, then exit 130/143 leaving no child
            errors.print(f"stopped: {state.message}", highlight=False, markup=False)
            hard_exit(exit_code_for(signum))
    summary = state.result(raise_on_failure=False)
    summary = getattr(summary, "summary", summary)  # a Failed run carries it on its exception
    if not isinstance(summary, RunSummary):  # the flow itself crashed (e.g. an invalid taxonomy)
        errors.print(f"[red]error:[/red] {state.message or summary}", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


@app.command()
def serve(
    inbox: Annotated[Path, typer.Option("--inbox", help="Folder where new raw files land.")],
    lake: LakeOption = None,
    topics: TopicsOption = None,
    cron: Annotated[str | None, typer.Option("--cron", help='Cron schedule, e.g. "*/15 * * * *".')] = None,
    interval: Annotated[float | None, typer.Option("--interval", help="Schedule every N seconds.")] = None,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            envvar="AKHBAR_SERVER_PORT",
            help="Port of the local Prefect server and UI started when PREFECT_API_URL is not set.",
        ),
    ] = 4200,
) -> None:
    """Serve the `ingest` deployment over an inbox on a schedule (Prefect's serve) until interrupted."""
    if (cron is None) == (interval is None):
        errors.print("[red]error:[/red] give exactly one of --cron or --interval", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    if inbox.exists() and not inbox.is_dir():
        errors.print(f"[red]error:[/red] inbox is not a folder: {inbox}", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    inbox.mkdir(parents=True, exist_ok=True)  # files land there later
    settings = _settings(lake=lake, taxonomy=topics)
    from flows.deployments import inbox_deployment, serve_inbox

    deployment = inbox_deployment(inbox, settings.lake, cron=cron, interval_seconds=interval, topics=settings.taxonomy)
    serve_inbox(deployment, port, echo=lambda line: console.print(line, highlight=False, markup=False))


@app.command("eval")
def evaluate_command(
    labeled: Annotated[Path, typer.Option("--labeled", help="JSON lines with `text` and `label`.")],
    topics: TopicsOption = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")] = None,
) -> None:
    """Measure topic classification on labeled text: per-class P/R/F1, macro-F1, confusion, calibration."""
    from akhbar.evaluation import LabeledDataError, evaluate, load_labeled, render_report
    from akhbar.topics import TaxonomyError, load_taxonomy

    try:
        report = evaluate(load_labeled(labeled), load_taxonomy(topics))
    except (LabeledDataError, TaxonomyError, OSError) as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(EXIT_NOTHING) from error
    render_report(report, console)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"metrics written to {json_out}", highlight=False)


def _print_summary(summary: RunSummary) -> None:
    """Where the datasets are, and segments per topic."""
    lake = Path(summary.lake)
    console.print(f"[bold]run {summary.run_id}[/bold]: {summary.status}", highlight=False)
    for dataset in ALL_DATASETS:
        console.print(f"  {dataset.name:<11} {lake / dataset.name}", highlight=False)
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
            errors.print(f"[yellow]quarantined[/yellow] {quarantine_message(document)}", highlight=False)


register_analytics_commands(app)
app.add_typer(lake_app, name="lake")

if __name__ == "__main__":
    app()
