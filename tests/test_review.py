"""Topic samples, the review queue and ``akhbar review``, on small frames and lakes written here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from akhbar.cli import app
from akhbar.lake import commit_rows, ensure_lake
from akhbar.review import (
    CLOSE_REASON,
    LEAST_CONFIDENT,
    LOW_REASON,
    MOST_CONFIDENT,
    QUEUE_SCHEMA,
    SAMPLE_SCHEMA,
    artifact_rows,
    known_topics,
    lake_frames,
    review_queue,
    snippet,
    topic_samples,
)
from schemas import DOCUMENTS, SEGMENTS

TOPICS = ("gold_prices", "football", "diplomacy")
GOLD = "ارتفع سعر الذهب عيار 21 اليوم"
MATCH = "فاز الأهلي على الزمالك في الدوري"
TALKS = "بحث وزير الخارجية مع نظيره العلاقات"


def _scores(**scores: float) -> list[dict[str, object]]:
    """A topic_scores list in taxonomy order; topics not named score 0."""
    return [{"topic": topic, "score": scores.get(topic, 0.0)} for topic in TOPICS]


def _segments(rows: list[tuple[str, str, str, float, list[dict[str, object]], list[str]]]) -> pl.LazyFrame:
    """(segment_id, text, topic, confidence, topic_scores, terms) rows of document d1, line = row number."""
    return pl.LazyFrame(
        {
            "segment_id": [r[0] for r in rows],
            "doc_id": ["d1"] * len(rows),
            "line_no": list(range(1, len(rows) + 1)),
            "text": [r[1] for r in rows],
            "topic": [r[2] for r in rows],
            "topic_confidence": [r[3] for r in rows],
            "topic_scores": [r[4] for r in rows],
            "matched_terms": [[{"topic": r[2], "term": term} for term in r[5]] for r in rows],
        },
        schema_overrides={
            "segment_id": pl.String,
            "doc_id": pl.String,
            "line_no": pl.Int64,
            "text": pl.String,
            "topic": pl.String,
            "topic_confidence": pl.Float64,
            "topic_scores": pl.List(pl.Struct({"topic": pl.String, "score": pl.Float64})),
            "matched_terms": pl.List(pl.Struct({"topic": pl.String, "term": pl.String})),
        },
    )


DOCS = pl.LazyFrame({"doc_id": ["d1"], "source_path": ["/in/news.txt"]})


def test_snippet_cuts_long_text_at_a_word_boundary() -> None:
    words = ["الذهب"] * 60  # 5 letters + a space each: 359 characters
    frame = pl.DataFrame({"text": [" ".join(words), GOLD]})
    cut = frame.select(snippet(pl.col("text"), 200)).get_column("text").to_list()
    assert cut[0] == " ".join(words[:33]) + "…"  # 33 words are 197 characters; 34 would be 203
    assert cut[1] == GOLD


def test_topic_samples_picks_the_most_and_least_confident_per_topic_ties_by_segment_id() -> None:
    gold = _scores(gold_prices=6.0)
    segments = _segments(
        [
            ("s5", GOLD + " 5", "gold_prices", 0.69, gold, ["الذهب"]),
            ("s4", GOLD + " 4", "gold_prices", 0.69, gold, ["الذهب"]),
            ("s3", GOLD + " 3", "gold_prices", 0.96, gold, ["الذهب", "عيار"]),
            ("s2", GOLD + " 2", "gold_prices", 0.96, gold, ["الذهب"]),
            ("s1", GOLD + " 1", "gold_prices", 0.99, gold, ["الذهب", "عيار"]),
            ("s6", MATCH, "football", 0.89, _scores(football=5.0), ["الدوري"]),
        ]
    )
    samples = topic_samples(segments, DOCS, per_end=2)
    expected = pl.DataFrame(
        {
            "topic": ["football", "gold_prices", "gold_prices", "gold_prices", "gold_prices"],
            "pick": [MOST_CONFIDENT, MOST_CONFIDENT, MOST_CONFIDENT, LEAST_CONFIDENT, LEAST_CONFIDENT],
            "topic_confidence": [0.89, 0.99, 0.96, 0.69, 0.69],
            "text": [MATCH, GOLD + " 1", GOLD + " 2", GOLD + " 4", GOLD + " 5"],
            "matched_terms": [
                [{"topic": "football", "term": "الدوري"}],
                [{"topic": "gold_prices", "term": "الذهب"}, {"topic": "gold_prices", "term": "عيار"}],
                [{"topic": "gold_prices", "term": "الذهب"}],
                [{"topic": "gold_prices", "term": "الذهب"}],
                [{"topic": "gold_prices", "term": "الذهب"}],
            ],
            "source_path": ["/in/news.txt"] * 5,
            "line_no": [6, 5, 4, 2, 1],
            "segment_id": ["s6", "s1", "s2", "s4", "s5"],
        },
        schema=SAMPLE_SCHEMA,
    )
    assert_frame_equal(samples, expected)


def test_topic_samples_of_no_segments_is_an_empty_typed_frame() -> None:
    assert_frame_equal(topic_samples(_segments([]), DOCS), pl.DataFrame(schema=SAMPLE_SCHEMA))


def _queue_input() -> pl.LazyFrame:
    return _segments(
        [
            ("sure", GOLD, "gold_prices", 0.99, _scores(gold_prices=9.0), ["الذهب"]),
            # diplomacy by 1.0 over football: a close call, and the calibration's lowest topic level
            ("close", TALKS, "diplomacy", 0.69, _scores(diplomacy=4.0, football=3.0), ["وزير الخارجية"]),
            # a clear winner, but its runner-up is within the margin of nothing: not close, confident
            ("clear", MATCH, "football", 0.96, _scores(football=8.0, diplomacy=2.0), ["الدوري"]),
            # other with a weak gold term: low confidence, no runner-up
            ("weak", "الذهب في المتحف", "other", 0.61, _scores(gold_prices=2.0), ["الذهب"]),
            # two close topics and a confident winner all the same (a custom calibration)
            ("tie", MATCH + " " + GOLD, "football", 0.9, _scores(football=5.0, gold_prices=4.5), ["الدوري"]),
            ("none", "نص بلا مصطلحات", "other", 0.93, _scores(), []),
        ]
    )


def test_review_queue_lists_low_confidence_and_close_calls_least_confident_first() -> None:
    queue = review_queue(_queue_input(), DOCS)
    expected = pl.DataFrame(
        {
            "reason": [LOW_REASON, f"{LOW_REASON}, {CLOSE_REASON}", CLOSE_REASON],
            "topic": ["other", "diplomacy", "football"],
            "topic_confidence": [0.61, 0.69, 0.9],
            "top_topic": ["gold_prices", "diplomacy", "football"],
            "top_score": [2.0, 4.0, 5.0],
            "second_topic": [None, "football", "gold_prices"],  # no runner-up without a positive score
            "second_score": [None, 3.0, 4.5],
            "text": ["الذهب في المتحف", TALKS, MATCH + " " + GOLD],
            "source_path": ["/in/news.txt"] * 3,
            "line_no": [4, 2, 5],
            "segment_id": ["weak", "close", "tie"],
        },
        schema=QUEUE_SCHEMA,
    )
    assert_frame_equal(queue, expected)


def test_review_queue_by_topic_includes_close_calls_involving_it_and_limit_keeps_the_first() -> None:
    football = review_queue(_queue_input(), DOCS, topic="football")
    assert football.get_column("segment_id").to_list() == ["close", "tie"]  # runner-up in "close"
    assert review_queue(_queue_input(), DOCS, topic="gold_prices").get_column("segment_id").to_list() == ["tie"]
    assert review_queue(_queue_input(), DOCS, limit=1).get_column("segment_id").to_list() == ["weak"]


def test_known_topics_are_the_scored_and_chosen_ones() -> None:
    assert known_topics(_queue_input()) == sorted([*TOPICS, "other"])


def test_artifact_rows_join_the_terms_and_round_scores() -> None:
    frame = pl.DataFrame(
        {"topic_confidence": [0.6912], "matched_terms": [[{"topic": "gold_prices", "term": "الذهب"},
                                                         {"topic": "gold_prices", "term": "عيار"},
                                                         {"topic": "gold_prices", "term": "الذهب"}]]}
    )  # fmt: skip
    assert artifact_rows(frame.with_columns(text=pl.lit(GOLD)).select("text", "topic_confidence", "matched_terms")) == [
        {"topic_confidence": 0.69, "matched_terms": "الذهب، عيار", "text": GOLD}
    ]
    assert list(artifact_rows(frame.with_columns(text=pl.lit(GOLD)).select("text", "matched_terms"))[0]) == [
        "matched_terms",
        "text",
    ]


# --- the lake and the command --------------------------------------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _segment_rows(frame: pl.LazyFrame, run_id: str, doc_id: str) -> pl.DataFrame:
    """Full ``segments`` rows from the columns the review reads."""
    return frame.collect().with_columns(
        doc_id=pl.lit(doc_id),
        segment_id=pl.lit(doc_id) + "-" + pl.col("segment_id"),
        text_norm=pl.col("text"),
        is_truncated=pl.lit(False),
        lang=pl.lit("ar"),
        lang_prob=pl.lit(0.99),
        lang_method=pl.lit("langdetect"),
        article_id=pl.lit(doc_id) + "-1",
        dates=pl.lit([], dtype=pl.List(pl.Date)),
        unresolved_dates=pl.lit([], dtype=pl.List(pl.String)),
        published_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
        quantities=pl.lit([], dtype=pl.List(pl.Struct({"value": pl.Float64, "unit": pl.String, "kind": pl.String}))),
        countries=pl.lit([], dtype=pl.List(pl.String)),
        run_id=pl.lit(run_id),
        processed_at=pl.lit(NOW),
    )


def _document_row(doc_id: str, source: str, run_id: str, lines: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"doc_id": [doc_id], "source_path": [source], "source_paths": [[source]], "size_bytes": [100],
         "encoding": ["utf-8"], "status": ["ingested"], "total_lines": [lines], "blank_lines": [0],
         "segment_lines": [lines], "quarantined_lines": [0], "ingested_at": [NOW], "run_id": [run_id],
         "package_version": ["0.1.0"], "taxonomy_version": ["t"]},
    )  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """Two runs: the queue input as d1 (run r1), the sure gold line again as d2 (run r2)."""
    path = tmp_path / "lake"
    ensure_lake(path)
    first = _segment_rows(_queue_input(), "r1", "d1")
    second = _segment_rows(_queue_input().head(1), "r2", "d2")
    commit_rows(path, SEGMENTS, [first, second])
    commit_rows(path, DOCUMENTS, [_document_row("d1", "/in/news [1].txt", "r1", first.height),
                                  _document_row("d2", "/in/later.txt", "r2", 1)])  # fmt: skip
    return path


def test_lake_frames_of_a_run_hold_only_its_rows(lake: Path) -> None:
    segments, documents = lake_frames(lake, "r2")
    assert segments.collect().get_column("segment_id").to_list() == ["d2-sure"]
    assert documents.collect().get_column("doc_id").to_list() == ["d2"]
    samples = topic_samples(segments, documents)
    assert samples.select("source_path", "line_no").rows() == [("/in/later.txt", 1)]


def test_review_command_prints_the_queue(lake: Path) -> None:
    result = CliRunner().invoke(app, ["review", "--lake", str(lake), "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "review queue: 2 segment(s), least confident first" in lines[0]
    body = "\n".join(lines)
    assert "/in/news [1].txt:4" in body  # brackets printed as they are, not read as markup
    assert "diplomacy 4.00" in body and "football 3.00" in body  # both scores of the close call
    assert MATCH not in body  # the third entry is past the limit


def test_review_command_with_an_unknown_topic_names_the_known_ones(lake: Path) -> None:
    result = CliRunner().invoke(app, ["review", "--lake", str(lake), "--topic", "sports"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: unknown topic 'sports'; known topics: diplomacy, football, gold_prices, other"
    )


def test_review_command_outside_a_lake_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["review", "--lake", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: not an akhbar lake: {tmp_path}"


# --- datasets as assets ---------------------------------------------------------------------------


def test_asset_keys_are_the_tables_uris_without_characters_prefect_forbids(tmp_path: Path) -> None:
    from prefect.assets import Asset

    from akhbar.assets import dataset_asset_key

    assert dataset_asset_key(tmp_path / "lake", SEGMENTS) == f"file://{tmp_path.resolve()}/lake/segments"
    assert dataset_asset_key(Path("/srv/my lake#2"), SEGMENTS) == "file:///srv/my_lake_2/segments"
    assert dataset_asset_key("s3://news/lake/", DOCUMENTS) == "s3://news/lake/documents"
    assert dataset_asset_key(Path("/srv/أخبار"), SEGMENTS) == "file:///srv/أخبار/segments"  # not %-encoded
    for key in ("file:///srv/my_lake_2/segments", "file:///srv/أخبار/segments"):
        assert Asset(key=key).key == key  # Prefect accepts it


def test_materializations_name_the_datasets_written_with_version_and_rows(lake: Path) -> None:
    from akhbar.assets import dataset_asset_key, materializations

    rows = _queue_input().collect().height
    found = materializations(lake, (SEGMENTS, DOCUMENTS), {"segments": rows, "documents": 0}, "r1")
    assert [(m.dataset, m.key) for m in found] == [("segments", dataset_asset_key(lake, SEGMENTS))]
    assert found[0].metadata == {
        "dataset": "segments",
        "table_version": 1,  # created empty (0), then one commit
        "rows": rows + 1,  # both runs' rows
        "rows_written": rows,
        "schema_version": SEGMENTS.version,
        "run_id": "r1",
    }
