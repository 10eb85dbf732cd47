"""Arabic vocabulary and word-form helpers shared by topics, places and facts.

One home for what those modules used to write each on its own: the proclitic chains news prose
glues onto a word, the article and the ل + ال → لل contraction, the currency words, and the helpers
that bring word lists to the ``text_norm`` form.  Module-level constants, each documented, and small
named helpers, the way CAMeL Tools keeps its character sets apart (``camel_tools.utils.charsets``).

Strings are written as in running text (hamza, ة) unless a name says they are in ``text_norm``
form; :func:`normalize_words` brings any list to that form exactly as the pipeline normalizes text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from akhbar.normalize import normalize_text

# --- letters ----------------------------------------------------------------------------------------

#: First and last code point of the Arabic block: clitics only attach to words that start in it.
ARABIC_BLOCK = ("\u0600", "\u06ff")
#: The definite article.
ARTICLE = "ال"
#: The preposition "to/for": before the article it swallows the article's alif (ل + ال → لل).
LAM = "ل"
#: Teh marbuta: a word ending in it turns it into ت before a suffix (حكومة → حكومته).
TEH_MARBUTA = "ة"

# --- clitics ----------------------------------------------------------------------------------------

#: Conjunction proclitics: "and", "so/then".
CONJUNCTIONS = ("و", "ف")
#: Preposition proclitics: "with/by", "to/for", "like".
PREPOSITIONS = ("ب", "ل", "ك")
#: Every proclitic chain prefixed to a word: one conjunction, one preposition, or a conjunction
#: then a preposition (وب ول وك فب فل فك).  The packaged taxonomy's ``morphology.clitics`` is this
#: list (a test keeps them equal); the article comes after them (وبال، فلل…), see :func:`article_forms`.
PROCLITICS = (*CONJUNCTIONS, *PREPOSITIONS, *(c + p for c in CONJUNCTIONS for p in PREPOSITIONS))

# --- currencies -------------------------------------------------------------------------------------

#: Currency words in ``text_norm`` form (every inflection: singular, accusative, plural) → base word.
#: Places read the keys (a nisba after them names the currency, not a country: "جنيه مصري"); facts
#: read the mapping (the base word picks the unit).
CURRENCY_FORMS: dict[str, str] = {
    "دولار": "دولار", "دولارا": "دولار", "دولارات": "دولار",
    "جنيه": "جنيه", "جنيها": "جنيه", "جنيهات": "جنيه",
    "ريال": "ريال", "ريالا": "ريال", "ريالات": "ريال",
    "درهم": "درهم", "درهما": "درهم", "دراهم": "درهم",
    "دينار": "دينار", "دينارا": "دينار", "دنانير": "دينار",
    "ليرة": "ليرة", "ليره": "ليرة", "ليرات": "ليرة",
    "يورو": "يورو", "يوان": "يوان", "ين": "ين", "روبل": "روبل",
    "روبية": "روبية", "روبيات": "روبية", "فرنك": "فرنك", "فرنكات": "فرنك",
    "بيزو": "بيزو", "استرليني": "استرليني",
}  # fmt: skip

# --- helpers ----------------------------------------------------------------------------------------


def is_arabic(char: str) -> bool:
    """True for a character of the Arabic block."""
    return ARABIC_BLOCK[0] <= char <= ARABIC_BLOCK[1]


def article_forms(stem: str, proclitics: Sequence[str] = PROCLITICS) -> list[str]:
    """ال + ``stem`` bare and after every proclitic chain, with ل + ال → لل (للسفير، وللسفارة)."""
    forms = [ARTICLE + stem]
    for clitic in proclitics:
        if clitic.endswith(LAM):
            forms.append(clitic + LAM + stem)
            # A stem that starts with ل is written with two lams, not three (ل + الليرة → لليرة);
            # the literal spelling stays beside it.
            if stem.startswith(LAM):
                forms.append(clitic + stem)
        else:
            forms.append(clitic + ARTICLE + stem)
    return forms


def with_proclitics(word: str, proclitics: Sequence[str] = PROCLITICS) -> list[str]:
    """``word`` bare and after every proclitic chain, sorted; a leading ال is read both ways."""
    # "السعودية" gives "للسعودية" (ال the article, contracted) and "لالسعودية" (ال part of a name,
    # as in "البانيا"): the spelling that does not occur in text costs nothing.
    forms = {word, *(clitic + word for clitic in proclitics)}
    if word.startswith(ARTICLE) and len(word) > len(ARTICLE):
        forms.update(article_forms(word[len(ARTICLE) :], proclitics))
    return sorted(forms)


def normalize_words(words: Iterable[str]) -> list[str]:
    """Each string in the ``text_norm`` form, normalized exactly as the pipeline normalizes text."""
    frame = pl.DataFrame({"word": list(words)}, schema={"word": pl.String})
    return frame.select(normalize_text(pl.col("word"))).to_series().to_list()
