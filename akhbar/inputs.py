"""Turning the paths a user typed into the list of input files, with a clear word on each problem."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

#: Files picked up when a directory is given.
INPUT_SUFFIX = ".txt"
GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class InputProblem:
    """A path argument that yields nothing usable, and why (one line, naming it)."""

    path: str
    message: str


@dataclass(frozen=True)
class InputSelection:
    """The input files found, in a stable order, and the arguments that failed."""

    files: list[Path] = field(default_factory=list)
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
    found: dict[Path, Path] = {}
    problems: list[InputProblem] = []
    for argument in arguments:
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
