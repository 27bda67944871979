"""Decision thresholds for the 28 sigmoid outputs, tuned on validation data to maximise macro-F1.

Two kinds are tuned from the same sweep (0.05 to 0.95 in steps of 0.01, as in the paper):

* one **global** threshold shared by all labels (the paper's choice), and
* **per-label** thresholds, each maximising that label's F1; since macro-F1 is the mean of the per-label F1s, the
  per-label choice maximises macro-F1 on the tuning data. A label without positives in the tuning data keeps the
  global threshold.

F1 is computed with scikit-learn. This is the library's one threshold sweep: the trainer (during and after
training), the fine-tuning protocols and the model card all use it.

Examples:
    >>> import numpy as np
    >>> labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    >>> probs = np.array([[0.7, 0.2], [0.2, 0.4], [0.6, 0.45], [0.1, 0.1]])
    >>> result = tune_thresholds(labels, probs)
    >>> result.per_label_f1, [round(t, 2) for t in result.per_label]
    (1.0, [0.5, 0.4])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = [
    "THRESHOLD_GRID", "THRESHOLD_POLICIES", "ThresholdResult", "best_on_grid", "check_threshold", "parse_threshold",
    "sweep_thresholds", "tune_thresholds",
]  # fmt: skip

#: How multi-label scores can be cut besides a number: the model's tuned global threshold or its per-label ones.
THRESHOLD_POLICIES = ("global", "per_label")


def check_threshold(value: Any, name: str = "threshold") -> float:
    """A threshold as a float in [0, 1]; NaN, infinities and values outside are refused in one line.

    Examples:
        >>> check_threshold("0.3")
        0.3
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}")
    return number


def parse_threshold(value: Any, name: str = "threshold") -> float | str | None:
    """The library's one threshold parser: ``None``, a policy of :data:`THRESHOLD_POLICIES`, or a number in [0, 1].

    Examples:
        >>> parse_threshold("per_label"), parse_threshold("0.36")
        ('per_label', 0.36)
    """
    if value is None or value in THRESHOLD_POLICIES:
        return value
    try:
        float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be 'global', 'per_label' or a number in [0, 1], got {value!r}") from None
    return check_threshold(value, name)


#: The thresholds tried: 0.05, 0.06, ..., 0.95.
THRESHOLD_GRID: np.ndarray = np.round(np.arange(0.05, 0.95 + 1e-9, 0.01), 2)


@dataclass
class ThresholdResult:
    """The outcome of a threshold sweep.

    Attributes:
        global_threshold: The single threshold with the best macro-F1.
        global_f1: Macro-F1 at ``global_threshold``.
        per_label: One threshold per label (28 for the emotion classes).
        per_label_f1: Macro-F1 with the per-label thresholds.
        grid: The thresholds tried.
        macro_f1_curve: Macro-F1 at each threshold in ``grid`` (one global threshold).
        label_f1_curves: F1 of each label at each threshold, shape ``(len(grid), num_labels)``.
        f1_at_05: Macro-F1 at 0.5, for reference.
    """

    global_threshold: float
    global_f1: float
    per_label: list[float] = field(repr=False)
    per_label_f1: float
    grid: list[float] = field(repr=False)
    macro_f1_curve: list[float] = field(repr=False)
    label_f1_curves: list[list[float]] = field(repr=False)
    f1_at_05: float = 0.0

    def to_dict(self, curves: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; the curves only when ``curves`` is true."""
        data = asdict(self)
        if not curves:
            for key in ("grid", "macro_f1_curve", "label_f1_curves"):
                data.pop(key)
        return data


def _check(labels: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    p = np.asarray(probs, dtype=np.float64)
    if y.ndim != 2 or y.shape != p.shape:
        raise ValueError(f"labels and probabilities must be 2-D arrays of one shape, got {y.shape} and {p.shape}")
    return (y >= 0.5).astype(np.int64), p


def sweep_thresholds(labels: Any, probs: Any, grid: Sequence[float] | None = None) -> np.ndarray:
    """Per-label F1 at each threshold of ``grid``, computed with scikit-learn.

    Args:
        labels: 0/1 array ``(n_examples, n_labels)`` (soft targets are cut at 0.5).
        probs: Scores in ``[0, 1]`` of the same shape.
        grid: Thresholds to try; :data:`THRESHOLD_GRID` by default.

    Returns:
        Array ``(len(grid), n_labels)`` of F1 scores (0 where a label has neither positives nor predictions).
    """
    from sklearn.metrics import f1_score

    y, p = _check(labels, probs)
    grid = THRESHOLD_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    return np.stack([f1_score(y, (p >= t).astype(np.int64), average=None, zero_division=0) for t in grid])


def best_on_grid(curve: Any, grid: Sequence[float] | None = None) -> int:
    """Index of the best value of ``curve`` over ``grid``; ties go to the threshold nearest 0.5.

    Examples:
        >>> best_on_grid([0.2, 0.4, 0.4, 0.1], [0.3, 0.45, 0.6, 0.7])
        1
    """
    grid = THRESHOLD_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    return int(np.lexsort((-np.abs(grid - 0.5), np.asarray(curve)))[-1])


def tune_thresholds(labels: Any, probs: Any, grid: Sequence[float] | None = None) -> ThresholdResult:
    """Find the global and per-label thresholds that maximise macro-F1.

    Ties go to the threshold closest to 0.5, so a flat stretch of the curve does not push a threshold to an
    extreme.

    Args:
        labels: 0/1 array ``(n_examples, n_labels)`` of the tuning (validation) data.
        probs: The model's sigmoid scores for the same examples.
        grid: Thresholds to try; :data:`THRESHOLD_GRID` by default.

    Returns:
        A :class:`ThresholdResult`.
    """
    y, p = _check(labels, probs)
    grid = THRESHOLD_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    curves = sweep_thresholds(y, p, grid)  # (T, L)
    macro = curves.mean(axis=1)
    best_global = best_on_grid(macro, grid)
    global_threshold = float(grid[best_global])
    per_label = []
    for j in range(y.shape[1]):
        if y[:, j].sum() == 0:
            per_label.append(global_threshold)
            continue
        per_label.append(float(grid[best_on_grid(curves[:, j], grid)]))
    per_label_arr = np.asarray(per_label)
    from sklearn.metrics import f1_score

    per_label_f1 = float(f1_score(y, (p >= per_label_arr).astype(np.int64), average="macro", zero_division=0))
    f1_at_05 = float(f1_score(y, (p >= 0.5).astype(np.int64), average="macro", zero_division=0))
    return ThresholdResult(
        global_threshold=global_threshold,
        global_f1=float(macro[best_global]),
        per_label=[round(t, 2) for t in per_label],
        per_label_f1=per_label_f1,
        grid=[round(float(t), 2) for t in grid],
        macro_f1_curve=[float(v) for v in macro],
        label_f1_curves=curves.tolist(),
        f1_at_05=f1_at_05,
    )
