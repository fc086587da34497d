"""Request and response bodies of the REST API (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    workers: int = Field(description="worker processes configured")
    workers_alive: int
    sessions: int
    limits: dict[str, float]


class FoundOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    face: int
    type: str
    region: str
    center: list[float] = Field(description="(x, y) in input image pixels")
    radius_px: float
    score: float
    treated: bool
    amount: float
    areas: list[str] = Field(default_factory=list, description=(
        "area types (redness, shine, under_eye) only: the named regions holding at "
        "least 5 % of the area; an instruction naming any of them selects it"))
    cut: list[str] = Field(default_factory=list, description=(
        "treated areas only: the named regions cut out of the treatment (excluded or "
        "kept by the instruction); no pixel of them changes"))


class TypeStrength(BaseModel):
    found: int
    treated: int
    strength: float


class StateOut(BaseModel):
    """The session after a turn: the reply, what is found and treated, the sliders."""

    version: int = Field(description="increases whenever the image may have changed")
    reply: str
    kind: str = Field(description="edit, undo, redo, reset, show, help, noop, not_understood, "
                                  "error, state")
    changed: bool
    can_undo: bool
    can_redo: bool
    found: list[FoundOut]
    strengths: dict[str, TypeStrength]
    plan: dict[str, Any] = Field(description="the absolute Plan the image renders "
                                             "(docs/plan.schema.json)")
    pixels_changed: int
    info: dict[str, Any] = Field(default_factory=dict,
                                 description="image facts (first state only)")


class SessionOut(BaseModel):
    id: str = Field(description="192-bit random id; keep it secret, it is the only key")
    expires_in_s: float
    state: StateOut


class MessageIn(BaseModel):
    """A chat message, or a Plan (JSON) to merge, or both (the plan then wins)."""

    text: str | None = Field(None, max_length=2000, examples=["remove the acne on my chin"])
    plan: dict[str, Any] | None = Field(None, description="a Plan (docs/plan.schema.json)")


class HealIn(BaseModel):
    x: float = Field(description="input image pixels")
    y: float
    radius: float = Field(12.0, gt=0, description="brush radius in input image pixels")
    strength: float = Field(1.0, ge=0, le=1)


class Stroke(BaseModel):
    points: list[tuple[float, float]] = Field(min_length=1, max_length=20000)
    radius: float = Field(gt=0, description="brush radius in input image pixels")


class PaintIn(BaseModel):
    strokes: list[Stroke] = Field(min_length=1, max_length=500)
    strength: float = Field(1.0, ge=0, le=1)


class ImageOut(BaseModel):
    filename: str
    media_type: str
    base64: str


class RetouchOut(BaseModel):
    report: dict[str, Any] = Field(description="the JSON report (as `retouch --report`)")
    image: ImageOut
