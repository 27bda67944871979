"""The registry of tasks: :data:`TASK_CLASSES`, :data:`TASKS` and :func:`get_task`."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Task
from .emocontext import EmoContextTask
from .emopillars import EmoPillarsTask
from .goemotions import GoEmotionsTask
from .iemocap import IemocapTask
from .isear import IsearTask

__all__ = ["TASK_CLASSES", "TASKS", "get_task"]

#: Task name -> task class.
TASK_CLASSES: dict[str, type[Task]] = {
    "goemotions": GoEmotionsTask,
    "isear": IsearTask,
    "iemocap": IemocapTask,
    "emocontext": EmoContextTask,
    "emopillars": EmoPillarsTask,
}

#: Task name -> the task with its default options (IEMOCAP: 4-way, 3 turns of context).
TASKS: dict[str, Task] = {name: cls() for name, cls in TASK_CLASSES.items()}


def get_task(name: str, **options: Any) -> Task:
    """Look up a task by name, optionally with non-default options.

    Args:
        name: One of :data:`TASKS` (case-insensitive; ``-`` and ``_`` are ignored, so ``"go_emotions"`` works).
        **options: Fields of the task class to change, e.g. ``ways=6`` or ``context_window=None`` for IEMOCAP.

    Returns:
        The shared default instance when no options are given, else a new instance.

    Raises:
        ConfigError: Unknown task name or option.

    Examples:
        >>> get_task("EmoContext").metric_name
        'micro_f1'
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in TASK_CLASSES:
        raise ConfigError(f"unknown task {name!r}; choose one of {sorted(TASK_CLASSES)}")
    if not options:
        return TASKS[key]
    try:
        return TASK_CLASSES[key](**options)
    except TypeError as err:
        raise ConfigError(f"bad option for task {key!r}: {err}") from None
