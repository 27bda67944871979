"""The evaluate modules shipped in the package, loaded by path and offline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from emo_pillars.taxonomy import EMOTIONS
from emo_pillars.training.metrics import METRICS, load_metric, metric_path


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 28)) < 0.15).astype(int)
    probs = np.clip(labels * 0.4 + rng.random((60, 28)) * 0.6, 0, 1)
    return labels, probs


def test_multilabel_f1_matches_sklearn(data):
    labels, probs = data
    metric = load_metric("multilabel_f1")
    result = metric.compute(predictions=probs.tolist(), references=labels.tolist(), label_names=list(EMOTIONS))
    pred = (probs >= 0.5).astype(int)
    for average in ("macro", "micro", "weighted"):
        assert result[f"{average}_f1"] == pytest.approx(f1_score(labels, pred, average=average, zero_division=0))
    p, r, f, s = precision_recall_fscore_support(labels, pred, average=None, zero_division=0)
    assert result["per_label"]["joy"] == pytest.approx(
        {"precision": p[17], "recall": r[17], "f1": f[17], "support": int(s[17])}
    )
    per_label = metric.compute(predictions=probs.tolist(), references=labels.tolist(), threshold=[0.3] * 28)
    assert per_label["macro_f1"] == pytest.approx(f1_score(labels, (probs >= 0.3).astype(int), average="macro"))


def test_metric_paths():
    assert METRICS == ("multilabel_f1",)
    assert metric_path("multilabel_f1").endswith("metrics/multilabel_f1/multilabel_f1.py")
    with pytest.raises(ValueError):
        metric_path("accuracy")
