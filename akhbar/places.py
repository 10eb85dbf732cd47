"""Country mentions in Arabic news text, as ISO 3166-1 alpha-2 codes.

A mention is a country name, a capital (or a handful of unmistakable major cities and seats of
government such as "الكرملين"), or a nisba adjective/demonym ("السوريان", "الروسيتين",
"المصريين"), each optionally carrying the clitics news prose glues on (و ف ب ل ك and ال, with
ل + ال → لل: the chains and the rule live in :mod:`akhbar.arabic`).

How it matches
    One lookup table is built at import time: pycountry's Arabic names (its gettext catalog) plus
    the short forms, capitals and nisba stems below, expanded with clitics and normalized with
    :func:`akhbar.normalize.normalize_text`, so keys are in the ``text_norm`` form.  Texts are cut
    into Arabic-letter tokens (anything else, punctuation included, separates words: this gives
    Arabic word boundaries without ``\\b``, so "مصر" never matches inside "مصرف"); tokens are
    joined against the table, and 2–4-token names ("جنوب السودان", "الولايات المتحدة") are looked
    up only after tokens that can start one.  Overlaps resolve leftmost-longest, so "روسيا البيضاء"
    is BY rather than RU and "جنوب السودان" is SS, not SD.  Punctuation breaks a multi-word name.

Documented rules
    * Ambiguous names give no code rather than a guess.  Bare "عمان" is both Oman and Amman
      (عمّان, Jordan's capital) once the shadda is gone, so it yields nothing; "سلطنة عمان",
      "مسقط" and the nisba "العماني/ة…" give OM, and "العاصمة الأردنية عمان" gives JO through its
      nisba.  Likewise "طرابلس" (Libya or Lebanon), "الكونغو" (CD or CG), "كوريا" (KR or KP);
      any key that two countries share is dropped automatically.
    * Words that are mostly not places are left out: "مالي" (financial), "بنين" (boys),
      "جيرسي" (New Jersey), "جدة" (grandmother), and the masculine "يمني/اليمني", which collides
      with "اليمنى" (right-hand side) once ى becomes ي.  Their longer forms still match
      ("جمهورية مالي", "اليمنية", "اليمنيون").
    * A nisba right after a currency word names the currency, not a place: "جنيه مصري",
      "الدولار الأمريكي", "ليرة تركية" add no country.  A place right after "توقيت" names a clock:
      "بتوقيت أبوظبي" on a publish stamp adds no AE.  "أمريكا اللاتينية/الجنوبية…" is not US,
      "صلاة المغرب" is no Morocco, "تركي آل الشيخ" no Turkey (``STOP_PHRASES``).
    * Known remaining false positives: "تركي" as a given name elsewhere, "المغرب" as the sunset
      time, "الرياض" as "gardens", nisba surnames ("محمد المصري").
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Collection, Iterable

import polars as pl
import pycountry

from akhbar.arabic import ARTICLE, CURRENCY_FORMS, normalize_words, with_proclitics

#: A token is a run of letters: digits, punctuation and spaces all separate words.
TOKEN_PATTERN = r"[\u0621-\u064a]+"
#: Texts per batch in :func:`find_countries`: bounds memory (50k news lines ≈ 25 MB of text).
BATCH_ROWS = 50_000
#: Longest multi-word name matched, in tokens; longer official names always contain a shorter one.
MAX_NAME_TOKENS = 4
#: Everything that is neither an Arabic letter (hamza … ya, U+0621–U+064A) nor a space: punctuation,
#: digits and Latin words separate tokens.  A narrow class is ~2x faster than ``\p{L}`` here.
NON_LETTERS = r"[^\u0621-\u064a ]+"
#: Stands in for any currency word as the head of a "currency + nisba" stop phrase.
CURRENCY_MARKER = "¤"
#: Stands in for "توقيت" as the head of a "time zone + place" stop phrase.
CLOCK_MARKER = "⏲"

#: Short and common forms pycountry lacks or spells differently, by alpha-2 code.
SHORT_NAMES: dict[str, list[str]] = {
    "SY": ["سوريا", "سورية"],
    "RU": ["روسيا", "روسيا الاتحادية"],
    "US": ["أمريكا", "أميركا", "الولايات المتحدة", "الولايات المتحدة الأمريكية"],
    "AE": ["الإمارات", "الإمارات العربية المتحدة", "دولة الإمارات"],
    "SA": ["السعودية", "المملكة العربية السعودية"],
    "TR": ["تركيا", "الجمهورية التركية"],
    "GB": ["بريطانيا", "المملكة المتحدة", "إنجلترا", "انكلترا", "إنكلترا", "اسكتلندا", "أسكتلندا"],
    "IR": ["إيران"],
    "PS": ["فلسطين", "دولة فلسطين", "الضفة الغربية", "قطاع غزة"],
    "KR": ["كوريا الجنوبية"],
    "KP": ["كوريا الشمالية"],
    "CD": ["الكونغو الديمقراطية", "جمهورية الكونغو الديمقراطية"],
    "CG": ["الكونغو برازافيل"],
    "CI": ["ساحل العاج", "كوت ديفوار"],
    "MM": ["ميانمار", "بورما"],
    "HU": ["المجر", "هنغاريا"],
    "RS": ["صربيا"],
    "VN": ["فيتنام"],
    "PH": ["الفلبين"],
    "NZ": ["نيوزيلندا"],
    "BA": ["البوسنة", "البوسنة والهرسك"],
    "MK": ["مقدونيا الشمالية"],
    "ME": ["الجبل الأسود", "مونتينيغرو"],
    "BY": ["بيلاروسيا", "روسيا البيضاء"],
    "MD": ["مولدوفا"],
    "SZ": ["سوازيلاند"],
    "TL": ["تيمور الشرقية"],
    "LA": ["لاوس"],
    "BN": ["بروناي"],
    "KG": ["قرغيزستان", "قيرغيزستان"],
    "CF": ["أفريقيا الوسطى", "إفريقيا الوسطى", "جمهورية أفريقيا الوسطى"],
    "ZA": ["جنوب أفريقيا", "جنوب إفريقيا"],
    "VA": ["الفاتيكان"],
    "HK": ["هونغ كونغ", "هونج كونج"],
    "MO": ["ماكاو"],
    "DO": ["الدومينيكان"],
    "IE": ["أيرلندا", "ايرلندا"],
    "LT": ["ليتوانيا"],
    "BD": ["بنغلاديش"],
    "NL": ["هولندا"],
    "CZ": ["التشيك"],
    "TH": ["تايلاند", "تايلند"],
    "VE": ["فنزويلا"],
    "PE": ["بيرو"],
    "EG": ["مصر"],
    "MV": ["جزر المالديف", "المالديف"],
    "KM": ["جزر القمر"],
    "AU": ["أستراليا", "استراليا"],
    "OM": ["سلطنة عمان"],
    "ML": ["جمهورية مالي", "دولة مالي"],
    "BJ": ["جمهورية بنين"],
}

#: Capitals, a few major cities and seats of government that news uses for the country itself.
CAPITALS_AND_CITIES: dict[str, list[str]] = {
    "SY": ["دمشق", "حلب", "حمص", "اللاذقية", "طرطوس", "إدلب", "دير الزور", "درعا"],
    "RU": ["موسكو", "الكرملين", "سان بطرسبرغ"],
    "EG": ["القاهرة", "الإسكندرية", "الجيزة", "أسوان", "الأقصر", "شرم الشيخ"],
    "US": ["واشنطن", "نيويورك", "البيت الأبيض", "البنتاغون", "البنتاجون", "لوس أنجلوس", "شيكاغو"],
    "IR": ["طهران"],
    "IQ": ["بغداد", "البصرة", "الموصل", "أربيل", "كربلاء", "النجف"],
    "SA": ["الرياض", "مكة المكرمة", "المدينة المنورة", "الدمام"],
    "AE": ["أبوظبي", "أبو ظبي", "دبي", "الشارقة"],
    "QA": ["الدوحة"],
    "KW": ["الكويت"],
    "BH": ["المنامة"],
    "OM": ["مسقط"],
    "YE": ["صنعاء"],
    "LB": ["بيروت"],
    "PS": ["غزة", "رام الله"],
    "IL": ["تل أبيب"],
    "TR": ["أنقرة", "إسطنبول", "اسطنبول"],
    "LY": ["بنغازي", "طرابلس الغرب"],
    "MA": ["الرباط", "الدار البيضاء", "مراكش"],
    "SD": ["الخرطوم"],
    "MR": ["نواكشوط"],
    "SO": ["مقديشو"],
    "ET": ["أديس أبابا"],
    "ER": ["أسمرة"],
    "SS": ["جوبا"],
    "GB": ["لندن", "داونينغ ستريت"],
    "FR": ["باريس", "الإليزيه"],
    "DE": ["برلين"],
    "IT": ["روما"],
    "ES": ["مدريد"],
    "CN": ["بكين"],
    "JP": ["طوكيو"],
    "IN": ["نيودلهي", "نيو دلهي"],
    "PK": ["إسلام آباد"],
    "AF": ["كابل", "كابول"],
    "UA": ["كييف"],
    "BE": ["بروكسل"],
    "AT": ["فيينا"],
    "CH": ["جنيف", "برن"],
    "NL": ["لاهاي", "أمستردام"],
    "KR": ["سيول"],
    "KP": ["بيونغ يانغ"],
    "CA": ["أوتاوا"],
    "AU": ["كانبرا"],
    "BR": ["برازيليا"],
    "AR": ["بوينس آيرس"],
    "SE": ["ستوكهولم"],
    "NO": ["أوسلو"],
    "DK": ["كوبنهاغن"],
    "FI": ["هلسنكي"],
    "GR": ["أثينا"],
    "PL": ["وارسو"],
    "HU": ["بودابست"],
    "CZ": ["براغ"],
    "PT": ["لشبونة"],
    "IE": ["دبلن"],
    "CY": ["نيقوسيا"],
    "AZ": ["باكو"],
    "AM": ["يريفان"],
    "GE": ["تبليسي"],
    "KZ": ["أستانا"],
    "UZ": ["طشقند"],
    "ID": ["جاكرتا"],
    "MY": ["كوالالمبور", "كوالا لمبور"],
    "TH": ["بانكوك"],
    "VN": ["هانوي"],
    "PH": ["مانيلا"],
    "KE": ["نيروبي"],
    "NG": ["أبوجا", "لاغوس"],
    "ZA": ["جوهانسبرغ", "بريتوريا"],
    "SN": ["داكار"],
    "BY": ["مينسك"],
    "RS": ["بلغراد"],
    "RO": ["بوخارست"],
}

#: Plural demonyms that are not stem + suffix ("الروس", not "الروسيون").
IRREGULAR_DEMONYMS: dict[str, list[str]] = {
    "RU": ["الروس"],
    "TR": ["الأتراك"],
    "US": ["الأمريكان", "الأميركان"],
    "GB": ["الإنجليز", "الإنكليز", "البريطانيون"],
    "DE": ["الألمان"],
    "IT": ["الطليان"],
    "ES": ["الإسبان"],
    "IN": ["الهنود"],
    "AF": ["الأفغان"],
}

#: Nisba stems: stem + ي/ية/يون/يين/يان/يتان/يتين (with or without ال) names the country.
#: Stems whose nisba is also a common word or name ("مالي", "كوبي", "غاني", "مجري"=مجرى) are absent.
NISBA_STEMS: dict[str, list[str]] = {
    "SY": ["سور"],
    "RU": ["روس"],
    "EG": ["مصر"],
    "US": ["أمريك", "أميرك"],
    "IR": ["إيران"],
    "IQ": ["عراق"],
    "SA": ["سعود"],
    "JO": ["أردن"],
    "LB": ["لبنان"],
    "PS": ["فلسطين"],
    "TR": ["ترك"],
    "CN": ["صين"],
    "JP": ["يابان"],
    "FR": ["فرنس"],
    "GB": ["بريطان", "إنجليز", "إنكليز"],
    "DE": ["ألمان"],
    "IT": ["إيطال"],
    "ES": ["إسبان"],
    "IN": ["هند"],
    "PK": ["باكستان"],
    "AF": ["أفغان"],
    "QA": ["قطر"],
    "KW": ["كويت"],
    "BH": ["بحرين"],
    "AE": ["إمارات"],
    "OM": ["عمان"],
    "YE": ["يمن"],
    "LY": ["ليب"],
    "TN": ["تونس"],
    "DZ": ["جزائر"],
    "MA": ["مغرب"],
    "SD": ["سودان"],
    "MR": ["موريتان"],
    "SO": ["صومال"],
    "ET": ["إثيوب"],
    "ER": ["إريتر"],
    "DJ": ["جيبوت"],
    "UA": ["أوكران"],
    "IL": ["إسرائيل"],
    "BR": ["برازيل"],
    "AR": ["أرجنتين"],
    "CA": ["كند"],
    "AU": ["أسترال", "استرال"],
    "SE": ["سويد"],
    "NO": ["نرويج"],
    "DK": ["دنمارك"],
    "FI": ["فنلند"],
    "NL": ["هولند"],
    "BE": ["بلجيك"],
    "CH": ["سويسر"],
    "AT": ["نمساو"],
    "GR": ["يونان"],
    "PL": ["بولند"],
    "CZ": ["تشيك"],
    "RS": ["صرب"],
    "HR": ["كروات"],
    "BG": ["بلغار"],
    "PT": ["برتغال"],
    "IE": ["أيرلند"],
    "MX": ["مكسيك"],
    "VE": ["فنزويل"],
    "CO": ["كولومب"],
    "NG": ["نيجير"],
    "KE": ["كين"],
    "TZ": ["تنزان"],
    "UG": ["أوغند"],
    "SN": ["سنغال"],
    "TD": ["تشاد"],
    "CM": ["كاميرون"],
    "ID": ["إندونيس"],
    "MY": ["ماليز"],
    "PH": ["فلبين"],
    "TH": ["تايلند", "تايلاند"],
    "VN": ["فيتنام"],
    "BD": ["بنغلاديش"],
    "LK": ["سريلانك"],
    "KZ": ["كازاخ"],
    "UZ": ["أوزبك"],
    "AZ": ["أذربيجان"],
    "AM": ["أرمن"],
    "CY": ["قبرص"],
    "BY": ["بيلاروس"],
    "NZ": ["نيوزيلند"],
}

#: Gender/number endings of a nisba; ه is the common misspelling of ة.
NISBA_SUFFIXES = ("ي", "ية", "يه", "يون", "يين", "يان", "يتان", "يتين")

#: Whole keys (before clitics) never to emit: common words, collisions, ambiguities (module doc).
EXCLUDED_KEYS = frozenset({"عمان", "طرابلس", "الكونغو", "كوريا", "مالي", "بنين", "جيرسي", "جدة", "يمني", "اليمني"})

#: Multi-word phrases that contain a place word but name no country.
STOP_PHRASES = (
    "أمريكا اللاتينية",
    "أمريكا الجنوبية",
    "أمريكا الشمالية",
    "أمريكا الوسطى",
    "أميركا اللاتينية",
    "أميركا الجنوبية",
    "أميركا الشمالية",
    "أميركا الوسطى",
    "نصف قطر",
    "نصف القطر",
    "صلاة المغرب",
    "أذان المغرب",
    "تركي آل الشيخ",
)

#: Currency words (all inflections, with clitics applied automatically) whose nisba is no place.
CURRENCY_WORDS = tuple(CURRENCY_FORMS)

#: Words after which a place names a clock ("بتوقيت أبوظبي"), not what the story is about.
CLOCK_WORDS = ("توقيت",)

#: Wrong entries in pycountry's Arabic catalog: Moldova is translated as "المالديف" (the Maldives).
PYCOUNTRY_ERRATA = frozenset({("MD", "المالديف")})


def pycountry_arabic_names() -> dict[str, list[str]]:
    """Arabic names, common names and official names from pycountry's gettext catalog (minus errata)."""
    catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"])
    names: dict[str, list[str]] = {}
    for country in pycountry.countries:
        english = [getattr(country, field, None) for field in ("name", "common_name", "official_name")]
        for text in (catalog.gettext(name) for name in english if name):
            # "كوريا، جمهوريّة كوريا" and "جزر فولكلاند (مالفيناس)" hold several names each.
            parts = re.split(r"[،,()]", text)
            kept = (p.strip() for p in parts if p.strip() and (country.alpha_2, p.strip()) not in PYCOUNTRY_ERRATA)
            names.setdefault(country.alpha_2, []).extend(kept)
    return names


def nisba_forms(stem: str) -> list[str]:
    """The nisba adjective forms of a (normalized) stem, with and without the article."""
    bare = [stem + suffix for suffix in NISBA_SUFFIXES]
    return bare + [ARTICLE + form for form in bare]


def normalize_keys(texts: Iterable[str]) -> list[str]:
    """Normalize names to the text_norm form and join their letter tokens with single spaces."""
    frame = pl.DataFrame({"name": normalize_words(texts)}, schema={"name": pl.String})
    tokens = pl.col("name").str.replace_all(r" و ", " و").str.extract_all(TOKEN_PATTERN)
    return frame.select(tokens.list.join(" "))["name"].to_list()


def place_entries() -> list[tuple[str, str | None]]:
    """(normalized key before clitics, code) pairs; a None code marks a stop phrase."""
    raw: list[tuple[str, str | None]] = []
    for table in (pycountry_arabic_names(), SHORT_NAMES, CAPITALS_AND_CITIES, IRREGULAR_DEMONYMS):
        raw.extend((name, code) for code, names in table.items() for name in names)
    raw.extend((phrase, None) for phrase in STOP_PHRASES)
    stems = [(stem, code) for code, code_stems in NISBA_STEMS.items() for stem in code_stems]
    # One normalization pass for everything: a polars call per name would cost seconds at import.
    keys = normalize_keys([name for name, _ in raw] + [stem for stem, _ in stems])
    pairs = list(zip(keys[: len(raw)], (code for _, code in raw), strict=True))
    for stem, (_, code) in zip(keys[len(raw) :], stems, strict=True):
        pairs.extend((form, code) for form in nisba_forms(stem))
    return [(key, code) for key, code in pairs if key and key not in EXCLUDED_KEYS]


def marker_stop_keys(entries: list[tuple[str, str | None]]) -> list[str]:
    """Stop keys "<marker> <words>": "جنيه مصري" names a currency, "بتوقيت أبوظبي" a clock, not a place."""
    stems = normalize_keys(stem for stems in NISBA_STEMS.values() for stem in stems)
    nisbas = {form for stem in stems for form in nisba_forms(stem)} | {"استرليني", "الاسترليني"}
    short = MAX_NAME_TOKENS - 1
    places = {key for key, code in entries if code is not None and key.count(" ") < short}
    keys = [f"{CURRENCY_MARKER} {form}" for form in nisbas] + [f"{CLOCK_MARKER} {key}" for key in places]
    return sorted(keys)


def build_place_lookup() -> pl.DataFrame:
    """The lookup table: ``key`` (text_norm tokens joined by spaces), ``n_tokens``, ``code``.

    Keys claimed by two different countries are dropped (see the module doc); stop phrases keep
    a null code so that, as the longest match, they swallow the place word inside them.
    """
    base = place_entries()
    entries = [(form, code) for key, code in base for form in with_proclitics(key)]
    entries += [(key, None) for key in marker_stop_keys(base)]
    frame = pl.DataFrame(entries, schema={"key": pl.String, "code": pl.String}, orient="row")
    is_stop = pl.col("code").is_null().any().over("key")
    unambiguous = (pl.col("code").n_unique().over("key") == 1) | is_stop
    return (
        frame.filter(unambiguous)
        .with_columns(pl.when(is_stop).then(None).otherwise(pl.col("code")).alias("code"))
        .unique("key", keep="first")
        .with_columns((pl.col("key").str.count_matches(" ") + 1).cast(pl.Int64).alias("n_tokens"))
        .filter(pl.col("n_tokens") <= MAX_NAME_TOKENS)
        .sort("key")
        .select("key", "n_tokens", "code")
    )


def marker_tokens() -> dict[str, str]:
    """Token → marker for every clitic/article form of the currency and time-zone words."""
    tokens: dict[str, str] = {}
    for marker, words in ((CURRENCY_MARKER, CURRENCY_WORDS), (CLOCK_MARKER, CLOCK_WORDS)):
        for word in normalize_keys(words):
            tokens |= {form: marker for form in [*with_proclitics(word), *with_proclitics(ARTICLE + word)]}
    return tokens


def build_token_table(lookup: pl.DataFrame) -> pl.DataFrame:
    """Per token: ``code`` when it is a one-token place, ``head`` when a longer key can start with it.

    ``span`` is the most tokens a key starting with ``head`` has: no longer n-gram is looked up.
    """
    unigrams = lookup.filter(pl.col("n_tokens") == 1).select(pl.col("key").alias("token"), "code")
    head_keys = (
        lookup.filter(pl.col("n_tokens") > 1)
        .group_by(pl.col("key").str.split(" ").list.first().alias("head"))
        .agg(pl.col("n_tokens").max().alias("span"))
    )
    markers = pl.DataFrame(
        list(marker_tokens().items()), schema={"token": pl.String, "head": pl.String}, orient="row"
    ).join(head_keys, on="head", how="inner")
    heads = pl.concat([head_keys.select(pl.col("head").alias("token"), "head", "span"), markers]).unique("token")
    return unigrams.join(heads, on="token", how="full", coalesce=True).select("token", "code", "head", "span")


#: The lookup table, built once at import time.
PLACE_LOOKUP: pl.DataFrame = build_place_lookup()
#: Every token that matters: a one-token place (``code``) and/or the start of a longer key (``head``).
TOKEN_TABLE: pl.DataFrame = build_token_table(PLACE_LOOKUP)
#: Multi-token keys, looked up only after a head token.
NGRAM_LOOKUP: pl.DataFrame = PLACE_LOOKUP.filter(pl.col("n_tokens") > 1)

MATCH_SCHEMA = {"_row": pl.Int64, "_pos": pl.Int64, "n_tokens": pl.Int64, "code": pl.String}


def tokenize(texts: pl.Series) -> pl.DataFrame:
    """One row per token: ``_row`` (index into texts), ``_pos`` (global order), ``token``.

    Empty tokens (where punctuation stood) are kept: they never match and they stop a multi-word
    name from spanning punctuation ("جنوب، السودان" is not South Sudan).
    """
    # Splitting on spaces after blanking non-letters is ~2x faster than extract_all.  Alone in its
    # select, the split runs chunk-parallel; the row numbers come after.
    words = pl.col("text").str.replace_all(NON_LETTERS, " ").str.split(" ")
    return (
        spread(pl.DataFrame({"text": texts.cast(pl.String)}))
        .select(words.alias("token"))
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
        .explode("token")
        .select("_row", "token", pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"))
    )


def spread(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame cut into one chunk per thread: polars runs a string expression chunk-parallel."""
    size = max(1, -(-frame.height // pl.thread_pool_size()))
    pieces = [frame.slice(start, size) for start in range(0, frame.height, size)]
    return pl.concat(pieces, rechunk=False) if pieces else frame


def ngram_matches(tokens: pl.DataFrame, heads: pl.DataFrame) -> pl.DataFrame:
    """Multi-token place mentions and stop phrases starting at a head token (hits with ``head`` and ``span``)."""
    if heads.height == 0:
        return pl.DataFrame(schema=MATCH_SCHEMA)
    last = tokens.height - 1
    candidates = []
    for offset in range(1, MAX_NAME_TOKENS):
        # Gathering only at head positions keeps this proportional to the (few) heads, and only
        # while a key that long starts with the head ("بين" = ب + ين, a currency, spans only 2).
        heads = heads.filter((pl.col("span") > offset) & (pl.col("_pos") + offset <= last))
        index = heads["_pos"] + offset
        heads = heads.with_columns(
            valid=tokens["_row"].gather(index) == heads["_row"],
            head=heads["head"] + " " + tokens["token"].gather(index),
        ).filter("valid")
        candidates.append(heads.select("_row", "_pos", pl.col("head").alias("key")))
    return pl.concat(candidates).join(NGRAM_LOOKUP, on="key", how="inner").select("_row", "_pos", "n_tokens", "code")


def leftmost_longest(matches: pl.DataFrame) -> pl.DataFrame:
    """Keep the longest match at each start, then drop matches inside an earlier, longer one."""
    best = matches.sort(["_pos", "n_tokens"], descending=[False, True]).unique(
        "_pos", keep="first", maintain_order=True
    )
    # Matches never span two texts, so a running maximum of match ends over global positions
    # tells whether an earlier match still covers this start.
    reach = (pl.col("_pos") + pl.col("n_tokens") - 1).cum_max().shift(1)
    return best.filter(reach.is_null() | (pl.col("_pos") > reach))


def countries_of_batch(texts: pl.Series, words: Collection[str] = ()) -> pl.DataFrame:
    """:func:`find_countries_and_words` on one batch of texts (columns ``countries``, ``has_word``)."""
    tokens = tokenize(texts)
    # A hash-set filter first: the join then only sees the few tokens that matter.
    known = tokens.filter(
        pl.col("token").is_in(pl.concat([TOKEN_TABLE["token"], pl.Series(list(words), dtype=pl.String)]).implode())
    )
    hits = known.join(TOKEN_TABLE, on="token", how="inner")
    unigrams = hits.filter(pl.col("code").is_not_null()).select(
        "_row", "_pos", pl.lit(1, dtype=pl.Int64).alias("n_tokens"), "code"
    )
    heads = hits.filter(pl.col("head").is_not_null()).sort("_pos")
    matches = pl.concat([unigrams, ngram_matches(tokens, heads)])
    per_row = (
        leftmost_longest(matches)
        .select("_row", pl.col("code").alias("countries"))
        .drop_nulls("countries")
        .unique()
        .sort("_row", "countries")
        .group_by("_row", maintain_order=True)
        .agg("countries")
    )
    with_word = known.filter(pl.col("token").is_in(list(words)))["_row"]
    rows = pl.DataFrame({"_row": pl.int_range(texts.len(), dtype=pl.Int64, eager=True)})
    joined = rows.join(per_row, on="_row", how="left", maintain_order="left")
    empty = pl.lit([], dtype=pl.List(pl.String))
    return joined.select(
        pl.col("countries").fill_null(empty), pl.col("_row").is_in(with_word.implode()).alias("has_word")
    )


def find_countries_and_words(texts: pl.Series, words: Collection[str]) -> tuple[pl.Series, pl.Series]:
    """:func:`find_countries`, and whether each text has one of ``words`` as a token (one tokenization for both).

    A token is a maximal run of Arabic letters (see :func:`tokenize`), so a word matches whole.
    """
    batches = [countries_of_batch(texts.slice(start, BATCH_ROWS), words) for start in range(0, texts.len(), BATCH_ROWS)]
    if not batches:
        return pl.Series("countries", [], dtype=pl.List(pl.String)), pl.Series("has_word", [], dtype=pl.Boolean)
    found = pl.concat(batches)
    return found["countries"], found["has_word"]


def find_countries(texts: pl.Series) -> pl.Series:
    """ISO 3166-1 alpha-2 codes mentioned in each ``text_norm`` value: List(String), unique, sorted.

    Works in batches of ``BATCH_ROWS`` texts so that the token frame (about one row per 6 bytes of
    text) stays small whatever the input size; each batch is fully vectorized.
    """
    return find_countries_and_words(texts, ())[0]
