"""REST API against a real uvicorn server on 127.0.0.1 (two worker processes)."""

from __future__ import annotations

import base64
import io
import json
import threading
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from _serving import running_server  # noqa: E402
from PIL import Image  # noqa: E402

MAX_UPLOAD = 1.5  # MiB
MAX_PIXELS = 1_500_000


@pytest.fixture(scope="module")
def base():
    with running_server("--workers", "2", "--max-upload-mb", str(MAX_UPLOAD),
                        "--max-pixels", str(MAX_PIXELS), "--session-ttl", "600") as url:
        yield url


@pytest.fixture(scope="module")
def hopper(faces_dir):
    return (faces_dir / "clean" / "mpl_grace_hopper.jpg").read_bytes()


@pytest.fixture(scope="module")
def sample_png():
    from retouch.sample import sample_face

    buf = io.BytesIO()
    Image.fromarray(sample_face()).save(buf, "PNG")
    return buf.getvalue()


def _decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_health_and_openapi(base):
    h = httpx.get(f"{base}/healthz").json()
    assert h["status"] == "ok" and h["workers"] == 2 and h["workers_alive"] == 2
    assert h["limits"]["max_pixels"] == MAX_PIXELS
    spec = httpx.get(f"{base}/openapi.json").json()
    for path in ("/v1/retouch", "/v1/sessions", "/v1/sessions/{sid}/messages",
                 "/v1/sessions/{sid}/image", "/v1/sessions/{sid}/undo", "/healthz"):
        assert path in spec["paths"], path
    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and "retouch" in page.text
    for asset in ("app.js", "app.css"):
        assert httpx.get(f"{base}/static/{asset}").status_code == 200
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no CDN links


def test_one_shot_retouch_json_and_image(base, hopper):
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("hopper.jpg", hopper)},
                   data={"strength": "0.8"}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    out = _decode(base64.b64decode(body["image"]["base64"]))
    assert out.format == "JPEG" and out.size == (512, 600)
    assert body["image"]["filename"] == "hopper_retouched.jpg"
    assert body["report"]["faces"][0]["retouched"]
    assert sum(v["removed"] for v in body["report"]["summary"].values()) > 0
    r2 = httpx.post(f"{base}/v1/retouch?response=image", files={"image": ("h.jpg", hopper)},
                    data={"instruction": "remove the dark spots"}, timeout=120)
    assert r2.status_code == 200 and r2.headers["content-type"] == "image/jpeg"
    assert json.loads(r2.headers["x-retouch-summary"])["faces"] == 1
    assert _decode(r2.content).size == (512, 600)


def test_content_decides_not_extension_and_limits(base, sample_png):
    # PNG bytes under a .txt name: decoded by content, written back as PNG.
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("face.txt", sample_png)}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["image"]["media_type"] == "image/png"
    # Not an image under a .jpg name.
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("fake.jpg", b"hello" * 100)})
    assert r.status_code == 422 and "not a recognized image" in r.json()["detail"]
    # Too many pixels: refused from the header (a 1300x1300 flat PNG is tiny on disk).
    buf = io.BytesIO()
    Image.new("RGB", (1300, 1300), (200, 150, 120)).save(buf, "PNG")
    assert len(buf.getvalue()) < 100_000
    r = httpx.post(f"{base}/v1/sessions", files={"image": ("big.png", buf.getvalue())})
    assert r.status_code == 422 and "too large" in r.json()["detail"]
    # Too many bytes: 413 before decoding.
    blob = np.random.default_rng(0).integers(0, 255, int(MAX_UPLOAD * 2**20) + 400_000,
                                              dtype=np.uint8).tobytes()
    r = httpx.post(f"{base}/v1/sessions", files={"image": ("huge.jpg", blob)}, timeout=60)
    assert r.status_code == 413 and "too large" in r.json()["detail"]
    # Bad option values.
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("f.png", sample_png)},
                   data={"strength": "3"})
    assert r.status_code == 422
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("f.png", sample_png)},
                   data={"plan": "{not json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


def test_session_conversation_undo_and_tools(base, sample_png, tmp_path):
    r = httpx.post(f"{base}/v1/sessions", files={"image": ("face.png", sample_png)}, timeout=120)
    assert r.status_code == 201, r.text
    sess = r.json()
    sid, st = sess["id"], sess["state"]
    assert len(base64.urlsafe_b64decode(sid + "==")) >= 16          # >= 128 random bits
    assert 0 < sess["expires_in_s"] <= 600
    assert st["info"]["format"] == "PNG" and st["info"]["width"] == 512
    assert st["found"] and st["reply"].startswith("I found")
    url = f"{base}/v1/sessions/{sid}"
    original = np.asarray(_decode(httpx.get(f"{url}/image").content))

    st = httpx.post(f"{url}/messages", json={"text": "remove the blemishes"}, timeout=60).json()
    assert st["kind"] == "edit" and st["changed"] and st["can_undo"] and st["pixels_changed"] > 0
    after = np.asarray(_decode(httpx.get(f"{url}/image").content))
    assert after.shape == original.shape and np.any(after != original)
    assert int(np.any(after != original, axis=2).sum()) == st["pixels_changed"]

    st = httpx.post(f"{url}/undo").json()
    assert st["kind"] == "undo" and st["pixels_changed"] == 0 and st["can_redo"]
    assert np.array_equal(np.asarray(_decode(httpx.get(f"{url}/image").content)), original)

    # A chat message must never write a file on the server.
    target = tmp_path / "x.png"
    st = httpx.post(f"{url}/messages", json={"text": f"save as {target}"}).json()
    assert "Download" in st["reply"] and not target.exists()

    # Heal brush on a found blemish treats exactly that one.
    spot = next(f for f in st["found"] if f["type"] in ("acne", "red_spot", "dark_spot"))
    st = httpx.post(f"{url}/heal", json={"x": spot["center"][0], "y": spot["center"][1],
                                         "radius": 3}).json()
    treated = {f["id"] for f in st["found"] if f["treated"]}
    assert spot["id"] in treated and st["pixels_changed"] > 0

    # Sliders: dark spots at 50 %, the healed spot stays healed.
    st = httpx.put(f"{url}/strengths", json={"dark_spot": 0.5, "acne": 0}).json()
    assert st["strengths"]["dark_spot"]["strength"] == 0.5
    assert spot["id"] in {f["id"] for f in st["found"] if f["treated"]}

    # Paint over another found spot.
    other = next((f for f in st["found"] if not f["treated"]), None)
    if other is not None:
        stroke = {"points": [other["center"]], "radius": 4}
        st = httpx.post(f"{url}/paint", json={"strokes": [stroke]}).json()
        assert other["id"] in {f["id"] for f in st["found"] if f["treated"]}

    # Download: original format and size, attachment.
    d = httpx.get(f"{url}/image", params={"download": "true"})
    assert d.headers["content-type"] == "image/png"
    assert 'filename="face_retouched.png"' in d.headers["content-disposition"]
    assert _decode(d.content).size == (512, 600)
    prev = httpx.get(f"{url}/image", params={"max_side": 200, "which": "original"})
    assert prev.headers["content-type"] == "image/jpeg" and max(_decode(prev.content).size) == 200

    assert httpx.delete(url).status_code == 204
    r = httpx.post(f"{url}/undo")
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    assert httpx.post(f"{base}/v1/sessions/not-a-session/messages",
                      json={"text": "undo"}).status_code == 404


def test_event_loop_stays_responsive_while_workers_compute(base, hopper):
    """Heavy requests run in worker processes: /healthz answers at once meanwhile."""
    # The portrait enlarged to ~1.4 MP (under the server's 1.5 MP limit), four requests
    # for two workers: the work lasts long enough to be polled during it.
    with Image.open(io.BytesIO(hopper)) as im:
        s = (1_400_000 / (im.width * im.height)) ** 0.5
        big = im.convert("RGB").resize((int(im.width * s), int(im.height * s)))
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    heavy_jpeg = buf.getvalue()
    done = []

    def heavy():
        r = httpx.post(f"{base}/v1/retouch", files={"image": ("h.jpg", heavy_jpeg)},
                       timeout=120)
        done.append(r.status_code)

    threads = [threading.Thread(target=heavy) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    lat = []
    while any(t.is_alive() for t in threads):
        t0 = time.perf_counter()
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        lat.append(time.perf_counter() - t0)
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert done == [200] * 4
    assert lat, "the requests finished before /healthz could be polled"
    assert max(lat) < 1.0, lat


def test_one_shot_closeup(base):
    from test_closeup import skin_patch

    from retouch.synth import SYNTH_TYPES, plant_blemishes

    img = skin_patch()
    p = plant_blemishes(img, np.ones(img.shape[:2], bool), face_size_px=300.0, rng=3,
                        counts={"acne": 3, "red_spot": 2, "dark_spot": 3})
    buf = io.BytesIO()
    Image.fromarray(p.image).save(buf, "PNG")
    png = buf.getvalue()
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("chin.png", png)},
                   data={"closeup": "true", "face_size": "300", "only": ",".join(SYNTH_TYPES)},
                   timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["report"]["closeup"]["face_size_px"] == 300.0
    out = np.asarray(_decode(base64.b64decode(body["image"]["base64"])).convert("RGB"))
    changed = np.any(out != p.image, axis=2)
    assert changed.any() and (changed & p.union_mask).sum() > 0.5 * changed.sum()
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("chin.png", png)},
                   data={"face_size": "300"})
    assert r.status_code == 422 and "closeup" in r.json()["detail"]
    r = httpx.post(f"{base}/v1/retouch", files={"image": ("chin.png", png)},
                   data={"closeup": "true", "instruction": "remove the acne"})
    assert r.status_code == 422 and "closeup" in r.json()["detail"]
