"""Grouping a document's segments (paragraph lines) into articles, and one row per article.

Article rule (:func:`assign_articles`), applied per ``doc_id`` in ``line_no`` order.  A segment
**starts a new article** when

1. it is the first segment of its document;
2. it follows a blank line — a blank line is a hard boundary;
3. it is a truncated teaser (``is_truncated``), or the segment before it was one — a feed teaser
   cut with "…" is a story of its own.

Otherwise it **continues the article before it** when

4. it opens with a continuation cue: a و/ف-prefixed reporting verb ("وأضاف", "وأكد", "وأشار",
   "ولفت", "وتابع", "فقال" …, with feminine/plural endings), a و-prefixed connective ("وفي", "ومن",
   "وعلى", "وبحسب", "ووفقا" …) or a linking phrase ("كما", "إلى جانب ذلك", "من جهته",
   "في المقابل", "من ناحية أخرى", "في سياق متصل", "بدوره" …) — see ``CONTINUATION_CUE``; or
5. it has the same (non-null) ``topic`` as the segment before it *and* shares at least one country
   with it (topic and named-place continuity).

Anything else starts a new article.  ``article_id`` is ``f"{doc_id[:16]}-{first_line_no}"``, stable
across runs because it depends only on the document and the article's first line.

Worked example (``seeds/000_9f5a928a3eee6293.txt``): line 1 starts the document.  Line 2 ("التقى
وزير الخارجية الروسي…") has no cue but the same topic and shares SY/RU with line 1, so it
continues; lines 3 "وفي", 4 "ولفت", 5 "كما", 6 "وأشار", 7 "إلى جانب ذلك" and 8 "وأعلن" open with
cues.  Lines 1–8 are one article.  Lines 9–14 each end in "…": six teasers, six articles.

:func:`build_articles` then folds each article's segments into one row (see its docstring).
"""

from __future__ import annotations

import polars as pl

from schemas import ARTICLES

#: Reporting verbs (past tense, masculine, text_norm form) that continue a story after و/ف.
REPORTING_VERBS = (
    "قال", "اضاف", "اكد", "اشار", "تابع", "لفت", "اوضح", "شدد", "اعلن", "ذكر", "بين", "اعتبر",
    "كشف", "نقل", "ختم", "اختتم", "اعرب", "طالب", "اشاد", "نوه", "استطرد", "تطرق", "زاد", "لاحظ",
    "اعترف", "حذر", "اكمل", "استكمل", "اردف", "علق", "عقب", "استدرك", "افاد", "رحب",
    "كان", "جاء", "اصبح", "بات", "ظل", "دعا", "نفي", "راي",
)  # fmt: skip
#: Feminine/plural endings of those verbs ("واكدت", "واكدوا"), plus the irregular ones below.
VERB_ENDINGS = ("", "ت", "وا")
IRREGULAR_VERB_FORMS = ("دعت", "نفت", "رات", "جاءت", "كانت")
#: Other words that continue a story when و/ف is glued to them (prepositions, particles, passives).
PREFIXED_CONNECTIVES = (
    "في", "من", "علي", "بحسب", "حسب", "وفقا", "بدوره", "بدورها", "اضافة", "بالتزامن", "خلال",
    "بعد", "قبل", "عن", "اما", "حول", "مع", "كذلك", "ايضا", "قد", "لم", "لن", "هو", "هي", "هذا",
    "هذه", "يذكر", "يشار", "تجدر", "ياتي", "تاتي", "يعد", "تعد", "يعتبر", "تعتبر", "يضيف", "تضيف",
    "يقول", "تقول", "يري", "تري", "لذلك", "بذلك", "منذ", "فيما", "بينما",
)  # fmt: skip
#: Linking phrases that open a continuing paragraph without a prefix.
LINKING_PHRASES = (
    "كما", "الي جانب ذلك", "من جهته", "من جهتها", "من جهتهم", "من جانبه", "من جانبها",
    "من جانبهم", "في المقابل", "من ناحية اخري", "من ناحيته", "من ناحيتها", "في سياق متصل",
    "في السياق ذاته", "في السياق نفسه", "في هذا السياق", "في الاثناء", "في غضون ذلك",
    "في الوقت نفسه", "في الوقت ذاته", "بدوره", "بدورها", "علاوة علي ذلك", "فضلا عن ذلك",
    "اضافة الي ذلك", "بالاضافة الي ذلك", "يذكر ان", "يشار الي", "تجدر الاشارة", "كذلك", "ايضا",
    "غير ان", "الا ان", "في حين", "بينما", "فيما", "لكن", "ولكن", "اذ", "حيث",
)  # fmt: skip


def continuation_cue_pattern() -> str:
    """Regex for a text_norm line that opens with a continuation cue followed by a non-letter."""
    verbs = [verb + ending for verb in REPORTING_VERBS for ending in VERB_ENDINGS]
    prefixed = [
        clitic + word for clitic in ("و", "ف") for word in (*verbs, *IRREGULAR_VERB_FORMS, *PREFIXED_CONNECTIVES)
    ]
    cues = sorted({*prefixed, *LINKING_PHRASES}, key=len, reverse=True)
    alternation = "|".join(cue.replace(" ", r"\s+") for cue in cues)
    # "وفيات" must not pass for "وفي": the cue has to end at a non-letter.
    return rf"^(?:{alternation})(?:[^\p{{L}}]|$)"


#: A line opening with a continuation cue (see the module doc).
CONTINUATION_CUE = continuation_cue_pattern()

ROW = "_articles_row"

#: The articles columns this module builds (publishing adds run_id and processed_at), typed as declared.
ARTICLE_SCHEMA: dict[str, pl.DataType] = {
    name: dtype for name, dtype in ARTICLES.polars_schema().items() if name not in ("run_id", "processed_at")
}
#: Topic of an article whose segments carry no positive score.
FALLBACK_TOPIC = "other"


# --- assign_articles -------------------------------------------------------------------------------


def previous(column: str) -> pl.Expr:
    """The value on the previous row (frame sorted by doc_id, line_no; check ``same_doc``)."""
    return pl.col(column).shift(1)


def same_doc() -> pl.Expr:
    """True when the previous row belongs to the same document."""
    return (pl.col("doc_id") == previous("doc_id")).fill_null(False)


def hard_boundary() -> pl.Expr:
    """First segment of a doc, after a blank line, a teaser, or right after a teaser."""
    truncated = pl.col("is_truncated").fill_null(False)
    after_teaser = previous("is_truncated").fill_null(False)
    return ~same_doc() | pl.col("follows_blank_line").fill_null(False) | truncated | after_teaser


def opens_with_cue() -> pl.Expr:
    """The segment opens with a continuation cue."""
    return pl.col("text_norm").str.contains(CONTINUATION_CUE).fill_null(False)


def place_continuity() -> pl.Expr:
    """Same non-null topic as the previous segment and at least one country in common."""
    # Cast: topic arrives as Categorical when read back from Parquet (a dictionary column there).
    topic = pl.col("topic").cast(pl.String)
    same_topic = (topic == topic.shift(1)).fill_null(False)
    shared = pl.col("countries").list.set_intersection(previous("countries")).list.len()
    return same_topic & (shared.fill_null(0) > 0)


def starts_article() -> pl.Expr:
    """The module's article rule as one boolean per segment."""
    return hard_boundary() | ~(opens_with_cue() | place_continuity())


def assign_articles(segments: pl.DataFrame) -> pl.DataFrame:
    """Append ``article_id`` (String) by the rule in the module doc; row order is kept."""
    first_line = pl.when(pl.col("_starts")).then(pl.col("line_no")).forward_fill()
    article_id = pl.concat_str([pl.col("doc_id").str.slice(0, 16), pl.lit("-"), first_line.cast(pl.String)])
    return (
        segments.with_row_index(ROW)
        .sort("doc_id", "line_no")
        .with_columns(starts_article().alias("_starts"))
        .with_columns(article_id.alias("article_id"))
        .sort(ROW)
        .drop(ROW, "_starts")
    )


# --- build_articles --------------------------------------------------------------------------------


def union_sorted(column: str) -> pl.Expr:
    """Aggregation: the sorted union of a list column over a group."""
    return pl.col(column).explode().drop_nulls().unique().sort()


def article_topics(segments: pl.DataFrame) -> pl.DataFrame:
    """``article_id`` → ``topic``: highest summed score if positive, else ``FALLBACK_TOPIC``.

    Ties are broken by topic name so that the choice is stable across runs.
    """
    scores = (
        segments.select("article_id", pl.col("topic_scores").alias("_s"))
        .explode("_s")
        .drop_nulls("_s")
        .unnest("_s")
        .with_columns(pl.col("topic").cast(pl.String))
        .drop_nulls("topic")
        .group_by("article_id", "topic")
        .agg(pl.col("score").sum())
        .sort(["article_id", "score", "topic"], descending=[False, True, False])
        .unique("article_id", keep="first", maintain_order=True)
    )
    best = pl.when(pl.col("score") > 0).then(pl.col("topic")).otherwise(pl.lit(FALLBACK_TOPIC))
    return scores.select("article_id", best.alias("topic"))


def article_languages(segments: pl.DataFrame) -> pl.DataFrame:
    """``article_id`` → ``lang``: the most frequent non-null language, ties to the earliest line."""
    return (
        segments.with_columns(pl.col("lang").cast(pl.String))
        .drop_nulls("lang")
        .group_by("article_id", "lang")
        .agg(pl.len().alias("_n"), pl.col("line_no").min().alias("_first"))
        .sort(["article_id", "_n", "_first"], descending=[False, True, False])
        .unique("article_id", keep="first", maintain_order=True)
        .select("article_id", "lang")
    )


def build_articles(segments: pl.DataFrame) -> pl.DataFrame:
    """One row per article, sorted by doc_id and first_line_no (columns in ``ARTICLE_SCHEMA``).

    ``text`` joins the paragraphs with "\\n" in line order; ``is_truncated`` is any teaser;
    ``published_at`` is the first non-null; ``dates`` and ``countries`` are sorted unions; ``topic``
    and ``lang`` come from :func:`article_topics` and :func:`article_languages`.
    """
    ordered = segments.sort("doc_id", "line_no")
    folded = ordered.group_by("article_id", maintain_order=True).agg(
        pl.col("doc_id").first(),
        pl.col("line_no").min().alias("first_line_no"),
        pl.col("line_no").max().alias("last_line_no"),
        pl.len().cast(pl.Int64).alias("segment_count"),
        pl.col("text").str.join("\n"),
        pl.col("is_truncated").any(),
        pl.col("published_at").drop_nulls().first(),
        union_sorted("dates"),
        union_sorted("countries"),
    )
    return (
        folded.join(article_topics(ordered), on="article_id", how="left")
        .join(article_languages(ordered), on="article_id", how="left")
        .with_columns(pl.col("topic").fill_null(FALLBACK_TOPIC))
        .select([pl.col(name).cast(dtype) for name, dtype in ARTICLE_SCHEMA.items()])
        .sort("doc_id", "first_line_no")
    )
