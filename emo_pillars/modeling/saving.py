"""What saving a model will write, known before it is written: the bytes of its weights.

Safetensors stores tensors uncompressed, so a weights file is at least as large as the tensors it holds; the checks
before a final save, an export and an import (:func:`~emo_pillars.utils.io.check_space`) compare that with the free
space and the file-size limit, and refuse where it certainly does not fit.

Examples:
    >>> import torch
    >>> name, need = weights_needed(torch.nn.Linear(4, 2))
    >>> name, need.total, need.largest  # 8 + 2 float32 values
    ('model.safetensors', 40, 40)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import WriteError
from ..utils.io import SpaceNeed, disk_error_cause

__all__ = ["weights_file", "weights_needed", "naming_weights"]

#: Below this, ``save_pretrained`` writes one weights file (its shards are 5 GB or more).
ONE_FILE_BYTES = 4_000_000_000


def weights_file(model: Any) -> str:
    """The weights file ``save_pretrained`` writes for ``model``: an unmerged LoRA model's adapter, or the model."""
    return "adapter_model.safetensors" if hasattr(model, "peft_config") else "model.safetensors"


def weights_needed(model: Any) -> tuple[str, SpaceNeed]:
    """The weights file a save writes, and what it needs at the least.

    The estimate: the bytes of every tensor the file stores (tensors that share memory, such as tied embeddings,
    counted once; an unmerged LoRA model stores only its trainable tensors, the adapter and the head). The tokenizer,
    config and card (tens of kB to a few MB) are not counted. Below :data:`ONE_FILE_BYTES` the weights are one file;
    above, the largest file is at least the largest tensor.

    Args:
        model: A ``torch.nn.Module`` (a ``transformers`` model or a ``peft`` one).

    Returns:
        ``(file name, need)``: ``model.safetensors`` or ``adapter_model.safetensors``, and the
        :class:`~emo_pillars.utils.io.SpaceNeed` whose ``total`` and ``largest`` are certain.
    """
    name = weights_file(model)
    adapter = name.startswith("adapter")
    tensors = [p for p in model.parameters() if p.requires_grad] if adapter else list(model.state_dict().values())
    unique = {(t.data_ptr(), t.numel()): t.numel() * t.element_size() for t in tensors}
    total = sum(unique.values())
    largest = total if total < ONE_FILE_BYTES else max(unique.values(), default=0)
    return name, SpaceNeed(f"the model's weights, {total:,} bytes", total=total, largest=largest)


@contextmanager
def naming_weights(path: str | os.PathLike) -> Iterator[None]:
    """Inside the block, a write of safetensors' refused by the file system names the weights file ``path``: the
    error safetensors raises (``SafetensorError: ... I/O error: File too large``) names no file, and the file it began
    is gone by then. Any other error passes unchanged.

    Examples:
        >>> with naming_weights("out/model.safetensors"):  # doctest: +SKIP
        ...     model.save_pretrained("out")
    """
    try:
        yield
    except Exception as error:
        cause = disk_error_cause(error) if type(error).__name__ == "SafetensorError" else None
        if cause is None:
            raise
        raise WriteError(path, cause) from error
