"""The retouching Plan: what an instruction asks for, as typed, validated data.

A :class:`Plan` is a list of :class:`Operation` s. It is produced by an
interpreter (:mod:`retouch.interpret`) from free text, or written by hand /
by a web client as JSON, and applied to one photo by :mod:`retouch.execute`.
It is plain data: frozen, hashable, JSON-serializable both ways
(:meth:`Plan.to_json`, :meth:`Plan.from_json`) and described by a published
JSON Schema (:meth:`Plan.json_schema`, written to ``docs/plan.schema.json``).

Actions
-------
Instance actions act on the imperfections the localizer found (see
:data:`~retouch.types.IMPERFECTION_TYPES`):

``remove``   treat fully (default strength 1.0).
``reduce``   soften / lighten / fade (default strength 0.5).
``keep``     leave untouched, and protect from neighbouring fills.
``smooth``   with ``types``: like ``reduce``; with only ``regions`` (or nothing):
             smooth the skin texture of those regions (default 0.5).
``brighten`` with ``types``: like ``reduce``; with only ``regions`` (or nothing):
             lift the brightness of those regions' skin (default 0.5).

Session actions refer to what is applied already (the previous turns):

``adjust``   change the strength of matching operations by ``delta``.
``only``     restrict every current treatment to ``regions`` / ``types``.

Delegated actions (implemented by other modules of ``retouch``):

``edit``     a face edit (``edit`` name, ``amount`` in ``[-1, 1]``, optional
             ``size``, ``color``, ``finish``): :func:`retouch.edit.apply_edits`.
``restore``  blind face restoration with ``fidelity`` in ``[0, 1]``:
             :func:`retouch.restore.restore`.

Targets
-------
``types``    imperfection types; empty = every type.
``regions``  named regions (:data:`INSTANCE_REGIONS`); empty = the whole face.
             Left/right are the **subject's** (the subject's left cheek is on
             the right side of a frontal photo). ``"skin"`` means the whole skin.
``exclude_types`` / ``exclude_regions``: removed from the selection.
``select``   an instance :class:`Selector` (largest, most visible, nearest to a
             landmark, by id), applied after the type/region filters.
``faces``    0-based face indices (report order); ``None`` = every face.

Strength
--------
``strength`` is absolute in ``[0, 1]`` (``None`` = the action's default);
``delta`` in ``[-1, 1]`` is relative: to the strength already applied to the
same targets in a session, else to the action's default.

Conflicts: within one Plan ``keep`` operations win; otherwise a later
operation overrides an earlier one for the instances both select.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import InvalidInputError
from .types import IMPERFECTION_TYPES

#: Version of the Plan JSON format (``"version"`` field).
PLAN_VERSION = 1

#: Actions on detected imperfection instances (and, for smooth/brighten, regions).
INSTANCE_ACTIONS: tuple[str, ...] = ("remove", "reduce", "keep", "smooth", "brighten")
#: Actions that modify what earlier turns applied.
SESSION_ACTIONS: tuple[str, ...] = ("adjust", "only")
#: Actions delegated to other modules.
DELEGATED_ACTIONS: tuple[str, ...] = ("edit", "restore")
#: Every action, in documentation order.
ACTIONS: tuple[str, ...] = INSTANCE_ACTIONS + SESSION_ACTIONS + DELEGATED_ACTIONS

#: Default strength per instance action when ``strength`` is ``None``.
DEFAULT_STRENGTH: dict[str, float] = {
    "remove": 1.0, "reduce": 0.5, "keep": 0.0, "smooth": 0.5, "brighten": 0.5,
}

#: Regions an operation may target (a subset of :data:`~retouch.types.REGION_NAMES`:
#: the skin regions). ``"skin"`` is the whole skin.
INSTANCE_REGIONS: tuple[str, ...] = (
    "skin", "forehead", "left_cheek", "right_cheek", "nose", "chin",
    "left_under_eye", "right_under_eye", "neck",
)

#: Types that can only occur in some regions (the rest occur anywhere on the skin).
TYPE_REGIONS: dict[str, tuple[str, ...]] = {"under_eye": ("left_under_eye", "right_under_eye")}

#: Landmarks a ``nearest`` selector may refer to (subject's left/right).
ANCHORS: tuple[str, ...] = (
    "nose", "mouth", "chin", "forehead", "eyes", "left_eye", "right_eye", "brows",
    "left_brow", "right_brow", "left_cheek", "right_cheek",
)

#: How a :class:`Selector` orders candidates.
SELECT_BY: tuple[str, ...] = ("largest", "smallest", "most_visible", "nearest", "ids")

#: Edit names of :mod:`retouch.edit` that the built-in interpreter produces. Other
#: names matching :data:`EDIT_NAME_PATTERN` pass validation here and are checked
#: by the edit module itself when the plan is executed.
KNOWN_EDITS: tuple[str, ...] = (
    "double_chin", "face.slim", "eyes.size", "eyes.whiten", "nose.width", "nose.length",
    "lips.fullness", "smile", "brows.raise", "brows.density", "lipstick", "teeth.whiten",
    "hair.color", "skin.tone", "young",
)
EDIT_NAME_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$"
#: A colour: a lowercase name (``"red"``, ``"dark red"``) or ``#rrggbb``.
COLOR_PATTERN = r"^(#[0-9a-fA-F]{6}|[a-z]+( [a-z]+){0,2})$"
FINISHES: tuple[str, ...] = ("matte", "satin", "gloss")

_FIELDS_BY_ACTION: dict[str, frozenset[str]] = {
    **{a: frozenset({"types", "regions", "exclude_types", "exclude_regions", "select",
                     "strength", "delta", "faces"}) for a in INSTANCE_ACTIONS},
    "keep": frozenset({"types", "regions", "exclude_types", "exclude_regions", "select",
                       "faces"}),
    "adjust": frozenset({"types", "regions", "edit", "delta", "faces"}),
    "only": frozenset({"types", "regions", "faces"}),
    "edit": frozenset({"edit", "amount", "size", "color", "finish", "faces"}),
    "restore": frozenset({"fidelity"}),
}
_ALL_FIELDS = ("action", "types", "regions", "exclude_types", "exclude_regions", "select",
               "strength", "delta", "faces", "edit", "amount", "size", "color", "finish",
               "fidelity")


def _err(where: str, msg: str) -> InvalidInputError:
    return InvalidInputError(f"plan: {where}: {msg}")


def _num(where: str, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise _err(where, f"expected a number in [{lo:g}, {hi:g}]; got {v!r}")
    if not lo <= float(v) <= hi:
        raise _err(where, f"must be in [{lo:g}, {hi:g}]; got {v!r}")
    return float(v)


def _names(where: str, v: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise _err(where, f"expected a list of names from {list(allowed)}; got {v!r}")
    out = []
    for x in v:
        if x not in allowed:
            raise _err(where, f"unknown name {x!r}; expected one of {', '.join(allowed)}")
        if x not in out:
            out.append(x)
    order = {n: i for i, n in enumerate(allowed)}
    return tuple(sorted(out, key=order.__getitem__))


@dataclass(frozen=True)
class Selector:
    """Which of the matching instances an operation applies to.

    Attributes:
        by: ``"largest"`` / ``"smallest"`` (radius), ``"most_visible"`` (score),
            ``"nearest"`` (distance to the landmark ``near``), or ``"ids"``
            (instance ids as listed by :attr:`retouch.execute.PhotoAnalysis.instances`
            and in reports).
        count: how many to take (``>= 1``). ``None``: for largest / smallest /
            most_visible, the larger / smaller / more visible half of the
            candidates; for nearest, every candidate within 0.2 face widths of
            the landmark.
        near: an entry of :data:`ANCHORS` (only with ``by="nearest"``).
        ids: instance ids (only with ``by="ids"``).
    """

    by: str
    count: int | None = None
    near: str | None = None
    ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.by not in SELECT_BY:
            raise _err("select.by", f"unknown selector {self.by!r}; expected one of "
                       f"{', '.join(SELECT_BY)}")
        if self.count is not None and (isinstance(self.count, bool)
                                       or not isinstance(self.count, int) or self.count < 1):
            raise _err("select.count", f"expected an integer >= 1 or null; got {self.count!r}")
        if (self.by == "nearest") != (self.near is not None):
            raise _err("select.near", "is required with by='nearest' and only allowed there")
        if self.near is not None and self.near not in ANCHORS:
            raise _err("select.near", f"unknown landmark {self.near!r}; expected one of "
                       f"{', '.join(ANCHORS)}")
        ids = tuple(self.ids)
        if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
            raise _err("select.ids", f"expected non-negative integers; got {list(ids)!r}")
        if (self.by == "ids") != bool(ids):
            raise _err("select.ids", "a non-empty list is required with by='ids' and only "
                       "allowed there")
        if self.by == "ids" and self.count is not None:
            raise _err("select.count", "not allowed with by='ids'")
        object.__setattr__(self, "ids", tuple(sorted(set(ids))))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"by": self.by}
        if self.count is not None:
            d["count"] = self.count
        if self.near is not None:
            d["near"] = self.near
        if self.ids:
            d["ids"] = list(self.ids)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Selector:
        if not isinstance(d, Mapping):
            raise _err("select", f"expected an object; got {d!r}")
        extra = set(d) - {"by", "count", "near", "ids"}
        if extra:
            raise _err("select", f"unknown field(s) {sorted(extra)}")
        if "by" not in d:
            raise _err("select", "missing field 'by'")
        ids = d.get("ids") or ()
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise _err("select.ids", f"expected a list of integers; got {ids!r}")
        return cls(by=d["by"], count=d.get("count"), near=d.get("near"), ids=tuple(ids))


@dataclass(frozen=True)
class Operation:
    """One step of a :class:`Plan` (see the module docstring for the semantics).

    Attributes:
        action: one of :data:`ACTIONS`.
        types: imperfection types (canonical order); empty = all.
        regions: entries of :data:`INSTANCE_REGIONS` (canonical order); empty = whole face.
        exclude_types, exclude_regions: left out of the selection.
        select: an optional :class:`Selector`.
        strength: absolute strength in ``[0, 1]`` or ``None`` (action default).
        delta: relative strength change in ``[-1, 1]`` (``adjust``; or on an
            instance action, relative to what is applied already).
        faces: 0-based face indices, or ``None`` for every face.
        edit: edit name (``edit``, optionally ``adjust``).
        amount: signed edit amount in ``[-1, 1]``; ``0`` is the identity.
        size: optional edit size in ``[-1, 1]``.
        color: colour name or ``#rrggbb`` (lipstick, hair colour), or the
            direction of ``skin.tone`` (``"pale"`` / ``"warm"``).
        finish: ``"matte"``, ``"satin"`` or ``"gloss"``.
        fidelity: restoration fidelity in ``[0, 1]`` (1 = most faithful);
            ``None`` = the restorer's default.
    """

    action: str
    types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    exclude_types: tuple[str, ...] = ()
    exclude_regions: tuple[str, ...] = ()
    select: Selector | None = None
    strength: float | None = None
    delta: float | None = None
    faces: tuple[int, ...] | None = None
    edit: str | None = None
    amount: float | None = None
    size: float | None = None
    color: str | None = None
    finish: str | None = None
    fidelity: float | None = None

    def __post_init__(self) -> None:
        a = self.action
        if a not in ACTIONS:
            raise _err("action", f"unknown action {a!r}; expected one of {', '.join(ACTIONS)}")
        where = f"{a} operation"
        allowed = _FIELDS_BY_ACTION[a]
        for name in _ALL_FIELDS[1:]:
            v = getattr(self, name)
            if v not in (None, ()) and name not in allowed:
                raise _err(where, f"field {name!r} is not allowed with action {a!r} "
                           f"(allowed: {', '.join(sorted(allowed))})")
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("types", _names(f"{where}.types", self.types, IMPERFECTION_TYPES))
        set_("regions", _names(f"{where}.regions", self.regions, INSTANCE_REGIONS))
        set_("exclude_types", _names(f"{where}.exclude_types", self.exclude_types,
                                     IMPERFECTION_TYPES))
        set_("exclude_regions", _names(f"{where}.exclude_regions", self.exclude_regions,
                                       INSTANCE_REGIONS))
        if set(self.types) & set(self.exclude_types):
            raise _err(where, f"types {sorted(set(self.types) & set(self.exclude_types))} "
                       "are both targeted and excluded")
        if set(self.regions) & set(self.exclude_regions):
            raise _err(where, f"regions {sorted(set(self.regions) & set(self.exclude_regions))}"
                       " are both targeted and excluded")
        if self.select is not None and not isinstance(self.select, Selector):
            raise _err(f"{where}.select", f"expected a Selector; got {self.select!r}")
        if self.strength is not None:
            set_("strength", _num(f"{where}.strength", self.strength, 0.0, 1.0))
        if self.delta is not None:
            set_("delta", _num(f"{where}.delta", self.delta, -1.0, 1.0))
        if self.strength is not None and self.delta is not None:
            raise _err(where, "give either `strength` (absolute) or `delta` (relative), not both")
        if self.faces is not None:
            faces = self.faces
            if isinstance(faces, (str, bytes)) or not isinstance(faces, Iterable):
                raise _err(f"{where}.faces", f"expected a list of face indices; got {faces!r}")
            faces = tuple(faces)
            if not faces or any(isinstance(i, bool) or not isinstance(i, int) or i < 0
                                for i in faces):
                raise _err(f"{where}.faces", "expected a non-empty list of 0-based face "
                           f"indices or null; got {list(faces)!r}")
            set_("faces", tuple(sorted(set(faces))))
        for k in ("amount", "size"):
            if getattr(self, k) is not None:
                set_(k, _num(f"{where}.{k}", getattr(self, k), -1.0, 1.0))
        if self.fidelity is not None:
            set_("fidelity", _num(f"{where}.fidelity", self.fidelity, 0.0, 1.0))
        if self.edit is not None and (not isinstance(self.edit, str)
                                      or not re.match(EDIT_NAME_PATTERN, self.edit)):
            raise _err(f"{where}.edit", f"expected a name like 'smile' or 'eyes.size'; "
                       f"got {self.edit!r}")
        if self.color is not None and (not isinstance(self.color, str)
                                       or not re.match(COLOR_PATTERN, self.color)):
            raise _err(f"{where}.color", f"expected a colour name or '#rrggbb'; got {self.color!r}")
        if self.finish is not None and self.finish not in FINISHES:
            raise _err(f"{where}.finish", f"expected one of {', '.join(FINISHES)}; "
                       f"got {self.finish!r}")
        # Action-specific requirements.
        if a == "edit":
            if self.edit is None or self.amount is None:
                raise _err(where, "needs `edit` (a name) and `amount` in [-1, 1]")
        elif a == "adjust":
            if self.delta is None or self.delta == 0.0:
                raise _err(where, "needs a non-zero `delta` in [-1, 1]")
        elif a == "only" and not self.types and not self.regions:
            raise _err(where, "needs `types` or `regions` to restrict to")
        if self.select is not None and self.select.by != "ids" and a in ("smooth", "brighten") \
                and not self.types:
            raise _err(where, "a selector needs `types` (it picks imperfection instances)")

    # -- derived ------------------------------------------------------------
    @property
    def is_instance_op(self) -> bool:
        """True when the operation acts on imperfection instances."""
        if self.action in ("remove", "reduce", "keep"):
            return True
        return self.action in ("smooth", "brighten") and bool(self.types or self.select)

    @property
    def is_region_op(self) -> bool:
        """True for smooth/brighten of whole regions (no imperfection types)."""
        return self.action in ("smooth", "brighten") and not self.types and self.select is None

    @property
    def effective_strength(self) -> float:
        """``strength``, or the action default plus ``delta`` (clipped to ``[0, 1]``)."""
        if self.strength is not None:
            return self.strength
        base = DEFAULT_STRENGTH.get(self.action, 0.0)
        return float(min(1.0, max(0.0, base + (self.delta or 0.0))))

    def target_key(self) -> tuple[Any, ...]:
        """What the operation selects (not how strongly): used to merge turns."""
        return (self.is_region_op, self.types, self.regions, self.exclude_types,
                self.exclude_regions, self.select, self.faces)

    # -- JSON -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; empty lists and ``None`` fields are left out."""
        d: dict[str, Any] = {"action": self.action}
        for name in _ALL_FIELDS[1:]:
            v = getattr(self, name)
            if v is None or v == ():
                continue
            if name == "select":
                d[name] = v.to_dict()
            elif isinstance(v, tuple):
                d[name] = list(v)
            else:
                d[name] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "operation") -> Operation:
        """Build from a dict (as produced by :meth:`to_dict`); unknown fields are errors."""
        if not isinstance(d, Mapping):
            raise _err(where, f"expected an object; got {d!r}")
        extra = set(d) - set(_ALL_FIELDS)
        if extra:
            raise _err(where, f"unknown field(s) {sorted(extra)}; expected some of "
                       f"{', '.join(_ALL_FIELDS)}")
        if "action" not in d:
            raise _err(where, "missing field 'action'")
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if v is None:
                continue
            if k == "select":
                kw[k] = Selector.from_dict(v)
            elif k in ("types", "regions", "exclude_types", "exclude_regions", "faces"):
                if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                    raise _err(f"{where}.{k}", f"expected a list; got {v!r}")
                kw[k] = tuple(v)
            else:
                kw[k] = v
        try:
            return cls(**kw)
        except InvalidInputError as exc:
            raise InvalidInputError(str(exc).replace("plan: ", f"plan: {where}: ", 1)) from None

    def describe(self) -> str:
        """A short human description (``"remove acne, red_spot on forehead"``)."""
        if self.action == "edit":
            s = f"edit {self.edit} {self.amount:+.2f}"
            if self.color:
                s += f" {self.color}"
            if self.finish:
                s += f" {self.finish}"
            return s
        if self.action == "restore":
            return "restore" + (f" (fidelity {self.fidelity:.2f})" if self.fidelity is not None
                                else "")
        s = self.action
        if self.edit:
            s += f" {self.edit}"
        s += " " + (", ".join(self.types) if self.types else
                    ("skin" if self.is_region_op else "all imperfections"))
        if self.regions:
            s += " on " + ", ".join(self.regions)
        if self.exclude_types or self.exclude_regions:
            s += " except " + ", ".join(self.exclude_types + self.exclude_regions)
        if self.select is not None:
            s += f" ({self.select.by}" + (f" {self.select.near}" if self.select.near else "") \
                + (f" x{self.select.count}" if self.select.count else "") \
                + (f" #{','.join(map(str, self.select.ids))}" if self.select.ids else "") + ")"
        if self.strength is not None:
            s += f" at {self.strength:.2f}"
        if self.delta is not None:
            s += f" {self.delta:+.2f}"
        return s


@dataclass(frozen=True)
class Plan:
    """An ordered, validated list of operations.

    Attributes:
        operations: the operations, applied in order (see the module docstring).
        not_understood: parts of the instruction the interpreter could not map to
            an operation (reported to the user, never guessed).
        instruction: the source text, or ``None``.
    """

    operations: tuple[Operation, ...] = ()
    not_understood: tuple[str, ...] = ()
    instruction: str | None = None
    version: int = field(default=PLAN_VERSION)

    def __post_init__(self) -> None:
        ops = tuple(self.operations)
        for i, op in enumerate(ops):
            if not isinstance(op, Operation):
                raise _err(f"operations[{i}]", f"expected an Operation; got {op!r}")
        object.__setattr__(self, "operations", ops)
        nu = tuple(self.not_understood)
        if any(not isinstance(s, str) for s in nu):
            raise _err("not_understood", f"expected a list of strings; got {list(nu)!r}")
        object.__setattr__(self, "not_understood", nu)
        if self.instruction is not None and not isinstance(self.instruction, str):
            raise _err("instruction", f"expected a string or null; got {self.instruction!r}")
        if self.version != PLAN_VERSION:
            raise _err("version", f"unsupported plan version {self.version!r}; this build "
                       f"reads version {PLAN_VERSION}")

    def __len__(self) -> int:
        return len(self.operations)

    @property
    def is_empty(self) -> bool:
        return not self.operations

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": self.version,
                             "operations": [op.to_dict() for op in self.operations]}
        if self.not_understood:
            d["not_understood"] = list(self.not_understood)
        if self.instruction is not None:
            d["instruction"] = self.instruction
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Build and validate a Plan from a dict; raises :class:`InvalidInputError`."""
        if not isinstance(d, Mapping):
            raise _err("plan", f"expected a JSON object; got {type(d).__name__}")
        extra = set(d) - {"version", "operations", "not_understood", "instruction"}
        if extra:
            raise _err("plan", f"unknown field(s) {sorted(extra)}")
        ops = d.get("operations", [])
        if isinstance(ops, (str, bytes, Mapping)) or not isinstance(ops, Iterable):
            raise _err("operations", f"expected a list; got {ops!r}")
        nu = d.get("not_understood") or []
        if isinstance(nu, (str, bytes)) or not isinstance(nu, Iterable):
            raise _err("not_understood", f"expected a list of strings; got {nu!r}")
        return cls(
            operations=tuple(Operation.from_dict(o, f"operations[{i}]")
                             for i, o in enumerate(ops)),
            not_understood=tuple(nu), instruction=d.get("instruction"),
            version=d.get("version", PLAN_VERSION),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        try:
            d = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"plan: not valid JSON ({exc})") from None
        except RecursionError:
            raise InvalidInputError("plan: JSON nested too deeply") from None
        return cls.from_dict(d)

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of :meth:`to_dict`'s output.

        It is written for grammar-constrained LLM decoding too: each action group
        is a closed ``anyOf`` branch with ``additionalProperties: false``.
        Cross-field rules the schema cannot state (a type both targeted and
        excluded, ``strength`` with ``delta``) are enforced by :meth:`from_dict`.
        """
        return _schema()

    def describe(self) -> str:
        """One line per operation."""
        return "\n".join(f"{i + 1}. {op.describe()}" for i, op in enumerate(self.operations)) \
            or "(no operations)"


# --------------------------------------------------------------------------- merging turns
@dataclass(frozen=True)
class Merged:
    """Result of :func:`merge`.

    Attributes:
        plan: the new absolute plan (no ``adjust`` / ``only``).
        notes: what could not be applied ("nothing to adjust for chin").
        touched: indices into ``plan.operations`` added or changed by this request
            (pass them as ``last_turn`` to the next :func:`merge`).
    """

    plan: Plan
    notes: tuple[str, ...] = ()
    touched: tuple[int, ...] = ()


def merge(state: Plan, new: Plan, *, last_turn: Sequence[int] = ()) -> Merged:
    """Combine a session's current ``state`` with a new request.

    ``state`` holds only absolute operations (no ``adjust`` / ``only``); the
    result does too. Rules (documented in ``docs/instructions.md``):

    * an instance/region operation replaces an earlier one with the same
      targets (:meth:`Operation.target_key`), else it is appended; with
      ``delta`` its strength is relative to the one it replaces;
    * within ``new``, ``keep`` operations are applied after the others;
    * ``edit`` replaces an earlier edit of the same name, ``restore`` the
      earlier restore;
    * ``adjust`` changes the strength of the operations it matches (by types /
      regions / edit name; with no target, the operations of ``last_turn``,
      indices into ``state.operations``); with ``regions`` narrower than the
      matched operation it adds a restricted copy;
    * ``only`` restricts every treating operation (not ``keep``, ``edit``,
      ``restore``) to its regions / types; with nothing to restrict it acts
      like a default request on those targets.

    Returns:
        A :class:`Merged`.
    """
    ops = list(state.operations)
    previous: list[int] = [i for i in last_turn if 0 <= i < len(ops)]
    touched: list[int] = []
    notes: list[str] = []

    def shift(idx: int) -> None:  # ops[idx] was deleted
        previous[:] = [t - (t > idx) for t in previous if t != idx]
        touched[:] = [t - (t > idx) for t in touched if t != idx]

    ordered = [o for o in new.operations if o.action != "keep"] + \
              [o for o in new.operations if o.action == "keep"]
    for op in ordered:
        if op.action == "adjust":
            n_before = len(ops)
            changed, msg = _merge_adjust(ops, op, touched or previous)
            notes += msg
            touched += [i for i in changed if i not in touched]
            touched += [i for i in range(n_before, len(ops)) if i not in touched]
            continue
        if op.action == "only":
            kept, msg = _merge_only(ops, op)
            notes += msg
            touched[:] = [kept[t] for t in touched if t in kept]
            previous[:] = [kept[t] for t in previous if t in kept]
            touched += [i for i in range(len(ops)) if i not in touched
                        and ops[i].action in INSTANCE_ACTIONS and ops[i].action != "keep"]
            continue
        if op.action == "edit":
            key = (op.edit, op.faces)
            idx = next((i for i, o in enumerate(ops) if o.action == "edit"
                        and (o.edit, o.faces) == key), None)
        elif op.action == "restore":
            idx = next((i for i, o in enumerate(ops) if o.action == "restore"), None)
        else:
            key = op.target_key()
            idx = next((i for i, o in enumerate(ops) if o.action in INSTANCE_ACTIONS
                        and o.target_key() == key), None)
            if op.delta is not None:
                src = idx if idx is not None else _covering(ops, op)
                base = ops[src].effective_strength if src is not None and \
                    ops[src].action != "keep" else DEFAULT_STRENGTH[op.action]
                op = replace(op, strength=_clip01(base + op.delta), delta=None)
        if idx is not None:
            del ops[idx]
            shift(idx)
        ops.append(op)
        touched.append(len(ops) - 1)
    return Merged(Plan(tuple(ops), new.not_understood, new.instruction), tuple(notes),
                  tuple(sorted(set(touched))))


def _covering(ops: Sequence[Operation], op: Operation) -> int | None:
    """Index of the last op of the same action and types whose regions cover ``op``'s."""
    for i in range(len(ops) - 1, -1, -1):
        o = ops[i]
        if o.action == op.action and o.types == op.types and o.faces in (None, op.faces) \
                and (not o.regions or (op.regions and set(op.regions) <= set(o.regions))):
            return i
    return None


def _clip01(v: float) -> float:
    return float(min(1.0, max(0.0, round(v, 4))))


def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return not a or not b or bool(set(a) & set(b))


def _merge_adjust(ops: list[Operation], adj: Operation,
                  touched: list[int]) -> tuple[list[int], list[str]]:
    if adj.edit is not None:
        cand = [i for i, o in enumerate(ops) if o.action == "edit" and o.edit == adj.edit]
    elif adj.types or adj.regions:
        cand = [i for i, o in enumerate(ops) if o.action in INSTANCE_ACTIONS
                and o.action != "keep" and _overlaps(o.types, adj.types)
                and (not adj.types or o.types or o.is_instance_op)
                and _overlaps(o.regions, adj.regions)]
    else:
        cand = [i for i in touched if 0 <= i < len(ops) and ops[i].action != "keep"]
    if not cand:
        what = adj.edit or ", ".join(adj.types + adj.regions) or "the previous request"
        return [], [f"nothing to adjust for {what}"]
    d = float(adj.delta or 0.0)
    for i in sorted(cand):
        o = ops[i]
        if o.action == "edit":
            amt = float(o.amount or 0.0)
            sign = 1.0 if amt >= 0 else -1.0
            ops[i] = replace(o, amount=max(-1.0, min(1.0, round(amt + sign * d, 4))))
        elif o.action == "restore":
            ops[i] = replace(o, fidelity=_clip01((o.fidelity if o.fidelity is not None
                                                  else 0.5) - d))
        elif adj.regions and set(adj.regions) != set(o.regions or ()) and \
                (not o.regions or set(adj.regions) < set(o.regions)):
            sub = tuple(r for r in adj.regions if not o.regions or r in o.regions)
            ops.append(replace(o, regions=sub, strength=_clip01(o.effective_strength + d),
                               delta=None))
        else:
            ops[i] = replace(o, strength=_clip01(o.effective_strength + d), delta=None)
    return [i for i in cand if i < len(ops)], []


def _merge_only(ops: list[Operation], only: Operation) -> tuple[dict[int, int], list[str]]:
    """Restrict in place; returns (old index -> new index of the surviving ops, notes)."""
    treating = [i for i, o in enumerate(ops) if o.action in INSTANCE_ACTIONS
                and o.action != "keep"]
    if not treating:
        if only.types:
            ops.append(Operation("remove", types=only.types, regions=only.regions,
                                 faces=only.faces))
        else:
            ops.append(Operation("remove", types=("acne", "red_spot", "dark_spot"),
                                 regions=only.regions, faces=only.faces))
        return {i: i for i in range(len(ops) - 1)}, []
    out: list[Operation] = []
    kept: dict[int, int] = {}
    dropped = 0
    for i, o in enumerate(ops):
        if i not in treating:
            kept[i] = len(out)
            out.append(o)
            continue
        regions, types = o.regions, o.types
        if only.regions:
            regions = tuple(r for r in only.regions if not o.regions or r in o.regions)
            possible = [t for t in (o.types or IMPERFECTION_TYPES)
                        if "skin" in regions or set(TYPE_REGIONS.get(t, regions)) & set(regions)]
            if not regions or not possible:
                dropped += 1
                continue
        if only.types and o.types:
            types = tuple(t for t in o.types if t in only.types)
            if not types:
                dropped += 1
                continue
        elif only.types and not o.types:
            types = only.types
        excl = tuple(t for t in o.exclude_types if t not in types)
        excl_r = tuple(r for r in o.exclude_regions if r not in regions)
        kept[i] = len(out)
        out.append(replace(o, regions=regions, types=types, exclude_types=excl,
                           exclude_regions=excl_r))
    ops[:] = out
    what = "an earlier request" if dropped == 1 else f"{dropped} earlier requests"
    return kept, ([f"dropped {what} that cannot apply there"] if dropped else [])


# --------------------------------------------------------------------------- schema
def _schema() -> dict[str, Any]:
    str_enum = lambda vals: {"type": "string", "enum": list(vals)}  # noqa: E731
    uniq = lambda item: {"type": "array", "items": item, "uniqueItems": True}  # noqa: E731
    unit = {"type": "number", "minimum": 0.0, "maximum": 1.0}
    signed = {"type": "number", "minimum": -1.0, "maximum": 1.0}
    faces = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1,
             "uniqueItems": True, "description": "0-based face indices; omit for every face"}
    types = {**uniq(str_enum(IMPERFECTION_TYPES)), "description": "empty or omitted = all types"}
    regions = {**uniq(str_enum(INSTANCE_REGIONS)),
               "description": "subject's left/right; empty or omitted = whole face"}
    select = {
        "type": "object", "additionalProperties": False, "required": ["by"],
        "properties": {
            "by": str_enum(SELECT_BY),
            "count": {"type": "integer", "minimum": 1},
            "near": str_enum(ANCHORS),
            "ids": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        },
    }
    target = {"types": types, "regions": regions, "faces": faces}
    instance = {
        "type": "object", "additionalProperties": False, "required": ["action"],
        "properties": {
            "action": str_enum(("remove", "reduce", "smooth", "brighten")),
            **target,
            "exclude_types": uniq(str_enum(IMPERFECTION_TYPES)),
            "exclude_regions": uniq(str_enum(INSTANCE_REGIONS)),
            "select": select,
            "strength": {**unit, "description": "absolute; omit for the action default"},
            "delta": {**signed, "description": "relative to what is applied already"},
        },
    }
    keep = {
        "type": "object", "additionalProperties": False, "required": ["action"],
        "properties": {
            "action": {"const": "keep"}, **target,
            "exclude_types": uniq(str_enum(IMPERFECTION_TYPES)),
            "exclude_regions": uniq(str_enum(INSTANCE_REGIONS)),
            "select": select,
        },
    }
    adjust = {
        "type": "object", "additionalProperties": False, "required": ["action", "delta"],
        "properties": {
            "action": {"const": "adjust"}, **target,
            "edit": {"type": "string", "pattern": EDIT_NAME_PATTERN},
            "delta": {**signed, "description": "+ = stronger, - = weaker"},
        },
    }
    only = {
        "type": "object", "additionalProperties": False, "required": ["action"],
        "properties": {"action": {"const": "only"}, **target},
    }
    edit = {
        "type": "object", "additionalProperties": False, "required": ["action", "edit", "amount"],
        "properties": {
            "action": {"const": "edit"},
            "edit": {"type": "string", "pattern": EDIT_NAME_PATTERN,
                     "description": "e.g. " + ", ".join(KNOWN_EDITS)},
            "amount": {**signed, "description": "0 = identity; sign follows the edit name"},
            "size": signed,
            "color": {"type": "string", "pattern": COLOR_PATTERN},
            "finish": str_enum(FINISHES),
            "faces": faces,
        },
    }
    restore = {
        "type": "object", "additionalProperties": False, "required": ["action"],
        "properties": {"action": {"const": "restore"},
                       "fidelity": {**unit, "description": "1 = most faithful"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:retouch:plan:1",
        "title": "retouch Plan",
        "description": "Operations to apply to one photo; see docs/instructions.md.",
        "type": "object", "additionalProperties": False, "required": ["operations"],
        "properties": {
            "version": {"const": PLAN_VERSION},
            "operations": {"type": "array",
                           "items": {"anyOf": [instance, keep, adjust, only, edit, restore]}},
            "not_understood": {"type": "array", "items": {"type": "string"}},
            "instruction": {"type": "string"},
        },
    }
