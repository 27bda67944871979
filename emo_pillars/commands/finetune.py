"""``emo-pillars finetune``: fine-tune on a downstream benchmark under its official protocol.

The options are :class:`FinetuneCommandArguments` plus every field of
:class:`~emo_pillars.training.EmoPillarsTrainingArguments` through ``HfArgumentParser`` (ours first), and a JSON
or YAML file for any of them (``--args_file``).

Examples:
    >>> FinetuneCommandArguments(task="isear", data="isear.csv", model="base").head is None  # the task's recipe
    True
"""

from __future__ import annotations

import argparse
import dataclasses

from ..errors import ConfigError
from ..tasks import TASK_CLASSES
from .checks import check_output_folder
from .train import add_training_arguments, check_combinations, training_options

__all__ = ["FinetuneCommandArguments"]

NAME = "finetune"
HELP = "Fine-tune on a downstream benchmark under its official protocol."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the last complete checkpoint is kept; run again with --resume"


@dataclasses.dataclass
class FinetuneCommandArguments:
    """The options of ``emo-pillars finetune`` that are not training arguments.

    Args:
        task: The benchmark: goemotions, isear, iemocap or emocontext.
        data: The benchmark's official files, or a Hub id.
        model: The encoder to fine-tune: Hub id or folder.
        head: ``emo28`` (the 28-class head, task labels mapped into it) or ``task`` (a task-sized head); default:
            the task's recipe.
        folds: Cross-validation folds (ISEAR only; default 5).
        fold: Train and record only this fold (1 to folds - 1), so folds can run in parallel; a final run with
            ``--resume`` trains the last fold and writes the model.
        ways: IEMOCAP label scheme (4 or 6).
        resume: Continue an interrupted run (finished folds are kept).
        trust_remote_code: Allow custom code in the model folder.
        args_file: A JSON or YAML file with any option; the command line wins.
    """

    task: str | None = dataclasses.field(
        default=None, metadata={"help": "Benchmark: goemotions, isear, iemocap or emocontext."}
    )
    data: str | None = dataclasses.field(
        default=None, metadata={"help": "The benchmark's official files or a Hub id."}
    )
    model: str | None = dataclasses.field(default=None, metadata={"help": "Encoder to fine-tune: Hub id or folder."})
    head: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "emo28 (keep the 28-class head, map the task's labels into it) or task (task-sized head); "
            "default: the task's recipe."
        },
    )
    folds: int | None = dataclasses.field(
        default=None, metadata={"help": "Cross-validation folds (ISEAR only; default 5)."}
    )
    fold: int | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Train and record only this fold (1 to folds - 1), e.g. one per process; then run again with "
            "--resume to train the last fold and write the model."
        },
    )
    ways: int | None = dataclasses.field(default=None, metadata={"help": "IEMOCAP label scheme: 4 (default) or 6."})
    resume: bool = dataclasses.field(
        default=False, metadata={"help": "Continue an interrupted run: finished folds are kept, checkpoints resumed."}
    )
    trust_remote_code: bool = dataclasses.field(
        default=False, metadata={"help": "Allow custom code in the model folder (refused otherwise)."}
    )
    args_file: str | None = dataclasses.field(
        default=None, metadata={"help": "JSON or YAML file with any of these options; the command line wins."}
    )


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars finetune``."""
    add_training_arguments(p, FinetuneCommandArguments)


def run(args: argparse.Namespace) -> int:
    """Check every option before anything loads, then run the task's protocol."""
    from ..tasks.runner import HEADS, finetune_main

    command, training, given = training_options(args, FinetuneCommandArguments)
    for name in ("task", "data", "model"):
        if not getattr(command, name):
            raise ConfigError(f"--{name} is required (on the command line or in --args_file)")
    if command.task not in TASK_CLASSES:
        raise ConfigError(f"--task must be one of {sorted(TASK_CLASSES)}, got {command.task!r}")
    if command.head is not None and command.head not in HEADS:
        raise ConfigError(f"--head must be one of {HEADS}, got {command.head!r}")
    if command.ways is not None and command.task != "iemocap":
        raise ConfigError(f"--ways applies to iemocap, not {command.task}")
    if command.ways not in (None, 4, 6):
        raise ConfigError(f"--ways must be 4 or 6, got {command.ways}")
    if "output_dir" not in given:
        raise ConfigError("--output is required (on the command line or in --args_file)")
    check_combinations(training, given)
    push = training.pop("push_to_hub", False)
    repo_id = training.get("hub_model_id")
    if push and not repo_id:
        raise ConfigError("--push_to_hub needs --hub_model_id REPO_ID")
    training = {k: v for k, v in training.items() if k in given}
    training.pop("input_format", None)  # the task decides it
    output = check_output_folder(training.pop("output_dir"))
    epochs = training.pop("num_train_epochs", None)
    max_steps = training.pop("max_steps", None)
    seed = training.pop("seed", 42)
    lora = training.pop("lora", False)
    if lora:
        training.setdefault("merge_lora", True)
    finetune_main(
        command.task,
        command.data,
        command.model,
        output,
        head=command.head,
        epochs=epochs,
        folds=command.folds,
        fold=command.fold,
        lora=lora,
        push_to_hub=repo_id if push else None,
        max_steps=max_steps,
        seed=seed,
        task_options={"ways": command.ways} if command.ways is not None else None,
        resume=command.resume,
        trust_remote_code=command.trust_remote_code,
        **training,
    )
    return 0
