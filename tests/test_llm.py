"""LLM interpreters against a local fake OpenAI-compatible server (127.0.0.1 only)."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retouch.errors import InvalidInputError, MissingDependencyError
from retouch.interpret import get_interpreter
from retouch.interpret.llm import LlamaCppInterpreter, OpenAIChatInterpreter, extract_json
from retouch.plan import Plan

VALID = {"operations": [{"action": "remove", "types": ["acne", "red_spot"],
                         "regions": ["chin"]}]}


class FakeServer:
    """Speaks POST /v1/chat/completions; ``mode`` decides the answer."""

    def __init__(self) -> None:
        self.mode = "valid"
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body,
                                        "auth": self.headers.get("Authorization")})
                mode = server.mode
                if mode == "slow":
                    time.sleep(1.5)
                if mode == "reject_schema" and "response_format" in body:
                    self._send(400, {"error": "response_format not supported"})
                    return
                if mode == "http500":
                    self._send(500, {"error": "boom"})
                    return
                content = {
                    "valid": "```json\n" + json.dumps(VALID) + "\n```",
                    "reject_schema": json.dumps(VALID),
                    "slow": json.dumps(VALID),
                    "invalid": json.dumps({"operations": [{"action": "remove",
                                                           "types": ["tattoo"]}]}),
                    "prose": "Sure! I would remove the acne.",
                }[mode]
                self._send(200, {"choices": [{"message": {"role": "assistant",
                                                          "content": content}}]})

            def _send(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    s = FakeServer()
    yield s
    s.close()


@pytest.fixture()
def llm(server):
    server.requests.clear()
    server.mode = "valid"
    return OpenAIChatInterpreter(server.url, model="tiny", api_key="sekrit", timeout_s=0.5)


def test_valid_plan_is_used(llm, server):
    r = llm.interpret("please get rid of the zits on my chin")
    assert r.source == "openai:tiny" and r.warnings == ()
    assert [o.to_dict() for o in r.plan.operations] == VALID["operations"]
    assert r.plan.instruction == "please get rid of the zits on my chin"
    req, = server.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sekrit"
    body = req["body"]
    assert body["model"] == "tiny" and body["temperature"] == 0
    assert body["response_format"]["json_schema"]["schema"] == Plan.json_schema()
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user",
                                    "content": "please get rid of the zits on my chin"}


def test_invalid_plan_falls_back_with_a_warning(llm, server):
    server.mode = "invalid"
    r = llm.interpret("remove the acne on my chin")
    assert r.source == "builtin (fallback)"
    assert "unknown name 'tattoo'" in r.warnings[-1] and "built-in" in r.warnings[-1]
    assert r.plan.operations[0].regions == ("chin",)  # the built-in interpreter's answer


def test_prose_answer_falls_back(llm, server):
    server.mode = "prose"
    r = llm.interpret("remove the acne")
    assert r.source == "builtin (fallback)" and "no JSON object" in r.warnings[-1]


def test_timeout_falls_back(llm, server):
    server.mode = "slow"
    t0 = time.perf_counter()
    r = llm.interpret("remove the acne")
    assert time.perf_counter() - t0 < 1.4
    assert r.source == "builtin (fallback)" and "within 0.5 s" in r.warnings[-1]
    assert r.plan.operations


def test_refused_connection_falls_back():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    llm = OpenAIChatInterpreter(f"http://127.0.0.1:{port}/v1", timeout_s=2)
    r = llm.interpret("lighten my dark circles")
    assert r.source == "builtin (fallback)" and "cannot reach" in r.warnings[-1]
    assert r.plan.operations[0].types == ("under_eye",)


def test_server_error_falls_back(llm, server):
    server.mode = "http500"
    r = llm.interpret("remove the acne")
    assert "HTTP 500" in r.warnings[-1]


def test_schema_output_rejected_is_retried_without_it(llm, server):
    server.mode = "reject_schema"
    r = llm.interpret("remove the acne on my chin")
    assert r.source == "openai:tiny"
    assert len(server.requests) == 2 and "response_format" not in server.requests[1]["body"]


def test_session_commands_never_reach_the_model(llm, server):
    r = llm.interpret("undo that")
    assert r.commands[0].name == "undo" and server.requests == []


def test_context_is_sent_for_relative_requests(llm, server):
    ctx = Plan.from_dict(VALID)
    llm.interpret("a bit more", context=ctx)
    assert "Already applied" in server.requests[0]["body"]["messages"][-1]["content"]


def test_configuration_errors_are_clear(monkeypatch):
    with pytest.raises(InvalidInputError, match="must be http"):
        OpenAIChatInterpreter("ftp://x")
    monkeypatch.setenv("RETOUCH_LLM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RETOUCH_LLM_TIMEOUT", "soon")
    with pytest.raises(InvalidInputError, match="RETOUCH_LLM_TIMEOUT must be a number"):
        get_interpreter("openai")


def test_extract_json_tolerates_fences_and_braces_in_strings():
    assert extract_json('x ```json {"a": "}{", "b": [1]} ``` y') == {"a": "}{", "b": [1]}


def test_llama_cpp_missing_is_a_clear_error(tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'retouch\[llm\]'"):
        LlamaCppInterpreter(str(gguf))
    with pytest.raises(InvalidInputError, match="GGUF model file not found"):
        LlamaCppInterpreter(str(tmp_path / "none.gguf"))


def test_llama_cpp_backend_uses_the_schema(tmp_path, monkeypatch):
    seen = {}

    class Llama:
        def __init__(self, model_path, **kw):
            seen["path"] = model_path

        def create_chat_completion(self, messages, **kw):
            seen["format"] = kw["response_format"]
            return {"choices": [{"message": {"content": json.dumps(VALID)}}]}

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=Llama))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    r = LlamaCppInterpreter(str(gguf)).interpret("remove the acne on my chin")
    assert r.source == "llama_cpp" and seen["path"] == str(gguf)
    assert seen["format"]["schema"] == Plan.json_schema()
    assert r.plan.operations[0].regions == ("chin",)
