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
    started = time.perf_counter()
    summary = ingest(files, lake=config["lake"])
    seconds = time.perf_counter() - started
    assert isinstance(summary, RunSummary) and isinstance(warmup, RunSummary)
    lang_counts = summary.merged_counts("lang_counts")
    return {
        "seconds": seconds,
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


# --- akhbar's library stages without Prefect ---------------------------------------------------------


def run_stages(config: Config, *, detect: str | None) -> Result:
    """akhbar's stage functions in the flow's order; ``detect`` is a backend, or None for the floor.

    Like the flow's task runner, files go through their stages concurrently on ``FILE_THREADS``
    threads (unless ``file_workers`` says otherwise; polars and the langdetect pool release the GIL),
    each file from stage to stage without waiting for the others. ``phases`` holds the wall-clock
    seconds of each group of stages over all files — for the floor, ``floor`` (decode, segment,
    normalize, classify) then ``rest`` (empty language columns, facts, publish); with detection,
    ``all`` — and ``stage_seconds`` the time each stage was busy, summed over the threads.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import polars as pl

    from akhbar import pipeline
    from akhbar.settings import FILE_THREADS

    setup: dict[str, float] = {}
    lake, work_root = Path(config["lake"]), Path(config["work_root"])
    with timed(setup, "taxonomy_load"):
        taxonomy = pipeline.cached_taxonomy(None)
    pipeline.prepare_lake(lake)
    files = [Path(path) for path in config["files"]]
    workers = int(config.get("file_workers") or FILE_THREADS)

    def null_languages(frame: pl.DataFrame) -> pl.DataFrame:
        """The language columns, empty: what later stages need when detection is skipped."""
        return frame.with_columns(
            pl.lit(None, pl.String).alias("lang"),
            pl.lit(None, pl.Float64).alias("lang_prob"),
            pl.lit(None, pl.String).alias("lang_method"),
        )

    Stage = tuple[str, Callable[[Any], Any]]
    decode_to_normalize: list[Stage] = [
        ("decode", lambda path: pipeline.decode_document(path, work_root)),
        ("segment", pipeline.segment_document),
        ("normalize", pipeline.normalize_document),
    ]
    classify: Stage = ("classify", lambda document: pipeline.classify_document(document, None))
    facts_and_publish: list[Stage] = [
        ("facts", pipeline.extract_document_facts),
        ("publish", lambda document: (document, pipeline.publish_document(document, lake, "bench", taxonomy.version))),
    ]
    phases_plan: dict[str, list[Stage]]
    if detect is None:
        # The floor is everything but language detection; the empty language columns that later
        # stages need are added after it (classify does not read them).
        empty_languages: Stage = (
            "null_language_columns", lambda document: pipeline.transform_stage(document, "languages", null_languages)
        )
        phases_plan = {"floor": [*decode_to_normalize, classify], "rest": [empty_languages, *facts_and_publish]}
    else:
        detect_stage: Stage = (
            f"detect_language_{detect}",
            lambda document: pipeline.detect_document_languages(document, detect),  # type: ignore[arg-type]
        )
        phases_plan = {"all": [*decode_to_normalize, detect_stage, classify, *facts_and_publish]}

    stage_seconds: dict[str, float] = {}
    lock = threading.Lock()

    def run_chain(stages: list[Stage], item: Any) -> Any:
        """One file through ``stages``, adding each stage's time to ``stage_seconds``."""
        for stage, function in stages:
            started = time.perf_counter()
            item = function(item)
            with lock:
                stage_seconds[stage] = stage_seconds.get(stage, 0.0) + time.perf_counter() - started
        return item

    phases: dict[str, float] = {}
    items: list[Any] = files
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for phase, stages in phases_plan.items():
            with timed(phases, phase):
                items = list(pool.map(lambda item, stages=stages: run_chain(stages, item), items))
    segments = sum(result.segment_lines for _, result in items)
    for document, _ in items:
        shutil.rmtree(document.work_dir, ignore_errors=True)
    return {
        "phases": phases,
        "stage_seconds": stage_seconds,
        "setup_seconds": setup,
        "bytes": file_bytes(files),
        "segments": segments,
        "file_workers": workers,
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
