"""The linear topic model (akhbar/topic_model.py) and the taxonomy's [model] vote."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.normalize import normalize_text
from akhbar.topic_model import (
    FEATURE,
    TopicModel,
    TopicModelError,
    class_probabilities,
    feature_rows,
    load_topic_model,
    write_topic_model,
)
from akhbar.topics import OTHER_TOPIC, TaxonomyError, classify_topics, load_taxonomy

PACKAGED_TAXONOMY = Path(__file__).resolve().parents[1] / "akhbar" / "taxonomy.toml"


def tiny_model(diplomacy_words: dict[str, float], intercepts: tuple[float, float] = (0.0, 1.0)) -> TopicModel:
    """A two-class model (diplomacy, other) whose only non-zero weights are ``diplomacy_words``."""
    features = list(diplomacy_words)
    weights = pl.DataFrame(
        {FEATURE: features, "diplomacy": list(diplomacy_words.values()), OTHER_TOPIC: [0.0] * len(features)},
        schema={FEATURE: pl.String, "diplomacy": pl.Float32, OTHER_TOPIC: pl.Float32},
    )
    return TopicModel("tiny", ("diplomacy", OTHER_TOPIC), weights, intercepts, fingerprint="")


def probabilities(texts: list[str], model: TopicModel) -> pl.DataFrame:
    frame = pl.DataFrame({"text_norm": texts}).lazy().with_row_index("row")
    return class_probabilities(frame, "row", model).collect().drop("row")


def test_features_are_the_distinct_words_and_word_pairs_of_each_text() -> None:
    texts = pl.DataFrame({"text_norm": ["سفير، سفير Paris 2024 وزير", "", "كلمة"]}).lazy().with_row_index("row")
    found = feature_rows(texts, "row").collect().sort("row", FEATURE)
    # Digits and punctuation separate words and are dropped; Latin is lower-cased; repeats count once.
    expected = pl.DataFrame(
        {
            "row": [0, 0, 0, 0, 0, 0, 2],
            FEATURE: ["paris", "paris وزير", "سفير", "سفير paris", "سفير سفير", "وزير", "كلمة"],
        },
        schema={"row": pl.UInt32, FEATURE: pl.String},
    ).sort("row", FEATURE)
    assert_frame_equal(found, expected)


def test_probabilities_are_the_softmax_of_intercepts_plus_the_weights_of_present_features() -> None:
    model = tiny_model({"سفير": 2.0, "وزير الخارجية": 1.5})
    found = probabilities(["السفير سفير سفير", "قال وزير الخارجية ان السفير سفير", "لا شيء هنا"], model)

    def diplomacy_probability(diplomacy_logit: float, other_logit: float) -> float:
        return math.exp(diplomacy_logit) / (math.exp(diplomacy_logit) + math.exp(other_logit))

    # A repeated feature counts once (binary features); unknown words add nothing.
    first = diplomacy_probability(0.0 + 2.0, 1.0)
    second = diplomacy_probability(0.0 + 2.0 + 1.5, 1.0)
    third = 1.0 - diplomacy_probability(0.0, 1.0)
    expected = pl.DataFrame(
        {"model_topic": ["diplomacy", "diplomacy", OTHER_TOPIC], "model_probability": [first, second, third]}
    )
    assert_frame_equal(found, expected, abs_tol=1e-6)


def test_a_written_model_reads_back_identically(tmp_path: Path) -> None:
    model = tiny_model({"سفير": 2.0, "قمة": -0.5}, intercepts=(-0.25, 0.75))
    path = tmp_path / "model.parquet"
    write_topic_model(model, path, citation="test sentences")
    loaded = load_topic_model(path)
    assert loaded.classes == model.classes
    assert loaded.intercepts == model.intercepts
    assert_frame_equal(loaded.weights, model.weights)
    assert loaded.fingerprint and loaded.source == str(path)


@pytest.mark.parametrize(
    ("frame", "metadata", "message"),
    [
        (pl.DataFrame({FEATURE: ["", "a"], "x": [0.0, 1.0]}).cast({"x": pl.Float32}), {}, "no `classes`"),
        (pl.DataFrame({FEATURE: ["", "a"], "x": [0.0, 1.0]}), {"classes": "x"}, "Float32"),
        (pl.DataFrame({FEATURE: ["", "a"], "y": [0.0, 1.0]}).cast({"y": pl.Float32}), {"classes": "x"}, "columns"),
        (pl.DataFrame({FEATURE: ["a", "b"], "x": [0.0, 1.0]}).cast({"x": pl.Float32}), {"classes": "x"}, "intercept"),
        (
            pl.DataFrame({FEATURE: ["", "a", "a"], "x": [0.0, 1.0, 2.0]}).cast({"x": pl.Float32}),
            {"classes": "x"},
            "unique",
        ),
    ],
)
def test_a_malformed_model_file_is_refused_naming_it(
    tmp_path: Path, frame: pl.DataFrame, metadata: dict[str, str], message: str
) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    table = frame.to_arrow()
    pq.write_table(table.replace_schema_metadata(metadata or None), path)
    with pytest.raises(TopicModelError, match=message) as caught:
        load_topic_model(path)
    assert str(path) in str(caught.value)


def test_a_file_that_is_not_parquet_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "model.parquet"
    path.write_text("not a model", encoding="utf-8")
    with pytest.raises(TopicModelError, match=f"{path}: not a Parquet topic model"):
        load_topic_model(path)


# --- the taxonomy's [model] vote ----------------------------------------------------------------------

MODEL_TABLE = """[model]
file = "tiny.parquet"
topics = ["diplomacy"]
min_probability = {min_probability}
vote = 3.0

"""


def taxonomy_with_tiny_model(tmp_path: Path, model: TopicModel, min_probability: float = 0.6) -> Path:
    """A copy of the packaged taxonomy whose [model] is ``model``, written next to it."""
    write_topic_model(model, tmp_path / "tiny.parquet")
    text = PACKAGED_TAXONOMY.read_text(encoding="utf-8")
    start = text.index("\n[model]\n") + 1
    end = text.index("\n[morphology]\n") + 1
    path = tmp_path / "taxonomy.toml"
    path.write_text(text[:start] + MODEL_TABLE.format(min_probability=min_probability) + text[end:], encoding="utf-8")
    return path


def classify(texts: list[str], taxonomy_path: Path) -> pl.DataFrame:
    frame = pl.DataFrame({"text": texts}).with_columns(normalize_text(pl.col("text")).alias("text_norm"))
    return classify_topics(frame, load_taxonomy(taxonomy_path))


# A word no taxonomy term contains, made sure by the tiny model; and a plainly footballing sentence.
MODEL_WORD = "تشاورا"
NO_TERM_SENTENCE = f"{MODEL_WORD} مطولا حول الملف يوم الأحد"
FOOTBALL_SENTENCE = f"سجل المهاجم هدفين في مباراة الدوري وفاز الفريق بالمباراة {MODEL_WORD}"


def test_the_model_decides_a_text_without_terms_and_its_vote_shows_in_topic_scores(tmp_path: Path) -> None:
    path = taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD.replace("أ", "ا"): 5.0}))
    lexicon_alone = dataclasses.replace(load_taxonomy(path), model_vote=None)
    texts = pl.DataFrame({"text": [NO_TERM_SENTENCE]}).with_columns(normalize_text(pl.col("text")).alias("text_norm"))
    assert classify_topics(texts, lexicon_alone).item(0, "topic") == OTHER_TOPIC

    row = classify([NO_TERM_SENTENCE], path).row(0, named=True)
    assert row["topic"] == "diplomacy"
    assert row["matched_terms"] == []  # the evidence list stays the lexicon's
    scores = {item["topic"]: item["score"] for item in row["topic_scores"]}
    assert scores["diplomacy"] == 3.0


def test_the_model_never_overrules_a_topic_the_lexicon_decided(tmp_path: Path) -> None:
    path = taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD: 9.0}))
    lexicon_alone = dataclasses.replace(load_taxonomy(path), model_vote=None)
    texts = pl.DataFrame({"text": [FOOTBALL_SENTENCE]}).with_columns(normalize_text(pl.col("text")).alias("text_norm"))
    expected = classify_topics(texts, lexicon_alone)
    assert expected.item(0, "topic") == "football"
    assert_frame_equal(classify([FOOTBALL_SENTENCE], path), expected)


def test_the_model_does_not_vote_below_its_minimum_probability(tmp_path: Path) -> None:
    # exp(1) / (exp(1) + exp(1)) = 0.5 for diplomacy: below the 0.6 asked for.
    path = taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD: 1.0}), min_probability=0.6)
    assert classify([NO_TERM_SENTENCE], path).item(0, "topic") == OTHER_TOPIC


def test_a_retrained_model_changes_the_taxonomy_fingerprint(tmp_path: Path) -> None:
    first = load_taxonomy(taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD: 5.0}))).fingerprint
    second = load_taxonomy(taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD: 4.0}))).fingerprint
    assert first != second


def test_a_copy_of_the_packaged_taxonomy_elsewhere_keeps_the_packaged_model(tmp_path: Path) -> None:
    copy = tmp_path / "my-taxonomy.toml"
    copy.write_text(PACKAGED_TAXONOMY.read_text(encoding="utf-8"), encoding="utf-8")
    packaged = load_taxonomy()
    assert packaged.model_vote is not None
    copied = load_taxonomy(copy).model_vote
    assert copied is not None
    assert copied.model.fingerprint == packaged.model_vote.model.fingerprint


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ('file = "missing.parquet"', "missing.parquet"),
        ('topics = ["weather"]', "unknown topic"),
        ("min_probability = 1.5", "min_probability"),
        ("vote = -1.0", "model.vote"),
        ("colour = 1", "unknown key"),
    ],
)
def test_a_wrong_model_table_is_refused_naming_the_file(tmp_path: Path, replacement: str, message: str) -> None:
    path = taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD: 5.0}))
    key = replacement.split(" = ")[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("[model]")
    replaced = [f"{key} = " in line and index > start for index, line in enumerate(lines)]
    if any(replaced):
        lines[replaced.index(True)] = replacement
    else:
        lines.insert(start + 1, replacement)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message) as caught:
        load_taxonomy(path)
    assert str(path) in str(caught.value)


def test_a_model_without_a_class_for_a_voting_topic_is_refused(tmp_path: Path) -> None:
    path = taxonomy_with_tiny_model(tmp_path, tiny_model({MODEL_WORD: 5.0}))
    path.write_text(path.read_text(encoding="utf-8").replace('topics = ["diplomacy"]', 'topics = ["football"]'))
    with pytest.raises(TaxonomyError, match="no class for football"):
        load_taxonomy(path)


def test_the_packaged_model_backs_diplomacy_on_a_state_to_state_sentence_the_lexicon_misses() -> None:
    # Written for this test: Beijing warns Washington and threatens to answer in kind.
    sentence = "ودعت بكين واشنطن إلى التراجع عن قرارها وحذرت من أنها سترد بالمثل على أي خطوة تمس مصالحها."
    frame = pl.DataFrame({"text": [sentence]}).with_columns(normalize_text(pl.col("text")).alias("text_norm"))
    taxonomy = load_taxonomy()
    assert classify_topics(frame, dataclasses.replace(taxonomy, model_vote=None)).item(0, "topic") == OTHER_TOPIC
    assert classify_topics(frame, taxonomy).item(0, "topic") == "diplomacy"
