"""Turning the paths a user typed into the list of input files, with a clear word on each problem."""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from akhbar.storage import S3Path, StorageError, parse_location, s3_error_summary

#: Files picked up when a directory is given.
INPUT_SUFFIX = ".txt"
GLOB_CHARACTERS = frozenset("*?[")
#: An input: a local file or an object (``s3://bucket/key``).
InputPath = Path | S3Path


@dataclass(frozen=True)
class InputProblem:
    """A path argument that yields nothing usable, and why (one line, naming it)."""

    path: str
    message: str


@dataclass(frozen=True)
class InputSelection:
    """The input files found, in a stable order, and the arguments that failed."""

    files: list[InputPath] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def _readable(path: Path) -> InputProblem | None:
    """A problem when the file cannot be opened for reading."""
    if not os.access(path, os.R_OK):
        return InputProblem(str(path), f"cannot read {path}: permission denied")
    return None


def _not_regular(path: Path) -> InputProblem:
    """A FIFO, socket, device or dangling link: opening it could block forever or read nothing real."""
    return InputProblem(str(path), f"{path}: not a regular file")


def _files_under(directory: Path) -> tuple[list[Path], list[InputProblem]]:
    """All ``*.txt`` files below a directory, and the ``*.txt`` entries that are not regular files.

    Symlinked folders are not followed, so a link loop cannot hang the search.
    """
    files, problems = [], []
    for path in sorted(directory.rglob(f"*{INPUT_SUFFIX}")):
        if path.is_file():
            files.append(path)
        elif not path.is_dir():
            problems.append(_not_regular(path))
    return files, problems


def resolve_inputs(arguments: list[str]) -> InputSelection:
    """Expand files, directories (``*.txt`` recursively) and globs into readable input files.

    An argument naming an existing file or folder is taken literally even when it contains glob
    characters (``a[1].txt`` is that file, not ``a1.txt``); only what does not exist is globbed.
    """
    found: dict[InputPath, InputPath] = {}
    problems: list[InputProblem] = []
    for argument in arguments:
        if "://" in argument:
            objects, object_problems = _objects(argument)
            problems += object_problems
            for found_object in objects:
                found.setdefault(found_object, found_object)
            continue
        if GLOB_CHARACTERS & set(argument) and not Path(argument).exists():
            found_paths = [Path(m) for m in sorted(glob.glob(argument, recursive=True))]
            matches = [p for p in found_paths if p.is_file()]
            problems.extend(_not_regular(p) for p in found_paths if not p.is_file() and not p.is_dir())
            if not found_paths:
                problems.append(InputProblem(argument, f"pattern {argument!r} matched no files"))
        else:
            path = Path(argument)
            if not path.exists():
                problems.append(InputProblem(argument, f"path not found: {argument}"))
                continue
            if path.is_dir():
                matches, irregular = _files_under(path)
                problems.extend(irregular)
                if not matches and not irregular:
                    problems.append(InputProblem(argument, f"no *{INPUT_SUFFIX} files under {argument}"))
            elif path.is_file():
                matches = [path]
            else:
                matches = []
                problems.append(_not_regular(path))
        for match in matches:
            problem = _readable(match)
            if problem:
                problems.append(problem)
            else:
                # Keep the name the user knows (a symlink stays a symlink) but count each real file once.
                found.setdefault(match.resolve(), match.absolute())
    return InputSelection(files=list(found.values()), problems=problems)


def _objects(argument: str) -> tuple[list[S3Path], list[InputProblem]]:
    """The objects an ``s3://`` argument names: one key, every ``*.txt`` under a prefix, or a glob.

    A glob is matched against whole keys, ``*`` crossing ``/`` as in a recursive search.
    """
    try:
        location = parse_location(argument)
    except StorageError as error:
        return [], [InputProblem(argument, str(error))]
    assert isinstance(location, S3Path)
    pattern = location.key if GLOB_CHARACTERS & set(location.key) else None
    try:
        if pattern is None and location.is_file():
            return [location], []
        base = location
        if pattern is not None:  # list from the longest prefix without glob characters
            literal = pattern[: min(pattern.index(c) for c in GLOB_CHARACTERS if c in pattern)]
            base = S3Path(location.bucket, literal.rsplit("/", 1)[0] if "/" in literal else "")
        keys = sorted(path.key for path, _ in base.walk_objects())
    except Exception as error:  # unknown bucket, wrong credentials, server down: named, one line
        return [], [InputProblem(argument, f"cannot list {argument}: {s3_error_summary(error)}")]
    if pattern is not None:
        matches = [S3Path(location.bucket, key) for key in keys if fnmatch.fnmatchcase(key, pattern)]
        if not matches:
            return [], [InputProblem(argument, f"pattern {argument!r} matched no objects")]
        return matches, []
    matches = [S3Path(location.bucket, key) for key in keys if key.endswith(INPUT_SUFFIX)]
    if not keys:
        return [], [InputProblem(argument, f"path not found: {argument}")]
    if not matches:
        return [], [InputProblem(argument, f"no *{INPUT_SUFFIX} objects under {argument}")]
    return matches, []
