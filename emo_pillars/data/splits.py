"""Train/validation/test splits grouped by story, so no plot appears in two splits.

Examples:
    >>> from emo_pillars.data.splits import assign_splits
    >>> sizes = {"p1": 10, "p2": 10, "p3": 10, "p4": 10, "p5": 10}
    >>> assignment = assign_splits(sizes, (0.6, 0.2, 0.2), seed=0)
    >>> sorted(assignment.values())
    ['test', 'train', 'train', 'train', 'validation']
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from ..errors import ConfigError
from .features import SPLITS

__all__ = ["check_ratios", "assign_splits"]


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Validate train/validation/test fractions: three numbers >= 0 summing to 1, train > 0."""
    try:
        values = tuple(float(r) for r in ratios)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"split ratios must be three numbers, got {ratios!r}") from err
    if len(values) != 3 or any(v < 0 or math.isnan(v) for v in values) or values[0] <= 0:
        raise ConfigError(f"split ratios must be three fractions >= 0 with train > 0, got {ratios!r}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(f"split ratios must sum to 1, got {ratios!r} (sum {sum(values):g})")
    return values  # type: ignore[return-value]


def assign_splits(plot_sizes: Mapping[str, int], ratios: Sequence[float], seed: int = 42) -> dict[str, str]:
    """Assign every plot to one split so that the splits' row counts approach ``ratios``.

    Plots are shuffled with ``seed`` (from their sorted ids, so input order does not matter); test, then validation,
    take whole plots until adding the next one would move them further from their target row count. Every split with
    a ratio above 0 gets at least one plot while at least one plot is left for train; train takes the rest.

    Args:
        plot_sizes: Plot id -> number of rows of that plot.
        ratios: Train, validation and test fractions (see :func:`check_ratios`).
        seed: Seed of the shuffle; the same seed and plots give the same assignment.

    Returns:
        Plot id -> ``"train"``, ``"validation"`` or ``"test"``.
    """
    train_r, val_r, test_r = check_ratios(ratios)
    order = sorted(plot_sizes)
    random.Random(seed).shuffle(order)
    total = sum(plot_sizes.values())
    assignment: dict[str, str] = {}
    i = 0
    for split, ratio in (("test", test_r), ("validation", val_r)):
        if ratio <= 0:
            continue
        target = ratio * total
        count = 0
        while i < len(order) - 1:  # always leave one plot for train
            size = plot_sizes[order[i]]
            if count > 0 and count + size / 2 > target:
                break
            assignment[order[i]] = split
            count += size
            i += 1
    for plot in order[i:]:
        assignment[plot] = "train"
    assert set(assignment.values()) <= set(SPLITS)
    return assignment
