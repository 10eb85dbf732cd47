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
#: A local Dask cluster uses one single-threaded worker process per core: langdetect holds the GIL.
LOCAL_DASK_CLUSTER = {"n_workers": 2, "threads_per_worker": 1, "processes": True}


def make_task_runner(kind: RunnerKind, dask_address: str | None = None) -> TaskRunner[Any]:
    """The task runner for ``kind``; Dask connects to ``dask_address`` or starts a local cluster."""
    if kind is RunnerKind.THREAD:
        return ThreadPoolTaskRunner(max_workers=THREAD_WORKERS)
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as error:  # prefect-dask is an optional extra
        raise RuntimeError("the dask runner needs the 'dask' extra: pip install 'akhbar[dask]'") from error
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_kwargs=LOCAL_DASK_CLUSTER)
