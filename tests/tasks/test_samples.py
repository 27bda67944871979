"""Synthetic sample files: the real loaders read them, every class appears, and a seed fixes the content."""

from __future__ import annotations

from pathlib import Path

import pytest

from emo_pillars.errors import ConfigError
from emo_pillars.tasks import TASKS, get_task, write_sample_files


@pytest.mark.parametrize("name", sorted(TASKS))
def test_loader_reads_the_sample(name: str, tmp_path: Path) -> None:
    task = get_task(name, **({"ways": 6} if name == "iemocap" else {}))
    data = task.load(write_sample_files(name, tmp_path, size=64))
    assert set(data) == set(task.splits) | ({"validation"} if name == "iemocap" else set())
    train = data["train"]
    if task.multi_label:
        seen = {label for row in train["labels"] for label in row}
    else:
        seen = set(train["label"])
    # The 28-class samples (GoEmotions, Emo Pillars) use 6 of the classes (+1).
    expected = 6 if name in ("goemotions", "emopillars") else task.num_labels
    assert len(seen) >= expected
    if name == "isear":
        assert not any("á" in text for text in train["text"])  # the export's line-break mark is cleaned


def test_emocontext_sample_is_crlf_with_a_header_on_train_only(tmp_path: Path) -> None:
    folder = write_sample_files("emocontext", tmp_path)
    train, test = (folder / "train.txt").read_bytes(), (folder / "test.txt").read_bytes()
    assert train.startswith(b"id\tturn1\tturn2\tturn3\tlabel\r\n") and b"\r\n" in test
    assert not test.startswith(b"id\t") and b"\n" not in train.replace(b"\r\n", b"")


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = write_sample_files("goemotions", tmp_path / "a", seed=3)
    b = write_sample_files("goemotions", tmp_path / "b", seed=3)
    c = write_sample_files("goemotions", tmp_path / "c", seed=4)
    assert (a / "train.tsv").read_bytes() == (b / "train.tsv").read_bytes() != (c / "train.tsv").read_bytes()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown task"):
        write_sample_files("semeval", tmp_path)
    with pytest.raises(ConfigError, match="at least 8"):
        write_sample_files("isear", tmp_path, size=4)
