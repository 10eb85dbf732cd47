"""The `akhbar` command line: exit codes and messages that name what went wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akhbar.cli import EXIT_NOTHING, EXIT_WARNINGS, app

runner = CliRunner()


def test_missing_path_only_writes_nothing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["run", str(tmp_path / "nope.txt"), "--lake", str(lake)])
    assert result.exit_code == EXIT_NOTHING
    assert f"path not found: {tmp_path / 'nope.txt'}" in result.output
    assert not lake.exists()


def test_empty_directory_is_named(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    result = runner.invoke(app, ["run", str(tmp_path / "inbox"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == EXIT_NOTHING
    assert f"no *.txt files under {tmp_path / 'inbox'}" in result.output


def test_missing_taxonomy_file_is_named(tmp_path: Path, seed_file: Path) -> None:
    result = runner.invoke(app, ["run", str(seed_file), "--lake", str(tmp_path / "lake"), "--taxonomy", "x.toml"])
    assert result.exit_code == EXIT_NOTHING
    assert "taxonomy file not found: x.toml" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_run_ingests_good_input_and_reports_the_missing_one(tmp_path: Path, seed_file: Path) -> None:
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["run", str(seed_file), str(tmp_path / "gone.txt"), "--lake", str(lake)])
    assert result.exit_code == EXIT_WARNINGS, result.output
    assert f"path not found: {tmp_path / 'gone.txt'}" in result.output
    assert str(lake / "segments") in result.output
    assert "segments per topic" in result.output
    assert "diplomacy" in result.output
    assert len(list((lake / "segments").glob("*.parquet"))) == 1  # one data file: the batch's commit


def test_eval_prints_metrics_and_writes_json(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {"text": "ارتفع سعر الذهب عيار 21 في محلات الصاغة اليوم", "label": "gold_prices"},
        {"text": "التقى وزير الخارجية نظيره الفرنسي لبحث العلاقات الثنائية", "label": "diplomacy"},
        {"text": "فاز ريال مدريد على برشلونة في الدوري الإسباني", "label": "football"},
        {"text": "أغلق مؤشر البورصة المصرية على ارتفاع بدعم من أسهم البنوك", "label": "markets"},
        {"text": "توقعت الأرصاد الجوية أمطارا غزيرة على السواحل الشمالية", "label": "other"},
    ]
    labeled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "metrics.json"
    result = runner.invoke(app, ["eval", "--labeled", str(labeled), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["examples"] == len(rows)
    assert set(metrics["per_class"]) == {r["label"] for r in rows}


def test_eval_names_a_bad_line(tmp_path: Path) -> None:
    labeled = tmp_path / "broken.jsonl"
    labeled.write_text('{"text": "خبر", "label": "other"}\n{not json\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "--labeled", str(labeled)])
    assert result.exit_code == EXIT_NOTHING
    assert f"{labeled}" in result.output and "2" in result.output
