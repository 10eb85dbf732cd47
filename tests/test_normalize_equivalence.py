"""``normalize_segments`` takes a short chain for most lines: it must give what every step gives.

The reference is the full chain of named steps, run on every line (what ``normalize_segments`` did
before it had a fast path). The examples are the team's own, grouped by the chain they take.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.normalize import (
    COMMON_MATCHING_FOLDS,
    COMPOSING_CHARACTER,
    CONTROL_CHARACTERS,
    DIACRITIC_CHARACTERS,
    INVISIBLE_CONTROLS,
    SWEPT_CODE_POINTS,
    TATWEEL,
    TATWEEL_FORMS,
    UNCOMMON_CHARACTER,
    collapse_whitespace,
    finish_matching,
    fold_for_display,
    fold_for_matching,
    has_trailing_ellipsis,
    is_common,
    is_plain,
    normalize_segments,
    recompose,
    remove_invisible_noise,
    remove_trailing_ellipsis,
)

#: Lines the shortest chain takes: common characters, no diacritics, nothing to collapse.
PLAIN = [
    "أعلنت وزارة الصحة عن افتتاح مستشفى جديد في المدينة",
    "ارتفع سعر الذهب إلى ٢٤٥٠ دولار للأونصة، بزيادة ٣٪",
    "قال الوزير إن المفاوضات مستمرة…",
    "قال الوزير إن المفاوضات مستمرة ... …",
    "فاز الفريق 3-1 في مباراة الأمس....",
    "Breaking: Gold hits a RECORD high في الأسواق",
    "L'économie française progresse de 0,5 % cette année",
    "كتاب ی و ک سال ۱۴۰۳",
    "؟ ، ؛ « اقتباس » - 100% !",
    "",
]
#: Lines the short chain takes, once rid of their invisible noise: diacritics in canonical order,
#: whitespace to collapse, ``٫``, tatweel (also in the presentation forms of harakat), bidi marks,
#: controls.
COMMON = [
    "\u0645\u064f\u062d\u064e\u0645\u064e\u0651\u062f\u064c \u0631\u064e\u0633\u064f\u0648\u0644\u064f",
    "ذَهَبَ الوَلَدُ إلى المَدْرَسَةِ",
    "كلمة \u064e كلمة",
    "عنوان  الخبر\tالعاجل",
    "  مسافات في البداية والنهاية  ",
    " خبر عاجل",
    "عاجل ... ",
    "عاجل …\n",
    "سعر\u00a0الذهب\u3000اليوم\u2003…",
    "انتهى ٫٫٫",
    "النسبة ٢٫٥٪ فقط",
    "مـــرحـبـا بكم",
    "\u200fخبر\u200e عاجل\u202b",
    "صباح\u200cالخير\u00ad",
    "نص\x07مع\x00تحكم\x85هنا",
    "\u0627\u0640\u0644\u0640\u0630\u0647\u0628\u200f…",
    "\u0628\ufe77 \ufcf2",
]
#: Lines only the full chain handles: presentation forms and ligatures, marks that NFKC reorders or
#: composes, emoji sequences, letters with a lowercase form beyond A–Z, Hangul jamo, nulls.
FULL = [
    "\ufe8d\ufedf\ufeb3\ufefc\ufee1 عليكم",
    "ﻻ إله إلا الله",
    "\u0645\u0651\u064e",
    "\u0627\u0654\u0645\u0631",
    "\u0627\u0640\u0654",
    "e\u0610\u0301 café",
    "👨\u200d👩\u200d👧 عائلة ❤\ufe0f\u200d🔥",
    "™\u200d😀",
    "Élection présidentielle: ÉTATS-UNIS",
    "ΣΟΦΙΑ και σοφία",
    "İstanbul",
    "\u1100\u1161\u11a8 \ud55c\uad6d",
    "ﷲ أكبر ﷺ",
    "Ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ \ufb01nance",
    "\U00020000 \U000e0041",
    None,
]


def _by_full_chain(lines: pl.DataFrame, raw_column: str = "line_text") -> pl.DataFrame:
    """``normalize_segments`` without a fast path: every step on every line."""
    return (
        lines.with_columns(fold_for_display(pl.col(raw_column)).alias("_folded"))
        .with_columns(
            has_trailing_ellipsis(pl.col("_folded")).alias("is_truncated"),
            remove_trailing_ellipsis(pl.col("_folded")).alias("text"),
        )
        .with_columns(fold_for_matching(pl.col("text")).alias("_matching"))
        .with_columns(finish_matching(pl.col("_matching")).alias("text_norm"))
        .drop("_folded", "_matching")
    )


def _lines(texts: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"line_text": texts}, schema={"line_text": pl.String})


def _assert_same_as_full_chain(lines: pl.DataFrame) -> None:
    assert_frame_equal(normalize_segments(lines), _by_full_chain(lines), check_exact=True)


@pytest.mark.parametrize("text", PLAIN + COMMON + FULL)
def test_each_line_as_by_the_full_chain(text: str | None) -> None:
    _assert_same_as_full_chain(_lines([text]))


def test_lines_of_every_chain_keep_their_order_and_columns() -> None:
    texts = [text for triple in zip(PLAIN, COMMON, FULL, strict=False) for text in triple] * 3
    lines = pl.DataFrame(
        {"segment_id": [f"s-{n}" for n in range(len(texts))], "line_text": texts, "line_no": range(len(texts))},
        schema={"segment_id": pl.String, "line_text": pl.String, "line_no": pl.Int64},
    )
    result = normalize_segments(lines)
    assert result.columns == ["segment_id", "line_text", "line_no", "is_truncated", "text", "text_norm"]
    _assert_same_as_full_chain(lines)


def test_other_raw_column_and_chunked_input() -> None:
    first = pl.DataFrame({"raw": PLAIN + COMMON}, schema={"raw": pl.String})
    lines = pl.concat([first, pl.DataFrame({"raw": FULL}, schema={"raw": pl.String})], rechunk=False)
    assert lines.n_chunks() == 2
    assert_frame_equal(normalize_segments(lines, raw_column="raw"), _by_full_chain(lines, raw_column="raw"))


def test_no_lines() -> None:
    _assert_same_as_full_chain(_lines([]))


def test_the_examples_take_the_chain_they_stand_for() -> None:
    """If they did not, the tests above would not test the chain they are meant to."""
    routes = _lines(PLAIN + COMMON + FULL).select(
        is_plain(pl.col("line_text")).fill_null(False).alias("plain"),
        is_common(remove_invisible_noise(pl.col("line_text"))).fill_null(False).alias("common"),
    )
    expected = [(True, True)] * len(PLAIN) + [(False, True)] * len(COMMON) + [(False, False)] * len(FULL)
    assert list(routes.iter_rows()) == expected


def test_every_common_character_as_by_the_full_chain() -> None:
    """Pins the classes, built from Python's Unicode tables, against polars' own (NFKC, case, regex)."""
    swept = "".join(chr(cp) for cp in range(SWEPT_CODE_POINTS) if not 0xD800 <= cp <= 0xDFFF)
    characters = pl.DataFrame({"c": [swept]}).select(pl.col("c").str.split("")).explode("c")
    common = characters.filter(~pl.col("c").str.contains(UNCOMMON_CHARACTER)).get_column("c").to_list()
    assert 60_000 < len(common) < 100_000
    plain_context = [f"ب{character}ا{character}{character}X {character}." for character in common]
    common_context = [f" \u064b{character}\u00a0…{character}٫٫٫\t" for character in common]
    _assert_same_as_full_chain(_lines(plain_context + common_context))


def test_every_two_diacritics_in_a_row_as_by_the_full_chain() -> None:
    """Diacritics out of canonical order (or composing) take the full chain, whichever two they are."""
    diacritics = sorted(DIACRITIC_CHARACTERS)
    pairs = [f"{letter}{first}{second}" for letter in "اب " for first in diacritics for second in diacritics]
    _assert_same_as_full_chain(_lines(pairs))


def test_collapsing_whitespace_as_replacing_every_run() -> None:
    spaces = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\u00a0", "\u1680", "\u2000", "\u2009", "\u200a"]
    spaces += ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u200b", "\x1c"]
    texts = [f"{a}ب{b}{c}ت{a}" for a in spaces for b in spaces for c in ["", *spaces]]
    frame = _lines(texts).select(
        collapse_whitespace(pl.col("line_text")).alias("fast"),
        pl.col("line_text").str.replace_all(r"\s+", " ").str.strip_chars().alias("reference"),
    )
    assert frame.get_column("fast").to_list() == frame.get_column("reference").to_list()


def test_recompose_as_nfc_where_something_composes() -> None:
    texts = ["e\u0301", "\u0627\u0654", "\u1100\u1161", "سلام", "a\u0316\u0301", "", None]
    frame = _lines(texts).select(
        recompose(pl.col("line_text")).alias("fast"),
        pl.when(pl.col("line_text").str.contains(COMPOSING_CHARACTER))
        .then(pl.col("line_text").str.normalize("NFC"))
        .otherwise(pl.col("line_text"))
        .alias("reference"),
    )
    assert frame.get_column("fast").to_list() == frame.get_column("reference").to_list()
    assert frame.get_column("fast").to_list()[:2] == ["\u00e9", "\u0623"]


def test_matching_folds_can_run_as_one_pass() -> None:
    """One simultaneous pass equals the steps in turn only if no target is a source."""
    assert all(len(source) == 1 and len(target) == 1 for source, target in COMMON_MATCHING_FOLDS.items())
    assert not set(COMMON_MATCHING_FOLDS) & set(COMMON_MATCHING_FOLDS.values())


def test_invisible_noise_is_controls_format_characters_and_tatweel() -> None:
    """The common characters leave out categories C and tatweel: so no removal can touch one."""
    characters = _lines([chr(cp) for cp in range(0x3000)] + [TATWEEL, *TATWEEL_FORMS])
    removed = characters.filter(
        pl.col("line_text").str.contains(f"{INVISIBLE_CONTROLS}|{CONTROL_CHARACTERS}|{TATWEEL}|\u200d")
        | pl.col("line_text").is_in(list(TATWEEL_FORMS))
    )
    assert removed.height > 60
    assert removed.select(pl.col("line_text").str.contains(UNCOMMON_CHARACTER).all()).item()
