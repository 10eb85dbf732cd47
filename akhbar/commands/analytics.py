"""The analyst's commands: ``schema``, ``sql``, ``report`` and ``config``.

Errors (unknown dataset, bad SQL, missing lake, invalid settings) are one line on stderr and exit
code 2, like the usage errors of ``akhbar run``.
"""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from akhbar.analytics import LakeError, QueryError, one_line, open_lake, run_query
from akhbar.commands.options import LakeOption
from akhbar.config import ConfigError, EffectiveSettings, load_settings
from akhbar.dictionary import render_json, render_markdown
from akhbar.storage import S3Path, StorageError, parse_location
from schemas import ALL_DATASETS, dataset_by_name

EXIT_USAGE = 2
#: The table format shows at most this many rows; csv/parquet write them all.
TABLE_ROWS = 200
#: A cell longer than this (a segment's text, a list) ends in "…" so each row stays one line.
TABLE_CELL_WIDTH = 60
NUMERIC_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"}
)  # fmt: skip


class SchemaFormat(StrEnum):
    """Output formats of ``akhbar schema``."""

    markdown = "markdown"
    json = "json"


class SqlFormat(StrEnum):
    """Output formats of ``akhbar sql``."""

    table = "table"
    csv = "csv"
    parquet = "parquet"


# A string, not a Path: a Path would turn s3://bucket/lake into s3:/bucket/lake.


def _fail(message: str) -> NoReturn:
    """One error line on stderr, exit 2; the message is text (paths, SQL, "[errno 28]"), never markup."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


def _lake_location(lake: str | None) -> Path | S3Path:
    """The lake given on the command line, else the configured one."""
    if lake is None:
        return _settings().settings.lake
    try:
        return parse_location(lake)
    except StorageError as error:
        _fail(str(error))


def _settings(**overrides: Any) -> EffectiveSettings:
    try:
        return load_settings(overrides)
    except ConfigError as error:
        _fail(str(error))


def schema(
    dataset: Annotated[str | None, typer.Argument(help="One dataset; all of them when omitted.")] = None,
    output_format: Annotated[SchemaFormat, typer.Option("--format", help="markdown or json.")] = SchemaFormat.markdown,
) -> None:
    """Print the data dictionary: every dataset's columns, types, nullability and descriptions."""
    try:
        datasets = ALL_DATASETS if dataset is None else (dataset_by_name(dataset),)
    except KeyError as error:
        _fail(str(error.args[0]))
    render = render_json if output_format is SchemaFormat.json else render_markdown
    # Plain stdout, not rich: the output is redirected into docs/data-dictionary.md byte for byte.
    typer.echo(render(datasets), nl=False)


def _table_value(value: str | None) -> str:
    """A cell as DuckDB spells it, escaped so that rich does not read "[...]" as markup."""
    return "NULL" if value is None else escape(value)


def _as_text(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Every column cast to VARCHAR by DuckDB (dates, lists and structs print as in DuckDB's shell)."""
    quoted = ['"' + name.replace('"', '""') + '"' for name in relation.columns]
    return relation.project(", ".join(f"CAST({q} AS VARCHAR) AS {q}" for q in quoted))


def _print_table(relation: duckdb.DuckDBPyRelation) -> None:
    """The first TABLE_ROWS rows as a rich table, and how many were left out."""
    rows = _as_text(relation.limit(TABLE_ROWS + 1)).fetchall()
    console = Console()
    if not console.is_terminal:
        # Piped or redirected: nothing to fit, so no column is squeezed into "…".
        console = Console(width=1_000_000)
    table = Table(show_lines=False)
    for name, kind in zip(relation.columns, relation.types, strict=True):
        numeric = str(kind).split("(")[0] in NUMERIC_TYPES
        table.add_column(  # a header is markup too: a column named "[/]" must not raise
            escape(name),
            no_wrap=True,
            overflow="ellipsis",
            max_width=TABLE_CELL_WIDTH,
            justify="right" if numeric else "left",
        )
    for row in rows[:TABLE_ROWS]:
        table.add_row(*(_table_value(v) for v in row))
    console.print(table)
    if len(rows) > TABLE_ROWS:
        Console(stderr=True).print(
            f"showing the first {TABLE_ROWS} rows; use --format csv or parquet --out FILE for all of them",
            highlight=False,
        )


def sql(
    query: Annotated[str, typer.Argument(help="SQL; every dataset is a view named after it (segments, ...).")],
    lake: LakeOption = None,
    output_format: Annotated[
        SqlFormat | None,
        typer.Option(
            "--format",
            help="table (default), csv, or parquet (needs --out); --out FILE.csv/.parquet picks the format by itself.",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result to this file.")] = None,
    unsafe: Annotated[
        bool,
        typer.Option(
            "--unsafe",
            help="Lift the sandbox: let the SQL read and write any file, ATTACH, COPY, INSTALL and change settings.",
        ),
    ] = False,
) -> None:
    """Run DuckDB SQL over the lake, every dataset registered as a view named after it (read-only by default)."""
    if output_format is None:
        by_suffix = {".csv": SqlFormat.csv, ".parquet": SqlFormat.parquet}
        output_format = by_suffix.get(out.suffix.lower(), SqlFormat.table) if out else SqlFormat.table
    if output_format is SqlFormat.parquet and out is None:
        _fail("--format parquet needs --out FILE")
    if output_format is SqlFormat.table and out is not None:
        _fail("--out needs --format csv or parquet (or a .csv/.parquet file name)")
    lake_path = _lake_location(lake)
    try:
        # CSV on stdout goes through a file too: DuckDB writes CSV to files only.
        with tempfile.TemporaryDirectory() as folder:
            target = out if out is not None else Path(folder) / "result.csv"
            with open_lake(lake_path, read_only=not unsafe, output_paths=[target]) as connection:
                relation = run_query(connection, query, read_only=not unsafe)
                if relation is None:
                    return  # a statement without a result (SET, CREATE ...)
                if output_format is SqlFormat.table:
                    _print_table(relation)
                elif output_format is SqlFormat.parquet:
                    relation.write_parquet(str(target), compression="zstd")
                else:
                    relation.write_csv(str(target), header=True)
                    if out is None:  # nested values are rendered the same way either way
                        typer.echo(target.read_text(encoding="utf-8"), nl=False)
    except (LakeError, QueryError) as error:
        _fail(str(error))
    except duckdb.Error as error:  # errors that surface only while rows are produced or written
        _fail(one_line(error))
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror or error}")
    if out is not None:
        Console(stderr=True, soft_wrap=True).print(f"wrote {out}", highlight=False, markup=False)


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (self-contained, opens offline).")],
    lake: LakeOption = None,
) -> None:
    """Write one self-contained HTML page: topics over time, languages, countries, quantities, quarantine, runs."""
    from akhbar.report import write_report  # matplotlib loads only for this command

    lake_path = _lake_location(lake)
    try:
        written = write_report(lake_path, out)
    except (LakeError, QueryError) as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror or error}")
    Console(soft_wrap=True).print(
        f"wrote {written} ({written.stat().st_size / 1000:.0f} kB)", highlight=False, markup=False
    )


def config(
    lake: LakeOption = None,
    taxonomy: Annotated[Path | None, typer.Option("--taxonomy", help="Taxonomy TOML.")] = None,
    runner: Annotated[str | None, typer.Option("--runner", help="thread or dask.")] = None,
    dask_workers: Annotated[
        int | None, typer.Option("--dask-workers", help="Worker processes of a local Dask cluster.")
    ] = None,
    language_backend: Annotated[str | None, typer.Option("--language-backend", help="langdetect or fasttext.")] = None,
    prefect_home: Annotated[Path | None, typer.Option("--prefect-home", help="PREFECT_HOME for runs.")] = None,
) -> None:
    """Print the effective settings and where each came from (default, akhbar.toml, environment, command line)."""
    effective = _settings(
        lake=lake,
        taxonomy=taxonomy,
        runner=runner,
        dask_workers=dask_workers,
        language_backend=language_backend,
        prefect_home=prefect_home,
    )
    table = Table("setting", "value", "source")
    for name, value, source in effective.rows():
        table.add_row(name, escape(value), source)  # a value may be a path holding "[...]"
    Console(soft_wrap=True).print(table)


def register(app: typer.Typer) -> None:
    """Add the schema, sql, report and config commands to ``app``."""
    app.command("schema")(schema)
    app.command("sql")(sql)
    app.command("report")(report)
    app.command("config")(config)
