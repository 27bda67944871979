"""The budget table: device-hours of the paper's workload, projected from measured per-stage throughput.

The paper's workload (PAPER.md): 2,000 plots, ~15 characters each, 10 utterances per character (300K
utterances, one label call each), and the three contextual stages for a third of them (100K each), about 700K calls
in all, for which it reports ~450 H100-hours. Each stage's hours are ``calls x tokens per call / tokens per second``,
with the tokens per second that ``benchmarks/generation.py`` measured for the pipeline's backend on a device
(context cleaning and rewriting are projected with the context stage's rate: same prompt shape, same budget). The
label stage is projected in both modes: generate (the paper's list; ``LABEL_TOKENS`` tokens per reply) and score
(one forward pass per utterance, timed directly).

    .venv/bin/python benchmarks/budget.py benchmarks/results/generation-gpu.json

Tokens per call are the typical reply lengths of a 7B instruct model under the paper's prompts (``REPLY_TOKENS``);
the stage budgets (300/500/100/300/300/300 tokens) give the upper bound, printed beside.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PAPER_HOURS = 450.0
PLOTS, CHARACTERS, UTTERANCES, CONTEXTUAL_FRACTION = 2000, 15, 10, 1 / 3

#: Calls per stage in the paper's workload.
CALLS = {
    "characters": PLOTS,
    "utterances": PLOTS * CHARACTERS,
    "labels": PLOTS * CHARACTERS * UTTERANCES,
    "context": round(PLOTS * CHARACTERS * UTTERANCES * CONTEXTUAL_FRACTION),
    "cleaning": round(PLOTS * CHARACTERS * UTTERANCES * CONTEXTUAL_FRACTION),
    "rewriting": round(PLOTS * CHARACTERS * UTTERANCES * CONTEXTUAL_FRACTION),
}
#: Typical generated tokens per call, and the paper's budgets (upper bounds).
REPLY_TOKENS = {"characters": 150, "utterances": 400, "labels": 40, "context": 200, "cleaning": 200, "rewriting": 150}
BUDGET_TOKENS = {
    "characters": 300,
    "utterances": 500,
    "labels": 100,
    "context": 300,
    "cleaning": 300,
    "rewriting": 300,
}
#: Measured stage whose rate stands for each stage.
RATE_OF = {"cleaning": "context", "rewriting": "context"}


def project(results: dict) -> list[dict]:
    """Per stage: calls, rate used, hours at typical and at budget-length replies."""
    rates = {row["stage"]: row["backend"]["tokens_per_s"] for row in results["stages"]}
    rows = []
    for stage, calls in CALLS.items():
        rate = rates.get(RATE_OF.get(stage, stage))
        if rate is None:
            continue
        rows.append(
            {
                "stage": stage,
                "calls": calls,
                "tokens_per_s": rate,
                "hours": calls * REPLY_TOKENS[stage] / rate / 3600,
                "hours_at_budget": calls * BUDGET_TOKENS[stage] / rate / 3600,
            }
        )
    modes = results.get("label_modes")
    if modes:
        per_call = modes["score_seconds"] / modes["utterances"]
        hours = CALLS["labels"] * per_call / 3600
        rows.append({"stage": "labels (score mode)", "calls": CALLS["labels"], "tokens_per_s": None, "hours": hours,
                     "hours_at_budget": hours})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a generation-<device>.json from benchmarks/generation.py")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    rows = project(results)
    print(f"{results['machine']['model']} on {results['machine']['device']}")
    print(f"{'stage':<22}{'calls':>9}{'tok/s':>10}{'hours':>10}{'at budget':>11}")
    for row in rows:
        rate = "" if row["tokens_per_s"] is None else f"{row['tokens_per_s']:.0f}"
        print(f"{row['stage']:<22}{row['calls']:>9}{rate:>10}{row['hours']:>10.1f}{row['hours_at_budget']:>11.1f}")
    for mode in ("labels", "labels (score mode)"):
        total = sum(r["hours"] for r in rows if not r["stage"].startswith("labels") or r["stage"] == mode)
        print(f"total, label stage in {'generate' if mode == 'labels' else 'score'} mode: {total:.1f} device-hours "
              f"(paper: {PAPER_HOURS:.0f} H100-hours)")  # fmt: skip


if __name__ == "__main__":
    main()
