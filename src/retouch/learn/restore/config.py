"""Configuration of the learned restorer (VSPBFR-style): dataclasses, presets, YAML/JSON.

Same conventions as :mod:`retouch.learn.config` (RetouchFormer): four
sections (``model``, ``data``, ``loss``, ``train``), a file may give only some
keys on top of a preset named by its top-level ``base`` key, unknown keys are
an error that names them, and ``--set section.key=value`` overrides work.

Presets:

* ``tiny`` -- 32 px, a few ten thousand parameters, milder degradations
  applied at 64 px; what the tests train on the CPU in seconds. Not a useful
  restorer.
* ``vspbfr512`` -- the paper's working size: 512 px FFHQ-aligned crops,
  degradations with the standard GFPGAN/VSPBFR ranges applied at 512 px, 8
  style tokens of 512 dimensions, a 4-layer code diffuser sampled with 4 DDIM
  steps, a 6-level restoration UNet with style-modulated aggregation blocks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ...degrade import HARD_RANGES, STANDARD_RANGES, DegradationRanges
from ...errors import InvalidInputError
from ..config import ExperimentConfig, Framing, read_config

#: Named degradation ranges accepted by ``data.ranges``.
RANGES = {"standard": STANDARD_RANGES, "hard": HARD_RANGES}


@dataclass
class RestoreModelConfig:
    """Network sizes of :class:`~retouch.learn.restore.network.VSPBFR`.

    Attributes:
        image_size: side ``S`` of the square face crop (a power of two >= 8).
        style_dim: ``D``, width of one style token.
        style_channels: style-encoder widths, fine to coarse (level ``l`` at
            ``S / 2^l``); ``S`` must be a multiple of ``2 ** (len - 1)``.
        style_flat: channels of the ``4 x 4`` map flattened into the codes.
        gen_channels: style-generator widths from ``4 x 4`` up to ``S``; its
            length must be ``log2(S) - 1`` (one per resolution), and it sets the
            number of style tokens ``L``.
        diff_hidden, diff_depth, diff_heads: the code diffuser (a transformer
            over the ``L`` tokens).
        timesteps: diffusion steps ``T`` of the training noise schedule.
        schedule: ``"cosine"`` (Nichol & Dhariwal) or ``"linear"`` (DDPM betas
            ``1e-4 .. 0.02``).
        prediction: what the diffuser predicts: ``"x0"`` (the clean code) or
            ``"eps"`` (the noise).
        sample_steps: DDIM steps at inference (and when the restoration stage
            samples codes).
        enc_channels: restoration-UNet widths, fine to coarse.
        mid_blocks: style-modulated aggregation blocks at the UNet bottleneck.
        dilations: dilation rates of the aggregation branches (one branch each).
        disc_channels: widths of the patch discriminator (adversarial loss).
        framing: where the face sits in the crop (FFHQ alignment by default).
    """

    image_size: int = 512
    style_dim: int = 512
    style_channels: tuple[int, ...] = (32, 64, 128, 256, 256, 256)
    style_flat: int = 128
    gen_channels: tuple[int, ...] = (512, 512, 512, 256, 256, 128, 64, 32)
    diff_hidden: int = 512
    diff_depth: int = 4
    diff_heads: int = 8
    timesteps: int = 1000
    schedule: str = "cosine"
    prediction: str = "x0"
    sample_steps: int = 4
    enc_channels: tuple[int, ...] = (32, 64, 128, 256, 256, 256)
    mid_blocks: int = 4
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    disc_channels: tuple[int, ...] = (64, 128, 256, 512)
    framing: Framing = field(default_factory=Framing)

    @property
    def style_tokens(self) -> int:
        """``L``: one style token per generator resolution."""
        return len(self.gen_channels)

    def check(self) -> None:
        """Raise :class:`InvalidInputError` when the sizes do not fit together."""
        s = self.image_size
        if s < 8 or s & (s - 1):
            raise InvalidInputError(f"model.image_size must be a power of two >= 8; got {s}")
        n_res = int(math.log2(s)) - 1
        if len(self.gen_channels) != n_res:
            raise InvalidInputError(
                f"model.gen_channels needs one width per resolution 4 .. {s} "
                f"({n_res} values); got {len(self.gen_channels)}")
        for name in ("style_channels", "enc_channels"):
            n = len(getattr(self, name))
            if n < 1 or s % (2 ** (n - 1)) or s // 2 ** (n - 1) < 2:
                raise InvalidInputError(
                    f"model.{name}: {n} levels do not fit image_size {s} (each level halves it)")
        for name in ("style_channels", "gen_channels", "enc_channels", "disc_channels",
                     "dilations"):
            v = getattr(self, name)
            if not v or min(v) < 1:
                raise InvalidInputError(f"model.{name} must be a non-empty list of values >= 1")
        if any(c % len(self.dilations) for c in self.enc_channels):
            raise InvalidInputError(
                f"model.enc_channels {list(self.enc_channels)} must be multiples of the number "
                f"of dilations ({len(self.dilations)})")
        if self.diff_hidden % self.diff_heads:
            raise InvalidInputError(f"model.diff_hidden {self.diff_hidden} must be a multiple of "
                                    f"model.diff_heads {self.diff_heads}")
        if self.schedule not in ("cosine", "linear"):
            raise InvalidInputError(f"model.schedule must be cosine or linear; got "
                                    f"{self.schedule!r}")
        if self.prediction not in ("x0", "eps"):
            raise InvalidInputError(f"model.prediction must be x0 or eps; got "
                                    f"{self.prediction!r}")
        if not 1 <= self.sample_steps <= self.timesteps:
            raise InvalidInputError(f"model.sample_steps must be in [1, timesteps="
                                    f"{self.timesteps}]; got {self.sample_steps}")
        if min(self.style_dim, self.style_flat, self.diff_depth, self.mid_blocks) < 1:
            raise InvalidInputError("model.style_dim, style_flat, diff_depth and mid_blocks "
                                    "must be >= 1")


@dataclass
class RestoreDataConfig:
    """Clean training faces and the on-the-fly degradation.

    Attributes:
        dirs: folders of clean faces in the FFHQ layout: images anywhere below
            each folder (``NNNNN.png`` flat, or ``00000/00000.png`` nested),
            already aligned (FFHQ alignment) unless ``align``.
        prep_size: side at which clean faces are degraded (the standard ranges
            are meant for 512 px FFHQ crops); both images are then resized
            (area) to ``model.image_size``.
        ranges: ``"standard"`` (GFPGAN/VSPBFR: kernel 19-41, sigma 0.1-10,
            x0.8-8, noise 0-20, JPEG 60-100) or ``"hard"`` (CodeFormer's).
        range_overrides: fields of :class:`~retouch.degrade.DegradationRanges`
            replaced on top of ``ranges`` (e.g. ``{"scale": [1, 2]}``).
        variants: ``0`` draws a fresh degradation for every sample; ``N > 0``
            uses only ``N`` fixed degradations per image (overfit tests).
        align: align photos with the face detector once, when the data is
            opened (kept in memory: pre-align big folders instead).
        flip: random horizontal flips.
        num_workers: DataLoader worker processes.
    """

    dirs: list[str] = field(default_factory=list)
    prep_size: int = 512
    ranges: str = "standard"
    range_overrides: dict[str, Any] | None = None
    variants: int = 0
    align: bool = False
    flip: bool = True
    num_workers: int = 2

    def degradation_ranges(self) -> DegradationRanges:
        """The :class:`~retouch.degrade.DegradationRanges` samples are drawn from."""
        if self.ranges not in RANGES:
            raise InvalidInputError(f"data.ranges must be one of {', '.join(RANGES)}; got "
                                    f"{self.ranges!r}")
        base = RANGES[self.ranges]
        over = dict(self.range_overrides or {})
        known = set(asdict(base))
        bad = sorted(set(over) - known)
        if bad:
            raise InvalidInputError(f"data.range_overrides: unknown key(s) {', '.join(bad)}; "
                                    f"expected some of {', '.join(sorted(known))}")
        conv = {k: (tuple(v) if isinstance(v, list) else v) for k, v in over.items()}
        return replace(base, **conv)


@dataclass
class RestoreLossConfig:
    """Loss weights of each stage (each term a mean over pixels / elements and batch).

    Stage ``style``: ``style_l1`` + ``style_ssim`` between a clean face and its
    reconstruction through the style codes. Stage ``diffusion``: mean squared
    error of the diffuser's prediction (clean code or noise). Stage
    ``restore``: ``l1`` + ``ssim`` of the restored face vs the clean one,
    ``code`` (mean squared distance between the frozen style encoder's codes of
    the output and of the clean face: a perceptual term that needs no
    downloaded network), and ``adv`` (hinge GAN loss against a spectral-norm
    patch discriminator) from step ``adv_start``.
    """

    style_l1: float = 1.0
    style_ssim: float = 0.2
    diffusion: float = 1.0
    l1: float = 1.0
    ssim: float = 0.2
    code: float = 0.1
    adv: float = 0.01
    adv_start: int = 20000


@dataclass
class RestoreTrainConfig:
    """Optimization, schedule, checkpoints and devices.

    Three stages run in order: ``style_steps`` (style encoder + generator),
    ``diffusion_steps`` (code diffuser, style encoder frozen) and ``steps``
    (restoration network, encoder and diffuser frozen). ``batch_size`` is per
    process. ``amp``/``device`` as in RetouchFormer's trainer.
    """

    out_dir: str = "runs/vspbfr"
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    batch_size: int = 4
    style_steps: int = 100_000
    diffusion_steps: int = 100_000
    steps: int = 300_000
    style_lr: float = 2e-4
    diffusion_lr: float = 2e-4
    lr: float = 2e-4
    disc_lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    log_every: int = 50
    sample_every: int = 2000
    ckpt_every: int = 5000
    keep_ckpts: int = 3
    samples: int = 4


@dataclass
class RestoreConfig(ExperimentConfig):
    """The whole experiment (what ``retouch train restore CONFIG`` reads)."""

    model: RestoreModelConfig = field(default_factory=RestoreModelConfig)
    data: RestoreDataConfig = field(default_factory=RestoreDataConfig)
    loss: RestoreLossConfig = field(default_factory=RestoreLossConfig)
    train: RestoreTrainConfig = field(default_factory=RestoreTrainConfig)

    def check(self) -> None:
        """Validate every section; raises :class:`InvalidInputError`."""
        self.model.check()
        self.data.degradation_ranges()
        t = self.train
        if t.amp not in ("auto", "bf16", "fp16", "off"):
            raise InvalidInputError(f"train.amp must be auto, bf16, fp16 or off; got {t.amp!r}")
        if t.batch_size < 1 or min(t.style_steps, t.diffusion_steps, t.steps) < 0:
            raise InvalidInputError("train.batch_size must be >= 1 and the step counts >= 0")
        if self.data.prep_size < self.model.image_size:
            raise InvalidInputError(f"data.prep_size {self.data.prep_size} must be >= "
                                    f"model.image_size {self.model.image_size}")


def tiny() -> RestoreConfig:
    """The test-sized preset: 32 px crops degraded at 64 px with mild ranges."""
    return RestoreConfig(
        model=RestoreModelConfig(
            image_size=32, style_dim=16, style_channels=(8, 16, 16), style_flat=8,
            gen_channels=(32, 16, 16, 8), diff_hidden=32, diff_depth=2, diff_heads=2,
            timesteps=100, sample_steps=4, enc_channels=(8, 16, 16), mid_blocks=1,
            dilations=(1, 2), disc_channels=(16, 32)),
        data=RestoreDataConfig(
            prep_size=64, num_workers=0,
            range_overrides={"kernel_size": [7, 13], "sigma": [0.3, 2.0], "scale": [1.0, 3.0],
                             "noise_sigma": [0.0, 10.0], "jpeg_quality": [60, 95]}),
        loss=RestoreLossConfig(adv_start=0),
        train=RestoreTrainConfig(out_dir="runs/vspbfr_tiny", batch_size=2, style_steps=30,
                                 diffusion_steps=30, steps=60, style_lr=5e-3, diffusion_lr=2e-3,
                                 lr=2e-3, disc_lr=1e-3, log_every=5, sample_every=20,
                                 ckpt_every=20, samples=2),
    )


def vspbfr512() -> RestoreConfig:
    """The paper's working size (see the module docstring)."""
    return RestoreConfig()


#: Named presets accepted wherever a config path is.
PRESETS = {"tiny": tiny, "vspbfr512": vspbfr512}


def load_config(source: str | Path | dict[str, Any]) -> RestoreConfig:
    """A checked config from a preset name, a ``.yaml``/``.yml``/``.json`` file, or a dict.

    A file or dict may hold a top-level ``base`` (a preset name, default
    ``vspbfr512``) and any subset of the sections (:func:`~retouch.learn.config.read_config`);
    ``data.range_overrides`` is replaced as a whole, not merged.
    """
    return read_config(source, RestoreConfig, PRESETS, "vspbfr512",
                       whole=frozenset({"data.range_overrides"}))
