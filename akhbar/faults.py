"""Named pause points for crash testing: the test kills the process while it waits at one.

Set ``AKHBAR_PAUSE_AT`` to a point name (or a comma-separated list) and the process prints
``akhbar: paused at <name>`` to stderr and sleeps ``AKHBAR_PAUSE_SECONDS`` (default 30) there.
``<name>@<n>`` pauses only the n-th time the point is reached (e.g. after the second document).
Unset, a checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

PAUSE_AT_VARIABLE = "AKHBAR_PAUSE_AT"
PAUSE_SECONDS_VARIABLE = "AKHBAR_PAUSE_SECONDS"

#: Every point publishing can pause at, in the order a publish passes them.
CHECKPOINTS = (
    "after-segments",  # a batch's segments committed (old content removed), articles/quarantine/documents not yet
    "after-quarantine",  # articles and quarantine committed, documents (the commit marker) not yet
    "after-documents",  # the batch's documents committed, its intent not yet cleared
    "before-run-record",  # every batch published, the runs row not yet written
    "before-compact",  # the runs row committed, compaction and vacuum not yet done
)


_passes: Counter[str] = Counter()
_passes_lock = threading.Lock()


def checkpoint(name: str) -> None:
    """Pause here if the environment asks for it (crash tests only)."""
    wanted = os.environ.get(PAUSE_AT_VARIABLE)
    if not wanted:
        return
    with _passes_lock:
        _passes[name] += 1
        count = _passes[name]
    if name in wanted.split(",") or f"{name}@{count}" in wanted.split(","):
        print(f"akhbar: paused at {name}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get(PAUSE_SECONDS_VARIABLE, "30")))
