"""Free-text emotion words, as an LLM writes them, mapped to a taxonomy's labels through a synonym table.

The rules are shared by every taxonomy: case, accents, quotes, list markers, scores and filler words ("a deep sense
of") are ignored, and a word missing from the table is tried again without a derivational ending ("furiously" ->
"furious"). The table says which word means which label.

Examples:
    >>> table = {"anger": "anger", "furious": "anger", "joy": "joy"}
    >>> normalize_word("Furiously!", table), normalize_word("a deep sense of joy", table), normalize_word("Bob", table)
    ('anger', 'joy', None)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["normalize_word", "word_key"]

# Filler words stripped before lookup ("a deep sense of sadness" -> "sadness").
_FILLERS = frozenset(
    """a an the of some slight slightly mild mildly deep deeply great greatly strong strongly intense intensely
    extreme extremely very really quite rather somewhat little bit overwhelming profound sheer pure utter
    sense feeling feelings feel feels felt emotion emotions emotional state mood touch hint of
    growing sudden suddenly overall general primary secondary main underlying mixed""".split()
)

_WORD_RE = re.compile(r"[a-z]+(?:[-'][a-z]+)*")

# Derivational endings tried in order when a word is not in the table ("furiously" -> "furious").
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("iness", "y"),
    ("ness", ""),
    ("fully", "ful"),
    ("ily", "y"),
    ("ly", ""),
    ("ied", "y"),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ment", ""),
    ("ful", ""),
)


def _tokens(word: str) -> list[str]:
    text = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii").lower()
    return _WORD_RE.findall(text.replace("_", " "))


def word_key(word: str) -> str:
    """The form a synonym table is keyed by: ASCII, lower case, words joined by one space.

    Examples:
        >>> word_key("Über_Joy"), word_key("self-respect")
        ('uber joy', 'self-respect')
    """
    return " ".join(_tokens(word))


def _lookup(token: str, table: Mapping[str, str]) -> str | None:
    if token in table:
        return table[token]
    for suffix, replacement in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)] + replacement
            if stem in table:
                return table[stem]
    return None


def normalize_word(word: str | None, table: Mapping[str, str]) -> str | None:
    """Map a free-text emotion word to a label through ``table`` (keys in :func:`word_key` form).

    Args:
        word: The word or short phrase, e.g. ``"Happiness"``, ``"furious"``, ``"2. Anxious (0.6)"``.
        table: Word -> label; every label maps to itself.

    Returns:
        The label, or ``None`` when the text names none (a character's name, ``"plot"``, an empty string).
    """
    if not word or not isinstance(word, str):
        return None
    tokens = _tokens(word)
    if not tokens or len(tokens) > 8:
        return None
    phrase = " ".join(tokens)
    if phrase in table:
        return table[phrase]
    content = [t for t in tokens if t not in _FILLERS]
    if not content:
        return None
    phrase = " ".join(content)
    found = _lookup(phrase, table)
    if found is not None:
        return found
    # Short phrases such as "anxious anticipation": the last word is usually the head noun.
    if len(content) > 3:
        return None
    for token in reversed(content):
        found = _lookup(token, table)
        if found is not None:
            return found
    return None
