"""Per-task recipe defaults: :class:`TaskRecipe`.

A :class:`TaskRecipe` holds the training options a task starts from (head, maximum length, learning rates, epochs,
batch size, threshold policy) and one line on how they were chosen. ``finetune`` applies a task's recipe under
anything the user gives: every value can still be overridden on the command line or in Python.

The values are chosen on validation data carved from the task's training data, never on its test data or its
evaluation folds; the search that chose them lives in the repository's ``research/`` folder, not in the package.

Examples:
    >>> from emo_pillars.tasks import get_task
    >>> get_task("isear").recipe.head
    'task'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["TaskRecipe"]


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
        chosen_by: How the values were chosen, in one line (written into the card the recipe trains).

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
