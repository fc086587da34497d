"""The two-stage trainer: clean-face prior pretraining, then semi-supervised retouching.

Stage ``prior`` (``train.prior_steps``): the VQ prior learns to reconstruct clean
faces (L1 + codebook/commitment). Stage ``main`` (``train.steps``): the prior
is frozen; localization, encoder, selective transformer and decoder train on
each step's pairs, unpaired raw faces and unpaired clean faces (see
:class:`~retouch.learn.config.LossConfig`), against a patch discriminator.

Everything a run writes goes to ``train.out_dir``:

* ``checkpoints/last.pt`` and ``checkpoints/{stage}_{step:07d}.pt`` (the newest
  ``keep_ckpts`` of them), format in :mod:`retouch.learn.checkpoint`;
* ``log.jsonl``: one JSON object per logged step (stage, step, losses averaged
  since the last log over steps and processes, images/s, peak GPU memory);
* ``samples/{stage}_{step:07d}.png``: rows of fixed pairs, columns source |
  prior reconstruction | predicted mask | output | target;
* ``config.json``: the resolved config.

Multi-GPU: launch with ``torchrun --nproc_per_node N -m retouch.cli train
retouchformer CONFIG``; every process reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``,
joins the process group (NCCL on GPUs, gloo on the CPU) and wraps the trained
modules in ``DistributedDataParallel``; ``batch_size`` is per process. Only
rank 0 writes files.

Determinism: the model is initialized from ``train.seed``, every step reseeds
torch from ``(seed, stage, step)``, and the data of a step depends only on the
seed and the step (:mod:`retouch.learn.data`); a resumed run therefore
continues exactly where the interrupted one was (bit-identical on the CPU;
GPU kernels may add nondeterminism of their own).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._deps import require_torch
from .checkpoint import read_checkpoint, save_checkpoint
from .config import RetouchFormerConfig

STAGES = ("prior", "main")


def _f(t: Any) -> float:
    """A scalar tensor's value as a Python float (detached)."""
    return float(t.detach()) if hasattr(t, "detach") else float(t)


def _select_device(spec: str, local_rank: int) -> Any:
    torch = require_torch()
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"train.device {spec!r}: no CUDA GPU is available")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def _amp_dtype(mode: str, device: Any) -> Any:
    torch = require_torch()
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


class Trainer:
    """Train (or resume training) a RetouchFormer from a config.

    Args:
        cfg: the experiment (checked here).
        resume: ``None``/``False`` to start fresh (refused when ``out_dir`` has a
            checkpoint already), ``True`` to continue from
            ``out_dir/checkpoints/last.pt`` when it exists, or a checkpoint path.
        log: where progress lines go (rank 0 only); ``None`` is silent.
    """

    def _setup_process(self, cfg: Any, torch: Any, log: Callable[[str], None] | None) -> None:
        """Check ``cfg``; pick the device; join the process group under ``torchrun``
        (``WORLD_SIZE`` > 1); set the rank-0 logger, output folder, AMP dtype and seed.

        Shared by every trainer (the RetouchFormer one and the restorer's).
        """
        cfg.check()
        self.cfg, self.torch = cfg, torch
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = _select_device(cfg.train.device, local_rank)
        if self.world > 1 and not torch.distributed.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            torch.distributed.init_process_group(
                backend="nccl" if self.device.type == "cuda" else "gloo")
        self.is_main = self.rank == 0
        self._log = log if self.is_main else None
        self.out = Path(cfg.train.out_dir)
        self.amp_dtype = _amp_dtype(cfg.train.amp, self.device)
        torch.manual_seed(cfg.train.seed)

    def __init__(self, cfg: RetouchFormerConfig, *, resume: bool | str | Path | None = None,
                 log: Callable[[str], None] | None = print) -> None:
        torch = require_torch()
        from .data import TrainingData
        from .model import PatchDiscriminator, RetouchFormer

        self._setup_process(cfg, torch, log)
        self.model = RetouchFormer(cfg.model, cfg.loss.commitment).to(self.device)
        self.disc = PatchDiscriminator(cfg.model).to(self.device)
        t = cfg.train
        prior_params = list(self.model.prior.parameters())
        prior_ids = {id(p) for p in prior_params}
        g_params = [p for p in self.model.parameters() if id(p) not in prior_ids]
        self.opt = {
            "prior": torch.optim.Adam(prior_params, lr=t.prior_lr, betas=tuple(t.betas)),
            "g": torch.optim.Adam(g_params, lr=t.lr, betas=tuple(t.betas)),
            "d": torch.optim.Adam(self.disc.parameters(), lr=t.disc_lr, betas=tuple(t.betas)),
        }
        use_scaler = self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.stage, self.step = STAGES[0], 0
        self.last_saved: tuple[str, int] | None = None
        self._ddp: dict[str, Any] = {}

        ck_path = self._resume_path(resume)
        if ck_path is not None:
            self._load(ck_path)
        elif cfg.train.init_from:
            self._init_from(cfg.train.init_from)
        self.data = TrainingData(cfg.data, cfg.model.image_size, cfg.model.framing, t.seed)
        self._say(f"data: {json.dumps(self.data.summary())}; device {self.device}, "
                  f"{self.world} process(es), amp {self.amp_dtype}")

    # -- bookkeeping ------------------------------------------------------------
    def _say(self, msg: str) -> None:
        if self._log is not None:
            self._log(msg)

    def _resume_path(self, resume: bool | str | Path | None) -> Path | None:
        last = self.out / "checkpoints" / "last.pt"
        if resume is None or resume is False:
            if last.exists():
                raise InvalidInputError(
                    f"{last} exists: pass --resume to continue that run, or choose another "
                    "train.out_dir")
            return None
        if resume is True:
            return last if last.exists() else None
        return Path(resume)

    def _load(self, path: Path) -> None:
        ck = read_checkpoint(path)
        saved = RetouchFormerConfig.from_dict(ck["config"]).model
        if saved != self.cfg.model:
            raise InvalidInputError(f"{path}: its model config differs from this config's; "
                                    "resume with the same model section")
        self.model.load_state_dict(ck["model"])
        if ck.get("disc") is not None:
            self.disc.load_state_dict(ck["disc"])
        for k, opt in self.opt.items():
            if ck.get("optim", {}).get(k) is not None:
                opt.load_state_dict(ck["optim"][k])
        if ck.get("scaler"):
            self.scaler.load_state_dict(ck["scaler"])
        self.stage, self.step = ck["stage"], int(ck["step"])
        self._say(f"resumed from {path}: stage {self.stage}, step {self.step}")

    def _init_from(self, path: str) -> None:
        ck = read_checkpoint(path)
        missing, unexpected = self.model.load_state_dict(ck["model"], strict=False)
        if unexpected or missing:
            raise InvalidInputError(f"{path}: train.init_from weights do not fit this model "
                                    f"({len(missing)} missing, {len(unexpected)} unexpected keys)")
        if ck["stage"] in ("main", "done"):
            # The weights come from the retoucher stage, so their prior is trained: skip it.
            self.stage = "main"
        self._say(f"initialized from {path} (its stage {ck['stage']}, step {ck['step']})")

    def state(self) -> dict[str, Any]:
        """The checkpoint payload of the current state (see :mod:`retouch.learn.checkpoint`)."""
        return {
            "config": self.cfg.to_dict(), "stage": self.stage, "step": self.step,
            "model": self.model.state_dict(), "disc": self.disc.state_dict(),
            "optim": {k: o.state_dict() for k, o in self.opt.items()},
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
        }

    def save(self) -> Path | None:
        """Write ``last.pt`` and a numbered checkpoint (rank 0); returns the numbered path."""
        if not self.is_main:
            return None
        ck_dir = self.out / "checkpoints"
        path = ck_dir / f"{self.stage}_{self.step:07d}.pt"
        payload = self.state()
        self.last_saved = (self.stage, self.step)
        save_checkpoint(path, payload)
        save_checkpoint(ck_dir / "last.pt", payload)
        old = sorted(p for p in ck_dir.glob("*_???????.pt"))
        for p in old[:-max(1, self.cfg.train.keep_ckpts)]:
            p.unlink()
        return path

    # -- helpers ------------------------------------------------------------------
    def _wrapped(self, name: str, module: Any) -> Any:
        if self.world == 1:
            return module
        if name not in self._ddp:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp[name] = DistributedDataParallel(module, device_ids=ids)
        return self._ddp[name]

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return self.torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _loader(self, stage: str, stop: int) -> Any:
        from torch.utils.data import DataLoader

        from .data import StepDataset

        ds = StepDataset(self.data, stage, self.step, stop, self.cfg.train.batch_size, self.rank)
        nw = self.cfg.data.num_workers
        return DataLoader(ds, batch_size=self.cfg.train.batch_size, shuffle=False,
                          num_workers=nw, persistent_workers=False,
                          pin_memory=self.device.type == "cuda",
                          prefetch_factor=4 if nw > 0 else None)

    def _reseed(self) -> None:
        stage_id = STAGES.index(self.stage) + 1
        self.torch.manual_seed(int(np.random.SeedSequence(
            [self.cfg.train.seed, stage_id, self.step]).generate_state(1)[0]))

    def _optimize(self, opt_name: str, loss: Any, params: list[Any]) -> None:
        opt = self.opt[opt_name]
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.train.grad_clip > 0:
            self.scaler.unscale_(opt)
            self.torch.nn.utils.clip_grad_norm_(params, self.cfg.train.grad_clip)
        self.scaler.step(opt)

    # -- stages ---------------------------------------------------------------------
    def prior_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimization step of the clean-face prior; returns the losses."""
        lc = self.cfg.loss
        prior = self._wrapped("prior", self.model.prior)
        clean = batch["clean"]
        with self._autocast():
            out = prior(clean)
            rec = (out.recon.float() - clean).abs().mean()
            loss = lc.prior_rec * rec + lc.prior_vq * out.quant.loss
        self._optimize("prior", loss, list(self.model.prior.parameters()))
        self.scaler.update()
        return {"loss": _f(loss), "rec_l1": _f(rec), "vq": _f(out.quant.loss),
                "perplexity": _f(out.quant.perplexity)}

    def main_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One step of the retoucher (generator, then discriminator); returns the losses."""
        from .losses import (
            difference_mask,
            hinge_d,
            hinge_g,
            mask_entropy,
            multiscale_mask_loss,
            ssim,
        )

        torch, lc = self.torch, self.cfg.loss
        src, tgt = batch["source"], batch["target"]
        raw, clean = batch.get("raw"), batch.get("clean")
        b = src.shape[0]
        parts = [src] + ([raw] if raw is not None else []) + ([clean] if clean is not None else [])
        gen = self._wrapped("gen", self.model)
        adv_on = lc.adv > 0 and self.step >= lc.adv_start
        d_params = list(self.disc.parameters())
        logs: dict[str, float] = {}
        with self._autocast():
            out = gen(torch.cat(parts, 0))
            img = out.image.float()
            masks = [m.float() for m in out.masks]
            y_p = img[:b]
            m_gt = difference_mask(src, tgt, lc.mask_lo, lc.mask_hi)
            l1 = (y_p - tgt).abs().mean()
            l_ssim = 1.0 - ssim(y_p, tgt)
            l_mask = multiscale_mask_loss([m[:b] for m in masks], m_gt)
            loss = lc.l1 * l1 + lc.ssim * l_ssim + lc.mask * l_mask
            logs.update(l1=_f(l1), ssim=_f(l_ssim), mask=_f(l_mask))
            k = b
            fakes = [y_p]
            if raw is not None:
                ent = mask_entropy([m[k:k + b] for m in masks])
                loss = loss + lc.entropy * ent
                logs["entropy"] = _f(ent)
                fakes.append(img[k:k + b])
                k += b
            if clean is not None:
                c_mask = sum(m[k:k + b].mean() for m in masks) / len(masks)
                c_rec = (img[k:k + b] - clean).abs().mean()
                loss = loss + lc.clean_mask * c_mask + lc.clean_rec * c_rec
                logs.update(clean_mask=_f(c_mask), clean_rec=_f(c_rec))
            fake = torch.cat(fakes, 0)
            if adv_on:
                for p in d_params:
                    p.requires_grad_(False)
                g_adv = hinge_g(self.disc(fake))
                for p in d_params:
                    p.requires_grad_(True)
                loss = loss + lc.adv * g_adv
                logs["g_adv"] = _f(g_adv)
        g_params = [p for p in self.model.parameters() if p.requires_grad]
        self._optimize("g", loss, g_params)
        logs["loss"] = _f(loss)
        if adv_on:
            real = torch.cat([tgt] + ([clean] if clean is not None else []), 0)
            disc = self._wrapped("disc", self.disc)
            with self._autocast():
                logits = disc(torch.cat([real, fake.detach()], 0))
                d_loss = hinge_d(logits[:real.shape[0]], logits[real.shape[0]:])
            self._optimize("d", d_loss, d_params)
            logs["d"] = _f(d_loss)
        self.scaler.update()
        return logs

    def _enter_main(self) -> None:
        self.model.prior.eval()
        for p in self.model.prior.parameters():
            p.requires_grad_(False)

    def run(self) -> list[dict[str, Any]]:
        """Run the remaining steps of every stage; returns the logged records."""
        torch = self.torch
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2))
        records: list[dict[str, Any]] = []
        while self.stage != "done":
            total = self.cfg.train.prior_steps if self.stage == "prior" \
                else self.cfg.train.steps
            if self.stage == "main":
                self._enter_main()
                self.model.train()
                self.model.prior.eval()
            else:
                self.model.prior.train()
            if self.step < total:
                records += self._run_stage(total)   # saves at the stage's last step
            self.stage = "main" if self.stage == "prior" else "done"
            self.step = 0
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.barrier()
        return records

    def _run_stage(self, total: int) -> list[dict[str, Any]]:
        torch, t = self.torch, self.cfg.train
        step_fn = self.prior_step if self.stage == "prior" else self.main_step
        acc: dict[str, list[float]] = {}
        records: list[dict[str, Any]] = []
        t_last, n_img = time.perf_counter(), 0
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        for batch in self._loader(self.stage, total):
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            self._reseed()
            logs = step_fn(batch)
            self.step += 1
            n_img += t.batch_size * self.world
            for k, v in logs.items():
                acc.setdefault(k, []).append(v)
            if self.step % t.log_every == 0 or self.step == total:
                rec = self._record(acc, n_img, time.perf_counter() - t_last)
                records.append(rec)
                acc, t_last, n_img = {}, time.perf_counter(), 0
            if self.is_main and t.sample_every > 0 and (self.step % t.sample_every == 0
                                                       or self.step == total):
                self.sample_grid()
            if (t.ckpt_every > 0 and self.step % t.ckpt_every == 0) or self.step == total:
                self.save()
        return records

    def _record(self, acc: dict[str, list[float]], n_img: int, dt: float) -> dict[str, Any]:
        torch = self.torch
        names = sorted(acc)
        vals = torch.tensor([float(np.mean(acc[k])) for k in names], dtype=torch.float64)
        if self.world > 1:
            vals = vals.to(self.device) if self.device.type == "cuda" else vals
            torch.distributed.all_reduce(vals)
            vals = vals.cpu() / self.world
        rec: dict[str, Any] = {"stage": self.stage, "step": self.step,
                               **{k: round(float(v), 6) for k, v in zip(names, vals, strict=True)},
                               "img_per_s": round(n_img / max(dt, 1e-9), 3)}
        if self.device.type == "cuda":
            rec["gpu_mem_gb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 3)
        if self.is_main:
            with open(self.out / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            self._say(f"[{self.stage} {self.step}] " + " ".join(
                f"{k}={v:.4g}" for k, v in rec.items() if k not in ("stage", "step")))
        return rec

    def sample_grid(self) -> Path:
        """Write ``samples/{stage}_{step}.png`` for the fixed sample pairs; returns its path."""
        torch = self.torch
        n = max(1, self.cfg.train.samples)
        items = [self.data.sample("fixed", 0, i) for i in range(n)]

        def t(arr: np.ndarray) -> Any:
            return torch.from_numpy(arr.transpose(2, 0, 1).astype(np.float32) / 255.0)

        src = torch.stack([t(it["source"]) for it in items]).to(self.device)
        tgt = torch.stack([t(it["target"]) for it in items]).to(self.device)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            if self.stage == "prior":
                cols = [tgt, self.model.prior(tgt, with_stats=False).recon]
            else:
                out = self.model(src)
                cols = [src, out.recon, out.masks[0].expand(-1, 3, -1, -1), out.image, tgt]
        self.model.train(was_training)
        if self.stage == "main":
            self.model.prior.eval()
        return self._save_sample_grid(cols, n)

    def _save_sample_grid(self, cols: list[Any], n: int) -> Path:
        """Save ``n`` rows of the ``(N, 3, H, W)`` tensors ``cols`` side by side as
        ``out/samples/{stage}_{step}.png``; returns its path."""
        from PIL import Image

        torch = self.torch
        rows = [torch.cat([c[i] for c in cols], dim=2) for i in range(n)]
        grid = torch.cat(rows, dim=1).clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        path = self.out / "samples" / f"{self.stage}_{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.rint(grid * 255).astype(np.uint8)).save(path)
        return path


def train(cfg: RetouchFormerConfig, *, resume: bool | str | Path | None = None,
          log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """Train ``cfg`` to the end (see :class:`Trainer`); returns the logged records."""
    return run_to_end(Trainer(cfg, resume=resume, log=log))


def run_to_end(trainer: Any) -> list[dict[str, Any]]:
    """``trainer.run()``, then leave the process group (under ``torchrun``) whatever happens."""
    try:
        return trainer.run()
    finally:
        torch = trainer.torch
        if trainer.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
