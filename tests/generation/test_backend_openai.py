"""OpenAICompatibleBackend against a real ``transformers serve`` process and a small scripted HTTP server."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from processes import stop_process

httpx = pytest.importorskip("httpx")

from emo_pillars.errors import BackendError, ConfigError  # noqa: E402
from emo_pillars.generation.backends import (  # noqa: E402
    ChatPrompt,
    DecodingConfig,
    OpenAICompatibleBackend,
    OpenAICompatibleConfig,
)
from emo_pillars.generation.backends.openai import strip_prefill  # noqa: E402
from emo_pillars.generation.constraints import labels_constraint, utterances_constraint  # noqa: E402
from emo_pillars.generation.parsing import parse_emotion_scores, parse_utterances  # noqa: E402

GREEDY_NO_PENALTY = DecodingConfig(repetition_penalty=1.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STORY = "the character walked home after the storm and remembered her brother"


def make_prompts() -> list[ChatPrompt]:
    words = STORY.split()
    return [
        ChatPrompt.from_user(" ".join(words[:n]), system="you are a careful narrator" if n % 2 else None)
        for n in (3, 11, 1, 7, 12, 5)
    ]


# ---------------------------------------------------------------------------------------------- transformers serve


@pytest.fixture(scope="module")
def serve_url(tiny_mistral_dir, tmp_path_factory):
    """A real ``transformers serve`` on 127.0.0.1 serving the tiny model; yields its base URL."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(tiny_mistral_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not answer within 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def local_replies(tiny_mistral_dir):
    """The same prompts generated in-process: what the server must return."""
    from emo_pillars.generation.backends import TransformersBackend

    backend = TransformersBackend(tiny_mistral_dir, device="cpu", batch_size=8)
    backend.load()
    replies = backend.generate(make_prompts(), max_new_tokens=8, decoding=GREEDY_NO_PENALTY)
    backend.close()
    return replies


@pytest.mark.parametrize("suffix", ["", "/v1/"])
def test_server_replies_in_order_match_local_generation(serve_url, tiny_mistral_dir, local_replies, suffix):
    done = []
    backend = OpenAICompatibleBackend(
        serve_url + suffix,
        model=str(tiny_mistral_dir),
        max_concurrency=4,
        send_repetition_penalty=False,
        progress_callback=done.append,
    )
    backend.load()
    try:
        replies = backend.generate(make_prompts(), max_new_tokens=8, decoding=GREEDY_NO_PENALTY)
    finally:
        backend.close()
    assert [r.error for r in replies] == [None] * len(replies)
    assert [r.text for r in replies] == [r.text for r in local_replies]
    assert [r.prompt_tokens for r in replies] == [r.prompt_tokens for r in local_replies]
    assert [r.completion_tokens for r in replies] == [8] * len(replies)
    assert [r.finish_reason for r in replies] == ["length"] * len(replies)
    assert sum(done) == len(replies)


def test_prefill_fallback_asks_in_the_user_message(serve_url, tiny_mistral_dir):
    backend = OpenAICompatibleBackend(serve_url, model=str(tiny_mistral_dir), send_repetition_penalty=False)
    prompt = ChatPrompt.from_user("the storm", prefill="Joy:")
    body = backend.request_body(prompt, max_new_tokens=4)
    assert body["messages"] == [{"role": "user", "content": "the storm\n\nBegin your answer with: Joy:"}]
    assert "continue_final_message" not in body
    [reply] = backend.generate([prompt], max_new_tokens=4)
    assert reply.error is None and reply.completion_tokens == 4
    backend.close()


def test_fields_the_server_rejects_give_error_replies_with_a_hint(serve_url, tiny_mistral_dir):
    """``transformers serve`` answers 422 to vLLM's extensions; the call is not retried and the reply says why."""
    backend = OpenAICompatibleBackend(serve_url, model=str(tiny_mistral_dir), supports_prefill=True)
    prompts = [ChatPrompt.from_user("the storm", prefill="Joy:"), ChatPrompt.from_user("the harbour")]
    start = time.monotonic()
    replies = backend.generate(prompts, max_new_tokens=4)  # repetition_penalty 1.03 and the prefill extension
    assert time.monotonic() - start < 5.0  # no back-off: a 422 is not retried
    for reply in replies:
        assert reply.finish_reason == "error"
        assert "HTTP 422" in reply.error
        assert "send_repetition_penalty=False" in reply.error
    backend.close()


# ---------------------------------------------------------------------------------------------- no server


def test_closed_port_stops_the_run_in_one_line_after_retries_and_load_fails():
    url = f"http://127.0.0.1:{free_port()}"
    backend = OpenAICompatibleBackend(url, model="m", max_retries=2, max_concurrency=3)
    start = time.monotonic()
    with pytest.raises(BackendError) as error:
        backend.generate([ChatPrompt.from_user(f"q{i}") for i in range(4)], max_new_tokens=4)
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert "\n" not in message and f"127.0.0.1:{url.rsplit(':', 1)[1]}" in message and "cannot reach" in message
    assert "run the same command again to resume" in message
    with pytest.raises(BackendError, match=f"127.0.0.1:{url.rsplit(':', 1)[1]}"):
        backend.load()
    backend.close()


# ---------------------------------------------------------------------------------------------- scripted server


class _ScriptedServer(ThreadingHTTPServer):
    """Answers ``failures`` requests with 503, then canned completions; records every request."""

    daemon_threads = True

    def __init__(self, failures: int, owned_by: str = "scripted"):
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.failures = failures
        self.owned_by = owned_by
        self.requests: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: _ScriptedServer

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._send(404, {"detail": "not here"})
        elif self.path == "/v1/models":
            entry = {"id": "scripted", "object": "model", "created": 0, "owned_by": self.server.owned_by}
            self._send(200, {"object": "list", "data": [{**entry, "max_model_len": 4096}]})
        else:
            self._send(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            fail = self.server.failures > 0
            self.server.failures -= fail
        if fail:
            self._send(503, {"error": "busy"}, {"Retry-After-Ms": "5"})
            return
        question = body["messages"][-1]["content"]
        if body["messages"][-1]["role"] == "assistant":
            content = " continued"
        elif "Begin your answer with:" in question:
            content = "Joy: 0.8"
        else:
            content = f"echo {question}"
        reply = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(question.split()), "completion_tokens": 3, "total_tokens": 9},
        }
        self._send(200, reply)


@pytest.fixture
def scripted_server():
    servers = []

    def start(failures: int = 0, owned_by: str = "scripted") -> _ScriptedServer:
        server = _ScriptedServer(failures, owned_by)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_retries_on_503_then_succeeds_and_sends_the_key(scripted_server, monkeypatch):
    monkeypatch.setenv("EMO_PILLARS_API_KEY", "sk-secret-123")
    server = scripted_server(failures=3)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    backend = OpenAICompatibleBackend(url, model="scripted", max_retries=4, max_concurrency=2)
    backend.load()  # /health is 404 here; /v1/models answers
    prompts = [ChatPrompt.from_user(f"question {i}") for i in range(3)]
    replies = backend.generate(prompts, max_new_tokens=5, decoding=DecodingConfig(repetition_penalty=1.03, seed=7))
    assert [r.text for r in replies] == [f"echo question {i}" for i in range(3)]
    assert [r.finish_reason for r in replies] == ["stop"] * 3
    assert [(r.prompt_tokens, r.completion_tokens) for r in replies] == [(2, 3)] * 3
    posts = [req for req in server.requests if req[0] == "/v1/chat/completions"]
    assert len(posts) == 3 + 3  # three 503s were retried
    for _, headers, body in posts:
        assert headers["authorization"] == "Bearer sk-secret-123"
        assert body["model"] == "scripted"
        assert body["temperature"] == 0.0 and body["max_tokens"] == 5 and body["seed"] == 7
        assert body["repetition_penalty"] == 1.03
        assert "top_p" not in body
    assert "sk-secret" not in json.dumps(backend.describe())
    assert "sk-secret" not in repr(backend.config)
    backend.close()


def test_retries_exhausted_on_5xx_gives_error_replies(scripted_server):
    server = scripted_server(failures=100)
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{server.server_address[1]}", model="scripted", max_retries=1)
    replies = backend.generate([ChatPrompt.from_user("a"), ChatPrompt.from_user("b")], max_new_tokens=5)
    assert [r.finish_reason for r in replies] == ["error", "error"]
    assert all("HTTP 503" in r.error and "after 2 attempts" in r.error for r in replies)
    backend.close()


def test_prefill_modes(scripted_server):
    server = scripted_server()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    prompt = ChatPrompt.from_user("how does she feel?", system="be brief", prefill="Joy:")

    fallback = OpenAICompatibleBackend(url, model="scripted")
    [reply] = fallback.generate([prompt], max_new_tokens=5)
    assert reply.text == " 0.8"  # the repeated prefill is removed
    fallback.close()

    native = OpenAICompatibleBackend(url, model="scripted", supports_prefill=True, extra_body={"top_k": 1})
    [reply] = native.generate([prompt], max_new_tokens=5)
    assert reply.text == " continued"
    body = server.requests[-1][2]
    assert body["messages"][-1] == {"role": "assistant", "content": "Joy:"}
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["top_k"] == 1
    native.close()


def test_sampling_fields():
    backend = OpenAICompatibleBackend("http://127.0.0.1:1", model="m", send_seed=False, send_repetition_penalty=False)
    body = backend.request_body(
        ChatPrompt.from_user("x"), max_new_tokens=3, decoding=DecodingConfig(temperature=0.7, top_p=0.9)
    )
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9
    assert "seed" not in body and "repetition_penalty" not in body


def test_strip_prefill():
    assert strip_prefill("Joy: 0.8", "Joy:") == " 0.8"
    assert strip_prefill("\n Joy: 0.8", "Joy: ") == "0.8"
    assert strip_prefill("0.8", "Joy:") == "0.8"
    assert strip_prefill("", "Joy:") == ""


def test_config(monkeypatch):
    monkeypatch.delenv("EMO_PILLARS_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai-env")
    config = OpenAICompatibleConfig("http://host:8000/v1/", model="m")
    assert config.api_key == "from-openai-env"
    assert config.root_url == "http://host:8000"
    assert config.chat_url == "http://host:8000/v1/chat/completions"
    assert OpenAICompatibleConfig("http://host:8000", model="m", api_key="given").api_key == "given"
    with pytest.raises(ConfigError, match="base_url"):
        OpenAICompatibleConfig("host:8000", model="m")
    with pytest.raises(ConfigError, match="max_concurrency"):
        OpenAICompatibleConfig("http://host", model="m", max_concurrency=0)
    with pytest.raises(ConfigError):
        OpenAICompatibleBackend(config, max_retries=1)


# ---------------------------------------------------------------------------------------------- structured outputs

LABELS = labels_constraint(3, first_emotion="joy")


@pytest.mark.parametrize(
    ("owned_by", "mode", "vllm", "sglang"),
    [
        ("vllm", "auto", True, False),
        ("sglang", "auto", False, True),
        ("scripted", "auto", False, False),
        ("scripted", True, True, True),
        ("vllm", False, False, False),
    ],
)
def test_constraints_travel_as_structured_output_parameters(scripted_server, owned_by, mode, vllm, sglang):
    server = scripted_server(owned_by=owned_by)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    backend = OpenAICompatibleBackend(url, model="scripted", supports_prefill=True, structured_outputs=mode)
    backend.load()
    prompts = [ChatPrompt(messages=(("user", "label it"),), prefill="1. joy", constraint=LABELS)]
    prompts.append(ChatPrompt.from_user("free"))
    replies = backend.generate(prompts, max_new_tokens=20)
    assert [r.finish_reason for r in replies] == ["stop", "stop"]
    bodies = {req[2]["messages"][0]["content"]: req[2] for req in server.requests if req[0] == "/v1/chat/completions"}
    constrained, free = bodies["label it"], bodies["free"]
    assert (constrained.get("structured_outputs") == {"regex": LABELS.regex}) is vllm
    assert (constrained.get("regex") == LABELS.regex) is sglang
    assert "structured_outputs" not in free and "regex" not in free  # no constraint, nothing sent
    assert backend.describe()["structured_outputs"] == mode
    backend.close()


def test_without_server_prefill_the_regex_covers_the_repeated_prefill(scripted_server):
    server = scripted_server(owned_by="vllm")
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{server.server_address[1]}", model="scripted")
    prompt = ChatPrompt(messages=(("user", "label it"),), prefill="1. joy", constraint=LABELS)
    body = backend.request_body(prompt, max_new_tokens=20)
    regex = body["structured_outputs"]["regex"]
    assert re.fullmatch(regex, "1. joy 0.9\n2. fear 0.3\n3. relief 0.1")
    assert not re.fullmatch(regex, " 0.9\n2. fear 0.3\n3. relief 0.1")
    backend.close()


def test_transformers_serve_refuses_the_parameters_and_auto_leaves_them_out(serve_url, tiny_mistral_dir):
    """``transformers serve`` answers 422 to unknown fields: ``True`` makes error replies that name the switch;
    ``"auto"`` (its ``owned_by`` is neither vLLM nor SGLang) sends none, the replies arrive and the parsers, the
    safety net, read them without raising."""
    constraints = [LABELS, utterances_constraint(["joy", "fear"], 1)]
    prompts = [
        ChatPrompt(messages=(("user", "label: the storm ended"),), prefill="1. joy", constraint=constraints[0]),
        ChatPrompt(messages=(("user", "what does she think?"),), constraint=constraints[1]),
    ]
    forced = OpenAICompatibleBackend(
        serve_url, model=str(tiny_mistral_dir), send_repetition_penalty=False, structured_outputs=True
    )
    body = forced.request_body(prompts[1], max_new_tokens=8)
    assert body["structured_outputs"] == {"regex": constraints[1].regex} and body["regex"] == constraints[1].regex
    for reply in forced.generate(prompts, max_new_tokens=8):
        assert reply.finish_reason == "error" and "HTTP 422" in reply.error
        assert "structured_outputs=False" in reply.error
    forced.close()

    auto = OpenAICompatibleBackend(serve_url, model=str(tiny_mistral_dir), send_repetition_penalty=False)
    auto.load()
    assert "structured_outputs" not in auto.request_body(prompts[1], max_new_tokens=8)
    labels, utterances = auto.generate(prompts, max_new_tokens=8)
    assert labels.error is None and utterances.error is None and labels.completion_tokens > 0
    assert isinstance(parse_emotion_scores(prompts[0].prefill + labels.text), list)
    assert isinstance(parse_utterances(utterances.text), list)
    assert auto.describe()["structured_outputs_dialect"] is None
    auto.close()


def test_server_backend_cannot_score_and_reports_progress_and_limits(scripted_server):
    server = scripted_server()
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{server.server_address[1]}", model="scripted")
    assert not backend.can_score
    with pytest.raises(ConfigError, match="cannot score"):
        backend.score([ChatPrompt.from_user("x")], [" joy"])
    seen = []
    backend.generate([ChatPrompt.from_user(f"q{i}") for i in range(3)], max_new_tokens=2, on_progress=seen.append)
    assert seen == [1, 1, 1]
    assert backend.context_window == 4096  # max_model_len from GET /v1/models, as vLLM reports it
    identity = backend.cache_identity()
    assert identity["model"] == "scripted" and identity["structured_outputs"] == "auto"
    assert (
        OpenAICompatibleBackend(
            f"http://127.0.0.1:{server.server_address[1]}", model="scripted", supports_prefill=True
        ).cache_identity()
        != identity
    )
    backend.close()
