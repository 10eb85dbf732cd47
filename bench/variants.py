"""One benchmark variant per process: ``python bench/variants.py VARIANT CONFIG.json RESULT.json``.

``bench/run.py`` starts each variant in its own process so that its peak memory is its own. A
variant reads its configuration (paths, options) from a JSON file and writes its measurements to
another; timings use ``time.perf_counter`` around the work only, and are split by stage.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROCESS_STARTED = time.perf_counter()

Config = dict[str, Any]
Result = dict[str, Any]


def peak_rss_bytes() -> dict[str, int]:
    """Peak resident memory of this process and of its largest finished child, in bytes."""
    # Linux reports ru_maxrss in KiB.
    return {
        "self_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall-clock seconds of the block to ``timings[stage]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


def file_bytes(paths: list[Path]) -> int:
    """Total size of the input files."""
    return sum(path.stat().st_size for path in paths)


# --- (a) akhbar end to end through the Prefect flow ---------------------------------------------


def run_e2e(config: Config) -> Result:
    """The ``ingest`` flow on a tiny warm-up file (server start-up), then on the corpus."""
    os.environ["PREFECT_HOME"] = config["prefect_home"]
    from akhbar.settings import apply_prefect_defaults

    apply_prefect_defaults()
    from akhbar.runs import RunSummary
    from flows import ingest

    files = [str(path) for path in config["files"]]
    with_startup_started = PROCESS_STARTED
    warmup_started = time.perf_counter()
    warmup = ingest([config["warmup_file"]], lake=config["warmup_lake"])
    warmup_seconds = time.perf_counter() - warmup_started
    cpu_before = tree_cpu_seconds()
    started = time.perf_counter()
    # ``paths`` (folders, as an inbox is given) when set, else the files themselves.
    summary = ingest(config.get("paths") or files, lake=config["lake"])
    seconds = time.perf_counter() - started
    returned_at = datetime.now(UTC)
    run_cpu_seconds = tree_cpu_seconds() - cpu_before
    assert isinstance(summary, RunSummary) and isinstance(warmup, RunSummary)
    lang_counts = summary.merged_counts("lang_counts")
    return {
        "seconds": seconds,
        "run_cpu_seconds": run_cpu_seconds,
        **flow_task_seconds(summary.flow_run_id, returned_at),
        "startup_seconds": started - with_startup_started,
        "warmup_run_seconds": warmup_seconds,
        "warmup_status": warmup.status,
        "status": summary.status,
        "bytes": file_bytes([Path(f) for f in files]),
        "segments": summary.total("segment_lines"),
        "failures": [failure.message for failure in summary.failures],
        "lang_counts": dict(lang_counts),
        "topic_counts": dict(summary.merged_counts("topic_counts")),
    }


def tree_cpu_seconds() -> float:
    """CPU seconds used so far by this process and its children still running (the Prefect server)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # a child that ended meanwhile
            continue
        total += times.user + times.system
    return total


def flow_task_seconds(flow_run_id: str | None, returned_at: datetime) -> Result:
    """Where a flow run's time went, from its task runs on the server.

    ``stage_busy_seconds``: per step (decode … publish, fingerprint), the task runs' durations summed
    over batches; ``detect_language_span_seconds``: first detection start to last detection end;
    ``after_tasks_seconds``: from the last task run's end until the flow returned (run record,
    artifacts, the lake report).
    """
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    if flow_run_id is None:
        return {}
    runs = []
    with get_client(sync_client=True) as client:
        while batch := client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])), limit=200, offset=len(runs)
        ):
            runs += batch
    busy: dict[str, float] = {}
    spans = [(run.name.split(" ")[0], run.start_time, run.end_time) for run in runs if run.start_time and run.end_time]
    for step, start, end in spans:
        busy[step] = busy.get(step, 0.0) + (end - start).total_seconds()
    detection = [(start, end) for step, start, end in spans if step == "detect-language"]
    return {
        "stage_busy_seconds": busy,
        "detect_language_span_seconds": (
            (max(end for _, end in detection) - min(start for start, _ in detection)).total_seconds()
            if detection else 0.0
        ),
        "after_tasks_seconds": (returned_at - max(end for _, _, end in spans)).total_seconds() if spans else 0.0,
    }


# --- akhbar's library stages without Prefect ---------------------------------------------------------


def run_stages(config: Config, *, detect: str | None) -> Result:
    """akhbar's stage table (``akhbar.stages.STAGES``) over batches of files, then publishing.

    Like the flow's task runner, batches go through their stages concurrently on ``FILE_THREADS``
    threads (unless ``file_workers`` says otherwise; polars releases the GIL), each batch from stage
    to stage without waiting for the others. ``detect`` is a language backend, or None for the floor,
    whose language stage writes empty language columns instead. ``phases`` holds the wall-clock
    seconds of each group of stages over all batches — for the floor, ``floor`` (decode, segment,
    normalize, classify) then ``rest`` (facts, publish); with detection, ``all`` — and
    ``stage_seconds`` the time each stage was busy, summed over the threads.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import polars as pl

    from akhbar import stages
    from akhbar.lake import prepare_lake
    from akhbar.publish import publish_batch
    from akhbar.settings import FILE_THREADS
    from akhbar.staging import StagedBatch, transform_stage

    setup: dict[str, float] = {}
    lake, work_root = Path(config["lake"]), Path(config["work_root"])
    with timed(setup, "taxonomy_load"):
        taxonomy = stages.cached_taxonomy(None)
    prepare_lake(lake)
    files = [Path(path) for path in config["files"]]
    workers = int(config.get("file_workers") or FILE_THREADS)
    planned, _ = stages.fingerprint_files(files)
    plan = stages.plan_ingest(lake, planned, taxonomy.version, force=True)
    batches = list(enumerate(stages.plan_batches(plan.to_ingest), start=1))

    def null_languages(batch: StagedBatch, options: stages.StageOptions) -> StagedBatch:
        """The language columns, empty: what later stages need when detection is skipped."""
        return transform_stage(batch, "languages", lambda frame: frame.with_columns(
            pl.lit(None, pl.String).alias("lang"), pl.lit(None, pl.Float64).alias("lang_prob"),
            pl.lit(None, pl.String).alias("lang_method"),
        ))

    options = stages.StageOptions(lang_backend=detect or "langdetect")  # type: ignore[arg-type]
    Step = tuple[str, Callable[[Any], Any]]
    decode: Step = ("decode", lambda item: stages.decode_batch(item[1], item[0], work_root, plan.paths_by_doc))
    table: list[Step] = [
        (stage.name, lambda batch, stage=stage: stage.run(batch, options))
        for stage in stages.STAGES
        if stage.name != "detect-language" or detect is not None
    ]
    publish: Step = (
        "publish", lambda batch: (batch, publish_batch(batch, lake, "bench", taxonomy.version, reingested=frozenset()))
    )
    phases_plan: dict[str, list[Step]]
    if detect is None:
        # The floor is everything but language detection; facts and publishing come after it.
        names = [name for name, _ in table]
        split = names.index("classify-topic") + 1
        phases_plan = {
            "floor": [decode, *table[:split]],
            "rest": [("null_language_columns", lambda b: null_languages(b, options)), *table[split:], publish],
        }
    else:
        phases_plan = {"all": [decode, *table, publish]}

    stage_seconds: dict[str, float] = {}
    lock = threading.Lock()

    def run_chain(steps: list[Step], item: Any) -> Any:
        """One batch through ``steps``, adding each step's time to ``stage_seconds``."""
        for stage, function in steps:
            started = time.perf_counter()
            item = function(item)
            with lock:
                stage_seconds[stage] = stage_seconds.get(stage, 0.0) + time.perf_counter() - started
        return item

    phases: dict[str, float] = {}
    items: list[Any] = batches
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for phase, steps in phases_plan.items():
            with timed(phases, phase):
                items = list(pool.map(lambda item, steps=steps: run_chain(steps, item), items))
    segments = sum(document.segment_lines for _, result in items for document in result.documents)
    for batch, _ in items:
        shutil.rmtree(batch.work_dir, ignore_errors=True)
    return {
        "phases": phases,
        "stage_seconds": stage_seconds,
        "setup_seconds": setup,
        "bytes": file_bytes(files),
        "segments": segments,
        "file_workers": workers,
        "batches": len(batches),
    }


def run_floor(config: Config) -> Result:
    """(c) akhbar's stages without language detection."""
    return run_stages(config, detect=None)


def run_library(config: Config) -> Result:
    """akhbar's stages with language detection, no Prefect (to separate orchestration cost)."""
    return run_stages(config, detect=config.get("backend", "langdetect"))


# --- (b) the naive baseline ----------------------------------------------------------------------------


def run_naive(config: Config) -> Result:
    """The pandas + pyarabic + langdetect script, on the sample file."""
    from naive import naive_ingest

    sample = Path(config["sample_file"])
    output = Path(config["output"])
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    segments = naive_ingest(sample, output)
    return {"seconds": time.perf_counter() - started, "bytes": sample.stat().st_size, "segments": segments}


# --- language detection study --------------------------------------------------------------------------


def run_languages(config: Config) -> Result:
    """Prefix agreement, pool vs serial, fasttext vs langdetect, on the normalized sample's segments."""
    from language_study import study

    return study(config)


VARIANTS: dict[str, Callable[[Config], Result]] = {
    "e2e": run_e2e,
    "floor": run_floor,
    "library": run_library,
    "naive": run_naive,
    "languages": run_languages,
}


def main(argv: list[str]) -> int:
    """Run one variant and write its result (with peak memory) as JSON."""
    variant, config_path, result_path = argv
    config = json.loads(Path(config_path).read_text())
    result = VARIANTS[variant](config)
    result.update(peak_rss_bytes())
    result["process_seconds"] = time.perf_counter() - PROCESS_STARTED
    Path(result_path).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
