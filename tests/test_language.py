"""Language detection: deterministic, once per distinct text, null without letters."""

from __future__ import annotations

import polars as pl

from akhbar.language import detect_languages


def test_languages_of_arabic_english_and_no_letters() -> None:
    segments = pl.DataFrame(
        {
            "text_norm": [
                "اعلن وزير الخارجية عن زيارة رسمية الي العاصمة الاسبوع المقبل",
                "the central bank kept interest rates unchanged on thursday",
                "2025/8/1 - 10:08 %",
                "",
            ]
        }
    )
    result = detect_languages(segments)
    assert result.get_column("lang").to_list() == ["ar", "en", None, None]
    probabilities = result.get_column("lang_prob").to_list()
    assert all(p is not None and 0.5 < p <= 1.0 for p in probabilities[:2])
    assert probabilities[2:] == [None, None]


def test_detection_is_deterministic_and_keeps_row_order() -> None:
    texts = ["هذا خبر عن الاقتصاد المحلي", "ceci est une phrase en francais", "هذا خبر عن الاقتصاد المحلي"] * 3
    frame = pl.DataFrame({"row": list(range(len(texts))), "text_norm": texts})
    first = detect_languages(frame)
    second = detect_languages(frame)
    assert first.get_column("row").to_list() == list(range(len(texts)))
    assert first.equals(second)
    assert first.get_column("lang").to_list() == ["ar", "fr", "ar"] * 3
