"""Session: turns, exact undo/redo, relative requests, previews and saving."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from retouch import Session
from retouch.sample import sample_face


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return sample_face()


@pytest.fixture()
def session(face, tmp_path) -> Session:
    return Session(face, preview=tmp_path / "preview.png", output=tmp_path / "out.png")


def test_undo_and_redo_are_bit_exact(session):
    img0 = session.image.copy()
    r1 = session.ask("remove the acne")
    img1 = session.image.copy()
    r2 = session.ask("lighten the dark circles a little")
    img2 = session.image.copy()
    assert r1.changed and r2.changed
    assert not np.array_equal(img1, img0) and not np.array_equal(img2, img1)
    assert session.undo().kind == "undo"
    assert np.array_equal(session.image, img1)
    session.ask("undo")
    assert np.array_equal(session.image, img0)
    assert session.ask("undo").text == "Nothing to undo."
    session.redo()
    assert np.array_equal(session.image, img1)
    session.ask("redo")
    assert np.array_equal(session.image, img2)
    # The history stores differences, not images.
    assert session.memory_bytes < img0.nbytes // 4


def test_state_renders_the_same_image_as_a_fresh_execution(session):
    session.ask("remove the blemishes on my chin")
    session.ask("smooth my forehead a little")
    session.ask("undo")
    session.ask("redo")
    assert np.array_equal(session.result().image, session.image)


def test_a_bit_more_strengthens_what_was_just_done(session):
    session.ask("remove the acne")
    session.ask("lighten the dark circles a little")
    before = session.image.copy()
    r = session.ask("a bit more")
    ue = [o for o in session.state.operations if o.types == ("under_eye",)]
    assert ue[0].strength == pytest.approx(0.45)
    assert r.changed and not np.array_equal(session.image, before)
    acne = [o for o in session.state.operations if o.types == ("acne", "red_spot")]
    assert acne[0].strength is None  # the earlier turn is untouched
    session.ask("much less")
    ue = [o for o in session.state.operations if o.types == ("under_eye",)]
    assert ue[0].strength == pytest.approx(0.0)


def test_only_the_chin_restricts_the_changes_to_the_chin(session):
    from retouch.execute import warp_map

    session.ask("remove the acne on the forehead and chin, and lighten the dark circles")
    r = session.ask("only the chin")
    assert r.kind == "edit" and "dropped" in r.text
    ops = [o for o in session.state.operations if o.action != "keep"]
    assert ops and all(o.regions == ("chin",) for o in ops)
    an = session.analysis
    H, W = an.data.pixels.shape[:2]
    fa = an.analyses[0]
    chin = warp_map((fa.regions.masks["chin"] > 0.5).astype(np.float32), fa, (0, 0, W, H)) > 0
    changed = np.any(session.image != an.data.pixels, axis=2)
    assert changed.any() and not np.any(changed & ~chin)


def test_reset_is_the_original_and_can_be_undone(session):
    session.ask("remove the blemishes")
    after = session.image.copy()
    assert session.ask("start over").kind == "reset"
    assert np.array_equal(session.image, session.analysis.data.pixels)
    session.undo()
    assert np.array_equal(session.image, after)


def test_preview_show_and_save(session, tmp_path):
    r = session.ask("remove the big pimple on the right cheek")
    assert r.preview == tmp_path / "preview.png" and r.preview.exists()
    shown = session.ask("show me what you found")
    assert shown.kind == "show" and shown.text.startswith("I found ")
    assert len(shown.found) == len(session.analysis.instances)
    assert sum(f["treated"] for f in shown.found) == 1
    assert (tmp_path / "preview_found.png").exists()
    saved = session.ask(f"save as {tmp_path / 'final.png'}")
    assert saved.kind == "save" and saved.saved == tmp_path / "final.png"
    assert np.array_equal(np.asarray(Image.open(saved.saved)), session.image)
    bad = session.ask("save as /no/such/folder/x.png")
    assert bad.kind == "error" and "folder does not exist" in bad.text


def test_requests_that_cannot_be_done_are_answered_not_raised(session):
    img = session.image.copy()
    r = session.ask("make me taller")
    assert r.kind == "not_understood" and "make me taller" in r.text
    r = session.ask("remove the acne and add a hat")
    assert r.kind == "edit" and "I did not understand 'add a hat'" in r.text
    n_undo = len(session._undo)
    before = session.image.copy()
    r = session.ask("make my eyes bigger")  # executed by retouch.edit
    assert r.kind == "edit", r.text
    assert len(session._undo) == n_undo + 1 and not np.array_equal(session.image, before)
    assert not np.array_equal(session.image, img)
    assert session.ask("quit").kind == "quit"
    assert [t.text for t in session.history][:2] == ["make me taller",
                                                     "remove the acne and add a hat"]


def test_compound_turn_with_a_command(session):
    session.ask("remove the acne on my forehead")
    r = session.ask("undo that and remove the pimples on my chin instead")
    ops = session.state.operations
    assert len(ops) == 1 and ops[0].regions == ("chin",)
    assert r.text.startswith("Undid") and "chin" in r.text


def test_image_view_is_read_only(session):
    with pytest.raises(ValueError):
        session.image[0, 0] = 0


def test_no_face_is_answered(tmp_path):
    s = Session(np.full((200, 300, 3), 128, np.uint8))
    assert s.show().text == "I found no face in this photo."
    r = s.ask("remove the acne")
    assert r.text == "No face found, so nothing changed." and not r.changed


def test_sixteen_bit_input_keeps_its_depth_and_undo_is_exact(face):
    img16 = face.astype(np.uint16) * 257
    s = Session(img16)
    r = s.ask("remove the blemishes and smooth my forehead")
    assert r.changed and s.image.dtype == np.uint16
    s.undo()
    assert np.array_equal(s.image, img16)
