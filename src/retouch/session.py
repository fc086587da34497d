"""An interactive retouching conversation over one photo.

>>> from retouch import Session
>>> s = Session("portrait.jpg", preview="preview.jpg")      # doctest: +SKIP
>>> print(s.ask("remove the big pimple on the left cheek"))  # doctest: +SKIP
Removed the largest of 3 pimples on the left cheek; kept 23 freckles and 1 mole.
>>> print(s.ask("a bit more"))                               # doctest: +SKIP
>>> print(s.undo())                                          # doctest: +SKIP
>>> s.save("out.jpg")                                        # doctest: +SKIP

The photo is analyzed once (detection, parsing, localization); every turn
merges the request into the session's *state* (an absolute
:class:`~retouch.plan.Plan`, see :func:`retouch.plan.merge`) and renders the
state from the original pixels, so "a bit more", "less" and "only the chin"
act on what is applied, and the result never drifts. Undo and redo store the
exact pixel differences of each turn (compressed), not whole images: undo
restores the previous image bit for bit, and memory grows with what changed.

The same object serves the terminal (``retouch chat``) and, later, the web app.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InvalidInputError, OutputError, RetouchError
from .execute import PhotoAnalysis, describe_result, execute_plan
from .interpret import Interpretation, Interpreter, get_interpreter
from .pipeline import RetouchPipeline
from .plan import Plan, merge
from .types import ImageData, RetouchResult

#: Longest side of preview images (full resolution is kept for ``save``).
PREVIEW_MAX_SIDE = 1600

HELP_TEXT = (
    "Ask for what you want, e.g. 'remove the acne on my forehead but keep the freckles', "
    "'lighten the dark circles a little', 'remove the big pimple on the left cheek', "
    "'a bit more', 'only the chin'; or say 'show me what you found', 'undo', 'redo', "
    "'start over', 'save as out.jpg', 'quit'."
)


@dataclass(frozen=True)
class Reply:
    """The answer to one turn.

    Attributes:
        text: one or two sentences for the user.
        kind: ``"edit"``, ``"undo"``, ``"redo"``, ``"reset"``, ``"show"``,
            ``"save"``, ``"help"``, ``"quit"``, ``"not_understood"``, ``"error"``
            or ``"noop"``.
        changed: whether the current image changed.
        interpretation: what the interpreter made of the text (``None`` for
            direct calls such as :meth:`Session.undo`).
        report: the execution report of the new state (``None`` if not rendered).
        preview: the preview file written this turn, if any.
        saved: the file written by ``save``, if any.
        found: for ``show``, one dict per found imperfection (id, type, region,
            centre, radius, score, treated).
    """

    text: str
    kind: str
    changed: bool = False
    interpretation: Interpretation | None = None
    report: dict[str, Any] | None = None
    preview: Path | None = None
    saved: Path | None = None
    found: tuple[dict[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Turn:
    """One entry of :attr:`Session.history`: the request, the reply, the state after it."""

    text: str
    reply: Reply
    state: Plan


@dataclass
class _Diff:
    """Exact pixel difference between two images of the same shape (zlib-compressed)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    n: int
    blob: bytes  # zlib(idx int32/int64 | before values | after values)

    @classmethod
    def between(cls, before: np.ndarray, after: np.ndarray) -> _Diff:
        flat_b = before.reshape(-1, before.shape[-1])
        flat_a = after.reshape(-1, after.shape[-1])
        idx = np.flatnonzero(np.any(flat_b != flat_a, axis=1))
        idx = idx.astype(np.int32 if flat_b.shape[0] < 2**31 else np.int64)
        payload = idx.tobytes() + flat_b[idx].tobytes() + flat_a[idx].tobytes()
        return cls(before.shape, before.dtype, int(idx.size), zlib.compress(payload, 1))

    def _parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raw = zlib.decompress(self.blob)
        c = self.shape[-1]
        total = int(np.prod(self.shape[:-1]))
        idt = np.dtype(np.int32 if total < 2**31 else np.int64)
        k = self.n * idt.itemsize
        v = self.n * c * self.dtype.itemsize
        idx = np.frombuffer(raw[:k], idt)
        before = np.frombuffer(raw[k:k + v], self.dtype).reshape(self.n, c)
        after = np.frombuffer(raw[k + v:k + 2 * v], self.dtype).reshape(self.n, c)
        return idx, before, after

    def revert(self, image: np.ndarray) -> None:
        idx, before, _ = self._parts()
        image.reshape(-1, self.shape[-1])[idx] = before

    def reapply(self, image: np.ndarray) -> None:
        idx, _, after = self._parts()
        image.reshape(-1, self.shape[-1])[idx] = after

    @property
    def nbytes(self) -> int:
        return len(self.blob)


@dataclass
class _Step:
    text: str
    state_before: Plan
    touched_before: tuple[int, ...]
    state_after: Plan
    touched_after: tuple[int, ...]
    diff: _Diff
    report_after: dict[str, Any] | None
    report_before: dict[str, Any] | None


class Session:
    """A conversation that edits one photo (see the module docstring).

    Args:
        image: a path, an RGB array or :class:`~retouch.types.ImageData`.
        interpreter: an :class:`~retouch.interpret.Interpreter`; default: the
            built-in one (or ``RETOUCH_INTERPRETER``).
        pipeline: the :class:`~retouch.pipeline.RetouchPipeline` used to analyze.
        preview: write the current image here after every change (PNG/JPEG...,
            longest side at most :data:`PREVIEW_MAX_SIDE`); ``None`` = no previews.
        output: the default path of ``save`` when none is given.
        quality: JPEG/WebP quality for ``save``.

    Raises:
        InvalidInputError: the image cannot be read.
    """

    def __init__(self, image: str | Path | np.ndarray | ImageData, *,
                 interpreter: Interpreter | None = None, pipeline: RetouchPipeline | None = None,
                 preview: str | Path | None = None, output: str | Path | None = None,
                 quality: int = 95) -> None:
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) \
                or not 1 <= int(quality) <= 100:
            raise InvalidInputError(f"`quality` must be an integer in 1..100; got {quality!r}")
        self.interpreter: Interpreter = interpreter or get_interpreter()
        self.analysis: PhotoAnalysis = PhotoAnalysis.of(image, pipeline=pipeline)
        self.preview: Path | None = Path(preview) if preview is not None else None
        self.output: Path | None = Path(output) if output is not None else None
        self.quality = int(quality)
        self._image: np.ndarray = self.analysis.data.pixels.copy()
        self._state = Plan()
        self._touched: tuple[int, ...] = ()
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._history: list[Turn] = []
        self._report: dict[str, Any] | None = None
        self._cache: dict[str, Any] = {}  # execute_plan's cache (the last restoration)

    # -- read-only views ------------------------------------------------------------------
    @property
    def image(self) -> np.ndarray:
        """The current image (a read-only view; same shape and dtype as the input)."""
        v = self._image.view()
        v.flags.writeable = False
        return v

    @property
    def state(self) -> Plan:
        """The absolute plan the current image renders."""
        return self._state

    @property
    def history(self) -> tuple[Turn, ...]:
        """Every turn so far (undo and redo are turns too)."""
        return tuple(self._history)

    @property
    def data(self) -> ImageData:
        return self.analysis.data

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the undo/redo history (the images themselves excluded)."""
        return sum(s.diff.nbytes for s in self._undo + self._redo)

    def result(self) -> RetouchResult:
        """The current state rendered as a :class:`~retouch.types.RetouchResult`."""
        return execute_plan(self.analysis, self._state, cache=self._cache)

    # -- turns --------------------------------------------------------------------------------
    def ask(self, text: str) -> Reply:
        """Interpret ``text`` and act on it; never raises for a bad request.

        Errors a user can fix (nothing understood, a file that cannot be
        written, an edit this build lacks) come back as a reply of kind
        ``"not_understood"`` or ``"error"``; the image is then unchanged.
        """
        if not isinstance(text, str):
            raise InvalidInputError(f"`text` must be a string; got {type(text).__name__}")
        try:
            interp = self.interpreter.interpret(text, context=self._state)
        except RetouchError as exc:
            return self._log(text, Reply(f"Sorry, I could not read that: {exc}", "error"))
        replies: list[Reply] = []
        for cmd in interp.commands:
            if cmd.name == "undo":
                replies.append(self.undo(log=False))
            elif cmd.name == "redo":
                replies.append(self.redo(log=False))
            elif cmd.name == "reset":
                replies.append(self.reset(log=False))
            elif cmd.name == "show":
                replies.append(self.show())
            elif cmd.name == "help":
                replies.append(Reply(HELP_TEXT, "help"))
            elif cmd.name == "quit":
                replies.append(Reply("Bye.", "quit"))
            elif cmd.name == "save":
                replies.append(self._save_reply(cmd.arg))
        plan = interp.plan
        if plan.operations:
            replies.append(self._apply(plan, text, interp))
        elif not interp.commands:
            nu = "', '".join(plan.not_understood) or text
            replies.append(Reply(f"Sorry, I did not understand '{nu}'. Try e.g. 'remove the "
                                 "acne on my chin' or say 'help'.", "not_understood",
                                 interpretation=interp))
        reply = _combine(replies, interp)
        return self._log(text, reply)

    def apply(self, plan: Plan, text: str | None = None) -> Reply:
        """Merge a plan (e.g. from a web client) into the state and render it."""
        if not isinstance(plan, Plan):
            raise InvalidInputError(
                f"`plan` must be a retouch.plan.Plan; got {type(plan).__name__}")
        return self._log(text or plan.instruction or "(plan)", self._apply(plan, text, None))

    def _apply(self, plan: Plan, text: str | None, interp: Interpretation | None) -> Reply:
        if not self.analysis.analyses:
            return Reply("No face found, so nothing changed.", "noop", interpretation=interp)
        merged = merge(self._state, plan, last_turn=self._touched)
        if merged.plan.operations == self._state.operations:
            note = "; ".join(merged.notes) or "that is already applied"
            return Reply(f"Nothing changed: {note}.", "noop", interpretation=interp,
                         report=self._report)
        try:
            res = execute_plan(self.analysis, merged.plan, cache=self._cache)
        except InvalidInputError as exc:
            return Reply(f"Could not apply that: {exc}.", "error", interpretation=interp)
        diff = _Diff.between(self._image, res.image)
        step = _Step(text or "", self._state, self._touched, merged.plan, merged.touched, diff,
                     res.report, self._report)
        diff.reapply(self._image)
        self._undo.append(step)
        self._redo.clear()
        self._state, self._touched, self._report = merged.plan, merged.touched, res.report
        sentence = describe_result(res.report, only_ops=merged.touched)
        if diff.n == 0:
            sentence = "No visible change: " + sentence[0].lower() + sentence[1:]
        if merged.notes:
            sentence = sentence.rstrip(".") + f" ({'; '.join(merged.notes)})."
        return Reply(sentence, "edit", changed=diff.n > 0, interpretation=interp,
                     report=res.report, preview=self._write_preview())

    def undo(self, *, log: bool = True) -> Reply:
        """Go back one change; the image is restored bit for bit."""
        if not self._undo:
            r = Reply("Nothing to undo.", "undo")
        else:
            step = self._undo.pop()
            step.diff.revert(self._image)
            self._redo.append(step)
            self._state, self._touched = step.state_before, step.touched_before
            self._report = step.report_before
            what = f" '{step.text}'" if step.text else ""
            r = Reply(f"Undid{what}.", "undo", changed=step.diff.n > 0, report=self._report,
                      preview=self._write_preview())
        return self._log("undo", r) if log else r

    def redo(self, *, log: bool = True) -> Reply:
        """Re-apply the last undone change."""
        if not self._redo:
            r = Reply("Nothing to redo.", "redo")
        else:
            step = self._redo.pop()
            step.diff.reapply(self._image)
            self._undo.append(step)
            self._state, self._touched = step.state_after, step.touched_after
            self._report = step.report_after
            what = f" '{step.text}'" if step.text else ""
            r = Reply(f"Redid{what}.", "redo", changed=step.diff.n > 0, report=self._report,
                      preview=self._write_preview())
        return self._log("redo", r) if log else r

    def reset(self, *, log: bool = True) -> Reply:
        """Back to the original photo (undoable)."""
        if not self._state.operations:
            r = Reply("This is already the original photo.", "reset")
        else:
            original = self.analysis.data.pixels
            diff = _Diff.between(self._image, original)
            self._undo.append(_Step("start over", self._state, self._touched, Plan(), (), diff,
                                    None, self._report))
            self._redo.clear()
            diff.reapply(self._image)
            self._state, self._touched, self._report = Plan(), (), None
            r = Reply("Back to the original photo.", "reset", changed=diff.n > 0,
                      preview=self._write_preview())
        return self._log("start over", r) if log else r

    def show(self) -> Reply:
        """Summarize what was found; with a preview path, also write an annotated image."""
        an = self.analysis
        treated = set()
        if self._report is not None:
            treated = {f["id"] for f in self._report["instruction"]["found"] if f["treated"]}
        found = tuple(dict(f.to_dict(), treated=f.id in treated) for f in an.instances)
        text = _found_sentence(an)
        path = None
        if self.preview is not None and an.instances:
            path = self.preview.with_name(self.preview.stem + "_found.png")
            try:
                _save_preview(path, _annotate(self._image, an, treated), an.data)
                text = text.rstrip(".") + f"; numbered in {path}."
            except RetouchError as exc:
                text += f" (could not write {path}: {exc})"
                path = None
        return Reply(text, "show", preview=path, found=found)

    def save(self, path: str | Path | None = None, *, quality: int | None = None) -> Path:
        """Write the current image at full resolution (format from the extension)."""
        from .imageio import save_image

        target = Path(path) if path is not None else self.output
        if target is None:
            raise InvalidInputError("say where to save, e.g. 'save as out.jpg'")
        return save_image(target, self._image, source=self.analysis.data,
                          alpha=self.analysis.data.alpha, quality=quality or self.quality)

    # -- helpers ------------------------------------------------------------------------------
    def _save_reply(self, path: str | None) -> Reply:
        try:
            written = self.save(path)
        except RetouchError as exc:
            return Reply(f"Could not save: {exc}.", "error")
        return Reply(f"Saved {written}.", "save", saved=written)

    def _write_preview(self) -> Path | None:
        if self.preview is None:
            return None
        try:
            _save_preview(self.preview, self._image, self.analysis.data)
        except RetouchError:
            return None
        return self.preview

    def _log(self, text: str, reply: Reply) -> Reply:
        self._history.append(Turn(text, reply, self._state))
        return reply


def _combine(replies: list[Reply], interp: Interpretation) -> Reply:
    if len(replies) == 1:
        r = replies[0]
    else:
        text = " ".join(r.text for r in replies)
        last = next((r for r in reversed(replies) if r.kind in ("edit", "undo", "redo", "reset")),
                    replies[-1])
        r = Reply(text, last.kind, changed=any(x.changed for x in replies), report=last.report,
                  preview=last.preview, saved=next((x.saved for x in replies if x.saved), None),
                  found=next((x.found for x in replies if x.found), ()))
    extra = []
    if r.kind != "not_understood" and interp.plan.not_understood:
        extra.append("I did not understand '" + "', '".join(interp.plan.not_understood) + "'.")
    extra += [w if w.endswith(".") else w + "." for w in interp.warnings
              if w.startswith("LLM")]
    text = " ".join([r.text] + extra)
    return Reply(text, r.kind, r.changed, interp, r.report, r.preview, r.saved, r.found)


def _found_sentence(an: PhotoAnalysis) -> str:
    from .execute import _noun

    if not an.analyses:
        return "I found no face in this photo."
    c = an.counts()
    blem = c["acne"] + c["red_spot"] + c["dark_spot"]
    parts = []
    if blem:
        sub = ", ".join(f"{c[t]} {_noun([t], c[t])}" for t in ("acne", "red_spot", "dark_spot")
                        if c[t])
        parts.append(f"{blem} {'blemish' if blem == 1 else 'blemishes'} ({sub})")
    for t in ("freckle", "mole", "wrinkle", "shine", "redness"):
        if c[t]:
            parts.append(f"{c[t]} {_noun([t], c[t])}")
    if c["under_eye"]:
        parts.append("dark circles under " + ("both eyes" if c["under_eye"] >= 2 else "one eye"))
    faces = f" on {an.usable_faces} faces" if an.usable_faces > 1 else ""
    if not parts:
        return f"I found no imperfections{faces}."
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"I found {listed}{faces}."


_TYPE_COLOURS = {"acne": (255, 60, 60), "red_spot": (255, 140, 0), "dark_spot": (160, 90, 255),
                 "mole": (0, 200, 255), "freckle": (255, 230, 0), "wrinkle": (0, 255, 120),
                 "under_eye": (255, 255, 255), "shine": (200, 200, 200),
                 "redness": (255, 120, 170)}


def _annotate(image: np.ndarray, an: PhotoAnalysis, treated: set[int]) -> np.ndarray:
    """An 8-bit view of the faces with every instance circled and numbered by id.

    The view is cropped to the faces (plus a margin) and scaled so its longest
    side is 800..:data:`PREVIEW_MAX_SIDE` pixels; treated instances get a thick ring.
    """
    px = image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8)
    H, W = px.shape[:2]
    boxes = np.array([f.face.bbox_xywh for f in an.analyses], np.float64)
    x0 = max(0, int(np.min(boxes[:, 0] - 0.3 * boxes[:, 2])))
    y0 = max(0, int(np.min(boxes[:, 1] - 0.3 * boxes[:, 3])))
    x1 = min(W, int(np.max(boxes[:, 0] + 1.3 * boxes[:, 2])) + 1)
    y1 = min(H, int(np.max(boxes[:, 1] + 1.3 * boxes[:, 3])) + 1)
    view = px[y0:y1, x0:x1]
    side = max(view.shape[:2])
    scale = float(np.clip(side, 800, PREVIEW_MAX_SIDE)) / side
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = np.ascontiguousarray(cv2.resize(view, None, fx=scale, fy=scale, interpolation=interp))
    for f in an.instances:
        x = int(round((f.center_xy[0] - x0) * scale))
        y = int(round((f.center_xy[1] - y0) * scale))
        r = max(5, int(round((f.radius_px * 1.5 + 2) * scale)))
        col = _TYPE_COLOURS[f.type]
        cv2.circle(out, (x, y), r, col, 2 if f.id in treated else 1, cv2.LINE_AA)
        cv2.putText(out, str(f.id), (x + r // 2 + 2, y - r // 2 - 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, col, 1, cv2.LINE_AA)
    return out


def _save_preview(path: Path, image: np.ndarray, source: ImageData | None) -> None:
    """Write a downscaled preview; never over ``source``'s file (the user's photo)."""
    from .imageio import is_same_file, save_image

    if source is not None and source.path is not None and is_same_file(path, source.path):
        raise OutputError(f"{path}: a preview would overwrite the input image")
    px = image
    scale = min(1.0, PREVIEW_MAX_SIDE / max(px.shape[:2]))
    if scale < 1:
        px = cv2.resize(px, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    save_image(path, px, quality=90)


def run_instruction(
    image: str | Path | np.ndarray | ImageData, *, instruction: str | None = None,
    plan: Plan | None = None, interpreter: Interpreter | None = None,
    pipeline: RetouchPipeline | None = None,
) -> RetouchResult:
    """One-shot retouch by instruction (what :func:`retouch.retouch` calls).

    Raises:
        InvalidInputError: nothing in ``instruction`` was understood, it only holds
            session commands (undo, save...), or ``plan`` has relative operations
            with nothing to refer to.
    """
    if (instruction is None) == (plan is None):
        raise InvalidInputError("give either `instruction` (text) or `plan`, not both")
    interp = None
    if instruction is not None:
        if not isinstance(instruction, str) or not instruction.strip():
            raise InvalidInputError(f"`instruction` must be a non-empty string; got "
                                    f"{instruction!r}")
        interp = (interpreter or get_interpreter()).interpret(instruction)
        plan = interp.plan
        if not plan.operations:
            what = "', '".join(plan.not_understood) or instruction
            hint = ("session commands (undo, save, show...) need `retouch chat` or a Session"
                    if interp.commands else
                    "try e.g. 'remove the acne on my chin but keep the freckles'")
            raise InvalidInputError(f"could not understand the instruction '{what}'; {hint}")
    if plan is not None and not isinstance(plan, Plan):
        raise InvalidInputError(f"`plan` must be a retouch.Plan (see Plan.from_json); got "
                                f"{type(plan).__name__}")
    merged = merge(Plan(), plan if plan is not None else Plan())
    if not merged.plan.operations:
        raise InvalidInputError("the plan has nothing to apply: " + "; ".join(merged.notes))
    analysis = PhotoAnalysis.of(image, pipeline=pipeline)
    res = execute_plan(analysis, merged.plan)
    ins = res.report["instruction"]
    ins["text"] = instruction
    ins["interpreter"] = interp.source if interp is not None else None
    ins["not_understood"] = list(plan.not_understood)
    ins["warnings"] = list(interp.warnings if interp is not None else ()) + list(merged.notes)
    ins["reply"] = describe_result(res.report)
    return res
