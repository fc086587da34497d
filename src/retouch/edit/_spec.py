"""The registry of edits: one :class:`EditSpec` per edit name.

The registry is plain data, so the CLI help, ``docs/edits.md`` and a Plan
validator can all list the edits from one place (see :func:`list_edits`).

Conventions every spec follows:

* ``amount`` is in ``[amount_min, 1]`` (``amount_min`` is ``-1`` or ``0``);
  ``0`` is the identity, larger magnitudes give larger, measurable changes,
  and the sign's meaning is in ``positive`` / ``negative``.
* ``size`` (only where ``uses_size``) is in ``[-1, 1]``; ``0`` (or ``None``)
  is the default extent and the affected extent scales by ``1.5 ** size``.
* ``regions`` names the parsed regions (:data:`~retouch.types.REGION_NAMES`)
  the edit is confined to; ``margin_iod`` is how far beyond them (in
  inter-ocular distances, at ``size = 0``) pixels may change. Pixels outside
  that dilated region are bit-identical to the input.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Named lipstick colours -> sRGB hex.
LIPSTICK_COLORS: dict[str, str] = {
    "red": "#b0303a",
    "ruby": "#9b111e",
    "wine": "#6d1a2b",
    "plum": "#7b3350",
    "berry": "#8e2f58",
    "pink": "#d8707f",
    "coral": "#e0705a",
    "nude": "#b97a6a",
}

#: Named hair colours -> sRGB hex of a mid-tone strand of that colour.
HAIR_COLORS: dict[str, str] = {
    "black": "#1c1816",
    "brown": "#5a3a24",
    "blond": "#b8925c",
    "gray": "#a09c98",
}

#: Skin tone directions for ``skin.tone``.
SKIN_TONES: tuple[str, ...] = ("warm", "pale")

#: Lipstick finishes.
FINISHES: tuple[str, ...] = ("satin", "matte", "gloss")


@dataclass(frozen=True)
class EditSpec:
    """What one edit does and which parameters it takes.

    Attributes:
        name: stable edit name used by the CLI (``--set NAME=...``) and Plans.
        kind: ``"structure"`` (a smooth landmark-guided warp) or
            ``"appearance"`` (colour/texture inside parsed masks).
        description: one line for help texts.
        positive: what a positive amount does.
        negative: what a negative amount does, or ``None`` when
            ``amount_min == 0``.
        regions: parsed regions the edit is confined to.
        margin_iod: how far beyond ``regions`` pixels may change, in
            inter-ocular distances at ``size = 0`` (scaled by ``1.5 ** size``).
        amount_min: ``-1.0`` or ``0.0``.
        uses_size: whether ``size`` applies.
        size_help: what ``size`` changes (empty when it does not apply).
        colors: allowed colour names (hex ``#rrggbb`` is also accepted when
            ``hex_color``), or empty when the edit takes no colour.
        default_color: colour used when none is given (``None``: required).
        hex_color: whether ``#rrggbb`` colours are accepted.
        finishes: allowed finishes (empty: none).
        measure: the quantity reported in the edit report.
    """

    name: str
    kind: str
    description: str
    positive: str
    negative: str | None
    regions: tuple[str, ...]
    margin_iod: float
    amount_min: float = -1.0
    uses_size: bool = False
    size_help: str = ""
    colors: tuple[str, ...] = ()
    default_color: str | None = None
    hex_color: bool = False
    finishes: tuple[str, ...] = ()
    measure: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (for help, docs and Plan validators)."""
        return {
            "name": self.name, "kind": self.kind, "description": self.description,
            "positive": self.positive, "negative": self.negative,
            "amount_range": [self.amount_min, 1.0], "regions": list(self.regions),
            "margin_iod": self.margin_iod, "uses_size": self.uses_size,
            "size_help": self.size_help, "colors": list(self.colors),
            "default_color": self.default_color, "hex_color": self.hex_color,
            "finishes": list(self.finishes), "measure": self.measure,
        }


def _s(name: str, **kw: object) -> tuple[str, EditSpec]:
    return name, EditSpec(name=name, **kw)  # type: ignore[arg-type]


#: Every edit, in the order they are listed (and applied within a kind).
EDITS: dict[str, EditSpec] = dict([
    # ---- structure: landmark-guided warps ------------------------------------
    _s("double_chin", kind="structure",
       description="tighten the submental contour toward a clean jaw and lift the "
                   "fold's shading with the neck's own skin tone",
       positive="a fuller, lower submental contour (geometry only)",
       negative="remove the double chin: contour pulled up, fold shading filled",
       regions=("chin", "neck"), margin_iod=0.6, uses_size=True,
       size_help="height of the band below the jaw that is reshaped",
       measure="submental contour shift (px, up positive) and fold shading lifted (%)"),
    _s("face.slim", kind="structure",
       description="move the cheek and jaw contour toward the face's midline",
       positive="slimmer cheeks and jaw", negative="wider cheeks and jaw",
       regions=("left_cheek", "right_cheek", "chin"), margin_iod=0.45, uses_size=True,
       size_help="how far up the face the slimming reaches",
       measure="face width at the jaw (%)"),
    _s("eyes.size", kind="structure",
       description="enlarge or narrow the eye openings (the eye and its lids only)",
       positive="bigger, more open eyes", negative="narrower eyes (squint)",
       regions=("eyes",), margin_iod=0.3, uses_size=True,
       size_help="radius of the affected area around each eye",
       measure="eye opening area (%)"),
    _s("nose.width", kind="structure",
       description="widen or narrow the nose, mostly the nostril wings",
       positive="wider nose", negative="narrower nose",
       regions=("nose",), margin_iod=0.25, uses_size=True,
       size_help="radius of the affected area around the nose",
       measure="alar (nostril-wing) width (%)"),
    _s("nose.length", kind="structure",
       description="move the nose tip down (longer) or up (shorter)",
       positive="longer nose", negative="shorter nose",
       regions=("nose",), margin_iod=0.3, uses_size=True,
       size_help="how broadly the surrounding skin follows the tip",
       measure="nose length, bridge to base (%)"),
    _s("lips.fullness", kind="structure",
       description="make both lips fuller (taller) or thinner",
       positive="fuller lips", negative="thinner lips",
       regions=("lips", "mouth_interior"), margin_iod=0.25, uses_size=True,
       size_help="extent of the affected area around the mouth",
       measure="lip area (%)"),
    _s("smile", kind="structure",
       description="lift (or lower) the mouth corners",
       positive="corners lifted: a bigger smile", negative="corners lowered",
       regions=("lips", "mouth_interior"), margin_iod=0.35, uses_size=True,
       size_help="how broadly the cheeks follow the corners",
       measure="mouth-corner lift relative to the lip centre (px)"),
    _s("brows.raise", kind="structure",
       description="raise and arch the eyebrows (or lower and flatten them)",
       positive="raised, more arched brows", negative="lowered, flatter brows",
       regions=("brows",), margin_iod=0.3, uses_size=True,
       size_help="how broadly the forehead follows the brows",
       measure="brow height above the eye (px)"),
    # ---- appearance: colour and texture inside parsed masks -------------------
    _s("lipstick", kind="appearance",
       description="colour the lips (name or #rrggbb) with a matte, satin or gloss finish",
       positive="lipstick of the given colour at that opacity",
       negative="desaturate the lips toward a nude, skin-like tone",
       regions=("lips",), margin_iod=0.06, uses_size=True,
       size_help="grow (+) or shrink (-) the painted lip line",
       colors=tuple(LIPSTICK_COLORS), default_color="red", hex_color=True,
       finishes=FINISHES, measure="lip chroma change (Lab C*) and colour distance"),
    _s("teeth.whiten", kind="appearance",
       description="whiten the teeth: remove yellow, lift lightness",
       positive="whiter teeth", negative=None, amount_min=0.0,
       regions=("mouth_interior",), margin_iod=0.02,
       measure="teeth yellowness (Lab b*) and lightness change"),
    _s("eyes.whiten", kind="appearance",
       description="whiten the eye whites (less red and yellow) and brighten the irises",
       positive="clearer eye whites and brighter irises", negative=None, amount_min=0.0,
       regions=("eyes",), margin_iod=0.02,
       measure="sclera redness (Lab a*) and iris lightness change"),
    _s("brows.density", kind="appearance",
       description="denser, darker eyebrows (or sparser, lighter ones)",
       positive="bushier, darker brows", negative="sparser, lighter brows",
       regions=("brows",), margin_iod=0.12, uses_size=True,
       size_help="how far the brow area is thickened",
       measure="brow lightness change (Lab L*)"),
    _s("hair.color", kind="appearance",
       description="recolour the hair (black, brown, blond, gray or #rrggbb), keeping "
                   "its strands and shine",
       positive="hair toward the given colour at that opacity", negative=None,
       amount_min=0.0, regions=("hair",), margin_iod=0.0,
       colors=tuple(HAIR_COLORS), default_color=None, hex_color=True,
       measure="hair colour distance to the target (Lab dE)"),
    _s("skin.tone", kind="appearance",
       description="shift the skin tone of face, neck and ears: warm or pale",
       positive="warmer (warm) / paler (pale) skin",
       negative="cooler (warm) / deeper, tanned (pale) skin",
       regions=("skin", "neck", "ears"), margin_iod=0.05,
       colors=SKIN_TONES, default_color="warm",
       measure="skin lightness and warmth change (Lab L*, b*)"),
    _s("under_eye", kind="appearance",
       description="lighten dark circles under the eyes with the cheek's own tone",
       positive="lighter under-eyes", negative=None, amount_min=0.0,
       regions=("left_under_eye", "right_under_eye"), margin_iod=0.12, uses_size=True,
       size_help="how far below the lower lid the correction reaches",
       measure="under-eye darkness relative to the cheek (%)"),
    _s("young", kind="appearance",
       description="soften wrinkles and fine lines, keeping pores and skin grain",
       positive="softer wrinkles and lines", negative=None, amount_min=0.0,
       regions=("skin",), margin_iod=0.02,
       measure="wrinkle (ridge) energy on the skin (%)"),
])


def list_edits() -> list[EditSpec]:
    """Every registered edit, in registry order."""
    return list(EDITS.values())


def size_factor(size: float | None) -> float:
    """Extent multiplier for a ``size`` in ``[-1, 1]`` (``None`` -> 1)."""
    return 1.0 if size is None else float(1.5 ** float(size))
