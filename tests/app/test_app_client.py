"""The app on 127.0.0.1 driven through gradio_client: the Try tab's scores, and an annotation saved, resumed and
reported with Cohen's kappa between two annotators."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import free_port

from emo_pillars.app.try_tab import format_predicted

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture()
def served(tmp_path, tiny_emotions_model, generated_dir):
    """The app with the tiny 28-class model and a generated dataset, on a free port; stopped afterwards."""
    from emo_pillars import EmoPillarsClassifier
    from emo_pillars.app import build_app

    classifier = EmoPillarsClassifier.from_pretrained(tiny_emotions_model, device="cpu")
    demo = build_app(classifier, dataset=generated_dir, annotations_dir=tmp_path / "annotations")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False, quiet=True,
                ssr_mode=False)  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/", classifier, tmp_path / "annotations", generated_dir
    finally:
        demo.close()


def _client(url: str):
    return gradio_client.Client(url, verbose=False)


def test_try_tab_scores_every_label_as_the_classifier_does(served):
    url, classifier, _, _ = served
    text = "I can not believe you remembered my birthday!"
    scores, predicted, ekman, sentiment, status = _client(url).predict(text, "", "", api_name="/classify")
    expected = classifier.predict_proba([text])[0]
    shown = {c["label"]: c["confidence"] for c in scores["confidences"]}
    assert len(shown) == 28 and status == ""
    assert np.allclose([shown[e] for e in classifier.model.config.id2label.values()], expected, atol=1e-6)
    top = classifier.model.config.id2label[int(expected.argmax())]
    assert scores["label"] == top
    assert predicted == format_predicted(classifier.predict([text])[0])
    assert {c["label"] for c in ekman["confidences"]} == {"anger", "disgust", "fear", "joy", "sadness", "surprise",
                                                          "neutral"}  # fmt: skip
    assert {c["label"] for c in sentiment["confidences"]} == {"positive", "negative", "ambiguous", "neutral"}


def test_try_tab_reads_a_context_and_a_character_as_the_model_input_format_says(served):
    url, classifier, _, _ = served
    text, context, character = "Of course it rained.", "Ann planned the picnic for weeks.", "Ann"
    scores, *_ = _client(url).predict(text, context, character, api_name="/classify")
    shown = {c["label"]: c["confidence"] for c in scores["confidences"]}
    expected = classifier.predict_proba([text], contexts=[context], characters=[character])[0]
    assert np.allclose([shown[e] for e in classifier.model.config.id2label.values()], expected, atol=1e-6)
    assert classifier.input_format == "context_less"  # so the context is ignored, as the model was trained
    assert np.allclose(expected, classifier.predict_proba([text])[0], atol=1e-6)


def test_try_tab_says_what_is_missing_in_one_line(served):
    url, *_ = served
    *_, status = _client(url).predict("   ", "", "", api_name="/classify")
    assert status == "**field 'utterance': type an utterance**"


def _start(client, dataset, annotator, config="contextual", seed=3, size=4):
    return client.predict(str(dataset), config, seed, size, annotator, api_name="/start")


def test_evaluate_tab_saves_resumes_and_reports_kappa(served):
    url, _, folder, dataset = served
    # Annotator "ann" judges two of four sampled contextual examples in one browser session ...
    ann = _client(url)
    status, markdown, first_id, labels_update, context_update = _start(ann, dataset, "ann")
    assert status.startswith("ann: 0 of 4 judged") and first_id in markdown
    assert context_update["visible"] is True
    labels = [c[0] if isinstance(c, list | tuple) else c for c in labels_update["choices"]]
    assert labels, labels_update
    status, _, second_id, *_ = ann.predict(first_id, labels[:1], "yes", api_name="/save")
    assert status == "ann: 1 of 4 judged." and second_id != first_id
    # ... a contextual example without the context answer is refused in one line and nothing is saved ...
    status, _, unchanged, *_ = ann.predict(second_id, [], None, api_name="/save")
    assert "say whether the context explains the emotion" in status
    status, _, third_id, *_ = ann.predict(second_id, [], "no", api_name="/save")
    assert status == "ann: 2 of 4 judged."
    records = [json.loads(line) for line in (folder / "ann.jsonl").read_text().splitlines()]
    assert [r["example_id"] for r in records] == [first_id, second_id]
    assert records[0]["annotator"] == "ann" and records[0]["judgements"][labels[0]] is True
    assert records[1]["context_explains"] is False and not any(records[1]["judgements"].values())

    # A new session (a fresh client) with the same name and sample resumes at the first unjudged example.
    again = _client(url)
    status, _, resumed_id, *_ = _start(again, dataset, "ann")
    assert status == "ann: 2 of 4 judged, resuming." and resumed_id == third_id
    # Another seed is another sample: it starts from the beginning.
    status, *_ = _start(again, dataset, "ann", seed=4)
    assert status.startswith("ann: 0 of 4 judged")

    # A second annotator judges the same two examples, agreeing on one label decision only.
    bob = _client(url)
    _start(bob, dataset, "bob")
    bob.predict(first_id, [], "yes", api_name="/save")
    bob.predict(second_id, [], "no", api_name="/save")
    report = bob.predict(str(dataset), "contextual", "ann", "bob", api_name="/report")
    assert "Cohen's kappa (ann vs bob)" in report
    from emo_pillars.app.annotations import AnnotationStore, evaluation_report

    store = AnnotationStore(folder)
    expected = evaluation_report({"ann": store.load("ann"), "bob": store.load("bob")})
    assert expected.shared_judgements > 0 and f"over {expected.shared_judgements} shared" in report
    assert (f"**{expected.kappa:.3f}**" if not np.isnan(expected.kappa) else "**undefined**") in report
    assert "| ann | 2 |" in report and "| bob | 2 |" in report


def test_evaluate_tab_reports_a_missing_dataset_in_one_line(served, tmp_path):
    url, *_ = served
    start = time.perf_counter()
    status, *_ = _start(_client(url), tmp_path / "nowhere", "ann")
    assert status == f"**{tmp_path / 'nowhere'}: no such folder**"
    status, *_ = _start(_client(url), "someone/not-cached", "ann")
    assert status.startswith("**someone/not-cached: HF_HUB_OFFLINE=1 and this dataset is not in the local cache")
    assert time.perf_counter() - start < 10
