"""ISEAR: the '|' export with rebuilt texts, cleaning, errors, folds and the real databank."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from benchmark_files import ISEAR_HEADER, isear_line, write

from emo_pillars.errors import InputError
from emo_pillars.tasks import IsearTask, clean_isear_text
from emo_pillars.tasks.isear import read_isear
from emo_pillars.taxonomy import EMOTIONS

TASK = IsearTask()


def test_load_fixture_rebuilds_and_cleans_texts(isear_file: Path) -> None:
    ds = TASK.load(isear_file)
    assert list(ds) == ["train"]
    train = ds["train"]
    assert len(train) == 14
    assert train.column_names == ["id", "text", "context", "character", "label", "emo28_labels"]
    assert train.features["label"].names == list(TASK.label_names)
    by_id = {row["id"]: row for row in train}
    # The line split into 44 fields by the '|' inside SIT: rebuilt, quotes unescaped, artefacts removed.
    assert by_id["0000105"]["text"] == 'They needed "clever people" and he had "immediately thought of me."'
    assert by_id["0000107"]["text"] == "When I forgot my friend's birthday and did not call."
    assert (
        by_id["0000101"]["text"]
        == "During the period of falling in love, each time that we met and especially when we met."
    )
    assert by_id["0000103"]["text"] == "A motorist ahead of me refused, despite his low speed, to let me overtake."
    # STATE '1"' does not disturb the row; labels and the 28-class mapping.
    assert by_id["0000202"]["text"] == "Walking home alone at night."
    assert train.features["label"].int2str(by_id["0000106"]["label"]) == "shame"
    assert [EMOTIONS[i] for i in by_id["0000106"]["emo28_labels"]] == ["embarrassment"]
    assert [EMOTIONS[i] for i in by_id["0000107"]["emo28_labels"]] == ["remorse"]
    assert by_id["0000101"]["context"] is None and by_id["0000101"]["character"] is None


def test_raw_text_keeps_the_rebuilt_delimiter(isear_file: Path) -> None:
    rows = {r["id"]: r for r in read_isear(isear_file, clean=False)}
    assert rows["0000107"]["text"] == "When I forgot my friend's birthday á|and did not call."
    assert TASK.load(isear_file.parent)["train"].num_rows == 14  # a folder holding isear.csv works too


def test_clean_isear_text() -> None:
    assert clean_isear_text('When I \\hated\\" one of mmy flatmates who was nice to me."') == (
        'When I "hated" one of mmy flatmates who was nice to me.'
    )
    assert clean_isear_text("line á break  here ") == "line break here"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (isear_line(3, 9, "Bad code."), "EMOT", "not in 1..7"),
        (isear_line(3, 1, "Mismatch.", name="fear"), "Field1", "disagrees"),
        (isear_line(3, 1, "No trailing pipe.")[:-1], None, "trailing"),
        ("11001|1|1|3|joy|0000301|Too short.|1|", None, "fields"),
        (isear_line(1, 1, "Duplicate key."), "MYKEY", "duplicate"),
        (isear_line(3, 1, " á "), "SIT", "empty"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path: Path, line: str, field: str | None, message: str) -> None:
    good = isear_line(1, 1, "Fine.")
    path = write(tmp_path / "isear.csv", "\n".join([ISEAR_HEADER, good, line]))
    with pytest.raises(InputError, match=message) as info:
        TASK.load(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 3, field)
    assert f"{path}:3" in str(info.value)


def test_empty_undecodable_and_headerless_files(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.csv", "", final_newline=False)
    with pytest.raises(InputError, match="empty") as info:
        TASK.load(empty)
    assert info.value.path == str(empty)
    bad = tmp_path / "bad.csv"
    bad.write_bytes((ISEAR_HEADER + "\n").encode() + isear_line(1, 1, "caf").encode() + b"\xe9 ok|1|\n")
    with pytest.raises(InputError, match="UTF-8") as info:
        TASK.load(bad)
    assert info.value.line == 2
    headerless = write(tmp_path / "noheader.csv", isear_line(1, 1, "Fine."))
    with pytest.raises(InputError, match="header") as info:
        TASK.load(headerless)
    assert info.value.line == 1
    with pytest.raises(InputError, match="no such file"):
        TASK.load(tmp_path / "missing.csv")


def test_folds_on_fixture_are_stratified_and_reproducible(isear_file: Path) -> None:
    ds = TASK.load(isear_file)
    folds = TASK.folds(ds, k=2, seed=0)
    assert len(folds) == 2
    test_ids = [set(f["test"]["id"]) for f in folds]
    assert test_ids[0].isdisjoint(test_ids[1]) and len(test_ids[0] | test_ids[1]) == 14
    for fold in folds:
        # 2 examples per class, 2 folds: each test fold holds exactly one of each class.
        assert sorted(fold["test"]["label"]) == list(range(7))
        assert set(fold["train"]["id"]).isdisjoint(fold["test"]["id"])
    again = TASK.folds(ds["train"], k=2, seed=0)
    assert [set(f["test"]["id"]) for f in again] == test_ids


def test_metrics_by_hand() -> None:
    gold = ["joy", "joy", "fear", "fear", "anger"]
    pred = ["joy", "fear", "fear", "fear", "joy"]
    m = TASK.compute_metrics(gold, pred)
    # joy: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 0.5
    # fear: TP 2, FP 1, FN 0 -> P 2/3, R 1, F1 = 2*(2/3)/(5/3) = 0.8
    # anger: TP 0 -> F1 0; the macro average runs over the classes seen in gold or predictions: (0.5+0.8+0)/3
    assert m["f1_joy"] == pytest.approx(0.5)
    assert m["f1_fear"] == pytest.approx(0.8)
    assert m["f1_anger"] == 0.0 and m["f1_guilt"] == 0.0
    assert m["macro_f1"] == pytest.approx(1.3 / 3)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert TASK.compute_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0]) == m  # indices work like names


def test_aggregate_over_folds_by_hand() -> None:
    folds = [
        {"macro_f1": 0.74, "accuracy": 0.75},
        {"macro_f1": 0.76, "accuracy": 0.75},
        {"macro_f1": 0.75, "accuracy": 0.78},
    ]
    agg = TASK.aggregate(folds)
    # mean (0.74+0.76+0.75)/3 = 0.75; sample std sqrt((0.01^2 + 0.01^2 + 0) / 2) = 0.01
    assert agg["macro_f1"]["mean"] == pytest.approx(0.75)
    assert agg["macro_f1"]["std"] == pytest.approx(0.01)
    # accuracy: mean 0.76; deviations -0.01, -0.01, 0.02 -> sqrt(0.0006 / 2) = 0.017320...
    assert agg["accuracy"]["std"] == pytest.approx(0.0173205, abs=1e-6)
    assert TASK.aggregate(folds, ddof=0)["macro_f1"]["std"] == pytest.approx((0.0002 / 3) ** 0.5)


# --------------------------------------------------------------------------------------------------------------------
# The real databank (skipped when ../shared/data is absent)
# --------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_isear(shared_data: Path):
    return TASK.load(shared_data / "isear" / "isear.csv")


def test_real_counts(real_isear) -> None:
    train = real_isear["train"]
    assert train.num_rows == 7666
    counts = collections.Counter(train.features["label"].int2str(train["label"]))
    assert counts == {
        "joy": 1094, "fear": 1095, "anger": 1096, "sadness": 1096, "disgust": 1096, "shame": 1096, "guilt": 1093
    }  # fmt: skip
    assert len(set(train["id"])) == 7666
    texts = train["text"]
    assert all(t.strip() for t in texts)
    assert not any("á" in t or "|" in t or "\\" in t for t in texts)


def test_real_five_folds_are_stratified(real_isear) -> None:
    folds = TASK.folds(real_isear, k=5, seed=42)
    assert [f["test"].num_rows for f in folds] == [1534, 1533, 1533, 1533, 1533]
    seen: set[str] = set()
    for fold in folds:
        ids = set(fold["test"]["id"])
        assert seen.isdisjoint(ids)
        seen |= ids
        counts = collections.Counter(fold["test"]["label"])
        # ~1,095 per class / 5 folds: every class within one example of a fifth of its total.
        assert all(abs(counts[c] - 1095 / 5) <= 1.5 for c in range(7)), counts
        assert fold["train"].num_rows + fold["test"].num_rows == 7666
    assert len(seen) == 7666
