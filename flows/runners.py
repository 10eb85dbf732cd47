"""Task runners: threads on one machine (the default) or a Dask cluster via prefect-dask."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from akhbar.settings import FILE_THREADS


class RunnerKind(StrEnum):
    """Where the per-file tasks run."""

    THREAD = "thread"
    DASK = "dask"


#: Threads for the per-file tasks (see ``FILE_THREADS``; language detection has its own process pool).
THREAD_WORKERS = FILE_THREADS
#: A local Dask cluster uses single-threaded worker processes (langdetect holds the GIL); how many is
#: the ``dask_workers`` setting (``--dask-workers``, ``AKHBAR_DASK_WORKERS``), by default one per core
#: of a small machine.
LOCAL_DASK_WORKERS = 2
LOCAL_DASK_CLUSTER = {"threads_per_worker": 1, "processes": True}


def make_task_runner(
    kind: RunnerKind, dask_address: str | None = None, dask_workers: int = LOCAL_DASK_WORKERS
) -> TaskRunner[Any]:
    """The task runner for ``kind``; Dask connects to ``dask_address`` or starts a local cluster of ``dask_workers``."""
    if kind is RunnerKind.THREAD:
        return ThreadPoolTaskRunner(max_workers=THREAD_WORKERS)
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as error:  # prefect-dask is an optional extra
        raise RuntimeError("the dask runner needs the 'dask' extra: pip install 'akhbar[dask]'") from error
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_kwargs={**LOCAL_DASK_CLUSTER, "n_workers": dask_workers})
