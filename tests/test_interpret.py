"""The built-in interpreter, measured on the evaluation sets in tests/data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from retouch.interpret import Command, get_interpreter
from retouch.interpret.builtin import BuiltinInterpreter
from retouch.interpret.evaluate import evaluate, load_cases

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def interp() -> BuiltinInterpreter:
    return BuiltinInterpreter()


@pytest.mark.parametrize("name, min_cases", [("instructions.jsonl", 200),
                                             ("instructions_heldout.jsonl", 40)])
def test_exact_match_on_the_evaluation_sets(interp, name, min_cases):
    cases = load_cases(DATA / name)
    assert len(cases) >= min_cases
    res = evaluate(interp, cases)
    print(f"\n{name}: {res.summary()}")
    for c in res.failures:
        print(f"  FAIL #{c.id} {c.text!r}\n    want {c.expected}\n    got  {c.got}")
    assert res.accuracy >= 0.95
    refused, total = res.out_of_scope
    assert total >= 6 and refused == total  # out of scope: "not understood", never an edit


def test_out_of_scope_requests_change_nothing_and_are_quoted(interp):
    for text in ("make me taller", "add a hat", "remove my glasses", "crop the photo"):
        r = interp.interpret(text)
        assert r.plan.operations == () and r.commands == ()
        assert r.plan.not_understood, text


def test_partly_understood_requests_report_the_rest(interp):
    r = interp.interpret("remove the zits, then rotate the photo")
    assert [o.action for o in r.plan.operations] == ["remove"]
    assert r.plan.not_understood == ("rotate the photo",)


def test_latency_under_5_ms(interp):
    texts = [c["text"] for c in load_cases(DATA / "instructions.jsonl")]
    for t in texts[:20]:
        interp.interpret(t)  # warm caches
    worst = []
    for t in texts:
        best = float("inf")
        for _ in range(3):  # best of 3: the machine is shared
            t0 = time.perf_counter()
            interp.interpret(t)
            best = min(best, time.perf_counter() - t0)
        worst.append(best * 1000.0)
    worst.sort()
    print(f"\nlatency median {worst[len(worst) // 2]:.3f} ms, max {worst[-1]:.3f} ms")
    assert worst[-1] < 5.0


def test_deterministic(interp):
    text = "remove the big pimple on my left cheek but don't touch my beauty mark"
    assert interp.interpret(text).plan == interp.interpret(text).plan


@pytest.mark.parametrize("text, regions", [
    ("remove the acne on my left cheek", ("left_cheek",)),
    ("remove the acne on the left cheek in the photo", ("right_cheek",)),  # viewer's left
    ("remove the spots on the right side of my face", ("right_cheek", "right_under_eye")),
    ("clear the spots on the right side of the picture", ("left_cheek", "left_under_eye")),
])
def test_left_right_is_the_subjects(interp, text, regions):
    assert interp.interpret(text).plan.operations[0].regions == regions


def test_typos_are_corrected_and_reported(interp):
    r = interp.interpret("remvoe the pimpels on my forhead")
    assert r.plan.operations[0].regions == ("forehead",)
    assert any("'remvoe' as 'remove'" in w for w in r.warnings)
    # A short word is not "corrected" into a different one.
    assert interp.interpret("make me look like a movie star").plan.operations == ()


def test_save_path_keeps_its_spelling(interp):
    r = interp.interpret("remove the acne and save it as My Photos/Final.JPG")
    assert r.commands == (Command("save", "My Photos/Final.JPG"),)
    assert r.plan.operations[0].action == "remove"


def test_hex_colour_and_finish(interp):
    op = interp.interpret("put on glossy lipstick in #B0303A").plan.operations[0]
    assert (op.edit, op.color, op.finish) == ("lipstick", "#b0303a", "gloss")


def test_get_interpreter_defaults_to_builtin_and_checks_names(monkeypatch):
    monkeypatch.delenv("RETOUCH_INTERPRETER", raising=False)
    assert get_interpreter().name == "builtin"
    from retouch.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown interpreter 'gpt'"):
        get_interpreter("gpt")
    monkeypatch.delenv("RETOUCH_LLM_URL", raising=False)
    with pytest.raises(InvalidInputError, match="needs a server URL"):
        get_interpreter("openai")


@pytest.mark.parametrize("text", ["reduce the dark circles around my eyes",
                                  "reduce the redness on my cheeks",
                                  "make my eyes look less tired"])
def test_a_request_naming_an_imperfection_is_never_an_edit(interp, text):
    ops = interp.interpret(text).plan.operations
    assert ops and all(o.action != "edit" for o in ops), ops


@pytest.mark.parametrize("text, edit, amount, color", [
    ("make my skin a bit paler", "skin.tone", 0.3, "pale"),
    ("give me a tan", "skin.tone", -0.5, "pale"),
    ("make my face thinner", "face.slim", 0.5, None),  # slimmer is the positive direction
    ("make my hair blonde", "hair.color", 0.5, "blond"),
    ("remove my lipstick", "lipstick", -1.0, None),
])
def test_edit_names_and_signs_follow_retouch_edit(interp, text, edit, amount, color):
    op, = interp.interpret(text).plan.operations
    assert (op.edit, op.amount, op.color) == (edit, amount, color)


def test_a_trailing_colour_or_finish_completes_the_edit(interp):
    op, = interp.interpret("nude lipstick, glossy").plan.operations
    assert (op.edit, op.color, op.finish) == ("lipstick", "nude", "gloss")
