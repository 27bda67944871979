"""Read a taxonomy file (YAML or JSON) into a mapping, and find the line of an entry, so that an error names file,
line and field.

PyYAML keeps the last of two equal keys without a word, and a duplicate label would vanish that way, so the loader
here refuses duplicate keys. JSON is read with :mod:`json` (duplicates refused by ``object_pairs_hook``); its lines
are found by composing the same text with PyYAML, which reads JSON's syntax.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from .checks import Invalid

__all__ = ["read_mapping", "line_of"]


def _yaml_loader():
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping."""

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise Invalid(f"key {key!r} is given twice", (key,))
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def line_of(text: str, keys: Sequence[Any]) -> int | None:
    """The 1-based line of the entry at ``keys`` (its key's line), or the nearest parent the text has."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            match = (node.value[key], node.value[key])
        else:
            match = None
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line


def _duplicate_line(text: str, key: Any) -> int | None:
    """The last line that starts with ``key:`` (quoted or not): the second of a key given twice."""
    last = None
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip().strip('"').strip("'")
        if stripped.startswith((f"{key}:", f'{key}":', f"{key}':")):
            last = number
    return last


def _parse(path: Path, text: str) -> Any:
    import yaml

    if path.suffix.lower() == ".json":

        def pairs(items):
            keys = [k for k, _ in items]
            twice = next((k for k in keys if keys.count(k) > 1), None)
            if twice is not None:
                raise Invalid(f"key {twice!r} is given twice", (twice,))
            return dict(items)

        try:
            return json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON: {err.msg}", path=path, line=err.lineno) from None
    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"not valid YAML: {problem}", path=path, line=mark.line + 1 if mark else None) from None


def read_mapping(path: Path) -> tuple[Any, str]:
    """The parsed content of a taxonomy file and its text.

    Raises:
        InputError: The file is missing, unreadable, not YAML/JSON, or has a key given twice (file, line, field).
    """
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise InputError("a taxonomy file ends in .yaml, .yml or .json", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read it: {getattr(err, 'strerror', None) or err}", path=path) from None
    try:
        return _parse(path, text), text
    except Invalid as err:  # a key given twice: the parser saw no line, the text has it
        key = err.keys[0]
        raise InputError(str(err), path=path, line=_duplicate_line(text, key), field=str(key)) from None
