"""``retouch serve``: the web page and the REST API (FastAPI + uvicorn).

>>> from retouch.server import ServerConfig, create_app
>>> app = create_app(ServerConfig(workers=2))   # doctest: +SKIP

Modules, one job each: :mod:`.config` (limits and settings), :mod:`.app` (the
application factory), :mod:`.routes` (the REST API), :mod:`.schemas` (bodies
and OpenAPI), :mod:`.pool` (worker processes), :mod:`.worker` (what runs in
them: the sessions), :mod:`.store` (session ids and expiry), :mod:`.limits`
(request-size limit), :mod:`.tools` (heal brush, paint, sliders -> Plans),
``static/`` (the page). Needs ``pip install 'retouch[serve]'``.
"""

from __future__ import annotations

from .config import ServerConfig


def create_app(config: ServerConfig | None = None):  # noqa: ANN201 - FastAPI
    """Build the FastAPI app (see :func:`retouch.server.app.create_app`)."""
    try:
        from .app import create_app as _create
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(f"retouch serve needs FastAPI and uvicorn ({exc.name} is "
                                     "missing): pip install 'retouch[serve]'") from None
    return _create(config)


__all__ = ["ServerConfig", "create_app"]
