"""Downstream benchmarks: loaders for their official files, label maps into the 28 classes, protocols and metrics.

=============  ======================================  ==================  ==========================================
name           labels                                  input               protocol / official metric
=============  ======================================  ==================  ==========================================
goemotions     the 28 classes, multi-label             context-less        train/dev/test; dev-tuned threshold;
                                                                           macro-F1 on test
isear          joy fear anger sadness disgust          context-less        stratified 5-fold CV; macro-F1 and
               shame guilt                                                 accuracy, mean +- std
iemocap        4-way (happy+excited, sad, angry,       contextual          sessions 1-4 train (+ validation
               neutral) or 6-way                       (preceding turns)   dialogues), session 5 test; weighted-F1
emocontext     others happy sad angry                  contextual          train/dev/test; micro-F1 over happy,
                                                       (turns 1-2)         sad and angry
emopillars     the 28 classes, multi-label             context-less        release train/dev/test, or a grouped
               (Mistral-7B's labels)                                       70/10/20 split of a CSV sample; dev-tuned
                                                                           threshold; macro-F1 on test
=============  ======================================  ==================  ==========================================

Every task carries its recipe defaults (:class:`~emo_pillars.tasks.recipe.TaskRecipe`), chosen on validation
data carved from its training data. ``emo-pillars evaluate`` (:func:`~emo_pillars.tasks.evaluate.evaluate_main`)
scores a trained model on any task without training.

Importing this package is cheap: ``datasets`` and scikit-learn are imported when data is loaded or scored.

Examples:
    >>> from emo_pillars.tasks import TASKS, get_task
    >>> sorted(TASKS)
    ['emocontext', 'emopillars', 'goemotions', 'iemocap', 'isear']
    >>> get_task("iemocap", ways=6).num_labels
    6
"""

from __future__ import annotations

from .base import Task, aggregate_metrics, format_mean_std, multi_label_metrics, single_label_metrics
from .emocontext import EmoContextTask, emocontext_micro_f1
from .emopillars import EmoPillarsTask
from .fixtures import write_sample_files
from .goemotions import GoEmotionsTask
from .iemocap import IemocapTask
from .isear import IsearTask, clean_isear_text
from .registry import TASK_CLASSES, TASKS, get_task

__all__ = [
    "Task",
    "GoEmotionsTask",
    "IsearTask",
    "IemocapTask",
    "EmoContextTask",
    "EmoPillarsTask",
    "TASKS",
    "TASK_CLASSES",
    "get_task",
    "single_label_metrics",
    "multi_label_metrics",
    "emocontext_micro_f1",
    "aggregate_metrics",
    "format_mean_std",
    "clean_isear_text",
    "write_sample_files",
]
