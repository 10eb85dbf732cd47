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
    add_reviewed,
    calibration_gap,
    level_accuracy,
    load_corpus_paragraphs,
    load_reviewed,
    text_hash,
    topic_quality,
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
    path.write_text(
        "id,paragraph,hash,label,stratum,stratum_size\na,0,000000000000,other,v1 x,1\nb,1,000000000000,sport,v1 x,1\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit, match=r"reviewed.csv:3: unknown label 'sport'"):
        load_reviewed(path)


def test_level_accuracy_weighs_each_reviewed_paragraph_by_its_stratum_and_levels_by_their_share() -> None:
    texts = ["نص أول", "نص ثان", "نص ثالث", "نص رابع", "نص خامس"]
    classified = pl.DataFrame(
        {
            "id": ["a", "a", "b", "c", "d"],
            "paragraph": [0, 1, 0, 0, 0],
            "text": texts,
            "topic": ["football", "other", "other", "other", "other"],
            "topic_confidence": [0.9, 0.8, 0.8, 0.8, 0.8],
            "level": ["topic", "other", "other", "other", "other"],
        }
    )
    # "b" was drawn from a stratum of 30 corpus paragraphs, "a#1" from one of 10: "b" weighs three
    # times as much, so the "other" level is right 30 / (10 + 30) of the time, not 1 / 2.
    reviewed = pl.DataFrame(
        {
            "id": ["a", "a", "b"],
            "paragraph": [0, 1, 0],
            "hash": [text_hash(text) for text in texts[:3]],
            "label": ["football", "diplomacy", "other"],
            "stratum": ["v1 topic", "v1 weak", "v1 none"],
            "stratum_size": [5, 10, 30],
        }
    )
    levels = level_accuracy(classified, reviewed)
    expected = pl.DataFrame(
        {
            "level": ["other", "topic"],
            "reviewed": pl.Series([2, 1], dtype=pl.UInt32),
            "accuracy": [0.75, 1.0],
            "configured": [0.8, 0.9],
            "share": [0.8, 0.2],
        }
    )
    assert_frame_equal(levels.select(expected.columns), expected, check_exact=False)
    assert calibration_gap(levels) == pytest.approx(0.05 * 0.8 + 0.1 * 0.2)


def test_topic_quality_estimates_corpus_precision_and_recall_with_stratum_weights() -> None:
    classified = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "paragraph": [0, 0, 0],
            "text": ["نص أول", "نص ثان", "نص ثالث"],
            "topic": ["diplomacy", "diplomacy", "other"],
        }
    )
    # "a" stands for 1 paragraph, "b" for 3, "c" for 2: of 4 paragraphs read as diplomacy 1 is;
    # of 3 diplomacy paragraphs (a, and c's 2) 1 was found.
    reviewed = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "paragraph": [0, 0, 0],
            "hash": [text_hash(text) for text in ("نص أول", "نص ثان", "نص ثالث")],
            "label": ["diplomacy", "other", "diplomacy"],
            "stratum": ["v1 strong", "v1 weak", "v1 none"],
            "stratum_size": [1, 3, 2],
        }
    )
    quality = topic_quality(classified, reviewed).filter(pl.col("label") == "diplomacy").row(0, named=True)
    assert quality["precision"] == pytest.approx(1 / 4)
    assert quality["recall"] == pytest.approx(1 / 3)
    assert quality["f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert quality["corpus_share"] == pytest.approx(3 / 6)
    assert (quality["reviewed_predicted"], quality["reviewed_label"]) == (2, 2)


def test_a_changed_paragraph_is_refused() -> None:
    classified = pl.DataFrame(
        {"id": ["a"], "paragraph": [0], "text": ["نص"], "topic": ["other"], "topic_confidence": [0.9], "level": ["x"]}
    )
    reviewed = pl.DataFrame(
        {
            "id": ["a"],
            "paragraph": [0],
            "hash": [text_hash("نص آخر")],
            "label": ["other"],
            "stratum": ["v1 x"],
            "stratum_size": [1],
        }
    )
    with pytest.raises(SystemExit, match="changed in the corpus"):
        level_accuracy(classified, reviewed)


def test_labels_are_added_to_the_reviewed_file_with_their_stratum(tmp_path: Path) -> None:
    sample = tmp_path / "sample.jsonl"
    sample.write_text(
        '{"id": "b", "paragraph": 2, "text": "نص", "stratum": "v1 x", "stratum_size": 7, "hash": "0123456789ab"}\n',
        encoding="utf-8",
    )
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"key": "b#2", "label": "football"}\n', encoding="utf-8")
    reviewed = tmp_path / "reviewed.csv"
    reviewed.write_text(
        "id,paragraph,hash,label,stratum,stratum_size\na,0,aaaaaaaaaaaa,other,v1 y,3\n", encoding="utf-8"
    )
    merged = add_reviewed(reviewed, sample, labels)
    expected = pl.DataFrame(
        {
            "id": ["a", "b"],
            "paragraph": [0, 2],
            "hash": ["aaaaaaaaaaaa", "0123456789ab"],
            "label": ["other", "football"],
            "stratum": ["v1 y", "v1 x"],
            "stratum_size": [3, 7],
        }
    )
    assert_frame_equal(merged, expected)
    assert_frame_equal(load_reviewed(reviewed), expected)
    labels.write_text('{"key": "z#9", "label": "other"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="1 keys are not in"):
        add_reviewed(reviewed, sample, labels)


@pytest.mark.skipif(not (DATA / CORPUS_FILE).exists(), reason="the ANT corpus is not beside the repository")
def test_every_reviewed_key_is_a_corpus_paragraph_with_the_reviewed_text() -> None:
    reviewed = load_reviewed(REVIEWED_FILE)
    paragraphs = load_corpus_paragraphs(DATA / CORPUS_FILE, exclude=set())
    joined = reviewed.join(paragraphs, on=["id", "paragraph"], how="inner")
    assert joined.height == reviewed.height
    assert [text_hash(text) for text in joined.get_column("text")] == joined.get_column("hash").to_list()
