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


#: The 2,150-row sample of the real release (Mistral-7B teacher), ``text`` + 28 binary columns in GoEmotions order.
REAL_SAMPLE = Path("/work/shared/data/emopillars/context_less_sample.csv")


def real_sample_as_published(csv_path: Path, folder: Path) -> Path:
    """Convert the real sample to the published layout (``context-less/test.jsonl``: it is a test split).

    The CSV keeps only text and labels: each row becomes its own plot (``plot_id`` = row number), with no character,
    and ``primary_emotion`` is ``neutral`` when the row carries ``neutral``, else its first label.
    """
    import csv

    from emo_pillars.taxonomy import EMOTIONS

    rows = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        assert header[1:] == [str(i) for i in range(28)], header[:5]
        for i, record in enumerate(reader):
            labels = [k for k, flag in enumerate(record[1:]) if flag == "1"]
            primary = "neutral" if 27 in labels else EMOTIONS[labels[0]]
            rows.append({"plot_id": f"r{i:05d}", "utterance": record[0], "primary_emotion": primary,
                         "labels": labels, "all_emotions_mapped": []})  # fmt: skip
    (folder / "context-less").mkdir(parents=True)
    write_jsonl(folder / "context-less" / "test.jsonl", rows)
    return folder


@pytest.fixture
def real_sample_dir(tmp_path: Path) -> Path:
    """The real sample in the published layout (skips when ``/work/shared/data`` is not there)."""
    if not REAL_SAMPLE.is_file():
        pytest.skip(f"{REAL_SAMPLE} is not available")
    return real_sample_as_published(REAL_SAMPLE, tmp_path / "real")


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """Real SmolLM2-135M output on 4 plots of the bundled demo corpus (what ``emo-pillars demo`` generates)."""
    return Path(shutil.copytree(FIXTURES / "demo", tmp_path / "demo"))
