"""The columns of the Emo Pillars dataset: names, types (``datasets.Features``) and what each one means.

Two configs share one schema, the contextual one adding three columns:

* ``context_less`` (the default): an utterance a story character thinks aloud, with its emotions.
* ``contextual``: the same kind of utterance, plus the situation (``context``) that explains it, in two variants
  (``original``: the utterance with the raw context; ``rewritten``: an ambiguous rewrite with the cleaned context).

``datasets`` is imported only inside :func:`get_features`, so this module is cheap to import.

Examples:
    >>> from emo_pillars.data.features import COLUMNS, get_features
    >>> list(COLUMNS["contextual"])[-3:]
    ['context', 'variant', 'source_utterance']
    >>> get_features("context_less")["labels"].feature.names[-1]
    'neutral'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError
from ..taxonomy import EMOTIONS, Taxonomy

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = [
    "CONFIG_NAMES",
    "DEFAULT_CONFIG",
    "ConfigName",
    "VARIANTS",
    "SPLITS",
    "DEFAULT_SPLIT_RATIOS",
    "COLUMN_DOCS",
    "COLUMNS",
    "get_features",
    "has_features",
    "label_names",
    "check_config",
]

ConfigName = Literal["context_less", "contextual"]
#: The two configs, default first.
CONFIG_NAMES: tuple[str, ...] = ("context_less", "contextual")
DEFAULT_CONFIG = "context_less"
#: ``variant`` class names of the contextual config (index 0 and 1).
VARIANTS: tuple[str, ...] = ("original", "rewritten")
#: Split names, in the order they are written.
SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Default train/validation/test fractions per config (the paper's: 80/10/10 and 90/5/5).
DEFAULT_SPLIT_RATIOS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {"context_less": (0.8, 0.1, 0.1), "contextual": (0.9, 0.05, 0.05)}
)

#: What every column holds; the dataset card's column table is rendered from this.
COLUMN_DOCS: Mapping[str, str] = MappingProxyType(
    {
        "id": "Unique example id, e.g. `p0003-c02-u05` (plot 3, character 2, utterance 5); contextual ids end in "
        "`-orig` or `-rewr`.",
        "plot_id": "Id of the story (plot synopsis) the example was generated from; splits never share a plot.",
        "character": "The story character who thinks the utterance aloud (empty where the source has none).",
        "utterance": "What the character thinks aloud: the text to classify.",
        "primary_emotion": "The class the utterance was generated for (the taxonomy's neutral label for neutral "
        "ones); one of the taxonomy's labels.",
        "labels": "The positive classes: every class the teacher scored at or above the label threshold, best first "
        "(`ClassLabel` indices into the taxonomy's labels; the 28 GoEmotions classes by default).",
        "emotion_scores": "The teacher's soft labels: one float32 expressiveness score in [0, 1] per class, in "
        "class-index order; 0 where the teacher gave none.",
        "context": "Contextual only: the situation that explains the utterance, written from the story without naming "
        "the character's emotions (raw for `original`, cleaned for `rewritten`).",
        "variant": "Contextual only: `original` (the utterance with the raw context) or `rewritten` (an ambiguous "
        "rewrite of it with the cleaned context).",
        "source_utterance": "Contextual only: the context-less utterance this example was derived from.",
    }
)

_BASE = ("id", "plot_id", "character", "utterance", "primary_emotion", "labels", "emotion_scores")
#: Column names per config, in dataset order.
COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"context_less": _BASE, "contextual": (*_BASE, "context", "variant", "source_utterance")}
)


def check_config(config: str) -> str:
    """Return ``config`` if it names one of :data:`CONFIG_NAMES`, else raise :class:`~emo_pillars.errors.ConfigError`.

    ``"context-less"`` (the published folder's spelling) is accepted for ``"context_less"``.
    """
    name = config.replace("-", "_") if isinstance(config, str) else config
    if name not in CONFIG_NAMES:
        raise ConfigError(f"unknown config {config!r}; choose one of {', '.join(CONFIG_NAMES)}")
    return name


def get_features(config: str = DEFAULT_CONFIG, labels: Taxonomy | Sequence[str] | None = None) -> datasets.Features:
    """The exact ``datasets.Features`` of a config.

    Args:
        config: ``"context_less"`` or ``"contextual"``.
        labels: The class names (a :class:`~emo_pillars.taxonomy.Taxonomy` or names; default: the 28 classes).

    Returns:
        Features with ``labels`` as ``List(ClassLabel(names=labels))``, ``emotion_scores`` as a
        ``List(Value("float32"))`` of one score per class and, for ``contextual``, ``variant`` as
        ``ClassLabel(names=VARIANTS)``.
    """
    import datasets

    config = check_config(config)
    names = list(EMOTIONS if labels is None else labels.labels if isinstance(labels, Taxonomy) else labels)
    columns = {
        "id": datasets.Value("string"),
        "plot_id": datasets.Value("string"),
        "character": datasets.Value("string"),
        "utterance": datasets.Value("string"),
        "primary_emotion": datasets.Value("string"),
        "labels": datasets.List(datasets.ClassLabel(names=names)),
        "emotion_scores": datasets.List(datasets.Value("float32"), length=len(names)),
    }
    if config == "contextual":
        columns["context"] = datasets.Value("string")
        columns["variant"] = datasets.ClassLabel(names=list(VARIANTS))
        columns["source_utterance"] = datasets.Value("string")
    return datasets.Features(columns)


def label_names(features: datasets.Features) -> list[str] | None:
    """The class names of a dataset's ``labels`` column (``None`` when it is not a list of ``ClassLabel``)."""
    inner = getattr(features.get("labels"), "feature", None)
    names = getattr(inner, "names", None)
    return list(names) if names else None


def has_features(features: datasets.Features, config: str) -> bool:
    """Whether ``features`` are a config's Features over some label set (its own ``labels`` names)."""
    names = label_names(features)
    return names is not None and features == get_features(config, names)
