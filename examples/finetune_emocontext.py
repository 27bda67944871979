"""Fine-tune an encoder on EmoContext (SemEval-2019 Task 3): the emotion of the last turn of a 3-turn chat.

Protocol: the official train/dev/test files (tab-separated ``id turn1 turn2 turn3 label``, CRLF, a header on
train only); turns 1-2 are the context, turn 3 the utterance; the official metric is micro-F1 over happy, sad
and angry (``others`` is left out of the average), with per-class F1. The data comes from the task organisers.

Usage:
    python examples/finetune_emocontext.py --quick                      # synthetic sample, same layout
    python examples/finetune_emocontext.py --data path/to/emocontext --epochs 3
"""

from __future__ import annotations

from _recipe import run_recipe

if __name__ == "__main__":
    run_recipe("emocontext", __doc__)
