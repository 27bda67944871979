"""Fixtures for the dataset tests: generator output and published-layout folders (a few rows each), and a local Hub.

The Hub fixture (:func:`hub_server`) is a :class:`hub_server.HubServer` on 127.0.0.1, started once per session. Other
test folders can reuse it with ``from hub_server import hub_server_fixture`` or by starting their own server.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds hub_server.py

from hub_server import HubServer  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def hub_server() -> Iterator[HubServer]:
    """A Hub-compatible server on 127.0.0.1 for the whole session (see ``tests/hub_server.py``)."""
    with HubServer() as server:
        yield server


@pytest.fixture
def generated_dir(tmp_path: Path) -> Path:
    """A copy of the generator-output fixture (``context_less.jsonl``, ``contextual.jsonl``, ``run.json``)."""
    return Path(shutil.copytree(FIXTURES / "generated", tmp_path / "generated"))


@pytest.fixture
def published_dir(tmp_path: Path) -> Path:
    """A copy of the fixture in the layout published as ``alex-shvets/EmoPillars`` (``context-less/*.jsonl``)."""
    return Path(shutil.copytree(FIXTURES / "published", tmp_path / "published"))


def read_jsonl(path: Path) -> list[dict]:
    """The objects of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write objects as JSONL."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
