"""The generation steps: each turns a row into a prompt and a reply (or scores) into rows, and declares its columns.

A step is data for the pipeline: its ``name``, the columns it ``reads`` and ``writes``, its ``kind`` (``"generate"``:
the backend writes a reply; ``"score"``: the backend returns the log-probability of each of the step's
``continuations``; ``"local"``: no model call), :meth:`Step.format_input` (row -> :class:`ChatPrompt`, with the
reply's :class:`~emo_pillars.generation.constraints.Constraint` when ``config.constrained``) and
:meth:`Step.format_output` (reply and row -> rows, or a :class:`Drop` with its reason). A step never touches the
model and never writes files; the pipeline (:mod:`~emo_pillars.generation.pipeline`) batches, caches and writes, and
knows no step by name. Adding a stage, a quality filter for example, is one subclass plus one entry in the list
:func:`default_steps` returns.

===================  =============  ==========================================  ====================================
step                 kind           reads                                       writes
===================  =============  ==========================================  ====================================
plots                local          ``plot``                                    ``plot`` (cut to a token budget)
characters           generate       ``plot``                                    ``character`` (one row per name)
utterances           generate       ``plot``, ``character``                     ``id``, ``utterance``,
                                                                                ``primary_emotion`` (one row each)
labels               generate or    ``utterance``, ``primary_emotion``          ``emotion_scores``, ``labels``,
                     score                                                      ``raw_label_reply`` (rows go to
                                                                                ``context_less.jsonl`` when the
                                                                                repetition filter is off)
repetition           local          ``utterance``                               (drops an utterance in a loop); rows
                                                                                go to ``context_less.jsonl``
contextual_subset    local          ``id``, ``primary_emotion``                 (keeps a seeded share of rows)
context              generate       ``plot``, ``character``, ``utterance``,     ``context``
                                    ``labels``
context_cleaning     generate       ``character``, ``context``, ``labels``      ``context_clean``
rewriting            generate       ``character``, ``utterance``, ``labels``    ``utterance_rewritten``
contextual_variants  local          ``context``, ``context_clean``,             ``variant`` (an original and a
                                    ``utterance_rewritten``                     rewritten row); rows go to
                                                                                ``contextual.jsonl``
===================  =============  ==========================================  ====================================

Distilabel's Task (``format_input`` / ``format_output``) is the model for this split; here a step also names the
columns it owns, its call kind and its reply constraint, and may drop a row with a counted reason.

Examples:
    >>> from emo_pillars.generation.stages import LabelsStage
    >>> from emo_pillars.generation.backends import Completion
    >>> stage = LabelsStage()
    >>> row = {"utterance": "We made it home!", "primary_emotion": "relief"}
    >>> prompt = stage.format_input(row)
    >>> prompt.prefill, prompt.constraint.name
    ('1. relief', 'labels')
    >>> stage.format_output(Completion(" 0.9\\n2. joy 0.6"), row).rows[0]["labels"]
    ['relief', 'joy']
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..errors import ConfigError
from ..taxonomy import EMOTIONS, NEUTRAL
from .backends.base import ChatPrompt, Completion
from .config import GenerationConfig
from .constraints import characters_constraint, labels_constraint, text_constraint, utterances_constraint
from .parsing import (
    parse_characters_result,
    parse_emotion_scores_result,
    parse_text_result,
    parse_utterances_result,
)

if TYPE_CHECKING:
    from .backends.base import LLMBackend

__all__ = [
    "Keep",
    "Drop",
    "Step",
    "PromptStep",
    "PlotsStage",
    "CharactersStage",
    "UtterancesStage",
    "LabelsStage",
    "ContextualSubsetStage",
    "ContextStage",
    "ContextCleaningStage",
    "RewritingStage",
    "ContextualVariantsStage",
    "RepetitionFilterStep",
    "most_repeated_run",
    "STAGE_CLASSES",
    "SCORE_PREFILL",
    "SCORE_CONTINUATIONS",
    "CONTENT_FREE_UTTERANCE",
    "CONTEXT_LESS",
    "CONTEXTUAL",
    "default_steps",
    "assigned_emotions",
    "load_template",
]

#: The 27 classes an emotional utterance can be written for (of the default taxonomy).
NON_NEUTRAL: tuple[str, ...] = tuple(e for e in EMOTIONS if e != NEUTRAL)
#: Label mode "score": the answer's prefill, and the continuations scored after it (one per label).
SCORE_PREFILL = "1."
SCORE_CONTINUATIONS: tuple[str, ...] = tuple(f" {emotion}" for emotion in EMOTIONS)
#: The utterance of the content-free labels prompt that calibrates label scores.
CONTENT_FREE_UTTERANCE = "N/A"
#: Output names (files ``<name>.jsonl`` in the output folder).
CONTEXT_LESS = "context_less"
CONTEXTUAL = "contextual"


def load_template(name: str, path: str | Path | None = None) -> str:
    """Read a prompt template: ``path`` when given, else the packaged ``prompts/<name>.txt``."""
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read prompt template {path}: {err.strerror or err}") from None
    return (resources.files("emo_pillars.generation") / "prompts" / f"{name}.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Keep:
    """What :meth:`Step.format_output` keeps from one row.

    Args:
        rows: The rows passed on to the next step (one row may become several).
        parse: Why the reply did not parse into the requested structure (``None``: it did), e.g. ``"truncated"``.
        counts: Extra tallies for ``run.json`` (summed over the run, shown by :meth:`Step.summarize`).
    """

    rows: list[dict[str, Any]]
    parse: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    """A row :meth:`Step.format_output` drops, with the reason counted in ``run.json``.

    Args:
        reason: Why the row is dropped (``dropped_by_reason`` in ``run.json``).
        parse: Why the reply did not parse (``None`` when it parsed, e.g. every score below the threshold).
        counts: Extra tallies, as for :class:`Keep`.
    """

    reason: str
    parse: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


class Step:
    """Base class of the pipeline's steps (see the module docstring for the table of steps).

    Args:
        config: The run's :class:`GenerationConfig` (the paper's defaults when ``None``).

    Examples:
        A toy quality filter that drops short utterances, placed right before the labels step::

            class MinWords(Step):
                name, kind, reads = "min_words", "local", ("utterance",)

                def format_output(self, reply, row):
                    return [row] if len(row["utterance"].split()) >= 4 else Drop("too_short")

            steps = default_steps(config)
            steps.insert([s.name for s in steps].index("labels"), MinWords(config))
            EmoPillarsGenerator(backend, config, steps=steps)
    """

    name: ClassVar[str]
    #: ``"generate"``, ``"score"`` or ``"local"`` (instances may override, as the labels step does).
    kind: Literal["generate", "score", "local"] = "local"
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    #: The output (``<output>.jsonl``) this step's rows are appended to, or ``None``.
    output: ClassVar[str | None] = None
    #: Columns left out of the output file (the plot text is in the corpus; ``_``-prefixed columns are private).
    private: ClassVar[tuple[str, ...]] = ("plot",)
    #: What to try when this step keeps nothing (the run's closing diagnosis).
    hint: ClassVar[str] = ""
    #: Token budget of one reply (generate steps).
    max_new_tokens: int = 0
    #: Scored continuations (score steps).
    continuations: tuple[str, ...] = ()

    def __init__(self, config: GenerationConfig | None = None):
        self.config = config or GenerationConfig()

    @property
    def prompt_hash(self) -> str | None:
        """sha256 of whatever decides this step's prompts (``None`` for local steps)."""
        return None

    def bind(self, backend: LLMBackend) -> None:  # noqa: B027 - optional hook
        """Called once the backend is loaded; steps may read ``count_tokens`` and ``context_window`` (never call
        the model)."""

    def setup_prompts(self) -> list[ChatPrompt]:
        """Prompts this step needs answered once per run before any row (cached like any call)."""
        return []

    def setup(self, replies: Sequence[Completion]) -> None:  # noqa: B027 - optional hook
        """Receive the replies to :meth:`setup_prompts`."""

    def format_input(self, row: Mapping[str, Any]) -> ChatPrompt:
        """The prompt for one row (generate and score steps)."""
        raise NotImplementedError(f"step {self.name!r} makes no model call")

    def format_output(self, reply: Completion | None, row: dict[str, Any]) -> Keep | Drop | list[dict[str, Any]]:
        """The rows made from one row and its reply (``None`` for local steps); never raises on a bad reply."""
        raise NotImplementedError

    def has_shape(self, prompt: ChatPrompt, reply: Completion) -> bool:
        """Whether a reply has the requested shape (counted as ``structured`` when it also parses cleanly): the
        prompt's constraint matches it, whether or not the backend enforced it. No constraint: any shape."""
        return prompt.constraint is None or prompt.constraint.matches(reply.text)

    def export(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The columns of ``row`` written to this step's :attr:`output`."""
        return {k: v for k, v in row.items() if k not in self.private and not k.startswith("_")}

    def summarize(self, counts: Counter) -> dict[str, Any]:
        """``run.json``'s view of the tallies this step returned in :class:`Keep` / :class:`Drop`."""
        return dict(sorted(counts.items()))


class PromptStep(Step):
    """A step whose prompt comes from a template file (``prompts/<name>.txt``, ``$placeholders``).

    Subclasses list the per-row placeholders in ``row_fields`` and give constants in :meth:`params`.
    """

    kind = "generate"
    row_fields: ClassVar[tuple[str, ...]] = ()
    template_name: ClassVar[str | None] = None

    def __init__(self, config: GenerationConfig | None = None):
        super().__init__(config)
        stage = self.config.stage(self.name)
        self.max_new_tokens = stage.max_new_tokens
        self.template_text = load_template(self.template_name or self.name, stage.template)
        self.template = Template(self.template_text)
        self.taxonomy = self.config.taxonomy
        self.constants = {"definitions": self.taxonomy.format_definitions(), **self.params()}
        missing = [
            key for key in self.template.get_identifiers() if key not in self.constants and key not in self.row_fields
        ]
        if missing:
            raise ConfigError(f"template of stage {self.name!r} uses unknown placeholders: {', '.join(missing)}")

    def params(self) -> dict[str, Any]:
        """Constants substituted into every prompt."""
        return {}

    @property
    def prompt_hash(self) -> str:
        payload = self.template_text + repr(sorted((k, str(v)) for k, v in self.constants.items()))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def fields(self, row: Mapping[str, Any]) -> dict[str, str]:
        """The placeholder values for one row."""
        values = {key: str(value) for key, value in self.constants.items()}
        for key in self.row_fields:
            if row.get(key) is not None:
                values[key] = str(row[key])
        if "emotions" in self.row_fields and "labels" in row:
            values["emotions"] = ", ".join(row["labels"]) or self.taxonomy.neutral or "none"
        return values

    def prefill(self, row: Mapping[str, Any]) -> str:
        """The start of the assistant's answer (none by default)."""
        return ""

    def constraint(self, row: Mapping[str, Any]):
        """The reply's shape when ``config.constrained`` (``None``: free)."""
        return None

    def format_input(self, row: Mapping[str, Any]) -> ChatPrompt:
        """A single user turn (some chat templates refuse system turns), the prefill and the constraint."""
        prompt = ChatPrompt.from_user(self.template.safe_substitute(self.fields(row)), prefill=self.prefill(row))
        if self.config.constrained:
            constraint = self.constraint(row)
            if constraint is not None:
                prompt = ChatPrompt(prompt.messages, prompt.prefill, constraint)
        return prompt

    def prompt(self, row: Mapping[str, Any]) -> ChatPrompt:
        """Alias of :meth:`format_input` (the benchmarks call it)."""
        return self.format_input(row)


# --------------------------------------------------------------------------------------------------------------------
class PlotsStage(Step):
    """Cut synopses to a token budget, so a huge synopsis never builds a huge prompt. Reads and writes ``plot``.

    The budget is ``config.max_plot_tokens``, lowered to the backend's context window minus 1,024 tokens (template
    and definitions) minus the largest reply budget when the window is known. A synopsis is first cut to 8
    characters per budget token (no tokenizer runs on megabytes), then shortened until the backend counts at most
    the budget, at a word boundary. Cut synopses are counted (``truncated``) and reported once as a warning.
    """

    name = "plots"
    reads = writes = ("plot",)
    _RESERVE = 1024

    def __init__(self, config: GenerationConfig | None = None):
        super().__init__(config)
        self.budget = self.config.max_plot_tokens
        self._count = None

    def bind(self, backend: LLMBackend) -> None:
        self._count = backend.count_tokens
        window = backend.context_window
        if window:
            reply = max(self.config.stage(n).max_new_tokens for n in ("characters", "utterances", "context"))
            self.budget = max(16, min(self.config.max_plot_tokens, window - self._RESERVE - reply))

    def _cut(self, text: str) -> str:
        count = self._count or (lambda t: -(-len(t.split()) * 4 // 3))
        text = text[: self.budget * 8]
        n = count(text)
        while n > self.budget and text:
            keep = max(1, int(len(text) * self.budget / n * 0.95))
            head = text[:keep]
            cut = head.rsplit(None, 1)[0] if " " in head.strip() else head
            text = cut.rstrip()
            n = count(text)
        return text

    def format_output(self, reply: Completion | None, row: dict[str, Any]) -> Keep:
        plot = row["plot"]
        if len(plot) <= self.budget // 4:  # at most 4 UTF-8 bytes a character, at most one token a byte
            return Keep([row])
        cut = self._cut(plot)
        if cut == plot:
            return Keep([row])
        return Keep([{**row, "plot": cut}], counts={"truncated": 1})


class CharactersStage(PromptStep):
    """Stage 1: list the characters of a plot, a numbered list with one name per line (prefill ``"1."``). Reads
    ``plot``; writes ``character``.

    One row per name (at most ``config.max_characters``); a plot with none is dropped (``no_characters``).
    """

    name = "characters"
    reads, writes = ("plot",), ("character",)
    row_fields = ("plot",)
    hint = "try a larger teacher, or check the synopses"

    def prefill(self, row):
        return "1."  # the prompt asks for a numbered list: small teachers start one far more reliably

    def constraint(self, row):
        return characters_constraint(numbered=True)

    def format_output(self, reply, row):
        result = parse_characters_result(self.prefill(row) + reply.text)
        names = (result.value or [])[: self.config.max_characters]
        if not result.ok or not names:
            return Drop("no_characters", parse=result.reason or "no_valid_items")
        rows = [{**row, "character": name, "_character_index": i} for i, name in enumerate(names)]
        return Keep(rows, parse=result.reason)


def assigned_emotions(seed: int, plot_id: str, character: str, n: int, pool: Sequence[str] = NON_NEUTRAL) -> list[str]:
    """The ``n`` distinct non-neutral emotions a character's utterances are written for (constrained mode).

    A seeded draw from ``pool`` (the taxonomy's emotions; by default the 27 non-neutral classes), keyed by
    ``(seed, plot_id, character)``: the same inputs give the same emotions on any machine and in any order of work.

    Examples:
        >>> assigned_emotions(0, "p1", "Della", 3) == assigned_emotions(0, "p1", "Della", 3)
        True
        >>> len(set(assigned_emotions(0, "p1", "Della", 27)))
        27
    """
    return random.Random(f"{seed}:{plot_id}:{character}").sample(tuple(pool), n)


class UtterancesStage(PromptStep):
    """Stage 2: emotional and neutral thoughts of one character. Reads ``plot``, ``character``; writes ``id``,
    ``utterance`` and ``primary_emotion``, one row per thought.

    Constrained (the default), the step assigns the ``n_emotional`` emotions (:func:`assigned_emotions`), names them
    in the prompt (``prompts/utterances_assigned.txt``) and the constraint fixes each line to
    ``emotion: "thought"`` with those emotions in order, then ``n_neutral`` neutral lines. Free
    (``constrained=False``, the paper), the teacher chooses the emotions (``prompts/utterances.txt``). Either way
    ``primary_emotion`` is the emotion the line was written for; a line without one from the taxonomy is dropped
    (counted as ``no_emotion``).
    """

    name = "utterances"
    reads, writes = ("plot", "character"), ("id", "utterance", "primary_emotion")
    row_fields = ("plot", "character", "assigned", "neutral_request", "neutral_rule", "never_neutral")
    hint = "try a larger teacher"

    @property
    def template_name(self):  # type: ignore[override]
        return "utterances_assigned" if self.config.constrained else "utterances"

    def params(self):
        cfg = self.config
        return {"n_emotional": cfg.emotions_per_character, "n_neutral": cfg.neutral_per_character}

    def _assigned(self, row) -> list[str]:
        cfg = self.config
        pool = self.taxonomy.emotional
        return assigned_emotions(cfg.seed, row["plot_id"], row["character"], cfg.emotions_per_character, pool)

    def fields(self, row):
        values = super().fields(row)
        if self.config.constrained:
            values["assigned"] = ", ".join(self._assigned(row))
        n, neutral = self.config.neutral_per_character, self.taxonomy.neutral
        character = values.get("character", "")
        values["neutral_request"] = (
            f" Then write {n} more thoughts of {character} that show no emotion at all." if n else ""
        )
        values["neutral_rule"] = f"\nUse the label {neutral} for the last {n} lines." if n else ""
        values["never_neutral"] = f" (never {neutral})" if neutral else ""
        return values

    def constraint(self, row):
        # Thoughts of at most 100 characters after the first word: a bound the grammar engine keeps exact
        # (backends.grammar.EXACT_BOUND), so ten lines always fit the paper's 500-token budget. Measured with
        # SmolLM2: a small teacher fills every thought up to its cap, and an unenforced cap of 150 ran 3 of 8
        # replies out of budget.
        neutral = self.taxonomy.neutral or NEUTRAL
        return utterances_constraint(self._assigned(row), self.config.neutral_per_character, 100, neutral)

    def has_shape(self, prompt, reply):
        # format_output checks the structure itself (line count, assigned emotions in order); a regex per
        # character would be compiled once per character, ~3 ms each at the paper's 30K characters
        return True

    def format_output(self, reply, row):
        cfg = self.config
        result = parse_utterances_result(reply.text, exact_first=True, taxonomy=self.taxonomy)
        wanted = cfg.emotions_per_character + cfg.neutral_per_character
        pairs = (result.value or [])[:wanted] if result.ok else []
        base = {k: v for k, v in row.items() if k != "_character_index"}
        rows, seen, counts = [], set(), Counter()
        for ui, (emotion, text) in enumerate(pairs):
            if emotion not in self.taxonomy:
                counts["no_emotion"] += 1
                continue
            if text in seen:  # the requested shape, but the teacher repeated a thought: keep it once
                counts["duplicate_thought"] += 1
                continue
            seen.add(text)
            rid = f"{row['plot_id']}-c{row['_character_index']:02d}-u{ui:02d}"
            rows.append({"id": rid, **base, "utterance": text, "primary_emotion": emotion})
        no_emotion = counts["no_emotion"]
        counts = dict(counts)
        if not rows:
            return Drop("no_utterances", parse=result.reason or "no_valid_items", counts=counts)
        parse = result.reason
        assigned = self._assigned(row) if cfg.constrained else None
        emotions = [e for e, _ in pairs]
        neutral_lines = [self.taxonomy.neutral] * cfg.neutral_per_character
        if parse is None and (
            len(pairs) != wanted or no_emotion or (assigned is not None and emotions != assigned + neutral_lines)
        ):
            parse = "partial"  # readable, but not the requested structure
        return Keep(rows, parse=parse, counts=counts)


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def most_repeated_run(text: str, n: int = 3) -> tuple[str, int]:
    """The run of ``n`` words that occurs most often in ``text`` (case and punctuation ignored), and its count.

    Examples:
        >>> most_repeated_run("I am a hero, I am a hero, I am a hero!")
        ('i am a', 3)
        >>> most_repeated_run("We made it home at last.")[1]
        1
    """
    words = _WORD.findall(text.lower())
    runs = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return max(runs.items(), key=lambda kv: (kv[1], -len(kv[0])), default=("", 0))


class RepetitionFilterStep(Step):
    """Drop an utterance that repeats itself: a run of ``config.repetition_ngram`` words (3) occurring more than
    ``config.repetition_max`` times (2), a small teacher's loop ("I am a hero, I am a hero, I am a hero, ...").
    Reads ``utterance``; drops are counted as ``repetition`` in ``run.json``. Off with
    ``drop_repetitions=False``, or leave it out of the step list like any step.

    It runs right after the labels step and writes the context-less examples in its place
    (:func:`default_steps`): dropping a row before the labels would change the batches the labels are scored or
    generated in, and with them the last digits of other rows' scores (measured on the demo run: 0.595 became
    0.5949), so the default output would no longer equal an unfiltered run's apart from the dropped rows. The
    price is one label call per dropped utterance.

    Measured on the demo corpus with the packaged SmolLM2 (before this step): 14 of 24 context-less utterances of
    one run repeated a three-word run three times or more; a natural sentence of the paper's length (one or two
    sentences) rarely says the same three words three times.
    """

    name = "repetition"
    reads = ("utterance",)
    output = CONTEXT_LESS

    def format_output(self, reply, row):
        cfg = self.config
        _, count = most_repeated_run(row["utterance"], cfg.repetition_ngram)
        return Drop("repetition") if count > cfg.repetition_max else Keep([row])


def _softmax(logprobs: Sequence[float]) -> list[float]:
    top = max(logprobs)
    weights = [math.exp(x - top) for x in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


class LabelsStage(PromptStep):
    """Stage 3: soft labels. Reads ``utterance`` and ``primary_emotion``; writes ``emotion_scores``, ``labels``,
    ``raw_label_reply`` and ``label_parse_error``. Its rows are the context-less examples.

    ``label_mode="generate"`` (the paper): the answer is prefilled with ``"1. <primary_emotion>"``, so the teacher
    scores the emotion the utterance was written for first; constrained, the reply continues with that line's score
    and ``top_k - 1`` more ``N. emotion score`` lines from the taxonomy.

    ``label_mode="score"``: one forward pass scores the 28 emotion names as the first item of the answer (prefill
    ``"1."``). Calibration (``calibrate=True``) follows contextual calibration (Zhao et al., 2021): the same prompt
    with the content-free utterance ``"N/A"`` is scored once per run, each emotion's probability is divided by its
    content-free probability and the 28 are renormalised, so an emotion the model names first whatever the
    utterance (its prior) no longer wins. With q the (calibrated) probabilities, an emotion's score is q / max(q);
    the generated-for emotion leads the list, as the paper's prefill makes it, followed by the ``top_k - 1`` best
    others. Emotions scoring at least ``label_threshold`` become labels; a row with none is dropped.
    ``run.json`` records the top-1 distribution and the share of top-1 == generated-for emotion, before and after
    calibration. Scores stay numbers from the backend to the row.
    """

    name = "labels"
    reads = ("utterance", "primary_emotion")
    writes = ("emotion_scores", "labels", "raw_label_reply", "label_parse_error")
    output = CONTEXT_LESS
    row_fields = ("utterance",)
    hint = "try --label-mode score or a larger teacher"

    def __init__(self, config: GenerationConfig | None = None):
        super().__init__(config)
        self.kind = self.config.label_mode
        self.continuations = tuple(f" {name}" for name in self.taxonomy.labels) if self.kind == "score" else ()
        self.prior: list[float] | None = None

    def params(self):
        return {"top_k": self.config.labels_per_reply}

    def prefill(self, row):
        if self.kind == "score":
            return SCORE_PREFILL
        emotion = row.get("primary_emotion")
        return f"1. {emotion}" if emotion else ""

    def constraint(self, row):
        if self.kind == "score":
            return None
        return labels_constraint(self.config.labels_per_reply, row.get("primary_emotion"), self.taxonomy.labels)

    def setup_prompts(self):
        if self.kind == "score" and self.config.calibrate:
            return [self.format_input({"utterance": CONTENT_FREE_UTTERANCE})]
        return []

    def setup(self, replies):
        if replies:
            scores = replies[0].scores
            if replies[0].finish_reason == "error" or not scores or not all(math.isfinite(x) for x in scores):
                raise ConfigError("the backend could not score the content-free labels prompt (calibration)")
            self.prior = [float(x) for x in scores]

    def _row(self, row, scores, raw, parse):
        labels = [e for e, s in scores if s >= self.config.label_threshold]
        return {
            **row,
            "emotion_scores": [[e, s] for e, s in scores],
            "labels": labels,
            "raw_label_reply": raw,
            "label_parse_error": parse,
        }

    def format_output(self, reply, row):
        if self.kind == "score":
            return self._from_scores(reply, row)
        raw = self.prefill(row) + reply.text
        top_k = self.config.labels_per_reply
        result = parse_emotion_scores_result(raw, top_k=top_k, taxonomy=self.taxonomy)
        scores = [(e, round(float(s), 4)) for e, s in (result.value or [])] if result.ok else []
        if not scores:
            return Drop(f"unparsable_{result.reason or 'reply'}", parse=result.reason or "no_scores")
        parse = result.reason
        counts = {}
        if result.exact and len(scores) < top_k:
            counts["duplicate_emotion"] = 1  # the requested shape, but an emotion named twice: kept once
        elif parse is None and len(scores) != top_k:
            parse = "partial"  # readable, but not the requested number of lines
        out = self._row(row, scores, raw, parse)
        if not out["labels"]:
            return Drop("below_threshold", parse=parse, counts=counts)
        return Keep([out], parse=parse, counts={**counts, f"top1:{out['labels'][0]}": 1})

    def _ranked(self, logprobs: Sequence[float], lead: str | None) -> list[tuple[str, float]]:
        q = _softmax(logprobs)
        best = max(q)
        labels = self.taxonomy.labels
        scores = {e: round(p / best, 4) for e, p in zip(labels, q)}
        order = sorted(labels, key=lambda e: -scores[e])
        if lead in scores:
            order = [lead] + [e for e in order if e != lead]
        return [(e, scores[e]) for e in order[: self.config.labels_per_reply]]

    def _from_scores(self, reply, row):
        logprobs = [float(x) for x in reply.scores or []]
        labels = self.taxonomy.labels
        if len(logprobs) != len(labels) or not all(math.isfinite(x) for x in logprobs):
            return Drop("unscorable", parse="no_scores")
        lead = row.get("primary_emotion")
        raw_top = labels[max(range(len(labels)), key=logprobs.__getitem__)]
        counts = {f"top1_raw:{raw_top}": 1, "top1_raw_is_generated_for": int(raw_top == lead)}
        if self.prior is not None:
            logprobs = [x - p for x, p in zip(logprobs, self.prior)]
            top = labels[max(range(len(labels)), key=logprobs.__getitem__)]
            counts.update({f"top1_calibrated:{top}": 1, "top1_calibrated_is_generated_for": int(top == lead)})
        out = self._row(row, self._ranked(logprobs, lead), None, None)
        if not out["labels"]:
            return Drop("below_threshold", counts=counts)
        return Keep([out], counts=counts)

    def summarize(self, counts):
        rows = sum(v for k, v in counts.items() if k.startswith(("top1:", "top1_raw:")))
        out: dict[str, Any] = {}
        for view in ("top1", "top1_raw", "top1_calibrated"):
            dist = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith(view + ":")}
            if dist:
                out[f"{view}_distribution"] = dict(sorted(dist.items(), key=lambda kv: (-kv[1], kv[0])))
        for view in ("top1_raw", "top1_calibrated"):
            key = f"{view}_is_generated_for"
            if key in counts and rows:
                out[f"{key}_rate"] = round(counts[key] / rows, 4)
        return out


def _in_fraction(example_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


class ContextualSubsetStage(Step):
    """Pick the examples that get a context: a share ``contextual_fraction`` chosen by a stable hash of the id (so
    the choice does not depend on batch, chunk or run order), non-neutral unless ``contextual_neutral``."""

    name = "contextual_subset"
    reads = ("id", "primary_emotion")

    def format_output(self, reply, row):
        cfg = self.config
        if not cfg.contextual_neutral and row["primary_emotion"] == cfg.taxonomy.neutral:
            return Drop("neutral")
        if not _in_fraction(row["id"], cfg.contextual_fraction, cfg.seed):
            return Drop("not_selected")
        return Keep([row])


class _TextStage(PromptStep):
    single_line: ClassVar[bool] = False
    #: The column this step's text falls back to when the reply gives nothing (``None``: drop the row).
    fallback: ClassVar[str | None] = None

    def constraint(self, row):
        return text_constraint()  # the token budget caps the length

    def format_output(self, reply, row):
        result = parse_text_result(reply.text, single_line=self.single_line)
        column = self.writes[0]
        if result.ok:
            return Keep([{**row, column: result.value}], parse=result.reason)
        reason = result.reason or "unparsable"
        if self.fallback is None:
            return Drop(reason, parse=reason)
        # keep the example with the step's input, and count it
        return Keep([{**row, column: row[self.fallback]}], parse=reason, counts={f"fallback_{reason}": 1})


class ContextStage(_TextStage):
    """Stage 4: the situation behind a thought. Reads ``plot``, ``character``, ``utterance``, ``labels``; writes
    ``context`` (a row whose reply has no text is dropped)."""

    name = "context"
    reads, writes = ("plot", "character", "utterance", "labels"), ("context",)
    row_fields = ("plot", "character", "utterance", "emotions")
    hint = "try a larger teacher or a larger --max-new-tokens context=N"


class ContextCleaningStage(_TextStage):
    """Stage 5: remove stated emotions from the context. Reads ``character``, ``context``, ``labels``; writes
    ``context_clean`` (falls back to ``context``)."""

    name = "context_cleaning"
    reads, writes = ("character", "context", "labels"), ("context_clean",)
    row_fields = ("character", "context", "emotions")
    fallback = "context"


class RewritingStage(_TextStage):
    """Stage 6: make the thought ambiguous without its context. Reads ``character``, ``utterance``, ``labels``;
    writes ``utterance_rewritten`` (falls back to ``utterance``)."""

    name = "rewriting"
    reads, writes = ("character", "utterance", "labels"), ("utterance_rewritten",)
    row_fields = ("character", "utterance", "emotions")
    single_line = True
    fallback = "utterance"


class ContextualVariantsStage(Step):
    """The contextual examples: for each example with a context, an ``original`` row (utterance + context) and,
    unless both follow-up stages are off, a ``rewritten`` row (rewritten utterance + cleaned context). Its rows are
    the contextual examples."""

    name = "contextual_variants"
    reads = ("id", "utterance", "context", "context_clean", "utterance_rewritten")
    writes = ("variant", "source_id", "source_utterance", "context_raw")
    output = CONTEXTUAL

    def format_output(self, reply, row):
        cfg = self.config
        row = {
            **row,
            "context_clean": row.get("context_clean", row["context"]),
            "utterance_rewritten": row.get("utterance_rewritten", row["utterance"]),
        }
        shared = {
            **self.export(row),
            "context_raw": row["context"],
            "source_utterance": row["utterance"],
            "source_id": row["id"],
        }
        rows = [{**shared, "id": f"{row['id']}-orig", "variant": "original", "context": row["context"]}]
        if cfg.stage("context_cleaning").enabled or cfg.stage("rewriting").enabled:
            rows.append(
                {
                    **shared,
                    "id": f"{row['id']}-rewr",
                    "variant": "rewritten",
                    "utterance": row["utterance_rewritten"],
                    "context": row["context_clean"],
                }
            )
        return Keep(rows)

    def export(self, row):
        return {k: v for k, v in row.items() if k != "plot" and not k.startswith("_")}


STAGE_CLASSES: dict[str, type[PromptStep]] = {
    cls.name: cls
    for cls in (CharactersStage, UtterancesStage, LabelsStage, ContextStage, ContextCleaningStage, RewritingStage)
}


def default_steps(config: GenerationConfig) -> list[Step]:
    """The steps a configuration runs, in order: plots, characters, utterances, labels, the repetition filter
    (unless ``drop_repetitions=False``; it then writes the context-less examples) and, with ``contextual``,
    the contextual subset, context, cleaning and rewriting (each unless switched off) and the variants."""
    labels = LabelsStage(config)
    steps: list[Step] = [PlotsStage(config), CharactersStage(config), UtterancesStage(config), labels]
    if config.drop_repetitions:
        labels.output = None  # the filter writes the context-less examples, once it has dropped the loops
        steps.append(RepetitionFilterStep(config))
    if config.contextual:
        steps += [ContextualSubsetStage(config), ContextStage(config)]
        steps += [cls(config) for cls in (ContextCleaningStage, RewritingStage) if config.stage(cls.name).enabled]
        steps.append(ContextualVariantsStage(config))
    return steps
