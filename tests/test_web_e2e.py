"""The page in real headless Chromium (Debian's package, driven by Playwright).

Uploads a shared photo, sends an instruction, moves the before/after and a
strength slider, heals a spot, downloads the result and saves a screenshot
(the path is printed; set RETOUCH_ARTIFACTS to keep it somewhere else).
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (bash scripts/setup.sh --dev)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (bash scripts/setup.sh --dev installs it)",
                allow_module_level=True)

from _serving import running_server  # noqa: E402
from PIL import Image  # noqa: E402

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def base():
    with running_server("--workers", "1") as url:
        yield url


@pytest.fixture()
def page():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        yield pg
        browser.close()
        assert not errors, errors


def _artifacts(tmp_path: Path) -> Path:
    d = Path(os.environ.get("RETOUCH_ARTIFACTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_upload_instruct_compare_heal_download(base, page, faces_dir, tmp_path):
    photo = faces_dir / "clean" / "mpl_grace_hopper.jpg"
    page.goto(base + "/")
    assert page.locator("#dropzone").is_visible()
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#chatlog .msg.bot", timeout=60_000)
    assert page.locator("#chatlog .msg.bot").first.inner_text().startswith("I found")
    assert "512×600" in page.locator("#fileinfo").inner_text()
    assert page.locator("#overlay rect").count() == 1                  # the face
    n_spots = page.locator("#overlay circle.spot").count()
    assert n_spots > 0

    # Chat: an instruction and its reply.
    page.fill("#chatinput", "remove the blemishes")
    page.click("#send")
    page.wait_for_function("document.querySelectorAll('#chatlog .msg.bot').length >= 2",
                           timeout=60_000)
    reply = page.locator("#chatlog .msg.bot").nth(1).inner_text()
    assert reply.startswith("Removed"), reply
    assert page.locator("#undo").is_enabled()
    assert page.locator("#overlay circle.spot[stroke-dasharray]").count() < n_spots

    # Before/after slider moves the divider and the clip.
    page.locator("#compare").fill("20")
    assert page.locator("#divider").evaluate("e => e.style.left") == "20%"
    assert "80%" in page.locator("#before").evaluate("e => e.style.clipPath")

    # A strength slider: wrinkles at 50 %.
    slider = page.locator('#sliders input[data-type="wrinkle"]')
    if slider.count():
        n_bot = page.locator("#chatlog .msg.bot").count()
        slider.fill("50")  # fires input and change
        page.wait_for_function(f"document.querySelectorAll('#chatlog .msg.bot').length > {n_bot}",
                               timeout=60_000)
        assert "50%" in page.locator("#chatlog .msg.bot").last.inner_text()

    # Heal brush: click on the cheek.
    page.click('.seg[data-tool="heal"]')
    box = page.locator("#after").bounding_box()
    n_bot = page.locator("#chatlog .msg.bot").count()
    page.mouse.click(box["x"] + box["width"] * 215 / 512, box["y"] + box["height"] * 290 / 600)
    page.wait_for_function(f"document.querySelectorAll('#chatlog .msg.bot').length > {n_bot}",
                           timeout=60_000)
    assert page.locator("#chatlog .msg.bot").last.inner_text().startswith(("Healed", "Removed"))

    page.click('.seg[data-tool="view"]')
    page.locator("#compare").fill("50")
    shot = _artifacts(tmp_path) / "retouch-web.png"
    page.screenshot(path=str(shot))
    print(f"\nscreenshot: {shot}")
    assert shot.stat().st_size > 10_000

    # Download: the original format and size.
    with page.expect_download() as dl:
        page.click("#download")
    target = tmp_path / dl.value.suggested_filename
    dl.value.save_as(target)
    assert target.name == "mpl_grace_hopper_retouched.jpg"
    im = Image.open(io.BytesIO(target.read_bytes()))
    assert im.format == "JPEG" and im.size == (512, 600)
