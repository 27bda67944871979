"""Sharded and unsharded generator runs of one corpus with the scripted teacher (a fraction of a second each)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "generation"))  # tests/generation holds scripted_teacher.py

from scripted_teacher import scripted_teacher  # noqa: E402

from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig  # noqa: E402

DATA_FILES = ("context_less.jsonl", "contextual.jsonl")


def generate(output: Path, narratives: Any = None, *, shard: tuple[int, int] | None = None, **config: Any) -> Path:
    """One contextual run into ``output``; ``shard`` is ``(index, count)``; ``config`` overrides GenerationConfig."""
    index, count = shard or (0, 1)
    options = {"contextual": True, "contextual_fraction": 0.5, **config}
    cfg = GenerationConfig(num_shards=count, shard_index=index, **options)
    EmoPillarsGenerator(scripted_teacher(), cfg, show_progress=False).run(narratives, output)
    return output


def generate_runs(root: Path, narratives: Any = None, count: int = 2, **config: Any) -> dict[str, Path]:
    """The unsharded run (``whole``) and its ``count`` shards (``shard0`` ...), each in its own folder of ``root``."""
    runs = {"whole": generate(root / "whole", narratives, **config)}
    for index in range(count):
        runs[f"shard{index}"] = generate(root / f"shard{index}", narratives, shard=(index, count), **config)
    return runs
