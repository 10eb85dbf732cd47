"""Resolving path arguments into input files, with one clear message per problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from akhbar.inputs import resolve_inputs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("خبر", encoding="utf-8")
    (tmp_path / "a" / "nested").mkdir()
    (tmp_path / "a" / "nested" / "two.txt").write_text("خبر", encoding="utf-8")
    (tmp_path / "a" / "notes.md").write_text("ignored", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_directory_is_searched_recursively_for_txt(tree: Path) -> None:
    selection = resolve_inputs([str(tree / "a")])
    assert [p.relative_to(tree / "a").as_posix() for p in selection.files] == ["nested/two.txt", "one.txt"]
    assert selection.problems == []


def test_glob_and_file_arguments_are_deduplicated(tree: Path) -> None:
    selection = resolve_inputs([str(tree / "a" / "**" / "*.txt"), str(tree / "a" / "one.txt")])
    assert sorted(p.name for p in selection.files) == ["one.txt", "two.txt"]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("missing.txt", "path not found: {root}/missing.txt"),
        ("empty", "no *.txt files under {root}/empty"),
        ("*.nothing", "pattern '{root}/*.nothing' matched no files"),
    ],
)
def test_each_problem_names_the_argument(tree: Path, argument: str, message: str) -> None:
    selection = resolve_inputs([str(tree / argument)])
    assert selection.files == []
    assert [p.message for p in selection.problems] == [message.format(root=tree)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_reported(tree: Path) -> None:
    path = tree / "a" / "one.txt"
    path.chmod(0)
    selection = resolve_inputs([str(path)])
    assert [p.message for p in selection.problems] == [f"cannot read {path}: permission denied"]


def test_symlink_loop_does_not_hang(tree: Path) -> None:
    (tree / "a" / "loop").symlink_to(tree / "a", target_is_directory=True)
    selection = resolve_inputs([str(tree / "a")])
    assert sorted(p.name for p in selection.files) == ["one.txt", "two.txt"]


def test_arabic_file_name_with_spaces(tmp_path: Path) -> None:
    path = tmp_path / "أخبار اليوم.txt"
    path.write_text("خبر", encoding="utf-8")
    assert resolve_inputs([str(path)]).files == [path.absolute()]


@pytest.mark.parametrize(
    ("literal", "decoy"), [("a[1].txt", "a1.txt"), ("what?.txt", "whatX.txt"), ("s*.txt", "sx.txt")]
)
def test_an_existing_path_is_taken_literally_not_globbed(tmp_path: Path, literal: str, decoy: str) -> None:
    (tmp_path / literal).write_text("خبر", encoding="utf-8")
    (tmp_path / decoy).write_text("خبر آخر", encoding="utf-8")
    selection = resolve_inputs([str(tmp_path / literal)])
    assert [p.name for p in selection.files] == [literal]
    assert selection.problems == []


def test_an_existing_folder_with_glob_characters_is_searched_literally(tmp_path: Path) -> None:
    (tmp_path / "in[2]").mkdir()
    (tmp_path / "in[2]" / "one.txt").write_text("خبر", encoding="utf-8")
    (tmp_path / "in2").mkdir()
    (tmp_path / "in2" / "decoy.txt").write_text("خبر", encoding="utf-8")
    selection = resolve_inputs([str(tmp_path / "in[2]")])
    assert [p.name for p in selection.files] == ["one.txt"]


def test_a_missing_path_with_glob_characters_is_still_a_pattern(tmp_path: Path) -> None:
    (tmp_path / "a1.txt").write_text("خبر", encoding="utf-8")
    selection = resolve_inputs([str(tmp_path / "a[1].txt")])
    assert [p.name for p in selection.files] == ["a1.txt"]
