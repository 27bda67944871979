"""``emo-pillars predict``: load a model, score the utterances once, print a table.

Every input is checked before the model loads.

Examples:
    >>> predict_main("out", ["I can't believe it worked!"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..errors import ConfigError
from ..modeling.classifier import EmoPillarsClassifier
from ..modeling.inputs import check_texts
from ..modeling.thresholds import parse_threshold
from .checks import parse_labels, positive_int, refuse_without
from .formatting import format_predictions_table

__all__ = ["predict_main"]

NAME = "predict"
HELP = "Predict the emotions of utterances with a trained model."


def predict_main(
    model: str | os.PathLike,
    texts: Sequence[str],
    context: str | None = None,
    character: str | None = None,
    threshold: float | str | None = None,
    top_k: int | None = None,
    level: str = "emotions",
    stream: TextIO | None = None,
    **load_options: Any,
) -> list[dict[str, float]]:
    """Predict the labels of ``texts`` with a saved or Hub model and print a table of labels and scores.

    Args:
        model: A model folder or Hub id.
        texts: The utterances (none empty).
        context: A situation text shared by all utterances (contextual models).
        character: The speaking character (contextual models; needs ``context``).
        threshold: ``None`` (the stored per-label thresholds, or the argmax of a single-label model), ``"global"``,
            or a number in [0, 1].
        top_k: At most this many labels per utterance (at least 1).
        level: ``emotions``, or a grouping of the model's taxonomy (``ekman`` or ``sentiment`` for the 28 classes).
        stream: Where the table goes (default: stdout).
        **load_options: For :meth:`EmoPillarsClassifier.from_pretrained`: ``trust_remote_code``, ``labels`` (class
            names in output order, for a checkpoint that names none), ``long_inputs`` (``truncate`` or ``window``).

    Returns:
        One ``{label: score}`` dict per utterance.
    """
    texts = check_texts(texts)
    threshold = parse_threshold(threshold, "--threshold")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"--top-k must be at least 1, got {top_k!r}")
    if character is not None and context is None:
        raise ConfigError("--character needs --context (it names who speaks in the situation)")
    if context is not None and not context.strip():
        raise ConfigError("--context is empty")
    if not isinstance(level, str) or not level.strip():
        raise ConfigError("--level is empty: give emotions or a grouping of the model's taxonomy")

    stream = stream or sys.stdout
    classifier = EmoPillarsClassifier.from_pretrained(model, **load_options)
    contexts = [context] * len(texts) if context is not None else None
    characters = [character] * len(texts) if (context is not None and character) else None
    probs = classifier.predict_proba(texts, contexts, characters)  # the one forward pass
    predictions = classifier.decide(probs, threshold=threshold, top_k=top_k, level=level)
    shown = probs if level == "emotions" else None
    print(format_predictions_table(texts, predictions, shown, labels=classifier.labels), file=stream)
    return predictions


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars predict``."""
    p.add_argument("texts", nargs="+", metavar="TEXT", help="Utterances to classify.")
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="Model folder or Hub id.")
    p.add_argument("--context", default=None, help="Situation text (contextual models).")
    p.add_argument("--character", default=None, help="Who says the utterances (contextual models; needs --context).")
    p.add_argument("--threshold", default=None, help="A number in [0, 1], 'global', or nothing for the stored "
                   "per-label thresholds (single-label models: the best label).")  # fmt: skip
    p.add_argument("--top-k", type=positive_int, default=None, help="At most K labels per utterance (K >= 1).")
    p.add_argument("--level", default="emotions", help="emotions (the model's labels), or a grouping of its "
                   "taxonomy to roll up to: ekman or sentiment for the 28 classes.")  # fmt: skip
    p.add_argument("--labels", default=None, metavar="NAMES",
                   help="Class names in output order, comma-separated (a checkpoint that names none).")  # fmt: skip
    p.add_argument(
        "--backend",
        default="torch",
        choices=["torch", "onnx"],
        help="torch (default), or onnx: an export written by emo-pillars export, run by onnxruntime.",
    )
    p.add_argument(
        "--precision",
        default=None,
        choices=["fp32", "int8"],
        help="With --backend onnx: model.onnx (fp32, default) or model_quantized.onnx (int8).",
    )
    p.add_argument("--long-inputs", default="truncate", choices=["truncate", "window"],
                   help="A text longer than the model reads: truncate it (default) or score it in windows.")  # fmt: skip
    p.add_argument("--trust-remote-code", action="store_true", help="Allow custom code in the model folder.")


def run(args: argparse.Namespace) -> int:
    """Check the options, load the model, print the table."""
    predict_main(
        args.model,
        args.texts,
        context=args.context,
        character=args.character,
        threshold=args.threshold,
        top_k=args.top_k,
        level=args.level,
        trust_remote_code=args.trust_remote_code,
        labels=parse_labels(args.labels),
        long_inputs=args.long_inputs,
        **_backend_options(args),
    )
    return 0


def _backend_options(args: argparse.Namespace) -> dict[str, str]:
    """``backend`` (and ``precision``) for the loader; a precision without ``--backend onnx`` is refused."""
    if args.backend == "torch":
        refuse_without("--backend onnx", {"--precision": args.precision is not None})
        return {}
    return {"backend": "onnx", **({"precision": args.precision} if args.precision else {})}
