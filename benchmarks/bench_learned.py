"""Speed and memory of the learned retoucher on this machine's device.

    python benchmarks/bench_learned.py --config paper512 --steps 3
    python benchmarks/bench_learned.py --config tiny --steps 20 --batch 4

Measures, with random weights and random 0..1 inputs (speed does not depend on
the weights):

* training throughput of the retoucher stage (generator forward + backward +
  discriminator step, one pair + one raw + one clean image per batch slot),
  in pairs per second, after one warm-up step;
* inference time per face crop (the engine's ``infer`` step);
* peak memory: CUDA max allocated on a GPU, process peak RSS on the CPU.

Prints one JSON line. No data, no checkpoint, nothing downloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="paper512")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "off"))
    p.add_argument("--infer-runs", type=int, default=3)
    args = p.parse_args()

    import torch

    from retouch.learn.config import load_config
    from retouch.learn.losses import hinge_d, hinge_g, multiscale_mask_loss
    from retouch.learn.model import PatchDiscriminator, RetouchFormer
    from retouch.learn.train import _amp_dtype, _select_device

    cfg = load_config(args.config)
    dev = _select_device(args.device, 0)
    amp = _amp_dtype(args.amp, dev)
    torch.manual_seed(0)
    model = RetouchFormer(cfg.model).to(dev)
    disc = PatchDiscriminator(cfg.model).to(dev)
    for q in model.prior.parameters():
        q.requires_grad_(False)
    g_params = [q for q in model.parameters() if q.requires_grad]
    opt_g = torch.optim.Adam(g_params, lr=1e-4)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
    s, b = cfg.model.image_size, args.batch

    def ctx() -> contextlib.AbstractContextManager:
        return torch.autocast(dev.type, dtype=amp) if amp is not None \
            else contextlib.nullcontext()

    def step() -> None:
        x = torch.rand(3 * b, 3, s, s, device=dev)
        tgt = torch.rand(b, 3, s, s, device=dev)
        with ctx():
            out = model(x)
            loss = (out.image[:b].float() - tgt).abs().mean() + multiscale_mask_loss(
                [m[:b] for m in out.masks], torch.zeros(b, 1, s, s, device=dev))
            loss = loss + 0.01 * hinge_g(disc(out.image[:2 * b]))
        opt_g.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt_g)
        with ctx():
            logits = disc(torch.cat([tgt, out.image[:2 * b].detach()]))
            d_loss = hinge_d(logits[:b], logits[b:])
        opt_d.zero_grad(set_to_none=True)
        scaler.scale(d_loss).backward()
        scaler.step(opt_d)
        scaler.update()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    step()
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    train_s = (time.perf_counter() - t0) / args.steps
    train_mem = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None

    model.eval()
    x = torch.rand(1, 3, s, s, device=dev)
    with torch.no_grad():
        model(x)
        sync()
        t0 = time.perf_counter()
        for _ in range(args.infer_runs):
            model(x)
        sync()
    infer_s = (time.perf_counter() - t0) / args.infer_runs
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({
        "date": time.strftime("%Y-%m-%d"), "config": args.config, "image_size": s,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda"
        else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} "
             "threads)",
        "amp": str(amp), "batch": b,
        "params_m": round(sum(q.numel() for q in model.parameters()) / 1e6, 2),
        "train_step_s": round(train_s, 3), "train_pairs_per_s": round(b / train_s, 3),
        "infer_s_per_crop": round(infer_s, 3),
        "gpu_peak_train_gb": None if train_mem is None else round(train_mem, 2),
        "process_peak_rss_gb": round(rss_gb, 2),
    }))


if __name__ == "__main__":
    main()
