"""Fixtures of the app tests: tiny real classifiers (28 GoEmotions labels; a 7-label ISEAR-like task head), a
generated dataset folder, free ports and a running app that is always stopped."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.taxonomy import EMOTIONS  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"
ISEAR_LABELS = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")


def _tiny_classifier(folder: Path, labels, problem_type: str, seed: int) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification

    base = build_tiny_bert(folder.parent / f"{folder.name}-base")
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        problem_type=problem_type,
    )
    model.config.emo_pillars = {"input_format": "context_less", "max_length": 64, "threshold": 0.5}
    with torch.no_grad():  # spread the scores so the top label is clear-cut
        model.classifier.weight.normal_(0.0, 2.0)
    model.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (base / name).exists():
            shutil.copy(base / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_emotions_model(tmp_path_factory) -> Path:
    """A tiny random BERT with the 28 GoEmotions labels, multi-label, saved with safetensors."""
    return _tiny_classifier(tmp_path_factory.mktemp("models") / "emo28", EMOTIONS, "multi_label_classification", 1)


@pytest.fixture(scope="session")
def tiny_isear_model(tmp_path_factory) -> Path:
    """A tiny random BERT with ISEAR's 7 labels, single-label (a task head)."""
    return _tiny_classifier(tmp_path_factory.mktemp("models") / "isear7", ISEAR_LABELS,
                            "single_label_classification", 2)  # fmt: skip


@pytest.fixture()
def generated_dir(tmp_path) -> Path:
    """A copy of the data tests' generator output folder (context-less and contextual JSONL)."""
    return Path(shutil.copytree(FIXTURES / "generated", tmp_path / "generated"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
