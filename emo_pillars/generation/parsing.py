"""Tolerant parsers for the teacher's replies: character lists, emotional utterances and soft emotion scores.

The teacher is a chat LLM, so a reply can come in many shapes: numbered or bulleted lists, Markdown bold, JSON
(complete or cut off by ``max_new_tokens``), code fences, a line of prose before or after the answer. Every parser
here reads all of these and never raises on any string; the ``*_result`` variants also say why a reply gave
nothing (or less than it should), so the pipeline can count failures by reason instead of catching exceptions.

Only the first :data:`MAX_CHARS` characters of a reply are read.

Examples:
    >>> parse_emotion_scores("1. fear 0.9\\n2. anxiety: 0.6\\n3. plot: 0.5")
    [('fear', 0.9), ('nervousness', 0.6)]
    >>> parse_emotion_scores_result("1. fear").reason
    'truncated'
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..taxonomy import GOEMOTIONS, Taxonomy

__all__ = [
    "MAX_CHARS", "PARSE_FAILURE_REASONS", "ParseResult", "RESULT_PARSERS", "strip_code_fences", "parse_characters",
    "parse_characters_result", "parse_utterances", "parse_utterances_result", "parse_emotion_scores",
    "parse_emotion_scores_result", "parse_text_result",
]  # fmt: skip

#: Replies longer than this are cut before parsing (stage replies are at most a few hundred tokens).
MAX_CHARS = 100_000

EMPTY = "empty"
NO_VALID_ITEMS = "no_valid_items"
NO_SCORES = "no_scores"
OUT_OF_TAXONOMY_ONLY = "out_of_taxonomy_only"
TRUNCATED = "truncated"
PARTIAL = "partial"
INTERNAL_ERROR = "internal_error"
#: Every value :attr:`ParseResult.reason` can take besides ``None``.
PARSE_FAILURE_REASONS = frozenset(
    {EMPTY, NO_VALID_ITEMS, NO_SCORES, OUT_OF_TAXONOMY_ONLY, TRUNCATED, PARTIAL, INTERNAL_ERROR}
)

T = TypeVar("T")


@dataclass(frozen=True)
class ParseResult(Generic[T]):
    """What a parser read from one reply, and whether it is usable.

    Attributes:
        value: The parsed items (possibly empty).
        ok: ``True`` when ``value`` holds at least one item.
        reason: ``None`` for a clean parse, else one of :data:`PARSE_FAILURE_REASONS` (also set with ``ok=True``
            when the value is usable but something was lost):

            * ``"empty"``: the reply is blank (or only code fences).
            * ``"no_valid_items"``: there is text, but nothing in it could be read as an item.
            * ``"no_scores"``: emotions are named but none has a score (scores only).
            * ``"out_of_taxonomy_only"``: scored entries exist, but none names one of the 28 classes (scores only).
            * ``"truncated"``: the reply stops mid-item (an unclosed JSON value, quote or bracket, or a last item
              with no score or no end); with ``ok=True`` the complete items were kept.
            * ``"partial"``: some item-like entries were dropped (out-of-taxonomy emotion, score out of range,
              emotion without score, too-short or duplicate utterance).
            * ``"internal_error"``: a bug in this module, caught; the value is empty.
        exact: The reply had exactly the requested shape and was read by the exact reader.
    """

    value: T
    ok: bool
    reason: str | None = None
    exact: bool = field(default=False, repr=False, compare=False)


def _result(value: Any, truncated: bool, partial: bool, empty_reason: str) -> ParseResult:
    if not value:
        return ParseResult(value, False, empty_reason)
    return ParseResult(value, True, TRUNCATED if truncated else PARTIAL if partial else None)


def _guarded(parse: Callable[[str], ParseResult], text: Any) -> ParseResult:
    try:
        return parse(text[:MAX_CHARS] if isinstance(text, str) else "")
    except Exception:  # a parser must never take the pipeline down; the reason makes the bug visible
        return ParseResult([], False, INTERNAL_ERROR)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- Shared internals -------------------------------------------------------------------------------------------------
_FENCE_LANGS = _words("json text txt plaintext markdown md yaml yml python py csv none output")
_FENCE_LANG_RE = re.compile(r"([A-Za-z0-9_+-]+)(?=\s|$)")
_MARKER_RE = re.compile(r"^[ \t]*(?:(?:[-*•·‣◦▪+>–—]|#{1,6}|\(?\d{1,3}[ \t]*[.):\]](?!\d)|[a-z]\))[ \t]*)+")
_ALPHA_RE = re.compile(r"[A-Za-z]+")
_JSON_START_RE = re.compile(r'(?m)^[ \t]*(\[\s*[\[{"]|\{\s*")')
_QUOTE_CLOSERS = {'"': '"”', "“": '”"“', "„": '“”"', "«": "»", "‘": "’", "'": "'"}
_EDGE_PUNCT = " \t*_`'\"“”‘’«»[]{}<>.,;:!?-–—#"
_TERMINAL = (".", "!", "?", "…")
_OPENERS = " \t[{\"'“‘`*_"


def strip_code_fences(text: str) -> str:
    """Remove Markdown code-fence markers (```` ``` ```` with an optional language tag), keeping what they enclose.

    Args:
        text: A reply that may wrap its answer, or part of it, in fences; fences may be unclosed.

    Returns:
        The text without fence markers; lines that held only a marker are dropped.

    Examples:
        >>> strip_code_fences('Here you go:\\n```json\\n["Alice", "Bob"]\\n```')
        'Here you go:\\n["Alice", "Bob"]'
    """
    if not isinstance(text, str):
        return ""
    out = []
    for line in text.splitlines():
        if "```" not in line:
            out.append(line)
            continue
        body = line.strip()
        if body.startswith("```"):
            body = body[3:]
            lang = _FENCE_LANG_RE.match(body)
            if lang and lang.group(1).lower() in _FENCE_LANGS:
                body = body[lang.end() :]
        body = body.replace("```", "").strip()
        if body:
            out.append(body)
    return "\n".join(out)


def _split_marker(line: str) -> tuple[int, bool, str]:
    """Return (indent, whether the line had a list marker, the line without marker and bold markup)."""
    line = line.replace("**", "").replace("__", "")
    indent = len(line) - len(line.lstrip(" \t"))
    match = _MARKER_RE.match(line)
    if match is None:
        return indent, False, line.strip()
    return indent, True, line[match.end() :].strip()


def _find_json(text: str) -> tuple[Any, bool]:
    """Return the first JSON list/object that opens a line (or None), and whether one looked cut off."""
    decoder = json.JSONDecoder()
    for count, match in enumerate(_JSON_START_RE.finditer(text)):
        if count >= 5:
            break
        try:
            value, _ = decoder.raw_decode(text, match.start(1))
        except (ValueError, RecursionError):
            return None, True  # later matches would be fragments of this cut-off value
        if isinstance(value, (list, dict)) and value:
            return value, False
    return None, False


_CONTAINER_KEYS = _words(
    "characters names cast utterances thoughts sentences emotions scores top_emotions results output"
)
_LABEL_KEYS = ("name", "character", "character_name", "emotion", "label", "feeling", "emotion_label", "class", "type")
_VALUE_KEYS = (
    "utterance", "text", "thought", "sentence", "quote", "content", "statement", "score", "level", "expressiveness",
    "intensity", "value", "probability", "confidence", "strength",
)  # fmt: skip


def _json_lines(obj: Any, depth: int = 0) -> list[str]:
    """Render a JSON reply as list lines (``- label: "value"``) that the line parsers read like any other reply."""
    if depth > 4:
        return []
    if isinstance(obj, list):
        if depth and len(obj) == 2 and isinstance(obj[0], str) and not isinstance(obj[1], (list, dict)):
            return _json_lines({obj[0]: obj[1]}, depth)  # ["love", 0.9]
        return [line for item in obj for line in _json_lines(item, depth + 1)]
    if not isinstance(obj, dict):
        return [f"- {' '.join(obj.split())}"] if isinstance(obj, str) else []
    low = {str(k).lower(): v for k, v in obj.items()}
    for key in _CONTAINER_KEYS:
        if isinstance(low.get(key), (list, dict)):
            return _json_lines(low[key], depth + 1)
    label = next((low[k] for k in _LABEL_KEYS if isinstance(low.get(k), str)), None)
    value = next((low[k] for k in _VALUE_KEYS if k in low), None)
    pairs = [(label, value)] if label is not None or value is not None else list(obj.items())
    lines = []
    for key, val in pairs:
        for v in val if isinstance(val, list) else [val]:  # {"neutral": ["...", "..."]}
            if isinstance(v, str):
                v = f'"{" ".join(v.split())}"'
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
                v = f"{v:f}"
            else:
                v = ""  # null, a negative or NaN score, a nested object
            lines.append(f"- {key}: {v}" if key is not None else f"- {v}")
    return lines


def _reply_lines(text: str) -> tuple[list[str], bool, bool]:
    """Return (non-blank lines to parse, whether they come from a complete JSON value, whether JSON was cut off)."""
    text = strip_code_fences(text)
    found, broken = _find_json(text)
    lines = _json_lines(found) if found is not None else []
    if lines:
        return lines, True, False
    out = []
    for line in text.splitlines():
        obj = _find_json(line)[0] if line.lstrip().startswith("{") else None
        out.extend(_json_lines(obj) if isinstance(obj, dict) else [line] if line.strip() else [])
    return out, False, broken


def _unquote(text: str) -> tuple[str, bool, str, bool]:
    """Split ``"quoted" rest`` into (inside, closing quote missing, text after the quote, was quoted)."""
    text = text.strip()
    closers = _QUOTE_CLOSERS.get(text[:1])
    if not closers:
        return text, False, "", False
    for j in range(len(text) - 1, 0, -1):
        if text[j] in closers and not text[j + 1 : j + 2].isalnum():
            return text[1:j], False, text[j + 1 :], True
    if text[0] in "'‘":  # an apostrophe ('Tis) rather than an opening quote
        return text, False, "", False
    return text[1:], True, "", True


# --- Characters -------------------------------------------------------------------------------------------------------
_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z .]{0,30}?)\s*:\s*(.*)$")
_NAME_CUT_RE = re.compile(r"\s[-–]\s|\s[-–]$|[—:(\[{,;]")
_LIST_SPLIT_RE = re.compile(r"\s*[,;]\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+")
_INTRO_RE = re.compile(r"^.*\b(?:are|include|includes|including)\b:?\s*", re.IGNORECASE)
_NAME_KEYS = frozenset(
    {"name", "character", "character name", "full name", "protagonist", "antagonist", "hero", "heroine", "villain"}
)
_LIST_KEYS = frozenset({"answer", "output", "cast", "list", "result"})
_DROP_KEYS = _words(
    "note notes nb description desc role age relation relationship occupation traits personality summary "
    "explanation disclaimer comment comments ps"
)
_NOT_NAMES = frozenset({"none", "n/a", "na", "unknown", "nobody", "no one", "null", "nil", "various", "others", "etc"})
_PROSE_STARTS = _words(
    "here these this those there sure certainly okay ok note i i'm i've we you he she it they let let's "
    "please hope in below above all each every a an if as since although however also other answer output "
    "following based from is are no not yes thank thanks and or but with for to of on at by"
)
_META_WORDS = _words("characters character plot story synopsis mentioned listed list is are was were has have had")


def _clean_name(raw: str) -> str | None:
    """Return the cleaned name, or None when the text is obviously not a character's name."""
    text = " ".join(raw.split())
    sentence = len(text.split()) >= 4 and text.rstrip("\"'”’ ").endswith(_TERMINAL)
    text = text.strip(_EDGE_PUNCT)
    words = text.split()
    if sentence or not words or len(words) > 6 or len(text) > 60 or "?" in text or "!" in text:
        return None
    if not any(c.isalpha() for c in text):
        return None
    low = [w.lower().strip(".,'’\"") for w in words]
    if " ".join(low) in _NOT_NAMES or low[0] in _PROSE_STARTS or _META_WORDS.intersection(low):
        return None
    return text


def _name_candidates(body: str) -> list[str]:
    key = _KEY_RE.match(body)
    if key:
        label = key.group(1).strip().lower()
        if label in _DROP_KEYS:
            return []
        if label in _NAME_KEYS or label in _LIST_KEYS or label.endswith(("characters", "character")):
            body = key.group(2)
    if "," in body or ";" in body or " and " in body or " & " in body:
        parts = [p for p in _LIST_SPLIT_RE.split(body) if p.strip(_EDGE_PUNCT)]
        if len(parts) >= 2:
            parts[0] = _INTRO_RE.sub("", parts[0])
            parts = [p.lstrip(_OPENERS) for p in parts if p.count('"') % 2 == 0]  # an odd quote: a cut-off name
            names = [_clean_name(_NAME_CUT_RE.split(p, maxsplit=1)[0]) for p in parts]
            if names and all(n and n[0].isupper() for n in names):
                return names  # type: ignore[return-value]
    return [_NAME_CUT_RE.split(body.lstrip(_OPENERS), maxsplit=1)[0]] if body.count('"') % 2 == 0 else []


def _parse_characters(text: str) -> ParseResult[list[str]]:
    lines, _, truncated = _reply_lines(text)
    if not lines:
        return ParseResult([], False, EMPTY)
    rows = [row for row in map(_split_marker, lines) if row[2]]
    marked = [row for row in rows if row[1]]
    if len(marked) >= 2:  # a list: prose lines, descriptions and sub-bullets are not items
        indent = min(row[0] for row in marked)
        rows = [row for row in marked if row[0] == indent]
    names = [name for _, _, body in rows for name in _name_candidates(body)]
    truncated = truncated or lines[-1].count("(") > lines[-1].count(")") or lines[-1].count('"') % 2 == 1
    out: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = _clean_name(raw)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return _result(out, truncated, False, TRUNCATED if truncated else NO_VALID_ITEMS)


def parse_characters_result(text: str) -> ParseResult[list[str]]:
    """Parse like :func:`parse_characters`, and say whether it worked.

    Args:
        text: The stage-1 reply.

    Returns:
        The names with ``ok`` and a reason: ``empty``, ``no_valid_items`` or ``truncated`` (see :class:`ParseResult`).

    Examples:
        >>> parse_characters_result('["Alice", "Bob", "Car')
        ParseResult(value=['Alice', 'Bob'], ok=True, reason='truncated')
    """
    return _guarded(_parse_characters, text)


def parse_characters(text: str) -> list[str]:
    """Read the character names from a stage-1 reply ("list all characters of the plot, one per line").

    Accepts numbered and bulleted lists, bold names, quotes, ``Name - description``, ``Name: description`` and
    ``Name (description)`` (the name is kept), JSON lists/objects, code fences and comma-separated one-liners.
    When at least two lines carry a list marker, unmarked lines (intro, outro, wrapped descriptions) and deeper
    sub-bullets are ignored. A candidate is dropped when it is obviously not a name: more than 6 words or 60
    characters, a sentence (4+ words ending in ``.``/``!``/``?``), starting with a prose word ("Here", "Note",
    "I", "A", ...), containing a verb such as "is" or a meta word ("characters", "plot"), or being a placeholder
    ("none", "unknown", "others"). "The narrator" is kept: in first-person novels the narrator is the protagonist.
    Names are deduplicated case-insensitively, in order of first appearance.

    Args:
        text: The stage-1 reply.

    Returns:
        The names, possibly empty; never raises.

    Examples:
        >>> parse_characters("Here are the characters:\\n1. **Alice** - a curious girl\\n2. The Queen (ruler)\\n3. alice")
        ['Alice', 'The Queen']
        >>> parse_characters("Alice, Bob and Carol")
        ['Alice', 'Bob', 'Carol']
    """
    return parse_characters_result(text).value


# --- Utterances -------------------------------------------------------------------------------------------------------
_EMOTION_KEY_RE = re.compile(
    r"""^["']?(?:emotion|feeling|emotion label|emotion type)["']?\s*[:=]\s*(.*)$""", re.IGNORECASE
)
_JSON_KEY_RE = re.compile(r'^"([A-Za-z_ ]{1,30})"\s*:\s*')
_SEP_RE = re.compile(r"\s*(?::|\s[-–—]\s|[–—])\s*")
_BRACKET_LABEL_RE = re.compile(r"[(\[]([^()\[\]]{1,40})[)\]]\s*[:\-–—]?\s*")
_GENERIC_LABEL_RE = re.compile(
    r"(?:neutral\s+)?(?:utterance|thought|statement|sentence|line|quote|example|emotion|monologue|inner monologue|"
    r"thinking aloud|text|output)\s*#?\s*\d{0,3}",
    re.IGNORECASE,
)
_ACTION_RE = re.compile(r'^\s*[*(\[][^*()\[\]"“]{1,40}[*)\]]\s*(?=["“])')  # '*sighs* "..."'
_TRAILING_EMOTION_RE = re.compile(r"[\s\-–—:,]*[(\[]\s*([A-Za-z][A-Za-z /-]{1,40}?)\s*[)\]]\s*\.?\s*$")


def _split_label(body: str, taxonomy: Taxonomy, depth: int = 0) -> tuple[str | None, str, bool]:
    """Split ``Joy: "..."`` into (emotion, rest, True); (None, body, False) when the line has no label."""
    bracket = _BRACKET_LABEL_RE.match(body)
    if bracket:
        label, rest = bracket.group(1), body[bracket.end() :]
    else:
        quote = min((i for i in (body.find(q) for q in '"“«') if i >= 0), default=len(body))
        sep = _SEP_RE.search(body, 0, min(quote, 60))
        if sep is None:
            return None, body, False
        label, rest = body[: sep.start()], body[sep.end() :]
    label = label.strip(" *_`#\"'")
    if not label or len(_ALPHA_RE.findall(label)) > 3:
        return None, body, False
    emotion = taxonomy.normalize(label)
    if emotion:
        return emotion, rest, True
    if rest.lstrip()[:1] in _QUOTE_CLOSERS:  # "Zorblax: \"...\"", "Alice: \"...\"": a label, not an emotion
        return None, rest, True
    if _GENERIC_LABEL_RE.fullmatch(label):
        if depth == 0:
            inner, inner_rest, labelled = _split_label(rest.strip(), taxonomy, 1)
            if labelled and inner:
                return inner, inner_rest, True
        return None, rest, True
    return None, body, False


def _is_header(body: str, taxonomy: Taxonomy) -> str | None:
    text = body.strip(" *_#:`")
    if not text or len(_ALPHA_RE.findall(text)) > 3 or text.endswith(_TERMINAL) or text[0] in _QUOTE_CLOSERS:
        return None
    return taxonomy.normalize(text)


def _clean_utterance(text: str) -> str:
    text = " ".join(text.split()).strip(" *_")
    if text.count('"') % 2 == 1:
        text = text[1:] if text.startswith('"') else text[:-1] if text.endswith('"') else text
    if text.startswith("“") and "”" not in text:
        text = text[1:]
    if text.endswith("”") and "“" not in text:
        text = text[:-1]
    return text.strip(" *_")


def _is_complete(text: str) -> bool:
    return text.rstrip('"”’)*_ ').endswith(_TERMINAL)


def _utterance_items(lines: list[str], taxonomy: Taxonomy) -> list[list[Any]]:
    """Return items [emotion, text, closing quote missing, line index]."""
    items: list[list[Any]] = []
    pending: str | None = None  # from "Emotion: joy" or a header: the next unlabelled line
    section: str | None = None  # from a header ("**Neutral:**"): every following quoted or listed line
    for idx, line in enumerate(lines):
        _, marked, body = _split_marker(line)
        if not body:
            continue
        body = _JSON_KEY_RE.sub(r"\1: ", body)  # '"utterance": "..."' from a cut-off JSON reply
        key = _EMOTION_KEY_RE.match(body)
        if key:
            emotion = taxonomy.normalize(key.group(1).strip(" \"',"))
            if items and items[-1][0] is None and items[-1][3] == idx - 1 and pending is None:
                items[-1][0] = emotion  # "Utterance: ...\nEmotion: joy"
            else:
                pending = emotion
            continue
        if (key := _KEY_RE.match(body)) and key.group(1).strip().lower() in _DROP_KEYS | {"reason", "context"}:
            continue  # "Explanation: ...", "Note: ..."
        emotion, rest, labelled = _split_label(body, taxonomy)
        header = emotion if labelled and not rest.strip(' *_"') else None if labelled else _is_header(body, taxonomy)
        if header:
            pending = section = header
            continue
        utterance, unclosed, after, quoted = _unquote(_ACTION_RE.sub("", rest).strip(" *_").rstrip(","))
        if not labelled and not (quoted or marked or pending):
            continue  # prose around the answer
        if emotion is None:
            emotion = pending or section
        if emotion is None:
            trailing = _TRAILING_EMOTION_RE.search(after if quoted else utterance)
            found = taxonomy.normalize(trailing.group(1)) if trailing else None
            if found is None and quoted and 0 < len(_ALPHA_RE.findall(after)) <= 3:
                found = taxonomy.normalize(after)
            if found and trailing and not quoted:
                utterance = utterance[: trailing.start()]
            emotion = found
        pending = None
        items.append([emotion, utterance, unclosed, idx])
    return items


def _parse_utterances(text: str, taxonomy: Taxonomy) -> ParseResult[list[tuple[str | None, str]]]:
    lines, from_json, truncated = _reply_lines(text)
    if not lines:
        return ParseResult([], False, EMPTY)
    items = _utterance_items(lines, taxonomy)
    last_line = -1 if from_json else len(lines) - 1
    cleaned = [_clean_utterance(item[1]) if isinstance(item[1], str) else "" for item in items]
    out: list[tuple[str | None, str]] = []
    seen: set[str] = set()
    partial = False
    for k, (emotion, _, unclosed, line) in enumerate(items):
        utterance = cleaned[k]
        if k == len(items) - 1 and line == last_line:
            earlier_complete = k > 0 and all(_is_complete(u) for u in cleaned[:k])
            if unclosed or (earlier_complete and not _is_complete(utterance)):
                truncated = True
                if emotion is None or not _is_complete(utterance):
                    continue
        if len(_ALPHA_RE.findall(utterance)) < 2 or len(utterance.split()) < 2 or utterance in seen:
            partial = True
            continue
        seen.add(utterance)
        out.append((emotion, utterance))
    return _result(out, truncated, partial, TRUNCATED if truncated else NO_VALID_ITEMS)


_SCORE_LINE = re.compile(r"(\d+)\. ([a-z]+(?:[ '-][a-z]+)*) (0\.[0-9]|1\.0)")
_UTTERANCE_LINE = re.compile(r'([a-z]+(?:[ \'-][a-z]+)*): "([^"\n]+)"')


def _shaped_scores(text: str, top_k: int, taxonomy: Taxonomy) -> ParseResult | None:
    """A fast, exact reading of a reply in the requested shape (``top_k`` lines ``N. emotion score`` from the
    taxonomy), as the parser would read it (ranked by score; a repeated emotion once); ``None`` when the reply has
    another shape, which the tolerant parser then reads."""
    lines = text.strip().split("\n")
    pairs = []
    for rank, line in enumerate(lines, 1):
        match = _SCORE_LINE.fullmatch(line)
        if match is None or int(match.group(1)) != rank or match.group(2) not in taxonomy:
            return None
        pairs.append((match.group(2), float(match.group(3))))
    if len(pairs) != top_k:
        return None
    best: dict[str, tuple[float, int]] = {}
    for i, (emotion, score) in enumerate(pairs):  # a repeated emotion keeps its best score, as the parser does
        if emotion not in best or score > best[emotion][0]:
            best[emotion] = (score, best.get(emotion, (0.0, i))[1])
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
    return ParseResult([(e, s) for e, (s, _) in ranked], True, None, exact=True)


def _shaped_utterances(text: str, taxonomy: Taxonomy) -> ParseResult | None:
    """A fast, exact reading of ``emotion: "thought"`` lines (clean thoughts of two words or more; repeats are
    kept for the step to count); ``None`` for any other shape, which the tolerant parser then reads."""
    pairs = []
    for line in text.strip().split("\n"):
        match = _UTTERANCE_LINE.fullmatch(line)
        if match is None or match.group(1) not in taxonomy:
            return None
        thought = " ".join(match.group(2).split())  # spacing is not structure: "I am a  " reads as "I am a"
        if thought != thought.strip("*_'\u201c\u201d") or len(thought.split()) < 2:
            return None
        pairs.append((match.group(1), thought))
    return ParseResult(pairs, True, None, exact=True) if pairs else None


def parse_utterances_result(
    text: str, exact_first: bool = False, taxonomy: Taxonomy | None = None
) -> ParseResult[list[tuple[str | None, str]]]:
    """Parse like :func:`parse_utterances`, and say whether it worked.

    Args:
        text: The stage-2 reply.
        exact_first: First read the requested shape exactly (``emotion: "thought"`` lines, repeats kept for the
            step to count), which is fast; any other shape goes to the tolerant reader.
        taxonomy: The labels emotions are read as (default: the 28 GoEmotions classes); other words count as none.

    Returns:
        The pairs with ``ok`` and a reason: ``empty``, ``no_valid_items``, ``truncated`` or ``partial``.

    Examples:
        >>> parse_utterances_result('1. Joy: "We did it!"\\n2. Fear: "What if they').reason
        'truncated'
    """
    taxonomy = taxonomy or GOEMOTIONS
    return (exact_first and _shaped_utterances(text, taxonomy)) or _guarded(
        functools.partial(_parse_utterances, taxonomy=taxonomy), text
    )


def parse_utterances(text: str) -> list[tuple[str | None, str]]:
    """Read (emotion, utterance) pairs from a stage-2 reply (8 emotional "thinking aloud" lines, then 2 neutral).

    Accepts ``1. Joy: "..."``, ``- (fear) "..."``, ``[Joy] ...``, ``**Anger** - ...``, ``Utterance 3 (Joy): ...``,
    ``Emotion: joy`` / ``Utterance: ...`` pairs (either order), emotion headers followed by their lines,
    ``"..." (joy)``, JSON lists/objects and code fences. Emotions go through
    :func:`~emo_pillars.taxonomy.normalize_emotion` (``None`` when there is no emotion or it is not one).
    Surrounding straight and curly quotes are removed. Unquoted, unlabelled lines outside a list are prose and
    skipped. Utterances with fewer than 2 words and exact repeats are dropped. The last item of the reply counts
    as truncated when its quote is never closed, or when it lacks end punctuation although every earlier item had
    it; it is then kept only if it has an emotion and ends in ``.``, ``!``, ``?`` or ``…`` (only the closing
    quote was lost).

    Args:
        text: The stage-2 reply.

    Returns:
        The (emotion or None, utterance) pairs in reply order; never raises.

    Examples:
        >>> parse_utterances('Sure!\\n1. Joy: "We won the cup!"\\n2. **Neutral** - “The bus leaves at nine.”')
        [('joy', 'We won the cup!'), ('neutral', 'The bus leaves at nine.')]
    """
    return parse_utterances_result(text).value


# --- Emotion scores ---------------------------------------------------------------------------------------------------
_NUM_RE = re.compile(r"(?<![\w.])(\d{1,4}(?:\.\d+)?|\.\d+)(?:\s*(%)|\s*/\s*(10|100|5)\b)?")
_LEAD_SPLIT_RE = re.compile(r"[:(=\[{,|–—]|\s-|-\s")
_SCORE_WORDS_RE = re.compile(
    r"\b(?:emotions?|expressiveness|expressivity|expression|level|score|intensity|strength|confidence|degree|value|"
    r"rating|probability|weight|label|name)\b",
    re.IGNORECASE,
)
_SCORE_PROSE = _words(
    "note notes here top total sum scale explanation answer output the a an i this these overall step"
)

# An entry: (emotion or None, looks like an item label, number or None, scale marker "" / "%" / "10" / "100" / "5").
_Entry = tuple[str | None, bool, float | None, str]


def _score_label(name: str, taxonomy: Taxonomy) -> tuple[str | None, bool]:
    lead = _LEAD_SPLIT_RE.split(name.strip(), maxsplit=1)[0].strip(_EDGE_PUNCT)
    tokens = _ALPHA_RE.findall(lead)
    emotion = taxonomy.normalize(lead) if 0 < len(tokens) <= 4 else None
    if emotion is None:
        rest = _SCORE_WORDS_RE.sub(" ", name)
        if 0 < len(_ALPHA_RE.findall(rest)) <= 3:
            emotion = taxonomy.normalize(rest)
    return emotion, 0 < len(tokens) <= 3 and tokens[0].lower() not in _SCORE_PROSE


def _score_entry(segment: str, taxonomy: Taxonomy) -> _Entry:
    number = _NUM_RE.search(segment)
    name = segment if number is None else segment[: number.start()]
    if number is not None and not _ALPHA_RE.search(name):
        name = segment[number.end() :]  # "0.9 fear"
    emotion, label_like = _score_label(name, taxonomy)
    if number is None:
        return emotion, label_like, None, ""
    return emotion, label_like, float(number.group(1)), "%" if number.group(2) else number.group(3) or ""


def _to_unit(number: float, scale_marker: str, plain_scale: float) -> float | None:
    if not math.isfinite(number) or number < 0:
        return None
    divisor = 100.0 if scale_marker == "%" else float(scale_marker) if scale_marker else plain_scale
    if number > divisor:
        return None
    return round(number / divisor, 4)


def _parse_emotion_scores(text: str, taxonomy: Taxonomy) -> ParseResult[list[tuple[str, float]]]:
    lines, from_json, truncated = _reply_lines(text)
    if not lines:
        return ParseResult([], False, EMPTY)
    entries: list[_Entry] = []
    cut_last = False
    for idx, line in enumerate(lines):
        _, marked, body = _split_marker(line)
        segments = re.split(r"[,;|]", body) if len(_NUM_RE.findall(body)) >= 2 else [body]
        line_entries = [_score_entry(_split_marker(s)[2], taxonomy) for s in segments if s.strip()]
        if (
            len(line_entries) == 1
            and line_entries[0][2] is not None
            and not _ALPHA_RE.search(body)
            and entries
            and entries[-1][0]
            and entries[-1][2] is None
        ):  # "1. fear\n0.9"
            entries[-1] = (entries[-1][0], True, *line_entries[0][2:])
            continue
        if idx == len(lines) - 1 and not from_json:
            if marked and not body:
                truncated = True  # "5."
            elif line_entries and (
                (line_entries[-1][2] is None and (line_entries[-1][0] or (marked and line_entries[-1][1])))
                or re.search(r"\d\.$", body)
            ):
                truncated = cut_last = True  # "5. sadness", "5. sadn" or "5. sadness 0."
                line_entries.pop()
        entries.extend(line_entries)
    plain = [e[2] for e in entries if e[0] and e[2] is not None and not e[3] and 0 <= e[2] <= 100]
    top = max(plain, default=0.0)
    plain_scale = 1.0 if top <= 1 else 10.0 if top <= 10 else 100.0
    best: dict[str, tuple[float, int]] = {}
    out_of_taxonomy = unscored = invalid = 0
    for i, (emotion, label_like, number, marker) in enumerate(entries):
        if number is None:
            unscored += emotion is not None
            continue
        if emotion is None:
            out_of_taxonomy += label_like
            continue
        score = _to_unit(number, marker, plain_scale)
        if score is None:
            invalid += 1
        elif emotion not in best:
            best[emotion] = (score, i)
        elif score > best[emotion][0]:
            best[emotion] = (score, best[emotion][1])
    ranked = [(e, s) for e, (s, _) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1]))]
    if ranked:
        return _result(ranked, truncated, bool(out_of_taxonomy or unscored or invalid), NO_VALID_ITEMS)
    if out_of_taxonomy:
        return ParseResult([], False, OUT_OF_TAXONOMY_ONLY)
    if unscored or (cut_last and not invalid):
        return ParseResult([], False, NO_SCORES if unscored else TRUNCATED)
    return ParseResult([], False, TRUNCATED if truncated else NO_VALID_ITEMS)


def parse_emotion_scores_result(
    text: str, top_k: int | None = None, taxonomy: Taxonomy | None = None
) -> ParseResult[list[tuple[str, float]]]:
    """Parse like :func:`parse_emotion_scores`, and say whether it worked.

    Args:
        text: The stage-3 reply, prefill included.
        top_k: The number of ``N. emotion score`` lines requested: a reply in exactly that shape is read by a fast
            exact reader (with the same result); any other shape goes to the tolerant reader.
        taxonomy: The labels scores are read for (default: the 28 GoEmotions classes); other names are dropped.

    Returns:
        The ranked scores with ``ok`` and a reason: ``empty``, ``no_valid_items``, ``no_scores``,
        ``out_of_taxonomy_only``, ``truncated`` or ``partial``.

    Examples:
        >>> parse_emotion_scores_result("1. plot: 0.8\\n2. Alice: 0.5")
        ParseResult(value=[], ok=False, reason='out_of_taxonomy_only')
    """
    taxonomy = taxonomy or GOEMOTIONS
    return (top_k is not None and _shaped_scores(text, top_k, taxonomy)) or _guarded(
        functools.partial(_parse_emotion_scores, taxonomy=taxonomy), text
    )


def parse_emotion_scores(text: str) -> list[tuple[str, float]]:
    """Read the teacher's soft labels from a stage-3 reply (top-5 emotions, each with a 0.0-1.0 level).

    Accepts ``fear 0.9``, ``fear: 0.9``, ``fear - 0.9``, ``fear (0.9)``, ``fear = .9``, ``Fear (expressiveness:
    0.9)``, ``90%``, ``9/10``, comma-separated one-liners, JSON objects (``{"fear": 0.9}``, ``{"emotion": "fear",
    "score": 0.9}``) and lists (``[["fear", 0.9]]``), code fences, stray prose and a cut-off last line. Decisions:

    * Emotion words go through :func:`~emo_pillars.taxonomy.normalize_emotion`; anything outside the 28 classes
      (a character's name, "plot") is dropped. Word levels ("high") are not scores: such entries are skipped.
    * ``%`` and ``/10`` (``/100``, ``/5``) are explicit. Bare numbers share one scale per reply, chosen from their
      maximum: all <= 1 is the 0-1 scale, otherwise <= 10 a 0-10 scale, otherwise <= 100 a percentage; a
      number above 100, or above its explicit scale, is invalid and its entry is dropped.
    * An emotion named twice (``anxiety`` and ``nervousness``) keeps its highest score, at the rank position of
      its first mention; the result is sorted by score, best first, ties in order of appearance.

    Args:
        text: The stage-3 reply, prefill included.

    Returns:
        (class name, score in [0, 1]) pairs, unique emotions, best first; never raises.

    Examples:
        >>> parse_emotion_scores("1. fear 0.9\\n2. Nervousness: 60%\\n3. sadness (7/10)\\n4. relief - 0.1")
        [('fear', 0.9), ('sadness', 0.7), ('nervousness', 0.6), ('relief', 0.1)]
        >>> parse_emotion_scores('```json\\n{"joy": 8, "excitement": 9, "surprise": 4}\\n```')
        [('excitement', 0.9), ('joy', 0.8), ('surprise', 0.4)]
    """
    return parse_emotion_scores_result(text).value


# --- Free text (context, cleaned context, rewritten utterance) ------------------------------------------------------
_PREAMBLE_RE = re.compile(
    r"^\s*(?:(?:sure|okay|ok|certainly|of course)[,!.]?\s*)?(?:here(?:'s| is| are)\b[^:\n]{0,80}:|"
    r"(?:rewritten|revised|cleaned|new)?\s*(?:text|thought|utterance|context|situation|version|answer)\s*:)\s*",
    re.IGNORECASE,
)
_NOTE_RE = re.compile(r"\n\s*(?:\(?note|explanation|\*\*note)\b.*$", re.IGNORECASE | re.DOTALL)


def _parse_text(text: str, single_line: bool) -> ParseResult[str]:
    body = strip_code_fences(text).strip()
    if not body:
        return ParseResult("", False, EMPTY)
    body = _NOTE_RE.sub("", body).strip()
    while True:
        stripped = _PREAMBLE_RE.sub("", body, count=1).strip()
        if stripped == body:
            break
        body = stripped
    if single_line:
        lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
        body = lines[0] if lines else ""
    body = " ".join(body.split())
    unquoted, unclosed, rest, quoted = _unquote(body)
    if quoted and not unclosed and not rest.strip(" .") and not any(q in unquoted for q in '"“”'):
        body = unquoted.strip()
    body = body.strip("*_` ")
    if len(_ALPHA_RE.findall(body)) < 2:
        return ParseResult("", False, NO_VALID_ITEMS)
    return ParseResult(body, True, None if body.endswith(_TERMINAL + ('"', "”")) else TRUNCATED)


def parse_text_result(text: str, single_line: bool = False) -> ParseResult[str]:
    """Read a free-text reply (a context, a cleaned context, a rewritten utterance).

    Drops code fences, a leading "Here is the rewritten text:" or "Context:", a trailing "Note: ..." and, for
    ``single_line``, every line after the first; strips enclosing quotes and collapses whitespace.

    Args:
        text: The reply.
        single_line: Keep only the first non-empty line (rewritten utterances).

    Returns:
        A :class:`ParseResult` whose value is the text; ``reason`` is ``"empty"``/``"no_valid_items"`` when nothing
        usable is left, or ``"truncated"`` (with ``ok=True``) when the text does not end a sentence.

    Examples:
        >>> parse_text_result('Here is the rewritten thought:\n"I sold it. It is done."').value
        'I sold it. It is done.'
    """
    try:
        return _parse_text(text[:MAX_CHARS] if isinstance(text, str) else "", single_line)
    except Exception:
        return ParseResult("", False, INTERNAL_ERROR)


#: Stage name (as in ``run.json``) -> structured parser, for the pipeline.
RESULT_PARSERS: dict[str, Callable[[str], ParseResult]] = {
    "characters": parse_characters_result,
    "utterances": parse_utterances_result,
    "labels": parse_emotion_scores_result,
}
