"""The ``report`` flow: rebuild the lake's HTML report, e.g. whenever a run materializes ``segments``.

``prefect.yaml`` deploys it as ``akhbar-report`` with an event trigger on the asset materialization of
the lake's ``segments`` dataset (see ``flows/ingest.py``), so a published copy of the report follows
the lake without the ingest flow knowing about it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from akhbar.lake import lake_lock
from akhbar.report import write_report


@flow(name="report", flow_run_name="report {lake}")
def rebuild_report(lake: str = "data/lake", out: str = "data/site/report.html") -> str:
    """Write the lake's report page to ``out`` from the lake's current data; returns its path."""
    lake_path = Path(lake).resolve()
    with lake_lock(lake_path):  # a run committing meanwhile must not be half counted
        return str(write_report(lake_path, Path(out).resolve()))
