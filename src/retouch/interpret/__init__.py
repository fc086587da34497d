"""Instruction interpreters: free text -> :class:`~retouch.plan.Plan` (+ session commands).

Every interpreter implements :class:`Interpreter`. The built-in one
(:class:`~retouch.interpret.builtin.BuiltinInterpreter`) is offline,
deterministic and always available; it is the default. The LLM backends in
:mod:`retouch.interpret.llm` are opt-in, call the network only when the user
configured them, and fall back to the built-in interpreter with a warning when
their answer is missing or does not validate.

>>> from retouch.interpret import get_interpreter
>>> it = get_interpreter()
>>> it.interpret("remove the acne on my chin").plan.operations[0].regions
('chin',)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import InvalidInputError
from ..plan import Plan

#: Session commands an interpreter may return besides a plan.
COMMANDS: tuple[str, ...] = ("undo", "redo", "reset", "show", "save", "help", "quit")


@dataclass(frozen=True)
class Command:
    """A session command (not an image operation).

    Attributes:
        name: one of :data:`COMMANDS`.
        arg: the file path for ``save`` (as typed; ``None`` = the session's
            default output), else ``None``.
    """

    name: str
    arg: str | None = None

    def __post_init__(self) -> None:
        if self.name not in COMMANDS:
            raise InvalidInputError(f"unknown command {self.name!r}; expected one of "
                                    f"{', '.join(COMMANDS)}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **({"arg": self.arg} if self.arg is not None else {})}


@dataclass(frozen=True)
class Interpretation:
    """What an interpreter made of one request.

    Attributes:
        plan: the image operations (possibly empty), with ``plan.not_understood``
            listing the parts of the text that were not mapped to anything.
        commands: session commands, in the order given.
        warnings: notes for the user (ignored words, a backend fallback...).
        source: which interpreter produced the plan (``"builtin"``,
            ``"openai:<model>"``, ``"llama_cpp"``, or ``"builtin (fallback)"``).
        elapsed_ms: wall time of the interpretation.
    """

    plan: Plan
    commands: tuple[Command, ...] = ()
    warnings: tuple[str, ...] = ()
    source: str = "builtin"
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def understood(self) -> bool:
        """True when something actionable came out (operations or commands)."""
        return bool(self.plan.operations or self.commands)


@runtime_checkable
class Interpreter(Protocol):
    """Turns one request into an :class:`Interpretation`.

    ``context`` is the session's current plan (what is applied already), so an
    interpreter can resolve "a bit more" or "only the chin"; it may ignore it.
    """

    name: str

    def interpret(self, text: str, *, context: Plan | None = None) -> Interpretation: ...


#: Interpreter names accepted by :func:`get_interpreter` (``--interpreter``).
INTERPRETERS: tuple[str, ...] = ("builtin", "openai", "llama-cpp")


def get_interpreter(
    name: str | None = None, *, url: str | None = None, model: str | None = None,
    api_key: str | None = None, timeout_s: float | None = None,
    model_path: str | None = None,
) -> Interpreter:
    """Build an interpreter by name; LLM settings fall back to the environment.

    Args:
        name: ``"builtin"`` (default), ``"openai"`` (any OpenAI-compatible
            chat-completions server: llama.cpp's server, Ollama, vLLM...) or
            ``"llama-cpp"`` (a local GGUF model via ``llama-cpp-python``).
            ``None`` reads ``RETOUCH_INTERPRETER`` and defaults to ``"builtin"``.
        url: base URL of the server, e.g. ``http://127.0.0.1:8080/v1``
            (``RETOUCH_LLM_URL``).
        model: model name sent to the server (``RETOUCH_LLM_MODEL``).
        api_key: bearer token, if the server wants one (``RETOUCH_LLM_API_KEY``).
        timeout_s: request timeout in seconds (``RETOUCH_LLM_TIMEOUT``, default 30).
        model_path: GGUF file for ``"llama-cpp"`` (``RETOUCH_LLM_MODEL_PATH``).

    Nothing touches the network here; the LLM interpreters call their backend
    only in :meth:`Interpreter.interpret`.
    """
    env = os.environ
    name = (name or env.get("RETOUCH_INTERPRETER") or "builtin").strip().lower()
    if name == "builtin":
        from .builtin import BuiltinInterpreter

        return BuiltinInterpreter()
    timeout = timeout_s if timeout_s is not None else _env_float("RETOUCH_LLM_TIMEOUT", 30.0)
    if name == "openai":
        from .llm import OpenAIChatInterpreter

        url = url or env.get("RETOUCH_LLM_URL")
        if not url:
            raise InvalidInputError(
                "the openai interpreter needs a server URL: pass --llm-url "
                "(e.g. http://127.0.0.1:8080/v1) or set RETOUCH_LLM_URL")
        return OpenAIChatInterpreter(url, model=model or env.get("RETOUCH_LLM_MODEL") or "default",
                                     api_key=api_key or env.get("RETOUCH_LLM_API_KEY"),
                                     timeout_s=timeout)
    if name in ("llama-cpp", "llama_cpp", "llamacpp"):
        from .llm import LlamaCppInterpreter

        path = model_path or env.get("RETOUCH_LLM_MODEL_PATH")
        if not path:
            raise InvalidInputError(
                "the llama-cpp interpreter needs a GGUF model file: pass --llm-model-path "
                "or set RETOUCH_LLM_MODEL_PATH")
        return LlamaCppInterpreter(path)
    raise InvalidInputError(f"unknown interpreter {name!r}; expected one of "
                            f"{', '.join(INTERPRETERS)}")


def _env_float(key: str, default: float) -> float:
    v = os.environ.get(key)
    if v is None or not v.strip():
        return default
    try:
        return float(v)
    except ValueError:
        raise InvalidInputError(f"{key} must be a number of seconds; got {v!r}") from None


__all__ = ["COMMANDS", "INTERPRETERS", "Command", "Interpretation", "Interpreter",
           "get_interpreter"]
