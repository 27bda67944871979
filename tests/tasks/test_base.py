"""The Task registry, the shared helpers and the import cost of ``emo_pillars.tasks``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmark_files import write

from emo_pillars.errors import ConfigError, InputError
from emo_pillars.tasks import TASKS, Task, get_task
from emo_pillars.tasks.base import (
    aggregate_metrics,
    format_mean_std,
    multi_label_metrics,
    read_text,
    single_label_metrics,
    split_lines,
)
from emo_pillars.taxonomy import EMOTIONS


def test_registry() -> None:
    assert sorted(TASKS) == ["emocontext", "emopillars", "goemotions", "iemocap", "isear"]
    assert get_task("go-emotions") is TASKS["goemotions"] and get_task("ISEAR") is TASKS["isear"]
    assert get_task("iemocap", ways=6).label_names == ("happy", "sad", "neutral", "angry", "excited", "frustrated")
    with pytest.raises(ConfigError, match="unknown task"):
        get_task("meld")
    with pytest.raises(ConfigError, match="bad option"):
        get_task("isear", folds=10)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_is_complete(name: str) -> None:
    task = TASKS[name]
    assert task.name == name and task.protocol and task.metric_name
    assert task.input_format in ("context_less", "contextual")
    assert all(task.label_map[label] in EMOTIONS for label in task.label_names)
    features = task.features()
    assert list(features)[:4] == ["id", "text", "context", "character"]
    assert task.label_column in features and "emo28_labels" in features


def test_task_checks_its_label_map() -> None:
    with pytest.raises(ValueError, match="no entry"):
        Task(name="x", label_names=("a", "b"), label_map={"a": "joy"})
    with pytest.raises(ValueError, match="28 classes"):
        Task(name="x", label_names=("a",), label_map={"a": "happiness"})
    with pytest.raises(ConfigError):
        Task(name="x", label_names=("a",), label_map={"a": "joy"}, input_format="dialogue")


def test_local_only_task_rejects_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as info:
        TASKS["iemocap"].load(tmp_path / "nowhere")
    assert info.value.path == str(tmp_path / "nowhere")


def test_read_text_and_split_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "x\ty\nz\u2028still z", newline="\r\n", final_newline=False)
    assert split_lines(read_text(path)) == ["x\ty", "z\u2028still z"]
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\n")
    assert read_text(tmp_path / "bom.txt") == "hello\n"
    (tmp_path / "blank.txt").write_bytes(b" \r\n\n")
    with pytest.raises(InputError, match="empty"):
        read_text(tmp_path / "blank.txt")
    (tmp_path / "latin1.txt").write_bytes(b"ok\nok\nna\xefve\n")
    with pytest.raises(InputError, match=r"0xef") as info:
        read_text(tmp_path / "latin1.txt")
    assert info.value.line == 3


def test_metric_helpers_accept_several_forms() -> None:
    names = ["a", "b", "c"]
    by_lists = multi_label_metrics([[0], [1, 2]], [[0], [1]], names)
    by_matrix = multi_label_metrics(
        np.array([[1, 0, 0], [0, 1, 1]]), np.array([[0.9, 0.1, 0.2], [0.2, 0.7, 0.4]]), names
    )
    by_names = multi_label_metrics([["a"], ["b", "c"]], [["a"], ["b"]], names)
    # a: 1; b: 1; c: FN only -> 0. macro 2/3; micro TP 2, FP 0, FN 1 -> P 1, R 2/3 -> F1 0.8
    assert by_lists == by_matrix == by_names
    assert by_lists["macro_f1"] == pytest.approx(2 / 3) and by_lists["micro_f1"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="unknown label"):
        single_label_metrics(["a", "z"], ["a", "a"], names)
    with pytest.raises(ValueError, match="out of range"):
        single_label_metrics([0, 3], [0, 0], names)
    with pytest.raises(ValueError, match="2 gold labels and 1"):
        single_label_metrics([0, 1], [0], names)


def test_aggregate_metrics() -> None:
    agg = aggregate_metrics([{"f1": 0.5, "note": "x"}, {"f1": 0.7, "note": "y"}])
    assert set(agg) == {"f1"}  # non-numeric keys are left out
    # mean 0.6; sample std sqrt((0.01 + 0.01) / 1) = 0.1414
    assert format_mean_std(agg["f1"]) == "0.600 +- 0.141"
    assert aggregate_metrics([{"f1": 0.5}])["f1"]["std"] == 0.0
    with pytest.raises(ValueError):
        aggregate_metrics([])


def test_import_stays_light() -> None:
    code = (
        "import sys, emo_pillars.tasks as t; t.get_task('iemocap', ways=6);"
        "print(sorted(m for m in ('datasets', 'sklearn', 'torch', 'transformers', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
