"""The three-stage trainer of the learned restorer (style space, code diffuser, restorer).

Stages, run in order (each resumable):

1. ``style`` (``train.style_steps``): style encoder ``E`` + generator ``G``
   reconstruct clean faces through their codes (``style_l1`` + ``style_ssim``).
2. ``diffusion`` (``train.diffusion_steps``): ``E`` frozen; the code diffuser
   learns to denoise ``z_t`` (noised ``E(clean)``) given ``E(degraded)``
   (mean squared error on the clean code, or on the noise).
3. ``restore`` (``train.steps``): ``E`` and the diffuser frozen; for each
   degraded face the clean code is *sampled* with DDIM exactly as at inference,
   and the restoration UNet learns ``l1`` + ``ssim`` + ``code`` (frozen-encoder
   codes of the output vs the clean face) + ``adv`` (hinge, patch
   discriminator, from ``loss.adv_start``).

This reuses RetouchFormer's trainer (:class:`retouch.learn.train.Trainer`):
device and AMP selection, DDP set-up and wrapping, the ``StepDataset``
loader (this module's data implements its ``kinds``/``sample`` protocol),
optimizer steps with loss scaling and clipping, log records
(``log.jsonl``), and checkpoint writing/rotation (``checkpoints/last.pt``
and ``checkpoints/{stage}_{step:07d}.pt``, format in
:mod:`retouch.learn.restore.checkpoint`). Sample grids go to
``samples/{stage}_{step:07d}.png``.

Determinism: model init from ``train.seed``; torch reseeded from
``(seed, stage, step)`` before every step; data from ``(seed, kind, step,
slot)``. Per-sample random draws (diffusion timesteps and noise, the DDIM
starting noise of the restoration stage) are made for the whole global batch
and sliced by rank, so ``N`` DDP processes with batch ``B`` see the same
samples *and* noise as one process with batch ``N * B``. A resumed run
continues exactly as the uninterrupted one (bit-identical on the CPU).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidInputError
from .._deps import require_torch
from ..train import Trainer, _f, run_to_end
from .checkpoint import FORMAT, STAGES, read_restore_checkpoint
from .config import RestoreConfig


class RestoreTrainer(Trainer):
    """Train (or resume) a VSPBFR-style restorer from a :class:`RestoreConfig`.

    Args:
        cfg: the experiment (checked here).
        resume: ``None``/``False`` fresh (refused when ``out_dir`` has a
            checkpoint), ``True`` continue from ``out_dir/checkpoints/last.pt``
            when it exists, or a checkpoint path.
        log: where progress lines go (rank 0 only); ``None`` is silent.
    """

    def __init__(self, cfg: RestoreConfig, *, resume: bool | str | Path | None = None,
                 log: Callable[[str], None] | None = print) -> None:
        # Not Trainer.__init__ (it builds RetouchFormer); the attributes its inherited
        # methods use are set here.
        torch = require_torch()
        from ..model import PatchDiscriminator
        from .data import RestoreData
        from .network import VSPBFR

        self._setup_process(cfg, torch, log)
        self.model = VSPBFR(cfg.model).to(self.device)
        self.disc = PatchDiscriminator(cfg.model).to(self.device)
        t, m = cfg.train, self.model
        betas = tuple(t.betas)
        self.opt = {
            "style": torch.optim.Adam(m.style.parameters(), lr=t.style_lr, betas=betas),
            "diffusion": torch.optim.Adam(m.diffuser.parameters(), lr=t.diffusion_lr,
                                          betas=betas),
            "restore": torch.optim.Adam(m.restorer.parameters(), lr=t.lr, betas=betas),
            "d": torch.optim.Adam(self.disc.parameters(), lr=t.disc_lr, betas=(0.5, 0.999)),
        }
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=self.amp_dtype == torch.float16)
        self.stage, self.step = STAGES[0], 0
        self.last_saved: tuple[str, int] | None = None
        self._ddp: dict[str, Any] = {}
        ck_path = self._resume_path(resume)
        if ck_path is not None:
            self._load(ck_path)
        self.data = RestoreData(cfg.data, cfg.model.image_size, cfg.model.framing, t.seed)
        self._say(f"data: {json.dumps(self.data.summary())}; device {self.device}, "
                  f"{self.world} process(es), amp {self.amp_dtype}")

    # -- checkpoints --------------------------------------------------------------
    def _load(self, path: Path) -> None:
        ck = read_restore_checkpoint(path)
        saved = RestoreConfig.from_dict(ck["config"]).model
        if saved != self.cfg.model:
            raise InvalidInputError(f"{path}: its model config differs from this config's; "
                                    "resume with the same model section")
        self.model.load_state_dict(ck["model"])
        if ck.get("disc") is not None:
            self.disc.load_state_dict(ck["disc"])
        for k, opt in self.opt.items():
            if (ck.get("optim") or {}).get(k) is not None:
                opt.load_state_dict(ck["optim"][k])
        if ck.get("scaler"):
            self.scaler.load_state_dict(ck["scaler"])
        if ck["stage"] not in STAGES:
            raise InvalidInputError(f"{path}: unknown stage {ck['stage']!r}")
        self.stage, self.step = ck["stage"], int(ck["step"])
        self._say(f"resumed from {path}: stage {self.stage}, step {self.step}")

    def state(self) -> dict[str, Any]:
        """The checkpoint payload (its ``format`` key makes the inherited ``save`` write
        this model's format; see :mod:`retouch.learn.restore.checkpoint`)."""
        return {
            "format": FORMAT, "config": self.cfg.to_dict(), "stage": self.stage,
            "step": self.step, "model": self.model.state_dict(), "disc": self.disc.state_dict(),
            "optim": {k: o.state_dict() for k, o in self.opt.items()},
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
        }

    # -- loop -------------------------------------------------------------------------
    def _reseed(self) -> None:
        stage_id = 10 + STAGES.index(self.stage)
        self.torch.manual_seed(int(np.random.SeedSequence(
            [self.cfg.train.seed, stage_id, self.step]).generate_state(1)[0]))

    def _global_draw(self, fn: Callable[[int], Any]) -> Any:
        """``fn(world * B)`` sliced to this process's ``B`` rows (see Determinism)."""
        b = self.cfg.train.batch_size
        return fn(self.world * b)[self.rank * b:(self.rank + 1) * b]

    def _total(self, stage: str) -> int:
        t = self.cfg.train
        return {"style": t.style_steps, "diffusion": t.diffusion_steps, "restore": t.steps}[stage]

    def _enter(self, stage: str) -> None:
        """Train mode and gradients for the modules ``stage`` trains; the rest frozen."""
        m = self.model
        trained = {"style": [m.style], "diffusion": [m.diffuser],
                   "restore": [m.restorer, self.disc]}[stage]
        for mod in (m.style, m.diffuser, m.restorer, self.disc):
            on = any(mod is t for t in trained)
            mod.train(on)
            mod.requires_grad_(on)

    def run(self) -> list[dict[str, Any]]:
        """Run the remaining steps of every stage; returns the logged records."""
        torch = self.torch
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2))
        records: list[dict[str, Any]] = []
        while True:
            total = self._total(self.stage)
            self._enter(self.stage)
            if self.step < total:
                records += self._run_stage(total)   # inherited; saves at the last step
            if self.stage == STAGES[-1]:
                break
            self.stage, self.step = STAGES[STAGES.index(self.stage) + 1], 0
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.barrier()
        return records

    def main_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One step of the current stage (the inherited loop calls this for every stage)."""
        return {"style": self.style_step, "diffusion": self.diffusion_step,
                "restore": self.restore_step}[self.stage](batch)

    # -- stages ---------------------------------------------------------------------------
    def style_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Style autoencoder step on clean faces; returns the losses."""
        from ..losses import ssim

        lc, x = self.cfg.loss, batch["clean"]
        ae = self._wrapped("style", self.model.style)
        with self._autocast():
            recon, _ = ae(x)
            recon = recon.float()
            l1 = (recon - x).abs().mean()
            l_ssim = 1.0 - ssim(recon, x)
            loss = lc.style_l1 * l1 + lc.style_ssim * l_ssim
        self._optimize("style", loss, list(self.model.style.parameters()))
        self.scaler.update()
        return {"loss": _f(loss), "l1": _f(l1), "ssim": _f(l_ssim)}

    def diffusion_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Code-diffuser step; logs ``cond_mse`` = ``|E(degraded) - E(clean)|^2`` (baseline)."""
        torch, m = self.torch, self.model
        y, x = batch["degraded"], batch["clean"]
        with torch.no_grad(), self._autocast():
            z0, cond = m.encode(x).float(), m.encode(y).float()
        t = self._global_draw(lambda n: torch.randint(0, m.schedule.timesteps, (n,),
                                                      device=self.device))
        noise = self._global_draw(lambda n: torch.randn((n, *z0.shape[1:]), device=self.device))
        z_t = m.schedule.q_sample(z0, t, noise)
        target = z0 if self.cfg.model.prediction == "x0" else noise
        diff = self._wrapped("diffusion", m.diffuser)
        with self._autocast():
            pred = diff(z_t, t, cond).float()
            mse = (pred - target).pow(2).mean()
            loss = self.cfg.loss.diffusion * mse
        self._optimize("diffusion", loss, list(m.diffuser.parameters()))
        self.scaler.update()
        return {"loss": _f(loss), "mse": _f(mse), "cond_mse": _f((cond - z0).pow(2).mean())}

    def restore_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Restoration step with DDIM-sampled codes; returns the losses (``psnr_gain``: dB of
        the output over the degraded input, on this batch)."""
        from ..losses import hinge_d, hinge_g, ssim

        torch, m, lc = self.torch, self.model, self.cfg.loss
        y, x = batch["degraded"], batch["clean"]
        cfg_m = self.cfg.model
        init = self._global_draw(lambda n: torch.randn((n, cfg_m.style_tokens, cfg_m.style_dim),
                                                       device=self.device))
        with torch.no_grad(), self._autocast():
            z, _ = m.predict_codes(y, init_noise=init)
            z_clean = m.encode(x).float() if lc.code > 0 else None
        adv_on = lc.adv > 0 and self.step >= lc.adv_start
        d_params = list(self.disc.parameters())
        net = self._wrapped("restore", m.restorer)
        logs: dict[str, float] = {}
        with self._autocast():
            out = net(y, z.float()).float()
            l1 = (out - x).abs().mean()
            l_ssim = 1.0 - ssim(out, x)
            loss = lc.l1 * l1 + lc.ssim * l_ssim
            logs.update(l1=_f(l1), ssim=_f(l_ssim))
            if z_clean is not None:
                l_code = (m.encode(out).float() - z_clean).pow(2).mean()
                loss = loss + lc.code * l_code
                logs["code"] = _f(l_code)
            if adv_on:
                for p in d_params:
                    p.requires_grad_(False)
                g_adv = hinge_g(self.disc(out))
                for p in d_params:
                    p.requires_grad_(True)
                loss = loss + lc.adv * g_adv
                logs["g_adv"] = _f(g_adv)
        self._optimize("restore", loss, list(m.restorer.parameters()))
        logs["loss"] = _f(loss)
        if adv_on:
            disc = self._wrapped("disc", self.disc)
            with self._autocast():
                logits = disc(torch.cat([x, out.detach()], 0))
                d_loss = hinge_d(logits[:x.shape[0]], logits[x.shape[0]:])
            self._optimize("d", d_loss, d_params)
            logs["d"] = _f(d_loss)
        self.scaler.update()
        with torch.no_grad():
            mse_out = (out.detach().clamp(0, 1) - x).pow(2).mean().clamp_min(1e-10)
            mse_in = (y - x).pow(2).mean().clamp_min(1e-10)
            logs["psnr_gain"] = _f(10.0 * torch.log10(mse_in / mse_out))
        return logs

    def sample_grid(self) -> Path:
        """Write ``samples/{stage}_{step}.png`` for the fixed pairs; returns its path.

        Columns -- ``style``: clean | reconstruction; ``diffusion``: degraded |
        ``G(E(degraded))`` | ``G(sampled code)`` | ``G(E(clean))`` | clean;
        ``restore``: degraded | restored | clean.
        """

        torch, m = self.torch, self.model
        n = max(1, self.cfg.train.samples)
        items = [self.data.sample("fixed", 0, i) for i in range(n)]

        def t(arr: np.ndarray) -> Any:
            return torch.from_numpy(arr.transpose(2, 0, 1).astype(np.float32) / 255.0)

        y = torch.stack([t(it["degraded"]) for it in items]).to(self.device)
        x = torch.stack([t(it["clean"]) for it in items]).to(self.device)
        modes = {mod: mod.training for mod in (m.style, m.diffuser, m.restorer)}
        m.eval()
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed)
        with torch.no_grad():
            if self.stage == "style":
                cols = [x, m.style(x)[0]]
            elif self.stage == "diffusion":
                z, cond = m.predict_codes(y, generator=gen)
                g = m.style.generator
                cols = [y, g(cond), g(z), g(m.encode(x)), x]
            else:
                cols = [y, m(y, generator=gen).image, x]
        for mod, was in modes.items():
            mod.train(was)
        return self._save_sample_grid(cols, n)


def train_restorer(cfg: RestoreConfig, *, resume: bool | str | Path | None = None,
                   log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """Train ``cfg`` to the end (see :class:`RestoreTrainer`); returns the logged records."""
    return run_to_end(RestoreTrainer(cfg, resume=resume, log=log))
