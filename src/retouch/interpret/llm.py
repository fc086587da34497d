"""Opt-in LLM interpreters: an OpenAI-compatible chat server, or a local GGUF model.

Both ask the model for a :class:`~retouch.plan.Plan` as JSON, constrained by
the Plan's JSON Schema where the backend supports it (``response_format`` with
``json_schema`` for llama.cpp's server, vLLM, Ollama's OpenAI endpoint and
OpenAI; a JSON-schema grammar for ``llama-cpp-python``), then validate it with
:meth:`Plan.from_dict`. Any failure - refused connection, timeout, HTTP error,
non-JSON, a plan that does not validate - falls back to the built-in
interpreter and says so in :attr:`Interpretation.warnings`; it never raises.

Session commands (undo, save as ..., show) are always read by the built-in
interpreter; the model only produces image operations.

Nothing here touches the network until :meth:`interpret` is called on an
interpreter the user configured (``--interpreter openai --llm-url ...``).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from typing import Any

from ..errors import InvalidInputError, MissingDependencyError
from ..plan import KNOWN_EDITS, Plan
from . import Interpretation
from .builtin import BuiltinInterpreter

#: Requests shown to the model as worked examples (their plans come from the
#: built-in interpreter, so both follow the same conventions).
EXAMPLES: tuple[str, ...] = (
    "remove the acne on the forehead and chin but keep the freckles, and lighten the dark "
    "circles a little",
    "remove the big pimple on my left cheek",
    "remove all blemishes except on the nose",
    "don't touch my beauty mark",
    "smooth my skin a bit",
    "a bit more",
    "only the chin",
    "remove my double chin and add red lipstick",
    "fix this old blurry photo",
    "add a hat",
)

_SYSTEM = """You turn a photo-retouching request into a JSON Plan. Reply with ONE JSON \
object that follows the schema below, nothing else.

Imperfection types: acne (pimples, zits, breakouts), red_spot (red spots), dark_spot (acne \
scars, age/sun spots, pigmentation), mole (beauty mark), freckle, wrinkle (lines, crow's \
feet), under_eye (dark circles, eye bags), shine (oily, shiny skin), redness (reddened \
skin between the spots of a breakout).
Word groups: "acne"/"pimples" = ["acne", "red_spot"]; "blemishes"/"spots" = ["acne", \
"red_spot", "dark_spot"]; "redness"/"irritation"/"less red" = ["red_spot", "redness"]; \
"clean up my skin" = remove blemishes and reduce under_eye, shine \
at strength 0.6.
Regions: forehead, left_cheek, right_cheek, nose, chin, left_under_eye, right_under_eye, \
neck, skin. Left/right are the SUBJECT's own (flip them when the user says "in the photo").
Actions: remove, reduce (soften/lighten/fade), keep (don't touch), smooth / brighten (whole \
regions when no types), adjust (delta: "a bit more" +0.15, "more" +0.25, "less" -0.25), \
only (restrict what is applied to regions/types), edit (names: {edits}; amount in [-1, 1], \
e.g. double_chin -1 removes it, smile +0.3 is a bit bigger), restore (old/blurry photos; \
fidelity 0..1, 1 = faithful).
Strength: omit for defaults; "a little" 0.3, "half" 0.5, "a lot" 0.8, "completely" 1.0.
Selectors: {{"by": "largest"|"smallest"|"most_visible", "count": N}}, {{"by": "nearest", \
"near": "nose", "count": 1}}, {{"by": "ids", "ids": [3]}}.
Never guess: put any part of the request you cannot express in "not_understood" \
(e.g. "add a hat") and leave it out of "operations".

JSON Schema:
{schema}"""


class _BackendError(Exception):
    """The backend gave no usable answer (reason in the message)."""


def extract_json(text: str) -> Any:
    """The first JSON object in ``text`` (tolerates code fences and chatter around it).

    Raises:
        InvalidInputError: no JSON object can be found or parsed.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("the model returned an empty answer")
    start = text.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        return json.loads(text[start:i + 1])
                    except ValueError:
                        break
        start = text.find("{", start + 1)
    raise InvalidInputError(f"the model's answer holds no JSON object: {text[:80]!r}")


class _LLMInterpreter:
    """Shared logic: prompt, validation, fallback. Subclasses implement ``_complete``."""

    name = "llm"

    def __init__(self) -> None:
        self._builtin = BuiltinInterpreter()
        self._examples: list[dict[str, str]] | None = None

    # -- prompt ---------------------------------------------------------------------------
    def messages(self, text: str, context: Plan | None = None) -> list[dict[str, str]]:
        """The chat messages sent for ``text`` (system prompt, examples, request)."""
        schema = json.dumps(Plan.json_schema(), separators=(",", ":"))
        msgs = [{"role": "system", "content": _SYSTEM.format(
            edits=", ".join(KNOWN_EDITS), schema=schema)}]
        if self._examples is None:
            ex = []
            for t in EXAMPLES:
                plan = self._builtin.interpret(t).plan
                d = plan.to_dict()
                d.pop("instruction", None)
                ex += [{"role": "user", "content": t},
                       {"role": "assistant", "content": json.dumps(d, separators=(",", ":"))}]
            self._examples = ex
        msgs += self._examples
        user = text
        if context is not None and context.operations:
            cur = json.dumps([o.to_dict() for o in context.operations], separators=(",", ":"))
            user = f"(Already applied: {cur})\n{text}"
        msgs.append({"role": "user", "content": user})
        return msgs

    def _complete(self, messages: list[dict[str, str]]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- Interpreter protocol ------------------------------------------------------------
    def interpret(self, text: str, *, context: Plan | None = None) -> Interpretation:
        """Ask the model; on any failure, the built-in interpreter's answer with a warning."""
        t0 = time.perf_counter()
        base = self._builtin.interpret(text)
        if base.commands and not base.plan.operations and not base.plan.not_understood:
            return base  # "undo", "save as x.jpg": no model needed
        try:
            content = self._complete(self.messages(text, context))
            data = extract_json(content)
            if isinstance(data, dict):
                data = {k: v for k, v in data.items() if k != "instruction"}
            plan = Plan.from_dict(data)
        except (_BackendError, InvalidInputError) as exc:
            reason = str(exc).replace("plan: ", "invalid plan: ", 1)
            return replace(
                base, source=f"{self._builtin.name} (fallback)",
                warnings=base.warnings + (f"LLM interpreter {self.name} failed ({reason}); "
                                          "used the built-in interpreter",),
                elapsed_ms=(time.perf_counter() - t0) * 1000.0)
        plan = Plan(plan.operations, plan.not_understood, instruction=text)
        return Interpretation(plan=plan, commands=base.commands, source=self.name,
                              elapsed_ms=(time.perf_counter() - t0) * 1000.0)


class OpenAIChatInterpreter(_LLMInterpreter):
    """Any OpenAI-compatible ``/chat/completions`` server (llama.cpp, Ollama, vLLM, OpenAI).

    Args:
        url: base URL including the API prefix, e.g. ``http://127.0.0.1:8080/v1``
            (``/chat/completions`` is appended unless already there).
        model: model name sent in the request.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        timeout_s: seconds to wait for the whole answer.
        schema_output: ask for schema-constrained output (``response_format``
            ``json_schema``); if the server rejects that (HTTP 400/422), the
            request is repeated once without it.
    """

    def __init__(self, url: str, *, model: str = "default", api_key: str | None = None,
                 timeout_s: float = 30.0, schema_output: bool = True) -> None:
        super().__init__()
        parsed = urllib.parse.urlparse(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInputError(f"LLM URL must be http(s)://host[:port]/path; got {url!r}")
        if not timeout_s or timeout_s <= 0:
            raise InvalidInputError(f"LLM timeout must be > 0 seconds; got {timeout_s!r}")
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.timeout_s = float(timeout_s)
        self.schema_output = schema_output
        self._api_key = api_key
        self.name = f"openai:{model}"

    def request_body(self, messages: list[dict[str, str]], *, constrained: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0,
                                "stream": False}
        if constrained:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "retouch_plan", "schema": Plan.json_schema()}}
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(self.endpoint, data=json.dumps(body).encode("utf-8"),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", "replace") if exc.fp else ""
            raise _HTTPStatusError(exc.code, detail) from None
        except TimeoutError:
            raise _BackendError(f"no answer from {self.endpoint} within "
                                f"{self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise _BackendError(f"no answer from {self.endpoint} within "
                                    f"{self.timeout_s:g} s") from None
            raise _BackendError(f"cannot reach {self.endpoint}: {reason}") from None
        except (OSError, ValueError) as exc:
            raise _BackendError(f"request to {self.endpoint} failed: {exc}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise _BackendError(f"{self.endpoint} did not answer JSON") from None

    def _complete(self, messages: list[dict[str, str]]) -> str:
        try:
            out = self._post(self.request_body(messages, constrained=self.schema_output))
        except _HTTPStatusError as exc:
            if self.schema_output and exc.code in (400, 422):
                try:
                    out = self._post(self.request_body(messages, constrained=False))
                except _HTTPStatusError as exc2:
                    raise _BackendError(str(exc2)) from None
            else:
                raise _BackendError(str(exc)) from None
        try:
            content = out["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _BackendError("the answer has no choices[0].message.content") from None
        if not isinstance(content, str):
            raise _BackendError("choices[0].message.content is not text")
        return content


class _HTTPStatusError(_BackendError):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"HTTP {code}" + (f": {detail.strip()}" if detail.strip() else ""))
        self.code = code


class LlamaCppInterpreter(_LLMInterpreter):
    """A local GGUF chat model through ``llama-cpp-python`` (``pip install 'retouch[llm]'``).

    The model file is loaded on the first request. Output is constrained by the
    Plan's JSON Schema (llama.cpp grammar).

    Args:
        model_path: the ``.gguf`` file.
        n_ctx: context length in tokens.
        n_threads: CPU threads (``None``: llama.cpp's default).

    Raises:
        InvalidInputError: the file does not exist.
        MissingDependencyError: ``llama-cpp-python`` is not installed.
    """

    name = "llama_cpp"

    def __init__(self, model_path: str, *, n_ctx: int = 8192, n_threads: int | None = None
                 ) -> None:
        super().__init__()
        if not os.path.isfile(model_path):
            raise InvalidInputError(f"{model_path}: GGUF model file not found")
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise MissingDependencyError(
                "LlamaCppInterpreter needs llama-cpp-python: pip install 'retouch[llm]'"
            ) from None
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llm: Any = None

    def _complete(self, messages: list[dict[str, str]]) -> str:
        import llama_cpp

        try:
            if self._llm is None:
                self._llm = llama_cpp.Llama(model_path=self.model_path, n_ctx=self.n_ctx,
                                            n_threads=self.n_threads, verbose=False)
            out = self._llm.create_chat_completion(
                messages=messages, temperature=0.0,
                response_format={"type": "json_object", "schema": Plan.json_schema()})
            return out["choices"][0]["message"]["content"]
        except Exception as exc:  # a local model can fail in many ways; fall back
            raise _BackendError(f"{type(exc).__name__}: {exc}") from None
