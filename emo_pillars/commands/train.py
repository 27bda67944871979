"""``emo-pillars train``: train an encoder on an Emo Pillars dataset, tune thresholds, write the card (and push).

The options are built with ``transformers.HfArgumentParser`` from :class:`TrainCommandArguments` and every field of
:class:`~emo_pillars.training.EmoPillarsTrainingArguments` (ours first), with a JSON or YAML file for any of them
(``--args_file``). :func:`add_training_arguments` and :func:`training_options` serve ``finetune`` too.

Examples:
    $ emo-pillars train --dataset my-dataset --model sentence-transformers/all-MiniLM-L6-v2 --output out
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, get_type_hints

from ..errors import ConfigError, InputError
from .checks import check_output_folder, refuse_without
from .formatting import format_metrics_table

__all__ = [
    "TrainCommandArguments", "add_training_arguments", "training_options", "check_combinations", "print_train_result"
]  # fmt: skip

NAME = "train"
HELP = "Train an encoder on an Emo Pillars dataset, tune thresholds, write the card (and push)."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the last complete checkpoint is kept; run again with --resume"

#: Short spellings kept from earlier versions of the command line.
_ALIASES = {
    "output_dir": ["--output"],
    "num_train_epochs": ["--epochs"],
    "per_device_train_batch_size": ["--batch-size"],
}


@dataclasses.dataclass
class TrainCommandArguments:
    """The options of ``emo-pillars train`` that are not training arguments.

    Args:
        dataset: Dataset repository folder, generator output folder, or Hub dataset id.
        config: The dataset configuration (and input format): ``context_less`` or ``contextual``.
        model: The base encoder: Hub id or folder.
        dataset_id: The dataset's Hub id, named in the model card when ``dataset`` is a local copy of it.
        resume: Continue from the last checkpoint in the output folder (after a kill).
        trust_remote_code: Allow custom code in the model folder (refused otherwise).
        args_file: A JSON or YAML file of options (any option of this command); the command line wins.

    Examples:
        >>> TrainCommandArguments(dataset="data", model="base").config
        'context_less'
    """

    dataset: str | None = dataclasses.field(
        default=None, metadata={"help": "Dataset repository folder, generator output folder, or Hub dataset id."}
    )
    config: str = dataclasses.field(
        default="context_less",
        metadata={"help": "Dataset configuration and input format: context_less or contextual."},
    )
    model: str | None = dataclasses.field(default=None, metadata={"help": "Base encoder: Hub id or folder."})
    dataset_id: str | None = dataclasses.field(
        default=None,
        metadata={"help": "The dataset's Hub id, for the model card, when --dataset is a local copy of it."},
    )
    resume: bool = dataclasses.field(
        default=False, metadata={"help": "Continue from the last checkpoint in the output folder (after a kill)."}
    )
    trust_remote_code: bool = dataclasses.field(
        default=False, metadata={"help": "Allow custom code in the model folder (refused otherwise)."}
    )
    args_file: str | None = dataclasses.field(
        default=None, metadata={"help": "JSON or YAML file with any of these options; the command line wins."}
    )


# --------------------------------------------------------------------------------------------------------------------
# The command line: HfArgumentParser fields on an argparse sub-parser
# --------------------------------------------------------------------------------------------------------------------
def _add_fields(parser: Any, dtype: type, names: list[str] | None = None, title: str | None = None) -> None:
    from transformers import HfArgumentParser

    group = parser.add_argument_group(title) if title else parser
    hints = get_type_hints(dtype)
    by_name = {f.name: f for f in dataclasses.fields(dtype) if f.init}
    for name in names if names is not None else list(by_name):
        field = copy.copy(by_name[name])
        field.type = hints[name]
        if name in _ALIASES:
            field.metadata = {**field.metadata, "aliases": _ALIASES[name]}
        if field.metadata.get("help") is None:
            field.metadata = {**field.metadata, "help": " "}
        HfArgumentParser._parse_dataclass_field(group, field)


def add_training_arguments(parser: argparse.ArgumentParser, command: type) -> None:
    """Add ``command``'s fields, then every :class:`EmoPillarsTrainingArguments` field (ours first, then the
    standard ``transformers.TrainingArguments`` ones), to an argparse parser."""
    from ..training.args import EmoPillarsTrainingArguments, our_fields

    _record_given_options(parser)
    _add_fields(parser, command, title="command options")
    fields = [f.name for f in dataclasses.fields(EmoPillarsTrainingArguments) if f.init]
    ours = [name for name in our_fields() if name in fields]
    rest = [name for name in fields if name not in ours]
    _add_fields(parser, EmoPillarsTrainingArguments, ours, "emo-pillars training options")
    _add_fields(parser, EmoPillarsTrainingArguments, rest, "transformers TrainingArguments")


def _record_given_options(parser: argparse.ArgumentParser) -> None:
    """Register actions that also note their ``dest`` in ``namespace._given`` when the option is on the command line.

    Comparing values with defaults cannot tell ``--epochs 2`` from no ``--epochs`` when 2 is the default, and a
    task's protocol or an options file would then override what the user typed. argparse's action registry is the
    documented way to swap the class behind ``action=...``.
    """
    for name, base in (
        (None, argparse._StoreAction), ("store", argparse._StoreAction), ("store_true", argparse._StoreTrueAction),
        ("store_false", argparse._StoreFalseAction), ("store_const", argparse._StoreConstAction),
        ("append", argparse._AppendAction),
    ):  # fmt: skip
        parser.register("action", name, _recording(base))


_RECORDING: dict[type, type] = {}


def _recording(base: type) -> type:
    """``base`` (an argparse action class) that also notes its ``dest`` in ``namespace._given``."""
    if base not in _RECORDING:

        def __call__(self, parser, namespace, values, option_string=None):  # noqa: N807 - argparse's protocol
            given = set(getattr(namespace, "_given", ()))
            given.add(self.dest)
            namespace._given = given
            base.__call__(self, parser, namespace, values, option_string)

        _RECORDING[base] = type(f"Recording{base.__name__}", (base,), {"__call__": __call__})
    return _RECORDING[base]


def _read_args_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise InputError("no such options file", path=file)
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as error:  # yaml and json raise their own types
        raise InputError(f"not valid {'YAML' if file.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: "
                         f"{str(error).splitlines()[0]}", path=file) from None  # fmt: skip
    if not isinstance(values, dict):
        raise InputError("expected a mapping of option names to values", path=file)
    return values


def training_options(args: argparse.Namespace, command: type) -> tuple[Any, dict[str, Any], set[str]]:
    """Split a parsed namespace into ``command``'s dataclass and the training-argument values.

    Values from ``--args_file`` fill every option left at its default on the command line.

    Returns:
        ``(command_args, training_values, given)``: ``given`` names the training fields set on the command line
        or in the file (the rest are defaults).
    """
    from ..training.args import EmoPillarsTrainingArguments

    values = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    given = set(getattr(args, "_given", ()))
    if values.get("args_file"):
        from_file = _read_args_file(values["args_file"])
        known = set(values)
        unknown = sorted(set(from_file) - known)
        if unknown:
            raise InputError(f"unknown option(s): {', '.join(unknown)}", path=values["args_file"])
        for key, value in from_file.items():
            if key not in given:
                values[key] = value
                given.add(key)
    command_names = {f.name for f in dataclasses.fields(command) if f.init}
    training_names = {f.name for f in dataclasses.fields(EmoPillarsTrainingArguments) if f.init}
    command_args = command(**{k: v for k, v in values.items() if k in command_names})
    training = {k: v for k, v in values.items() if k in training_names}
    return command_args, training, given & training_names


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars train``."""
    add_training_arguments(p, TrainCommandArguments)


#: Training options that mean nothing without ``--lora``.
LORA_OPTIONS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")


def check_combinations(training: dict[str, Any], given: set[str]) -> None:
    """Refuse training options given in a combination where they mean nothing."""
    if not training.get("lora"):
        refuse_without("--lora", {f"--{name}": name in given for name in LORA_OPTIONS})


def print_train_result(result: Any) -> None:
    """What a training run did: resume point, tuned thresholds, test metrics, where the model went."""
    if result.resumed_from:
        print(f"Resumed from {result.resumed_from}")
    if result.thresholds is not None:
        t = result.thresholds
        print(
            f"Thresholds tuned on validation: global {t.global_threshold:.2f} (macro-F1 {t.global_f1:.4f}), "
            f"per-label macro-F1 {t.per_label_f1:.4f}, at 0.5 {t.f1_at_05:.4f}"
        )
    if result.metrics:
        print(f"\nTest metrics ({result.test_examples} examples):")
        print(format_metrics_table(result.metrics))
    print(f"\nModel saved to {result.output_dir}")
    if result.url:
        print(f"Pushed to {result.repo_id}: {result.url}")


def run(args: argparse.Namespace) -> int:
    """Check every option before anything loads, train, print what was done."""
    from ..training.run import train_main

    command, training, given = training_options(args, TrainCommandArguments)
    for name in ("dataset", "model"):
        if not getattr(command, name):
            raise ConfigError(f"--{name} is required (on the command line or in --args_file)")
    check_combinations(training, given)
    push = training.pop("push_to_hub", False)
    repo_id = training.get("hub_model_id")
    if push and not repo_id:
        raise ConfigError("--push_to_hub needs --hub_model_id REPO_ID")
    training = {k: v for k, v in training.items() if k in given or k in ("output_dir",)}
    if training.get("input_format") == command.config:
        training.pop("input_format")  # the dataset configuration decides it; contextual_text is a choice on top
    if training.get("lora"):
        training.setdefault("merge_lora", True)  # the saved model is a plain checkpoint unless told otherwise
    output = check_output_folder(training.pop("output_dir"), "--output_dir")
    seed = training.pop("seed", 42)
    result = train_main(
        command.dataset,
        config=command.config,
        model=command.model,
        output=output,
        push_to_hub=repo_id if push else None,
        seed=seed,
        resume=command.resume,
        trust_remote_code=command.trust_remote_code,
        dataset_id=command.dataset_id,
        **training,
    )
    print_train_result(result)
    return 0
