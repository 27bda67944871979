"""The input formats of emo-pillars models, shared by training and inference.

A model declares one of three formats (``config.emo_pillars.input_format``):

* ``context_less``: the utterance alone, one segment.
* ``contextual`` (this library's pair): a text pair; the first segment is the situation (``context``), the second
  is ``"{character}: {utterance}"``. Token types tell the encoder which segment is which.
* ``contextual_text`` (the paper's released contextual models): one text, the context concatenated with the
  speaker and the utterance, rendered from a template (``config.emo_pillars.input_template``, default
  :data:`PAPER_TEMPLATE`). Too long a text loses the start of its context, never the utterance at its end.

The same strings go to the tokenizer during training (:func:`tokenize_examples`), in
:meth:`emo_pillars.modeling.EmoPillarsClassifier.predict`, and in a ``transformers.pipeline``
(:func:`pipeline_inputs`). This module imports nothing heavy; the tokenizer and model are passed in.

Texts longer than the model reads are truncated (``long_inputs="truncate"``, the default: one forward pass per
input, as the models were trained and evaluated) or cut into overlapping windows (``long_inputs="window"``, see
:func:`encode_windows`), every window scored and the scores pooled.

Examples:
    >>> format_inputs(["I did it!"])
    (['I did it!'], None)
    >>> format_inputs(["I did it!"], contexts=["Mara finally passed the exam."], characters=["Mara"])
    (['Mara finally passed the exam.'], ['Mara: I did it!'])
    >>> pipeline_inputs(["I did it!"], contexts=["Mara finally passed the exam."], characters=["Mara"])
    [{'text': 'Mara finally passed the exam.', 'text_pair': 'Mara: I did it!'}]
    >>> format_inputs(["I did it!"], ["Mara finally passed the exam."], ["Mara"], template=PAPER_TEMPLATE)
    (['Mara finally passed the exam. Mara: I did it!'], None)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from ..errors import ConfigError, InputError

logger = logging.getLogger(__name__)

__all__ = [
    "InputFormat",
    "INPUT_FORMATS",
    "CONTEXTUAL_FORMATS",
    "PAPER_TEMPLATE",
    "LONG_INPUTS",
    "DEFAULT_MAX_LENGTH",
    "check_input_format",
    "check_template",
    "check_long_inputs",
    "encode_windows",
    "pool_windows",
    "format_utterance",
    "format_inputs",
    "pipeline_inputs",
    "resolve_max_length",
    "encode_inputs",
    "tokenize_examples",
    "ensure_token_types",
    "check_texts",
]

InputFormat = Literal["context_less", "contextual", "contextual_text"]
INPUT_FORMATS: tuple[str, ...] = ("context_less", "contextual", "contextual_text")
#: The formats that read a context with the utterance.
CONTEXTUAL_FORMATS: tuple[str, ...] = ("contextual", "contextual_text")
#: The single contextual text of the paper's released models. Their cards say the input is "a context concatenated
#: with a character description and an utterance"; ``{utterance}`` is the speaker line (``"character: utterance"``,
#: as in the pair). The separators are not published: see ``emo_pillars/modeling/published.json``.
PAPER_TEMPLATE = "{context} {utterance}"
#: How a text longer than the model reads is handled: ``truncate`` (one pass) or ``window`` (windows, pooled).
LONG_INPUTS: tuple[str, ...] = ("truncate", "window")
#: Windows overlap by this share of ``max_length`` tokens.
WINDOW_OVERLAP = 0.25

#: The paper's maximum sequence lengths per input format.
DEFAULT_MAX_LENGTH: Mapping[str, int] = {"context_less": 128, "contextual": 512, "contextual_text": 512}


def check_input_format(input_format: str) -> str:
    """Return ``input_format`` if it is one of :data:`INPUT_FORMATS`, else raise :class:`ConfigError`."""
    if input_format not in INPUT_FORMATS:
        raise ConfigError(f"input format must be one of {INPUT_FORMATS}, got {input_format!r}")
    return input_format


def check_template(template: str) -> str:
    """Return ``template`` if it renders a context and an utterance (``{context}``, ``{utterance}``), else refuse.

    Examples:
        >>> check_template("{context} </s> {utterance}")
        '{context} </s> {utterance}'
    """
    if not isinstance(template, str):
        raise ConfigError(f"input_template must be a string, got {type(template).__name__}")
    try:
        rendered = template.format(context="\0c", utterance="\0u")
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"input_template may use only {{context}} and {{utterance}}: {template!r} ({error})"
        ) from None
    if "\0c" not in rendered or "\0u" not in rendered:
        raise ConfigError(f"input_template must hold {{context}} and {{utterance}}, got {template!r}")
    return template


def check_long_inputs(long_inputs: str) -> str:
    """Return ``long_inputs`` if it is one of :data:`LONG_INPUTS`, else raise :class:`ConfigError`."""
    if long_inputs not in LONG_INPUTS:
        raise ConfigError(f"long_inputs must be 'truncate' or 'window', got {long_inputs!r}")
    return long_inputs


def format_utterance(utterance: str, character: str | None = None) -> str:
    """The second segment of a contextual input: ``"character: utterance"`` (the utterance alone without a name).

    Examples:
        >>> format_utterance("Not again.", "Tom"), format_utterance("Not again.")
        ('Tom: Not again.', 'Not again.')
    """
    character = (character or "").strip()
    return f"{character}: {utterance}" if character else utterance


def _as_list(values: str | Sequence[str] | None, n: int, name: str) -> list[str | None]:
    if values is None:
        return [None] * n
    if isinstance(values, str):
        values = [values] * n if n != 1 else [values]
    values = list(values)
    if len(values) != n:
        raise InputError(f"got {len(values)} {name} for {n} utterances", field=name)
    return values


def format_inputs(
    utterances: str | Sequence[str],
    contexts: str | Sequence[str] | None = None,
    characters: str | Sequence[str] | None = None,
    template: str | None = None,
) -> tuple[list[str], list[str] | None]:
    """Turn utterances (and optional contexts and characters) into the segments a model reads.

    Args:
        utterances: One utterance or a list of them.
        contexts: ``None`` for context-less input, else one context per utterance (a single string is repeated).
        characters: The speaking characters (contextual input only); a single string is repeated.
        template: The ``contextual_text`` format: render each context and speaker line into one text with this
            template (see :data:`PAPER_TEMPLATE`); ``None`` for the pair.

    Returns:
        ``(text, text_pair)``: without contexts ``text`` are the utterances and ``text_pair`` is ``None``; with
        contexts ``text`` are the contexts and ``text_pair`` the ``"character: utterance"`` strings; with a
        ``template`` ``text`` are the rendered texts and ``text_pair`` is ``None``.

    Raises:
        InputError: When the lists differ in length or an utterance is not a string.
    """
    if isinstance(utterances, str):
        utterances = [utterances]
    utterances = list(utterances)
    for i, utterance in enumerate(utterances):
        if not isinstance(utterance, str):
            raise InputError(f"utterance {i} is {type(utterance).__name__}, not str", field="utterance")
    if contexts is None:
        # Context-less: the utterance alone (a character name has no place in this format).
        return utterances, None
    context_list = _as_list(contexts, len(utterances), "contexts")
    character_list = _as_list(characters, len(utterances), "characters")
    text = [c or "" for c in context_list]
    text_pair = [format_utterance(u, ch) for u, ch in zip(utterances, character_list)]
    if template is not None:
        check_template(template)
        return [template.format(context=c, utterance=u).strip() for c, u in zip(text, text_pair)], None
    return text, text_pair


def check_texts(utterances: str | Sequence[str], name: str = "text") -> list[str]:
    """The utterances as a list, refusing an empty list and empty or whitespace-only texts (one line).

    Examples:
        >>> check_texts("Hi!")
        ['Hi!']
    """
    items = [utterances] if isinstance(utterances, str) else list(utterances)
    if not items:
        raise InputError(f"no {name} given")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f"{name} {i + 1} is {type(item).__name__}, not str")
        if not item.strip():
            raise InputError(f"{name} {i + 1} is empty or whitespace only")
    return items


def pipeline_inputs(
    utterances: str | Sequence[str],
    contexts: str | Sequence[str] | None = None,
    characters: str | Sequence[str] | None = None,
    template: str | None = None,
) -> list[str] | list[dict[str, str]]:
    """The same inputs in the form ``transformers.pipeline("text-classification")`` takes.

    Context-less inputs and ``contextual_text`` ones (with ``template``) are plain strings; pairs are
    ``{"text": context, "text_pair": "character: utterance"}`` dicts.
    """
    text, text_pair = format_inputs(utterances, contexts, characters, template)
    if text_pair is None:
        return text
    return [{"text": t, "text_pair": p} for t, p in zip(text, text_pair)]


def resolve_max_length(
    input_format: str = "context_less", max_length: int | None = None, tokenizer: Any = None, config: Any = None
) -> int:
    """The one place that decides the truncation length.

    ``max_length`` when given, else the paper's :data:`DEFAULT_MAX_LENGTH` for the format; then capped at what the
    model can read (the tokenizer's ``model_max_length`` and the config's position embeddings), with a warning.

    Examples:
        >>> resolve_max_length("contextual"), resolve_max_length("context_less", 64)
        (512, 64)
    """
    check_input_format(input_format)
    if max_length is None:
        max_length = DEFAULT_MAX_LENGTH[input_format]
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length <= 0:
        raise ConfigError(f"max_length must be a positive integer, got {max_length!r}")
    limits = []
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models offset positions by the padding index + 1.
        offset = 2 if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert") else 0
        limits.append(positions - offset)
    if limits and min(limits) < max_length:
        logger.warning("max_length %d is more than the model reads; using %d", max_length, min(limits))
        max_length = min(limits)
    return max_length


@contextmanager
def _truncation_side(tokenizer: Any, side: str | None) -> Iterator[None]:
    """Let ``tokenizer`` cut texts from ``side`` for the duration (``None``: as it is)."""
    before = getattr(tokenizer, "truncation_side", None)
    if side is None or before is None or before == side:
        yield
        return
    tokenizer.truncation_side = side
    try:
        yield
    finally:
        tokenizer.truncation_side = before


def encode_inputs(
    tokenizer: Any, text: Sequence[str], text_pair: Sequence[str] | None, max_length: int, keep_end: bool = False
) -> Any:
    """Tokenize model segments (from :func:`format_inputs`) with the one truncation policy, unpadded.

    A single segment is cut at ``max_length`` (from the start with ``keep_end``, so that the utterance at the end
    of a ``contextual_text`` input stays). A pair keeps the utterance whole and cuts the context
    (``only_first``); where the utterance alone does not fit, that row falls back to cutting both
    (``longest_first``). Every cut text is reported once with a warning; nothing raises for a long text.
    Training (:func:`tokenize_examples`) and inference (``EmoPillarsClassifier``) both call this.

    Returns:
        The tokenizer's ``BatchEncoding`` of lists (pad it with ``tokenizer.pad``).
    """
    text = list(text)
    if text_pair is None:
        with _truncation_side(tokenizer, "left" if keep_end else None):
            encoding = tokenizer(text, truncation=True, max_length=max_length)
        full = [i for i, ids in enumerate(encoding["input_ids"]) if len(ids) >= max_length]
        if full:
            lengths = [len(ids) for ids in tokenizer([text[i] for i in full])["input_ids"]]
            cut = sum(length > max_length for length in lengths)
            if cut:
                logger.warning(
                    "%d text(s) longer than max_length %d were truncated (long_inputs='window' scores them whole)",
                    cut,
                    max_length,
                )
        return encoding
    text_pair = list(text_pair)
    try:
        return tokenizer(text, text_pair, truncation="only_first", max_length=max_length)
    except Exception:  # tokenizers raise when only_first cannot make some pair fit: redo those rows
        pass
    rows = []
    cut = 0
    for first, second in zip(text, text_pair):
        try:
            rows.append(tokenizer(first, second, truncation="only_first", max_length=max_length))
        except Exception:
            cut += 1
            rows.append(tokenizer(first, second, truncation="longest_first", max_length=max_length))
    logger.warning(
        "%d utterance(s) longer than max_length %d with their character; context and utterance were both cut",
        cut,
        max_length,
    )
    return _stack(rows)


def _stack(rows: Sequence[Any]) -> Any:
    from transformers import BatchEncoding

    keys = rows[0].keys() if rows else ["input_ids"]
    return BatchEncoding({key: [value for row in rows for value in _rows_of(row[key])] for key in keys})


def _rows_of(value: Any) -> list[Any]:
    """One encoding's field as a list of rows (a single row's ids are a flat list of ints)."""
    return [value] if not value or isinstance(value[0], int) else list(value)


def encode_windows(
    tokenizer: Any, text: Sequence[str], text_pair: Sequence[str] | None, max_length: int
) -> tuple[Any, list[int]]:
    """Tokenize every input whole, as windows of ``max_length`` tokens that overlap by :data:`WINDOW_OVERLAP`.

    A single segment is cut into windows from start to end; a pair is windowed over its context, each window with
    the whole speaker line (a pair whose speaker line alone does not fit gets one window, cut as
    :func:`encode_inputs` cuts it). The tokenizer's own overflow machinery makes the windows (a fast tokenizer is
    needed). Pool the windows' scores with :func:`pool_windows`.

    Returns:
        ``(encoding, owners)``: one encoded row per window, and for each window the index of its input.

    Raises:
        ConfigError: The tokenizer is not a fast one.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("long_inputs='window' needs a fast tokenizer (tokenizer.json)")
    stride = int(max_length * WINDOW_OVERLAP)
    options = {"max_length": max_length, "stride": stride, "return_overflowing_tokens": True}
    text = list(text)
    if text_pair is None:
        encoding = tokenizer(text, truncation=True, **options)
        return encoding, list(encoding.pop("overflow_to_sample_mapping"))
    rows, owners = [], []
    for i, (first, second) in enumerate(zip(text, list(text_pair))):
        try:
            row = tokenizer(first, second, truncation="only_first", **options)
            count = len(row.pop("overflow_to_sample_mapping"))
        except Exception:  # the speaker line leaves no room to window the context: one window, as truncation cuts it
            row, count = encode_inputs(tokenizer, [first], [second], max_length), 1
        rows.append(row)
        owners.extend([i] * count)
    return _stack(rows), owners


def pool_windows(scores: Any, owners: Sequence[int], n: int, multi_label: bool) -> Any:
    """Pool window scores into one row per input: the maximum for multi-label scores (a label present in any part
    of the text is present), the mean of the probabilities for single-label ones.

    Examples:
        >>> import numpy as np
        >>> pool_windows(np.array([[0.2, 0.9], [0.7, 0.1]]), [0, 0], 1, multi_label=True).tolist()
        [[0.7, 0.9]]
    """
    import numpy as np

    scores = np.asarray(scores)
    owners = np.asarray(owners)
    pooled = np.empty((n, scores.shape[1]), dtype=scores.dtype)
    for i in range(n):
        rows = scores[owners == i]
        pooled[i] = rows.max(axis=0) if multi_label else rows.mean(axis=0)
    return pooled


def tokenize_examples(
    tokenizer: Any,
    examples: Mapping[str, Sequence[Any]],
    input_format: str = "context_less",
    max_length: int | None = None,
    input_template: str | None = None,
) -> Any:
    """Tokenize a batch of dataset rows (columns ``utterance``, and for contextual input ``context`` and
    ``character``) in the model input format, with :func:`encode_inputs`.

    Usable directly as a ``datasets.Dataset.map(batched=True)`` function.

    Args:
        tokenizer: A Hugging Face tokenizer.
        examples: A batch of rows as a column mapping.
        input_format: One of :data:`INPUT_FORMATS`.
        max_length: Truncation length; see :func:`resolve_max_length`.
        input_template: The ``contextual_text`` template (default :data:`PAPER_TEMPLATE`).

    Returns:
        The tokenizer's ``BatchEncoding`` (unpadded; a collator pads).
    """
    max_length = resolve_max_length(input_format, max_length)
    if input_format == "context_less":
        text, text_pair = format_inputs(examples["utterance"])
    else:
        if "context" not in examples:
            raise InputError("contextual input needs a 'context' column", field="context")
        characters = examples.get("character")
        template = (input_template or PAPER_TEMPLATE) if input_format == "contextual_text" else None
        text, text_pair = format_inputs(examples["utterance"], examples["context"], characters, template)
    return encode_inputs(tokenizer, text, text_pair, max_length, keep_end=input_format == "contextual_text")


def ensure_token_types(model: Any, tokenizer: Any = None, num_types: int = 2) -> bool:
    """Give a model with a single token type (RoBERTa) ``num_types`` token-type embeddings.

    The new rows start as copies of the existing one, so the model behaves as before until it is trained, and
    ``config.type_vocab_size`` is updated so the checkpoint reloads with plain ``from_pretrained``. When a fast
    ``tokenizer`` is given and it does not mark the second segment, its post-processor is replaced by one that
    gives the pair's second segment token type 1 and returns ``token_type_ids``; saved with the model, the
    tokenizer then does the same in ``transformers.pipeline``.

    Args:
        model: A ``transformers`` model whose embeddings have ``token_type_embeddings``.
        tokenizer: The model's tokenizer (optional).
        num_types: How many token types the model should have.

    Returns:
        ``True`` if the embedding was resized, ``False`` if it already had enough types.

    Raises:
        ConfigError: When the model has no token-type embedding to resize.
    """
    import torch

    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    old = getattr(embeddings, "token_type_embeddings", None)
    if old is None:
        raise ConfigError(f"{type(model).__name__} has no token_type_embeddings to resize")
    if old.num_embeddings >= num_types:
        return False
    new = torch.nn.Embedding(num_types, old.embedding_dim, device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight[: old.num_embeddings] = old.weight
        new.weight[old.num_embeddings :] = old.weight[-1]
    embeddings.token_type_embeddings = new
    model.config.type_vocab_size = num_types
    if tokenizer is not None:
        _mark_second_segment(tokenizer)
    return True


def _mark_second_segment(tokenizer: Any) -> None:
    """Make a fast tokenizer give the second segment of a pair token type 1 (RoBERTa gives 0 throughout)."""
    probe = tokenizer("a", "b", return_token_type_ids=True)
    if any(probe.get("token_type_ids") or []):
        return
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise ConfigError("resizing token types needs a fast tokenizer to mark the second segment")
    from tokenizers.processors import TemplateProcessing

    cls, sep = tokenizer.cls_token, tokenizer.sep_token
    # RoBERTa-style pairs: <s> A </s></s> B </s>; BERT-style: [CLS] A [SEP] B [SEP].
    double_sep = tokenizer.convert_ids_to_tokens(tokenizer("a", "b")["input_ids"]).count(sep) >= 3
    pair = f"{cls}:0 $A:0 {sep}:0 " + (f"{sep}:1 " if double_sep else "") + f"$B:1 {sep}:1"
    backend.post_processor = TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0",
        pair=pair,
        special_tokens=[(cls, tokenizer.convert_tokens_to_ids(cls)), (sep, tokenizer.convert_tokens_to_ids(sep))],
    )
    if "token_type_ids" not in tokenizer.model_input_names:
        tokenizer.model_input_names = [*tokenizer.model_input_names, "token_type_ids"]
