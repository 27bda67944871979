"""How closely our label stage follows the paper's teacher: micro- and macro-F1 against the released labels.

``--sample`` (``context_less_sample.csv``, or the folder holding it) is a sample of the real Emo Pillars release:
an utterance (``text``) and 28 binary columns in GoEmotions order, labelled by Mistral-7B-Instruct. For each of
the first ``--limit`` rows this runs the real labels step (:class:`~emo_pillars.generation.stages.LabelsStage`: its
prompt, prefill, constraint and ``format_output``) with the first positive label as the generated-for emotion, in
each mode:

* ``generate-free``: the paper's generated list, nothing enforced (``constrained=False``);
* ``generate-constrained``: the same with the reply shape enforced while decoding (where the backend applies
  constraints; a backend that ignores them gives the free replies again);
* ``score``: one forward pass scoring the 28 emotion names, ranked by raw probability (``calibrate=False``);
* ``score-calibrated``: the same, divided by the probabilities for a content-free utterance.

It prints, per mode, micro/macro-F1 of our labels (score >= ``label_threshold``) against the release's, the share of
replies in the requested structure, the mean number of labels and the share of rows whose top-1 emotion is the
generated-for one, and saves them as JSON. CPU only; the default (40 rows, SmolLM2-135M) takes a few minutes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/label_fidelity.py --sample path/to/context_less_sample.csv
    .venv/bin/python benchmarks/label_fidelity.py --sample path/to/folder --modes score,score-calibrated --limit 200
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from emo_pillars.errors import InputError
from emo_pillars.generation import GenerationConfig
from emo_pillars.generation.backends import Completion, LLMBackend
from emo_pillars.generation.pipeline import default_model, resolve_backend
from emo_pillars.generation.stages import Drop, LabelsStage
from emo_pillars.tasks.emopillars import read_emopillars_csv
from emo_pillars.taxonomy import EMOTIONS

HERE = Path(__file__).resolve().parent
MODES = {
    "generate-free": {"label_mode": "generate", "constrained": False},
    "generate-constrained": {"label_mode": "generate", "constrained": True},
    "score": {"label_mode": "score", "calibrate": False},
    "score-calibrated": {"label_mode": "score", "calibrate": True},
}


def sample_csv(path: Path) -> Path:
    """The sample's CSV: ``path`` itself, or in a folder its ``context_less_sample.csv`` or else its one ``.csv``."""
    if not path.is_dir():
        return path
    named = path / "context_less_sample.csv"
    csvs = [named] if named.is_file() else sorted(p for p in path.glob("*.csv") if p.is_file())
    if len(csvs) != 1:
        found = ", ".join(p.name for p in csvs) or "none"
        raise InputError(f"expected context_less_sample.csv or one .csv in the folder, found {found}", path=path)
    return csvs[0]


def load_sample(path: Path, limit: int) -> list[dict]:
    """The first ``limit`` rows of the sample (a CSV, or a folder holding it) as labels-step rows, the first
    positive label as the generated-for emotion. Raises :class:`InputError` (one line) for a missing folder or file,
    or a file not in the sample's layout."""
    rows = []
    for text, labels, _ in read_emopillars_csv(sample_csv(path))[:limit]:
        gold = [EMOTIONS[i] for i in labels]
        rows.append({"utterance": text, "primary_emotion": gold[0], "gold": gold})
    return rows


def _f1(gold: list[set[str]], pred: list[set[str]]) -> tuple[float, float]:
    """Micro-F1, and macro-F1 over the classes that occur in the gold labels or the predictions."""
    from emo_pillars.modeling.metrics import f1_scores

    def hot(rows: list[set[str]]) -> list[list[int]]:
        return [[int(e in r) for e in EMOTIONS] for r in rows]

    scores = f1_scores(hot(gold), hot(pred), EMOTIONS)
    present = [e for e in EMOTIONS if any(e in g for g in gold) or any(e in p for p in pred)]
    macro = sum(scores["per_label"][e]["f1"] for e in present) / len(present) if present else 0.0
    return scores["micro_f1"], macro


def run_mode(backend: LLMBackend, rows: list[dict], mode: str, budget: int, batch_size: int) -> dict:
    config = GenerationConfig(stages={"labels": {"max_new_tokens": budget}}, **MODES[mode])
    step = LabelsStage(config)
    start = time.perf_counter()
    setup = step.setup_prompts()
    if setup:
        step.setup(backend.score(setup, step.continuations))
    prompts = [step.format_input(r) for r in rows]
    answers: list[Completion] = []
    for lo in range(0, len(prompts), batch_size):
        batch = prompts[lo : lo + batch_size]
        if step.kind == "score":
            answers += backend.score(batch, step.continuations)
        else:
            answers += backend.generate(batch, max_new_tokens=budget, decoding=config.decoding)
    seconds = time.perf_counter() - start
    predicted, structured, top1, counts = [], 0, 0, Counter()
    for row, prompt, answer in zip(rows, prompts, answers):
        out = step.format_output(answer, row)
        counts.update(out.counts)
        shaped = prompt.constraint is None or prompt.constraint.matches(answer.text)
        structured += out.parse is None and (step.kind == "score" or shaped)
        if isinstance(out, Drop):
            predicted.append(set())
            continue
        labels = out.rows[0]["labels"]
        predicted.append(set(labels))
        ranked = sorted(out.rows[0]["emotion_scores"], key=lambda pair: -pair[1])
        top1 += bool(ranked) and ranked[0][0] == row["primary_emotion"]
    micro, macro = _f1([set(r["gold"]) for r in rows], predicted)
    return {
        "mode": mode,
        "rows": len(rows),
        "micro_f1": round(micro, 4),
        "macro_f1": round(macro, 4),
        "structured_rate": round(structured / len(rows), 4),
        "mean_labels": round(sum(map(len, predicted)) / len(rows), 3),
        "top1_is_generated_for_rate": round(top1 / len(rows), 4),
        "seconds": round(seconds, 1),
        "step_counts": step.summarize(counts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sample",
        type=Path,
        required=True,
        help="the release sample: context_less_sample.csv, or the folder holding it",
    )
    parser.add_argument("--limit", type=int, default=40, help="rows of the sample (40)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--model", default=None, help="Hub id or folder (default: the packaged SmolLM2)")
    parser.add_argument("--max-new-tokens", type=int, default=60, help="label reply budget in generate modes (60)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "label-fidelity-cpu.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"unknown modes {unknown}; choose from {list(MODES)}")
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        sample = sample_csv(args.sample)
        rows = load_sample(sample, args.limit)
    except InputError as err:
        raise SystemExit(f"label_fidelity.py: {err}") from None
    backend = resolve_backend(args.model, device="cpu", batch_size=args.batch_size)
    backend.load()
    results = []
    print(f"{'mode':<22}{'rows':>5}{'micro-F1':>10}{'macro-F1':>10}{'parsed':>8}{'labels':>8}{'top1=gen':>10}{'s':>7}")
    for mode in modes:
        row = run_mode(backend, rows, mode, args.max_new_tokens, args.batch_size)
        results.append(row)
        print(
            f"{mode:<22}{row['rows']:>5}{row['micro_f1']:>10.3f}{row['macro_f1']:>10.3f}"
            f"{100 * row['structured_rate']:>7.0f}%{row['mean_labels']:>8.2f}"
            f"{100 * row['top1_is_generated_for_rate']:>9.0f}%{row['seconds']:>7.1f}",
            flush=True,
        )
    gold_mean = sum(len(r["gold"]) for r in rows) / len(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    same_run = previous.get("rows") == len(rows) and previous.get("model", {}).get("model") == backend.model_name
    by_mode = {r["mode"]: r for r in previous.get("results", [])} if same_run else {}
    by_mode.update({r["mode"]: r for r in results})
    payload = {
        "sample": str(sample),
        "rows": len(rows),
        "model": backend.describe(),
        "default_model": args.model is None and default_model() is not None,
        "gold_mean_labels": round(gold_mean, 3),
        "results": [by_mode[m] for m in MODES if m in by_mode],
    }
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"gold: {gold_mean:.2f} labels per row; saved {args.output}")


if __name__ == "__main__":
    main()
