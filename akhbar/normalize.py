"""Arabic text normalization as polars expressions.

Two forms are produced per segment:

* ``text`` — display-clean (:func:`clean_for_display`): what a reader sees, minus invisible noise.
* ``text_norm`` — matching form (:func:`normalize_for_matching`): ``text`` with the orthographic
  variation of Arabic folded away, for keyword matching and language detection.

Every step is a small named expression; each says whether it is lossy (the original cannot be
recovered from the output) so that callers know what they give up.  All of them are vectorized:
no per-row Python runs here.
"""

from __future__ import annotations

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
#: A line is blank when nothing visible remains: whitespace, controls, format characters, tatweel.
BLANK_LINE = r"^[\s\p{Cc}\p{Cf}\u0640]*$"

#: What NFC can join to the character before it, or reorder: combining marks, and the Hangul vowel
#: and final jamo that compose into syllables. A text without any is already NFC here.
COMPOSING_CHARACTER = r"[\p{M}\x{1161}-\x{1175}\x{11A8}-\x{11C2}]"

#: Alef with hamza above/below, madda and wasla all become bare alef.
ALEF_VARIANTS = "[\u0622\u0623\u0625\u0671\u0672\u0673]"

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
    return text.str.replace_all(r"\s+", " ").str.strip_chars()


def has_trailing_ellipsis(text: pl.Expr) -> pl.Expr:
    """True when the (NFKC-folded) text ends with an ellipsis, i.e. a feed teaser cut short."""
    return text.str.contains(TRAILING_ELLIPSIS)


def remove_trailing_ellipsis(text: pl.Expr) -> pl.Expr:
    """Drop a trailing ellipsis; callers record it as ``is_truncated``. Not lossy given that flag."""
    return text.str.replace(TRAILING_ELLIPSIS, "")


def fold_for_display(text: pl.Expr) -> pl.Expr:
    """Invisible controls, tatweel, joiners, NFKC, whitespace: the display-clean text before the ellipsis check."""
    return collapse_whitespace(apply_nfkc(remove_zero_width_joiners(remove_tatweel(remove_invisible_controls(text)))))


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
    return text.str.replace_all(ALEF_VARIANTS, "\u0627")


def alef_maqsura_to_ya(text: pl.Expr) -> pl.Expr:
    """Map alef maqsura ى to ya ي, as Egyptian print writes both alike. Lossy."""
    return text.str.replace_all("\u0649", "\u064a", literal=True)


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
    which keeps this nearly free on Arabic text, whose marks are gone by now.
    """
    return pl.when(text.str.contains(COMPOSING_CHARACTER)).then(text.str.normalize("NFC")).otherwise(text)


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


def normalize_segments(lines: pl.DataFrame, *, raw_column: str = "line_text") -> pl.DataFrame:
    """Add ``text``, ``text_norm`` and ``is_truncated`` computed from the raw line text.

    Each step works on the previous step's column: ``recompose`` reads its input three times, which
    must be a column, not an expression evaluated three times.
    """
    folded = fold_for_display(pl.col(raw_column))
    return (
        lines.with_columns(folded.alias("_folded"))
        .with_columns(
            has_trailing_ellipsis(pl.col("_folded")).alias("is_truncated"),
            remove_trailing_ellipsis(pl.col("_folded")).alias("text"),
        )
        .with_columns(fold_for_matching(pl.col("text")).alias("_matching"))
        .with_columns(finish_matching(pl.col("_matching")).alias("text_norm"))
        .drop("_folded", "_matching")
    )
