"""The command line on an S3 lake (a real SeaweedFS): run, sql, report, lake check/optimize, and the
one-line refusals (wrong credentials, unknown bucket, unsupported scheme) before Prefect starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from akhbar.cli import EXIT_NOTHING, EXIT_OK, EXIT_WARNINGS, app
from akhbar.lake import scan_dataset
from akhbar.storage import S3Path, parse_location
from schemas import DOCUMENTS, RUNS
from tests.s3.conftest import ACCESS_KEY, READER_KEY, READER_SECRET, SECRET_KEY, S3Server

runner = CliRunner()


def _lake(prefix: str) -> S3Path:
    lake = parse_location(prefix)
    assert isinstance(lake, S3Path)
    return lake


@pytest.mark.usefixtures("prefect_harness")
def test_run_sql_report_and_lake_commands_on_s3(
    s3_env: S3Server, s3_prefix: str, seed_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["run", str(seed_file), "--lake", s3_prefix, "--quiet"])
    assert result.exit_code == EXIT_OK, result.output
    assert f"{s3_prefix}/segments" in result.output
    outputs = [result.output]
    lake = _lake(s3_prefix)
    assert scan_dataset(lake, DOCUMENTS).collect().height == 1
    # AKHBAR_LAKE names the same lake: the seed is already in it.
    monkeypatch.setenv("AKHBAR_LAKE", s3_prefix)
    again = runner.invoke(app, ["run", str(seed_file), "--quiet"])
    assert again.exit_code == EXIT_OK, again.output
    outputs.append(again.output)
    assert scan_dataset(lake, DOCUMENTS).collect().height == 1
    assert scan_dataset(lake, RUNS).collect().height == 2
    sql = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM documents", "--lake", s3_prefix, "--format", "csv"])
    assert sql.exit_code == 0, sql.output
    assert sql.output.splitlines() == ["n", "1"]
    refused = runner.invoke(app, ["sql", "SELECT * FROM read_text('/etc/passwd')", "--lake", s3_prefix])
    assert refused.exit_code != 0  # the sandbox still holds with an object-store lake
    report = tmp_path / "report.html"
    written = runner.invoke(app, ["report", "--out", str(report), "--lake", s3_prefix])
    assert written.exit_code == 0, written.output
    assert s3_prefix in report.read_text(encoding="utf-8")
    check = runner.invoke(app, ["lake", "check", "--lake", s3_prefix])
    assert check.exit_code == 0, check.output
    optimize = runner.invoke(app, ["lake", "optimize", "--lake", s3_prefix])
    assert optimize.exit_code == 0, optimize.output
    outputs += [sql.output, written.output, check.output, optimize.output, report.read_text(encoding="utf-8")]
    runs = scan_dataset(lake, RUNS).collect()
    outputs.append(str(runs.to_dicts()))
    outputs += [path.read_bytes().decode("utf-8", "replace") for path, _ in lake.walk_objects()]
    outputs += _prefect_logs_and_artifacts()
    assert len(outputs) > 20
    assert not [text for text in outputs if SECRET_KEY in text]


def _prefect_logs_and_artifacts() -> list[str]:
    """Every log line and artifact the session's Prefect server holds, as text."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # logs reach the server in the background
    texts: list[str] = []
    with get_client(sync_client=True) as client:
        offset = 0
        while logs := client.read_logs(limit=200, offset=offset):
            texts += [log.message for log in logs]
            offset += len(logs)
        texts += [artifact.model_dump_json() for artifact in client.read_artifacts()]
        texts += [run.model_dump_json() for run in client.read_flow_runs()]
    assert texts, "the Prefect server holds the runs' logs"
    return texts


def test_wrong_credentials_are_one_line_and_write_nothing(
    s3_env: S3Server, s3_prefix: str, seed_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key")
    result = runner.invoke(app, ["run", str(seed_file), "--lake", s3_prefix])
    assert result.exit_code == EXIT_NOTHING
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "bucket 'lake'" in lines[0] and "SignatureDoesNotMatch" in lines[0]
    assert "not-the-secret-key" not in result.output
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_env.env()["AWS_SECRET_ACCESS_KEY"])
    assert not _lake(s3_prefix).exists()


def test_unknown_bucket_is_named(s3_env: S3Server, seed_file: Path) -> None:
    result = runner.invoke(app, ["run", str(seed_file), "--lake", "s3://no-such-bucket/lake"])
    assert result.exit_code == EXIT_NOTHING
    assert "bucket 'no-such-bucket'" in result.output and "NoSuchBucket" in result.output
    assert SECRET_KEY not in result.output


def test_unsupported_scheme_lists_the_supported_ones(seed_file: Path) -> None:
    for command in (["run", str(seed_file), "--lake", "gs://b/lake"], ["sql", "SELECT 1", "--lake", "gs://b/lake"]):
        result = runner.invoke(app, command)
        assert result.exit_code == EXIT_NOTHING, result.output
        assert "gs:// is not supported" in result.output and "s3://bucket/prefix" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_run_with_s3_inputs_names_the_missing_key(s3_env: S3Server, s3_prefix: str) -> None:
    drop = S3Path("raw", "cli-drop")
    (drop / "one.txt").write_text("عاجل: الحكومة تعلن خطة اقتصادية جديدة لدعم الصادرات\n")
    (drop / "two.txt").write_text("وزير الصحة يفتتح مستشفى جديداً في القاهرة\n")
    result = runner.invoke(app, ["run", f"{drop}/", f"{drop}/missing.txt", "--lake", s3_prefix, "--quiet"])
    assert result.exit_code == EXIT_WARNINGS, result.output
    assert f"path not found: {drop}/missing.txt" in result.output
    documents = scan_dataset(_lake(s3_prefix), DOCUMENTS).collect()
    assert sorted(documents.get_column("source_path")) == [f"{drop}/one.txt", f"{drop}/two.txt"]


@pytest.mark.usefixtures("prefect_harness")
def test_the_server_stopped_mid_run_fails_clearly_and_a_rerun_converges(
    s3_env: S3Server, s3_prefix: str, seed_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import akhbar.lake
    import akhbar.publish
    from akhbar.lake_check import check_lake_invariants

    monkeypatch.setattr(akhbar.lake, "S3_LOCK_LEASE_SECONDS", 2.0)  # the dead run's lock expires fast
    real_checkpoint = akhbar.publish.checkpoint

    def stop_the_server(name: str) -> None:
        if name == "after-segments":
            s3_env.stop()
        real_checkpoint(name)

    monkeypatch.setattr(akhbar.publish, "checkpoint", stop_the_server)
    try:
        failed = runner.invoke(app, ["run", str(seed_file), "--lake", s3_prefix, "--quiet"])
    finally:
        s3_env.start()
    monkeypatch.setattr(akhbar.publish, "checkpoint", real_checkpoint)
    assert failed.exit_code == EXIT_NOTHING, failed.output
    last = failed.output.rstrip().splitlines()[-1]
    assert last.startswith("error: ") and s3_env.endpoint.removeprefix("http://") in last, last
    assert SECRET_KEY not in failed.output
    lake = _lake(s3_prefix)
    assert scan_dataset(lake, DOCUMENTS).collect().height == 0  # readable; nothing half-committed counts
    again = runner.invoke(app, ["run", str(seed_file), "--lake", s3_prefix, "--quiet"])
    assert again.exit_code == EXIT_OK, again.output
    assert check_lake_invariants(lake) == []
    assert scan_dataset(lake, DOCUMENTS).collect().height == 1


def test_a_read_only_key_or_a_foreign_prefix_is_refused_before_prefect(
    s3_env: S3Server, s3_prefix: str, seed_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_lake(s3_prefix) / "someone-elses.csv").write_text("a,b\n")
    result = runner.invoke(app, ["run", str(seed_file), "--lake", s3_prefix])
    assert result.exit_code == EXIT_NOTHING
    assert f"{s3_prefix} is not an akhbar lake" in result.output
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER_SECRET)
    result = runner.invoke(app, ["run", str(seed_file), "--lake", "s3://lake/read-only-lake"])
    assert result.exit_code == EXIT_NOTHING
    assert "bucket 'lake'" in result.output and "AccessDenied" in result.output, result.output
    assert READER_SECRET not in result.output


def test_credentials_from_a_named_profile(
    s3_env: S3Server, s3_prefix: str, seed_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key in the environment: AWS_PROFILE names a profile of the shared files, as the AWS CLI reads them."""
    credentials, config = tmp_path / "credentials", tmp_path / "config"
    credentials.write_text(
        f"[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n"
        f"[akhbar-test]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    config.write_text(f"[profile akhbar-test]\nregion = us-east-1\nendpoint_url = {s3_env.endpoint}\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "akhbar-test")
    result = runner.invoke(app, ["run", str(seed_file), "--lake", s3_prefix, "--quiet"])
    assert result.exit_code == EXIT_OK, result.output
    assert SECRET_KEY not in result.output
    assert scan_dataset(parse_location(s3_prefix), DOCUMENTS).collect().height == 1
