"""Configuration of the learned retoucher: plain dataclasses, loadable from YAML or JSON.

A configuration has four sections, each a dataclass: ``model`` (network sizes,
saved inside every checkpoint so it can be rebuilt), ``data`` (where the
training images are and how they are mixed), ``loss`` (weights of each term)
and ``train`` (optimizer, schedule, checkpoints, devices).

Two presets ship with the package:

* ``tiny`` -- 64 px, a few thousand parameters per module; what the tests train
  on the CPU in seconds.
* ``paper512`` -- the scale of the RetouchFormer paper: 512 px input, a
  1024 x 256 codebook, six encoder feature maps brought to a 64 x 64 token grid,
  a depth-7, 8-head windowed transformer.

``load_config("tiny")`` returns a preset; ``load_config("my.yaml")`` reads a file
(``.yaml``/``.yml`` need PyYAML, part of the ``learn`` extra; ``.json`` needs
nothing). A file may give only some keys: the rest come from the preset named by
its top-level ``base`` key (default ``paper512``). Unknown keys are an error
that names them, so a typo never silently trains the wrong model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InvalidInputError


@dataclass
class Framing:
    """Where the face sits in a model crop (fractions of the crop side).

    The defaults reproduce the FFHQ/FFHQR alignment, measured with the
    project's face mesh on FFHQR 00000 and three other FFHQ-aligned photos:
    inter-ocular distance 0.245 of the side, eye midpoint at ``(0.50, 0.473)``.
    The learned engine aligns faces of any photo to this framing, and the
    synthetic-pair generator aligns clean photos to it, so training and use agree.
    """

    iod_frac: float = 0.245
    eye_x: float = 0.5
    eye_y: float = 0.473


@dataclass
class ModelConfig:
    """Network sizes (all channel lists go from fine to coarse).

    Attributes:
        image_size: side of the square input crop in pixels; a multiple of
            ``token_stride`` and of every downsampling factor below.
        prior_channels: VQ prior encoder widths; the latent grid is
            ``image_size / 2 ** (len - 1)``.
        codebook_size, codebook_dim: the clean-face dictionary (``K x D``).
        mask_channels: widths of the localization UNet; one soft mask is
            predicted at each level (scales ``1, 1/2, ... 1/2 ** (len - 1)``).
        enc_channels: widths of the generator encoder levels (level ``l`` is at
            ``image_size / 2 ** l``); every level contributes to the tokens.
        token_stride: tokens live on a ``image_size / token_stride`` grid.
        embed_dim, depth, heads, window, mlp_ratio: the selective transformer.
        disc_channels: widths of the patch discriminator.
        framing: face placement in the crop (see :class:`Framing`).
    """

    image_size: int = 512
    prior_channels: tuple[int, ...] = (32, 64, 128, 256, 256)
    codebook_size: int = 1024
    codebook_dim: int = 256
    mask_channels: tuple[int, ...] = (32, 64, 128, 256)
    enc_channels: tuple[int, ...] = (32, 64, 128, 256, 256, 256)
    token_stride: int = 8
    embed_dim: int = 256
    depth: int = 7
    heads: int = 8
    window: int = 8
    mlp_ratio: float = 2.0
    disc_channels: tuple[int, ...] = (64, 128, 256, 512)
    framing: Framing = field(default_factory=Framing)

    def check(self) -> None:
        """Raise :class:`InvalidInputError` when the sizes do not fit together."""
        s = self.image_size
        need = {
            "prior_channels": 2 ** (len(self.prior_channels) - 1),
            "mask_channels": 2 ** (len(self.mask_channels) - 1),
            "enc_channels": 2 ** (len(self.enc_channels) - 1),
            "token_stride": self.token_stride,
        }
        for name, f in need.items():
            if f < 1 or s % f:
                raise InvalidInputError(
                    f"model.image_size {s} must be a multiple of {f} (from model.{name})")
        if self.embed_dim % self.heads:
            raise InvalidInputError(
                f"model.embed_dim {self.embed_dim} must be a multiple of model.heads {self.heads}")
        if self.token_stride & (self.token_stride - 1):
            raise InvalidInputError(f"model.token_stride must be a power of 2; got "
                                    f"{self.token_stride}")
        for name in ("prior_channels", "mask_channels", "enc_channels", "disc_channels"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise InvalidInputError(f"model.{name} must be a non-empty list of widths")
        if self.window < 1 or self.depth < 1 or self.codebook_size < 2:
            raise InvalidInputError("model.window, model.depth must be >= 1 and "
                                    "model.codebook_size >= 2")

    @property
    def token_grid(self) -> int:
        """Side of the token grid."""
        return self.image_size // self.token_stride


@dataclass
class DataConfig:
    """Training data and how it is mixed (all paths may be relative to the CWD).

    Attributes:
        ffhqr: the ``face_retouching`` folder (``train/{source,target}/*.png``,
            pre-aligned FFHQR pairs), or ``None``.
        paired_fraction: share of the FFHQR training pairs used *as pairs*; the
            others are split into unpaired raw faces (their sources) and unpaired
            clean faces (their targets, drawn independently), as in the paper's
            semi-supervised setting.
        raw_dirs: extra folders of unretouched faces (unpaired).
        clean_dirs: extra folders of clean / retouched faces (unpaired).
        synthetic_dirs: folders of clean face photos on which realistic acne,
            red and dark spots are planted (``retouch.synth``) to make pairs.
        synthetic_variants: ``0`` plants afresh for every sample (seeded by the
            step); ``N > 0`` uses only ``N`` fixed plantings per photo (overfit
            tests).
        blemish_scale: multiplies the planted blemish sizes (tiny crops need > 1
            for the spots to cover whole pixels).
        blemish_counts: spots planted per type (``acne``, ``red_spot``,
            ``dark_spot``); ``None`` is the planting module's default.
        prep_size: side of the aligned crop on which blemishes are planted
            before resizing to the model size.
        align: align photos of ``raw_dirs``/``clean_dirs`` with the face
            detector (FFHQR and FFHQ-style folders are already aligned).
        flip: random horizontal flips.
        num_workers: DataLoader worker processes.
    """

    ffhqr: str | None = None
    paired_fraction: float = 1.0
    raw_dirs: list[str] = field(default_factory=list)
    clean_dirs: list[str] = field(default_factory=list)
    synthetic_dirs: list[str] = field(default_factory=list)
    synthetic_variants: int = 0
    blemish_scale: float = 1.0
    blemish_counts: dict[str, int] | None = None
    prep_size: int = 512
    align: bool = False
    flip: bool = True
    num_workers: int = 2


@dataclass
class LossConfig:
    """Loss weights (each term is a mean over pixels and batch).

    Paired (FFHQR pairs, synthetic pairs): ``l1`` + ``ssim`` on the output vs the
    target, ``mask`` (binary cross-entropy of every predicted mask scale vs the normalized
    ``|target - source|`` map). Unpaired clean faces: ``clean_mask`` pushes the
    mask to 0 and ``clean_rec`` asks the output to equal the input. Unpaired raw
    faces: ``entropy`` asks the mask to be confident (0 or 1). ``adv``: hinge
    GAN loss against a spectral-norm patch discriminator that sees targets and
    clean faces as real, from step ``adv_start``. The paper's VGG-perceptual,
    LPIPS and identity terms need downloaded networks and are not used.

    ``mask_lo``/``mask_hi``: the ground-truth mask ramps from 0 to 1 as
    ``max_c |target - source|`` goes from ``mask_lo`` to ``mask_hi`` (in
    ``[0, 1]`` units). ``prior_rec``/``prior_vq``: the prior's pretraining.
    """

    l1: float = 10.0
    ssim: float = 1.0
    mask: float = 1.0
    clean_mask: float = 0.5
    clean_rec: float = 5.0
    entropy: float = 0.05
    adv: float = 0.01
    adv_start: int = 10000
    mask_lo: float = 2.0 / 255.0
    mask_hi: float = 10.0 / 255.0
    prior_rec: float = 1.0
    prior_vq: float = 1.0
    commitment: float = 0.25


@dataclass
class TrainConfig:
    """Optimization, schedule, checkpoints and devices.

    ``prior_steps`` pretrain the clean-face prior, then ``steps`` train the
    retoucher with the prior frozen. ``batch_size`` is per process and per
    data kind (pairs, raw, clean). ``amp``: ``"auto"`` (bf16 on a GPU that has
    it, else fp16 with loss scaling; off on the CPU), ``"bf16"``, ``"fp16"``,
    ``"off"``. ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    ``init_from``: a checkpoint whose model weights start this run (e.g. a model
    pretrained on synthetic pairs, fine-tuned on FFHQR); when its prior was
    trained, the prior stage is skipped.
    """

    out_dir: str = "runs/retouchformer"
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    batch_size: int = 1
    prior_steps: int = 50_000
    steps: int = 500_000
    prior_lr: float = 2e-4
    lr: float = 2e-4
    disc_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    grad_clip: float = 1.0
    log_every: int = 50
    sample_every: int = 2000
    ckpt_every: int = 5000
    keep_ckpts: int = 3
    samples: int = 4
    init_from: str | None = None


_C = TypeVar("_C", bound="ExperimentConfig")


class ExperimentConfig:
    """What every experiment's top-level config shares (a dataclass of dataclass sections).

    Subclasses are ``@dataclass`` classes whose fields are the sections; they define
    :meth:`check`.
    """

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls: type[_C], d: dict[str, Any]) -> _C:
        """Inverse of :meth:`to_dict`; missing keys take the class defaults."""
        return _build(cls, d, "")

    def check(self) -> None:
        """Validate every section; raises :class:`InvalidInputError`."""
        raise NotImplementedError


def read_config(source: str | Path | dict[str, Any], cls: type[_C],
                presets: Mapping[str, Callable[[], _C]], default_base: str,
                whole: frozenset[str] = frozenset()) -> _C:
    """A checked ``cls`` from a preset name, a ``.yaml``/``.yml``/``.json`` file, or a dict.

    A file or dict may hold a top-level ``base`` (a key of ``presets``, default
    ``default_base``) and any subset of the sections; unspecified keys keep the
    base's values; a mapping-valued key named in ``whole`` (dotted, e.g.
    ``"data.blemish_counts"``) is replaced as a whole instead of merged key by key.
    Anything else (a missing file, another suffix, a file that is not a mapping, an
    unknown key or preset, a value :meth:`ExperimentConfig.check` refuses) raises
    :class:`InvalidInputError`.
    """
    if isinstance(source, dict):
        raw: Any = dict(source)
    elif str(source) in presets and not Path(source).exists():
        cfg = presets[str(source)]()
        cfg.check()
        return cfg
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(
                f"{path}: config not found (give a .yaml/.json file or one of the presets "
                f"{', '.join(presets)})")
        raw = _parse(path)
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{source}: a config must be a mapping of sections")
    base_name = raw.pop("base", default_base)
    if base_name not in presets:
        raise InvalidInputError(f"config base {base_name!r} is not a preset; expected one of "
                                f"{', '.join(presets)}")
    cfg = cls.from_dict(_merge(presets[base_name]().to_dict(), raw, whole))
    cfg.check()
    return cfg


def _parse(path: Path) -> Any:
    """The YAML or JSON document in ``path``; a file that does not parse is bad input."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise InvalidInputError(f"{path}: config must end in .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: config is not UTF-8 text") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{path}: not valid JSON: {e.msg} (line {e.lineno}, "
                                    f"column {e.colno})") from None
    from ._deps import require

    yaml = require("yaml", f"reading {path}")
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InvalidInputError(f"{path}: not valid YAML: {what}{where}") from None


@dataclass
class RetouchFormerConfig(ExperimentConfig):
    """The whole experiment (what ``retouch train retouchformer CONFIG`` reads)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def check(self) -> None:
        """Validate every section; raises :class:`InvalidInputError`."""
        self.model.check()
        if not 0.0 <= self.data.paired_fraction <= 1.0:
            raise InvalidInputError(
                f"data.paired_fraction must be in [0, 1]; got {self.data.paired_fraction}")
        if self.train.amp not in ("auto", "bf16", "fp16", "off"):
            raise InvalidInputError(
                f"train.amp must be auto, bf16, fp16 or off; got {self.train.amp!r}")
        if self.train.batch_size < 1 or self.train.steps < 0 or self.train.prior_steps < 0:
            raise InvalidInputError("train.batch_size must be >= 1 and steps >= 0")


def _build(cls: type, d: Any, where: str) -> Any:
    if not isinstance(d, dict):
        raise InvalidInputError(f"config {where or 'root'}: expected a mapping; got "
                                f"{type(d).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise InvalidInputError(
            f"config {where or 'root'}: unknown key(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(known)}")
    kw: dict[str, Any] = {}
    default = cls()
    for name, value in d.items():
        cur = getattr(default, name)
        key = f"{where}.{name}" if where else name
        if is_dataclass(cur):
            kw[name] = _build(type(cur), value, key)
        elif isinstance(cur, tuple):
            kw[name] = tuple(value)
        else:
            kw[name] = value
    return cls(**kw)


def tiny() -> RetouchFormerConfig:
    """The test-sized preset: 64 px, trains a step in tens of milliseconds on a CPU."""
    return RetouchFormerConfig(
        model=ModelConfig(
            image_size=64, prior_channels=(8, 16, 32), codebook_size=64, codebook_dim=16,
            mask_channels=(8, 8, 16), enc_channels=(8, 16, 16, 32), token_stride=4,
            embed_dim=32, depth=2, heads=2, window=4, mlp_ratio=2.0, disc_channels=(16, 32),
        ),
        data=DataConfig(prep_size=128, blemish_scale=2.5, num_workers=0),
        loss=LossConfig(adv_start=0),
        train=TrainConfig(out_dir="runs/tiny", prior_steps=20, steps=40, lr=1e-3, prior_lr=2e-3,
                          disc_lr=1e-3, log_every=5, sample_every=20, ckpt_every=20, samples=2),
    )


def paper512() -> RetouchFormerConfig:
    """The paper's scale: 512 px, 1024 x 256 codebook, 64 x 64 tokens, depth 7, 8 heads."""
    return RetouchFormerConfig()


#: Named presets accepted wherever a config path is.
PRESETS = {"tiny": tiny, "paper512": paper512}


def load_config(source: str | Path | dict[str, Any]) -> RetouchFormerConfig:
    """A checked config from a preset name, a ``.yaml``/``.yml``/``.json`` file, or a dict.

    A file or dict may hold a top-level ``base`` (a preset name, default
    ``paper512``) and any subset of the sections; unspecified keys keep the
    base's values (:func:`read_config`).
    """
    return read_config(source, RetouchFormerConfig, PRESETS, "paper512",
                       whole=frozenset({"data.blemish_counts"}))


def _merge(base: dict[str, Any], over: dict[str, Any], whole: frozenset[str] = frozenset(),
           where: str = "") -> dict[str, Any]:
    """``base`` with ``over``'s values; nested mappings merge, except dotted keys in ``whole``."""
    out = dict(base)
    for k, v in over.items():
        key = f"{where}.{k}" if where else k
        if isinstance(v, dict) and isinstance(out.get(k), dict) and key not in whole:
            out[k] = _merge(out[k], v, whole, key)
        else:
            out[k] = v
    return out


def apply_overrides(cfg: RetouchFormerConfig, items: list[str]) -> RetouchFormerConfig:
    """Apply ``section.key=value`` overrides (value parsed as JSON, else a string).

    >>> apply_overrides(tiny(), ["train.lr=0.01"]).train.lr
    0.01
    """
    d = cfg.to_dict()
    for item in items:
        if "=" not in item:
            raise InvalidInputError(f"--set {item!r}: expected section.key=value")
        key, value = item.split("=", 1)
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        node = d
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise InvalidInputError(f"--set {item!r}: unknown section {p!r}")
            node = node[p]
        if parts[-1] not in node:
            raise InvalidInputError(f"--set {item!r}: unknown key {parts[-1]!r}")
        node[parts[-1]] = parsed
    out = type(cfg).from_dict(d)   # any config class with to_dict/from_dict/check
    out.check()
    return out


def with_model(cfg: RetouchFormerConfig, **changes: Any) -> RetouchFormerConfig:
    """A copy of ``cfg`` with some :class:`ModelConfig` fields changed."""
    return replace(cfg, model=replace(cfg.model, **changes))
