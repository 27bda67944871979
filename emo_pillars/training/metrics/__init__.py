"""Metrics shipped with emo-pillars as ``evaluate`` modules, loaded from their files (no Hub needed).

Each metric lives in ``metrics/<name>/<name>.py``; :func:`load_metric` loads it by path, and so can anyone with
``evaluate.load(metric_path("multilabel_f1"))``.

Examples:
    >>> sorted(METRICS)
    ['multilabel_f1']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["METRICS", "metric_path", "load_metric"]

_HERE = Path(__file__).resolve().parent

#: The metric modules shipped in this folder.
METRICS: tuple[str, ...] = ("multilabel_f1",)


def metric_path(name: str) -> str:
    """The file path of a shipped metric module, for ``evaluate.load``."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; shipped metrics are {METRICS}")
    return str(_HERE / name / f"{name}.py")


def load_metric(name: str, **kwargs: Any) -> Any:
    """Load a shipped metric with ``evaluate.load`` from its path (works offline).

    Args:
        name: One of :data:`METRICS`.
        **kwargs: Passed to ``evaluate.load`` (e.g. ``experiment_id``).
    """
    import evaluate

    return evaluate.load(metric_path(name), **kwargs)
