"""``emo-pillars predict``: every bad input is one line and exit 2, checked before the model loads."""

from __future__ import annotations

import pytest

from emo_pillars.commands.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", ""], "text 1 is empty"),
        (["predict", "fine", "   "], "text 2 is empty or whitespace only"),
        (["predict", "hi", "--threshold", "nan"], "--threshold must be in [0, 1]"),
        (["predict", "hi", "--threshold", "1.5"], "--threshold must be in [0, 1]"),
        (["predict", "hi", "--threshold", "-0.2"], "--threshold must be in [0, 1]"),
        (["predict", "hi", "--threshold", "best"], "--threshold must be 'global', 'per_label' or a number in [0, 1]"),
        (["predict", "hi", "--top-k", "0"], "--top-k: must be a positive whole number"),
        (["predict", "hi", "--character", "Tom"], "--character needs --context"),
        (["predict", "hi", "--context", " ", "--character", "Tom"], "--context is empty"),
    ],
)
def test_bad_predict_input_is_one_line_before_the_model_loads(capsys, tmp_path, argv, message):
    # The model folder does not exist: each input is refused before any model is looked for.
    code = main([*argv, "--model", str(tmp_path / "no-model")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and message in err, err
    assert "no-model" not in err


def test_a_missing_model_folder_is_one_line(capsys, tmp_path):
    assert main(["predict", "hi", "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no such model folder" in err and str(tmp_path / "no-model") in err and "\n" not in err
