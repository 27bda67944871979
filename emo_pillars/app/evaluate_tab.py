"""The Evaluate tab: the paper's human evaluation of generated data, as a tool.

An annotator loads a generated dataset (a generator output folder, a built repository or a Hub id), draws a seeded
sample and judges one example at a time: each label right or wrong and, for contextual examples, whether the context
explains the emotion without naming it. Every judgement is saved at once (:class:`~.annotations.AnnotationStore`);
starting again with the same name and the same sample goes on from the first example not yet judged. The report
gives label precision and Cohen's kappa between two annotators.

:class:`EvaluationSession` holds the logic in plain Python; :func:`build_evaluate_tab` lays it out in gradio and
keeps only the session's key (dataset, config, seed, size, annotator) in the browser session.

Examples:
    >>> from emo_pillars.app.evaluate_tab import EvaluationSession  # doctest: +SKIP
    >>> session = EvaluationSession.start("annotations", "outputs/run1", "contextual", 0, 20, "ann")  # doctest: +SKIP
    >>> session.current.utterance  # doctest: +SKIP
    'The lamp stayed lit the whole night, and the boat is in the harbour.'
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import EmoPillarsError, InputError
from .annotations import Annotation, AnnotationStore, evaluation_report
from .samples import CONFIGS, EvalExample, SampleSpec, dataset_identity, draw_sample, load_examples

__all__ = ["EvaluationSession", "CONTEXT_CHOICES", "report_markdown", "build_evaluate_tab"]

#: The answers to "does the context explain the emotion without naming it?".
CONTEXT_CHOICES = ("yes", "no")


@dataclass
class EvaluationSession:
    """One annotator working through one seeded sample.

    Args:
        store: Where the annotations go.
        spec: The sample (dataset identity, config, seed, size).
        annotator: The annotator's name.
        sample: The sampled examples, in order.
        source: The dataset as the user gave it (a folder path or a Hub id).
    """

    store: AnnotationStore
    spec: SampleSpec
    annotator: str
    sample: list[EvalExample]
    source: str

    @classmethod
    def start(
        cls,
        folder: str | os.PathLike,
        source: str,
        config: str,
        seed: int | float,
        size: int | float,
        annotator: str,
        *,
        timeout: float | None = None,
    ) -> EvaluationSession:
        """Check the inputs, load the dataset (cached per process) and draw the sample.

        Raises:
            InputError: For a missing name, a bad seed or size, or a dataset without that config.
            HubError: For a Hub id that cannot be fetched (one line).
        """
        source = (source or "").strip()
        spec = SampleSpec(dataset_identity(source), config, _whole(seed, "seed"), _whole(size, "size"))
        store = AnnotationStore(folder)
        store.path_for(annotator)  # checks the name before the dataset loads
        sample = draw_sample(load_examples(source, config, timeout=timeout), spec.seed, spec.size)
        return cls(store=store, spec=spec, annotator=annotator.strip(), sample=sample, source=source)

    def done_ids(self) -> set[str]:
        return self.store.done_ids(self.annotator, self.spec.dataset, self.spec.config, self.spec.seed)

    @property
    def position(self) -> int | None:
        """The index of the first example not yet judged by this annotator (``None`` when all are)."""
        done = self.done_ids()
        return next((i for i, example in enumerate(self.sample) if example.id not in done), None)

    @property
    def current(self) -> EvalExample | None:
        index = self.position
        return None if index is None else self.sample[index]

    def progress(self) -> tuple[int, int]:
        """``(judged, total)`` for this sample."""
        done = self.done_ids()
        return sum(example.id in done for example in self.sample), len(self.sample)

    def record(self, example_id: str, right_labels: Sequence[str], context_answer: str | None = None) -> Annotation:
        """Save the judgement of one example: ``right_labels`` are right, its other labels wrong.

        Raises:
            InputError: For an example not in the sample, a label the example does not have, or a contextual
                example without an answer about its context.
        """
        example = next((e for e in self.sample if e.id == example_id), None)
        if example is None:
            raise InputError(f"example {example_id!r} is not in this sample; start the session again")
        unknown = sorted(set(right_labels or ()) - set(example.labels))
        if unknown:
            raise InputError(f"example {example_id!r} has no label {unknown[0]!r}", field="labels")
        explains = None
        if example.contextual:
            if context_answer not in CONTEXT_CHOICES:
                raise InputError("say whether the context explains the emotion without naming it (yes or no)",
                                 field="context")  # fmt: skip
            explains = context_answer == "yes"
        annotation = Annotation(
            annotator=self.annotator,
            dataset=self.spec.dataset,
            config=self.spec.config,
            seed=self.spec.seed,
            example_id=example.id,
            judgements={label: label in set(right_labels or ()) for label in example.labels},
            context_explains=explains,
            position=self.sample.index(example),
            utterance=example.utterance,
            context=example.context,
            character=example.character,
        )
        self.store.save(annotation)
        return annotation

    def key(self) -> dict[str, Any]:
        """What the browser session keeps to rebuild this session on the next event."""
        return {"source": self.source, "config": self.spec.config, "seed": self.spec.seed, "size": self.spec.size,
                "annotator": self.annotator}  # fmt: skip


def _whole(value: Any, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number, got {value!r}", field=name) from None
    if not number.is_integer():
        raise InputError(f"{name} must be a whole number, got {value!r}", field=name)
    return int(number)


def report_markdown(folder: str | os.PathLike, source: str, config: str, first: str, second: str | None) -> str:
    """The report for one or two annotators over one dataset and config, as Markdown.

    Raises:
        InputError: Without a first annotator, or when neither has annotations of this dataset and config.
    """
    store = AnnotationStore(folder)
    dataset = dataset_identity(source)
    names = [n.strip() for n in (first, second) if n and n.strip()]
    if not names:
        raise InputError("give one annotator, or two for Cohen's kappa", field="annotator")
    records = {
        name: [a for a in store.load(name) if (a.dataset, a.config) == (dataset, config)]
        for name in dict.fromkeys(names)
    }
    if not any(records.values()):
        raise InputError(f"no annotations of {source} ({config}) by {' or '.join(records)} yet")
    return evaluation_report(records).to_markdown()


def _example_markdown(session: EvaluationSession, example: EvalExample | None) -> str:
    if example is None:
        return "All examples of this sample are judged. Open the report below."
    index = session.sample.index(example) + 1
    parts = [f"**Example {index} of {len(session.sample)}** (`{example.id}`)", ""]
    if example.contextual:
        parts += [f"**Context:** {html.escape(example.context or '')}", ""]
    speaker = f"**{html.escape(example.character)}:** " if example.character else ""
    parts += [f"> {speaker}{html.escape(example.utterance)}", "", f"**Labels:** {', '.join(example.labels)}"]
    return "\n".join(parts)


def build_evaluate_tab(gr: Any, annotations_dir: str | os.PathLike, dataset: str | None = None) -> None:
    """Lay out the Evaluate tab inside the current ``gr.Blocks`` (``gr`` is the imported gradio module).

    Args:
        gr: The gradio module.
        annotations_dir: Folder of the annotators' JSONL files.
        dataset: The dataset to offer first (a folder or a Hub id), if any.
    """
    gr.Markdown(
        "Judge generated examples as the paper's human evaluation did: tick the labels that are **right** "
        "(unticked ones count as wrong) and, for contextual examples, say whether the context explains the "
        f"emotion without naming it. Judgements are saved to `{annotations_dir}` as you go; the same name and "
        "sample resume where you stopped."
    )
    with gr.Row():
        source = gr.Textbox(label="Dataset (generator output folder, repository folder or Hub id)",
                            value=dataset or "", scale=3, elem_id="eval-dataset")  # fmt: skip
        config = gr.Radio(list(CONFIGS), value=CONFIGS[0], label="Config", elem_id="eval-config")
    with gr.Row():
        seed = gr.Number(label="Seed", value=0, precision=0, elem_id="eval-seed")
        size = gr.Number(label="Sample size", value=50, precision=0, minimum=1, elem_id="eval-size")
        annotator = gr.Textbox(label="Your name (annotator)", elem_id="eval-annotator")
        start = gr.Button("Start or resume", variant="primary", elem_id="eval-start")
    status = gr.Markdown("", elem_id="eval-status")
    state = gr.State(None)
    with gr.Group():
        example_md = gr.Markdown("", elem_id="eval-example")
        example_id = gr.Textbox(label="Example id", interactive=False, elem_id="eval-example-id")
        right = gr.CheckboxGroup([], label="Labels that are right (unticked = wrong)", elem_id="eval-right")
        explains = gr.Radio(list(CONTEXT_CHOICES), label="Does the context explain the emotion without naming it?",
                            visible=False, elem_id="eval-context")  # fmt: skip
        save = gr.Button("Save and next", elem_id="eval-save")
    with gr.Accordion("Report: label precision and Cohen's kappa", open=False):
        with gr.Row():
            first = gr.Textbox(label="Annotator", elem_id="report-first")
            second = gr.Textbox(label="Second annotator (for kappa)", elem_id="report-second")
            report_button = gr.Button("Report", elem_id="report")
        report = gr.Markdown("", elem_id="report-output")

    def view(session: EvaluationSession | None, message: str):
        if session is None:
            return (None, message, "", "", gr.update(choices=[], value=[]), gr.update(visible=False, value=None))
        example = session.current
        judged, total = session.progress()
        line = message or f"{session.annotator}: {judged} of {total} judged."
        labels = list(example.labels) if example else []
        return (
            session.key(),
            line,
            _example_markdown(session, example),
            example.id if example else "",
            gr.update(choices=labels, value=[]),
            gr.update(visible=bool(example and example.contextual), value=None),
        )

    def on_start(src: str, cfg: str, seed_value: float, size_value: float, name: str):
        try:
            session = EvaluationSession.start(annotations_dir, src, cfg, seed_value, size_value, name)
        except EmoPillarsError as err:
            return view(None, f"**{err}**")
        judged, total = session.progress()
        return view(session, f"{session.annotator}: {judged} of {total} judged" + (", resuming." if judged else "."))

    def on_save(key: dict | None, shown_id: str, right_labels: list[str], answer: str | None):
        if not key:
            return view(None, "**Start a session first.**")
        try:
            session = EvaluationSession.start(annotations_dir, **key)
            if shown_id:
                session.record(shown_id, right_labels, answer)
        except EmoPillarsError as err:  # keep the example on screen, say what is wrong in one line
            return (key, f"**{err}**", gr.update(), gr.update(), gr.update(), gr.update())
        return view(session, "")

    def on_report(src: str, cfg: str, name_a: str, name_b: str):
        try:
            return report_markdown(annotations_dir, src, cfg, name_a, name_b)
        except EmoPillarsError as err:
            return f"**{err}**"

    outputs = [state, status, example_md, example_id, right, explains]
    start.click(on_start, [source, config, seed, size, annotator], outputs, api_name="start")
    save.click(on_save, [state, example_id, right, explains], outputs, api_name="save")
    report_button.click(on_report, [source, config, first, second], report, api_name="report")
