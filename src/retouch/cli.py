"""Command line: ``retouch INPUT -o OUTPUT [options]``.

Exit codes:
    0  success (also when no face was found: the output is then the input,
       re-encoded, and the report says ``"no_face": true``)
    2  unusable input or option (not an image, truncated, too large, bad value)
    3  output cannot be written (missing folder, read-only, same as input)
    4  a required dependency is missing
    1  any other error
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .cli_common import (
    OneLineParser,
    Terminated,
    add_closeup_options,
    add_output_options,
    atomic_write_bytes,
    check_destinations,
    check_output_dir,
    guarded,
    output_paths,
    quiet_process,
    read_small_file,
)
from .errors import InvalidInputError, OutputError
from .runtime import tune_allocator
from .types import IMPERFECTION_TYPES, NOT_CONTAINED

#: Subcommands: ``retouch NAME ...`` runs ``retouch.<module>.main(argv_rest) -> int``.
#: Anything else as first argument is the INPUT of the default retouch command.
SUBCOMMANDS: dict[str, str] = {
    "chat": "cli_chat", "edit": "cli_edit", "restore": "cli_restore",
    "serve": "cli_serve", "batch": "cli_batch",
    "train": "cli_train", "eval": "cli_eval", "export": "cli_export",
}


def _faces_line(rep: dict[str, Any], n_faces: int, closeup: bool) -> str:
    """The CLI's one-line account of the faces (why nothing changed, when nothing did)."""
    if n_faces:
        return f"{n_faces} face(s) retouched"
    hint = "" if closeup else "; a skin close-up without a whole face? add --closeup"
    skipped = [f for f in rep["faces"] if not f["retouched"]]
    if skipped:
        why = sorted({f["skip_reason"] or "skipped" for f in skipped})
        return (f"{len(skipped)} face(s) found, none retouched ({'; '.join(why)}), "
                f"image unchanged{hint}")
    return "no face found, image unchanged" + hint


def _build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="retouch",
        description="Find every face in a photo and remove temporary blemishes "
        "(acne, red spots, dark spots) while keeping pores, freckles, moles and "
        "everything outside the treated spots bit-identical.",
        epilog="Imperfection types: " + ", ".join(IMPERFECTION_TYPES) + ". "
        "Run `retouch sample -o out.png` to retouch a generated sample face.",
    )
    p.add_argument("input", help="input photo (JPEG, PNG, TIFF, WebP, BMP...), or 'sample'")
    p.add_argument("-o", "--output", required=True, help="output file; format from extension")
    p.add_argument("--strength", type=float, default=0.8,
                   help="0..1, how strongly to treat (default 0.8: a natural retouch)")
    p.add_argument("--only", help="comma list: treat only these types (e.g. acne,red_spot)")
    p.add_argument("--keep", help="comma list: leave these types untouched")
    p.add_argument("--sensitivity", type=float, default=0.5,
                   help="0..1, how faint a spot may be and still be found (default 0.5)")
    p.add_argument("--masks", metavar="DIR",
                   help="write removed.png and one <type>.png mask per imperfection type")
    p.add_argument("--instruction", "-i", metavar="TEXT",
                   help="what to do, in words, e.g. \"remove the acne on my forehead but keep "
                   "the freckles\" (replaces --only/--keep/--strength; see docs/instructions.md)")
    p.add_argument("--plan", metavar="JSON_FILE",
                   help="apply a Plan written as JSON (docs/plan.schema.json) instead of -i")
    p.add_argument("--engine", choices=("builtin", "learned"), default="builtin",
                   help="builtin (default, no weights) or learned: a trained RetouchFormer "
                   "given by --checkpoint (see docs/learned.md)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="with --engine learned: a .pt checkpoint (needs retouch[learn]) or an "
                   ".onnx export (needs onnxruntime)")
    p.add_argument("--device", default="auto",
                   help="with --engine learned: auto (default), cpu, cuda, cuda:1...")
    add_closeup_options(p)
    from .cli_chat import add_interpreter_args

    add_interpreter_args(p)
    add_output_options(p, report_help="write a JSON report here")
    return p


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS and not Path(argv[0]).exists():
        return importlib.import_module(f".{SUBCOMMANDS[argv[0]]}", __package__).main(argv[1:])
    args = _build_parser().parse_args(argv)
    return guarded(lambda: _retouch_command(args), str(args.input))


def _retouch_command(args: argparse.Namespace) -> int:
    from .imageio import load_image, save_image
    from .pipeline import retouch

    by_words = args.instruction is not None or args.plan is not None
    if by_words:
        if args.instruction is not None and args.plan is not None:
            raise InvalidInputError("give --instruction or --plan, not both")
        if args.only or args.keep or args.strength != 0.8:
            raise InvalidInputError("--instruction/--plan replace --only, --keep and --strength; "
                                    "say it in the instruction (e.g. \"remove only the acne, a "
                                    "little\")")
    if args.engine == "learned" and by_words:
        raise InvalidInputError("--instruction/--plan work with the built-in engine only; "
                                "use --only/--keep/--strength with --engine learned")
    if args.closeup and (by_words or args.engine == "learned"):
        raise InvalidInputError("--closeup works with --only/--keep/--strength and the built-in "
                                "engine only")
    if args.face_size is not None and not args.closeup:
        raise InvalidInputError("--face-size is a --closeup setting")
    if args.face_size is not None and not (args.face_size >= 8 and args.face_size < 1e7):
        raise InvalidInputError(f"--face-size must be a number of pixels >= 8; got "
                                f"{args.face_size}")
    if (args.engine == "learned") != (args.checkpoint is not None):
        raise InvalidInputError("--engine learned needs --checkpoint PATH, and --checkpoint "
                                "needs --engine learned")
    if not 0.0 <= args.strength <= 1.0:
        raise InvalidInputError(f"--strength must be in [0, 1]; got {args.strength}")
    if not 0.0 <= args.sensitivity <= 1.0:
        raise InvalidInputError(f"--sensitivity must be in [0, 1]; got {args.sensitivity}")
    dests = output_paths(args)
    out_path = dests["output"]
    if args.masks:
        mdir = Path(args.masks)
        if mdir.exists() and not mdir.is_dir():
            raise OutputError(f"{mdir}: --masks must be a folder")
        check_output_dir(mdir, "masks")  # the folder is created; its parent must exist
    engine = None  # loaded before the photo, so a missing model fails fast
    if args.engine == "learned":
        from .learn.engine import LearnedEngine

        engine = LearnedEngine.load(args.checkpoint, device=args.device)
    if args.masks:
        dests.update({f"masks/{n}.png": Path(args.masks) / f"{n}.png"
                      for n in ("removed", *IMPERFECTION_TYPES)})
    if args.input == "sample" and not Path("sample").exists():
        from .sample import sample_face

        sample_in = out_path.with_name(out_path.stem + "_input.png")
        check_destinations(None, {**dests, "sample input": sample_in})
        data = load_image(sample_face())
        save_image(sample_in, data.pixels)
    else:
        check_destinations(args.input, dests, overwrite="output" if args.overwrite else None)
        data = load_image(args.input, max_pixels=args.max_pixels)
    plan = interpreter = None
    if args.plan is not None:
        from .plan import Plan

        plan = Plan.from_json(read_small_file(args.plan, "plan"))
    elif args.instruction is not None:
        from .cli_chat import interpreter_from_args

        interpreter = interpreter_from_args(args)
    t0 = time.perf_counter()
    if by_words:
        result = retouch(data, instruction=args.instruction, plan=plan, interpreter=interpreter,
                         sensitivity=args.sensitivity)
    else:
        result = retouch(data, strength=args.strength, only=args.only, keep=args.keep,
                         sensitivity=args.sensitivity, engine=engine, closeup=args.closeup,
                         face_size=args.face_size)
    t1 = time.perf_counter()
    save_image(out_path, result.image, source=data, alpha=result.alpha,
               quality=args.quality, overwrite_input=args.overwrite)
    result.report["timings_ms"]["save"] = round((time.perf_counter() - t1) * 1000, 2)
    result.report["output"] = str(out_path)
    if args.masks:
        mdir = Path(args.masks)
        mdir.mkdir(exist_ok=True)
        for name, m in result.masks.items():
            save_image(mdir / f"{name}.png", m)  # (H, W) uint8: 8-bit grayscale PNG
    if args.report:
        atomic_write_bytes(Path(args.report),
                            json.dumps(result.report, indent=2).encode("utf-8"))
    if by_words:
        ins = result.report["instruction"]
        for w in ins.get("warnings", []):
            print(f"retouch: warning: {w}", file=sys.stderr)
        if ins.get("not_understood"):
            print("retouch: warning: did not understand '" + "', '".join(ins["not_understood"])
                  + "'", file=sys.stderr)
        if not args.quiet:
            print(f"{out_path}: {ins['reply']} ({(t1 - t0) * 1000:.0f} ms)")
        return 0
    if not args.quiet:
        rep = result.report
        found = {k: v for k, v in rep["summary"].items() if v["found"]}
        n_faces = sum(1 for f in rep["faces"] if f["retouched"])
        msg = f"{out_path}: {_faces_line(rep, n_faces, args.closeup)}"
        if found:
            msg += "; " + ", ".join(f"{k} {v['removed']}/{v['found']}"
                                    for k, v in found.items())
        n_left = sum(im.get("kept_reason") == NOT_CONTAINED for im in rep["imperfections"])
        if n_left:
            msg += f"; {n_left} left as part of an edge or a hair (not contained)"
        msg += f" ({(t1 - t0) * 1000:.0f} ms)"
        print(msg)
    return 0


def main() -> None:
    """Console-script entry point (see :func:`retouch.cli_common.quiet_process`)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    quiet_process()
    tune_allocator()
    try:
        code = run()
    except Terminated:  # outside a command's own handler (while starting up)
        print("retouch: terminated", file=sys.stderr)
        code = 143
    except KeyboardInterrupt:
        print("retouch: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
