"""The whole ingest without an orchestrator: plan, batch, decode, the stage table, publish.

The Prefect flow (``flows/ingest.py``) runs the same functions as tasks; this module is for callers
that need no orchestrator (tests, notebooks, the benchmark's library variants).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from akhbar.decode import DEFAULT_CHUNK_BYTES, InputPath
from akhbar.lake import LakePath, auto_compact, lake_lock, prepare_lake
from akhbar.publish import BatchResult, DocumentResult, apply_path_changes, publish_batch
from akhbar.settings import BATCH_MAX_BYTES, BATCH_MAX_FILES
from akhbar.stages import (
    StageOptions,
    cached_taxonomy,
    decode_batch,
    fingerprint_files,
    plan_batches,
    plan_ingest,
    run_stages,
)
from akhbar.staging import FileFailure


def ingest_paths(
    sources: Sequence[InputPath],
    lake: LakePath,
    run_id: str,
    work_root: LakePath,
    options: StageOptions | None = None,
    *,
    force: bool = False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    batch_max_bytes: int = BATCH_MAX_BYTES,
    batch_max_files: int = BATCH_MAX_FILES,
) -> tuple[list[BatchResult], list[FileFailure]]:
    """Ingest files into the lake, batch by batch; returns what each batch wrote and the files that failed."""
    options = options or StageOptions()
    taxonomy = cached_taxonomy(options.taxonomy_path)
    prepare_lake(lake)
    planned, failures = fingerprint_files(sources)
    plan = plan_ingest(lake, planned, taxonomy.version, force=force)
    results = []
    for number, files in enumerate(plan_batches(plan.to_ingest, batch_max_bytes, batch_max_files), start=1):
        batch = decode_batch(files, number, work_root, plan.paths_by_doc, chunk_bytes)
        batch = run_stages(batch, options)
        results.append(publish_batch(batch, lake, run_id, taxonomy.version, plan.superseded_by, plan.reingested))
    apply_path_changes(lake, plan.path_changes)
    with lake_lock(lake):  # as after a flow run: compact crowded tables, folders = live files
        auto_compact(lake)
    return results, failures


def ingest_file(
    source: Path,
    lake: LakePath,
    run_id: str,
    work_root: Path,
    taxonomy_path: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> DocumentResult:
    """Ingest one file (re-ingesting it if the lake holds it) and return its document's result."""
    results, failures = ingest_paths(
        [source],
        lake,
        run_id,
        work_root,
        StageOptions(taxonomy_path=taxonomy_path),
        force=True,
        chunk_bytes=chunk_bytes,
    )
    if failures or not results or results[0].failures:
        problem = failures or (results[0].failures if results else ())
        raise OSError(problem[0].message if problem else f"{source}: not ingested")
    return results[0].documents[0]
