"""Label sets: the :class:`Taxonomy` a run generates, a dataset stores and a model predicts, GoEmotions-28 by default.

This package is the ground floor of the library: it imports only the standard library and :mod:`emo_pillars.errors`
(PyYAML when a file is read). ``goemotions`` holds the 28 classes as constants (their definitions, the Ekman and
sentiment groups, the synonyms, the benchmarks' label maps); ``model`` the :class:`Taxonomy` class; ``builtins`` the
taxonomies known by name and :func:`load_taxonomy`; ``words`` the rules that map a teacher's word to a label.

Examples:
    >>> from emo_pillars.taxonomy import EMOTIONS, load_taxonomy, normalize_emotion
    >>> EMOTIONS[0], EMOTIONS[-1]
    ('admiration', 'neutral')
    >>> normalize_emotion("Furious!"), normalize_emotion("plot")
    ('anger', None)
    >>> ekman = load_taxonomy("ekman")
    >>> ekman.normalize("Furious!"), ekman.roll_up("sentiment")["fear"]
    ('anger', 'negative')
"""

from .builtins import BUILTIN_TAXONOMIES, EKMAN, GOEMOTIONS, ISEAR, PLUTCHIK, TaxonomyLike, load_taxonomy
from .goemotions import (
    DEFINITIONS,
    EKMAN_GROUPS,
    EKMAN_LABELS,
    EMOCONTEXT_TO_EMOTIONS,
    EMOTIONS,
    IEMOCAP_TO_EMOTIONS,
    ISEAR_TO_EMOTIONS,
    NEUTRAL,
    NUM_EMOTIONS,
    SENTIMENT_GROUPS,
    SENTIMENT_LABELS,
    SYNONYMS,
    TASK_LABEL_MAPS,
    TaskLabelMap,
    emotion_to_ekman,
    emotion_to_sentiment,
    format_definitions,
    id2label,
    label2id,
    normalize_emotion,
)
from .model import MAX_LABELS, MIN_LABELS, Taxonomy

__all__ = [
    "Taxonomy",
    "load_taxonomy",
    "TaxonomyLike",
    "BUILTIN_TAXONOMIES",
    "GOEMOTIONS",
    "EKMAN",
    "PLUTCHIK",
    "ISEAR",
    "MIN_LABELS",
    "MAX_LABELS",
    "EMOTIONS",
    "NUM_EMOTIONS",
    "NEUTRAL",
    "label2id",
    "id2label",
    "DEFINITIONS",
    "EKMAN_GROUPS",
    "EKMAN_LABELS",
    "SENTIMENT_GROUPS",
    "SENTIMENT_LABELS",
    "SYNONYMS",
    "TaskLabelMap",
    "TASK_LABEL_MAPS",
    "ISEAR_TO_EMOTIONS",
    "EMOCONTEXT_TO_EMOTIONS",
    "IEMOCAP_TO_EMOTIONS",
    "normalize_emotion",
    "emotion_to_ekman",
    "emotion_to_sentiment",
    "format_definitions",
]
