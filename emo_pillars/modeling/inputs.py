"""The one input format of emo-pillars models, shared by training and inference.

A model sees an example in one of two layouts:

* **context-less**: the utterance alone, one segment.
* **contextual**: a text pair; the first segment is the situation (``context``), the second is
  ``"{character}: {utterance}"``. Token types tell the encoder which segment is which.

The same strings go to the tokenizer during training (:func:`tokenize_examples`), in
:meth:`emo_pillars.modeling.EmoPillarsClassifier.predict`, and in a ``transformers.pipeline``
(:func:`pipeline_inputs`). This module imports nothing heavy; the tokenizer and model are passed in.

Examples:
    >>> format_inputs(["I did it!"])
    (['I did it!'], None)
    >>> format_inputs(["I did it!"], contexts=["Mara finally passed the exam."], characters=["Mara"])
    (['Mara finally passed the exam.'], ['Mara: I did it!'])
    >>> pipeline_inputs(["I did it!"], contexts=["Mara finally passed the exam."], characters=["Mara"])
    [{'text': 'Mara finally passed the exam.', 'text_pair': 'Mara: I did it!'}]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..errors import ConfigError, InputError

logger = logging.getLogger(__name__)

__all__ = [
    "InputFormat",
    "INPUT_FORMATS",
    "DEFAULT_MAX_LENGTH",
    "format_utterance",
    "format_inputs",
    "pipeline_inputs",
    "resolve_max_length",
    "encode_inputs",
    "tokenize_examples",
    "ensure_token_types",
    "check_texts",
]

InputFormat = Literal["context_less", "contextual"]
INPUT_FORMATS: tuple[str, ...] = ("context_less", "contextual")

#: The paper's maximum sequence lengths per input format.
DEFAULT_MAX_LENGTH: Mapping[str, int] = {"context_less": 128, "contextual": 512}


def check_input_format(input_format: str) -> str:
    """Return ``input_format`` if it is one of :data:`INPUT_FORMATS`, else raise :class:`ConfigError`."""
    if input_format not in INPUT_FORMATS:
        raise ConfigError(f"input format must be one of {INPUT_FORMATS}, got {input_format!r}")
    return input_format


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
) -> tuple[list[str], list[str] | None]:
    """Turn utterances (and optional contexts and characters) into the segments a model reads.

    Args:
        utterances: One utterance or a list of them.
        contexts: ``None`` for context-less input, else one context per utterance (a single string is repeated).
        characters: The speaking characters (contextual input only); a single string is repeated.

    Returns:
        ``(text, text_pair)``: without contexts ``text`` are the utterances and ``text_pair`` is ``None``; with
        contexts ``text`` are the contexts and ``text_pair`` the ``"character: utterance"`` strings.

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
) -> list[str] | list[dict[str, str]]:
    """The same inputs in the form ``transformers.pipeline("text-classification")`` takes.

    Context-less inputs are plain strings; contextual ones are ``{"text": context, "text_pair": "character:
    utterance"}`` dicts.
    """
    text, text_pair = format_inputs(utterances, contexts, characters)
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


def encode_inputs(tokenizer: Any, text: Sequence[str], text_pair: Sequence[str] | None, max_length: int) -> Any:
    """Tokenize model segments (from :func:`format_inputs`) with the one truncation policy, unpadded.

    A single segment is cut at ``max_length``. A pair keeps the utterance whole and cuts the context
    (``only_first``); where the utterance alone does not fit, that row falls back to cutting both
    (``longest_first``). Every cut text is reported once with a warning; nothing raises for a long text.
    Training (:func:`tokenize_examples`) and inference (``EmoPillarsClassifier``) both call this.

    Returns:
        The tokenizer's ``BatchEncoding`` of lists (pad it with ``tokenizer.pad``).
    """
    text = list(text)
    if text_pair is None:
        encoding = tokenizer(text, truncation=True, max_length=max_length)
        full = [i for i, ids in enumerate(encoding["input_ids"]) if len(ids) >= max_length]
        if full:
            lengths = [len(ids) for ids in tokenizer([text[i] for i in full])["input_ids"]]
            cut = sum(length > max_length for length in lengths)
            if cut:
                logger.warning("%d text(s) longer than max_length %d were truncated", cut, max_length)
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
    keys = rows[0].keys() if rows else ["input_ids"]
    from transformers import BatchEncoding

    return BatchEncoding({key: [row[key] for row in rows] for key in keys})


def tokenize_examples(
    tokenizer: Any,
    examples: Mapping[str, Sequence[Any]],
    input_format: str = "context_less",
    max_length: int | None = None,
) -> Any:
    """Tokenize a batch of dataset rows (columns ``utterance``, and for contextual input ``context`` and
    ``character``) in the model input format, with :func:`encode_inputs`.

    Usable directly as a ``datasets.Dataset.map(batched=True)`` function.

    Args:
        tokenizer: A Hugging Face tokenizer.
        examples: A batch of rows as a column mapping.
        input_format: ``"context_less"`` or ``"contextual"``.
        max_length: Truncation length; see :func:`resolve_max_length`.

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
        text, text_pair = format_inputs(examples["utterance"], examples["context"], characters)
    return encode_inputs(tokenizer, text, text_pair, max_length)


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
