"""The examples a human evaluation looks at: a generated dataset, loaded once, and a seeded sample of it.

The sample is the first ``size`` examples of a seeded shuffle of the whole dataset (every split, sorted by ``id``
first), so the same seed always shows the same examples in the same order, whatever the split assignment, and a
larger size only adds examples at the end.

Examples:
    >>> from emo_pillars.app.samples import EvalExample, draw_sample
    >>> rows = [EvalExample(id=f"e{i}", utterance="Hi.", labels=("joy",)) for i in range(5)]
    >>> [e.id for e in draw_sample(rows, seed=0, size=3)] == [e.id for e in draw_sample(rows, seed=0, size=3)]
    True
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data.load import load_emo_pillars
from ..errors import InputError
from .sources import resolve_source

__all__ = ["EvalExample", "SampleSpec", "load_examples", "draw_sample", "dataset_identity", "CONFIGS"]

CONFIGS = ("context_less", "contextual")


@dataclass(frozen=True)
class EvalExample:
    """One example to judge: its text, its labels and, for contextual data, the situation and the character.

    Args:
        id: The example's ``id`` in the dataset.
        utterance: The utterance.
        labels: Its emotion labels, in the dataset's order.
        context: The situation text (contextual examples), else ``None``.
        character: Who says it.

    Examples:
        >>> EvalExample("e1", "Not again.", ("annoyance",), context="The bus left early.", character="Tom").contextual
        True
    """

    id: str
    utterance: str
    labels: tuple[str, ...]
    context: str | None = None
    character: str | None = None

    @property
    def contextual(self) -> bool:
        return bool(self.context)


@dataclass(frozen=True)
class SampleSpec:
    """Which sample: a dataset (folder or Hub id), its config, the seed and how many examples.

    Args:
        dataset: The dataset as given (a folder is stored as an absolute path, see :func:`dataset_identity`).
        config: ``"context_less"`` or ``"contextual"``.
        seed: The sampling seed.
        size: Examples in the sample.

    Examples:
        >>> SampleSpec("me/emo-pillars", "contextual", seed=1, size=20).config
        'contextual'
    """

    dataset: str
    config: str
    seed: int
    size: int

    def __post_init__(self) -> None:
        if not self.dataset.strip():
            raise InputError("give a dataset: a generated folder, a built repository or a Hub id", field="dataset")
        if self.config not in CONFIGS:
            raise InputError(f"config must be one of {CONFIGS}, got {self.config!r}", field="config")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed:
            raise InputError(f"seed must be a whole number, got {self.seed!r}", field="seed")
        if isinstance(self.size, bool) or int(self.size) != self.size or self.size < 1:
            raise InputError(f"sample size must be a whole number >= 1, got {self.size!r}", field="size")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "size", int(self.size))


def dataset_identity(source: str | os.PathLike) -> str:
    """How a dataset is named in annotation files: the absolute path of a folder, else the Hub id as given."""
    text = os.fspath(source).strip()
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text


_CACHE: dict[tuple[str, str], list[EvalExample]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def _rows_to_examples(dataset) -> list[EvalExample]:
    names = dataset.features["labels"].feature.int2str
    has_context = "context" in dataset.column_names
    examples = []
    for row in dataset:
        examples.append(
            EvalExample(
                id=str(row["id"]),
                utterance=row["utterance"],
                labels=tuple(names(list(row["labels"]))),
                context=(row.get("context") or None) if has_context else None,
                character=row.get("character") or None,
            )
        )
    return examples


def load_examples(source: str, config: str, *, timeout: float | None = None) -> list[EvalExample]:
    """Every example of one config of a generated dataset, sorted by id (loaded once per process and cached).

    Args:
        source: A generator output folder, a built repository folder or a Hub dataset id.
        config: ``"context_less"`` or ``"contextual"``.
        timeout: Seconds to wait for the Hub (see :func:`~emo_pillars.app.sources.resolve_source`).

    Raises:
        InputError: For a folder without that config's data, or malformed rows.
        HubError: For a Hub id that cannot be fetched; one line.
    """

    key = (dataset_identity(source), config)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    folder = resolve_source(source, "dataset", timeout=timeout)
    import datasets

    try:
        loaded = load_emo_pillars(folder, config)
    except (FileNotFoundError, ValueError) as error:  # datasets' own errors for a folder without this config
        if isinstance(error, InputError):
            raise
        raise InputError(f"{source}: no {config} data here ({str(error).splitlines()[0][:160]})") from None
    splits = loaded.values() if isinstance(loaded, datasets.DatasetDict) else [loaded]
    examples = sorted((e for split in splits for e in _rows_to_examples(split)), key=lambda e: e.id)
    if not examples:
        raise InputError(f"{source}: the {config} data has no examples")
    with _CACHE_LOCK:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = examples
    return examples


def draw_sample(examples: Sequence[EvalExample], seed: int, size: int) -> list[EvalExample]:
    """The first ``size`` examples of a shuffle seeded by ``seed`` (all of them when there are fewer)."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return [examples[i] for i in order[:size]]
