"""The ``ingest`` flow: fingerprint, plan, then per batch of files decode → the stage table → publish.

Tasks are thin: each calls one library function and adds what orchestration is for — retries on
transient file-system errors, names that say which batch, logs and artifacts. A task run holds a
meaningful chunk of work: a batch of files bounded by bytes and count (``akhbar.stages``), never
one tiny file, so a 5,000-file inbox is a handful of task runs, not tens of thousands. Only small
``StagedBatch`` records travel between tasks; the data stays in the run's staging folder
(``<lake>/_staging/<run_id>``).

A file that cannot be read or decoded fails alone (named in the logs, the artifacts and the run
summary), not its batch. The run ends Completed — also when nothing was new — and Failed only when
it was given new files and could ingest none of them.

Stopping (``akhbar.shutdown``): after SIGINT/SIGTERM or a cancellation no stage starts (each task
checks first and ends Cancelled), the flow waits for the stages already running — so the staging
folder is never removed under a task still writing to it — records the run as ``interrupted``
when the lake lock is free quickly, and ends Cancelled; the next run resumes.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from uuid import UUID, uuid4

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed
from prefect.utilities.annotations import opaque, quote

from akhbar import stages
from akhbar.assets import Materialization, materializations
from akhbar.decode import InputPath
from akhbar.faults import checkpoint
from akhbar.inputs import InputProblem, InputSelection, resolve_inputs
from akhbar.lake import (
    REPORT_FILE,
    STAGING_IN_USE,
    LakePath,
    lake_lock,
    prepare_lake,
    run_staging,
    write_text_atomically,
)
from akhbar.language import Backend
from akhbar.progress import current_progress
from akhbar.publish import BatchResult, apply_path_changes, publish_batch
from akhbar.report import figures_as_artifact_rows, render_report_html, report_figures
from akhbar.review import artifact_rows, lake_frames, review_queue, topic_samples
from akhbar.runs import (
    FileFailure,
    RunSummary,
    file_result_rows,
    quarantine_message,
    render_run_markdown,
    run_record,
    write_run_record,
)
from akhbar.settings import BATCH_MAX_BYTES, BATCH_MAX_FILES
from akhbar.shutdown import (
    STOP_DEADLINE_SECONDS,
    StopRequested,
    bounded,
    raise_if_stopped,
    request_stop,
    reset_stop,
    stop_reason,
    stop_requested,
)
from akhbar.stages import STAGES, IngestPlan, PlannedFile, StageOptions
from akhbar.staging import StagedBatch
from akhbar.storage import location_str, parse_location
from flows.control import note_flow_run
from flows.runners import THREAD_WORKERS, RunnerKind, make_task_runner
from schemas import ALL_DATASETS, RUNS

#: Errors that retrying cannot fix: the input is missing, forbidden or not a file.
PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
#: Back-off between the two retries of a stage, in seconds.
RETRY_DELAYS_SECONDS = [1.0, 5.0]
#: Files hashed per fingerprint task run.
FINGERPRINT_GROUP_FILES = 5_000
R = TypeVar("R")
T = TypeVar("T")
#: Each batch's task runs so far (decode first), by batch number, with the batch's files.
Chains = dict[int, tuple[list[PlannedFile], list[PrefectFuture[object]]]]
#: Batches under way at once: one task run each, so every task thread does work (see _run_batches).
BATCHES_IN_FLIGHT = THREAD_WORKERS
STAGE_BY_NAME = {stage.name: stage for stage in STAGES}
#: Stages that take fewer batches at once than the threads (see ``Stage.max_batches``).
STAGE_LIMITS = {stage.name: stage.max_batches for stage in STAGES if stage.max_batches is not None}
#: How often the flow looks at the stop request while it waits for task runs, in seconds.
STOP_POLL_SECONDS = 0.2
#: After a stop, the run record is written only if that takes at most this long (the lake lock may
#: be held by another run; the process must still exit within its deadline).
INTERRUPTED_RECORD_SECONDS = 3.0


class NothingIngested(Exception):
    """The run was given new files and could ingest none of them; carries the run's summary."""

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self) -> tuple[type[NothingIngested], tuple[str, RunSummary]]:
        return (NothingIngested, (str(self), self.summary))


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
    """Retry policy shared by every stage."""
    return {
        "name": name,
        "retries": 2,
        "retry_delay_seconds": RETRY_DELAYS_SECONDS,
        "retry_condition_fn": retry_on_transient_os_error,
    }


@task(**stage_task_options("fingerprint"))  # type: ignore[untyped-decorator]
def fingerprint_task(sources: list[InputPath]) -> tuple[list[PlannedFile], list[FileFailure]] | State[object]:
    """Hash the files' content."""
    if stop_requested():
        return _not_started()
    return stages.fingerprint_files(sources)


@task(**stage_task_options("decode"))  # type: ignore[untyped-decorator]
def decode_task(
    files: list[PlannedFile], number: int, work_root: LakePath, paths_by_doc: dict[str, tuple[str, ...]]
) -> StagedBatch | State[object]:
    """Detect the encodings and decode the batch's files into numbered lines."""
    if stop_requested():
        return _not_started()
    return stages.decode_batch(files, number, work_root, paths_by_doc)


@task(**stage_task_options("stage"))  # type: ignore[untyped-decorator]
def stage_task(stage_name: str, batch: StagedBatch, options: StageOptions) -> StagedBatch | State[object]:
    """One stage of the table (segment, normalize, detect-language, classify-topic, extract-facts)."""
    if stop_requested():
        return _not_started()
    return STAGE_BY_NAME[stage_name].run(batch, options)


@task(**stage_task_options("publish"))  # type: ignore[untyped-decorator]
def publish_task(
    batch: StagedBatch, lake: LakePath, run_id: str, taxonomy_version: str, plan: IngestPlan
) -> BatchResult | State[object]:
    """Commit the batch's rows to the lake's tables, documents last."""
    if stop_requested():
        return _not_started()
    return publish_batch(batch, lake, run_id, taxonomy_version, plan.superseded_by, plan.reingested)


def _not_started() -> State[object]:
    """The state of a task that a stop request reached before it started: Cancelled, not Failed."""
    return Cancelled(message=f"not started: {stop_reason()}")


def _run_name() -> str:
    """Flow-run name that says what ran: the inputs and the lake (counts are in the final message)."""
    parameters = flow_run.get_parameters()
    names = [Path(str(p)).name or str(p) for p in parameters.get("paths", [])]
    shown = ", ".join(names) if len(names) <= 2 else f"{names[0]} and {len(names) - 1} more"
    lake = Path(str(parameters.get("lake", "data/lake"))).name
    return f"ingest {shown} → {lake}"


@dataclass(frozen=True)
class BatchRun:
    """What every task run of a run's batches needs besides its batch."""

    work_root: LakePath
    lake: LakePath
    run_id: str
    plan: IngestPlan
    taxonomy_version: str
    options: StageOptions


def _submit_step(step: int, number: int, files: list[PlannedFile], previous: PrefectFuture[object] | None,
                 run: BatchRun) -> PrefectFuture[object]:  # fmt: skip
    """Submit step ``step`` of ``STAGE_NAMES`` for one batch, its task run named after the batch."""
    name = stages.STAGE_NAMES[step]
    named = {"task_run_name": f"{name} {stages_label(number, files)}"}
    as_is, resolved = _parameter_wrappers()
    if previous is None:
        paths = {item.fingerprint.doc_id: run.plan.paths_by_doc.get(item.fingerprint.doc_id, ()) for item in files}
        return decode_task.with_options(**named).submit(as_is(files), number, run.work_root, as_is(paths))
    if name == "publish":
        return publish_task.with_options(**named).submit(
            resolved(previous), run.lake, run.run_id, run.taxonomy_version, as_is(run.plan)
        )
    return stage_task.with_options(**named).submit(name, resolved(previous), run.options)


def _unwrapped(value: T) -> T:
    return value


def _parameter_wrappers() -> tuple[Callable[[T], T], Callable[[T], T]]:
    """How to pass a batch's records, and an upstream task's result, to a task run.

    On threads, ``quote`` (pass as is) and ``opaque`` (resolve the future, do not look inside):
    Prefect would otherwise walk every file record of a parameter, looking for futures, in every
    task run — seconds of CPU under the GIL for a batch of thousands of small files. Dask unpacks
    the annotations (tuples to it) on its own: there, parameters go plain, and are serialized anyway.
    """
    if _workers_elsewhere():
        return _unwrapped, _unwrapped
    return quote, opaque  # type: ignore[return-value]


def stages_label(number: int, files: list[PlannedFile]) -> str:
    """``batch 3 (412 files, 31.2 MB)``."""
    from akhbar.staging import batch_label

    return batch_label(number, len(files), sum(item.fingerprint.size_bytes for item in files))


def _root_cause(files: list[PlannedFile], chain: list[PrefectFuture[object]]) -> list[FileFailure]:
    """The first failed stage of a batch's chain, as one failure per file of the batch."""
    for stage, future in zip(stages.STAGE_NAMES, chain, strict=False):  # a chain stops at its failed step
        if future.state.is_failed():
            try:
                future.result()
            except Exception as error:
                return [FileFailure(str(f.source), stages.failure_message(f.source, stage, error)) for f in files]
    return [FileFailure(str(f.source), f"{f.source}: did not complete ({chain[-1].state.name})") for f in files]


@flow(name="ingest", flow_run_name=_run_name, task_runner=make_task_runner(RunnerKind.THREAD))
def ingest(
    paths: list[str],
    lake: str = "data/lake",
    topics: str | None = None,
    force: bool = False,
    lang_backend: Backend = "langdetect",
    batch_max_bytes: int = BATCH_MAX_BYTES,
    batch_max_files: int = BATCH_MAX_FILES,
    inbox: bool = False,
) -> RunSummary | State[RunSummary]:
    """Ingest raw Arabic news files into the lake's Delta tables and report what happened."""
    logger = get_run_logger()
    note_flow_run()  # so that a process abandoning this run can still mark it Crashed
    started = datetime.now(UTC)
    run_id = str(uuid4())
    lake_path = parse_location(lake).resolve()
    taxonomy = stages.cached_taxonomy(topics)  # a broken taxonomy fails the run before any work
    options = StageOptions(taxonomy_path=topics, lang_backend=lang_backend)
    selection = select_inputs(paths, inbox=inbox)
    for problem in selection.problems:
        logger.error(problem.message)
    for undone in prepare_lake(lake_path):
        logger.warning(undone)
    try:
        planned, failures = _fingerprint_all(selection.files)
    except StopRequested as stop:
        return Cancelled(message=f"stopped before any file was ingested ({stop}); the next run starts over")
    plan = stages.plan_ingest(lake_path, planned, taxonomy.version, force=force)
    batches = stages.plan_batches(plan.to_ingest, batch_max_bytes, batch_max_files)
    logger.info(
        "run %s: %d new file(s) in %d batch(es), %d already in the lake, into %s",
        run_id,
        len(plan.to_ingest),
        len(batches),
        len(plan.already_ingested),
        lake_path,
    )
    with run_staging(lake_path, run_id, shared=_workers_elsewhere()) as work_root:
        chains: Chains = {}
        try:
            results, failed = _run_batches(
                batches, BatchRun(work_root, lake_path, run_id, plan, taxonomy.version, options), chains
            )
        except BaseException as error:  # a signal, a cancellation (Prefect's TerminationSignal) or a bug
            request_stop(f"{type(error).__name__}: {error}" if not stop_requested() else stop_reason())
            # Stages already running finish first: the staging folder goes when this block ends.
            running = wait([f for _, chain in chains.values() for f in chain], timeout=STOP_DEADLINE_SECONDS).not_done
            if running and isinstance(work_root, Path):  # abandoned with the process: kept for the next run
                (work_root / STAGING_IN_USE).touch()
                logger.warning("%d task run(s) still running after the stop; leaving %s", len(running), work_root)
            if isinstance(error, Exception) and not isinstance(error, StopRequested):
                reset_stop()  # a failure, not a stop: later runs in this process must not inherit it
            if not isinstance(error, StopRequested):
                raise
            results, failed = _published(chains), []
            logger.warning("run %s stopped (%s): %d of %d batch(es) published", run_id, error, len(results),
                           len(chains))  # fmt: skip
    interrupted = stop_requested()
    if not interrupted:
        removed = apply_path_changes(lake_path, plan.path_changes)
        if removed:
            logger.info("removed %d document(s) that no input path holds any more", len(removed))
    summary = RunSummary(
        run_id=run_id,
        flow_run_id=str(flow_run.get_id()) if flow_run.get_id() else None,
        lake=location_str(lake_path),
        started_at=started,
        finished_at=datetime.now(UTC),
        taxonomy_version=taxonomy.version,
        documents=sorted((d for r in results for d in r.documents), key=lambda d: d.source_path),
        failures=sorted(failures + failed + [f for r in results for f in r.failures], key=lambda f: f.source_path),
        input_problems=[p.message for p in selection.problems],
        already_ingested=[str(p.source) for p in plan.already_ingested],
        interrupted=interrupted,
    )
    if interrupted:
        recorded = _record_interrupted(lake_path, summary)
        return Cancelled(
            message=f"interrupted ({stop_reason()}): {summary.counts_message}; "
            f"{'recorded' if recorded else 'not recorded'} in runs; the next run resumes",
            data=summary,
        )
    for failure in summary.failures:
        logger.error("could not ingest %s", failure.message)
    checkpoint("before-run-record")
    write_run_record(lake_path, summary)
    _publish_artifacts(summary, lake_path, new_data=bool(summary.documents))
    for document in summary.documents:
        if document.quarantine_rows:
            logger.warning("quarantined %s", quarantine_message(document))
    message = summary.counts_message
    logger.info("run %s finished: %s (%s)", run_id, summary.status, message)
    if summary.status == "failed":
        return Failed(message=f"nothing could be ingested: {message}", data=NothingIngested(message, summary))
    if not summary.documents and not summary.failures:  # an idle scheduled run is a success
        known = len(summary.already_ingested)
        return Completed(message=f"nothing new ({known} file{'s' if known != 1 else ''} already in the lake)",
                         data=summary)  # fmt: skip
    return Completed(message=f"{summary.status}: {message}", data=summary)


def select_inputs(paths: list[str], *, inbox: bool) -> InputSelection:
    """The input files; an inbox (a scheduled run's folder) that is missing is created, and an empty
    one is not a problem: nothing arrived yet."""
    if not inbox:
        return resolve_inputs(paths)
    logger = get_run_logger()
    for path in map(Path, paths):
        if not path.exists():
            path.mkdir(parents=True, exist_ok=True)
            logger.warning("inbox folder %s did not exist; created it", path)
    selection = resolve_inputs(paths)
    empty = {f"no *.txt files under {path}" for path in paths}
    problems: list[InputProblem] = [p for p in selection.problems if p.message not in empty]
    return InputSelection(files=selection.files, problems=problems)


def _until_done(futures: list[PrefectFuture[R]]) -> Iterator[PrefectFuture[R]]:
    """The futures as they finish; raises StopRequested as soon as a stop is requested."""
    pending = list(futures)
    while pending:
        raise_if_stopped()
        done = wait(pending, timeout=STOP_POLL_SECONDS).done
        pending = [future for future in pending if future not in done]
        yield from (future for future in futures if future in done)


def _drain(items: queue.Queue[R]) -> list[R]:
    """Everything in the queue now, without waiting."""
    drained = []
    while True:
        try:
            drained.append(items.get_nowait())
        except queue.Empty:
            return drained


def _published(chains: Chains) -> list[BatchResult]:
    """The results of the batches whose publish completed (after a stop)."""
    return [
        chain[-1].result()  # type: ignore[misc]
        for _, chain in chains.values()
        if len(chain) == len(stages.STAGE_NAMES) and chain[-1].state.is_completed()
    ]


def _record_interrupted(lake: LakePath, summary: RunSummary) -> bool:
    """Write the ``interrupted`` runs row if that takes at most INTERRUPTED_RECORD_SECONDS.

    In a daemon thread: another run may hold the lake lock, and the process must exit on time; a
    write abandoned by the exit is one Delta commit that either happened or did not.
    """
    return bounded(lambda: write_run_record(lake, summary), INTERRUPTED_RECORD_SECONDS)


def _workers_elsewhere() -> bool:
    """True unless the tasks run on this machine's threads (Dask workers may be on other machines)."""
    from prefect.context import FlowRunContext
    from prefect.task_runners import ThreadPoolTaskRunner

    context = FlowRunContext.get()
    return not (context is not None and isinstance(context.task_runner, ThreadPoolTaskRunner))


def _fingerprint_all(sources: list[InputPath]) -> tuple[list[PlannedFile], list[FileFailure]]:
    """Hash the inputs in groups (one task run per group, not per file); unreadable files fail alone."""
    groups = [sources[i : i + FINGERPRINT_GROUP_FILES] for i in range(0, len(sources), FINGERPRINT_GROUP_FILES)]
    futures = [
        fingerprint_task.with_options(task_run_name=f"fingerprint {len(group)} file(s)").submit(
            _parameter_wrappers()[0](group)
        )
        for group in groups
    ]
    list(_until_done(futures))
    raise_if_stopped()
    planned: list[PlannedFile] = []
    failures: list[FileFailure] = []
    for future in futures:
        done, failed = future.result()
        planned += done
        failures += failed
    return planned, failures


def _run_batches(
    batches: list[list[PlannedFile]], run: BatchRun, chains: Chains
) -> tuple[list[BatchResult], list[FileFailure]]:
    """Take every batch through decode → the stage table → publish; report progress (UI and terminal).

    A batch's next step is submitted when its previous one completes (and its stage has room:
    ``Stage.max_batches``), and at most ``BATCHES_IN_FLIGHT`` batches are under way: no task thread
    sits waiting for an upstream task run, so the threads run stages of different batches side by
    side (language detection of one batch beside publishing of another). ``chains`` (filled here)
    holds each batch's task runs so far.
    """
    progress = create_progress_artifact(progress=0.0, key="ingest-progress", description="batches done / batches")
    assert isinstance(progress, UUID)  # the sync API returns the id (an awaitable only in async contexts)
    reporter = current_progress()  # a terminal progress bar when the CLI set one
    reporter.start(sum(map(len, batches)), sum(item.fingerprint.size_bytes for files in batches for item in files))
    waiting = deque(enumerate(batches, start=1))
    running: dict[PrefectFuture[object], int] = {}
    ready: set[int] = set()  # batches whose next step waits for room in its stage
    done: queue.Queue[PrefectFuture[object]] = queue.Queue()  # task runs as they finish
    finished: list[int] = []
    results: list[BatchResult] = []
    failures: list[FileFailure] = []

    def watch(future: PrefectFuture[object], number: int) -> None:
        running[future] = number
        future.add_done_callback(done.put)

    def start_batches() -> None:
        while waiting and len(running) + len(ready) < BATCHES_IN_FLIGHT:
            number, files = waiting.popleft()
            chains[number] = (files, [_submit_step(0, number, files, None, run)])
            watch(chains[number][1][-1], number)

    def in_step(name: str) -> int:
        return sum(stages.STAGE_NAMES[len(chains[number][1]) - 1] == name for number in running.values())

    def advance() -> None:
        """Submit each ready batch's next step where the stage has room, oldest batch first."""
        for number in sorted(ready):
            files, chain = chains[number]
            name = stages.STAGE_NAMES[len(chain)]
            if in_step(name) < STAGE_LIMITS.get(name, BATCHES_IN_FLIGHT):
                ready.discard(number)
                chain.append(_submit_step(len(chain), number, files, chain[-1], run))
                watch(chain[-1], number)

    def finish(number: int) -> None:
        files, chain = chains[number]
        sizes = {str(item.source): item.fingerprint.size_bytes for item in files}
        try:  # the publish's result, or the failure (or cancellation) of the step that stopped the chain
            result: BatchResult = chain[-1].result()  # type: ignore[assignment]
            results.append(result)
            for document in result.documents:
                reporter.file_done(document.source_path, sizes.get(document.source_path, 0), document.total_lines)
            for failure in result.failures:
                reporter.file_done(failure.source_path, sizes.get(failure.source_path, 0), 0)
        except Exception:  # a failed batch fails its own task runs and files, not the run
            failures.extend(_root_cause(files, chain))
            for item in files:
                reporter.file_done(str(item.source), item.fingerprint.size_bytes, 0)
        finished.append(number)
        update_progress_artifact(progress, progress=100.0 * len(finished) / len(batches))

    start_batches()
    while running:
        raise_if_stopped()
        try:
            first = done.get(timeout=STOP_POLL_SECONDS)
        except queue.Empty:
            continue
        for future in [first, *_drain(done)]:
            number = running.pop(future)
            chain = chains[number][1]
            future.wait()  # done already: this records its final state (``state`` would ask the server)
            if future.state.is_completed() and len(chain) < len(stages.STAGE_NAMES):
                ready.add(number)
            else:  # published, or stopped by a failure or a cancellation
                finish(number)
        advance()
        start_batches()
    reporter.finish()
    if not batches:
        update_progress_artifact(progress, progress=100.0)
    return results, failures


def _publish_artifacts(summary: RunSummary, lake: LakePath, *, new_data: bool) -> None:
    """The run's report in the UI; the lake's report page and figures only when data changed."""
    create_markdown_artifact(
        key="ingest-summary", markdown=render_run_markdown(summary), description=f"akhbar run {summary.run_id}"
    )
    create_table_artifact(
        key="ingest-files", table=file_result_rows(summary), description="per-file results of this run"
    )
    _materialize_datasets(summary, lake)
    if not new_data:  # an idle scheduled run: nothing in the report would change
        return
    with lake_lock(lake):  # a concurrent run must not read or write a half-written page
        figures = report_figures(lake)
        report = write_text_atomically(lake / REPORT_FILE, render_report_html(figures))
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
    # Only this run's rows: the scans are filtered by run_id before anything is read.
    segments, documents = lake_frames(lake, summary.run_id)
    create_table_artifact(
        key="topic-samples",
        table=artifact_rows(topic_samples(segments, documents)),
        description="per topic, the segments of this run the classifier is surest and least sure of",
    )
    create_table_artifact(
        key="review-queue",
        table=artifact_rows(review_queue(segments, documents)),
        description="segments of this run to review: low confidence or two topics scored close",
    )


def _record_materializations(found: list[Materialization]) -> None:
    """Attach each dataset's table version and row counts to its materialization event."""
    for item in found:
        add_asset_metadata(item.key, item.metadata)


def _materialize_datasets(summary: RunSummary, lake: LakePath) -> None:
    """Declare the datasets this run wrote to as materialized assets (events that can trigger deployments)."""
    written = run_record(summary).row(0, named=True)
    rows = {dataset.name: int(written.get(f"{dataset.name}_written") or 0) for dataset in ALL_DATASETS}
    found = materializations(lake, ALL_DATASETS, rows | {RUNS.name: 1}, summary.run_id)
    assets = [Asset(key=m.key, properties=AssetProperties(name=m.dataset, description=m.description)) for m in found]
    # The keys depend on the lake, so the materializing task is made per run. Called, not submitted:
    # it runs in the flow's process whatever the task runner, and emits its events when it completes.
    if not assets:  # materialize() needs at least one asset
        return
    materializing = materialize(
        *assets, by="akhbar", name="materialize", task_run_name=f"materialize {len(found)} dataset(s)"
    )
    materializing(_record_materializations)(found)
