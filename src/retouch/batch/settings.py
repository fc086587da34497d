"""What a batch does to every file, validated once, with a key for resuming."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from ..closeup import check_closeup_settings
from ..errors import InvalidInputError
from ..imageio import DEFAULT_MAX_PIXELS
from ..pipeline import NATURAL_STRENGTH, _parse_types

#: Settings that change the pixels of an output (and so the resume key).
_KEYED = ("instruction", "plan_json", "strength", "only", "keep", "sensitivity", "quality",
          "closeup", "face_size")


@dataclass(frozen=True)
class BatchSettings:
    """The retouch applied to every file of a batch.

    Attributes:
        instruction: plain-language request (replaces strength/only/keep).
        plan_json: a :class:`~retouch.plan.Plan` as JSON (replaces them too).
        strength: ``[0, 1]``, as ``retouch --strength``.
        only, keep: imperfection types, as ``retouch --only`` / ``--keep``.
        sensitivity: ``[0, 1]``, how faint a spot may be and still be found.
        quality: JPEG/WebP quality of re-encoded outputs (1..100).
        max_pixels: refuse inputs with more pixels (checked before decoding).
        closeup: treat every photo as a skin close-up without a whole face
            (:mod:`retouch.closeup`), as ``retouch --closeup``.
        face_size: close-up only: how wide a whole face would be at the
            photos' scale, in pixels (``None``: guessed per photo).

    Raises:
        InvalidInputError: a value is out of range, types are unknown,
            instruction/plan are combined with strength/only/keep or with
            closeup, or face_size is given without closeup.
    """

    instruction: str | None = None
    plan_json: str | None = None
    strength: float = NATURAL_STRENGTH
    only: tuple[str, ...] | None = None
    keep: tuple[str, ...] | None = None
    sensitivity: float = 0.5
    quality: int = 95
    max_pixels: int = DEFAULT_MAX_PIXELS
    closeup: bool = False
    face_size: float | None = None

    def __post_init__(self) -> None:
        if self.instruction is not None and self.plan_json is not None:
            raise InvalidInputError("give an instruction or a plan, not both")
        by_words = self.instruction is not None or self.plan_json is not None
        if by_words and (self.only or self.keep or self.strength != NATURAL_STRENGTH):
            raise InvalidInputError("an instruction or plan replaces strength/only/keep; say it "
                                    "in the instruction (e.g. \"remove only the acne, a little\")")
        check_closeup_settings(self.closeup, self.face_size, by_words=by_words)
        if self.instruction is not None and not self.instruction.strip():
            raise InvalidInputError("the instruction is empty; e.g. -i \"remove the acne\"")
        for name in ("strength", "sensitivity"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise InvalidInputError(f"`{name}` must be in [0, 1]; got {v!r}")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) \
                or not 1 <= self.quality <= 100:
            raise InvalidInputError(f"`quality` must be an integer in 1..100; got {self.quality!r}")
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) \
                or self.max_pixels <= 0:
            raise InvalidInputError(f"`max_pixels` must be a positive integer; got "
                                    f"{self.max_pixels!r}")
        for name in ("only", "keep"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, tuple(sorted(_parse_types(v, name) or ())))
        if self.plan_json is not None:
            from ..plan import Plan

            object.__setattr__(self, "plan_json", Plan.from_json(self.plan_json).to_json())

    def key(self) -> str:
        """Hex digest of the output-changing settings (the resume key)."""
        d = {k: v for k, v in asdict(self).items() if k in _KEYED}
        raw = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for the log)."""
        d = asdict(self)
        for k in ("only", "keep"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    def check_instruction(self) -> None:
        """Interpret the instruction once, so a request nothing understands fails
        before any file is touched (raises :class:`InvalidInputError`)."""
        if self.instruction is None:
            return
        from ..interpret import get_interpreter

        interp = get_interpreter().interpret(self.instruction)
        if not interp.plan.operations:
            what = "', '".join(interp.plan.not_understood) or self.instruction
            raise InvalidInputError(f"could not understand the instruction '{what}'; try e.g. "
                                    "'remove the acne on my chin but keep the freckles'")

    def apply(self, data: Any) -> Any:
        """Retouch one decoded image (:class:`~retouch.types.ImageData`)."""
        from ..pipeline import retouch

        if self.instruction is not None or self.plan_json is not None:
            plan = None
            if self.plan_json is not None:
                from ..plan import Plan

                plan = Plan.from_json(self.plan_json)
            return retouch(data, instruction=self.instruction, plan=plan,
                           sensitivity=self.sensitivity)
        return retouch(data, strength=self.strength, only=self.only, keep=self.keep,
                       sensitivity=self.sensitivity, closeup=self.closeup,
                       face_size=self.face_size)
