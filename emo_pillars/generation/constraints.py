"""Reply shapes that a backend enforces while it decodes (constrained decoding).

A step attaches a :class:`Constraint` to each :class:`~emo_pillars.generation.backends.base.ChatPrompt` it formats;
the backend applies it (a grammar logits processor on the transformers backend, structured-output request
parameters on OpenAI-compatible servers) or ignores it where it cannot. The reply is the text *after* the
prompt's prefill, and the constraint describes that text. The parsers stay the safety net either way.

A constraint is a regular expression, the shape every grammar engine and every structured-output server
accepts. It is part of the call key, so constrained and free replies never share a cache entry.

Examples:
    >>> import re
    >>> c = labels_constraint(top_k=2, first_emotion="joy")
    >>> bool(re.fullmatch(c.regex, " 0.9\\n2. relief 0.4"))
    True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..taxonomy import EMOTIONS, NEUTRAL

__all__ = [
    "Constraint",
    "characters_constraint",
    "utterances_constraint",
    "labels_constraint",
    "text_constraint",
]

_SCORE = r"(0\.[0-9]|1\.0)"


@dataclass(frozen=True)
class Constraint:
    """The shape of a reply, as a regular expression the whole reply (after the prefill) must match.

    Args:
        regex: A regular expression in the common subset of Python ``re``, xgrammar and outlines (no
            look-arounds, no back-references).
        name: A short label for logs and ``run.json`` (for example ``"labels"``).
    """

    regex: str
    name: str = ""

    def matches(self, text: str) -> bool:
        """Whether ``text`` has this shape."""
        return _compiled(self.regex).fullmatch(text) is not None


@functools.lru_cache(maxsize=4096)
def _compiled(regex: str) -> re.Pattern:
    return re.compile(regex)


def _alternation(words: Sequence[str]) -> str:
    return "(" + "|".join(re.escape(w) for w in words) + ")"


@functools.lru_cache(maxsize=256)
def characters_constraint(max_names: int | None = None, numbered: bool = False) -> Constraint:
    """One character name per line: a capitalised word and at most four more (letters, apostrophes, hyphens,
    periods: "Jacob Marley", "The Ghost", "Mr. Fezziwig"), no bullets, commas or descriptions.

    ``numbered``: a numbered list whose ``"1."`` is the prompt's prefill, so the reply starts with the first name
    and the next lines with ``2.``, ``3.`` ... With ``max_names`` at most that many lines. Bounded repetitions
    are costly for grammar engines (xgrammar takes ~1.5 s to compile a bounded line count over SmolLM2's
    vocabulary, 0.02 s without), so the pipeline leaves the count open and keeps the first ``max_characters``.
    """
    letters = "A-Za-zÀ-ɏ"  # Latin letters, accented ones included (literal characters, no escapes)
    word = f"[{letters}'][{letters}'.\\-]*"
    name = f"[A-ZÀ-Þ][{letters}'.\\-]*( {word}){{0,4}}"
    count = "*" if max_names is None else f"{{0,{max(max_names - 1, 0)}}}"
    if numbered:
        return Constraint(rf" {name}(\n[0-9]{{1,3}}\. {name}){count}\n?", name="characters")
    return Constraint(rf"{name}(\n{name}){count}\n?", name="characters")


def utterances_constraint(
    emotions: Sequence[str], n_neutral: int, max_chars: int = 300, neutral: str = NEUTRAL
) -> Constraint:
    """Exactly one ``emotion: "thought"`` line per emotion of ``emotions``, in that order, then ``n_neutral``
    ``<neutral>: "thought"`` lines (``neutral``: the taxonomy's label for no emotion)."""
    return _utterances_constraint(tuple(emotions), n_neutral, max_chars, neutral)


@functools.lru_cache(maxsize=4096)
def _utterances_constraint(emotions: tuple[str, ...], n_neutral: int, max_chars: int, neutral: str) -> Constraint:
    # two words or more, no space before the closing quote
    thought = rf"\"[^\"\n ]{{1,40}} [^\"\n]{{0,{max_chars - 1}}}[^\"\n ]\""
    lines = [f"{re.escape(e)}: {thought}" for e in emotions] + [f"{re.escape(neutral)}: {thought}"] * n_neutral
    return Constraint(r"\n".join(lines) + r"\n?", name="utterances")


def labels_constraint(top_k: int, first_emotion: str | None = None, labels: Sequence[str] = EMOTIONS) -> Constraint:
    """``top_k`` lines ``N. emotion score`` with emotions from the taxonomy and scores 0.0-1.0 in steps of 0.1.

    With ``first_emotion`` the prompt's prefill already holds ``"1. <first_emotion>"``, so the reply starts with
    that line's score, and the later lines name other emotions (a regular expression cannot keep all five
    distinct without listing every combination; the parser keeps the first of any repeat). ``labels``: the
    taxonomy's names (default: the 28 GoEmotions classes).
    """
    return _labels_constraint(top_k, first_emotion or None, tuple(labels))


@functools.lru_cache(maxsize=512)
def _labels_constraint(top_k: int, first_emotion: str | None, labels: tuple[str, ...]) -> Constraint:
    any_emotion = _alternation(labels)
    others = _alternation([e for e in labels if e != first_emotion])
    rest = [rf"\n{rank}\. {others} {_SCORE}" for rank in range(2, top_k + 1)]
    head = rf" {_SCORE}" if first_emotion else rf"1\. {any_emotion} {_SCORE}"
    return Constraint(head + "".join(rest) + r"\n?", name="labels")


@functools.lru_cache(maxsize=64)
def text_constraint(max_chars: int | None = None) -> Constraint:
    """Free text (context, cleaning and rewriting): at least one character, at most ``max_chars`` when given.

    The pipeline caps these replies by their token budget and leaves ``max_chars`` unset: xgrammar takes ~5 s to
    compile ``{1,960}`` over SmolLM2's vocabulary, 0.01 s for the open form.
    """
    count = "+" if max_chars is None else f"{{1,{max_chars}}}"
    return Constraint(rf"[^\x00]{count}", name="text")
