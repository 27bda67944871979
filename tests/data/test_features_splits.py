"""Features of both configs and the grouped, deterministic split."""

from __future__ import annotations

import datasets
import pytest

from emo_pillars.data.features import COLUMN_DOCS, COLUMNS, check_config, get_features
from emo_pillars.data.splits import assign_splits
from emo_pillars.errors import ConfigError
from emo_pillars.taxonomy import EMOTIONS


def test_features_are_exact():
    contextual = get_features("contextual")
    assert list(contextual) == list(COLUMNS["contextual"])
    assert contextual["labels"] == datasets.List(datasets.ClassLabel(names=list(EMOTIONS)))
    assert contextual["emotion_scores"] == datasets.List(datasets.Value("float32"), length=28)
    assert contextual["variant"].names == ["original", "rewritten"]
    assert list(get_features("context-less")) == list(COLUMNS["context_less"])
    assert set(COLUMN_DOCS) == set(COLUMNS["contextual"])
    with pytest.raises(ConfigError):
        check_config("both")


def test_split_is_grouped_deterministic_and_near_ratios():
    sizes = {f"p{i:03d}": 5 + i % 7 for i in range(200)}
    a = assign_splits(sizes, (0.8, 0.1, 0.1), seed=3)
    assert a == assign_splits(dict(reversed(list(sizes.items()))), (0.8, 0.1, 0.1), seed=3)
    assert a != assign_splits(sizes, (0.8, 0.1, 0.1), seed=4)
    total = sum(sizes.values())
    rows = {s: sum(n for p, n in sizes.items() if a[p] == s) for s in ("train", "validation", "test")}
    assert abs(rows["test"] / total - 0.1) < 0.02 and abs(rows["validation"] / total - 0.1) < 0.02


def test_tiny_inputs_keep_train_and_bad_ratios_fail():
    assert assign_splits({"only": 3}, (0.8, 0.1, 0.1)) == {"only": "train"}
    assert sorted(assign_splits({"a": 1, "b": 1, "c": 1}, (0.9, 0.05, 0.05)).values()) == [
        "test",
        "train",
        "validation",
    ]
    for bad in [(0.5, 0.5), (0.5, 0.3, 0.3), (0.0, 0.5, 0.5), (1.2, -0.1, -0.1)]:
        with pytest.raises(ConfigError):
            assign_splits({"a": 1}, bad)
