"""Known published checkpoints, loaded as their authors meant them (the registry in ``published.json``).

The paper's released models (``alex-shvets/roberta-large-emopillars-*``) and some widely used GoEmotions models
do not say in their config how to use them: which class each output is, the threshold their card uses, the input
their author fed them. The registry holds those facts, as data, each with its source (``published.json``: a URL
or a repository path per fact, and what stays unknown). :meth:`~emo_pillars.modeling.EmoPillarsClassifier
.from_pretrained`, ``emo-pillars predict``, ``emo-pillars import-model`` and the app apply it for those ids, so a
loaded model carries the labels, problem type, input format, max length and threshold in its config, and a saved
copy describes itself.

Labels a config names (class names, or GoEmotions ids as digit strings) are kept: they describe that very
checkpoint. Where they disagree with the registry, a warning says so. A config that names no labels
(``LABEL_0`` ...) gets the registry's.

Examples:
    >>> entry = published_model("alex-shvets/roberta-large-emopillars-contextless-goemotions")
    >>> entry.threshold, entry.input_format, entry.labels[:3]
    (0.36, 'context_less', ('admiration', 'amusement', 'disapproval'))
    >>> published_model("me/my-model") is None
    True
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .inputs import check_input_format, check_template
from .label_space import MULTI_LABEL, LabelSpace
from .thresholds import check_threshold

logger = logging.getLogger(__name__)

__all__ = ["PublishedModel", "published_model", "published_models", "published_source", "apply_published"]

#: The config block of emo-pillars settings (the same key the classifier reads).
SETTINGS_KEY = "emo_pillars"


@dataclass(frozen=True)
class PublishedModel:
    """How one published checkpoint is meant to be used.

    Attributes:
        repo_id: The Hub id.
        labels: Class names in output order.
        problem_type: ``multi_label_classification`` or ``single_label_classification``.
        input_format: ``context_less``, ``contextual`` (a pair) or ``contextual_text`` (one text, ``input_template``).
        input_template: The template of a ``contextual_text`` input.
        max_length: Tokens the author fed the model.
        threshold: The threshold the author's card uses.
        sources: Fact -> where it comes from.
        unknown: What could not be established.
        unsupported: Why the checkpoint cannot be loaded here, if it cannot.
    """

    repo_id: str
    labels: tuple[str, ...] = ()
    problem_type: str = MULTI_LABEL
    input_format: str = "context_less"
    input_template: str | None = None
    max_length: int | None = None
    threshold: float = 0.5
    sources: dict[str, str] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    unsupported: str | None = None

    def settings(self) -> dict[str, Any]:
        """The ``config.emo_pillars`` block this checkpoint should carry."""
        values: dict[str, Any] = {"input_format": self.input_format, "threshold": self.threshold}
        if self.max_length is not None:
            values["max_length"] = self.max_length
        if self.input_template is not None:
            values["input_template"] = self.input_template
        values["published"] = self.repo_id
        return values


def _entry(repo_id: str, values: dict[str, Any]) -> PublishedModel:
    if values.get("unsupported"):
        return PublishedModel(repo_id, sources=values.get("sources", {}), unsupported=values["unsupported"],
                              unknown=tuple(values.get("unknown", ())))  # fmt: skip
    entry = PublishedModel(
        repo_id=repo_id,
        labels=tuple(values["labels"]),
        problem_type=values["problem_type"],
        input_format=check_input_format(values["input_format"]),
        input_template=check_template(values["input_template"]) if "input_template" in values else None,
        max_length=values.get("max_length"),
        threshold=check_threshold(values["threshold"], f"{repo_id} threshold"),
        sources=dict(values["sources"]),
        unknown=tuple(values.get("unknown", ())),
    )
    LabelSpace(entry.labels, multi_label=entry.problem_type == MULTI_LABEL)  # unique names
    missing = {"labels", "problem_type", "input_format", "max_length", "threshold"} - set(entry.sources)
    if missing:
        raise ConfigError(f"published.json: {repo_id} gives no source for {', '.join(sorted(missing))}")
    return entry


@cache
def published_models() -> dict[str, PublishedModel]:
    """Every registry entry, by lower-cased Hub id."""
    text = resources.files(__package__).joinpath("published.json").read_text(encoding="utf-8")
    models = json.loads(text)["models"]
    return {repo_id.lower(): _entry(repo_id, values) for repo_id, values in models.items()}


def published_model(repo_id: str) -> PublishedModel | None:
    """The registry entry of a Hub id (case-insensitive), or ``None``."""
    return published_models().get(str(repo_id).strip().lower())


def published_source(source: str | os.PathLike) -> PublishedModel | None:
    """The registry entry of a Hub id, or of a snapshot of one in the Hugging Face cache
    (``.../models--OWNER--NAME/snapshots/SHA``, which the app and ``snapshot_download`` load from); else ``None``.

    Examples:
        >>> published_source("hub/models--SamLowe--roberta-base-go_emotions/snapshots/0123abc").repo_id
        'SamLowe/roberta-base-go_emotions'
    """
    path = Path(os.fspath(source))
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return published_model(path.parent.parent.name[len("models--") :].replace("--", "/"))
    if path.exists():
        return None
    return published_model(os.fspath(source))


def apply_published(config: Any, entry: PublishedModel) -> None:
    """Give ``config`` (a ``transformers`` config) the labels and settings ``entry`` records.

    The labels a config names itself are kept (a disagreement with the registry is logged); the settings block is
    only filled where the config has none.

    Raises:
        ConfigError: The checkpoint is one the registry marks unsupported, or its outputs are not as many as
            the registry's labels.
    """
    if entry.unsupported:
        raise ConfigError(f"{entry.repo_id}: {entry.unsupported}")
    if int(config.num_labels) != len(entry.labels):
        raise ConfigError(
            f"{entry.repo_id}: the model has {config.num_labels} outputs, the registry {len(entry.labels)}"
        )
    try:
        own = LabelSpace.from_config(config).names
    except ConfigError:
        own = None  # LABEL_k: the registry names them
    if own is not None and own != entry.labels:
        logger.warning("%s: its config names its labels in another order than the registry; using the config's",
                       entry.repo_id)  # fmt: skip
    names = own or entry.labels
    config.update(LabelSpace(names, multi_label=entry.problem_type == MULTI_LABEL).config_values())
    if not getattr(config, SETTINGS_KEY, None):
        setattr(config, SETTINGS_KEY, entry.settings())
