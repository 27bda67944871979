"""What every downstream benchmark shares: the :class:`Task` description, file reading, metrics and folds.

A task knows its labels, how they map into the 28 GoEmotions classes, how to read the benchmark's official
files into a ``datasets.DatasetDict``, the evaluation protocol and the official metric. Every loader writes the
same columns, so one training recipe serves all tasks:

======================  ==============================================================================
column                  meaning
======================  ==============================================================================
``id``                  the benchmark's own example id (string)
``text``                the utterance to classify
``context``             preceding turns or situation (string), ``None`` for context-less tasks
``character``           who speaks the utterance, ``None`` where the benchmark does not say
``label``               single-label tasks: ``ClassLabel`` index into :attr:`Task.label_names`
``labels``              multi-label tasks (GoEmotions): list of ``ClassLabel`` indices
``emo28_labels``        the gold label(s) mapped into the 28 classes (indices into ``EMOTIONS``)
======================  ==============================================================================

so both a task head (``label``/``labels``) and the 28-class head (``emo28_labels``) can be trained. A task may
add columns of its own (IEMOCAP adds ``dialogue_id`` and ``session``).

``datasets``, ``numpy`` and ``scikit-learn`` are imported inside functions, so importing this module is cheap.

Examples:
    >>> from emo_pillars.tasks import get_task
    >>> task = get_task("isear")
    >>> task.label_names[:3], task.label_map["shame"]
    (('joy', 'fear', 'anger'), 'embarrassment')
    >>> task.compute_metrics(["joy", "fear", "fear"], ["joy", "fear", "joy"])["accuracy"]
    0.6666666666666666
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError
from ..modeling.inputs import InputFormat, check_input_format
from ..modeling.metrics import f1_scores
from ..taxonomy import EMOTIONS, label2id
from .recipe import TaskRecipe

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import numpy as np

__all__ = [
    "Task",
    "COMMON_COLUMNS",
    "read_text",
    "split_lines",
    "single_label_metrics",
    "multi_label_metrics",
    "aggregate_metrics",
    "format_mean_std",
    "stratified_fold_indices",
]

#: The columns every task's loader writes, in order (``label`` becomes ``labels`` for multi-label tasks).
COMMON_COLUMNS: tuple[str, ...] = ("id", "text", "context", "character", "label", "emo28_labels")


# --------------------------------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------------------------------
def read_text(path: str | os.PathLike) -> str:
    """Read a whole UTF-8 file (a leading BOM is dropped), refusing empty or undecodable files.

    Args:
        path: The file.

    Returns:
        The decoded text, line endings untouched.

    Raises:
        InputError: The file is missing, empty (or only whitespace), or not valid UTF-8; the message names the
            file and, for bad bytes, the line they are on.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})", path=path, line=line
        ) from None
    if not text.strip():
        raise InputError("file is empty", path=path)
    return text


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only, dropping a ``\\r`` before it (CRLF files) and the empty piece after a final newline.

    Unlike :meth:`str.splitlines`, characters such as ``\\x85`` or ``\\u2028`` inside a text do not end a line, so
    line numbers match what an editor shows.

    Examples:
        >>> split_lines("a\\tb\\r\\nc\\r\\n"), split_lines("a\\nb")
        (['a\\tb', 'c'], ['a', 'b'])
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# --------------------------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------------------------
def _as_indices(values: Iterable[Any], label_names: Sequence[str], name: str) -> np.ndarray:
    """Class indices from indices or label names."""
    import numpy as np

    index = {label: i for i, label in enumerate(label_names)}
    out = []
    for value in values:
        if isinstance(value, str):
            if value not in index:
                raise ValueError(f"{name}: unknown label {value!r}; expected one of {list(label_names)}")
            out.append(index[value])
        else:
            i = int(value)
            if not 0 <= i < len(label_names):
                raise ValueError(f"{name}: label index {i} out of range 0..{len(label_names) - 1}")
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def _as_multi_hot(values: Any, label_names: Sequence[str], name: str) -> np.ndarray:
    """A 0/1 matrix from a 0/1 (or score) matrix or from one list of indices/names per example."""
    import numpy as np

    if hasattr(values, "shape") and len(values.shape) == 2:
        matrix = np.asarray(values)
        if matrix.shape[1] != len(label_names):
            raise ValueError(f"{name}: got {matrix.shape[1]} columns for {len(label_names)} labels")
        return (matrix >= 0.5).astype(np.int64)
    rows = list(values)
    if rows and all(isinstance(row, Sequence) and not isinstance(row, str) for row in rows):
        lengths = {len(row) for row in rows}
        numeric = all(not isinstance(v, str) for row in rows for v in row)
        # A rectangular numeric matrix with one column per label is a 0/1 matrix, not index lists.
        if lengths == {len(label_names)} and numeric and all(float(v) in (0.0, 1.0) for row in rows for v in row):
            return np.asarray(rows, dtype=np.int64)
    matrix = np.zeros((len(rows), len(label_names)), dtype=np.int64)
    for i, row in enumerate(rows):
        matrix[i, _as_indices(row, label_names, name)] = 1
    return matrix


def single_label_metrics(
    y_true: Iterable[Any], y_pred: Iterable[Any], label_names: Sequence[str], average: str = "macro"
) -> dict[str, float]:
    """F1 (``average`` over all classes), accuracy and per-class F1 of single-label predictions.

    Args:
        y_true: Gold labels, as indices into ``label_names`` or as names.
        y_pred: Predicted labels, same form.
        label_names: The task's classes; per-class F1 covers all of them (0 for a class never seen nor predicted),
            while the headline average runs over the classes present in gold or predictions (scikit-learn's
            default, which on a real test set, where every class occurs, is all of them).
        average: scikit-learn's ``average`` for the headline F1 (``"macro"``, ``"weighted"`` or ``"micro"``).

    Returns:
        ``{f"{average}_f1": ..., "accuracy": ..., "f1_<label>": ...}``.

    Examples:
        >>> m = single_label_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
        >>> round(m["macro_f1"], 4), m["accuracy"], round(m["f1_b"], 4)
        (0.7333, 0.75, 0.8)
    """
    from sklearn.metrics import accuracy_score, f1_score

    true = _as_indices(y_true, label_names, "y_true")
    pred = _as_indices(y_pred, label_names, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"got {len(true)} gold labels and {len(pred)} predictions")
    labels = list(range(len(label_names)))
    out = {
        f"{average}_f1": float(f1_score(true, pred, average=average, zero_division=0)),
        "accuracy": float(accuracy_score(true, pred)),
    }
    per_class = f1_score(true, pred, labels=labels, average=None, zero_division=0)
    out.update({f"f1_{name}": float(v) for name, v in zip(label_names, per_class)})
    return out


def multi_label_metrics(y_true: Any, y_pred: Any, label_names: Sequence[str]) -> dict[str, float]:
    """Macro-F1, micro-F1 and per-label F1 of multi-label predictions.

    Args:
        y_true: A 0/1 matrix ``(n_examples, n_labels)`` or one list of label indices/names per example.
        y_pred: Predictions in the same form (a score matrix is cut at 0.5; threshold it yourself otherwise).
        label_names: The task's labels, in column order.

    Returns:
        ``{"macro_f1": ..., "micro_f1": ..., "f1_<label>": ...}``.

    Examples:
        >>> m = multi_label_metrics([[0], [0, 1], [1]], [[0], [0], [1]], ["a", "b"])
        >>> m["f1_a"], round(m["f1_b"], 4), round(m["macro_f1"], 4)
        (1.0, 0.6667, 0.8333)
    """

    true = _as_multi_hot(y_true, label_names, "y_true")
    pred = _as_multi_hot(y_pred, label_names, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"gold labels {true.shape} and predictions {pred.shape} differ in shape")
    scores = f1_scores(true, pred, label_names)
    out = {"macro_f1": scores["macro_f1"], "micro_f1": scores["micro_f1"]}
    out.update({f"f1_{name}": values["f1"] for name, values in scores["per_label"].items()})
    return out


def aggregate_metrics(results: Sequence[Mapping[str, float]], ddof: int = 1) -> dict[str, dict[str, Any]]:
    """Mean and standard deviation of each metric over folds (or seeds).

    Args:
        results: One metrics dict per fold; only keys present in every fold with numeric values are aggregated.
        ddof: Delta degrees of freedom of the standard deviation: 1 (default) is the sample standard deviation,
            0 the population one (``numpy.std``'s default).

    Returns:
        ``{metric: {"mean": float, "std": float, "values": [...]}}``; ``std`` is 0 for a single fold.

    Examples:
        >>> agg = aggregate_metrics([{"macro_f1": 0.74}, {"macro_f1": 0.76}])
        >>> round(agg["macro_f1"]["mean"], 4), round(agg["macro_f1"]["std"], 4)
        (0.75, 0.0141)
        >>> format_mean_std(agg["macro_f1"])
        '0.750 +- 0.014'
    """
    if not results:
        raise ValueError("no results to aggregate")
    keys = [k for k in results[0] if all(isinstance(r.get(k), (int, float)) for r in results)]
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = [float(r[key]) for r in results]
        mean = sum(values) / len(values)
        dof = len(values) - ddof
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / dof) if dof > 0 else 0.0
        out[key] = {"mean": mean, "std": std, "values": values}
    return out


def format_mean_std(stats: Mapping[str, float], digits: int = 3) -> str:
    """Render an :func:`aggregate_metrics` entry as ``"0.750 +- 0.013"``."""
    return f"{stats['mean']:.{digits}f} +- {stats['std']:.{digits}f}"


# --------------------------------------------------------------------------------------------------------------------
# Folds
# --------------------------------------------------------------------------------------------------------------------
def stratified_fold_indices(labels: Sequence[int], k: int = 5, seed: int = 42) -> list[tuple[list[int], list[int]]]:
    """``k`` stratified, shuffled folds (scikit-learn ``StratifiedKFold``), reproducible for a ``seed``.

    Args:
        labels: One class index per example.
        k: Number of folds.
        seed: Shuffling seed.

    Returns:
        ``k`` pairs ``(train_indices, test_indices)``; every example is in exactly one test fold.

    Raises:
        ConfigError: No label has ``k`` examples, so no fold could hold one of each (scikit-learn's ``ValueError``,
            said in one line).
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    counts = np.unique(y, return_counts=True)[1] if len(y) else np.zeros(1, dtype=np.int64)
    if counts.max() < k:
        raise ConfigError(
            f"{k} stratified folds need at least {k} examples of a label; the data has at most {counts.max()} "
            f"of each ({len(y)} examples): use fewer folds"
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr.tolist(), te.tolist()) for tr, te in splitter.split(np.zeros(len(y)), y)]


# --------------------------------------------------------------------------------------------------------------------
# Task
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class Task:
    """A downstream benchmark: its labels, their 28-class mapping, loader, protocol and official metric.

    Subclasses fill the fields with defaults and implement :meth:`_load_local` (and :meth:`_load_hub` where a
    public Hub copy exists).

    Attributes:
        name: Registry name, e.g. ``"isear"``.
        label_names: The task's classes, in ``ClassLabel`` index order.
        label_map: Task label -> one of the 28 classes (from :mod:`emo_pillars.taxonomy`).
        multi_label: Whether an example can carry several labels (then rows have ``labels``, not ``label``).
        input_format: ``"context_less"`` or ``"contextual"`` (see :mod:`emo_pillars.modeling.inputs`).
        protocol: The evaluation protocol in words, to print next to every number.
        metric_name: Key of the official metric in :meth:`compute_metrics`'s result.
        hub_id: A public Hub copy ``datasets.load_dataset`` can read, if any.
        splits: The splits :meth:`load` returns.
        cross_validated: Whether the protocol scores k folds (the task has no official test split).
        description: What the benchmark's data is, in a sentence or two (model cards open with it).
        limitations: What a model fine-tuned on this benchmark cannot be trusted for (model cards list them).
        split_name: How the data's splits came about, in words (``eval_results.json`` and the card say it).
        recipe: The training defaults ``finetune`` starts from, and how they were chosen
            (:class:`~emo_pillars.tasks.recipe.TaskRecipe`); every value can be overridden.

    Examples:
        >>> from emo_pillars.tasks import get_task
        >>> task = get_task("emocontext")
        >>> task.metric_name, task.input_format, task.num_labels
        ('micro_f1', 'contextual', 4)
    """

    name: str
    label_names: tuple[str, ...]
    label_map: Mapping[str, str]
    multi_label: bool = False
    input_format: InputFormat = "context_less"
    protocol: str = ""
    metric_name: str = "macro_f1"
    hub_id: str | None = None
    splits: tuple[str, ...] = ("train", "validation", "test")
    cross_validated: bool = False
    description: str = field(default="", repr=False)
    limitations: tuple[str, ...] = field(default=(), repr=False)
    split_name: str = "official train/validation/test splits"
    recipe: TaskRecipe = field(default_factory=TaskRecipe, repr=False)

    def __post_init__(self) -> None:
        self.label_names = tuple(self.label_names)
        check_input_format(self.input_format)
        missing = [label for label in self.label_names if label not in self.label_map]
        if missing:
            raise ValueError(f"task {self.name!r}: labels {missing} have no entry in label_map")
        unknown = {label: emo for label, emo in self.label_map.items() if emo not in label2id}
        if unknown:
            raise ValueError(f"task {self.name!r}: label_map targets {unknown} are not among the 28 classes")

    # ---------------------------------------------------------------------------------------------------- labels
    @property
    def num_labels(self) -> int:
        """Number of task classes."""
        return len(self.label_names)

    @property
    def label2id(self) -> dict[str, int]:
        """Task label -> class index."""
        return {label: i for i, label in enumerate(self.label_names)}

    @property
    def id2label(self) -> dict[int, str]:
        """Class index -> task label."""
        return dict(enumerate(self.label_names))

    @property
    def label_column(self) -> str:
        """``"labels"`` for multi-label tasks, ``"label"`` otherwise."""
        return "labels" if self.multi_label else "label"

    def emo28_ids(self, labels: str | Iterable[str]) -> list[int]:
        """Indices into ``EMOTIONS`` of one task label or several (sorted, without repeats).

        Examples:
            >>> from emo_pillars.tasks import get_task
            >>> get_task("isear").emo28_ids("guilt")
            [24]
        """
        labels = [labels] if isinstance(labels, str) else list(labels)
        return sorted({label2id[self.label_map[label]] for label in labels})

    def scores_from_emo28(self, scores: Any) -> np.ndarray:
        """Task-label scores from 28-class scores, for evaluating an ``emo28`` head on the task.

        Each task label scores the highest of the 28 classes mapped to it (by :attr:`label_map` and by any extra
        source labels the task merges, see :meth:`_emo28_sources`).

        Args:
            scores: Array ``(n_examples, 28)`` of probabilities or logits.

        Returns:
            Array ``(n_examples, num_labels)``; take ``argmax`` (single-label) or threshold it (multi-label).
        """
        import numpy as np

        matrix = np.asarray(scores, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(EMOTIONS):
            raise ValueError(f"expected scores of shape (n, {len(EMOTIONS)}), got {matrix.shape}")
        columns = [sorted(self._emo28_sources(label)) for label in self.label_names]
        return np.stack([matrix[:, cols].max(axis=1) for cols in columns], axis=1)

    def _emo28_sources(self, label: str) -> set[int]:
        """The 28-class indices that stand for a task label (its mapped class, by default)."""
        return {label2id[self.label_map[label]]}

    # ---------------------------------------------------------------------------------------------------- data
    def features(self) -> datasets.Features:
        """The ``datasets.Features`` of the rows :meth:`load` writes, with ``ClassLabel`` names."""
        import datasets

        label = datasets.ClassLabel(names=list(self.label_names))
        columns: dict[str, Any] = {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "context": datasets.Value("string"),
            "character": datasets.Value("string"),
            self.label_column: datasets.List(label) if self.multi_label else label,
            "emo28_labels": datasets.List(datasets.ClassLabel(names=list(EMOTIONS))),
        }
        columns.update(self._extra_features())
        return datasets.Features(columns)

    def _extra_features(self) -> dict[str, Any]:
        """Task-specific columns appended after the common ones."""
        return {}

    def load(self, path_or_id: str | os.PathLike, **kwargs: Any) -> datasets.DatasetDict:
        """Load the benchmark as a ``DatasetDict`` with this task's columns.

        Args:
            path_or_id: A local folder or file in the benchmark's official format, or (where the task has a public
                copy, see :attr:`hub_id`) a Hub dataset id.
            **kwargs: Task-specific options (see the subclass's ``_load_local``/``_load_hub``).

        Returns:
            One ``Dataset`` per split in :attr:`splits` (those the source has).

        Raises:
            InputError: The path does not exist (and is no Hub id this task can read) or a file is malformed;
                the message names the file and line.
        """
        path = Path(path_or_id)
        if path.exists():
            return self._load_local(path, **kwargs)
        if self.hub_id is not None and not os.path.isabs(str(path_or_id)):
            return self._load_hub(str(path_or_id), **kwargs)
        raise InputError(f"no such file or folder (the {self.name} task reads local files only)", path=path)

    def _load_local(self, path: Path, **kwargs: Any) -> datasets.DatasetDict:
        raise NotImplementedError

    def _load_hub(self, repo_id: str, **kwargs: Any) -> datasets.DatasetDict:
        raise InputError(f"the {self.name} task has no Hub loader", path=repo_id)

    def _to_dataset_dict(self, rows_by_split: Mapping[str, list[dict[str, Any]]]) -> datasets.DatasetDict:
        """Build the ``DatasetDict`` from plain rows (labels given as names)."""
        import datasets

        features = self.features()
        columns = list(features)
        out = {}
        for split, rows in rows_by_split.items():
            data = {column: [row.get(column) for row in rows] for column in columns}
            out[split] = datasets.Dataset.from_dict(data, features=features)
        return datasets.DatasetDict(out)

    def _row(
        self,
        id: str,
        text: str,
        label: str | list[str],
        *,
        context: str | None = None,
        character: str | None = None,
        emo28: list[int] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """One normalised row; ``emo28`` overrides the label-map derived 28-class labels."""
        return {
            "id": id,
            "text": text,
            "context": context,
            "character": character,
            self.label_column: label,
            "emo28_labels": self.emo28_ids(label) if emo28 is None else emo28,
            **extra,
        }

    # ---------------------------------------------------------------------------------------------------- protocol
    def compute_metrics(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        """The official metric (key :attr:`metric_name`) plus per-class F1 (keys ``f1_<label>``).

        Args:
            y_true: Gold labels: indices or names (multi-label: a 0/1 matrix or lists of indices/names).
            y_pred: Predictions in the same form.

        Returns:
            A flat ``dict[str, float]``, ready for logging.
        """
        if self.multi_label:
            return multi_label_metrics(y_true, y_pred, self.label_names)
        return single_label_metrics(y_true, y_pred, self.label_names, average="macro")

    def fold_indices(self, dataset: datasets.Dataset, k: int = 5, seed: int = 42) -> list[tuple[list[int], list[int]]]:
        """``(train_indices, test_indices)`` of ``k`` shuffled folds, stratified by label for single-label tasks."""
        if self.multi_label:
            import numpy as np
            from sklearn.model_selection import KFold

            splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
            return [(tr.tolist(), te.tolist()) for tr, te in splitter.split(np.zeros(len(dataset)))]
        return stratified_fold_indices(dataset[self.label_column], k=k, seed=seed)

    def folds(
        self, dataset: datasets.Dataset | datasets.DatasetDict, k: int = 5, seed: int = 42
    ) -> list[datasets.DatasetDict]:
        """Cross-validation folds, each a ``DatasetDict`` with ``train`` and ``test`` splits.

        Args:
            dataset: A ``Dataset``, or a ``DatasetDict`` whose splits are concatenated first (ISEAR has only
                ``train``).
            k: Number of folds.
            seed: Shuffling seed; the same seed gives the same folds.

        Returns:
            ``k`` ``DatasetDict`` objects; the ``test`` splits partition the data.
        """
        import datasets

        if isinstance(dataset, datasets.DatasetDict):
            dataset = datasets.concatenate_datasets([dataset[split] for split in dataset])
        return [
            datasets.DatasetDict({"train": dataset.select(train), "test": dataset.select(test)})
            for train, test in self.fold_indices(dataset, k=k, seed=seed)
        ]

    @staticmethod
    def aggregate(results: Sequence[Mapping[str, float]], ddof: int = 1) -> dict[str, dict[str, Any]]:
        """Mean and standard deviation over folds; see :func:`aggregate_metrics`."""
        return aggregate_metrics(results, ddof=ddof)
