"""Per-task recipe defaults, and the tool that chose them: :class:`TaskRecipe` and :func:`compare_recipes`.

A :class:`TaskRecipe` holds the training options a task starts from (head, maximum length, learning rates,
epochs, batch size, threshold policy) and, in words, how they were chosen. ``finetune`` applies a task's recipe
under anything the user gives: every value can still be overridden on the command line or in Python.

The values are chosen on a **validation split carved from the task's training data**, never on its test data or
its evaluation folds (:func:`selection_split`):

* a task with an official split (GoEmotions, EmoContext, IEMOCAP): its ``train`` split, 80/20, stratified by
  the first label, seed 42 (the official validation split stays for threshold tuning);
* a cross-validated task (ISEAR): the training part of fold 1 (fold 1's test part is never seen), 80/20,
  stratified, seed 42;
* the Emo Pillars sample: its grouped ``train`` split, 80/20 by group (near-identical texts stay together).

The maximum length follows the task's own token lengths (:func:`length_rule`): the smallest of 32, 64, 128, 256
and 512 at or above the 99th percentile of the training texts (with the model's tokenizer), so at most about 1% of
texts are cut.

Examples:
    >>> from emo_pillars.tasks import get_task
    >>> get_task("isear").recipe.head
    'task'
    >>> length_rule([10, 12, 40, 70])
    128
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .base import Task

__all__ = ["TaskRecipe", "length_rule", "selection_split", "compare_recipes", "LENGTH_STEPS"]

#: The maximum lengths :func:`length_rule` picks from.
LENGTH_STEPS: tuple[int, ...] = (32, 64, 128, 256, 512)


@dataclass(frozen=True)
class TaskRecipe:
    """The training defaults of one task, and how they were chosen.

    ``None`` leaves a value to :class:`~emo_pillars.training.EmoPillarsTrainingArguments`.

    Args:
        head: ``"emo28"`` (the 28-class head, task labels mapped into it) or ``"task"`` (one output per label).
        max_length: Truncation length in tokens.
        learning_rate: Peak encoder learning rate.
        head_learning_rate: Learning rate of the head and pooler.
        num_train_epochs: Training epochs.
        per_device_train_batch_size: Training batch size.
        pos_weight: Per-class positive weights in BCE (multi-label tasks).
        layer_lr_decay: Layer-wise learning-rate decay of the encoder.
        label_smoothing_factor: Label smoothing of the training targets.
        weight_averaging: Share of the last optimizer steps whose weights are averaged into the model.
        rdrop_alpha: Weight of the R-Drop consistency term (two dropout passes per batch).
        threshold_policy: How multi-label predictions are cut: ``"global"`` (one threshold tuned on validation)
            or ``"argmax"`` (single-label tasks).
        chosen_by: How the values were chosen, in words (written into the card the recipe trains).

    Examples:
        >>> TaskRecipe(head="task", learning_rate=1e-4).training_options()
        {'learning_rate': 0.0001}
    """

    head: str = "emo28"
    max_length: int | None = None
    learning_rate: float | None = None
    head_learning_rate: float | None = None
    num_train_epochs: float | None = None
    per_device_train_batch_size: int | None = None
    pos_weight: str | None = None
    layer_lr_decay: float | None = None
    label_smoothing_factor: float | None = None
    weight_averaging: float | None = None
    rdrop_alpha: float | None = None
    threshold_policy: str = "global"
    chosen_by: str = field(default="", compare=False)

    def training_options(self) -> dict[str, Any]:
        """The values that are training arguments, without the ``None`` ones."""
        names = (
            "max_length", "learning_rate", "head_learning_rate", "num_train_epochs", "per_device_train_batch_size",
            "pos_weight", "layer_lr_decay", "label_smoothing_factor", "weight_averaging", "rdrop_alpha",
        )  # fmt: skip
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """All fields, for ``eval_results.json`` and the card."""
        return asdict(self)


def length_rule(token_lengths: Sequence[int], quantile: float = 99.0) -> int:
    """The smallest of :data:`LENGTH_STEPS` at or above the ``quantile`` of ``token_lengths``.

    Examples:
        >>> length_rule([5] * 99 + [600])
        32
    """
    import numpy as np

    cut = float(np.percentile(np.asarray(token_lengths, dtype=np.float64), quantile))
    return next((step for step in LENGTH_STEPS if step >= cut), LENGTH_STEPS[-1])


def selection_split(task: Task, dataset: Any, fraction: float = 0.2, seed: int = 42) -> dict[str, Any]:
    """``{"train", "validation"}`` carved from the task's training data (see the module docstring).

    Args:
        task: The task.
        dataset: What ``task.load`` returned.
        fraction: Share of the training data held out for validation.
        seed: Seed of the split (and of the folds of a cross-validated task).
    """
    from sklearn.model_selection import train_test_split

    from .finetune import CV_TASKS

    train = dataset["train"]
    if task.name in CV_TASKS:
        train = task.folds(dataset, k=5, seed=seed)[0]["train"]
    if "group" in train.column_names and min(train["group"], default=-1) >= 0:  # near-duplicates stay together
        from .emopillars import grouped_split

        parts = grouped_split(train["group"], {"train": 1.0 - fraction, "validation": fraction}, seed)
        return {name: train.select(indices) for name, indices in parts.items()}
    column = train[task.label_column]
    strata = [row[0] if row else -1 for row in column] if task.multi_label else list(column)
    counts: dict[Any, int] = {}
    for value in strata:
        counts[value] = counts.get(value, 0) + 1
    strata = [value if counts[value] >= 2 else -2 for value in strata]  # classes too rare to stratify pooled
    inner_train, inner_val = train_test_split(
        list(range(len(train))), test_size=fraction, random_state=seed, stratify=strata
    )
    return {"train": train.select(sorted(inner_train)), "validation": train.select(sorted(inner_val))}


def compare_recipes(
    task: Task,
    data: str | os.PathLike,
    model: str,
    candidates: Mapping[str, Mapping[str, Any]],
    output: str | os.PathLike,
    seed: int = 42,
    **common: Any,
) -> dict[str, Any]:
    """Train each candidate on :func:`selection_split`'s train part and score it on its validation part.

    Args:
        task: The task.
        data: The task's files.
        model: The base encoder.
        candidates: Name -> options (``head`` plus training arguments).
        output: A JSON file for the results (rewritten atomically after each candidate, so a rerun skips the
            finished ones).
        seed: Seed of the split and of training.
        **common: Training arguments every candidate shares (``use_cpu=True`` and the like).

    Returns:
        ``{"task", "protocol", "split_sizes", "candidates": {name: {"options", "metrics", "value", "seconds"}},
        "best"}``; ``best`` is the candidate with the highest value of the task's metric on validation.
    """
    from .._io import atomic_write_json
    from ..model_card import EmoPillarsModelCardData
    from .finetune import _train_and_predict

    output, model = Path(output), os.fspath(model)
    split = selection_split(task, task.load(data), seed=seed)
    results: dict[str, Any] = json.loads(output.read_text(encoding="utf-8")) if output.is_file() else {}
    results.update(
        task=task.name,
        model=model,
        seed=seed,
        protocol=f"validation carved from the training data ({selection_split.__doc__.splitlines()[0]})",
        split_sizes={name: len(part) for name, part in split.items()},
    )
    done = results.setdefault("candidates", {})
    for name, raw in candidates.items():
        if name in done and done[name].get("options") == dict(raw):
            continue
        options = dict(raw)
        head = options.pop("head", "emo28")
        work = output.with_name(f".{output.stem}-{name}.work")
        training = {"output_dir": os.fspath(work), "input_format": task.input_format, "seed": seed}
        training.update(common)
        training.update(options)
        started = time.perf_counter()
        # Multi-label candidates are compared at their own threshold, tuned on the same validation part.
        parts = {"train": split["train"], "test": split["validation"]}
        if task.multi_label:
            parts["validation"] = split["validation"]
        metrics, _ = _train_and_predict(
            task, head, model, parts, training, EmoPillarsModelCardData(task_name=task.name)
        )  # fmt: skip
        done[name] = {
            "options": dict(raw),
            "metrics": metrics,
            "value": metrics[task.metric_name],
            "seconds": round(time.perf_counter() - started, 1),
        }
        results["best"] = max(done, key=lambda key: done[key]["value"])
        atomic_write_json(output, results)
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return results
