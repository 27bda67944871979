"""A per-stage, append-only cache of LLM replies: the pipeline's resume mechanism.

Every call is keyed by a hash of (model, revision, prompt, prefill, token budget, decoding settings). Replies are
appended to ``<cache_dir>/<stage>.jsonl`` and flushed to disk after every batch, so a run killed at any moment
(even with SIGKILL) loses at most the batch in flight; re-running the same command re-does only missing calls.
A line cut short by the crash is ignored when the cache is read back.

Examples:
    >>> import tempfile
    >>> from emo_pillars.generation.cache import ReplyCache
    >>> cache = ReplyCache(tempfile.mkdtemp(), "labels")
    >>> cache.put_many([("k1", {"text": "1. joy 0.9"})])
    >>> cache.get("k1")["text"], len(ReplyCache(cache.path.parent, "labels"))
    ('1. joy 0.9', 1)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .backends.base import ChatPrompt, DecodingConfig

__all__ = ["call_key", "ReplyCache"]


def call_key(
    model: str,
    revision: str | None,
    prompt: ChatPrompt,
    max_new_tokens: int,
    decoding: DecodingConfig,
) -> str:
    """A stable sha256 over everything that decides a reply."""
    payload = {
        "model": model,
        "revision": revision,
        "messages": prompt.as_messages(),
        "prefill": prompt.prefill,
        "max_new_tokens": max_new_tokens,
        "decoding": [decoding.temperature, decoding.top_p, decoding.repetition_penalty, decoding.seed],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class ReplyCache:
    """The replies of one stage, loaded from and appended to ``<folder>/<stage>.jsonl``.

    Args:
        folder: The cache folder (created if missing).
        stage: The stage name; one file per stage.
        writable: ``False`` on processes that must not write (non-main ranks).
    """

    def __init__(self, folder: str | os.PathLike, stage: str, writable: bool = True):
        self.path = Path(folder) / f"{stage}.jsonl"
        self.writable = writable
        self._entries: dict[str, dict[str, Any]] = {}
        self.skipped_lines = 0
        if self.path.exists():
            with self.path.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    try:
                        row = json.loads(line)
                        self._entries[row["key"]] = row
                    except (json.JSONDecodeError, KeyError, TypeError):
                        self.skipped_lines += 1  # a line cut short by a crash

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached entry (``text``, token counts, ``finish_reason``) or ``None``."""
        return self._entries.get(key)

    def put_many(self, entries: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Add entries and make them durable (append, flush, fsync) before returning."""
        rows = [{"key": key, **value} for key, value in entries]
        for row in rows:
            self._entries[row["key"]] = row
        if not self.writable or not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # the previous run died mid-line: start a fresh one
                    handle.write(b"\n")
            handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
