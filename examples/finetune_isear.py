"""Fine-tune an encoder on ISEAR (Scherer & Wallbott, 1994) with stratified k-fold cross-validation.

Protocol: ISEAR has no official split, so the 7,666 situations are evaluated by stratified 5-fold
cross-validation with a fixed seed; macro-F1 and accuracy are reported as mean +- std over the folds. With the
default 28-class head, shame maps to embarrassment and guilt to remorse; the other five classes by name.

Usage:
    python examples/finetune_isear.py --quick                       # 2 folds, a few dozen steps each
    python examples/finetune_isear.py --data path/to/isear.csv --epochs 3 --max-length 64
    python examples/finetune_isear.py --head task --folds 10

Measured with the packaged all-MiniLM-L6-v2 on a 2-core CPU: see the README's results table.
"""

from __future__ import annotations

from _recipe import run_recipe


def add_arguments(parser):
    parser.add_argument("--folds", type=int, default=None, help="cross-validation folds (default 5; 2 with --quick)")
    return lambda args: {"folds": args.folds or (2 if args.quick else 5)}


if __name__ == "__main__":
    run_recipe("isear", __doc__, add_arguments=add_arguments)
