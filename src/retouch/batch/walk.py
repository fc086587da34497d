"""Which files of the input tree a batch treats."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from ..imageio import OUTPUT_FORMATS

#: Extensions a batch reads (lower case); each is written back in the same format.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(OUTPUT_FORMATS)


@dataclass(frozen=True)
class Listing:
    """The input tree, sorted.

    Attributes:
        images: relative paths (``/``-separated) with an image extension.
        others: relative paths of other files (logged as skipped).
    """

    images: tuple[str, ...]
    others: tuple[str, ...]


def list_inputs(fs: Any, root: str, *, exclude: str | None = None) -> Listing:
    """Walk ``root`` recursively; hidden files and folders (``.name``) are ignored,
    and so is ``exclude`` (the output folder, when it lies inside the input)."""
    images, others = [], []
    prefix = root.rstrip("/") + "/"
    excl = exclude.rstrip("/") + "/" if exclude else None
    for path in sorted(fs.find(root, withdirs=False, detail=False)):
        if excl is not None and (path + "/").startswith(excl):
            continue
        rel = path[len(prefix):] if path.startswith(prefix) else posixpath.basename(path)
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        ext = posixpath.splitext(rel)[1].lower()
        (images if ext in IMAGE_EXTENSIONS else others).append(rel)
    return Listing(tuple(images), tuple(others))
