"""Threshold sweep for multi-label scores: the global and per-label thresholds that maximise macro-F1.

An ``evaluate`` module shipped inside emo-pillars and loaded by path. The sweep itself is
:func:`emo_pillars.training.thresholds.tune_thresholds` (0.05 to 0.95 in steps of 0.01, F1 from scikit-learn).

Examples:
    >>> from emo_pillars.training.metrics import load_metric
    >>> sweep = load_metric("threshold_sweep")
    >>> result = sweep.compute(predictions=[[0.3, 0.1], [0.1, 0.35]], references=[[1, 0], [0, 1]])
    >>> result["per_label_macro_f1"]
    1.0
"""

# ruff: noqa: I001  (evaluate's import scanner needs one import per line)
import datasets
import evaluate
from emo_pillars.training.thresholds import tune_thresholds

_DESCRIPTION = """
Sweeps decision thresholds from 0.05 to 0.95 (step 0.01) over sigmoid scores and returns the single (global)
threshold with the best macro-F1, one threshold per label (each maximising its label's F1, hence macro-F1), the
macro-F1 at 0.5, at the global and at the per-label thresholds, and the macro-F1 curve.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): per example, one sigmoid score per label.
    references (`list` of `list` of `int`): per example, 0/1 per label.
    curves (`bool`, defaults to False): also return the grid and the macro-F1 and per-label F1 curves.
Returns:
    global_threshold, global_macro_f1, per_label_thresholds, per_label_macro_f1, macro_f1_at_0.5 (and curves).
"""

_CITATION = """
@inproceedings{shvets-2025-emo-pillars,
  title={Emo Pillars: Knowledge Distillation to Support Fine-Grained Context-Aware and Context-Less Emotion
         Classification},
  author={Shvets, Alexander},
  booktitle={Findings of the Association for Computational Linguistics: ACL 2025},
  year={2025},
  eprint={2504.16856},
  archivePrefix={arXiv}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ThresholdSweep(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float32")),
                    "references": datasets.Sequence(datasets.Value("float32")),
                }
            ),
        )

    def _compute(self, predictions, references, curves=False):
        result = tune_thresholds(references, predictions)
        out = {
            "global_threshold": result.global_threshold,
            "global_macro_f1": result.global_f1,
            "per_label_thresholds": result.per_label,
            "per_label_macro_f1": result.per_label_f1,
            "macro_f1_at_0.5": result.f1_at_05,
        }
        if curves:
            out.update(grid=result.grid, macro_f1_curve=result.macro_f1_curve, label_f1_curves=result.label_f1_curves)
        return out
