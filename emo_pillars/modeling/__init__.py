"""Models: the classifier, safe loading, input formats, label spaces, metrics, thresholds and model cards.

Names are imported lazily, so ``import emo_pillars.modeling`` loads neither torch nor transformers.

Examples:
    >>> from emo_pillars.modeling import EmoPillarsClassifier  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "EmoPillarsClassifier": ".classifier",
    "rollup_proba": ".classifier",
    "check_threshold": ".thresholds",
    "parse_threshold": ".thresholds",
    "upload_model_folder": ".classifier",
    "EmoPillarsModelCardData": ".card",
    "LabelSpace": ".label_space",
    "tune_thresholds": ".thresholds",
    "ThresholdResult": ".thresholds",
    "THRESHOLD_GRID": ".thresholds",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'emo_pillars.modeling' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
