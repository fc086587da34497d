"""Regression tests for the bugs the reliability suites found (docs/reliability.md)."""

from __future__ import annotations

import io
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from _harness import run_cli, sha256
from PIL import Image

from retouch import Plan, RetouchError, Session, retouch
from retouch.errors import InvalidInputError, OutputError
from retouch.imageio import _clean_dpi, is_same_file, load_image, save_image

pytestmark = pytest.mark.fuzz


def _png(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("retouch: error: "), lines
    return lines[0]


def test_success_prints_nothing_on_stderr(tmp_path: Path) -> None:
    """MediaPipe/TFLite log lines went to stderr on every successful run."""
    from _hostile import base_images

    inp = tmp_path / "in.png"
    Image.fromarray(base_images()[0]).save(inp)
    run = run_cli([str(inp), "-o", str(tmp_path / "o.png")], cwd=tmp_path)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def test_native_decoder_messages_do_not_add_lines(tmp_path: Path) -> None:
    """A corrupt LZW TIFF made libtiff print lines before the error line."""
    p = tmp_path / "x.tif"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(p, compression="tiff_lzw")
    data = bytearray(p.read_bytes())
    for i in range(200, min(len(data), 400), 7):
        data[i] ^= 0x55
    p.write_bytes(bytes(data))
    run = run_cli([str(p), "-o", str(tmp_path / "o.png")], cwd=tmp_path)
    if run.returncode:
        _one_error_line(run.stderr)
    else:
        assert run.stderr == ""


@pytest.mark.parametrize("argv", [["--strength"], ["edit", "x.jpg", "--nope"],
                                  ["restore"], ["chat", "x.jpg", "--interpreter", "gpt"]])
def test_usage_errors_are_one_line(tmp_path: Path, argv: list[str]) -> None:
    """argparse printed the usage block before its error line."""
    run = run_cli(["in.jpg", "-o", "o.png", *argv] if argv[0].startswith("-") else argv,
                  cwd=tmp_path)
    assert run.returncode == 2
    _one_error_line(run.stderr)


def test_plan_option_never_blocks_or_grows(tmp_path: Path) -> None:
    """``--plan`` on a FIFO blocked forever; on /dev/zero it read without bound."""
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    inp = _png(tmp_path / "in.png")
    for plan in (fifo, Path("/dev/zero")):
        t0 = time.perf_counter()
        run = run_cli([str(inp), "-o", str(tmp_path / "o.png"), "--plan", str(plan)],
                      cwd=tmp_path, timeout=20)
        assert not run.timed_out and time.perf_counter() - t0 < 20
        assert run.returncode == 2 and "not a regular file" in _one_error_line(run.stderr)


def test_input_that_is_not_a_regular_file(tmp_path: Path) -> None:
    """A FIFO or a device as the input is refused at once (no blocking open)."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    for src in (fifo, Path("/dev/zero")):
        with pytest.raises(InvalidInputError, match="regular file|empty"):
            load_image(src)


def test_chat_stdin_odd_bytes_and_endless_line(tmp_path: Path) -> None:
    """Invalid UTF-8 on stdin crashed chat; a line without newline grew without bound."""
    inp = _png(tmp_path / "in.png")
    run = run_cli(["chat", str(inp), "--no-preview", "-q"], cwd=tmp_path,
                  stdin=b"remove the \xff\xfe acne\x00\nquit\n")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    run = run_cli(["chat", str(inp), "--no-preview", "-q"], cwd=tmp_path,
                  stdin=b"x" * (200 * 1024))
    assert run.returncode == 2 and "longer than" in _one_error_line(run.stderr)


def test_undecodable_argv_is_printed_not_crashed(tmp_path: Path) -> None:
    """An instruction with undecodable bytes (surrogates) must not crash on printing."""
    inp = _png(tmp_path / "in.png")
    run = run_cli([str(inp), "-o", str(tmp_path / "o.png"), "-i", "remove \udcff acne"],
                  cwd=tmp_path)
    assert "Traceback" not in run.stderr and run.returncode in (0, 2), run.stderr


def test_output_path_symlink_loop(tmp_path: Path) -> None:
    """A self-referencing symlink as output raised a raw RuntimeError (``Path.resolve``)."""
    src = load_image(_png(tmp_path / "in.png"))
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    assert not is_same_file(loop, src.path)
    save_image(loop, src.pixels, source=src)  # the rename replaces the link itself
    assert not loop.is_symlink() and load_image(loop).size_wh == src.size_wh


def test_chat_preview_never_overwrites_the_input(tmp_path: Path) -> None:
    """``Session(preview=<input>)`` overwrote the user's photo with a downscaled preview."""
    from _hostile import base_images

    inp = tmp_path / "me.jpg"
    Image.fromarray(base_images()[0]).save(inp)
    before = sha256(inp)
    s = Session(str(inp), preview=inp)
    s.ask("remove the acne")
    s.ask("show me what you found")
    assert sha256(inp) == before


def test_huge_or_zero_dpi_is_dropped(tmp_path: Path) -> None:
    """A PNG whose pHYs declares ~1e11 dpi made every BMP/JPEG save fail."""
    assert _clean_dpi((1.1e11, 72)) is None and _clean_dpi((0, 0)) is None
    assert _clean_dpi((300, 300.5)) == (300.0, 300.5)
    from _hostile import encode, png_build, png_chunks

    chunks = png_chunks(encode(np.zeros((16, 16, 3), np.uint8), "PNG"))
    chunks.insert(1, (b"pHYs", struct.pack(">IIB", 2**32 - 1, 2**32 - 1, 1)))
    p = tmp_path / "a.png"
    p.write_bytes(png_build(chunks))
    data = load_image(p)
    for ext in ("bmp", "jpg", "tif", "png"):
        save_image(tmp_path / f"o.{ext}", data.pixels, source=data)


def test_jpeg_declaring_far_more_pixels_than_it_holds(tmp_path: Path) -> None:
    """A 1 KB JPEG declaring 65500x3000 decoded (gray-filled) and took 2 GB and exit 1."""
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 100, 50)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    i = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, 3000, 65500)
    p = tmp_path / "bomb.jpg"
    p.write_bytes(bytes(data))
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError, match="cannot hold"):
        load_image(p)
    assert time.perf_counter() - t0 < 1.0


def test_refused_formats(tmp_path: Path) -> None:
    """Formats outside the allow-list (ICO, PCX, TGA...) are not decoded."""
    p = tmp_path / "x.ico"
    Image.new("RGB", (32, 32)).save(p)
    with pytest.raises(InvalidInputError, match="not a recognized image file"):
        load_image(p)


def test_array_pixel_limit() -> None:
    """A huge array (a broadcast view) was copied before any limit: MemoryError."""
    view = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (100_000, 100_000, 3))
    with pytest.raises(InvalidInputError, match="too large"):
        retouch(view)


@pytest.mark.parametrize("kwargs", [dict(only=5), dict(only=[None]), dict(keep=b"acne"),
                                    dict(sensitivity="x"), dict(sensitivity=float("nan")),
                                    dict(sensitivity=3), dict(plan="{}"), dict(strength=True)])
def test_api_arguments_raise_retouch_errors(kwargs: dict) -> None:
    """Each of these raised TypeError/AttributeError/ValueError, or was silently accepted."""
    with pytest.raises(RetouchError):
        retouch(np.zeros((32, 32, 3), np.uint8), **kwargs)


def test_api_accepts_numpy_scalars() -> None:
    """``strength=np.float32(0.5)`` was refused."""
    retouch(np.zeros((32, 32, 3), np.uint8), strength=np.float32(0.5),
            sensitivity=np.float64(0.4))


def test_plan_json_nested_too_deeply() -> None:
    """``Plan.from_json("[" * 100000)`` raised RecursionError."""
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        Plan.from_json("[" * 100_000)


def test_paths_with_nul_bytes() -> None:
    """A NUL byte in a path raised a raw ValueError."""
    with pytest.raises(InvalidInputError):
        load_image("a\x00b.png")
    with pytest.raises(OutputError):
        save_image("a\x00b.png", np.zeros((8, 8, 3), np.uint8))


def test_session_argument_errors() -> None:
    """Bad ``quality`` raised ValueError from int(); ``ask(5)`` raised TypeError."""
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(InvalidInputError):
        Session(img, quality="x")
    with pytest.raises(InvalidInputError):
        Session(img).ask(5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(("rc", "stderr", "expect", "files", "fragment"), [
    (1, "Traceback (most recent call last):\n  x\nValueError: y\n", "any", [], "traceback"),
    (2, "libtiff: warning\nretouch: error: x\n", "any", [], "not one error line"),
    (1, "retouch: error: x: unexpected ValueError: y\n", "any", [], "undocumented exit"),
    (-9, "", "any", [], "signal"),
    (2, "retouch: error: x\n", "ok", [], "failed on a valid input"),
    (0, "", "error", ["out.png"], "must be refused"),
    (0, "W0000 log line\n", "any", ["out.png"], "stderr noise"),
    (0, "", "any", [], "missing output"),
    (2, "retouch: error: x\n", "any", [".out.png.0badc0de-1-0badc0de.retouch-tmp"],
     "temporary files left"),
    (3, "retouch: error: x\n", "any", ["out.png"], "files left after a failure"),
])
def test_contract_checker_catches_violations(tmp_path: Path, rc: int, stderr: str, expect: str,
                                             files: list[str], fragment: str) -> None:
    """The harness flags every kind of violation (so a passing suite means something)."""
    from _harness import CliRun, check, cmd_retouch

    inp = _png(tmp_path / "in.png")
    out = tmp_path / "out"
    out.mkdir()
    inv = cmd_retouch(inp, out)
    for name in files:
        if name == "out.png":
            _png(out / name)
        else:
            (out / name).write_bytes(b"x")
    run = CliRun(inv.argv, rc, "", stderr, 0.1, 10.0)
    problems = check(run, inv, out, set(), expect)
    assert any(fragment in p for p in problems), problems
