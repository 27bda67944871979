"""The library's one F1 implementation: macro, micro and weighted F1 with per-label precision, recall, F1 and
support, from 0/1 matrices, computed with scikit-learn.

The trainer's evaluation, the ``multilabel_f1`` ``evaluate`` module and the downstream tasks' multi-label metrics
all call :func:`f1_scores` (scikit-learn is imported when it runs).

Examples:
    >>> scores = f1_scores([[1, 0], [0, 1]], [[1, 0], [1, 1]], ["joy", "fear"])
    >>> round(scores["macro_f1"], 4), scores["per_label"]["fear"]["recall"]
    (0.8333, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["f1_scores"]


def f1_scores(y_true: Any, y_pred: Any, label_names: Sequence[str] | None = None) -> dict[str, Any]:
    """F1 of 0/1 predictions against 0/1 gold labels, both ``(n_examples, n_labels)``.

    Args:
        y_true: Gold labels (values >= 0.5 count as positive).
        y_pred: Predictions (values >= 0.5 count as positive).
        label_names: Names of the columns (default ``"0"``, ``"1"``, ...).

    Returns:
        ``macro_f1``, ``micro_f1``, ``weighted_f1`` and ``per_label`` (name -> precision, recall, f1, support);
        a label with neither gold nor predicted positives scores 0.
    """
    import numpy as np
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    true = (np.asarray(y_true, dtype=np.float64) >= 0.5).astype(np.int64)
    pred = (np.asarray(y_pred, dtype=np.float64) >= 0.5).astype(np.int64)
    if true.ndim != 2 or true.shape != pred.shape:
        raise ValueError(f"gold labels {true.shape} and predictions {pred.shape} must be 2-D arrays of one shape")
    names = list(label_names) if label_names is not None else [str(i) for i in range(true.shape[1])]
    if len(names) != true.shape[1]:
        raise ValueError(f"got {len(names)} label names for {true.shape[1]} columns")
    precision, recall, f1, support = precision_recall_fscore_support(true, pred, average=None, zero_division=0)
    return {
        "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(true, pred, average="micro", zero_division=0)),
        "weighted_f1": float(f1_score(true, pred, average="weighted", zero_division=0)),
        "per_label": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
    }
