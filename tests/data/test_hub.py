"""push-dataset against the local Hub, then load_dataset by repo id through the real client: the same rows.

huggingface_hub reads HF_ENDPOINT when imported, so the client side runs in a subprocess with the server's env.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import datasets

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
    out["via_load_emo_pillars"] = load_emo_pillars("contextual", repo_id, split="test", cache_dir=cache).to_list()
    print(json.dumps(out))
    """
)


def _run(args, env):
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_push_then_load_by_repo_id(generated_dir, tmp_path, hub_server):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False, repo_id="tester/emo-pillars")
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    push = [
        "-m", "emo_pillars.data.commands", "push-dataset", str(repo), "--repo-id", "tester/emo-pillars", "--private",
    ]  # fmt: skip
    assert "Pushed" in _run(push, env)
    stored = hub_server.files("dataset", "tester/emo-pillars")
    assert {"README.md", "run.json", "label_distribution.png", "contextual/test-00000-of-00001.parquet"} <= set(stored)
    assert "contextual/train-00000-of-00001.parquet" in hub_server.lfs_paths("dataset", "tester/emo-pillars")
    assert hub_server.repo("dataset", "tester/emo-pillars").private
    assert stored["README.md"] == (repo / "README.md").read_bytes()

    remote = json.loads(_run(["-c", LOAD, "tester/emo-pillars", str(tmp_path / "cache")], env).splitlines()[-1])
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


def test_published_layout_on_the_hub_loads_through_the_builder(published_dir, tmp_path, hub_server):
    files = {p.relative_to(published_dir).as_posix(): p.read_bytes() for p in published_dir.rglob("*.jsonl")}
    hub_server.upload("tester/EmoPillars", files, repo_type="dataset")
    script = textwrap.dedent(
        """
        import json, sys
        from emo_pillars.data.load import load_emo_pillars
        ds = load_emo_pillars("context_less", "tester/EmoPillars", cache_dir=sys.argv[1])
        print(json.dumps({k: len(v) for k, v in ds.items()}))
        """
    )
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    out = _run(["-c", script, str(tmp_path / "cache")], env)
    assert json.loads(out.splitlines()[-1]) == {"train": 5, "validation": 1, "test": 2}
