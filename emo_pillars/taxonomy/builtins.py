"""The taxonomies shipped by name: ``goemotions`` (the default), ``ekman``, ``plutchik`` and ``isear``.

Every definition here was written for this project; each taxonomy's ``source`` names where its label set comes from.
``ekman`` reads replies through the 28 classes' synonym table rolled up to Ekman's groups, so a teacher's "furious"
or "anxious" lands where GoEmotions' own grouping puts it.

Examples:
    >>> load_taxonomy("ekman").labels
    ('anger', 'disgust', 'fear', 'joy', 'sadness', 'surprise', 'neutral')
    >>> load_taxonomy("isear").neutral is None
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InputError
from .goemotions import _SYNONYM_GROUPS, DEFINITIONS, EKMAN_GROUPS, NEUTRAL, SENTIMENT_GROUPS
from .model import Taxonomy

__all__ = ["GOEMOTIONS", "EKMAN", "PLUTCHIK", "ISEAR", "BUILTIN_TAXONOMIES", "load_taxonomy", "TaxonomyLike"]

#: What :func:`load_taxonomy` takes.
TaxonomyLike = Taxonomy | str | os.PathLike | Mapping[str, Any] | None

GOEMOTIONS = Taxonomy(
    name="goemotions",
    definitions=DEFINITIONS,
    groupings={"ekman": EKMAN_GROUPS, "sentiment": SENTIMENT_GROUPS},
    synonyms=_SYNONYM_GROUPS,
    neutral=NEUTRAL,
    source="GoEmotions (Demszky et al., ACL 2020): 27 emotions and neutral; the Emo Pillars paper's label set",
    description="The 28 GoEmotions classes (the default).",
)


def _rolled_up(groups: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Synonyms for coarse labels: every word of the 28 classes' table, and the fine class names, under its group."""
    out: dict[str, list[str]] = {}
    for group, members in groups.items():
        words = [w for fine in members for w in (fine, *_SYNONYM_GROUPS[fine]) if w != group]
        out[group] = [w for w in dict.fromkeys(words) if w not in groups]
    return out


EKMAN = Taxonomy(
    name="ekman",
    definitions={
        "anger": "hostility or irritation at someone or something felt to have wronged, blocked or offended you",
        "disgust": "revulsion or strong disapproval of something felt to be foul, offensive or morally wrong",
        "fear": "alarm or worry about a threat, danger or something uncertain that may go wrong",
        "joy": "happiness, delight or warmth, a sense that things are good",
        "sadness": "feeling low, hurt or sorrowful over a loss, a letdown or something one regrets",
        "surprise": "being startled, puzzled or suddenly struck by something unexpected",
        "neutral": "no particular emotion is expressed; a plain, matter-of-fact statement",
    },
    groupings={
        "sentiment": {
            "positive": ("joy",),
            "negative": ("anger", "disgust", "fear", "sadness"),
            "ambiguous": ("surprise",),
        }
    },  # fmt: skip
    synonyms=_rolled_up(EKMAN_GROUPS) | {"neutral": list(_SYNONYM_GROUPS["neutral"])},
    source="Ekman's six basic emotions (Ekman, 'An argument for basic emotions', Cognition and Emotion, 1992), "
    "with neutral",
    description="Ekman's six basic emotions and neutral.",
)

PLUTCHIK = Taxonomy(
    name="plutchik",
    definitions={
        "joy": "happiness, delight or contentment, a sense that things are good",
        "trust": "confidence in someone or something, feeling safe to rely on them and accept them",
        "fear": "alarm or dread at a threat or danger, the wish to escape or be protected",
        "surprise": "being startled or astonished by something unexpected",
        "sadness": "feeling low or sorrowful over a loss or a disappointment",
        "disgust": "revulsion or rejection of something felt to be foul or offensive",
        "anger": "hostility towards someone or something felt to have wronged or blocked you",
        "anticipation": "looking ahead with interest or expectation to what is coming",
        "neutral": "no particular emotion is expressed; a plain, matter-of-fact statement",
    },
    groupings={
        "sentiment": {
            "positive": ("joy", "trust"),
            "negative": ("fear", "sadness", "disgust", "anger"),
            "ambiguous": ("surprise", "anticipation"),
        }
    },  # fmt: skip
    synonyms={
        "joy": ["happy", "happiness", "delight", "glad", "cheerful", "ecstasy", "serenity", "amusement", "love"],
        "trust": ["trusting", "acceptance", "admiration", "confidence in", "faith", "approval", "loyalty"],
        "fear": ["afraid", "scared", "terror", "apprehension", "anxiety", "anxious", "nervous", "worry", "worried"],
        "surprise": ["surprised", "amazement", "astonishment", "distraction", "shock", "shocked", "startled"],
        "sadness": ["sad", "grief", "sorrow", "pensiveness", "disappointment", "remorse", "unhappy", "despair"],
        "disgust": ["disgusted", "loathing", "boredom", "revulsion", "contempt", "repulsed"],
        "anger": ["angry", "rage", "annoyance", "annoyed", "fury", "furious", "irritation", "frustration"],
        "anticipation": ["anticipating", "vigilance", "interest", "expectation", "curiosity", "eagerness", "hope"],
        "neutral": list(_SYNONYM_GROUPS["neutral"]),
    },
    source="Plutchik's eight primary emotions (Plutchik, 'Emotion: A Psychoevolutionary Synthesis', 1980), "
    "with neutral",
    description="Plutchik's eight primary emotions and neutral.",
)

ISEAR = Taxonomy(
    name="isear",
    definitions={
        "joy": "happiness or delight about something good that happened",
        "fear": "alarm at a threat or danger, or dread of what may happen",
        "anger": "hostility towards someone felt to have wronged or blocked you",
        "sadness": "sorrow over a loss, a separation or a letdown",
        "disgust": "revulsion at something foul, offensive or morally repugnant",
        "shame": "distress at being seen by others in a bad light, wishing to hide",
        "guilt": "regret and self-blame for a wrong one did to someone",
    },
    synonyms={
        "joy": ["happy", "happiness", "delight", "glad", "pleased", "excitement", "pride", "relief"],
        "fear": ["afraid", "scared", "terror", "anxiety", "anxious", "nervous", "panic", "worry", "worried"],
        "anger": ["angry", "rage", "fury", "furious", "annoyance", "annoyed", "irritation", "frustration"],
        "sadness": ["sad", "grief", "sorrow", "unhappy", "disappointment", "loneliness", "despair"],
        "disgust": ["disgusted", "revulsion", "repulsed", "contempt", "loathing"],
        "shame": ["ashamed", "embarrassment", "embarrassed", "humiliation", "humiliated"],
        "guilt": ["guilty", "remorse", "regret", "remorseful"],
    },
    groupings={
        "sentiment": {"positive": ("joy",), "negative": ("fear", "anger", "sadness", "disgust", "shame", "guilt")}
    },  # fmt: skip
    neutral=None,
    source="ISEAR (Scherer and Wallbott, Journal of Personality and Social Psychology, 1994): seven emotions, "
    "no neutral",
    description="The seven emotions of the ISEAR study (no neutral).",
)

#: The taxonomies known by name.
BUILTIN_TAXONOMIES: Mapping[str, Taxonomy] = MappingProxyType(
    {t.name: t for t in (GOEMOTIONS, EKMAN, PLUTCHIK, ISEAR)}
)


def load_taxonomy(spec: TaxonomyLike = None) -> Taxonomy:
    """The taxonomy ``spec`` names: a :class:`Taxonomy`, a built-in name, a YAML/JSON file or a mapping.

    Args:
        spec: ``None`` for the default (GoEmotions-28); ``"ekman"``, ``"plutchik"``, ``"isear"``, ``"goemotions"``;
            a path ending in ``.yaml``, ``.yml`` or ``.json``; a mapping of the file's shape; a ``Taxonomy``.

    Raises:
        InputError: An unknown name, a missing or invalid file (naming file, line and field), an invalid mapping.

    Examples:
        >>> load_taxonomy().name, load_taxonomy("plutchik").labels[1]
        ('goemotions', 'trust')
    """
    if spec is None:
        return GOEMOTIONS
    if isinstance(spec, Taxonomy):
        return spec
    if isinstance(spec, Mapping):
        return Taxonomy.from_dict(spec)
    text = os.fspath(spec)
    if text in BUILTIN_TAXONOMIES:
        return BUILTIN_TAXONOMIES[text]
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        return Taxonomy.from_file(path)
    raise InputError(
        f"unknown taxonomy {text!r}: name a built-in ({', '.join(BUILTIN_TAXONOMIES)}) or a .yaml/.json file",
        field="taxonomy",
    )
