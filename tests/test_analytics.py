"""`akhbar sql`: every dataset a typed view, one-line errors with exit 2, table/csv/parquet output."""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from akhbar import pipeline
from akhbar.analytics import LakeError, QueryError, open_lake, run_query, view_columns
from akhbar.cli import app
from akhbar.commands.analytics import TABLE_ROWS
from akhbar.dictionary import duckdb_type_name
from akhbar.lake import ensure_lake, prepare_lake
from akhbar.runs import RunSummary, write_run_record
from schemas import ALL_DATASETS, SEGMENTS, Column

RUN_ID = "00000000-0000-4000-8000-000000000001"
GOLD = "ارتفعت أسعار الذهب في الأسواق المحلية اليوم"
DIPLOMACY = "التقى وزير الخارجية نظيره الفرنسي في باريس"


def build_lake(root: Path) -> Path:
    """Two small files through the Prefect-free pipeline: 3 segments, 1 quarantined line, 1 run."""
    lake, inbox = root / "lake", root / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "gold.txt").write_text(f"{GOLD}\n\n{DIPLOMACY}…\n", encoding="utf-8")
    (inbox / "mixed.txt").write_bytes("سطر سليم عن الاقتصاد\n".encode() + b"\xff\xfe broken\n")
    prepare_lake(lake)
    documents = [pipeline.ingest_file(path, lake, RUN_ID, root / "work") for path in sorted(inbox.iterdir())]
    when = datetime(2025, 8, 1, 12, tzinfo=UTC)
    summary = RunSummary(RUN_ID, None, str(lake), when, when, "test", documents)
    write_run_record(lake, summary)
    return lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("analytics"))


def _sql(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["sql", *args], env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("dataset", ALL_DATASETS, ids=lambda d: d.name)
def test_every_dataset_is_a_view_with_declared_columns_and_types(lake: Path, dataset: object) -> None:
    with open_lake(lake) as connection:
        described = connection.sql(f'DESCRIBE "{dataset.name}"').fetchall()  # type: ignore[attr-defined]
    declared = dataset.arrow_schema()  # type: ignore[attr-defined]
    assert [(row[0], row[1]) for row in described] == [(f.name, duckdb_type_name(f.type)) for f in declared]


def test_views_read_the_lake(lake: Path) -> None:
    with open_lake(lake) as connection:
        segments = connection.sql("SELECT text, topic, is_truncated FROM segments ORDER BY text").fetchall()
        quarantine = connection.sql("SELECT reason, line_no FROM quarantine").fetchall()
        runs = connection.sql("SELECT run_id, segments_written FROM runs").fetchall()
    assert (GOLD, "gold_prices", False) in segments
    assert (DIPLOMACY, "diplomacy", True) in segments
    assert len(segments) == 3
    assert quarantine == [("invalid_encoding", 2)]
    assert runs == [(RUN_ID, 3)]


def test_dates_are_utc_days_whatever_the_machine_zone(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local-time cast would move the day
    with open_lake(lake) as connection:
        assert connection.sql("SELECT current_setting('TimeZone')").fetchall()[0] == ("UTC",)
        day = connection.sql("SELECT CAST(TIMESTAMPTZ '2025-08-01 23:30:00+00' AS DATE)").fetchall()[0]
    assert day[0].isoformat() == "2025-08-01"


def test_missing_lake_and_non_lake_are_named(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=f"^lake not found: {tmp_path / 'nope'}$"):
        open_lake(tmp_path / "nope")
    with pytest.raises(LakeError, match="not an akhbar lake"):
        open_lake(tmp_path)


def test_dataset_without_files_is_an_empty_typed_view(tmp_path: Path) -> None:
    ensure_lake(tmp_path)
    with open_lake(tmp_path) as connection:
        assert connection.sql("SELECT count(*) FROM quarantine").fetchall()[0] == (0,)
        assert view_columns(connection, "runs") == [f.name for f in ALL_DATASETS[-1].arrow_schema()]


def test_a_column_added_after_the_files_were_written_reads_as_null(lake: Path) -> None:
    later = replace(SEGMENTS, columns=(*SEGMENTS.columns, Column("added_later", pa.list_(pa.string()), True, "x")))
    with open_lake(lake, datasets=(later,)) as connection:
        rows = connection.sql("SELECT count(*), count(added_later) FROM segments").fetchall()[0]
        assert view_columns(connection, "segments")[-1] == "added_later"
    assert rows == (3, 0)


def test_columns_no_declaration_knows_stay_visible(tmp_path: Path) -> None:
    newer = SEGMENTS.arrow_schema().append(pa.field("newer", pa.int64()))
    ensure_lake(tmp_path)
    shutil.rmtree(tmp_path / "segments")
    DeltaTable.create(str(tmp_path / "segments"), schema=newer)  # as a newer akhbar would have made it
    with open_lake(tmp_path, datasets=(SEGMENTS,)) as connection:
        assert view_columns(connection, "segments") == [*SEGMENTS.column_names, "newer"]


def test_bad_sql_is_one_line(lake: Path) -> None:
    with open_lake(lake) as connection, pytest.raises(QueryError) as caught:
        run_query(connection, "SELEC 1")
    assert str(caught.value) == 'Parser Error: syntax error at or near "SELEC"'


def test_sql_command_prints_a_table(lake: Path) -> None:
    code, out, _ = _sql("SELECT topic, count(*) AS n FROM segments GROUP BY topic ORDER BY topic", "--lake", str(lake))
    assert code == 0
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    assert rows == [["diplomacy", "1"], ["gold_prices", "1"], ["other", "1"]]


def test_sql_command_table_is_capped(lake: Path) -> None:
    code, out, err = _sql(f"SELECT * FROM range({TABLE_ROWS + 5})", "--lake", str(lake))
    assert code == 0
    assert sum(line.startswith("│") for line in out.splitlines()) == TABLE_ROWS
    assert f"showing the first {TABLE_ROWS} rows" in err


def test_sql_command_csv_to_stdout_renders_nested_values(lake: Path) -> None:
    query = "SELECT line_no, text, [line_no, 2] AS pair FROM segments WHERE topic = 'gold_prices'"
    code, out, _ = _sql(query, "--lake", str(lake), "--format", "csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [["line_no", "text", "pair"], ["1", GOLD, "[1, 2]"]]


def test_sql_command_writes_parquet_and_csv_files(lake: Path, tmp_path: Path) -> None:
    query = "SELECT segment_id, topic_scores FROM segments ORDER BY segment_id"
    code, _, err = _sql(query, "--lake", str(lake), "--out", str(tmp_path / "out.parquet"))
    assert code == 0, err
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 3
    assert pa.types.is_list(table.schema.field("topic_scores").type)
    code, _, _ = _sql(query, "--lake", str(lake), "--format", "csv", "--out", str(tmp_path / "out.txt"))
    assert code == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").startswith("segment_id,topic_scores\n")


def test_sql_command_uses_akhbar_lake_from_the_environment(lake: Path) -> None:
    code, out, _ = _sql("SELECT count(*) AS n FROM documents", env={"AKHBAR_LAKE": str(lake)})
    assert code == 0
    assert "│ 2 │" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELEC 1"], 'error: Parser Error: syntax error at or near "SELEC"'),
        (["SELECT nope FROM segments"], 'error: Binder Error: Referenced column "nope" not found in FROM clause!'),
        (["SELECT 1", "--format", "parquet"], "error: --format parquet needs --out FILE"),
        (["SELECT 1", "--out", "x.txt"], "error: --out needs --format csv or parquet (or a .csv/.parquet file name)"),
        (["SELECT CAST('x' AS INTEGER)"], "error: Conversion Error: Could not convert string 'x' to INT32"),
    ],
)
def test_sql_errors_are_one_line_and_exit_2(lake: Path, args: list[str], message: str) -> None:
    code, out, err = _sql(*args, "--lake", str(lake))
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [message]


def test_sql_missing_lake_exits_2(tmp_path: Path) -> None:
    code, _, err = _sql("SELECT 1", "--lake", str(tmp_path / "gone"))
    assert code == 2
    assert err.strip() == f"error: lake not found: {tmp_path / 'gone'}"


def test_sql_unwritable_output_exits_2(lake: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.csv"
    code, _, err = _sql("SELECT 1", "--lake", str(lake), "--out", str(target))
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_views_use_absolute_paths(lake: Path, tmp_path: Path) -> None:
    relative = Path(os.path.relpath(lake, tmp_path))
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        connection = open_lake(relative)
    finally:
        os.chdir(cwd)
    with connection:
        assert connection.sql("SELECT count(*) FROM segments").fetchall()[0] == (3,)


def test_folder_names_above_the_lake_are_not_columns(tmp_path: Path) -> None:
    lake = build_lake(tmp_path / "topic=sports" / "lang=xx")
    with open_lake(lake) as connection:
        topics = connection.sql("SELECT DISTINCT topic FROM segments ORDER BY topic").fetchall()
        columns = view_columns(connection, "segments")
    assert ("sports",) not in topics
    assert {"gold_prices", "diplomacy"} <= {row[0] for row in topics}
    assert columns == SEGMENTS.arrow_schema().names
    code, out, _ = _sql("SELECT DISTINCT topic FROM segments", "--lake", str(lake), "--format", "csv")
    assert code == 0 and "sports" not in out


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM read_text('/etc/passwd')", 'Cannot access file "/etc/passwd"'),
        ("SELECT * FROM glob('/root/**')", 'Cannot access file "/root/**"'),
        ("SELECT * FROM read_csv('/etc/hostname')", 'Cannot access file "/etc/hostname"'),
        ("COPY (SELECT 1) TO '{lake}/report.html'", "COPY statements are refused"),
        ("COPY (SELECT 1) TO '{tmp}/x.csv'", "COPY statements are refused"),
        ("ATTACH '{tmp}/new.duckdb'", "ATTACH statements are refused"),
        ("INSTALL httpfs", "INSTALL/LOAD statements are refused"),
        ("LOAD httpfs", "INSTALL/LOAD statements are refused"),
        ("SET enable_external_access = true", "SET statements are refused"),
        ("CREATE TABLE t AS SELECT 1", "CREATE statements are refused"),
        ("SELECT 1; COPY (SELECT 1) TO '{tmp}/y.csv'", "COPY statements are refused"),
        ("SELECT * FROM read_parquet('http://example.com/x.parquet')", 'Cannot access file "http://example.com'),
    ],
)
def test_sql_is_read_only_over_the_lake_by_default(lake: Path, tmp_path: Path, query: str, message: str) -> None:
    report_before = sorted(p.name for p in lake.iterdir())
    code, out, err = _sql(query.format(lake=lake, tmp=tmp_path), "--lake", str(lake))
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0] and "--unsafe lifts this" in lines[0]
    assert sorted(p.name for p in lake.iterdir()) == report_before
    assert list(tmp_path.iterdir()) == []


def test_the_sandbox_still_reads_the_lake(lake: Path) -> None:
    code, out, _ = _sql("SELECT count(*) AS n FROM segments; EXPLAIN SELECT 1", "--lake", str(lake), "--format", "csv")
    assert code == 0 and "physical_plan" in out
    code, out, _ = _sql(f"SELECT count(*) > 0 AS n FROM glob('{lake}/segments/*.parquet')", "--lake", str(lake))
    assert code == 0 and "true" in out
    code, out, _ = _sql("DESCRIBE segments", "--lake", str(lake), "--format", "csv")
    assert code == 0 and out.startswith("column_name,")


def test_unsafe_lifts_the_sandbox(lake: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.csv"
    code, _, err = _sql(f"COPY (SELECT 42 AS answer) TO '{target}'", "--lake", str(lake), "--unsafe")
    assert code == 0, err
    assert target.read_text(encoding="utf-8").splitlines() == ["answer", "42"]
    code, out, _ = _sql("SELECT count(*) > 0 AS x FROM read_text('/etc/hostname')", "--lake", str(lake), "--unsafe")
    assert code == 0 and "true" in out


def test_arrow_datasets_registered_before_the_lock_stay_readable(lake: Path) -> None:
    """The Delta Lake views will be Arrow scans: locking must not cut them off."""
    import duckdb
    import pyarrow.dataset as ds

    from akhbar.analytics import lock_down

    files = [str(p) for p in (lake / "segments").glob("*.parquet") if not p.name.startswith("_")]
    connection = duckdb.connect()
    connection.register("segments_arrow", ds.dataset(files, format="parquet"))
    lock_down(connection)  # no allowed directory at all
    assert connection.sql("SELECT count(*) FROM segments_arrow").fetchall() == [(3,)]
    with pytest.raises(duckdb.PermissionException):
        connection.sql(f"SELECT * FROM read_parquet('{files[0]}')").fetchall()


def test_sql_column_names_are_text_not_markup(lake: Path) -> None:
    code, out, err = _sql('SELECT 1 AS "[/]", 2 AS "[bold]b"', "--lake", str(lake))
    assert code == 0, err
    assert "[/]" in out and "[bold]b" in out
