"""Prefect orchestration of the akhbar library: flows, tasks and deployments, and nothing else."""

from akhbar.settings import apply_prefect_defaults

# Before Prefect is imported anywhere below: its settings are read from the environment at import.
apply_prefect_defaults()

from flows.ingest import ingest  # noqa: E402

__all__ = ["ingest"]
