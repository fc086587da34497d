"""Command-line entry points of the learned restorer (dispatched by :mod:`retouch.cli_models`).

* ``retouch train restore CONFIG [--data DIR ...] [--out DIR] [--resume [CK]] ...``
* ``retouch eval restore --data DIR --checkpoint CK [--levels mild,medium,severe] ...``

Inference is ``retouch restore INPUT -o OUT --checkpoint CK`` (:mod:`retouch.cli_restore`).
Each returns the CLI exit code (0 success, 2 bad input, 3 output problem, 4
missing dependency, 1 other) and reports errors as one line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ...cli_common import check_output_dir, guarded
from ...errors import InvalidInputError
from ..cli import add_train_options, flag_overrides, run_trainer


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="retouch train restore",
        description="Train the VSPBFR-style restorer on clean faces (FFHQ layout) degraded on "
        "the fly: style space, then code diffuser, then restoration network. Multi-GPU: "
        "torchrun --nproc_per_node N -m retouch.cli train restore CONFIG. See docs/restore.md.")
    p.add_argument("config", help="YAML/JSON config file, or a preset: tiny, vspbfr512")
    p.add_argument("--data", action="append", default=None, metavar="DIR",
                   help="folder of clean aligned faces, FFHQ layout (data.dirs; repeat)")
    p.add_argument("--out", help="output folder (overrides train.out_dir)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CK",
                   help="continue from CK, or from OUT/checkpoints/last.pt when no CK is given")
    p.add_argument("--style-steps", type=int, help="(train.style_steps)")
    p.add_argument("--diffusion-steps", type=int, help="(train.diffusion_steps)")
    p.add_argument("--steps", type=int, help="restoration-network steps (train.steps)")
    add_train_options(p, set_example="--set data.ranges=hard")
    return p


def train_main(argv: list[str]) -> int:
    """``retouch train restore``."""
    args = _train_parser().parse_args(argv)
    return guarded(lambda: _train(args), str(args.config))


def _train(args: argparse.Namespace) -> int:
    from ..config import apply_overrides
    from .config import load_config

    cfg = load_config(args.config)
    sets = flag_overrides(args, (("data", "data.dirs"), ("style_steps", "train.style_steps"),
                                 ("diffusion_steps", "train.diffusion_steps"),
                                 ("steps", "train.steps")))
    cfg = apply_overrides(cfg, sets)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    if args.export_weights:
        check_output_dir(Path(args.export_weights), "--export-weights")
    from .train import RestoreTrainer

    trainer = RestoreTrainer(cfg, resume=args.resume, log=None if args.quiet else print)

    def export(tr: Any) -> None:
        from .checkpoint import save_restore_weights

        stage, step = tr.last_saved or (tr.stage, tr.step)
        save_restore_weights(args.export_weights, tr.model, cfg, stage, step)

    return run_trainer(trainer, args, cfg.train.out_dir, export)


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="retouch eval restore",
        description="PSNR and SSIM of a restorer checkpoint on clean faces degraded with fixed "
        "seeds, beside the degraded input's; LPIPS only with local weights.")
    p.add_argument("--data", required=True, help="folder of clean aligned faces (FFHQ layout)")
    p.add_argument("--checkpoint", required=True, help="a .pt checkpoint of `retouch train "
                   "restore`")
    p.add_argument("--levels", default="mild,medium,severe",
                   help="comma list of mild, medium, severe (fixed settings) and standard, hard "
                   "(a seeded random draw per face); default mild,medium,severe")
    p.add_argument("--seed", type=int, default=0, help="degradation and sampler seed (0)")
    p.add_argument("--limit", type=int, help="first N faces only")
    p.add_argument("--prep-size", type=int,
                   help="side at which faces are degraded (default: the checkpoint's "
                   "data.prep_size)")
    p.add_argument("--sample-steps", type=int, help="DDIM steps (default: the checkpoint's)")
    p.add_argument("--lpips-weights", action="append", default=[], metavar="PATH",
                   help="AlexNet backbone and LPIPS linear-layer weights (.pth; repeat); "
                   "without them LPIPS is not computed")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda...")
    p.add_argument("--json", metavar="PATH", help="write every number (and per face) here")
    return p


def eval_main(argv: list[str]) -> int:
    """``retouch eval restore``."""
    args = _eval_parser().parse_args(argv)
    return guarded(lambda: _eval(args), str(args.checkpoint))


def _eval(args: argparse.Namespace) -> int:
    from .._deps import require_torch

    torch = require_torch("retouch eval restore")
    from ...degrade import LEVELS
    from .checkpoint import load_restorer
    from .evaluate import RANDOM_LEVELS, evaluate_restore, torch_restore_predictor

    levels = [v.strip() for v in args.levels.split(",") if v.strip()]
    known = list(LEVELS) + list(RANDOM_LEVELS)
    bad = [v for v in levels if v not in known]
    if not levels or bad:
        raise InvalidInputError(f"--levels: unknown level(s) {', '.join(bad) or '(none)'}; "
                                f"expected some of {', '.join(known)}")
    if args.json:
        check_output_dir(Path(args.json), "--json")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model, cfg, meta = load_restorer(args.checkpoint, device)
    prep = args.prep_size or cfg.data.prep_size
    if prep < cfg.model.image_size:
        raise InvalidInputError(f"--prep-size {prep} is below the model size "
                                f"{cfg.model.image_size}")
    lpips = None
    if args.lpips_weights:
        from ..lpips import load_lpips

        lpips = load_lpips(args.lpips_weights, device)
    t0 = time.perf_counter()
    try:
        res = evaluate_restore(
            torch_restore_predictor(model, device, seed=args.seed, steps=args.sample_steps),
            cfg.model.image_size, args.data, prep_size=prep, levels=levels, seed=args.seed,
            limit=args.limit, lpips=lpips, lpips_device=device)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    dt = time.perf_counter() - t0
    print(f"restore eval: {res.info['faces']} face(s) of {args.data}, degraded at {prep} px, "
          f"measured at the model size {cfg.model.image_size} px; checkpoint {args.checkpoint} "
          f"(stage {meta['stage']}, step {meta['step']}); {dt:.1f} s")
    print(res.table())
    if args.json:
        d = res.to_dict()
        d.update(checkpoint=str(args.checkpoint), step=meta["step"], seconds=dt)
        Path(args.json).write_text(json.dumps(d, indent=2, default=float))
    return 0
