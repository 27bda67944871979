"""Small file helpers: atomic writes, so a crash never leaves a half-written output file, and full disks told apart.

Files written here get the mode an ordinary ``open(path, "w")`` would give them (``0o666`` less the process umask,
so ``0644`` under the usual ``022``), not the private ``0600`` of :func:`tempfile.mkstemp`.

A write the file system refuses (no space left, a quota, the file-size limit, a read-only mount) is told apart from a
bug in one place, :func:`refused_write`, and becomes one :class:`~emo_pillars.errors.WriteError` that names the file
(:func:`writing`, :func:`staged_folder`, :func:`atomic_write_bytes`, :func:`append_whole_lines`);
:func:`check_space` compares a write's stated size with the free space and the file-size limit before it starts.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EmoPillarsError, InputError, WriteError

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
    "DISK_ERRORS",
    "disk_error_cause",
    "refused_write",
    "writing",
    "append_whole_lines",
    "file_size_limit",
    "SpaceNeed",
    "check_space",
]

logger = logging.getLogger(__name__)

#: The refusals of a file system, by ``errno``, in the words of the error line.
DISK_ERRORS: dict[int, str] = {
    errno.ENOSPC: "no space left on device",
    getattr(errno, "EDQUOT", 122): "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.EROFS: "read-only file system",
}
FILE_TOO_LARGE = DISK_ERRORS[errno.EFBIG]
NO_SPACE = DISK_ERRORS[errno.ENOSPC]
#: The same refusals as words in a message (a library that wraps the OSError, as safetensors' Rust writer does:
#: ``I/O error: File too large (os error 27)``), lower-cased: the system's own words, then ours.
_DISK_WORDS: tuple[tuple[str, str], ...] = tuple(
    (words, cause)
    for code, cause in DISK_ERRORS.items()
    for words in dict.fromkeys((os.strerror(code).lower(), cause))
)


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

    The file gets mode ``0o666 & ~umask``, like any file the user creates. A write the file system refuses raises
    :class:`~emo_pillars.errors.WriteError` naming ``path``, which is then as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb", buffering=0) as handle:  # unbuffered: a refused write fails once, here
                _write_all(handle.fileno(), data)
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        cause = disk_error_cause(error)
        if cause is None:
            raise
        raise WriteError(path, cause) from error
    return path


def _write_all(fd: int, data: bytes) -> int:
    """Write all of ``data`` to ``fd`` (``os.write`` may write part of it); the bytes written when it fails are in the
    raised error's ``written`` attribute."""
    view, done = memoryview(data), 0
    while done < len(data):
        try:
            done += os.write(fd, view[done:])
        except OSError as error:
            error.written = done  # type: ignore[attr-defined]
            raise
    return done


def append_whole_lines(handle: Any, data: bytes, path: str | os.PathLike) -> int:
    """Append ``data`` (whole lines) to ``handle``, an unbuffered binary file opened for appending, and return the
    offset it starts at. Where the system refuses part of it, the file is cut back to the end of the last whole line
    written (so a reader never meets half a line) and :class:`~emo_pillars.errors.WriteError` names ``path``.

    Examples:
        >>> f = Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> with open(f, "ab", buffering=0) as handle:
        ...     append_whole_lines(handle, b'{"a": 1}\\n', f), append_whole_lines(handle, b'{"a": 2}\\n', f)
        (0, 9)
    """
    fd = handle.fileno()
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        _write_all(fd, data)
    except OSError as error:
        written = getattr(error, "written", 0)
        os.ftruncate(fd, start + data.rfind(b"\n", 0, written) + 1)
        cause = disk_error_cause(error)
        if cause is None:
            raise
        raise WriteError(path, cause) from error
    return start


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
def staged_folder(target: str | os.PathLike, prefix: str | None = None, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary sibling of ``target`` to fill; when the block ends it replaces ``target`` whole
    (:func:`replace_directory`, with the user's umask), and on any failure it is removed, ``target`` untouched.

    A write the file system refuses inside the block is one :class:`~emo_pillars.errors.WriteError` naming the file
    as it would have been in ``target`` (:func:`writing`).

    Args:
        target: The folder to put in place.
        prefix: The temporary folder's name starts with it (default ``.TARGET.``); a dead writer's folders are found
            by it.
        suffix: The temporary folder's name ends with it.

    Examples:
        >>> with staged_folder("out/model") as staging:  # doctest: +SKIP
        ...     (staging / "config.json").write_text("{}")
    """
    target = Path(target)
    with writing(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=prefix or f".{target.name}.", suffix=suffix, dir=target.parent))
    try:
        with writing(staging, shown_as=target):
            yield staging
            os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; the folder follows the user's umask
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------------------------------
# Refused writes: a full disk, a quota, the file-size limit, a read-only file system
# --------------------------------------------------------------------------------------------------------------------
def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from or while handling, innermost last."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def disk_error_cause(error: BaseException) -> str | None:
    """The file system's refusal behind ``error``, in words (a value of :data:`DISK_ERRORS`), or ``None``.

    Read from the ``errno`` of an ``OSError`` in the chain of ``error``, or from the system's words in the message
    of a library error that wraps one (safetensors' ``SafetensorError: ... I/O error: File too large``).

    Examples:
        >>> disk_error_cause(OSError(errno.ENOSPC, "No space left on device"))
        'no space left on device'
        >>> disk_error_cause(RuntimeError("Error while serializing: I/O error: File too large (os error 27)"))
        'file too large'
        >>> disk_error_cause(FileNotFoundError(errno.ENOENT, "No such file or directory")) is None
        True
    """
    for link in _chain(error):
        if isinstance(link, OSError) and link.errno is not None:
            if link.errno in DISK_ERRORS:
                return DISK_ERRORS[link.errno]
            continue  # another errno: a message naming a file is no evidence
        text = str(link).lower()
        for words, cause in _DISK_WORDS:
            if words in text:
                return cause
    return None


def file_size_limit() -> int | None:
    """The largest file this process may write (``RLIMIT_FSIZE``, what ``ulimit -f`` sets), or ``None``."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (what a file system can be asked about)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _grown_to_limit(where: Path) -> Path | None:
    """A file under ``where`` (or ``where`` itself) as large as the file-size limit: one a refused write stopped."""
    limit = file_size_limit()
    if limit is None:
        return None
    files = [where] if where.is_file() else sorted(where.rglob("*")) if where.is_dir() else []
    for path in files:
        try:
            if path.is_file() and path.stat().st_size >= limit:
                return path
        except OSError:
            continue
    return None


def _cause_on_disk(error: BaseException, where: Path) -> tuple[str | None, Path | None]:
    """For a write failure whose message names no cause (torch's archive writer says only ``unexpected pos``): the
    cause the disk shows, and the file it shows it in."""
    grown = _grown_to_limit(where)
    if grown is not None:
        return FILE_TOO_LARGE, grown
    if isinstance(error, OSError | RuntimeError) and shutil.disk_usage(_existing(where)).free == 0:
        return NO_SPACE, None
    return None, None


def refused_write(error: BaseException, where: str | os.PathLike) -> tuple[Path, str] | None:
    """``(file, cause)`` when ``error`` is the file system refusing a write under ``where``, else ``None``.

    The cause is read from the error (:func:`disk_error_cause`), or, where a library hides it, from the disk: a file
    under ``where`` grown to the process's file-size limit, or no free space at all. The file is the one the error
    names, else the one grown to the limit, else ``where``.
    """
    where = Path(where)
    cause = disk_error_cause(error)
    grown = None
    if cause is None and isinstance(error, OSError | RuntimeError):
        cause, grown = _cause_on_disk(error, where)
    elif cause == FILE_TOO_LARGE:
        grown = _grown_to_limit(where)
    if cause is None:
        return None
    named = next((link.filename for link in _chain(error) if isinstance(link, OSError) and link.filename), None)
    return (Path(os.fsdecode(named)) if named else grown or where), cause


def _shown(path: Path, where: Path, shown_as: str | os.PathLike | None) -> Path:
    """Where ``path``, a file under ``where``, ends up once ``where`` becomes ``shown_as``."""
    if shown_as is None:
        return path
    try:
        return Path(shown_as) / path.relative_to(where) if path != where else Path(shown_as)
    except ValueError:
        return path


@contextmanager
def writing(where: str | os.PathLike, shown_as: str | os.PathLike | None = None) -> Iterator[None]:
    """Turn a write the file system refuses inside the block into one :class:`~emo_pillars.errors.WriteError`
    naming the file (:func:`refused_write`); any other error passes unchanged.

    Args:
        where: The file or folder the block writes.
        shown_as: What ``where`` becomes once it is finished (a staged folder's target): the error names the file
            there, not in the temporary folder.

    Examples:
        >>> with writing("out"):  # doctest: +SKIP
        ...     save_everything("out")
    """
    where = Path(where)
    try:
        yield
    except WriteError as error:
        if shown_as is None:
            raise
        raise WriteError(_shown(Path(error.path), where, shown_as), error.cause, error.kept) from error.__cause__
    except EmoPillarsError:
        raise
    except Exception as error:
        found = refused_write(error, where)
        if found is None:
            raise
        path, cause = found
        raise WriteError(_shown(path, where, shown_as), cause) from error


def _size(n: int) -> str:
    """A byte count for a message.

    Examples:
        >>> _size(114_136), _size(3_500_000_000)
        ('114.1 kB', '3.5 GB')
    """
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class SpaceNeed:
    """What a write will put on disk, as its caller estimates it (each caller states how in its docstring).

    Attributes:
        basis: What the figures count, named in the message (``"the model's weights"``).
        total: Bytes the write needs at the least: less free space is refused.
        largest: Its largest file at the least: a lower file-size limit is refused.
        likely_total: Bytes it likely needs: less free space is warned about.
        likely_largest: Its likely largest file: a lower file-size limit is warned about.

    Examples:
        >>> SpaceNeed("the weights", total=440_000_000, largest=440_000_000).likely_total
        0
    """

    basis: str
    total: int = 0
    largest: int = 0
    likely_total: int = 0
    likely_largest: int = 0


def _shortfalls(free: int, limit: int | None, total: int, largest: int) -> list[tuple[str, str]]:
    short = []
    if total > free:
        short.append((NO_SPACE, f"{_size(total)} to write, {_size(free)} free"))
    if limit is not None and largest > limit:
        short.append((FILE_TOO_LARGE, f"a {_size(largest)} file, over the {_size(limit)} file-size limit"))
    return short


def check_space(target: str | os.PathLike, need: SpaceNeed) -> None:
    """Before a write: refuse it where it certainly does not fit, warn in one line where it looks short.

    The free space is that of ``target``'s file system (:func:`shutil.disk_usage` of its nearest existing folder),
    the file-size limit the process's ``RLIMIT_FSIZE``.

    Raises:
        WriteError: Less free space than ``need.total``, or a file-size limit below ``need.largest``; it names
            ``target``, the figures and ``need.basis``. Nothing has been written then.

    Examples:
        >>> check_space(tempfile.gettempdir(), SpaceNeed("nothing at all"))
    """
    target = Path(target)
    free, limit = shutil.disk_usage(_existing(target)).free, file_size_limit()
    certain = _shortfalls(free, limit, need.total, need.largest)
    if certain:
        cause = certain[0][0]
        raise WriteError(target, f"{cause} ({'; '.join(text for _, text in certain)}: {need.basis})")
    likely = _shortfalls(free, limit, need.likely_total, need.likely_largest)
    if likely:
        logger.warning(
            "%s may not fit: %s (an estimate of %s); writing it all the same",
            target,
            "; ".join(text for _, text in likely),
            need.basis,
        )


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
