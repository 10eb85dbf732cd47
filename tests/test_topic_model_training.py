"""Training the topic model (bench/topic_model.py): akhbar scores what scikit-learn trained, exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_series_equal
from sklearn.linear_model import LogisticRegression

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

from topic_model import as_topic_model, design_matrix, fit_model, vocabulary_of  # noqa: E402

from akhbar.normalize import normalize_text  # noqa: E402
from akhbar.topic_model import class_probabilities, load_topic_model, write_topic_model  # noqa: E402

# Sentences written for this test, three per label, with words the labels share.
SENTENCES = {
    "diplomacy": [
        "استقبل وزير الخارجية نظيره الفرنسي وبحثا العلاقات بين البلدين",
        "دعت الحكومة سفير الدولة الجارة الى توضيح موقف بلاده من الاتفاق",
        "وقع البلدان اتفاق تعاون بحضور رئيسي الحكومتين في القمة",
    ],
    "football": [
        "فاز الفريق على منافسه بهدفين في مباراة الدوري امس",
        "سجل المهاجم هدف الفوز في الدقيقة الاخيرة من المباراة",
        "تعاقد النادي مع مدرب جديد قبل بداية الموسم في الدوري",
    ],
    "other": [
        "افتتح المهرجان الثقافي بحضور عدد من الفنانين في المدينة",
        "ارتفعت درجات الحرارة في المدينة امس وسط توقعات بالامطار",
        "اعلنت وزارة الصحة عن حملة جديدة في المدينة قبل بداية الموسم",
    ],
}
UNSEEN = ["بحث الوزير مع نظيره اتفاق التعاون", "هدف في الدقيقة الاخيرة", "كلمات لم يرها النموذج قط", ""]


def labeled() -> pl.DataFrame:
    rows = [(text, label) for label, texts in SENTENCES.items() for text in texts]
    frame = pl.DataFrame(rows, schema=["text", "label"], orient="row")
    return frame.with_columns(normalize_text(pl.col("text")).alias("text_norm"))


def test_akhbar_scores_a_trained_model_as_scikit_learn_does(tmp_path: Path) -> None:
    training = labeled()
    vocabulary = vocabulary_of(training, min_rows=1)
    classifier = LogisticRegression(C=3.0, max_iter=5000).fit(
        design_matrix(training, vocabulary), training.get_column("label").to_numpy()
    )
    path = tmp_path / "model.parquet"
    write_topic_model(as_topic_model(classifier, vocabulary, source="test", trained_on="test"), path)
    model = load_topic_model(path)

    texts = pl.concat([training.select("text_norm"), pl.DataFrame({"text_norm": UNSEEN})])
    expected = classifier.predict_proba(design_matrix(texts, vocabulary))
    scored = class_probabilities(texts.lazy().with_row_index("row"), "row", model).collect()
    assert_series_equal(
        scored.get_column("model_topic"),
        pl.Series("model_topic", classifier.classes_[expected.argmax(axis=1)], dtype=pl.String),
    )
    # The weights are stored as Float32: probabilities agree to float32 precision.
    assert np.allclose(scored.get_column("model_probability").to_numpy(), expected.max(axis=1), atol=1e-5)


def test_the_vocabulary_keeps_features_found_in_enough_paragraphs() -> None:
    training = labeled()
    shared = vocabulary_of(training, min_rows=2).to_list()
    assert "المدينة" in shared and "الدوري" in shared  # three and two sentences
    assert "نظيره" not in shared  # one sentence only
    assert shared == sorted(shared)


def test_fit_model_learns_the_labels_it_was_given() -> None:
    training = labeled()
    model = fit_model(training, c=10.0, min_rows=1, source="test")
    assert model.classes == tuple(sorted(SENTENCES))
    scored = class_probabilities(training.lazy().with_row_index("row"), "row", model).collect()
    assert scored.get_column("model_topic").to_list() == training.get_column("label").to_list()
