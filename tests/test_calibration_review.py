"""The reviewed calibration sample (bench/calibration_review.py): its file, its arithmetic, its keys."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

from calibration_review import (  # noqa: E402
    LABELS,
    REVIEWED_FILE,
    calibration_gap,
    level_accuracy,
    load_corpus_paragraphs,
    load_reviewed,
    text_hash,
)
from section_shares import CORPUS_FILE, DATA  # noqa: E402

from akhbar.topics import OTHER_TOPIC, load_taxonomy  # noqa: E402


def test_the_reviewed_file_has_unique_keys_and_the_taxonomy_s_labels() -> None:
    reviewed = load_reviewed(REVIEWED_FILE)
    assert reviewed.height > 0
    assert reviewed.select("id", "paragraph").is_duplicated().sum() == 0
    assert reviewed.get_column("label").is_in(LABELS).all()
    assert set(LABELS) == {*load_taxonomy().topic_names, OTHER_TOPIC}
    assert reviewed.get_column("hash").str.contains(r"^[0-9a-f]{12}$").all()


def test_an_unknown_label_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "reviewed.csv"
    path.write_text("id,paragraph,hash,label\na,0,000000000000,other\nb,1,000000000000,sport\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"reviewed.csv:3: unknown label 'sport'"):
        load_reviewed(path)


def test_level_accuracy_and_the_calibration_gap_weigh_levels_by_their_share() -> None:
    texts = ["نص أول", "نص ثان", "نص ثالث", "نص رابع"]
    classified = pl.DataFrame(
        {
            "id": ["a", "a", "b", "c"],
            "paragraph": [0, 1, 0, 0],
            "text": texts,
            "topic": ["football", "other", "other", "other"],
            "topic_confidence": [0.9, 0.8, 0.8, 0.8],
            "level": ["topic", "other", "other", "other"],
        }
    )
    reviewed = pl.DataFrame(
        {
            "id": ["a", "a", "b"],
            "paragraph": [0, 1, 0],
            "hash": [text_hash(text) for text in texts[:3]],
            "label": ["football", "diplomacy", "other"],
        }
    )
    levels = level_accuracy(classified, reviewed)
    expected = pl.DataFrame(
        {
            "level": ["other", "topic"],
            "reviewed": pl.Series([2, 1], dtype=pl.UInt32),
            "accuracy": [0.5, 1.0],
            "configured": [0.8, 0.9],
            "share": [0.75, 0.25],
        }
    )
    assert_frame_equal(levels.select(expected.columns), expected, check_exact=False)
    # |0.5 - 0.8| * 0.75 + |1.0 - 0.9| * 0.25
    assert calibration_gap(levels) == pytest.approx(0.3 * 0.75 + 0.1 * 0.25)


def test_a_changed_paragraph_is_refused() -> None:
    classified = pl.DataFrame(
        {"id": ["a"], "paragraph": [0], "text": ["نص"], "topic": ["other"], "topic_confidence": [0.9], "level": ["x"]}
    )
    reviewed = pl.DataFrame({"id": ["a"], "paragraph": [0], "hash": [text_hash("نص آخر")], "label": ["other"]})
    with pytest.raises(SystemExit, match="changed in the corpus"):
        level_accuracy(classified, reviewed)


@pytest.mark.skipif(not (DATA / CORPUS_FILE).exists(), reason="the ANT corpus is not beside the repository")
def test_every_reviewed_key_is_a_corpus_paragraph_with_the_reviewed_text() -> None:
    reviewed = load_reviewed(REVIEWED_FILE)
    paragraphs = load_corpus_paragraphs(DATA / CORPUS_FILE, exclude=set())
    joined = reviewed.join(paragraphs, on=["id", "paragraph"], how="inner")
    assert joined.height == reviewed.height
    assert [text_hash(text) for text in joined.get_column("text")] == joined.get_column("hash").to_list()
