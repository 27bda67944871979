"""A taxonomy of the user's own, end to end: generate, build-dataset, train, predict and transformers.pipeline."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from scripted_teacher import moods_teacher  # noqa: E402
from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig  # noqa: E402
from emo_pillars.generation.backends import ScriptedBackend  # noqa: E402
from emo_pillars.taxonomy import load_taxonomy  # noqa: E402

MOODS = Path(__file__).resolve().parents[2] / "examples" / "taxonomies" / "story_moods.yaml"
NAMES = ["Mara", "Tomas", "Anna", "Kaito", "Linus", "Greta", "Oskar", "Frida", "Henrik", "Ingrid", "Jonas", "Karin"]
PLOTS = [f"{NAMES[i]} and {NAMES[(i + 5) % 12]} wait at the harbour for ship {i}." for i in range(12)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Generate with the custom taxonomy, build the repository and train a tiny BERT on it (once)."""
    from emo_pillars.data import build_repository
    from emo_pillars.training.run import train_main

    root = tmp_path_factory.mktemp("moods")
    config = GenerationConfig(taxonomy=MOODS, max_characters=2)
    EmoPillarsGenerator(ScriptedBackend(moods_teacher), config, show_progress=False).run(PLOTS, root / "generated")
    build_repository(root / "generated", root / "dataset", similarity=False)
    base = build_tiny_bert(root / "base")
    train_main(str(root / "dataset"), "context_less", str(base), root / "model", max_steps=2, use_cpu=True)
    return root


def test_the_dataset_carries_the_taxonomy(trained):
    from emo_pillars.data import load_emo_pillars

    moods = load_taxonomy(MOODS)
    train = load_emo_pillars(trained / "dataset", split="train")
    assert train.features["labels"].feature.names == list(moods.labels)
    assert len(train[0]["emotion_scores"]) == len(moods)
    card = (trained / "dataset" / "README.md").read_text()
    assert "| 1 | dread | fearing that something bad is coming and cannot be stopped |" in card
    assert f"`story_moods` (5 labels, content hash `{moods.content_hash}`)" in card
    assert re.search(r"\n\| repetition \|[^\n]*\| repetition 2 \|", card)  # Greta's two loops, by reason
    stored = json.loads((trained / "dataset" / "taxonomy.json").read_text())
    assert stored["content_hash"] == moods.content_hash


def test_the_model_speaks_the_taxonomy(trained):
    import transformers

    moods = load_taxonomy(MOODS)
    config = json.loads((trained / "model" / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(moods))] == list(moods.labels)
    assert config["emo_pillars"]["taxonomy"]["content_hash"] == moods.content_hash
    card = (trained / "model" / "README.md").read_text()
    assert "### Taxonomy: story_moods" in card and "| grief | deep sorrow over someone or something lost |" in card
    pipe = transformers.pipeline("text-classification", model=str(trained / "model"), top_k=None, device="cpu")
    [scores] = pipe(["I hope the ship comes back."])
    assert {d["label"] for d in scores} == set(moods.labels)


def test_predict_rolls_up_by_the_taxonomy_groupings(trained):
    from emo_pillars.commands.predict import predict_main
    from emo_pillars.modeling import EmoPillarsClassifier

    classifier = EmoPillarsClassifier.from_pretrained(trained / "model")
    assert classifier.levels == ("emotions", "valence")
    names, scores = classifier.roll_up(classifier.predict_proba(["The ship is gone."]), "valence")
    assert names == ("positive", "negative", "calm") and scores.shape == (1, 3)
    out = io.StringIO()
    [found] = predict_main(trained / "model", ["The ship is gone."], level="valence", threshold=0.0, stream=out)
    assert set(found) == {"positive", "negative", "calm"}
    done = subprocess.run(
        [sys.executable, "-m", "emo_pillars", "predict", "--model", str(trained / "model"), "--level", "ekman", "Hi"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "emo-pillars: error: level must be one of emotions, valence for this model, got 'ekman'"
    ]
