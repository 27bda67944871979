"""``emo-pillars export``: a trained model to ONNX (optionally INT8) for fast CPU inference with onnxruntime."""

from __future__ import annotations

import argparse

from ..exporters.onnx import export_onnx
from .checks import check_output_folder, positive_int

NAME = "export"
HELP = "Export a trained model to ONNX (optionally INT8) for fast CPU inference with onnxruntime."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the existing output is unchanged"


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars export``."""
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="Model folder or Hub id (safetensors).")
    p.add_argument("--output", required=True, metavar="DIR", help="Export folder (model.onnx, config, tokenizer).")
    p.add_argument("--quantize", default=None, choices=["int8"], help="Also write an INT8 model_quantized.onnx.")
    p.add_argument("--opset", type=positive_int, default=18, help="ONNX opset (18).")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing export folder.")
    p.add_argument("--trust-remote-code", action="store_true", help="Allow custom model code from the folder.")


def run(args: argparse.Namespace) -> int:
    """Check the options, export, print how closely each file agrees with the torch model."""

    check_output_folder(args.output)
    result = export_onnx(
        args.model, args.output, quantize=args.quantize, opset=args.opset, overwrite=args.overwrite,
        trust_remote_code=args.trust_remote_code,
    )  # fmt: skip
    for precision, figures in result.agreement.items():
        print(
            f"{precision}: {result.files[precision]}  max |score diff| {figures['max_abs_diff']:.2e}, "
            f"identical labels {figures['identical_labels']:.1%} of {figures['inputs']} check inputs"
        )
    return 0
