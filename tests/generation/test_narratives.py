"""Reading narratives from every supported source, and clear errors for bad input."""

from __future__ import annotations

import pytest

from emo_pillars.errors import InputError
from emo_pillars.narratives import Narrative, demo_corpus, load_narratives


def test_demo_corpus_is_bundled_and_sizeable():
    plots = demo_corpus()
    assert len(plots) >= 12
    assert len({p.id for p in plots}) == len(plots)
    assert all(p.title and len(p.text.split()) > 60 for p in plots)
    assert load_narratives(None, max_plots=2) == plots[:2]


def test_folder_of_txt_files(tmp_path):
    (tmp_path / "b-story.txt").write_text("Second plot.\n", encoding="utf-8")
    (tmp_path / "a story.txt").write_text("First plot.", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored")
    plots = load_narratives(tmp_path)
    assert [(p.id, p.text) for p in plots] == [("a-story", "First plot."), ("b-story", "Second plot.")]


def test_wikiplots_txt_with_eos_keeps_paragraphs(tmp_path):
    path = tmp_path / "plots.txt"
    path.write_text("One begins.\n\nOne ends.\n<EOS>\nTwo.\n<EOS>\n", encoding="utf-8")
    plots = load_narratives(path)
    assert [p.text for p in plots] == ["One begins.\n\nOne ends.", "Two."]
    assert plots[0].id == "plots-00000"


def test_txt_separated_by_blank_lines(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("A first.\nstill first.\n\n\nB second.\n", encoding="utf-8")
    assert [p.text for p in load_narratives(path)] == ["A first.\nstill first.", "B second."]


def test_jsonl_and_csv_with_ids_titles_and_duplicates(tmp_path):
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"id": 7, "title": "T", "text": "x y"}\n\n{"id": 7, "text": "z"}\n{"text": "w"}\n')
    plots = load_narratives(jsonl)
    assert [(p.id, p.title, p.text) for p in plots] == [("7", "T", "x y"), ("7-1", None, "z"), ("p00002", None, "w")]
    csv_path = tmp_path / "p.csv"
    csv_path.write_text('id,title,plot\n1,"A, b","text, with comma"\n', encoding="utf-8")
    assert load_narratives(csv_path, text_column="plot") == [Narrative("1", "text, with comma", "A, b")]


def test_dataset_and_list_sources():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"synopsis": ["one", "two"]})
    assert [p.text for p in load_narratives(ds, text_column="synopsis")] == ["one", "two"]
    assert [p.id for p in load_narratives(["a", "b"])] == ["p00000", "p00001"]
    with pytest.raises(InputError, match="missing column 'text'"):
        load_narratives(ds)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.txt", b"", "empty.txt: the file holds no plots"),
        ("bad.jsonl", b'{"text": "ok"}\n{"text": "a"\n', "bad.jsonl:2: not valid JSON"),
        ("list.jsonl", b'["a"]\n', "list.jsonl:1: each line must be a JSON object"),
        ("col.jsonl", b'{"text": "ok"}\n{"plot": "a"}\n', "col.jsonl:2: field 'text': missing column 'text'"),
        ("blank.jsonl", b'{"text": "  "}\n', "blank.jsonl:1: field 'text': the plot text is empty"),
        ("latin.txt", b"line one\ncaf\xe9\n", "latin.txt:2: not valid UTF-8"),
        ("nohead.csv", b"id,title\n1,x\n", "nohead.csv:1: field 'text': missing column 'text'"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_narratives(path)
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(":", 1)[1] in str(err.value)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_narratives(tmp_path / "nope")
    with pytest.raises(InputError, match="no .txt files"):
        load_narratives(tmp_path)
