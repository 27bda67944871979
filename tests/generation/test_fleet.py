"""One run over several OpenAI-compatible servers: the real pipeline, cache and writers against fake servers (the
scripted teacher behind HTTP, ``tests/fake_openai.py``), each a process a test can kill.

A run over several servers writes the same files as a run over one; a server killed mid-run loses nothing, and
``run.json`` shows the calls sent again; with every server gone the run stops in one line and a re-run resumes from
the cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig  # noqa: E402
from emo_pillars.generation.backends.routing import Router, ServerState, choose, rendezvous_order  # noqa: E402

FAKE = Path(__file__).resolve().parent.parent / "fake_openai.py"
MODEL = "scripted-teacher"
OUTPUTS = ("context_less.jsonl", "contextual.jsonl")


class Fake:
    """One fake server process."""

    def __init__(self, port: int = 0, latency: float = 0.01, cap: int = 4, log: Path | None = None):
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE), "--port", str(port), "--latency", str(latency), "--cap", str(cap),
             *(["--log", str(log)] if log else [])],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.process.stdout.readline()
        assert line.startswith("ready "), line
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def fakes():
    started: list[Fake] = []

    def start(n: int, **options) -> list[Fake]:
        new = [Fake(**options) for _ in range(n)]
        started.extend(new)
        return new

    yield start
    for fake in started:
        fake.kill()


def _config(**overrides) -> GenerationConfig:
    return GenerationConfig(**{"max_plots": 6, "contextual": True, "chunk_size": 3, "batch_size": 8} | overrides)


def _generate(urls: list[str], out: Path, config: GenerationConfig | None = None, **backend) -> dict:
    options = {"supports_prefill": True, "max_concurrency": 4, "max_retries": 1, "revive_after_s": 60.0} | backend
    generator = EmoPillarsGenerator(MODEL, config or _config(), server_url=urls, show_progress=False, **options)
    try:
        return generator.run(None, out).run_info
    finally:
        generator.backend.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS if (folder / name).exists()}


def _calls_cached(folder: Path) -> int:
    return sum(1 for f in (folder / "cache").glob("*.jsonl") for line in f.open("rb") if line.strip())


def test_routing_keeps_a_plot_on_one_server_and_moves_only_a_failed_servers_plots():
    servers = [ServerState(f"http://s{i}:8000") for i in range(4)]
    before = {f"plot-{k}": choose(servers, f"plot-{k}", now=0.0).root for k in range(400)}
    assert len(set(before.values())) == 4  # every server gets plots
    assert max(list(before.values()).count(s.root) for s in servers) < 140  # and about a quarter each
    servers[1].mark_down(now=0.0, revive_after_s=30.0)
    after = {key: choose(servers, key, now=1.0).root for key in before}
    moved = {key for key in before if before[key] != after[key]}
    assert moved == {key for key, root in before.items() if root == servers[1].root}  # only its plots move
    assert all(after[key] == rendezvous_order(servers, key)[1].root for key in moved)  # each to its next choice
    assert choose(servers, "plot-0", now=31.0) is not None and servers[1].is_up(now=31.0)  # tried again later


def test_the_router_keeps_each_plot_on_one_server_with_balanced_shares():
    servers = [ServerState(f"http://s{i}:8000") for i in range(8)]
    router = Router(servers)
    calls = [f"plot-{k}" for k in range(200)] * 5  # every plot's first call, then four more each
    first = {}
    for route in calls:
        first.setdefault(route, router.choose(route, now=0.0).root)
        assert router.choose(route, now=0.0).root == first[route]  # sticky
    shares = sorted(list(first.values()).count(s.root) for s in servers)
    assert shares[-1] - shares[0] <= 1  # 25 plots each; rendezvous hashing alone gives up to about 1.3 times that
    servers[3].mark_down(now=0.0, revive_after_s=30.0)
    moved = {route for route in first if router.choose(route, now=1.0).root != first[route]}
    assert moved == {route for route, root in first.items() if root == servers[3].root}


def test_several_servers_write_what_one_server_writes(fakes, tmp_path):
    one, *_ = fakes(1)
    four = fakes(4)
    alone = _generate([one.url], tmp_path / "one")
    fleet = _generate([f.url for f in four], tmp_path / "four")
    assert _files(tmp_path / "four") == _files(tmp_path / "one") and _files(tmp_path / "one")
    servers = fleet["backend"]["servers"]
    calls = sum(s["calls"] for s in alone["stages"].values())
    assert sum(s["calls"] for s in servers.values()) == calls
    assert sum(1 for s in servers.values() if s["calls"]) >= 3  # the plots spread over the fleet
    assert _stats(fleet) == _stats(alone)
    assert all(s["resent_calls"] == 0 and s["up"] for s in servers.values())


def _stats(run_info: dict) -> dict:
    """``run.json``'s per-step counts, less the seconds."""
    return {name: {k: v for k, v in stage.items() if k != "seconds"} for name, stage in run_info["stages"].items()}


def test_a_server_does_not_wait_for_the_others_at_a_steps_end(fakes, tmp_path):
    # One slow server and one fast one share a chunk of 4 plots, 2 each. Run step by step over the whole chunk, the
    # fast server would get no call of the utterance step until the slow one had answered every call of the
    # character step (the step's end is a barrier). Each server's plots run on their own: the fast server goes on.
    log = tmp_path / "calls.log"
    slow, fast = fakes(1, latency=1.0, cap=16, log=log)[0], fakes(1, latency=0.01, cap=16, log=log)[0]
    config = _config(max_plots=4, chunk_size=4)
    fleet = _generate([slow.url, fast.url], tmp_path / "two", config)
    events = [json.loads(line) for line in log.read_text().splitlines()]

    def step(event: dict) -> str:
        return "characters" if event["text"].startswith("Read the story") else "later"

    slow_characters_done = max(i for i, e in enumerate(events)
                               if e["port"] == slow.port and e["event"] == "answered" and step(e) == "characters")  # fmt: skip
    fast_next_step = min(i for i, e in enumerate(events)
                         if e["port"] == fast.port and e["event"] == "received" and step(e) == "later")  # fmt: skip
    assert fast_next_step < slow_characters_done  # the fast server moved on while the slow one was still busy
    assert all(s["calls"] for s in fleet["backend"]["servers"].values())
    alone = _generate([fakes(1)[0].url], tmp_path / "one", config)
    assert _files(tmp_path / "two") == _files(tmp_path / "one") and _files(tmp_path / "one")
    assert _stats(fleet) == _stats(alone)  # the lanes' counts add up to one server's


def test_a_server_killed_mid_run_loses_nothing(fakes, tmp_path):
    # Three chunks of four plots, one plot a server in each: the server killed in the second chunk has calls to
    # make in the third, whenever its own plots of the second are done.
    config = _config(max_plots=12, chunk_size=4)
    reference = _generate([f.url for f in fakes(1)], tmp_path / "reference", config)
    total = sum(s["calls"] for s in reference["stages"].values())
    four = fakes(4, latency=0.05, cap=2)
    out = tmp_path / "failover"
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(_generate([f.url for f in four], out, config)))
    runner.start()
    while runner.is_alive() and _calls_cached(out) < total // 2 if out.exists() else runner.is_alive():
        time.sleep(0.02)
    four[1].kill()  # at about half of the run
    runner.join(timeout=300)
    assert not runner.is_alive() and result, "the run did not complete"
    assert _files(out) == _files(tmp_path / "reference")  # byte-identical to an undisturbed run
    killed = result["backend"]["servers"][four[1].url]
    assert killed["resent_calls"] >= 1 and not killed["up"]
    assert sum(s["calls"] for s in result["backend"]["servers"].values()) == total


def test_every_server_gone_stops_in_one_line_and_a_rerun_resumes(fakes, tmp_path):
    reference = _generate([f.url for f in fakes(1)], tmp_path / "reference")
    total = sum(s["calls"] for s in reference["stages"].values())
    pair = fakes(2, latency=0.05, cap=2)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "emo_pillars", "generate", "--model", MODEL, "--server-prefill", "--max-plots", "6",
           "--contextual", "--chunk-size", "3", "--batch-size", "8", "--max-concurrency", "4", "--output", str(out),
           "--quiet"]  # fmt: skip
    urls = [arg for f in pair for arg in ("--server-url", f.url)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*cmd, *urls], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and (not out.exists() or _calls_cached(out) < total // 3):
        time.sleep(0.02)
    for fake in pair:
        fake.kill()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and "left out" not in line]
    assert len(lines) == 1 and lines[0].startswith("emo-pillars: error: every server failed:"), stderr
    assert "run the same command again to resume" in lines[0]
    cached = _calls_cached(out)
    assert 0 < cached < total
    again = [Fake(port=f.port) for f in pair]  # the servers come back on their addresses
    try:
        rerun = subprocess.run([*cmd, *urls], env=env, capture_output=True, text=True, timeout=300)
    finally:
        for fake in again:
            fake.kill()
    assert rerun.returncode == 0, rerun.stderr
    assert _files(out) == _files(tmp_path / "reference")
    stages = json.loads((out / "run.json").read_text())["stages"]
    # Every call the first run finished came from the cache (besides the repeats any run serves from it).
    assert sum(s["cached"] for s in stages.values()) == cached + sum(s["cached"] for s in reference["stages"].values())
