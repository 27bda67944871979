"""The paper's released models (and a widely used GoEmotions model), as tiny look-alikes served under their real ids by
the test Hub server: loaded as their authors meant them by the classifier, ``predict``, ``import-model`` and the app.

Each look-alike is built like the published checkpoint (RoBERTa, a byte-level BPE tokenizer, one token type, no
emo-pillars block in its config); its labels are ``LABEL_k`` or the GoEmotions ids as strings, sorted as strings, the two
shapes such a checkpoint can have. Output 2 is made to win, so a test fails if the order were read as GoEmotions order
(output 2 is disapproval in the registry, anger in GoEmotions order).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import HubServer
from tiny_models import build_tiny_roberta

from emo_pillars.modeling.published import published_model, published_models
from emo_pillars.taxonomy import EMOTIONS

STRING_SORTED = sorted(str(i) for i in range(28))
LOOK_ALIKES = {  # repo id -> how its config names the outputs
    "alex-shvets/roberta-large-emopillars-contextless": "LABEL_k",
    "alex-shvets/roberta-large-emopillars-contextless-goemotions": "digits",
    "alex-shvets/roberta-large-emopillars-contextless-isear": "LABEL_k",
    "alex-shvets/roberta-large-emopillars-contextual": "LABEL_k",
    "alex-shvets/roberta-large-emopillars-contextual-emocontext": "digits",
    "SamLowe/roberta-base-go_emotions": "names",
}
CONTEXT, CHARACTER, UTTERANCE = "Tom planned it for weeks.", "Ann", "I can not believe you remembered my birthday!"

SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy as np, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
from emo_pillars import EmoPillarsClassifier
from emo_pillars.exporters.imported import import_model
from emo_pillars.modeling.published import published_model

ids, out_dir, context, character, utterance = json.loads(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:6]
report = {}
for repo_id in ids:
    clf = EmoPillarsClassifier.from_pretrained(repo_id, device="cpu")
    entry = published_model(repo_id)
    contextual = clf.input_format != "context_less"
    args = ([utterance], [context], [character]) if contextual else ([utterance],)
    probs = clf.predict_proba(*args)[0]
    # The reference: the card's single text, the tokenizer, the model's logits and a sigmoid, by hand.
    text = f"{context} {character}: {utterance}" if contextual else utterance
    tokenizer, model = AutoTokenizer.from_pretrained(repo_id), AutoModelForSequenceClassification.from_pretrained(repo_id)
    with torch.no_grad():
        reference = torch.sigmoid(model(**tokenizer(text, return_tensors="pt")).logits)[0].numpy()
    by_name = dict(zip(entry.labels, reference.tolist()))
    reference_diff = max(abs(by_name[name] - float(p)) for name, p in zip(clf.labels, probs))
    folder = import_model(repo_id, out_dir / repo_id.replace("/", "__"))
    piped = pipeline("text-classification", model=str(folder), top_k=None, device="cpu")([text])[0]
    piped = {row["label"]: row["score"] for row in piped}
    ours = dict(zip(clf.labels, probs.tolist()))
    report[repo_id] = {
        "names": list(clf.label_space.names), "threshold": clf.global_threshold, "input_format": clf.input_format,
        "max_length": clf.max_length, "predicted": list(clf.predict(*args)[0]), "reference_diff": reference_diff,
        "pipeline_labels_match": set(piped) == set(ours),
        "pipeline_diff": max(abs(piped[name] - ours[name]) for name in ours) if set(piped) == set(ours) else None,
    }
print(json.dumps(report))
"""


def _upload(server: HubServer, repo_id: str, folder: Path) -> None:
    server.upload(repo_id, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})


@pytest.fixture(scope="module")
def published_hub(tmp_path_factory):
    """The test Hub server, serving every look-alike under its real id."""
    root = tmp_path_factory.mktemp("published")
    with HubServer() as server:
        for i, (repo_id, shape) in enumerate(LOOK_ALIKES.items()):
            if shape == "LABEL_k":
                id2label = {k: f"LABEL_{k}" for k in range(28)}
            elif shape == "digits":
                id2label = dict(enumerate(STRING_SORTED))
            else:
                id2label = dict(enumerate(EMOTIONS))
            folder = build_tiny_roberta(root / repo_id.replace("/", "__"), id2label, "multi_label_classification",
                                        seed=i, head_bias={k: 6.0 if k == 2 else -6.0 for k in range(28)})  # fmt: skip
            _upload(server, repo_id, folder)
        yield server, root


def _env(server: HubServer, root: Path) -> dict[str, str]:
    env = server.client_env(hf_home=root / "hf-home")
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_registry_states_a_source_for_every_fact():
    for entry in published_models().values():
        if entry.unsupported:
            assert entry.sources.get("unsupported", "").startswith("https://")
            continue
        assert len(entry.labels) == 28 and sorted(entry.labels) == sorted(EMOTIONS)
        for fact in ("labels", "problem_type", "input_format", "max_length", "threshold"):
            assert "https://" in entry.sources[fact], (entry.repo_id, fact)


def test_each_published_id_loads_as_its_author_meant_it(published_hub, tmp_path):
    server, root = published_hub
    ids = list(LOOK_ALIKES)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(ids), str(tmp_path), CONTEXT, CHARACTER, UTTERANCE],
                          env=_env(server, root), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for repo_id in ids:
        entry, got = published_model(repo_id), report[repo_id]
        assert got["names"] == list(entry.labels), repo_id  # the registry's labels, in the registry's order
        assert got["threshold"] == entry.threshold and got["input_format"] == entry.input_format, repo_id
        assert got["max_length"] == entry.max_length, repo_id
        assert got["predicted"] == [entry.labels[2]], repo_id  # output 2 wins
        assert got["reference_diff"] < 1e-6, repo_id
        assert got["pipeline_labels_match"] and got["pipeline_diff"] < 1e-6, repo_id
    # Read in GoEmotions order, output 2 would be anger: the paper's models say disapproval.
    assert report["alex-shvets/roberta-large-emopillars-contextual"]["predicted"] == ["disapproval"]
    assert report["SamLowe/roberta-base-go_emotions"]["predicted"] == ["anger"]
    assert report["alex-shvets/roberta-large-emopillars-contextless-goemotions"]["threshold"] == 0.36


@pytest.mark.parametrize("repo_id", [r for r in LOOK_ALIKES if r.startswith("alex-shvets/")])
def test_predict_command_uses_the_registry(published_hub, repo_id):
    server, root = published_hub
    context = ["--context", CONTEXT, "--character", CHARACTER] if "contextual" in repo_id else []
    cmd = [sys.executable, "-m", "emo_pillars", "predict", "--model", repo_id, *context, UTTERANCE]
    proc = subprocess.run(cmd, env=_env(server, root), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "disapproval" in proc.stdout and "anger" not in proc.stdout.split("disapproval")[0]


def test_the_app_starts_with_its_default_model_and_each_published_one(published_hub):
    server, root = published_hub
    script = (
        "import sys\n"
        "from emo_pillars.app import DEFAULT_MODEL, build_app, load_classifier\n"
        "from emo_pillars.app.try_tab import analyse\n"
        "for model in [DEFAULT_MODEL, *sys.argv[1:]]:\n"
        "    clf = load_classifier(model)\n"
        "    build_app(clf)\n"
        "    result = analyse(clf, 'Wow, great results!', 'The results were posted.', 'Ann')\n"
        "    print(model, clf.input_format, clf.global_threshold, sorted(result.predicted))\n"
    )
    ids = [r for r in LOOK_ALIKES if r.startswith("alex-shvets/")]
    proc = subprocess.run([sys.executable, "-c", script, *ids], env=_env(server, root), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()[-6:]
    assert lines[0] == "alex-shvets/roberta-large-emopillars-contextless context_less 0.5 ['disapproval']"
    for line, repo_id in zip(lines[1:], ids):
        entry = published_model(repo_id)
        assert line == f"{repo_id} {entry.input_format} {entry.threshold} ['disapproval']"
