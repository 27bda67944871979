"""ONNX export: agreement with torch, INT8, the onnxruntime model, and a refused or killed export."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.errors import InputError  # noqa: E402
from emo_pillars.exporters.onnx import export_onnx  # noqa: E402
from emo_pillars.modeling.onnx import ONNX_FILE, ONNX_INT8_FILE, OnnxModel  # noqa: E402
from emo_pillars.taxonomy import EMOTIONS  # noqa: E402


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """A tiny random BERT with a 28-label multi-label head, saved as safetensors."""
    from transformers import AutoModelForSequenceClassification

    base = build_tiny_bert(tmp_path_factory.mktemp("base") / "bert")
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(EMOTIONS),
        id2label=dict(enumerate(EMOTIONS)),
        label2id={e: i for i, e in enumerate(EMOTIONS)},
        problem_type="multi_label_classification",
    )
    model.config.emo_pillars = {"threshold": 0.5, "input_format": "context_less", "max_length": 64}
    model.save_pretrained(base)
    return base


def test_export_agrees_with_torch_and_runs_in_onnxruntime(tiny_classifier, tmp_path, caplog):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    result = export_onnx(tiny_classifier, tmp_path / "onnx", quantize="int8")
    assert "pre-processing" not in caplog.text  # onnxruntime's advice, which changed nothing here, is not shown
    out = tmp_path / "onnx"
    assert {p.name for p in out.iterdir()} >= {
        ONNX_FILE,
        ONNX_INT8_FILE,
        "config.json",
        "README.md",
        "onnx_export.json",
    }
    assert result.agreement["fp32"]["max_abs_diff"] < 1e-4
    assert result.agreement["fp32"]["identical_labels"] == 1.0
    assert "int8" in result.agreement
    report = json.loads((out / "onnx_export.json").read_text())
    assert report["agreement"]["fp32"]["inputs"] == result.agreement["fp32"]["inputs"]
    assert "## ONNX export" in (out / "README.md").read_text()

    # New inputs of another batch size and length than the export's sample: the axes are dynamic.
    tokenizer = AutoTokenizer.from_pretrained(out)
    texts = ["wow", "i did it, i passed the exam after a month of studied nights, really", "oh no"]
    encoding = tokenizer(texts, padding=True, return_tensors="pt")
    torch_model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier).eval()
    with torch.no_grad():
        expected = torch_model(**encoding).logits.numpy()
    got = OnnxModel(out).logits(encoding)
    assert got.shape == (3, len(EMOTIONS))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert OnnxModel(out).config.emo_pillars["max_length"] == 64


def test_export_refuses_an_existing_folder_and_leaves_it_whole(tiny_classifier, tmp_path):
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="exists and is not empty"):
        export_onnx(tiny_classifier, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        export_onnx(tiny_classifier, target)


def test_killed_export_leaves_no_output_and_a_rerun_completes(tiny_classifier, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "onnx"
    code = f"from emo_pillars.exporters.onnx import export_onnx; export_onnx({str(tiny_classifier)!r}, {str(out)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".onnx.*.tmp")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".onnx.*.tmp")), "the export was not caught mid-way"
    assert not out.exists()
    export_onnx(tiny_classifier, out)
    assert (out / ONNX_FILE).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx"]


def test_damaged_onnx_file_is_one_line(tiny_classifier, tmp_path):
    export_onnx(tiny_classifier, tmp_path / "onnx")
    (tmp_path / "onnx" / ONNX_FILE).write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load the ONNX model"):
        OnnxModel(tmp_path / "onnx")


def test_cli_export_prints_agreement_and_refuses_a_file_output(tiny_classifier, tmp_path, capsys):
    from emo_pillars.commands.cli import main

    assert (
        main(["export", "--model", str(tiny_classifier), "--output", str(tmp_path / "x"), "--quantize", "int8"]) == 0
    )
    out = capsys.readouterr().out
    assert "fp32:" in out and "int8:" in out and "identical labels" in out
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["export", "--model", str(tiny_classifier), "--output", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"emo-pillars: error: --output {target} is an existing file, not a folder: choose a folder"]


def test_classifier_onnx_backend_matches_torch(tiny_classifier, tmp_path):
    from emo_pillars import EmoPillarsClassifier
    from emo_pillars.errors import ConfigError

    export_onnx(tiny_classifier, tmp_path / "onnx", quantize="int8")
    torch_clf = EmoPillarsClassifier.from_pretrained(tiny_classifier, device="cpu")
    onnx_clf = EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx")
    assert onnx_clf.backend == "onnx" and torch_clf.backend == "torch"
    assert onnx_clf.labels == torch_clf.labels and onnx_clf.max_length == torch_clf.max_length == 64
    texts = ["wow", "i did it, i passed the exam after a month of studied nights, really", "oh no"] * 3
    expected = torch_clf.predict_proba(texts, batch_size=4)
    np.testing.assert_allclose(onnx_clf.predict_proba(texts, batch_size=4), expected, atol=1e-4)
    assert [sorted(p) for p in onnx_clf.predict(texts)] == [sorted(p) for p in torch_clf.predict(texts)]
    assert [sorted(p) for p in onnx_clf(texts, top_k=3)] == [sorted(p) for p in torch_clf(texts, top_k=3)]
    int8 = EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx", precision="int8")
    assert int8.model.path.name == ONNX_INT8_FILE
    assert int8.predict_proba(texts).shape == (len(texts), len(EMOTIONS))
    by_name = EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx", file_name=ONNX_INT8_FILE)
    np.testing.assert_allclose(by_name.predict_proba(texts), int8.predict_proba(texts), atol=1e-6)
    # Thresholds set on the onnx classifier are saved with the ONNX file, and load back.
    onnx_clf.set_thresholds(threshold=0.9)
    onnx_clf.save_pretrained(tmp_path / "saved")
    again = EmoPillarsClassifier.from_pretrained(tmp_path / "saved", backend="onnx")
    assert again.global_threshold == 0.9
    with pytest.raises(ConfigError, match="backend='onnx'"):
        EmoPillarsClassifier.from_pretrained(tiny_classifier, precision="int8")
    with pytest.raises(ConfigError, match="precision"):
        EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx", precision="int4")
    with pytest.raises(InputError, match="no ONNX model here"):
        EmoPillarsClassifier.from_pretrained(tiny_classifier, backend="onnx")


def test_int8_recheck_rescores_near_threshold_inputs_in_fp32(tiny_classifier, tmp_path):
    """The INT8 path's fp32 recheck: every input near a threshold gets the fp32 score, so the labels match fp32."""
    from emo_pillars import EmoPillarsClassifier
    from emo_pillars.errors import ConfigError
    from emo_pillars.modeling.onnx import RECHECK_MARGIN

    export_onnx(tiny_classifier, tmp_path / "onnx", quantize="int8")
    texts = ["so happy for you", "this is awful", "hm.", "thanks, really", "why would you do that?"] * 4
    fp32 = EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx").predict_proba(texts)
    alone = EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx", precision="int8", recheck_margin=0)
    assert alone.recheck_model is None
    pure = alone.predict_proba(texts)
    assert np.abs(pure - fp32).max() > 1e-6  # INT8 alone moves the scores

    default = EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx", precision="int8")
    assert default.recheck_margin == RECHECK_MARGIN and default.recheck_model is not None
    # A margin of 50 logits covers every score: every input is rechecked.
    everything = EmoPillarsClassifier.from_pretrained(
        tmp_path / "onnx", backend="onnx", precision="int8", recheck_margin=50
    )
    np.testing.assert_allclose(everything.predict_proba(texts), fp32, atol=1e-6)
    assert everything.recheck_counts == {"inputs": len(texts), "rechecked": len(texts)}
    assert everything.predict(texts) == EmoPillarsClassifier.from_pretrained(
        tmp_path / "onnx", backend="onnx"
    ).predict(texts)
    # Inputs far from every threshold keep their INT8 scores.
    narrow = EmoPillarsClassifier.from_pretrained(
        tmp_path / "onnx", backend="onnx", precision="int8", recheck_margin=1e-9
    )
    np.testing.assert_allclose(narrow.predict_proba(texts), pure, atol=1e-9)
    # The margin is in logits: an input is rechecked where some INT8 logit lies within it of its threshold's logit.
    logits_of = lambda p: np.log(p / (1 - p))  # noqa: E731
    margin = float(np.median(np.abs(logits_of(pure) - logits_of(alone.thresholds)).min(axis=1)))
    by_logit = EmoPillarsClassifier.from_pretrained(
        tmp_path / "onnx", backend="onnx", precision="int8", recheck_margin=margin
    )
    by_logit.predict_proba(texts)
    expected = int((np.abs(logits_of(pure) - logits_of(alone.thresholds)) < margin).any(axis=1).sum())
    assert 0 < by_logit.recheck_counts["rechecked"] == expected < len(texts)
    for bad in (-0.1, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ConfigError, match="recheck_margin"):
            EmoPillarsClassifier.from_pretrained(
                tmp_path / "onnx", backend="onnx", precision="int8", recheck_margin=bad
            )
    with pytest.raises(ConfigError, match="INT8"):
        EmoPillarsClassifier.from_pretrained(tmp_path / "onnx", backend="onnx", recheck_margin=0.1)
