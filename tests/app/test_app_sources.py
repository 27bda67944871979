"""Models and datasets for the app: local folders, and Hub ids that never block (offline, unreachable)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from emo_pillars.app.sources import resolve_source
from emo_pillars.errors import HubError, InputError
from emo_pillars.utils.hub import PACKAGED_MODEL_HINT, looks_local


@pytest.mark.parametrize(
    ("source", "local"),
    [("./models/x", True), ("/abs/x", True), ("~/x", True), ("a/b/c", True), ("a\\b", True), ("bad id!", False),
     ("org/model", False), ("model", False), ("alex-shvets/roberta-large-emopillars-contextless", False)],
)  # fmt: skip
def test_looks_local(source, local):
    assert looks_local(source) is local


def test_a_folder_is_used_as_it_is_and_a_missing_one_fails_at_once(tmp_path):
    assert resolve_source(tmp_path) == str(tmp_path)
    with pytest.raises(InputError, match=r"nope: no such folder$"):
        resolve_source(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="is a file; give a folder or a Hub model id"):
        resolve_source(tmp_path / "file.txt")
    with pytest.raises(InputError, match="neither an existing folder nor a valid Hub model id"):
        resolve_source("bad id!")


def test_offline_hub_id_fails_in_one_line_without_waiting():
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # set by tests/conftest.py
    start = time.perf_counter()
    with pytest.raises(HubError) as error:
        resolve_source("someone/not-cached", "model")
    assert time.perf_counter() - start < 1.0
    assert str(error.value) == (
        "someone/not-cached: HF_HUB_OFFLINE=1 and this model is not in the local cache" + PACKAGED_MODEL_HINT
    )


def _run_cli(args, env_extra, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(env_extra)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "emo_pillars", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)  # fmt: skip
    return proc, time.perf_counter() - start


def test_unreachable_hub_fails_in_one_line_after_the_bounded_wait(tmp_path):
    # A server that accepts connections and never answers: the worst case for a client without a bound.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)
        endpoint = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        proc, seconds = _run_cli(["app", "--model", "someone/model"],
                                 {"HF_ENDPOINT": endpoint, "EMO_PILLARS_HUB_TIMEOUT": "2"})  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"emo-pillars: error: someone/model: cannot reach the Hub at {endpoint} within 2 s")
    assert seconds < 2 + 15  # the wait, plus starting Python on a busy machine
    print(f"unreachable Hub: exit 2 after {seconds:.1f} s (bound 2 s)")


def test_cli_rejects_a_missing_model_folder_before_loading_anything(tmp_path):
    proc, seconds = _run_cli(["app", "--model", str(tmp_path / "missing")], {"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"emo-pillars: error: {tmp_path / 'missing'}: no such folder"
    proc, _ = _run_cli(["app", "--model", "org/model", "--dataset", str(tmp_path / "nodata")], {"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"emo-pillars: error: field '--dataset': {tmp_path / 'nodata'}: no such folder"


def test_a_folder_without_a_model_fails_in_one_line(tmp_path):
    from emo_pillars.app import load_classifier

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: missing config.json \(not a model folder\)"):
        load_classifier(tmp_path / "empty")
