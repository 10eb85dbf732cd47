"""Topic classification of normalized Arabic news segments, driven by a weighted-term taxonomy.

The classifier *is* the taxonomy file (``akhbar/taxonomy.toml`` by default): per topic, groups of
terms with a weight.  At load time every term is normalized exactly like ``text_norm`` and expanded
into its surface forms (Arabic clitic prefixes, the article, inflectional suffixes).  At run time
all surface forms of all topics are found in one Aho-Corasick pass over a token-delimited form of
each distinct ``text_norm``; the hits are joined back to their terms and summed into one score per
topic.  The best topic wins when its score reaches ``min_score``; otherwise the segment is ``other``.
Context rules (``[contexts.NAME]`` terms, a group's ``blocked_by`` / ``unblocked_by``) drop a group's
hits in segments where a context occurs: the contexts' terms are found in the same pass.

Everything per row is a vectorized polars operation; Python only loops over the taxonomy.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import polars as pl

from akhbar.arabic import ARTICLE, TEH_MARBUTA, article_forms, is_arabic, normalize_words
from akhbar.topic_model import TopicModel, TopicModelError, class_probabilities, load_topic_model
from schemas import SEGMENTS

OTHER_TOPIC = "other"

#: Columns appended by :func:`classify_topics`, in order.
TOPIC_COLUMNS = ("topic", "topic_confidence", "topic_scores", "matched_terms")
TOPIC_SCORES_DTYPE = SEGMENTS.polars_dtype("topic_scores")
MATCHED_TERMS_DTYPE = SEGMENTS.polars_dtype("matched_terms")

PACKAGED_TAXONOMY = "taxonomy.toml"

#: Anything that is not a letter, combining mark or digit separates tokens.
TOKEN_SEPARATOR = r"[^\p{L}\p{M}\p{N}]+"
#: A run of punctuation/symbols with the spaces around it.  ``text_norm`` has single spaces only, so
#: replacing these runs by one space and then doubling spaces is a cheaper way (two simple passes,
#: the regex rarely matching) to the same result as replacing every TOKEN_SEPARATOR run by GAP.
PUNCTUATION_RUN = r"(?: ?[^\p{L}\p{M}\p{N} ]+ ?)+"
#: Tokens are joined by two spaces and the whole string is padded by one space on each side, so a
#: surface form " w " never shares a space with its neighbour " v ": adjacent terms both match.
GAP = "  "
#: Term markup: "=" exact word (no clitics), "(ال)" optional article, "~" inflectable word.
EXACT_MARK = "="
OPTIONAL_ARTICLE = "(ال)"
INFLECT_MARK = "~"
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Prefix of a context's pseudo-topic: contexts are matched like topics but score for none.
CONTEXT_MARK = "@"
#: At most this many contexts: a segment's contexts are one bit each of an Int64.
MAX_CONTEXTS = 62

#: From this many surface forms on, they are matched with one regex alternation of literals rather
#: than with ``str.extract_many``: polars rebuilds the extract_many automaton on every call (~0.06 s
#: for the packaged 32k forms) but caches compiled regexes (per thread, ~0.2 s to compile once).  The
#: regex crate runs a large alternation of literals as Aho-Corasick with the same leftmost-first
#: semantics, so the matches are identical.  A small alternation gets a general regex engine, slower
#: than extract_many, whose automaton is then cheap to rebuild.
REGEX_MIN_PATTERNS = 3000
#: Characters the regex syntax gives a meaning to (surface forms are letters, digits and spaces).
REGEX_META = frozenset("\\.+*?()|[]{}^$#&-~")
#: :func:`classify_topics` splits its distinct texts into one query per core, but not into parts of
#: fewer rows than this: each query has a fixed cost.
MIN_ROWS_PER_QUERY = 2000

_ROW = "__akhbar_row"


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class DecisionRule:
    """How term hits become a topic and a confidence."""

    #: A topic needs at least this score to beat ``other``.
    min_score: float = 3.0
    #: Softmax temperature turning scores (with ``other`` at ``min_score``) into a confidence.
    temperature: float = 1.6
    #: Each repeat of a term adds this fraction of its weight, up to ``max_repeats`` occurrences.
    repeat_bonus: float = 0.25
    max_repeats: int = 3
    #: Terms in the first ``lead_words`` tokens (the news lede) get ``1 + lead_boost`` times their
    #: weight; 0 switches the lede off (and skips its scan).
    lead_words: int = 10
    lead_boost: float = 0.4


@dataclass(frozen=True)
class Calibration:
    """``topic_confidence`` per evidence level: fixed numbers, measured on corpus weak labels."""

    #: ``other`` with no topic evidence at all.
    no_evidence: float
    #: ``other`` whose strongest topic score is > 0 and >= ``other_edges[i]`` (the first edge is 0).
    other_edges: tuple[float, ...]
    other_confidence: tuple[float, ...]
    #: A topic whose margin (its score minus the higher of the runner-up's and ``min_score``) is
    #: >= ``margin_edges[i]`` (the first edge is 0).
    margin_edges: tuple[float, ...]
    topic_confidence: tuple[float, ...]

    @property
    def confidences(self) -> tuple[float, ...]:
        """The confidence of every level, by level index."""
        return (self.no_evidence, *self.other_confidence, *self.topic_confidence)

    @property
    def level_names(self) -> tuple[str, ...]:
        """A readable name for every level, by level index."""
        return (
            "other: no evidence",
            *(f"other: best {'>' if edge == 0 else '>='} {edge:g}" for edge in self.other_edges),
            *(f"topic: margin >= {edge:g}" for edge in self.margin_edges),
        )


@dataclass(frozen=True)
class ModelVote:
    """The [model] table: where the lexicon says ``other``, a model adds ``vote`` to the topic it is sure of."""

    model: TopicModel
    #: The topics the model may vote for (the others keep their lexicon score only).
    topics: tuple[str, ...]
    #: The model votes only when its most probable class is one of ``topics`` with at least this probability.
    min_probability: float
    #: Added to that topic's score: ``min_score`` lets the model decide a text with no term at all.
    vote: float


@dataclass(frozen=True)
class Morphology:
    """The clitic prefixes and inflectional suffixes used to expand terms into surface forms."""

    clitics: tuple[str, ...]
    suffixes: tuple[str, ...]
    teh_marbuta_suffixes: tuple[str, ...]


@dataclass(frozen=True)
class Term:
    """One taxonomy term: its topic, its text as written in the file, weight and surface forms."""

    topic: str
    text: str
    weight: float
    surfaces: tuple[str, ...]
    #: Bit k set: the term does not count in a segment where context k occurs ...
    blocked_by: int = 0
    #: ... unless a context with bit k set here occurs there too.
    unblocked_by: int = 0


@dataclass(frozen=True)
class RawTerm:
    """A term as parsed from the file, before normalization and expansion."""

    topic: str
    text: str
    weight: float
    blocked_by: tuple[str, ...] = ()
    unblocked_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """A parsed, normalized and expanded taxonomy file."""

    version: str
    fingerprint: str
    source: str
    topic_names: tuple[str, ...]
    rule: DecisionRule
    terms: tuple[Term, ...] = field(repr=False)
    #: Surface forms longest first, so Aho-Corasick leftmost-first matching prefers the longest term.
    patterns: tuple[str, ...] = field(repr=False, compare=False)
    #: Names of the [contexts.NAME] tables; their terms carry the topic ``CONTEXT_MARK + NAME``.
    contexts: tuple[str, ...] = ()
    #: The [calibration] table; ``None``: the softmax of ``DecisionRule.temperature`` instead.
    calibration: Calibration | None = None
    #: The [model] table; ``None``: the lexicon alone decides.
    model_vote: ModelVote | None = None

    @cached_property
    def label_names(self) -> tuple[str, ...]:
        """Topic names, then the context pseudo-topics: what a term's topic index points into."""
        return (*self.topic_names, *(CONTEXT_MARK + name for name in self.contexts))

    @cached_property
    def pattern_list(self) -> pl.Series:
        """``patterns`` as a one-element List(String) Series, converted from Python once."""
        return pl.Series("patterns", [list(self.patterns)], dtype=pl.List(pl.String))

    @cached_property
    def pattern_regex(self) -> str | None:
        """``patterns`` as one regex alternation (same order), or ``None`` below ``REGEX_MIN_PATTERNS``."""
        if len(self.patterns) < REGEX_MIN_PATTERNS:
            return None
        return "|".join(_regex_literal(pattern) for pattern in self.patterns)

    @cached_property
    def term_texts(self) -> tuple[str, ...]:
        """Each term as written in the file, by term index."""
        return tuple(term.text for term in self.terms)

    @cached_property
    def term_weights(self) -> tuple[float, ...]:
        """Each term's weight, by term index."""
        return tuple(term.weight for term in self.terms)

    @cached_property
    def term_topics(self) -> tuple[int, ...]:
        """Each term's topic index (into ``label_names``), by term index."""
        index = {name: position for position, name in enumerate(self.label_names)}
        return tuple(index[term.topic] for term in self.terms)

    @cached_property
    def term_blocks(self) -> tuple[int, ...]:
        """Each term's ``blocked_by`` context bits, by term index."""
        return tuple(term.blocked_by for term in self.terms)

    @cached_property
    def term_unblocks(self) -> tuple[int, ...]:
        """Each term's ``unblocked_by`` context bits, by term index."""
        return tuple(term.unblocked_by for term in self.terms)

    @cached_property
    def surface_table(self) -> pl.DataFrame:
        """Surface form → term index; a form shared by several topics has one row per topic."""
        owners: dict[tuple[str, str], int] = {}
        for term_index, term in enumerate(self.terms):
            for surface in term.surfaces:
                # The first term of a topic that yields a surface form owns it: no double counting.
                owners.setdefault((surface, term.topic), term_index)
        return pl.DataFrame(
            {"surface": [surface for surface, _ in owners], "term_idx": list(owners.values())},
            schema={"surface": pl.String, "term_idx": pl.UInt32},
        )


# --- loading ----------------------------------------------------------------------------------------


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load a taxonomy TOML file; ``None`` loads the one packaged with akhbar."""
    if path is None:
        resource = resources.files("akhbar").joinpath(PACKAGED_TAXONOMY)
        return parse_taxonomy(resource.read_bytes(), source=f"akhbar/{PACKAGED_TAXONOMY}")
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise TaxonomyError(f"{path}: cannot read taxonomy file ({error.strerror or error})") from error
    return parse_taxonomy(data, source=str(path), directory=Path(path).parent)


def parse_taxonomy(data: bytes, *, source: str, directory: Path | None = None) -> Taxonomy:
    """Parse taxonomy TOML bytes; ``source`` names the file in error messages.

    ``directory`` is where the file lives: a [model] ``file`` is looked for there first, then among
    the files packaged with akhbar (so a copy of the packaged taxonomy keeps its model).
    """
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise TaxonomyError(f"{source}: not UTF-8 ({error.reason} at byte {error.start})") from error
    except tomllib.TOMLDecodeError as error:
        raise TaxonomyError(f"{source}: invalid TOML: {error}") from error
    allowed = {"version", "decision", "morphology", "topics", "contexts", "calibration", "model"}
    _reject_unknown_keys(document, allowed, "the top level", source)
    version = document.get("version")
    if not isinstance(version, str) or not version.strip():
        raise TaxonomyError(f"{source}: `version` must be a non-empty string")
    rule = _parse_decision(document.get("decision", {}), source)
    calibration = _parse_calibration(document.get("calibration"), source)
    morphology = _parse_morphology(document.get("morphology"), source)
    contexts, context_terms = _parse_contexts(document.get("contexts", {}), source)
    raw_terms = _parse_topics(document.get("topics"), set(contexts), source)
    topic_names = tuple(dict.fromkeys(term.topic for term in raw_terms))
    terms = _expand_terms([*raw_terms, *context_terms], morphology, contexts, source)
    patterns = sorted({s for term in terms for s in term.surfaces}, key=lambda s: (-len(s), s))
    model_vote = _parse_model(document.get("model"), topic_names, directory, source)
    # The model's weights decide too: a retrained model is a different classifier.
    fingerprinted = data + (model_vote.model.fingerprint.encode() if model_vote else b"")
    return Taxonomy(
        version=version,
        fingerprint=hashlib.sha256(fingerprinted).hexdigest(),
        source=source,
        topic_names=topic_names,
        rule=rule,
        terms=terms,
        patterns=tuple(patterns),
        contexts=contexts,
        calibration=calibration,
        model_vote=model_vote,
    )


def _parse_model(table: object, topic_names: tuple[str, ...], directory: Path | None, source: str) -> ModelVote | None:
    """The optional [model] table (see :class:`ModelVote`); loads the model file it names."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise TaxonomyError(f"{source}: [model] must be a table")
    _reject_unknown_keys(table, {"file", "topics", "min_probability", "vote", "note"}, "[model]", source)
    file_name = table.get("file")
    if not isinstance(file_name, str) or not file_name.strip():
        raise TaxonomyError(f"{source}: `model.file` must be a file name or path")
    topics = tuple(_string_list(table.get("topics"), "model.topics", source))
    unknown = sorted(set(topics) - set(topic_names))
    if unknown:
        raise TaxonomyError(f"{source}: `model.topics` names unknown topic(s) {', '.join(unknown)}")
    min_probability = _number(table.get("min_probability"), "model.min_probability", source)
    if not 0.0 < min_probability <= 1.0:
        raise TaxonomyError(f"{source}: `model.min_probability` must be in (0, 1], got {min_probability!r}")
    vote = _number(table.get("vote"), "model.vote", source, minimum=0.0)
    try:
        model = _load_model_file(file_name, directory)
    except TopicModelError as error:
        raise TaxonomyError(f"{source}: [model]: {error}") from error
    missing = sorted(set(topics) - set(model.classes))
    if missing:
        raise TaxonomyError(f"{source}: the model {model.source} has no class for {', '.join(missing)}")
    return ModelVote(model=model, topics=topics, min_probability=min_probability, vote=vote)


def _load_model_file(file_name: str, directory: Path | None) -> TopicModel:
    """The model file next to the taxonomy (absolute paths as they are), else the packaged one of that name."""
    path = Path(file_name)
    if path.is_absolute():
        return load_topic_model(path)
    if directory is not None and (directory / path).exists():
        return load_topic_model(directory / path)
    packaged = resources.files("akhbar").joinpath(file_name)
    if not packaged.is_file():
        where = f"{directory / path} nor " if directory is not None else ""
        raise TopicModelError(f"model file {file_name!r} found neither at {where}among akhbar's packaged files")
    return load_topic_model(Path(str(packaged)), source=f"akhbar/{file_name}")


def _reject_unknown_keys(table: Mapping[str, object], allowed: set[str], where: str, source: str) -> None:
    """Raise on keys a reader would silently ignore: they are almost always typos."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise TaxonomyError(f"{source}: unknown key(s) {', '.join(unknown)} in {where}")


def _number(value: object, name: str, source: str, *, minimum: float | None = None) -> float:
    """A finite TOML number (int or float), optionally bounded below."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TaxonomyError(f"{source}: `{name}` must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise TaxonomyError(f"{source}: `{name}` must be >= {minimum}, got {value!r}")
    return float(value)


def _parse_decision(table: object, source: str) -> DecisionRule:
    """The [decision] table; every key is optional and defaults to :class:`DecisionRule`."""
    if not isinstance(table, dict):
        raise TaxonomyError(f"{source}: [decision] must be a table")
    defaults = DecisionRule()
    _reject_unknown_keys(table, set(defaults.__dataclass_fields__), "[decision]", source)
    values = {key: table.get(key, getattr(defaults, key)) for key in defaults.__dataclass_fields__}
    for key in ("max_repeats", "lead_words"):
        if isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 1:
            raise TaxonomyError(f"{source}: `decision.{key}` must be a positive integer")
    return DecisionRule(
        min_score=_number(values["min_score"], "decision.min_score", source, minimum=0.01),
        temperature=_number(values["temperature"], "decision.temperature", source, minimum=0.01),
        repeat_bonus=_number(values["repeat_bonus"], "decision.repeat_bonus", source, minimum=0.0),
        max_repeats=int(values["max_repeats"]),
        lead_words=int(values["lead_words"]),
        lead_boost=_number(values["lead_boost"], "decision.lead_boost", source, minimum=0.0),
    )


def _parse_calibration(table: object, source: str) -> Calibration | None:
    """The optional [calibration] table (see :class:`Calibration`)."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise TaxonomyError(f"{source}: [calibration] must be a table")
    keys = {"no_evidence", "other_edges", "other_confidence", "margin_edges", "topic_confidence", "note"}
    _reject_unknown_keys(table, keys, "[calibration]", source)

    def numbers(key: str) -> tuple[float, ...]:
        value = table.get(key)
        if not isinstance(value, list) or not value:
            raise TaxonomyError(f"{source}: `calibration.{key}` must be a non-empty array of numbers")
        return tuple(_number(item, f"calibration.{key}", source) for item in value)

    def probability(value: float, key: str) -> float:
        if not 0.0 < value <= 1.0:
            raise TaxonomyError(f"{source}: `calibration.{key}` values must be in (0, 1], got {value!r}")
        return value

    no_evidence = probability(_number(table.get("no_evidence"), "calibration.no_evidence", source), "no_evidence")
    edges = {key: numbers(key) for key in ("other_edges", "margin_edges")}
    values = {key: numbers(key) for key in ("other_confidence", "topic_confidence")}
    for edge_key, value_key in (("other_edges", "other_confidence"), ("margin_edges", "topic_confidence")):
        if edges[edge_key][0] != 0.0 or list(edges[edge_key]) != sorted(set(edges[edge_key])):
            raise TaxonomyError(f"{source}: `calibration.{edge_key}` must start at 0 and increase")
        if len(edges[edge_key]) != len(values[value_key]):
            raise TaxonomyError(f"{source}: `calibration.{value_key}` needs one value per `{edge_key}` entry")
        for value in values[value_key]:
            probability(value, value_key)
    return Calibration(
        no_evidence=no_evidence,
        other_edges=edges["other_edges"],
        other_confidence=values["other_confidence"],
        margin_edges=edges["margin_edges"],
        topic_confidence=values["topic_confidence"],
    )


def _string_list(value: object, name: str, source: str) -> list[str]:
    """A TOML array of non-empty strings."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise TaxonomyError(f"{source}: `{name}` must be an array of non-empty strings")
    return [item.strip() for item in value]


def _parse_morphology(table: object, source: str) -> Morphology:
    """The [morphology] table: clitics, suffixes and the ة-stem suffixes."""
    if not isinstance(table, dict):
        raise TaxonomyError(f"{source}: missing [morphology] table")
    keys = {"clitics", "suffixes", "teh_marbuta_suffixes"}
    _reject_unknown_keys(table, keys, "[morphology]", source)
    lists = {key: _string_list(table.get(key), f"morphology.{key}", source) for key in sorted(keys)}
    normalized = {key: normalize_words(values) for key, values in lists.items()}
    return Morphology(
        clitics=tuple(normalized["clitics"]),
        suffixes=tuple(normalized["suffixes"]),
        teh_marbuta_suffixes=tuple(normalized["teh_marbuta_suffixes"]),
    )


def _parse_contexts(table: object, source: str) -> tuple[tuple[str, ...], list[RawTerm]]:
    """The optional [contexts.NAME] tables: their names, and their terms (weight 0, topic ``@NAME``)."""
    if not isinstance(table, dict):
        raise TaxonomyError(f"{source}: [contexts] must be a table")
    if len(table) > MAX_CONTEXTS:
        raise TaxonomyError(f"{source}: at most {MAX_CONTEXTS} contexts, got {len(table)}")
    terms: list[RawTerm] = []
    for name, context in table.items():
        if not TOPIC_NAME.match(name):
            raise TaxonomyError(f"{source}: context name {name!r} must be lowercase [a-z0-9_]")
        if not isinstance(context, dict):
            raise TaxonomyError(f"{source}: [contexts.{name}] must be a table")
        _reject_unknown_keys(context, {"description", "terms"}, f"[contexts.{name}]", source)
        for term in _string_list(context.get("terms"), f"contexts.{name}.terms", source):
            _check_markup(term, f"contexts.{name}", source)
            terms.append(RawTerm(CONTEXT_MARK + name, term, 0.0))
    return tuple(table), terms


def _context_names(group: Mapping[str, object], key: str, known: set[str], where: str, source: str) -> tuple[str, ...]:
    """A group's ``blocked_by`` / ``unblocked_by`` list: names of [contexts.NAME] tables."""
    if key not in group:
        return ()
    names = _string_list(group[key], f"{where}.{key}", source)
    unknown = sorted(set(names) - known)
    if unknown:
        raise TaxonomyError(f"{source}: {where}.{key} names unknown context(s) {', '.join(unknown)}")
    return tuple(names)


def _parse_topics(table: object, contexts: set[str], source: str) -> list[RawTerm]:
    """The [topics.*] tables flattened to one :class:`RawTerm` per term, in file order."""
    if not isinstance(table, dict) or not table:
        raise TaxonomyError(f"{source}: no [topics.NAME] table")
    flattened: list[RawTerm] = []
    for name, topic in table.items():
        if not TOPIC_NAME.match(name) or name == OTHER_TOPIC:
            raise TaxonomyError(f"{source}: topic name {name!r} must be lowercase [a-z0-9_] and not {OTHER_TOPIC!r}")
        if not isinstance(topic, dict):
            raise TaxonomyError(f"{source}: [topics.{name}] must be a table")
        _reject_unknown_keys(topic, {"description", "group"}, f"[topics.{name}]", source)
        groups = topic.get("group")
        if not isinstance(groups, list) or not groups:
            raise TaxonomyError(f"{source}: topic {name!r} has no [[topics.{name}.group]] of terms")
        for number, group in enumerate(groups, start=1):
            where = f"topics.{name}.group #{number}"
            if not isinstance(group, dict):
                raise TaxonomyError(f"{source}: {where} must be a table")
            _reject_unknown_keys(group, {"weight", "terms", "note", "blocked_by", "unblocked_by"}, where, source)
            weight = _number(group.get("weight"), f"{where}.weight", source)
            blocked_by = _context_names(group, "blocked_by", contexts, where, source)
            unblocked_by = _context_names(group, "unblocked_by", contexts, where, source)
            if unblocked_by and not blocked_by:
                raise TaxonomyError(f"{source}: {where}.unblocked_by needs a blocked_by")
            for term in _string_list(group.get("terms"), f"{where}.terms", source):
                _check_markup(term, where, source)
                flattened.append(RawTerm(name, term, weight, blocked_by, unblocked_by))
        if not any(term.weight > 0 for term in flattened if term.topic == name):
            raise TaxonomyError(f"{source}: topic {name!r} has no term with a positive weight")
    return flattened


def _check_markup(term: str, where: str, source: str) -> None:
    """Reject markup a term cannot carry: "~" must end a word, "=" and "(ال)" only lead the term."""
    body = term.removeprefix(EXACT_MARK).removeprefix(OPTIONAL_ARTICLE)
    if EXACT_MARK in body or OPTIONAL_ARTICLE in body or not body.replace(INFLECT_MARK, "").strip():
        raise TaxonomyError(f"{source}: {where}: malformed term {term!r}")
    if term.startswith(EXACT_MARK + OPTIONAL_ARTICLE):
        raise TaxonomyError(f"{source}: {where}: `=` and `(ال)` cannot be combined in term {term!r}")
    if any(INFLECT_MARK in word.rstrip(INFLECT_MARK) for word in body.split()):
        raise TaxonomyError(f"{source}: {where}: `~` must end a word in term {term!r}")


# --- expansion into surface forms ---------------------------------------------------------------------


def matching_form(text: pl.Expr) -> pl.Expr:
    """The token-delimited string that surface forms are matched against (see ``GAP``)."""
    tokens = text.str.replace_all(PUNCTUATION_RUN, " ").str.replace_all(" ", GAP, literal=True)
    return pl.concat_str(pl.lit(" "), tokens, pl.lit(" "))


def _pad(*words: str) -> str:
    """A surface form as it appears in :func:`matching_form` output."""
    return " " + GAP.join(words) + " "


def _tokenize(values: Sequence[str]) -> list[list[str]]:
    """Split normalized strings into tokens with the same rule as :func:`matching_form`."""
    frame = pl.DataFrame({"value": list(values)}, schema={"value": pl.String})
    split = frame.select(pl.col("value").str.replace_all(TOKEN_SEPARATOR, " ").str.strip_chars())
    return [value.split() for value in split.to_series().to_list()]


def _expand_terms(
    raw_terms: list[RawTerm], morphology: Morphology, contexts: Sequence[str], source: str
) -> tuple[Term, ...]:
    """Normalize every term and expand it into its surface forms."""
    bits = {name: 1 << index for index, name in enumerate(contexts)}
    parsed = [_parse_markup(raw.text) for raw in raw_terms]
    # Normalize word by word so that "~" stays attached to the word it marks.
    words = [word for _, _, term_words in parsed for word, _ in term_words]
    tokens = iter(_tokenize(normalize_words(words)))
    terms = []
    for raw, (exact, optional_article, term_words) in zip(raw_terms, parsed, strict=True):
        topic, text = raw.topic, raw.text
        token_forms: list[list[str]] = []
        for _, inflect in term_words:
            # A written word may tokenize into several tokens ("s&p"): only the last one inflects.
            pieces = next(tokens)
            token_forms.extend([piece] for piece in pieces[:-1])
            if pieces:
                token_forms.append(_suffix_forms(pieces[-1], morphology) if inflect else pieces[-1:])
        if not token_forms:
            raise TaxonomyError(f"{source}: term {text!r} of topic {topic!r} has no letters or digits")
        token_forms[0] = _prefix_forms(token_forms[0], morphology, exact=exact, optional_article=optional_article)
        terms.append(
            Term(
                topic=topic,
                text=text,
                weight=raw.weight,
                surfaces=tuple(_cartesian(token_forms)),
                blocked_by=sum(bits[name] for name in raw.blocked_by),
                unblocked_by=sum(bits[name] for name in raw.unblocked_by),
            )
        )
    return tuple(terms)


def _parse_markup(text: str) -> tuple[bool, bool, list[tuple[str, bool]]]:
    """Split a term into (exact?, optional article?, [(word, inflectable?)])."""
    exact = text.startswith(EXACT_MARK)
    body = text.removeprefix(EXACT_MARK)
    optional_article = body.startswith(OPTIONAL_ARTICLE)
    body = body.removeprefix(OPTIONAL_ARTICLE)
    words = [(word.rstrip(INFLECT_MARK), word.endswith(INFLECT_MARK)) for word in body.split()]
    return exact, optional_article, [(word, inflect) for word, inflect in words if word]


def _suffix_forms(word: str, morphology: Morphology) -> list[str]:
    """The word and its inflected forms; a final ة becomes ت before suffixes."""
    if not is_arabic(word[0]):
        return [word]
    if word.endswith(TEH_MARBUTA):
        stem = word[: -len(TEH_MARBUTA)]
        return [word, *(stem + suffix for suffix in morphology.teh_marbuta_suffixes)]
    return [word, *(word + suffix for suffix in morphology.suffixes)]


def _prefix_forms(forms: list[str], morphology: Morphology, *, exact: bool, optional_article: bool) -> list[str]:
    """Attach clitic prefixes (and the article where the term allows it) to the first word."""
    if exact or not is_arabic(forms[0][0]):
        return forms
    result: list[str] = []
    for form in forms:
        if form.startswith(ARTICLE) and len(form) > len(ARTICLE) + 1:
            result.extend(article_forms(form[len(ARTICLE) :], morphology.clitics))
            continue
        result.extend([form, *(clitic + form for clitic in morphology.clitics)])
        if optional_article:
            result.extend(article_forms(form, morphology.clitics))
    return result


def _cartesian(word_forms: list[list[str]]) -> list[str]:
    """Every combination of word forms, as padded surface forms, de-duplicated in order."""
    combos: list[list[str]] = [[]]
    for forms in word_forms:
        combos = [[*combo, form] for combo in combos for form in dict.fromkeys(forms)]
    return list(dict.fromkeys(_pad(*combo) for combo in combos if combo))


# --- classification ---------------------------------------------------------------------------------


def classify_topics(segments: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """Append ``topic``, ``topic_confidence``, ``topic_scores`` and ``matched_terms`` to ``segments``."""
    # The first call in a process compiles the taxonomy's matcher in every polars thread that runs a
    # part (~0.2 s each, see REGEX_MIN_PATTERNS); later calls, of any batch size, reuse it.
    if "text_norm" not in segments.columns:
        raise ValueError("classify_topics needs a `text_norm` column")
    if segments.schema["text_norm"] != pl.String:
        raise TypeError(f"`text_norm` must be pl.String, got {segments.schema['text_norm']}")
    base = segments.drop(TOPIC_COLUMNS, strict=False)
    texts = base.select("text_norm")
    # Feeds repeat lines (teasers, boilerplate, wire copy) and the result depends on the text alone:
    # each distinct text is classified once, and its repeats look the result up.
    distinct = texts.unique(maintain_order=True)
    decided = _classify_texts(distinct, taxonomy)
    if distinct.height < texts.height:
        decided = texts.join(
            pl.concat([distinct, decided], how="horizontal"),
            on="text_norm",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        ).drop("text_norm")
    return pl.concat([base, decided], how="horizontal")


def _classify_texts(texts: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """The :data:`TOPIC_COLUMNS` of every row of ``texts`` (a ``text_norm`` column)."""
    # Rows are independent: one query per slice of rows lets ``collect_all`` run them on all cores
    # (a single query scans on one core: polars runs a chain of string expressions sequentially).
    parts = max(1, min(pl.thread_pool_size(), texts.height // MIN_ROWS_PER_QUERY))
    size = max(1, -(-texts.height // parts))
    # An empty frame still gets one (empty) query, which gives the columns their types.
    slices = [texts.slice(offset, size) for offset in range(0, max(texts.height, 1), size)]
    evidence = [_row_evidence(part.lazy(), taxonomy) for part in slices]
    vote = taxonomy.model_vote
    if vote is not None:
        # The terms' scores are materialized first: the model only looks at the texts they left undecided.
        scores = pl.collect_all(evidence, engine="in-memory")
        evidence = [_with_model_vote(part, found, taxonomy, vote) for part, found in zip(slices, scores, strict=True)]
    queries = [_decide(found, taxonomy, part.height) for part, found in zip(slices, evidence, strict=True)]
    # The in-memory engine: the streaming one splits each query into morsels, which costs more here.
    # One chunk: gathering (joining) list columns spread over chunks is ten times slower.
    return pl.concat(pl.collect_all(queries, engine="in-memory"), how="vertical").rechunk()


def _row_evidence(texts: pl.LazyFrame, taxonomy: Taxonomy) -> pl.LazyFrame:
    """Per row: one score column per topic (``s0``, ``s1``, …) and the ``matched_terms`` list."""
    rows = texts.with_row_index(_ROW)
    topic_count = len(taxonomy.topic_names)
    per_row = (
        _term_hits(rows, taxonomy)
        # Hits come sorted by row: telling polars lets it group by slicing instead of hashing.
        .with_columns(pl.col(_ROW).set_sorted())
        .group_by(_ROW, maintain_order=True)
        .agg(
            *(
                pl.col("contribution").filter(pl.col("topic_idx") == index).sum().alias(f"s{index}")
                for index in range(topic_count)
            ),
            # Only evidence FOR a topic is listed: shields (weight 0) merely protect their words, an
            # anti term listed under a topic would read as support for it, and a blocked term is no
            # evidence at all (contexts have weight 0 too).
            pl.struct("topic", "term").filter(pl.col("contribution") > 0).alias("matched_terms"),
        )
    )
    return (
        rows.select(_ROW)
        .join(per_row, on=_ROW, how="left", maintain_order="left")
        .select(
            *(pl.col(f"s{index}").fill_null(0.0).clip(lower_bound=0.0) for index in range(topic_count)),
            pl.col("matched_terms").fill_null(pl.lit([], dtype=MATCHED_TERMS_DTYPE)),
        )
    )


def _with_model_vote(texts: pl.DataFrame, evidence: pl.DataFrame, taxonomy: Taxonomy, vote: ModelVote) -> pl.LazyFrame:
    """``evidence`` (the lexicon's scores of ``texts``, row by row) with the taxonomy's [model] ``vote`` added."""
    scores = [pl.col(f"s{index}") for index in range(len(taxonomy.topic_names))]
    # The model backs the lexicon, never overrules it: it votes only where no topic reached
    # ``min_score`` on its terms, i.e. where the lexicon alone would say ``other``; only those texts
    # are scored (the model costs more than the lexicon's scan).
    rows = pl.concat([texts.select("text_norm"), evidence], how="horizontal").lazy().with_row_index(_ROW)
    undecided = rows.filter(pl.max_horizontal(scores) < taxonomy.rule.min_score).select(_ROW, "text_norm")
    votes = class_probabilities(undecided, _ROW, vote.model)
    sure = pl.col("model_probability").fill_null(0.0) >= vote.min_probability
    return rows.join(votes, on=_ROW, how="left", maintain_order="left").select(
        *(
            score + pl.when(sure & (pl.col("model_topic") == name)).then(vote.vote).otherwise(0.0)
            if name in vote.topics
            else score
            for name, score in zip(taxonomy.topic_names, scores, strict=True)
        ),
        pl.col("matched_terms"),
    )


def _term_hits(rows: pl.LazyFrame, taxonomy: Taxonomy) -> pl.LazyFrame:
    """One row per (segment, term) hit, in segment then taxonomy order, with its ``contribution``."""
    rule = taxonomy.rule
    hits = _surface_hits(rows, taxonomy).join(taxonomy.surface_table.lazy(), on="surface", how="inner")
    # One integer key per (segment, term): cheaper to sort and group than two columns.  Sorting first
    # lets the group_by slice sorted groups, three times faster than hashing and sorting after.
    term_count = len(taxonomy.terms)
    key = pl.col(_ROW).cast(pl.UInt64) * term_count + pl.col("term_idx").cast(pl.UInt64)
    per_term = (
        hits.select(key.alias("key"), "is_lead")
        .sort("key")
        .group_by("key", maintain_order=True)
        .agg(pl.len().alias("occurrences"), pl.col("is_lead").any().alias("in_lead"))
    )
    term_idx = (pl.col("key") % term_count).cast(pl.UInt32)
    topic_idx = _gather(taxonomy.term_topics, term_idx)
    weight = _gather(taxonomy.term_weights, term_idx)
    repeats = (pl.col("occurrences").clip(upper_bound=rule.max_repeats) - 1).cast(pl.Float64)
    lead_factor = pl.when(pl.col("in_lead")).then(1.0 + rule.lead_boost).otherwise(1.0)
    hits_per_term = per_term.select(
        (pl.col("key") // term_count).cast(pl.UInt32).alias(_ROW),
        topic_idx.alias("topic_idx"),
        _gather(taxonomy.label_names, topic_idx).alias("topic"),
        _gather(taxonomy.term_texts, term_idx).alias("term"),
        (weight * (1.0 + rule.repeat_bonus * repeats) * lead_factor).alias("contribution"),
        *((_gather(taxonomy.term_blocks, term_idx).alias("blocks"),) if taxonomy.contexts else ()),
        *((_gather(taxonomy.term_unblocks, term_idx).alias("unblocks"),) if taxonomy.contexts else ()),
    )
    if not taxonomy.contexts:
        return hits_per_term
    return hits_per_term.with_columns(
        pl.when(_blocked(taxonomy)).then(0.0).otherwise(pl.col("contribution")).alias("contribution")
    ).drop("blocks", "unblocks")


def _blocked(taxonomy: Taxonomy) -> pl.Expr:
    """Per (segment, term) hit: a context of its ``blocked_by`` occurs and none of its ``unblocked_by``."""
    # Bit k of the segment's context set is on when any hit of the segment belongs to context k:
    # one window over the hits (already sorted by segment), whatever the number of contexts.
    bits = [0] * len(taxonomy.topic_names) + [1 << k for k in range(len(taxonomy.contexts))]
    present = _gather(bits, pl.col("topic_idx")).bitwise_or().over(_ROW)
    blocks, unblocks = pl.col("blocks"), pl.col("unblocks")
    return ((present & blocks) != 0) & ((present & unblocks) == 0)


def _surface_hits(rows: pl.LazyFrame, taxonomy: Taxonomy) -> pl.LazyFrame:
    """Every surface form found in every segment (``_ROW``, ``surface``, ``is_lead``), in text order."""
    rule = taxonomy.rule
    scan = pl.col("scan")
    # The lede is scanned apart (a phrase may cross its end, so its hits are not simply the first
    # hits of the whole text); with no lede boost its hits do not matter.
    no_lead = pl.lit(0, dtype=pl.UInt32)
    lead_hits = _count(lead_of(scan, rule.lead_words), taxonomy) if rule.lead_boost > 0 else no_lead
    hit_count = pl.col("surface").list.len()
    return (
        rows.select(_ROW, matching_form(pl.col("text_norm")).alias("scan"))
        .select(_ROW, _find(scan, taxonomy).alias("surface"), lead_hits.alias("lead_hits"))
        # Where each segment's hits start once exploded: hits come back in text order, so a
        # segment's first `lead_hits` hits are its lede hits.
        .with_columns((hit_count.cum_sum() - hit_count).alias("first_hit"))
        .explode("surface", empty_as_null=False, keep_nulls=False)
        .select(
            _ROW,
            "surface",
            (pl.int_range(pl.len(), dtype=pl.UInt32) < pl.col("first_hit") + pl.col("lead_hits")).alias("is_lead"),
        )
    )


def _find(scan: pl.Expr, taxonomy: Taxonomy) -> pl.Expr:
    """All non-overlapping surface forms in ``scan``, longest first at each position (Aho-Corasick)."""
    if taxonomy.pattern_regex is not None:
        return scan.str.extract_all(taxonomy.pattern_regex)
    return scan.str.extract_many(pl.lit(taxonomy.pattern_list), leftmost=True)


def _count(scan: pl.Expr, taxonomy: Taxonomy) -> pl.Expr:
    """How many surface forms :func:`_find` finds in ``scan``, without building the list."""
    if taxonomy.pattern_regex is not None:
        return scan.str.count_matches(taxonomy.pattern_regex)
    return _find(scan, taxonomy).list.len()


def _regex_literal(text: str) -> str:
    """``text`` as a regex matching exactly itself."""
    return "".join("\\" + char if char in REGEX_META else char for char in text)


def _gather(values: Sequence[object], index: pl.Expr) -> pl.Expr:
    """``values[index]`` for every row: a vectorized lookup in a small constant table."""
    return pl.lit(pl.Series(values)).gather(index)


def lead_of(matching: pl.Expr, lead_words: int) -> pl.Expr:
    """The first ``lead_words`` tokens (the lede) of a :func:`matching_form` string, same format."""
    # The whole match (group 0) needs no capture groups: a faster regex engine does the work.
    return matching.str.extract(rf"^(?: [^ ]+ ){{1,{lead_words}}}", 0).fill_null("")


def _decide(evidence: pl.LazyFrame, taxonomy: Taxonomy, height: int) -> pl.LazyFrame:
    """Pick the topic (or ``other``) and its confidence from the per-topic scores of ``height`` rows."""
    rule = taxonomy.rule
    names = taxonomy.topic_names
    scores = [pl.col(f"s{index}") for index in range(len(names))]
    best = pl.max_horizontal(scores)
    is_topic = best >= rule.min_score
    topic = pl.lit(None, dtype=pl.String)
    # Walk the topics backwards so that ties go to the topic listed first in the taxonomy.
    for name, score in reversed(list(zip(names, scores, strict=True))):
        topic = pl.when(score == best).then(pl.lit(name)).otherwise(topic)
    chosen = pl.when(is_topic).then(best).otherwise(pl.lit(rule.min_score))
    if taxonomy.calibration is None:
        confidence = _confidence(scores, chosen, rule)
    else:
        level = _level(best, _runner_up(scores, best), rule.min_score, taxonomy.calibration)
        confidence = _gather(taxonomy.calibration.confidences, level)
    return evidence.select(
        pl.when(is_topic).then(topic).otherwise(pl.lit(OTHER_TOPIC)).alias("topic"),
        confidence.cast(pl.Float64).alias("topic_confidence"),
        _topic_scores(scores, names, height).alias("topic_scores"),
        pl.col("matched_terms"),
    ).cast({"topic_scores": TOPIC_SCORES_DTYPE, "matched_terms": MATCHED_TERMS_DTYPE})


def _runner_up(scores: Sequence[pl.Expr], best: pl.Expr) -> pl.Expr:
    """The second-highest score: ``best`` itself when two topics tie for it, 0 with one topic."""
    below = [pl.when(score < best).then(score).otherwise(0.0) for score in scores]
    ties = pl.sum_horizontal([(score == best).cast(pl.UInt32) for score in scores])
    return pl.when(ties > 1).then(best).otherwise(pl.max_horizontal(*below, pl.lit(0.0)))


def _level(best: pl.Expr, runner_up: pl.Expr, min_score: float, calibration: Calibration) -> pl.Expr:
    """The evidence level (index into ``calibration.confidences``) of a decision."""
    other_level = pl.lit(1, dtype=pl.UInt32)
    for edge in calibration.other_edges[1:]:
        other_level = other_level + (best >= edge).cast(pl.UInt32)
    margin = best - pl.max_horizontal(runner_up, pl.lit(min_score))
    topic_level = pl.lit(1 + len(calibration.other_edges), dtype=pl.UInt32)
    for edge in calibration.margin_edges[1:]:
        topic_level = topic_level + (margin >= edge).cast(pl.UInt32)
    return (
        pl.when(best >= min_score)
        .then(topic_level)
        .when(best > 0)
        .then(other_level)
        .otherwise(pl.lit(0, dtype=pl.UInt32))
    )


def evidence_level(taxonomy: Taxonomy) -> pl.Expr:
    """The evidence level name of classified rows, from their ``topic_scores`` (for calibration studies)."""
    if taxonomy.calibration is None:
        raise ValueError(f"{taxonomy.source}: no [calibration] table")
    ranked = pl.col("topic_scores").list.eval(pl.element().struct.field("score")).list.sort(descending=True)
    best = ranked.list.get(0, null_on_oob=True).fill_null(0.0)
    runner_up = ranked.list.get(1, null_on_oob=True).fill_null(0.0)
    level = _level(best, runner_up, taxonomy.rule.min_score, taxonomy.calibration)
    return _gather(taxonomy.calibration.level_names, level)


def _topic_scores(scores: list[pl.Expr], names: Sequence[str], height: int) -> pl.Expr:
    """Per row, the list of (topic, score) structs in taxonomy order, for ``height`` rows."""
    # Built flat and reshaped into rows: ``concat_list(scores).list.eval(struct)`` costs 20x more.
    count = len(names)
    flat = pl.int_range(height * count)
    stacked = scores[0]
    for score in scores[1:]:
        stacked = stacked.append(score)
    return (
        pl.struct(
            pl.lit(pl.Series(names, dtype=pl.String)).gather(flat % count).alias("topic"),
            # Row r's score of topic t sits at t * height + r in the stacked score columns.
            stacked.gather(flat % count * height + flat // count).alias("score"),
        )
        .reshape((height, count))
        .arr.to_list()
    )


def _confidence(scores: list[pl.Expr], chosen: pl.Expr, rule: DecisionRule) -> pl.Expr:
    """Softmax share of the chosen label: ``other`` at ``min_score``, topics with evidence, one unseen topic."""
    # Logits are divided by the temperature.  The "unseen" entry at 0 stands for a topic whose words
    # the taxonomy missed; topics without any evidence get no share, so a text with no hits at all
    # is ``other`` with a high but not absolute confidence (about 0.87 with the packaged numbers).
    temperature = rule.temperature
    # Shift every logit by the largest one so exp() never overflows.
    shift = pl.max_horizontal(*scores, pl.lit(rule.min_score))
    terms = [((pl.lit(rule.min_score) - shift) / temperature).exp(), (-shift / temperature).exp()]
    terms += [pl.when(score > 0).then(((score - shift) / temperature).exp()).otherwise(0.0) for score in scores]
    return (((chosen - shift) / temperature).exp() / pl.sum_horizontal(terms)).clip(0.0, 1.0)


def topic_terms(taxonomy: Taxonomy, topic: str) -> Iterable[Term]:
    """The terms of one topic, in file order (for docs and debugging)."""
    return (term for term in taxonomy.terms if term.topic == topic)
