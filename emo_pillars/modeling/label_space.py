"""The label space of a model: its label names, in output order, and whether it is multi-label.

A model's labels come from its config (``id2label`` and ``problem_type``), never from a constant. Two kinds of
label space occur:

* the **28 GoEmotions classes** (the emo-pillars students): matched by name, whatever their order or case, so a
  checkpoint whose head rows are stored in another order still predicts each class by its name. A config whose
  28 labels are the digit strings ``"0"`` ... ``"27"`` names GoEmotions ids (``"10"`` is disapproval), whatever
  the order of its rows: checkpoints trained on the ids as strings, such as the paper's released models, store
  them sorted as strings;
* **any other label set** (a task head: ISEAR's 7, EmoContext's 4, IEMOCAP's 4 or 6 ...), used as it is.

A config that names no labels (``LABEL_0`` ...) is refused unless the caller names them (``labels=[...]``, or a
known published checkpoint, see :mod:`emo_pillars.modeling.published`).

Multi-label models score with a sigmoid (BCE training), single-label ones with a softmax (cross-entropy), as
``transformers`` does for ``problem_type``.

Examples:
    >>> space = LabelSpace(("joy", "fear", "anger"), multi_label=False)
    >>> space.num_labels, space.problem_type, space.is_emotions
    (3, 'single_label_classification', False)
    >>> LabelSpace.emotions().num_labels
    28
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..taxonomy import EMOTIONS

__all__ = ["LabelSpace", "MULTI_LABEL", "SINGLE_LABEL", "goemotions_ids"]

MULTI_LABEL = "multi_label_classification"
SINGLE_LABEL = "single_label_classification"

_GENERIC = re.compile(r"^LABEL_\d+$")
_LABELS_HINT = "pass the class names in output order (labels=[...] in Python, --labels on the command line)"


def goemotions_ids(names: Sequence[str]) -> tuple[str, ...] | None:
    """The GoEmotions class each digit-string label names, or ``None`` if the labels are not the ids 0..27.

    Examples:
        >>> goemotions_ids(["0", "1", "10"] + [str(i) for i in range(2, 28) if i != 10])[:3]
        ('admiration', 'amusement', 'disapproval')
        >>> goemotions_ids(["joy", "fear"]) is None
        True
    """
    stripped = [str(name).strip() for name in names]
    if sorted(stripped) != sorted(str(i) for i in range(len(EMOTIONS))):
        return None
    return tuple(EMOTIONS[int(name)] for name in stripped)


@dataclass(frozen=True)
class LabelSpace:
    """Label names in the model's output order, and the kind of problem.

    Args:
        names: One name per model output, in output order.
        multi_label: Sigmoid scores and BCE (``True``) or softmax scores and cross-entropy (``False``).

    Examples:
        >>> shuffled = LabelSpace(("Joy", *[e for e in EMOTIONS if e != "joy"]))
        >>> shuffled.is_emotions, shuffled.emotion_order()[EMOTIONS.index("joy")]
        (True, 0)
    """

    names: tuple[str, ...]
    multi_label: bool = True

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.names)
        object.__setattr__(self, "names", names)
        if not names:
            raise ConfigError("a label space needs at least one label")
        folded = [name.strip().lower() for name in names]
        duplicates = sorted({name for name in folded if folded.count(name) > 1})
        if duplicates:
            raise ConfigError(f"duplicate label names: {', '.join(duplicates)}")

    @classmethod
    def emotions(cls) -> LabelSpace:
        """The 28 GoEmotions classes, multi-label (the emo-pillars students)."""
        return cls(tuple(EMOTIONS), multi_label=True)

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def problem_type(self) -> str:
        return MULTI_LABEL if self.multi_label else SINGLE_LABEL

    @property
    def is_emotions(self) -> bool:
        """Whether the names are the 28 GoEmotions classes (in any order or case)."""
        return sorted(name.strip().lower() for name in self.names) == sorted(EMOTIONS)

    def emotion_order(self) -> list[int]:
        """For each class of :data:`~emo_pillars.taxonomy.EMOTIONS`, the model output that scores it."""
        if not self.is_emotions:
            raise ConfigError("the labels are not the 28 GoEmotions classes")
        index = {name.strip().lower(): i for i, name in enumerate(self.names)}
        return [index[emotion] for emotion in EMOTIONS]

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def config_values(self) -> dict[str, Any]:
        """The config fields that store this label space (``num_labels``, ``id2label``, ``label2id``,
        ``problem_type``), for ``from_pretrained`` or ``config.update``."""
        return {
            "num_labels": self.num_labels,
            "id2label": self.id2label,
            "label2id": self.label2id,
            "problem_type": self.problem_type,
        }

    @classmethod
    def from_config(cls, config: Any, source: str | None = None, labels: Sequence[str] | None = None) -> LabelSpace:
        """The label space a model config declares.

        Args:
            config: A ``transformers`` config (or a ``config.json`` dict).
            source: Where the config came from, for error messages.
            labels: Class names in output order, given by the caller; they replace the config's ``id2label``
                (for a checkpoint that names no labels).

        Raises:
            ConfigError: The config names no labels (only ``LABEL_0`` ...) and none are given; ``labels`` does not
                have one name per output; or it has 28 outputs whose names are neither the GoEmotions classes nor
                their ids (a checkpoint that claims the emo-pillars head but cannot be matched).
        """
        values = config if isinstance(config, Mapping) else config.to_dict()
        where = f"{source}: " if source else ""
        raw = values.get("id2label") or {}
        try:
            id2label = {int(k): str(v) for k, v in raw.items()}
        except (TypeError, ValueError):
            raise ConfigError(f"{where}config.json id2label has non-integer keys") from None
        num_labels = int(values.get("num_labels") or len(id2label) or 0)
        if sorted(id2label) != list(range(num_labels)) or num_labels == 0:
            raise ConfigError(f"{where}config.json id2label does not name outputs 0..{max(num_labels, 1) - 1}")
        names = tuple(id2label[i] for i in range(num_labels))
        if labels is not None:
            given = [labels] if isinstance(labels, str) else list(labels)
            if len(given) != num_labels or not all(isinstance(n, str) and n.strip() for n in given):
                raise ConfigError(f"{where}the model has {num_labels} outputs but {len(given)} label names were given")
            names = tuple(n.strip() for n in given)
        if all(_GENERIC.match(name) for name in names):
            raise ConfigError(f"{where}config.json names no labels (only {names[0]} ...); {_LABELS_HINT}")
        names = goemotions_ids(names) or names
        problem_type = values.get("problem_type")
        multi_label = problem_type == MULTI_LABEL or (problem_type is None and num_labels == len(EMOTIONS))
        try:
            space = cls(names, multi_label=multi_label)
        except ConfigError as error:
            raise ConfigError(f"{where}config.json: {error}") from None
        if num_labels == len(EMOTIONS) and not space.is_emotions:
            unknown = sorted({n for n in names if n.strip().lower() not in EMOTIONS})
            raise ConfigError(
                f"{where}config.json has 28 labels but {len(unknown)} are not GoEmotions classes: {', '.join(unknown)}"
            )
        return space

    @classmethod
    def from_names(cls, names: Sequence[str], multi_label: bool = True) -> LabelSpace:
        """A label space from names (the 28 classes are put in :data:`~emo_pillars.taxonomy.EMOTIONS` order)."""
        space = cls(tuple(names), multi_label=multi_label)
        return cls.emotions() if space.is_emotions and multi_label else space
