"""Benchmark: OpenAICompatibleBackend throughput against a real ``transformers serve`` at concurrency 1, 4 and 16.

The packaged SmolLM2-135M-Instruct GGUF is dequantized into a temporary folder and served on 127.0.0.1 by
``transformers serve`` (once with its default one-request-at-a-time generation, once with
``--continuous-batching``). The same fixed workload, the utterance-stage prompts of the demo corpus (greedy, at most
``--max-new-tokens`` tokens, natural stopping), is sent through :class:`OpenAICompatibleBackend` with
``max_concurrency`` 1, 4 and 16. Greedy replies do not depend on the concurrency, so every run does the same work;
the figure of merit is the ratio of calls/s against concurrency 1 on the same server. Results go to
``benchmarks/results/server-<device>.json``.

    .venv/bin/python benchmarks/server.py                   # CPU, SmolLM2, ~15 min on two cores
    .venv/bin/python benchmarks/server.py --prompts 32      # a longer run

On a GPU server (vLLM, SGLang) the same backend settings apply: raise ``max_concurrency`` until the server's
queue never runs dry (see the README, "Generating at scale").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from emo_pillars.generation.backends import DecodingConfig, OpenAICompatibleBackend
from emo_pillars.generation.pipeline import default_model
from emo_pillars.generation.stages import STAGE_CLASSES
from emo_pillars.narratives import load_narratives

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = (1, 4, 16)
# transformers serve rejects repetition_penalty and seed; greedy is temperature 0.
DECODING = DecodingConfig(repetition_penalty=1.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_folder(target: Path) -> Path:
    """SmolLM2 (GGUF, dequantized) saved as a safetensors folder that ``transformers serve`` loads."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf_file = default_model()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)  # a plain model: a GGUF-loaded one refuses save_pretrained
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


class Server:
    """``transformers serve FOLDER`` on a free port of 127.0.0.1, stopped on exit."""

    def __init__(self, folder: Path, continuous_batching: bool, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(folder)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        if continuous_batching:
            command.append("--continuous-batching")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        env.setdefault("OMP_NUM_THREADS", "1")  # a small shared CPU: oversubscribed OpenMP threads cost 20-100x
        self.log = log
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"transformers serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("transformers serve did not start within 300 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def workload(n: int) -> list:
    """``n`` utterance-stage prompts: demo-corpus plots, each with a few of its capitalised names as characters."""
    stage = STAGE_CLASSES["utterances"]()
    items = []
    for plot in load_narratives(None):
        names = sorted({w.strip(".,;:'\"") for w in plot.text.split() if w[:1].isupper() and len(w) > 3})
        items += [{"plot": plot.text, "character": name, "plot_id": plot.id} for name in names[:3]]
    return [stage.prompt(item) for item in items[:n]]


def measure(url: str, model: str, prompts: list, concurrency: int, max_new_tokens: int) -> dict:
    backend = OpenAICompatibleBackend(
        url, model=model, max_concurrency=concurrency, send_repetition_penalty=False, send_seed=False
    )
    backend.load()
    started = time.perf_counter()
    replies = backend.generate(prompts, max_new_tokens=max_new_tokens, decoding=DECODING)
    seconds = time.perf_counter() - started
    backend.close()
    failed = sum(r.finish_reason == "error" for r in replies)
    tokens = sum(r.completion_tokens for r in replies)
    return {
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "calls_per_s": round(len(prompts) / seconds, 3),
        "tokens_per_s": round(tokens / seconds, 2),
        "completion_tokens": tokens,
        "failed": failed,
        "replies": [r.text for r in replies],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=16, help="prompts in the workload (16)")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--modes", default="plain,continuous", help="server modes: plain, continuous")
    args = parser.parse_args()

    prompts = workload(args.prompts)
    results: dict = {
        "machine": {"device": f"CPU ({os.cpu_count()} cores)", "platform": platform.platform()},
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1, dequantized), served by transformers serve",
        "prompts": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "servers": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = served_folder(Path(tmp) / "smollm2")
        for mode in args.modes.split(","):
            runs = []
            with Server(folder, mode == "continuous", Path(tmp) / f"{mode}.log") as server:
                measure(server.url, str(folder), prompts[:2], 1, 4)  # warm-up
                for concurrency in CONCURRENCY:
                    runs.append(measure(server.url, str(folder), prompts, concurrency, args.max_new_tokens))
                    print(f"{mode:<10} concurrency {concurrency:>2}: {runs[-1]['calls_per_s']} calls/s, "
                          f"{runs[-1]['tokens_per_s']} tokens/s, {runs[-1]['failed']} failed")  # fmt: skip
            reference = runs[0]["replies"]
            for run in runs:
                run["speedup"] = round(run["calls_per_s"] / runs[0]["calls_per_s"], 2)
                same = sum(a == b for a, b in zip(run.pop("replies"), reference))
                run["same_replies_as_concurrency_1"] = f"{same}/{len(prompts)}"
            results["servers"][mode] = runs

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "server-cpu.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'server':<11} {'concurrency':>11} {'calls/s':>8} {'tokens/s':>9} {'ratio':>6}")
    for mode, runs in results["servers"].items():
        for run in runs:
            print(f"{mode:<11} {run['concurrency']:>11} {run['calls_per_s']:>8} {run['tokens_per_s']:>9} "
                  f"{run['speedup']:>5}x")  # fmt: skip
    print(f"Results: {out}")


if __name__ == "__main__":
    main()
