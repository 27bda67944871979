"""Fine-tune an encoder on IEMOCAP transcripts (Busso et al., 2008), speaker turns in dialogue context.

Protocol: the official release layout (``Session1..5/dialog/transcriptions`` and ``dialog/EmoEvaluation``);
sessions 1-4 train (validation carved out by dialogue), session 5 test; 4-way (happy+excited, sad, angry,
neutral) or 6-way (happy, sad, neutral, angry, excited, frustrated); weighted-F1 and accuracy. Each turn is
classified with its preceding turns (with speakers) as context. IEMOCAP is licensed: request it from USC SAIL.

Usage:
    python examples/finetune_iemocap.py --quick                               # synthetic sample, same layout
    python examples/finetune_iemocap.py --data path/to/IEMOCAP_full_release --ways 6
"""

from __future__ import annotations

from _recipe import run_recipe


def add_arguments(parser):
    parser.add_argument("--ways", type=int, choices=[4, 6], default=4, help="label scheme (default 4)")
    return lambda args: {"task_options": {"ways": args.ways}}


if __name__ == "__main__":
    run_recipe("iemocap", __doc__, add_arguments=add_arguments)
