"""Arabic text normalization as polars expressions.

Two forms are produced per segment:

* ``text`` — display-clean (:func:`clean_for_display`): what a reader sees, minus invisible noise.
* ``text_norm`` — matching form (:func:`normalize_for_matching`): ``text`` with the orthographic
  variation of Arabic folded away, for keyword matching and language detection.

Every step is a small named expression; each says whether it is lossy (the original cannot be
recovered from the output) so that callers know what they give up.  All of them are vectorized:
no per-row Python runs here.  :func:`normalize_segments` gives most lines a shorter chain of steps
with the same result (see "the fast path for common text" below).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import polars as pl

# --- character classes (regex fragments for the Rust regex engine polars uses) -------------------

#: Bidi embedding/override/isolate controls, marks and zero-width characters, the BOM, soft hyphen,
#: and the Arabic letter mark. Scrapes are full of them; none is visible. (The zero-width joiner is
#: handled apart: inside an emoji sequence it is part of the symbol.)
INVISIBLE_CONTROLS = "[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u061c\ufeff\u00ad]"
#: Pictographs an emoji ZWJ sequence joins (👨‍👩‍👧, ❤️‍🔥), less the few NFKC turns into letters (™ → TM).
JOINABLE_PICTOGRAPH = (
    r"[\p{Extended_Pictographic}--[\x{203C}\x{2049}\x{2122}\x{2139}\x{24C2}\x{3297}\x{3299}\x{1F16C}"
    r"\x{1F201}\x{1F202}\x{1F21A}\x{1F22F}\x{1F232}-\x{1F23A}\x{1F250}\x{1F251}]]"
)
#: Zero-width joiners not preceded by a pictograph (or its emoji variation selector / skin tone).
ZWJ_AFTER_NON_EMOJI = rf"([^{JOINABLE_PICTOGRAPH}\x{{FE0F}}\x{{1F3FB}}-\x{{1F3FF}}]|^)\x{{200D}}+"
#: Zero-width joiners not followed by a pictograph.
ZWJ_BEFORE_NON_EMOJI = rf"\x{{200D}}+([^{JOINABLE_PICTOGRAPH}]|$)"
#: C0/C1 control characters (NUL, BEL, …) other than whitespace, which is collapsed separately.
CONTROL_CHARACTERS = "[\x00-\x08\x0e-\x1f\x7f-\x9f]"
#: U+0640 ARABIC TATWEEL, the kashida used to stretch words for justification.
TATWEEL = "\u0640"
#: Presentation forms that NFKC expands to a tatweel plus harakat, mapped straight to the harakat so
#: that tatweel can go before NFKC (removing it after would leave marks NFKC has not recomposed).
TATWEEL_FORMS = {
    "\ufcf2": "\u064e\u0651", "\ufcf3": "\u064f\u0651", "\ufcf4": "\u0650\u0651", "\ufe71": "\u064b",
    "\ufe77": "\u064e", "\ufe79": "\u064f", "\ufe7b": "\u0650", "\ufe7d": "\u0651", "\ufe7f": "\u0652",
}
#: Arabic diacritics: tanween, harakat, shadda, sukun, hamza marks, superscript alef,
#: and the Quranic annotation signs.
ARABIC_DIACRITICS = "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]"
#: A trailing ellipsis marks a teaser cut by the feed. NFKC has already turned U+2026 into "...".
#: Every trailing one goes ("… ..."), so that cleaning twice removes nothing more.
TRAILING_ELLIPSIS = r"(?:\s*(?:\.{3,}|…))+\s*$"
#: What collapsing whitespace replaces by one space: a run of two or more whitespace characters, or a
#: single one that is not a space. The same as replacing every run (``\s+``), as a lone space stays
#: a space, but about three times faster: most runs are a lone space, and this leaves them alone.
WHITESPACE_TO_COLLAPSE = r"\s\s+|[^\S ]"
#: A line is blank when nothing visible remains: whitespace, controls, format characters, tatweel.
BLANK_LINE = r"^[\s\p{Cc}\p{Cf}\u0640]*$"

#: What NFC can join to the character before it, or reorder: combining marks, and the Hangul vowel
#: and final jamo that compose into syllables. A text without any is already NFC here.
COMPOSING_CHARACTER = r"[\p{M}\x{1161}-\x{1175}\x{11A8}-\x{11C2}]"

#: Alef with hamza above/below, madda and wasla all become bare alef.
ALEF_VARIANT_LETTERS = "\u0622\u0623\u0625\u0671\u0672\u0673"
ALEF_VARIANTS = f"[{ALEF_VARIANT_LETTERS}]"
#: Bare alef ا, alef maqsura ى and ya ي.
ALEF, ALEF_MAQSURA, YA = "\u0627", "\u0649", "\u064a"

ARABIC_INDIC_DIGITS = [chr(0x0660 + d) for d in range(10)]
PERSIAN_DIGITS = [chr(0x06F0 + d) for d in range(10)]
ASCII_DIGITS = [str(d) for d in range(10)]

#: Arabic punctuation that has a plain ASCII meaning in numbers: decimal separator,
#: thousands separator and percent sign.
ARABIC_NUMBER_PUNCTUATION = {"\u066b": ".", "\u066c": ",", "\u066a": "%"}
#: Persian letter shapes that Arabic writes differently (keheh → kaf, Farsi yeh → yeh).
PERSIAN_LETTERS = {"\u06a9": "\u0643", "\u06cc": "\u064a"}


# --- display cleaning -----------------------------------------------------------------------------


def apply_nfkc(text: pl.Expr) -> pl.Expr:
    """Apply Unicode NFKC: folds Arabic presentation forms (U+FB50–U+FEFF) and ligatures.

    Lossy: the presentation-form code points and U+2026 (→ "...") are not recoverable. It runs after
    the removals (NFKC creates no controls, and no tatweel once ``TATWEEL_FORMS`` are mapped), so
    that a mark freed by a removal is recomposed: alef + tatweel + hamza above becomes أ.
    """
    return text.str.normalize("NFKC")


def remove_invisible_controls(text: pl.Expr) -> pl.Expr:
    """Remove bidi controls, zero-width characters and C0/C1 controls. Lossy only for invisible text."""
    return text.str.replace_all(INVISIBLE_CONTROLS, "").str.replace_all(CONTROL_CHARACTERS, " ")


def remove_zero_width_joiners(text: pl.Expr) -> pl.Expr:
    """Remove zero-width joiners, except between the pictographs of an emoji sequence. Lossy only for invisible text."""
    return text.str.replace_all(ZWJ_AFTER_NON_EMOJI, "${1}").str.replace_all(ZWJ_BEFORE_NON_EMOJI, "${1}")


def remove_tatweel(text: pl.Expr) -> pl.Expr:
    """Remove tatweel (kashida), a purely typographic stretch, also inside ``TATWEEL_FORMS``. Lossy for layout only."""
    return text.str.replace_all(TATWEEL, "", literal=True).str.replace_many(
        list(TATWEEL_FORMS), list(TATWEEL_FORMS.values())
    )


def collapse_whitespace(text: pl.Expr) -> pl.Expr:
    """Collapse every run of whitespace to one space and trim both ends. Lossy for layout only."""
    return text.str.replace_all(WHITESPACE_TO_COLLAPSE, " ").str.strip_chars()


def has_trailing_ellipsis(text: pl.Expr) -> pl.Expr:
    """True when the (NFKC-folded) text ends with an ellipsis, i.e. a feed teaser cut short."""
    return text.str.contains(TRAILING_ELLIPSIS)


def remove_trailing_ellipsis(text: pl.Expr) -> pl.Expr:
    """Drop a trailing ellipsis; callers record it as ``is_truncated``. Not lossy given that flag."""
    return text.str.replace(TRAILING_ELLIPSIS, "")


def remove_invisible_noise(text: pl.Expr) -> pl.Expr:
    """Invisible controls, tatweel, stray joiners: what display cleaning removes before NFKC. Lossy only for layout."""
    return remove_zero_width_joiners(remove_tatweel(remove_invisible_controls(text)))


def fold_for_display(text: pl.Expr) -> pl.Expr:
    """Invisible noise, NFKC, whitespace: the display-clean text before the ellipsis check."""
    return collapse_whitespace(apply_nfkc(remove_invisible_noise(text)))


def clean_for_display(text: pl.Expr) -> pl.Expr:
    """The display-clean ``text``: folded, with any trailing ellipsis removed."""
    return remove_trailing_ellipsis(fold_for_display(text))


def is_blank_line(text: pl.Expr) -> pl.Expr:
    """True for a line with nothing visible in it (see ``BLANK_LINE``)."""
    return text.str.contains(BLANK_LINE)


# --- matching normalization ---------------------------------------------------------------------


def remove_diacritics(text: pl.Expr) -> pl.Expr:
    """Remove Arabic diacritics (harakat, tanween, shadda, sukun, Quranic marks). Lossy."""
    return text.str.replace_all(ARABIC_DIACRITICS, "")


def unify_alef(text: pl.Expr) -> pl.Expr:
    """Map alef with hamza/madda/wasla (أ إ آ ٱ) to bare alef ا. Lossy."""
    return text.str.replace_all(ALEF_VARIANTS, ALEF)


def alef_maqsura_to_ya(text: pl.Expr) -> pl.Expr:
    """Map alef maqsura ى to ya ي, as Egyptian print writes both alike. Lossy."""
    return text.str.replace_all(ALEF_MAQSURA, YA, literal=True)


def unify_persian_letters(text: pl.Expr) -> pl.Expr:
    """Map Persian keheh ک and Farsi yeh ی to Arabic kaf ك and yeh ي. Lossy."""
    return text.str.replace_many(list(PERSIAN_LETTERS), list(PERSIAN_LETTERS.values()))


def digits_to_ascii(text: pl.Expr) -> pl.Expr:
    """Map Arabic-Indic and Persian digits, and the Arabic decimal/thousands/percent signs, to ASCII.

    Not lossy for meaning: ``٢٫٥٪`` and ``2.5%`` are the same number.
    """
    sources = ARABIC_INDIC_DIGITS + PERSIAN_DIGITS + list(ARABIC_NUMBER_PUNCTUATION)
    targets = ASCII_DIGITS + ASCII_DIGITS + list(ARABIC_NUMBER_PUNCTUATION.values())
    return text.str.replace_many(sources, targets)


def lowercase_latin(text: pl.Expr) -> pl.Expr:
    """Lowercase Latin letters (Arabic has no case). Lossy."""
    return text.str.to_lowercase()


def recompose(text: pl.Expr) -> pl.Expr:
    """Canonically recompose (NFC) what removing a mark left apart: e + U+0610 + U+0301 → é. Not lossy.

    Only texts holding something NFC could join or reorder (``COMPOSING_CHARACTER``) are touched,
    which keeps this nearly free on Arabic text, whose marks are gone by now. The others are null
    while NFC runs, as NFC skips a null (``when``/``otherwise`` would run it on every text).
    """
    return pl.when(text.str.contains(COMPOSING_CHARACTER)).then(text).str.normalize("NFC").fill_null(text)


def fold_for_matching(display_text: pl.Expr) -> pl.Expr:
    """Diacritics, alef, alef maqsura, Persian letters, digits, case: the matching form before it is finished."""
    folded = unify_persian_letters(alef_maqsura_to_ya(unify_alef(remove_diacritics(display_text))))
    return lowercase_latin(digits_to_ascii(folded))


def finish_matching(folded: pl.Expr) -> pl.Expr:
    """Recomposed, whitespace collapsed, no trailing ellipsis (``٫٫٫`` has become ``...``).

    What makes the matching form stable: normalizing ``text_norm`` again changes nothing.
    """
    return remove_trailing_ellipsis(collapse_whitespace(recompose(folded)))


def normalize_for_matching(display_text: pl.Expr) -> pl.Expr:
    """The matching form ``text_norm`` of an already display-clean text."""
    return finish_matching(fold_for_matching(display_text))


def normalize_text(raw_text: pl.Expr) -> pl.Expr:
    """Raw text straight to the matching form; a convenience for callers outside the pipeline."""
    return normalize_for_matching(clean_for_display(raw_text))


# --- the fast path for common text ----------------------------------------------------------------
#
# Most lines are Arabic letters, digits, punctuation and ASCII, on which most of the steps above
# change nothing: the removals, the joiner rules, NFKC, NFC, Unicode lowercasing. ``normalize_segments``
# gives those lines a short chain, and the full one only to the others. The short chain gives the
# same result because on a common text (no ``UNCOMMON_CHARACTER``, no ``MARKS_OUT_OF_ORDER``):
#
# * the removals and the joiner rules find nothing: controls, format characters and tatweel are not
#   common;
# * NFKC only turns U+2026 into "..." and the other spaces (no-break, thin, …) into U+0020, which
#   collapsing whitespace makes one space anyway: every other common character is NFKC-stable and
#   joins nothing before it, and the only marks, the diacritics, are in canonical order, so the
#   NFKC quick check says "yes";
# * once the diacritics are removed, only characters of combining class 0 that join nothing are
#   left, so NFC changes nothing, and the only letters lowercasing changes are A–Z. The other folds
#   map one character to another, none of them whitespace and none the source of another fold, so
#   they run as one simultaneous pass (``COMMON_MATCHING_FOLDS``).
#
# A plain line (no ``NOT_PLAIN``: common, without diacritics, ``٫`` or whitespace to collapse) needs
# even less: its whitespace is collapsed already and stays so, and no fold can make a trailing
# ellipsis. A line that is not plain loses its invisible noise first (what the full chain removes
# before NFKC anyway), which leaves most such lines common: tatweel, bidi marks.
#
# The classes are built from Python's ``unicodedata``, while polars has its own Unicode tables,
# maybe of another version: a code point unassigned for Python is uncommon, and
# tests/test_normalize_equivalence.py checks every common character against polars itself.

#: Code points from here on (CJK extension planes, tags, private use) always take the full chain:
#: rare in news, and not sweeping them keeps the import fast.
SWEPT_CODE_POINTS = 0x20000
#: Whitespace the display cleaning keeps (before collapsing it), unlike the other C0 controls.
WHITESPACE_CONTROLS = "\t\n\x0b\x0c\r"
#: The compatibility characters the short chain folds as NFKC does (U+2026 ends many teasers).
COMMON_NFKC_FOLDS = {"\u2026": "..."}
#: The characters of ``ARABIC_DIACRITICS``, which the matching form loses.
DIACRITIC_CHARACTERS = frozenset(
    character for character in map(chr, range(0x0600, 0x0700)) if re.fullmatch(ARABIC_DIACRITICS, character)
)


def _composing_trailers() -> frozenset[str]:
    """Characters canonical composition can join to the one before: second halves of pairs, Hangul V and T."""
    trailers = {chr(code_point) for code_point in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]}
    for code_point in range(SWEPT_CODE_POINTS):
        decomposition = unicodedata.decomposition(chr(code_point))
        if decomposition.count(" ") == 1 and not decomposition.startswith("<"):
            trailers.add(chr(int(decomposition.split()[1], 16)))
    return frozenset(trailers)


_TRAILERS = _composing_trailers()


def _is_common(character: str) -> bool:
    """True for a character the short chain handles exactly as the full one (see the comment above)."""
    category = unicodedata.category(character)
    if category[0] == "C":  # controls and format characters are noise; the others unassigned or private
        return character in WHITESPACE_CONTROLS
    if character == TATWEEL or character in _TRAILERS:
        return False
    folded = unicodedata.normalize("NFKC", character)
    if folded != character:
        return character in COMMON_NFKC_FOLDS or (category == "Zs" and folded.strip(" ") == "")
    if character in DIACRITIC_CHARACTERS:
        return True
    return unicodedata.combining(character) == 0 and (
        character.isascii() or (category not in ("Lu", "Lt") and character.lower() == character)
    )


def _character_class(ranges: Iterable[tuple[int, int]]) -> str:
    """A regex character class of code point ranges (first, last)."""
    return "[" + "".join(rf"\x{{{a:X}}}" + (rf"-\x{{{b:X}}}" if b > a else "") for a, b in ranges) + "]"


def _ranges(code_points: Iterable[int]) -> list[tuple[int, int]]:
    """Increasing code points as ranges (first, last) of consecutive ones."""
    ranges: list[tuple[int, int]] = []
    for code_point in code_points:
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1] = (ranges[-1][0], code_point)
        else:
            ranges.append((code_point, code_point))
    return ranges


def _uncommon_ranges() -> list[tuple[int, int]]:
    """Every code point that is not common, as ranges (surrogates, which no string holds, left out)."""
    swept = (cp for cp in range(SWEPT_CODE_POINTS) if not 0xD800 <= cp <= 0xDFFF and not _is_common(chr(cp)))
    return [*_ranges(swept), (SWEPT_CODE_POINTS, 0x10FFFF)]


def _marks_out_of_order() -> str:
    """A regex for two common diacritics in a row that NFKC would swap: the first has the higher class."""
    marks = [
        (unicodedata.combining(character), ord(character))
        for character in DIACRITIC_CHARACTERS
        if unicodedata.combining(character) and _is_common(character)
    ]
    higher_classes = sorted({ccc for ccc, _ in marks})[1:]
    return "|".join(
        _character_class(_ranges(sorted(cp for ccc, cp in marks if ccc == higher)))
        + _character_class(_ranges(sorted(cp for ccc, cp in marks if ccc < higher)))
        for higher in higher_classes
    )


#: A character that is not common. Common characters are NFKC-stable, of combining class 0 unless
#: Arabic diacritics, join nothing before them, have no lowercase form unless ASCII, and are no
#: invisible noise; U+2026 and the spaces NFKC makes U+0020 are common too (see the comment above).
#: Built from ``unicodedata`` at import, in well under 0.1 s.
UNCOMMON_CHARACTER = _character_class(_uncommon_ranges())
#: Two diacritics in a row that NFKC would swap, as shadda before fatha.
MARKS_OUT_OF_ORDER = _marks_out_of_order()
#: Whitespace that ``collapse_whitespace`` would change: a run, a character other than a space, or
#: whitespace at either end.
SPACING_TO_COLLAPSE = r"\s\s|[^\S ]|^\s|\s$"
#: What a plain line has none of: an uncommon character, a diacritic, ``٫`` (a dot once folded, so
#: ``٫٫٫`` a trailing ellipsis) or whitespace to collapse.
NOT_PLAIN = f"{UNCOMMON_CHARACTER}|{ARABIC_DIACRITICS}|\u066b|{SPACING_TO_COLLAPSE}"

#: ``fold_for_matching`` after ``remove_diacritics`` on a common text, in one pass: alef variants,
#: alef maqsura, Persian letters, digits and number punctuation, A–Z. Sources and targets are single,
#: distinct characters and no target is a source, so one simultaneous pass equals the steps one
#: after the other.
COMMON_MATCHING_FOLDS = {
    **dict.fromkeys(ALEF_VARIANT_LETTERS, ALEF),
    ALEF_MAQSURA: YA,
    **PERSIAN_LETTERS,
    **dict(zip(ARABIC_INDIC_DIGITS + PERSIAN_DIGITS, ASCII_DIGITS + ASCII_DIGITS, strict=True)),
    **ARABIC_NUMBER_PUNCTUATION,
    **{chr(code_point): chr(code_point).lower() for code_point in range(ord("A"), ord("Z") + 1)},
}


def is_plain(text: pl.Expr) -> pl.Expr:
    """True for a line the shortest chain handles (no ``NOT_PLAIN``); null for a null line."""
    return text.str.contains(NOT_PLAIN).not_()


def is_common(text: pl.Expr) -> pl.Expr:
    """True for a text of common characters, its diacritics in canonical order; null for a null text."""
    return text.str.contains(f"{UNCOMMON_CHARACTER}|{MARKS_OUT_OF_ORDER}").not_()


def apply_common_nfkc(text: pl.Expr) -> pl.Expr:
    """``apply_nfkc`` on a common text but for its spaces, which collapsing folds: U+2026 → "..."."""
    for character, folded in COMMON_NFKC_FOLDS.items():
        text = text.str.replace_all(character, folded, literal=True)
    return text


def fold_common_for_matching(display_text: pl.Expr) -> pl.Expr:
    """``fold_for_matching`` on a display-clean common text without diacritics: the folds in one pass."""
    return display_text.str.replace_many(COMMON_MATCHING_FOLDS)


# --- whole segments --------------------------------------------------------------------------------

_RAW = "_raw"
_DENOISED = "_denoised"
_ROW = "_row"
_FOLDED = "_folded"
_MATCHING = "_matching"
_PLAIN = "_plain"
_COMMON = "_common"
_ADDED = ("is_truncated", "text", "text_norm")


def _with_display_text(lines: pl.LazyFrame, folded: pl.Expr) -> pl.LazyFrame:
    """Add ``is_truncated`` and ``text`` from the display fold of the raw text."""
    return lines.with_columns(folded.alias(_FOLDED)).with_columns(
        has_trailing_ellipsis(pl.col(_FOLDED)).alias("is_truncated"),
        remove_trailing_ellipsis(pl.col(_FOLDED)).alias("text"),
    )


def _full_chain(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Every step, on the raw text.

    Each step works on the previous step's column: ``recompose`` reads its input three times, which
    must be a column, not an expression evaluated three times.
    """
    return (
        _with_display_text(lines, fold_for_display(pl.col(_RAW)))
        .with_columns(fold_for_matching(pl.col("text")).alias(_MATCHING))
        .with_columns(finish_matching(pl.col(_MATCHING)).alias("text_norm"))
        .select(_ROW, *_ADDED)
    )


def _common_chain(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The short chain, on the denoised text of a common line: removing diacritics may leave whitespace."""
    matching = fold_common_for_matching(remove_diacritics(pl.col("text")))
    return (
        _with_display_text(lines, collapse_whitespace(apply_common_nfkc(pl.col(_DENOISED))))
        .with_columns(remove_trailing_ellipsis(collapse_whitespace(matching)).alias("text_norm"))
        .select(_ROW, *_ADDED)
    )


def _plain_chain(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The shortest chain, on the raw text of a plain line."""
    return (
        lines.with_columns(apply_common_nfkc(pl.col(_RAW)).alias(_FOLDED))
        .with_columns(
            # No whitespace ends a plain line and U+2026 is folded: a trailing ellipsis ends in "...".
            pl.col(_FOLDED).str.ends_with("...").alias("is_truncated"),
            remove_trailing_ellipsis(pl.col(_FOLDED)).alias("text"),
        )
        .with_columns(fold_common_for_matching(pl.col("text")).alias("text_norm"))
        .select(_ROW, *_ADDED)
    )


def normalize_segments(lines: pl.DataFrame, *, raw_column: str = "line_text") -> pl.DataFrame:
    """Add ``text``, ``text_norm`` and ``is_truncated`` computed from the raw line text.

    Each line takes the shortest chain that gives it the full chain's result (see the fast path
    above): one pass finds the plain lines; the others, few, lose their invisible noise and are
    searched again, and only those still uncommon (or null) take the full chain.
    """
    # Collected stage by stage, each stage on every core: in one plan, polars would search every
    # line again for each chain.
    raw = lines.lazy().select(pl.col(raw_column).alias(_RAW)).with_row_index(_ROW)
    routed = raw.with_columns(is_plain(pl.col(_RAW)).fill_null(False).alias(_PLAIN)).collect().lazy()
    plain, other = pl.collect_all(
        [
            _plain_chain(routed.filter(pl.col(_PLAIN))),
            routed.filter(~pl.col(_PLAIN))
            .with_columns(remove_invisible_noise(pl.col(_RAW)).alias(_DENOISED))
            .with_columns(is_common(pl.col(_DENOISED)).fill_null(False).alias(_COMMON)),
        ]
    )
    common, full = pl.collect_all(
        [_common_chain(other.lazy().filter(pl.col(_COMMON))), _full_chain(other.lazy().filter(~pl.col(_COMMON)))]
    )
    added = pl.concat([plain, common, full]).sort(_ROW)
    return lines.with_columns(added.get_column(name) for name in _ADDED)
