"""The HTML report: figures from the lake, a self-contained page, artifact rows, and Chromium's view of it.

The lake is built once per module by the real pipeline (``pipeline.ingest_file``, facts included)
from a few lines the team wrote; every expected figure is computed from what those lines state.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from akhbar import pipeline
from akhbar.analytics import open_lake
from akhbar.cli import app
from akhbar.lake import prepare_lake
from akhbar.report import (
    ReportFigures,
    figures_as_artifact_rows,
    render_report_html,
    report_figures,
    topic_colors,
)
from akhbar.runs import RunSummary, write_run_record

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_ID = "00000000-0000-4000-8000-000000000002"
ABU_DHABI = timezone(timedelta(hours=4), "Abu Dhabi")  # UTC+4 all year (no daylight saving)
#: pycountry's names of the codes below ("Syria" is its common name, not "Syrian Arab Republic").
COUNTRY_NAMES = {"RU": "Russian Federation", "SY": "Syria"}


@dataclass(frozen=True)
class Line:
    """One line the team wrote and the facts it states."""

    text: str
    topic: str
    countries: tuple[str, ...] = ()
    #: (kind, unit, value)
    quantities: tuple[tuple[str, str, float], ...] = ()
    #: As the line states it (local time)
    published_at: datetime | None = None


#: A file is a tuple of articles (written with a blank line between them); an article's later lines
#: open with a continuation cue ("وأضاف", "وأكد"); a line ending in "…" is a teaser.
NEWS = (
    (
        Line(
            "تم تحديثه الجمعة 2025/8/1 1:30 ص بتوقيت أبوظبي ارتفعت أسعار الذهب في الأسواق المحلية اليوم بنسبة 2%",
            "gold_prices",
            quantities=(("percent", "%", 2.0),),
            published_at=datetime(2025, 8, 1, 1, 30, tzinfo=ABU_DHABI),
        ),
        Line(
            "وأضاف التجار أن سعر الجرام عيار 21 بلغ 4650 جنيها",
            "gold_prices",
            quantities=(("gold_price", "EGP/g", 4650.0), ("karat", "K", 21.0)),
        ),
    ),
    (
        # Russia twice (الروسي, روسيا) and Syria three times (السوري, دمشق, سوريا): one segment each.
        Line("التقى وزير الخارجية الروسي نظيره السوري في دمشق لبحث العلاقات بين سوريا وروسيا", "diplomacy",
             countries=("RU", "SY")),
        Line("وأكد الجانبان أن المحادثات ستستكمل في موسكو الشهر المقبل", "diplomacy", countries=("RU",)),
    ),
    (Line("استقبل رئيس الوزراء وفدا روسيا رفيعا لبحث التعاون في مجال الطاقة…", "diplomacy", countries=("RU",)),),
)  # fmt: skip
MIXED = ((Line("تراجع معدل التضخم السنوي في البلاد إلى 3 في المئة", "other", quantities=(("percent", "%", 3.0),)),),)
#: Lines that are not UTF-8: each is quarantined as invalid_encoding.
BROKEN = (b"\xff\xfe broken",)
#: file name -> (articles, undecodable lines after them)
FILES: dict[str, tuple[tuple[tuple[Line, ...], ...], tuple[bytes, ...]]] = {
    "news.txt": (NEWS, ()),
    "mixed.txt": (MIXED, BROKEN),
}
LINES = [line for articles, _ in FILES.values() for article in articles for line in article]
PUBLISHED = [line for line in LINES if line.published_at is not None]


def _expected_countries(lines: list[Line]) -> list[tuple[str, str, int]]:
    """top_countries of these lines: a line naming a country several times counts once."""
    counts = Counter(country for line in lines for country in set(line.countries))
    return [(code, COUNTRY_NAMES[code], n) for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _expected_quantities(lines: list[Line]) -> list[tuple[str, int, str]]:
    """quantities_by_kind of these lines: mentions per kind and its distinct units."""
    counts = Counter(kind for line in lines for kind, _, _ in line.quantities)
    units = {kind: sorted({u for line in lines for k, u, _ in line.quantities if k == kind}) for kind in counts}
    return [
        (kind, n, ", ".join(units[kind])) for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _content(articles: tuple[tuple[Line, ...], ...], broken: tuple[bytes, ...]) -> bytes:
    text = "\n\n".join("\n".join(line.text for line in article) for article in articles)
    return b"\n".join([text.encode(), *broken]) + b"\n"


@dataclass(frozen=True)
class Lake:
    path: Path
    #: file name -> doc_id
    doc_ids: dict[str, str]
    #: the UTC days the pipeline ran on (two if it crossed midnight)
    processing_days: frozenset[date]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """FILES through the Prefect-free pipeline, and the run's record."""
    root = tmp_path_factory.mktemp("report")
    path, inbox = root / "lake", root / "inbox"
    inbox.mkdir()
    for name, (articles, broken) in FILES.items():
        (inbox / name).write_bytes(_content(articles, broken))
    prepare_lake(path)
    started = datetime.now(UTC)
    documents = [pipeline.ingest_file(inbox / name, path, RUN_ID, root / "work") for name in FILES]
    finished = datetime.now(UTC)
    record_start = datetime(2025, 8, 1, 12, tzinfo=UTC)
    summary = RunSummary(RUN_ID, None, str(path), record_start, record_start.replace(second=3), "t", documents)
    write_run_record(path, summary)
    doc_ids = {name: document.doc_id for name, document in zip(FILES, documents, strict=True)}
    return Lake(path, doc_ids, frozenset({started.date(), finished.date()}))


@pytest.fixture(scope="module")
def figures(lake: Lake) -> ReportFigures:
    return report_figures(lake.path)


def test_the_pipeline_extracted_what_the_lines_state(lake: Lake) -> None:
    """The premise of every test below: the lake's segments carry the facts LINES declare."""
    sql = (
        "SELECT s.text, CAST(s.topic AS VARCHAR), CAST(s.lang AS VARCHAR), s.countries, s.quantities, s.published_at "
        "FROM segments s ORDER BY s.doc_id, s.line_no"
    )
    with open_lake(lake.path) as connection:
        rows = connection.sql(sql).fetchall()
    order = sorted(FILES, key=lambda name: lake.doc_ids[name])
    expected_lines = [line for name in order for article in FILES[name][0] for line in article]
    assert [
        (text, topic, lang, tuple(countries), sorted((q["kind"], q["unit"], q["value"]) for q in quantities), when)
        for text, topic, lang, countries, quantities, when in rows
    ] == [
        (line.text.removesuffix("…"), line.topic, "ar", line.countries, sorted(line.quantities), line.published_at)
        for line in expected_lines
    ]


def test_figures_aggregate_the_lake(figures: ReportFigures) -> None:
    articles = sum(len(articles) for articles, _ in FILES.values())
    quarantined = sum(len(broken) for _, broken in FILES.values())
    assert figures.totals.rows() == [
        ("segments", len(LINES)), ("articles", articles), ("documents", len(FILES)), ("quarantine", quarantined),
        ("runs", 1),
    ]  # fmt: skip
    assert figures.languages.rows() == [("ar", len(LINES))]
    assert figures.top_countries.rows() == _expected_countries(LINES)
    assert figures.quantities_by_kind.rows() == _expected_quantities(LINES)
    assert figures.quarantine_reasons.rows() == [("invalid_encoding", quarantined)]
    run = figures.latest_runs.row(0, named=True)
    assert (run["run_id"], run["status"], run["segments_written"], run["quarantine_written"], run["duration_s"]) == (
        RUN_ID, "completed_with_warnings", len(LINES), quarantined, 3.0,
    )  # fmt: skip


def test_notes_count_the_segments_dated_by_processing_day(figures: ReportFigures) -> None:
    undated = len(LINES) - len(PUBLISHED)
    assert figures.notes == {
        "topics_by_day": f"{undated} of {len(LINES)} segments state no publication time (segments.published_at): "
        "they are counted on the day akhbar processed them",
    }


def test_topics_by_day_uses_the_utc_publication_day_when_known(lake: Lake, figures: ReportFigures) -> None:
    published: Counter[tuple[date, str]] = Counter()
    processed: Counter[str] = Counter()
    for day, topic, segments in figures.topics_by_day.rows():
        if day in lake.processing_days:
            processed[topic] += segments
        else:
            published[(day, topic)] += segments
    # 1:30 on 1 August in Abu Dhabi is 21:30 UTC on 31 July: the UTC day, whatever the machine's zone.
    assert published == Counter(
        (line.published_at.astimezone(UTC).date(), line.topic) for line in PUBLISHED if line.published_at
    )
    assert date(2025, 7, 31) in {day for day, _ in published}
    assert processed == Counter(line.topic for line in LINES if line.published_at is None)
    assert figures.topics_by_day.schema == pl.Schema({"day": pl.Date, "topic": pl.String, "segments": pl.Int64})


def test_artifact_rows_are_one_long_table(figures: ReportFigures) -> None:
    rows = figures_as_artifact_rows(figures)
    assert {tuple(row) for row in rows} == {("figure", "group", "label", "value")}
    russia = sum("RU" in line.countries for line in LINES)
    percent = sum(kind == "percent" for line in LINES for kind, _, _ in line.quantities)
    assert {"figure": "top_countries", "group": "Russian Federation", "label": "RU", "value": russia} in rows
    assert {"figure": "quantities_by_kind", "group": "%", "label": "percent", "value": percent} in rows
    assert {"figure": "totals", "group": "", "label": "articles", "value": figures.totals.row(1)[1]} in rows
    assert {"figure": "latest_runs", "group": "completed_with_warnings", "label": RUN_ID, "value": len(LINES)} in rows
    assert all(isinstance(row["value"], int) for row in rows)
    assert {row["figure"] for row in rows} == {
        "totals", "topics_by_day", "languages", "top_countries", "quantities_by_kind", "quarantine_reasons",
        "latest_runs",
    }  # fmt: skip


def test_page_is_self_contained_and_well_formed(figures: ReportFigures) -> None:
    page = render_report_html(figures)
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "src=", "url(http"):
        assert forbidden not in page
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.DOTALL)
    assert len(svgs) == 5  # topics, languages, countries, quantities, quarantine
    ids: list[str] = []
    for svg in svgs:
        root = ElementTree.fromstring(svg)  # each inline SVG is well-formed XML
        ids += [element.attrib["id"] for element in root.iter() if "id" in element.attrib]
        assert not re.search(r'href="https?:', svg)
    assert len(ids) == len(set(ids)), "SVG ids collide between charts"
    for code, name in COUNTRY_NAMES.items():
        assert f">{name} ({code})<" in page  # labels stay SVG text, so a browser shapes Arabic ones
    assert '<div class="total"><b>' in page and "</b>articles</div>" in page
    assert figures.notes["topics_by_day"] in page
    assert "<h2>Latest 10 runs</h2>" in page and RUN_ID in page


def test_page_escapes_lake_content(figures: ReportFigures) -> None:
    hostile = figures.quarantine_reasons.with_columns(pl.lit("<b>x</b>").alias("reason"))
    page = render_report_html(ReportFigures(**{**figures.__dict__, "quarantine_reasons": hostile}))
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_rendering_is_reproducible(figures: ReportFigures) -> None:
    assert render_report_html(figures) == render_report_html(figures)


def test_topic_colors_are_stable_and_other_is_grey() -> None:
    assert topic_colors(["sports", "other", "gold"]) == topic_colors(["gold", "sports"])
    assert topic_colors(["x"])["other"] == "#7f7f7f"



def test_report_command_writes_the_page(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report.html"
    result = CliRunner().invoke(app, ["report", "--lake", str(lake.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out} (")
    assert "<h1>akhbar lake report</h1>" in out.read_text(encoding="utf-8")


def test_report_command_missing_lake_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--lake", str(tmp_path / "gone"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: lake not found: {tmp_path / 'gone'}"
    assert not (tmp_path / "r.html").exists()


# --- end to end: the page as a person sees it ----------------------------------------------------

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SCREENSHOT = REPO_ROOT / "data" / "report.png"


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory: pytest.TempPathFactory, seed_file: Path, prefect_harness: None) -> Iterator[Path]:
    """The seed ingested by the flow, reported."""
    from flows import ingest

    root = tmp_path_factory.mktemp("e2e")
    ingest([str(seed_file)], lake=str(root / "lake"))
    page = root / "report.html"
    page.write_text(render_report_html(report_figures(root / "lake")), encoding="utf-8")
    yield page


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_report(seed_report: Path, tmp_path: Path) -> None:
    from PIL import Image

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={SCREENSHOT}", "--window-size=1280,2000",
        seed_report.as_uri(),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with Image.open(SCREENSHOT) as image:
        assert image.size == (1280, 2000)
        colors = {color for _, color in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}
    # The charts were drawn: the first palette colour (diplomacy's bar, the language bar) is on screen.
    assert (0x1F, 0x77, 0xB4) in colors
    assert len(colors) > 50  # text, anti-aliasing, several bar colours: not a blank or error page
