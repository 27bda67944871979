"""Train/validation/test splits grouped by story, so no plot appears in two splits.

The split itself is scikit-learn's :class:`~sklearn.model_selection.GroupShuffleSplit` (test first, then validation
out of what is left), with the plot as the group. The fractions are fractions of *plots*, rounded, with at least one
plot for every split asked for; with many plots of similar size the row fractions follow.

A corpus with fewer plots than requested splits cannot be split by plot. It is never split silently: the plots go,
one each, to train, then validation, then test (so thresholds can still be tuned before anything is held out), and
:attr:`SplitPlan.fallback` says so in one line, which the build prints and writes into the card.

Examples:
    >>> from emo_pillars.data.splits import plan_splits
    >>> plan = plan_splits(["p1", "p1", "p2", "p3", "p4", "p5"], (0.6, 0.2, 0.2), seed=0)
    >>> sorted(plan.assignment.values()), plan.fallback
    (['test', 'train', 'train', 'train', 'validation'], None)
    >>> plan_splits(["a", "b"], (0.8, 0.1, 0.1)).fallback
    'only 2 plots for 3 splits (each needs a whole plot): train 1 plot, validation 1 plot, no test split'
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .features import SPLITS

__all__ = ["check_ratios", "SplitPlan", "plan_splits", "assign_splits"]


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


@dataclass
class SplitPlan:
    """Which split every plot goes to, and whether the requested split had to be replaced.

    Attributes:
        assignment: Plot id -> ``"train"``, ``"validation"`` or ``"test"``.
        ratios: The train/validation/test fractions asked for.
        fallback: ``None`` when the split is the one asked for; else one line saying what was done instead
            (e.g. ``"only 2 plots for 3 splits ...: train 1 plot, validation 1 plot, no test split"``).

    Examples:
        >>> SplitPlan({"p1": "train"}, (0.8, 0.1, 0.1)).plots_per_split
        {'train': 1, 'validation': 0, 'test': 0}
    """

    assignment: dict[str, str]
    ratios: tuple[float, float, float]
    fallback: str | None = None

    @property
    def plots_per_split(self) -> dict[str, int]:
        values = list(self.assignment.values())
        return {split: values.count(split) for split in SPLITS}


def _plural(n: int) -> str:
    return f"{n} plot" + ("" if n == 1 else "s")


def plan_splits(plot_ids: Iterable[str], ratios: Sequence[float], seed: int = 42) -> SplitPlan:
    """Assign every plot to one split with scikit-learn's ``GroupShuffleSplit``.

    Args:
        plot_ids: The plot id of every row (repeats welcome), or the distinct plot ids.
        ratios: Train, validation and test fractions (see :func:`check_ratios`), as fractions of plots.
        seed: ``random_state`` of the splitter; the same seed and plots give the same plan, in any input order.

    Returns:
        A :class:`SplitPlan`; its ``fallback`` is set when there are fewer plots than splits with a fraction above 0
        (:func:`~emo_pillars.data.tables.read_config` logs it as a warning).
    """
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit

    ratios = check_ratios(ratios)
    groups = sorted(set(plot_ids))
    n = len(groups)
    wanted = [split for split, r in zip(SPLITS, ratios) if r > 0]
    if n < len(wanted):
        order = list(groups)
        random.Random(seed).shuffle(order)
        priority = [s for s in ("train", "validation", "test") if s in wanted]
        assignment = {plot: priority[i] for i, plot in enumerate(order)}
        counts = {s: list(assignment.values()).count(s) for s in priority}
        parts = [f"{s} {_plural(c)}" if c else f"no {s} split" for s, c in counts.items()]
        fallback = f"only {_plural(n)} for {len(wanted)} splits (each needs a whole plot): " + ", ".join(parts)
        return SplitPlan(assignment, ratios, fallback)

    _, val_r, test_r = ratios
    n_test = max(1, round(test_r * n)) if test_r > 0 else 0
    n_val = max(1, round(val_r * n)) if val_r > 0 else 0
    while n - n_test - n_val < 1:  # train keeps at least one plot; shrink the larger of the other two
        if n_test >= n_val and n_test > 1:
            n_test -= 1
        else:
            n_val -= 1
    index = np.arange(n)
    assignment: dict[str, str] = {}
    rest = index
    for split, size in (("test", n_test), ("validation", n_val)):
        if size == 0:
            continue
        splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        keep, held = next(splitter.split(rest.reshape(-1, 1), groups=rest))
        for i in rest[held]:
            assignment[groups[i]] = split
        rest = rest[keep]
    for i in rest:
        assignment[groups[i]] = "train"
    return SplitPlan(dict(sorted(assignment.items())), ratios)


def assign_splits(plot_sizes: Mapping[str, int], ratios: Sequence[float], seed: int = 42) -> dict[str, str]:
    """Plot id -> split for the plots of ``plot_sizes`` (see :func:`plan_splits`; sizes are not used)."""
    return plan_splits(plot_sizes, ratios, seed).assignment
