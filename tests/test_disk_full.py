"""When the disk says no: every command that writes, run in a subprocess under a file-size limit, ends in one line.

``RLIMIT_FSIZE`` (what ``ulimit -f`` sets, here in the child's ``preexec_fn``) fails a write with ``EFBIG`` the way a
full disk fails it with ``ENOSPC`` (CPython ignores ``SIGXFSZ``). For each command the test checks: a non-zero exit,
one ``emo-pillars: error: cannot write FILE: CAUSE; KEPT`` line and no traceback, an existing output byte-identical
afterwards, no temporary sibling left; and that the same command, run again without the limit (``--resume`` where a
command needs it), completes with the output of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "generation"))

from tiny_models import build_tiny_bert, tiny_dataset_dict, write_repository  # noqa: E402

from emo_pillars.errors import WriteError  # noqa: E402
from emo_pillars.utils.io import SpaceNeed, check_space, disk_error_cause  # noqa: E402

GENERATED = TESTS / "data" / "fixtures" / "generated"
KB = 1024


# --------------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------------
def limited(limit: int | None):
    """A ``preexec_fn`` that caps the size of any file the child writes (the hard limit stays, so it can be lifted)."""

    def cap() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return cap


def emo_pillars(argv: list[str], limit: int | None = None, env: dict | None = None, **popen) -> subprocess.Popen:
    """``python -m emo_pillars ARGV`` in a child process under a file-size limit of ``limit`` bytes."""
    env = {**(env or os.environ), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "emo_pillars", *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=limited(limit), **popen,
    )  # fmt: skip


def run(argv: list[str], limit: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = emo_pillars(argv, limit, env)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def rerun(argv: list[str]) -> None:
    """The same command again, once there is room, in this process (its imports are paid once)."""
    from emo_pillars.commands.cli import main

    assert main(argv) == 0


def error_line(proc: subprocess.CompletedProcess, file: Path | None = None, cause: str = "file too large") -> str:
    """The one error line: exit 2, no traceback, the last line of stderr (warnings and progress bars before it), and
    when ``file`` is given, ``cannot write FILE: CAUSE``."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line.strip() for line in re.split(r"[\r\n]", proc.stderr) if line.strip()]
    errors = [line for line in lines if line.startswith("emo-pillars: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr[-3000:]
    assert errors[0].startswith("emo-pillars: error: cannot write "), errors[0]
    if file is not None:
        assert errors[0].startswith(f"emo-pillars: error: cannot write {file}: {cause}"), errors[0]
    return errors[0]


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def siblings(folder: Path) -> list[str]:
    """Temporary folders a writer of ``folder`` leaves beside it (``.NAME.*``; a finetune's ``.NAME.work`` aside)."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.") and not
                  p.name.endswith(".work"))  # fmt: skip


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("bert") / "bert")


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory, tiny_bert) -> Path:
    """The tiny BERT with a 28-label head, saved as a model folder (weights 110 kB, ``model.onnx`` 340 kB)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from emo_pillars.taxonomy import EMOTIONS

    folder = tmp_path_factory.mktemp("classifier") / "emo28"
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=len(EMOTIONS), id2label=dict(enumerate(EMOTIONS)),
        label2id={name: i for i, name in enumerate(EMOTIONS)}, problem_type="multi_label_classification",
    )  # fmt: skip
    model.config.emo_pillars = {"input_format": "context_less", "max_length": 64, "threshold": 0.5}
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_bert / name, folder / name)
    return folder


# --------------------------------------------------------------------------------------------------------------------
# The one place: a refused write told apart, whole lines kept, a write checked before it starts
# --------------------------------------------------------------------------------------------------------------------
def test_refusals_are_read_from_errno_and_from_wrapped_messages():
    import errno

    assert disk_error_cause(OSError(errno.EDQUOT, "Disk quota exceeded")) == "disk quota exceeded"
    assert disk_error_cause(OSError(errno.EROFS, "Read-only file system", "out")) == "read-only file system"
    wrapped = RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert disk_error_cause(wrapped) == "no space left on device"
    try:
        try:
            raise OSError(errno.EFBIG, "File too large")
        except OSError:
            raise AttributeError("'_idat' object has no attribute 'fileno'")  # noqa: B904 - as PIL does
    except AttributeError as chained:
        assert disk_error_cause(chained) == "file too large"
    assert disk_error_cause(OSError(errno.ENOENT, "No such file", "file too large.txt")) is None
    assert disk_error_cause(ValueError("bad row")) is None


APPEND_SCRIPT = """
import sys
from emo_pillars.errors import WriteError
from emo_pillars.utils.io import append_whole_lines
path = sys.argv[1]
with open(path, "ab", buffering=0) as handle:
    append_whole_lines(handle, b"x" * 30 + b"\\n", path)
    try:
        append_whole_lines(handle, (b"y" * 30 + b"\\n") * 3, path)
    except WriteError as error:
        print(error)
"""


def test_a_refused_append_keeps_the_whole_lines_it_wrote(tmp_path):
    path = tmp_path / "cache.jsonl"
    proc = subprocess.run([sys.executable, "-c", APPEND_SCRIPT, str(path)], capture_output=True, text=True,
                          preexec_fn=limited(80), timeout=60)  # fmt: skip
    assert proc.stdout.strip() == f"cannot write {path}: file too large", proc.stderr
    assert path.read_bytes() == b"x" * 30 + b"\n" + b"y" * 30 + b"\n"  # 62 of 80 bytes: the cut third line is gone


def test_a_write_that_cannot_fit_is_refused_and_one_that_may_not_is_warned_about(tmp_path, caplog):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * KB, hard))
    try:
        with pytest.raises(WriteError, match=r"file too large \(a 100.0 kB file, over the 65.5 kB file-size limit"):
            check_space(tmp_path / "model.safetensors", SpaceNeed("the weights", total=100_000, largest=100_000))
        with caplog.at_level("WARNING"):
            check_space(tmp_path / "repo", SpaceNeed("the rows", likely_total=90_000, likely_largest=90_000))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'repo'} may not fit: a 90.0 kB file, over the 65.5 kB file-size limit (an estimate of the "
        "rows); writing it all the same"
    ]
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(WriteError, match="no space left on device"):
        check_space(tmp_path / "big", SpaceNeed("a lot", total=free + 10**12))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_server():
    pytest.importorskip("aiohttp")
    process = subprocess.Popen(
        [sys.executable, str(TESTS / "fake_openai.py"), "--port", "0", "--latency", "0.001", "--cap", "8"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    assert line.startswith("ready "), line
    yield f"http://127.0.0.1:{line.split()[1]}"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _whole_cache_lines(folder: Path) -> int:
    return sum(1 for f in (folder / "cache").glob("*.jsonl") for line in f.open("rb") if line.endswith(b"\n"))


def test_generate_keeps_every_finished_call_and_a_rerun_writes_the_uninterrupted_files(fake_server, tmp_path):
    def argv(out: Path) -> list[str]:
        return ["generate", "--server-url", fake_server, "--model", "scripted-teacher", "--server-prefill",
                "--max-plots", "6", "--contextual", "--chunk-size", "2", "--batch-size", "4", "--output", str(out),
                "--quiet"]  # fmt: skip

    reference, out = tmp_path / "reference", tmp_path / "run"
    ok(run(argv(reference)))
    failed = run(argv(out), limit=8 * KB)  # the 6 plots' files grow to 24-36 kB: a cache or output file fails
    line = error_line(failed, out / "context_less.jsonl")
    assert line.endswith("; every finished call is in the reply cache; run the same command again to resume")
    assert not (out / "run.json").exists()  # nothing half-written looks finished
    for path in [*(out / "cache").glob("*.jsonl"), *out.glob("*.jsonl")]:
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), path  # whole lines only: the refused append was cut back
    cached = _whole_cache_lines(out)
    assert cached > 0
    with (out / "cache" / "labels.jsonl").open("ab") as handle:  # as a kill mid-append would leave it
        handle.write(b'{"key": "cut-short", "text": "1. joy')

    ok(run(argv(out)))
    for name in ("context_less.jsonl", "contextual.jsonl"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    stages, alone = (json.loads((f / "run.json").read_text())["stages"] for f in (out, reference))
    # every whole entry the failed run wrote is served from the cache; the cut-short line is ignored
    assert sum(s["cached"] for s in stages.values()) == cached + sum(s["cached"] for s in alone.values())


# --------------------------------------------------------------------------------------------------------------------
# build-dataset, push-dataset, merge
# --------------------------------------------------------------------------------------------------------------------
def _new_input(tmp_path: Path) -> Path:
    """The fixture with one phrase changed: a build of it differs from the existing repository's."""
    folder = tmp_path / "new-input"
    folder.mkdir()
    for name in ("context_less.jsonl", "contextual.jsonl", "run.json"):
        (folder / name).write_text((GENERATED / name).read_text().replace("the storm", "the dreadful storm"))
    return folder


def test_build_dataset_leaves_the_existing_repository_and_a_rerun_builds_it(tmp_path):
    from emo_pillars.data.repository import build_repository

    repo, reference, new = tmp_path / "repo", tmp_path / "reference", _new_input(tmp_path)
    build_repository(GENERATED, repo, similarity=False, repo_id="me/emo")
    build_repository(new, reference, similarity=False, repo_id="me/emo")
    before = files(repo)
    argv = ["build-dataset", "--generated", str(new), "--output", str(repo), "--no-similarity", "--repo-id", "me/emo"]
    failed = run(argv, limit=40 * KB)  # shards 5-7 kB pass; the 60 kB label chart does not
    assert error_line(failed, repo / "label_distribution.png").endswith("; the existing output is unchanged")
    assert f"{repo} may not fit: a 100.0 kB file, over the 41.0 kB file-size limit" in failed.stderr  # the estimate
    assert files(repo) == before and not siblings(repo)
    rerun(argv)
    assert files(repo) == files(reference) != before


def test_push_dataset_uploads_nothing_when_its_check_cannot_write(tmp_path):
    from hub_server import HubServer

    from emo_pillars.data.repository import build_repository

    repo = tmp_path / "repo"
    build_repository(GENERATED, repo, similarity=False)
    before, scratch = files(repo), tmp_path / "tmp"
    scratch.mkdir()
    with HubServer() as hub:
        env = {**hub.client_env(hf_home=tmp_path / "hf_home"), "TMPDIR": str(scratch)}
        argv = ["push-dataset", str(repo), "--repo-id", "me/emo"]
        failed = run(argv, limit=2 * KB, env=env)  # the load check's Arrow cache (in TMPDIR) outgrows 2 kB
        line = error_line(failed)
        assert re.fullmatch(
            rf"emo-pillars: error: cannot write {scratch}/emo-pillars-verify-\w+ \(the load check's "
            r"cache\): file too large; nothing was uploaded and the folder is unchanged",
            line,
        ), line
        assert hub.files("datasets", "me/emo") == {} and files(repo) == before and list(scratch.iterdir()) == []
        ok(run(argv, env=env))
        uploaded = hub.files("datasets", "me/emo")
    assert {name: data for name, data in uploaded.items() if name != "README.md"} == {
        name: data for name, data in before.items() if name != "README.md"
    }


def test_merge_that_cannot_fit_is_refused_before_it_writes(tmp_path):
    from sharded_runs import generate_runs

    from emo_pillars.data.merge import merge_shards

    runs = generate_runs(tmp_path / "runs")
    shards = [str(runs["shard0"]), str(runs["shard1"])]
    merged, reference = tmp_path / "merged", tmp_path / "reference"
    merge_shards(shards, merged)
    merge_shards(shards[::-1], reference)
    (merged / "context_less.jsonl").write_text("an earlier merge\n")
    before = files(merged)
    argv = ["merge", "--overwrite", "--output", str(merged), *shards]
    line = error_line(run(argv, limit=20 * KB), merged / "contextual.jsonl")  # 97.5 kB: refused up front
    assert "(a 97.5 kB file, over the 20.5 kB file-size limit: the merged rows and run.json)" in line
    assert line.endswith("; the existing output is unchanged")
    assert files(merged) == before and not siblings(merged)
    rerun(argv)
    assert files(merged) == files(reference)


# --------------------------------------------------------------------------------------------------------------------
# train, finetune
# --------------------------------------------------------------------------------------------------------------------
def test_train_after_a_refused_final_save_resumes_to_the_uninterrupted_weights(tmp_path, tiny_bert, capsys):
    """With LoRA the checkpoints (adapter and its optimizer, 18-43 kB) fit under 60 kB and the merged model's
    110 kB of weights do not: the final save is refused, the checkpoints stay, ``--resume`` finishes."""
    repo = write_repository(tmp_path / "data", tiny_dataset_dict())
    out, whole = tmp_path / "out", tmp_path / "whole"

    def argv(folder: Path, *extra: str) -> list[str]:
        return ["train", "--dataset", str(repo), "--model", str(tiny_bert), "--output_dir", str(folder), "--lora",
                "--max_steps", "2", "--save_steps", "1", "--per_device_train_batch_size", "4", "--use_cpu", *extra]  # fmt: skip

    uninterrupted = emo_pillars(argv(whole))
    failed = run(argv(out), limit=60 * KB)
    line = error_line(failed, out / "model.safetensors")
    assert "(a 109.8 kB file, over the 61.4 kB file-size limit: the model's weights, 109,808 bytes)" in line
    assert line.endswith("; the last complete checkpoint is kept; run again with --resume")
    kept = sorted(p.name for p in out.iterdir())
    assert kept == ["checkpoint-1", "checkpoint-2"] and not siblings(out)
    assert json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()[-3000:]
    rerun(argv(out, "--resume"))
    assert f"Resumed from {out / 'checkpoint-2'}" in capsys.readouterr().out
    assert (out / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()


def test_finetune_drops_the_half_written_checkpoint_and_resumes(tmp_path, tiny_bert):
    from emo_pillars.tasks import write_sample_files

    data = write_sample_files("goemotions", tmp_path / "goemotions")
    out = tmp_path / "model"
    out.mkdir()
    (out / "README.md").write_text("an earlier model\n")
    argv = ["finetune", "--task", "goemotions", "--data", str(data), "--model", str(tiny_bert), "--output", str(out),
            "--max_steps", "2", "--use_cpu"]  # fmt: skip
    failed = run(argv, limit=100 * KB)  # the checkpoint's 114 kB model.safetensors does not fit
    work = tmp_path / ".model.work"
    line = error_line(failed, work / "checkpoint-2" / "model.safetensors")
    assert line.endswith("; the last complete checkpoint is kept; run again with --resume")
    assert not (work / "checkpoint-2").exists()  # half a checkpoint is not one: removed
    assert files(out) == {"README.md": b"an earlier model\n"} and not siblings(out)
    rerun([*argv, "--resume"])
    assert json.loads((out / "eval_results.json").read_text())["task"] == "goemotions" and not work.exists()


# --------------------------------------------------------------------------------------------------------------------
# export, import-model
# --------------------------------------------------------------------------------------------------------------------
def test_export_leaves_the_existing_export_when_model_onnx_does_not_fit(tmp_path, tiny_classifier):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"an earlier export")
    argv = ["export", "--model", str(tiny_classifier), "--output", str(out), "--overwrite"]
    failed = run(argv, limit=200 * KB)  # the weights (110 kB) pass the check; model.onnx (340 kB) fails mid-write
    assert error_line(failed, out / "model.onnx").endswith("; the existing output is unchanged")
    assert files(out) == {"model.onnx": b"an earlier export"} and not siblings(out)
    rerun(argv)
    from emo_pillars.exporters.onnx import export_onnx

    reference = export_onnx(tiny_classifier, tmp_path / "reference" / "onnx").output_dir  # uninterrupted: same bytes
    assert files(out) == files(reference)


def test_import_model_refuses_or_fails_whole_and_a_rerun_writes_the_same_copy(tmp_path, tiny_classifier):
    from emo_pillars.exporters.imported import import_model

    out, reference = tmp_path / "copy", tmp_path / "reference"
    import_model(tiny_classifier, reference)
    out.mkdir()
    (out / "config.json").write_text("{}\n")
    argv = ["import-model", str(tiny_classifier), "--output", str(out), "--overwrite"]
    refused = error_line(run(argv, limit=60 * KB), out / "model.safetensors")  # the weights cannot fit: refused
    assert "(a 109.8 kB file, over the 61.4 kB file-size limit: the model's weights, 109,808 bytes)" in refused
    failed = run(argv, limit=111 * KB)  # above the weights, below the file (its header): fails mid-write
    assert error_line(failed, out / "model.safetensors").endswith(": file too large; the existing output is unchanged")
    assert files(out) == {"config.json": b"{}\n"} and not siblings(out)
    rerun(argv)
    assert files(out) == files(reference)


# --------------------------------------------------------------------------------------------------------------------
# the app's annotations
# --------------------------------------------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_app_says_in_one_line_that_a_save_failed_and_saves_once_there_is_room(tmp_path, tiny_classifier):
    gradio_client = pytest.importorskip("gradio_client")
    pytest.importorskip("gradio")
    dataset, annotations, port = (
        Path(shutil.copytree(GENERATED, tmp_path / "generated")),
        tmp_path / "ann",
        _free_port(),
    )
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    argv = ["app", "--model", str(tiny_classifier), "--dataset", str(dataset), "--annotations", str(annotations),
            "--port", str(port)]  # fmt: skip
    app = emo_pillars(argv, limit=KB, env=env)  # a judgement is ~500 bytes: one or two fit in 1 kB, no more
    try:
        line = app.stdout.readline()
        while line and "running on" not in line:
            line = app.stdout.readline()
        assert "running on" in line, app.stderr.read()[-3000:] if app.poll() is not None else line
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        status, _, shown, *_ = client.predict(str(dataset), "contextual", 3, 4, "ann", api_name="/start")
        saved = annotations / "ann.jsonl"
        for _ in range(4):
            before = saved.read_bytes() if saved.exists() else b""
            status, _, next_id, *_ = client.predict(shown, [], "yes", api_name="/save")
            if "cannot write" in status:
                break
            shown = next_id
        assert status == (f"**cannot write {saved}: file too large; every judgement saved before is kept; save "
                          "again once there is space**")  # fmt: skip
        judged = len(before.splitlines())
        assert saved.read_bytes() == before and judged >= 1
        assert sorted(p.name for p in annotations.iterdir()) == ["ann.jsonl"]  # no temporary sibling
        resource.prlimit(app.pid, resource.RLIMIT_FSIZE, resource.getrlimit(resource.RLIMIT_FSIZE))  # room again
        status, *_ = client.predict(shown, [], "yes", api_name="/save")
        assert status == f"ann: {judged + 1} of 4 judged." and len(saved.read_bytes().splitlines()) == judged + 1
    finally:
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=30)
