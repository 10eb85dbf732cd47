"""Deployments of the ``ingest`` flow: an inbox folder ingested on a schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from flows.ingest import ingest

#: Deployment name used by `akhbar serve` and in prefect.yaml.
INBOX_DEPLOYMENT = "akhbar-inbox"


def inbox_deployment(
    inbox: Path,
    lake: Path,
    *,
    cron: str | None = None,
    interval_seconds: float | None = None,
    topics: Path | None = None,
    name: str = INBOX_DEPLOYMENT,
) -> RunnerDeployment:
    """A deployment that ingests every new ``*.txt`` of ``inbox`` into ``lake`` on a schedule."""
    if (cron is None) == (interval_seconds is None):
        raise ValueError("give exactly one schedule: a cron expression or an interval in seconds")
    deployment = ingest.to_deployment(
        name=name,
        cron=cron,
        interval=timedelta(seconds=interval_seconds) if interval_seconds is not None else None,
        parameters={
            "paths": [str(inbox.resolve())],
            "lake": str(lake.resolve()),
            "topics": str(topics.resolve()) if topics else None,
        },
        description=f"Ingest new files of {inbox} into {lake}",
        # One run at a time: a run that starts while the previous one still works would pick up the
        # same new files. Prefect queues the next scheduled run instead.
        concurrency_limit=1,
        tags=["akhbar"],
        # Import the flow from the installed package, whatever the serving process's working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)  # sync context: never the coroutine variant
    return deployment


def serve_inbox(deployment: RunnerDeployment) -> None:
    """Serve a deployment in this process until interrupted (Prefect's `serve`)."""
    serve(deployment)
