"""Edit requests and results: the contract between callers and :func:`apply_edits`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._spec import EDITS, HAIR_COLORS, LIPSTICK_COLORS, EditSpec

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def _valid_names() -> str:
    return ", ".join(EDITS)


@dataclass(frozen=True)
class EditRequest:
    """One edit to apply to some or all faces.

    Attributes:
        name: an edit of :data:`~retouch.edit.EDITS` (``"eyes.size"``...).
        amount: in ``[spec.amount_min, 1]``; ``0`` leaves the image unchanged.
        size: in ``[-1, 1]`` or ``None`` (default extent); only for edits whose
            spec has ``uses_size``. The affected extent scales by ``1.5 ** size``.
        color: a colour name of the spec (``"red"``, ``"blond"``, ``"pale"``...)
            or ``"#rrggbb"`` where the spec accepts hex; ``None`` = the spec's
            default (an error where the spec has none).
        finish: ``"matte"``, ``"satin"`` or ``"gloss"`` (lipstick only).
        faces: face indices (:attr:`~retouch.types.Face.index`) to edit, or
            ``None`` for every face.

    Raises:
        InvalidInputError: unknown name (the message lists the valid ones), an
            amount or size out of range, or a parameter the edit does not take.
    """

    name: str
    amount: float
    size: float | None = None
    color: str | None = None
    finish: str | None = None
    faces: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name not in EDITS:
            raise InvalidInputError(
                f"unknown edit {self.name!r}; valid edits: {_valid_names()}"
            )
        spec = EDITS[self.name]
        amount = _number(self.amount, f"{self.name}: amount")
        if not spec.amount_min <= amount <= 1.0:
            raise InvalidInputError(
                f"{self.name}: amount must be in [{spec.amount_min:g}, 1]; got {self.amount!r}"
            )
        object.__setattr__(self, "amount", amount)
        if self.size is not None:
            if not spec.uses_size:
                raise InvalidInputError(f"{self.name}: does not take a size")
            size = _number(self.size, f"{self.name}: size")
            if not -1.0 <= size <= 1.0:
                raise InvalidInputError(f"{self.name}: size must be in [-1, 1]; got {self.size!r}")
            object.__setattr__(self, "size", size)
        if self.color is not None:
            object.__setattr__(self, "color", _check_color(spec, self.color))
        elif spec.colors and spec.default_color is None and amount != 0.0:
            raise InvalidInputError(
                f"{self.name}: a colour is required; one of {', '.join(spec.colors)}"
                + (" or #rrggbb" if spec.hex_color else "")
            )
        if self.finish is not None:
            if not spec.finishes:
                raise InvalidInputError(f"{self.name}: does not take a finish")
            f = str(self.finish).lower()
            if f not in spec.finishes:
                raise InvalidInputError(
                    f"{self.name}: finish must be one of {', '.join(spec.finishes)}; "
                    f"got {self.finish!r}"
                )
            object.__setattr__(self, "finish", f)
        if self.faces is not None:
            faces = tuple(self.faces) if not isinstance(self.faces, (str, bytes)) else None
            if faces is None or not all(
                isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i >= 0
                for i in faces
            ):
                raise InvalidInputError(
                    f"{self.name}: faces must be a tuple of face indices >= 0; got {self.faces!r}"
                )
            object.__setattr__(self, "faces", tuple(int(i) for i in faces))

    @property
    def spec(self) -> EditSpec:
        """The registry entry of this edit."""
        return EDITS[self.name]

    def resolved_color(self) -> str | None:
        """The colour name or ``#rrggbb`` in effect (the spec default when unset)."""
        return self.color if self.color is not None else self.spec.default_color

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the fields, with the colour resolved)."""
        return {
            "name": self.name, "amount": self.amount, "size": self.size,
            "color": self.resolved_color(), "finish": self.finish,
            "faces": list(self.faces) if self.faces is not None else None,
        }


def _number(v: object, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"{what} must be a number; got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise InvalidInputError(f"{what} must be finite; got {v!r}")
    return f


def _check_color(spec: EditSpec, color: object) -> str:
    if not spec.colors:
        raise InvalidInputError(f"{spec.name}: does not take a colour")
    if not isinstance(color, str):
        raise InvalidInputError(f"{spec.name}: colour must be a string; got {color!r}")
    c = color.strip().lower()
    if c in spec.colors:
        return c
    if spec.hex_color:
        m = _HEX.match(c)
        if m:
            return "#" + m.group(1)
    raise InvalidInputError(
        f"{spec.name}: unknown colour {color!r}; use one of {', '.join(spec.colors)}"
        + (" or #rrggbb" if spec.hex_color else "")
    )


def color_rgb01(color: str) -> np.ndarray:
    """``(3,) float32`` sRGB in ``[0, 1]`` of a colour name (lipstick or hair) or hex."""
    hexv = LIPSTICK_COLORS.get(color) or HAIR_COLORS.get(color) or color
    m = _HEX.match(hexv)
    if not m:
        raise InvalidInputError(f"not a colour: {color!r}")
    h = m.group(1)
    return np.array([int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], np.float32)


@dataclass(frozen=True)
class EditResult:
    """What :func:`~retouch.edit.apply_edits` returns.

    Attributes:
        image: ``(H, W, 3)`` edited RGB, same shape and dtype as the input pixels.
        changed: ``(H, W) bool``: pixels the edits were allowed to change;
            every pixel outside it is bit-identical to the input.
        report: one JSON-ready dict per edit per face, in request order:
            ``{"edit", "face", "amount", "size", "color", "finish", "applied",
            "measured": {...}, "changed_px", "ms"}`` (``"skipped"`` says why an
            edit was not applied to a face).
    """

    image: np.ndarray
    changed: np.ndarray
    report: list[dict[str, Any]] = field(default_factory=list)
