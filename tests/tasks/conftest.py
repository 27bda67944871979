"""Fixtures for the task tests: benchmark folders in each official format (see ``benchmark_files.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_files import (  # noqa: E402
    EMOCONTEXT_DEV,
    EMOCONTEXT_TEST,
    EMOCONTEXT_TRAIN,
    GOEMOTIONS_DEV,
    GOEMOTIONS_TEST,
    GOEMOTIONS_TRAIN,
    ISEAR_HEADER,
    ISEAR_ROWS,
    isear_line,
    write,
    write_iemocap,
)

from emo_pillars.taxonomy import EMOTIONS  # noqa: E402


@pytest.fixture
def goemotions_dir(tmp_path: Path) -> Path:
    root = tmp_path / "goemotions"
    write(root / "train.tsv", GOEMOTIONS_TRAIN)
    write(root / "dev.tsv", GOEMOTIONS_DEV)
    write(root / "test.tsv", GOEMOTIONS_TEST, final_newline=False)
    write(root / "emotions.txt", "\n".join(EMOTIONS), final_newline=False)
    return root


@pytest.fixture
def isear_file(tmp_path: Path) -> Path:
    lines = [ISEAR_HEADER]
    for subject, code, text, _ in ISEAR_ROWS:
        state = '1"' if (subject, code) == (2, 2) else "1"
        lines.append(isear_line(subject, code, text, state=state))
    return write(tmp_path / "isear.csv", "\n".join(lines), final_newline=False)


@pytest.fixture
def emocontext_dir(tmp_path: Path) -> Path:
    root = tmp_path / "emocontext"
    write(root / "train.txt", EMOCONTEXT_TRAIN, newline="\r\n", final_newline=False)
    write(root / "dev.txt", EMOCONTEXT_DEV, newline="\r\n", final_newline=False)
    write(root / "test.txt", EMOCONTEXT_TEST, newline="\r\n", final_newline=False)
    return root


@pytest.fixture
def iemocap_dir(tmp_path: Path) -> Path:
    return write_iemocap(tmp_path / "IEMOCAP_full_release")
