"""Issue 8 for ``retouch serve`` (a real uvicorn on 127.0.0.1): path traversal, session
ids, oversized uploads refused before they are read, and workers that raise or die."""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from _hostile import base_images, corpus, encode, iter_kinds  # noqa: E402
from _serving import PIDS, running_server  # noqa: E402
from PIL import Image  # noqa: E402

pytestmark = pytest.mark.fuzz

MAX_UPLOAD_MB = 1.0
LIMIT = int(MAX_UPLOAD_MB * 1024 * 1024) + 256 * 1024  # + limits.ENVELOPE_BYTES


@pytest.fixture(scope="module")
def server():
    with running_server("--workers", "2", "--max-upload-mb", str(MAX_UPLOAD_MB),
                        "--session-ttl", "600") as url:
        yield url


@pytest.fixture(scope="module")
def photo() -> bytes:
    return encode(base_images(320)[0], "JPEG", quality=90)


def _children(pid: int) -> list[int]:
    """Worker processes of the server (spawned children running ``multiprocessing``)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmd:
            out.append(int(d.name))
    return out


def _upload(base: str, data: bytes, name: str = "photo.jpg", path: str = "/v1/sessions",
            timeout: float = 60) -> httpx.Response:
    return httpx.post(base + path, files={"image": (name, data, "image/jpeg")}, timeout=timeout)


def _raw_path(base: str, method: str, path: str) -> httpx.Response:
    """A request for ``path`` exactly as written (no client-side ``..`` resolution)."""
    with httpx.Client(timeout=30) as c:
        req = c.build_request(method, base + "/")
        req.url = req.url.copy_with(raw_path=path.encode())
        return c.send(req)


def test_session_ids_are_long_random_and_unique(server, photo):
    ids = []
    for _ in range(4):
        r = _upload(server, photo)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert len(set(ids)) == len(ids)
    for sid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", sid), sid
        raw = base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4))
        assert len(raw) * 8 >= 128, sid
    for sid in ids:
        assert httpx.delete(f"{server}/v1/sessions/{sid}").status_code == 204


@pytest.mark.parametrize("sid", [
    "..", "../..", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "..%5C..%5Cwin.ini",
    "%00", "a" * 5000, "%2E%2E", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_traversal_in_session_ids_is_refused(server, sid):
    for method, tail in (("GET", ""), ("GET", "/image"), ("DELETE", ""), ("POST", "/undo")):
        r = _raw_path(server, method, f"/v1/sessions/{sid}{tail}")
        if r.status_code == 200:  # literal ``..`` segments resolve to the page itself
            assert "/" in sid and r.headers["content-type"].startswith("text/html"), sid
            assert r.content.startswith(b"<!doctype html>")
        else:
            assert r.status_code in (404, 405), (method, sid, r.status_code, r.text[:200])
        assert b"root:" not in r.content


def test_traversal_in_static_paths_is_refused(server):
    for path in ("/static/../../../../etc/passwd", "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                 "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2F..%2Fetc%2Fpasswd"):
        r = _raw_path(server, "GET", path)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert b"root:" not in r.content


def test_traversal_in_upload_filenames_writes_nothing_outside(server, photo, tmp_path):
    names = [f"../../../../../../../..{tmp_path}/pwned1.jpg", f"{tmp_path}/pwned2.jpg",
             "..\\..\\..\\pwned3.jpg", f"../../{tmp_path.name}/pwned4.jpg", "../" * 30,
             "a/../../b\x00c.jpg", ".", ""]
    for name in names:
        r = _upload(server, photo, name)
        assert r.status_code in (201, 422), (name, r.status_code, r.text)
        if r.status_code == 201:
            sid = r.json()["id"]
            fname = r.json()["state"]["info"]["filename"]
            assert "/" not in fname and "\\" not in fname and "\x00" not in fname, fname
            img = httpx.get(f"{server}/v1/sessions/{sid}/image", params={"download": "true"})
            disp = img.headers["content-disposition"]
            assert "/" not in disp and "\\" not in disp
            httpx.delete(f"{server}/v1/sessions/{sid}")
        r = _upload(server, photo, name, "/v1/retouch?response=image")
        assert r.status_code in (200, 422), (name, r.status_code)
        if r.status_code == 200:
            disp = r.headers["content-disposition"]
            assert "/" not in disp and "\\" not in disp
    assert list(tmp_path.iterdir()) == []
    assert not Path("/pwned3.jpg").exists()


def _raw_post(base: str, headers: list[str], body_chunks, read_timeout: float = 20) -> tuple[
        int, float, int]:
    """Send a request by hand; returns (status, seconds to the answer, bytes sent)."""
    host, port = base.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=read_timeout)
    t0 = time.monotonic()
    sent = 0
    try:
        s.sendall(("\r\n".join(["POST /v1/retouch HTTP/1.1", f"Host: {host}", *headers]) +
                   "\r\n\r\n").encode())
        for chunk in body_chunks:
            try:
                s.sendall(chunk)
                sent += len(chunk)
            except OSError:  # the server answered and closed: stop sending
                break
        s.settimeout(read_timeout)
        head = b""
        while b"\r\n" not in head:
            got = s.recv(4096)
            if not got:
                break
            head += got
        status = int(head.split(b" ", 2)[1])
        return status, time.monotonic() - t0, sent
    finally:
        s.close()


def test_declared_oversized_upload_is_refused_before_reading(server):
    # 100 MB declared, 64 KiB sent: the answer comes without the rest of the body.
    status, secs, sent = _raw_post(server, [
        "Content-Type: multipart/form-data; boundary=xyz", "Content-Length: 100000000"],
        [b"--xyz\r\n" + b"x" * 65536])
    assert status == 413 and sent < 100_000 and secs < 10


def test_chunked_oversized_upload_is_cut_at_the_limit(server):
    def chunks():
        head = (b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n")
        yield b"%x\r\n%s\r\n" % (len(head), head)
        block = b"\xff" * 65536
        for _ in range(20 * LIMIT // len(block)):  # 20x the limit, if the server read it all
            yield b"%x\r\n%s\r\n" % (len(block), block)
        yield b"0\r\n\r\n"

    status, secs, sent = _raw_post(server, [
        "Content-Type: multipart/form-data; boundary=xyz", "Transfer-Encoding: chunked"],
        chunks())
    assert status == 413
    assert sent < 10 * LIMIT  # refused early, far from the whole body
    assert httpx.get(server + "/healthz").status_code == 200


def test_failing_requests_leave_the_server_serving(server, photo):
    bad = [b"", b"not an image", photo[: len(photo) // 3], b"\x89PNG\r\n\x1a\n" + b"\0" * 100]
    for data in bad:
        r = _upload(server, data, path="/v1/retouch")
        assert r.status_code == 422, (r.status_code, r.text[:200])
        assert set(r.json()) == {"detail"} and "\n" not in r.json()["detail"]
    r = httpx.post(server + "/v1/retouch", files={"image": ("p.jpg", photo)},
                   data={"plan": '{"edits": [{"op": "nonsense"}]}'}, timeout=60)
    assert r.status_code == 422, r.text
    assert _upload(server, photo, path="/v1/retouch").status_code == 200


def test_a_worker_killed_mid_request_leaves_the_server_serving(server, photo):
    big = encode(Image.open(io.BytesIO(photo)).resize((1400, 1600)), "JPEG", quality=80)
    assert len(big) < MAX_UPLOAD_MB * 1024 * 1024
    sid = _upload(server, photo).json()["id"]
    workers = _children(PIDS[server])
    assert len(workers) == 2, workers
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        _upload(server, big, path="/v1/retouch", timeout=120).status_code)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(150)
    # Each in-flight request ends: done before the kill, or a clean 500 ("worker died").
    assert len(results) == 4 and set(results) <= {200, 500}, results
    assert 500 in results
    # The session lived in a killed worker: it is gone (404), not an error page.
    assert httpx.get(f"{server}/v1/sessions/{sid}").status_code == 404
    # Replacement workers serve new requests.
    for _ in range(3):
        r = _upload(server, photo, path="/v1/retouch")
        assert r.status_code == 200, r.text
    r = _upload(server, photo)
    assert r.status_code == 201
    h = httpx.get(server + "/healthz").json()
    assert h["workers"] == 2
    new = _children(PIDS[server])
    assert not set(new) & set(workers)


def test_concurrent_uploads_get_200_or_a_clean_503(server, photo):
    """20 uploads at once (2 workers, 8 waiting each): every answer is a result or a
    clean "busy" (JSON detail, Retry-After); the server serves afterwards."""
    answers: list[httpx.Response] = []
    go = threading.Event()

    def one() -> None:
        go.wait()
        answers.append(_upload(server, photo, path="/v1/retouch?response=image", timeout=120))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(150)
    assert len(answers) == 20
    for r in answers:
        assert r.status_code in (200, 429, 503), (r.status_code, r.text[:200])
        if r.status_code != 200:
            assert set(r.json()) == {"detail"} and "retry-after" in r.headers
    assert sum(r.status_code == 200 for r in answers) >= 2
    assert _upload(server, photo, path="/v1/retouch").status_code == 200


def test_hostile_corpus_through_the_upload_route(server):
    """Two files of every hostile kind (tests/_hostile.py) sent to ``/v1/retouch``.

    Every answer is a clean one: 200 with an image, or a 4xx/503 with a one-line
    JSON ``detail`` (never a 500 or a dropped connection); files the corpus marks
    as valid (``expect="ok"``, under the upload limit) must succeed, those marked
    invalid must be refused; the server stays healthy throughout.
    """
    cases = [c for _, group in iter_kinds(corpus(seed=3, per_kind=1)) for c in group[:2]]
    assert len(cases) >= 20
    outcomes: dict[int, int] = {}
    for c in cases:
        r = _upload(server, c.data, name=c.filename, path="/v1/retouch", timeout=90)
        outcomes[r.status_code] = outcomes.get(r.status_code, 0) + 1
        assert r.status_code == 200 or 400 <= r.status_code < 500 or r.status_code == 503, \
            (c.id, r.status_code, r.text[:200])
        if r.status_code != 200:
            detail = r.json()["detail"]
            assert isinstance(detail, str) and "\n" not in detail, (c.id, detail)
        elif c.expect == "error":
            raise AssertionError(f"{c.id}: an invalid file was accepted")
        if c.expect == "ok" and len(c.data) < MAX_UPLOAD_MB * 1024 * 1024:
            assert r.status_code == 200, (c.id, r.status_code, r.text[:200])
    assert httpx.get(server + "/healthz").status_code == 200
    assert outcomes.get(200, 0) > 0 and sum(outcomes.values()) == len(cases)
