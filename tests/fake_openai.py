"""A fake OpenAI-compatible chat server for fleet tests and the fleet benchmark: the scripted teacher behind HTTP.

One asyncio process answers ``GET /v1/models`` and ``POST /v1/chat/completions`` with keep-alive HTTP/1.1. Each call
waits a fixed ``latency`` while it holds one of ``cap`` slots (calls beyond the cap queue, as a GPU's batch does), so
one server's rate is at most ``cap / latency`` calls per second, and the server itself costs little CPU. The reply
is the scripted teacher's (:mod:`scripted_teacher`), so the pipeline parses it as a real one, and it depends only on
the prompt: any server gives the same reply to the same call.

Run it as a process (so a test can kill it)::

    python tests/fake_openai.py --port 8101 --latency 0.02 --cap 8

It prints ``ready PORT`` on stdout once it listens, and ``served N`` on SIGTERM. With ``--log PATH`` it appends one
JSON line to PATH when a call arrives and one when it is answered (``{"event", "port", "text"}``, the text being the
start of the last user message): several servers logging to one file give the order of their calls, with no clocks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "generation"))

from scripted_teacher import respond as scripted_respond  # noqa: E402

from emo_pillars.generation.backends import ChatPrompt  # noqa: E402

respond = scripted_respond

MODEL = "scripted-teacher"


def _reply(body: dict) -> dict:
    messages = body["messages"]
    prefill = ""
    if messages and messages[-1]["role"] == "assistant":
        prefill, messages = messages[-1]["content"], messages[:-1]
    prompt = ChatPrompt(tuple((m["role"], m["content"]) for m in messages), prefill)
    text = respond(prompt)
    return {
        "id": "fake", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": sum(len(m["content"].split()) for m in messages),
                  "completion_tokens": len(text.split()), "total_tokens": 0},
    }  # fmt: skip


class FakeServer:
    """The scripted teacher over HTTP, with a fixed latency and a cap on calls in progress."""

    def __init__(self, latency: float, cap: int, log: str | None = None):
        self.latency = latency
        self.port = 0
        self.log = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if log else None
        self.slots = asyncio.Semaphore(cap)
        self.served = 0
        self.in_flight = 0  # calls received and not yet answered (waiting for a slot or in one)
        self.peak_in_flight = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, payload = await self.answer(method, path.split("?")[0], body)
                data = json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    "Connection: keep-alive\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        if method == "GET" and path == "/v1/models":
            entry = {"id": MODEL, "object": "model", "created": 0, "owned_by": "vllm", "max_model_len": 32768}
            return 200, {"object": "list", "data": [entry]}
        if method == "POST" and path == "/v1/chat/completions":
            request = json.loads(body)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.note("received", request)
            try:
                async with self.slots:
                    await asyncio.sleep(self.latency)
                    self.served += 1
                    self.note("answered", request)
                    return 200, _reply(request)
            finally:
                self.in_flight -= 1
        return 404, {"error": "not found"}

    def note(self, event: str, request: dict) -> None:
        """One line in the shared log (one ``write`` of an ``O_APPEND`` file: lines of several servers never mix)."""
        if self.log is not None:
            text = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")[:60]
            line = json.dumps({"event": event, "port": self.port, "text": text}) + "\n"
            os.write(self.log, line.encode())


async def serve(port: int, latency: float, cap: int, log: str | None = None) -> None:
    fake = FakeServer(latency, cap, log)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", port, backlog=4096)
    fake.port = server.sockets[0].getsockname()[1]
    print(f"ready {fake.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    print(f"served {fake.served} peak_in_flight {fake.peak_in_flight}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--cap", type=int, default=8)
    parser.add_argument("--log", default=None, help="append a line per call received and answered to this file")
    parser.add_argument("--teacher", default="scripted", choices=["scripted", "simulation"],
                        help="scripted: the tests' teacher; simulation: the paper-shaped one of the benchmarks")  # fmt: skip
    args = parser.parse_args()
    global respond
    if args.teacher == "simulation":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
        from generation_simulation import respond as simulation_respond

        respond = simulation_respond
    asyncio.run(serve(args.port, args.latency, args.cap, args.log))


if __name__ == "__main__":
    main()
