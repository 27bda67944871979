"""The release as its authors shipped it, and copies of it made by others: both subsets, [name, score] pairs, derived
layouts (Parquet multi-hot, CSV with 28 binary columns), bad rows counted and never loaded, broken rows one line."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REAL_SAMPLE, read_jsonl, write_jsonl

from emo_pillars.commands.cli import main as commands_main
from emo_pillars.data.features import get_features
from emo_pillars.data.load import load_emo_pillars
from emo_pillars.data.repository import build_repository
from emo_pillars.data.sources import SourceReport, detect_layout, iter_rows
from emo_pillars.data.tables import read_config
from emo_pillars.errors import ConfigError, InputError
from emo_pillars.taxonomy import EMOTIONS

# --------------------------------------------------------------------------------------------------------------------
# The release: both subsets
# --------------------------------------------------------------------------------------------------------------------
#: What the fixture's context-full/ subset gives: 7 rows, one dropped (its only label is "plot"), 4 rewritten.
CONTEXTUAL_SIZES = {"train": 5, "validation": 2, "test": 3}


def test_both_subsets_of_the_release_load(published_dir):
    assert detect_layout(published_dir) == "published"
    context_less = load_emo_pillars(published_dir)
    assert {s: len(d) for s, d in context_less.items()} == {"train": 5, "validation": 1, "test": 2}
    contextual = load_emo_pillars(published_dir, "contextual")
    assert {s: len(d) for s, d in contextual.items()} == CONTEXTUAL_SIZES
    assert all(d.features == get_features("contextual") for d in contextual.values())
    train = contextual["train"].to_list()
    assert [r["id"] for r in train] == [
        "train-0000001-orig", "train-0000001-rewr", "train-0000002-orig", "train-0000003-orig", "train-0000003-rewr"
    ]  # fmt: skip
    mara_orig, mara_rewr = train[0], train[1]
    assert (mara_orig["variant"], mara_rewr["variant"]) == (0, 1)  # original, rewritten
    assert mara_orig["context"].startswith("Mara, a fisherwoman") and mara_rewr["context"].startswith("A fisherwoman")
    assert mara_rewr["utterance"] == "It is getting closer and nothing is ready."
    assert mara_orig["source_utterance"] == mara_rewr["source_utterance"] == mara_orig["utterance"]
    assert mara_orig["labels"] == mara_rewr["labels"] == [14, 19] and mara_orig["character"] == "Mara"
    assert mara_rewr["emotion_scores"][14] == pytest.approx(0.8) and mara_rewr["plot_id"] == "201"
    ada_rewr = train[4]  # a rewritten utterance but no cleaned context: the context is the row's own
    assert ada_rewr["context"] == train[3]["context"] and ada_rewr["utterance"] == "He never even read it."
    tobias = train[2]
    assert tobias["labels"] == [17] and tobias["emotion_scores"][EMOTIONS.index("joy")] == pytest.approx(0.7)
    everything = [r for d in contextual.values() for r in d.to_list()]
    assert not any("narrator" in r["utterance"] for r in everything)  # the row left with no label is never loaded


def test_the_release_builds_both_configs(published_dir, tmp_path):
    result = build_repository(published_dir, tmp_path / "repo", similarity=False)
    assert result.split_sizes == {"context_less": {"train": 5, "validation": 1, "test": 2},
                                  "contextual": CONTEXTUAL_SIZES}  # fmt: skip
    report = result.reports["contextual"]
    assert (report.rows_read, report.rows_kept, report.skipped) == (7, 6, 1)
    assert report.junk_labels == {"labels": 2, "all_emotions_mapped": 2, "primary_emotion": 1}
    assert load_emo_pillars(tmp_path / "repo", "contextual", split="test").to_list() == (
        load_emo_pillars(published_dir, "contextual", split="test").to_list()
    )


def test_scores_come_from_mapped_pairs_else_from_all_emotions(published_dir):
    report = SourceReport("context_less")
    rows = {r["utterance"]: r for _, r in iter_rows(published_dir, "context_less", report=report)}
    wave = rows["Look at the size of that wave, it is magnificent."]
    assert wave["emotion_scores"][0] == pytest.approx(0.7)  # admiration, from all_emotions_mapped (not "awe")
    assert "all_emotions" not in report.junk_labels
    for name in ("dev.jsonl", "train.jsonl"):
        path = published_dir / "context-less" / name
        objs = read_jsonl(path)
        for obj in objs:
            del obj["all_emotions_mapped"]
        write_jsonl(path, objs)
    report = SourceReport("context_less")
    rows = {r["utterance"]: r for _, r in iter_rows(published_dir, "context_less", report=report)}
    wave = rows["Look at the size of that wave, it is magnificent."]
    assert wave["emotion_scores"][0] == 0.0 and wave["emotion_scores"][26] == pytest.approx(0.5)  # "awe" is junk
    anger = rows["How dare he sell the farm without asking any of us?"]
    assert anger["emotion_scores"][2] == pytest.approx(0.9) and anger["emotion_scores"][10] == pytest.approx(0.6)
    # dev: "awe" and "plot"; train: "Harold", "plot"; test still reads all_emotions_mapped ("Eleanor").
    assert report.junk_labels["all_emotions"] == 4 and report.junk_labels["all_emotions_mapped"] == 1
    assert report.junk_values["'awe'"] == 1 and report.junk_values["'Harold'"] == 2  # in labels and in all_emotions


@pytest.mark.parametrize("folder", ["contextual", "context-aware", "contextful"])
def test_other_documented_spellings_of_the_contextual_subset(published_dir, folder):
    shutil.move(published_dir / "context-full", published_dir / folder)
    path = published_dir / folder / "test.jsonl"
    objs = read_jsonl(path)
    for obj in objs:
        obj["character_name"] = obj.pop("character")
        obj["context_cleaned"] = obj.pop("cleaned_context", None)
        if "rewritten_utterance" in obj:
            obj["utterance_rewritten"] = obj.pop("rewritten_utterance")
    write_jsonl(path, objs)
    test = load_emo_pillars(published_dir, "contextual", split="test").to_list()
    assert [(r["variant"], r["character"]) for r in test] == [(0, "Lena"), (0, "Lena"), (1, "Lena")]
    assert (
        test[2]["utterance"] == "I hope today goes well."
        and test[2]["context"] == "Lena walks her son to his new school."
    )
    shutil.rmtree(published_dir / "context-less")
    assert detect_layout(published_dir) == "published"  # a contextual folder alone is the release too
    with pytest.raises(InputError, match=re.escape("no {train,dev,test}.jsonl in context-less/")):
        load_emo_pillars(published_dir)


def test_a_contextual_row_without_context_is_one_line(published_dir):
    path = published_dir / "context-full" / "test.jsonl"
    objs = read_jsonl(path)
    context = objs[0].pop("context")  # line 1 has no cleaned context to stand in
    write_jsonl(path, objs)
    with pytest.raises(InputError) as info:
        load_emo_pillars(published_dir, "contextual")
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 1, "context")
    assert str(info.value) == f"{path}:1: field 'context': missing" and "\n" not in str(info.value)
    objs[0]["context"] = context
    objs[1]["context"] = "   "  # blank, although line 2 has a cleaned context
    write_jsonl(path, objs)
    with pytest.raises(InputError, match=r"test.jsonl:2: field 'context': is empty"):
        load_emo_pillars(published_dir, "contextual")
    tables = read_config(published_dir, "contextual", skip_invalid=True)
    assert tables.report.skip_reasons == {"labels": 1, "context": 1}
    assert {s: t.num_rows for s, t in tables.splits.items()} == {"train": 5, "validation": 2, "test": 1}


def test_a_release_without_a_contextual_subset_says_so(published_dir):
    shutil.rmtree(published_dir / "context-full")
    with pytest.raises(ConfigError, match="no contextual subset: none of context-full/, contextual/") as info:
        load_emo_pillars(published_dir, "contextual")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------------------------------
# Derived copies
# --------------------------------------------------------------------------------------------------------------------
#: Good rows of a derived copy: (split, text, labels).
GOOD = [
    ("train", "The boat is finally home.", [17, 23]),
    ("train", "Why would anyone do that?", [6, 7]),
    ("train", "Leave me alone.", [2]),
    ("validation", "I can't wait for the fair!", [13]),
    ("test", "The bus leaves at nine.", [27]),
    ("test", "I miss her every day.", [16, 25]),
]
SIZES = {"train": 3, "validation": 1, "test": 2}


def _multi_hot(labels):
    return [int(i in labels) for i in range(28)]


#: How each writer encodes the labels.
ENCODING = {"csv": "binary", "parquet": "multi_hot", "jsonl-ids": "ids", "jsonl-names": "binary"}


def _bad_rows(kind):
    """Rows of the train split that must be dropped and counted (text, labels as written), and one with no label."""
    bad = [("", _multi_hot([3])), ("A value of two.", [2 if i == 5 else 0 for i in range(28)])]
    if kind == "multi_hot":
        bad.append(("Twenty-seven flags.", _multi_hot([4])[:27]))
    if kind == "ids":
        bad = [("", [3]), ("An id out of range.", [4, 31])]
    return [*bad, ("No label at all.", [] if kind == "ids" else _multi_hot([]))]


def _derived_rows(kind):
    rows = [(s, t, labels if kind == "ids" else _multi_hot(labels)) for s, t, labels in GOOD]
    return rows[:1] + [("train", t, labels) for t, labels in _bad_rows(kind)] + rows[1:]


def write_csv(folder: Path, names=("train", "dev", "test")) -> Path:
    """The EmoAxis layout: ``text,0,1,...,27``, one file a split."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in zip(("train", "validation", "test"), names):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", *map(str, range(28))])
            writer.writerows([t, *flags] for s, t, flags in _derived_rows("binary") if s == split)
    return folder


def write_parquet(folder: Path) -> Path:
    """The Hub copy's layout: ``data/{split}-00000-of-00001.parquet``, ``text`` + 28-long multi-hot ``labels``."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files: data/*\n---\n# Copy\n")
    for split in ("train", "validation", "test"):
        rows = [(t, flags) for s, t, flags in _derived_rows("multi_hot") if s == split]
        table = pa.table({"text": [t for t, _ in rows], "labels": [f for _, f in rows]})
        pq.write_table(table, folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder


def write_jsonl_ids(folder: Path) -> Path:
    """``utterance`` + ``labels`` as class ids, JSON lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        rows = [{"utterance": t, "labels": ids} for s, t, ids in _derived_rows("ids") if s == split]
        write_jsonl(folder / f"{split}.jsonl", rows)
    return folder


def write_jsonl_names(folder: Path) -> Path:
    """``text`` + 28 binary keys named by class, JSON lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        rows = [{"text": t, **dict(zip(EMOTIONS, flags))} for s, t, flags in _derived_rows("binary") if s == split]
        write_jsonl(folder / f"{split}.jsonl", rows)
    return folder


WRITERS = {"csv": write_csv, "parquet": write_parquet, "jsonl-ids": write_jsonl_ids, "jsonl-names": write_jsonl_names}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_derived_copies_load_and_bad_rows_are_counted_never_loaded(kind, tmp_path):
    folder = WRITERS[kind](tmp_path / kind)
    assert detect_layout(folder) == "derived"  # the Parquet copy has a card with configs: too
    ds = load_emo_pillars(folder)
    assert {s: len(d) for s, d in ds.items()} == SIZES and ds["train"].features == get_features("context_less")
    loaded = [(s, r["utterance"], r["labels"]) for s, d in ds.items() for r in d.to_list()]
    assert loaded == GOOD  # bad rows never loaded
    first = ds["train"][0]
    assert first["id"] == first["plot_id"] == "train-0000001" and first["character"] == ""
    assert first["primary_emotion"] == "joy" and sum(first["emotion_scores"]) == 2.0
    assert first["emotion_scores"][17] == first["emotion_scores"][23] == 1.0
    bad_rows = _bad_rows(ENCODING[kind])
    assert ds["train"][1]["id"] == f"train-{len(bad_rows) + 2:07d}"  # ids count every row of the split
    report = read_config(folder, "context_less").report
    bad = len(bad_rows) - 1
    assert (report.rows_read, report.rows_kept, report.skipped, report.rows_without_labels) == (6 + bad + 1, 6, bad, 1)
    assert (
        sum(report.skip_reasons.values()) == bad
        and report.skip_reasons["utterance" if kind == "jsonl-ids" else "text"] == 1
    )


def test_derived_reasons_name_the_column(tmp_path):
    report = read_config(write_csv(tmp_path / "csv"), "context_less").report
    assert report.skip_reasons == {"text": 1, "5": 1}
    assert report.skip_examples[1].endswith("train.csv:4: field '5': label value '2' is not 0 or 1")
    report = read_config(write_parquet(tmp_path / "pq"), "context_less").report
    assert report.skip_reasons == {"text": 1, "labels": 2}
    assert (
        "train-00000-of-00001.parquet:4: field 'labels': a multi-hot list of 27 entries, not 28"
        in (report.skip_examples[2])
    )
    report = read_config(write_jsonl_ids(tmp_path / "ids"), "context_less").report
    assert report.skip_examples[1].endswith("train.jsonl:3: field 'labels': class id 31 is not an integer in 0-27")


def test_derived_copy_has_no_contextual_config_and_resplits_by_row(tmp_path):
    folder = write_parquet(tmp_path / "copy")
    with pytest.raises(ConfigError, match="holds the context-less subset only") as info:
        load_emo_pillars(folder, "contextual")
    assert "\n" not in str(info.value)
    resplit = load_emo_pillars(folder, resplit=True, split_ratios=(0.5, 0.25, 0.25))
    assert sum(len(d) for d in resplit.values()) == 6 and len(resplit) == 3


def test_a_broken_csv_row_is_one_line_naming_file_line_and_field(tmp_path, capsys):
    folder = write_csv(tmp_path / "copy")
    path = folder / "train.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]  # line 4 loses its last field
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = commands_main(["build-dataset", "--generated", str(folder), "--output", str(tmp_path / "out"),
                          "--no-similarity"])  # fmt: skip
    err = capsys.readouterr().err.split("\r")[-1].strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"{path}:4: field '27': missing (the row has 28 fields, the header 29)" in err
    assert not (tmp_path / "out").exists()
    tables = read_config(folder, "context_less", skip_invalid=True)
    assert tables.report.skip_reasons["27"] == 1 and tables.num_rows == 6


def test_a_broken_json_line_is_one_line_unless_skipped(tmp_path):
    folder = write_jsonl_ids(tmp_path / "copy")
    path = folder / "test.jsonl"
    path.write_text(path.read_text() + '{"utterance": "cut off", "lab\n', encoding="utf-8")
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:3: not valid JSON") as info:
        load_emo_pillars(folder)
    assert "\n" not in str(info.value)
    assert len(load_emo_pillars(folder, skip_invalid=True)["test"]) == 2


# --------------------------------------------------------------------------------------------------------------------
# By Hub id
# --------------------------------------------------------------------------------------------------------------------
HUB_LOAD = textwrap.dedent(
    """
    import json, sys
    from emo_pillars.data.load import load_emo_pillars
    from emo_pillars.errors import EmoPillarsError
    cache = sys.argv[1]
    out = {config: {s: d.to_list() for s, d in load_emo_pillars("tester/release", config, cache_dir=cache).items()}
           for config in ("context_less", "contextual")}
    out["derived"] = {s: d.to_list() for s, d in load_emo_pillars("tester/processed", cache_dir=cache).items()}
    try:
        load_emo_pillars("tester/processed", "contextual", cache_dir=cache)
    except EmoPillarsError as err:
        out["error"] = f"{type(err).__name__}: {err}"
    print(json.dumps(out))
    """
)


def test_release_and_derived_copy_load_by_hub_id(published_dir, tmp_path, hub_server):
    copy = write_parquet(tmp_path / "processed")
    for repo_id, folder in (("tester/release", published_dir), ("tester/processed", copy)):
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        hub_server.upload(repo_id, files, repo_type="dataset")
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    proc = subprocess.run([sys.executable, "-c", HUB_LOAD, str(tmp_path / "cache")], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for config in ("context_less", "contextual"):
        local = {s: d.to_list() for s, d in load_emo_pillars(published_dir, config).items()}
        assert out[config] == json.loads(json.dumps(local)), config
    assert {s: len(rows) for s, rows in out["contextual"].items()} == CONTEXTUAL_SIZES
    assert [[s, r["utterance"], r["labels"]] for s, rows in out["derived"].items() for r in rows] == [
        list(g) for g in GOOD
    ]
    assert out["error"].startswith("ConfigError: a derived copy")


# --------------------------------------------------------------------------------------------------------------------
# The real EmoAxis sample
# --------------------------------------------------------------------------------------------------------------------
def _readme_counts(readme: Path) -> dict[str, int]:
    """The label-count table of the sample's README: ``| col | emotion | rows | % |``."""
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (\d+) \|", readme.read_text(encoding="utf-8"), re.M)
    return {name: int(count) for _, name, count in rows}


def test_the_real_emoaxis_sample_loads_as_a_derived_copy(tmp_path):
    if not REAL_SAMPLE.is_file():
        pytest.skip(f"{REAL_SAMPLE} is not available")
    folder = tmp_path / "emoaxis"
    folder.mkdir()
    shutil.copyfile(REAL_SAMPLE, folder / "test.csv")  # the sample is the head of EmoAxis' test split
    assert detect_layout(folder) == "derived"
    tables = read_config(folder, "context_less")
    assert (tables.report.rows_read, tables.report.skipped, tables.report.rows_without_labels) == (2150, 0, 0)
    test = load_emo_pillars(folder, split="test")
    assert len(test) == 2150 and test[0]["utterance"].startswith("Sebastian's injuries aren't as bad")
    counts = Counter(EMOTIONS[i] for labels in test["labels"] for i in labels)
    assert counts["neutral"] == 299 and counts["nervousness"] == 531 and counts["admiration"] == 217
    readme = REAL_SAMPLE.parent / "README.md"
    if readme.is_file():
        assert dict(counts) == _readme_counts(readme)
