"""Models: the classifier, safe loading, input formats, label spaces, metrics, thresholds and model cards.

Names are imported lazily, so ``import emo_pillars.modeling`` loads neither torch nor transformers.

Examples:
    >>> from emo_pillars.modeling import EmoPillarsClassifier  # doctest: +SKIP
"""

from __future__ import annotations

from ..utils.lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
