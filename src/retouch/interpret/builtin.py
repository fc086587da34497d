"""The built-in interpreter: offline, deterministic, a few hundred microseconds a request.

How it reads a request:

1. **Normalize** (lowercase, contractions, hyphens, ``50%``, ``#3``, hex colours)
   and pull out ``save as <path>`` with the path's own spelling.
2. **Correct typos** against the vocabulary (edit distance 1 from 4 letters up,
   2 from 9; the first letter must match; 4-letter words only by insertion or
   transposition, so "star" does not become "scar").
3. **Tag** the longest known phrases (:mod:`._lexicon`): verbs, imperfection
   types, regions, sides, strengths, selectors, edits, commands...
4. **Split** into chunks at ``,`` / ``and`` / ``but`` / ``then``; each chunk is
   read on its own, then bound to its neighbours: a chunk without a verb
   inherits the previous one ("remove the acne on my forehead *and chin*");
   ``but not`` / ``except`` exclude; "it" / "them" refer back.
5. Whatever carries words it does not know and yields nothing is returned in
   ``plan.not_understood`` - never guessed.

The conventions it follows (which words map to which types, defaults,
left/right) are documented in ``docs/instructions.md``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from ..plan import Operation, Plan, Selector
from . import Command, Interpretation
from ._lexicon import (
    BLEMISH,
    COLOR_CANON,
    COLORS,
    EDIT_DIR,
    LEX,
    SHINE,
    STATEMENT_STARTS,
    UNDER_EYE,
)

_MAX_PHRASE = max(len(p.split()) for p in LEX)
_SHOW_RE = re.compile(r"\b(what|which|how many|show|list|tell me)\b.*\b(find|found|detect|"
                      r"detected|see|saw|spot|spotted|notice|noticed|there)\b")
_UNDER_BOTH = ("left_under_eye", "right_under_eye")
_CLEANUP = (Operation("remove", types=BLEMISH),
            Operation("reduce", types=UNDER_EYE + SHINE, strength=0.6))
#: Default edit magnitude, and for "remove my double chin".
_EDIT_DEFAULT = 0.5
_REL_STEP = 0.25


@dataclass
class _Item:
    tag: str
    value: Any
    text: str

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"{self.tag}:{self.text}"


@dataclass
class _Chunk:
    items: list[_Item]
    joiner: str | None
    text: str


@dataclass
class _Targets:
    types: tuple[str, ...] = ()
    all_types: bool = False
    plural: bool | None = None
    regions: tuple[str, ...] = ()
    whole: bool = False
    select: Selector | None = None
    faces: tuple[int, ...] | None = None
    bare_start: bool = False

    @property
    def any(self) -> bool:
        return bool(self.types or self.all_types or self.regions or self.select)


@dataclass
class _State:
    ops: list[Operation] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # ops of the current verb clause
    verb: str | None = None  # family of the current clause
    excluding: bool = False  # the previous chunk was an exclusion list
    soft: int | None = None  # op read from a statement ("my forehead is shiny")


class BuiltinInterpreter:
    """Rule-based interpreter (see the module docstring). Thread-safe and stateless."""

    name = "builtin"

    def interpret(self, text: str, *, context: Plan | None = None) -> Interpretation:
        """Interpret one request.

        Args:
            text: the user's request (any length; empty gives an empty plan).
            context: ignored (relative requests become ``adjust`` / ``only``
                operations that the session resolves).
        """
        t0 = time.perf_counter()
        if not isinstance(text, str):
            raise TypeError(f"`text` must be a string; got {type(text).__name__}")
        st = _State()
        raw = text.strip()
        if raw in ("?", "??"):
            st.commands.append(Command("help"))
        else:
            body, saves, hexes = _extract(raw)
            for path in saves:
                st.commands.append(Command("save", path))
            tokens = _tokenize(body)
            tokens, fixes = _correct(tokens)
            if fixes:
                st.warnings.append("read " + ", ".join(f"'{a}' as '{b}'" for a, b in fixes))
            items = _tag(tokens, hexes)
            for chunk in _split(items):
                _read_chunk(chunk, st)
        ops = _dedupe(st.ops)
        nu = list(dict.fromkeys(s for s in st.not_understood if s))
        if not ops and not st.commands and raw and not nu:
            nu = [raw]
        plan = Plan(tuple(ops), tuple(nu), instruction=text)
        cmds = tuple(c for i, c in enumerate(st.commands) if i == 0 or c != st.commands[i - 1])
        return Interpretation(plan=plan, commands=cmds, warnings=tuple(st.warnings),
                              source=self.name,
                              elapsed_ms=(time.perf_counter() - t0) * 1000.0)


# ----------------------------------------------------------------------------- normalize
_SAVE_RE = re.compile(
    r"\b(?:save|export|write|store)(?:\s+(?:it|this|that|the\s+(?:result|image|photo|picture|"
    r"file|output)))?(?:\s+(?:as|to|into|in|at))?\s+[\"']?(?P<path>[^\"']+?\.(?:jpe?g|png|"
    r"tiff?|webp|bmp))[\"']?(?=$|[\s,;!?)]|\.(?:\s|$))", re.IGNORECASE)
_CONTRACTIONS = [
    (r"\bdon'?t\b", "do not"), (r"\bdoesn'?t\b", "does not"), (r"\bdidn'?t\b", "did not"),
    (r"\bcan'?t\b", "can not"), (r"\bcannot\b", "can not"), (r"\bwon'?t\b", "will not"),
    (r"\bshouldn'?t\b", "should not"), (r"\bisn'?t\b", "is not"), (r"\baren'?t\b", "are not"),
    (r"\bwouldn'?t\b", "would not"), (r"\bi'm\b", "i am"), (r"\bit's\b", "it is"),
    (r"\bthat's\b", "that is"), (r"\bwhat's\b", "what is"), (r"\bthere's\b", "there is"),
    (r"\bi'd\b", "i would"), (r"\byou're\b", "you are"), (r"\blet's\b", "let us"),
    (r"\bi've\b", "i have"), (r"\bi'll\b", "i will"), (r"'s\b", "s"), (r"'", ""),
]
_CONTRACTIONS_RE = [(re.compile(a), b) for a, b in _CONTRACTIONS]


def _extract(text: str) -> tuple[str, list[str], list[str]]:
    """Pull out save paths and hex colours (case-preserving); return the rest."""
    saves: list[str] = []

    def _save(m: re.Match[str]) -> str:
        saves.append(m.group("path").strip())
        return " , "

    text = _SAVE_RE.sub(_save, text)
    hexes: list[str] = []

    def _hex(m: re.Match[str]) -> str:
        hexes.append(m.group(0).lower())
        return f" hexcolor{len(hexes) - 1} "

    text = re.sub(r"#[0-9a-fA-F]{6}\b", _hex, text)
    return text, saves, hexes


def _tokenize(text: str) -> list[str]:
    s = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    s = s.replace("\u201c", '"').replace("\u201d", '"')
    for rx, rep in _CONTRACTIONS_RE:
        s = rx.sub(rep, s)
    s = re.sub(r"w/o\b", " without ", s)
    s = re.sub(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", r" pct\1 ", s)
    s = re.sub(r"#\s*(\d+)", r" idnum\1 ", s)
    s = re.sub(r"(?:->|=>|-->)", " ", s)
    s = s.replace("&", " and ").replace("+", " and ")
    s = re.sub(r"[-_/]", " ", s)
    s = re.sub(r"[,;.!?:()\[\]{}\n\"]+", " , ", s)
    return re.findall(r"[a-z0-9.]+|,", s)


# ----------------------------------------------------------------------------- typos
def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1:])
        out |= nxt
        frontier = nxt
    return out


def _build_index() -> tuple[frozenset[str], dict[str, list[str]]]:
    vocab = {w for p in LEX for w in p.split()}
    index: dict[str, list[str]] = {}
    for w in sorted(vocab):
        if len(w) < 4 or not w.isalpha():
            continue
        for d in _deletes(w, 2 if len(w) >= 9 else 1):
            index.setdefault(d, []).append(w)
    return frozenset(vocab), index


_VOCAB, _INDEX = _build_index()


def _distance(a: str, b: str) -> int:
    """Optimal-string-alignment (Damerau-Levenshtein) distance."""
    la, lb = len(a), len(b)
    d = [[0] * (lb + 1) for _ in range(la + 1)]
    for i in range(la + 1):
        d[i][0] = i
    for j in range(lb + 1):
        d[0][j] = j
    for i in range(1, la + 1):
        for j in range(1, lb + 1):
            c = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + c)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[la][lb]


def _correct(tokens: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    out, fixes = [], []
    for tok in tokens:
        if tok in _VOCAB or len(tok) < 4 or not tok.isalpha():
            out.append(tok)
            continue
        limit = 2 if len(tok) >= 9 else 1
        cands: set[str] = set()
        for d in _deletes(tok, limit):
            cands.update(_INDEX.get(d, ()))
        best, best_d = None, limit + 1
        for c in sorted(cands):
            if c[0] != tok[0]:
                continue  # first letters are rarely mistyped; this avoids wild guesses
            dist = _distance(tok, c)
            if len(tok) == 4 and len(c) == 4:
                continue  # 4-letter substitutions are too ambiguous ("star" -> "scar")
            if dist < best_d:
                best, best_d = c, dist
        if best is not None and best_d <= limit:
            out.append(best)
            fixes.append((tok, best))
        else:
            out.append(tok)
    return out, fixes


# ----------------------------------------------------------------------------- tagging
def _tag(tokens: list[str], hexes: list[str]) -> list[_Item]:
    items: list[_Item] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == ",":
            items.append(_Item("SEP", ",", ","))
            i += 1
            continue
        m = re.fullmatch(r"hexcolor(\d+)", tok)
        if m and int(m.group(1)) < len(hexes):
            items.append(_Item("COLOR", hexes[int(m.group(1))], hexes[int(m.group(1))]))
            i += 1
            continue
        m = re.fullmatch(r"pct(\d+(?:\.\d+)?)", tok)
        if m:
            items.append(_Item("INT", min(1.0, float(m.group(1)) / 100.0), tok))
            i += 1
            continue
        m = re.fullmatch(r"idnum(\d+)", tok)
        if m:
            items.append(_Item("ID", int(m.group(1)), tok))
            i += 1
            continue
        if tok.isdigit():
            items.append(_Item("DIGIT", int(tok), tok))
            i += 1
            continue
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i:i + n])
            if "," in tokens[i:i + n]:
                continue
            hit = LEX.get(phrase)
            if hit is not None:
                items.append(_Item(hit[0], hit[1], phrase))
                i += n
                break
        else:
            items.append(_Item("UNK", None, tok))
            i += 1
    return items


def _split(items: list[_Item]) -> list[_Chunk]:
    """Split at separators; "everything but X" keeps "but" as an exclusion."""
    chunks: list[_Chunk] = []
    cur: list[_Item] = []
    joiner: str | None = None
    for it in items:
        if it.tag == "SEP":
            prev = next((p for p in reversed(cur) if p.tag != "FILL"), None)
            if it.value == "but" and prev is not None and prev.tag == "ALL":
                cur.append(_Item("EXCEPT", None, "but"))
                continue
            if cur:
                chunks.append(_Chunk(cur, joiner, " ".join(i.text for i in cur)))
                cur = []
                joiner = it.value
            elif it.value != "," or joiner is None:
                joiner = it.value if joiner in (None, ",") else joiner
            continue
        cur.append(it)
    if cur:
        chunks.append(_Chunk(cur, joiner, " ".join(i.text for i in cur)))
    return chunks


# ----------------------------------------------------------------------------- reading
def _flip(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def _targets(items: list[_Item]) -> tuple[_Targets, set[int]]:
    """Types, regions, selector and faces of a list of items; returns the used indices."""
    t = _Targets()
    used: set[int] = set()
    types: list[str] = []
    regions: list[str] = []
    view = any(i.tag == "VIEW" for i in items)
    used |= {k for k, i in enumerate(items) if i.tag == "VIEW"}
    near_k = None
    anchor: str | None = None
    sel_by = None
    count = None
    ids: list[int] = []
    one_plural: bool | None = None
    faces: list[int] = []
    k = 0
    n = len(items)

    def nxt(j: int) -> int:
        while j < n and items[j].tag == "FILL":
            j += 1
        return j

    while k < n:
        it = items[k]
        tag = it.tag
        if tag == "T":
            types += list(it.value[0])
            if t.plural is None:
                t.plural = it.value[1]
            if not used and all(x.tag == "FILL" for x in items[:k]) and k == 0:
                t.bare_start = True
            used.add(k)
            j = nxt(k + 1)
            if j < n and items[j].tag == "DIGIT":
                ids.append(items[j].value)
                used.add(j)
                k = j
        elif tag == "ALL":
            t.all_types = True
            used.add(k)
        elif tag == "NEAR":
            near_k = k
            used.add(k)
        elif tag in ("R", "SIDE", "UNDER", "EYE", "ANCHOR", "SIDEWORD") or \
                (tag == "EP" and it.value in ("lips", "brows")):
            names, last = _region_at(items, k)
            if names is None:
                k += 1
                continue
            used |= set(range(k, last + 1))
            is_anchor = near_k is not None and all(
                x.tag in ("FILL", "NEAR") for x in items[near_k + 1:k])
            if names == ("__face__",):
                nf = nxt(last + 1)
                if nf < n and items[nf].tag in ("DIGIT", "NUM"):
                    faces.append(items[nf].value - 1)
                    used.add(nf)
                    last = nf
                else:
                    t.whole = True
            elif is_anchor:
                anchor = _anchor_of(names)
                near_k = None
            elif names and names[0].startswith("@"):
                anchor = anchor or names[0][1:]  # an eye / mouth named outside "near"
            else:
                regions += list(names)
            k = last
        elif tag == "SEL":
            sel_by = it.value
            used.add(k)
        elif tag in ("NUM", "DIGIT"):
            j = nxt(k + 1)
            prev = items[k - 1] if k else None
            if prev is not None and prev.tag == "NUMBER":
                ids.append(it.value)
                used |= {k - 1, k}
            elif j < n and items[j].tag in ("SEL", "T", "ONE"):
                count = it.value
                used.add(k)
            elif tag == "DIGIT" and prev is not None and prev.tag in ("T", "ONE"):
                ids.append(it.value)
                used.add(k)
        elif tag == "ID":
            ids.append(it.value)
            used.add(k)
        elif tag == "ONE":
            one_plural = it.value
            used.add(k)
        elif tag == "FACEREF":
            faces.append(it.value - 1)
            used.add(k)
        elif tag == "FACEALL":
            used.add(k)
        k += 1
    if view:
        regions = [_flip(r) for r in regions]
        anchor = _flip(anchor) if anchor else None
    t.types = tuple(dict.fromkeys(types))
    t.regions = tuple(dict.fromkeys(regions))
    plural = t.plural if one_plural is None else one_plural
    if one_plural is not None and t.plural is None:
        t.plural = one_plural
    if ids:
        t.select = Selector("ids", ids=tuple(ids))
    elif anchor is not None and (near_k is not None or any(i.tag == "NEAR" for i in items)):
        t.select = Selector("nearest", count=count or (None if plural else 1), near=anchor)
    elif sel_by is not None and (t.types or one_plural is not None or t.all_types):
        t.select = Selector(sel_by, count=count or (None if plural else 1))
    elif anchor is not None and t.types:  # "the spot on my left eye"
        t.select = Selector("nearest", count=count or (None if plural else 1), near=anchor)
    if faces:
        t.faces = tuple(sorted(set(f for f in faces if f >= 0)))
    return t, used


def _region_at(items: list[_Item], k: int) -> tuple[tuple[str, ...] | None, int]:
    """Read a region phrase starting at ``items[k]``; returns (names, last index).

    Names are region names, ``("__face__",)`` for the whole face, or
    ``("@anchor",)`` for an eye / mouth / brow (only usable as a landmark).
    """
    n = len(items)
    side = None
    under = False
    j = k
    while j < n:
        it = items[j]
        if it.tag == "FILL":
            j += 1
            continue
        if it.tag == "SIDE" and side is None:
            side = it.value
        elif it.tag == "UNDER" and not under:
            under = True
        else:
            break
        j += 1
    if j >= n:
        if side is not None:  # "on the left"
            return (f"{side}_cheek", f"{side}_under_eye"), n - 1
        return None, k
    it = items[j]
    if it.tag == "R":
        v = it.value
        if v == "cheek":
            return ((f"{side}_cheek",) if side else ("left_cheek", "right_cheek")), j
        if v == "undereye":
            return ((f"{side}_under_eye",) if side else _UNDER_BOTH), j
        if v == "tzone":
            return ("forehead", "nose", "chin"), j
        if v == "face":
            if side:
                return (f"{side}_cheek", f"{side}_under_eye"), j
            return ("__face__",), j
        return (v,), j
    if it.tag == "EYE":
        if under:
            return ((f"{side}_under_eye",) if side else _UNDER_BOTH), j
        return ((f"@{side}_eye",) if side else ("@eyes",)), j
    if it.tag == "SIDEWORD" and side:
        return (f"{side}_cheek", f"{side}_under_eye"), j
    if it.tag == "ANCHOR":
        return (f"@{it.value}",), j
    if it.tag == "EP" and it.value == "lips":
        return ("@mouth",), j
    if it.tag == "EP" and it.value == "brows":
        return ((f"@{side}_brow",) if side else ("@brows",)), j
    if side is not None and j > k:
        return (f"{side}_cheek", f"{side}_under_eye"), j - 1
    return None, k


def _anchor_of(names: tuple[str, ...]) -> str:
    n = names[0].lstrip("@")
    if n in ("left_cheek", "right_cheek", "nose", "chin", "forehead", "mouth", "eyes",
             "left_eye", "right_eye", "brows", "left_brow", "right_brow"):
        return n
    if n in _UNDER_BOTH:
        return n.replace("_under_eye", "_eye")
    return {"neck": "chin"}.get(n, "nose")


def _intensity(items: list[_Item]) -> tuple[float | None, float | None, set[int]]:
    """(absolute strength, relative delta, used indices)."""
    strength = None
    delta = None
    used: set[int] = set()
    for k, it in enumerate(items):
        if it.tag == "REL":
            prev = items[k - 1] if k else None
            scale = _REL_STEP
            if prev is not None and prev.tag == "INT":
                scale = {0.3: 0.15, 0.5: 0.25, 0.8: 0.5, 1.0: 0.5}.get(prev.value, _REL_STEP)
                used.add(k - 1)
            delta = float(it.value) * scale
            used.add(k)
        elif it.tag == "TOO":
            delta = float(it.value)
            used.add(k)
    for k, it in enumerate(items):
        if it.tag == "INT" and k not in used:
            strength = float(it.value)
            used.add(k)
    return strength, delta, used


def _verb(items: list[_Item]) -> tuple[str | None, bool, str | None, set[int]]:
    """(family, light-verb seen, negation kind, used indices)."""
    fam = None
    light = False
    neg = None
    used: set[int] = set()
    for k, it in enumerate(items):
        if it.tag == "NEG" and neg is None and fam is None:
            neg = it.value
            used.add(k)
        elif it.tag == "V":
            if it.value in ("light", "add"):
                light = True
                used.add(k)
            elif fam is None:
                fam = it.value
                used.add(k)
    return fam, light, neg, used


def _default_family(types: tuple[str, ...]) -> str:
    return "reduce" if types and set(types) <= {"under_eye", "shine", "wrinkle"} else "remove"


def _read_chunk(ch: _Chunk, st: _State) -> None:
    items = [i for i in ch.items]
    tags = [i.tag for i in items]
    content = [i for i in items if i.tag not in ("FILL",)]
    if not content:
        return
    # -- session commands: a chunk that is only a command (plus fillers / "that").
    if _SHOW_RE.search(ch.text) and not any(i.tag == "V" and i.value != "light"
                                            for i in items):
        st.commands.append(Command("show"))  # "what spots did you find?"
        return
    if st.ops and st.ops[-1].action == "edit" and st.ops[-1].edit in ("lipstick", "hair.color") \
            and all(i.tag in ("FINISH", "COLOR", "FILL") for i in items):
        last = st.ops[-1]  # "nude lipstick, matte"
        fin = next((i.value for i in items if i.tag == "FINISH"), None)
        col = next((i.value if isinstance(i.value, str) else i.text for i in items
                    if i.tag == "COLOR"), None)
        st.ops[-1] = replace(last, finish=fin or last.finish,
                             color=COLOR_CANON.get(col, col) if col else last.color)
        return
    cmd = [i for i in items if i.tag == "CMD"]
    if cmd and all(i.tag in ("CMD", "FILL", "IT", "INT") for i in items):
        st.commands.append(Command(cmd[0].value))
        st.group, st.verb = [], None
        return
    for i in items:
        if i.tag == "CMD":  # inside a longer request: "save my freckles" = keep
            i.tag, i.value = ("V", "keep") if i.value == "save" else ("FILL", None)
    unknown = [i.text for i in items if i.tag == "UNK"]
    statement = items[0].text.split()[0] in STATEMENT_STARTS
    # -- exclusion chunks: "but not X", ", except X", "and moles" after "everything but".
    first = next(i for i in items if i.tag != "FILL")
    fam, light, neg, _ = _verb(items)
    if st.ops and (first.tag == "EXCEPT" or (first.tag == "NEG" and first.value == "not"
                                             and fam is None and ch.joiner in ("but", ","))):
        rest = items[items.index(first) + 1:]
        if _exclude(rest, st):
            st.excluding = True
            return
    if st.excluding and fam is None and ch.joiner == "and" and _exclude(items, st):
        return
    st.excluding = False
    # -- restoration fidelity ("but keep it faithful") and restoration itself.
    faith = [i.value for i in items if i.tag == "FAITH"]
    has_restore = any(i.tag == "RESTORE" for i in items)
    if faith and not has_restore and any(o.action == "restore" for o in st.ops):
        k = max(i for i, o in enumerate(st.ops) if o.action == "restore")
        st.ops[k] = replace(st.ops[k], fidelity=faith[-1])
        return
    if has_restore and not any(t == "T" for t in tags):
        strength, _, _ = _intensity(items)
        fid = faith[-1] if faith else ({0.3: 0.8, 0.8: 0.2, 1.0: 0.2}.get(strength)
                                       if strength is not None else None)
        _push(st, Operation("restore", fidelity=fid), fam or "restore", new_clause=True)
        return
    # -- face edits.
    edits = _edits(items, fam, neg)
    if edits is not None:
        for op in edits:
            _push(st, op, "edit", new_clause=True)
        if not edits and unknown and not statement:
            st.not_understood.append(ch.text)
        return
    # -- instance / region operations.
    ex_at = next((k for k, i in enumerate(items) if i.tag == "EXCEPT"), None)
    main = items[:ex_at] if ex_at is not None else items
    tg, _ = _targets(main)
    if any(i.tag == "V" and i.value == "add" for i in main) and (tg.types or tg.all_types):
        st.not_understood.append(ch.text)  # "add freckles": adding imperfections is not a retouch
        return
    shine_verb = any(i.tag == "VSHINE" or (i.tag == "FINISH" and i.value == "matte")
                     for i in main)
    if shine_verb and fam is None:
        fam = "reduce"  # "matte down my t-zone"
        if not tg.types:
            tg.types = SHINE
    if any(i.tag == "DARKADJ" for i in main) and not tg.types and tg.regions \
            and set(tg.regions) <= set(_UNDER_BOTH):
        tg.types = UNDER_EYE
    strength, delta, _ = _intensity(main)
    only = any(i.tag == "ONLY" for i in main)
    # "less oily", "too shiny", "less dark", "less visible" imply "reduce".
    implied = None
    for k, it in enumerate(main):
        if it.tag in ("REL", "TOODEG") and (it.tag == "TOODEG" or it.value < 0):
            j = k + 1
            while j < len(main) and main[j].tag == "FILL":
                j += 1
            if j < len(main) and (main[j].tag in ("T", "DARKADJ")
                                  or (main[j].tag == "SEL" and main[j].value == "most_visible")):
                implied = "reduce"
                if it.tag == "REL":
                    delta = None
        if it.tag == "REL" and it.value > 0 and tg.types and fam is None:
            st.not_understood.append(ch.text)  # "more freckles": adding is not supported
            return
    if any(i.tag == "DARKADJ" for i in main) and implied is None and fam is None:
        implied = "reduce" if any(i.tag in ("REL", "TOODEG") for i in main) else None
    touch = fam == "touch" and neg is None  # "change ...", "edit ..." without a negation
    if touch:
        fam = None
    if fam is None and implied is not None:
        fam = implied
    if neg == "no" and fam is None and tg.any:
        fam, neg = "remove", None
    if neg is not None and fam is not None:
        fam = "remove" if fam == "keep" else "keep"
        neg = None
    if neg == "without" and fam is None and tg.any:
        fam = "keep"
    macro = any(i.tag == "MACRO" for i in main)
    it_ref = any(i.tag == "IT" for i in main)
    # Anaphora: "make them less dark", "fix it".
    if not tg.any and it_ref:
        ante = st.ops[-1] if st.ops else None
        if ante is not None:
            if ante.action == "restore" and fam in (None, "remove", "touch"):
                return
            if ante.action not in ("edit", "restore", "adjust", "only"):
                tg = _Targets(types=ante.types, regions=ante.regions, select=ante.select,
                              faces=ante.faces, plural=True)
                if st.soft == len(st.ops) - 1 and fam is not None:
                    st.ops.pop()  # "my under eyes look dark, fix them": one request
                    st.group = [g for g in st.group if g < len(st.ops)]
        elif fam == "reduce" or delta is not None:
            _push(st, Operation("adjust", delta=delta if delta is not None else -_REL_STEP),
                  "adjust", new_clause=True)
            return
        else:
            st.not_understood.append(ch.text)
            return
    if not tg.any and not tg.whole and fam is None and not macro:
        # No target, no verb: a bare strength ("a bit more"), a bare number ("and 5").
        if delta is not None:
            _push(st, Operation("adjust", delta=delta, faces=tg.faces), "adjust",
                  new_clause=True)
        elif strength is not None and st.group:
            k = st.group[-1]
            o = st.ops[k]
            if o.action in ("remove", "reduce", "smooth", "brighten"):
                st.ops[k] = replace(o, strength=strength, delta=None)
        elif tg.faces is not None and st.group:
            for k in st.group:
                if st.ops[k].action != "restore":
                    st.ops[k] = replace(st.ops[k], faces=tg.faces)
        elif unknown and not statement or any(t in ("COLOR", "SZ", "PHOTO", "EP", "FACE")
                                              for t in tags):
            st.not_understood.append(ch.text)
        elif [i for i in main if i.tag == "DIGIT"] and st.group:
            k = st.group[-1]
            o = st.ops[k]
            if o.select is not None and o.select.by == "ids":
                extra = tuple(i.value for i in main if i.tag == "DIGIT")
                st.ops[k] = replace(o, select=Selector("ids", ids=o.select.ids + extra))
        return
    if fam is None and not macro and delta is not None and tg.select is None:
        _push(st, Operation("adjust", delta=delta, types=tg.types, regions=tg.regions,
                            faces=tg.faces), "adjust", new_clause=True)
        return
    if any(i.tag == "COLOR" for i in main):
        st.not_understood.append(ch.text)  # a colour with nothing to colour
        return
    if (touch and not tg.types) or (fam is None and light and not tg.types and not macro):
        st.not_understood.append(ch.text)  # "change my eye colour", "make me ..."
        return
    if only and fam is None and not macro:
        _push(st, Operation("only", types=tg.types, regions=tg.regions, faces=tg.faces),
              "only", new_clause=True)
        return
    # Inherit the verb of the clause ("remove X on the forehead and chin").
    inherited = False
    if fam is None and not macro and st.group and st.verb in (
            "remove", "reduce", "keep", "smooth", "brighten") and ch.joiner in ("and", ","):
        fam = st.verb
        inherited = True
        last = st.ops[st.group[-1]]
        if not tg.types and not tg.all_types and tg.select is None and tg.regions:
            st.ops[st.group[-1]] = replace(
                last, regions=tuple(dict.fromkeys(last.regions + tg.regions)))
            return
        if tg.bare_start and not last.regions and tg.select is None and last.select is None \
                and last.action in ("remove", "reduce", "keep") and last.types \
                and strength is None and delta is None and tg.faces == last.faces:
            # "remove the acne and dark spots on my chin", "leave moles and freckles":
            # nouns joined under one verb are one target list.
            merged = tuple(dict.fromkeys(last.types + tg.types))
            st.ops[st.group[-1]] = replace(last, types=merged, regions=tg.regions)
            return
    if unknown and not statement and not tg.types and not tg.all_types and tg.select is None:
        st.not_understood.append(ch.text)  # "remove the tattoo on my neck"
        return
    if unknown and not statement:
        st.warnings.append(f"ignored {' '.join(unknown)!r}")
    if tg.select is not None and not tg.types and not tg.all_types and st.group \
            and any(i.tag == "ONE" for i in main):
        prev = st.ops[st.group[-1]]  # "... but keep the one near my nose": the same kind
        if prev.types and prev.action in ("remove", "reduce", "keep", "smooth", "brighten"):
            tg.types = prev.types
    verbless = fam is None
    if fam is None and (macro or (not tg.types and not tg.all_types and not tg.select)):
        fam = "remove"
    if fam is None:
        fam = "keep" if neg is not None else _default_family(tg.types)
    ops = _build(fam, tg, strength, delta, macro)
    for j, op in enumerate(ops):
        _push(st, op, fam, new_clause=not inherited and j == 0)
    st.soft = len(st.ops) - 1 if verbless and statement else None
    if ex_at is not None:
        _exclude(items[ex_at + 1:], st)
        st.excluding = True


def _build(fam: str, tg: _Targets, strength: float | None, delta: float | None,
           macro: bool) -> list[Operation]:
    types = () if tg.all_types else tg.types
    regions = tg.regions
    if not types and not tg.all_types and tg.select is None and fam == "remove":
        # A clean-up request: the default retouch (on the named regions).
        if regions:
            return [Operation("remove", types=BLEMISH, regions=regions, strength=strength,
                              faces=tg.faces)]
        return [replace(_CLEANUP[0], strength=strength, faces=tg.faces),
                replace(_CLEANUP[1], faces=tg.faces)]
    if types == UNDER_EYE and set(regions) == set(_UNDER_BOTH):
        regions = ()
    if fam in ("smooth", "brighten"):
        if types or tg.select is not None:
            fam = "reduce"
        elif fam == "brighten" and regions and set(regions) <= set(_UNDER_BOTH):
            fam, types = "reduce", UNDER_EYE
            regions = () if set(regions) == set(_UNDER_BOTH) else regions
    if fam == "reduce" and not types and tg.select is None and not tg.all_types:
        fam = "smooth"  # "tone down my forehead"
    if fam == "keep":
        return [Operation("keep", types=types, regions=regions, select=tg.select,
                          faces=tg.faces)]
    return [Operation(fam, types=types, regions=regions, select=tg.select, strength=strength,
                      delta=delta if strength is None else None, faces=tg.faces)]


def _push(st: _State, op: Operation, verb: str, *, new_clause: bool) -> None:
    if new_clause:
        st.group = []
        st.verb = verb
    st.ops.append(op)
    st.group.append(len(st.ops) - 1)


def _exclude(items: list[_Item], st: _State) -> bool:
    """Apply "except X" to the ops of the current clause. False if nothing was read."""
    tg, _ = _targets(items)
    if not tg.any or not st.group:
        return False
    keeps: list[Operation] = []
    for k in st.group:
        op = st.ops[k]
        if op.action not in ("remove", "reduce", "smooth", "brighten", "keep"):
            continue
        if tg.select is not None or (tg.types and tg.regions):
            keeps.append(Operation("keep", types=tg.types or op.types,
                                   regions=tg.regions or op.regions, select=tg.select,
                                   faces=op.faces))
        elif tg.types:
            if not op.types:
                st.ops[k] = replace(op, exclude_types=tuple(
                    dict.fromkeys(op.exclude_types + tg.types)))
            elif set(tg.types) <= set(op.types) and set(tg.types) != set(op.types):
                st.ops[k] = replace(op, types=tuple(t for t in op.types if t not in tg.types))
            else:
                keeps.append(Operation("keep", types=tg.types, regions=op.regions,
                                       faces=op.faces))
        elif tg.regions:
            if op.regions:
                rest = tuple(r for r in op.regions if r not in tg.regions)
                if rest:
                    st.ops[k] = replace(op, regions=rest)
                    continue
            st.ops[k] = replace(op, exclude_regions=tuple(
                dict.fromkeys(op.exclude_regions + tg.regions)))
    for kp in dict.fromkeys(keeps):
        st.ops.append(kp)
    return True


# ----------------------------------------------------------------------------- edits
#: Edit part -> candidate edits, each with the direction kinds (see ``EDIT_DIR``) it reads;
#: the first candidate whose kind appears in the request wins.
_PART_EDITS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "eyes": (("eyes.whiten", ("white",)), ("eyes.size", ("size",))),
    "nose": (("nose.length", ("length",)), ("nose.width", ("size",))),
    "lips": (("lips.fullness", ("full", "size")),),
    "brows": (("brows.raise", ("raise",)), ("brows.density", ("density", "full"))),
    "teeth": (("teeth.whiten", ("white",)),),
    "face": (("face.slim", ("size",)),),
    "jawline": (("double_chin", ("tight",)),),
    "double_chin": (("double_chin", ("tight", "size")),),
    "smile": (("smile", ("smile", "size")),),
}
#: Edits whose amount is >= 0 (the modules have no opposite direction).
_POSITIVE_ONLY = frozenset({"teeth.whiten", "eyes.whiten", "hair.color"})


def _edits(items: list[_Item], fam: str | None, neg: str | None) -> list[Operation] | None:
    """Edit operations of a chunk, or ``None`` when the chunk is not about an edit.

    Returns an empty list for an edit request that cannot be expressed (the
    chunk is then reported as not understood).
    """
    # A request naming an imperfection ("reduce the dark circles around my eyes")
    # is a retouch, not an edit; colour words ("red lipstick") do not count.
    if any(i.tag == "T" and i.text not in COLORS for i in items):
        return None
    parts: list[str] = []
    for k, it in enumerate(items):
        if it.tag == "EP":
            parts.append(it.value)
        elif it.tag == "R" and it.value == "nose":
            parts.append("nose")
        elif it.tag == "EYE" and not any(x.tag == "UNDER" for x in items[max(0, k - 3):k]):
            parts.append("eyes")
        elif it.tag == "R" and it.value == "face" and it.text in ("skin", "complexion"):
            parts.append("skin")
        elif (it.tag == "R" and it.value == "face" and it.text == "face") or \
                (it.tag == "R" and it.value == "cheek"):
            parts.append("face")
    dirs: dict[str, int] = {}
    for it in items:
        for kind, sign in EDIT_DIR.get(it.text, {}).items():
            dirs.setdefault(kind, sign)
    colors = []
    for i in items:
        if i.tag == "COLOR" or (i.text in COLORS and i.tag in ("T", "SZ")):
            c = i.value if isinstance(i.value, str) else i.text
            colors.append(COLOR_CANON.get(c, c))
    finish = next((i.value for i in items if i.tag == "FINISH"), None)
    strength = next((float(i.value) for i in items if i.tag == "INT"), None)
    # Skin-tone words that cannot mean anything else ("paler", "tanned", "warmer").
    tone_words = [i.text for i in items if i.text not in ("lighter", "lighten", "darker")
                  and ({"tone", "warmth"} & set(EDIT_DIR.get(i.text, {})))]
    if not parts and not tone_words:
        return None
    ops: list[Operation] = []
    mag = strength if strength is not None else _EDIT_DEFAULT
    negated = neg is not None or fam == "keep"
    removing = fam == "remove" or neg == "no"
    for part in dict.fromkeys(parts):
        if part == "lipstick" or (part == "lips" and (colors or finish) and "full" not in dirs):
            if neg == "not" or fam == "keep":
                return []
            amount = -(strength if strength is not None else 1.0) if removing else mag
            ops.append(Operation("edit", edit="lipstick", amount=amount,
                                 color=colors[0] if colors and not removing else None,
                                 finish=finish if not removing else None))
        elif part == "hair":
            if colors and not negated:
                ops.append(Operation("edit", edit="hair.color", amount=mag, color=colors[0]))
        elif part in ("young", "old"):
            if not negated:
                ops.append(Operation("edit", edit="young", amount=mag if part == "young"
                                     else -mag))
        elif part in ("skin", "skintone"):
            continue  # read below, with the tone words
        elif part == "double_chin":
            if negated:
                return []
            amount = -(strength if strength is not None else 1.0) if fam == "remove" else -mag
            ops.append(Operation("edit", edit="double_chin", amount=amount))
        elif part in _PART_EDITS:
            if negated:
                continue
            for name, kinds in _PART_EDITS[part]:
                sign = next((dirs[k] for k in kinds if k in dirs), None)
                if sign is None and part == "smile" and fam in (None, "remove"):
                    sign = -1 if fam == "remove" else 1  # "make me smile", "add a smile"
                if sign is None:
                    continue
                if name == "face.slim":
                    sign = -sign  # slimmer (a smaller face) is the positive direction
                if name in _POSITIVE_ONLY and sign < 0:
                    break
                ops.append(Operation("edit", edit=name, amount=sign * mag))
                break
    if not negated and (tone_words or "skin" in parts or "skintone" in parts):
        kinds = {k: v for w in tone_words or [i.text for i in items]
                 for k, v in EDIT_DIR.get(w, {}).items() if k in ("tone", "warmth")}
        if "tone" in kinds:
            ops.append(Operation("edit", edit="skin.tone", amount=kinds["tone"] * mag,
                                 color="pale"))
        elif "warmth" in kinds:
            ops.append(Operation("edit", edit="skin.tone", amount=kinds["warmth"] * mag,
                                 color="warm"))
    if not ops:
        # Parts named without an edit direction ("my nose", "my face"): not an edit;
        # let the chunk be read as a retouch request.
        only_anchor_parts = set(parts) <= {"nose", "eyes", "lips", "brows", "skin", "skintone",
                                           "jawline", "face"}
        return None if only_anchor_parts else []
    return ops


def _dedupe(ops: list[Operation]) -> list[Operation]:
    out: list[Operation] = []
    for o in ops:
        if o not in out:
            out.append(o)
    return out
