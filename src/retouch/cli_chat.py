"""``retouch chat INPUT``: an interactive retouching session in the terminal.

Each line you type is one request ("remove the big pimple on the left cheek",
"a bit more", "undo that", "show me what you found", "only the chin",
"save as out.jpg", "quit"); each answer is one or two sentences. Lines can also
be piped in (``printf 'remove the acne\\nsave as out.jpg\\n' | retouch chat in.jpg``).

Exit codes as for ``retouch`` (see :mod:`retouch.cli`); a request that cannot be
carried out is answered in the conversation and does not end it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from .cli_common import OneLineParser, check_destinations, check_output_dir, guarded
from .errors import InvalidInputError

#: Longest request line read from stdin (bytes).
MAX_REQUEST_BYTES = 64 * 1024

#: Interpreter flags shared by ``retouch -i`` and ``retouch chat``.
_LLM_HELP = ("LLM settings are read from the flags, else from RETOUCH_LLM_URL, "
             "RETOUCH_LLM_MODEL, RETOUCH_LLM_TIMEOUT, RETOUCH_LLM_MODEL_PATH; an API key "
             "only from RETOUCH_LLM_API_KEY (never a flag, so it stays out of shell history).")


def add_interpreter_args(p: argparse.ArgumentParser) -> None:
    """Add ``--interpreter`` and the LLM backend flags to a parser."""
    g = p.add_argument_group("instruction interpreter", _LLM_HELP)
    g.add_argument("--interpreter", choices=("builtin", "openai", "llama-cpp"), default=None,
                   help="how instructions are read: builtin (default; offline), openai (an "
                   "OpenAI-compatible chat server: llama.cpp server, Ollama, vLLM), or "
                   "llama-cpp (a local GGUF model; pip install llama-cpp-python)")
    g.add_argument("--llm-url", metavar="URL",
                   help="chat server base URL, e.g. http://127.0.0.1:8080/v1")
    g.add_argument("--llm-model", metavar="NAME", help="model name sent to the server")
    g.add_argument("--llm-timeout", metavar="SECONDS", type=float,
                   help="request timeout (default 30)")
    g.add_argument("--llm-model-path", metavar="GGUF", help="GGUF file for --interpreter llama-cpp")


def interpreter_from_args(args: argparse.Namespace):  # noqa: ANN201 - Interpreter
    """Build the interpreter the flags ask for (nothing touches the network here)."""
    from .interpret import get_interpreter

    if args.llm_timeout is not None and args.llm_timeout <= 0:
        raise InvalidInputError(f"--llm-timeout must be > 0; got {args.llm_timeout}")
    return get_interpreter(args.interpreter, url=args.llm_url, model=args.llm_model,
                           timeout_s=args.llm_timeout, model_path=args.llm_model_path)


def _build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="retouch chat",
        description="Retouch a photo by talking to it: one request per line; "
        "'help' for examples, 'quit' or end of input to leave.")
    p.add_argument("input", help="input photo, or 'sample' for a generated sample face")
    p.add_argument("-o", "--output", help="default file for 'save' (also written when the "
                   "session ends with unsaved changes)")
    p.add_argument("--preview", metavar="PATH",
                   help="preview written after every change (default: "
                   "<input name>.preview.jpg in the current folder)")
    p.add_argument("--no-preview", action="store_true", help="write no preview files")
    p.add_argument("--sensitivity", type=float, default=0.5,
                   help="0..1, how faint a spot may be and still be found (default 0.5)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality for 'save'")
    p.add_argument("--max-pixels", type=int, default=200_000_000,
                   help="refuse images with more pixels than this")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the replies")
    add_interpreter_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``retouch chat``; returns the exit code."""
    args = _build_parser().parse_args(argv)
    return guarded(lambda: _chat(args), str(args.input))


def _chat(args: argparse.Namespace) -> int:
    from .imageio import load_image
    from .pipeline import RetouchPipeline
    from .session import Session

    if not 0.0 <= args.sensitivity <= 1.0:
        raise InvalidInputError(f"--sensitivity must be in [0, 1]; got {args.sensitivity}")
    interpreter = interpreter_from_args(args)
    if args.output:
        check_output_dir(Path(args.output), "output")
    is_sample = args.input == "sample" and not Path("sample").exists()
    stem = "sample" if is_sample else Path(args.input).stem
    preview = None if args.no_preview else Path(args.preview or f"{stem}.preview.jpg")
    dests = {"output": Path(args.output)} if args.output else {}
    if preview is not None:
        check_output_dir(preview, "preview")
        dests["preview"] = preview
        dests["annotated preview"] = preview.with_name(preview.stem + "_found.png")
    check_destinations(None if is_sample else args.input, dests)
    if is_sample:
        from .sample import sample_face

        data = load_image(sample_face())
    else:
        data = load_image(args.input, max_pixels=args.max_pixels)
    session = Session(data, interpreter=interpreter,
                      pipeline=RetouchPipeline(sensitivity=args.sensitivity),
                      preview=preview, output=args.output, quality=args.quality)
    tty = sys.stdin.isatty()
    if not args.quiet:
        intro = session.show().text
        print(f"{intro} Tell me what to retouch ('help' for examples, 'quit' to leave).")
    saved_state = session.state
    while True:
        if tty:
            print("retouch> ", end="", flush=True)
        line = _read_request(sys.stdin)
        if line is None:
            break
        text = line.strip()
        if not text:
            continue
        if not tty and not args.quiet:
            print(f"> {text}")
        reply = session.ask(text)
        print(reply.text, flush=True)
        if reply.saved is not None:
            saved_state = session.state
        if reply.kind == "quit" or text.lower() in ("quit", "exit"):
            break
    if session.state.operations != saved_state.operations:
        if args.output:
            path = session.save()
            if not args.quiet:
                print(f"Saved {path}.")
        elif not args.quiet:
            print("retouch: warning: the last changes were not saved (say 'save as out.jpg').",
                  file=sys.stderr)
    return 0


def _read_request(stream: TextIO) -> str | None:
    """One request line from ``stream`` (``None`` at the end of input).

    Bytes are decoded as UTF-8 with replacement (a request is never refused for
    its encoding); a line longer than :data:`MAX_REQUEST_BYTES` ends the
    session with an error instead of growing without bound.
    """
    raw = getattr(stream, "buffer", None)
    if raw is not None:
        data = raw.readline(MAX_REQUEST_BYTES + 1)
        text = data.decode("utf-8", "replace")
    else:
        data = text = stream.readline(MAX_REQUEST_BYTES + 1)
    if not data:
        return None
    if len(data) > MAX_REQUEST_BYTES:
        raise InvalidInputError(f"a request line is longer than {MAX_REQUEST_BYTES:,} bytes")
    return text
