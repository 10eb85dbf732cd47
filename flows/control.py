"""Telling Prefect about a run that the process abandons (it could not report the end itself)."""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.settings import get_current_settings
from prefect.states import Crashed

#: The flow run the process is executing, noted by :func:`note_flow_run` from inside the flow.
_current: list[UUID] = []


def note_flow_run() -> None:
    """Remember the current flow run's id, for :func:`mark_abandoned` from another thread."""
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        _current[:] = [context.flow_run.id]


def mark_abandoned(message: str) -> None:
    """Set the noted flow run Crashed with ``message`` (callers bound the time: the API may be gone)."""
    if not _current or not get_current_settings().api.url:  # never start a temporary server on the way out
        return
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(_current[0], Crashed(message=message), force=True)
