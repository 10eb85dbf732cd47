"""Shared fixtures: a private Prefect home, one Prefect test server per session, the seed file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Prefect: tests never touch the user's ~/.prefect database.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="akhbar-prefect-home-"))

from akhbar.settings import apply_prefect_defaults

apply_prefect_defaults()

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = REPO_ROOT / "seeds" / "000_9f5a928a3eee6293.txt"
#: The team's labeled dev set lives beside the repository; tests that use it skip when it is absent.
DEV_LABELED = REPO_ROOT.parent / "shared" / "data" / "dev_labeled.jsonl"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server (SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def seed_file() -> Path:
    """The project's sample input."""
    return SEED_FILE
