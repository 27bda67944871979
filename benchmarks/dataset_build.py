"""Benchmark: build the dataset repository from 400,000 synthetic generator rows (300K context-less + 100K contextual).

Writes synthetic generator output in the CONTRACTS.md format (2,000 plots x 15 characters x 10 utterances for the
context-less file; 50,000 of those with both contextual variants), then runs ``build-dataset`` in a child process and
reports its wall time and peak resident memory (the child's ``ru_maxrss``). The build includes everything a user
gets: validation of every row, the split by plot, Parquet shards, the measured card (the embedding figures on a
2,000-utterance sample per config), and the verification (``datasets.load_dataset`` of every config) before the
swap. Targets: under 3 minutes and 3 GB on two CPU cores.

The baseline, run in the same process, is the floor any build pays: parsing every input line with ``json.loads``.
The report gives the build's wall time as a ratio to it.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dataset_build.py                 # full size, quality section on
    .venv/bin/python benchmarks/dataset_build.py --scale 0.01                      # a quick smoke run
    .venv/bin/python benchmarks/dataset_build.py --no-similarity                   # skip the encoder
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emo_pillars.taxonomy import EMOTIONS

WORDS = [
    "storm",
    "harbour",
    "letter",
    "garden",
    "brother",
    "sister",
    "mother",
    "father",
    "friend",
    "village",
    "city",
    "night",
    "morning",
    "river",
    "mountain",
    "secret",
    "promise",
    "ship",
    "lamp",
    "road",
    "door",
    "window",
    "field",
    "winter",
    "summer",
    "king",
    "queen",
    "soldier",
    "doctor",
    "child",
    "teacher",
    "market",
    "bridge",
    "forest",
    "castle",
    "train",
    "station",
    "fire",
    "rain",
    "money",
    "debt",
    "wedding",
    "funeral",
    "trial",
    "prison",
    "war",
    "peace",
    "song",
    "book",
]
VERBS = [
    "left",
    "found",
    "lost",
    "broke",
    "kept",
    "sold",
    "burned",
    "opened",
    "closed",
    "hid",
    "stole",
    "saved",
    "built",
    "missed",
    "forgot",
    "remembered",
]
OPENERS = [
    "I can't believe",
    "Why would",
    "At last",
    "If only",
    "How dare",
    "Thank god",
    "I never thought",
    "Maybe tomorrow",
    "So this is how",
    "Nobody told me",
]


def _utterance(rng: random.Random) -> str:
    w = rng.sample(WORDS, 4)
    return f"{rng.choice(OPENERS)} the {w[0]} {rng.choice(VERBS)} the {w[1]} near the {w[2]} before the {w[3]}."


def write_synthetic(folder: Path, context_less: int, contextual: int, seed: int = 0) -> None:
    """Write ``context_less.jsonl``, ``contextual.jsonl`` and ``run.json`` with the requested row counts."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_char, chars = 10, 15
    sources = []
    with open(folder / "context_less.jsonl", "w", encoding="utf-8") as out:
        for n in range(context_less):
            plot, rest = divmod(n, per_char * chars)
            char, utt = divmod(rest, per_char)
            primary = "neutral" if utt >= 8 else rng.choice(EMOTIONS[:-1])
            others = rng.sample(EMOTIONS, 4)
            scores = [[primary, 0.9]] + [[e, round(rng.random() * 0.8, 1)] for e in others if e != primary]
            row = {
                "id": f"p{plot:05d}-c{char:02d}-u{utt:02d}",
                "plot_id": f"p{plot:05d}",
                "plot_title": None,
                "character": f"Character {char}",
                "utterance": _utterance(rng),
                "primary_emotion": primary,
                "emotion_scores": scores,
                "labels": [e for e, s in scores if s >= 0.3],
                "raw_label_reply": "1. " + primary,
                "label_parse_error": None,
            }
            out.write(json.dumps(row) + "\n")
            if len(sources) < contextual // 2:
                sources.append(row)
    with open(folder / "contextual.jsonl", "w", encoding="utf-8") as out:
        for src in sources:
            context = " ".join(_utterance(rng) for _ in range(3))
            rewritten = _utterance(rng)
            for variant, suffix in (("original", "orig"), ("rewritten", "rewr")):
                row = dict(
                    src,
                    id=f"{src['id']}-{suffix}",
                    variant=variant,
                    context=context,
                    context_raw=context,
                    context_clean=context,
                    utterance_rewritten=rewritten,
                    source_utterance=src["utterance"],
                    source_id=src["id"],
                    utterance=src["utterance"] if variant == "original" else rewritten,
                )
                out.write(json.dumps(row) + "\n")
    run = {
        "emo_pillars_version": "bench",
        "created": "2026-01-01T00:00:00+00:00",
        "config": {},
        "backend": {"backend": "synthetic", "model": "none", "revision": None},
        "prompt_hashes": {},
        "decoding": {},
        "label_threshold": 0.3,
        "stages": {},
        "counts": {"context_less": context_less, "contextual": 2 * len(sources)},
    }
    (folder / "run.json").write_text(json.dumps(run))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of 300K + 100K rows (default 1).")
    parser.add_argument("--no-similarity", action="store_true", help="Skip the MiniLM similarity statistics.")
    parser.add_argument("--workdir", default=None, help="Folder for the input and the repository (default: temp).")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="emo-pillars-bench-"))
    generated, repo = work / "generated", work / "repo"
    t0 = time.perf_counter()
    write_synthetic(generated, int(300_000 * args.scale), int(100_000 * args.scale))
    size = sum(f.stat().st_size for f in generated.iterdir()) / 1e6
    print(f"synthetic input: {size:.0f} MB written in {time.perf_counter() - t0:.1f} s to {generated}")
    t0 = time.perf_counter()
    for name in ("context_less.jsonl", "contextual.jsonl"):
        with open(generated / name, "rb") as handle:
            for line in handle:
                json.loads(line)
    baseline = time.perf_counter() - t0
    cmd = [
        sys.executable,
        "-m",
        "emo_pillars",
        "build-dataset",
        "--generated",
        str(generated),
        "--output",
        str(repo),
    ] + (["--no-similarity"] if args.no_similarity else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    shards = sum(f.stat().st_size for f in repo.rglob("*.parquet")) / 1e6
    result = {
        "rows": int(400_000 * args.scale),
        "wall_s": round(wall, 1),
        "baseline_json_parse_s": round(baseline, 1),
        "ratio_to_baseline": round(wall / baseline, 1),
        "peak_rss_mb": round(peak_mb),
        "parquet_mb": round(shards, 1),
        "similarity": not args.no_similarity,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
