"""Benchmark: CPU inference throughput and agreement of four paths on one model and one batch size.

The paths, in one process, on the same texts in the same order:

1. ``transformers.pipeline("text-classification", top_k=None)``: the baseline a user gets without this library;
2. :class:`~emo_pillars.EmoPillarsClassifier` on torch;
3. the ONNX export (fp32): ``EmoPillarsClassifier.from_pretrained(export, backend="onnx")``, run by onnxruntime;
4. the INT8 export (``--quantize int8``): the same with ``precision="int8"`` and ``recheck_margin=0`` (INT8 alone);
5. INT8 with its default fp32 recheck: inputs with a logit within ``RECHECK_MARGIN`` of a threshold's are scored again
   by ``model.onnx`` (see :mod:`emo_pillars.exporters.onnx`).

Each path runs ``--repeats`` times, alternating with the others, and its fastest run counts. Reported: texts per
second, the ratio to the pipeline, and agreement with the torch classifier: the largest absolute score difference,
and the share of inputs whose thresholded labels are identical, cut where ``predict`` cuts: the model's stored
per-label thresholds (its global one where it has none).

    .venv/bin/python benchmarks/inference.py --model path/to/trained-model
    .venv/bin/python benchmarks/inference.py --model M --texts 256 --threads 1 --output benchmarks/results/x.json

The texts are the first GoEmotions test comments of ``--goemotions-test`` (a ``test.tsv``) when given, else the
export's check sentences, repeated.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def load_texts(n: int, goemotions_test: Path | None) -> tuple[list[str], str]:
    from emo_pillars.exporters.onnx import CHECK_SENTENCES

    if goemotions_test is not None:
        lines = goemotions_test.read_text(encoding="utf-8").splitlines()
        return [line.split("\t")[0] for line in lines[:n]], "GoEmotions test (first rows)"
    texts = list(CHECK_SENTENCES) * (n // len(CHECK_SENTENCES) + 1)
    return texts[:n], "export check sentences, repeated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="A trained emo-pillars model folder.")
    parser.add_argument("--texts", type=int, default=512, help="Inputs per run (512).")
    parser.add_argument("--batch-size", type=int, default=32, help="Inputs per forward pass, every path (32).")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads (1).")
    parser.add_argument("--repeats", type=int, default=2, help="Alternating runs per path; the fastest counts (2).")
    parser.add_argument("--output", default=None, help="Write the figures as JSON here.")
    parser.add_argument("--goemotions-test", type=Path, default=None, help="GoEmotions test.tsv (default: the "
                        "export's check sentences).")  # fmt: skip
    args = parser.parse_args()

    import torch
    from transformers import pipeline

    from emo_pillars import EmoPillarsClassifier
    from emo_pillars.exporters.onnx import export_onnx

    torch.set_num_threads(args.threads)
    texts, source = load_texts(args.texts, args.goemotions_test)
    classifier = EmoPillarsClassifier.from_pretrained(args.model, device="cpu")
    tokenizer = classifier.tokenizer
    cuts = classifier.thresholds  # in classifier.labels order, the order predict_proba returns
    multi_label = classifier.model.config.problem_type != "single_label_classification"
    export_root = Path(tempfile.mkdtemp(prefix="emo-pillars-onnx-"))
    atexit.register(shutil.rmtree, export_root, True)  # the export is scratch: gone when the run ends
    export_dir = export_root / "onnx"
    started = time.perf_counter()
    export = export_onnx(args.model, export_dir, quantize="int8")
    export_seconds = time.perf_counter() - started
    onnx = {
        "onnx fp32": EmoPillarsClassifier.from_pretrained(export_dir, backend="onnx", threads=args.threads),
        "onnx int8": EmoPillarsClassifier.from_pretrained(
            export_dir, backend="onnx", precision="int8", threads=args.threads, recheck_margin=0
        ),
        "onnx int8 + fp32 recheck": EmoPillarsClassifier.from_pretrained(
            export_dir, backend="onnx", precision="int8", threads=args.threads
        ),
    }
    pipe = pipeline(
        "text-classification",
        model=classifier.model,
        tokenizer=tokenizer,
        device="cpu",
        top_k=None,
        function_to_apply="sigmoid" if multi_label else "softmax",
        batch_size=args.batch_size,
        truncation=True,
        max_length=classifier.max_length,
    )
    order = [classifier.model.config.id2label[i] for i in range(classifier.model.config.num_labels)]

    def run_pipeline() -> np.ndarray:
        out = pipe(texts)
        return np.asarray([[{d["label"]: d["score"] for d in row}[name] for name in order] for row in out])

    def run_classifier() -> np.ndarray:
        return classifier.predict_proba(texts, batch_size=args.batch_size)

    paths = {
        "transformers.pipeline": run_pipeline,
        "EmoPillarsClassifier (torch)": run_classifier,
        **{name: (lambda c=c: c.predict_proba(texts, batch_size=args.batch_size)) for name, c in onnx.items()},
    }
    best: dict[str, float] = {}
    scores: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, fn in paths.items():
            t = time.perf_counter()
            scores[name] = fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t)

    reference = scores["EmoPillarsClassifier (torch)"]

    def labels(p: np.ndarray) -> np.ndarray:
        return p >= cuts if multi_label else np.eye(p.shape[1], dtype=bool)[p.argmax(axis=1)]

    base_rate = len(texts) / best["transformers.pipeline"]
    rows = []
    for name in paths:
        rate = len(texts) / best[name]
        rows.append(
            {
                "path": name,
                "texts_per_s": round(rate, 2),
                "vs_pipeline": round(rate / base_rate, 3),
                "max_abs_diff": float(np.abs(scores[name] - reference).max()),
                "identical_labels": float((labels(scores[name]) == labels(reference)).all(axis=1).mean()),
            }
        )
    checker = onnx["onnx int8 + fp32 recheck"]
    rechecked = checker.recheck_counts["rechecked"] / max(1, checker.recheck_counts["inputs"])
    print(f"{len(texts)} texts ({source}), batch {args.batch_size}, {args.threads} thread(s), the model's per-label "
          f"thresholds; INT8 recheck margin {checker.recheck_margin}: {rechecked:.1%} of inputs rescored in fp32")  # fmt: skip
    print(f"{'path':<32}{'texts/s':>10}{'x pipeline':>12}{'max |diff|':>12}{'same labels':>13}")
    for r in rows:
        print(f"{r['path']:<32}{r['texts_per_s']:>10.1f}{r['vs_pipeline']:>11.2f}x{r['max_abs_diff']:>12.2e}"
              f"{r['identical_labels']:>12.1%}")  # fmt: skip
    if args.output:
        figures = {
            "model": os.fspath(args.model),
            "texts": len(texts),
            "text_source": source,
            "batch_size": args.batch_size,
            "threads": args.threads,
            "repeats": args.repeats,
            "thresholds": dict(zip(classifier.labels, map(float, cuts))),
            "recheck_margin": checker.recheck_margin,
            "rechecked_share": round(rechecked, 4),
            "export_seconds": round(export_seconds, 1),
            "export_agreement_on_check_sentences": export.agreement,
            "results": rows,
        }
        Path(args.output).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
