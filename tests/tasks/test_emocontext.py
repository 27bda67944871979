"""EmoContext: CRLF TSVs without quoting, header on train only, errors, and the official micro-F1."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_files import EMOCONTEXT_DEV, write

from emo_pillars.errors import InputError
from emo_pillars.tasks import EmoContextTask, emocontext_micro_f1
from emo_pillars.taxonomy import EMOTIONS

TASK = EmoContextTask()


def test_load_fixture(emocontext_dir: Path) -> None:
    ds = TASK.load(emocontext_dir)
    assert {split: ds[split].num_rows for split in ds} == {"train": 7, "validation": 2, "test": 2}
    train = ds["train"]
    assert train.column_names == ["id", "text", "context", "character", "label", "emo28_labels"]
    assert train.features["label"].names == ["others", "happy", "sad", "angry"]
    assert train["id"] == [str(i) for i in range(7)]  # the header line is not a row
    first = train[0]
    # Turn 3 is the utterance, turns 1-2 (original double spaces kept) the context; no '\r' survives.
    assert first["text"] == "What's ur name?"
    assert first["context"] == "Don't worry  I'm girl | hmm how do I know if you are"
    assert first["character"] is None
    assert train[1]["context"] == 'When did I? | saw many times i think "shame"'
    assert train[4]["text"] == "Maybe "  # trailing space kept
    assert train.features["label"].int2str(train[6]["label"]) == "sad"
    assert [EMOTIONS[i] for i in train[6]["emo28_labels"]] == ["sadness"]
    assert [EMOTIONS[i] for i in train[0]["emo28_labels"]] == ["neutral"]
    # dev/test have no header: their first line is data; raw quotes stay.
    assert ds["validation"][0]["text"] == '"you" are funny'
    assert ds["test"]["text"] == ["how r u", "I feel so low"]


def test_context_separator_option(emocontext_dir: Path) -> None:
    ds = TASK.load(emocontext_dir, context_separator="\n")
    assert ds["train"][5]["context"] == "I'm so happy today\nthat's great!"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("2\tonly\tfour fields\tangry", None, "expected 5"),
        ("2\ta\tb\tc\tsad\textra", None, "expected 5"),
        ('2\ta\t"b\tc\tjoyful', "label", "unknown label"),
        ("1\ta\tb\tc\tsad", "id", "duplicate"),
    ],
)
def test_malformed_line(emocontext_dir: Path, line: str, field: str | None, message: str) -> None:
    path = write(emocontext_dir / "dev.txt", EMOCONTEXT_DEV + "\n" + line, newline="\r\n", final_newline=False)
    with pytest.raises(InputError, match=message) as info:
        TASK.load(emocontext_dir)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 3, field)
    assert str(info.value).startswith(f"{path}:3: ")


def test_empty_and_undecodable(emocontext_dir: Path) -> None:
    write(emocontext_dir / "test.txt", "", final_newline=False)
    with pytest.raises(InputError, match="empty"):
        TASK.load(emocontext_dir)
    (emocontext_dir / "test.txt").write_bytes(b"0\thi\thello\thow r u\tothers\r\n1\t\x80\tb\tc\tsad")
    with pytest.raises(InputError, match="UTF-8") as info:
        TASK.load(emocontext_dir)
    assert info.value.line == 2
    with pytest.raises(InputError, match="folder"):
        TASK.load(emocontext_dir / "train.txt")


def test_official_micro_f1_by_hand() -> None:
    gold = ["happy", "happy", "sad", "angry", "others", "others"]
    pred = ["happy", "others", "sad", "sad", "happy", "others"]
    m = TASK.compute_metrics(gold, pred)
    # Over happy/sad/angry only: TP = 1 (happy, #0) + 1 (sad, #2) + 0 (angry) = 2.
    # Predicted as an emotion: #0, #2, #3, #4 -> 4; gold emotions: #0..#3 -> 4.
    # P = 2/4, R = 2/4, F1 = 0.5 ("others" is correct on #5 but does not count).
    assert m["micro_precision"] == 0.5 and m["micro_recall"] == 0.5
    assert m["micro_f1"] == pytest.approx(0.5)
    # Per class: happy TP1 FP1 FN1 -> 0.5; sad TP1 FP1 FN0 -> P .5 R 1 -> 2/3; angry 0; others TP1 FP1 FN1 -> 0.5.
    assert m["f1_happy"] == pytest.approx(0.5)
    assert m["f1_sad"] == pytest.approx(2 / 3)
    assert m["f1_angry"] == 0.0
    assert m["f1_others"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["macro_f1_4way"] == pytest.approx((0.5 + 2 / 3 + 0 + 0.5) / 4)


def test_micro_f1_matches_sklearn_and_edge_cases() -> None:
    from sklearn.metrics import f1_score

    gold = [0, 1, 2, 3, 1, 2, 3, 0, 0, 1]
    pred = [1, 1, 2, 0, 0, 3, 3, 0, 2, 1]
    ours = emocontext_micro_f1(gold, pred)["micro_f1"]
    assert ours == pytest.approx(f1_score(gold, pred, labels=[1, 2, 3], average="micro"))
    # Everything predicted "others": no emotion predicted -> P = R = F1 = 0 (no division by zero).
    assert emocontext_micro_f1(["happy", "sad"], ["others", "others"]) == {
        "micro_f1": 0.0,
        "micro_precision": 0.0,
        "micro_recall": 0.0,
    }
