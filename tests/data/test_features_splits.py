"""Features of both configs and the grouped, deterministic split."""

from __future__ import annotations

import datasets
import pytest

from emo_pillars.data.features import COLUMN_DOCS, COLUMNS, check_config, get_features
from emo_pillars.data.splits import plan_splits
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
    plots = [f"p{i:03d}" for i in range(200) for _ in range(5 + i % 7)]  # rows, as plot ids
    plan = plan_splits(plots, (0.8, 0.1, 0.1), seed=3)
    assert plan.fallback is None and set(plan.assignment) == set(plots)
    assert plan.assignment == plan_splits(list(reversed(plots)), (0.8, 0.1, 0.1), seed=3).assignment
    assert plan.assignment != plan_splits(plots, (0.8, 0.1, 0.1), seed=4).assignment
    assert plan.plots_per_split == {"train": 160, "validation": 20, "test": 20}
    rows = {s: sum(1 for p in plots if plan.assignment[p] == s) for s in ("train", "validation", "test")}
    assert abs(rows["test"] / len(plots) - 0.1) < 0.03 and abs(rows["validation"] / len(plots) - 0.1) < 0.03


def test_small_corpora_get_every_split_or_a_stated_fallback():
    three = plan_splits(["a", "b", "c"], (0.9, 0.05, 0.05))
    assert sorted(three.assignment.values()) == ["test", "train", "validation"] and three.fallback is None
    two = plan_splits(["a", "b", "a"], (0.8, 0.1, 0.1))
    assert sorted(two.assignment.values()) == ["train", "validation"]
    assert two.fallback == (
        "only 2 plots for 3 splits (each needs a whole plot): train 1 plot, validation 1 plot, no test split"
    )
    one = plan_splits(["only"] * 3, (0.8, 0.1, 0.1))
    assert one.assignment == {"only": "train"} and "no validation split, no test split" in one.fallback
    no_val = plan_splits(["a", "b"], (0.5, 0.0, 0.5))
    assert sorted(no_val.assignment.values()) == ["test", "train"] and no_val.fallback is None
    for bad in [(0.5, 0.5), (0.5, 0.3, 0.3), (0.0, 0.5, 0.5), (1.2, -0.1, -0.1)]:
        with pytest.raises(ConfigError):
            plan_splits(["a"], bad)
