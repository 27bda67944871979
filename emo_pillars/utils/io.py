"""Small file helpers: atomic writes, so a crash never leaves a half-written output file.

Files written here get the mode an ordinary ``open(path, "w")`` would give them (``0o666`` less the process umask,
so ``0644`` under the usual ``022``), not the private ``0600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError

__all__ = [
    "LOCK_FILE",
    "OutputLock",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_write_jsonl",
    "atomic_write_json",
    "current_umask",
    "replace_directory",
    "check_output_folder",
]


def current_umask() -> int:
    """The process umask: read from ``/proc`` where it can be (``os.umask`` can only be read by changing it, which
    races with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    The file gets mode ``0o666 & ~umask``, like any file the user creates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> Path:
    """Write one JSON object per line (UTF-8, not ASCII-escaped), atomically."""
    return atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def replace_directory(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the finished folder ``source`` (a temporary sibling of ``target``) in place of ``target``.

    On Linux the two folders are swapped in one atomic ``renameat2(RENAME_EXCHANGE)``, so ``target`` is at every
    moment either the previous folder, whole, or the new one; elsewhere the previous folder is renamed aside first
    (a kill between the two renames leaves it whole beside ``target``). The previous folder is then deleted.
    """
    import shutil

    source, target = Path(source), Path(target)
    if not target.exists():
        os.replace(source, target)
        return target
    if _exchange(source, target):
        shutil.rmtree(source, ignore_errors=True)  # now holds the previous folder
        return target
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, aside)
    os.replace(source, target)
    shutil.rmtree(aside, ignore_errors=True)
    return target


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with ``renameat2(RENAME_EXCHANGE)``; ``False`` where that is not available."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    return result == 0


#: The lock file :class:`OutputLock` keeps in a folder.
LOCK_FILE = ".lock"


class OutputLock:
    """An exclusive lock on an output folder (``<folder>/.lock``), so two processes never write one folder.

    The lock is a :class:`filelock.FileLock` (``flock`` on POSIX, ``msvcrt`` locking on Windows), which the system
    releases when the process ends, however it ends (``kill -9`` included), so a crashed run never leaves a stale
    lock. The holder (pid, host) is written beside it, in ``<folder>/.lock.holder``, for the refusal to name.

    Args:
        folder: The output folder (created if missing).
        hint: What the refusal tells the user to do.

    Examples:
        >>> import tempfile
        >>> with OutputLock(tempfile.mkdtemp()):
        ...     pass
    """

    def __init__(self, folder: str | os.PathLike, hint: str = "wait for it to finish or choose another --output"):
        self.folder = Path(folder)
        self.hint = hint
        self.path = self.folder / LOCK_FILE
        self.holder_path = self.folder / f"{LOCK_FILE}.holder"
        self._lock: Any = None

    def acquire(self) -> OutputLock:
        from filelock import FileLock, Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            holder = self._holder() or "another process"
            raise ConfigError(f"{self.folder} is being written by {holder} (lock {self.path}): {self.hint}") from None
        self._lock = lock
        atomic_write_text(self.holder_path, f"pid {os.getpid()} on host {socket.gethostname()}\n")
        return self

    def _holder(self) -> str:
        try:
            return self.holder_path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, bytes, Any]]:
    r"""``(line, raw, value)`` for each non-blank line of a JSONL file: its 1-based number, its bytes, and the parsed
    value, or an :class:`~emo_pillars.errors.InputError` naming the file and line where it is not JSON (the caller
    decides whether that stops the read or counts a bad row).

    Examples:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> _ = f.write_text('{"a": 1}\n\nnot json\n')
        >>> [(line, type(value).__name__) for line, _, value in read_jsonl(f)]
        [(1, 'dict'), (3, 'InputError')]
    """
    name = os.fspath(path)
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                value: Any = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                value = InputError(f"not valid JSON ({err})", path=name, line=line)
            yield line, raw, value


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine): the owner of a staging folder, a lock.

    Examples:
        >>> pid_alive(os.getpid())
        True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staged_folder(target: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``target`` to fill; when the block ends it replaces ``target`` whole
    (:func:`replace_directory`, with the user's umask), and on any failure it is removed, ``target`` untouched.

    Examples:
        >>> with staged_folder("out/model") as staging:  # doctest: +SKIP
        ...     (staging / "config.json").write_text("{}")
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; the folder follows the user's umask
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_output_folder(path: str | os.PathLike, option: str = "--output") -> Path:
    """``path`` as a folder to write: refused when it, or a parent, is an existing file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is an existing file, not a folder: choose a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {path}: {parent} is a file, not a folder")
            break
    return path
