"""Runtime defaults that must be in place before Prefect is imported."""

from __future__ import annotations

import os

#: Files in flight at once on one machine (the flow's task threads). Each stage is mostly polars
#: and pyarrow work, which runs without the GIL; with 2 cores, 3–4 files in flight keep both busy
#: where 2 leave gaps between one file's stages (``make bench``: floor 36 → 44 MB/s). Few enough
#: that memory stays bounded: each file in flight holds one chunk's frames.
FILE_THREADS = 4
#: A batch of files (one chain of task runs) holds at most this many input bytes — a larger file is a
#: batch of its own and streams in chunks — and at most this many files, so that a task run is a
#: meaningful chunk of work and a retry redoes a bounded amount.
BATCH_MAX_BYTES = 32 * 1024 * 1024
BATCH_MAX_FILES = 2_000

#: Prefect settings akhbar changes by default, and why. A user's own environment always wins.
PREFECT_DEFAULTS = {
    # The embedded server takes 20-30 s to start cold on a small machine; Prefect's 20 s is too tight.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    # The telemetry heartbeat raced SQLite writes ("database is locked") and phones home.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The library logs through the standard "akhbar" logger (it knows nothing of Prefect); this makes
    # those lines (e.g. "waiting for the lake lock") part of the run's logs in the UI.
    "PREFECT_LOGGING_EXTRA_LOGGERS": "akhbar",
    # ... and outside a flow run (tests, the Prefect-free library) those lines stay local, quietly.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


def apply_prefect_defaults() -> None:
    """Set akhbar's Prefect defaults in the environment, leaving any value the user set alone."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
