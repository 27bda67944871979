"""Bad input: malformed lines name file and line, labels outside the taxonomy are rejected, empty input is an error."""

from __future__ import annotations

import pytest
from conftest import read_jsonl, write_jsonl

from emo_pillars.data.sources import SourceReport, iter_rows
from emo_pillars.errors import InputError


def test_generated_rows_are_encoded(generated_dir):
    rows = [row for _, row in iter_rows(generated_dir, "contextual")]
    first = rows[0]
    assert first["id"] == "p0001-c01-u00-orig" and first["variant"] == 0 and rows[1]["variant"] == 1
    assert first["labels"] == [21, 23, 17]  # pride, relief, joy (best first; optimism 0.2 is below threshold)
    assert first["emotion_scores"][20] == pytest.approx(0.2) and first["emotion_scores"][0] == 0.0
    assert rows[1]["source_utterance"] == first["utterance"] != rows[1]["utterance"]


def test_malformed_line_names_file_and_line(generated_dir):
    path = generated_dir / "context_less.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-5]  # truncated JSON on line 3
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        list(iter_rows(generated_dir, "context_less"))
    assert info.value.path == str(path) and info.value.line == 3 and "not valid JSON" in str(info.value)
    report = SourceReport("context_less")
    rows = list(iter_rows(generated_dir, "context_less", skip_invalid=True, report=report))
    assert len(rows) == 7 and report.skipped == 1 and report.rows_read == 8
    assert report.skip_reasons == {"json": 1} and report.skip_examples[0].startswith(f"{path}:3:")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("labels", ["joy", "plot"], "'plot' is not one of the 28 classes"),
        ("emotion_scores", [["Mara", 0.5]], "'Mara' is not one of the 28 classes"),
        ("emotion_scores", [["joy", 1.5]], "not a number in [0, 1]"),
        ("primary_emotion", "happiness", "not one of the 28 classes"),
        ("utterance", None, "missing"),
    ],
)
def test_bad_fields_are_rejected_with_field(generated_dir, field, value, message):
    path = generated_dir / "context_less.jsonl"
    rows = read_jsonl(path)
    if value is None:
        del rows[4][field]
    else:
        rows[4][field] = value
    write_jsonl(path, rows)
    with pytest.raises(InputError) as info:
        list(iter_rows(generated_dir, "context_less"))
    assert (info.value.line, info.value.field) == (5, field) and message in str(info.value)


def test_bad_variant_and_duplicate_id(generated_dir):
    path = generated_dir / "contextual.jsonl"
    rows = read_jsonl(path)
    rows[1]["variant"] = "paraphrase"
    write_jsonl(path, rows)
    with pytest.raises(InputError, match="variant"):
        list(iter_rows(generated_dir, "contextual"))
    rows[1]["variant"] = "rewritten"
    rows[3]["id"] = rows[2]["id"]
    write_jsonl(path, rows)
    with pytest.raises(InputError, match="duplicate id") as info:
        list(iter_rows(generated_dir, "contextual"))
    assert info.value.line == 4


def test_empty_input_is_an_error(generated_dir):
    (generated_dir / "context_less.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="empty input"):
        list(iter_rows(generated_dir, "context_less"))
    (generated_dir / "context_less.jsonl").write_text("{oops\n")
    with pytest.raises(InputError, match="1 invalid rows skipped"):
        list(iter_rows(generated_dir, "context_less", skip_invalid=True))


def test_published_junk_is_dropped_and_counted(published_dir):
    report = SourceReport("context_less")
    rows = list(iter_rows(published_dir, "context_less", report=report))
    assert [split for split, _ in rows] == ["train"] * 5 + ["validation"] + ["test"] * 2
    assert report.junk_labels == {"labels": 5, "all_emotions_mapped": 4, "primary_emotion": 1}
    assert report.skipped == 1 and report.rows_kept == 8  # the dev row whose only label was "plot"
    assert report.junk_values["'plot'"] == 5 and report.junk_values["31"] == 1
    for _, row in rows:
        assert row["labels"] and all(0 <= i < 28 for i in row["labels"])
    anger = rows[1][1]
    assert anger["labels"] == [2, 10] and anger["plot_id"] == "101" and anger["id"] == "train-0000002"


def test_rows_with_no_label_are_dropped_and_counted(generated_dir):
    path = generated_dir / "context_less.jsonl"
    rows = read_jsonl(path)
    rows[0]["labels"] = []
    rows[3]["labels"] = []
    write_jsonl(path, rows)
    report = SourceReport("context_less")
    kept = [row["id"] for _, row in iter_rows(generated_dir, "context_less", report=report)]
    assert len(kept) == 6 and rows[0]["id"] not in kept and rows[3]["id"] not in kept
    assert (report.rows_read, report.rows_kept, report.rows_without_labels, report.skipped) == (8, 6, 2, 0)
    for row in rows:
        row["labels"] = []
    write_jsonl(path, rows)
    with pytest.raises(InputError, match=r"8 rows with labels: \[\] dropped"):
        list(iter_rows(generated_dir, "context_less"))
