"""The six stages: each formats its prompt from a template file and parses the reply into columns.

A stage never touches the model and never writes files; the pipeline calls :meth:`Stage.prompt` for every item,
hands the prompts to a backend, and gives each reply to :meth:`Stage.parse`.

=================  ============================================  ===========================================
stage              reads                                         writes
=================  ============================================  ===========================================
characters         ``plot``                                      ``characters`` (list of names)
utterances         ``plot``, ``character``                       ``utterances`` (list of (emotion, text))
labels             ``utterance``, ``primary_emotion``            ``emotion_scores`` (list of (emotion, score))
context            ``plot``, ``character``, ``utterance``,       ``context``
                   ``labels``
context_cleaning   ``character``, ``context``, ``labels``        ``context_clean``
rewriting          ``character``, ``utterance``, ``labels``      ``utterance_rewritten``
=================  ============================================  ===========================================

Examples:
    >>> from emo_pillars.generation.stages import LabelsStage
    >>> stage = LabelsStage()
    >>> prompt = stage.prompt({"utterance": "We made it home!", "primary_emotion": "relief"})
    >>> prompt.prefill
    '1. relief'
    >>> stage.parse(" 0.9\\n2. joy 0.6", prompt).value
    [('relief', 0.9), ('joy', 0.6)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, ClassVar

from ..errors import ConfigError
from ..taxonomy import EMOTIONS, NEUTRAL, format_definitions
from .backends.base import ChatPrompt
from .parsing import (
    ParseResult,
    parse_characters_result,
    parse_emotion_scores_result,
    parse_text_result,
    parse_utterances_result,
)

__all__ = [
    "Stage",
    "CharactersStage",
    "UtterancesStage",
    "LabelsStage",
    "ContextStage",
    "ContextCleaningStage",
    "RewritingStage",
    "STAGE_CLASSES",
    "load_template",
]

_DEFINITIONS = format_definitions(EMOTIONS)


def load_template(name: str, path: str | Path | None = None) -> str:
    """Read a prompt template: ``path`` when given, else the packaged ``prompts/<name>.txt``."""
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read prompt template {path}: {err.strerror or err}") from None
    return (resources.files("emo_pillars.generation") / "prompts" / f"{name}.txt").read_text(encoding="utf-8")


class Stage:
    """Base class: a named prompt template plus a reply parser.

    Args:
        template_path: A template file to use instead of the packaged one. Placeholders are ``$name``.
        **params: Constants substituted into every prompt (e.g. ``n_emotional``).
    """

    name: ClassVar[str]

    def __init__(self, template_path: str | Path | None = None, **params: Any):
        self.template_text = load_template(self.name, template_path)
        self.template = Template(self.template_text)
        self.params = {"definitions": _DEFINITIONS, **params}
        missing = [
            key for key in self.template.get_identifiers() if key not in self.params and key not in self.item_fields()
        ]
        if missing:
            raise ConfigError(f"template of stage {self.name!r} uses unknown placeholders: {', '.join(missing)}")

    @classmethod
    def item_fields(cls) -> tuple[str, ...]:
        """Per-item fields this stage's prompt may use."""
        return ("plot", "character", "utterance", "emotions", "context", "primary_emotion")

    @property
    def prompt_hash(self) -> str:
        """sha256 of the template text and constants: changes whenever the prompt would."""
        payload = self.template_text + repr(sorted((k, str(v)) for k, v in self.params.items()))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def fields(self, item: Mapping[str, Any]) -> dict[str, str]:
        """The placeholder values for one item."""
        values = {key: str(value) for key, value in self.params.items()}
        for key in ("plot", "character", "utterance", "context", "primary_emotion"):
            if key in item and item[key] is not None:
                values[key] = str(item[key])
        if "labels" in item:
            values["emotions"] = ", ".join(item["labels"]) or NEUTRAL
        return values

    def prefill(self, item: Mapping[str, Any]) -> str:
        """The start of the assistant's answer (none by default)."""
        return ""

    def prompt(self, item: Mapping[str, Any]) -> ChatPrompt:
        """The chat prompt for one item: a single user turn (some chat templates refuse system turns)."""
        return ChatPrompt.from_user(self.template.substitute(self.fields(item)), prefill=self.prefill(item))

    def parse(self, reply: str, prompt: ChatPrompt) -> ParseResult:
        """Turn a reply (without the prefill) into this stage's value; never raises."""
        raise NotImplementedError


class CharactersStage(Stage):
    """Stage 1: list the characters of a plot. Reads ``plot``; writes a list of names.

    The answer is prefilled with ``"1."`` so that even small models start a numbered list.
    """

    name = "characters"

    def prefill(self, item: Mapping[str, Any]) -> str:
        return "1."

    def parse(self, reply: str, prompt: ChatPrompt) -> ParseResult[list[str]]:
        return parse_characters_result(prompt.prefill + reply)


class UtterancesStage(Stage):
    """Stage 2: emotional and neutral thoughts of one character. Reads ``plot``, ``character``.

    Writes (emotion or ``None``, utterance) pairs. Lines labelled ``neutral`` are the neutral utterances. The
    answer is prefilled with ``"1."`` to start the list.

    Args:
        n_emotional: Emotional utterances asked for (the paper: 8).
        n_neutral: Neutral utterances asked for (the paper: 2).
    """

    name = "utterances"

    def __init__(self, template_path: str | Path | None = None, n_emotional: int = 8, n_neutral: int = 2):
        super().__init__(template_path, n_emotional=n_emotional, n_neutral=n_neutral)

    def prefill(self, item: Mapping[str, Any]) -> str:
        return "1."

    def parse(self, reply: str, prompt: ChatPrompt) -> ParseResult[list[tuple[str | None, str]]]:
        return parse_utterances_result(prompt.prefill + reply)


class LabelsStage(Stage):
    """Stage 3: soft labels. Reads ``utterance`` and ``primary_emotion``; writes (emotion, score) pairs.

    The answer is prefilled with ``"1. <primary_emotion>"`` as in the paper, so the teacher scores the emotion
    the utterance was written for first; the prefill is put back in front of the reply before parsing.

    Args:
        top_k: Emotions asked for (the paper: 5).
    """

    name = "labels"

    def __init__(self, template_path: str | Path | None = None, top_k: int = 5):
        super().__init__(template_path, top_k=top_k)

    def prefill(self, item: Mapping[str, Any]) -> str:
        emotion = item.get("primary_emotion")
        return f"1. {emotion}" if emotion else ""

    def parse(self, reply: str, prompt: ChatPrompt) -> ParseResult[list[tuple[str, float]]]:
        return parse_emotion_scores_result(prompt.prefill + reply)


class _TextStage(Stage):
    single_line: ClassVar[bool] = False

    def parse(self, reply: str, prompt: ChatPrompt) -> ParseResult[str]:
        return parse_text_result(reply, single_line=self.single_line)


class ContextStage(_TextStage):
    """Stage 4: the situation behind a thought. Reads ``plot``, ``character``, ``utterance``, ``labels``;
    writes ``context``."""

    name = "context"


class ContextCleaningStage(_TextStage):
    """Stage 5: remove stated emotions from the context. Reads ``character``, ``context``, ``labels``;
    writes ``context_clean``."""

    name = "context_cleaning"


class RewritingStage(_TextStage):
    """Stage 6: make the thought ambiguous without its context. Reads ``character``, ``utterance``, ``labels``;
    writes ``utterance_rewritten``."""

    name = "rewriting"
    single_line = True


STAGE_CLASSES: dict[str, type[Stage]] = {
    cls.name: cls
    for cls in (CharactersStage, UtterancesStage, LabelsStage, ContextStage, ContextCleaningStage, RewritingStage)
}
