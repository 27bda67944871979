"""push-dataset against the local Hub, then load by repo id through the real client: verified, one commit, one line.

huggingface_hub reads HF_ENDPOINT when imported, so the client side runs in a subprocess with the server's env.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import datasets
import pytest

from emo_pillars.data.repository import build_repository

LOAD = textwrap.dedent(
    """
    import json, sys
    import datasets
    from emo_pillars.data.load import load_emo_pillars
    repo_id, cache = sys.argv[1], sys.argv[2]
    out = {}
    for config in ("context_less", "contextual"):
        ds = datasets.load_dataset(repo_id, config, cache_dir=cache)
        out[config] = {split: {"rows": d.to_list(), "features": d.features.to_dict()} for split, d in ds.items()}
    out["via_load_emo_pillars"] = load_emo_pillars(repo_id, "contextual", split="test", cache_dir=cache).to_list()
    print(json.dumps(out))
    """
)


def _run(args, env, ok=True):
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _push(repo, repo_id, env, ok=True):
    return _run(["-m", "emo_pillars", "push-dataset", str(repo), "--repo-id", repo_id], env, ok)


def _error_line(proc):
    """The one error line (progress bars aside), after checking there is no traceback and a status of 2."""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line.strip() for line in re.split(r"[\r\n]", proc.stderr) if line.strip()]
    errors = [line for line in lines if line.startswith("emo-pillars: error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


def test_push_then_load_by_repo_id(generated_dir, tmp_path, hub_server):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)  # no --repo-id: the card shows the folder path
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    push = [
        "-m", "emo_pillars", "push-dataset", str(repo), "--repo-id", "tester/emo-pillars", "--private",
    ]  # fmt: skip
    before = len(hub_server.requests)
    assert "Pushed" in _run(push, env).stdout
    commits = [p for m, p in hub_server.requests[before:] if m == "POST" and "/commit/" in p]
    assert len(commits) == 1  # one commit
    stored = hub_server.files("dataset", "tester/emo-pillars")
    assert {"README.md", "run.json", "label_distribution.png", "utterance_length.png",
            "contextual/test-00000-of-00001.parquet"} <= set(stored)  # fmt: skip
    assert "contextual/train-00000-of-00001.parquet" in hub_server.lfs_paths("dataset", "tester/emo-pillars")
    assert hub_server.repo("dataset", "tester/emo-pillars").private
    card = stored["README.md"].decode()
    assert 'load_dataset("tester/emo-pillars", "contextual")' in card and str(repo) not in card

    remote = json.loads(_run(["-c", LOAD, "tester/emo-pillars", str(tmp_path / "cache")], env).stdout.splitlines()[-1])
    for config in ("context_less", "contextual"):
        local = datasets.load_dataset(str(repo), config, cache_dir=str(tmp_path / "local"))
        assert list(remote[config]) == list(local)
        for split, d in local.items():
            assert remote[config][split]["rows"] == d.to_list()
            assert remote[config][split]["features"] == d.features.to_dict()
    assert (
        remote["via_load_emo_pillars"]
        == datasets.load_dataset(str(repo), "contextual", split="test", cache_dir=str(tmp_path / "local")).to_list()
    )
    assert not hub_server.unhandled


def test_damaged_folder_is_refused_and_the_remote_is_unchanged(generated_dir, tmp_path, hub_server):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    _push(repo, "tester/damage", env)
    remote = hub_server.files("dataset", "tester/damage")
    head = hub_server.repo("dataset", "tester/damage").head

    damaged = tmp_path / "damaged"
    shutil.copytree(repo, damaged)
    (damaged / "contextual" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")  # the 4-byte shard of the issue
    for validation in (damaged / "contextual").glob("validation-*"):
        validation.unlink()
    line = _error_line(_push(damaged, "tester/damage", env, ok=False))
    assert f"{damaged}: damaged dataset repository: no contextual/validation shards" in line
    (damaged / "contextual" / "validation-00000-of-00001.parquet").write_bytes(
        (repo / "contextual" / "validation-00000-of-00001.parquet").read_bytes()
    )
    line = _error_line(_push(damaged, "tester/damage", env, ok=False))
    assert "damaged dataset repository: contextual/train-00000-of-00001.parquet is not a readable Parquet file" in line
    shutil.rmtree(damaged / "contextual")
    (damaged / "README.md").unlink()
    assert "no README.md card" in _error_line(_push(damaged, "tester/damage", env, ok=False))
    assert "is not a valid Hub id" in _error_line(_push(repo, "tester/da mage", env, ok=False))
    assert hub_server.repo("dataset", "tester/damage").head == head
    assert hub_server.files("dataset", "tester/damage") == remote


def test_rebuild_push_replaces_only_its_configs_shards(generated_dir, tmp_path, hub_server):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    _push(repo, "tester/rebuild", env)
    hub_server.upload("tester/rebuild", {"context_less/train-00000-of-00002.parquet": b"PAR1old"}, "dataset")
    only = tmp_path / "only"
    build_repository(generated_dir, only, configs=["context_less"], similarity=False)
    _push(only, "tester/rebuild", env)
    stored = hub_server.files("dataset", "tester/rebuild")
    assert "context_less/train-00000-of-00002.parquet" not in stored  # a stale shard of a pushed config goes
    assert "contextual/train-00000-of-00001.parquet" in stored  # a config not pushed is left alone


def test_transient_upload_failures_are_retried_by_huggingface_hub(generated_dir, tmp_path, hub_server):
    for name in ("context_less.jsonl", "contextual.jsonl"):  # new bytes, so the hub holds none of these LFS objects
        path = generated_dir / name
        path.write_text(path.read_text().replace("the storm", "the long storm"))
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    hub_server.stop_uploads(after=1, times=2)
    try:
        assert "Pushed" in _push(repo, "tester/flaky", env).stdout
    finally:
        hub_server.resume_uploads()
    assert "contextual/test-00000-of-00001.parquet" in hub_server.files("dataset", "tester/flaky")


@pytest.mark.slow
def test_hub_stopped_mid_upload_is_one_line_and_a_retry_completes(generated_dir, tmp_path, hub_server):
    for name in ("context_less.jsonl", "contextual.jsonl"):  # new bytes, so the hub holds none of these LFS objects
        path = generated_dir / name
        path.write_text(path.read_text().replace("the storm", "the great storm"))
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    hub_server.create_repo("tester/stopped", "dataset")
    hub_server.stop_uploads(
        after=1
    )  # the hub goes away after the first LFS object; huggingface_hub retries, then fails
    try:
        line = _error_line(_push(repo, "tester/stopped", env, ok=False))
    finally:
        hub_server.resume_uploads()
    assert line.startswith("error: tester/stopped: the push failed, nothing was committed (") and "503" in line
    assert hub_server.files("dataset", "tester/stopped") == {}  # nothing was committed
    assert "Pushed" in _push(repo, "tester/stopped", env).stdout
    assert "contextual/train-00000-of-00001.parquet" in hub_server.files("dataset", "tester/stopped")


def test_published_layout_on_the_hub_loads_through_the_one_reader(published_dir, tmp_path, hub_server):
    files = {p.relative_to(published_dir).as_posix(): p.read_bytes() for p in published_dir.rglob("*.jsonl")}
    hub_server.upload("tester/EmoPillars", files, repo_type="dataset")
    script = textwrap.dedent(
        """
        import json, sys
        from emo_pillars.data.load import load_emo_pillars
        from emo_pillars.errors import EmoPillarsError
        ds = load_emo_pillars("tester/EmoPillars", cache_dir=sys.argv[1])
        contextual = load_emo_pillars("tester/EmoPillars", "contextual", cache_dir=sys.argv[1])
        errors = []
        try:
            load_emo_pillars("tester/absent", cache_dir=sys.argv[1])
        except EmoPillarsError as err:
            errors.append(f"{type(err).__name__}: {err}")
        print(json.dumps({"sizes": {k: len(v) for k, v in ds.items()},
                          "contextual": {k: len(v) for k, v in contextual.items()}, "errors": errors}))
        """
    )
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    out = json.loads(_run(["-c", script, str(tmp_path / "cache")], env).stdout.splitlines()[-1])
    assert out["sizes"] == {"train": 5, "validation": 1, "test": 2}
    assert out["contextual"] == {"train": 5, "validation": 2, "test": 3}  # the fixture's context-full/ subset
    assert out["errors"][0].startswith("HubError: tester/absent: no such dataset on http://127.0.0.1:")
