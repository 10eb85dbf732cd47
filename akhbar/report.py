"""The lake report: aggregated figures (polars frames) and one self-contained HTML page with SVG charts.

Charts are drawn with matplotlib and inlined as SVG. Why matplotlib: it renders on the server side
with no browser or JavaScript runtime (unlike Plotly/Bokeh/Vega, whose pages need a JS bundle that
is either fetched from a CDN — not offline — or inlined at several MB), its SVG output needs nothing
at viewing time, it is a long-maintained, widely packaged library (wheels for every platform, in
Debian), and its object API (``Figure``, no pyplot) keeps no global state, so rendering is safe in
a flow or a thread. Text is written as SVG ``<text>`` (``svg.fonttype = none``), not as glyph
outlines, so the browser shapes Arabic labels (joining, right-to-left) with its own fonts; IDs in
each SVG are prefixed per chart so several charts can live in one page.

The figures come from the same DuckDB views as ``akhbar sql`` (:func:`akhbar.analytics.open_lake`).
Those views give a column that a file lacks (segments written by an akhbar older than the fact
columns) as typed NULLs, so the queries always run; where figures leave segments out or date them
by processing day, ``ReportFigures.notes`` says how many and why.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import duckdb
import matplotlib
import polars as pl
import pycountry
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from akhbar import __version__
from akhbar.analytics import open_lake, quote_identifier
from akhbar.lake import LakePath
from schemas import ALL_DATASETS

TOP_COUNTRIES = 15
LATEST_RUNS = 10
#: tab10's distinct hues first (neighbouring topics must not look alike), then their light tints;
#: grey is kept for 'other'.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)  # fmt: skip
OTHER_COLOR = "#7f7f7f"
BAR_COLOR = "#1f77b4"


@dataclass(frozen=True)
class ReportFigures:
    """Every aggregate the report shows; each frame is small (one row per day×topic, language, ...)."""

    lake: str
    generated_at: datetime
    #: dataset, rows
    totals: pl.DataFrame
    #: day (date), topic, segments; day is published_at's date when known, else processed_at's
    topics_by_day: pl.DataFrame
    #: lang ('und' when undetermined), segments
    languages: pl.DataFrame
    #: country (ISO 3166-1 alpha-2), name (English, from pycountry), segments mentioning it; the top TOP_COUNTRIES
    top_countries: pl.DataFrame
    #: kind, mentions, units (distinct units, comma-separated)
    quantities_by_kind: pl.DataFrame
    #: reason, rows
    quarantine_reasons: pl.DataFrame
    #: run_id, started_at, duration_s, status, files_seen, files_failed, segments_written, quarantine_written
    latest_runs: pl.DataFrame
    #: figure name -> which segments it leaves out or dates by processing day, and why
    notes: dict[str, str] = field(default_factory=dict)


#: The columns and types of each figure's frame (also when it is empty).
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "totals": {"dataset": pl.String(), "rows": pl.Int64()},
    "topics_by_day": {"day": pl.Date(), "topic": pl.String(), "segments": pl.Int64()},
    "languages": {"lang": pl.String(), "segments": pl.Int64()},
    "top_countries": {"country": pl.String(), "name": pl.String(), "segments": pl.Int64()},
    "quantities_by_kind": {"kind": pl.String(), "mentions": pl.Int64(), "units": pl.String()},
    "quarantine_reasons": {"reason": pl.String(), "rows": pl.Int64()},
    "latest_runs": {
        "run_id": pl.String(),
        "started_at": pl.Datetime("us", "UTC"),
        "duration_s": pl.Float64(),
        "status": pl.String(),
        "files_seen": pl.Int64(),
        "files_failed": pl.Int64(),
        "segments_written": pl.Int64(),
        "quarantine_written": pl.Int64(),
    },
}

#: The fact column each figure counts. Both are declared non-null, so a NULL in the view means the
#: segment's file was written before the column existed (open_lake fills it with typed NULLs).
NEEDS = {"top_countries": "countries", "quantities_by_kind": "quantities"}


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> short English name (pycountry's common name where it has one)."""
    return {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}


def country_names(codes: pl.Expr) -> pl.Expr:
    """The English name of each ISO code; an unknown code is its own name."""
    return codes.replace_strict(_country_names(), default=codes, return_dtype=pl.String)


def _queries() -> dict[str, str]:
    """The aggregate SQL of each figure over the lake's views."""
    totals = " UNION ALL ".join(
        f"SELECT {i} AS position, '{d.name}' AS dataset, count(*) AS rows FROM {quote_identifier(d.name)}"
        for i, d in enumerate(ALL_DATASETS)
    )
    # Publication day when the fact extraction found one, else the day the segment was processed.
    day = "coalesce(published_at, processed_at)"
    return {
        "totals": f"SELECT dataset, rows FROM ({totals}) ORDER BY position",
        "topics_by_day": f"SELECT CAST({day} AS DATE) AS day, CAST(topic AS VARCHAR) AS topic, "
        "count(*) AS segments FROM segments GROUP BY ALL ORDER BY day, topic",
        "languages": "SELECT coalesce(CAST(lang AS VARCHAR), 'und') AS lang, count(*) AS segments "
        "FROM segments GROUP BY ALL ORDER BY segments DESC, lang",
        # list_distinct: a segment naming a country twice counts once.
        "top_countries": "SELECT country, count(*) AS segments FROM "
        "(SELECT unnest(list_distinct(countries)) AS country FROM segments) "
        f"WHERE country IS NOT NULL GROUP BY ALL ORDER BY segments DESC, country LIMIT {TOP_COUNTRIES}",
        "quantities_by_kind": "SELECT coalesce(q.kind, 'unknown') AS kind, count(*) AS mentions, "
        "coalesce(string_agg(DISTINCT q.unit, ', ' ORDER BY q.unit), '') AS units "
        "FROM (SELECT unnest(quantities) AS q FROM segments) WHERE q IS NOT NULL "
        "GROUP BY ALL ORDER BY mentions DESC, kind",
        "quarantine_reasons": "SELECT CAST(reason AS VARCHAR) AS reason, count(*) AS rows FROM quarantine "
        "GROUP BY ALL ORDER BY rows DESC, reason",
        "latest_runs": "SELECT run_id, started_at, epoch(finished_at) - epoch(started_at) AS duration_s, "
        "CAST(status AS VARCHAR) AS status, files_seen, files_failed, segments_written, quarantine_written "
        f"FROM runs ORDER BY started_at DESC, run_id LIMIT {LATEST_RUNS}",
    }


def _notes(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per figure, the segments it cannot place as intended (none: no note)."""
    present = ", ".join(f"count({quote_identifier(column)})" for column in NEEDS.values())
    # An aggregate without GROUP BY is one row, also over an empty view.
    [(total, published, *with_column)] = connection.sql(
        f"SELECT count(*), count(published_at), {present} FROM segments"
    ).fetchall()
    notes: dict[str, str] = {}
    if total > published:
        notes["topics_by_day"] = (
            f"{total - published:,} of {total:,} segments state no publication time (segments.published_at): "
            "they are counted on the day akhbar processed them"
        )
    for (name, column), have in zip(NEEDS.items(), with_column, strict=True):
        if total > have:
            notes[name] = (
                f"{total - have:,} of {total:,} segments were written before segments.{column} existed "
                "(by an older akhbar) and are not counted"
            )
    return notes


def report_figures(lake: LakePath) -> ReportFigures:
    """Aggregate the lake into the report's figures; raises akhbar.analytics.LakeError / QueryError."""
    with open_lake(lake) as connection:
        notes = _notes(connection)
        frames: dict[str, pl.DataFrame] = {}
        for name, sql in _queries().items():
            schema = SCHEMAS[name]
            frame = connection.sql(sql).pl()
            if name == "top_countries":
                frame = frame.select("country", country_names(pl.col("country")).alias("name"), "segments")
            frames[name] = frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)
    return ReportFigures(
        lake=str(lake.resolve()),
        generated_at=datetime.now(UTC),
        totals=frames["totals"],
        topics_by_day=frames["topics_by_day"],
        languages=frames["languages"],
        top_countries=frames["top_countries"],
        quantities_by_kind=frames["quantities_by_kind"],
        quarantine_reasons=frames["quarantine_reasons"],
        latest_runs=frames["latest_runs"],
        notes=notes,
    )


# --- artifact rows -------------------------------------------------------------------------------


def _long(frame: pl.DataFrame, figure: str, group: pl.Expr, label: str, value: str) -> pl.DataFrame:
    """One figure's frame as (figure, group, label, value) rows."""
    return frame.select(
        pl.lit(figure).alias("figure"),
        group.cast(pl.String).alias("group"),
        pl.col(label).cast(pl.String).alias("label"),
        pl.col(value).cast(pl.Int64).alias("value"),  # every figure's value is a count
    )


def figures_as_artifact_rows(figures: ReportFigures) -> list[dict[str, str | int | float]]:
    """The figures as one long table (figure, group, label, value) for a Prefect table artifact."""
    none = pl.lit("")
    frames = [
        _long(figures.totals, "totals", none, "dataset", "rows"),
        _long(figures.topics_by_day, "topics_by_day", pl.col("day"), "topic", "segments"),
        _long(figures.languages, "languages", none, "lang", "segments"),
        _long(figures.top_countries, "top_countries", pl.col("name"), "country", "segments"),
        _long(figures.quantities_by_kind, "quantities_by_kind", pl.col("units"), "kind", "mentions"),
        _long(figures.quarantine_reasons, "quarantine_reasons", none, "reason", "rows"),
        _long(figures.latest_runs, "latest_runs", pl.col("status"), "run_id", "segments_written"),
    ]
    return pl.concat(frames).to_dicts()


# --- SVG charts ----------------------------------------------------------------------------------

_SVG_ID = re.compile(r'(id="|url\(#|xlink:href="#)([^")]+)')


def _svg(figure: Figure, name: str) -> str:
    """Render a figure as inline SVG: no XML prolog, IDs prefixed with ``name``, no timestamp."""
    buffer = io.StringIO()
    # A fixed salt makes the output reproducible; text stays text so browsers shape Arabic.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = _SVG_ID.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(name)}" ', 1)


def topic_colors(topics: list[str]) -> dict[str, str]:
    """A stable colour per topic (sorted names cycle through the palette; 'other' is grey)."""
    named = sorted(t for t in set(topics) if t != "other")
    colors = {topic: PALETTE[i % len(PALETTE)] for i, topic in enumerate(named)}
    return {**colors, "other": OTHER_COLOR}


def _bar_chart(frame: pl.DataFrame, name: str, xlabel: str) -> Callable[[], str]:
    """A horizontal bar chart of a (label, value) frame, first row at the top, values at the bar ends."""
    return lambda: _draw_bars(frame.get_column(frame.columns[0]).cast(pl.String).to_list(),
                              frame.get_column(frame.columns[1]).cast(pl.Float64).to_list(), name, xlabel)


def _draw_bars(labels: list[str], values: list[float], name: str, xlabel: str) -> str:
    figure = Figure(figsize=(7.5, 0.45 * len(labels) + 0.9))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))[::-1]
    bars = axes.barh(positions, values, color=BAR_COLOR)
    axes.set_yticks(positions, labels)
    axes.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=9)
    axes.set_xlabel(xlabel)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.2-steps on small numbers
    axes.margins(x=0.12)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, name)


def _topics_chart(frame: pl.DataFrame, name: str) -> str:
    """Segments per day, stacked by topic."""
    wide = frame.pivot(on="topic", index="day", values="segments", aggregate_function="sum").sort("day").fill_null(0)
    topics = sorted(c for c in wide.columns if c != "day")
    colors = topic_colors(topics)
    days = [d.isoformat() for d in wide.get_column("day").to_list()]
    figure = Figure(figsize=(9, 4.2))
    axes = figure.add_subplot()
    positions = list(range(len(days)))
    bottom = [0.0] * len(days)
    for topic in topics:
        heights = wide.get_column(topic).cast(pl.Float64).to_list()
        axes.bar(positions, heights, bottom=bottom, label=topic, color=colors[topic], width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(days) // 20)  # at most ~20 date labels, whatever the span
    crowded = len(days) > 6
    axes.set_xticks(positions[::step], days[::step], rotation=45 if crowded else 0, ha="right" if crowded else "center")
    # Few days: keep bars bar-shaped and centred instead of stretching them over the whole width.
    pad = max(0.0, (6 - len(days)) / 2)
    axes.set_xlim(-0.5 - pad, len(days) - 0.5 + pad)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("segments")
    handles, labels = axes.get_legend_handles_labels()
    # Legend top-down in the order the stack reads top-down.
    axes.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="topic")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, name)


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans Arabic", sans-serif;
       margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1d1d1f; }
h1 { margin-bottom: 0.2rem; } .meta { color: #555; margin-top: 0; }
section { margin: 2rem 0; } svg { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: start; }
td.num { text-align: end; font-variant-numeric: tabular-nums; }
.totals { display: flex; gap: 1rem; flex-wrap: wrap; }
.total { border: 1px solid #ddd; border-radius: 6px; padding: 0.5rem 1rem; }
.total b { display: block; font-size: 1.5rem; }
.note { color: #8a5a00; } .empty { color: #555; font-style: italic; }
details summary { cursor: pointer; color: #555; }
"""


def _cell(value: object) -> str:
    """One table cell: text escaped and direction-neutral (Arabic stays right-to-left), numbers aligned."""
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = "" if value is None else str(value)
        return f'<td dir="auto">{html.escape(text)}</td>'
    shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
    return f'<td class="num">{shown}</td>'


def html_table(frame: pl.DataFrame) -> str:
    """A frame as an HTML table (every value escaped; numbers right-aligned)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(
    title: str, chart: Callable[[], str] | None, frame: pl.DataFrame, empty: str, note: str | None
) -> str:
    """A titled section: the chart (drawn only when there is data) and its data, or why it is empty."""
    parts = [f"<section><h2>{html.escape(title)}</h2>"]
    if note:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    if frame.height and chart is not None:
        parts.append(chart())
        parts.append(f"<details><summary>data</summary>{html_table(frame)}</details>")
    elif frame.height:
        parts.append(html_table(frame))
    else:
        parts.append(f'<p class="empty">{html.escape(empty)}</p>')
    return "".join(parts) + "</section>"


def render_report_html(figures: ReportFigures) -> str:
    """One self-contained HTML page (inline CSS and SVG; nothing fetched) showing the figures."""
    topics = figures.topics_by_day
    sections = [
        _section(
            "Topics over time",
            lambda: _topics_chart(topics, "topics"),
            topics, "No segments yet.", figures.notes.get("topics_by_day"),
        ),
        _section(
            "Languages",
            _bar_chart(figures.languages, "languages", "segments"),
            figures.languages, "No segments yet.", None,
        ),
        _section(
            f"Top {TOP_COUNTRIES} countries",
            _bar_chart(
                figures.top_countries.select(
                    pl.format("{} ({})", "name", "country").alias("label"), "segments"
                ), "countries", "segments mentioning the country",
            ),
            figures.top_countries, "No country mentioned.", figures.notes.get("top_countries"),
        ),
        _section(
            "Quantities by kind",
            _bar_chart(figures.quantities_by_kind, "quantities", "mentions"),
            figures.quantities_by_kind, "No quantity mentioned.", figures.notes.get("quantities_by_kind"),
        ),
        _section(
            "Quarantine reasons",
            _bar_chart(figures.quarantine_reasons, "quarantine", "quarantined rows"),
            figures.quarantine_reasons, "Nothing quarantined.", None,
        ),
        _section(f"Latest {LATEST_RUNS} runs", None, figures.latest_runs, "No runs recorded.", None),
    ]  # fmt: skip
    totals = "".join(
        f'<div class="total"><b>{rows:,}</b>{html.escape(name)}</div>' for name, rows in figures.totals.iter_rows()
    )
    generated = figures.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>akhbar report — {html.escape(figures.lake)}</title><style>{_CSS}</style></head><body>"
        f"<h1>akhbar lake report</h1><p class=\"meta\">Lake <code>{html.escape(figures.lake)}</code> · "
        f"generated {generated} by akhbar {html.escape(__version__)}</p>"
        f'<section><h2>Rows per dataset</h2><div class="totals">{totals}</div></section>'
        + "".join(sections)
        + "</body></html>\n"
    )


def save_report(figures: ReportFigures, out: Path) -> Path:
    """Write the HTML page of ``figures`` to ``out`` (parents created)."""
    page = render_report_html(figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def write_report(lake: LakePath, out: Path) -> Path:
    """Aggregate ``lake`` and write its HTML report to ``out``."""
    return save_report(report_figures(lake), out)

