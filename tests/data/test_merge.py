"""Merging the folders of a sharded generation (emo_pillars.data.merge) and building a dataset from several folders.

The runs are made by the real pipeline with the scripted teacher over the bundled demo corpus (or a small corpus
written here), sharded 0/2 and 1/2 and unsharded; a merge of the shards must equal the unsharded run byte for byte.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds sharded_runs.py

from sharded_runs import DATA_FILES, generate, generate_runs  # noqa: E402

from emo_pillars.data.merge import merge_shards  # noqa: E402
from emo_pillars.data.repository import build_repository  # noqa: E402
from emo_pillars.errors import ConfigError, InputError  # noqa: E402
from emo_pillars.utils import io as io_module  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Five plots; the third names no character (the scripted teacher answers "none"), so it gives no rows.
SMALL_CORPUS = [
    {"id": "alpha", "text": "Marina sails home across the storm while Tobias waits at the harbour."},
    {"id": "beta", "text": "Henrietta opens the letter from her brother Cornelius at dawn."},
    {"id": "gamma", "text": "the sea was calm and grey, and nobody came to the door that night."},
    {"id": "delta", "text": "Augustin loses the race to his sister Philippa in the village square."},
    {"id": "epsilon", "text": "Rosalind finds the secret garden her mother Beatrice had hidden."},
]


def _run_json(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


def _without_seconds(value):
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if k != "seconds"}
    return value


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*"))


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory) -> dict[str, Path]:
    """All 13 demo plots: one (the tortoise and the hare) gives no rows, so its shard's ranks do not tell positions."""
    return generate_runs(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def four_plot_runs(tmp_path_factory) -> dict[str, Path]:
    """Four demo plots, each with rows: positions follow from each plot's rank in its shard."""
    return generate_runs(tmp_path_factory.mktemp("four"), max_plots=4)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "plots.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in SMALL_CORPUS), encoding="utf-8")
    return path


@pytest.mark.parametrize("runs_name", ["four_plot_runs", "demo_runs"])
def test_merged_shards_equal_the_unsharded_run(runs_name, request, tmp_path) -> None:
    runs = request.getfixturevalue(runs_name)
    whole = runs["whole"]
    result = merge_shards([runs["shard1"], runs["shard0"]], tmp_path / "all")
    out = result.output_dir
    assert sorted(p.name for p in out.iterdir()) == ["context_less.jsonl", "contextual.jsonl", "run.json"]  # no cache/
    for name in DATA_FILES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    merged, expected = _run_json(out), _run_json(whole)
    assert result.row_order == "corpus" and result.shard_indices == [0, 1] and result.missing_shards == []
    assert merged["config"] == expected["config"]  # num_shards 1, shard_index 0: an unsharded run's
    assert merged["counts"] == expected["counts"] == result.counts
    assert json.dumps(_without_seconds(merged["stages"])) == json.dumps(_without_seconds(expected["stages"]))
    for key in ("backend", "steps", "prompt_hashes", "problem", "emo_pillars_version"):
        assert merged[key] == expected[key], key
    assert [(s["folder"], s["shard_index"], s["num_shards"]) for s in merged["merged_from"]] == [
        ("shard0", 0, 2), ("shard1", 1, 2),
    ]  # fmt: skip
    assert sum(s["counts"]["context_less"] for s in merged["merged_from"]) == expected["counts"]["context_less"]
    assert merged["created"] == max(_run_json(runs[s])["created"] for s in ("shard0", "shard1"))
    assert (merged["missing_shards"], merged["row_order"]) == ([], "corpus")
    assert _leftovers(out) == []


def test_merging_twice_gives_the_same_bytes(four_plot_runs, tmp_path) -> None:
    shards = [four_plot_runs["shard0"], four_plot_runs["shard1"]]
    first = merge_shards(shards, tmp_path / "a").output_dir
    second = merge_shards(shards[::-1], tmp_path / "b").output_dir
    for name in (*DATA_FILES, "run.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    (second / "note.txt").write_text("old")
    merge_shards(shards, second, overwrite=True)  # replaced as a whole
    assert (
        not (second / "note.txt").exists() and (second / "run.json").read_bytes() == (first / "run.json").read_bytes()
    )


def test_corpus_order_needs_the_corpus_when_a_plot_gives_no_rows(small_corpus, tmp_path) -> None:
    runs = generate_runs(tmp_path / "runs", small_corpus)
    assert _run_json(runs["shard0"])["counts"]["plots"] == 3  # alpha, gamma, epsilon; gamma gives no rows
    kept = merge_shards([runs["shard0"], runs["shard1"]], tmp_path / "kept")
    assert kept.row_order == "shards" and _run_json(kept.output_dir)["row_order"] == "shards"
    lines = (kept.output_dir / "context_less.jsonl").read_bytes().splitlines(keepends=True)
    assert lines == [
        line
        for shard in ("shard0", "shard1")
        for line in (runs[shard] / "context_less.jsonl").read_bytes().splitlines(True)
    ]  # by shard index, then file order
    assert sorted(lines) == sorted((runs["whole"] / "context_less.jsonl").read_bytes().splitlines(True))

    ordered = merge_shards([runs["shard0"], runs["shard1"]], tmp_path / "ordered", narratives=small_corpus)
    assert ordered.row_order == "corpus"
    for name in DATA_FILES:
        assert (ordered.output_dir / name).read_bytes() == (runs["whole"] / name).read_bytes(), name

    other = tmp_path / "other.jsonl"
    other.write_text(
        "".join(json.dumps(r) + "\n" for r in [SMALL_CORPUS[1], SMALL_CORPUS[0], *SMALL_CORPUS[2:]]), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="read another corpus"):
        merge_shards([runs["shard0"], runs["shard1"]], tmp_path / "wrong", narratives=other)
    assert not (tmp_path / "wrong").exists() and _leftovers(tmp_path / "wrong") == []


def _copy(runs: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    return {name: Path(shutil.copytree(path, tmp_path / "copies" / name)) for name, path in runs.items()}


def _edit_run_json(folder: Path, edit) -> None:
    info = _run_json(folder)
    edit(info)
    (folder / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def _refused(sources: list[Path], out: Path, error: type[Exception], match: str, **options) -> str:
    with pytest.raises(error, match=match) as caught:
        merge_shards(sources, out, **options)
    assert len(str(caught.value).splitlines()) == 1
    assert not out.exists() and _leftovers(out) == []
    return str(caught.value)


def test_overlapping_shards_are_refused(four_plot_runs, tmp_path) -> None:
    s0, out = four_plot_runs["shard0"], tmp_path / "out"
    _refused([s0, s0], out, ConfigError, r"are both shard 0/2 \(config.shard_index\)")
    copies = _copy(four_plot_runs, tmp_path)
    _edit_run_json(copies["shard0"], lambda info: info["config"].update(shard_index=1))  # shard 0's rows, called 1
    message = _refused([s0, copies["shard0"]], out, ConfigError, "is in both")
    assert "plot 'odyssey'" in message and "the shards overlap" in message
    twice = copies["shard1"] / "context_less.jsonl"
    first = twice.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    with twice.open("a", encoding="utf-8") as handle:
        handle.write(first)
    example = json.loads(first)["id"]
    _refused(
        [s0, copies["shard1"]], out, ConfigError, f"example id '{example}' is twice in {twice}: the shards overlap"
    )


def test_shards_of_another_run_are_refused(four_plot_runs, tmp_path) -> None:
    s0, out = four_plot_runs["shard0"], tmp_path / "out"
    other = generate(tmp_path / "other", shard=(1, 2), max_plots=4, max_characters=1)
    message = _refused([s0, other], out, ConfigError, "not shards of one run")
    assert "run.json:config.max_characters is 1 in other and null in shard0" in message
    three = generate(tmp_path / "three", shard=(1, 3), max_plots=4)
    _refused([s0, three], out, ConfigError, r"\(config.num_shards\)")
    copies = _copy(four_plot_runs, tmp_path)
    _edit_run_json(copies["shard1"], lambda info: info["prompt_hashes"].update(labels="0" * 64))
    _refused([s0, copies["shard1"]], out, ConfigError, "prompt_hashes.labels")
    _edit_run_json(copies["shard1"], lambda info: info.update(prompt_hashes=_run_json(s0)["prompt_hashes"]))
    _edit_run_json(copies["shard1"], lambda info: info["backend"].update(model="another-teacher"))
    _refused([s0, copies["shard1"]], out, ConfigError, "run.json:backend.model")
    _edit_run_json(copies["shard1"], lambda info: info.update(backend=_run_json(s0)["backend"]))
    _edit_run_json(copies["shard1"], lambda info: info["counts"].update(plots=3))
    _refused(
        [s0, copies["shard1"]],
        out,
        ConfigError,
        r"shard0: counts.plots is 2, but shard 0/2 of the 5 plots .* read different corpora",
    )


def test_a_local_teacher_counts_by_its_folder_name(four_plot_runs, tmp_path) -> None:
    copies = _copy(four_plot_runs, tmp_path)
    _edit_run_json(copies["shard0"], lambda info: info["backend"].update(model="/home/a/models/SmolLM2"))
    _edit_run_json(copies["shard1"], lambda info: info["backend"].update(model="/opt/b/SmolLM2"))
    result = merge_shards([copies["shard0"], copies["shard1"]], tmp_path / "out")
    assert result.run_info["backend"]["model"] == "/home/a/models/SmolLM2"  # shard 0's, as written


def test_folders_that_are_not_generator_output_are_refused(four_plot_runs, tmp_path) -> None:
    s0, out = four_plot_runs["shard0"], tmp_path / "out"
    _refused([s0, FIXTURES / "published"], out, InputError, "is not generator output: no run.json")
    _refused([s0, tmp_path / "nowhere"], out, InputError, "no such folder")
    empty = tmp_path / "empty"
    shutil.copytree(s0, empty, ignore=shutil.ignore_patterns("*.jsonl"))
    _refused([empty], out, InputError, "is not generator output: no context_less.jsonl or contextual.jsonl")
    merged = merge_shards([s0, four_plot_runs["shard1"]], tmp_path / "merged").output_dir
    _refused([merged], out, InputError, "is already a merge of shards")
    broken = Path(shutil.copytree(s0, tmp_path / "broken"))
    with (broken / "contextual.jsonl").open("a") as handle:
        handle.write("{not json\n")
    _refused([broken, four_plot_runs["shard1"]], out, InputError, r"broken/contextual.jsonl:\d+: not valid JSON")


def test_a_missing_shard_is_refused_unless_allowed(four_plot_runs, tmp_path) -> None:
    s0, out = four_plot_runs["shard0"], tmp_path / "out"
    _refused([s0], out, ConfigError, r"shard 1/2 missing: give every shard's folder \(.*--allow-missing\)")
    result = merge_shards([s0], out, allow_missing=True)
    assert result.missing_shards == [1] and result.counts == _run_json(s0)["counts"]
    info = _run_json(out)
    assert (info["config"]["num_shards"], info["config"]["shard_index"], info["missing_shards"]) == (2, None, [1])
    for name in DATA_FILES:
        assert (out / name).read_bytes() == (s0 / name).read_bytes()


def test_an_output_in_use_is_refused(four_plot_runs, tmp_path) -> None:
    shards = [four_plot_runs["shard0"], four_plot_runs["shard1"]]
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not empty: choose a new folder, or overwrite it"):
        merge_shards(shards, taken)
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    with pytest.raises(ConfigError, match="holds the shard folder"):
        merge_shards(shards, shards[0].parent, overwrite=True)  # would delete the shards it reads
    with pytest.raises(ConfigError, match="holds the shard folder"):
        merge_shards(shards, shards[0], overwrite=True)


def test_a_failed_write_leaves_the_output_as_it_was_and_no_temporary_folder(four_plot_runs, tmp_path, monkeypatch):
    shards = [four_plot_runs["shard0"], four_plot_runs["shard1"]]
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.merge-{int(dead.stdout)}-abc.tmp"  # left by a merge killed with SIGKILL
    stale.mkdir()

    def fail(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(io_module, "replace_directory", fail)  # the one folder swap (utils.io.staged_folder)
    with pytest.raises(OSError, match="disk full"):
        merge_shards(shards, out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["old.txt"] and _leftovers(out) == []


def test_build_from_several_folders_equals_the_unsharded_build(demo_runs, tmp_path) -> None:
    import pyarrow.parquet as pq

    options = {"similarity": False, "repo_id": "user/emo-pillars"}  # the card shows the id, not the folder
    whole = build_repository(demo_runs["whole"], tmp_path / "whole", **options)
    merged = merge_shards([demo_runs["shard0"], demo_runs["shard1"]], tmp_path / "merged").output_dir
    from_merged = build_repository(merged, tmp_path / "from_merged", **options)
    direct = build_repository([demo_runs["shard1"], demo_runs["shard0"]], tmp_path / "direct", **options)
    assert whole.split_sizes == from_merged.split_sizes == direct.split_sizes
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").glob("*/*.parquet"))
    assert files and files == sorted(
        p.relative_to(tmp_path / "direct") for p in (tmp_path / "direct").glob("*/*.parquet")
    )
    for file in files:
        expected = (tmp_path / "whole" / file).read_bytes()
        for built in ("from_merged", "direct"):
            assert (
                pq.read_table(tmp_path / built / file).to_pylist()
                == pq.read_table(tmp_path / "whole" / file).to_pylist()
            )
            assert (tmp_path / built / file).read_bytes() == expected, (built, file)
    # The merged folder and the folders given directly make the same card and run.json, byte for byte.
    for name in ("README.md", "run.json"):
        assert (tmp_path / "from_merged" / name).read_bytes() == (tmp_path / "direct" / name).read_bytes(), name
    assert direct.run_info["merged_from"][1]["folder"] == "shard1"
    assert _leftovers(tmp_path / "direct") == []


def test_build_from_several_folders_checks_them_first(demo_runs, tmp_path) -> None:
    out = tmp_path / "repo"
    with pytest.raises(ConfigError, match="are both shard 0/2"):
        build_repository([demo_runs["shard0"], demo_runs["shard0"]], out, similarity=False)
    other = generate(tmp_path / "other", shard=(1, 2), label_threshold=0.5)
    with pytest.raises(ConfigError, match="run.json:config.label_threshold is 0.5 in other and 0.3 in shard0"):
        build_repository([demo_runs["shard0"], other], out, similarity=False)
    assert not out.exists() and _leftovers(out) == []


def test_a_bad_row_is_named_in_its_shard_not_in_the_merged_copy(demo_runs, tmp_path) -> None:
    copies = _copy(demo_runs, tmp_path)
    path = copies["shard1"] / "context_less.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    row = json.loads(lines[2])
    lines[2] = json.dumps({**row, "labels": ["plot"]}) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "repo"
    with pytest.raises(InputError) as caught:
        build_repository([copies["shard0"], copies["shard1"]], out, similarity=False)
    assert str(caught.value).startswith(f"{path}:3: field 'labels'"), str(caught.value)
    assert not out.exists() and _leftovers(out) == []
