"""The paper's workload, simulated: the real orchestrator, cache and writers with a scripted teacher.

The paper's main run: 2,000 plots x ~15 characters x 10 utterances (8 emotional, 2 neutral), top-5 soft labels for
each utterance, and contexts (context, cleaning, rewriting) for a third of the examples: about 630K calls here
(the paper reports ~700K). The teacher is a :class:`~emo_pillars.generation.backends.ScriptedBackend` that answers
every stage in the requested shape in microseconds, so what is measured is the pipeline itself. At each scale
(a share of the 2,000 plots) a child process runs the whole workload and reports:

* orchestration overhead per call: (wall time - time inside the scripted teacher) / calls, against the teacher's
  own time per call measured in the same process (the baseline);
* peak RSS of the child (``ru_maxrss``);
* the cache's size on disk and the output sizes, sampled while the run goes (the files must grow during it);
* a second child killed with SIGKILL once its ``context_less.jsonl`` holds about half of the full run's bytes, then
  a resume: its time, and whether both output files are byte-identical to the uninterrupted run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generation_simulation.py --scales 0.01,0.1
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generation_simulation.py --scales 1.0   # ~the paper's shape

Results are saved to ``benchmarks/results/generation-simulation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLOTS = 2000
NAMES = (
    "Alder Bryony Cassius Delphine Emrys Fenella Gideon Hester Ignatius Juniper Kestrel Lysander Marigold Nerys Orrin"
).split()
WORDS = "harbour storm letter garden brother sister village river mountain secret promise lantern bridge".split()
OTHERS = ("joy", "relief", "fear", "surprise", "pride")


def _plot(i: int) -> str:
    cast = ", ".join(NAMES)
    words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(300))
    return f"Story {i}. {cast} meet by the {WORDS[i % len(WORDS)]}. {words}."


_ORDER = re.compile(r"in this order: (.+?)\. Then")
_CHAR = re.compile(r"Imagine you are (.+?) from this story")
_STORY = re.compile(r"Story (\d+)\.")


def respond(prompt) -> str:
    """Replies of the paper's shape for every stage (assigned emotions followed, constraints respected)."""
    text = prompt.messages[-1][1]
    if text.startswith("Read the story"):
        return " " + "\n".join(f"{i}. {name}" for i, name in enumerate(NAMES, 1))[3:]
    if text.startswith("Here is a set of emotions") and "Imagine you are" in text:
        character = _CHAR.search(text).group(1)
        emotions = _ORDER.search(text).group(1).split(", ")
        story = _STORY.search(text).group(1)
        lines = [f'{e}: "As {character} of story {story}, I feel {e}, line {k}."' for k, e in enumerate(emotions)]
        lines += [f'neutral: "The {w} is where {character} waits in story {story}."' for w in WORDS[:2]]
        return "\n".join(lines)
    if text.startswith("Here is a set of emotions"):
        others = [e for e in OTHERS if not prompt.prefill.endswith(e)][:4]
        return " 0.8\n" + "\n".join(f"{k}. {e} {1.0 - 0.2 * k:.1f}" for k, e in enumerate(others, 2))
    if text.startswith("Story synopsis:"):
        line = text.split('thinks aloud: "', 1)[1].split('"', 1)[0]
        return f"The storm breaks over the harbour. The letter arrives late. Then: {line}"
    if text.startswith("The text below describes"):
        return text.split("Text:\n", 1)[1].split("\n\nRewrite", 1)[0].replace("storm", "rain")
    if "thinks aloud:" in text:
        return '"' + text.split('thinks aloud: "', 1)[1].split('"', 1)[0].replace("I feel", "I sense") + '"'
    raise AssertionError(text[:80])


def child(out: str, plots: int, delay_s: float) -> None:
    """Run the workload once into ``out`` and print one JSON line of measurements."""
    import resource

    from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
    from emo_pillars.generation.backends import ScriptedBackend

    spent = [0.0]

    class Timed(ScriptedBackend):
        """The scripted teacher; the time inside ``generate`` is the baseline, not orchestration."""

        def generate(self, prompts, **kwargs):
            start = time.perf_counter()
            out = super().generate(prompts, **kwargs)
            if delay_s:
                time.sleep(delay_s * len(prompts))
            spent[0] += time.perf_counter() - start
            return out

    config = GenerationConfig(
        contextual=True, contextual_fraction=1 / 3, contextual_neutral=True, batch_size=64, chunk_size=16
    )
    backend = Timed(respond, name="simulated-teacher")
    corpus = [_plot(i) for i in range(plots)]
    start = time.perf_counter()
    result = EmoPillarsGenerator(backend, config, show_progress=False).run(corpus, out)
    wall = time.perf_counter() - start
    calls = sum(s.calls for s in result.stats.values())
    cached = sum(s.cached for s in result.stats.values())
    print(
        json.dumps(
            {
                "wall_s": wall,
                "teacher_s": spent[0],
                "calls": calls,
                "cached": cached,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "counts": result.run_info["counts"],
                "calls_by_step": {k: s.calls + s.cached for k, s in result.stats.items() if s.calls + s.cached},
            }
        )
    )


def _spawn(out: Path, plots: int, delay_s: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", str(out), "--plots", str(plots), "--delay", str(delay_s)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def measure(scale: float, root: Path) -> dict:
    plots = max(1, round(PLOTS * scale))
    full = root / f"full-{plots}"
    proc = _spawn(full, plots)
    samples = []
    while proc.poll() is None:
        samples.append(_size(full / "context_less.jsonl"))
        time.sleep(0.25)
    stats = json.loads(proc.stdout.read().strip().splitlines()[-1])
    cache_mb = sum(p.stat().st_size for p in (full / "cache").iterdir()) / 2**20
    final = _size(full / "context_less.jsonl")
    growing = sorted({s for s in samples if 0 < s < final})

    crashed = root / f"crashed-{plots}"
    proc = _spawn(crashed, plots)
    while proc.poll() is None and _size(crashed / "context_less.jsonl") < final / 2:
        time.sleep(0.02)
    killed_at = _size(crashed / "context_less.jsonl") / final
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    start = time.perf_counter()
    proc = _spawn(crashed, plots)
    resumed = json.loads(proc.communicate()[0].strip().splitlines()[-1])
    resume_s = time.perf_counter() - start
    identical = all(
        (crashed / name).read_bytes() == (full / name).read_bytes()
        for name in ("context_less.jsonl", "contextual.jsonl")
    )
    shutil.rmtree(crashed)
    shutil.rmtree(full)
    orchestration = (stats["wall_s"] - stats["teacher_s"]) / stats["calls"]
    return {
        "scale": scale,
        "plots": plots,
        "calls": stats["calls"],
        "calls_by_step": stats["calls_by_step"],
        "examples": stats["counts"],
        "wall_s": round(stats["wall_s"], 2),
        "teacher_ms_per_call": round(1000 * stats["teacher_s"] / stats["calls"], 4),
        "orchestration_ms_per_call": round(1000 * orchestration, 4),
        "peak_rss_mb": round(stats["peak_rss_mb"], 1),
        "cache_mb": round(cache_mb, 1),
        "context_less_mb": round(final / 2**20, 1),
        "output_sizes_seen_during_run": len(growing),
        "killed_at_fraction": round(killed_at, 3),
        "resume_s": round(resume_s, 2),
        "resume_new_calls": resumed["calls"],
        "resume_cached": resumed["cached"],
        "identical_after_resume": identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="0.01,0.1", help="shares of the paper's 2,000 plots (0.01,0.1)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "generation-simulation.json")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--plots", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.plots, args.delay)
        return
    rows = []
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    by_scale = {row["scale"]: row for row in previous.get("results", [])}
    with tempfile.TemporaryDirectory(prefix="emo-sim-") as tmp:
        for scale in (float(s) for s in args.scales.split(",")):
            row = measure(scale, Path(tmp))
            rows.append(row)
            by_scale[scale] = row
            print(json.dumps(row), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {"paper_shape": "2,000 plots x 15 characters x 10 utterances, contexts for 1/3", "results": []}
    payload["results"] = [by_scale[k] for k in sorted(by_scale)]
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
