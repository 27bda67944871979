"""Atomic builds: a build killed (SIGKILL) at any moment, or stopped by a bad row, never damages what was there.

The library has no kill hook: ``killed_build.py`` (beside this file) runs the real command in a child process with one
function patched to send the process SIGKILL at a chosen point, as ``kill -9`` from outside would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl

from emo_pillars.data.load import load_emo_pillars
from emo_pillars.data.repository import build_repository
from emo_pillars.errors import InputError


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(root):
    return {c: {s: d.to_list() for s, d in load_emo_pillars(root, c).items()} for c in ("context_less", "contextual")}


def _siblings(root):
    return sorted(p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}."))


def _edit(generated_dir, old, new):
    for name in ("context_less.jsonl", "contextual.jsonl"):
        path = generated_dir / name
        path.write_text(path.read_text().replace(old, new))


KILLED_BUILD = Path(__file__).resolve().parent / "killed_build.py"


def _killed_build(source, output, phase):
    cmd = [sys.executable, str(KILLED_BUILD), phase, "build-dataset", "--generated", str(source),
           "--output", str(output), "--no-similarity", "--repo-id", "me/emo"]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_killed_builds_leave_the_old_folder_and_a_rerun_is_byte_identical(generated_dir, tmp_path):
    new_input = tmp_path / "new-input"
    new_input.mkdir()
    for name in ("context_less.jsonl", "contextual.jsonl", "run.json"):
        text = (generated_dir / name).read_text()
        (new_input / name).write_text(text.replace("the storm", "the dreadful storm"))  # an input that differs
    reference = tmp_path / "reference"
    build_repository(new_input, reference, similarity=False, repo_id="me/emo")  # an uninterrupted build
    repo = tmp_path / "repo"
    for phase in ("shard", "contextual", "card"):
        build_repository(generated_dir, repo, similarity=False, repo_id="me/emo")
        old_files, old_rows = _files(repo), _rows(repo)
        proc = _killed_build(new_input, repo, phase)
        assert proc.returncode == -signal.SIGKILL, (phase, proc.stderr[-2000:])
        assert _files(repo) == old_files, phase
        assert _siblings(repo), phase  # the killed build's temporary folder is left, until the next build or load
        assert _rows(repo) == old_rows, phase
        build_repository(new_input, repo, similarity=False, repo_id="me/emo")
        assert not _siblings(repo), phase
        assert _files(repo) == _files(reference) != old_files, phase  # card, charts and shards byte-identical


def test_a_build_killed_between_the_renames_is_recovered(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False, repo_id="me/emo")
    old_files = _files(repo)
    _edit(generated_dir, "the storm", "the dreadful storm")
    assert _killed_build(generated_dir, repo, "swap").returncode == -signal.SIGKILL
    assert not repo.exists() and any(".old-" in name for name in _siblings(repo))
    assert _rows(repo)["contextual"]  # loading puts the old folder back first
    assert _files(repo) == old_files
    build_repository(generated_dir, repo, similarity=False, repo_id="me/emo")
    assert not _siblings(repo) and _files(repo) != old_files


@pytest.mark.parametrize("damage", ["variant", "context", "empty"])
def test_a_bad_contextual_row_writes_nothing(generated_dir, tmp_path, damage):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    old_files = _files(repo)
    path = generated_dir / "contextual.jsonl"
    rows = read_jsonl(path)
    if damage == "variant":
        rows[3]["variant"] = "paraphrase"
    elif damage == "context":
        del rows[3]["context"]
    else:
        rows = []
    write_jsonl(path, rows)
    needle = {"variant": ":4: field 'variant'", "context": ":4: field 'context': missing", "empty": "empty input"}
    for output in (repo, tmp_path / "fresh"):
        with pytest.raises(InputError, match=needle[damage]):
            build_repository(generated_dir, output, similarity=False)
        assert not _siblings(output)
    assert _files(repo) == old_files and not (tmp_path / "fresh").exists()
