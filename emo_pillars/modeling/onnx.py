"""Run an ONNX export of a classifier with onnxruntime: :class:`OnnxModel`.

The export folder (written by :func:`emo_pillars.exporters.onnx.export_onnx`) is a model folder like any other:
``config.json``, the tokenizer files, ``model.onnx`` and, when quantised, ``model_quantized.onnx``.
:class:`~emo_pillars.modeling.classifier.EmoPillarsClassifier` runs it with ``backend="onnx"``.

INT8 moves logits by 0.06 (median) to 0.33 (99th percentile) on a GoEmotions MiniLM, so the classifier's INT8 path
rescores in fp32 an input with a logit within :data:`RECHECK_MARGIN` of a threshold's logit (single-label: a top-two
logit gap under twice that). On 2,048 GoEmotions dev comments a margin of 0.15 logits rechecked 19.1% of the inputs
and kept 99.3% of all inputs at their fp32 labels.

Examples:
    >>> from emo_pillars.modeling.onnx import OnnxModel
    >>> model = OnnxModel("my-model-onnx", ONNX_INT8_FILE)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["OnnxModel", "ONNX_FILE", "ONNX_INT8_FILE", "RECHECK_MARGIN", "scores_from_logits"]

ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model_quantized.onnx"
#: Logit distance from a threshold's logit under which the INT8 path rescores an input in fp32 (module docstring).
RECHECK_MARGIN = 0.15


def scores_from_logits(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Sigmoid (multi-label) or softmax scores from logits, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class OnnxModel:
    """An exported sequence classifier run by onnxruntime: tokenised inputs in, logits out.

    Args:
        folder: An export folder (``config.json`` and ``model.onnx`` / ``model_quantized.onnx``).
        file_name: The ONNX file inside ``folder``.
        threads: Intra-op threads for onnxruntime (``None``: its default).

    Examples:
        >>> model = OnnxModel("my-model-onnx", ONNX_INT8_FILE)  # doctest: +SKIP
        >>> model.logits({"input_ids": ids, "attention_mask": mask}).shape  # doctest: +SKIP
        (2, 28)
    """

    def __init__(self, folder: str | os.PathLike, file_name: str = ONNX_FILE, threads: int | None = None):
        import onnxruntime as ort
        from transformers import AutoConfig

        path = Path(folder) / file_name
        if not path.is_file():
            raise InputError("no ONNX model here (export one with `emo-pillars export`)", path=path)
        self.config = AutoConfig.from_pretrained(os.fspath(folder), trust_remote_code=False)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors for damaged files
            raise InputError(f"cannot load the ONNX model: {str(err).splitlines()[0]}", path=path) from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.path = path

    def logits(self, encoding: Any) -> np.ndarray:
        """Logits ``(n, num_labels)`` for a tokeniser's output (numpy or torch tensors)."""
        feed = {}
        for name in self.input_names:
            value = encoding[name]
            value = value.cpu().numpy() if hasattr(value, "cpu") else np.asarray(value)
            feed[name] = value.astype(np.int64)
        return self.session.run(None, feed)[0]
