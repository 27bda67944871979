"""A model and a dataset given as Hub ids, fetched from the test suite's Hub server, then found in the cache offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hub_server import HubServer

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"

SCRIPT = r"""
import json, sys
from huggingface_hub import constants
from emo_pillars.app import load_classifier
from emo_pillars.app.evaluate_tab import EvaluationSession
from emo_pillars.app.sources import resolve_source
from emo_pillars.app.try_tab import analyse

classifier = load_classifier("me/tiny-emo")
result = analyse(classifier, "Wow, great results!")
session = EvaluationSession.start(sys.argv[1], "me/published", "context_less", 0, 3, "ann")
session.record(session.current.id, list(session.current.labels))
online = resolve_source("me/tiny-emo", "model")
constants.HF_HUB_OFFLINE = True  # as HF_HUB_OFFLINE=1 would: no request now, the cached snapshot is used
offline = resolve_source("me/tiny-emo", "model")
print(json.dumps({"labels": len(result.scores), "sample": len(session.sample), "progress": session.progress(),
                  "same_folder": online == offline, "dataset": session.spec.dataset}))
"""


def test_hub_ids_download_then_resolve_from_the_cache_offline(tmp_path, tiny_emotions_model):
    with HubServer() as server:
        model_files = {p.name: p.read_bytes() for p in Path(tiny_emotions_model).iterdir() if p.is_file()}
        server.upload("me/tiny-emo", model_files)
        published = FIXTURES / "published"
        server.upload("me/published", {str(p.relative_to(published)): p.read_bytes()
                                       for p in published.rglob("*") if p.is_file()}, repo_type="dataset")  # fmt: skip
        env = server.client_env(hf_home=tmp_path / "hf-home")
        env["OMP_NUM_THREADS"] = "1"
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "annotations")], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        requested = {path for _, path in server.requests}
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"labels": 28, "sample": 3, "progress": [1, 3], "same_folder": True, "dataset": "me/published"}
    assert not any(path.endswith((".bin", ".pt", ".pth")) for path in requested)  # safetensors only
