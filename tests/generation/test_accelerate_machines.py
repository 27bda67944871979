"""``emo-pillars generate`` over two machines: two ``accelerate launch`` commands of one process each (machine ranks
0 and 1) that meet on 127.0.0.1 over gloo, as two hosts would over their network.

Each "machine" gets its own ``--output`` folder, as each host has its own disk: only the main process (machine 0)
writes, and machine 1's folder stays empty. The files must be byte-identical to one process's; a machine that dies
stops the other in one line; rerunning both resumes from machine 0's cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emo_pillars.commands.cli import main

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")
psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parents[2]
DATA_FILES = ("context_less.jsonl", "contextual.jsonl")
# A random tiny model fills the reply shapes only when they are short: one name a plot, short contexts.
BUDGETS = "characters=3,utterances=600,labels=40,context=16,context_cleaning=16,rewriting=16"


def _generate_args(model_dir: Path, output: Path, plots: int) -> list[str]:
    return ["generate", "--model", str(model_dir), "--output", str(output), "--max-plots", str(plots),
            "--chunk-size", "1", "--max-new-tokens", BUDGETS, "--max-plot-tokens", "32", "--contextual",
            "--device", "cpu", "--quiet"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Machines:
    """The two ``accelerate launch`` commands of one run, their logs, and the means to stop them."""

    def __init__(self, model_dir: Path, root: Path, plots: int, *extra: str):
        self.root = root
        port, self.launched = str(_free_port()), time.monotonic()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": "1", "HF_HOME": str(root / "hf_home"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
        self.processes: list[subprocess.Popen] = []
        for rank in (0, 1):
            launch = [sys.executable, "-m", "accelerate.commands.launch", "--quiet", "--multi_gpu",
                      "--num_machines", "2", "--machine_rank", str(rank), "--num_processes", "2",
                      "--main_process_ip", "127.0.0.1", "--main_process_port", port,
                      "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "emo_pillars",
                      *_generate_args(model_dir, self.output(rank), plots), *extra]  # fmt: skip
            with self.log(rank, "out").open("w") as out, self.log(rank, "err").open("w") as err:
                self.processes.append(subprocess.Popen(launch, stdout=out, stderr=err, env=env, cwd=root))

    def output(self, rank: int) -> Path:
        return self.root / f"machine{rank}"

    def log(self, rank: int, stream: str) -> Path:
        return self.root / f"machine{rank}.{stream}"

    def wait(self, rank: int, timeout: float) -> int:
        """The exit status of ``rank``'s launch; a launch still running after ``timeout`` seconds fails the test."""
        try:
            return self.processes[rank].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal_all(signal.SIGKILL)
            pytest.fail(f"machine {rank} still runs after {timeout} s: {self.log(rank, 'err').read_text()[-2000:]}")

    def wait_for(self, path: Path, timeout: float = 240) -> None:
        """Until machine 0 has put something in ``path`` (both machines still running)."""
        deadline = time.monotonic() + timeout
        while not (path.exists() and path.stat().st_size > 0):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.signal_all(signal.SIGKILL)
                pytest.fail(f"no progress in {path}: {self.log(0, 'err').read_text()[-2000:]}")
            time.sleep(0.05)

    def signal(self, rank: int, signum: int) -> None:
        """Send ``signum`` to a machine's launcher and the processes it started (the worker has its own session)."""
        try:
            launcher = psutil.Process(self.processes[rank].pid)
            tree = [launcher, *launcher.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signum)

    def signal_all(self, signum: int) -> None:
        for rank in (0, 1):
            self.signal(rank, signum)

    def close(self) -> None:
        """Kill whatever is left of both machines and reap the launchers."""
        self.signal_all(signal.SIGKILL)
        for process in self.processes:
            process.wait(timeout=30)


@pytest.fixture
def machines(tiny_mistral_dir, tmp_path):
    """Start two machines on the tiny model: ``machines(plots, *extra_options)``; all are stopped at the end."""
    started: list[Machines] = []

    def start(plots: int, *extra: str) -> Machines:
        started.append(Machines(tiny_mistral_dir, tmp_path, plots, *extra))
        return started[-1]

    yield start
    for run in started:
        run.close()


def _one_process(model_dir: Path, output: Path, plots: int) -> Path:
    """The same command in this process, with one torch thread as each machine has."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(_generate_args(model_dir, output, plots)) == 0
    finally:
        torch.set_num_threads(threads)
    return output


def _assert_same_files(run: Path, reference: Path) -> None:
    for name in DATA_FILES:
        expected = (reference / name).read_bytes()
        assert expected.count(b"\n") > 5  # the tiny model's replies fill the shapes: the comparison means something
        assert (run / name).read_bytes() == expected, name


def _stage_counts(run: Path, field: str) -> int:
    return sum(stage[field] for stage in json.loads((run / "run.json").read_text())["stages"].values())


def test_two_machines_write_the_files_of_one_process(machines, tiny_mistral_dir, tmp_path):
    run = machines(2)
    assert run.wait(0, timeout=300) == 0, run.log(0, "err").read_text()[-3000:]
    assert run.wait(1, timeout=60) == 0, run.log(1, "err").read_text()[-3000:]
    reference = _one_process(tiny_mistral_dir, tmp_path / "one", 2)
    _assert_same_files(run.output(0), reference)
    assert json.loads((run.output(0) / "run.json").read_text())["backend"]["num_processes"] == 2
    assert "context-less" in run.log(0, "out").read_text()  # the summary, from the main process only
    assert run.log(1, "out").read_text() == ""
    assert not list(run.output(1).rglob("*.json*"))  # machine 1 writes neither the cache nor the outputs


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("emo-pillars: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.slow
def test_a_killed_machine_stops_the_other_in_one_line_and_a_rerun_resumes(machines, tiny_mistral_dir, tmp_path):
    plots = 4
    run = machines(plots)
    run.wait_for(run.output(0) / "cache" / "labels.jsonl")  # the first plot's labels: 3 plots to go
    run.signal(1, signal.SIGKILL)  # machine 1 dies: its launcher and its worker
    killed = time.monotonic()
    assert run.wait(0, timeout=120) != 0
    stopped_after = time.monotonic() - killed
    line = _one_error_line(run.log(0, "err").read_text())
    assert "process 0 of 2 lost its peers" in line and "rerun the same command on every machine" in line
    assert stopped_after < 60
    reference = _one_process(tiny_mistral_dir, tmp_path / "one", plots)
    done = (run.output(0) / "context_less.jsonl").read_bytes()
    assert len(done) < len((reference / "context_less.jsonl").read_bytes())  # stopped mid-run

    rerun = machines(plots)
    assert rerun.wait(0, timeout=300) == 0, rerun.log(0, "err").read_text()[-3000:]
    assert rerun.wait(1, timeout=60) == 0, rerun.log(1, "err").read_text()[-3000:]
    _assert_same_files(rerun.output(0), reference)
    assert _stage_counts(rerun.output(0), "cached") > 0  # the finished chunk came from the cache
    assert _stage_counts(rerun.output(0), "calls") < _stage_counts(reference, "calls")
    print(f"\nkilled machine 1; machine 0 stopped {stopped_after:.1f} s later with:\n{line}")


@pytest.mark.slow
def test_a_hung_machine_stops_the_other_after_peer_timeout(machines):
    run = machines(4, "--peer-timeout", "5")
    run.wait_for(run.output(0) / "cache" / "labels.jsonl")
    run.signal(1, signal.SIGSTOP)  # machine 1 hangs: its sockets stay open, nothing answers
    stopped = time.monotonic()
    assert run.wait(0, timeout=120) != 0
    waited = time.monotonic() - stopped
    line = _one_error_line(run.log(0, "err").read_text())
    assert "lost its peers (Timed out" in line and "peer_timeout (5 s)" in line
    assert waited < 60
    print(f"\nstopped machine 1; machine 0 stopped {waited:.1f} s later with:\n{line}")
