"""A corpus of hostile image files for the reliability suites (see docs/reliability.md).

Every case is built at run time from a small base image (a real photo of
``../shared/faces`` downscaled, or the generated sample face when that folder
is absent), so nothing hostile or licensed is stored in the repository. A case
is a file name (its extension may lie), its bytes and what a correct tool must
do with it:

* ``"ok"``: a valid image; the command must succeed (exit 0, decodable output);
* ``"error"``: unusable by design (truncated header, too large, too small, not
  an image); the command must fail cleanly with exit code 2;
* ``"any"``: a mutation whose outcome depends on where it landed; either of the
  two above is acceptable, nothing else.

Cases are deterministic: :func:`corpus` with the same ``seed`` and ``per_kind``
returns byte-identical cases, so a failure is reproduced from its ``id``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _faces import FACES
from PIL import Image, ImageCms

#: Shared photos used as bases (small, one face each, different formats and modes).
BASE_PHOTOS: tuple[str, ...] = (
    "clean/mpl_grace_hopper.jpg",
    "clean/gfpgan_ffhq00000_gt512.png",
    "pairs/pixabay_chin_acne_before.png",
)
#: Long side of the downscaled base images: faces stay detectable, runs stay short.
BASE_LONG_SIDE = 224

Expect = str  # "ok" | "error" | "any"


@dataclass(frozen=True)
class Case:
    """One hostile input file.

    Attributes:
        id: stable identifier, ``kind/detail/n`` (reproduce with the same seed).
        kind: category used in reports (``truncated``, ``bitflip``, ...).
        filename: name to write the bytes under (the extension may lie).
        data: the file's bytes.
        expect: ``"ok"``, ``"error"`` or ``"any"`` (see the module docstring).
    """

    id: str
    kind: str
    filename: str
    data: bytes
    expect: Expect = "any"

    def write(self, folder: Path) -> Path:
        """Write the case into ``folder`` and return its path."""
        p = folder / self.filename
        p.write_bytes(self.data)
        return p


# --------------------------------------------------------------------------- bases


def base_images(long_side: int = BASE_LONG_SIDE) -> list[np.ndarray]:
    """Small RGB ``uint8`` photos with a face (shared photos, else the sample face)."""
    out: list[np.ndarray] = []
    for rel in BASE_PHOTOS:
        p = FACES / rel
        if p.is_file():
            with Image.open(p) as im:
                out.append(_shrink(np.asarray(im.convert("RGB")), long_side))
    if not out:
        from retouch.sample import sample_face

        out.append(_shrink(sample_face(), long_side))
    return out


def _shrink(rgb: np.ndarray, long_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = long_side / max(h, w)
    if s >= 1:
        return np.ascontiguousarray(rgb)
    im = Image.fromarray(rgb).resize((max(8, round(w * s)), max(8, round(h * s))),
                                     Image.Resampling.LANCZOS)
    return np.asarray(im)


def encode(img: Image.Image | np.ndarray, fmt: str, **kw: object) -> bytes:
    """Encode a Pillow image (or array) to bytes in ``fmt`` with Pillow."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --------------------------------------------------------------------------- valid files


def _png16(rgb16: np.ndarray) -> bytes:
    import cv2

    bgr = rgb16[..., ::-1] if rgb16.ndim == 3 else rgb16
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
    assert ok
    return buf.tobytes()


def _tiff16(rgb16: np.ndarray) -> bytes:
    import cv2

    bgr = rgb16[..., ::-1] if rgb16.ndim == 3 else rgb16
    ok, buf = cv2.imencode(".tiff", np.ascontiguousarray(bgr))
    assert ok
    return buf.tobytes()


def valid_files(rgb: np.ndarray, tag: str) -> list[Case]:
    """The base photo in every supported container, mode and bit depth (all ``"ok"``)."""
    im = Image.fromarray(rgb)
    gray = im.convert("L")
    rgb16 = rgb.astype(np.uint16) * 257
    lum = np.asarray(gray, np.float32) / 255.0
    icc = _srgb_icc()
    cases: dict[str, tuple[str, bytes]] = {
        "jpeg": ("jpg", encode(im, "JPEG", quality=90)),
        "jpeg_progressive": ("jpg", encode(im, "JPEG", quality=85, progressive=True)),
        "jpeg_gray": ("jpg", encode(gray, "JPEG")),
        "jpeg_icc": ("jpg", encode(im, "JPEG", icc_profile=icc)),
        "jpeg_cmyk": ("jpg", encode(im.convert("CMYK"), "JPEG")),
        "png_rgb": ("png", encode(im, "PNG")),
        "png_rgba": ("png", encode(im.convert("RGBA"), "PNG")),
        "png_palette": ("png", encode(im.convert("P"), "PNG")),
        "png_gray": ("png", encode(gray, "PNG")),
        "png_1bit": ("png", encode(gray.convert("1"), "PNG")),
        "png16_rgb": ("png", _png16(rgb16)),
        "png16_gray": ("png", _png16(np.asarray(gray, np.uint16) * 257)),
        "tiff_rgb": ("tif", encode(im, "TIFF")),
        "tiff_lzw": ("tif", encode(im, "TIFF", compression="tiff_lzw")),
        "tiff_cmyk": ("tif", encode(im.convert("CMYK"), "TIFF")),
        "tiff16_rgb": ("tif", _tiff16(rgb16)),
        "tiff_float01": ("tif", encode(Image.fromarray(lum), "TIFF")),
        "tiff_float_hdr": ("tif", encode(Image.fromarray(lum * 4000.0 - 7.0), "TIFF")),
        "tiff_int32": ("tif", encode(Image.fromarray(
            (lum * 1e6).astype(np.int32)), "TIFF")),
        "webp_lossy": ("webp", encode(im, "WEBP", quality=80)),
        "webp_lossless": ("webp", encode(im.convert("RGBA"), "WEBP", lossless=True)),
        "bmp": ("bmp", encode(im, "BMP")),
        "gif": ("gif", encode(im.convert("P"), "GIF")),
        "ppm": ("ppm", encode(im, "PPM")),
    }
    # Float TIFF holding NaN and infinities (a broken HDR export).
    bad = lum.copy()
    bad[::7, ::5] = np.nan
    bad[1::9, ::3] = np.inf
    bad[2::11, 1::4] = -np.inf
    cases["tiff_float_nan_inf"] = ("tif", encode(Image.fromarray(bad), "TIFF"))
    # Animated files: the first frame is used.
    frames = [im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), im.rotate(90, expand=True)]
    cases["gif_animated"] = ("gif", encode(frames[0].convert("P"), "GIF", save_all=True,
                                           append_images=[f.convert("P") for f in frames[1:]],
                                           duration=[40, 50, 60], loop=0))
    same = [im.transpose(Image.Transpose.FLIP_TOP_BOTTOM), frames[1]]
    cases["webp_animated"] = ("webp", encode(frames[0], "WEBP", save_all=True,
                                             append_images=same, duration=40))
    cases["apng"] = ("png", encode(frames[0], "PNG", save_all=True,
                                   append_images=frames[1:2], duration=40))
    cases["mpo"] = ("jpg", encode(frames[0], "MPO", save_all=True, append_images=frames[1:2]))
    return [Case(f"valid/{tag}/{k}", "valid_format", f"{k}.{ext}", data, "ok")
            for k, (ext, data) in cases.items()]


# --------------------------------------------------------------------------- mutations


def truncated(src: Case, rng: np.random.Generator, n: int) -> list[Case]:
    """``src`` cut at ``n`` random points (header-only cuts included)."""
    out = []
    cuts = sorted({int(c) for c in rng.integers(1, len(src.data), n)})
    for c in cuts:
        # A file cut inside its header cannot be an image; a cut in the pixel data
        # of some formats (GIF, animated WebP) is legitimately decodable as a
        # shorter first frame, so only the header cuts must fail.
        expect = "error" if c < 16 else "any"
        out.append(Case(f"truncated/{src.id}/{c}", "truncated", src.filename,
                        src.data[:c], expect))
    return out


def bitflipped(src: Case, rng: np.random.Generator, n: int) -> list[Case]:
    """``src`` with 1-64 random bits flipped, ``n`` variants."""
    out = []
    for i in range(n):
        data = bytearray(src.data)
        k = int(rng.integers(1, 65))
        for pos in rng.integers(0, len(data), k):
            data[int(pos)] ^= 1 << int(rng.integers(0, 8))
        out.append(Case(f"bitflip/{src.id}/{i}", "bitflip", src.filename, bytes(data)))
    return out


def spliced(src: Case, rng: np.random.Generator, n: int) -> list[Case]:
    """``src`` with a span zeroed, randomized, duplicated or deleted."""
    out = []
    for i in range(n):
        d = src.data
        a = int(rng.integers(0, len(d)))
        b = min(len(d), a + int(rng.integers(1, 512)))
        op = i % 4
        if op == 0:
            data = d[:a] + bytes(b - a) + d[b:]
        elif op == 1:
            data = d[:a] + rng.integers(0, 256, b - a, dtype=np.uint8).tobytes() + d[b:]
        elif op == 2:
            data = d[:b] + d[a:b] + d[b:]
        else:
            data = d[:a] + d[b:]
        name = ("zero", "random", "dup", "delete")[op]
        out.append(Case(f"splice/{src.id}/{name}{i}", "splice", src.filename, data))
    return out


def wrong_extension(valid: list[Case]) -> list[Case]:
    """Valid files named with another format's extension: decoded by content."""
    exts = ["jpg", "png", "webp", "tif", "bmp", "gif"]
    out = []
    for i, c in enumerate(valid):
        ext = exts[i % len(exts)]
        if c.filename.endswith("." + ext):
            ext = exts[(i + 1) % len(exts)]
        out.append(Case(f"wrong_ext/{c.id}.{ext}", "wrong_extension",
                        c.filename.rsplit(".", 1)[0] + "." + ext, c.data, c.expect))
    out.append(Case("wrong_ext/no_extension", "wrong_extension", "photo",
                    valid[0].data, valid[0].expect))
    return out


# --------------------------------------------------------------------------- PNG surgery


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``[(type, payload), ...]`` of a PNG (no CRC check)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        out.append((kind, data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def png_build(chunks: list[tuple[bytes, bytes]], bad_crc: set[int] | None = None) -> bytes:
    """A PNG from ``chunks``; chunk indices in ``bad_crc`` get a wrong CRC."""
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    for i, (kind, payload) in enumerate(chunks):
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        if bad_crc and i in bad_crc:
            crc ^= 0xDEADBEEF
        out += struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
    return bytes(out)


def _chunk(n: int, kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", n) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_odd_chunks(png: bytes) -> list[Case]:
    """PNGs with unusual, broken or hostile chunks."""
    ch = png_chunks(png)
    ihdr, rest = ch[0], ch[1:]
    idat = [c for c in rest if c[0] == b"IDAT"]
    tail = [c for c in rest if c[0] != b"IDAT"]
    pre = [c for c in rest[: rest.index(idat[0])]]

    def with_chunks(extra_before: list[tuple[bytes, bytes]],
                    extra_after: list[tuple[bytes, bytes]] | None = None) -> bytes:
        return png_build([ihdr, *pre, *extra_before, *idat, *(extra_after or []), *tail])

    raw_idat = zlib.decompress(b"".join(p for _, p in idat))
    one_byte = zlib.compress(raw_idat)
    bomb = zlib.compress(b"\0" * (64 << 20), 9)  # 64 MiB of text in ~64 KiB
    junk_icc = bytes(range(256)) * 4
    fake_rgb_icc = bytearray(junk_icc)
    fake_rgb_icc[16:20] = b"RGB "
    variants: dict[str, tuple[bytes, Expect]] = {
        "unknown_ancillary": (with_chunks([(b"prVt", b"private data" * 10)]), "ok"),
        "unknown_critical": (with_chunks([(b"CRIT", b"must understand")]), "any"),
        "big_text": (with_chunks([(b"tEXt", b"Comment\0" + b"x" * 2_000_000)]), "any"),
        "ztxt_bomb": (with_chunks([(b"zTXt", b"Comment\0\0" + bomb)]), "any"),
        "itxt_bomb": (with_chunks([(b"iTXt", b"Comment\0\1\0\0\0" + bomb)]), "any"),
        "iccp_garbage": (with_chunks([(b"iCCP", b"junk\0\0" + zlib.compress(junk_icc))]), "ok"),
        "iccp_fake_rgb": (with_chunks([(b"iCCP", b"fake\0\0" + zlib.compress(
            bytes(fake_rgb_icc)))]), "ok"),
        "iccp_bomb": (with_chunks([(b"iCCP", b"bomb\0\0" + bomb)]), "any"),
        "iccp_not_zlib": (with_chunks([(b"iCCP", b"p\0\0" + b"not zlib at all")]), "any"),
        "exif_garbage": (with_chunks([(b"eXIf", bytes(range(256)))]), "ok"),
        "phys_zero": (with_chunks([(b"pHYs", struct.pack(">IIB", 0, 0, 1))]), "ok"),
        "phys_huge": (with_chunks([(b"pHYs", struct.pack(">IIB", 2**32 - 1, 1, 1))]), "ok"),
        "gama_zero": (with_chunks([(b"gAMA", struct.pack(">I", 0))]), "ok"),
        "time_invalid": (with_chunks([(b"tIME", bytes([255] * 7))]), "ok"),
        "trns_too_long": (with_chunks([(b"tRNS", bytes(range(256)) * 3)]), "any"),
        "splt_garbage": (with_chunks([(b"sPLT", b"pal\0\x08" + bytes(7))]), "ok"),
        "duplicate_ihdr": (png_build([ihdr, ihdr, *pre, *idat, *tail]), "any"),
        "idat_split_1byte": (png_build([ihdr, *pre, *[(b"IDAT", one_byte[i:i + 1])
                                                     for i in range(len(one_byte))], *tail]),
                             "ok"),
        "bad_crc_ancillary": (png_build([ihdr, *pre, (b"tEXt", b"a\0b"), *idat, *tail],
                                        bad_crc={1 + len(pre)}), "any"),
        "bad_crc_idat": (png_build([ihdr, *pre, *idat, *tail], bad_crc={1 + len(pre)}), "any"),
        "no_iend": (png_build([ihdr, *pre, *idat]), "any"),
        "data_after_iend": (png + b"trailing garbage" * 100, "any"),
        "idat_extra_data": (png_build([ihdr, *pre, (b"IDAT", zlib.compress(
            raw_idat + b"\0" * 5000)), *tail]), "any"),
        "idat_short_data": (png_build([ihdr, *pre, (b"IDAT", zlib.compress(
            raw_idat[: len(raw_idat) // 2])), *tail]), "any"),
    }
    # A chunk whose length field claims 2 GiB.
    body = bytearray(png_build([ihdr, *pre]))
    body += _chunk(0x7FFFFFF0, b"tEXt", b"short")
    body += png_build([*idat, *tail])[8:]
    variants["chunk_length_2gib"] = (bytes(body), "any")
    return [Case(f"png_chunk/{k}", "png_odd_chunks", f"{k}.png", d, e)
            for k, (d, e) in variants.items()]


def png_with_size(png: bytes, w: int, h: int) -> bytes:
    """``png`` with its IHDR width/height replaced (CRC fixed)."""
    ch = png_chunks(png)
    kind, ihdr = ch[0]
    ch[0] = (kind, struct.pack(">II", w, h) + ihdr[8:])
    return png_build(ch)


# --------------------------------------------------------------------------- huge / zero sizes


def _jpeg_with_size(jpg: bytes, w: int, h: int) -> bytes:
    data = bytearray(jpg)
    pos = 2
    while pos + 4 < len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        (seg,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, pos + 5, h, w)
            return bytes(data)
        pos += 2 + seg
    raise AssertionError("no SOF marker")


def _gif_with_size(gif: bytes, w: int, h: int) -> bytes:
    data = bytearray(gif)
    struct.pack_into("<HH", data, 6, w, h)
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(data) and data[pos] != 0x2C:  # skip extensions
        if data[pos] == 0x21:
            pos += 2
            while pos < len(data) and data[pos]:
                pos += data[pos] + 1
            pos += 1
        else:
            break
    if pos < len(data) and data[pos] == 0x2C:
        struct.pack_into("<HH", data, pos + 5, w, h)
    return bytes(data)


def _bmp_with_size(bmp: bytes, w: int, h: int) -> bytes:
    data = bytearray(bmp)
    struct.pack_into("<ii", data, 18, w, h)
    return bytes(data)


def _tiff_with_size(tif: bytes, w: int, h: int) -> bytes:
    data = bytearray(tif)
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (n,) = struct.unpack_from(order + "H", data, ifd)
    for i in range(n):
        e = ifd + 2 + 12 * i
        tag, typ = struct.unpack_from(order + "HH", data, e)
        if tag in (256, 257):
            value = w if tag == 256 else h
            struct.pack_into(order + "HHII", data, e, tag, 4, 1, value)  # as LONG
    return bytes(data)


def _webp_vp8x_with_size(webp: bytes, w: int, h: int) -> bytes:
    data = bytearray(webp)
    assert data[12:16] == b"VP8X"
    data[24:27] = (w - 1).to_bytes(3, "little")
    data[27:30] = (h - 1).to_bytes(3, "little")
    return bytes(data)


def huge_and_zero_sizes(rgb: np.ndarray) -> list[Case]:
    """Headers declaring enormous, zero or negative sizes over small pixel data."""
    im = Image.fromarray(rgb[:32, :32])
    png = encode(im, "PNG")
    jpg = encode(im, "JPEG")
    gif = encode(im.convert("P"), "GIF")
    bmp = encode(im, "BMP")
    tif = encode(im, "TIFF")
    webp = encode(im, "WEBP", exif=b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0")
    out: list[Case] = []

    def add(name: str, ext: str, data: bytes, expect: Expect = "error") -> None:
        out.append(Case(f"size/{name}", "declared_size", f"{name}.{ext}", data, expect))

    for w, h in ((65535, 65535), (2**31 - 1, 2**31 - 1), (1, 2**31 - 1), (20000, 10000),
                 (14000, 14000)):
        add(f"png_{w}x{h}", "png", png_with_size(png, w, h))
    for w, h in ((0, 32), (32, 0), (0, 0)):
        add(f"png_{w}x{h}", "png", png_with_size(png, w, h))
    for w, h in ((65535, 65535), (65500, 3000), (0, 32), (32, 0)):
        add(f"jpeg_{w}x{h}", "jpg", _jpeg_with_size(jpg, w, h))
    for w, h in ((65535, 65535), (0, 0), (20000, 9000)):
        add(f"gif_{w}x{h}", "gif", _gif_with_size(gif, w, h))
    for w, h in ((2**31 - 1, 1000), (100000, -100000), (-32, 32), (0, 32), (30000, 6000)):
        add(f"bmp_{w}x{h}", "bmp", _bmp_with_size(bmp, w, h))
    for w, h in ((4_000_000, 4_000_000), (0, 32), (15000, 13000)):
        add(f"tiff_{w}x{h}", "tif", _tiff_with_size(tif, w, h))
    for w, h in ((16_000_000, 16_000_000), (16383, 16383)):
        add(f"webp_vp8x_{w}x{h}", "webp", _webp_vp8x_with_size(webp, w, h), "any")
    return out


def strips_and_flat(rgb: np.ndarray) -> list[Case]:
    """1xN and 8xN strips, minimal squares and single-colour images."""
    out: list[Case] = []
    h, w = rgb.shape[:2]
    for sw, sh, expect in ((1, 500, "error"), (500, 1, "error"), (7, 300, "error"),
                           (8, 2000, "ok"), (2000, 8, "ok"), (8, 8, "ok"), (9, 3000, "ok")):
        strip = np.resize(rgb, (sh, sw, 3)).astype(np.uint8)
        for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
            out.append(Case(f"strip/{sw}x{sh}.{ext}", "strip", f"s{sw}x{sh}.{ext}",
                            encode(strip, fmt), expect))
    colours = {"black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128),
               "skin": (224, 172, 140), "red": (255, 0, 0)}
    for name, c in colours.items():
        flat = Image.new("RGB", (w, h), c)
        out.append(Case(f"flat/{name}.png", "single_colour", f"{name}.png",
                        encode(flat, "PNG"), "ok"))
        out.append(Case(f"flat/{name}.jpg", "single_colour", f"{name}.jpg",
                        encode(flat, "JPEG"), "ok"))
    flat16 = np.full((h, w, 3), 40000, np.uint16)
    out.append(Case("flat/gray16.png", "single_colour", "gray16.png", _png16(flat16), "ok"))
    out.append(Case("flat/zero_float.tif", "single_colour", "zero_float.tif",
                    encode(Image.fromarray(np.zeros((h, w), np.float32)), "TIFF"), "ok"))
    out.append(Case("flat/transparent.png", "single_colour", "transparent.png",
                    encode(Image.new("RGBA", (w, h), (0, 0, 0, 0)), "PNG"), "ok"))
    return out


# --------------------------------------------------------------------------- EXIF


def exif_blob(entries: list[tuple[int, int, int, bytes]], order: str = "<",
              ifd_offset: int = 8, next_ifd: int = 0, tail: bytes = b"") -> bytes:
    """A TIFF-structured EXIF block (``Exif\\0\\0`` prefixed) with raw IFD0 entries.

    ``entries`` are ``(tag, type, count, 4 value bytes)``; ``tail`` is appended
    after the IFD (for out-of-line values at known offsets).
    """
    head = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, ifd_offset)
    head += bytes(max(0, ifd_offset - 8))
    ifd = struct.pack(order + "H", len(entries))
    for tag, typ, count, value in entries:
        ifd += struct.pack(order + "HHI", tag, typ, count) + value[:4].ljust(4, b"\0")
    ifd += struct.pack(order + "I", next_ifd)
    return b"Exif\0\0" + head + ifd + tail


def jpeg_with_app1(jpg: bytes, payload: bytes) -> bytes:
    """Insert an APP1 segment (``payload`` up to 65533 bytes) right after SOI."""
    return jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpg[2:]


def exif_cases(rgb: np.ndarray) -> list[Case]:
    """JPEG/PNG/WebP/TIFF files whose EXIF orientation is odd, invalid or hostile."""
    im = Image.fromarray(rgb)
    jpg = encode(im, "JPEG", quality=90)
    out: list[Case] = []

    def short(v: int) -> bytes:
        return struct.pack("<HH", v, 0)

    bad: dict[str, bytes] = {
        "orient_0": exif_blob([(0x0112, 3, 1, short(0))]),
        "orient_9": exif_blob([(0x0112, 3, 1, short(9))]),
        "orient_65535": exif_blob([(0x0112, 3, 1, short(65535))]),
        "orient_long": exif_blob([(0x0112, 4, 1, struct.pack("<I", 6))]),
        "orient_long_huge": exif_blob([(0x0112, 4, 1, struct.pack("<I", 2**32 - 1))]),
        "orient_count2": exif_blob([(0x0112, 3, 2, short(6)[:2] + short(3)[:2])]),
        "orient_ascii": exif_blob([(0x0112, 2, 4, b"six\0")]),
        "orient_rational_oob": exif_blob([(0x0112, 5, 1, struct.pack("<I", 0xFFFFFF00))]),
        "orient_count_huge": exif_blob([(0x0112, 3, 2**30, struct.pack("<I", 64))]),
        "orient_signed_neg": exif_blob([(0x0112, 8, 1, struct.pack("<hH", -3, 0))]),
        "ifd_loop": exif_blob([(0x0112, 3, 1, short(6))], next_ifd=8),
        "ifd_offset_oob": exif_blob([], ifd_offset=8) [:10] + struct.pack("<I", 0x7FFFFFFF),
        "exif_subifd_loop": exif_blob([(0x8769, 4, 1, struct.pack("<I", 8)),
                                       (0x0112, 3, 1, short(8))]),
        "gps_ifd_oob": exif_blob([(0x8825, 4, 1, struct.pack("<I", 0xFFFFFFF0)),
                                  (0x0112, 3, 1, short(3))]),
        "truncated_ifd": exif_blob([(0x0112, 3, 1, short(6))] * 5)[:20],
        "big_endian_6": exif_blob([(0x0112, 3, 1, struct.pack(">HH", 6, 0))], order=">"),
        "many_entries": exif_blob([(0x0112, 3, 1, short(6))] * 4000),
        "not_tiff": b"Exif\0\0" + b"XX" + bytes(30),
        "no_prefix_garbage": bytes(range(200)),
    }
    for name, payload in bad.items():
        out.append(Case(f"exif/jpeg/{name}", "exif", f"{name}.jpg",
                        jpeg_with_app1(jpg, payload), "ok"))
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        out.append(Case(f"exif/valid/jpeg/{o}", "exif", f"orient{o}.jpg",
                        encode(im, "JPEG", exif=ex), "ok"))
    ex6 = Image.Exif()
    ex6[0x0112] = 6
    out.append(Case("exif/valid/png_6", "exif", "orient6.png", encode(im, "PNG", exif=ex6), "ok"))
    out.append(Case("exif/valid/webp_8", "exif", "orient8.webp",
                    encode(im, "WEBP", exif=bad["orient_65535"][6:]), "ok"))
    tif = Image.fromarray(rgb)
    out.append(Case("exif/tiff_orientation_9", "exif", "o9.tif",
                    encode(tif, "TIFF", tiffinfo={0x0112: 9}), "ok"))
    return out


# --------------------------------------------------------------------------- non-images


def not_images() -> list[Case]:
    """Files that are not images at all, or formats retouch refuses to decode."""
    eps = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n"
           b"newpath 0 0 moveto 64 64 lineto stroke showpage\n%%EOF\n")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect/></svg>'
    rng = np.random.default_rng(99)
    items: dict[str, tuple[str, bytes]] = {
        "empty": ("jpg", b""),
        "one_byte": ("png", b"\x89"),
        "text": ("jpg", b"hello, I am not a photo\n" * 20),
        "html": ("png", b"<html><body>nope</body></html>"),
        "svg": ("svg", svg),
        "eps": ("eps", eps),
        "random": ("jpg", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        "zip": ("png", b"PK\x03\x04" + bytes(100)),
        "pdf": ("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
        "jpeg_soi_only": ("jpg", b"\xff\xd8\xff\xd9"),
        "png_sig_only": ("png", b"\x89PNG\r\n\x1a\n"),
        "gif_header_only": ("gif", b"GIF89a\x40\x00\x40\x00\x00\x00\x00;"),
        "riff_webp_empty": ("webp", b"RIFF\x04\x00\x00\x00WEBP"),
        "nul_bytes": ("png", bytes(10_000)),
    }
    return [Case(f"not_image/{k}", "not_image", f"{k}.{ext}", d, "error")
            for k, (ext, d) in items.items()]


def refused_formats(rgb: np.ndarray) -> list[Case]:
    """Decodable formats outside retouch's input allow-list (EPS/PSD/ICO/...): exit 2."""
    im = Image.fromarray(rgb[:64, :64])
    return [Case(f"refused/{fmt.lower()}", "refused_format", f"x.{ext}", encode(im, fmt), "error")
            for fmt, ext in (("ICO", "ico"), ("PCX", "pcx"), ("SGI", "sgi"), ("IM", "im"),
                             ("JPEG2000", "jp2"), ("QOI", "qoi"),
                             ("TGA", "tga"), ("DIB", "dib"))]


# --------------------------------------------------------------------------- assembly

#: Cases from each mutation of each valid source file.
MUTATORS: dict[str, Callable[[Case, np.random.Generator, int], list[Case]]] = {
    "truncated": truncated,
    "bitflip": bitflipped,
    "splice": spliced,
}

#: Valid files that the mutators start from (a mix of containers and codecs).
MUTATION_SOURCES: tuple[str, ...] = (
    "jpeg", "jpeg_progressive", "jpeg_cmyk", "png_rgb", "png_palette", "png16_rgb", "tiff_lzw",
    "tiff16_rgb", "tiff_float01", "webp_lossy", "webp_animated", "gif_animated", "bmp",
)


def corpus(seed: int = 0, per_kind: int = 2) -> list[Case]:
    """Every fixed case plus ``per_kind`` random mutations of each source and mutator.

    The fixed cases (valid formats, declared sizes, strips, flat images, PNG
    chunks, EXIF, non-images) do not depend on ``seed``.
    """
    rng = np.random.default_rng(seed)
    bases = base_images()
    cases: list[Case] = []
    valid_all = []
    for i, rgb in enumerate(bases):
        valid_all.append(valid_files(rgb, f"b{i}"))
    cases += valid_all[0]
    for vs in valid_all[1:]:  # other bases: a few formats only
        cases += [c for c in vs if c.id.rsplit("/", 1)[1] in ("jpeg", "png_rgba", "tiff16_rgb")]
    cases += wrong_extension(valid_all[0][:8])
    by_name = {c.id.rsplit("/", 1)[1]: c for c in valid_all[0]}
    for name in MUTATION_SOURCES:
        for mut in MUTATORS.values():
            cases += mut(by_name[name], rng, per_kind)
    cases += huge_and_zero_sizes(bases[0])
    cases += strips_and_flat(bases[0])
    cases += png_odd_chunks(by_name["png_rgb"].data)
    cases += exif_cases(bases[0])
    cases += not_images()
    cases += refused_formats(bases[0])
    return cases


def iter_kinds(cases: list[Case]) -> Iterator[tuple[str, list[Case]]]:
    """Group ``cases`` by kind, in first-seen order."""
    kinds: dict[str, list[Case]] = {}
    for c in cases:
        kinds.setdefault(c.kind, []).append(c)
    yield from kinds.items()
