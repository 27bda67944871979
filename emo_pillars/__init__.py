"""emo-pillars: context-aware, fine-grained emotion classification distilled from LLMs.

The public API is flat and light: ``import emo_pillars`` loads neither torch nor transformers; the classes that
need them are imported the first time they are used.

Examples:
    >>> import emo_pillars
    >>> len(emo_pillars.EMOTIONS)
    28
"""

from __future__ import annotations

from .errors import BackendError, ConfigError, EmoPillarsError, HubError, InputError, WriteError
from .taxonomy import EMOTIONS, Taxonomy, id2label, label2id, load_taxonomy, normalize_emotion
from .utils.lazy import lazy_getattr

__version__ = "0.1.0.dev0"

# Public name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "EmoPillarsGenerator": ".generation.pipeline",
    "GenerationConfig": ".generation.config",
    "load_narratives": ".narratives",
    "load_emo_pillars": ".data.load",
    "dataset_taxonomy": ".data.load",
    # The dataset commands, resolved through emo_pillars.data (its own lazy table names their modules).
    "build_repository": ".data",
    "merge_shards": ".data",
    "push_repository": ".data",
    "EmoPillarsClassifier": ".modeling.classifier",
    "EmoPillarsTrainer": ".training.trainer",
    "EmoPillarsTrainingArguments": ".training.args",
    "EmoPillarsModelCardData": ".modeling.card",
    "export_onnx": ".exporters.onnx",
    "import_model": ".exporters.imported",
}

__all__ = [
    "__version__",
    "EMOTIONS",
    "label2id",
    "id2label",
    "normalize_emotion",
    "Taxonomy",
    "load_taxonomy",
    "EmoPillarsError",
    "InputError",
    "ConfigError",
    "BackendError",
    "HubError",
    "WriteError",
    *_LAZY,
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    """Only the public names (``dir(emo_pillars)`` is how notebook users discover the API)."""
    return sorted(__all__)
