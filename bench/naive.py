"""The baseline: the script a user would write without akhbar (pandas + pyarabic + langdetect).

Per row, in Python: pyarabic normalization, langdetect on the whole text, a loop over twenty
keywords; then one ``to_parquet``. The whole file is held in memory, as such scripts do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarabic.araby as araby
from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException
from sentences import NAIVE_KEYWORDS

DetectorFactory.seed = 0


def normalize(text: str) -> str:
    """pyarabic's usual chain: diacritics, tatweel, hamza and ligature forms, alef maqsura."""
    text = araby.strip_tashkeel(text)
    text = araby.strip_tatweel(text)
    text = araby.normalize_ligature(text)
    text = araby.normalize_hamza(text, method="tasheel")
    return text.replace("ى", "ي")


def language(text: str) -> tuple[str | None, float | None]:
    """langdetect's best guess for the whole text."""
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return None, None
    return best.lang, best.prob


NORMALIZED_KEYWORDS = {topic: [normalize(k) for k in words] for topic, words in NAIVE_KEYWORDS.items()}


def topic(text: str) -> str:
    """The topic with most keyword hits, or 'other'."""
    best, best_hits = "other", 0
    for name, keywords in NORMALIZED_KEYWORDS.items():
        hits = 0
        for keyword in keywords:
            if keyword in text:
                hits += 1
        if hits > best_hits:
            best, best_hits = name, hits
    return best


def read_lines(path: Path) -> pd.DataFrame:
    """Non-blank lines of a file with their line numbers."""
    rows = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            text = line.strip()
            if text:
                rows.append((line_no, text))
    return pd.DataFrame(rows, columns=["line_no", "text"])


def naive_ingest(path: Path, output: Path) -> int:
    """Clean, detect, classify and write one file; return the number of segments."""
    frame = read_lines(path)
    frame["text_norm"] = frame["text"].apply(normalize)
    detected = frame["text_norm"].apply(language)
    frame["lang"] = [lang for lang, _ in detected]
    frame["lang_prob"] = [prob for _, prob in detected]
    frame["topic"] = frame["text_norm"].apply(topic)
    frame.to_parquet(output, index=False)
    return len(frame)
