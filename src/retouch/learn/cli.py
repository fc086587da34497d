"""Command-line entry points of RetouchFormer (dispatched by :mod:`retouch.cli_models`).

* ``retouch train retouchformer CONFIG [--out DIR] [--resume [CK]] ...``
* ``retouch eval retouchformer --data DIR --checkpoint CK [--lpips-weights F ...]``
* ``retouch export retouchformer --checkpoint CK -o model.onnx``

Each returns the CLI exit code (0 success, 2 bad input, 3 output problem, 4
missing dependency, 1 other) and reports errors as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cli_common import check_output_dir, guarded
from ..errors import InvalidInputError, OutputError


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="retouch train retouchformer",
        description="Train RetouchFormer: pretrain the clean-face prior, then the retoucher "
        "(semi-supervised). Multi-GPU: torchrun --nproc_per_node N -m retouch.cli train "
        "retouchformer CONFIG. See docs/learned.md.")
    p.add_argument("config", help="YAML/JSON config file, or a preset: tiny, paper512")
    p.add_argument("--out", help="output folder (overrides train.out_dir)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CK",
                   help="continue from CK, or from OUT/checkpoints/last.pt when no CK is given")
    p.add_argument("--steps", type=int, help="retoucher steps (train.steps)")
    p.add_argument("--prior-steps", type=int, help="prior pretraining steps (train.prior_steps)")
    p.add_argument("--paired-fraction", type=float,
                   help="share of FFHQR pairs used as pairs (data.paired_fraction)")
    p.add_argument("--ffhqr", help="FFHQR face_retouching folder (data.ffhqr)")
    p.add_argument("--synthetic", action="append", default=None, metavar="DIR",
                   help="clean face photos to plant blemishes on (data.synthetic_dirs; repeat)")
    p.add_argument("--raw", action="append", default=None, metavar="DIR",
                   help="unpaired raw faces (data.raw_dirs; repeat)")
    p.add_argument("--clean", action="append", default=None, metavar="DIR",
                   help="unpaired clean faces (data.clean_dirs; repeat)")
    add_train_options(p, set_example="--set loss.adv=0 --set model.depth=4")
    return p


#: ``--flag`` -> config key, for the training options every model shares.
COMMON_TRAIN_FLAGS = (("out", "train.out_dir"), ("device", "train.device"),
                      ("amp", "train.amp"), ("seed", "train.seed"))


def add_train_options(p: argparse.ArgumentParser, *, set_example: str) -> None:
    """Options every ``retouch train MODEL`` shares (device, AMP, seed, --set, export...)."""
    p.add_argument("--device", help="auto, cpu, cuda... (train.device)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), help="(train.amp)")
    p.add_argument("--seed", type=int, help="(train.seed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"any config value, e.g. {set_example} (repeat)")
    p.add_argument("--export-weights", metavar="PATH",
                   help="at the end, also write a weights-only checkpoint here")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config as JSON and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def flag_overrides(args: argparse.Namespace, flags: tuple[tuple[str, str], ...]) -> list[str]:
    """``KEY=JSON`` overrides from the given flags (those set), before ``--set`` ones
    (so an explicit ``--set`` wins)."""
    sets = list(args.set)
    for flag, key in (*COMMON_TRAIN_FLAGS, *flags):
        v = getattr(args, flag)
        if v is not None:
            sets.insert(0, f"{key}={json.dumps(v)}")
    return sets


def run_trainer(trainer: Any, args: argparse.Namespace, out_dir: str,
                export: Callable[[Any], None]) -> int:
    """Run ``trainer``; then ``export(trainer)`` when ``--export-weights`` was given (main
    process only); always tear down the process group of a multi-process run."""
    try:
        trainer.run()
        if args.export_weights and trainer.is_main:
            export(trainer)
    finally:
        torch = trainer.torch
        if trainer.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if not args.quiet and trainer.is_main:
        print(f"done: checkpoints in {Path(out_dir) / 'checkpoints'}")
    return 0


def train_main(argv: list[str]) -> int:
    """``retouch train retouchformer``."""
    args = _train_parser().parse_args(argv)
    return guarded(lambda: _train(args), str(args.config))


def _train(args: argparse.Namespace) -> int:
    from .config import apply_overrides, load_config

    cfg = load_config(args.config)
    sets = flag_overrides(args, (("steps", "train.steps"), ("prior_steps", "train.prior_steps"),
                                 ("paired_fraction", "data.paired_fraction"),
                                 ("ffhqr", "data.ffhqr"), ("synthetic", "data.synthetic_dirs"),
                                 ("raw", "data.raw_dirs"), ("clean", "data.clean_dirs")))
    cfg = apply_overrides(cfg, sets)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    if args.export_weights:
        Path(cfg.train.out_dir).mkdir(parents=True, exist_ok=True)
        check_output_dir(Path(args.export_weights), "--export-weights")
    from .train import Trainer

    trainer = Trainer(cfg, resume=args.resume, log=None if args.quiet else print)

    def export(tr: Any) -> None:
        from .checkpoint import save_weights

        stage, step = tr.last_saved or ("main", 0)
        save_weights(args.export_weights, tr.model, cfg, stage, step)

    return run_trainer(trainer, args, cfg.train.out_dir, export)


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="retouch eval retouchformer",
        description="PSNR, SSIM and mask IoU of a checkpoint on an FFHQR-layout test split, "
        "each beside the input-vs-target baseline; LPIPS only with local weights.")
    p.add_argument("--data", required=True, help="face_retouching folder ({split}/source, "
                   "{split}/target)")
    p.add_argument("--checkpoint", required=True, help="a .pt checkpoint")
    p.add_argument("--split", default="test", help="split folder (default test)")
    p.add_argument("--limit", type=int, help="first N pairs only")
    p.add_argument("--resolution", choices=("model", "native"), default="model",
                   help="measure at the model size (default) or the files' size")
    p.add_argument("--threshold", type=float, default=4.0,
                   help="retouched pixel: max channel |target - source| > this many 8-bit "
                   "levels (default 4)")
    p.add_argument("--lpips-weights", action="append", default=[], metavar="PATH",
                   help="AlexNet backbone and LPIPS linear-layer weights (.pth; repeat); "
                   "without them LPIPS is not computed")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda...")
    p.add_argument("--json", metavar="PATH", help="write every number (and per image) here")
    return p


def eval_main(argv: list[str]) -> int:
    """``retouch eval retouchformer``."""
    args = _eval_parser().parse_args(argv)
    return guarded(lambda: _eval(args), str(args.checkpoint))


def _eval(args: argparse.Namespace) -> int:
    from ._deps import require_torch

    torch = require_torch("retouch eval retouchformer")
    from .checkpoint import load_model
    from .evaluate import evaluate, torch_predictor, write_json

    if args.json:
        check_output_dir(Path(args.json), "--json")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model, cfg, meta = load_model(args.checkpoint, device)
    lpips = None
    if args.lpips_weights:
        from .lpips import load_lpips

        lpips = load_lpips(args.lpips_weights, device)
    t0 = time.perf_counter()
    res = evaluate(torch_predictor(model, device), cfg.model.image_size, args.data,
                   split=args.split, limit=args.limit, resolution=args.resolution,
                   threshold=args.threshold / 255.0, lpips=lpips, lpips_device=device)
    dt = time.perf_counter() - t0
    where = (f"the model size {cfg.model.image_size} px" if args.resolution == "model"
             else "native size")
    print(f"retouchformer eval: {res.n} pair(s) of {args.data} [{args.split}] at {where}; "
          f"checkpoint {args.checkpoint} (stage {meta['stage']}, step {meta['step']}); "
          f"{dt:.1f} s")
    print(res.table())
    if args.json:
        write_json(res, args.json, [("checkpoint", str(args.checkpoint)),
                                    ("step", meta["step"]), ("seconds", dt)])
    return 0


def _export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="retouch export retouchformer",
        description="Export the inference graph to ONNX (opset 17) and check that ONNX Runtime "
        "matches PyTorch on test inputs.")
    p.add_argument("--checkpoint", required=True, help="a .pt checkpoint")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--atol", type=float, default=1e-3,
                   help="largest allowed |onnxruntime - torch| (default 1e-3)")
    p.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime comparison")
    return p


def export_main(argv: list[str]) -> int:
    """``retouch export retouchformer``; exit 1 when the check fails."""
    args = _export_parser().parse_args(argv)
    return guarded(lambda: _export(args), str(args.checkpoint))


def _export(args: argparse.Namespace) -> int:
    from .checkpoint import load_model
    from .export import check_onnx, export_onnx

    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        raise InvalidInputError(f"{out}: the output must end in .onnx")
    check_output_dir(out, "output")
    if out.exists() and out.is_dir():
        raise OutputError(f"{out}: is a folder")
    model, cfg, meta = load_model(args.checkpoint, "cpu")
    export_onnx(model, cfg, out, stage=meta["stage"], step=meta["step"], opset=args.opset)
    print(f"{out}: exported ({out.stat().st_size / 1e6:.1f} MB, input 1x3x"
          f"{cfg.model.image_size}x{cfg.model.image_size})")
    if args.no_check:
        return 0
    chk = check_onnx(model, out, cfg.model.image_size, atol=args.atol)
    print("onnxruntime vs torch, max |diff|: " + ", ".join(
        f"{k} {v:.2e}" for k, v in chk.max_abs.items()) + f" (tolerance {chk.atol:g}): "
          + ("OK" if chk.passed else "FAILED"))
    if not chk.passed:
        print("retouch: error: ONNX Runtime output differs from PyTorch beyond the tolerance",
              file=sys.stderr)
        return 1
    return 0
