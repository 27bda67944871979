"""load_emo_pillars: every source through one path, and every failure one EmoPillarsError naming the path or id."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from emo_pillars.data.features import get_features
from emo_pillars.data.load import load_emo_pillars
from emo_pillars.data.repository import build_repository
from emo_pillars.errors import ConfigError, EmoPillarsError, HubError, InputError


def test_every_local_source_gives_the_same_features(generated_dir, published_dir, tmp_path):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    from_folder = load_emo_pillars(generated_dir, "contextual")
    from_repo = load_emo_pillars(repo, "contextual")
    assert {s: d.to_list() for s, d in from_folder.items()} == {s: d.to_list() for s, d in from_repo.items()}
    published = load_emo_pillars(published_dir)
    assert {s: len(d) for s, d in published.items()} == {"train": 5, "validation": 1, "test": 2}
    for ds in (from_folder["train"], from_repo["train"], published["train"]):
        assert ds.features == get_features(ds.info.config_name or "contextual") or ds.features == get_features(
            "context_less"
        )
    assert load_emo_pillars(str(generated_dir), split="test").features == get_features("context_less")
    assert len(load_emo_pillars(published_dir, resplit=True, split_ratios=(0.5, 0.25, 0.25))) == 3


def test_failures_are_one_line_errors_naming_the_source(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, configs=["context_less"], similarity=False)
    a_file = generated_dir / "run.json"
    cases = [
        (tmp_path / "missing", InputError, f"{tmp_path / 'missing'}: no such folder"),
        (a_file, InputError, f"{a_file}: is a file"),
        ("not a repo id!", InputError, "neither an existing folder nor a valid Hub dataset id"),
        ("", InputError, "no dataset given"),
    ]
    for source, kind, needle in cases:
        with pytest.raises(kind) as info:
            load_emo_pillars(source)
        assert needle in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=f"{repo}: no config 'contextual' in this dataset; it has context_less"):
        load_emo_pillars(repo, "contextual")
    with pytest.raises(ConfigError, match="no 'nope' split"):
        load_emo_pillars(repo, split="nope")
    damaged = tmp_path / "damaged"
    shutil.copytree(repo, damaged)
    (next((damaged / "context_less").glob("train-*"))).write_bytes(b"PAR1")
    with pytest.raises(InputError, match=f"{damaged}: damaged dataset repository") as info:
        load_emo_pillars(damaged)
    assert "\n" not in str(info.value)
    stale = tmp_path / "stale"
    shutil.copytree(repo, stale)
    card = stale / "README.md"
    card.write_text(card.read_text().replace("num_examples: 3", "num_examples: 4", 1))  # the card no longer matches
    with pytest.raises(InputError, match=f"{stale}: damaged dataset repository"):
        load_emo_pillars(stale)


HUB_ERRORS = textwrap.dedent(
    """
    import sys, time
    from emo_pillars.data.load import load_emo_pillars
    from emo_pillars.errors import EmoPillarsError
    start = time.perf_counter()
    try:
        load_emo_pillars("tester/emo-pillars")
    except EmoPillarsError as err:
        print(f"{type(err).__name__}|{err}|{time.perf_counter() - start:.1f}")
    """
)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HF_HUB_OFFLINE": "1"}, "tester/emo-pillars: HF_HUB_OFFLINE=1 and this dataset is not in the local cache"),
        ({"HF_ENDPOINT": "http://127.0.0.1:9"}, "tester/emo-pillars: cannot reach the Hub at http://127.0.0.1:9"),
    ],
)
def test_hub_offline_or_unreachable_is_one_quick_line(env, needle, tmp_path):
    import os

    full = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    full.update(HF_HOME=str(tmp_path / "hf"), **env)
    proc = subprocess.run([sys.executable, "-c", HUB_ERRORS], env=full, capture_output=True, text=True, timeout=120)
    kind, message, seconds = proc.stdout.strip().splitlines()[-1].split("|")
    assert kind == HubError.__name__ and issubclass(HubError, EmoPillarsError)
    assert message.startswith(needle) and float(seconds) < 10, (message, seconds)
