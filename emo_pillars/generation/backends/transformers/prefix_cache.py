"""Shared-prefix reuse: the :class:`PrefixCaching` part of the backend. A group's common token prefix is encoded
once; its key/value cache is kept (a small LRU store) and copied into the rows of each batch that use it, with the
suffixes padded between prefix and suffix so every row sees the plain path's tokens and positions.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


#: Shorter common prefixes are not worth a cache lookup.
_MIN_PREFIX_TOKENS = 16

#: Prefix caches kept (least recently used dropped first).
_PREFIX_STORE_SIZE = 8


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token lists."""
    return len(os.path.commonprefix([list(r) for r in rows])) if rows else 0


class PrefixCaching:
    """The shared-prefix key/value cache: each group's common prefix encoded once, copied into the rows of every batch that use it."""

    def _cuts(self, rows: list[list[int]], cuts: list[int]) -> list[int]:
        """Per row, the tokens taken from the prefix cache: at most all but the last (the forward pass needs a
        position to predict from), and none when fewer than ``_MIN_PREFIX_TOKENS``."""
        cuts = [min(cut, len(row) - 1) for row, cut in zip(rows, cuts)]
        return [cut if cut >= _MIN_PREFIX_TOKENS else 0 for cut in cuts]

    def _suffix_padded(self, rows: list[list[int]], cuts: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` laid out as ``[prefix][pads][suffix]`` per row; every row's prefix
        area is as long as the longest cut, so the suffixes start at the same column."""
        import torch

        pad = self.tokenizer.pad_token_id
        prefix_area = max(cuts)
        width = max(len(row) - cut for row, cut in zip(rows, cuts))
        ids, mask = [], []
        for row, cut in zip(rows, cuts):
            n_pad = prefix_area - cut + width - (len(row) - cut)
            ids.append(row[:cut] + [pad] * n_pad + row[cut:])
            mask.append([1] * cut + [0] * n_pad + [1] * (len(row) - cut))
        device = self.model.device
        return torch.tensor(ids, device=device), torch.tensor(mask, device=device)

    def _prefix_kv(self, prefix: list[int]):
        """The key/value cache (batch of one) of ``prefix``: from the store, else extended from the longest stored
        prefix of it, else computed; the result is stored (the last ``_PREFIX_STORE_SIZE`` prefixes are kept)."""
        import torch

        key = tuple(prefix)
        store = self._prefix_store
        if key in store:
            store.move_to_end(key)
            return store[key]
        base = max((k for k in store if len(k) < len(key) and key[: len(k)] == k), key=len, default=())
        cache = copy.deepcopy(store[base]) if base else None
        ids = torch.tensor([prefix[len(base) :]], device=self.model.device)
        with torch.inference_mode():
            cache = self.model(input_ids=ids, cache=cache, use_cache=True).cache
        self.prefix_tokens_encoded += len(prefix) - len(base)
        store[key] = cache
        while len(store) > _PREFIX_STORE_SIZE:
            store.popitem(last=False)
        return cache

    def _batch_cache(self, rows: list[list[int]], cuts: list[int]):
        """A fresh cache for a batch (``generate`` extends it in place): row b holds the keys and values of its first
        ``cuts[b]`` tokens, then zeros up to the longest cut (masked out by the attention mask)."""
        import torch
        from transformers import DynamicCache

        prefix_area = max(cuts)
        sources = {tuple(row[:cut]): None for row, cut in zip(rows, cuts) if cut}
        for key in sources:
            sources[key] = [(layer.keys, layer.values) for layer in self._prefix_kv(list(key)).layers]
        if len(sources) == 1 and min(cuts) == prefix_area:
            # One prefix for every row (the definitions block of the label prompts): broadcast views, no copies;
            # the model's first cache update materialises them once.
            (layers,) = sources.values()
            shared = [(k.expand(len(rows), -1, -1, -1), v.expand(len(rows), -1, -1, -1)) for k, v in layers]
            with torch.inference_mode():
                return DynamicCache(ddp_cache_data=shared)
        n_layers = len(next(iter(sources.values())))
        layers = []
        for layer in range(n_layers):
            keys, values = next(iter(sources.values()))[layer]
            shape = (len(rows), keys.shape[1], prefix_area, keys.shape[3])
            batch_keys = keys.new_zeros(shape)
            batch_values = values.new_zeros(shape[:3] + (values.shape[3],))
            for b, (row, cut) in enumerate(zip(rows, cuts)):
                if cut:
                    k, v = sources[tuple(row[:cut])][layer]
                    batch_keys[b, :, :cut] = k[0, :, :cut]
                    batch_values[b, :, :cut] = v[0, :, :cut]
            layers.append((batch_keys, batch_values))
        with torch.inference_mode():
            return DynamicCache(ddp_cache_data=layers)

    def clear_prefix_cache(self) -> None:
        """Drop the stored prefix caches (they are also dropped by :meth:`close`)."""
        self._prefix_store.clear()
