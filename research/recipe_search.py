"""The recipe search: choose a task's defaults on validation carved from its training data.

Not part of the package. :func:`selection_split` carves the validation data, never from the task's test data or
its evaluation folds:

* a task with an official split (GoEmotions, EmoContext, IEMOCAP): its ``train`` split, 80/20, stratified by the
  first label, seed 42 (the official validation split stays for threshold tuning);
* a cross-validated task (ISEAR): the training part of fold 1 (fold 1's test part is never seen), 80/20,
  stratified, seed 42;
* the Emo Pillars sample: its grouped ``train`` split, 80/20 by group (near-identical texts stay together).

:func:`compare_recipes` trains each candidate there and scores it with the task's metric. :func:`length_rule`
picks the maximum length from the task's own token lengths: the smallest of 32, 64, 128, 256 and 512 at or above
the 99th percentile of the training texts, so at most about 1% of texts are cut.

Examples:
    >>> length_rule([10, 12, 40, 70])
    128
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emo_pillars.modeling.card import EmoPillarsModelCardData
from emo_pillars.tasks.base import Task
from emo_pillars.tasks.emopillars import grouped_split
from emo_pillars.tasks.runner import train_and_predict
from emo_pillars.utils.io import atomic_write_json

#: The maximum lengths :func:`length_rule` picks from.
LENGTH_STEPS: tuple[int, ...] = (32, 64, 128, 256, 512)


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

    train = dataset["train"]
    if task.cross_validated:
        train = task.folds(dataset, k=5, seed=seed)[0]["train"]
    if "group" in train.column_names and min(train["group"], default=-1) >= 0:  # near-duplicates stay together
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
        metrics, _ = train_and_predict(
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
        shutil.rmtree(work, ignore_errors=True)
    return results
