"""Article grouping: the boundary rule on small frames and on the seed, and the per-article fold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.articles import ARTICLE_SCHEMA, assign_articles, build_articles
from akhbar.facts import extract_facts
from akhbar.normalize import normalize_segments, normalize_text

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_9f5a928a3eee6293.txt"
SCORES = pl.List(pl.Struct({"topic": pl.String, "score": pl.Float64}))

ASSIGN_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "line_no": pl.Int64(),
    "text_norm": pl.String(),
    "is_truncated": pl.Boolean(),
    "follows_blank_line": pl.Boolean(),
    "topic": pl.String(),
    "countries": pl.List(pl.String()),
}


def _rows(*rows: tuple[str, bool, bool, str | None, list[str]], doc_id: str = "doc-a") -> pl.DataFrame:
    """Segments from (raw text, is_truncated, follows_blank_line, topic, countries) tuples."""
    frame = pl.DataFrame(
        {
            "doc_id": [doc_id] * len(rows),
            "line_no": list(range(1, len(rows) + 1)),
            "text_norm": [r[0] for r in rows],
            "is_truncated": [r[1] for r in rows],
            "follows_blank_line": [r[2] for r in rows],
            "topic": [r[3] for r in rows],
            "countries": [r[4] for r in rows],
        },
        schema=ASSIGN_SCHEMA,
    )
    return frame.with_columns(normalize_text(pl.col("text_norm")).alias("text_norm"))


def _first_lines(frame: pl.DataFrame) -> list[int]:
    """The first line of each segment's article, read back from article_id."""
    return [int(a.rsplit("-", 1)[1]) for a in assign_articles(frame)["article_id"]]


def test_seed_groups_lines_1_to_8_and_six_teasers() -> None:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    raw = pl.DataFrame(
        {
            "doc_id": ["9f5a928a3eee6293"] * len(lines),
            "line_no": list(range(1, len(lines) + 1)),
            "line_text": lines,
            "follows_blank_line": [False] * len(lines),
            "topic": ["politics"] * 9 + ["economy", "business", "economy", "sports", "economy"],
        },
        schema_overrides={"line_no": pl.Int64},
    )
    segments = extract_facts(normalize_segments(raw))
    ids = assign_articles(segments)["article_id"].to_list()
    assert ids == ["9f5a928a3eee6293-1"] * 8 + [f"9f5a928a3eee6293-{n}" for n in range(9, 15)]


@pytest.mark.parametrize(
    ("opening", "continues"),
    [
        pytest.param("وأضاف المتحدث أن", True, id="wa-adafa"),
        pytest.param("وأكدت الوزارة", True, id="wa-akkadat-feminine"),
        pytest.param("وتابع قائلا", True, id="wa-tabaa"),
        pytest.param("ولفت إلى أن", True, id="wa-lafata"),
        pytest.param("فقال إن", True, id="fa-qala"),
        pytest.param("وفي مؤتمر صحفي", True, id="wa-fi"),
        pytest.param("ومن المقرر أن", True, id="wa-min"),
        pytest.param("كما وجه الشكر", True, id="kama"),
        pytest.param("إلى جانب ذلك، وصل الوزير", True, id="ila-janib-dhalik"),
        pytest.param("من جهته، قال", True, id="min-jihatihi"),
        pytest.param("في المقابل، رفض", True, id="fi-al-muqabil"),
        pytest.param("من ناحية أخرى", True, id="min-nahiya-ukhra"),
        pytest.param("وزير الخارجية يصل", False, id="wazir-starts-with-waw"),
        pytest.param("وصل الوفد إلى", False, id="wasala-starts-with-waw"),
        pytest.param("وجه الإعلامي رسالة", False, id="wajjaha-starts-with-waw"),
        pytest.param("وفيات الحادث", False, id="wafayat-is-not-wa-fi"),
        pytest.param("واشنطن تعلن", False, id="washington"),
        pytest.param("كمال الشاذلي", False, id="kamal-is-not-kama"),
    ],
)
def test_continuation_cues(opening: str, continues: bool) -> None:
    # Different topics and no shared country: only the cue can continue the article.
    frame = _rows(("خبر أول", False, False, "politics", ["SY"]), (opening, False, False, "sports", []))
    assert _first_lines(frame) == ([1, 1] if continues else [1, 2])


@pytest.mark.parametrize(
    ("second", "first_lines"),
    [
        pytest.param(("التقى الوزير", False, False, "politics", ["RU", "SY"]), [1, 1], id="same-topic-shared-country"),
        pytest.param(("التقى الوزير", False, False, "politics", ["EG"]), [1, 2], id="same-topic-no-shared-country"),
        pytest.param(("التقى الوزير", False, False, "economy", ["SY"]), [1, 2], id="shared-country-other-topic"),
        pytest.param(("التقى الوزير", False, False, None, ["SY"]), [1, 2], id="null-topic"),
        pytest.param(("التقى الوزير", False, False, "politics", []), [1, 2], id="no-countries"),
        pytest.param(("وأضاف الوزير", False, True, "politics", ["SY"]), [1, 2], id="blank-line-beats-cue"),
        pytest.param(("وأضاف الوزير", True, False, "politics", ["SY"]), [1, 2], id="teaser-is-own-story"),
    ],
)
def test_boundary_rule(second: tuple[str, bool, bool, str | None, list[str]], first_lines: list[int]) -> None:
    frame = _rows(("عقد الوزير مباحثات", False, False, "politics", ["SY"]), second)
    assert _first_lines(frame) == first_lines


def test_segment_after_a_teaser_starts_a_new_article() -> None:
    frame = _rows(
        ("خبر مقتطع", True, False, "politics", ["SY"]),
        ("وأضاف الوزير", False, False, "politics", ["SY"]),
        ("وتابع", False, False, "politics", ["SY"]),
    )
    assert _first_lines(frame) == [1, 2, 2]


def test_each_document_starts_fresh_and_row_order_is_kept() -> None:
    doc_b = _rows(("وأضاف", False, False, "politics", ["SY"]), ("كما", False, False, "politics", ["SY"]), doc_id="b")
    doc_a = _rows(("خبر", False, False, "politics", ["SY"]), ("وأضاف", False, False, "politics", ["SY"]), doc_id="a")
    shuffled = pl.concat([doc_b, doc_a])[[3, 0, 2, 1]]
    result = assign_articles(shuffled)
    assert_frame_equal(result.drop("article_id"), shuffled)
    assert result["article_id"].to_list() == ["a-1", "b-1", "a-1", "b-1"]


def test_article_id_uses_the_first_16_characters_of_doc_id() -> None:
    frame = _rows(("خبر", False, False, None, []), doc_id="0123456789abcdef0123456789abcdef")
    assert assign_articles(frame)["article_id"].to_list() == ["0123456789abcdef-1"]


def test_assign_on_empty_frame() -> None:
    result = assign_articles(pl.DataFrame(schema=ASSIGN_SCHEMA))
    assert result.height == 0 and result.schema["article_id"] == pl.String


# --- build_articles -----------------------------------------------------------------------------------


def _build_input() -> pl.DataFrame:
    published = datetime(2025, 8, 1, 18, 8, tzinfo=UTC)
    return pl.DataFrame(
        {
            "article_id": ["b-1", "a-1", "a-1", "a-1", "a-4", "a-5"],
            "doc_id": ["b", "a", "a", "a", "a", "a"],
            "line_no": [1, 3, 1, 2, 4, 5],
            "text": ["ب", "ثالث", "أول", "ثان", "رابع", "خامس"],
            "topic": ["sports", "politics", "politics", "economy", "other", "economy"],
            "topic_scores": [
                [{"topic": "sports", "score": 1.0}],
                [{"topic": "politics", "score": 0.4}, {"topic": "economy", "score": 0.1}],
                [{"topic": "politics", "score": 0.5}, {"topic": "economy", "score": 0.2}],
                [{"topic": "politics", "score": 0.1}, {"topic": "economy", "score": 0.9}],
                [{"topic": "politics", "score": 0.0}],
                [],
            ],
            "lang": ["ar", "en", None, "ar", None, "ar"],
            "is_truncated": [True, False, False, False, False, True],
            "published_at": [None, published, None, None, None, None],
            "dates": [[], [date(2025, 8, 1)], [date(2025, 10, 15)], [date(2025, 8, 1)], [], []],
            "countries": [["GB"], ["SY"], ["RU", "SY"], [], [], ["EG"]],
        },
        schema_overrides={
            "line_no": pl.Int64,
            "topic_scores": SCORES,
            "published_at": pl.Datetime("us", "UTC"),
            "dates": pl.List(pl.Date),
            "countries": pl.List(pl.String),
        },
    )


def test_build_articles_folds_each_article() -> None:
    published = datetime(2025, 8, 1, 18, 8, tzinfo=UTC)
    expected = pl.DataFrame(
        {
            "article_id": ["a-1", "a-4", "a-5", "b-1"],
            "doc_id": ["a", "a", "a", "b"],
            "first_line_no": [1, 4, 5, 1],
            "last_line_no": [3, 4, 5, 1],
            "segment_count": [3, 1, 1, 1],
            "text": ["أول\nثان\nثالث", "رابع", "خامس", "ب"],
            # a-1: economy 0.2+0.9+0.1 = 1.2 beats politics 0.5+0.1+0.4 = 1.0
            "topic": ["economy", "other", "other", "sports"],
            # a-1: "ar" and "en" once each: the earlier line (2, "ar") wins the tie
            "lang": ["ar", None, "ar", "ar"],
            "is_truncated": [False, False, True, True],
            "published_at": [published, None, None, None],
            "dates": [[date(2025, 8, 1), date(2025, 10, 15)], [], [], []],
            "countries": [["RU", "SY"], [], ["EG"], ["GB"]],
        },
        schema=ARTICLE_SCHEMA,
    )
    assert_frame_equal(build_articles(_build_input()), expected)


def test_build_articles_accepts_categorical_topic_and_lang() -> None:
    segments = _build_input().with_columns(pl.col("topic", "lang").cast(pl.Categorical))
    assert build_articles(segments)["topic"].to_list() == ["economy", "other", "other", "sports"]


def test_build_articles_on_empty_frame() -> None:
    result = build_articles(_build_input().head(0))
    assert result.height == 0 and result.schema == pl.Schema(ARTICLE_SCHEMA)
