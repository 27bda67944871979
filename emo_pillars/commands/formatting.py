"""Plain-text tables the commands print: predictions, metrics, any rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..taxonomy import EMOTIONS

__all__ = ["format_table", "format_predictions_table", "format_metrics_table"]


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned.

    Examples:
        >>> print(format_table(["a", "b"], [["x", 1]]))
        a  b
        -  -
        x  1
    """
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_predictions_table(
    utterances: Sequence[str],
    predictions: Sequence[dict[str, float]],
    probs: Any = None,
    top: int = 3,
    labels: Sequence[str] | None = None,
) -> str:
    """A table: utterance, predicted labels with scores (or the best ``top`` scores when none passes)."""
    names = list(labels) if labels is not None else list(EMOTIONS)
    rows = []
    for i, (utterance, found) in enumerate(zip(utterances, predictions)):
        text = utterance if len(utterance) <= 60 else utterance[:57] + "..."
        if not found and probs is not None:
            best = sorted(zip(names, probs[i]), key=lambda x: -x[1])[:top]
            found_text = "(none above threshold; best: " + ", ".join(f"{e} {s:.2f}" for e, s in best) + ")"
        else:
            found_text = ", ".join(f"{e} {s:.2f}" for e, s in found.items()) or "(none)"
        rows.append([text, found_text])
    return format_table(["utterance", "labels"], rows)


def format_metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    """A table of macro/micro/weighted F1 at 0.5, at the global and at the per-label thresholds (or argmax)."""
    names = {"0.5": "0.5", "global": "global", "per_label": "per-label", "argmax": "argmax"}
    rows = []
    for key, values in metrics.items():
        label = names.get(key, key)
        if key == "global":
            label = f"global ({values['threshold']:.2f})"
        rows.append([label, f"{values['macro_f1']:.4f}", f"{values['micro_f1']:.4f}", f"{values['weighted_f1']:.4f}"])
    return format_table(["decision", "macro-F1", "micro-F1", "weighted-F1"], rows)
