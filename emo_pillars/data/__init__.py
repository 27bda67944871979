"""The dataset wing: Features, one reader, splits, quality measures, the repository and its card, publishing.

Names are imported lazily, so ``import emo_pillars.data`` loads neither ``datasets`` nor ``torch``.

Examples:
    >>> from emo_pillars.data import CONFIG_NAMES
    >>> CONFIG_NAMES
    ('context_less', 'contextual')
"""

from __future__ import annotations

from ..utils.lazy import lazy_getattr
from .features import COLUMN_DOCS, COLUMNS, CONFIG_NAMES, DEFAULT_CONFIG, SPLITS, VARIANTS, get_features

_LAZY = {
    "load_emo_pillars": ".load",
    "dataset_taxonomy": ".load",
    "build_repository": ".repository",
    "verify_repository": ".repository",
    "BuildResult": ".repository",
    "merge_shards": ".merge",
    "MergeResult": ".merge",
    "push_repository": ".hub",
    "read_config": ".tables",
    "ConfigTables": ".tables",
    "QualityReport": ".quality",
    "SourceReport": ".sources",
    "plan_splits": ".splits",
    "SplitPlan": ".splits",
}

__all__ = [
    "CONFIG_NAMES",
    "DEFAULT_CONFIG",
    "SPLITS",
    "VARIANTS",
    "COLUMNS",
    "COLUMN_DOCS",
    "get_features",
    *_LAZY,
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
