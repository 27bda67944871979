"""``emo-pillars merge`` and ``build-dataset --generated A B``: the shards of a scripted run, joined by the command line.

Refusals are one line on stderr with exit status 2, and write nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds sharded_runs.py

from sharded_runs import DATA_FILES, generate, generate_runs  # noqa: E402

from emo_pillars.commands.cli import main  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    return generate_runs(tmp_path_factory.mktemp("runs"), max_plots=4)


def _nothing_written(out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f".{out.name}.*"))


def refused(capsys: pytest.CaptureFixture, argv: list[str], needle: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (argv, err)
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err


def test_merge_writes_what_the_unsharded_run_wrote(capsys, runs, tmp_path) -> None:
    out = tmp_path / "all"
    assert main(["merge", "--output", str(out), str(runs["shard1"]), str(runs["shard0"])]) == 0
    captured = capsys.readouterr()
    counts = json.loads((runs["whole"] / "run.json").read_text())["counts"]
    assert captured.out.strip() == (
        f"Merged shards 0/2, 1/2: {counts['context_less']} context-less and {counts['contextual']} contextual "
        f"examples from 4 plots in {out}"
    )
    assert captured.err == ""
    for name in DATA_FILES:
        assert (out / name).read_bytes() == (runs["whole"] / name).read_bytes(), name
    refused(capsys, ["merge", "--output", str(out), str(runs["shard0"]), str(runs["shard1"])], "is not empty")
    assert main(["merge", "--overwrite", "--output", str(out), str(runs["shard0"]), str(runs["shard1"])]) == 0


def test_merge_refuses_in_one_line_and_writes_nothing(capsys, runs, tmp_path) -> None:
    out = tmp_path / "out"
    s0 = str(runs["shard0"])
    other = generate(tmp_path / "other", shard=(1, 2), max_plots=4, label_threshold=0.5)
    for argv, needle in (
        ([s0, s0], "are both shard 0/2 (config.shard_index): give each shard once"),
        ([s0, str(other)], "not shards of one run: run.json:config.label_threshold is 0.5 in other and 0.3 in shard0"),
        ([s0, str(FIXTURES / "published")], "is not generator output: no run.json"),
        ([s0], "shard 1/2 missing"),
    ):
        refused(capsys, ["merge", "--output", str(out), *argv], needle)
        assert _nothing_written(out), argv


def test_merge_warns_in_one_line_where_it_goes_on(capsys, runs, tmp_path) -> None:
    out = tmp_path / "half"
    assert main(["merge", "--allow-missing", "--output", str(out), str(runs["shard0"])]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert warnings == [f"emo-pillars merge: warning: shard 1/2 missing: {out} holds 1 of 2 shards"]


def test_build_dataset_takes_every_shard(capsys, runs, tmp_path) -> None:
    import pyarrow.parquet as pq

    common = ["--no-similarity", "--repo-id", "user/emo-pillars"]
    assert (
        main(["build-dataset", "--generated", str(runs["whole"]), "--output", str(tmp_path / "whole"), *common]) == 0
    )
    out = tmp_path / "sharded"
    argv = ["build-dataset", "--generated", str(runs["shard0"]), str(runs["shard1"]), "--output", str(out), *common]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("context_less: train") == 2
    files = sorted(p.relative_to(out) for p in out.glob("*/*.parquet"))
    assert files == sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").glob("*/*.parquet"))
    for file in files:
        assert pq.read_table(out / file).to_pylist() == pq.read_table(tmp_path / "whole" / file).to_pylist()
    refused(
        capsys,
        ["build-dataset", "--generated", str(runs["shard0"]), str(runs["shard0"]), "--output", str(tmp_path / "x")],
        "are both shard 0/2",
    )
    assert _nothing_written(tmp_path / "x")
