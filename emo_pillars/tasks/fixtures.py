"""Small synthetic benchmark files in each task's official layout, for quick runs and for learning the formats.

IEMOCAP and EmoContext are licensed and cannot ship; GoEmotions and ISEAR are large downloads. The examples'
``--quick`` mode and first-time users need files that the real loaders accept, so :func:`write_sample_files` writes
a few dozen rows per split in exactly the official layout (TSV quoting, ISEAR's 42-column ``|`` export, IEMOCAP's
``SessionN/dialog`` tree, EmoContext's CRLF TSV with a header on train only). The sentences are templated and
carry obvious emotion words, so a short fine-tune learns them: the numbers a sample run prints say that the
recipe works end to end, not how well a model does on the real benchmark.

Examples:
    >>> import tempfile
    >>> from emo_pillars.tasks import get_task
    >>> folder = write_sample_files("emocontext", tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))  # and a hidden sample marker
    ['dev.txt', 'test.txt', 'train.txt']
    >>> data = get_task("emocontext").load(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..taxonomy import EMOTIONS
from .isear import ISEAR_COLUMNS, ISEAR_LABELS

__all__ = ["write_sample_files", "is_synthetic_sample", "SAMPLE_SENTENCES", "SAMPLE_MARKER"]

#: The file :func:`write_sample_files` leaves beside the sample (hidden: the benchmark loaders never read it).
SAMPLE_MARKER = ".emo_pillars_sample.json"

#: Templated sentences per coarse emotion; ``{who}`` and ``{what}`` are filled from the lists below.
SAMPLE_SENTENCES: dict[str, tuple[str, ...]] = {
    "joy": (
        "I am so happy that {who} called about {what}!",
        "What a wonderful day, {what} went perfectly.",
        "I laughed all evening with {who}, it was great.",
    ),
    "sadness": (
        "I feel so sad and lonely since {who} left.",
        "I cried when I heard about {what}.",
        "Nothing helps, I miss {who} so much.",
    ),
    "anger": (
        "I am furious that {who} lied to me about {what}.",
        "Stop it! I hate how {who} treats everyone.",
        "This is outrageous, {what} was ruined on purpose.",
    ),
    "fear": (
        "I am terrified that {who} will find out about {what}.",
        "My hands were shaking, I was scared of {what}.",
        "I could not sleep, afraid that {what} would happen again.",
    ),
    "neutral": (
        "{who} said the meeting about {what} is on Tuesday.",
        "The report on {what} has four pages.",
        "I will ask {who} where the keys are.",
    ),
    "disgust": (
        "Ugh, {who} left rotten food next to {what}, disgusting.",
        "It was revolting to watch {who} spit on the floor.",
    ),
    "shame": (
        "I was so ashamed when {who} saw me fail at {what}.",
        "I blushed and wanted to hide after my mistake with {what}.",
    ),
    "guilt": (
        "I feel guilty that I forgot {who}'s birthday.",
        "It was my fault that {what} went wrong and {who} paid for it.",
    ),
    "excitement": (
        "I can't wait, {what} starts tomorrow!",
        "Wow, {who} got us tickets for {what}!",
    ),
    "frustration": (
        "I have asked {who} five times about {what} and still nothing.",
        "Again the form for {what} was rejected, this is so annoying.",
    ),
}
_WHO = ("my sister", "the neighbour", "my boss", "an old friend", "my father", "the teacher", "Sam", "Ana")
_WHAT = ("the trip", "the exam", "the wedding", "the garden", "the new job", "the concert", "the car", "dinner")


def _sentences(labels: list[str], rng: random.Random) -> list[str]:
    """One templated sentence per label."""
    out = []
    for label in labels:
        template = rng.choice(SAMPLE_SENTENCES[label])
        out.append(template.format(who=rng.choice(_WHO), what=rng.choice(_WHAT)))
    return out


def _labels(classes: tuple[str, ...], n: int, rng: random.Random) -> list[str]:
    """``n`` labels cycling through ``classes`` (balanced), shuffled."""
    labels = [classes[i % len(classes)] for i in range(n)]
    rng.shuffle(labels)
    return labels


def _write(path: Path, lines: list[str], newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))


def _goemotions(root: Path, sizes: dict[str, int], rng: random.Random) -> None:
    classes = ("joy", "sadness", "anger", "fear", "neutral", "disgust")
    for split, n in sizes.items():
        labels = _labels(classes, n, rng)
        lines = []
        for i, (label, text) in enumerate(zip(labels, _sentences(labels, rng))):
            ids = [EMOTIONS.index(label)]
            if label == "joy" and i % 3 == 0:
                ids.append(EMOTIONS.index("excitement"))  # some multi-label rows
            quoted = '"' + text.replace('"', '""') + '"' if '"' in text else text
            lines.append(f"{quoted}\t{','.join(map(str, ids))}\tsample{split[:2]}{i:04d}")
        _write(root / f"{split}.tsv", lines)
    _write(root / "emotions.txt", list(EMOTIONS))


def _isear(root: Path, sizes: dict[str, int], rng: random.Random) -> None:

    n = sum(sizes.values())
    labels = _labels(ISEAR_LABELS, n, rng)
    lines = ["|".join(ISEAR_COLUMNS) + "|"]
    for i, (label, text) in enumerate(zip(labels, _sentences(labels, rng))):
        subject = i // len(ISEAR_LABELS) + 1
        code = ISEAR_LABELS.index(label) + 1
        coded = ["1"] * (len(ISEAR_COLUMNS) - 3)  # every coded field, through Field2
        coded[ISEAR_COLUMNS.index("ID")] = str(10000 + subject)
        coded[ISEAR_COLUMNS.index("SUBJ")] = str(subject)
        coded[ISEAR_COLUMNS.index("EMOT")] = str(code)
        coded[ISEAR_COLUMNS.index("Field1")] = label
        key = f"{subject:05d}{code:02d}{i:04d}"
        lines.append("|".join([*coded, key, text.replace(", ", " á "), "1"]) + "|")  # the export's line-break mark
    _write(root / "isear.csv", lines)


def _emocontext(root: Path, sizes: dict[str, int], rng: random.Random) -> None:
    openers = ("hey", "u there?", "guess what", "hi", "listen")
    replies = ("tell me", "what happened?", "hmm ok", "I'm here", "go on")
    coarse = {"happy": "joy", "sad": "sadness", "angry": "anger", "others": "neutral"}
    for split, n in sizes.items():
        labels = _labels(tuple(coarse), n, rng)
        texts = _sentences([coarse[label] for label in labels], rng)
        lines = ["id\tturn1\tturn2\tturn3\tlabel"] if split == "train" else []
        for i, (label, text) in enumerate(zip(labels, texts)):
            lines.append(f"{i}\t{rng.choice(openers)}\t{rng.choice(replies)}\t{text}\t{label}")
        _write(root / f"{split}.txt", lines, newline="\r\n")


def _iemocap(root: Path, sizes: dict[str, int], rng: random.Random) -> None:
    codes = {
        "neu": "neutral",
        "hap": "joy",
        "exc": "excitement",
        "sad": "sadness",
        "ang": "anger",
        "fru": "frustration",
    }
    turns_per_dialogue = 8
    n_train = sizes["train"] + sizes.get("dev", 0)
    for session in range(1, 6):
        n = sizes["test"] if session == 5 else max(turns_per_dialogue, n_train // 4)
        for d in range(max(1, n // turns_per_dialogue)):
            dialogue = f"Ses{session:02d}{'FM'[d % 2]}_impro{d + 1:02d}"
            labels = _labels(tuple(codes), turns_per_dialogue, rng)
            texts = _sentences([codes[code] for code in labels], rng)
            transcript, evaluation = [], ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            clock = {"F": 0, "M": 0}
            start = 1.0
            for i, (code, text) in enumerate(zip(labels, texts)):
                speaker = "FM"[i % 2]
                turn = f"{dialogue}_{speaker}{clock[speaker]:03d}"
                clock[speaker] += 1
                end = start + 1.5 + (i % 3) * 0.5
                transcript.append(f"{turn} [{start:08.4f}-{end:08.4f}]: {text}")
                evaluation += [f"[{start:.4f} - {end:.4f}]\t{turn}\t{code}\t[2.5000, 3.0000, 3.0000]", ""]
                start = end + 0.3
            base = root / f"Session{session}" / "dialog"
            _write(base / "transcriptions" / f"{dialogue}.txt", transcript)
            _write(base / "EmoEvaluation" / f"{dialogue}.txt", evaluation)


def _emopillars(root: Path, sizes: dict[str, int], rng: random.Random) -> None:
    """The sample's CSV layout (``text`` + 28 binary columns, CRLF); the loader draws the grouped split."""
    import csv
    import io

    classes = ("joy", "sadness", "anger", "fear", "neutral", "disgust")
    n = sum(sizes.values())
    labels = _labels(classes, n, rng)
    handle = io.StringIO()
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(["text", *(str(i) for i in range(len(EMOTIONS)))])
    for i, (label, text) in enumerate(zip(labels, _sentences(labels, rng))):
        ids = {EMOTIONS.index(label)} | ({EMOTIONS.index("excitement")} if label == "joy" and i % 3 == 0 else set())
        writer.writerow([text, *("1" if k in ids else "0" for k in range(len(EMOTIONS)))])
    (root / "context_less_sample.csv").write_bytes(handle.getvalue().encode("utf-8"))


_WRITERS: dict[str, Callable[[Path, dict[str, int], random.Random], None]] = {
    "goemotions": _goemotions,
    "isear": _isear,
    "emocontext": _emocontext,
    "iemocap": _iemocap,
    "emopillars": _emopillars,
}


def write_sample_files(task: str, folder: str | os.PathLike, size: int = 96, seed: int = 0) -> Path:
    """Write synthetic files in ``task``'s official layout under ``folder`` and return the path to load.

    Args:
        task: ``"goemotions"``, ``"isear"``, ``"iemocap"``, ``"emocontext"`` or ``"emopillars"`` (the sample's
            CSV layout).
        folder: Where the files go (created if missing).
        size: Rows in the training split; validation and test get a quarter each (at least 8).
        seed: Seed for the choice of sentences.

    Returns:
        The folder to pass to ``Task.load`` (for ISEAR, the ``isear.csv`` file).

    Raises:
        ConfigError: Unknown task or ``size`` < 8.

    Examples:
        >>> import tempfile
        >>> write_sample_files("isear", tempfile.mkdtemp(), size=14).name
        'isear.csv'
    """
    if task not in _WRITERS:
        raise ConfigError(f"unknown task {task!r}; choose one of {sorted(_WRITERS)}")
    if size < 8:
        raise ConfigError(f"size must be at least 8, got {size}")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    held_out = max(8, size // 4)
    sizes = {"train": size, "dev": held_out, "test": held_out}
    _WRITERS[task](root, sizes, random.Random(seed))
    marker = {"synthetic_sample": True, "task": task, "sizes": sizes, "seed": seed}
    (root / SAMPLE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return root / "isear.csv" if task == "isear" else root


def is_synthetic_sample(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a folder, or a file in one) was written by :func:`write_sample_files`: such a run is
    marked as a synthetic sample in its card and ``eval_results.json``, never reported as the benchmark.

    Examples:
        >>> import tempfile
        >>> is_synthetic_sample(write_sample_files("isear", tempfile.mkdtemp(), size=14))
        True
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    return (folder / SAMPLE_MARKER).is_file()
