"""Plain-text tables the commands print: predictions, metrics, any rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..taxonomy import EMOTIONS

__all__ = ["format_table", "format_predictions_table", "format_metrics_table"]


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: columns of numbers right-aligned, text left-aligned, each header as its column.

    Examples:
        >>> print(format_table(["name", "score"], [["x", 1], ["yy", 0.5]]))
        name  score
        ----  -----
        x         1
        yy      0.5
    """
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [bool(rows) and i > 0 and all(_is_number(row[i]) for row in cells[1:]) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        for row in cells
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
