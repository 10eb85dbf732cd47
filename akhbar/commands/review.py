"""``akhbar review``: the segments a curator should look at, from the whole lake.

The same queue as the ``review-queue`` artifact of each run (:func:`akhbar.review.review_queue`):
low-confidence segments and close calls between two topics, least confident first. Errors (not a
lake, an unknown topic) are one line on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from akhbar.commands.options import LakeOption
from akhbar.config import ConfigError, load_settings
from akhbar.lake import LakePath, is_lake
from akhbar.review import REVIEW_LIMIT, known_topics, lake_frames, review_queue

EXIT_USAGE = 2



def _fail(message: str) -> NoReturn:
    """One error line on stderr, exit 2."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


def _lake(lake: str | None) -> LakePath:
    """The effective lake folder, which must be an akhbar lake."""
    try:
        path = load_settings({"lake": lake} if lake is not None else {}).settings.lake
    except ConfigError as error:
        _fail(str(error))
    if not is_lake(path):
        _fail(f"not an akhbar lake: {path}")
    return path


def _score(topic: str | None, score: float | None) -> str:
    """``gold_prices 4.5``, or empty when there is no such topic."""
    return "" if topic is None or score is None else f"{topic} {score:.2f}"


def render_queue(queue: pl.DataFrame) -> Table:
    """The queue as a rich table; every value is plain text (never read as markup)."""
    table = Table(title=f"review queue: {queue.height} segment(s), least confident first")
    for name, justify in [("reason", "left"), ("topic", "left"), ("confidence", "right"), ("top", "left"),
                          ("second", "left"), ("text", "left"), ("source", "left")]:  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in queue.iter_rows(named=True):
        table.add_row(
            Text(row["reason"]),
            Text(row["topic"]),
            f"{row['topic_confidence']:.2f}",
            Text(_score(row["top_topic"], row["top_score"])),
            Text(_score(row["second_topic"], row["second_score"])),
            Text(row["text"]),
            Text(f"{row['source_path']}:{row['line_no']}"),
        )
    return table


def review(
    lake: LakeOption = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Only this topic (and close calls involving it).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Segments to show.")] = REVIEW_LIMIT,
) -> None:
    """Show the segments to review: low topic confidence or two topics scored close, least confident first."""
    segments, documents = lake_frames(_lake(lake))
    if topic is not None:
        known = known_topics(segments)
        if topic not in known:
            _fail(f"unknown topic {topic!r}; known topics: {', '.join(known) or '(none: the lake is empty)'}")
    queue = review_queue(segments, documents, topic=topic, limit=limit)
    console = Console()
    if not console.is_terminal:
        console = Console(width=1_000_000)  # piped: one line per segment, nothing squeezed
    if queue.is_empty():
        console.print("nothing to review", highlight=False)
        return
    console.print(render_queue(queue))
