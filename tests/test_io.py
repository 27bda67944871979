"""Atomic writes: whole files or nothing, with the mode the user's umask asks for (not mkstemp's 0600)."""

from __future__ import annotations

import os

import pytest

from emo_pillars.utils.io import atomic_write_json, atomic_write_jsonl, atomic_write_text


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        paths = [
            atomic_write_text(tmp_path / "a.txt", "hello\n"),
            atomic_write_jsonl(tmp_path / "b.jsonl", [{"x": 1}, {"y": "é"}]),
            atomic_write_json(tmp_path / "c.json", {"z": [1, 2]}),
        ]
    finally:
        os.umask(old)
    for path in paths:
        assert path.stat().st_mode & 0o777 == mode, path
    assert (tmp_path / "b.jsonl").read_text(encoding="utf-8") == '{"x": 1}\n{"y": "é"}\n'
    assert os.umask(old) == old  # the process umask is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.jsonl", "c.json"]  # no temporary files left
