"""Fine-tune an encoder on GoEmotions (Demszky et al., 2020) under its official protocol.

Protocol: the official train/dev/test TSV files; 28 classes, multi-label; one global threshold tuned on dev;
macro-F1 on test (also reported at 0.5, with per-label F1). The task's labels are the 28 classes themselves.

Usage:
    python examples/finetune_goemotions.py --quick                    # ~5 min on a laptop CPU
    python examples/finetune_goemotions.py --data path/to/goemotions --epochs 2 --max-length 64
    python examples/finetune_goemotions.py --model roberta-large --learning-rate 2e-5 --epochs 3 --push-to-hub me/m

Measured with the packaged all-MiniLM-L6-v2 on a 2-core CPU: see the README's results table.
"""

from __future__ import annotations

from _recipe import run_recipe

if __name__ == "__main__":
    run_recipe("goemotions", __doc__)
