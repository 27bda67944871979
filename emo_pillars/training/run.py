"""Train a student on an Emo Pillars dataset, from a folder or the Hub to a saved (and pushed) model.

:func:`train_main` is what ``emo-pillars train`` runs: check every option, load the dataset, train (resuming from
the last complete checkpoint when asked), tune thresholds on validation, score test, save atomically with the model
card, and push.

Examples:
    >>> from emo_pillars.training.run import train_main
    >>> result = train_main("my-dataset", "context_less", "sentence-transformers/all-MiniLM-L6-v2", "out")  # doctest: +SKIP
    >>> result.metrics["global"]["macro_f1"]  # doctest: +SKIP
    0.41
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import dataset_taxonomy
from ..errors import ConfigError, InputError
from ..modeling.card import EmoPillarsModelCardData, resolve_base_model
from ..modeling.classifier import upload_model_folder
from ..modeling.loading import check_model_folder
from ..modeling.thresholds import ThresholdResult
from .args import EmoPillarsTrainingArguments
from .trainer import EmoPillarsTrainer, last_checkpoint, load_training_dataset, save_final_model

__all__ = ["TrainResult", "train_main", "fit", "save_and_push"]


@dataclass
class TrainResult:
    """What :func:`train_main` did.

    Attributes:
        output_dir: The saved model folder.
        metrics: Test metrics by decision rule (``{}`` without a test split).
        thresholds: The thresholds tuned on validation (``None`` without validation data or for single-label).
        test_examples: Rows of the test split.
        resumed_from: The checkpoint the run continued from, if any.
        repo_id: The Hub repository the model was pushed to, if any.
        url: The commit URL of the push.
    """

    output_dir: str
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    thresholds: ThresholdResult | None = None
    test_examples: int = 0
    resumed_from: str | None = None
    repo_id: str | None = None
    url: str | None = None

    def __repr__(self) -> str:
        best = self.metrics.get("per_label") or self.metrics.get("argmax") or {}
        score = f", test macro-F1 {best['macro_f1']:.4f}" if "macro_f1" in best else ""
        pushed = f", pushed to {self.repo_id}" if self.repo_id else ""
        return f"TrainResult({self.output_dir}{score}{pushed})"


def train_main(  # noqa: PLR0913 - a public entry point: one keyword per command option
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
    resume: bool = False,
    trust_remote_code: bool = False,
    dataset_id: str | None = None,
    **training_kwargs: Any,
) -> TrainResult:
    """Train a student on an emo-pillars dataset, tune thresholds, evaluate on test, save (and push).

    Every option is checked before the dataset or the model loads. Checkpoints go to ``output/checkpoint-N``
    (``save_steps``, ``save_total_limit``); ``resume=True`` continues from the last complete one. The final model
    is written to a temporary sibling and renamed into place.

    Args:
        dataset: A dataset folder (built repository or generator output), a Hub id, or a ``DatasetDict`` with
            ``train``, ``validation`` and ``test`` splits.
        config: ``context_less`` or ``contextual`` (the dataset configuration and the input format; contextual data
            trains the pair, or with ``input_format="contextual_text"`` the paper's one text).
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
        resume: Continue from the last checkpoint in ``output``.
        trust_remote_code: Allow custom code in the model folder.
        dataset_id: The dataset's Hub id, for the card's ``datasets`` and ``model-index``, when ``dataset`` is a
            local folder (a Hub id given as ``dataset`` is used as is).
        **training_kwargs: Further :class:`EmoPillarsTrainingArguments` fields.

    Returns:
        What was trained, with the test metrics at ``"0.5"``, ``"global"`` and ``"per_label"`` thresholds (``{}``
        without a test split).
    """
    if config not in ("context_less", "contextual"):
        raise ConfigError(f"config must be context_less or contextual, got {config!r}")
    input_format = training_kwargs.pop("input_format", config)
    if input_format != config and (config, input_format) != ("contextual", "contextual_text"):
        raise ConfigError(
            f"input_format {input_format!r} does not fit the {config} data: the contextual data trains 'contextual' "
            "(the pair) or 'contextual_text' (the paper's one text)"
        )
    options: dict[str, Any] = {"output_dir": os.fspath(output), "input_format": input_format, "seed": seed}
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
    taxonomy = dataset_taxonomy(dataset) if isinstance(dataset, (str, os.PathLike)) else None
    if dataset_id is None and isinstance(dataset, str) and not os.path.isdir(dataset):
        dataset_id = dataset
    card_data = EmoPillarsModelCardData(
        base_model=resolve_base_model(model),
        dataset_id=dataset_id,
        dataset_name=_dataset_title(dataset, dataset_id),
        dataset_config=config,
        model_id=push_to_hub,
    )
    trainer = fit(model, args, splits["train"], splits.get("validation"), card_data, resume_from=checkpoint,
                  trust_remote_code=trust_remote_code, taxonomy=taxonomy)  # fmt: skip
    metrics: dict[str, dict[str, Any]] = {}
    if "test" in splits:
        metrics = trainer.evaluate_thresholds(splits["test"])
    url = save_and_push(trainer, args.output_dir, push_to_hub)
    return TrainResult(
        output_dir=args.output_dir,
        metrics=metrics,
        thresholds=trainer.threshold_result,
        test_examples=len(splits["test"]) if "test" in splits else 0,
        resumed_from=checkpoint,
        repo_id=push_to_hub,
        url=url,
    )


def fit(
    model: str, args: EmoPillarsTrainingArguments, train: Any, validation: Any = None, card_data: Any = None, *,
    resume_from: str | None = None, trust_remote_code: bool = False, **labels: Any,
) -> EmoPillarsTrainer:  # fmt: skip
    """Build the trainer and train it: the one training step of ``train`` and ``finetune``.

    Args:
        model: The base encoder (folder or Hub id), checked by the caller.
        args: The training arguments.
        train: The training rows.
        validation: Rows to tune the thresholds on (``None``: none).
        card_data: The model card data the trainer fills.
        resume_from: A checkpoint to continue from.
        trust_remote_code: Allow custom model code.
        **labels: ``label_names`` and ``multi_label`` for a head other than the 28 emotions; ``taxonomy`` (the
            dataset's), stored with the model when it names the head's labels.
    """
    trainer = EmoPillarsTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=validation, card_data=card_data,
        trust_remote_code=trust_remote_code, **labels,
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=resume_from)
    return trainer


def save_and_push(
    trainer: EmoPillarsTrainer, output_dir: str | os.PathLike, push_to_hub: str | None = None,
    before_replace: Any = None,
) -> str | None:  # fmt: skip
    """Save the final model with its card atomically (:func:`save_final_model`), then push it; the commit URL.

    The one saving step of ``train`` and ``finetune``; ``before_replace`` adds files to the folder before it is
    put in place.
    """
    save_final_model(trainer, output_dir, before_replace=before_replace)
    return upload_model_folder(output_dir, push_to_hub) if push_to_hub else None


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
