"""Face editing confined to parsed regions.

Structure edits are smooth landmark-guided warps (elliptical scaling and
Gaussian RBF interpolation of mesh-point displacements), confined to each
edit's dilated parsed region and applied at full resolution through the face's
crop transform; appearance edits change colour and tone in CIE Lab inside
feathered parsed masks, keeping texture. Pixels outside an edit's dilated
region are bit-identical to the input, and ``amount = 0`` is the identity.

>>> from retouch.edit import EditRequest, apply_edits        # doctest: +SKIP
>>> faces, analyses = RetouchPipeline().analyze(data)        # doctest: +SKIP
>>> res = apply_edits(data, analyses, [EditRequest("double_chin", -0.8),
...                                    EditRequest("eyes.size", 0.3)])  # doctest: +SKIP
>>> res.image, res.changed, res.report                       # doctest: +SKIP

See ``docs/edits.md`` for every edit, its parameters and what it measures.
"""

from __future__ import annotations

from ._apply import apply_edits
from ._parse import format_edit_list, parse_set
from ._request import EditRequest, EditResult
from ._spec import EDITS, FINISHES, HAIR_COLORS, LIPSTICK_COLORS, SKIN_TONES, EditSpec, list_edits

__all__ = [
    "EDITS",
    "FINISHES",
    "HAIR_COLORS",
    "LIPSTICK_COLORS",
    "SKIN_TONES",
    "EditRequest",
    "EditResult",
    "EditSpec",
    "apply_edits",
    "format_edit_list",
    "list_edits",
    "parse_set",
]
