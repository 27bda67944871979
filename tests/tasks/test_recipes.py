"""Task recipes: the values every task starts from, and one line on how they were chosen."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from emo_pillars.tasks import TASKS, get_task  # noqa: E402
from emo_pillars.tasks.recipe import TaskRecipe  # noqa: E402
from emo_pillars.tasks.runner import recipe_options  # noqa: E402
from emo_pillars.training.args import EmoPillarsTrainingArguments  # noqa: E402


def test_every_task_has_a_recipe_that_says_how_it_was_chosen() -> None:
    for name, task in TASKS.items():
        recipe = task.recipe
        assert isinstance(recipe, TaskRecipe), name
        assert recipe.chosen_by and "PENDING" not in recipe.chosen_by, name
        # One line on how the values were chosen, not the history of the search (that is in research/RESULTS.md).
        assert "\n" not in recipe.chosen_by and len(recipe.chosen_by) <= 120, name
        assert recipe.head in ("emo28", "task")
        assert recipe.threshold_policy == ("global" if task.multi_label else "argmax"), name
        # Every value is a valid training argument.
        EmoPillarsTrainingArguments(output_dir="x", input_format=task.input_format, **recipe.training_options())


def test_user_options_win_over_the_recipe() -> None:
    task = get_task("goemotions")
    options, record = recipe_options(task, {"num_train_epochs": 1, "max_length": task.recipe.max_length})
    assert options["num_train_epochs"] == 1 and options["head"] == "emo28"
    assert record["overridden"] == ["num_train_epochs"]  # the same value given is no override
    assert record["learning_rate"] == task.recipe.learning_rate
