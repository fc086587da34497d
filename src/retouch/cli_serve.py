"""``retouch serve``: the web page and REST API on http://127.0.0.1:8000/.

Binds 127.0.0.1 (this machine only) unless ``--host`` says otherwise; there is
no authentication, so expose it only behind something that provides it. See
``docs/serve.md``. Exit codes as for ``retouch`` (``4``: FastAPI/uvicorn missing).
"""

from __future__ import annotations

import argparse
import sys

from .cli_common import guarded
from .errors import MissingDependencyError


def _build_parser() -> argparse.ArgumentParser:
    from .server.config import ServerConfig

    d = ServerConfig()
    p = argparse.ArgumentParser(
        prog="retouch serve",
        description="Serve the retouch web page and REST API (OpenAPI at /openapi.json).")
    p.add_argument("--host", default=d.host, help=f"interface to bind (default {d.host}: this "
                   "machine only; 0.0.0.0 exposes it to your network, without authentication)")
    p.add_argument("--port", type=int, default=d.port, help=f"TCP port (default {d.port})")
    p.add_argument("-w", "--workers", type=int, default=d.workers,
                   help=f"worker processes (default {d.workers}; ~0.3 GB each plus sessions)")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / 2**20,
                   help="largest upload in MiB (default %(default)g)")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels,
                   help="largest width*height (default %(default)d), checked before decoding")
    p.add_argument("--session-ttl", type=float, default=d.session_ttl_s, metavar="SECONDS",
                   help="close sessions idle this long (default %(default)g)")
    p.add_argument("--max-sessions", type=int, default=d.max_sessions,
                   help="open sessions at most (default %(default)d)")
    p.add_argument("--sensitivity", type=float, default=d.sensitivity,
                   help="0..1, how faint a spot may be and still be found (default 0.5)")
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; returns the exit code."""
    args = _build_parser().parse_args(argv)
    return guarded(lambda: _serve(args), "serve")


def _serve(args: argparse.Namespace) -> int:
    from .server import ServerConfig, create_app

    cfg = ServerConfig(host=args.host, port=args.port, workers=args.workers,
                       max_upload_bytes=int(args.max_upload_mb * 2**20),
                       max_pixels=args.max_pixels, session_ttl_s=args.session_ttl,
                       max_sessions=args.max_sessions, sensitivity=args.sensitivity)
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("retouch serve needs uvicorn: pip install "
                                     "'retouch[serve]'") from None
    app = create_app(cfg)
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"retouch serve: warning: listening on {cfg.host}: anyone who can reach this "
              "port can use the server (there is no authentication)", file=sys.stderr)
    shown = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    print(f"retouch serve: http://{shown}:{cfg.port}/  (API /v1, OpenAPI /openapi.json; "
          "Ctrl+C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=args.log_level)
    return 0
