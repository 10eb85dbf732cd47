"""``topic_confidence`` from the taxonomy's [calibration] table: evidence levels and their numbers."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.topics import Taxonomy, TaxonomyError, classify_topics, evidence_level, load_taxonomy, parse_taxonomy

HEAD = """version = "cal-1"
[decision]
min_score = 3.0
lead_boost = 0.0
[morphology]
clitics = ["و"]
suffixes = ["ات"]
teh_marbuta_suffixes = ["ات"]
"""

CALIBRATION = """
[calibration]
no_evidence = 0.9
other_edges = [0.0, 1.5]
other_confidence = [0.8, 0.6]
margin_edges = [0.0, 1.5, 3.0, 6.0]
topic_confidence = [0.65, 0.85, 0.95, 0.99]
"""

# Made-up words: weights are what the levels are about.
TOPICS = """
[topics.alpha]
[[topics.alpha.group]]
weight = 1.0
terms = ["الف"]
[[topics.alpha.group]]
weight = 2.0
terms = ["باء"]
[[topics.alpha.group]]
weight = 3.0
terms = ["تاء"]
[[topics.alpha.group]]
weight = 9.0
terms = ["ثاء"]

[topics.beta]
[[topics.beta.group]]
weight = 3.0
terms = ["جيم"]
"""


def classify(texts: list[str], taxonomy: Taxonomy) -> pl.DataFrame:
    """Classify already-normalized texts."""
    return classify_topics(pl.DataFrame({"text_norm": texts}, schema={"text_norm": pl.String}), taxonomy)


def test_confidence_per_evidence_level() -> None:
    taxonomy = parse_taxonomy((HEAD + CALIBRATION + TOPICS).encode(), source="cal.toml")
    texts = ["لا شيء هنا", "الف", "باء", "تاء", "تاء جيم", "تاء باء", "ثاء", "ثاء جيم جيم"]
    result = classify(texts, taxonomy).with_columns(evidence_level(taxonomy).alias("level"))
    expected = pl.DataFrame(
        {
            "topic": ["other", "other", "other", "alpha", "alpha", "alpha", "alpha", "alpha"],
            "topic_confidence": [0.9, 0.8, 0.6, 0.65, 0.65, 0.85, 0.99, 0.95],
            "level": [
                "other: no evidence",
                "other: best > 0",
                "other: best >= 1.5",
                # Score 3 = min_score: no margin; a tie (3 vs 3) neither; 9 vs 3.75 (a repeat): 5.25.
                "topic: margin >= 0",
                "topic: margin >= 0",
                "topic: margin >= 1.5",
                "topic: margin >= 6",
                "topic: margin >= 3",
            ],
        }
    )
    assert_frame_equal(result.select("topic", "topic_confidence", "level"), expected)


def test_without_calibration_table_the_softmax_is_used() -> None:
    taxonomy = parse_taxonomy((HEAD + TOPICS).encode(), source="plain.toml")
    assert taxonomy.calibration is None
    confidence = classify(["لا شيء هنا"], taxonomy)["topic_confidence"].item()
    # other at min_score against one unseen topic at 0: e^(3/1.6) / (e^(3/1.6) + 1).
    assert confidence == pytest.approx(0.867, abs=1e-3)
    with pytest.raises(ValueError, match="no \\[calibration\\]"):
        evidence_level(taxonomy)


def test_packaged_other_without_evidence_is_not_087() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.calibration is not None
    confidence = classify(["افتتاح معرض الكتاب في المدينة"], taxonomy)["topic_confidence"].item()
    assert confidence == taxonomy.calibration.no_evidence
    assert confidence != pytest.approx(0.867, abs=1e-3)


@pytest.mark.parametrize(
    ("replace", "problem"),
    [
        (("no_evidence = 0.9", "no_evidence = 1.5"), "values must be in (0, 1]"),
        (("other_edges = [0.0, 1.5]", "other_edges = [1.5, 0.0]"), "must start at 0 and increase"),
        (("topic_confidence = [0.65, 0.85, 0.95, 0.99]", "topic_confidence = [0.65]"), "one value per"),
        (("no_evidence = 0.9", "no_evidence = 0.9\nslope = 2"), "unknown key(s) slope"),
        (("margin_edges = [0.0, 1.5, 3.0, 6.0]", "margin_edges = []"), "non-empty array"),
    ],
)
def test_invalid_calibration_tables(replace: tuple[str, str], problem: str) -> None:
    body = HEAD + CALIBRATION.replace(*replace) + TOPICS
    with pytest.raises(TaxonomyError, match=r"bad\.toml") as caught:
        parse_taxonomy(body.encode(), source="bad.toml")
    assert problem in str(caught.value)
