"""The rules a taxonomy must keep, checked before it is made; a failure names the keys of the entry at fault."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .words import word_key

__all__ = ["MIN_LABELS", "MAX_LABELS", "Invalid", "check_name", "check_labels", "check_groupings", "check_synonyms",
           "read_labels", "KEYS"]  # fmt: skip

MIN_LABELS = 2
MAX_LABELS = 200
#: Characters a label name may not hold: they separate items in prompts, replies, CSV files and label lists.
SEPARATORS = frozenset(",;:|/\n\r\t")
#: The keys of a taxonomy file; ``content_hash`` (written by :meth:`Taxonomy.to_dict`) is recomputed, not read.
KEYS = ("name", "source", "description", "neutral", "labels", "groupings", "synonyms", "content_hash")


class Invalid(Exception):
    """A validation failure: the message and the keys of the offending entry (for the file's line)."""

    def __init__(self, message: str, keys: Sequence[Any]):
        super().__init__(message)
        self.keys = tuple(keys)


def check_name(name: Any, keys: Sequence[Any]) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid(f"label name {name!r} is not a non-empty string", keys)
    bad = sorted(c for c in set(name) if c in SEPARATORS)
    if bad:
        raise Invalid(f"label name {name!r} contains a separator or a newline ({bad[0]!r})", keys)
    if name != name.strip() or name != name.lower():
        raise Invalid(f"label name {name!r} must be lowercase, without surrounding spaces", keys)
    if not word_key(name):
        raise Invalid(f"label name {name!r} has no letters a reply could name", keys)
    return name


def check_definition(name: str, text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"label {name!r} has an empty definition", ("labels", name))
    if "\n" in text.strip() or "\r" in text:
        raise Invalid(f"the definition of {name!r} spans several lines; write it on one", ("labels", name))
    return text.strip()


def check_labels(definitions: Mapping[str, str]) -> None:
    if not MIN_LABELS <= len(definitions) <= MAX_LABELS:
        raise Invalid(f"{len(definitions)} labels; a taxonomy has {MIN_LABELS} to {MAX_LABELS}", ("labels",))
    seen: dict[str, str] = {}
    for name, text in definitions.items():
        check_name(name, ("labels", name))
        check_definition(name, text)
        key = word_key(name)
        if key in seen:
            raise Invalid(f"labels {seen[key]!r} and {name!r} read the same in a reply", ("labels", name))
        seen[key] = name


def check_groupings(groupings: Mapping[str, Mapping[str, Sequence[str]]], labels: frozenset[str]) -> None:
    for level, groups in groupings.items():
        if not isinstance(level, str) or not level.strip() or not isinstance(groups, Mapping) or not groups:
            raise Invalid(f"grouping {level!r} must map group names to lists of labels", ("groupings", level))
        for group, members in groups.items():
            where = ("groupings", level, group)
            if (
                not isinstance(group, str)
                or not group.strip()
                or not isinstance(members, (list, tuple))
                or not members
            ):
                raise Invalid(f"group {group!r} of {level!r} must be a non-empty list of labels", where)
            unknown = [m for m in members if m not in labels]
            if unknown:
                raise Invalid(f"group {group!r} of {level!r} names {unknown[0]!r}, which is not a label", where)


def check_synonyms(synonyms: Mapping[str, Sequence[str]], labels: frozenset[str]) -> None:
    owner = {word_key(name): name for name in labels}
    for label, words in synonyms.items():
        if label not in labels:
            raise Invalid(f"synonyms are given for {label!r}, which is not a label", ("synonyms", label))
        if not isinstance(words, (list, tuple)):
            raise Invalid(f"the synonyms of {label!r} must be a list of words", ("synonyms", label))
        for word in words:
            key = word_key(word) if isinstance(word, str) else ""
            if not key:
                raise Invalid(f"synonym {word!r} of {label!r} is not a word", ("synonyms", label))
            if owner.setdefault(key, label) != label:
                raise Invalid(f"{word!r} is given for both {owner[key]!r} and {label!r}", ("synonyms", label))


def read_labels(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, list):
        raise Invalid("labels must map names to definitions, or list {name, definition} entries", ("labels",))
    out: dict[str, str] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or set(entry) - {"name", "definition"} or "name" not in entry:
            raise Invalid(f"entry {i + 1} is not a {{name, definition}} mapping", ("labels", i))
        name = check_name(entry["name"], ("labels", i))
        if name in out:
            raise Invalid(f"label {name!r} appears twice", ("labels", i))
        out[name] = entry.get("definition", "")
    return out
