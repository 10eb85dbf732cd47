"""Deployments of the ``ingest`` flow: an inbox folder ingested on a schedule."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

from prefect.deployments.runner import RunnerDeployment
from prefect.runner import Runner
from prefect.types.entrypoint import EntrypointType

from akhbar.local_server import DEFAULT_PORT, prefect_api, prefect_home
from akhbar.shutdown import run_stoppable, terminate_children
from flows.ingest import ingest

#: The deployment `akhbar serve` creates. prefect.yaml's worker deployment is `akhbar-inbox`: distinct
#: names, so that serving and deploying never overwrite each other's schedule or parameters.
INBOX_DEPLOYMENT = "akhbar-inbox-served"
#: After SIGINT/SIGTERM, how long `akhbar serve` lets the runner cancel its runs and pause the schedule.
SERVE_STOP_SECONDS = 20.0


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
            "inbox": True,  # an empty or missing inbox is a quiet, successful run
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


def serve_inbox(deployment: RunnerDeployment, port: int = DEFAULT_PORT, echo: Callable[[str], None] = print) -> None:
    """Serve a deployment until SIGINT/SIGTERM (Prefect's runner), on a local server if none is configured.

    The runner runs in a thread, so that the signals reach akhbar's handlers (akhbar/shutdown.py)
    rather than Prefect's: the first one asks the runner to stop — it cancels the flow runs in flight
    (each stops its stages before its staging folder goes) and pauses the deployment's schedule —
    and gives it SERVE_STOP_SECONDS; then, or at a second signal, everything left is ended. Child
    processes still alive are ended before the local server, so that their last states reach it.
    """
    with prefect_api(prefect_home() / "server", port, services=True) as server:
        if server is not None:
            echo(f"Prefect UI: {server.ui_url} (a local server akhbar stops when it exits; log {server.log})")
        runner = Runner(pause_on_shutdown=True)
        runner.add_deployment(deployment)
        echo(f"serving ingest/{deployment.name}: its runs are being served and polled for; Ctrl-C or SIGTERM stops")
        try:
            run_stoppable(
                lambda: asyncio.run(runner.start()),
                deadline_seconds=SERVE_STOP_SECONDS,
                on_stop=lambda signum: _stop_runner(runner),
            )
        finally:
            terminate_children(keep=server.process.pid if server is not None else None)


def _stop_runner(runner: Runner) -> None:
    """Ask the runner to stop from a signal handler (its own SIGTERM handler, minus its sys.exit)."""
    with suppress(SystemExit):  # the runner had not started: its thread ends when start() notices
        runner.handle_sigterm()
