"""The ``akhbar`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from akhbar.commands.analytics import register as register_analytics_commands
from akhbar.commands.lake import lake_app
from akhbar.commands.options import LakeOption
from akhbar.commands.preflight import lake_problem, missing_extra, taxonomy_problem
from akhbar.commands.review import review as review_command
from akhbar.config import ConfigError, Settings, load_settings
from akhbar.inputs import resolve_inputs
from akhbar.progress import make_progress, reporting_to
from akhbar.runs import RunSummary, quarantine_message
from akhbar.settings import apply_prefect_defaults
from akhbar.shutdown import exit_code_for, hard_exit, run_stoppable
from akhbar.storage import parse_location
from schemas import ALL_DATASETS

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

app = typer.Typer(help="Raw Arabic news text → clean, classified, typed Parquet datasets.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

#: Exit codes (README "Failure behaviour").
EXIT_OK, EXIT_WARNINGS, EXIT_NOTHING = 0, 1, 2  # the same as RunSummary.exit_code

TaxonomyOption = Annotated[
    Path | None,
    typer.Option("--taxonomy", help="Taxonomy TOML to use instead of the packaged one [env: AKHBAR_TAXONOMY]."),
]
#: Old spellings, kept working but out of --help: one name per idea (option, setting, AKHBAR_* variable).
OldTopicsOption = Annotated[Path | None, typer.Option("--topics", hidden=True, help="Deprecated: --taxonomy.")]
OldLangBackendOption = Annotated[
    str | None, typer.Option("--lang-backend", hidden=True, help="Deprecated: --language-backend.")
]


def _error(message: str) -> None:
    """One "error:" line on stderr; the message is text (paths and OS errors hold "[...]"), never markup."""
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def _renamed(new: object, old: object, old_name: str, new_name: str) -> object:
    """The value of an option given under its new or its deprecated name (with a warning for the latter)."""
    if old is None:
        return new
    errors.print(f"warning: {old_name} is deprecated; use {new_name}", highlight=False, markup=False)
    if new is not None and new != old:
        _error(f"{old_name} and {new_name} are the same option: give it once")
        raise typer.Exit(EXIT_NOTHING)
    return old


@app.callback()
def main() -> None:
    """akhbar: ingest, classify and analyse Arabic news text."""


def _settings(**overrides: object) -> Settings:
    """Effective settings: command line over AKHBAR_* variables over akhbar.toml over defaults."""
    try:
        settings = load_settings({k: v for k, v in overrides.items() if v is not None}).settings
    except ConfigError as error:
        _error(str(error))
        raise typer.Exit(EXIT_NOTHING) from error
    if settings.taxonomy is not None and not settings.taxonomy.is_file():
        _error(f"taxonomy file not found: {settings.taxonomy}")
        raise typer.Exit(EXIT_NOTHING)
    if settings.prefect_home is not None:  # before Prefect is imported, which reads it once
        os.environ["PREFECT_HOME"] = str(settings.prefect_home)
    apply_prefect_defaults()
    return settings


def _preflight(settings: Settings) -> None:
    """Refuse, in one line and before Prefect starts, what would fail inside the flow."""
    problems = [lake_problem(settings.lake), taxonomy_problem(settings.taxonomy)]
    if settings.runner == "dask":
        problems.append(missing_extra("dask", "--runner dask"))
    if settings.language_backend == "fasttext":
        problems.append(missing_extra("fasttext", "the fasttext language backend"))
    for problem in problems:
        if problem is not None:
            _error(problem)
            raise typer.Exit(EXIT_NOTHING)


@app.command()
def run(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (*.txt, recursively) or globs.")],
    lake: LakeOption = None,
    taxonomy: TaxonomyOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-process files the lake already holds.")] = False,
    runner: Annotated[
        str | None,
        typer.Option("--runner", help="Where tasks run: thread | dask [default: thread; env: AKHBAR_RUNNER]."),
    ] = None,
    dask_address: Annotated[
        str | None, typer.Option("--dask-address", help="Existing Dask scheduler (tcp://HOST:PORT) for --runner dask.")
    ] = None,
    dask_workers: Annotated[
        int | None,
        typer.Option(
            "--dask-workers", help="Worker processes of a local Dask cluster [default: 2; env: AKHBAR_DASK_WORKERS]."
        ),
    ] = None,
    language_backend: Annotated[
        str | None,
        typer.Option(
            "--language-backend", help="langdetect | fasttext [default: langdetect; env: AKHBAR_LANGUAGE_BACKEND]."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    topics: OldTopicsOption = None,
    lang_backend: OldLangBackendOption = None,
) -> None:
    """Ingest raw text files into the lake through the Prefect `ingest` flow."""
    selection = resolve_inputs(paths)
    if not selection.files:  # fail fast, before starting Prefect; otherwise the flow reports problems
        for problem in selection.problems:
            _error(problem.message)
        errors.print("nothing to ingest", highlight=False, markup=False)
        raise typer.Exit(EXIT_NOTHING)
    settings = _settings(
        lake=lake,
        taxonomy=_renamed(taxonomy, topics, "--topics", "--taxonomy"),
        runner=runner,
        dask_workers=dask_workers,
        language_backend=_renamed(language_backend, lang_backend, "--lang-backend", "--language-backend"),
    )
    _preflight(settings)
    from akhbar.local_server import configured_api_url, healthy, prefect_api, prefect_home
    from flows import ingest  # Prefect is imported only once its defaults are in place.
    from flows.control import mark_abandoned
    from flows.runners import RunnerKind, make_task_runner

    task_runner = make_task_runner(RunnerKind(settings.runner), dask_address, settings.dask_workers)
    flow = ingest.with_options(task_runner=task_runner)

    def work() -> State[Any]:
        with reporting_to(make_progress(quiet, sys.stderr.isatty())):
            return flow(
                paths,
                lake=str(settings.lake),
                topics=str(settings.taxonomy) if settings.taxonomy else None,  # the flow's own parameter names
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
        _error(f"{state.message or summary}")
        raise typer.Exit(EXIT_NOTHING)
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


@app.command()
def serve(
    inbox: Annotated[Path, typer.Option("--inbox", help="Folder where new raw files land.")],
    lake: LakeOption = None,
    taxonomy: TaxonomyOption = None,
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
    topics: OldTopicsOption = None,
) -> None:
    """Serve the `ingest` deployment over an inbox on a schedule (Prefect's serve) until interrupted."""
    if (cron is None) == (interval is None):
        _error("give exactly one of --cron or --interval")
        raise typer.Exit(EXIT_NOTHING)
    if inbox.exists() and not inbox.is_dir():
        _error(f"inbox is not a folder: {inbox}")
        raise typer.Exit(EXIT_NOTHING)
    settings = _settings(lake=lake, taxonomy=_renamed(taxonomy, topics, "--topics", "--taxonomy"))
    _preflight(settings)
    if not isinstance(settings.lake, Path):
        _error(f"akhbar serve writes to a local lake folder; {settings.lake} is on object storage (use akhbar run)")
        raise typer.Exit(EXIT_NOTHING)
    inbox.mkdir(parents=True, exist_ok=True)  # files land there later
    from flows.deployments import inbox_deployment, serve_inbox

    deployment = inbox_deployment(inbox, settings.lake, cron=cron, interval_seconds=interval, topics=settings.taxonomy)
    serve_inbox(deployment, port, echo=lambda line: console.print(line, highlight=False, markup=False))


@app.command("eval")
def evaluate_command(
    labeled: Annotated[Path, typer.Option("--labeled", help="JSON lines with `text` and `label`.")],
    taxonomy: TaxonomyOption = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")] = None,
    topics: OldTopicsOption = None,
) -> None:
    """Measure topic classification on labeled text: per-class P/R/F1, macro-F1, confusion, calibration."""
    from akhbar.evaluation import LabeledDataError, evaluate, load_labeled, render_report
    from akhbar.topics import TaxonomyError, load_taxonomy

    try:
        chosen = _settings(taxonomy=_renamed(taxonomy, topics, "--topics", "--taxonomy")).taxonomy
        report = evaluate(load_labeled(labeled), load_taxonomy(chosen))
    except (LabeledDataError, TaxonomyError, OSError) as error:
        _error(str(error))
        raise typer.Exit(EXIT_NOTHING) from error
    render_report(report, console)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"metrics written to {json_out}", highlight=False, markup=False)


def _print_summary(summary: RunSummary) -> None:
    """Where the datasets are, and segments per topic."""
    lake = parse_location(summary.lake)  # a folder or s3://bucket/prefix
    console.print(f"[bold]run {escape(summary.run_id)}[/bold]: {summary.status}", highlight=False)
    for dataset in ALL_DATASETS:
        console.print(f"  {dataset.name:<11} {lake / dataset.name}", highlight=False, markup=False)
    table = Table(title="segments per topic")
    table.add_column("topic")
    table.add_column("segments", justify="right")
    for topic, count in summary.merged_counts("topic_counts").items():
        table.add_row(escape(topic), str(count))  # a table cell is markup too
    console.print(table)
    for message in summary.input_problems + [failure.message for failure in summary.failures]:
        _error(message)
    for document in summary.documents:
        if document.quarantine_rows:
            errors.print(f"[yellow]quarantined[/yellow] {escape(quarantine_message(document))}", highlight=False)


register_analytics_commands(app)
app.add_typer(lake_app, name="lake")
app.command("review")(review_command)

if __name__ == "__main__":
    app()
