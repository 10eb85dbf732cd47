"""Dask workers that share no folder with the flow: stages live under the S3 lake's ``_staging/``
prefix, and a LocalCluster run gives the same datasets as a thread run (a real SeaweedFS)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from akhbar.cli import EXIT_OK, app
from akhbar.lake import STAGING_DIR, LakePath, scan_dataset
from akhbar.storage import S3Path
from schemas import ARTICLES, DOCUMENTS, QUARANTINE, SEGMENTS
from tests.s3.conftest import S3Server

runner = CliRunner()
#: Columns that differ between two runs of the same input by design.
PER_RUN = ("run_id", "processed_at", "ingested_at", "quarantined_at", "first_seen_at")


def _contents(lake: S3Path) -> dict[str, pl.DataFrame]:
    tables = {}
    for dataset in (DOCUMENTS, SEGMENTS, ARTICLES, QUARANTINE):
        frame = scan_dataset(lake, dataset).collect()
        frame = frame.drop([c for c in frame.columns if c in PER_RUN])
        tables[dataset.name] = frame.sort(frame.columns[:2])
    return tables


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_dask_workers_need_only_the_object_store(
    s3_env: S3Server, s3_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("prefect_dask")
    ingest_module = importlib.import_module("flows.ingest")  # `flows.ingest` is also the flow's name

    work_roots: list[object] = []
    real_staging = ingest_module.run_staging

    @contextmanager
    def recorded_staging(lake: LakePath, run_id: str, *, shared: bool = True) -> Iterator[LakePath]:
        with real_staging(lake, run_id, shared=shared) as work_root:
            work_roots.append(work_root)
            yield work_root

    monkeypatch.setattr(ingest_module, "run_staging", recorded_staging)
    drop = S3Path("raw", "dask-drop")
    texts = [
        "عاجل: الحكومة تعلن خطة اقتصادية جديدة لدعم الصادرات بقيمة 3 مليارات دولار\nخبر رياضي\n",
        "وزير الصحة يفتتح مستشفى جديداً في القاهرة يوم 12 مارس 2024\n\nارتفاع أسعار النفط\n",
        "الأمم المتحدة تدعو إلى وقف إطلاق النار في السودان\n",
    ]
    for number, text in enumerate(texts):
        (drop / f"{number}.txt").write_text(text)
    threads, dask = (
        S3Path("lake", f"{s3_prefix.split('/', 3)[3]}/threads"),
        S3Path("lake", f"{s3_prefix.split('/', 3)[3]}/dask"),
    )
    # One file per batch, so that the batches' stages spread over the workers.
    common = [f"{drop}/", "--quiet"]
    env = {"AKHBAR_BATCH_MAX_FILES": "1"}
    result = runner.invoke(app, ["run", *common, "--lake", str(threads)], env=env)
    assert result.exit_code == EXIT_OK, result.output
    result = runner.invoke(
        app, ["run", *common, "--lake", str(dask), "--runner", "dask", "--dask-workers", "2"], env=env
    )
    assert result.exit_code == EXIT_OK, result.output
    expected, got = _contents(threads), _contents(dask)
    for name, frame in expected.items():
        assert frame.height > 0 or name == QUARANTINE.name
        assert got[name].equals(frame), name
    # Threads: stage files in a local folder; Dask: under the lake's _staging/ prefix, gone after the run.
    assert isinstance(work_roots[0], Path)
    assert work_roots[1] == dask / STAGING_DIR / work_roots[1].name  # type: ignore[attr-defined]
    assert not (dask / STAGING_DIR).is_dir()
