"""`ctxeng serve` with the real `openai` client: models, chat and completions (plain and streamed), adapter
selection, errors, token, overload, shutdown, and the UserPromptSubmit hook's adapter answer.

The server is the real command in a subprocess (or the real app under uvicorn in a thread where a
test needs its own engine), the models are the tiny offline Llama with two adapters trained by TRL.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctxeng.cli import main
from ctxeng.serve import protocol
from tests.adapterrepo import QUESTION, AdapterRepo, adapter_repo, copy_repo, serve_in_thread
from tests.extras import require
from tests.tinymodel import SYSTEM

require("openai", "httpx", "starlette", "peft")
import httpx  # noqa: E402
import openai  # noqa: E402

MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
READY = "ctxeng serve: listening on "


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> AdapterRepo:
    return adapter_repo(tmp_path_factory)


def child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return {
        **env,
        "HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


class Served:
    """A `ctxeng serve` subprocess and the URL it announced."""

    def __init__(self, repo: Path, args: list[str], home: Path) -> None:
        self.repo = repo
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ctxeng", "serve", str(repo), *args, "--port", "0"],
            env=child_env(home),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.log: list[str] = []
        deadline = time.monotonic() + 180
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            self.log.append(line)
            if line.startswith(READY):
                self.url = line[len(READY) :].split("/v1", 1)[0]
                return
            assert self.proc.poll() is None, "".join(self.log)

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def client(self, **kwargs: Any) -> Any:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key="unused", max_retries=0, timeout=120, **kwargs
        )

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def server(made: AdapterRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    repo = copy_repo(made, tmp_path_factory.mktemp("serve") / "kvstore")
    served = Served(repo, ["--max-queue", "4", "--threads", "1"], tmp_path_factory.mktemp("serve-home"))
    yield served
    if served.proc.poll() is None:
        served.stop()


def chat(client: Any, model: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        **{"messages": MESSAGES, "temperature": 0, "max_tokens": 24, **kwargs}, model=model
    )


# -- the OpenAI surface ----------------------------------------------------------------------------


def test_models_are_base_and_every_adapter(server: Served) -> None:
    client = server.client()
    models = client.models.list()
    assert [m.id for m in models.data] == ["base", "first", "second"]
    assert {m.owned_by for m in models.data} == {"ctxeng"}
    assert client.models.retrieve("second").id == "second"
    announced = json.loads((server.repo / ".ctxeng" / "serve.json").read_text())
    assert announced["url"] == server.url and announced["models"] == ["base", "first", "second"]
    assert announced["pid"] == server.proc.pid and announced["auth"] is False


def test_the_model_field_picks_the_adapter_and_greedy_answers_repeat(server: Served) -> None:
    client = server.client()
    answers = {}
    for model in ("base", "first", "second"):
        reply = chat(client, model)
        assert reply.model == model and reply.object == "chat.completion"
        choice = reply.choices[0]
        assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
        assert 0 < reply.usage.completion_tokens <= 24 and reply.usage.prompt_tokens > 10
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
        answers[model] = choice.message.content
    assert len(set(answers.values())) == 3, answers  # one base, two adapters: three different answers
    assert "defined in" in answers["second"]  # the trained answer format ("`X` is defined in `path`.")
    assert chat(client, "first").choices[0].message.content == answers["first"]
    assert (
        chat(client, "base").choices[0].message.content == answers["base"]
    )  # base after an adapter: no leak


def test_grounding_is_opt_in_per_request_or_by_model_name(server: Served) -> None:
    client = server.client()
    plain = chat(client, "second")
    grounded = chat(client, "second", extra_body={"ctxeng": {"context": True, "budget": 300}})
    by_name = chat(client, "second+context", extra_body={"ctxeng": {"budget": 300}})
    # The retrieved context went into the prompt: far more prompt tokens, the same for both ways of asking.
    assert grounded.usage.prompt_tokens > plain.usage.prompt_tokens + 100
    assert by_name.usage.prompt_tokens == grounded.usage.prompt_tokens
    assert by_name.choices[0].message.content == grounded.choices[0].message.content
    off = chat(client, "second", extra_body={"ctxeng": {"context": False}})
    assert off.usage.prompt_tokens == plain.usage.prompt_tokens
    for bad in ({"ctxeng": {"budget": 0}}, {"ctxeng": "yes"}):
        with pytest.raises(openai.BadRequestError) as info:
            chat(client, "second", extra_body=bad)
        assert "ctxeng" in str(info.value)


def test_streamed_chat_adds_up_to_the_plain_answer(server: Served) -> None:
    client = server.client()
    plain = chat(client, "second")
    chunks = list(chat(client, "second", stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [plain.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # it really streamed


def test_sse_wire_format_ends_with_done(server: Served) -> None:
    body = {"model": "first", "messages": MESSAGES, "max_tokens": 5, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] in ("stop", "length")


def test_text_completions_plain_and_streamed(server: Served) -> None:
    client = server.client()
    prompt = "<|im_start|>user\nWhere is `Store` defined?<|im_end|>\n<|im_start|>assistant\n"
    plain = client.completions.create(model="second", prompt=prompt, max_tokens=16, temperature=0)
    assert plain.object == "text_completion" and plain.choices[0].text
    streamed = list(
        client.completions.create(model="second", prompt=prompt, max_tokens=16, temperature=0, stream=True)
    )
    assert "".join(c.choices[0].text for c in streamed) == plain.choices[0].text
    base = client.completions.create(model="base", prompt=prompt, max_tokens=16, temperature=0)
    assert base.choices[0].text != plain.choices[0].text


def test_stop_strings_cut_the_answer_before_them(server: Served) -> None:
    client = server.client()
    full = chat(client, "second").choices[0].message.content
    stop = full[4:9]
    assert stop.strip()
    reply = chat(client, "second", stop=[stop])
    assert reply.choices[0].message.content == full[: full.index(stop)]
    assert reply.choices[0].finish_reason == "stop"
    streamed = "".join(
        c.choices[0].delta.content or "" for c in chat(client, "second", stop=stop, stream=True)
    )
    assert streamed == full[: full.index(stop)]


def test_sampling_with_a_seed_repeats(server: Served) -> None:
    client = server.client()
    kwargs = {"model": "second", "messages": MESSAGES, "max_tokens": 12, "temperature": 1.0, "seed": 7}
    first = client.chat.completions.create(**kwargs).choices[0].message.content
    assert client.chat.completions.create(**kwargs).choices[0].message.content == first


# -- errors ----------------------------------------------------------------------------------------


def test_unknown_model_is_404_model_not_found(server: Served) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        chat(server.client(), "no-such-adapter")
    assert err.value.status_code == 404 and err.value.code == "model_not_found"
    assert "base, first, second" in err.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b"\xff\xfe", None),
        (json.dumps({"model": "first"}).encode(), "messages"),
        (json.dumps({"model": "first", "messages": []}).encode(), "messages"),
        (
            json.dumps({"model": "first", "messages": [{"role": "robot", "content": "x"}]}).encode(),
            "messages[0].role",
        ),
        (
            json.dumps({"model": "first", "messages": [{"role": "user", "content": 3}]}).encode(),
            "messages[0].content",
        ),
        (json.dumps({"messages": MESSAGES}).encode(), "model"),
        (json.dumps({"model": "first", "messages": MESSAGES, "max_tokens": 0}).encode(), "max_tokens"),
        (json.dumps({"model": "first", "messages": MESSAGES, "max_tokens": 10**6}).encode(), "max_tokens"),
        (json.dumps({"model": "first", "messages": MESSAGES, "temperature": 3}).encode(), "temperature"),
        (json.dumps({"model": "first", "messages": MESSAGES, "n": 2}).encode(), "n"),
        (json.dumps({"model": "first", "messages": MESSAGES, "stop": [""]}).encode(), "stop"),
        (json.dumps({"model": "first", "messages": MESSAGES, "stream": "yes"}).encode(), "stream"),
    ],
)
def test_bad_requests_are_400_with_openai_error_objects(
    server: Served, body: bytes, param: str | None
) -> None:
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        content=body,
        timeout=30,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_bad_fields_through_the_openai_client(server: Served) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        chat(server.client(), "first", temperature=5)
    assert err.value.status_code == 400 and err.value.param == "temperature"


def test_wrong_routes_and_methods_are_json_errors(server: Served) -> None:
    missing = httpx.get(f"{server.url}/v2/anything", timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no route /v2/anything"
    wrong = httpx.get(f"{server.url}/v1/chat/completions", timeout=30)
    assert wrong.status_code == 405 and "GET is not allowed" in wrong.json()["error"]["message"]
    too_big = httpx.post(f"{server.url}/v1/completions", content=b"x" * (5 << 20), timeout=60)
    assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "invalid_request_error"


def test_health(server: Served) -> None:
    health = httpx.get(f"{server.url}/health", timeout=30).json()
    assert health == {"status": "ok", "models": 3, "running": 0, "waiting": 0, "max_waiting": 4}


# -- the prompt hook -------------------------------------------------------------------------------


def test_prompt_hook_adds_the_adapters_short_answer_while_serve_runs(server: Served) -> None:
    from ctxeng.dataset.builder import system_message
    from ctxeng.integrations.claude_hooks import adapter_context, prompt_hook

    repo = server.repo
    messages = [
        {"role": "system", "content": system_message("kvstore")},
        {"role": "user", "content": QUESTION},
    ]
    reply = server.client().chat.completions.create(
        model="second", messages=messages, temperature=0, max_tokens=96
    )
    expected = reply.choices[0].message.content.strip()
    start = time.monotonic()
    added = adapter_context(repo, QUESTION)
    assert time.monotonic() - start < 3.5
    heading = "## Short answer from this repository's adapter (second, via ctxeng serve; may be wrong)"
    assert (
        expected and added == f"{heading}\n\n{expected}\n"
    )  # the newest adapter, the trained system message
    hook = json.loads(prompt_hook(json.dumps({"cwd": str(repo), "prompt": QUESTION})))
    context = hook["hookSpecificOutput"]["additionalContext"]
    assert "kvstore/compact.py" in context and "Short answer from this repository's adapter" in context
    assert context.index("## Definitions") < context.index("Short answer")


def test_prompt_hook_without_a_server_is_fast_and_adds_nothing(made: AdapterRepo, tmp_path: Path) -> None:
    from ctxeng.integrations.claude_hooks import adapter_context, prompt_hook

    repo = copy_repo(made, tmp_path / "kvstore")
    serve_json = repo / ".ctxeng" / "serve.json"
    with socket.socket() as sock:  # a port that was just free: nothing listens there
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    for announced in (
        None,
        {"pid": 2**22 + 7, "url": "http://127.0.0.1:9"},  # no such process
        {"pid": os.getpid(), "url": f"http://127.0.0.1:{dead}"},  # alive, but no server
        "not json",
    ):
        if announced is not None:
            text = (
                announced
                if isinstance(announced, str)
                else json.dumps({**announced, "models": ["base", "first"]})
            )
            serve_json.write_text(text)
        start = time.monotonic()
        assert adapter_context(repo, QUESTION) == ""
        assert time.monotonic() - start < 1.0, announced
    hook = json.loads(prompt_hook(json.dumps({"cwd": str(repo), "prompt": QUESTION})))
    context = hook["hookSpecificOutput"]["additionalContext"]
    assert "kvstore/compact.py" in context and "Short answer" not in context


# -- in-process servers: token, overload, cancellation ---------------------------------------------


@pytest.fixture(scope="module")
def engine(made: AdapterRepo) -> Any:
    import torch

    from ctxeng.serve.engine import load_engine

    torch.set_num_threads(1)
    loaded = load_engine(made.path, ["first"], max_queue=0)
    yield loaded
    loaded.close()


def test_bearer_token_is_required_on_v1_routes(engine: Any) -> None:
    with serve_in_thread(engine, token="s3cret") as url:
        anonymous = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as err:
            anonymous.models.list()
        assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
        assert httpx.post(f"{url}/v1/completions", json={}).headers["www-authenticate"] == "Bearer"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["base", "first"]
        assert httpx.get(f"{url}/health").status_code == 200  # health checks need no token


def test_a_full_queue_is_503_and_a_closed_stream_frees_the_generator(engine: Any) -> None:
    with serve_in_thread(engine, max_tokens=1000) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=120)
        long = {
            "model": "first",
            "messages": MESSAGES,
            "max_tokens": 900,
            "temperature": 0,
            "extra_body": {"min_tokens": 900},
        }
        start = time.monotonic()
        full = client.chat.completions.create(**long)
        full_s = time.monotonic() - start
        assert full.usage.completion_tokens == 900
        stream = client.chat.completions.create(**long, stream=True)
        pieces = iter(stream)
        next(pieces)  # the generation runs now; max_queue=0 leaves no room
        next(pieces)
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model="first", messages=MESSAGES, max_tokens=4)
        assert err.value.status_code == 503 and err.value.code == "overloaded"
        assert err.value.response.headers["retry-after"] == "2"
        closed = time.monotonic()
        stream.close()
        while httpx.get(f"{url}/health").json()["running"]:
            assert time.monotonic() - closed < 60
            time.sleep(0.02)
        assert time.monotonic() - closed < 0.5 * full_s + 0.5, "the generation went on after the client left"
        assert client.chat.completions.create(model="first", messages=MESSAGES, max_tokens=4).choices


# -- the command ----------------------------------------------------------------------------------


def test_base_only_server_stops_cleanly_on_sigterm(made: AdapterRepo, tmp_path: Path) -> None:
    repo = copy_repo(made, tmp_path / "kvstore")
    served = Served(repo, ["--base", str(made.tiny)], tmp_path / "home")
    client = served.client()
    assert [m.id for m in client.models.list().data] == ["base"]
    with pytest.raises(openai.NotFoundError):
        chat(client, "first")
    assert (repo / ".ctxeng" / "serve.json").exists()
    assert served.stop() == 0
    assert not (repo / ".ctxeng" / "serve.json").exists()


def test_public_host_needs_a_token(made: AdapterRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(made.path), "--host", "0.0.0.0"]) == 1
    assert "reachable from other machines" in capsys.readouterr().err


def test_busy_port_is_a_clear_error(made: AdapterRepo, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert main(["serve", str(made.path), "--port", str(sock.getsockname()[1])]) == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err


def test_no_adapters_and_no_base_is_a_clear_error(
    sample_repo: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", str(sample_repo.path), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "no adapters to serve" in err and "--base" in err


# -- request parsing (no server) -------------------------------------------------------------------


def test_chat_parsing_accepts_text_parts_and_the_developer_role() -> None:
    req = protocol.parse_chat(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
                },
            ],
            "max_completion_tokens": 7,
            "stop": "\n\n",
        },
        64,
    )
    assert req.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there"},
    ]
    assert req.sampling.max_tokens == 7 and req.sampling.stop == ["\n\n"] and req.sampling.temperature == 1.0
    assert (
        protocol.parse_chat(
            {"model": "m", "messages": [{"role": "user", "content": "x"}]}, 64
        ).sampling.max_tokens
        == 64
    )
    with pytest.raises(protocol.ApiError) as err:
        protocol.parse_chat(
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 64
        )
    assert err.value.status == 400 and err.value.param == "messages[0].content"
