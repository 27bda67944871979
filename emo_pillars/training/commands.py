"""The work behind ``emo-pillars train`` and ``emo-pillars predict``: plain functions that print tables.

``emo_pillars/cli.py`` parses the command line and calls :func:`train_main` or :func:`predict_main`.

Examples:
    >>> train_main("my-dataset", "context_less", "sentence-transformers/all-MiniLM-L6-v2", "out")  # doctest: +SKIP
    >>> predict_main("out", ["I can't believe it worked!"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["train_main", "predict_main", "format_metrics_table", "format_predictions_table"]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    """A table of macro/micro/weighted F1 at 0.5, at the global and at the per-label thresholds."""
    names = {"0.5": "0.5", "global": "global", "per_label": "per-label"}
    rows = []
    for key, values in metrics.items():
        label = names.get(key, key)
        if key == "global":
            label = f"global ({values['threshold']:.2f})"
        rows.append([label, f"{values['macro_f1']:.4f}", f"{values['micro_f1']:.4f}", f"{values['weighted_f1']:.4f}"])
    return _table(["thresholds", "macro-F1", "micro-F1", "weighted-F1"], rows)


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
    **training_kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Train a student on an emo-pillars dataset, tune thresholds, evaluate on test, save (and push).

    Args:
        dataset: A dataset folder (``load_dataset(folder, config)``), a Hub id, or a ``DatasetDict`` with
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
        seed: Random seed.
        use_cpu: Train on CPU even when a GPU is present.
        stream: Where the tables go (default: stdout).
        **training_kwargs: Further :class:`EmoPillarsTrainingArguments` fields.

    Returns:
        Test metrics at ``"0.5"``, ``"global"`` and ``"per_label"`` thresholds (``{}`` without a test split).
    """
    from ..modeling import upload_model_folder
    from .args import EmoPillarsTrainingArguments
    from .model_card import EmoPillarsModelCardData
    from .trainer import EmoPillarsTrainer, load_training_dataset

    stream = stream or sys.stdout
    splits = load_training_dataset(dataset, config)
    if "train" not in splits:
        raise ValueError(f"the dataset has no train split (splits: {list(splits)})")
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
    args = EmoPillarsTrainingArguments(**options)
    dataset_id = dataset if isinstance(dataset, str) and not os.path.isdir(dataset) else None
    card_data = EmoPillarsModelCardData(
        base_model=model if not os.path.isdir(model) else None,
        dataset_id=dataset_id,
        dataset_name=dataset_id or (os.path.basename(os.path.normpath(dataset)) if isinstance(dataset, str) else None),
        dataset_config=config,
        model_id=push_to_hub,
    )
    trainer = EmoPillarsTrainer(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits.get("validation"),
        card_data=card_data,
    )
    trainer.train()
    metrics: dict[str, dict[str, Any]] = {}
    if "test" in splits:
        metrics = trainer.evaluate_thresholds(splits["test"])
    trainer.save_model()
    trainer.processing_class.save_pretrained(args.output_dir)
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


def format_predictions_table(
    utterances: Sequence[str], predictions: Sequence[dict[str, float]], probs: Any = None, top: int = 3
) -> str:
    """A table: utterance, predicted emotions with scores (or the best ``top`` scores when none passes)."""
    from ..taxonomy import EMOTIONS

    rows = []
    for i, (utterance, found) in enumerate(zip(utterances, predictions)):
        text = utterance if len(utterance) <= 60 else utterance[:57] + "..."
        if not found and probs is not None:
            best = sorted(zip(EMOTIONS, probs[i]), key=lambda x: -x[1])[:top]
            found_text = "(none above threshold; best: " + ", ".join(f"{e} {s:.2f}" for e, s in best) + ")"
        else:
            found_text = ", ".join(f"{e} {s:.2f}" for e, s in found.items()) or "(none)"
        rows.append([text, found_text])
    return _table(["utterance", "emotions"], rows)


def predict_main(
    model: str | os.PathLike,
    texts: Sequence[str],
    context: str | None = None,
    character: str | None = None,
    threshold: float | str | None = None,
    top_k: int | None = None,
    level: str = "emotions",
    stream: TextIO | None = None,
) -> list[dict[str, float]]:
    """Predict emotions for ``texts`` with a saved or Hub model and print a table of emotions and scores.

    Args:
        model: A model folder or Hub id.
        texts: The utterances.
        context: A situation text shared by all utterances (contextual models).
        character: The speaking character (contextual models).
        threshold: ``None`` (the stored per-label thresholds), ``"global"``, or a number.
        top_k: At most this many emotions per utterance.
        level: ``emotions``, ``ekman`` or ``sentiment``.
        stream: Where the table goes (default: stdout).

    Returns:
        One ``{emotion: score}`` dict per utterance.
    """
    from ..modeling import EmoPillarsClassifier

    stream = stream or sys.stdout
    texts = list(texts)
    classifier = EmoPillarsClassifier.from_pretrained(model)
    contexts = [context] * len(texts) if context is not None else None
    characters = [character] * len(texts) if (context is not None and character) else None
    probs = classifier.predict_proba(texts, contexts, characters)
    predictions = classifier.predict(texts, contexts, characters, threshold=threshold, top_k=top_k, level=level)
    print(format_predictions_table(texts, predictions, probs if level == "emotions" else None), file=stream)
    return predictions
