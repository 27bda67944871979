"""``Taxonomy``: a label set of the user's own, with a definition per label, carried from generation to serving.

A taxonomy holds the label names (their order is the model's output order), a definition of each (the text the
generation prompts give the teacher), optional groupings (coarser levels that predictions roll up to, as Ekman's six
and sentiment are for the 28 GoEmotions classes), optional synonyms (words a teacher may write for a label), the
label that means "no emotion" (``neutral``, when there is one) and where it comes from. It is validated when it is
made, and its :attr:`~Taxonomy.content_hash` (labels, definitions, groupings, synonyms, neutral; not the name) tells
two taxonomies apart in ``run.json``, a dataset card and a model's config.

A file is YAML or JSON with these keys (only ``labels`` is required)::

    name: support                # default: the file's stem
    source: Our support team's guidelines, 2026
    neutral: neutral             # the "no emotion" label; default: "neutral" when it is a label, else none
    labels:                      # name: definition (or a list of {name, definition})
      frustration: the customer is blocked by a problem and losing patience
      neutral: a plain request or statement with no emotion
    groupings:                   # optional: level -> group -> labels
      sentiment: {negative: [frustration]}
    synonyms:                    # optional: label -> words the teacher may write for it
      frustration: [annoyed, fed up]

Examples:
    >>> t = Taxonomy.from_dict({"labels": {"calm": "at ease", "worry": "uneasy about what may happen"}}, name="mini")
    >>> t.labels, t.neutral, t.normalize("Worried!"), len(t.content_hash)
    (('calm', 'worry'), None, 'worry', 16)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InputError
from .checks import (
    KEYS,
    MAX_LABELS,
    MIN_LABELS,
    Invalid,
    check_groupings,
    check_labels,
    check_synonyms,
    read_labels,
)
from .words import normalize_word, word_key

_AUTO = object()

__all__ = ["Taxonomy", "MIN_LABELS", "MAX_LABELS"]


def _frozen(groupings: Mapping[str, Mapping[str, Sequence[str]]]) -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    return MappingProxyType(
        {level: MappingProxyType({g: tuple(m) for g, m in groups.items()}) for level, groups in groupings.items()}
    )


def _read_groupings(groupings: Mapping[str, Any]) -> dict[str, Any]:
    """Groupings as level -> group -> labels; a level may also be a list of ``{name, labels}`` (:meth:`to_dict`)."""
    out: dict[str, Any] = {}
    for level, groups in groupings.items():
        if isinstance(groups, list) and all(isinstance(g, Mapping) and set(g) == {"name", "labels"} for g in groups):
            groups = {g["name"]: g["labels"] for g in groups}
        out[level] = groups
    return out


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A validated label set with definitions, groupings and synonyms.

    Args:
        name: A short name (``"ekman"``, ``"support"``); not part of the content hash.
        definitions: Label -> one-line definition, in output order.
        groupings: Level -> group -> labels: coarser views for roll-ups (every member must be a label).
        synonyms: Label -> words a teacher may write for it (used to normalise replies).
        neutral: The label that means "no emotion": neutral lines of the generator are written for it. ``None``:
            the taxonomy has none. Left out: ``"neutral"`` when it is a label.
        source: Where the labels come from (a paper, a guideline).
        description: One line shown by ``emo-pillars taxonomy show`` and the cards.

    Raises:
        InputError: Naming the field at fault: fewer than 2 or more than 200 labels, a name that is not lowercase or
            holds a separator or newline, two names a reply could not tell apart, an empty definition, a grouping or
            synonym naming an unknown label, a synonym given for two labels, a ``neutral`` that is not a label.

    Examples:
        >>> t = Taxonomy("duo", {"glad": "pleased", "neutral": "no emotion"}, groupings={"tone": {"up": ["glad"]}})
        >>> t.neutral, t.emotional, t.roll_up("tone")
        ('neutral', ('glad',), {'glad': 'up', 'neutral': 'neutral'})
    """

    name: str
    definitions: Mapping[str, str]
    groupings: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    neutral: str | None = _AUTO  # type: ignore[assignment]
    source: str = ""
    description: str = ""

    def __post_init__(self):
        try:
            self._validate()
        except Invalid as err:
            raise InputError(str(err), field=".".join(str(k) for k in err.keys)) from None

    def _validate(self) -> None:
        if not isinstance(self.definitions, Mapping):
            raise Invalid("labels must map each name to its definition", ("labels",))
        check_labels(self.definitions)
        labels = frozenset(self.definitions)
        if not isinstance(self.groupings, Mapping) or not isinstance(self.synonyms, Mapping):
            raise Invalid("groupings and synonyms must be mappings", ("groupings",))
        check_groupings(self.groupings, labels)
        check_synonyms(self.synonyms, labels)
        neutral = self.neutral
        if neutral is _AUTO:
            neutral = "neutral" if "neutral" in labels else None
        if neutral is not None and neutral not in labels:
            raise Invalid(f"neutral {neutral!r} is not a label", ("neutral",))
        set_ = object.__setattr__
        set_(self, "neutral", neutral)
        set_(self, "definitions", MappingProxyType({k: v.strip() for k, v in self.definitions.items()}))
        set_(self, "groupings", _frozen(self.groupings))
        set_(self, "synonyms", MappingProxyType({k: tuple(v) for k, v in self.synonyms.items()}))

    # ------------------------------------------------------------------------------------------------ views
    @property
    def labels(self) -> tuple[str, ...]:
        """The label names in output order."""
        return tuple(self.definitions)

    @property
    def emotional(self) -> tuple[str, ...]:
        """The labels an emotional utterance can be written for (all but :attr:`neutral`)."""
        return tuple(name for name in self.definitions if name != self.neutral)

    @property
    def label2id(self) -> dict[str, int]:
        """Label -> output index."""
        return {name: i for i, name in enumerate(self.definitions)}

    @property
    def id2label(self) -> dict[int, str]:
        """Output index -> label (what a model's config holds)."""
        return dict(enumerate(self.definitions))

    def __len__(self) -> int:
        return len(self.definitions)

    def __iter__(self) -> Iterator[str]:
        return iter(self.definitions)

    def __contains__(self, name: object) -> bool:
        return name in self.definitions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Taxonomy) and (self.name, self.content_hash) == (other.name, other.content_hash)

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __repr__(self) -> str:
        return f"Taxonomy({self.name!r}, {len(self)} labels, hash {self.content_hash})"

    @property
    def content_hash(self) -> str:
        """16 hex digits of sha256 over the labels, definitions, groupings, synonyms and neutral (not the name)."""
        content = {k: v for k, v in self._fields().items() if k not in ("name", "source", "description")}
        payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def roll_up(self, level: str) -> dict[str, str]:
        """Label -> its group at ``level`` (the neutral label and ungrouped labels map to themselves)."""
        if level not in self.groupings:
            raise KeyError(f"taxonomy {self.name!r} has no grouping {level!r}; it has {', '.join(self.groupings)}")
        of = {m: group for group, members in self.groupings[level].items() for m in members}
        return {name: of.get(name, name) for name in self.definitions}

    def synonym_table(self) -> dict[str, str]:
        """Word (in :func:`~emo_pillars.taxonomy.words.word_key` form) -> label: every synonym, then every name."""
        table = {word_key(w): label for label, words in self.synonyms.items() for w in words}
        return table | {word_key(name): name for name in self.definitions}

    def normalize(self, word: str | None) -> str | None:
        """Map a free-text word (``"Furious!"``, ``"2. anxious (0.6)"``) to a label, or ``None``."""
        table = self.__dict__.get("_table")
        if table is None:
            table = self.synonym_table()
            object.__setattr__(self, "_table", table)
        return normalize_word(word, table)

    def format_definitions(self, labels: Sequence[str] | None = None, numbered: bool = False) -> str:
        """The definitions block of the prompts: one line ``- name: definition`` per label (``1.`` ... numbered)."""
        lines = []
        for i, name in enumerate(self.labels if labels is None else labels, 1):
            lines.append(f"{f'{i}. ' if numbered else '- '}{name}: {self.definitions[name]}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, the shape :meth:`from_dict` reads (what ``run.json``, ``taxonomy.json``, a model's
        config and the cards record), with the :attr:`content_hash` for readers; the labels are a list of
        ``{name, definition}`` and each grouping a list of ``{name, labels}``, so their order survives a writer that
        sorts keys (a model's ``config.json``)."""
        return {**self._fields(), "content_hash": self.content_hash}

    def _fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "neutral": self.neutral,
            "labels": [{"name": name, "definition": text} for name, text in self.definitions.items()],
            "groupings": {
                level: [{"name": group, "labels": list(members)} for group, members in groups.items()]
                for level, groups in self.groupings.items()
            },
            "synonyms": {label: list(words) for label, words in self.synonyms.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, *, name: str | None = None) -> Taxonomy:
        """Make a taxonomy from a mapping of the file's shape (see the module docstring).

        Raises:
            InputError: The mapping is malformed or the taxonomy invalid; ``field`` names the key at fault.
        """
        try:
            return cls._from_mapping(data, name)
        except Invalid as err:
            raise InputError(str(err), field=".".join(str(k) for k in err.keys)) from None

    @classmethod
    def _from_mapping(cls, data: Any, name: str | None) -> Taxonomy:
        if not isinstance(data, Mapping):
            raise Invalid(f"a taxonomy is a mapping with a 'labels' key, not {type(data).__name__}", ())
        unknown = [k for k in data if k not in KEYS]
        if unknown:
            raise Invalid(f"unknown key {unknown[0]!r}; the keys are {', '.join(KEYS)}", (unknown[0],))
        if "labels" not in data:
            raise Invalid("no 'labels' (name: definition for each label)", ("labels",))
        definitions = read_labels(data["labels"])
        for key in ("name", "source", "description"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise Invalid(f"{key} must be a string", (key,))
        for key in ("groupings", "synonyms"):
            if data.get(key) is not None and not isinstance(data[key], Mapping):
                raise Invalid(f"{key} must be a mapping", (key,))
        try:
            return cls(
                name=data.get("name") or name or "custom",
                definitions=definitions,
                groupings=_read_groupings(data.get("groupings") or {}),
                synonyms=data.get("synonyms") or {},
                neutral=data.get("neutral", _AUTO),
                source=data.get("source") or "",
                description=data.get("description") or "",
            )
        except InputError as err:
            raise Invalid(err.message, tuple((err.field or "").split("."))) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Taxonomy:
        """Read a taxonomy from a ``.yaml``/``.yml`` or ``.json`` file.

        Raises:
            InputError: Naming the file, the line (where the parser knows it) and the field: the file is missing,
                not YAML/JSON, not a mapping, has a duplicate key, or holds an invalid taxonomy.
        """
        from .files import line_of, read_mapping

        path = Path(path)
        data, text = read_mapping(path)
        try:
            return cls._from_mapping(data, path.stem)
        except Invalid as err:
            field = ".".join(str(k) for k in err.keys) or None
            raise InputError(str(err), path=path, line=line_of(text, err.keys), field=field) from None
