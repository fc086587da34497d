"""Server building blocks without a server: config, session store expiry, tools -> Plans."""

from __future__ import annotations

import time

import numpy as np
import pytest

from retouch.errors import InvalidInputError
from retouch.plan import Operation, Plan, Selector

pytest.importorskip("fastapi")

from retouch.server.config import ServerConfig  # noqa: E402
from retouch.server.store import SessionMeta, SessionStore  # noqa: E402
from retouch.server.tools import paint_mask, strengths_plan  # noqa: E402
from retouch.server.worker import SessionNotFoundError  # noqa: E402


def test_config_defaults_bind_loopback_and_validate():
    cfg = ServerConfig()
    assert cfg.host == "127.0.0.1"
    with pytest.raises(InvalidInputError, match="workers"):
        ServerConfig(workers=0)
    with pytest.raises(InvalidInputError, match="port"):
        ServerConfig(port=70000)
    with pytest.raises(InvalidInputError, match="session_ttl_s"):
        ServerConfig(session_ttl_s=0)


async def _store_roundtrip() -> None:
    store = SessionStore(ttl_s=0.2, max_sessions=4)
    ids = {store.new_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) >= 32 for i in ids)  # 24 random bytes each
    a, b = SessionMeta("a", 0, 0, "a.jpg"), SessionMeta("b", 1, 0, "b.jpg")
    store.add(a)
    store.add(b)
    assert store.get("a", [0, 0]) is a
    with pytest.raises(SessionNotFoundError):
        store.get("b", [0, 1])  # worker 1 was replaced: its sessions are gone
    time.sleep(0.25)
    assert [m.sid for m in store.expired()] == ["a"]
    with pytest.raises(SessionNotFoundError):
        store.get("a", [0, 0])
    assert len(store) == 0


def test_session_store_ids_and_expiry():
    import asyncio

    asyncio.run(_store_roundtrip())


def test_paint_mask_and_errors():
    m = paint_mask((100, 200), [{"points": [[10, 10], [190, 10]], "radius": 3},
                                {"points": [[50, 80]], "radius": 5}])
    assert m[10, 100] and m[12, 10] and not m[20, 100] and m[80, 50] and not m[80, 60]
    with pytest.raises(InvalidInputError, match="radius"):
        paint_mask((10, 10), [{"points": [[1, 1]], "radius": -1}])
    with pytest.raises(InvalidInputError, match="empty"):
        paint_mask((10, 10), [])


def test_strengths_plan_keeps_hand_picked_spots_last():
    picked = Operation("remove", select=Selector("ids", ids=(3,)), strength=1.0)
    state = Plan((Operation("remove", types=("acne",)), picked))
    plan = strengths_plan({"acne": 0.0, "wrinkle": 0.4}, state)
    assert [o.types for o in plan.operations[:2]] == [("acne",), ("wrinkle",)]
    assert plan.operations[-1] == picked
    with pytest.raises(InvalidInputError, match="unknown imperfection type"):
        strengths_plan({"pimples": 1.0}, state)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        strengths_plan({"acne": 1.5}, state)


def test_heal_and_paint_on_a_real_session():
    """The heal brush heals a found spot by id, and an unfound point as a new spot."""
    from retouch.sample import sample_face
    from retouch.server import worker as wk

    wk._SESSIONS.clear()
    import tempfile
    from pathlib import Path

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "u.png"
        Image.fromarray(sample_face()).save(p)
        st = wk.open_session("s1", str(p), "face.png", 10_000_000)
    assert not p.exists()  # the upload is deleted once decoded
    spot = next(f for f in st.found if f["type"] in ("acne", "red_spot", "dark_spot"))
    st = wk.heal("s1", spot["center"][0], spot["center"][1], 2.0)
    assert st.kind == "edit" and {f["id"] for f in st.found if f["treated"]} == {spot["id"]}
    n = len(st.found)
    # Cheek point with nothing found near: becomes a new, healed spot.
    live = wk._SESSIONS["s1"]
    fa = live.session.analysis.analyses[0]
    x, y, w, h = fa.face.bbox_xywh
    taken = np.array([f["center"] for f in st.found])
    cands = [(x + w * fx, y + h * fy) for fx in (0.25, 0.3, 0.7, 0.75) for fy in (0.6, 0.7)]
    px, py = max(cands, key=lambda c: np.min(np.hypot(*(taken - np.array(c)).T)))
    st2 = wk.heal("s1", px, py, 3.0)
    assert st2.kind == "edit", st2.reply
    assert len(st2.found) == n + 1 and st2.found[-1]["treated"]
    assert st2.pixels_changed > st.pixels_changed
    st3 = wk.undo("s1")
    assert st3.pixels_changed == st.pixels_changed
    assert wk.close_session("s1") and not wk.close_session("s1")


def test_body_limit_without_content_length_is_cut_at_the_limit():
    """A chunked upload (no Content-Length) is counted as it arrives and answered 413."""
    import asyncio

    from retouch.server.limits import BodyLimitMiddleware

    reached = []

    async def app(scope, receive, send):
        while True:
            msg = await receive()
            reached.append(len(msg.get("body", b"")))
            if not msg.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call(chunks: list[bytes]) -> list[dict]:
        it = iter(chunks)
        sent: list[dict] = []

        async def receive():
            c = next(it)
            return {"type": "http.request", "body": c, "more_body": True}

        async def send(msg):
            sent.append(msg)

        scope = {"type": "http", "method": "POST", "headers": []}
        await BodyLimitMiddleware(app, max_bytes=1000)(scope, receive, send)
        return sent

    sent = asyncio.run(call([b"x" * 400] * 10))
    assert sent[0]["status"] == 413 and sum(reached) <= 1200
    declared = {"type": "http", "method": "POST", "headers": [(b"content-length", b"5000")]}

    async def never():
        raise AssertionError("the body must not be read")

    out: list[dict] = []

    async def send2(msg):
        out.append(msg)

    asyncio.run(BodyLimitMiddleware(app, max_bytes=1000)(declared, never, send2))
    assert out[0]["status"] == 413


def test_found_lists_regions_cut_out_of_an_area(faces_dir):
    """A reddened area treated 'except on my nose' is reported with the cut region."""
    import shutil
    import tempfile
    from pathlib import Path

    from retouch.server import worker as wk
    from retouch.server.schemas import FoundOut

    wk._SESSIONS.clear()
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "u.jpg"
        shutil.copy(faces_dir / "blemish" / "localretouch_acne_dark_bg.jpg", p)
        st = wk.open_session("s2", str(p), "acne.jpg", 50_000_000)
    assert not any("cut" in f for f in st.found)
    st = wk.ask("s2", "calm down the redness except on my nose")
    cut = [f for f in st.found if f.get("cut")]
    assert cut and all(f["type"] == "redness" and f["treated"] and f["cut"] == ["nose"]
                       for f in cut)
    assert all(FoundOut(**f).cut == f.get("cut", []) for f in st.found)
    st = wk.ask("s2", "calm down the redness")  # the exclusion is gone: so is the cut
    assert not any(f.get("cut") for f in st.found)
    assert wk.close_session("s2")
