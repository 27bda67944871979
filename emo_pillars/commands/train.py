"""The work behind ``emo-pillars train``: a plain function that trains, evaluates, saves and prints tables, and
the command's arguments, built with ``transformers.HfArgumentParser`` from :class:`TrainCommandArguments` and
every field of :class:`~emo_pillars.training.EmoPillarsTrainingArguments` (ours first), with a JSON or YAML file
for any of them (``--args_file``).

``emo_pillars/cli.py`` registers the command; :func:`add_train_arguments` and :func:`run_train` are its
arguments and handler. :func:`add_training_arguments` and :func:`training_options` serve ``finetune`` too.

Examples:
    >>> train_main("my-dataset", "context_less", "sentence-transformers/all-MiniLM-L6-v2", "out")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO, get_type_hints

from ..errors import ConfigError, InputError
from .predict import format_table

__all__ = [
    "train_main",
    "format_metrics_table",
    "TrainCommandArguments",
    "add_training_arguments",
    "training_options",
    "add_train_arguments",
    "run_train",
    "OUR_TRAINING_FIELDS",
]

#: The fields :class:`EmoPillarsTrainingArguments` adds to ``TrainingArguments`` (listed first in ``--help``).
OUR_TRAINING_FIELDS = (
    "output_dir", "input_format", "max_length", "head_learning_rate", "targets", "pos_weight", "pos_weight_max",
    "init_head_bias", "freeze_embeddings", "tune_thresholds", "resize_token_types", "lora", "lora_r", "lora_alpha",
    "lora_dropout", "lora_target_modules", "merge_lora",
)  # fmt: skip

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


def format_metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    """A table of macro/micro/weighted F1 at 0.5, at the global and at the per-label thresholds (or argmax)."""
    names = {"0.5": "0.5", "global": "global", "per_label": "per-label", "argmax": "argmax"}
    rows = []
    for key, values in metrics.items():
        label = names.get(key, key)
        if key == "global":
            label = f"global ({values['threshold']:.2f})"
        rows.append([label, f"{values['macro_f1']:.4f}", f"{values['micro_f1']:.4f}", f"{values['weighted_f1']:.4f}"])
    return format_table(["decision", "macro-F1", "micro-F1", "weighted-F1"], rows)


def train_main(
    dataset: Any,
    config: str = "context_less",
    model: str = "sentence-transformers/all-MiniLM-L6-v2",
    output: str | os.PathLike = "emo-pillars-model",
    epochs: float | None = None,
    lora: bool = False,
    push_to_hub: str | None = None,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    max_steps: int | None = None,
    seed: int = 42,
    use_cpu: bool = False,
    stream: TextIO | None = None,
    resume: bool = False,
    trust_remote_code: bool = False,
    dataset_id: str | None = None,
    **training_kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Train a student on an emo-pillars dataset, tune thresholds, evaluate on test, save (and push).

    Every option is checked before the dataset or the model loads. Checkpoints go to ``output/checkpoint-N``
    (``save_steps``, ``save_total_limit``); ``resume=True`` continues from the last complete one. The final model
    is written to a temporary sibling and renamed into place.

    Args:
        dataset: A dataset folder (built repository or generator output), a Hub id, or a ``DatasetDict`` with
            ``train``, ``validation`` and ``test`` splits.
        config: ``context_less`` or ``contextual`` (the dataset configuration and the input format).
        model: The base encoder (Hub id or folder).
        output: Where the model, its card and plots are written.
        epochs: Training epochs (default: the trainer's).
        lora: Train LoRA adapters and merge them into the saved model.
        push_to_hub: A Hub repository id to upload the model to.
        learning_rate: Encoder learning rate (default: the trainer's).
        batch_size: Training batch size (default: the trainer's).
        max_length: Truncation length (default: 128 context-less, 512 contextual).
        max_steps: Stop after this many steps (for quick checks).
        seed: Random seed (model head and data order).
        use_cpu: Train on CPU even when a GPU is present.
        stream: Where the tables go (default: stdout).
        resume: Continue from the last checkpoint in ``output``.
        trust_remote_code: Allow custom code in the model folder.
        dataset_id: The dataset's Hub id, for the card's ``datasets`` and ``model-index``, when ``dataset`` is a
            local folder (a Hub id given as ``dataset`` is used as is).
        **training_kwargs: Further :class:`EmoPillarsTrainingArguments` fields.

    Returns:
        Test metrics at ``"0.5"``, ``"global"`` and ``"per_label"`` thresholds (``{}`` without a test split).
    """
    from ..modeling.card import EmoPillarsModelCardData, resolve_base_model
    from ..modeling.classifier import upload_model_folder
    from ..modeling.loading import check_model_folder
    from ..training.args import EmoPillarsTrainingArguments
    from ..training.trainer import EmoPillarsTrainer, last_checkpoint, load_training_dataset, save_final_model

    stream = stream or sys.stdout
    if config not in ("context_less", "contextual"):
        raise ConfigError(f"config must be context_less or contextual, got {config!r}")
    options: dict[str, Any] = {"output_dir": os.fspath(output), "input_format": config, "seed": seed}
    for key, value in (
        ("num_train_epochs", epochs),
        ("learning_rate", learning_rate),
        ("per_device_train_batch_size", batch_size),
        ("max_length", max_length),
        ("max_steps", max_steps),
    ):
        if value is not None:
            options[key] = value
    if lora:
        options.update(lora=True, merge_lora=True)
    if use_cpu:
        options["use_cpu"] = True
    options.update(training_kwargs)
    args = EmoPillarsTrainingArguments(**options)  # validates every number before anything loads
    model = os.fspath(model)
    check_model_folder(model, trust_remote_code)
    checkpoint = _checkpoint_to_resume(args.output_dir, resume, last_checkpoint)
    splits = load_training_dataset(dataset, config)
    if "train" not in splits:
        raise InputError(f"the dataset has no train split (splits: {list(splits)})")
    if dataset_id is None and isinstance(dataset, str) and not os.path.isdir(dataset):
        dataset_id = dataset
    card_data = EmoPillarsModelCardData(
        base_model=resolve_base_model(model),
        dataset_id=dataset_id,
        dataset_name=_dataset_title(dataset, dataset_id),
        dataset_config=config,
        model_id=push_to_hub,
    )
    trainer = EmoPillarsTrainer(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits.get("validation"),
        card_data=card_data,
        trust_remote_code=trust_remote_code,
    )
    if checkpoint:
        print(f"Resuming from {checkpoint}", file=stream)
    trainer.train(resume_from_checkpoint=checkpoint)
    metrics: dict[str, dict[str, Any]] = {}
    if "test" in splits:
        metrics = trainer.evaluate_thresholds(splits["test"])
    save_final_model(trainer, args.output_dir)
    if trainer.threshold_result is not None:
        t = trainer.threshold_result
        print(
            f"Thresholds tuned on validation: global {t.global_threshold:.2f} (macro-F1 {t.global_f1:.4f}), "
            f"per-label macro-F1 {t.per_label_f1:.4f}, at 0.5 {t.f1_at_05:.4f}",
            file=stream,
        )
    if metrics:
        print(f"\nTest metrics ({len(splits['test'])} examples):", file=stream)
        print(format_metrics_table(metrics), file=stream)
    print(f"\nModel saved to {args.output_dir}", file=stream)
    if push_to_hub:
        url = upload_model_folder(args.output_dir, push_to_hub)
        print(f"Pushed to {push_to_hub}: {url}", file=stream)
    return metrics


def _dataset_title(dataset: Any, dataset_id: str | None) -> str | None:
    """The dataset's name for the card: a local folder's ``pretty_name`` (its card's YAML), else its Hub id, else
    the folder's name."""
    if isinstance(dataset, str) and os.path.isdir(dataset):
        card = Path(dataset) / "README.md"
        if card.is_file():
            from huggingface_hub import DatasetCard

            try:
                pretty = DatasetCard.load(card).data.to_dict().get("pretty_name")
            except Exception:  # a card the Hub's parser cannot read names nothing
                pretty = None
            if isinstance(pretty, str) and pretty.strip():
                return pretty.strip()
        return dataset_id or os.path.basename(os.path.normpath(dataset))
    return dataset_id


def _checkpoint_to_resume(output_dir: str, resume: bool, find: Any) -> str | None:
    """The checkpoint to continue from; without ``resume``, a folder holding an unfinished run is refused."""
    checkpoint = find(output_dir)
    if checkpoint is None:
        return None
    if not resume:
        raise ConfigError(
            f"{output_dir} holds checkpoints of an unfinished run ({Path(checkpoint).name}); pass --resume to "
            "continue it, or choose another output folder"
        )
    return checkpoint


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
    from ..training.args import EmoPillarsTrainingArguments

    _add_fields(parser, command, title="command options")
    fields = [f.name for f in dataclasses.fields(EmoPillarsTrainingArguments) if f.init]
    ours = [name for name in OUR_TRAINING_FIELDS if name in fields]
    rest = [name for name in fields if name not in ours]
    _add_fields(parser, EmoPillarsTrainingArguments, ours, "emo-pillars training options")
    _add_fields(parser, EmoPillarsTrainingArguments, rest, "transformers TrainingArguments")
    for action in parser._actions:
        if action.dest != "help":
            action.__class__ = _recording(type(action))


_RECORDING: dict[type, type] = {}


def _recording(base: type) -> type:
    """``base`` (an argparse action class) that also notes its ``dest`` in ``namespace._given`` when the option is
    on the command line. Comparing values with defaults cannot tell ``--epochs 2`` from no ``--epochs`` when 2 is
    the default, and a task's protocol or an options file would then override what the user typed."""
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


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars train``."""
    add_training_arguments(p, TrainCommandArguments)


def run_train(args: argparse.Namespace) -> int:
    """The handler of ``emo-pillars train``: every option is checked before anything loads."""
    command, training, given = training_options(args, TrainCommandArguments)
    for name in ("dataset", "model"):
        if not getattr(command, name):
            raise ConfigError(f"--{name} is required (on the command line or in --args_file)")
    push = training.pop("push_to_hub", False)
    repo_id = training.get("hub_model_id")
    if push and not repo_id:
        raise ConfigError("--push_to_hub needs --hub_model_id REPO_ID")
    training = {k: v for k, v in training.items() if k in given or k in ("output_dir",)}
    training.pop("input_format", None)  # the dataset configuration decides it
    if training.get("lora"):
        training.setdefault("merge_lora", True)  # the saved model is a plain checkpoint unless told otherwise
    output = training.pop("output_dir")
    seed = training.pop("seed", 42)
    train_main(
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
    return 0
