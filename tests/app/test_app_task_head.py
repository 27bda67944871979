"""The Try tab with a task head: a tiny ISEAR-like 7-label single-label model, its labels read from id2label."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ISEAR_LABELS, free_port

from emo_pillars.errors import ConfigError

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture()
def isear_classifier(tiny_isear_model):
    from emo_pillars import EmoPillarsClassifier

    try:
        return EmoPillarsClassifier.from_pretrained(tiny_isear_model, device="cpu")
    except ConfigError as error:  # the classifier of this branch predates label spaces other than the 28 classes
        pytest.skip(f"EmoPillarsClassifier does not load task heads on this branch yet: {error}")


def test_analyse_uses_the_model_labels_and_softmax_without_rollups(isear_classifier):
    from emo_pillars.app.try_tab import analyse, is_emotions_model, is_single_label

    assert is_single_label(isear_classifier) and not is_emotions_model(isear_classifier)
    result = analyse(isear_classifier, "I lost the letter and lied about it.")
    assert list(result.scores) == list(ISEAR_LABELS)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.predicted == {result.top: result.scores[result.top]}
    assert result.ekman is None and result.sentiment is None


def test_try_tab_serves_a_task_head(tmp_path, isear_classifier):
    from emo_pillars.app import build_app

    demo = build_app(isear_classifier, annotations_dir=tmp_path / "annotations")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False, quiet=True,
                ssr_mode=False)  # fmt: skip
    try:
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        text = "I was ashamed of what I had said."
        scores, predicted, ekman, sentiment, status = client.predict(text, "", "", api_name="/classify")
    finally:
        demo.close()
    probs = isear_classifier.predict_proba([text])[0]
    shown = {c["label"]: c["confidence"] for c in scores["confidences"]}
    assert set(shown) == set(ISEAR_LABELS)
    assert np.allclose([shown[name] for name in ISEAR_LABELS], probs, atol=1e-6)
    assert scores["label"] == ISEAR_LABELS[int(probs.argmax())]
    assert predicted == f"{scores['label']} ({probs.max():.2f})"
    assert not ekman and not sentiment and status == ""  # no roll-ups outside the 28 classes
