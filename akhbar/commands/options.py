"""Command-line options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

#: The lake every command reads or writes. A string, not a Path: it may be an ``s3://`` URL, and typer
#: would turn ``--lake ''`` into Path("."), the working directory.
LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake", help="Lake folder or s3://bucket/prefix (default: AKHBAR_LAKE, akhbar.toml's lake, else data/lake)."
    ),
]
