"""Checks shared by the model-card tests: huggingface_hub's card metadata checks, and a push to the local Hub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import eval_results_to_model_index
from huggingface_hub.utils import validate_repo_id

_VALIDATE_AND_PUSH = """
import sys
from huggingface_hub import ModelCard
from emo_pillars.modeling import upload_model_folder
ModelCard.load(sys.argv[1] + "/README.md").validate(repo_type="model")
print(upload_model_folder(sys.argv[1], sys.argv[2]))
"""


def check_card_metadata(folder: Path) -> tuple[dict, str]:
    """The card's YAML and text, after the checks huggingface_hub makes when it parses a card: ``ModelCardData``
    (``model-index`` -> ``EvalResult`` s, which raises on a malformed index), the ``EvalResult`` round trip, and
    valid Hub ids for ``base_model`` and ``datasets``."""
    card = ModelCard.load(folder / "README.md")
    meta = card.data.to_dict()
    if "model-index" in meta:
        assert card.data.eval_results, "model-index did not parse into EvalResults"
        assert eval_results_to_model_index(card.data.model_name, card.data.eval_results) == meta["model-index"]
        for result in meta["model-index"][0]["results"]:
            assert "unknown" not in (result["dataset"]["type"], result["dataset"]["name"])
    if "base_model" in meta:
        validate_repo_id(meta["base_model"])
    for dataset in meta.get("datasets", []):
        validate_repo_id(dataset)
    return meta, card.text


def validate_and_push(folder: Path, repo_id: str, hf_home: Path) -> dict[str, bytes]:
    """``ModelCard.validate()`` against the local Hub server, then ``upload_model_folder``; the pushed files."""
    from hub_server import HubServer

    with HubServer() as server:
        run = subprocess.run([sys.executable, "-c", _VALIDATE_AND_PUSH, str(folder), repo_id],
                             env=server.client_env(hf_home=hf_home), capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        assert ("POST", "/api/validate-yaml") in [(m, p.split("?")[0]) for m, p in server.requests]
        return server.files("models", repo_id)
