"""Tests for retouch.imageio: decoding, metadata, validation and atomic writes."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from retouch import imageio
from retouch.errors import InvalidInputError, OutputError
from retouch.imageio import (
    convert_dtype,
    from_float01,
    load_image,
    save_image,
    to_float01,
)
from retouch.types import ImageData

RNG = np.random.default_rng(1234)


def _rgb(h: int = 24, w: int = 40) -> np.ndarray:
    """Non-square RGB test image with distinct content everywhere."""
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int, make: str = "TestCam") -> Image.Exif:
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = make
    return ex


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    arr = _rgb()
    p = tmp_path / "o.png"
    Image.fromarray(arr).save(p, exif=_exif(orientation))
    data = load_image(p)
    with Image.open(p) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    np.testing.assert_array_equal(data.pixels, expected)
    assert data.pixels.flags.c_contiguous
    ex = Image.Exif()
    ex.load(data.exif)
    assert ex[0x0112] == 1
    assert ex[0x010F] == "TestCam"


def test_exif_orientation_6_and_3_jpeg(tmp_path: Path) -> None:
    arr = np.zeros((24, 40, 3), np.uint8)
    arr[:12, :20] = (255, 0, 0)  # red top-left quadrant
    arr[12:, 20:] = (0, 0, 255)  # blue bottom-right quadrant
    for orientation, expected in ((6, np.rot90(arr, k=-1)), (3, arr[::-1, ::-1])):
        p = tmp_path / f"o{orientation}.jpg"
        Image.fromarray(arr).save(p, quality=100, subsampling=0, exif=_exif(orientation))
        data = load_image(p)
        assert data.pixels.shape == expected.shape
        assert data.format == "JPEG"
        diff = np.abs(data.pixels.astype(int) - expected.astype(int))
        assert diff.max() < 40 and diff.mean() < 3
        if orientation == 6:
            # Turned 90 degrees clockwise: the red top-left block is now top-right.
            assert data.pixels.shape == (40, 24, 3)
            assert data.pixels[2, -2, 0] > 200 and data.pixels[2, -2, 2] < 60
            assert data.pixels[-2, 2, 2] > 200  # blue block now bottom-left
        else:
            assert data.pixels.shape == (24, 40, 3)
            assert data.pixels[2, 2, 2] > 200  # blue block now top-left


def test_tiff_orientation_tag_applied(tmp_path: Path) -> None:
    arr = _rgb()
    p = tmp_path / "o.tif"
    Image.fromarray(arr).save(p, exif=_exif(8, "TiffCam"))
    data = load_image(p)
    np.testing.assert_array_equal(data.pixels, np.rot90(arr, k=1))
    ex = Image.Exif()
    ex.load(data.exif)
    assert ex.get(0x0112, 1) == 1 and ex[0x010F] == "TiffCam"


def test_oriented_image_is_not_rotated_twice(tmp_path: Path) -> None:
    p = tmp_path / "in.png"
    Image.fromarray(_rgb()).save(p, exif=_exif(6))
    first = load_image(p)
    out = save_image(tmp_path / "out.png", first.pixels, source=first)
    second = load_image(out)
    np.testing.assert_array_equal(second.pixels, first.pixels)
    ex = Image.Exif()
    ex.load(second.exif)
    assert ex[0x0112] == 1 and ex[0x010F] == "TestCam"


# ---------------------------------------------------------------- round trips


def test_png_uint8_round_trip_bit_exact(tmp_path: Path) -> None:
    arr = _rgb(33, 47)
    out = save_image(tmp_path / "a.png", arr)
    data = load_image(out)
    assert data.pixels.dtype == np.uint8
    assert data.alpha is None
    assert data.source_mode == "RGB" and data.format == "PNG"
    assert data.path == out
    np.testing.assert_array_equal(data.pixels, arr)


def test_rgba_alpha_round_trip_png(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    p = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(p)
    data = load_image(p)
    assert data.alpha is not None and data.alpha.dtype == np.uint8
    np.testing.assert_array_equal(data.pixels, rgba[..., :3])
    np.testing.assert_array_equal(data.alpha, rgba[..., 3])
    out = save_image(tmp_path / "out.png", data.pixels, source=data)  # alpha from source
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), rgba)


def test_rgba_lossless_webp_and_tiff_keep_alpha(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    rgba[..., 3] = np.maximum(rgba[..., 3], 1)
    for name in ("a.webp", "a.tif"):
        out = save_image(tmp_path / name, rgba[..., :3], alpha=rgba[..., 3], quality=100)
        data = load_image(out)
        np.testing.assert_array_equal(data.pixels, rgba[..., :3])
        np.testing.assert_array_equal(data.alpha, rgba[..., 3])


def test_jpeg_drops_alpha(tmp_path: Path) -> None:
    arr = _rgb()
    out = save_image(tmp_path / "a.jpg", arr, alpha=np.full(arr.shape[:2], 7, np.uint8))
    data = load_image(out)
    assert data.alpha is None and data.pixels.shape == arr.shape


def test_palette_with_transparency_gives_alpha(tmp_path: Path) -> None:
    im = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    p = tmp_path / "p.png"
    im.save(p, transparency=0)
    data = load_image(p)
    assert data.source_mode == "P"
    assert data.alpha is not None and data.alpha.shape == (24, 40)
    assert set(np.unique(data.alpha)) <= {0, 255}


def test_grayscale_round_trip_stays_gray(tmp_path: Path) -> None:
    g = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    p = tmp_path / "g.png"
    Image.fromarray(g).save(p)
    data = load_image(p)
    assert data.source_mode == "L"
    assert data.pixels.shape == (20, 30, 3)
    assert (data.pixels == g[..., None]).all()
    for name in ("out.png", "out.jpg", "out.tif"):
        out = save_image(tmp_path / name, data.pixels, source=data)
        with Image.open(out) as im:
            assert im.mode == "L"
            if name != "out.jpg":
                np.testing.assert_array_equal(np.asarray(im), g)
    # Once the channels differ the output is colour.
    changed = data.pixels.copy()
    changed[0, 0] = (1, 2, 3)
    with Image.open(save_image(tmp_path / "c.png", changed, source=data)) as im:
        assert im.mode == "RGB"


def test_png16_rgb_round_trip_bit_exact(tmp_path: Path) -> None:
    import cv2

    arr = RNG.integers(0, 65536, (21, 34, 3), dtype=np.uint16)
    p = tmp_path / "c16.png"
    assert cv2.imwrite(str(p), arr[..., ::-1])
    data = load_image(p)
    assert data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels, arr)
    icc = _srgb_icc()
    src = ImageData(pixels=data.pixels, icc_profile=icc, info={"dpi": (300.0, 300.0)})
    out = save_image(tmp_path / "out16.png", data.pixels, source=src)
    again = load_image(out)
    assert again.pixels.dtype == np.uint16
    np.testing.assert_array_equal(again.pixels, arr)
    assert again.icc_profile == icc
    assert again.info["dpi"] == pytest.approx((300.0, 300.0), abs=0.01)


def test_png16_rgba_and_tiff16_round_trip(tmp_path: Path) -> None:
    arr = RNG.integers(0, 65536, (16, 18, 3), dtype=np.uint16)
    alpha = RNG.integers(0, 65536, (16, 18), dtype=np.uint16)
    icc = _srgb_icc()
    src = ImageData(pixels=arr, icc_profile=icc)
    for name in ("a.png", "a.tif"):
        out = save_image(tmp_path / name, arr, alpha=alpha, source=src)
        data = load_image(out)
        assert data.pixels.dtype == np.uint16 and data.alpha is not None
        np.testing.assert_array_equal(data.pixels, arr)
        np.testing.assert_array_equal(data.alpha, alpha)
        assert data.icc_profile == icc
    out = save_image(tmp_path / "b.tif", arr, source=src)
    np.testing.assert_array_equal(load_image(out).pixels, arr)


def test_gray16_round_trip(tmp_path: Path) -> None:
    g = RNG.integers(0, 65536, (12, 20), dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(g).save(p)
    data = load_image(p)
    assert data.pixels.dtype == np.uint16 and data.source_mode.startswith("I")
    assert (data.pixels == g[..., None]).all()
    out = save_image(tmp_path / "g16_out.png", data.pixels, source=data)
    with Image.open(out) as im:
        assert im.mode.startswith("I;16")
        np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), g)


def test_uint16_to_jpeg_rounds_to_8bit(tmp_path: Path) -> None:
    arr = np.full((16, 16, 3), 257 * 100 + 128, np.uint16)  # 100.498 -> 100
    data = load_image(save_image(tmp_path / "a.jpg", arr, quality=100))
    assert data.pixels.dtype == np.uint8
    assert np.abs(data.pixels.astype(int) - 100).max() <= 1


def test_float_tiff_scaled_to_uint16(tmp_path: Path) -> None:
    f = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    p = tmp_path / "f.tif"
    Image.fromarray(f).save(p)
    data = load_image(p)
    assert data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels[..., 0], np.rint(f * 65535).astype(np.uint16))
    Image.fromarray(f * 1000).save(p)
    data = load_image(p)
    assert data.pixels.min() == 0 and data.pixels.max() == 65535


def test_cmyk_jpeg_loads_as_rgb(tmp_path: Path) -> None:
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 24), (0, 255, 255, 0)).save(p, quality=95)
    data = load_image(p)
    assert data.source_mode == "CMYK" and data.format == "JPEG"
    assert data.pixels.shape == (24, 40, 3) and data.pixels.dtype == np.uint8
    r, g, b = data.pixels.reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60
    assert data.icc_profile is None


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=50)
    data = load_image(p)
    assert tuple(data.pixels[8, 8]) == (255, 0, 0)


# ---------------------------------------------------------------- metadata


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.tif", "a.webp"])
def test_icc_and_exif_carried(tmp_path: Path, name: str) -> None:
    icc = _srgb_icc()
    src_path = tmp_path / "src.jpg"
    Image.fromarray(_rgb()).save(
        src_path, icc_profile=icc, exif=_exif(1, "Carried"), dpi=(300, 300)
    )
    src = load_image(src_path)
    assert src.icc_profile == icc
    assert src.info["dpi"] == (300.0, 300.0)
    out = save_image(tmp_path / name, src.pixels, source=src)
    data = load_image(out)
    assert data.icc_profile == icc
    with Image.open(out) as im:
        assert im.getexif().get(0x010F) == "Carried"


def test_icc_not_written_for_wrong_colour_space(tmp_path: Path) -> None:
    gray_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    gray_icc = gray_icc[:16] + b"GRAY" + gray_icc[20:]  # pretend it is a gray profile
    src = ImageData(pixels=_rgb(), icc_profile=gray_icc)
    out = save_image(tmp_path / "a.png", src.pixels, source=src)
    assert load_image(out).icc_profile is None


# ---------------------------------------------------------------- load errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"nope\.jpg: file does not exist"):
        load_image(tmp_path / "nope.jpg")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is a folder"):
        load_image(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(InvalidInputError, match=r"empty\.jpg: empty file"):
        load_image(p)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("this is not an image\n" * 10)
    with pytest.raises(InvalidInputError, match=r"notes\.jpg: not a recognized image file"):
        load_image(p)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InvalidInputError, match=r"cut\.jpg: truncated or corrupt image file"):
        load_image(p)


def test_truncated_png16(tmp_path: Path) -> None:
    import cv2

    ok, enc = cv2.imencode(".png", RNG.integers(0, 65536, (64, 64, 3), dtype=np.uint16))
    assert ok
    p = tmp_path / "cut16.png"
    p.write_bytes(enc.tobytes()[: enc.size // 2])
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):
        load_image(p)


def test_truncated_flag_cannot_weaken_check(tmp_path: Path, monkeypatch) -> None:
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):
        load_image(p)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


@pytest.mark.parametrize("size", [(1, 1), (7, 100), (100, 7)])
def test_too_small(tmp_path: Path, size: tuple[int, int]) -> None:
    p = tmp_path / "tiny.png"
    Image.new("RGB", size).save(p)
    with pytest.raises(InvalidInputError, match=r"tiny\.png: image is too small to contain a face"):
        load_image(p)


def _png_bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_header_bomb_rejected_fast(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_bomb(100_000, 100_000))
    limit = Image.MAX_IMAGE_PIXELS
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"bomb\.png: image is too large"):
        load_image(p)
    assert time.perf_counter() - t0 < 1.0
    assert limit == Image.MAX_IMAGE_PIXELS  # Pillow's global restored


def test_between_limits_rejected_by_own_check(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    p.write_bytes(_png_bomb(20_000, 15_000))  # 300 M: above our 200 M, under 2x
    with pytest.raises(InvalidInputError, match=r"20000x15000 = 300,000,000 pixels"):
        load_image(p)


def test_max_pixels_parameter(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(p)
    with pytest.raises(InvalidInputError, match="too large"):
        load_image(p, max_pixels=500)
    with pytest.raises(InvalidInputError, match="max_pixels"):
        load_image(p, max_pixels=0)
    assert load_image(p, max_pixels=24 * 40).pixels.shape == (24, 40, 3)


def test_wrong_source_type() -> None:
    with pytest.raises(InvalidInputError, match="file path or a numpy array"):
        load_image([[1, 2], [3, 4]])  # type: ignore[arg-type]


# ---------------------------------------------------------------- array input


def test_array_rgb_is_copied() -> None:
    arr = _rgb()
    data = load_image(arr)
    assert data.source_mode == "array" and data.format is None and data.path is None
    np.testing.assert_array_equal(data.pixels, arr)
    assert not np.shares_memory(data.pixels, arr)
    before = arr.copy()
    data.pixels[...] = 0
    np.testing.assert_array_equal(arr, before)


def test_array_rgba_gray_and_uint16() -> None:
    rgba = RNG.integers(0, 256, (10, 12, 4), dtype=np.uint8)
    data = load_image(rgba)
    np.testing.assert_array_equal(data.pixels, rgba[..., :3])
    np.testing.assert_array_equal(data.alpha, rgba[..., 3])
    g = RNG.integers(0, 65536, (10, 12), dtype=np.uint16)
    data = load_image(g)
    assert data.pixels.dtype == np.uint16 and (data.pixels == g[..., None]).all()


def test_array_float_converted_with_rounding() -> None:
    f = np.full((10, 10, 3), 0.5, np.float32)
    f[0, 0] = (0.0, 1.0, 0.2)
    data = load_image(f)
    assert data.pixels.dtype == np.uint8
    assert tuple(data.pixels[0, 0]) == (0, 255, 51)
    assert data.pixels[5, 5, 0] == 128  # rint(127.5) -> 128 (half to even)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        load_image(f * 255)


def test_array_channels_first_hint() -> None:
    chw = np.zeros((3, 64, 48), np.float32)
    with pytest.raises(InvalidInputError, match=r"np\.moveaxis\(image, 0, -1\)") as info:
        load_image(chw)
    assert "(3, 64, 48)" in str(info.value)


@pytest.mark.parametrize(
    "arr, pattern",
    [
        (np.zeros((10, 10, 2), np.uint8), r"got shape \(10, 10, 2\)"),
        (np.zeros((10, 10, 3), np.int64), "astype"),
        (np.zeros((10,), np.uint8), "expected shape"),
        (np.zeros((4, 4, 3), np.uint8), "too small"),
        (np.full((10, 10), np.nan, np.float32), "NaN"),
    ],
)
def test_array_rejected(arr: np.ndarray, pattern: str) -> None:
    with pytest.raises(InvalidInputError, match=pattern):
        load_image(arr)


# ---------------------------------------------------------------- dtype helpers


def test_dtype_helpers() -> None:
    u8 = np.arange(256, dtype=np.uint8)
    f = to_float01(u8)
    assert f.dtype == np.float32 and f[0] == 0 and f[-1] == 1
    np.testing.assert_array_equal(from_float01(f, np.uint8), u8)
    u16 = np.arange(0, 65536, dtype=np.uint16)
    np.testing.assert_array_equal(from_float01(to_float01(u16), np.uint16), u16)
    np.testing.assert_array_equal(
        from_float01(np.array([-1, 0.5, 2, np.nan]), np.uint8), [0, 128, 255, 0]
    )
    np.testing.assert_array_equal(convert_dtype(u8, np.uint16), u8.astype(np.uint16) * 257)
    np.testing.assert_array_equal(convert_dtype(u16, np.uint8), np.rint(u16 / 257).astype(np.uint8))


# ---------------------------------------------------------------- save errors


def test_output_folder_missing(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.png"
    with pytest.raises(OutputError, match=r"out\.png: output folder does not exist"):
        save_image(target, _rgb())
    assert not target.parent.exists()


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"unsupported output extension '\.gif'"):
        save_image(tmp_path / "out.gif", _rgb())
    with pytest.raises(OutputError, match="unsupported output extension none"):
        save_image(tmp_path / "out", _rgb())
    assert list(tmp_path.iterdir()) == []


def test_same_path_as_input_refused(tmp_path: Path) -> None:
    p = tmp_path / "in.png"
    Image.fromarray(_rgb()).save(p)
    before = p.read_bytes()
    data = load_image(p)
    with pytest.raises(OutputError, match="would overwrite the input"):
        save_image(p, 255 - data.pixels, source=data)
    with pytest.raises(OutputError, match="would overwrite the input"):
        save_image(tmp_path / "." / "in.png", 255 - data.pixels, source=data)
    assert p.read_bytes() == before
    save_image(p, 255 - data.pixels, source=data, overwrite_input=True)
    np.testing.assert_array_equal(load_image(p).pixels, 255 - data.pixels)


def test_bad_pixels_and_quality(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="quality"):
        save_image(tmp_path / "a.jpg", _rgb(), quality=0)
    with pytest.raises(InvalidInputError, match="pixels"):
        save_image(tmp_path / "a.png", np.zeros((3, 10, 10), np.uint8))
    with pytest.raises(InvalidInputError, match="alpha"):
        save_image(tmp_path / "a.png", _rgb(), alpha=np.zeros((5, 5), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(imageio.os, "access", lambda *args, **kwargs: False)
    with pytest.raises(OutputError, match="output folder is not writable"):
        save_image(tmp_path / "out.png", _rgb())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_read_only_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            save_image(ro / "out.png", _rgb())
    finally:
        ro.chmod(0o700)


# ---------------------------------------------------------------- atomic write


def test_atomic_write_success_leaves_only_target(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in ("a.png", "a.jpg", "a.tif", "a.webp", "a.bmp"):
        save_image(out_dir / name, _rgb())
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        ["a.png", "a.jpg", "a.tif", "a.webp", "a.bmp"]
    )
    mode = (out_dir / "a.png").stat().st_mode & 0o777
    assert mode & 0o600 == 0o600


def test_atomic_write_failure_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def broken_encoder(fp, *args, **kwargs):
        fp.write(b"partial data")
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(imageio, "_encode", broken_encoder)
    with pytest.raises(OutputError, match=r"a\.png: could not write the image \(encoder exploded"):
        save_image(out_dir / "a.png", _rgb())
    assert list(out_dir.iterdir()) == []

    existing = out_dir / "b.png"
    existing.write_bytes(b"old content")
    with pytest.raises(OutputError):
        save_image(existing, _rgb())
    assert existing.read_bytes() == b"old content"
    assert [p.name for p in out_dir.iterdir()] == ["b.png"]
