"""GoEmotions: the official TSVs (CSV quoting, no header), errors, the dev-tuned-threshold protocol, real counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_files import GOEMOTIONS_TRAIN, write

from emo_pillars.errors import ConfigError, InputError
from emo_pillars.tasks import GoEmotionsTask
from emo_pillars.taxonomy import EMOTIONS, label2id

TASK = GoEmotionsTask()


def test_load_fixture(goemotions_dir: Path) -> None:
    ds = TASK.load(goemotions_dir)
    assert {split: ds[split].num_rows for split in ds} == {"train": 5, "validation": 2, "test": 2}
    train = ds["train"]
    assert train.column_names == ["id", "text", "context", "character", "labels", "emo28_labels"]
    assert train.features["labels"].feature.names == list(EMOTIONS)
    rows = {row["id"]: row for row in train}
    # CSV quoting: doubled quotes unescaped, a tab inside quotes stays in the text.
    assert rows["ed00q6i"]["text"] == 'He said "no way" and left, typical [NAME].'
    assert rows["ed00q6i"]["labels"] == [label2id["annoyance"], label2id["disapproval"]]
    assert rows["ee3b6wu"]["text"] == "A tab\tinside quotes is still one field"
    assert rows["eezlygj"]["labels"] == rows["eezlygj"]["emo28_labels"] == [15, 17]
    assert rows["eebbqej"]["context"] is None and rows["eebbqej"]["character"] is None
    dev = {row["id"]: row["labels"] for row in ds["validation"]}
    assert dev["edgurhb"] == [label2id["caring"], label2id["grief"], label2id["remorse"]]
    assert ds["test"]["id"] == ["eeibobj", "edyvkfo"]  # the last line has no newline


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("one field only", None, "expected 3"),
        ("text\t27\tid1\textra", None, "expected 3"),
        ("text\t28\tid1", "labels", "0..27"),
        ("text\t3,x\tid1", "labels", "0..27"),
        ("text\t\tid1", "labels", "0..27"),
        ("\t27\tid1", "text", "empty text"),
        ("duplicate\t27\teebbqej", "id", "duplicate"),
    ],
)
def test_malformed_row(goemotions_dir: Path, line: str, field: str | None, message: str) -> None:
    path = write(goemotions_dir / "train.tsv", GOEMOTIONS_TRAIN + "\n" + line)
    with pytest.raises(InputError, match=message) as info:
        TASK.load(goemotions_dir)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 6, field)


def test_line_numbers_count_quoted_newlines(tmp_path: Path) -> None:
    write(tmp_path / "train.tsv", '"two\nlines"\t27\tid0\nbad\t99\tid1')
    with pytest.raises(InputError) as info:
        TASK.load(tmp_path)
    assert info.value.line == 3


def test_empty_undecodable_and_wrong_emotions_file(goemotions_dir: Path) -> None:
    write(goemotions_dir / "dev.tsv", "", final_newline=False)
    with pytest.raises(InputError, match="empty") as info:
        TASK.load(goemotions_dir)
    assert info.value.path == str(goemotions_dir / "dev.tsv")
    (goemotions_dir / "dev.tsv").write_bytes(b"fine\t27\tid0\nbad \xff byte\t27\tid1\n")
    with pytest.raises(InputError, match="UTF-8") as info:
        TASK.load(goemotions_dir)
    assert info.value.line == 2
    write(goemotions_dir / "emotions.txt", "\n".join(["admiration", "fun", *EMOTIONS[2:]]))
    with pytest.raises(InputError, match="'fun'") as info:
        TASK.load(goemotions_dir)
    assert info.value.line == 2


def test_hub_config_raw_is_refused() -> None:
    with pytest.raises(ConfigError, match="simplified"):
        TASK.load("google-research-datasets/go_emotions", config="raw")


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    out = np.zeros((len(rows), 28))
    for i, row in enumerate(rows):
        for name, p in row.items():
            out[i, label2id[name]] = p
    return out


GOLD = [["admiration"], ["admiration", "joy"], ["neutral"]]
PROBS = _probs([{"admiration": 0.9}, {"admiration": 0.6, "joy": 0.4}, {"neutral": 0.3, "joy": 0.55}])


def test_metrics_by_hand() -> None:
    at_half = TASK.compute_metrics(GOLD, (PROBS >= 0.5).astype(int))
    # Predictions at 0.5: {admiration}, {admiration}, {joy}.
    # admiration: TP 2 -> F1 1; joy: TP 0, FP 1, FN 1 -> 0; neutral: FN 1 -> 0; 25 others: 0 (no gold, no pred).
    assert at_half["f1_admiration"] == 1.0 and at_half["f1_joy"] == 0.0 and at_half["f1_neutral"] == 0.0
    assert at_half["macro_f1"] == pytest.approx(1 / 28)
    # micro: TP 2, FP 1, FN 2 -> P 2/3, R 1/2, F1 = 2 * (1/3) / (7/6) = 4/7
    assert at_half["micro_f1"] == pytest.approx(4 / 7)
    at_03 = TASK.compute_metrics(GOLD, (PROBS >= 0.3).astype(int))
    # At 0.3: {admiration}, {admiration, joy}, {neutral, joy}: joy TP 1, FP 1 -> 2/3; neutral TP 1 -> 1.
    assert at_03["f1_joy"] == pytest.approx(2 / 3) and at_03["f1_neutral"] == 1.0
    assert at_03["macro_f1"] == pytest.approx((1 + 2 / 3 + 1) / 28)
    # micro: TP 4, FP 1, FN 0 -> P 4/5, R 1 -> F1 8/9
    assert at_03["micro_f1"] == pytest.approx(8 / 9)
    # Index lists and 0-1 matrices as gold give the same numbers.
    multi_hot = (_probs([{"admiration": 1}, {"admiration": 1, "joy": 1}, {"neutral": 1}]) > 0).astype(int)
    assert TASK.compute_metrics(multi_hot, PROBS >= 0.5) == at_half


def test_real_counts(shared_data: Path) -> None:
    ds = TASK.load(shared_data / "goemotions")
    assert {split: ds[split].num_rows for split in ds} == {"train": 43410, "validation": 5426, "test": 5427}
    lengths = np.bincount([len(labels) for labels in ds["train"]["labels"]])
    assert lengths.tolist() == [0, 36308, 6541, 532, 28, 1]
    assert ds["train"][0] == {
        "id": "eebbqej",
        "text": "My favourite food is anything I didn't have to cook myself.",
        "context": None,
        "character": None,
        "labels": [27],
        "emo28_labels": [27],
    }
