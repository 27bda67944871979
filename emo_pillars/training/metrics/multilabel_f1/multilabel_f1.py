"""Multi-label F1 for the 28 emotion classes: macro, micro and weighted F1 plus per-label precision, recall and F1.

An ``evaluate`` module shipped inside emo-pillars and loaded by path, so it works offline:

Examples:
    >>> from emo_pillars.training.metrics import load_metric
    >>> metric = load_metric("multilabel_f1")
    >>> result = metric.compute(predictions=[[0.9, 0.1], [0.2, 0.7]], references=[[1, 0], [0, 1]],
    ...                         label_names=["joy", "fear"])
    >>> result["macro_f1"], result["per_label"]["fear"]["f1"]
    (1.0, 1.0)
"""

# ruff: noqa: I001  (evaluate's import scanner needs one import per line)
import datasets
import evaluate
import numpy as np
from emo_pillars.metrics import f1_scores

_DESCRIPTION = """
Multi-label classification scores: the library's one F1 implementation, emo_pillars.metrics.f1_scores (scikit-learn). Predictions are scores or 0/1 values per label;
they are turned into 0/1 predictions with `threshold` (one float, or one float per label). Returns macro, micro and
weighted F1, and precision, recall, F1 and support per label.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): per example, one score (or 0/1 prediction) per label.
    references (`list` of `list` of `int`): per example, 0/1 per label.
    threshold (`float` or `list` of `float`, defaults to 0.5): a score at or above the threshold is a positive.
    label_names (`list` of `str`, optional): names for the per-label entries; defaults to "0", "1", ...
Returns:
    macro_f1, micro_f1, weighted_f1 (`float`), per_label (`dict`: name -> precision, recall, f1, support).
"""

_CITATION = """
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and others},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MultilabelF1(evaluate.Metric):
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
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html"],
        )

    def _compute(self, predictions, references, threshold=0.5, label_names=None):
        scores = np.asarray(predictions, dtype=np.float64)
        y_pred = (scores >= np.asarray(threshold, dtype=np.float64)).astype(np.int64)
        return f1_scores(references, y_pred, label_names)
