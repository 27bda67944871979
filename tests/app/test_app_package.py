"""The app package stays light until an app is built, and the CLI registers ``emo-pillars app``."""

from __future__ import annotations

import subprocess
import sys


def test_app_modules_import_without_gradio_or_torch():
    code = (
        "import sys, emo_pillars, emo_pillars.app, emo_pillars.app.annotations, emo_pillars.app.evaluate_tab, "
        "emo_pillars.app.try_tab, emo_pillars.commands.app; "
        "print([m for m in ('gradio', 'torch', 'transformers', 'datasets') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_lists_the_app_command_and_its_options():
    out = subprocess.run([sys.executable, "-m", "emo_pillars", "app", "--help"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    for option in ("--model", "--dataset", "--host", "--port", "--annotations"):
        assert option in out


def test_examples_ship_with_the_package():
    from emo_pillars.app.try_tab import load_examples

    examples = load_examples()
    assert len(examples) >= 4 and all(len(row) == 3 and row[0] for row in examples)
    assert any(row[1] for row in examples)  # at least one contextual example
