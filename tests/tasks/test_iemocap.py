"""IEMOCAP: the release layout (transcriptions + EmoEvaluation), context windows, label schemes, splits, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_files import EVAL_HEADER, eval_block, write, write_iemocap

from emo_pillars.errors import ConfigError, InputError
from emo_pillars.tasks import IemocapTask, get_task
from emo_pillars.taxonomy import EMOTIONS, label2id


def _rows(ds) -> dict[str, dict]:
    return {row["id"]: row for split in ds for row in ds[split]}


def test_load_four_way(iemocap_dir: Path) -> None:
    task = IemocapTask()
    ds = task.load(iemocap_dir)
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].column_names == [
        "id", "text", "context", "character", "label", "emo28_labels", "dialogue_id", "session"
    ]  # fmt: skip
    assert ds["train"].features["label"].names == ["happy", "sad", "angry", "neutral"]
    rows = _rows(ds)
    # fru (4-way), sur and xxx are dropped; the unlabelled MXX0 turn is context only.
    assert sorted(rows) == sorted(
        [
            "Ses01F_impro01_F000", "Ses01F_impro01_F001", "Ses01F_impro01_F002",
            "Ses01M_script01_1_M000", "Ses01M_script01_1_F000", "Ses01M_script01_1_M001",
            "Ses05F_impro02_F000", "Ses05F_impro02_M000",
        ]
    )  # fmt: skip
    first = rows["Ses01F_impro01_F000"]
    assert (first["text"], first["character"], first["context"]) == ("Excuse me.", "F", None)
    # Dialogue order is by start time: M000 (8.5 s) comes before F001 (10.01 s) although listed after it.
    assert rows["Ses01F_impro01_F001"]["context"] == "F: Excuse me.\nM: Do you have your forms?"
    excited = rows["Ses01F_impro01_F002"]
    assert excited["context"] == "M: Do you have your forms?\nF: Yeah.\nM: [LAUGHTER]"  # the last 3 turns
    assert ds["train"].features["label"].int2str(excited["label"]) == "happy"  # happy + excited merged
    assert [EMOTIONS[i] for i in excited["emo28_labels"]] == ["excitement"]  # the 28-class label keeps the source
    happy = rows["Ses01M_script01_1_F000"]
    assert [EMOTIONS[i] for i in happy["emo28_labels"]] == ["joy"]
    assert happy["dialogue_id"] == "Ses01M_script01_1" and happy["session"] == 1
    assert ds["test"]["id"] == ["Ses05F_impro02_F000", "Ses05F_impro02_M000"]
    assert set(ds["test"]["session"]) == {5}


def test_six_way_and_context_window(iemocap_dir: Path) -> None:
    task = get_task("iemocap", ways=6, context_window=None)
    rows = _rows(task.load(iemocap_dir))
    labels = task.features()["label"]
    assert labels.int2str(rows["Ses01F_impro01_M000"]["label"]) == "frustrated"
    assert labels.int2str(rows["Ses01F_impro01_F002"]["label"]) == "excited"
    assert [EMOTIONS[i] for i in rows["Ses01F_impro01_M000"]["emo28_labels"]] == ["annoyance"]
    assert rows["Ses01F_impro01_F002"]["context"].count("\n") == 3  # all four preceding turns
    assert "Ses01F_impro01_M001" not in rows  # sur is in neither scheme
    no_context = _rows(IemocapTask(context_window=0).load(iemocap_dir))
    assert all(row["context"] is None for row in no_context.values())


def test_validation_is_whole_dialogues_and_deterministic(iemocap_dir: Path) -> None:
    ds = IemocapTask(seed=7).load(iemocap_dir)
    train, val = set(ds["train"]["dialogue_id"]), set(ds["validation"]["dialogue_id"])
    # Two training dialogues, 10% rounded up -> one dialogue for validation, the other for training.
    assert len(train) == 1 and len(val) == 1 and train.isdisjoint(val)
    assert train | val == {"Ses01F_impro01", "Ses01M_script01_1"}
    again = IemocapTask(seed=7).load(iemocap_dir)
    assert again["validation"]["id"] == ds["validation"]["id"]
    draws = {frozenset(IemocapTask(seed=s).validation_dialogues([f"d{i}" for i in range(40)])) for s in range(5)}
    assert len(draws) > 1 and all(len(d) == 4 for d in draws)  # ceil(40 * 0.1) dialogues, varying with the seed
    assert IemocapTask(validation_fraction=0).load(iemocap_dir).keys() == {"train", "test"}


def test_any_sessions_and_session_folds(tmp_path: Path) -> None:
    from benchmark_files import IEMOCAP_DIALOGUES

    only_train = {k: v for k, v in IEMOCAP_DIALOGUES.items() if v[0] == 1}
    ds = IemocapTask().load(write_iemocap(tmp_path / "s1", only_train))
    assert set(ds) == {"train", "validation"}
    three = dict(IEMOCAP_DIALOGUES)
    three["Ses03M_impro05"] = (3, [("Ses03M_impro05_M000", 0.1, 0.9, "Fine.", "neu")])
    ds = IemocapTask().load(write_iemocap(tmp_path / "s135", three))
    folds = IemocapTask().session_folds(ds)
    assert [sorted(set(f["test"]["session"])) for f in folds] == [[1], [3], [5]]
    assert all(set(f["train"]["session"]).isdisjoint(f["test"]["session"]) for f in folds)


def _eval_file(root: Path, body: str) -> Path:
    return write(root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01M_script01_1.txt", EVAL_HEADER + "\n" + body)


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        (eval_block(1.0, 2.0, "Ses01M_script01_1_M000", "joy"), 3, "emotion", "unknown emotion code 'joy'"),
        ("[1.0 - 2.0]\tSes01M_script01_1_M000\n", 3, None, "expected"),
        (eval_block(1.0, 2.0, "Ses01M_script01_1_M009", "ang"), 3, "turn", "not in Ses01M_script01_1.txt"),
        (eval_block(1.0, 2.0, "Ses01M_script01_1_M000", "ang") * 2, 8, "turn", "labelled twice"),
    ],
)
def test_malformed_emo_evaluation(iemocap_dir: Path, body: str, line: int, field: str | None, message: str) -> None:
    path = _eval_file(iemocap_dir, body)
    with pytest.raises(InputError, match=message) as info:
        IemocapTask().load(iemocap_dir)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)


def test_malformed_transcription_and_layout(iemocap_dir: Path, tmp_path: Path) -> None:
    transcript = iemocap_dir / "Session5" / "dialog" / "transcriptions" / "Ses05F_impro02.txt"
    write(
        transcript, "Ses05F_impro02_F000 [000.5000-001.5000]: Hi there.\nSes05F_impro02_M000 2.0-3.0: Leave me alone!"
    )
    with pytest.raises(InputError, match="TURN_ID") as info:
        IemocapTask().load(iemocap_dir)
    assert (info.value.path, info.value.line) == (str(transcript), 2)
    write(transcript, "", final_newline=False)
    with pytest.raises(InputError, match="empty"):
        IemocapTask().load(iemocap_dir)
    transcript.write_bytes(b"Ses05F_impro02_F000 [000.5000-001.5000]: caf\xe9\n")
    with pytest.raises(InputError, match="UTF-8"):
        IemocapTask().load(iemocap_dir)
    transcript.unlink()
    (iemocap_dir / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt").unlink()
    with pytest.raises(InputError, match="EmoEvaluation file missing"):
        IemocapTask().load(iemocap_dir)
    (tmp_path / "empty_root").mkdir()
    with pytest.raises(InputError, match="Session1"):
        IemocapTask().load(tmp_path / "empty_root")


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="4-way"):
        IemocapTask(ways=5)
    with pytest.raises(ConfigError, match="context_window"):
        IemocapTask(context_window=-1)
    assert "session 5 test" in IemocapTask().protocol and "weighted-F1" in IemocapTask().protocol


def test_weighted_f1_by_hand() -> None:
    task = IemocapTask()
    m = task.compute_metrics(["happy", "happy", "sad", "angry"], ["happy", "sad", "sad", "neutral"])
    # happy: TP 1, FN 1 -> P 1, R 1/2, F1 2/3 (support 2); sad: TP 1, FP 1 -> P 1/2, R 1, F1 2/3 (support 1);
    # angry: F1 0 (support 1); neutral: support 0, weight 0.  weighted = (2*2/3 + 1*2/3 + 0) / 4 = 0.5
    assert m["weighted_f1"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0 + 0) / 4)
    assert m["f1_happy"] == pytest.approx(2 / 3) and m["f1_neutral"] == 0.0


def test_scores_from_emo28_merges_excitement_into_happy() -> None:
    scores = np.full((2, 28), 0.01)
    scores[0, label2id["excitement"]] = 0.9
    scores[1, label2id["annoyance"]] = 0.8
    scores[1, label2id["neutral"]] = 0.3
    four = IemocapTask().scores_from_emo28(scores)
    assert four.shape == (2, 4) and four[0].argmax() == 0 and four[0, 0] == 0.9  # happy
    assert four[1].argmax() == 3  # annoyance is not in the 4-way scheme; neutral wins
    six = IemocapTask(ways=6).scores_from_emo28(scores)
    assert six[0].argmax() == 4 and six[1].argmax() == 5  # excited, frustrated
