"""The ingest flow end to end, on a Prefect test server, and the lake it writes."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from akhbar.analytics import open_lake
from akhbar.dictionary import duckdb_type_name
from akhbar.lake import dataset_glob, scan_dataset
from akhbar.runs import RunSummary
from schemas import ALL_DATASETS, ARTICLES, DOCUMENTS, QUARANTINE, RUNS, SEGMENTS

#: The seed's expected topics, line by line (issue "End-to-end pipeline", done means).
SEED_TOPICS = {
    **dict.fromkeys(range(1, 9), "diplomacy"),
    9: "other",
    10: "gold_prices",
    11: "other",
    12: "markets",
    13: "football",
    14: "gold_prices",
}

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def seed_lake(tmp_path_factory: pytest.TempPathFactory, seed_file: Path) -> Iterator[tuple[Path, RunSummary]]:
    """The seed ingested once into a fresh lake."""
    from flows import ingest

    lake = tmp_path_factory.mktemp("lake")
    summary = ingest([str(seed_file)], lake=str(lake))
    yield lake, summary


def _segments(lake: Path) -> pl.DataFrame:
    return scan_dataset(lake, SEGMENTS).collect().sort("doc_id", "line_no")


def test_seed_lines_get_the_expected_topics(seed_lake: tuple[Path, RunSummary]) -> None:
    lake, _ = seed_lake
    segments = _segments(lake)
    assert dict(zip(segments["line_no"], segments["topic"], strict=True)) == SEED_TOPICS


def test_seed_truncation_and_language(seed_lake: tuple[Path, RunSummary]) -> None:
    segments = _segments(seed_lake[0])
    truncated = segments.filter(pl.col("is_truncated")).get_column("line_no").to_list()
    assert truncated == list(range(9, 15))
    assert set(segments.get_column("lang").to_list()) == {"ar"}
    assert segments.filter(pl.col("text").str.ends_with("…") | pl.col("text").str.ends_with("...")).is_empty()


def test_every_line_is_accounted_for(seed_lake: tuple[Path, RunSummary], seed_file: Path) -> None:
    lake, summary = seed_lake
    document = scan_dataset(lake, DOCUMENTS).collect().row(0, named=True)
    lines_in_file = len(seed_file.read_text(encoding="utf-8").splitlines())
    assert document["total_lines"] == lines_in_file
    assert (
        document["total_lines"] == document["blank_lines"] + document["segment_lines"] + document["quarantined_lines"]
    )
    assert document["segment_lines"] == _segments(lake).height
    assert summary.status == "completed"
    assert summary.exit_code == 0


@pytest.mark.parametrize("dataset", ALL_DATASETS, ids=lambda d: d.name)
def test_duckdb_reads_every_dataset_with_declared_types(seed_lake: tuple[Path, RunSummary], dataset: object) -> None:
    lake, _ = seed_lake
    declared = dataset.arrow_schema()  # type: ignore[attr-defined]
    with open_lake(lake) as connection:  # akhbar sql's views over the Delta tables
        described = connection.sql(f"DESCRIBE {dataset.name}").fetchall()  # type: ignore[attr-defined]
    assert [(name, kind) for name, kind, *_ in described] == [(f.name, duckdb_type_name(f.type)) for f in declared]
    if list((lake / dataset.name).glob("*.parquet")):  # a reader that only knows Parquet, on the folder
        plain = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{dataset_glob(lake, dataset)}')").fetchall()  # type: ignore[arg-type]
        assert [(name, kind) for name, kind, *_ in plain] == [(f.name, duckdb_type_name(f.type)) for f in declared]


@pytest.mark.parametrize("dataset", ALL_DATASETS, ids=lambda d: d.name)
def test_parquet_files_carry_schema_and_descriptions(seed_lake: tuple[Path, RunSummary], dataset: object) -> None:
    lake, _ = seed_lake
    for path in (lake / dataset.name).glob("*.parquet"):  # type: ignore[attr-defined]
        schema = pq.read_schema(path)
        declared = dataset.arrow_schema()  # type: ignore[attr-defined]
        # Types, nullability and each field's description; the dataset-level metadata is the table's.
        assert schema.equals(declared, check_metadata=False)
        assert [f.metadata for f in schema] == [f.metadata for f in declared]
        metadata = pq.ParquetFile(path).metadata
        for group in range(metadata.num_row_groups):
            assert metadata.row_group(group).column(0).compression == "ZSTD"


def test_rerun_writes_no_duplicates(seed_lake: tuple[Path, RunSummary], seed_file: Path) -> None:
    from flows import ingest

    lake, _ = seed_lake
    before = _segments(lake)
    ingest([str(seed_file)], lake=str(lake))
    after = _segments(lake)
    assert after.height == before.height
    assert after.get_column("segment_id").n_unique() == after.height
    assert scan_dataset(lake, DOCUMENTS).collect().height == 1
    assert scan_dataset(lake, RUNS).collect().height >= 2
    assert after.drop("run_id", "processed_at").equals(before.drop("run_id", "processed_at"))


LEGACY_LINES = ["ارتفعت أسعار الذهب في الأسواق المحلية اليوم", "", "التقى وزير الخارجية نظيره الفرنسي في باريس"]


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("windows-1256", "\r\n".join(LEGACY_LINES).encode("cp1256")),
        ("utf-16", codecs.BOM_UTF16_LE + "\n".join(LEGACY_LINES).encode("utf-16-le")),
        ("utf-16", codecs.BOM_UTF16_BE + "\r".join(LEGACY_LINES).encode("utf-16-be")),
    ],
)
def test_legacy_encodings_are_decoded_and_recorded(tmp_path: Path, encoding: str, payload: bytes) -> None:
    from flows import ingest

    source = tmp_path / "legacy.txt"
    source.write_bytes(payload)
    summary = ingest([str(source)], lake=str(tmp_path / "lake"))
    assert summary.exit_code == 0
    document = scan_dataset(tmp_path / "lake", DOCUMENTS).collect().row(0, named=True)
    assert (document["encoding"], document["blank_lines"], document["segment_lines"]) == (encoding, 1, 2)
    texts = _segments(tmp_path / "lake").get_column("text").to_list()
    assert texts == [LEGACY_LINES[0], LEGACY_LINES[2]]


def test_bad_lines_and_binary_files_are_quarantined_not_lost(tmp_path: Path) -> None:
    from flows import ingest

    good = "سطر سليم عن الاقتصاد\n"
    (tmp_path / "mixed.txt").write_bytes((good * 5).encode() + b"\xff\xfe\xfd broken\n" + good.encode())
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    (tmp_path / "image.txt").write_bytes(png)
    summary = ingest([str(tmp_path / "mixed.txt"), str(tmp_path / "image.txt")], lake=str(tmp_path / "lake"))
    assert summary.exit_code == 1
    quarantine = scan_dataset(tmp_path / "lake", QUARANTINE).collect().sort("reason")
    assert quarantine.select("line_no", "reason", "raw").rows() == [
        (None, "binary_content", png),
        (6, "invalid_encoding", b"\xff\xfe\xfd broken"),
    ]
    documents = scan_dataset(tmp_path / "lake", DOCUMENTS).collect().sort("source_path")
    assert documents.select("status", "total_lines", "segment_lines", "quarantined_lines").rows() == [
        ("quarantined", 0, 0, 0),
        ("partial", 7, 6, 1),
    ]


def test_seed_articles_and_facts_in_the_lake(seed_lake: tuple[Path, RunSummary]) -> None:
    lake, _ = seed_lake
    articles = scan_dataset(lake, ARTICLES).collect().sort("first_line_no")
    spans = list(zip(articles["first_line_no"], articles["last_line_no"], strict=True))
    assert spans == [(1, 8)] + [(line, line) for line in range(9, 15)]
    assert articles["topic"].to_list() == ["diplomacy"] + [SEED_TOPICS[line] for line in range(9, 15)]
    segments = _segments(lake)
    assert segments["article_id"].to_list() == [articles["article_id"][0]] * 8 + articles["article_id"][1:].to_list()
    row = {line: segments.row(line - 1, named=True) for line in range(1, 15)}
    assert row[11]["published_at"] == datetime(2025, 8, 1, 18, 8, tzinfo=UTC)
    assert date(2025, 8, 1) in row[14]["dates"]
    assert date(2025, 10, 15) in row[2]["dates"]
    assert {"value": 90.3, "unit": "%", "kind": "percent"} in row[12]["quantities"]
    assert {"value": 2.0, "unit": "%", "kind": "percent"} in row[10]["quantities"]
    assert {"SY", "RU"} <= set(row[1]["countries"]) and {"SY", "RU"} <= set(row[5]["countries"])
    assert set(articles["countries"][0]) >= {"SY", "RU"}


def test_batches_run_their_steps_in_order_and_one_at_a_time_in_language_detection(
    tmp_path: Path, seed_file: Path
) -> None:
    """The flow submits a batch's next step when its previous one completes: every batch's task runs
    follow the stage table in order, language detection (``Stage.max_batches``) holds one batch at a
    time, and a batch decodes while another one is still in its later stages."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from akhbar.stages import STAGE_NAMES, STAGES
    from flows import ingest

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    text = seed_file.read_text(encoding="utf-8")
    batches = 6
    for number in range(batches):
        (inbox / f"feed-{number}.txt").write_text(f"{number}\n{text}", encoding="utf-8")
    state = ingest([str(inbox)], lake=str(tmp_path / "lake"), batch_max_files=1, return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    steps: dict[int, list[tuple[datetime, datetime, str]]] = {}
    for run in task_runs:
        name, _, label = run.name.partition(" batch ")
        if label:
            assert run.state is not None and run.state.is_completed(), run.name
            assert run.start_time is not None and run.end_time is not None
            steps.setdefault(int(label.split()[0]), []).append((run.start_time, run.end_time, name))
    assert sorted(steps) == list(range(1, batches + 1))
    for number, runs in steps.items():
        runs.sort()
        assert [name for _, _, name in runs] == list(STAGE_NAMES), number
        assert all(previous[1] <= following[0] for previous, following in pairwise(runs)), number
    limited = {stage.name: stage.max_batches for stage in STAGES if stage.max_batches}
    assert limited == {"detect-language": 1}
    detecting = sorted((start, end) for runs in steps.values() for start, end, name in runs if name in limited)
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(detecting))
    # Batches overlap: some batch decodes before the first one has published.
    first_published = min(start for runs in steps.values() for start, _, name in runs if name == "publish")
    decodes = [start for runs in steps.values() for start, _, name in runs if name == "decode"]
    assert sum(start < first_published for start in decodes) > 1
