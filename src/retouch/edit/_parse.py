"""The ``--set`` syntax of ``retouch edit`` and the ``--list`` text.

``NAME=PART[:PART...]`` where each PART is one of

* a number: the amount (exactly one is required), e.g. ``eyes.size=0.3``;
* a colour name of the edit or ``#rrggbb``: ``lipstick=#b0303a:0.6``;
* a finish (lipstick): ``lipstick=ruby:0.7:gloss``;
* ``key=value`` for ``amount``, ``size``, ``color``, ``finish`` or
  ``faces`` (face indices joined by ``+``): ``double_chin=-0.8:faces=0+2``,
  ``eyes.size=0.4:size=-0.5``.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from ._request import EditRequest
from ._spec import EDITS, list_edits


def _num(s: str, what: str, arg: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise InvalidInputError(f"--set {arg!r}: {what} must be a number; got {s!r}") from None


def parse_set(arg: str) -> EditRequest:
    """Parse one ``--set`` value into an :class:`EditRequest` (validated).

    Raises:
        InvalidInputError: malformed text, unknown edit, or invalid values.
    """
    if not isinstance(arg, str) or "=" not in arg:
        raise InvalidInputError(
            f"--set {arg!r}: expected NAME=AMOUNT (e.g. eyes.size=0.3); see `retouch edit --list`"
        )
    name, _, rest = arg.partition("=")
    name = name.strip()
    if name not in EDITS:
        raise InvalidInputError(f"--set {arg!r}: unknown edit {name!r}; valid edits: "
                                + ", ".join(EDITS))
    spec = EDITS[name]
    kw: dict[str, Any] = {}
    for part in (p.strip() for p in rest.split(":")):
        if not part:
            raise InvalidInputError(f"--set {arg!r}: empty part (check the ':' separators)")
        if "=" in part:
            key, _, val = part.partition("=")
            key = key.strip().lower()
            if key in ("amount", "size"):
                v: Any = _num(val, key, arg)
            elif key in ("color", "colour"):
                key, v = "color", val
            elif key == "finish":
                v = val
            elif key == "faces":
                try:
                    v = tuple(int(x) for x in val.split("+") if x.strip())
                except ValueError:
                    raise InvalidInputError(
                        f"--set {arg!r}: faces must be indices joined by '+', e.g. faces=0+1"
                    ) from None
            else:
                raise InvalidInputError(
                    f"--set {arg!r}: unknown key {key!r}; use amount, size, color, finish or faces"
                )
            if key in kw:
                raise InvalidInputError(f"--set {arg!r}: {key} given twice")
            kw[key] = v
            continue
        try:
            num = float(part)
        except ValueError:
            num = None
        if num is not None:
            if "amount" in kw:
                raise InvalidInputError(f"--set {arg!r}: more than one amount")
            kw["amount"] = num
        elif part.lower() in spec.finishes:
            kw["finish"] = part.lower()
        elif spec.colors or spec.hex_color:
            if "color" in kw:
                raise InvalidInputError(f"--set {arg!r}: more than one colour")
            kw["color"] = part
        else:
            raise InvalidInputError(f"--set {arg!r}: {part!r} is not a number")
    if "amount" not in kw:
        raise InvalidInputError(f"--set {arg!r}: no amount (e.g. {name}=0.5)")
    return EditRequest(name=name, **kw)


def format_edit_list() -> str:
    """Human-readable table of every edit (for ``retouch edit --list``)."""
    lines = []
    for s in list_edits():
        rng = f"[{s.amount_min:g}, 1]"
        lines.append(f"{s.name:<14} {s.kind:<10} amount {rng:<8} {s.description}")
        lines.append(f"{'':<14} + {s.positive}")
        if s.negative:
            lines.append(f"{'':<14} - {s.negative}")
        extra = []
        if s.uses_size:
            extra.append(f"size: {s.size_help}")
        if s.colors:
            c = ", ".join(s.colors) + (", #rrggbb" if s.hex_color else "")
            extra.append(f"colours: {c}" + (f" (default {s.default_color})"
                                             if s.default_color else " (required)"))
        if s.finishes:
            extra.append("finish: " + ", ".join(s.finishes))
        for x in extra:
            lines.append(f"{'':<14}   {x}")
    return "\n".join(lines)
