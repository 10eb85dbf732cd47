"""The ``ingest`` flow: decode → segment → normalize → language → topic → facts → publish, per file.

Tasks are thin: each calls one library function and adds what orchestration is for — retries on
transient file-system errors, names that say which file, logs and artifacts. Only small
``StagedDocument`` records travel between tasks; the data stays in the run's staging folder
(``<lake>/_staging/<run_id>``), which is why the same flow runs unchanged on a Dask cluster whose
workers share that file system.

A file that fails fails its own task runs (visible in the UI with the file and the reason), not the
run: the run ends Completed (with a warning in its logs and artifact) when at least one file was
ingested or nothing needed ingesting, and Failed when files were given but none could be ingested.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from akhbar import pipeline
from akhbar.faults import checkpoint
from akhbar.inputs import resolve_inputs
from akhbar.lake import run_staging
from akhbar.language import Backend
from akhbar.pipeline import DocumentResult, PlannedFile, StagedDocument
from akhbar.progress import current_progress
from akhbar.report import figures_as_artifact_rows, report_figures, save_report
from akhbar.runs import (
    FileFailure,
    RunSummary,
    file_result_rows,
    quarantine_message,
    render_run_markdown,
    write_run_record,
)
from flows.runners import RunnerKind, make_task_runner
from schemas import ALL_DATASETS

#: Errors that retrying cannot fix: the input is missing, forbidden or not a file.
PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
#: The lake's HTML report, rewritten after every run (dataset globs do not match it).
REPORT_FILE = "report.html"
#: Back-off between the two retries of a stage, in seconds.
RETRY_DELAYS_SECONDS = [1.0, 5.0]


def retry_on_transient_os_error(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Retry only file-system hiccups (EIO, ESTALE on network mounts, ...), never bad input."""
    try:
        state.result()
    except PERMANENT_OS_ERRORS:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False


def stage_task_options(name: str) -> dict[str, object]:
    """Retry policy shared by every per-file stage."""
    return {
        "name": name,
        "retries": 2,
        "retry_delay_seconds": RETRY_DELAYS_SECONDS,
        "retry_condition_fn": retry_on_transient_os_error,
    }


@task(**stage_task_options("fingerprint"))  # type: ignore[untyped-decorator]
def fingerprint_task(source: Path) -> PlannedFile:
    """Hash the file's content."""
    return pipeline.plan_file(source)


@task(**stage_task_options("decode"))  # type: ignore[untyped-decorator]
def decode_task(planned: PlannedFile, work_root: Path) -> StagedDocument:
    """Detect the encoding and decode into numbered lines."""
    return pipeline.decode_document(planned.source, work_root, fingerprint=planned.fingerprint)


@task(**stage_task_options("segment"))  # type: ignore[untyped-decorator]
def segment_task(document: StagedDocument) -> StagedDocument:
    """Sort every line into blank, segment or quarantined."""
    return pipeline.segment_document(document)


@task(**stage_task_options("normalize"))  # type: ignore[untyped-decorator]
def normalize_task(document: StagedDocument) -> StagedDocument:
    """Clean the segments for display and normalize them for matching."""
    return pipeline.normalize_document(document)


@task(**stage_task_options("detect-language"))  # type: ignore[untyped-decorator]
def language_task(document: StagedDocument, backend: Backend) -> StagedDocument:
    """Detect each segment's language."""
    return pipeline.detect_document_languages(document, backend)


@task(**stage_task_options("classify-topic"))  # type: ignore[untyped-decorator]
def topic_task(document: StagedDocument, taxonomy_path: str | None) -> StagedDocument:
    """Score every segment against the taxonomy."""
    return pipeline.classify_document(document, taxonomy_path)


@task(**stage_task_options("extract-facts"))  # type: ignore[untyped-decorator]
def facts_task(document: StagedDocument) -> StagedDocument:
    """Extract dates, quantities and countries."""
    return pipeline.extract_document_facts(document)


@task(**stage_task_options("publish"))  # type: ignore[untyped-decorator]
def publish_task(document: StagedDocument, lake: Path, run_id: str, taxonomy_version: str) -> DocumentResult:
    """Write the document's datasets into the lake atomically."""
    return pipeline.publish_document(document, lake, run_id, taxonomy_version)


def _run_name() -> str:
    """Flow-run name that says what ran: the inputs, how many files they hold, and the lake."""
    parameters = flow_run.get_parameters()
    paths = [str(p) for p in parameters.get("paths", [])]
    names = [Path(p).name or p for p in paths]
    shown = ", ".join(names) if len(names) <= 2 else f"{names[0]} and {len(names) - 1} more"
    files = len(resolve_inputs(paths).files)
    lake = Path(parameters.get("lake", "data/lake")).name
    return f"ingest {shown} ({files} file{'s' if files != 1 else ''}) → {lake}"


def _submit_file(
    planned: PlannedFile,
    work_root: Path,
    lake: Path,
    run_id: str,
    taxonomy_path: str | None,
    taxonomy_version: str,
    lang_backend: Backend,
) -> list[PrefectFuture[object]]:
    """Submit the task chain of one file, each task run named after the file; returns the chain."""
    name = planned.source.name
    decoded = decode_task.with_options(task_run_name=f"decode {name}").submit(planned, work_root)
    segmented = segment_task.with_options(task_run_name=f"segment {name}").submit(decoded)
    normalized = normalize_task.with_options(task_run_name=f"normalize {name}").submit(segmented)
    languages = language_task.with_options(task_run_name=f"detect-language {name}").submit(normalized, lang_backend)
    topics = topic_task.with_options(task_run_name=f"classify-topic {name}").submit(languages, taxonomy_path)
    facts = facts_task.with_options(task_run_name=f"extract-facts {name}").submit(topics)
    published = publish_task.with_options(task_run_name=f"publish {name}").submit(
        facts, lake, run_id, taxonomy_version
    )
    return [decoded, segmented, normalized, languages, topics, facts, published]


STAGES = ("decode", "segment", "normalize", "detect-language", "classify-topic", "extract-facts", "publish")


def _failure_message(source: Path, stage: str, error: BaseException) -> str:
    """One line naming the file, the stage and the error."""
    return f"{source}: {stage} failed: {error.__class__.__name__}: {error}"


def _root_cause(source: Path, chain: list[PrefectFuture[object]]) -> str:
    """The first failed stage of a file's chain and its error, naming the file."""
    for stage, future in zip(STAGES, chain, strict=True):
        if future.state.is_failed():
            try:
                future.result()
            except Exception as error:
                return _failure_message(source, stage, error)
    return f"{source}: did not complete ({chain[-1].state.name})"


@flow(name="ingest", flow_run_name=_run_name, task_runner=make_task_runner(RunnerKind.THREAD))
def ingest(
    paths: list[str],
    lake: str = "data/lake",
    topics: str | None = None,
    force: bool = False,
    lang_backend: Backend = "langdetect",
) -> RunSummary | State[RunSummary]:
    """Ingest raw Arabic news files into the typed Parquet lake and report what happened."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    run_id = str(uuid4())
    lake_path = Path(lake).resolve()
    taxonomy = pipeline.cached_taxonomy(topics)  # a broken taxonomy fails the run before any work
    selection = resolve_inputs(paths)
    for problem in selection.problems:
        logger.error(problem.message)
    for leftover in pipeline.prepare_lake(lake_path):
        logger.warning("removed %s, left by an interrupted run", leftover)
    planned, failures = _fingerprint_all(selection.files)
    plan = pipeline.plan_ingest(lake_path, planned, taxonomy.version, force=force)
    for skipped in plan.already_ingested:
        logger.info("skipping %s: already in the lake as %s", skipped.source, skipped.fingerprint.doc_id[:16])
    logger.info("run %s: %d file(s) to ingest into %s", run_id, len(plan.to_ingest), lake_path)
    with run_staging(lake_path, run_id) as work_root:
        chains = {
            item.source: _submit_file(item, work_root, lake_path, run_id, topics, taxonomy.version, lang_backend)
            for item in plan.to_ingest
        }
        documents, failed = _collect(chains, {item.source: item.fingerprint.size_bytes for item in plan.to_ingest})
    summary = RunSummary(
        run_id=run_id,
        flow_run_id=str(flow_run.get_id()) if flow_run.get_id() else None,
        lake=str(lake_path),
        started_at=started,
        finished_at=datetime.now(UTC),
        taxonomy_version=taxonomy.version,
        documents=sorted(documents, key=lambda d: d.source_path),
        failures=sorted(failures + failed, key=lambda f: f.source_path),
        input_problems=[p.message for p in selection.problems],
        already_ingested=[str(p.source) for p in plan.already_ingested],
    )
    checkpoint("before-run-record")
    write_run_record(lake_path, summary)
    _publish_artifacts(summary, lake_path)
    for document in summary.documents:
        if document.quarantine_rows:
            logger.warning("quarantined %s", quarantine_message(document))
    logger.info("run %s finished: %s", run_id, summary.status)
    if summary.status == "failed":
        quarantined = sum(d.status == "quarantined" for d in summary.documents)
        message = f"nothing could be ingested: {len(summary.failures)} file(s) failed, {quarantined} quarantined whole"
        return Failed(message=message, data=summary)
    return Completed(message=summary.status, data=summary)


def _fingerprint_all(sources: list[Path]) -> tuple[list[PlannedFile], list[FileFailure]]:
    """Hash every input in its own task run; a file that cannot be read fails only its own."""
    futures = {
        source: fingerprint_task.with_options(task_run_name=f"fingerprint {source.name}").submit(source)
        for source in sources
    }
    planned: list[PlannedFile] = []
    failures: list[FileFailure] = []
    for source, future in futures.items():
        try:
            planned.append(future.result())
        except Exception as error:  # the task run failed and says why; the run goes on
            failures.append(FileFailure(str(source), _failure_message(source, "fingerprint", error)))
            get_run_logger().error("could not ingest %s", failures[-1].message)
    return planned, failures


def _collect(
    chains: dict[Path, list[PrefectFuture[object]]], sizes: dict[Path, int]
) -> tuple[list[DocumentResult], list[FileFailure]]:
    """Wait for every file's chain, reporting progress to the UI (artifact) and the terminal."""
    progress = create_progress_artifact(progress=0.0, key="ingest-progress", description="files done / files to do")
    assert isinstance(progress, UUID)  # the sync API returns the id (an awaitable only in async contexts)
    reporter = current_progress()  # a terminal progress bar when the CLI set one
    reporter.start(len(sizes), sum(sizes.values()))
    source_of = {chain[-1]: source for source, chain in chains.items()}
    documents: list[DocumentResult] = []
    failures: list[FileFailure] = []
    for done, future in enumerate(as_completed(list(source_of)), start=1):
        source = source_of[future]
        try:
            documents.append(future.result())  # type: ignore[arg-type]
            reporter.file_done(source, sizes[source], documents[-1].total_lines)
        except Exception:  # one bad file fails its own task runs, not the run
            failures.append(FileFailure(str(source), _root_cause(source, chains[source])))
            get_run_logger().error("could not ingest %s", failures[-1].message)
            reporter.file_done(source, sizes[source], 0)
        update_progress_artifact(progress, progress=100.0 * done / len(source_of))
    reporter.finish()
    if not source_of:
        update_progress_artifact(progress, progress=100.0)
    return documents, failures


def _publish_artifacts(summary: RunSummary, lake: Path) -> None:
    """The run's report in the UI: summary, per-file table, links to the datasets."""
    create_markdown_artifact(
        key="ingest-summary", markdown=render_run_markdown(summary), description=f"akhbar run {summary.run_id}"
    )
    create_table_artifact(
        key="ingest-files", table=file_result_rows(summary), description="per-file results of this run"
    )
    figures = report_figures(lake)
    report = save_report(figures, lake / REPORT_FILE)
    create_table_artifact(
        key="lake-figures", table=figures_as_artifact_rows(figures), description=f"the figures behind {report}"
    )
    create_link_artifact(key="lake-report", link=report.as_uri(), link_text=f"lake report ({report})")
    for dataset in ALL_DATASETS:
        create_link_artifact(
            key=f"dataset-{dataset.name}",
            link=(lake / dataset.name).as_uri(),
            link_text=f"{dataset.name} dataset ({lake / dataset.name})",
            description=f"{dataset.name}: {dataset.row}",
        )
