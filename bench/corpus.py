"""A deterministic benchmark corpus of Arabic news lines, generated from ``bench/sentences.py``.

Lines look like feed exports: paragraphs of one to five sentences of one topic, teasers cut short
with an ellipsis, datelines and bylines, a few English and French wire lines, blank lines, and the
noise scrapes carry (diacritics, tatweel, Arabic-Indic digits, bidi marks, presentation forms).
Feeds re-send teasers: with probability ``repeat_rate`` a line is an exact copy of one of the last
``REPEAT_WINDOW`` lines. The measured share of exact repeats is written to the manifest.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sentences import FOREIGN_SENTENCES, SHORT_LINES, SLOTS, TEMPLATES

#: Bump when the generator changes, so cached corpora are regenerated.
GENERATOR_VERSION = 3
MB = 1_000_000
#: Probability that a line re-sends one of the recent lines (feeds repeat teasers).
DEFAULT_REPEAT_RATE = 0.05
#: How far back a repeated line is drawn from.
REPEAT_WINDOW = 5_000

TOPIC_WEIGHTS = {"diplomacy": 0.3, "gold_prices": 0.15, "football": 0.2, "markets": 0.2, "other": 0.15}
#: Share of lines of each kind (the rest are Arabic paragraphs).
FOREIGN_SHARE = {"en": 0.03, "fr": 0.01}
SHORT_LINE_SHARE = 0.04
BLANK_LINE_SHARE = 0.05
TEASER_SHARE = 0.3
OFF_TOPIC_SENTENCE_SHARE = 0.15
#: Noise applied to Arabic paragraphs, each independently.
DIACRITICS_SHARE = 0.03
TATWEEL_SHARE = 0.02
INDIC_DIGITS_SHARE = 0.03
BIDI_MARK_SHARE = 0.01
LIGATURE_SHARE = 0.01

#: A teaser is cut from a sentence with a name or figure in its first characters (real ledes have one).
LEDE_SLOT_WITHIN = 40

HARAKAT = "\u064e\u064f\u0650\u0651\u0652\u064b"
INDIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
ELLIPSES = ("…", "...", " ...")

Template = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate: total size, number of files, seed and repeat probability."""

    megabytes: float
    files: int = 8
    seed: int = 7
    repeat_rate: float = DEFAULT_REPEAT_RATE

    @property
    def name(self) -> str:
        """Folder name identifying the corpus (and its generator version)."""
        return f"corpus-{self.megabytes:g}mb-{self.files}f-s{self.seed}-r{self.repeat_rate:g}-v{GENERATOR_VERSION}"


@dataclass
class CorpusStats:
    """Measured facts about a generated corpus."""

    bytes: int = 0
    lines: int = 0
    blank_lines: int = 0
    non_blank_lines: int = 0
    #: Lines the generator deliberately re-sent (the rest of the duplicates are natural collisions).
    resent_lines: int = 0
    exact_duplicate_lines: int = 0

    @property
    def duplicate_share(self) -> float:
        """Share of non-blank lines whose exact text already appeared earlier in the corpus."""
        return self.exact_duplicate_lines / self.non_blank_lines if self.non_blank_lines else 0.0


def parse_template(text: str) -> Template:
    """Split a template into (literal, slot name or None) parts once, for fast filling."""
    return tuple((literal, field) for literal, field, _, _ in string.Formatter().parse(text))


def is_lede(template: Template) -> bool:
    """True when a slot comes early: a teaser cut from it still names who, where or how much."""
    prefix_length = 0
    for literal, slot in template:
        prefix_length += len(literal)
        if slot:
            return prefix_length <= LEDE_SLOT_WITHIN
    return False


class LineGenerator:
    """Deterministic source of corpus lines for one file."""

    def __init__(self, rng: random.Random, repeat_rate: float) -> None:
        self.rng = rng
        self.repeat_rate = repeat_rate
        self.recent: list[str] = []
        self.resent = 0
        self.templates = {topic: [parse_template(t) for t in ts] for topic, ts in TEMPLATES.items()}
        self.ledes = {topic: [t for t in templates if is_lede(t)] for topic, templates in self.templates.items()}
        self.foreign = {lang: [parse_template(t) for t in ts] for lang, ts in FOREIGN_SENTENCES.items()}
        self.short = [parse_template(t) for t in SHORT_LINES]
        self.topics = list(TOPIC_WEIGHTS)
        self.topic_weights = list(TOPIC_WEIGHTS.values())

    def number(self, slot: str) -> str:
        """A generated figure for a numeric slot."""
        rng = self.rng
        if slot == "n":
            return str(rng.randint(2, 30))
        if slot == "nn":
            return str(rng.randint(100, 999))
        if slot == "nnn":
            return f"{rng.randint(1_000, 99_999):,}"
        if slot == "pct":
            return f"{rng.randint(1, 499) / 100:.2f}"
        if slot == "price":
            return f"{rng.randint(1_000, 5_000):,}.{rng.randint(0, 99):02d}"
        if slot == "score":
            return f"{rng.randint(0, 5)}-{rng.randint(0, 4)}"
        if slot == "year":
            return str(rng.randint(2019, 2025))
        if slot == "minute":
            return str(rng.randint(1, 90))
        if slot == "temp":
            return str(rng.randint(35, 52))
        raise KeyError(slot)

    def fill(self, template: Template) -> str:
        """A template with every slot filled."""
        return self.fill_marked(template)[0]

    def fill_marked(self, template: Template) -> tuple[str, int]:
        """A filled template and where its second slot value ends (its first, if it has one only)."""
        parts: list[str] = []
        length = mark = slots = 0
        for literal, slot in template:
            parts.append(literal)
            length += len(literal)
            if slot:
                values = SLOTS.get(slot)
                parts.append(self.rng.choice(values) if values else self.number(slot))
                length += len(parts[-1])
                slots += 1
                if slots <= 2:
                    mark = length
        return "".join(parts), mark

    def paragraph(self) -> str:
        """An Arabic paragraph (or teaser) of one topic, with an occasional off-topic sentence."""
        rng = self.rng
        topic = rng.choices(self.topics, self.topic_weights)[0]
        if rng.random() < TEASER_SHARE:
            return self.teaser(topic)
        sentences = []
        for _ in range(rng.randint(2, 5)):
            source = rng.choice(self.topics) if rng.random() < OFF_TOPIC_SENTENCE_SHARE else topic
            sentences.append(self.fill(rng.choice(self.templates[source])))
        return self.add_noise(" ".join(sentences))

    def teaser(self, topic: str) -> str:
        """A lede cut short with an ellipsis, never before its first names and figures."""
        sentence, mark = self.fill_marked(self.rng.choice(self.ledes[topic]))
        cut = max(mark, int(len(sentence) * self.rng.uniform(0.5, 0.85)))
        end = sentence.find(" ", cut)
        return (sentence if end < 0 else sentence[:end]).rstrip(".") + self.rng.choice(ELLIPSES)

    def add_noise(self, text: str) -> str:
        """The artefacts scraped Arabic text carries, each with its own small probability."""
        rng = self.rng
        if rng.random() < DIACRITICS_SHARE:
            text = "".join(c + rng.choice(HARAKAT) if "\u0628" <= c <= "\u064a" and rng.random() < 0.3 else c
                           for c in text)
        if rng.random() < TATWEEL_SHARE:
            text = text.replace("ال", "الـ", 2)
        if rng.random() < INDIC_DIGITS_SHARE:
            text = text.translate(INDIC_DIGITS)
        if rng.random() < BIDI_MARK_SHARE:
            text = "\u200f" + text.replace(" ", " \u200c", 3)
        if rng.random() < LIGATURE_SHARE:
            text = text.replace("لا", "\ufefb")
        return text

    def fresh_line(self) -> str:
        """A newly generated line of any kind."""
        rng = self.rng
        draw = rng.random()
        if draw < FOREIGN_SHARE["en"]:
            return self.fill(rng.choice(self.foreign["en"]))
        draw -= FOREIGN_SHARE["en"]
        if draw < FOREIGN_SHARE["fr"]:
            return self.fill(rng.choice(self.foreign["fr"]))
        draw -= FOREIGN_SHARE["fr"]
        if draw < SHORT_LINE_SHARE:
            return self.fill(rng.choice(self.short))
        return self.paragraph()

    def __iter__(self) -> Iterator[str]:
        """Lines forever: blank lines, repeats of recent lines, fresh lines."""
        rng = self.rng
        while True:
            if rng.random() < BLANK_LINE_SHARE:
                yield ""
                continue
            if self.recent and rng.random() < self.repeat_rate:
                self.resent += 1
                yield rng.choice(self.recent)
                continue
            line = self.fresh_line()
            self.recent.append(line)
            if len(self.recent) > REPEAT_WINDOW * 2:
                del self.recent[:REPEAT_WINDOW]
            yield line


def write_file(path: Path, target_bytes: int, generator: LineGenerator, seen: set[int], stats: CorpusStats) -> None:
    """Write lines until the file holds ``target_bytes``, updating the measured statistics."""
    written = 0
    batch: list[str] = []
    with path.open("wb") as handle:
        for line in generator:
            encoded = len(line.encode("utf-8")) + 1
            batch.append(line)
            written += encoded
            stats.lines += 1
            if line:
                stats.non_blank_lines += 1
                key = hash(line)
                if key in seen:
                    stats.exact_duplicate_lines += 1
                else:
                    seen.add(key)
            else:
                stats.blank_lines += 1
            if len(batch) >= 10_000 or written >= target_bytes:
                handle.write(("\n".join(batch) + "\n").encode("utf-8"))
                batch = []
            if written >= target_bytes:
                break
    stats.bytes += path.stat().st_size
    stats.resent_lines += generator.resent


def generate_corpus(spec: CorpusSpec, root: Path) -> tuple[list[Path], dict[str, object]]:
    """Generate (or reuse) the corpus under ``root``; return its files and manifest."""
    folder = root / spec.name
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        manifest: dict[str, object] = json.loads(manifest_path.read_text())
        return sorted((folder / "files").glob("*.txt")), manifest
    files_dir = folder / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    stats = CorpusStats()
    seen: set[int] = set()
    paths = []
    per_file = int(spec.megabytes * MB / spec.files)
    for index in range(spec.files):
        path = files_dir / f"feed_{index:03d}.txt"
        generator = LineGenerator(random.Random(spec.seed * 1_000 + index), spec.repeat_rate)
        write_file(path, per_file, generator, seen, stats)
        paths.append(path)
    manifest = {
        "spec": asdict(spec),
        "generator_version": GENERATOR_VERSION,
        **asdict(stats),
        "exact_duplicate_share": round(stats.duplicate_share, 4),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return paths, manifest


def head_sample(source: Path, target: Path, megabytes: float) -> Path:
    """The first ``megabytes`` of a file, cut at a line end: the deterministic sample for slow variants."""
    if target.exists():
        return target
    with source.open("rb") as handle:
        data = handle.read(int(megabytes * MB))
    cut = data.rfind(b"\n")
    target.write_bytes(data[: cut + 1])
    return target


def sample_duplicate_share(path: Path) -> float:
    """Share of non-blank lines of a file that repeat an earlier line of the same file."""
    seen: set[str] = set()
    lines = repeats = 0
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if not line:
                continue
            lines += 1
            if line in seen:
                repeats += 1
            seen.add(line)
    return repeats / lines if lines else 0.0
