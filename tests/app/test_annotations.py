"""The annotation store (atomic, umask-respecting, resumable) and the report (precision, Cohen's kappa)."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest
from sklearn.metrics import cohen_kappa_score

from emo_pillars.app.annotations import Annotation, AnnotationStore, evaluation_report, evaluation_report_from_files
from emo_pillars.app.evaluate_tab import EvaluationSession, report_markdown
from emo_pillars.app.samples import EvalExample, SampleSpec, draw_sample
from emo_pillars.errors import InputError, WriteError


def _note(annotator, example_id, judgements, explains=None, config="contextual", seed=0):
    return Annotation(annotator=annotator, dataset="/data/run1", config=config, seed=seed, example_id=example_id,
                      judgements=judgements, context_explains=explains)  # fmt: skip


def test_save_is_atomic_respects_the_umask_and_replaces_a_rejudged_example(tmp_path):
    store = AnnotationStore(tmp_path / "ann")
    old = os.umask(0o027)
    try:
        path = store.save(_note("Ann Lee", "e1", {"joy": True, "pride": False}, True))
        store.save(_note("Ann Lee", "e2", {"fear": True}, False))
        store.save(_note("Ann Lee", "e1", {"joy": False, "pride": False}, True))
    finally:
        os.umask(old)
    assert path == tmp_path / "ann" / "Ann_Lee.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0o666 less the umask, not mkstemp's 0o600
    assert [p.name for p in path.parent.iterdir()] == ["Ann_Lee.jsonl"]  # no temporary sibling left behind
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["example_id"] for r in rows] == ["e2", "e1"] and rows[1]["judgements"] == {"joy": False, "pride": False}
    assert rows[0]["annotator"] == "Ann Lee" and rows[0]["saved_at"]
    assert store.done_ids("Ann Lee", "/data/run1", "contextual", 0) == {"e1", "e2"}
    assert store.done_ids("Ann Lee", "/data/run1", "contextual", 1) == set()


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    store = AnnotationStore(tmp_path)
    path = store.save(_note("ann", "e1", {"joy": True}))
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(WriteError, match=f"^cannot write {path}: no space left on device; every judgement saved"):
        store.save(_note("ann", "e2", {"fear": True}))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["ann.jsonl"]


def test_a_damaged_file_is_reported_with_its_line(tmp_path):
    store = AnnotationStore(tmp_path)
    store.save(_note("ann", "e1", {"joy": True}))
    with store.path_for("ann").open("a") as handle:
        handle.write('{"annotator": "ann", "dataset": "d", "config": "contextual", "seed": 0, "example_id": "e2", '
                     '"judgements": {"joy": "yes"}}\n')  # fmt: skip
    with pytest.raises(
        InputError, match=r"ann\.jsonl:2: field 'judgements': label 'joy' must be judged true or false"
    ):
        store.load("ann")


def test_annotations_need_a_name_and_judgements():
    with pytest.raises(InputError, match="annotator"):
        _note("  ", "e1", {"joy": True})
    with pytest.raises(InputError, match="at least one label"):
        _note("ann", "e1", {})


def test_report_precision_per_label_and_kappa_match_scikit_learn():
    ann = [_note("ann", "e1", {"joy": True, "pride": True}, True), _note("ann", "e2", {"fear": False}, False),
           _note("ann", "e3", {"joy": True, "relief": False}, True)]  # fmt: skip
    bob = [_note("bob", "e1", {"joy": True, "pride": False}, True), _note("bob", "e2", {"fear": False}, True),
           _note("bob", "e4", {"anger": True}, None)]  # fmt: skip
    report = evaluation_report({"ann": ann, "bob": bob})
    assert report.right == {"ann": 3, "bob": 2} and report.judged == {"ann": 5, "bob": 4}
    assert report.precision == pytest.approx(5 / 9)
    per_label = {p.label: (p.judged, p.right) for p in report.per_label}
    assert per_label == {"joy": (3, 3), "pride": (2, 1), "fear": (2, 0), "relief": (1, 0), "anger": (1, 1)}
    # Shared (example, label) judgements: e1/joy, e1/pride, e2/fear.
    assert report.shared_judgements == 3
    assert report.kappa == pytest.approx(cohen_kappa_score([True, True, False], [True, False, False]))
    assert report.observed_agreement == pytest.approx(2 / 3)
    assert report.context_shared == 2
    assert report.context_kappa == pytest.approx(cohen_kappa_score([True, False], [True, True]))
    text = report.to_markdown()
    assert "| ann | 3 | 5 | 0.600 | 2/3 |" in text and "| pride | 2 | 1 | 0.500 |" in text
    assert f"over 3 shared label judgements: **{report.kappa:.3f}**" in text


def test_report_from_two_machines_files(tmp_path):
    AnnotationStore(tmp_path / "laptop").save(_note("ann", "e1", {"joy": True, "pride": False}))
    AnnotationStore(tmp_path / "desktop").save(_note("bob", "e1", {"joy": True, "pride": True}))
    AnnotationStore(tmp_path / "desktop").save(_note("bob", "e9", {"joy": True}, config="context_less"))
    paths = [tmp_path / "laptop" / "ann.jsonl", tmp_path / "desktop" / "bob.jsonl"]
    report = evaluation_report_from_files(paths, config="contextual")
    assert report.annotators == ["ann", "bob"] and report.shared_judgements == 2 and report.judged["bob"] == 2
    assert report.kappa == pytest.approx(cohen_kappa_score([True, False], [True, True]))
    with pytest.raises(InputError, match="no such annotation file"):
        evaluation_report_from_files([tmp_path / "missing.jsonl"])


def test_kappa_is_undefined_not_a_crash_when_both_always_agree_on_one_answer():
    report = evaluation_report(
        {"ann": [_note("ann", "e1", {"joy": True})], "bob": [_note("bob", "e1", {"joy": True})]}
    )
    assert math.isnan(report.kappa) and report.observed_agreement == 1.0
    assert "**undefined**" in report.to_markdown()
    with pytest.raises(InputError, match="no annotations"):
        evaluation_report({"ann": [], "bob": []})


def test_the_sample_is_seeded_and_grows_at_the_end():
    rows = [EvalExample(id=f"e{i:02d}", utterance="x", labels=("joy",)) for i in range(30)]
    first = [e.id for e in draw_sample(rows, seed=7, size=10)]
    assert first == [e.id for e in draw_sample(rows, seed=7, size=10)]
    assert [e.id for e in draw_sample(rows, seed=7, size=15)][:10] == first
    assert first != [e.id for e in draw_sample(rows, seed=8, size=10)]
    with pytest.raises(InputError, match="sample size"):
        SampleSpec("d", "contextual", 0, 0)
    with pytest.raises(InputError, match="config"):
        SampleSpec("d", "both", 0, 3)


def test_session_resumes_at_the_first_unjudged_example_of_a_generated_folder(tmp_path, generated_dir):
    folder = tmp_path / "annotations"
    session = EvaluationSession.start(folder, str(generated_dir), "context_less", 1, 3, "ann")
    assert len(session.sample) == 3 and session.position == 0 and not session.current.contextual
    first = session.current
    session.record(first.id, first.labels[:1])
    with pytest.raises(InputError, match="has no label 'grief'"):
        session.record(session.current.id, ["grief"])
    again = EvaluationSession.start(folder, str(generated_dir), "context_less", 1, 3, "ann")
    assert again.position == 1 and again.current.id == session.sample[1].id and again.progress() == (1, 3)
    markdown = report_markdown(folder, str(generated_dir), "context_less", "ann", "")
    precision = 1 / len(first.labels)
    assert f"| ann | 1 | {len(first.labels)} | {precision:.3f} | - |" in markdown
