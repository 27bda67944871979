"""Threshold sweep: grid, global and per-label thresholds for macro-F1."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from emo_pillars.modeling.thresholds import THRESHOLD_GRID, sweep_thresholds, tune_thresholds


def test_grid_is_005_to_095_step_001():
    assert len(THRESHOLD_GRID) == 91
    assert THRESHOLD_GRID[0] == 0.05 and THRESHOLD_GRID[-1] == 0.95
    assert np.allclose(np.diff(THRESHOLD_GRID), 0.01)


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((400, 5)) < [0.3, 0.1, 0.05, 0.2, 0.4]).astype(int)
    # Each label separable at a different score level.
    centres = np.array([0.2, 0.35, 0.6, 0.75, 0.45])
    probs = np.clip(np.where(labels == 1, centres + 0.1, centres - 0.1) + rng.normal(0, 0.03, labels.shape), 0, 1)
    return labels, probs


def test_per_label_thresholds_find_each_labels_own_level():
    labels, probs = _data()
    result = tune_thresholds(labels, probs)
    assert result.per_label_f1 == pytest.approx(1.0, abs=0.02)
    for threshold, centre in zip(result.per_label, [0.2, 0.35, 0.6, 0.75, 0.45]):
        assert abs(threshold - centre) < 0.08
    # One global threshold cannot separate all labels; it is the best of the sweep.
    assert result.global_f1 < result.per_label_f1
    best = max(f1_score(labels, (probs >= t).astype(int), average="macro", zero_division=0) for t in THRESHOLD_GRID)
    assert result.global_f1 == pytest.approx(best)
    assert result.f1_at_05 == pytest.approx(f1_score(labels, (probs >= 0.5).astype(int), average="macro"))
    assert len(result.macro_f1_curve) == 91 and np.asarray(result.label_f1_curves).shape == (91, 5)


def test_label_without_positives_keeps_the_global_threshold():
    labels, probs = _data(1)
    labels[:, 2] = 0
    result = tune_thresholds(labels, probs)
    assert result.per_label[2] == result.global_threshold


def test_sweep_matches_sklearn():
    labels, probs = _data(2)
    curves = sweep_thresholds(labels, probs, grid=[0.3, 0.5])
    assert np.allclose(curves[1], f1_score(labels, (probs >= 0.5).astype(int), average=None, zero_division=0))
    with pytest.raises(ValueError):
        tune_thresholds([[1, 0]], [[0.5]])
    assert set(tune_thresholds(labels, probs).to_dict()) == {
        "global_threshold", "global_f1", "per_label", "per_label_f1", "f1_at_05"
    }  # fmt: skip
