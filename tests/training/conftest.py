"""Fixtures for the training tests: a tiny random BERT (built once per session) and few-row datasets."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from tiny_models import build_tiny_bert, tiny_dataset_dict  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_bert(tiny_bert_session: Path, tmp_path: Path) -> Path:
    """A per-test copy of the tiny random BERT base folder."""
    return Path(shutil.copytree(tiny_bert_session, tmp_path / "base"))


@pytest.fixture(scope="session")
def tiny_single_type_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with one token type, like RoBERTa."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert-1type"), type_vocab_size=1)


@pytest.fixture
def context_less_data():
    return tiny_dataset_dict(contextual=False)


@pytest.fixture
def contextual_data():
    return tiny_dataset_dict(contextual=True)
