"""SQL over the lake: a DuckDB connection with every dataset registered as a view named after it.

Each view scans the dataset's Delta table through ``DeltaTable(...).to_pyarrow_dataset()``
(the table's live files at its latest version; DuckDB pushes filters and projections into the Arrow
scan) and selects the declared columns in declared order, typed NULLs for declared columns an older
table lacks. DuckDB's own ``delta`` extension is not used: it must match the duckdb version exactly
and is otherwise downloaded at run time, which an offline or locked-down machine cannot do.
Hive partitioning is never enabled: a folder name such as ``topic=sports`` is not a column.
By default the connection is then locked down (:func:`lock_down`): it reads the lake and nothing
else, and writes only the files a command asks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from akhbar.dictionary import duckdb_type_name
from akhbar.lake import LakePath, arrow_dataset, is_lake
from schemas import ALL_DATASETS, DatasetSchema


class LakeError(ValueError):
    """The lake folder is missing or is not an akhbar lake."""


class QueryError(ValueError):
    """DuckDB rejected or failed a query; the message is one line."""


#: Statements a read-only ``akhbar sql`` runs; anything else could write (COPY, ATTACH, CREATE ...).
READ_ONLY_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
#: Said after a refusal, so the user knows both why and how to lift it.
SANDBOX_HINT = "akhbar sql only reads the lake; --unsafe lifts this"


def quote_identifier(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def one_line(error: BaseException) -> str:
    """The first line of a DuckDB error: the kind and the message, without the caret diagram below."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = lines[0] if lines else type(error).__name__
    if isinstance(error, duckdb.PermissionException):  # the sandbox said no: say how to lift it
        line += f" ({SANDBOX_HINT})"
    return line


def check_lake(lake: LakePath, datasets: Iterable[DatasetSchema] = ALL_DATASETS) -> None:
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


def lock_down(
    connection: duckdb.DuckDBPyConnection, allowed_directories: Iterable[Path] = (), allowed_paths: Iterable[Path] = ()
) -> None:
    """No file access outside ``allowed_directories`` and ``allowed_paths``, no extensions, no setting changes.

    Call it after the views are created: views over registered Arrow objects need no allowed
    directory; views over ``read_parquet`` need the lake's. ``allowed_paths`` are single files, e.g.
    the output the CLI writes a result to.
    """
    folders = ", ".join(quote_literal(str(folder).rstrip("/") + "/") for folder in allowed_directories)
    # The trailing "/" keeps "<lake>2" out when "<lake>" is allowed.
    connection.execute(f"SET allowed_directories = [{folders}]")
    files = ", ".join(quote_literal(str(path)) for path in allowed_paths)
    connection.execute(f"SET allowed_paths = [{files}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    # Last: nothing after this, not even a query's SET, can undo the settings above.
    connection.execute("SET lock_configuration = true")


def open_lake(
    lake: LakePath,
    datasets: Iterable[DatasetSchema] = ALL_DATASETS,
    *,
    read_only: bool = True,
    output_paths: Iterable[Path] = (),
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per dataset of ``lake``; raises LakeError, QueryError.

    ``read_only`` (the default) locks the connection down to reading the lake and writing only the
    files of ``output_paths`` (:func:`lock_down`).
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
        if read_only:
            # An object-store lake is read through the registered Arrow datasets only: no folder to allow.
            folders = [root] if isinstance(root, Path) else []
            lock_down(connection, folders, [path.absolute() for path in output_paths])
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


def refuse_writes(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryError unless every statement of ``sql`` only reads (SELECT, EXPLAIN)."""
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(one_line(error)) from error
    for statement in statements:
        if statement.type not in READ_ONLY_STATEMENTS:
            # DuckDB files INSTALL under LOAD; name it as the user typed it.
            kind = (
                "INSTALL/LOAD" if statement.type is duckdb.StatementType.LOAD else statement.type.name.replace("_", " ")
            )
            raise QueryError(f"{kind} statements are refused: {SANDBOX_HINT}")


def run_query(
    connection: duckdb.DuckDBPyConnection, sql: str, *, read_only: bool = True
) -> duckdb.DuckDBPyRelation | None:
    """Run ``sql`` (the last statement's result is returned; None when it returns no rows, e.g. SET).

    ``read_only`` (the default) refuses every statement but SELECT and EXPLAIN, before running any.
    """
    if read_only:
        refuse_writes(connection, sql)
    try:
        return connection.sql(sql)
    except duckdb.Error as error:
        raise QueryError(one_line(error)) from error
