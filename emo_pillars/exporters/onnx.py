"""ONNX export and INT8 quantisation of emo-pillars classifiers (the runtime is :mod:`emo_pillars.modeling.onnx`).

``optimum-onnx`` pins ``transformers<4.58`` and cannot serve transformers 5, so the export goes through
``torch.onnx.export`` (the dynamo exporter: its graph matches torch to ~1e-7, where the legacy tracer's baked-in
mask arithmetic drifted by ~2e-2 on MiniLM) and quantisation through ``onnxruntime.quantization.quantize_dynamic``
(weights in INT8, activations quantised on the fly; no calibration data needed).

The export folder is a model folder like any other: ``config.json`` (with the emo-pillars settings: thresholds,
input format, maximum length), the tokenizer files, ``model.onnx`` and, with ``quantize="int8"``,
``model_quantized.onnx``. ``onnx_export.json`` and a section of ``README.md`` record how closely each file agrees
with the torch model on a fixed set of check sentences: the largest absolute score difference, and the share of
inputs whose thresholded labels are identical.

INT8 alone moves logits by 0.06 (median) to 0.33 (99th percentile) on a GoEmotions MiniLM, and with 28 labels and
tuned thresholds, about one input in sixteen then changes at least one label. So the INT8 path rechecks by default:
an input with a logit within :data:`RECHECK_MARGIN` of a threshold's logit (or, single-label, a top-two logit gap
under twice that) is scored again by ``model.onnx``. The margin is in logits, where the INT8 error is about the same
for every score. On 2,048 GoEmotions dev comments a margin of 0.15 logits rechecked 19.1% of the inputs and kept
99.3% of all inputs at their fp32 labels; a margin of 0.03 in probability needed 22.6% for that. See
``benchmarks/inference.py`` for the speed and agreement this buys, and pass ``recheck_margin=0`` for INT8 alone.

Examples:
    >>> from emo_pillars.exporters.onnx import export_onnx
    >>> result = export_onnx("my-model", "my-model-onnx", quantize="int8")  # doctest: +SKIP
    >>> result.agreement["int8"]["identical_labels"]  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, InputError
from ..modeling.onnx import ONNX_FILE, ONNX_INT8_FILE, OnnxModel, scores_from_logits
from ..modeling.saving import weights_needed
from ..utils.io import SpaceNeed, atomic_write_json, check_space, staged_folder
from ..utils.quiet import quiet

__all__ = ["ExportResult", "export_onnx", "CHECK_SENTENCES"]

REPORT_FILE = "onnx_export.json"
#: Written by this project: everyday sentences across the emotion range, used to measure export agreement.
CHECK_SENTENCES: tuple[str, ...] = (
    "I can't believe you remembered my birthday, thank you so much!",
    "This is the worst service I have ever had.",
    "Honestly I don't know what to think about the new plan.",
    "We finally made it home after three days on the road.",
    "Why would anyone leave the door open in this weather?",
    "I miss her every single day.",
    "Wow, that was an incredible goal!",
    "Please be careful on the ice tonight.",
    "I'm so nervous about the interview tomorrow.",
    "That joke was hilarious, I can't stop laughing.",
    "The meeting has been moved to Thursday at ten.",
    "I'm sorry, I should never have said that to you.",
    "Ugh, the printer jammed again.",
    "I'm really proud of how hard you worked this year.",
    "Oh! I didn't expect to see you here.",
    "I wish I could afford a trip like that.",
    "It makes me sick how they treat their animals.",
    "I think things will get better soon.",
    "Wait, so the whole story was a dream?",
    "Now I finally understand why she left.",
    "Thank goodness the test results were negative.",
    "I love the way you tell stories.",
    "That's a fair point, I agree with you.",
    "Don't you dare touch my stuff again.",
    "I'm curious how they built the bridge so fast.",
    "He just stood there, embarrassed, while everyone stared.",
    "I really want that job.",
    "The soup is on the stove.",
    "What a disappointing end to the season.",
    "I can't stand people who lie to my face.",
    "My grandfather passed away last night.",
    "I don't approve of what they did, not one bit.",
)


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        output_dir: The export folder.
        files: The ONNX files, by precision (``"fp32"``, and ``"int8"`` when quantised).
        agreement: Per precision: ``max_abs_diff`` (largest absolute score difference from torch),
            ``identical_labels`` (share of check inputs with the same thresholded labels) and ``inputs``.
    """

    output_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{precision} max|diff| {figures['max_abs_diff']:.1e}, same labels {figures['identical_labels']:.0%}"
            for precision, figures in self.agreement.items()
        )
        return f"ExportResult({self.output_dir}: {shown})"


def _labels(scores: np.ndarray, multi_label: bool, thresholds: np.ndarray) -> np.ndarray:
    if multi_label:
        return scores >= thresholds
    return np.eye(scores.shape[1], dtype=bool)[scores.argmax(axis=1)]


def _export_fp32(model: Any, tokenizer: Any, path: Path, opset: int) -> None:
    import torch

    sample = tokenizer(list(CHECK_SENTENCES[:2]), padding=True, return_tensors="pt")
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            model,
            (),
            os.fspath(path),
            kwargs={name: sample[name] for name in names},
            input_names=names,
            output_names=["logits"],
            dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
            opset_version=opset,
            dynamo=True,
            external_data=False,  # one self-contained file (models under 2 GB)
            verbose=False,
        )


def _agreement(
    reference: np.ndarray, logits: np.ndarray, multi_label: bool, thresholds: np.ndarray
) -> dict[str, float]:
    ref, got = scores_from_logits(reference, multi_label), scores_from_logits(logits, multi_label)
    same = (_labels(ref, multi_label, thresholds) == _labels(got, multi_label, thresholds)).all(axis=1)
    return {
        "max_abs_diff": float(np.abs(ref - got).max()),
        "identical_labels": float(same.mean()),
        "inputs": int(len(same)),
    }


def _card_section(result: ExportResult, source: str) -> str:
    rows = "\n".join(
        f"| {precision} | `{result.files[precision].name}` | {a['max_abs_diff']:.2e} | {a['identical_labels']:.1%} |"
        for precision, a in result.agreement.items()
    )
    n = next(iter(result.agreement.values()))["inputs"]
    return (
        "## ONNX export\n\n"
        f"Exported from `{source}` with `torch.onnx.export` (dynamo); INT8 by onnxruntime dynamic quantisation.\n"
        f"Agreement with the torch model on {n} check sentences (largest absolute score difference; share of\n"
        "inputs with identical thresholded labels):\n\n"
        "| precision | file | max abs diff | identical labels |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        "```python\nfrom emo_pillars import EmoPillarsClassifier\n\n"
        'classifier = EmoPillarsClassifier.from_pretrained("PATH_OR_REPO", backend="onnx")\n'
        'classifier.predict("I finally passed my driving test!")\n```\n'
    )


class _DropMessage(logging.Filter):
    """A logging filter that drops records whose message contains ``text``."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def export_onnx(
    model: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    quantize: Literal["int8"] | None = None,
    opset: int = 18,
    overwrite: bool = False,
    check_sentences: Sequence[str] = CHECK_SENTENCES,
    trust_remote_code: bool = False,
) -> ExportResult:
    """Export a sequence-classification model folder to ONNX (and INT8), with its config and tokenizer.

    The export is built in a temporary sibling folder, checked (every ONNX file loads in onnxruntime and its
    agreement with torch is measured), then renamed into place, so a failed or killed export leaves nothing
    half-written and never touches an existing folder unless ``overwrite=True``. Before anything is written, the
    free space and the file-size limit are compared with what the export needs (:func:`export_space`): a folder that
    cannot hold ``model.onnx`` is refused, one that may not hold the INT8 file too is warned about. A write the file
    system refuses later is one :class:`~emo_pillars.errors.WriteError` naming the file.

    Args:
        model: A model folder (saved by the trainer or by ``save_pretrained``) or Hub id. Weights load from
            safetensors only.
        output_dir: The export folder to create.
        quantize: ``"int8"`` to also write ``model_quantized.onnx``.
        opset: The ONNX opset.
        overwrite: Replace an existing ``output_dir``.
        check_sentences: Inputs on which agreement with torch is measured.
        trust_remote_code: Allow custom model code from the folder (off unless asked).

    Returns:
        An :class:`ExportResult` with the files written and their agreement figures.
    """
    if quantize not in (None, "int8"):
        raise ConfigError(f"quantize must be 'int8' or None, got {quantize!r}")
    output_dir = _check_target(Path(output_dir), overwrite)
    source = os.fspath(model)
    with quiet():
        tokenizer, torch_model = _load(source, trust_remote_code)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in output_dir.parent.glob(f".{output_dir.name}.*.tmp"):  # left by an export killed with SIGKILL
        shutil.rmtree(stale, ignore_errors=True)
    check_space(output_dir / ONNX_FILE, export_space(torch_model, quantize))
    with staged_folder(output_dir) as staging:
        with quiet():  # torch's exporter logs its registrations and warns about its own internals
            _export_fp32(torch_model, tokenizer, staging / ONNX_FILE, opset)
            if quantize == "int8":
                _quantize_int8(staging)
        files = {"fp32": ONNX_FILE} | ({"int8": ONNX_INT8_FILE} if quantize == "int8" else {})
        torch_model.config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        result = _measure(torch_model, tokenizer, staging, output_dir, files, check_sentences)
        atomic_write_json(staging / REPORT_FILE, {"source": source, "opset": opset, "agreement": result.agreement})
        source_card = Path(source) / "README.md"
        text = source_card.read_text(encoding="utf-8") if source_card.is_file() else f"# {output_dir.name}\n"
        (staging / "README.md").write_text(
            text.rstrip("\n") + "\n\n" + _card_section(result, source), encoding="utf-8"
        )
    return result


def export_space(model: Any, quantize: str | None = None) -> SpaceNeed:
    """What an export writes, from the model's parameters: ``model.onnx`` holds every weight as float32 (one file
    under 2 GB, the protobuf limit, as :func:`export_onnx` writes it), so it needs at least their bytes; INT8 adds
    ``model_quantized.onnx``, about a quarter of that again (an estimate: the quantised share of the weights depends
    on the graph, and a tiny model's files are mostly graph). The tokenizer, config and card (a few MB at most) are
    not counted.

    Examples:
        >>> import torch
        >>> export_space(torch.nn.Linear(4, 2), "int8").likely_total  # 40 bytes of weights, a quarter more
        50
    """
    weights = weights_needed(model)[1].total  # loaded as float32
    likely = weights + (weights // 4 if quantize == "int8" else 0)
    return SpaceNeed("the weights as float32 in model.onnx" + (" and INT8" if quantize else ""), total=weights,
                     largest=weights, likely_total=likely, likely_largest=weights)  # fmt: skip


def _check_target(output_dir: Path, overwrite: bool) -> Path:
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError("the export output must be a folder, and this is a file", path=output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise InputError("the export folder exists and is not empty (pass overwrite=True / --overwrite)",
                         path=output_dir)  # fmt: skip
    return output_dir


def _load(source: str, trust_remote_code: bool) -> tuple[Any, Any]:
    """The tokenizer and the torch model (safetensors only; eager attention, which exports cleanly)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    torch_model = AutoModelForSequenceClassification.from_pretrained(
        source, use_safetensors=True, trust_remote_code=trust_remote_code, attn_implementation="eager"
    ).eval()
    return tokenizer, torch_model


def _thresholds(config: Any) -> np.ndarray:
    """The model's decision thresholds per label (its stored global or per-label ones, else 0.5)."""
    settings = dict(getattr(config, "emo_pillars", None) or {})
    thresholds = np.full(config.num_labels, float(settings.get("threshold", 0.5)))
    if isinstance(settings.get("thresholds"), dict):
        per_label = settings["thresholds"]
        thresholds = np.asarray(
            [float(per_label.get(config.id2label[i], thresholds[i])) for i in range(len(thresholds))]
        )
    return thresholds


def _quantize_int8(staging: Path) -> None:
    """``model_quantized.onnx``: INT8 weights with per-channel scales, activations quantised on the fly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales: on a GoEmotions MiniLM they cut the largest score error from 0.28 to 0.09
    # against per-tensor scales, for about 25% of the INT8 speed-up (benchmarks/inference.py).
    # onnxruntime logs (on the root logger) advice to run its shape pre-processing first; on these graphs
    # it changed neither the scores nor the speed, so the advice is kept from the user.
    advice = _DropMessage("consider to run pre-processing before quantization")
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(staging / ONNX_FILE, staging / ONNX_INT8_FILE, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.getLogger().removeFilter(advice)


def _measure(
    torch_model: Any, tokenizer: Any, staging: Path, output_dir: Path, files: dict[str, str],
    check_sentences: Sequence[str],
) -> ExportResult:  # fmt: skip
    """How closely each ONNX file agrees with the torch model on the check sentences."""
    import torch

    config = torch_model.config
    multi_label = config.problem_type != "single_label_classification"
    thresholds = _thresholds(config)
    result = ExportResult(output_dir)
    encoding = tokenizer(list(check_sentences), padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        reference = torch_model(**encoding).logits.float().numpy()
    for precision, name in files.items():
        logits = OnnxModel(staging, name).logits(encoding)
        result.agreement[precision] = _agreement(reference, logits, multi_label, thresholds)
        result.files[precision] = output_dir / name
    return result
