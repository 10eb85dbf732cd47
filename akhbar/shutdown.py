"""Stopping a run cleanly: a process-wide stop request, signal handling with a deadline, child cleanup.

Prefect-free. The stop request is a flag that the flow polls while it waits and that every stage
task checks before it starts, so after SIGINT/SIGTERM no new stage starts and the flow ends with a
Cancelled state instead of racing its own clean-up. Work already in flight gets a short grace; what
is still running after :data:`STOP_DEADLINE_SECONDS` is abandoned (the process exits without waiting
for it) — the lake is built to survive exactly that (README "Crashes"): the next run resumes.

Children (Prefect's temporary API server, a multiprocessing resource tracker or pool, a local Dask
cluster) are found as this process's descendants with psutil and terminated before the process
exits, so none outlives the run. Why not ``PR_SET_PDEATHSIG``: those children are started by
Prefect, multiprocessing and Dask, not by akhbar's own ``Popen``, so there is no hook to set it on;
walking the process tree at exit covers every orderly exit and every signal but SIGKILL.
"""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TypeVar

import psutil

logger = logging.getLogger("akhbar")

#: From the first SIGINT/SIGTERM, how long the run may take to stop on its own; then what is still
#: running is abandoned. With the abandon hook and the children's clean-up the process is gone within
#: 10 s of the signal (README "Failure behaviour").
STOP_DEADLINE_SECONDS = 6.0
#: How long the abandon hook (marking the flow run Crashed) may take.
ABANDON_SECONDS = 1.5
#: Children get this long to exit after SIGTERM before they are killed.
CHILD_TERM_SECONDS = 1.0
#: How long the orchestration API may be unreachable before the run stops (``healthy`` below).
API_LOST_SECONDS = 10.0
#: How often the API's health is checked while a run works.
HEALTH_CHECK_SECONDS = 2.0
#: Exit code of a run stopped because the orchestration API went away (README "Exit codes").
EXIT_API_LOST = 3
#: The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
SIGNAL_EXIT_BASE = 128

T = TypeVar("T")

_stop = threading.Event()
_reason: list[str] = []


class StopRequested(Exception):
    """The run was asked to stop (a signal, a cancellation); raised where waiting would be pointless."""


def request_stop(reason: str) -> None:
    """Ask every stage not yet started, and the flow's waits, to stop."""
    if not _stop.is_set():
        _reason.append(reason)
        _stop.set()


def stop_requested() -> bool:
    """Whether a stop was requested."""
    return _stop.is_set()


def stop_reason() -> str:
    """Why the run was asked to stop (the first reason given)."""
    return _reason[0] if _reason else "stop requested"


def reset_stop() -> None:
    """Forget a stop request (tests; a process that runs the flow again)."""
    _reason.clear()
    _stop.clear()


def raise_if_stopped() -> None:
    """Raise :class:`StopRequested` if a stop was requested."""
    if _stop.is_set():
        raise StopRequested(stop_reason())


def terminate_children(term_seconds: float = CHILD_TERM_SECONDS, keep: int | None = None) -> list[int]:
    """SIGTERM every descendant of this process, then SIGKILL those still alive; their pids.

    ``keep``: a child to spare, with its own descendants (a server that must outlive the others).
    """
    try:
        children = psutil.Process().children(recursive=True)
        if keep is not None:
            spared = {keep} | {p.pid for p in psutil.Process(keep).children(recursive=True)}
            children = [child for child in children if child.pid not in spared]
    except psutil.Error:
        return []
    for child in children:
        with suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=term_seconds)
    for child in alive:
        with suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=term_seconds)
    return [child.pid for child in children]


def bounded(action: Callable[[], object], seconds: float) -> bool:
    """Run ``action`` in a daemon thread for at most ``seconds``; whether it finished without error."""
    failed: list[Exception] = []

    def attempt() -> None:
        try:
            action()
        except Exception as error:  # reported in one line: this is best effort on the way out
            failed.append(error)
            logger.warning("%s", f"{type(error).__name__}: {error}".splitlines()[0])

    # In a copy of the caller's context: Prefect's settings (the API to talk to) live in context variables.
    context = contextvars.copy_context()
    runner = threading.Thread(target=context.run, args=(attempt,), name="akhbar-bounded", daemon=True)
    runner.start()
    runner.join(seconds)
    return not runner.is_alive() and not failed


def exit_code_for(signum: int) -> int:
    """130 for SIGINT, 143 for SIGTERM."""
    return SIGNAL_EXIT_BASE + signum


def hard_exit(code: int) -> None:
    """Leave now: flush what was printed, end the children, skip the joins of abandoned threads."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    terminate_children()
    # No logging.shutdown(): Prefect's API log handler would try to flush to a server that may be gone.
    os._exit(code)


class SignalStop:
    """What the signal handlers saw: the first signal's number (None until one arrives)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.arrived = threading.Event()

    @property
    def exit_code(self) -> int:
        """The exit code that reports the first signal."""
        assert self.signum is not None
        return exit_code_for(self.signum)


@contextmanager
def stop_on_signals(on_stop: Callable[[int], None] | None = None) -> Iterator[SignalStop]:
    """SIGINT/SIGTERM request a stop (the first) or end the process at once (the second).

    Must be entered in the main thread; the work itself runs in another thread (see
    :func:`run_stoppable`), so that the main thread is always free to take the signal.
    """
    seen = SignalStop()

    def handle(signum: int, frame: FrameType | None) -> None:
        if seen.signum is not None:  # a second Ctrl-C: no more waiting
            print(f"akhbar: {signal.Signals(signum).name} again, stopping now", file=sys.stderr, flush=True)
            hard_exit(exit_code_for(seen.signum))
        seen.signum = signum
        name = signal.Signals(signum).name
        print(f"akhbar: {name} received, stopping (again to stop at once)", file=sys.stderr, flush=True)
        request_stop(f"{name} received")
        seen.arrived.set()
        if on_stop is not None:
            on_stop(signum)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(worker: threading.Thread, seen: SignalStop, healthy: Callable[[], bool] | None) -> bool:
    """Wait for the work to end or a signal; True if the API stopped answering first."""
    last_answer = next_check = time.monotonic()
    while worker.is_alive() and not seen.arrived.is_set():
        worker.join(0.2)
        now = time.monotonic()
        if healthy is None or now < next_check:
            continue
        if healthy():
            last_answer = now
        elif now - last_answer > API_LOST_SECONDS:
            return True
        next_check = time.monotonic() + HEALTH_CHECK_SECONDS
    return False


def run_stoppable(
    work: Callable[[], T],
    deadline_seconds: float = STOP_DEADLINE_SECONDS,
    on_abandon: Callable[[], None] | None = None,
    on_stop: Callable[[int], None] | None = None,
    healthy: Callable[[], bool] | None = None,
) -> tuple[T, int | None]:
    """Run ``work`` in a thread; its result and the first signal's number (None without a signal).

    After SIGINT/SIGTERM the work has ``deadline_seconds`` to return (it sees :func:`stop_requested`);
    if it does not, ``on_abandon`` runs (bounded by the caller) and the process exits with 128 + the
    signal's number through :func:`hard_exit`. A second signal exits at once the same way.
    ``on_stop`` is called with the first signal's number (in the signal handler: keep it short).
    ``healthy`` (the orchestration API answers) is checked every HEALTH_CHECK_SECONDS: after
    API_LOST_SECONDS without an answer the work is stopped the same way and the process exits with
    EXIT_API_LOST — nothing could report to the API any more, and its client would retry for minutes.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread takes signals
        return work(), None
    outcome: list[T] = []
    failure: list[BaseException] = []
    context = contextvars.copy_context()  # the progress display and settings travel with the work

    def target() -> None:
        try:
            outcome.append(context.run(work))
        except BaseException as error:  # handed to the main thread
            failure.append(error)

    with stop_on_signals(on_stop) as seen:
        worker = threading.Thread(target=target, name="akhbar-run", daemon=True)
        worker.start()
        lost = _watch(worker, seen, healthy)
        if lost:
            print(
                f"akhbar: the Prefect API has not answered for {API_LOST_SECONDS:.0f} s; stopping the run "
                "(the lake keeps every finished batch; run again to resume)",
                file=sys.stderr,
                flush=True,
            )
            request_stop("the Prefect API is unreachable")
            worker.join(deadline_seconds)
            hard_exit(EXIT_API_LOST)
        if seen.arrived.is_set():
            worker.join(deadline_seconds)
            if worker.is_alive():
                print(
                    f"akhbar: the run did not stop within {deadline_seconds:.0f} s; abandoning its in-flight work",
                    file=sys.stderr,
                    flush=True,
                )
                if on_abandon is not None:
                    bounded(on_abandon, ABANDON_SECONDS)
                hard_exit(seen.exit_code)
    if failure:
        raise failure[0]
    return outcome[0], seen.signum
