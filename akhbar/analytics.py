"""SQL over the lake: a DuckDB connection with every dataset registered as a view named after it.

Each view scans the dataset's Delta table through ``DeltaTable(...).to_pyarrow_dataset()``
(the table's live files at its latest version; DuckDB pushes filters and projections into the Arrow
scan) and selects the declared columns in declared order, typed NULLs for declared columns an older
table lacks. DuckDB's own ``delta`` extension is not used: it must match the duckdb version exactly
and is otherwise downloaded at run time, which an offline or locked-down machine cannot do.
Hive partitioning is never enabled: a folder name such as ``topic=sports`` is not a column.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from akhbar.dictionary import duckdb_type_name
from akhbar.lake import arrow_dataset, is_lake
from schemas import ALL_DATASETS, DatasetSchema


class LakeError(ValueError):
    """The lake folder is missing or is not an akhbar lake."""


class QueryError(ValueError):
    """DuckDB rejected or failed a query; the message is one line."""


def quote_identifier(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def one_line(error: BaseException) -> str:
    """The first line of a DuckDB error: the kind and the message, without the caret diagram below."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def check_lake(lake: Path, datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> None:
    """Raise LakeError unless ``lake`` is an akhbar lake."""
    if not lake.is_dir():
        raise LakeError(f"lake not found: {lake}")
    if not is_lake(lake):
        raise LakeError(f"not an akhbar lake (no lake marker; run `akhbar run` into it first): {lake}")


def _typed_null(field: pa.Field) -> str:
    """A NULL column of a declared field's type (a column the table does not have yet)."""
    return f"CAST(NULL AS {duckdb_type_name(field.type)}) AS {quote_identifier(field.name)}"


def _view_sql(source: str, present: list[str], dataset: DatasetSchema) -> str:
    """The SELECT behind one dataset's view over the registered Arrow dataset ``source``."""
    declared = dataset.arrow_schema()
    columns = [quote_identifier(f.name) if f.name in present else _typed_null(f) for f in declared]
    # Columns no declaration knows (a newer writer) stay visible after the declared ones.
    columns += [quote_identifier(name) for name in present if name not in declared.names]
    return f"SELECT {', '.join(columns)} FROM {quote_identifier(source)}"


def open_lake(lake: Path, datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per dataset of ``lake``; raises LakeError, QueryError.

    A table that cannot be opened raises LakeError naming it.
    """
    datasets = tuple(datasets)
    check_lake(lake, datasets)
    root = lake.resolve()
    connection = duckdb.connect()
    try:
        # Dates cut from UTC timestamps must not depend on the machine's time zone.
        connection.execute("SET TimeZone = 'UTC'")
        for dataset in datasets:
            source = f"_delta_{dataset.name}"
            arrow = arrow_dataset(root, dataset)
            connection.register(source, arrow)
            present = list(arrow.schema.names)  # type: ignore[attr-defined]
            view = f"CREATE VIEW {quote_identifier(dataset.name)} AS {_view_sql(source, present, dataset)}"
            connection.execute(view)
    except duckdb.Error as error:
        connection.close()
        raise QueryError(f"cannot read the lake {lake}: {one_line(error)}") from error
    except Exception as error:
        connection.close()
        raise LakeError(str(error)) from error
    return connection


def view_columns(connection: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    """Column names of a view (or table) of the connection."""
    return [row[0] for row in connection.sql(f"DESCRIBE {quote_identifier(view)}").fetchall()]


def run_query(connection: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyRelation | None:
    """Run ``sql`` (the last statement's result is returned; None when it returns no rows, e.g. SET)."""
    try:
        return connection.sql(sql)
    except duckdb.Error as error:
        raise QueryError(one_line(error)) from error
