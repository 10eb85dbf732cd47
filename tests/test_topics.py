"""Topic classifier: the packaged taxonomy on the team's own sentences, the contract, custom taxonomies."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from akhbar.normalize import normalize_text
from akhbar.topics import (
    MATCHED_TERMS_DTYPE,
    OTHER_TOPIC,
    TOPIC_COLUMNS,
    TOPIC_SCORES_DTYPE,
    Taxonomy,
    TaxonomyError,
    classify_topics,
    load_taxonomy,
    parse_taxonomy,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGED = REPO / "akhbar" / "taxonomy.toml"
SEEDS = REPO / "seeds" / "000_9f5a928a3eee6293.txt"
SEED_LABELS = ["diplomacy"] * 8 + ["other", "gold_prices", "other", "markets", "football", "gold_prices"]

# Written by the team for these tests (not taken from any evaluation set).
SENTENCES = [
    # diplomacy
    ("diplomacy", "بحث وزير الخارجية الأردني مع نظيره الفرنسي في اتصال هاتفي مستجدات الأوضاع في المنطقة"),
    ("diplomacy", "وصل الرئيس الفرنسي إلى الرياض في زيارة رسمية تستغرق يومين يلتقي خلالها ولي العهد"),
    ("diplomacy", "صوّت مجلس الأمن الدولي بالإجماع على قرار يدعو إلى وقف فوري لإطلاق النار في السودان"),
    ("diplomacy", "استدعت الخارجية الجزائرية السفير الفرنسي للاحتجاج على تصريحات مسيئة"),
    ("diplomacy", "انطلقت في الدوحة جولة جديدة من المفاوضات غير المباشرة بين الوفدين بوساطة قطرية ومصرية"),
    ("diplomacy", "أجرى الرئيس اللبناني مباحثات مع الموفد الأمريكي في قصر بعبدا تناولت ترسيم الحدود"),
    ("diplomacy", "أقر الاتحاد الأوروبي حزمة عقوبات جديدة على روسيا تستهدف قطاع الطاقة"),
    ("diplomacy", "قدم السفير الجديد أوراق اعتماده إلى الملك في قصر الحسينية"),
    ("diplomacy", "اتفق البلدان على إعادة فتح سفارتيهما واستئناف الرحلات الجوية المباشرة"),
    ("diplomacy", "غادر الرئيس الصيني بكين متوجها إلى موسكو في زيارة دولة تستمر ثلاثة أيام"),
    # gold_prices
    ("gold_prices", "سعر الذهب اليوم في مصر: عيار 21 يسجل 4650 جنيها للجرام في محلات الصاغة"),
    ("gold_prices", "الأونصة تتراجع إلى 2350 دولارا مع صعود عوائد السندات الأمريكية وقوة الدولار"),
    ("gold_prices", "Gold futures rose to $2,400 an ounce as the dollar weakened"),
    ("gold_prices", "سعر الليرة الذهبية في سوريا اليوم يرتفع مع ارتفاع الأونصة عالميا"),
    ("gold_prices", "أسعار الدهب النهارده في مصر وعيار 21 بكام"),
    ("gold_prices", "ارتفع الذهب في المعاملات الفورية مع تراجع الدولار وانخفاض عوائد السندات وصعود الأسهم"),
    ("gold_prices", "سجل الجنيه الذهب 37 ألف جنيه بدون المصنعية بحسب شعبة الذهب"),
    # markets
    ("markets", "أغلقت البورصة المصرية تعاملات اليوم على ارتفاع جماعي لمؤشراتها"),
    ("markets", "تراجع سعر صرف الدولار أمام الجنيه في البنوك المصرية"),
    ("markets", "صعدت أسعار النفط مع تراجع المخزونات الأمريكية وسجل خام برنت 82 دولارا للبرميل"),
    ("markets", "الليرة اللبنانية تسجل انهيارا جديدا في السوق السوداء"),
    ("markets", "قرر البنك المركزي المصري تثبيت أسعار الفائدة على الإيداع والإقراض"),
    ("markets", "قفزت أسهم شركة أبل 5% بعد إعلان نتائج أعمالها الفصلية"),
    ("markets", "Nasdaq closes higher as tech stocks rally on Wall Street"),
    ("markets", "اتجهت تعاملات المصريين نحو صافي البيع بينما اتجه الأجانب نحو الشراء"),
    # football
    ("football", "فاز الأهلي على الزمالك بهدفين نظيفين في قمة الدوري المصري"),
    ("football", "محمد صلاح يقود ليفربول للفوز على مانشستر سيتي في البريميرليغ"),
    ("football", "ماتش الأهلي والزمالك النهارده والكورة المصرية محتاجة جمهور"),
    ("football", "تأهل المنتخب المغربي إلى نصف نهائي كأس أمم أفريقيا بعد الفوز بركلات الترجيح"),
    ("football", "تعادل الوداد والرجاء سلبيا في ديربي الدار البيضاء ضمن البطولة الاحترافية"),
    ("football", "Mbappe scores twice as PSG beat Marseille"),
    ("football", "حارس المرمى تصدى لركلة جزاء في الدقيقة الأخيرة"),
    # other: other sports, domestic politics, company news, weather, health, crime, culture, economy
    ("other", "توج الإسباني كارلوس ألكاراس بلقب بطولة ويمبلدون بعد فوزه في المباراة النهائية"),
    ("other", "فاز فريق الأهلي على الاتحاد السكندري في نهائي دوري كرة السلة"),
    ("other", "فاز هاميلتون بسباق جائزة البحرين الكبرى للفورمولا 1"),
    ("other", "حصد البطل المصري الميدالية الذهبية في بطولة العالم للمصارعة"),
    ("other", "وافق مجلس النواب على مشروع قانون الإيجار القديم بعد مناقشات مطولة"),
    ("other", "قال الرئيس ترامب إن إدارته ستواصل ترحيل المهاجرين غير الشرعيين"),
    ("other", "أعلنت شركة تويوتا عن طراز جديد من سياراتها الكهربائية"),
    ("other", "حققت الشركة أرباحا صافية بلغت 120 مليون دينار خلال النصف الأول"),
    ("other", "تشهد البلاد ارتفاعا في درجات الحرارة وأمطارا رعدية على السواحل"),
    ("other", "وزارة الصحة تعلن تسجيل مئة إصابة جديدة بالحصبة"),
    ("other", "ضبط عصابة لسرقة المشغولات الذهبية من محلات الصاغة"),
    ("other", "حصد الفيلم جائزة أفضل إخراج في مهرجان كان السينمائي"),
    ("other", "ارتفع معدل التضخم السنوي في مصر إلى 13.6 بالمئة في يوليو"),
    ("other", "ارتفعت أسعار الطماطم والخضروات في الأسواق المحلية بسبب موجة الحر"),
    ("other", "قصف إسرائيلي يستهدف منزلا في غزة ويوقع قتلى وجرحى"),
    ("other", "تداول رواد مواقع التواصل الاجتماعي مقطع فيديو لحادث سير على الطريق الدائري"),
    ("other", "أسهم المشروع في توفير آلاف فرص العمل للشباب في المحافظة"),
    ("other", "وضعت الحكومة الكرة في ملعب المعارضة بعد رفض مقترح الحوار الوطني"),
]

WEATHER_TOPIC = """
[topics.weather]
description = "Weather and climate."

[[topics.weather.group]]
weight = 5.0
terms = ["(ال)طقس", "أمطار~", "الأمطار", "درجات الحرارة", "الأرصاد الجوية", "موجة حارة"]
"""


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    """The packaged taxonomy, loaded once."""
    return load_taxonomy()


def classify(texts: list[str], taxonomy: Taxonomy) -> pl.DataFrame:
    """Raw texts → the pipeline's path: normalize, then classify."""
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    return classify_topics(frame.with_columns(normalize_text(pl.col("text")).alias("text_norm")), taxonomy)


def matched(row: dict[str, object]) -> list[tuple[str, str]]:
    """The (topic, term) pairs of one result row."""
    terms = row["matched_terms"]
    assert isinstance(terms, list)
    return [(item["topic"], item["term"]) for item in terms]


# --- quality on our own sentences ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_result(taxonomy: Taxonomy) -> pl.DataFrame:
    """The whole sentence table classified in one frame (one automaton build keeps tests fast)."""
    return classify([text for _, text in SENTENCES], taxonomy)


@pytest.mark.parametrize(
    "index", range(len(SENTENCES)), ids=[f"{i:02d}-{label}" for i, (label, _) in enumerate(SENTENCES)]
)
def test_sentence_topic(index: int, table_result: pl.DataFrame) -> None:
    row = table_result.row(index, named=True)
    assert row["topic"] == SENTENCES[index][0], (row["topic_scores"], row["matched_terms"])


def test_one_sentence_alone_gets_the_same_result(table_result: pl.DataFrame, taxonomy: Taxonomy) -> None:
    assert_frame_equal(classify([SENTENCES[3][1]], taxonomy), table_result.slice(3, 1))


@pytest.mark.skipif(not SEEDS.exists(), reason="project sample file not present")
def test_sanity_seeds(taxonomy: Taxonomy) -> None:
    lines = SEEDS.read_text(encoding="utf-8").splitlines()
    assert classify(lines, taxonomy)["topic"].to_list() == SEED_LABELS


@pytest.mark.parametrize(
    ("text", "label", "term"),
    [
        ("وارتفع الطلب على السبائك وبالذهب عموما", "gold_prices", "الذهب"),
        ("تراجعت قيمة العملة أمام الدولار ولليرة نصيبها من الخسائر", "markets", "الليرة"),
        ("التقت سفيرتها في العاصمة بنظيرها لبحث العلاقات الثنائية", "diplomacy", "(ال)سفير~"),
        ("قدم للسفير الأمريكي مذكرة احتجاج على خلفية الأزمة الدبلوماسية", "diplomacy", "(ال)سفير~"),
        ("وسجلت بورصة الكويت ارتفاعا بدعم من أسهم البنوك", "markets", "بورصة"),
    ],
)
def test_clitic_and_suffix_forms(text: str, label: str, term: str, taxonomy: Taxonomy) -> None:
    row = classify([text], taxonomy).row(0, named=True)
    assert row["topic"] == label
    assert (label, term) in matched(row)


def test_surface_forms_of_a_term(taxonomy: Taxonomy) -> None:
    surfaces = {s.strip() for t in taxonomy.terms if t.text == "(ال)سفير~" for s in t.surfaces}
    assert {"سفير", "السفير", "للسفير", "وبالسفير", "سفيرة", "سفيرها", "سفيرا", "لسفيرهم"} <= surfaces
    teh = {s.strip() for t in taxonomy.terms if t.text == "(ال)سفارة~" for s in t.surfaces}
    assert {"السفارة", "سفارته", "بسفارتها", "السفارات", "سفارتيهما"} <= teh


def test_longest_term_wins(taxonomy: Taxonomy) -> None:
    # "الذهب الأسود" is oil: the longer phrase shields "الذهب" from the gold topic.
    row = classify(["ارتفعت أسعار الذهب الأسود مع تراجع المخزونات"], taxonomy).row(0, named=True)
    assert row["topic"] == "markets"
    assert ("gold_prices", "الذهب") not in matched(row)


def test_gold_beats_markets_vocabulary(taxonomy: Taxonomy) -> None:
    row = classify(["تراجعت أسعار الذهب مع صعود الدولار وعوائد السندات وترقب قرار الفائدة"], taxonomy)
    scores = {item["topic"]: item["score"] for item in row.row(0, named=True)["topic_scores"]}
    assert row["topic"][0] == "gold_prices"
    assert scores["gold_prices"] > scores["markets"]


def test_anti_terms_veto_football_for_other_sports(taxonomy: Taxonomy) -> None:
    football_like = "فاز الأهلي على الزمالك في نهائي الدوري"
    result = classify([football_like, football_like + " لكرة اليد"], taxonomy)
    assert result["topic"].to_list() == ["football", OTHER_TOPIC]


# --- output contract ------------------------------------------------------------------------------


def test_output_columns_and_dtypes(taxonomy: Taxonomy) -> None:
    frame = pl.DataFrame({"doc_id": [7, 8], "text_norm": ["اسعار الذهب اليوم", "نص بلا موضوع"], "z": [1.5, 2.5]})
    result = classify_topics(frame, taxonomy)
    assert result.columns == ["doc_id", "text_norm", "z", *TOPIC_COLUMNS]
    assert result.schema["topic"] == pl.String
    assert result.schema["topic_confidence"] == pl.Float64
    assert result.schema["topic_scores"] == TOPIC_SCORES_DTYPE
    assert result.schema["matched_terms"] == MATCHED_TERMS_DTYPE
    assert_frame_equal(result.select(frame.columns), frame)
    assert result["topic"].null_count() == 0
    assert result["topic_confidence"].is_between(0.0, 1.0).all()
    assert set(result["topic"]) <= {*taxonomy.topic_names, OTHER_TOPIC}


def test_topic_scores_follow_taxonomy_order(taxonomy: Taxonomy) -> None:
    result = classify(["نص بلا موضوع", "سعر الذهب"], taxonomy)
    for scores in result["topic_scores"].to_list():
        assert [item["topic"] for item in scores] == list(taxonomy.topic_names)
        assert all(item["score"] >= 0 for item in scores)


def test_empty_frame(taxonomy: Taxonomy) -> None:
    empty = pl.DataFrame({"doc_id": [], "text_norm": []}, schema={"doc_id": pl.Int64, "text_norm": pl.String})
    result = classify_topics(empty, taxonomy)
    assert result.height == 0
    expected: dict[str, pl.DataType] = {
        "doc_id": pl.Int64(),
        "text_norm": pl.String(),
        "topic": pl.String(),
        "topic_confidence": pl.Float64(),
        "topic_scores": TOPIC_SCORES_DTYPE,
        "matched_terms": MATCHED_TERMS_DTYPE,
    }
    assert result.schema == pl.Schema(expected)


def test_no_evidence_is_other_with_empty_matches(taxonomy: Taxonomy) -> None:
    row = classify(["ذهب الطفل إلى المدرسة صباحا"], taxonomy).row(0, named=True)
    assert row["topic"] == OTHER_TOPIC
    assert row["matched_terms"] == []


def test_matched_terms_explain_the_topic(taxonomy: Taxonomy) -> None:
    row = classify(["قال وزير الخارجية إن العلاقات الثنائية تشهد تطورا"], taxonomy).row(0, named=True)
    assert row["topic"] == "diplomacy"
    assert ("diplomacy", "وزير الخارجية") in matched(row)
    assert ("diplomacy", "العلاقات الثنائية") in matched(row)


def test_confidence_grows_with_evidence(taxonomy: Taxonomy) -> None:
    weak, strong = classify(
        ["تراجع الدولار", "تراجع الدولار أمام سلة من العملات وهبط مؤشر داو جونز في البورصة"], taxonomy
    )["topic_confidence"]
    assert 0.0 < weak < strong <= 1.0


def test_missing_or_wrong_text_norm(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValueError, match="text_norm"):
        classify_topics(pl.DataFrame({"text": ["x"]}), taxonomy)
    with pytest.raises(TypeError, match="text_norm"):
        classify_topics(pl.DataFrame({"text_norm": [1]}), taxonomy)


def test_deterministic_and_row_independent(table_result: pl.DataFrame, taxonomy: Taxonomy) -> None:
    texts = [text for _, text in SENTENCES]
    assert_frame_equal(classify(texts, taxonomy), table_result)
    assert_frame_equal(classify(texts[::-1], taxonomy), table_result.reverse())


def test_existing_topic_columns_are_replaced(taxonomy: Taxonomy) -> None:
    once = classify(["سعر الذهب اليوم"], taxonomy)
    assert_frame_equal(classify_topics(once, taxonomy), once)


# --- taxonomy files -----------------------------------------------------------------------------------


def test_packaged_taxonomy_metadata(taxonomy: Taxonomy) -> None:
    assert taxonomy.topic_names == ("diplomacy", "gold_prices", "football", "markets")
    assert taxonomy.version
    assert len(taxonomy.fingerprint) == 64
    assert load_taxonomy(PACKAGED).fingerprint == taxonomy.fingerprint


def test_custom_topic_from_a_copy(tmp_path: Path, taxonomy: Taxonomy) -> None:
    custom = tmp_path / "topics.toml"
    custom.write_text(PACKAGED.read_text(encoding="utf-8") + WEATHER_TOPIC, encoding="utf-8")
    weather = load_taxonomy(custom)
    assert weather.topic_names == (*taxonomy.topic_names, "weather")
    assert weather.fingerprint != taxonomy.fingerprint
    texts = [
        "تشهد البلاد ارتفاعا في درجات الحرارة وأمطارا رعدية على السواحل",
        "أعلنت الأرصاد الجوية عن موجة حارة تضرب البلاد حتى نهاية الأسبوع",
        "طقس اليوم معتدل نهارا بارد ليلا مع فرص لسقوط الأمطار",
    ]
    result = classify([*texts, "سعر الذهب اليوم"], weather)
    assert result["topic"].to_list() == ["weather", "weather", "weather", "gold_prices"]
    assert [item["topic"] for item in result["topic_scores"][0]] == list(weather.topic_names)


def write(tmp_path: Path, body: str) -> Path:
    """A taxonomy file with ``body`` after a valid version and morphology."""
    path = tmp_path / "bad.toml"
    morphology = '[morphology]\nclitics = ["و"]\nsuffixes = ["ة"]\nteh_marbuta_suffixes = ["ات"]\n'
    path.write_text(f'version = "t1"\n{morphology}\n{body}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[topics.a\n", "invalid TOML"),
        ('[topics.other]\n[[topics.other.group]]\nweight = 1\nterms = ["x"]\n', "must be lowercase"),
        ('[topics.a]\n[[topics.a.group]]\nweight = "high"\nterms = ["x"]\n', "weight"),
        ("[topics.a]\n[[topics.a.group]]\nweight = 2\nterms = []\n", "positive weight"),
        ('[topics.a]\n[[topics.a.group]]\nweight = 2\nterms = [""]\n', "non-empty strings"),
        ('[topics.a]\n[[topics.a.group]]\nweight = 2\nterm = ["x"]\n', "unknown key"),
        ('[topics.a]\n[[topics.a.group]]\nweight = 2\nterms = ["x~y"]\n', "must end a word"),
        ('[topics.a]\n[[topics.a.group]]\nweight = 2\nterms = ["..."]\n', "no letters"),
        ('[decision]\nmin_score = -1\n[topics.a]\n[[topics.a.group]]\nweight = 2\nterms = ["x"]\n', "min_score"),
        ("", "no [topics.NAME]"),
    ],
)
def test_invalid_taxonomy_names_file_and_problem(tmp_path: Path, body: str, problem: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TaxonomyError, match=r"bad\.toml") as caught:
        load_taxonomy(path)
    assert problem in str(caught.value)


def test_missing_version_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="version"):
        parse_taxonomy(b'[morphology]\nclitics = ["x"]\n', source="x.toml")
    with pytest.raises(TaxonomyError, match=r"missing\.toml"):
        load_taxonomy(tmp_path / "missing.toml")
    assert issubclass(TaxonomyError, ValueError)
