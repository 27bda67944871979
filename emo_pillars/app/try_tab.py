"""The Try tab: an utterance (with an optional context and character) in, every label's score out.

The scoring (:func:`analyse`) is plain Python over :class:`~emo_pillars.EmoPillarsClassifier`, so it is tested
without gradio; :func:`build_try_tab` lays it out. The label space is the model's own (``config.id2label``):
a multi-label head (``problem_type="multi_label_classification"``) shows sigmoid scores and the emotions at or
above the model's tuned thresholds; a single-label task head (ISEAR's 7 labels, say) shows softmax scores and its
top label. The roll-ups are the groupings of the model's taxonomy: Ekman and sentiment for the 28 GoEmotions classes,
a custom taxonomy's own (stored in the model's config by training).

Examples:
    >>> from emo_pillars.app.try_tab import format_predicted
    >>> format_predicted({"joy": 0.91, "pride": 0.62})
    'joy (0.91), pride (0.62)'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..errors import InputError
from ..taxonomy import EMOTIONS

__all__ = ["TryResult", "analyse", "label_names", "is_emotions_model", "is_single_label", "load_examples",
           "format_predicted", "describe_model", "build_try_tab"]  # fmt: skip


def label_names(classifier: Any) -> list[str]:
    """The model's labels in output order, from ``config.id2label``."""
    id2label = classifier.model.config.id2label
    return [str(id2label[i] if i in id2label else id2label[str(i)]) for i in range(len(id2label))]


def is_emotions_model(classifier: Any) -> bool:
    """Whether the model's labels are the 28 GoEmotions classes in canonical order (roll-ups apply)."""
    return tuple(label_names(classifier)) == EMOTIONS


def is_single_label(classifier: Any) -> bool:
    """Whether the head is single-label (softmax, one answer) rather than multi-label (sigmoid, thresholds)."""
    return getattr(classifier.model.config, "problem_type", None) == "single_label_classification"


@dataclass
class TryResult:
    """What the Try tab shows for one input.

    Args:
        scores: Every label's score, in the model's label order.
        predicted: The thresholded labels (multi-label) or the top label (single-label), best first.
        ekman: Ekman-6 + neutral roll-up scores (28-class models only).
        sentiment: Sentiment roll-up scores (28-class models only).
        rollups: Every grouping of the model's taxonomy -> its group scores (none without a taxonomy).

    Examples:
        >>> TryResult(scores={"joy": 0.9, "fear": 0.1}, predicted={"joy": 0.9}).top
        'joy'
    """

    scores: dict[str, float]
    predicted: dict[str, float]
    ekman: dict[str, float] | None = None
    sentiment: dict[str, float] | None = None
    rollups: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def top(self) -> str:
        """The label with the highest score."""
        return max(self.scores, key=self.scores.__getitem__)


def analyse(classifier: Any, utterance: str, context: str | None = None, character: str | None = None) -> TryResult:
    """Score one utterance with ``classifier``: all label scores, the predicted labels and the roll-ups.

    Args:
        classifier: An :class:`~emo_pillars.EmoPillarsClassifier`.
        utterance: The utterance (required).
        context: The situation (optional; with it the input is contextual).
        character: Who speaks (used with a context).

    Raises:
        InputError: For an empty utterance.
    """
    utterance = (utterance or "").strip()
    if not utterance:
        raise InputError("type an utterance", field="utterance")
    context = (context or "").strip() or None
    character = (character or "").strip() or None
    contexts = [context] if context else None
    characters = [character] if context and character else None
    probs = classifier.predict_proba([utterance], contexts=contexts, characters=characters)
    names = label_names(classifier)
    scores = {name: float(p) for name, p in zip(names, probs[0])}
    if is_single_label(classifier):
        top = max(scores, key=scores.__getitem__)
        predicted = {top: scores[top]}
    else:
        predicted = classifier.predict([utterance], contexts=contexts, characters=characters)[0]
    result = TryResult(scores=scores, predicted=dict(predicted))
    for level in classifier.levels[1:]:
        groups, values = classifier.roll_up(probs, level)
        result.rollups[level] = {g: float(v) for g, v in zip(groups, values[0])}
    result.ekman, result.sentiment = result.rollups.get("ekman"), result.rollups.get("sentiment")
    return result


def format_predicted(predicted: dict[str, float]) -> str:
    """``"label (score), ..."`` best first, or a note when nothing reaches a threshold."""
    if not predicted:
        return "(no emotion reaches its threshold)"
    return ", ".join(f"{name} ({score:.2f})" for name, score in predicted.items())


def describe_model(classifier: Any, source: str) -> str:
    """One line about the model: where from, its labels, its head and how labels are chosen."""
    names = label_names(classifier)
    if is_single_label(classifier):
        rule = "single-label head: the top label is the prediction"
    else:
        per_label = bool(classifier.settings.get("thresholds"))
        rule = "per-label thresholds tuned on validation" if per_label else (
            f"threshold {classifier.global_threshold:.2f}")  # fmt: skip
    space = "the 28 GoEmotions classes" if is_emotions_model(classifier) else f"{len(names)} labels"
    return f"Model `{source}`: {space}, {classifier.input_format.replace('_', '-')} input, {rule}."


def load_examples() -> list[list[str]]:
    """The Try tab's example inputs (``emo_pillars/app/examples.jsonl``): ``[utterance, context, character]``."""
    text = resources.files(__package__).joinpath("examples.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [[row["utterance"], row.get("context", ""), row.get("character", "")] for row in rows]


def build_try_tab(gr: Any, classifier: Any | None, source: str, error: str | None = None) -> None:
    """Lay out the Try tab inside the current ``gr.Blocks`` (``gr`` is the imported gradio module).

    Args:
        gr: The gradio module.
        classifier: The loaded classifier, or ``None`` when it could not be loaded.
        source: The model as given (shown to the user).
        error: Why the model could not be loaded (one line), when ``classifier`` is ``None``.
    """
    if classifier is None:
        gr.Markdown(f"**No model loaded:** {error or 'start the app with a model'}", elem_id="model-error")
        return
    names = label_names(classifier)
    levels = list(classifier.levels[1:])
    gr.Markdown(describe_model(classifier, source), elem_id="model-info")
    with gr.Row():
        with gr.Column(scale=1):
            utterance = gr.Textbox(label="Utterance", lines=2, placeholder="I can't believe you came!",
                                   elem_id="utterance")  # fmt: skip
            context = gr.Textbox(label="Context (optional): the situation", lines=3, elem_id="context")
            character = gr.Textbox(label="Character (optional): who speaks", elem_id="character")
            button = gr.Button("Classify", variant="primary", elem_id="classify")
            status = gr.Markdown("", elem_id="try-status")
        with gr.Column(scale=1):
            predicted = gr.Textbox(label="Predicted emotions", interactive=False, elem_id="predicted")
            scores = gr.Label(label="All label scores", num_top_classes=len(names), elem_id="scores")
            # Ekman and sentiment keep their places (the API's outputs); other groupings follow them.
            shown = ["ekman", "sentiment", *(level for level in levels if level not in ("ekman", "sentiment"))]
            rollups = [
                gr.Label(label=f"{level.capitalize()} roll-up", visible=level in levels, elem_id=level)
                for level in shown
            ]

    def classify(text: str, situation: str, speaker: str):
        try:
            result = analyse(classifier, text, situation, speaker)
        except InputError as err:
            return None, "", *([None] * len(shown)), f"**{err}**"
        return (result.scores, format_predicted(result.predicted), *(result.rollups.get(k) for k in shown), "")

    outputs = [scores, predicted, *rollups, status]
    inputs = [utterance, context, character]
    button.click(classify, inputs, outputs, api_name="classify")
    utterance.submit(classify, inputs, outputs, api_visibility="private")
    gr.Examples(load_examples(), inputs=inputs, label="Examples (click one, then Classify)")
