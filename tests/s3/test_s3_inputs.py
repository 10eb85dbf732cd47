"""Raw drops in object storage (a real SeaweedFS): prefixes, globs, incremental runs by content hash,
a changed object, a missing key and an object gone before it is read, into an S3 lake."""

from __future__ import annotations

from pathlib import Path

from akhbar.inputs import resolve_inputs
from akhbar.lake import scan_dataset
from akhbar.pipeline import ingest_paths
from akhbar.storage import S3Path, parse_location
from schemas import DOCUMENTS, SEGMENTS
from tests.s3.conftest import S3Server

TEXTS = {
    "a.txt": "عاجل: الحكومة تعلن خطة اقتصادية جديدة لدعم الصادرات\nخبر رياضي عن المنتخب الوطني\n",
    "sub/b.txt": "وزير الصحة يفتتح مستشفى جديداً في القاهرة\n\nارتفاع أسعار النفط في الأسواق العالمية\n",
    "notes.md": "not an input\n",
}


def _drop(s3_env: S3Server, name: str) -> S3Path:
    """Upload the sample texts under a fresh prefix of the raw bucket."""
    root = S3Path("raw", name)
    for key, text in TEXTS.items():
        (root / key).write_text(text)
    return root


def _lake(name: str) -> S3Path:
    lake = parse_location(f"s3://lake/{name}")
    assert isinstance(lake, S3Path)
    return lake


def test_prefixes_globs_and_keys_resolve(s3_env: S3Server) -> None:
    root = _drop(s3_env, "resolve")
    selection = resolve_inputs([f"{root}/"])
    assert sorted(str(p) for p in selection.files) == [f"{root}/a.txt", f"{root}/sub/b.txt"]
    assert selection.problems == []
    assert [str(p) for p in resolve_inputs([f"{root}/sub/*.txt"]).files] == [f"{root}/sub/b.txt"]
    assert [str(p) for p in resolve_inputs([f"{root}/notes.md"]).files] == [f"{root}/notes.md"]  # a key: as given
    missing = resolve_inputs([f"{root}/gone.txt", f"{root}/nothing-*.txt", "s3://no-such-bucket/x/"])
    assert missing.files == []
    messages = [p.message for p in missing.problems]
    assert messages[0] == f"path not found: {root}/gone.txt"
    assert "matched no objects" in messages[1]
    assert "s3://no-such-bucket/x/" in messages[2] and "NoSuchBucket" in messages[2]


def test_s3_inputs_into_an_s3_lake_incrementally(s3_env: S3Server, tmp_path: Path) -> None:
    root = _drop(s3_env, "incremental")
    lake = _lake("from-raw")

    def run(run_id: str) -> int:
        selection = resolve_inputs([f"{root}/"])
        results, failures = ingest_paths(selection.files, lake, run_id, tmp_path / "work")
        assert failures == []
        return sum(len(r.documents) for r in results)

    assert run("r1") == 2
    documents = scan_dataset(lake, DOCUMENTS).collect()
    assert sorted(documents.get_column("source_path")) == [f"{root}/a.txt", f"{root}/sub/b.txt"]
    assert run("r2") == 0  # same bytes, same sha256: nothing to do
    (root / "sub" / "b.txt").write_text(TEXTS["sub/b.txt"] + "خبر ثالث عن الطقس\n")
    assert run("r3") == 1  # the changed object replaces its rows
    assert scan_dataset(lake, DOCUMENTS).collect().height == 2
    assert scan_dataset(lake, SEGMENTS).collect().height == 5
    (root / "c.txt").write_text("خبر جديد عن الاقتصاد\n")
    assert run("r4") == 1  # a new object is ingested once
    assert run("r5") == 0


def test_an_object_gone_before_it_is_read_fails_alone(s3_env: S3Server, tmp_path: Path) -> None:
    root = _drop(s3_env, "gone")
    selection = resolve_inputs([f"{root}/"])
    (root / "a.txt").unlink()  # deleted between listing and reading
    results, failures = ingest_paths(selection.files, _lake("gone"), "r1", tmp_path / "work")
    assert [f.source_path for f in failures] == [f"{root}/a.txt"]
    assert "no such object" in failures[0].message
    assert [d.source_path for r in results for d in r.documents] == [f"{root}/sub/b.txt"]
