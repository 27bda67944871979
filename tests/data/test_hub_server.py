"""The test Hub answers the real client: create, upload (inline and LFS), list, download, by branch or commit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from hub_server import HubServer

CLIENT = textwrap.dedent(
    """
    import json, sys
    from huggingface_hub import HfApi, hf_hub_download
    api = HfApi()
    api.create_repo("tester/m", exist_ok=True)
    api.create_repo("tester/d", repo_type="dataset", private=True)
    api.create_repo("tester/d", repo_type="dataset", exist_ok=True)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id="tester/m")
    api.upload_file(path_or_fileobj=b"PAR1" + bytes(range(256)) * 8, path_in_repo="x/y.parquet",
                    repo_id="tester/d", repo_type="dataset")
    info = api.dataset_info("tester/d")
    tree = sorted(f.path for f in api.list_repo_tree("tester/d", repo_type="dataset", recursive=True))
    top = sorted(f.path for f in api.list_repo_tree("tester/d", repo_type="dataset"))
    local = hf_hub_download("tester/d", "x/y.parquet", repo_type="dataset", revision=info.sha)
    text = open(hf_hub_download("tester/m", "a.txt"), "rb").read().decode()
    print(json.dumps({"tree": tree, "top": top, "size": len(open(local, "rb").read()), "text": text,
                      "private": info.private}))
    """
)


def test_real_client_round_trip(hub_server: HubServer, tmp_path):
    env = hub_server.client_env(hf_home=tmp_path / "hf")
    out = subprocess.run([sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "tree": ["x", "x/y.parquet"],
        "top": ["x"],
        "size": 4 + 256 * 8,
        "text": "hello",
        "private": True,
    }
    assert hub_server.files("dataset", "tester/d")["x/y.parquet"].startswith(b"PAR1")
    assert hub_server.lfs_paths("dataset", "tester/d") == {"x/y.parquet"}
    assert hub_server.files("model", "tester/m") == {"a.txt": b"hello"}
    assert not hub_server.unhandled


def test_direct_upload_and_unknown_repo():
    with HubServer() as server:
        sha = server.upload("tester/direct", {"README.md": b"# hi"}, repo_type="dataset")
        assert server.repo("datasets", "tester/direct").head == sha
        assert server.files("dataset", "tester/direct", revision=sha) == {"README.md": b"# hi"}
        assert server.files("model", "tester/absent") == {}
