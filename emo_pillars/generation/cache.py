"""A per-step, append-only cache of LLM calls (replies and scores): the pipeline's resume mechanism.

Every call is keyed by a hash of everything that decides its answer (:func:`call_key`): the backend's
:meth:`~emo_pillars.generation.backends.base.LLMBackend.cache_identity` (model, revision, dtype, GGUF file ...),
the messages, the prefill, the constraint, the call kind, the scored continuations or the token budget and the
decoding settings. Entries (reply text or scores, token counts, finish reason) are appended to
``<cache_dir>/<step>.jsonl`` and handed to the system after every batch, so a process killed at any moment (even
with SIGKILL) loses at most the batch in flight; the pipeline fsyncs them after every chunk, so a machine crash loses
at most the chunk in flight. A line cut short by a crash is ignored when the cache is read back. Where the file
system refuses an append (a full disk, the file-size limit), the file is cut back to its last whole entry and a
:class:`~emo_pillars.errors.WriteError` names it: every entry written whole is kept.

Only an index (key -> byte offset) is held in memory, so a cache of the paper's ~700K calls costs about a hundred
megabytes, not the size of the replies; an entry is read back from disk when it is asked for. One cache may be read
and written from several threads (the pipeline's per-server lanes): a lock orders its file operations. A
:meth:`ReplyCache.snapshot` reads the cache as it was when taken: lanes that run side by side then find the same
entries whichever of them writes first, so a run's counts do not depend on the order the lanes finish in.

Examples:
    >>> import tempfile
    >>> from emo_pillars.generation.cache import ReplyCache
    >>> cache = ReplyCache(tempfile.mkdtemp(), "labels")
    >>> cache.put_many([("k1", {"text": "1. joy 0.9", "completion_tokens": 5})])
    >>> cache.get("k1")["text"], len(ReplyCache(cache.path.parent, "labels"))
    ('1. joy 0.9', 1)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..utils.io import append_whole_lines
from .backends.base import ChatPrompt, DecodingConfig

__all__ = ["call_key", "ReplyCache", "CacheSnapshot"]


def call_key(
    identity: Mapping[str, Any],
    prompt: ChatPrompt,
    *,
    kind: str = "generate",
    max_new_tokens: int = 0,
    decoding: DecodingConfig | None = None,
    continuations: Sequence[str] = (),
) -> str:
    """A stable hash over everything that decides a call's answer.

    Args:
        identity: The backend's :meth:`~emo_pillars.generation.backends.base.LLMBackend.cache_identity`.
        prompt: The prompt (messages, prefill and constraint all count).
        kind: ``"generate"`` or ``"score"``.
        max_new_tokens: The reply's token budget (generate calls).
        decoding: The decoding settings (generate calls).
        continuations: The scored continuations (score calls).

    Examples:
        >>> p = ChatPrompt.from_user("hi")
        >>> call_key({"model": "m", "dtype": "float32"}, p) != call_key({"model": "m", "dtype": "bfloat16"}, p)
        True
    """
    digest = hashlib.sha256(_identity_bytes(identity))
    parts = [kind, prompt.prefill, prompt.constraint.regex if prompt.constraint is not None else "\x00none"]
    for role, content in prompt.messages:
        parts += [role, content]
    if kind == "score":
        parts += ["\x00continuations", *continuations]
    else:
        d = decoding or DecodingConfig()
        parts.append(repr((max_new_tokens, d.temperature, d.top_p, d.repetition_penalty, d.seed)))
    # length-prefixed fields: no two different calls give the same byte string
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:32]


def _identity_bytes(identity: Mapping[str, Any]) -> bytes:
    key = tuple(sorted((str(k), repr(v)) for k, v in identity.items()))
    cached = _IDENTITIES.get(key)
    if cached is None:
        cached = _IDENTITIES[key] = json.dumps(dict(identity), sort_keys=True, default=str).encode("utf-8")
    return cached


_IDENTITIES: dict[tuple, bytes] = {}


class ReplyCache:
    """The calls of one step, indexed from and appended to ``<folder>/<step>.jsonl``.

    Args:
        folder: The cache folder (created on the first write).
        step: The step name; one file per step.
        writable: ``False`` on processes that must not write (non-main ranks); their entries stay in memory.
    """

    def __init__(self, folder: str | os.PathLike, step: str, writable: bool = True):
        self.path = Path(folder) / f"{step}.jsonl"
        self.writable = writable
        self._offsets: dict[str, int] = {}
        self._memory: dict[str, tuple[int, dict[str, Any]]] = {}  # key -> (its place among the puts, entry)
        self._puts = 0
        self._end = 0  # where the next entry will start in the file
        self._handle = None
        self._writer = None
        self._lock = threading.RLock()
        self.skipped_lines = 0
        if self.path.exists():
            with self.path.open("rb") as handle:
                offset = 0
                for line in handle:
                    key = self._key_of(line)
                    if key is None:
                        self.skipped_lines += 1  # a line cut short by a crash
                    else:
                        self._offsets[key] = offset
                    offset += len(line)
            self._end = offset

    @staticmethod
    def _key_of(line: bytes) -> str | None:
        if not line.endswith(b"\n"):
            return None
        try:
            row = json.loads(line)
            return row["key"] if isinstance(row, dict) and isinstance(row.get("key"), str) else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def __len__(self) -> int:
        return len(self._offsets.keys() | self._memory.keys())

    def __contains__(self, key: str) -> bool:
        return key in self._memory or key in self._offsets

    def _reader(self):
        if self._handle is None:
            self._handle = self.path.open("rb")
        return self._handle

    def mark(self) -> int:
        """A point in this cache's history: :meth:`get` with ``before=`` it sees only the entries added before."""
        with self._lock:
            return self._end if self.writable else self._puts

    def snapshot(self) -> CacheSnapshot:
        """This cache as it is now, for reading (entries added later are not seen); writes go to the cache."""
        return CacheSnapshot(self, self.mark())

    def get(self, key: str, before: int | None = None) -> dict[str, Any] | None:
        """The cached entry (``text`` or ``scores``, token counts, ``finish_reason``) or ``None``; with ``before``
        (a :meth:`mark`), ``None`` for an entry added after that mark."""
        with self._lock:
            place, entry = self._memory.get(key, (None, None))
            if entry is not None and (before is None or place < before):
                return entry
            offset = self._offsets.get(key)
            if offset is None or (self.writable and before is not None and offset >= before):
                return None
            handle = self._reader()
            handle.seek(offset)
            line = handle.readline()
        return json.loads(line)

    def put_many(self, entries: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Add entries and hand them to the system (an unbuffered append) before returning: a process killed after
        this loses none of them. :meth:`sync` makes them survive a machine crash too.

        Raises:
            WriteError: The file system refused the append; the file keeps every entry written whole.
        """
        rows = [{"key": key, **value} for key, value in entries]
        if not rows:
            return
        if not self.writable:
            with self._lock:
                for row in rows:
                    self._memory[row["key"]] = (self._puts, row)
                    self._puts += 1
            return
        lines = [(json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8") for row in rows]
        with self._lock:
            self._append([row["key"] for row in rows], lines)

    def _append(self, keys: list[str], lines: list[bytes]) -> None:
        offset = append_whole_lines(self._open_writer(), b"".join(lines), self.path)
        for key, data in zip(keys, lines):
            self._offsets[key] = offset
            offset += len(data)
        self._end = offset

    def _open_writer(self) -> Any:
        """The append handle (unbuffered: nothing waits in memory), opened on the first write; a line cut short by
        an earlier run is ended first, so the next entry starts a line of its own."""
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self.path.open("a+b", buffering=0)
            if self._writer.seek(0, os.SEEK_END) > 0:
                self._writer.seek(-1, os.SEEK_END)
                if self._writer.read(1) != b"\n":  # the previous run died mid-line
                    append_whole_lines(self._writer, b"\n", self.path)
        return self._writer

    def sync(self) -> None:
        """Make every entry written so far durable on disk (fsync)."""
        with self._lock:
            if self._writer is not None:
                os.fsync(self._writer.fileno())

    def close(self) -> None:
        """Sync and close the file handles (entries stay readable: the reader reopens on demand)."""
        with self._lock:
            if self._writer is not None:
                self.sync()
                self._writer.close()
                self._writer = None
            if self._handle is not None:
                self._handle.close()
                self._handle = None


class CacheSnapshot:
    """A :class:`ReplyCache` read as it was at a :meth:`~ReplyCache.mark`; what is put goes to the cache.

    Examples:
        >>> import tempfile
        >>> cache = ReplyCache(tempfile.mkdtemp(), "labels")
        >>> cache.put_many([("k1", {"text": "joy"})])
        >>> snapshot = cache.snapshot()
        >>> snapshot.put_many([("k2", {"text": "fear"})])
        >>> snapshot.get("k1")["text"], snapshot.get("k2"), cache.get("k2")["text"]
        ('joy', None, 'fear')
    """

    def __init__(self, cache: ReplyCache, mark: int):
        self.cache, self.mark = cache, mark

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry, if it was in the cache at the mark."""
        return self.cache.get(key, before=self.mark)

    def put_many(self, entries: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Add entries to the cache (:meth:`ReplyCache.put_many`)."""
        self.cache.put_many(entries)
