"""Facts extracted from normalized Arabic news segments: dates, publish time, quantities, countries.

Everything works on ``text_norm`` (:mod:`akhbar.normalize`): digits are already ASCII, ``٫``/``٪``
are already ``.``/``%``, alef variants are bare alef and ى is ي, so every pattern below is written
in that folded form ("اكتوبر", "ايار", "اذار").  URLs are blanked first so that "a%20b" in a link is
no percentage.  Each pattern family is one compiled Rust regex run with ``str.extract_all``; matches
are exploded into a small long frame, parsed with ``str.extract_groups`` and gathered back per
segment.  No Python runs per row.  For speed, every distinct text is matched once, a pattern only
runs on the texts that pass its cheap "hint" (all need a digit; a text date needs a month name as a
word, found by the tokenizer of :mod:`akhbar.places`), amounts are parsed once per digit-blind
shape, and the texts are tokenized on a second thread while the number patterns run.

Columns appended by :func:`extract_facts`
    ``dates`` — ``List(Date)``, unique and sorted: every calendar date mentioned.  Recognised forms:
        "1 أغسطس 2025", "15 أكتوبر/تشرين الأول المقبل", Levantine/Iraqi months (كانون الثاني …
        كانون الأول), Maghrebi months (جانفي، فيفري، أفريل، ماي، جوان، جويلية، أوت) and numeric
        dates: ``2025/8/1`` (and ``2025-8-1``) is y/m/d, ``1/8/2025`` and ``1-8-2025`` are d/m/y.
        Impossible days (31 فبراير) and numeric dates with a year outside 1900–2100 are no date; a
        4-digit number outside that range after a month name is not its year (the mention is then
        year-less).  A bare year ("حقق 2025 نقطة", "عام 2025") and a day without a month ("يوم
        الجمعة 1") are no date either.
    ``unresolved_dates`` — ``List(String)``: year-less mentions ("15 اكتوبر") that could not be
        resolved, as found in ``text_norm``.  Never guessed silently.  Resolution rule: take every
        date *with* a year anywhere in the same ``doc_id`` as a reference; for each reference the
        mention resolves to: the next occurrence strictly after it ("المقبل"/"القادم"), the last
        occurrence strictly before it ("الماضي"/"المنصرم"/"الفائت"/"السابق"), or the same year
        (no qualifier, "الجاري"/"الحالي").  The mention resolves when every reference gives the same
        date; with no reference, or references that disagree, it is unresolved.
    ``published_at`` — ``Datetime("us", "UTC")``, nullable: only for publish/update lines ("تم
        تحديثه", "آخر تحديث", "نشر في", "نشر بتاريخ", "تاريخ النشر" …) followed within a few words
        by a date, optionally a time (``ص`` = AM, ``م`` = PM, or 24-hour) and a zone ("بتوقيت
        أبوظبي", "بتوقيت القاهرة", "GMT+3" …).  Local time is converted to UTC with the IANA zone in
        ``TIME_ZONES`` (DST-aware, so Cairo summer time is UTC+3).  **No zone named: the time is taken
        as UTC.**  No time given: midnight UTC of the stated date (no conversion: a bare date is a day,
        not an instant).  "بتوقيت عمان" is read as Amman (Jordanian sites print it; Omani ones say
        "مسقط"/"السلطنة").
    ``quantities`` — ``List(Struct{value: Float64, unit: String, kind: String})``, in text order
        per family (percent/money/gold price first, then karats):

        * ``percent``, unit ``%``: "2%", "90.3%", "2.5%" (from ٢٫٥٪), "2 في المئة", "2 بالمائة".
          The value is the number as written (90.3, not 0.903).
        * ``money``: a number, an optional multiplier (ألف، مليون/ملايين، مليار، بليون، تريليون,
          million/billion) and a currency word (or ``$``/USD before or after).  A number without a
          currency is not money.  Unit is ISO 4217 where the word is unambiguous or qualified
          ("ريال قطري" QAR, "دينار كويتي" KWD, "ليرة تركية" TRY, "جنيه إسترليني" GBP).  Defaults for
          a bare word: دولار USD, جنيه EGP, ريال SAR, درهم AED, يورو EUR, يوان CNY, روبل RUB, ين JPY;
          a bare دينار, ليرة, روبية or فرنك is ambiguous across countries and gets the generic
          (non-ISO, longer than three letters) unit ``DINAR``, ``LIRA``, ``RUPEE``, ``FRANC``.
        * ``gold_price``, unit ``<currency>/oz`` or ``<currency>/g``: an amount per ounce/gram
          ("3350 دولارا للأونصة", "سعر جرام الذهب عيار 21 يسجل 4600 جنيه" → 4600 EGP/g).
        * ``karat``, unit ``K``: "عيار 21", "18 قيراط".
    ``countries`` — ``List(String)``: ISO 3166-1 alpha-2 codes, see :mod:`akhbar.places`.

Not recognised (by design, to keep precision): Hijri dates, two-digit years, day/month without a
year in numeric form ("10/8"), US-style m/d/y (always read d/m/y), dates written in words
("الخامس عشر من أكتوبر"), the first day of a range ("15 و16 أكتوبر" gives only the 16th), a time
before the date on a publish line, signed percentages (the value is the magnitude), "%2" written
before the number, amounts without digits ("مليار دولار").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from akhbar.arabic import CURRENCY_FORMS
from akhbar.places import find_countries_and_words, spread
from schemas import SEGMENTS

# --- shared vocabulary (all in text_norm form) ---------------------------------------------------

#: Month names → month number. Egyptian/Gulf, Levantine/Iraqi and Maghrebi forms.
MONTHS: dict[str, int] = {
    "يناير": 1, "فبراير": 2, "مارس": 3, "ابريل": 4, "مايو": 5, "يونيو": 6, "يونيه": 6,
    "يوليو": 7, "يوليه": 7, "اغسطس": 8, "سبتمبر": 9, "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    "كانون الثاني": 1, "كانون ثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5,
    "حزيران": 6, "تموز": 7, "اب": 8, "ايلول": 9, "تشرين الاول": 10, "تشرين اول": 10,
    "تشرين الثاني": 11, "تشرين ثاني": 11, "كانون الاول": 12, "كانون اول": 12,
    "جانفي": 1, "فيفري": 2, "افريل": 4, "ماي": 5, "جوان": 6, "جويلية": 7, "اوت": 8,
    "يوليوز": 7, "غشت": 8, "شتنبر": 9, "نونبر": 11, "دجنبر": 12,
}  # fmt: skip
#: First words of the month names.  A text date with a month name that ends where its word ends
#: (the only ones kept, see ``mtail``) has one of these as a whole word: texts without are skipped.
MONTH_WORDS = tuple(sorted({name.split()[0] for name in MONTHS}))
#: Weekday names: allowed in front of a date ("الجمعة 1 أغسطس 2025"), never a date themselves.
WEEKDAYS = ("السبت", "الاحد", "الاثنين", "الثلاثاء", "الاربعاء", "الخميس", "الجمعة")
#: Qualifiers of a year-less date, by direction relative to the document's reference dates.
NEXT_WORDS = ("المقبل", "القادم")
PREVIOUS_WORDS = ("الماضي", "المنصرم", "الفائت", "السابق")
CURRENT_WORDS = ("الجاري", "الحالي")
#: Years outside this range are not calendar dates (prices, scores, Hijri years).
YEAR_RANGE = (1900, 2100)

#: Time-zone phrases after "بتوقيت" → IANA zone.  GMT/UTC (with optional offset) are handled apart.
TIME_ZONES: dict[str, str] = {
    "ابوظبي": "Asia/Dubai", "ابو ظبي": "Asia/Dubai", "دبي": "Asia/Dubai", "الامارات": "Asia/Dubai",
    "القاهرة": "Africa/Cairo", "مصر": "Africa/Cairo",
    "مكة المكرمة": "Asia/Riyadh", "مكة": "Asia/Riyadh", "السعودية": "Asia/Riyadh", "الرياض": "Asia/Riyadh",
    "غرينتش": "UTC", "جرينتش": "UTC", "غرينيتش": "UTC", "جرينيتش": "UTC", "غرينتش العالمي": "UTC",
    "الدوحة": "Asia/Qatar", "قطر": "Asia/Qatar",
    "بيروت": "Asia/Beirut", "لبنان": "Asia/Beirut",
    "عمان": "Asia/Amman", "الاردن": "Asia/Amman",
    "دمشق": "Asia/Damascus", "سوريا": "Asia/Damascus",
    "بغداد": "Asia/Baghdad", "العراق": "Asia/Baghdad",
    "الكويت": "Asia/Kuwait", "المنامة": "Asia/Bahrain", "البحرين": "Asia/Bahrain",
    "مسقط": "Asia/Muscat", "السلطنة": "Asia/Muscat", "سلطنة عمان": "Asia/Muscat",
    "القدس": "Asia/Jerusalem", "صنعاء": "Asia/Aden", "اليمن": "Asia/Aden",
    "الخرطوم": "Africa/Khartoum", "السودان": "Africa/Khartoum",
    "تونس": "Africa/Tunis", "الجزائر": "Africa/Algiers",
    "الرباط": "Africa/Casablanca", "المغرب": "Africa/Casablanca",
    "طرابلس": "Africa/Tripoli", "ليبيا": "Africa/Tripoli",
    "انقرة": "Europe/Istanbul", "اسطنبول": "Europe/Istanbul", "تركيا": "Europe/Istanbul",
    "طهران": "Asia/Tehran", "موسكو": "Europe/Moscow",
    "لندن": "Europe/London", "باريس": "Europe/Paris", "برلين": "Europe/Berlin",
    "واشنطن": "America/New_York", "نيويورك": "America/New_York",
}  # fmt: skip

#: Unit of a currency word standing alone (see the module doc for the generic ones).
DEFAULT_CURRENCY: dict[str, str] = {
    "دولار": "USD", "جنيه": "EGP", "ريال": "SAR", "درهم": "AED", "يورو": "EUR", "يوان": "CNY",
    "روبل": "RUB", "ين": "JPY", "استرليني": "GBP",
    "دينار": "DINAR", "ليرة": "LIRA", "روبية": "RUPEE", "فرنك": "FRANC",
}  # fmt: skip
#: Latin and symbol spellings of a currency in mixed text → base word.
LATIN_CURRENCY: dict[str, str] = {"us$": "دولار", "usd": "دولار", "$": "دولار", "eur": "يورو", "€": "يورو"}
#: Currency words (every inflection, :data:`akhbar.arabic.CURRENCY_FORMS`) → base word; only the
#: currencies that have a unit: an amount must never come out without one.
CURRENCY_WORDS: dict[str, str] = {
    **{form: base for form, base in CURRENCY_FORMS.items() if base in DEFAULT_CURRENCY},
    **LATIN_CURRENCY,
}
#: (base word, nisba stem of the qualifier) → ISO 4217 code: "ريال قطري" → QAR.
QUALIFIED_CURRENCY: dict[tuple[str, str], str] = {
    ("دولار", "امريك"): "USD", ("دولار", "اميرك"): "USD", ("دولار", "كند"): "CAD",
    ("دولار", "استرال"): "AUD", ("دولار", "سنغافور"): "SGD", ("دولار", "هونغ كونغ"): "HKD",
    ("جنيه", "مصر"): "EGP", ("جنيه", "استرلين"): "GBP", ("جنيه", "سودان"): "SDG",
    ("ريال", "سعود"): "SAR", ("ريال", "قطر"): "QAR", ("ريال", "عمان"): "OMR",
    ("ريال", "يمن"): "YER", ("ريال", "ايران"): "IRR", ("ريال", "برازيل"): "BRL",
    ("درهم", "امارات"): "AED", ("درهم", "مغرب"): "MAD",
    ("دينار", "كويت"): "KWD", ("دينار", "اردن"): "JOD", ("دينار", "بحرين"): "BHD",
    ("دينار", "عراق"): "IQD", ("دينار", "ليب"): "LYD", ("دينار", "تونس"): "TND",
    ("دينار", "جزائر"): "DZD", ("دينار", "صرب"): "RSD",
    ("ليرة", "ترك"): "TRY", ("ليرة", "لبنان"): "LBP", ("ليرة", "سور"): "SYP",
    ("يوان", "صين"): "CNY", ("روبل", "روس"): "RUB", ("ين", "يابان"): "JPY",
    ("روبية", "هند"): "INR", ("روبية", "باكستان"): "PKR", ("فرنك", "سويسر"): "CHF",
}  # fmt: skip
#: Multiplier words → factor.
MULTIPLIERS: dict[str, float] = {
    "الف": 1e3, "الفا": 1e3, "الاف": 1e3,
    "مليون": 1e6, "مليونا": 1e6, "ملايين": 1e6, "million": 1e6, "mln": 1e6,
    "مليار": 1e9, "مليارا": 1e9, "مليارات": 1e9, "بليون": 1e9, "بلايين": 1e9, "billion": 1e9, "bn": 1e9,
    "تريليون": 1e12, "تريليونات": 1e12, "ترليون": 1e12, "trillion": 1e12,
}  # fmt: skip
#: Weight units of a price → short unit suffix.
WEIGHT_UNITS: dict[str, str] = {
    "اونصة": "oz", "اونصه": "oz", "اوقية": "oz", "اوقيه": "oz", "ounce": "oz", "oz": "oz",
    "جرام": "g", "غرام": "g", "جم": "g", "gram": "g", "g": "g",
}  # fmt: skip


def alternation(words: Iterable[str]) -> str:
    """A non-capturing regex alternation, longest first so that leftmost-first picks the full word."""
    escaped = (
        re.escape(w).replace(r"\ ", r"\s+").replace(" ", r"\s+") for w in sorted(set(words), key=len, reverse=True)
    )
    return "(?:" + "|".join(escaped) + ")"


# --- patterns --------------------------------------------------------------------------------------

#: Links and e-mail addresses: blanked first, "%20" in a URL is no percentage.
URL = r"(?:https?://|www\.)\S+|\S+@\S+\.\S+"
#: A number: "1,234.5" (comma thousands), "90.3", "2,5" (comma decimal), "2025".
NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:[.,][0-9]+)?"
#: ASCII word boundary: fast in the Rust engine, and a digit next to an Arabic letter is a boundary.
EDGE = r"(?-u:\b)"

MONTH = alternation(MONTHS)
#: "15 اكتوبر/تشرين الاول المقبل", "1 اغسطس 2025". ``mtail`` catches "15 ابراهيم" (اب + letters).
TEXT_DATE = (
    rf"{EDGE}(?P<day>[0-9]{{1,2}})(?:\s+من)?(?:\s+شهر)?\s+(?P<month>{MONTH})(?P<mtail>\p{{L}}*)"
    rf"(?:\s*[/(-]\s*{MONTH}\s*\)?)?"
    rf"(?:\s*[,،]?\s*(?:من\s+)?(?:عام|سنة|العام)?\s*(?P<year>[0-9]{{4}}){EDGE})?"
    rf"(?:\s+(?P<rel>{alternation(NEXT_WORDS + PREVIOUS_WORDS + CURRENT_WORDS)}))?"
)
#: The same, year required and without groups, for embedding in the publish-line pattern.
TEXT_DATE_WITH_YEAR = (
    rf"[0-9]{{1,2}}(?:\s+من)?(?:\s+شهر)?\s+{MONTH}(?:\s*[/(-]\s*{MONTH}\s*\)?)?"
    rf"\s*[,،]?\s*(?:من\s+)?(?:عام|سنة|العام)?\s*[0-9]{{4}}{EDGE}"
)
#: y/m/d or d/m/y with one separator used twice.
NUMERIC_DATE = (
    EDGE
    + "(?:"
    + "|".join(
        rf"[0-9]{{4}}{s}[0-9]{{1,2}}{s}[0-9]{{1,2}}|[0-9]{{1,2}}{s}[0-9]{{1,2}}{s}[0-9]{{4}}" for s in ("/", "-", r"\.")
    )
    + ")"
    + EDGE
)
#: Parses a numeric date once its separators are "/".
NUMERIC_PARTS = r"^(?:(?P<y1>[0-9]{4})/(?P<m1>[0-9]+)/(?P<d1>[0-9]+)|(?P<d2>[0-9]+)/(?P<m2>[0-9]+)/(?P<y2>[0-9]{4}))$"

#: Words that open a publish/update stamp.
PUBLISH_CUES = (
    "تم تحديثه", "تم تحديث", "تم التحديث", "اخر تحديث", "تاريخ التحديث", "تحديث",
    "تم نشره", "تم النشر", "نشر في", "نشر بتاريخ", "نشرت في", "نشرت بتاريخ", "تاريخ النشر",
    "منشور في", "منشور بتاريخ", "published", "updated", "last updated",
)  # fmt: skip
PUBLISH_CUE = alternation(PUBLISH_CUES)
AM_PM = alternation(("صباحا", "مساءا", "مساء", "ص", "م", "am", "pm"))
WEEKDAY = alternation(WEEKDAYS)
#: A publish stamp: cue, an optional weekday and up to two more words ("الموافق"), a date, an
#: optional time and an optional zone.
PUBLISHED = (
    rf"{PUBLISH_CUE}[\s:،,|-]*(?:(?:يوم\s+)?{WEEKDAY}[\s:،,|-]*)?(?:[^0-9\s]+\s+){{0,2}}?"
    rf"(?P<pdate>{NUMERIC_DATE}|{TEXT_DATE_WITH_YEAR})"
    rf"(?:[\s,،|-]*(?:(?:في\s+)?(?:تمام\s+)?الساع[ةه]\s*)?"
    rf"(?P<hour>[0-9]{{1,2}}):(?P<minute>[0-9]{{2}})(?::(?P<second>[0-9]{{2}}))?"
    rf"(?:\s*(?P<ampm>{AM_PM})(?P<ampmtail>\p{{L}}*))?)?"
    rf"(?:\s*\(?\s*(?:حسب\s+)?(?:ب|وفق\s+)?توقيت\s+(?P<zone>{alternation(TIME_ZONES)})"
    rf"|\s*\(?\s*(?P<utc>gmt|utc)\s*(?P<offset>[+-][0-9]{{1,2}})?)?"
)

MULTIPLIER = alternation(MULTIPLIERS)
CURRENCY = alternation(CURRENCY_WORDS)
QUALIFIER_STEM = alternation({stem for _, stem in QUALIFIED_CURRENCY})
QUALIFIER = rf"(?:ال)?{QUALIFIER_STEM}(?:ية|يه|يا|يين|ين|ي)"
WEIGHT = alternation(WEIGHT_UNITS)
PERCENT_WORD = r"(?:في\s+|ب)(?:ال)?(?:مئة|مائة|مية|ميه|مئه|مائه)"
#: Percent, money and per-weight prices in one pattern, so that one span is never counted twice.
#: Alternatives: number first ("2%", "5 ملايين دولار", "3350 دولارا للاونصة"), weight first
#: ("جرام الذهب عيار 21 يسجل 4600 جنيه"), dollar sign first ("$5 billion").
QUANTITY = (
    rf"{EDGE}(?P<num>{NUMBER})\s*(?:(?P<pct>%|{PERCENT_WORD})"
    rf"|(?:(?P<mult>{MULTIPLIER})\s*)?(?P<cur>{CURRENCY})(?P<curtail>\p{{L}}*)(?:\s+(?P<qual>{QUALIFIER}))?"
    rf"(?:\s*(?:/|لكل\s+|في\s+)?(?:لل|ل|ال|بال)?(?P<per>{WEIGHT})(?P<pertail>\p{{L}}*))?)"
    rf"|(?P<gpre>(?:^|[^\p{{L}}])(?:ال|لل|ل)?(?P<gper>{WEIGHT})(?:\s+(?:الذهب|الفضة|الواحد|من\s+الذهب))?"
    rf"(?:\s+عيار\s*[0-9]{{1,2}})?(?:[\s،,:-]+[^0-9\s%،,:]+){{0,4}}?[\s،,:-]+)"
    rf"(?P<gnum>{NUMBER})\s*(?:(?P<gmult>{MULTIPLIER})\s*)?(?P<gcur>{CURRENCY})(?P<gcurtail>\p{{L}}*)"
    rf"(?:\s+(?P<gqual>{QUALIFIER}))?"
    rf"|(?P<dpre>(?:us\$|usd|\$)\s*)(?P<dnum>{NUMBER})(?:\s*(?P<dmult>{MULTIPLIER}){EDGE})?"
    rf"(?:\s*/\s*(?P<dper>{WEIGHT}))?"
)
#: ``QUANTITY`` at its first match, ``skip`` holding the text before it.  Parses a match's *shape*
#: (ASCII digits → "0"): ``QUANTITY`` has no digit literal, so a shape matches exactly like the
#: match, at the same character offsets (``gpre``/``dpre`` locate the number), and the ~10k
#: distinct amounts of a batch have only ~100 shapes.
QUANTITY_SHAPE = rf"^(?P<skip>(?s:.*?))(?:{QUANTITY})"
#: The digits a shape replaces by "0" (one character for one: offsets stay put).
SHAPE_DIGITS = "[0-9]"
#: "عيار 21", "18 قيراط".
KARAT = rf"عيار\s*(?P<k1>[0-9]{{1,2}}){EDGE}|{EDGE}(?P<k2>[0-9]{{1,2}})\s*قيراط"

#: Cheap necessary conditions ("hints"): a text without its family's hint cannot match the
#: family's pattern, so the slow pattern only runs on the texts that have it.  Every fact pattern
#: needs an ASCII digit: normalization folds Arabic-Indic and Persian digits to ASCII, and digits
#: of other scripts are not read as numbers (the patterns say ``[0-9]``, never the Unicode ``\d``,
#: whose matches could not be cast to numbers).
DIGIT_HINT = "[0-9]"
#: Every ``URL`` match contains one of these.
URL_HINT = r"http|www\.|@"
#: Every ``NUMERIC_DATE`` match has a separator, a one- or two-digit number and a separator.
NUMERIC_DATE_HINT = r"[/.-][0-9][0-9]?[/.-]"
#: Every ``KARAT`` match contains one of these words.
KARAT_HINT = "عيار|قيراط"
#: Every ``PUBLISH_CUE`` match contains one of these words.
PUBLISH_HINT = "تحديث|نشر|منشور|published|updated"

#: Private helper column names (prefixed so they never collide with the caller's columns).
ROW = "_facts_row"
TEXT = "_facts_text"
MATCH = "_facts_match"
CLEAN = "_facts_clean"

DATE_LIST = SEGMENTS.polars_dtype("dates")
STRING_LIST = SEGMENTS.polars_dtype("unresolved_dates")
QUANTITY_STRUCT = SEGMENTS.polars_dtype("quantities").inner  # type: ignore[attr-defined]
QUANTITY_LIST = pl.List(QUANTITY_STRUCT)
UTC_MICROS = pl.Datetime("us", "UTC")
#: The columns extract_facts appends (replaced when already present).
FACT_COLUMNS = ("dates", "unresolved_dates", "published_at", "quantities", "countries")


# --- small expression helpers ----------------------------------------------------------------------


def strip_urls(text: pl.Expr) -> pl.Expr:
    """Blank out links and e-mail addresses."""
    return text.str.replace_all(URL, " ")


def lookup(expr: pl.Expr, mapping: Mapping[str, object], dtype: pl.DataType) -> pl.Expr:
    """Map through a small dict; unknown values become null."""
    return expr.replace_strict(dict(mapping), default=None, return_dtype=dtype)


def squeeze_spaces(text: pl.Expr) -> pl.Expr:
    """Collapse internal whitespace so multi-word names match their dict keys."""
    return text.str.replace_all(r"\s+", " ")


def make_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """A Date from integer parts, null when impossible (31 February) or outside ``YEAR_RANGE``."""
    text = pl.format("{}-{}-{}", year, month.cast(pl.String).str.zfill(2), day.cast(pl.String).str.zfill(2))
    in_range = year.is_between(*YEAR_RANGE)
    return pl.when(in_range).then(text.str.to_date("%Y-%m-%d", strict=False))


def parse_number(text: pl.Expr) -> pl.Expr:
    """Float from "1,234.5" (comma thousands) or "2,5" (comma decimal)."""
    thousands = text.str.contains(r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$")
    plain = pl.when(thousands).then(text.str.replace_all(",", "")).otherwise(text.str.replace(",", "."))
    return plain.cast(pl.Float64, strict=False)


def month_number(name: pl.Expr) -> pl.Expr:
    """Month number of a (possibly multi-word) month name."""
    return lookup(squeeze_spaces(name), MONTHS, pl.Int32())


def numeric_date_parts(text: pl.Expr) -> pl.Expr:
    """Struct of y1/m1/d1 (y/m/d) or d2/m2/y2 (d/m/y) strings of a numeric date."""
    return text.str.replace_all(r"[.-]", "/").str.extract_groups(NUMERIC_PARTS)


def numeric_date(parts: pl.Expr) -> pl.Expr:
    """Date from :func:`numeric_date_parts`: "2025/8/1" is y/m/d, "1/8/2025" d/m/y."""
    year = pl.coalesce(parts.struct.field("y1"), parts.struct.field("y2")).cast(pl.Int32)
    month = pl.coalesce(parts.struct.field("m1"), parts.struct.field("m2")).cast(pl.Int32)
    day = pl.coalesce(parts.struct.field("d1"), parts.struct.field("d2")).cast(pl.Int32)
    return make_date(year, month, day)


def text_date(parts: pl.Expr) -> pl.Expr:
    """Date from ``TEXT_DATE`` groups; null without a year (or with one outside ``YEAR_RANGE``)."""
    year = parts.struct.field("year").cast(pl.Int32)
    day = parts.struct.field("day").cast(pl.Int32)
    return make_date(year, month_number(parts.struct.field("month")), day)


def empty_list(dtype: pl.DataType) -> pl.Expr:
    """An empty list literal of the given list dtype."""
    return pl.lit([], dtype=dtype)


def split_by(frame: pl.DataFrame, condition: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows where ``condition`` holds, the other rows), evaluating it once; null counts as false."""
    holds = frame.select(condition.fill_null(False)).to_series()
    return frame.filter(holds), frame.filter(~holds)


def explode_matches(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """One row per regex match, in text order: ``TEXT`` and the match text in ``MATCH``."""
    return frame.select(TEXT, pl.col(column).alias(MATCH)).explode(MATCH).drop_nulls(MATCH)


def gather_lists(rows: pl.DataFrame, per_row: pl.DataFrame, key: str, column: str, dtype: pl.DataType) -> pl.Series:
    """``column`` of ``per_row`` for every row of ``rows`` (left join on ``key``), empty list where absent."""
    joined = rows.select(key).join(per_row.select(key, column), on=key, how="left", maintain_order="left")
    return joined.select(pl.col(column).cast(dtype).fill_null(empty_list(dtype))).to_series()


# --- distinct texts --------------------------------------------------------------------------------


def distinct_texts(frame: pl.DataFrame) -> pl.DataFrame:
    """The distinct ``text_norm`` values (``TEXT`` numbers them).

    News feeds repeat paragraphs and teasers (a fifth of all lines): every fact but the year of a
    year-less date is a function of the text alone, so each distinct text is matched once.
    """
    return frame.select(pl.col("text_norm").unique(maintain_order=True)).with_row_index(TEXT)


def row_texts(frame: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Per row of ``frame``: ``ROW``, ``doc_id`` and ``TEXT``, the number of its text in ``texts``."""
    return (
        frame.select("doc_id", "text_norm")
        .with_row_index(ROW)
        .join(texts, on="text_norm", how="left", maintain_order="left", nulls_equal=True)
        .select(ROW, "doc_id", TEXT)
    )


def texts_with_digits(texts: pl.DataFrame) -> pl.DataFrame:
    """The texts (``TEXT``, ``text_norm``) holding a digit, in no particular order."""
    return texts.filter(pl.col("text_norm").str.contains(DIGIT_HINT))


def clean_texts(texts: pl.DataFrame) -> pl.DataFrame:
    """``TEXT`` and ``CLEAN``: the text with links blanked (only texts that may hold one are searched)."""
    links, plain = split_by(texts, pl.col("text_norm").str.contains(URL_HINT))
    return pl.concat(
        [
            plain.select(TEXT, pl.col("text_norm").alias(CLEAN)),
            links.select(TEXT, strip_urls(pl.col("text_norm")).alias(CLEAN)),
        ]
    )


# --- dates -----------------------------------------------------------------------------------------


def date_mentions(text_dates: pl.DataFrame, numeric_dates: pl.DataFrame) -> pl.DataFrame:
    """Every date mention of the distinct texts, in text order within each family.

    Columns: ``TEXT``, ``_family`` (0 text, 1 numeric), ``_order``, ``mention``, ``date``,
    ``has_year``, ``month``, ``day``, ``rel``.
    """
    parts = pl.col("_parts")
    year = parts.struct.field("year").cast(pl.Int32)
    text = (
        explode_matches(text_dates, MATCH)
        .with_columns(pl.col(MATCH).str.extract_groups(TEXT_DATE).alias("_parts"))
        .filter(parts.struct.field("mtail") == "")  # "15 ابراهيم" is no August date
        .select(
            TEXT,
            pl.lit(0).alias("_family"),
            pl.int_range(pl.len()).alias("_order"),
            pl.col(MATCH).alias("mention"),
            text_date(parts).alias("date"),
            # A 4-digit number outside YEAR_RANGE after the month is no year ("15 مارس 3000 متظاهر").
            year.is_between(*YEAR_RANGE).fill_null(False).alias("has_year"),
            month_number(parts.struct.field("month")).alias("month"),
            parts.struct.field("day").cast(pl.Int32).alias("day"),
            parts.struct.field("rel").alias("rel"),
        )
    )
    numeric = (
        explode_matches(numeric_dates, MATCH)
        .with_columns(numeric_date_parts(pl.col(MATCH)).alias("_parts"))
        .select(
            TEXT,
            pl.lit(1).alias("_family"),
            pl.int_range(pl.len()).alias("_order"),
            pl.col(MATCH).alias("mention"),
            numeric_date(parts).alias("date"),
            pl.lit(True).alias("has_year"),
            pl.lit(None, dtype=pl.Int32).alias("month"),
            pl.lit(None, dtype=pl.Int32).alias("day"),
            pl.lit(None, dtype=pl.String).alias("rel"),
        )
    )
    return pl.concat([text, numeric])


def row_mentions(mentions: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """The mentions of every row (``ROW``, ``doc_id``, the mention columns), ``_mention`` numbering them.

    The numbering follows the rows, text mentions first, then numeric ones, each in text order.
    """
    return (
        mentions.join(rows, on=TEXT, how="inner")
        .sort("_family", ROW, "_order")
        .drop(TEXT, "_family", "_order")
        .with_row_index("_mention")
    )


def candidate_date(reference: pl.Expr, month: pl.Expr, day: pl.Expr, rel: pl.Expr) -> pl.Expr:
    """The date a year-less (month, day) names, seen from one reference date (see the module doc)."""
    year = reference.dt.year()
    same_year = make_date(year, month, day)
    next_year = make_date(year + 1, month, day)
    previous_year = make_date(year - 1, month, day)
    upcoming = pl.when(same_year > reference).then(same_year).otherwise(next_year)
    past = pl.when(same_year < reference).then(same_year).otherwise(previous_year)
    return (
        pl.when(rel.is_in(list(NEXT_WORDS)))
        .then(upcoming)
        .when(rel.is_in(list(PREVIOUS_WORDS)))
        .then(past)
        .otherwise(same_year)
    )


def resolve_year_less(mentions: pl.DataFrame) -> pl.DataFrame:
    """Year-less mentions with ``date`` filled when every reference date of the doc agrees."""
    references = (
        mentions.filter(pl.col("has_year") & pl.col("date").is_not_null())
        .select("doc_id", pl.col("date").alias("_reference"))
        .unique()
    )
    year_less = mentions.filter(~pl.col("has_year"))
    if year_less.is_empty():  # the usual case: skip the joins
        return year_less
    candidates = year_less.join(references, on="doc_id", how="left").with_columns(
        candidate_date(pl.col("_reference"), pl.col("month"), pl.col("day"), pl.col("rel")).alias("_candidate")
    )
    agreed = candidates.group_by("_mention").agg(
        pl.col("_candidate").first().alias("_resolved"),
        ((pl.col("_candidate").n_unique() == 1) & pl.col("_candidate").is_not_null().all()).alias("_ok"),
    )
    resolved = pl.when(pl.col("_ok")).then(pl.col("_resolved"))
    return year_less.join(agreed, on="_mention", how="left").with_columns(resolved.alias("date"))


def dates_per_row(mentions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(``ROW`` → ``dates``, ``ROW`` → ``unresolved_dates``) from all mentions."""
    year_less = resolve_year_less(mentions)
    full = mentions.filter(pl.col("has_year")).select(ROW, "date")
    all_dates = pl.concat([full, year_less.select(ROW, "date")]).drop_nulls("date")
    dates = all_dates.group_by(ROW).agg(pl.col("date").unique().sort().alias("dates"))
    unresolved = (
        year_less.filter(pl.col("date").is_null())
        .sort("_mention")
        .group_by(ROW)
        .agg(pl.col("mention").unique(maintain_order=True).alias("unresolved_dates"))
    )
    return dates, unresolved


# --- publish time ----------------------------------------------------------------------------------


def twenty_four_hour(hour: pl.Expr, ampm: pl.Expr) -> pl.Expr:
    """Hour on a 24-hour clock: ص/صباحا/am keep it (12 → 0), م/مساء/pm add 12 (12 stays)."""
    is_pm = ampm.is_in(["م", "مساء", "مساءا", "pm"])
    is_am = ampm.is_in(["ص", "صباحا", "am"])
    return (
        pl.when(is_pm & (hour < 12))
        .then(hour + 12)
        .when(is_am & (hour == 12))
        .then(pl.lit(0, dtype=pl.Int32))
        .otherwise(hour)
    )


def local_to_utc(naive: pl.Expr, zone: pl.Expr, zones: Iterable[str]) -> pl.Expr:
    """Convert a naive local datetime to UTC through its IANA zone (one branch per zone present)."""
    converted: pl.Expr = naive.dt.replace_time_zone("UTC")  # no zone named: the time is UTC
    for name in sorted(set(zones)):
        in_zone = naive.dt.replace_time_zone(name, ambiguous="earliest", non_existent="null")
        converted = pl.when(zone == name).then(in_zone.dt.convert_time_zone("UTC")).otherwise(converted)
    return converted


def published_per_text(cued: pl.DataFrame) -> pl.DataFrame:
    """``TEXT`` → ``published_at`` for publish/update lines (``cued``: ``TEXT``, ``CLEAN`` with a cue)."""
    if cued.is_empty():  # most batches: skip building the conversion expressions
        return pl.DataFrame(schema={TEXT: cued.schema[TEXT], "published_at": UTC_MICROS})
    stamps = cued.select(TEXT, pl.col(CLEAN).str.extract_groups(PUBLISHED).alias("p"))
    parts = (
        stamps.unnest("p")
        .drop_nulls("pdate")
        .with_columns(
            numeric_date_parts(pl.col("pdate")).alias("_numeric"),
            pl.col("pdate").str.extract_groups(TEXT_DATE).alias("_text"),
        )
    )
    date = pl.coalesce(numeric_date(pl.col("_numeric")), text_date(pl.col("_text")))
    ampm = pl.when(pl.col("ampmtail") == "").then(pl.col("ampm"))
    hour = twenty_four_hour(pl.col("hour").cast(pl.Int32), ampm)
    minute = pl.col("minute").cast(pl.Int32)
    second = pl.col("second").cast(pl.Int32).fill_null(0)
    valid_time = hour.is_between(0, 23) & minute.is_between(0, 59) & second.is_between(0, 59)
    clock = pl.when(valid_time).then(pl.time(hour, minute, second)).otherwise(pl.time(0, 0, 0))
    naive = pl.col("_date").dt.combine(pl.col("_clock"))
    offset = pl.duration(hours=pl.col("offset").cast(pl.Int32).fill_null(0))
    zone = lookup(squeeze_spaces(pl.col("zone")), TIME_ZONES, pl.String())
    dated = parts.with_columns(date.alias("_date"), clock.alias("_clock"), zone.alias("_zone")).drop_nulls("_date")
    with_time = pl.col("hour").is_not_null()
    # Branches only for the zones named here: a branch per known zone costs more than the rows.
    zones = dated.get_column("_zone").drop_nulls().unique().to_list()
    utc = (
        pl.when(with_time & pl.col("utc").is_not_null())
        .then((naive - offset).dt.replace_time_zone("UTC"))
        .when(with_time)
        .then(local_to_utc(naive, pl.col("_zone"), zones))
        .otherwise(naive.dt.replace_time_zone("UTC"))
    )
    return dated.select(TEXT, utc.cast(UTC_MICROS).alias("published_at"))


# --- quantities ------------------------------------------------------------------------------------


def currency_unit(base: pl.Expr, qualifier: pl.Expr) -> pl.Expr:
    """ISO 4217 (or generic) unit of a currency base word and optional nisba qualifier."""
    stem = qualifier.str.extract(r"^(?:ال)?(.+?)(?:ية|يه|يا|يين|ين|ي)$", 1)
    keyed = {f"{b}|{s}": code for (b, s), code in QUALIFIED_CURRENCY.items()}
    qualified = lookup(pl.concat_str([base, pl.lit("|"), stem]), keyed, pl.String())
    return pl.coalesce(qualified, lookup(base, DEFAULT_CURRENCY, pl.String()))


def parse_shapes(shapes: pl.DataFrame) -> pl.DataFrame:
    """Per distinct ``_shape``: ``unit``, ``kind``, ``_percent``, ``_factor`` and where the number is."""
    q = shapes.select("_shape", pl.col("_shape").str.extract_groups(QUANTITY_SHAPE).alias("q")).unnest("q")
    dollar_sign = pl.col("dnum").is_not_null()
    factor = lookup(pl.coalesce("mult", "gmult", "dmult"), MULTIPLIERS, pl.Float64()).fill_null(1.0)
    tail = pl.coalesce("curtail", "gcurtail").fill_null("")
    base = (
        pl.when(dollar_sign)
        .then(pl.lit("دولار"))
        .otherwise(lookup(pl.coalesce("cur", "gcur"), CURRENCY_WORDS, pl.String()))
    )
    own_per = pl.when(pl.col("pertail") == "").then(pl.col("per"))
    weight = lookup(pl.coalesce(own_per, "gper", "dper"), WEIGHT_UNITS, pl.String())
    unit = currency_unit(base, pl.coalesce("qual", "gqual"))
    is_percent = pl.col("pct").is_not_null()
    is_money = ~is_percent & (dollar_sign | ((tail == "") & base.is_not_null()))
    kind = (
        pl.when(is_percent)
        .then(pl.lit("percent"))
        .when(is_money & weight.is_not_null())
        .then(pl.lit("gold_price"))
        .when(is_money)
        .then(pl.lit("money"))
    )
    full_unit = (
        pl.when(is_percent)
        .then(pl.lit("%"))
        .when(weight.is_not_null())
        .then(pl.concat_str([unit, pl.lit("/"), weight]))
        .otherwise(unit)
    )
    # The alternatives are exclusive: one of num / gnum / dnum is set, after skip (+ gpre / dpre).
    skip = pl.col("skip").str.len_chars()
    offset = pl.coalesce(
        pl.when(pl.col("num").is_not_null()).then(skip),
        pl.when(pl.col("gnum").is_not_null()).then(skip + pl.col("gpre").str.len_chars()),
        pl.when(pl.col("dnum").is_not_null()).then(skip + pl.col("dpre").str.len_chars()),
    )
    return q.select(
        "_shape",
        full_unit.alias("unit"),
        kind.alias("kind"),
        is_percent.alias("_percent"),
        factor.alias("_factor"),
        offset.alias("_offset"),
        pl.coalesce("num", "gnum", "dnum").str.len_chars().alias("_length"),
    )


def parse_quantities(matches: pl.DataFrame) -> pl.DataFrame:
    """``MATCH`` → ``value``, ``unit``, ``kind`` for distinct ``QUANTITY`` matches."""
    shaped = matches.with_columns(pl.col(MATCH).str.replace_all(SHAPE_DIGITS, "0").alias("_shape"))
    parsed = shaped.join(parse_shapes(shaped.select("_shape").unique()), on="_shape", how="left")
    amount = parse_number(pl.col(MATCH).str.slice(pl.col("_offset"), pl.col("_length")))
    value = pl.when(pl.col("_percent")).then(amount).otherwise(amount * pl.col("_factor"))
    return parsed.select(MATCH, value.alias("value"), "unit", "kind")


def quantities_per_text(quantities: pl.DataFrame, karats: pl.DataFrame) -> pl.DataFrame:
    """``TEXT`` → ``quantities`` (percent, money, gold_price, karat) from the match lists."""
    found = explode_matches(quantities, MATCH)
    # Amounts repeat ("2%", "مليون دولار"): each distinct match is parsed once.
    parsed = parse_quantities(found.select(MATCH).unique())
    money = found.join(parsed, on=MATCH, how="left", maintain_order="left").select(
        TEXT, "value", "unit", "kind", pl.lit(0).alias("_family")
    )
    k = explode_matches(karats, MATCH).select(TEXT, pl.col(MATCH).str.extract_groups(KARAT).alias("k")).unnest("k")
    karat = pl.coalesce("k1", "k2").cast(pl.Float64)
    karat_rows = k.select(
        TEXT, karat.alias("value"), pl.lit("K").alias("unit"), pl.lit("karat").alias("kind"), pl.lit(1).alias("_family")
    ).filter(pl.col("value").is_between(1, 24))
    return (
        pl.concat([money, karat_rows])
        .filter(pl.col("kind").is_not_null() & pl.col("value").is_not_null())
        .sort(TEXT, "_family", maintain_order=True)
        .group_by(TEXT, maintain_order=True)
        .agg(pl.struct("value", "unit", "kind").alias("quantities"))
    )


# --- the contract ----------------------------------------------------------------------------------


def number_facts(clean: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(``TEXT`` → ``published_at``, ``TEXT`` → ``quantities``, ``TEXT`` → numeric date matches) of ``clean``."""
    text = pl.col(CLEAN)
    # One select: polars runs its expressions in parallel, each over the chunks in parallel.
    found = clean.select(
        TEXT,
        text.str.extract_all(QUANTITY).alias(MATCH),
        text.str.contains(NUMERIC_DATE_HINT).alias("_numeric_hint"),
        text.str.contains(KARAT_HINT).alias("_karat_hint"),
        text.str.contains(PUBLISH_HINT).alias("_publish_hint"),
    )
    numeric = clean.filter(found["_numeric_hint"]).select(TEXT, text.str.extract_all(NUMERIC_DATE).alias(MATCH))
    karats = clean.filter(found["_karat_hint"]).select(TEXT, text.str.extract_all(KARAT).alias(MATCH))
    cued = clean.filter(found["_publish_hint"]).filter(text.str.contains(PUBLISH_CUE))
    return published_per_text(cued), quantities_per_text(found.select(TEXT, MATCH), karats), numeric


def extract_facts(segments: pl.DataFrame) -> pl.DataFrame:
    """Append ``dates``, ``unresolved_dates``, ``published_at``, ``quantities`` and ``countries``.

    Input needs ``doc_id`` (String), ``line_no`` (Int64) and ``text_norm`` (String); other columns
    pass through unchanged (fact columns already present are recomputed) and row order is kept.
    See the module doc for every rule.
    """
    frame = segments.drop(FACT_COLUMNS, strict=False)
    texts = distinct_texts(frame)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Polars releases the GIL: the texts are tokenized (for the countries, and to see which
        # hold a month name) on one core while everything that does not need that runs here.
        tokenized = pool.submit(find_countries_and_words, texts["text_norm"], MONTH_WORDS)
        rows = row_texts(frame, texts)
        clean = spread(clean_texts(texts_with_digits(texts)))
        published, quantities, numeric = number_facts(clean)
        per_text = texts.select(TEXT).join(published, on=TEXT, how="left", maintain_order="left")
        published_at = per_text["published_at"].cast(UTC_MICROS).gather(rows[TEXT])
        quantity_lists = gather_lists(rows, quantities, TEXT, "quantities", QUANTITY_LIST)
        countries, has_month = tokenized.result()
    with_month = clean.filter(pl.col(TEXT).is_in(texts.filter(has_month)[TEXT].implode()))
    text_dates = with_month.select(TEXT, pl.col(CLEAN).str.extract_all(TEXT_DATE).alias(MATCH))
    dates, unresolved = dates_per_row(row_mentions(date_mentions(text_dates, numeric), rows))
    return frame.with_columns(
        gather_lists(rows, dates, ROW, "dates", DATE_LIST),
        gather_lists(rows, unresolved, ROW, "unresolved_dates", STRING_LIST),
        published_at,
        quantity_lists,
        countries.gather(rows[TEXT]).alias("countries"),
    )
