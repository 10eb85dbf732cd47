"""Object-store locations against a real SeaweedFS: parsing, objects, conditional puts, credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from akhbar.storage import S3Path, StorageError, parse_location, storage_options
from tests.s3.conftest import S3Server


def test_parse_location() -> None:
    assert parse_location("data/lake") == Path("data/lake")
    assert parse_location("s3://lake/a/b/") == S3Path("lake", "a/b")
    assert str(parse_location("s3://lake")) == "s3://lake"
    with pytest.raises(StorageError, match=r"gs://.*not supported.*s3://bucket/prefix"):
        parse_location("gs://bucket/lake")
    with pytest.raises(StorageError, match="names no bucket"):
        parse_location("s3:///lake")


def test_objects_and_conditional_put(s3_prefix: str) -> None:
    root = parse_location(s3_prefix)
    assert isinstance(root, S3Path)
    assert not root.exists()
    (root / "a" / "x.json").write_text("{}")
    (root / "b.txt").write_text("نص")
    assert root.is_dir() and (root / "b.txt").is_file() and not (root / "a").is_file()
    assert (root / "b.txt").read_text() == "نص"
    assert sorted(p.name for p in root.iterdir()) == ["a", "b.txt"]
    assert [p.name for p in (root / "a").glob("*.json")] == ["x.json"]
    lock = root / ".lock"
    tag = lock.create(b"one")
    assert tag is not None
    assert lock.create(b"two") is None  # If-None-Match: the second creator is refused
    assert lock.replace_if(b"three", '"not-the-tag"') is None
    assert lock.replace_if(b"three", tag) is not None
    assert lock.read_bytes() == b"three"
    root.rmtree()
    assert not root.exists()


def test_wrong_credentials_are_refused(s3_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(Exception, match=r"403|SignatureDoesNotMatch|InvalidAccessKeyId"):
        S3Path("lake", "anything").is_dir()


def test_storage_options_never_allow_unsafe_rename(s3_env: S3Server) -> None:
    options = storage_options()
    assert options["conditional_put"] == "etag"
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    assert options["AWS_ENDPOINT_URL"] == s3_env.endpoint
