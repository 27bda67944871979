"""One client over a fleet of servers: the real orchestrator, cache and writers against 1, 2, 4 and 8 fake servers.

The paper's workload (see ``generation_simulation.py``: 2,000 plots, ~632K calls at full shape) goes through the
server backend (aiohttp, one event loop; one pipeline lane a server) to fake OpenAI-compatible servers on
127.0.0.1 (``tests/fake_openai.py``: the paper-shaped scripted teacher behind HTTP). Each server answers a call after
a fixed ``--latency`` and holds at most ``--cap`` calls at once, so one server's rate is at most cap / latency calls
per second: the servers, not the client, are the bottleneck, and N servers should give N times the rate. The fake
servers are asyncio processes that cost little CPU; they share the machine with the client.

For each fleet size a child process runs the workload and reports calls/s, the client's own CPU time per call (the
orchestration cost: pipeline, cache, writers, HTTP client; the servers' time is not in it) and its peak RSS. The
calls/s of N servers is compared with N times the one-server figure of the same run (the baseline). A second
measurement holds ``--in-flight`` calls in flight from one process against one server whose cap admits them all,
and reports the peak the server saw and the client's thread count.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fleet_simulation.py --scale 0.01 --servers 1,2,4,8

Results are added to ``benchmarks/results/fleet-simulation.json`` under ``runs``, one entry per run named by its
settings (``--name``), with the commit it ran on and the machine's load averages as each fleet size began; earlier
runs stay. ``--baseline`` compares a curve without a one-server run (the full shape at 8 servers) with the
one-server figure of another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKE = HERE.parent / "tests" / "fake_openai.py"
MODEL = "simulated-teacher"


class Fleet:
    """N fake servers, started as processes and stopped with SIGTERM (they print what they served)."""

    def __init__(self, n: int, latency: float, cap: int):
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(FAKE), "--latency", str(latency), "--cap", str(cap), "--teacher", "simulation"],
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(n)
        ]
        self.urls = [f"http://127.0.0.1:{p.stdout.readline().split()[1]}" for p in self.processes]

    def stop(self) -> list[dict[str, int]]:
        report = []
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
            words = process.communicate(timeout=30)[0].split()
            report.append({"served": int(words[1]), "peak_in_flight": int(words[3])})
        return report


def child(out: str, plots: int, urls: list[str], concurrency: int, chunk: int) -> None:
    """Run the workload over ``urls`` into ``out``; print one JSON line of measurements."""
    import resource

    sys.path.insert(0, str(HERE))
    from generation_simulation import _plot

    from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig

    config = GenerationConfig(contextual=True, contextual_fraction=1 / 3, contextual_neutral=True, chunk_size=chunk)
    generator = EmoPillarsGenerator(MODEL, config, server_url=urls, show_progress=False, supports_prefill=True,
                                    max_concurrency=concurrency)  # fmt: skip
    corpus = [_plot(i) for i in range(plots)]
    start = time.perf_counter()
    try:
        result = generator.run(corpus, out)
    finally:
        generator.backend.close()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    calls = sum(s.calls for s in result.stats.values())
    print(json.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "calls": calls,
                      "peak_rss_mb": usage.ru_maxrss / 1024,
                      "servers": result.run_info["backend"].get("servers", {})}))  # fmt: skip


def run_fleet(n: int, plots: int, args: argparse.Namespace, root: Path) -> dict:
    fleet = Fleet(n, args.latency, args.cap)
    out = root / f"fleet-{n}"
    try:
        cmd = [sys.executable, __file__, "--child", str(out), "--plots", str(plots), "--urls", ",".join(fleet.urls),
               "--concurrency", str(args.client_concurrency or args.cap), "--chunk", str(args.chunk_per_server * n)]  # fmt: skip
        stats = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    finally:
        served = fleet.stop()
        shutil.rmtree(out, ignore_errors=True)
    return {
        "servers": n,
        "calls": stats["calls"],
        "wall_s": round(stats["wall_s"], 2),
        "calls_per_s": round(stats["calls"] / stats["wall_s"], 1),
        "orchestration_ms_per_call": round(1000 * stats["cpu_s"] / stats["calls"], 3),
        "peak_rss_mb": round(stats["peak_rss_mb"], 1),
        "calls_per_server": [s["served"] for s in served],
    }


def in_flight(calls: int) -> dict:
    """``calls`` requests at once from one process to one server that admits them all; the peak it saw."""
    import threading

    from emo_pillars.generation.backends import ChatPrompt, OpenAICompatibleBackend

    fleet = Fleet(1, latency=2.0, cap=calls)
    try:
        backend = OpenAICompatibleBackend(fleet.urls[0], model=MODEL, max_concurrency=calls)
        prompts = [ChatPrompt.from_user(f"Read the story {i}", prefill="1.") for i in range(calls)]
        threads = []
        backend.progress_callback = lambda _: threads.append(threading.active_count())
        start = time.perf_counter()
        backend.generate(prompts, max_new_tokens=8)
        wall = time.perf_counter() - start
        backend.close()
    finally:
        served = fleet.stop()
    return {"calls": calls, "server_latency_s": 2.0, "peak_in_flight_at_server": served[0]["peak_in_flight"],
            "wall_s": round(wall, 2), "client_threads_max": max(threads)}  # fmt: skip


def _commit() -> str:
    """The commit the benchmark ran on (``+dirty`` when the package's files differ from it)."""
    git = ["git", "-C", str(HERE.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "emo_pillars", "tests/fake_openai.py"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return (head or "unknown") + ("+dirty" if dirty else "")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _curve(plots: int, args: argparse.Namespace, root: Path) -> list[dict]:
    """One row per fleet size; each compared with N times the one-server figure (this curve's, or --baseline)."""
    rows = []
    for n in (int(x) for x in args.servers.split(",")):
        load = _load()
        row = run_fleet(n, plots, args, root)
        row["load_avg_at_start"] = load  # 1, 5 and 15 minute load averages of the machine as the run began
        base = args.baseline or (rows[0] if rows else row)["calls_per_s"]
        row["speedup_vs_one"] = round(row["calls_per_s"] / base, 2)
        row["of_ideal"] = round(row["calls_per_s"] / (base * n), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.01, help="share of the paper's 2,000 plots (0.01)")
    parser.add_argument("--servers", default="1,2,4,8", help="fleet sizes (1,2,4,8)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call at a server (0.05)")
    parser.add_argument("--cap", type=int, default=4, help="calls a server holds at once (4)")
    parser.add_argument("--chunk-per-server", type=int, default=16, help="plots in flight per server (16)")
    parser.add_argument("--in-flight", type=int, default=1000, help="calls held at once by one client (1000; 0: skip)")
    parser.add_argument("--client-concurrency", type=int, default=None,
                        help="calls the client holds in flight per server (default: --cap, so none waits at a server)")  # fmt: skip
    parser.add_argument("--baseline", type=float, default=None,
                        help="one server's calls/s to compare with (default: the curve's own first fleet)")  # fmt: skip
    parser.add_argument("--name", default=None, help="the run's name in the results (default: from the settings)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "fleet-simulation.json")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--plots", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--urls", default="", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.plots, args.urls.split(","), args.concurrency, args.chunk)
        return
    plots = max(1, round(2000 * args.scale))
    root = Path(tempfile.mkdtemp(prefix="fleet-"))
    started = time.time()
    try:
        rows = _curve(plots, args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    probe = in_flight(args.in_flight) if args.in_flight else None
    if probe:
        print(json.dumps(probe), flush=True)
    ceiling = args.cap / args.latency
    client = args.client_concurrency or args.cap
    name = args.name or (f"{args.scale:g} shape ({rows[0]['calls']:,} calls), latency {args.latency:g} s, cap "
                         f"{args.cap} (ceiling {ceiling:g} calls/s a server), {args.chunk_per_server} plots a server"
                         + (f", {client} in flight a server" if client != args.cap else ""))  # fmt: skip
    run = {
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
        "workload": f"{plots} plots ({args.scale:g} of the paper's 2,000), contexts for 1/3",
        "server": {"latency_s": args.latency, "cap": args.cap, "one_server_ceiling_calls_per_s": ceiling},
        "chunk_plots_per_server": args.chunk_per_server,
        "client_in_flight_per_server": client,
        "baseline_calls_per_s": args.baseline or rows[0]["calls_per_s"],
        "cpu": os.cpu_count(),
        "fleets": rows,
    }  # fmt: skip
    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    results.setdefault("runs", {})[name] = run  # earlier runs stay, for history
    if probe:
        results["in_flight"] = probe
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
