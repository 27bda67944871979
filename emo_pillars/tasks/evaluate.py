"""The work behind ``emo-pillars evaluate``: score a trained model on a task's split with the task's metric.

Nothing is trained. The model keeps its own thresholds (tuned on its own validation data), so a GoEmotions model
scored on the Emo Pillars data gives the cross-domain figure: how far a student trained on Reddit agrees with
Mistral-7B on story characters. A 28-class model is scored on any task (its scores mapped into the task's labels
by :meth:`~emo_pillars.tasks.base.Task.scores_from_emo28`); a task-head model on its own task.

Examples:
    >>> evaluate_main("emopillars", "path/to/emopillars", "goemotions-minilm", split="all")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError
from ..modeling.classifier import EmoPillarsClassifier
from ..modeling.loading import check_model_folder
from ..modeling.thresholds import parse_threshold
from ..taxonomy import EMOTIONS
from ..utils.io import atomic_write_json
from .base import Task
from .registry import get_task

__all__ = ["evaluate_main"]


def evaluate_main(
    task: str | Task,
    data: str | os.PathLike,
    model: str | os.PathLike,
    split: str = "test",
    output: str | os.PathLike | None = None,
    threshold: str | float = "global",
    batch_size: int = 64,
    trust_remote_code: bool = False,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Score ``model`` on ``split`` of the task's data; write the figures to ``output`` (JSON) when given.

    Args:
        task: A task name or :class:`~emo_pillars.tasks.base.Task`.
        data: The task's files (or Hub id).
        model: A trained model folder or Hub id (28 classes, or the task's own labels).
        split: A split of the loaded data, or ``"all"`` for every split together.
        output: A JSON file for the results (written atomically).
        threshold: Multi-label tasks: ``"global"`` (the model's tuned global threshold), ``"per_label"`` or a
            number. Single-label tasks take the highest score.
        batch_size: Inputs per forward pass.
        trust_remote_code: Allow custom code in the model folder.
        stream: Where the summary goes (default: stdout).

    Returns:
        ``{"task", "metric", "value", "value_text", "protocol_run", "split", "examples", "model", "threshold",
        "per_class_f1", "metrics"}``.

    Raises:
        ConfigError: An unknown split, a bad threshold or batch size, or a model whose labels are neither the 28
            classes nor the task's.
    """

    stream = stream or sys.stdout
    task_obj = task if isinstance(task, Task) else get_task(task)
    threshold = parse_threshold(threshold) or "global"
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    model = os.fspath(model)
    check_model_folder(model, trust_remote_code)
    rows = _rows(task_obj.load(data), split)
    classifier = EmoPillarsClassifier.from_pretrained(model, trust_remote_code=trust_remote_code)
    labels = tuple(classifier.labels)
    if labels != tuple(EMOTIONS) and labels != tuple(task_obj.label_names):
        raise ConfigError(
            f"the model's labels ({', '.join(labels[:4])}...) are neither the 28 classes nor the {task_obj.name} labels"
        )
    contextual = classifier.input_format != "context_less" and rows["context"][0] is not None
    probs = classifier.predict_proba(
        list(rows["text"]), contexts=list(rows["context"]) if contextual else None,
        characters=list(rows["character"]) if contextual else None, batch_size=batch_size, show_progress_bar=True,
    )  # fmt: skip
    mapped = labels == tuple(EMOTIONS) and tuple(task_obj.label_names) != tuple(EMOTIONS)
    metrics, protocol_run = _score(task_obj, classifier, probs, rows[task_obj.label_column], mapped, threshold, split)
    value = metrics[task_obj.metric_name]
    results = {
        "task": task_obj.name, "metric": task_obj.metric_name, "value": value, "value_text": f"{value:.4f}",
        "protocol_run": protocol_run, "protocol": task_obj.protocol, "split": split, "examples": len(rows),
        "model": model, "threshold": threshold if task_obj.multi_label else None,
        "per_class_f1": {name: metrics[f"f1_{name}"] for name in task_obj.label_names}, "metrics": metrics,
    }  # fmt: skip
    if output is not None:
        atomic_write_json(Path(output), results)
    print(f"{task_obj.name}: {task_obj.metric_name} = {results['value_text']} ({protocol_run})", file=stream)
    for name in ("micro_f1", "accuracy"):
        if name in metrics and name != task_obj.metric_name:
            print(f"  {name} = {metrics[name]:.4f}", file=stream)
    return results


def _rows(loaded: Any, split: str) -> Any:
    """The split to score, or every split together for ``"all"``."""
    import datasets

    if split == "all":
        return datasets.concatenate_datasets([loaded[name] for name in loaded])
    if split in loaded:
        return loaded[split]
    raise ConfigError(f"split must be one of {[*loaded, 'all']}, got {split!r}")


def _score(
    task: Task, classifier: Any, probs: Any, gold: Any, mapped: bool, threshold: str | float, split: str
) -> tuple[dict[str, Any], str]:
    """The task's metrics of the model's decisions, and the protocol of this run in words."""
    import numpy as np

    if not task.multi_label:
        scores = task.scores_from_emo28(probs) if mapped else probs
        return task.compute_metrics(gold, scores.argmax(axis=1).tolist()), (
            f"{split} split, highest score, no training on this data"
        )
    if threshold == "global":
        cut = np.full(probs.shape[1], classifier.global_threshold)
    elif threshold == "per_label":
        cut = classifier.thresholds
    else:
        cut = np.full(probs.shape[1], float(threshold))
    decided = probs >= cut
    if mapped:
        decided = task.scores_from_emo28(decided.astype(np.float64)) >= 0.5
    used = threshold if isinstance(threshold, float) else f"{threshold} ({classifier.global_threshold:.2f})"
    return task.compute_metrics(gold, decided.astype(np.int64)), (
        f"{split} split, the model's {used} threshold, no training on this data"
    )
