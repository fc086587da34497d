"""Hostile inputs: mutated real files and hypothesis-generated images and arguments.

Every case must end in a clean result or a clean error (docs/reliability.md):
in-process, the Python API raises only :class:`retouch.RetouchError`
subclasses; as a subprocess, the CLI keeps the contract checked by
:func:`_harness.check` (one stderr line, documented exit code, no traceback,
no hang over 30 s, memory under the ceiling, input unchanged, nothing left
behind on failure).

Normal runs are time-bounded (fixed seeds, fixed example counts, hypothesis
derandomized); ``RETOUCH_FUZZ=full`` runs the long version.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import string
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _harness import (
    COMMANDS,
    FULL,
    budget,
    check,
    listing,
    record,
    run_case,
    run_cli,
    sha256,
)
from _hostile import Case, base_images, corpus, encode, iter_kinds
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from retouch import Plan, RetouchError, Session, retouch
from retouch.edit import parse_set
from retouch.errors import InvalidInputError
from retouch.imageio import load_image, save_image

pytestmark = pytest.mark.fuzz

#: Mutations per (source file, mutator): 2 in the normal run, 8 in the long run.
PER_KIND = budget(2, 8)
SEED = 20261121
CASES: list[Case] = corpus(seed=SEED, per_kind=PER_KIND)
HYPO = dict(derandomize=True, deadline=None, database=None, print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                   HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- in-process


def _api_run(path: Path, out_dir: Path, k: int) -> str:
    """Decode, retouch and save one file in-process; ``"ok"`` or ``"error"``.

    Any exception other than :class:`RetouchError` propagates (a test failure).
    """
    try:
        data = load_image(path)
    except RetouchError:
        return "error"
    res = retouch(data)
    assert res.image.shape == data.pixels.shape and res.image.dtype == data.pixels.dtype
    assert res.masks["removed"].shape == data.pixels.shape[:2]
    json.dumps(res.report)  # the report is JSON-ready
    ext = (".png", ".jpg", ".tif", ".webp", ".bmp")[k % 5]
    out = save_image(out_dir / f"out{ext}", res.image, source=data, alpha=res.alpha)
    with Image.open(out) as im:  # metadata carried from a hostile file still gives a valid file
        im.load()
        assert im.size == data.size_wh
    out.unlink()
    return "ok"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_in_process(case: Case, tmp_path: Path) -> None:
    """The Python API on every corpus file: a result or a RetouchError, as expected."""
    path = case.write(tmp_path)
    before = sha256(path)
    t0 = time.perf_counter()
    status = _api_run(path, tmp_path, len(case.id))
    record("api-corpus", case.id, case.kind, status, time.perf_counter() - t0)
    assert sha256(path) == before, "input modified"
    if case.expect != "any":
        assert status == case.expect, f"{case.id}: expected {case.expect}, got {status}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --------------------------------------------------------------------------- CLI


def _cli_selection() -> list[tuple[str, Case]]:
    """(command, case) pairs run as subprocesses: a stratified sample, or all of them."""
    rng = random.Random(SEED)
    pairs: list[tuple[str, Case]] = []
    others = [c for c in COMMANDS if c != "retouch"]
    for _kind, cases in iter_kinds(CASES):
        picked = cases if FULL else rng.sample(cases, min(2, len(cases)))
        pairs += [("retouch", c) for c in picked]
        if FULL:
            pairs += [(cmd, c) for c in rng.sample(cases, min(3, len(cases))) for cmd in others]
    if not FULL:  # a valid file and one other kind through each other command
        kinds = ["bitflip", "exif", "not_image", "png_odd_chunks"]
        by_kind = dict(iter_kinds(CASES))
        for i, cmd in enumerate(others):
            for kind in ("valid_format", kinds[i % len(kinds)]):
                pairs.append((cmd, rng.choice(by_kind[kind])))
    return pairs


CLI_PAIRS = _cli_selection()


@pytest.mark.parametrize(("command", "case"), CLI_PAIRS,
                         ids=[f"{cmd}:{c.id}" for cmd, c in CLI_PAIRS])
def test_corpus_cli(command: str, case: Case, tmp_path: Path) -> None:
    """The CLI as a subprocess (30 s, memory ceiling) keeps the contract on corpus files."""
    inp_dir, out_dir = tmp_path / "in", tmp_path / "out"
    inp_dir.mkdir()
    out_dir.mkdir()
    path = case.write(inp_dir)
    o = run_case(path, out_dir, command, case.expect, case.id)
    record(f"cli-{command}", case.id, case.kind, o.status, o.seconds, o.max_rss_mb,
           "; ".join(o.problems) or o.first_stderr_line)
    assert not o.problems, f"{command} {case.id}: {o.problems}"


# --------------------------------------------------------------------------- hypothesis images

_MODES_BY_FORMAT = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"],
    "JPEG": ["L", "RGB", "CMYK"],
    "TIFF": ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LAB", "YCbCr"],
    "WEBP": ["RGB", "RGBA"],
    "BMP": ["1", "L", "P", "RGB"],
    "GIF": ["L", "P"],
    "PPM": ["1", "L", "RGB", "I;16"],
}
_BASE: list[np.ndarray] = []


def _base() -> np.ndarray:
    if not _BASE:
        _BASE.extend(base_images())
    return _BASE[0]


@st.composite
def image_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A small image file: any size 1..320, mode, container, content and odd metadata."""
    fmt = draw(st.sampled_from(sorted(_MODES_BY_FORMAT)))
    mode = draw(st.sampled_from(_MODES_BY_FORMAT[fmt]))
    w = draw(st.integers(1, 320))
    h = draw(st.integers(1, 320))
    content = draw(st.sampled_from(["face", "noise", "flat", "gradient", "stripes"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if content == "face":
        rgb = np.asarray(Image.fromarray(_base()).resize((w, h)))
    elif content == "noise":
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif content == "flat":
        rgb = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (h, w, 3)).copy()
    elif content == "gradient":
        g = np.linspace(0, 255, w * h).reshape(h, w).astype(np.uint8)
        rgb = np.dstack([g, g[::-1], np.roll(g, 7)])
    else:
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[::2] = 255
    im = Image.fromarray(rgb)
    if mode in ("I;16", "I", "F"):
        lum = np.asarray(im.convert("L"), np.float64)
        scale = {"I;16": 257.0, "I": draw(st.sampled_from([1.0, 257.0, 1e5, -3.0])),
                 "F": draw(st.sampled_from([1 / 255, 1.0, -1e30, 1e30]))}[mode]
        arr = lum * scale
        im = Image.fromarray(arr.astype({"I;16": np.uint16, "I": np.int32,
                                         "F": np.float32}[mode]))
    elif mode != "RGB":
        im = im.convert(mode)
    kw: dict[str, object] = {}
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF") and draw(st.booleans()):
        ex = Image.Exif()
        ex[0x0112] = draw(st.sampled_from([0, 1, 3, 5, 6, 8, 9, 255, 65535]))
        kw["exif"] = ex
    if fmt in ("JPEG", "PNG", "TIFF", "WEBP") and draw(st.booleans()):
        kw["icc_profile"] = draw(st.binary(min_size=0, max_size=300))
    if fmt in ("JPEG", "PNG", "TIFF") and draw(st.booleans()):
        kw["dpi"] = draw(st.sampled_from([(0, 0), (1e-9, 72), (1e12, 1e12), (72, 72)]))
    try:
        data = encode(im, fmt, **kw)
    except Exception:  # a combination Pillow cannot write: not a case
        assume(False)
        raise
    return f"x.{fmt.lower()}", data


@settings(max_examples=budget(40, 400), **HYPO)
@given(image_files())
def test_generated_images_in_process(tmp_path_factory: pytest.TempPathFactory,
                                     spec: tuple[str, bytes]) -> None:
    """Hypothesis images through the API: a result or a RetouchError, never anything else."""
    name, data = spec
    d = tmp_path_factory.mktemp("gen")
    path = d / name
    path.write_bytes(data)
    t0 = time.perf_counter()
    status = _api_run(path, d, len(data))
    record("api-generated", hashlib.sha1(data).hexdigest()[:12], name, status,
           time.perf_counter() - t0)
    assert path.read_bytes() == data
    shutil.rmtree(d)


@settings(max_examples=budget(6, 60), **HYPO)
@given(image_files())
def test_generated_images_cli(tmp_path_factory: pytest.TempPathFactory,
                              spec: tuple[str, bytes]) -> None:
    """A few hypothesis images through the CLI subprocess."""
    name, data = spec
    d = tmp_path_factory.mktemp("gencli")
    (d / "in").mkdir()
    (d / "out").mkdir()
    path = d / "in" / name
    path.write_bytes(data)
    o = run_case(path, d / "out", "retouch")
    record("cli-generated", hashlib.sha1(data).hexdigest()[:12], name, o.status, o.seconds,
           o.max_rss_mb, "; ".join(o.problems) or o.first_stderr_line)
    assert not o.problems, o.problems
    shutil.rmtree(d)


# --------------------------------------------------------------------------- hypothesis arguments

_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.binary(max_size=10), st.lists(st.one_of(st.text(max_size=12), st.integers(), st.none()),
                                     max_size=4),
    st.sampled_from(["acne", "acne,red_spot", "freckle", " ACNE ", "mole,", ",", "nope",
                     ["acne", "wrinkle"], ("shine",), {"acne": 1}, np.float32(0.3),
                     np.int64(1), np.array([0.5])]),
)


_TYPES = ["acne", "red_spot", "dark_spot", "mole", "freckle", "wrinkle", "under_eye", "shine"]
_UNIT = st.floats(0.0, 1.0)
_TYPE_LIST = st.one_of(st.none(), st.lists(st.sampled_from(_TYPES), max_size=3, unique=True),
                       st.lists(st.sampled_from(_TYPES), max_size=3).map(",".join))


@settings(max_examples=budget(30, 300), **HYPO)
@given(strength=st.one_of(_UNIT, _UNIT, _UNIT, _ANY),
       only=st.one_of(st.none(), st.none(), _TYPE_LIST, _ANY),
       keep=st.one_of(st.none(), st.none(), _TYPE_LIST, _ANY),
       sensitivity=st.one_of(_UNIT, _UNIT, _UNIT, _ANY))
def test_api_arguments(strength: object, only: object, keep: object,
                       sensitivity: object) -> None:
    """``retouch()`` with arbitrary argument values raises only RetouchError."""
    img = _base()
    before = img.copy()
    try:
        res = retouch(img, strength=strength, only=only, keep=keep,  # type: ignore[arg-type]
                      sensitivity=sensitivity)  # type: ignore[arg-type]
        status = "ok"
        assert res.image.shape == img.shape
    except RetouchError:
        status = "error"
    assert np.array_equal(img, before), "the caller's array was modified"
    record("api-arguments", repr((strength, only, keep, sensitivity))[:80], "arguments", status)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              st.sampled_from(["remove", "soften", "keep", "acne", "chin", "forehead", "all",
                               "delta", "strength", "types", "regions", "action"])),
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.sampled_from(
                               ["operations", "action", "types", "regions", "strength",
                                "delta", "faces", "exclude", "size", "x"]), kids, max_size=5)),
    max_leaves=20)


_OPERATION = st.fixed_dictionaries(
    {"action": st.sampled_from(["remove", "soften", "keep", "adjust", "only", "x"])},
    optional={"types": st.lists(st.sampled_from(_TYPES + ["tattoo", "all"]), max_size=3),
              "regions": st.lists(st.sampled_from(["chin", "forehead", "nose", "left_cheek",
                                                   "skin", "moon"]), max_size=2),
              "strength": st.one_of(_UNIT, st.floats()), "delta": st.floats(-2, 2),
              "faces": st.lists(st.integers(-2, 60), max_size=2), "size": _JSON})
_PLANS = st.one_of(_JSON, st.fixed_dictionaries(
    {"operations": st.lists(_OPERATION, max_size=3)}))


@settings(max_examples=budget(150, 1500), **HYPO)
@given(doc=_PLANS, raw=st.text(max_size=40))
def test_plan_parsing(doc: object, raw: str) -> None:
    """``Plan.from_json`` on arbitrary JSON and text: a Plan or an InvalidInputError."""
    for text in (json.dumps(doc), raw, "[" * 5000):
        try:
            plan = Plan.from_json(text)
            assert isinstance(plan, Plan)
            status = "ok"
        except InvalidInputError:
            status = "error"
        record("api-plan", text[:60], "plan_json", status)


@settings(max_examples=budget(150, 1500), **HYPO)
@given(st.one_of(st.text(max_size=60),
                 st.builds(lambda n, a: f"{n}={a}",
                           st.sampled_from(["eyes.size", "lipstick", "double_chin", "hair.color",
                                            "teeth", "x", ""]),
                           st.one_of(st.floats(-2, 2).map(str), st.sampled_from(
                               ["0.5:#b0303a", "1:gloss", "0.3:size=2", "-1:faces=0+1", "0.4:red",
                                "nan", "1e999", "0.5:#zzzzzz", "0.5:faces=99", "0.5:bogus=1"]),
                               st.text(alphabet=string.printable, max_size=25)))))
def test_edit_set_parsing(spec: str) -> None:
    """``parse_set`` on arbitrary ``--set`` strings: a request or an InvalidInputError."""
    try:
        parse_set(spec)
        status = "ok"
    except InvalidInputError:
        status = "error"
    record("api-edit-set", spec[:60], "edit_set", status)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A Session whose relative "save as" paths land in a temporary folder."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("session"))
    try:
        yield Session(_base())
    finally:
        os.chdir(cwd)


@settings(max_examples=budget(25, 250), **HYPO)
@given(text=st.one_of(st.text(max_size=80).filter(lambda t: "/" not in t and "\\" not in t),
                      st.sampled_from(
    ["remove the acne", "undo", "redo", "more", "a bit less", "only the chin", "reset",
     "show me", "save as /nonexistent/x.png", "save as sub/../x.png", "save as x.gif",
     "\x00\x00", "remove " * 200, "keep everything but remove nothing"])))
def test_session_requests(session: Session, text: str) -> None:
    """``Session.ask`` never raises for a request, whatever its text."""
    reply = session.ask(text)
    assert isinstance(reply.text, str) and reply.text
    record("api-session", text[:60], "session_text", reply.kind)


_OPTION_VALUES = st.one_of(
    st.floats(0, 1).map(str), st.integers(1, 100).map(str),
    st.sampled_from(["acne", "acne,mole", "remove the acne", "eyes.size=0.3", "lipstick=red:0.4",
                     "builtin", "200000000"]),
    st.text(max_size=20), st.sampled_from(["nan", "inf", "-1", "1e309", "0", "100000000000000000",
                                           "", " ", "--", "-o", "\udcff", "acne,,", "😀"]))


@st.composite
def cli_argvs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A command and options with arbitrary values (the input and output are valid)."""
    cmd = draw(st.sampled_from(["retouch", "edit", "restore", "chat"]))
    opts = {
        "retouch": ["--strength", "--only", "--keep", "--sensitivity", "--quality",
                    "--max-pixels", "-i", "--interpreter"],
        "edit": ["--set", "--quality", "--max-pixels", "--grid"],
        "restore": ["--fidelity", "--quality", "--max-pixels"],
        "chat": ["--sensitivity", "--quality", "--max-pixels", "--llm-timeout"],
    }[cmd]
    argv: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        argv += [draw(st.sampled_from(opts)), draw(_OPTION_VALUES)]
    return cmd, argv


@settings(max_examples=budget(8, 80), **HYPO)
@given(cli_argvs())
def test_cli_options(tmp_path_factory: pytest.TempPathFactory,
                     spec: tuple[str, list[str]]) -> None:
    """Arbitrary option values: the CLI succeeds or prints one error line (exit 2)."""
    cmd, opts = spec
    d = tmp_path_factory.mktemp("opts")
    inp = d / "in.png"
    inp.write_bytes(encode(_base(), "PNG"))
    out_dir = d / "out"
    out_dir.mkdir()
    inv = COMMANDS[cmd](inp, out_dir)
    argv = inv.argv + opts
    before = listing(out_dir)
    run = run_cli(argv, cwd=out_dir, stdin=inv.stdin)
    problems = check(run, inv, out_dir, before, "any")
    if run.returncode not in (0, 2):
        problems.append(f"exit {run.returncode} for an option value")
    status = "ok" if run.returncode == 0 else f"error{run.returncode}"
    record("cli-options", " ".join(argv[-6:])[:80], cmd, "VIOLATION" if problems else status,
           run.seconds, run.max_rss_mb, run.stderr.strip()[:200])
    assert not problems, (argv, problems, run.stderr[-500:])
    shutil.rmtree(d)


# --------------------------------------------------------------------------- bombs


def test_bomb_under_the_limit_is_bounded(tmp_path: Path) -> None:
    """A 36 KB PNG of 196 megapixels (under the default limit): clean outcome, < 30 s.

    Run with the default ``--max-pixels`` under the harness memory ceiling: it
    either completes or ends with the one-line out-of-memory error; with
    ``--max-pixels`` lowered it is refused from the header in well under a second.
    """
    im = Image.new("1", (14_000, 14_000), 1)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    del im
    inp = tmp_path / "bomb.png"
    inp.write_bytes(buf.getvalue())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    o = run_case(inp, out_dir, "retouch", "any", "bomb-196MP")
    record("cli-bomb", "png-14000x14000-default-limit", "bomb", o.status, o.seconds,
           o.max_rss_mb, "; ".join(o.problems) or o.first_stderr_line)
    assert not o.problems, o.problems
    assert o.returncode in (0, 2)
    t0 = time.perf_counter()
    run = run_cli([str(inp), "-o", str(out_dir / "o.png"), "--max-pixels", "50000000"],
                  cwd=out_dir)
    dt = time.perf_counter() - t0
    record("cli-bomb", "png-14000x14000-limit-50MP", "bomb", f"error{run.returncode}", dt,
           run.max_rss_mb, run.stderr.strip())
    assert run.returncode == 2 and "too large" in run.stderr
    assert run.max_rss_mb < 400, "decoded before refusing"
    assert not (out_dir / "o.png").exists()


def test_corpus_covers_every_kind() -> None:
    """The corpus holds every kind of the issue's list (the suite cannot silently shrink)."""
    kinds = {k for k, _ in iter_kinds(CASES)}
    assert {"truncated", "bitflip", "splice", "wrong_extension", "declared_size", "strip",
            "single_colour", "png_odd_chunks", "exif", "not_image", "valid_format",
            "refused_format"} <= kinds
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= (250 if not FULL else 450)
